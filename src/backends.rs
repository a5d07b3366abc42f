//! The Ollama backends this box sells from, and what it knows of each:
//! whether it can serve, how busy it is, how fast it starts answering.
//!
//! One backend is the original client's single Ollama (`ollama_host`,
//! `ollama_port`); `ollama_hosts` lists several. What the relay's pool
//! chooses by is in atomics of each [`Backend`], read under the pool's lock
//! when it places requests, never per piece: whether it can serve
//! (set here, from attempts and probes), the requests running on it
//! (changed only under the pool's lock, so a choice sees them all as one)
//! and its recent time to first piece (once per answer). Its health
//! details (why it is down, failures in a row, the next probe) are under a
//! small lock of its own, taken once per attempt or probe. The prober's
//! lock is taken before a backend's, never while one is held.
//!
//! Health comes from two places. Every attempt on a backend ends in
//! [`Backends::attempt_ended`]: a backend that cannot be reached, answers
//! 5xx, no longer has the model, or answers 200 and then fails before its
//! first piece (an `{"error":...}` line, as Ollama sends when its runner
//! crashes, a line that is not JSON or over `max_line_bytes`, the answer
//! cut) is set aside (down) while another backend can serve. An attempt
//! that gave a piece shows the backend serves, however it ended (the relay
//! reports it as such). The last one that can serve is held to the
//! original rules, since setting it aside takes the box off the market:
//! down after `ollama_down_after` requests in a row could not reach it, or
//! at once when the model is gone, never for a 5xx or a failure before the
//! first piece (Ollama answered; its error goes to the buyer), and never
//! without a hub to step back from (test mode). And the probes: a down backend is asked (`GET /api/version`, then
//! `/api/tags` for the model) by the `prober` thread, every
//! `ollama_probe_secs`, doubling up to a minute while other backends serve
//! (and every `ollama_probe_secs` while none does: then coming back fast is
//! what matters). One that answers and has the model is warmed up (an empty
//! generate, with `warm_up`) and then marked up. The prober sleeps without
//! a timeout while none is down, and while the owner has paused the box.
//!
//! Whoever must act on a change (the relay's pool, to place waiting
//! requests; `availability`, to step back from the hub when none is left)
//! registers a [`Watcher`] and is told after the change, on the thread
//! that made it, with no lock of this module held. Watchers are held
//! weakly: the pool and `availability` hold the backends, and the
//! backends must not keep them alive in return. This module knows neither
//! the relay nor the hub.

use std::error::Error as _;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crate::ollama::{self, ErrorKind, OllamaError, OllamaTarget};

/// How long one probe request may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest wait between two probes of a backend set aside while
/// others serve (unless `ollama_probe_secs` is longer).
const PROBE_BACKOFF_MAX: Duration = Duration::from_secs(60);

/// A backend's state, as the choice reads it.
const UNKNOWN: u8 = 0;
const UP: u8 = 1;
const DOWN: u8 = 2;

/// What the owner set about health and warming up.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// Requests in a row that cannot reach the last backend up before it
    /// is set aside (and the box steps back).
    pub down_after: usize,
    /// How often to ask a backend that is down (the first wait).
    pub probe_every: Duration,
    /// Load the model on a backend before it takes buyers.
    pub warm_up: bool,
    /// Whether there is a hub to step back from: without one (test mode)
    /// the last backend that can serve is never set aside.
    pub has_hub: bool,
}

/// Told after a backend went down or came up (no lock held).
pub trait Watcher: Send + Sync {
    fn backends_changed(&self);
}

/// Why a backend cannot serve.
#[derive(Clone, Debug, PartialEq)]
pub struct Down {
    /// Since the first failure of this spell.
    pub since: SystemTime,
    /// The latest reason, in English, naming the backend when there are
    /// several.
    pub error: String,
    pub model_missing: bool,
}

/// A backend as `--status` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct BackendStatus {
    pub name: String,
    pub base_url: String,
    /// The API it speaks (`ollama`, `openai`) and the model it runs.
    pub api: &'static str,
    pub model: String,
    /// `None`: not asked yet (test mode, or before the first look).
    pub health: Option<Result<(), Down>>,
    pub running: usize,
    pub max_parallel: usize,
}

/// One Ollama this box sends requests to.
pub struct Backend {
    pub name: String,
    /// Where it is and what to ask it (the model and options are the
    /// owner's, the same for every backend).
    pub target: OllamaTarget,
    /// Requests it runs at once.
    pub max_parallel: usize,
    state: AtomicU8,
    /// Requests running on it now: the relay's pool counts them, and
    /// chooses by them.
    running: AtomicUsize,
    /// The recent time to first piece in microseconds (a moving average);
    /// 0 before the first.
    first_piece_us: AtomicU64,
    health: Mutex<Health>,
}

#[derive(Default)]
struct Health {
    down: Option<Down>,
    unreachable_in_a_row: usize,
    /// Probes that failed since it went down.
    failed_probes: u32,
    /// When to ask it next, while it is down.
    next_probe: Option<Instant>,
}

