//! Running the tools the tests use as oracles: every helper panics with a message that says
//! what was run and what came back, so a failing test explains itself. A missing tool is a
//! failure, never a skip.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// No single command of this suite should come near this; it only turns a hang into a failure.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

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
