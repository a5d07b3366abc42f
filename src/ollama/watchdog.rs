//! Deadlines for one worker's Ollama request, enforced from outside it.
//!
//! ureq blocks the worker inside a read while Ollama thinks, and it has no
//! per-phase idle timeout of the kind needed here: the first line may take
//! minutes (model load, prompt evaluation: `load_timeout`) while a later
//! pause of two minutes means a stuck runner (`idle_timeout`), and however
//! steadily it streams, no generation may run longer than the owner allows
//! (`max_answer`, counted from the request's start). So each worker
//! has a watchdog thread that knows when the request started and when the
//! last line arrived, and when a deadline passes it shuts the worker's ureq
//! agent down, which makes the blocked read fail at once. The same switch
//! cancels requests on shutdown ([`Canceller`]); closing the connection is
//! what tells Ollama to stop generating.
//!
//! The worker's per-line cost is one relaxed atomic store: the watchdog is
//! not woken for every line. It sleeps until the earliest possible deadline
//! (at most an idle timeout, since a line it has not seen may have come),
//! re-reads the last activity, and sleeps again if it moved. When no request
//! is running it sleeps without a timeout, so an idle client never wakes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// Why the watchdog cut a request short.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// No first line within the load timeout.
    NoFirstLine(Duration),
    /// No next line within the idle timeout.
    Stalled(Duration),
    /// Still running when the owner's limit on one answer's time passed.
    TooLong(Duration),
    /// The client is shutting down.
    Cancelled,
    /// The answer was whole; the grace for its last figures passed.
    Finished,
}

struct Armed {
    agent: ureq::Agent,
    started: Instant,
    /// Once the answer is whole: when to stop waiting for the rest.
    finish_by: Option<Instant>,
}

