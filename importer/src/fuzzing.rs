//! The properties the importer's fuzz targets check (RPM packages, rpm-md metadata, jigdo
//! RPMs), callable from stable `cargo test` so that kept inputs are replayed on every run
//! (`importer/tests/fuzz_regressions.rs`). Each must return without panicking and without
//! allocating from unchecked counts, whatever the bytes.

use std::path::{Component, Path, PathBuf};

use rejig_format::jigdo::{parse_commit_provide, JIGDO_PROVIDE};
use rejig_format::manifest::Nevra;
use sha2::{Digest, Sha256};

use crate::jigdo::read::read_jigdo_from;
use crate::rpm::files::FileTable;
use crate::rpm::header::{Header, HeaderKind};
use crate::rpm::package::Package;
use crate::rpm::tags::tag;
use crate::source::{Location, Offer, RepoLocation};

/// Both header kinds on arbitrary bytes, then every accessor on every entry.
pub fn rpm_header(data: &[u8]) {
    for kind in [HeaderKind::Signature, HeaderKind::Main] {
        if let Ok((header, used)) = Header::parse(data, kind) {
            assert!(used <= data.len());
            for entry in header.entries() {
                let _ = header.string(entry.tag);
                let _ = header.string_array(entry.tag);
                let _ = header.integers(entry.tag);
                let _ = header.bin(entry.tag);
            }
        }
    }
}

/// The signature tags of a package's signature header (`rpm::signature`) on arbitrary bytes.
/// Anything accepted is a known tag's BIN data, within the size bound, that starts like an
/// OpenPGP packet, and says what it covers by its tag.
pub fn rpm_signature_tags(data: &[u8]) {
    use crate::rpm::signature::{
        read_signatures, SignedRange, MAX_SIGNATURE_LEN, SIG_DSAHEADER, SIG_GPG, SIG_PGP, SIG_RSAHEADER,
    };
    let Ok(signatures) = read_signatures(&mut &data[..]) else { return };
    assert!(signatures.len() <= 4);
    for signature in &signatures {
        assert!(!signature.packet.is_empty() && signature.packet.len() <= MAX_SIGNATURE_LEN);
        assert!(signature.packet.len() <= data.len());
        assert!(signature.packet.first().is_some_and(|b| b & 0x80 != 0));
        let range = match signature.tag {
            SIG_RSAHEADER | SIG_DSAHEADER => SignedRange::Header,
            SIG_PGP | SIG_GPG => SignedRange::HeaderAndPayload,
            other => panic!("tag {other} is not a signature tag"),
        };
        assert_eq!(signature.range, range);
    }
}

/// A main header on arbitrary bytes, then the file table built from it. Anything accepted
/// must have per-file data for every file and hardlink sets that point at regular files.
pub fn rpm_file_table(data: &[u8]) {
    if let Ok((header, _)) = Header::parse(data, HeaderKind::Main) {
        if let Ok(table) = FileTable::from_header(&header) {
            for set in &table.hardlink_sets {
                assert!(set.len() > 1);
                for &member in set {
                    assert!(member < table.files.len());
                }
            }
        }
    }
}

/// The payload walker over an arbitrary *decompressed* archive, under the headers of a real
/// package (`package` holds at least its lead and headers), so the fuzzer is not stuck
/// behind a compressor.
pub fn rpm_payload(package: &[u8], archive: &[u8]) {
    let mut reader = package;
    let Ok(parsed) = Package::read_headers(&mut reader) else { return };
    // The decompressor is chosen by magic; make every input an uncompressed cpio archive.
    let mut payload = b"07070".to_vec();
    payload.extend_from_slice(archive.strip_prefix(b"07070").unwrap_or(archive));
    walk(&parsed, &payload);
}

/// A whole package on arbitrary bytes.
pub fn rpm_package(data: &[u8]) {
    let mut reader = data;
    if let Ok(parsed) = Package::read_headers(&mut reader) {
        walk(&parsed, reader);
    }
}

