//! `rejig init [--backed-by REPO]`: create a store, optionally backed by the OSTree
//! repository it feeds (FORMAT.md §3b): after each export into that repository the store
//! reads the exported content from it instead of keeping a second copy.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde::Serialize;

use crate::Opener;

/// What [`init`] did.
#[derive(Clone, Debug, Serialize)]
pub struct InitReport {
    /// The store.
    pub store: PathBuf,
    /// The repository backing it, if any.
    pub backed_by: Option<PathBuf>,
}

/// Creates the store at `path` (or opens the one there) and, with `backed_by`, binds it to
/// that repository, which need not exist yet: the first export into it creates it. A store
/// already backed by another repository is refused: its entries name that repository's
/// objects.
pub fn init(opener: &Opener<'_>, path: &Path, backed_by: Option<&Path>) -> Result<InitReport> {
    if backed_by.is_some() && path.to_str().is_some_and(rejig_store::backend::is_remote) {
        // Refused before anything is created in the bucket.
        bail!(
            "{} is a store on object storage, shared by builders; only a store on this host's disk can be backed by a repository",
            path.display()
        );
    }
    let store = opener.open(path)?;
    let current = store.backing_repo()?;
    let backed_by = match (backed_by, current) {
        (None, current) => current,
        (Some(repo), Some(current)) => {
            let repo = std::path::absolute(repo)?;
            if repo != current {
                bail!(
                    "the store at {} is already backed by {}; a store is bound to one repository (use a new store for {})",
                    path.display(),
                    current.display(),
                    repo.display()
                );
            }
            Some(current)
        }
        (Some(repo), None) => {
            if repo.exists() && !repo.join("config").exists() {
                bail!("{} exists and is not an OSTree repository", repo.display());
            }
            Some(rejig_store::backing::write(store.root(), repo)?)
        }
    };
    Ok(InitReport { store: path.to_path_buf(), backed_by })
}
