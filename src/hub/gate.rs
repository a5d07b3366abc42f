//! What the connection loop asks before it connects: whether the box may
//! take buyers now ([`Gate`]), and what it tells about itself for
//! `--status` ([`Connection`]). `availability` implements the gate (the
//! owner's pause, Ollama's health); the hub knows neither.

use std::time::{Duration, SystemTime};

/// Where the connection loop is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connection {
    /// A connection attempt is under way.
    Connecting,
    /// Connected since then.
    Connected(SystemTime),
    /// The last attempt failed or the connection was lost; the next attempt
    /// is then.
    Retrying(SystemTime),
    /// Stepped back (paused, Ollama down), or waiting for Ollama at start:
    /// no connection until the gate opens.
    Away,
}

/// The connection loop's way to the hub.
pub trait Gate: Send + Sync {
    /// Returns once the box may take buyers: at once when it may, else
    /// when the owner resumes or Ollama answers again. True when it had to
    /// wait (a connection after a wait starts with no backoff).
    fn wait_open(&self) -> bool;
    /// Why the box is not taking buyers now; `None` while it is. Said in
    /// the log and the ledger when a connection ends because of it.
    fn closed_because(&self) -> Option<String>;
    /// Where the loop is now, for `--status`.
    fn connection(&self, now: Connection);
    /// Waits out a reconnect delay, or less when the gate changes (a pause
    /// must not wait for the backoff to end).
    fn sleep(&self, delay: Duration);
}
