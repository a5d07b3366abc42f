//! One buyer prompt on a backend: one `POST /api/generate` to an Ollama
//! (NDJSON), or one `POST /v1/chat/completions` to an OpenAI-compatible
//! server (Server-Sent Events), read line by line; each piece is handed on
//! the moment its line arrives (`stream` reads what the lines say).
//!
//! Each worker owns an [`OllamaClient`]: a ureq agent reused across that
//! worker's requests (keep-alive), and a [`Watchdog`] that enforces the
//! load and idle timeouts and the limit on an answer's time by shutting
//! that agent down. The limit on an answer's tokens is Ollama's own
//! (`num_predict`), sent with each request. Environment proxies
//! are never used: Ollama is on this box or the owner's LAN, and an
//! `HTTP_PROXY` meant for the outside world must not capture it. An
//! `https://` address (an Ollama behind a TLS reverse proxy) is checked
//! against the target's roots (`tls`).
//!
//! Everything that can go wrong becomes an [`OllamaError`]: its `text` is
//! the owner's full account (its `Display` the same in English, for the
//! log), `for_buyer` the buyer's plain words (the relay renders them in the
//! buyer's language and prefixes them with `Error: `), its `kind` what
//! the relay, `backends` and the ledger act on (an [`ErrorKind`]), and its
//! `source()` the ureq, I/O or JSON error behind it, if any.

use std::io::{self, BufRead, BufReader, Read};
use std::time::Duration;

use serde_json::{Map, Value};
use ureq::config::ConfigBuilder;
use ureq::tls::RootCerts;
use ureq::typestate::AgentScope;

use super::kind::Api;
use super::stream::{self, Decoder, NdJson, Progress, Sse, Stats, StreamError};
use super::watchdog::{Canceller, Cut, Watchdog};
use crate::address::OllamaUrl;
use crate::secret::Token;
use crate::text::{self, errors, Text};
use crate::tls;

/// How long an OpenAI-compatible answer is read after its `finish_reason`
/// when `[DONE]` does not come: time for the usage chunk that follows it.
/// Also how long the end of the body may take after the stream's end
/// marker, from a server that holds the stream open.
const FINISH_GRACE: Duration = Duration::from_secs(1);

/// What a worker needs to know to ask Ollama (shared by all workers).
#[derive(Clone, Debug)]
pub struct OllamaTarget {
    /// `http://host:port` or `https://host:port`, without a trailing slash;
    /// shown only masked ([`OllamaUrl::shown`]).
    pub base_url: OllamaUrl,
    /// What an https Ollama's certificate is checked against ([`tls::ollama_roots`]);
    /// unused for plain http.
    pub roots: RootCerts,
    /// Ollama's API, or an OpenAI-compatible server's.
    pub api: Api,
    /// The bearer key of an OpenAI-compatible server that wants one.
    pub api_key: Option<Token>,
    /// OpenAI-compatible: ask for the usage chunk.
    pub include_usage: bool,
    /// OpenAI-compatible: relay reasoning text too.
    pub send_reasoning: bool,
    pub model: String,
    pub keep_alive: Option<Value>,
    /// Ollama's `options`, or an OpenAI-compatible server's request
    /// parameters.
    pub options: Map<String, Value>,
    pub load_timeout: Duration,
    pub idle_timeout: Duration,
    /// The longest a generation may run, from its request's start; zero:
    /// no limit.
    pub max_answer_time: Duration,
    /// The most tokens in one answer, sent as `num_predict`; zero: no limit.
    pub max_answer_tokens: u64,
    pub max_line_bytes: usize,
}

impl OllamaTarget {
    /// An Ollama at `base_url` asked with nothing of the owner's but its
    /// address and the model: the first run's questions.
    pub fn plain(base_url: OllamaUrl, roots: RootCerts, model: &str) -> OllamaTarget {
        OllamaTarget {
            base_url,
            roots,
            api: Api::Ollama,
            api_key: None,
            include_usage: true,
            send_reasoning: false,
            model: model.to_string(),
            keep_alive: None,
            options: Map::new(),
            load_timeout: Duration::from_secs(300),
            idle_timeout: Duration::from_secs(120),
            max_answer_time: Duration::ZERO,
            max_answer_tokens: 0,
            max_line_bytes: 8 << 20,
        }
    }

    /// The JSON body of a generate request: the owner's generation options
    /// go inside `options`, where Ollama reads them, with the limit on an
    /// answer's tokens among them.
    fn generate_body(&self, prompt: &str) -> String {
        let mut options = self.options.clone();
        limit_tokens(&mut options, self.max_answer_tokens);
        let keep_alive = self.keep_alive.as_ref();
        generate_body(&self.model, prompt, true, keep_alive, options).to_string()
    }

