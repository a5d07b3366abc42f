//! The guard: one thread, `gpu-guard`, that reads the GPUs every
//! `gpu_check_secs` (the first time at once), feeds each reading to the
//! [`Verdict`] and publishes the result as a [`GuardStatus`] under a small
//! lock. Between checks it waits on a channel with a timeout: one wakeup a
//! check, and the channel closing (the [`Guard`] dropped) ends it.
//!
//! When the verdict changes (the box steps back, or returns) the guard
//! logs it once, with the reason, and tells its [`GuardWatcher`] (held
//! weakly, so the guard keeps nothing alive) on its own thread with no
//! lock held; the watcher then reads [`Guard::status`]. A reading that
//! fails is logged once per new error text and kept for the status.
//! [`Guard::start`] returns after the first check (or its timeout), so a
//! box started while the owner games does not connect before it knows.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread;
use std::time::{Duration, Instant};

use super::reading::{GpuReading, Trouble};
use super::run::seconds;
use super::sources::Sources;
use super::verdict::{Change, Rules, Verdict};

/// The longest one `nvidia-smi` run may take (shorter when checks are
/// more frequent, never under a second).
const MAX_RUN: Duration = Duration::from_secs(10);

/// What the owner set (`gpu_check_secs`, `gpu_max_temp_c`,
/// `yield_to_other_gpu_users`, `gpu_clear_secs`, `gpu_sysfs_root`).
#[derive(Clone, Debug)]
pub struct GuardSettings {
    pub check_every: Duration,
    pub max_temp_c: f64,
    pub yield_to_others: bool,
    pub clear_after: Duration,
    pub sysfs_root: PathBuf,
}

/// What `--status` and the metrics show.
#[derive(Clone, Debug, Default)]
pub struct GuardStatus {
    /// Every GPU at the last check that read.
    pub gpus: Vec<GpuReading>,
    /// Why the guard holds the box away; `None`: clear.
    pub away: Option<Trouble>,
    /// While away: how long the conditions have been clear.
    pub clear_for: Option<Duration>,
    /// The last reading's error, until a reading succeeds.
    pub last_error: Option<String>,
}

/// Told, on the `gpu-guard` thread with no lock of the guard held, after
/// the box stepped back or may return: read [`Guard::status`] then.
pub trait GuardWatcher: Send + Sync {
    fn gpu_changed(&self);
}

/// Whether the relay is answering a request now.
pub type RelayBusy = Arc<dyn Fn() -> bool + Send + Sync>;

/// The running guard; dropping it stops the thread (at its next wakeup).
pub struct Guard {
    shared: Arc<Shared>,
    /// Never sent on: dropped with the guard, it closes the thread's
    /// channel, which ends the thread at its next wakeup.
    _stop: mpsc::Sender<()>,
}

/// What the thread and the callers share.
struct Shared {
    state: Mutex<State>,
    /// Signalled when the first check is done.
    first_done: Condvar,
}

#[derive(Default)]
struct State {
    status: GuardStatus,
    first_done: bool,
}

impl Guard {
    /// Finds the GPU tools (`nvidia-smi` on `PATH`, AMD cards under the
    /// sysfs root) and starts the thread; `None`, after one warning, when
    /// there is none (or the thread cannot start).
    pub fn start(
        settings: GuardSettings,
        busy: RelayBusy,
        watcher: Weak<dyn GuardWatcher>,
    ) -> Option<Arc<Guard>> {
        let path = std::env::var_os("PATH");
        Guard::start_with_path(settings, busy, watcher, path.as_deref())
    }

