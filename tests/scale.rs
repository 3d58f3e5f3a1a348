//! Scale of files (issue 15, route 6): the store writes one pack per imported package, so a
//! build farm's store is thousands of packs. Every command must work on such a store under a
//! low limit on open files, `gc` must fold the small packs into few big ones without changing
//! a byte of what any root exports, and running out of descriptors must be reported as what
//! it is, never as damage to the store.
//!
//! The stores are made of many tiny real packages (one small file each, built with the `rpm`
//! crate), imported by the real binary, so every pack is a real import. The limit is set the
//! way an operator would set it: `ulimit -n N` in a shell that then runs `rejig`.
#![allow(clippy::unwrap_used)]

use crate::util;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use util::{num, ostree_commit, p, parse_json, report, verify_exported_repo, Rejig};

/// Where the stores go: memory-backed `/dev/shm` where there is one. What is under test is
/// the number of files and descriptors, not the disk; on a disk, the three fsyncs of each of
/// thousands of imports and the removal of tens of thousands of files take minutes.
fn scratch() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// A store of at least `count` packs (one per package) and a commit of all their files, the
/// commit imported too. Everything runs under `limit` open files.
struct Fixture {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    rejig: Rejig,
    commit: String,
}

impl Fixture {
    fn new(count: usize, limit: u64) -> Self {
        let dir = tempfile::Builder::new().prefix("rejig-scale-").tempdir_in(scratch()).unwrap();
        let base = dir.path().to_path_buf();
        let (packages, root, compose) = (base.join("packages"), base.join("root"), base.join("compose"));
        rejig_test_support::rpm_builder::tiny_packages(&packages, &root, count);
        util::ostree_init(&compose, "archive");
        let commit = ostree_commit(&compose, "os", &root, "all the tiny packages");
        let rejig = Rejig::with_store(&base.join("store"));
        let imported = limited_json(&rejig, limit, &["import", p(&packages)]);
        assert_eq!(num(&imported, "packages_imported"), count as u64, "{imported}");
        limited_json(&rejig, limit, &["import", "--repo", p(&compose), "--rev", "os"]);
        let fixture = Self { _dir: dir, dir: base, rejig, commit };
        assert!(fixture.pack_files() >= count, "one pack per package: {} packs", fixture.pack_files());
        fixture
    }

    fn pack_files(&self) -> usize {
        fs::read_dir(self.rejig.store().join("packs"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "pack"))
            .count()
    }

    /// Exports the commit into a new repository `name` under `limit`; returns it unchecked.
    fn export_only(&self, name: &str, limit: u64) -> PathBuf {
        let repo = self.dir.join(name);
        let v = limited_json(&self.rejig, limit, &["export", &self.commit, "--repo", p(&repo), "--ref", "os"]);
        util::check_export_json(&v);
        assert_eq!(util::ostree_rev_parse(&repo, "os"), self.commit);
        repo
    }

    /// [`Fixture::export_only`], then the whole oracle (ostree fsck, pull-local).
    fn export(&self, name: &str, limit: u64) -> PathBuf {
        let repo = self.export_only(name, limit);
        verify_exported_repo(&repo, &self.commit);
        repo
    }
}

/// `rejig --store STORE ARGS…` run by `sh -c 'ulimit -n LIMIT && exec rejig …'`.
fn limited(rejig: &Rejig, limit: u64, args: &[&str]) -> (String, Output) {
    in_shell(rejig, &format!("ulimit -n {limit}"), args)
}

/// `rejig --store STORE ARGS…` run by `sh -c 'SETUP && exec rejig …'`.
fn in_shell(rejig: &Rejig, setup: &str, args: &[&str]) -> (String, Output) {
    let inner = rejig.command(args);
    let mut sh = Command::new("sh");
    sh.arg("-c").arg(format!("{setup} && exec \"$0\" \"$@\"")).arg(inner.get_program());
    sh.args(inner.get_args());
    for (key, value) in inner.get_envs() {
        match value {
            Some(value) => sh.env(key, value),
            None => sh.env_remove(key),
        };
    }
    let what = format!("{setup}; rejig --store {} {}", p(rejig.store()), args.join(" "));
    (what, util::run(&mut sh))
}

/// [`limited`] with `--json`, requiring success.
fn limited_json(rejig: &Rejig, limit: u64, args: &[&str]) -> Value {
    let mut full = vec!["--json"];
    full.extend_from_slice(args);
    let (what, out) = limited(rejig, limit, &full);
    assert!(out.status.success(), "expected success:\n{}", report(&what, &out));
    parse_json(&what, &out)
}

/// Every file under `repo/objects`, by relative path, with its bytes.
fn objects(repo: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<_> = util::files_under(&repo.join("objects"))
        .into_iter()
        .map(|f| (f.strip_prefix(repo).unwrap().to_path_buf(), fs::read(&f).unwrap()))
        .collect();
    out.sort();
    out
}

fn fsck_clean_under(rejig: &Rejig, limit: u64) -> Value {
    let v = limited_json(rejig, limit, &["fsck"]);
    assert!(v["problems"].as_array().unwrap().is_empty(), "fsck under ulimit -n {limit} lists problems: {v}");
    v
}

