//! The durability order itself, read from the syscalls `rejig` makes (`strace -f -y`), as
//! FORMAT.md §5 states it.
//!
//! Store, for every pack a run writes: the pack's bytes are written only under `tmp/` and
//! fsynced after the last of them; then renamed into `packs/`; then `packs/` is fsynced by the
//! same thread; only after that is `index.redb` written, and the write is followed by a sync of
//! `index.redb` (redb's commit). The index write looked at is the renaming thread's next one
//! (a batch committed where it was written, with packages importing side by side), or, when
//! that thread never writes the index, the next one of any thread (`export JIGDO` records
//! every package's pack in one transaction after all are imported). Nothing is ever written to
//! a file in `packs/`.
//!
//! Repository: the `commitpartial` marker is created and fsynced (with `state/`) before the
//! first object is published; objects get their names only by `linkat` of an `O_TMPFILE` (or a
//! no-replace rename), never by creating a file in `objects/`, and no object file is written,
//! chmodded, chowned or labelled once it has a name; every object is published before a
//! `syncfs` of the repository that itself precedes the commit object's publication; another
//! `syncfs` follows the commit object; the marker is removed after it; the ref is written to a
//! temp file, fsynced, renamed to `refs/heads/NAME`, and the directory is fsynced after.
//!
//! Covered: `import PKGS` into a new store, `export COMMIT` into new archive and bare-user
//! repositories, and `export JIGDO.rpm` (both sides at once) into a new bare-user repository.
#![allow(clippy::unwrap_used)]

use crate::util;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use util::*;

const REF: &str = "ord/os";
const PACKAGES: usize = 4;

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("rejig-order-").tempdir().expect("temp dir")
}

// ----------------------------------------------------------------------------------------
// Fixture: a few packages, and a commit made by `ostree commit` of their files

struct Fixture {
    dir: tempfile::TempDir,
    packages: PathBuf,
    src: PathBuf,
    commit: String,
}

fn fixture() -> Fixture {
    let dir = tempdir();
    let packages = dir.path().join("packages");
    let root = dir.path().join("root");
    fs::create_dir_all(&packages).unwrap();
    let mut rng = Rng::new(0x0dde_2024);
    for i in 0..PACKAGES {
        let name = format!("ord-{i}");
        let mut builder = rpm::PackageBuilder::new(&name, "1.0", "MIT", "noarch", "durability order fixture");
        builder.using_config(rpm::BuildConfig::v4().compression(rpm::CompressionType::Zstd).source_date(1u32));
        for f in 0..8 {
            let len = rng.range(100, 200 * 1024) as usize;
            let bytes = if f % 2 == 0 { rng.bytes(len) } else { rng.text(len) };
            let path = format!("/usr/share/{name}/f{f}");
            let on_disk = root.join(path.trim_start_matches('/'));
            fs::create_dir_all(on_disk.parent().unwrap()).unwrap();
            fs::write(&on_disk, &bytes).unwrap();
            builder.with_file_contents(bytes, rpm::FileOptions::new(path.as_str()).permissions(0o644)).unwrap();
        }
        builder.build().unwrap().write_file(packages.join(format!("{name}-1.0-1.noarch.rpm"))).unwrap();
    }
    // Content no package holds, and a symlink.
    fs::write(root.join("usr/share/generated"), b"made by the compose\n").unwrap();
    std::os::unix::fs::symlink("ord-0/f0", root.join("usr/share/link")).unwrap();
    let src = dir.path().join("src");
    ostree_init(&src, "archive");
    let commit = ostree_commit(&src, "ord/src", &root, "durability order");
    Fixture { dir, packages, src, commit }
}

// ----------------------------------------------------------------------------------------
// Traces

/// One syscall as `strace -f -y` printed it (an `<unfinished ...>` call joined with its
/// `<... resumed>` end).
#[derive(Clone, Debug)]
struct Call {
    tid: u32,
    name: String,
    /// The arguments as printed, fds annotated with their paths (`5</a/b>`).
    args: String,
    /// The return value as printed (`0`, `8</path>`, `-1 ENOENT …`).
    ret: String,
    /// Line numbers where the call started and returned.
    start: usize,
    end: usize,
    /// The lines themselves, for messages.
    text: String,
}

