//! Fetching and using files at the same time: one thread fetches the files in growing
//! groups, and each file is handed to the next free worker as soon as its group has arrived.
//!
//! A jigdo client fetches parts, then packages, and checks or imports each one. Done one after
//! the other, the cores idle while the link works and the link idles while the cores work; on
//! a slow link the checking hides behind the transfer. The first groups are small, so the
//! work starts soon, and later ones large, so many downloads stay in flight (4, 8, 16, then
//! 32 files). After a failure no new group is started; the group being fetched is finished.
//! Each worker holds one file's work at a time, and at most [`QUEUE`] fetched files wait.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::{Mutex, PoisonError};

use super::Fetched;
use crate::error::{Error, Result};

/// Files fetched but not yet taken by a worker; the fetching thread waits beyond this.
const QUEUE: usize = 64;

/// The groups `count` files are fetched in, in order: 4, 8, 16, then 32 at a time.
pub fn fetch_groups(count: usize) -> Vec<Range<usize>> {
    let mut groups = Vec::new();
    let mut start = 0;
    while start < count {
        let end = count.min(start + (4 << groups.len().min(3)));
        groups.push(start..end);
        start = end;
    }
    groups
}

/// Fetches `items` with `fetch_group` (one result per item of the group it is given, in
/// order) on a thread of its own, and runs `work` (given the item's position in `items`, the
/// item and its result) on each result as soon as it has arrived, on `workers` threads of
/// their own. Returns `work`'s outputs in the order of
/// `items`, or the first error met (of `fetch_group` or of `work`); an error stops the
/// fetching at the end of the group being fetched.
///
/// The workers are plain threads, not rayon's: one waiting for the next file must not hold a
/// rayon thread that `fetch_group` (reading a catalog) or `work` itself may need.
pub fn fetch_and_work<T, R, E>(
    items: &[T],
    workers: usize,
    fetch_group: impl FnMut(&[T]) -> std::result::Result<Vec<Result<Fetched>>, E> + Send,
    work: impl Fn(usize, &T, Result<Fetched>) -> std::result::Result<R, E> + Sync,
) -> std::result::Result<Vec<R>, E>
where
    T: Sync,
    R: Send,
    E: Send + From<Error>,
{
    let mut fetch_group = fetch_group;
    let (sender, receiver) = sync_channel::<(usize, Result<Fetched>)>(QUEUE);
    // Taken away (closing the channel) by the first failed work.
    let receiver = Mutex::new(Some(receiver));
    // Set by the first failed work, so that no further group is fetched.
    let stop = AtomicBool::new(false);
    let workers = workers.clamp(1, items.len().max(1));
    std::thread::scope(|scope| {
        let fetcher = scope.spawn(|| -> std::result::Result<(), E> {
            // Owned here, so that the channel closes when the fetching ends, however it ends.
            let sender = sender;
            for group in fetch_groups(items.len()) {
                if stop.load(Ordering::Relaxed) {
                    return Ok(());
                }
                let got = fetch_group(items.get(group.clone()).unwrap_or_default())?;
                if got.len() != group.len() {
                    return Err(E::from(internal(format!("{} results for {} files", got.len(), group.len()))));
                }
                for (index, result) in group.zip(got) {
                    if sender.send((index, result)).is_err() {
                        return Ok(()); // the work stopped
                    }
                }
            }
            Ok(())
        });
        let worker = || -> std::result::Result<Vec<(usize, R)>, E> {
            let mut done = Vec::new();
            loop {
                let next = {
                    let guard = receiver.lock().unwrap_or_else(PoisonError::into_inner);
                    match guard.as_ref() {
                        Some(receiver) => receiver.recv().ok(),
                        None => None,
                    }
                };
                let Some((index, result)) = next else { return Ok(done) };
                let output = match items.get(index) {
                    Some(item) => work(index, item, result),
                    None => Err(E::from(internal(format!("no file {index}")))),
                };
                match output {
                    Ok(output) => done.push((index, output)),
                    Err(error) => {
                        stop.store(true, Ordering::Relaxed);
                        // The fetcher's next send fails instead of waiting for a worker.
                        receiver.lock().unwrap_or_else(PoisonError::into_inner).take();
                        return Err(error);
                    }
                }
            }
        };
        let workers: Vec<_> = (0..workers).map(|_| scope.spawn(worker)).collect();
        let mut done = Vec::new();
        let mut failed = None;
        for handle in workers {
            match handle.join() {
                Ok(Ok(outputs)) => done.extend(outputs),
                Ok(Err(error)) => failed = failed.or(Some(error)),
                Err(_) => failed = failed.or(Some(E::from(internal("a worker panicked".to_owned())))),
            }
        }
        let fetched = fetcher.join().map_err(|_| E::from(internal("the fetching thread panicked".to_owned())))?;
        if let Some(error) = failed {
            return Err(error);
        }
        fetched?;
        done.sort_unstable_by_key(|(index, _)| *index);
        Ok(done.into_iter().map(|(_, output)| output).collect())
    })
}

