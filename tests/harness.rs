//! Self-checks of the test harness (no `rejig` involved): the generator is reproducible and
//! ostree accepts what it makes, and the oracles used by the other suites really fail on
//! damaged repos and differing trees, so a passing round trip means something.

use crate::util;

use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};

use util::*;

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("rejig-harness-").tempdir().expect("temp dir")
}

fn must_panic(what: &str, f: impl FnOnce()) {
    let result = catch_unwind(AssertUnwindSafe(f));
    assert!(result.is_err(), "harness check {what} should have failed but passed");
}

#[test]
fn generator_is_reproducible_and_has_what_the_suite_needs() {
    let tmp = tempdir();
    let opts = TreeOptions { random_entries: 80, ..TreeOptions::new(9) };
    generate_tree(&tmp.path().join("a"), &opts);
    generate_tree(&tmp.path().join("b"), &opts);
    generate_tree(&tmp.path().join("c"), &TreeOptions { random_entries: 80, ..TreeOptions::new(10) });
    let a = snapshot(&tmp.path().join("a"));
    assert_trees_equal(&a, &snapshot(&tmp.path().join("b")), "the same seed twice");
    must_panic("different seeds give different trees", || {
        assert_trees_equal(&a, &snapshot(&tmp.path().join("c")), "seeds 9 and 10");
    });

    let depth = a.keys().map(|k| k.matches('/').count()).max().unwrap_or(0);
    assert!(depth >= 20, "nesting depth {depth} < 20");
    let has = |pred: &dyn Fn(&Node) -> bool| a.values().any(pred);
    assert!(has(&|n| n.kind == 'f' && n.size == 0), "no empty file");
    assert!(has(&|n| n.kind == 'f' && n.size > 1 << 20), "no file > 1 MiB");
    assert!(has(&|n| n.kind == 'l' && n.data.starts_with(b"/")), "no absolute symlink");
    assert!(has(&|n| n.kind == 'l' && !n.data.starts_with(b"/")), "no relative symlink");
    assert!(has(&|n| n.kind == 'l' && n.uid != 0), "no symlink owned by non-root");
    assert!(has(&|n| n.kind == 'f' && n.perms == 0o4755), "no setuid file");
    assert!(has(&|n| n.kind == 'f' && n.perms == 0o600), "no 0600 file");
    assert!(has(&|n| n.kind == 'd' && n.perms == 0o700), "no 0700 directory");
    assert!(has(&|n| n.kind == 'd' && !n.xattrs.is_empty()), "no directory with xattrs");
    assert!(has(&|n| n.kind == 'f' && !n.xattrs.is_empty()), "no file with xattrs");
    assert!(has(&|n| (n.uid, n.gid) == (1000, 1001)) && has(&|n| (n.uid, n.gid) == (42, 42)), "owners missing");
    assert!(a.keys().any(|k| k.contains('é')) && a.keys().any(|k| k.contains("日本")), "no non-ASCII names");
    let empty_xattr = fs::symlink_metadata(tmp.path().join("a/fixed/only-empty-xattr")).is_ok()
        && rustix::fs::lgetxattr_query(tmp.path().join("a/fixed/only-empty-xattr"), "user.empty").ok() == Some(0);
    assert!(empty_xattr, "no empty-valued xattr");

    // ostree takes the tree as is, minus the empty-valued xattrs.
    let repo = tmp.path().join("repo");
    ostree_init(&repo, "bare");
    let commit = ostree_commit(&repo, "t", &tmp.path().join("a"), "harness");
    ostree_checkout(&repo, &commit, &tmp.path().join("co"));
    assert_trees_equal(&without_empty_xattrs(&a), &snapshot(&tmp.path().join("co")), "ostree checkout");
}

#[test]
fn oracles_catch_damage() {
    let tmp = tempdir();
    let archive = golden_repo(tmp.path(), "archive", "archive");
    let bare_user = golden_repo(tmp.path(), "bare-user", "bare-user");
    let bare_user_2 = golden_repo(tmp.path(), "bare-user-2", "bare-user");
    verify_exported_repo(&bare_user, GOLDEN_COMMIT);
    assert_objects_match(&bare_user, &bare_user_2, "two ostree bare-user repos");
    must_panic("objects of different modes", || assert_objects_match(&archive, &bare_user, "archive vs bare-user"));

    let object = loose_path(&bare_user_2, GOLDEN_HELLO, "file");
    chmod(&object, 0o600);
    must_panic("object perms", || assert_objects_match(&bare_user, &bare_user_2, "chmod"));
    chmod(&object, 0o644);
    flip_byte(&object, 3);
    must_panic("object bytes", || assert_objects_match(&bare_user, &bare_user_2, "flip"));
    must_panic("ostree fsck on a corrupted object", || verify_exported_repo(&bare_user_2, GOLDEN_COMMIT));

    let partial = golden_repo(tmp.path(), "partial", "archive");
    fs::write(partial.join("state").join(format!("{GOLDEN_COMMIT}.commitpartial")), b"").expect("write");
    must_panic("a partial commit", || verify_exported_repo(&partial, GOLDEN_COMMIT));

    let co = tmp.path().join("co");
    ostree_checkout(&archive, GOLDEN_COMMIT, &co);
    let before = snapshot(&co);
    chown(&co.join("hello.txt"), 0, 0);
    must_panic("owner change", || assert_trees_equal(&before, &snapshot(&co), "chown"));
    chown(&co.join("hello.txt"), 1000, 1001);
    assert_trees_equal(&before, &snapshot(&co), "restored owner");
    set_xattr(&co.join("xattr.txt"), "user.abc", b"xyZ");
    must_panic("xattr change", || assert_trees_equal(&before, &snapshot(&co), "setxattr"));
}
