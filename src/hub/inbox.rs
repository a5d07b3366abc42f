//! The writer's inbox: what the writer thread is told ([`ToWriter`]), on a
//! channel on which answer frames count against a byte budget, so that
//! what waits for the writer is bounded too (the outbox bounds what waits
//! for the hub).
//!
//! A sender adds a frame's size to the budget's count and sends it; the
//! writer takes the size off when it receives the frame. Both are one
//! atomic operation, no lock and no system call, as long as the count
//! stays under [`BUDGET`]. Past it (the writer is behind: a hub that stops
//! reading, while Ollama generates faster than frames move), the sender
//! waits until the writer has taken enough, at most [`LONGEST_WAIT`] a
//! frame: a worker then reads Ollama's stream no faster than the writer
//! moves frames into its bounded outbox, and no thread can be held for
//! long (the reader thread answers a few requests itself). Other messages
//! (a link, a close, a finish) carry no size and never wait.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::TryRecvError;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SendError, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::link::Link;
use super::loop_state::LoopState;
use super::outbox::{frame_cost, Outgoing};

/// The bytes of answer frames that may wait for the writer before their
/// senders wait: a few hundred pieces' worth.
pub const BUDGET: usize = 256 * 1024;

/// The longest a sender waits for the writer, per frame.
pub const LONGEST_WAIT: Duration = Duration::from_millis(100);

/// A channel to the writer with [`BUDGET`].
pub fn channel() -> (WriterSender, Inbox) {
    with_budget(BUDGET)
}

/// A channel to the writer whose frames may hold `bytes` before senders
/// wait.
pub fn with_budget(bytes: usize) -> (WriterSender, Inbox) {
    let (tx, rx) = mpsc::channel();
    let budget = Arc::new(Budget {
        limit: bytes,
        ..Budget::default()
    });
    let sender = WriterSender {
        tx,
        budget: Arc::clone(&budget),
    };
    (sender, Inbox { rx, budget })
}

/// What the writer thread is told.
pub enum ToWriter {
    /// From the workers and the dispatcher.
    Frame(Outgoing),
    /// From the connection loop: the connection to write to from now on.
    Link(Arc<Link>),
    /// From the reader: its replies (a pong, a Close) wait in the link
    /// for room in the socket.
    Unsent,
    /// From the connection loop: an attempt failed. A finish that waited
    /// for that attempt (test mode) stops waiting.
    AttemptFailed,
    /// From the relay's admission when the box steps back (paused, Ollama
    /// down): send what is queued, then close the connection with 1000 and
    /// this reason; frames that come later wait for the next connection.
    Close(&'static str),
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
    pub state: LoopState,
    /// Whether undelivered frames may wait for a reconnect until the
    /// deadline. Test mode waits only for an attempt already under way: a
    /// person waits at the terminal, and a hub that failed is backing off.
    pub wait_for_reconnect: bool,
}

/// The count of frame bytes sent and not yet received.
#[derive(Default)]
struct Budget {
    queued: AtomicUsize,
    limit: usize,
    /// Only for waiting: held by a sender over the budget while it looks,
    /// and by the writer when it makes room for one.
    lock: Mutex<()>,
    room: Condvar,
}

impl Budget {
    fn wait_for_room(&self) {
        let guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let over = |_: &mut ()| self.queued.load(Ordering::SeqCst) > self.limit;
        drop(self.room.wait_timeout_while(guard, LONGEST_WAIT, over));
    }
}

/// The sending side, for the workers, the dispatcher, the admission, the
/// connection loop and the shutdown.
#[derive(Clone)]
pub struct WriterSender {
    tx: Sender<ToWriter>,
    budget: Arc<Budget>,
}

impl WriterSender {
    /// Sends `message`; an answer frame over the budget then waits for
    /// room (see the module's comment). Fails only when the writer is gone.
    pub fn send(&self, message: ToWriter) -> Result<(), SendError<ToWriter>> {
        let cost = cost_of(&message);
        if cost == 0 {
            return self.tx.send(message);
        }
        let queued = self.budget.queued.fetch_add(cost, Ordering::SeqCst) + cost;
        if let Err(unsent) = self.tx.send(message) {
            self.budget.queued.fetch_sub(cost, Ordering::SeqCst);
            return Err(unsent);
        }
        if queued > self.budget.limit {
            self.budget.wait_for_room();
        }
        Ok(())
    }
}

/// The writer's receiving side: every message received gives its frame's
/// bytes back to the budget.
pub struct Inbox {
    rx: Receiver<ToWriter>,
    budget: Arc<Budget>,
}

impl Inbox {
    /// The next message; waits until `until` at the latest, or for good
    /// without it.
    pub fn recv_until(&self, until: Option<Instant>) -> Result<ToWriter, RecvTimeoutError> {
        let received = match until.map(|at| at.saturating_duration_since(Instant::now())) {
            Some(timeout) => self.rx.recv_timeout(timeout),
            None => self.rx.recv().map_err(RecvTimeoutError::from),
        };
        received.map(|message| self.taken(message))
    }

