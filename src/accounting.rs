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
    /// The hub's `messageId`, as JSON text (`42`, `"a-1"`).
    pub message_id: String,
    pub stream: bool,
    pub model: String,
    pub outcome: Outcome,
    /// A short kind when not ok: `ollama_unreachable`, `model_missing`,
    /// `ollama_error`, `timeout`, `cut`, `too_large`, `bad_request`, `busy`,
    /// `shutdown`.
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
pub struct Books {
    sinks: Vec<Arc<dyn Accounts>>,
}

impl Books {
    pub fn new(sinks: Vec<Arc<dyn Accounts>>) -> Books {
        Books { sinks }
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

/// The one-line summary the running client logs every
/// `summary_interval_secs` when anything happened: counted here as answers
/// end, logged from the writer's heartbeat (no timer of its own).
pub struct Summary {
    interval: std::time::Duration,
    since: std::sync::Mutex<std::time::Instant>,
    counts: [std::sync::atomic::AtomicU64; 6],
}

/// The figures of a summary, in `Summary::counts` order.
const REQUESTS: usize = 0;
const ANSWERED: usize = 1;
const ERRORS: usize = 2;
const BUSY: usize = 3;
const TOKENS: usize = 4;
const CONNECTIONS: usize = 5;

impl Summary {
    pub fn new(interval: std::time::Duration) -> Arc<Summary> {
        Arc::new(Summary {
            interval,
            since: std::sync::Mutex::new(std::time::Instant::now()),
            counts: Default::default(),
        })
    }

    fn add(&self, which: usize, n: u64) {
        self.counts[which].fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// The summary line for the period now ending, if one is due and
    /// anything happened in it; the counts start again from zero.
    pub fn take_if_due(&self, now: std::time::Instant) -> Option<String> {
        let mut since = self.since.lock().unwrap_or_else(|p| p.into_inner());
        let period = now.saturating_duration_since(*since);
        if period < self.interval {
            return None;
        }
        *since = now;
        let [requests, answered, errors, busy, tokens, connections] = self
            .counts
            .each_ref()
            .map(|count| count.swap(0, std::sync::atomic::Ordering::Relaxed));
        if requests == 0 && connections == 0 {
            return None;
        }
        Some(format!(
            "in the last {:.0} s: {requests} requests, {answered} answered, {errors} errors, \
             {busy} busy, {tokens} tokens generated, {connections} hub connections",
            period.as_secs_f64()
        ))
    }

    /// Logs the summary when one is due.
    pub fn log_if_due(&self) {
        if let Some(line) = self.take_if_due(std::time::Instant::now()) {
            log::info!("{line}");
        }
    }
}

impl Accounts for Summary {
    fn answered(&self, record: &AnswerRecord) {
        self.add(REQUESTS, 1);
        match record.outcome {
            Outcome::Ok => self.add(ANSWERED, 1),
            Outcome::Busy => self.add(BUSY, 1),
            Outcome::Error | Outcome::Shutdown => self.add(ERRORS, 1),
        }
        self.add(TOKENS, record.tokens.unwrap_or(0));
    }

    fn hub(&self, event: &HubEvent) {
        if *event == HubEvent::Connected {
            self.add(CONNECTIONS, 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

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
        }
    }

    #[test]
    fn a_summary_is_due_once_per_interval_and_only_if_anything_happened() {
        let summary = Summary::new(Duration::from_secs(3600));
        let start = *summary.since.lock().unwrap();
        let later = |s| start + Duration::from_secs(s);
        assert_eq!(summary.take_if_due(later(4000)), None, "nothing happened");
        summary.hub(&HubEvent::Connected);
        summary.answered(&record(Outcome::Ok, Some(7)));
        summary.answered(&record(Outcome::Ok, Some(3)));
        summary.answered(&record(Outcome::Error, None));
        summary.answered(&record(Outcome::Shutdown, None));
        summary.answered(&record(Outcome::Busy, None));
        summary.hub(&HubEvent::Disconnected("x".into()));
        assert_eq!(
            summary.take_if_due(later(5000)),
            None,
            "not an hour since the last"
        );
        assert_eq!(
            summary.take_if_due(later(4000 + 3600)).as_deref(),
            Some(
                "in the last 3600 s: 5 requests, 2 answered, 2 errors, 1 busy, \
                 10 tokens generated, 1 hub connections"
            )
        );
        summary.answered(&record(Outcome::Ok, None));
        assert_eq!(summary.take_if_due(later(4000 + 3600 + 3599)), None);
        let next = summary.take_if_due(later(4000 + 7200)).unwrap();
        assert!(
            next.starts_with("in the last 3600 s: 1 requests, 1 answered"),
            "{next}"
        );
    }

    #[test]
    fn books_pass_every_record_and_event_to_every_sink() {
        let (a, b) = (Summary::new(Duration::ZERO), Summary::new(Duration::ZERO));
        let books = Books::new(vec![a.clone(), b.clone()]);
        books.answered(&record(Outcome::Ok, Some(2)));
        books.hub(&HubEvent::Connected);
        for sink in [a, b] {
            let line = sink
                .take_if_due(Instant::now() + Duration::from_secs(1))
                .unwrap();
            assert!(
                line.contains("1 requests, 1 answered") && line.contains("1 hub connections"),
                "{line}"
            );
        }
        assert_eq!(
            Outcome::ALL.map(Outcome::label),
            ["ok", "error", "busy", "shutdown"]
        );
        assert_eq!(Outcome::ALL.map(Outcome::index), [0, 1, 2, 3]);
    }
}
