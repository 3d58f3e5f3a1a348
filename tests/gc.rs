//! `rejig gc` on an edge host's store: five successive jigdo updates, each followed by
//! `gc --keep 2`. Afterwards the store holds what the two latest commits need and no more:
//! fsck is clean, both export without packages, the older ones are gone, and the store is
//! within 10% of a fresh store that only ever rebuilt those two.
#![allow(clippy::unwrap_used)]

use crate::util;

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use util::{num, ostree_commit, ostree_init, p, text, Rejig, Rng};

const PACKAGES: usize = 8;
const FILES: usize = 12;
const VERSIONS: usize = 5;

/// Release of package `index` in version `version`: each version rebuilds two packages.
fn release(index: usize, version: usize) -> usize {
    (1..=version).filter(|&v| v > 1 && (index == v % PACKAGES || index == (v + 3) % PACKAGES)).count() + 1
}

/// The files of package `index` at `release`: incompressible content, so sizes mean bytes.
fn files(index: usize, release: usize) -> Vec<(String, Vec<u8>)> {
    let mut rng = Rng::new((index * 1000 + release) as u64);
    (0..FILES)
        .map(|f| {
            let len = rng.range(8_000, 48_000) as usize;
            let data = rng.bytes(len);
            (format!("/usr/lib/pkg{index}/file{f}.bin"), data)
        })
        .collect()
}

/// Builds every package of `version` into `dir` and lays out its compose in `root`.
fn version(dir: &Path, version: usize) -> (PathBuf, PathBuf) {
    let packages = dir.join(format!("packages-v{version}"));
    let root = dir.join(format!("root-v{version}"));
    fs::create_dir_all(&packages).unwrap();
    for index in 0..PACKAGES {
        let release = release(index, version);
        let mut builder = rpm::PackageBuilder::new(&format!("pkg{index}"), "1.0", "MIT", "noarch", "gc test");
        builder.using_config(rpm::BuildConfig::v4().compression(rpm::CompressionType::Zstd).source_date(1u32));
        builder.release(release.to_string());
        for (path, data) in files(index, release) {
            let target = root.join(path.trim_start_matches('/'));
            fs::create_dir_all(target.parent().unwrap()).unwrap();
            fs::write(&target, &data).unwrap();
            builder.with_file_contents(data, rpm::FileOptions::new(path)).unwrap();
        }
        let rpm = packages.join(format!("pkg{index}-1.0-{release}.noarch.rpm"));
        builder.build().unwrap().write_file(&rpm).unwrap();
    }
    fs::create_dir_all(root.join("usr/lib")).unwrap();
    fs::write(root.join("usr/lib/os-release"), format!("VERSION_ID={version}\n")).unwrap();
    (packages, root)
}

fn dir_size(dir: &Path) -> u64 {
    fs::read_dir(dir).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum()
}

/// Version `v` published: its packages built, its compose committed into `compose`, its
/// jigdo built by `builder`. Returns the commit, the jigdo and the package directory.
fn publish(dir: &Path, compose: &Path, builder: &Rejig, v: usize) -> (String, PathBuf, PathBuf) {
    let (packages, root) = version(dir, v);
    let commit = ostree_commit(compose, "os", &root, &format!("v{v}"));
    let jigdo = dir.join(format!("os-{v}.rpm"));
    builder.build(compose, "os", &packages, "os", &jigdo);
    (commit, jigdo, packages)
}

fn export(client: &Rejig, jigdo: &Path, packages: &Path, repo: &Path) -> Value {
    client.json(&["export", p(jigdo), "--packages", p(packages), "--repo", p(repo), "--ref", "os"])
}

