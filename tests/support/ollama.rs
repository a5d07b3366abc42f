#![allow(dead_code)]
//! Ollama emulator for integration tests.
//!
//! [`Ollama`] owns a real HTTP/1.1 server on `127.0.0.1:<ephemeral port>` that answers
//! like the parts of the Ollama API the client talks to (`shared/ollama-api.md` is the
//! source of truth): `POST /api/generate` (NDJSON stream or one JSON object),
//! `GET|HEAD /`, `/api/version`, `/api/tags`, and Gin's plain-text 404/405 pages.
//! [`Ollama::start_tls`] serves the same over TLS, as an Ollama behind a TLS reverse
//! proxy would: a certificate for `localhost` and `127.0.0.1` from a test CA
//! ([`super::tls::TestCa`]); each connection's handshake runs on its own thread, and
//! the ones that fail are counted ([`Ollama::tls_failures`]).
//!
//! Data flow:
//! * A test queues scripted [`Reply`]s with [`Ollama::push`]; each `/api/generate`
//!   request with a parsable body takes the oldest one, whatever model it names. With
//!   nothing queued the request is checked as Ollama would (installed model, raw mode,
//!   empty prompt = load) and answered by echoing its prompt word by word, so parallel
//!   requests can tell their answers apart.
//! * The HTTP/1.1 plumbing is `http.rs`'s: a thread per TCP connection serving
//!   keep-alive requests in a loop, the socket watched while a reply waits, and the stop
//!   when [`Ollama`] is dropped. This file owns what is Ollama's own: routing, the
//!   scripted and default answers, Go's JSON and headers, and the TLS side ([`Stream`]).
//! * Each request is recorded as a [`Recorded`] *before* it is answered, so tests can
//!   await it ([`Ollama::wait_requests`]).
//! * Whenever a reply waits (delays, hangs) the connection thread keeps reading its
//!   socket, so a client that goes away mid-reply is noticed at once and counted
//!   ([`Ollama::client_closed`]); a failed write counts the same way.
//!
//! JSON sent to the client is written by hand, in Go's key order and with Go's escaping
//! (`<`, `>`, `&`, U+2028/2029 and control characters escaped, other text raw UTF-8).

use rustls::{ServerConfig, ServerConnection, StreamOwned};
use serde_json::{Map, Value};
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use super::http::Recorded;
use super::http::{self, Flow, Gone, Request, Socket};
use super::tls::TestCa;

/// Models installed in an emulator made by [`Ollama::start`].
pub const DEFAULT_MODELS: [&str; 2] = ["llama3.2:latest", "llama2:latest"];
/// What `GET /api/version` reports.
pub const VERSION: &str = "0.12.6";
/// The line [`Reply::garbage_after`] sends: not JSON.
pub const GARBAGE_LINE: &str = "<<this is not JSON>>";

/// Go's net/http sends a non-streamed body larger than this chunked.
const MAX_CONTENT_LENGTH_BODY: usize = 2048;
/// Tokens the prompt template adds to `prompt_eval_count` (none in raw mode).
const TEMPLATE_TOKENS: usize = 10;

/// A running emulator; stops when dropped.
pub struct Ollama {
    server: http::Server<State>,
    tls: bool,
}

fn is_generate(request: &Recorded) -> bool {
    request.method == "POST" && request.path == "/api/generate"
}

/// A generate naming a model with an empty or no prompt: Ollama loads the model.
fn is_load(request: &Recorded) -> bool {
    let prompt = request.body.get("prompt").and_then(Value::as_str);
    let empty = prompt.unwrap_or("").is_empty();
    is_generate(request) && request.body["model"].is_string() && empty && !is_unload(request)
}

/// A generate with no prompt and `keep_alive: 0`: the model's unload.
fn is_unload(request: &Recorded) -> bool {
    let prompt = request.body.get("prompt").and_then(Value::as_str);
    let now = request.body.get("keep_alive") == Some(&Value::from(0));
    is_generate(request) && prompt.unwrap_or("").is_empty() && now
}

/// A generate with a prompt (a buyer's, test mode's), not a model load.
fn is_prompt(request: &Recorded) -> bool {
    is_generate(request) && !is_load(request) && !is_unload(request)
}

/// A scripted answer to one `/api/generate` request (builder).
#[derive(Clone, Debug)]
pub struct Reply {
    body: Body,
    thoughts: Vec<String>,
    first_delay: Duration,
    line_delay: Duration,
    end: End,
    done_reason: String,
}

#[derive(Clone, Debug)]
enum Body {
    Pieces(Vec<String>),
    Error { status: u16, message: String },
}

/// How a reply ends; the `usize` is the number of pieces sent before that.
#[derive(Clone, Debug)]
enum End {
    Done,
    NoDone,
    ErrorAfter(usize, String),
    GarbageAfter(usize),
    LongLineAfter(usize, usize),
    DropAfter(usize),
    HangAfter(usize),
    HangBeforeFirst,
}

impl Reply {
    /// Streams each piece as one line, then the final done line.
    pub fn pieces<S: AsRef<str>>(pieces: &[S]) -> Reply {
        Reply {
            body: Body::Pieces(pieces.iter().map(|p| p.as_ref().to_owned()).collect()),
            thoughts: Vec::new(),
            first_delay: Duration::ZERO,
            line_delay: Duration::ZERO,
            end: End::Done,
            done_reason: "stop".to_owned(),
        }
    }

    /// [`Reply::pieces`] of [`split_pieces`]`(text)`.
    pub fn text(text: &str) -> Reply {
        Reply::pieces(&split_pieces(text))
    }