impl Call {
    fn ok(&self) -> bool {
        !self.ret.starts_with('-')
    }
    /// The path of the first argument when it is an annotated fd.
    fn fd_path(&self) -> Option<&str> {
        let rest = self.args.trim_start();
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let rest = rest[digits..].strip_prefix('<')?;
        Some(&rest[..rest.find('>')?])
    }
    /// The quoted string arguments, in order.
    fn strings(&self) -> Vec<&str> {
        self.args.split('"').skip(1).step_by(2).collect()
    }
    fn is_write(&self) -> bool {
        ["write", "pwrite64", "writev", "pwritev", "pwritev2", "ftruncate"].contains(&self.name.as_str())
    }
    fn is_sync(&self) -> bool {
        ["fsync", "fdatasync"].contains(&self.name.as_str())
    }
    fn is_rename(&self) -> bool {
        ["rename", "renameat", "renameat2"].contains(&self.name.as_str())
    }
}

/// The file operations `rejig` makes; any other syscall is left out of the trace.
const TRACED: &str = "openat,open,creat,write,pwrite64,writev,pwritev,pwritev2,ftruncate,fsync,fdatasync,syncfs,\
                      sync_file_range,rename,renameat,renameat2,link,linkat,unlink,unlinkat,fsetxattr,fchmod,fchown,\
                      utimensat,symlink,symlinkat";

struct Trace {
    calls: Vec<Call>,
    file: PathBuf,
    text: String,
}

/// Runs `rejig --store STORE --json ARGS…` under `strace -f -y` and parses the trace.
fn traced(rejig: &Rejig, dir: &Path, name: &str, args: &[&str]) -> Trace {
    traced_with(rejig, dir, name, args, &[])
}

/// [`traced`] with extra environment variables.
fn traced_with(rejig: &Rejig, dir: &Path, name: &str, args: &[&str], env: &[(&str, &str)]) -> Trace {
    let file = dir.join(format!("{name}.strace"));
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-qq", "-y", "-s", "8", "-o", p(&file), "-e", &format!("trace={TRACED}"), "--"])
        .arg(rejig_bin())
        .arg("--store")
        .arg(rejig.store())
        .arg("--json")
        .args(args)
        .env_remove("REJIG_STORE")
        .env("XDG_DATA_HOME", dir.join("xdg"))
        .envs(env.iter().copied());
    let out = run(&mut cmd);
    assert!(out.status.success(), "the traced run failed:\n{}", report(&format!("strace … rejig {args:?}"), &out));
    let text = fs::read_to_string(&file).unwrap();
    let calls = parse(&text);
    assert!(calls.len() > 10, "strace recorded almost nothing in {}", file.display());
    Trace { calls, file, text }
}

fn parse(text: &str) -> Vec<Call> {
    let mut calls: Vec<Call> = Vec::new();
    // Unfinished calls by thread: (index into `calls`).
    let mut open: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let Some((tid, rest)) = line.split_once(' ') else { continue };
        let Ok(tid) = tid.parse::<u32>() else { continue };
        let rest = rest.trim_start();
        if rest.starts_with("---") || rest.starts_with("+++") {
            continue;
        }
        if let Some(resumed) = rest.strip_prefix("<... ") {
            let Some(i) = open.remove(&tid) else { continue };
            let after = resumed.split_once("resumed>").map_or("", |(_, a)| a);
            let call = &mut calls[i];
            let (more, ret) = split_return(after);
            call.args.push_str(more);
            call.ret = ret;
            call.end = n;
            call.text.push_str("\n  … ");
            call.text.push_str(line);
            continue;
        }
        let Some((name, args)) = rest.split_once('(') else { continue };
        let mut call = Call {
            tid,
            name: name.to_string(),
            args: String::new(),
            ret: String::new(),
            start: n,
            end: n,
            text: line.to_string(),
        };
        if let Some(args) = args.strip_suffix(" <unfinished ...>") {
            call.args = args.to_string();
            open.insert(tid, calls.len());
        } else {
            let (args, ret) = split_return(args);
            call.args = args.to_string();
            call.ret = ret;
        }
        calls.push(call);
    }
    calls
}

