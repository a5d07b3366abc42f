#![allow(dead_code)]
//! OpenAI-compatible server emulator for integration tests.
//!
//! [`OpenAi`] owns a real HTTP/1.1 server on `127.0.0.1:<ephemeral port>` that answers
//! like the local servers the client's OpenAI-compatible backends talk to
//! (`shared/openai-api.md`): llama.cpp's `llama-server`, vLLM, LM Studio, LocalAI.
//! `GET /v1/models` lists a settable set of models (default [`DEFAULT_MODELS`]);
//! `POST /v1/chat/completions` streams Server-Sent Events (`stream: true`) or answers
//! one `chat.completion` object. With a key set ([`OpenAi::require_key`]) every
//! endpoint wants `Authorization: Bearer KEY` and answers llama-server's 401 without it.
//!
//! Data flow:
//! * A test queues scripted [`Reply`]s with [`OpenAi::push`]; each chat request with
//!   a parsable body takes the oldest one. A streamed reply is a list of raw lines
//!   (each sent exactly as given), pauses, gates (wait until the test's condition
//!   holds: the hub got a piece, say) and an end: the chunked terminator, a stall
//!   that lasts until the client goes away, or a connection closed mid-stream. A
//!   reply can also be a status with a body, or a stall before any byte.
//! * With nothing queued a chat request is checked as vLLM checks it (a listed
//!   model, `stream_options` only when streaming) and answered like llama-server:
//!   the user message's words echoed as one delta each (at most `max_tokens`), after
//!   a role chunk whose `content` is null; then a finish chunk, a usage chunk
//!   (`choices: []`, `usage`, `timings`) only when `stream_options.include_usage` was
//!   asked for, and `data: [DONE]`.
//! * One accept thread hands every TCP connection to a thread of its own, which serves
//!   keep-alive requests in a loop. Each request is recorded as a [`Recorded`] *before*
//!   it is answered, so tests can await it ([`OpenAi::wait_chats`]).
//! * Whenever a reply waits (pauses, gates, stalls) the connection thread reads its
//!   socket with a bounded timeout, so a client that goes away mid-reply is noticed at
//!   once and counted ([`OpenAi::client_closed`]); a failed write counts the same way.
//!   A gate gives up after [`GATE_LIMIT`] and the reply goes on.
//! * Dropping [`OpenAi`] sets a stop flag, shuts every open socket down (which unblocks
//!   any read or write), wakes the accept thread with a self-connection and waits,
//!   bounded, until every thread has ended.

use serde_json::{json, Value};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::ollama::split_pieces;

/// Models listed by an emulator made by [`OpenAi::start`].
pub const DEFAULT_MODELS: [&str; 1] = ["tiny"];
/// llama-server's words for a missing or wrong bearer key.
pub const INVALID_KEY: &str = "Invalid API Key";
/// Tokens the chat template adds to a prompt's count (`usage.prompt_tokens`).
pub const TEMPLATE_TOKENS: u64 = 8;
/// The milliseconds llama.cpp's `timings.predicted_ms` gives each generated token.
pub const MS_PER_TOKEN: f64 = 2.0;
/// The longest a gate waits for its condition before the reply goes on.
pub const GATE_LIMIT: Duration = Duration::from_secs(10);

/// Longest a waiting connection thread goes without looking at the stop flag.
const POLL: Duration = Duration::from_millis(20);
/// How often a gate looks at its condition.
const GATE_POLL: Duration = Duration::from_millis(2);
/// How long dropping the emulator waits for its threads to end.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Largest request head (request line + headers) accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Largest request body accepted.
const MAX_BODY: usize = 16 << 20;
/// A long line is written in pieces of this size, each counted as it goes out.
const LONG_LINE_STEP: usize = 64 * 1024;

/// A running emulator; stops when dropped.
pub struct OpenAi {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
    /// Disconnects once every emulator thread has ended (each holds a sender).
    /// In a Mutex only so that `OpenAi` is `Sync`.
    all_exited: Mutex<mpsc::Receiver<Infallible>>,
}

/// One HTTP request as the emulator received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Request target without the query string.
    pub path: String,
    /// Index (from 0) of the TCP connection it came on.
    pub conn: usize,
    /// Headers as sent, in order.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON; `Null` if empty or not JSON.
    pub body: Value,
}

