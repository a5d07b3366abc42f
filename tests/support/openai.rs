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
//! * The HTTP/1.1 plumbing is `http.rs`'s (shared with the Ollama emulator): a thread
//!   per TCP connection serving keep-alive requests in a loop, the socket watched while
//!   a reply waits, and the stop when [`OpenAi`] is dropped. This file owns what is the
//!   OpenAI API's: routing, the key check, the scripted and default answers, the SSE
//!   lines and llama-server's headers.
//! * Each request is recorded as a [`Recorded`] *before* it is answered, so tests can
//!   await it ([`OpenAi::wait_chats`]).
//! * Whenever a reply waits (pauses, gates, stalls) the connection thread keeps reading
//!   its socket, so a client that goes away mid-reply is noticed at once and counted
//!   ([`OpenAi::client_closed`]); a failed write counts the same way. A gate gives up
//!   after [`GATE_LIMIT`] and the reply goes on.

use serde_json::{json, Value};
use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use super::http::Recorded;
use super::http::{self, Flow, Gone, Request};
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

/// How often a gate looks at its condition.
const GATE_POLL: Duration = Duration::from_millis(2);
/// A long line is written in pieces of this size, each counted as it goes out.
const LONG_LINE_STEP: usize = 64 * 1024;

/// A running emulator; stops when dropped.
pub struct OpenAi {
    server: http::Server<State>,
}

/// A `POST /v1/chat/completions`.
fn is_chat(request: &Recorded) -> bool {
    request.method == "POST" && request.path == CHAT
}

/// A chat request that asks for a streamed answer (a buyer's prompt; the
/// client's own one-token requests do not stream).
fn is_stream(request: &Recorded) -> bool {
    is_chat(request) && request.body["stream"] == true
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
        let state = State {
            models: models.iter().map(|m| m.to_string()).collect(),
            ..State::default()
        };
        // Plain TCP: every connection is served as it comes.
        let open = Some;
        OpenAi {
            server: http::Server::start(listener, state, open, Conn::serve),
        }
    }

    pub fn port(&self) -> u16 {
        self.server.addr().port()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// Queues a reply for the next chat request (FIFO).
    pub fn push(&self, reply: Reply) {
        self.server.shared.lock().replies.push_back(reply);
    }

    /// Replies pushed but not yet used.
    pub fn pending_replies(&self) -> usize {
        self.server.shared.lock().replies.len()
    }

    /// Lists exactly these models from now on.
    pub fn set_models(&self, models: &[&str]) {
        self.server
            .shared
            .update(|s| s.models = models.iter().map(|m| m.to_string()).collect());
    }

    /// From now on every request must carry `Authorization: Bearer KEY` (`None`:
    /// no key needed); one without is answered 401 and not run.
    pub fn require_key(&self, key: Option<&str>) {
        self.server
            .shared
            .update(|s| s.api_key = key.map(str::to_owned));
    }

    /// Requests answered 401 for a missing or wrong key.
    pub fn unauthorized(&self) -> usize {
        self.server.shared.lock().unauthorized
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.server.shared.lock().requests.clone()
    }

    /// The chat requests received, in order.
    pub fn chats(&self) -> Vec<Recorded> {
        self.requests().into_iter().filter(is_chat).collect()
    }

    /// The streamed chat requests (buyers' prompts) received, in order.
    pub fn streams(&self) -> Vec<Recorded> {
        self.requests().into_iter().filter(is_stream).collect()
    }

    /// The chat requests that did not stream (the client's one-token requests).
    pub fn whole(&self) -> Vec<Recorded> {
        let chats = self.chats().into_iter();
        chats.filter(|r| !is_stream(r)).collect()
    }

    /// Waits until `n` chat requests (either kind) have been received.
    pub fn wait_chats(&self, n: usize, timeout: Duration) -> bool {
        self.server.shared.wait_until(timeout, |s| {
            s.requests.iter().filter(|r| is_chat(r)).count() >= n
        })
    }

    /// Waits until `n` streamed chat requests have been received.
    pub fn wait_streams(&self, n: usize, timeout: Duration) -> bool {
        self.server.shared.wait_until(timeout, |s| {
            s.requests.iter().filter(|r| is_stream(r)).count() >= n
        })
    }

    /// Waits until `n` requests to `path` (any method) have been received.
    pub fn wait_path(&self, path: &str, n: usize, timeout: Duration) -> bool {
        self.server.shared.wait_until(timeout, |s| {
            s.requests.iter().filter(|r| r.path == path).count() >= n
        })
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.server.shared.connections()
    }

    /// Replies cut short because the client went away mid-reply.
    pub fn client_closed(&self) -> usize {
        self.server.shared.lock().client_closed
    }

    /// Waits until [`OpenAi::client_closed`] reaches `n`.
    pub fn wait_client_closed(&self, n: usize, timeout: Duration) -> bool {
        self.server
            .shared
            .wait_until(timeout, |s| s.client_closed >= n)
    }

    /// Bytes of [`Reply::long_line`]s the client has taken so far.
    pub fn long_line_sent(&self) -> usize {
        self.server.shared.lock().long_line_sent
    }
}

