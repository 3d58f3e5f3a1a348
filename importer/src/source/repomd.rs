//! An rpm-md repository as a source: `repodata/repomd.xml` names the primary metadata, which
//! lists every package with its NEVRA, file SHA-256, size and location.
//!
//! What is read, and the bounds on it:
//! - `repodata/repomd.xml`, at most [`MAX_REPOMD_BYTES`]: the first `<data type="primary">`
//!   gives `location href`, `checksum`, `size` and `open-size`/`open-checksum` when present;
//! - the primary file, at most its declared `size` (which must match) and at most
//!   [`MAX_PRIMARY_BYTES`], checked against its `checksum` when that is SHA-256 or SHA-512;
//! - decompressed by magic bytes (gzip, xz, zstd, bzip2, or none), to at most `open-size`
//!   (which must match, as must a SHA-256 `open-checksum`) and at most [`MAX_PRIMARY_BYTES`];
//!   xz with liblzma's memory limit of 100 MiB and zstd with a window of at most 2^27, as rpm;
//! - parsed as a stream of XML events, none larger than [`MAX_EVENT_BYTES`] and nested at
//!   most [`MAX_DEPTH`] deep; for each `<package type="rpm">`: `name`, `arch`,
//!   `version epoch= ver= rel=`, `checksum type=` (the file's digest), `size package=`,
//!   `location href= xml:base=`; at most [`MAX_PACKAGES`] of them.
//!
//! A location is a relative path. One that is absolute, has a scheme or climbs out of the
//! repository with `..` is refused, and so is an `xml:base` that is not an `http(s)://` URL:
//! metadata must not point a client at arbitrary local files. Anything malformed fails the
//! whole source, naming the file and the package.

#![deny(clippy::indexing_slicing)]

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use quick_xml::events::{BytesStart, Event};
use quick_xml::XmlVersion;
use rejig_format::manifest::Nevra;
use rejig_format::FileSha256;
use sha2::{Digest, Sha256, Sha512};

use super::http::{self, Client};
use super::{refused, Loaded, Location, Offer, Problem, RepoLocation, MAX_PRIMARY_BYTES, MAX_REPOMD_BYTES};

/// The largest single XML event (a tag with its attributes, or a run of text).
pub const MAX_EVENT_BYTES: u64 = 16 << 20;
/// The deepest element nesting accepted.
pub const MAX_DEPTH: usize = 64;
/// The most packages one repository may list: Fedora lists about 75,000. Bounds the memory
/// that small `<package>` entries in a full-size primary could otherwise claim.
pub const MAX_PACKAGES: usize = 1_000_000;
/// The longest text kept for one field (a name, an arch, a checksum).
const MAX_FIELD_BYTES: usize = 4096;
/// liblzma's memory limit, as rpm's.
const LZMA_MEMLIMIT: u64 = 100 << 20;
/// zstd's largest window (2^27), as rpm's.
const ZSTD_WINDOW_LOG_MAX: u32 = 27;

/// The offers of the repository at `location`.
pub(super) fn offers(location: &RepoLocation, client: &Client, source: usize) -> Result<Loaded, Problem> {
    let repomd_path = "repodata/repomd.xml";
    let repomd = read_file(location, client, repomd_path, MAX_REPOMD_BYTES)?;
    let primary = parse_repomd(&repomd).map_err(|e| e.within(repomd_path))?;
    let primary_path = relative_path(&primary.href).map_err(|e| e.within("primary location").within(repomd_path))?;
    let mut loaded = Loaded::default();
    let in_primary = |e: Problem| e.within(primary_path.clone());
    let limit = match primary.size {
        Some(size) if size > MAX_PRIMARY_BYTES => {
            return Err(in_primary(refused(format!(
                "{repomd_path} declares {size} bytes, more than the {MAX_PRIMARY_BYTES} allowed"
            ))))
        }
        Some(size) => size,
        None => MAX_PRIMARY_BYTES,
    };
    let compressed = read_file(location, client, &primary_path, limit)?;
    if let Some(size) = primary.size.filter(|&s| s != compressed.len() as u64) {
        return Err(in_primary(refused(format!("{} bytes, but {repomd_path} says {size}", compressed.len()))));
    }
    match &primary.checksum {
        Some(checksum) => {
            if !checksum.verify(&compressed).map_err(in_primary)? {
                loaded
                    .warnings
                    .push(format!("{primary_path}: not verified: {} checksums are not checked", checksum.kind));
            }
        }
        None => loaded.warnings.push(format!("{primary_path}: not verified: {repomd_path} gives no checksum")),
    }
    let packages = parse_primary(&compressed, primary.open_size, primary.open_checksum.as_ref()).map_err(in_primary)?;
    for (number, package) in packages.into_iter().enumerate() {
        let offer = package.offer(location, source).map_err(|e| {
            in_primary(e.within(format!("package #{} ({})", number.saturating_add(1), package.describe())))
        })?;
        loaded.offers.push(offer);
    }
    Ok(loaded)
}

