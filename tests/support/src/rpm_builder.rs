//! Fixtures for the package-source tests: small real packages built with the `rpm` crate,
//! and repositories of them made by the real `createrepo_c` (or written by hand, for hostile
//! metadata). The server they are served from is [`crate::server`].

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use rejig_format::manifest::Nevra;
use rejig_format::{FileSha256, HeaderSha256, PackageBinding};
use rejig_importer::package::nevra_of;
use rejig_importer::rpm::package::Package;
use rpm::{BuildConfig, CompressionWithLevel, FileOptions, PackageBuilder};
use sha2::{Digest, Sha256};

/// A package file the tests built.
#[derive(Clone, Debug)]
pub struct Built {
    /// Where it is, below the tree it was built into.
    pub path: PathBuf,
    /// Path relative to that tree.
    pub relative: String,
    /// Its identity, as rejig reads it.
    pub nevra: Nevra,
    /// Main-header SHA-256.
    pub header_sha256: HeaderSha256,
    /// SHA-256 of the file.
    pub file_sha256: FileSha256,
    /// The file's bytes.
    pub bytes: Vec<u8>,
}

impl Built {
    /// What a jigdo would ask for to get this package.
    pub fn wanted(&self) -> PackageBinding {
        PackageBinding { nevra: self.nevra.clone(), header: self.header_sha256, file: Some(self.file_sha256) }
    }
}

/// Incompressible, reproducible bytes.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    crate::rng::Rng::new(seed).bytes(len)
}

/// One package to build.
pub struct Spec {
    pub name: &'static str,
    pub epoch: Option<u32>,
    pub version: &'static str,
    pub release: &'static str,
    pub arch: &'static str,
    /// Sub-directory of the tree it goes in.
    pub dir: &'static str,
    /// Bytes of incompressible content: big enough that a truncated download is mid-body.
    pub content: usize,
    /// Seed of the content, so that two builds of one NEVRA can differ.
    pub seed: u64,
}

/// The three packages most tests use: one with an epoch, one noarch, one x86_64 in a
/// nested directory.
pub fn standard_specs() -> Vec<Spec> {
    vec![
        Spec {
            name: "alpha",
            epoch: None,
            version: "1.0",
            release: "1",
            arch: "noarch",
            dir: "Packages/a",
            content: 300_000,
            seed: 1,
        },
        Spec {
            name: "beta",
            epoch: Some(2),
            version: "2.5",
            release: "3.fc40",
            arch: "x86_64",
            dir: "Packages/b",
            content: 120_000,
            seed: 2,
        },
        Spec {
            name: "gamma",
            epoch: None,
            version: "0.1",
            release: "1",
            arch: "x86_64",
            dir: "Packages/nested/deeper/g",
            content: 50_000,
            seed: 3,
        },
    ]
}

/// Builds `spec` into `tree`.
pub fn build(tree: &Path, spec: &Spec) -> Built {
    let mut builder = PackageBuilder::new(spec.name, spec.version, "MIT", spec.arch, "a package-source test package");
    builder.release(spec.release);
    if let Some(epoch) = spec.epoch {
        builder.epoch(epoch);
    }
    builder.using_config(BuildConfig::v4().compression(CompressionWithLevel::Gzip(1)).source_date(1_700_000_000u32));
    builder
        .with_file_contents(noise(spec.seed, spec.content), FileOptions::new(format!("/usr/share/{}/data", spec.name)))
        .unwrap();
    builder.with_file_contents(format!("{} {}\n", spec.name, spec.seed), FileOptions::new("/etc/motd.d/x")).unwrap();
    let mut bytes = Vec::new();
    builder.build().unwrap().write(&mut bytes).unwrap();
    let relative = format!("{}/{}-{}-{}.{}.rpm", spec.dir, spec.name, spec.version, spec.release, spec.arch);
    let path = tree.join(&relative);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, &bytes).unwrap();
    let package = Package::read_headers(&mut bytes.as_slice()).unwrap();
    let nevra = nevra_of(&package).unwrap();
    Built {
        path,
        relative,
        nevra,
        header_sha256: package.header_sha256,
        file_sha256: FileSha256::from_bytes(Sha256::digest(&bytes).into()),
        bytes,
    }
}

