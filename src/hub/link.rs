//! One live hub connection, shared by the reader and the writer thread.
//!
//! The WebSocket (with the TLS session inside its [`Wire`]) sits behind one
//! mutex, and nobody holds it while waiting for the network. The reader
//! takes it only to process bytes it has already read; the writer takes it
//! to hand bytes to the socket, whose writes never wait once the
//! connection is up (see `wire`): what the socket does not take stays in
//! the WebSocket, and the writer waits for room with [`Link::wait_writable`]
//! outside the lock. So a hub that stops reading holds up neither the
//! reader (the hub's pings are still answered, its Close still seen) nor a
//! close, and [`Link::shut`] ends everything at once from any thread.

use std::net::{Shutdown, TcpStream};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Message, WebSocket};

use super::wire::{self, Wire};

/// What a write left behind, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Flushed {
    /// Everything is in the socket.
    All,
    /// The socket is full: the rest waits in the link until it has room.
    Waiting,
}

pub type Outcome = Result<Flushed, tungstenite::Error>;

pub struct Link {
    /// Counts connections since start, for log lines.
    pub id: u64,
    ws: Mutex<WebSocket<Wire>>,
    /// A handle on the socket for [`Link::shut`] and
    /// [`Link::wait_writable`], which need no lock.
    socket: TcpStream,
    /// How long the socket may take nothing before the connection is
    /// given up (`dead_after`).
    pub write_timeout: Duration,
}

impl Link {
    pub fn new(id: u64, ws: WebSocket<Wire>, socket: TcpStream, write_timeout: Duration) -> Link {
        Link {
            id,
            ws: Mutex::new(ws),
            socket,
            write_timeout,
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, WebSocket<Wire>> {
        // Every use leaves the WebSocket consistent between calls; a
        // poisoned lock only means another thread panicked mid-call.
        self.ws
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sends text frames in order, until the socket is full; returns how
    /// many the link took (the last of them may wait in it), and how the
    /// writing ended.
    pub fn send_texts(&self, frames: Vec<String>) -> (usize, Outcome) {
        let count = frames.len();
        let mut ws = self.lock();
        for (taken, frame) in frames.into_iter().enumerate() {
            // The String moves into the message: no copy of the frame.
            match outcome(ws.send(Message::text(frame))) {
                Ok(Flushed::All) => {}
                // tungstenite keeps a frame the socket did not take whole.
                Ok(Flushed::Waiting) => return (taken + 1, Ok(Flushed::Waiting)),
                Err(e) => return (taken, Err(e)),
            }
        }
        (count, Ok(Flushed::All))
    }

    /// Writes what the link holds (frames, a pong, a Close).
    pub fn flush(&self) -> Outcome {
        outcome(self.lock().flush())
    }

    pub fn ping(&self) -> Outcome {
        outcome(self.lock().send(Message::Ping(Default::default())))
    }

    /// Starts a clean close with `code`; it waits in the link like any
    /// frame if the socket is full.
    pub fn close(&self, code: CloseCode, reason: &str) -> Outcome {
        outcome(self.lock().close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
    }

    /// Waits, without the lock, until the socket has room, or `timeout`:
    /// true when it has room, or has failed (the next write says how).
    pub fn wait_writable(&self, timeout: Duration) -> bool {
        crate::platform::net::wait_writable(&self.socket, timeout)
    }

    /// Ends the connection at the TCP level: a blocked read on it, or a
    /// wait for room, returns at once, in whichever thread it is.
    pub fn shut(&self) {
        let _ = self.socket.shutdown(Shutdown::Both);
    }
}

/// A full socket is not an error: the bytes wait in the WebSocket.
fn outcome(result: tungstenite::Result<()>) -> Outcome {
    match result {
        Ok(()) => Ok(Flushed::All),
        Err(tungstenite::Error::Io(e)) if wire::is_full(&e) => Ok(Flushed::Waiting),
        Err(e) => Err(e),
    }
}
