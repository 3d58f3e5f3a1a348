//! `rejig demo`, the README's main-job command: with no system tools, it must build a distro
//! of packages, describe its compose as a jigdo, rebuild the commit bit-identically in a
//! separate client store from the jigdo and the packages, and fetch only the two changed
//! packages for the update.

use crate::util;

use util::{num, text, Rejig};

#[test]
fn demo_rebuilds_the_commit_from_its_jigdo_and_fetches_only_changed_packages() {
    let rejig = Rejig::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let report = rejig.json(&["demo", "--dir", dir.path().to_str().expect("UTF-8")]);

    let total = num(&report, "packages_total");
    assert!(total >= 10, "the distro should have about a dozen packages: {report}");
    assert_eq!(num(&report, "v1_packages_fetched"), total, "a fresh client fetches every package: {report}");
    assert_eq!(num(&report, "v2_packages_fetched"), 2, "the update changes exactly two packages: {report}");
    assert_eq!(report["packages_changed"].as_array().map(Vec::len), Some(2), "{report}");
    assert!(
        num(&report, "v2_bytes_fetched") * 4 < num(&report, "v1_bytes_fetched"),
        "the update should fetch a fraction of the first install: {report}"
    );

    for (built, exported) in [("v1", "v1_exported"), ("v2", "v2_exported")] {
        assert!(util::is_checksum(text(&report, built)), "{report}");
        assert_eq!(report[exported], report[built], "the client did not rebuild {built} bit-identically: {report}");
    }
    assert_ne!(report["v1"], report["v2"], "{report}");

    let written = num(&report, "v2_objects_written");
    assert!(
        written > 0 && written * 10 < num(&report, "v2_objects_total"),
        "the update should write a few objects out of many: {report}"
    );
    assert!(num(&report, "jigdo_v1_bytes") > 0 && num(&report, "jigdo_v2_bytes") > 0, "{report}");

    let repo = dir.path().join("repo");
    util::ostree_fsck(&repo, 2);
    assert_eq!(util::ostree_rev_parse(&repo, "demo/stable"), text(&report, "v2"), "the ref should point at v2");
    assert_eq!(util::ostree_rev_parse(&repo, "demo/stable^"), text(&report, "v1"), "v2's parent should be v1");
}
