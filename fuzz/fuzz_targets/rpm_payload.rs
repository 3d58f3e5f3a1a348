//! The payload walker over arbitrary decompressed archives, under the headers of real
//! packages with hardlinks, symlinks, ghosts and a stripped (v6) payload. The first input
//! byte picks the package.
#![no_main]

const PACKAGES: [&[u8]; 4] = [
    include_bytes!("../../../shared/corpus/rpms/generated/ostree-fixture-1.0-1.w0.ufdio.noarch.rpm"),
    include_bytes!("../../../shared/corpus/rpms/edge-cases/hlinktest-1.0-1.noarch.rpm"),
    include_bytes!("../../../shared/corpus/rpms/v6-stripped/rpm-hardlinks-1.0-1.noarch.rpm"),
    include_bytes!("../../../shared/corpus/rpms/rhel-centos/crypto-policies-20210617-1.gitc776d3e.el8.noarch.rpm"),
];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some((&pick, archive)) = data.split_first() {
        let package = PACKAGES[usize::from(pick) % PACKAGES.len()];
        rejig_importer::fuzzing::rpm_payload(package, archive);
    }
});
