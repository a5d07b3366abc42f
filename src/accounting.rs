//! The figures of one finished answer, as the relay measured them, and of
//! the hub connection's life: what the ledger writes down and the metrics
//! count. `relay` builds one [`AnswerRecord`] where an answer ends (once per
//! request, never per piece) and hands it to every [`Accounts`] sink; the
//! connection loop reports [`HubEvent`]s the same way.

use std::sync::Arc;

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

    pub fn index(self) -> usize {
        self as usize
    }
}

/// One finished request. Never any prompt or answer text, never the token.
#[derive(Clone, Debug, PartialEq)]
pub struct AnswerRecord {
    /// The hub's `messageId`, as the JSON text it sent (`42`, `"a-1"`),
    /// byte for byte: the ledger writes it as it is, never parsed.
    pub message_id: String,
    pub stream: bool,
    pub model: String,
    pub outcome: Outcome,
    /// A short kind when not ok: `ollama_unreachable`, `model_missing`,
    /// `ollama_error`, `timeout`, `time_limit`, `cut`, `bad_answer`,
    /// `too_large`, `prompt_too_long`, `bad_request`, `busy`, `shutdown`.
    pub error: Option<&'static str>,
    pub prompt_chars: usize,
    pub answer_chars: usize,
    pub pieces: usize,
    /// Ollama's `prompt_eval_count`, when it sent one.
    pub prompt_tokens: Option<u64>,
    /// Ollama's `eval_count`, when it sent one.
    pub tokens: Option<u64>,
    /// Ollama's `eval_duration` in milliseconds to the microsecond, when it
    /// sent one: with `tokens`, the generation speed (a fast model makes a
    /// few tokens in well under a millisecond).
    pub eval_ms: Option<f64>,
    /// From the request's arrival to its first piece.
    pub first_piece_ms: Option<u64>,
    /// From the request's arrival to its last frame.
    pub total_ms: u64,
    /// Ollama's `load_duration`, when it sent one.
    pub load_ms: Option<u64>,
    /// The name of the Ollama backend that ran it last; `None` when it
    /// never reached one (busy, refused, shutdown).
    pub backend: Option<Arc<str>>,
    /// Whether it failed on one backend before its first piece and ran
    /// again on another.
    pub failed_over: bool,
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
        assert_eq!(Outcome::ALL.map(Outcome::index), [0, 1, 2, 3]);
    }
}