    /// An HTTP error before any output: `status` and `{"error":message}`.
    /// Only `first_delay` and `hang_before_first` apply to it.
    pub fn error(status: u16, message: &str) -> Reply {
        Reply {
            body: Body::Error {
                status,
                message: message.to_owned(),
            },
            ..Reply::pieces::<&str>(&[])
        }
    }

    /// Thinking lines (`"response":"","thinking":t`) sent before the pieces.
    pub fn thinking<S: AsRef<str>>(mut self, thoughts: &[S]) -> Reply {
        self.thoughts = thoughts.iter().map(|t| t.as_ref().to_owned()).collect();
        self
    }

    /// Wait before the status line, headers and first line (Ollama sends nothing earlier).
    pub fn first_delay(mut self, d: Duration) -> Reply {
        self.first_delay = d;
        self
    }

    /// Wait before every line after the first.
    pub fn line_delay(mut self, d: Duration) -> Reply {
        self.line_delay = d;
        self
    }

    /// After `n` pieces, a line `{"error":message}`, then the chunked terminator; no done
    /// line. Non-streamed: 500 with that error.
    pub fn error_after(mut self, n: usize, message: &str) -> Reply {
        self.end = End::ErrorAfter(n, message.to_owned());
        self
    }

    /// After `n` pieces, a line that is not JSON ([`GARBAGE_LINE`]), then the remaining
    /// pieces and the terminator; no done line. Non-streamed: that text as the body.
    pub fn garbage_after(mut self, n: usize) -> Reply {
        self.end = End::GarbageAfter(n);
        self
    }

    /// After `n` pieces, one line of `bytes` bytes (a piece line padded with spaces: a
    /// runaway or corrupted answer), then the terminator; no done line. Non-streamed:
    /// that line as the body.
    pub fn long_line_after(mut self, n: usize, bytes: usize) -> Reply {
        self.end = End::LongLineAfter(n, bytes);
        self
    }

    /// End the stream (proper terminator) without a done line. Non-streamed: the
    /// object has `"done":false` and no metrics.
    pub fn no_done(mut self) -> Reply {
        self.end = End::NoDone;
        self
    }

    /// After `n` pieces (headers alone if 0 and no thinking), close the connection
    /// without a terminator. Non-streamed: half the promised body, then close.
    pub fn drop_after(mut self, n: usize) -> Reply {
        self.end = End::DropAfter(n);
        self
    }

    /// After `n` pieces (headers alone if 0 and no thinking), send nothing more until
    /// the client closes (counted in [`Ollama::client_closed`]) or the emulator is
    /// dropped. Non-streamed: sends nothing at all.
    pub fn hang_after(mut self, n: usize) -> Reply {
        self.end = End::HangAfter(n);
        self
    }

    /// Send nothing, not even headers, until the client closes or the emulator is dropped.
    pub fn hang_before_first(mut self) -> Reply {
        self.end = End::HangBeforeFirst;
        self
    }

    /// `done_reason` of the final line; default `"stop"`.
    pub fn done_reason(mut self, reason: &str) -> Reply {
        self.done_reason = reason.to_owned();
        self
    }
}

/// Splits text into word pieces the way [`Reply::text`] streams it: each piece is a
/// word with the spaces before it; line breaks and trailing spaces are pieces of their
/// own. `"a b\n"` gives `["a", " b", "\n"]`.
pub fn split_pieces(text: &str) -> Vec<String> {
    let is_break = |c: char| c == '\n' || c == '\r';
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let len = if rest.starts_with(is_break) {
            rest.find(|c| !is_break(c)).unwrap_or(rest.len())
        } else {
            let lead = rest
                .find(|c: char| !c.is_whitespace() || is_break(c))
                .unwrap_or(rest.len());
            match rest[lead..].chars().next() {
                Some(c) if !c.is_whitespace() => {
                    let word = &rest[lead..];
                    lead + word.find(char::is_whitespace).unwrap_or(word.len())
                }
                _ => lead,
            }
        };
        pieces.push(rest[..len].to_owned());
        rest = &rest[len..];
    }
    pieces
}

impl Ollama {
    /// Emulator with [`DEFAULT_MODELS`] installed.
    pub fn start() -> Ollama {
        Ollama::with_models(&DEFAULT_MODELS)
    }

    /// Emulator with these models installed, named as `/api/tags` shows them
    /// (e.g. `"qwen3:8b"`).
    pub fn with_models(models: &[&str]) -> Ollama {
        Ollama::serve(models, None)
    }

    /// Emulator with [`DEFAULT_MODELS`] installed, over TLS: it presents a
    /// certificate for `localhost` and `127.0.0.1` signed by `ca`.
    pub fn start_tls(ca: &TestCa) -> Ollama {
        Ollama::serve(&DEFAULT_MODELS, Some(ca.server_config()))
    }

