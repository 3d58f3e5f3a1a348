//! The bad-input matrix (RELIABILITY.md, "Bad input: 33 cases"): every row is a test that runs the real
//! `rejig` CLI on hostile or broken input and requires
//! (a) a non-zero exit, no panic, and an error on stderr that names the file, package or
//!     object at fault and what is wrong with it, and
//! (b) nothing changed: the store (its pack files and `tmp/`, and the counts of a clean
//!     `rejig fsck`) and the target repository (every path under it: refs, objects, tmp; or
//!     its absence). The one allowance is what `export JIGDO` keeps by design when it fails
//!     after reading the jigdo: the jigdo's new content (unreferenced blobs) and verified or
//!     resumable downloads ([`Allow::JigdoNewContent`]).
//!
//! Rows: damaged RPMs, hostile paths, lying packages, hostile jigdos (the rows
//! `lying_jigdo.rs` does not cover), network faults against a loopback HTTP server, a full
//! disk, contention on the repository lock and the store lock, and (`trust.rs`) what a mirror
//! under an attacker's control serves to `rejig upgrade`.
#![allow(clippy::unwrap_used)]

mod holes;
mod lying_jigdo;
mod source_repo;
mod trust;

use crate::util;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rejig_format::gvariant::encode::{variable_array, TupleWriter};
use rejig_format::jigdo::{commit_provide, ContentSource, Jigdo, JigdoHead, JIGDO_PROVIDE};
use rejig_format::object::{metadata_checksum, Commit, DirTree};
use rejig_format::ObjectId;
use rejig_test_support::corpus::package as corpus_package;
// The loopback HTTP server with switchable faults that the importer's source tests use.
use rejig_test_support::server;
use sha2::{Digest, Sha256};
use util::jigdo_fixture::{new_files, rand_suffix, Fixture};
use util::rpm_bytes::{self, FILEMODES, FILESIZES, PAYLOADDIGEST};
use util::*;

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("rejig-matrix-").tempdir().expect("temp dir")
}

// ----------------------------------------------------------------------------------------
// What must not change

/// A store as a refused command must leave it: its pack files, what `fsck` counts, its
/// `tmp/` (where packs are written before they are renamed into `packs/`), and the package
/// downloads kept in it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct StoreState {
    root: PathBuf,
    packs: BTreeSet<String>,
    tmp: BTreeSet<String>,
    downloads: BTreeSet<String>,
    blobs: u64,
    objects: u64,
    packages: u64,
    bytes: u64,
}

/// Runs a clean `rejig fsck` (exit 0, no problems, no pack outside the index) and lists the
/// packs.
fn store_state(rejig: &Rejig) -> StoreState {
    let v = rejig.fsck_clean();
    let stray = v["unreferenced_packs"].as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(stray, 0, "fsck found packs outside the index (an interrupted write): {v}");
    let names = |dir: &str| -> BTreeSet<String> {
        fs::read_dir(rejig.store().join(dir))
            .map(|dir| dir.map(|e| e.expect("dir entry").file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default()
    };
    let packs: BTreeSet<String> = names("packs").into_iter().filter(|name| name.ends_with(".pack")).collect();
    assert_eq!(num(&v, "packs"), packs.len() as u64, "fsck's pack count against packs/: {v}");
    StoreState {
        root: rejig.store().to_path_buf(),
        packs,
        tmp: names("tmp"),
        downloads: names("downloads"),
        blobs: num(&v, "blobs"),
        objects: num(&v, "objects"),
        packages: num(&v, "packages"),
        bytes: num(&v, "bytes"),
    }
}

/// Every path below a repository and what it is (file content by SHA-256; FIFOs are not
/// opened), or None when it does not exist. `.lock` is left out: it is ostree's lock file,
/// empty, created by whichever writer comes first.
type RepoState = Option<BTreeMap<String, String>>;

fn repo_state(repo: &Path) -> RepoState {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("readdir {}: {e}", dir.display())) {
            let path = entry.expect("dir entry").path();
            let rel = path.strip_prefix(root).expect("below the root").to_string_lossy().into_owned();
            if rel == ".lock" {
                continue;
            }
            let meta = fs::symlink_metadata(&path).expect("lstat");
            let what = if meta.is_dir() {
                walk(root, &path, out);
                "directory".to_owned()
            } else if meta.file_type().is_symlink() {
                format!("symlink to {}", fs::read_link(&path).expect("readlink").display())
            } else if meta.is_file() {
                let bytes = fs::read(&path).expect("read");
                format!("{} bytes, sha256 {}", bytes.len(), hex::encode(Sha256::digest(&bytes)))
            } else if meta.file_type().is_fifo() {
                "fifo".to_owned()
            } else {
                "special".to_owned()
            };
            out.insert(rel, what);
        }
    }
    if !repo.exists() {
        return None;
    }
    let mut out = BTreeMap::new();
    walk(repo, repo, &mut out);
    Some(out)
}

fn assert_repo_unchanged(repo: &Path, before: &RepoState, what: &str) {
    let after = repo_state(repo);
    match (before, &after) {
        (None, Some(_)) => panic!("{what}: the refused command created {}", repo.display()),
        (Some(_), None) => panic!("{what}: the refused command removed {}", repo.display()),
        (Some(b), Some(a)) if a != b => {
            let changed: Vec<String> = b
                .iter()
                .filter(|(k, v)| a.get(*k) != Some(v))
                .map(|(k, _)| format!("changed or removed: {k}"))
                .chain(a.keys().filter(|k| !b.contains_key(*k)).map(|k| format!("added: {k}")))
                .take(20)
                .collect();
            panic!("{what}: the refused command changed {}:\n  {}", repo.display(), changed.join("\n  "));
        }
        _ => {}
    }
}

/// What a refused command may leave in the store besides nothing at all.
#[derive(Clone, Copy, Debug)]
enum Allow {
    /// Strictly nothing.
    Nothing,
    /// `export JIGDO` stores the jigdo's new content before it fetches packages
    /// (rebuild.rs: "unreferenced until the commit completes"; DESIGN.md allows a failed
    /// command "unreferenced data that gc collects"): one pack with that many blobs, and no
    /// object, no package. Downloads stay in `downloads/` for the next run (fetch.rs): only
    /// verified `<sha256>.rpm` files and `<sha256>.rpm.part` files to resume.
    JigdoNewContent { blobs: u64 },
}

fn assert_store_unchanged(before: &StoreState, after: &StoreState, allow: Allow, what: &str) {
    match allow {
        Allow::Nothing => assert_eq!(before, after, "{what}: the refused command changed the store"),
        Allow::JigdoNewContent { blobs } => {
            let mut expected = before.clone();
            expected.blobs += blobs;
            let new_packs: Vec<&String> = after.packs.difference(&before.packs).collect();
            assert!(before.packs.is_subset(&after.packs), "{what}: packs disappeared: {before:?} -> {after:?}");
            assert!(new_packs.len() <= 1, "{what}: more than the jigdo's one pack was written: {new_packs:?}");
            expected.packs = after.packs.clone();
            let kept: Vec<&String> = after.downloads.difference(&before.downloads).collect();
            for name in &kept {
                let (hex, part) = match name.strip_suffix(".rpm.part") {
                    Some(hex) => (hex, true),
                    None => (name.strip_suffix(".rpm").unwrap_or(""), false),
                };
                assert!(
                    hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
                    "{what}: unexpected download left in the store: {name}"
                );
                if !part {
                    let bytes = fs::read(after.root.join("downloads").join(name)).unwrap();
                    assert_eq!(
                        hex::encode(Sha256::digest(&bytes)),
                        hex,
                        "{what}: an unverified download kept as {name}"
                    );
                }
            }
            if !kept.is_empty() {
                eprintln!("[matrix] {what}: downloads kept for the next run: {kept:?}");
            }
            expected.downloads = after.downloads.clone();
            assert_eq!(&expected, after, "{what}: the store may gain only the jigdo's new content ({blobs} blobs)");
        }
    }
}