/// `ARGS) = RET` → (ARGS, RET).
fn split_return(s: &str) -> (&str, String) {
    match s.rfind(") = ") {
        Some(at) => (&s[..at], s[at + 4..].trim().to_string()),
        None => (s, String::new()),
    }
}

fn show(calls: &[&Call]) -> String {
    let mut out = String::new();
    for c in calls.iter().take(12) {
        let _ = writeln!(out, "  line {}: {}", c.start + 1, c.text);
    }
    out
}

// ----------------------------------------------------------------------------------------
// The store's order

/// Checks every pack of the trace; returns how many packs it saw.
fn check_store_order(trace: &Trace, store: &Path) -> usize {
    let store = p(store);
    let tmp = format!("{store}/tmp/");
    let packs = format!("{store}/packs/");
    let packs_dir = format!("{store}/packs");
    let index = format!("{store}/index.redb");
    let calls = &trace.calls;
    let ctx = |what: &str| format!("{what} (trace {})", trace.file.display());

    let written_packs: Vec<&Call> =
        calls.iter().filter(|c| c.is_write() && c.fd_path().is_some_and(|p| p.starts_with(&packs))).collect();
    assert!(written_packs.is_empty(), "{}:\n{}", ctx("a file in packs/ was written to"), show(&written_packs));

    let renames: Vec<&Call> = calls
        .iter()
        .filter(|c| c.is_rename() && c.ok())
        .filter(|c| matches!(c.strings()[..], [from, to, ..] if from.starts_with(&tmp) && to.starts_with(&packs)))
        .collect();
    for rename in &renames {
        let from = rename.strings()[0];
        let thread: Vec<&Call> = calls.iter().filter(|c| c.tid == rename.tid).collect();
        let writes: Vec<&Call> = calls.iter().filter(|c| c.is_write() && c.fd_path() == Some(from)).collect();
        let last_write = writes.iter().map(|c| c.end).max().unwrap_or_else(|| {
            panic!("{}:\n{}", ctx(&format!("pack {from} was renamed but never written")), show(&[rename]))
        });
        let fsynced = calls.iter().any(|c| {
            c.is_sync() && c.ok() && c.fd_path() == Some(from) && c.start > last_write && c.end < rename.start
        });
        assert!(
            fsynced,
            "{}:\n{}",
            ctx(&format!("pack {from} was not fsynced between its last write and its rename")),
            show(&writes.iter().chain([rename]).copied().collect::<Vec<_>>())
        );
        // On the committing thread: the packs/ fsync, then the index.
        let dir_sync = thread
            .iter()
            .find(|c| c.start > rename.end && c.is_sync() && c.fd_path() == Some(packs_dir.as_str()))
            .unwrap_or_else(|| panic!("{}:\n{}", ctx("packs/ was not fsynced after a pack's rename"), show(&[rename])));
        let writes_index = |c: &Call| c.start > rename.end && c.is_write() && c.fd_path() == Some(index.as_str());
        let index_write = match thread.iter().copied().find(|c| writes_index(c)) {
            Some(write) => Some(write),
            None => {
                // Another thread records this pack, later: no index write of any thread may
                // fall between the pack's first byte and its packs/ fsync.
                let first_write = writes.iter().map(|c| c.start).min().unwrap_or(rename.start);
                let early: Vec<&Call> = calls
                    .iter()
                    .filter(|c| c.is_write() && c.fd_path() == Some(index.as_str()))
                    .filter(|c| c.start > first_write && c.start < dir_sync.end)
                    .collect();
                assert!(
                    early.is_empty(),
                    "{}:\n{}",
                    ctx("the index was written while a pack another thread records was not yet durable"),
                    show(&early.iter().copied().chain([*rename]).collect::<Vec<_>>())
                );
                calls.iter().find(|c| writes_index(c))
            }
        };
        let index_write = index_write.unwrap_or_else(|| {
            panic!("{}:\n{}", ctx("the index was never written after a pack's rename"), show(&[rename]))
        });
        assert!(
            index_write.start > dir_sync.end,
            "{}:\n{}",
            ctx("the index was written before packs/ was fsynced after the pack's rename"),
            show(&[rename, index_write, dir_sync])
        );
        let committed = calls.iter().any(|c| {
            c.tid == index_write.tid && c.start > index_write.end && c.is_sync() && c.fd_path() == Some(&index)
        });
        assert!(committed, "{}:\n{}", ctx("the index write after a pack was never synced"), show(&[index_write]));
    }
    renames.len()
}

