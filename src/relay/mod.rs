//! From a buyer's request to the frames of its answer.
//!
//! The hub reader calls [`Dispatcher::dispatch`] for each request. It
//! admits the [`Job`] through the [`Admission`] and hands it to the `pool`,
//! which gives it to a worker of the least busy Ollama backend that can
//! serve, or keeps it in the one waiting line (`queue_size`); when every
//! backend and the line are full the buyer is answered `Error: busy` at
//! once, from the reader's thread, so the hub never waits on a full box.
//! Each backend has its `max_parallel` worker threads. A worker runs the
//! prompt on its Ollama and sends each piece on to the writer as an
//! `Outgoing` frame (the writer's type), tagged with the request's
//! sequence number so that the writer can merge pieces and the outbox can
//! drop whole requests. A request that fails before its first piece in a
//! way another backend may not ([`fails_over`]) goes back to the pool once
//! and runs elsewhere; the buyer sees only that answer. The request
//! itself ([`Job`]) and how its answer is sent and counted live in
//! `answer`, which the dispatcher, the pool and the workers share.
//!
//! Every request ends with exactly one terminal frame sequence: in stream
//! mode the pieces then the end marker (an error frame before it when
//! something failed); in non-stream mode one frame with the whole answer or
//! one error frame (which, for an answer cut at the owner's time limit,
//! carries the text generated so far after the error).
//!
//! The owner's limits per request are kept here and in `ollama`: a prompt
//! longer than `max_prompt_chars` is refused before it takes a place in
//! the queue; the limits on an answer's tokens and time go with the
//! request to Ollama and its watchdog.
//!
//! Buyers' error texts come from the catalogue, in the owner's chosen
//! `buyer_language`; the `Error: ` before them stays English in every
//! language, since the buyer's software looks for it.
//!
//! Every answer, however it ends, is counted once where it ends: an
//! `AnswerRecord` goes to the ledger and the metrics (`accounting::Sinks`),
//! and the live gauges (pieces sent, requests running, queue depth) are
//! atomics in `metrics::Metrics`, so the per-piece path takes no lock.
//!
//! Shutdown goes through [`Relay`]: it stops taking requests (new ones are
//! answered `Error: owner client is shutting down`), waits for the accepted
//! ones to finish, and cuts the rest short through each worker's watchdog,
//! which closes their Ollama requests so that Ollama stops generating.

mod admission;
mod answer;
mod pool;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::backends::{Backend, Backends};
use crate::hub::{Requests, WriterSender};
use crate::ollama::{Canceller, ErrorKind, OllamaClient, OllamaError, Stats};
use crate::protocol::{BuyerMessage, FrameKind, MessageId};
use crate::text::{errors, Lang, Text};

use admission::TurnedAway;
pub use admission::{Admission, Refusal};
use answer::{send, send_error, Failure, Progress};
pub use answer::{Echo, End, Job, Recorder};
use pool::{Assigned, Pool, Unplaced};

/// Accepts requests and hands them to the workers.
#[derive(Clone)]
pub struct Dispatcher {
    pool: Arc<Pool>,
    relay_settings: RelaySettings,
    next_request: Arc<AtomicU64>,
}

impl Dispatcher {
    /// Queues a request. A full queue answers the buyer `Error: busy` now,
    /// and a prompt over the owner's limit is refused at once.
    pub fn dispatch(
        &self,
        message_id: MessageId,
        prompt: String,
        stream: Option<bool>,
        echo: Option<Sender<Echo>>,
    ) {
        let job = self.job(message_id, prompt, stream, echo);
        let max = self.relay_settings.max_prompt_chars;
        if let Some(chars) = over_limit(&job.prompt, max) {
            log::warn!(
                target: log_target(&job),
                "request {} refused: prompt of {chars} characters, max_prompt_chars is {max}",
                job.message_id.shown(),
            );
            let reason = errors::buyer_prompt_too_long(chars, max);
            let end = End::error("prompt_too_long");
            return self.pool.answer_error(&job, reason, end, None);
        }
        match self.pool.admission.admit() {
            Ok(()) => {}
            Err(TurnedAway::Stopping) => {
                let reason = OllamaError::ShuttingDown.for_buyer();
                return self.turn_away(&job, "shutting down", reason, End::SHUTDOWN);
            }
            Err(TurnedAway::Refused(refusal)) => {
                let why = refusal.reason.english();
                return self.turn_away(&job, &why, refusal.reason, End::error(refusal.kind));
            }
        }
        let (job, why, reason, end) = match self.pool.submit(job) {
            Ok(()) => return,
            Err(Unplaced::Full(job)) => {
                let why = "all workers busy and the queue is full";
                (job, why, errors::buyer_busy(), End::BUSY)
            }
            Err(Unplaced::NoBackend(job)) => {
                let refusal = self.pool.why_none_serves();
                let why = "no Ollama backend can serve";
                (job, why, refusal.reason, End::error(refusal.kind))
            }
        };
        // Let in, but placed nowhere.
        self.pool.admission.end();
        self.turn_away(&job, why, reason, end);
    }

