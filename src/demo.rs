//! `rejig demo`: the jigdo story on generated data, with no system tools needed.
//!
//! It builds a small distro of RPM packages with the rpm crate, composes them into a tree the
//! way a compose server would (`/etc` moved to `/usr/etc`, a generated os-release, a file
//! re-moded), commits the tree into a build store and describes the commit by its packages
//! as a jigdo RPM. A separate client store then rebuilds the commit from the jigdo and the
//! packages into a fresh repository. Finally two packages change: the v2 jigdo makes the same
//! client fetch just those two, because the others' content is already in its store.
//!
//! The demo prints nothing: [`run`] returns a [`DemoReport`] with the figures of every step,
//! for the caller to tell the story.

use std::fs;
use std::os::unix::fs::{symlink, DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{ensure, Context, Result};
use rejig_exporter::ExportOptions;
use rejig_format::object::VariantDict;
use rejig_format::{ObjectId, RepoMode};
use rejig_importer::source::PackageSource;
use rejig_importer::tree::{commit_directory, CommitOptions};
use rejig_store::{Progress, Store};
use rpm::{BuildConfig, CompressionWithLevel, FileOptions, PackageBuilder};
use serde::Serialize;

use crate::build::{build_jigdo, BuildJigdoOptions, BuildReport};
use crate::rebuild::{export_jigdo, ExportJigdoOptions, RebuildReport};
use crate::sources::Sources;
use crate::Opener;

/// The packages' build time and the commits' timestamp, fixed so every run gives the same bytes.
const SOURCE_DATE: u32 = 1_735_689_600;
/// The jigdo package's name.
const JIGDO_NAME: &str = "demo-os";
/// The ref the client's repository follows.
pub const REF: &str = "demo/stable";
/// The file the compose re-modes (a package installs it setuid; the compose drops the bit).
pub const REMODED: &str = "/usr/libexec/demo-helper";

/// A small deterministic generator (splitmix64), so every run builds the same tree.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn bytes(&mut self, len: usize, text: bool) -> Vec<u8> {
        const WORDS: [&str; 8] = ["ostree ", "commit ", "package ", "object ", "rejig ", "store ", "content ", "\n"];
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            let r = self.next();
            if text {
                out.extend_from_slice(WORDS.get((r % 8) as usize).copied().unwrap_or("x").as_bytes());
            } else {
                out.extend_from_slice(&r.to_le_bytes());
            }
        }
        out.truncate(len);
        out
    }

    /// A size in `[low, high)`.
    fn size(&mut self, low: usize, high: usize) -> usize {
        low + (self.next() % (high - low).max(1) as u64) as usize
    }
}

/// What a package installs, by absolute path.
enum Entry {
    Dir { path: String, mode: u16 },
    File { path: String, mode: u16, content: Vec<u8> },
    Symlink { path: String, target: String },
}

/// A package of the demo distro, described once and used twice: built as an RPM, and laid
/// out into the compose's tree.
pub struct DemoPackage {
    name: &'static str,
    version: &'static str,
    release: u32,
    arch: &'static str,
    summary: &'static str,
    entries: Vec<Entry>,
    /// Content generator, seeded by the name so a package's bytes depend on nothing else.
    mix: Mix,
}

impl DemoPackage {
    fn new(name: &'static str, version: &'static str, arch: &'static str, summary: &'static str) -> Self {
        // FNV-1a of the name.
        let seed = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        Self { name, version, release: 1, arch, summary, entries: Vec::new(), mix: Mix(seed) }
    }

    fn dir(&mut self, path: &str, mode: u16) {
        self.entries.push(Entry::Dir { path: path.to_owned(), mode });
    }

    fn binary(&mut self, path: &str, mode: u16, size: usize) {
        let content = self.mix.bytes(size, false);
        self.entries.push(Entry::File { path: path.to_owned(), mode, content });
    }

    fn text(&mut self, path: &str, size: usize) {
        let content = self.mix.bytes(size, true);
        self.entries.push(Entry::File { path: path.to_owned(), mode: 0o644, content });
    }

    fn link(&mut self, path: &str, target: &str) {
        self.entries.push(Entry::Symlink { path: path.to_owned(), target: target.to_owned() });
    }

