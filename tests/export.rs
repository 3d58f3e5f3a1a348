//! End-to-end round trips through the `rejig` binary with the real `ostree` CLI as the oracle:
//! `ostree commit` → `rejig import` → `rejig export` must reproduce the commit checksum, pass
//! `ostree fsck` and `ostree pull-local --untrusted`, lay out objects as `ostree commit` does,
//! and check out to the same tree (owners, modes, xattrs, content, symlinks). Also the
//! incremental export counts, refs, default modes, repeated imports and the store's fsck.

use crate::util;

use std::fs;
use std::path::Path;

use util::*;

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("rejig-roundtrip-").tempdir().expect("temp dir")
}

/// Checks out `commit` from `repo` as root and snapshots it.
fn checkout_snapshot(repo: &Path, commit: &str, dest: &Path) -> Tree {
    ostree_checkout(repo, commit, dest);
    snapshot(dest)
}

/// The export report must describe a full write of `total` objects as `commit` in `mode`.
fn assert_full_export(v: &serde_json::Value, commit: &str, mode: &str, total: u64) {
    assert_eq!(text(v, "commit"), commit, "export reported the wrong commit: {v}");
    assert_eq!(text(v, "mode"), mode, "export reported the wrong mode: {v}");
    assert_eq!(num(v, "objects_total"), total, "objects_total should count every reachable object: {v}");
    assert_eq!(num(v, "objects_written"), total, "a new repo lacks every object, so all must be written: {v}");
    assert_eq!(num(v, "objects_reused"), 0, "nothing can be reused in a new repo: {v}");
    assert!(num(v, "bytes_written") > 0, "bytes_written cannot be 0 after writing objects: {v}");
}

#[test]
fn golden_fixture_exports_reproduce_the_commit() {
    let tmp = tempdir();
    let src = golden_repo(tmp.path(), "src-archive", "archive");
    let rejig = Rejig::new();

    let imported = rejig.import(&src, "test/fixture");
    assert_eq!(text(&imported, "commit"), GOLDEN_COMMIT, "import resolved the ref to the wrong commit: {imported}");
    assert_eq!(num(&imported, "objects_total"), GOLDEN_OBJECTS, "the fixture commit reaches 12 objects: {imported}");
    assert_eq!(num(&imported, "objects_imported"), GOLDEN_OBJECTS, "a fresh store imports all 12: {imported}");
    assert!(num(&imported, "blobs_written") > 0, "a fresh import must write blobs: {imported}");
    assert!(num(&imported, "bytes_stored") > 0, "a fresh import must store bytes: {imported}");

    let expected = checkout_snapshot(&src, GOLDEN_COMMIT, &tmp.path().join("co-source"));
    for mode in FULL_MODES {
        let target = tmp.path().join(format!("out-{mode}"));
        let exported = rejig.export(GOLDEN_COMMIT, &target, &["--mode", mode, "--ref", "test/fixture"]);
        assert_full_export(&exported, GOLDEN_COMMIT, mode, GOLDEN_OBJECTS);
        assert_eq!(repo_mode(&target), mode, "core.mode of the new repo");
        verify_exported_repo(&target, GOLDEN_COMMIT);
        assert_eq!(ostree_rev_parse(&target, "test/fixture"), GOLDEN_COMMIT, "--ref test/fixture in {mode}");

        let oracle =
            if mode == "archive" { src.clone() } else { golden_repo(tmp.path(), &format!("ostree-{mode}"), mode) };
        assert_objects_match(&oracle, &target, &format!("golden fixture exported to {mode}"));
        let actual = checkout_snapshot(&target, GOLDEN_COMMIT, &tmp.path().join(format!("co-{mode}")));
        assert_trees_equal(&expected, &actual, &format!("checkout of the golden fixture exported to {mode}"));
    }
}

