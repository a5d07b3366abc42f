//! Everything that differs between operating systems, behind one set of
//! names, so that the rest of the client reads the same on Linux, macOS
//! and Windows. Each side (`unix`, `windows`) has the same modules with the
//! same items; the compiler picks one, and this front re-exports it:
//!
//! - `files`: opening state files without blocking or following links,
//!   making files and directories private, the control lock, a file's
//!   identity, the home directory;
//! - `control`: the local channel `--status`, `--pause` and `--resume`
//!   use to reach the running client, and who may use it;
//! - `console`: the events that stop the client (signals on Unix, console
//!   events on Windows), the terminal's echo, the display language;
//! - `net`: the hub socket's writes that never wait, and the metrics
//!   port's accept queue;
//! - `process`: the process's own figures for `/metrics`, the local time,
//!   and the allocator's settings.
//!
//! Nothing here knows the rest of the client: it is the lowest module, and
//! its texts are for the log (English) or come back as errors.

mod common;
pub use common::ProcessFigures;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::{console, control, files, net, process};

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::{console, control, files, net, process};

#[cfg(test)]
mod tests {
    #[test]
    fn this_process_has_its_figures() {
        let p = super::process::figures();
        assert!(p.resident_bytes.is_some_and(|b| b > 0), "{p:?}");
        assert!(p.cpu_ms.is_some(), "{p:?}");
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let start = p.start_ms.unwrap();
        // Started within the last day, and not in the future (to the
        // clock tick and boot-time rounding).
        assert!(
            start <= now_ms + 2_000 && start + 86_400_000 > now_ms,
            "{p:?}"
        );
    }
}
