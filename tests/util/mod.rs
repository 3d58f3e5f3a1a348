//! Shared harness for the end-to-end tests: running `rejig` against a throw-away store,
//! driving the real `ostree` CLI as the oracle, a seeded tree generator, the golden fixture of
//! `ostree-format.md` §4, and tree / repository comparison. [`rpmbuild`] makes fixture RPMs with
//! the real `rpmbuild` and composes them into commits with the real `rpm` and `ostree`.
//!
//! Every helper panics with a message that says what was run and what came back, so a failing
//! test explains itself. A missing tool (`ostree`) is a failure, never a skip.
#![allow(missing_docs, dead_code, clippy::unwrap_used)]

pub mod jigdo_fixture;
pub mod rpm_bytes;
pub mod rpmbuild;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// The commit `ostree commit` makes of the golden fixture (archive, bare-user, bare).
pub const GOLDEN_COMMIT: &str = "36dadcd6c20fc06952a019d06370033421453e492a199444ec8b90cdc8621191";
/// The golden fixture committed into a bare-user-only repo (canonicalized).
pub const GOLDEN_CANONICAL_COMMIT: &str = "54a46958aba0dfc2d73072f41b7dec67881d32f106ad6020ef7611cb3dcd2756";
/// The second fixture commit of §4 (parent, body, metadata with `v` and `as`).
pub const GOLDEN_SECOND_COMMIT: &str = "01be1591e8a033e237ad792a921c6627a1e36a8431ddbcdb806e49568eaf70f8";
/// Number of distinct objects the golden commit reaches, the commit included.
pub const GOLDEN_OBJECTS: u64 = 12;
/// The fixture's `bin` dirtree.
pub const GOLDEN_BIN_DIRTREE: &str = "230db4e51acc220a7118c2f5904c9e45b637e0ef4a6093ba58aab0c6e303ae51";
/// The fixture's dirmeta for 0:0 040700 (`private`).
pub const GOLDEN_PRIVATE_DIRMETA: &str = "84641b0a39d8c873690da8f32aea21cf5d6fff354f85e045f6f5ecdc8e7758d0";
/// The fixture's `hello.txt` content object (owned by 1000:1001).
pub const GOLDEN_HELLO: &str = "1cf7d7006ffc3322270a4cbd6034ca0fdc6f659cdc42ab65313354861079adca";
/// The fixture's `xattr.txt` content object (two user xattrs).
pub const GOLDEN_XATTR_FILE: &str = "3fd0b9b9d2ea6fa465afc7269b0e876ea035776355b1853cb8d1717e882e0273";

/// The timestamp every test commit uses.
pub const TIMESTAMP: &str = "2024-01-01T00:00:00Z";

/// The repository modes rejig writes besides bare-user-only.
pub const FULL_MODES: [&str; 3] = ["archive", "bare-user", "bare"];

/// No single command of this suite should come near this; it only turns a hang into a failure.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

// ----------------------------------------------------------------------------------------
// Processes

/// `path` as `&str` (all test paths live under the temp dir and are UTF-8).
pub fn p(path: &Path) -> &str {
    path.to_str().unwrap_or_else(|| panic!("test path {} is not UTF-8", path.display()))
}

/// Describes a command line for messages.
fn describe(cmd: &Command) -> String {
    let mut out = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        out.push(' ');
        out.push_str(&arg.to_string_lossy());
    }
    out
}

/// Runs a command to completion with its output captured. Panics if it cannot start (a missing
/// tool is a failure) or if it runs longer than [`COMMAND_TIMEOUT`].
pub fn run(cmd: &mut Command) -> Output {
    let what = describe(cmd);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child =
        cmd.spawn().unwrap_or_else(|e| panic!("cannot run `{what}`: {e} (is the tool installed and on PATH?)"));
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("`{what}` did not finish within {COMMAND_TIMEOUT:?}; killed");
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => panic!("waiting for `{what}`: {e}"),
        }
    };
    Output {
        status,
        stdout: out_thread.join().expect("stdout reader"),
        stderr: err_thread.join().expect("stderr reader"),
    }
}

/// A report of a finished command for assertion messages.
pub fn report(what: &str, out: &Output) -> String {
    format!(
        "`{what}` exited with {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

// ----------------------------------------------------------------------------------------
// rejig

/// The binary under test.
pub fn rejig_bin() -> &'static str {
    env!("CARGO_BIN_EXE_rejig")
}

/// A `rejig` with its own store in a temp dir.
pub struct Rejig {
    dir: TempDir,
    store: PathBuf,
}

impl Default for Rejig {
    fn default() -> Self {
        Self::new()
    }
}

impl Rejig {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new().prefix("rejig-store-").tempdir().expect("temp dir for the store");
        let store = dir.path().join("store");
        Self { dir, store }
    }

    /// A `rejig` on an existing store directory (e.g. a copy of another one's store).
    pub fn with_store(store: &Path) -> Self {
        let dir = tempfile::Builder::new().prefix("rejig-home-").tempdir().expect("temp dir");
        Self { dir, store: store.to_path_buf() }
    }

    /// The store directory.
    pub fn store(&self) -> &Path {
        &self.store
    }

    /// `rejig --store STORE ARGS…` as a command, for callers that start it themselves.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(rejig_bin());
        cmd.arg("--store").arg(&self.store).args(args);
        // Never touch the user's default store, even if --store were ignored.
        cmd.env_remove("REJIG_STORE").env("XDG_DATA_HOME", self.dir.path().join("xdg"));
        cmd.env("NO_COLOR", "1");
        cmd
    }

    /// Runs `rejig --store STORE ARGS…` and returns its output, whatever the exit status.
    pub fn run(&self, args: &[&str]) -> Output {
        run(&mut self.command(args))
    }

    /// Starts `rejig --store STORE ARGS…` without waiting (output discarded), e.g. to kill it.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        let mut cmd = self.command(args);
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        cmd.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", rejig_bin()))
    }

    fn what(&self, args: &[&str]) -> String {
        format!("rejig --store {} {}", self.store.display(), args.join(" "))
    }

    /// Runs `rejig --store STORE --json ARGS…`, requires success and one JSON object on stdout.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let out = self.run(&full);
        let what = self.what(&full);
        assert!(out.status.success(), "expected success:\n{}", report(&what, &out));
        parse_json(&what, &out)
    }

    /// Runs `rejig --store STORE ARGS…` and requires a clean failure: a non-zero exit, a
    /// message on stderr, and no panic.
    pub fn fails(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        let what = self.what(args);
        assert!(!out.status.success(), "expected a non-zero exit:\n{}", report(&what, &out));
        assert!(out.status.code().is_some(), "killed by a signal instead of exiting:\n{}", report(&what, &out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("panicked at"),
            "rejig panicked instead of reporting an error:\n{}",
            report(&what, &out)
        );
        assert!(!stderr.trim().is_empty(), "a failure must explain itself on stderr:\n{}", report(&what, &out));
        out
    }

    /// `import --repo REPO --rev REV` with `--json`; checks the shape of the report.
    pub fn import(&self, repo: &Path, rev: &str) -> Value {
        let v = self.json(&["import", "--repo", p(repo), "--rev", rev]);
        check_import_json(&v);
        v
    }

    /// `export COMMIT --repo REPO EXTRA…` with `--json`; checks the shape of the report.
    pub fn export(&self, commit: &str, repo: &Path, extra: &[&str]) -> Value {
        let mut args = vec!["export", commit, "--repo", p(repo)];
        args.extend_from_slice(extra);
        let v = self.json(&args);
        check_export_json(&v);
        v
    }

    /// `build --repo REPO --rev REV --packages PACKAGES --name NAME -o OUTPUT` with `--json`;
    /// requires success and the jigdo file.
    pub fn build(&self, repo: &Path, rev: &str, packages: &Path, name: &str, output: &Path) -> Value {
        let args =
            ["build", "--repo", p(repo), "--rev", rev, "--packages", p(packages), "--name", name, "-o", p(output)];
        let v = self.json(&args);
        assert!(output.is_file(), "build reported success but wrote no {}: {v}", output.display());
        v
    }

    /// `fsck` with `--json`, requiring exit 0 and no problems; returns the report.
    pub fn fsck_clean(&self) -> Value {
        let v = self.json(&["fsck"]);
        check_fsck_json(&v);
        let problems = v["problems"].as_array().expect("checked");
        assert!(problems.is_empty(), "fsck exited 0 but lists problems: {v}");
        v
    }

    /// `fsck` with `--json`; returns the output and the parsed report if stdout held one.
    pub fn fsck_raw(&self, extra: &[&str]) -> (Output, Option<Value>) {
        let mut args = vec!["--json", "fsck"];
        args.extend_from_slice(extra);
        let out = self.run(&args);
        let v = serde_json::from_slice::<Value>(&out.stdout).ok();
        (out, v)
    }
}

