//! Whether this box takes buyers now, and the one place that decides it.
//!
//! Two things take the box off the market. The owner: `--pause [DURATION]`
//! (through the control socket) until a time or `--resume`, kept in
//! `paused.json` (`pause`) so that a restart does not end it; and the
//! owner's rules, which act as that pause would: outside `sell_hours`
//! (`hours`, looked at by the `hours` thread at each boundary and at least
//! once a minute), and while the GPU guard (`gpu`, which tells this module
//! as a [`GuardWatcher`]) finds a GPU too hot or used by another program.
//! [`OwnerAway`] is the one answer to "away for the owner, and why",
//! decided in `decide` whenever one of them changes. And Ollama:
//! no backend left that can serve (`backends` sets them aside: unreachable
//! for `ollama_down_after` requests in a row, the model no longer
//! installed, ...). Either way the relay's [`Admission`] closes: new requests
//! are refused with the reason, and once the accepted ones are answered
//! the writer closes the hub connection with Close 1000, so the hub routes
//! elsewhere (the protocol's way of being unavailable).
//!
//! The connection loop then waits here, in [`Gate::wait_open`], on a
//! condition variable: with no timeout while paused until `--resume`, until
//! the pause's end when it has one, and while no backend can serve until
//! the `backends` prober brings one back (it probes every
//! `ollama_probe_secs` and warms the model up first), which it is told as
//! a [`Watcher`]. A pause or resume wakes it at once. Before the first
//! connection, and after a pause that began before any, it takes the first
//! look at every backend itself, so a box that boots the client before
//! Ollama sells nothing that fails.
//!
//! While away for the owner, the gate first asks the backends to unload
//! the model (`unload_on_pause`), so the GPU's memory is the owner's; they
//! then count as not looked at, so the return warms the model up again.
//!
//! A manual `--pause` or `--resume` wins over the selling hours until their
//! next boundary: a `--pause` without a duration ends there, and a
//! `--resume` outside the hours sells until there (from the boundary on the
//! hours decide again).
//!
//! `--status` reads [`Availability::status`].

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use crate::backends::{BackendStatus, Backends, Down, Watcher};
use crate::gpu::{Guard, GuardStatus, GuardWatcher, Trouble};
use crate::hours::{self, Look, SellHours, SystemZone, Zone};
use crate::hub::{Connection, Gate};
use crate::ledger::Ledger;
use crate::metrics::{Health, Metrics};
use crate::pause::{self, Pause};
use crate::relay::{Admission, Refusal};
use crate::text::{self, errors};
use crate::time::{self, Millis};

/// A snapshot for `--status`.
#[derive(Clone, Debug)]
pub struct Status {
    pub uptime: Duration,
    pub model: String,
    pub hub: Connection,
    /// Ollama as the box last saw it, as for one backend: up when some
    /// backend is, down when none can serve (with the last reason), `None`
    /// before anyone asked.
    pub ollama: Option<Result<(), Down>>,
    /// Each backend, in the listed order.
    pub backends: Vec<BackendStatus>,
    pub paused: Option<Pause>,
    /// Whether the box is away for the owner (a pause, the selling hours,
    /// the GPU guard), and why: the first of them that holds.
    pub owner_away: Option<OwnerAway>,
    /// The selling hours and where they stand; `None` without `sell_hours`.
    pub hours: Option<HoursStatus>,
    /// What the GPU guard read last; `None` when it is off.
    pub gpu: Option<GuardStatus>,
    /// Requests a worker is answering, and waiting for one.
    pub running: i64,
    pub queued: i64,
}

impl Status {
    /// Connected, not paused, Ollama up: buyers are being served.
    pub fn serving(&self) -> bool {
        self.readiness().is_ok()
    }

    /// Whether buyers are served, or why not, in English: the one rule
    /// behind `--status`, `/readyz` and the gauges. An Ollama known to be
    /// down comes before the hub: the box stays away from the hub because
    /// of it. An Ollama not seen yet is not ready; the running client asks
    /// it before it connects, so that only happens before the hub is up.
    pub fn readiness(&self) -> Result<(), String> {
        if let Some(away) = &self.owner_away {
            return Err(away.describe());
        }
        let connected = matches!(self.hub, Connection::Connected(_));
        match &self.ollama {
            Some(Err(down)) if down.model_missing => Err(format!(
                "the model {} is not installed on Ollama",
                text::outside(&self.model)
            )),
            Some(Err(_)) => Err("Ollama is not reachable".into()),
            _ if !connected => Err("not connected to the hub".into()),
            None => Err("Ollama not checked yet".into()),
            Some(Ok(())) => Ok(()),
        }
    }

    /// What the metrics port shows: the gauges and `/readyz`.
    pub fn health(&self) -> Health {
        let backends_up = self.backends.iter().map(|backend| {
            let up = backend.health.as_ref().map(Result::is_ok);
            (backend.name.clone(), up)
        });
        let away = match (&self.owner_away, &self.ollama) {
            (Some(owner), _) => Some(owner.kind()),
            (None, Some(Err(_))) => Some("ollama"),
            (None, _) => None,
        };
        let gpus = self.gpu.iter().flat_map(|guard| &guard.gpus);
        let gpus = gpus.map(|gpu| (gpu.id.clone(), gpu.temp_c, gpu.busy_percent));
        Health {
            hub_connected: matches!(self.hub, Connection::Connected(_)),
            paused: self.paused.is_some(),
            away,
            gpus: gpus.collect(),
            ollama_up: self.ollama.as_ref().map(Result::is_ok),
            backends_up: backends_up.collect(),
            ready: self.readiness(),
        }
    }
}

/// Why the box is away for its owner: the first of the owner's rules that
/// holds.
#[derive(Clone, Debug, PartialEq)]
pub enum OwnerAway {
    /// `--pause`.
    Paused,
    /// Outside `sell_hours` (and no `--resume` since the last boundary).
    OutsideHours,
    /// The GPU guard: too hot, or another program uses the GPU.
    Gpu(Trouble),
}

impl OwnerAway {
    /// The reason's name, as the ledger, `--status --json` and the
    /// metrics' `reason` label write it.
    pub fn kind(&self) -> &'static str {
        match self {
            OwnerAway::Paused => "paused",
            OwnerAway::OutsideHours => "outside_hours",
            OwnerAway::Gpu(trouble) => trouble.kind(),
        }
    }

    /// In English, for the log, `/readyz` and the status's reason.
    pub fn describe(&self) -> String {
        match self {
            OwnerAway::Paused => "paused by the owner".into(),
            OwnerAway::OutsideHours => "outside the selling hours".into(),
            OwnerAway::Gpu(trouble) => trouble.describe(),
        }
    }
}

/// The selling hours for `--status`.
#[derive(Clone, Debug, PartialEq)]
pub struct HoursStatus {
    /// The windows as the owner wrote them.
    pub windows: Vec<String>,
    pub selling: bool,
    /// When the hours change next (`None`: never, every day 00:00-24:00).
    pub next_change: Option<Millis>,
    /// A `--resume` outside the hours: the box sells until then.
    pub resumed_until: Option<Millis>,
}

