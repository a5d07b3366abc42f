#![allow(dead_code)]
//! The HTTP/1.1 server plumbing both API emulators stand on: `ollama.rs` owns
//! what Ollama answers (NDJSON, Go-style JSON, its TLS side) and `openai.rs` what
//! an OpenAI-compatible server answers (Server-Sent Events, scripts, gates); this
//! file owns how a connection is accepted, how a request is read off it, and how
//! an emulator stops.
//!
//! * [`Server`] takes a bound listener and runs one accept thread that hands every
//!   TCP connection to a thread of its own, keeping a clone of each open socket.
//!   Dropping it sets the stop flag, shuts every open socket down (which unblocks any
//!   read or write), wakes the accept thread with a self-connection and waits,
//!   bounded, until every thread has ended.
//! * [`Shared`] is what a test and the connection threads share: the stop flag and
//!   the emulator's own state behind a lock, with a condition variable so that a test
//!   can await a change.
//! * [`Conn`] reads keep-alive requests off one connection (`Content-Length` or
//!   chunked bodies, `Expect: 100-continue`) over any [`Socket`]: plain TCP, or TLS
//!   over it. [`Conn::idle`] waits while reading the socket with a bounded timeout, so
//!   a client that goes away mid-reply is noticed at once.
//! * Each request is kept as a [`Recorded`] for the test; which requests mean what is
//!   each emulator's business.
//! * [`head`] and [`push_chunk`] render a response's head and one chunk of a chunked
//!   body; which headers go in is each emulator's business.
//!
//! Where the emulators differ (their names, how often a waiting connection looks at
//! the stop flag, the largest body taken) their state says so, as an [`Emulator`].

use serde_json::Value;
use std::convert::Infallible;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The framing header of a body sent in chunks.
pub const CHUNKED: (&str, &str) = ("Transfer-Encoding", "chunked");
/// The chunk that ends a chunked body (no trailers).
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Largest request head (request line + headers) accepted.
const MAX_HEAD: usize = 64 * 1024;
/// How long dropping a server waits for its threads to end.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// What sets one emulator's server apart; implemented by the emulator's state.
pub trait Emulator: Send + 'static {
    /// Names its threads and its complaints (`"ollama"`).
    const NAME: &'static str;
    /// Longest a waiting connection thread goes without looking at the stop flag.
    const POLL: Duration;
    /// Largest request body accepted; a larger one is a bad request.
    const MAX_BODY: usize;

    /// Counts a reply cut short because the client went away mid-reply.
    fn client_closed(&mut self);
}

/// A connection's byte stream: plain TCP, or TLS over it.
pub trait Socket: Read + Write + Send + 'static {
    /// The TCP socket underneath, for timeouts and shutdown.
    fn tcp(&self) -> &TcpStream;
}

impl Socket for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

/// A running server; stops when dropped.
pub struct Server<S: Emulator> {
    pub shared: Arc<Shared<S>>,
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
    /// Disconnects once every server thread has ended (each holds a sender).
    /// In a Mutex only so that `Server` is `Sync`.
    all_exited: Mutex<mpsc::Receiver<Infallible>>,
}

