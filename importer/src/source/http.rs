//! HTTP for package sources: one ureq agent whose every wait is bounded, replies sorted into
//! what the fetcher needs (whole file, resumed range, range past the end), and failures
//! sorted into worth retrying (I/O errors, timeouts, 408, 429, 5xx) or not (404, TLS, bad URL).
//!
//! Bounds: connecting (DNS, TCP, TLS) takes at most `connect_timeout`; then every read,
//! headers and body alike, must bring a byte within `stall_timeout`, so a stalled server fails
//! the attempt in about that time. A server that keeps sending, but too slowly (one byte a
//! second), is caught by the speed floor instead: a body whose average speed stays below
//! `speed_limit` bytes a second for `speed_time` fails with [`TooSlow`], which is not retried on
//! that mirror, and the headers of a reply must all arrive within `speed_time` (or
//! `stall_timeout`, if longer). Bodies are never decoded (no `Accept-Encoding`), so the
//! bytes hashed are the bytes the server holds. Proxies come from the usual environment
//! variables (`https_proxy`, `no_proxy`...).

use std::io::Read;
use std::time::{Duration, Instant};

use super::{refused, FetchOptions, Problem};

/// Talks HTTP with bounded waits.
pub(super) struct Client {
    agent: ureq::Agent,
    /// Tries per request, at least 1.
    pub(super) attempts: u32,
    /// The speed floor: bytes per second (0: none) and for how long.
    speed: (u64, Duration),
}

/// A reply body, under the speed floor.
pub(super) type Body = SpeedFloor<ureq::BodyReader<'static>>;

/// The error a body read returns when the transfer stayed below the speed floor.
#[derive(Debug, thiserror::Error)]
#[error("too slow: {bytes} bytes in {seconds:.1} s, below the floor of {limit} bytes/s over {window} s (--speed-limit, --speed-time)")]
pub(super) struct TooSlow {
    bytes: u64,
    seconds: f64,
    limit: u64,
    window: u64,
}

/// True when `error` is a [`TooSlow`]: the mirror is too slow, and retrying it is pointless.
pub(super) fn is_too_slow(error: &std::io::Error) -> bool {
    error.get_ref().is_some_and(|inner| inner.is::<TooSlow>())
}

/// A reader that fails with [`TooSlow`] once the bytes it delivered over a window of
/// `window` average less than `limit` a second. Each window starts where the last ended, as
/// curl's `--speed-limit` and `--speed-time` do; a silent server is the stall timeout's job.
pub(super) struct SpeedFloor<R> {
    inner: R,
    limit: u64,
    window: Duration,
    started: Instant,
    bytes: u64,
}

impl<R> SpeedFloor<R> {
    fn new(inner: R, (limit, window): (u64, Duration)) -> Self {
        SpeedFloor { inner, limit, window, started: Instant::now(), bytes: 0 }
    }
}

impl<R: Read> Read for SpeedFloor<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.limit == 0 || n == 0 {
            return Ok(n);
        }
        self.bytes = self.bytes.saturating_add(n as u64);
        let elapsed = self.started.elapsed();
        if elapsed >= self.window {
            let seconds = elapsed.as_secs_f64();
            if (self.bytes as f64) < self.limit as f64 * seconds {
                let slow = TooSlow { bytes: self.bytes, seconds, limit: self.limit, window: self.window.as_secs() };
                return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, slow));
            }
            self.started = Instant::now();
            self.bytes = 0;
        }
        Ok(n)
    }
}

/// Why a request failed, and whether trying again could help.
#[derive(Debug)]
pub(super) struct Failure {
    /// True for I/O errors, timeouts, 408, 429 and 5xx.
    pub(super) retry: bool,
    /// What happened.
    pub(super) detail: String,
}

impl Failure {
    fn permanent(detail: impl Into<String>) -> Self {
        Failure { retry: false, detail: detail.into() }
    }
}

/// A reply to a GET, possibly with a `Range`.
pub(super) enum Reply {
    /// 200: the whole file from its first byte (also the answer to a `Range` a server ignores).
    Whole {
        /// The body.
        body: Body,
        /// `Content-Length`, when sent.
        length: Option<u64>,
    },
    /// 206: the file from byte `start` on.
    Partial {
        /// The body.
        body: Body,
        /// Where the body starts in the file, from `Content-Range`.
        start: u64,
    },
    /// 416: the range starts at or past the end of the file.
    PastEnd {
        /// The file's size, when `Content-Range: bytes */SIZE` says.
        total: Option<u64>,
    },
}

