//! A whole package: lead, signature header, main header, file table, and a single streaming
//! pass over the payload (rpm-format.md §1.7–1.8).
//!
//! What the pass guarantees when it returns Ok:
//! - the main header's SHA-256 matched signature tag 273 (checked at open, when present);
//! - the compressed payload's SHA-256 matched PAYLOADDIGEST (when present);
//! - every non-ghost file of the header appeared exactly once, and no record named a file the
//!   header does not list;
//! - every regular file's content had the header's size and digest, and was handed to the
//!   caller once per hardlink set, with all the set's members;
//! - decompressed output never exceeded what the header's files account for.
//!
//! [`Package::walk_payload_with`] and [`Digests::CoveredByFile`] leave out the two digest
//! checks (payload and per-file) for a caller that checks the SHA-256 of the whole file
//! against a binding it trusts before using anything: that digest covers every byte the two
//! others cover, so hashing again only costs time. The structural checks all stay.

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::path::Path;

use rejig_format::HeaderSha256;
use sha2::{Digest, Sha256};

use super::cpio::{CpioReader, Record, NAME_MAX};
use super::decompress::{decompressor, Compression};
use super::digest::FileDigest;
use super::error::{RpmError, RpmResult};
use super::files::{FileTable, RpmFile, S_IFLNK, S_IFREG};
use super::header::{Header, HeaderKind};
use super::lead::{parse_lead, Lead, LEAD_LEN};
use super::tags::tag;

/// Which of the package's own digests a payload pass checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Digests {
    /// PAYLOADDIGEST and every file digest.
    Check,
    /// Neither: the caller checks the whole file's SHA-256 against a binding before it uses
    /// or records anything the pass delivered (a jigdo's package or part).
    CoveredByFile,
}

/// Whether the header digest was checked against the package's own record of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderDigest {
    /// Signature tag 273 was present and matched.
    Verified,
    /// The package carries no SHA-256 of its header; it was computed.
    Computed,
}

/// A package whose headers are read and validated.
pub struct Package {
    /// The lead.
    pub lead: Lead,
    /// The signature header (not covered by any digest: only digests are taken from it).
    pub signature: Header,
    /// The main header.
    pub main: Header,
    /// The file table.
    pub files: FileTable,
    /// SHA-256 of the main header: the package's identity.
    pub header_sha256: HeaderSha256,
    /// How `header_sha256` was established.
    pub header_digest: HeaderDigest,
    /// Where the payload starts in the file.
    pub payload_offset: u64,
}

/// What the payload pass saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PayloadSummary {
    /// The compressor, by magic bytes.
    pub compression: Option<Compression>,
    /// Compressed payload bytes.
    pub compressed_bytes: u64,
    /// Decompressed archive bytes read.
    pub archive_bytes: u64,
    /// Regular-file contents delivered (hardlink sets once).
    pub contents: u64,
    /// Whether PAYLOADDIGEST was present and matched.
    pub payload_digest_verified: bool,
}

/// Feeds every byte read through it to a SHA-256 (the payload digest, the package file's).
pub(crate) struct HashingReader<'a, R> {
    pub(crate) inner: R,
    pub(crate) hasher: &'a mut Sha256,
}

impl<R: Read> Read for HashingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

/// Stops with an error past `limit` bytes: the decompression-bomb bound.
struct Limited<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left = self.left.checked_sub(n as u64).ok_or_else(|| {
            std::io::Error::other(
                "the payload decompresses to more than the header's files account for (a decompression bomb?)",
            )
        })?;
        Ok(n)
    }
}

/// Strips `./` and then `/`, as rpm does before comparing names.
fn normalize(name: &[u8]) -> &[u8] {
    let name = name.strip_prefix(b"./").unwrap_or(name);
    name.strip_prefix(b"/").unwrap_or(name)
}

fn io(what: &'static str) -> impl Fn(std::io::Error) -> RpmError {
    move |e| RpmError::new(what, e.to_string())
}

