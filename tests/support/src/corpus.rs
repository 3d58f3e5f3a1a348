//! Real RPM packages for the tests: fetched from package registries at test time, pinned by
//! SHA-256, cached under the workspace's target directory (`target/test-data/`), and fixtures
//! built with the real `rpmbuild` during the run.
//!
//! [`fetch`] is the one entry point. The first call in a checkout fetches and builds
//! everything (under a file lock, so that test processes running side by side do not race;
//! each source is staged in a temp directory and renamed into place); later calls, in this
//! process or the next, find it in the cache and only check the pins. A fetch that fails
//! panics with a message that names what was fetched and why it failed: a test never skips.
//!
//! The sources, each under its own key prefix:
//! - `rpm/`: rpm's own test packages (`tests/data/RPMS` and `SRPMS`) from the original tarball
//!   of Debian's source package of rpm 4.18, downloaded with `apt-get source --download-only`
//!   through a private deb-src list derived from the machine's apt sources;
//! - `libarchive/`: the two old RPMs of libarchive's test suite (uuencoded in its source
//!   package, decoded here);
//! - `rpm-crate/`: the test assets the `rpm` crate publishes (RPM v4 and v6, signed ones,
//!   source packages), found through `cargo metadata`: the crate is a dependency of the
//!   workspace, so it is in cargo's registry cache after a build;
//! - `generated/`: fixtures made by `rpmbuild` from spec texts in [`generated`]: one fixture
//!   with every payload compressor, a package of many hardlinks, ghosts and symlinks, one of
//!   hundreds of files, and a package holding a sparse 4 GiB + 4 KiB file (the stripped `07070X` payload format).
//!
//! The extra corpus (Fedora, openSUSE and RHEL packages beside the repository) is used only
//! when `REJIG_TEST_CORPUS` names it: see [`extra_corpus`].

