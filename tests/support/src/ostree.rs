//! The real `ostree` CLI as the oracle: repositories, commits, checkouts, `fsck`, listings of
//! what a commit reaches, loose-object layout and its comparison, and the golden fixture
//! (a small tree whose commit checksums are known).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::files::{chmod, chown, mkdir, set_xattr, symlink, write};
use crate::process::{p, report, run};
use crate::tree::{all_xattrs, show_xattrs};

/// The commit `ostree commit` makes of the golden fixture (archive, bare-user, bare).
pub const GOLDEN_COMMIT: &str = "36dadcd6c20fc06952a019d06370033421453e492a199444ec8b90cdc8621191";
/// The golden fixture committed into a bare-user-only repo (canonicalized).
pub const GOLDEN_CANONICAL_COMMIT: &str = "54a46958aba0dfc2d73072f41b7dec67881d32f106ad6020ef7611cb3dcd2756";
/// The second fixture commit of §4 (parent, body, metadata with `v` and `as`).
pub const GOLDEN_SECOND_COMMIT: &str = "01be1591e8a033e237ad792a921c6627a1e36a8431ddbcdb806e49568eaf70f8";
/// Number of distinct objects the golden commit reaches, the commit included.
pub const GOLDEN_OBJECTS: u64 = 12;
/// The fixture's `bin` dirtree.
pub const GOLDEN_BIN_DIRTREE: &str = "230db4e51acc220a7118c2f5904c9e45b637e0ef4a6093ba58aab0c6e303ae51";
/// The fixture's dirmeta for 0:0 040700 (`private`).
pub const GOLDEN_PRIVATE_DIRMETA: &str = "84641b0a39d8c873690da8f32aea21cf5d6fff354f85e045f6f5ecdc8e7758d0";
/// The fixture's `hello.txt` content object (owned by 1000:1001).
pub const GOLDEN_HELLO: &str = "1cf7d7006ffc3322270a4cbd6034ca0fdc6f659cdc42ab65313354861079adca";
/// The fixture's `xattr.txt` content object (two user xattrs).
pub const GOLDEN_XATTR_FILE: &str = "3fd0b9b9d2ea6fa465afc7269b0e876ea035776355b1853cb8d1717e882e0273";

/// The timestamp every test commit uses.
pub const TIMESTAMP: &str = "2024-01-01T00:00:00Z";

/// The repository modes rejig writes besides bare-user-only.
pub const FULL_MODES: [&str; 3] = ["archive", "bare-user", "bare"];

