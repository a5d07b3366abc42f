//! Log setup: the console (stderr) gets INFO and up, DEBUG with `--debug`
//! or `--test`; the log file beside the config file gets every level with
//! timestamps, rotated by size so that a small box never fills its disk.
//!
//! Logging policy: the token never reaches a log. Our own code logs the hub
//! URL only through `Endpoint`'s `Display`, which has no token, and the
//! token's own type prints a mask. tungstenite logs the full request URI
//! (which carries the token) at debug and trace level, so its records are
//! dropped entirely; rustls is built without its logging feature; ureq's
//! records (Ollama only) are dropped as noise.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use log::LevelFilter;
use simplelog::{
    ColorChoice, CombinedLogger, ConfigBuilder, SharedLogger, TermLogger, TerminalMode, WriteLogger,
};

/// Where the log goes and how it is rotated.
pub struct LogSetup<'a> {
    pub console_debug: bool,
    /// No file when `None` (modes that only print, such as `--show-config`).
    pub file: Option<&'a Path>,
    pub max_bytes: u64,
    pub files_kept: usize,
}

/// The log target of records meant for the file but not the console.
pub const FILE_ONLY: &str = "file_only";

static READY: AtomicBool = AtomicBool::new(false);

/// Whether [`init`] ran (before it, log records go nowhere).
pub fn is_ready() -> bool {
    READY.load(Ordering::Relaxed)
}

/// Installs the logger. A log file that cannot be opened is reported on the
/// console; the client runs on without it.
pub fn init(setup: &LogSetup) {
    let mut builder = ConfigBuilder::new();
    builder
        .add_filter_ignore_str("tungstenite")
        .add_filter_ignore_str("ureq")
        .set_target_level(LevelFilter::Off)
        .set_thread_level(LevelFilter::Off)
        .set_time_format_rfc3339();
    let config = builder.build();
    let console_config = builder.add_filter_ignore_str(FILE_ONLY).build();
    let console_level = if setup.console_debug {
        LevelFilter::Debug
    } else {
        LevelFilter::Info
    };
    let mut loggers: Vec<Box<dyn SharedLogger>> = vec![TermLogger::new(
        console_level,
        console_config,
        TerminalMode::Stderr,
        ColorChoice::Never,
    )];
    let mut file_error = None;
    if let Some(path) = setup.file {
        match RotatingFile::open(path, setup.max_bytes, setup.files_kept) {
            Ok(file) => loggers.push(WriteLogger::new(LevelFilter::Debug, config, file)),
            Err(e) => {
                file_error = Some(format!("cannot write the log file {}: {e}", path.display()))
            }
        }
    }
    // Fails only if a logger is already set, which cannot happen here.
    let _ = CombinedLogger::init(loggers);
    READY.store(true, Ordering::Relaxed);
    if let Some(error) = file_error {
        log::warn!("{error}; logging to the console only");
    }
}

/// A log file that moves itself aside when it grows past `max_bytes`:
/// `client.log` becomes `client.log.1`, `.1` becomes `.2`, and so on up to
/// `files_kept`; the oldest is deleted. Rotation happens only between lines,
/// so a record is never split across two files.
pub struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    files_kept: usize,
    file: File,
    size: u64,
    at_line_start: bool,
}

impl RotatingFile {
    pub fn open(path: &Path, max_bytes: u64, files_kept: usize) -> io::Result<RotatingFile> {
        if let Some(dir) = path.parent() {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile {
            path: path.to_path_buf(),
            max_bytes,
            files_kept,
            file,
            size,
            at_line_start: true,
        })
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.files_kept == 0 {
            self.file.set_len(0)?;
        } else {
            for n in (1..self.files_kept).rev() {
                let _ = std::fs::rename(self.numbered(n), self.numbered(n + 1));
            }
            std::fs::rename(&self.path, self.numbered(1))?;
            self.file = open_append(&self.path)?;
        }
        self.size = 0;
        Ok(())
    }

    fn numbered(&self, n: usize) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.at_line_start && self.size >= self.max_bytes {
            self.rotate()?;
        }
        let n = self.file.write(buf)?;
        self.size += n as u64;
        if n > 0 {
            self.at_line_start = buf[n - 1] == b'\n';
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_between_lines_and_keeps_n_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs").join("client.log");
        let mut file = RotatingFile::open(&path, 100, 2).unwrap();
        for i in 0..40 {
            // Two writes per line, as a logger does; the line must not split.
            write!(file, "line {i:02} ").unwrap();
            writeln!(file, "{}", "x".repeat(20)).unwrap();
        }
        let read = |p: &Path| std::fs::read_to_string(p).unwrap();
        let current = read(&path);
        assert!(current.len() <= 100 + 30, "{}", current.len());
        assert!(current.ends_with(&format!("line 39 {}\n", "x".repeat(20))));
        for line in read(&file.numbered(1))
            .lines()
            .chain(read(&file.numbered(2)).lines())
        {
            assert!(line.starts_with("line ") && line.ends_with("xx"), "{line}");
        }
        assert!(!file.numbered(3).exists());
    }
}
