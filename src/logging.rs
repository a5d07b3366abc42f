//! Log setup: the console (stderr) gets INFO and up, DEBUG with `--debug`
//! or `--test`; the log file beside the config file gets every level with
//! timestamps, rotated by size so that a small box never fills its disk.
//!
//! Logging policy: the token never reaches a log. Our own code logs the hub
//! URL only through `Endpoint`'s `Display`, which has no token, and the
//! token's own type prints a mask. tungstenite logs the full request URI
//! (which carries the token) at debug and trace level, so its records are
//! dropped entirely; ureq's records (Ollama only) are dropped as noise, and
//! so are rustls's: ureq's TLS support turns rustls's logging feature on,
//! for the hub's connections too, and the debug records the log file keeps
//! would be every handshake's details (and at trace level its messages).
//!
//! The log file is written only in a directory that its user owns and no
//! one else can write, and it is opened (and reopened after a rotation)
//! without following a symbolic link: with the config in a shared
//! directory, another user could otherwise plant `logs/client.log` as a
//! link and have the client append to any file its user can write. It is
//! opened as a state file (`state_file`: never blocking, only a regular
//! file), and an existing one others could read is made private (0600)
//! and said so; the ledger is written the same way ([`RotatingFile`]). A
//! refused log file is one WARN on the console, saying why and what to do;
//! the client runs on without the file.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use log::LevelFilter;

use crate::state_file::{self, Access};
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

/// Installs the logger. A log file that cannot be opened (or is refused,
/// see the module's comment) is reported on the console; the client runs
/// on without it.
pub fn init(setup: &LogSetup) {
    let mut builder = ConfigBuilder::new();
    builder
        .add_filter_ignore_str("tungstenite")
        .add_filter_ignore_str("ureq")
        .add_filter_ignore_str("rustls")
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
    let (mut file_error, mut mode_fixed) = (None, None);
    if let Some(path) = setup.file {
        match RotatingFile::open(path, "the log file", setup.max_bytes, setup.files_kept) {
            Ok(file) => {
                mode_fixed = file.mode_fixed().map(|mode| (path, mode));
                loggers.push(WriteLogger::new(LevelFilter::Debug, config, file));
            }
            Err(why) => file_error = Some(why),
        }
    }
    // Fails only if a logger is already set, which cannot happen here.
    let _ = CombinedLogger::init(loggers);
    READY.store(true, Ordering::Relaxed);
    if let Some(error) = file_error {
        log::warn!("{error}; logging to the console only");
    }
    if let Some((path, mode)) = mode_fixed {
        log::warn!("{}", made_private("the log file", path, mode));
    }
}

/// What [`RotatingFile::open`] did to a file others could read (`mode`).
pub fn made_private(what: &str, path: &Path, mode: u32) -> String {
    format!(
        "{what} {} could be read or written by other users (mode {mode:04o}); \
         it is now private (0600)",
        path.display()
    )
}

/// A log file that moves itself aside when it grows past `max_bytes`:
/// `client.log` becomes `client.log.1`, `.1` becomes `.2`, and so on up to
/// `files_kept`; the oldest is deleted. Rotation happens only between lines,
/// so a record is never split across two files. A logger writes a record
/// in several pieces; they are kept until the line ends and then written
/// at once, so the process ending while a thread logs (the exit after a
/// shutdown) loses that line whole rather than leaving half of it.
pub struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    files_kept: usize,
    file: File,
    size: u64,
    at_line_start: bool,
    /// The line being written, until its end arrives.
    pending: Vec<u8>,
    mode_fixed: Option<u32>,
}

/// A line longer than this is written in pieces rather than kept whole.
const PENDING_MAX: usize = 64 * 1024;

