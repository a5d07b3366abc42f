//! The writer thread: the only sender of answer frames, and the heartbeat.
//!
//! Workers and the dispatcher send [`Outgoing`] frames over a channel; the
//! connection loop sends each new [`Link`]. These message types live here,
//! with their only reader. Frames wait in the [`Outbox`] until a
//! link takes them, so a generation that outlives its connection is
//! delivered, in order, after the reconnect. When the socket is behind,
//! consecutive pieces of one answer are merged into one frame (the protocol
//! allows it); pieces are never reordered.
//!
//! While connected, the thread wakes for a frame or at the next ping time;
//! while disconnected, only for a frame or a new link.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tungstenite::protocol::frame::coding::CloseCode;

use super::link::Link;
use super::outbox::Outbox;
pub use super::outbox::Outgoing;
use super::stopping::Stopping;

/// What the writer thread is told.
pub enum ToWriter {
    /// From the workers and the dispatcher.
    Frame(Outgoing),
    /// From the connection loop: the connection to write to from now on.
    Link(Arc<Link>),
    /// From shutdown: send what is queued, close the connection with 1001,
    /// then report on the channel and stop.
    Finish(Finish),
}

/// A request to the writer to deliver what it holds and stop.
pub struct Finish {
    /// Answered once the writer has stopped.
    pub done: Sender<()>,
    /// Frames still undelivered then (hub unreachable) are given up.
    pub deadline: Instant,
    /// Set just before the Close goes out, so that the connection loop does
    /// not reconnect after it; until then it does, to deliver the rest.
    pub stopping: Stopping,
}

pub struct Writer {
    inbox: Receiver<ToWriter>,
    outbox: Outbox,
    link: Option<Arc<Link>>,
    ping_interval: Duration,
    next_ping: Instant,
    /// Set by a finish request: the writer ends once the outbox is empty
    /// or the request's deadline has passed.
    finishing: Option<Finish>,
}

impl Writer {
    pub fn new(inbox: Receiver<ToWriter>, outbox_bytes: usize, ping_interval: Duration) -> Writer {
        Writer {
            inbox,
            outbox: Outbox::new(outbox_bytes),
            link: None,
            ping_interval,
            next_ping: Instant::now() + ping_interval,
            finishing: None,
        }
    }

    /// Runs until a finish request is done (or every sender is gone).
    pub fn run(mut self) {
        loop {
            match self.next_event() {
                Ok(event) => {
                    self.take(event);
                    // Everything already queued joins this batch, so that a
                    // socket that fell behind catches up with merged frames.
                    while let Ok(event) = self.inbox.try_recv() {
                        self.take(event);
                    }
                    self.flush();
                }
                Err(RecvTimeoutError::Timeout) => {
                    if Instant::now() >= self.next_ping {
                        self.ping();
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.flush();
                    self.close();
                    return;
                }
            }
            if let Some(finish) = self.finishing.take() {
                if !self.outbox.is_empty() && Instant::now() < finish.deadline {
                    self.finishing = Some(finish);
                    continue;
                }
                finish.stopping.set();
                self.close();
                let _ = finish.done.send(());
                return;
            }
        }
    }

    /// Waits for the next event: without a timeout while idle and
    /// disconnected, else until the next ping or the finish deadline.
    fn next_event(&self) -> Result<ToWriter, RecvTimeoutError> {
        let ping = self.link.as_ref().map(|_| self.next_ping);
        let deadline = self.finishing.as_ref().map(|f| f.deadline);
        match ping.into_iter().chain(deadline).min() {
            Some(at) => self
                .inbox
                .recv_timeout(at.saturating_duration_since(Instant::now())),
            None => self
                .inbox
                .recv()
                .map_err(|_| RecvTimeoutError::Disconnected),
        }
    }

    fn take(&mut self, event: ToWriter) {
        match event {
            ToWriter::Frame(frame) => self.outbox.push(frame),
            ToWriter::Link(link) => {
                log::debug!("writer: using connection #{}", link.id);
                self.link = Some(link);
                self.next_ping = Instant::now() + self.ping_interval;
            }
            ToWriter::Finish(finish) => self.finishing = Some(finish),
        }
    }

    /// The end: close the connection with 1001 (going away) after the last
    /// frame, and say what could not be delivered.
    fn close(&mut self) {
        if !self.outbox.is_empty() {
            log::warn!(
                "shutting down with {} frame(s) the hub could not take",
                self.outbox.len()
            );
        }
        if let Some(link) = self.link.take() {
            if let Err(e) = link.close(CloseCode::Away, "owner client shutting down") {
                log::debug!("closing the hub connection: {e}");
            }
        }
    }

    /// Sends queued frames while the link takes them.
    fn flush(&mut self) {
        while !self.outbox.is_empty() {
            let Some(link) = &self.link else { return };
            let (texts, counts): (Vec<String>, Vec<usize>) =
                self.outbox.next_batch(64).into_iter().unzip();
            let (sent, error) = link.send_texts(texts);
            let covered: usize = counts[..sent].iter().sum();
            self.outbox.pop(covered);
            if let Some(error) = error {
                self.drop_link(&error);
                return;
            }
        }
    }

    fn ping(&mut self) {
        self.next_ping = Instant::now() + self.ping_interval;
        if let Some(link) = &self.link {
            if let Err(error) = link.ping() {
                self.drop_link(&error);
            }
        }
    }

    /// A failed write ends the connection; the session notices, reconnects
    /// and hands over a new link. Unsent frames stay in the outbox.
    fn drop_link(&mut self, error: &tungstenite::Error) {
        if let Some(link) = self.link.take() {
            log::warn!(
                "writing to the hub failed on connection #{}: {error}",
                link.id
            );
            link.shut();
        }
    }
}