    /// The JSON body of a chat request to an OpenAI-compatible server:
    /// the prompt as one user message, the owner's parameters beside it
    /// (never over the ones this client sets), the limit on an answer's
    /// tokens as `max_tokens` (the owner's own when lower), and the usage
    /// chunk asked for when streaming (servers refuse `stream_options`
    /// otherwise) and the owner has not switched it off.
    pub(super) fn chat_body(&self, prompt: &str, stream: bool, max_tokens: u64) -> Value {
        let mut body = self.options.clone();
        let own = body
            .get("max_tokens")
            .and_then(Value::as_u64)
            .filter(|n| *n > 0);
        let limit = match (own, max_tokens) {
            (own, 0) => own,
            (Some(own), limit) => Some(own.min(limit)),
            (None, limit) => Some(limit),
        };
        body.remove("max_tokens");
        if let Some(limit) = limit {
            body.insert("max_tokens".into(), limit.into());
        }
        body.insert("model".into(), self.model.clone().into());
        let message = serde_json::json!([{"role": "user", "content": prompt}]);
        body.insert("messages".into(), message);
        body.insert("stream".into(), stream.into());
        body.remove("stream_options");
        if stream && self.include_usage {
            let usage = serde_json::json!({"include_usage": true});
            body.insert("stream_options".into(), usage);
        }
        Value::Object(body)
    }

    /// The address of an endpoint of an OpenAI-compatible server, such as
    /// `/chat/completions`: under the base URL's `/v1`, which owners often
    /// write themselves (LM Studio shows `http://localhost:1234/v1`).
    pub(super) fn openai_url(&self, endpoint: &str) -> String {
        let base = self.base_url.expose();
        match base.ends_with("/v1") {
            true => format!("{base}{endpoint}"),
            false => format!("{base}/v1{endpoint}"),
        }
    }
}

/// What a request to `target` carries besides its body: the bearer key.
pub(super) fn authorized<B>(
    request: ureq::RequestBuilder<B>,
    target: &OllamaTarget,
) -> ureq::RequestBuilder<B> {
    match &target.api_key {
        Some(key) => request.header("Authorization", format!("Bearer {}", key.expose())),
        None => request,
    }
}

/// The body of a generate request, streamed or not; `options` only when
/// there are any.
pub(super) fn generate_body(
    model: &str,
    prompt: &str,
    stream: bool,
    keep_alive: Option<&Value>,
    options: Map<String, Value>,
) -> Value {
    let mut body = serde_json::json!({"model": model, "prompt": prompt, "stream": stream});
    if let Some(keep_alive) = keep_alive {
        body["keep_alive"] = keep_alive.clone();
    }
    if !options.is_empty() {
        body["options"] = Value::Object(options);
    }
    body
}

/// Puts the owner's limit on an answer's tokens (`max_answer_tokens`, zero
/// for none) into Ollama's `num_predict`. An owner's own `num_predict` that
/// is lower stays as written. To Ollama a negative one (-1 "until stop",
/// -2 "fill the context") means no limit, and so does 0 (its runner counts
/// only a positive limit), so the limit replaces those, as it replaces one
/// that is not a number (which Ollama would refuse).
fn limit_tokens(options: &mut Map<String, Value>, limit: u64) {
    let own = options.get("num_predict").and_then(Value::as_f64);
    // Ollama truncates a fractional count (0.5 is 0: no limit); the limit
    // (at most 2^40) is exact as a float.
    if limit > 0 && !own.is_some_and(|own| own >= 1.0 && own <= limit as f64) {
        options.insert("num_predict".into(), Value::from(limit));
    }
}

/// Why a generation failed. `text` is the owner's full account, for test
/// mode (with ureq's text for `Unreachable`), and `Display` the same in
/// English, for the log; `for_buyer` is what a buyer is told: what
/// happened, in plain words, without the owner's addresses, paths or system
/// error text. `source()` keeps the typed cause, as ureq's errors do.
#[derive(Debug)]
#[non_exhaustive]
pub enum OllamaError {
    /// Nothing listens at the Ollama address (`url`, as shown: its
    /// password masked), or the connection broke before Ollama answered.
    Unreachable { url: String, source: ureq::Error },
    /// HTTP 404 "model '...' not found".
    ModelMissing { model: String },
    /// Any other HTTP error status, with Ollama's own error text (empty
    /// when it gave none).
    Http { status: u16, message: String },
    /// An `{"error": ...}` line in the middle of the stream.
    InStream { message: String },
    /// A line that is not the JSON object Ollama always sends.
    BadLine(serde_json::Error),
    /// A line longer than `max_line_bytes`.
    LineTooLong { limit: usize },
    /// The stream ended before the `done` line: at its end (`None`), or
    /// when the read failed.
    Truncated(Option<io::Error>),
    /// No first line within the load timeout.
    NoFirstLine(Duration),
    /// No next line within the idle timeout.
    Stalled(Duration),
    /// Still generating when the owner's limit on an answer's time passed.
    TooLong(Duration),
    /// The owner client is shutting down.
    ShuttingDown,
}

