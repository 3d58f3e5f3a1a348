//! `rejig import PKG|DIR` and `rejig inspect` from the command line, on the shared corpus:
//! what a user and a script see.

mod util;

use std::path::PathBuf;

use util::{num, Rejig};

fn corpus(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/rpms").join(relative)
}

fn arg(path: &std::path::Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

#[test]
fn importing_packages_dedupes_skips_and_reports_failures_per_package() {
    let rejig = Rejig::new();
    let fedora = corpus("fedora");
    let first = rejig.json(&["import", arg(&fedora)]);
    let count = std::fs::read_dir(&fedora).expect("corpus").count() as u64;
    assert_eq!(num(&first, "packages_imported"), count, "{first}");
    assert_eq!(num(&first, "packages_skipped"), 0, "{first}");
    assert!(
        num(&first, "raw_bytes_written") > num(&first, "bytes_stored"),
        "packs should be smaller than content: {first}"
    );
    for package in first["packages"].as_array().expect("packages") {
        assert_eq!(package["header_sha256"].as_str().map(str::len), Some(64), "{package}");
        assert!(package["nevra"].as_str().is_some_and(|n| n.matches('-').count() >= 2), "{package}");
    }

    // Again: every package is skipped after its header, and nothing new is written.
    let packs_before = std::fs::read_dir(rejig.store().join("packs")).expect("packs").count();
    let second = rejig.json(&["import", arg(&fedora)]);
    assert_eq!(num(&second, "packages_skipped"), count, "{second}");
    assert_eq!(num(&second, "raw_bytes_written"), 0, "{second}");
    assert_eq!(std::fs::read_dir(rejig.store().join("packs")).expect("packs").count(), packs_before);

    // A damaged package fails on its own: the good one beside it is imported, the exit is not 0.
    let dir = tempfile::tempdir().expect("temp dir");
    let mut damaged = std::fs::read(corpus("generated/ostree-fixture-1.0-1.w19.zstdio.noarch.rpm")).expect("fixture");
    let at = damaged.len() - 50;
    damaged[at] ^= 0x10;
    std::fs::write(dir.path().join("damaged.rpm"), damaged).expect("write");
    std::fs::copy(corpus("edge-cases/capstest-1.0-1.noarch.rpm"), dir.path().join("capstest.rpm")).expect("copy");
    let out = rejig.fails(&["--json", "import", arg(dir.path())]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report even on failure");
    assert_eq!(num(&report, "packages_imported"), 1, "{report}");
    let failures = report["failures"].as_array().expect("failures");
    assert_eq!(failures.len(), 1, "{report}");
    assert!(
        failures[0]["error"].as_str().is_some_and(|e| e.contains("damaged.rpm") && e.contains("payload")),
        "{report}"
    );

    let fsck = rejig.fsck_clean();
    assert_eq!(num(&fsck, "packages"), count + 1, "{fsck}");
}

#[test]
fn inspect_verifies_and_summarises_without_a_store() {
    let rejig = Rejig::new();
    let info =
        rejig.json(&["inspect", arg(&corpus("rhel-centos/crypto-policies-20210617-1.gitc776d3e.el8.noarch.rpm"))]);
    assert_eq!(info["nevra"], "crypto-policies-20210617-1.gitc776d3e.el8.noarch", "{info}");
    assert_eq!(info["header_digest"], "verified", "{info}");
    assert_eq!(info["payload_digest"], "verified", "{info}");
    assert_eq!(info["compression"], "xz", "{info}");
    assert_eq!(num(&info["files"], "ghosts"), 14, "{info}");
    assert!(num(&info["files"], "hardlink_sets") > 0, "{info}");
    assert!(!rejig.store().exists(), "inspect must not create a store");

    let stripped = rejig.json(&["inspect", arg(&corpus("v6-stripped/rpm-basic-2.3.4-5.el9.noarch.v6-zstd.rpm"))]);
    assert_eq!(stripped["compression"], "zstd", "{stripped}");

    let out = rejig.fails(&["inspect", arg(&corpus("edge-cases/hello-2.0-1.x86_64-corrupted.rpm"))]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("hello-2.0-1.x86_64-corrupted.rpm") && stderr.contains("payload"), "{stderr}");
}
