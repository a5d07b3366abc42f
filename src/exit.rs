//! How the program ends early: the exit statuses, and [`Fatal`], a reason
//! to stop with the status it maps to. `main` prints it on stderr in the
//! owner's language (and logs it in English, once the log is up) and exits
//! with its status: no non-zero exit is silent.

use crate::text::{self, Text};

/// `--check` found a problem.
pub const CHECK_FAILED: u8 = 1;
/// `--status`: a client runs, but does not serve (paused, hub down,
/// Ollama down); also a request the running client refused.
pub const NOT_SERVING: u8 = 1;
/// A usage error.
pub const USAGE: u8 = 2;
/// `--status`, `--pause`, `--resume`: no client runs on this config, or
/// it cannot be reached (EX_UNAVAILABLE).
pub const UNAVAILABLE: u8 = 69;
/// The system refused a resource, such as a thread (EX_OSERR).
pub const OS_ERROR: u8 = 71;
/// Another client already runs on this config directory (EX_TEMPFAIL:
/// a supervisor may try again later).
pub const ALREADY_RUNNING: u8 = 75;
/// The configuration is missing or invalid (EX_CONFIG).
pub const CONFIG: u8 = 78;

/// A reason to stop, with the exit status it maps to.
#[derive(Debug)]
pub struct Fatal {
    pub status: u8,
    pub message: Text,
}

impl Fatal {
    pub fn new(status: u8, message: impl Into<Text>) -> Fatal {
        let message = message.into();
        Fatal { status, message }
    }

    pub fn usage(message: impl Into<Text>) -> Fatal {
        Fatal::new(USAGE, message)
    }

    pub fn config(message: impl Into<Text>) -> Fatal {
        Fatal::new(CONFIG, message)
    }

    /// A client holds the lock on this config: another one cannot start,
    /// and an owner's command that cannot reach it may try again later.
    pub fn already_running(message: impl Into<Text>) -> Fatal {
        Fatal::new(ALREADY_RUNNING, message)
    }

    /// A thread the client needs could not be started.
    pub fn thread(name: &str, error: &std::io::Error) -> Fatal {
        Fatal::new(OS_ERROR, text::startup::cannot_start_thread(name, error))
    }
}
