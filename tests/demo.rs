//! `rejig demo`, the README's main-job command: it must tell its story with no system tools
//! and reproduce the commit bit-identically.

mod util;

use util::{num, Rejig};

#[test]
fn demo_reproduces_the_commit_and_updates_incrementally() {
    let rejig = Rejig::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let report = rejig.json(&["demo", "--dir", dir.path().to_str().expect("UTF-8")]);
    assert_eq!(report["reexported_commit"], report["v1"], "the edge store did not reproduce v1: {report}");
    assert_ne!(report["v1"], report["v2"], "{report}");
    let written = num(&report, "update_objects_written");
    let total = num(&report, "update_objects_total");
    assert!(written > 0 && written * 10 < total, "the update should write a few objects out of many: {report}");
    for repo in ["repo-archive", "repo-bare-user", "repo-edge"] {
        util::ostree_fsck(&dir.path().join(repo), 1);
    }
}