    /// Emulator with [`DEFAULT_MODELS`] on `port`, as an Ollama that was
    /// down comes back where it was. `None` if the port cannot be had
    /// within a few seconds (another process took it meanwhile).
    pub fn start_on(port: u16) -> Option<Ollama> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match TcpListener::bind(("127.0.0.1", port)) {
                Ok(listener) => {
                    return Some(Ollama::serve_listener(listener, &DEFAULT_MODELS, None))
                }
                Err(_) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                Err(_) => return None,
            }
        }
    }

    fn serve(models: &[&str], tls: Option<Arc<ServerConfig>>) -> Ollama {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the Ollama emulator");
        Ollama::serve_listener(listener, models, tls)
    }

    fn serve_listener(
        listener: TcpListener,
        models: &[&str],
        tls: Option<Arc<ServerConfig>>,
    ) -> Ollama {
        let state = State {
            models: models.iter().map(|m| m.to_string()).collect(),
            ..State::default()
        };
        let tls_on = tls.is_some();
        let open = move |socket| Stream::open(socket, tls.as_ref());
        Ollama {
            server: http::Server::start(listener, state, open, Conn::serve),
            tls: tls_on,
        }
    }

    pub fn port(&self) -> u16 {
        self.server.addr().port()
    }

    /// `http://127.0.0.1:PORT`, or `https://127.0.0.1:PORT` when made by
    /// [`Ollama::start_tls`].
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.server.addr())
    }

    /// Queues a reply for the next `/api/generate` request (FIFO).
    pub fn push(&self, reply: Reply) {
        self.server.shared.lock().replies.push_back(reply);
    }

    /// Replies pushed but not yet used.
    pub fn pending_replies(&self) -> usize {
        self.server.shared.lock().replies.len()
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.server.shared.lock().requests.clone()
    }

    /// The `POST /api/generate` requests with a prompt (buyers', test
    /// mode's) received, in order; model loads are left out.
    pub fn generate_requests(&self) -> Vec<Recorded> {
        let state = self.server.shared.lock();
        state
            .requests
            .iter()
            .filter(|r| is_prompt(r))
            .cloned()
            .collect()
    }

    /// The model loads (`/api/generate` with an empty prompt: the client's
    /// warm-up) received, in order.
    pub fn load_requests(&self) -> Vec<Recorded> {
        let state = self.server.shared.lock();
        state
            .requests
            .iter()
            .filter(|r| is_load(r))
            .cloned()
            .collect()
    }

    /// The model unloads (`keep_alive: 0`, no prompt) received, in order.
    pub fn unload_requests(&self) -> Vec<Recorded> {
        let state = self.server.shared.lock();
        state
            .requests
            .iter()
            .filter(|r| is_unload(r))
            .cloned()
            .collect()
    }

    /// Waits until `n` model unloads have been received.
    pub fn wait_unloads(&self, n: usize, timeout: Duration) -> bool {
        self.server.shared.wait_until(timeout, |s| {
            s.requests.iter().filter(|r| is_unload(r)).count() >= n
        })
    }

    /// Waits until `n` `POST /api/generate` requests with a prompt have
    /// been received.
    pub fn wait_requests(&self, n: usize, timeout: Duration) -> bool {
        self.server.shared.wait_until(timeout, |s| {
            s.requests.iter().filter(|r| is_prompt(r)).count() >= n
        })
    }

    /// Waits until `n` model loads have been received.
    pub fn wait_loads(&self, n: usize, timeout: Duration) -> bool {
        self.server.shared.wait_until(timeout, |s| {
            s.requests.iter().filter(|r| is_load(r)).count() >= n
        })
    }

    /// Waits until `n` requests to `path` (any method) have been received.
    pub fn wait_path(&self, path: &str, n: usize, timeout: Duration) -> bool {
        self.server.shared.wait_until(timeout, |s| {
            s.requests.iter().filter(|r| r.path == path).count() >= n
        })
    }

    /// Installs exactly these models from now on (`/api/tags`, and the
    /// 404 for a generate naming another).
    pub fn set_models(&self, models: &[&str]) {
        self.server.shared.lock().models = models.iter().map(|m| m.to_string()).collect();
    }

    /// From now on every request must carry `Authorization: Basic`
    /// with this user and password (as a reverse proxy in front of
    /// Ollama checks it); one without is answered 401 and not run.
    pub fn require_basic_auth(&self, user: &str, password: &str) {
        let encoded = base64_encode(format!("{user}:{password}").as_bytes());
        self.server.shared.lock().basic_auth = Some(format!("Basic {encoded}"));
    }

    /// Requests answered 401 for a missing or wrong `Authorization`.
    pub fn unauthorized(&self) -> usize {
        self.server.shared.lock().unauthorized
    }

    /// Model loads answer only after `delay` from now on.
    pub fn set_load_delay(&self, delay: Duration) {
        self.server.shared.lock().load_delay = delay;
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.server.shared.connections()
    }

    /// TLS handshakes that failed (an emulator made by [`Ollama::start_tls`]):
    /// a client that does not trust the certificate, or one that speaks plain HTTP.
    pub fn tls_failures(&self) -> usize {
        self.server.shared.lock().tls_failures
    }

    /// Waits until [`Ollama::tls_failures`] reaches `n`.
    pub fn wait_tls_failures(&self, n: usize, timeout: Duration) -> bool {
        self.server
            .shared
            .wait_until(timeout, |s| s.tls_failures >= n)
    }

    /// Generate replies cut short because the client went away mid-reply.
    pub fn client_closed(&self) -> usize {
        self.server.shared.lock().client_closed
    }

    /// Waits until [`Ollama::client_closed`] reaches `n`.
    pub fn wait_client_closed(&self, n: usize, timeout: Duration) -> bool {
        self.server
            .shared
            .wait_until(timeout, |s| s.client_closed >= n)
    }
}

#[derive(Default)]
struct State {
    /// Installed models, as `/api/tags` lists them.
    models: Vec<String>,
    /// How long an empty-prompt generate (a model load) takes to answer.
    load_delay: Duration,
    /// The `Authorization` value every request must carry, if any.
    basic_auth: Option<String>,
    unauthorized: usize,
    replies: VecDeque<Reply>,
    requests: Vec<Recorded>,
    client_closed: usize,
    tls_failures: usize,
}

