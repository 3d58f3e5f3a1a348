//! `rejig demo`: the jigdo story on generated data, with no system tools needed.
//!
//! It builds a small distro of RPM packages with the rpm crate, composes them into a tree the
//! way a compose server would (`/etc` moved to `/usr/etc`, a generated os-release, a file
//! re-moded), commits the tree into a build store and describes the commit by its packages
//! as a jigdo RPM. A separate client store then rebuilds the commit from the jigdo and the
//! packages into a fresh repository. Finally two packages change: the v2 jigdo makes the same
//! client fetch just those two, because the others' content is already in its store.

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
use serde_json::json;

use crate::build::{build_jigdo, BuildReport};
use crate::cli::DemoArgs;
use crate::rebuild::{export_jigdo, RebuildReport};
use crate::report::{human_bytes, Rendered};
use crate::sources::Sources;

/// The packages' build time and the commits' timestamp, fixed so every run gives the same bytes.
const SOURCE_DATE: u32 = 1_735_689_600;
/// The jigdo package's name.
const JIGDO_NAME: &str = "demo-os";
/// The ref the client's repository follows.
const REF: &str = "demo/stable";
/// The file the compose re-modes (a package installs it setuid; the compose drops the bit).
const REMODED: &str = "/usr/libexec/demo-helper";

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
struct DemoPackage {
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

