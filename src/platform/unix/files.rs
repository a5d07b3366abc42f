//! Files on Unix: opens that never block (`O_NONBLOCK`, cleared once
//! open) and never follow a link when writing (`O_NOFOLLOW`), modes 0600
//! and 0700, who owns a directory, `flock`, and a file's inode.

use std::fs::{File, FileType, Metadata, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Opens `path` with `options` without waiting for a writer or reader
/// (a named pipe would block an open until one came), and, when
/// `writing`, creating it 0600 and never through a symbolic link. The
/// file comes back in blocking mode, whatever it turned out to be.
pub fn open_without_waiting(
    options: &mut OpenOptions,
    path: &Path,
    writing: bool,
) -> io::Result<File> {
    let mut flags = libc::O_NONBLOCK | libc::O_CLOEXEC;
    if writing {
        options.mode(0o600);
        flags |= libc::O_NOFOLLOW;
    }
    let file = options.custom_flags(flags).open(path)?;
    set_blocking(&file)?;
    Ok(file)
}

/// Clears `O_NONBLOCK` on an open file.
fn set_blocking(file: &File) -> io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor the file owns, open for the call; it
    // touches no memory.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether an open for writing failed because the path is a symbolic link.
pub fn is_link_refusal(error: &io::Error) -> bool {
    error.raw_os_error() == Some(libc::ELOOP)
}

pub fn is_fifo(kind: &FileType) -> bool {
    kind.is_fifo()
}

pub fn is_socket(kind: &FileType) -> bool {
    kind.is_socket()
}

pub fn is_device(kind: &FileType) -> bool {
    kind.is_char_device() || kind.is_block_device()
}

/// Creates `dir` and its missing parents with mode 0700; an existing
/// directory is left as it is.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Creates the new file `path` (it must not exist) with mode 0600, never
/// through a symbolic link.
pub fn create_private(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// Makes an existing `file` (`meta` as found) that others may read or
/// write private (0600); the mode it had when it was changed.
pub fn make_private(file: &File, meta: &Metadata) -> io::Result<Option<u32>> {
    let mode = meta.mode() & 0o7777;
    if mode & 0o7077 == 0 {
        return Ok(None);
    }
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(Some(mode))
}

/// Makes the file at `path` private (0600).
pub fn set_private(path: &Path) -> io::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

/// Whether the file `meta` describes may be run (any execute bit), as a
/// shell's search of `PATH` asks: a file without one is passed over.
pub fn is_executable(meta: &Metadata) -> bool {
    meta.is_file() && meta.mode() & 0o111 != 0
}

/// Whether users other than the owner may write in the directory `meta`
/// describes.
pub fn writable_by_others(meta: &Metadata) -> bool {
    meta.mode() & 0o022 != 0
}

/// Why the directory of `what` is not safe to write in, if it is not:
/// another user who owns it, or may write to it, could put a link in the
/// file's place. The directory may itself be a symbolic link the user
/// made (to keep the logs on another disk), but not one someone else made.
pub fn unsafe_directory(dir: &Path, what: &str) -> io::Result<Option<String>> {
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

/// Takes the exclusive lock on `file` without waiting: true when taken,
/// false when another open file holds a lock on it. The lock lasts while
/// the file is open.
pub fn try_lock_exclusive(file: &File) -> io::Result<bool> {
    try_lock(file, libc::LOCK_EX)
}

/// Takes a shared lock on `file` without waiting, as
/// [`try_lock_exclusive`]: false while an exclusive lock is held.
pub fn try_lock_shared(file: &File) -> io::Result<bool> {
    try_lock(file, libc::LOCK_SH)
}

/// `flock` without waiting (`std::fs::File::try_lock` needs Rust 1.89,
/// above this crate's `rust-version`). It is not retried: `EINTR` comes
/// only while waiting for a lock, and this call never waits.
fn try_lock(file: &File, how: libc::c_int) -> io::Result<bool> {
    // SAFETY: the descriptor is the file's own, open for the call.
    if unsafe { libc::flock(file.as_raw_fd(), how | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let error = io::Error::last_os_error();
    match error.kind() {
        io::ErrorKind::WouldBlock => Ok(false),
        _ => Err(error),
    }
}

/// What tells one file from another however it is reached: its device
/// and inode.
pub fn identity(file: &File) -> Option<(u64, u64)> {
    file.metadata().map(|m| (m.dev(), m.ino())).ok()
}

/// The user's home directory (`HOME`, else the password database).
pub fn home_dir() -> Option<PathBuf> {
    dirs::home_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().mode() & 0o7777
    }

    #[test]
    fn a_file_others_may_use_is_made_private_and_its_old_mode_told() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.jsonl");
        let file = File::create(&path).unwrap();
        for (mode, fixed) in [
            (0o644, Some(0o644)),
            (0o604, Some(0o604)),
            (0o640, Some(0o640)),
            (0o4600, Some(0o4600)),
            (0o600, None),
            (0o700, None),
            (0o400, None),
        ] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let meta = file.metadata().unwrap();
            assert_eq!(make_private(&file, &meta).unwrap(), fixed, "{mode:o}");
            let now = if fixed.is_some() { 0o600 } else { mode };
            assert_eq!(mode_of(&path), now, "{mode:o}");
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        set_private(&path).unwrap();
        assert_eq!(mode_of(&path), 0o600);
    }

    #[test]
    fn a_directory_others_may_write_in_is_told() {
        let dir = tempfile::tempdir().unwrap();
        for (mode, shared) in [
            (0o700, false),
            (0o755, false),
            (0o750, false),
            (0o720, true),
            (0o702, true),
            (0o777, true),
        ] {
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(mode)).unwrap();
            let meta = std::fs::metadata(dir.path()).unwrap();
            assert_eq!(writable_by_others(&meta), shared, "{mode:o}");
        }
    }

    #[test]
    fn a_lock_is_one_holders_and_a_shared_look_sees_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.lock");
        let open = || File::create(&path).unwrap();
        let (holder, other) = (open(), open());
        assert!(try_lock_shared(&other).unwrap(), "free");
        drop(other);
        let other = open();
        assert!(try_lock_exclusive(&holder).unwrap());
        assert!(!try_lock_shared(&other).unwrap(), "held");
        assert!(!try_lock_exclusive(&other).unwrap(), "held");
    }

    #[test]
    fn files_are_told_apart_by_identity_and_links_by_their_error() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, "a").unwrap();
        std::fs::write(&b, "b").unwrap();
        std::fs::hard_link(&a, dir.path().join("a2")).unwrap();
        let id = |path: PathBuf| identity(&File::open(path).unwrap()).unwrap();
        assert_eq!(id(a.clone()), id(dir.path().join("a2")));
        assert_ne!(id(a), id(b));
        assert!(is_link_refusal(&io::Error::from_raw_os_error(libc::ELOOP)));
        assert!(!is_link_refusal(&io::Error::from_raw_os_error(
            libc::ENOENT
        )));
    }

    #[test]
    fn the_home_is_homes() {
        let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).unwrap();
        assert_eq!(home_dir(), Some(PathBuf::from(home)));
    }
}