// ----------------------------------------------------------------------------------------
// The repository's order

fn check_repo_order(trace: &Trace, repo: &Path, commit: &str) {
    let repo_s = p(repo);
    let objects = format!("{repo_s}/objects/");
    let calls = &trace.calls;
    let ctx = |what: &str| format!("{what} (trace {})", trace.file.display());
    let commit_object = p(&loose_path(repo, commit, "commit")).to_string();
    let marker = format!("{repo_s}/state/{commit}.commitpartial");
    let ref_path = format!("{repo_s}/refs/heads/{REF}");
    let ref_dir = Path::new(&ref_path).parent().unwrap().to_str().unwrap().to_string();

    // Names in objects/ come only from linkat or a no-replace rename.
    let created: Vec<&Call> = calls
        .iter()
        .filter(|c| ["openat", "open", "creat", "symlink", "symlinkat", "link"].contains(&c.name.as_str()))
        .filter(|c| c.args.contains("O_CREAT") || !c.name.starts_with("open"))
        .filter(|c| c.strings().iter().any(|s| s.starts_with(&objects)))
        .collect();
    assert!(created.is_empty(), "{}:\n{}", ctx("a file was created under objects/ directly"), show(&created));
    let published: Vec<&Call> = calls
        .iter()
        .filter(|c| c.ok())
        .filter(|c| {
            (c.name == "linkat" || (c.name == "renameat2" && c.args.contains("RENAME_NOREPLACE")))
                && c.strings().get(1).is_some_and(|s| s.starts_with(&objects))
        })
        .collect();
    assert!(published.len() > 5, "{}:\n{}", ctx("too few objects were published"), show(&published));
    let other_renames: Vec<&Call> = calls
        .iter()
        .filter(|c| c.is_rename() && c.strings().get(1).is_some_and(|s| s.starts_with(&objects)))
        .filter(|c| !published.iter().any(|p| p.start == c.start))
        .collect();
    assert!(
        other_renames.is_empty(),
        "{}:\n{}",
        ctx("an object was renamed into place with a replacing rename"),
        show(&other_renames)
    );
    // Nothing changes an object once it has a name (an O_TMPFILE fd shows the object's path
    // after linkat).
    let touched: Vec<&Call> = calls
        .iter()
        .filter(|c| c.is_write() || ["fsetxattr", "fchmod", "fchown", "utimensat"].contains(&c.name.as_str()))
        .filter(|c| c.fd_path().is_some_and(|p| p.starts_with(&objects)))
        .collect();
    assert!(touched.is_empty(), "{}:\n{}", ctx("an object was modified after it was published"), show(&touched));

    let commit_link = published
        .iter()
        .find(|c| c.strings()[1] == commit_object)
        .unwrap_or_else(|| panic!("{}", ctx("the commit object was never published")));
    let others: Vec<&&Call> = published.iter().filter(|c| c.strings()[1] != commit_object).collect();
    let last_other = others.iter().map(|c| c.end).max().unwrap();
    let first_other = others.iter().map(|c| c.start).min().unwrap();
    let syncfs: Vec<&Call> =
        calls.iter().filter(|c| c.name == "syncfs" && c.ok() && c.fd_path() == Some(repo_s)).collect();
    let before_commit = syncfs.iter().find(|s| s.start > last_other && s.end < commit_link.start);
    assert!(
        before_commit.is_some(),
        "{}:\n{}",
        ctx("no syncfs of the repository between the last object and the commit object"),
        show(&syncfs.iter().copied().chain([*commit_link]).collect::<Vec<_>>())
    );
    let after_commit = syncfs.iter().find(|s| s.start > commit_link.end).unwrap_or_else(|| {
        panic!("{}:\n{}", ctx("no syncfs of the repository after the commit object"), show(&[commit_link]))
    });

    // The partial marker: durable before the first object, removed after the last syncfs.
    let marker_created = calls
        .iter()
        .find(|c| c.name == "openat" && c.args.contains("O_CREAT") && c.strings().first() == Some(&marker.as_str()))
        .unwrap_or_else(|| panic!("{}", ctx("the commitpartial marker was never created")));
    let marker_synced = calls.iter().find(|c| c.is_sync() && c.fd_path() == Some(marker.as_str()));
    let state_synced = calls.iter().find(|c| {
        c.is_sync() && c.fd_path() == Some(format!("{repo_s}/state").as_str()) && c.start > marker_created.end
    });
    match (marker_synced, state_synced) {
        (Some(m), Some(s)) if m.end < first_other && s.end < first_other => {}
        _ => panic!(
            "{}:\n{}",
            ctx("the marker and state/ were not fsynced before the first object"),
            show(&[marker_created])
        ),
    }
    let marker_removed = calls
        .iter()
        .find(|c| c.name.starts_with("unlink") && c.strings().contains(&marker.as_str()))
        .unwrap_or_else(|| panic!("{}", ctx("the commitpartial marker was never removed")));
    assert!(
        marker_removed.start > after_commit.end,
        "{}:\n{}",
        ctx("the marker was removed before the commit was synced"),
        show(&[after_commit, marker_removed])
    );

    // The ref: temp file written, fsynced, renamed, directory fsynced.
    let ref_rename = calls
        .iter()
        .find(|c| c.is_rename() && c.ok() && c.strings().get(1) == Some(&ref_path.as_str()))
        .unwrap_or_else(|| panic!("{}", ctx("the ref was never renamed into place")));
    assert!(
        ref_rename.start > after_commit.end && ref_rename.start > marker_removed.end,
        "{}:\n{}",
        ctx("the ref moved before the commit was synced and the marker removed"),
        show(&[after_commit, marker_removed, ref_rename])
    );
    let temp = ref_rename.strings()[0].to_string();
    let temp_writes: Vec<&Call> = calls.iter().filter(|c| c.is_write() && c.fd_path() == Some(temp.as_str())).collect();
    let last_write = temp_writes
        .iter()
        .map(|c| c.end)
        .max()
        .unwrap_or_else(|| panic!("{}:\n{}", ctx("the ref's temp file was never written"), show(&[ref_rename])));
    let temp_synced = calls
        .iter()
        .any(|c| c.is_sync() && c.fd_path() == Some(temp.as_str()) && c.start > last_write && c.end < ref_rename.start);
    assert!(temp_synced, "{}:\n{}", ctx("the ref's temp file was not fsynced before its rename"), show(&temp_writes));
    let dir_synced =
        calls.iter().any(|c| c.is_sync() && c.fd_path() == Some(ref_dir.as_str()) && c.start > ref_rename.end);
    assert!(dir_synced, "{}:\n{}", ctx("refs/heads/… was not fsynced after the ref's rename"), show(&[ref_rename]));
}