/// The owner's standing rules, from the settings, and the clock the
/// selling hours are read on.
#[derive(Default)]
pub struct OwnerRules {
    /// `sell_hours`; `None` when not set (or empty).
    pub sell_hours: Option<SellHours>,
    /// `unload_on_pause`.
    pub unload_on_pause: bool,
    /// The system's clock and zone; a test's own in tests.
    pub clock: Clock,
}

/// Why the box stepped back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Away {
    Owner,
    Ollama,
}

struct State {
    pause: Option<Pause>,
    hub: Connection,
    /// Set while the admission is closed for one of the reasons.
    away: Option<Away>,
    /// The owner's reason to be away, as `decide` last found it.
    owner: Option<OwnerAway>,
    /// The selling hours as last looked at; `None` without `sell_hours`.
    hours: Option<Look>,
    /// A `--resume` outside the selling hours: sell until this boundary.
    resumed_until: Option<Millis>,
    /// What the GPU guard last said holds the box away.
    gpu: Option<Trouble>,
    /// Set once the backends were asked to unload the model for the
    /// current step back (cleared when the box returns).
    unloaded: bool,
}

impl State {
    /// The first of the owner's rules that holds now.
    fn owner_rule(&self, now: Millis) -> Option<OwnerAway> {
        if self.pause.is_some() {
            return Some(OwnerAway::Paused);
        }
        let resumed = self.resumed_until.is_some_and(|until| now < until);
        if self.hours.is_some_and(|look| !look.selling) && !resumed {
            return Some(OwnerAway::OutsideHours);
        }
        self.gpu.clone().map(OwnerAway::Gpu)
    }
}

pub struct Availability {
    state: Mutex<State>,
    changed: Condvar,
    admission: Arc<Admission>,
    metrics: Arc<Metrics>,
    ledger: Option<Arc<Ledger>>,
    backends: Arc<Backends>,
    /// Whether there is a hub to step back from (test mode without a token
    /// has none, and nothing would reopen the admission).
    has_hub: bool,
    started: Instant,
    pause_file: PathBuf,
    rules: OwnerRules,
    /// The GPU guard, once started (`watch_gpus`).
    guard: std::sync::OnceLock<Arc<Guard>>,
    /// Set once the ledger has its `start` line: a step back found at
    /// start is written after it (`start_recording`).
    recording: std::sync::atomic::AtomicBool,
}

/// Where the selling hours read the time: the system's clock and time
/// zone, or a test's, which it sets and moves.
pub struct Clock {
    pub now: Box<dyn Fn() -> Millis + Send + Sync>,
    pub zone: Box<dyn Zone + Send + Sync>,
}

impl Default for Clock {
    /// The system's.
    fn default() -> Clock {
        Clock {
            now: Box::new(time::now),
            zone: Box::new(SystemZone),
        }
    }
}

impl Availability {
    /// Starts with the pause saved in `pause_file`, if any (a file that
    /// cannot be read is reported, and the box serves), and the selling
    /// hours as they stand now; watches the backends.
    pub fn new(
        admission: Arc<Admission>,
        metrics: Arc<Metrics>,
        ledger: Option<Arc<Ledger>>,
        backends: Arc<Backends>,
        has_hub: bool,
        pause_file: PathBuf,
        rules: OwnerRules,
    ) -> Arc<Availability> {
        let pause = pause::load(&pause_file).unwrap_or_else(|why| {
            log::warn!(
                "{why}: taken as not paused, so the box sells; --pause pauses it again \
                 (and replaces the file)"
            );
            None
        });
        let availability = Arc::new(Availability {
            state: Mutex::new(State {
                pause: None,
                hub: Connection::Away,
                away: None,
                owner: None,
                hours: None,
                resumed_until: None,
                gpu: None,
                unloaded: false,
            }),
            changed: Condvar::new(),
            admission,
            metrics,
            ledger,
            backends: Arc::clone(&backends),
            has_hub,
            started: Instant::now(),
            pause_file,
            rules,
            guard: std::sync::OnceLock::new(),
            recording: std::sync::atomic::AtomicBool::new(false),
        });
        backends.watch(&availability);
        // Without a hub (test mode with no token) there is nothing to pause:
        // the owner is trying Ollama at the terminal.
        if let Some(pause) = pause.filter(|_| availability.has_hub) {
            log::info!("still paused by the owner ({})", describe(&pause));
            drop(availability.set_pause(pause, false));
        }
        if availability.has_hub {
            let mut state = availability.lock();
            availability.look_at_hours(&mut state);
        }
        availability
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What `--status` shows.
    pub fn status(&self) -> Status {
        let state = self.lock();
        let (hub, pause, owner_away) = (state.hub, state.pause, state.owner.clone());
        let hours = self.rules.sell_hours.as_ref().zip(state.hours);
        let hours = hours.map(|(rule, look)| HoursStatus {
            windows: rule.entries().to_vec(),
            selling: look.selling,
            next_change: look.next_change,
            resumed_until: state.resumed_until,
        });
        drop(state);
        let ollama = match self.backends.any_up() {
            true => Some(Ok(())),
            false => self.backends.why_none_serves().map(Err),
        };
        Status {
            uptime: self.started.elapsed(),
            model: self.model(),
            hub,
            ollama,
            backends: self.backends.statuses(),
            paused: pause,
            owner_away,
            hours,
            gpu: self.guard.get().map(|guard| guard.status()),
            running: self.metrics.requests_running(),
            queued: self.metrics.queue_depth(),
        }
    }

    fn model(&self) -> String {
        let first = self.backends.list().first();
        first.map(|b| b.target.model.clone()).unwrap_or_default()
    }

    /// The owner's `--pause`: running answers finish, new requests get
    /// `Error: owner paused`, then the hub connection closes. Saved, so
    /// that it outlives a restart; an error saving it is returned (the
    /// pause holds until this process ends).
    pub fn pause(&self, pause: Pause) -> Result<(), String> {
        let pause = self.until_next_boundary(pause);
        log::info!(
            "paused by the owner ({}): running answers finish, then the hub connection closes",
            describe(&pause)
        );
        let state = self.set_pause(pause, true);
        // Under the lock: a resume in between would otherwise remove the
        // file before this writes it, and the next start would be paused.
        self.keep(&state, Some(pause))
    }

    /// With selling hours, a pause without a duration lasts until their
    /// next boundary (from there the hours decide again); a pause with a
    /// duration is the owner's own word and stands.
    pub fn until_next_boundary(&self, pause: Pause) -> Pause {
        let next = self.lock().hours.and_then(|look| look.next_change);
        match (pause, next) {
            (Pause::Indefinite, Some(next)) => Pause::Until(time::system_time(next)),
            _ => pause,
        }
    }

    /// Pauses; `record` writes the ledger's `pause` line (not for a pause
    /// found at start, which the ledger already has). Returns the lock,
    /// still held.
    fn set_pause(&self, pause: Pause, record: bool) -> MutexGuard<'_, State> {
        let mut state = self.lock();
        state.pause = Some(pause);
        state.resumed_until = None;
        if let (Some(ledger), true) = (&self.ledger, record) {
            ledger.paused(pause.until_millis());
        }
        self.decide(&mut state, "--pause");
        state
    }