    /// A new request, numbered in the order they came.
    fn job(
        &self,
        message_id: MessageId,
        prompt: String,
        stream: Option<bool>,
        echo: Option<Sender<Echo>>,
    ) -> Job {
        Job {
            request: self.next_request.fetch_add(1, Ordering::Relaxed),
            message_id,
            prompt,
            stream: stream.unwrap_or(self.relay_settings.default_stream),
            received: Instant::now(),
            language: self.relay_settings.buyer_language,
            echo,
            first_failure: None,
        }
    }

    /// Answers a request that does not run, and says why in the log.
    fn turn_away(&self, job: &Job, why: &str, reason: Text, end: End) {
        log::warn!("request {} refused: {why}", job.message_id.shown());
        self.pool.answer_error(job, reason, end, None);
    }
}

/// The prompt's length in characters when it is over `max`.
fn over_limit(prompt: &str, max: usize) -> Option<usize> {
    // A character takes at least a byte: most prompts are not counted.
    let chars = (prompt.len() > max).then(|| prompt.chars().count());
    chars.filter(|&chars| chars > max)
}

/// The hub's reader hands its requests over through this.
impl Requests for Dispatcher {
    fn run(&self, request: BuyerMessage) {
        self.dispatch(request.message_id, request.prompt, request.stream, None);
    }

    fn refuse(&self, message_id: MessageId, reason: Text, kind: &'static str) {
        let job = self.job(message_id, String::new(), None, None);
        self.pool.answer_error(&job, reason, End::error(kind), None);
    }
}

/// The running relay: the dispatcher plus what shutdown needs.
pub struct Relay {
    pub dispatcher: Dispatcher,
    cancellers: Vec<Canceller>,
}

/// How the relay takes requests, from the owner's settings.
#[derive(Clone)]
pub struct RelaySettings {
    /// Requests that may wait for a free worker.
    pub queue_size: usize,
    /// Stream mode for a request that does not say.
    pub default_stream: bool,
    /// The language of buyers' error texts.
    pub buyer_language: Lang,
    /// Longer prompts (in characters) are refused.
    pub max_prompt_chars: usize,
}

impl Relay {
    /// Starts each backend's workers (`max_parallel` of them, numbered
    /// across backends: `worker-0`, `worker-1`, ...) and the pool that
    /// gives them requests; the workers share the pool, and through it
    /// the admission, the backends and the recorder.
    pub fn start(
        relay_settings: RelaySettings,
        backends: &Arc<Backends>,
        admission: &Arc<Admission>,
        recorder: Recorder,
    ) -> std::io::Result<Relay> {
        let (slots, receivers): (Vec<_>, Vec<_>) =
            backends.list().iter().map(|_| mpsc::channel()).unzip();
        let pool = Pool::new(
            Arc::clone(backends),
            slots,
            relay_settings.queue_size,
            Arc::clone(admission),
            recorder,
        );
        let mut cancellers = Vec::new();
        for (backend, receiver) in backends.list().iter().zip(receivers) {
            let slot = Arc::new(Mutex::new(receiver));
            for _ in 0..backend.max_parallel {
                let name = format!("worker-{}", cancellers.len());
                let client = OllamaClient::new(&name, backend.target.clone());
                cancellers.push(client.canceller());
                let (slot, pool) = (Arc::clone(&slot), Arc::clone(&pool));
                thread::Builder::new()
                    .name(name)
                    .spawn(move || work(client, &slot, &pool))?;
            }
        }
        let dispatcher = Dispatcher {
            pool,
            relay_settings,
            next_request: Arc::new(AtomicU64::new(1)),
        };
        Ok(Relay {
            dispatcher,
            cancellers,
        })
    }

