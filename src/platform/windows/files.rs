//! Files on Windows. Opens never wait on Windows (no named pipes stand in
//! a file's place on a disk), so what matters here is links: a file opened
//! for writing is opened as the link itself (`FILE_FLAG_OPEN_REPARSE_POINT`)
//! and refused if it is one. Privacy comes from where the files are: the
//! user's profile (`%USERPROFILE%\.config\ollama_proxy\`), which only the
//! user (and administrators) can read, so no mode is set or checked. The
//! control lock is `LockFileEx` on one byte far past the end of the file,
//! since Windows locks are mandatory and the pid in the file must stay
//! readable while it is held.

use std::fs::{File, FileType, Metadata, OpenOptions};
use std::io;
use std::os::windows::fs::{MetadataExt, OpenOptionsExt};
use std::os::windows::io::AsRawHandle;
use std::path::{Path, PathBuf};

use windows_sys::Win32::Foundation::{ERROR_CANT_RESOLVE_FILENAME, ERROR_LOCK_VIOLATION, HANDLE};
use windows_sys::Win32::Storage::FileSystem::{
    GetFileInformationByHandle, LockFileEx, UnlockFileEx, BY_HANDLE_FILE_INFORMATION,
    FILE_ATTRIBUTE_REPARSE_POINT, FILE_FLAG_OPEN_REPARSE_POINT, LOCKFILE_EXCLUSIVE_LOCK,
    LOCKFILE_FAIL_IMMEDIATELY, LOCK_FILE_FLAGS,
};
use windows_sys::Win32::System::IO::OVERLAPPED;

/// Opens `path` with `options`; when `writing`, never through a link.
pub fn open_without_waiting(
    options: &mut OpenOptions,
    path: &Path,
    writing: bool,
) -> io::Result<File> {
    if !writing {
        return options.open(path);
    }
    let file = options
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)?;
    refuse_link(file)
}

/// `file`, unless what was opened is a link (a reparse point) itself:
/// then the error is Windows' own for a name it cannot resolve (Unix's
/// `ELOOP` for `O_NOFOLLOW`), in the system's words.
fn refuse_link(file: File) -> io::Result<File> {
    if file.metadata()?.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
        return Err(io::Error::from_raw_os_error(LINK_REFUSED));
    }
    Ok(file)
}

const LINK_REFUSED: i32 = ERROR_CANT_RESOLVE_FILENAME as i32;

/// Whether an open for writing failed because the path is a link.
pub fn is_link_refusal(error: &io::Error) -> bool {
    error.raw_os_error() == Some(LINK_REFUSED)
}

/// Windows has no named pipes, sockets or devices in a directory.
pub fn is_fifo(_kind: &FileType) -> bool {
    false
}

pub fn is_socket(_kind: &FileType) -> bool {
    false
}

pub fn is_device(_kind: &FileType) -> bool {
    false
}

/// Creates `dir` and its missing parents; they take the access rules of
/// the directory they are made in (private in the user's profile).
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// Creates the new file `path` (it must not exist), never through a link.
pub fn create_private(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)?;
    refuse_link(file)
}

/// Files take their access rules from their directory: nothing to fix.
pub fn make_private(_file: &File, _meta: &Metadata) -> io::Result<Option<u32>> {
    Ok(None)
}

/// As [`make_private`]: the directory decides.
pub fn set_private(_path: &Path) -> io::Result<()> {
    Ok(())
}

/// Windows has no execute bit: a file found by its `.exe` name is run.
pub fn is_executable(meta: &Metadata) -> bool {
    meta.is_file()
}

/// Not told by a mode on Windows; the profile is the user's own.
pub fn writable_by_others(_meta: &Metadata) -> bool {
    false
}

/// Not told by a mode on Windows; the profile is the user's own.
pub fn unsafe_directory(_dir: &Path, _what: &str) -> io::Result<Option<String>> {
    Ok(None)
}

/// Takes the exclusive lock on `file` without waiting: true when taken,
/// false when another open file holds a lock on it. The lock lasts while
/// the file is open.
pub fn try_lock_exclusive(file: &File) -> io::Result<bool> {
    lock(file, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY)
}

