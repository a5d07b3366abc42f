//! Shutdown on SIGTERM (systemd, supervisor), SIGINT (Ctrl+C) or SIGHUP (a
//! closed terminal, a dropped ssh session; not when started with it
//! ignored, as by `nohup`), or on Windows Ctrl+C, Ctrl+Break, the console
//! window closed, log-off and shutdown (see `platform::console`), in every
//! mode:
//! take no new requests, let running answers finish for the grace
//! period, end the rest with `Error: owner client is shutting down` and the
//! end marker (closing their Ollama requests so that Ollama stops), send the
//! hub a WebSocket Close 1001, and exit with status 0. A second signal exits
//! at once.
//!
//! A dedicated thread waits for the signals (`platform::console::StopEvents`),
//! so no work happens inside a signal handler, and a second thread runs the
//! sequence so that the first can still see a second signal. Test mode runs
//! the same sequence at the end of its input.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::hub::{Finish, LoopState, ToWriter, WriterSender};
use crate::ledger::Ledger;
use crate::logging::FILE_ONLY;
use crate::platform::console::StopEvents;
use crate::relay::Relay;
use crate::text::{startup as text, Text};

/// How long cancelled answers get to send their error frames, and the
/// writer its last frames and the Close.
const CLEANUP_LIMIT: Duration = Duration::from_secs(1);

/// What the shutdown sequence works on.
pub struct Shutdown {
    pub relay: Relay,
    pub to_writer: WriterSender,
    pub grace: Duration,
    pub hub_loop: LoopState,
    /// Test mode: end the half-typed prompt line first, tell the person at
    /// the terminal in their language (the log file gets the English), and
    /// do not keep them waiting for a hub that is not connected.
    pub interactive: bool,
    /// Test mode, or serving with a terminal on standard error: the stop is
    /// told there in the owner's language, and its log lines go to the
    /// file only. Under systemd or supervisor (no terminal) the log lines
    /// go to both, in English, as every running log line does.
    at_terminal: bool,
    /// Without a hub there is nobody to wait for.
    has_hub: bool,
    /// Gets the `stop` line, last.
    ledger: Option<Arc<Ledger>>,
    started: AtomicBool,
}

impl Shutdown {
    pub fn new(
        relay: Relay,
        to_writer: WriterSender,
        grace: Duration,
        interactive: bool,
        has_hub: bool,
        ledger: Option<Arc<Ledger>>,
    ) -> Arc<Shutdown> {
        Arc::new(Shutdown {
            relay,
            to_writer,
            grace,
            hub_loop: LoopState::default(),
            interactive,
            at_terminal: interactive || std::io::stderr().is_terminal(),
            has_hub,
            ledger,
            started: AtomicBool::new(false),
        })
    }

    /// Installs the signal thread: the first SIGTERM/SIGINT/SIGHUP starts
    /// the sequence, a second one exits at once. An error means signals
    /// cannot be caught; the caller must not run without them.
    pub fn install_signals(self: &Arc<Shutdown>) -> std::io::Result<()> {
        let mut events = StopEvents::catch()?;
        let shutdown = Arc::clone(self);
        thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                if let Some(name) = events.next() {
                    let runner = Arc::clone(&shutdown);
                    let started = thread::Builder::new()
                        .name("shutdown".into())
                        .spawn(move || runner.run_on_signal(name));
                    if let Err(e) = started {
                        // The stop still happens, here; only a second
                        // signal can no longer cut it short.
                        log::error!("cannot start the shutdown thread: {e}");
                        shutdown.run_on_signal(name);
                    }
                }
                if let Some(name) = events.next() {
                    let at_once = text::stopping_at_once(name);
                    shutdown.tell(log::Level::Warn, &at_once.english(), at_once);
                    last_log_flush();
                    std::process::exit(0);
                }
            })
            .map(drop)
    }

    /// Runs the sequence and ends the process with status 0. Only the first
    /// caller runs it; a later one waits for that one to end the process.
    /// `reason` is for the log; the terminal is told "Stopping".
    pub fn run(&self, reason: &str) -> ! {
        self.stop(reason, text::stopping(self.grace.as_secs_f64()))
    }

    /// [`Shutdown::run`] for a signal (`SIGINT`...).
    fn run_on_signal(&self, signal: &str) -> ! {
        let notice = text::stopping_on_signal(signal, self.grace.as_secs_f64());
        self.stop(&format!("{signal} received"), notice)
    }

    fn stop(&self, reason: &str, notice: Text) -> ! {
        if self.started.swap(true, Ordering::SeqCst) {
            self.hub_loop.wait_for_exit();
        }
        if self.interactive {
            // Ends the half-typed prompt line.
            crate::console::print("\n");
        }
        // Closed first: once the log says the stop began, every request
        // that arrives gets the shutdown error.
        self.relay.stop_accepting();
        let grace = self.grace.as_secs_f64();
        let line = format!("{reason}: finishing running answers (up to {grace} s)");
        self.tell(log::Level::Info, &line, notice);
        let deadline = Instant::now() + self.grace;
        if !self.relay.wait_idle(self.grace) {
            let over = text::stopping_grace_over();
            self.tell(log::Level::Warn, &over.english(), over);
            self.relay.cancel_all();
            self.relay.wait_idle(CLEANUP_LIMIT);
        }
        // Answers still waiting for the hub (a reconnect, say) get what is
        // left of the grace period, and at least a moment.
        let deadline = match self.has_hub {
            true => deadline.max(Instant::now() + CLEANUP_LIMIT / 2),
            false => Instant::now(),
        };
        let (done, finished) = mpsc::channel();
        let finish = Finish {
            done,
            deadline,
            state: self.hub_loop.clone(),
            wait_for_reconnect: !self.interactive,
        };
        if self.to_writer.send(ToWriter::Finish(finish)).is_ok() {
            let left = deadline.saturating_duration_since(Instant::now());
            let _ = finished.recv_timeout(left + CLEANUP_LIMIT);
        }
        self.hub_loop.stop();
        if let Some(ledger) = &self.ledger {
            ledger.stopped(reason);
        }
        crate::control::server::withdraw();
        log::info!("stopped");
        last_log_flush();
        std::process::exit(0);
    }

    /// Logs `line` (English). At a terminal the person there is told
    /// `notice` in their language instead, and the line goes to the log
    /// file only, so that it is not shown twice.
    fn tell(&self, level: log::Level, line: &str, notice: Text) {
        if self.at_terminal {
            crate::console::say(notice);
            log::log!(target: FILE_ONLY, level, "{line}");
        } else {
            log::log!(level, "{line}");
        }
    }
}

/// Flushes the log before the exit, and lets no record start after it:
/// another thread's record would be cut short by the exit.
fn last_log_flush() {
    log::set_max_level(log::LevelFilter::Off);
    log::logger().flush();
}