#[derive(Default)]
struct State {
    models: Vec<String>,
    /// The bearer key every request must carry, if any.
    api_key: Option<String>,
    unauthorized: usize,
    replies: VecDeque<Reply>,
    requests: Vec<Recorded>,
    client_closed: usize,
    long_line_sent: usize,
    /// Numbers the default answers' ids.
    chat_ids: usize,
}

impl http::Emulator for State {
    const NAME: &'static str = "openai";
    const POLL: Duration = Duration::from_millis(20);
    const MAX_BODY: usize = 16 << 20;

    fn client_closed(&mut self) {
        self.client_closed += 1;
    }
}

impl State {
    /// The next default answer's id number, from 0.
    fn next_chat_id(&mut self) -> usize {
        let id = self.chat_ids;
        self.chat_ids += 1;
        id
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

/// One connection of this emulator; reading requests is [`http::Conn`]'s.
type Conn = http::Conn<TcpStream, State>;

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
            let recorded = Recorded::of(&request, self.index);
            self.shared.update(|s| s.requests.push(recorded));
            match self.route(&request) {
                Ok(Flow::KeepAlive) if !self.shared.stopping() => {}
                _ => return,
            }
        }
    }

    // ---- waiting ----

    /// Waits (bounded by [`GATE_LIMIT`]) until the gate's condition holds.
    fn pass(&mut self, gate: &Gate) -> Result<(), Gone> {
        let limit = Instant::now() + GATE_LIMIT;
        while !(gate.0)() && Instant::now() < limit {
            self.idle(Some(Instant::now() + GATE_POLL))?;
        }
        Ok(())
    }

    // ---- writing ----

    /// A whole response with Content-Length.
    fn send_json(&mut self, status: u16, body: &str, close: bool) -> io::Result<Flow> {
        let mut out = head(
            status,
            "application/json; charset=utf-8",
            ("Content-Length", &body.len().to_string()),
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
        self.settle(played)
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
            let id = self.shared.lock().next_chat_id();
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
        let head = head(200, "text/event-stream", http::CHUNKED, close);
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
                self.stream.write_all(http::LAST_CHUNK)?;
                Ok(if close { Flow::Close } else { Flow::KeepAlive })
            }
            End::Close => Ok(Flow::Close),
            End::Hang => Err(self.hang()),
        }
    }

    fn write_chunk(&mut self, data: &[u8]) -> io::Result<()> {
        let mut out = Vec::new();
        http::push_chunk(&mut out, data);
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

// ---- response rendering ----

/// A head as llama-server (cpp-httplib) writes it.
fn head(status: u16, content_type: &str, framing: (&str, &str), close: bool) -> Vec<u8> {
    let mut headers = vec![
        ("Content-Type", content_type),
        ("Server", "llama.cpp"),
        framing,
    ];
    if !close {
        headers.push(("Keep-Alive", "timeout=5, max=100"));
    }
    http::head(status, &headers, close)
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
