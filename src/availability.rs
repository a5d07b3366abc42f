//! Whether this box takes buyers now, and the one place that decides it.
//!
//! Two things take the box off the market. The owner: `--pause [DURATION]`
//! (through the control socket) until a time or `--resume`, kept in
//! `paused.json` (`pause`) so that a restart does not end it. And Ollama:
//! unreachable for `ollama_down_after` requests in a row, or the model no
//! longer installed, as the answers tell it (this is a sink of the
//! `accounting::Books`). Either way the relay's [`Door`] closes: new
//! requests are refused with the reason, and once the accepted ones are
//! answered the writer closes the hub connection with Close 1000, so the
//! hub routes elsewhere (the protocol's way of being unavailable).
//!
//! The connection loop then waits here, in [`Gate::wait_open`]: on a
//! condition variable with no timeout while paused until `--resume`, until
//! the pause's end when it has one, and while Ollama is down it probes
//! (`GET /api/version`, then `/api/tags` for the model) every
//! `ollama_probe_secs`, nothing else waking up. A pause or resume wakes it
//! at once. When the way is clear it warms the model up (`warm_up`: an
//! empty generate, which loads the model), opens the door and lets the
//! loop connect. The same happens at start, so a box that boots the client
//! before Ollama sells nothing that fails.
//!
//! Stepping back is logged once at WARN and coming back once at INFO, not
//! once per probe. `--status` reads [`Availability::status`].

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use crate::accounting::{Accounts, AnswerRecord, HubEvent, Outcome};
use crate::hub::{Connection, Gate};
use crate::ledger::{self, Ledger};
use crate::metrics::Metrics;
use crate::ollama::{self, OllamaTarget};
use crate::pause::{self, Pause};
use crate::relay::{Door, Refusal};
use crate::text::errors;

/// How long one probe request may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// What the owner set about stepping back and warming up.
pub struct Policy {
    /// Requests in a row that find Ollama unreachable before stepping back.
    pub down_after: usize,
    /// How often to ask Ollama while it is down.
    pub probe_every: Duration,
    /// Load the model before taking buyers.
    pub warm_up: bool,
    /// Whether there is a hub to step back from (test mode without a token
    /// has none, and nothing would reopen the door).
    pub has_hub: bool,
}

/// Ollama as the box last saw it.
#[derive(Clone, Debug, PartialEq)]
pub enum OllamaHealth {
    /// Not asked yet.
    Unknown,
    Up,
    /// Down (unreachable, or the model not installed) since then, with the
    /// last error.
    Down {
        since: SystemTime,
        error: String,
        model_missing: bool,
    },
}

/// A snapshot for `--status`.
#[derive(Clone, Debug)]
pub struct Status {
    pub uptime: Duration,
    pub model: String,
    pub hub: Connection,
    pub ollama: OllamaHealth,
    pub paused: Option<Pause>,
    /// Requests a worker is answering, and waiting for one.
    pub running: i64,
    pub queued: i64,
}

impl Status {
    /// Connected, not paused, Ollama up: buyers are being served.
    pub fn serving(&self) -> bool {
        self.paused.is_none()
            && matches!(self.hub, Connection::Connected(_))
            && self.ollama == OllamaHealth::Up
    }
}

/// Why the box stepped back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Away {
    Paused,
    Ollama,
}

struct State {
    pause: Option<Pause>,
    ollama: OllamaHealth,
    hub: Connection,
    /// Set while the door is closed for one of the reasons.
    away: Option<Away>,
}

pub struct Availability {
    state: Mutex<State>,
    changed: Condvar,
    door: Arc<Door>,
    metrics: Arc<Metrics>,
    ledger: Option<Arc<Ledger>>,
    target: OllamaTarget,
    policy: Policy,
    unreachable_in_a_row: AtomicUsize,
    started: Instant,
    pause_file: PathBuf,
}