    fn nevra(&self) -> String {
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
fn distro(update: bool) -> Result<Vec<DemoPackage>> {
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

/// Writes every package of `packages` into `dir` (emptied first); returns the total size.
fn write_packages(dir: &Path, packages: &[DemoPackage], progress: &dyn Progress) -> Result<u64> {
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
fn compose_and_commit(
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
    let options = ExportOptions { mode: Some(RepoMode::BareUser), ref_name: Some(REF.into()), canonicalize: false };
    let report = export_jigdo(client, jigdo, &sources, repo, &options, progress)
        .with_context(|| format!("rebuilding the commit of {}", jigdo.display()))?;
    ensure!(report.commit == built, "the client rebuilt commit {}, but the build made {built}", report.commit);
    ensure!(report.export.commit == built, "the client exported {}, not {built}", report.export.commit);
    Ok(report)
}

fn describe(build: &BuildReport) -> String {
    let s = &build.stats;
    format!(
        "jigdo {} ({}): {} content objects, {} from {} packages, {} carried new, {} symlinks",
        build.rpm.path.display(),
        human_bytes(build.rpm.bytes),
        s.objects_total,
        s.objects_from_packages,
        s.packages_used.len(),
        s.objects_new,
        s.objects_symlink
    )
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

/// Runs the demo and returns its story.
pub fn run(args: &DemoArgs, quiet: bool, progress: &dyn Progress) -> Result<Rendered> {
    let started = std::time::Instant::now();
    let temp;
    let (dir, kept) = match &args.dir {
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
    let say = |line: String| {
        if !quiet {
            println!("{line}");
        }
    };
    let rootfs = dir.join("rootfs");
    let repo = dir.join("repo");
    let (v1_packages, v2_packages): (PathBuf, PathBuf) = (dir.join("packages/v1"), dir.join("packages/v2"));

    // v1: the distro, its compose, its jigdo.
    let distro1 = distro(false)?;
    let total = distro1.len();
    let files: usize = distro1.iter().map(DemoPackage::files).sum();
    let content: u64 = distro1.iter().map(DemoPackage::content_bytes).sum();
    let rpm_bytes = write_packages(&v1_packages, &distro1, progress)?;
    say(format!(
        "1. built a distro of {total} packages ({files} files, {} of content) with the rpm crate:\n   {} of RPMs in {}",
        human_bytes(content),
        human_bytes(rpm_bytes),
        v1_packages.display()
    ));

    let build = crate::open_store(&dir.join("build-store"), quiet)?;
    let (v1, v1_objects) = compose_and_commit(&build, &rootfs, &distro1, 1, None, progress)?;
    say(format!(
        "2. composed it into a tree (/etc moved to /usr/etc, a generated /usr/lib/os-release no package holds,\n   \
         {REMODED} re-moded 4755 -> 0755) and committed it into a build store:\n   \
         commit {v1} (version 1), {v1_objects} objects"
    ));

    let jigdo1 =
        build_jigdo(&build, v1, std::slice::from_ref(&v1_packages), JIGDO_NAME, &dir.join("demo-os-1.rpm"), progress)?;
    ensure!(
        jigdo1.stats.packages_used.len() == total,
        "the jigdo uses {} of the {total} packages",
        jigdo1.stats.packages_used.len()
    );
    say(format!("3. described the commit by its packages as a jigdo RPM:\n   {}", describe(&jigdo1)));

    let client = crate::open_store(&dir.join("client-store"), quiet)?;
    let got1 = client_export(&client, &jigdo1.rpm.path, &v1_packages, &repo, v1, progress)?;
    say(format!(
        "4. a separate client store rebuilt the commit from the jigdo and the packages into {} (bare-user):\n   \
         fetched {} of {} packages ({}), wrote {} objects;\n   commit {} is the build's, bit for bit",
        repo.display(),
        got1.packages_fetched,
        got1.packages_total,
        human_bytes(got1.bytes_fetched),
        got1.export.objects_written,
        got1.commit
    ));

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
    let jigdo2 =
        build_jigdo(&build, v2, std::slice::from_ref(&v2_packages), JIGDO_NAME, &dir.join("demo-os-2.rpm"), progress)?;
    say(format!(
        "5. v2 rebuilt {} with new content;\n   the other {} packages are byte-identical rebuilds;\n   \
         v2 is commit {v2} (parent v1)\n   {}",
        changed.join(" and "),
        total - changed.len(),
        describe(&jigdo2)
    ));

    let got2 = client_export(&client, &jigdo2.rpm.path, &v2_packages, &repo, v2, progress)?;
    ensure!(
        got2.packages_fetched == changed.len(),
        "the update fetched {} packages, not the {} that changed",
        got2.packages_fetched,
        changed.len()
    );
    let kept_packages = got2.packages_total - got2.packages_fetched;
    say(format!(
        "6. the same client updated {} to v2: fetched {} of {} packages ({});\n   \
         {} of the {} content objects were already in its store; wrote {} objects ({}) and moved {REF}",
        repo.display(),
        got2.packages_fetched,
        got2.packages_total,
        human_bytes(got2.bytes_fetched),
        got2.objects_present,
        jigdo2.stats.objects_total,
        got2.export.objects_written,
        human_bytes(got2.export.bytes_written)
    ));

    let seconds = started.elapsed().as_secs_f64();
    let place = if kept { dir.display().to_string() } else { "a temporary directory (--dir keeps it)".to_owned() };
    Ok(Rendered {
        text: format!(
            "demo complete in {place}, {seconds:.1}s:\n  \
             v1: fetched {} of {} packages ({}), wrote {} objects; jigdo {}\n  \
             v2: fetched {} of {} packages ({}), wrote {} objects — {kept_packages} packages' content was already \
             in the store; jigdo {}",
            got1.packages_fetched,
            got1.packages_total,
            human_bytes(got1.bytes_fetched),
            got1.export.objects_written,
            human_bytes(jigdo1.rpm.bytes),
            got2.packages_fetched,
            got2.packages_total,
            human_bytes(got2.bytes_fetched),
            got2.export.objects_written,
            human_bytes(jigdo2.rpm.bytes),
        ),
        json: json!({
            "dir": dir,
            "repo": repo,
            "packages_total": total,
            "files": files,
            "packages_changed": changed,
            "v1": v1.to_hex(),
            "v2": v2.to_hex(),
            "v1_exported": got1.export.commit.to_hex(),
            "v2_exported": got2.export.commit.to_hex(),
            "v1_packages_fetched": got1.packages_fetched,
            "v2_packages_fetched": got2.packages_fetched,
            "v1_bytes_fetched": got1.bytes_fetched,
            "v2_bytes_fetched": got2.bytes_fetched,
            "v1_objects_written": got1.export.objects_written,
            "v2_objects_written": got2.export.objects_written,
            "v2_objects_total": got2.export.objects_total,
            "v2_content_objects": jigdo2.stats.objects_total,
            "v2_objects_in_store": got2.objects_present,
            "jigdo_v1_bytes": jigdo1.rpm.bytes,
            "jigdo_v2_bytes": jigdo2.rpm.bytes,
            "seconds": seconds,
        }),
    })
}
