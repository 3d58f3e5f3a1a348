//! Issue 13: an edge host's store backed by the repository it feeds (`init --backed-by`),
//! on the jigdo fixture of the parent module, against real `ostree`: it keeps far less than
//! a copying store, fetches exactly what a copying store fetches, and never uses a wrong
//! byte when the repository loses or changes objects (deletion, bit rot, a concurrent
//! `ostree prune`), nor after a SIGKILL during an export or a gc.

use super::*;

use std::time::Duration;

/// Bytes of the store's packs and index: what the store keeps on disk.
fn store_bytes(store: &Path) -> u64 {
    let mut total = 0;
    let mut pending = vec![store.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                pending.push(entry.path());
            } else {
                total += meta.len();
            }
        }
    }
    total
}

/// A client whose store is backed by `repo`.
fn backed_client(repo: &Path) -> Rejig {
    let client = Rejig::new();
    let v = client.json(&["init", "--backed-by", p(repo)]);
    assert_eq!(
        v["backed_by"].as_str().map(PathBuf::from).and_then(|r| r.parent().map(Path::to_path_buf)),
        Some(std::path::absolute(repo.parent().unwrap()).unwrap()),
        "{v}"
    );
    client
}

/// The content checksum of a non-empty packaged regular file of version `version`'s tree
/// (the fixture's os-release is made by the compose, not by a package).
fn packaged_object(repo: &Path, version: usize, skip: usize) -> String {
    let f = &*FIXTURE;
    let mut files = Vec::new();
    let mut pending = vec![f.roots[version - 1].join("usr")];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                pending.push(path);
            } else if meta.is_file() && meta.len() > 16 && !path.ends_with("os-release") {
                files.push(path);
            }
        }
    }
    files.sort();
    // Content that only this file has: a copy elsewhere would let the store read it from
    // the other file's object.
    let mut copies = std::collections::HashMap::new();
    for file in &files {
        *copies.entry(fs::read(file).unwrap()).or_insert(0) += 1;
    }
    files.retain(|file| copies[&fs::read(file).unwrap()] == 1);
    let file = &files[skip % files.len()];
    let rel = file.strip_prefix(&f.roots[version - 1]).unwrap();
    let listing =
        ostree(&["ls", &format!("--repo={}", p(repo)), "-C", f.commit(version), &format!("/{}", rel.display())]);
    listing
        .split_whitespace()
        .find(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(|| panic!("no checksum in `ostree ls` of {}: {listing}", rel.display()))
        .to_owned()
}

