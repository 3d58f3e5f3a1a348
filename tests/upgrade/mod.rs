//! `rejig remote` and `rejig upgrade` end to end, as a build farm and an edge host would run
//! them: two composes of real packages committed by `ostree commit` (v2 a month after v1),
//! signed by `ostree gpg-sign` and with ed25519 by openssl; jigdos built by `rejig build` and
//! signed by `rpmsign` with a key generated here; `createrepo_c` over the packages and the
//! jigdos; the repository served over loopback HTTP. The edge host adds the remote with the
//! keys, checks (exit 0, then 77), upgrades v1 → v2, deploys into a sysroot made by `ostree
//! admin init-fs` and `os-init`, and `ostree admin status` shows the deployment.
#![allow(clippy::unwrap_used)]

use crate::trust::{ed25519_sign_commit, EdKey, Gpg};
use crate::util;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rejig_test_support::rpm_builder::{createrepo, gz, primary_path, write_repo};
use rejig_test_support::server::Server;
use serde_json::Value;
use util::rpmbuild::run_ok;
use util::*;

/// The jigdo's name.
pub const NAME: &str = "edge-os";
/// The packages of v1 (keys of `rejig_test_support::corpus`); v2 adds [`V2_EXTRA`].
const V1_PACKAGES: [&str; 2] = ["rpm/RPMS/hello-2.0-1.i686.rpm", "rpm/RPMS/hlinktest-1.0-1.noarch.rpm"];
const V2_EXTRA: &str = "generated/rejig-manyfiles-1.0-1.noarch.rpm";

/// The build farm's side: composes, commits, signed jigdos, keys, and a published rpm-md
/// repository (`mirror`, served by `server`) that holds the packages and the jigdos given to
/// [`Site::publish`].
pub struct Site {
    pub dir: tempfile::TempDir,
    /// v1's and v2's commits.
    pub commits: [String; 2],
    /// The signed jigdos of v1 and v2.
    pub jigdos: [PathBuf; 2],
    /// Every package v2 uses (a superset of v1's).
    pub packages: PathBuf,
    pub gpg: Gpg,
    /// The OpenPGP public key, ASCII-armored.
    pub gpg_key: PathBuf,
    pub ed: EdKey,
    pub mirror: PathBuf,
    pub server: Server,
}

fn compose(root: &Path, packages: &[PathBuf], version: u32) {
    fs::create_dir_all(root).unwrap();
    for package in packages {
        let out = run(Command::new("sh")
            .current_dir(root)
            .arg("-c")
            .arg(format!("rpm2cpio {} | cpio -idm --quiet --no-absolute-filenames", p(package))));
        assert!(out.status.success(), "{}", report("rpm2cpio | cpio", &out));
    }
    if root.join("etc").exists() {
        fs::create_dir_all(root.join("usr")).unwrap();
        fs::rename(root.join("etc"), root.join("usr/etc")).unwrap();
    }
    // What `ostree admin deploy` needs: a kernel and an os-release.
    fs::create_dir_all(root.join("usr/etc")).unwrap();
    fs::write(root.join("usr/etc/os-release"), format!("NAME=edge\nID=edge\nVERSION_ID={version}\n")).unwrap();
    fs::create_dir_all(root.join("usr/lib/modules/6.1.0")).unwrap();
    fs::write(root.join("usr/lib/modules/6.1.0/vmlinuz"), format!("not a kernel, v{version}\n")).unwrap();
}

fn commit(repo: &Path, root: &Path, version: u32, timestamp: &str) -> String {
    let out = run_ok(Command::new("ostree").args([
        "commit",
        &format!("--repo={}", p(repo)),
        &format!("--branch=edge/v{version}"),
        &format!("--tree=dir={}", p(root)),
        &format!("--subject=edge v{version}"),
        &format!("--timestamp={timestamp}"),
        &format!("--add-metadata-string=version={version}.0"),
        "--no-bindings",
    ]));
    out.trim().to_owned()
}