impl Package {
    /// Reads and validates the lead and headers from `reader`, which must be at the start of
    /// the package. Leaves `reader` at the payload.
    pub fn read_headers(reader: &mut dyn Read) -> RpmResult<Self> {
        let mut lead = [0u8; LEAD_LEN];
        reader.read_exact(&mut lead).map_err(|e| RpmError::new("lead", format!("truncated: {e}")))?;
        let lead = parse_lead(&lead)?;
        let signature = Header::read(reader, HeaderKind::Signature)?;
        let pad = (8 - signature.raw().len() % 8) % 8;
        let mut padding = [0u8; 8];
        reader
            .read_exact(padding.get_mut(..pad).unwrap_or_default())
            .map_err(|e| RpmError::new("signature header", format!("truncated padding: {e}")))?;
        let main = Header::read(reader, HeaderKind::Main)?;
        let header_sha256 = HeaderSha256::from_bytes(Sha256::digest(main.raw()).into());
        let header_digest = match signature.string(tag::SIG_SHA256)? {
            Some(expected) if expected.eq_ignore_ascii_case(header_sha256.to_hex().as_bytes()) => {
                HeaderDigest::Verified
            }
            Some(expected) => {
                return Err(RpmError::new(
                    "main header",
                    format!(
                        "SHA-256 mismatch: the package records {}, the header hashes to {}",
                        String::from_utf8_lossy(expected),
                        header_sha256.to_hex()
                    ),
                ))
            }
            None => HeaderDigest::Computed,
        };
        let files = FileTable::from_header(&main)?;
        let payload_offset = (LEAD_LEN + signature.raw().len() + pad + main.raw().len()) as u64;
        Ok(Self { lead, signature, main, files, header_sha256, header_digest, payload_offset })
    }

    /// Opens a package file and reads its headers.
    pub fn open(path: &Path) -> RpmResult<Self> {
        let file = crate::source::open_regular_file(path).map_err(io("package"))?;
        Self::read_headers(&mut BufReader::new(file))
    }

    /// A text tag as UTF-8 (lossy for old Latin-1 packages), or an error if absent.
    pub fn text(&self, tag: u32, name: &'static str) -> RpmResult<String> {
        let bytes = self.main.string(tag)?.ok_or_else(|| RpmError::new("main header", format!("no {name}")))?;
        Ok(String::from_utf8_lossy(bytes).into_owned())
    }

    /// The most the decompressed archive may hold given the header: every file's data and a
    /// maximal cpio header and name for each, plus the trailer.
    fn archive_bound(&self) -> u64 {
        let per_entry = 110 + NAME_MAX + 8;
        self.files.files.iter().fold(per_entry + 512, |sum, f| sum.saturating_add(f.size).saturating_add(per_entry))
    }

    /// Walks the payload that `payload` reads (positioned at the payload start), calling
    /// `content(members, reader)` once per regular file or hardlink set with the header
    /// indexes it supplies and a reader of exactly its bytes.
    pub fn walk_payload<E: From<RpmError>>(
        &self,
        payload: &mut dyn Read,
        content: impl FnMut(&[usize], &mut dyn Read) -> Result<(), E>,
    ) -> Result<PayloadSummary, E> {
        self.walk_payload_with(payload, Digests::Check, content)
    }

