//! The way in: the count of requests accepted and not yet answered, and
//! whether new ones are let in. The dispatcher admits through it, workers
//! end through it, shutdown stops it and waits on it, and `availability`
//! closes it while the box steps back (the owner paused it, no Ollama can
//! serve). Closing sends the hub a Close 1000 once the last accepted
//! answer is out (see [`Admission`]).

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::hub::{ToWriter, WriterSender};
use crate::ollama::ErrorKind;
use crate::text::{errors, Text};

/// Why new requests are turned away while the box steps back (the owner
/// paused it, Ollama is down): the buyer's text and the ledger's kind.
#[derive(Clone)]
pub struct Refusal {
    pub reason: Text,
    pub kind: &'static str,
    /// Whether requests already queued get it too instead of running (no
    /// use asking an Ollama that is down); a pause lets them run.
    pub queued_too: bool,
}

impl Refusal {
    /// What requests get while no backend can serve, queued ones too: the
    /// model `model` is missing (on every backend: `model_missing`), or
    /// else Ollama cannot be reached.
    pub fn none_serves(model_missing: bool, model: &str) -> Refusal {
        let (reason, kind) = match model_missing {
            true => (errors::buyer_model_missing(model), ErrorKind::ModelMissing),
            false => (errors::buyer_ollama_unreachable(), ErrorKind::Unreachable),
        };
        Refusal {
            reason,
            kind: kind.as_str(),
            queued_too: true,
        }
    }
}

/// The way in, shared by the dispatcher, the workers, shutdown and
/// `availability`: it counts the requests accepted and not yet answered,
/// and turns new ones away on shutdown or while the box steps back. Going
/// offline (`close`) sends the hub a Close 1000 through the writer once the
/// last accepted answer's frames are out: the worker that ends it sends
/// the Close right after them, on the same channel, so it cannot overtake
/// them.
pub struct Admission {
    counts: Mutex<Counts>,
    idle: Condvar,
    pub(super) to_writer: WriterSender,
}

/// Checked and changed under one lock, so that a request is either counted
/// before the stop (and waited for) or refused after it: none slips between.
#[derive(Default)]
pub(super) struct Counts {
    pub(super) stopping: bool,
    /// Requests accepted (queued or running) and not yet answered.
    pub(super) active: usize,
    /// Set while the box steps back.
    refusal: Option<Refusal>,
    /// The Close reason to send the hub when `active` reaches zero.
    close_when_idle: Option<&'static str>,
}

/// Why a request was not let in.
pub(super) enum TurnedAway {
    Stopping,
    Refused(Refusal),
}

impl Admission {
    pub fn new(to_writer: WriterSender) -> Arc<Admission> {
        Arc::new(Admission {
            counts: Mutex::default(),
            idle: Condvar::new(),
            to_writer,
        })
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Counts> {
        // The counts stay consistent whatever a panicking holder did.
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a new request, or says why it is turned away.
    pub(super) fn admit(&self) -> Result<(), TurnedAway> {
        let mut counts = self.lock();
        if counts.stopping {
            return Err(TurnedAway::Stopping);
        }
        if let Some(refusal) = &counts.refusal {
            return Err(TurnedAway::Refused(refusal.clone()));
        }
        counts.active += 1;
        Ok(())
    }

    /// Steps back: new requests get `refusal`, and the hub gets a Close
    /// 1000 (`hub_reason`) once the accepted ones are answered.
    pub fn close(&self, refusal: Refusal, hub_reason: &'static str) {
        let mut counts = self.lock();
        counts.refusal = Some(refusal);
        counts.close_when_idle = Some(hub_reason);
        self.when_idle(&mut counts);
    }

    /// Takes requests again on the connection that is draining: the
    /// owner resumed before the last accepted answer ended, so the Close
    /// still waiting for it is cancelled and the connection stays. False
    /// when no Close is waiting (it went out already, or nothing closed the
    /// admission): the admission stays as it is, and the gate opens it before the
    /// next connection.
    pub fn reopen_draining(&self) -> bool {
        let mut counts = self.lock();
        if counts.close_when_idle.take().is_none() {
            return false;
        }
        counts.refusal = None;
        true
    }

    /// Takes requests again.
    pub fn open(&self) {
        let mut counts = self.lock();
        counts.refusal = None;
        counts.close_when_idle = None;
    }

    /// What a queued request gets instead of running, while the box steps
    /// back for a reason that fails it anyway.
    pub(super) fn refusal_for_queued(&self) -> Option<Refusal> {
        self.lock().refusal.clone().filter(|r| r.queued_too)
    }

    pub(super) fn stop(&self) {
        self.lock().stopping = true;
    }

    pub(super) fn end(&self) {
        let mut counts = self.lock();
        counts.active = counts.active.saturating_sub(1);
        self.when_idle(&mut counts);
    }

    /// Once no request is left: wakes a waiting shutdown, and sends the
    /// hub the Close waiting for that.
    fn when_idle(&self, counts: &mut Counts) {
        if counts.active == 0 {
            self.idle.notify_all();
            if let Some(reason) = counts.close_when_idle.take() {
                let _ = self.to_writer.send(ToWriter::Close(reason));
            }
        }
    }

    /// Waits until no request is active; false at the timeout.
    pub(super) fn wait_idle(&self, timeout: Duration) -> bool {
        let counts = self.lock();
        let result = self
            .idle
            .wait_timeout_while(counts, timeout, |c| c.active > 0);
        let (counts, _) = result.unwrap_or_else(|p| p.into_inner());
        counts.active == 0
    }
}

/// The dispatcher's and the workers' steps, for the tests of the modules
/// that close and open the admission (`availability`).
#[cfg(test)]
impl Admission {
    pub(crate) fn admit_one(&self) -> bool {
        self.admit().is_ok()
    }

    pub(crate) fn end_one(&self) {
        self.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::closes_sent as closes;
    use crate::relay::tests::paused;

    #[test]
    fn reopening_while_draining_cancels_the_close_and_lets_requests_in() {
        let (to_writer, inbox) = crate::hub::writer_channel();
        let admission = Admission::new(to_writer);
        assert!(!admission.reopen_draining(), "nothing was closed");
        assert!(admission.admit_one());
        admission.close(paused(), "owner paused");
        assert!(!admission.admit_one());
        assert!(admission.reopen_draining());
        assert!(admission.admit_one(), "open again");
        admission.end_one();
        admission.end_one();
        assert_eq!(
            closes(&inbox),
            Vec::<&str>::new(),
            "the Close was cancelled"
        );
    }

    #[test]
    fn a_close_that_went_out_is_not_undone() {
        let (to_writer, inbox) = crate::hub::writer_channel();
        let admission = Admission::new(to_writer);
        admission.close(paused(), "owner paused");
        assert_eq!(closes(&inbox), ["owner paused"]);
        assert!(!admission.reopen_draining());
        assert!(
            !admission.admit_one(),
            "the connection is ending: still closed"
        );
    }
}
