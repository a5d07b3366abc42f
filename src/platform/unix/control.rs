//! The control channel on Unix: a Unix socket beside the config file
//! (`control.sock`), mode 0600, and only connections whose peer runs as
//! the same user (the kernel's record of the peer's credentials) get an
//! answer.

use std::io;
#[cfg(not(target_os = "macos"))]
use std::os::fd::AsRawFd;
use std::path::Path;

pub use std::os::unix::net::{UnixListener as Listener, UnixStream as Stream};

#[cfg(target_os = "macos")]
use super::macos::peer_uid;

/// The longest socket path the system takes: `sun_path` holds 108 bytes
/// with the terminating zero on Linux, 104 on macOS.
#[cfg(not(target_os = "macos"))]
pub const MAX_PATH: usize = 107;
#[cfg(target_os = "macos")]
pub const MAX_PATH: usize = 103;

/// Who may use the channel: the user the client runs as.
pub struct OwnerCheck {
    owner: u32,
}

impl OwnerCheck {
    /// The check for connections from the user `owner`.
    pub fn for_user(owner: u32) -> OwnerCheck {
        OwnerCheck { owner }
    }

    /// The request in `line` when the peer on `stream` is the owner
    /// (the whole line: Unix needs no secret in it); `None` when not.
    pub fn admit<'l>(&self, stream: &Stream, line: &'l [u8]) -> Option<&'l [u8]> {
        (peer_uid(stream) == Some(self.owner)).then_some(line)
    }
}

/// The user this process runs as.
pub fn current_user() -> u32 {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

/// Binds a fresh name beside `socket`, makes it 0600, then renames it over
/// `socket`: the socket appears under its name with its final mode, and
/// a stale one is replaced in the same step. The check admits this user.
pub fn bind(socket: &Path) -> io::Result<(Listener, OwnerCheck)> {
    // `control.new` (`gpu1.control.new`): no longer than the socket's name.
    let fresh = socket.with_extension("new");
    let _ = std::fs::remove_file(&fresh);
    let listener = Listener::bind(&fresh)?;
    let published =
        super::files::set_private(&fresh).and_then(|()| std::fs::rename(&fresh, socket));
    if let Err(e) = published {
        let _ = std::fs::remove_file(&fresh);
        return Err(e);
    }
    Ok((listener, OwnerCheck::for_user(current_user())))
}

/// Connects to the running client's socket: `NotFound` when there is no
/// socket, `ConnectionRefused` when nobody listens on it.
pub fn connect(socket: &Path) -> io::Result<Stream> {
    Stream::connect(socket)
}

/// Removes what [`bind`] published, on a clean stop.
pub fn withdraw(socket: &Path) -> io::Result<()> {
    std::fs::remove_file(socket)
}

/// The peer's user id, as the kernel recorded it at `connect`.
#[cfg(not(target_os = "macos"))]
fn peer_uid(stream: &Stream) -> Option<u32> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: u32::MAX,
        gid: u32::MAX,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: the descriptor is the stream's own; cred and len are valid
    // for writes of the size given.
    let result = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    (result == 0).then_some(cred.uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bound_socket_is_private_and_withdrawn() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("control.sock");
        let (_listener, check) = bind(&socket).unwrap();
        let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!dir.path().join("control.new").exists());
        let stream = connect(&socket).unwrap();
        let line: &[u8] = b"{}";
        assert_eq!(check.admit(&stream, line), Some(line));
        withdraw(&socket).unwrap();
        assert!(!socket.exists());
        let gone = connect(&socket).unwrap_err();
        assert_eq!(gone.kind(), io::ErrorKind::NotFound);
    }
}