#[derive(Default)]
struct State {
    armed: Option<Armed>,
    cut: Option<Cut>,
    /// Set on shutdown: the running request and every later one are cut.
    cancel_all: bool,
    stop: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    /// Nanoseconds from `epoch` to the latest line; 0 before the first.
    last_line: AtomicU64,
    epoch: Instant,
    load_timeout: Duration,
    idle_timeout: Duration,
    /// The longest a request may run in all; zero: no limit.
    max_answer: Duration,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state invalid.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The worker's handle; dropping it stops the watchdog thread.
pub struct Watchdog {
    shared: Arc<Shared>,
}

/// A handle that cancels the current and every later request of a worker.
#[derive(Clone)]
pub struct Canceller {
    shared: Arc<Shared>,
}

impl Canceller {
    pub fn cancel(&self) {
        let mut state = self.shared.lock();
        state.cancel_all = true;
        if let Some(armed) = state.armed.take() {
            state.cut = Some(Cut::Cancelled);
            armed.agent.shutdown();
        }
    }
}

impl Watchdog {
    /// A watchdog for one worker's requests; `max_answer` zero means no
    /// limit on a request's total time.
    pub fn start(
        name: &str,
        load_timeout: Duration,
        idle_timeout: Duration,
        max_answer: Duration,
    ) -> Watchdog {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            last_line: AtomicU64::new(0),
            epoch: Instant::now(),
            load_timeout,
            idle_timeout,
            max_answer,
        });
        let watched = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name(format!("{name}-watchdog"))
            .spawn(move || watch(&watched));
        if let Err(e) = spawned {
            // Without the thread the deadlines are not enforced, but requests
            // still run; the log says so.
            log::error!("cannot start the watchdog thread, Ollama timeouts are off: {e}");
        }
        Watchdog { shared }
    }

    pub fn canceller(&self) -> Canceller {
        Canceller {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Starts watching a request made through `agent`. False when the
    /// worker was cancelled: the request must not start.
    pub fn arm(&self, agent: &ureq::Agent) -> bool {
        self.shared.last_line.store(0, Ordering::Relaxed);
        let mut state = self.shared.lock();
        if state.cancel_all {
            return false;
        }
        state.cut = None;
        state.armed = Some(Armed {
            agent: agent.clone(),
            started: Instant::now(),
            finish_by: None,
        });
        self.shared.wake.notify_one();
        true
    }

    /// Records that a line arrived (the hot path: one atomic store).
    pub fn saw_line(&self) {
        let nanos = self.shared.epoch.elapsed().as_nanos() as u64;
        self.shared.last_line.store(nanos.max(1), Ordering::Relaxed);
    }

    /// The answer is whole: what is left of the request (its figures) may
    /// take `grace` at most. Once per answer, not per piece.
    pub fn finishing(&self, grace: Duration) {
        let mut state = self.shared.lock();
        if let Some(armed) = &mut state.armed {
            armed.finish_by = Some(Instant::now() + grace);
            self.shared.wake.notify_one();
        }
    }

    /// Stops watching; says whether (and why) the request was cut short.
    /// After a cut the agent is shut down and must be replaced.
    pub fn disarm(&self) -> Option<Cut> {
        let mut state = self.shared.lock();
        state.armed = None;
        state.cut.take()
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_one();
    }
}

fn watch(shared: &Shared) {
    let mut state = shared.lock();
    while !state.stop {
        let Some(armed) = &state.armed else {
            state = shared.wake.wait(state).unwrap_or_else(|p| p.into_inner());
            continue;
        };
        let (deadline, cut) = match armed.finish_by {
            Some(finish_by) => (finish_by, Cut::Finished),
            None => deadline(shared, armed.started),
        };
        let now = Instant::now();
        if now >= deadline {
            if let Some(armed) = state.armed.take() {
                state.cut = Some(cut);
                armed.agent.shutdown();
            }
            continue;
        }
        state = shared
            .wake
            .wait_timeout(state, nap(shared, deadline - now))
            .map(|(s, _)| s)
            .unwrap_or_else(|p| p.into_inner().0);
    }
}

/// How long the watchdog sleeps when `left` remains before the deadline it
/// knows. Lines do not wake it, and before the first one the deadline it
/// knows is the load timeout's, while a first line may come at any moment
/// and the answer stall right after it, due an idle timeout later: looking
/// again at least every idle timeout cuts that stall on time, not at the
/// load deadline. Once a line has come, no deadline is further off than
/// that anyway.
fn nap(shared: &Shared, left: Duration) -> Duration {
    left.min(shared.idle_timeout)
}

/// When the armed request times out if nothing else arrives, and as what:
/// the load or idle deadline, or the total one when that comes first.
fn deadline(shared: &Shared, started: Instant) -> (Instant, Cut) {
    let waiting = match shared.last_line.load(Ordering::Relaxed) {
        0 => (
            started + shared.load_timeout,
            Cut::NoFirstLine(shared.load_timeout),
        ),
        nanos => (
            shared.epoch + Duration::from_nanos(nanos) + shared.idle_timeout,
            Cut::Stalled(shared.idle_timeout),
        ),
    };
    let limit = shared.max_answer;
    if limit.is_zero() || started + limit > waiting.0 {
        return waiting;
    }
    (started + limit, Cut::TooLong(limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(load: Duration, idle: Duration, max_answer: Duration) -> Shared {
        Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            last_line: AtomicU64::new(0),
            epoch: Instant::now(),
            load_timeout: load,
            idle_timeout: idle,
            max_answer,
        }
    }

    fn line_at(shared: &Shared, since_epoch: Duration) {
        let nanos = since_epoch.as_nanos() as u64;
        shared.last_line.store(nanos, Ordering::Relaxed);
    }

    #[test]
    fn deadlines_count_from_the_start_then_from_the_last_line() {
        let (load, idle) = (Duration::from_secs(300), Duration::from_secs(7));
        // No limit on the total: only the load and idle deadlines count.
        let shared = shared(load, idle, Duration::ZERO);
        let started = shared.epoch + Duration::from_secs(2);
        assert_eq!(
            deadline(&shared, started),
            (started + load, Cut::NoFirstLine(load))
        );
        let last = Duration::from_millis(2500);
        line_at(&shared, last);
        assert_eq!(
            deadline(&shared, started),
            (shared.epoch + last + idle, Cut::Stalled(idle))
        );
    }

    #[test]
    fn the_total_limit_cuts_when_it_comes_before_the_other_deadlines() {
        let (load, idle) = (Duration::from_secs(300), Duration::from_secs(7));
        let total = Duration::from_secs(60);
        let shared = shared(load, idle, total);
        let started = shared.epoch + Duration::from_secs(2);
        // Still loading: the limit comes first.
        assert_eq!(
            deadline(&shared, started),
            (started + total, Cut::TooLong(total))
        );
        // Streaming early on: the next line is due before the limit.
        let early = Duration::from_secs(10);
        line_at(&shared, early);
        assert_eq!(
            deadline(&shared, started),
            (shared.epoch + early + idle, Cut::Stalled(idle))
        );
        // The idle deadline falls on the limit: the limit is what ends it.
        line_at(&shared, Duration::from_secs(2 + 60 - 7));
        assert_eq!(
            deadline(&shared, started),
            (started + total, Cut::TooLong(total))
        );
        // Streaming late: the limit comes before the next line is due.
        line_at(&shared, Duration::from_secs(58));
        assert_eq!(
            deadline(&shared, started),
            (started + total, Cut::TooLong(total))
        );
    }

    #[test]
    fn before_the_first_line_the_watchdog_looks_again_every_idle_timeout() {
        let (load, idle) = (Duration::from_secs(300), Duration::from_secs(7));
        let shared = shared(load, idle, Duration::ZERO);
        let started = shared.epoch;
        // Armed, nothing read yet: the load deadline is 300 s away, but a
        // first line and a stall after it may come before that.
        let (waiting, _) = deadline(&shared, started);
        assert_eq!(nap(&shared, waiting - started), idle);
        // A line at 1 s and nothing since: the next look, by 7 s, finds
        // the stall due at 8 s and sleeps until then.
        line_at(&shared, Duration::from_secs(1));
        let (stalled_at, cut) = deadline(&shared, started);
        assert_eq!(cut, Cut::Stalled(idle));
        let looked_at = started + idle;
        assert_eq!(nap(&shared, stalled_at - looked_at), Duration::from_secs(1));
        // A short grace or total limit is slept whole.
        let short = Duration::from_millis(300);
        assert_eq!(nap(&shared, short), short);
    }

    #[cfg(target_os = "linux")]
    /// Whether a thread of this process has `name` (as the kernel keeps it:
    /// at most 15 bytes).
    fn thread_named(name: &str) -> bool {
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return false;
        };
        tasks.flatten().any(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|comm| comm.trim_end() == name)
        })
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn dropping_the_watchdog_ends_its_thread() {
        let second = Duration::from_secs(1);
        let watchdog = Watchdog::start("dropcheck", second, second, second);
        let comm = "dropcheck-watch";
        let deadline = Instant::now() + Duration::from_secs(10);
        while !thread_named(comm) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(1));
        }
        assert!(thread_named(comm), "the watchdog thread did not start");
        drop(watchdog);
        while thread_named(comm) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(1));
        }
        assert!(
            !thread_named(comm),
            "the watchdog thread outlived its worker"
        );
    }
}
