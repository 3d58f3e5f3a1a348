//! Jigdo parts end to end, the way a distributor publishes and a client updates: `rejig build
//! --output-dir` into one directory with the packages, `createrepo_c` over it, the loopback
//! HTTP server serving it, and clients exporting jigdos named by URL with the repository as
//! their only source. The counts are exact: an update fetches the parts its store lacks and
//! nothing else.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use rejig_format::jigdo::{part_file_name, JigdoHead, PartKind};
use rejig_test_support::server::Server;
use serde_json::Value;

use crate::util::jigdo_fixture::Fixture;
use crate::util::{assert_stderr_mentions, num, ostree_commit, p, report, run, text, verify_exported_repo, Rejig};

/// The distinct part file names of a jigdo.
fn part_names(head: &JigdoHead) -> BTreeSet<String> {
    head.unique_parts().iter().map(|part| part_file_name(&part.content)).collect()
}

fn head(path: &Path) -> JigdoHead {
    rejig_importer::jigdo::read_jigdo(path).unwrap().head
}

/// `rejig build --output-dir DIR` of ref `os`: the report and the jigdo written.
fn build(rejig: &Rejig, compose: &Path, packages: &Path, dir: &Path) -> (Value, PathBuf) {
    let v = rejig.json(&[
        "build",
        "--repo",
        p(compose),
        "--rev",
        "os",
        "--packages",
        p(packages),
        "--name",
        "os",
        "--output-dir",
        p(dir),
    ]);
    let output = PathBuf::from(text(&v, "output"));
    assert_eq!(output.parent(), Some(dir), "{v}");
    assert!(output.file_name().unwrap().to_string_lossy().starts_with("os-0-"), "named by NEVRA: {v}");
    (v, output)
}

/// The part files a client asked the server for.
fn fetched_parts(server: &Server) -> BTreeSet<String> {
    server
        .seen()
        .into_iter()
        .filter_map(|s| s.path.rsplit('/').next().map(str::to_owned))
        .filter(|name| name.starts_with("rejig-part-"))
        .collect()
}

/// `published/` in the fixture's directory, holding copies of the fixture's packages, as a
/// distributor publishes them beside jigdos and parts.
fn published_with_packages(fixture: &Fixture) -> PathBuf {
    let published = fixture.dir.path().join("published");
    fs::create_dir_all(&published).unwrap();
    for entry in fs::read_dir(&fixture.packages).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), published.join(entry.file_name())).unwrap();
    }
    published
}

/// [`published_with_packages`], with the fixture's jigdo and parts built into it and its repodata.
fn published_with_jigdo(fixture: &Fixture) -> (PathBuf, PathBuf) {
    let published = published_with_packages(fixture);
    let (_, jigdo) = build(&Rejig::new(), &fixture.dir.path().join("compose"), &fixture.packages, &published);
    createrepo(&published);
    (published, jigdo)
}

/// `export URL/JIGDO --packages SOURCE --repo REPO --ref os` with `--json`, the jigdo named
/// by its file name under `base` (a server's URL).
fn export_by_url(client: &Rejig, base: &str, jigdo: &Path, source: &str, repo: &Path) -> Value {
    let jigdo_url = format!("{base}{}", jigdo.file_name().unwrap().to_string_lossy());
    client.json(&["export", &jigdo_url, "--packages", source, "--repo", p(repo), "--ref", "os"])
}

fn createrepo(dir: &Path) {
    let out = run(Command::new("createrepo_c").args(["--no-database", "--simple-md-filenames", p(dir)]));
    assert!(out.status.success(), "{}", report("createrepo_c", &out));
}

/// A regular file under `root` that a package installed (not the fixture's os-release).
fn packaged_file(root: &Path) -> PathBuf {
    let mut pending = vec![root.join("usr")];
    while let Some(dir) = pending.pop() {
        let mut entries: Vec<_> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for path in entries {
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                pending.push(path);
            } else if meta.is_file() && meta.len() > 0 && !path.ends_with("os-release") {
                return path;
            }
        }
    }
    panic!("no packaged file under {}", root.display())
}