    /// The owner's `--resume`: the connection loop connects again at once,
    /// or, while the last answers of the pause still drain, the connection
    /// stays and takes buyers again. Outside the selling hours it sells
    /// until their next boundary. False when the box was neither paused
    /// nor outside the hours.
    pub fn resume(&self, reason: &str) -> Result<bool, String> {
        // A pause that ends outside the hours leaves the box away for them:
        // the owner asked to sell, so the resume covers the hours too.
        let ended_pause = self.end_pause(None, reason)?;
        let mut state = self.lock();
        if state.owner != Some(OwnerAway::OutsideHours) {
            return Ok(ended_pause);
        }
        let until = state.hours.and_then(|look| look.next_change);
        state.resumed_until = Some(until.unwrap_or(Millis::MAX));
        log::info!(
            "resumed by the owner outside the selling hours ({reason}): selling until {}",
            until.map_or_else(|| "--pause".into(), time::format)
        );
        self.decide(&mut state, reason);
        Ok(true)
    }

    /// The timed pause `expired` is over: it ends, unless the owner paused
    /// again since (that newer pause stays). False when it did not end.
    fn expire(&self, expired: Pause) -> Result<bool, String> {
        self.end_pause(Some(expired), "the pause's time is up")
    }

    /// Ends the pause, any one (`only`: `None`) or only that one, in one
    /// step under the lock, and saves that it ended.
    fn end_pause(&self, only: Option<Pause>, reason: &str) -> Result<bool, String> {
        let mut state = self.lock();
        let ends = state.pause.is_some() && only.is_none_or(|only| state.pause == Some(only));
        if !ends {
            return Ok(false);
        }
        state.pause = None;
        log::info!("resumed ({reason})");
        if let Some(ledger) = &self.ledger {
            ledger.resumed(reason);
        }
        self.decide(&mut state, reason);
        self.keep(&state, None).map(|()| true)
    }

    /// Looks at the owner's rules again after one changed (`why`, for the
    /// ledger's `back` line): the one place that steps back for the owner
    /// and returns. Stepping back closes the admission (as `--pause`
    /// always did: running answers finish, buyers get `Error: owner
    /// paused`, then Close 1000) and stops the probes; returning lets the
    /// gate open, or keeps a connection whose last answers still drain.
    fn decide(&self, state: &mut State, why: &str) {
        let now = state.owner_rule((self.rules.clock.now)());
        if now == state.owner {
            return;
        }
        let before = std::mem::replace(&mut state.owner, now.clone());
        self.record(state, before.as_ref(), why);
        match now {
            Some(_) => {
                self.backends.hold(true);
                if state.away != Some(Away::Owner) {
                    state.away = Some(Away::Owner);
                    let refusal = Refusal {
                        reason: errors::buyer_owner_paused(),
                        kind: "paused",
                        queued_too: false,
                    };
                    self.admission.close(refusal, "owner paused");
                }
            }
            None => {
                self.backends.hold(false);
                self.keep_connection(state);
            }
        }
        self.changed.notify_all();
    }

    /// Says a change of the owner's reason other than a pause (whose own
    /// lines say it): the log for the selling hours (the GPU guard logs its
    /// own decisions), the ledger's `away` and `back` lines.
    fn record(&self, state: &State, before: Option<&OwnerAway>, why: &str) {
        let now = state.owner.as_ref();
        if now == Some(&OwnerAway::OutsideHours) {
            let next = state.hours.and_then(|look| look.next_change);
            log::info!(
                "outside the selling hours: no buyers until {}",
                next.map_or_else(|| "--resume".into(), time::format)
            );
        } else if now.is_none() && before == Some(&OwnerAway::OutsideHours) {
            log::info!("selling again ({why})");
        }
        self.ledger_change(before, now, why);
    }

    /// The ledger's `away` line for a new reason, or its `back` line, once
    /// the ledger has its `start` line.
    fn ledger_change(&self, before: Option<&OwnerAway>, now: Option<&OwnerAway>, why: &str) {
        use std::sync::atomic::Ordering::Relaxed;
        let not_pause = |away: &&OwnerAway| **away != OwnerAway::Paused;
        let Some(ledger) = self
            .ledger
            .as_ref()
            .filter(|_| self.recording.load(Relaxed))
        else {
            return;
        };
        match (before.filter(not_pause), now) {
            (_, Some(away)) if *away != OwnerAway::Paused => {
                ledger.away(away.kind(), &away.describe())
            }
            (Some(_), None) => ledger.back(why),
            _ => {}
        }
    }

    /// From the ledger's `start` line on, each change of the owner's rules
    /// is written to it; a step back that holds at start (other than a
    /// pause, whose line the ledger has) is written now.
    pub fn start_recording(&self) {
        let state = self.lock();
        self.recording
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.ledger_change(None, state.owner.as_ref(), "");
    }

    /// Looks at the selling hours at this moment (a `--resume` past its
    /// boundary lapses), and steps back or returns when they say so.
    fn look_at_hours(&self, state: &mut State) {
        let Some(rule) = &self.rules.sell_hours else {
            return;
        };
        let now = (self.rules.clock.now)();
        let look = rule.look(now, self.rules.clock.zone.as_ref());
        state.hours = Some(look);
        if state.resumed_until.is_some_and(|until| now >= until) {
            state.resumed_until = None;
        }
        self.decide(state, "the selling hours began");
    }

    /// Starts the `hours` thread when `sell_hours` is set (and there is a
    /// hub to step back from): it looks at the hours at each boundary, at
    /// least once a minute so that a clock that jumps is seen (see
    /// `hours::sleep_for`), and whenever the state changes. Whether it
    /// started.
    pub fn watch_hours(self: &Arc<Availability>) -> std::io::Result<bool> {
        if self.rules.sell_hours.is_none() || !self.has_hub {
            return Ok(false);
        }
        let availability = Arc::clone(self);
        std::thread::Builder::new()
            .name("hours".into())
            .spawn(move || availability.hours_forever())
            .map(|_| true)
    }

