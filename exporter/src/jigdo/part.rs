//! Writing a description's parts (FORMAT.md "jigdo parts"): the records stream cut by
//! content, and each big new object on its own, each as a small noarch RPM named after the
//! BLAKE3 of its contents. A part's bytes depend on its contents alone (fixed build time and
//! host), so the same contents in two versions are the same file, and a directory that
//! already holds a part's file is not written again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rejig_format::jigdo::parts::{part_payload_path, BIG_OBJECT, PARTS_DIR, PART_PROVIDE};
use rejig_format::jigdo::{cut_records, encode_delta_records, encode_records, part_file_name, part_nevra, PartKind};
use rejig_format::BlobId;
use rejig_store::Store;
use rpm::{BuildConfig, CompressionWithLevel, Dependency, FileOptions, PackageBuilder};

use crate::error::{Error, Result};
use crate::jigdo::describe::Description;
use crate::jigdo::rpm::write_package;

/// One part of a description, written or found in the output directory.
#[derive(Clone, Debug)]
pub struct WrittenPart {
    /// What it holds.
    pub kind: PartKind,
    /// BLAKE3 of its contents.
    pub content: BlobId,
    /// Size of its contents.
    pub size: u64,
    /// The part RPM.
    pub path: PathBuf,
    /// True when this call wrote it; false when the directory had it already.
    pub new: bool,
}

/// Writes the part RPM holding `contents` into `dir` unless a file of that name is there.
pub fn write_part_rpm(kind: PartKind, contents: Vec<u8>, dir: &Path) -> Result<WrittenPart> {
    let content = BlobId::of(&contents);
    let size = contents.len() as u64;
    let path = dir.join(part_file_name(&content));
    if path.is_file() {
        return Ok(WrittenPart { kind, content, size, path, new: false });
    }
    let nevra = part_nevra(&content);
    let rpm_error = |e: rpm::Error| Error::Jigdo(format!("building part {}: {e}", nevra.name));
    // Records compress well and are small; new objects are often compressed already (an
    // initramfs). Delta parts are package files, which travel instead of whole packages on
    // every update: they get the strongest level, as distributions give their packages.
    let level = match kind {
        PartKind::Records | PartKind::DeltaRecords | PartKind::DeltaObject => 19,
        PartKind::Object => 10,
    };
    let mut builder = PackageBuilder::new(
        &nevra.name,
        &nevra.version,
        "Distributable",
        "noarch",
        &format!("rejig jigdo part ({})", kind.name()),
    );
    builder
        .using_config(
            // No space reserved for signing in place (4 KiB of zeros per part): a part is bound
            // by the jigdo's digests and never signed on its own.
            BuildConfig::v4().compression(CompressionWithLevel::Zstd(level)).source_date(1).reserved_space(None),
        )
        .release(nevra.release.clone())
        .build_host("rejig")
        .description(format!("A piece of one or more rejig jigdos: {} {content}.", kind.name()))
        .provides(Dependency::any(PART_PROVIDE));
    builder.with_dir_entry(FileOptions::dir(PARTS_DIR)).map_err(rpm_error)?;
    builder.with_file_contents(contents, FileOptions::new(part_payload_path(&content))).map_err(rpm_error)?;
    let package = builder.build().map_err(rpm_error)?;
    write_package(&package, &path)?;
    Ok(WrittenPart { kind, content, size, path, new: true })
}

/// Writes every part of `description` into `dir` (records parts in stream order, then object
/// parts by BLAKE3, then delta parts), skipping those `dir` already holds. New content larger
/// than [`BIG_OBJECT`] becomes an object part; smaller new content travels in the records.
/// The delta's content is split the same way, into delta object and delta records parts.
pub fn write_parts(store: &Store, description: &Description, dir: &Path) -> Result<Vec<WrittenPart>> {
    let reader = store.reader()?;
    let mut small = HashMap::new();
    let mut big = Vec::new();
    for (blob, size) in &description.new_content {
        if *size > BIG_OBJECT {
            big.push(*blob);
        } else {
            small.insert(*blob, store.read_blob(&reader, *blob)?);
        }
    }
    let records = encode_records(&description.jigdo, &small)?;
    let mut written = Vec::new();
    for piece in cut_records(&records) {
        written.push(write_part_rpm(PartKind::Records, piece.to_vec(), dir)?);
    }
    let object_part = |kind: PartKind, blob: BlobId| -> Result<WrittenPart> {
        let path = dir.join(part_file_name(&blob));
        if path.is_file() {
            let size = reader.blob_len(&blob)?.unwrap_or(0);
            Ok(WrittenPart { kind, content: blob, size, path, new: false })
        } else {
            write_part_rpm(kind, store.read_blob(&reader, blob)?, dir)
        }
    };
    for blob in big {
        written.push(object_part(PartKind::Object, blob)?);
    }
    if let Some((_, delta)) = &description.delta {
        let mut small = Vec::new();
        for (blob, size) in delta {
            if *size > BIG_OBJECT {
                written.push(object_part(PartKind::DeltaObject, *blob)?);
            } else {
                small.push(store.read_blob(&reader, *blob)?);
            }
        }
        for piece in encode_delta_records(small.iter().map(Vec::as_slice)) {
            written.push(write_part_rpm(PartKind::DeltaRecords, piece, dir)?);
        }
    }
    Ok(written)
}
