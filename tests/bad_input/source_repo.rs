//! Bad input through the `rejig` binary: damaged or missing objects in source repos, unknown
//! revs and commits. Each must fail with a non-zero exit and a message naming the culprit, and
//! leave the store sound and without any object of the refused commit.

use crate::util;

use std::fs;
use std::path::{Path, PathBuf};

use util::*;

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("rejig-bad-input-").tempdir().expect("temp dir")
}

/// A small generated tree (with a > 1 MiB file) committed into a new repo of `mode`.
fn small_repo(dir: &Path, mode: &str) -> (PathBuf, String) {
    // Not "tree": golden_repo builds the fixture there.
    let tree = dir.join("small-tree");
    if !tree.exists() {
        generate_tree(&tree, &TreeOptions { random_entries: 30, large_files: 1, ..TreeOptions::new(5) });
    }
    let repo = dir.join(format!("src-{mode}"));
    ostree_init(&repo, mode);
    let commit = ostree_commit(&repo, "test/bad", &tree, "bad input");
    (repo, commit)
}

/// After a refused import the store must be sound and hold nothing of the commit.
fn assert_store_untouched(rejig: &Rejig, commit: &str, dir: &Path) {
    let report = rejig.fsck_clean();
    assert_eq!(num(&report, "objects"), 0, "a refused import must leave no object in the store: {report}");
    let target = dir.join("export-after-refused-import");
    let out = rejig.fails(&["export", commit, "--repo", p(&target)]);
    assert_stderr_mentions(&out, commit, "the commit the store does not hold");
}