impl Client {
    /// An agent with `options`' timeouts.
    pub(super) fn new(options: &FetchOptions) -> Self {
        // Headers are small: all of them within the speed window (or the stall timeout).
        let headers =
            if options.speed_limit > 0 { options.speed_time.max(options.stall_timeout) } else { options.stall_timeout };
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_resolve(Some(options.connect_timeout))
            .timeout_connect(Some(options.connect_timeout))
            .timeout_send_request(Some(options.stall_timeout))
            .timeout_per_read(Some(options.stall_timeout))
            .timeout_per_write(Some(options.stall_timeout))
            .timeout_recv_response(Some(headers))
            .user_agent(concat!("rejig/", env!("CARGO_PKG_VERSION")))
            .build();
        Client {
            agent: config.into(),
            attempts: options.attempts.max(1),
            speed: (options.speed_limit, options.speed_time.max(Duration::from_secs(1))),
        }
    }

    /// GETs `url` from byte `from` (a `Range: bytes=FROM-` request when `from` > 0).
    pub(super) fn get(&self, url: &str, from: u64) -> Result<Reply, Failure> {
        let mut request = self.agent.get(url);
        if from > 0 {
            request = request.header("Range", format!("bytes={from}-"));
        }
        let response = request.call().map_err(|e| Failure { retry: transient(&e), detail: e.to_string() })?;
        let status = response.status();
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        match status.as_u16() {
            200 => {
                let length = response.body().content_length();
                Ok(Reply::Whole { body: SpeedFloor::new(response.into_body().into_reader(), self.speed), length })
            }
            206 => {
                let range = header("content-range").unwrap_or_default();
                let start = content_range_start(&range)
                    .ok_or_else(|| Failure::permanent(format!("HTTP 206 with an unusable Content-Range {range:?}")))?;
                Ok(Reply::Partial { body: SpeedFloor::new(response.into_body().into_reader(), self.speed), start })
            }
            416 => Ok(Reply::PastEnd { total: header("content-range").as_deref().and_then(content_range_total) }),
            408 | 429 | 500..=599 => Err(Failure { retry: true, detail: format!("HTTP {status}") }),
            code => Err(Failure::permanent(format!("HTTP {status}{}", hint(code)))),
        }
    }

    /// GETs a whole file of at most `limit` bytes into memory, retrying transient failures.
    pub(super) fn get_bounded(&self, url: &str, limit: u64) -> Result<Vec<u8>, Problem> {
        let mut attempt = 1;
        loop {
            match self.get_bounded_once(url, limit) {
                Ok(bytes) => return Ok(bytes),
                Err(failure) if failure.retry && attempt < self.attempts => {
                    std::thread::sleep(backoff(attempt));
                    attempt += 1;
                }
                Err(failure) => {
                    let tries = if attempt > 1 { format!(" (after {attempt} attempts)") } else { String::new() };
                    return Err(Problem::Remote(format!("{url}: {}{tries}", failure.detail)));
                }
            }
        }
    }

    fn get_bounded_once(&self, url: &str, limit: u64) -> Result<Vec<u8>, Failure> {
        let (body, length) = match self.get(url, 0)? {
            Reply::Whole { body, length } => (body, length),
            Reply::Partial { .. } | Reply::PastEnd { .. } => {
                return Err(Failure::permanent("a partial reply to a request for the whole file"))
            }
        };
        if let Some(length) = length.filter(|&l| l > limit) {
            return Err(Failure::permanent(format!(
                "the server declares {length} bytes, more than the {limit} allowed"
            )));
        }
        let mut bytes = Vec::new();
        body.take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| Failure { retry: !is_too_slow(&e), detail: format!("reading the reply: {e}") })?;
        if bytes.len() as u64 > limit {
            return Err(Failure::permanent(format!("longer than the {limit} bytes allowed")));
        }
        if let Some(length) = length.filter(|&l| l != bytes.len() as u64) {
            return Err(Failure { retry: true, detail: format!("truncated: {} of {length} bytes", bytes.len()) });
        }
        Ok(bytes)
    }
}

/// Whether a failed request may succeed if tried again.
fn transient(error: &ureq::Error) -> bool {
    matches!(
        error,
        ureq::Error::Io(_) | ureq::Error::Timeout(_) | ureq::Error::ConnectionFailed | ureq::Error::Protocol(_)
    )
}

