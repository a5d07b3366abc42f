//! Live figures of the running client for Prometheus, and its health, on a
//! loopback HTTP port (`metrics_listen`): `/metrics`, `/healthz`, `/readyz`.
//!
//! Owns [`Metrics`], the figures themselves: plain atomics, so that the
//! threads that count (the relay's workers per piece and per request, the
//! dispatcher, the writer, the connection loop) never take a lock or make a
//! system call for it, and never wait for a scrape. Data flows one way:
//!
//! - the per-piece path calls [`Metrics::piece_sent`] (one relaxed add);
//! - gauges are set where they change ([`Metrics::request_started`],
//!   [`Metrics::queue_depth_add`], [`Metrics::set_outbox_bytes`], ...);
//! - every finished answer and every hub connection reaches
//!   [`Metrics`] through [`Accounts`](crate::accounting::Accounts) (`accounting::Sinks`), once per
//!   answer: outcome counts, tokens, the two latency histograms, and the
//!   same counts for the backend the answer's record names (the names
//!   are given once at start, [`Metrics::for_backends`]);
//! - whether the hub is connected, the box paused, each backend and
//!   Ollama as a whole up, and whether it is ready (`/readyz`) are not
//!   kept here: `availability` decides them (the same rule `--status`
//!   shows), and the metrics port asks it for a [`Health`] on each scrape
//!   and each `/readyz`; this module counts, it does not decide;
//! - the `metrics` thread ([`server`]) reads the atomics on each scrape and
//!   renders them ([`prometheus`]); it never touches the others' threads;
//! - [`Summary`] turns the counters' growth into the hourly log line.
//!
//! A scrape reads each atomic on its own (relaxed): figures that change
//! together (a histogram's count and its sum) may be one answer apart,
//! which Prometheus tolerates; every counter only grows.

mod counters;
mod health;
mod prometheus;
mod server;
mod summary;

pub use counters::{BackendFigures, Histogram, Metrics, BUCKETS_MS};
pub use health::{Health, HealthView, AWAY_REASONS};
pub use server::{bind, start};
pub use summary::Summary;

#[cfg(test)]
pub(crate) use counters::tests;