/// Parses the single JSON object a `--json` run prints.
pub fn parse_json(what: &str, out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("stdout is not exactly one JSON value ({e}):\n{}", report(what, out)));
    assert!(v.is_object(), "expected a JSON object:\n{}", report(what, out));
    v
}

/// A non-negative integer field of a JSON report.
pub fn num(v: &Value, key: &str) -> u64 {
    v.get(key)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("field {key:?} missing or not a non-negative integer in {v}"))
}

/// A string field of a JSON report.
pub fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_else(|| panic!("field {key:?} missing or not a string in {v}"))
}

/// True for 64 lowercase hex digits.
pub fn is_checksum(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn check_fields(v: &Value, ints: &[&str]) {
    for key in ints {
        num(v, key);
    }
    assert!(v.get("seconds").is_some_and(Value::is_number), "field \"seconds\" missing or not a number in {v}");
}

/// The contract's import report: commit, objects_total, objects_imported, objects_skipped,
/// blobs_written, bytes_stored, seconds.
pub fn check_import_json(v: &Value) {
    assert!(is_checksum(text(v, "commit")), "\"commit\" is not a 64-hex checksum in {v}");
    check_fields(v, &["objects_total", "objects_imported", "objects_skipped", "blobs_written", "bytes_stored"]);
    assert_eq!(
        num(v, "objects_imported") + num(v, "objects_skipped"),
        num(v, "objects_total"),
        "import: objects_imported + objects_skipped must equal objects_total in {v}"
    );
}

/// The contract's export report: commit, mode, objects_total, objects_written, objects_reused,
/// bytes_written, seconds.
pub fn check_export_json(v: &Value) {
    assert!(is_checksum(text(v, "commit")), "\"commit\" is not a 64-hex checksum in {v}");
    let mode = text(v, "mode");
    assert!(
        ["archive", "bare-user", "bare-user-only", "bare"].contains(&mode),
        "\"mode\" {mode:?} is not one of archive|bare-user|bare-user-only|bare in {v}"
    );
    check_fields(v, &["objects_total", "objects_written", "objects_reused", "bytes_written"]);
    assert_eq!(
        num(v, "objects_written") + num(v, "objects_reused"),
        num(v, "objects_total"),
        "export: objects_written + objects_reused must equal objects_total in {v}"
    );
}

/// The contract's fsck report: packs, blobs, objects, bytes, problems.
pub fn check_fsck_json(v: &Value) {
    for key in ["packs", "blobs", "objects", "bytes"] {
        num(v, key);
    }
    assert!(v.get("problems").is_some_and(Value::is_array), "field \"problems\" missing or not an array in {v}");
}

/// Requires that stderr of a failed run mentions `needle`.
pub fn assert_stderr_mentions(out: &Output, needle: &str, why: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(needle), "stderr should name {why} ({needle}), got:\n{stderr}");
}

// ----------------------------------------------------------------------------------------
// ostree

/// Runs `ostree ARGS…`, whatever the exit status.
pub fn ostree_output(args: &[&str]) -> Output {
    run(Command::new("ostree").args(args))
}