impl http::Emulator for State {
    const NAME: &'static str = "ollama";
    const POLL: Duration = Duration::from_millis(100);
    /// Ollama reads a body of any size.
    const MAX_BODY: usize = usize::MAX;

    fn client_closed(&mut self) {
        self.client_closed += 1;
    }
}

impl State {
    fn installed(&self, model: &str) -> bool {
        let wanted = normalize_model(model);
        !model.is_empty() && self.models.iter().any(|m| normalize_model(m) == wanted)
    }
}

/// `"llama2"` and `"registry.ollama.ai/library/llama2:latest"` both mean `"llama2:latest"`.
fn normalize_model(name: &str) -> String {
    let name = name.to_ascii_lowercase();
    let name = name.strip_prefix("registry.ollama.ai/").unwrap_or(&name);
    let name = name.strip_prefix("library/").unwrap_or(name);
    let base = name.rsplit('/').next().unwrap_or(name);
    if base.contains(':') {
        name.to_owned()
    } else {
        format!("{name}:latest")
    }
}

/// The fields of a parsed generate request that shape the answer.
struct Generate {
    model: String,
    prompt: String,
    stream: bool,
    raw: bool,
    /// raw together with template, system or context (refused by Ollama).
    raw_conflict: bool,
    /// keep_alive is zero: an empty prompt unloads instead of loading.
    unload: bool,
}

/// A connection's bytes: plain TCP, or TLS over it.
enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl Stream {
    /// `socket` as this emulator serves it: plain, or TLS with `tls` (`None` if no TLS
    /// session can be made). The handshake itself waits for the connection's own thread.
    fn open(socket: TcpStream, tls: Option<&Arc<ServerConfig>>) -> Option<Stream> {
        match tls {
            None => Some(Stream::Plain(socket)),
            Some(config) => {
                let session = ServerConnection::new(Arc::clone(config)).ok()?;
                Some(Stream::Tls(Box::new(StreamOwned::new(session, socket))))
            }
        }
    }

    /// Completes a TLS handshake (nothing to do for plain TCP).
    fn handshake(&mut self) -> io::Result<()> {
        if let Stream::Tls(tls) = self {
            while tls.conn.is_handshaking() {
                tls.conn.complete_io(&mut tls.sock)?;
            }
        }
        Ok(())
    }
}

impl Socket for Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(socket) => socket,
            Stream::Tls(tls) => &tls.sock,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(socket) => socket.read(buf),
            Stream::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(socket) => socket.write(buf),
            Stream::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(socket) => socket.flush(),
            Stream::Tls(tls) => tls.flush(),
        }
    }
}

/// Whether `e` is a TLS failure (rustls wraps its errors in `InvalidData`).
fn is_tls_error(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>())
}

/// One connection of this emulator; reading requests is [`http::Conn`]'s.
type Conn = http::Conn<Stream, State>;

impl Conn {
    fn serve(mut self) {
        let _ = self.stream.tcp().set_nodelay(true);
        if self.stream.handshake().is_err() {
            if !self.shared.stopping() {
                self.shared.update(|s| s.tls_failures += 1);
            }
            return;
        }
        loop {
            let request = match self.read_request() {
                Ok(Some(request)) => request,
                Ok(None) => return,
                Err(e) if e.kind() == io::ErrorKind::InvalidData && !is_tls_error(&e) => {
                    let _ = self.send(
                        400,
                        "text/plain; charset=utf-8",
                        &[],
                        b"400 Bad Request",
                        false,
                        true,
                    );
                    return;
                }
                Err(_) => return,
            };
            let arrival = Instant::now();
            let recorded = Recorded::of(&request, self.index);
            self.shared.update(|s| s.requests.push(recorded));
            match self.route(&request, arrival) {
                Ok(Flow::KeepAlive) if !self.shared.stopping() => {}
                _ => return,
            }
        }
    }

    // ---- waiting ----

    fn pause(&mut self, d: Duration) -> Result<(), Gone> {
        if d.is_zero() {
            return Ok(());
        }
        self.idle(Some(Instant::now() + d))
    }

    // ---- writing ----

    /// A whole response with Content-Length; `head_only` leaves the body out (HEAD).
    fn send(
        &mut self,
        status: u16,
        content_type: &str,
        extra: &[(&str, &str)],
        body: &[u8],
        head_only: bool,
        close: bool,
    ) -> io::Result<Flow> {
        let mut headers = extra.to_vec();
        headers.push(("Content-Type", content_type));
        let mut out = head(
            status,
            &headers,
            ("Content-Length", &body.len().to_string()),
            close,
        );
        if !head_only {
            out.extend_from_slice(body);
        }
        self.stream.write_all(&out)?;
        Ok(if close { Flow::Close } else { Flow::KeepAlive })
    }

    /// A non-streamed JSON body: Content-Length up to 2048 bytes, chunked above (net/http).
    fn send_json(&mut self, status: u16, body: &str, close: bool) -> io::Result<Flow> {
        if body.len() <= MAX_CONTENT_LENGTH_BODY {
            return self.send(status, JSON_UTF8, &[], body.as_bytes(), false, close);
        }
        let mut out = head(status, &[("Content-Type", JSON_UTF8)], http::CHUNKED, close);
        http::push_chunk(&mut out, body.as_bytes());
        out.extend_from_slice(http::LAST_CHUNK);
        self.stream.write_all(&out)?;
        Ok(if close { Flow::Close } else { Flow::KeepAlive })
    }