impl Site {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new().prefix("rejig-site-").tempdir().unwrap();
        let d = dir.path();
        let packages = d.join("packages");
        fs::create_dir_all(&packages).unwrap();
        let mut sets: [Vec<PathBuf>; 2] = Default::default();
        for (index, key) in V1_PACKAGES.iter().chain([&V2_EXTRA]).enumerate() {
            let from = rejig_test_support::corpus::package(key);
            let nevra = rpmbuild::rpm_query(&from, &["--qf", "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}"]);
            let to = packages.join(format!("{nevra}.rpm"));
            fs::copy(&from, &to).unwrap();
            if index < V1_PACKAGES.len() {
                sets[0].push(to.clone());
            }
            sets[1].push(to);
        }
        let compose_repo = d.join("compose");
        ostree_init(&compose_repo, "archive");
        let gpg = Gpg::new("ed25519", "edge build farm <farm@rejig.invalid>");
        let gpg_key = gpg.public_key(d, "farm");
        let ed = EdKey::new(d, "farm");
        let mut commits = Vec::new();
        let mut jigdos = Vec::new();
        for (version, timestamp) in [(1u32, "2024-01-01T00:00:00Z"), (2, "2024-02-01T00:00:00Z")] {
            let root = d.join(format!("root-v{version}"));
            compose(&root, &sets[version as usize - 1], version);
            let checksum = commit(&compose_repo, &root, version, timestamp);
            gpg.ostree_sign(&compose_repo, &checksum);
            ed25519_sign_commit(&compose_repo, &checksum, &ed, d);
            // Each version's jigdo with its parts in a folder of its own: publishing a version
            // publishes both.
            let jigdo = d.join(format!("v{version}")).join(format!("{NAME}-v{version}.rpm"));
            fs::create_dir_all(jigdo.parent().unwrap()).unwrap();
            let build = Rejig::new().build(&compose_repo, &checksum, &packages, NAME, &jigdo);
            assert_eq!(text(&build, "commit"), checksum, "{build}");
            gpg.rpmsign(&jigdo, false);
            commits.push(checksum);
            jigdos.push(jigdo);
        }
        let mirror = d.join("mirror");
        fs::create_dir_all(&mirror).unwrap();
        let server = Server::start(&mirror);
        Site {
            commits: commits.try_into().unwrap(),
            jigdos: jigdos.try_into().unwrap(),
            packages,
            gpg,
            gpg_key,
            ed,
            mirror,
            server,
            dir,
        }
    }

    /// Publishes the packages and `jigdos` (paths) with their parts with `createrepo_c`, replacing what the
    /// mirror held.
    pub fn publish(&self, jigdos: &[&Path]) {
        if self.mirror.exists() {
            fs::remove_dir_all(&self.mirror).unwrap();
        }
        fs::create_dir_all(self.mirror.join("Packages")).unwrap();
        for entry in fs::read_dir(&self.packages).unwrap() {
            let entry = entry.unwrap();
            fs::copy(entry.path(), self.mirror.join("Packages").join(entry.file_name())).unwrap();
        }
        for jigdo in jigdos {
            for entry in fs::read_dir(jigdo.parent().unwrap()).unwrap() {
                let entry = entry.unwrap();
                fs::copy(entry.path(), self.mirror.join(entry.file_name())).unwrap();
            }
        }
        createrepo(&self.mirror, "gz");
    }

    /// Rewrites the published primary metadata with `edit` (a lying mirror).
    pub fn edit_primary(&self, edit: impl FnOnce(&str) -> String) {
        let path = primary_path(&self.mirror);
        let xml = run_ok(Command::new("gzip").arg("-dc").arg(&path));
        let edited = edit(&xml);
        assert_ne!(edited, xml, "the edit changed nothing");
        fs::remove_dir_all(self.mirror.join("repodata")).unwrap();
        write_repo(&self.mirror, &edited, gz, "");
    }

    pub fn url(&self) -> String {
        self.server.url()
    }
}

