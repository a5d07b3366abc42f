//! What goes over the control socket: one request line, one answer line,
//! each a JSON object.
//!
//! Requests: `{"command": "status"}`, `{"command": "pause"}` (until
//! `--resume`), `{"command": "pause", "secs": 7200}`, `{"command":
//! "resume"}`. Answers carry `"ok": true` and the command's fields, or
//! `"ok": false` with a `code` (`bad_request`, `unknown_command`,
//! `bad_duration`, `too_long`, `timeout`, `not_owner`) and an English
//! `error`; the owner's command turns them into the owner's language.
//! The status answer's fields are the ones `--status --json` prints
//! (`docs/operations.md`, "Pause, resume, status").
//!
//! The answers are typed here, once, for both ends: the server fills them
//! from `availability` (`control::server`) and adds the `ok`, the owner's
//! command reads them back. Every field has a default and an unknown state reads as
//! `unknown`, so that a `--status` of another version still shows what it
//! understands. Times are RFC 3339 text (`time::format`).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// The longest request line, its newline included: the longest real one
/// is under 50 bytes.
pub const MAX_REQUEST: usize = 1024;

/// The longest pause asked for over the socket: what `--pause` accepts.
const MAX_PAUSE_SECS: u64 = 100 * 365 * 86_400;

/// An owner's command, as the command line gave it: `Status`,
/// `Pause(None)` (until `--resume`), `Pause(Some(span))`, `Resume`.
pub use crate::cli::Control as Request;

/// Why a request gets no answer of its own; its code is its name in
/// snake case.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// Not a JSON object with a `command` string.
    BadRequest,
    UnknownCommand,
    /// `secs` not a whole number of seconds from 1 to 100 years.
    BadDuration,
    /// No newline within [`MAX_REQUEST`] bytes.
    TooLong,
    /// Not sent within the time allowed.
    Timeout,
    /// Another user.
    NotOwner,
}

impl Refusal {
    /// The answer line's object: the refusal's code, and why in English.
    pub fn answer(self) -> Value {
        let error = match self {
            Refusal::BadRequest => "not a request: send one JSON object with a \"command\"",
            Refusal::UnknownCommand => "unknown command: status, pause or resume",
            Refusal::BadDuration => "\"secs\" must be a whole number from 1 to 100 years",
            Refusal::TooLong => "the request is longer than 1024 bytes",
            Refusal::Timeout => "no request line within 2 s",
            Refusal::NotOwner => "only the user the client runs as may control it",
        };
        json!({"ok": false, "code": self, "error": error})
    }
}

impl Request {
    /// The request line, without its newline.
    pub fn line(self) -> String {
        match self {
            Request::Status => json!({"command": "status"}),
            Request::Pause(None) => json!({"command": "pause"}),
            Request::Pause(Some(span)) => json!({"command": "pause", "secs": span.as_secs()}),
            Request::Resume => json!({"command": "resume"}),
        }
        .to_string()
    }

    /// A request line (its newline taken off), as the socket's peer sent it.
    pub fn parse(line: &[u8]) -> Result<Request, Refusal> {
        let object: Map<String, Value> =
            serde_json::from_slice(line).map_err(|_| Refusal::BadRequest)?;
        let command = object.get("command").and_then(Value::as_str);
        match command.ok_or(Refusal::BadRequest)? {
            "status" => Ok(Request::Status),
            "resume" => Ok(Request::Resume),
            "pause" => match object.get("secs") {
                None | Some(Value::Null) => Ok(Request::Pause(None)),
                Some(secs) => {
                    let secs = secs.as_u64().filter(|s| (1..=MAX_PAUSE_SECS).contains(s));
                    let secs = secs.ok_or(Refusal::BadDuration)?;
                    Ok(Request::Pause(Some(Duration::from_secs(secs))))
                }
            },
            _ => Err(Refusal::UnknownCommand),
        }
    }
}

/// The answer to `status`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StatusAnswer {
    pub version: String,
    pub pid: u32,
    pub uptime_secs: u64,
    pub model: String,
    pub serving: bool,
    pub hub: HubState,
    pub ollama: HealthState,
    pub backends: Vec<BackendAnswer>,
    pub paused: bool,
    /// When a pause ends; `None` until `--resume` (or not paused).
    pub paused_until: Option<String>,
    // The three sections below are written from the typed answers that
    // follow and read back as JSON values: deriving their deserializers
    // cost the static binary 12 KB for three lines of the table.
    /// Why the box is away for its owner, when it is (a pause, outside the
    /// selling hours, the GPU guard): an [`AwayAnswer`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub away: Option<Value>,
    /// The selling hours, when `sell_hours` is set: a [`HoursAnswer`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selling_hours: Option<Value>,
    /// What the GPU guard read, when it is on: a [`GuardAnswer`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu_guard: Option<Value>,
    /// Requests a worker is answering, and waiting for one.
    pub running: i64,
    pub queued: i64,
}

/// Why the box is away for its owner: `reason` is `paused`,
/// `outside_hours`, `gpu_hot` or `gpu_in_use`; `detail` says it in English.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AwayAnswer {
    pub reason: String,
    pub detail: String,
    /// The GPU guard's figures, so that `--status` can say it in the
    /// owner's language: the GPU, its temperature and the limit, how busy
    /// it is, or the other program.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temp_c: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_c: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub busy_percent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
}

