//! Fetching wanted packages from a catalog's offers, sources tried in order like mirrors.
//!
//! For each package:
//! - an offer whose known file or header SHA-256 differs from the wanted one is skipped: it is
//!   another build of the package (or repodata pointing at the wrong file);
//! - a local offer is handed back in place after a size check; the caller's import reads the
//!   whole file and verifies it, so it is not read twice;
//! - a remote offer is downloaded into `<name>.rpm.part` in the download directory, `<name>`
//!   being the hex SHA-256 of the file when known (else the sanitised NEVRA and a header
//!   digest prefix). A `.part` left by an interrupted run is re-hashed and resumed with
//!   `Range`; I/O errors, timeouts and 5xx replies are retried with a short backoff; the body
//!   may not exceed the size repodata gives. The file must hash to the wanted SHA-256 (else
//!   to the repodata's); on a mismatch the part is deleted and the next offer tried. A
//!   verified file is renamed to `<name>.rpm`, which a later run reuses after re-hashing it.
//!
//! Downloads are not fsynced. Nothing trusts a download because it survived: a `<name>.rpm` is
//! reused only after it hashes again to the wanted SHA-256 (one with no known SHA-256 is
//! deleted, not reused), a resumed `.part` must hash right once complete or it is fetched
//! again from scratch, and an import checks the file's SHA-256 once more. So a crash can cost
//! a download again, never a wrong file; fsyncing would only force to disk packages that a
//! jigdo export deletes as soon as the store holds their content (276 MB of writes on a cold
//! install of the benchmark workload, on top of the store's and the repository's).
//!
//! Downloads run `FetchOptions::jobs` at a time; one file name is only ever written by one
//! of them.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rayon::prelude::*;
use rejig_format::manifest::Nevra;
use rejig_format::{FileSha256, HeaderSha256, PackageBinding};
use rejig_store::Progress;
use sha2::{Digest, Sha256};

use super::http::{backoff, is_too_slow, Client, Failure, Reply};
use super::{key, refused, Catalog, FetchOptions, Fetched, Location, Offer, Problem};
use crate::error::{Error, Result};

/// The largest download when no source gives the size.
pub const MAX_DOWNLOAD_BYTES: u64 = 16 << 30;
const CHUNK: usize = 256 * 1024;

/// Fetches every wanted package: in place for local offers, downloaded into `download_dir`
/// (created when missing) for remote ones. Keep `download_dir` across runs: an interrupted
/// download resumes from its `.part` there. Results are in the order of `wanted`; each package
/// succeeds or fails on its own. Downloads run `options.jobs` at a time. One progress unit
/// per package.
pub fn fetch(
    catalog: &Catalog,
    wanted: &[PackageBinding],
    download_dir: &Path,
    options: &FetchOptions,
    progress: &dyn Progress,
) -> Vec<Result<Fetched>> {
    let slots: Vec<Mutex<Option<Result<Fetched>>>> = wanted.iter().map(|_| Mutex::new(None)).collect();
    fetch_each(catalog, wanted, download_dir, options, progress, &|index, result| {
        if let Some(slot) = slots.get(index) {
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
        }
        true
    });
    slots
        .into_iter()
        .zip(wanted)
        .map(|(slot, w)| {
            slot.into_inner().unwrap_or_else(PoisonError::into_inner).unwrap_or_else(|| {
                Err(Error::Fetch { package: w.nevra.to_string(), detail: "internal error: no result".to_owned() })
            })
        })
        .collect()
}

