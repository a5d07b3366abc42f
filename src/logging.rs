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
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use log::{LevelFilter, Metadata, Record};

use crate::platform::files;
use crate::state_file::{self, Access};
use crate::time;

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

/// Libraries whose records are dropped (see the module's comment); a
/// target matches when it starts with one of these.
const QUIET_TARGETS: [&str; 3] = ["tungstenite", "ureq", "rustls"];

static READY: AtomicBool = AtomicBool::new(false);

/// Whether [`init`] ran (before it, log records go nowhere).
pub fn is_ready() -> bool {
    READY.load(Ordering::Relaxed)
}

/// Installs the logger. A log file that cannot be opened (or is refused,
/// see the module's comment) is reported on the console; the client runs
/// on without it.
pub fn init(setup: &LogSetup) {
    let (mut file, mut file_error, mut mode_fixed) = (None, None, None);
    if let Some(path) = setup.file {
        match RotatingFile::open(path, "the log file", setup.max_bytes, setup.files_kept) {
            Ok(opened) => {
                mode_fixed = opened.mode_fixed().map(|mode| (path, mode));
                file = Some(Mutex::new(opened));
            }
            Err(why) => file_error = Some(why),
        }
    }
    let console = match setup.console_debug {
        true => LevelFilter::Debug,
        false => LevelFilter::Info,
    };
    // The logger lives as long as the process. Setting it fails only if
    // one is already set, which cannot happen here.
    let logger = Box::leak(Box::new(Logger { console, file }));
    if log::set_logger(logger).is_ok() {
        log::set_max_level(LevelFilter::Debug);
    }
    READY.store(true, Ordering::Relaxed);
    if let Some(error) = file_error {
        log::warn!("{error}; logging to the console only");
    }
    if let Some((path, mode)) = mode_fixed {
        log::warn!("{}", made_private("the log file", path, mode));
    }
}

/// Every record becomes one line, `2026-12-06T10:37:12.123Z [INFO] text`,
/// written whole with one system call to the console (stderr, up to
/// `console`) and to the log file (every level).
struct Logger {
    console: LevelFilter,
    file: Option<Mutex<RotatingFile>>,
}

impl Logger {
    fn to_console(&self, record: &Record) -> bool {
        record.level() <= self.console && record.target() != FILE_ONLY
    }
}

impl log::Log for Logger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        !QUIET_TARGETS
            .iter()
            .any(|quiet| metadata.target().starts_with(quiet))
    }

    fn log(&self, record: &Record) {
        let to_console = self.to_console(record);
        if !self.enabled(record.metadata()) || !(to_console || self.file.is_some()) {
            return;
        }
        let line = format!(
            "{} [{}] {}\n",
            time::format(time::now()),
            record.level(),
            record.args()
        );
        if to_console {
            let _ = io::stderr().write_all(line.as_bytes());
        }
        if let Some(file) = &self.file {
            // A thread that panicked while writing leaves the file usable.
            let mut file = file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let _ = file.write_line(line.as_bytes());
        }
    }

    fn flush(&self) {}
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
/// so a record is never split across two files, and each line is written
/// with one system call, so the process ending while a thread logs (the
/// exit after a shutdown) loses that line whole rather than leaving half
/// of it.
pub struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    files_kept: usize,
    file: File,
    size: u64,
    mode_fixed: Option<u32>,
}

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
            files::create_private_dir(dir).map_err(cannot)?;
            if let Some(why) = files::unsafe_directory(dir, what).map_err(cannot)? {
                return Err(format!("not writing {what} {shown}: {why}"));
            }
        }
        let file = state_file::open(path, Access::Append).map_err(|e| match e {
            e if files::is_link_refusal(&e) => format!(
                "not writing {what} {shown}: it is a symbolic link, which the client \
                 does not follow (it could point at any file you can write): delete it, \
                 and check who else can write to its directory"
            ),
            e => cannot(e),
        })?;
        // An existing file that others may read or write is made private,
        // as a new one is: the file is ours, and what it holds (the
        // answers sold, the requests' ids, the log's details) is the
        // owner's alone. Fixing it, as systemd and ssh-keygen do with the
        // files they own, keeps the record going; refusing would stop it
        // over a mode the owner most likely got from a copy or an old umask.
        let meta = file.metadata().map_err(cannot)?;
        let mode_fixed = files::make_private(&file, &meta).map_err(cannot)?;
        Ok(RotatingFile {
            path: path.to_path_buf(),
            max_bytes,
            files_kept,
            file,
            size: meta.len(),
            mode_fixed,
        })
    }

    /// The mode the file had when [`RotatingFile::open`] made it private
    /// (0600), if it had to.
    pub fn mode_fixed(&self) -> Option<u32> {
        self.mode_fixed
    }

    /// Writes one whole `line` (ending in a newline) with one system call,
    /// after rotating if the file is full.
    pub fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        if self.size >= self.max_bytes {
            self.rotate()?;
        }
        self.file.write_all(line)?;
        self.size += line.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.files_kept == 0 {
            self.file.set_len(0)?;
        } else {
            for n in (1..self.files_kept).rev() {
                let _ = std::fs::rename(rotated(&self.path, n), rotated(&self.path, n + 1));
            }
            std::fs::rename(&self.path, rotated(&self.path, 1))?;
            self.file = state_file::open(&self.path, Access::Append)?;
        }
        self.size = 0;
        Ok(())
    }
}