/// What kind of failure an [`OllamaError`] is, without its details: the
/// one place its variants are told apart for those who act on it. The
/// relay decides on it whether another backend may answer, `backends`
/// what it says of a backend's health, and [`ErrorKind::as_str`] is its
/// label in the ledger's `error` field, the metrics and `--stats`, where
/// several kinds share one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    Unreachable,
    ModelMissing,
    /// Any other HTTP error status.
    Http(u16),
    /// An `{"error": ...}` line after its 200.
    ErrorLine,
    BadLine,
    LineTooLong,
    /// The stream ended before the `done` line.
    Cut,
    NoFirstLine,
    Stalled,
    /// Cut at the owner's limit on an answer's time.
    TimeLimit,
    Shutdown,
}

impl ErrorKind {
    /// The label: a public name (ledger, metrics, `--stats`), never renamed.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Unreachable => "ollama_unreachable",
            ErrorKind::ModelMissing => "model_missing",
            ErrorKind::Http(_) | ErrorKind::ErrorLine => "ollama_error",
            ErrorKind::BadLine | ErrorKind::LineTooLong => "bad_answer",
            ErrorKind::Cut => "cut",
            ErrorKind::NoFirstLine | ErrorKind::Stalled => "timeout",
            ErrorKind::TimeLimit => "time_limit",
            ErrorKind::Shutdown => "shutdown",
        }
    }
}

crate::text::english_display!(OllamaError);

impl OllamaError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            OllamaError::Unreachable { .. } => ErrorKind::Unreachable,
            OllamaError::ModelMissing { .. } => ErrorKind::ModelMissing,
            OllamaError::Http { status, .. } => ErrorKind::Http(*status),
            OllamaError::InStream { .. } => ErrorKind::ErrorLine,
            OllamaError::BadLine(_) => ErrorKind::BadLine,
            OllamaError::LineTooLong { .. } => ErrorKind::LineTooLong,
            OllamaError::Truncated(_) => ErrorKind::Cut,
            OllamaError::NoFirstLine(_) => ErrorKind::NoFirstLine,
            OllamaError::Stalled(_) => ErrorKind::Stalled,
            OllamaError::TooLong(_) => ErrorKind::TimeLimit,
            OllamaError::ShuttingDown => ErrorKind::Shutdown,
        }
    }

    /// The owner's full account, for the log (in English) and test mode.
    pub fn text(&self) -> Text {
        match self {
            OllamaError::Unreachable { url, source } if untrusted_certificate(source) => {
                errors::ollama_unreachable_untrusted(url, source)
            }
            // The HTTP library's words may quote what the peer sent.
            OllamaError::Unreachable { url, source } => {
                errors::ollama_unreachable(url, text::outside(&source.to_string()))
            }
            OllamaError::ModelMissing { model } => errors::ollama_model_missing(model),
            OllamaError::Http { status, message } if message.is_empty() => {
                errors::ollama_http_without_text(status)
            }
            // Ollama's own words, made safe for a log line and a terminal.
            OllamaError::Http { status, message } => {
                errors::ollama_http(status, text::outside(message))
            }
            OllamaError::InStream { message } => errors::ollama_failed(text::outside(message)),
            OllamaError::BadLine(_) => errors::ollama_bad_line(),
            OllamaError::LineTooLong { limit } => errors::ollama_line_too_long(limit),
            OllamaError::Truncated(_) => errors::ollama_truncated(),
            OllamaError::NoFirstLine(limit) => errors::ollama_no_first_line(secs(*limit)),
            OllamaError::Stalled(limit) => errors::ollama_stalled(secs(*limit)),
            OllamaError::TooLong(limit) => errors::ollama_too_long(secs(*limit)),
            OllamaError::ShuttingDown => errors::shutting_down(),
        }
    }

    /// The buyer's error text (the relay renders it in the buyer's
    /// language and prefixes it with `Error: `).
    pub fn for_buyer(&self) -> Text {
        match self {
            OllamaError::Unreachable { .. } => errors::buyer_ollama_unreachable(),
            OllamaError::ModelMissing { model } => errors::buyer_model_missing(model),
            OllamaError::Http { status, .. } => errors::buyer_ollama_http(status),
            OllamaError::InStream { .. } => errors::buyer_model_failed(),
            OllamaError::BadLine(_) | OllamaError::LineTooLong { .. } => {
                errors::buyer_unrelayable_answer()
            }
            OllamaError::Truncated(_) => errors::buyer_truncated(),
            OllamaError::NoFirstLine(limit) => errors::buyer_no_first_line(secs(*limit)),
            OllamaError::Stalled(limit) => errors::buyer_stalled(secs(*limit)),
            OllamaError::TooLong(limit) => errors::buyer_too_long(secs(*limit)),
            OllamaError::ShuttingDown => errors::shutting_down(),
        }
    }
}

