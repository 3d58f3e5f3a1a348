//! The harness of the end-to-end tests: running `rejig` against a throw-away store, its JSON
//! reports and their contract, and store surgery. What is not about rejig (the `ostree` oracle,
//! the golden fixture, the tree generator and comparison, fixture RPMs from `rpmbuild`, the
//! PRNG) is in the test-support crate (`tests/support`) and re-exported here.
//!
//! Every helper panics with a message that says what was run and what came back, so a failing
//! test explains itself. A missing tool (`ostree`) is a failure, never a skip.
#![allow(missing_docs, dead_code, clippy::unwrap_used)]

pub mod jigdo_fixture;
pub mod rpm_bytes;

// Each test binary uses some of these.
#[allow(unused_imports)]
pub use rejig_test_support::{files::*, ostree::*, process::*, rng::Rng, rpmbuild, tree::*};

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use tempfile::TempDir;

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
        let full = json_args(args);
        json_success(&self.what(&full), &self.run(&full))
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

    /// After a writer was killed: `fsck_clean`, or, when the kill came before the writer had
    /// created the store (the path is missing, or an empty directory), an `fsck` that says
    /// there is no store and creates none; then the report of an empty store.
    pub fn fsck_clean_after_kill(&self) -> Value {
        let started = self.store.join("packs").exists() || self.store.join("index.redb").exists();
        if started {
            return self.fsck_clean();
        }
        let existed = self.store.exists();
        let out = self.fails(&["fsck"]);
        assert_stderr_mentions(&out, "is not a rejig store", "that the killed writer made no store yet");
        assert_eq!(self.store.exists(), existed, "fsck created {}", self.store.display());
        serde_json::json!({"packs": 0, "blobs": 0, "objects": 0, "packages": 0, "bytes": 0,
            "problems": [], "unreferenced_packs": []})
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
/// `ARGS` with `--json` in front.
pub fn json_args<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut full = vec!["--json"];
    full.extend_from_slice(args);
    full
}

/// Requires that the command `what` succeeded, and returns the one JSON object it printed.
pub fn json_success(what: &str, out: &Output) -> Value {
    assert!(out.status.success(), "expected success:\n{}", report(what, out));
    parse_json(what, out)
}

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

/// Writes `NAME-1.0-1.noarch.rpm` into `dir`, holding `files` (path, bytes), zstd payload,
/// reproducible.
pub fn noarch_package(dir: &Path, name: &str, files: &[(&str, &[u8])]) {
    let mut builder = rpm::PackageBuilder::new(name, "1.0", "MIT", "noarch", "rejig test package");
    builder.using_config(rpm::BuildConfig::v4().compression(rpm::CompressionType::Zstd).source_date(1u32));
    for (path, bytes) in files {
        builder.with_file_contents(bytes.to_vec(), rpm::FileOptions::new(*path)).unwrap();
    }
    builder.build().unwrap().write_file(dir.join(format!("{name}-1.0-1.noarch.rpm"))).unwrap();
}

/// Writes `bytes` at `path` (absolute, as in the image) under `root`, making its directories.
pub fn put_file(root: &Path, path: &str, bytes: &[u8]) {
    let path = root.join(path.trim_start_matches('/'));
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}