#[test]
fn updates_over_rpm_md_fetch_exactly_the_parts_that_changed() {
    let fixture = Fixture::new();
    let dir = fixture.dir.path();
    let (compose, root) = (dir.join("compose"), dir.join("root"));
    let published = published_with_packages(&fixture);
    let builder = Rejig::new();

    // v1: the fixture's commit. Every part is new to the directory.
    let (v1, jigdo1) = build(&builder, &compose, &fixture.packages, &published);
    assert_eq!(text(&v1, "commit"), fixture.commit);
    assert_eq!(num(&v1, "parts_new"), num(&v1, "parts_total"), "{v1}");
    assert!(num(&v1, "parts_total") >= 1 && num(&v1, "parts_bytes") > 0, "{v1}");
    // Same input, same bytes: building again writes nothing new and the same jigdo.
    let before = fs::read(&jigdo1).unwrap();
    let (again, _) = build(&builder, &compose, &fixture.packages, &published);
    assert_eq!((num(&again, "parts_new"), num(&again, "parts_new_bytes")), (0, 0), "{again}");
    assert_eq!(fs::read(&jigdo1).unwrap(), before, "the same commit gives the same jigdo bytes");

    // v2: one file changed.
    fs::write(root.join("usr/os-release"), "NAME=hostile\nVERSION=2\n").unwrap();
    let commit2 = ostree_commit(&compose, "os", &root, "v2");
    let (v2, jigdo2) = build(&builder, &compose, &fixture.packages, &published);
    // v3: a relabel, the same bytes with another mode.
    let victim = packaged_file(&root);
    fs::set_permissions(&victim, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let commit3 = ostree_commit(&compose, "os", &root, "v3");
    let (v3, jigdo3) = build(&builder, &compose, &fixture.packages, &published);
    let (h1, h2, h3) = (head(&jigdo1), head(&jigdo2), head(&jigdo3));
    let changed2: BTreeSet<String> = part_names(&h2).difference(&part_names(&h1)).cloned().collect();
    let changed3: BTreeSet<String> = part_names(&h3).difference(&part_names(&h2)).cloned().collect();
    assert_eq!(num(&v2, "parts_new") as usize, changed2.len(), "build writes only the parts the directory lacks: {v2}");
    assert_eq!(num(&v3, "parts_new") as usize, changed3.len(), "{v3}");
    assert!(!changed2.is_empty() && !changed3.is_empty());
    eprintln!(
        "[parts] v1 {} parts; one-file update {} new; relabel {} new",
        part_names(&h1).len(),
        changed2.len(),
        changed3.len()
    );

    createrepo(&published);
    let server = Server::start(&published);
    let url = server.url();
    let client = Rejig::new();
    let repo = dir.join("client-repo");
    let export = |jigdo: &Path| export_by_url(&client, &url, jigdo, &url, &repo);

    // A fresh client fetches every part of v1, and every package.
    let got1 = export(&jigdo1);
    assert_eq!(text(&got1, "commit"), fixture.commit);
    assert_eq!(num(&got1, "parts_fetched"), part_names(&h1).len() as u64, "{got1}");
    assert_eq!(fetched_parts(&server), part_names(&h1), "a fresh client fetches all the parts");
    assert!(num(&got1, "part_bytes_downloaded") > 0, "{got1}");

    // The one-file update fetches exactly the parts that changed, and no package.
    let seen = server.seen().len();
    let got2 = export(&jigdo2);
    assert_eq!(text(&got2, "commit"), commit2);
    assert_eq!(num(&got2, "parts_fetched") as usize, changed2.len(), "{got2}");
    assert_eq!(num(&got2, "packages_fetched"), 0, "{got2}");
    let asked: BTreeSet<String> = server.seen()[seen..]
        .iter()
        .filter_map(|s| s.path.rsplit('/').next().map(str::to_owned))
        .filter(|n| n.starts_with("rejig-part-"))
        .collect();
    assert_eq!(asked, changed2, "the one-file update asks for exactly the changed parts");
    // Time follows the change: the plan enters only the directories on the changed path.
    assert!(num(&got2, "subtrees_reused") > 0, "{got2}");
    assert!(
        num(&got2, "content_objects_checked") < num(&got2, "content_objects"),
        "a one-file update does not visit every object: {got2}"
    );

    // The relabel fetches only changed records parts, and no package.
    let seen = server.seen().len();
    let got3 = export(&jigdo3);
    assert_eq!(text(&got3, "commit"), commit3);
    assert_eq!(num(&got3, "parts_fetched") as usize, changed3.len(), "{got3}");
    assert_eq!(num(&got3, "packages_fetched"), 0, "{got3}");
    let asked: BTreeSet<String> = server.seen()[seen..]
        .iter()
        .filter_map(|s| s.path.rsplit('/').next().map(str::to_owned))
        .filter(|n| n.starts_with("rejig-part-"))
        .collect();
    assert_eq!(asked, changed3);
    let kinds: BTreeSet<PartKind> =
        h3.unique_parts().iter().filter(|p| changed3.contains(&part_file_name(&p.content))).map(|p| p.kind).collect();
    assert_eq!(kinds, BTreeSet::from([PartKind::Records]), "a relabel changes metadata parts only");
    verify_exported_repo(&repo, &commit3);

    // A mirror made of plain copies of what primary lists (and repodata) serves a fresh
    // client as well.
    let mirror = dir.join("mirror");
    fs::create_dir_all(mirror.join("repodata")).unwrap();
    let primary = run(Command::new("sh").arg("-c").arg(format!("gzip -dc {}/repodata/primary.xml.gz", p(&published))));
    let primary = String::from_utf8(primary.stdout).unwrap();
    let mut copied = 0;
    for href in primary.split("<location href=\"").skip(1).filter_map(|rest| rest.split('"').next()) {
        fs::copy(published.join(href), mirror.join(href)).unwrap();
        copied += 1;
    }
    for entry in fs::read_dir(published.join("repodata")).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), mirror.join("repodata").join(entry.file_name())).unwrap();
    }
    let expected = fs::read_dir(&fixture.packages).unwrap().count()
        + 3
        + part_names(&h1).union(&part_names(&h2)).count()
        + changed3.len();
    assert_eq!(copied, expected, "primary lists the packages, the three jigdos and every part");
    let fresh = Rejig::new();
    let mirror_repo = dir.join("mirror-repo");
    let jigdo_in_mirror = mirror.join(jigdo3.file_name().unwrap());
    let got = fresh.json(&[
        "export",
        p(&jigdo_in_mirror),
        "--packages",
        &format!("file://{}", mirror.display()),
        "--repo",
        p(&mirror_repo),
    ]);
    assert_eq!(text(&got, "commit"), commit3);
    verify_exported_repo(&mirror_repo, &commit3);
}

