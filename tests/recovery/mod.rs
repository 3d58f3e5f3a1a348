//! Recovery that never makes things worse (issue 15, routes 1–5 and two holes of item 7).
//! Each test is one route by which a damaged store used to lose data: an index that is
//! missing, empty, truncated, garbage or another store's, taken for an empty store and then
//! emptied by gc; a repair killed or starved of file descriptors half way; a repair that
//! forgot which root was used last; a repair that could not open the very index it exists
//! for; one flipped byte that no repair healed; and `--store` paths that are not stores.
//!
//! The store is real: the jigdo fixture's four packages and its commit (real `ostree`, real
//! `rpm`), imported, exported and built by the `rejig` binary.
#![allow(clippy::unwrap_used)]

use crate::util;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use util::jigdo_fixture::Fixture;
use util::{middle_of_largest_blob, num, ostree_commit, ostree_fsck, ostree_init, p, report, run, Rejig};

/// The pack file names of a store.
fn pack_names(store: &Path) -> BTreeSet<String> {
    let Ok(entries) = fs::read_dir(store.join("packs")) else { return BTreeSet::new() };
    entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).filter(|n| n.ends_with(".pack")).collect()
}

/// Copies a store directory (`cp -a`), so each damage starts from the same store.
fn copy_store(from: &Path, to: &Path) -> Rejig {
    let out = run(Command::new("cp").arg("-a").arg(from).arg(to));
    assert!(out.status.success(), "{}", report("cp -a", &out));
    Rejig::with_store(to)
}

/// The roots gc would keep with no limit, as a set of checksums (gc with no limit drops no
/// root), asked of a copy of the store so that the store itself is left as it is.
fn roots(rejig: &Rejig) -> BTreeSet<String> {
    let scratch = tempfile::tempdir().unwrap();
    let copy = copy_store(rejig.store(), &scratch.path().join("store"));
    let gc = copy.json(&["gc"]);
    gc["roots_kept"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect()
}

/// True when a pack's trailer lists a root (FORMAT.md §2: the body's sections are blobs, tag
/// 1, 57 bytes each; objects, tag 2, a 33-byte key and a u32-prefixed record; roots, tag 3).
fn pack_lists_root(pack: &Path) -> bool {
    let bytes = fs::read(pack).unwrap();
    let len = bytes.len();
    let trailer_len = u64::from_le_bytes(bytes[len - 16..len - 8].try_into().unwrap()) as usize;
    let body = &bytes[len - 16 - trailer_len + 32..len - 16];
    let u32_at = |at: usize| u32::from_le_bytes(body[at..at + 4].try_into().unwrap()) as usize;
    let mut at = 4;
    while at + 5 <= body.len() {
        let (tag, count) = (body[at], u32_at(at + 1));
        at += 5;
        match tag {
            1 => at += count * 57,
            2 => {
                for _ in 0..count {
                    at += 33;
                    at += 4 + u32_at(at);
                }
            }
            3 => return count > 0,
            _ => return false,
        }
    }
    false
}

/// Flips one byte in the middle of the largest blob of `pack`.
fn flip(pack: &Path) {
    let at = middle_of_largest_blob(pack) as usize;
    let mut bytes = fs::read(pack).unwrap();
    bytes[at] ^= 0x40;
    fs::write(pack, bytes).unwrap();
}

/// A store holding the fixture's packages and its commit (one pack per package, one for the
/// commit), and the fixture.
fn filled_store() -> (Fixture, Rejig) {
    let f = Fixture::new();
    let rejig = Rejig::new();
    rejig.json(&["import", p(&f.packages)]);
    rejig.import(&f.dir.path().join("compose"), "os");
    (f, rejig)
}

fn assert_refused(out: &std::process::Output, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("fsck --repair"), "{what}: the refusal must point at fsck --repair:\n{stderr}");
}

// ----------------------------------------------------------------------------------------
// Route 1 and route 4

/// Damage done to `index` (the second path: another store, whose index a copy can take).
type Damage = Box<dyn Fn(&Path, &Path)>;