impl<S: Emulator> Server<S> {
    /// Serves `listener` with `state`. Each connection accepted is made a [`Socket`]
    /// by `open` (`None` drops it unanswered) and handed to `serve` on a thread of its
    /// own.
    pub fn start<T: Socket>(
        listener: TcpListener,
        state: S,
        open: impl Fn(TcpStream) -> Option<T> + Send + 'static,
        serve: fn(Conn<T, S>),
    ) -> Server<S> {
        let addr = listener.local_addr().expect("emulator address");
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            state: Mutex::new(state),
            changed: Condvar::new(),
            sockets: Mutex::default(),
        });
        let (exited, all_exited) = mpsc::channel();
        let accept = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name(format!("{}-accept", S::NAME))
                .spawn(move || accept_loop(listener, &shared, exited, open, serve))
                .expect("spawn the emulator accept thread")
        };
        Server {
            shared,
            addr,
            accept: Some(accept),
            all_exited: Mutex::new(all_exited),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl<S: Emulator> Drop for Server<S> {
    fn drop(&mut self) {
        {
            let sockets = self.shared.sockets();
            self.shared.stop.store(true, Ordering::SeqCst);
            for (_, socket) in &sockets.open {
                let _ = socket.shutdown(Shutdown::Both);
            }
        }
        self.shared.changed.notify_all();
        // Wakes the accept thread, which then sees the stop flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        let all_exited = self.all_exited.get_mut().unwrap_or_else(|p| p.into_inner());
        match all_exited.recv_timeout(SHUTDOWN_GRACE) {
            Err(RecvTimeoutError::Disconnected) => {
                if let Some(accept) = self.accept.take() {
                    let _ = accept.join();
                }
            }
            Err(RecvTimeoutError::Timeout) => eprintln!(
                "{} emulator: threads still running {SHUTDOWN_GRACE:?} after drop",
                S::NAME
            ),
            Ok(never) => match never {},
        }
    }
}

/// The stop flag and the emulator's state, shared by a test and the server threads.
pub struct Shared<S> {
    stop: AtomicBool,
    state: Mutex<S>,
    changed: Condvar,
    sockets: Mutex<Sockets>,
}

/// The connections accepted so far, and clones of the open sockets by connection
/// index, so that stopping can shut them down.
#[derive(Default)]
struct Sockets {
    accepted: usize,
    open: Vec<(usize, TcpStream)>,
}

impl<S> Shared<S> {
    pub fn lock(&self) -> MutexGuard<'_, S> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Changes the state and wakes whoever waits on it.
    pub fn update(&self, change: impl FnOnce(&mut S)) {
        change(&mut self.lock());
        self.changed.notify_all();
    }

    /// Waits (at most `timeout`) until `done` holds; whether it does.
    pub fn wait_until(&self, timeout: Duration, done: impl Fn(&S) -> bool) -> bool {
        let (state, _) = self
            .changed
            .wait_timeout_while(self.lock(), timeout, |s| !done(s))
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        done(&state)
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.sockets().accepted
    }

    fn sockets(&self) -> MutexGuard<'_, Sockets> {
        self.sockets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn accept_loop<T: Socket, S: Emulator>(
    listener: TcpListener,
    shared: &Arc<Shared<S>>,
    exited: mpsc::Sender<Infallible>,
    open: impl Fn(TcpStream) -> Option<T>,
    serve: fn(Conn<T, S>),
) {
    for stream in listener.incoming() {
        if shared.stopping() {
            break;
        }
        let Ok(stream) = stream else { continue };
        let Ok(clone) = stream.try_clone() else {
            continue;
        };
        let Some(stream) = open(stream) else { continue };
        let index = {
            let mut sockets = shared.sockets();
            // Checked under the lock drop takes, so no socket escapes its shutdown.
            if shared.stopping() {
                break;
            }
            let index = sockets.accepted;
            sockets.accepted += 1;
            sockets.open.push((index, clone));
            index
        };
        let conn = Conn {
            stream,
            buf: Vec::new(),
            index,
            shared: Arc::clone(shared),
        };
        let exited = exited.clone();
        let spawned = thread::Builder::new()
            .name(format!("{}-conn-{index}", S::NAME))
            .spawn(move || {
                let _exited = exited;
                serve(conn);
            });
        if spawned.is_err() {
            eprintln!("{} emulator: cannot spawn a connection thread", S::NAME);
        }
    }
}

/// One parsed HTTP request.
pub struct Request {
    pub method: String,
    /// Request target without the query string.
    pub path: String,
    http10: bool,
    /// Headers as sent, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// Whether the client wants the connection closed after the response.
    pub fn wants_close(&self) -> bool {
        self.http10 || self.has_token("connection", "close")
    }
}

/// One HTTP request as an emulator received it, kept for the test to look at.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Request target without the query string.
    pub path: String,
    /// Index (from 0) of the TCP connection it came on, to check keep-alive reuse.
    pub conn: usize,
    /// Headers as sent, in order.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON; `Null` if empty or not JSON.
    pub body: Value,
}

impl Recorded {
    /// `request` as it came on connection `conn`.
    pub fn of(request: &Request, conn: usize) -> Recorded {
        Recorded {
            method: request.method.clone(),
            path: request.path.clone(),
            conn,
            headers: request.headers.clone(),
            body: serde_json::from_slice(&request.body).unwrap_or(Value::Null),
        }
    }

    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// First value of header `name` (case-insensitive) in `headers`.
fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// What the connection does after a response.
pub enum Flow {
    KeepAlive,
    Close,
}

/// Why a reply stopped early.
pub enum Gone {
    Client,
    Stopped,
}

impl From<io::Error> for Gone {
    fn from(_: io::Error) -> Gone {
        Gone::Client
    }
}

/// One connection: its socket, bytes read but not yet used, its index, and the
/// emulator it belongs to.
pub struct Conn<T: Socket, S> {
    pub stream: T,
    buf: Vec<u8>,
    pub index: usize,
    pub shared: Arc<Shared<S>>,
}

impl<T: Socket, S> Drop for Conn<T, S> {
    fn drop(&mut self) {
        // The clone kept for drop holds the socket open; shutting down closes it for real.
        let _ = self.stream.tcp().shutdown(Shutdown::Both);
        let index = self.index;
        self.shared.sockets().open.retain(|(i, _)| *i != index);
    }
}

impl<T: Socket, S: Emulator> Conn<T, S> {
    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// A line without its CRLF; `Ok(None)` on a clean EOF before any byte of it.
    fn read_line(&mut self) -> io::Result<Option<String>> {
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=end).collect();
                let line = line.strip_suffix(b"\n").unwrap_or(&line);
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                return Ok(Some(String::from_utf8_lossy(line).into_owned()));
            }
            if self.buf.len() > MAX_HEAD {
                return Err(invalid("line too long"));
            }
            if self.fill()? == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(io::ErrorKind::UnexpectedEof.into())
                };
            }
        }
    }

    fn need_line(&mut self) -> io::Result<String> {
        self.read_line()?
            .ok_or_else(|| io::ErrorKind::UnexpectedEof.into())
    }

    fn read_exact_into(&mut self, n: usize, out: &mut Vec<u8>) -> io::Result<()> {
        if out.len().saturating_add(n) > S::MAX_BODY {
            return Err(invalid("body too large"));
        }
        while self.buf.len() < n {
            if self.fill()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        out.extend(self.buf.drain(..n));
        Ok(())
    }

    /// The next request; `Ok(None)` when the client closed between requests. A
    /// malformed one is an `InvalidData` error.
    pub fn read_request(&mut self) -> io::Result<Option<Request>> {
        let request_line = loop {
            match self.read_line()? {
                None => return Ok(None),
                Some(line) if line.is_empty() => continue,
                Some(line) => break line,
            }
        };
        let mut parts = request_line.split_whitespace();
        let (Some(method), Some(target), Some(version), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("bad request line"));
        };
        if !version.starts_with("HTTP/1.") {
            return Err(invalid("bad HTTP version"));
        }
        let mut headers = Vec::new();
        let mut head_len = request_line.len();
        loop {
            let line = self.need_line()?;
            if line.is_empty() {
                break;
            }
            head_len += line.len();
            if head_len > MAX_HEAD {
                return Err(invalid("head too large"));
            }
            let (name, value) = line.split_once(':').ok_or_else(|| invalid("bad header"))?;
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
        let mut request = Request {
            method: method.to_owned(),
            path: target.split('?').next().unwrap_or(target).to_owned(),
            http10: version == "HTTP/1.0",
            headers,
            body: Vec::new(),
        };
        if request.has_token("expect", "100-continue") {
            self.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        if request.has_token("transfer-encoding", "chunked") {
            request.body = self.read_chunked_body()?;
        } else if let Some(length) = request.header("content-length") {
            let length: usize = length.parse().map_err(|_| invalid("bad content-length"))?;
            self.read_exact_into(length, &mut request.body)?;
        }
        Ok(Some(request))
    }

    fn read_chunked_body(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line = self.need_line()?;
            let size = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size, 16).map_err(|_| invalid("bad chunk size"))?;
            if size == 0 {
                while !self.need_line()?.is_empty() {} // trailers
                return Ok(body);
            }
            self.read_exact_into(size, &mut body)?;
            if !self.need_line()?.is_empty() {
                return Err(invalid("chunk not followed by CRLF"));
            }
        }
    }

    /// Waits until `until` (forever if `None`) while watching the socket: `Err` as soon as
    /// the client closes or the emulator stops. Bytes that arrive meanwhile are kept.
    pub fn idle(&mut self, until: Option<Instant>) -> Result<(), Gone> {
        let mut chunk = [0u8; 4096];
        loop {
            if self.shared.stopping() {
                return Err(Gone::Stopped);
            }
            let slice = match until {
                Some(until) => match until.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left.min(S::POLL),
                    _ => return Ok(()),
                },
                None => S::POLL,
            };
            let _ = self.stream.tcp().set_read_timeout(Some(slice));
            let read = self.stream.read(&mut chunk);
            let _ = self.stream.tcp().set_read_timeout(None);
            match read {
                Ok(0) => return Err(self.gone()),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(self.gone()),
            }
        }
    }

    /// Sends nothing until the client closes or the emulator stops.
    pub fn hang(&mut self) -> Gone {
        loop {
            if let Err(gone) = self.idle(None) {
                return gone;
            }
        }
    }

    /// What the connection does after a reply that may have stopped early: a client
    /// that went away mid-reply is counted (not one cut off by the emulator's stop).
    pub fn settle(&self, played: Result<Flow, Gone>) -> Flow {
        match played {
            Ok(flow) => flow,
            Err(Gone::Client) if !self.shared.stopping() => {
                self.shared.update(S::client_closed);
                Flow::Close
            }
            Err(_) => Flow::Close,
        }
    }

    /// Why the socket went dead: the emulator's shutdown or the client.
    fn gone(&self) -> Gone {
        if self.shared.stopping() {
            Gone::Stopped
        } else {
            Gone::Client
        }
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

// ---- response rendering ----

/// Status line, `headers` in order, `Connection: close` if closing, and the blank
/// line that ends the head.
pub fn head(status: u16, headers: &[(&str, &str)], close: bool) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in headers {
        out += &format!("{name}: {value}\r\n");
    }
    if close {
        out += "Connection: close\r\n";
    }
    out += "\r\n";
    out.into_bytes()
}

fn reason(status: u16) -> String {
    let known = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        // Go's text for codes it has no name for (e.g. Ollama's 499).
        _ => return format!("status code {status}"),
    };
    known.to_owned()
}

/// Appends `data` as one chunk of a chunked body.
pub fn push_chunk(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}
