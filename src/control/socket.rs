//! Where `control.sock` and `control.lock` are for a config file, and the
//! lock on `control.lock`: the server holds it, the client asks whether it
//! is held. And how either end reads the other's one line.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::deadline;
use crate::exit::Fatal;
use crate::platform::control::{self as channel, Stream};
use crate::platform::files;
use crate::state_file::{self, Access};
use crate::text::control as text;

/// How long a connection may take to send its request, and each write of
/// the answer.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// `control.sock` beside the config file (`gpu1.control.sock` beside
/// `gpu1.json`: see `config::beside`). A path too long for a Unix socket
/// address (`platform::control::MAX_PATH`) is a [`Fatal`] with exit 78:
/// the config must move.
pub fn socket_path(config_path: &Path) -> Result<PathBuf, Fatal> {
    let socket = crate::config::beside(config_path, "control.sock");
    if socket.as_os_str().len() > channel::MAX_PATH {
        return Err(Fatal::config(text::socket_path_too_long(socket.display())));
    }
    Ok(socket)
}

/// `control.lock` beside the config file: held by the running client.
pub fn lock_path(config_path: &Path) -> PathBuf {
    crate::config::beside(config_path, "control.lock")
}

/// Whether a client holds the lock at `lock`: it does when the lock
/// cannot be taken. A lock file that does not exist or cannot be opened
/// (or is not a regular file: see `state_file`) means no client (none
/// could have locked it either).
pub fn lock_is_held(lock: &Path) -> bool {
    match state_file::open(lock, Access::Read) {
        Ok(file) => matches!(files::try_lock_shared(&file), Ok(false)),
        Err(_) => false,
    }
}

/// Why [`read_line`] brought no line.
#[derive(Debug)]
pub(super) enum NoLine {
    /// The input ended before its first byte.
    Ended,
    /// No newline within the bound.
    TooLong,
    /// The wait is over: no line in the time allowed.
    Late,
    Io(std::io::Error),
}

/// Reads one line, without its newline (an end of input ends it too), of
/// at most `max` bytes with its newline, by `until`. Every `look_every`
/// without a byte, `waiting` may end the wait early with its error.
pub(super) fn read_line(
    stream: &mut Stream,
    max: usize,
    until: Instant,
    look_every: Duration,
    mut waiting: impl FnMut() -> Result<(), NoLine>,
) -> Result<Vec<u8>, NoLine> {
    let mut line = Vec::with_capacity(64);
    let mut buf = [0u8; 4096];
    loop {
        let look = until.min(Instant::now() + look_every);
        let read = match deadline::read_before(stream, &mut buf, look) {
            Ok(Some(0)) if line.is_empty() => return Err(NoLine::Ended),
            Ok(Some(0)) => return Ok(line),
            Ok(Some(n)) => buf.get(..n).unwrap_or_default(),
            Ok(None) if look == until => return Err(NoLine::Late),
            Ok(None) => {
                waiting()?;
                continue;
            }
            Err(e) => return Err(NoLine::Io(e)),
        };
        line.extend(read.iter().take_while(|b| **b != b'\n'));
        if line.len() >= max {
            return Err(NoLine::TooLong);
        }
        if read.contains(&b'\n') {
            return Ok(line);
        }
    }
}

/// `control.lock`, created 0600, never through a link, and only a
/// regular file (`state_file`). The directory is there already: the log
/// and the ledger beside the config made it (0700) before.
pub(super) fn open_lock(lock: &Path) -> std::io::Result<File> {
    state_file::open(lock, Access::ReadWrite)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_path_may_take_the_systems_longest_and_no_more() {
        // A directory that makes its `control.sock` `len` bytes long.
        let config_in = |len: usize| {
            let dir = format!("/{}", "d".repeat(len - "/control.sock".len() - 1));
            Path::new(&dir).join("config.json")
        };
        #[cfg(target_os = "linux")]
        assert_eq!(channel::MAX_PATH, 107);
        let fits = socket_path(&config_in(channel::MAX_PATH)).unwrap();
        assert_eq!(fits.as_os_str().len(), channel::MAX_PATH);
        let over = socket_path(&config_in(channel::MAX_PATH + 1)).unwrap_err();
        assert_eq!(over.status, crate::exit::CONFIG);
    }

    #[test]
    fn each_config_file_has_its_own_socket_and_lock_and_the_default_keeps_the_old_names() {
        let dir = Path::new("/srv/box");
        let cases = [
            ("config.json", "control.sock", "control.lock"),
            ("gpu1.json", "gpu1.control.sock", "gpu1.control.lock"),
            ("gpu2", "gpu2.control.sock", "gpu2.control.lock"),
        ];
        for (config, socket, lock) in cases {
            assert_eq!(socket_path(&dir.join(config)).unwrap(), dir.join(socket));
            assert_eq!(lock_path(&dir.join(config)), dir.join(lock));
        }
        assert_eq!(
            socket_path(Path::new("gpu1.json")).unwrap(),
            Path::new(".").join("gpu1.control.sock")
        );
        assert_eq!(
            crate::pause::path_for(&dir.join("gpu1.json")),
            dir.join("gpu1.paused.json")
        );
        assert_eq!(
            crate::ledger::path_for(&dir.join("gpu1.json")),
            dir.join("gpu1.ledger.jsonl")
        );
        assert_eq!(
            crate::settings::log_path_for(&dir.join("gpu1.json")),
            dir.join("logs").join("gpu1.client.log")
        );
        assert_eq!(
            crate::settings::log_path_for(&dir.join("config.json")),
            dir.join("logs").join("client.log")
        );
    }
}