    /// A new release in which `path` has other content.
    fn update(&mut self, path: &str, content: Vec<u8>) -> Result<()> {
        let file = self.entries.iter_mut().find_map(|e| match e {
            Entry::File { path: p, content, .. } if p == path => Some(content),
            _ => None,
        });
        *file.with_context(|| format!("{} has no file {path}", self.name))? = content;
        self.release += 1;
        Ok(())
    }

    /// `name-version-release.arch`.
    pub fn nevra(&self) -> String {
        format!("{}-{}-{}.{}", self.name, self.version, self.release, self.arch)
    }

    fn files(&self) -> usize {
        self.entries.iter().filter(|e| !matches!(e, Entry::Dir { .. })).count()
    }

    fn content_bytes(&self) -> u64 {
        self.entries.iter().map(|e| if let Entry::File { content, .. } = e { content.len() as u64 } else { 0 }).sum()
    }

    /// The package as an RPM (v4, zstd); the same description always gives the same bytes.
    fn rpm(&self) -> Result<Vec<u8>> {
        let mut builder = PackageBuilder::new(self.name, self.version, "MIT", self.arch, self.summary);
        builder
            .using_config(BuildConfig::v4().compression(CompressionWithLevel::Zstd(3)).source_date(SOURCE_DATE))
            .release(self.release.to_string())
            .build_host("rejig-demo");
        for entry in &self.entries {
            match entry {
                Entry::Dir { path, mode } => builder.with_dir_entry(FileOptions::dir(path).permissions(*mode))?,
                Entry::File { path, mode, content } => {
                    builder.with_file_contents(content.clone(), FileOptions::new(path).permissions(*mode))?
                }
                Entry::Symlink { path, target } => builder.with_symlink(FileOptions::symlink(path, target))?,
            };
        }
        let mut bytes = Vec::new();
        builder.build()?.write(&mut bytes)?;
        Ok(bytes)
    }
}