// ----------------------------------------------------------------------------------------
// Tests

#[test]
fn import_writes_each_pack_durably_before_the_index_names_it() {
    let f = fixture();
    let rejig = Rejig::new();
    let trace = traced(&rejig, f.dir.path(), "import", &["import", p(&f.packages)]);
    let packs = check_store_order(&trace, rejig.store());
    assert_eq!(packs, PACKAGES, "one pack per package, each checked (trace {})", trace.file.display());
    let fsck = rejig.fsck_clean();
    assert_eq!(num(&fsck, "packages"), PACKAGES as u64, "{fsck}");
}

fn export_commit_in(mode: &str) {
    let f = fixture();
    let rejig = Rejig::new();
    rejig.import(&f.src, "ord/src");
    let repo = f.dir.path().join(format!("repo-{mode}"));
    let trace = traced(
        &rejig,
        f.dir.path(),
        &format!("export-{mode}"),
        &["export", &f.commit, "--repo", p(&repo), "--mode", mode, "--ref", REF],
    );
    check_repo_order(&trace, &repo, &f.commit);
    verify_exported_repo(&repo, &f.commit);
    assert_eq!(ostree_rev_parse(&repo, REF), f.commit);
}

#[test]
fn export_commit_into_archive_publishes_objects_then_commit_then_ref() {
    export_commit_in("archive");
}