/// Ways to lose the index, each applied to a copy of one store.
fn damages() -> Vec<(&'static str, Damage)> {
    vec![
        ("missing", Box::new(|index: &Path, _: &Path| fs::remove_file(index).unwrap())),
        ("empty", Box::new(|index: &Path, _: &Path| fs::write(index, b"").unwrap())),
        (
            "truncated",
            Box::new(|index: &Path, _: &Path| {
                let len = fs::metadata(index).unwrap().len();
                fs::OpenOptions::new().write(true).open(index).unwrap().set_len(len / 3).unwrap();
            }),
        ),
        ("garbage", Box::new(|index: &Path, _: &Path| fs::write(index, vec![0xa5; 64 * 1024]).unwrap())),
        (
            "foreign",
            Box::new(|index: &Path, other: &Path| fs::copy(other.join("index.redb"), index).map(drop).unwrap()),
        ),
    ]
}

#[test]
fn a_lost_empty_truncated_garbage_or_foreign_index_is_refused_and_gc_deletes_nothing() {
    let (f, rejig) = filled_store();
    let before = rejig.fsck_clean();
    let packs = pack_names(rejig.store());
    assert!(packs.len() >= 5, "one pack per package and one for the commit: {packs:?}");
    // Another store, with one pack of its own: its index is a valid index, of another store.
    let other = Rejig::new();
    other.import(&f.dir.path().join("compose"), "os");
    let scratch = tempfile::tempdir().unwrap();

    for (name, damage) in damages() {
        let copy = copy_store(rejig.store(), &scratch.path().join(name));
        damage(&copy.store().join("index.redb"), other.store());
        let fsck = copy.fails(&["fsck"]);
        assert_refused(&fsck, &format!("fsck on a {name} index"));
        let gc = copy.fails(&["gc"]);
        assert_refused(&gc, &format!("gc on a {name} index"));
        let export = copy.fails(&["export", &f.commit, "--repo", p(&scratch.path().join(format!("{name}-repo")))]);
        assert_refused(&export, &format!("export on a {name} index"));
        assert_eq!(pack_names(copy.store()), packs, "{name}: no pack may go");

        // Route 4: the repair opens what it exists for, and keeps the bad index aside.
        let repaired = copy.json(&["fsck", "--repair"]);
        let after = copy.fsck_clean();
        for key in ["packs", "objects", "blobs", "bytes"] {
            assert_eq!(num(&after, key), num(&before, key), "{name}: {key} after repair\n{repaired}");
        }
        let aside = fs::read_dir(copy.store())
            .unwrap()
            .any(|e| e.unwrap().file_name().to_string_lossy().starts_with("index.redb.damaged-"));
        assert_eq!(aside, name != "missing", "{name}: a damaged index is kept aside: {repaired}");
        let repo = scratch.path().join(format!("{name}-repo"));
        copy.export(&f.commit, &repo, &[]);
        ostree_fsck(&repo, 1);
    }
}

#[test]
fn fsck_repair_opens_a_truncated_index_in_place() {
    let (_f, rejig) = filled_store();
    let before = rejig.fsck_clean();
    let index = rejig.store().join("index.redb");
    let len = fs::metadata(&index).unwrap().len();
    fs::OpenOptions::new().write(true).open(&index).unwrap().set_len(len / 2).unwrap();
    let repaired = rejig.json(&["fsck", "--repair"]);
    assert_eq!(num(&repaired, "objects"), num(&before, "objects"), "{repaired}");
    assert!(repaired["repaired"]["damaged_index_moved_to"].is_string(), "{repaired}");
}

// ----------------------------------------------------------------------------------------
// Route 2