#[test]
fn a_backed_store_keeps_each_file_once_and_fetches_what_a_copying_store_fetches() {
    let f = &*FIXTURE;
    let j = &*JIGDOS;
    let tmp = tempdir();
    let copying = Rejig::new();
    let copy_repo = tmp.path().join("copying");
    let repo = tmp.path().join("edge");
    let edge = backed_client(&repo);
    assert!(!repo.exists(), "init must not create the repository; the first export does");

    let mut copy_reports = Vec::new();
    let mut edge_reports = Vec::new();
    for version in 1..=3 {
        copy_reports.push(export(
            &copying,
            j.rpm(version),
            &[p(f.pkgs(version))],
            &copy_repo,
            "bare-user",
            f.commit(version),
        ));
        edge_reports.push(export(&edge, j.rpm(version), &[p(f.pkgs(version))], &repo, "bare-user", f.commit(version)));
        assert_exported(&repo, f.commit(version), tmp.path());
        edge.fsck_clean();
    }
    for (copy, backed) in copy_reports.iter().zip(&edge_reports) {
        for key in ["packages_needed", "packages_fetched", "bytes_fetched", "objects_written"] {
            assert_eq!(num(backed, key), num(copy, key), "{key} differs from the copying store:\n{copy}\n{backed}");
        }
    }
    assert_eq!(
        num(&edge_reports[1], "packages_fetched"),
        2,
        "an update fetches the changed packages: {}",
        edge_reports[1]
    );
    assert_eq!(num(&edge_reports[2], "packages_fetched"), 0, "a relabel fetches nothing: {}", edge_reports[2]);
    // The edge host's import writes the content straight into its repository (direct import);
    // the copying store's export writes it all.
    let at_import = |v: &Value| num(v, "objects_written_at_import");
    assert!(at_import(&edge_reports[0]) > 0, "a cold backed install imports into the repository: {}", edge_reports[0]);
    assert!(copy_reports.iter().all(|v| at_import(v) == 0), "a copying store's import writes no repository");

    let (copied, backed) = (store_bytes(copying.store()), store_bytes(edge.store()));
    let packs = |store: &Path| store_bytes(&store.join("packs"));
    eprintln!(
        "copying store {copied} B ({} B packs), backed store {backed} B ({} B packs)",
        packs(copying.store()),
        packs(edge.store())
    );
    let (copy_fsck, edge_fsck) = (copying.fsck_clean(), edge.fsck_clean());
    // What stays in packs: the manifests, the jigdo's parts, commit metadata; no file content.
    assert!(
        num(&edge_fsck, "blobs") * 10 < num(&copy_fsck, "blobs"),
        "the backed store keeps few blobs in packs:\ncopying {copy_fsck}\nbacked {edge_fsck}"
    );
    assert_eq!(num(&edge_fsck, "objects"), num(&copy_fsck, "objects"), "both stores know every object");
    assert!(
        packs(edge.store()) * 2 < packs(copying.store()),
        "the backed store's packs ({} B) must be far below the copying store's ({} B)",
        packs(edge.store()),
        packs(copying.store())
    );

    // The planner sees what the repository holds: nothing to fetch for any version.
    for version in 1..=3 {
        let planned = plan(&edge, j.rpm(version), p(f.pkgs(version)));
        assert_eq!(num(&planned, "bytes_to_fetch"), 0, "v{version} is in store and repository: {planned}");
    }
    // Exporting into another repository still works, as a copy, read from the repository.
    let elsewhere = tmp.path().join("elsewhere");
    let v = edge.export(f.commit(2), &elsewhere, &["--mode", "archive"]);
    assert_eq!(text(&v, "commit"), f.commit(2), "{v}");
    verify_exported_repo(&elsewhere, f.commit(2));
    // A repair rebuilds the index from the packs and finds the backed blobs again.
    let repaired = edge.json(&["fsck", "--repair"]);
    assert!(num(&repaired["repaired"], "backed_found") > 0, "{repaired}");
    let planned = plan(&edge, j.rpm(3), p(f.pkgs(2)));
    assert_eq!(num(&planned, "bytes_to_fetch"), 0, "a repair keeps what the repository holds: {planned}");
    edge.fsck_clean();
}

/// A backed client in `dir` with v1 installed into its bare-user repository.
fn installed_v1(dir: &Path) -> (PathBuf, Rejig) {
    let repo = dir.join("edge");
    let edge = backed_client(&repo);
    export(&edge, JIGDOS.rpm(1), &[p(FIXTURE.pkgs(1))], &repo, "bare-user", FIXTURE.commit(1));
    (repo, edge)
}