#[test]
fn five_updates_with_keep_two_hold_only_what_the_two_latest_need() {
    let dir = tempfile::tempdir().unwrap();
    let compose = dir.path().join("compose");
    ostree_init(&compose, "archive");
    let builder = Rejig::new();
    let client = Rejig::new();
    let repo = dir.path().join("sysroot");
    let mut commits: Vec<String> = Vec::new();
    let mut jigdos = Vec::new();
    let mut sources = Vec::new();
    for v in 1..=VERSIONS {
        let (commit, jigdo, packages) = publish(dir.path(), &compose, &builder, v);
        let report = export(&client, &jigdo, &packages, &repo);
        assert_eq!(text(&report, "commit"), commit);
        if v > 1 {
            assert_eq!(num(&report, "packages_fetched"), 2, "each update rebuilds two packages: {report}");
        }
        let gc = client.json(&["gc", "--keep", "2"]);
        let kept: Vec<&str> = gc["roots_kept"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
        assert_eq!(kept.len(), v.min(2), "{gc}");
        assert_eq!(kept[0], commit, "the newest root is kept first: {gc}");
        if let Some(previous) = commits.last() {
            assert_eq!(kept[1], previous.as_str(), "then the one used before it: {gc}");
        }
        if v > 2 {
            assert!(num(&gc, "bytes_freed") > 0, "dropping a version must free space: {gc}");
            assert_eq!(gc["roots_dropped"].as_array().unwrap().len(), 1, "{gc}");
        }
        client.fsck_clean();
        commits.push(commit);
        jigdos.push(jigdo);
        sources.push(packages);
    }

    // The two latest export from the store alone; the older ones are gone.
    for (v, commit) in commits.iter().enumerate() {
        let out = dir.path().join(format!("check-v{}", v + 1));
        if v + 2 >= VERSIONS {
            let report = client.export(commit, &out, &["--mode", "bare-user"]);
            assert_eq!(text(&report, "commit"), commit.as_str());
            util::ostree_fsck(&out, 1);
        } else {
            let failed = client.fails(&["export", commit, "--repo", p(&out)]);
            util::assert_stderr_mentions(&failed, commit, "a collected commit is reported missing");
        }
    }

    // A fresh store that only ever rebuilt the two latest.
    let fresh = Rejig::new();
    let fresh_repo = dir.path().join("fresh-sysroot");
    export(&fresh, &jigdos[VERSIONS - 2], &sources[VERSIONS - 2], &fresh_repo);
    export(&fresh, &jigdos[VERSIONS - 1], &sources[VERSIONS - 1], &fresh_repo);
    let (collected, reference) = (dir_size(&client.store().join("packs")), dir_size(&fresh.store().join("packs")));
    eprintln!(
        "gc: after {VERSIONS} updates with --keep 2 the store holds {collected} bytes of packs; fresh: {reference}"
    );
    assert!(
        collected as f64 <= reference as f64 * 1.10,
        "after gc the store holds {collected} bytes of packs; a fresh store with the same two versions holds {reference}"
    );
    // Packs gc kept as they were still list what it dropped; a rebuild of the index from the
    // packs must still give a sound store that exports the latest commit.
    let repaired = client.json(&["fsck", "--repair"]);
    assert!(repaired["problems"].as_array().unwrap().is_empty(), "{repaired}");
    client.fsck_clean();
    let again = dir.path().join("after-repair");
    client.export(&commits[VERSIONS - 1], &again, &["--mode", "bare-user"]);
    util::ostree_fsck(&again, 1);

    let full: u64 = sources.iter().map(|packages| dir_size(packages)).sum();
    assert!(collected < full, "sanity: the store is smaller than every version's packages together");
}

#[test]
fn gc_waits_for_a_running_export_instead_of_removing_what_it_reads() {
    let dir = tempfile::tempdir().unwrap();
    let compose = dir.path().join("compose");
    ostree_init(&compose, "archive");
    let (commit, jigdo, packages) = publish(dir.path(), &compose, &Rejig::new(), 1);

    let client = Rejig::new();
    let repo = dir.path().join("sysroot");
    let mut export =
        client.spawn(&["export", p(&jigdo), "--packages", p(&packages), "--repo", p(&repo), "--ref", "os"]);
    // Whenever it starts, gc either runs before the export has made the store (and says there
    // is no store: gc never creates one) or waits for the store lock until the export is done;
    // it never runs underneath it.
    let out = client.run(&["--json", "gc", "--keep", "0"]);
    assert!(export.wait().unwrap().success(), "the export failed while gc ran beside it");
    assert_eq!(util::ostree_rev_parse(&repo, "os"), commit);
    util::ostree_fsck(&repo, 1);
    if out.status.success() {
        let gc = util::parse_json("gc --keep 0", &out);
        assert!(gc["roots_kept"].as_array().unwrap().is_empty(), "{gc}");
    } else {
        util::assert_stderr_mentions(&out, "is not a rejig store", "that gc ran before the export made the store");
    }
    client.fsck_clean();
}

/// Runs `rejig --store STORE ARGS` under strace, which kills it with SIGKILL when it enters
/// the `nth` call of `syscall`: a reproducible crash at an exact durability step. Returns
/// whether the kill happened (the command makes fewer such calls otherwise, and completes).
fn killed_at(store: &Path, syscall: &str, nth: usize, args: &[&str]) -> bool {
    let mut cmd = std::process::Command::new("strace");
    cmd.args(["-f", "-qq", "-o", "/dev/null", "-e", &format!("inject={syscall}:signal=KILL:when={nth}")])
        .arg(util::rejig_bin())
        .arg("--store")
        .arg(store)
        .args(args);
    let out = util::run(&mut cmd);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{}", util::report("strace rejig", &out));
    // strace ends the way its tracee did: killed by the injected SIGKILL, or exit 0.
    use std::os::unix::process::ExitStatusExt;
    match (out.status.code(), out.status.signal()) {
        (Some(0), _) => false,
        (_, Some(9)) => true,
        _ => panic!("unexpected outcome:\n{}", util::report("strace rejig", &out)),
    }
}

#[test]
fn gc_killed_at_each_durability_step_keeps_what_it_keeps() {
    let dir = tempfile::tempdir().unwrap();
    let compose = dir.path().join("compose");
    ostree_init(&compose, "archive");
    let builder = Rejig::new();
    let client = Rejig::new();
    let repo = dir.path().join("sysroot");
    let mut commits = Vec::new();
    for v in 1..=3 {
        let (commit, jigdo, packages) = publish(dir.path(), &compose, &builder, v);
        export(&client, &jigdo, &packages, &repo);
        commits.push(commit);
    }
    let mut kills = 0;
    let mut trials = 0;
    for (syscall, calls) in [("fsync", 8), ("fdatasync", 4), ("rename", 3), ("unlink", 4), ("pwrite64", 6)] {
        for nth in 1..=calls {
            trials += 1;
            let trial = dir.path().join(format!("trial-{syscall}-{nth}"));
            let copy = util::run(std::process::Command::new("cp").arg("-a").arg(client.store()).arg(&trial));
            assert!(copy.status.success(), "{}", util::report("cp -a", &copy));
            let store = Rejig::with_store(&trial);
            let killed = killed_at(&trial, syscall, nth, &["gc", "--keep", "2"]);
            kills += usize::from(killed);
            let context = format!("gc killed at {syscall} #{nth} ({})", if killed { "killed" } else { "completed" });
            // Whatever the step, the store is sound and the two newest commits export from it
            // alone; running gc again finishes the job.
            let check = |stage: &str| {
                let fsck = store.json(&["fsck"]);
                assert!(fsck["problems"].as_array().unwrap().is_empty(), "{context}, {stage}: {fsck}");
                for commit in &commits[1..] {
                    let out = dir.path().join(format!("out-{syscall}-{nth}-{stage}-{}", &commit[..8]));
                    store.export(commit, &out, &["--mode", "bare-user"]);
                    util::ostree_fsck(&out, 1);
                }
            };
            check("after the kill");
            let again = store.json(&["gc", "--keep", "2"]);
            assert_eq!(again["roots_kept"].as_array().unwrap().len(), 2, "{context}: {again}");
            check("after a second gc");
            let leftovers = fs::read_dir(trial.join("tmp")).unwrap().count();
            assert_eq!(leftovers, 0, "{context}: temp files outlived the next open");
        }
    }
    eprintln!("gc crash trials: {trials}, of which {kills} killed gc at the chosen syscall");
    assert!(kills * 2 >= trials, "most trials must really kill gc mid-way ({kills} of {trials})");
}