/// A store holding one unrelated package, so that "unchanged" compares against something.
fn seeded_store() -> Rejig {
    let rejig = Rejig::new();
    // Shares no content with the jigdo fixture's packages.
    let seed = corpus_package("rpm/RPMS/capstest-1.0-1.noarch.rpm");
    let v = rejig.json(&["import", p(&seed)]);
    assert_eq!(num(&v, "packages_imported"), 1, "the seed package imports: {v}");
    rejig
}

/// Runs `args`, which must be refused cleanly with every `needles` on stderr, and checks
/// that the store and `repo` (if any) are as they were. Returns stderr.
fn refused(rejig: &Rejig, repo: Option<&Path>, args: &[&str], needles: &[&str], allow: Allow) -> String {
    let out = refused_output(rejig, repo, args, allow);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "`rejig {}`: stderr should mention {needle:?}, got:\n{stderr}",
            args.join(" ")
        );
    }
    stderr
}

/// Runs `args`, which must be refused cleanly, and checks that the store and `repo` (if
/// any) are as they were.
fn refused_output(rejig: &Rejig, repo: Option<&Path>, args: &[&str], allow: Allow) -> Output {
    let what = args.join(" ");
    let store_before = store_state(rejig);
    let repo_before = repo.map(repo_state);
    let out = rejig.fails(args);
    if let (Some(repo), Some(before)) = (repo, &repo_before) {
        assert_repo_unchanged(repo, before, &what);
    }
    assert_store_unchanged(&store_before, &store_state(rejig), allow, &what);
    out
}

/// `rejig import PKG` refused, naming the package file and each of `needles`. `import` gives
/// each package's failure in its report on stdout and only a count on stderr (see
/// `import_says_why_a_package_failed_on_stderr`), so stderr must say that the package failed
/// and the report's failure line why. Returns that line.
fn import_refused(rejig: &Rejig, package: &Path, needles: &[&str]) -> String {
    let name = package.file_name().unwrap().to_string_lossy().into_owned();
    let out = refused_output(rejig, None, &["import", p(package)], Allow::Nothing);
    assert_stderr_mentions(&out, "1 of 1 packages failed", "that the package failed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find(|l| l.contains("failed:")).unwrap_or_else(|| {
        panic!("`rejig import {}`: no failure line in the report:\n{}", p(package), report("rejig import", &out))
    });
    for needle in std::iter::once(name.as_str()).chain(needles.iter().copied()) {
        assert!(line.contains(needle), "`rejig import {}`: the failure should mention {needle:?}: {line}", p(package));
    }
    eprintln!("[matrix] {}", line.trim());
    line.trim().to_owned()
}

// ----------------------------------------------------------------------------------------
// Packages to damage

fn write_package(dir: &Path, label: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(format!("{label}.rpm"));
    fs::write(&path, bytes).expect("write package");
    path
}

/// A copy of a test package (a key of `rejig_test_support::corpus`) with `damage` applied.
fn damaged(dir: &Path, key: &str, label: &str, damage: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    let mut bytes = fs::read(corpus_package(key)).expect("read the test package");
    damage(&mut bytes);
    write_package(dir, label, &bytes)
}

/// One entry of a package built with the rpm crate.
enum Item<'a> {
    File(&'a str, Vec<u8>),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
}

