//! Package sources: where a jigdo client finds the RPM packages a jigdo names, by NEVRA
//! (DESIGN.md "Package sources").
//!
//! A source is a directory of RPMs searched recursively ([`directory`]), or an rpm-md
//! repository ([`repomd`]) reached as a path, a `file://` URL or an `http(s)://` URL
//! ([`http`]). [`Catalog::load`] reads every source once into offers indexed by NEVRA;
//! [`fetch`] turns offers into package files, trying sources in order like mirrors.
//!
//! What always holds:
//! - a catalog keeps the sources' order: `offers()` lists source 0's offers first;
//! - every source input is hostile: repomd.xml is read up to [`MAX_REPOMD_BYTES`], primary
//!   metadata up to its declared sizes and [`MAX_PRIMARY_BYTES`], and a location that leaves a
//!   local repository is refused ([`repomd`]);
//! - nothing from a source is trusted: an offer's digests only rule it out. A downloaded file
//!   is checked against the SHA-256 the caller wants (or the repodata's), and a local file is
//!   handed back in place for the caller's import to verify, which reads it anyway.

mod directory;
mod fetch;
mod http;
mod pipeline;
mod repomd;
mod url;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rejig_format::manifest::Nevra;
use rejig_format::{FileSha256, HeaderSha256, PackageBinding};
use rejig_store::Progress;

use crate::error::{Error, Result};

pub use fetch::{fetch, fetch_each};
pub use pipeline::{fetch_and_work, Deliver};
pub use url::fetch_url;

/// Why a source, one of its files, one of its packages or one offer cannot be used. The
/// message names the file and, for a package, the package; the cause follows it in the chain,
/// and [`rejig_format::chain`] makes the whole of it the detail of an [`Error::Source`] or
/// [`Error::Fetch`], or a warning.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Problem {
    /// What rejig refuses or found inconsistent: a bound, a mismatch, a malformed value.
    #[error("{0}")]
    Refused(String),
    /// A remote file that could not be fetched; the message names the URL and the tries.
    #[error("{0}")]
    Remote(String),
    /// A local file that cannot be read.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The importer or the store failed (listing a directory, reading a package's NEVRA,
    /// syncing a download).
    #[error(transparent)]
    Importer(Box<Error>),
    /// XML that does not parse. quick-xml's error is printed here rather than chained, since
    /// its message already repeats its own cause.
    #[error("malformed XML after byte {position}: {error}")]
    Xml {
        /// Where the event that failed starts.
        position: u64,
        /// What quick-xml reported.
        error: quick_xml::Error,
    },
    /// A failure inside a named part: a file, a package entry, the decompressed data.
    #[error("{context}")]
    In {
        /// The part.
        context: String,
        /// What is wrong inside it.
        #[source]
        error: Box<Problem>,
    },
}

impl Problem {
    /// This failure, as inside `context`.
    pub(crate) fn within(self, context: impl Into<String>) -> Self {
        Problem::In { context: context.into(), error: Box::new(self) }
    }
}

/// A refusal with its message.
pub(crate) fn refused(message: impl Into<String>) -> Problem {
    Problem::Refused(message.into())
}

/// The largest repomd.xml read. Real ones are a few KiB; this bounds a hostile one.
pub const MAX_REPOMD_BYTES: u64 = 16 << 20;
/// The largest primary metadata read, compressed or not, whatever repomd.xml declares.
/// Fedora's whole primary is about 100 MiB uncompressed.
pub const MAX_PRIMARY_BYTES: u64 = 1 << 30;

/// Where packages come from. Several sources are tried in order, like mirrors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PackageSource {
    /// A directory of `.rpm` files, searched recursively (or a single `.rpm` file). Only
    /// package headers are read to learn what it offers.
    Directory(PathBuf),
    /// An rpm-md repository (`repodata/repomd.xml`).
    Repository(RepoLocation),
}

/// Where an rpm-md repository is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RepoLocation {
    /// A local directory holding `repodata/` (given as a path or a `file://` URL).
    Local(PathBuf),
    /// An `http://` or `https://` base URL, always ending in `/` so that hrefs join onto it.
    Remote(String),
}