#[cfg(test)]
impl OllamaError {
    /// Ollama at `url` refusing the connection, for tests.
    pub fn refused(url: &str) -> OllamaError {
        OllamaError::Unreachable {
            url: url.into(),
            source: ureq::Error::Io(io::ErrorKind::ConnectionRefused.into()),
        }
    }
}

impl std::error::Error for OllamaError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OllamaError::Unreachable { source, .. } => Some(source),
            OllamaError::BadLine(e) => Some(e),
            OllamaError::Truncated(Some(e)) => Some(e),
            _ => None,
        }
    }
}

/// Whether `error` is an https Ollama's certificate from an unknown issuer.
fn untrusted_certificate(error: &ureq::Error) -> bool {
    let tls_error = match error {
        ureq::Error::Rustls(e) => Some(e),
        ureq::Error::Io(e) => tls::rustls_cause(e),
        _ => None,
    };
    matches!(
        tls_error,
        Some(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer
        ))
    )
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s:.2}")
    }
}

/// A worker's connection to Ollama: a keep-alive agent and its watchdog.
pub struct OllamaClient {
    target: OllamaTarget,
    agent: ureq::Agent,
    watchdog: Watchdog,
}

impl OllamaClient {
    pub fn new(name: &str, target: OllamaTarget) -> OllamaClient {
        let watchdog = Watchdog::start(
            name,
            target.load_timeout,
            target.idle_timeout,
            target.max_answer_time,
        );
        OllamaClient {
            agent: new_agent(&target.roots),
            target,
            watchdog,
        }
    }

    /// Cancels this client's running and future requests (shutdown).
    pub fn canceller(&self) -> Canceller {
        self.watchdog.canceller()
    }

    /// Runs one prompt; `on_piece` gets every non-empty piece of the answer
    /// in order, as soon as Ollama sends it.
    pub fn generate(
        &mut self,
        prompt: &str,
        on_piece: &mut dyn FnMut(String),
    ) -> Result<Stats, OllamaError> {
        if !self.watchdog.arm(&self.agent) {
            return Err(OllamaError::ShuttingDown);
        }
        let result = self.generate_armed(prompt, on_piece);
        let Some(cut) = self.watchdog.disarm() else {
            return result;
        };
        // The agent was shut down to interrupt the read; every later
        // request needs a fresh one.
        self.agent = new_agent(&self.target.roots);
        match (result, cut) {
            // The answer completed just as the deadline passed, or it was
            // whole and only its figures were awaited.
            (Ok(stats), _) if cut != Cut::Cancelled => Ok(stats),
            (result, Cut::Finished) => result,
            (_, Cut::NoFirstLine(limit)) => Err(OllamaError::NoFirstLine(limit)),
            (_, Cut::Stalled(limit)) => Err(OllamaError::Stalled(limit)),
            (_, Cut::TooLong(limit)) => Err(OllamaError::TooLong(limit)),
            (_, Cut::Cancelled) => Err(OllamaError::ShuttingDown),
        }
    }

    fn generate_armed(
        &mut self,
        prompt: &str,
        on_piece: &mut dyn FnMut(String),
    ) -> Result<Stats, OllamaError> {
        let target = &self.target;
        let (url, body, mut decoder): (_, _, Box<dyn Decoder>) = match target.api {
            Api::Ollama => (
                format!("{}/api/generate", target.base_url.expose()),
                target.generate_body(prompt),
                Box::new(NdJson::default()),
            ),
            Api::OpenAi => (
                target.openai_url("/chat/completions"),
                target
                    .chat_body(prompt, true, target.max_answer_tokens)
                    .to_string(),
                Box::new(Sse::new(target.send_reasoning)),
            ),
        };
        let request = self.agent.post(&url);
        let response = authorized(request, target)
            .header("Content-Type", "application/json")
            .send(body)
            .map_err(|source| OllamaError::Unreachable {
                url: self.target.base_url.shown().to_string(),
                source,
            })?;
        let status = response.status().as_u16();
        let body = response.into_body();
        if status != 200 {
            return Err(http_error(status, body, &self.target.model));
        }
        let mut reader = BufReader::with_capacity(16 * 1024, body.into_reader());
        self.read_lines(&mut reader, decoder.as_mut(), on_piece)
    }

