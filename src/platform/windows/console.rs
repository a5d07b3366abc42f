//! Console events and the console on Windows. Ctrl+C, Ctrl+Break, the
//! console window closed, log-off and shutdown stop the client: the
//! system calls a handler (`SetConsoleCtrlHandler`) on a thread of its
//! own, which passes the event to every [`StopEvents`] through a channel.
//! For the last three the system ends the process as soon as the handler
//! returns (and at the latest after about 5 seconds), so the handler waits
//! there while the stop runs: its `exit` ends the process first. Log-off
//! and shutdown reach a console program only while it has not loaded
//! user32.dll, which is why nothing here (nor `files::home_dir`) uses it.
//! A log-off does not say whose it is: a client with no desktop of its own
//! (session 0: started at boot by the Task Scheduler) ignores it, or any
//! user signing out would stop it; one in a user's session stops.
//!
//! Text needs nothing here: Rust's standard output writes UTF-16 to a
//! console (`WriteConsoleW`), so Russian shows in cmd.exe and PowerShell
//! whatever the code page, and UTF-8 to a pipe or a file.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Mutex, Once};
use std::time::Duration;

use windows_sys::core::BOOL;
use windows_sys::Win32::Globalization::GetUserDefaultUILanguage;
use windows_sys::Win32::System::Console::{
    GetConsoleMode, GetStdHandle, SetConsoleCtrlHandler, SetConsoleMode, CONSOLE_MODE,
    CTRL_BREAK_EVENT, CTRL_CLOSE_EVENT, CTRL_C_EVENT, CTRL_LOGOFF_EVENT, CTRL_SHUTDOWN_EVENT,
    ENABLE_ECHO_INPUT, STD_INPUT_HANDLE,
};
use windows_sys::Win32::System::RemoteDesktop::ProcessIdToSessionId;
use windows_sys::Win32::System::Threading::GetCurrentProcessId;

/// Everyone waiting for an event: an id (for [`StopCloser`]) and where to
/// send the event's name.
static LISTENERS: Mutex<Vec<(u64, Sender<&'static str>)>> = Mutex::new(Vec::new());

/// The next listener's id.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// How long the handler holds the process open after a close, log-off or
/// shutdown event: longer than the system waits, so the system's limit
/// or the stop's own exit decides.
const HOLD_AFTER_CLOSE: Duration = Duration::from_secs(30);

/// The events that stop the client, as they come.
pub struct StopEvents {
    events: Receiver<&'static str>,
    id: u64,
}

/// Ends a [`StopEvents::next`] wait from another thread.
pub struct StopCloser(u64);

impl StopEvents {
    /// Starts catching the console's events. An error means they cannot
    /// be caught.
    pub fn catch() -> io::Result<StopEvents> {
        install_handler()?;
        let (sender, events) = mpsc::channel();
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        listeners().push((id, sender));
        Ok(StopEvents { events, id })
    }

    /// Waits for the next event: its name for the log (`Ctrl+C`); `None`
    /// once closed.
    pub fn next(&mut self) -> Option<&'static str> {
        self.events.recv().ok()
    }

    pub fn closer(&self) -> StopCloser {
        StopCloser(self.id)
    }
}

impl StopCloser {
    /// Drops the listener's sender: its `next` ends with `None`.
    pub fn close(&self) {
        listeners().retain(|(id, _)| *id != self.0);
    }
}

fn listeners() -> std::sync::MutexGuard<'static, Vec<(u64, Sender<&'static str>)>> {
    LISTENERS.lock().unwrap_or_else(|p| p.into_inner())
}

fn install_handler() -> io::Result<()> {
    static INSTALL: Once = Once::new();
    let mut result = Ok(());
    INSTALL.call_once(|| {
        // SAFETY: the handler is a plain function that lives as long as
        // the program.
        if unsafe { SetConsoleCtrlHandler(Some(on_console_event), 1) } == 0 {
            result = Err(io::Error::last_os_error());
        }
    });
    result
}

/// The name of a console event, for the log; `None` for one that does
/// not stop the client.
fn event_name(event: u32) -> Option<&'static str> {
    match event {
        CTRL_C_EVENT => Some("Ctrl+C"),
        CTRL_BREAK_EVENT => Some("Ctrl+Break"),
        CTRL_CLOSE_EVENT => Some("the console window closed"),
        CTRL_LOGOFF_EVENT => Some("log-off"),
        CTRL_SHUTDOWN_EVENT => Some("shutdown"),
        _ => None,
    }
}

/// Whether the system ends the process once the handler returns.
fn ends_process(event: u32) -> bool {
    matches!(
        event,
        CTRL_CLOSE_EVENT | CTRL_LOGOFF_EVENT | CTRL_SHUTDOWN_EVENT
    )
}

