//! The jigdo commands end to end, with real tools on both sides: fixture packages made by
//! `rpmbuild`, a compose installed by `rpm` and committed by `ostree commit` (whose checksum is
//! the oracle), jigdo RPMs checked by `rpm -K`, `rpm -qp`, `createrepo_c` and `rpmsign`, and
//! exports checked by `ostree fsck`, `ostree pull-local --untrusted` and `ostree checkout`.
//!
//! The story: compose v1 from nine packages (a tenth sits in the sources unused), build its
//! jigdo, export it into fresh repositories from a directory and from an rpm-md repository;
//! then v2 (two packages rebuilt with new content) must fetch exactly those two on a client that
//! has v1, and v3 (the same files, relabelled) must fetch nothing.
#![allow(clippy::unwrap_used)]

use crate::util;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

use serde_json::Value;
use util::rpmbuild::*;
use util::*;

/// The jigdo's name (`--name`).
const JIGDO_NAME: &str = "rj-os";
/// The ref every export writes.
const REF: &str = "rj/os";

// ----------------------------------------------------------------------------------------
// The fixture: packages, composes and commits (no rejig involved)

struct Fixture {
    /// Package directories of v1 and v2 (v2 = v1 with two packages rebuilt).
    pkgs: [PathBuf; 2],
    /// Each set's definitions and package files.
    sets: [Vec<(PackageDef, PathBuf)>; 2],
    /// The composed roots of v1, v2 and v3 (v3 = v2 relabelled).
    roots: [PathBuf; 3],
    /// The archive repository `ostree commit` wrote the three versions into.
    src: PathBuf,
    /// The three commits (branches `rj/v1`, `rj/v2`, `rj/v3`).
    commits: [String; 3],
}

impl Fixture {
    /// The package set a version is composed from (v3 uses v2's packages).
    fn set(&self, version: usize) -> &[(PackageDef, PathBuf)] {
        &self.sets[version.min(2) - 1]
    }
    fn pkgs(&self, version: usize) -> &Path {
        &self.pkgs[version.min(2) - 1]
    }
    fn commit(&self, version: usize) -> &str {
        &self.commits[version - 1]
    }
    fn installed(&self, version: usize) -> Vec<&(PackageDef, PathBuf)> {
        self.set(version).iter().filter(|(def, _)| def.installed).collect()
    }
}

/// The `version` metadata of commit `v`, which is also its jigdo's RPM version.
fn version_of(v: usize) -> String {
    format!("{v}.0")
}

/// A directory under cargo's per-test-target tmp dir, emptied first. The fixture lives for the
/// whole test binary, so it cannot be a `TempDir` dropped at the end of one test.
fn fixture_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    if dir.exists() {
        fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("cannot empty {}: {e}", dir.display()));
    }
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    dir
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let dir = fixture_dir("jigdo-e2e-fixture");
    let work = dir.join("rpmbuild");
    let pkgs = [dir.join("pkgs-v1"), dir.join("pkgs-v2")];
    let v1 = build_fixture_set(1, &work, &pkgs[0], None);
    let v2 = build_fixture_set(2, &work, &pkgs[1], Some(&pkgs[0]));
    let src = dir.join("src");
    ostree_init(&src, "archive");
    let roots = [dir.join("root-v1"), dir.join("root-v2"), dir.join("root-v3")];
    let installed = |set: &[(PackageDef, PathBuf)]| -> Vec<PathBuf> {
        set.iter().filter(|(def, _)| def.installed).map(|(_, rpm)| rpm.clone()).collect()
    };
    compose(&roots[0], &installed(&v1), 1);
    compose(&roots[1], &installed(&v2), 2);
    compose(&roots[2], &installed(&v2), 2);
    relabel(&roots[2]);
    let commits = [1, 2, 3]
        .map(|v| ostree_commit_tree(&src, &format!("rj/v{v}"), &roots[v - 1], &format!("rj OS v{v}"), &version_of(v)));
    Fixture { pkgs, sets: [v1, v2], roots, src, commits }
});

// ----------------------------------------------------------------------------------------
// The jigdos of the three versions, built with one store

struct Jigdos {
    rpms: [PathBuf; 3],
    reports: [Value; 3],
}

impl Jigdos {
    fn rpm(&self, version: usize) -> &Path {
        &self.rpms[version - 1]
    }
    fn report(&self, version: usize) -> &Value {
        &self.reports[version - 1]
    }
}

static JIGDOS: LazyLock<Jigdos> = LazyLock::new(|| {
    let f = &*FIXTURE;
    let dir = fixture_dir("jigdo-e2e-jigdos");
    let builder = Rejig::new();
    let mut rpms = Vec::new();
    let mut reports = Vec::new();
    for version in 1..=3 {
        let out = dir.join(format!("jigdo-v{version}.rpm"));
        let report = builder.build(&f.src, &format!("rj/v{version}"), f.pkgs(version), JIGDO_NAME, &out);
        rpms.push(out);
        reports.push(report);
    }
    Jigdos { rpms: rpms.try_into().unwrap(), reports: reports.try_into().unwrap() }
});

// ----------------------------------------------------------------------------------------
// Helpers

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("rejig-jigdo-").tempdir().expect("temp dir")
}

fn lines(s: &str) -> BTreeSet<String> {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()
}

fn file_size(path: &Path) -> u64 {
    fs::metadata(path).unwrap_or_else(|e| panic!("stat {}: {e}", path.display())).len()
}

/// The distinct content objects of a commit, from `ostree ls -R -C`.
#[derive(Default)]
struct ContentObjects {
    /// Files and symlinks.
    all: BTreeSet<String>,
    symlinks: BTreeSet<String>,
    /// Empty regular files (carried in the jigdo, like content no package holds).
    empty: BTreeSet<String>,
}