#[test]
fn plan_lists_parts_then_packages_and_inspect_shows_parts() {
    let fixture = Fixture::new();
    let client = Rejig::new();
    let plan = client.json(&["plan", p(&fixture.jigdo), "--packages", p(&fixture.packages)]);
    let head = head(&fixture.jigdo);
    assert_eq!(num(&plan, "parts_total") as usize, head.unique_parts().len(), "{plan}");
    assert_eq!(num(&plan, "parts_needed"), num(&plan, "parts_total"), "{plan}");
    let listed = plan["parts"].as_array().unwrap();
    assert_eq!(listed.len(), head.unique_parts().len());
    let bytes: u64 = head.unique_parts().iter().map(|p| p.file_size).sum();
    assert_eq!(num(&plan, "part_bytes_to_fetch"), bytes, "{plan}");
    assert!(listed.iter().all(|p| p["location"].is_string()), "the parts beside the jigdo are offered: {plan}");
    assert!(num(&plan, "packages_needed") > 0, "{plan}");
    // Plan stores nothing: the store is still empty.
    assert_eq!(num(&client.fsck_clean(), "blobs"), 0);

    let inspected = Rejig::new().json(&["inspect", p(&fixture.jigdo)]);
    assert_eq!(inspected["parts"].as_array().unwrap().len(), head.unique_parts().len(), "{inspected}");
    assert!(inspected["parts"].as_array().unwrap().iter().all(|p| p["present"] == true), "{inspected}");
    assert!(inspected["objects_total"].is_u64(), "{inspected}");
}