    /// Reads the answer's lines, each at most `max_line_bytes`, through
    /// `decoder`, until the stream's end marker. After the model finished
    /// (an OpenAI `finish_reason`) the end of the stream, a failed read or
    /// the watchdog's short grace ends the answer too: it is whole.
    fn read_lines(
        &self,
        reader: &mut impl BufRead,
        decoder: &mut dyn Decoder,
        on_piece: &mut dyn FnMut(String),
    ) -> Result<Stats, OllamaError> {
        let limit = self.target.max_line_bytes;
        let mut raw = Vec::with_capacity(256);
        let mut finished = false;
        loop {
            raw.clear();
            let read = reader
                .by_ref()
                .take(limit as u64 + 1)
                .read_until(b'\n', &mut raw);
            match read {
                Ok(0) | Err(_) if finished => return Ok(decoder.stats()),
                Ok(0) => return Err(OllamaError::Truncated(None)),
                Err(e) => return Err(OllamaError::Truncated(Some(e))),
                Ok(_) => {}
            }
            self.watchdog.saw_line();
            if raw.len() > limit && raw.last() != Some(&b'\n') {
                return Err(OllamaError::LineTooLong { limit });
            }
            let said = decoder.line(&raw, on_piece).map_err(|e| match e {
                StreamError::BadLine(e) => OllamaError::BadLine(e),
                StreamError::InStream(message) => OllamaError::InStream { message },
            })?;
            match said {
                Progress::Going => {}
                Progress::Finished if !finished => {
                    finished = true;
                    self.watchdog.finishing(FINISH_GRACE);
                }
                Progress::Finished => {}
                Progress::Done => {
                    // What may follow the end marker (the body's own end)
                    // gets the same short grace: a server that holds the
                    // stream open does not hold the buyer's answer.
                    if !finished {
                        self.watchdog.finishing(FINISH_GRACE);
                    }
                    drain_rest(reader);
                    return Ok(decoder.stats());
                }
            }
        }
    }
}

/// Reads what follows the done line (normally just the chunked encoding's
/// terminator): ureq returns a connection to its keep-alive pool only once
/// its body has been read to the end.
fn drain_rest(reader: &mut impl BufRead) {
    let _ = std::io::copy(&mut reader.take(64 * 1024), &mut std::io::sink());
}

/// The settings of every agent that asks Ollama: never an environment
/// proxy, error statuses returned as responses (so that Ollama's error
/// text can be read), https checked against `roots`.
pub(super) fn agent_config(roots: &RootCerts) -> ConfigBuilder<AgentScope> {
    ureq::Agent::config_builder()
        .proxy(None)
        .tls_config(tls::ureq_config(roots))
        .http_status_as_error(false)
}

/// A worker's keep-alive agent.
fn new_agent(roots: &RootCerts) -> ureq::Agent {
    agent_config(roots)
        .timeout_connect(Some(Duration::from_secs(10)))
        // Ollama's lines are short and its headers small; ureq's 128 KiB
        // defaults would cost a small box 256 KiB per worker.
        .input_buffer_size(16 * 1024)
        .output_buffer_size(16 * 1024)
        .build()
        .into()
}

/// Turns an error status into the buyer's message, using the body's
/// `error` when there is one: Ollama's `{"error": "..."}`, or an
/// OpenAI-compatible server's `{"error": {"message": "..."}}`.
fn http_error(status: u16, mut body: ureq::Body, model: &str) -> OllamaError {
    let text = body
        .with_config()
        .limit(64 * 1024)
        .read_to_string()
        .unwrap_or_default();
    let message = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v.get("error").map(stream::error_message))
        .unwrap_or_else(|| text.trim().chars().take(300).collect());
    let missing = message.contains("not found") || message.contains("does not exist");
    if status == 404 && missing && message.contains("odel") {
        return OllamaError::ModelMissing {
            model: model.to_string(),
        };
    }
    OllamaError::Http { status, message }
}

/// Reads everything from `reader` (used by tests of line handling).
#[cfg(test)]
fn lines_of(client: &OllamaClient, text: &[u8]) -> (Vec<String>, Result<Stats, OllamaError>) {
    let mut pieces = Vec::new();
    let mut reader = BufReader::new(text);
    let result = client.read_lines(&mut reader, &mut NdJson::default(), &mut |p| pieces.push(p));
    let mut rest = Vec::new();
    let _ = reader.read_to_end(&mut rest);
    (pieces, result)
}

#[cfg(test)]
mod tests {

    #[test]
    fn an_http_error_without_a_message_says_so() {
        let bare = OllamaError::Http {
            status: 502,
            message: String::new(),
        };
        assert_eq!(bare.to_string(), "Ollama answered HTTP 502: no error text");
        let told = OllamaError::Http {
            status: 500,
            message: "boom".into(),
        };
        assert_eq!(told.to_string(), "Ollama answered HTTP 500: boom");
    }

    use super::*;