/// What to do about a permanent HTTP status.
fn hint(code: u16) -> &'static str {
    match code {
        404 | 410 => " (the mirror does not have the file: is its repodata stale?)",
        401 | 403 => " (the server refuses access)",
        _ => "",
    }
}

/// The pause before try `attempt + 1`: 0.2 s, 0.4 s, 0.8 s..., at most 5 s.
pub(super) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(200u64.saturating_mul(1u64 << attempt.saturating_sub(1).min(5)).min(5000))
}

/// `START` of `Content-Range: bytes START-END/TOTAL`.
fn content_range_start(value: &str) -> Option<u64> {
    let range = value.trim().strip_prefix("bytes ")?;
    let (start, _) = range.split_once('-')?;
    start.trim().parse().ok()
}

/// `TOTAL` of `Content-Range: bytes */TOTAL` (or of any range).
fn content_range_total(value: &str) -> Option<u64> {
    let (_, total) = value.trim().strip_prefix("bytes ")?.split_once('/')?;
    total.trim().parse().ok()
}

/// A repository's base URL: scheme lowercased, host required, no query, fragment or
/// whitespace, and a trailing `/` so that relative locations join onto it.
pub(super) fn base_url(spec: &str) -> Result<String, Problem> {
    let (scheme, rest) = spec.split_once("://").ok_or_else(|| refused("not a URL"))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() {
        return Err(refused("the URL names no host"));
    }
    if rest.contains(['?', '#']) || rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(refused("a repository URL may not have a query, a fragment, spaces or control characters"));
    }
    let mut url = format!("{}://{rest}", scheme.to_ascii_lowercase());
    if !url.ends_with('/') {
        url.push('/');
    }
    Ok(url)
}

/// `base` (ending in `/`) joined with a relative path whose segments are already normalised,
/// each byte outside the URL path alphabet %-escaped (hrefs in repodata are raw paths).
pub(super) fn join(base: &str, path: &str) -> String {
    let mut url = String::with_capacity(base.len() + path.len());
    url.push_str(base);
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&byte) {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges() {
        assert_eq!(content_range_start("bytes 100-199/200"), Some(100));
        assert_eq!(content_range_start("bytes */200"), None);
        assert_eq!(content_range_total("bytes */200"), Some(200));
        assert_eq!(content_range_total("bytes 0-1/*"), None);
    }

    #[test]
    fn urls() {
        assert_eq!(base_url("HTTP://h/r").unwrap(), "http://h/r/");
        assert!(base_url("http:///r").is_err());
        assert!(base_url("http://h/r?x").is_err());
        assert_eq!(join("http://h/", "Packages/c++ 1%.rpm"), "http://h/Packages/c++%201%25.rpm");
    }

    /// Yields `chunk` bytes per read, `pause` apart, forever.
    struct Drip {
        chunk: usize,
        pause: Duration,
    }

    impl Read for Drip {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            std::thread::sleep(self.pause);
            let n = self.chunk.min(buf.len());
            buf.iter_mut().take(n).for_each(|b| *b = 1);
            Ok(n)
        }
    }

    #[test]
    fn the_speed_floor_fails_a_drip_and_passes_a_steady_stream() {
        let window = Duration::from_millis(200);
        let mut slow = SpeedFloor::new(Drip { chunk: 1, pause: Duration::from_millis(10) }, (1000, window));
        let started = Instant::now();
        let error = std::io::copy(&mut slow, &mut std::io::sink()).unwrap_err();
        assert!(is_too_slow(&error), "{error}");
        assert!(started.elapsed() < window * 3, "failed after {:?}", started.elapsed());
        assert!(error.to_string().contains("below the floor of 1000 bytes/s"), "{error}");
        let mut steady = SpeedFloor::new(Drip { chunk: 100, pause: Duration::from_millis(10) }, (1000, window));
        let mut buf = [0u8; 100];
        for _ in 0..60 {
            assert_eq!(steady.read(&mut buf).unwrap(), 100);
        }
        let mut off = SpeedFloor::new(Drip { chunk: 1, pause: Duration::from_millis(10) }, (0, window));
        for _ in 0..30 {
            assert_eq!(off.read(&mut buf).unwrap(), 1);
        }
    }

    #[test]
    fn backoff_is_short_and_bounded() {
        assert_eq!(backoff(1), Duration::from_millis(200));
        assert_eq!(backoff(2), Duration::from_millis(400));
        assert_eq!(backoff(100), Duration::from_secs(5));
    }
}