/// Reads a file of the repository, at most `limit` bytes.
fn read_file(location: &RepoLocation, client: &Client, path: &str, limit: u64) -> Result<Vec<u8>, Problem> {
    match location {
        RepoLocation::Local(root) => read_local(&root.join(path), limit).map_err(|e| e.within(path)),
        RepoLocation::Remote(base) => client.get_bounded(&http::join(base, path), limit),
    }
}

fn read_local(path: &Path, limit: u64) -> Result<Vec<u8>, Problem> {
    let file = File::open(path)?;
    let size = file.metadata()?.len();
    if size > limit {
        return Err(refused(format!("{size} bytes, more than the {limit} allowed")));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(refused(format!("grew past the {limit} bytes allowed while being read")));
    }
    Ok(bytes)
}

/// A checksum from repomd.xml.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Checksum {
    /// The algorithm, as repomd.xml names it (`sha256`...).
    kind: String,
    /// The hex digest, lowercased.
    hex: String,
}

impl Checksum {
    /// Ok(true) when checked and matching, Ok(false) when the algorithm is one not checked,
    /// Err on a mismatch.
    fn verify(&self, data: &[u8]) -> Result<bool, Problem> {
        let actual = match self.kind.as_str() {
            "sha256" => hex::encode(Sha256::digest(data)),
            "sha512" => hex::encode(Sha512::digest(data)),
            _ => return Ok(false),
        };
        if actual != self.hex {
            return Err(refused(format!(
                "{} mismatch: repomd.xml says {}, the data hashes to {actual}",
                self.kind, self.hex
            )));
        }
        Ok(true)
    }
}

/// The `<data type="primary">` entry of repomd.xml.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct PrimaryRef {
    href: String,
    checksum: Option<Checksum>,
    size: Option<u64>,
    open_size: Option<u64>,
    open_checksum: Option<Checksum>,
}

/// The XML event reader both files share: bounded events, tracked depth, entities resolved.
struct Xml<R: BufRead> {
    reader: quick_xml::Reader<EventBound<R>>,
    buf: Vec<u8>,
    depth: usize,
}

impl<R: BufRead> Xml<R> {
    fn new(inner: R) -> Self {
        let mut reader = quick_xml::Reader::from_reader(EventBound { inner, consumed: 0 });
        reader.config_mut().expand_empty_elements = true;
        Xml { reader, buf: Vec::new(), depth: 0 }
    }

    /// The next event with the depth of its element: a start or end tag's own depth, the
    /// enclosing element's for anything else.
    fn next(&mut self) -> Result<(usize, Event<'_>), Problem> {
        self.buf.clear();
        let position = self.reader.buffer_position();
        let event = self.reader.read_event_into(&mut self.buf).map_err(|error| Problem::Xml { position, error })?;
        self.reader.get_mut().consumed = 0;
        let depth = match &event {
            Event::Start(_) => {
                self.depth = self.depth.saturating_add(1);
                if self.depth > MAX_DEPTH {
                    return Err(refused(format!("XML nested more than {MAX_DEPTH} deep after byte {position}")));
                }
                self.depth
            }
            Event::End(_) => {
                let depth = self.depth;
                self.depth = depth.saturating_sub(1);
                depth
            }
            _ => self.depth,
        };
        Ok((depth, event))
    }
}

/// Text carried by an event (text, CDATA, or a character or predefined entity reference).
fn text_of<'a>(event: &'a Event<'_>) -> Result<Option<Cow<'a, str>>, Problem> {
    Ok(match event {
        Event::Text(text) => Some(Cow::Borrowed(&**text)),
        Event::CData(text) => Some(Cow::Borrowed(&**text)),
        Event::GeneralRef(reference) => match reference.resolve_char_ref().map_err(|e| refused(e.to_string()))? {
            Some(c) => Some(Cow::Owned(c.to_string())),
            None => Some(Cow::Borrowed(
                quick_xml::escape::resolve_predefined_entity(reference)
                    .ok_or_else(|| refused(format!("unknown XML entity &{};", &**reference)))?,
            )),
        },
        _ => None,
    })
}