/// Imports `rev` from `repo` and requires a clean failure naming every string of `names`.
fn assert_import_fails_naming(rejig: &Rejig, repo: &Path, rev: &str, names: &[(&str, &str)]) -> String {
    let out = rejig.fails(&["import", "--repo", p(repo), "--rev", rev]);
    for (needle, why) in names {
        assert_stderr_mentions(&out, needle, why);
    }
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn truncated_content_object_in_archive_repo() {
    let tmp = tempdir();
    let (repo, commit) = small_repo(tmp.path(), "archive");
    let (path, checksum) = largest_object(&repo, "filez");
    let len = fs::metadata(&path).expect("stat").len();
    fs::OpenOptions::new().write(true).open(&path).expect("open").set_len(len / 2).expect("truncate");

    let rejig = Rejig::new();
    assert_import_fails_naming(&rejig, &repo, "test/bad", &[(&checksum, "the truncated object")]);
    assert_store_untouched(&rejig, &commit, tmp.path());
}

#[test]
fn corrupted_content_object_in_bare_user_repo() {
    let tmp = tempdir();
    let (repo, commit) = small_repo(tmp.path(), "bare-user");
    let (path, checksum) = largest_object(&repo, "file");
    let tree_path = ostree_file_checksums(&repo, &commit)
        .into_iter()
        .find(|(_, sum)| *sum == checksum)
        .map(|(path, _)| path)
        .expect("the object belongs to a file of the tree");
    let len = fs::metadata(&path).expect("stat").len();
    flip_byte(&path, len / 2);

    let rejig = Rejig::new();
    let stderr = assert_import_fails_naming(&rejig, &repo, "test/bad", &[(&checksum, "the corrupted object")]);
    let object_path = format!("{}/{}.file", &checksum[..2], &checksum[2..]);
    assert!(
        stderr.contains(&object_path) || stderr.contains(&tree_path),
        "stderr should name the path of the corrupted object ({object_path} or {tree_path}), got:\n{stderr}"
    );
    assert_store_untouched(&rejig, &commit, tmp.path());
}

/// The golden fixture in an archive repo, damaged by `damage`, must be refused naming `culprit`.
fn damaged_fixture(name: &str, damage: impl FnOnce(&Path), culprit: &str, why: &str) {
    damaged_fixture_in(name, "archive", damage, culprit, why);
}

/// The golden fixture in a `mode` repo, damaged by `damage`, must be refused naming `culprit`.
fn damaged_fixture_in(name: &str, mode: &str, damage: impl FnOnce(&Path), culprit: &str, why: &str) {
    let tmp = tempdir();
    let repo = golden_repo(tmp.path(), name, mode);
    damage(&repo);
    let rejig = Rejig::new();
    assert_import_fails_naming(&rejig, &repo, "test/fixture", &[(culprit, why)]);
    assert_store_untouched(&rejig, GOLDEN_COMMIT, tmp.path());
}

#[test]
fn corrupted_dirtree_object() {
    // "run.sh" becomes "sun.sh": still a well-formed dirtree, but not the one referenced.
    damaged_fixture(
        "dirtree",
        |repo| flip_byte(&loose_path(repo, GOLDEN_BIN_DIRTREE, "dirtree"), 0),
        GOLDEN_BIN_DIRTREE,
        "the corrupted dirtree",
    );
}

#[test]
fn corrupted_dirmeta_object() {
    // The low byte of the mode: 040700 becomes another, still valid-looking, mode.
    damaged_fixture(
        "dirmeta",
        |repo| flip_byte(&loose_path(repo, GOLDEN_PRIVATE_DIRMETA, "dirmeta"), 11),
        GOLDEN_PRIVATE_DIRMETA,
        "the corrupted dirmeta",
    );
}

#[test]
fn corrupted_commit_object() {
    // The first byte of the subject.
    damaged_fixture(
        "commit",
        |repo| flip_byte(&loose_path(repo, GOLDEN_COMMIT, "commit"), 0),
        GOLDEN_COMMIT,
        "the commit",
    );
}

#[test]
fn corrupted_archive_header_uid() {
    // hello.txt.filez: 8-byte prefix, size u64, then uid BE at 16..20. The payload is intact.
    damaged_fixture(
        "uid",
        |repo| flip_byte(&loose_path(repo, GOLDEN_HELLO, "filez"), 19),
        GOLDEN_HELLO,
        "the object whose header uid was changed",
    );
}

#[test]
fn corrupted_archive_header_xattr_value() {
    // The last byte of the header's xattrs is in the value "bar" of user.foo.
    damaged_fixture(
        "xattr",
        |repo| {
            let path = loose_path(repo, GOLDEN_XATTR_FILE, "filez");
            let bytes = fs::read(&path).expect("read");
            let at = bytes.windows(3).position(|w| w == b"bar").expect("the value bar is in the header");
            flip_byte(&path, at as u64 + 1);
        },
        GOLDEN_XATTR_FILE,
        "the object whose xattr value was changed",
    );
}

#[test]
fn corrupted_symlink_target() {
    let link = "f66efa496a72379413c44593de510dc344beb045294f1a543da87b2b6118db35";
    damaged_fixture(
        "symlink",
        |repo| {
            let path = loose_path(repo, link, "filez");
            let bytes = fs::read(&path).expect("read");
            let at = bytes.windows(9).position(|w| w == b"hello.txt").expect("the target is in the header");
            flip_byte(&path, at as u64);
        },
        link,
        "the symlink whose target was changed",
    );
}

#[test]
fn bare_user_ostreemeta_with_another_owner() {
    // hello.txt is 1000:1001; its user.ostreemeta now says 0:0 (same mode, no xattrs).
    damaged_fixture_in(
        "ostreemeta",
        "bare-user",
        |repo| {
            let meta = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x81, 0xa4];
            set_xattr(&loose_path(repo, GOLDEN_HELLO, "file"), "user.ostreemeta", &meta);
        },
        GOLDEN_HELLO,
        "the object whose user.ostreemeta was changed",
    );
}

#[test]
fn bare_user_object_without_ostreemeta() {
    let run_sh = "89b350d278ff59ba4780bc377b8ebfee8ade6b55c99fab1ec84e133bc6ea52c5";
    damaged_fixture_in(
        "no-ostreemeta",
        "bare-user",
        |repo| {
            rustix::fs::lremovexattr(loose_path(repo, run_sh, "file"), "user.ostreemeta").expect("removexattr");
        },
        run_sh,
        "the object without user.ostreemeta",
    );
}

#[test]
fn bare_object_with_another_owner() {
    damaged_fixture_in(
        "bare-owner",
        "bare",
        |repo| chown(&loose_path(repo, GOLDEN_HELLO, "file"), 0, 0),
        GOLDEN_HELLO,
        "the object whose owner was changed",
    );
}

#[test]
fn bare_object_with_a_removed_xattr() {
    damaged_fixture_in(
        "bare-xattr",
        "bare",
        |repo| {
            rustix::fs::lremovexattr(loose_path(repo, GOLDEN_XATTR_FILE, "file"), "user.abc").expect("removexattr");
        },
        GOLDEN_XATTR_FILE,
        "the object that lost an xattr",
    );
}