/// Runs `ostree ARGS…`, requires success, returns stdout.
pub fn ostree(args: &[&str]) -> String {
    let out = ostree_output(args);
    assert!(out.status.success(), "ostree failed:\n{}", report(&format!("ostree {}", args.join(" ")), &out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `ostree init --repo=REPO --mode=MODE`.
pub fn ostree_init(repo: &Path, mode: &str) {
    ostree(&["init", &format!("--repo={}", p(repo)), &format!("--mode={mode}")]);
}

/// `ostree commit` with a fixed timestamp and no ref bindings; returns the commit checksum.
pub fn ostree_commit(repo: &Path, branch: &str, tree: &Path, subject: &str) -> String {
    let out = ostree(&[
        "commit",
        &format!("--repo={}", p(repo)),
        &format!("--branch={branch}"),
        &format!("--subject={subject}"),
        &format!("--timestamp={TIMESTAMP}"),
        "--no-bindings",
        p(tree),
    ]);
    let checksum = out.trim().to_string();
    assert!(is_checksum(&checksum), "ostree commit printed {out:?}, not a checksum");
    checksum
}

/// `ostree rev-parse`.
pub fn ostree_rev_parse(repo: &Path, rev: &str) -> String {
    ostree(&["rev-parse", &format!("--repo={}", p(repo)), rev]).trim().to_string()
}

/// The repo's configured mode (`core.mode`), with `archive-z2` reported as `archive`.
pub fn repo_mode(repo: &Path) -> String {
    let mode = ostree(&["config", &format!("--repo={}", p(repo)), "get", "core.mode"]).trim().to_string();
    if mode == "archive-z2" {
        "archive".to_string()
    } else {
        mode
    }
}

/// Runs `ostree fsck` and requires it to verify at least `min_commits` commits with no error.
pub fn ostree_fsck(repo: &Path, min_commits: usize) {
    let args = ["fsck", &format!("--repo={}", p(repo))];
    let out = ostree_output(&args);
    let what = format!("ostree {}", args.join(" "));
    assert!(out.status.success(), "ostree fsck found problems:\n{}", report(&what, &out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let verified = stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix("Verifying content integrity of ")?.split_whitespace().next()?.parse::<usize>().ok()
        })
        .unwrap_or(0);
    assert!(
        verified >= min_commits,
        "ostree fsck verified {verified} commits, expected at least {min_commits} (a partial commit is skipped):\n{}",
        report(&what, &out)
    );
    assert!(stdout.contains("no errors found"), "ostree fsck did not report success:\n{}", report(&what, &out));
}

/// The whole oracle for an exported repo: full skeleton, commit present and not partial, no
/// temporary files left in `tmp/`, `ostree fsck`, and `ostree pull-local --untrusted` (which
/// re-checksums every object) into a fresh bare-user repo, itself fsck'd.
pub fn verify_exported_repo(repo: &Path, commit: &str) {
    verify_exported_repo_allowing(repo, commit, &[]);
}

/// [`verify_exported_repo`], tolerating the given files in `tmp/` (left by a killed writer).
pub fn verify_exported_repo_allowing(repo: &Path, commit: &str, allowed_tmp: &[PathBuf]) {
    for dir in ["objects", "tmp", "state", "extensions", "refs/heads", "refs/mirrors", "refs/remotes"] {
        assert!(repo.join(dir).is_dir(), "exported repo {} lacks {dir}/ of the `ostree init` skeleton", repo.display());
    }
    assert!(repo.join("config").is_file(), "exported repo {} lacks config", repo.display());
    let commit_obj = loose_path(repo, commit, "commit");
    assert!(commit_obj.is_file(), "commit object {} missing", commit_obj.display());
    let partial = repo.join("state").join(format!("{commit}.commitpartial"));
    assert!(!partial.exists(), "export left {} behind: ostree treats the commit as partial", partial.display());
    let leftovers: Vec<PathBuf> =
        files_under(&repo.join("tmp")).into_iter().filter(|f| !allowed_tmp.contains(f)).collect();
    assert!(leftovers.is_empty(), "export left temporary files in {}/tmp: {leftovers:?}", repo.display());
    ostree_fsck(repo, 1);
    let fresh = tempfile::Builder::new().prefix("pull-local-").tempdir().expect("temp dir");
    let dest = fresh.path().join("repo");
    ostree_init(&dest, "bare-user");
    ostree(&["pull-local", "--untrusted", &format!("--repo={}", p(&dest)), p(repo), commit]);
    ostree_fsck(&dest, 1);
}

/// Every non-directory under `dir`, recursively (nothing if `dir` is missing).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else { return out };
    for entry in entries {
        let entry = entry.expect("dir entry");
        if entry.file_type().expect("file type").is_dir() {
            out.extend(files_under(&entry.path()));
        } else {
            out.push(entry.path());
        }
    }
    out
}

/// `objects/XX/YYYY….EXT` in `repo`.
pub fn loose_path(repo: &Path, checksum: &str, ext: &str) -> PathBuf {
    repo.join("objects").join(&checksum[..2]).join(format!("{}.{ext}", &checksum[2..]))
}

/// Every loose object file under `repo/objects`, as `XX/YYYY….ext`.
pub fn loose_objects(repo: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let objects = repo.join("objects");
    for dir in fs::read_dir(&objects).unwrap_or_else(|e| panic!("reading {}: {e}", objects.display())) {
        let dir = dir.expect("dir entry");
        if !dir.file_type().expect("file type").is_dir() {
            continue;
        }
        for entry in fs::read_dir(dir.path()).expect("objects subdir") {
            let entry = entry.expect("dir entry");
            out.insert(format!("{}/{}", dir.file_name().to_string_lossy(), entry.file_name().to_string_lossy()));
        }
    }
    out
}

/// An object of a commit: checksum and type (`commit`, `dirtree`, `dirmeta`, `file`).
pub type ObjectName = (String, &'static str);

/// Every object `rev` reaches (the commit included), from `ostree ls -R -C`.
pub fn ostree_reachable(repo: &Path, rev: &str) -> BTreeSet<ObjectName> {
    let commit = ostree_rev_parse(repo, rev);
    let listing = ostree(&["ls", &format!("--repo={}", p(repo)), "-R", "-C", &commit]);
    let mut out = BTreeSet::new();
    out.insert((commit, "commit"));
    for line in listing.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let bad = || -> ! { panic!("unexpected `ostree ls -R -C` line: {line:?}") };
        let kind = fields.first().and_then(|f| f.chars().next()).unwrap_or_else(|| bad());
        let sum = |i: usize| -> String {
            let s = fields.get(i).copied().unwrap_or_else(|| bad());
            assert!(is_checksum(s), "expected a checksum at field {i} of {line:?}");
            s.to_string()
        };
        if kind == 'd' {
            out.insert((sum(4), "dirtree"));
            out.insert((sum(5), "dirmeta"));
        } else {
            out.insert((sum(4), "file"));
        }
    }
    out
}

/// Path (in the tree) → content checksum of every regular file and symlink, from
/// `ostree ls -R -C`.
pub fn ostree_file_checksums(repo: &Path, rev: &str) -> BTreeMap<String, String> {
    let listing = ostree(&["ls", &format!("--repo={}", p(repo)), "-R", "-C", rev]);
    let mut out = BTreeMap::new();
    for line in listing.lines().filter(|l| l.starts_with('-') || l.starts_with('l')) {
        // MODE UID GID SIZE CHECKSUM PATH[ -> TARGET]; PATH is the rest of the line.
        let mut rest = line;
        let mut fields = Vec::new();
        for _ in 0..5 {
            rest = rest.trim_start();
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            fields.push(&rest[..end]);
            rest = &rest[end..];
        }
        let path = rest.trim_start();
        let path = if line.starts_with('l') { path.split(" -> ").next().unwrap_or(path) } else { path };
        assert!(is_checksum(fields[4]), "unexpected `ostree ls -R -C` line: {line:?}");
        out.insert(path.to_string(), fields[4].to_string());
    }
    out
}

/// `ostree checkout` as root (owners, modes and xattrs restored) of `rev` into `dest`.
pub fn ostree_checkout(repo: &Path, rev: &str, dest: &Path) {
    ostree(&["checkout", &format!("--repo={}", p(repo)), rev, p(dest)]);
}

// ----------------------------------------------------------------------------------------
// Byte surgery

/// Flips every bit of the byte at `offset`.
pub fn flip_byte(path: &Path, offset: u64) {
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut byte = [0u8; 1];
    file.read_exact_at(&mut byte, offset).unwrap_or_else(|e| panic!("read {} at {offset}: {e}", path.display()));
    byte[0] ^= 0xff;
    file.write_all_at(&byte, offset).unwrap_or_else(|e| panic!("write {} at {offset}: {e}", path.display()));
}

/// The largest loose object of the given extension in `repo`: its path and checksum.
pub fn largest_object(repo: &Path, ext: &str) -> (PathBuf, String) {
    let best = loose_objects(repo)
        .into_iter()
        .filter(|name| name.ends_with(&format!(".{ext}")))
        .map(|name| {
            let path = repo.join("objects").join(&name);
            let len = fs::symlink_metadata(&path).expect("stat object").len();
            (len, path, name.replace('/', "").trim_end_matches(&format!(".{ext}")).to_string())
        })
        .max()
        .unwrap_or_else(|| panic!("no .{ext} object in {}", repo.display()));
    (best.1, best.2)
}

// ----------------------------------------------------------------------------------------
// Trees: fixture and generator

fn write(path: &Path, data: &[u8]) {
    fs::write(path, data).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn mkdir(path: &Path) {
    fs::create_dir_all(path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
}

fn symlink(target: &str, path: &Path) {
    std::os::unix::fs::symlink(target, path).unwrap_or_else(|e| panic!("symlink {}: {e}", path.display()));
}

/// chmod (files and directories only; it follows symlinks).
pub fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {:o} {}: {e}", mode, path.display()));
}

/// lchown.
pub fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
        .unwrap_or_else(|e| panic!("lchown {uid}:{gid} {}: {e}", path.display()));
}

/// Sets a `user.*` xattr (never on a symlink: Linux refuses user.* there).
pub fn set_xattr(path: &Path, name: &str, value: &[u8]) {
    rustix::fs::lsetxattr(path, name, value, rustix::fs::XattrFlags::empty()).unwrap_or_else(|e| {
        panic!("setxattr {name} on {}: {e} (does the filesystem support user xattrs?)", path.display())
    });
}

/// Builds the golden fixture tree of `ostree-format.md` §4 at `dir/tree` and returns that path.
pub fn golden_tree(dir: &Path) -> PathBuf {
    let tree = dir.join("tree");
    mkdir(&tree.join("bin"));
    mkdir(&tree.join("private"));
    write(&tree.join("hello.txt"), b"hello world\n");
    write(&tree.join("empty"), b"");
    symlink("hello.txt", &tree.join("link"));
    write(&tree.join("bin/run.sh"), b"#!/bin/sh\necho hi\n");
    write(&tree.join("private/secret"), b"s3cret\n");
    write(&tree.join("xattr.txt"), b"xattr file\n");
    // foo first: listxattr order differs from sorted order.
    set_xattr(&tree.join("xattr.txt"), "user.foo", b"bar");
    set_xattr(&tree.join("xattr.txt"), "user.abc", b"xyz");
    for (path, uid, gid) in [
        ("", 0, 0),
        ("hello.txt", 1000, 1001),
        ("empty", 0, 0),
        ("link", 0, 0),
        ("xattr.txt", 0, 0),
        ("bin", 0, 0),
        ("bin/run.sh", 0, 0),
        ("private", 0, 0),
        ("private/secret", 0, 0),
    ] {
        chown(&tree.join(path), uid, gid);
    }
    for (path, mode) in [
        ("hello.txt", 0o644),
        ("empty", 0o644),
        ("xattr.txt", 0o644),
        ("bin/run.sh", 0o755),
        ("private/secret", 0o600),
        ("", 0o755),
        ("bin", 0o755),
        ("private", 0o700),
    ] {
        chmod(&tree.join(path), mode);
    }
    tree
}

/// Builds the golden tree under `dir`, commits it into a new repo `dir/NAME` of `mode` with
/// the §4 command, and checks the oracle agrees with the spec. Returns the repo path.
pub fn golden_repo(dir: &Path, name: &str, mode: &str) -> PathBuf {
    let tree = dir.join("tree");
    if !tree.exists() {
        golden_tree(dir);
    }
    let repo = dir.join(name);
    ostree_init(&repo, mode);
    let commit = ostree_commit(&repo, "test/fixture", &tree, "fixture");
    let want = if mode == "bare-user-only" { GOLDEN_CANONICAL_COMMIT } else { GOLDEN_COMMIT };
    assert_eq!(
        commit, want,
        "the harness did not rebuild the golden fixture: ostree committed it into {mode} as {commit}"
    );
    repo
}

/// splitmix64: a tiny, seedable, reproducible PRNG.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x5851_f42d_4c95_7f2d)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(len);
        out
    }
    /// Compressible, text-like bytes.
    pub fn text(&mut self, len: usize) -> Vec<u8> {
        const WORDS: &[&str] =
            &["lorem ", "ipsum ", "dolor ", "sit ", "amet ", "ostree ", "rejig ", "\n", "über ", "日本 "];
        let mut out = Vec::with_capacity(len + 16);
        while out.len() < len {
            out.extend_from_slice(self.pick(WORDS).as_bytes());
        }
        out.truncate(len);
        out
    }
}