impl RotatingFile {
    /// Opens (creating it and its directory, mode 0700, if needed) the
    /// file at `path`, or says why not in a sentence that names it as
    /// `what` ("the log file", "the ledger"). An existing file that other
    /// users may read or write is made private (0600) and `mode_fixed`
    /// says so, for the caller to log once its log is ready.
    pub fn open(
        path: &Path,
        what: &str,
        max_bytes: u64,
        files_kept: usize,
    ) -> Result<RotatingFile, String> {
        let shown = path.display();
        let cannot = |e: io::Error| format!("cannot write {what} {shown}: {e}");
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(cannot)?;
            if let Some(why) = unsafe_directory(dir, what).map_err(cannot)? {
                return Err(format!("not writing {what} {shown}: {why}"));
            }
        }
        let file = open_append(path).map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => format!(
                "not writing {what} {shown}: it is a symbolic link, which the client \
                 does not follow (it could point at any file you can write): delete it, \
                 and check who else can write to its directory"
            ),
            _ => cannot(e),
        })?;
        let meta = file.metadata().map_err(cannot)?;
        let mode_fixed = make_private(&file, meta.mode()).map_err(cannot)?;
        Ok(RotatingFile {
            path: path.to_path_buf(),
            max_bytes,
            files_kept,
            file,
            size: meta.len(),
            at_line_start: true,
            pending: Vec::new(),
            mode_fixed,
        })
    }

    /// The mode the file had when [`RotatingFile::open`] made it private
    /// (0600), if it had to.
    pub fn mode_fixed(&self) -> Option<u32> {
        self.mode_fixed
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

/// Opens the file for appending (see `state_file`: never blocking, only a
/// regular file); a symbolic link in its place is an error (ELOOP), not
/// followed.
fn open_append(path: &Path) -> io::Result<File> {
    state_file::open(path, Access::Append)
}

/// Makes an existing file that others may read or write (`mode`, as
/// found) private, 0600, as a new one is: the file is ours, and what it
/// holds (the answers sold, the requests' ids, the log's details) is the
/// owner's alone. Fixing it, as systemd and ssh-keygen do with the files
/// they own, keeps the record going; refusing would stop it over a mode
/// the owner most likely got from a copy or an old umask. The mode it had
/// when it was changed.
fn make_private(file: &File, mode: u32) -> io::Result<Option<u32>> {
    let mode = mode & 0o7777;
    if mode & 0o7077 == 0 {
        return Ok(None);
    }
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(Some(mode))
}

/// Why the directory of `what` is not safe to write in, if it is not:
/// another user who owns it, or may write to it, could put a link in the
/// file's place. The directory may itself be a symbolic link the user
/// made (to keep the logs on another disk), but not one someone else made.
fn unsafe_directory(dir: &Path, what: &str) -> io::Result<Option<String>> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let shown = dir.display();
    let link = std::fs::symlink_metadata(dir)?;
    if link.file_type().is_symlink() && link.uid() != me {
        return Ok(Some(format!(
            "{shown} is a symbolic link made by another user (uid {}), who could point \
             it anywhere: delete it, or use a --config in a directory of your own",
            link.uid()
        )));
    }
    let meta = std::fs::metadata(dir)?;
    if meta.uid() != me {
        return Ok(Some(format!(
            "its directory {shown} belongs to another user (uid {}), who could replace \
             {what} with a link to any file you can write: delete that directory (the \
             client makes a private one) or use a --config in a directory of your own",
            meta.uid()
        )));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Ok(Some(format!(
            "its directory {shown} can be written by other users (mode {mode:04o}), who \
             could replace {what} with a link to any file you can write: make it \
             private with chmod 700 {shown}"
        )));
    }
    Ok(None)
}