impl Backend {
    pub fn new(name: String, target: OllamaTarget, max_parallel: usize) -> Backend {
        Backend {
            name,
            target,
            max_parallel: max_parallel.max(1),
            state: AtomicU8::new(UNKNOWN),
            running: AtomicUsize::new(0),
            first_piece_us: AtomicU64::new(0),
            health: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Not known to be down: up, or not asked yet.
    pub fn can_serve(&self) -> bool {
        self.state.load(Relaxed) != DOWN
    }

    pub fn is_up(&self) -> bool {
        self.state.load(Relaxed) == UP
    }

    pub fn running(&self) -> usize {
        self.running.load(Relaxed)
    }

    /// One more request runs on it (counted by the pool, under its lock,
    /// so the choice sees the counts as one).
    pub fn started_one(&self) {
        self.running.fetch_add(1, Relaxed);
    }

    /// One request on it ended (the pool, under its lock).
    pub fn ended_one(&self) {
        let _ = self
            .running
            .fetch_update(Relaxed, Relaxed, |n| Some(n.saturating_sub(1)));
    }

    /// The recent time to first piece in microseconds; 0 before the first
    /// answer.
    pub fn first_piece_us(&self) -> u64 {
        self.first_piece_us.load(Relaxed)
    }

    /// Adds one answer's time to first piece to the moving average (each
    /// new one counts a quarter), once per answer.
    pub fn saw_first_piece(&self, took: Duration) {
        let new = (took.as_micros() as u64).max(1);
        let old = self.first_piece_us.load(Relaxed);
        let average = match old {
            0 => new,
            old => (old * 3 + new) / 4,
        };
        self.first_piece_us.store(average.max(1), Relaxed);
    }
}

/// Every backend, their health, and the prober that brings them back.
pub struct Backends {
    list: Vec<Backend>,
    policy: Policy,
    watchers: Mutex<Vec<Weak<dyn Watcher>>>,
    /// Wakes the prober when a backend goes down (or the process stops).
    prober: Condvar,
    prober_lock: Mutex<()>,
    /// Set once the prober thread runs.
    prober_started: AtomicBool,
    /// Set while the owner has paused the box: no probes (and so no
    /// warm-ups, which would take the GPU from the owner) until the resume.
    held: AtomicBool,
}

impl Backends {
    pub fn new(list: Vec<Backend>, policy: Policy) -> Arc<Backends> {
        Arc::new(Backends {
            list,
            policy,
            watchers: Mutex::default(),
            prober: Condvar::new(),
            prober_lock: Mutex::new(()),
            prober_started: AtomicBool::new(false),
            held: AtomicBool::new(false),
        })
    }

    pub fn list(&self) -> &[Backend] {
        &self.list
    }

    /// Registers someone to tell about changes, for as long as it lives.
    pub fn watch<W: Watcher + 'static>(&self, watcher: &Arc<W>) {
        let watcher: Weak<dyn Watcher> = Arc::<W>::downgrade(watcher);
        self.watchers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(watcher);
    }

    /// Tells every watcher still alive, with no lock held: the list is
    /// copied out first, so a watcher may take its own locks, register
    /// another one or ask about the backends without waiting on this one.
    fn tell_watchers(&self) {
        let watchers: Vec<Arc<dyn Watcher>> = {
            let mut list = self.watchers.lock().unwrap_or_else(|p| p.into_inner());
            list.retain(|watcher| watcher.strong_count() > 0);
            list.iter().filter_map(Weak::upgrade).collect()
        };
        for watcher in watchers {
            watcher.backends_changed();
        }
    }

    /// Whether some backend is up (asked, and answering with the model).
    pub fn any_up(&self) -> bool {
        self.list.iter().any(Backend::is_up)
    }

    /// Whether some backend is not known to be down.
    pub fn any_can_serve(&self) -> bool {
        self.list.iter().any(Backend::can_serve)
    }

    /// Whether some backend has not been asked yet.
    pub fn any_unknown(&self) -> bool {
        self.list.iter().any(|b| b.state.load(Relaxed) == UNKNOWN)
    }

    /// Why no backend can serve, for the log and the ledger: the one
    /// backend's reason, or each one's. `None` while one can.
    pub fn why_none_serves(&self) -> Option<Down> {
        if self.any_can_serve() {
            return None;
        }
        let mut downs: Vec<Down> = self
            .list
            .iter()
            .filter_map(|b| b.lock().down.clone())
            .collect();
        if downs.len() < 2 {
            return downs.pop();
        }
        let errors: Vec<&str> = downs.iter().map(|d| d.error.as_str()).collect();
        let since = downs.iter().map(|d| d.since).min();
        Some(Down {
            since: since.unwrap_or_else(SystemTime::now),
            error: format!("no Ollama backend can serve ({})", errors.join("; ")),
            model_missing: downs.iter().all(|d| d.model_missing),
        })
    }

    /// Every backend for `--status`.
    pub fn statuses(&self) -> Vec<BackendStatus> {
        let status = |backend: &Backend| {
            // Not asked yet: neither up nor with a reason to be down.
            let health = match backend.state.load(Relaxed) {
                UP => Some(Ok(())),
                _ => backend.lock().down.clone().map(Err),
            };
            BackendStatus {
                name: backend.name.clone(),
                base_url: backend.target.base_url.shown().to_string(),
                api: backend.target.api.as_str(),
                model: backend.target.model.clone(),
                health,
                running: backend.running(),
                max_parallel: backend.max_parallel,
            }
        };
        self.list.iter().map(status).collect()
    }

    /// "Ollama", or "Ollama backend NAME" when there are several.
    fn who(&self, backend: &Backend) -> String {
        match (self.list.len(), backend.target.api) {
            (1, ollama::Api::Ollama) => "Ollama".into(),
            (1, ollama::Api::OpenAi) => "the OpenAI-compatible server".into(),
            (_, ollama::Api::Ollama) => format!("Ollama backend {}", backend.name),
            (_, ollama::Api::OpenAi) => format!("backend {}", backend.name),
        }
    }

    /// Whether a backend other than `index` can serve.
    fn others_can_serve(&self, index: usize) -> bool {
        let mut others = self.list.iter().enumerate();
        others.any(|(i, backend)| i != index && backend.can_serve())
    }

    /// How an attempt on backend `index` ended; see the module comment
    /// for what sets a backend aside.
    pub fn attempt_ended(&self, index: usize, result: Result<(), &OllamaError>) {
        let Some(backend) = self.list.get(index) else {
            return;
        };
        if backend.state.load(Relaxed) == DOWN {
            // Finished while set aside: the probes tell from now on.
            return;
        }
        let others = self.others_can_serve(index);
        let Some((error, model_missing)) = self.verdict(backend, result, others) else {
            return;
        };
        // Without a hub (test mode) there is nothing to step back from:
        // the last backend that can serve stays, and its buyers get
        // Ollama's own errors, as with one Ollama.
        if others || self.policy.has_hub {
            self.went_down(backend, error, model_missing, true);
        }
    }

    /// Whether an attempt's end sets `backend` aside, and why (with
    /// whether the model is missing); `others`: whether another backend
    /// can serve.
    fn verdict(
        &self,
        backend: &Backend,
        result: Result<(), &OllamaError>,
        others: bool,
    ) -> Option<(String, bool)> {
        let Err(error) = result else {
            self.came_up(backend);
            return None;
        };
        let who = self.who(backend);
        // It answered 200, then failed before the first piece: as for a
        // 5xx (the relay reports an attempt that gave a piece as a
        // success). Ollama's own text stays out: the reason goes to the
        // log and `--status`.
        let broke_off = |what: &str| Some(format!("{what} before its first piece"));
        let what = match error.kind() {
            ErrorKind::Unreachable => {
                let in_a_row = {
                    let mut health = backend.lock();
                    health.unreachable_in_a_row += 1;
                    health.unreachable_in_a_row
                };
                let cause = error.source().map(ToString::to_string).unwrap_or_default();
                let reason = match (others, in_a_row >= self.policy.down_after) {
                    (true, _) => format!("{who} does not answer: {cause}"),
                    (false, true) if in_a_row == 1 => format!("a request could not reach {who}"),
                    (false, true) => format!("{in_a_row} requests in a row could not reach {who}"),
                    (false, false) => return None,
                };
                return Some((reason, false));
            }
            ErrorKind::ModelMissing => return Some(self.missing_model(backend)),
            ErrorKind::Http(status @ 500..) => Some(format!("answered HTTP {status}")),
            // An error of Ollama's own: the request's, the same anywhere.
            ErrorKind::Http(_) => None,
            ErrorKind::ErrorLine => broke_off("sent an error line"),
            ErrorKind::BadLine => broke_off("sent a line that is not JSON"),
            ErrorKind::LineTooLong => broke_off("sent a line over max_line_bytes"),
            ErrorKind::Cut => broke_off("cut its answer"),
            // Timeouts, the owner's limit and shutdown say nothing about
            // its health.
            _ => return None,
        };
        // Ollama answered: the last one up keeps serving, its error goes
        // to the buyer.
        backend.lock().unreachable_in_a_row = 0;
        what.filter(|_| others)
            .map(|what| (format!("{who} {what}"), false))
    }

    /// Why `backend` cannot serve when it does not have the model.
    fn missing_model(&self, backend: &Backend) -> (String, bool) {
        let (who, model) = (self.who(backend), &backend.target.model);
        (format!("{who} does not have the model {model}"), true)
    }

    /// Sets `backend` aside; the first time in a spell, says so at WARN
    /// with what the owner can do, and wakes the prober.
    fn went_down(&self, backend: &Backend, error: String, model_missing: bool, from_answer: bool) {
        let mut health = backend.lock();
        let since = health.down.as_ref().map(|down| down.since);
        health.down = Some(Down {
            since: since.unwrap_or_else(SystemTime::now),
            error: error.clone(),
            model_missing,
        });
        backend.state.store(DOWN, Relaxed);
        if since.is_some() {
            // The same spell: said already, and the probes are scheduled.
            return;
        }
        health.failed_probes = 0;
        health.next_probe = Some(Instant::now() + self.policy.probe_every);
        drop(health);
        let fix = match (model_missing, backend.target.api) {
            (true, ollama::Api::Ollama) => {
                format!(" (install it: ollama pull {})", backend.target.model)
            }
            (true, ollama::Api::OpenAi) => {
                " (load it there, or name it as its GET /v1/models does)".into()
            }
            (false, _) => String::new(),
        };
        let meanwhile = match (self.any_can_serve(), from_answer) {
            (true, _) => "the other backends serve meanwhile",
            (false, true) => "stepping back from the hub until it does",
            (false, false) => "not connecting to the hub until it does",
        };
        let every = self.policy.probe_every.as_secs_f64();
        // Told first: once the log says so, the metrics and the admission do.
        self.wake_prober();
        self.tell_watchers();
        log::warn!("{error}{fix}; {meanwhile}, asking every {every} s");
    }

    /// Marks `backend` up; tells the watchers when that is news (one
    /// not asked yet coming up is news for the metrics too), and logs it
    /// once when it had been down.
    fn came_up(&self, backend: &Backend) {
        let was = backend.state.swap(UP, Relaxed);
        let was_down = {
            let mut health = backend.lock();
            health.unreachable_in_a_row = 0;
            health.next_probe = None;
            health.down.take().is_some()
        };
        if was != UP {
            self.tell_watchers();
        }
        if was_down {
            log::info!(
                "{} answers again and has {}",
                self.who(backend),
                backend.target.model
            );
        }
    }

    /// Asks a backend whether it answers and has the model.
    fn probe(&self, backend: &Backend) -> Result<(), (String, bool)> {
        let target = &backend.target;
        let unreachable =
            |e: ollama::ApiError| (format!("{} does not answer: {e}", self.who(backend)), false);
        // An OpenAI-compatible server's list of models says it answers.
        if target.api == ollama::Api::Ollama {
            ollama::version(target, PROBE_TIMEOUT).map_err(unreachable)?;
        }
        let installed = ollama::installed_models(target, PROBE_TIMEOUT).map_err(unreachable)?;
        match ollama::is_installed(target, &installed) {
            true => Ok(()),
            false => Err(self.missing_model(backend)),
        }
    }

    /// Loads the model on a backend (with `warm_up`); the load time, logged.
    fn warm_up(&self, backend: &Backend) -> Option<Duration> {
        if !self.policy.warm_up {
            return None;
        }
        let target = &backend.target;
        let on = match self.list.len() {
            1 => String::new(),
            _ => format!(" on {}", backend.name),
        };
        let loaded = ollama::load_model(target, target.load_timeout);
        match loaded {
            Ok(took) => {
                log::info!(
                    "warm-up: model {}{on} loaded in {:.2} s",
                    target.model,
                    took.as_secs_f64()
                );
                Some(took)
            }
            Err(e) => {
                // Buyers will tell whether it matters; the probe said it
                // answers and has the model.
                log::warn!("warm-up: model {}{on} did not load: {e}", target.model);
                None
            }
        }
    }

    /// Probes backend `index`, warms it up when it answers (with
    /// `warm_up`), and marks it up or down. Returns the warm-up's load time.
    fn look_at(&self, index: usize) -> Option<Duration> {
        let backend = self.list.get(index)?;
        match self.probe(backend) {
            Ok(()) => {
                let took = self.warm_up(backend);
                self.came_up(backend);
                took
            }
            Err((error, model_missing)) => {
                self.went_down(backend, error, model_missing, false);
                None
            }
        }
    }

    /// The first look at every backend not asked yet (at start, before
    /// the hub is told this box serves): probes them (at once, when there
    /// are several), and warms up those that answer. Returns the longest
    /// warm-up's load time.
    pub fn first_look(&self) -> Option<Duration> {
        let unknown: Vec<usize> = (0..self.list.len())
            .filter(|i| self.list[*i].state.load(Relaxed) == UNKNOWN)
            .collect();
        let took: Vec<Option<Duration>> = match unknown.as_slice() {
            [one] => vec![self.look_at(*one)],
            several => thread::scope(|scope| {
                let looks: Vec<_> = several
                    .iter()
                    .map(|&i| scope.spawn(move || self.look_at(i)))
                    .collect();
                looks.into_iter().map(|l| l.join().ok().flatten()).collect()
            }),
        };
        took.into_iter().flatten().max()
    }

    /// Frees the GPU for the owner: asks every Ollama backend that is up to
    /// unload the model (an OpenAI-compatible server cannot be asked), one
    /// after another. Each one asked counts as not looked at since, so
    /// that the box's return probes it and warms the model up again
    /// (`first_look`) before buyers come.
    pub fn unload_all(&self) {
        for backend in self.list.iter().filter(|b| b.is_up()) {
            match ollama::unload_model(&backend.target, PROBE_TIMEOUT) {
                Ok(false) => {}
                Ok(true) => {
                    log::info!(
                        "{} unloaded the model {} to free the GPU",
                        self.who(backend),
                        backend.target.model
                    );
                    backend.state.store(UNKNOWN, Relaxed);
                }
                // Buyers are away anyway; the warm-up on return still
                // finds out whether it answers.
                Err(e) => log::warn!(
                    "{} was asked to unload the model {} and did not: {e}",
                    self.who(backend),
                    backend.target.model
                ),
            }
        }
    }

    /// Starts the `prober` thread, once.
    pub fn start_prober(self: &Arc<Backends>) -> std::io::Result<()> {
        if self.prober_started.swap(true, Relaxed) {
            return Ok(());
        }
        let backends = Arc::clone(self);
        thread::Builder::new()
            .name("prober".into())
            .spawn(move || backends.probe_forever())
            .map(drop)
    }

    /// Stops the probes while the owner pauses the box (`true`); resumes
    /// them, with those due meanwhile at once (`false`).
    pub fn hold(&self, held: bool) {
        self.held.store(held, Relaxed);
        if !held {
            self.wake_prober();
        }
    }

    fn wake_prober(&self) {
        let _guard = self.prober_lock.lock().unwrap_or_else(|p| p.into_inner());
        self.prober.notify_all();
    }

    /// The prober's loop: sleeps until the next probe is due (without a
    /// timeout while nothing is down or the box is paused), then asks the
    /// backends whose turn it is.
    fn probe_forever(&self) {
        loop {
            let due = {
                let guard = self.prober_lock.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                // Nothing is probed while the owner pauses the box.
                match self.next_probe().filter(|_| !self.held.load(Relaxed)) {
                    None => {
                        drop(self.prober.wait(guard));
                        continue;
                    }
                    Some(at) if at > now => {
                        drop(self.prober.wait_timeout(guard, at - now));
                        continue;
                    }
                    Some(_) => self.due_now(now),
                }
            };
            for index in due {
                self.probe_due(index);
            }
        }
    }

    /// The earliest probe due among the backends that are down.
    fn next_probe(&self) -> Option<Instant> {
        let down = self.list.iter().filter(|b| !b.can_serve());
        down.filter_map(|b| b.lock().next_probe).min()
    }

    fn due_now(&self, now: Instant) -> Vec<usize> {
        let due = |i: &usize| {
            let backend = &self.list[*i];
            !backend.can_serve() && backend.lock().next_probe.is_some_and(|at| at <= now)
        };
        (0..self.list.len()).filter(due).collect()
    }

    /// Probes one backend whose turn it is; on failure, schedules the next
    /// probe (see [`probe_delay`]).
    fn probe_due(&self, index: usize) {
        self.look_at(index);
        let Some(backend) = self.list.get(index) else {
            return;
        };
        let others_serve = self.others_can_serve(index);
        let mut health = backend.lock();
        if health.down.is_none() {
            return;
        }
        health.failed_probes = health.failed_probes.saturating_add(1);
        let delay = probe_delay(self.policy.probe_every, health.failed_probes, others_serve);
        health.next_probe = Some(Instant::now() + delay);
    }
}

/// The wait before the next probe of a backend after `failed` probes in a
/// row: `every` while no other backend serves (coming back fast is what
/// matters then), else `every` doubled per failure, up to a minute (or
/// `every`, when that is longer).
fn probe_delay(every: Duration, failed: u32, others_serve: bool) -> Duration {
    if !others_serve {
        return every;
    }
    let cap = PROBE_BACKOFF_MAX.max(every);
    let factor = 1u32 << failed.min(16);
    every.saturating_mul(factor).min(cap)
}

#[cfg(test)]
impl Backend {
    /// The recent time to first piece; `None` before the first answer.
    pub fn first_piece(&self) -> Option<Duration> {
        let us = self.first_piece_us();
        (us > 0).then(|| Duration::from_micros(us))
    }
}

/// Backends at `urls` for unit tests elsewhere: one slot each, probed
/// hourly at the most, with a hub to step back from.
#[cfg(test)]
pub fn for_tests(urls: &[&str], down_after: usize) -> Arc<Backends> {
    for_tests_with(urls, down_after, true)
}

/// The same, with or without a hub.
#[cfg(test)]
pub fn for_tests_with(urls: &[&str], down_after: usize, has_hub: bool) -> Arc<Backends> {
    let backend = |url: &&str| {
        let target = OllamaTarget {
            base_url: crate::address::OllamaUrl::parse(url, 11434).unwrap(),
            api: ollama::Api::Ollama,
            api_key: None,
            include_usage: true,
            send_reasoning: false,
            roots: ollama::RootCerts::WebPki,
            model: "llama3.2".into(),
            keep_alive: None,
            options: Default::default(),
            load_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(1),
            max_line_bytes: 1024,
            max_answer_tokens: 0,
            max_answer_time: Duration::ZERO,
        };
        let name = url.split_once("://").map_or(*url, |(_, rest)| rest);
        Backend::new(name.into(), target, 1)
    };
    let policy = Policy {
        down_after,
        probe_every: Duration::from_secs(3600),
        warm_up: false,
        has_hub,
    };
    Backends::new(urls.iter().map(backend).collect(), policy)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn unreachable() -> OllamaError {
        OllamaError::refused("http://127.0.0.1:1")
    }

    fn http(status: u16) -> OllamaError {
        OllamaError::Http {
            status,
            message: String::new(),
        }
    }

    fn missing() -> OllamaError {
        OllamaError::ModelMissing {
            model: "llama3.2".into(),
        }
    }

    fn states(backends: &Backends) -> Vec<bool> {
        backends.list().iter().map(Backend::can_serve).collect()
    }

    /// Counts the times watchers were told.
    #[derive(Default)]
    struct Told(AtomicUsize);

    impl Watcher for Told {
        fn backends_changed(&self) {
            self.0.fetch_add(1, Relaxed);
        }
    }

    /// Looks, when told, whether the watchers' lock is free, and
    /// registers another watcher.
    struct Meddler {
        backends: Arc<Backends>,
        lock_was_free: Mutex<Vec<bool>>,
        other: Arc<Told>,
    }

    impl Watcher for Meddler {
        fn backends_changed(&self) {
            let free = self.backends.watchers.try_lock().is_ok();
            self.lock_was_free
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(free);
            if free {
                self.backends.watch(&self.other);
            }
        }
    }

    #[test]
    fn watchers_are_told_with_the_watchers_lock_free() {
        let backends = for_tests(&["http://a:1", "http://b:1"], 3);
        let meddler = Arc::new(Meddler {
            backends: Arc::clone(&backends),
            lock_was_free: Mutex::default(),
            other: Arc::new(Told::default()),
        });
        backends.watch(&meddler);
        backends.attempt_ended(0, Err(&unreachable()));
        backends.attempt_ended(1, Ok(()));
        let seen = meddler.lock_was_free.lock().unwrap().clone();
        assert_eq!(seen, [true, true]);
        assert_eq!(
            meddler.other.0.load(Relaxed),
            1,
            "told from the second change"
        );
        assert_eq!(backends.watchers.lock().unwrap().len(), 3, "two registered");
    }

    #[test]
    fn watchers_are_held_weakly_and_forgotten_once_gone() {
        let backends = for_tests(&["http://a:1", "http://b:1"], 3);
        let told = Arc::new(Told::default());
        backends.watch(&told);
        drop(told);
        backends.attempt_ended(0, Err(&unreachable()));
        assert!(backends.watchers.lock().unwrap().is_empty());
    }

    #[test]
    fn with_others_serving_one_failure_sets_a_backend_aside() {
        let reasons = [
            (unreachable(), "does not answer: io: connection refused"),
            (http(500), "answered HTTP 500"),
            (http(503), "answered HTTP 503"),
            (missing(), "does not have the model llama3.2"),
        ];
        for (error, reason) in reasons {
            let backends = for_tests(&["http://a:1", "http://b:1"], 3);
            let told = Arc::new(Told::default());
            backends.watch(&told);
            backends.attempt_ended(0, Err(&error));
            assert_eq!(states(&backends), [false, true], "{error}");
            assert_eq!(told.0.load(Relaxed), 1);
            let why = backends.statuses()[0].health.clone();
            let Some(Err(down)) = why else {
                panic!("{why:?}")
            };
            assert_eq!(down.error, format!("Ollama backend a:1 {reason}"));
            assert_eq!(
                down.model_missing,
                matches!(error, OllamaError::ModelMissing { .. })
            );
            assert_eq!(backends.why_none_serves(), None, "b serves");
        }
    }

    /// Answers that broke off after their 200, before the first piece.
    fn broken_starts() -> [OllamaError; 4] {
        [
            OllamaError::InStream {
                message: "llama runner: CUDA error".into(),
            },
            OllamaError::BadLine(serde_json::from_str::<u8>("x").unwrap_err()),
            OllamaError::LineTooLong { limit: 1024 },
            OllamaError::Truncated(None),
        ]
    }

    #[test]
    fn a_failure_before_the_first_piece_counts_as_a_5xx() {
        let reasons = [
            "Ollama backend a:1 sent an error line before its first piece",
            "Ollama backend a:1 sent a line that is not JSON before its first piece",
            "Ollama backend a:1 sent a line over max_line_bytes before its first piece",
            "Ollama backend a:1 cut its answer before its first piece",
        ];
        for (error, reason) in broken_starts().iter().zip(reasons) {
            // With another serving: aside at once, Ollama's text left out.
            let backends = for_tests(&["http://a:1", "http://b:1"], 3);
            backends.attempt_ended(0, Err(error));
            assert_eq!(states(&backends), [false, true], "{error}");
            let down = backends.list()[0].lock().down.clone().expect("down");
            assert_eq!(down.error, reason);
            assert!(!down.model_missing);
            // The last one serving stays (its buyer gets the error), and
            // Ollama answered: the unreachable ones in a row start over.
            let one = for_tests(&["http://a:1"], 2);
            one.attempt_ended(0, Err(&unreachable()));
            one.attempt_ended(0, Err(error));
            one.attempt_ended(0, Err(&unreachable()));
            assert_eq!(states(&one), [true], "{error}");
            one.attempt_ended(0, Err(&unreachable()));
            assert_eq!(states(&one), [false], "two in a row");
        }
    }

    #[test]
    fn what_ollama_answered_itself_or_a_timeout_sets_nothing_aside() {
        let backends = for_tests(&["http://a:1", "http://b:1"], 3);
        let quiet = [
            http(400),
            http(404),
            OllamaError::NoFirstLine(Duration::from_secs(1)),
            OllamaError::Stalled(Duration::from_secs(1)),
            OllamaError::TooLong(Duration::from_secs(1)),
            OllamaError::ShuttingDown,
        ];
        for error in &quiet {
            backends.attempt_ended(0, Err(error));
        }
        assert_eq!(states(&backends), [true, true]);
        assert_eq!(backends.statuses()[0].health, None, "not asked yet");
        backends.attempt_ended(0, Ok(()));
        assert_eq!(backends.statuses()[0].health, Some(Ok(())));
        assert!(backends.any_up());
        assert!(backends.any_unknown(), "b not asked yet");
    }

    #[test]
    fn the_last_backend_serving_goes_only_after_down_after_in_a_row_or_its_model() {
        let backends = for_tests(&["http://a:1", "http://b:1"], 3);
        backends.attempt_ended(0, Err(&unreachable()));
        assert_eq!(states(&backends), [false, true]);
        // b is the last: two failures, an answer (starting over), a 500
        // (Ollama answered: starting over, never aside), two more...
        for result in [Err(unreachable()), Err(unreachable()), Ok(())] {
            backends.attempt_ended(1, result.as_ref().map(|_| ()));
        }
        backends.attempt_ended(1, Err(&unreachable()));
        backends.attempt_ended(1, Err(&http(500)));
        backends.attempt_ended(1, Err(&unreachable()));
        backends.attempt_ended(1, Err(&unreachable()));
        assert_eq!(states(&backends), [false, true]);
        backends.attempt_ended(1, Err(&unreachable()));
        assert_eq!(states(&backends), [false, false]);
        let none = backends.why_none_serves().expect("none serves");
        assert!(
            none.error.starts_with("no Ollama backend can serve ("),
            "{}",
            none.error
        );
        assert!(none
            .error
            .contains("3 requests in a row could not reach Ollama backend b:1"));
        assert!(!none.model_missing);
        // What ends while aside changes nothing.
        backends.attempt_ended(1, Ok(()));
        assert_eq!(states(&backends), [false, false]);

        let one = for_tests(&["http://a:1"], 2);
        one.attempt_ended(0, Err(&unreachable()));
        assert_eq!(states(&one), [true]);
        one.attempt_ended(0, Err(&unreachable()));
        assert_eq!(states(&one), [false]);
        let down = one.why_none_serves().expect("down");
        assert_eq!(down.error, "2 requests in a row could not reach Ollama");

        let gone = for_tests(&["http://a:1"], 3);
        gone.attempt_ended(0, Err(&missing()));
        let down = gone.why_none_serves().expect("down");
        assert_eq!(down.error, "Ollama does not have the model llama3.2");
        assert!(down.model_missing);
    }

    #[test]
    fn any_answer_of_ollamas_own_starts_the_count_in_a_row_over() {
        for answered in [http(400), http(500)] {
            let one = for_tests(&["http://a:1"], 2);
            one.attempt_ended(0, Err(&unreachable()));
            one.attempt_ended(0, Err(&answered));
            one.attempt_ended(0, Err(&unreachable()));
            assert_eq!(states(&one), [true], "{answered}");
        }
    }

    #[test]
    fn one_request_that_could_not_reach_ollama_is_said_in_the_singular() {
        let one = for_tests(&["http://a:1"], 1);
        one.attempt_ended(0, Err(&unreachable()));
        let down = one.why_none_serves().expect("down");
        assert_eq!(down.error, "a request could not reach Ollama");
    }

    #[test]
    fn without_a_hub_the_last_backend_is_never_set_aside() {
        let mut list = Arc::try_unwrap(for_tests(&["http://a:1"], 1)).ok().unwrap();
        list.policy.has_hub = false;
        for error in [unreachable(), missing(), unreachable()] {
            list.attempt_ended(0, Err(&error));
        }
        assert_eq!(states(&list), [true]);
    }

    #[test]
    fn a_spell_down_keeps_its_start_and_takes_the_latest_reason() {
        let backends = for_tests(&["http://a:1", "http://b:1"], 3);
        let before = Instant::now();
        backends.went_down(&backends.list()[0], "first".into(), false, true);
        let since = backends.list()[0].lock().down.as_ref().unwrap().since;
        std::thread::sleep(Duration::from_millis(5));
        backends.went_down(&backends.list()[0], "second".into(), true, false);
        let down = backends.list()[0].lock().down.clone().unwrap();
        assert_eq!(
            (down.since, down.error.as_str(), down.model_missing),
            (since, "second", true)
        );
        // The first probe waits `ollama_probe_secs` (an hour here).
        let next = backends.list()[0].lock().next_probe.expect("scheduled");
        assert!(next >= before + Duration::from_secs(3600));
        backends.came_up(&backends.list()[0]);
        assert_eq!(backends.statuses()[0].health, Some(Ok(())));
        assert_eq!(backends.list()[0].lock().next_probe, None);
    }

    #[test]
    fn only_the_down_backends_whose_turn_it_is_are_probed() {
        let backends = for_tests(&["http://a:1", "http://b:1", "http://c:1"], 3);
        for index in [0, 2] {
            backends.went_down(&backends.list()[index], "gone".into(), false, true);
        }
        let now = Instant::now();
        backends.list()[0].lock().next_probe = Some(now);
        // `b` has a schedule but serves: never its turn.
        backends.list()[1].lock().next_probe = Some(now);
        assert_eq!(backends.due_now(now), [0]);
        assert_eq!(
            backends.due_now(now - Duration::from_secs(1)),
            Vec::<usize>::new()
        );
        assert_eq!(backends.next_probe(), Some(now), "`b`'s is not counted");
    }

    #[cfg(target_os = "linux")]
    /// The state letter of this process's thread named `name`.
    fn thread_state(name: &str) -> Option<char> {
        let tasks = std::fs::read_dir("/proc/self/task").ok()?;
        for task in tasks.flatten() {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            if comm.trim_end() == name {
                let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
                return stat.rsplit(')').next()?.trim_start().chars().next();
            }
        }
        None
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_prober_sleeps_until_a_probe_is_due() {
        let backends = for_tests(&["http://127.0.0.1:1", "http://b:1"], 3);
        backends.went_down(&backends.list()[0], "gone".into(), false, true);
        backends.start_prober().unwrap();
        // Its next probe is an hour away: every look finds it asleep, never
        // running (a loop that did not wait would be seen running).
        let states = states_of("prober");
        assert!(states.chars().all(|c| c == 'S'), "{states}");
    }

    /// The state letters of this process's thread named `name`, looked at
    /// 50 times over 100 ms once it exists: all `S` when it sleeps, and a
    /// loop that does not wait is seen running.
    #[cfg(target_os = "linux")]
    pub(crate) fn states_of(name: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        while thread_state(name).is_none() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(1));
        }
        let mut states = String::new();
        for _ in 0..50 {
            states.push(thread_state(name).unwrap_or('?'));
            thread::sleep(Duration::from_millis(2));
        }
        states
    }