impl Recorded {
    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// A `POST /v1/chat/completions`.
    pub fn is_chat(&self) -> bool {
        self.method == "POST" && self.path == CHAT
    }

    /// A chat request that asks for a streamed answer (a buyer's prompt; the
    /// client's own one-token requests do not stream).
    pub fn is_stream(&self) -> bool {
        self.is_chat() && self.body["stream"] == true
    }
}

/// A scripted answer to one chat request (builder).
#[derive(Clone)]
pub struct Reply {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    /// `200 text/event-stream`, chunked: these steps, then the end.
    Stream(Vec<Step>, End),
    /// This status with this JSON body.
    Status(u16, String),
    /// Nothing at all, not even headers, until the client goes away.
    Stall,
}

#[derive(Clone)]
enum Step {
    /// Bytes sent as they are, in one chunk of the chunked encoding.
    Text(String),
    Pause(Duration),
    Gate(Gate),
    /// A `data:` line of this many bytes (newline not counted), written in
    /// [`LONG_LINE_STEP`] pieces.
    Long(usize),
}

/// A condition a streamed reply waits for before it goes on.
#[derive(Clone)]
struct Gate(Arc<dyn Fn() -> bool + Send + Sync>);

/// What follows the last step of a streamed reply.
#[derive(Clone, Copy)]
enum End {
    /// The chunked encoding's terminator: the body is complete.
    Terminate,
    /// Nothing more until the client goes away (or the emulator stops).
    Hang,
    /// The connection closed without the terminator.
    Close,
}

impl Reply {
    /// A `200 text/event-stream` reply with no lines yet; add them with the other
    /// builders. It ends with the chunked terminator unless [`Reply::hang`] or
    /// [`Reply::close`] says otherwise.
    pub fn stream() -> Reply {
        Reply {
            kind: Kind::Stream(Vec::new(), End::Terminate),
        }
    }

    /// A status and a body before any stream: `body` as it is (JSON, say).
    pub fn status(status: u16, body: &str) -> Reply {
        Reply {
            kind: Kind::Status(status, body.to_owned()),
        }
    }

    /// A status and an OpenAI error object with `message`.
    pub fn error(status: u16, message: &str) -> Reply {
        Reply::status(status, &error_body(status, message).to_string())
    }

    /// Sends nothing, not even headers, until the client goes away.
    pub fn stall() -> Reply {
        Reply { kind: Kind::Stall }
    }

    fn step(mut self, step: Step) -> Reply {
        if let Kind::Stream(steps, _) = &mut self.kind {
            steps.push(step);
        }
        self
    }

    fn end(mut self, end: End) -> Reply {
        if let Kind::Stream(_, ending) = &mut self.kind {
            *ending = end;
        }
        self
    }

    /// `raw` and a newline, exactly: any quirk (`data:` without a space, a `:`
    /// comment, a blank line ending an event, `event:` fields).
    pub fn line(self, raw: &str) -> Reply {
        self.step(Step::Text(format!("{raw}\n")))
    }

    /// `data: {json}` and the blank line that ends the event.
    pub fn data(self, json: &Value) -> Reply {
        self.step(Step::Text(format!("data: {json}\n\n")))
    }

    /// The first chunk as llama-server sends it: only the role, `content: null`.
    pub fn role(self) -> Reply {
        self.data(&chunk(json!({"role": "assistant", "content": null}), None))
    }

    /// One content delta.
    pub fn delta(self, content: &str) -> Reply {
        self.data(&chunk(json!({"content": content}), None))
    }

    /// One content delta for each of `pieces`.
    pub fn deltas<S: AsRef<str>>(self, pieces: &[S]) -> Reply {
        pieces.iter().fold(self, |reply, p| reply.delta(p.as_ref()))
    }

    /// The finish chunk: an empty delta and this `finish_reason`.
    pub fn finish(self, reason: &str) -> Reply {
        self.data(&chunk(json!({}), Some(reason)))
    }

    /// The usage chunk of `include_usage`: no choices, the counts.
    pub fn usage(self, prompt_tokens: u64, completion_tokens: u64) -> Reply {
        let mut last = base_chunk(Vec::new());
        last["usage"] = usage_json(prompt_tokens, completion_tokens);
        self.data(&last)
    }

