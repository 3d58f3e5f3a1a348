//! Property tests: random packages built with the `rpm` crate's `PackageBuilder` (v4 and v6,
//! every compressor it writes) are read back by our reader, and every file must match what
//! went in: path, type, permissions, owners, size, link target, caps and content, with every
//! member of a hardlink set getting the content. Plus a package of 15,000 entries.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use rejig_importer::rpm::caps::caps_to_xattr;
use rejig_importer::rpm::error::RpmError;
use rejig_importer::rpm::files::{S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};
use rejig_importer::rpm::package::Package;
use rejig_test_support::rng::Rng;
use rpm::{BuildConfig, CompressionType, CompressionWithLevel, FileOptions, PackageBuilder};

/// Half-compressible content: runs of a byte, then noise.
fn half_compressible(rng: &mut Rng, len: usize) -> Vec<u8> {
    (0..len).map(|i| if i % 64 < 32 { (i / 64) as u8 } else { rng.next_u64() as u8 }).collect()
}

/// What a file should look like after reading.
#[derive(Debug, Clone)]
struct Expected {
    mode: u32,
    user: String,
    group: String,
    link: String,
    caps: Option<String>,
    content: Option<Vec<u8>>,
}

fn build(seed: u64) -> (Vec<u8>, HashMap<String, Expected>, &'static str) {
    let mut rng = Rng::new(seed);
    // Low levels: the decoders are the same, and the test stays fast.
    let compressions = [
        (CompressionWithLevel::None, "none"),
        (CompressionWithLevel::Gzip(1), "gzip"),
        (CompressionWithLevel::Zstd(3), "zstd"),
        (CompressionWithLevel::Xz(1), "xz"),
        (CompressionWithLevel::Bzip2(1), "bzip2"),
    ];
    let (compression, name) = *rng.pick(&compressions);
    let config = if rng.below(2) == 0 { BuildConfig::v4() } else { BuildConfig::v6() };
    let mut builder = PackageBuilder::new(&format!("prop{seed}"), "1.0", "MIT", "noarch", "property test");
    builder.using_config(config.compression(compression).source_date(1_700_000_000u32));
    let mut expected = HashMap::new();
    let dirs = ["/opt/prop", "/opt/prop/bin", "/opt/prop/share/é", "/opt/prop/deep/a/b/c/d"];
    let users = ["root", "daemon", "nobody"];
    let perms = [0o644u16, 0o755, 0o600, 0o640, 0o4755, 0o2755, 0o444];
    let count = 1 + rng.below(40);
    for i in 0..count {
        let dir = rng.pick(&dirs);
        let path = format!("{dir}/f{i}");
        let user = rng.pick(&users).to_string();
        let group = rng.pick(&users).to_string();
        match rng.below(10) {
            0 | 1 => {
                let target =
                    if rng.below(2) == 0 { format!("f{}", rng.below(count)) } else { "/opt/prop/bin/f0".to_owned() };
                builder.with_symlink(FileOptions::symlink(&path, &target).user(&user).group(&group)).unwrap();
                let link = Expected { mode: S_IFLNK | 0o777, user, group, link: target, caps: None, content: None };
                expected.insert(path, link);
            }
            2 => {
                // A hardlink set of two or three members with identical content and metadata.
                let len = rng.below(5000) as usize;
                let content = half_compressible(&mut rng, len);
                let members = 2 + rng.below(2);
                for m in 0..members {
                    let member = format!("{dir}/h{i}-{m}");
                    let options = FileOptions::new(&member)
                        .permissions(0o644)
                        .user(&user)
                        .group(&group)
                        .hardlink(format!("set{i}"));
                    builder.with_file_contents(content.clone(), options).unwrap();
                    let file = Expected {
                        mode: S_IFREG | 0o644,
                        user: user.clone(),
                        group: group.clone(),
                        link: String::new(),
                        caps: None,
                        content: Some(content.clone()),
                    };
                    expected.insert(member, file);
                }
            }
            _ => {
                let size = match rng.below(8) {
                    0 => 0,
                    1 => 1_000_000 + rng.below(1_500_000) as usize,
                    _ => rng.below(20_000) as usize,
                };
                let content = half_compressible(&mut rng, size);
                let permissions = *rng.pick(&perms);
                let mut options = FileOptions::new(&path).permissions(permissions).user(&user).group(&group);
                let caps = if rng.below(6) == 0 {
                    Some(rng.pick(&["cap_net_raw=ep", "cap_setuid,cap_setgid+p", "cap_sys_admin=eip"]).to_string())
                } else {
                    None
                };
                if let Some(text) = &caps {
                    options = options.caps(text.as_str()).unwrap();
                }
                builder.with_file_contents(content.clone(), options).unwrap();
                let file = Expected {
                    mode: S_IFREG | u32::from(permissions),
                    user,
                    group,
                    link: String::new(),
                    caps,
                    content: Some(content),
                };
                expected.insert(path, file);
            }
        }
    }
    if rng.below(2) == 0 {
        builder.with_dir_entry(FileOptions::dir("/opt/prop/empty").permissions(0o700)).unwrap();
        let dir = Expected {
            mode: S_IFDIR | 0o700,
            user: "root".into(),
            group: "root".into(),
            link: String::new(),
            caps: None,
            content: None,
        };
        expected.insert("/opt/prop/empty".into(), dir);
    }
    let mut bytes = Vec::new();
    builder.build().unwrap().write(&mut bytes).unwrap();
    (bytes, expected, name)
}