/// Appends `piece` to a field, bounded.
fn append(field: &mut String, piece: &str) -> Result<(), Problem> {
    if field.len().saturating_add(piece.len()) > MAX_FIELD_BYTES {
        return Err(refused(format!("a text field longer than {MAX_FIELD_BYTES} bytes")));
    }
    field.push_str(piece);
    Ok(())
}

/// An attribute's value, entities resolved.
fn attribute(element: &BytesStart<'_>, name: &str) -> Result<Option<String>, Problem> {
    for attr in element.attributes() {
        let attr = attr.map_err(|e| refused(format!("<{}>: malformed attribute: {e}", element.name().as_ref())))?;
        if attr.key.as_ref() == name {
            let value = attr
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| refused(format!("<{}> {name}: {e}", element.name().as_ref())))?;
            return Ok(Some(value.into_owned()));
        }
    }
    Ok(None)
}

fn number(text: &str, what: &str) -> Result<u64, Problem> {
    text.trim().parse().map_err(|_| refused(format!("{what} {text:?} is not a number")))
}

fn checksum(element: &BytesStart<'_>) -> Result<Checksum, Problem> {
    let kind =
        attribute(element, "type")?.ok_or_else(|| refused(format!("<{}> without a type", element.name().as_ref())))?;
    Ok(Checksum { kind: kind.to_ascii_lowercase(), hex: String::new() })
}

/// Finds the primary metadata in repomd.xml.
pub(super) fn parse_repomd(bytes: &[u8]) -> Result<PrimaryRef, Problem> {
    let mut xml = Xml::new(bytes);
    let mut primary: Option<PrimaryRef> = None;
    let mut done = false;
    // Inside the primary `<data>`: the child being read, and its text so far.
    let mut field: Option<(String, String)> = None;
    loop {
        let (depth, event) = xml.next()?;
        match &event {
            Event::Eof => break,
            Event::Start(element) if depth == 2 && !done && primary.is_none() => {
                if element.name().as_ref() == "data" && attribute(element, "type")?.as_deref() == Some("primary") {
                    primary = Some(PrimaryRef::default());
                }
            }
            Event::Start(element) if depth == 3 && !done => {
                if let Some(primary) = primary.as_mut() {
                    let name = element.name().as_ref().to_owned();
                    match name.as_str() {
                        "location" => {
                            if attribute(element, "xml:base")?.is_some() {
                                return Err(refused("the primary location has an xml:base, which is not supported"));
                            }
                            primary.href = attribute(element, "href")?.unwrap_or_default();
                        }
                        "checksum" => primary.checksum = Some(checksum(element)?),
                        "open-checksum" => primary.open_checksum = Some(checksum(element)?),
                        _ => {}
                    }
                    field = Some((name, String::new()));
                }
            }
            Event::End(_) if depth == 3 => {
                if let (Some(primary), Some((name, text))) = (primary.as_mut(), field.take()) {
                    let text = text.trim();
                    match name.as_str() {
                        "checksum" => set_hex(primary.checksum.as_mut(), text),
                        "open-checksum" => set_hex(primary.open_checksum.as_mut(), text),
                        "size" => primary.size = Some(number(text, "<size>")?),
                        "open-size" => primary.open_size = Some(number(text, "<open-size>")?),
                        _ => {}
                    }
                }
            }
            Event::End(_) if depth == 2 && primary.is_some() => done = true,
            _ => {
                if let (Some((_, text)), Some(piece)) = (field.as_mut(), text_of(&event)?) {
                    append(text, &piece)?;
                }
            }
        }
    }
    let primary = primary.ok_or_else(|| refused("no <data type=\"primary\"> entry"))?;
    if primary.href.is_empty() {
        return Err(refused("the primary entry has no <location href>"));
    }
    Ok(primary)
}

fn set_hex(checksum: Option<&mut Checksum>, text: &str) {
    if let Some(checksum) = checksum {
        checksum.hex = text.to_ascii_lowercase();
    }
}

