//! The metrics port: a minimal HTTP/1.1 server on std's sockets (request
//! heads read by httparse, which tungstenite and ureq link in anyway), for
//! three pages: `GET /metrics` (the Prometheus text),
//! `GET /healthz` (`ok`: the process is alive and serving) and
//! `GET /readyz` (`ready`, or 503 with the reason, from the `ready`
//! function the caller gives).
//!
//! One thread, `metrics`, blocks in `accept` (no wakeups while nobody
//! asks) and hands each connection to a short-lived thread of its own
//! (the shared loop in `accept`: at most a few at once, the oldest closed
//! to make room), which serves one request and closes it. That keeps the
//! cost bounded whatever arrives: per connection one buffer of
//! [`HEAD_MAX`] bytes, one rendered page; connections not accepted yet
//! wait in the kernel's accept queue ([`BACKLOG`]). A connection gets
//! [`DEADLINE`] in total to send its request head, so a client that
//! trickles bytes, or sends none, is dropped without an answer then, and
//! holds nobody else up meanwhile. A head over
//! [`HEAD_MAX`] or with more than [`MAX_HEADERS`] headers gets 431;
//! anything that is not an HTTP/1.x request head, 400, as soon as that is
//! clear; another method than GET or HEAD on a known page, 405 with
//! `Allow`; an unknown path, 404. `HEAD` is answered like `GET` without
//! the body (same `Content-Length`). Every answer says
//! `Connection: close` and carries `Content-Length`; request headers are
//! not read, only skipped. After answering anything but a bodiless GET or
//! HEAD, what the client still sends is read and thrown away until it
//! closes, within the same deadline: closing over unread bytes would make
//! the kernel reset the connection, which can destroy the answer unread.
//!
//! [`bind`] opens the port from the `metrics_listen` setting and refuses
//! an address other than loopback unless `metrics_public` allows it: the
//! figures tell anyone who can read them how busy this machine is.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::prometheus::{render, CONTENT_TYPE};
use super::{HealthView, Metrics};
use crate::accept;
use crate::address::{self, AddressError, Port};
use crate::deadline;
use crate::text::{metrics as text, Text};

/// How long a connection may take to send its request head, in total, and
/// to take each write of the answer.
pub const DEADLINE: Duration = Duration::from_secs(2);

/// The largest request head read (request line and headers): a scraper's
/// is a few hundred bytes.
pub const HEAD_MAX: usize = 8 * 1024;

/// The accept queue asked of the kernel (which caps it at
/// `net.core.somaxconn`). std listens with 128; a burst of scrapers or a
/// port scan should wait there rather than have its SYNs dropped.
const BACKLOG: u16 = 1024;

/// Why the metrics port cannot be opened; each holds the `metrics_listen`
/// value as typed.
#[derive(Debug)]
pub enum MetricsError {
    /// Not `host:port`, `[v6]:port` in any form `address` accepts.
    Address {
        listen: String,
        problem: AddressError,
    },
    NoPort(String),
    BadPort {
        listen: String,
        port: String,
    },
    /// A host name other than `localhost`: the address is never looked up.
    NotIp {
        listen: String,
        host: String,
    },
    /// Not loopback, and `metrics_public` is off.
    NotLoopback(String),
    /// The operating system refused (in use, no permission).
    Listen {
        listen: String,
        error: io::Error,
    },
}

impl MetricsError {
    /// The message, for the terminal (the program stops) or the log.
    pub fn text(&self) -> Text {
        match self {
            MetricsError::Address { listen, problem } => {
                text::metrics_listen_address(listen, problem.text())
            }
            MetricsError::NoPort(listen) => text::metrics_listen_no_port(listen),
            MetricsError::BadPort { listen, port } => text::metrics_listen_bad_port(listen, port),
            MetricsError::NotIp { listen, host } => text::metrics_listen_not_ip(listen, host),
            MetricsError::NotLoopback(listen) => text::metrics_listen_not_loopback(listen),
            MetricsError::Listen { listen, error } => text::metrics_cannot_listen(listen, error),
        }
    }
}

crate::text::english_display!(MetricsError);

impl std::error::Error for MetricsError {}