fn read(bytes: &[u8]) -> (Package, HashMap<Vec<u8>, Vec<u8>>) {
    let mut reader = bytes;
    let package = Package::read_headers(&mut reader).unwrap();
    let mut contents = HashMap::new();
    package
        .walk_payload(&mut reader, |members, content| {
            let mut data = Vec::new();
            content.read_to_end(&mut data).map_err(|e| RpmError::new("test", e.to_string()))?;
            for &m in members {
                contents.insert(package.files.files[m].path.clone(), data.clone());
            }
            Ok::<_, RpmError>(())
        })
        .unwrap();
    (package, contents)
}

#[test]
fn random_builder_packages_read_back_exactly() {
    let mut compressions = std::collections::BTreeSet::new();
    for seed in 0..40 {
        let (bytes, expected, compression) = build(seed);
        compressions.insert(compression);
        let (package, contents) = read(&bytes);
        let ctx = format!("seed {seed} ({compression})");
        for (path, want) in &expected {
            let file = package
                .files
                .files
                .iter()
                .find(|f| f.path == path.as_bytes())
                .unwrap_or_else(|| panic!("{ctx}: {path} missing"));
            assert_eq!(file.mode & S_IFMT, want.mode & S_IFMT, "{ctx}: {path} type");
            assert_eq!(file.mode & 0o7777, want.mode & 0o7777, "{ctx}: {path} permissions");
            assert_eq!(file.user, want.user.as_bytes(), "{ctx}: {path} user");
            assert_eq!(file.group, want.group.as_bytes(), "{ctx}: {path} group");
            assert_eq!(file.link_target, want.link.as_bytes(), "{ctx}: {path} link");
            let want_caps = want.caps.as_deref().map(|c| caps_to_xattr(c).unwrap().unwrap());
            assert_eq!(file.caps, want_caps, "{ctx}: {path} caps");
            if let Some(content) = &want.content {
                assert_eq!(file.size, content.len() as u64, "{ctx}: {path} size");
                assert_eq!(contents.get(path.as_bytes()), Some(content), "{ctx}: {path} content");
            }
        }
    }
    assert_eq!(compressions.len(), 5, "not every compressor was exercised: {compressions:?}");
}

#[test]
fn a_package_of_15000_entries_reads_back() {
    let mut builder = PackageBuilder::new("many", "1.0", "MIT", "noarch", "scale test");
    builder.using_config(BuildConfig::v4().compression(CompressionType::Zstd).source_date(1_700_000_000u32));
    for d in 0..150 {
        for f in 0..100 {
            let path = format!("/usr/share/many/d{d:03}/f{f:03}");
            builder.with_file_contents(format!("{d}/{f}\n").into_bytes(), FileOptions::new(path)).unwrap();
        }
    }
    let mut bytes = Vec::new();
    builder.build().unwrap().write(&mut bytes).unwrap();
    let (package, contents) = read(&bytes);
    assert_eq!(package.files.files.len(), 15_000);
    assert_eq!(contents.len(), 15_000);
    assert_eq!(contents.get(&b"/usr/share/many/d149/f099"[..]).map(Vec::as_slice), Some(&b"149/99\n"[..]));
}