fn content_objects(repo: &Path, rev: &str) -> ContentObjects {
    let listing = ostree(&["ls", &format!("--repo={}", p(repo)), "-R", "-C", rev]);
    let mut out = ContentObjects::default();
    for line in listing.lines().filter(|l| l.starts_with('-') || l.starts_with('l')) {
        // MODE UID GID SIZE CHECKSUM PATH
        let fields: Vec<&str> = line.split_whitespace().collect();
        let sum = fields.get(4).copied().unwrap_or_else(|| panic!("unexpected ls line {line:?}"));
        assert!(is_checksum(sum), "unexpected `ostree ls -R -C` line: {line:?}");
        out.all.insert(sum.to_string());
        if line.starts_with('l') {
            out.symlinks.insert(sum.to_string());
        } else if fields[3] == "0" {
            out.empty.insert(sum.to_string());
        }
    }
    out
}

/// A package of a plan report: its NEVRA must name `def` (with or without the Epoch).
fn names(nevra: &str, def: &PackageDef) -> bool {
    nevra == def.nevra() || nevra == def.nvra()
}

/// Checks a plan report against the packages it must list.
fn assert_plan(v: &Value, commit: &str, total: usize, needed: &[&(PackageDef, PathBuf)], what: &str) {
    assert_eq!(text(v, "commit"), commit, "{what}: plan names the wrong commit: {v}");
    assert_eq!(num(v, "packages_total"), total as u64, "{what}: packages_total: {v}");
    assert_eq!(num(v, "packages_needed"), needed.len() as u64, "{what}: packages_needed: {v}");
    let listed = v["packages"].as_array().unwrap_or_else(|| panic!("{what}: no packages array in {v}"));
    assert_eq!(listed.len(), needed.len(), "{what}: the plan lists {} packages: {v}", listed.len());
    let mut bytes = 0;
    for (def, rpm) in needed {
        let entry = listed
            .iter()
            .find(|e| e["nevra"].as_str().is_some_and(|n| names(n, def)))
            .unwrap_or_else(|| panic!("{what}: the plan does not list {}: {v}", def.nevra()));
        assert_eq!(num(entry, "size"), file_size(rpm), "{what}: size of {}: {v}", def.nevra());
        let location = text(entry, "location");
        assert!(location.contains(&def.file_name()), "{what}: location {location:?} of {}: {v}", def.nevra());
        bytes += file_size(rpm);
    }
    assert_eq!(num(v, "bytes_to_fetch"), bytes, "{what}: bytes_to_fetch must add up the listed packages: {v}");
}

fn plan(rejig: &Rejig, jigdo: &Path, source: &str) -> Value {
    rejig.json(&["plan", p(jigdo), "--packages", source])
}

/// `export JIGDO --packages SOURCES… --repo REPO --mode MODE --ref REF` with `--json`; checks the
/// report's shape, its commit and mode, and its object counts against `ostree`'s.
fn export(rejig: &Rejig, jigdo: &Path, sources: &[&str], repo: &Path, mode: &str, commit: &str) -> Value {
    let mut args = vec!["export", p(jigdo), "--packages"];
    args.extend_from_slice(sources);
    args.extend_from_slice(&["--repo", p(repo), "--mode", mode, "--ref", REF]);
    let v = rejig.json(&args);
    assert_eq!(text(&v, "commit"), commit, "export reported another commit than ostree made: {v}");
    assert_eq!(text(&v, "mode"), mode, "{v}");
    let reported = PathBuf::from(text(&v, "repo"));
    assert_eq!(
        reported.canonicalize().ok(),
        repo.canonicalize().ok(),
        "export names another repository than {}: {v}",
        repo.display()
    );
    assert!(v.get("seconds").is_some_and(Value::is_number), "{v}");
    assert!(num(&v, "packages_needed") <= num(&v, "packages_total"), "{v}");
    assert!(num(&v, "packages_fetched") <= num(&v, "packages_needed"), "{v}");
    let total = ostree_reachable(&FIXTURE.src, commit).len() as u64;
    assert_eq!(num(&v, "objects_total"), total, "objects_total must count every object the commit reaches: {v}");
    assert_eq!(num(&v, "objects_written") + num(&v, "objects_reused"), total, "{v}");
    v
}

/// The exported repository is sound (fsck, pull-local --untrusted), its ref names the commit,
/// and it checks out to the same tree as the source commit.
fn assert_exported(repo: &Path, commit: &str, scratch: &Path) {
    verify_exported_repo(repo, commit);
    assert_eq!(ostree_rev_parse(repo, REF), commit, "the ref of {} does not name the commit", repo.display());
    let tag = &commit[..12];
    let expected = scratch.join(format!("co-src-{tag}"));
    if !expected.exists() {
        ostree_checkout(&FIXTURE.src, commit, &expected);
    }
    let actual = scratch.join(format!("co-{}-{tag}", repo.file_name().unwrap().to_string_lossy()));
    ostree_checkout(repo, commit, &actual);
    assert_trees_equal(&snapshot(&expected), &snapshot(&actual), &format!("checkout of {}", repo.display()));
    // The snapshot compares user.* xattrs; the capability is a security.* one.
    let caps = |root: &Path| {
        all_xattrs(&root.join("usr/bin/rj-ping")).into_iter().find(|(name, _)| name == "security.capability")
    };
    assert!(caps(&actual).is_some(), "checkout of {} lost rj-ping's file capability", repo.display());
    assert_eq!(caps(&expected), caps(&actual), "rj-ping's capability differs in {}", repo.display());
}

/// A copy of the package set `version` without the packages named in `leave_out`.
fn package_dir_without(dir: &Path, version: usize, leave_out: &[&str]) -> PathBuf {
    fs::create_dir_all(dir).expect("mkdir");
    for (def, rpm) in FIXTURE.set(version) {
        if !leave_out.contains(&def.name) {
            fs::copy(rpm, dir.join(def.file_name())).expect("copy package");
        }
    }
    dir.to_path_buf()
}

