//! Fixtures built with the real `rpmbuild` from the spec texts here, cached under
//! `test-data/generated-<name>-<hash>/`, where the hash covers the spec, its source files, the
//! payloads and `rpmbuild --version`: a changed spec or a new rpmbuild builds afresh.
//!
//! - `ostree-fixture`: regular files, hardlinks, symlinks, a ghost, a file capability, odd
//!   modes and owners, a `%config` file, a name with spaces and non-ASCII letters; built once
//!   per payload compressor rpm has (none, gzip, bzip2, xz, lzma, zstd).
//! - `rejig-linkfarm`: many hardlink sets, ghosts and symlinks in one xz package, as a
//!   distribution's policy package has them.
//! - `rejig-manyfiles`: hundreds of files of many sizes and modes in a tree, as a
//!   documentation package has them (the corpus-wide tests compare every file with librpm).
//! - `ostree-fixture-bigfile`: a sparse file of 4 GiB + 4 KiB, which makes rpm write the
//!   stripped cpio format (`07070X`) and 64-bit file sizes; the package is small but expands
//!   to 4 GiB. Building it reads 4 GiB, so it is built once and cached like the rest.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use super::cache::{publish, run, stage};

/// One spec and the packages built from it.
pub struct Fixture {
    /// Names the cache directory.
    pub name: &'static str,
    /// The spec file's text.
    pub spec: String,
    /// Files put in the build's `SOURCES` folder.
    pub sources: Vec<(&'static str, Vec<u8>)>,
    /// Per package: the `_binary_payload` value and the file name it is written to.
    pub builds: Vec<(&'static str, String)>,
}

impl Fixture {
    /// The file names of its packages.
    pub fn outputs(&self) -> Vec<String> {
        self.builds.iter().map(|(_, name)| name.clone()).collect()
    }
}

/// The payload compressors of `ostree-fixture`, as `_binary_payload` spells them.
pub const FIXTURE_PAYLOADS: [&str; 6] = ["w0.ufdio", "w9.gzdio", "w9.bzdio", "w6.xzdio", "w6.lzdio", "w19.zstdio"];

/// Every fixture.
pub fn fixtures() -> Vec<Fixture> {
    vec![ostree_fixture(), linkfarm(), manyfiles(), bigfile()]
}

fn ostree_fixture() -> Fixture {
    // 64 KiB that do not compress, the same on every build.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let random: Vec<u8> = (0..64 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let spec = r#"Name:           ostree-fixture
Version:        1.0
Release:        1
Summary:        What an RPM to OSTree import must carry over
License:        MIT
BuildArch:      noarch
%global debug_package %{nil}
%global __os_install_post %{nil}

%description
Regular files, hardlinks, symlinks, a ghost, a file capability, a setuid file, odd owners.

%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/usr/share/fixture/sub %{buildroot}/etc/fixture %{buildroot}/var/log/fixture
printf 'hello world\n' > %{buildroot}/usr/share/fixture/hello.txt
printf '#!/bin/sh\necho hi\n' > %{buildroot}/usr/bin/fixture-tool
: > %{buildroot}/usr/share/fixture/empty
printf 'shared content\n' > %{buildroot}/usr/share/fixture/link-a
ln %{buildroot}/usr/share/fixture/link-a %{buildroot}/usr/share/fixture/link-b
ln %{buildroot}/usr/share/fixture/link-a %{buildroot}/usr/share/fixture/sub/link-c
ln -s ../hello.txt %{buildroot}/usr/share/fixture/sub/rel-symlink
ln -s /usr/bin/fixture-tool %{buildroot}/usr/bin/abs-symlink
printf 'key=value\n' > %{buildroot}/etc/fixture/fixture.conf
printf 'caps\n' > %{buildroot}/usr/bin/fixture-caps
printf 'suid\n' > %{buildroot}/usr/bin/fixture-suid
printf 'unicode\n' > "%{buildroot}/usr/share/fixture/sp ace & ünïcødé.txt"
cp %{_sourcedir}/random.bin %{buildroot}/usr/share/fixture/random.bin

%files
%dir /usr/share/fixture
%dir /usr/share/fixture/sub
/usr/share/fixture/hello.txt
/usr/share/fixture/empty
/usr/share/fixture/link-a
/usr/share/fixture/link-b
/usr/share/fixture/sub/link-c
/usr/share/fixture/sub/rel-symlink
"/usr/share/fixture/sp ace & ünïcødé.txt"
%attr(0644,root,root) /usr/share/fixture/random.bin
%attr(0755,root,root) /usr/bin/fixture-tool
/usr/bin/abs-symlink
%caps(cap_net_raw,cap_net_admin=ep) %attr(0755,root,root) /usr/bin/fixture-caps
%attr(4755,root,root) /usr/bin/fixture-suid
%config(noreplace) %attr(0640,root,adm) /etc/fixture/fixture.conf
%dir %attr(0750,nobody,nogroup) /var/log/fixture
%ghost %attr(0644,root,root) /var/log/fixture/fixture.log
"#;
    Fixture {
        name: "ostree-fixture",
        spec: spec.to_owned(),
        sources: vec![("random.bin", random)],
        builds: FIXTURE_PAYLOADS.iter().map(|p| (*p, format!("ostree-fixture-1.0-1.{p}.noarch.rpm"))).collect(),
    }
}

/// How many `%ghost` files `rejig-linkfarm` has.
pub const LINKFARM_GHOSTS: usize = 14;
/// How many hardlink sets `rejig-linkfarm` has, and how many names each set has.
pub const LINKFARM_HARDLINK_SETS: (usize, usize) = (11, 4);
/// The file name of `rejig-linkfarm`.
pub const LINKFARM: &str = "rejig-linkfarm-20210617-1.noarch.rpm";

fn linkfarm() -> Fixture {
    let (sets, names) = LINKFARM_HARDLINK_SETS;
    let mut spec = String::from(
        r#"Name:           rejig-linkfarm
Version:        20210617
Release:        1
Summary:        Many hardlinks, ghosts and symlinks in one package
License:        MIT
BuildArch:      noarch
%global debug_package %{nil}
%global __os_install_post %{nil}

%description
Hardlink sets, ghost configuration files and symlinks, as a policy package has them.

%install
base=%{buildroot}/usr/share/linkfarm
mkdir -p $base/links $base/data %{buildroot}/etc/linkfarm/back-ends
"#,
    );
    let link_names = ["a", "b", "c", "d", "e", "f"];
    for set in 1..=sets {
        writeln!(spec, "mkdir -p $base/sets/s{set:02}").unwrap();
        writeln!(spec, "printf 'policy set {set}\\nstrength={}\\n' > $base/sets/s{set:02}/a", set * 16).unwrap();
        for name in &link_names[1..names] {
            writeln!(spec, "ln $base/sets/s{set:02}/a $base/sets/s{set:02}/{name}").unwrap();
        }
        writeln!(spec, "ln -s ../sets/s{set:02}/a $base/links/l{set:02}").unwrap();
    }
    spec.push_str("for i in $(seq -w 1 70); do printf 'data file %%s\\n' \"$i\" > $base/data/f$i.txt; done\n");
    spec.push_str(
        "\n%files\n%dir /usr/share/linkfarm\n/usr/share/linkfarm/sets\n/usr/share/linkfarm/links\n\
         /usr/share/linkfarm/data\n%dir /etc/linkfarm\n%dir /etc/linkfarm/back-ends\n",
    );
    for ghost in 1..=LINKFARM_GHOSTS {
        writeln!(spec, "%ghost %config(noreplace) %attr(0644,root,root) /etc/linkfarm/back-ends/g{ghost:02}.config")
            .unwrap();
    }
    Fixture { name: "rejig-linkfarm", spec, sources: Vec::new(), builds: vec![("w2.xzdio", LINKFARM.to_owned())] }
}

/// The file name of `rejig-manyfiles`.
pub const MANYFILES: &str = "rejig-manyfiles-1.0-1.noarch.rpm";

fn manyfiles() -> Fixture {
    let spec = r#"Name:           rejig-manyfiles
Version:        1.0
Release:        1
Summary:        Hundreds of files in a tree, as a documentation package has them
License:        MIT
BuildArch:      noarch
%global debug_package %{nil}
%global __os_install_post %{nil}

%description
Twenty directories of thirty files each, of many sizes and modes, and a symlink in each.

%install
base=%{buildroot}/usr/share/rejig-manyfiles
for d in $(seq 1 20); do
  mkdir -p $base/d$d/sub
  for f in $(seq 1 25); do
    printf 'directory %%s, file %%s\n' "$d" "$f" > $base/d$d/f$f.txt
    seq 1 $((d * f * 3)) >> $base/d$d/f$f.txt
  done
  for f in $(seq 1 5); do
    printf 'data %%s/%%s\n' "$d" "$f" > $base/d$d/sub/s$f.dat
  done
  chmod 0755 $base/d$d/f1.txt
  chmod 0600 $base/d$d/f2.txt
  chmod 0444 $base/d$d/sub/s1.dat
  ln -s ../f3.txt $base/d$d/sub/link
done

%files
/usr/share/rejig-manyfiles
"#;
    Fixture {
        name: "rejig-manyfiles",
        spec: spec.to_owned(),
        sources: Vec::new(),
        builds: vec![("w19.zstdio", MANYFILES.to_owned())],
    }
}

/// The file name of `ostree-fixture-bigfile`.
pub const BIGFILE: &str = "ostree-fixture-bigfile-1.0-1.noarch.rpm";

fn bigfile() -> Fixture {
    let spec = r#"Name:           ostree-fixture-bigfile
Version:        1.0
Release:        1
Summary:        A file larger than 4 GiB, which forces the stripped cpio format
License:        MIT
BuildArch:      noarch
%global debug_package %{nil}
%global __os_install_post %{nil}

%description
One sparse file of 4 GiB + 4 KiB, a small file and a hardlink pair.

%install
mkdir -p %{buildroot}/usr/share/big
truncate -s 4294971392 %{buildroot}/usr/share/big/huge.img
printf 'small\n' > %{buildroot}/usr/share/big/small.txt
printf 'linked\n' > %{buildroot}/usr/share/big/l1
ln %{buildroot}/usr/share/big/l1 %{buildroot}/usr/share/big/l2

%files
/usr/share/big
"#;
    Fixture {
        name: "ostree-fixture-bigfile",
        spec: spec.to_owned(),
        sources: Vec::new(),
        builds: vec![("w3.zstdio", BIGFILE.to_owned())],
    }
}

/// The cache directory of `fixture`'s packages (they are under `generated/` in it), built if
/// it is not there yet.
pub fn build(root: &Path, fixture: &Fixture) -> PathBuf {
    let version = run(
        "find rpmbuild, which builds the generated test packages (run-tests.sh installs it)",
        Command::new("rpmbuild").arg("--version"),
    )
    .stdout;
    let mut hash = Sha256::new();
    for part in [fixture.name.as_bytes(), fixture.spec.as_bytes(), &version] {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part);
    }
    for (name, bytes) in &fixture.sources {
        hash.update(name.as_bytes());
        hash.update(Sha256::digest(bytes));
    }
    for (payload, output) in &fixture.builds {
        hash.update(format!("{payload} {output}\n"));
    }
    let name = format!("generated-{}-{}", fixture.name, &hex::encode(hash.finalize())[..16]);
    let dir = root.join(&name);
    if fixture.outputs().iter().all(|o| dir.join("generated").join(o).is_file()) {
        return dir;
    }
    // Older builds of this fixture (another spec, another rpmbuild) are of no more use.
    for entry in fs::read_dir(root).unwrap_or_else(|e| panic!("test data: {}: {e}", root.display())).flatten() {
        if entry.file_name().to_string_lossy().starts_with(&format!("generated-{}-", fixture.name)) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
    let started = std::time::Instant::now();
    let staging = stage(root, &name);
    let topdir = staging.join("rpmbuild");
    for sub in ["SPECS", "SOURCES"] {
        fs::create_dir_all(topdir.join(sub)).unwrap();
    }
    let spec = topdir.join(format!("SPECS/{}.spec", fixture.name));
    fs::write(&spec, &fixture.spec).unwrap();
    for (source, bytes) in &fixture.sources {
        fs::write(topdir.join("SOURCES").join(source), bytes).unwrap();
    }
    let out = staging.join("generated");
    for (payload, output) in &fixture.builds {
        run(
            &format!("build the test fixture {output} with rpmbuild"),
            Command::new("rpmbuild")
                .env("SOURCE_DATE_EPOCH", "1700000000")
                .args(["-bb", "--quiet"])
                .args(["--define", &format!("_topdir {}", topdir.display())])
                .args(["--define", &format!("_rpmdir {}", out.display())])
                .args(["--define", &format!("_rpmfilename {output}")])
                .args(["--define", &format!("_binary_payload {payload}")])
                .args(["--define", "use_source_date_epoch_as_buildtime 1"])
                .args(["--define", "clamp_mtime_to_source_date_epoch 1"])
                .arg(&spec),
        );
        assert!(out.join(output).is_file(), "test data: rpmbuild did not write {output}");
    }
    fs::remove_dir_all(&topdir).unwrap_or_else(|e| panic!("test data: removing {}: {e}", topdir.display()));
    publish(&staging, &dir);
    eprintln!("test data: built {} with rpmbuild in {:.1?}", fixture.name, started.elapsed());
    dir
}