    /// From now on every new request is answered with the shutdown error.
    pub fn stop_accepting(&self) {
        self.dispatcher.pool.admission.stop();
    }

    /// Waits for accepted requests to be answered; false at the timeout.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        self.dispatcher.pool.admission.wait_idle(timeout)
    }

    /// Cuts running generations short (their buyers get the shutdown
    /// error) and makes queued ones fail the same way, at once.
    pub fn cancel_all(&self) {
        for canceller in &self.cancellers {
            canceller.cancel();
        }
    }
}

/// One worker: takes the requests given to its backend, one at a time.
fn work(mut client: OllamaClient, slot: &Mutex<Receiver<Assigned>>, pool: &Pool) {
    loop {
        // Hold the lock only while taking a request, so that idle workers
        // queue up on it while one of them waits on the channel.
        let assigned = slot.lock().unwrap_or_else(|p| p.into_inner()).recv();
        let Ok(Assigned { job, backend }) = assigned else {
            return;
        };
        let handed_on = answer(&mut client, job, backend, pool);
        pool.finished(backend);
        if !handed_on {
            pool.admission.end();
        }
    }
}

/// Whether a failure before the first piece may be retried on another
/// backend: another Ollama may well answer (this one could not be reached
/// or broke the connection, failed on its side, lacks the model, sent no
/// first line in time, or answered 200 and then an error line, as Ollama
/// does when its runner crashes, or a line it could not have meant); but
/// not when it refused the request itself (a status below 500), nor for a
/// model that started and then stalled, the owner's time limit or our own
/// shutdown: those would be the same anywhere.
fn fails_over(error: &OllamaError) -> bool {
    match error.kind() {
        ErrorKind::Http(status) => status >= 500,
        ErrorKind::Stalled | ErrorKind::TimeLimit | ErrorKind::Shutdown => false,
        _ => true,
    }
}

/// Whether a failed attempt may go to another backend (the pool says
/// whether there is one): this was the first try, the buyer has seen
/// nothing, and the failure is one another backend may not have.
fn may_fail_over(
    progress: &Progress,
    first_failure: Option<&Failure>,
    error: &OllamaError,
) -> bool {
    first_failure.is_none() && progress.pieces == 0 && fails_over(error)
}