/// Builds the standard packages into `tree`.
pub fn build_standard(tree: &Path) -> Vec<Built> {
    standard_specs().iter().map(|spec| build(tree, spec)).collect()
}

/// Runs the real `createrepo_c` over `tree` with primary metadata compressed by `compression`
/// (`gz`, `xz`, `bz2` or `zstd`). createrepo_c 0.17 (Debian 12) cannot write zstd, so for
/// `zstd` its gzip primary is re-compressed and repomd.xml updated, as newer versions write it.
pub fn createrepo(tree: &Path, compression: &str) {
    let native = if compression == "zstd" { "gz" } else { compression };
    let output = Command::new("createrepo_c")
        .args(["--no-database", "--simple-md-filenames", "--general-compress-type", native])
        .arg(tree)
        .output()
        .expect("createrepo_c runs (run-tests.sh installs it)");
    assert!(output.status.success(), "createrepo_c failed: {}", String::from_utf8_lossy(&output.stderr));
    if compression == "zstd" {
        let gz_path = primary_path(tree);
        let mut xml = Vec::new();
        flate2::read::MultiGzDecoder::new(fs::read(&gz_path).unwrap().as_slice()).read_to_end(&mut xml).unwrap();
        let zst = zstd::encode_all(xml.as_slice(), 3).unwrap();
        fs::write(tree.join("repodata/primary.xml.zst"), &zst).unwrap();
        fs::remove_file(gz_path).unwrap();
        edit_primary_entry(tree, |block| {
            let block = block.replace("repodata/primary.xml.gz", "repodata/primary.xml.zst");
            let block = replace_element_text(&block, "checksum", &hex::encode(Sha256::digest(&zst)));
            replace_element_text(&block, "size", &zst.len().to_string())
        });
    }
}

/// The primary file of a repository, from its repomd.xml.
pub fn primary_path(tree: &Path) -> PathBuf {
    let repomd = fs::read_to_string(tree.join("repodata/repomd.xml")).unwrap();
    let block = primary_block(&repomd);
    let start = block.find("<location href=\"").unwrap() + "<location href=\"".len();
    let end = start + block[start..].find('"').unwrap();
    tree.join(&block[start..end])
}

/// The `<data type="primary">` element of repomd.xml.
pub fn primary_block(repomd: &str) -> &str {
    let start = repomd.find("<data type=\"primary\">").unwrap();
    let end = start + repomd[start..].find("</data>").unwrap();
    &repomd[start..end]
}

/// Rewrites repomd.xml's primary entry with `edit`.
pub fn edit_primary_entry(tree: &Path, edit: impl FnOnce(&str) -> String) {
    let path = tree.join("repodata/repomd.xml");
    let repomd = fs::read_to_string(&path).unwrap();
    let block = primary_block(&repomd).to_owned();
    let edited = edit(&block);
    assert_ne!(edited, block, "the edit changed nothing");
    fs::write(&path, repomd.replace(&block, &edited)).unwrap();
}

/// Replaces the text of `<tag ...>TEXT</tag>` in an XML fragment.
pub fn replace_element_text(xml: &str, tag: &str, text: &str) -> String {
    let open = xml.find(&format!("<{tag}")).unwrap_or_else(|| panic!("no <{tag}> in {xml}"));
    let start = open + xml[open..].find('>').unwrap() + 1;
    let end = start + xml[start..].find(&format!("</{tag}>")).unwrap();
    format!("{}{text}{}", &xml[..start], &xml[end..])
}