    #[test]
    fn the_time_to_first_piece_is_a_moving_average() {
        let backends = for_tests(&["http://a:1"], 3);
        let a = &backends.list()[0];
        assert_eq!(a.first_piece(), None);
        a.saw_first_piece(Duration::from_millis(400));
        assert_eq!(a.first_piece(), Some(Duration::from_millis(400)));
        a.saw_first_piece(Duration::from_millis(800));
        assert_eq!(a.first_piece(), Some(Duration::from_millis(500)));
        a.saw_first_piece(Duration::ZERO);
        assert_eq!(a.first_piece(), Some(Duration::from_micros(375_000)));
    }

    #[test]
    fn a_probe_that_finds_nothing_keeps_a_backend_down_and_backs_off() {
        // Port 1 refuses at once; then `b` serves, so the next probe of `a`
        // backs off: twice `ollama_probe_secs`.
        let urls = ["http://127.0.0.1:1", "http://127.0.0.1:1/b"];
        let mut backends = Arc::try_unwrap(for_tests(&urls, 3)).ok().unwrap();
        backends.policy.probe_every = Duration::from_secs(10);
        assert_eq!(backends.first_look(), None);
        assert_eq!(states(&backends), [false, false]);
        backends.list()[1].state.store(UP, Relaxed);
        let before = Instant::now();
        backends.probe_due(0);
        let health = backends.list()[0].lock();
        assert_eq!(health.failed_probes, 1);
        let next = health.next_probe.expect("scheduled");
        let after = Instant::now();
        assert!(next >= before + Duration::from_secs(20), "backed off");
        assert!(next <= after + Duration::from_secs(20));
        assert!(health
            .down
            .as_ref()
            .unwrap()
            .error
            .contains("does not answer"));
    }

    #[test]
    fn probes_back_off_only_while_others_serve() {
        let every = Duration::from_secs(10);
        assert_eq!(probe_delay(every, 1, false), every);
        assert_eq!(probe_delay(every, 9, false), every);
        assert_eq!(probe_delay(every, 1, true), Duration::from_secs(20));
        assert_eq!(probe_delay(every, 2, true), Duration::from_secs(40));
        assert_eq!(probe_delay(every, 3, true), Duration::from_secs(60));
        assert_eq!(probe_delay(every, 40, true), Duration::from_secs(60));
        let long = Duration::from_secs(300);
        assert_eq!(probe_delay(long, 3, true), long, "never below the owner's");
    }
}