/// What the generator makes.
#[derive(Clone, Debug)]
pub struct TreeOptions {
    pub seed: u64,
    /// Randomly placed regular files, symlinks and duplicates, on top of the fixed set.
    pub random_entries: usize,
    /// Files larger than 1 MiB.
    pub large_files: usize,
    /// If non-zero, a directory with this many entries (> ~1500 makes its dirtree need
    /// 4-byte framing offsets).
    pub wide_dir_entries: usize,
}

impl TreeOptions {
    pub fn new(seed: u64) -> Self {
        Self { seed, random_entries: 200, large_files: 2, wide_dir_entries: 0 }
    }
}

const OWNERS: &[(u32, u32)] = &[(0, 0), (0, 0), (0, 0), (1000, 1001), (42, 42), (65534, 65534), (0, 5)];
const FILE_MODES: &[u32] =
    &[0o644, 0o644, 0o644, 0o755, 0o600, 0o640, 0o444, 0o700, 0o4755, 0o2755, 0o6755, 0o1644, 0o664, 0o666];
const DIR_MODES: &[u32] = &[0o755, 0o755, 0o755, 0o700, 0o750, 0o775, 0o555, 0o1777, 0o2775];
const NAME_PARTS: &[&str] = &[
    "a",
    "B",
    "Z9",
    "Z10",
    "_under",
    "été",
    "日本",
    "data",
    "lib",
    "conf",
    "x y",
    "naïve",
    "Ω",
    "über-file",
    "q%20",
    "#hash",
    "~tilde",
    "-dash",
    ".hidden",
    "README",
    "a.b.c",
    "UPPER",
    "mIxEd",
    "1",
    "0042",
    "emoji🎉",
    "tab\tname",
    "z",
];