impl PackageSource {
    /// Reads a source as the user gives it: an `http(s)://` URL (always a repository), a
    /// `file://` URL or a path. A local directory holding `repodata/repomd.xml` is a
    /// repository; any other directory (or a single `.rpm` file) is searched for packages. A
    /// local source must exist, so that a typo fails here rather than as a missing package.
    pub fn parse(spec: &str) -> Result<Self> {
        let error = |detail: String| Error::Source { origin: spec.to_owned(), detail };
        let scheme = spec.split_once("://").map(|(scheme, _)| scheme.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("http" | "https") => Ok(PackageSource::Repository(RepoLocation::Remote(
                http::base_url(spec).map_err(|e| error(rejig_format::chain(&e)))?,
            ))),
            Some("file") => Self::local(&file_url_path(spec).map_err(|e| error(rejig_format::chain(&e)))?),
            Some(other) => Err(error(format!(
                "unsupported URL scheme {other:?}: give a path, or a file://, http:// or https:// URL"
            ))),
            None => Self::local(Path::new(spec)),
        }
    }

    fn local(path: &Path) -> Result<Self> {
        let error = |detail: String| Error::Source { origin: path.display().to_string(), detail };
        let meta = std::fs::metadata(path).map_err(|e| {
            error(format!("{e} (give a directory of RPMs, an rpm-md repository, or an http(s):// URL)"))
        })?;
        if meta.is_dir() && path.join("repodata/repomd.xml").is_file() {
            Ok(PackageSource::Repository(RepoLocation::Local(path.to_path_buf())))
        } else if meta.is_dir() || meta.is_file() {
            Ok(PackageSource::Directory(path.to_path_buf()))
        } else {
            Err(error("neither a directory nor a file".to_owned()))
        }
    }
}

impl fmt::Display for PackageSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PackageSource::Directory(path) => write!(f, "directory {}", path.display()),
            PackageSource::Repository(RepoLocation::Local(path)) => write!(f, "repository {}", path.display()),
            PackageSource::Repository(RepoLocation::Remote(url)) => write!(f, "repository {url}"),
        }
    }
}

/// The local path of a `file://` URL: `file:///abs` or `file://localhost/abs`, with `%XX`
/// escapes decoded.
fn file_url_path(url: &str) -> std::result::Result<PathBuf, Problem> {
    use std::os::unix::ffi::OsStringExt;
    let rest = url.get("file://".len()..).unwrap_or_default();
    let path = match rest.strip_prefix("localhost") {
        Some(path) if path.starts_with('/') => path,
        _ if rest.starts_with('/') => rest,
        _ => return Err(refused("a file:// URL must name an absolute local path (file:///path)")),
    };
    if path.contains(['?', '#']) {
        return Err(refused("a file:// URL with a query or fragment is not supported"));
    }
    let bytes = percent_decode(path).ok_or_else(|| refused("malformed %-escape in the URL"))?;
    Ok(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
}

/// Decodes `%XX` escapes; `None` when one is malformed.
fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = char::from(bytes.next()?).to_digit(16)?;
            let lo = char::from(bytes.next()?).to_digit(16)?;
            out.push(u8::try_from(hi * 16 + lo).ok()?);
        } else {
            out.push(b);
        }
    }
    Some(out)
}