    /// Whether `request` carries the required `Authorization`, if any
    /// (counting the ones that do not).
    fn authorized(&self, request: &Request) -> bool {
        let mut state = self.shared.lock();
        let ok = match &state.basic_auth {
            Some(expected) => request.header("authorization") == Some(expected.as_str()),
            None => true,
        };
        state.unauthorized += usize::from(!ok);
        ok
    }

    fn send_error(&mut self, status: u16, message: &str, close: bool) -> io::Result<Flow> {
        self.send_json(status, &error_object(message), close)
    }

    // ---- routing ----

    fn route(&mut self, request: &Request, arrival: Instant) -> io::Result<Flow> {
        let close = request.wants_close();
        let head_only = request.method == "HEAD";
        if !self.authorized(request) {
            let body = b"401 unauthorized";
            return self.send(401, "text/plain", &[], body, head_only, close);
        }
        let allowed: &[&str] = match request.path.as_str() {
            "/" | "/api/version" | "/api/tags" => &["GET", "HEAD"],
            "/api/generate" => &["POST"],
            _ => {
                let body = b"404 page not found";
                return self.send(404, "text/plain", &[], body, head_only, close);
            }
        };
        if !allowed.contains(&request.method.as_str()) {
            let allow = allowed.join(", ");
            let body = b"405 method not allowed";
            return self.send(
                405,
                "text/plain",
                &[("Allow", &allow)],
                body,
                head_only,
                close,
            );
        }
        match request.path.as_str() {
            "/" => {
                let body = b"Ollama is running";
                self.send(
                    200,
                    "text/plain; charset=utf-8",
                    &[],
                    body,
                    head_only,
                    close,
                )
            }
            "/api/version" => {
                let body = Obj::new().str("version", VERSION).end();
                self.send(200, JSON_UTF8, &[], body.as_bytes(), head_only, close)
            }
            "/api/tags" => {
                let body = tags_json(&self.shared.lock().models);
                self.send(200, JSON_UTF8, &[], body.as_bytes(), head_only, close)
            }
            _ => Ok(self.generate(request, arrival, close)),
        }
    }

    fn generate(&mut self, request: &Request, arrival: Instant, close: bool) -> Flow {
        let generate = match parse_generate(&request.body) {
            Ok(generate) => generate,
            Err(message) => return self.send_error(400, &message, close).unwrap_or(Flow::Close),
        };
        // A model load (empty prompt) is Ollama's own business: it never
        // takes a scripted reply meant for a buyer's prompt.
        let queued = match generate.prompt.is_empty() {
            true => {
                let delay = self.shared.lock().load_delay;
                if self.pause(delay).is_err() {
                    return Flow::Close;
                }
                None
            }
            false => self.shared.lock().replies.pop_front(),
        };
        let reply = match queued {
            Some(reply) => reply,
            None => match self.default_reply(&generate, close) {
                Ok(reply) => reply,
                Err(flow) => return flow,
            },
        };
        let played = if let Body::Error { status, message } = &reply.body {
            self.play_error(&reply, *status, message, close)
        } else if generate.stream {
            self.play_stream(&generate, &reply, arrival, close)
        } else {
            self.play_whole(&generate, &reply, arrival, close)
        };
        self.settle(played)
    }

    /// Ollama's own checks when no reply is queued; `Err` once it has answered.
    fn default_reply(&mut self, generate: &Generate, close: bool) -> Result<Reply, Flow> {
        let answered = if !self.shared.lock().installed(&generate.model) {
            self.send_error(404, &format!("model '{}' not found", generate.model), close)
        } else if generate.raw_conflict {
            let message = "raw mode does not support template, system, or context";
            self.send_error(400, message, close)
        } else if generate.prompt.is_empty() {
            let reason = if generate.unload { "unload" } else { "load" };
            let body = Response {
                model: &generate.model,
                done: true,
                done_reason: reason,
                ..Response::default()
            }
            .render();
            self.send_json(200, &body, close)
        } else {
            return Ok(Reply::text(&generate.prompt));
        };
        Err(answered.unwrap_or(Flow::Close))
    }

    fn play_error(
        &mut self,
        reply: &Reply,
        status: u16,
        message: &str,
        close: bool,
    ) -> Result<Flow, Gone> {
        if let End::HangBeforeFirst = reply.end {
            return Err(self.hang());
        }
        self.pause(reply.first_delay)?;
        Ok(self.send_error(status, message, close)?)
    }

    fn play_stream(
        &mut self,
        generate: &Generate,
        reply: &Reply,
        arrival: Instant,
        close: bool,
    ) -> Result<Flow, Gone> {
        let Body::Pieces(pieces) = &reply.body else {
            unreachable!("error replies are played by play_error")
        };
        if let End::HangBeforeFirst = reply.end {
            return Err(self.hang());
        }
        let (steps, after) = plan(reply, pieces);
        self.pause(reply.first_delay)?;
        let first_line = Instant::now();
        let mut out = head(
            200,
            &[("Content-Type", "application/x-ndjson")],
            http::CHUNKED,
            close,
        );
        for (i, step) in steps.iter().enumerate() {
            if i > 0 {
                self.pause(reply.line_delay)?;
            }
            let line = match step {
                Step::Thought(t) => chunk_line(&generate.model, "", t),
                Step::Piece(p) => chunk_line(&generate.model, p, ""),
                Step::Raw(text) => format!("{text}\n"),
                Step::Long(bytes) => long_line(&generate.model, *bytes) + "\n",
                Step::Final => {
                    let metrics = Metrics::measure(generate, pieces.len(), arrival, first_line);
                    let context = generate.context(pieces);
                    let done = Response {
                        model: &generate.model,
                        done: true,
                        done_reason: &reply.done_reason,
                        context: &context,
                        metrics: Some(metrics),
                        ..Response::default()
                    };
                    done.render() + "\n"
                }
            };
            http::push_chunk(&mut out, line.as_bytes());
            self.stream.write_all(&out)?;
            out.clear();
        }
        match after {
            After::Terminate => {
                out.extend_from_slice(http::LAST_CHUNK);
                self.stream.write_all(&out)?;
                Ok(if close { Flow::Close } else { Flow::KeepAlive })
            }
            After::Drop => {
                self.stream.write_all(&out)?; // the head, if no line went out
                Ok(Flow::Close)
            }
            After::Hang => {
                self.stream.write_all(&out)?;
                Err(self.hang())
            }
        }
    }