/// One `<package>` of primary metadata, as read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct PrimaryPackage {
    name: String,
    arch: String,
    epoch: Option<String>,
    version: Option<String>,
    release: Option<String>,
    checksum: Option<Checksum>,
    href: Option<String>,
    base: Option<String>,
    size: Option<String>,
    /// `rejig-` provides (`<rpm:provides><rpm:entry name=…>`), at most MAX_REJIG_PROVIDES.
    provides: Vec<String>,
}

impl PrimaryPackage {
    /// How to name it in an error, however incomplete it is (control characters escaped).
    fn describe(&self) -> String {
        format!(
            "{}-{}-{}.{}",
            self.name.escape_debug(),
            self.version.as_deref().unwrap_or("?").escape_debug(),
            self.release.as_deref().unwrap_or("?").escape_debug(),
            self.arch.escape_debug()
        )
    }

    /// The offer this entry makes, its location resolved against the repository.
    fn offer(&self, repo: &RepoLocation, source: usize) -> Result<Offer, Problem> {
        if self.name.trim().is_empty() || self.arch.trim().is_empty() {
            return Err(refused("no <name> or no <arch>"));
        }
        let epoch = match self.epoch.as_deref().map(str::trim) {
            None | Some("") | Some("0") => None,
            Some(epoch) => Some(epoch.parse::<u32>().map_err(|_| refused(format!("epoch {epoch:?} is not a number")))?),
        };
        let nevra = Nevra {
            name: nevra_field(self.name.trim(), "<name>")?,
            epoch,
            version: nevra_field(self.version.as_deref().ok_or_else(|| refused("<version> without ver"))?, "ver")?,
            release: nevra_field(self.release.as_deref().ok_or_else(|| refused("<version> without rel"))?, "rel")?,
            arch: nevra_field(self.arch.trim(), "<arch>")?,
        };
        let file_sha256 = match &self.checksum {
            Some(checksum) if checksum.kind == "sha256" => {
                let mut digest = [0u8; 32];
                hex::decode_to_slice(&checksum.hex, &mut digest)
                    .map_err(|_| refused(format!("checksum {:?} is not a SHA-256", checksum.hex)))?;
                Some(FileSha256::from_bytes(digest))
            }
            _ => None,
        };
        let size = self.size.as_deref().map(|s| number(s, "size package")).transpose()?;
        let href = self.href.as_deref().ok_or_else(|| refused("no <location href>"))?;
        let location = match (&self.base, repo) {
            (Some(base), _) => {
                let scheme = base.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
                if !matches!(scheme.as_deref(), Some("http" | "https")) {
                    return Err(refused(format!("xml:base {base:?} is not an http(s):// URL; refused")));
                }
                Location::Remote(remote_url(&http::base_url(base)?, href)?)
            }
            (None, RepoLocation::Local(root)) => Location::Local(root.join(relative_path(href)?)),
            (None, RepoLocation::Remote(base)) => Location::Remote(remote_url(base, href)?),
        };
        let provides = self.provides.clone();
        Ok(Offer { nevra, location, size, file_sha256, header_sha256: None, source, provides })
    }
}

/// A NEVRA field as rpm writes one: not empty, without whitespace or control characters (XML
/// text may carry both, and a name is printed in messages).
fn nevra_field(value: &str, what: &str) -> Result<String, Problem> {
    if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(refused(format!("{what} {value:?} is empty or holds whitespace or a control character")));
    }
    Ok(value.to_owned())
}

/// Reads the packages of (possibly compressed) primary metadata, checking the decompressed
/// size and digest against repomd.xml's `open-size` and `open-checksum` when given.
pub(super) fn parse_primary(
    compressed: &[u8],
    open_size: Option<u64>,
    open_checksum: Option<&Checksum>,
) -> Result<Vec<PrimaryPackage>, Problem> {
    let limit = match open_size {
        Some(size) if size > MAX_PRIMARY_BYTES => {
            return Err(refused(format!(
                "repomd.xml declares {size} bytes uncompressed, more than the {MAX_PRIMARY_BYTES} allowed"
            )))
        }
        Some(size) => size,
        None => MAX_PRIMARY_BYTES,
    };
    let (compression, decoder) = decompressor(compressed)?;
    let measured = Measured { inner: decoder, sha256: Sha256::new(), total: 0, limit };
    let mut xml = Xml::new(BufReader::with_capacity(256 * 1024, measured));
    let in_data = |e: Problem| e.within(format!("{compression} data"));
    let packages = read_packages(&mut xml).map_err(in_data)?;
    let mut rest = xml.reader.into_inner().inner;
    std::io::copy(&mut rest, &mut std::io::sink()).map_err(|e| in_data(refused(e.to_string())))?;
    let measured = rest.into_inner();
    if let Some(size) = open_size.filter(|&s| s != measured.total) {
        return Err(refused(format!("decompresses to {} bytes, but repomd.xml says {size}", measured.total)));
    }
    if let Some(checksum) = open_checksum.filter(|c| c.kind == "sha256") {
        let actual = hex::encode(measured.sha256.finalize());
        if actual != checksum.hex {
            return Err(refused(format!(
                "open-checksum mismatch: repomd.xml says {}, the data hashes to {actual}",
                checksum.hex
            )));
        }
    }
    Ok(packages)
}

