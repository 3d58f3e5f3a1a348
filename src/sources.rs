//! `--packages SRC...` as the commands use it.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use rejig_importer::source::{Catalog, FetchOptions, Location, PackageSource};
use rejig_store::Progress;

/// Parses every `--packages` argument.
pub fn parse_sources(specs: &[String]) -> Result<Vec<PackageSource>> {
    specs.iter().map(|spec| PackageSource::parse(spec).with_context(|| format!("package source {spec:?}"))).collect()
}

/// Loads the sources' catalog, passing on its warnings (dead mirrors, unreadable files).
pub fn load_catalog(sources: &[PackageSource], options: &FetchOptions, progress: &dyn Progress) -> Result<Catalog> {
    let catalog = Catalog::load(sources, options, progress).context("reading the package sources")?;
    for warning in catalog.warnings() {
        progress.warn(warning);
    }
    Ok(catalog)
}

/// Every package the sources offer, as local files, for `build`: each NEVRA once, from the
/// first source that has it. Build reads packages where they are, so remote sources are
/// refused with what to do instead.
pub fn local_packages(sources: &[PackageSource], progress: &dyn Progress) -> Result<Vec<PathBuf>> {
    let catalog = load_catalog(sources, &FetchOptions::default(), progress)?;
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