    /// [`Package::walk_payload`], checking the package's own digests as `digests` says.
    pub fn walk_payload_with<E: From<RpmError>>(
        &self,
        payload: &mut dyn Read,
        digests: Digests,
        mut content: impl FnMut(&[usize], &mut dyn Read) -> Result<(), E>,
    ) -> Result<PayloadSummary, E> {
        let check = digests == Digests::Check;
        let files = &self.files.files;
        let mut summary = PayloadSummary::default();
        let mut compressed_hash = Sha256::new();
        let index: HashMap<&[u8], usize> = files.iter().enumerate().map(|(i, f)| (normalize(&f.path), i)).collect();
        let mut seen = vec![false; files.len()];
        let mut set_done = vec![false; self.files.hardlink_sets.len()];
        {
            let hashing = OptionalHashing { inner: &mut *payload, hasher: check.then_some(&mut compressed_hash) };
            let (compression, decoder) = decompressor(BufReader::with_capacity(256 * 1024, hashing))?;
            summary.compression = Some(compression);
            let mut cpio = CpioReader::new(Limited { inner: decoder, left: self.archive_bound() });
            loop {
                let (idx, record_size) = match cpio.next_record()? {
                    Record::Trailer => break,
                    Record::Newc { name, size } => {
                        let idx = *index.get(normalize(&name)).ok_or_else(|| {
                            RpmError::new(
                                "payload",
                                format!("entry {:?} is not in the header", String::from_utf8_lossy(&name)),
                            )
                        })?;
                        (idx, Some(size))
                    }
                    Record::Stripped { index } => {
                        let idx = index as usize;
                        if idx >= files.len() {
                            return Err(RpmError::new(
                                "payload",
                                format!("stripped entry index {index} out of range ({} files)", files.len()),
                            )
                            .into());
                        }
                        (idx, None)
                    }
                };
                let file = files.get(idx).ok_or_else(|| RpmError::new("payload", "index out of range"))?;
                let name = || String::from_utf8_lossy(&file.path).into_owned();
                if file.is_ghost() {
                    // Old rpm put some ghosts in the payload; rpm skips them, and so do we.
                    std::io::copy(&mut cpio.data(record_size.unwrap_or(0)), &mut std::io::sink())
                        .map_err(io("payload"))?;
                    cpio.align()?;
                    continue;
                }
                if std::mem::replace(
                    seen.get_mut(idx).ok_or_else(|| RpmError::new("payload", "index out of range"))?,
                    true,
                ) {
                    return Err(RpmError::new("payload", format!("{} appears twice", name())).into());
                }
                let set = file.hardlink_set.and_then(|s| self.files.hardlink_sets.get(s).map(|members| (s, members)));
                let size = match (file.file_type(), record_size, set) {
                    (S_IFREG, Some(size), Some(_)) if size == 0 && file.size != 0 => 0,
                    (S_IFREG, None, Some((_, members))) if members.last() != Some(&idx) => 0,
                    (S_IFREG | S_IFLNK, Some(size), _) if size != file.size => {
                        return Err(RpmError::new(
                            "payload",
                            format!("{}: {size} bytes in the payload, {} in the header", name(), file.size),
                        )
                        .into());
                    }
                    (S_IFREG | S_IFLNK, _, _) => file.size,
                    (_, Some(size), _) => size,
                    (_, None, _) => 0,
                };
                if file.file_type() == S_IFREG && (size > 0 || set.is_none() || file.size == 0) {
                    let members: Vec<usize> = match set {
                        Some((s, members)) => {
                            if std::mem::replace(
                                set_done.get_mut(s).ok_or_else(|| RpmError::new("payload", "bad set"))?,
                                true,
                            ) {
                                return Err(RpmError::new(
                                    "payload",
                                    format!("{}: a second copy of a hardlink set's content", name()),
                                )
                                .into());
                            }
                            members.clone()
                        }
                        None => vec![idx],
                    };
                    self.deliver(file, &members, &mut cpio.data(size), check, &mut content)?;
                    summary.contents += 1;
                } else {
                    std::io::copy(&mut cpio.data(size), &mut std::io::sink()).map_err(io("payload"))?;
                }
                cpio.align()?;
            }
            summary.archive_bytes = cpio.position();
        }
        // The payload digest covers every compressed byte to the end of the file.
        let rest = std::io::copy(
            &mut OptionalHashing { inner: &mut *payload, hasher: check.then_some(&mut compressed_hash) },
            &mut std::io::sink(),
        )
        .map_err(io("payload"))?;
        let _ = rest;
        self.check_complete(&seen, &set_done)?;
        if !check {
            return Ok(summary);
        }
        let actual = hex::encode(compressed_hash.finalize());
        if let Some(expected) = self.main.string_array(tag::PAYLOADDIGEST)?.and_then(|v| v.first().copied()) {
            if !expected.eq_ignore_ascii_case(actual.as_bytes()) {
                return Err(RpmError::new(
                    "payload",
                    format!(
                        "SHA-256 mismatch: the header records {}, the payload hashes to {actual}",
                        String::from_utf8_lossy(expected)
                    ),
                )
                .into());
            }
            summary.payload_digest_verified = true;
        }
        Ok(summary)
    }