fn read_packages<R: BufRead>(xml: &mut Xml<R>) -> Result<Vec<PrimaryPackage>, Problem> {
    let mut packages = Vec::new();
    // The package being read: its depth, whether it is an rpm, and what is known of it.
    let mut current: Option<(usize, bool, PrimaryPackage)> = None;
    let mut field: Option<String> = None;
    let mut text = String::new();
    let mut in_provides = false;
    loop {
        let (depth, event) = xml.next()?;
        match (&event, current.as_mut()) {
            (Event::Eof, _) => break,
            (Event::Start(element), None) if element.name().as_ref() == "package" => {
                let rpm = attribute(element, "type")?.as_deref() == Some("rpm");
                current = Some((depth, rpm, PrimaryPackage::default()));
            }
            (Event::Start(element), Some((package_depth, _, package))) if depth == package_depth.saturating_add(1) => {
                let name = element.name().as_ref().to_owned();
                match name.as_str() {
                    "version" => {
                        package.epoch = attribute(element, "epoch")?;
                        package.version = attribute(element, "ver")?;
                        package.release = attribute(element, "rel")?;
                    }
                    "checksum" => package.checksum = Some(checksum(element)?),
                    "location" => {
                        package.href = attribute(element, "href")?;
                        package.base = attribute(element, "xml:base")?;
                    }
                    "size" => package.size = attribute(element, "package")?,
                    _ => {}
                }
                text.clear();
                field = Some(name);
            }
            (Event::Empty(element) | Event::Start(element), Some((package_depth, _, package)))
                if depth == package_depth.saturating_add(3) && element.name().as_ref() == "rpm:entry" =>
            {
                // Only <format><rpm:provides> entries; only the rejig- ones are kept.
                if in_provides {
                    if let Some(name) = attribute(element, "name")?.filter(|n| n.starts_with("rejig-")) {
                        if package.provides.len() >= super::MAX_REJIG_PROVIDES {
                            return Err(refused(format!(
                                "{}: more than {} rejig- provides",
                                package.describe(),
                                super::MAX_REJIG_PROVIDES
                            )));
                        }
                        package.provides.push(name);
                    }
                }
            }
            (Event::Start(element), Some((package_depth, _, _))) if depth == package_depth.saturating_add(2) => {
                in_provides = element.name().as_ref() == "rpm:provides";
            }
            (Event::End(_), Some((package_depth, _, _))) if depth == package_depth.saturating_add(2) => {
                in_provides = false;
            }
            (Event::End(_), Some((package_depth, _, package))) if depth == package_depth.saturating_add(1) => {
                match field.take().as_deref() {
                    Some("name") => package.name = text.trim().to_owned(),
                    Some("arch") => package.arch = text.trim().to_owned(),
                    Some("checksum") => set_hex(package.checksum.as_mut(), text.trim()),
                    _ => {}
                }
            }
            (Event::End(_), Some((package_depth, rpm, package))) if depth == *package_depth => {
                if *rpm {
                    if packages.len() >= MAX_PACKAGES {
                        return Err(refused(format!("more than {MAX_PACKAGES} packages")));
                    }
                    packages.push(std::mem::take(package));
                }
                current = None;
            }
            _ => {
                if let (Some(_), Some(piece)) = (&field, text_of(&event)?) {
                    append(&mut text, &piece)?;
                }
            }
        }
    }
    if current.is_some() {
        return Err(refused("the metadata ends inside a <package>"));
    }
    Ok(packages)
}