    fn play_whole(
        &mut self,
        generate: &Generate,
        reply: &Reply,
        arrival: Instant,
        close: bool,
    ) -> Result<Flow, Gone> {
        let Body::Pieces(pieces) = &reply.body else {
            unreachable!("error replies are played by play_error")
        };
        if let End::HangBeforeFirst | End::HangAfter(_) = reply.end {
            return Err(self.hang());
        }
        self.pause(reply.first_delay)?;
        let first_line = Instant::now();
        // Generation time: Ollama gathers every line before it answers.
        let lines = (reply.thoughts.len() + pieces.len()) as u32;
        self.pause(reply.line_delay * lines)?;
        let response = pieces.concat();
        let thinking = reply.thoughts.concat();
        let partial = Response {
            model: &generate.model,
            response: &response,
            thinking: &thinking,
            ..Response::default()
        };
        let flow = match &reply.end {
            End::ErrorAfter(_, message) => self.send_error(500, message, close)?,
            End::GarbageAfter(_) => {
                self.send(200, JSON_UTF8, &[], GARBAGE_LINE.as_bytes(), false, close)?
            }
            End::LongLineAfter(_, bytes) => {
                let line = long_line(&generate.model, *bytes);
                self.send(200, JSON_UTF8, &[], line.as_bytes(), false, close)?
            }
            End::NoDone => self.send_json(200, &partial.render(), close)?,
            End::DropAfter(_) => {
                let body = partial.render();
                let mut out = head(
                    200,
                    &[("Content-Type", JSON_UTF8)],
                    ("Content-Length", &body.len().to_string()),
                    close,
                );
                out.extend_from_slice(&body.as_bytes()[..body.len() / 2]);
                self.stream.write_all(&out)?;
                Flow::Close
            }
            End::Done | End::HangAfter(_) | End::HangBeforeFirst => {
                let context = generate.context(pieces);
                let done = Response {
                    done: true,
                    done_reason: &reply.done_reason,
                    context: &context,
                    metrics: Some(Metrics::measure(
                        generate,
                        pieces.len(),
                        arrival,
                        first_line,
                    )),
                    ..partial
                };
                self.send_json(200, &done.render(), close)?
            }
        };
        Ok(flow)
    }
}

/// One line of a streamed reply.
enum Step<'a> {
    Thought(&'a str),
    Piece(&'a str),
    Raw(String),
    /// A piece line of this many bytes ([`long_line`]).
    Long(usize),
    Final,
}

/// What follows the last line of a streamed reply.
enum After {
    Terminate,
    Drop,
    Hang,
}

fn plan<'a>(reply: &'a Reply, pieces: &'a [String]) -> (Vec<Step<'a>>, After) {
    if let End::HangBeforeFirst = reply.end {
        return (Vec::new(), After::Hang);
    }
    let mut steps: Vec<Step> = reply.thoughts.iter().map(|t| Step::Thought(t)).collect();
    let cut = match &reply.end {
        End::ErrorAfter(n, _)
        | End::GarbageAfter(n)
        | End::LongLineAfter(n, _)
        | End::DropAfter(n)
        | End::HangAfter(n) => *n,
        _ => pieces.len(),
    }
    .min(pieces.len());
    steps.extend(pieces[..cut].iter().map(|p| Step::Piece(p)));
    let rest = pieces[cut..].iter().map(|p| Step::Piece(p));
    let after = match &reply.end {
        End::Done => {
            steps.push(Step::Final);
            After::Terminate
        }
        End::NoDone => After::Terminate,
        End::ErrorAfter(_, message) => {
            steps.push(Step::Raw(error_object(message)));
            After::Terminate
        }
        End::GarbageAfter(_) => {
            steps.push(Step::Raw(GARBAGE_LINE.to_owned()));
            steps.extend(rest);
            After::Terminate
        }
        End::LongLineAfter(_, bytes) => {
            steps.push(Step::Long(*bytes));
            After::Terminate
        }
        End::DropAfter(_) => After::Drop,
        End::HangAfter(_) | End::HangBeforeFirst => After::Hang,
    };
    (steps, after)
}

// ---- request parsing ----