    /// `data: [DONE]`: the stream's own end.
    pub fn done(self) -> Reply {
        self.step(Step::Text("data: [DONE]\n\n".into()))
    }

    /// A `data:` line of `bytes` bytes (a content delta padded inside its text,
    /// newline not counted), written piece by piece; [`OpenAi::long_line_sent`]
    /// tells how much of it the client took before it went away.
    pub fn long_line(self, bytes: usize) -> Reply {
        self.step(Step::Long(bytes))
    }

    /// Waits this long before the next step.
    pub fn pause(self, pause: Duration) -> Reply {
        self.step(Step::Pause(pause))
    }

    /// Waits until `ready` holds (at most [`GATE_LIMIT`]) before the next step.
    pub fn gate(self, ready: impl Fn() -> bool + Send + Sync + 'static) -> Reply {
        self.step(Step::Gate(Gate(Arc::new(ready))))
    }

    /// After the steps, sends nothing more until the client goes away.
    pub fn hang(self) -> Reply {
        self.end(End::Hang)
    }

    /// After the steps, closes the connection without the chunked terminator.
    pub fn close(self) -> Reply {
        self.end(End::Close)
    }
}

/// A `chat.completion.chunk` with one choice: `delta` and `finish_reason`.
pub fn chunk(delta: Value, finish_reason: Option<&str>) -> Value {
    base_chunk(vec![json!({
        "finish_reason": finish_reason,
        "index": 0,
        "delta": delta,
    })])
}

/// A chunk with these `choices`, and the fields llama-server puts beside them.
fn base_chunk(choices: Vec<Value>) -> Value {
    json!({
        "choices": choices,
        "created": unix_secs(),
        "id": "chatcmpl-emulated",
        "model": "emulated",
        "system_fingerprint": "b0000-emulated",
        "object": "chat.completion.chunk",
    })
}

fn usage_json(prompt_tokens: u64, completion_tokens: u64) -> Value {
    json!({
        "completion_tokens": completion_tokens,
        "prompt_tokens": prompt_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    })
}

/// llama.cpp's `timings` for an answer of `predicted` tokens to a prompt of
/// `prompt` tokens ([`MS_PER_TOKEN`] each).
pub fn timings_json(prompt: u64, predicted: u64) -> Value {
    let predicted_ms = predicted as f64 * MS_PER_TOKEN;
    json!({
        "cache_n": 0,
        "prompt_n": prompt,
        "prompt_ms": prompt as f64 * 0.25,
        "prompt_per_token_ms": 0.25,
        "prompt_per_second": 4000.0,
        "predicted_n": predicted,
        "predicted_ms": predicted_ms,
        "predicted_per_token_ms": MS_PER_TOKEN,
        "predicted_per_second": 1000.0 / MS_PER_TOKEN,
    })
}

/// An OpenAI error object, as llama-server and vLLM send it.
pub fn error_body(status: u16, message: &str) -> Value {
    let kind = match status {
        401 => "authentication_error",
        404 => "not_found_error",
        400 => "invalid_request_error",
        _ => "server_error",
    };
    json!({"error": {"code": status, "message": message, "type": kind}})
}

/// `usage.prompt_tokens` of the default answer to `prompt`.
pub fn prompt_tokens(prompt: &str) -> u64 {
    split_pieces(prompt).len() as u64 + TEMPLATE_TOKENS
}

const CHAT: &str = "/v1/chat/completions";
const MODELS: &str = "/v1/models";

impl OpenAi {
    /// Emulator listing [`DEFAULT_MODELS`].
    pub fn start() -> OpenAi {
        OpenAi::with_models(&DEFAULT_MODELS)
    }