/// A decompressor chosen by the data's first bytes; data that starts with none of the magic
/// numbers is taken as plain XML.
fn decompressor(data: &[u8]) -> Result<(&'static str, Box<dyn Read + '_>), Problem> {
    Ok(match data {
        [0x1f, 0x8b, ..] => ("gzip", Box::new(flate2::bufread::MultiGzDecoder::new(data))),
        [0xfd, b'7', b'z', b'X', b'Z', 0x00, ..] => {
            let stream = liblzma::stream::Stream::new_stream_decoder(LZMA_MEMLIMIT, liblzma::stream::CONCATENATED)
                .map_err(|e| refused(format!("xz decoder: {e}")))?;
            ("xz", Box::new(liblzma::bufread::XzDecoder::new_stream(data, stream)))
        }
        [0x28, 0xb5, 0x2f, 0xfd, ..] => {
            let mut decoder =
                zstd::stream::read::Decoder::with_buffer(data).map_err(|e| refused(format!("zstd decoder: {e}")))?;
            decoder.window_log_max(ZSTD_WINDOW_LOG_MAX).map_err(|e| refused(format!("zstd decoder: {e}")))?;
            ("zstd", Box::new(decoder))
        }
        [b'B', b'Z', b'h', ..] => ("bzip2", Box::new(bzip2::bufread::MultiBzDecoder::new(data))),
        _ => ("uncompressed", Box::new(data)),
    })
}

/// Counts and hashes decompressed bytes, failing past `limit`: the decompression-bomb bound.
struct Measured<R> {
    inner: R,
    sha256: Sha256,
    total: u64,
    limit: u64,
}

impl<R: Read> Read for Measured<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let read = buf.get(..n).unwrap_or_default();
        self.total = self.total.saturating_add(n as u64);
        if self.total > self.limit {
            return Err(std::io::Error::other(format!(
                "decompresses to more than {} bytes (repomd.xml's open-size, or the limit); a decompression bomb?",
                self.limit
            )));
        }
        self.sha256.update(read);
        Ok(n)
    }
}

/// Fails once more than [`MAX_EVENT_BYTES`] are consumed without `consumed` being reset:
/// quick-xml buffers a whole event, so this bounds its buffer.
struct EventBound<R> {
    inner: R,
    consumed: u64,
}

impl<R: BufRead> Read for EventBound<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        if let (Some(to), Some(from)) = (buf.get_mut(..n), available.get(..n)) {
            to.copy_from_slice(from);
        }
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for EventBound<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.consumed > MAX_EVENT_BYTES {
            return Err(std::io::Error::other(format!("an XML tag or text longer than {MAX_EVENT_BYTES} bytes")));
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.consumed = self.consumed.saturating_add(amount as u64);
        self.inner.consume(amount);
    }
}

/// A location as a normalised relative path inside its base: `/`-separated, `.` and empty
/// segments dropped. Refused when absolute, when it has a scheme, a backslash or a control
/// character, or when `..` climbs out of the base.
pub(super) fn relative_path(href: &str) -> Result<String, Problem> {
    if href.starts_with('/') || href.contains("://") {
        return Err(refused(format!("location {href:?} is not a relative path; refused")));
    }
    if href.chars().any(|c| c == '\\' || c.is_control()) {
        return Err(refused(format!("location {href:?} holds a backslash or a control character; refused")));
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in href.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if segments.pop().is_none() {
                    return Err(refused(format!("location {href:?} escapes the repository; refused")));
                }
            }
            _ => segments.push(segment),
        }
    }
    if segments.is_empty() {
        return Err(refused(format!("location {href:?} names no file")));
    }
    Ok(segments.join("/"))
}

/// A remote location: `href` (relative, `..` allowed as far up as the base URL's own root)
/// joined onto `base` (as [`http::base_url`] makes it).
fn remote_url(base: &str, href: &str) -> Result<String, Problem> {
    let (scheme, rest) = base.split_once("://").ok_or_else(|| refused(format!("{base:?} is not a URL")))?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let combined = format!("{path}{href}");
    let path = relative_path(&combined)
        .map_err(|_| refused(format!("location {href:?} climbs above the root of {scheme}://{host}/; refused")))?;
    Ok(http::join(&format!("{scheme}://{host}/"), &path))
}

