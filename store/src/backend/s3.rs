//! The S3 backend: `object_store`'s S3 client, configured from the standard AWS environment
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ENDPOINT_URL`, `AWS_REGION`, …). The
//! client is async; the backend owns a small tokio runtime and blocks on it, so the rest of
//! the store stays synchronous.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3Builder, S3ConditionalPut};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};

use super::{Backend, Counters, Created, Listed, S3Address};
use crate::error::{Error, IoContext, Result};

/// How many requests run at once when many ranges are read.
const PARALLEL_REQUESTS: usize = 16;

/// A bucket (and prefix) on an S3-compatible server.
pub struct S3Backend {
    address: S3Address,
    client: Arc<dyn ObjectStore>,
    runtime: tokio::runtime::Runtime,
    counters: Counters,
}

fn remote_error(what: &str, key: &str, error: object_store::Error) -> Error {
    Error::invalid("object storage", format!("{what} {key}: {error}"))
}

impl S3Backend {
    /// Connects to `address` with credentials, endpoint and region from the environment. A
    /// plain-HTTP endpoint (a server on loopback) is allowed when `AWS_ENDPOINT_URL` says so.
    pub fn connect(address: &S3Address) -> Result<Self> {
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&address.bucket)
            .with_conditional_put(S3ConditionalPut::ETagMatch);
        if std::env::var("AWS_ENDPOINT_URL").is_ok_and(|e| e.starts_with("http://")) {
            builder = builder.with_allow_http(true);
        }
        if std::env::var_os("AWS_REGION").is_none() && std::env::var_os("AWS_DEFAULT_REGION").is_none() {
            builder = builder.with_region("us-east-1");
        }
        let client = builder.build().map_err(|e| {
            Error::invalid("object storage", format!("cannot set up the client for {}: {e}", address.describe()))
        })?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("rejig-s3")
            .enable_all()
            .build()
            .map_err(|e| Error::io("tokio runtime", e))?;
        Ok(Self { address: address.clone(), client: Arc::new(client), runtime, counters: Counters::default() })
    }

    fn path(&self, key: &str) -> ObjectPath {
        match self.address.prefix.is_empty() {
            true => ObjectPath::from(key),
            false => ObjectPath::from(format!("{}/{key}", self.address.prefix)),
        }
    }

    /// The key of `path` relative to the prefix.
    fn key_of(&self, path: &ObjectPath) -> String {
        let full = path.as_ref();
        match self.address.prefix.is_empty() {
            true => full.to_owned(),
            false => full.strip_prefix(&format!("{}/", self.address.prefix)).unwrap_or(full).to_owned(),
        }
    }
}

impl Backend for S3Backend {
    fn describe(&self) -> String {
        self.address.describe()
    }

    fn put_create(&self, key: &str, bytes: Vec<u8>) -> Result<Created> {
        Counters::add(&self.counters.puts, 1);
        Counters::add(&self.counters.bytes_out, bytes.len() as u64);
        let options = PutOptions { mode: PutMode::Create, ..Default::default() };
        let path = self.path(key);
        let put = self.client.put_opts(&path, PutPayload::from(bytes), options);
        match self.runtime.block_on(put) {
            Ok(_) => Ok(Created::Created),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(Created::Existed),
            Err(e) => Err(remote_error("uploading", key, e)),
        }
    }

    fn put(&self, key: &str, bytes: Vec<u8>) -> Result<()> {
        Counters::add(&self.counters.puts, 1);
        Counters::add(&self.counters.bytes_out, bytes.len() as u64);
        let path = self.path(key);
        let put = self.client.put(&path, PutPayload::from(bytes));
        self.runtime.block_on(put).map(|_| ()).map_err(|e| remote_error("writing", key, e))
    }

    fn list(&self, prefix: &str) -> Result<Vec<Listed>> {
        Counters::add(&self.counters.lists, 1);
        let listing = self.client.list(Some(&self.path(prefix))).try_collect::<Vec<_>>();
        let found = self.runtime.block_on(listing).map_err(|e| remote_error("listing", prefix, e))?;
        // A page holds up to 1,000 keys.
        Counters::add(&self.counters.lists, (found.len() as u64) / 1000);
        Ok(found
            .into_iter()
            .map(|meta| Listed {
                key: self.key_of(&meta.location),
                size: meta.size,
                modified: u64::try_from(meta.last_modified.timestamp()).unwrap_or(0),
            })
            .collect())
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Counters::add(&self.counters.gets, 1);
        let path = self.path(key);
        let get = async { self.client.get(&path).await?.bytes().await };
        match self.runtime.block_on(get) {
            Ok(bytes) => {
                Counters::add(&self.counters.bytes_in, bytes.len() as u64);
                Ok(Some(bytes.to_vec()))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(remote_error("reading", key, e)),
        }
    }

    fn get_ranges(&self, wanted: &[(String, Range<u64>)]) -> Vec<Result<Vec<u8>>> {
        Counters::add(&self.counters.gets, wanted.len() as u64);
        let fetches = futures::stream::iter(wanted.iter().map(|(key, range)| {
            let path = self.path(key);
            let client = self.client.clone();
            let range = range.clone();
            async move {
                client.get_range(&path, range).await.map(|b| b.to_vec()).map_err(|e| remote_error("reading", key, e))
            }
        }))
        .buffered(PARALLEL_REQUESTS)
        .collect::<Vec<_>>();
        let results = self.runtime.block_on(fetches);
        let bytes: u64 = results.iter().filter_map(|r| r.as_ref().ok()).map(|b| b.len() as u64).sum();
        Counters::add(&self.counters.bytes_in, bytes);
        results
    }

    fn download(&self, key: &str, path: &Path) -> Result<u64> {
        use std::io::Write;
        Counters::add(&self.counters.gets, 1);
        let object = self.path(key);
        let mut file = std::fs::File::create(path).at(path)?;
        let copy = async {
            let mut stream = self.client.get(&object).await.map_err(|e| remote_error("reading", key, e))?.into_stream();
            let mut total = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| remote_error("reading", key, e))?;
                file.write_all(&chunk).at(path)?;
                total += chunk.len() as u64;
            }
            Ok::<u64, Error>(total)
        };
        let total = self.runtime.block_on(copy)?;
        Counters::add(&self.counters.bytes_in, total);
        Ok(total)
    }

    fn delete(&self, key: &str) -> Result<()> {
        Counters::add(&self.counters.deletes, 1);
        match self.runtime.block_on(self.client.delete(&self.path(key))) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(remote_error("deleting", key, e)),
        }
    }

    fn counters(&self) -> &Counters {
        &self.counters
    }
}