/// Opens the port `listen` names: `127.0.0.1:9464`, `[::1]:9464`,
/// `localhost:9464` (always 127.0.0.1: no name is looked up, so no
/// resolver setting can move the port onto a public address), or `:9464`
/// (every IPv4 address). An address other than loopback needs `public`.
pub fn bind(listen: &str, public: bool) -> Result<TcpListener, MetricsError> {
    let addr = listen_address(listen, public)?;
    let listener = TcpListener::bind(addr).map_err(|error| MetricsError::Listen {
        listen: listen.to_string(),
        error,
    })?;
    crate::platform::net::widen_backlog(&listener, BACKLOG);
    Ok(listener)
}

/// The socket address `listen` names, if the loopback rule allows it.
fn listen_address(listen: &str, public: bool) -> Result<SocketAddr, MetricsError> {
    let typed = || listen.to_string();
    let parsed = address::parse(listen).map_err(|problem| MetricsError::Address {
        listen: typed(),
        problem,
    })?;
    let port = match parsed.port {
        Port::Number(port) => port,
        Port::Absent => return Err(MetricsError::NoPort(typed())),
        Port::Bad(port) => {
            let port = port.to_string();
            return Err(MetricsError::BadPort {
                listen: typed(),
                port,
            });
        }
    };
    let ip = match parsed.host {
        "" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        host if host.eq_ignore_ascii_case("localhost") => IpAddr::V4(Ipv4Addr::LOCALHOST),
        host => host.parse().map_err(|_| MetricsError::NotIp {
            listen: typed(),
            host: host.to_string(),
        })?,
    };
    // `::ffff:127.0.0.1` is loopback too.
    if !public && !ip.to_canonical().is_loopback() {
        return Err(MetricsError::NotLoopback(typed()));
    }
    Ok(SocketAddr::new(ip, port))
}

/// Starts the `metrics` thread on `listener` (from [`bind`]); it serves
/// until the process ends. Fails only if the thread cannot be started.
/// `health` is asked on each scrape and each `/readyz`, on a connection's
/// thread, possibly on several at once: it must be quick and bounded.
pub fn start(listener: TcpListener, metrics: Arc<Metrics>, health: HealthView) -> io::Result<()> {
    start_with(listener, metrics, health, DEADLINE)
}

/// [`start`] with another deadline (the tests' is short).
fn start_with(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    health: HealthView,
    deadline: Duration,
) -> io::Result<()> {
    // A non-blocking listener would make `accept` spin.
    listener.set_nonblocking(false)?;
    if let Ok(addr) = listener.local_addr() {
        log::info!("metrics: serving http://{addr}/metrics, /healthz and /readyz");
    }
    let serve_one: accept::Serve<TcpStream> = Arc::new(move |stream| {
        if let Err(e) = serve_one(stream, &metrics, &health, deadline) {
            log::debug!("metrics: connection dropped: {e}");
        }
    });
    accept::start("metrics", listener, serve_one)
}

/// Reads one request, answers it, closes.
fn serve_one(
    mut stream: TcpStream,
    metrics: &Metrics,
    health: &HealthView,
    deadline: Duration,
) -> io::Result<()> {
    let until = Instant::now() + deadline;
    let mut buf = vec![0u8; HEAD_MAX];
    let Some(filled) = read_head(&mut stream, &mut buf, until) else {
        return Ok(());
    };
    let (answer, linger) = match parse_head(buf.get(..filled).unwrap_or_default()) {
        // Bytes after the head (a body, a pipelined request), or a method
        // not known to end at its head: the client may still be sending.
        Parsed::Complete(len, line) => {
            let linger = filled > len || !line.ends_at_head();
            (respond(line, metrics, health), linger)
        }
        // Still partial: the buffer is full.
        Parsed::Partial | Parsed::TooManyHeaders => (Answer::error(431), true),
        Parsed::Invalid => (Answer::error(400), true),
    };
    stream.set_write_timeout(Some(deadline))?;
    stream.write_all(&answer.bytes())?;
    stream.shutdown(Shutdown::Write)?;
    if linger {
        drain(&mut stream, &mut buf, until);
    }
    Ok(())
}

