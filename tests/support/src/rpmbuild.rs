//! Fixture RPMs made by the real `rpmbuild`, and a compose made by the real `rpm` and
//! `ostree commit`: the oracle of the jigdo tests.
//!
//! [`fixture_packages`] describes about ten small packages that between them hold what a jigdo
//! must survive: zstd and xz payloads, x86_64 and noarch packages, Epochs (on both), hardlinks,
//! symlinks, a file capability, `%ghost` files and directories, non-root owners that exist on
//! Debian (`nobody:nogroup`, `daemon:daemon`), a setuid file, `%config` files under `/etc`,
//! `%doc` files, directories with many files, a file name with spaces, an empty file, and one
//! file whose content two packages share. [`build_package`] writes a spec file for a
//! definition and runs `rpmbuild -bb` on it in a private `_topdir`.
//!
//! [`compose`] installs packages into a root the way a compose does (`rpm -i --root`, so
//! owners, modes and capabilities come out as rpm sets them), then changes it the way a compose
//! does: `etc` moved to `usr/etc`, files re-owned and re-moded, `user.*` labels (standing in
//! for SELinux labels) on files and directories, generated files no package holds, a package
//! file duplicated under other metadata. The rpm database is removed: it is not reproducible
//! and an OSTree compose does not ship it there. [`ostree_commit_tree`] commits the root with
//! the real `ostree commit`, whose checksum is what every jigdo export must reproduce.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::files::{chmod, chown, set_xattr};
use crate::ostree::{is_checksum, TIMESTAMP};
use crate::process::{p, report, run};
use crate::rng::Rng;
use crate::tree::relative_paths;

/// Runs a command, requires success, returns stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let what = format!(
        "{} {}",
        cmd.get_program().to_string_lossy(),
        cmd.get_args().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ")
    );
    let out = run(cmd);
    assert!(out.status.success(), "command failed:\n{}", report(&what, &out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `rpm -qp ARGS… PKG`, required to succeed; returns stdout.
pub fn rpm_query(rpm: &Path, args: &[&str]) -> String {
    run_ok(Command::new("rpm").arg("-qp").args(args).arg(rpm))
}

/// The payload compression of a package, as the `_binary_payload` macro spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payload {
    Zstd,
    Xz,
}

impl Payload {
    fn macro_value(self) -> &'static str {
        match self {
            Payload::Zstd => "w19.zstdio",
            Payload::Xz => "w6.xzdio",
        }
    }

    /// What `rpm -qp --qf %{PAYLOADCOMPRESSOR}` says.
    pub fn compressor(self) -> &'static str {
        match self {
            Payload::Zstd => "zstd",
            Payload::Xz => "xz",
        }
    }
}

/// What one `%files` line describes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    File(Vec<u8>),
    /// A hardlink to an earlier `File` entry of the same package (its path).
    HardLink(String),
    Symlink(String),
    Dir,
    /// `%ghost`: owned, not in the payload, not created on install.
    Ghost,
    GhostDir,
}

/// One `%files` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Absolute path in the package.
    pub path: String,
    pub body: Body,
    pub mode: u32,
    pub user: &'static str,
    pub group: &'static str,
    /// Extra `%files` directives: `%config(noreplace)`, `%caps(…)`, `%doc`.
    pub directive: &'static str,
}

impl Entry {
    fn new(path: &str, body: Body, mode: u32) -> Self {
        assert!(path.starts_with('/'), "fixture path {path} must be absolute");
        Self { path: path.to_string(), body, mode, user: "root", group: "root", directive: "" }
    }
    pub fn file(path: &str, data: impl Into<Vec<u8>>) -> Self {
        Self::new(path, Body::File(data.into()), 0o644)
    }
    pub fn hardlink(path: &str, to: &str) -> Self {
        Self::new(path, Body::HardLink(to.to_string()), 0o644)
    }
    pub fn symlink(path: &str, target: &str) -> Self {
        Self::new(path, Body::Symlink(target.to_string()), 0o777)
    }
    pub fn dir(path: &str) -> Self {
        Self::new(path, Body::Dir, 0o755)
    }
    pub fn ghost(path: &str) -> Self {
        Self::new(path, Body::Ghost, 0o644)
    }
    pub fn ghost_dir(path: &str) -> Self {
        Self::new(path, Body::GhostDir, 0o755)
    }
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }
    pub fn owner(mut self, user: &'static str, group: &'static str) -> Self {
        self.user = user;
        self.group = group;
        self
    }
    pub fn directive(mut self, directive: &'static str) -> Self {
        self.directive = directive;
        self
    }

    /// The `%files` line.
    fn files_line(&self) -> String {
        let mode = if matches!(self.body, Body::Symlink(_)) { "-".to_string() } else { format!("{:04o}", self.mode) };
        let kind = match self.body {
            Body::Dir => "%dir ",
            Body::Ghost => "%ghost ",
            Body::GhostDir => "%ghost %dir ",
            _ => "",
        };
        let directive = if self.directive.is_empty() { String::new() } else { format!("{} ", self.directive) };
        format!("{kind}%attr({mode},{},{}) {directive}\"{}\"", self.user, self.group, self.path)
    }
}