fn parse_generate(body: &[u8]) -> Result<Generate, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err("missing request body".to_owned());
    }
    // Go's json.Decoder reads the first value and ignores what follows.
    let value = serde_json::Deserializer::from_slice(body)
        .into_iter::<Value>()
        .next()
        .unwrap_or(Ok(Value::Null))
        .map_err(|e| go_json_error(body, &e))?;
    let empty = Map::new();
    let fields = match &value {
        Value::Object(fields) => fields,
        Value::Null => &empty,
        other => {
            let kind = go_kind(other);
            return Err(format!(
                "json: cannot unmarshal {kind} into Go value of type api.GenerateRequest"
            ));
        }
    };
    let field = |key: &str, want: &str| -> Result<Option<&Value>, String> {
        match fields.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) if go_kind(v) == want => Ok(Some(v)),
            Some(v) => Err(format!(
                "json: cannot unmarshal {} into Go struct field GenerateRequest.{key} of type {want}",
                go_kind(v)
            )),
        }
    };
    let text = |key: &str| -> Result<String, String> {
        Ok(field(key, "string")?
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned())
    };
    let flag = |key: &str| -> Result<Option<bool>, String> {
        Ok(field(key, "bool")?.and_then(Value::as_bool))
    };
    let model = text("model")?;
    let prompt = text("prompt")?;
    let (template, system) = (text("template")?, text("system")?);
    text("suffix")?;
    let stream = flag("stream")?.unwrap_or(true);
    let raw = flag("raw")?.unwrap_or(false);
    let has_context = fields.get("context").is_some_and(|c| !c.is_null());
    let unload = match fields.get("keep_alive") {
        Some(Value::Number(n)) => n.as_f64() == Some(0.0),
        Some(Value::String(s)) => {
            s.trim_end_matches(|c: char| c.is_ascii_alphabetic())
                .parse::<f64>()
                == Ok(0.0)
        }
        _ => false,
    };
    Ok(Generate {
        model,
        prompt,
        stream,
        raw,
        raw_conflict: raw && (!template.is_empty() || !system.is_empty() || has_context),
        unload,
    })
}

/// Go's name for a JSON value's type in unmarshal errors.
fn go_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Go's encoding/json message for a syntax error, from serde_json's.
fn go_json_error(body: &[u8], error: &serde_json::Error) -> String {
    if error.is_eof() {
        return "unexpected EOF".to_owned();
    }
    // serde_json reports a 1-based line and the column of the offending byte.
    let line_start: usize = body
        .split_inclusive(|&b| b == b'\n')
        .take(error.line().saturating_sub(1))
        .map(<[u8]>::len)
        .sum();
    let at = (line_start + error.column().saturating_sub(1)).min(body.len());
    let Some(c) = String::from_utf8_lossy(&body[at..]).chars().next() else {
        return "unexpected EOF".to_owned();
    };
    let what = error.to_string();
    let context = if what.starts_with("key must be a string") {
        "looking for beginning of object key string"
    } else if what.starts_with("expected `:`") {
        "after object key"
    } else if what.starts_with("expected `,` or `}`") {
        "after object key:value pair"
    } else if what.starts_with("expected `,` or `]`") {
        "after array element"
    } else if what.starts_with("control character") {
        "in string literal"
    } else if what.starts_with("invalid escape") {
        "in string escape code"
    } else if what.starts_with("trailing comma") && c == '}' {
        "looking for beginning of object key string"
    } else {
        "looking for beginning of value"
    };
    let quoted = match c {
        '\'' => "'\\''".to_owned(),
        '"' => "'\"'".to_owned(),
        c if c.is_control() && !matches!(c, '\n' | '\r' | '\t') => format!("'\\x{:02x}'", c as u32),
        c => format!("'{}'", c.escape_debug()),
    };
    format!("invalid character {quoted} {context}")
}

// ---- response rendering ----

const JSON_UTF8: &str = "application/json; charset=utf-8";

/// A head as Go's net/http writes it: handler headers, Date, the framing header.
fn head(status: u16, headers: &[(&str, &str)], framing: (&str, &str), close: bool) -> Vec<u8> {
    let date = http_date(SystemTime::now());
    let mut all = headers.to_vec();
    all.extend([("Date", date.as_str()), framing]);
    http::head(status, &all, close)
}

fn chunk_line(model: &str, response: &str, thinking: &str) -> String {
    let line = Response {
        model,
        response,
        thinking,
        ..Response::default()
    };
    line.render() + "\n"
}

/// A piece line of `bytes` bytes (newline not counted), padded with spaces
/// inside its JSON object.
fn long_line(model: &str, bytes: usize) -> String {
    let mut line = chunk_line(model, "x", "");
    line.pop(); // its newline
    line.pop(); // its closing brace
    let pad = bytes.saturating_sub(line.len() + 1);
    line.extend(std::iter::repeat_n(' ', pad));
    line.push('}');
    line
}

fn error_object(message: &str) -> String {
    Obj::new().str("error", message).end()
}

/// api.GenerateResponse: fields in Go's order, empty ones omitted as `omitempty` does.
#[derive(Default)]
struct Response<'a> {
    model: &'a str,
    response: &'a str,
    thinking: &'a str,
    done: bool,
    done_reason: &'a str,
    context: &'a [u32],
    metrics: Option<Metrics>,
}

impl Response<'_> {
    fn render(&self) -> String {
        let mut obj = Obj::new()
            .str("model", self.model)
            .str("created_at", &rfc3339(SystemTime::now()))
            .str("response", self.response);
        if !self.thinking.is_empty() {
            obj = obj.str("thinking", self.thinking);
        }
        obj = obj.raw("done", if self.done { "true" } else { "false" });
        if !self.done_reason.is_empty() {
            obj = obj.str("done_reason", self.done_reason);
        }
        if !self.context.is_empty() {
            let ids: Vec<String> = self.context.iter().map(u32::to_string).collect();
            obj = obj.raw("context", &format!("[{}]", ids.join(",")));
        }
        if let Some(m) = &self.metrics {
            for (key, value) in [
                ("total_duration", m.total_duration),
                ("load_duration", m.load_duration),
                ("prompt_eval_count", m.prompt_eval_count),
                ("prompt_eval_duration", m.prompt_eval_duration),
                ("eval_count", m.eval_count),
                ("eval_duration", m.eval_duration),
            ] {
                if value != 0 {
                    obj = obj.raw(key, &value.to_string());
                }
            }
        }
        obj.end()
    }
}

