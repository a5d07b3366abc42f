//! The one-line summary the running client logs every
//! `summary_interval_secs` when anything happened. It keeps no counts of
//! its own: the period's figures are the differences between the metrics'
//! counters now and at the last summary. The writer asks for it with each
//! heartbeat ping, so it needs no timer of its own.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::Metrics;
use crate::accounting::Outcome;

/// The counters a summary is made of.
#[derive(Clone, Copy, Default)]
struct Totals {
    /// By outcome, in the order of [`Outcome::ALL`].
    requests: [u64; Outcome::ALL.len()],
    tokens: u64,
    connections: u64,
}

impl Totals {
    fn of(metrics: &Metrics) -> Totals {
        Totals {
            requests: metrics.requests.each_ref().map(|count| count.load(Relaxed)),
            tokens: metrics.tokens.load(Relaxed),
            connections: metrics.hub_connections.load(Relaxed),
        }
    }

    fn since(mut self, earlier: Totals) -> Totals {
        for (now, then) in self.requests.iter_mut().zip(earlier.requests) {
            *now = now.saturating_sub(then);
        }
        self.tokens = self.tokens.saturating_sub(earlier.tokens);
        self.connections = self.connections.saturating_sub(earlier.connections);
        self
    }
}

pub struct Summary {
    interval: Duration,
    /// When the last summary's period ended, and the counters then.
    last: Mutex<(Instant, Totals)>,
}

impl Summary {
    /// A summary of a client whose counters all start at zero now.
    pub fn new(interval: Duration) -> Summary {
        Summary {
            interval,
            last: Mutex::new((Instant::now(), Totals::default())),
        }
    }

    /// The summary line for the period now ending, if one is due and
    /// anything happened in it; the next period starts now.
    fn take_if_due(&self, metrics: &Metrics, now: Instant) -> Option<String> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let period = now.saturating_duration_since(last.0);
        if period < self.interval {
            return None;
        }
        let totals = Totals::of(metrics);
        let figures = totals.since(last.1);
        *last = (now, totals);
        let count = |outcome: Outcome| figures.requests[outcome as usize];
        let requests: u64 = figures.requests.iter().sum();
        if requests == 0 && figures.connections == 0 {
            return None;
        }
        Some(format!(
            "in the last {:.0} s: {requests} requests, {} answered, {} errors, {} busy, \
             {} tokens generated, {} hub connections",
            period.as_secs_f64(),
            count(Outcome::Ok),
            count(Outcome::Error) + count(Outcome::Shutdown),
            count(Outcome::Busy),
            figures.tokens,
            figures.connections,
        ))
    }

    /// Logs the summary when one is due.
    pub fn log_if_due(&self, metrics: &Metrics) {
        if let Some(line) = self.take_if_due(metrics, Instant::now()) {
            log::info!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounting::{Accounts, HubEvent};
    use crate::metrics::tests::record;

    #[test]
    fn a_summary_is_due_once_per_interval_and_only_if_anything_happened() {
        let metrics = Metrics::new();
        let summary = Summary::new(Duration::from_secs(3600));
        let start = summary.last.lock().unwrap().0;
        let later = |s| start + Duration::from_secs(s);
        let answered = |outcome, tokens| {
            let record = crate::accounting::AnswerRecord {
                tokens,
                ..record(outcome, None)
            };
            metrics.answered(&record);
        };
        assert_eq!(
            summary.take_if_due(&metrics, later(4000)),
            None,
            "nothing happened"
        );
        metrics.hub(&HubEvent::Connected);
        answered(Outcome::Ok, Some(7));
        answered(Outcome::Ok, Some(3));
        answered(Outcome::Error, None);
        answered(Outcome::Shutdown, None);
        answered(Outcome::Busy, None);
        metrics.hub(&HubEvent::Disconnected("x".into()));
        assert_eq!(
            summary.take_if_due(&metrics, later(5000)),
            None,
            "not an hour since the last"
        );
        assert_eq!(
            summary.take_if_due(&metrics, later(4000 + 3600)).as_deref(),
            Some(
                "in the last 3600 s: 5 requests, 2 answered, 2 errors, 1 busy, \
                 10 tokens generated, 1 hub connections"
            )
        );
        answered(Outcome::Ok, None);
        assert_eq!(
            summary.take_if_due(&metrics, later(4000 + 3600 + 3599)),
            None
        );
        let next = summary.take_if_due(&metrics, later(4000 + 7200)).unwrap();
        assert!(
            next.starts_with("in the last 3600 s: 1 requests, 1 answered"),
            "{next}"
        );
    }
}
