//! A seeded, reproducible SIGKILL matrix over the commands that write: `import` of packages,
//! `build`, `export COMMIT` and `export JIGDO.rpm` (archive and bare-user, into a fresh
//! repository and into one whose ref points at an older commit, from an empty store and from
//! one that holds the older version), on a workload of 16 packages (the rpmbuild fixture plus
//! six bulk packages: about 12 MB of content, 7 MB of packages) composed and committed by the
//! real `rpm` and `ostree`.
//!
//! Every configuration is first run uninterrupted twice: timed, for its from-scratch figures,
//! and under strace, to count its syscalls. Then each trial starts the command and kills it
//! with SIGKILL, either after a seeded delay (a seeded fraction of the timed run), or on entry
//! to the Nth call, in one thread, of a seeded syscall (strace `-e inject=…:signal=KILL`, with
//! `RAYON_NUM_THREADS=1` so that the count is deterministic). Besides the random trials, every
//! configuration is killed on entry to the last call of each durability syscall it makes (the
//! last pack's rename, the index commit, each `syncfs`, the partial marker's removal, the ref's
//! rename, the directory fsync after it), where a random kill seldom lands. After each kill:
//!
//! 1. `rejig fsck` is clean;
//! 2. `ostree fsck` on the target repository is clean (when the kill left one);
//! 3. the ref is where it was, or at the new commit, which is then complete (no partial
//!    marker, verified by `ostree fsck` and `ostree pull-local --untrusted`); a build's output
//!    is absent or the complete jigdo;
//! 4. the same command re-run to completion succeeds, with figures (packages imported,
//!    objects written, packages fetched, blobs added) no larger than a run from scratch, and
//!    the result is the from-scratch result: the same commit, the same jigdo bytes, a repository
//!    that passes `ostree fsck` (and, every fourth trial, `ostree pull-local --untrusted`).
//!
//! Nothing here asserts timing: where a kill lands only varies what is checked. A summary of
//! the trials (per command: kills mid-run, runs that completed before the kill, re-runs that
//! reused durable work) is printed at the end (`--nocapture`). A failing trial prints the seed
//! and its parameters; `CRASH_MATRIX_ONLY=3,17` re-runs just those trials.
#![allow(clippy::unwrap_used)]

mod durability_order;
mod kill;

use crate::util;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;
use util::rpmbuild::{build_fixture_set, compose, ostree_commit_tree, run_ok};
use util::*;

/// The seed of every choice the matrix makes (which kill, where).
const SEED: u64 = 0x5eed_0c4a_5b17_2024;
/// Trials run side by side. Two cores suffice: much of a trial is spent in `syncfs` and
/// fsync, so a third worker shortens the wall time.
const WORKERS: usize = 3;
/// The ref every export moves.
const REF: &str = "rj/os";
/// The jigdo's name.
const JIGDO_NAME: &str = "rj-os";
/// Bulk packages added to the rpmbuild fixture so that the commands run long enough.
const BULK_PACKAGES: usize = 6;
/// Syscalls a kill may land on (strace injection), when the calibrated run makes them.
const KILL_SYSCALLS: &[&str] =
    &["openat", "pwrite64", "write", "fsync", "fdatasync", "syncfs", "rename", "renameat2", "linkat", "unlink"];
/// The syscalls that order durability: a kill on entry to the last call of each is planned
/// for every configuration.
const DURABILITY_SYSCALLS: &[&str] = &["fsync", "fdatasync", "syncfs", "rename", "renameat2", "linkat", "unlink"];
/// Percentage of the random trials killed on a syscall rather than after a delay.
const SYSCALL_KILL_PERCENT: u64 = 30;
/// No single command takes this long; it only turns a hang into a failure.
const HANG: Duration = Duration::from_secs(300);

fn tempdir(prefix: &str) -> TempDir {
    tempfile::Builder::new().prefix(prefix).tempdir().expect("temp dir")
}

// ----------------------------------------------------------------------------------------
// The workload: packages, commits, jigdos, and the starting states trials copy

struct Workload {
    _dir: TempDir,
    /// Package directories of v1 and v2 (v2: two fixture packages rebuilt).
    pkgs: [PathBuf; 2],
    /// Packages in each directory.
    package_count: [u64; 2],
    /// Archive repository holding `rj/v1` and `rj/v2`, committed by `ostree commit`.
    src: PathBuf,
    commits: [String; 2],
    /// The jigdos of v1 and v2, built once.
    jigdos: [PathBuf; 2],
    /// A store holding both commits (imported from `src`): the start of `export COMMIT`.
    store_commits: Rejig,
    /// A client store that rebuilt v1 from its jigdo: the start of an update to v2.
    store_client_v1: Rejig,
    /// Repositories per mode holding v1 (pulled by ostree) with `REF` at v1.
    repos_v1: BTreeMap<&'static str, PathBuf>,
}

