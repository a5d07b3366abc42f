//! Where an accepted request runs: the one waiting line (`queue_size`)
//! and each backend's slots (its `max_parallel` workers).
//!
//! [`Pool::submit`] sends a request straight to the workers of the backend
//! [`choose`] picks: one that can serve, with a free slot, the fewest
//! requests running (ties: the lowest recent time to first piece, then the
//! listed order). When every backend that can serve is full it waits in
//! line; when the line is full too the buyer gets `Error: busy`. A slot
//! that frees ([`Pool::finished`]) or a backend that comes back (the pool
//! watches the `Backends`) takes the first waiting request it may run, so
//! the line is first come, first served; but a slot that no waiting
//! request may use (they are retries that keep off that backend) goes to
//! a new request at once, rather than stay idle behind them.
//!
//! A request that failed on one backend before its buyer saw any text is
//! handed back once ([`Pool::retry`]) and goes to another backend that can
//! serve, first in line when all are full; with no other backend left, or
//! when the other ones go down while it waits, its buyer gets the first
//! error after all. When no backend can serve at all, waiting requests get
//! that reason at once rather than wait for a backend that may not come
//! back (the box then steps back from the hub, in `availability`).
//!
//! Each backend's workers read their own channel; the pool keeps the
//! count of what runs where under its lock, taken once when a request is
//! placed and once when it ends, never per piece. A request that does not
//! run (refused, or left with nowhere to go) is answered through
//! [`Pool::answer_error`]: the pool holds the admission's writer and the recorder.

use std::collections::VecDeque;
use std::sync::mpsc::{SendError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};

use super::answer::{send_error, Failure, Progress};
use super::{Admission, Echo, End, Job, Recorder, Refusal};
use crate::backends::{Backend, Backends, Watcher};
use crate::text::Text;

/// A request given to a backend's workers.
pub struct Assigned {
    pub job: Job,
    pub backend: usize,
}

/// Why a request could not be placed.
pub enum Unplaced {
    /// Every backend and the line are full.
    Full(Job),
    /// No backend can serve.
    NoBackend(Job),
}

/// A backend as the choice sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    pub can_serve: bool,
    pub running: usize,
    pub max_parallel: usize,
    /// The recent time to first piece in microseconds; 0 when unknown
    /// (tried first among equals, so that it gets known).
    pub first_piece_us: u64,
}

/// The backend for a request: one that can serve and has a free slot,
/// with the fewest running, then the lowest time to first piece, then
/// the first listed; never `avoid`.
pub fn choose(candidates: &[Candidate], avoid: Option<usize>) -> Option<usize> {
    let free = |(i, c): &(usize, &Candidate)| {
        Some(*i) != avoid && c.can_serve && c.running < c.max_parallel
    };
    let best = candidates.iter().enumerate().filter(free);
    best.min_by_key(|(i, c)| (c.running, c.first_piece_us, *i))
        .map(|(i, _)| i)
}

/// Whether a backend other than `avoid` can serve, free or not.
fn any_can_serve(candidates: &[Candidate], avoid: Option<usize>) -> bool {
    let mut others = candidates.iter().enumerate();
    others.any(|(i, c)| Some(i) != avoid && c.can_serve)
}

/// The waiting line. Its lock is also the one under which the backends'
/// running counts change, so that a choice sees them all as one.
type Line = VecDeque<Job>;

pub struct Pool {
    line: Mutex<Line>,
    pub(super) backends: Arc<Backends>,
    /// Each backend's workers' channel.
    slots: Vec<Sender<Assigned>>,
    queue_size: usize,
    pub(super) admission: Arc<Admission>,
    pub(super) recorder: Recorder,
}

impl Pool {
    pub fn new(
        backends: Arc<Backends>,
        slots: Vec<Sender<Assigned>>,
        queue_size: usize,
        admission: Arc<Admission>,
        recorder: Recorder,
    ) -> Arc<Pool> {
        let pool = Arc::new(Pool {
            line: Mutex::new(Line::new()),
            backends: Arc::clone(&backends),
            slots,
            queue_size,
            admission,
            recorder,
        });
        backends.watch(&pool);
        pool
    }