/// Writes a repository by hand: `primary_xml` compressed by `compress`, with a repomd.xml
/// whose checksums and sizes match, and `extra` elements added to the primary entry.
pub fn write_repo(tree: &Path, primary_xml: &str, compress: fn(&[u8]) -> Vec<u8>, extra: &str) {
    let data = compress(primary_xml.as_bytes());
    fs::create_dir_all(tree.join("repodata")).unwrap();
    fs::write(tree.join("repodata/primary.xml.bin"), &data).unwrap();
    let repomd = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo">
  <revision>1</revision>
  <data type="primary">
    <checksum type="sha256">{}</checksum>
    <open-checksum type="sha256">{}</open-checksum>
    <location href="repodata/primary.xml.bin"/>
    <size>{}</size>
    <open-size>{}</open-size>
    {extra}
  </data>
</repomd>
"#,
        hex::encode(Sha256::digest(&data)),
        hex::encode(Sha256::digest(primary_xml.as_bytes())),
        data.len(),
        primary_xml.len(),
    );
    fs::write(tree.join("repodata/repomd.xml"), repomd).unwrap();
}

/// Primary metadata listing `packages`, with `size` attributes unless `with_sizes` is false
/// and the location hrefs `href` returns.
pub fn primary_xml(packages: &[Built], with_sizes: bool, href: impl Fn(&Built) -> String) -> String {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata xmlns=\"http://linux.duke.edu/metadata/common\" \
         xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"{}\">\n",
        packages.len()
    );
    for p in packages {
        let size = if with_sizes {
            format!("<size package=\"{}\" installed=\"1\" archive=\"1\"/>", p.bytes.len())
        } else {
            String::new()
        };
        xml.push_str(&format!(
            "<package type=\"rpm\"><name>{}</name><arch>{}</arch><version epoch=\"{}\" ver=\"{}\" rel=\"{}\"/>\
             <checksum type=\"sha256\" pkgid=\"YES\">{}</checksum>{size}<location href=\"{}\"/></package>\n",
            p.nevra.name,
            p.nevra.arch,
            p.nevra.epoch.unwrap_or(0),
            p.nevra.version,
            p.nevra.release,
            hex::encode(p.file_sha256),
            href(p),
        ));
    }
    xml.push_str("</metadata>\n");
    xml
}

/// xz, as createrepo_c would.
pub fn xz(data: &[u8]) -> Vec<u8> {
    let mut encoder = liblzma::write::XzEncoder::new(Vec::new(), 6);
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// gzip.
pub fn gz(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// No compression.
pub fn plain(data: &[u8]) -> Vec<u8> {
    data.to_vec()
}

/// `count` tiny noarch packages `tinyN` in `packages` (in 64 sub-directories), each with one
/// small file of its own content, and the same files laid out under `root` for a commit: a
/// store that imports them holds one pack per package (the scale tests, `bench/packs.sh`).
pub fn tiny_packages(packages: &Path, root: &Path, count: usize) {
    std::fs::create_dir_all(packages).unwrap();
    let chunk = count.div_ceil(2).max(1);
    let indexes: Vec<usize> = (0..count).collect();
    std::thread::scope(|scope| {
        for part in indexes.chunks(chunk) {
            scope.spawn(move || {
                for &i in part {
                    let path = format!("/usr/share/tiny/{:02}/file{i}", i % 64);
                    let data = format!("tiny package {i}: {}\n", "x".repeat(i % 97)).into_bytes();
                    let target = root.join(path.trim_start_matches('/'));
                    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
                    std::fs::write(&target, &data).unwrap();
                    let name = format!("tiny{i}");
                    let mut builder = rpm::PackageBuilder::new(&name, "1.0", "MIT", "noarch", "one tiny file");
                    builder
                        .using_config(rpm::BuildConfig::v4().compression(rpm::CompressionType::None).source_date(1u32));
                    builder.release("1");
                    builder.with_file_contents(data, rpm::FileOptions::new(path)).unwrap();
                    let rpm = packages.join(format!("{:02}/{name}-1.0-1.noarch.rpm", i % 64));
                    std::fs::create_dir_all(rpm.parent().unwrap()).unwrap();
                    builder.build().unwrap().write_file(&rpm).unwrap();
                }
            });
        }
    });
}