/// `strace -f` of a successful `fsck --repair` on a copy: per thread, how many calls of each
/// durability syscall it made.
fn calibrate(rejig: &Rejig, scratch: &Path, syscalls: &[&str]) -> Vec<(String, usize)> {
    let copy = copy_store(rejig.store(), &scratch.join("calibration"));
    let trace = scratch.join("calibration.strace");
    let out = run(Command::new("strace")
        .args(["-f", "-qq", "-o", p(&trace), "-e", &format!("trace={}", syscalls.join(","))])
        .arg("--")
        .arg(util::rejig_bin())
        .arg("--store")
        .arg(copy.store())
        .args(["--json", "fsck", "--repair"])
        .env("RAYON_NUM_THREADS", "1"));
    assert!(out.status.success(), "{}", report("strace rejig fsck --repair (is strace installed?)", &out));
    let text = fs::read_to_string(&trace).unwrap();
    let mut counts = std::collections::BTreeMap::<(String, String), usize>::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let (Some(tid), Some(call)) = (words.next(), words.next()) else { continue };
        if let Some(name) = syscalls.iter().find(|s| call.starts_with(&format!("{s}("))) {
            *counts.entry((name.to_string(), tid.to_owned())).or_default() += 1;
        }
    }
    let mut most = std::collections::BTreeMap::<String, usize>::new();
    for ((name, _), n) in counts {
        let m = most.entry(name).or_default();
        *m = (*m).max(n);
    }
    most.into_iter().collect()
}

#[test]
fn a_repair_killed_at_any_durability_call_leaves_the_old_index_or_the_new() {
    let (_f, rejig) = filled_store();
    let objects = num(&rejig.fsck_clean(), "objects");
    let scratch = tempfile::tempdir().unwrap();
    let expected = roots(&copy_store(rejig.store(), &scratch.path().join("roots")));
    assert_eq!(expected.len(), 1, "{expected:?}");
    let plan = calibrate(&rejig, scratch.path(), &["fsync", "fdatasync", "rename", "renameat2", "unlink", "pwrite64"]);
    assert!(plan.iter().any(|(name, n)| name == "rename" && *n > 0), "the repair renames its index: {plan:?}");
    let mut trials = 0;
    for (name, count) in &plan {
        // Every call of the rare ones; a spread of the frequent writes.
        let step = if *count > 24 { count / 12 } else { 1 };
        for nth in (1..=*count).step_by(step) {
            trials += 1;
            let copy = copy_store(rejig.store(), &scratch.path().join(format!("{name}-{nth}")));
            let out = run(Command::new("strace")
                .args(["-f", "-qq", "-o", "/dev/null", "-e", &format!("inject={name}:signal=KILL:when={nth}")])
                .arg("--")
                .arg(util::rejig_bin())
                .arg("--store")
                .arg(copy.store())
                .args(["--json", "fsck", "--repair"])
                .env("RAYON_NUM_THREADS", "1"));
            let what = format!("fsck --repair killed on {name} #{nth}");
            let after = copy.fsck_clean();
            assert_eq!(num(&after, "objects"), objects, "{what}: a partial index\n{}", report(&what, &out));
            assert_eq!(roots(&copy), expected, "{what}: roots lost");
            fs::remove_dir_all(copy.store()).unwrap();
        }
    }
    assert!(trials >= 10, "only {trials} kill points: {plan:?}");
    eprintln!("recovery: fsck --repair killed at {trials} points, calls per thread {plan:?}: each left a whole index");
}

/// Writes `count` small packages, each with content of its own, into `dir`.
fn small_packages(dir: &Path, count: usize) {
    fs::create_dir_all(dir).unwrap();
    for index in 0..count {
        let mut builder = rpm::PackageBuilder::new(&format!("small{index}"), "1.0", "MIT", "noarch", "recovery test");
        builder.using_config(rpm::BuildConfig::v4().compression(rpm::CompressionType::Zstd).source_date(1u32));
        let data = util::Rng::new(index as u64 + 100).bytes(4_000);
        builder.with_file_contents(data, rpm::FileOptions::new(format!("/usr/share/small{index}/data"))).unwrap();
        builder.build().unwrap().write_file(dir.join(format!("small{index}-1.0-1.noarch.rpm"))).unwrap();
    }
}

/// The counts of an fsck report that a repair must keep.
fn counts(v: &Value) -> Vec<(&'static str, u64)> {
    ["packs", "objects", "blobs", "packages", "bytes"].into_iter().map(|k| (k, num(v, k))).collect()
}