/// A v4 package with a zstd payload, built with the rpm crate (which checks nothing about
/// `..` or symlinks).
fn built(items: &[Item<'_>]) -> Vec<u8> {
    let mut builder = rpm::PackageBuilder::new("hostile", "1.0", "MIT", "noarch", "a hostile package");
    builder.release("1");
    builder.using_config(rpm::BuildConfig::v4().compression(rpm::CompressionType::Zstd).source_date(1_700_000_000u32));
    for item in items {
        match item {
            Item::File(path, data) => builder.with_file_contents(data.clone(), rpm::FileOptions::new(*path)),
            Item::Dir(path) => builder.with_dir_entry(rpm::FileOptions::dir(*path)),
            Item::Symlink(path, target) => builder.with_symlink(rpm::FileOptions::symlink(*path, *target)),
        }
        .unwrap_or_else(|e| panic!("the rpm crate refused to build the package: {e}"));
    }
    let mut bytes = Vec::new();
    builder.build().expect("build").write(&mut bytes).expect("serialise");
    bytes
}

const ZSTD: &str = "generated/ostree-fixture-1.0-1.w19.zstdio.noarch.rpm";
const UNCOMPRESSED: &str = "generated/ostree-fixture-1.0-1.w0.ufdio.noarch.rpm";
const STRIPPED: &str = "rpm-crate/RPMS/v6/rpm-file-types-1.0-1.noarch.rpm";
/// SUMMARY, a string whose bytes no check but the header digest covers.
const SUMMARY: u32 = 1004;

// ----------------------------------------------------------------------------------------
// Damaged RPMs

#[test]
fn damaged_rpm_headers_are_refused() {
    let tmp = tempdir();
    let rejig = seeded_store();
    let d = tmp.path();
    let main = |b: &[u8]| rpm_bytes::layout(b).main;

    let empty = damaged(d, ZSTD, "empty", |b| b.clear());
    import_refused(&rejig, &empty, &["lead", "truncated"]);
    let garbage = damaged(d, ZSTD, "garbage", |b| b[0] = b'x');
    import_refused(&rejig, &garbage, &["not an RPM"]);
    let in_signature = damaged(d, ZSTD, "truncated-signature", |b| b.truncate(140));
    import_refused(&rejig, &in_signature, &["signature header", "truncated"]);
    let in_header = damaged(d, ZSTD, "truncated-header", |b| b.truncate(main(b) + 100));
    import_refused(&rejig, &in_header, &["main header", "truncated"]);
    // A count in the main header's intro far beyond the file: refused before allocating.
    let huge = damaged(d, ZSTD, "huge-index-count", |b| {
        let at = main(b) + 8;
        b[at..at + 4].copy_from_slice(&0x00ff_ffffu32.to_be_bytes());
    });
    import_refused(&rejig, &huge, &["main header", "index entries"]);
}

#[test]
fn damaged_rpm_payloads_are_refused() {
    let tmp = tempdir();
    let rejig = seeded_store();
    let d = tmp.path();
    let truncated = damaged(d, ZSTD, "truncated-payload", |b| b.truncate(b.len() - 100));
    import_refused(&rejig, &truncated, &["payload"]);
    let cut_at_start = damaged(d, ZSTD, "payload-cut-at-start", |b| b.truncate(rpm_bytes::layout(b).payload + 3));
    import_refused(&rejig, &cut_at_start, &["payload"]);
    let corrupted = damaged(d, ZSTD, "corrupted-payload", |b| {
        let at = b.len() - 40;
        b[at] ^= 0x40;
    });
    import_refused(&rejig, &corrupted, &["payload"]);
}

#[test]
fn rpm_digests_that_do_not_match_are_refused() {
    let tmp = tempdir();
    let rejig = seeded_store();
    let d = tmp.path();
    // The main header changed under its SHA-256 (the summary's first byte).
    let header = damaged(d, ZSTD, "wrong-header-digest", |b| {
        let (at, _, _) = rpm_bytes::tag_data(b, rpm_bytes::layout(b).main, SUMMARY).expect("SUMMARY");
        b[at] ^= 0x01;
    });
    import_refused(&rejig, &header, &["main header", "SHA-256 mismatch"]);
    // The payload's recorded SHA-256 is wrong, the header sealed again: only it is wrong.
    let payload = damaged(d, ZSTD, "wrong-payload-digest", |b| {
        let (at, _, _) = rpm_bytes::tag_data(b, rpm_bytes::layout(b).main, PAYLOADDIGEST).expect("PAYLOADDIGEST");
        b[at] = if b[at] == b'0' { b'1' } else { b'0' };
        rpm_bytes::reseal_header(b);
    });
    import_refused(&rejig, &payload, &["payload", "SHA-256 mismatch"]);
    // One file's content changed in an uncompressed payload, both digests sealed again: only
    // the file digest is wrong.
    let file = damaged(d, UNCOMPRESSED, "wrong-file-digest", |b| {
        let needle = b"hello world";
        let at = b.windows(needle.len()).rposition(|w| w == needle).expect("the content is in the payload");
        b[at] = b'j';
        rpm_bytes::reseal_payload(b);
    });
    let line = import_refused(&rejig, &file, &["digest mismatch"]);
    assert!(line.contains("/usr/share/fixture/hello.txt"), "the error names the file inside the package: {line}");
}

// ----------------------------------------------------------------------------------------
// Hostile paths

fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn hostile_paths_traversal_is_refused() {
    let tmp = tempdir();
    let rejig = seeded_store();
    let d = tmp.path();
    let dotdot = write_package(d, "dotdot", &built(&[Item::File("/usr/../../etc/passwd", payload(10))]));
    import_refused(&rejig, &dotdot, &["/usr/../../etc/passwd", "'..' component"]);
    let dot = write_package(d, "dot", &built(&[Item::File("/usr/./bin/sh", payload(10))]));
    import_refused(&rejig, &dot, &["/usr/./bin/sh", "'.' component"]);
    // An empty component: the rpm crate collapses "//", so the DIRNAMES entry is patched.
    let empty = write_package(d, "empty-component", &{
        let mut b = built(&[Item::File("/usr/aa/f", payload(10))]);
        rpm_bytes::replace_in_main_header(&mut b, b"/usr/aa/\0", b"/usr//a/\0");
        rpm_bytes::reseal_header(&mut b);
        b
    });
    import_refused(&rejig, &empty, &["/usr//a/f", "empty component"]);
    // A dirname that is not absolute: the path would be relative to wherever rpm runs.
    let relative = write_package(d, "relative-dirname", &{
        let mut b = built(&[Item::File("/usr/ab/f", payload(10))]);
        rpm_bytes::replace_in_main_header(&mut b, b"/usr/ab/\0", b"usr/abc/\0");
        rpm_bytes::reseal_header(&mut b);
        b
    });
    import_refused(&rejig, &relative, &["usr/abc/f", "not absolute"]);
    // rejig inspect reads the same file table.
    let out = rejig.fails(&["inspect", p(&dotdot)]);
    assert_stderr_mentions(&out, "'..' component", "inspect refuses the traversal too");
}

#[test]
fn hostile_paths_through_the_packages_own_symlink_are_refused() {
    let tmp = tempdir();
    let rejig = seeded_store();
    let d = tmp.path();
    let through = write_package(
        d,
        "through-symlink",
        &built(&[Item::Symlink("/usr/x", "/etc"), Item::File("/usr/x/passwd", payload(20))]),
    );
    import_refused(&rejig, &through, &["/usr/x/passwd", "symlink \"/usr/x\" -> \"/etc\""]);
    let relative_link = write_package(
        d,
        "through-relative-symlink",
        &built(&[Item::Symlink("/usr/lib/x", "../../etc"), Item::Dir("/usr/lib/x/cron.d")]),
    );
    import_refused(&rejig, &relative_link, &["/usr/lib/x/cron.d", "symlink \"/usr/lib/x\""]);
    let below_file = write_package(
        d,
        "below-a-file",
        &built(&[Item::File("/usr/f", payload(5)), Item::File("/usr/f/g", payload(5))]),
    );
    import_refused(&rejig, &below_file, &["/usr/f/g", "non-directory"]);
    // A symlink to a directory with nothing packaged below it is ordinary.
    let fine = write_package(d, "fine", &built(&[Item::Symlink("/usr/x", "/etc"), Item::File("/usr/y", payload(5))]));
    let v = rejig.json(&["import", p(&fine)]);
    assert_eq!(num(&v, "packages_imported"), 1, "{v}");
}

#[test]
fn hostile_paths_listed_twice_are_refused() {
    let tmp = tempdir();
    let rejig = seeded_store();
    let twice = write_package(tmp.path(), "duplicate-path", &{
        let mut b = built(&[Item::File("/etc/passwd", payload(10)), Item::File("/etc/passwe", payload(11))]);
        rpm_bytes::replace_in_main_header(&mut b, b"passwe\0", b"passwd\0");
        rpm_bytes::reseal_header(&mut b);
        b
    });
    import_refused(&rejig, &twice, &["/etc/passwd", "appears twice"]);
}

// ----------------------------------------------------------------------------------------
// Lying packages

#[test]
fn lying_packages_sizes_that_lie_are_refused() {
    let tmp = tempdir();
    let rejig = seeded_store();
    let d = tmp.path();
    let with_size = |size: u32| {
        let mut b = built(&[Item::File("/usr/share/lie", payload(1000))]);
        rpm_bytes::set_main_integer(&mut b, FILESIZES, 0, size);
        rpm_bytes::reseal_header(&mut b);
        b
    };
    let smaller = write_package(d, "size-smaller", &with_size(10));
    import_refused(&rejig, &smaller, &["/usr/share/lie", "1000 bytes in the payload, 10 in the header"]);
    let larger = write_package(d, "size-larger", &with_size(0xffff_fff0));
    import_refused(&rejig, &larger, &["/usr/share/lie", "1000 bytes in the payload, 4294967280 in the header"]);
}

#[test]
fn lying_packages_decompression_bomb_is_refused() {
    // 64 MiB of zeros compress to a few KiB; the header then says the entry is an empty
    // directory, so the payload holds 64 MiB the header does not account for.
    let tmp = tempdir();
    let rejig = seeded_store();
    let mut b = built(&[Item::File("/usr/share/bomb", vec![0; 64 << 20])]);
    assert!(b.len() < 64 << 10, "the bomb should be small: {} bytes", b.len());
    rpm_bytes::set_main_integer(&mut b, FILEMODES, 0, 0o40755);
    rpm_bytes::set_main_integer(&mut b, FILESIZES, 0, 0);
    rpm_bytes::reseal_header(&mut b);
    let bomb = write_package(tmp.path(), "bomb", &b);
    import_refused(&rejig, &bomb, &["payload", "decompression bomb"]);
}

#[test]
fn lying_packages_stripped_index_out_of_range_is_refused() {
    // A v6 package with an uncompressed stripped (07070X) payload: the first record's file
    // index becomes 0xffff, the payload and header digests are sealed again.
    let tmp = tempdir();
    let rejig = seeded_store();
    let package = damaged(tmp.path(), STRIPPED, "stripped-index", |b| {
        let payload = rpm_bytes::layout(b).payload;
        let at = payload + b[payload..].windows(6).position(|w| w == b"07070X").expect("a stripped record");
        b[at + 6..at + 14].copy_from_slice(b"0000ffff");
        rpm_bytes::reseal_payload(b);
    });
    import_refused(&rejig, &package, &["stripped entry index 65535 out of range"]);
}

#[test]
fn import_says_why_a_package_failed_on_stderr() {
    let tmp = tempdir();
    let rejig = seeded_store();
    let package = damaged(tmp.path(), ZSTD, "truncated-payload", |b| b.truncate(b.len() - 100));
    refused(&rejig, None, &["import", p(&package)], &["truncated-payload.rpm", "payload"], Allow::Nothing);
}

// ----------------------------------------------------------------------------------------
// Hostile jigdos (the rows lying_jigdo.rs does not cover)

/// A zstd frame of stored (raw) blocks: what the zstd decoder reads, without a compressor,
/// so that tables can be wrapped exactly as they are patched.
fn zstd_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x28, 0xb5, 0x2f, 0xfd];
    out.push(0xe0); // 8-byte content size, single segment, no checksum, no dictionary
    out.extend((data.len() as u64).to_le_bytes());
    let blocks: Vec<&[u8]> = if data.is_empty() { vec![&[]] } else { data.chunks(128 << 10).collect() };
    for (i, block) in blocks.iter().enumerate() {
        let header = u32::from(i + 1 == blocks.len()) | (block.len() as u32) << 3; // type 0: raw
        out.extend(&header.to_le_bytes()[..3]);
        out.extend(*block);
    }
    out
}