#[test]
fn export_commit_into_bare_user_publishes_objects_then_commit_then_ref() {
    export_commit_in("bare-user");
}

#[test]
fn export_jigdo_orders_both_the_store_and_the_repository() {
    let f = fixture();
    let jigdo = f.dir.path().join("ord.rpm");
    Rejig::new().build(&f.src, "ord/src", &f.packages, "ord", &jigdo);
    let rejig = Rejig::new();
    let repo = f.dir.path().join("repo-jigdo");
    let trace = traced(
        &rejig,
        f.dir.path(),
        "export-jigdo",
        &["export", p(&jigdo), "--packages", p(&f.packages), "--repo", p(&repo), "--mode", "bare-user", "--ref", REF],
    );
    // The jigdo's own content, each package, then the completed commit's objects.
    let packs = check_store_order(&trace, rejig.store());
    assert!(packs > PACKAGES, "expected a pack per package and more, saw {packs} (trace {})", trace.file.display());
    check_repo_order(&trace, &repo, &f.commit);
    rejig.fsck_clean();
    verify_exported_repo(&repo, &f.commit);
}

// ----------------------------------------------------------------------------------------
// The checks themselves: a recorded trace, edited into a wrong order, must be refused

/// The trace with its lines edited by `edit`.
fn edited(trace: &Trace, edit: impl FnOnce(&mut Vec<String>)) -> Trace {
    let mut lines: Vec<String> = trace.text.lines().map(str::to_string).collect();
    edit(&mut lines);
    let text = lines.join("\n");
    Trace { calls: parse(&text), file: trace.file.clone(), text }
}

fn position(lines: &[String], what: &str, pred: impl Fn(&str) -> bool) -> usize {
    lines.iter().position(|l| pred(l)).unwrap_or_else(|| panic!("the recorded trace has no line with {what}"))
}

/// Moves line `from` to just before line `to`.
fn move_before(lines: &mut Vec<String>, from: usize, to: usize) {
    let line = lines.remove(from);
    let to = if from < to { to - 1 } else { to };
    lines.insert(to, line);
}

/// Requires `check` to refuse `trace` with a message containing `because`.
fn refused(what: &str, because: &str, trace: &Trace, check: impl Fn(&Trace)) {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(trace)));
    let Err(panic) = outcome else { panic!("the order check accepted a trace where {what}") };
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains(because), "where {what}, the check failed for another reason:\n{message}");
}