#[test]
fn a_repair_out_of_file_descriptors_fails_and_leaves_the_old_index() {
    let (f, rejig) = filled_store();
    // Many packs, so that a repair that holds them open runs out of descriptors.
    let small = f.dir.path().join("small");
    small_packages(&small, 24);
    rejig.json(&["import", p(&small)]);
    let expected = roots(&rejig);
    let whole = counts(&rejig.fsck_clean());
    let index = rejig.store().join("index.redb");
    let mut failed = 0;
    for limit in [10, 12, 14, 16, 20] {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("ulimit -n {limit} && exec \"$0\" --store \"$1\" --json fsck --repair"))
            .arg(util::rejig_bin())
            .arg(rejig.store());
        let old_index = fs::read(&index).unwrap();
        let out = run(&mut cmd);
        if !out.status.success() {
            failed += 1;
            // A repair that failed leaves the index as it was; one that finished and whose
            // check then ran out of descriptors has swapped in a complete index.
            if String::from_utf8_lossy(&out.stderr).contains("rebuilding the index") {
                assert!(fs::read(&index).unwrap() == old_index, "ulimit -n {limit}: a failed repair changed the index");
            }
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains("Too many open files") || stderr.contains("os error 24"),
                "a repair starved of descriptors says so:\n{}",
                report(&format!("ulimit -n {limit}; fsck --repair"), &out)
            );
        }
        let after = rejig.fsck_clean();
        assert_eq!(counts(&after), whole, "ulimit -n {limit}: a partial index after the repair");
        assert_eq!(roots(&rejig), expected, "ulimit -n {limit}: roots lost");
    }
    assert!(failed > 0, "no limit made the repair run out of descriptors: the test tested nothing");
}

// ----------------------------------------------------------------------------------------
// Route 3

#[test]
fn last_use_survives_repair_so_gc_keep_one_keeps_the_same_root() {
    let f = Fixture::new();
    let compose = f.dir.path().join("compose");
    let rejig = Rejig::new();
    // Two commits, each in its own pack.
    let root = f.dir.path().join("root");
    fs::write(root.join("usr/os-release"), "NAME=hostile\nVERSION=2\n").unwrap();
    let second = ostree_commit(&compose, "os2", &root, "v2");
    let mut pack_of = Vec::new();
    for (rev, commit) in [("os", &f.commit), ("os2", &second)] {
        let before = pack_names(rejig.store());
        rejig.import(&compose, rev);
        let new: Vec<_> = pack_names(rejig.store()).difference(&before).cloned().collect();
        assert_eq!(new.len(), 1, "{new:?}");
        pack_of.push((new[0].clone(), commit.clone()));
    }
    // A rebuild that indexes packs in name order and stamps them as it goes favours the pack
    // whose name sorts last; use the other one last.
    pack_of.sort();
    let newest = pack_of[0].1.clone();
    let scratch = tempfile::tempdir().unwrap();
    rejig.export(&newest, &scratch.path().join("repo"), &[]);

    let unrepaired = copy_store(rejig.store(), &scratch.path().join("unrepaired"));
    let kept = unrepaired.json(&["gc", "--keep", "1"]);
    assert_eq!(kept["roots_kept"], serde_json::json!([newest]), "before the repair: {kept}");

    rejig.json(&["fsck", "--repair"]);
    let kept = rejig.json(&["gc", "--keep", "1"]);
    assert_eq!(
        kept["roots_kept"],
        serde_json::json!([newest]),
        "after the repair, gc keeps what it would have: {kept}"
    );
}

#[test]
fn a_root_gc_dropped_stays_dropped_after_repair() {
    let f = Fixture::new();
    let compose = f.dir.path().join("compose");
    let root = f.dir.path().join("root");
    fs::write(root.join("usr/os-release"), "NAME=hostile\nVERSION=2\n").unwrap();
    let second = ostree_commit(&compose, "os2", &root, "v2");
    let rejig = Rejig::new();
    rejig.import(&compose, "os");
    rejig.import(&compose, "os2");
    let kept = rejig.json(&["gc", "--keep", "1"]);
    assert_eq!(kept["roots_kept"], serde_json::json!([second]), "{kept}");
    rejig.json(&["fsck", "--repair"]);
    assert_eq!(roots(&rejig), BTreeSet::from([second]), "the dropped root came back");
}