impl Availability {
    /// Starts with the pause saved in `pause_file`, if any (a file that
    /// cannot be read is reported, and the box serves).
    pub fn new(
        door: Arc<Door>,
        metrics: Arc<Metrics>,
        ledger: Option<Arc<Ledger>>,
        target: OllamaTarget,
        policy: Policy,
        pause_file: PathBuf,
    ) -> Arc<Availability> {
        let pause = pause::load(&pause_file).unwrap_or_else(|why| {
            log::warn!("{why}; not paused");
            None
        });
        let availability = Arc::new(Availability {
            state: Mutex::new(State {
                pause: None,
                ollama: OllamaHealth::Unknown,
                hub: Connection::Away,
                away: None,
            }),
            changed: Condvar::new(),
            door,
            metrics,
            ledger,
            target,
            policy,
            unreachable_in_a_row: AtomicUsize::new(0),
            started: Instant::now(),
            pause_file,
        });
        // Without a hub (test mode with no token) there is nothing to pause:
        // the owner is trying Ollama at the terminal.
        if let Some(pause) = pause.filter(|_| availability.policy.has_hub) {
            log::info!("still paused by the owner ({})", describe(&pause));
            availability.set_pause(pause, false);
        }
        availability
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What `--status` shows.
    pub fn status(&self) -> Status {
        let state = self.lock();
        Status {
            uptime: self.started.elapsed(),
            model: self.target.model.clone(),
            hub: state.hub,
            ollama: state.ollama.clone(),
            paused: state.pause,
            running: self.metrics.requests_running(),
            queued: self.metrics.queue_depth(),
        }
    }

    /// The owner's `--pause`: running answers finish, new requests get
    /// `Error: owner paused`, then the hub connection closes. Saved, so
    /// that it outlives a restart; an error saving it is returned (the
    /// pause holds until this process ends).
    pub fn pause(&self, pause: Pause) -> Result<(), String> {
        log::info!(
            "paused by the owner ({}): running answers finish, then the hub connection closes",
            describe(&pause)
        );
        self.set_pause(pause, true);
        pause::save(&self.pause_file, Some(pause))
    }

    /// Pauses; `record` writes the ledger's `pause` line (not for a pause
    /// found at start, which the ledger already has).
    fn set_pause(&self, pause: Pause, record: bool) {
        let mut state = self.lock();
        state.pause = Some(pause);
        state.away = Some(Away::Paused);
        self.metrics.set_paused(true);
        if let (Some(ledger), true) = (&self.ledger, record) {
            ledger.paused(pause.until_millis());
        }
        let refusal = Refusal {
            reason: errors::buyer_owner_paused(),
            kind: "paused",
            queued_too: false,
        };
        self.door.close(refusal, "owner paused");
        self.changed.notify_all();
    }

    /// The owner's `--resume` (or the pause's end): the connection loop
    /// connects again at once. False when the box was not paused.
    pub fn resume(&self, reason: &str) -> Result<bool, String> {
        let mut state = self.lock();
        if state.pause.take().is_none() {
            return Ok(false);
        }
        log::info!("resumed ({reason})");
        self.metrics.set_paused(false);
        if let Some(ledger) = &self.ledger {
            ledger.resumed(reason);
        }
        self.changed.notify_all();
        drop(state);
        pause::save(&self.pause_file, None).map(|()| true)
    }

    /// The first look at Ollama, before the ledger's `start` line: probes
    /// it once and warms the model up when it answers. Returns the warm-up's
    /// load time. When Ollama does not answer, the connection loop goes on
    /// probing before it connects.
    pub fn first_look(&self) -> Option<Duration> {
        if self.lock().pause.is_some() {
            return None;
        }
        match self.probe() {
            Ok(()) => {
                self.ollama_is_up();
                self.warm_up()
            }
            Err(why) => {
                self.ollama_is_down(why, false);
                None
            }
        }
    }

    /// Asks Ollama whether it answers and has the model.
    fn probe(&self) -> Result<(), Down> {
        let target = &self.target;
        if let Err(e) = ollama::version(&target.base_url, &target.roots, PROBE_TIMEOUT) {
            return Err(Down::unreachable(e.to_string()));
        }
        let installed = ollama::installed_models(&target.base_url, &target.roots, PROBE_TIMEOUT)
            .map_err(|e| Down::unreachable(e.to_string()))?;
        match ollama::is_installed(&target.model, &installed) {
            true => Ok(()),
            false => Err(Down::model_missing(&target.model)),
        }
    }

    /// Loads the model (when `warm_up` is on); the load time, logged.
    fn warm_up(&self) -> Option<Duration> {
        if !self.policy.warm_up {
            return None;
        }
        let target = &self.target;
        let loaded = ollama::load_model(
            &target.base_url,
            &target.roots,
            &target.model,
            target.keep_alive.as_ref(),
            target.load_timeout,
        );
        match loaded {
            Ok(took) => {
                log::info!(
                    "warm-up: model {} loaded in {:.2} s",
                    target.model,
                    took.as_secs_f64()
                );
                Some(took)
            }
            Err(e) => {
                // Buyers will tell whether it matters; the probe said Ollama
                // answers and has the model.
                log::warn!("warm-up: model {} did not load: {e}", target.model);
                None
            }
        }
    }

    /// Records Ollama answering; logs it once when it had been down. (The
    /// door opens in `wait_open`, unless the owner paused meanwhile.)
    fn ollama_is_up(&self) {
        self.unreachable_in_a_row.store(0, Ordering::Relaxed);
        self.metrics.set_ollama_up(true);
        let mut state = self.lock();
        if matches!(state.ollama, OllamaHealth::Down { .. }) {
            log::info!("Ollama answers again and has {}", self.target.model);
        }
        state.ollama = OllamaHealth::Up;
    }

    /// Records Ollama down; the first time, says so at WARN with what the
    /// owner can do. `step_back` closes the door (a running box); at start
    /// nothing is open yet.
    fn ollama_is_down(&self, down: Down, step_back: bool) {
        self.metrics.set_ollama_up(false);
        let mut state = self.lock();
        let first = !matches!(state.ollama, OllamaHealth::Down { .. });
        let since = match &state.ollama {
            OllamaHealth::Down { since, .. } => *since,
            _ => SystemTime::now(),
        };
        state.ollama = OllamaHealth::Down {
            since,
            error: down.error.clone(),
            model_missing: down.model_missing,
        };
        if first {
            let every = self.policy.probe_every.as_secs_f64();
            let wait = match step_back {
                true => "stepping back from the hub until it does",
                false => "not connecting to the hub until it does",
            };
            let fix = match down.model_missing {
                true => format!(" (install it: ollama pull {})", self.target.model),
                false => String::new(),
            };
            log::warn!("{}{fix}; {wait}, asking every {every} s", down.error);
        }
        if step_back && state.away.is_none() && self.policy.has_hub {
            state.away = Some(Away::Ollama);
            let refusal = match down.model_missing {
                true => Refusal {
                    reason: errors::buyer_model_missing(&self.target.model),
                    kind: "model_missing",
                    queued_too: true,
                },
                false => Refusal {
                    reason: errors::buyer_ollama_unreachable(),
                    kind: "ollama_unreachable",
                    queued_too: true,
                },
            };
            self.door.close(refusal, "owner's Ollama is down");
        }
    }

    /// Waits for a change (pause, resume) for at most `limit`; `None`
    /// waits for the change alone.
    fn wait_for_change<'a>(
        &self,
        state: MutexGuard<'a, State>,
        limit: Option<Duration>,
    ) -> MutexGuard<'a, State> {
        match limit {
            None => self.changed.wait(state).unwrap_or_else(|p| p.into_inner()),
            Some(limit) => {
                let waited = self.changed.wait_timeout(state, limit);
                waited.map(|(s, _)| s).unwrap_or_else(|p| p.into_inner().0)
            }
        }
    }
}