#[test]
fn the_checks_refuse_a_wrong_order() {
    let f = fixture();
    let jigdo = f.dir.path().join("ord.rpm");
    Rejig::new().build(&f.src, "ord/src", &f.packages, "ord", &jigdo);
    let rejig = Rejig::new();
    let repo = f.dir.path().join("repo");
    let args = ["export", p(&jigdo), "--packages", p(&f.packages), "--repo", p(&repo), "--mode", "bare-user"];
    let trace = traced(&rejig, f.dir.path(), "recorded", &[&args[..], &["--ref", REF]].concat());
    let store = rejig.store().to_path_buf();
    let packs_dir = format!("{}/packs>", p(&store));
    let store_check = |t: &Trace| {
        check_store_order(t, &store);
    };
    let repo_check = |t: &Trace| check_repo_order(t, &repo, &f.commit);
    // The recording itself passes.
    store_check(&trace);
    repo_check(&trace);

    let first_pack_rename = |l: &str| l.contains(" rename(") && l.contains("/packs/");
    refused(
        "packs/ is never fsynced",
        "packs/ was not fsynced after a pack's rename",
        &edited(&trace, |lines| {
            lines.retain(|l| !(l.contains("fsync(") && l.contains(&packs_dir)));
        }),
        store_check,
    );
    refused(
        "a pack is renamed before its fsync",
        "was not fsynced between its last write and its rename",
        &edited(&trace, |lines| {
            let rename = position(lines, "a pack rename", first_pack_rename);
            let temp = lines[rename].split('"').nth(1).unwrap().to_string();
            let fsync =
                position(lines, "the pack's fsync", |l| l.contains("fsync(") && l.contains(&format!("<{temp}>")));
            move_before(lines, rename, fsync);
        }),
        store_check,
    );
    refused(
        "the index is written before packs/ is fsynced",
        "the index was written before packs/ was fsynced",
        &edited(&trace, |lines| {
            let rename = position(lines, "a pack rename", first_pack_rename);
            let tid = lines[rename].split(' ').next().unwrap().to_string();
            let index_write = rename
                + lines[rename..]
                    .iter()
                    .position(|l| {
                        l.starts_with(&format!("{tid} ")) && l.contains("pwrite64(") && l.contains("index.redb>")
                    })
                    .unwrap();
            move_before(lines, index_write, rename + 1);
        }),
        store_check,
    );

    refused(
        "the index is written while a package's pack, recorded later by another thread, is not durable",
        "the index was written while a pack another thread records was not yet durable",
        &edited(&trace, |lines| {
            let tid = |l: &str| l.split(' ').next().unwrap_or_default().to_string();
            let writes_index = |l: &str| l.contains("pwrite64(") && l.contains("index.redb>");
            let index_tids: Vec<String> = lines.iter().filter(|l| writes_index(l)).map(|l| tid(l)).collect();
            let rename = position(lines, "a pack rename by a thread that never writes the index", |l| {
                first_pack_rename(l) && !index_tids.contains(&tid(l))
            });
            let next_write = rename + position(&lines[rename..], "an index write after it", writes_index);
            move_before(lines, next_write, rename + 1);
        }),
        store_check,
    );

    let commit_link = |l: &str| l.contains("linkat(") && l.contains(".commit\"");
    refused(
        "no syncfs precedes the commit object",
        "no syncfs of the repository between the last object and the commit",
        &edited(&trace, |lines| {
            let link = position(lines, "the commit's linkat", commit_link);
            let syncfs = lines[..link].iter().rposition(|l| l.contains("syncfs(")).unwrap();
            lines.remove(syncfs);
        }),
        repo_check,
    );
    refused(
        "the commit object is published before the other objects' syncfs",
        "no syncfs of the repository between the last object and the commit",
        &edited(&trace, |lines| {
            let link = position(lines, "the commit's linkat", commit_link);
            let syncfs = lines[..link].iter().rposition(|l| l.contains("syncfs(")).unwrap();
            move_before(lines, link, syncfs);
        }),
        repo_check,
    );
    refused(
        "the ref moves before the commit's syncfs",
        "the ref moved before the commit was synced",
        &edited(&trace, |lines| {
            let rename = position(lines, "the ref's rename", |l| {
                l.contains("rename") && l.contains(&format!("refs/heads/{REF}\""))
            });
            let link = position(lines, "the commit's linkat", commit_link);
            move_before(lines, rename, link + 1);
        }),
        repo_check,
    );
    refused(
        "the ref's temp file is not fsynced",
        "not fsynced before its rename",
        &edited(&trace, |lines| {
            let rename = position(lines, "the ref's rename", |l| {
                l.contains("rename") && l.contains(&format!("refs/heads/{REF}\""))
            });
            let temp = lines[rename].split('"').nth(1).unwrap().to_string();
            lines.retain(|l| !(l.contains("fsync(") && l.contains(&format!("<{temp}>"))));
        }),
        repo_check,
    );
    refused(
        "an object is written after it is published",
        "modified after it was published",
        &edited(&trace, |lines| {
            let link = position(lines, "the commit's linkat", commit_link);
            let target = lines[link].split('"').nth(3).unwrap().to_string();
            let tid = lines[link].split(' ').next().unwrap().to_string();
            lines.insert(link + 1, format!("{tid} write(9<{target}>, \"x\", 1) = 1"));
        }),
        repo_check,
    );
    refused(
        "the partial marker is removed before the commit is synced",
        "the marker was removed before the commit was synced",
        &edited(&trace, |lines| {
            let unlink =
                position(lines, "the marker's removal", |l| l.contains("unlink(") && l.contains(".commitpartial"));
            let link = position(lines, "the commit's linkat", commit_link);
            move_before(lines, unlink, link);
        }),
        repo_check,
    );
}

