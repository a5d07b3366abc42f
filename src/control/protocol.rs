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
//! (README, "Pause, resume, status").

use std::time::{Duration, SystemTime};

use serde_json::{json, Map, Value};

use crate::availability::{OllamaHealth, Status};
use crate::backends::BackendStatus;
use crate::hub::Connection;
use crate::pause::Pause;
use crate::time;

/// The longest request line, its newline included: the longest real one
/// is under 50 bytes.
pub const MAX_REQUEST: usize = 1024;

/// The longest pause asked for over the socket: what `--pause` accepts.
const MAX_PAUSE_SECS: u64 = 100 * 365 * 86_400;

/// An owner's command.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Request {
    Status,
    /// `None`: until `--resume`.
    Pause(Option<Duration>),
    Resume,
}

/// Why a request gets no answer of its own.
#[derive(Clone, Copy, Debug, PartialEq)]
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
    pub fn code(self) -> &'static str {
        match self {
            Refusal::BadRequest => "bad_request",
            Refusal::UnknownCommand => "unknown_command",
            Refusal::BadDuration => "bad_duration",
            Refusal::TooLong => "too_long",
            Refusal::Timeout => "timeout",
            Refusal::NotOwner => "not_owner",
        }
    }

    fn english(self) -> &'static str {
        match self {
            Refusal::BadRequest => "not a request: send one JSON object with a \"command\"",
            Refusal::UnknownCommand => "unknown command: status, pause or resume",
            Refusal::BadDuration => "\"secs\" must be a whole number from 1 to 100 years",
            Refusal::TooLong => "the request is longer than 1024 bytes",
            Refusal::Timeout => "no request line within 2 s",
            Refusal::NotOwner => "only the user the client runs as may control it",
        }
    }

    /// The answer line's object.
    pub fn answer(self) -> Value {
        json!({"ok": false, "code": self.code(), "error": self.english()})
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

/// An instant as the answers write it (RFC 3339, UTC, milliseconds).
fn stamp(at: SystemTime) -> Value {
    time::format(time::millis(at)).into()
}

/// When a pause ends; `null` until `--resume`.
fn until(pause: Option<Pause>) -> Value {
    pause
        .and_then(|p| p.until_millis())
        .map(time::format)
        .into()
}

/// One backend in the answer to `status`.
fn backend_answer(backend: &BackendStatus) -> Value {
    let mut answer = json!({
        "name": backend.name, "url": backend.base_url,
        "running": backend.running, "max_parallel": backend.max_parallel,
    });
    let health = match &backend.health {
        None => json!({"state": "unknown"}),
        Some(Ok(())) => json!({"state": "up"}),
        Some(Err(down)) => json!({
            "state": "down", "since": stamp(down.since), "error": down.error,
            "model_missing": down.model_missing,
        }),
    };
    if let (Some(fields), Value::Object(health)) = (answer.as_object_mut(), health) {
        fields.extend(health);
    }
    answer
}

/// The answer to `status`.
pub fn status_answer(status: &Status) -> Value {
    let hub = match status.hub {
        Connection::Connected(since) => json!({"state": "connected", "since": stamp(since)}),
        Connection::Connecting => json!({"state": "connecting"}),
        Connection::Retrying(at) => json!({"state": "reconnecting", "retry_at": stamp(at)}),
        Connection::Away if status.paused.is_some() => json!({"state": "paused"}),
        Connection::Away => json!({"state": "waiting_for_ollama"}),
    };
    let ollama = match &status.ollama {
        OllamaHealth::Unknown => json!({"state": "unknown"}),
        OllamaHealth::Up => json!({"state": "up"}),
        OllamaHealth::Down {
            since,
            error,
            model_missing,
        } => json!({
            "state": "down", "since": stamp(*since), "error": error,
            "model_missing": model_missing,
        }),
    };
    let backends: Vec<Value> = status.backends.iter().map(backend_answer).collect();
    json!({
        "ok": true,
        "version": env!("CARGO_PKG_VERSION"),
        "pid": std::process::id(),
        "uptime_secs": status.uptime.as_secs(),
        "model": status.model,
        "serving": status.serving(),
        "hub": hub,
        "ollama": ollama,
        "backends": backends,
        "paused": status.paused.is_some(),
        "paused_until": until(status.paused),
        "running": status.running,
        "queued": status.queued,
    })
}

/// The answer to `pause`: until when, and whether it was saved for a
/// restart (`save_error` says why not).
pub fn pause_answer(pause: Pause, saved: Result<(), String>) -> Value {
    json!({
        "ok": true,
        "paused_until": until(Some(pause)),
        "saved": saved.is_ok(),
        "save_error": saved.err(),
    })
}

/// The answer to `resume`: whether the box was paused.
pub fn resume_answer(resumed: Result<bool, String>) -> Value {
    match resumed {
        Ok(was_paused) => json!({"ok": true, "resumed": was_paused, "saved": true}),
        // The pause is over in this process either way.
        Err(why) => json!({"ok": true, "resumed": true, "saved": false, "save_error": why}),
    }
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

    fn status(hub: Connection, ollama: OllamaHealth, paused: Option<Pause>) -> Status {
        Status {
            uptime: Duration::from_millis(61_900),
            model: "llama3.2".into(),
            hub,
            ollama,
            backends: vec![
                BackendStatus {
                    name: "gpu1:11434".into(),
                    base_url: "http://gpu1:11434".into(),
                    health: Some(Ok(())),
                    running: 2,
                    max_parallel: 2,
                },
                BackendStatus {
                    name: "desk".into(),
                    base_url: "http://192.168.1.20:11434".into(),
                    health: Some(Err(crate::backends::Down {
                        since: std::time::UNIX_EPOCH + Duration::from_millis(1_764_547_200_123),
                        error: "Ollama backend desk does not answer".into(),
                        model_missing: false,
                    })),
                    running: 0,
                    max_parallel: 1,
                },
            ],
            paused,
            running: 2,
            queued: 1,
        }
    }

    #[test]
    fn the_status_answer_says_each_state() {
        let at = std::time::UNIX_EPOCH + Duration::from_millis(1_764_547_200_123);
        let serving = status_answer(&status(Connection::Connected(at), OllamaHealth::Up, None));
        assert_eq!(
            serving,
            json!({
                "ok": true, "version": env!("CARGO_PKG_VERSION"), "pid": std::process::id(),
                "uptime_secs": 61, "model": "llama3.2", "serving": true,
                "hub": {"state": "connected", "since": "2025-12-01T00:00:00.123Z"},
                "ollama": {"state": "up"}, "paused": false, "paused_until": null,
                "running": 2, "queued": 1,
                "backends": [
                    {"name": "gpu1:11434", "url": "http://gpu1:11434", "state": "up",
                     "running": 2, "max_parallel": 2},
                    {"name": "desk", "url": "http://192.168.1.20:11434", "state": "down",
                     "since": "2025-12-01T00:00:00.123Z",
                     "error": "Ollama backend desk does not answer", "model_missing": false,
                     "running": 0, "max_parallel": 1},
                ],
            })
        );
        let paused = status_answer(&status(
            Connection::Away,
            OllamaHealth::Up,
            Some(Pause::Until(at)),
        ));
        assert_eq!(paused["hub"], json!({"state": "paused"}));
        assert_eq!(paused["paused"], true);
        assert_eq!(paused["paused_until"], "2025-12-01T00:00:00.123Z");
        assert_eq!(paused["serving"], false);
        let down = OllamaHealth::Down {
            since: at,
            error: "Ollama does not answer".into(),
            model_missing: false,
        };
        let waiting = status_answer(&status(Connection::Away, down, None));
        assert_eq!(waiting["hub"], json!({"state": "waiting_for_ollama"}));
        assert_eq!(
            waiting["ollama"],
            json!({"state": "down", "since": "2025-12-01T00:00:00.123Z",
                   "error": "Ollama does not answer", "model_missing": false})
        );
        let retrying = status_answer(&status(
            Connection::Retrying(at),
            OllamaHealth::Unknown,
            None,
        ));
        assert_eq!(
            retrying["hub"],
            json!({"state": "reconnecting", "retry_at": "2025-12-01T00:00:00.123Z"})
        );
        assert_eq!(retrying["ollama"], json!({"state": "unknown"}));
        let connecting = status_answer(&status(
            Connection::Connecting,
            OllamaHealth::Up,
            Some(Pause::Indefinite),
        ));
        assert_eq!(connecting["hub"], json!({"state": "connecting"}));
        assert_eq!(
            (
                connecting["paused"].clone(),
                connecting["paused_until"].clone()
            ),
            (json!(true), Value::Null)
        );
    }

    #[test]
    fn pause_and_resume_answers_say_whether_it_was_saved() {
        let end = std::time::UNIX_EPOCH + Duration::from_secs(1_764_547_200);
        assert_eq!(
            pause_answer(Pause::Until(end), Ok(())),
            json!({"ok": true, "paused_until": "2025-12-01T00:00:00.000Z", "saved": true, "save_error": null})
        );
        assert_eq!(
            pause_answer(Pause::Indefinite, Err("disk full".into())),
            json!({"ok": true, "paused_until": null, "saved": false, "save_error": "disk full"})
        );
        assert_eq!(
            resume_answer(Ok(false)),
            json!({"ok": true, "resumed": false, "saved": true})
        );
        assert_eq!(resume_answer(Ok(true))["resumed"], true);
        assert_eq!(
            resume_answer(Err("read-only".into())),
            json!({"ok": true, "resumed": true, "saved": false, "save_error": "read-only"})
        );
    }
}