    /// Each failure's kind, and its label: a public name.
    #[test]
    fn every_failure_has_its_kind_and_label() {
        let second = Duration::from_secs(1);
        let http = OllamaError::Http {
            status: 503,
            message: String::new(),
        };
        let bad_line = serde_json::from_str::<u8>("x").unwrap_err();
        let cases = [
            (
                OllamaError::refused("http://127.0.0.1:1"),
                ErrorKind::Unreachable,
                "ollama_unreachable",
            ),
            (
                OllamaError::ModelMissing { model: "m".into() },
                ErrorKind::ModelMissing,
                "model_missing",
            ),
            (http, ErrorKind::Http(503), "ollama_error"),
            (
                OllamaError::InStream {
                    message: "x".into(),
                },
                ErrorKind::ErrorLine,
                "ollama_error",
            ),
            (
                OllamaError::BadLine(bad_line),
                ErrorKind::BadLine,
                "bad_answer",
            ),
            (
                OllamaError::LineTooLong { limit: 1 },
                ErrorKind::LineTooLong,
                "bad_answer",
            ),
            (OllamaError::Truncated(None), ErrorKind::Cut, "cut"),
            (
                OllamaError::NoFirstLine(second),
                ErrorKind::NoFirstLine,
                "timeout",
            ),
            (OllamaError::Stalled(second), ErrorKind::Stalled, "timeout"),
            (
                OllamaError::TooLong(second),
                ErrorKind::TimeLimit,
                "time_limit",
            ),
            (OllamaError::ShuttingDown, ErrorKind::Shutdown, "shutdown"),
        ];
        for (error, kind, label) in cases {
            assert_eq!(
                (error.kind(), error.kind().as_str()),
                (kind, label),
                "{error}"
            );
        }
    }

    /// An Ollama with the model `m` and a line limit of 1 KiB.
    fn target() -> OllamaTarget {
        let base_url = OllamaUrl::parse("http://127.0.0.1:9", 0).unwrap();
        OllamaTarget {
            max_line_bytes: 1024,
            ..OllamaTarget::plain(base_url, RootCerts::WebPki, "m")
        }
    }

    fn client() -> OllamaClient {
        OllamaClient::new("test", target())
    }

    #[test]
    fn options_go_inside_options() {
        let mut target = target();
        target
            .options
            .insert("temperature".into(), serde_json::json!(0.2));
        target.keep_alive = Some(serde_json::json!("10m"));
        let body: Value = serde_json::from_str(&target.generate_body("hi")).unwrap();
        assert_eq!(body["options"]["temperature"], 0.2);
        assert_eq!(body["keep_alive"], "10m");
        assert_eq!(body["stream"], true);
        assert!(body.get("temperature").is_none());
    }

    /// The `options.num_predict` that `generate_body` sends, for the
    /// owner's `num_predict` (`None`: not set) and `max_answer_tokens`.
    fn num_predict_sent(own: Option<Value>, limit: u64) -> Option<Value> {
        let mut target = target();
        target
            .options
            .insert("num_ctx".into(), serde_json::json!(2048));
        if let Some(own) = own {
            target.options.insert("num_predict".into(), own);
        }
        target.max_answer_tokens = limit;
        let body: Value = serde_json::from_str(&target.generate_body("hi")).unwrap();
        assert_eq!(body["options"]["num_ctx"], 2048, "other options stay");
        body["options"].get("num_predict").cloned()
    }

    #[test]
    fn the_token_limit_is_num_predict_unless_the_owners_is_lower() {
        use serde_json::json;
        let sent = |own, limit| num_predict_sent(own, limit);
        // No limit: the owner's options go as they are.
        assert_eq!(sent(None, 0), None);
        assert_eq!(sent(Some(json!(-1)), 0), Some(json!(-1)));
        assert_eq!(sent(Some(json!("many")), 0), Some(json!("many")));
        // The limit alone, or the lower of the two.
        assert_eq!(sent(None, 256), Some(json!(256)));
        assert_eq!(sent(Some(json!(100)), 256), Some(json!(100)));
        assert_eq!(sent(Some(json!(1)), 256), Some(json!(1)));
        assert_eq!(sent(Some(json!(1000)), 256), Some(json!(256)));
        assert_eq!(sent(Some(json!(257)), 256), Some(json!(256)));
        // Not above the limit: the owner's stays as written.
        assert_eq!(sent(Some(json!(256.0)), 256), Some(json!(256.0)));
        assert_eq!(sent(Some(json!(99.5)), 256), Some(json!(99.5)));
        // What Ollama reads as no limit gets the limit.
        for unlimited in [json!(-1), json!(-2), json!(0), json!(0.5)] {
            assert_eq!(sent(Some(unlimited), 256), Some(json!(256)));
        }
        // Not a number: replaced.
        for odd in [json!("64"), json!(null), json!([1]), json!(true)] {
            assert_eq!(sent(Some(odd), 256), Some(json!(256)));
        }
        // The largest limit the config allows.
        let most = 1u64 << 40;
        assert_eq!(sent(Some(json!(most + 1)), most), Some(json!(most)));
        assert_eq!(sent(Some(json!(most)), most), Some(json!(most)));
    }