/// Reads until `buf` holds a whole head, bytes that are no HTTP/1.x
/// request head (answered 400 without waiting for more) or as many bytes
/// as it holds, and says how many it read; `None` when the deadline passed,
/// or the client closed or broke the connection first: no answer.
fn read_head(stream: &mut TcpStream, buf: &mut [u8], until: Instant) -> Option<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let space = buf.get_mut(filled..).unwrap_or_default();
        filled += read_before(stream, space, until)?;
        if parse_head(buf.get(..filled).unwrap_or_default()) != Parsed::Partial {
            break;
        }
    }
    Some(filled)
}

/// One read into `buf` before `until`; `None` when the time is up or the
/// connection ended (closed, or broken: either way there is nobody to
/// answer).
fn read_before(stream: &mut TcpStream, buf: &mut [u8], until: Instant) -> Option<usize> {
    let read = deadline::read_before(stream, buf, until).ok().flatten();
    read.filter(|n| *n > 0)
}

/// Reads and discards what the client still sends, until it closes or
/// `until`: closing with unread bytes makes the kernel send a reset, which
/// can destroy the answer before the client reads it.
fn drain(stream: &mut TcpStream, buf: &mut [u8], until: Instant) {
    while read_before(stream, buf, until).is_some() {}
}

/// What a request line names: the method, and the path without a query.
#[derive(Debug, PartialEq)]
struct RequestLine<'a> {
    method: &'a str,
    path: &'a str,
}

/// Prometheus sends about five headers; a head with more than this many
/// gets 431 (and the parser's table stays small on the thread's stack).
const MAX_HEADERS: usize = 64;

/// What httparse makes of the bytes read so far.
#[derive(Debug, PartialEq)]
enum Parsed<'a> {
    /// A whole head of `len` bytes, with an origin-form target
    /// (`/path[?query]`: a proxy's absolute form or `*` is no page here).
    Complete(usize, RequestLine<'a>),
    Partial,
    TooManyHeaders,
    Invalid,
}

/// Reads a request head (HTTP/1.0 or 1.1, RFC 9112: methods and header
/// names made of token characters, single spaces, CRLF or bare LF).
fn parse_head(bytes: &[u8]) -> Parsed<'_> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => match (request.method, request.path) {
            (Some(method), Some(target)) if target.starts_with('/') => {
                let path = target.split('?').next().unwrap_or(target);
                Parsed::Complete(len, RequestLine { method, path })
            }
            _ => Parsed::Invalid,
        },
        Ok(httparse::Status::Partial) => Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => Parsed::TooManyHeaders,
        Err(_) => Parsed::Invalid,
    }
}

impl RequestLine<'_> {
    /// Only GET and HEAD are known to end at their head.
    fn ends_at_head(&self) -> bool {
        matches!(self.method, "GET" | "HEAD")
    }
}

/// The answer to a request head: the page, or 404 for no page here, 405
/// for a method other than GET and HEAD.
fn respond(line: RequestLine, metrics: &Metrics, health: &HealthView) -> Answer {
    let page: fn(&Metrics, &HealthView) -> Answer = match line.path {
        "/metrics" => |metrics, health| Answer::new(200, CONTENT_TYPE, render(metrics, &health())),
        "/healthz" => |_, _| Answer::text(200, "ok"),
        "/readyz" => |_, health| match health().ready {
            Ok(()) => Answer::text(200, "ready"),
            Err(why) => Answer::text(503, &why),
        },
        _ => return Answer::error(404),
    };
    match line.method {
        "GET" => page(metrics, health),
        "HEAD" => Answer {
            without_body: true,
            ..page(metrics, health)
        },
        _ => Answer::error(405),
    }
}

/// An HTTP answer, whole.
#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: &'static str,
    body: String,
    /// For HEAD: the headers as for GET, no body.
    without_body: bool,
}

const TEXT: &str = "text/plain; charset=utf-8";

impl Answer {
    fn new(status: u16, content_type: &'static str, body: String) -> Answer {
        Answer {
            status,
            content_type,
            body,
            without_body: false,
        }
    }