#[test]
fn five_thousand_packs_import_export_fsck_and_gc_under_ulimit_64() {
    const LIMIT: u64 = 64;
    let started = std::time::Instant::now();
    let fixture = Fixture::new(5_000, LIMIT);
    eprintln!("fixture: {} packs in {:.1}s", fixture.pack_files(), started.elapsed().as_secs_f64());
    // Every object checked by ostree; the export after folding is then compared to this one
    // byte for byte (the whole pull-local oracle on 5,000 files costs half a minute).
    let before = fixture.export_only("before", LIMIT);
    util::ostree_fsck(&before, 1);
    eprintln!("exported: {:.1}s", started.elapsed().as_secs_f64());
    let checked = fsck_clean_under(&fixture.rejig, LIMIT);
    eprintln!("fsck: {:.1}s", started.elapsed().as_secs_f64());
    assert!(num(&checked, "packs") >= 5_000, "{checked}");

    let collected = limited_json(&fixture.rejig, LIMIT, &["gc"]);
    eprintln!("gc: {:.1}s", started.elapsed().as_secs_f64());
    eprintln!("gc report: {collected}");
    let folded = num(&collected, "packs_folded");
    assert!(folded >= 5_000, "gc folds the small packs: {collected}");
    // 5,000 tiny packs are a few MiB: one pack of the 32 MiB target holds them all.
    assert_eq!(fixture.pack_files(), 1, "packs left after folding: {collected}");
    assert_eq!(num(&collected, "packs_written") as usize, fixture.pack_files(), "{collected}");
    assert_eq!(collected["roots_kept"].as_array().unwrap().len(), 1, "{collected}");

    fsck_clean_under(&fixture.rejig, LIMIT);
    let after = fixture.export_only("after", LIMIT);
    assert!(objects(&before) == objects(&after), "the commit exported after folding differs from before");
    eprintln!("whole test: {:.1}s", started.elapsed().as_secs_f64());
}

/// The route the issue reproduced: 190 packs, `ulimit -n 150`; export failed and fsck listed
/// thousands of EMFILE "problems".
#[test]
fn a_store_of_190_packs_exports_and_fscks_under_ulimit_150() {
    let fixture = Fixture::new(190, 150);
    fixture.export("repo", 150);
    let v = fsck_clean_under(&fixture.rejig, 150);
    assert!(num(&v, "packs") >= 190, "{v}");
    // The terminal report says what was folded (the JSON one is checked above).
    let (what, out) = limited(&fixture.rejig, 150, &["gc"]);
    assert!(out.status.success(), "{}", report(&what, &out));
    let text = String::from_utf8_lossy(&out.stdout);
    let packs = fixture.pack_files();
    assert!(text.contains(&format!("folded 191 small packs; {packs} packs written")), "{text}");
    fixture.export("again", 150);
}

/// Under a limit too low to read the store, fsck stops with an error that says to raise the
/// limit; it lists no problems. Under a limit lower than the packs but workable, fsck is
/// clean (the old code listed every EMFILE as a damaged object). With a sane limit the
/// store is clean: nothing was damaged.
#[test]
fn running_out_of_descriptors_is_reported_as_such_not_as_damage() {
    let fixture = Fixture::new(40, 1024);
    let (what, out) = limited(&fixture.rejig, 5, &["--json", "fsck"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "fsck cannot have read the packs:\n{}", report(&what, &out));
    assert!(stderr.contains("too many open files: raise `ulimit -n`"), "{}", report(&what, &out));
    assert!(stderr.contains("the store is not damaged"), "{}", report(&what, &out));
    if let Ok(v) = serde_json::from_slice::<Value>(&out.stdout) {
        assert!(v["problems"].as_array().is_none_or(|a| a.is_empty()), "EMFILE counted as damage:\n{v}");
    }
    fsck_clean_under(&fixture.rejig, 16);
    // The exporter's own files (the repository's) name the file only; the hint still comes.
    let repo = fixture.dir.join("repo");
    let (what, out) = limited(&fixture.rejig, 6, &["export", &fixture.commit, "--repo", p(&repo)]);
    assert!(!out.status.success(), "{}", report(&what, &out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("too many open files: raise `ulimit -n`"), "{}", report(&what, &out));
    fsck_clean_under(&fixture.rejig, 1024);
}

/// Under a soft limit below the hard one, rejig raises it, and says so with `-v`. The hard
/// limit here is the test process's own.
#[test]
fn the_soft_limit_is_raised_to_the_hard_one_and_said_under_verbose() {
    let fixture = Fixture::new(3, 1024);
    let (what, out) = in_shell(&fixture.rejig, "ulimit -S -n 100", &["-v", "fsck"]);
    assert!(out.status.success(), "{}", report(&what, &out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let hard = rustix::process::getrlimit(rustix::process::Resource::Nofile).maximum.unwrap_or(u64::MAX);
    assert!(hard > 100, "this test needs a hard limit on open files above 100, not {hard}");
    let raised = format!("raised the soft limit on open files from 100 to {}", hard.min(65_536));
    assert!(stderr.contains(&raised), "{stderr}");
}