    fn hours_forever(&self) {
        let mut state = self.lock();
        loop {
            self.look_at_hours(&mut state);
            let Some(look) = state.hours else {
                return;
            };
            let sleep = hours::sleep_for(&look, (self.rules.clock.now)());
            state = match self.changed.wait_timeout(state, sleep) {
                Ok((state, _)) => state,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// Starts the GPU guard (with `gpu_guard`, and a hub to step back
    /// from); it tells this module of each change as a [`GuardWatcher`].
    pub fn watch_gpus(self: &Arc<Availability>, settings: crate::gpu::GuardSettings) {
        if !self.has_hub {
            return;
        }
        let watcher: Arc<dyn GuardWatcher> = Arc::clone(self) as Arc<dyn GuardWatcher>;
        let busy = relay_busy(&self.metrics);
        let guard = Guard::start(settings, busy, Arc::downgrade(&watcher));
        if let Some(guard) = guard {
            let _ = self.guard.set(guard);
            self.gpu_changed();
        }
    }

    /// A resume while the pause drains (its Close not sent yet, waiting for
    /// the last answer): the admission opens again and the Close is cancelled, so
    /// the connection stays. Once the Close went out, the connection ends
    /// and the gate opens the admission for the next one.
    fn keep_connection(&self, state: &mut State) {
        if state.away == Some(Away::Owner)
            && self.backends.any_up()
            && self.admission.reopen_draining()
        {
            state.away = None;
            log::info!("the hub connection stays: resumed before its last answer ended");
        }
    }

    /// Writes the pause to `paused.json`, or removes it; `_held` is the
    /// state's lock, so that the file and the state change together.
    fn keep(&self, _held: &MutexGuard<'_, State>, pause: Option<Pause>) -> Result<(), String> {
        #[cfg(test)]
        tests::saving(self);
        pause::save(&self.pause_file, pause)
    }

    /// The first look at every backend, before the ledger's `start` line
    /// (not while away for the owner: they may be using the GPU): probes them and
    /// warms the model up on those that answer. Returns the longest
    /// warm-up's load time. When none answers, the connection loop waits
    /// for the prober before it connects.
    pub fn first_look(&self) -> Option<Duration> {
        if self.lock().owner.is_some() {
            return None;
        }
        self.backends.first_look()
    }

    /// Waits for a change (pause, resume, a backend back) for at most
    /// `limit`; `None` waits for the change alone.
    fn wait_for_change(&self, state: MutexGuard<'_, State>, limit: Option<Duration>) {
        match limit {
            None => drop(self.changed.wait(state)),
            Some(limit) => drop(self.changed.wait_timeout(state, limit)),
        }
    }
}

/// Whether the relay is answering a request now, for the GPU guard (a GPU
/// busy while it answers nothing is someone else's).
fn relay_busy(metrics: &Arc<Metrics>) -> Arc<dyn Fn() -> bool + Send + Sync> {
    let metrics = Arc::clone(metrics);
    Arc::new(move || metrics.requests_running() > 0)
}

/// "until 2026-12-01T06:00:00.000Z" or "until --resume", for the log.
fn describe(pause: &Pause) -> String {
    match pause.until_millis() {
        Some(ms) => format!("until {}", time::format(ms)),
        None => "until --resume".into(),
    }
}

impl Gate for Availability {
    fn wait_open(&self) -> bool {
        let mut waited = false;
        loop {
            let mut state = self.lock();
            // Back from a step back for the owner: the backends that
            // unloaded the model are looked at (and warmed up) first.
            let unknown = self.backends.any_unknown();
            if state.owner.is_none() && !unknown && self.backends.any_up() {
                state.away = None;
                state.unloaded = false;
                self.admission.open();
                return waited;
            }
            state.hub = Connection::Away;
            waited = true;
            match state.owner {
                // Away for the owner: free the GPU first (once), then wait.
                Some(_) if self.rules.unload_on_pause && !state.unloaded => {
                    state.unloaded = true;
                    drop(state);
                    self.backends.unload_all();
                }
                Some(OwnerAway::Paused) => match state.pause {
                    Some(Pause::Until(end)) => match end.duration_since(SystemTime::now()) {
                        Ok(left) => self.wait_for_change(state, Some(left)),
                        Err(_) => {
                            drop(state);
                            // Only this pause: a `--pause` that came since stays.
                            if let Err(e) = self.expire(Pause::Until(end)) {
                                log::warn!("{e}");
                            }
                        }
                    },
                    _ => self.wait_for_change(state, None),
                },
                // The hours thread and the GPU guard say when this ends.
                Some(_) => self.wait_for_change(state, None),
                // Paused before the first look, the first look still to
                // come, or back after an unload: look now (unlocked: it
                // takes time).
                None if unknown => {
                    drop(state);
                    self.backends.first_look();
                }
                // The prober asks the backends and says when one is back.
                None => self.wait_for_change(state, None),
            }
        }
    }

    fn closed_because(&self) -> Option<String> {
        let state = self.lock();
        Some(match state.away? {
            Away::Owner => match &state.owner {
                Some(owner) => owner.describe(),
                // Returned, this connection still ending for it.
                None => "paused by the owner".into(),
            },
            Away::Ollama => match self.backends.why_none_serves() {
                Some(down) => down.error,
                None => "Ollama cannot serve".into(),
            },
        })
    }

    fn connection(&self, now: Connection) {
        self.lock().hub = now;
    }

    fn sleep(&self, delay: Duration) {
        // Ends early on a step back for the owner, which the gate then
        // waits out; one that came just before the sleep counts too.
        let state = self.lock();
        let waited = self
            .changed
            .wait_timeout_while(state, delay, |state| state.owner.is_none());
        drop(waited.unwrap_or_else(|p| p.into_inner()));
    }
}

/// A backend went down or came back: the box steps back when none can
/// serve (once, with a hub, and not before the first connection: until
/// then nothing is open), and the gate looks again.
impl Watcher for Availability {
    fn backends_changed(&self) {
        let mut state = self.lock();
        let open = state.away.is_none() && self.has_hub && state.hub != Connection::Away;
        if let Some(down) = self.backends.why_none_serves().filter(|_| open) {
            state.away = Some(Away::Ollama);
            let refusal = Refusal::none_serves(down.model_missing, &self.model());
            self.admission.close(refusal, "owner's Ollama is down");
        }
        self.changed.notify_all();
    }
}

/// The GPU guard stepped back or cleared: the box follows.
impl GuardWatcher for Availability {
    fn gpu_changed(&self) {
        let Some(guard) = self.guard.get() else {
            // Started, not stored yet: `watch_gpus` asks again.
            return;
        };
        let away = guard.away();
        let mut state = self.lock();
        if state.gpu != away {
            state.gpu = away;
            self.decide(&mut state, "the GPU guard's conditions have cleared");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends;
    use crate::backends::{Backend, Policy};
    use crate::hub::closes_sent as closes;
    use crate::ollama::OllamaError;
    use std::sync::mpsc;

    /// A status with `ollama`, `hub` and `paused`, nothing else of note.
    fn status_of(
        ollama: Option<Result<(), Down>>,
        hub: Connection,
        paused: Option<Pause>,
    ) -> Status {
        Status {
            uptime: Duration::ZERO,
            model: "llama3\n".into(),
            hub,
            ollama,
            backends: Vec::new(),
            paused,
            owner_away: paused.map(|_| OwnerAway::Paused),
            hours: None,
            gpu: None,
            running: 0,
            queued: 0,
        }
    }

    #[test]
    fn one_rule_says_whether_the_box_serves_and_why_not() {
        let connected = Connection::Connected(SystemTime::now());
        let down = |model_missing| {
            Some(Err(Down {
                since: SystemTime::now(),
                error: "refused".into(),
                model_missing,
            }))
        };
        let cases = [
            (Some(Ok(())), connected, None, Ok(())),
            (
                Some(Ok(())),
                connected,
                Some(Pause::Indefinite),
                Err("paused by the owner"),
            ),
            (
                down(false),
                Connection::Away,
                None,
                Err("Ollama is not reachable"),
            ),
            (
                down(true),
                connected,
                None,
                Err("the model llama3\\n is not installed on Ollama"),
            ),
            (
                Some(Ok(())),
                Connection::Connecting,
                None,
                Err("not connected to the hub"),
            ),
            (
                None,
                Connection::Away,
                None,
                Err("not connected to the hub"),
            ),
            (None, connected, None, Err("Ollama not checked yet")),
        ];
        for (ollama, hub, paused, expected) in cases {
            let status = status_of(ollama.clone(), hub, paused);
            let expected = expected.map_err(String::from);
            assert_eq!(
                status.readiness(),
                expected,
                "{ollama:?} {hub:?} {paused:?}"
            );
            assert_eq!(status.serving(), expected.is_ok());
            let health = status.health();
            assert_eq!(health.ready, expected);
            assert_eq!(health.hub_connected, hub == connected);
            assert_eq!(health.paused, paused.is_some());
        }
    }

    /// An availability whose Ollama is nowhere (port 1) and whose admission
    /// reports to the returned inbox; `paused.json` in a fresh directory,
    /// removed when the returned guard is dropped.
    fn availability(
        down_after: usize,
        has_hub: bool,
    ) -> (Arc<Availability>, crate::hub::Inbox, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let (availability, inbox) =
            availability_with(dir.path().join("paused.json"), down_after, has_hub);
        (availability, inbox, dir)
    }

    fn availability_with(
        pause_file: PathBuf,
        down_after: usize,
        has_hub: bool,
    ) -> (Arc<Availability>, crate::hub::Inbox) {
        let (to_writer, inbox) = crate::hub::writer_channel();
        let backends = backends::for_tests_with(&["http://127.0.0.1:1"], down_after, has_hub);
        let availability = Availability::new(
            Admission::new(to_writer),
            Metrics::new(),
            None,
            backends,
            has_hub,
            pause_file,
            OwnerRules::default(),
        );
        (availability, inbox)
    }

    /// Ends one attempt on the one backend.
    fn attempt(availability: &Availability, result: Result<(), OllamaError>) {
        availability
            .backends
            .attempt_ended(0, result.as_ref().map(|_| ()));
    }

    fn unreachable() -> Result<(), OllamaError> {
        Err(OllamaError::refused("http://127.0.0.1:1"))
    }

    fn model_missing() -> Result<(), OllamaError> {
        Err(OllamaError::ModelMissing {
            model: "llama3.2".into(),
        })
    }

    #[test]
    fn the_last_backend_going_down_steps_back_and_what_ends_meanwhile_changes_nothing() {
        let (availability, inbox, _dir) = availability(3, true);
        availability.connection(Connection::Connected(SystemTime::now()));
        attempt(&availability, Ok(()));
        for _ in 0..2 {
            attempt(&availability, unreachable());
        }
        assert_eq!(availability.closed_because(), None);
        assert!(closes(&inbox).is_empty());
        attempt(&availability, unreachable());
        assert_eq!(
            availability.closed_because().as_deref(),
            Some("3 requests in a row could not reach Ollama")
        );
        assert_eq!(closes(&inbox), ["owner's Ollama is down"]);
        assert_eq!(availability.status().health().ollama_up, Some(false));
        let status = availability.status();
        assert!(matches!(
            status.ollama,
            Some(Err(Down {
                model_missing: false,
                ..
            }))
        ));
        assert!(!status.serving());
        // What ends while away changes nothing: the probes tell.
        attempt(&availability, unreachable());
        attempt(&availability, model_missing());
        attempt(&availability, Ok(()));
        assert_eq!(
            availability.closed_because().as_deref(),
            Some("3 requests in a row could not reach Ollama")
        );
        assert!(closes(&inbox).is_empty());
    }

    #[test]
    fn ollama_going_down_while_paused_keeps_the_pause_as_the_reason() {
        let (availability, inbox, _dir) = availability(1, true);
        availability.connection(Connection::Connected(SystemTime::now()));
        availability.pause(Pause::Indefinite).unwrap();
        assert_eq!(closes(&inbox), ["owner paused"]);
        // An answer still running when the pause came fails: Ollama is
        // down, but the box is away already, for the owner's reason.
        attempt(&availability, unreachable());
        assert!(!availability.backends.any_can_serve());
        assert_eq!(
            availability.closed_because().as_deref(),
            Some("paused by the owner")
        );
        assert!(closes(&inbox).is_empty(), "no second Close");
    }

    #[test]
    fn each_backends_gauge_follows_its_health_and_stays_unset_until_known() {
        let (to_writer, _inbox) = crate::hub::writer_channel();
        let (availability, _, _dir) = availability(3, true);
        let target = availability.backends.list()[0].target.clone();
        let policy = Policy {
            down_after: 3,
            probe_every: Duration::from_secs(3600),
            warm_up: false,
            has_hub: true,
        };
        let list = ["a", "b"].map(|name| Backend::new(name.into(), target.clone(), 1));
        let metrics = Metrics::with_backends(["a", "b"]);
        let two = Availability::new(
            Admission::new(to_writer),
            metrics.clone(),
            None,
            Backends::new(list.into(), policy),
            true,
            availability.pause_file.clone(),
            OwnerRules::default(),
        );
        let ups = || {
            let health = two.status().health();
            health
                .backends_up
                .into_iter()
                .map(|(_, up)| up)
                .collect::<Vec<_>>()
        };
        // An answer on a backend not asked yet is news too.
        two.backends.attempt_ended(0, Ok(()));
        assert_eq!(ups(), [Some(true), None]);
        let refused = unreachable();
        two.backends.attempt_ended(0, refused.as_ref().map(|_| ()));
        assert_eq!(ups(), [Some(false), None]);
        two.backends.attempt_ended(1, Ok(()));
        assert_eq!(ups(), [Some(false), Some(true)]);
    }

    #[test]
    fn a_missing_model_steps_back_at_once() {
        let (availability, inbox, _dir) = availability(3, true);
        availability.connection(Connection::Connecting);
        attempt(&availability, model_missing());
        assert_eq!(
            availability.closed_because().as_deref(),
            Some("Ollama does not have the model llama3.2")
        );
        assert_eq!(closes(&inbox), ["owner's Ollama is down"]);
        let status = availability.status();
        assert!(matches!(
            status.ollama,
            Some(Err(Down {
                model_missing: true,
                ..
            }))
        ));
    }

    #[test]
    fn without_a_hub_nothing_steps_back() {
        let (availability, inbox, _dir) = availability(1, false);
        attempt(&availability, unreachable());
        attempt(&availability, model_missing());
        assert_eq!(availability.closed_because(), None);
        assert!(closes(&inbox).is_empty());
        assert!(availability.backends.any_can_serve());
    }

    #[test]
    fn a_pause_closes_the_door_is_saved_and_resume_undoes_both() {
        let (availability, inbox, _dir) = availability(3, true);
        assert_eq!(availability.resume("--resume"), Ok(false), "not paused");
        availability.pause(Pause::Indefinite).unwrap();
        assert_eq!(
            availability.closed_because().as_deref(),
            Some("paused by the owner")
        );
        assert_eq!(closes(&inbox), ["owner paused"]);
        assert!(availability.status().health().paused);
        assert_eq!(availability.status().paused, Some(Pause::Indefinite));
        assert_eq!(
            pause::load(&availability.pause_file),
            Ok(Some(Pause::Indefinite))
        );
        // A restart finds it, and starts paused, with the admission closed.
        let (again, again_inbox) = availability_with(availability.pause_file.clone(), 3, true);
        assert_eq!(again.status().paused, Some(Pause::Indefinite));
        assert!(again.status().health().paused);
        assert_eq!(closes(&again_inbox), ["owner paused"]);
        assert_eq!(availability.resume("--resume"), Ok(true));
        assert!(!availability.status().health().paused);
        assert_eq!(availability.status().paused, None);
        assert_eq!(pause::load(&availability.pause_file), Ok(None));
    }

    #[test]
    fn a_saved_pause_does_not_stop_test_mode_without_a_hub() {
        let (paused, _inbox, _dir) = availability(3, true);
        paused.pause(Pause::Indefinite).unwrap();
        let (without_hub, inbox) = availability_with(paused.pause_file.clone(), 3, false);
        assert_eq!(without_hub.status().paused, None);
        assert!(closes(&inbox).is_empty());
        assert!(!without_hub.status().health().paused);
    }

    #[test]
    fn a_pause_with_an_end_opens_the_gate_by_itself() {
        let (availability, _inbox, _dir) = availability(3, true);
        attempt(&availability, Ok(()));
        assert!(!availability.wait_open(), "open at once");
        let end = SystemTime::now() + Duration::from_millis(50);
        availability.pause(Pause::Until(end)).unwrap();
        assert!(availability.wait_open(), "it had to wait");
        assert!(SystemTime::now() >= end);
        assert_eq!(availability.status().paused, None);
        assert_eq!(availability.closed_because(), None);
        assert!(!availability.status().health().paused);
    }

    #[test]
    fn a_pause_cuts_a_backoff_sleep_short_and_a_resume_ends_the_wait() {
        let (availability, _inbox, _dir) = availability(3, true);
        attempt(&availability, Ok(()));
        let sleeper = Arc::clone(&availability);
        let (slept, woke) = mpsc::channel();
        std::thread::spawn(move || {
            sleeper.sleep(Duration::from_secs(3600));
            let _ = slept.send(());
            sleeper.wait_open();
            let _ = slept.send(());
        });
        // The sleeper may not be asleep yet when the pause comes; either
        // way it must not sleep its hour.
        availability.pause(Pause::Indefinite).unwrap();
        let bound = Duration::from_secs(10);
        assert_eq!(woke.recv_timeout(bound), Ok(()));
        availability.resume("--resume").unwrap();
        assert_eq!(woke.recv_timeout(bound), Ok(()));
    }

    #[test]
    fn a_backoff_sleep_lasts_its_time_while_nothing_changes() {
        let (availability, _inbox, _dir) = availability(3, true);
        let started = Instant::now();
        availability.sleep(Duration::from_millis(30));
        assert!(started.elapsed() >= Duration::from_millis(30));
    }

    /// What a test runs before each save of `paused.json`.
    type Hook = Box<dyn Fn(&Availability)>;

    thread_local! {
        /// Called on each save of `paused.json` made on this thread.
        static SAVING: std::cell::RefCell<Option<Hook>> = std::cell::RefCell::new(None);
    }

    /// The seam `Availability::keep` calls before it saves.
    pub(super) fn saving(availability: &Availability) {
        SAVING.with(|hook| {
            if let Some(hook) = &*hook.borrow() {
                hook(availability);
            }
        });
    }

    #[test]
    fn the_pause_file_changes_under_the_state_lock() {
        let (availability, _inbox, _dir) = availability(3, true);
        let held = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&held);
        SAVING.with(|hook| {
            *hook.borrow_mut() = Some(Box::new(move |a: &Availability| {
                let locked = a.state.try_lock().is_err();
                seen.lock().unwrap().push(locked);
            }))
        });
        let ended = SystemTime::now() - Duration::from_secs(1);
        availability.pause(Pause::Indefinite).unwrap();
        availability.resume("--resume").unwrap();
        availability.pause(Pause::Until(ended)).unwrap();
        availability.expire(Pause::Until(ended)).unwrap();
        SAVING.with(|hook| *hook.borrow_mut() = None);
        assert_eq!(*held.lock().unwrap(), [true, true, true, true]);
    }

    #[test]
    fn a_timed_pause_that_ends_leaves_a_newer_pause_alone() {
        let (availability, _inbox, _dir) = availability(3, true);
        let file = availability.pause_file.clone();
        let ended = Pause::Until(SystemTime::now() - Duration::from_secs(1));
        availability.pause(ended).unwrap();
        // The owner pauses again between the gate seeing the old one end
        // and ending it.
        availability.pause(Pause::Indefinite).unwrap();
        assert_eq!(availability.expire(ended), Ok(false));
        assert_eq!(availability.status().paused, Some(Pause::Indefinite));
        assert_eq!(pause::load(&file), Ok(Some(Pause::Indefinite)));
        assert!(availability.status().health().paused);
        // The one that ended, still current, ends.
        availability.pause(ended).unwrap();
        assert_eq!(availability.expire(ended), Ok(true));
        assert_eq!(availability.status().paused, None);
        assert!(!file.exists());
        assert_eq!(availability.expire(ended), Ok(false), "not paused");
    }

    #[test]
    fn a_resume_while_the_pause_drains_keeps_the_connection() {
        let (availability, inbox, _dir) = availability(3, true);
        availability.connection(Connection::Connected(SystemTime::now()));
        attempt(&availability, Ok(()));
        let admission = Arc::clone(&availability.admission);
        assert!(admission.admit_one(), "an answer runs");
        availability.pause(Pause::Indefinite).unwrap();
        assert!(!admission.admit_one(), "refused while paused");
        assert!(closes(&inbox).is_empty(), "the answer still runs");
        assert_eq!(availability.resume("--resume"), Ok(true));
        assert_eq!(availability.closed_because(), None);
        assert!(availability.status().serving());
        assert!(admission.admit_one(), "a buyer after --resume is served");
        admission.end_one();
        admission.end_one();
        assert!(closes(&inbox).is_empty(), "no Close after --resume");
    }

    #[test]
    fn a_resume_after_the_close_went_out_waits_for_the_next_connection() {
        let (availability, inbox, _dir) = availability(3, true);
        availability.connection(Connection::Connected(SystemTime::now()));
        attempt(&availability, Ok(()));
        availability.pause(Pause::Indefinite).unwrap();
        assert_eq!(closes(&inbox), ["owner paused"]);
        assert_eq!(availability.resume("--resume"), Ok(true));
        // This connection ends for the pause; the gate opens the next one.
        assert_eq!(
            availability.closed_because().as_deref(),
            Some("paused by the owner")
        );
        assert!(!availability.wait_open());
        assert_eq!(availability.closed_because(), None);
        assert!(availability.admission.admit_one());
    }

    #[test]
    fn a_resume_while_draining_with_no_backend_up_lets_the_close_go() {
        let (availability, inbox, _dir) = availability(1, true);
        availability.connection(Connection::Connected(SystemTime::now()));
        let admission = Arc::clone(&availability.admission);
        assert!(admission.admit_one());
        availability.pause(Pause::Indefinite).unwrap();
        attempt(&availability, unreachable());
        assert_eq!(availability.resume("--resume"), Ok(true));
        assert!(!admission.admit_one());
        admission.end_one();
        assert_eq!(closes(&inbox), ["owner paused"]);
    }

    #[test]
    fn status_says_where_the_hub_connection_is() {
        let (availability, _inbox, _dir) = availability(3, true);
        assert_eq!(availability.status().hub, Connection::Away);
        let since = SystemTime::now();
        availability.connection(Connection::Connected(since));
        attempt(&availability, Ok(()));
        let status = availability.status();
        assert_eq!(status.hub, Connection::Connected(since));
        assert_eq!(status.model, "llama3.2");
        assert!(status.serving());
        availability.connection(Connection::Retrying(since));
        assert!(!availability.status().serving());
    }

    #[test]
    fn status_counts_the_requests_running_and_queued() {
        let (availability, _inbox, _dir) = availability(3, true);
        availability.metrics.request_started();
        availability.metrics.queue_depth_add(2);
        let status = availability.status();
        assert_eq!((status.running, status.queued), (1, 2));
    }

    #[test]
    fn a_pause_is_described_for_the_log() {
        assert_eq!(describe(&Pause::Indefinite), "until --resume");
        let end = std::time::UNIX_EPOCH + Duration::from_millis(1_764_567_600_000);
        assert_eq!(
            describe(&Pause::Until(end)),
            "until 2025-12-01T05:40:00.000Z"
        );
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn the_gate_sleeps_while_paused_or_while_no_backend_serves() {
        let wait = |availability: &Arc<Availability>, name: &str| {
            let gate = Arc::clone(availability);
            let spawned = std::thread::Builder::new().name(name.into());
            // Never opens: left asleep when the test ends.
            drop(spawned.spawn(move || gate.wait_open()).unwrap());
            backends::tests::states_of(name)
        };
        let (paused, _inbox, _dir) = availability(3, true);
        paused.pause(Pause::Indefinite).unwrap();
        let states = wait(&paused, "gate-paused");
        assert!(states.chars().all(|c| c == 'S'), "paused: {states}");
        // Not paused, its one backend unknown: the gate looks at it first
        // (it does not answer), then sleeps until the prober says more.
        let (down, _inbox, _dir) = availability(3, true);
        let states = wait(&down, "gate-down");
        assert!(states.ends_with(&"S".repeat(40)), "down: {states}");
        assert!(!down.backends.any_unknown());
    }

    #[test]
    fn an_ollama_that_does_not_answer_is_down_with_the_reason() {
        let (availability, _inbox, _dir) = availability(3, true);
        assert_eq!(availability.first_look(), None);
        match availability.status().ollama {
            Some(Err(Down { error, .. })) => {
                assert!(error.starts_with("Ollama does not answer: "), "{error}")
            }
            other => panic!("{other:?}"),
        }
        // At start nothing was open, so nothing closes.
        assert_eq!(availability.closed_because(), None);
    }

    // ------------------------------------------------- the owner's rules

    /// UTC as the zone, whatever the machine's.
    struct Utc;

    impl Zone for Utc {
        fn local(&self, utc_seconds: i64) -> Option<hours::LocalTime> {
            Some(hours::LocalTime::utc(utc_seconds))
        }
    }

    /// Monday 2026-12-07 at `hour:minute` UTC.
    fn monday(hour: i64, minute: i64) -> Millis {
        1_796_601_600_000 + (hour * 60 + minute) * 60_000
    }

    const DAY: Millis = 86_400_000;

    /// An availability with `sell_hours` `windows`, on a clock the test
    /// sets through `at`, in UTC, with a ledger in the returned directory.
    fn with_hours(
        windows: &[&str],
        at: &Arc<std::sync::atomic::AtomicI64>,
    ) -> (Arc<Availability>, crate::hub::Inbox, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let (to_writer, inbox) = crate::hub::writer_channel();
        let backends = backends::for_tests_with(&["http://127.0.0.1:1"], 3, true);
        let entries: Vec<String> = windows.iter().map(|w| w.to_string()).collect();
        let now = Arc::clone(at);
        let rules = OwnerRules {
            sell_hours: Some(SellHours::parse(&entries).unwrap()),
            unload_on_pause: true,
            clock: Clock {
                now: Box::new(move || now.load(std::sync::atomic::Ordering::SeqCst)),
                zone: Box::new(Utc),
            },
        };
        let ledger = Ledger::open(&dir.path().join("ledger.jsonl"), 1 << 20, 1).unwrap();
        let availability = Availability::new(
            Admission::new(to_writer),
            Metrics::new(),
            Some(Arc::new(ledger)),
            backends,
            true,
            dir.path().join("paused.json"),
            rules,
        );
        (availability, inbox, dir)
    }

    fn clock_at(at: Millis) -> Arc<std::sync::atomic::AtomicI64> {
        Arc::new(std::sync::atomic::AtomicI64::new(at))
    }

    /// Moves the test clock and lets the hours be looked at again.
    fn move_to(availability: &Availability, at: &std::sync::atomic::AtomicI64, to: Millis) {
        at.store(to, std::sync::atomic::Ordering::SeqCst);
        availability.look_at_hours(&mut availability.lock());
    }

    /// The ledger's lines of `event` so far: each one's `reason`.
    fn ledger_reasons(dir: &tempfile::TempDir, event: &str) -> Vec<String> {
        let text = std::fs::read_to_string(dir.path().join("ledger.jsonl")).unwrap_or_default();
        let lines = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap());
        let of_event = lines.filter(|line| line["event"] == event);
        of_event
            .map(|line| line["reason"].as_str().unwrap_or("").to_string())
            .collect()
    }

    #[test]
    fn outside_the_hours_the_box_is_away_until_the_boundary() {
        let at = clock_at(monday(12, 0));
        let (availability, inbox, dir) = with_hours(&["22:00-08:00"], &at);
        availability.start_recording();
        attempt(&availability, Ok(()));
        let status = availability.status();
        assert_eq!(status.owner_away, Some(OwnerAway::OutsideHours));
        assert_eq!(status.readiness(), Err("outside the selling hours".into()));
        assert_eq!(status.health().away, Some("outside_hours"));
        assert!(!status.health().paused, "not a pause");
        let hours = status.hours.unwrap();
        assert_eq!(hours.windows, ["22:00-08:00"]);
        assert!(!hours.selling);
        assert_eq!(hours.next_change, Some(monday(22, 0)));
        assert_eq!(hours.resumed_until, None);
        assert_eq!(
            availability.closed_because().as_deref(),
            Some("outside the selling hours")
        );
        assert_eq!(closes(&inbox), ["owner paused"]);
        assert_eq!(ledger_reasons(&dir, "away"), ["outside_hours"]);
        // A minute before the boundary nothing changes; at it, the box sells.
        move_to(&availability, &at, monday(21, 59));
        assert_eq!(
            availability.status().owner_away,
            Some(OwnerAway::OutsideHours)
        );
        move_to(&availability, &at, monday(22, 0));
        let status = availability.status();
        assert_eq!(status.owner_away, None);
        assert_eq!(status.hours.unwrap().next_change, Some(monday(8, 0) + DAY));
        assert_eq!(ledger_reasons(&dir, "back"), ["the selling hours began"]);
        assert!(!availability.wait_open(), "open at once");
        assert!(availability.admission.admit_one());
        // 08:00 the next day: away again, once.
        move_to(&availability, &at, monday(8, 0) + DAY);
        move_to(&availability, &at, monday(9, 0) + DAY);
        assert_eq!(
            ledger_reasons(&dir, "away"),
            ["outside_hours", "outside_hours"]
        );
        assert!(!availability.admission.admit_one(), "new buyers refused");
    }

    #[test]
    fn a_resume_outside_the_hours_sells_until_the_next_boundary() {
        let at = clock_at(monday(12, 0));
        let (availability, _inbox, dir) = with_hours(&["22:00-08:00"], &at);
        availability.start_recording();
        assert_eq!(availability.resume("--resume"), Ok(true));
        let status = availability.status();
        assert_eq!(status.owner_away, None);
        assert_eq!(status.hours.unwrap().resumed_until, Some(monday(22, 0)));
        assert_eq!(ledger_reasons(&dir, "back"), ["--resume"]);
        // Paused outside the hours: one --resume ends both.
        availability.pause(Pause::Indefinite).unwrap();
        assert_eq!(availability.status().owner_away, Some(OwnerAway::Paused));
        assert_eq!(availability.resume("--resume"), Ok(true));
        assert_eq!(availability.status().owner_away, None);
        // Inside the hours there is nothing to resume.
        move_to(&availability, &at, monday(23, 0));
        assert_eq!(availability.resume("--resume"), Ok(false));
        assert_eq!(availability.status().hours.unwrap().resumed_until, None);
        // From the window's end the hours decide again.
        move_to(&availability, &at, monday(8, 0) + DAY);
        assert_eq!(
            availability.status().owner_away,
            Some(OwnerAway::OutsideHours)
        );
    }

    #[test]
    fn a_pause_without_a_duration_ends_at_the_next_boundary_one_with_a_duration_stands() {
        let at = clock_at(monday(23, 0));
        let (availability, _inbox, _dir) = with_hours(&["22:00-08:00"], &at);
        let boundary = time::system_time(monday(8, 0) + DAY);
        assert_eq!(
            availability.until_next_boundary(Pause::Indefinite),
            Pause::Until(boundary)
        );
        let given = Pause::Until(time::system_time(monday(23, 30) + 3 * DAY));
        assert_eq!(availability.until_next_boundary(given), given);
        // Without selling hours a pause is as asked.
        let (plain, _inbox, _dir) = availability_no_hours();
        assert_eq!(
            plain.until_next_boundary(Pause::Indefinite),
            Pause::Indefinite
        );
    }

    fn availability_no_hours() -> (Arc<Availability>, crate::hub::Inbox, tempfile::TempDir) {
        availability(3, true)
    }

    #[test]
    fn the_hours_thread_runs_only_with_hours_and_a_hub() {
        let at = clock_at(monday(12, 0));
        let (with_both, _inbox, _dir) = with_hours(&["22:00-08:00"], &at);
        assert!(with_both.watch_hours().unwrap());
        let (without_hours, _inbox, _dir) = availability(3, true);
        assert!(!without_hours.watch_hours().unwrap());
        let (without_hub, _inbox, _dir) = availability(3, false);
        let with_hours_rule = Availability::new(
            Admission::new(crate::hub::writer_channel().0),
            Metrics::new(),
            None,
            backends::for_tests_with(&["http://127.0.0.1:1"], 3, false),
            false,
            without_hub.pause_file.clone(),
            OwnerRules {
                sell_hours: Some(SellHours::parse(&["22:00-08:00".to_string()]).unwrap()),
                ..OwnerRules::default()
            },
        );
        assert!(
            !with_hours_rule.watch_hours().unwrap(),
            "nothing to step back from"
        );
        assert_eq!(with_hours_rule.status().owner_away, None);
    }

    #[test]
    fn the_guard_hears_whether_the_relay_answers() {
        let metrics = Metrics::new();
        let busy = relay_busy(&metrics);
        assert!(!busy());
        metrics.request_started();
        assert!(busy());
    }

    #[test]
    fn the_hours_thread_follows_a_clock_that_jumps() {
        let at = clock_at(monday(12, 0));
        let (availability, _inbox, _dir) = with_hours(&["22:00-08:00"], &at);
        availability.watch_hours().unwrap();
        let wait_for = |owner: Option<OwnerAway>| {
            let deadline = Instant::now() + Duration::from_secs(10);
            while availability.status().owner_away != owner && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            assert_eq!(availability.status().owner_away, owner);
        };
        wait_for(Some(OwnerAway::OutsideHours));
        // The clock jumps ten hours ahead (set from the network): the
        // thread's next look, here woken at once, sees it.
        at.store(monday(22, 30), std::sync::atomic::Ordering::SeqCst);
        availability.changed.notify_all();
        wait_for(None);
        // And back a day.
        at.store(monday(12, 0) - DAY, std::sync::atomic::Ordering::SeqCst);
        availability.changed.notify_all();
        wait_for(Some(OwnerAway::OutsideHours));
    }

    #[test]
    fn the_owners_reasons_rank_pause_then_hours_then_the_gpu() {
        let at = clock_at(monday(23, 0));
        let (availability, inbox, dir) = with_hours(&["22:00-08:00"], &at);
        availability.start_recording();
        availability.connection(Connection::Connected(SystemTime::now()));
        attempt(&availability, Ok(()));
        let hot = Trouble::Hot {
            gpu: "0".into(),
            temp_c: 91.0,
            max_c: 85.0,
        };
        let gpu = |trouble: Option<Trouble>| {
            let mut state = availability.lock();
            state.gpu = trouble;
            availability.decide(&mut state, "the GPU guard's conditions have cleared");
        };
        gpu(Some(hot.clone()));
        assert_eq!(
            availability.status().owner_away,
            Some(OwnerAway::Gpu(hot.clone()))
        );
        assert_eq!(availability.status().health().away, Some("gpu_hot"));
        availability.pause(Pause::Indefinite).unwrap();
        assert_eq!(availability.status().owner_away, Some(OwnerAway::Paused));
        availability.resume("--resume").unwrap();
        assert_eq!(
            availability.status().owner_away,
            Some(OwnerAway::Gpu(hot.clone()))
        );
        move_to(&availability, &at, monday(12, 0) + DAY);
        assert_eq!(
            availability.status().owner_away,
            Some(OwnerAway::OutsideHours)
        );
        gpu(None);
        assert_eq!(
            availability.status().owner_away,
            Some(OwnerAway::OutsideHours)
        );
        move_to(&availability, &at, monday(22, 0) + DAY);
        assert_eq!(availability.status().owner_away, None);
        // One Close for the whole time away; each change in the ledger.
        assert_eq!(closes(&inbox), ["owner paused"]);
        assert_eq!(
            ledger_reasons(&dir, "away"),
            ["gpu_hot", "gpu_hot", "outside_hours"]
        );
        assert_eq!(ledger_reasons(&dir, "back"), ["the selling hours began"]);
        assert_eq!(ledger_reasons(&dir, "resume"), ["--resume"]);
    }
}