#[test]
fn missing_content_object() {
    damaged_fixture(
        "missing",
        |repo| fs::remove_file(loose_path(repo, GOLDEN_HELLO, "filez")).expect("remove object"),
        GOLDEN_HELLO,
        "the missing object",
    );
}

#[test]
fn refused_import_keeps_earlier_content() {
    // A good import, then a refused one of another commit: the store keeps exactly the first.
    let tmp = tempdir();
    let good = golden_repo(tmp.path(), "good", "archive");
    let rejig = Rejig::new();
    rejig.import(&good, "test/fixture");
    let (bad, commit) = small_repo(tmp.path(), "archive");
    let (path, checksum) = largest_object(&bad, "filez");
    let len = fs::metadata(&path).expect("stat").len();
    flip_byte(&path, len / 2);
    assert_import_fails_naming(&rejig, &bad, "test/bad", &[(&checksum, "the corrupted object")]);
    let report = rejig.fsck_clean();
    assert_eq!(num(&report, "objects"), GOLDEN_OBJECTS, "only the first commit's objects remain: {report}");
    rejig.fails(&["export", &commit, "--repo", p(&tmp.path().join("t1"))]);
    let target = tmp.path().join("t2");
    rejig.export(GOLDEN_COMMIT, &target, &[]);
    verify_exported_repo(&target, GOLDEN_COMMIT);
}

#[test]
fn export_of_an_unknown_commit() {
    let tmp = tempdir();
    let rejig = Rejig::new();
    let unknown = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let target = tmp.path().join("target");
    let out = rejig.fails(&["export", unknown, "--repo", p(&target), "--ref", "x"]);
    assert_stderr_mentions(&out, unknown, "the unknown commit");

    // Also with a store that holds another commit, and into an existing repo.
    rejig.import(&golden_repo(tmp.path(), "src", "archive"), "test/fixture");
    let existing = tmp.path().join("existing");
    ostree_init(&existing, "bare-user");
    let out = rejig.fails(&["export", unknown, "--repo", p(&existing), "--ref", "x"]);
    assert_stderr_mentions(&out, unknown, "the unknown commit");
    assert!(!existing.join("refs/heads/x").exists(), "a failed export must not create the ref");
    assert!(loose_objects(&existing).is_empty(), "a failed export of an unknown commit wrote objects");

    // Not a checksum at all.
    rejig.fails(&["export", "not-a-checksum", "--repo", p(&existing)]);
}

#[test]
fn import_of_a_rev_that_does_not_exist() {
    let tmp = tempdir();
    let repo = golden_repo(tmp.path(), "src", "archive");
    let rejig = Rejig::new();
    let out = rejig.fails(&["import", "--repo", p(&repo), "--rev", "no/such-ref"]);
    assert_stderr_mentions(&out, "no/such-ref", "the missing ref");
    let unknown = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
    let out = rejig.fails(&["import", "--repo", p(&repo), "--rev", unknown]);
    assert_stderr_mentions(&out, unknown, "the missing commit");
    let not_a_repo = tmp.path().join("not-a-repo");
    fs::create_dir(&not_a_repo).expect("mkdir");
    let out = rejig.fails(&["import", "--repo", p(&not_a_repo), "--rev", "test/fixture"]);
    assert_stderr_mentions(&out, "not-a-repo", "the path that is not a repository");
    let report = rejig.fsck_clean();
    assert_eq!(num(&report, "objects"), 0, "failed imports stored objects: {report}");
}

#[test]
fn export_with_an_invalid_ref_name() {
    let tmp = tempdir();
    let rejig = Rejig::new();
    rejig.import(&golden_repo(tmp.path(), "src", "archive"), "test/fixture");
    let target = tmp.path().join("sub").join("target");
    for bad in ["../../../escaped", "with space", "/absolute", "a//b", "trailing/", ".hidden"] {
        let out = rejig.fails(&["export", GOLDEN_COMMIT, "--repo", p(&target), "--ref", bad]);
        assert_stderr_mentions(&out, bad, "the invalid ref name");
    }
    assert!(!tmp.path().join("escaped").exists(), "a ref name escaped refs/heads/");
    if target.join("refs").exists() {
        let refs = ostree(&["refs", &format!("--repo={}", p(&target))]);
        assert!(refs.trim().is_empty(), "invalid ref names created refs: {refs:?}");
    }
}

