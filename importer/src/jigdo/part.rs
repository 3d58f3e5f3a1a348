//! Reading a jigdo part RPM (FORMAT.md "jigdo parts") with rejig's hardened RPM reader: its
//! name must be the one its contents digest gives, its payload exactly one file at
//! `/usr/lib/rejig/parts/<BLAKE3>`, of the size the jigdo binds and hashing to that BLAKE3,
//! and the file and main header must have the SHA-256 the jigdo binds. Records are held in
//! memory only up to their bound; an object streams into the store's batch, which the caller
//! commits only when every part checked out.

#![deny(clippy::indexing_slicing)]

use std::io::{BufReader, Read};
use std::path::Path;

use rejig_format::jigdo::parts::MAX_RECORDS_PART;
use rejig_format::jigdo::{part_nevra, PartKind, PartRef};
use rejig_format::{BlobId, FileSha256, HeaderSha256};
use rejig_store::store::IN_MEMORY_BLOB_LIMIT;
use rejig_store::Batch;
use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};
use crate::package::nevra_of;
use crate::rpm::package::{Digests, HashingReader, Package};

/// What a part file turned out to be.
#[derive(Clone, Debug)]
pub struct PartFile {
    /// The binding a jigdo gives it.
    pub part: PartRef,
    /// Its contents, for a records part (empty for an object part).
    pub records: Vec<u8>,
}

/// What the caller expects of a part: the whole binding (a client), or only its kind (a
/// builder reading back a part it wrote, to learn its digests).
#[derive(Clone, Copy, Debug)]
pub enum Expect<'a> {
    /// Everything the jigdo binds.
    Bound(&'a PartRef),
    /// A part of this kind, whatever its digests.
    Kind(PartKind),
}

fn bad(name: &str, detail: impl Into<String>) -> Error {
    Error::Package { path: name.into(), detail: format!("part refused: {}", detail.into()) }
}

/// Reads and checks the part at `path`. With a batch, an object part's contents are added to
/// it (and a records part's, which is also returned); without one they are only verified.
pub fn read_part(path: &Path, expect: Expect<'_>, batch: Option<&Batch<'_>>) -> Result<PartFile> {
    let file = crate::source::open_regular_file(path).at(path)?;
    let file_size = file.metadata().at(path)?.len();
    let label = match expect {
        Expect::Bound(part) => {
            let n = part.nevra();
            format!("{}-{}-{}.{} ({})", n.name, n.version, n.release, n.arch, path.display())
        }
        Expect::Kind(_) => path.display().to_string(),
    };
    read_part_from(BufReader::with_capacity(256 * 1024, file), &label, file_size, expect, batch)
}

/// [`read_part`] on bytes from `reader`; `label` names the part in errors.
pub fn read_part_from(
    reader: impl Read,
    label: &str,
    file_size: u64,
    expect: Expect<'_>,
    batch: Option<&Batch<'_>>,
) -> Result<PartFile> {
    let kind = match expect {
        Expect::Bound(part) => part.kind,
        Expect::Kind(kind) => kind,
    };
    if let Expect::Bound(part) = expect {
        if part.file_size != file_size {
            return Err(bad(label, format!("the file has {file_size} bytes, the jigdo binds {}", part.file_size)));
        }
    }
    let mut file_sha = Sha256::new();
    let mut reader = HashingReader { inner: reader, hasher: &mut file_sha };
    let package = Package::read_headers(&mut reader).map_err(|e| bad(label, e.to_string()))?;
    let nevra = nevra_of(&package)?;
    let header: HeaderSha256 = package.header_sha256;
    if let Expect::Bound(part) = expect {
        if nevra != part.nevra() {
            return Err(bad(label, format!("the file is {nevra}")));
        }
        if header != part.header {
            return Err(bad(label, format!("its header SHA-256 is {header}, the jigdo binds {}", part.header)));
        }
    }
    let files = &package.files.files;
    let mut found: Option<(BlobId, u64, Vec<u8>)> = None;
    // A bound part's file SHA-256 is checked below, before the caller commits anything: the
    // part's own payload and file digests are not computed again.
    let digests = match expect {
        Expect::Bound(_) => Digests::CoveredByFile,
        Expect::Kind(_) => Digests::Check,
    };
    package
        .walk_payload_with(&mut reader, digests, |members, content| {
            let entry = members.first().and_then(|&m| files.get(m)).ok_or_else(|| bad(label, "empty hardlink set"))?;
            let name = String::from_utf8_lossy(&entry.path).into_owned();
            if found.is_some() {
                return Err(bad(label, format!("unexpected second file {name}")));
            }
            let named: BlobId = name
                .strip_prefix(rejig_format::jigdo::parts::PARTS_DIR)
                .and_then(|rest| rest.strip_prefix('/'))
                .and_then(|hex| hex.parse().ok())
                .ok_or_else(|| bad(label, format!("unexpected file {name} in the payload")))?;
            if part_nevra(&named) != nevra {
                return Err(bad(label, format!("{name} is not the file {nevra} names")));
            }
            if let Expect::Bound(part) = expect {
                if entry.size != part.size {
                    return Err(bad(
                        label,
                        format!("its contents are {} bytes, the jigdo binds {}", entry.size, part.size),
                    ));
                }
            }
            let (actual, records) = match kind {
                PartKind::Records | PartKind::DeltaRecords => {
                    if entry.size > MAX_RECORDS_PART {
                        return Err(bad(label, format!("{} bytes of records, over {MAX_RECORDS_PART}", entry.size)));
                    }
                    // Memory follows the bytes that arrive, within the bound.
                    let mut data = Vec::with_capacity(usize::try_from(entry.size).unwrap_or(0));
                    content.take(MAX_RECORDS_PART + 1).read_to_end(&mut data).at(label)?;
                    let id = match batch {
                        Some(batch) => batch.add_blob(&data)?,
                        None => BlobId::of(&data),
                    };
                    (id, data)
                }
                PartKind::Object | PartKind::DeltaObject => {
                    let id = match batch {
                        Some(batch) if entry.size <= IN_MEMORY_BLOB_LIMIT => {
                            let mut data = Vec::with_capacity(usize::try_from(entry.size).unwrap_or(0));
                            content.read_to_end(&mut data).at(label)?;
                            batch.add_blob(&data)?
                        }
                        Some(batch) => batch.add_blob_stream(content)?.0,
                        None => {
                            let mut hasher = blake3::Hasher::new();
                            std::io::copy(content, &mut hasher).at(label)?;
                            BlobId::from_bytes(*hasher.finalize().as_bytes())
                        }
                    };
                    (id, Vec::new())
                }
            };
            if actual != named {
                return Err(bad(label, format!("{name} hashes to {actual}")));
            }
            found = Some((actual, entry.size, records));
            Ok::<(), Error>(())
        })
        .map_err(|e| match e {
            Error::Package { .. } => e,
            other => bad(label, rejig_format::chain(&other)),
        })?;
    drop(reader);
    let (content, size, records) = found.ok_or_else(|| bad(label, "its payload is empty"))?;
    let file = FileSha256::from_bytes(file_sha.finalize().into());
    if let Expect::Bound(part) = expect {
        if content != part.content {
            return Err(bad(label, format!("its contents hash to {content}, the jigdo binds {}", part.content)));
        }
        if file != part.file {
            return Err(bad(label, format!("the file's SHA-256 is {file}, the jigdo binds {}", part.file)));
        }
    }
    Ok(PartFile { part: PartRef { kind, content, size, header, file, file_size }, records })
}