/// Why Ollama cannot serve.
struct Down {
    error: String,
    model_missing: bool,
}

impl Down {
    fn unreachable(error: String) -> Down {
        Down {
            error: format!("Ollama does not answer: {error}"),
            model_missing: false,
        }
    }

    fn model_missing(model: &str) -> Down {
        Down {
            error: format!("Ollama does not have the model {model}"),
            model_missing: true,
        }
    }
}

/// "until 2026-12-01T06:00:00.000Z" or "until --resume", for the log.
fn describe(pause: &Pause) -> String {
    match pause.until_millis() {
        Some(ms) => format!("until {}", ledger::time::format(ms)),
        None => "until --resume".into(),
    }
}

impl Gate for Availability {
    fn wait_open(&self) -> bool {
        let mut waited = false;
        loop {
            let mut state = self.lock();
            if let Some(pause) = state.pause {
                state.hub = Connection::Away;
                waited = true;
                let left = match pause {
                    Pause::Indefinite => None,
                    Pause::Until(end) => Some(end.duration_since(SystemTime::now())),
                };
                match left {
                    Some(Err(_)) => {
                        drop(state);
                        let _ = self.resume("the pause's time is up");
                    }
                    Some(Ok(left)) => drop(self.wait_for_change(state, Some(left))),
                    None => drop(self.wait_for_change(state, None)),
                }
                continue;
            }
            if state.ollama == OllamaHealth::Up {
                state.away = None;
                self.door.open();
                return waited;
            }
            state.hub = Connection::Away;
            drop(state);
            waited = true;
            match self.probe() {
                Ok(()) => {
                    self.ollama_is_up();
                    self.warm_up();
                }
                Err(down) => {
                    self.ollama_is_down(down, false);
                    let state = self.lock();
                    drop(self.wait_for_change(state, Some(self.policy.probe_every)));
                }
            }
        }
    }