/// The demo distro: twelve packages, noarch and x86_64. With `update`, two of them are new
/// releases with changed content: a shell with a fix, and a configuration package.
pub fn distro(update: bool) -> Result<Vec<DemoPackage>> {
    let mut all = Vec::new();

    let mut p = DemoPackage::new("filesystem", "3.18", "x86_64", "The basic directory layout");
    for dir in ["/etc", "/usr", "/usr/bin", "/usr/lib", "/usr/lib64", "/usr/libexec", "/usr/share", "/var", "/var/lib"]
    {
        p.dir(dir, 0o755);
    }
    p.link("/bin", "usr/bin");
    p.link("/sbin", "usr/bin");
    p.link("/lib64", "usr/lib64");
    p.text("/usr/share/doc/filesystem/README", 1_500);
    all.push(p);

    let mut p = DemoPackage::new("setup", "2.14.5", "noarch", "System configuration files");
    for (name, size) in [("passwd", 900), ("group", 500), ("hosts", 160), ("shells", 60), ("profile", 2_000)] {
        p.text(&format!("/etc/{name}"), size);
    }
    p.text("/etc/services", 40_000);
    all.push(p);

    let mut p = DemoPackage::new("bash", "5.2.26", "x86_64", "The GNU Bourne Again shell");
    p.binary("/usr/bin/bash", 0o755, 420_000);
    p.link("/usr/bin/sh", "bash");
    p.text("/etc/bashrc", 3_000);
    p.text("/usr/share/doc/bash/README", 2_500);
    if update {
        let fixed = Mix(2026).bytes(420_000, false);
        p.update("/usr/bin/bash", fixed)?;
    }
    all.push(p);

    let mut p = DemoPackage::new("coreutils", "9.4", "x86_64", "The GNU core utilities");
    for tool in COREUTILS.split_whitespace() {
        let size = p.mix.size(4_000, 40_000);
        p.binary(&format!("/usr/bin/{tool}"), 0o755, size);
    }
    all.push(p);

    let mut p = DemoPackage::new("glibc", "2.39", "x86_64", "The GNU C library");
    for (lib, size) in [("libc.so.6", 400_000), ("ld-linux-x86-64.so.2", 200_000), ("libm.so.6", 150_000)] {
        p.binary(&format!("/usr/lib64/{lib}"), 0o755, size);
    }
    p.binary("/usr/lib64/libresolv.so.2", 0o755, 60_000);
    for module in 0..20 {
        let size = p.mix.size(10_000, 40_000);
        p.binary(&format!("/usr/lib64/gconv/ISO8859-{module}.so"), 0o755, size);
    }
    p.text("/etc/ld.so.conf", 30);
    p.text("/usr/bin/ldd", 5_000);
    all.push(p);

    let mut p = DemoPackage::new("zlib", "1.3.1", "x86_64", "Compression library");
    p.binary("/usr/lib64/libz.so.1.3.1", 0o755, 100_000);
    p.link("/usr/lib64/libz.so.1", "libz.so.1.3.1");
    all.push(p);

    let mut p = DemoPackage::new("openssl-libs", "3.2.2", "x86_64", "TLS and cryptography libraries");
    for (lib, size) in [("libcrypto", 500_000), ("libssl", 150_000)] {
        p.binary(&format!("/usr/lib64/{lib}.so.3.2.2"), 0o755, size);
        p.link(&format!("/usr/lib64/{lib}.so.3"), &format!("{lib}.so.3.2.2"));
    }
    p.dir("/etc/pki/tls/private", 0o700);
    p.text("/etc/pki/tls/openssl.cnf", 12_000);
    all.push(p);

    let mut p = DemoPackage::new("tzdata", "2024a", "noarch", "Time zone data");
    for region in ["Africa", "America", "Asia", "Europe", "Pacific"] {
        for zone in 0..12 {
            let size = p.mix.size(1_000, 3_000);
            p.binary(&format!("/usr/share/zoneinfo/{region}/Zone{zone:02}"), 0o644, size);
        }
    }
    all.push(p);

    let mut p = DemoPackage::new("demo-config", "1.0", "noarch", "Configuration of the demo OS");
    for i in 0..25 {
        p.text(&format!("/etc/demo.d/{i:02}-setting.conf"), 300);
    }
    if update {
        p.update("/etc/demo.d/00-setting.conf", b"updated = true\n".to_vec())?;
    }
    all.push(p);

    let mut p = DemoPackage::new("demo-docs", "1.0", "noarch", "Documentation of the demo OS");
    for i in 0..120 {
        let size = p.mix.size(100, 8_000);
        p.text(&format!("/usr/share/doc/demo/{}/README{i}", i % 12), size);
    }
    all.push(p);

    let mut p = DemoPackage::new("demo-data", "1.0", "noarch", "Large data files of the demo OS");
    p.binary("/usr/share/demo/large.bin", 0o644, 3 << 20);
    p.text("/usr/share/demo/empty", 0);
    all.push(p);

    let mut p = DemoPackage::new("demo-app", "1.0", "x86_64", "The demo OS's application");
    p.binary("/usr/bin/demo", 0o755, 80_000);
    p.binary(REMODED, 0o4755, 20_000);
    p.text("/usr/lib/systemd/system/demo.service", 400);
    p.dir("/var/lib/demo", 0o700);
    all.push(p);

    Ok(all)
}

/// The tools of the coreutils-like package.
const COREUTILS: &str = "arch b2sum base32 base64 basename cat chcon chgrp chmod chown cksum comm cp csplit cut date \
    dd df dir dircolors dirname du echo env expand expr factor false fmt fold head hostid id install join link ln \
    logname ls md5sum mkdir mkfifo mknod mktemp mv nice nl nohup nproc numfmt od paste pathchk pr printenv printf pwd \
    readlink realpath rm";

/// Writes every package of `packages` into `dir` (emptied first) as `NEVRA.rpm`; returns the
/// total size.
pub fn write_packages(dir: &Path, packages: &[DemoPackage], progress: &dyn Progress) -> Result<u64> {
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    progress.start("building packages", packages.len() as u64);
    let mut total = 0;
    for package in packages {
        let bytes = package.rpm().with_context(|| format!("building {}", package.nevra()))?;
        let path = dir.join(format!("{}.rpm", package.nevra()));
        fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
        total += bytes.len() as u64;
        progress.advance(1);
    }
    progress.finish();
    Ok(total)
}

/// Where the compose puts a package's path: `/etc` becomes `/usr/etc`; relative to the root.
fn composed(path: &str) -> String {
    let path = path.trim_start_matches('/');
    match path.strip_prefix("etc") {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => format!("usr/etc{rest}"),
        _ => path.to_owned(),
    }
}

fn make_dirs(path: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(path)
        .with_context(|| format!("creating {}", path.display()))
}

fn chmod(path: &Path, mode: u32) -> Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).with_context(|| format!("chmod {}", path.display()))
}