#[test]
fn gc_keeps_the_parts_of_kept_roots_and_mirror_prune_keeps_what_kept_jigdos_need() {
    let fixture = Fixture::new();
    let dir = fixture.dir.path();
    let (compose, root) = (dir.join("compose"), dir.join("root"));
    let published = dir.join("published");
    fs::create_dir_all(&published).unwrap();
    let builder = Rejig::new();
    let (_, jigdo1) = build(&builder, &compose, &fixture.packages, &published);
    fs::write(root.join("usr/os-release"), "NAME=hostile\nVERSION=2\n").unwrap();
    let commit2 = ostree_commit(&compose, "os", &root, "v2");
    let (_, jigdo2) = build(&builder, &compose, &fixture.packages, &published);
    let (h1, h2) = (head(&jigdo1), head(&jigdo2));
    let only1: BTreeSet<String> = part_names(&h1).difference(&part_names(&h2)).cloned().collect();

    // The store keeps the parts with the commit: gc leaves them, and the next export of the
    // same jigdo fetches none.
    let client = Rejig::new();
    let export = |jigdo: &Path, repo: &str| {
        client.json(&["export", p(jigdo), "--packages", p(&fixture.packages), "--repo", p(&dir.join(repo))])
    };
    assert_eq!(num(&export(&jigdo1, "r1"), "parts_fetched") as usize, part_names(&h1).len());
    client.json(&["gc"]);
    client.fsck_clean();
    assert_eq!(num(&export(&jigdo1, "r2"), "parts_fetched"), 0, "gc kept the parts of a kept root");
    assert_eq!(
        num(&export(&jigdo2, "r3"), "parts_fetched") as usize,
        part_names(&h2).difference(&part_names(&h1)).count()
    );
    // Keeping only v2's root drops the parts only v1 needed.
    client.json(&["gc", "--keep", "1"]);
    client.fsck_clean();
    let again = export(&jigdo1, "r4");
    assert_eq!(num(&again, "parts_fetched") as usize, only1.len(), "gc dropped the parts only v1 needed: {again}");

    // An .rpm whose headers cannot be read might be a jigdo: prune refuses, deleting nothing.
    let garbage = published.join("unreadable.rpm");
    fs::write(&garbage, b"not an rpm at all").unwrap();
    let refused = builder.fails(&["mirror", "prune", p(&published), "--keep", "1"]);
    assert_stderr_mentions(&refused, "unreadable.rpm", "the refusal names the file");
    assert!(jigdo1.exists() && only1.iter().all(|name| published.join(name).exists()), "a refused prune deleted");
    fs::remove_file(&garbage).unwrap();

    // mirror prune --keep 1: v1's jigdo and the parts only it needs go; v2 still exports
    // from the pruned directory.
    let pruned = builder.json(&["mirror", "prune", p(&published), "--keep", "1"]);
    assert_eq!(pruned["jigdos_deleted"].as_array().unwrap().len(), 1, "{pruned}");
    assert_eq!(num(&pruned, "parts_deleted") as usize, only1.len(), "{pruned}");
    assert_eq!(num(&pruned, "parts_kept") as usize, part_names(&h2).len(), "{pruned}");
    assert_eq!(text(&pruned, "next"), format!("createrepo_c --update {}", published.display()));
    assert!(!jigdo1.exists() && jigdo2.exists());
    for name in &only1 {
        assert!(!published.join(name).exists(), "{name} survived the prune");
    }
    let fresh = Rejig::new();
    let v =
        fresh.json(&["export", p(&jigdo2), "--packages", p(&fixture.packages), "--repo", p(&dir.join("after-prune"))]);
    assert_eq!(text(&v, "commit"), commit2);
    // Nothing left to prune.
    let twice = builder.json(&["mirror", "prune", p(&published), "--keep", "1"]);
    assert_eq!((num(&twice, "parts_deleted"), twice["jigdos_deleted"].as_array().unwrap().len()), (0, 0), "{twice}");
}