/// The parsers as the fuzz targets drive them ([`crate::fuzzing`]), which cannot name this
/// module: what [`offers`] makes of repomd.xml and of primary metadata, with no file read.
impl crate::fuzzing::RpmMd {
    /// repomd.xml's primary entry as [`offers`] takes it: the primary's normalised path inside
    /// the repository, its declared `size` and `open-size`.
    pub(crate) fn primary_entry(repomd: &[u8]) -> Result<(String, Option<u64>, Option<u64>), Problem> {
        let primary = parse_repomd(repomd)?;
        Ok((relative_path(&primary.href)?, primary.size, primary.open_size))
    }

    /// Primary metadata (compressed or not; no declared size or checksum to match) as
    /// [`offers`] reads it: for each package, its offer under each of `repos`, or why not.
    pub(crate) fn package_offers(
        primary: &[u8],
        repos: &[&RepoLocation],
    ) -> Result<Vec<Vec<Result<Offer, Problem>>>, Problem> {
        let packages = parse_primary(primary, None, None)?;
        Ok(packages.iter().map(|package| repos.iter().map(|repo| package.offer(repo, 0)).collect()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rejig_format::chain;

    #[test]
    fn relative_paths() {
        assert_eq!(relative_path("Packages/a/./b.rpm").unwrap(), "Packages/a/b.rpm");
        assert_eq!(relative_path("x/../b.rpm").unwrap(), "b.rpm");
        assert!(relative_path("../b.rpm").is_err());
        assert!(relative_path("x/../../b.rpm").is_err());
        assert!(relative_path("/etc/passwd").is_err());
        assert!(relative_path("file:///etc/passwd").is_err());
        assert!(relative_path("a\\..\\b").is_err());
        assert!(relative_path("a/\n").is_err());
        assert!(relative_path("./").is_err());
    }

    #[test]
    fn remote_urls() {
        assert_eq!(remote_url("http://h/r/os/", "../p/a.rpm").unwrap(), "http://h/r/p/a.rpm");
        assert_eq!(remote_url("http://h/r/", "a b.rpm").unwrap(), "http://h/r/a%20b.rpm");
        assert!(remote_url("http://h/r/", "../../a.rpm").is_err());
    }

    const REPOMD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>1</revision>
  <data type="filelists"><location href="repodata/filelists.xml.gz"/></data>
  <data type="primary">
    <checksum type="sha256">ABCD</checksum>
    <open-checksum type="sha256">ef01</open-checksum>
    <location href="repodata/primary.xml.gz"/>
    <size>123</size>
    <open-size>456</open-size>
  </data>
</repomd>"#;

    #[test]
    fn repomd_primary_entry() {
        let primary = parse_repomd(REPOMD.as_bytes()).unwrap();
        assert_eq!(primary.href, "repodata/primary.xml.gz");
        assert_eq!(primary.checksum, Some(Checksum { kind: "sha256".into(), hex: "abcd".into() }));
        assert_eq!(primary.open_checksum, Some(Checksum { kind: "sha256".into(), hex: "ef01".into() }));
        assert_eq!((primary.size, primary.open_size), (Some(123), Some(456)));
        assert!(parse_repomd(b"<repomd><data type=\"other\"/></repomd>").is_err());
        assert!(parse_repomd(b"<repomd><data type=\"primary\"><size>x</size></data></repomd>").is_err());
        assert!(parse_repomd(b"<repomd><data").is_err());
        assert!(parse_repomd(b"").is_err());
    }

    const PRIMARY: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="2">
<package type="rpm">
  <name>a&amp;b</name>
  <arch>x86_64</arch>
  <version epoch="3" ver="1.0" rel="2"/>
  <checksum type="sha256" pkgid="YES">00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff</checksum>
  <size package="1234" installed="1" archive="2"/>
  <location href="Packages/a.rpm"/>
  <format><rpm:provides><rpm:entry name="other" ver="9" rel="9"/><rpm:entry name="rejig-jigdo(1)"/><rpm:entry name="rejig-commit(ab)"/></rpm:provides><rpm:requires><rpm:entry name="rejig-not-provided"/></rpm:requires></format>
</package>
<package type="rpm">
  <name>b</name><arch>noarch</arch><version epoch="0" ver="1" rel="1"/>
  <checksum type="sha1" pkgid="YES">00</checksum>
  <location xml:base="http://mirror.example/base" href="b.rpm"/>
</package>
<package type="other"><name>ignored</name></package>
</metadata>"#;

    #[test]
    fn primary_packages() {
        let packages = parse_primary(PRIMARY.as_bytes(), None, None).unwrap();
        assert_eq!(packages.len(), 2);
        let root = RepoLocation::Local("/repo".into());
        let a = packages[0].offer(&root, 7).unwrap();
        assert_eq!(a.nevra.to_string(), "a&b-3:1.0-2.x86_64");
        assert_eq!(a.location, Location::Local("/repo/Packages/a.rpm".into()));
        assert_eq!(a.size, Some(1234));
        assert_eq!(a.file_sha256.map(|d| d.to_hex()).unwrap(), &PRIMARY[PRIMARY.find("0011").unwrap()..][..64]);
        assert_eq!(a.source, 7);
        assert_eq!(a.provides, ["rejig-jigdo(1)", "rejig-commit(ab)"], "only rejig- provides, not requires");
        let b = packages[1].offer(&root, 0).unwrap();
        assert_eq!(b.nevra.to_string(), "b-1-1.noarch");
        assert_eq!(b.location, Location::Remote("http://mirror.example/base/b.rpm".into()));
        assert_eq!(b.file_sha256, None);
    }

    #[test]
    fn primary_bounds() {
        let len = PRIMARY.len() as u64;
        assert!(parse_primary(PRIMARY.as_bytes(), Some(len), None).is_ok());
        assert!(parse_primary(PRIMARY.as_bytes(), Some(len - 1), None)
            .map_err(|e| chain(&e))
            .unwrap_err()
            .contains("bomb"));
        assert!(parse_primary(PRIMARY.as_bytes(), Some(len + 1), None).is_err());
        assert!(parse_primary(PRIMARY.as_bytes(), Some(MAX_PRIMARY_BYTES + 1), None).is_err());
        let wrong = Checksum { kind: "sha256".into(), hex: "00".into() };
        assert!(parse_primary(PRIMARY.as_bytes(), None, Some(&wrong))
            .map_err(|e| chain(&e))
            .unwrap_err()
            .contains("open-checksum"));
        let deep = "<a>".repeat(MAX_DEPTH + 1);
        assert!(parse_primary(deep.as_bytes(), None, None).map_err(|e| chain(&e)).unwrap_err().contains("nested"));
        let unterminated = "<metadata><package type=\"rpm\"><name>x</name>";
        assert!(parse_primary(unterminated.as_bytes(), None, None).is_err());
    }

    #[test]
    fn malformed_nevras_are_refused() {
        let root = RepoLocation::Local("/repo".into());
        let with = |from: &str, to: &str| {
            let xml = PRIMARY.replace(from, to);
            parse_primary(xml.as_bytes(), None, None).unwrap()[0].offer(&root, 0)
        };
        assert!(with("a&amp;b", "a\u{1b}[2Jb").map_err(|e| chain(&e)).unwrap_err().contains("control"));
        assert!(with("a&amp;b", "a b").map_err(|e| chain(&e)).unwrap_err().contains("whitespace"));
        assert!(with("x86_64", "x86&#9;64").is_err());
        assert!(with(r#"ver="1.0""#, r#"ver="""#).map_err(|e| chain(&e)).unwrap_err().contains("ver"));
        assert!(with(r#"rel="2""#, r#"rel="2&#10;""#).map_err(|e| chain(&e)).unwrap_err().contains("rel"));
        assert!(with("a&amp;b", " a&amp;b\n").is_ok(), "text around a name is trimmed, as before");
    }

    #[test]
    fn hostile_locations_are_refused() {
        let root = RepoLocation::Local("/repo".into());
        let with = |location: &str| {
            let xml = PRIMARY.replace(r#"<location href="Packages/a.rpm"/>"#, location);
            parse_primary(xml.as_bytes(), None, None).unwrap()[0].offer(&root, 0)
        };
        assert!(with(r#"<location href="../../etc/passwd"/>"#).map_err(|e| chain(&e)).unwrap_err().contains("escapes"));
        assert!(with(r#"<location href="/etc/passwd"/>"#).is_err());
        assert!(with(r#"<location xml:base="file:///etc" href="passwd"/>"#).is_err());
        assert!(with(r#"<location xml:base="/etc" href="passwd"/>"#).is_err());
        assert!(with("").map_err(|e| chain(&e)).unwrap_err().contains("location"));
    }
}