impl RotatingFile {
    /// Writes `bytes` with one system call, after rotating if a line starts
    /// here and the file is full.
    fn write_out(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        if self.at_line_start && self.size >= self.max_bytes {
            self.rotate()?;
        }
        self.file.write_all(bytes)?;
        self.size += bytes.len() as u64;
        self.at_line_start = bytes.ends_with(b"\n");
        Ok(())
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        let complete = match self.pending.iter().rposition(|&b| b == b'\n') {
            Some(end) => end + 1,
            None if self.pending.len() > PENDING_MAX => self.pending.len(),
            None => return Ok(buf.len()),
        };
        let bytes: Vec<u8> = self.pending.drain(..complete).collect();
        self.write_out(&bytes)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let bytes = std::mem::take(&mut self.pending);
        self.write_out(&bytes)?;
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
        let mut file = RotatingFile::open(&path, "the log file", 100, 2).unwrap();
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

    #[test]
    fn a_line_reaches_the_file_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs").join("client.log");
        let mut file = RotatingFile::open(&path, "the log file", 1 << 20, 1).unwrap();
        write!(file, "2026-01-02T03:04:05Z ").unwrap();
        write!(file, "[INFO] ").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        writeln!(file, "whole").unwrap();
        write!(file, "2026-").unwrap();
        // The process ending here would leave only the complete line.
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "2026-01-02T03:04:05Z [INFO] whole\n"
        );
        file.flush().unwrap();
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .ends_with("whole\n2026-"));
        // A line without an end is not kept in memory without bound.
        file.write_all(&vec![b'x'; PENDING_MAX + 1]).unwrap();
        assert!(file.pending.is_empty());
    }

    fn private_logs_dir() -> (tempfile::TempDir, PathBuf) {
        use std::os::unix::fs::DirBuilderExt;
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&logs)
            .unwrap();
        (dir, logs)
    }

    #[test]
    fn a_symbolic_link_in_the_log_files_place_is_not_followed() {
        let (dir, logs) = private_logs_dir();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious\n").unwrap();
        std::os::unix::fs::symlink(&victim, logs.join("client.log")).unwrap();
        let error = RotatingFile::open(&logs.join("client.log"), "the log file", 100, 1)
            .err()
            .expect("refused");
        assert!(error.contains("is a symbolic link"), "{error}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        // A dangling link is not created through either.
        std::fs::remove_file(&victim).unwrap();
        assert!(RotatingFile::open(&logs.join("client.log"), "the log file", 100, 1).is_err());
        assert!(!victim.exists());
    }

    #[test]
    fn a_log_directory_others_can_write_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let (_dir, logs) = private_logs_dir();
        for mode in [0o777, 0o1777, 0o720, 0o702] {
            std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(mode)).unwrap();
            let error = RotatingFile::open(&logs.join("client.log"), "the log file", 100, 1)
                .err()
                .expect("refused");
            assert!(
                error.contains(&format!("(mode {mode:04o})"))
                    && error.contains(&format!("chmod 700 {}", logs.display())),
                "{error}"
            );
            assert!(!logs.join("client.log").exists());
        }
        std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o750)).unwrap();
        assert!(RotatingFile::open(&logs.join("client.log"), "the log file", 100, 1).is_ok());
    }

    #[test]
    fn a_log_directory_of_another_user_is_refused() {
        use std::os::unix::ffi::OsStrExt;
        // Giving a directory away needs root; elsewhere there is nothing to try.
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("not root: the other user's directory is not tried");
            return;
        }
        let (dir, logs) = private_logs_dir();
        let chown = |path: &Path, uid: libc::uid_t| {
            let path = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
            // SAFETY: a valid NUL-terminated path; -1 keeps the group.
            let rc = unsafe { libc::lchown(path.as_ptr(), uid, libc::gid_t::MAX) };
            assert_eq!(rc, 0, "{}", io::Error::last_os_error());
        };
        chown(&logs, 65534);
        let error = RotatingFile::open(&logs.join("client.log"), "the log file", 100, 1)
            .err()
            .expect("refused");
        assert!(
            error.contains("belongs to another user (uid 65534)"),
            "{error}"
        );
        assert!(!logs.join("client.log").exists());
        // A link to a directory of one's own, made by another user.
        chown(&logs, 0);
        let linked = dir.path().join("linked");
        std::os::unix::fs::symlink(&logs, &linked).unwrap();
        chown(&linked, 65534);
        let error = RotatingFile::open(&linked.join("client.log"), "the log file", 100, 1)
            .err()
            .expect("refused");
        assert!(
            error.contains("symbolic link made by another user"),
            "{error}"
        );
    }

    #[test]
    fn a_log_directory_linked_by_its_user_is_used() {
        let (dir, logs) = private_logs_dir();
        let linked = dir.path().join("elsewhere");
        std::os::unix::fs::symlink(&logs, &linked).unwrap();
        let mut file =
            RotatingFile::open(&linked.join("client.log"), "the log file", 100, 1).unwrap();
        writeln!(file, "kept").unwrap();
        let text = std::fs::read_to_string(logs.join("client.log")).unwrap();
        assert_eq!(text, "kept\n");
    }
}