/// Metrics of a final line: real elapsed times plus plausible per-token costs.
struct Metrics {
    total_duration: u64,
    load_duration: u64,
    prompt_eval_count: u64,
    prompt_eval_duration: u64,
    eval_count: u64,
    eval_duration: u64,
}

impl Metrics {
    fn measure(
        generate: &Generate,
        eval_count: usize,
        arrival: Instant,
        first_line: Instant,
    ) -> Metrics {
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let prompt_eval_count = generate.prompt_tokens() as u64;
        let eval_count = eval_count as u64;
        let load_duration = nanos(first_line - arrival).max(1_000);
        let prompt_eval_duration = prompt_eval_count * 250_000;
        let eval_duration = if eval_count == 0 {
            0
        } else {
            nanos(first_line.elapsed()).max(eval_count * 100_000)
        };
        Metrics {
            total_duration: load_duration + prompt_eval_duration + eval_duration + 50_000,
            load_duration,
            prompt_eval_count,
            prompt_eval_duration,
            eval_count,
            eval_duration,
        }
    }
}

impl Generate {
    fn prompt_tokens(&self) -> usize {
        split_pieces(&self.prompt).len() + if self.raw { 0 } else { TEMPLATE_TOKENS }
    }

    /// Token ids of prompt and answer (`context`, absent in raw mode).
    fn context(&self, pieces: &[String]) -> Vec<u32> {
        if self.raw {
            return Vec::new();
        }
        let template = (0..TEMPLATE_TOKENS).map(|i| 128_000 + i as u32);
        let prompt = split_pieces(&self.prompt).into_iter().map(|p| token_id(&p));
        template
            .chain(prompt)
            .chain(pieces.iter().map(|p| token_id(p)))
            .collect()
    }
}

fn token_id(piece: &str) -> u32 {
    (fnv1a(piece.as_bytes()) % 128_000) as u32
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `{"models":[...]}` as `/api/tags` lists them.
fn tags_json(models: &[String]) -> String {
    let entries: Vec<String> = models.iter().map(|name| tag_entry(name)).collect();
    format!("{{\"models\":[{}]}}", entries.join(","))
}

fn tag_entry(name: &str) -> String {
    let base = name.rsplit('/').next().unwrap_or(name);
    let (family_and_version, tag) = base.split_once(':').unwrap_or((base, "latest"));
    let family: String = family_and_version
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect();
    let parameter_size = match tag.strip_suffix(['b', 'B']) {
        Some(n) if n.parse::<f64>().is_ok() => format!("{n}B"),
        _ => "3.2B".to_owned(),
    };
    let digest: String = (0u8..4)
        .map(|i| format!("{:016x}", fnv1a(format!("{i}{name}").as_bytes())))
        .collect();
    let details = Obj::new()
        .str("parent_model", "")
        .str("format", "gguf")
        .str("family", &family)
        .raw("families", &format!("[{}]", go_quote(&family)))
        .str("parameter_size", &parameter_size)
        .str("quantization_level", "Q4_K_M")
        .end();
    Obj::new()
        .str("name", name)
        .str("model", name)
        .str("modified_at", "2025-05-04T17:37:44.706015396-07:00")
        .raw(
            "size",
            &(1_000_000_000 + fnv1a(name.as_bytes()) % 4_000_000_000).to_string(),
        )
        .str("digest", &digest)
        .raw("details", &details)
        .end()
}

/// A JSON object written key by key, in order.
struct Obj(String);

impl Obj {
    fn new() -> Obj {
        Obj("{".to_owned())
    }

    fn raw(mut self, key: &str, json: &str) -> Obj {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        self.0 += &go_quote(key);
        self.0.push(':');
        self.0 += json;
        self
    }

    fn str(self, key: &str, value: &str) -> Obj {
        self.raw(key, &go_quote(value))
    }

    fn end(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

/// A JSON string as Go's encoding/json writes it.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out += "\\\"",
            '\\' => out += "\\\\",
            '\n' => out += "\\n",
            '\r' => out += "\\r",
            '\t' => out += "\\t",
            '\u{8}' => out += "\\b",
            '\u{c}' => out += "\\f",
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => out += &format!("\\u{:04x}", c as u32),
            c if c < ' ' => out += &format!("\\u{:04x}", c as u32),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

// ---- time ----

/// (year, month, day) of a day count since 1970-01-01 (H. Hinnant's civil_from_days).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days since the epoch, second of the day, nanoseconds.
fn split_time(t: SystemTime) -> (i64, u64, u32) {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    ((secs / 86_400) as i64, secs % 86_400, since.subsec_nanos())
}

/// UTC RFC 3339 with Go's trimmed fraction: `2025-10-26T17:15:24.097767Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let (days, secs, nanos) = split_time(t);
    let (y, mo, d) = civil_from_days(days);
    let (h, mi, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}");
    if nanos != 0 {
        out += format!(".{nanos:09}").trim_end_matches('0');
    }
    out + "Z"
}

/// IMF-fixdate for the Date header: `Sun, 26 Oct 2025 17:15:24 GMT`.
fn http_date(t: SystemTime) -> String {
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (days, secs, _) = split_time(t);
    let (y, mo, d) = civil_from_days(days);
    format!(
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[mo as usize - 1],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Standard base64 with padding (for the `Authorization` header).
fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, b| n << 8 | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            match i <= chunk.len() {
                true => out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char),
                false => out.push('='),
            }
        }
    }
    out
}
