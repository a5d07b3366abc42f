//! How the program ends early: the exit statuses, and [`Fatal`], a reason
//! to stop with the status it maps to. `main` prints it on stderr in the
//! owner's language (and logs it in English, once the log is up) and exits
//! with its status: no non-zero exit is silent.

use crate::text::{self, Text};

/// `--check` found a problem.
pub const CHECK_FAILED: u8 = 1;
/// A usage error.
pub const USAGE: u8 = 2;
/// The system refused a resource, such as a thread (EX_OSERR).
pub const OS_ERROR: u8 = 71;
/// The configuration is missing or invalid (EX_CONFIG).
pub const CONFIG: u8 = 78;

/// A reason to stop, with the exit status it maps to.
#[derive(Debug)]
pub struct Fatal {
    pub status: u8,
    pub message: Text,
}

impl Fatal {
    pub fn usage(message: impl Into<Text>) -> Fatal {
        Fatal {
            status: USAGE,
            message: message.into(),
        }
    }

    pub fn config(message: impl Into<Text>) -> Fatal {
        Fatal {
            status: CONFIG,
            message: message.into(),
        }
    }

    /// A thread the client needs could not be started.
    pub fn thread(name: &str, error: &std::io::Error) -> Fatal {
        Fatal {
            status: OS_ERROR,
            message: text::startup::cannot_start_thread(name, error),
        }
    }
}
