//! The payload walker over arbitrary decompressed archives, under the headers of real
//! packages with hardlinks, symlinks, ghosts and a stripped (v6) payload. The first input
//! byte picks the package. The packages are not committed: `fuzz/make-seeds.sh packages`
//! (which `fuzz/run.sh` runs) fetches and builds them into `fuzz/packages/` through the test
//! support crate.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

/// The packages of `rejig_test_support::corpus::RPM_PAYLOAD_PACKAGES`, in its order (the
/// kept inputs in `regressions/rpm_payload/` pick them by position), as `rejig-test-data copy`
/// names them.
const PACKAGES: [&str; 4] = [
    "generated_ostree-fixture-1.0-1.w0.ufdio.noarch.rpm",
    "rpm_RPMS_hlinktest-1.0-1.noarch.rpm",
    "rpm-crate_RPMS_v6_rpm-hardlinks-1.0-1.noarch.rpm",
    "generated_rejig-linkfarm-20210617-1.noarch.rpm",
];

fn packages() -> &'static [Vec<u8>] {
    static LOADED: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    LOADED.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("packages");
        PACKAGES
            .iter()
            .map(|name| {
                let path = dir.join(name);
                std::fs::read(&path)
                    .unwrap_or_else(|e| panic!("{}: {e} (run fuzz/make-seeds.sh packages)", path.display()))
            })
            .collect()
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some((&pick, archive)) = data.split_first() {
        let packages = packages();
        let package = &packages[usize::from(pick) % packages.len()];
        rejig_importer::fuzzing::rpm_payload(package, archive);
    }
});