mod cache;
mod debian;
pub mod generated;
mod rpm_crate;
mod uu;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The environment variable naming the extra corpus (a folder of `.rpm` files, searched
/// recursively). `run-tests.sh` sets it when such a corpus sits beside the repository.
pub const EXTRA_CORPUS_VAR: &str = "REJIG_TEST_CORPUS";

/// Every fetched package by key, with its SHA-256. The keys under `rpm/` and `libarchive/`
/// come from Debian's source packages, those under `rpm-crate/` from the rpm crate's assets.
pub const PINNED: &[(&str, &str)] = &[
    ("rpm/RPMS/capstest-1.0-1.noarch.rpm", "e1a530d3edbfe9e3d6765e7058173796cd67ee744f139bdecb6fa9fce6f746c4"),
    ("rpm/RPMS/foo-1.0-1.noarch.rpm", "91d0a01f3145087c6b85459f42840dbbe455eaddb934e9c4c83901823a0ef61a"),
    ("rpm/RPMS/hello-1.0-1.i386.rpm", "7c4f932d7e66cfa3fb2ae756f916527e8ddf48ef8e6e428ac80a3a298a2ab7ab"),
    ("rpm/RPMS/hello-1.0-1.ppc64.rpm", "614c7d13d319c3f8719ab84cd226a1dccbecb8f4d1758ce39926e1edae119054"),
    ("rpm/RPMS/hello-2.0-1.i686.rpm", "3328b90a578d18dba45abc584395795115c6c024abd561ce533ec175619925ff"),
    ("rpm/RPMS/hello-2.0-1.x86_64-corrupted.rpm", "2948d6ec22cacdb1c5b812082808a3812cb74ad3f8df0b2a2d08ee7b8203d9bb"),
    ("rpm/RPMS/hello-2.0-1.x86_64-signed.rpm", "d32735351a8952afc9e4afd7309e3a1929288eff5af32526934314f1f304ff7f"),
    ("rpm/RPMS/hello-2.0-1.x86_64.rpm", "e05a5191e214b1f05ae2448ebe493e55c6313ab68eaf040b83baa80e25f15d54"),
    ("rpm/RPMS/hlinktest-1.0-1.noarch.rpm", "553accd882a2ade44db794baa792b411ffdcaff7f3853cebd82e147d24691f51"),
    ("rpm/RPMS/imatest-1.0-1.fc34.noarch.rpm", "5afe00193445d88d1aeb266f090dd600430185bb50033cb8527f2f3c4484c1a1"),
    ("rpm/SRPMS/foo-1.0-1.src.rpm", "1dec3d2d9fc21df077ea76b66e3567de96235e2693f419c684b9334972d874c2"),
    ("rpm/SRPMS/hello-1.0-1.src.rpm", "fdcb84603c247614e205ff2eef789c50c7e0f862acbcbb5835d6d187a22d089d"),
    (
        "libarchive/test_read_format_cpio_svr4_bzip2_rpm.rpm",
        "d652b81accaeaf5761b807971fd9ca75f00ebaeefad237a80f08f7764a24b66c",
    ),
    (
        "libarchive/test_read_format_cpio_svr4_gzip_rpm.rpm",
        "dcc4f3ab933335bf3822d94079fdf4f0b7ac4c65773ca8e9a973a1cec7c553d6",
    ),
    (
        "rpm-crate/RPMS/v4/rpm-basic-2.3.4-5.el9.noarch.rpm",
        "137c4754a12545b86aca594a7941060d4926a96b15dbf2e03c1a78838708a618",
    ),
    ("rpm-crate/RPMS/v4/rpm-empty-0-0.x86_64.rpm", "438b283e432252fdaef1c7045cabd3f8ca54f87f1606c068f6168972a1df2150"),
    (
        "rpm-crate/RPMS/v4/signed/rpm-basic-with-ecdsa-2.3.4-5.el9.noarch.rpm",
        "b804e71436127f0b661dd55db7ccc652058c4299c98028dce4447f2865a325b1",
    ),
    (
        "rpm-crate/RPMS/v4/signed/rpm-basic-with-ed25519-2.3.4-5.el9.noarch.rpm",
        "7bc9cee39e6c86db0f634b837c7c13b98185a4235a5e260a9b04373a3ca46415",
    ),
    (
        "rpm-crate/RPMS/v4/signed/rpm-basic-with-ima-2.3.4-5.el9.noarch.rpm",
        "d6822b22b6da85ae75ed181c2c68ca139a4bd042de7bcd5b17b3e9738e967b0d",
    ),
    (
        "rpm-crate/RPMS/v4/signed/rpm-basic-with-rsa4096-2.3.4-5.el9.noarch.rpm",
        "b0cfed6e77bba6fc8a0d9664574701f68ea2ff36737e70786f590f1804d221d6",
    ),
    (
        "rpm-crate/RPMS/v6/gzip/rpm-basic-2.3.4-5.el9.noarch.rpm",
        "321a2b8ed9ec858dbeaf9ffc87835093cf5016e84e73c593ed2de9c77c7bc4d5",
    ),
    (
        "rpm-crate/RPMS/v6/rpm-basic-2.3.4-5.el9.noarch.rpm",
        "1aca2bf7a7111f5524f5a3ee492c9cac63d7fda15b8df2b6c264fa523a51ebf5",
    ),
    ("rpm-crate/RPMS/v6/rpm-empty-0-0.x86_64.rpm", "17384693825957e86b263798313beb957b84350c92a5537136325d51be2d5ce2"),
    (
        "rpm-crate/RPMS/v6/rpm-file-attrs-1.0-1.noarch.rpm",
        "10f35505fbc38419d39a1ce2af39e5bcd58344737dc87cddc7118b201ff2fdd0",
    ),
    (
        "rpm-crate/RPMS/v6/rpm-file-types-1.0-1.noarch.rpm",
        "016b59f487ac84f17718693aa01c4ee12a04d758479f431f635c2978102f5de8",
    ),
    (
        "rpm-crate/RPMS/v6/rpm-hardlinks-1.0-1.noarch.rpm",
        "e393089844452972280c097268870cb937374a1159820e19848752e99a4c7df3",
    ),
    ("rpm-crate/RPMS/v6/rpm-i18n-1.0-1.noarch.rpm", "1cac857ddb030ec36c321a5f746ecbffe9d31ddd3819333ccae3ef87ee0ab3b4"),
    (
        "rpm-crate/RPMS/v6/rpm-rich-deps-1.0-1.noarch.rpm",
        "3e4e8c054a54030a8a987342049e8b8375c51f671383a02d01825bb7f2264af9",
    ),
    (
        "rpm-crate/RPMS/v6/rpm-scriptlets-1.0-1.noarch.rpm",
        "a1175cf6aa13604727be50972807cef834aaf477624b3b4870c15ea200b1a752",
    ),
    (
        "rpm-crate/RPMS/v6/rpm-special-files-1.0-1.noarch.rpm",
        "b96da036cc44d7e9d38ca3335b7c41600344a62adcf84d5462cb7808b7bbcd1a",
    ),
    (
        "rpm-crate/RPMS/v6/rpm-with-patch-1.0-0.noarch.rpm",
        "089c048932c29a9727fcf46266465ebb7cbc2725c4b1578ddfdb662a25cbcbb8",
    ),
    (
        "rpm-crate/RPMS/v6/signed/rpm-basic-multiple-signatures-2.3.4-5.el9.noarch.rpm",
        "8b4f15f9ad620fc1a1284c9665323e81e4c2fe98e2c7bb8eb9e8b6c0c0285968",
    ),
    (
        "rpm-crate/RPMS/v6/signed/rpm-basic-with-ed25519-2.3.4-5.el9.noarch.rpm",
        "803e4c43972179a95f56d83fc425ce049c1ef5c64322619cc3006d289fa23710",
    ),
    (
        "rpm-crate/RPMS/v6/signed/rpm-basic-with-mldsa65-ed25519-2.3.4-5.el9.noarch.rpm",
        "7652710d060ff1fd679f317888507ce9228e1985186d8d7c302bf543f02c4b64",
    ),
    (
        "rpm-crate/RPMS/v6/signed/rpm-basic-with-rsa4k-2.3.4-5.el9.noarch.rpm",
        "ac67d77768620bbb3dea7c9917389668829281eb22540d9bcbe4c8df764a4385",
    ),
    (
        "rpm-crate/RPMS/v6/xz/rpm-basic-2.3.4-5.el9.noarch.rpm",
        "1f7abeb2e370fe4e41f551da342e6e4e6bf8e5a3b18d335d1d7f1e2be0d14bc6",
    ),
    (
        "rpm-crate/RPMS/v6/zstd/rpm-basic-2.3.4-5.el9.noarch.rpm",
        "26663c6879aad52ca02e6de039083be3d53c446f5a4785de070515e1b5a0f6c5",
    ),
    (
        "rpm-crate/SRPMS/v4/rpm-basic-2.3.4-5.el9.src.rpm",
        "c0a30e7c43ac057f2e4d6b73355183739ec0d0808bc8855ae02825a3358ab337",
    ),
    ("rpm-crate/SRPMS/v4/rpm-empty-0-0.src.rpm", "5911e80a38246dcc01bfa25f734457a8212000abee19ae4e1b94e57fb0156fad"),
    (
        "rpm-crate/SRPMS/v6/rpm-basic-2.3.4-5.el9.src.rpm",
        "1882a0a11bea9ab2de54c10f3838ac3000dcb1b8a251490c2af9166a5f5d54a0",
    ),
    ("rpm-crate/SRPMS/v6/rpm-empty-0-0.src.rpm", "0e7ebc82ee88b3ca8bbf99d9913d65ba9bb5f188269dfffa0e1cfcbe64664c45"),
    (
        "rpm-crate/SRPMS/v6/rpm-file-attrs-1.0-1.src.rpm",
        "a277125bd8c6ec9751cad3bec47a050e32c1b989bd021efa57d14402e324f4e3",
    ),
    (
        "rpm-crate/SRPMS/v6/rpm-file-types-1.0-1.src.rpm",
        "f3b3ed711104b07053ddc89adf12d5a65785253c9455f366181fdb3c927e00b8",
    ),
    (
        "rpm-crate/SRPMS/v6/rpm-hardlinks-1.0-1.src.rpm",
        "24114248e78ef2a5ace9079b4b52e5669792b8fd4d2fd9356a095c6a7dad1ff1",
    ),
    ("rpm-crate/SRPMS/v6/rpm-i18n-1.0-1.src.rpm", "f2ee7e33f5980171a3cfe665c63d92f332096649329d530552f940dfe3c5e918"),
    (
        "rpm-crate/SRPMS/v6/rpm-rich-deps-1.0-1.src.rpm",
        "6844d8febd7c7f99282864743770f7ce487a3c978bdc36fa03f15d1508689b7c",
    ),
    (
        "rpm-crate/SRPMS/v6/rpm-scriptlets-1.0-1.src.rpm",
        "837701d552c2616c30981be7c09bb1fcf956b2146d03e0e9189a1767e5c7e0c0",
    ),
    (
        "rpm-crate/SRPMS/v6/rpm-with-patch-1.0-0.src.rpm",
        "b1d550f00b2c5e29c5b18a48246973d5e7b3ac0de427197a84d2879b0af6f3fc",
    ),
];

/// One package of the test data.
#[derive(Clone, Debug)]
pub struct Package {
    /// Where it is within the test data: `rpm/RPMS/hello-2.0-1.x86_64.rpm`,
    /// `rpm-crate/RPMS/v6/rpm-hardlinks-1.0-1.noarch.rpm`, `generated/…`.
    pub key: String,
    /// The file, in the cache.
    pub path: PathBuf,
}

/// The fetched and generated packages, in the cache.
#[derive(Debug)]
pub struct TestData {
    packages: Vec<Package>,
}

impl TestData {
    /// Every fetched and generated package, sorted by key.
    pub fn packages(&self) -> &[Package] {
        &self.packages
    }

    /// The package with this key; panics naming the key if there is none.
    pub fn path(&self, key: &str) -> PathBuf {
        match self.packages.iter().find(|p| p.key == key) {
            Some(package) => package.path.clone(),
            None => panic!(
                "test data: no package {key:?}; the keys are:\n{}",
                self.packages.iter().map(|p| p.key.as_str()).collect::<Vec<_>>().join("\n")
            ),
        }
    }
}

/// Fetches (or finds in the cache) every registry package and builds (or finds) every
/// generated fixture. Panics, naming what failed, when a fetch or a build fails or a file
/// does not match its pin.
pub fn fetch() -> &'static TestData {
    static DATA: OnceLock<TestData> = OnceLock::new();
    DATA.get_or_init(|| {
        let root = cache::test_data_dir();
        let _lock = cache::Lock::take(&root);
        let mut packages = Vec::new();
        let debian = cache::pinned_dir(&root, "debian-v1", &["rpm/", "libarchive/"], debian::populate);
        let crate_assets = cache::pinned_dir(&root, "rpm-crate-v1", &["rpm-crate/"], rpm_crate::populate);
        for (key, _) in PINNED {
            let dir = if key.starts_with("rpm-crate/") { &crate_assets } else { &debian };
            packages.push(Package { key: (*key).to_owned(), path: dir.join(key) });
        }
        for fixture in generated::fixtures() {
            let dir = generated::build(&root, &fixture);
            for name in fixture.outputs() {
                let key = format!("generated/{name}");
                packages.push(Package { path: dir.join(&key), key });
            }
        }
        packages.sort_by(|a, b| a.key.cmp(&b.key));
        TestData { packages }
    })
}

