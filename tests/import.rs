//! `rejig import PKG|DIR` and `rejig inspect` from the command line, on real packages fetched
//! from registries and fixtures built with rpmbuild (`rejig_test_support::corpus`): what a
//! user and a script see.

use crate::util;

use std::path::PathBuf;

use rejig_test_support::corpus::{self, generated};
use util::{num, Rejig};

fn corpus(key: &str) -> PathBuf {
    corpus::package(key)
}

/// A folder of real packages from other distributions' builds, all different: rpm's and
/// libarchive's test packages (gzip, bzip2, zstd and uncompressed payloads; rpm 4.4 to 4.17).
const IMPORT_SET: [&str; 9] = [
    "rpm/RPMS/foo-1.0-1.noarch.rpm",
    "rpm/RPMS/hello-1.0-1.i386.rpm",
    "rpm/RPMS/hello-1.0-1.ppc64.rpm",
    "rpm/RPMS/hello-2.0-1.i686.rpm",
    "rpm/RPMS/hello-2.0-1.x86_64.rpm",
    "rpm/RPMS/hlinktest-1.0-1.noarch.rpm",
    "rpm/RPMS/imatest-1.0-1.fc34.noarch.rpm",
    "libarchive/test_read_format_cpio_svr4_bzip2_rpm.rpm",
    "libarchive/test_read_format_cpio_svr4_gzip_rpm.rpm",
];

fn arg(path: &std::path::Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

#[test]
fn importing_packages_dedupes_skips_and_reports_failures_per_package() {
    let rejig = Rejig::new();
    let folder = tempfile::tempdir().expect("temp dir");
    for key in IMPORT_SET {
        let name = key.rsplit('/').next().expect("a file name");
        std::fs::copy(corpus(key), folder.path().join(name)).expect("copy");
    }
    let packages = folder.path();
    let first = rejig.json(&["import", arg(packages)]);
    let count = std::fs::read_dir(packages).expect("the folder").count() as u64;
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
    let second = rejig.json(&["import", arg(packages)]);
    assert_eq!(num(&second, "packages_skipped"), count, "{second}");
    assert_eq!(num(&second, "raw_bytes_written"), 0, "{second}");
    assert_eq!(std::fs::read_dir(rejig.store().join("packs")).expect("packs").count(), packs_before);

    // A damaged package fails on its own: the good one beside it is imported, the exit is not 0.
    let dir = tempfile::tempdir().expect("temp dir");
    let mut damaged = std::fs::read(corpus("generated/ostree-fixture-1.0-1.w19.zstdio.noarch.rpm")).expect("fixture");
    let at = damaged.len() - 50;
    damaged[at] ^= 0x10;
    std::fs::write(dir.path().join("damaged.rpm"), damaged).expect("write");
    std::fs::copy(corpus("rpm/RPMS/capstest-1.0-1.noarch.rpm"), dir.path().join("capstest.rpm")).expect("copy");
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
    // Many hardlinks, ghosts and symlinks in an xz payload, as a policy package has them.
    let linkfarm = corpus(&format!("generated/{}", generated::LINKFARM));
    let info = rejig.json(&["inspect", arg(&linkfarm)]);
    assert_eq!(info["nevra"], "rejig-linkfarm-20210617-1.noarch", "{info}");
    assert_eq!(info["header_digest"], "verified", "{info}");
    assert_eq!(info["payload_digest"], "verified", "{info}");
    assert_eq!(info["compression"], "xz", "{info}");
    // The oracle: rpm's own count of `%ghost` files.
    let flags = util::rpmbuild::rpm_query(&linkfarm, &["--qf", "[%{FILEFLAGS:fflags}\\n]"]);
    let ghosts = flags.lines().filter(|f| f.contains('g')).count();
    assert_eq!(ghosts, generated::LINKFARM_GHOSTS, "rpm -qp counts the spec's ghosts");
    assert_eq!(num(&info["files"], "ghosts"), ghosts as u64, "{info}");
    assert!(num(&info["files"], "hardlink_sets") > 0, "{info}");
    assert!(!rejig.store().exists(), "inspect must not create a store");

    let stripped = rejig.json(&["inspect", arg(&corpus("rpm-crate/RPMS/v6/zstd/rpm-basic-2.3.4-5.el9.noarch.rpm"))]);
    assert_eq!(stripped["compression"], "zstd", "{stripped}");

    let out = rejig.fails(&["inspect", arg(&corpus("rpm/RPMS/hello-2.0-1.x86_64-corrupted.rpm"))]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("hello-2.0-1.x86_64-corrupted.rpm") && stderr.contains("payload"), "{stderr}");
}
