//! Package sources. PLACEHOLDER until the sources branch lands: directories only, the same
//! API the full implementation has.
#![allow(missing_docs)]

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rejig_store::manifest::Nevra;
use rejig_store::Progress;

use crate::error::{Error, IoContext, Result};
use crate::package::{collect_rpms, nevra_of};
use crate::rpm::package::Package;

#[derive(Clone, Debug)]
pub enum PackageSource {
    Directory(PathBuf),
}

impl PackageSource {
    pub fn parse(spec: &str) -> Result<Self> {
        Ok(PackageSource::Directory(PathBuf::from(spec)))
    }
}

impl std::fmt::Display for PackageSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PackageSource::Directory(p) => write!(f, "{}", p.display()),
        }
    }
}

#[derive(Clone, Debug)]
pub enum Location {
    Local(PathBuf),
    Remote(String),
}

#[derive(Clone, Debug)]
pub struct Offer {
    pub nevra: Nevra,
    pub location: Location,
    pub size: Option<u64>,
    pub file_sha256: Option<[u8; 32]>,
    pub header_sha256: Option<[u8; 32]>,
    pub source: usize,
}

#[derive(Default)]
pub struct Catalog {
    offers: HashMap<Nevra, Vec<Offer>>,
}

impl Catalog {
    pub fn load(sources: &[PackageSource], _options: &FetchOptions, _progress: &dyn Progress) -> Result<Self> {
        let mut catalog = Catalog::default();
        for (index, source) in sources.iter().enumerate() {
            let PackageSource::Directory(dir) = source;
            for path in collect_rpms(std::slice::from_ref(dir))? {
                let file = File::open(&path).at(&path)?;
                let size = file.metadata().at(&path)?.len();
                let package = Package::read_headers(&mut BufReader::new(file))
                    .map_err(|e| Error::Package { path: path.clone(), detail: e.to_string() })?;
                let nevra = nevra_of(&package)?;
                catalog.offers.entry(nevra.clone()).or_default().push(Offer {
                    nevra,
                    location: Location::Local(path),
                    size: Some(size),
                    file_sha256: None,
                    header_sha256: Some(package.header_sha256),
                    source: index,
                });
            }
        }
        Ok(catalog)
    }
    pub fn offers(&self, nevra: &Nevra) -> &[Offer] {
        self.offers.get(nevra).map(Vec::as_slice).unwrap_or_default()
    }
    pub fn len(&self) -> usize {
        self.offers.values().map(Vec::len).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.offers.is_empty()
    }
    pub fn all(&self) -> impl Iterator<Item = &Offer> {
        self.offers.values().flatten()
    }
}

pub struct Wanted {
    pub nevra: Nevra,
    pub header_sha256: [u8; 32],
    pub file_sha256: Option<[u8; 32]>,
}

pub struct FetchOptions {
    pub jobs: usize,
    pub attempts: u32,
    pub connect_timeout: Duration,
    pub stall_timeout: Duration,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self { jobs: 4, attempts: 3, connect_timeout: Duration::from_secs(10), stall_timeout: Duration::from_secs(30) }
    }
}

pub struct Fetched {
    pub path: PathBuf,
    pub size: u64,
    pub bytes_downloaded: u64,
    pub offer: Offer,
    pub temporary: bool,
}

pub fn fetch(
    catalog: &Catalog,
    wanted: &[Wanted],
    _download_dir: &Path,
    _options: &FetchOptions,
    _progress: &dyn Progress,
) -> Vec<Result<Fetched>> {
    wanted
        .iter()
        .map(|w| {
            let offer = catalog
                .offers(&w.nevra)
                .iter()
                .find(|o| o.header_sha256.is_none_or(|h| h == w.header_sha256))
                .ok_or_else(|| Error::Package {
                    path: PathBuf::new(),
                    detail: format!("no source offers {}", w.nevra),
                })?;
            let Location::Local(path) = &offer.location else {
                return Err(Error::Package { path: PathBuf::new(), detail: "remote".into() });
            };
            Ok(Fetched {
                path: path.clone(),
                size: offer.size.unwrap_or(0),
                bytes_downloaded: 0,
                offer: offer.clone(),
                temporary: false,
            })
        })
        .collect()
}