/// [`fetch`], handing each result to `deliver` (with its index in `wanted`) as soon as it is
/// known, from the download threads, so that the caller can use a file while others are
/// still coming. `deliver` returns false to stop: no download starts after that, and the
/// packages not started are not delivered.
pub fn fetch_each(
    catalog: &Catalog,
    wanted: &[PackageBinding],
    download_dir: &Path,
    options: &FetchOptions,
    progress: &dyn Progress,
    deliver: &(dyn Fn(usize, Result<Fetched>) -> bool + Sync),
) {
    let client = Client::new(options);
    let names = Names::default();
    // The same package wanted twice is fetched once; its repeats get a copy of its result.
    let mut first: HashMap<(Nevra, HeaderSha256), usize> = HashMap::new();
    let mut repeats: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut unique = Vec::new();
    for (index, w) in wanted.iter().enumerate() {
        match first.get(&(key(&w.nevra), w.header)) {
            Some(&slot) => repeats.entry(slot).or_default().push(index),
            None => {
                first.insert((key(&w.nevra), w.header), index);
                unique.push(index);
            }
        }
    }
    progress.start("fetching packages", unique.len() as u64);
    let stopped = AtomicBool::new(false);
    let work = |&index: &usize| {
        let Some(w) = wanted.get(index) else { return };
        if stopped.load(Ordering::Relaxed) {
            return;
        }
        let result = fetch_one(catalog, w, download_dir, &client, &names);
        progress.advance(1);
        let copies: Vec<(usize, Result<Fetched>)> = repeats
            .get(&index)
            .into_iter()
            .flatten()
            .filter_map(|&repeat| Some((repeat, copy_result(&result, wanted.get(repeat)?))))
            .collect();
        for (index, result) in std::iter::once((index, result)).chain(copies) {
            if !deliver(index, result) {
                stopped.store(true, Ordering::Relaxed);
            }
        }
    };
    match rayon::ThreadPoolBuilder::new().num_threads(options.jobs.max(1)).build() {
        Ok(pool) => pool.install(|| unique.par_iter().for_each(work)),
        Err(_) => unique.iter().for_each(work),
    }
    progress.finish();
}

/// What a repeat of a wanted package gets: the same file, or the same failure under its name.
fn copy_result(first: &Result<Fetched>, repeat: &PackageBinding) -> Result<Fetched> {
    match first {
        Ok(fetched) => Ok(fetched.clone()),
        Err(Error::Fetch { detail, .. }) => {
            Err(Error::Fetch { package: repeat.nevra.to_string(), detail: detail.clone() })
        }
        Err(e) => Err(Error::Fetch { package: repeat.nevra.to_string(), detail: rejig_format::chain(e) }),
    }
}

/// Serialises work on one download file name.
#[derive(Default)]
struct Names(Mutex<HashMap<String, Arc<Mutex<()>>>>);

impl Names {
    fn lock(&self, name: &str) -> Arc<Mutex<()>> {
        let mut names = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        names.entry(name.to_owned()).or_default().clone()
    }
}

fn fetch_one(
    catalog: &Catalog,
    wanted: &PackageBinding,
    dir: &Path,
    client: &Client,
    names: &Names,
) -> Result<Fetched> {
    let fail = |detail: String| Error::Fetch { package: wanted.nevra.to_string(), detail };
    let offers = catalog.offers(&wanted.nevra);
    if offers.is_empty() {
        return Err(fail("no source offers it; add a --packages source that has it".to_owned()));
    }
    let mut tried = Vec::new();
    let mut skipped = 0usize;
    for offer in offers {
        let source = catalog.source(offer.source).map(ToString::to_string).unwrap_or_default();
        if let Some(reason) = offer.mismatch(wanted) {
            skipped += 1;
            tried.push(format!("{} (from {source}): skipped: {reason}", offer.location));
            continue;
        }
        let result = match &offer.location {
            Location::Local(path) => local(path, offer).map(|size| Fetched {
                path: path.clone(),
                size,
                bytes_downloaded: 0,
                offer: offer.clone(),
                temporary: false,
            }),
            Location::Remote(url) => {
                download(client, url, wanted, offer, dir, names).map(|(path, size, bytes_downloaded)| Fetched {
                    path,
                    size,
                    bytes_downloaded,
                    offer: offer.clone(),
                    temporary: true,
                })
            }
        };
        match result {
            Ok(fetched) => return Ok(fetched),
            Err(problem) => {
                tried.push(format!("{} (from {source}): {}", offer.location, rejig_format::chain(&problem)))
            }
        }
    }
    let hint = if skipped == offers.len() {
        "; the sources have another build of it than the one wanted: add a --packages source with the right build"
    } else {
        ""
    };
    Err(fail(format!("no source could supply it: {}{hint}", tried.join("; "))))
}