    /// A one-line plain text page.
    fn text(status: u16, line: &str) -> Answer {
        Answer::new(status, TEXT, format!("{line}\n"))
    }

    /// An error page: the status's reason as the body.
    fn error(status: u16) -> Answer {
        Answer::text(status, &reason(status).to_ascii_lowercase())
    }

    fn bytes(&self) -> Vec<u8> {
        let (status, reason) = (self.status, reason(self.status));
        let allow = if status == 405 {
            "Allow: GET, HEAD\r\n"
        } else {
            ""
        };
        let body = if self.without_body { "" } else { &self.body };
        format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\
             Cache-Control: no-store\r\nConnection: close\r\n{allow}\r\n{body}",
            self.content_type,
            self.body.len(),
        )
        .into_bytes()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Health;
    use std::io::{ErrorKind, Read};
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    use std::thread;

    /// The bound of every wait for the server in these tests.
    const WAIT: Duration = Duration::from_secs(10);

    /// A health that is `ready` (nothing else matters to the server).
    fn health_of(ready: Result<(), String>) -> Health {
        Health {
            hub_connected: ready.is_ok(),
            paused: false,
            ollama_up: None,
            backends_up: Vec::new(),
            away: None,
            gpus: Vec::new(),
            ready,
        }
    }

    /// A server on 127.0.0.1 with `deadline`; `/readyz` says ready while
    /// the flag is set.
    fn serve(deadline: Duration) -> (SocketAddr, Arc<Metrics>, Arc<AtomicBool>) {
        let listener = bind("127.0.0.1:0", false).unwrap();
        let addr = listener.local_addr().unwrap();
        let metrics = Metrics::new();
        let is_ready = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&is_ready);
        let health: HealthView = Arc::new(move || match flag.load(Relaxed) {
            true => health_of(Ok(())),
            false => health_of(Err("not connected to the hub".into())),
        });
        start_with(listener, Arc::clone(&metrics), health, deadline).unwrap();
        (addr, metrics, is_ready)
    }

    fn connect(addr: SocketAddr) -> TcpStream {
        let stream = TcpStream::connect_timeout(&addr, WAIT).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream.set_write_timeout(Some(WAIT)).unwrap();
        stream
    }

    /// Everything the server sends until it closes.
    fn read_all(stream: &mut TcpStream) -> io::Result<String> {
        let mut out = Vec::new();
        stream.read_to_end(&mut out)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    fn exchange(addr: SocketAddr, request: &[u8]) -> String {
        let mut stream = connect(addr);
        stream.write_all(request).unwrap();
        read_all(&mut stream).unwrap()
    }

    /// The status line, the headers and the body of an answer, checked
    /// for what every answer carries.
    fn parse(answer: &str) -> (&str, Vec<&str>, &str) {
        let (head, body) = answer.split_once("\r\n\r\n").expect(answer);
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap();
        let headers: Vec<&str> = lines.collect();
        assert!(headers.contains(&"Connection: close"), "{answer}");
        let length = format!("Content-Length: {}", body.len());
        assert!(headers.contains(&length.as_str()), "{answer}");
        (status, headers, body)
    }

    fn get(addr: SocketAddr, path: &str) -> String {
        exchange(
            addr,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        )
    }

    /// A GET without a body is answered and its connection closed whole:
    /// bytes sent after it meet a closed socket (a reset), not a drain
    /// that holds the connection's thread until the deadline.
    #[test]
    fn a_bodiless_get_is_closed_whole_once_answered() {
        let (addr, _, _) = serve(Duration::from_secs(30));
        let mut stream = connect(addr);
        stream.write_all(b"GET /healthz HTTP/1.1\r\n\r\n").unwrap();
        let answer = read_all(&mut stream).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
        let until = Instant::now() + WAIT;
        let refused = loop {
            let mut byte = [0u8; 1];
            let more = stream.write_all(b"x").and_then(|()| stream.read(&mut byte));
            match more {
                Err(e) => break Some(e.kind()),
                Ok(_) if Instant::now() > until => break None,
                Ok(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        };
        let reset = [ErrorKind::ConnectionReset, ErrorKind::BrokenPipe];
        assert!(
            refused.is_some_and(|kind| reset.contains(&kind)),
            "{refused:?}"
        );
    }

    #[test]
    fn a_head_with_many_headers_under_8_kib_is_served() {
        let (addr, _, _) = serve(DEADLINE);
        let cookie = "c".repeat(HEAD_MAX - 200);
        let request = format!("GET /healthz HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\n\r\n");
        assert!(request.len() > 7 * 1024, "{}", request.len());
        let answer = exchange(addr, request.as_bytes());
        assert_eq!(parse(&answer).0, "HTTP/1.1 200 OK", "{answer:.200}");
    }

    #[test]
    fn the_three_pages() {
        let (addr, metrics, is_ready) = serve(DEADLINE);
        metrics.piece_sent();
        let answer = get(addr, "/metrics");
        let (status, headers, body) = parse(&answer);
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert!(headers.contains(&"Content-Type: text/plain; version=0.0.4; charset=utf-8"));
        assert!(
            body.contains("\nollama_proxy_pieces_sent_total 1\n"),
            "{body}"
        );
        assert!(body.ends_with('\n'));

        let answer = get(addr, "/healthz");
        assert_eq!(parse(&answer).0, "HTTP/1.1 200 OK");
        assert_eq!(parse(&answer).2, "ok\n");

        let answer = get(addr, "/readyz");
        assert_eq!(parse(&answer).0, "HTTP/1.1 503 Service Unavailable");
        assert_eq!(parse(&answer).2, "not connected to the hub\n");
        is_ready.store(true, Relaxed);
        let answer = get(addr, "/readyz?verbose");
        assert_eq!(parse(&answer).0, "HTTP/1.1 200 OK");
        assert_eq!(parse(&answer).2, "ready\n");
    }

    #[test]
    fn head_gets_the_headers_of_get() {
        let (addr, _, _) = serve(DEADLINE);
        let answer = exchange(addr, b"HEAD /healthz HTTP/1.0\r\n\r\n");
        assert_eq!(
            answer,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: 3\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn wrong_methods_paths_and_garbage() {
        let (addr, _, _) = serve(DEADLINE);
        let answer = exchange(
            addr,
            b"POST /metrics HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd",
        );
        let (status, headers, body) = parse(&answer);
        assert_eq!(status, "HTTP/1.1 405 Method Not Allowed");
        assert!(headers.contains(&"Allow: GET, HEAD"), "{answer}");
        assert_eq!(body, "method not allowed\n");
        assert_eq!(parse(&get(addr, "/nope")).0, "HTTP/1.1 404 Not Found");
        let garbage = exchange(addr, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n\n");
        assert_eq!(parse(&garbage).0, "HTTP/1.1 400 Bad Request");
    }

    #[test]
    fn a_head_split_across_reads_is_put_together() {
        let (addr, _, _) = serve(DEADLINE);
        let mut stream = connect(addr);
        stream.set_nodelay(true).unwrap();
        for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" {
            stream.write_all(&[*byte]).unwrap();
            // Gives the server the chance to read each byte on its own.
            thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(parse(&read_all(&mut stream).unwrap()).2, "ok\n");
    }

    /// Sends a 1 MiB request line and reads the answer; the server must
    /// stop reading at `HEAD_MAX` and still be heard.
    fn one_mib_request_line(addr: SocketAddr) {
        let mut stream = connect(addr);
        let mut writer = stream.try_clone().unwrap();
        let sender = thread::spawn(move || {
            let line = vec![b'a'; 1 << 20];
            // The server may be gone before the end: not this test's
            // concern.
            let _ = writer
                .write_all(b"GET /")
                .and_then(|()| writer.write_all(&line));
            let _ = writer.shutdown(Shutdown::Write);
        });
        let answer = read_all(&mut stream).unwrap();
        assert_eq!(
            parse(&answer).0,
            "HTTP/1.1 431 Request Header Fields Too Large"
        );
        sender.join().unwrap();
    }

    /// Sends one byte every 100 ms of a head that would last 10 s: the
    /// server must close at its deadline, without an answer.
    fn trickling_client(addr: SocketAddr, deadline: Duration) {
        let started = Instant::now();
        let mut stream = connect(addr);
        let mut writer = stream.try_clone().unwrap();
        let trickle = thread::spawn(move || {
            let head = format!("GET /metrics HTTP/1.1\r\nX-Slow: {}", "a".repeat(100));
            for byte in head.bytes().take(100) {
                if writer.write_all(&[byte]).is_err() {
                    return;
                }
                thread::sleep(Duration::from_millis(100));
            }
        });
        let mut out = Vec::new();
        let closed = stream.read_to_end(&mut out);
        let elapsed = started.elapsed();
        let reset = |e: &io::Error| e.kind() == ErrorKind::ConnectionReset;
        assert!(closed.as_ref().is_ok_and(|n| *n == 0) || closed.as_ref().is_err_and(reset));
        assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
        assert!(elapsed >= deadline, "{elapsed:?}");
        assert!(
            elapsed < deadline + Duration::from_millis(1500),
            "{elapsed:?}"
        );
        // Its next writes fail, which ends it.
        trickle.join().unwrap();
    }

    /// Opens 500 connections, then sends a request on each, then reads
    /// each answer: every one is served, or closed without a byte (to make
    /// room for a newer one, or at its deadline); the newest are served.
    /// They wait in the accept queue, which the kernel caps at
    /// `net.core.somaxconn` (4096 since Linux 5.4, 128 before): beyond it,
    /// connections stall for a second each, so an old kernel gets fewer.
    fn five_hundred_at_once(addr: SocketAddr) {
        let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn");
        let queue = somaxconn.ok().and_then(|s| s.trim().parse::<usize>().ok());
        let count = queue.map_or(500, |queue| queue.saturating_sub(8).clamp(16, 500));
        let mut streams: Vec<TcpStream> = (0..count).map(|_| connect(addr)).collect();
        for stream in &mut streams {
            // A connection dropped already refuses the write: counted below.
            let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\n\r\n");
        }
        let (mut served, mut closed) = (0, 0);
        for stream in &mut streams {
            match read_all(stream) {
                Ok(answer) if answer.is_empty() => closed += 1,
                Ok(answer) => {
                    assert_eq!(parse(&answer).2, "ok\n");
                    served += 1;
                }
                Err(e) if e.kind() == ErrorKind::ConnectionReset => closed += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(served + closed, count);
        assert!(
            served >= accept::MAX_OPEN,
            "served {served}, closed {closed}"
        );
    }

    #[test]
    fn survives_abuse_and_then_serves() {
        let deadline = Duration::from_secs(1);
        let (addr, _, _) = serve(deadline);
        one_mib_request_line(addr);
        trickling_client(addr, deadline);
        // A connection that sends nothing and closes.
        drop(connect(addr));
        five_hundred_at_once(addr);
        let post = exchange(addr, b"POST /metrics HTTP/1.1\r\n\r\n");
        assert_eq!(parse(&post).0, "HTTP/1.1 405 Method Not Allowed");
        assert_eq!(parse(&get(addr, "/nope")).0, "HTTP/1.1 404 Not Found");
        assert_eq!(
            parse(&exchange(addr, b"\0\r\n\r\n")).0,
            "HTTP/1.1 400 Bad Request"
        );
        let answer = get(addr, "/metrics");
        let (status, _, body) = parse(&answer);
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert!(
            body.starts_with("# HELP ollama_proxy_requests_total "),
            "{body}"
        );
    }

    /// The status `head` is answered with, as `serve_one` answers once it
    /// has read it all; `ready` is what `/readyz` says.
    fn status_of(head: &[u8], ready: Result<(), String>) -> u16 {
        let health: HealthView = Arc::new(move || health_of(ready.clone()));
        match parse_head(head) {
            Parsed::Complete(_, line) => respond(line, &Metrics::default(), &health).status,
            _ => 400,
        }
    }

    #[test]
    fn request_lines_are_checked() {
        let cases = [
            ("GET /metrics HTTP/1.1\r\n\r\n", 200),
            ("GET /metrics HTTP/1.0\n\n", 200),
            ("GET /metrics?name[]=x HTTP/1.1\r\nAccept: */*\r\n\r\n", 200),
            ("HEAD /healthz HTTP/1.1\r\n\r\n", 200),
            ("GET /readyz HTTP/1.1\r\n\r\n", 503),
            ("GET /metrics/ HTTP/1.1\r\n\r\n", 404),
            ("GET /Metrics HTTP/1.1\r\n\r\n", 404),
            ("GET / HTTP/1.1\r\n\r\n", 404),
            ("DELETE /metrics HTTP/1.1\r\n\r\n", 405),
            ("get /metrics HTTP/1.1\r\n\r\n", 405),
            ("OPTIONS /readyz HTTP/1.1\r\n\r\n", 405),
            ("GET /metrics HTTP/2.0\r\n\r\n", 400),
            ("GET /metrics HTTP/1.1 x\r\n\r\n", 400),
            ("GET  /metrics HTTP/1.1\r\n\r\n", 400),
            ("GET /metrics\r\n\r\n", 400),
            ("GET metrics HTTP/1.1\r\n\r\n", 400),
            ("GET * HTTP/1.1\r\n\r\n", 400),
            ("GET http://x/metrics HTTP/1.1\r\n\r\n", 400),
            ("G(T /metrics HTTP/1.1\r\n\r\n", 400),
            (" GET /metrics HTTP/1.1\r\n\r\n", 400),
            ("GET /met\trics HTTP/1.1\r\n\r\n", 400),
            // httparse takes bytes above ASCII in a target: no such page.
            ("GET /métrics HTTP/1.1\r\n\r\n", 404),
            ("\r\n\r\n", 400),
            ("", 400),
        ];
        for (head, status) in cases {
            assert_eq!(
                status_of(head.as_bytes(), Err("no".into())),
                status,
                "{head:?}"
            );
        }
        let not_utf8 = b"GET /\xff HTTP/1.1\r\n\r\n";
        assert_eq!(status_of(not_utf8, Ok(())), 400);
    }

    #[test]
    fn random_bytes_never_panic() {
        // A small xorshift: the same inputs on every run.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let alphabet = b"GET /metrics HTTP/1.1\r\n\0\xff?:";
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 40) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|i| alphabet[((state >> (i % 60)) as usize + i) % alphabet.len()])
                .collect();
            let status = status_of(&bytes, Ok(()));
            assert!([200, 400, 404, 405].contains(&status), "{bytes:?}");
        }
    }

    #[test]
    fn a_head_ends_at_its_first_empty_line() {
        let complete = |bytes: &[u8]| match parse_head(bytes) {
            Parsed::Complete(len, _) => Some(len),
            _ => None,
        };
        let cases: [(&[u8], Option<usize>); 6] = [
            (b"GET / HTTP/1.1\r\n\r\n", Some(18)),
            (b"GET / HTTP/1.1\n\n", Some(16)),
            (b"GET / HTTP/1.1\r\nA: b\r\n\r\nbody", Some(24)),
            (b"GET / HTTP/1.1\r\n\r", None),
            (b"GET / HTTP/1.1\r\n", None),
            (b"", None),
        ];
        for (bytes, end) in cases {
            assert_eq!(complete(bytes), end, "{:?}", String::from_utf8_lossy(bytes));
        }
        assert_eq!(parse_head(b"GET / HTTP/1.1\r\n"), Parsed::Partial);
        assert_eq!(parse_head(b"G(T / HTTP/1.1\r\n"), Parsed::Invalid);
        let many = format!(
            "GET / HTTP/1.1\r\n{}\r\n",
            "A: b\r\n".repeat(MAX_HEADERS + 1)
        );
        assert_eq!(parse_head(many.as_bytes()), Parsed::TooManyHeaders);
    }

    #[test]
    fn answers_are_written_whole() {
        let answer = Answer::error(405);
        let expected = "HTTP/1.1 405 Method Not Allowed\r\n\
                        Content-Type: text/plain; charset=utf-8\r\nContent-Length: 19\r\n\
                        Cache-Control: no-store\r\nConnection: close\r\n\
                        Allow: GET, HEAD\r\n\r\nmethod not allowed\n";
        assert_eq!(String::from_utf8(answer.bytes()).unwrap(), expected);
        let big = Answer::error(431);
        assert!(String::from_utf8(big.bytes())
            .unwrap()
            .ends_with("Connection: close\r\n\r\nrequest header fields too large\n"));
    }

    #[test]
    fn only_loopback_unless_public() {
        let v4 = |a, b, c, d, port| SocketAddr::from(([a, b, c, d], port));
        let ok = [
            ("127.0.0.1:9464", v4(127, 0, 0, 1, 9464)),
            ("127.1.2.3:0", v4(127, 1, 2, 3, 0)),
            ("localhost:9464", v4(127, 0, 0, 1, 9464)),
            ("LocalHost:1", v4(127, 0, 0, 1, 1)),
            ("[127.0.0.1]:80", v4(127, 0, 0, 1, 80)),
            ("[::1]:9464", "[::1]:9464".parse().unwrap()),
            (
                "[::ffff:127.0.0.1]:9",
                "[::ffff:127.0.0.1]:9".parse().unwrap(),
            ),
        ];
        for (listen, addr) in ok {
            assert_eq!(listen_address(listen, false).unwrap(), addr, "{listen}");
            assert_eq!(listen_address(listen, true).unwrap(), addr, "{listen}");
        }
        let public = [
            ("0.0.0.0:9464", v4(0, 0, 0, 0, 9464)),
            (":9464", v4(0, 0, 0, 0, 9464)),
            ("192.168.1.5:9464", v4(192, 168, 1, 5, 9464)),
            ("[::]:9464", "[::]:9464".parse().unwrap()),
            ("[2001:db8::1]:1", "[2001:db8::1]:1".parse().unwrap()),
        ];
        for (listen, addr) in public {
            let refused = listen_address(listen, false);
            assert!(matches!(&refused, Err(MetricsError::NotLoopback(l)) if l == listen));
            assert_eq!(listen_address(listen, true).unwrap(), addr, "{listen}");
        }
    }

    #[test]
    fn listen_addresses_that_are_not_one() {
        for public in [false, true] {
            let error = |listen| listen_address(listen, public).unwrap_err();
            assert!(matches!(error("127.0.0.1"), MetricsError::NoPort(_)));
            assert!(matches!(error(""), MetricsError::NoPort(_)));
            for bad in [
                "127.0.0.1:",
                "127.0.0.1:x",
                "127.0.0.1:65536",
                "127.0.0.1:+80",
            ] {
                assert!(matches!(error(bad), MetricsError::BadPort { .. }), "{bad}");
            }
            let not_ip = error("example.com:9464");
            assert!(matches!(&not_ip, MetricsError::NotIp { host, .. } if host == "example.com"));
            assert!(matches!(
                error("[fe80::1%eth0]:1"),
                MetricsError::NotIp { .. }
            ));
            for bad in ["::1:9464", "[::1", "[::1]x", "a[b:1"] {
                assert!(matches!(error(bad), MetricsError::Address { .. }), "{bad}");
            }
        }
    }

    #[test]
    fn errors_say_what_was_typed_in_both_languages() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let listen = taken.local_addr().unwrap().to_string();
        let in_use = bind(&listen, false).unwrap_err();
        assert!(matches!(&in_use, MetricsError::Listen { error, .. }
            if error.kind() == ErrorKind::AddrInUse));
        let typed = ["10.0.0.1:9464", "[::1", "box:1", "127.0.0.1:x", "127.0.0.1"];
        let mut errors = vec![(listen.as_str(), in_use)];
        errors.extend(typed.map(|l| (l, listen_address(l, false).unwrap_err())));
        for (listen, error) in errors {
            let text = error.text();
            for lang in [crate::text::Lang::En, crate::text::Lang::Ru] {
                let shown = text.in_lang(lang);
                assert!(!shown.contains('{'), "{shown}");
                assert!(shown.contains(listen), "{shown}");
            }
            assert_eq!(error.to_string(), text.english());
        }
        let not_loopback = listen_address("10.0.0.1:9464", false).unwrap_err();
        assert!(not_loopback.to_string().contains("10.0.0.1:9464"));
        assert!(not_loopback.to_string().contains("metrics_public"));
    }
}
