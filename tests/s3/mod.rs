//! A store shared on S3 (issue 14), against a real S3 server on loopback (moto, started by
//! `rejig_test_support::s3`). Each builder is a `rejig` process with its own cache folder;
//! they meet only in the bucket.

use crate::util;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rejig_test_support::s3::{moto, Moto};
use serde_json::Value;
use util::*;

/// Lock leases in these tests: short, so a killed process's lock lapses quickly.
const LEASE_SECS: u64 = 2;

/// A new bucket for one test.
fn bucket(test: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = format!("rejig-{test}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst));
    moto().create_bucket(&name);
    name
}

/// One builder: `rejig --store s3://BUCKET/farm` with a cache folder of its own.
struct Builder {
    store: String,
    home: tempfile::TempDir,
}

impl Builder {
    fn new(bucket: &str) -> Self {
        let home = tempfile::Builder::new().prefix("rejig-s3-builder-").tempdir().expect("temp dir");
        Self { store: format!("s3://{bucket}/farm"), home }
    }

    fn cache(&self) -> PathBuf {
        self.home.path().join("cache")
    }

    fn command(&self, args: &[&str]) -> Command {
        let server: &Moto = moto();
        let mut cmd = Command::new(rejig_bin());
        cmd.arg("--store").arg(&self.store).arg("--cache").arg(self.cache()).args(args);
        cmd.env_remove("REJIG_STORE")
            .env_remove("REJIG_CACHE")
            .env("XDG_DATA_HOME", self.home.path().join("xdg"))
            .env("AWS_ACCESS_KEY_ID", "rejig-test")
            .env("AWS_SECRET_ACCESS_KEY", "rejig-test")
            .env("AWS_ENDPOINT_URL", server.endpoint())
            .env("AWS_REGION", "us-east-1")
            .env("REJIG_S3_LEASE_SECS", LEASE_SECS.to_string())
            .env("REJIG_S3_WAIT_SECS", "120")
            .env("NO_COLOR", "1");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        run(&mut self.command(args))
    }

    fn what(&self, args: &[&str]) -> String {
        format!("rejig --store {} {}", self.store, args.join(" "))
    }

    fn json(&self, args: &[&str]) -> Value {
        let full = json_args(args);
        json_success(&self.what(&full), &self.run(&full))
    }

    fn fails(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        let what = self.what(args);
        assert!(!out.status.success(), "expected a failure:\n{}", report(&what, &out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked at"), "rejig panicked:\n{}", report(&what, &out));
        out
    }

    fn fsck_clean(&self) -> Value {
        let v = self.json(&["fsck"]);
        assert_eq!(v["problems"].as_array().map(Vec::len), Some(0), "fsck must find nothing wrong: {v}");
        v
    }

    fn export_and_verify(&self, commit: &str, target: &Path) {
        let v = self.json(&["export", commit, "--repo", p(target), "--mode", "bare-user"]);
        assert_eq!(text(&v, "commit"), commit, "{v}");
        verify_exported_repo(target, commit);
    }
}

use util::{noarch_package as package, put_file as put};

/// Starts `cmd` (output discarded), SIGKILLs it after `delay`; true when it was still running.
fn kill_after(mut cmd: Command, delay: Duration) -> bool {
    cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    std::thread::sleep(delay);
    let running = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    running
}

/// The files of package `pkg-i`: a 100 KiB data file (so packs have bulk) and a script.
fn package_files(i: usize) -> Vec<(String, Vec<u8>)> {
    let mut rng = Rng::new(i as u64 + 7);
    vec![
        (format!("/usr/share/pkg-{i}/data"), rng.bytes(100_000)),
        (format!("/usr/bin/pkg-{i}"), format!("#!/bin/sh\necho {i}\n").into_bytes()),
    ]
}

/// Packages `pkg-0..n`.
fn packages(dir: &Path, n: usize) -> PathBuf {
    let packages = dir.join("packages");
    fs::create_dir_all(&packages).unwrap();
    for i in 0..n {
        let files = package_files(i);
        let files: Vec<(&str, &[u8])> = files.iter().map(|(p, b)| (p.as_str(), b.as_slice())).collect();
        package(&packages, &format!("pkg-{i}"), &files);
    }
    packages
}

/// A commit whose files come from packages `range` plus one file of its own.
fn compose(dir: &Path, name: &str, range: std::ops::Range<usize>) -> (PathBuf, String) {
    let root = dir.join(format!("root-{name}"));
    for i in range {
        for (path, bytes) in package_files(i) {
            put(&root, &path, &bytes);
        }
    }
    put(&root, "/usr/lib/os-release", format!("NAME={name}\n").as_bytes());
    // An empty file: its blob has no bytes to read, and S3 refuses an empty range.
    put(&root, "/usr/lib/empty", b"");
    let repo = dir.join(format!("repo-{name}"));
    ostree_init(&repo, "archive");
    let commit = ostree_commit(&repo, "os", &root, name);
    (repo, commit)
}

/// A new bucket where builder A imported packages `pkg-0..n`, then a commit made of them (two
/// processes): the folder, the bucket, the packages, the commit and A.
fn filled(test: &str, n: usize) -> (tempfile::TempDir, String, PathBuf, String, Builder) {
    let dir = tempfile::tempdir().unwrap();
    let bucket = bucket(test);
    let packages = packages(dir.path(), n);
    let (repo, commit) = compose(dir.path(), test, 0..n);
    let a = Builder::new(&bucket);
    a.json(&["import", p(&packages)]);
    a.json(&["import", "--repo", p(&repo), "--rev", &commit]);
    (dir, bucket, packages, commit, a)
}

fn packs_in(bucket: &str) -> Vec<String> {
    moto().keys(bucket).into_iter().filter(|k| k.starts_with("farm/packs/")).collect()
}

#[test]
fn every_command_works_on_an_s3_store_and_a_second_builder_reuses_the_first_ones_imports() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = bucket("commands");
    let packages = packages(dir.path(), 4);
    let (repo, commit) = compose(dir.path(), "one", 0..3);

    // Nothing there yet: readers refuse, and say why.
    let a = Builder::new(&bucket);
    let out = a.fails(&["fsck"]);
    assert_stderr_mentions(&out, "holds no store.id", "that an empty bucket is not a store");
    assert!(moto().keys(&bucket).is_empty(), "fsck created something: {:?}", moto().keys(&bucket));
    // A shared store cannot be backed by one host's repository, and asking creates nothing.
    let out = a.fails(&["init", "--backed-by", p(&dir.path().join("edge-repo"))]);
    assert_stderr_mentions(&out, "only a store on this host's disk", "that an S3 store cannot be backed");
    assert!(moto().keys(&bucket).is_empty(), "init created something: {:?}", moto().keys(&bucket));

    let jigdo = dir.path().join("one.rpm");
    let built = a.json(&[
        "build",
        "--repo",
        p(&repo),
        "--rev",
        "os",
        "--packages",
        p(&packages),
        "--name",
        "one",
        "-o",
        p(&jigdo),
    ]);
    assert_eq!(text(&built, "commit"), commit, "{built}");
    let keys = moto().keys(&bucket);
    assert!(keys.contains(&"farm/store.id".to_owned()), "{keys:?}");
    assert!(!packs_in(&bucket).is_empty(), "the build uploaded no pack: {keys:?}");
    assert!(!keys.iter().any(|k| k.starts_with("farm/locks/")), "a finished process leaves no lock: {keys:?}");
    a.fsck_clean();

    // Builder B starts with an empty cache: it syncs, finds every package, imports none.
    let b = Builder::new(&bucket);
    let imported = b.json(&["import", p(&packages)]);
    assert_eq!(num(&imported, "packages_imported"), 0, "the build imported every package: {imported}");
    assert_eq!(num(&imported, "packages_skipped"), 4, "{imported}");
    b.export_and_verify(&commit, &dir.path().join("export-b"));
    let rebuilt = dir.path().join("export-jigdo");
    let v = b.json(&["export", p(&jigdo), "--packages", p(&packages), "--repo", p(&rebuilt), "--mode", "archive"]);
    assert_eq!(text(&v, "commit"), commit, "{v}");
    verify_exported_repo(&rebuilt, &commit);
    let inspected = b.json(&["inspect", p(&jigdo)]);
    assert!(inspected.to_string().contains(&commit), "{inspected}");

    // A syncs B's import; gc keeps the root and drops pkg-3, which no root uses.
    let gc = a.json(&["gc"]);
    assert_eq!(num(&gc, "packages_removed"), 1, "{gc}");
    let c = Builder::new(&bucket);
    c.fsck_clean();
    c.export_and_verify(&commit, &dir.path().join("export-c"));
    let again = c.json(&["import", p(&packages)]);
    assert_eq!(num(&again, "packages_imported"), 1, "gc dropped pkg-3 for everyone: {again}");
}

#[test]
fn three_builders_compose_at_once_against_one_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = bucket("concurrent");
    let packages = packages(dir.path(), 6);
    let composes: Vec<(PathBuf, String)> = (0..3).map(|i| compose(dir.path(), &format!("c{i}"), i..i + 4)).collect();
    let builders: Vec<Builder> = (0..3).map(|_| Builder::new(&bucket)).collect();
    // All three import overlapping packages and their own commit at the same moment.
    let packages_dir = packages.as_path();
    let outputs: Vec<Output> = std::thread::scope(|s| {
        let handles: Vec<_> = builders
            .iter()
            .zip(&composes)
            .enumerate()
            .map(|(i, (builder, (repo, _)))| {
                let jigdo = dir.path().join(format!("c{i}.rpm"));
                s.spawn(move || {
                    builder.run(&[
                        "--json",
                        "build",
                        "--repo",
                        p(repo),
                        "--rev",
                        "os",
                        "--packages",
                        p(packages_dir),
                        "--name",
                        "c",
                        "-o",
                        p(&jigdo),
                    ])
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for out in &outputs {
        assert!(out.status.success(), "a concurrent build failed:\n{}", report("rejig build", out));
    }
    // A fourth, arriving later, finds everything: every commit exports, every package is there.
    let late = Builder::new(&bucket);
    late.fsck_clean();
    let imported = late.json(&["import", p(&packages)]);
    assert_eq!(num(&imported, "packages_imported"), 0, "{imported}");
    for (i, (_, commit)) in composes.iter().enumerate() {
        late.export_and_verify(commit, &dir.path().join(format!("late-{i}")));
    }
    // Redundant packs (the same package imported twice at once) go at gc, nothing else.
    let before = packs_in(&bucket).len();
    let gc = late.json(&["gc"]);
    assert_eq!(gc["roots_kept"].as_array().map(Vec::len), Some(3), "{gc}");
    assert!(packs_in(&bucket).len() <= before, "{gc}");
    let after = Builder::new(&bucket);
    after.fsck_clean();
    for (i, (_, commit)) in composes.iter().enumerate() {
        after.export_and_verify(commit, &dir.path().join(format!("after-gc-{i}")));
    }
}

#[test]
fn sigkill_during_uploads_and_during_gc_leaves_a_sound_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = bucket("kill");
    let tree = dir.path().join("tree");
    generate_tree(&tree, &TreeOptions { random_entries: 300, large_files: 3, ..TreeOptions::new(14) });
    let repo = dir.path().join("repo");
    ostree_init(&repo, "archive");
    let first = ostree_commit(&repo, "os", &tree, "first");
    let packages = packages(dir.path(), 8);

    let mut landed = 0;
    for (round, delay) in [40u64, 120, 300].into_iter().enumerate() {
        let builder = Builder::new(&bucket);
        let cmd = match round {
            1 => builder.command(&["import", p(&packages)]),
            _ => builder.command(&["import", "--repo", p(&repo), "--rev", &first]),
        };
        landed += usize::from(kill_after(cmd, Duration::from_millis(delay)));
        // Whatever the kill interrupted, a fresh builder finds a sound store (or none yet).
        std::thread::sleep(Duration::from_secs(LEASE_SECS + 1));
        let fresh = Builder::new(&bucket);
        if moto().keys(&bucket).iter().any(|k| k == "farm/store.id") {
            fresh.fsck_clean();
        }
    }
    assert!(landed > 0, "no kill landed while the import ran: make the work longer");
    let builder = Builder::new(&bucket);
    builder.json(&["import", p(&packages)]);
    builder.json(&["import", "--repo", p(&repo), "--rev", &first]);
    let tree2 = dir.path().join("tree2");
    generate_tree(&tree2, &TreeOptions { random_entries: 300, large_files: 3, ..TreeOptions::new(15) });
    let second = ostree_commit(&repo, "os", &tree2, "second");
    builder.json(&["import", "--repo", p(&repo), "--rev", &second]);

    // gc keeps one root: it rewrites and deletes; kills land at several points of it.
    let mut landed = 0;
    for (round, delay) in [60u64, 150, 300].into_iter().enumerate() {
        landed += usize::from(kill_after(builder.command(&["gc", "--keep", "1"]), Duration::from_millis(delay)));
        std::thread::sleep(Duration::from_secs(LEASE_SECS + 1));
        let fresh = Builder::new(&bucket);
        fresh.fsck_clean();
        fresh.export_and_verify(&second, &dir.path().join(format!("after-killed-gc-{round}")));
    }
    assert!(landed > 0, "every gc ended before its kill: make the work longer");
    let fresh = Builder::new(&bucket);
    // And a full gc then leaves it sound too.
    fresh.json(&["gc", "--keep", "1"]);
    let last = Builder::new(&bucket);
    last.fsck_clean();
    last.export_and_verify(&second, &dir.path().join("after-gc"));
}

#[test]
fn bad_bucket_contents_are_refused_by_name_and_nothing_is_lost() {
    let (dir, bucket, packages, commit, a) = filled("bad", 3);
    let packs = packs_in(&bucket);
    // The bytes of a real pack, from the cache of the builder that wrote it.
    let name = packs[0].trim_start_matches("farm/packs/");
    let cached: Vec<PathBuf> =
        fs::read_dir(a.cache()).unwrap().map(|e| e.unwrap().path().join("packs").join(name)).collect();
    let real = fs::read(&cached[0]).unwrap();

    // A truncated pack, a stray object, and a pack whose trailer lies about its name.
    let truncated = format!("farm/packs/{}.pack", "1".repeat(64));
    moto().put(&bucket, &truncated, &real[..real.len() / 2]);
    moto().put(&bucket, "farm/notes.txt", b"not a pack");
    let liar = format!("farm/packs/{}.pack", "2".repeat(64));
    moto().put(&bucket, &liar, &real);

    let b = Builder::new(&bucket);
    let (out, v) = {
        let out = b.run(&["--json", "fsck"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out, v)
    };
    assert!(!out.status.success(), "fsck must fail on a bad bucket:\n{}", report("fsck", &out));
    let problems = v["problems"].to_string();
    assert!(problems.contains(&truncated[5..]) && problems.contains("truncated"), "{problems}");
    assert!(problems.contains("stray object notes.txt"), "{problems}");
    assert!(problems.contains(&liar[5..]) && problems.contains("the trailer lies"), "{problems}");
    // Nothing is lost: every commit and package is still there, the bad objects are left for
    // the operator, and a second run does not read the refused trailers again.
    b.export_and_verify(&commit, &dir.path().join("export"));
    let imported = b.json(&["import", p(&packages)]);
    assert_eq!(num(&imported, "packages_imported"), 0, "{imported}");
    for key in [&truncated, &liar, &"farm/notes.txt".to_owned()] {
        assert!(moto().keys(&bucket).contains(key), "{key} was removed");
    }
    b.json(&["gc"]);
    let c = Builder::new(&bucket);
    c.export_and_verify(&commit, &dir.path().join("export-after-gc"));
}

/// `builder`'s `rejig --json ARGS` with extra environment; the report and the client's request
/// counts (`REJIG_S3_STATS`).
fn counted(builder: &Builder, args: &[&str], env: &[(&str, &str)]) -> (Value, Value) {
    let stats = builder.home.path().join("stats.json");
    let full = json_args(args);
    let mut cmd = builder.command(&full);
    cmd.env("REJIG_S3_STATS", &stats).envs(env.iter().copied());
    let v = json_success(&builder.what(&full), &run(&mut cmd));
    (v, serde_json::from_slice(&fs::read(&stats).unwrap()).unwrap())
}

#[test]
fn a_new_builder_reads_a_bundle_not_every_trailer_and_its_cache_survives_loss_and_repair() {
    let (dir, bucket, packages, commit, _) = filled("bundle", 18);
    let bundles: Vec<String> = moto().keys(&bucket).into_iter().filter(|k| k.starts_with("farm/bundles/")).collect();
    assert_eq!(bundles.len(), 1, "the import of 18 packages leaves one bundle: {bundles:?}");
    let packs = packs_in(&bucket).len() as u64;

    // An empty cache: store.id, the bundle (the 18 package packs' trailers and manifests)
    // and the commit pack's trailer (a later process, too small for a bundle), not one GET
    // per pack.
    let b = Builder::new(&bucket);
    let (imported, counts) = counted(&b, &["import", p(&packages)], &[]);
    assert_eq!(num(&imported, "packages_imported"), 0, "{imported}");
    assert_eq!(num(&counts, "gets"), 3, "{packs} packs: {counts}");

    // A cache that lost its trailer files (they are not fsynced) still reads what it needs,
    // each blob by its own range.
    for entry in fs::read_dir(b.cache()).unwrap() {
        let trailers = entry.unwrap().path().join("trailers");
        for file in fs::read_dir(&trailers).unwrap() {
            fs::remove_file(file.unwrap().path()).unwrap();
        }
    }
    let target = dir.path().join("export-b");
    let (v, _) = counted(
        &b,
        &["export", &commit, "--repo", p(&target), "--mode", "bare-user"],
        &[("REJIG_S3_RANGED_READS", "1000000")],
    );
    assert_eq!(text(&v, "commit"), commit, "{v}");
    verify_exported_repo(&target, &commit);

    // fsck --repair on S3: a garbled cache index is rebuilt from the bucket.
    for entry in fs::read_dir(b.cache()).unwrap() {
        fs::write(entry.unwrap().path().join("index.redb"), b"not an index").unwrap();
    }
    let repaired = b.json(&["fsck", "--repair"]);
    assert_eq!(num(&repaired["repaired"], "packs_indexed"), packs, "{repaired}");
    b.fsck_clean();
    b.export_and_verify(&commit, &dir.path().join("export-repaired"));
    let again = b.json(&["import", p(&packages)]);
    assert_eq!(num(&again, "packages_imported"), 0, "{again}");
}