/// Raw tables as shipped: declared size, then zstd.
fn shipped(raw: &[u8], declared: u64) -> Vec<u8> {
    let mut out = declared.to_le_bytes().to_vec();
    out.extend(zstd_stored(raw));
    out
}

/// A dirtree with names as raw bytes (no validation), as ostree would serialise it.
fn dirtree_bytes(files: &[(Vec<u8>, ObjectId)], dirs: &[(Vec<u8>, ObjectId, ObjectId)]) -> Vec<u8> {
    let name = |n: &[u8]| n.iter().copied().chain([0]).collect::<Vec<u8>>();
    let files = variable_array(
        files.iter().map(|(n, c)| TupleWriter::new().variable(1, &name(n)).last(1, c.as_bytes()).finish()),
        1,
    );
    let dirs = variable_array(
        dirs.iter().map(|(n, t, m)| {
            TupleWriter::new().variable(1, &name(n)).variable(1, t.as_bytes()).last(1, m.as_bytes()).finish()
        }),
        1,
    );
    TupleWriter::new().variable(1, &files).last(1, &dirs).finish()
}

type Listing = (Vec<(Vec<u8>, ObjectId)>, Vec<(Vec<u8>, ObjectId, ObjectId)>);

fn listing(bytes: &[u8]) -> Listing {
    let tree = DirTree::decode(bytes).expect("the fixture's dirtrees decode");
    let files = tree.files().iter().map(|f| (f.name.as_str().as_bytes().to_vec(), f.content)).collect();
    let dirs = tree.dirs().iter().map(|d| (d.name.as_str().as_bytes().to_vec(), d.tree, d.meta)).collect();
    (files, dirs)
}

/// The index in `jigdo.dirtrees` of the commit's root dirtree.
fn root_index(jigdo: &Jigdo) -> usize {
    let root = Commit::decode(&jigdo.commit_bytes).expect("commit").root_tree;
    jigdo.dirtrees.iter().position(|t| metadata_checksum(t) == root).expect("the root dirtree is in the table")
}

/// Gives `jigdo` a commit whose root is `root` (a changed root dirtree, already in the
/// table): the commit object, its checksum and the provide all agree, so only what changed
/// in the tree is wrong. Returns the provides.
fn recommit(jigdo: &mut Jigdo, root: ObjectId) -> Vec<String> {
    let mut commit = Commit::decode(&jigdo.commit_bytes).expect("commit");
    commit.root_tree = root;
    jigdo.commit_bytes = commit.encode();
    jigdo.commit = metadata_checksum(&jigdo.commit_bytes);
    vec![JIGDO_PROVIDE.to_owned(), commit_provide(&jigdo.commit)]
}

/// A store with the seed package, and an archive repository holding the golden commit at
/// `test/fixture`, which a refused export must leave exactly as it is.
fn jigdo_target(fixture: &Fixture) -> (Rejig, PathBuf) {
    let dir = fixture.dir.path().join(format!("target-{}", rand_suffix()));
    let repo = golden_repo(&dir, "repo", "archive");
    (seeded_store(), repo)
}

fn export_jigdo_args<'a>(jigdo: &'a Path, packages: &'a str, repo: &'a Path) -> Vec<&'a str> {
    vec!["export", p(jigdo), "--packages", packages, "--repo", p(repo), "--ref", "test/fixture", "--http-timeout", "2"]
}

