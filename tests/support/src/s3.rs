//! A real S3 server on loopback for the object-storage tests: moto's server (installed by
//! run-tests.sh with pip), one per test process on a free port, stopped when the test process
//! exits (it runs under a shell that kills it when its stdin, a pipe from this process,
//! closes). moto honours conditional creates (If-None-Match: *), which rejig's uploads need.
//!
//! Buckets are made and inspected with plain HTTP requests (moto does not check signatures),
//! so the tests look at the bucket without going through rejig's client.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The running server.
pub struct Moto {
    port: u16,
    log: PathBuf,
    _child: std::sync::Mutex<Child>,
}

static SERVER: OnceLock<Moto> = OnceLock::new();

/// The server of this test process, started on first use. Panics with a clear message when
/// moto_server is not installed.
pub fn moto() -> &'static Moto {
    SERVER.get_or_init(start)
}

fn start() -> Moto {
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free loopback port").port();
    let log = std::env::temp_dir().join(format!("rejig-moto-{}-{port}.log", std::process::id()));
    // The shell starts moto, waits for its own stdin to close (this process exiting, however
    // it exits), then stops it.
    let script = format!(
        "command -v moto_server >/dev/null || {{ echo 'moto_server is not installed: pip install \"moto[server]\"' >&2; exit 127; }}; \
         moto_server -H 127.0.0.1 -p {port} >{log} 2>&1 </dev/null & pid=$!; cat >/dev/null; kill $pid",
        log = log.display()
    );
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run sh to start moto_server");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("moto_server exited ({status}) before listening: {err}");
        }
        assert!(Instant::now() < deadline, "moto_server did not listen on port {port} within 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    Moto { port, log, _child: std::sync::Mutex::new(child) }
}

/// One HTTP exchange: status and body.
fn exchange(port: u16, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to moto");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body)).expect("send to moto");
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).expect("read from moto");
    let split = reply.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP reply from moto");
    let head = String::from_utf8_lossy(&reply[..split]).into_owned();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    let mut rest = reply[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        rest = dechunk(&rest);
    }
    (status, rest)
}

fn dechunk(mut bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = bytes.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&bytes[..line_end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&bytes[start..start + size]);
        bytes = &bytes[start + size + 2..];
    }
    out
}

impl Moto {
    /// `http://127.0.0.1:PORT`, for AWS_ENDPOINT_URL.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The requests the server logged so far (one line per request).
    pub fn requests_logged(&self) -> usize {
        std::fs::read_to_string(&self.log).map(|l| l.lines().filter(|l| l.contains("HTTP/1.1\"")).count()).unwrap_or(0)
    }

    /// Creates a bucket.
    pub fn create_bucket(&self, bucket: &str) {
        let (status, body) = exchange(self.port, "PUT", &format!("/{bucket}"), b"");
        assert_eq!(status, 200, "creating bucket {bucket}: {}", String::from_utf8_lossy(&body));
    }

    /// Every key in the bucket, sorted.
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        let (status, body) = exchange(self.port, "GET", &format!("/{bucket}?list-type=2&max-keys=1000"), b"");
        let body = String::from_utf8_lossy(&body).into_owned();
        assert_eq!(status, 200, "listing {bucket}: {body}");
        let mut keys: Vec<String> =
            body.split("<Key>").skip(1).filter_map(|part| part.split("</Key>").next()).map(str::to_owned).collect();
        keys.sort();
        keys
    }

    /// Writes an object.
    pub fn put(&self, bucket: &str, key: &str, bytes: &[u8]) {
        let (status, body) = exchange(self.port, "PUT", &format!("/{bucket}/{key}"), bytes);
        assert_eq!(status, 200, "writing {bucket}/{key}: {}", String::from_utf8_lossy(&body));
    }

    /// Deletes an object.
    pub fn delete(&self, bucket: &str, key: &str) {
        let (status, _) = exchange(self.port, "DELETE", &format!("/{bucket}/{key}"), b"");
        assert!(status == 204 || status == 200, "deleting {bucket}/{key}: {status}");
    }
}
