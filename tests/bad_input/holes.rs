//! Hangs and target checks (RELIABILITY.md, "Recovery" / "Hangs and target checks"): a mirror
//! that drips one byte a second, FIFOs named `*.rpm`, targets that must be refused before
//! anything is fetched, repositories ostree would refuse, symlinks inside the target, two
//! exports creating one repository, temp files of killed exports, and a closed stdout.
//!
//! Every command that could hang runs under [`run_within`], so a hang is a failure with a
//! message, not a stuck suite.

use super::*;

use std::os::unix::fs::symlink;

/// Runs `cmd` with its output captured; kills it and fails the test if it takes longer than
/// `limit`. Returns the output and the time taken.
fn run_within(cmd: &mut Command, limit: Duration) -> (Output, Duration) {
    use std::io::Read;
    let what = format!("{cmd:?}");
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = String::from_utf8_lossy(&err.join().unwrap()).into_owned();
            panic!("{what} hung: still running after {limit:?}, killed; stderr so far:\n{stderr}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = Output { status, stdout: out.join().unwrap(), stderr: err.join().unwrap() };
    (output, started.elapsed())
}

/// `rejig ARGS` under [`run_within`]; requires a clean failure (non-zero exit, no panic, a
/// message) whose stderr mentions every `needles`. Returns stderr.
fn fails_within(rejig: &Rejig, args: &[&str], limit: Duration, needles: &[&str]) -> String {
    let (out, _) = run_within(&mut rejig.command(args), limit);
    let what = format!("rejig {}", args.join(" "));
    assert!(!out.status.success(), "expected a failure:\n{}", report(&what, &out));
    assert!(out.status.code().is_some(), "killed by a signal:\n{}", report(&what, &out));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "panicked:\n{}", report(&what, &out));
    for needle in needles {
        assert!(stderr.contains(needle), "{what}: stderr should mention {needle:?}:\n{stderr}");
    }
    eprintln!("[holes] {what}: {}", stderr.trim());
    stderr
}

fn mkfifo(path: &Path) {
    let out = run(Command::new("mkfifo").arg(path));
    assert!(out.status.success(), "{}", report("mkfifo", &out));
}

/// A store holding the golden commit, and that commit.
fn store_with_golden(dir: &Path) -> Rejig {
    let source = golden_repo(dir, &format!("golden-{}", rand_suffix()), "archive");
    let rejig = Rejig::new();
    rejig.import(&source, "test/fixture");
    rejig
}