/// Opens a package (or jigdo) file for reading, refusing what is not a regular file without
/// blocking on it: a FIFO opened for reading waits for a writer forever, and opening a device
/// can have effects of its own. The path is `stat`ed first (following symlinks), opened with
/// `O_NONBLOCK` (so that a FIFO swapped in meanwhile cannot block the open), and the open file
/// is checked again with `fstat`; `O_NONBLOCK` is then cleared.
pub fn open_regular_file(path: &Path) -> std::io::Result<std::fs::File> {
    use rustix::fs::{fcntl_getfl, fcntl_setfl, fstat, open, FileType, Mode, OFlags};
    let check = |kind: FileType| {
        if kind == FileType::RegularFile {
            return Ok(());
        }
        let what = match kind {
            FileType::Fifo => "a FIFO",
            FileType::Socket => "a socket",
            FileType::CharacterDevice => "a character device",
            FileType::BlockDevice => "a block device",
            FileType::Directory => "a directory",
            _ => "not a file",
        };
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("not a regular file ({what}); packages are read only from regular files"),
        ))
    };
    check(FileType::from_raw_mode(rustix::fs::stat(path)?.st_mode))?;
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
    let fd = open(path, flags, Mode::empty())?;
    check(FileType::from_raw_mode(fstat(&fd)?.st_mode))?;
    fcntl_setfl(&fd, fcntl_getfl(&fd)? - OFlags::NONBLOCK)?;
    Ok(std::fs::File::from(fd))
}

/// Where one package file is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A file on this machine: used in place, never copied.
    Local(PathBuf),
    /// An `http(s)://` URL: downloaded.
    Remote(String),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Local(path) => write!(f, "{}", path.display()),
            Location::Remote(url) => f.write_str(url),
        }
    }
}

/// One source's claim that it has a package. Every field comes from the source and is
/// untrusted: the digests serve to rule an offer out, never to accept a file.
#[derive(Clone, Debug)]
pub struct Offer {
    /// The package, as the source names it. rpm-md cannot tell "no epoch" from epoch 0, so a
    /// repository's offers have no epoch where the package says 0.
    pub nevra: Nevra,
    /// Where the file is.
    pub location: Location,
    /// The file's size, when the source says (a directory's file size, repodata's `size package`).
    pub size: Option<u64>,
    /// SHA-256 of the whole file, when repodata gives it (`checksum type="sha256" pkgid="YES"`).
    pub file_sha256: Option<FileSha256>,
    /// SHA-256 of the main header, when the header was read (directory sources).
    pub header_sha256: Option<HeaderSha256>,
    /// Index of the source in the list given to [`Catalog::load`].
    pub source: usize,
    /// The package's provides whose names start with `rejig-` (`rejig-jigdo(2)`,
    /// `rejig-commit(…)`), as rpm-md lists them; at most [`MAX_REJIG_PROVIDES`]. Empty for
    /// directory sources.
    pub provides: Vec<String>,
}

/// The most `rejig-` provides kept per package.
pub const MAX_REJIG_PROVIDES: usize = 16;

/// Every offer of every source, indexed by NEVRA, in source order.
#[derive(Debug, Default)]
pub struct Catalog {
    sources: Vec<PackageSource>,
    offers: HashMap<Nevra, Vec<Offer>>,
    warnings: Vec<String>,
}

impl Catalog {
    /// Reads every source's offers: a directory's package headers (in parallel), a
    /// repository's repomd.xml and primary metadata. A source that fails to load is recorded
    /// in [`Catalog::warnings`] and skipped, as a dead mirror should be; the load fails only
    /// when sources were given and none of them loaded. One progress unit per source.
    pub fn load(sources: &[PackageSource], options: &FetchOptions, progress: &dyn Progress) -> Result<Self> {
        let client = http::Client::new(options);
        let mut catalog = Catalog { sources: sources.to_vec(), ..Catalog::default() };
        let mut failures = Vec::new();
        progress.start("reading package sources", sources.len() as u64);
        for (index, source) in sources.iter().enumerate() {
            let loaded = match source {
                PackageSource::Directory(path) => directory::offers(path, index),
                PackageSource::Repository(location) => repomd::offers(location, &client, index),
            };
            match loaded {
                Ok(loaded) => {
                    catalog.warnings.extend(loaded.warnings.into_iter().map(|w| format!("{source}: {w}")));
                    for offer in loaded.offers {
                        catalog.offers.entry(key(&offer.nevra)).or_default().push(offer);
                    }
                }
                Err(problem) => {
                    let error = Error::Source { origin: source.to_string(), detail: rejig_format::chain(&problem) };
                    catalog.warnings.push(format!("{error} (source skipped)"));
                    failures.push(error.to_string());
                }
            }
            progress.advance(1);
        }
        progress.finish();
        if !sources.is_empty() && failures.len() == sources.len() {
            return Err(Error::Source {
                origin: sources.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                detail: format!("no package source could be read: {}", failures.join("; ")),
            });
        }
        Ok(catalog)
    }

