//! The cache under `<target dir>/test-data/`: one directory per source, staged under a temp
//! name and renamed into place when complete, and a lock file that one process holds while
//! it fills the cache.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

use super::PINNED;

/// The workspace's root folder (this crate sits at `tests/support` in it).
pub fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or_else(|e| panic!("test data: the workspace root {}: {e}", root.display()))
}

/// The cargo that runs the tests (`cargo test` sets `CARGO`), or `cargo` from `PATH`.
fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// `cargo metadata` of the workspace, with its dependencies unless `no_deps`.
pub fn cargo_metadata(no_deps: bool) -> serde_json::Value {
    let mut cmd = Command::new(cargo());
    cmd.args(["metadata", "--format-version", "1", "--manifest-path"]).arg(workspace_root().join("Cargo.toml"));
    if no_deps {
        cmd.arg("--no-deps");
    }
    let out = run("`cargo metadata` (to find the target directory and the rpm crate)", &mut cmd);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("test data: `cargo metadata` printed no JSON: {e}"))
}

/// `<target dir>/test-data`, created if need be.
pub fn test_data_dir() -> PathBuf {
    let metadata = cargo_metadata(true);
    let target = metadata["target_directory"].as_str().expect("test data: `cargo metadata` gave no target_directory");
    let dir = Path::new(target).join("test-data");
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("test data: creating {}: {e}", dir.display()));
    dir
}

/// The cache's lock, held while this process checks and fills the cache. Taking it also
/// removes what a killed process left half-staged.
pub struct Lock(#[allow(dead_code)] File);

impl Lock {
    pub fn take(root: &Path) -> Lock {
        let path = root.join(".lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("test data: opening {}: {e}", path.display()));
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
            .unwrap_or_else(|e| panic!("test data: locking {}: {e}", path.display()));
        for entry in fs::read_dir(root).unwrap_or_else(|e| panic!("test data: {}: {e}", root.display())) {
            let entry = entry.unwrap_or_else(|e| panic!("test data: {}: {e}", root.display()));
            if entry.file_name().to_string_lossy().contains(".tmp-") {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
        Lock(file)
    }
}

/// A fresh staging directory for the cache directory `name`.
pub fn stage(root: &Path, name: &str) -> PathBuf {
    let staging = root.join(format!(".{name}.tmp-{}", std::process::id()));
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging).unwrap_or_else(|e| panic!("test data: creating {}: {e}", staging.display()));
    staging
}

/// Moves a complete staging directory to its place in the cache.
pub fn publish(staging: &Path, dir: &Path) {
    fs::rename(staging, dir)
        .unwrap_or_else(|e| panic!("test data: renaming {} to {}: {e}", staging.display(), dir.display()));
}

/// The SHA-256 of a file, in hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Every pinned file whose key starts with one of `prefixes` is in `dir` with its SHA-256.
fn verify(dir: &Path, prefixes: &[&str]) -> Result<(), String> {
    for (key, pinned) in PINNED.iter().filter(|(key, _)| prefixes.iter().any(|p| key.starts_with(p))) {
        let path = dir.join(key);
        let actual = sha256_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        if actual != *pinned {
            return Err(format!("{}: SHA-256 {actual}, but {key} is pinned to {pinned}", path.display()));
        }
    }
    Ok(())
}

/// The cache directory `name`, holding the pinned files under `prefixes`: found and checked,
/// or filled by `populate` (given a staging directory) and checked. A cached directory that
/// fails its pins is fetched again; a fresh fetch that fails them panics.
pub fn pinned_dir(root: &Path, name: &str, prefixes: &[&str], populate: fn(&Path)) -> PathBuf {
    let dir = root.join(name);
    if dir.exists() {
        match verify(&dir, prefixes) {
            Ok(()) => return dir,
            Err(e) => {
                eprintln!("test data: the cached {} is damaged ({e}); fetching it again", dir.display());
                fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("test data: removing {}: {e}", dir.display()));
            }
        }
    }
    let staging = stage(root, name);
    let started = std::time::Instant::now();
    populate(&staging);
    if let Err(e) = verify(&staging, prefixes) {
        panic!("test data: fetched {prefixes:?}, but a file does not match its pin: {e}");
    }
    publish(&staging, &dir);
    eprintln!("test data: fetched {prefixes:?} into {} in {:.1?}", dir.display(), started.elapsed());
    dir
}

/// Runs a command; panics, naming `what` and showing its output, unless it succeeds.
pub fn run(what: &str, cmd: &mut Command) -> Output {
    let line = format!(
        "{} {}",
        cmd.get_program().to_string_lossy(),
        cmd.get_args().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ")
    );
    let out = cmd.output().unwrap_or_else(|e| panic!("test data: {what}: cannot run `{line}`: {e}"));
    assert!(
        out.status.success(),
        "test data: {what}: `{line}` failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