/// Runs a request on its backend and sends every frame of its answer; or,
/// when it failed before its first piece in a way another backend may not
/// (see [`fails_over`]), hands it back to the pool for one more try and
/// returns true (nothing was sent, the request is still open). The
/// answer is counted before its last frame goes out, so that whoever sees
/// the end (the buyer, a test) finds it in the ledger and the metrics.
/// A request queued while the box stepped back for a reason that fails it
/// anyway (see [`Admission::close`]) gets that reason instead of running.
fn answer(client: &mut OllamaClient, mut job: Job, index: usize, pool: &Pool) -> bool {
    if let Some(refusal) = pool.admission.refusal_for_queued() {
        pool.answer_error(&job, refusal.reason, End::error(refusal.kind), None);
        return false;
    }
    let (out, recorder) = (&pool.admission.to_writer, &pool.recorder);
    let backend = pool.backends.list().get(index);
    recorder.metrics.request_started();
    let started = job.received.elapsed();
    let mut progress = Progress::default();
    let mut whole = String::new();
    let result = client.generate(&job.prompt, &mut |piece| {
        if progress.pieces == 0 {
            progress.first_piece = Some(job.received.elapsed());
        }
        progress.pieces += 1;
        progress.answer_chars += piece.chars().count();
        recorder.metrics.piece_sent();
        if let Some(echo) = &job.echo {
            let _ = echo.send(Echo::Piece(piece.clone()));
        }
        // The piece Ollama's line was parsed into goes on as it is: the
        // hottest path in the program copies nothing here.
        if job.stream {
            send(out, &job, FrameKind::Piece, piece);
        } else {
            whole.push_str(&piece);
        }
    });
    recorder.metrics.request_finished();
    // A piece shows the backend serves, however the answer ended; before
    // one, the failure tells (`backends` decides).
    let health = match progress.pieces {
        0 => result.as_ref().map(drop),
        _ => Ok(()),
    };
    pool.backends.attempt_ended(index, health);
    if let (Some(backend), Some(first)) = (backend, progress.first_piece) {
        backend.saw_first_piece(first.saturating_sub(started));
    }
    let result = match result {
        Err(error) if may_fail_over(&progress, job.first_failure.as_deref(), &error) => {
            let said = format!(
                "request {} failed on {} before its first piece ({error})",
                job.message_id.shown(),
                backend.map_or("?", |b| b.name.as_str())
            );
            let target = log_target(&job);
            let failure = Failure {
                backend: index,
                error,
            };
            match pool.retry(job, failure) {
                None => {
                    log::warn!(target: target, "{said}; trying another backend");
                    return true;
                }
                Some((again, failure)) => {
                    job = again;
                    Err(failure.error)
                }
            }
        }
        other => other,
    };
    finish(&job, result, progress, whole, out, recorder, backend);
    false
}

/// Counts a request that ran to its end and sends its last frames.
fn finish(
    job: &Job,
    result: Result<Stats, OllamaError>,
    progress: Progress,
    whole: String,
    out: &WriterSender,
    recorder: &Recorder,
    backend: Option<&Backend>,
) {
    let elapsed = job.received.elapsed();
    let pieces = progress.pieces;
    let end = result.as_ref().map_or_else(End::of, |_| End::OK);
    recorder.answered(job, end, &progress, result.as_ref().ok(), backend);
    match &result {
        Ok(stats) => {
            let tokens = stats.eval_count.unwrap_or(0);
            let speed = stats.tokens_per_second();
            let speed = speed.map(|tps| format!(", {tokens} tokens at {tps:.1} tokens/s"));
            log::info!(
                target: log_target(job),
                "request {} answered: {pieces} pieces in {:.2} s{}",
                job.message_id.shown(),
                elapsed.as_secs_f64(),
                speed.unwrap_or_default()
            );
            if job.stream {
                send(out, job, FrameKind::End, String::new());
            } else {
                send(out, job, FrameKind::Whole, whole);
            }
        }
        Err(error) => {
            let target = log_target(job);
            log::warn!(target: target, "request {} failed: {error}", job.message_id.shown());
            // An answer cut at the owner's time limit keeps what was
            // generated (in non-stream mode: in stream mode it went out).
            let so_far = match error.kind() {
                ErrorKind::TimeLimit => whole.as_str(),
                _ => "",
            };
            send_error(out, job, &error.for_buyer(), so_far);
        }
    }
    if let Some(echo) = &job.echo {
        let result = result.map_err(|e| e.text());
        let _ = echo.send(Echo::Done {
            result,
            pieces,
            elapsed,
        });
    }
}