/// A local offer's size, after checking it is a file of the size the source says.
fn local(path: &Path, offer: &Offer) -> std::result::Result<u64, Problem> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(refused("not a regular file"));
    }
    match offer.size {
        Some(size) if size != meta.len() => Err(refused(format!("{} bytes, but the source says {size}", meta.len()))),
        _ => Ok(meta.len()),
    }
}

/// The file name (without `.rpm`) a download is kept under.
fn download_name(wanted: &PackageBinding, expected: Option<FileSha256>) -> String {
    match expected {
        Some(sha) => sha.to_hex(),
        None => {
            let nevra: String = wanted
                .nevra
                .to_string()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || "._+-".contains(c) { c } else { '_' })
                .collect();
            let header = wanted.header.to_hex();
            format!("{nevra}-{}", header.get(..16).unwrap_or(&header))
        }
    }
}

/// Downloads one remote offer: (path, size, bytes transferred now).
fn download(
    client: &Client,
    url: &str,
    wanted: &PackageBinding,
    offer: &Offer,
    dir: &Path,
    names: &Names,
) -> std::result::Result<(PathBuf, u64, u64), Problem> {
    let expected = wanted.file.or(offer.file_sha256);
    let name = download_name(wanted, expected);
    let target = dir.join(format!("{name}.rpm"));
    let part = dir.join(format!("{name}.rpm.part"));
    std::fs::create_dir_all(dir).map_err(|e| Problem::from(e).within(format!("creating {}", dir.display())))?;
    let lock = names.lock(&name);
    let _held = lock.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(size) = finished_earlier(&target, expected, offer.size)? {
        return Ok((target, size, 0));
    }
    let mut transferred = 0u64;
    let mut attempt = 1u32;
    let mut restarted = false;
    loop {
        match attempt_download(client, url, offer.size, &part, &mut transferred) {
            Ok(done) => {
                if let Some(expected) = expected.filter(|e| *e != done.sha256) {
                    remove(&part)?;
                    if done.resumed_from > 0 && !restarted {
                        // The prefix kept from an earlier run may be what was wrong: once more from scratch.
                        restarted = true;
                        continue;
                    }
                    return Err(refused(format!(
                        "SHA-256 mismatch: the file hashes to {}, but {} is wanted; the mirror holds another file",
                        done.sha256, expected
                    )));
                }
                std::fs::rename(&part, &target)
                    .map_err(|e| Problem::from(e).within(format!("renaming {}", part.display())))?;
                return Ok((target, done.size, transferred));
            }
            Err(failure) if failure.retry && attempt < client.attempts => {
                std::thread::sleep(backoff(attempt));
                attempt += 1;
            }
            Err(failure) => {
                let tries = if attempt > 1 { format!(" (after {attempt} attempts)") } else { String::new() };
                return Err(Problem::Remote(format!("{}{tries}", failure.detail)));
            }
        }
    }
}

/// The size of `<name>.rpm` when a previous run finished it and it still hashes right; a
/// file that cannot be verified or does not match is removed.
fn finished_earlier(
    target: &Path,
    expected: Option<FileSha256>,
    size: Option<u64>,
) -> std::result::Result<Option<u64>, Problem> {
    let Ok(file) = File::open(target) else { return Ok(None) };
    if let Some(expected) = expected {
        let (length, sha256) =
            hash_prefix(&file, u64::MAX).map_err(|e| Problem::from(e).within(target.display().to_string()))?;
        if FileSha256::from_bytes(sha256.finalize().into()) == expected && size.is_none_or(|s| s == length) {
            return Ok(Some(length));
        }
    }
    remove(target)?;
    Ok(None)
}

fn remove(path: &Path) -> std::result::Result<(), Problem> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Problem::from(e).within(format!("removing {}", path.display()))),
    }
}

/// A complete `.part`.
struct Done {
    size: u64,
    sha256: FileSha256,
    /// Bytes kept from before this attempt.
    resumed_from: u64,
}

/// Length and SHA-256 state of the first `limit` bytes of `file`, read from its start.
fn hash_prefix(mut file: &File, limit: u64) -> std::io::Result<(u64, Sha256)> {
    file.seek(SeekFrom::Start(0))?;
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    let mut reader = file.take(limit);
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        sha.update(buf.get(..n).unwrap_or_default());
        total = total.saturating_add(n as u64);
    }
    Ok((total, sha))
}

