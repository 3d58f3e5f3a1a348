//! Fetching and using files at the same time: one thread fetches the files, and each file is
//! handed to the next free worker as soon as it has arrived.
//!
//! A jigdo client fetches parts, then packages, and checks or imports each one. Done one after
//! the other, the cores idle while the link works and the link idles while the cores work; on
//! a slow link the checking hides behind the transfer. After a failure no new download starts;
//! those under way are finished. Each worker holds one file's work at a time, and at most
//! [`QUEUE`] fetched files wait for a worker.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::{Mutex, PoisonError};

use super::Fetched;
use crate::error::{Error, Result};

/// Files fetched but not yet taken by a worker; the fetching thread waits beyond this.
const QUEUE: usize = 64;

/// Takes one fetched file: its position and result. Returns false once the work has
/// stopped, and the fetching should too.
pub type Deliver<'a> = dyn Fn(usize, Result<Fetched>) -> bool + Sync + 'a;

/// Fetches `items` with `fetch_all` on a thread of its own, and runs `work` (given the item's
/// position in `items`, the item and its result) on each result as soon as it has arrived,
/// on `workers` threads of their own. `fetch_all` must hand every item's result, with its
/// position, to the function it is given, which returns false once the work has stopped.
/// Returns `work`'s outputs in the order of `items`, or the first error met (of `fetch_all`
/// or of `work`).
///
/// The workers are plain threads, not rayon's: one waiting for the next file must not hold a
/// rayon thread that `fetch_all` (reading a catalog) or `work` itself may need.
pub fn fetch_and_work<T, R, E>(
    items: &[T],
    workers: usize,
    fetch_all: impl FnOnce(&[T], &Deliver<'_>) -> std::result::Result<(), E> + Send,
    work: impl Fn(usize, &T, Result<Fetched>) -> std::result::Result<R, E> + Sync,
) -> std::result::Result<Vec<R>, E>
where
    T: Sync,
    R: Send,
    E: Send + From<Error>,
{
    let (sender, receiver) = sync_channel::<(usize, Result<Fetched>)>(QUEUE);
    // Taken away (closing the channel) by the first failed work.
    let receiver = Mutex::new(Some(receiver));
    // Set by the first failed work, so that no further download starts.
    let stop = AtomicBool::new(false);
    let workers = workers.clamp(1, items.len().max(1));
    std::thread::scope(|scope| {
        let fetcher = scope.spawn(|| {
            // Owned here, so that the channel closes when the fetching ends, however it ends.
            let sender = sender;
            let deliver = |index: usize, result| !stop.load(Ordering::Relaxed) && sender.send((index, result)).is_ok();
            fetch_all(items, &deliver)
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
        if done.len() != items.len() {
            return Err(E::from(internal(format!("{} of {} files were fetched", done.len(), items.len()))));
        }
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

    fn fetched(index: usize) -> Fetched {
        Fetched {
            path: PathBuf::from(format!("file-{index}")),
            size: index as u64,
            bytes_downloaded: 0,
            offer: crate::source::tests::offer(None, None, 0),
            temporary: false,
        }
    }

    /// Delivers every item, last first.
    fn backwards(items: &[usize], deliver: &Deliver<'_>) -> Result<()> {
        for &i in items.iter().rev() {
            deliver(i, Ok(fetched(i)));
        }
        Ok(())
    }

    #[test]
    fn outputs_come_in_item_order_whatever_order_the_files_arrive_in() {
        let items: Vec<usize> = (0..70).collect();
        let out = fetch_and_work(&items, 4, backwards, |position, &item, got| -> Result<usize> {
            assert_eq!(position, item);
            Ok(got?.size as usize * 10)
        })
        .unwrap();
        assert_eq!(out, items.iter().map(|i| i * 10).collect::<Vec<_>>());
    }

    #[test]
    fn a_failed_file_stops_the_fetching() {
        let items: Vec<usize> = (0..100).collect();
        let delivered = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let out = fetch_and_work(
            &items,
            4,
            |items: &[usize], deliver: &Deliver<'_>| -> Result<()> {
                for &i in items {
                    // Later files are not ready before the work on file 2 has failed.
                    for _ in 0..1000 {
                        if i <= 2 || failed.load(Ordering::SeqCst) {
                            break;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(10));
                    }
                    let result = match i {
                        2 => Err(Error::Fetch { package: "file-2".to_owned(), detail: "gone".to_owned() }),
                        _ => Ok(fetched(i)),
                    };
                    if !deliver(i, result) {
                        break;
                    }
                    delivered.fetch_add(1, Ordering::SeqCst);
                }
                Ok(())
            },
            |_, _, got| -> Result<u64> {
                let got = got.inspect_err(|_| failed.store(true, Ordering::SeqCst))?;
                Ok(got.size)
            },
        );
        let error = out.unwrap_err().to_string();
        assert!(error.contains("file-2"), "{error}");
        let delivered = delivered.load(Ordering::SeqCst);
        assert!(delivered < items.len() / 2, "{delivered} files delivered");
    }

    #[test]
    fn a_failed_fetch_is_the_error() {
        let items: Vec<usize> = (0..10).collect();
        let out = fetch_and_work(
            &items,
            2,
            |_: &[usize], deliver: &Deliver<'_>| -> Result<()> {
                deliver(0, Ok(fetched(0)));
                Err(Error::Fetch { package: "catalog".to_owned(), detail: "unreadable".to_owned() })
            },
            |_, _, got| -> Result<u64> { Ok(got?.size) },
        );
        assert!(out.unwrap_err().to_string().contains("catalog"));
    }

    #[test]
    fn a_file_never_delivered_is_an_error_not_a_short_list() {
        let items: Vec<usize> = (0..10).collect();
        let out = fetch_and_work(
            &items,
            2,
            |items: &[usize], deliver: &Deliver<'_>| -> Result<()> { backwards(&items[1..], deliver) },
            |_, _, got| -> Result<u64> { Ok(got?.size) },
        );
        let error = out.unwrap_err().to_string();
        assert!(error.contains("9 of 10 files"), "{error}");
    }
}