struct Gen {
    rng: Rng,
    dirs: Vec<PathBuf>,
    names: BTreeMap<PathBuf, BTreeSet<String>>,
    regular: Vec<PathBuf>,
    dir_meta: Vec<(PathBuf, u32, u32, u32)>,
}

impl Gen {
    fn fresh_name(&mut self, dir: &Path) -> String {
        let taken = self.names.entry(dir.to_path_buf()).or_default();
        let part = NAME_PARTS[self.rng.below(NAME_PARTS.len() as u64) as usize];
        let mut name = part.to_string();
        let mut n = self.rng.below(100);
        while taken.contains(&name) {
            name = format!("{part}{n}");
            n += 1;
        }
        taken.insert(name.clone());
        name
    }

    fn reserve(&mut self, dir: &Path, name: &str) -> PathBuf {
        let fresh = self.names.entry(dir.to_path_buf()).or_default().insert(name.to_string());
        assert!(fresh, "generator bug: {name} used twice in {}", dir.display());
        dir.join(name)
    }

    fn random_xattrs(&mut self, path: &Path) {
        if !self.rng.chance(25) {
            return;
        }
        let count = self.rng.range(1, 4);
        for _ in 0..count {
            let name = format!("user.{}", self.rng.pick(&["z", "a", "mime_type", "checksum", "k", "über", "x.y"]));
            let value = match self.rng.below(4) {
                0 => Vec::new(), // ostree drops empty-valued xattrs
                1 => {
                    let len = self.rng.range(1, 40) as usize;
                    self.rng.bytes(len)
                }
                2 => vec![0, 255, 0, 1],
                _ => {
                    let len = self.rng.range(1, 100) as usize;
                    self.rng.text(len)
                }
            };
            set_xattr(path, &name, &value);
        }
    }

    fn file(&mut self, path: &Path, data: &[u8], mode: u32, owner: (u32, u32), xattrs: bool) {
        write(path, data);
        if xattrs {
            self.random_xattrs(path);
        }
        // chown before chmod: chown clears the setuid/setgid bits.
        chown(path, owner.0, owner.1);
        chmod(path, mode);
        self.regular.push(path.to_path_buf());
    }

    fn dir(&mut self, path: &Path, mode: u32, owner: (u32, u32)) {
        mkdir(path);
        self.dirs.push(path.to_path_buf());
        self.dir_meta.push((path.to_path_buf(), mode, owner.0, owner.1));
    }

    fn random_content(&mut self) -> Vec<u8> {
        match self.rng.below(100) {
            0..=14 => Vec::new(),
            15..=74 => {
                let len = self.rng.range(1, 2048) as usize;
                if self.rng.chance(50) {
                    self.rng.text(len)
                } else {
                    self.rng.bytes(len)
                }
            }
            _ => {
                let len = self.rng.range(2048, 64 * 1024) as usize;
                if self.rng.chance(50) {
                    self.rng.text(len)
                } else {
                    self.rng.bytes(len)
                }
            }
        }
    }
}

