//! Reading a jigdo RPM with rejig's own hardened RPM reader: its headers and payload are
//! verified like any package's, its `Provides` must name the commit its head describes, and
//! the head (the `tables` file: commit, package table, parts) is decoded with bounds and
//! checked. The parts are read with [`crate::jigdo::part`].

#![deny(clippy::indexing_slicing)]

use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use rejig_format::jigdo::rpm_names::TABLES_FILE;
use rejig_format::jigdo::{parse_commit_provide, payload_dir, JigdoHead, JIGDO_PROVIDE};
use rejig_format::manifest::Nevra;
use rejig_format::FileSha256;
use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};
use crate::package::nevra_of;
use crate::rpm::package::{HashingReader, Package};
use crate::rpm::tags::tag;

/// Compressed tables larger than this are refused before reading (a head decodes to at most
/// 64 MiB, and zstd shrinks it).
const MAX_TABLES_FILE: u64 = 64 << 20;

/// A jigdo RPM, read and checked.
#[derive(Debug)]
pub struct JigdoFile {
    /// The file.
    pub path: PathBuf,
    /// The jigdo package's own identity.
    pub nevra: Nevra,
    /// SHA-256 of the jigdo file.
    pub file_sha256: FileSha256,
    /// Its size.
    pub file_bytes: u64,
    /// The decoded and checked head.
    pub head: JigdoHead,
}

fn bad(path: &Path, detail: impl Into<String>) -> Error {
    Error::Package { path: path.to_path_buf(), detail: format!("not a usable jigdo: {}", detail.into()) }
}

/// True when the package at `path` says it is a jigdo (`Provides: rejig-jigdo(2)`). Reads
/// the headers only.
pub fn is_jigdo(path: &Path) -> Result<bool> {
    let file = crate::source::open_regular_file(path).at(path)?;
    let package = Package::read_headers(&mut BufReader::new(file))
        .map_err(|e| Error::Package { path: path.to_path_buf(), detail: e.to_string() })?;
    Ok(provides(&package)?.iter().any(|p| p == JIGDO_PROVIDE))
}

fn provides(package: &Package) -> Result<Vec<String>> {
    Ok(package
        .main
        .string_array(tag::PROVIDENAME)?
        .unwrap_or_default()
        .into_iter()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect())
}

/// Reads and checks the jigdo at `path`.
pub fn read_jigdo(path: &Path) -> Result<JigdoFile> {
    let file = crate::source::open_regular_file(path).at(path)?;
    let file_bytes = file.metadata().at(path)?.len();
    read_jigdo_from(BufReader::with_capacity(256 * 1024, file), path, file_bytes)
}

/// [`read_jigdo`] on a jigdo read from `reader`, from its first byte to its last: `path` names
/// it in errors and in the result, and `file_bytes` is its size as the caller knows it.
pub fn read_jigdo_from(reader: impl Read, path: &Path, file_bytes: u64) -> Result<JigdoFile> {
    let mut file_sha = Sha256::new();
    let mut reader = HashingReader { inner: reader, hasher: &mut file_sha };
    let package = Package::read_headers(&mut reader)
        .map_err(|e| Error::Package { path: path.to_path_buf(), detail: e.to_string() })?;
    let nevra = nevra_of(&package)?;
    let provides = provides(&package)?;
    if !provides.iter().any(|p| p == JIGDO_PROVIDE) {
        return Err(bad(path, format!("{nevra} does not provide {JIGDO_PROVIDE}")));
    }
    let claimed: Vec<_> = provides.iter().filter_map(|p| parse_commit_provide(p)).collect();
    let [claimed] = claimed.as_slice() else {
        return Err(bad(path, format!("it provides {} rejig-commit(...) capabilities, not one", claimed.len())));
    };

    let dir = payload_dir(&nevra.name);
    let tables_path = format!("{dir}/{TABLES_FILE}");
    let files = &package.files.files;
    let mut tables = None;
    package
        .walk_payload(&mut reader, |members, content| {
            let file = members.first().and_then(|&m| files.get(m)).ok_or_else(|| bad(path, "empty hardlink set"))?;
            let name = String::from_utf8_lossy(&file.path).into_owned();
            if name == tables_path {
                if file.size > MAX_TABLES_FILE {
                    return Err(bad(path, format!("its tables are {} bytes, over the limit", file.size)));
                }
                // Memory follows the bytes that arrive, not the size the header claims.
                let mut bytes = Vec::with_capacity(file.size.min(1 << 20) as usize);
                content.take(MAX_TABLES_FILE + 1).read_to_end(&mut bytes).at(path)?;
                tables = Some(bytes);
            } else {
                return Err(bad(path, format!("unexpected file {name} in the payload")));
            }
            Ok::<(), Error>(())
        })
        .map_err(|e| match e {
            Error::Package { .. } => e,
            other => Error::Package { path: path.to_path_buf(), detail: rejig_format::chain(&other) },
        })?;

    drop(reader);
    let tables = tables.ok_or_else(|| bad(path, format!("its payload has no {tables_path}")))?;
    let head = JigdoHead::decode(&tables).map_err(|e| bad(path, e.to_string()))?;
    if head.commit != *claimed {
        return Err(bad(path, format!("it provides rejig-commit({claimed}) but its tables describe {}", head.commit)));
    }
    Ok(JigdoFile {
        path: path.to_path_buf(),
        nevra,
        file_sha256: FileSha256::from_bytes(file_sha.finalize().into()),
        file_bytes,
        head,
    })
}
