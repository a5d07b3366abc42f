//! The figures of one finished answer, as the relay measured them, and of
//! the hub connection's life: what the ledger writes down and the metrics
//! count. `relay` builds one [`AnswerRecord`] where an answer ends (once per
//! request, never per piece) and hands it to every [`Accounts`] sink; the
//! connection loop reports [`HubEvent`]s the same way.

use std::sync::Arc;

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

/// How a request ended, from the buyer's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The whole answer was sent.
    Ok,
    /// An `Error: ...` answer: Ollama failed, the request was refused.
    Error,
    /// `Error: busy`: the queue was full.
    Busy,
    /// Ended by the client's own shutdown.
    Shutdown,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::Ok,
        Outcome::Error,
        Outcome::Busy,
        Outcome::Shutdown,
    ];

    /// The name in the ledger and in the metrics' `outcome` label.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Busy => "busy",
            Outcome::Shutdown => "shutdown",
        }
    }
}

/// Written by its [`label`](Outcome::label).
impl Serialize for Outcome {
    fn serialize<S: Serializer>(&self, to: S) -> Result<S::Ok, S::Error> {
        to.serialize_str(self.label())
    }
}

/// One finished request. Never any prompt or answer text, never the token.
/// Its fields are its `answer` line in the ledger, in the order written:
/// `message_id`, then the others in alphabetical order, the order the
/// ledger has always had.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AnswerRecord {
    /// The hub's `messageId`, as the JSON text it sent (`42`, `"a-1"`),
    /// byte for byte: the ledger writes it as it is, never parsed (see
    /// [`raw_json`]).
    #[serde(serialize_with = "raw_json")]
    pub message_id: String,
    pub answer_chars: usize,
    /// The API of the backend that ran it last (`ollama`, `openai`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api: Option<&'static str>,
    /// The name of the Ollama backend that ran it last; `None` when it
    /// never reached one (busy, refused, shutdown).
    pub backend: Option<String>,
    /// A short kind when not ok: `ollama_unreachable`, `model_missing`,
    /// `ollama_error`, `timeout`, `time_limit`, `cut`, `bad_answer`,
    /// `too_large`, `prompt_too_long`, `bad_request`, `busy`, `shutdown`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
    /// Ollama's `eval_duration` in milliseconds to the microsecond, when it
    /// sent one: with `tokens`, the generation speed (a fast model makes a
    /// few tokens in well under a millisecond).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval_ms: Option<f64>,
    /// Whether it failed on one backend before its first piece and ran
    /// again on another.
    pub failed_over: bool,
    /// From the request's arrival to its first piece.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_piece_ms: Option<u64>,
    /// Ollama's `load_duration`, when it sent one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_ms: Option<u64>,
    pub model: String,
    pub outcome: Outcome,
    pub pieces: usize,
    pub prompt_chars: usize,
    /// Ollama's `prompt_eval_count`, when it sent one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<u64>,
    pub stream: bool,
    /// Ollama's `eval_count`, when it sent one; an OpenAI-compatible
    /// backend's count, from where `tokens_source` says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
    /// An OpenAI-compatible answer's: `usage` (the server's usage chunk),
    /// `timings` (llama.cpp's) or `counted` (the pieces, counted here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_source: Option<&'static str>,
    /// From the request's arrival to its last frame.
    pub total_ms: u64,
}

/// The hub's `messageId` as the JSON text it sent, byte for byte: a
/// number too large for any integer or float type, or a string with a
/// lone surrogate escape, is written as it came (parsed, it would become
/// a rounded float or an escaped string). Text that is not one JSON value
/// (never from the hub's frames, which were parsed) is written as a
/// string.
fn raw_json<S: Serializer>(id: &str, to: S) -> Result<S::Ok, S::Error> {
    match RawValue::from_string(id.to_string()) {
        Ok(raw) => raw.serialize(to),
        Err(_) => to.serialize_str(id),
    }
}

/// The hub connection's life.
#[derive(Clone, Debug, PartialEq)]
pub enum HubEvent {
    Connected,
    /// With the reason, in English (the log's words).
    Disconnected(String),
}

/// Where records go: the ledger, the metrics.
pub trait Accounts: Send + Sync {
    fn answered(&self, record: &AnswerRecord);
    fn hub(&self, event: &HubEvent);
}

/// Every sink, called in turn; none when the owner turned both off.
#[derive(Clone, Default)]
pub struct Sinks {
    sinks: Vec<Arc<dyn Accounts>>,
}

impl Sinks {
    pub fn new(sinks: Vec<Arc<dyn Accounts>>) -> Sinks {
        Sinks { sinks }
    }

    pub fn answered(&self, record: &AnswerRecord) {
        for sink in &self.sinks {
            sink.answered(record);
        }
    }

    pub fn hub(&self, event: &HubEvent) {
        for sink in &self.sinks {
            sink.hub(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(outcome: Outcome, tokens: Option<u64>) -> AnswerRecord {
        AnswerRecord {
            api: None,
            tokens_source: None,
            message_id: "1".into(),
            stream: true,
            model: "m".into(),
            outcome,
            error: None,
            prompt_chars: 1,
            answer_chars: 1,
            pieces: 1,
            prompt_tokens: None,
            tokens,
            eval_ms: None,
            first_piece_ms: None,
            total_ms: 1,
            load_ms: None,
            backend: None,
            failed_over: false,
        }
    }

    /// A sink that counts what it is given.
    #[derive(Default)]
    struct Counted(std::sync::Mutex<(Vec<Outcome>, Vec<HubEvent>)>);

    impl Accounts for Counted {
        fn answered(&self, record: &AnswerRecord) {
            self.0.lock().unwrap().0.push(record.outcome);
        }

        fn hub(&self, event: &HubEvent) {
            self.0.lock().unwrap().1.push(event.clone());
        }
    }

    #[test]
    fn books_pass_every_record_and_event_to_every_sink() {
        let (a, b) = (Arc::new(Counted::default()), Arc::new(Counted::default()));
        let sinks = Sinks::new(vec![a.clone(), b.clone()]);
        sinks.answered(&record(Outcome::Ok, Some(2)));
        sinks.hub(&HubEvent::Connected);
        for sink in [a, b] {
            let seen = sink.0.lock().unwrap();
            assert_eq!(seen.0, [Outcome::Ok]);
            assert_eq!(seen.1, [HubEvent::Connected]);
        }
        assert_eq!(
            Outcome::ALL.map(Outcome::label),
            ["ok", "error", "busy", "shutdown"]
        );
        assert_eq!(Outcome::ALL.map(|outcome| outcome as usize), [0, 1, 2, 3]);
    }
}