// ----------------------------------------------------------------------------------------
// Route 5: one flipped byte per pack kind

/// Damages the largest blob of `pack`, then requires: fsck fails; `fsck --repair` drops the
/// damaged blob and leaves a clean store; `heal` (the next import or export that supplies the
/// content) stores it again, after which fsck is clean and holds what it held before.
fn flip_repair_heal(rejig: &Rejig, packs: &[String], restored: &[&str], heal: &dyn Fn() -> Value) {
    let before = rejig.fsck_clean();
    for pack in packs {
        flip(&rejig.store().join("packs").join(pack));
    }
    let (out, _) = rejig.fsck_raw(&[]);
    assert!(!out.status.success(), "fsck must see the flipped byte in {packs:?}");
    let repaired = rejig.json(&["fsck", "--repair"]);
    assert!(
        !repaired["repaired"]["blobs_damaged"].as_array().unwrap().is_empty(),
        "the repair names the damaged blob: {repaired}"
    );
    assert!(repaired["problems"].as_array().unwrap().is_empty(), "a repaired store is clean: {repaired}");
    let healed = heal();
    let after = rejig.fsck_clean();
    for key in restored {
        assert!(num(&after, key) >= num(&before, key), "{key} came back after {healed}: {before} vs {after}");
    }
}

#[test]
fn one_flipped_byte_in_a_package_pack_heals_on_the_next_import() {
    let f = Fixture::new();
    let rejig = Rejig::new();
    rejig.json(&["import", p(&f.packages)]);
    let (_, largest) = &util::packs_by_size(rejig.store())[0];
    let pack = largest.file_name().unwrap().to_string_lossy().into_owned();
    flip_repair_heal(&rejig, &[pack], &["objects", "blobs", "bytes"], &|| {
        let again = rejig.json(&["import", p(&f.packages)]);
        assert!(num(&again, "packages_imported") >= 1, "the package is imported again, not skipped: {again}");
        again
    });
}