/// An edge host: its own store, configuration directory and repository.
pub struct Edge {
    pub rejig: Rejig,
    pub config: tempfile::TempDir,
}

impl Edge {
    pub fn new() -> Self {
        Self { rejig: Rejig::new(), config: tempfile::Builder::new().prefix("rejig-config-").tempdir().unwrap() }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.rejig.command(args);
        cmd.env("REJIG_CONFIG_DIR", self.config.path());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        run(&mut self.command(args))
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let out = self.run(&full);
        assert!(out.status.success(), "{}", report(&format!("rejig {}", full.join(" ")), &out));
        parse_json("rejig", &out)
    }

    /// `remote add NAME --baseurl URL --jigdo NAME` with `extra`.
    pub fn add_remote(&self, name: &str, url: &str, extra: &[&str]) -> Value {
        let mut args = vec!["remote", "add", name, "--baseurl", url, "--jigdo", NAME];
        args.extend_from_slice(extra);
        self.json(&args)
    }
}

fn upgrade_args<'a>(remote: &'a str, repo: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["upgrade", "--remote", remote, "--repo", p(repo), "--ref", "edge/os"];
    args.extend_from_slice(extra);
    args
}

/// The story: remotes, check, upgrade, check again, v2, deploy, downgrade refused.
#[test]
fn upgrade_from_a_signed_mirror_end_to_end() {
    let site = Site::new();
    site.publish(&[&site.jigdos[0]]);
    let edge = Edge::new();
    let url = site.url();

    // Remotes: one verified by both kinds of key, one listed, deleted, re-added.
    let added = edge.add_remote("farm", &url, &["--gpgkey", p(&site.gpg_key), "--ed25519-key", p(&site.ed.public)]);
    assert_eq!(added["gpgcheck"], true, "{added}");
    let refused = edge.run(&["remote", "add", "open", "--baseurl", &url, "--jigdo", NAME]);
    assert!(!refused.status.success(), "a remote without keys needs --no-verify");
    assert_stderr_mentions(&refused, "--no-verify", "what to do instead");
    edge.add_remote("open", &url, &["--no-verify"]);
    let listed = edge.json(&["remote", "list"]);
    let names: Vec<&str> = listed["remotes"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["farm", "open"], "{listed}");
    let file = fs::read_to_string(edge.config.path().join("remotes.d/farm.conf")).unwrap();
    assert!(file.contains("gpgcheck=1") && file.contains(&format!("gpgkey=file://{}", p(&site.gpg_key))), "{file}");
    edge.json(&["remote", "delete", "open"]);
    assert!(!edge.config.path().join("remotes.d/open.conf").exists());

    // The edge host's sysroot, as an installer leaves it.
    let sysroot = site.dir.path().join("sysroot");
    fs::create_dir_all(&sysroot).unwrap();
    run_ok(Command::new("ostree").args(["admin", "init-fs", p(&sysroot)]));
    run_ok(Command::new("ostree").args(["admin", "os-init", &format!("--sysroot={}", p(&sysroot)), "edge"]));
    let repo = sysroot.join("ostree/repo");
    let deploy = ["--mode", "bare", "--deploy", "--sysroot", p(&sysroot), "--os", "edge"];

    // v1: check says what would come, and fetches no package.
    let check = edge.run(&upgrade_args("farm", &repo, &["--json", "--check"]));
    let check_json = parse_json("upgrade --check", &check);
    assert_eq!(check.status.code(), Some(0), "an update is available: {}", report("upgrade --check", &check));
    assert_eq!(check_json["status"], "available");
    assert_eq!(check_json["commit"], site.commits[0]);
    assert_eq!(check_json["plan"]["packages_needed"], 2, "{check_json}");
    assert!(check_json["plan"]["bytes_to_fetch"].as_u64().unwrap() > 0, "{check_json}");
    assert!(site.server.seen_for(".i686.rpm").is_empty(), "--check fetched a package");
    assert!(!repo.join("refs/heads/edge/os").exists(), "--check moved the ref");

    let v1 = edge.json(&upgrade_args("farm", &repo, &deploy));
    assert_eq!(v1["status"], "upgraded", "{v1}");
    assert_eq!(v1["commit"], site.commits[0]);
    assert_eq!(v1["signature"]["signer"]["fingerprint"], site.gpg.fingerprint(), "{v1}");
    assert_eq!(v1["commit_signatures"]["gpg"]["fingerprint"], site.gpg.fingerprint(), "{v1}");
    assert_eq!(v1["commit_signatures"]["ed25519_key_file"], p(&site.ed.public), "{v1}");
    assert_eq!(v1["deployed"], true);
    assert_eq!(ostree_rev_parse(&repo, "edge/os"), site.commits[0]);
    let status = run_ok(Command::new("ostree").args(["admin", "status", &format!("--sysroot={}", p(&sysroot))]));
    assert!(status.contains(&format!("edge {}.0", site.commits[0])), "ostree admin status: {status}");
    // The commit stays signed for ostree clients: its detached signature came along.
    let keys = site.dir.path().join("ostree-keys");
    fs::create_dir_all(&keys).unwrap();
    let exported = run(site.gpg.cmd().args(["--export", &site.gpg.uid]));
    fs::write(keys.join("trustedkeys.gpg"), &exported.stdout).unwrap();
    let shown = run_ok(Command::new("ostree").args([
        "show",
        &format!("--repo={}", p(&repo)),
        &format!("--gpg-homedir={}", p(&keys)),
        "edge/os",
    ]));
    assert!(shown.contains("Good signature"), "ostree show on the edge host's repository: {shown}");

    // Nothing new: --check exits 77, upgrade says so and exits 0.
    let again = edge.run(&upgrade_args("farm", &repo, &["--check"]));
    assert_eq!(again.status.code(), Some(77), "{}", report("upgrade --check (no update)", &again));
    let same = edge.json(&upgrade_args("farm", &repo, &[]));
    assert_eq!(same["status"], "up-to-date", "{same}");

    // v2 published: the newest jigdo is taken, one package fetched, deployed.
    site.publish(&[&site.jigdos[0], &site.jigdos[1]]);
    let check = edge.run(&upgrade_args("farm", &repo, &["--check"]));
    assert_eq!(check.status.code(), Some(0), "{}", report("upgrade --check (v2)", &check));
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(stdout.contains(&site.commits[1]) && stdout.contains("and 1 of 3 packages"), "{stdout}");
    let v2 = edge.json(&upgrade_args("farm", &repo, &deploy));
    assert_eq!((v2["status"].as_str(), v2["commit"].as_str()), (Some("upgraded"), Some(site.commits[1].as_str())));
    assert_eq!(v2["previous_commit"], site.commits[0]);
    assert_eq!(v2["export"]["packages_fetched"], 1, "{v2}");
    let status = run_ok(Command::new("ostree").args(["admin", "status", &format!("--sysroot={}", p(&sysroot))]));
    assert!(status.contains(&format!("edge {}.0", site.commits[1])), "ostree admin status: {status}");
    let after = edge.run(&upgrade_args("farm", &repo, &["--check"]));
    assert_eq!(after.status.code(), Some(77), "{}", report("upgrade --check after v2", &after));

    // A mirror that serves the old signed jigdo only: refused, unless asked for.
    site.publish(&[&site.jigdos[0]]);
    let out = edge.run(&upgrade_args("farm", &repo, &[]));
    assert!(!out.status.success(), "{}", report("downgrade", &out));
    assert_stderr_mentions(&out, "downgrade", "the refusal says why");
    assert_stderr_mentions(&out, "--allow-downgrade", "and what to do");
    assert_eq!(ostree_rev_parse(&repo, "edge/os"), site.commits[1], "a refused downgrade moves no ref");
    let down = edge.json(&upgrade_args("farm", &repo, &["--allow-downgrade"]));
    assert_eq!(down["commit"], site.commits[0], "{down}");
    assert_eq!(ostree_rev_parse(&repo, "edge/os"), site.commits[0]);
}
