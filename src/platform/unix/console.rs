//! Signals and the terminal on Unix: SIGINT (Ctrl+C), SIGTERM (systemd,
//! supervisor, kill) and SIGHUP (the terminal closed, the ssh session
//! dropped) stop the client; they are read on a thread through
//! signal-hook's self-pipe, so no work happens in a signal handler. The
//! terminal's echo goes off with termios.

use std::io;
use std::sync::Mutex;

use signal_hook::iterator::{Handle, Signals};

/// The events that stop the client, as they come.
pub struct StopEvents {
    signals: Signals,
}

/// Ends a [`StopEvents::next`] wait from another thread.
pub struct StopCloser(Handle);

impl StopEvents {
    /// Starts catching SIGINT, SIGTERM and SIGHUP. SIGHUP is left out
    /// when the client was started with it ignored, as `nohup` does,
    /// since that asks for the client to outlive its terminal. An error
    /// means the signals cannot be caught.
    pub fn catch() -> io::Result<StopEvents> {
        let mut signals = vec![libc::SIGINT, libc::SIGTERM];
        if !is_ignored(libc::SIGHUP) {
            signals.push(libc::SIGHUP);
        }
        Ok(StopEvents {
            signals: Signals::new(signals)?,
        })
    }

    /// Waits for the next event: its name for the log (`SIGTERM`);
    /// `None` once closed.
    pub fn next(&mut self) -> Option<&'static str> {
        self.signals.forever().next().map(signal_name)
    }

    pub fn closer(&self) -> StopCloser {
        StopCloser(self.signals.handle())
    }
}

impl StopCloser {
    pub fn close(&self) {
        self.0.close();
    }
}

fn signal_name(signal: libc::c_int) -> &'static str {
    match signal {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

fn is_ignored(signal: libc::c_int) -> bool {
    // SAFETY: with a null new action, sigaction only writes the current one
    // into `old`, a plain struct that zeroed memory initialises.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
    }
}

/// The terminal's settings while echo is off, to put back after the line,
/// or if a signal ends the program.
static SAVED_TERMINAL: Mutex<Option<libc::termios>> = Mutex::new(None);

/// Puts back the settings [`echo_off`] changed, if it did.
pub fn restore_terminal() {
    let saved = SAVED_TERMINAL
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    if let Some(saved) = saved {
        // SAFETY: puts back settings that tcgetattr returned.
        unsafe {
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &saved);
        }
    }
}

/// Switches the terminal's echo off, keeping its settings for
/// [`restore_terminal`]; the newline is still echoed (ECHONL), so that
/// what comes next starts on its own line.
pub fn echo_off() {
    // SAFETY: termios is plain old data; tcgetattr fills it in, and on
    // failure (not a terminal) nothing is changed.
    unsafe {
        let mut term: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(libc::STDIN_FILENO, &mut term) != 0 {
            return;
        }
        *SAVED_TERMINAL.lock().unwrap_or_else(|p| p.into_inner()) = Some(term);
        term.c_lflag &= !libc::ECHO;
        term.c_lflag |= libc::ECHONL;
        libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &term);
    }
}

/// The system's display language when no locale variable names one: on
/// Unix the variables are the only source.
pub fn display_language() -> Option<&'static str> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stop_signal_has_its_name() {
        assert_eq!(signal_name(libc::SIGINT), "SIGINT");
        assert_eq!(signal_name(libc::SIGTERM), "SIGTERM");
        assert_eq!(signal_name(libc::SIGHUP), "SIGHUP");
        assert_eq!(signal_name(libc::SIGUSR1), "a signal");
    }

    #[test]
    fn an_ignored_signal_is_told_from_a_caught_one() {
        // SIGUSR2: no other test uses it, and ignoring it harms nothing.
        // SAFETY: sets a disposition, then reads them; no handler runs.
        unsafe {
            libc::signal(libc::SIGUSR2, libc::SIG_IGN);
        }
        assert!(is_ignored(libc::SIGUSR2));
        assert!(!is_ignored(libc::SIGWINCH), "default, not ignored");
        // SAFETY: as above.
        unsafe {
            libc::signal(libc::SIGUSR2, libc::SIG_DFL);
        }
        assert!(!is_ignored(libc::SIGUSR2));
    }

    #[test]
    fn a_stop_signal_is_read_by_name_until_closed() {
        let mut events = StopEvents::catch().unwrap();
        // SAFETY: sends SIGTERM to this process, whose disposition for it
        // is now signal-hook's (which only writes to its pipe).
        unsafe {
            libc::raise(libc::SIGTERM);
        }
        assert_eq!(events.next(), Some("SIGTERM"));
        // SIGHUP too (the test runs with it not ignored).
        // SAFETY: as above.
        unsafe {
            libc::raise(libc::SIGHUP);
        }
        assert_eq!(events.next(), Some("SIGHUP"));
        events.closer().close();
        assert_eq!(events.next(), None);
    }

    #[test]
    fn the_display_language_is_left_to_the_locale_variables() {
        assert_eq!(display_language(), None);
    }
}
