//! `--packages SRC...` as the commands use it.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use rejig_importer::source::{Catalog, FetchOptions, Location, PackageSource};
use rejig_store::Progress;

/// The `--packages` sources of a command and how to fetch from them.
pub struct Sources {
    /// In order, like mirrors.
    pub list: Vec<PackageSource>,
    /// Parallelism, retries and timeouts.
    pub options: FetchOptions,
}

impl Sources {
    /// Parses every `--packages` argument; `http_timeout` bounds each connection and each
    /// wait for a byte.
    pub fn parse(specs: &[String], http_timeout: u64) -> Result<Self> {
        let list = specs
            .iter()
            .map(|spec| PackageSource::parse(spec).with_context(|| format!("package source {spec:?}")))
            .collect::<Result<_>>()?;
        let timeout = Duration::from_secs(http_timeout.max(1));
        let defaults = FetchOptions::default();
        let options =
            FetchOptions { connect_timeout: defaults.connect_timeout.min(timeout), stall_timeout: timeout, ..defaults };
        Ok(Self { list, options })
    }

    /// Sets the speed floor: a transfer averaging below `bytes_per_second` for `seconds`
    /// fails over to the next mirror. 0 bytes a second turns it off.
    pub fn with_speed_floor(mut self, bytes_per_second: u64, seconds: u64) -> Self {
        self.options.speed_limit = bytes_per_second;
        self.options.speed_time = Duration::from_secs(seconds.max(1));
        self
    }

    /// True when no source was given.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Loads the sources' catalog, passing on its warnings (dead mirrors, unreadable files).
    pub fn catalog(&self, progress: &dyn Progress) -> Result<Catalog> {
        let catalog = Catalog::load(&self.list, &self.options, progress).context("reading the package sources")?;
        for warning in catalog.warnings() {
            progress.warn(warning);
        }
        Ok(catalog)
    }
}

/// Every package the sources offer, as local files, for `build`: each NEVRA once, from the
/// first source that has it. Build reads packages where they are, so remote sources are
/// refused with what to do instead.
pub fn local_packages(sources: &Sources, progress: &dyn Progress) -> Result<Vec<PathBuf>> {
    let catalog = sources.catalog(progress)?;
    let mut seen = std::collections::HashSet::new();
    let mut offers: Vec<_> = catalog.all().collect();
    offers.sort_by_key(|o| o.source);
    let mut paths = Vec::new();
    for offer in offers {
        if !seen.insert(offer.nevra.clone()) {
            continue;
        }
        match &offer.location {
            Location::Local(path) => paths.push(path.clone()),
            Location::Remote(url) => bail!(
                "build reads packages from local directories or repositories, and {} is at {url}; \
                 mirror the repository locally (e.g. with `dnf reposync`) and pass that path",
                offer.nevra
            ),
        }
    }
    if paths.is_empty() {
        bail!("the package sources offer no packages");
    }
    paths.sort();
    Ok(paths)
}