/// The name of a rotated file: `client.log` -> `client.log.N`, the higher
/// the older (the ledger's files are named the same way).
pub fn rotated(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
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
            let line = format!("line {i:02} {}\n", "x".repeat(20));
            file.write_line(line.as_bytes()).unwrap();
        }
        let read = |p: &Path| std::fs::read_to_string(p).unwrap();
        let current = read(&path);
        assert!(current.len() <= 100 + 30, "{}", current.len());
        assert!(current.ends_with(&format!("line 39 {}\n", "x".repeat(20))));
        for line in read(&rotated(&path, 1))
            .lines()
            .chain(read(&rotated(&path, 2)).lines())
        {
            assert!(line.starts_with("line ") && line.ends_with("xx"), "{line}");
        }
        assert!(!rotated(&path, 3).exists());
    }

    fn record(level: log::Level, target: &str, text: &str, logger: &Logger) {
        let args = format_args!("{text}");
        let record = Record::builder()
            .level(level)
            .target(target)
            .args(args)
            .build();
        log::Log::log(logger, &record);
    }

    #[test]
    fn every_record_is_one_stamped_line_and_libraries_stay_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs").join("client.log");
        let file = RotatingFile::open(&path, "the log file", 1 << 20, 1).unwrap();
        let logger = Logger {
            console: LevelFilter::Info,
            file: Some(Mutex::new(file)),
        };
        record(
            log::Level::Info,
            "ollama_proxy_client::hub",
            "connected",
            &logger,
        );
        record(log::Level::Debug, FILE_ONLY, "for the file", &logger);
        for quiet in [
            "tungstenite::protocol",
            "ureq_proto::client",
            "rustls::conn",
        ] {
            record(log::Level::Warn, quiet, "GET /?token=secret", &logger);
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].ends_with("Z [INFO] connected"), "{text}");
        assert!(lines[1].ends_with("Z [DEBUG] for the file"), "{text}");
        let stamp = lines[0].split(' ').next().unwrap();
        assert_eq!(time::format(time::parse(stamp).unwrap()), stamp);
    }

    #[test]
    fn the_console_takes_its_levels_and_never_the_file_only_records() {
        let logger = Logger {
            console: LevelFilter::Info,
            file: None,
        };
        let at = |level, target| {
            let record = Record::builder().level(level).target(target).build();
            logger.to_console(&record)
        };
        assert!(at(log::Level::Info, "hub"));
        assert!(at(log::Level::Error, "hub"));
        assert!(!at(log::Level::Debug, "hub"));
        assert!(!at(log::Level::Info, FILE_ONLY));
    }

    #[cfg(unix)]
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

    #[cfg(unix)]
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

    #[cfg(unix)]
    #[test]
    fn a_log_file_that_cannot_be_opened_is_named_with_the_systems_reason() {
        let (_dir, logs) = private_logs_dir();
        std::fs::create_dir(logs.join("client.log")).unwrap();
        let error = RotatingFile::open(&logs.join("client.log"), "the log file", 100, 1)
            .err()
            .expect("a directory is refused");
        assert!(error.starts_with("cannot write the log file "), "{error}");
        assert!(!error.contains("symbolic link"), "{error}");
    }

    #[cfg(unix)]
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

    #[cfg(unix)]
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

    #[cfg(unix)]
    #[test]
    fn a_log_directory_linked_by_its_user_is_used() {
        let (dir, logs) = private_logs_dir();
        let linked = dir.path().join("elsewhere");
        std::os::unix::fs::symlink(&logs, &linked).unwrap();
        let mut file =
            RotatingFile::open(&linked.join("client.log"), "the log file", 100, 1).unwrap();
        file.write_line(b"kept\n").unwrap();
        let text = std::fs::read_to_string(logs.join("client.log")).unwrap();
        assert_eq!(text, "kept\n");
    }
}