/// Lays out what `packages` install into `root` (emptied first), from their description
/// rather than their RPMs, with a compose's changes: `/etc` moved to `/usr/etc`, a generated
/// `/usr/lib/os-release` that no package holds, and [`REMODED`] without its setuid bit.
fn compose(root: &Path, packages: &[DemoPackage], version: u32) -> Result<()> {
    if root.exists() {
        fs::remove_dir_all(root).with_context(|| format!("removing {}", root.display()))?;
    }
    make_dirs(root)?;
    chmod(root, 0o755)?;
    for entry in packages.iter().flat_map(|p| &p.entries) {
        let (Entry::Dir { path, .. } | Entry::File { path, .. } | Entry::Symlink { path, .. }) = entry;
        let target = root.join(composed(path));
        if let Some(parent) = target.parent() {
            make_dirs(parent)?;
        }
        match entry {
            Entry::Dir { mode, .. } => {
                make_dirs(&target)?;
                chmod(&target, u32::from(*mode))?;
            }
            Entry::File { mode, content, .. } => {
                fs::write(&target, content).with_context(|| format!("writing {}", target.display()))?;
                chmod(&target, u32::from(*mode))?;
            }
            Entry::Symlink { target: link, .. } => {
                symlink(link, &target).with_context(|| format!("creating the symlink {}", target.display()))?;
            }
        }
    }
    let os_release = format!(
        "NAME=\"Demo OS\"\nID=demo\nVERSION=\"{version}\"\nVERSION_ID={version}\nPRETTY_NAME=\"Demo OS {version}\"\n"
    );
    let os_release_path = root.join("usr/lib/os-release");
    fs::write(&os_release_path, os_release).with_context(|| format!("writing {}", os_release_path.display()))?;
    chmod(&os_release_path, 0o644)?;
    symlink("../lib/os-release", root.join("usr/etc/os-release")).context("creating usr/etc/os-release")?;
    chmod(&root.join(composed(REMODED)), 0o755)
}

/// Composes `packages` and commits the tree into the build store.
pub fn compose_and_commit(
    store: &Store,
    root: &Path,
    packages: &[DemoPackage],
    version: u32,
    parent: Option<ObjectId>,
    progress: &dyn Progress,
) -> Result<(ObjectId, u64)> {
    compose(root, packages, version)?;
    let mut metadata = VariantDict::new();
    metadata.push_string("version", &version.to_string())?;
    let options = CommitOptions {
        subject: format!("Demo OS {version}"),
        body: String::new(),
        timestamp: u64::from(SOURCE_DATE) + u64::from(version),
        metadata,
        parent,
    };
    let report = commit_directory(store, root, &options, progress)?;
    Ok((report.commit.context("the commit has no id")?, report.objects_total))
}

/// Exports the jigdo at `jigdo` into `repo` through the client store, fetching from `packages`,
/// and checks that the commit rebuilt is the one built.
fn client_export(
    client: &Store,
    jigdo: &Path,
    packages: &Path,
    repo: &Path,
    built: ObjectId,
    progress: &dyn Progress,
) -> Result<RebuildReport> {
    let sources =
        Sources { list: vec![PackageSource::parse(&packages.to_string_lossy())?], options: Default::default() };
    let export = ExportOptions { mode: Some(RepoMode::BareUser), ref_name: Some(REF.into()), canonicalize: false };
    let options = ExportJigdoOptions { jigdo: jigdo.to_path_buf(), sources, repo: repo.to_path_buf(), export };
    let report = export_jigdo(client, &options, progress)?;
    ensure!(
        report.jigdo_commit == built,
        "the client rebuilt commit {}, but the build made {built}",
        report.jigdo_commit
    );
    ensure!(report.export.commit == built, "the client exported {}, not {built}", report.export.commit);
    Ok(report)
}

