//! Fetching one file named by an `http(s)://` URL, such as a jigdo, with the same client,
//! retries and verification rules as packages. The URL's last path segment names the
//! download; an earlier download of that name is not trusted to be current and is removed
//! first.

use std::path::Path;

use rejig_format::manifest::Nevra;
use rejig_format::{HeaderSha256, PackageBinding};
use rejig_store::Progress;

use super::{fetch, http, key, Catalog, FetchOptions, Fetched, Location, Offer, PackageSource, RepoLocation};
use crate::error::{Error, Result};

/// Downloads `url` into `dir` (see the module documentation).
pub fn fetch_url(url: &str, dir: &Path, options: &FetchOptions, progress: &dyn Progress) -> Result<Fetched> {
    let base =
        http::base_url(url).map_err(|e| Error::Source { origin: url.to_owned(), detail: rejig_format::chain(&e) })?;
    let name: String = url
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("download")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "._+-".contains(c) { c } else { '_' })
        .collect();
    let nevra = Nevra {
        name: name.trim_end_matches(".rpm").to_owned(),
        epoch: None,
        version: "0".into(),
        release: "0".into(),
        arch: "url".into(),
    };
    let wanted = PackageBinding { nevra: nevra.clone(), header: HeaderSha256::from_bytes([0; 32]), file: None };
    let offer = Offer {
        nevra,
        location: Location::Remote(url.to_owned()),
        size: None,
        file_sha256: None,
        header_sha256: None,
        source: 0,
        provides: Vec::new(),
    };
    let mut catalog =
        Catalog { sources: vec![PackageSource::Repository(RepoLocation::Remote(base))], ..Catalog::default() };
    catalog.offers.entry(key(&offer.nevra)).or_default().push(offer);
    // The same name as `fetch` gives a download with no file digest.
    let stem = format!(
        "{}-{}",
        wanted.nevra.to_string().replace(|c: char| !(c.is_ascii_alphanumeric() || "._+-".contains(c)), "_"),
        "0".repeat(16)
    );
    for suffix in [".rpm", ".rpm.part"] {
        let _ = std::fs::remove_file(dir.join(format!("{stem}{suffix}")));
    }
    fetch(&catalog, &[wanted], dir, options, progress)
        .pop()
        .unwrap_or_else(|| Err(Error::Source { origin: url.to_owned(), detail: "nothing fetched".into() }))
}