/// One try at completing `part` from `url`, resuming what it already holds.
fn attempt_download(
    client: &Client,
    url: &str,
    size: Option<u64>,
    part: &Path,
    transferred: &mut u64,
) -> std::result::Result<Done, Failure> {
    let disk = |e: std::io::Error| Failure { retry: false, detail: format!("{}: {e}", part.display()) };
    let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(part).map_err(disk)?;
    let mut have = file.metadata().map_err(disk)?.len();
    if size.is_some_and(|s| have > s) {
        file.set_len(0).map_err(disk)?;
        have = 0;
    }
    let (hashed, mut sha) = hash_prefix(&file, have).map_err(disk)?;
    if hashed != have {
        return Err(Failure { retry: true, detail: format!("{} shrank while being read", part.display()) });
    }
    let resumed_from = have;
    if have > 0 && size == Some(have) {
        return Ok(Done { size: have, sha256: FileSha256::from_bytes(sha.finalize().into()), resumed_from });
    }
    let restart = |file: &File, have: &mut u64, sha: &mut Sha256| -> std::result::Result<(), Failure> {
        file.set_len(0).map_err(disk)?;
        *have = 0;
        *sha = Sha256::new();
        Ok(())
    };
    let mut body = match client.get(url, have)? {
        Reply::Whole { body, length } => {
            if let (Some(length), Some(size)) = (length, size) {
                if length != size {
                    return Err(Failure {
                        retry: false,
                        detail: format!("the server sends {length} bytes, but the source says the file has {size}"),
                    });
                }
            }
            // A server that ignores `Range` sends the whole file: start over.
            restart(&file, &mut have, &mut sha)?;
            body
        }
        Reply::Partial { body, start } if start == have => body,
        Reply::Partial { start, .. } => {
            let asked = have;
            restart(&file, &mut have, &mut sha)?;
            return Err(Failure { retry: true, detail: format!("asked to resume at byte {asked}, got byte {start}") });
        }
        Reply::PastEnd { total } => {
            if total == Some(have) && size.is_none_or(|s| s == have) {
                return Ok(Done { size: have, sha256: FileSha256::from_bytes(sha.finalize().into()), resumed_from });
            }
            restart(&file, &mut have, &mut sha)?;
            return Err(Failure { retry: true, detail: "HTTP 416 (range not satisfiable); restarting".to_owned() });
        }
    };
    let limit = size.unwrap_or(MAX_DOWNLOAD_BYTES);
    let mut writer = &file;
    writer.seek(SeekFrom::Start(have)).map_err(disk)?;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // Too slow: the next mirror, not this one again (the part is kept for a resume).
                return Err(Failure {
                    retry: !is_too_slow(&e),
                    detail: format!("the transfer broke off after {have} bytes: {e}"),
                });
            }
        };
        if have.saturating_add(n as u64) > limit {
            restart(&file, &mut have, &mut sha)?;
            return Err(Failure {
                retry: false,
                detail: format!("the server sends more than the {limit} bytes the source says the file has"),
            });
        }
        let chunk = buf.get(..n).unwrap_or_default();
        writer.write_all(chunk).map_err(disk)?;
        sha.update(chunk);
        have = have.saturating_add(n as u64);
        *transferred = transferred.saturating_add(n as u64);
    }
    if let Some(size) = size.filter(|&s| s != have) {
        return Err(Failure { retry: true, detail: format!("the transfer ended after {have} of {size} bytes") });
    }
    Ok(Done { size: have, sha256: FileSha256::from_bytes(sha.finalize().into()), resumed_from })
}

#[cfg(test)]
mod tests {
    use super::super::tests::wanted;
    use super::*;

    #[test]
    fn download_names() {
        assert_eq!(download_name(&wanted(None), Some(FileSha256::from_bytes([1; 32]))), "01".repeat(32));
        assert_eq!(download_name(&wanted(None), None), "a-2_1-1.x86_64-abababababababab");
    }
}