/// Generates a reproducible tree at `root` (created; 0755 0:0 unless the seed says otherwise).
///
/// Always present, whatever the seed: empty, small and > 1 MiB files; relative, absolute and
/// dangling symlinks (some owned by non-root); setuid 04755 and 0600 files; 0700 directories;
/// `user.*` xattrs on files and directories, one with an empty value; owners 1000:1001 and
/// 42:42; names with é and 日本; a chain of 22 nested directories; empty directories; the same
/// content under different modes, owners and xattrs; a 250-byte name. Then `random_entries`
/// random files, symlinks and duplicates in random directories.
pub fn generate_tree(root: &Path, opts: &TreeOptions) {
    let mut g = Gen {
        rng: Rng::new(opts.seed),
        dirs: Vec::new(),
        names: BTreeMap::new(),
        regular: Vec::new(),
        dir_meta: Vec::new(),
    };
    let root_mode = if opts.seed % 2 == 0 { 0o755 } else { 0o750 };
    g.dir(root, root_mode, (0, 0));
    if opts.seed % 3 == 0 {
        set_xattr(root, "user.root-note", b"on the root dirmeta");
    }

    // Fixed part.
    let fixed = g.reserve(root, "fixed");
    g.dir(&fixed, 0o755, (0, 0));
    let f = |name: &str| fixed.join(name);
    g.reserve(&fixed, "empty");
    g.file(&f("empty"), b"", 0o644, (0, 0), false);
    g.reserve(&fixed, "small.txt");
    g.file(&f("small.txt"), b"small file\n", 0o644, (0, 0), false);
    g.reserve(&fixed, "alpha.txt");
    g.file(&f("alpha.txt"), b"alpha, changed by the incremental test\n", 0o644, (0, 0), false);
    g.reserve(&fixed, "hardlink-to-small");
    fs::hard_link(f("small.txt"), f("hardlink-to-small")).expect("hard link");
    g.reserve(&fixed, "beta.bin");
    let beta = g.rng.bytes(3000);
    g.file(&f("beta.bin"), &beta, 0o640, (1000, 1001), false);
    g.reserve(&fixed, "setuid");
    g.file(&f("setuid"), b"#!/bin/sh\nexit 0\n", 0o4755, (0, 0), false);
    g.reserve(&fixed, "private-0600");
    g.file(&f("private-0600"), b"secret\n", 0o600, (42, 42), false);
    g.reserve(&fixed, "owned-1000");
    g.file(&f("owned-1000"), b"owned by 1000:1001\n", 0o644, (1000, 1001), false);
    g.reserve(&fixed, "xattrs");
    g.file(&f("xattrs"), b"xattrs\n", 0o644, (0, 0), false);
    set_xattr(&f("xattrs"), "user.zeta", b"last");
    set_xattr(&f("xattrs"), "user.alpha", b"first");
    set_xattr(&f("xattrs"), "user.binary", &[0, 1, 2, 255, 0]);
    set_xattr(&f("xattrs"), "user.empty", b""); // dropped by ostree
    g.reserve(&fixed, "only-empty-xattr");
    g.file(&f("only-empty-xattr"), b"only an empty xattr\n", 0o644, (0, 0), false);
    set_xattr(&f("only-empty-xattr"), "user.empty", b"");
    // The same content under different metadata: one blob, several objects.
    for (name, mode, owner, xattr) in [
        ("same-a", 0o644, (0, 0), false),
        ("same-b", 0o600, (0, 0), false),
        ("same-c", 0o644, (1000, 1001), false),
        ("same-d", 0o644, (0, 0), true),
        ("same-e", 0o4755, (42, 42), false),
    ] {
        g.reserve(&fixed, name);
        g.file(&f(name), b"identical content\n", mode, owner, false);
        if xattr {
            set_xattr(&f(name), "user.variant", b"d");
        }
    }
    for (name, target, owner) in [
        ("link-rel", "small.txt", (0, 0)),
        ("link-up", "../fixed/empty", (0, 0)),
        ("link-abs", "/usr/bin/env", (0, 0)),
        ("link-dangling", "/nonexistent/日本/été", (0, 0)),
        ("link-owned", "owned-1000", (1000, 1001)),
        ("link-42", "../../../../../etc/passwd", (42, 42)),
    ] {
        let path = g.reserve(&fixed, name);
        symlink(target, &path);
        chown(&path, owner.0, owner.1);
    }
    // Headers and dirmetas over 255 bytes need 2-byte framing offsets.
    g.reserve(&fixed, "big-xattr");
    g.file(&f("big-xattr"), b"big xattr\n", 0o644, (0, 0), false);
    let big_value = g.rng.bytes(3000);
    set_xattr(&f("big-xattr"), "user.big", &big_value);
    let long_target = g.reserve(&fixed, "link-long-target");
    symlink(&format!("{}/end", "segment/".repeat(120)), &long_target);
    let big_dir = g.reserve(&fixed, "dir-big-xattr");
    g.dir(&big_dir, 0o755, (0, 0));
    set_xattr(&big_dir, "user.big", &big_value[..400]);
    // No permission bits at all, on a file and on a directory holding a file.
    g.reserve(&fixed, "no-perms");
    g.file(&f("no-perms"), b"mode 0000\n", 0o000, (0, 0), false);
    let closed = g.reserve(&fixed, "closed-dir");
    g.dir(&closed, 0o000, (0, 0));
    let inside = g.reserve(&closed, "inside");
    g.file(&inside, b"in a 0000 directory\n", 0o644, (0, 0), false);
    let utf8 = g.reserve(&fixed, "été");
    g.dir(&utf8, 0o755, (0, 0));
    let nihon = g.reserve(&utf8, "日本語.txt");
    g.file(&nihon, "こんにちは\n".as_bytes(), 0o644, (0, 0), false);
    let long = g.reserve(&fixed, &format!("{}.txt", "L".repeat(246)));
    g.file(&long, b"long name\n", 0o644, (0, 0), false);
    let private = g.reserve(root, "private");
    g.dir(&private, 0o700, (0, 0));
    let key = g.reserve(&private, "key");
    g.file(&key, b"key material\n", 0o600, (0, 0), false);
    let owned_dir = g.reserve(root, "owned-dir");
    g.dir(&owned_dir, 0o700, (1000, 1001));
    set_xattr(&owned_dir, "user.dir-note", b"directory xattr");
    set_xattr(&owned_dir, "user.dir-empty", b"");
    let empty_dir = g.reserve(root, "empty-dir");
    g.dir(&empty_dir, 0o755, (0, 0));
    let empty_private = g.reserve(root, "empty-0700");
    g.dir(&empty_private, 0o700, (42, 42));
    set_xattr(&empty_private, "user.empty-dir", b"x");
    // Deep nesting.
    let mut deep = g.reserve(root, "deep");
    g.dir(&deep, 0o755, (0, 0));
    for level in 1..=22 {
        deep = g.reserve(&deep.clone(), &format!("d{level:02}"));
        let mode = if level % 7 == 0 { 0o700 } else { 0o755 };
        g.dir(&deep, mode, (0, 0));
    }
    let bottom = deep.join("bottom.txt");
    g.reserve(&deep, "bottom.txt");
    g.file(&bottom, b"at the bottom\n", 0o644, (0, 0), false);
    let up = g.reserve(&deep, "up");
    symlink("../../../../../../../../../../fixed/small.txt", &up);
    // Large files: random (incompressible) and text (compressible).
    let large = g.reserve(root, "large");
    g.dir(&large, 0o755, (0, 0));
    for i in 0..opts.large_files {
        let len = (1 << 20) + g.rng.below(600 * 1024) as usize;
        let data = if i % 2 == 0 { g.rng.bytes(len) } else { g.rng.text(len) };
        let path = g.reserve(&large, &format!("big-{i}.bin"));
        let owner = if i == 1 { (1000, 1001) } else { (0, 0) };
        g.file(&path, &data, 0o644, owner, false);
    }
    // A wide directory.
    if opts.wide_dir_entries > 0 {
        let wide = g.reserve(root, "wide");
        g.dir(&wide, 0o755, (0, 0));
        for i in 0..opts.wide_dir_entries {
            let path = g.reserve(&wide, &format!("entry-{i:05}"));
            write(&path, if i % 10 == 0 { b"ten" } else { b"" });
        }
    }

    // Random part: a few directories, then entries spread over every directory.
    for _ in 0..(opts.random_entries / 12).max(3) {
        let parent = g.rng.pick(&g.dirs.clone()).clone();
        if parent.strip_prefix(root).map(|r| r.components().count()).unwrap_or(0) > 6 {
            continue;
        }
        let name = g.fresh_name(&parent);
        let path = parent.join(name);
        let mode = *g.rng.pick(DIR_MODES);
        let owner = *g.rng.pick(OWNERS);
        g.dir(&path, mode, owner);
        g.random_xattrs(&path);
    }
    let dirs = g.dirs.clone();
    for _ in 0..opts.random_entries {
        let parent = g.rng.pick(&dirs).clone();
        let name = g.fresh_name(&parent);
        let path = parent.join(&name);
        match g.rng.below(100) {
            0..=69 => {
                let data = g.random_content();
                let mode = *g.rng.pick(FILE_MODES);
                let owner = *g.rng.pick(OWNERS);
                g.file(&path, &data, mode, owner, true);
            }
            70..=84 => {
                let target = match g.rng.below(4) {
                    0 => format!("../{}", g.rng.pick(NAME_PARTS)),
                    1 => format!("/usr/share/{}", g.rng.pick(NAME_PARTS)),
                    2 => g.rng.pick(NAME_PARTS).to_string(),
                    _ => format!("./a/b/../{}", g.rng.pick(NAME_PARTS)),
                };
                symlink(&target, &path);
                let owner = *g.rng.pick(OWNERS);
                chown(&path, owner.0, owner.1);
            }
            _ => {
                // A duplicate of an earlier file's content with other metadata.
                let source = g.rng.pick(&g.regular.clone()).clone();
                let data = fs::read(&source).expect("read earlier file");
                let mode = *g.rng.pick(FILE_MODES);
                let owner = *g.rng.pick(OWNERS);
                g.file(&path, &data, mode, owner, true);
            }
        }
    }
    // Directory metadata last (deepest first), so nothing later changes it.
    let mut metas = g.dir_meta.clone();
    metas.sort_by_key(|(path, ..)| std::cmp::Reverse(path.components().count()));
    for (path, mode, uid, gid) in metas {
        chown(&path, uid, gid);
        chmod(&path, mode);
    }
}

