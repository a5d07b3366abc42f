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
