//! Sockets on Windows. Winsock has no per-call "don't wait" flag, so once
//! the hub's handshake is done the whole socket becomes non-blocking
//! ([`stop_waiting`]): sends answer `WouldBlock` when it is full, and the
//! reader, whose handle shares the mode, waits for bytes with `WSAPoll`
//! before each read ([`read_within`]) instead of a read timeout. The
//! accept queue cannot be widened after `listen` on Windows; std's
//! default stays.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::windows::io::AsRawSocket;
use std::time::Duration;

use windows_sys::Win32::Networking::WinSock::{WSAPoll, POLLRDNORM, POLLWRNORM, SOCKET, WSAPOLLFD};

/// From now on no write to `tcp` waits (nor does a read: see
/// [`read_within`]).
pub fn stop_waiting(tcp: &TcpStream) -> io::Result<()> {
    tcp.set_nonblocking(true)
}

/// One send that takes what fits and never waits (`WouldBlock` when
/// nothing fits), once [`stop_waiting`] made the socket non-blocking.
pub fn send_now(mut tcp: &TcpStream, buf: &[u8]) -> io::Result<usize> {
    tcp.write(buf)
}

/// One read of what `tcp` has, waiting at most `timeout` for it:
/// `TimedOut` when nothing came.
pub fn read_within(mut tcp: &TcpStream, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
    if !ready(tcp, POLLRDNORM, timeout) {
        return Err(io::ErrorKind::TimedOut.into());
    }
    tcp.read(buf)
}

/// Waits until `tcp` has room for more bytes, or `timeout`: true when it
/// has, or when it failed or was shut down (the next write says which).
pub fn wait_writable(tcp: &TcpStream, timeout: Duration) -> bool {
    ready(tcp, POLLWRNORM, timeout)
}

/// Whether `tcp` became ready for `events` (or failed) within `timeout`.
fn ready(tcp: &TcpStream, events: i16, timeout: Duration) -> bool {
    // Rounded up: a wait of less than a millisecond must not become a
    // zero timeout, which would spin.
    let millis = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
    let mut poll = WSAPOLLFD {
        fd: tcp.as_raw_socket() as SOCKET,
        events,
        revents: 0,
    };
    // SAFETY: one WSAPOLLFD, valid for the call; the socket is the
    // stream's own.
    unsafe { WSAPoll(&mut poll, 1, millis) > 0 }
}

/// Windows takes no second `listen`: std's accept queue stays, which only
/// means a burst of scrapes waits longer.
pub fn widen_backlog(_listener: &TcpListener, _backlog: u16) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_socket_says_so_and_a_silent_one_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_deaf, _) = listener.accept().unwrap();
        let mut buf = [0u8; 16];
        let started = std::time::Instant::now();
        let silent = read_within(&tcp, &mut buf, Duration::from_millis(100)).unwrap_err();
        assert_eq!(silent.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(90));
        assert!(wait_writable(&tcp, Duration::from_secs(5)), "empty");
        stop_waiting(&tcp).unwrap();
        let chunk = vec![0u8; 65_536];
        let full = loop {
            match send_now(&tcp, &chunk) {
                Ok(n) => assert!(n > 0),
                Err(e) => break e,
            }
        };
        assert_eq!(full.kind(), io::ErrorKind::WouldBlock);
        assert!(!wait_writable(&tcp, Duration::from_millis(50)), "full");
    }
}
