//! Sockets on Unix: the hub socket's sends that never wait (a per-call
//! flag, so the reader's handle on the same socket keeps blocking), the
//! wait for room, and a wider accept queue for the metrics port.

use std::io::{self, Read};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

/// From now on no write to `tcp` waits: nothing to change on Unix, where
/// each send says so itself ([`send_now`]).
pub fn stop_waiting(_tcp: &TcpStream) -> io::Result<()> {
    Ok(())
}

/// One read of what `tcp` has, waiting at most its read timeout (set
/// once by the caller to `_timeout`): `WouldBlock` when nothing came.
pub fn read_within(mut tcp: &TcpStream, buf: &mut [u8], _timeout: Duration) -> io::Result<usize> {
    tcp.read(buf)
}

/// One `send` that takes what fits and never waits (`WouldBlock` when
/// nothing fits), without touching the socket's blocking mode, which the
/// reader's handle shares.
pub fn send_now(tcp: &TcpStream, buf: &[u8]) -> io::Result<usize> {
    // Linux would raise SIGPIPE on a closed connection without
    // MSG_NOSIGNAL; on macOS std sets SO_NOSIGPIPE on the socket instead.
    #[cfg(not(target_os = "macos"))]
    let flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
    #[cfg(target_os = "macos")]
    let flags = libc::MSG_DONTWAIT;
    // SAFETY: the descriptor is the stream's own, open while it lives;
    // `buf` is valid for reads of its length.
    let sent = unsafe { libc::send(tcp.as_raw_fd(), buf.as_ptr().cast(), buf.len(), flags) };
    usize::try_from(sent).map_err(|_| io::Error::last_os_error())
}

/// Waits until `tcp` has room for more bytes, or `timeout`: true when it
/// has, or when it failed or was shut down (the next write says which).
pub fn wait_writable(tcp: &TcpStream, timeout: Duration) -> bool {
    let mut poll = libc::pollfd {
        fd: tcp.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    // Rounded up: a wait of less than a millisecond must not become a
    // zero timeout, which would spin.
    let millis = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int;
    // SAFETY: one pollfd, valid for the call; the descriptor is the
    // stream's own. EINTR counts as "no room yet": the caller waits again.
    unsafe { libc::poll(&mut poll, 1, millis) > 0 }
}

/// Lets `backlog` connections wait in the kernel's accept queue. Linux
/// takes a second `listen` on a listening socket as a new backlog;
/// elsewhere, or if it fails, std's stays, which only means a burst waits
/// longer.
pub fn widen_backlog(listener: &TcpListener, backlog: u16) {
    // SAFETY: the descriptor is the listener's own, open while it lives.
    unsafe {
        libc::listen(listener.as_raw_fd(), libc::c_int::from(backlog));
    }
}

#[cfg(test)]
#[cfg(target_os = "linux")] // macOS answers a full queue otherwise.
mod tests {
    use super::*;

    /// std listens with a backlog of 128: past it, Linux drops new SYNs and
    /// a connect waits for a retransmit. Widened, 200 unaccepted
    /// connections all complete at once.
    #[test]
    fn a_widened_backlog_holds_more_than_stds_128() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        widen_backlog(&listener, 1024);
        let addr = listener.local_addr().unwrap();
        let waiting: Vec<TcpStream> = (0..200)
            .map_while(|_| TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok())
            .collect();
        assert_eq!(waiting.len(), 200, "connections queued before one failed");
    }
}