// ----------------------------------------------------------------------------------------
// Tests

/// The fixture is what the other tests rely on, checked with rpm and ostree themselves.
#[test]
fn fixture_packages_and_composes_are_what_the_tests_claim() {
    let f = &*FIXTURE;
    let mut compressors = BTreeSet::new();
    let mut arches = BTreeSet::new();
    for (version, set) in [(1, &f.sets[0]), (2, &f.sets[1])] {
        assert_eq!(set.len(), 10, "v{version}: ten packages, nine installed");
        assert_eq!(set.iter().filter(|(d, _)| d.installed).count(), 9);
        for (def, rpm) in set {
            let out = run(Command::new("rpm").arg("-K").arg(rpm));
            assert!(out.status.success(), "{}", report(&format!("rpm -K {}", rpm.display()), &out));
            let got = rpm_query(rpm, &["--qf", "%{NAME} %{EPOCH} %{VERSION}-%{RELEASE} %{ARCH} %{PAYLOADCOMPRESSOR}"]);
            let epoch = def.epoch.map_or("(none)".to_string(), |e| e.to_string());
            let want = format!(
                "{} {epoch} {}-{} {} {}",
                def.name,
                def.version,
                def.release,
                def.arch,
                def.payload.compressor()
            );
            assert_eq!(got, want, "rpm -qp on {}", rpm.display());
            assert!(
                lines(&rpm_query(rpm, &["--provides"])).contains(&def.requirement()),
                "{} does not provide {}",
                rpm.display(),
                def.requirement()
            );
            compressors.insert(def.payload.compressor());
            arches.insert(def.arch);
        }
    }
    assert_eq!(compressors, BTreeSet::from(["xz", "zstd"]));
    assert_eq!(arches, BTreeSet::from(["noarch", "x86_64"]));

    // v2 differs from v1 in exactly the two rebuilt packages; the others are the same files.
    for ((d1, r1), (d2, r2)) in f.sets[0].iter().zip(&f.sets[1]) {
        let changed = CHANGED_IN_V2.contains(&d1.name);
        assert_eq!(d1.name, d2.name);
        assert_eq!(changed, d1.evr() != d2.evr(), "{}: EVR {} -> {}", d1.name, d1.evr(), d2.evr());
        assert_eq!(changed, fs::read(r1).unwrap() != fs::read(r2).unwrap(), "{}", d1.name);
    }

    // What rpm says about the special files.
    let pkg = |name: &str| &f.sets[0].iter().find(|(d, _)| d.name == name).unwrap().1;
    let caps = rpm_query(pkg("rj-tools"), &["--filecaps"]);
    assert!(caps.lines().any(|l| l.starts_with("/usr/bin/rj-ping") && l.contains("cap_net_raw=ep")), "{caps}");
    let dump = rpm_query(pkg("rj-secret"), &["--dump"]);
    assert!(dump.lines().any(|l| l.starts_with("/etc/rj/secret.conf ") && l.contains(" nobody nogroup ")), "{dump}");
    assert!(dump.lines().any(|l| l.starts_with("/usr/libexec/rj-secret/key ") && l.contains(" daemon daemon ")));
    let flags = rpm_query(pkg("rj-ghost"), &["--qf", "[%{FILEFLAGS:fflags} %{FILENAMES}\n]"]);
    assert!(flags.lines().any(|l| l == "g /var/log/rj-ghost.log"), "{flags}");
    assert!(flags.lines().any(|l| l == "g /var/cache/rj-ghost"), "{flags}");
    let flags = rpm_query(pkg("rj-base"), &["--qf", "[%{FILEFLAGS:fflags} %{FILENAMES}\n]"]);
    assert!(flags.lines().any(|l| l == "cn /etc/rj/base.conf"), "{flags}");

    // The composed root as rpm and the compose left it.
    let root = &f.roots[0];
    let meta = |rel: &str| fs::symlink_metadata(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    assert!(!root.join("etc").exists() && root.join("usr/etc/rj/base.conf").is_file(), "etc moved to usr/etc");
    assert!(!root.join("var/lib/rpm").exists(), "the rpm database is removed");
    assert!(!root.join("var/log/rj-ghost.log").exists() && !root.join("var/cache/rj-ghost").exists(), "ghosts");
    let secret = meta("usr/etc/rj/secret.conf");
    assert_eq!((secret.uid(), secret.gid(), secret.mode() & 0o7777), (65534, 65534, 0o640));
    let key = meta("usr/libexec/rj-secret/key");
    assert_eq!((key.uid(), key.gid(), key.mode() & 0o7777), (1, 1, 0o600));
    assert_eq!(meta("usr/libexec/rj-secret/helper").mode() & 0o7777, 0o4755);
    assert_eq!(meta("usr/bin/rj-tool").ino(), meta("usr/bin/rj-tool-hardlink").ino(), "hardlink");
    assert_eq!(meta("usr/share/rj-data/set-a/linked").ino(), meta("usr/share/rj-data/set-b/linked").ino());
    assert!(meta("usr/bin/rjt").file_type().is_symlink());
    let label = |rel: &str| user_xattrs(&root.join(rel)).into_iter().find(|(n, _)| n == "user.label").map(|x| x.1);
    assert!(label("usr/share/rj-data").is_some() && label("usr/bin/rj-tool").is_some(), "labels on dirs and files");
    assert!(
        all_xattrs(&root.join("usr/bin/rj-ping")).iter().any(|(n, _)| n == "security.capability"),
        "rpm set the file capability"
    );
    for (from, to) in DUPLICATED {
        assert_eq!(fs::read(root.join(from)).unwrap(), fs::read(root.join(to)).unwrap(), "{to}");
        assert_eq!(meta(to).uid(), 65534);
    }
    assert!(
        all_xattrs(&root.join(DUPLICATED[1].1)).iter().all(|(n, _)| n != "security.capability"),
        "the copy of rj-ping has no capability"
    );
    let (v2, v3) = (snapshot(&f.roots[1]), snapshot(&f.roots[2]));
    assert_eq!(v2.keys().collect::<Vec<_>>(), v3.keys().collect::<Vec<_>>(), "v3 has v2's paths");
    for (path, a) in &v2 {
        let b = &v3[path];
        assert_eq!((a.kind, a.perms, a.uid, a.gid, &a.data), (b.kind, b.perms, b.uid, b.gid, &b.data), "/{path}");
    }
    assert!(v2.iter().any(|(path, a)| a.xattrs != v3[path].xattrs), "v3 relabels some files");

    // The oracle repository.
    ostree_fsck(&f.src, 3);
    let distinct: BTreeSet<&String> = f.commits.iter().collect();
    assert_eq!(distinct.len(), 3, "three different commits: {:?}", f.commits);
    let files = ostree_file_checksums(&f.src, "rj/v1");
    assert!(files.contains_key("/usr/etc/rj/secret.conf") && files.contains_key("/usr/lib/os-release"));
}

/// The jigdo RPM is an ordinary package to rpm, createrepo_c and rpmsign.
#[test]
fn jigdo_rpm_is_an_ordinary_package_for_rpm_createrepo_and_rpmsign() {
    let f = &*FIXTURE;
    let j = &*JIGDOS;
    for version in 1..=3 {
        let jigdo = j.rpm(version);
        let commit = f.commit(version);
        let out = run(Command::new("rpm").arg("-K").arg(jigdo));
        assert!(out.status.success(), "{}", report(&format!("rpm -K {}", jigdo.display()), &out));
        assert!(String::from_utf8_lossy(&out.stdout).contains("digests"), "{}", report("rpm -K", &out));
        assert_eq!(
            rpm_query(jigdo, &["--qf", "%{NAME} %{VERSION} %{ARCH}"]),
            format!("{JIGDO_NAME} {} noarch", version_of(version)),
            "the jigdo's name, its commit's version, noarch"
        );

        let files = lines(&rpm_query(jigdo, &["-l"]));
        let prefix = format!("/usr/lib/rejig/{JIGDO_NAME}");
        assert!(files.iter().all(|f| f.starts_with(&prefix)), "v{version}: files outside {prefix}/: {files:?}");
        assert!(files.iter().any(|f| f.starts_with(&format!("{prefix}/"))), "v{version}: no payload: {files:?}");

        let provides = lines(&rpm_query(jigdo, &["--provides"]));
        assert!(provides.contains("rejig-jigdo(2)"), "v{version}: {provides:?}");
        assert!(provides.contains(&format!("rejig-commit({commit})")), "v{version}: {provides:?}");

        // Exactly one exact requirement per part, each satisfied by the part's own provide.
        let all: BTreeSet<String> =
            lines(&rpm_query(jigdo, &["--requires"])).into_iter().filter(|r| !r.starts_with("rpmlib(")).collect();
        let head = rejig_importer::jigdo::read_jigdo(jigdo).unwrap().head;
        let parts: BTreeSet<String> = head
            .unique_parts()
            .iter()
            .map(|part| {
                let n = part.nevra();
                format!("{} = {}-{}", n.name, n.version, n.release)
            })
            .collect();
        assert_eq!(all.iter().filter(|r| r.starts_with("rejig-part-")).cloned().collect::<BTreeSet<_>>(), parts);
        for part in head.unique_parts() {
            let file = jigdo.parent().unwrap().join(rejig_format::jigdo::part_file_name(&part.content));
            let n = part.nevra();
            let own = format!("{} = {}-{}", n.name, n.version, n.release);
            assert!(
                lines(&rpm_query(&file, &["--provides"])).contains(&own),
                "{} does not provide {own}",
                file.display()
            );
        }
        // No requirement on packages: the head's table binds them (by digest), and a
        // requirement each only made every jigdo, and every listing of it, larger.
        let requires: BTreeSet<String> = all.into_iter().filter(|r| !r.starts_with("rejig-part-")).collect();
        assert!(requires.is_empty(), "v{version}: the jigdo requires more than its parts: {requires:?}");
        for (def, _) in f.installed(version) {
            assert!(!requires.contains(&def.requirement()), "v{version}: {} is required", def.requirement());
        }
    }

    // createrepo_c indexes it beside its packages, and the repodata alone names the commit
    // and the exact parts (packages are the head's business).
    let tmp = tempdir();
    let repo = package_dir_without(&tmp.path().join("rpm-md"), 1, &[]);
    fs::copy(j.rpm(1), repo.join("jigdo-v1.rpm")).expect("copy jigdo");
    run_ok(Command::new("createrepo_c").arg("--general-compress-type=gz").arg(&repo));
    let repomd = fs::read_to_string(repo.join("repodata/repomd.xml")).expect("repomd.xml");
    let href = repomd
        .split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .find(|h| h.ends_with("primary.xml.gz"))
        .unwrap_or_else(|| panic!("no primary.xml.gz in {repomd}"));
    let primary = run_ok(Command::new("gzip").arg("-dc").arg(repo.join(href)));
    assert!(primary.contains(&format!("<name>{JIGDO_NAME}</name>")), "primary lacks the jigdo");
    assert!(primary.contains(&format!("rejig-commit({})", f.commit(1))), "primary lacks rejig-commit");
    let entry = primary
        .split("<package ")
        .find(|p| p.contains(&format!("<name>{JIGDO_NAME}</name>")))
        .expect("the jigdo's entry in primary");
    let requires = entry.split("<rpm:requires>").nth(1).and_then(|r| r.split("</rpm:requires>").next()).unwrap_or("");
    assert!(!requires.contains(r#"name="rj-tools(x86-64)""#), "the jigdo's entry requires rj-tools: {entry}");
    let part = rejig_importer::jigdo::read_jigdo(j.rpm(1)).expect("read the jigdo").head.unique_parts()[0].nevra();
    assert!(
        requires.contains(&format!(r#"name="{}" flags="EQ" epoch="0" ver="{}" rel="0""#, part.name, part.version)),
        "the jigdo's entry lacks the exact requirement on part {part}: {entry}"
    );

    // rpmsign signs it with a throwaway key; rpm -K checks the signature once the key is known.
    let gpg = Gpg::new();
    let signed = tmp.path().join("signed.rpm");
    fs::copy(j.rpm(1), &signed).expect("copy jigdo");
    run_ok(
        Command::new("rpmsign")
            .arg("--addsign")
            .args(["--define", &format!("_gpg_name {}", Gpg::UID)])
            .args(["--define", &format!("_gpg_path {}", p(gpg.home.path()))])
            .args(["--define", &format!("__gpg {}", p(&gpg.exe))])
            .arg(&signed)
            .env("GNUPGHOME", gpg.home.path()),
    );
    let unknown = run(Command::new("rpm").args(["--dbpath", p(&tmp.path().join("empty-db"))]).arg("-Kv").arg(&signed));
    assert!(
        String::from_utf8_lossy(&unknown.stdout).contains("NOKEY"),
        "a signature by an unknown key should be there:\n{}",
        report("rpm -Kv", &unknown)
    );
    let db = tmp.path().join("rpmdb");
    run_ok(Command::new("rpm").args(["--dbpath", p(&db), "--initdb"]));
    run_ok(Command::new("rpm").args(["--dbpath", p(&db), "--import", p(&gpg.public_key(tmp.path()))]));
    let checked = run(Command::new("rpm").args(["--dbpath", p(&db), "-Kv"]).arg(&signed));
    let stdout = String::from_utf8_lossy(&checked.stdout);
    assert!(checked.status.success(), "{}", report("rpm -Kv (signed)", &checked));
    assert!(
        stdout.contains("Signature, key ID") && !stdout.contains("NOKEY") && !stdout.contains("NOT OK"),
        "{stdout}"
    );

    // rejig still reads the signed jigdo (its parts beside it, as published).
    for part in rejig_importer::jigdo::read_jigdo(j.rpm(1)).unwrap().head.unique_parts() {
        let name = rejig_format::jigdo::part_file_name(&part.content);
        fs::copy(j.rpm(1).parent().unwrap().join(&name), tmp.path().join(&name)).expect("copy part");
    }
    let info = Rejig::new().json(&["inspect", p(&signed)]);
    assert_eq!(text(&info, "commit"), f.commit(1), "{info}");
    let planned = plan(&Rejig::new(), &signed, p(f.pkgs(1)));
    assert_eq!(text(&planned, "commit"), f.commit(1), "{planned}");
}

/// A throwaway GnuPG home with one passphrase-less signing key; its agent is stopped on drop.
struct Gpg {
    home: tempfile::TempDir,
    exe: PathBuf,
}

impl Gpg {
    const UID: &'static str = "rejig e2e <e2e@rejig.invalid>";

    fn new() -> Self {
        // Short path: the agent's socket lives in it.
        let home = tempfile::Builder::new().prefix("gpg-").tempdir_in("/tmp").expect("temp GNUPGHOME");
        let exe = std::env::var_os("PATH")
            .and_then(|path| std::env::split_paths(&path).map(|d| d.join("gpg")).find(|g| g.is_file()))
            .expect("gpg is not on PATH");
        let gpg = Self { home, exe };
        run_ok(
            gpg.cmd()
                .args(["--pinentry-mode", "loopback", "--passphrase", "", "--quick-gen-key", Self::UID])
                .args(["ed25519", "sign", "never"]),
        );
        gpg
    }

    fn cmd(&self) -> Command {
        let mut cmd = Command::new(&self.exe);
        cmd.arg("--batch").env("GNUPGHOME", self.home.path());
        cmd
    }

    fn public_key(&self, dir: &Path) -> PathBuf {
        let path = dir.join("rejig-e2e.asc");
        let key = run_ok(self.cmd().args(["--armor", "--export", Self::UID]));
        assert!(key.contains("BEGIN PGP PUBLIC KEY BLOCK"), "gpg exported no key: {key}");
        fs::write(&path, key).expect("write key");
        path
    }
}

impl Drop for Gpg {
    fn drop(&mut self) {
        let _ = run(Command::new("gpgconf").args(["--kill", "gpg-agent"]).env("GNUPGHOME", self.home.path()));
    }
}

/// build's and inspect's figures agree with each other and with what ostree and the fixture
/// say.
#[test]
fn build_and_inspect_report_the_commit_and_consistent_figures() {
    let f = &*FIXTURE;
    let j = &*JIGDOS;
    for version in 1..=3 {
        let v = j.report(version);
        let what = format!("build v{version}");
        assert_eq!(text(v, "commit"), f.commit(version), "{what}: {v}");
        assert_eq!(Path::new(text(v, "output")), j.rpm(version), "{what}: {v}");
        assert_eq!(num(v, "jigdo_bytes"), file_size(j.rpm(version)), "{what}: jigdo_bytes is the file's size: {v}");
        assert!(v.get("seconds").is_some_and(Value::is_number), "{what}: {v}");

        let objects = content_objects(&f.src, f.commit(version));
        let files = ostree_file_checksums(&f.src, f.commit(version));
        let mut new: BTreeSet<&String> = GENERATED_FILES.iter().map(|rel| &files[&format!("/{rel}")]).collect();
        assert!(!objects.empty.is_empty(), "the fixture has an empty file (rj-ghost)");
        new.extend(&objects.empty);
        assert_eq!(num(v, "objects_total"), objects.all.len() as u64, "{what}: every content object: {v}");
        assert_eq!(num(v, "objects_symlink"), objects.symlinks.len() as u64, "{what}: every symlink: {v}");
        assert_eq!(num(v, "objects_new"), new.len() as u64, "{what}: only generated and empty files are new: {v}");
        assert_eq!(
            num(v, "objects_from_packages") + num(v, "objects_new") + num(v, "objects_symlink"),
            num(v, "objects_total"),
            "{what}: {v}"
        );
        let generated_bytes: u64 = GENERATED_FILES.iter().map(|rel| file_size(&f.roots[version - 1].join(rel))).sum();
        assert_eq!(num(v, "bytes_new"), generated_bytes, "{what}: bytes_new is the generated files' size: {v}");
        assert!(num(v, "bytes_from_packages") > num(v, "bytes_new"), "{what}: {v}");

        let sources = f.set(version).len() as u64;
        assert_eq!(num(v, "packages_unused"), 1, "{what}: rj-extra is the one unused package: {v}");
        assert_eq!(num(v, "packages_used"), sources - num(v, "packages_unused"), "{what}: {v}");

        let info = Rejig::new().json(&["inspect", p(j.rpm(version))]);
        assert_eq!(text(&info, "kind"), "jigdo", "{info}");
        assert_eq!(text(&info, "commit"), f.commit(version), "{info}");
        assert_eq!(text(&info, "name"), JIGDO_NAME, "{info}");
        assert_eq!(text(&info, "version"), version_of(version), "the commit's version: {info}");
        let packages: Vec<&str> = info["packages"]
            .as_array()
            .unwrap_or_else(|| panic!("inspect lists no packages: {info}"))
            .iter()
            .map(|n| n.as_str().unwrap_or_else(|| panic!("a package that is not a NEVRA in {info}")))
            .collect();
        assert_eq!(packages.len() as u64, num(v, "packages_used"), "inspect vs {what}: {info}");
        for (def, _) in f.installed(version) {
            assert!(packages.iter().any(|n| names(n, def)), "inspect does not list {}: {info}", def.nevra());
        }
        for key in ["objects_total", "objects_from_packages", "objects_new", "objects_symlink"] {
            assert_eq!(num(&info, key), num(v, key), "inspect's {key} vs {what}: {info} vs {v}");
        }
        assert_eq!(num(&info, "new_bytes"), num(v, "bytes_new"), "inspect's new_bytes vs {what}: {info} vs {v}");
    }
}

/// A fresh client recreates v1 bit-identically in archive and bare-user repositories from a
/// directory of packages, and from an rpm-md repository.
#[test]
fn export_recreates_the_commit_from_a_directory_and_an_rpm_md_repository() {
    let f = &*FIXTURE;
    let j = &*JIGDOS;
    let tmp = tempdir();
    let commit = f.commit(1);
    let needed = f.installed(1);
    let fetched_bytes: u64 = needed.iter().map(|(_, rpm)| file_size(rpm)).sum();
    for mode in ["archive", "bare-user"] {
        let repo = tmp.path().join(format!("from-dir-{mode}"));
        let v = export(&Rejig::new(), j.rpm(1), &[p(f.pkgs(1))], &repo, mode, commit);
        assert_eq!(num(&v, "packages_total"), needed.len() as u64, "{v}");
        assert_eq!(num(&v, "packages_needed"), needed.len() as u64, "a fresh store needs every package: {v}");
        assert_eq!(num(&v, "packages_fetched"), needed.len() as u64, "{v}");
        assert_eq!(num(&v, "bytes_fetched"), fetched_bytes, "{v}");
        assert_eq!(num(&v, "objects_reused"), 0, "a new repository holds nothing: {v}");
        assert_eq!(repo_mode(&repo), mode);
        assert_exported(&repo, commit, tmp.path());
    }

    // An rpm-md repository made by createrepo_c over the packages, given as its path.
    let rpmmd = tmp.path().join("rpm-md");
    package_dir_without(&rpmmd.join("Packages"), 1, &[]);
    run_ok(Command::new("createrepo_c").arg(&rpmmd));
    let repo = tmp.path().join("from-rpm-md");
    let rejig = Rejig::new();
    let v = export(&rejig, j.rpm(1), &[p(&rpmmd)], &repo, "archive", commit);
    assert_eq!(num(&v, "packages_fetched"), needed.len() as u64, "{v}");
    assert_exported(&repo, commit, tmp.path());
    rejig.fsck_clean();
}

/// An rpm-md repository made by createrepo_c is a source, as a path and as a `file://` URL,
/// and it is read through its repodata: a stray file beside the packages that the repodata does
/// not list (an interrupted download) is never opened.
#[test]
fn export_from_an_rpm_md_repository_reads_its_repodata() {
    let f = &*FIXTURE;
    let j = &*JIGDOS;
    let tmp = tempdir();
    let commit = f.commit(1);
    let needed = f.installed(1);
    let rpmmd = tmp.path().join("rpm-md");
    package_dir_without(&rpmmd.join("Packages"), 1, &[]);
    run_ok(Command::new("createrepo_c").arg(&rpmmd));
    assert!(rpmmd.join("repodata/repomd.xml").is_file());
    fs::write(rpmmd.join("Packages/rj-partial-download.rpm"), b"the first bytes of an interrupted download")
        .expect("write the stray file");

    let rejig = Rejig::new();
    let url = format!("file://{}", p(&rpmmd));
    assert_plan(&plan(&rejig, j.rpm(1), &url), commit, needed.len(), &needed, "plan from a file:// rpm-md URL");
    assert_plan(&plan(&rejig, j.rpm(1), p(&rpmmd)), commit, needed.len(), &needed, "plan from an rpm-md path");
    let repo = tmp.path().join("from-rpm-md");
    let v = export(&rejig, j.rpm(1), &[p(&rpmmd)], &repo, "archive", commit);
    assert_eq!(num(&v, "packages_fetched"), needed.len() as u64, "{v}");
    assert_exported(&repo, commit, tmp.path());
    rejig.fsck_clean();
}

/// A client that has v1 fetches exactly the two changed packages for v2, and nothing for v3,
/// whose files only carry new labels. plan predicts both.
#[test]
fn updates_fetch_only_changed_packages_and_a_relabel_fetches_none() {
    let f = &*FIXTURE;
    let j = &*JIGDOS;
    let tmp = tempdir();
    let v2_all = f.installed(2);
    let v2_changed: Vec<_> = v2_all.iter().copied().filter(|(d, _)| CHANGED_IN_V2.contains(&d.name)).collect();
    assert_eq!(v2_changed.len(), 2);

    // A fresh store needs everything.
    let fresh = plan(&Rejig::new(), j.rpm(2), p(f.pkgs(2)));
    assert_plan(&fresh, f.commit(2), v2_all.len(), &v2_all, "plan v2 on a fresh store");

    // The client installs v1 into a bare-user repository.
    let client = Rejig::new();
    let repo = tmp.path().join("client");
    let v1 = export(&client, j.rpm(1), &[p(f.pkgs(1))], &repo, "bare-user", f.commit(1));
    assert_eq!(num(&v1, "packages_fetched"), f.installed(1).len() as u64, "{v1}");
    assert_exported(&repo, f.commit(1), tmp.path());

    // v2: exactly the two rebuilt packages, and only the objects v1 lacks are written.
    let planned = plan(&client, j.rpm(2), p(f.pkgs(2)));
    assert_plan(&planned, f.commit(2), v2_all.len(), &v2_changed, "plan v2 on the v1 client");
    let v2 = export(&client, j.rpm(2), &[p(f.pkgs(2))], &repo, "bare-user", f.commit(2));
    assert_eq!(num(&v2, "packages_needed"), 2, "{v2}");
    assert_eq!(num(&v2, "packages_fetched"), 2, "only the two changed packages: {v2}");
    assert_eq!(num(&v2, "bytes_fetched"), v2_changed.iter().map(|(_, rpm)| file_size(rpm)).sum::<u64>(), "{v2}");
    let reach = |version: usize| ostree_reachable(&f.src, f.commit(version));
    let new_in_v2 = reach(2).difference(&reach(1)).count() as u64;
    assert_eq!(num(&v2, "objects_written"), new_in_v2, "the repository had v1's objects: {v2}");
    assert_exported(&repo, f.commit(2), tmp.path());

    // v3: the same content relabelled; nothing to fetch.
    let planned = plan(&client, j.rpm(3), p(f.pkgs(2)));
    assert_plan(&planned, f.commit(3), v2_all.len(), &[], "plan v3 on the v2 client");
    let v3 = export(&client, j.rpm(3), &[p(f.pkgs(2))], &repo, "bare-user", f.commit(3));
    assert_eq!(num(&v3, "packages_needed"), 0, "{v3}");
    assert_eq!(num(&v3, "packages_fetched"), 0, "a relabel needs no package: {v3}");
    assert_eq!(num(&v3, "bytes_fetched"), 0, "{v3}");
    let had: BTreeSet<_> = reach(1).union(&reach(2)).cloned().collect();
    assert_eq!(num(&v3, "objects_written"), reach(3).difference(&had).count() as u64, "{v3}");
    assert!(num(&v3, "objects_written") > 0, "relabelled files are new objects: {v3}");
    assert_exported(&repo, f.commit(3), tmp.path());
    for version in 1..=3 {
        let obj = loose_path(&repo, f.commit(version), "commit");
        assert!(obj.is_file(), "the client repository lost commit v{version}");
    }
    client.fsck_clean();
}

/// `args` as the `&str`s `Rejig` takes.
fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// `build --delta-from` v1 adds delta parts holding v2's package files that v1 lacks: a
/// client that holds v1 fetches them and no package at all, a fresh client ignores them and
/// fetches the packages; both write the same commit. plan predicts the first.
#[test]
fn a_delta_update_fetches_the_changed_files_instead_of_the_changed_packages() {
    use rejig_format::jigdo::PartKind;
    let f = &*FIXTURE;
    let tmp = tempdir();
    let builder = Rejig::new();
    // `build` of version `version` into `out`, with `extra` arguments.
    let args = |version: usize, out: &Path, extra: &[&str]| -> Vec<String> {
        let rev = format!("rj/v{version}");
        let mut args = vec!["build", "--repo", p(&f.src), "--rev", &rev, "--packages", p(f.pkgs(version))];
        args.extend_from_slice(&["--name", JIGDO_NAME, "-o", p(out)]);
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_owned).collect()
    };
    let build = |version: usize, extra: &[&str]| {
        let out = tmp.path().join(format!("delta-v{version}.rpm"));
        (builder.json(&strs(&args(version, &out, extra))), out)
    };
    let (_, jigdo1) = build(1, &[]);
    // The commits are on separate branches: v2 has no parent to take the delta from, which
    // only warns; a commit the store lacks is an error.
    let no_parent = tmp.path().join("no.rpm");
    let mut with_json = vec!["--json".to_owned()];
    with_json.extend(args(2, &no_parent, &["--delta-from", "parent"]));
    let out = builder.run(&strs(&with_json));
    assert!(out.status.success(), "{}", report("build --delta-from parent", &out));
    assert_stderr_mentions(&out, "has no parent", "the missing parent");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(num(&v, "bytes_delta"), 0, "{v}");
    assert!(rejig_importer::jigdo::read_jigdo(&no_parent).unwrap().head.delta_from.is_none());
    let unknown = "ab".repeat(32);
    let out = builder.fails(&strs(&args(2, &no_parent, &["--delta-from", &unknown])));
    assert_stderr_mentions(&out, "does not hold that commit", "the unknown commit");
    let (report, jigdo2) = build(2, &["--delta-from", f.commit(1)]);
    assert!(num(&report, "bytes_delta") > 0, "{report}");
    let head = rejig_importer::jigdo::read_jigdo(&jigdo2).unwrap().head;
    assert_eq!(head.delta_from.map(|c| c.to_hex()).as_deref(), Some(f.commit(1)));
    let deltas: Vec<_> = head.unique_parts().into_iter().filter(|p| p.kind.is_delta()).collect();
    assert!(deltas.iter().any(|p| p.kind == PartKind::DeltaRecords), "{deltas:?}");
    let inspected = Rejig::new().json(&["inspect", p(&jigdo2)]);
    assert_eq!(text(&inspected, "delta_from"), f.commit(1), "{inspected}");

    // A client holding v1: the delta parts, and no package.
    let client = Rejig::new();
    let repo = tmp.path().join("client");
    export(&client, &jigdo1, &[p(f.pkgs(1))], &repo, "bare-user", f.commit(1));
    let planned = plan(&client, &jigdo2, p(f.pkgs(2)));
    assert_plan(&planned, f.commit(2), f.installed(2).len(), &[], "plan of a delta update on the v1 client");
    let v2 = export(&client, &jigdo2, &[p(f.pkgs(2))], &repo, "bare-user", f.commit(2));
    assert_eq!(v2["delta_used"], Value::Bool(true), "{v2}");
    assert_eq!(num(&v2, "delta_parts_fetched"), deltas.len() as u64, "{v2}");
    assert_eq!((num(&v2, "packages_needed"), num(&v2, "packages_fetched")), (0, 0), "{v2}");
    assert_exported(&repo, f.commit(2), tmp.path());
    client.fsck_clean();
    // Exporting v2 again (into another repository) needs nothing: the store holds it whole.
    let again = export(&client, &jigdo2, &[p(f.pkgs(2))], &tmp.path().join("again"), "bare-user", f.commit(2));
    assert_eq!(again["delta_used"], Value::Bool(false), "{again}");
    assert_eq!((num(&again, "parts_fetched"), num(&again, "packages_fetched")), (0, 0), "{again}");

    // A fresh client: no delta part, every package; the same commit.
    let fresh = Rejig::new();
    let fresh_repo = tmp.path().join("fresh");
    let cold = export(&fresh, &jigdo2, &[p(f.pkgs(2))], &fresh_repo, "bare-user", f.commit(2));
    assert_eq!(cold["delta_used"], Value::Bool(false), "{cold}");
    assert_eq!(num(&cold, "delta_parts_fetched"), 0, "{cold}");
    assert_eq!(num(&cold, "parts_total"), head.wanted_parts(false).len() as u64, "{cold}");
    assert_eq!(num(&cold, "packages_fetched"), f.installed(2).len() as u64, "{cold}");
    assert_exported(&fresh_repo, f.commit(2), tmp.path());
}

/// Without a package it needs, export fails, names the package, and moves no ref; a package
/// with the right NEVRA but another build is not accepted either. Given a further source that
/// has the right package, it then works on the same store.
#[test]
fn export_without_a_needed_package_fails_and_moves_no_ref() {
    let f = &*FIXTURE;
    let j = &*JIGDOS;
    let tmp = tempdir();
    let rejig = Rejig::new();
    let repo = tmp.path().join("target");
    let refs = |repo: &Path| -> BTreeSet<String> {
        if !repo.exists() {
            return BTreeSet::new();
        }
        lines(&ostree(&["refs", &format!("--repo={}", p(repo))]))
    };
    let failed_export = |source: &Path| {
        let jigdo = p(j.rpm(1));
        rejig.fails(&["export", jigdo, "--packages", p(source), "--repo", p(&repo), "--mode", "archive", "--ref", REF])
    };

    let missing = package_dir_without(&tmp.path().join("missing"), 1, &["rj-data"]);
    let out = failed_export(&missing);
    assert_stderr_mentions(&out, "rj-data", "the missing package");
    assert!(refs(&repo).is_empty(), "a failed export left a ref in {}", repo.display());

    // The right NEVRA, another build (another build host): the jigdo's binding refuses it.
    let other = tmp.path().join("other-build");
    let (def, _) = f.set(1).iter().find(|(d, _)| d.name == "rj-data").unwrap();
    let rebuilt = build_package_on(def, &tmp.path().join("rebuild"), &other.join("new"), "elsewhere.invalid");
    package_dir_without(&other, 1, &["rj-data"]);
    assert_ne!(
        fs::read(&rebuilt).unwrap(),
        fs::read(&FIXTURE.set(1).iter().find(|(d, _)| d == def).unwrap().1).unwrap()
    );
    let out = failed_export(&other);
    assert_stderr_mentions(&out, "rj-data", "the package whose build does not match");
    assert!(refs(&repo).is_empty(), "a failed export left a ref in {}", repo.display());

    // Sources are tried in order, like mirrors: past the one lacking rj-data and the one with the
    // wrong build of it, to the one that has it.
    let sources = [p(&missing), p(&other), p(f.pkgs(1))];
    let v = export(&rejig, j.rpm(1), &sources, &repo, "archive", f.commit(1));
    assert_exported(&repo, f.commit(1), tmp.path());
    assert_eq!(refs(&repo).len(), 1, "{v}");
    rejig.fsck_clean();
}

mod backed;