#[test]
fn golden_fixture_bare_user_only_needs_canonicalize() {
    let tmp = tempdir();
    let src = golden_repo(tmp.path(), "src-archive", "archive");
    let rejig = Rejig::new();
    rejig.import(&src, "test/fixture");

    // hello.txt is owned by 1000:1001 and xattr.txt has xattrs: bare-user-only cannot hold them.
    let refused = tmp.path().join("refused");
    let out = rejig.fails(&[
        "export",
        GOLDEN_COMMIT,
        "--repo",
        p(&refused),
        "--mode",
        "bare-user-only",
        "--ref",
        "test/fixture",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(GOLDEN_HELLO) || stderr.contains(GOLDEN_XATTR_FILE),
        "the refusal should name an offending object (hello.txt {GOLDEN_HELLO} or xattr.txt {GOLDEN_XATTR_FILE}):\n{stderr}"
    );
    for commit in [GOLDEN_COMMIT, GOLDEN_CANONICAL_COMMIT] {
        assert!(
            !loose_path(&refused, commit, "commit").exists(),
            "a refused export must not write the commit object {commit} (the commit is written last)"
        );
    }
    assert!(!refused.join("refs/heads/test/fixture").exists(), "a refused export must not set the ref");
    assert!(!refused.exists(), "a refused export must not even create the repository");

    let target = tmp.path().join("canonical");
    let exported =
        rejig.export(GOLDEN_COMMIT, &target, &["--mode", "bare-user-only", "--canonicalize", "--ref", "test/fixture"]);
    assert_full_export(&exported, GOLDEN_CANONICAL_COMMIT, "bare-user-only", GOLDEN_OBJECTS);
    assert_eq!(repo_mode(&target), "bare-user-only", "core.mode of the new repo");
    verify_exported_repo(&target, GOLDEN_CANONICAL_COMMIT);
    assert_eq!(
        ostree_rev_parse(&target, "test/fixture"),
        GOLDEN_CANONICAL_COMMIT,
        "the ref names the canonical commit"
    );

    let oracle = golden_repo(tmp.path(), "ostree-buo", "bare-user-only");
    assert_objects_match(&oracle, &target, "golden fixture canonicalized into bare-user-only");
    let expected = checkout_snapshot(&oracle, GOLDEN_CANONICAL_COMMIT, &tmp.path().join("co-oracle"));
    let actual = checkout_snapshot(&target, GOLDEN_CANONICAL_COMMIT, &tmp.path().join("co-canonical"));
    assert_trees_equal(&expected, &actual, "checkout of the canonicalized export vs ostree's bare-user-only commit");

    // The path of the refused export is still free for a canonical one.
    let again = rejig.export(GOLDEN_COMMIT, &refused, &["--mode", "bare-user-only", "--canonicalize"]);
    assert_eq!(
        text(&again, "commit"),
        GOLDEN_CANONICAL_COMMIT,
        "canonical export into the repo of the refused one: {again}"
    );
    verify_exported_repo(&refused, GOLDEN_CANONICAL_COMMIT);
}

#[test]
fn golden_second_commit_with_parent_body_and_metadata() {
    let tmp = tempdir();
    let src = golden_repo(tmp.path(), "src", "archive");
    let second = ostree(&[
        "commit",
        &format!("--repo={}", p(&src)),
        "--branch=test/fixture",
        "--subject=second",
        "--body=body text",
        "--timestamp=2024-01-02T00:00:00Z",
        "--add-metadata-string=version=1.0",
        p(&tmp.path().join("tree")),
    ]);
    assert_eq!(second.trim(), GOLDEN_SECOND_COMMIT, "the harness did not rebuild the §4 second commit");

    let rejig = Rejig::new();
    let imported = rejig.import(&src, "test/fixture");
    assert_eq!(text(&imported, "commit"), GOLDEN_SECOND_COMMIT, "{imported}");
    assert_eq!(
        num(&imported, "objects_total"),
        GOLDEN_OBJECTS,
        "same tree, other commit: 12 objects (the parent is not reached): {imported}"
    );
    for mode in ["archive", "bare-user"] {
        let target = tmp.path().join(format!("out-{mode}"));
        let exported = rejig.export(GOLDEN_SECOND_COMMIT, &target, &["--mode", mode, "--ref", "test/fixture"]);
        assert_full_export(&exported, GOLDEN_SECOND_COMMIT, mode, GOLDEN_OBJECTS);
        verify_exported_repo(&target, GOLDEN_SECOND_COMMIT);
        let commit_bytes = fs::read(loose_path(&target, GOLDEN_SECOND_COMMIT, "commit")).expect("read commit");
        let oracle_bytes = fs::read(loose_path(&src, GOLDEN_SECOND_COMMIT, "commit")).expect("read commit");
        assert_eq!(commit_bytes, oracle_bytes, "the exported commit object must be byte-identical to ostree's");
        let log = ostree(&["log", &format!("--repo={}", p(&target)), "test/fixture"]);
        assert!(
            log.contains("body text") && log.contains("Version: 1.0"),
            "ostree log of the export lacks body or version:\n{log}"
        );
    }
}

/// Commits a generated tree into archive, bare-user and bare source repos; imports each into
/// its own store; exports each into archive, bare-user and bare; and canonicalizes into
/// bare-user-only. Every result must match what ostree itself produces.
fn random_roundtrip(opts: TreeOptions) {
    let tmp = tempdir();
    let dir = tmp.path();
    let tree = dir.join("tree");
    generate_tree(&tree, &opts);
    let original = without_empty_xattrs(&snapshot(&tree));
    let subject = format!("random tree, seed {}", opts.seed);

    let mut commit = String::new();
    for mode in FULL_MODES {
        let repo = dir.join(format!("src-{mode}"));
        ostree_init(&repo, mode);
        let c = ostree_commit(&repo, "test/random", &tree, &subject);
        if commit.is_empty() {
            commit = c;
        } else {
            assert_eq!(c, commit, "ostree gave another checksum in {mode}: the oracle disagrees with itself");
        }
    }
    let buo = dir.join("ostree-bare-user-only");
    ostree_init(&buo, "bare-user-only");
    let canonical = ostree_commit(&buo, "test/random", &tree, &subject);

    let expected = checkout_snapshot(&dir.join("src-bare"), &commit, &dir.join("co-source"));
    assert_trees_equal(&original, &expected, "harness check: ostree's checkout of the generated tree");
    let expected_canonical = checkout_snapshot(&buo, &canonical, &dir.join("co-canonical-oracle"));
    let reachable = ostree_reachable(&dir.join("src-archive"), &commit);
    let total = reachable.len() as u64;
    assert_eq!(
        loose_objects(&dir.join("src-archive")).len() as u64,
        total,
        "harness check: ostree ls -R -C vs loose objects"
    );

    for src_mode in FULL_MODES {
        let src = dir.join(format!("src-{src_mode}"));
        let rejig = Rejig::new();
        let imported = rejig.import(&src, "test/random");
        assert_eq!(text(&imported, "commit"), commit, "import from {src_mode}: {imported}");
        assert_eq!(
            num(&imported, "objects_total"),
            total,
            "import from {src_mode} must count every reachable object: {imported}"
        );
        assert_eq!(num(&imported, "objects_imported"), total, "import from {src_mode} into a fresh store: {imported}");

        for dst_mode in FULL_MODES {
            let what = format!("seed {}: {src_mode} → store → {dst_mode}", opts.seed);
            let target = dir.join(format!("from-{src_mode}-to-{dst_mode}"));
            let exported = rejig.export(&commit, &target, &["--mode", dst_mode, "--ref", "test/random"]);
            assert_full_export(&exported, &commit, dst_mode, total);
            verify_exported_repo(&target, &commit);
            assert_objects_match(&dir.join(format!("src-{dst_mode}")), &target, &what);
            let co = dir.join(format!("co-{src_mode}-{dst_mode}"));
            assert_trees_equal(&expected, &checkout_snapshot(&target, &commit, &co), &format!("checkout, {what}"));
            fs::remove_dir_all(&co).expect("remove checkout");
        }

        let target = dir.join(format!("from-{src_mode}-to-bare-user-only"));
        let exported = rejig.export(&commit, &target, &["--mode", "bare-user-only", "--canonicalize"]);
        assert_eq!(
            text(&exported, "commit"),
            canonical,
            "--canonicalize must give the commit `ostree commit` makes in bare-user-only: {exported}"
        );
        verify_exported_repo(&target, &canonical);
        let what = format!("seed {}: {src_mode} → store → bare-user-only --canonicalize", opts.seed);
        assert_objects_match(&buo, &target, &what);
        let co = dir.join(format!("co-{src_mode}-buo"));
        assert_trees_equal(
            &expected_canonical,
            &checkout_snapshot(&target, &canonical, &co),
            &format!("checkout, {what}"),
        );
    }
}

#[test]
fn random_tree_seed_1() {
    random_roundtrip(TreeOptions::new(1));
}

#[test]
fn random_tree_seed_2() {
    random_roundtrip(TreeOptions { random_entries: 300, ..TreeOptions::new(2) });
}

#[test]
fn random_tree_seed_3_wide_directory() {
    // 1600 entries make the dirtree larger than 64 KiB: 4-byte framing offsets.
    random_roundtrip(TreeOptions {
        random_entries: 120,
        large_files: 1,
        wide_dir_entries: 1600,
        ..TreeOptions::new(3)
    });
}

/// An archive repository `dir/src` with two commits of generated trees (seed `seed`): A
/// (`test/a`), and B (`test/b`), A mutated by `mutate_tree`. Returns (repo, A, B).
fn two_commits(dir: &Path, seed: u64) -> (std::path::PathBuf, String, String) {
    let opts = TreeOptions { random_entries: 60, large_files: 1, ..TreeOptions::new(seed) };
    generate_tree(&dir.join("a"), &opts);
    generate_tree(&dir.join("b"), &opts);
    mutate_tree(&dir.join("b"));
    let src = dir.join("src");
    ostree_init(&src, "archive");
    let a = ostree_commit(&src, "test/a", &dir.join("a"), "A");
    let b = ostree_commit(&src, "test/b", &dir.join("b"), "B");
    (src, a, b)
}

#[test]
fn incremental_export_writes_only_missing_objects() {
    let tmp = tempdir();
    let dir = tmp.path();
    let (src, a, b) = two_commits(dir, 11);
    let objects_a = ostree_reachable(&src, &a);
    let objects_b = ostree_reachable(&src, &b);
    let new: Vec<_> = objects_b.difference(&objects_a).collect();
    let shared = objects_b.len() - new.len();
    assert!(!new.is_empty() && shared > 0, "harness check: B must share some objects with A and add some");

    let rejig = Rejig::new();
    rejig.import(&src, "test/a");
    let imported_b = rejig.import(&src, "test/b");
    assert_eq!(
        num(&imported_b, "objects_imported"),
        new.len() as u64,
        "importing B after A must import exactly the {} objects A lacks: {imported_b}",
        new.len()
    );

    for mode in ["archive", "bare-user"] {
        let target = dir.join(format!("target-{mode}"));
        let first = rejig.export(&a, &target, &["--mode", mode]);
        assert_full_export(&first, &a, mode, objects_a.len() as u64);
        let before = loose_objects(&target);

        let second = rejig.export(&b, &target, &[]);
        assert_eq!(text(&second, "commit"), b, "{second}");
        assert_eq!(text(&second, "mode"), mode, "an existing repo keeps its mode: {second}");
        assert_eq!(num(&second, "objects_total"), objects_b.len() as u64, "objects_total of B: {second}");
        assert_eq!(
            num(&second, "objects_written"),
            new.len() as u64,
            "exporting B after A must write exactly the objects B has and A lacks ({new:?}): {second}"
        );
        assert_eq!(num(&second, "objects_reused"), shared as u64, "objects shared by A and B are reused: {second}");
        let after = loose_objects(&target);
        assert!(before.is_subset(&after), "the second export removed objects");
        assert_eq!(
            (after.len() - before.len()) as u64,
            num(&second, "objects_written"),
            "objects_written must equal the number of object files added under objects/: {second}"
        );

        let third = rejig.export(&b, &target, &[]);
        assert_eq!(num(&third, "objects_written"), 0, "re-exporting the same commit must write nothing: {third}");
        assert_eq!(num(&third, "objects_reused"), objects_b.len() as u64, "everything is reused: {third}");
        assert_eq!(loose_objects(&target), after, "re-exporting the same commit changed objects/");
        ostree_fsck(&target, 2);
        let co = dir.join(format!("co-{mode}"));
        let expected = checkout_snapshot(&src, &b, &dir.join(format!("co-src-{mode}")));
        assert_trees_equal(
            &expected,
            &checkout_snapshot(&target, &b, &co),
            &format!("checkout of B after A in {mode}"),
        );
    }
}

#[test]
fn export_ref_sets_and_moves_the_ref() {
    let tmp = tempdir();
    let src = golden_repo(tmp.path(), "src", "archive");
    ostree(&[
        "commit",
        &format!("--repo={}", p(&src)),
        "--branch=test/fixture",
        "--subject=second",
        "--body=body text",
        "--timestamp=2024-01-02T00:00:00Z",
        "--add-metadata-string=version=1.0",
        p(&tmp.path().join("tree")),
    ]);
    let rejig = Rejig::new();
    rejig.import(&src, GOLDEN_COMMIT);
    rejig.import(&src, GOLDEN_SECOND_COMMIT);

    let target = tmp.path().join("target");
    let ref_file = target.join("refs/heads/os/stable/x86_64");
    rejig.export(GOLDEN_COMMIT, &target, &["--ref", "os/stable/x86_64"]);
    let content = fs::read(&ref_file).unwrap_or_else(|e| panic!("--ref must create {}: {e}", ref_file.display()));
    assert_eq!(content, format!("{GOLDEN_COMMIT}\n").into_bytes(), "a ref file is 64 hex + newline");
    let refs = ostree(&["refs", &format!("--repo={}", p(&target))]);
    assert_eq!(refs.trim(), "os/stable/x86_64", "ostree refs of the export");

    rejig.export(GOLDEN_SECOND_COMMIT, &target, &["--ref", "os/stable/x86_64"]);
    let content = fs::read(&ref_file).expect("read ref");
    assert_eq!(content, format!("{GOLDEN_SECOND_COMMIT}\n").into_bytes(), "--ref must move an existing ref");
    ostree_fsck(&target, 2);

    // Without --ref, no ref is created or changed.
    rejig.export(GOLDEN_COMMIT, &target, &[]);
    assert_eq!(
        fs::read(&ref_file).expect("read ref"),
        format!("{GOLDEN_SECOND_COMMIT}\n").into_bytes(),
        "export without --ref moved the ref"
    );
    let refs = ostree(&["refs", &format!("--repo={}", p(&target))]);
    assert_eq!(refs.trim(), "os/stable/x86_64", "export without --ref must not add refs");
}

#[test]
fn export_default_mode_is_archive_or_the_repos_own() {
    let tmp = tempdir();
    let src = golden_repo(tmp.path(), "src", "archive");
    let rejig = Rejig::new();
    rejig.import(&src, "test/fixture");

    let fresh = tmp.path().join("new-repo");
    let v = rejig.export(GOLDEN_COMMIT, &fresh, &[]);
    assert_full_export(&v, GOLDEN_COMMIT, "archive", GOLDEN_OBJECTS);
    assert_eq!(repo_mode(&fresh), "archive", "a new repo defaults to archive");
    verify_exported_repo(&fresh, GOLDEN_COMMIT);

    // The ostree-written source already holds everything: nothing to write.
    let v = rejig.export(GOLDEN_COMMIT, &src, &[]);
    assert_eq!(text(&v, "mode"), "archive", "{v}");
    assert_eq!(num(&v, "objects_written"), 0, "the source repo already has every object: {v}");
    assert_eq!(num(&v, "objects_reused"), GOLDEN_OBJECTS, "{v}");
    ostree_fsck(&src, 1);

    for mode in ["bare-user", "bare"] {
        let existing = tmp.path().join(format!("existing-{mode}"));
        ostree_init(&existing, mode);
        let v = rejig.export(GOLDEN_COMMIT, &existing, &[]);
        assert_full_export(&v, GOLDEN_COMMIT, mode, GOLDEN_OBJECTS);
        assert_eq!(repo_mode(&existing), mode, "export must not change an existing repo's mode");
        verify_exported_repo(&existing, GOLDEN_COMMIT);
        let oracle = golden_repo(tmp.path(), &format!("oracle-{mode}"), mode);
        assert_objects_match(&oracle, &existing, &format!("export into an `ostree init`ed {mode} repo"));
    }
}

#[test]
fn second_import_of_the_same_commit_imports_nothing() {
    let tmp = tempdir();
    let rejig = Rejig::new();
    let first = rejig.import(&golden_repo(tmp.path(), "src-archive", "archive"), "test/fixture");
    assert_eq!(num(&first, "objects_imported"), GOLDEN_OBJECTS, "{first}");
    let again = rejig.import(&tmp.path().join("src-archive"), "test/fixture");
    assert_eq!(num(&again, "objects_imported"), 0, "the same commit again: {again}");
    assert_eq!(num(&again, "objects_skipped"), GOLDEN_OBJECTS, "the same commit again: {again}");
    assert_eq!(num(&again, "blobs_written"), 0, "the same commit again writes no blob: {again}");
    for mode in ["bare-user", "bare"] {
        let repo = golden_repo(tmp.path(), &format!("src-{mode}"), mode);
        let v = rejig.import(&repo, GOLDEN_COMMIT);
        assert_eq!(text(&v, "commit"), GOLDEN_COMMIT, "import by checksum: {v}");
        assert_eq!(num(&v, "objects_imported"), 0, "the same commit from a {mode} repo: {v}");
        assert_eq!(num(&v, "objects_total"), GOLDEN_OBJECTS, "{v}");
    }
    let fsck = rejig.fsck_clean();
    assert_eq!(num(&fsck, "objects"), GOLDEN_OBJECTS, "the store holds the 12 objects once: {fsck}");
}

/// Imports a small tree with a large file and returns (store, commit, objects).
fn imported_store(dir: &Path) -> (Rejig, String, u64) {
    let tree = dir.join("tree");
    generate_tree(&tree, &TreeOptions { random_entries: 40, large_files: 2, ..TreeOptions::new(21) });
    let src = dir.join("src");
    ostree_init(&src, "archive");
    let commit = ostree_commit(&src, "test/store", &tree, "store");
    let rejig = Rejig::new();
    let v = rejig.import(&src, "test/store");
    let total = num(&v, "objects_total");
    (rejig, commit, total)
}

#[test]
fn store_fsck_is_clean_and_detects_a_flipped_byte() {
    let tmp = tempdir();
    let (rejig, commit, total) = imported_store(tmp.path());
    let clean = rejig.fsck_clean();
    assert_eq!(num(&clean, "objects"), total, "fsck must verify every imported object: {clean}");
    assert!(num(&clean, "packs") >= 1 && num(&clean, "blobs") >= 1, "{clean}");

    let packs = packs_by_size(rejig.store());
    let (_, pack) = packs.first().unwrap_or_else(|| panic!("no pack under {}/packs", rejig.store().display()));
    let offset = middle_of_largest_blob(pack);
    flip_byte(pack, offset);

    let (out, json) = rejig.fsck_raw(&[]);
    let what = format!("rejig fsck after flipping byte {offset} of {}", pack.display());
    assert!(!out.status.success(), "fsck must fail on a damaged pack:\n{}", report(&what, &out));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked at"), "fsck panicked:\n{}", report(&what, &out));
    let json = json.unwrap_or_else(|| panic!("fsck --json printed no JSON report:\n{}", report(&what, &out)));
    let problems = json["problems"].as_array().unwrap_or_else(|| panic!("no problems array: {json}"));
    assert!(!problems.is_empty(), "fsck failed but lists no problem: {json}");

    // Blobs are checked against their BLAKE3 when read for export.
    let target = tmp.path().join("target");
    rejig.fails(&["export", &commit, "--repo", p(&target)]);
    assert!(
        !loose_path(&target, &commit, "commit").exists(),
        "an export that read a damaged blob must not write the commit"
    );
}

#[test]
fn store_fsck_repair_rebuilds_a_deleted_index() {
    let tmp = tempdir();
    let (rejig, commit, total) = imported_store(tmp.path());
    let index = rejig.store().join("index.redb");
    fs::remove_file(&index).unwrap_or_else(|e| panic!("remove {}: {e}", index.display()));

    rejig.json(&["fsck", "--repair"]);
    let report = rejig.fsck_clean();
    assert_eq!(num(&report, "objects"), total, "the rebuilt index must list every object: {report}");

    let again = rejig.import(&tmp.path().join("src"), "test/store");
    assert_eq!(num(&again, "objects_imported"), 0, "after repair the store still knows every object: {again}");
    let target = tmp.path().join("target");
    let v = rejig.export(&commit, &target, &["--mode", "bare-user"]);
    assert_full_export(&v, &commit, "bare-user", total);
    verify_exported_repo(&target, &commit);
}

#[test]
fn commit_metadata_variants_roundtrip() {
    // Ref bindings, ostree.sizes (aay), typed metadata, a parent and a multi-line UTF-8 body.
    let tmp = tempdir();
    let tree = golden_tree(tmp.path());
    let src = tmp.path().join("src");
    ostree_init(&src, "archive");
    let mut commits = Vec::new();
    for (i, extra) in [
        vec!["--generate-sizes", "--add-metadata-string=version=2.0", "--add-metadata=answer=uint64 42"],
        vec!["--add-metadata=list=['a', 'b', 'été']", "--body=line one\nligne deux: été, 日本", "--bind-ref=other/ref"],
    ]
    .into_iter()
    .enumerate()
    {
        let repo_arg = format!("--repo={}", p(&src));
        let subject = format!("--subject=variant {i}");
        let mut args = vec!["commit", &repo_arg, "--branch=test/meta", &subject, "--timestamp=2024-03-04T05:06:07Z"];
        args.extend(extra);
        args.push(p(&tree));
        commits.push(ostree(&args).trim().to_string());
    }
    let rejig = Rejig::new();
    for commit in &commits {
        let v = rejig.import(&src, commit);
        assert_eq!(text(&v, "commit"), commit, "{v}");
    }
    for mode in ["archive", "bare-user"] {
        let target = tmp.path().join(format!("out-{mode}"));
        for commit in &commits {
            let v = rejig.export(commit, &target, &["--mode", mode, "--ref", "test/meta"]);
            assert_eq!(text(&v, "commit"), commit, "{v}");
            let ours = fs::read(loose_path(&target, commit, "commit")).expect("read exported commit");
            let theirs = fs::read(loose_path(&src, commit, "commit")).expect("read ostree's commit");
            assert_eq!(ours, theirs, "commit {commit} in {mode} must be byte-identical to ostree's");
        }
        ostree_fsck(&target, 2);
        let log = ostree(&["log", &format!("--repo={}", p(&target)), "test/meta"]);
        assert!(log.contains("ligne deux: été, 日本") && log.contains("variant 0"), "ostree log of the export:\n{log}");
    }
}

#[test]
fn detached_metadata_is_carried() {
    let tmp = tempdir();
    let tree = golden_tree(tmp.path());
    let src = tmp.path().join("src");
    ostree_init(&src, "archive");
    let commit = ostree(&[
        "commit",
        &format!("--repo={}", p(&src)),
        "--branch=test/detached",
        "--subject=signed",
        &format!("--timestamp={TIMESTAMP}"),
        "--no-bindings",
        "--add-detached-metadata-string=example.signature=not really a signature",
        p(&tree),
    ]);
    let commit = commit.trim();
    let theirs = fs::read(loose_path(&src, commit, "commitmeta")).expect("ostree wrote a .commitmeta");
    let rejig = Rejig::new();
    rejig.import(&src, "test/detached");
    let target = tmp.path().join("target");
    rejig.export(commit, &target, &["--mode", "bare-user", "--ref", "test/detached"]);
    verify_exported_repo(&target, commit);
    let ours = fs::read(loose_path(&target, commit, "commitmeta"))
        .unwrap_or_else(|e| panic!("the export lacks the commit's detached metadata (.commitmeta): {e}"));
    assert_eq!(ours, theirs, "the .commitmeta must be copied byte for byte");
    let shown =
        ostree(&["show", &format!("--repo={}", p(&target)), "--print-detached-metadata-key=example.signature", commit]);
    assert!(shown.contains("not really a signature"), "ostree show of the detached metadata: {shown}");
}

#[test]
fn streamed_large_blob_roundtrip_and_damage() {
    // Larger than the store's in-memory blob limit (8 MiB): the streaming paths.
    let tmp = tempdir();
    let dir = tmp.path();
    let tree = dir.join("tree");
    generate_tree(&tree, &TreeOptions { random_entries: 10, large_files: 0, ..TreeOptions::new(31) });
    let mut rng = Rng::new(31);
    let mut huge = rng.text(5 << 20);
    huge.extend(rng.bytes(4 << 20));
    huge.extend(rng.text(300_000));
    let huge_path = tree.join("huge.bin");
    fs::write(&huge_path, &huge).expect("write huge.bin");
    set_xattr(&huge_path, "user.big", b"yes");
    chown(&huge_path, 1000, 1001);
    chmod(&huge_path, 0o640);
    let mut commit = String::new();
    for mode in ["archive", "bare-user"] {
        let repo = dir.join(format!("src-{mode}"));
        ostree_init(&repo, mode);
        commit = ostree_commit(&repo, "test/huge", &tree, "huge");
    }
    let rejig = Rejig::new();
    let v = rejig.import(&dir.join("src-archive"), "test/huge");
    let total = num(&v, "objects_total");
    let target = dir.join("target");
    let v = rejig.export(&commit, &target, &["--mode", "bare-user"]);
    assert_full_export(&v, &commit, "bare-user", total);
    verify_exported_repo(&target, &commit);
    assert_objects_match(&dir.join("src-bare-user"), &target, "9.5 MiB file exported to bare-user");
    let expected = checkout_snapshot(&dir.join("src-bare-user"), &commit, &dir.join("co-src"));
    assert_trees_equal(
        &expected,
        &checkout_snapshot(&target, &commit, &dir.join("co-out")),
        "checkout with a 9.5 MiB file",
    );
    rejig.fsck_clean();

    let packs = packs_by_size(rejig.store());
    let (_, pack) = packs.first().expect("a pack");
    let offset = middle_of_largest_blob(pack);
    flip_byte(pack, offset);
    let (out, _) = rejig.fsck_raw(&[]);
    assert!(!out.status.success(), "fsck must notice a flipped byte in the 9.5 MiB blob (pack offset {offset})");
    let fresh = dir.join("fresh");
    rejig.fails(&["export", &commit, "--repo", p(&fresh), "--mode", "archive"]);
    assert!(!loose_path(&fresh, &commit, "commit").exists(), "an export that read a damaged blob wrote the commit");
}

#[test]
fn an_update_under_a_ref_visits_only_what_changed_unless_the_old_commit_is_partial() {
    let tmp = tempdir();
    let dir = tmp.path();
    let (src, a, b) = two_commits(dir, 12);
    let objects_b = ostree_reachable(&src, &b);
    let new = objects_b.difference(&ostree_reachable(&src, &a)).count() as u64;
    let rejig = Rejig::new();
    rejig.import(&src, "test/a");
    rejig.import(&src, "test/b");

    for partial in [false, true] {
        let target = dir.join(if partial { "partial" } else { "whole" });
        rejig.export(&a, &target, &["--mode", "bare-user", "--ref", "os"]);
        let marker = target.join(format!("state/{a}.commitpartial"));
        if partial {
            // As a pull or export interrupted before A was complete would leave it.
            fs::write(&marker, b"").unwrap();
        }
        let v = rejig.export(&b, &target, &["--ref", "os"]);
        assert_eq!(num(&v, "objects_total"), objects_b.len() as u64, "every object is still counted: {v}");
        assert_eq!(num(&v, "objects_written"), new, "exactly what A lacks is written: {v}");
        let visited = num(&v, "objects_visited");
        if partial {
            assert_eq!(visited, objects_b.len() as u64, "a partial commit vouches for nothing: {v}");
            assert_eq!(num(&v, "subtrees_skipped"), 0, "{v}");
            fs::remove_file(&marker).unwrap();
        } else {
            assert!(visited < objects_b.len() as u64 && visited >= new, "only the changed paths are looked at: {v}");
            assert!(num(&v, "subtrees_skipped") > 0, "{v}");
        }
        ostree_fsck(&target, 2);
        let expected = checkout_snapshot(&src, &b, &dir.join(format!("co-src-{partial}")));
        assert_trees_equal(&expected, &checkout_snapshot(&target, &b, &dir.join(format!("co-{partial}"))), "B after A");
    }
}