    /// The offers of a package, in source order; empty when no source has it. Epoch 0 and
    /// no epoch are the same package, as in rpm.
    pub fn offers(&self, nevra: &Nevra) -> &[Offer] {
        let found = if nevra.epoch == Some(0) { self.offers.get(&key(nevra)) } else { self.offers.get(nevra) };
        found.map(Vec::as_slice).unwrap_or_default()
    }

    /// Every offer of every package (unordered; [`Offer::source`] gives the order).
    pub fn all(&self) -> impl Iterator<Item = &Offer> {
        self.offers.values().flatten()
    }

    /// How many distinct packages (NEVRAs) the sources offer.
    pub fn len(&self) -> usize {
        self.offers.len()
    }

    /// True when no source offers any package.
    pub fn is_empty(&self) -> bool {
        self.offers.is_empty()
    }

    /// The source an offer came from ([`Offer::source`]).
    pub fn source(&self, index: usize) -> Option<&PackageSource> {
        self.sources.get(index)
    }

    /// What went wrong without stopping the load: sources skipped (unreachable mirrors,
    /// broken metadata) and files a directory holds that are not readable packages. For the
    /// caller to show; the library never prints.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

impl Catalog {
    /// Offers of files expected under known names beside `url`, in the directory its last
    /// path segment is in: what `build --output-dir` writes beside a jigdo (its parts, by
    /// contents digest) and what a publisher puts there (packages under
    /// `<name>-<version>-<release>.<arch>.rpm`). Each entry is (binding, file name, size when
    /// known). Nothing is fetched here; a fetch verifies each file against the binding's
    /// SHA-256, and an absent file fails like any dead mirror, for the caller to try its
    /// sources next.
    pub fn beside(url: &str, files: &[(PackageBinding, String, Option<u64>)]) -> Result<Self> {
        let dir = url.rsplit_once('/').map(|(dir, _)| dir).unwrap_or(url);
        let base = http::base_url(dir)
            .map_err(|e| Error::Source { origin: url.to_owned(), detail: rejig_format::chain(&e) })?;
        let mut catalog = Catalog {
            sources: vec![PackageSource::Repository(RepoLocation::Remote(base.clone()))],
            ..Catalog::default()
        };
        for (binding, name, size) in files {
            let offer = Offer {
                nevra: binding.nevra.clone(),
                location: Location::Remote(http::join(&base, name)),
                size: *size,
                file_sha256: binding.file,
                header_sha256: None,
                source: 0,
                provides: Vec::new(),
            };
            catalog.offers.entry(key(&offer.nevra)).or_default().push(offer);
        }
        Ok(catalog)
    }

    /// This catalog without the offers of source `index` (its warnings stay): one load serves
    /// two lists of sources that differ by that one.
    pub fn without_source(&self, index: usize) -> Self {
        let mut offers: HashMap<Nevra, Vec<Offer>> = HashMap::new();
        for (nevra, list) in &self.offers {
            let kept: Vec<Offer> = list.iter().filter(|o| o.source != index).cloned().collect();
            if !kept.is_empty() {
                offers.insert(nevra.clone(), kept);
            }
        }
        Catalog { sources: self.sources.clone(), offers, warnings: self.warnings.clone() }
    }
}

/// The catalog's key: epoch 0 is no epoch.
fn key(nevra: &Nevra) -> Nevra {
    let mut key = nevra.clone();
    if key.epoch == Some(0) {
        key.epoch = None;
    }
    key
}

/// What a source yielded.
#[derive(Debug, Default)]
struct Loaded {
    offers: Vec<Offer>,
    /// Problems that cost single packages, not the source.
    warnings: Vec<String>,
}

impl Offer {
    /// Why this offer cannot be `wanted`, judging by what the source says of it: a file
    /// SHA-256 other than the one the jigdo binds, or a header SHA-256 other than the wanted
    /// one. `None` means it may be (what is fetched is checked again anyway). This is the one
    /// rule: `plan` and [`fetch`] both pick offers by it.
    pub fn mismatch(&self, wanted: &PackageBinding) -> Option<String> {
        if let (Some(offered), Some(want)) = (self.file_sha256, wanted.file) {
            if offered != want {
                return Some(format!("the source gives file SHA-256 {offered}, but {want} is wanted"));
            }
        }
        match self.header_sha256 {
            Some(offered) if offered != wanted.header => {
                Some(format!("its header SHA-256 is {offered}, but {} is wanted", wanted.header))
            }
            _ => None,
        }
    }