    #[test]
    fn a_chat_body_holds_the_prompt_the_limit_and_the_owners_parameters() {
        use serde_json::json;
        let mut target = OllamaTarget {
            api: Api::OpenAi,
            ..target()
        };
        target.options.insert("temperature".into(), json!(0.7));
        // The client's own fields are never the owner's to set.
        target.options.insert("model".into(), json!("other"));
        target.options.insert("stream".into(), json!(false));
        target
            .options
            .insert("stream_options".into(), json!({"x": 1}));
        let body = target.chat_body("hi \"there\"", true, 0);
        assert_eq!(
            body,
            json!({
                "model": "m",
                "messages": [{"role": "user", "content": "hi \"there\""}],
                "stream": true,
                "stream_options": {"include_usage": true},
                "temperature": 0.7,
            })
        );
        // Not streaming, or switched off: no stream_options.
        assert!(target
            .chat_body("hi", false, 0)
            .get("stream_options")
            .is_none());
        target.include_usage = false;
        assert!(target
            .chat_body("hi", true, 0)
            .get("stream_options")
            .is_none());
        // max_tokens: the limit, the owner's own, or the lower of the two.
        let sent = |own: Option<Value>, limit| {
            let mut target = target.clone();
            if let Some(own) = own {
                target.options.insert("max_tokens".into(), own);
            }
            target
                .chat_body("hi", true, limit)
                .get("max_tokens")
                .cloned()
        };
        assert_eq!(sent(None, 0), None);
        assert_eq!(sent(None, 64), Some(json!(64)));
        assert_eq!(sent(Some(json!(32)), 64), Some(json!(32)));
        assert_eq!(sent(Some(json!(100)), 64), Some(json!(64)));
        assert_eq!(sent(Some(json!(100)), 0), Some(json!(100)));
        // A value a server would refuse is not passed on.
        assert_eq!(sent(Some(json!(0)), 0), None);
        assert_eq!(sent(Some(json!("many")), 64), Some(json!(64)));
    }

    #[test]
    fn a_token_limit_alone_makes_the_options() {
        let mut target = target();
        target.max_answer_tokens = 64;
        let body: Value = serde_json::from_str(&target.generate_body("hi")).unwrap();
        assert_eq!(body["options"], serde_json::json!({"num_predict": 64}));
        target.max_answer_tokens = 0;
        let body: Value = serde_json::from_str(&target.generate_body("hi")).unwrap();
        assert!(body.get("options").is_none(), "{body}");
    }