/// Every path below `dir` (relative), for "nothing was written there".
fn listing_of(dir: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            out.insert(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            if entry.file_type().unwrap().is_dir() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

// ----------------------------------------------------------------------------------------
// Hangs

#[test]
fn hangs_a_mirror_that_drips_one_byte_a_second_fails_over_to_the_next() {
    let fixture = Fixture::new();
    let tree = mirror(&fixture);
    let (_, file) = network_victim(&fixture);
    let slow = server::Server::start(&tree);
    slow.fault(&file, server::Fault::Drip { after: 100, every: Duration::from_secs(1) }, usize::MAX);
    let good = server::Server::start(&tree);
    let rejig = Rejig::new();
    let repo = fixture.dir.path().join("dripped");
    let (slow_url, good_url) = (slow.url(), good.url());
    let args = [
        "--json",
        "export",
        p(&fixture.jigdo),
        "--packages",
        &slow_url,
        &good_url,
        "--repo",
        p(&repo),
        "--ref",
        "test/holes",
        "--http-timeout",
        "10",
        "--speed-limit",
        "100",
        "--speed-time",
        "2",
    ];
    // The victim is over 10 kB: at a byte a second the slow mirror alone would take hours.
    let (out, took) = run_within(&mut rejig.command(&args), Duration::from_secs(90));
    assert!(out.status.success(), "the export fails over to the good mirror:\n{}", report("rejig export", &out));
    assert!(!slow.seen_for(&file).is_empty(), "the slow mirror was tried first");
    assert!(!good.seen_for(&file).is_empty(), "the good mirror supplied the victim");
    assert!(took < Duration::from_secs(40), "the slow mirror held the export for {took:?}");
    assert_eq!(ostree_rev_parse(&repo, "test/holes"), fixture.commit);
    eprintln!("[holes] failed over from a 1 B/s mirror in {took:.1?}");

    // The same for the repodata: a mirror that drips repomd.xml is skipped for the next.
    let slow = server::Server::start(&tree);
    slow.fault("repodata/repomd.xml", server::Fault::Drip { after: 10, every: Duration::from_secs(1) }, usize::MAX);
    let slow_url = slow.url();
    let repo = fixture.dir.path().join("dripped-repodata");
    let mut args = args.to_vec();
    args[4] = &slow_url;
    args[7] = p(&repo);
    let (out, took) = run_within(&mut Rejig::new().command(&args), Duration::from_secs(90));
    assert!(out.status.success(), "the export uses the good mirror:\n{}", report("rejig export", &out));
    assert_stderr_mentions(&out, "too slow", "the slow mirror is skipped with a warning");
    assert!(took < Duration::from_secs(40), "the slow repodata held the export for {took:?}");
    assert_eq!(ostree_rev_parse(&repo, "test/holes"), fixture.commit);
    eprintln!("[holes] skipped a mirror dripping its repodata in {took:.1?}");
}

#[test]
fn hangs_a_fifo_named_rpm_is_refused_by_import_inspect_and_export_packages() {
    let dir = tempdir();
    let limit = Duration::from_secs(30);
    let fifo = dir.path().join("x.rpm");
    mkfifo(&fifo);
    let rejig = Rejig::new();
    // Given by name: refused, naming it and what it is.
    let line = {
        let (out, _) = run_within(&mut rejig.command(&["import", p(&fifo)]), limit);
        assert!(!out.status.success(), "{}", report("rejig import FIFO", &out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(line.contains("x.rpm") && line.contains("FIFO"), "the failure names the FIFO:\n{line}");
    fails_within(&rejig, &["inspect", p(&fifo)], limit, &["x.rpm", "FIFO"]);
    // A character device behind a .rpm symlink is refused the same way, unopened.
    let device = dir.path().join("null.rpm");
    symlink("/dev/null", &device).unwrap();
    fails_within(&rejig, &["inspect", p(&device)], limit, &["null.rpm", "character device"]);

    // Found in a folder: the real package beside it imports; the FIFO is a failure that
    // costs only itself.
    let folder = dir.path().join("folder");
    fs::create_dir_all(&folder).unwrap();
    fs::copy(corpus_package("rpm/RPMS/capstest-1.0-1.noarch.rpm"), folder.join("capstest.rpm")).unwrap();
    mkfifo(&folder.join("x.rpm"));
    let (out, _) = run_within(&mut rejig.command(&["--json", "import", p(&folder)]), limit);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("a JSON report:\n{}", report("rejig import DIR", &out)));
    assert_eq!(num(&v, "packages_imported"), 1, "{v}");
    assert!(v.to_string().contains("FIFO"), "the report says the FIFO failed: {v}");

    // A package folder of `export JIGDO --packages DIR`: the FIFO is skipped, the export works.
    let fixture = Fixture::new();
    mkfifo(&fixture.packages.join("x.rpm"));
    let repo = fixture.dir.path().join("repo");
    let args = ["export", p(&fixture.jigdo), "--packages", p(&fixture.packages), "--repo", p(&repo)];
    let (out, _) = run_within(&mut Rejig::new().command(&args), limit);
    assert!(out.status.success(), "{}", report("rejig export --packages DIR-with-FIFO", &out));
    assert_stderr_mentions(&out, "FIFO", "the FIFO is skipped with a warning");
}

#[test]
fn hangs_a_fifo_in_place_of_a_source_repository_object_is_refused() {
    let dir = tempdir();
    let commit_object = format!("objects/{}/{}.commit", &GOLDEN_COMMIT[..2], &GOLDEN_COMMIT[2..]);
    for (label, pick) in [("commit", 0usize), ("content", 1)] {
        let repo = golden_repo(dir.path(), &format!("src-{label}"), "archive");
        let victim = if pick == 0 {
            repo.join(&commit_object)
        } else {
            let name = listing_of(&repo.join("objects")).into_iter().find(|n| n.ends_with(".filez")).unwrap();
            repo.join("objects").join(name)
        };
        fs::remove_file(&victim).unwrap();
        mkfifo(&victim);
        let name = victim.file_name().unwrap().to_string_lossy().into_owned();
        let args = ["import", "--repo", p(&repo), "--rev", "test/fixture"];
        fails_within(&Rejig::new(), &args, Duration::from_secs(30), &[&name, "FIFO"]);
    }
}

// ----------------------------------------------------------------------------------------
// The target is checked before anything is fetched

/// A store with the seed package, the golden repository as target (ref `test/fixture`), and
/// a mirror server of the fixture's packages that must see no request.
fn refused_before_fetch(fixture: &Fixture, repo: &Path, rejig: &Rejig, ref_name: &str, needles: &[&str]) {
    let server = server::Server::start(mirror(fixture));
    let url = server.url();
    let args = ["export", p(&fixture.jigdo), "--packages", &url, "--repo", p(repo), "--ref", ref_name];
    let stderr = refused(rejig, Some(repo), &args, needles, Allow::Nothing);
    assert!(server.seen().is_empty(), "requests reached the mirror before the target was refused: {:?}", server.seen());
    eprintln!("[holes] --ref {ref_name}: {}", stderr.trim());
}

#[test]
fn target_a_ref_that_clashes_with_an_existing_ref_is_refused_before_any_fetch() {
    let fixture = Fixture::new();
    let (rejig, repo) = jigdo_target(&fixture);
    // `test/fixture` is a ref: nothing can go below it.
    refused_before_fetch(&fixture, &repo, &rejig, "test/fixture/next", &["test/fixture"]);
    // `test` holds refs: it cannot be one.
    refused_before_fetch(&fixture, &repo, &rejig, "test", &["test/"]);
}

#[test]
fn target_a_read_only_repository_is_refused_before_any_fetch() {
    let fixture = Fixture::new();
    let rejig = seeded_store();
    let mount = fixture.dir.path().join("ro");
    let tmpfs = Tmpfs::mount(&mount, "64m");
    let repo = golden_repo(&mount, "repo", "archive");
    let out = run(Command::new("mount").args(["-o", "remount,ro", p(&mount)]));
    assert!(out.status.success(), "{}", report("mount -o remount,ro", &out));
    refused_before_fetch(&fixture, &repo, &rejig, "test/other", &["read-only"]);
    drop(tmpfs);
}

// ----------------------------------------------------------------------------------------
// Repositories ostree would refuse

#[test]
fn target_a_config_ostree_would_refuse_is_refused() {
    let dir = tempdir();
    let rejig = store_with_golden(dir.path());
    type Damage<'a> = &'a dyn Fn(&Path);
    let cases: [(&str, Damage, &str); 5] = [
        ("repo_version 2", &|c| fs::write(c, "[core]\nrepo_version=2\nmode=archive-z2\n").unwrap(), "repo_version=2"),
        ("no repo_version", &|c| fs::write(c, "[core]\nmode=archive-z2\n").unwrap(), "repo_version"),
        ("not UTF-8", &|c| fs::write(c, b"[core]\nrepo_version=1\n\xff\xfe\n").unwrap(), "UTF-8"),
        ("a directory", &|c| fs::create_dir(c).unwrap(), "not a regular file"),
        ("a FIFO", &|c| mkfifo(c), "not a regular file"),
    ];
    for (what, damage, needle) in cases {
        let repo = dir.path().join(format!("repo-{}", what.replace(' ', "-")));
        ostree_init(&repo, "archive");
        let config = repo.join("config");
        fs::remove_file(&config).unwrap();
        damage(&config);
        let before = listing_of(&repo);
        let args = ["export", GOLDEN_COMMIT, "--repo", p(&repo), "--ref", "x"];
        fails_within(&rejig, &args, Duration::from_secs(30), &[p(&repo), needle]);
        assert_eq!(listing_of(&repo), before, "config {what}: the refused export wrote into the repository");
    }
}

// ----------------------------------------------------------------------------------------
// Symlinks inside the target

#[test]
fn target_symlinks_inside_the_repository_are_not_followed_out_of_it() {
    let dir = tempdir();
    let rejig = store_with_golden(dir.path());
    let first_dir = &GOLDEN_COMMIT[..2];
    let objects_xx = format!("objects/{first_dir}");
    for inner in ["refs/heads", "objects", "tmp", "state", objects_xx.as_str()] {
        let label = inner.replace('/', "-");
        let repo = dir.path().join(format!("repo-{label}"));
        ostree_init(&repo, "archive");
        let outside = dir.path().join(format!("outside-{label}"));
        fs::create_dir_all(&outside).unwrap();
        let link = repo.join(inner);
        if link.exists() {
            fs::remove_dir_all(&link).unwrap();
        }
        symlink(&outside, &link).unwrap();
        let args = ["export", GOLDEN_COMMIT, "--repo", p(&repo), "--ref", "x"];
        fails_within(&rejig, &args, Duration::from_secs(60), &["symlink", inner]);
        assert_eq!(listing_of(&outside), BTreeSet::new(), "{inner}: rejig wrote through the symlink");
    }
}

// ----------------------------------------------------------------------------------------
// Two exports creating one repository

/// Starts one export per `(store, mode)` into `repo` at the same moment; returns their outputs.
fn racing_exports(stores: &[Rejig; 2], repo: &Path, modes: [&str; 2]) -> Vec<Output> {
    let barrier = std::sync::Barrier::new(2);
    std::thread::scope(|scope| {
        let handles: Vec<_> = stores
            .iter()
            .zip(modes)
            .map(|(rejig, mode)| {
                let barrier = &barrier;
                scope.spawn(move || {
                    let args = ["export", GOLDEN_COMMIT, "--repo", p(repo), "--mode", mode, "--ref", mode];
                    let mut cmd = rejig.command(&args);
                    barrier.wait();
                    run_within(&mut cmd, Duration::from_secs(120)).0
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn no_creation_debris(repo: &Path, round: usize) {
    let strays: Vec<_> = listing_of(repo.parent().unwrap()).into_iter().filter(|n| n.contains("rejig-new")).collect();
    assert!(strays.is_empty(), "round {round}: temp directories left beside the repository: {strays:?}");
}

#[test]
fn target_two_exports_creating_one_repository_both_succeed() {
    let dir = tempdir();
    // Two stores: one store's lock would make the exports take turns.
    let stores = [store_with_golden(dir.path()), store_with_golden(dir.path())];
    for round in 0..6 {
        let repo = dir.path().join(format!("parent-{round}/race"));
        for out in racing_exports(&stores, &repo, ["archive", "archive"]) {
            assert!(out.status.success(), "round {round}: both exports succeed:\n{}", report("rejig export", &out));
        }
        assert_eq!(ostree_rev_parse(&repo, "archive"), GOLDEN_COMMIT);
        ostree_fsck(&repo, 1);
        no_creation_debris(&repo, round);
    }
}

#[test]
fn target_two_exports_creating_one_repository_in_two_modes_never_mix_them() {
    let dir = tempdir();
    let stores = [store_with_golden(dir.path()), store_with_golden(dir.path())];
    for round in 0..8 {
        let repo = dir.path().join(format!("parent-{round}/race"));
        let outputs = racing_exports(&stores, &repo, ["archive", "bare-user"]);
        let mode = repo_mode(&repo);
        let won: Vec<usize> = (0..2).filter(|&i| outputs[i].status.success()).collect();
        assert_eq!(won.len(), 1, "round {round}: exactly one of an archive and a bare-user export may create the repository (it is {mode}):\n{}\n{}",
            report("rejig export --mode archive", &outputs[0]), report("rejig export --mode bare-user", &outputs[1]));
        let winner = ["archive", "bare-user"][won[0]];
        assert_eq!(mode, winner, "round {round}: the repository has the winner's mode");
        let loser = &outputs[1 - won[0]];
        assert_stderr_mentions(loser, "does not match", "the other export is refused for its mode");
        let foreign = if winner == "archive" { ".file" } else { ".filez" };
        let mixed: Vec<_> = listing_of(&repo.join("objects")).into_iter().filter(|n| n.ends_with(foreign)).collect();
        assert!(mixed.is_empty(), "round {round}: {winner} repository holds objects of the other mode: {mixed:?}");
        ostree_fsck(&repo, 1);
        no_creation_debris(&repo, round);
    }
}

// ----------------------------------------------------------------------------------------
// Temp files of killed exports

#[test]
fn target_temp_files_of_killed_exports_are_removed_when_no_one_else_uses_the_repository() {
    let dir = tempdir();
    let rejig = store_with_golden(dir.path());
    let repo = dir.path().join("repo");
    ostree_init(&repo, "archive");
    let tmp = repo.join("tmp");
    // What a killed export leaves: a symlink or object file under `rejig-<pid>-<n>`, a ref
    // or config being replaced under `.rejig-*`. And what is not rejig's.
    fs::write(tmp.join("rejig-4000000-0"), b"half an object").unwrap();
    symlink("usr/lib/x", tmp.join("rejig-4000000-1")).unwrap();
    fs::write(tmp.join(".rejig-a1B2c3"), b"half a ref").unwrap();
    fs::write(tmp.join("ostree-owned"), b"not ours").unwrap();
    fs::create_dir(tmp.join("rejig-directory")).unwrap();
    let planted = ["rejig-4000000-0", "rejig-4000000-1", ".rejig-a1B2c3"];
    let present = |name: &str| fs::symlink_metadata(tmp.join(name)).is_ok();

    // While another process uses the repository (holds ostree's lock shared), they stay:
    // they could be its own.
    let lock =
        fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(repo.join(".lock")).unwrap();
    rustix::fs::fcntl_lock(&lock, rustix::fs::FlockOperation::NonBlockingLockShared).unwrap();
    let export = ["export", GOLDEN_COMMIT, "--repo", p(&repo), "--ref", "a"];
    let (out, _) = run_within(&mut rejig.command(&export), Duration::from_secs(60));
    assert!(out.status.success(), "{}", report("rejig export beside a lock holder", &out));
    assert!(planted.iter().all(|n| present(n)), "removed while another process held the lock");
    drop(lock);

    // Alone, the next export removes them, and nothing else.
    let (out, _) = run_within(&mut rejig.command(&export), Duration::from_secs(60));
    assert!(out.status.success(), "{}", report("rejig export alone", &out));
    for name in planted {
        assert!(!present(name), "tmp/{name} is still there after an export had the repository to itself");
    }
    assert!(present("ostree-owned") && present("rejig-directory"), "only rejig's temp files go");
    ostree_fsck(&repo, 1);
}

// ----------------------------------------------------------------------------------------
// Closed pipe

#[test]
fn closed_pipe_on_stdout_is_a_quiet_exit_not_a_panic() {
    let package = corpus_package("rpm/RPMS/capstest-1.0-1.noarch.rpm");
    let rejig = Rejig::new();
    for args in [vec!["inspect", p(&package)], vec!["--json", "inspect", p(&package)]] {
        let mut cmd = rejig.command(&args);
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        // The reader goes away before rejig writes its report (`rejig … | head -0`).
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let what = format!("rejig {} | (closed)", args.join(" "));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{}", report(&what, &out));
        assert_eq!(out.status.code(), Some(0), "a closed pipe is a quiet exit:\n{}", report(&what, &out));
    }
}