/// `export JIGDO` refused, naming the jigdo file and each of `needles`, with the store and
/// the target as they were.
fn jigdo_refused(fixture: &Fixture, jigdo: &Path, needles: &[&str], allow: Allow) -> String {
    let (rejig, repo) = jigdo_target(fixture);
    let packages = p(&fixture.packages).to_owned();
    let stderr = refused(&rejig, Some(&repo), &export_jigdo_args(jigdo, &packages, &repo), needles, allow);
    assert_eq!(ostree_rev_parse(&repo, "test/fixture"), GOLDEN_COMMIT, "the ref moved");
    eprintln!("[matrix] {}: {}", jigdo.display(), stderr.trim());
    stderr
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn hostile_jigdo_tables_self_check() {
    // The stored-block wrapping, the test's records encoder and the dirtree encoder
    // reproduce the real jigdo, so the hostile variants below differ from the honest jigdo
    // only in what they change.
    let fixture = Fixture::new();
    let (jigdo, new) = fixture.parts();
    let head = fixture.head();
    let raw = head.encode_raw();
    assert_eq!(JigdoHead::decode(&shipped(&raw, raw.len() as u64)).expect("stored blocks decode"), head);
    let small = new.iter().map(|(_, b)| (rejig_format::BlobId::of(b), b.clone())).collect();
    let records = util::jigdo_fixture::raw_records(&jigdo, &small);
    let assembled = rejig_format::jigdo::assemble(&head, &records).expect("the test's records assemble");
    assert_eq!(assembled.jigdo.content, jigdo.content, "records encoder");
    assert_eq!(fixture.head_of(&jigdo, &new), head, "re-cut parts are the real ones");
    for tree in &jigdo.dirtrees {
        let (files, dirs) = listing(tree);
        assert_eq!(&dirtree_bytes(&files, &dirs), tree, "dirtree encoder");
    }
}

#[test]
fn hostile_jigdo_file_index_missing_or_a_directory() {
    let fixture = Fixture::new();
    let (jigdo, new) = fixture.parts();
    let files = new_files(&new);
    // A package entry whose file index is past the package's files, and one whose index is
    // a directory of that package: neither has content in the payload.
    let (victim, entry) = jigdo
        .content
        .iter()
        .enumerate()
        .find_map(|(i, e)| match e.source {
            ContentSource::Package { package, .. } => Some((package, i)),
            _ => None,
        })
        .expect("some content comes from a package");
    let nevra = jigdo.packages[victim as usize].nevra.to_string();
    let path = fixture.packages.join(format!("{nevra}.rpm"));
    let package = rejig_importer::rpm::package::Package::open(&path).expect("the fixture package reads");
    let count = package.files.files.len() as u32;
    let directory = package
        .files
        .files
        .iter()
        .position(|f| f.file_type() == rejig_importer::rpm::files::S_IFDIR)
        .expect("the package owns a directory") as u32;
    for (label, file) in [("index-past-the-end", count + 1000), ("index-of-a-directory", directory)] {
        let mut hostile = jigdo.clone();
        hostile.content[entry].source = ContentSource::Package { package: victim, file };
        let head = fixture.head_of(&hostile, &new);
        // The parts and the small new content are stored before the package fails.
        let new_content = Allow::JigdoNewContent { blobs: Fixture::stored_blobs(&head, &new) };
        let wrapped = fixture.wrap(label, &head.encode().unwrap(), &files, &fixture.provides());
        // The other packages are in the store already, so only the victim is fetched and
        // nothing else is imported: the failure is the only thing that happens.
        let (rejig, repo) = jigdo_target(&fixture);
        for other in fs::read_dir(&fixture.packages).unwrap() {
            let other = other.unwrap().path();
            if other != path {
                rejig.json(&["import", p(&other)]);
            }
        }
        let packages = p(&fixture.packages).to_owned();
        let stderr = refused(
            &rejig,
            Some(&repo),
            &export_jigdo_args(&wrapped, &packages, &repo),
            &[&nevra, &hostile.content[entry].object.to_hex(), &format!("file index {file}, which has no content")],
            new_content,
        );
        eprintln!("[matrix] {label}: {}", stderr.trim());
    }
}

/// An edge host's store backed by its repository imports content straight into it (FORMAT.md
/// §3b, direct import). A jigdo that gives a package's file another file's metadata names an
/// object the file's bytes do not make: the export is refused, that object never appears in
/// the repository, the store is as it was, and what the other files wrote is unreferenced
/// data: after `ostree prune --refs-only` the repository is exactly what it was. The honest
/// jigdo then exports into it.
#[test]
fn hostile_jigdo_metadata_a_package_file_does_not_take_leaves_a_backed_repository_as_it_was() {
    let fixture = Fixture::new();
    let (jigdo, new) = fixture.parts();
    let files = new_files(&new);
    let empty = rejig_format::BlobId::of(&[]);
    let entry = jigdo
        .content
        .iter()
        .position(|e| matches!(e.source, ContentSource::Package { .. }) && e.content != empty)
        .expect("some non-empty content comes from a package");
    let ContentSource::Package { package: victim, .. } = jigdo.content[entry].source else { unreachable!() };
    let nevra = jigdo.packages[victim as usize].nevra.to_string();
    let mut hostile = jigdo.clone();
    let meta = (0..hostile.metadata.len() as u32)
        .find(|&m| m != hostile.content[entry].meta)
        .expect("the fixture's files have more than one owner and mode");
    hostile.content[entry].meta = meta;
    let object = hostile.content[entry].object.to_hex();
    let head = fixture.head_of(&hostile, &new);
    let wrapped = fixture.wrap("other-metadata", &head.encode().unwrap(), &files, &fixture.provides());

    let dir = fixture.dir.path().join(format!("backed-{}", rand_suffix()));
    let repo = golden_repo(&dir, "repo", "bare-user");
    let repo_before = repo_state(&repo);
    let rejig = Rejig::new();
    rejig.json(&["init", "--backed-by", p(&repo)]);
    let store_before = store_state(&rejig);
    let packages = p(&fixture.packages).to_owned();
    let out = rejig.fails(&export_jigdo_args(&wrapped, &packages, &repo));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in [nevra.as_str(), &object, "does not rebuild from"] {
        assert!(stderr.contains(needle), "stderr should mention {needle:?}:\n{stderr}");
    }
    eprintln!("[matrix] other metadata, backed store: {}", stderr.trim());
    let path = repo.join("objects").join(&object[..2]).join(format!("{}.file", &object[2..]));
    assert!(!path.exists(), "the object the file does not make was published: {}", path.display());
    let allow = Allow::JigdoNewContent { blobs: Fixture::stored_blobs(&head, &new) };
    assert_store_unchanged(&store_before, &store_state(&rejig), allow, "refused backed export");
    assert_eq!(ostree_rev_parse(&repo, "test/fixture"), GOLDEN_COMMIT, "the ref moved");
    let written = repo_state(&repo).map_or(0, |after| after.len()) - repo_before.as_ref().map_or(0, |b| b.len());
    eprintln!("[matrix] other metadata, backed store: {written} unreferenced files left in the repository");
    ostree(&["prune", &format!("--repo={}", p(&repo)), "--refs-only"]);
    // Object directories stay, empty, as after any export.
    let without_object_dirs = |state: RepoState| -> RepoState {
        state.map(|files| files.into_iter().filter(|(k, v)| !(k.starts_with("objects/") && v == "directory")).collect())
    };
    assert_eq!(
        without_object_dirs(repo_state(&repo)),
        without_object_dirs(repo_before),
        "after ostree prune --refs-only, the repository is not what it was before the refused export"
    );

    let v = rejig.json(&export_jigdo_args(&fixture.jigdo, &packages, &repo));
    assert_eq!(text(&v, "commit"), fixture.commit, "{v}");
    assert!(num(&v, "objects_written_at_import") > 0, "the honest export imports into the repository: {v}");
    rejig.fsck_clean();
    let fsck = ostree(&["fsck", &format!("--repo={}", p(&repo))]);
    assert!(fsck.contains("no errors"), "{fsck}");
}

#[test]
fn hostile_jigdo_huge_declared_counts() {
    let fixture = Fixture::new();
    let (_, new) = fixture.parts();
    let files = new_files(&new);
    let head = fixture.head();
    let raw = head.encode_raw();
    // Where each count sits: the encoding up to it is the same with the later lists empty.
    let mut cut = head.clone();
    let mut counts = Vec::new();
    cut.parts.clear();
    counts.push(("parts", cut.encode_raw().len() - 4));
    cut.packages.clear();
    counts.push(("packages", cut.encode_raw().len() - 8));
    counts.push(("commit bytes", 8 + 4 + 32));
    for (label, at) in counts {
        let mut patched = raw.clone();
        patched[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let wrapped = fixture.wrap(
            &format!("huge-{}", label.replace(' ', "-")),
            &shipped(&patched, raw.len() as u64),
            &files,
            &fixture.provides(),
        );
        jigdo_refused(&fixture, &wrapped, &[&file_name(&wrapped), "jigdo tables"], Allow::Nothing);
    }
    // A declared raw size far over the limit, and one the data does not reach.
    for (label, declared) in [("huge-raw-size", u64::MAX), ("raw-size-1TiB", 1 << 40), ("raw-size-short", 100)] {
        let wrapped = fixture.wrap(label, &shipped(&raw, declared), &files, &fixture.provides());
        jigdo_refused(&fixture, &wrapped, &[&file_name(&wrapped), "jigdo tables"], Allow::Nothing);
    }
    // A records part that declares more than the records bound.
    let mut huge_part = head.clone();
    let victim = huge_part.parts.iter().position(|p| p.kind == rejig_format::jigdo::PartKind::Records).unwrap();
    huge_part.parts[victim].size = u64::MAX;
    let wrapped = fixture.wrap(
        "huge-records-part",
        &{
            let r = huge_part.encode_raw();
            shipped(&r, r.len() as u64)
        },
        &files,
        &fixture.provides(),
    );
    jigdo_refused(&fixture, &wrapped, &[&file_name(&wrapped), "over the"], Allow::Nothing);
}

#[test]
fn hostile_jigdo_invalid_dirtree_names() {
    let fixture = Fixture::new();
    let (jigdo, new) = fixture.parts();
    let files = new_files(&new);
    let root = root_index(&jigdo);
    let (root_files, root_dirs) = listing(&jigdo.dirtrees[root]);
    assert!(!root_dirs.is_empty(), "the fixture's root has directories");
    for (label, name, needle) in [
        ("dotdot", b"..".to_vec(), "\"..\""),
        ("dot", b".".to_vec(), "\".\""),
        ("slash", b"a/b".to_vec(), "\"a/b\""),
        ("empty", b"".to_vec(), "\"\""),
        ("not-utf8", b"us\xffr".to_vec(), "UTF-8"),
    ] {
        let mut dirs = root_dirs.clone();
        dirs[0].0 = name;
        let tree = dirtree_bytes(&root_files, &dirs);
        let mut hostile = jigdo.clone();
        hostile.dirtrees[root] = tree.clone();
        let provides = recommit(&mut hostile, metadata_checksum(&tree));
        let wrapped = fixture.wrap(&format!("name-{label}"), &fixture.tables(&hostile, &new), &files, &provides);
        jigdo_refused(&fixture, &wrapped, &[&file_name(&wrapped), needle], Allow::Nothing);
    }
}

#[test]
fn hostile_jigdo_walk_to_a_missing_or_mismatched_dirtree() {
    // A dirtree cannot list itself (its checksum would have to be in its own bytes), so a
    // cycle is impossible; what a hostile table can do is leave out an object the walk
    // reaches, carry one whose bytes do not hash to the checksum its parent names, or list
    // one twice.
    let fixture = Fixture::new();
    let (jigdo, new) = fixture.parts();
    let files = new_files(&new);
    let root = root_index(&jigdo);
    let (_, root_dirs) = listing(&jigdo.dirtrees[root]);
    let child = root_dirs[0].1;
    let child_index = jigdo.dirtrees.iter().position(|t| metadata_checksum(t) == child).expect("child");

    let mut missing = jigdo.clone();
    missing.dirtrees.remove(child_index);
    let wrapped = fixture.wrap("dirtree-missing", &fixture.tables(&missing, &new), &files, &fixture.provides());
    jigdo_refused(&fixture, &wrapped, &[&file_name(&wrapped), &format!("dirtree {child} is missing")], Allow::Nothing);

    // The child's bytes changed (one entry renamed) and its parent not updated.
    let mut mismatched = jigdo.clone();
    let (mut child_files, child_dirs) = listing(&jigdo.dirtrees[child_index]);
    match child_files.first_mut() {
        Some(first) => first.0.push(b'~'),
        None => panic!("the fixture's {} has files", String::from_utf8_lossy(&root_dirs[0].0)),
    }
    mismatched.dirtrees[child_index] = dirtree_bytes(&child_files, &child_dirs);
    let wrapped = fixture.wrap("dirtree-mismatch", &fixture.tables(&mismatched, &new), &files, &fixture.provides());
    jigdo_refused(&fixture, &wrapped, &[&file_name(&wrapped), &format!("dirtree {child} is missing")], Allow::Nothing);

    // The root dirmeta's bytes changed.
    let mut dirmeta = jigdo.clone();
    let meta = Commit::decode(&jigdo.commit_bytes).unwrap().root_meta;
    let at = dirmeta.dirmetas.iter().position(|m| metadata_checksum(m) == meta).unwrap();
    dirmeta.dirmetas[at][11] ^= 0o22; // group and other write bits of the mode
    let wrapped = fixture.wrap("dirmeta-mismatch", &fixture.tables(&dirmeta, &new), &files, &fixture.provides());
    jigdo_refused(&fixture, &wrapped, &[&file_name(&wrapped), &format!("dirmeta {meta} is missing")], Allow::Nothing);

    // The commit's bytes changed under its checksum (the subject).
    let mut commit = jigdo.clone();
    let mut decoded = Commit::decode(&commit.commit_bytes).unwrap();
    decoded.subject.push('!');
    commit.commit_bytes = decoded.encode();
    let wrapped = fixture.wrap("commit-mismatch", &fixture.tables(&commit, &new), &files, &fixture.provides());
    jigdo_refused(&fixture, &wrapped, &[&file_name(&wrapped), "commit object hashes to"], Allow::Nothing);
}

#[test]
fn hostile_jigdo_dirtree_listed_twice_or_unreachable() {
    let fixture = Fixture::new();
    let (jigdo, new) = fixture.parts();
    let files = new_files(&new);
    let mut twice = jigdo.clone();
    twice.dirtrees.push(jigdo.dirtrees[root_index(&jigdo)].clone());
    let wrapped = fixture.wrap("dirtree-twice", &fixture.tables(&twice, &new), &files, &fixture.provides());
    jigdo_refused(&fixture, &wrapped, &[&file_name(&wrapped), "dirtree"], Allow::Nothing);
    let mut unreachable = jigdo.clone();
    unreachable.dirtrees.push(dirtree_bytes(&[], &[]));
    let wrapped = fixture.wrap("dirtree-unreachable", &fixture.tables(&unreachable, &new), &files, &fixture.provides());
    jigdo_refused(&fixture, &wrapped, &[&file_name(&wrapped), "dirtree"], Allow::Nothing);
}

#[test]
fn jigdo_walk_that_reaches_one_dirtree_twice_terminates_and_exports() {
    // Two directories with the same listing and metadata share one dirtree, as in ostree:
    // the walk meets it twice and must neither loop nor refuse it.
    let fixture = Fixture::new();
    let (jigdo, new) = fixture.parts();
    let root = root_index(&jigdo);
    let (root_files, mut root_dirs) = listing(&jigdo.dirtrees[root]);
    let mut again = root_dirs[0].clone();
    again.0.extend_from_slice(b"-again");
    root_dirs.insert(1, again);
    root_dirs.sort();
    let tree = dirtree_bytes(&root_files, &root_dirs);
    let mut shared = jigdo.clone();
    shared.dirtrees[root] = tree.clone();
    let provides = recommit(&mut shared, metadata_checksum(&tree));
    let wrapped = fixture.wrap("dirtree-shared", &fixture.tables(&shared, &new), &new_files(&new), &provides);
    let repo = fixture.dir.path().join("shared-repo");
    let v = Rejig::new().json(&["export", p(&wrapped), "--packages", p(&fixture.packages), "--repo", p(&repo)]);
    assert_eq!(text(&v, "commit"), shared.commit.to_hex(), "{v}");
    verify_exported_repo(&repo, &shared.commit.to_hex());
}

// ----------------------------------------------------------------------------------------
// Network faults: `export JIGDO --packages http://127.0.0.1:PORT/ --http-timeout 2`

/// A copy of the fixture's packages made into an rpm-md repository by the real
/// `createrepo_c` (gzip primary metadata, simple file names).
fn mirror(fixture: &Fixture) -> PathBuf {
    let tree = fixture.dir.path().join(format!("mirror-{}", rand_suffix()));
    fs::create_dir_all(&tree).unwrap();
    for entry in fs::read_dir(&fixture.packages).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), tree.join(entry.file_name())).unwrap();
    }
    let out = run(Command::new("createrepo_c").args([
        "--no-database",
        "--simple-md-filenames",
        "--general-compress-type",
        "gz",
        p(&tree),
    ]));
    assert!(out.status.success(), "{}", report("createrepo_c", &out));
    tree
}