/// A package built with the rpm crate: `files` are (path, bytes) under /usr/share.
fn write_bulk_package(path: &Path, name: &str, files: &[(String, Vec<u8>)]) {
    let mut builder = rpm::PackageBuilder::new(name, "1.0", "MIT", "noarch", "rejig crash matrix bulk package");
    builder.using_config(rpm::BuildConfig::v4().compression(rpm::CompressionType::Zstd).source_date(1u32));
    for (file, bytes) in files {
        builder.with_file_contents(bytes.clone(), rpm::FileOptions::new(file.as_str()).permissions(0o644)).unwrap();
    }
    builder.build().unwrap().write_file(path).unwrap();
}

/// Six packages of 24 files each, 16 to 128 KiB, half incompressible, plus one file every
/// package shares (under another path): about 10 MiB of content.
fn bulk_packages(dir: &Path) -> Vec<PathBuf> {
    let shared = Rng::new(SEED ^ 0x5a).bytes(64 * 1024);
    (0..BULK_PACKAGES)
        .map(|i| {
            let mut rng = Rng::new(SEED ^ ((i as u64 + 1) * 0x9e37_79b9));
            let name = format!("rj-bulk{i}");
            let mut files = Vec::new();
            for f in 0..24 {
                let len = rng.range(16 * 1024, 128 * 1024) as usize;
                let bytes = if f % 2 == 0 { rng.bytes(len) } else { rng.text(len) };
                files.push((format!("/usr/share/{name}/part-{f:02}.dat"), bytes));
            }
            files.push((format!("/usr/share/{name}/shared.bin"), shared.clone()));
            let path = dir.join(format!("{name}-1.0-1.noarch.rpm"));
            write_bulk_package(&path, &name, &files);
            path
        })
        .collect()
}

fn workload() -> Workload {
    let dir = tempdir("rejig-crash-matrix-");
    let work = dir.path().join("rpmbuild");
    let pkgs = [dir.path().join("pkgs-v1"), dir.path().join("pkgs-v2")];
    let v1 = build_fixture_set(1, &work, &pkgs[0], None);
    let v2 = build_fixture_set(2, &work, &pkgs[1], Some(&pkgs[0]));
    let bulk = bulk_packages(&pkgs[0]);
    for rpm in &bulk {
        fs::copy(rpm, pkgs[1].join(rpm.file_name().unwrap())).unwrap();
    }
    let src = dir.path().join("src");
    ostree_init(&src, "archive");
    let mut commits = Vec::new();
    for (version, set) in [(1, &v1), (2, &v2)] {
        let mut rpms: Vec<PathBuf> = set.iter().filter(|(def, _)| def.installed).map(|(_, rpm)| rpm.clone()).collect();
        rpms.extend(bulk.iter().map(|b| pkgs[version - 1].join(b.file_name().unwrap())));
        let root = dir.path().join(format!("root-v{version}"));
        compose(&root, &rpms, version as u32);
        commits.push(ostree_commit_tree(&src, &format!("rj/v{version}"), &root, "rj OS", &format!("{version}.0")));
        // The roots hold root-owned 0000 files; they are not needed any more.
        fs::remove_dir_all(&root).unwrap();
    }
    let package_count = pkgs.clone().map(|d| fs::read_dir(d).unwrap().count() as u64);
    assert_eq!(package_count, [10 + BULK_PACKAGES as u64; 2], "the workload's package directories");

    let builder = Rejig::new();
    let jigdos = [1, 2].map(|v| {
        let out = dir.path().join(format!("jigdo-v{v}.rpm"));
        builder.build(&src, &format!("rj/v{v}"), &pkgs[v - 1], JIGDO_NAME, &out);
        out
    });

    let store_commits = Rejig::new();
    for v in 1..=2 {
        store_commits.import(&src, &format!("rj/v{v}"));
    }
    let store_client_v1 = Rejig::new();
    let scratch = dir.path().join("client-v1-repo");
    store_client_v1.json(&["export", p(&jigdos[0]), "--packages", p(&pkgs[0]), "--repo", p(&scratch)]);
    fs::remove_dir_all(&scratch).unwrap();

    let mut repos_v1 = BTreeMap::new();
    for mode in ["archive", "bare-user"] {
        let repo = dir.path().join(format!("repo-v1-{mode}"));
        ostree_init(&repo, mode);
        ostree(&["pull-local", &format!("--repo={}", p(&repo)), p(&src), "rj/v1"]);
        ostree(&["refs", &format!("--repo={}", p(&repo)), &format!("--create={REF}"), &commits[0]]);
        ostree(&["refs", &format!("--repo={}", p(&repo)), "--delete", "rj/v1"]);
        repos_v1.insert(mode, repo);
    }
    Workload {
        _dir: dir,
        pkgs,
        package_count,
        src,
        commits: commits.try_into().unwrap(),
        jigdos,
        store_commits,
        store_client_v1,
        repos_v1,
    }
}

