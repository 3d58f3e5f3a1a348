//! Several `rejig` processes at once: imports into one store (the store lock makes the
//! second writer wait) and exports of the same commit into one repository (no-replace writes:
//! whoever loses a race reuses the winner's object). All must succeed and leave sound results.

use crate::util;

use std::path::Path;

use util::*;

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("rejig-concurrency-").tempdir().expect("temp dir")
}

/// Two source repos (the golden fixture and a generated tree), both archive.
fn two_sources(dir: &Path) -> [(std::path::PathBuf, String); 2] {
    let golden = golden_repo(dir, "golden", "archive");
    let tree = dir.join("gen-tree");
    generate_tree(&tree, &TreeOptions { random_entries: 60, large_files: 1, ..TreeOptions::new(41) });
    let generated = dir.join("generated");
    ostree_init(&generated, "archive");
    let commit = ostree_commit(&generated, "test/gen", &tree, "generated");
    [(golden, GOLDEN_COMMIT.to_string()), (generated, commit)]
}

#[test]
fn concurrent_imports_into_one_store() {
    let tmp = tempdir();
    let sources = two_sources(tmp.path());
    let mut union = std::collections::BTreeSet::new();
    for (repo, commit) in &sources {
        union.extend(ostree_reachable(repo, commit));
    }
    for round in 0..3 {
        let rejig = Rejig::new();
        let outputs: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = sources
                .iter()
                .map(|(repo, commit)| {
                    let rejig = &rejig;
                    s.spawn(move || rejig.run(&["--json", "import", "--repo", p(repo), "--rev", commit]))
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("import thread")).collect()
        });
        for out in &outputs {
            assert!(
                out.status.success(),
                "round {round}: a concurrent import failed:\n{}",
                report("rejig import", out)
            );
        }
        let fsck = rejig.fsck_clean();
        assert_eq!(num(&fsck, "objects"), union.len() as u64, "round {round}: the store must hold the union: {fsck}");
        for (_, commit) in &sources {
            let target = tmp.path().join(format!("round-{round}-{}", &commit[..8]));
            let v = rejig.export(commit, &target, &["--mode", "bare-user"]);
            assert_eq!(text(&v, "commit"), commit, "{v}");
            verify_exported_repo(&target, commit);
        }
    }
}

#[test]
fn concurrent_exports_into_one_repo() {
    let tmp = tempdir();
    let sources = two_sources(tmp.path());
    let (src, commit) = &sources[1];
    let stores = [Rejig::new(), Rejig::new(), Rejig::new()];
    for rejig in &stores {
        rejig.import(src, commit);
    }
    for mode in ["archive", "bare-user"] {
        for round in 0..2 {
            let target = tmp.path().join(format!("target-{mode}-{round}"));
            ostree_init(&target, mode);
            let outputs: Vec<_> = std::thread::scope(|s| {
                let handles: Vec<_> = stores
                    .iter()
                    .map(|rejig| {
                        let target = &target;
                        s.spawn(move || {
                            rejig.run(&["--json", "export", commit, "--repo", p(target), "--ref", "test/gen"])
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().expect("export thread")).collect()
            });
            for out in &outputs {
                assert!(
                    out.status.success(),
                    "{mode} round {round}: a concurrent export failed:\n{}",
                    report("rejig export", out)
                );
            }
            verify_exported_repo(&target, commit);
            assert_eq!(ostree_rev_parse(&target, "test/gen"), *commit, "the ref after concurrent exports");
        }
    }
}