/// Runs `cmd` with `input` on stdin; requires success; returns stdout.
fn filter(cmd: &mut Command, input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "{}", report("filter", &out));
    out.stdout
}

/// Replaces the text of the first `<tag ...>` element of `xml` that starts after `from`.
fn set_element(xml: &mut String, from: usize, tag: &str, text: &str) {
    let open = from + xml[from..].find(&format!("<{tag}")).unwrap_or_else(|| panic!("no <{tag}>"));
    let start = open + xml[open..].find('>').unwrap() + 1;
    let end = start + xml[start..].find(&format!("</{tag}>")).unwrap();
    xml.replace_range(start..end, text);
}

/// Edits the repository's primary metadata with `edit`, then seals repomd.xml again
/// (checksums and sizes of the compressed and open primary), as createrepo_c would.
fn edit_primary(tree: &Path, edit: impl FnOnce(&str) -> String) {
    let gz = tree.join("repodata/primary.xml.gz");
    let xml = String::from_utf8(filter(Command::new("gzip").arg("-dc"), &fs::read(&gz).unwrap())).unwrap();
    let edited = edit(&xml);
    assert_ne!(edited, xml, "the edit changed nothing");
    let packed = filter(Command::new("gzip").args(["-n", "-c"]), edited.as_bytes());
    fs::write(&gz, &packed).unwrap();
    let repomd_path = tree.join("repodata/repomd.xml");
    let mut repomd = fs::read_to_string(&repomd_path).unwrap();
    let at = repomd.find("<data type=\"primary\">").expect("a primary entry");
    set_element(&mut repomd, at, "checksum", &hex::encode(Sha256::digest(&packed)));
    set_element(&mut repomd, at, "open-checksum", &hex::encode(Sha256::digest(edited.as_bytes())));
    set_element(&mut repomd, at, "size", &packed.len().to_string());
    set_element(&mut repomd, at, "open-size", &edited.len().to_string());
    fs::write(&repomd_path, repomd).unwrap();
}

