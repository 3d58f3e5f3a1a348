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
//! | create a store (backed or not) | [`init::init`] |
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
pub mod init;
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
    on_warn: Option<&'a dyn Fn(&str)>,
    /// The cache folder for stores on object storage (`--cache`); None: the default.
    cache: Option<std::path::PathBuf>,
}

impl<'a> Opener<'a> {
    /// `holder` describes this process to waiters (e.g. `rejig export (pid 1234)`);
    /// `on_wait(store, holder)` is called when another process holds the store.
    pub fn new(holder: impl Into<String>, on_wait: &'a dyn Fn(&Path, &str)) -> Self {
        Self { holder: holder.into(), on_wait, on_warn: None, cache: None }
    }

    /// Where to tell the user what opening a backed store found (references to repository
    /// objects that are gone, dropped); dropped by default.
    pub fn on_warn(mut self, on_warn: &'a dyn Fn(&str)) -> Self {
        self.on_warn = Some(on_warn);
        self
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

    /// Opens the store at `path`, which must already be one, for `fsck`: a backed store's
    /// references are left as they are, for fsck to report.
    pub fn open_for_check(&self, path: &Path) -> Result<Store> {
        self.open_store(path, rejig_store::OpenMode::Existing, false)
    }

    fn open_with(&self, path: &Path, mode: rejig_store::OpenMode) -> Result<Store> {
        self.open_store(path, mode, mode != rejig_store::OpenMode::Repair)
    }

    /// Opens a store on object storage or on disk; `check_backing` drops a backed store's
    /// references to repository objects that are gone.
    fn open_store(&self, path: &Path, mode: rejig_store::OpenMode, check_backing: bool) -> Result<Store> {
        if let Some(address) = path.to_str().filter(|p| rejig_store::backend::is_remote(p)) {
            let options = rejig_store::sync::RemoteOptions::from_env(self.cache.clone())?;
            return Store::open_remote(address, &options, &self.holder, mode, &|held_by| (self.on_wait)(path, held_by))
                .with_context(|| format!("opening the store at {address}"));
        }
        let store = Store::open_with(path, &self.holder, mode, &|held_by| (self.on_wait)(path, held_by))
            .with_context(|| format!("opening the store at {}", path.display()))?;
        // A backed store reads from its repository; references to objects that are gone
        // are dropped now, so that this command fetches what supplies them (issue 13).
        if let Some(repo) = rejig_exporter::backing::install(&store)? {
            if check_backing {
                let check =
                    store.check_backing().with_context(|| format!("checking the objects of {}", repo.display()))?;
                if let (Some(warn), false) = (self.on_warn, check.dropped.is_empty()) {
                    warn(&format!(
                        "{} object(s) the store read from {} are gone or changed size (ostree prune?); dropped {} index entries with them, and what supplies them will be fetched again; first: {}",
                        check.dropped.len(),
                        repo.display(),
                        check.entries_dropped,
                        check.dropped[0]
                    ));
                }
            }
        }
        Ok(store)
    }
}