#[test]
fn export_mode_mismatch_and_non_repo_targets() {
    let tmp = tempdir();
    let rejig = Rejig::new();
    rejig.import(&golden_repo(tmp.path(), "src", "archive"), "test/fixture");

    // --mode must not turn an archive repo into a mix of modes.
    let archive = tmp.path().join("archive");
    ostree_init(&archive, "archive");
    let out = rejig.fails(&["export", GOLDEN_COMMIT, "--repo", p(&archive), "--mode", "bare-user"]);
    assert_stderr_mentions(&out, "archive", "the repo's actual mode");
    assert!(loose_objects(&archive).is_empty(), "a refused export wrote objects into the archive repo");
    assert_eq!(repo_mode(&archive), "archive", "a refused export changed the repo's mode");

    // A regular file, and a non-empty directory that is not a repository.
    let file = tmp.path().join("a-file");
    fs::write(&file, b"not a repo").expect("write");
    rejig.fails(&["export", GOLDEN_COMMIT, "--repo", p(&file)]);
    assert_eq!(fs::read(&file).expect("read"), b"not a repo", "the file was changed");
    let dir = tmp.path().join("a-dir");
    fs::create_dir(&dir).expect("mkdir");
    fs::write(dir.join("junk"), b"junk").expect("write");
    let out = rejig.fails(&["export", GOLDEN_COMMIT, "--repo", p(&dir)]);
    assert_stderr_mentions(&out, "a-dir", "the directory that is not a repository");
    assert_eq!(fs::read_dir(&dir).expect("readdir").count(), 1, "the directory was written into");
}

// ----------------------------------------------------------------------------------------
// Hostile repositories: objects that hash correctly but that ostree itself refuses.

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

/// Writes `bytes` as a loose object named by its SHA-256; returns the checksum.
fn put_object(repo: &Path, bytes: &[u8], ext: &str) -> String {
    let checksum = sha256_hex(bytes);
    let path = loose_path(repo, &checksum, ext);
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(&path, bytes).expect("write object");
    checksum
}

/// A dirtree `(a(say)a(sayay))` with one file entry and no subdirectory (1-byte offsets).
fn dirtree_one_file(name: &str, content: &str) -> Vec<u8> {
    dirtree_files(&[(name, content)])
}

/// A dirtree with the given file entries, in the given order, and no subdirectory (small
/// enough for 1-byte offsets).
fn dirtree_files(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ends = Vec::new();
    for (name, content) in entries {
        let start = out.len();
        out.extend(name.as_bytes());
        out.push(0);
        let name_end = (out.len() - start) as u8;
        out.extend(unhex(content));
        out.push(name_end);
        ends.push(out.len() as u8);
    }
    out.extend(ends); // the files array's offset table
    assert!(out.len() < 255, "dirtree_files only writes 1-byte offsets");
    out.push(out.len() as u8); // the tuple's offset: end of the files array
    out
}

/// An archive content object and its checksum for a regular-file-like header with `mode`,
/// owned by 0:0, no xattrs, empty payload.
fn archive_empty_content(mode: u32) -> (Vec<u8>, String) {
    let mut h = Vec::new();
    h.extend(0u32.to_be_bytes());
    h.extend(0u32.to_be_bytes());
    h.extend(mode.to_be_bytes());
    h.extend(0u32.to_be_bytes());
    h.push(0); // empty symlink target
    h.push(0x11); // its end
    let mut canonical = (h.len() as u32).to_be_bytes().to_vec();
    canonical.extend([0; 4]);
    canonical.extend(&h);
    let mut z = 0u64.to_be_bytes().to_vec();
    z.extend(&h[..17]);
    z.push(0x19);
    let mut filez = (z.len() as u32).to_be_bytes().to_vec();
    filez.extend([0; 4]);
    filez.extend(&z);
    filez.extend([0x03, 0x00]); // empty raw deflate stream
    (filez, sha256_hex(&canonical))
}