unsafe extern "system" fn on_console_event(event: u32) -> BOOL {
    if event == CTRL_LOGOFF_EVENT && !has_desktop() {
        // Someone else's log-off: handled, so the system does not end us.
        return 1;
    }
    let Some(name) = event_name(event) else {
        return 0;
    };
    for (_, sender) in listeners().iter() {
        let _ = sender.send(name);
    }
    if ends_process(event) {
        std::thread::sleep(HOLD_AFTER_CLOSE);
    }
    1
}

/// Whether the process runs in a user's session (not session 0, where
/// services and boot tasks run with no desktop).
fn has_desktop() -> bool {
    let mut session = 0;
    // SAFETY: `session` is valid for one write.
    let found = unsafe { ProcessIdToSessionId(GetCurrentProcessId(), &mut session) } != 0;
    !found || session != 0
}

/// The console's input mode while echo is off, to put back after the
/// line, or if an event ends the program.
static SAVED_MODE: Mutex<Option<CONSOLE_MODE>> = Mutex::new(None);

/// Puts back the mode [`echo_off`] changed, if it did, and ends the line
/// the owner typed (the console does not echo its Enter while echo is
/// off).
pub fn restore_terminal() {
    let saved = SAVED_MODE.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(mode) = saved {
        // SAFETY: puts back a mode GetConsoleMode returned, on the
        // process's own input handle.
        unsafe { SetConsoleMode(GetStdHandle(STD_INPUT_HANDLE), mode) };
        let _ = io::stdout().write_all(b"\n");
    }
}

/// Switches the console's echo off, keeping its mode for
/// [`restore_terminal`]. Nothing happens when input is not a console.
pub fn echo_off() {
    let mut mode: CONSOLE_MODE = 0;
    // SAFETY: the process's own input handle; `mode` is valid for one
    // write, and nothing is changed when the call fails (not a console).
    unsafe {
        let input = GetStdHandle(STD_INPUT_HANDLE);
        if GetConsoleMode(input, &mut mode) == 0 {
            return;
        }
        *SAVED_MODE.lock().unwrap_or_else(|p| p.into_inner()) = Some(mode);
        SetConsoleMode(input, mode & !ENABLE_ECHO_INPUT);
    }
}

/// `ru` when the user's Windows display language is Russian; else `None`
/// (English).
pub fn display_language() -> Option<&'static str> {
    // SAFETY: no arguments, no failure.
    let language = unsafe { GetUserDefaultUILanguage() };
    is_russian(language).then_some("ru")
}

/// Whether a language identifier's primary language is Russian
/// (`LANG_RUSSIAN`, 0x19, in its low 10 bits: ru-RU is 0x0419).
fn is_russian(language: u16) -> bool {
    language & 0x3ff == 0x19
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stop_event_is_named_and_passed_on_until_closed() {
        let mut events = StopEvents::catch().unwrap();
        let mut second = StopEvents::catch().unwrap();
        for event in [CTRL_C_EVENT, CTRL_BREAK_EVENT] {
            // SAFETY: called as the system calls it, on this thread.
            assert_eq!(unsafe { on_console_event(event) }, 1);
        }
        assert_eq!(events.next(), Some("Ctrl+C"));
        assert_eq!(events.next(), Some("Ctrl+Break"));
        assert_eq!(second.next(), Some("Ctrl+C"));
        // Not a stop: left to the next handler (the system's).
        // SAFETY: as above.
        assert_eq!(unsafe { on_console_event(99) }, 0);
        events.closer().close();
        second.closer().close();
        assert_eq!(events.next(), None);
        assert_eq!(second.next(), Some("Ctrl+Break"), "sent before it closed");
        assert_eq!(second.next(), None);
    }

    #[test]
    fn the_events_that_end_the_process_are_held_and_named() {
        for event in [CTRL_CLOSE_EVENT, CTRL_LOGOFF_EVENT, CTRL_SHUTDOWN_EVENT] {
            assert!(ends_process(event));
            assert!(event_name(event).is_some());
        }
        assert!(!ends_process(CTRL_C_EVENT) && !ends_process(CTRL_BREAK_EVENT));
        assert_eq!(
            event_name(CTRL_CLOSE_EVENT),
            Some("the console window closed")
        );
    }

    #[test]
    fn a_test_run_has_a_desktop_of_its_own() {
        // Under wine and in a Windows session alike, tests run in a user's
        // session: a log-off there is this user's, and stops the client.
        assert!(has_desktop());
    }

    #[test]
    fn russian_is_told_by_the_primary_language() {
        assert!(is_russian(0x0419), "ru-RU");
        assert!(is_russian(0x0819), "ru-MD");
        assert!(!is_russian(0x0409), "en-US");
        assert!(!is_russian(0x0422), "uk-UA");
        assert!(!is_russian(0));
    }
}