    fn lock(&self) -> MutexGuard<'_, Line> {
        self.line.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The backends as the choice sees them; called under the line's lock.
    fn candidates(&self) -> Vec<Candidate> {
        let candidate = |backend: &Backend| Candidate {
            can_serve: backend.can_serve(),
            running: backend.running(),
            max_parallel: backend.max_parallel,
            first_piece_us: backend.first_piece_us(),
        };
        self.backends.list().iter().map(candidate).collect()
    }

    /// Sends a request to backend `index`'s workers, counting it there;
    /// called under the line's lock.
    fn start(&self, index: usize, job: Job) {
        if let Some(backend) = self.backends.list().get(index) {
            backend.started_one();
        }
        // The workers live as long as the process; a send fails only when
        // the one of that backend could not start, and then nothing runs.
        let assigned = Assigned {
            job,
            backend: index,
        };
        if let Err(SendError(lost)) = self.slots[index].send(assigned) {
            let id = lost.job.message_id.shown();
            log::error!("request {id} lost: no worker for backend {index}");
        }
    }

    /// Places a new request: on a backend now, in line, or not at all.
    pub fn submit(&self, job: Job) -> Result<(), Unplaced> {
        let mut line = self.lock();
        if !any_can_serve(&self.candidates(), None) {
            return Err(Unplaced::NoBackend(job));
        }
        // Those in line first: a free slot one of them may use goes to it.
        // (They took theirs when it freed; this covers a backend that
        // came back a moment before the pool was told.)
        let stranded = self.place_waiting(&mut line);
        let placed = self.place_new(&mut line, job);
        drop(line);
        self.answer(stranded);
        placed
    }

    /// Places a new request once no waiting one can start: a slot still
    /// free is one no waiting request may use (a retry keeps off the
    /// backend it failed on), so the new one takes it rather than wait
    /// behind them; else it waits at the end of the line.
    fn place_new(&self, line: &mut Line, job: Job) -> Result<(), Unplaced> {
        if let Some(index) = choose(&self.candidates(), None) {
            self.start(index, job);
            return Ok(());
        }
        if line.len() >= self.queue_size {
            return Err(Unplaced::Full(job));
        }
        line.push_back(job);
        self.recorder.metrics.queue_depth_add(1);
        Ok(())
    }

    /// Hands back a request that failed on `failure.backend` before its
    /// buyer saw anything, to run once more elsewhere; gives it back
    /// (`Some`) when no other backend can serve.
    pub fn retry(&self, mut job: Job, failure: Failure) -> Option<(Job, Failure)> {
        let mut line = self.lock();
        let candidates = self.candidates();
        let avoid = Some(failure.backend);
        if !any_can_serve(&candidates, avoid) {
            return Some((job, failure));
        }
        job.first_failure = Some(Box::new(failure));
        match choose(&candidates, avoid) {
            Some(index) => self.start(index, job),
            None => {
                // It has waited already: first in line.
                line.push_front(job);
                self.recorder.metrics.queue_depth_add(1);
            }
        }
        None
    }

    /// A request on backend `index` ended (answered or handed back): its
    /// slot goes to the first waiting request that may use it.
    pub fn finished(&self, index: usize) {
        let stranded = {
            let mut line = self.lock();
            if let Some(backend) = self.backends.list().get(index) {
                backend.ended_one();
            }
            self.place_waiting(&mut line)
        };
        self.answer(stranded);
    }

    /// Starts every waiting request that has somewhere to go, and takes
    /// out those that have nowhere left (a retry keeps off the backend it
    /// failed on).
    fn place_waiting(&self, line: &mut Line) -> Vec<Job> {
        let mut stranded = Vec::new();
        let mut kept = VecDeque::new();
        while let Some(job) = line.pop_front() {
            let candidates = self.candidates();
            let avoid = job.first_failure.as_ref().map(|f| f.backend);
            match choose(&candidates, avoid) {
                Some(index) => self.start(index, job),
                None if any_can_serve(&candidates, avoid) => {
                    kept.push_back(job);
                    continue;
                }
                None => stranded.push(job),
            }
            self.recorder.metrics.queue_depth_add(-1);
        }
        *line = kept;
        stranded
    }