    /// The typed cause of each failure is kept behind its buyer's text.
    #[test]
    fn failures_keep_their_causes() {
        use std::error::Error as _;
        let (_, r) = lines_of(&client(), b"not json\n");
        let error = r.unwrap_err();
        assert_eq!(
            error.to_string(),
            "Ollama sent a line that is not valid JSON"
        );
        assert!(error.source().is_some_and(|e| e.is::<serde_json::Error>()));

        let cut = io::Error::from(io::ErrorKind::ConnectionReset);
        let mut reader = BufReader::new(b"{\"response\":\"a\"}\n".chain(Failing(Some(cut))));
        let error = client()
            .read_lines(&mut reader, &mut NdJson::default(), &mut |_| {})
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "Ollama's answer ended before it was complete"
        );
        let cause = error.source().and_then(|e| e.downcast_ref::<io::Error>());
        assert_eq!(
            cause.map(io::Error::kind),
            Some(io::ErrorKind::ConnectionReset)
        );

        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = OllamaUrl::parse(&closed.local_addr().unwrap().to_string(), 0).unwrap();
        drop(closed);
        let mut client = OllamaClient::new(
            "test",
            OllamaTarget {
                base_url,
                ..target()
            },
        );
        let error = client.generate("hi", &mut |_| {}).unwrap_err();
        assert!(
            matches!(error, OllamaError::Unreachable { .. }),
            "{error:?}"
        );
        assert!(error
            .to_string()
            .starts_with("Ollama is not reachable at http://127.0.0.1:"));
        assert!(error.source().is_some_and(|e| e.is::<ureq::Error>()));
    }

    /// An https Ollama whose certificate's issuer is unknown gets the
    /// owner told which roots were used; other failures keep ureq's text.
    #[test]
    fn an_untrusted_certificate_says_which_roots_were_used() {
        let unknown = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let untrusted = |source| OllamaError::Unreachable {
            url: "https://gpu:443".into(),
            source,
        };
        let wrapped = io::Error::new(io::ErrorKind::InvalidData, unknown.clone());
        for error in [
            untrusted(ureq::Error::Io(wrapped)),
            untrusted(ureq::Error::Rustls(unknown)),
        ] {
            let text = error.to_string();
            assert!(
                text.starts_with("Ollama is not reachable at https://gpu:443 ("),
                "{text}"
            );
            assert!(text.contains("UnknownIssuer"), "{text}");
            assert!(text.contains("issuer is not trusted"), "{text}");
            assert!(text.contains("--ca-file"), "{text}");
            assert_eq!(
                error.for_buyer().english(),
                "the owner's model server is not reachable"
            );
        }
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        let text = untrusted(ureq::Error::Io(refused)).to_string();
        assert!(!text.contains("--ca-file"), "{text}");
    }

    /// A reader that fails once with the error it holds.
    struct Failing(Option<io::Error>);

    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(self.0.take().unwrap_or_else(|| io::ErrorKind::Other.into()))
        }
    }

    #[test]
    fn pieces_whitespace_and_thinking() {
        let text = concat!(
            r#"{"model":"m","created_at":"x","response":"","thinking":"hmm","done":false}"#,
            "\n",
            r#"{"model":"m","created_at":"x","response":"A","done":false}"#,
            "\n",
            r#"{"model":"m","created_at":"x","response":"\n\n","done":false}"#,
            "\n\n",
            r#"{"model":"m","created_at":"x","response":" \u003cb\u003e","done":false}"#,
            "\n",
            r#"{"model":"m","created_at":"x","response":"","done":true,"done_reason":"stop","context":[1,2],"eval_count":3,"eval_duration":1500000000,"prompt_eval_count":7,"load_duration":2000000}"#,
            "\n",
        );
        let (pieces, result) = lines_of(&client(), text.as_bytes());
        assert_eq!(pieces, ["A", "\n\n", " <b>"]);
        let stats = result.unwrap();
        assert_eq!(stats.tokens_per_second(), Some(2.0));
        assert_eq!(
            stats,
            Stats {
                eval_count: Some(3),
                eval_duration_ns: Some(1_500_000_000),
                prompt_eval_count: Some(7),
                load_duration_ns: Some(2_000_000),
                tokens_source: None,
            }
        );
    }

    /// A JSON object line of exactly `length` bytes (newline not counted).
    fn padded_line(fields: &str, length: usize) -> String {
        let bare = format!("{{{fields},\"pad\":\"\"}}");
        let pad = "p".repeat(length - bare.len());
        format!("{{{fields},\"pad\":\"{pad}\"}}")
    }

    #[test]
    fn lines_of_exactly_the_limit_are_accepted() {
        // client() allows 1024 bytes: a piece line of 1024 plus its newline,
        // then a last line of 1024 with no newline before the end.
        let piece = padded_line(r#""response":"x","done":false"#, 1024);
        let done = padded_line(r#""response":"","done":true"#, 1024);
        let text = format!("{piece}\n{done}");
        let (pieces, result) = lines_of(&client(), text.as_bytes());
        assert_eq!(pieces, ["x"]);
        assert!(result.is_ok(), "{result:?}");
        let too_long = padded_line(r#""response":"x","done":false"#, 1025);
        let (_, result) = lines_of(&client(), too_long.as_bytes());
        assert!(
            matches!(result, Err(OllamaError::LineTooLong { limit: 1024 })),
            "{result:?}"
        );
    }

    #[test]
    fn no_speed_without_a_duration() {
        let stats = |ns| Stats {
            eval_count: Some(8),
            eval_duration_ns: ns,
            prompt_eval_count: None,
            load_duration_ns: None,
            tokens_source: None,
        };
        assert_eq!(stats(Some(0)).tokens_per_second(), None);
        assert_eq!(stats(None).tokens_per_second(), None);
        assert_eq!(stats(Some(1)).tokens_per_second(), Some(8e9));
    }

    #[test]
    fn durations_are_kept_in_milliseconds() {
        let stats = Stats {
            eval_count: None,
            eval_duration_ns: Some(1_234_567_890),
            prompt_eval_count: None,
            load_duration_ns: Some(2_500_999_999),
            tokens_source: None,
        };
        assert_eq!(stats.eval_ms(), Some(1234.567));
        assert_eq!(stats.load_ms(), Some(2500));
    }

    #[test]
    fn failures_in_the_stream() {
        let c = client();
        let (_, r) = lines_of(
            &c,
            b"{\"response\":\"a\",\"done\":false}\n{\"error\":\"boom\"}\n",
        );
        assert!(
            matches!(&r, Err(OllamaError::InStream { message }) if message == "boom"),
            "{r:?}"
        );
        let (_, r) = lines_of(&c, b"{\"response\":\"a\",\"done\":false}\nnot json\n");
        assert!(matches!(r, Err(OllamaError::BadLine(_))), "{r:?}");
        let (_, r) = lines_of(&c, b"{\"response\":\"a\",\"done\":false}\n");
        assert!(matches!(r, Err(OllamaError::Truncated(None))), "{r:?}");
        let long = format!("{{\"response\":\"{}\"}}\n", "x".repeat(2000));
        let (_, r) = lines_of(&c, long.as_bytes());
        assert!(
            matches!(r, Err(OllamaError::LineTooLong { limit: 1024 })),
            "{r:?}"
        );
    }
}