/// Removes what an earlier run left in `dir`, so the story starts from empty stores.
fn clean(dir: &Path) -> Result<()> {
    for name in ["packages", "rootfs", "build-store", "client-store", "repo"] {
        let path = dir.join(name);
        if path.exists() {
            fs::remove_dir_all(&path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    for version in [1, 2] {
        let path = dir.join(format!("{JIGDO_NAME}-{version}.rpm"));
        if path.exists() {
            fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    Ok(())
}

/// Where the demo works, and how it opens its two stores.
pub struct DemoOptions<'a> {
    /// Keep the files in this directory (an earlier demo's are removed first); None: a
    /// temporary directory, removed at the end.
    pub dir: Option<PathBuf>,
    /// Opens the build and client stores.
    pub opener: &'a Opener<'a>,
}

/// The demo's story, step by step. The JSON holds the figures a script checks; the rest is
/// for the text.
#[derive(Clone, Debug, Serialize)]
pub struct DemoReport {
    /// Where the files are (gone at the end unless kept).
    pub dir: PathBuf,
    /// The client's repository.
    pub repo: PathBuf,
    /// Packages of the distro.
    pub packages_total: usize,
    /// Files they install.
    pub files: usize,
    /// Packages v2 changes.
    pub packages_changed: Vec<String>,
    /// The v1 commit the build made.
    #[serde(serialize_with = "crate::report::display")]
    pub v1: ObjectId,
    /// The v2 commit the build made.
    #[serde(serialize_with = "crate::report::display")]
    pub v2: ObjectId,
    /// The v1 commit the client exported.
    #[serde(serialize_with = "crate::report::display")]
    pub v1_exported: ObjectId,
    /// The v2 commit the client exported.
    #[serde(serialize_with = "crate::report::display")]
    pub v2_exported: ObjectId,
    /// Packages the client fetched for v1.
    pub v1_packages_fetched: usize,
    /// Packages the client fetched for v2.
    pub v2_packages_fetched: usize,
    /// Bytes the client fetched for v1.
    pub v1_bytes_fetched: u64,
    /// Bytes the client fetched for v2.
    pub v2_bytes_fetched: u64,
    /// Objects written into the repository for v1.
    pub v1_objects_written: u64,
    /// Objects written into the repository for v2.
    pub v2_objects_written: u64,
    /// Objects v2 reaches.
    pub v2_objects_total: u64,
    /// Content objects of v2.
    pub v2_content_objects: u64,
    /// Of those, already in the client's store.
    pub v2_objects_in_store: u64,
    /// Size of the v1 jigdo.
    pub jigdo_v1_bytes: u64,
    /// Size of the v2 jigdo.
    pub jigdo_v2_bytes: u64,
    /// Wall time.
    pub seconds: f64,
    /// The steps, for the text.
    #[serde(skip)]
    pub steps: DemoSteps,
}

/// What each step of the demo did, beyond the figures of [`DemoReport`].
#[derive(Clone, Debug)]
pub struct DemoSteps {
    /// True when the files stay in the directory asked for.
    pub kept: bool,
    /// Step 1: bytes of content the v1 packages install.
    pub content_bytes: u64,
    /// Step 1: bytes of the v1 RPMs.
    pub rpm_bytes: u64,
    /// Step 1: where the v1 packages are.
    pub v1_packages: PathBuf,
    /// Step 2: objects of the v1 commit.
    pub v1_objects: u64,
    /// Step 3: the v1 jigdo.
    pub jigdo1: BuildReport,
    /// Step 4: the client's v1 rebuild.
    pub got1: RebuildReport,
    /// Step 5: the v2 jigdo.
    pub jigdo2: BuildReport,
    /// Step 6: the client's update to v2.
    pub got2: RebuildReport,
}

/// Runs the demo: the distro, its compose and jigdo, a client's rebuild, then an update.
/// Every step checks what it claims (bit-identical commits, only changed packages fetched).
pub fn run(options: &DemoOptions<'_>, progress: &dyn Progress) -> Result<DemoReport> {
    let started = std::time::Instant::now();
    let temp;
    let (dir, kept) = match &options.dir {
        Some(dir) => {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            (dir.clone(), true)
        }
        None => {
            temp = tempfile::tempdir().context("creating a temporary directory")?;
            (temp.path().to_path_buf(), false)
        }
    };
    clean(&dir)?;
    let rootfs = dir.join("rootfs");
    let repo = dir.join("repo");
    let (v1_packages, v2_packages): (PathBuf, PathBuf) = (dir.join("packages/v1"), dir.join("packages/v2"));

    // v1: the distro, its compose, its jigdo.
    let distro1 = distro(false)?;
    let total = distro1.len();
    let files: usize = distro1.iter().map(DemoPackage::files).sum();
    let content_bytes: u64 = distro1.iter().map(DemoPackage::content_bytes).sum();
    let rpm_bytes = write_packages(&v1_packages, &distro1, progress)?;

    let build = options.opener.open(&dir.join("build-store"))?;
    let (v1, v1_objects) = compose_and_commit(&build, &rootfs, &distro1, 1, None, progress)?;

    let request = |commit, packages: &Path, output: &str| BuildJigdoOptions {
        commit,
        paths: vec![packages.to_path_buf()],
        name: JIGDO_NAME.to_owned(),
        output: dir.join(output).into(),
        delta_from: None,
    };
    let jigdo1 = build_jigdo(&build, &request(v1, &v1_packages, "demo-os-1.rpm"), progress)?;
    let used = jigdo1.stats.packages_used.len();
    ensure!(used == total, "the jigdo uses {used} of the {total} packages");

    let client = options.opener.open(&dir.join("client-store"))?;
    let got1 = client_export(&client, &jigdo1.output, &v1_packages, &repo, v1, progress)?;

    // v2: two packages change; the others are rebuilt and must keep their bytes.
    let distro2 = distro(true)?;
    write_packages(&v2_packages, &distro2, progress)?;
    let mut changed = Vec::new();
    for package in &distro2 {
        let name = format!("{}.rpm", package.nevra());
        let old = v1_packages.join(&name);
        if old.exists() {
            let read = |path: &Path| fs::read(path).with_context(|| format!("reading {}", path.display()));
            let same = read(&old)? == read(&v2_packages.join(&name))?;
            ensure!(same, "{name} was rebuilt with the same description but different bytes");
        } else {
            changed.push(package.nevra());
        }
    }
    ensure!(changed.len() == 2, "v2 should change two packages, it changed {changed:?}");
    let (v2, _) = compose_and_commit(&build, &rootfs, &distro2, 2, Some(v1), progress)?;
    let jigdo2 = build_jigdo(&build, &request(v2, &v2_packages, "demo-os-2.rpm"), progress)?;

    let got2 = client_export(&client, &jigdo2.output, &v2_packages, &repo, v2, progress)?;
    ensure!(
        got2.packages_fetched == changed.len(),
        "the update fetched {} packages, not the {} that changed",
        got2.packages_fetched,
        changed.len()
    );

    Ok(DemoReport {
        dir,
        repo,
        packages_total: total,
        files,
        packages_changed: changed,
        v1,
        v2,
        v1_exported: got1.export.commit,
        v2_exported: got2.export.commit,
        v1_packages_fetched: got1.packages_fetched,
        v2_packages_fetched: got2.packages_fetched,
        v1_bytes_fetched: got1.bytes_fetched,
        v2_bytes_fetched: got2.bytes_fetched,
        v1_objects_written: got1.export.objects_written,
        v2_objects_written: got2.export.objects_written,
        v2_objects_total: got2.export.objects_total,
        v2_content_objects: jigdo2.stats.objects_total,
        v2_objects_in_store: got2.objects_present,
        jigdo_v1_bytes: jigdo1.jigdo_bytes,
        jigdo_v2_bytes: jigdo2.jigdo_bytes,
        seconds: started.elapsed().as_secs_f64(),
        steps: DemoSteps { kept, content_bytes, rpm_bytes, v1_packages, v1_objects, jigdo1, got1, jigdo2, got2 },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rejig_store::NoProgress;

    #[test]
    fn the_demo_tells_its_story_in_a_kept_directory() {
        let dir = tempfile::tempdir().unwrap();
        let never = |_: &Path, holder: &str| panic!("the demo waited for {holder}");
        let opener = Opener::new("rejig demo test", &never);
        let options = DemoOptions { dir: Some(dir.path().to_path_buf()), opener: &opener };
        let report = run(&options, &NoProgress).unwrap();
        assert_eq!(report.packages_total, 12);
        assert_eq!(report.packages_changed.len(), 2);
        assert_eq!((report.v1_exported, report.v2_exported), (report.v1, report.v2));
        assert_eq!(report.v1_packages_fetched, 12);
        assert_eq!(report.v2_packages_fetched, 2);
        assert!(report.v2_objects_in_store > 0 && report.v2_objects_in_store < report.v2_content_objects);
        assert!(report.steps.kept);
        let head = fs::read_to_string(dir.path().join("repo/refs/heads").join(REF)).unwrap();
        assert_eq!(head.trim(), report.v2.to_hex());
        // A second run starts from empty stores and makes the same commits.
        let again = run(&options, &NoProgress).unwrap();
        assert_eq!((again.v1, again.v2), (report.v1, report.v2));
        assert_eq!(again.v1_packages_fetched, 12);
    }
}
