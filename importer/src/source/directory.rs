//! A directory of RPM packages as a source: every `.rpm` below it (see
//! [`crate::package::collect_rpms`]) is an offer. Only the lead and headers of each file are
//! read, in parallel, to learn its NEVRA and main-header SHA-256; the payload is left for the
//! import, which verifies it.
//!
//! A file that is not a readable package costs only itself (a warning), not the directory.

use std::io::BufReader;
use std::path::Path;

use rayon::prelude::*;

use super::{refused, Loaded, Location, Offer, Problem};
use crate::package::{collect_rpms, nevra_of};
use crate::rpm::package::Package;

/// The offers of the packages below `root`.
pub(super) fn offers(root: &Path, source: usize) -> Result<Loaded, Problem> {
    let files = collect_rpms(&[root.to_path_buf()]).map_err(|e| Problem::Importer(Box::new(e)))?;
    let read: Vec<Result<Offer, Problem>> = files.par_iter().map(|path| offer(path, source)).collect();
    let mut loaded = Loaded::default();
    for result in read {
        match result {
            Ok(offer) => loaded.offers.push(offer),
            Err(warning) => loaded.warnings.push(rejig_format::chain(&warning)),
        }
    }
    Ok(loaded)
}

fn offer(path: &Path, source: usize) -> Result<Offer, Problem> {
    let fail = |problem: Problem| problem.within(format!("{}: not a usable package, skipped", path.display()));
    let file = super::open_regular_file(path).map_err(|e| fail(e.into()))?;
    let size = file.metadata().map_err(|e| fail(e.into()))?.len();
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let package = Package::read_headers(&mut reader).map_err(|e| fail(refused(e.to_string())))?;
    let nevra = nevra_of(&package).map_err(|e| fail(Problem::Importer(Box::new(e))))?;
    Ok(Offer {
        nevra,
        location: Location::Local(path.to_path_buf()),
        size: Some(size),
        file_sha256: None,
        header_sha256: Some(package.header_sha256),
        source,
    })
}