#[test]
fn a_lost_or_changed_repository_object_is_fetched_again_never_used() {
    let (f, j, tmp) = (&*FIXTURE, &*JIGDOS, tempdir());
    let (repo, edge) = installed_v1(tmp.path());

    // Deleted by hand: fsck says so; the next export warns, fetches the package again and
    // writes the same commit.
    let lost = packaged_object(&repo, 1, 0);
    fs::remove_file(loose_path(&repo, &lost, "file")).unwrap();
    let (out, _) = edge.fsck_raw(&[]);
    assert!(!out.status.success(), "fsck must report the lost object");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&lost[..12])
            || String::from_utf8_lossy(&out.stderr).contains(&lost[..12]),
        "fsck names {lost}:\n{}",
        report("fsck", &out)
    );
    let out =
        edge.run(&["--json", "export", p(j.rpm(1)), "--packages", p(f.pkgs(1)), "--repo", p(&repo), "--ref", REF]);
    assert!(out.status.success(), "{}", report("export after a deletion", &out));
    assert_stderr_mentions(&out, "gone", "the user is told that repository objects went missing");
    let v = parse_json("export", &out);
    assert!(num(&v, "packages_fetched") >= 1, "the package supplying the lost file is fetched again: {v}");
    assert_exported(&repo, f.commit(1), tmp.path());
    edge.fsck_clean();

    // Bit rot: the same size, other bytes. fsck reports it; repair drops the reference; the
    // next export fetches the package and puts the right bytes back into the repository.
    let rotten = packaged_object(&repo, 1, 1);
    let path = loose_path(&repo, &rotten, "file");
    let mut bytes = fs::read(&path).unwrap();
    bytes[0] ^= 0x55;
    let mode = fs::metadata(&path).unwrap().permissions();
    let mut perms = mode.clone();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    fs::set_permissions(&path, perms).unwrap();
    fs::write(&path, &bytes).unwrap();
    fs::set_permissions(&path, mode).unwrap();
    for dir in ["after-rot", "after-gc"] {
        fs::create_dir_all(tmp.path().join(dir)).unwrap();
    }
    let (out, _) = edge.fsck_raw(&[]);
    assert!(!out.status.success(), "fsck must report the changed object");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("changed"), "fsck says the object changed:\n{said}");
    let repaired = edge.json(&["fsck", "--repair"]);
    assert!(repaired["problems"].as_array().is_some_and(Vec::is_empty), "{repaired}");
    let v = export(&edge, j.rpm(1), &[p(f.pkgs(1))], &repo, "bare-user", f.commit(1));
    // Rebuilt from a package fetched again (or from a part the store keeps), never taken
    // from the changed object; the right bytes replace it in the repository.
    assert!(
        num(&v, "packages_fetched") + num(&v, "content_objects_checked") >= 1,
        "the changed file's object is rebuilt, not read from the repository: {v}"
    );
    assert_ne!(fs::read(&path).unwrap(), bytes, "the changed object was replaced");
    assert_exported(&repo, f.commit(1), &tmp.path().join("after-rot"));
    edge.fsck_clean();

    // gc drops references to objects that are gone, and says so.
    let lost = packaged_object(&repo, 1, 2);
    fs::remove_file(loose_path(&repo, &lost, "file")).unwrap();
    let out = edge.run(&["--json", "gc"]);
    assert!(out.status.success(), "{}", report("gc", &out));
    let v = parse_json("gc", &out);
    let said = v["backed_dropped"].as_array().is_some_and(|d| !d.is_empty())
        || String::from_utf8_lossy(&out.stderr).contains("gone");
    assert!(said, "gc says it dropped the reference:\n{}", report("gc", &out));
    edge.fsck_clean();
    let v = export(&edge, j.rpm(1), &[p(f.pkgs(1))], &repo, "bare-user", f.commit(1));
    assert!(num(&v, "packages_fetched") + num(&v, "content_objects_checked") >= 1, "{v}");
    assert_exported(&repo, f.commit(1), &tmp.path().join("after-gc"));
}

#[test]
fn ostree_prune_beside_a_backed_export_never_makes_it_use_a_wrong_object() {
    let (f, j, tmp) = (&*FIXTURE, &*JIGDOS, tempdir());
    let (repo, edge) = installed_v1(tmp.path());
    export(&edge, j.rpm(2), &[p(f.pkgs(2))], &repo, "bare-user", f.commit(2));
    for round in 0..3 {
        // The ref is at v2: a prune may delete everything only v1 needs, while v1 is exported.
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let pruner = {
            let (repo, done) = (repo.clone(), done.clone());
            std::thread::spawn(move || {
                let mut runs = 0;
                while !done.load(std::sync::atomic::Ordering::SeqCst) || runs == 0 {
                    let out = ostree_output(&["prune", &format!("--repo={}", p(&repo)), "--refs-only"]);
                    assert!(out.status.success(), "{}", report("ostree prune", &out));
                    runs += 1;
                    std::thread::sleep(Duration::from_millis(3 * round));
                }
            })
        };
        let v = export(&edge, j.rpm(1), &[p(f.pkgs(1))], &repo, "bare-user", f.commit(1));
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        pruner.join().unwrap();
        let scratch = tmp.path().join(format!("round-{round}"));
        fs::create_dir_all(&scratch).unwrap();
        assert_exported(&repo, f.commit(1), &scratch);
        eprintln!("round {round}: fetched {}", num(&v, "packages_fetched"));
        // A prune after the export took v2's objects: fsck reports the references, gc drops
        // them.
        edge.json(&["gc"]);
        edge.fsck_clean();
        // Back to v2, then prune v1's objects away for the next round.
        export(&edge, j.rpm(2), &[p(f.pkgs(2))], &repo, "bare-user", f.commit(2));
        ostree(&["prune", &format!("--repo={}", p(&repo)), "--refs-only"]);
        assert_exported(&repo, f.commit(2), &scratch);
    }
}