/// A fixture package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackageDef {
    pub name: &'static str,
    pub epoch: Option<u32>,
    pub version: String,
    pub release: String,
    /// `x86_64` or `noarch`.
    pub arch: &'static str,
    pub payload: Payload,
    /// Whether [`compose`] installs it (one package is deliberately left out).
    pub installed: bool,
    pub entries: Vec<Entry>,
}

impl PackageDef {
    /// `[E:]V-R` as rpm prints it.
    pub fn evr(&self) -> String {
        match self.epoch {
            Some(e) => format!("{e}:{}-{}", self.version, self.release),
            None => format!("{}-{}", self.version, self.release),
        }
    }

    /// `N-V-R.A`: the file name without `.rpm`.
    pub fn nvra(&self) -> String {
        format!("{}-{}-{}.{}", self.name, self.version, self.release, self.arch)
    }

    /// `N-[E:]V-R.A`.
    pub fn nevra(&self) -> String {
        format!("{}-{}.{}", self.name, self.evr(), self.arch)
    }

    pub fn file_name(&self) -> String {
        format!("{}.rpm", self.nvra())
    }

    /// The exact requirement a jigdo must carry for this package: `name(x86-64) = EVR` (rpm's
    /// `%{_isa}` form), or `name = EVR` for noarch.
    pub fn requirement(&self) -> String {
        match self.arch {
            "noarch" => format!("{} = {}", self.name, self.evr()),
            "x86_64" => format!("{}(x86-64) = {}", self.name, self.evr()),
            other => panic!("fixture arch {other} has no isa mapping here"),
        }
    }

    fn spec(&self, staging: &Path) -> String {
        let mut s = String::new();
        s.push_str(&format!("Name: {}\n", self.name));
        if let Some(e) = self.epoch {
            s.push_str(&format!("Epoch: {e}\n"));
        }
        s.push_str(&format!("Version: {}\nRelease: {}\n", self.version, self.release));
        s.push_str(&format!("Summary: rejig end-to-end fixture {}\nLicense: MIT\n", self.name));
        if self.arch == "noarch" {
            s.push_str("BuildArch: noarch\n");
        }
        // No generated dependencies and no brp scripts: the payload is exactly the staging tree.
        s.push_str("AutoReqProv: no\n");
        s.push_str("%global debug_package %{nil}\n%global __os_install_post %{nil}\n%global _build_id_links none\n");
        s.push_str(&format!("\n%description\nFixture package {} of the rejig jigdo test.\n", self.name));
        s.push_str(&format!("\n%install\nmkdir -p %{{buildroot}}\ncp -a {}/. %{{buildroot}}/\n", p(staging)));
        s.push_str("\n%files\n");
        for entry in &self.entries {
            s.push_str(&entry.files_line());
            s.push('\n');
        }
        s
    }
}

