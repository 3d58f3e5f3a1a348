//! rejig's core: every flow of the command line as a library function, above the store,
//! the importer and the exporter.
//!
//! Each flow takes the open store (when it needs one), its options and a [`Progress`], and
//! returns a report: plain data that derives `Serialize`, for the caller to render as text or
//! as JSON. The core never prints; it speaks only through its reports, its errors and the
//! [`Progress`] it is given. The `rejig` binary (src/main.rs) parses arguments, opens the
//! store, calls one flow per subcommand and renders what comes back.
//!
//! | flow | function |
//! |------|----------|
//! | import packages | [`import::packages`] |
//! | import a commit | [`import::commit`] |
//! | build a jigdo | [`build::build`], [`build::build_jigdo`] |
//! | export a commit | [`export::export_commit`] |
//! | export a jigdo's commit | [`rebuild::export_jigdo`] |
//! | plan a jigdo export | [`rebuild::plan`] |
//! | inspect a package or jigdo | [`inspect::inspect`] |
//! | fsck and repair | [`fsck::fsck`] |
//! | gc | [`gc::gc`] |
//! | the demo | [`demo::run`] |
//! | add, list, delete remotes | [`remote::add`], [`remote::list`], [`remote::delete`] |
//! | upgrade from a remote | [`upgrade::upgrade`] (signatures: [`trust`]) |

#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod build;
pub mod demo;
pub mod export;
pub mod fsck;
pub mod gc;
pub mod import;
pub mod inspect;
pub mod mirror;
pub mod rebuild;
pub mod remote;
pub mod report;
pub mod sources;
pub mod trust;
pub mod upgrade;

#[cfg(test)]
mod testing;

use std::path::Path;

use anyhow::{Context, Result};
pub use rejig_store::{NoProgress, Progress, Store};

/// How the core opens a store: what this process says of itself to another that waits for
/// the store's lock, and what to do while this one waits.
pub struct Opener<'a> {
    holder: String,
    on_wait: &'a dyn Fn(&Path, &str),
    /// The cache folder for stores on object storage (`--cache`); None: the default.
    cache: Option<std::path::PathBuf>,
}

impl<'a> Opener<'a> {
    /// `holder` describes this process to waiters (e.g. `rejig export (pid 1234)`);
    /// `on_wait(store, holder)` is called when another process holds the store.
    pub fn new(holder: impl Into<String>, on_wait: &'a dyn Fn(&Path, &str)) -> Self {
        Self { holder: holder.into(), on_wait, cache: None }
    }

    /// Where a store on object storage (`s3://BUCKET/PREFIX`) keeps its local index and packs.
    pub fn with_cache(mut self, cache: Option<std::path::PathBuf>) -> Self {
        self.cache = cache;
        self
    }

    /// Opens (or creates) the store at `path`, waiting for its lock if need be: for the
    /// commands that write (import, build, export of a jigdo).
    pub fn open(&self, path: &Path) -> Result<Store> {
        self.open_with(path, rejig_store::OpenMode::Create)
    }

    /// Opens the store at `path`, which must already be one (fsck, gc, export of a commit):
    /// a mistyped path is an error, never a new empty store.
    pub fn open_existing(&self, path: &Path) -> Result<Store> {
        self.open_with(path, rejig_store::OpenMode::Existing)
    }

    /// Opens the store at `path` for `fsck --repair`, whatever state its index is in.
    pub fn open_for_repair(&self, path: &Path) -> Result<Store> {
        self.open_with(path, rejig_store::OpenMode::Repair)
    }

    fn open_with(&self, path: &Path, mode: rejig_store::OpenMode) -> Result<Store> {
        if let Some(address) = path.to_str().filter(|p| rejig_store::backend::is_remote(p)) {
            let options = rejig_store::sync::RemoteOptions::from_env(self.cache.clone())?;
            return Store::open_remote(address, &options, &self.holder, mode, &|held_by| (self.on_wait)(path, held_by))
                .with_context(|| format!("opening the store at {address}"));
        }
        Store::open_with(path, &self.holder, mode, &|held_by| (self.on_wait)(path, held_by))
            .with_context(|| format!("opening the store at {}", path.display()))
    }
}
