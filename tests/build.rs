//! The build side's matching rules, checked on the tables of a real build: content is matched
//! by bytes, not path; among packages holding the same bytes, one at the object's own path
//! wins, then NEVRA order; empty and unpackaged content is carried as new, once per content;
//! unused packages are left out of the table and the Requires.
#![allow(clippy::unwrap_used)]

use crate::util;

use std::collections::HashMap;
use std::fs;
use std::process::Command;

use rejig_format::jigdo::ContentSource;
use util::{chmod, chown, num, ostree_commit, ostree_init, p, run, set_xattr, Rejig};

use util::{noarch_package as package, put_file as put};

#[test]
fn content_is_matched_by_bytes_with_same_path_then_nevra_order() {
    let dir = tempfile::tempdir().unwrap();
    let packages = dir.path().join("packages");
    fs::create_dir_all(&packages).unwrap();
    // "alpha" sorts before "beta"; both hold the shared bytes, at different paths.
    package(&packages, "alpha", &[("/usr/share/alpha/common", b"shared bytes\n"), ("/etc/alpha.conf", b"alpha=1\n")]);
    package(&packages, "beta", &[("/usr/share/beta/common", b"shared bytes\n"), ("/usr/bin/beta", b"#!/bin/sh\n")]);
    package(&packages, "gamma", &[("/usr/share/gamma/unused", b"nobody ships this in the commit\n")]);

    let root = dir.path().join("root");
    put(&root, "/usr/share/beta/common", b"shared bytes\n"); // same path as beta's: beta
    put(&root, "/usr/lib/elsewhere", b"shared bytes\n"); // no path match: alpha (NEVRA order)
    chmod(&root.join("usr/lib/elsewhere"), 0o600); // another object than beta/common's
    put(&root, "/usr/etc/alpha.conf", b"alpha=1\n"); // /etc moved to /usr/etc: still alpha
    put(&root, "/usr/bin/beta", b"#!/bin/sh\n");
    put(&root, "/usr/bin/beta-copy", b"#!/bin/sh\n"); // same bytes, other metadata: beta
    chmod(&root.join("usr/bin/beta-copy"), 0o700);
    chown(&root.join("usr/bin/beta-copy"), 1000, 1000);
    set_xattr(&root.join("usr/bin/beta-copy"), "user.label", b"relabelled");
    put(&root, "/usr/lib/os-release", b"generated\n"); // no package: new
    put(&root, "/usr/lib/os-release.copy", b"generated\n"); // same new content, other metadata
    chmod(&root.join("usr/lib/os-release.copy"), 0o600);
    put(&root, "/usr/lib/empty", b""); // empty: new, never a package need
    std::os::unix::fs::symlink("beta", root.join("usr/bin/b")).unwrap();

    let repo = dir.path().join("repo");
    ostree_init(&repo, "archive");
    let commit = ostree_commit(&repo, "os", &root, "matching");
    let jigdo_path = dir.path().join("matching.rpm");
    let report = Rejig::new().build(&repo, "os", &packages, "matching", &jigdo_path);
    assert_eq!(report["commit"], commit.as_str());
    let mode = std::os::unix::fs::PermissionsExt::mode(&fs::metadata(&jigdo_path).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o644, "a jigdo is published like any package: world-readable");
    assert_eq!(num(&report, "packages_used"), 2, "{report}");
    assert_eq!(num(&report, "packages_unused"), 1, "{report}");
    assert_eq!(num(&report, "objects_symlink"), 1, "{report}");

    let (jigdo, small) = util::jigdo_fixture::assembled(&jigdo_path);
    let names: Vec<&str> = jigdo.packages.iter().map(|p| p.nevra.name.as_str()).collect();
    assert_eq!(names, ["alpha", "beta"], "only used packages, in NEVRA order");

    // Which package (by name) or "new" each committed path's object comes from.
    let checksums = util::ostree_file_checksums(&repo, "os");
    let by_object: HashMap<String, &rejig_format::jigdo::ContentEntry> =
        jigdo.content.iter().map(|e| (e.object.to_hex(), e)).collect();
    let source_of = |path: &str| -> String {
        let object = checksums.get(path).unwrap_or_else(|| panic!("{path} not in {checksums:?}"));
        match &by_object[object].source {
            ContentSource::Package { package, .. } => names[*package as usize].to_owned(),
            ContentSource::New => "new".to_owned(),
            ContentSource::Symlink(target) => format!("-> {target}"),
        }
    };
    assert_eq!(source_of("/usr/share/beta/common"), "beta", "same path wins over NEVRA order");
    assert_eq!(source_of("/usr/lib/elsewhere"), "alpha", "no path match: first package in NEVRA order");
    assert_eq!(source_of("/usr/etc/alpha.conf"), "alpha", "moved files still come from packages");
    assert_eq!(source_of("/usr/bin/beta-copy"), "beta", "re-owned, re-moded, relabelled: still beta");
    assert_eq!(source_of("/usr/lib/os-release"), "new");
    assert_eq!(source_of("/usr/lib/os-release.copy"), "new");
    assert_eq!(source_of("/usr/lib/empty"), "new", "empty content must not make a package needed");
    assert_eq!(source_of("/usr/bin/b"), "-> beta");

    // New content is carried once per content, not per object: small, so in the records.
    assert_eq!(small.len(), 2, "one blob for 'generated' and one for the empty content");
    let out = run(Command::new("rpm").args(["-qpl", p(&jigdo_path)]));
    let listing = String::from_utf8_lossy(&out.stdout);
    assert_eq!(listing.lines().count(), 2, "the jigdo carries its directory and head only:\n{listing}");
    let requires =
        String::from_utf8_lossy(&run(Command::new("rpm").args(["-qpR", p(&jigdo_path)])).stdout).into_owned();
    // Packages are bound by the head's table, not required: that would only fatten the jigdo.
    assert!(!requires.contains("alpha") && !requires.contains("beta"), "packages are not required:\n{requires}");
    // Each part is required exactly, by the NEVRA its contents digest gives.
    let head = rejig_importer::jigdo::read_jigdo(&jigdo_path).unwrap().head;
    assert!(!head.parts.is_empty());
    for part in head.unique_parts() {
        let n = part.nevra();
        let line = format!("{} = {}-{}", n.name, n.version, n.release);
        assert!(requires.lines().any(|l| l.trim() == line), "{line} not in\n{requires}");
    }
    assert!(!requires.contains("gamma"), "unused packages are not required:\n{requires}");
}