fn walk(package: &Package, mut payload: &[u8]) {
    let files = &package.files.files;
    let _ = package.walk_payload(&mut payload, |members, content| {
        let mut total = 0u64;
        let mut buf = [0u8; 4096];
        loop {
            let n = content.read(&mut buf).map_err(|e| crate::rpm::error::RpmError::new("fuzz", e.to_string()))?;
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        let expected = members.first().and_then(|&m| files.get(m)).map(|f| f.size);
        assert!(expected.is_none_or(|size| total <= size), "delivered more than the header's size");
        Ok::<(), crate::rpm::error::RpmError>(())
    });
}

/// Reaches the rpm-md parsers, whose module is private to [`crate::source`]: their fuzzing
/// entry points are functions of this type, defined next to them (`source/repomd.rs`).
#[derive(Debug)]
pub struct RpmMd(());

/// The local repository root and the remote base URL primary metadata is resolved against.
const LOCAL_ROOT: &str = "/repo";
const REMOTE_BASE: &str = "http://mirror.example/repo/os/";
const REMOTE_HOST: &str = "http://mirror.example/";

/// repomd.xml on arbitrary bytes. An accepted primary location is a normalised path inside
/// the repository: relative, no `.`, `..` or empty segment, no scheme, backslash or control.
pub fn repomd_xml(data: &[u8]) {
    if let Ok((path, _, _)) = RpmMd::primary_entry(data) {
        assert!(!path.is_empty() && !path.contains("://"), "primary location {path:?}");
        assert!(!path.chars().any(|c| c == '\\' || c.is_control()), "primary location {path:?}");
        assert!(path.split('/').all(|s| !matches!(s, "" | "." | "..")), "primary location {path:?}");
    }
}

/// Primary metadata on arbitrary bytes (any compression, chosen by magic), each package
/// resolved against a local and a remote repository. Every accepted offer has a well-formed
/// NEVRA and a location inside the repository: under the local root, or under the remote
/// base URL, unless the package's `xml:base` names another http(s) URL, the same for both.
pub fn primary_xml(data: &[u8]) {
    let local = RepoLocation::Local(PathBuf::from(LOCAL_ROOT));
    let remote = RepoLocation::Remote(REMOTE_BASE.to_owned());
    let Ok(packages) = RpmMd::package_offers(data, &[&local, &remote]) else { return };
    for offers in &packages {
        let [in_local, in_remote] = offers.as_slice() else { panic!("one offer per repository") };
        for offer in [in_local, in_remote].into_iter().flatten() {
            assert_nevra(&offer.nevra);
        }
        match (in_local, in_remote) {
            (Ok(local), Ok(remote)) => {
                assert_eq!(local.nevra, remote.nevra);
                assert_eq!((local.size, local.file_sha256), (remote.size, remote.file_sha256));
                assert_locations(local, remote);
            }
            (Ok(local), Err(e)) => panic!("{}: accepted in a local repository, not in a remote one: {e}", local.nevra),
            // An href with `..` may climb out of a local root, but not above the remote host's.
            (Err(_), Ok(remote)) => {
                let url = assert_url(remote);
                assert!(url.starts_with(REMOTE_HOST), "{url} is outside {REMOTE_HOST}");
            }
            (Err(_), Err(_)) => {}
        }
    }
}

/// Each field non-empty, without whitespace or control characters; no epoch 0 (rpm-md cannot
/// tell it from none, so offers keep none).
fn assert_nevra(nevra: &Nevra) {
    for field in [&nevra.name, &nevra.version, &nevra.release, &nevra.arch] {
        assert!(
            !field.is_empty() && !field.chars().any(|c| c.is_whitespace() || c.is_control()),
            "malformed NEVRA {nevra:?}"
        );
    }
    assert_ne!(nevra.epoch, Some(0), "epoch 0 kept in {nevra}");
}

/// The same package in a local and a remote repository: a local file under the root whose
/// URL is under the base, or one `xml:base` URL for both.
fn assert_locations(local: &Offer, remote: &Offer) {
    let url = assert_url(remote);
    match &local.location {
        Location::Local(path) => {
            let shown = path.display();
            let Ok(inside) = path.strip_prefix(LOCAL_ROOT) else { panic!("{shown} is outside {LOCAL_ROOT}") };
            assert!(inside.components().next().is_some(), "{shown} names no file");
            assert!(inside.components().all(|c| matches!(c, Component::Normal(_))), "{shown} is not normalised");
            assert!(url.starts_with(REMOTE_BASE), "{url} is outside {REMOTE_BASE}, though {shown} is inside");
        }
        Location::Remote(by_base) => assert_eq!(by_base, url, "xml:base resolves differently"),
    }
}

/// An http(s) URL with a host and a path, without space, control, query or fragment.
fn assert_url(offer: &Offer) -> &str {
    let Location::Remote(url) = &offer.location else { panic!("{}: a local file in a remote repository", offer.nevra) };
    let Some(rest) = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://")) else {
        panic!("{url} is not http(s)")
    };
    assert!(!rest.starts_with('/') && rest.contains('/'), "{url} has no host or no path");
    assert!(!url.chars().any(|c| c.is_whitespace() || c.is_control() || c == '?' || c == '#'), "{url}");
    url
}

