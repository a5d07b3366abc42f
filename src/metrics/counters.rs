//! [`Metrics`], the figures themselves: plain atomics, so that the threads
//! that count never take a lock or make a system call for it, and never
//! wait for a scrape (see the `metrics` module for who counts what).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use crate::accounting::{Accounts, AnswerRecord, HubEvent, Outcome};

/// The histograms' upper bounds, in milliseconds (Prometheus's `le`, in
/// seconds: 0.05 ... 300): from a quick first piece to the longest answer
/// the relay lets run.
pub const BUCKETS_MS: [u64; 12] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 120_000, 300_000,
];

/// A latency histogram of fixed buckets.
///
/// Each observation adds one to exactly one slot (the first bound it does
/// not exceed, or the last slot, above every bound), so that the count is
/// the slots' total and the `+Inf` bucket always equals `_count`; the
/// cumulative buckets Prometheus wants are summed at render time.
#[derive(Default)]
pub struct Histogram {
    pub(super) slots: [AtomicU64; BUCKETS_MS.len() + 1],
    pub(super) sum_ms: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, ms: u64) {
        let slot = BUCKETS_MS.partition_point(|&bound| bound < ms);
        // `partition_point` is at most `BUCKETS_MS.len()`: always a slot.
        if let Some(slot) = self.slots.get(slot) {
            slot.fetch_add(1, Relaxed);
        }
        self.sum_ms.fetch_add(ms, Relaxed);
    }

    /// Observations at or below each bound in turn, then all of them
    /// (`+Inf`, the count).
    pub fn cumulative(&self) -> [u64; BUCKETS_MS.len() + 1] {
        let mut total = 0u64;
        self.slots.each_ref().map(|slot| {
            total = total.wrapping_add(slot.load(Relaxed));
            total
        })
    }
}

/// One backend's figures, labelled with its name.
#[derive(Default)]
pub struct BackendFigures {
    pub(super) name: Box<str>,
    /// The API it speaks and the model it runs, for its info gauge.
    pub(super) api: &'static str,
    pub(super) model: Box<str>,
    /// Finished requests whose record names this backend, by
    /// outcome, in the order of [`Outcome::ALL`].
    pub(super) requests: [AtomicU64; Outcome::ALL.len()],
    pub(super) tokens: AtomicU64,
    /// Of those, the ones that came here after failing on another backend
    /// before their first piece.
    pub(super) failovers: AtomicU64,
}

impl BackendFigures {
    fn answered(&self, record: &AnswerRecord) {
        if let Some(count) = self.requests.get(record.outcome as usize) {
            count.fetch_add(1, Relaxed);
        }
        self.tokens.fetch_add(record.tokens.unwrap_or(0), Relaxed);
        if record.failed_over {
            self.failovers.fetch_add(1, Relaxed);
        }
    }
}

/// The figures; one per process, shared as `Arc<Metrics>`.
#[derive(Default)]
pub struct Metrics {
    /// Finished requests by outcome, in the order of [`Outcome::ALL`].
    pub(super) requests: [AtomicU64; Outcome::ALL.len()],
    pub(super) tokens: AtomicU64,
    pub(super) prompt_tokens: AtomicU64,
    pub(super) pieces: AtomicU64,
    pub(super) hub_connections: AtomicU64,
    // Gauges that go up and down are signed: a stray extra "finished"
    // shows as -1 instead of wrapping to 2^64.
    pub(super) requests_running: AtomicI64,
    pub(super) queue_depth: AtomicI64,
    pub(super) outbox_bytes: AtomicU64,
    pub(super) first_piece: Histogram,
    pub(super) answer: Histogram,
    /// In the listed order; a handful at most, so found by a linear scan.
    pub(super) backends: Box<[BackendFigures]>,
}

impl Metrics {
    /// Figures without backends (tests).
    #[cfg(test)]
    pub fn new() -> Arc<Metrics> {
        Arc::new(Metrics::default())
    }

