//! Where a store's packs live when they are shared (DESIGN.md "Build farms"): a bucket of an
//! S3-compatible object store ([`s3`]), or a folder that plays the same part ([`local`]).
//! [`crate::sync::Remote`] talks to a [`Backend`] only; nothing above the store sees either.
//!
//! A backend is a flat namespace of immutable-ish objects under a prefix. What rejig asks of
//! it is small: create an object only if it does not exist (packs, `store.id`), overwrite one
//! (lease locks), read a byte range (trailers) or all of it (packs), list by prefix, delete.

pub mod local;
pub mod s3;

use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// One object of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// Its key, relative to the store's prefix (e.g. `packs/<hex>.pack`).
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written, in seconds since the epoch (the server's clock).
    pub modified: u64,
}

/// What a conditional create found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Created {
    /// The object is new.
    Created,
    /// An object of that key was already there; nothing was written.
    Existed,
}

/// Requests made and bytes moved, counted by the client (BENCHMARKS.md "S3").
#[derive(Debug, Default)]
pub struct Counters {
    /// LIST requests (one per page).
    pub lists: AtomicU64,
    /// GET requests, whole or ranged.
    pub gets: AtomicU64,
    /// PUT requests, conditional or not.
    pub puts: AtomicU64,
    /// DELETE requests.
    pub deletes: AtomicU64,
    /// Bytes received in GET bodies.
    pub bytes_in: AtomicU64,
    /// Bytes sent in PUT bodies.
    pub bytes_out: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The counts as JSON, for `REJIG_S3_STATS`.
    pub fn to_json(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            "{{\"lists\":{},\"gets\":{},\"puts\":{},\"deletes\":{},\"bytes_in\":{},\"bytes_out\":{}}}",
            get(&self.lists),
            get(&self.gets),
            get(&self.puts),
            get(&self.deletes),
            get(&self.bytes_in),
            get(&self.bytes_out)
        )
    }
}

/// Shared storage for packs and the few small objects beside them. Keys are relative to the
/// store's prefix. Every method blocks; an S3 backend runs its async client on a runtime of
/// its own.
pub trait Backend: Send + Sync {
    /// How to name the store in messages (`s3://bucket/prefix`).
    fn describe(&self) -> String;
    /// Writes `bytes` under `key` unless an object is there already (If-None-Match: *).
    fn put_create(&self, key: &str, bytes: Vec<u8>) -> Result<Created>;
    /// Writes `bytes` under `key`, replacing what is there.
    fn put(&self, key: &str, bytes: Vec<u8>) -> Result<()>;
    /// Every object whose key starts with `prefix`.
    fn list(&self, prefix: &str) -> Result<Vec<Listed>>;
    /// The whole object, or `None` when there is none.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// Byte ranges of several objects, fetched concurrently; results in the order asked.
    fn get_ranges(&self, wanted: &[(String, Range<u64>)]) -> Vec<Result<Vec<u8>>>;
    /// Copies the whole object into the file at `path` (created); returns its size.
    fn download(&self, key: &str, path: &Path) -> Result<u64>;
    /// Deletes the object; deleting one that is not there is not an error.
    fn delete(&self, key: &str) -> Result<()>;
    /// The requests made so far.
    fn counters(&self) -> &Counters;
}

/// A parsed `s3://BUCKET/PREFIX`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Address {
    /// The bucket.
    pub bucket: String,
    /// The prefix inside it, without leading or trailing `/` (may be empty).
    pub prefix: String,
}

/// True when `store` names object storage rather than a folder.
pub fn is_remote(store: &str) -> bool {
    store.starts_with("s3://")
}

impl S3Address {
    /// Parses `s3://BUCKET[/PREFIX]`.
    pub fn parse(address: &str) -> Result<Self> {
        let bad = |detail: &str| Error::invalid("store address", format!("{address:?}: {detail}"));
        let rest = address.strip_prefix("s3://").ok_or_else(|| bad("it does not start with s3://"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad("it names no bucket"));
        }
        if !bucket.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.') {
            return Err(bad("a bucket name holds only lowercase letters, digits, '-' and '.'"));
        }
        let prefix = prefix.trim_matches('/').to_owned();
        if prefix.split('/').any(|part| part == "." || part == "..") {
            return Err(bad("the prefix may not hold . or .. parts"));
        }
        Ok(Self { bucket: bucket.to_owned(), prefix })
    }

    /// `s3://bucket/prefix`.
    pub fn describe(&self) -> String {
        match self.prefix.is_empty() {
            true => format!("s3://{}", self.bucket),
            false => format!("s3://{}/{}", self.bucket, self.prefix),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_and_bad_ones_are_refused() {
        let a = S3Address::parse("s3://farm/builds/os/").unwrap();
        assert_eq!((a.bucket.as_str(), a.prefix.as_str()), ("farm", "builds/os"));
        assert_eq!(S3Address::parse("s3://farm").unwrap().prefix, "");
        for bad in ["s3://", "s3:///x", "file:///x", "s3://Farm/x", "s3://farm/../x"] {
            assert!(S3Address::parse(bad).is_err(), "{bad}");
        }
    }
}