/// Arbitrary bytes as a jigdo RPM, read without a store. An accepted jigdo's head checks
/// and describes the commit its only `rejig-commit(...)` names, and its file digest covers
/// every input byte.
pub fn jigdo_rpm(data: &[u8]) {
    let Ok(file) = read_jigdo_from(data, Path::new("fuzz.rpm"), data.len() as u64) else { return };
    assert!(file.head.check().is_ok(), "accepted a head that does not check");
    assert_eq!(*file.file_sha256.as_bytes(), <[u8; 32]>::from(Sha256::digest(data)), "the file digest misses bytes");
    let mut reader = data;
    let Ok(package) = Package::read_headers(&mut reader) else { panic!("accepted headers that do not read") };
    let provides: Vec<String> = match package.main.string_array(tag::PROVIDENAME) {
        Ok(names) => names.unwrap_or_default().iter().map(|p| String::from_utf8_lossy(p).into_owned()).collect(),
        Err(e) => panic!("accepted an unreadable Provides: {e}"),
    };
    assert!(provides.iter().any(|p| p == JIGDO_PROVIDE), "accepted without {JIGDO_PROVIDE}");
    let commits: Vec<_> = provides.iter().filter_map(|p| parse_commit_provide(p)).collect();
    assert_eq!(commits, [file.head.commit], "accepted for another commit than its tables'");
}

/// Arbitrary bytes as a jigdo part RPM of either kind, read without a store. An accepted
/// part is named after its contents' BLAKE3, records parts stay within their bound, the
/// returned records hash to the name, and the file digest covers every input byte; read
/// again bound to what it was, it is accepted again.
pub fn jigdo_part(data: &[u8]) {
    use crate::jigdo::part::{read_part_from, Expect};
    use rejig_format::jigdo::PartKind;
    for kind in [PartKind::Records, PartKind::Object] {
        let Ok(file) = read_part_from(data, "fuzz.rpm", data.len() as u64, Expect::Kind(kind), None) else { continue };
        let part = &file.part;
        assert_eq!(*part.file.as_bytes(), <[u8; 32]>::from(Sha256::digest(data)), "the file digest misses bytes");
        if kind == PartKind::Records {
            assert!(part.size <= rejig_format::jigdo::parts::MAX_RECORDS_PART, "records over the bound");
            assert_eq!(rejig_format::BlobId::of(&file.records), part.content, "records that do not hash to the name");
        }
        let again = read_part_from(data, "fuzz.rpm", data.len() as u64, Expect::Bound(part), None);
        assert!(again.is_ok(), "accepted unbound but refused bound: {again:?}");
    }
}