#[test]
fn one_flipped_byte_in_a_jigdo_export_pack_heals_on_the_next_export() {
    let f = Fixture::new();
    let rejig = Rejig::new();
    let scratch = tempfile::tempdir().unwrap();
    let export = |repo: &str| {
        let repo = scratch.path().join(repo);
        let v = rejig.json(&["export", p(&f.jigdo), "--packages", p(&f.packages), "--repo", p(&repo)]);
        ostree_fsck(&repo, 1);
        v
    };
    export("first");
    // One byte in each pack of a fetched package (not the one of the jigdo's own content and
    // root): some of that content is the commit's, so the export must fetch it again.
    let packs: Vec<String> = util::packs_by_size(rejig.store())
        .into_iter()
        .filter(|(_, pack)| !pack_lists_root(pack))
        .map(|(_, pack)| pack.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(packs.len() >= 4, "one pack per fetched package: {packs:?}");
    // Packages only partly needed are not fetched again: what the commit needs comes back.
    flip_repair_heal(&rejig, &packs, &["objects", "bytes"], &|| {
        let plan = rejig.json(&["plan", p(&f.jigdo), "--packages", p(&f.packages)]);
        let again = export("second");
        assert!(num(&again, "packages_fetched") >= 1, "the damaged content is fetched again: {again}\nplan: {plan}");
        again
    });
}

#[test]
fn one_flipped_byte_in_a_commit_import_pack_heals_on_the_next_import() {
    let f = Fixture::new();
    let compose = f.dir.path().join("compose");
    let rejig = Rejig::new();
    rejig.import(&compose, "os");
    let pack = pack_names(rejig.store()).into_iter().next().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    flip_repair_heal(&rejig, &[pack], &["objects", "blobs", "bytes"], &|| {
        let again = rejig.import(&compose, "os");
        assert!(num(&again, "objects_imported") >= 1, "the damaged object is imported again: {again}");
        let repo = scratch.path().join("repo");
        rejig.export(&f.commit, &repo, &[]);
        ostree_fsck(&repo, 1);
        again
    });
}

#[test]
fn one_flipped_byte_in_a_gc_rewritten_pack_heals_on_the_next_import() {
    let f = Fixture::new();
    let compose = f.dir.path().join("compose");
    let root = f.dir.path().join("root");
    // v1 carries a large file v2 drops, so gc --keep 1 rewrites v1's pack.
    let big: Vec<u8> = util::Rng::new(15).bytes(600_000);
    fs::write(root.join("usr/big.bin"), &big).unwrap();
    let first = ostree_commit(&compose, "v1", &root, "v1");
    fs::remove_file(root.join("usr/big.bin")).unwrap();
    fs::write(root.join("usr/os-release"), "NAME=hostile\nVERSION=2\n").unwrap();
    let second = ostree_commit(&compose, "v2", &root, "v2");
    let rejig = Rejig::new();
    rejig.import(&compose, "v1");
    rejig.import(&compose, "v2");
    let _ = first;
    let before = pack_names(rejig.store());
    let gc = rejig.json(&["gc", "--keep", "1"]);
    assert!(num(&gc, "packs_rewritten") >= 1, "{gc}");
    let rewritten: Vec<_> = pack_names(rejig.store()).difference(&before).cloned().collect();
    assert_eq!(rewritten.len(), 1, "gc wrote one pack: {rewritten:?} {gc}");
    let scratch = tempfile::tempdir().unwrap();
    flip_repair_heal(&rejig, &rewritten[..1], &["objects", "blobs", "bytes"], &|| {
        let again = rejig.import(&compose, "v2");
        assert!(num(&again, "objects_imported") >= 1, "the damaged object is imported again: {again}");
        let repo = scratch.path().join("repo");
        rejig.export(&second, &repo, &[]);
        ostree_fsck(&repo, 1);
        again
    });
}

// ----------------------------------------------------------------------------------------
// Item 7: --store paths that are not stores

#[test]
fn a_store_that_is_a_file_or_a_dangling_symlink_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    fs::write(&file, b"not a store").unwrap();
    let dangling = dir.path().join("dangling");
    std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
    let packages = dir.path().join("packages");
    fs::create_dir_all(&packages).unwrap();
    for (path, needle) in [(&file, "is a file, not a directory"), (&dangling, "which does not exist")] {
        let rejig = Rejig::with_store(path);
        for args in [vec!["fsck"], vec!["gc"], vec!["import", p(&packages)]] {
            let out = rejig.fails(&args);
            util::assert_stderr_mentions(&out, needle, "why the store path is not a store");
            util::assert_stderr_mentions(&out, &path.display().to_string(), "the store path");
        }
    }
    assert_eq!(fs::read(&file).unwrap(), b"not a store");
    assert!(!dir.path().join("nowhere").exists(), "nothing was created through the dangling link");
}

#[test]
fn fsck_on_a_path_that_is_not_a_store_says_so_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("stroe");
    let empty = dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    for path in [&typo, &empty] {
        let rejig = Rejig::with_store(path);
        for args in [vec!["fsck"], vec!["fsck", "--repair"], vec!["gc"]] {
            let out = rejig.fails(&args);
            util::assert_stderr_mentions(&out, "is not a rejig store", "that the path holds no store");
        }
    }
    assert!(!typo.exists(), "fsck created a store at a mistyped path");
    assert_eq!(fs::read_dir(&empty).unwrap().count(), 0, "fsck wrote into a directory that is not a store");
    // A writer still creates a store where there is none.
    let fresh = Rejig::with_store(&typo);
    let f = tempfile::tempdir().unwrap();
    let repo = f.path().join("repo");
    ostree_init(&repo, "archive");
    let tree = f.path().join("tree");
    fs::create_dir_all(tree.join("usr")).unwrap();
    fs::write(tree.join("usr/a"), b"a").unwrap();
    ostree_commit(&repo, "os", &tree, "one");
    fresh.import(&repo, "os");
    fresh.fsck_clean();
}