    /// Hands one content to the caller, checking its size and digest.
    fn deliver<E: From<RpmError>>(
        &self,
        file: &RpmFile,
        members: &[usize],
        data: &mut dyn Read,
        check: bool,
        content: &mut impl FnMut(&[usize], &mut dyn Read) -> Result<(), E>,
    ) -> Result<(), E> {
        let name = || String::from_utf8_lossy(&file.path).into_owned();
        let mut digest = match (self.files.digest_algo, file.digest.is_empty()) {
            (Some(algo), false) if check => Some(FileDigest::new(algo)),
            _ => None,
        };
        let mut checked = DigestingReader { inner: data, digest: digest.as_mut(), read: 0 };
        content(members, &mut checked)?;
        // Whatever the caller left unread still counts.
        std::io::copy(&mut checked, &mut std::io::sink()).map_err(io("payload"))?;
        if checked.read != file.size {
            return Err(RpmError::new(
                "payload",
                format!("{}: {} bytes of content, {} in the header", name(), checked.read, file.size),
            )
            .into());
        }
        if let Some(digest) = digest {
            let actual = digest.finish_hex();
            if !file.digest.eq_ignore_ascii_case(actual.as_bytes()) {
                return Err(RpmError::new(
                    "payload",
                    format!(
                        "{}: digest mismatch: the header records {}, the content hashes to {actual}",
                        name(),
                        String::from_utf8_lossy(&file.digest)
                    ),
                )
                .into());
            }
        }
        Ok(())
    }

    fn check_complete(&self, seen: &[bool], set_done: &[bool]) -> RpmResult<()> {
        for (file, seen) in self.files.files.iter().zip(seen) {
            if !file.is_ghost() && !seen {
                return Err(RpmError::new(
                    "payload",
                    format!("{} is in the header but not in the payload", String::from_utf8_lossy(&file.path)),
                ));
            }
        }
        for (members, done) in self.files.hardlink_sets.iter().zip(set_done) {
            if !done {
                let first = members
                    .first()
                    .and_then(|&i| self.files.files.get(i))
                    .map(|f| String::from_utf8_lossy(&f.path).into_owned());
                return Err(RpmError::new(
                    "payload",
                    format!("the hardlink set of {} has no content", first.unwrap_or_default()),
                ));
            }
        }
        Ok(())
    }
}

/// Feeds every byte read to a SHA-256 when there is one.
struct OptionalHashing<'a, 'h> {
    inner: &'a mut dyn Read,
    hasher: Option<&'h mut Sha256>,
}

impl Read for OptionalHashing<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(hasher) = self.hasher.as_deref_mut() {
            hasher.update(buf.get(..n).unwrap_or_default());
        }
        Ok(n)
    }
}

/// Feeds a file digest and counts.
struct DigestingReader<'a, 'd> {
    inner: &'a mut dyn Read,
    digest: Option<&'d mut FileDigest>,
    read: u64,
}

impl Read for DigestingReader<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(digest) = self.digest.as_deref_mut() {
            digest.update(buf.get(..n).unwrap_or_default());
        }
        self.read += n as u64;
        Ok(n)
    }
}