/// Copies the golden archive repo, adds a commit like the golden one but with the given root
/// dirtree and dirmeta, points `refs/heads/evil` at it, and requires that `ostree fsck`
/// refuses it (the oracle) and that `rejig import` does too, naming one of `culprits`.
fn hostile(name: &str, build: impl FnOnce(&Path) -> (String, String), culprits: &[&str]) {
    let tmp = tempdir();
    let repo = golden_repo(tmp.path(), name, "archive");
    let (root_dirtree, root_dirmeta) = build(&repo);
    let mut commit = fs::read(loose_path(&repo, GOLDEN_COMMIT, "commit")).expect("read golden commit");
    commit[24..56].copy_from_slice(&unhex(&root_dirtree));
    commit[56..88].copy_from_slice(&unhex(&root_dirmeta));
    let checksum = put_object(&repo, &commit, "commit");
    fs::write(repo.join("refs/heads/evil"), format!("{checksum}\n")).expect("write ref");

    // The oracle: ostree fsck refuses it, or at least ostree checkout does.
    let fsck = ostree_output(&["fsck", &format!("--repo={}", p(&repo))]);
    if fsck.status.success() {
        let co = ostree_output(&["checkout", &format!("--repo={}", p(&repo)), "evil", p(&tmp.path().join("co"))]);
        assert!(
            !co.status.success(),
            "harness check: ostree should refuse the {name} repo:\n{}",
            report("ostree checkout", &co)
        );
    }

    let rejig = Rejig::new();
    let out = rejig.fails(&["import", "--repo", p(&repo), "--rev", "evil"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(culprits.iter().any(|c| stderr.contains(c)), "stderr should name one of {culprits:?}, got:\n{stderr}");
    assert_store_untouched(&rejig, &checksum, tmp.path());
}

const GOLDEN_ROOT_DIRMETA: &str = "446a0ef11b7cc167f3b603e585c7eeeeb675faa412d5ec73f62988eb0b6c5488";
const GOLDEN_EMPTY_FILE: &str = "cc700d46f407c6c5ab2d5dde474366a928b7398277e61162e7f8ec06f469f07e";

#[test]
fn hostile_dirtree_encoder_self_check() {
    let run_sh = "89b350d278ff59ba4780bc377b8ebfee8ade6b55c99fab1ec84e133bc6ea52c5";
    assert_eq!(sha256_hex(&dirtree_one_file("run.sh", run_sh)), GOLDEN_BIN_DIRTREE, "dirtree encoder");
    let (_, empty) = archive_empty_content(0o100644);
    assert_eq!(empty, GOLDEN_EMPTY_FILE, "content header encoder");
}

#[test]
fn hostile_dirtree_names() {
    for bad in ["../evil", "a/b", ".", "..", ""] {
        let bytes = dirtree_one_file(bad, GOLDEN_EMPTY_FILE);
        let dirtree = sha256_hex(&bytes);
        hostile(
            &format!("dirtree-name-{}", bad.replace(['/', '.'], "_")),
            |repo| (put_object(repo, &bytes, "dirtree"), GOLDEN_ROOT_DIRMETA.to_string()),
            &[&dirtree, &format!("{bad:?}")],
        );
    }
}

#[test]
fn hostile_dirtree_with_a_duplicate_name() {
    let bytes = dirtree_files(&[("twice", GOLDEN_EMPTY_FILE), ("twice", GOLDEN_HELLO)]);
    let dirtree = sha256_hex(&bytes);
    hostile(
        "duplicate",
        |repo| (put_object(repo, &bytes, "dirtree"), GOLDEN_ROOT_DIRMETA.to_string()),
        &[&dirtree, "twice"],
    );
}

#[test]
fn hostile_dirmeta_that_is_not_a_directory() {
    let mut bytes = vec![0; 8];
    bytes.extend(0o100644u32.to_be_bytes());
    let dirmeta = sha256_hex(&bytes);
    hostile(
        "dirmeta-not-dir",
        |repo| {
            let dirtree = fs::read(loose_path(repo, GOLDEN_COMMIT, "commit")).expect("read")[24..56].to_vec();
            let dirtree: String = dirtree.iter().map(|b| format!("{b:02x}")).collect();
            (dirtree, put_object(repo, &bytes, "dirmeta"))
        },
        &[&dirmeta],
    );
}

#[test]
fn hostile_content_objects_that_are_not_files_or_symlinks() {
    // A FIFO, a character device, and a regular file with bits beyond 07777.
    for (label, mode) in [("fifo", 0o010644u32), ("chardev", 0o020644), ("bad-bits", 0o100644 | 0o10000)] {
        let (filez, content) = archive_empty_content(mode);
        let bytes = dirtree_one_file("special", &content);
        hostile(
            &format!("content-{label}"),
            |repo| {
                put_object_named(repo, &content, &filez, "filez");
                (put_object(repo, &bytes, "dirtree"), GOLDEN_ROOT_DIRMETA.to_string())
            },
            &[&content],
        );
    }
}

fn put_object_named(repo: &Path, checksum: &str, bytes: &[u8], ext: &str) {
    let path = loose_path(repo, checksum, ext);
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(&path, bytes).expect("write object");
}