    /// [`Guard::start`] with `PATH`'s value given.
    pub fn start_with_path(
        settings: GuardSettings,
        busy: RelayBusy,
        watcher: Weak<dyn GuardWatcher>,
        path: Option<&OsStr>,
    ) -> Option<Arc<Guard>> {
        let sources = match Sources::find(path, &settings.sysfs_root) {
            Ok(sources) => sources,
            Err(why) => {
                log::warn!("{why}");
                return None;
            }
        };
        log::info!(
            "gpu_guard: reading {} every {}",
            sources.describe(),
            seconds(settings.check_every)
        );
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            first_done: Condvar::new(),
        });
        let (stop, stopped) = mpsc::channel();
        let worker = Worker {
            verdict: Verdict::new(Rules {
                max_temp_c: settings.max_temp_c,
                yield_to_others: settings.yield_to_others,
                clear_after: settings.clear_after,
            }),
            run_timeout: run_timeout(settings.check_every),
            settings,
            sources,
            busy,
            watcher,
            shared: Arc::clone(&shared),
            logged_error: None,
        };
        let longest_check = worker.run_timeout * 2 + Duration::from_secs(1);
        let started = thread::Builder::new()
            .name("gpu-guard".into())
            .spawn(move || worker.run(&stopped));
        if let Err(e) = started {
            log::error!("gpu_guard: could not start its thread ({e}): the guard stays off");
            return None;
        }
        let guard = Arc::new(Guard {
            shared,
            _stop: stop,
        });
        guard.wait_for_first_check(longest_check);
        Some(guard)
    }

    /// Waits until the first check is done, at most `longest`.
    fn wait_for_first_check(&self, longest: Duration) {
        let state = self.shared.lock();
        let _ = self
            .shared
            .first_done
            .wait_timeout_while(state, longest, |state| !state.first_done);
    }

    pub fn status(&self) -> GuardStatus {
        self.shared.lock().status.clone()
    }

    /// Why the guard holds the box away; `None` when it does not.
    pub fn away(&self) -> Option<Trouble> {
        self.shared.lock().status.away.clone()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// How long one `nvidia-smi` run may take: 10 s, or the check interval
/// when shorter, at least a second.
fn run_timeout(check_every: Duration) -> Duration {
    check_every.min(MAX_RUN).max(Duration::from_secs(1))
}

/// The `gpu-guard` thread's own state.
struct Worker {
    settings: GuardSettings,
    sources: Sources,
    verdict: Verdict,
    run_timeout: Duration,
    busy: RelayBusy,
    watcher: Weak<dyn GuardWatcher>,
    shared: Arc<Shared>,
    /// The error text last logged, so that each is logged once.
    logged_error: Option<String>,
}

impl Worker {
    /// Checks at once, then every `check_every` until told to stop.
    fn run(mut self, stopped: &mpsc::Receiver<()>) {
        loop {
            self.check();
            match stopped.recv_timeout(self.settings.check_every) {
                Err(RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    /// One check: read, decide, publish, then log and tell the watcher.
    fn check(&mut self) {
        let reading = self
            .sources
            .read(self.settings.yield_to_others, self.run_timeout);
        let relay_busy = (self.busy)();
        let change = self.verdict.next(
            reading.as_ref().map_err(String::as_str),
            relay_busy,
            Instant::now(),
        );
        self.log_error(reading.as_ref().err());
        self.publish(reading.map(|sample| sample.gpus));
        if let Some(change) = change {
            log_change(&change, self.settings.clear_after);
            if let Some(watcher) = self.watcher.upgrade() {
                watcher.gpu_changed();
            }
        }
    }

    /// Puts the check's result in the status (the GPUs of a failed
    /// reading stay the last ones read).
    fn publish(&self, gpus: Result<Vec<GpuReading>, String>) {
        let mut state = self.shared.lock();
        let status = &mut state.status;
        match gpus {
            Ok(gpus) => {
                status.gpus = gpus;
                status.last_error = None;
            }
            Err(error) => status.last_error = Some(error),
        }
        status.away = self.verdict.away().cloned();
        status.clear_for = self.verdict.clear_for();
        state.first_done = true;
        drop(state);
        self.shared.first_done.notify_all();
    }

    /// Logs a reading's error once per new text, and that readings work
    /// again after one failed.
    fn log_error(&mut self, error: Option<&String>) {
        match (error, &self.logged_error) {
            (Some(error), Some(logged)) if error == logged => {}
            (Some(error), _) => {
                log::warn!("gpu_guard: could not read the GPUs: {error}");
                self.logged_error = Some(error.clone());
            }
            (None, Some(_)) => {
                log::info!("gpu_guard: the GPUs read again");
                self.logged_error = None;
            }
            (None, None) => {}
        }
    }
}

fn log_change(change: &Change, clear_after: Duration) {
    match change {
        Change::Away(trouble) => {
            log::info!(
                "gpu_guard: stepping back from the hub: {}",
                trouble.describe()
            );
        }
        Change::Back { was } => log::info!(
            "gpu_guard: the GPUs have been clear for {}: back on the hub (stepped back because {})",
            seconds(clear_after),
            was.describe()
        ),
    }
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    /// Counts its calls, and what the guard said at each.
    #[derive(Default)]
    struct Counter {
        calls: AtomicUsize,
        seen: Mutex<Vec<Option<Trouble>>>,
        guard: Mutex<Option<Weak<Guard>>>,
    }

    impl GuardWatcher for Counter {
        fn gpu_changed(&self) {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let guard = self.guard.lock().unwrap().as_ref().and_then(Weak::upgrade);
            let away = guard.map(|guard| guard.away());
            self.seen.lock().unwrap().push(away.flatten());
        }
    }

    /// Writes `dir/name` whole (a temp file renamed into place), so the
    /// stand-in never reads half of it.
    fn put(dir: &Path, name: &str, text: &str) {
        let temp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&temp, text).unwrap();
        std::fs::rename(temp, dir.join(name)).unwrap();
    }

    fn settings(sysfs: &Path) -> GuardSettings {
        GuardSettings {
            check_every: Duration::from_millis(50),
            max_temp_c: 85.0,
            yield_to_others: true,
            clear_after: Duration::from_millis(150),
            sysfs_root: sysfs.to_path_buf(),
        }
    }

    /// A stand-in `nvidia-smi` printing `dir/gpus.csv` and `dir/apps.csv`,
    /// failing with `dir/fail`'s text when it exists.
    fn stand_in(dir: &Path) {
        let body = format!(
            "cd '{}'\n\
             if [ -e fail ]; then cat fail; exit 9; fi\n\
             case \"$1\" in\n\
             --query-gpu=*) cat gpus.csv ;;\n\
             --query-compute-apps=*) cat apps.csv ;;\n\
             esac",
            dir.display()
        );
        crate::gpu::fake_tool::script(dir, "nvidia-smi", &body);
        put(dir, "gpus.csv", "0, 45, 3, 1234, 24576\n");
        put(dir, "apps.csv", "");
    }

    fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn steps_back_when_hot_and_returns_after_the_clear_time() {
        let (bin, sysfs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        stand_in(bin.path());
        let counter = Arc::new(Counter::default());
        let watcher: Weak<dyn GuardWatcher> = Arc::<Counter>::downgrade(&counter);
        let path = std::env::join_paths([bin.path()]).unwrap();
        let busy: RelayBusy = Arc::new(|| false);
        let guard =
            Guard::start_with_path(settings(sysfs.path()), busy, watcher, Some(&path)).unwrap();
        *counter.guard.lock().unwrap() = Some(Arc::downgrade(&guard));
        // The first check ran before start returned.
        let status = guard.status();
        assert_eq!(status.gpus[0].temp_c, Some(45.0));
        assert_eq!(status.away, None);
        assert_eq!(counter.calls.load(Ordering::SeqCst), 0);

        put(bin.path(), "gpus.csv", "0, 91, 3, 1234, 24576\n");
        wait_for("the step back", || guard.away().is_some());
        let stepped_back_at = Instant::now();
        let hot = Trouble::Hot {
            gpu: "0".into(),
            temp_c: 91.0,
            max_c: 85.0,
        };
        assert_eq!(guard.away(), Some(hot.clone()));
        wait_for("the watcher", || counter.calls.load(Ordering::SeqCst) == 1);
        assert_eq!(guard.status().clear_for, Some(Duration::ZERO));

        put(bin.path(), "gpus.csv", "0, 60, 3, 1234, 24576\n");
        wait_for("the return", || guard.away().is_none());
        assert!(stepped_back_at.elapsed() >= Duration::from_millis(150));
        wait_for("the watcher", || counter.calls.load(Ordering::SeqCst) == 2);
        // Stays clear: no more calls.
        thread::sleep(Duration::from_millis(300));
        assert_eq!(counter.calls.load(Ordering::SeqCst), 2);
        assert_eq!(*counter.seen.lock().unwrap(), [Some(hot), None]);
        assert_eq!(guard.status().clear_for, None);
    }

    #[test]
    fn a_failing_tool_keeps_the_state_and_says_why() {
        let (bin, sysfs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        stand_in(bin.path());
        put(bin.path(), "gpus.csv", "0, 91, 3, 1234, 24576\n");
        let counter = Arc::new(Counter::default());
        let watcher: Weak<dyn GuardWatcher> = Arc::<Counter>::downgrade(&counter);
        let path = std::env::join_paths([bin.path()]).unwrap();
        let busy: RelayBusy = Arc::new(|| false);
        let guard =
            Guard::start_with_path(settings(sysfs.path()), busy, watcher, Some(&path)).unwrap();
        // Hot at the very first check: away before start returned.
        assert!(
            matches!(guard.away(), Some(Trouble::Hot { .. })),
            "{:?}",
            guard.status()
        );
        let message =
            "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.";
        put(bin.path(), "fail", message);
        put(bin.path(), "gpus.csv", "0, 60, 3, 1234, 24576\n");
        wait_for("the error", || guard.status().last_error.is_some());
        thread::sleep(Duration::from_millis(300));
        let status = guard.status();
        assert_eq!(status.last_error.as_deref(), Some(message));
        assert!(matches!(status.away, Some(Trouble::Hot { .. })));
        assert_eq!(status.gpus[0].temp_c, Some(91.0));
        std::fs::remove_file(bin.path().join("fail")).unwrap();
        wait_for("the return", || guard.away().is_none());
        assert_eq!(guard.status().last_error, None);
        assert_eq!(counter.calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn another_user_of_the_gpu_steps_back_and_the_relay_s_own_work_does_not() {
        let (bin, sysfs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        stand_in(bin.path());
        put(bin.path(), "gpus.csv", "0, 60, 97, 1234, 24576\n");
        put(bin.path(), "apps.csv", "1, /usr/bin/ollama, 4096\n");
        let relay_busy = Arc::new(AtomicBool::new(true));
        let busy: RelayBusy = {
            let relay_busy = Arc::clone(&relay_busy);
            Arc::new(move || relay_busy.load(Ordering::SeqCst))
        };
        let none: Weak<dyn GuardWatcher> = Weak::<Counter>::new();
        let path = std::env::join_paths([bin.path()]).unwrap();
        let guard =
            Guard::start_with_path(settings(sysfs.path()), busy, none, Some(&path)).unwrap();
        // Busy serving: the load is the relay's own.
        thread::sleep(Duration::from_millis(300));
        assert_eq!(guard.away(), None);
        relay_busy.store(false, Ordering::SeqCst);
        wait_for("the game", || guard.away().is_some());
        assert!(matches!(guard.away(), Some(Trouble::BusyWhileIdle { .. })));
        // A compute process of another program, on an idle GPU.
        put(bin.path(), "gpus.csv", "0, 60, 0, 1234, 24576\n");
        wait_for("the return", || guard.away().is_none());
        put(bin.path(), "apps.csv", "4242, /usr/bin/blender, 100\n");
        wait_for("blender", || guard.away().is_some());
        assert_eq!(
            guard.away(),
            Some(Trouble::OtherProcess {
                pid: 4242,
                name: "/usr/bin/blender".into()
            })
        );
    }

    #[test]
    fn without_a_gpu_tool_the_guard_stays_off() {
        let (empty, sysfs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let path = std::env::join_paths([empty.path()]).unwrap();
        let none: Weak<dyn GuardWatcher> = Weak::<Counter>::new();
        let busy: RelayBusy = Arc::new(|| false);
        assert!(Guard::start_with_path(settings(sysfs.path()), busy, none, Some(&path)).is_none());
    }

    #[test]
    fn an_amd_card_alone_is_guarded() {
        let (empty, sysfs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let device = sysfs.path().join("card0/device");
        std::fs::create_dir_all(device.join("hwmon/hwmon1")).unwrap();
        put(&device, "gpu_busy_percent", "5\n");
        put(&device.join("hwmon/hwmon1"), "temp1_input", "95000\n");
        let path = std::env::join_paths([empty.path()]).unwrap();
        let none: Weak<dyn GuardWatcher> = Weak::<Counter>::new();
        let busy: RelayBusy = Arc::new(|| false);
        let guard =
            Guard::start_with_path(settings(sysfs.path()), busy, none, Some(&path)).unwrap();
        assert_eq!(
            guard.away(),
            Some(Trouble::Hot {
                gpu: "card0".into(),
                temp_c: 95.0,
                max_c: 85.0
            })
        );
        drop(guard);
    }

    #[test]
    fn a_run_takes_at_most_ten_seconds_and_at_least_one() {
        assert_eq!(run_timeout(Duration::from_secs(60)), MAX_RUN);
        assert_eq!(run_timeout(Duration::from_secs(3)), Duration::from_secs(3));
        assert_eq!(
            run_timeout(Duration::from_millis(50)),
            Duration::from_secs(1)
        );
    }
}