    /// True when this offer may be `wanted` ([`Offer::mismatch`] finds nothing against it).
    pub fn may_be(&self, wanted: &PackageBinding) -> bool {
        self.mismatch(wanted).is_none()
    }
}

impl Catalog {
    /// The first offer, in source order, that [`Offer::may_be`] `wanted`: the one a fetch
    /// tries first.
    pub fn first_match(&self, wanted: &PackageBinding) -> Option<&Offer> {
        self.offers(&wanted.nevra).iter().find(|offer| offer.may_be(wanted))
    }
}

/// How to reach sources and fetch from them.
#[derive(Clone, Debug)]
pub struct FetchOptions {
    /// Downloads in flight at once.
    pub jobs: usize,
    /// Tries per file and mirror on I/O errors, timeouts and 5xx replies (at least 1).
    pub attempts: u32,
    /// Longest wait for a TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Longest wait for the next byte of a reply: a server silent this long has stalled,
    /// and the attempt fails.
    pub stall_timeout: Duration,
    /// Lowest acceptable average speed of a transfer, in bytes per second, over
    /// `speed_time` (curl's `--speed-limit`); 0 turns the check off. A transfer slower than
    /// this for that long fails at once, without retries on that mirror: the next mirror is
    /// tried, and a later run resumes what was kept.
    pub speed_limit: u64,
    /// How long a transfer may stay below `speed_limit` (curl's `--speed-time`). It also
    /// bounds the wait for a reply's headers.
    pub speed_time: Duration,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            jobs: 4,
            attempts: 3,
            connect_timeout: Duration::from_secs(10),
            stall_timeout: Duration::from_secs(30),
            speed_limit: 1024,
            speed_time: Duration::from_secs(30),
        }
    }
}

/// A package file ready to import.
#[derive(Clone, Debug)]
pub struct Fetched {
    /// The file: a local source's own file, or a download in the download directory.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Bytes transferred by this call (0 for a local file or a download finished earlier).
    pub bytes_downloaded: u64,
    /// The offer that supplied it.
    pub offer: Offer,
    /// True when the file is a download the caller may delete after importing it.
    pub temporary: bool,
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    #[test]
    fn a_problem_prints_its_context_then_its_cause() {
        let missing = || std::io::Error::from(std::io::ErrorKind::NotFound);
        let problem = Problem::from(missing()).within("repodata/primary.xml.gz");
        assert_eq!(problem.to_string(), "repodata/primary.xml.gz");
        assert_eq!(rejig_format::chain(&problem), format!("repodata/primary.xml.gz: {}", missing()));
        let nested = refused("no <name> or no <arch>").within("package #2 (a-1-1.x86_64)").within("primary.xml");
        assert_eq!(rejig_format::chain(&nested), "primary.xml: package #2 (a-1-1.x86_64): no <name> or no <arch>");
    }

    #[test]
    fn file_urls() {
        assert_eq!(file_url_path("file:///srv/repo").unwrap(), PathBuf::from("/srv/repo"));
        assert_eq!(file_url_path("file://localhost/srv/a%20b").unwrap(), PathBuf::from("/srv/a b"));
        assert!(file_url_path("file://host/srv").is_err());
        assert!(file_url_path("file://relative").is_err());
        assert!(file_url_path("file:///srv/%zz").is_err());
        assert!(file_url_path("file:///srv/%4").is_err());
    }