    /// Figures that also count per backend, for the backends given as
    /// their name, API and model (in their listed order).
    pub fn for_backends<'a>(
        backends: impl IntoIterator<Item = (&'a str, &'static str, &'a str)>,
    ) -> Arc<Metrics> {
        let backends = backends
            .into_iter()
            .map(|(name, api, model)| BackendFigures {
                name: name.into(),
                api,
                model: model.into(),
                ..BackendFigures::default()
            });
        Arc::new(Metrics {
            backends: backends.collect(),
            ..Metrics::default()
        })
    }

    /// Figures for Ollama backends of these names (tests).
    #[cfg(test)]
    pub fn with_backends<'a>(names: impl IntoIterator<Item = &'a str>) -> Arc<Metrics> {
        Metrics::for_backends(names.into_iter().map(|name| (name, "ollama", "llama3.2")))
    }

    fn backend(&self, name: &str) -> Option<&BackendFigures> {
        self.backends.iter().find(|b| *b.name == *name)
    }

    /// One piece of an answer went to the writer. The per-piece path: one
    /// relaxed add.
    pub fn piece_sent(&self) {
        self.pieces.fetch_add(1, Relaxed);
    }

    /// A worker took a request to Ollama.
    pub fn request_started(&self) {
        self.requests_running.fetch_add(1, Relaxed);
    }

    /// The worker is done with it (whatever the outcome).
    pub fn request_finished(&self) {
        self.requests_running.fetch_sub(1, Relaxed);
    }

    /// Requests waiting for a worker: +1 when queued, -1 when taken.
    pub fn queue_depth_add(&self, delta: i64) {
        self.queue_depth.fetch_add(delta, Relaxed);
    }

    /// Requests a worker is answering now.
    pub fn requests_running(&self) -> i64 {
        self.requests_running.load(Relaxed)
    }

    /// Requests waiting for a worker.
    pub fn queue_depth(&self) -> i64 {
        self.queue_depth.load(Relaxed)
    }

    /// Bytes of answer frames the writer holds, not yet sent to the hub.
    pub fn set_outbox_bytes(&self, bytes: u64) {
        self.outbox_bytes.store(bytes, Relaxed);
    }

    #[cfg(test)]
    pub fn outbox_bytes(&self) -> u64 {
        self.outbox_bytes.load(Relaxed)
    }
}

impl Accounts for Metrics {
    fn answered(&self, record: &AnswerRecord) {
        if let Some(count) = self.requests.get(record.outcome as usize) {
            count.fetch_add(1, Relaxed);
        }
        self.tokens.fetch_add(record.tokens.unwrap_or(0), Relaxed);
        let prompt = record.prompt_tokens.unwrap_or(0);
        self.prompt_tokens.fetch_add(prompt, Relaxed);
        if let Some(ms) = record.first_piece_ms {
            self.first_piece.observe(ms);
        }
        self.answer.observe(record.total_ms);
        // Whether Ollama is up is not this answer's to say: one request
        // that could not reach it does not set it aside (`backends`
        // decides, and `availability` sets the gauge).
        let backend = record.backend.as_deref();
        if let Some(backend) = backend.and_then(|name| self.backend(name)) {
            backend.answered(record);
        }
    }

