//! A request and how its answer is sent and counted: the [`Job`] a
//! worker runs, the frames that reach the writer ([`send`],
//! [`send_error`]), and the one record every answer leaves ([`Recorder`],
//! [`End`]). The dispatcher, the pool and the workers all answer through
//! here.

use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::accounting::{AnswerRecord, Outcome, Sinks};
use crate::backends::Backend;
use crate::hub::{Outgoing, ToWriter, WriterSender};
use crate::metrics::Metrics;
use crate::ollama::{ErrorKind, OllamaError, Stats, TokensSource};
use crate::protocol::{FrameKind, MessageId};
use crate::text::{Lang, Text};

/// A buyer prompt waiting for a worker.
pub struct Job {
    pub request: u64,
    pub message_id: MessageId,
    pub prompt: String,
    pub stream: bool,
    pub received: Instant,
    /// The language of its error texts (`buyer_language`).
    pub language: Lang,
    /// Where the answer goes besides the hub (test mode's console).
    pub echo: Option<Sender<Echo>>,
    /// Its failure on the first backend, once it runs again on another
    /// (boxed: rare, and every request moves through channels).
    pub first_failure: Option<Box<Failure>>,
}

/// A failed attempt: where, and why.
pub struct Failure {
    pub backend: usize,
    pub error: OllamaError,
}

/// Where every answer is counted: the ledger and metrics' records, the
/// live gauges, and the model the records name.
#[derive(Clone)]
pub struct Recorder {
    pub sinks: Sinks,
    pub metrics: Arc<Metrics>,
    pub model: Arc<str>,
}

impl Recorder {
    /// Counts one finished request; `backend` is the one that ran it last
    /// (`None` when it never reached one).
    pub(super) fn answered(
        &self,
        job: &Job,
        end: End,
        progress: &Progress,
        stats: Option<&Stats>,
        backend: Option<&Backend>,
    ) {
        let millis = |d: Duration| d.as_millis() as u64;
        let record = AnswerRecord {
            message_id: job.message_id.as_json().to_string(),
            stream: job.stream,
            model: backend.map_or_else(|| self.model.to_string(), |b| b.target.model.clone()),
            outcome: end.outcome,
            error: end.error,
            prompt_chars: job.prompt.chars().count(),
            answer_chars: progress.answer_chars,
            pieces: progress.pieces,
            prompt_tokens: stats.and_then(|s| s.prompt_eval_count),
            tokens: stats.and_then(|s| s.eval_count),
            tokens_source: stats
                .and_then(|s| s.tokens_source)
                .map(TokensSource::as_str),
            eval_ms: stats.and_then(Stats::eval_ms),
            first_piece_ms: progress.first_piece.map(millis),
            total_ms: millis(job.received.elapsed()),
            load_ms: stats.and_then(Stats::load_ms),
            backend: backend.map(|b| b.name.as_str().into()),
            api: backend.map(|b| b.target.api.as_str()),
            failed_over: job.first_failure.is_some(),
        };
        self.sinks.answered(&record);
    }
}

/// How a request ended, for its record.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct End {
    pub outcome: Outcome,
    pub error: Option<&'static str>,
}

impl End {
    pub(super) const OK: End = End {
        outcome: Outcome::Ok,
        error: None,
    };
    pub(super) const BUSY: End = End {
        outcome: Outcome::Busy,
        error: Some("busy"),
    };
    pub(super) const SHUTDOWN: End = End {
        outcome: Outcome::Shutdown,
        error: Some(ErrorKind::Shutdown.as_str()),
    };

    /// An error answer of this kind.
    pub fn error(kind: &'static str) -> End {
        End {
            outcome: Outcome::Error,
            error: Some(kind),
        }
    }

    /// How a request that failed on Ollama ended.
    pub(super) fn of(error: &OllamaError) -> End {
        match error.kind() {
            ErrorKind::Shutdown => End::SHUTDOWN,
            kind => End::error(kind.as_str()),
        }
    }
}

/// An answer's progress so far.
#[derive(Default)]
pub(super) struct Progress {
    pub(super) pieces: usize,
    pub(super) answer_chars: usize,
    pub(super) first_piece: Option<Duration>,
}

/// A copy of an answer's progress, for the console in test mode.
#[derive(Debug)]
pub enum Echo {
    Piece(String),
    Done {
        /// Ollama's figures, or what went wrong (the owner's account of an
        /// Ollama failure, or why the request was refused).
        result: Result<Stats, Text>,
        pieces: usize,
        elapsed: Duration,
    },
}

/// The error answer: one error frame, and in stream mode the end marker.
/// The text is in the buyer's language after `Error: `, which stays
/// English in every language: the buyer's software looks for it. What was
/// generated before the error (`so_far`: a non-stream answer cut at the
/// owner's time limit) follows after a blank line, so the buyer keeps it.
pub(super) fn send_error(out: &WriterSender, job: &Job, reason: &Text, so_far: &str) {
    let mut content = format!("Error: {}", reason.in_lang(job.language));
    if !so_far.is_empty() {
        content.push_str("\n\n");
        content.push_str(so_far);
    }
    send(out, job, FrameKind::Error { stream: job.stream }, content);
    if job.stream {
        send(out, job, FrameKind::End, String::new());
    }
}

pub(super) fn send(out: &WriterSender, job: &Job, kind: FrameKind, content: String) {
    let frame = Outgoing {
        request: job.request,
        message_id: job.message_id.clone(),
        kind,
        content,
    };
    // The writer outlives every worker; a failed send means the process is
    // already tearing down and nothing could deliver the frame anyway.
    let _ = out.send(ToWriter::Frame(frame));
}