fn internal(detail: String) -> Error {
    Error::Fetch { package: String::new(), detail: format!("internal error: {detail}") }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::atomic::AtomicUsize;

    use super::*;

    #[test]
    fn groups_grow_to_32_and_cover_every_file_once() {
        assert!(fetch_groups(0).is_empty());
        assert_eq!(fetch_groups(3), vec![0..3]);
        assert_eq!(fetch_groups(100), vec![0..4, 4..12, 12..28, 28..60, 60..92, 92..100]);
    }

    fn fetched(index: usize) -> Fetched {
        Fetched {
            path: PathBuf::from(format!("file-{index}")),
            size: index as u64,
            bytes_downloaded: 0,
            offer: crate::source::tests::offer(None, None, 0),
            temporary: false,
        }
    }

    #[test]
    fn outputs_come_in_item_order_whatever_order_the_work_ends_in() {
        let items: Vec<usize> = (0..70).collect();
        let out = fetch_and_work(
            &items,
            4,
            |group: &[usize]| -> Result<_> { Ok(group.iter().map(|&i| Ok(fetched(i))).collect()) },
            |_, &item, got| -> Result<usize> {
                // Later items finish first.
                std::thread::sleep(std::time::Duration::from_micros(((70 - item) * 20) as u64));
                Ok(got?.size as usize * 10)
            },
        )
        .unwrap();
        assert_eq!(out, items.iter().map(|i| i * 10).collect::<Vec<_>>());
    }

    #[test]
    fn a_failed_file_stops_the_fetching_after_its_group() {
        let items: Vec<usize> = (0..100).collect();
        let groups_fetched = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let out = fetch_and_work(
            &items,
            4,
            |group: &[usize]| -> Result<_> {
                groups_fetched.fetch_add(1, Ordering::SeqCst);
                // The next group is not ready before the work on the first has failed.
                for _ in 0..1000 {
                    if group.first() == Some(&0) || failed.load(Ordering::SeqCst) {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Ok(group
                    .iter()
                    .map(|&i| match i {
                        2 => Err(Error::Fetch { package: "file-2".to_owned(), detail: "gone".to_owned() }),
                        _ => Ok(fetched(i)),
                    })
                    .collect())
            },
            |_, _, got| -> Result<u64> {
                let got = got.inspect_err(|_| failed.store(true, Ordering::SeqCst))?;
                Ok(got.size)
            },
        );
        let error = out.unwrap_err().to_string();
        assert!(error.contains("file-2"), "{error}");
        let fetched = groups_fetched.load(Ordering::SeqCst);
        assert!(fetched < fetch_groups(items.len()).len(), "{fetched} groups fetched");
    }

    #[test]
    fn a_failed_group_is_the_error() {
        let items: Vec<usize> = (0..10).collect();
        let out = fetch_and_work(
            &items,
            4,
            |group: &[usize]| -> Result<Vec<Result<Fetched>>> {
                match group.first() {
                    Some(0) => Ok(group.iter().map(|&i| Ok(fetched(i))).collect()),
                    _ => Err(Error::Fetch { package: "catalog".to_owned(), detail: "unreadable".to_owned() }),
                }
            },
            |_, _, got| -> Result<u64> { Ok(got?.size) },
        );
        assert!(out.unwrap_err().to_string().contains("catalog"));
    }
}
