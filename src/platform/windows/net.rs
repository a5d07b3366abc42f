//! Sockets on Windows. Winsock has no per-call "don't wait" flag, and
//! making the socket non-blocking would change the reader's handle too
//! (they share it). So a send that must not wait first asks whether the
//! socket has room (`WSAPoll`, no timeout) and sends only then: a socket
//! with room takes the bytes into its buffer at once. The accept queue
//! cannot be widened after `listen` on Windows; std's default stays.

use std::io::{self, Write};
use std::net::{TcpListener, TcpStream};
use std::os::windows::io::AsRawSocket;
use std::time::Duration;

use windows_sys::Win32::Networking::WinSock::{WSAPoll, POLLWRNORM, SOCKET, WSAPOLLFD};

/// One send that takes what fits and does not wait: `WouldBlock` when the
/// socket has no room.
pub fn send_now(tcp: &TcpStream, buf: &[u8]) -> io::Result<usize> {
    if !has_room(tcp, 0) {
        return Err(io::ErrorKind::WouldBlock.into());
    }
    let mut tcp = tcp;
    tcp.write(buf)
}

/// Waits until `tcp` has room for more bytes, or `timeout`: true when it
/// has, or when it failed or was shut down (the next write says which).
pub fn wait_writable(tcp: &TcpStream, timeout: Duration) -> bool {
    // Rounded up: a wait of less than a millisecond must not become a
    // zero timeout, which would spin.
    let millis = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
    has_room(tcp, millis)
}

fn has_room(tcp: &TcpStream, millis: i32) -> bool {
    let mut poll = WSAPOLLFD {
        fd: tcp.as_raw_socket() as SOCKET,
        events: POLLWRNORM,
        revents: 0,
    };
    // SAFETY: one WSAPOLLFD, valid for the call; the socket is the
    // stream's own.
    unsafe { WSAPoll(&mut poll, 1, millis) > 0 }
}

/// Windows takes no second `listen`: std's accept queue stays, which only
/// means a burst of scrapes waits longer.
pub fn widen_backlog(_listener: &TcpListener, _backlog: u16) {}