/// Changes a tree made by [`generate_tree`] the way a small update would: two files' content,
/// one file's mode, three new files, and a new directory with a file.
pub fn mutate_tree(root: &Path) {
    let fixed = root.join("fixed");
    write(&fixed.join("alpha.txt"), b"alpha, version two\n");
    let mut beta = fs::read(fixed.join("beta.bin")).expect("read beta.bin");
    beta.extend_from_slice(b"appended");
    write(&fixed.join("beta.bin"), &beta);
    chmod(&fixed.join("small.txt"), 0o600);
    write(&fixed.join("new-1"), b"new file one\n");
    write(&fixed.join("new-2"), b"new file two\n");
    write(&root.join("new-top"), &Rng::new(7).bytes(5000));
    mkdir(&root.join("added-dir"));
    chmod(&root.join("added-dir"), 0o755);
    write(&root.join("added-dir/inside"), b"inside the new directory\n");
    chmod(&root.join("added-dir/inside"), 0o644);
    for name in ["fixed/new-1", "fixed/new-2", "new-top"] {
        chmod(&root.join(name), 0o644);
    }
}

// ----------------------------------------------------------------------------------------
// Tree snapshots

/// One entry of a tree as `lstat` and the xattr calls see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// 'f' regular, 'l' symlink, 'd' directory, '?' other.
    pub kind: char,
    /// Permission bits, 07777.
    pub perms: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    /// File bytes or the symlink target; empty for directories.
    pub data: Vec<u8>,
    /// Sorted `user.*` xattrs with non-empty values.
    pub xattrs: Vec<(String, Vec<u8>)>,
}

/// A whole tree: path relative to the root ("" for the root) → node.
pub type Tree = BTreeMap<String, Node>;

/// The sorted `user.*` xattrs of `path` (not following symlinks), empty values dropped.
pub fn user_xattrs(path: &Path) -> Vec<(String, Vec<u8>)> {
    all_xattrs(path).into_iter().filter(|(name, value)| name.starts_with("user.") && !value.is_empty()).collect()
}

/// All xattrs of `path` (any namespace, not following symlinks), values included, sorted.
pub fn all_xattrs(path: &Path) -> Vec<(String, Vec<u8>)> {
    let size = rustix::fs::llistxattr_query(path).unwrap_or_else(|e| panic!("llistxattr {}: {e}", path.display()));
    if size == 0 {
        return Vec::new();
    }
    let mut list = vec![0u8; size];
    let n =
        rustix::fs::llistxattr(path, &mut list[..]).unwrap_or_else(|e| panic!("llistxattr {}: {e}", path.display()));
    let mut out = Vec::new();
    for name in list[..n].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        let len = rustix::fs::lgetxattr_query(path, name.as_str())
            .unwrap_or_else(|e| panic!("lgetxattr {name} {}: {e}", path.display()));
        let mut value = vec![0u8; len];
        let got =
            if len == 0 { 0 } else { rustix::fs::lgetxattr(path, name.as_str(), &mut value[..]).expect("lgetxattr") };
        value.truncate(got);
        out.push((name, value));
    }
    out.sort();
    out
}

fn node(path: &Path) -> Node {
    let meta = fs::symlink_metadata(path).unwrap_or_else(|e| panic!("lstat {}: {e}", path.display()));
    let ft = meta.file_type();
    let (kind, data) = if ft.is_file() {
        ('f', fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display())))
    } else if ft.is_symlink() {
        ('l', fs::read_link(path).expect("readlink").into_os_string().into_encoded_bytes())
    } else if ft.is_dir() {
        ('d', Vec::new())
    } else {
        ('?', Vec::new())
    };
    Node {
        kind,
        perms: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        size: if kind == 'd' { 0 } else { meta.len() },
        data,
        xattrs: user_xattrs(path),
    }
}