/// True for 64 lowercase hex digits.
pub fn is_checksum(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
// ----------------------------------------------------------------------------------------
// ostree

/// Runs `ostree ARGS…`, whatever the exit status.
pub fn ostree_output(args: &[&str]) -> Output {
    run(Command::new("ostree").args(args))
}

/// Runs `ostree ARGS…`, requires success, returns stdout.
pub fn ostree(args: &[&str]) -> String {
    let out = ostree_output(args);
    assert!(out.status.success(), "ostree failed:\n{}", report(&format!("ostree {}", args.join(" ")), &out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `ostree init --repo=REPO --mode=MODE`.
pub fn ostree_init(repo: &Path, mode: &str) {
    ostree(&["init", &format!("--repo={}", p(repo)), &format!("--mode={mode}")]);
}

/// `ostree commit` with a fixed timestamp and no ref bindings; returns the commit checksum.
pub fn ostree_commit(repo: &Path, branch: &str, tree: &Path, subject: &str) -> String {
    let out = ostree(&[
        "commit",
        &format!("--repo={}", p(repo)),
        &format!("--branch={branch}"),
        &format!("--subject={subject}"),
        &format!("--timestamp={TIMESTAMP}"),
        "--no-bindings",
        p(tree),
    ]);
    let checksum = out.trim().to_string();
    assert!(is_checksum(&checksum), "ostree commit printed {out:?}, not a checksum");
    checksum
}

/// `ostree rev-parse`.
pub fn ostree_rev_parse(repo: &Path, rev: &str) -> String {
    ostree(&["rev-parse", &format!("--repo={}", p(repo)), rev]).trim().to_string()
}

/// The repo's configured mode (`core.mode`), with `archive-z2` reported as `archive`.
pub fn repo_mode(repo: &Path) -> String {
    let mode = ostree(&["config", &format!("--repo={}", p(repo)), "get", "core.mode"]).trim().to_string();
    if mode == "archive-z2" {
        "archive".to_string()
    } else {
        mode
    }
}

/// Runs `ostree fsck` and requires it to verify at least `min_commits` commits with no error.
pub fn ostree_fsck(repo: &Path, min_commits: usize) {
    let args = ["fsck", &format!("--repo={}", p(repo))];
    let out = ostree_output(&args);
    let what = format!("ostree {}", args.join(" "));
    assert!(out.status.success(), "ostree fsck found problems:\n{}", report(&what, &out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let verified = stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix("Verifying content integrity of ")?.split_whitespace().next()?.parse::<usize>().ok()
        })
        .unwrap_or(0);
    assert!(
        verified >= min_commits,
        "ostree fsck verified {verified} commits, expected at least {min_commits} (a partial commit is skipped):\n{}",
        report(&what, &out)
    );
    assert!(stdout.contains("no errors found"), "ostree fsck did not report success:\n{}", report(&what, &out));
}

/// The whole oracle for an exported repo: full skeleton, commit present and not partial, no
/// temporary files left in `tmp/`, `ostree fsck`, and `ostree pull-local --untrusted` (which
/// re-checksums every object) into a fresh bare-user repo, itself fsck'd.
pub fn verify_exported_repo(repo: &Path, commit: &str) {
    verify_exported_repo_allowing(repo, commit, &[]);
}

/// [`verify_exported_repo`], tolerating the given files in `tmp/` (left by a killed writer).
pub fn verify_exported_repo_allowing(repo: &Path, commit: &str, allowed_tmp: &[PathBuf]) {
    for dir in ["objects", "tmp", "state", "extensions", "refs/heads", "refs/mirrors", "refs/remotes"] {
        assert!(repo.join(dir).is_dir(), "exported repo {} lacks {dir}/ of the `ostree init` skeleton", repo.display());
    }
    assert!(repo.join("config").is_file(), "exported repo {} lacks config", repo.display());
    let commit_obj = loose_path(repo, commit, "commit");
    assert!(commit_obj.is_file(), "commit object {} missing", commit_obj.display());
    let partial = repo.join("state").join(format!("{commit}.commitpartial"));
    assert!(!partial.exists(), "export left {} behind: ostree treats the commit as partial", partial.display());
    let leftovers: Vec<PathBuf> =
        files_under(&repo.join("tmp")).into_iter().filter(|f| !allowed_tmp.contains(f)).collect();
    assert!(leftovers.is_empty(), "export left temporary files in {}/tmp: {leftovers:?}", repo.display());
    ostree_fsck(repo, 1);
    let fresh = tempfile::Builder::new().prefix("pull-local-").tempdir().expect("temp dir");
    let dest = fresh.path().join("repo");
    ostree_init(&dest, "bare-user");
    ostree(&["pull-local", "--untrusted", &format!("--repo={}", p(&dest)), p(repo), commit]);
    ostree_fsck(&dest, 1);
}

/// Every non-directory under `dir`, recursively (nothing if `dir` is missing).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else { return out };
    for entry in entries {
        let entry = entry.expect("dir entry");
        if entry.file_type().expect("file type").is_dir() {
            out.extend(files_under(&entry.path()));
        } else {
            out.push(entry.path());
        }
    }
    out
}

/// `objects/XX/YYYY….EXT` in `repo`.
pub fn loose_path(repo: &Path, checksum: &str, ext: &str) -> PathBuf {
    repo.join("objects").join(&checksum[..2]).join(format!("{}.{ext}", &checksum[2..]))
}

/// Every loose object file under `repo/objects`, as `XX/YYYY….ext`.
pub fn loose_objects(repo: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let objects = repo.join("objects");
    for dir in fs::read_dir(&objects).unwrap_or_else(|e| panic!("reading {}: {e}", objects.display())) {
        let dir = dir.expect("dir entry");
        if !dir.file_type().expect("file type").is_dir() {
            continue;
        }
        for entry in fs::read_dir(dir.path()).expect("objects subdir") {
            let entry = entry.expect("dir entry");
            out.insert(format!("{}/{}", dir.file_name().to_string_lossy(), entry.file_name().to_string_lossy()));
        }
    }
    out
}

/// An object of a commit: checksum and type (`commit`, `dirtree`, `dirmeta`, `file`).
pub type ObjectName = (String, &'static str);

/// Every object `rev` reaches (the commit included), from `ostree ls -R -C`.
pub fn ostree_reachable(repo: &Path, rev: &str) -> BTreeSet<ObjectName> {
    let commit = ostree_rev_parse(repo, rev);
    let listing = ostree(&["ls", &format!("--repo={}", p(repo)), "-R", "-C", &commit]);
    let mut out = BTreeSet::new();
    out.insert((commit, "commit"));
    for line in listing.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let bad = || -> ! { panic!("unexpected `ostree ls -R -C` line: {line:?}") };
        let kind = fields.first().and_then(|f| f.chars().next()).unwrap_or_else(|| bad());
        let sum = |i: usize| -> String {
            let s = fields.get(i).copied().unwrap_or_else(|| bad());
            assert!(is_checksum(s), "expected a checksum at field {i} of {line:?}");
            s.to_string()
        };
        if kind == 'd' {
            out.insert((sum(4), "dirtree"));
            out.insert((sum(5), "dirmeta"));
        } else {
            out.insert((sum(4), "file"));
        }
    }
    out
}

/// Path (in the tree) → content checksum of every regular file and symlink, from
/// `ostree ls -R -C`.
pub fn ostree_file_checksums(repo: &Path, rev: &str) -> BTreeMap<String, String> {
    let listing = ostree(&["ls", &format!("--repo={}", p(repo)), "-R", "-C", rev]);
    let mut out = BTreeMap::new();
    for line in listing.lines().filter(|l| l.starts_with('-') || l.starts_with('l')) {
        // MODE UID GID SIZE CHECKSUM PATH[ -> TARGET]; PATH is the rest of the line.
        let mut rest = line;
        let mut fields = Vec::new();
        for _ in 0..5 {
            rest = rest.trim_start();
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            fields.push(&rest[..end]);
            rest = &rest[end..];
        }
        let path = rest.trim_start();
        let path = if line.starts_with('l') { path.split(" -> ").next().unwrap_or(path) } else { path };
        assert!(is_checksum(fields[4]), "unexpected `ostree ls -R -C` line: {line:?}");
        out.insert(path.to_string(), fields[4].to_string());
    }
    out
}

/// `ostree checkout` as root (owners, modes and xattrs restored) of `rev` into `dest`.
pub fn ostree_checkout(repo: &Path, rev: &str, dest: &Path) {
    ostree(&["checkout", &format!("--repo={}", p(repo)), rev, p(dest)]);
}

/// The largest loose object of the given extension in `repo`: its path and checksum.
pub fn largest_object(repo: &Path, ext: &str) -> (PathBuf, String) {
    let best = loose_objects(repo)
        .into_iter()
        .filter(|name| name.ends_with(&format!(".{ext}")))
        .map(|name| {
            let path = repo.join("objects").join(&name);
            let len = fs::symlink_metadata(&path).expect("stat object").len();
            (len, path, name.replace('/', "").trim_end_matches(&format!(".{ext}")).to_string())
        })
        .max()
        .unwrap_or_else(|| panic!("no .{ext} object in {}", repo.display()));
    (best.1, best.2)
}

/// Builds the golden fixture tree of `ostree-format.md` §4 at `dir/tree` and returns that path.
pub fn golden_tree(dir: &Path) -> PathBuf {
    let tree = dir.join("tree");
    mkdir(&tree.join("bin"));
    mkdir(&tree.join("private"));
    write(&tree.join("hello.txt"), b"hello world\n");
    write(&tree.join("empty"), b"");
    symlink("hello.txt", &tree.join("link"));
    write(&tree.join("bin/run.sh"), b"#!/bin/sh\necho hi\n");
    write(&tree.join("private/secret"), b"s3cret\n");
    write(&tree.join("xattr.txt"), b"xattr file\n");
    // foo first: listxattr order differs from sorted order.
    set_xattr(&tree.join("xattr.txt"), "user.foo", b"bar");
    set_xattr(&tree.join("xattr.txt"), "user.abc", b"xyz");
    for (path, uid, gid) in [
        ("", 0, 0),
        ("hello.txt", 1000, 1001),
        ("empty", 0, 0),
        ("link", 0, 0),
        ("xattr.txt", 0, 0),
        ("bin", 0, 0),
        ("bin/run.sh", 0, 0),
        ("private", 0, 0),
        ("private/secret", 0, 0),
    ] {
        chown(&tree.join(path), uid, gid);
    }
    for (path, mode) in [
        ("hello.txt", 0o644),
        ("empty", 0o644),
        ("xattr.txt", 0o644),
        ("bin/run.sh", 0o755),
        ("private/secret", 0o600),
        ("", 0o755),
        ("bin", 0o755),
        ("private", 0o700),
    ] {
        chmod(&tree.join(path), mode);
    }
    tree
}

/// Builds the golden tree under `dir`, commits it into a new repo `dir/NAME` of `mode` with
/// the §4 command, and checks the oracle agrees with the spec. Returns the repo path.
pub fn golden_repo(dir: &Path, name: &str, mode: &str) -> PathBuf {
    let tree = dir.join("tree");
    if !tree.exists() {
        golden_tree(dir);
    }
    let repo = dir.join(name);
    ostree_init(&repo, mode);
    let commit = ostree_commit(&repo, "test/fixture", &tree, "fixture");
    let want = if mode == "bare-user-only" { GOLDEN_CANONICAL_COMMIT } else { GOLDEN_COMMIT };
    assert_eq!(
        commit, want,
        "the harness did not rebuild the golden fixture: ostree committed it into {mode} as {commit}"
    );
    repo
}

// ----------------------------------------------------------------------------------------
// Repository object layout

/// Compares every loose object of `ours` (written by rejig) with the one `ostree commit`
/// wrote into `theirs` (same mode): the same set of object files, and for each the same file
/// type, permissions, owner, xattrs (`user.ostreemeta` in bare-user, the real ones in bare),
/// mtime 0 where ostree uses 0, and the same bytes (for archive `.filez`, the same header
/// before the deflate stream, whose bytes depend on the compressor).
pub fn assert_objects_match(theirs: &Path, ours: &Path, context: &str) {
    let a = loose_objects(theirs);
    let b = loose_objects(ours);
    let mut problems = Vec::new();
    for missing in a.difference(&b) {
        problems.push(format!("{missing}: missing from rejig's repo"));
    }
    for extra in b.difference(&a) {
        problems.push(format!("{extra}: written by rejig, not by ostree"));
    }
    for name in a.intersection(&b) {
        let pa = theirs.join("objects").join(name);
        let pb = ours.join("objects").join(name);
        let ma = fs::symlink_metadata(&pa).expect("lstat");
        let mb = fs::symlink_metadata(&pb).expect("lstat");
        let mut d = Vec::new();
        if ma.mode() != mb.mode() {
            d.push(format!("st_mode {:o} vs {:o}", ma.mode(), mb.mode()));
        }
        if (ma.uid(), ma.gid()) != (mb.uid(), mb.gid()) {
            d.push(format!("owner {}:{} vs {}:{}", ma.uid(), ma.gid(), mb.uid(), mb.gid()));
        }
        if ma.file_type().is_file() && ma.mtime() == 0 && mb.mtime() != 0 {
            d.push(format!("mtime 0 vs {}", mb.mtime()));
        }
        let xa = all_xattrs(&pa);
        let xb = all_xattrs(&pb);
        if xa != xb {
            d.push(format!("xattrs {} vs {}", show_xattrs(&xa), show_xattrs(&xb)));
        }
        if ma.file_type().is_symlink() {
            if fs::read_link(&pa).ok() != fs::read_link(&pb).ok() {
                d.push("symlink target".to_string());
            }
        } else if ma.file_type().is_file() && mb.file_type().is_file() {
            let da = fs::read(&pa).expect("read object");
            let db = fs::read(&pb).expect("read object");
            if name.ends_with(".filez") {
                let header = |bytes: &[u8]| -> Vec<u8> {
                    let len = bytes
                        .get(..4)
                        .map(|l| u32::from_be_bytes(l.try_into().expect("4 bytes")) as usize)
                        .unwrap_or(0);
                    bytes.get(..8 + len).unwrap_or(bytes).to_vec()
                };
                if header(&da) != header(&db) {
                    d.push(format!("archive header {:02x?} vs {:02x?}", header(&da), header(&db)));
                }
            } else if da != db {
                d.push(format!("bytes differ ({} vs {} bytes)", da.len(), db.len()));
            }
        }
        if !d.is_empty() {
            problems.push(format!("{name}: {} (ostree vs rejig)", d.join("; ")));
        }
    }
    if !problems.is_empty() {
        let total = problems.len();
        problems.truncate(20);
        let mut msg = String::new();
        let _ = write!(
            msg,
            "{context}: {total} object differences between ostree's {} and rejig's {}:\n  ",
            theirs.display(),
            ours.display()
        );
        msg.push_str(&problems.join("\n  "));
        panic!("{msg}");
    }
}