    /// What a request gets when no backend can serve.
    pub fn why_none_serves(&self) -> Refusal {
        let down = self.backends.why_none_serves();
        Refusal::none_serves(down.is_some_and(|d| d.model_missing), &self.recorder.model)
    }

    /// Answers the requests that have nowhere left to run (outside the
    /// lock): a retry gets its first error, any other the reason no
    /// backend serves; and lets the admission know they ended.
    fn answer(&self, stranded: Vec<Job>) {
        for job in stranded {
            let (reason, end, backend) = match job.first_failure.as_deref() {
                Some(Failure { backend, error }) => {
                    let backend = self.backends.list().get(*backend);
                    (error.for_buyer(), End::of(error), backend)
                }
                None => {
                    let refusal = self.why_none_serves();
                    (refusal.reason, End::error(refusal.kind), None)
                }
            };
            let id = job.message_id.shown();
            log::warn!("request {id} failed: {}", reason.english());
            self.answer_error(&job, reason, end, backend);
            self.admission.end();
        }
    }

    /// Answers `reason` to the buyer of a request that did not run (or
    /// failed on `backend` before its first piece), and to the console in
    /// test mode.
    pub(super) fn answer_error(
        &self,
        job: &Job,
        reason: Text,
        end: End,
        backend: Option<&Backend>,
    ) {
        self.recorder
            .answered(job, end, &Progress::default(), None, backend);
        send_error(&self.admission.to_writer, job, &reason, "");
        if let Some(echo) = &job.echo {
            let _ = echo.send(Echo::Done {
                result: Err(reason),
                pieces: 0,
                elapsed: job.received.elapsed(),
            });
        }
    }
}