/// The fixture's package the matrix attacks over the network: the largest in its table, so
/// that cut and stalled transfers leave some of it behind.
fn network_victim(fixture: &Fixture) -> (String, String) {
    let (jigdo, _) = fixture.parts();
    let nevra = jigdo
        .packages
        .iter()
        .map(|package| package.nevra.to_string())
        .max_by_key(|nevra| fs::metadata(fixture.packages.join(format!("{nevra}.rpm"))).unwrap().len())
        .unwrap();
    (nevra.clone(), format!("{nevra}.rpm"))
}

/// `export JIGDO --packages URL` refused with the store and the target as they were (but
/// for the jigdo's new content); returns stderr and how long the command took.
fn network_refused(fixture: &Fixture, url: &str, needles: &[&str]) -> (String, Duration) {
    let (_, new) = fixture.parts();
    let (rejig, repo) = jigdo_target(fixture);
    let started = Instant::now();
    let args = export_jigdo_args(&fixture.jigdo, url, &repo);
    let blobs = Fixture::stored_blobs(&fixture.head(), &new);
    let stderr = refused(&rejig, Some(&repo), &args, needles, Allow::JigdoNewContent { blobs });
    let took = started.elapsed();
    assert_eq!(ostree_rev_parse(&repo, "test/fixture"), GOLDEN_COMMIT, "the ref moved");
    eprintln!("[matrix] {url} ({took:.1?}): {}", stderr.trim());
    (stderr, took)
}

#[test]
fn network_repodata_that_points_at_another_package() {
    let fixture = Fixture::new();
    let (victim, file) = network_victim(&fixture);
    let other = fs::read_dir(&fixture.packages)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|name| *name != file)
        .unwrap();
    let other_size = fs::metadata(fixture.packages.join(&other)).unwrap().len().to_string();
    // The victim's entry names the other package's file; then also its size, so that only
    // the digests can tell.
    for also_size in [false, true] {
        let tree = mirror(&fixture);
        edit_primary(&tree, |xml| {
            let from = format!("<location href=\"{file}\"/>");
            let at = xml.find(&from).unwrap_or_else(|| panic!("createrepo_c's entry for {file}"));
            let mut xml = xml.replace(&from, &format!("<location href=\"{other}\"/>"));
            if also_size {
                let entry = xml[..at].rfind("<package ").unwrap();
                let size = entry + xml[entry..].find("<size package=\"").unwrap() + "<size package=\"".len();
                let end = size + xml[size..].find('"').unwrap();
                xml.replace_range(size..end, &other_size);
            }
            xml
        });
        let server = server::Server::start(&tree);
        let url = server.url();
        let (stderr, _) = network_refused(&fixture, &url, &[&victim, &format!("{url}{other}")]);
        let why = if also_size { "SHA-256 mismatch" } else { "the source says the file has" };
        assert!(stderr.contains(why), "the error says what does not match ({why}):\n{stderr}");
    }
}

#[test]
fn network_server_that_sends_wrong_bytes() {
    let fixture = Fixture::new();
    let tree = mirror(&fixture);
    let (victim, file) = network_victim(&fixture);
    let server = server::Server::start(&tree);
    server.fault(&file, server::Fault::WrongBytes, usize::MAX);
    let url = server.url();
    network_refused(&fixture, &url, &[&victim, &format!("{url}{file}"), "SHA-256 mismatch"]);
}

#[test]
fn network_server_that_truncates_every_transfer() {
    let fixture = Fixture::new();
    let tree = mirror(&fixture);
    let (victim, file) = network_victim(&fixture);
    assert!(fs::metadata(tree.join(&file)).unwrap().len() > 10_000, "the victim is larger than 3 cut transfers");
    let server = server::Server::start(&tree);
    server.fault(&file, server::Fault::Truncate { after: 1000 }, usize::MAX);
    let url = server.url();
    network_refused(&fixture, &url, &[&victim, &format!("{url}{file}"), "attempts"]);
    // Every attempt after the first resumed where the last one stopped.
    let seen = server.seen_for(&file);
    assert!(seen.len() >= 2, "{seen:?}");
    assert_eq!(seen[1].range.as_deref(), Some("bytes=1000-"), "{seen:?}");
}

#[test]
fn network_server_that_stalls_a_package_fails_within_a_bound() {
    let fixture = Fixture::new();
    let tree = mirror(&fixture);
    let (victim, file) = network_victim(&fixture);
    let server = server::Server::start(&tree);
    server.fault(&file, server::Fault::Stall { after: 1000 }, usize::MAX);
    let (stderr, took) = network_refused(&fixture, &server.url(), &[&victim]);
    assert!(stderr.contains("timed out") || stderr.contains("timeout"), "the error says it timed out:\n{stderr}");
    assert!(took < Duration::from_secs(60), "a stalled server held the export for {took:?}");
}

#[test]
fn network_server_that_stalls_or_never_answers_the_repodata_fails_within_a_bound() {
    let fixture = Fixture::new();
    let tree = mirror(&fixture);
    let server = server::Server::start(&tree);
    server.fault("repodata/repomd.xml", server::Fault::Stall { after: 10 }, usize::MAX);
    let (stderr, took) = network_refused(&fixture, &server.url(), &["repomd.xml"]);
    assert!(stderr.contains("timed out") || stderr.contains("timeout"), "the error says it timed out:\n{stderr}");
    assert!(took < Duration::from_secs(60), "a stalled server held the export for {took:?}");
    // A server that accepts connections (the kernel does, into the backlog) and never
    // answers a request at all.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", silent.local_addr().unwrap());
    let (stderr, took) = network_refused(&fixture, &url, &["repomd.xml", &url]);
    assert!(stderr.contains("timed out") || stderr.contains("timeout"), "the error says it timed out:\n{stderr}");
    assert!(took < Duration::from_secs(60), "a silent server held the export for {took:?}");
    drop(silent);
}

// ----------------------------------------------------------------------------------------
// Disk faults

/// A small tmpfs, unmounted when dropped (also when the test fails).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Self {
        fs::create_dir_all(at).unwrap();
        let options = format!("size={size},mode=0755");
        let out = run(Command::new("mount").args(["-t", "tmpfs", "-o", &options, "rejig-enospc", p(at)]));
        assert!(out.status.success(), "mounting a tmpfs (the tests run as root):\n{}", report("mount", &out));
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Never panic here: this may run while a failed assertion unwinds.
        let unmounted = Command::new("umount").arg(&self.0).status().is_ok_and(|s| s.success());
        if !unmounted {
            let lazy = Command::new("umount").arg("-l").arg(&self.0).status();
            eprintln!("umount {} failed; lazy unmount: {lazy:?}", self.0.display());
        }
    }
}