#[test]
fn sigkill_during_a_part_fetch_leaves_the_store_sound_and_the_rerun_completes() {
    let fixture = Fixture::new();
    let dir = fixture.dir.path();
    let (published, jigdo) = published_with_jigdo(&fixture);
    let h = head(&jigdo);
    // The largest part stalls after a few bytes: the client is killed while it waits.
    let victim = h.unique_parts().into_iter().max_by_key(|p| p.file_size).unwrap().clone();
    let victim_name = part_file_name(&victim.content);
    let server = Server::start(&published);
    let url = server.url();
    server.fault(&victim_name, rejig_test_support::server::Fault::Stall { after: 100 }, 1);
    let client = Rejig::new();
    let repo = dir.join("repo");
    let jigdo_url = format!("{url}{}", jigdo.file_name().unwrap().to_string_lossy());
    let args = ["export", jigdo_url.as_str(), "--packages", url.as_str(), "--repo", p(&repo), "--http-timeout", "60"];
    let mut child = client.spawn(&args);
    let started = std::time::Instant::now();
    while server.seen_for(&victim_name).is_empty() {
        assert!(started.elapsed().as_secs() < 60, "the client never asked for {victim_name}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    child.kill().unwrap();
    assert!(!child.wait().unwrap().success());
    // Nothing of the jigdo is in the store, nothing in the repository.
    let after = client.fsck_clean();
    assert_eq!(num(&after, "objects"), 0, "{after}");
    assert!(!repo.join("refs").exists() || fs::read_dir(repo.join("refs/heads")).map(|d| d.count()).unwrap_or(0) == 0);
    // The rerun completes and fetches every part.
    let v = client.json(&args);
    assert_eq!(text(&v, "commit"), fixture.commit);
    assert_eq!(num(&v, "parts_fetched") as usize, h.unique_parts().len(), "{v}");
    verify_exported_repo(&repo, &fixture.commit);
}

/// The names of the files a client asked `server` for since request `since`.
fn asked_since(server: &Server, since: usize) -> Vec<String> {
    server.seen()[since..].iter().map(|s| s.path.trim_start_matches('/').to_owned()).collect()
}

#[test]
fn a_url_jigdo_gets_its_files_beside_it_and_reads_repodata_only_for_what_is_not_there() {
    let fixture = Fixture::new();
    let dir = fixture.dir.path();
    let (compose, root) = (dir.join("compose"), dir.join("root"));
    // Published as `build --output-dir` and a distributor would: packages, jigdo and parts in
    // one directory. Its repodata is made for v1 and never updated, so it knows nothing of
    // v2's parts.
    let published = published_with_packages(&fixture);
    let builder = Rejig::new();
    let (_, jigdo1) = build(&builder, &compose, &fixture.packages, &published);
    createrepo(&published);
    fs::write(root.join("usr/os-release"), "NAME=hostile\nVERSION=2\n").unwrap();
    let commit2 = ostree_commit(&compose, "os", &root, "v2");
    let (_, jigdo2) = build(&builder, &compose, &fixture.packages, &published);
    let (h1, h2) = (head(&jigdo1), head(&jigdo2));
    let changed: BTreeSet<String> = part_names(&h2).difference(&part_names(&h1)).cloned().collect();
    assert!(!changed.is_empty());

    let server = Server::start(&published);
    let url = server.url();
    let client = Rejig::new();
    let repo = dir.join("client-repo");
    let export = |jigdo: &Path| export_by_url(&client, &url, jigdo, &url, &repo);

    // A fresh client: the jigdo, every part and every package, all from beside the jigdo, and
    // not one byte of repodata.
    let got1 = export(&jigdo1);
    assert_eq!(text(&got1, "commit"), fixture.commit);
    let asked = asked_since(&server, 0);
    assert!(asked.iter().all(|a| !a.starts_with("repodata/")), "repodata was read: {asked:?}");
    assert_eq!(got1["sources_read"], false, "{got1}");
    let packages = num(&got1, "packages_fetched");
    assert!(packages > 0, "{got1}");
    assert_eq!(num(&got1, "files_fetched_beside_jigdo"), part_names(&h1).len() as u64 + packages, "{got1}");
    assert_eq!(asked.len() as u64, 1 + part_names(&h1).len() as u64 + packages, "one request per file: {asked:?}");
    assert!(asked.iter().all(|a| published.join(a).is_file()), "nothing was asked that is not there: {asked:?}");

    // The one-file update: the jigdo and exactly the changed parts, although the repodata
    // does not list them.
    let since = server.seen().len();
    let got2 = export(&jigdo2);
    assert_eq!(text(&got2, "commit"), commit2);
    let mut want: BTreeSet<String> = changed.clone();
    want.insert(jigdo2.file_name().unwrap().to_string_lossy().into_owned());
    let asked = asked_since(&server, since);
    assert_eq!(asked.iter().cloned().collect::<BTreeSet<_>>(), want, "{asked:?}");
    assert_eq!(asked.len(), want.len(), "each file once: {asked:?}");
    assert_eq!(got2["sources_read"], false, "{got2}");
    // Time follows the change in the repository too: only the changed file, the directories
    // above it and the commit are looked at, though every object is counted.
    let visited = num(&got2, "objects_visited");
    assert!(visited <= 6, "a one-file update visits the changed path only, not {visited} objects: {got2}");
    assert!(num(&got2, "objects_total") > 2 * visited, "{got2}");
    assert_eq!(num(&got2, "objects_written") + num(&got2, "objects_reused"), num(&got2, "objects_total"), "{got2}");
    verify_exported_repo(&repo, &commit2);

    // Published apart from its packages: the parts come from beside the jigdo, the packages
    // (after one failed probe) from the repository given as source.
    let apart = dir.join("apart");
    fs::create_dir_all(&apart).unwrap();
    fs::copy(&jigdo2, apart.join(jigdo2.file_name().unwrap())).unwrap();
    for name in part_names(&h2) {
        fs::copy(published.join(&name), apart.join(&name)).unwrap();
    }
    let jigdos = Server::start(&apart);
    let fresh = Rejig::new();
    let repo2 = dir.join("fresh-repo");
    let since = server.seen().len();
    let got = export_by_url(&fresh, &jigdos.url(), &jigdo2, &url, &repo2);
    assert_eq!(text(&got, "commit"), commit2);
    assert_eq!(got["sources_read"], true, "{got}");
    assert_eq!(num(&got, "files_fetched_beside_jigdo"), part_names(&h2).len() as u64, "{got}");
    let missing: Vec<String> = asked_since(&jigdos, 0).into_iter().filter(|a| !apart.join(a).is_file()).collect();
    assert_eq!(missing.len(), 1, "one probe for packages beside the jigdo: {missing:?}");
    let from_repo = asked_since(&server, since);
    assert!(from_repo.iter().any(|a| a.starts_with("repodata/")), "{from_repo:?}");
    assert!(from_repo.iter().all(|a| !a.starts_with("rejig-part-")), "parts came from beside the jigdo: {from_repo:?}");
    verify_exported_repo(&repo2, &commit2);
}

/// Fetch results reach the imports one by one, from two rounds: beside the jigdo, then the
/// sources' catalog for what was not there. A package missing beside the jigdo must come
/// from the sources and land in its own place among the others.
#[test]
fn a_package_missing_beside_the_jigdo_comes_from_the_sources_and_the_rest_from_beside() {
    let fixture = Fixture::new();
    let dir = fixture.dir.path();
    let (published, jigdo) = published_with_jigdo(&fixture);
    // The same directory without its last package file, and without repodata.
    let partial = dir.join("partial");
    fs::create_dir_all(&partial).unwrap();
    let mut packages: Vec<String> = fs::read_dir(&fixture.packages)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    packages.sort();
    assert!(packages.len() > 2, "{packages:?}");
    let gone = packages.last().unwrap().clone();
    for entry in fs::read_dir(&published).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() && entry.file_name().to_string_lossy() != gone {
            fs::copy(entry.path(), partial.join(entry.file_name())).unwrap();
        }
    }
    let beside = Server::start(&partial);
    let sources = Server::start(&published);
    let client = Rejig::new();
    let repo = dir.join("client-repo");
    let got = export_by_url(&client, &beside.url(), &jigdo, &sources.url(), &repo);
    assert_eq!(text(&got, "commit"), fixture.commit);
    let fetched = num(&got, "packages_fetched");
    assert_eq!(fetched, packages.len() as u64, "{got}");
    let parts = part_names(&head(&jigdo)).len() as u64;
    assert_eq!(num(&got, "files_fetched_beside_jigdo"), parts + fetched - 1, "{got}");
    assert_eq!(got["sources_read"], true, "{got}");
    let from_sources: Vec<String> =
        asked_since(&sources, 0).into_iter().filter(|a| !a.starts_with("repodata/")).collect();
    assert_eq!(from_sources, vec![gone], "only the missing package came from the sources");
    verify_exported_repo(&repo, &fixture.commit);
}