    fn closed_because(&self) -> Option<String> {
        let state = self.lock();
        match state.away? {
            Away::Paused => Some("paused by the owner".into()),
            Away::Ollama => match &state.ollama {
                OllamaHealth::Down { error, .. } => Some(error.clone()),
                _ => Some("Ollama cannot serve".into()),
            },
        }
    }

    fn connection(&self, now: Connection) {
        self.lock().hub = now;
    }

    fn sleep(&self, delay: Duration) {
        // Ends early on a pause, which the gate then waits out; a pause
        // that came just before the sleep counts too.
        let state = self.lock();
        let waited = self
            .changed
            .wait_timeout_while(state, delay, |state| state.pause.is_none());
        drop(waited.unwrap_or_else(|p| p.into_inner()));
    }
}

/// Every answer tells whether Ollama could be reached.
impl Accounts for Availability {
    fn answered(&self, record: &AnswerRecord) {
        if self.lock().away.is_some() {
            // Refused at the door, or finished while stepping back: the
            // probes tell about Ollama from now on.
            return;
        }
        match (record.outcome, record.error) {
            (_, Some("ollama_unreachable")) => {
                let in_a_row = self.unreachable_in_a_row.fetch_add(1, Ordering::Relaxed) + 1;
                if in_a_row >= self.policy.down_after {
                    let down = Down {
                        error: format!("{in_a_row} requests in a row could not reach Ollama"),
                        model_missing: false,
                    };
                    self.ollama_is_down(down, true);
                }
            }
            (_, Some("model_missing")) => {
                self.ollama_is_down(Down::model_missing(&self.target.model), true)
            }
            // Ollama answered, with an error of its own.
            (Outcome::Ok, _) | (_, Some("ollama_error")) => {
                self.unreachable_in_a_row.store(0, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    fn hub(&self, _event: &HubEvent) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::ToWriter;
    use std::sync::mpsc::{self, Receiver};

    /// An availability whose Ollama is nowhere (port 1) and whose door
    /// reports to the returned inbox; `paused.json` in a fresh directory.
    fn availability(down_after: usize, has_hub: bool) -> (Arc<Availability>, Receiver<ToWriter>) {
        let dir = std::env::temp_dir().join(format!(
            "availability-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        availability_with(dir.join("paused.json"), down_after, has_hub)
    }

    fn availability_with(
        pause_file: PathBuf,
        down_after: usize,
        has_hub: bool,
    ) -> (Arc<Availability>, Receiver<ToWriter>) {
        let (to_writer, inbox) = mpsc::channel();
        let target = OllamaTarget {
            base_url: "http://127.0.0.1:1".into(),
            roots: ollama::roots(&[]),
            model: "llama3.2".into(),
            keep_alive: None,
            options: Default::default(),
            load_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(1),
            max_line_bytes: 1024,
            max_answer_tokens: 0,
            max_answer_time: Duration::ZERO,
        };
        let policy = Policy {
            down_after,
            probe_every: Duration::from_secs(3600),
            warm_up: false,
            has_hub,
        };
        let availability = Availability::new(
            Door::new(to_writer),
            Metrics::new(),
            None,
            target,
            policy,
            pause_file,
        );
        (availability, inbox)
    }

    fn answer(error: Option<&'static str>) -> AnswerRecord {
        AnswerRecord {
            message_id: "1".into(),
            stream: true,
            model: "llama3.2".into(),
            outcome: match error {
                None => Outcome::Ok,
                Some(_) => Outcome::Error,
            },
            error,
            prompt_chars: 1,
            answer_chars: 0,
            pieces: 0,
            prompt_tokens: None,
            tokens: None,
            eval_ms: None,
            first_piece_ms: None,
            total_ms: 1,
            load_ms: None,
        }
    }

    /// The Close reasons the writer got so far.
    fn closes(inbox: &Receiver<ToWriter>) -> Vec<&'static str> {
        let closes = inbox.try_iter().filter_map(|message| match message {
            ToWriter::Close(reason) => Some(reason),
            _ => None,
        });
        closes.collect()
    }

    const UNREACHABLE: Option<&str> = Some("ollama_unreachable");

    #[test]
    fn unreachable_answers_in_a_row_step_back_and_anything_from_ollama_starts_over() {
        let (availability, inbox) = availability(3, true);
        for error in [UNREACHABLE, UNREACHABLE, None, UNREACHABLE, UNREACHABLE] {
            availability.answered(&answer(error));
        }
        availability.answered(&answer(Some("ollama_error")));
        availability.answered(&answer(UNREACHABLE));
        // Neither a refusal nor a timeout says anything about Ollama.
        availability.answered(&answer(Some("busy")));
        availability.answered(&answer(Some("timeout")));
        availability.answered(&answer(UNREACHABLE));
        assert_eq!(availability.closed_because(), None);
        assert!(closes(&inbox).is_empty());
        availability.answered(&answer(UNREACHABLE));
        assert_eq!(
            availability.closed_because().as_deref(),
            Some("3 requests in a row could not reach Ollama")
        );
        assert_eq!(closes(&inbox), ["owner's Ollama is down"]);
        assert_eq!(availability.metrics.ollama_up(), Some(false));
        let status = availability.status();
        assert!(matches!(
            status.ollama,
            OllamaHealth::Down {
                model_missing: false,
                ..
            }
        ));
        assert!(!status.serving());
        // What arrives while away changes nothing: refusals are not probes.
        availability.answered(&answer(UNREACHABLE));
        availability.answered(&answer(Some("model_missing")));
        assert_eq!(
            availability.closed_because().as_deref(),
            Some("3 requests in a row could not reach Ollama")
        );
        assert!(closes(&inbox).is_empty());
    }

    #[test]
    fn a_missing_model_steps_back_at_once() {
        let (availability, inbox) = availability(3, true);
        availability.answered(&answer(Some("model_missing")));
        assert_eq!(
            availability.closed_because().as_deref(),
            Some("Ollama does not have the model llama3.2")
        );
        assert_eq!(closes(&inbox), ["owner's Ollama is down"]);
        let status = availability.status();
        assert!(matches!(
            status.ollama,
            OllamaHealth::Down {
                model_missing: true,
                ..
            }
        ));
    }

    #[test]
    fn without_a_hub_nothing_steps_back() {
        let (availability, inbox) = availability(1, false);
        availability.answered(&answer(UNREACHABLE));
        assert_eq!(availability.closed_because(), None);
        assert!(closes(&inbox).is_empty());
        assert_eq!(availability.metrics.ollama_up(), Some(false));
    }

    #[test]
    fn a_pause_closes_the_door_is_saved_and_resume_undoes_both() {
        let (availability, inbox) = availability(3, true);
        assert_eq!(availability.resume("--resume"), Ok(false), "not paused");
        availability.pause(Pause::Indefinite).unwrap();
        assert_eq!(
            availability.closed_because().as_deref(),
            Some("paused by the owner")
        );
        assert_eq!(closes(&inbox), ["owner paused"]);
        assert!(availability.metrics.paused());
        assert_eq!(availability.status().paused, Some(Pause::Indefinite));
        assert_eq!(
            pause::load(&availability.pause_file),
            Ok(Some(Pause::Indefinite))
        );
        // A restart finds it, and starts paused, with the door closed.
        let (again, again_inbox) = availability_with(availability.pause_file.clone(), 3, true);
        assert_eq!(again.status().paused, Some(Pause::Indefinite));
        assert!(again.metrics.paused());
        assert_eq!(closes(&again_inbox), ["owner paused"]);
        assert_eq!(availability.resume("--resume"), Ok(true));
        assert!(!availability.metrics.paused());
        assert_eq!(availability.status().paused, None);
        assert_eq!(pause::load(&availability.pause_file), Ok(None));
    }

    #[test]
    fn a_saved_pause_does_not_stop_test_mode_without_a_hub() {
        let (paused, _inbox) = availability(3, true);
        paused.pause(Pause::Indefinite).unwrap();
        let (without_hub, inbox) = availability_with(paused.pause_file.clone(), 3, false);
        assert_eq!(without_hub.status().paused, None);
        assert!(closes(&inbox).is_empty());
        assert!(!without_hub.metrics.paused());
    }

    #[test]
    fn a_pause_with_an_end_opens_the_gate_by_itself() {
        let (availability, _inbox) = availability(3, true);
        availability.ollama_is_up();
        assert!(!availability.wait_open(), "open at once");
        let end = SystemTime::now() + Duration::from_millis(50);
        availability.pause(Pause::Until(end)).unwrap();
        assert!(availability.wait_open(), "it had to wait");
        assert!(SystemTime::now() >= end);
        assert_eq!(availability.status().paused, None);
        assert_eq!(availability.closed_because(), None);
        assert!(!availability.metrics.paused());
    }

    #[test]
    fn a_pause_cuts_a_backoff_sleep_short_and_a_resume_ends_the_wait() {
        let (availability, _inbox) = availability(3, true);
        availability.ollama_is_up();
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
    fn status_says_where_the_hub_connection_is() {
        let (availability, _inbox) = availability(3, true);
        assert_eq!(availability.status().hub, Connection::Away);
        let since = SystemTime::now();
        availability.connection(Connection::Connected(since));
        availability.ollama_is_up();
        let status = availability.status();
        assert_eq!(status.hub, Connection::Connected(since));
        assert_eq!(status.model, "llama3.2");
        assert!(status.serving());
        availability.connection(Connection::Retrying(since));
        assert!(!availability.status().serving());
    }

    #[test]
    fn ollama_stays_down_since_the_first_failure_with_the_latest_error() {
        let (availability, _inbox) = availability(3, true);
        availability.ollama_is_down(Down::unreachable("first".into()), false);
        let since = match availability.status().ollama {
            OllamaHealth::Down { since, .. } => since,
            other => panic!("{other:?}"),
        };
        std::thread::sleep(Duration::from_millis(5));
        availability.ollama_is_down(Down::unreachable("second".into()), false);
        match availability.status().ollama {
            OllamaHealth::Down {
                since: still,
                error,
                ..
            } => {
                assert_eq!(still, since);
                assert_eq!(error, "Ollama does not answer: second");
            }
            other => panic!("{other:?}"),
        }
        availability.ollama_is_up();
        assert_eq!(availability.status().ollama, OllamaHealth::Up);
        assert_eq!(availability.metrics.ollama_up(), Some(true));
    }

    #[test]
    fn status_counts_the_requests_running_and_queued() {
        let (availability, _inbox) = availability(3, true);
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
    fn an_ollama_that_does_not_answer_is_down_with_the_reason() {
        let (availability, _inbox) = availability(3, true);
        assert_eq!(availability.first_look(), None);
        match availability.status().ollama {
            OllamaHealth::Down { error, .. } => {
                assert!(error.starts_with("Ollama does not answer: "), "{error}")
            }
            other => panic!("{other:?}"),
        }
        // At start nothing was open, so nothing closes.
        assert_eq!(availability.closed_because(), None);
    }
}
