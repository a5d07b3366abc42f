//! Console events and the console on Windows. Ctrl+C, Ctrl+Break, the
//! console window closed, log-off and shutdown stop the client: the
//! system calls a handler (`SetConsoleCtrlHandler`) on a thread of its
//! own, which passes the event to every [`StopEvents`] through a channel.
//! For the last three the system ends the process as soon as the handler
//! returns (and at the latest after about 5 seconds), so the handler waits
//! there while the stop runs: its `exit` ends the process first. Log-off
//! and shutdown reach a console program only while it has not loaded
//! user32.dll, which is why nothing here (nor `files::home_dir`) uses it.
//!
//! Text needs nothing here: Rust's standard output writes UTF-16 to a
//! console (`WriteConsoleW`), so Russian shows in cmd.exe and PowerShell
//! whatever the code page, and UTF-8 to a pipe or a file.

use std::io::{self, Write};
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

/// Everyone waiting for an event: an id (for [`StopCloser`]) and where to
/// send the event's name.
static LISTENERS: Mutex<Vec<(u64, Sender<&'static str>)>> = Mutex::new(Vec::new());

/// The next listener's id.
static NEXT_ID: Mutex<u64> = Mutex::new(0);

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
        let id = {
            let mut next = NEXT_ID.lock().unwrap_or_else(|p| p.into_inner());
            *next += 1;
            *next
        };
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
pub fn event_name(event: u32) -> Option<&'static str> {
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
pub fn is_russian(language: u16) -> bool {
    language & 0x3ff == 0x19
}