    fn hub(&self, event: &HubEvent) {
        if let HubEvent::Connected = event {
            self.hub_connections.fetch_add(1, Relaxed);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A finished request, ok unless changed.
    pub(crate) fn record(outcome: Outcome, error: Option<&'static str>) -> AnswerRecord {
        AnswerRecord {
            api: None,
            tokens_source: None,
            message_id: "1".into(),
            stream: true,
            model: "llama3".into(),
            outcome,
            error,
            prompt_chars: 10,
            answer_chars: 20,
            pieces: 3,
            prompt_tokens: Some(7),
            tokens: Some(11),
            eval_ms: Some(30.0),
            first_piece_ms: Some(40),
            total_ms: 900,
            load_ms: None,
            backend: None,
            failed_over: false,
        }
    }

    #[test]
    fn each_observation_lands_in_the_first_bucket_it_does_not_exceed() {
        let h = Histogram::default();
        for ms in [0, 50, 51, 100, 999, 1_000, 300_000, 300_001, u64::MAX / 4] {
            h.observe(ms);
        }
        let c = h.cumulative();
        // le: 0.05 0.1 0.25 0.5 1 2.5 5 10 30 60 120 300 +Inf
        assert_eq!(c, [2, 4, 4, 4, 6, 6, 6, 6, 6, 6, 6, 7, 9]);
        let sum = 50 + 51 + 100 + 999 + 1_000 + 300_000 + 300_001 + u64::MAX / 4;
        assert_eq!(h.sum_ms.load(Relaxed), sum);
    }

    #[test]
    fn an_empty_histogram_is_all_zeros() {
        let h = Histogram::default();
        assert_eq!(h.cumulative(), [0; BUCKETS_MS.len() + 1]);
        assert_eq!(h.sum_ms.load(Relaxed), 0);
    }

    #[test]
    fn buckets_are_increasing() {
        assert!(BUCKETS_MS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn answers_count_by_outcome_with_tokens_and_latencies() {
        let m = Metrics::new();
        m.answered(&record(Outcome::Ok, None));
        let mut busy = record(Outcome::Busy, Some("busy"));
        (busy.tokens, busy.prompt_tokens, busy.first_piece_ms) = (None, None, None);
        busy.total_ms = 0;
        m.answered(&busy);
        let counts: Vec<u64> = m.requests.iter().map(|c| c.load(Relaxed)).collect();
        assert_eq!(counts, [1, 0, 1, 0]);
        assert_eq!(m.tokens.load(Relaxed), 11);
        assert_eq!(m.prompt_tokens.load(Relaxed), 7);
        assert_eq!(m.first_piece.cumulative()[0], 1);
        assert_eq!(m.first_piece.cumulative()[12], 1);
        assert_eq!(m.answer.cumulative()[12], 2);
        assert_eq!(m.answer.sum_ms.load(Relaxed), 900);
    }

    #[test]
    fn an_answer_counts_for_the_backend_it_names_too() {
        let m = Metrics::with_backends(["a", "b"]);
        let names: Vec<&str> = m.backends.iter().map(|b| &*b.name).collect();
        assert_eq!(names, ["a", "b"]);
        let mut on_b = record(Outcome::Ok, None);
        on_b.backend = Some("b".into());
        m.answered(&on_b);
        let b = m
            .backend("b")
            .map(|b| b.requests[Outcome::Ok as usize].load(Relaxed));
        assert_eq!(b, Some(1));
    }

    #[test]
    fn an_answer_of_a_backend_not_listed_counts_in_the_totals_only() {
        let m = Metrics::with_backends(["a", "b"]);
        // An answer naming a backend not listed counts in the totals only.
        let mut stray = record(Outcome::Ok, None);
        stray.backend = Some("c".into());
        m.answered(&stray);
        assert_eq!(m.requests[Outcome::Ok as usize].load(Relaxed), 1);
        let per_backend = m.backends.iter().flat_map(|b| &b.requests);
        assert_eq!(per_backend.map(|c| c.load(Relaxed)).sum::<u64>(), 0);
    }

    #[test]
    fn gauges_go_up_and_down() {
        let m = Metrics::new();
        m.request_started();
        m.request_started();
        m.request_finished();
        m.queue_depth_add(3);
        m.queue_depth_add(-1);
        m.set_outbox_bytes(4096);
        m.piece_sent();
        assert_eq!(m.requests_running(), 1);
        assert_eq!(m.queue_depth(), 2);
        assert_eq!(m.outbox_bytes.load(Relaxed), 4096);
        assert_eq!(m.pieces.load(Relaxed), 1);
        m.request_finished();
        m.request_finished();
        assert_eq!(m.requests_running(), -1);
    }

    #[test]
    fn hub_events_count_connections() {
        let m = Metrics::new();
        m.hub(&HubEvent::Connected);
        m.hub(&HubEvent::Disconnected("eof".into()));
        m.hub(&HubEvent::Connected);
        assert_eq!(m.hub_connections.load(Relaxed), 2);
    }
}