fn seed_of(name: &str, salt: u64) -> u64 {
    // FNV-1a: stable across runs and Rust versions.
    name.bytes().fold(0xcbf2_9ce4_8422_2325_u64 ^ salt, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The text of the file two packages share (`rj-base` and `rj-tools`).
pub const SHARED_COPYING: &str = "Copyright (c) rejig fixture authors.\nPermission is granted to copy this file.\n";

/// The packages whose content changes in `version` 2 (new version or release).
pub const CHANGED_IN_V2: [&str; 2] = ["rj-tools", "rj-data"];

/// The fixture set at `version` (1 or 2). In version 2 the two [`CHANGED_IN_V2`] packages have
/// a new version-release and some new content; every other definition is identical.
pub fn fixture_packages(version: u32) -> Vec<PackageDef> {
    assert!((1..=2).contains(&version), "fixture version {version} is not 1 or 2");
    let v2 = version == 2;
    let pkg =
        |name: &'static str, epoch: Option<u32>, v: &str, r: &str, arch: &'static str, payload: Payload| PackageDef {
            name,
            epoch,
            version: v.to_string(),
            release: r.to_string(),
            arch,
            payload,
            installed: true,
            entries: Vec::new(),
        };
    let mut out = Vec::new();

    // rj-base: config files under /etc, a directory of many files, a name with spaces, a doc,
    // and the file it shares with rj-tools.
    let mut rng = Rng::new(seed_of("rj-base", 1));
    let mut base = pkg("rj-base", None, "1.0", "1", "noarch", Payload::Xz);
    base.entries.push(Entry::dir("/etc/rj"));
    base.entries.push(Entry::file("/etc/rj/base.conf", "# rj base\nmode = strict\n").directive("%config(noreplace)"));
    base.entries.push(Entry::file("/etc/rj/defaults.conf", "defaults = yes\n").directive("%config"));
    base.entries.push(Entry::dir("/usr/share/rj-base"));
    for i in 0..40 {
        let len = rng.range(100, 800) as usize;
        let mut data = format!("rj-base message {i}\n").into_bytes();
        data.extend(rng.text(len));
        base.entries.push(Entry::file(&format!("/usr/share/rj-base/msg-{i:03}.txt"), data));
    }
    base.entries.push(Entry::file("/usr/share/rj-base/COPYING", SHARED_COPYING));
    base.entries.push(Entry::file("/usr/share/rj-base/name with space.txt", "a file name with spaces\n"));
    base.entries.push(Entry::file("/usr/share/doc/rj-base/README", "rj-base readme\n").directive("%doc"));
    out.push(base);

    // rj-tools: x86_64 with an Epoch; a capability, a hardlink pair, symlinks, the shared file.
    let salt = if v2 { 2 } else { 1 };
    let mut rng = Rng::new(seed_of("rj-tools", salt));
    let mut tools = if v2 {
        pkg("rj-tools", Some(2), "1.1", "1", "x86_64", Payload::Zstd)
    } else {
        pkg("rj-tools", Some(2), "1.0", "1", "x86_64", Payload::Zstd)
    };
    let mut tool = format!("\x7fELF rj-tool {}\n", tools.version).into_bytes();
    tool.extend(rng.bytes(16 * 1024));
    tools.entries.push(Entry::file("/usr/bin/rj-tool", tool).mode(0o755));
    tools.entries.push(Entry::hardlink("/usr/bin/rj-tool-hardlink", "/usr/bin/rj-tool").mode(0o755));
    tools.entries.push(Entry::symlink("/usr/bin/rjt", "rj-tool"));
    // The same across versions: unchanged content inside a changed package.
    let ping = Rng::new(seed_of("rj-ping", 0)).bytes(4096);
    tools.entries.push(Entry::file("/usr/bin/rj-ping", ping).mode(0o755).directive("%caps(cap_net_raw=ep)"));
    let mut lib = b"\x7fELF librj\n".to_vec();
    lib.extend(rng.bytes(24 * 1024));
    tools.entries.push(Entry::file("/usr/lib64/librj.so.1.0", lib).mode(0o755));
    tools.entries.push(Entry::symlink("/usr/lib64/librj.so.1", "librj.so.1.0"));
    tools.entries.push(Entry::file("/usr/share/licenses/rj-tools/COPYING", SHARED_COPYING));
    out.push(tools);

    // rj-lib: x86_64, xz, no Epoch.
    let mut rng = Rng::new(seed_of("rj-lib", 1));
    let mut rjlib = pkg("rj-lib", None, "0.9", "3", "x86_64", Payload::Xz);
    rjlib.entries.push(Entry::dir("/usr/lib64/rj"));
    for name in ["plugin-a.so", "plugin-b.so"] {
        let mut data = format!("\x7fELF {name}\n").into_bytes();
        data.extend(rng.bytes(8 * 1024));
        rjlib.entries.push(Entry::file(&format!("/usr/lib64/rj/{name}"), data).mode(0o755));
    }
    rjlib.entries.push(Entry::symlink("/usr/lib64/rj/default.so", "plugin-a.so"));
    rjlib.entries.push(Entry::file("/etc/rj/lib.conf", "plugins = a b\n").directive("%config(noreplace)"));
    out.push(rjlib);

    // rj-data: three directories of many files and a hardlink across directories. Version 2
    // changes five files and adds one (release bump).
    let mut rng = Rng::new(seed_of("rj-data", 1));
    let mut data = pkg("rj-data", None, "1.0", if v2 { "2" } else { "1" }, "noarch", Payload::Zstd);
    data.entries.push(Entry::dir("/usr/share/rj-data"));
    for set in ["set-a", "set-b", "set-c"] {
        data.entries.push(Entry::dir(&format!("/usr/share/rj-data/{set}")));
        for i in 0..40 {
            let len = rng.range(200, 1500) as usize;
            let mut body = format!("{set} {i}\n").into_bytes();
            body.extend(if i % 3 == 0 { rng.bytes(len) } else { rng.text(len) });
            if v2 && set == "set-b" && i < 5 {
                body.extend_from_slice(b"\nchanged in release 2\n");
            }
            data.entries.push(Entry::file(&format!("/usr/share/rj-data/{set}/f-{i:03}"), body));
        }
    }
    if v2 {
        data.entries.push(Entry::file("/usr/share/rj-data/set-c/f-040", "new in release 2\n"));
    }
    data.entries.push(Entry::file("/usr/share/rj-data/set-a/linked", "one inode, two names\n"));
    data.entries.push(Entry::hardlink("/usr/share/rj-data/set-b/linked", "/usr/share/rj-data/set-a/linked"));
    out.push(data);

    // rj-secret: non-root owners, a setuid file, a group-owned private directory.
    let mut secret = pkg("rj-secret", None, "1.0", "1", "noarch", Payload::Xz);
    secret.entries.push(
        Entry::file("/etc/rj/secret.conf", "token = fixture\n")
            .mode(0o640)
            .owner("nobody", "nogroup")
            .directive("%config(noreplace)"),
    );
    secret.entries.push(Entry::dir("/usr/libexec/rj-secret").mode(0o750).owner("root", "daemon"));
    secret
        .entries
        .push(Entry::file("/usr/libexec/rj-secret/key", "daemon key\n").mode(0o600).owner("daemon", "daemon"));
    secret.entries.push(Entry::file("/usr/libexec/rj-secret/helper", "#!/bin/sh\nexit 0\n").mode(0o4755));
    out.push(secret);

    // rj-ghost: %ghost file and directory, an empty file.
    let mut ghost = pkg("rj-ghost", None, "1.0", "1", "noarch", Payload::Zstd);
    ghost.entries.push(Entry::ghost("/var/log/rj-ghost.log"));
    ghost.entries.push(Entry::ghost_dir("/var/cache/rj-ghost"));
    ghost.entries.push(Entry::dir("/usr/lib/rj-ghost"));
    ghost.entries.push(Entry::file("/usr/lib/rj-ghost/present.txt", "the only real file besides an empty one\n"));
    ghost.entries.push(Entry::file("/usr/lib/rj-ghost/empty", ""));
    out.push(ghost);

    // rj-docs: %doc files and a man page.
    let mut rng = Rng::new(seed_of("rj-docs", 1));
    let mut docs = pkg("rj-docs", None, "1.0", "1", "noarch", Payload::Xz);
    for i in 0..10 {
        let len = rng.range(300, 2000) as usize;
        let body = rng.text(len);
        docs.entries.push(Entry::file(&format!("/usr/share/doc/rj-docs/guide-{i:02}.md"), body).directive("%doc"));
    }
    docs.entries.push(Entry::file("/usr/share/man/man1/rj.1", ".TH RJ 1\n.SH NAME\nrj \\- fixture\n"));
    out.push(docs);

    // rj-theme: a larger incompressible file and a symlink to a directory.
    let mut rng = Rng::new(seed_of("rj-theme", 1));
    let mut theme = pkg("rj-theme", None, "3.2", "1", "noarch", Payload::Zstd);
    theme.entries.push(Entry::dir("/usr/share/rj-theme"));
    theme.entries.push(Entry::dir("/usr/share/rj-theme/dark"));
    theme.entries.push(Entry::file("/usr/share/rj-theme/dark/palette.bin", rng.bytes(32 * 1024)));
    theme.entries.push(Entry::symlink("/usr/share/rj-theme/current", "dark"));
    out.push(theme);

    // rj-shell: noarch with an Epoch, an executable script, a config file, many small files.
    let mut shell = pkg("rj-shell", Some(1), "0.5", "1", "noarch", Payload::Zstd);
    shell.entries.push(Entry::file("/usr/bin/rj-sh", "#!/bin/sh\necho rj shell\n").mode(0o755));
    shell.entries.push(Entry::file("/etc/rj/shell.rc", "PS1='rj> '\n").directive("%config(noreplace)"));
    shell.entries.push(Entry::dir("/usr/share/rj-shell/completions"));
    for i in 0..15 {
        shell
            .entries
            .push(Entry::file(&format!("/usr/share/rj-shell/completions/cmd{i:02}"), format!("complete {i}\n")));
    }
    out.push(shell);

    // rj-extra: in the package sources, never installed: a build must report it unused.
    let mut extra = pkg("rj-extra", None, "1.0", "1", "noarch", Payload::Zstd);
    extra.installed = false;
    extra.entries.push(Entry::file("/usr/share/rj-extra/unused.txt", "no compose installs this package\n"));
    out.push(extra);

    out
}

/// Builds `def` with `rpmbuild -bb` under `work` (a private `_topdir`); the package lands in
/// `out_dir` as `N-V-R.A.rpm`, whose path is returned.
pub fn build_package(def: &PackageDef, work: &Path, out_dir: &Path) -> PathBuf {
    build_package_on(def, work, out_dir, "rejig-e2e.invalid")
}

/// [`build_package`] with another build host in the header: the same NEVRA and payload, but
/// another package (another header digest).
pub fn build_package_on(def: &PackageDef, work: &Path, out_dir: &Path, build_host: &str) -> PathBuf {
    let root = work.join(def.nvra());
    let staging = root.join("staging");
    let topdir = root.join("top");
    for dir in [&staging, &topdir, &out_dir.to_path_buf()] {
        fs::create_dir_all(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    }
    for entry in &def.entries {
        let at = staging.join(entry.path.trim_start_matches('/'));
        if let Some(parent) = at.parent() {
            fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir {}: {e}", parent.display()));
        }
        match &entry.body {
            Body::File(data) => {
                fs::write(&at, data).unwrap_or_else(|e| panic!("write {}: {e}", at.display()));
                fs::set_permissions(&at, fs::Permissions::from_mode(entry.mode & 0o777)).expect("chmod staging file");
            }
            Body::HardLink(to) => {
                fs::hard_link(staging.join(to.trim_start_matches('/')), &at)
                    .unwrap_or_else(|e| panic!("hardlink {}: {e}", at.display()));
            }
            Body::Symlink(target) => {
                std::os::unix::fs::symlink(target, &at).unwrap_or_else(|e| panic!("symlink {}: {e}", at.display()))
            }
            Body::Dir => fs::create_dir_all(&at).unwrap_or_else(|e| panic!("mkdir {}: {e}", at.display())),
            Body::Ghost | Body::GhostDir => {}
        }
    }
    let spec = root.join(format!("{}.spec", def.name));
    fs::write(&spec, def.spec(&staging)).expect("write spec");
    let mut cmd = Command::new("rpmbuild");
    cmd.arg("-bb")
        .arg("--define")
        .arg(format!("_topdir {}", p(&topdir)))
        .arg("--define")
        .arg(format!("_rpmdir {}", p(out_dir)))
        .arg("--define")
        .arg("_build_name_fmt %{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}.rpm")
        .arg("--define")
        .arg(format!("_binary_payload {}", def.payload.macro_value()))
        .arg("--define")
        .arg(format!("_buildhost {build_host}"))
        // No ~/.rpmmacros of whoever runs the tests.
        .env("HOME", &root);
    if def.arch != "noarch" {
        cmd.arg("--target").arg(def.arch);
    }
    cmd.arg(&spec);
    run_ok(&mut cmd);
    let rpm = out_dir.join(def.file_name());
    assert!(rpm.is_file(), "rpmbuild did not write {}", rpm.display());
    rpm
}

/// Builds the fixture set of `version` into `out_dir` and returns each definition with its
/// package. Packages whose definition is the same as one already built in `reuse` (a directory
/// from an earlier version) are copied from there, byte for byte, as a repository would keep
/// them; only the changed ones are rebuilt.
pub fn build_fixture_set(
    version: u32,
    work: &Path,
    out_dir: &Path,
    reuse: Option<&Path>,
) -> Vec<(PackageDef, PathBuf)> {
    fs::create_dir_all(out_dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", out_dir.display()));
    let earlier = reuse.map(|_| fixture_packages(1)).unwrap_or_default();
    let defs = fixture_packages(version);
    // rpmbuild spends most of its time waiting, so the builds run side by side.
    std::thread::scope(|scope| {
        for def in &defs {
            let dest = out_dir.join(def.file_name());
            match reuse {
                Some(dir) if earlier.contains(def) => {
                    fs::copy(dir.join(def.file_name()), &dest)
                        .unwrap_or_else(|e| panic!("copy {}: {e}", def.file_name()));
                }
                _ => {
                    let work = work.join(format!("v{version}"));
                    scope.spawn(move || build_package(def, &work, out_dir));
                }
            }
        }
    });
    defs.into_iter()
        .map(|def| {
            let rpm = out_dir.join(def.file_name());
            (def, rpm)
        })
        .collect()
}

// ----------------------------------------------------------------------------------------
// Compose

/// Users and groups of the composed root, with Debian's ids (rpm resolves `%attr` names through
/// the root's own files).
const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
                      nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
const GROUP: &str = "root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\n";

/// The compose's `user.label` for `rel` (a path relative to the root, "" for the root).
fn label_for(rel: &str, relabelled: bool) -> &'static str {
    match rel {
        _ if rel.starts_with("usr/bin") => {
            if relabelled {
                "system_u:object_r:rj_exec_t:s0"
            } else {
                "system_u:object_r:bin_t:s0"
            }
        }
        _ if rel.starts_with("usr/etc") => "system_u:object_r:etc_t:s0",
        _ if rel.starts_with("usr/lib64") => "system_u:object_r:lib_t:s0",
        _ if rel.starts_with("usr/share/rj-data") && relabelled => "system_u:object_r:rj_data_t:s0",
        _ => "system_u:object_r:usr_t:s0",
    }
}

/// Sets `user.label` on every regular file and directory under `root` (symlinks cannot hold
/// `user.*` xattrs), as a compose labels a tree.
pub fn label_tree(root: &Path, relabelled: bool) {
    for rel in relative_paths(root) {
        let path = if rel.is_empty() { root.to_path_buf() } else { root.join(&rel) };
        let meta = fs::symlink_metadata(&path).unwrap_or_else(|e| panic!("lstat {}: {e}", path.display()));
        if !meta.file_type().is_symlink() {
            set_xattr(&path, "user.label", label_for(&rel, relabelled).as_bytes());
        }
    }
}

/// The paths (relative to the root) of the regular files [`compose`] generates: content no
/// package holds.
pub const GENERATED_FILES: [&str; 4] =
    ["usr/etc/passwd", "usr/etc/group", "usr/lib/os-release", "usr/share/rj-compose/generated.bin"];

/// The package file [`compose`] duplicates, and where the copies go (other owner, mode and
/// xattrs; the second one without the file capability).
pub const DUPLICATED: [(&str, &str); 2] = [
    ("usr/share/rj-data/set-a/f-007", "usr/lib/rj-compose/copy-of-f-007"),
    ("usr/bin/rj-ping", "usr/libexec/rj-ping-without-caps"),
];

/// Installs `rpms` into a new root at `root` as a compose would, then makes the compose's own
/// changes (see the module docs). `version` goes into the generated os-release.
pub fn compose(root: &Path, rpms: &[PathBuf], version: u32) {
    assert!(!root.exists(), "compose root {} already exists", root.display());
    let mkdir = |dir: &Path| fs::create_dir_all(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    let write =
        |path: &Path, data: &[u8]| fs::write(path, data).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    mkdir(&root.join("etc"));
    chmod(root, 0o755);
    write(&root.join("etc/passwd"), PASSWD.as_bytes());
    write(&root.join("etc/group"), GROUP.as_bytes());
    let rpm = |args: &[&str]| {
        let mut cmd = Command::new("rpm");
        cmd.arg("--root").arg(root).args(["--dbpath", "/var/lib/rpm"]).args(args);
        cmd
    };
    run_ok(&mut rpm(&["--initdb"]));
    run_ok(rpm(&["-i", "--nodeps", "--noscripts", "--notriggers", "--ignorearch"]).args(rpms));

    // Not reproducible, and not where an OSTree compose keeps it.
    fs::remove_dir_all(root.join("var/lib/rpm")).expect("remove the rpm database");
    fs::rename(root.join("etc"), root.join("usr/etc")).expect("move etc to usr/etc");

    // Re-own and re-mode package files and directories (never the capped file: chown drops
    // capabilities).
    let base_msg = root.join("usr/share/rj-base/msg-003.txt");
    chown(&base_msg, 1, 1);
    chmod(&base_msg, 0o600);
    chmod(&root.join("usr/share/rj-data/set-a"), 0o750);
    chmod(&root.join("usr/lib64/rj/plugin-b.so"), 0o700);
    chmod(&root.join("usr/etc/rj/base.conf"), 0o600);
    chown(&root.join("usr/share/rj-theme"), 65534, 65534);

    // Generated content no package holds.
    let os_release =
        format!("NAME=\"rj OS\"\nID=rj\nVERSION_ID={version}\nPRETTY_NAME=\"rj OS {version} (rejig fixture)\"\n");
    write(&root.join("usr/lib/os-release"), os_release.as_bytes());
    std::os::unix::fs::symlink("../lib/os-release", root.join("usr/etc/os-release")).expect("symlink os-release");
    mkdir(&root.join("usr/share/rj-compose"));
    let mut generated = b"compose data\n".to_vec();
    generated.extend(Rng::new(seed_of("compose", 7)).bytes(6000));
    write(&root.join("usr/share/rj-compose/generated.bin"), &generated);
    mkdir(&root.join("usr/lib/rj-compose"));
    chmod(&root.join("usr/lib/rj-compose"), 0o700);
    chmod(&root.join("usr/share/rj-compose"), 0o755);
    for rel in GENERATED_FILES {
        chmod(&root.join(rel), 0o644);
    }

    // Labels on every file and directory, then the duplicates with labels of their own.
    label_tree(root, false);
    for (from, to) in DUPLICATED {
        let to = root.join(to);
        fs::write(&to, fs::read(root.join(from)).expect("read the duplicated file")).expect("write the duplicate");
        chown(&to, 65534, 65534);
        chmod(&to, 0o400);
        set_xattr(&to, "user.label", b"system_u:object_r:rj_copy_t:s0");
        set_xattr(&to, "user.origin", b"compose");
    }
}

/// Relabels a composed root: new `user.label` values under `usr/bin` and `usr/share/rj-data`,
/// and a new xattr on one directory. No content, owner or mode changes.
pub fn relabel(root: &Path) {
    label_tree(root, true);
    for (_, to) in DUPLICATED {
        set_xattr(&root.join(to), "user.label", b"system_u:object_r:rj_copy_t:s0");
    }
    set_xattr(&root.join("usr/share/rj-shell"), "user.relabelled", b"yes");
}

/// `ostree commit --repo=REPO --branch=BRANCH --tree=dir=ROOT` with the test timestamp, a
/// `version` metadata string, as composes set it, and no ref bindings; returns the checksum.
pub fn ostree_commit_tree(repo: &Path, branch: &str, root: &Path, subject: &str, version: &str) -> String {
    let out = run_ok(Command::new("ostree").args([
        "commit",
        &format!("--repo={}", p(repo)),
        &format!("--branch={branch}"),
        &format!("--tree=dir={}", p(root)),
        &format!("--subject={subject}"),
        &format!("--timestamp={TIMESTAMP}"),
        &format!("--add-metadata-string=version={version}"),
        "--no-bindings",
    ]));
    let checksum = out.trim().to_string();
    assert!(is_checksum(&checksum), "ostree commit printed {out:?}, not a checksum");
    checksum
}