/// Test-mode prompts show their own summary on the console; their log
/// lines go to the file only, so as not to land inside the printed answer.
fn log_target(job: &Job) -> &'static str {
    match job.echo {
        Some(_) => crate::logging::FILE_ONLY,
        None => module_path!(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounting::Sinks;
    use crate::hub::closes_sent as closes;
    use crate::hub::ToWriter;
    use crate::metrics::Metrics;

    #[cfg(target_os = "linux")]
    /// Waits (bounded) until thread `tid` of this process sleeps: for the
    /// threads below, blocked on the state's lock or its condvar.
    fn wait_until_asleep(tid: i32) {
        let stat = format!("/proc/self/task/{tid}/stat");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let text = std::fs::read_to_string(&stat).unwrap_or_default();
            // The state follows the parenthesised thread name.
            let state = text.rsplit(')').next().unwrap_or("").trim_start();
            if state.starts_with('S') {
                return;
            }
            thread::sleep(Duration::from_millis(1));
        }
        panic!("thread {tid} never went to sleep");
    }

    #[cfg(target_os = "linux")]
    /// Runs `body` on a new thread and returns once that thread sleeps.
    fn spawn_until_asleep<T: Send + 'static>(
        body: impl FnOnce() -> T + Send + 'static,
    ) -> thread::JoinHandle<T> {
        let (tid_tx, tid) = mpsc::channel();
        let handle = thread::spawn(move || {
            // SAFETY: gettid has no preconditions.
            let _ = tid_tx.send(unsafe { libc::gettid() });
            body()
        });
        wait_until_asleep(tid.recv().unwrap());
        handle
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_last_answer_to_end_wakes_a_waiting_shutdown() {
        let (to_writer, _inbox) = crate::hub::writer_channel();
        let admission = Admission::new(to_writer);
        assert!(admission.wait_idle(Duration::ZERO), "nothing accepted yet");
        assert!(admission.admit().is_ok() && admission.admit().is_ok());
        assert!(!admission.wait_idle(Duration::ZERO));
        let waiter = Arc::clone(&admission);
        let (done, waited) = mpsc::channel();
        spawn_until_asleep(move || done.send(waiter.wait_idle(Duration::from_secs(3600))));
        admission.end();
        assert!(
            !admission.wait_idle(Duration::ZERO),
            "one answer still runs"
        );
        admission.end();
        // Without the wake-up the waiter would sleep for its whole hour; the
        // bound only keeps a broken build from hanging the test.
        assert_eq!(waited.recv_timeout(Duration::from_secs(10)), Ok(true));
    }

    pub(super) fn paused() -> Refusal {
        Refusal {
            reason: errors::buyer_owner_paused(),
            kind: "paused",
            queued_too: false,
        }
    }

    #[test]
    fn stepping_back_closes_the_hub_once_the_last_accepted_answer_ends() {
        let (to_writer, inbox) = crate::hub::writer_channel();
        let admission = Admission::new(to_writer);
        assert!(admission.admit().is_ok() && admission.admit().is_ok());
        admission.close(paused(), "owner paused");
        assert!(
            matches!(admission.admit(), Err(TurnedAway::Refused(r)) if r.kind == "paused"),
            "a new request is refused while stepping back"
        );
        assert_eq!(
            admission.refusal_for_queued().map(|r| r.kind),
            None,
            "a pause lets queued ones run"
        );
        admission.end();
        assert_eq!(closes(&inbox), Vec::<&str>::new(), "one answer still runs");
        admission.end();
        assert_eq!(closes(&inbox), ["owner paused"]);
        admission.open();
        assert!(admission.admit().is_ok(), "open again");
        admission.end();
        assert_eq!(closes(&inbox), Vec::<&str>::new(), "no second Close");
    }

    #[test]
    fn stepping_back_with_nothing_running_closes_at_once_and_opening_cancels_a_pending_close() {
        let (to_writer, inbox) = crate::hub::writer_channel();
        let admission = Admission::new(to_writer);
        admission.close(paused(), "owner paused");
        assert_eq!(closes(&inbox), ["owner paused"]);
        admission.open();
        assert!(admission.admit().is_ok());
        let down = Refusal {
            queued_too: true,
            kind: "ollama_unreachable",
            ..paused()
        };
        admission.close(down, "owner's Ollama is down");
        assert_eq!(
            admission.refusal_for_queued().map(|r| r.kind),
            Some("ollama_unreachable")
        );
        admission.open();
        assert!(admission.refusal_for_queued().is_none());
        admission.end();
        assert_eq!(
            closes(&inbox),
            Vec::<&str>::new(),
            "resumed before the answer ended"
        );
    }

    /// A dispatcher with one backend of one slot, a line of 3 but no
    /// worker, and the writer's inbox.
    #[cfg(target_os = "linux")]
    fn idle_relay() -> (Relay, Receiver<Assigned>, crate::hub::Inbox) {
        idle_relay_in(Lang::En)
    }

    /// The same, with buyers' error texts in `buyer_language`.
    fn idle_relay_in(buyer_language: Lang) -> (Relay, Receiver<Assigned>, crate::hub::Inbox) {
        let (slot, queue) = mpsc::channel();
        let (to_writer, inbox) = crate::hub::writer_channel();
        let admission = Admission::new(to_writer);
        let recorder = Recorder {
            sinks: Sinks::default(),
            metrics: Metrics::new(),
            model: "m".into(),
        };
        let backends = crate::backends::for_tests(&["http://127.0.0.1:1"], 3);
        let pool = Pool::new(backends, vec![slot], 3, admission, recorder);
        let relay_settings = RelaySettings {
            queue_size: 3,
            default_stream: true,
            buyer_language,
            max_prompt_chars: 8,
        };
        let dispatcher = Dispatcher {
            pool,
            relay_settings,
            next_request: Arc::new(AtomicU64::new(1)),
        };
        let relay = Relay {
            dispatcher,
            cancellers: Vec::new(),
        };
        (relay, queue, inbox)
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_request_at_the_door_when_the_stop_begins_is_refused_not_lost() {
        let (relay, queue, inbox) = idle_relay();
        // The request arrives while the state is locked...
        let mut held = relay.dispatcher.pool.admission.lock();
        let dispatcher = relay.dispatcher.clone();
        let request = spawn_until_asleep(move || {
            let id = MessageId::from_raw("7").unwrap();
            dispatcher.dispatch(id, "hi".into(), None, None)
        });
        // ...and meanwhile the stop begins and finds nothing running, as
        // `stop_accepting` and `wait_idle` see it.
        held.stopping = true;
        assert_eq!(held.active, 0);
        drop(held);
        request.join().unwrap();
        // Shutdown would now exit: a request queued behind its back would
        // never be answered.
        assert!(queue.try_recv().is_err(), "a request got in unseen");
        match inbox.try_recv() {
            Ok(ToWriter::Frame(frame)) => {
                assert!(frame.content.contains("shutting down"), "{}", frame.content)
            }
            _ => panic!("the request was not answered"),
        }
    }

    /// The content of every frame the writer got.
    fn contents(inbox: &crate::hub::Inbox) -> Vec<String> {
        inbox
            .try_iter()
            .filter_map(|message| match message {
                ToWriter::Frame(frame) => Some(frame.content),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn buyers_errors_are_in_the_buyer_language_after_an_english_error_prefix() {
        let id = || MessageId::from_raw("7").unwrap();
        let cases = [
            (
                Lang::Ru,
                [
                    "Error: запрос слишком большой (5000 байт, эта машина принимает не больше 4096)",
                    "",
                    "Error: клиент владельца завершает работу",
                ],
            ),
            (
                Lang::En,
                [
                    "Error: prompt too large (5000 bytes, this box accepts at most 4096)",
                    "",
                    "Error: owner client is shutting down",
                ],
            ),
        ];
        for (lang, expected) in cases {
            let (relay, _queue, inbox) = idle_relay_in(lang);
            let too_large = errors::buyer_prompt_too_large(5000, 4096);
            // The hub's refusal, in the default stream mode: an end follows.
            relay.dispatcher.refuse(id(), too_large, "too_large");
            relay.stop_accepting();
            relay
                .dispatcher
                .dispatch(id(), "hi".into(), Some(false), None);
            assert_eq!(contents(&inbox), expected, "{lang:?}");
        }
    }

    #[test]
    fn a_prompt_over_the_limit_in_characters_is_refused_before_the_queue() {
        let id = || MessageId::from_raw("7").unwrap();
        // The idle relay accepts 8 characters: "é" is 2 bytes, 1 character.
        let (relay, queue, inbox) = idle_relay_in(Lang::Ru);
        relay
            .dispatcher
            .dispatch(id(), "éééééééé".into(), Some(false), None);
        assert!(queue.try_recv().is_ok(), "8 characters (16 bytes) run");
        assert!(contents(&inbox).is_empty());
        for (prompt, chars) in [("ééééééééé", 9), ("123456789", 9), ("1234567890123", 13)]
        {
            relay.dispatcher.dispatch(id(), prompt.into(), None, None);
            let refused = format!(
                "Error: запрос слишком длинный ({chars} символов, эта машина принимает не больше 8)"
            );
            assert_eq!(contents(&inbox), [refused, String::new()], "{prompt}");
        }
        assert!(queue.try_recv().is_err(), "a long prompt got in");
        // Once the one that ran is answered, a shutdown finds no request
        // to wait for: the refused ones were never counted in.
        relay.dispatcher.pool.admission.end();
        assert!(relay.wait_idle(Duration::ZERO));
        let (echo, answer) = mpsc::channel();
        relay
            .dispatcher
            .dispatch(MessageId::test_mode(), "x".repeat(21), None, Some(echo));
        match answer.try_recv() {
            Ok(Echo::Done {
                result: Err(reason),
                pieces: 0,
                ..
            }) => assert_eq!(
                reason.english(),
                "prompt too long (21 characters, this box accepts at most 8)"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_failures_another_backend_may_not_have_fail_over() {
        let unreachable = OllamaError::refused("http://127.0.0.1:1");
        let http = |status| OllamaError::Http {
            status,
            message: String::new(),
        };
        let second = Duration::from_secs(1);
        let yes = [
            unreachable,
            OllamaError::ModelMissing { model: "m".into() },
            OllamaError::Truncated(None),
            OllamaError::NoFirstLine(second),
            http(500),
            http(503),
            // 200, then a broken first line (a crashed runner).
            OllamaError::InStream {
                message: "x".into(),
            },
            OllamaError::BadLine(serde_json::from_str::<u8>("x").unwrap_err()),
            OllamaError::LineTooLong { limit: 1 },
        ];
        for error in &yes {
            assert!(fails_over(error), "{error}");
        }
        // The request's own fault, a model that started and then stalled,
        // or ours: the same anywhere.
        let no = [
            http(400),
            http(499),
            OllamaError::Stalled(second),
            OllamaError::TooLong(second),
            OllamaError::ShuttingDown,
        ];
        for error in &no {
            assert!(!fails_over(error), "{error}");
        }
        let once = Progress::default();
        assert!(may_fail_over(&once, None, &http(500)));
        let failure = Failure {
            backend: 0,
            error: http(500),
        };
        assert!(!may_fail_over(&once, Some(&failure), &http(500)), "twice");
        let seen = Progress {
            pieces: 1,
            ..Progress::default()
        };
        assert!(!may_fail_over(&seen, None, &http(500)), "after a piece");
    }

    #[test]
    fn ollamas_failures_reach_buyers_in_their_language() {
        let stalled = OllamaError::Stalled(Duration::from_secs(120));
        assert_eq!(
            stalled.for_buyer().in_lang(Lang::Ru),
            "модель не отвечала 120 с"
        );
        assert_eq!(
            stalled.for_buyer().english(),
            "the model stopped answering for 120 s"
        );
        assert_eq!(errors::buyer_busy().english(), "busy");
        let cut = OllamaError::TooLong(Duration::from_millis(1500));
        assert_eq!(
            cut.for_buyer().english(),
            "answer cut after 1.50 s (this box's limit)"
        );
        assert_eq!(
            cut.for_buyer().in_lang(Lang::Ru),
            "ответ прерван через 1.50 с (ограничение этой машины)"
        );
        assert_eq!(
            cut.to_string(),
            "the answer was cut after 1.50 s (the max_answer_secs limit)"
        );
        assert_eq!(End::of(&cut), End::error("time_limit"));
    }

    #[test]
    fn a_refused_test_mode_prompt_echoes_its_reason_for_the_owners_language() {
        let (relay, _queue, _inbox) = idle_relay_in(Lang::Ru);
        relay.stop_accepting();
        let (echo, answer) = mpsc::channel();
        relay
            .dispatcher
            .dispatch(MessageId::test_mode(), "hi".into(), None, Some(echo));
        match answer.try_recv() {
            Ok(Echo::Done {
                result: Err(reason),
                pieces: 0,
                ..
            }) => {
                assert_eq!(reason.english(), "owner client is shutting down");
                assert_eq!(
                    reason.in_lang(Lang::Ru),
                    "клиент владельца завершает работу"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