/// A backend went down or came up: waiting requests may go there now,
/// or have nowhere left to go.
impl Watcher for Pool {
    fn backends_changed(&self) {
        let stranded = self.place_waiting(&mut self.lock());
        self.answer(stranded);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounting::Sinks;
    use crate::backends::for_tests;
    use crate::hub::ToWriter;
    use crate::metrics::Metrics;
    use crate::ollama::OllamaError;
    use crate::protocol::MessageId;
    use crate::text::Lang;
    use std::sync::mpsc::{self, Receiver};
    use std::time::{Duration, Instant};

    /// A pool over `n` backends of one slot each and a line of `queue`,
    /// with no workers: each backend's channel, and the writer's inbox.
    struct Rig {
        pool: Arc<Pool>,
        backends: Arc<Backends>,
        slots: Vec<Receiver<Assigned>>,
        admission: Arc<Admission>,
        inbox: crate::hub::Inbox,
    }

    fn rig(n: usize, queue: usize) -> Rig {
        let urls: Vec<String> = (0..n).map(|i| format!("http://127.0.0.1:1/{i}")).collect();
        let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
        let backends = for_tests(&urls, 3);
        let (senders, slots): (Vec<_>, Vec<_>) = (0..n).map(|_| mpsc::channel()).unzip();
        let (to_writer, inbox) = crate::hub::writer_channel();
        let admission = Admission::new(to_writer);
        let recorder = Recorder {
            sinks: Sinks::default(),
            metrics: Metrics::new(),
            model: "llama3.2".into(),
        };
        let pool = Pool::new(
            Arc::clone(&backends),
            senders,
            queue,
            Arc::clone(&admission),
            recorder,
        );
        Rig {
            pool,
            backends,
            slots,
            admission,
            inbox,
        }
    }

    fn job(id: u64) -> Job {
        Job {
            request: id,
            message_id: MessageId::from_raw(&id.to_string()).unwrap(),
            prompt: "hi".into(),
            stream: true,
            received: Instant::now(),
            language: Lang::En,
            echo: None,
            first_failure: None,
        }
    }

    /// Which backend each channel got, as (backend, request) pairs.
    fn given(rig: &Rig) -> Vec<(usize, u64)> {
        let mut given = Vec::new();
        for (index, slot) in rig.slots.iter().enumerate() {
            for assigned in slot.try_iter() {
                assert_eq!(assigned.backend, index);
                given.push((index, assigned.job.request));
            }
        }
        given.sort();
        given
    }

    fn unreachable() -> OllamaError {
        OllamaError::refused("http://127.0.0.1:1")
    }

    /// The frames' contents the writer got.
    fn contents(inbox: &crate::hub::Inbox) -> Vec<String> {
        let frames = inbox.try_iter().filter_map(|message| match message {
            ToWriter::Frame(frame) => Some(frame.content),
            _ => None,
        });
        frames.collect()
    }

    #[test]
    fn requests_fill_free_slots_then_the_line_then_are_busy() {
        let rig = rig(2, 1);
        assert!(rig.pool.submit(job(1)).is_ok());
        assert!(rig.pool.submit(job(2)).is_ok());
        assert_eq!(given(&rig), [(0, 1), (1, 2)]);
        assert_eq!(rig.backends.list()[0].running(), 1);
        assert!(rig.pool.submit(job(3)).is_ok(), "in line");
        assert!(matches!(rig.pool.submit(job(4)), Err(Unplaced::Full(j)) if j.request == 4));
        assert_eq!(rig.pool.recorder.metrics.queue_depth(), 1);
        rig.pool.finished(1);
        assert_eq!(
            given(&rig),
            [(1, 3)],
            "the freed slot takes the first in line"
        );
        assert_eq!(rig.pool.recorder.metrics.queue_depth(), 0);
        rig.pool.finished(0);
        assert_eq!(rig.backends.list()[0].running(), 0);
        assert!(given(&rig).is_empty());
    }

    #[test]
    fn a_retry_goes_elsewhere_first_in_line_or_back_when_no_other_can_serve() {
        let rig = rig(2, 4);
        assert!(rig.pool.submit(job(1)).is_ok());
        assert!(rig.pool.submit(job(2)).is_ok());
        assert!(rig.pool.submit(job(3)).is_ok(), "in line");
        given(&rig);
        // 1 failed on backend 0: backend 1 is full, so it waits first in line,
        // ahead of 3, and never takes backend 0's slot.
        let failure = Failure {
            backend: 0,
            error: unreachable(),
        };
        assert!(rig.pool.retry(job(1), failure).is_none());
        rig.pool.finished(0);
        assert_eq!(given(&rig), [(0, 3)], "backend 0 is not for the retry");
        rig.pool.finished(1);
        assert_eq!(given(&rig), [(1, 1)]);
        // With no other backend serving, it comes back.
        rig.backends.attempt_ended(1, Err(&unreachable()));
        let failure = Failure {
            backend: 0,
            error: unreachable(),
        };
        let back = rig.pool.retry(job(5), failure);
        assert!(matches!(back, Some((j, f)) if j.request == 5 && f.backend == 0));
    }

    #[test]
    fn a_new_request_takes_a_free_slot_the_retries_in_line_may_not_use() {
        let rig = rig(2, 1);
        assert!(rig.pool.submit(job(1)).is_ok());
        assert!(rig.pool.submit(job(2)).is_ok());
        assert_eq!(given(&rig), [(0, 1), (1, 2)]);
        // 2 failed on backend 1 in a way that leaves it serving (a cut
        // before the first line): its retry waits for busy backend 0, and
        // backend 1's slot frees.
        let failure = Failure {
            backend: 1,
            error: OllamaError::Truncated(None),
        };
        assert!(rig.pool.retry(job(2), failure).is_none());
        rig.pool.finished(1);
        assert!(given(&rig).is_empty(), "the retry keeps off backend 1");
        // The line (of one) holds the retry: a new request runs on the
        // idle backend rather than wait behind it, or be told busy.
        assert!(rig.pool.submit(job(3)).is_ok());
        assert_eq!(given(&rig), [(1, 3)]);
        assert_eq!(rig.pool.recorder.metrics.queue_depth(), 1);
        // With every slot taken the line is full: busy.
        assert!(matches!(rig.pool.submit(job(4)), Err(Unplaced::Full(_))));
        rig.pool.finished(0);
        assert_eq!(given(&rig), [(0, 2)], "the retry, on backend 0");
        assert_eq!(rig.pool.recorder.metrics.queue_depth(), 0);
    }

    #[test]
    fn a_new_request_never_takes_a_slot_before_one_that_waits_for_it() {
        let rig = rig(2, 2);
        for id in 1..=3 {
            assert!(rig.pool.submit(job(id)).is_ok());
        }
        assert_eq!(given(&rig), [(0, 1), (1, 2)], "3 waits");
        // Backend 1's slot frees and the pool has not placed 3 yet (as
        // when a backend comes back just before its watchers are told):
        // 3 goes first, the new one waits.
        rig.backends.list()[1].ended_one();
        assert!(rig.pool.submit(job(4)).is_ok());
        assert_eq!(given(&rig), [(1, 3)]);
        assert_eq!(rig.pool.recorder.metrics.queue_depth(), 1);
        rig.pool.finished(0);
        assert_eq!(given(&rig), [(0, 4)]);
    }

    #[test]
    fn waiting_requests_with_nowhere_left_to_go_are_answered_at_once() {
        let rig = rig(2, 4);
        for id in 1..=2 {
            assert!(rig.pool.submit(job(id)).is_ok());
            assert!(rig.admission.admit().is_ok());
        }
        given(&rig);
        // A retry of a request that failed on 0 waits for 1, and 3 waits for
        // anyone.
        assert!(rig.admission.admit().is_ok() && rig.admission.admit().is_ok());
        let failure = Failure {
            backend: 0,
            error: OllamaError::Http {
                status: 500,
                message: "boom".into(),
            },
        };
        assert!(rig.pool.retry(job(7), failure).is_none());
        assert!(rig.pool.submit(job(3)).is_ok());
        // 1 goes down (the last but one serving: at once); the retry has
        // nowhere left and gets its first error, 3 waits for backend 0.
        rig.backends.attempt_ended(1, Err(&unreachable()));
        assert_eq!(
            contents(&rig.inbox),
            ["Error: the owner's model server failed (HTTP 500)", ""]
        );
        // Backend 0 goes too (three in a row: the last one): 3 gets why.
        for _ in 0..3 {
            rig.backends.attempt_ended(0, Err(&unreachable()));
        }
        assert_eq!(
            contents(&rig.inbox),
            ["Error: the owner's model server is not reachable", ""]
        );
        assert_eq!(rig.pool.recorder.metrics.queue_depth(), 0);
        assert!(matches!(
            rig.pool.submit(job(9)),
            Err(Unplaced::NoBackend(_))
        ));
        assert!(
            !rig.admission.wait_idle(Duration::ZERO),
            "1 and 2 still run"
        );
        rig.admission.end();
        rig.admission.end();
        assert!(
            rig.admission.wait_idle(Duration::ZERO),
            "the stranded ones ended"
        );
    }

    fn candidate(running: usize, max_parallel: usize, first_piece_us: u64) -> Candidate {
        Candidate {
            can_serve: true,
            running,
            max_parallel,
            first_piece_us,
        }
    }

    #[test]
    fn the_choice_is_the_least_busy_then_the_fastest_then_the_first_listed() {
        let c = candidate;
        assert_eq!(choose(&[c(1, 2, 0), c(0, 2, 0), c(0, 2, 0)], None), Some(1));
        assert_eq!(choose(&[c(1, 2, 5), c(1, 2, 3), c(1, 2, 4)], None), Some(1));
        assert_eq!(choose(&[c(1, 2, 5), c(1, 2, 5)], None), Some(0));
        // Fewest running, not the most room: 1 of 8 is busier than 0 of 1.
        assert_eq!(choose(&[c(1, 8, 0), c(0, 1, 9)], None), Some(1));
        assert_eq!(choose(&[c(2, 2, 0), c(4, 4, 0)], None), None, "all full");
        assert_eq!(choose(&[c(2, 2, 0), c(3, 4, 9)], None), Some(1));
        assert_eq!(choose(&[c(0, 2, 0), c(1, 2, 0)], Some(0)), Some(1));
        assert_eq!(choose(&[c(0, 2, 0)], Some(0)), None);
        let down = Candidate {
            can_serve: false,
            ..c(0, 2, 0)
        };
        assert_eq!(choose(&[down, c(1, 2, 0)], None), Some(1));
        assert_eq!(choose(&[down], None), None);
        assert_eq!(choose(&[], None), None);
    }
}