    pub fn try_recv(&self) -> Result<ToWriter, TryRecvError> {
        self.rx.try_recv().map(|message| self.taken(message))
    }

    /// The messages waiting now.
    #[cfg(test)]
    pub fn try_iter(&self) -> impl Iterator<Item = ToWriter> + '_ {
        std::iter::from_fn(|| self.try_recv().ok())
    }

    fn taken(&self, message: ToWriter) -> ToWriter {
        let cost = cost_of(&message);
        if cost > 0 {
            let before = self.budget.queued.fetch_sub(cost, Ordering::SeqCst);
            if before > self.budget.limit {
                // Someone may wait for room: wake them under the lock they
                // look under, so that none misses it.
                let _guard = self.budget.lock.lock().unwrap_or_else(|e| e.into_inner());
                self.budget.room.notify_all();
            }
        }
        message
    }
}

fn cost_of(message: &ToWriter) -> usize {
    match message {
        ToWriter::Frame(frame) => frame_cost(frame),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::Outgoing;
    use crate::protocol::{FrameKind, MessageId};
    use std::thread;
    use std::time::Instant;

    fn frame(bytes: usize) -> ToWriter {
        ToWriter::Frame(Outgoing {
            request: 1,
            message_id: MessageId::from_raw("7").unwrap(),
            kind: FrameKind::Piece,
            content: "x".repeat(bytes),
        })
    }

    #[test]
    fn frames_within_the_budget_never_wait_and_are_counted_until_received() {
        let (sender, inbox) = with_budget(10_000);
        for _ in 0..10 {
            sender.send(frame(900)).unwrap();
        }
        assert_eq!(inbox.budget.queued.load(Ordering::SeqCst), 10 * 996);
        assert_eq!(inbox.try_iter().count(), 10);
        assert_eq!(inbox.budget.queued.load(Ordering::SeqCst), 0);
        // Messages without a frame cost nothing.
        sender.send(ToWriter::Unsent).unwrap();
        assert_eq!(inbox.budget.queued.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_sender_over_the_budget_waits_for_the_writer_to_take_frames() {
        let (sender, inbox) = with_budget(1_000);
        sender.send(frame(800)).unwrap();
        let (sent, over) = mpsc::channel();
        let waiting = thread::spawn(move || {
            // Over the budget: waits until the writer has taken enough.
            sender.send(frame(800)).unwrap();
            sent.send(Instant::now()).unwrap();
        });
        // Not back yet: the writer has taken nothing.
        assert!(over.recv_timeout(LONGEST_WAIT / 4).is_err());
        let took = Instant::now();
        assert!(matches!(inbox.recv_until(None), Ok(ToWriter::Frame(_))));
        assert!(matches!(inbox.recv_until(None), Ok(ToWriter::Frame(_))));
        let back = over.recv_timeout(Duration::from_secs(10)).unwrap();
        waiting.join().unwrap();
        assert!(back >= took);
        assert_eq!(inbox.budget.queued.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_writer_that_takes_nothing_holds_a_sender_only_for_the_longest_wait() {
        let (sender, inbox) = with_budget(100);
        sender.send(frame(800)).unwrap();
        sender.send(frame(800)).unwrap();
        assert_eq!(inbox.try_iter().count(), 2);
        // The writer gone: nothing waits, the send fails.
        drop(inbox);
        assert!(sender.send(frame(800)).is_err());
    }
}
