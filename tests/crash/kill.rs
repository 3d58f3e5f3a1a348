//! `rejig` killed with SIGKILL at various points of an import or an export. Wherever the kill
//! lands (the delays only vary where; nothing here asserts timing), the store must stay sound
//! and importable, and the target repository must stay usable: a second export completes it
//! and `ostree fsck` passes, with objects laid out as `ostree commit` lays them out.

use crate::util;

use std::path::Path;
use std::time::Duration;

use util::*;

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("rejig-crash-").tempdir().expect("temp dir")
}

const DELAYS_MS: [u64; 6] = [0, 5, 20, 50, 120, 300];

/// A tree big enough that an import or export takes a while, committed into archive and
/// bare-user repos by ostree.
fn source(dir: &Path) -> String {
    let tree = dir.join("tree");
    generate_tree(&tree, &TreeOptions { random_entries: 600, large_files: 3, ..TreeOptions::new(51) });
    let mut commit = String::new();
    for mode in ["archive", "bare-user"] {
        let repo = dir.join(format!("src-{mode}"));
        ostree_init(&repo, mode);
        commit = ostree_commit(&repo, "test/crash", &tree, "crash");
    }
    commit
}

fn kill_after(mut child: std::process::Child, delay_ms: u64) {
    std::thread::sleep(Duration::from_millis(delay_ms));
    // It may have finished already; either way it is reaped.
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn killed_import_leaves_a_sound_store() {
    let tmp = tempdir();
    let commit = source(tmp.path());
    let src = tmp.path().join("src-archive");
    for delay in DELAYS_MS {
        let rejig = Rejig::new();
        kill_after(rejig.spawn(&["import", "--repo", p(&src), "--rev", "test/crash"]), delay);
        rejig.fsck_clean_after_kill();
        let v = rejig.import(&src, "test/crash");
        assert_eq!(text(&v, "commit"), commit, "import after a kill at {delay} ms: {v}");
        rejig.fsck_clean();
        let target = tmp.path().join(format!("after-import-kill-{delay}"));
        let v = rejig.export(&commit, &target, &["--mode", "bare-user"]);
        assert_eq!(text(&v, "commit"), commit, "export after an import killed at {delay} ms: {v}");
        verify_exported_repo(&target, &commit);
    }
}

#[test]
fn killed_export_leaves_a_usable_repo() {
    let tmp = tempdir();
    let commit = source(tmp.path());
    let rejig = Rejig::new();
    rejig.import(&tmp.path().join("src-archive"), "test/crash");
    for mode in ["bare-user", "archive"] {
        for delay in DELAYS_MS {
            let target = tmp.path().join(format!("{mode}-killed-at-{delay}"));
            kill_after(
                rejig.spawn(&["export", &commit, "--repo", p(&target), "--mode", mode, "--ref", "test/crash"]),
                delay,
            );
            if target.join("objects").is_dir() && !loose_path(&target, &commit, "commit").exists() {
                assert!(
                    !target.join("refs/heads/test/crash").exists(),
                    "{mode}, killed at {delay} ms: the ref exists but the commit object does not"
                );
            }
            // Temp files of the killed writer may stay (ostree expires them); the re-export
            // must not add its own.
            let left_by_kill = files_under(&target.join("tmp"));
            let v = rejig.export(&commit, &target, &["--mode", mode, "--ref", "test/crash"]);
            assert_eq!(text(&v, "commit"), commit, "re-export after a kill at {delay} ms: {v}");
            verify_exported_repo_allowing(&target, &commit, &left_by_kill);
            assert_eq!(ostree_rev_parse(&target, "test/crash"), commit, "{mode}, killed at {delay} ms: the ref");
            assert_objects_match(
                &tmp.path().join(format!("src-{mode}")),
                &target,
                &format!("{mode} export killed at {delay} ms, then completed"),
            );
        }
    }
}