#[test]
fn sigkill_during_a_backed_export_or_gc_leaves_a_usable_store() {
    let f = &*FIXTURE;
    let j = &*JIGDOS;
    let tmp = tempdir();
    for (trial, delay) in [0u64, 40, 120, 250, 400, 700].into_iter().enumerate() {
        let repo = tmp.path().join(format!("edge-{trial}"));
        let edge = backed_client(&repo);
        export(&edge, j.rpm(1), &[p(f.pkgs(1))], &repo, "bare-user", f.commit(1));
        let args = ["export", p(j.rpm(2)), "--packages", p(f.pkgs(2)), "--repo", p(&repo), "--ref", REF];
        let mut child = edge.spawn(&args);
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
        edge.fsck_clean_after_kill();
        let v = export(&edge, j.rpm(2), &[p(f.pkgs(2))], &repo, "bare-user", f.commit(2));
        assert!(num(&v, "packages_fetched") <= 2, "killed at {delay} ms: {v}");
        assert_exported(&repo, f.commit(2), tmp.path());
        edge.fsck_clean();

        // gc killed at the same delay, after the v1 root is given up.
        let mut child = edge.spawn(&["gc", "--keep", "1"]);
        std::thread::sleep(Duration::from_millis(delay / 4));
        let _ = child.kill();
        let _ = child.wait();
        edge.fsck_clean_after_kill();
        let v = export(&edge, j.rpm(3), &[p(f.pkgs(2))], &repo, "bare-user", f.commit(3));
        assert_eq!(
            num(&v, "packages_fetched"),
            0,
            "gc killed at {} ms: a relabel still fetches nothing: {v}",
            delay / 4
        );
        assert_exported(&repo, f.commit(3), tmp.path());
        edge.json(&["gc"]);
        edge.fsck_clean();
    }
}

/// SIGKILL on entry to a chosen syscall of a backed v2 export (strace injection, one rayon
/// thread): the last pack rename of the main thread, which is adoption's new pack after the
/// ref moved, and the second unlink, adoption's deletion of the first released pack after its
/// index transaction. The store stays sound and the next export completes.
#[test]
fn sigkill_inside_adoption_leaves_every_blob_readable() {
    let (f, j, tmp) = (&*FIXTURE, &*JIGDOS, tempdir());
    let v2 = |repo: &Path| -> Vec<String> {
        ["export", p(j.rpm(2)), "--packages", p(f.pkgs(2)), "--repo", p(repo), "--ref", REF].map(String::from).into()
    };
    let strace = |edge: &Rejig, repo: &Path, extra: &[&str]| {
        let mut cmd = Command::new("strace");
        cmd.args(["-f", "-qq"]).args(extra).arg("--").arg(rejig_bin()).arg("--store").arg(edge.store()).args(v2(repo));
        cmd.env("RAYON_NUM_THREADS", "1").env_remove("REJIG_STORE");
        run(&mut cmd)
    };
    // Calibration: the main thread's pack renames in an uninterrupted run.
    let calibration = tmp.path().join("calibration");
    let (repo, edge) = installed_v1(&calibration);
    let trace = calibration.join("trace");
    let out = strace(&edge, &repo, &["-o", p(&trace), "-e", "trace=execve,rename"]);
    assert!(out.status.success(), "{}", report("strace rejig export", &out));
    let lines = fs::read_to_string(&trace).unwrap();
    // The thread that execs rejig is its main thread; the first rename may be another's.
    let exec = lines.lines().find(|l| l.contains(" execve(")).expect("strace shows the exec");
    let main = exec.split_whitespace().next().unwrap().to_owned();
    // strace pads the pid column, so split on whitespace rather than match "PID rename(".
    let by_main = |l: &&str| {
        let mut words = l.split_whitespace();
        words.next() == Some(main.as_str()) && words.next().is_some_and(|call| call.starts_with("rename("))
    };
    let renames = lines.lines().filter(by_main).filter(|l| l.contains(".pack")).count();
    assert!(renames >= 1, "no pack rename in the main thread:\n{lines}");

    for (trial, inject) in
        [format!("inject=rename:signal=KILL:when={renames}"), "inject=unlink:signal=KILL:when=2".into()]
            .iter()
            .enumerate()
    {
        let dir = tmp.path().join(format!("trial-{trial}"));
        let (repo, edge) = installed_v1(&dir);
        let out = strace(&edge, &repo, &["-o", "/dev/null", "-e", inject]);
        assert!(!out.status.success(), "{inject} did not kill the export:\n{}", report("strace", &out));
        edge.fsck_clean();
        let v = export(&edge, j.rpm(2), &[p(f.pkgs(2))], &repo, "bare-user", f.commit(2));
        assert!(num(&v, "packages_fetched") <= 2, "after {inject}: {v}");
        assert_exported(&repo, f.commit(2), &dir);
        edge.fsck_clean();
        let v = export(&edge, j.rpm(3), &[p(f.pkgs(2))], &repo, "bare-user", f.commit(3));
        assert_eq!(num(&v, "packages_fetched"), 0, "after {inject}, a relabel fetches nothing: {v}");
    }
}