/// Every path under `root` relative to it ("" for `root` itself), each directory before its
/// entries, names in byte order; symlinks are not followed.
pub fn relative_paths(root: &Path) -> Vec<String> {
    fn walk(root: &Path, rel: &str, out: &mut Vec<String>) {
        let path = if rel.is_empty() { root.to_path_buf() } else { root.join(rel) };
        out.push(rel.to_string());
        let meta = fs::symlink_metadata(&path).unwrap_or_else(|e| panic!("lstat {}: {e}", path.display()));
        if meta.is_dir() {
            let mut names: Vec<String> = fs::read_dir(&path)
                .unwrap_or_else(|e| panic!("readdir {}: {e}", path.display()))
                .map(|e| e.expect("dir entry").file_name().into_string().expect("UTF-8 name"))
                .collect();
            names.sort();
            for name in names {
                let child = if rel.is_empty() { name } else { format!("{rel}/{name}") };
                walk(root, &child, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, "", &mut out);
    out
}

/// Walks `root` with lstat.
pub fn snapshot(root: &Path) -> Tree {
    relative_paths(root)
        .into_iter()
        .map(|rel| {
            let path = if rel.is_empty() { root.to_path_buf() } else { root.join(&rel) };
            (rel, node(&path))
        })
        .collect()
}

fn show_xattrs(x: &[(String, Vec<u8>)]) -> String {
    let parts: Vec<String> = x.iter().map(|(k, v)| format!("{k}={v:02x?}")).collect();
    format!("[{}]", parts.join(", "))
}

fn node_diff(a: &Node, b: &Node) -> Vec<String> {
    let mut d = Vec::new();
    if a.kind != b.kind {
        d.push(format!("type {} vs {}", a.kind, b.kind));
    }
    if a.perms != b.perms {
        d.push(format!("mode {:04o} vs {:04o}", a.perms, b.perms));
    }
    if (a.uid, a.gid) != (b.uid, b.gid) {
        d.push(format!("owner {}:{} vs {}:{}", a.uid, a.gid, b.uid, b.gid));
    }
    if a.size != b.size {
        d.push(format!("size {} vs {}", a.size, b.size));
    }
    if a.data != b.data {
        let at = a.data.iter().zip(&b.data).position(|(x, y)| x != y).unwrap_or(a.data.len().min(b.data.len()));
        if a.kind == 'l' {
            d.push(format!("target {:?} vs {:?}", String::from_utf8_lossy(&a.data), String::from_utf8_lossy(&b.data)));
        } else {
            d.push(format!("content differs from byte {at}"));
        }
    }
    if a.xattrs != b.xattrs {
        d.push(format!("xattrs {} vs {}", show_xattrs(&a.xattrs), show_xattrs(&b.xattrs)));
    }
    d
}

/// Panics with up to 20 differences if the trees differ.
pub fn assert_trees_equal(expected: &Tree, actual: &Tree, context: &str) {
    let mut problems = Vec::new();
    for (path, e) in expected {
        match actual.get(path) {
            None => problems.push(format!("/{path}: missing")),
            Some(a) => {
                let d = node_diff(e, a);
                if !d.is_empty() {
                    problems.push(format!("/{path}: {} (expected vs actual)", d.join("; ")));
                }
            }
        }
    }
    for path in actual.keys().filter(|p| !expected.contains_key(*p)) {
        problems.push(format!("/{path}: unexpected"));
    }
    if !problems.is_empty() {
        let total = problems.len();
        problems.truncate(20);
        panic!("{context}: {total} differences between the trees:\n  {}", problems.join("\n  "));
    }
}

/// Removes the empty-valued xattrs from a snapshot (ostree drops them).
pub fn without_empty_xattrs(tree: &Tree) -> Tree {
    let mut out = tree.clone();
    for n in out.values_mut() {
        n.xattrs.retain(|(_, v)| !v.is_empty());
    }
    out
}

// ----------------------------------------------------------------------------------------
// Repository object layout

/// Compares every loose object of `ours` (written by rejig) with the one `ostree commit`
/// wrote into `theirs` (same mode): the same set of object files, and for each the same file
/// type, permissions, owner, xattrs (`user.ostreemeta` in bare-user, the real ones in bare),
/// mtime 0 where ostree uses 0, and the same bytes (for archive `.filez`, the same header
/// before the deflate stream, whose bytes depend on the compressor).
pub fn assert_objects_match(theirs: &Path, ours: &Path, context: &str) {
    let a = loose_objects(theirs);
    let b = loose_objects(ours);
    let mut problems = Vec::new();
    for missing in a.difference(&b) {
        problems.push(format!("{missing}: missing from rejig's repo"));
    }
    for extra in b.difference(&a) {
        problems.push(format!("{extra}: written by rejig, not by ostree"));
    }
    for name in a.intersection(&b) {
        let pa = theirs.join("objects").join(name);
        let pb = ours.join("objects").join(name);
        let ma = fs::symlink_metadata(&pa).expect("lstat");
        let mb = fs::symlink_metadata(&pb).expect("lstat");
        let mut d = Vec::new();
        if ma.mode() != mb.mode() {
            d.push(format!("st_mode {:o} vs {:o}", ma.mode(), mb.mode()));
        }
        if (ma.uid(), ma.gid()) != (mb.uid(), mb.gid()) {
            d.push(format!("owner {}:{} vs {}:{}", ma.uid(), ma.gid(), mb.uid(), mb.gid()));
        }
        if ma.file_type().is_file() && ma.mtime() == 0 && mb.mtime() != 0 {
            d.push(format!("mtime 0 vs {}", mb.mtime()));
        }
        let xa = all_xattrs(&pa);
        let xb = all_xattrs(&pb);
        if xa != xb {
            d.push(format!("xattrs {} vs {}", show_xattrs(&xa), show_xattrs(&xb)));
        }
        if ma.file_type().is_symlink() {
            if fs::read_link(&pa).ok() != fs::read_link(&pb).ok() {
                d.push("symlink target".to_string());
            }
        } else if ma.file_type().is_file() && mb.file_type().is_file() {
            let da = fs::read(&pa).expect("read object");
            let db = fs::read(&pb).expect("read object");
            if name.ends_with(".filez") {
                let header = |bytes: &[u8]| -> Vec<u8> {
                    let len = bytes
                        .get(..4)
                        .map(|l| u32::from_be_bytes(l.try_into().expect("4 bytes")) as usize)
                        .unwrap_or(0);
                    bytes.get(..8 + len).unwrap_or(bytes).to_vec()
                };
                if header(&da) != header(&db) {
                    d.push(format!("archive header {:02x?} vs {:02x?}", header(&da), header(&db)));
                }
            } else if da != db {
                d.push(format!("bytes differ ({} vs {} bytes)", da.len(), db.len()));
            }
        }
        if !d.is_empty() {
            problems.push(format!("{name}: {} (ostree vs rejig)", d.join("; ")));
        }
    }
    if !problems.is_empty() {
        let total = problems.len();
        problems.truncate(20);
        let mut msg = String::new();
        let _ = write!(
            msg,
            "{context}: {total} object differences between ostree's {} and rejig's {}:\n  ",
            theirs.display(),
            ours.display()
        );
        msg.push_str(&problems.join("\n  "));
        panic!("{msg}");
    }
}

// ----------------------------------------------------------------------------------------
// Store surgery

/// The pack files of a store, largest first.
pub fn packs_by_size(store: &Path) -> Vec<(u64, PathBuf)> {
    let dir = store.join("packs");
    let mut packs: Vec<(u64, PathBuf)> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "pack"))
        .map(|p| (fs::metadata(&p).expect("stat pack").len(), p))
        .collect();
    packs.sort_by(|a, b| b.cmp(a));
    packs
}

/// An offset in the middle of the largest blob's stored bytes of a pack, read from the trailer
/// (`MAGIC ‖ blobs ‖ BLAKE3(body) ‖ body ‖ trailer_len u64 LE ‖ END_MAGIC`, body = version u32,
/// then a blob section: tag 1, count u32, entries of id(32) offset u64 stored_len u64 raw_len
/// u64 codec u8). Falls back to the middle of the data region if the layout is not that.
pub fn middle_of_largest_blob(pack: &Path) -> u64 {
    let bytes = fs::read(pack).expect("read pack");
    let len = bytes.len();
    assert!(len > 32, "pack {} is only {len} bytes", pack.display());
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let trailer_len = u64_at(len - 16) as usize;
    let data_end = len.checked_sub(16 + trailer_len).filter(|&e| e > 8 && &bytes[len - 8..] == b"RJTRAIL\x01");
    let Some(data_end) = data_end else {
        return len as u64 / 2;
    };
    let body = &bytes[data_end + 32..len - 16];
    let mut best: Option<(u64, u64)> = None;
    if body.len() >= 9 && body[4] == 1 {
        let count = u32::from_le_bytes(body[5..9].try_into().expect("4 bytes")) as usize;
        for i in 0..count {
            let at = 9 + i * 57;
            let Some(entry) = body.get(at..at + 57) else { break };
            let offset = u64::from_le_bytes(entry[32..40].try_into().expect("8"));
            let stored = u64::from_le_bytes(entry[40..48].try_into().expect("8"));
            if best.is_none_or(|(_, s)| stored > s) {
                best = Some((offset, stored));
            }
        }
    }
    match best {
        Some((offset, stored)) if stored > 0 && offset + stored <= data_end as u64 => offset + stored / 2,
        _ => (8 + data_end as u64) / 2,
    }
}
