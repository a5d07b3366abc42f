//! Keeping the hub connection up, forever: wait at the [`Gate`] until the
//! box may take buyers, connect, serve until the connection ends, wait out
//! the backoff delay, connect again, until the process is stopping
//! ([`LoopState`]). Each new connection is handed to the writer. A
//! connection that ends because the box stepped back (the gate closed) is
//! followed by no backoff: the loop waits at the gate instead, and
//! connects the moment it opens.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::gate::{Connection, Gate};
use super::inbox::WriterSender;
use super::loop_state::LoopState;
use super::session::{self, ConnectError, Requests, SessionConfig};
use super::writer::ToWriter;
use tungstenite::protocol::frame::coding::CloseCode;

use crate::accounting::{HubEvent, Sinks};

/// When to try again after a failed or lost connection.
pub struct Backoff {
    base: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Backoff {
        Backoff {
            base,
            max,
            failures: 0,
        }
    }

    /// The next delay: base, 2 x base, ... up to max, plus 0-20 % jitter so
    /// that many boxes cut off together do not come back in one wave. A
    /// rejected token always waits the maximum.
    pub fn next_delay(&mut self, token_rejected: bool) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let plain = if token_rejected {
            self.max
        } else {
            self.base.saturating_mul(self.failures).min(self.max)
        };
        plain + plain.mul_f64(random_fraction() * 0.2)
    }

    /// A connection stayed up long enough: start again from `base`.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

/// A number in [0, 1) from the standard library's per-process random keys,
/// good enough for jitter and no extra crate.
fn random_fraction() -> f64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(Instant::now().elapsed().as_nanos());
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Keeps the hub connection up: connect, serve, back off, repeat.
pub struct Supervisor {
    pub config: SessionConfig,
    pub backoff: Backoff,
    /// How long a connection must last for the backoff to start over.
    pub stable_after: Duration,
    /// Where the connection's life is recorded (the ledger, the metrics).
    pub sinks: Sinks,
    /// Whether the box may take buyers now.
    pub gate: Arc<dyn Gate>,
}

impl Supervisor {
    /// Runs until the process is stopping.
    pub fn run(mut self, requests: &dyn Requests, to_writer: &WriterSender, state: &LoopState) {
        let mut connection_id = 0u64;
        while !state.is_stopping() {
            if self.gate.wait_open() {
                // Away by choice, not by failure: start the delays over.
                self.backoff.reset();
            }
            connection_id += 1;
            let token_rejected = self.connect_and_serve(connection_id, requests, to_writer, state);
            if state.is_stopping() {
                return;
            }
            if self.gate.closed_because().is_some() {
                self.gate.connection(Connection::Away);
                continue;
            }
            let delay = self.backoff.next_delay(token_rejected);
            log::info!("reconnecting in {:.2} s", delay.as_secs_f64());
            self.gate
                .connection(Connection::Retrying(SystemTime::now() + delay));
            self.gate.sleep(delay);
        }
    }

    /// One connection from connect to its end; true if the hub rejected
    /// the token.
    fn connect_and_serve(
        &mut self,
        id: u64,
        requests: &dyn Requests,
        to_writer: &WriterSender,
        state: &LoopState,
    ) -> bool {
        match &self.config.proxy {
            Some(proxy) => log::info!(
                "connecting to {} through the proxy {proxy} (connection #{id})",
                self.config.endpoint
            ),
            None => log::info!("connecting to {} (connection #{id})", self.config.endpoint),
        }
        state.set_connecting(true);
        self.gate.connection(Connection::Connecting);
        let session = match session::connect(&self.config, id) {
            Ok(session) => session,
            Err(error) => {
                state.set_connecting(false);
                // A finishing writer may be waiting for this attempt.
                let _ = to_writer.send(ToWriter::AttemptFailed);
                let rejected = matches!(error, ConnectError::TokenRejected(_));
                match rejected {
                    true => log::error!("{error}"),
                    false => log::warn!("cannot connect to the hub: {error}"),
                }
                return rejected;
            }
        };
        // Recorded first: once the log says so, the ledger and `/readyz` do.
        self.sinks.hub(&HubEvent::Connected);
        log::info!("connected to the hub (connection #{id})");
        let link = Arc::clone(&session.link);
        // Replies waiting in the link for room in the socket: the writer
        // sends them.
        let unsent = || {
            let _ = to_writer.send(ToWriter::Unsent);
        };
        let handed_over = to_writer.send(ToWriter::Link(Arc::clone(&link))).is_ok();
        // Only now: the writer sees the link before it sees "not connecting".
        state.set_connecting(false);
        if !handed_over {
            return false;
        }
        self.gate
            .connection(Connection::Connected(SystemTime::now()));
        if let Some(why) = self.gate.closed_because() {
            // The box stepped back while this connection was being made:
            // the writer's Close may have found no link to close.
            log::info!("closing hub connection #{id} at once: {why}");
            // Queued; it leaves with the writer's next write, or with the
            // reader's replies to the hub.
            let _ = link.close(CloseCode::Normal, "owner's box is stepping back");
            unsent();
        }
        let since = Instant::now();
        let end = session.serve(requests, &unsent);
        link.shut();
        let stepped_back = self.gate.closed_because();
        // A stop records the connection's end itself, in order.
        if !state.is_stopping() {
            let reason = stepped_back.clone().unwrap_or_else(|| end.to_string());
            self.sinks.hub(&HubEvent::Disconnected(reason));
        }
        match stepped_back {
            _ if state.is_stopping() => log::info!("hub connection #{id} closed: {end}"),
            Some(why) => log::info!("hub connection #{id} closed: {why}"),
            None => log::warn!("hub connection #{id} ended: {end}"),
        }
        if since.elapsed() >= self.stable_after {
            self.backoff.reset();
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_by_base_up_to_max_with_jitter() {
        let mut backoff = Backoff::new(Duration::from_secs(5), Duration::from_secs(60));
        for attempt in 1..=15u32 {
            let plain = Duration::from_secs((5 * attempt as u64).min(60));
            let delay = backoff.next_delay(false);
            assert!(
                delay >= plain && delay <= plain.mul_f64(1.2),
                "{attempt}: {delay:?}"
            );
        }
        backoff.reset();
        assert!(backoff.next_delay(false) < Duration::from_secs(7));
        assert!(backoff.next_delay(true) >= Duration::from_secs(60));
    }
}
