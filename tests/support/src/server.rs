//! A small HTTP/1.1 file server on 127.0.0.1 for the source tests: one thread per
//! connection, one request per connection, `Range: bytes=N-` honoured, and faults that can
//! be switched on per path for a number of requests.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What a faulty reply does.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Declares the full length, sends `after` bytes of the body, then closes.
    Truncate { after: usize },
    /// Sends the right length of wrong bytes (every byte inverted).
    WrongBytes,
    /// Sends the headers and `after` bytes of the body, then nothing until the server stops.
    Stall { after: usize },
    /// Replies with this status and an empty body.
    Status(u16),
    /// Answers a `Range` request with 200 and the whole file.
    IgnoreRange,
    /// Sends the headers and `after` bytes of the body, then one byte every `every` (a
    /// mirror that never stalls but never gets anywhere), until the body ends or the
    /// server stops.
    Drip { after: usize, every: Duration },
}

/// One request the server saw.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The path asked for.
    pub path: String,
    /// The `Range` header, if any.
    pub range: Option<String>,
}

struct Rule {
    path_suffix: String,
    fault: Fault,
    times: usize,
}

struct State {
    root: PathBuf,
    rules: Mutex<Vec<Rule>>,
    seen: Mutex<Vec<Seen>>,
    stop: AtomicBool,
}

/// The server; stops when dropped.
pub struct Server {
    addr: SocketAddr,
    state: Arc<State>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves the files below `root`.
    pub fn start(root: impl Into<PathBuf>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            root: root.into(),
            rules: Mutex::new(Vec::new()),
            seen: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let accepting = Arc::clone(&state);
        let accept = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accepting.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let state = Arc::clone(&accepting);
                std::thread::spawn(move || {
                    let _ = serve(&state, stream);
                });
            }
        });
        Server { addr, state, accept: Some(accept) }
    }

    /// The root URL, ending in `/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Applies `fault` to the next `times` requests whose path ends with `path_suffix`.
    pub fn fault(&self, path_suffix: &str, fault: Fault, times: usize) {
        self.state.rules.lock().unwrap().push(Rule { path_suffix: path_suffix.to_owned(), fault, times });
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// The requests so far for paths ending with `suffix`.
    pub fn seen_for(&self, suffix: &str) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.path.ends_with(suffix)).collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn serve(state: &State, mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut range = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("range") {
                range = Some(value.trim().to_owned());
            }
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let path = percent_decode(target.split('?').next().unwrap_or("/"));
    state.seen.lock().unwrap().push(Seen { path: path.clone(), range: range.clone() });
    let fault = {
        let mut rules = state.rules.lock().unwrap();
        rules.iter_mut().find(|r| r.times > 0 && path.ends_with(&r.path_suffix)).map(|r| {
            r.times -= 1;
            r.fault.clone()
        })
    };
    if method != "GET" {
        return reply(&mut stream, "405 Method Not Allowed", &[], b"");
    }
    if let Some(Fault::Status(code)) = fault {
        return reply(&mut stream, &format!("{code} Fault"), &[], b"");
    }
    let relative = path.trim_start_matches('/');
    if relative.split('/').any(|s| s == "..") {
        return reply(&mut stream, "403 Forbidden", &[], b"");
    }
    let Ok(data) = std::fs::read(state.root.join(relative)) else {
        return reply(&mut stream, "404 Not Found", &[], b"");
    };
    let start = match (&fault, range.as_deref().and_then(|r| r.strip_prefix("bytes="))) {
        (Some(Fault::IgnoreRange), _) | (_, None) => None,
        (_, Some(spec)) => Some(spec.trim_end_matches('-').parse::<usize>().unwrap_or(0)),
    };
    let (status, headers, body) = match start {
        Some(start) if start >= data.len() => {
            return reply(
                &mut stream,
                "416 Range Not Satisfiable",
                &[format!("Content-Range: bytes */{}", data.len())],
                b"",
            );
        }
        Some(start) => (
            "206 Partial Content",
            vec![format!("Content-Range: bytes {start}-{}/{}", data.len() - 1, data.len())],
            data[start..].to_vec(),
        ),
        None => ("200 OK", Vec::new(), data),
    };
    match fault {
        Some(Fault::WrongBytes) => reply(&mut stream, status, &headers, &body.iter().map(|b| !b).collect::<Vec<_>>()),
        Some(Fault::Truncate { after }) => {
            head(&mut stream, status, &headers, body.len())?;
            stream.write_all(&body[..after.min(body.len())])?;
            stream.flush()?;
            stream.shutdown(Shutdown::Both)
        }
        Some(Fault::Stall { after }) => {
            head(&mut stream, status, &headers, body.len())?;
            stream.write_all(&body[..after.min(body.len())])?;
            stream.flush()?;
            let began = Instant::now();
            while !state.stop.load(Ordering::SeqCst) && began.elapsed() < Duration::from_secs(120) {
                std::thread::sleep(Duration::from_millis(50));
            }
            Ok(())
        }
        Some(Fault::Drip { after, every }) => {
            head(&mut stream, status, &headers, body.len())?;
            let after = after.min(body.len());
            stream.write_all(&body[..after])?;
            stream.flush()?;
            for byte in &body[after..] {
                let began = Instant::now();
                while began.elapsed() < every {
                    if state.stop.load(Ordering::SeqCst) {
                        return Ok(());
                    }
                    std::thread::sleep(Duration::from_millis(20).min(every));
                }
                stream.write_all(std::slice::from_ref(byte))?;
                stream.flush()?;
            }
            Ok(())
        }
        _ => reply(&mut stream, status, &headers, &body),
    }
}

fn head(stream: &mut TcpStream, status: &str, headers: &[String], length: usize) -> std::io::Result<()> {
    let mut text =
        format!("HTTP/1.1 {status}\r\nContent-Length: {length}\r\nConnection: close\r\nAccept-Ranges: bytes\r\n");
    for header in headers {
        text.push_str(header);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    stream.write_all(text.as_bytes())
}

fn reply(stream: &mut TcpStream, status: &str, headers: &[String], body: &[u8]) -> std::io::Result<()> {
    head(stream, status, headers, body.len())?;
    stream.write_all(body)?;
    stream.flush()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