/// The package with this key (see [`Package::key`]), fetched or built first if need be.
pub fn package(key: &str) -> PathBuf {
    fetch().path(key)
}

/// A file of the rpm crate's test assets other than a pinned package, e.g. the public key
/// `signing_keys/v4/rpm-testkey-v4-ed25519.asc` its signed packages verify with. Not pinned:
/// a key that changed would fail to verify the pinned packages it signed.
pub fn rpm_crate_asset(relative: &str) -> PathBuf {
    let path = rpm_crate::assets_dir().join(relative);
    assert!(path.is_file(), "test data: the rpm crate's assets have no {}", path.display());
    path
}

/// The extra corpus, when [`EXTRA_CORPUS_VAR`] is set: every `.rpm` below it, sorted. Panics
/// if the variable names a folder that cannot be read or holds no package.
pub fn extra_corpus() -> Option<Vec<PathBuf>> {
    let dir = PathBuf::from(std::env::var_os(EXTRA_CORPUS_VAR)?);
    let packages = rpm_files(&dir);
    assert!(!packages.is_empty(), "{EXTRA_CORPUS_VAR}={}: no .rpm files there", dir.display());
    Some(packages)
}

/// Every fetched and generated package, then the extra corpus's when it is set.
pub fn all_packages() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fetch().packages().iter().map(|p| p.path.clone()).collect();
    out.extend(extra_corpus().unwrap_or_default());
    out
}

/// Every `.rpm` below `dir`, sorted.
pub fn rpm_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.unwrap_or_else(|e| panic!("{}: {e}", dir.display())).path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rpm") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The packages whose headers the `rpm_payload` fuzz target puts over its inputs, in its
/// order (the first input byte picks one): hardlinks, symlinks, a ghost and a capability in an
/// uncompressed payload; rpm's own hardlink test; a stripped (v6) payload with hardlinks; and
/// many hardlink sets, ghosts and symlinks.
pub const RPM_PAYLOAD_PACKAGES: [&str; 4] = [
    "generated/ostree-fixture-1.0-1.w0.ufdio.noarch.rpm",
    "rpm/RPMS/hlinktest-1.0-1.noarch.rpm",
    "rpm-crate/RPMS/v6/rpm-hardlinks-1.0-1.noarch.rpm",
    "generated/rejig-linkfarm-20210617-1.noarch.rpm",
];