#[test]
fn disk_full_in_the_middle_of_an_export() {
    let tmp = tempdir();
    let tree = tmp.path().join("tree");
    generate_tree(&tree, &TreeOptions { random_entries: 60, large_files: 2, ..TreeOptions::new(23) });
    let src = tmp.path().join("src");
    ostree_init(&src, "archive");
    let commit = ostree_commit(&src, "test/full", &tree, "full disk");
    let rejig = Rejig::new();
    rejig.import(&src, &commit);
    let total = ostree_reachable(&src, &commit).len();

    // 1 MiB: the skeleton and the small objects fit, the incompressible 1+ MiB file does not.
    let mount = Tmpfs::mount(&tmp.path().join("mnt"), "1m");
    let repo = mount.0.join("repo");
    let out =
        refused_output(&rejig, None, &["export", &commit, "--repo", p(&repo), "--ref", "test/full"], Allow::Nothing);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("[matrix] disk full: {}", stderr.trim());
    assert!(stderr.contains("No space left on device"), "the error names the cause:\n{stderr}");
    assert!(stderr.contains(p(&repo)), "the error names the repository:\n{stderr}");

    // The ref was not written, and the commit object is not there either.
    assert!(
        files_under(&repo.join("refs")).is_empty(),
        "a failed export wrote a ref: {:?}",
        files_under(&repo.join("refs"))
    );
    assert!(!loose_path(&repo, &commit, "commit").exists(), "the commit object was written before its content");
    // It failed in the middle: some objects are there, not all.
    let written = loose_objects(&repo);
    eprintln!("[matrix] disk full: {} of {total} objects were written before ENOSPC", written.len());
    assert!(
        !written.is_empty() && written.len() < total,
        "{} of {total} objects written: not mid-export",
        written.len()
    );
    // No temporary file is left, and what was written is sound: ostree fsck passes, and every
    // object is byte for byte the one a complete export writes.
    let leftovers = files_under(&repo.join("tmp"));
    assert!(leftovers.is_empty(), "the failed export left temporary files: {leftovers:?}");
    ostree_fsck(&repo, 0);
    let good = tmp.path().join("good");
    rejig.export(&commit, &good, &["--ref", "test/full"]);
    verify_exported_repo(&good, &commit);
    for name in &written {
        let partial = fs::read(repo.join("objects").join(name)).unwrap();
        let complete = fs::read(good.join("objects").join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            partial == complete,
            "{name}: the object written before ENOSPC is not complete ({} of {} bytes)",
            partial.len(),
            complete.len()
        );
    }
    drop(mount);
}

// ----------------------------------------------------------------------------------------
// Contention

/// A child process killed and reaped when dropped (also when the test fails).
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether an exclusive OFD lock (what ostree's `prune` takes) is held on `file`.
fn ofd_write_locked(file: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = fs::metadata(file) else { return false };
    let inode = format!(":{}", meta.ino());
    fs::read_to_string("/proc/locks").unwrap().lines().any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.get(1) == Some(&"OFDLCK")
            && fields.get(3) == Some(&"WRITE")
            && fields.get(5).is_some_and(|f| f.ends_with(&inode))
    })
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn contention_repository_locked_by_a_running_ostree_prune() {
    let tmp = tempdir();
    let rejig = Rejig::new();
    rejig.import(&golden_repo(tmp.path(), "src", "archive"), "test/fixture");
    // A real `ostree prune` holds the repository lock exclusively for as long as we like: it
    // takes the lock, then walks the refs, and one ref names a commit whose object is a FIFO,
    // so it blocks opening it.
    let target = tmp.path().join("target");
    ostree_init(&target, "archive");
    let blocker = "ab".repeat(32);
    let fifo = loose_path(&target, &blocker, "commit");
    fs::create_dir_all(fifo.parent().unwrap()).unwrap();
    rustix::fs::mknodat(rustix::fs::CWD, &fifo, rustix::fs::FileType::Fifo, rustix::fs::Mode::from(0o644), 0)
        .expect("mkfifo");
    fs::write(target.join("refs/heads/blocker"), format!("{blocker}\n")).unwrap();
    let prune = Command::new("ostree")
        .args(["prune", &format!("--repo={}", p(&target)), "--refs-only"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ostree runs");
    let mut prune = Reaped(prune);
    wait_for("ostree prune to take the repository lock", Duration::from_secs(30), || {
        assert!(prune.0.try_wait().unwrap().is_none(), "ostree prune exited instead of holding the lock");
        ofd_write_locked(&target.join(".lock"))
    });

    // rejig waits as ostree would (30 s), then gives up with a message; nothing is written.
    let started = Instant::now();
    let args = ["export", GOLDEN_COMMIT, "--repo", p(&target), "--ref", "test/fixture"];
    let stderr = refused(&rejig, Some(&target), &args, &[p(&target), "locked exclusively", "30s"], Allow::Nothing);
    let took = started.elapsed();
    eprintln!("[matrix] locked by ostree prune ({took:.1?}): {}", stderr.trim());
    assert!(took < Duration::from_secs(120), "the wait for the lock is bounded, but took {took:?}");
    assert!(prune.0.try_wait().unwrap().is_none(), "ostree prune held the lock all along");
    assert!(ofd_write_locked(&target.join(".lock")), "ostree prune held the lock all along");

    // With ostree gone (and its trap removed) the same export works.
    drop(prune);
    fs::remove_file(target.join("refs/heads/blocker")).unwrap();
    fs::remove_file(&fifo).unwrap();
    rejig.export(GOLDEN_COMMIT, &target, &["--ref", "test/fixture"]);
    verify_exported_repo(&target, GOLDEN_COMMIT);
}

#[test]
fn contention_two_rejig_processes_on_one_store() {
    // The first holds the store while it waits on a stalled download; the second says whom
    // it waits for, and goes ahead when the first has failed (cleanly).
    let fixture = Fixture::new();
    let tree = mirror(&fixture);
    let (victim, file) = network_victim(&fixture);
    let server = server::Server::start(&tree);
    server.fault(&file, server::Fault::Stall { after: 1000 }, usize::MAX);
    let (rejig, repo) = jigdo_target(&fixture);
    let repo_before = repo_state(&repo);
    let url = server.url();
    let first = rejig
        .command(&export_jigdo_args(&fixture.jigdo, &url, &repo))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let first_pid = first.id();
    let mut first = Reaped(first);
    wait_for("the first rejig to reach the stalled download", Duration::from_secs(30), || {
        assert!(first.0.try_wait().unwrap().is_none(), "the first rejig ended before the download stalled");
        !server.seen_for(&file).is_empty()
    });

    let started = Instant::now();
    let second = rejig.run(&["import", p(&corpus_package("rpm/RPMS/hello-1.0-1.i386.rpm"))]);
    let took = started.elapsed();
    assert!(second.status.success(), "the second rejig fails:\n{}", report("rejig import", &second));
    let waited = String::from_utf8_lossy(&second.stderr);
    eprintln!("[matrix] second rejig ({took:.1?}): {}", waited.trim());
    assert!(waited.contains("waiting for the store lock"), "the second says it waits:\n{waited}");
    assert!(waited.contains(&format!("pid {first_pid}")), "the second names the holder:\n{waited}");
    assert!(took < Duration::from_secs(60), "the second waited {took:?} for a first bounded by --http-timeout");

    // The second got the lock only when the first had ended (the kernel drops the lock as
    // the process exits, a moment before its exit status is there to collect).
    wait_for("the first rejig to be reaped", Duration::from_secs(10), || first.0.try_wait().unwrap().is_some());
    let status = first.0.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(first.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    eprintln!("[matrix] first rejig: {}", stderr.trim());
    assert!(!status.success() && status.code().is_some(), "the first fails cleanly: {status:?}\n{stderr}");
    assert!(!stderr.contains("panicked at"), "{stderr}");
    assert!(stderr.contains(&victim) && stderr.contains("timeout"), "the first names the stalled package:\n{stderr}");
    assert_repo_unchanged(&repo, &repo_before, "the first rejig");
    let after = store_state(&rejig);
    assert_eq!(after.packages, 2, "the seed and the second's package: {after:?}");
    assert_eq!(after.objects, 0, "the failed rebuild stored no object: {after:?}");
}