// ----------------------------------------------------------------------------------------
// A re-run after a kill between a pack's rename and the fsync of packs/

/// A run killed on entry to the fsync of `packs/` has renamed its pack into `packs/` without
/// making the name durable. The re-run makes a pack with the same id (same trailer), finds it
/// in `packs/`, skips the rename and with it the directory fsync (`PackWriter::finish`), and
/// commits the index naming that pack. Nothing in either run fsynced `packs/` after the rename,
/// so a power loss after the re-run can leave an index that names a pack file that is gone.
#[test]
fn rerun_fsyncs_packs_before_indexing_a_pack_a_killed_run_renamed() {
    let f = fixture();
    let package = f.packages.join("ord-0-1.0-1.noarch.rpm");
    // Which fsync, in its thread, is the one of packs/ (one rayon thread: a fixed order).
    let probe = Rejig::new();
    let calibration =
        traced_with(&probe, f.dir.path(), "probe", &["import", p(&package)], &[("RAYON_NUM_THREADS", "1")]);
    let packs_dir = format!("{}/packs", p(probe.store()));
    let dir_sync = calibration
        .calls
        .iter()
        .find(|c| c.is_sync() && c.name == "fsync" && c.fd_path() == Some(packs_dir.as_str()))
        .expect("the probe fsynced packs/");
    let nth = calibration
        .calls
        .iter()
        .filter(|c| c.tid == dir_sync.tid && c.name == "fsync" && c.start <= dir_sync.start)
        .count();
    let other_threads = calibration.calls.iter().filter(|c| c.tid != dir_sync.tid && c.name == "fsync").count();
    assert!(other_threads < nth, "another thread makes {other_threads} fsyncs: the kill point would not be exact");

    let rejig = Rejig::new();
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-qq", "-o", "/dev/null", "-e", &format!("inject=fsync:signal=KILL:when={nth}"), "--"])
        .arg(rejig_bin())
        .arg("--store")
        .arg(rejig.store())
        .args(["--json", "import", p(&package)])
        .env("RAYON_NUM_THREADS", "1")
        .env_remove("REJIG_STORE");
    let out = run(&mut cmd);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&out.status),
        Some(9),
        "{}",
        report("killed import", &out)
    );
    let fsck = rejig.fsck_clean();
    let unreferenced = fsck["unreferenced_packs"].as_array().unwrap();
    assert_eq!(unreferenced.len(), 1, "the kill must land after the rename, before the index: {fsck}");
    let pack = format!("{}/packs/{}.pack", p(rejig.store()), unreferenced[0].as_str().unwrap());

    let rerun = traced(&rejig, f.dir.path(), "rerun", &["import", p(&package)]);
    let fsck = rejig.fsck_clean();
    assert!(fsck["unreferenced_packs"].as_array().unwrap().is_empty(), "the re-run indexed the same pack: {fsck}");
    let packs_dir = format!("{}/packs", p(rejig.store()));
    let index = format!("{}/index.redb", p(rejig.store()));
    let last_index_sync =
        rerun.calls.iter().rev().find(|c| c.is_sync() && c.fd_path() == Some(index.as_str())).unwrap();
    let dir_synced = rerun
        .calls
        .iter()
        .any(|c| c.is_sync() && c.fd_path() == Some(packs_dir.as_str()) && c.end < last_index_sync.start);
    assert!(
        dir_synced,
        "the re-run committed the index naming {pack}, whose rename into packs/ no run fsynced (trace {})",
        rerun.file.display()
    );
}