    #[test]
    fn parse_rejects_unknown_schemes_and_missing_paths() {
        assert!(PackageSource::parse("ftp://example.org/repo").is_err());
        assert!(PackageSource::parse("/nonexistent/rejig/source").is_err());
        let remote = PackageSource::parse("HTTPS://example.org/repo").unwrap();
        assert_eq!(remote, PackageSource::Repository(RepoLocation::Remote("https://example.org/repo/".to_owned())));
    }

    #[test]
    fn epoch_zero_is_no_epoch() {
        let nevra =
            |epoch| Nevra { name: "a".into(), epoch, version: "1".into(), release: "1".into(), arch: "noarch".into() };
        let offer = Offer {
            provides: Vec::new(),
            nevra: nevra(None),
            location: Location::Local("/a.rpm".into()),
            size: None,
            file_sha256: None,
            header_sha256: None,
            source: 0,
        };
        let mut catalog = Catalog::default();
        catalog.offers.entry(key(&offer.nevra)).or_default().push(offer);
        assert_eq!(catalog.offers(&nevra(Some(0))).len(), 1);
        assert_eq!(catalog.offers(&nevra(None)).len(), 1);
        assert!(catalog.offers(&nevra(Some(1))).is_empty());
    }

    /// The package the unit tests here and in `fetch` want: `a-2:1-1.x86_64`, header
    /// SHA-256 `abab…`, with or without a file SHA-256.
    pub(super) fn wanted(file: Option<[u8; 32]>) -> PackageBinding {
        PackageBinding {
            nevra: Nevra {
                name: "a".into(),
                epoch: Some(2),
                version: "1".into(),
                release: "1".into(),
                arch: "x86_64".into(),
            },
            header: HeaderSha256::from_bytes([0xab; 32]),
            file: file.map(FileSha256::from_bytes),
        }
    }

    pub(super) fn offer(file: Option<[u8; 32]>, header: Option<[u8; 32]>, source: usize) -> Offer {
        Offer {
            provides: Vec::new(),
            nevra: wanted(None).nevra,
            location: Location::Local(format!("/{source}.rpm").into()),
            size: None,
            file_sha256: file.map(FileSha256::from_bytes),
            header_sha256: header.map(HeaderSha256::from_bytes),
            source,
        }
    }

    #[test]
    fn offers_with_other_digests_are_ruled_out() {
        assert!(offer(Some([2; 32]), None, 0).mismatch(&wanted(Some([1; 32]))).is_some());
        assert!(offer(Some([1; 32]), None, 0).mismatch(&wanted(Some([1; 32]))).is_none());
        assert!(offer(Some([2; 32]), None, 0).mismatch(&wanted(None)).is_none());
        assert!(offer(None, Some([0xcd; 32]), 0).mismatch(&wanted(None)).is_some());
        assert!(offer(None, Some([0xab; 32]), 0).mismatch(&wanted(None)).is_none());
        assert!(offer(Some([1; 32]), Some([0xcd; 32]), 0).mismatch(&wanted(Some([1; 32]))).is_some());
        assert!(offer(Some([1; 32]), Some([0xab; 32]), 0).may_be(&wanted(Some([1; 32]))));
    }

    #[test]
    fn the_first_acceptable_offer_in_source_order_is_chosen() {
        let mut catalog = Catalog::default();
        let offers = vec![offer(Some([2; 32]), None, 0), offer(None, Some([0xcd; 32]), 1), offer(None, None, 2)];
        catalog.offers.insert(key(&wanted(None).nevra), offers);
        assert_eq!(catalog.first_match(&wanted(Some([1; 32]))).map(|o| o.source), Some(2));
        assert_eq!(catalog.first_match(&wanted(None)).map(|o| o.source), Some(0));
        catalog.offers.clear();
        assert!(catalog.first_match(&wanted(None)).is_none());
    }
}