/// SIGKILL between a direct import's writes and its record (the first `syncfs`, which makes
/// the repository durable before the index names anything in it; strace injection): the
/// objects are in the repository, unreferenced, and the store has recorded nothing. `fsck`
/// is clean, and the next export completes, fetching every package again.
#[test]
fn sigkill_before_a_direct_import_is_recorded_leaves_unreferenced_objects_only() {
    let (f, j, tmp) = (&*FIXTURE, &*JIGDOS, tempdir());
    let repo = tmp.path().join("edge");
    let edge = backed_client(&repo);
    let args =
        ["export", p(j.rpm(1)), "--packages", p(f.pkgs(1)), "--repo", p(&repo), "--mode", "bare-user", "--ref", REF];
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-qq", "-o", "/dev/null", "-e", "inject=syncfs:signal=KILL:when=1", "--"]);
    cmd.arg(rejig_bin()).arg("--store").arg(edge.store()).args(args);
    cmd.env_remove("REJIG_STORE");
    let out = run(&mut cmd);
    assert!(!out.status.success(), "the first syncfs did not kill the export:\n{}", report("strace", &out));
    let objects = fs::read_dir(repo.join("objects")).map_or(0, |dirs| dirs.count());
    assert!(objects > 0, "the import wrote no object before it was killed");
    assert!(!repo.join("refs/heads").join(REF).exists(), "the ref moved");
    let checked = edge.fsck_clean();
    assert_eq!(num(&checked, "packages"), 0, "a package was recorded: {checked}");
    let v = export(&edge, j.rpm(1), &[p(f.pkgs(1))], &repo, "bare-user", f.commit(1));
    assert_eq!(num(&v, "packages_fetched"), num(&v, "packages_total"), "{v}");
    assert_exported(&repo, f.commit(1), tmp.path());
    edge.fsck_clean();
    let v = export(&edge, j.rpm(2), &[p(f.pkgs(2))], &repo, "bare-user", f.commit(2));
    assert_eq!(num(&v, "packages_fetched"), 2, "{v}");
    assert_exported(&repo, f.commit(2), tmp.path());
}

/// An archive repository backs a store too: its `.filez` objects are inflated and checked on
/// every read (fsck reads them all; an export into another repository copies from them).
#[test]
fn an_archive_repository_backs_a_store_too() {
    let (f, j, tmp) = (&*FIXTURE, &*JIGDOS, tempdir());
    let repo = tmp.path().join("archive");
    let edge = backed_client(&repo);
    export(&edge, j.rpm(1), &[p(f.pkgs(1))], &repo, "archive", f.commit(1));
    let checked = edge.fsck_clean();
    assert!(num(&checked, "blobs") < 50, "the content is read from the .filez objects, not packs: {checked}");
    let copy = tmp.path().join("copy");
    let v = edge.export(f.commit(1), &copy, &["--mode", "bare-user"]);
    assert_eq!(text(&v, "commit"), f.commit(1), "{v}");
    verify_exported_repo(&copy, f.commit(1));
    let v = export(&edge, j.rpm(2), &[p(f.pkgs(2))], &repo, "archive", f.commit(2));
    assert_eq!(num(&v, "packages_fetched"), 2, "{v}");
    assert_exported(&repo, f.commit(2), tmp.path());
}