/// Whether a shared lock could be taken now (false while an exclusive
/// lock is held); it is let go at once, as Windows keeps a closed file's
/// locks a little while.
pub fn try_lock_shared(file: &File) -> io::Result<bool> {
    let taken = lock(file, LOCKFILE_FAIL_IMMEDIATELY)?;
    if taken {
        let mut at = lock_place();
        // SAFETY: the handle is the file's own; `at` is the place locked.
        unsafe { UnlockFileEx(handle(file), 0, 1, 0, &mut at) };
    }
    Ok(taken)
}

fn lock(file: &File, flags: LOCK_FILE_FLAGS) -> io::Result<bool> {
    let mut at = lock_place();
    // SAFETY: the handle is the file's own, open for the call; `at` lives
    // through it (the file is not opened for overlapped I/O, so the call
    // completes before it returns).
    if unsafe { LockFileEx(handle(file), flags, 0, 1, 0, &mut at) } != 0 {
        return Ok(true);
    }
    let error = io::Error::last_os_error();
    match error.raw_os_error() == Some(ERROR_LOCK_VIOLATION as i32) {
        true => Ok(false),
        false => Err(error),
    }
}

/// The locked byte: far past any end, so that reads of the file are not
/// refused while it is held.
fn lock_place() -> OVERLAPPED {
    // SAFETY: OVERLAPPED is plain old data; all-zero is its initial value.
    let mut at: OVERLAPPED = unsafe { std::mem::zeroed() };
    at.Anonymous.Anonymous.OffsetHigh = 0x4000_0000;
    at
}

fn handle(file: &File) -> HANDLE {
    file.as_raw_handle() as HANDLE
}

/// What tells one file from another however it is reached: its volume's
/// serial number and its index on that volume.
pub fn identity(file: &File) -> Option<(u64, u64)> {
    // SAFETY: plain old data, filled in by the call.
    let mut info: BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
    // SAFETY: the handle is the file's own; `info` is valid for one write.
    if unsafe { GetFileInformationByHandle(handle(file), &mut info) } == 0 {
        return None;
    }
    let index = (u64::from(info.nFileIndexHigh) << 32) | u64::from(info.nFileIndexLow);
    Some((u64::from(info.dwVolumeSerialNumber), index))
}

/// The user's profile (`USERPROFILE`), where the Python client kept its
/// config (Python's `~` on Windows); else `HOMEDRIVE` + `HOMEPATH`.
pub fn home_dir() -> Option<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(profile) = var("USERPROFILE") {
        return Some(PathBuf::from(profile));
    }
    let (drive, path) = (var("HOMEDRIVE")?, var("HOMEPATH")?);
    let mut home = drive;
    home.push(path);
    Some(PathBuf::from(home))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn the_lock_is_one_holders_and_leaves_the_file_readable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.lock");
        let open = || {
            let mut options = OpenOptions::new();
            options.read(true).write(true).create(true);
            open_without_waiting(&mut options, &path, true).unwrap()
        };
        let (mut holder, other) = (open(), open());
        assert!(try_lock_exclusive(&holder).unwrap());
        assert!(!try_lock_exclusive(&other).unwrap(), "taken");
        assert!(!try_lock_shared(&other).unwrap(), "held");
        // The pid the holder writes is read by others while it holds it.
        holder.write_all(b"1234\n").unwrap();
        let mut pid = String::new();
        File::open(&path).unwrap().read_to_string(&mut pid).unwrap();
        assert_eq!(pid, "1234\n");
        drop(holder);
        assert!(try_lock_shared(&other).unwrap(), "let go with its file");
        // The shared look was let go at once: the lock can be taken.
        assert!(try_lock_exclusive(&other).unwrap());
    }

    #[test]
    fn a_file_is_told_from_another_by_its_identity() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, "a").unwrap();
        std::fs::write(&b, "b").unwrap();
        let id = |path: &Path| identity(&File::open(path).unwrap()).unwrap();
        assert_eq!(id(&a), id(&a));
        assert_ne!(id(&a), id(&b));
    }

    #[test]
    fn a_new_private_file_must_not_exist_yet() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json.new");
        create_private(&path).unwrap().write_all(b"{}").unwrap();
        let again = create_private(&path).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
        assert!(!is_link_refusal(&again));
        assert!(is_link_refusal(&io::Error::from_raw_os_error(LINK_REFUSED)));
    }

    #[test]
    fn the_home_is_the_users_profile() {
        // Set by Windows for every logged-on user (and by wine).
        let profile = std::env::var_os("USERPROFILE").unwrap();
        assert_eq!(home_dir(), Some(PathBuf::from(profile)));
    }
}
