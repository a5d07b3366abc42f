//! Opening the files the client keeps beside its config file (the config
//! itself, `paused.json`, the ledger and the log with their rotations,
//! `control.lock`): the one place that opens them, through
//! `platform::files`.
//!
//! Whatever stands at such a path, opening it must not hold the client: a
//! named pipe (FIFO) blocks an open for reading until a writer comes, and
//! one for writing until a reader comes (forever, with nothing logged, if
//! nobody does). So every open here is one that does not wait (on Unix
//! `O_NONBLOCK`, cleared again once open, so that reads and writes behave
//! as usual), and anything that is not a regular file is then refused
//! with [`NotRegular`], which names what it is. Files opened for writing
//! are created private (0600 on Unix) and never through a symbolic link
//! (see `logging`); files only read follow links, as an owner who keeps
//! the config elsewhere expects.

use std::fmt;
use std::fs::{File, FileType, OpenOptions};
use std::io;
use std::path::Path;

use crate::platform::files as system;
use crate::text::{files as text, Text};

/// How a state file is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// For reading only.
    Read,
    /// For appending; created (mode 0600) if missing.
    Append,
    /// For reading and writing, without truncating; created (mode 0600) if
    /// missing.
    ReadWrite,
}

/// Opens the state file at `path` without ever blocking; a path that holds
/// anything but a regular file is an error whose inner error is
/// [`NotRegular`] (see [`reason`]).
pub fn open(path: &Path, access: Access) -> io::Result<File> {
    let mut options = OpenOptions::new();
    match access {
        Access::Read => options.read(true),
        Access::Append => options.append(true),
        Access::ReadWrite => options.read(true).write(true).truncate(false),
    };
    let writing = access != Access::Read;
    if writing {
        options.create(true);
    }
    let file = system::open_without_waiting(&mut options, path, writing)
        .map_err(|e| refusal_of(path, e))?;
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        return Err(NotRegular::of(kind).into());
    }
    Ok(file)
}

/// A FIFO opened for writing with no reader fails with `ENXIO` ("No such
/// device or address"), which would not tell the owner what is wrong:
/// when a path that failed to open holds something other than a regular
/// file (or a symbolic link, whose refusal says so itself), that is the
/// error.
fn refusal_of(path: &Path, error: io::Error) -> io::Error {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.is_file() && !meta.is_symlink() => {
            NotRegular::of(meta.file_type()).into()
        }
        _ => error,
    }
}

/// What stands at a state file's path instead of a regular file, in words.
#[derive(Debug)]
pub struct NotRegular(Text);

impl NotRegular {
    fn of(kind: FileType) -> NotRegular {
        let what = if system::is_fifo(&kind) {
            text::kind_fifo()
        } else if system::is_socket(&kind) {
            text::kind_socket()
        } else if system::is_device(&kind) {
            text::kind_device()
        } else if kind.is_dir() {
            text::kind_directory()
        } else {
            text::kind_other()
        };
        NotRegular(text::not_a_regular_file(what))
    }
}

/// In English, for the log.
impl fmt::Display for NotRegular {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.english())
    }
}

impl std::error::Error for NotRegular {}

impl From<NotRegular> for io::Error {
    fn from(refused: NotRegular) -> io::Error {
        io::Error::other(refused)
    }
}

/// Why opening or reading a state file failed, for the terminal: the
/// catalogue's words for a [`NotRegular`] refusal, else the system's own.
pub fn reason(error: &io::Error) -> Text {
    let refused = error.get_ref().and_then(|e| e.downcast_ref::<NotRegular>());
    match refused {
        Some(refused) => refused.0.clone(),
        None => Text::verbatim(error),
    }
}

#[cfg(test)]
#[cfg(unix)] // FIFOs, sockets, modes, links and fcntl: Unix's own.
mod tests {
    use super::*;
    use crate::text::Lang;
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::PermissionsExt;

    fn mkfifo(path: &Path) {
        let name = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates the node.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
    }

    #[test]
    fn a_fifo_is_refused_at_once_for_every_access() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("paused.json");
        mkfifo(&fifo);
        for access in [Access::Read, Access::Append, Access::ReadWrite] {
            // Without O_NONBLOCK, reading and appending would block here.
            let error = open(&fifo, access).expect_err("refused");
            assert_eq!(
                error.to_string(),
                "it is a named pipe (FIFO), not a regular file: move it aside",
                "{access:?}"
            );
            assert_eq!(
                reason(&error).in_lang(Lang::Ru),
                "это именованный канал (FIFO), а не обычный файл: уберите его"
            );
        }
    }

    #[test]
    fn a_directory_or_a_socket_is_refused_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let error = open(dir.path(), Access::Read).expect_err("refused");
        assert!(reason(&error).english().contains("a directory"), "{error}");
        let error = open(dir.path(), Access::Append).expect_err("refused");
        assert!(reason(&error).english().contains("a directory"), "{error}");
        let socket = dir.path().join("control.lock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let error = open(&socket, Access::ReadWrite).expect_err("refused");
        assert!(reason(&error).english().contains("a socket"), "{error}");
        let error = open(Path::new("/dev/null"), Access::Read).expect_err("refused");
        assert!(reason(&error).english().contains("a device"), "{error}");
    }

    #[test]
    fn a_regular_file_is_opened_blocking_and_created_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.jsonl");
        let mut file = open(&path, Access::Append).unwrap();
        file.write_all(b"one\n").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // SAFETY: F_GETFL on the file's own descriptor.
        let flags = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETFL) };
        assert_eq!(flags & libc::O_NONBLOCK, 0, "O_NONBLOCK is cleared");
        let mut text = String::new();
        open(&path, Access::Read)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "one\n");
        let lock = open(&dir.path().join("control.lock"), Access::ReadWrite).unwrap();
        // SAFETY: as above.
        let flags = unsafe { libc::fcntl(lock.as_raw_fd(), libc::F_GETFL) };
        assert_eq!(flags & (libc::O_NONBLOCK | libc::O_ACCMODE), libc::O_RDWR);
    }

    #[test]
    fn a_link_is_followed_for_reading_only() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "x").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(open(&link, Access::Read).is_ok());
        for access in [Access::Append, Access::ReadWrite] {
            let error = open(&link, access).expect_err("a link is not written through");
            assert_eq!(error.raw_os_error(), Some(libc::ELOOP), "{access:?}");
            assert_eq!(reason(&error).english(), error.to_string());
        }
        let missing = open(&dir.path().join("missing"), Access::Read).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    }
}