// ----------------------------------------------------------------------------------------
// Configurations: a command and the state it starts from

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Import,
    Build,
    ExportCommit,
    ExportJigdo,
}

impl Kind {
    const ALL: [Kind; 4] = [Kind::Import, Kind::Build, Kind::ExportCommit, Kind::ExportJigdo];
    fn name(self) -> &'static str {
        match self {
            Kind::Import => "import PKGS",
            Kind::Build => "build",
            Kind::ExportCommit => "export COMMIT",
            Kind::ExportJigdo => "export JIGDO.rpm",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StoreStart {
    /// No store yet.
    Empty,
    /// Both commits imported from the source repository.
    Commits,
    /// v1 rebuilt from its jigdo (an update to v2 fetches two packages).
    ClientV1,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RepoStart {
    /// The command writes no repository.
    NoRepo,
    /// The repository does not exist yet.
    Fresh,
    /// The repository holds v1 and the ref points at it.
    HoldsV1,
}

#[derive(Clone, Debug)]
struct Config {
    kind: Kind,
    mode: &'static str,
    store: StoreStart,
    repo: RepoStart,
    /// Random trials (the boundary trials come on top, one per durability syscall it makes).
    trials: usize,
}

impl Config {
    fn describe(&self) -> String {
        match self.kind {
            Kind::Import | Kind::Build => format!("{} (store {:?})", self.kind.name(), self.store),
            _ => format!("{} {} (store {:?}, repo {:?})", self.kind.name(), self.mode, self.store, self.repo),
        }
    }
}

fn configs() -> Vec<Config> {
    let c = |kind, mode, store, repo, trials| Config { kind, mode, store, repo, trials };
    let mut out = vec![
        c(Kind::Import, "", StoreStart::Empty, RepoStart::NoRepo, 42),
        c(Kind::Build, "", StoreStart::Empty, RepoStart::NoRepo, 32),
    ];
    for mode in ["archive", "bare-user"] {
        for repo in [RepoStart::Fresh, RepoStart::HoldsV1] {
            out.push(c(Kind::ExportCommit, mode, StoreStart::Commits, repo, 12));
        }
        for (store, repo) in [
            (StoreStart::Empty, RepoStart::Fresh),
            (StoreStart::Empty, RepoStart::HoldsV1),
            (StoreStart::ClientV1, RepoStart::HoldsV1),
        ] {
            out.push(c(Kind::ExportJigdo, mode, store, repo, 8));
        }
    }
    out
}

/// One prepared starting state: a store, and the repository or output the command writes.
struct Setup {
    dir: TempDir,
    rejig: Rejig,
    repo: Option<PathBuf>,
    output: Option<PathBuf>,
}

/// `cp -a` (keeps owners, modes and the `user.ostreemeta` xattrs of bare-user objects).
fn copy_tree(from: &Path, to: &Path) {
    run_ok(Command::new("cp").arg("-a").arg(from).arg(to));
}

fn prepare(w: &Workload, c: &Config) -> Setup {
    let dir = tempdir("rejig-crash-trial-");
    let rejig = Rejig::new();
    match c.store {
        StoreStart::Empty => {}
        StoreStart::Commits => copy_tree(w.store_commits.store(), rejig.store()),
        StoreStart::ClientV1 => copy_tree(w.store_client_v1.store(), rejig.store()),
    }
    let repo = match c.repo {
        RepoStart::NoRepo => None,
        RepoStart::Fresh => Some(dir.path().join("repo")),
        RepoStart::HoldsV1 => {
            let repo = dir.path().join("repo");
            copy_tree(&w.repos_v1[c.mode], &repo);
            Some(repo)
        }
    };
    let output = (c.kind == Kind::Build).then(|| {
        fs::create_dir(dir.path().join("out")).unwrap();
        dir.path().join("out").join("rj-os.rpm")
    });
    Setup { dir, rejig, repo, output }
}

/// The command line after the global options.
fn command_args(w: &Workload, c: &Config, s: &Setup) -> Vec<String> {
    let owned = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    match c.kind {
        Kind::Import => owned(&["import", p(&w.pkgs[0])]),
        Kind::Build => owned(&[
            "build",
            "--repo",
            p(&w.src),
            "--rev",
            "rj/v1",
            "--packages",
            p(&w.pkgs[0]),
            "--name",
            JIGDO_NAME,
            "-o",
            p(s.output.as_ref().unwrap()),
        ]),
        Kind::ExportCommit => {
            let repo = s.repo.as_ref().unwrap();
            owned(&["export", &w.commits[1], "--repo", p(repo), "--mode", c.mode, "--ref", REF])
        }
        Kind::ExportJigdo => {
            let repo = s.repo.as_ref().unwrap();
            owned(&[
                "export",
                p(&w.jigdos[1]),
                "--packages",
                p(&w.pkgs[1]),
                "--repo",
                p(repo),
                "--mode",
                c.mode,
                "--ref",
                REF,
            ])
        }
    }
}

/// `rejig --store S --json ARGS…`, optionally under strace (`strace_args`), output to files
/// in the setup's directory.
fn spawn(s: &Setup, args: &[String], strace_args: Option<&[String]>, env_single_thread: bool) -> std::process::Child {
    let mut cmd = match strace_args {
        Some(strace) => {
            let mut cmd = Command::new("strace");
            cmd.args(strace).arg("--").arg(rejig_bin());
            cmd
        }
        None => Command::new(rejig_bin()),
    };
    cmd.arg("--store").arg(s.rejig.store()).arg("--json").args(args);
    cmd.env_remove("REJIG_STORE").env("XDG_DATA_HOME", s.dir.path().join("xdg")).env("NO_COLOR", "1");
    if env_single_thread {
        cmd.env("RAYON_NUM_THREADS", "1");
    }
    let out = fs::File::create(s.dir.path().join("stdout")).unwrap();
    let err = fs::File::create(s.dir.path().join("stderr")).unwrap();
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    cmd.spawn().unwrap_or_else(|e| panic!("cannot start {:?}: {e} (is strace installed?)", cmd.get_program()))
}

fn wait_bounded(child: &mut std::process::Child) -> ExitStatus {
    let deadline = Instant::now() + HANG;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("a command did not finish within {HANG:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn output_of(s: &Setup) -> String {
    let read = |name: &str| fs::read_to_string(s.dir.path().join(name)).unwrap_or_default();
    format!("--- stdout ---\n{}\n--- stderr ---\n{}", read("stdout"), read("stderr"))
}

/// The ref's commit, if the ref exists.
fn read_ref(repo: &Path) -> Option<String> {
    match fs::read_to_string(repo.join("refs/heads").join(REF)) {
        Ok(s) => Some(s.trim().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => panic!("reading the ref in {}: {e}", repo.display()),
    }
}

fn partial_marker(repo: &Path, commit: &str) -> PathBuf {
    repo.join("state").join(format!("{commit}.commitpartial"))
}

// ----------------------------------------------------------------------------------------
// Figures: what a run wrote, compared with a run from scratch

type Figures = BTreeMap<&'static str, u64>;

/// Store contents as `fsck --json` counts them (zero for a store not created yet).
fn store_counts(fsck: Option<&Value>) -> [u64; 3] {
    fsck.map_or([0; 3], |v| [num(v, "blobs"), num(v, "objects"), num(v, "packages")])
}

/// The figures of a completed run; `before` and `after` are the store's counts around it
/// (`build` reports none of its own).
fn figures(kind: Kind, v: &Value, before: [u64; 3], after: [u64; 3]) -> Figures {
    let mut f = Figures::new();
    match kind {
        Kind::Import => {
            // Not raw_bytes_written: packages imported side by side may each store a blob they
            // share, so it varies from run to run.
            f.insert("packages_imported", num(v, "packages_imported"));
        }
        Kind::Build => {
            f.insert("blobs_added", after[0] - before[0]);
            f.insert("objects_added", after[1] - before[1]);
            f.insert("packages_added", after[2] - before[2]);
        }
        Kind::ExportCommit => {
            f.insert("objects_written", num(v, "objects_written"));
        }
        Kind::ExportJigdo => {
            f.insert("packages_fetched", num(v, "packages_fetched"));
            f.insert("objects_written", num(v, "objects_written"));
        }
    }
    f
}

struct Calibration {
    /// Wall time of an uninterrupted run, spawn to exit.
    millis: u64,
    /// Its figures.
    figures: Figures,
    /// Per syscall of [`KILL_SYSCALLS`], the most calls one thread made in a traced run with
    /// one rayon thread.
    syscalls: Vec<(&'static str, u64)>,
}

fn calibrate(w: &Workload, c: &Config) -> Calibration {
    let s = prepare(w, c);
    let args = command_args(w, c, &s);
    let before = match c.store {
        StoreStart::Empty => store_counts(None),
        _ => store_counts(Some(&s.rejig.fsck_clean())),
    };
    let started = Instant::now();
    let mut child = spawn(&s, &args, None, false);
    let status = wait_bounded(&mut child);
    let millis = started.elapsed().as_millis() as u64;
    assert!(status.success(), "calibration run of {} failed:\n{}", c.describe(), output_of(&s));
    let v: Value = serde_json::from_str(fs::read_to_string(s.dir.path().join("stdout")).unwrap().trim()).unwrap();
    if let Some(output) = &s.output {
        assert!(
            fs::read(output).unwrap() == fs::read(&w.jigdos[0]).unwrap(),
            "a build from scratch is not reproducible"
        );
    }
    let after = store_counts(Some(&s.rejig.fsck_clean()));
    let figures = figures(c.kind, &v, before, after);

    let traced = prepare(w, c);
    let trace = traced.dir.path().join("trace");
    let strace: Vec<String> =
        ["-f", "-qq", "-o", p(&trace), "-e", &format!("trace={}", KILL_SYSCALLS.join(","))].map(String::from).into();
    let mut child = spawn(&traced, &command_args(w, c, &traced), Some(&strace), true);
    let status = wait_bounded(&mut child);
    assert!(status.success(), "traced calibration run of {} failed:\n{}", c.describe(), output_of(&traced));
    let mut counts: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    let text = fs::read_to_string(&trace).unwrap();
    for line in text.lines() {
        let Some((pid, rest)) = line.split_once(' ') else { continue };
        let name = rest.trim_start().split('(').next().unwrap_or_default();
        if let Some(known) = KILL_SYSCALLS.iter().find(|k| **k == name) {
            *counts.entry((known, pid)).or_default() += 1;
        }
    }
    let syscalls = KILL_SYSCALLS
        .iter()
        .map(|name| (*name, counts.iter().filter(|((n, _), _)| n == name).map(|(_, c)| *c).max().unwrap_or(0)))
        .filter(|(_, max)| *max > 0)
        .collect();
    Calibration { millis, figures, syscalls }
}

// ----------------------------------------------------------------------------------------
// Trials

#[derive(Clone, Debug)]
enum Kill {
    /// SIGKILL this long after the start (`permille` of the calibrated run time).
    Delay { permille: u64, millis: u64 },
    /// strace delivers SIGKILL on entry to the Nth call of the syscall in one thread (`last`:
    /// the last such call of the calibrated run).
    Syscall { name: &'static str, nth: u64, last: bool },
}

#[derive(Clone, Debug)]
struct Trial {
    index: usize,
    config: usize,
    kill: Kill,
}

fn plan(configs: &[Config], calibrations: &[Calibration]) -> Vec<Trial> {
    let mut rng = Rng::new(SEED);
    let mut trials = Vec::new();
    for (ci, c) in configs.iter().enumerate() {
        let cal = &calibrations[ci];
        // The boundaries: the last call of each durability syscall (and every syncfs), where a
        // random kill seldom lands: the last pack's rename, the index commit, the syncfs before
        // and after the commit object, the removal of the partial marker, the ref's rename.
        for &(name, max) in cal.syscalls.iter().filter(|(name, _)| DURABILITY_SYSCALLS.contains(name)) {
            let first = if name == "syncfs" { 1 } else { max };
            for nth in first..=max {
                trials.push(Trial {
                    index: trials.len(),
                    config: ci,
                    kill: Kill::Syscall { name, nth, last: nth == max },
                });
            }
        }
        for _ in 0..c.trials {
            let kill = if rng.chance(SYSCALL_KILL_PERCENT) && !cal.syscalls.is_empty() {
                // A fraction of the calls, so that a count that differs by a few calls from one
                // calibration to the next (pwrite64) still gives nearly the same kill point.
                let (name, max) = *rng.pick(&cal.syscalls);
                let nth = (max * rng.below(1000)).div_ceil(1000).max(1);
                Kill::Syscall { name, nth, last: nth == max }
            } else {
                // Mostly inside the run, some right at the start, some after its end.
                let permille = if rng.chance(8) { rng.below(40) } else { rng.below(1150) };
                Kill::Delay { permille, millis: cal.millis * permille / 1000 }
            };
            trials.push(Trial { index: trials.len(), config: ci, kill });
        }
    }
    trials
}

/// What one trial saw.
#[derive(Default, Clone)]
struct Outcome {
    /// Killed while running (else it had completed before the kill).
    killed: bool,
    /// The syscall a strace injection killed it on.
    syscall: Option<&'static str>,
    /// The re-run wrote less than a run from scratch.
    reused: bool,
    /// The kill left no repository (it had not been created yet).
    no_repo: bool,
    /// The kill left the commit object published (complete) but the ref not yet moved.
    commit_without_ref: bool,
    /// The kill left the ref at the new commit.
    ref_moved: bool,
    /// Packs in `packs/` the index does not reference, after the re-run, and their bytes.
    unreferenced_packs: u64,
    unreferenced_bytes: u64,
    /// Files the killed run left in the repository's `tmp/` or the build's output directory.
    leftovers: u64,
    /// Wall time of the whole trial (setup, kill, checks, re-run), for the summary only.
    millis: u64,
}

fn run_trial(w: &Workload, c: &Config, cal: &Calibration, t: &Trial) -> Outcome {
    let started = Instant::now();
    let s = prepare(w, c);
    let args = command_args(w, c, &s);
    let mut out = Outcome::default();
    let ref_before = s.repo.as_deref().and_then(read_ref);
    let new_commit = &w.commits[if c.kind == Kind::Build { 0 } else { 1 }];

    // The kill.
    let status = match &t.kill {
        Kill::Delay { millis, .. } => {
            let mut child = spawn(&s, &args, None, false);
            std::thread::sleep(Duration::from_millis(*millis));
            let _ = child.kill();
            wait_bounded(&mut child)
        }
        Kill::Syscall { name, nth, .. } => {
            out.syscall = Some(name);
            let inject = format!("inject={name}:signal=KILL:when={nth}");
            let strace: Vec<String> = ["-f", "-qq", "-o", "/dev/null", "-e", &inject].map(String::from).into();
            let mut child = spawn(&s, &args, Some(&strace), true);
            wait_bounded(&mut child)
        }
    };
    out.killed = status.signal() == Some(9);
    assert!(
        out.killed || status.success(),
        "the command neither completed nor was killed ({status}):\n{}",
        output_of(&s)
    );

    // 1. The store is sound (and opens, even if the kill came while it was being created; a
    //    kill before the store existed leaves none, and fsck says so).
    let after_kill = s.rejig.fsck_clean_after_kill();

    // 2 and 3. The repository is sound, the ref unchanged or at the complete new commit.
    if let Some(repo) = &s.repo {
        if repo.join("config").is_file() {
            ostree_fsck(repo, 0);
            let now = read_ref(repo);
            assert!(
                now == ref_before || now.as_deref() == Some(new_commit.as_str()),
                "after the kill the ref is {now:?}: neither where it was ({ref_before:?}) nor {new_commit}"
            );
            let commit_object = loose_path(repo, new_commit, "commit").is_file();
            let partial = partial_marker(repo, new_commit).exists();
            if now.as_deref() == Some(new_commit.as_str()) {
                out.ref_moved = true;
                assert!(commit_object && !partial, "the ref moved to {new_commit}, which is missing or partial");
                // Complete: every object present and valid (fsck above verified non-partial
                // commits; pull-local re-checksums everything the commit reaches).
                verify_exported_repo_allowing(repo, new_commit, &files_under(&repo.join("tmp")));
            } else if commit_object && !partial {
                out.commit_without_ref = true;
                verify_exported_repo_allowing(repo, new_commit, &files_under(&repo.join("tmp")));
            }
            out.leftovers += files_under(&repo.join("tmp")).len() as u64;
        } else {
            out.no_repo = true;
            assert!(out.killed, "a completed export left no repository config");
            assert!(read_ref(repo).is_none(), "a ref exists in a repository without config");
        }
    }
    let left_in_tmp = s.repo.as_ref().map(|r| files_under(&r.join("tmp"))).unwrap_or_default();
    let reference_jigdo = fs::read(&w.jigdos[0]).unwrap();
    if let Some(output) = &s.output {
        if output.exists() {
            assert!(fs::read(output).unwrap() == reference_jigdo, "the kill left a jigdo that is not the complete one");
        }
        out.leftovers += files_under(output.parent().unwrap()).iter().filter(|f| *f != output).count() as u64;
    }

    // 4. The command completes when run again, and reuses what was durable.
    let before = store_counts(Some(&after_kill));
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let v = s.rejig.json(&arg_refs);
    let fsck = s.rejig.fsck_clean();
    let rerun = figures(c.kind, &v, before, store_counts(Some(&fsck)));
    for (key, value) in &rerun {
        let scratch = cal.figures[key];
        assert!(*value <= scratch, "the re-run's {key} is {value}, more than a run from scratch ({scratch}): {v}");
    }
    out.reused = rerun.iter().any(|(key, value)| *value < cal.figures[key]);
    for id in fsck["unreferenced_packs"].as_array().unwrap() {
        let pack = s.rejig.store().join("packs").join(format!("{}.pack", id.as_str().unwrap()));
        out.unreferenced_packs += 1;
        out.unreferenced_bytes += fs::metadata(&pack).unwrap().len();
    }

    match c.kind {
        Kind::Import => {
            let total = num(&v, "packages_imported") + num(&v, "packages_skipped");
            assert_eq!(total, w.package_count[0], "the re-run must account for every package: {v}");
            assert_eq!(num(&fsck, "packages"), w.package_count[0], "the store must hold every package: {fsck}");
        }
        Kind::Build => {
            assert_eq!(text(&v, "commit"), new_commit, "{v}");
            let output = s.output.as_ref().unwrap();
            assert!(fs::read(output).unwrap() == reference_jigdo, "the re-run's jigdo differs from the reference");
        }
        Kind::ExportCommit | Kind::ExportJigdo => {
            let repo = s.repo.as_ref().unwrap();
            assert_eq!(text(&v, "commit"), new_commit, "{v}");
            assert_eq!(read_ref(repo).as_deref(), Some(new_commit.as_str()), "the re-run must move the ref");
            if t.index % 4 == 0 {
                verify_exported_repo_allowing(repo, new_commit, &left_in_tmp);
            } else {
                // The same without the `pull-local` into a fresh repository (`ostree fsck` already
                // re-checksums every object the commit reaches), to keep the matrix quick.
                assert!(!partial_marker(repo, new_commit).exists(), "the re-run left the commit partial");
                let leftovers: Vec<PathBuf> =
                    files_under(&repo.join("tmp")).into_iter().filter(|f| !left_in_tmp.contains(f)).collect();
                assert!(leftovers.is_empty(), "the re-run left temporary files: {leftovers:?}");
                ostree_fsck(repo, 1);
            }
        }
    }
    out.millis = started.elapsed().as_millis() as u64;
    out
}

fn describe_trial(c: &Config, t: &Trial) -> String {
    let kill = match &t.kill {
        Kill::Delay { permille, millis } => format!("SIGKILL after {millis} ms ({permille}‰ of the calibrated run)"),
        Kill::Syscall { name, nth, last } => {
            let which = if *last { " (the last one)" } else { "" };
            format!("SIGKILL on entry to {name} call #{nth}{which} in a thread (strace, RAYON_NUM_THREADS=1)")
        }
    };
    format!("trial {} (seed {SEED:#x}): {}; {kill}", t.index, c.describe())
}

#[derive(Clone, Copy, Default)]
struct Tally {
    trials: u64,
    killed: u64,
    killed_by_syscall: u64,
    completed: u64,
    reused: u64,
    no_repo: u64,
    commit_without_ref: u64,
    ref_moved: u64,
    unreferenced_packs: u64,
    unreferenced_bytes: u64,
    leftovers: u64,
    millis: u64,
}

#[test]
fn sigkill_matrix_leaves_sound_state_and_reruns_reuse_it() {
    let started = Instant::now();
    let w = workload();
    let configs = configs();
    let calibrations: Vec<Calibration> = configs.iter().map(|c| calibrate(&w, c)).collect();
    let trials = plan(&configs, &calibrations);
    assert!(trials.len() >= 200, "the matrix must run at least 200 trials, has {}", trials.len());
    let only: Option<Vec<usize>> = std::env::var("CRASH_MATRIX_ONLY")
        .ok()
        .map(|list| list.split(',').map(|n| n.trim().parse().expect("CRASH_MATRIX_ONLY: trial numbers")).collect());
    let selected: Vec<&Trial> = trials.iter().filter(|t| only.as_ref().is_none_or(|o| o.contains(&t.index))).collect();
    let setup_time = started.elapsed();

    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Result<Outcome, String>)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(t) = selected.get(i) else { break };
                let c = &configs[t.config];
                let outcome = catch_unwind(AssertUnwindSafe(|| run_trial(&w, c, &calibrations[t.config], t)));
                let outcome = outcome.map_err(|panic| {
                    let message = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    format!("{}\n{message}", describe_trial(c, t))
                });
                results.lock().unwrap().push((t.index, outcome));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, _)| *i);

    let mut tallies: BTreeMap<Kind, Tally> = BTreeMap::new();
    let mut syscall_kills: BTreeMap<Kind, BTreeMap<&str, u64>> = BTreeMap::new();
    let mut failures = Vec::new();
    for (index, result) in &results {
        let kind = configs[trials[*index].config].kind;
        let tally = tallies.entry(kind).or_default();
        tally.trials += 1;
        match result {
            Ok(o) => {
                tally.killed += u64::from(o.killed);
                if let (true, Some(name)) = (o.killed, o.syscall) {
                    tally.killed_by_syscall += 1;
                    *syscall_kills.entry(kind).or_default().entry(name).or_default() += 1;
                }
                tally.completed += u64::from(!o.killed);
                tally.reused += u64::from(o.reused);
                tally.no_repo += u64::from(o.no_repo);
                tally.commit_without_ref += u64::from(o.commit_without_ref);
                tally.ref_moved += u64::from(o.ref_moved);
                tally.unreferenced_packs += o.unreferenced_packs;
                tally.unreferenced_bytes += o.unreferenced_bytes;
                tally.leftovers += o.leftovers;
                tally.millis += o.millis;
            }
            Err(message) => failures.push(message.clone()),
        }
    }

    let mut summary = String::new();
    let _ = writeln!(summary, "crash matrix, seed {SEED:#x}: {} trials, {WORKERS} workers", results.len());
    for (c, cal) in configs.iter().zip(&calibrations) {
        let calls: Vec<String> = cal.syscalls.iter().map(|(name, n)| format!("{name} {n}")).collect();
        let _ = writeln!(
            summary,
            "  calibrated {}: {} ms, from scratch {:?}; most calls in one thread: {}",
            c.describe(),
            cal.millis,
            cal.figures,
            calls.join(", ")
        );
    }
    let _ = writeln!(
        summary,
        "  {:<18} {:>6} {:>9} {:>11} {:>9} {:>7} {:>8} {:>10} {:>9} {:>9} {:>9} {:>8}",
        "command",
        "trials",
        "mid-run",
        "(syscall)",
        "complete",
        "reused",
        "no repo",
        "commit/no",
        "ref moved",
        "unref.",
        "leftover",
        "s/trial"
    );
    for kind in Kind::ALL {
        let t = tallies.get(&kind).copied().unwrap_or_default();
        let _ = writeln!(
            summary,
            "  {:<18} {:>6} {:>9} {:>11} {:>9} {:>7} {:>8} {:>10} {:>9} {:>9} {:>9} {:>8.2}",
            kind.name(),
            t.trials,
            t.killed,
            t.killed_by_syscall,
            t.completed,
            t.reused,
            t.no_repo,
            t.commit_without_ref,
            t.ref_moved,
            t.unreferenced_packs,
            t.leftovers,
            t.millis as f64 / 1000.0 / t.trials.max(1) as f64
        );
    }
    for (kind, t) in tallies.iter().filter(|(_, t)| t.unreferenced_packs > 0) {
        let _ = writeln!(
            summary,
            "  {}: {} packs ({:.1} MB) left unreferenced after the re-runs (killed between a pack's rename and \
             its index commit; the re-run stored that content again in another pack)",
            kind.name(),
            t.unreferenced_packs,
            t.unreferenced_bytes as f64 / 1e6
        );
    }
    for (kind, names) in &syscall_kills {
        let list: Vec<String> = names.iter().map(|(name, n)| format!("{name} {n}")).collect();
        let _ = writeln!(summary, "  {} killed on a syscall: {}", kind.name(), list.join(", "));
    }
    let _ = writeln!(
        summary,
        "  (mid-run: killed while running, of which by a syscall injection; complete: had finished before the\n   \
         kill; reused: the re-run wrote less than a run from scratch; no repo: killed before the repository\n   \
         existed; commit/no: commit object complete but ref not moved; unref.: packs left unreferenced after\n   \
         the re-run; leftover: files a kill left in a repository's tmp/ or the build's output directory)"
    );
    let _ = writeln!(summary, "  setup and calibration {:.1}s, total {:.1}s", setup_time.as_secs_f64(), {
        started.elapsed().as_secs_f64()
    });
    println!("{summary}");

    // build and import only read the source repository.
    ostree_fsck(&w.src, 2);
    for (v, commit) in w.commits.iter().enumerate() {
        assert_eq!(&ostree_rev_parse(&w.src, &format!("rj/v{}", v + 1)), commit, "the source repository changed");
    }
    assert!(failures.is_empty(), "{} of {} trials failed:\n\n{}", failures.len(), results.len(), failures.join("\n\n"));
    if only.is_none() {
        for kind in Kind::ALL {
            let t = &tallies[&kind];
            assert!(t.killed > 0, "{}: no kill landed mid-run:\n{summary}", kind.name());
            assert!(t.reused > 0, "{}: no re-run reused what a killed run made durable:\n{summary}", kind.name());
        }
    }
}