/// The selling hours: the windows as written, whether they sell now, when
/// that changes, and a `--resume` outside them (selling until then).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HoursAnswer {
    pub windows: Vec<String>,
    pub selling: bool,
    pub next_change: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumed_until: Option<String>,
}

/// The GPU guard: each GPU as last read, what holds the box away (if
/// anything), how long its conditions have been clear, the last error.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct GuardAnswer {
    pub gpus: Vec<GpuAnswer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub away: Option<AwayAnswer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clear_for_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One GPU as the guard read it; each figure when known.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct GpuAnswer {
    pub id: String,
    /// `nvidia` or `amd`.
    pub vendor: String,
    pub temp_c: Option<f64>,
    pub busy_percent: Option<f64>,
    pub memory_used_bytes: Option<u64>,
    pub memory_total_bytes: Option<u64>,
}

/// Where the connection to the hub is: connected `since`, reconnecting
/// at `retry_at`, or one of the states without a time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HubState {
    pub state: HubPhase,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<String>,
}

// Plain structs over enums of unit variants, not internally tagged enums:
// serde reads those through a buffer of every value, which cost the static
// binary some 40 KB for this one answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HubPhase {
    Connected,
    #[default]
    Connecting,
    Reconnecting,
    Paused,
    /// Away for one of the owner's rules other than a pause (see `away`).
    Away,
    WaitingForOllama,
    /// A state this version does not know.
    #[serde(other)]
    Unknown,
}

/// Ollama's health, or one backend's: down `since` with the latest
/// `error`, and whether that is the model missing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthState {
    pub state: HealthPhase,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_missing: Option<bool>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthPhase {
    Up,
    Down,
    /// Not checked yet (or a state this version does not know).
    #[default]
    #[serde(other)]
    Unknown,
}

/// One backend in the status answer: its health's fields inline (serde
/// reads a flattened struct through a buffer of its values: some 6 KB of
/// the binary, for one definition of a health on both ends).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BackendAnswer {
    pub name: String,
    pub url: String,
    /// `ollama` or `openai`; empty from a client before backends had one.
    pub api: String,
    pub model: String,
    #[serde(flatten)]
    pub health: HealthState,
    pub running: usize,
    pub max_parallel: usize,
}

/// The answer to `pause`: until when, and whether it was saved for a
/// restart (`save_error` says why not).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PauseAnswer {
    pub paused_until: Option<String>,
    pub saved: bool,
    pub save_error: Option<String>,
}

/// The answer to `resume`: whether the box was paused, and whether that
/// was saved.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResumeAnswer {
    pub resumed: bool,
    pub saved: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub save_error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_go_over_the_wire_and_back() {
        for request in [
            Request::Status,
            Request::Pause(None),
            Request::Pause(Some(Duration::from_secs(7200))),
            Request::Resume,
        ] {
            assert_eq!(Request::parse(request.line().as_bytes()), Ok(request));
        }
        assert_eq!(
            Request::line(Request::Pause(Some(Duration::from_secs(90)))),
            r#"{"command":"pause","secs":90}"#
        );
        let pause = |secs: &str| {
            Request::parse(format!(r#"{{"command":"pause","secs":{secs}}}"#).as_bytes())
        };
        assert_eq!(pause("null"), Ok(Request::Pause(None)));
        assert_eq!(pause("1"), Ok(Request::Pause(Some(Duration::from_secs(1)))));
        // 100 years, as `--pause` takes them.
        let most = 3_153_600_000;
        assert_eq!(
            pause(&most.to_string()),
            Ok(Request::Pause(Some(Duration::from_secs(most))))
        );
    }

    #[test]
    fn anything_else_is_refused_with_its_reason() {
        for (line, refusal) in [
            ("", Refusal::BadRequest),
            ("status", Refusal::BadRequest),
            ("[1]", Refusal::BadRequest),
            (r#"{"cmd":"status"}"#, Refusal::BadRequest),
            (r#"{"command":5}"#, Refusal::BadRequest),
            (r#"{"command":"stop"}"#, Refusal::UnknownCommand),
            (r#"{"command":"pause","secs":0}"#, Refusal::BadDuration),
            (r#"{"command":"pause","secs":-3}"#, Refusal::BadDuration),
            (r#"{"command":"pause","secs":1.5}"#, Refusal::BadDuration),
            (r#"{"command":"pause","secs":"2h"}"#, Refusal::BadDuration),
            (
                r#"{"command":"pause","secs":3153600001}"#,
                Refusal::BadDuration,
            ),
        ] {
            assert_eq!(Request::parse(line.as_bytes()), Err(refusal), "{line}");
        }
        assert_eq!(Request::parse(&[0xff, 0xfe]), Err(Refusal::BadRequest));
        let answer = Refusal::TooLong.answer();
        assert_eq!(answer["ok"], false);
        assert_eq!(answer["code"], "too_long");
        assert!(answer["error"].as_str().unwrap().contains("1024"));
    }
}