    /// Emulator listing these models in `/v1/models` (and answering only them).
    pub fn with_models(models: &[&str]) -> OpenAi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the OpenAI emulator");
        let addr = listener.local_addr().expect("emulator address");
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            state: Mutex::new(State {
                models: models.iter().map(|m| m.to_string()).collect(),
                ..State::default()
            }),
            changed: Condvar::new(),
            chat_ids: AtomicUsize::new(0),
        });
        let (exited, all_exited) = mpsc::channel();
        let accept = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("openai-accept".into())
                .spawn(move || accept_loop(listener, shared, exited))
                .expect("spawn the emulator accept thread")
        };
        OpenAi {
            shared,
            addr,
            accept: Some(accept),
            all_exited: Mutex::new(all_exited),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues a reply for the next chat request (FIFO).
    pub fn push(&self, reply: Reply) {
        self.shared.lock().replies.push_back(reply);
    }

    /// Replies pushed but not yet used.
    pub fn pending_replies(&self) -> usize {
        self.shared.lock().replies.len()
    }

    /// Lists exactly these models from now on.
    pub fn set_models(&self, models: &[&str]) {
        self.shared
            .update(|s| s.models = models.iter().map(|m| m.to_string()).collect());
    }

    /// From now on every request must carry `Authorization: Bearer KEY` (`None`:
    /// no key needed); one without is answered 401 and not run.
    pub fn require_key(&self, key: Option<&str>) {
        self.shared.update(|s| s.api_key = key.map(str::to_owned));
    }

    /// Requests answered 401 for a missing or wrong key.
    pub fn unauthorized(&self) -> usize {
        self.shared.lock().unauthorized
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    /// The chat requests received, in order.
    pub fn chats(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(Recorded::is_chat)
            .collect()
    }

    /// The streamed chat requests (buyers' prompts) received, in order.
    pub fn streams(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(Recorded::is_stream)
            .collect()
    }

    /// The chat requests that did not stream (the client's one-token requests).
    pub fn whole(&self) -> Vec<Recorded> {
        let chats = self.chats().into_iter();
        chats.filter(|r| !r.is_stream()).collect()
    }

    /// Waits until `n` chat requests (either kind) have been received.
    pub fn wait_chats(&self, n: usize, timeout: Duration) -> bool {
        self.shared.wait_until(timeout, |s| {
            s.requests.iter().filter(|r| r.is_chat()).count() >= n
        })
    }

    /// Waits until `n` streamed chat requests have been received.
    pub fn wait_streams(&self, n: usize, timeout: Duration) -> bool {
        self.shared.wait_until(timeout, |s| {
            s.requests.iter().filter(|r| r.is_stream()).count() >= n
        })
    }

    /// Waits until `n` requests to `path` (any method) have been received.
    pub fn wait_path(&self, path: &str, n: usize, timeout: Duration) -> bool {
        self.shared.wait_until(timeout, |s| {
            s.requests.iter().filter(|r| r.path == path).count() >= n
        })
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.lock().connections
    }

    /// Replies cut short because the client went away mid-reply.
    pub fn client_closed(&self) -> usize {
        self.shared.lock().client_closed
    }

    /// Waits until [`OpenAi::client_closed`] reaches `n`.
    pub fn wait_client_closed(&self, n: usize, timeout: Duration) -> bool {
        self.shared.wait_until(timeout, |s| s.client_closed >= n)
    }

    /// Bytes of [`Reply::long_line`]s the client has taken so far.
    pub fn long_line_sent(&self) -> usize {
        self.shared.lock().long_line_sent
    }
}

impl Drop for OpenAi {
    fn drop(&mut self) {
        {
            let state = self.shared.lock();
            self.shared.stop.store(true, Ordering::SeqCst);
            for (_, socket) in &state.open {
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
            Err(RecvTimeoutError::Timeout) => {
                eprintln!("openai emulator: threads still running {SHUTDOWN_GRACE:?} after drop")
            }
            Ok(never) => match never {},
        }
    }
}

struct Shared {
    stop: AtomicBool,
    state: Mutex<State>,
    changed: Condvar,
    /// Numbers the default answers' ids.
    chat_ids: AtomicUsize,
}

#[derive(Default)]
struct State {
    models: Vec<String>,
    /// The bearer key every request must carry, if any.
    api_key: Option<String>,
    unauthorized: usize,
    replies: VecDeque<Reply>,
    requests: Vec<Recorded>,
    connections: usize,
    client_closed: usize,
    long_line_sent: usize,
    /// Clones of the open sockets, by connection index, so drop can shut them down.
    open: Vec<(usize, TcpStream)>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn update(&self, change: impl FnOnce(&mut State)) {
        change(&mut self.lock());
        self.changed.notify_all();
    }

    fn wait_until(&self, timeout: Duration, done: impl Fn(&State) -> bool) -> bool {
        let (state, _) = self
            .changed
            .wait_timeout_while(self.lock(), timeout, |s| !done(s))
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        done(&state)
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>, exited: mpsc::Sender<Infallible>) {
    for stream in listener.incoming() {
        if shared.stopping() {
            break;
        }
        let Ok(stream) = stream else { continue };
        let Ok(clone) = stream.try_clone() else {
            continue;
        };
        let index = {
            let mut state = shared.lock();
            // Checked under the lock drop takes, so no socket escapes its shutdown.
            if shared.stopping() {
                break;
            }
            let index = state.connections;
            state.connections += 1;
            state.open.push((index, clone));
            index
        };
        let conn = Conn {
            stream,
            buf: Vec::new(),
            index,
            shared: Arc::clone(&shared),
        };
        let exited = exited.clone();
        let spawned = thread::Builder::new()
            .name(format!("openai-conn-{index}"))
            .spawn(move || {
                let _exited = exited;
                conn.serve();
            });
        if spawned.is_err() {
            eprintln!("openai emulator: cannot spawn a connection thread");
        }
    }
}

/// One parsed HTTP request.
struct Request {
    method: String,
    path: String,
    http10: bool,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    fn wants_close(&self) -> bool {
        self.http10 || self.has_token("connection", "close")
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// What the connection does after a response.
enum Flow {
    KeepAlive,
    Close,
}

/// Why a reply stopped early.
enum Gone {
    Client,
    Stopped,
}

impl From<io::Error> for Gone {
    fn from(_: io::Error) -> Gone {
        Gone::Client
    }
}

/// The fields of a chat request that shape the default answer.
struct Chat {
    model: String,
    /// The last user message's text.
    prompt: String,
    stream: bool,
    include_usage: bool,
    max_tokens: Option<usize>,
}

/// One connection: its socket, bytes read but not yet used, and its index.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    index: usize,
    shared: Arc<Shared>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        // The clone kept for drop holds the socket open; shutting down closes it for real.
        let _ = self.stream.shutdown(Shutdown::Both);
        let index = self.index;
        self.shared.lock().open.retain(|(i, _)| *i != index);
    }
}

impl Conn {
    fn serve(mut self) {
        let _ = self.stream.set_nodelay(true);
        loop {
            let request = match self.read_request() {
                Ok(Some(request)) => request,
                Ok(None) => return,
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    let body = error_body(400, "bad request").to_string();
                    let _ = self.send_json(400, &body, true);
                    return;
                }
                Err(_) => return,
            };
            self.record(&request);
            match self.route(&request) {
                Ok(Flow::KeepAlive) if !self.shared.stopping() => {}
                _ => return,
            }
        }
    }

    fn record(&self, request: &Request) {
        let recorded = Recorded {
            method: request.method.clone(),
            path: request.path.clone(),
            conn: self.index,
            headers: request.headers.clone(),
            body: serde_json::from_slice(&request.body).unwrap_or(Value::Null),
        };
        self.shared.update(|s| s.requests.push(recorded));
    }

    // ---- reading ----

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
        if out.len() + n > MAX_BODY {
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

    /// The next request; `Ok(None)` when the client closed between requests.
    fn read_request(&mut self) -> io::Result<Option<Request>> {
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
    fn idle(&mut self, until: Option<Instant>) -> Result<(), Gone> {
        let mut chunk = [0u8; 4096];
        loop {
            if self.shared.stopping() {
                return Err(Gone::Stopped);
            }
            let slice = match until {
                Some(until) => match until.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left.min(POLL),
                    _ => return Ok(()),
                },
                None => POLL,
            };
            let _ = self.stream.set_read_timeout(Some(slice));
            let read = self.stream.read(&mut chunk);
            let _ = self.stream.set_read_timeout(None);
            match read {
                Ok(0) => return Err(self.gone()),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(self.gone()),
            }
        }
    }

    /// Sends nothing until the client closes or the emulator stops.
    fn hang(&mut self) -> Gone {
        loop {
            if let Err(gone) = self.idle(None) {
                return gone;
            }
        }
    }

    /// Waits (bounded by [`GATE_LIMIT`]) until the gate's condition holds.
    fn pass(&mut self, gate: &Gate) -> Result<(), Gone> {
        let limit = Instant::now() + GATE_LIMIT;
        while !(gate.0)() && Instant::now() < limit {
            self.idle(Some(Instant::now() + GATE_POLL))?;
        }
        Ok(())
    }

    /// Why the socket went dead: the emulator's shutdown or the client.
    fn gone(&self) -> Gone {
        if self.shared.stopping() {
            Gone::Stopped
        } else {
            Gone::Client
        }
    }

    // ---- writing ----

    /// A whole response with Content-Length.
    fn send_json(&mut self, status: u16, body: &str, close: bool) -> io::Result<Flow> {
        let mut out = head(
            status,
            "application/json; charset=utf-8",
            &format!("Content-Length: {}", body.len()),
            close,
        );
        out.extend_from_slice(body.as_bytes());
        self.stream.write_all(&out)?;
        Ok(if close { Flow::Close } else { Flow::KeepAlive })
    }

    /// Whether `request` carries the required key, if any (counting the ones
    /// that do not).
    fn authorized(&self, request: &Request) -> bool {
        let mut state = self.shared.lock();
        let ok = match &state.api_key {
            Some(key) => request.header("authorization") == Some(&format!("Bearer {key}")),
            None => true,
        };
        state.unauthorized += usize::from(!ok);
        ok
    }

    // ---- routing ----

    fn route(&mut self, request: &Request) -> io::Result<Flow> {
        let close = request.wants_close();
        if !self.authorized(request) {
            let body = error_body(401, INVALID_KEY).to_string();
            return self.send_json(401, &body, close);
        }
        match (request.method.as_str(), request.path.as_str()) {
            ("GET", MODELS) => {
                let body = models_json(&self.shared.lock().models).to_string();
                self.send_json(200, &body, close)
            }
            ("POST", CHAT) => Ok(self.chat(request, close)),
            _ => {
                let body = error_body(404, "File Not Found").to_string();
                self.send_json(404, &body, close)
            }
        }
    }

    fn chat(&mut self, request: &Request, close: bool) -> Flow {
        let chat = match parse_chat(&request.body) {
            Ok(chat) => chat,
            Err(message) => {
                let body = error_body(400, &message).to_string();
                return self.send_json(400, &body, close).unwrap_or(Flow::Close);
            }
        };
        let queued = self.shared.lock().replies.pop_front();
        let reply = queued.unwrap_or_else(|| self.default_reply(&chat));
        let played = match reply.kind {
            Kind::Stall => Err(self.hang()),
            Kind::Status(status, body) => self.send_json(status, &body, close).map_err(Gone::from),
            Kind::Stream(steps, end) => self.play(&steps, end, close),
        };
        match played {
            Ok(flow) => flow,
            Err(Gone::Client) if !self.shared.stopping() => {
                self.shared.update(|s| s.client_closed += 1);
                Flow::Close
            }
            Err(_) => Flow::Close,
        }
    }

    /// vLLM's check of the model, then llama-server's answer.
    fn default_reply(&self, chat: &Chat) -> Reply {
        if !self.shared.lock().models.contains(&chat.model) {
            let message = format!("The model `{}` does not exist.", chat.model);
            return Reply::error(404, &message);
        }
        let mut pieces = split_pieces(&chat.prompt);
        let reason = match chat.max_tokens {
            Some(most) if most < pieces.len() => {
                pieces.truncate(most);
                "length"
            }
            _ => "stop",
        };
        let (prompt, answer) = (prompt_tokens(&chat.prompt), pieces.len() as u64);
        if !chat.stream {
            let id = self.shared.chat_ids.fetch_add(1, Ordering::Relaxed);
            let body = json!({
                "choices": [{
                    "finish_reason": reason,
                    "index": 0,
                    "message": {"role": "assistant", "content": pieces.concat()},
                }],
                "created": unix_secs(),
                "model": chat.model,
                "system_fingerprint": "b0000-emulated",
                "object": "chat.completion",
                "usage": usage_json(prompt, answer),
                "id": format!("chatcmpl-{id}"),
                "timings": timings_json(prompt, answer),
            });
            return Reply::status(200, &body.to_string());
        }
        let reply = Reply::stream().role().deltas(&pieces).finish(reason);
        let reply = match chat.include_usage {
            true => {
                let mut last = base_chunk(Vec::new());
                last["usage"] = usage_json(prompt, answer);
                last["timings"] = timings_json(prompt, answer);
                reply.data(&last)
            }
            false => reply,
        };
        reply.done()
    }

    /// A streamed reply: its head, its steps, its end.
    fn play(&mut self, steps: &[Step], end: End, close: bool) -> Result<Flow, Gone> {
        let head = head(
            200,
            "text/event-stream",
            "Transfer-Encoding: chunked",
            close,
        );
        self.stream.write_all(&head)?;
        for step in steps {
            match step {
                Step::Text(text) => self.write_chunk(text.as_bytes())?,
                Step::Pause(pause) => self.idle(Some(Instant::now() + *pause))?,
                Step::Gate(gate) => self.pass(gate)?,
                Step::Long(bytes) => self.long_line(*bytes)?,
            }
        }
        match end {
            End::Terminate => {
                self.stream.write_all(b"0\r\n\r\n")?;
                Ok(if close { Flow::Close } else { Flow::KeepAlive })
            }
            End::Close => Ok(Flow::Close),
            End::Hang => Err(self.hang()),
        }
    }

    fn write_chunk(&mut self, data: &[u8]) -> io::Result<()> {
        let mut out = format!("{:x}\r\n", data.len()).into_bytes();
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
        self.stream.write_all(&out)
    }

    /// `data: {"choices":[{"delta":{"content":"xxx..."}}]}` of `bytes` bytes and
    /// its newline, piece by piece, counting what the client takes.
    fn long_line(&mut self, bytes: usize) -> io::Result<()> {
        let (open, close) = (r#"data: {"choices":[{"delta":{"content":""#, r#""}}]}"#);
        let pad = bytes.saturating_sub(open.len() + close.len());
        self.write_chunk(open.as_bytes())?;
        let step = [b'x'; LONG_LINE_STEP];
        let mut left = pad;
        while left > 0 {
            let n = left.min(LONG_LINE_STEP);
            self.write_chunk(&step[..n])?;
            left -= n;
            self.shared.update(|s| s.long_line_sent += n);
        }
        self.write_chunk(format!("{close}\n").as_bytes())
    }
}

// ---- request parsing ----

/// A chat request's fields, or vLLM-like words for what is wrong with it.
fn parse_chat(body: &[u8]) -> Result<Chat, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    let model = value["model"].as_str().unwrap_or("").to_owned();
    let messages = value["messages"]
        .as_array()
        .filter(|m| !m.is_empty())
        .ok_or("'messages' must be a non-empty list")?;
    let prompt = messages
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .and_then(|m| m["content"].as_str())
        .ok_or("no user message with text content")?
        .to_owned();
    let stream = match &value["stream"] {
        Value::Null => false,
        Value::Bool(stream) => *stream,
        _ => return Err("'stream' must be a boolean".into()),
    };
    let options = &value["stream_options"];
    if !options.is_null() && !stream {
        return Err("Stream options can only be defined when `stream=True`.".into());
    }
    let max_tokens = match &value["max_tokens"] {
        Value::Null => None,
        n => Some(
            n.as_u64()
                .filter(|n| *n > 0)
                .ok_or("'max_tokens' must be at least 1")?,
        ),
    };
    Ok(Chat {
        model,
        prompt,
        stream,
        include_usage: options["include_usage"] == true,
        max_tokens: max_tokens.map(|n| n as usize),
    })
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

/// Status line, content type, framing header, `Connection: close` if closing.
fn head(status: u16, content_type: &str, framing: &str, close: bool) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let mut out = format!("HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n");
    out += "Server: llama.cpp\r\n";
    out += &format!("{framing}\r\n");
    out += match close {
        true => "Connection: close\r\n",
        false => "Keep-Alive: timeout=5, max=100\r\n",
    };
    out += "\r\n";
    out.into_bytes()
}

/// `GET /v1/models`, as llama-server lists its models.
fn models_json(models: &[String]) -> Value {
    let data: Vec<Value> = models
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": unix_secs(), "owned_by": "llamacpp"}))
        .collect();
    json!({"object": "list", "data": data})
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
