//! One live hub connection, shared by the reader and the writer thread.
//!
//! The WebSocket (with the TLS session inside its [`Wire`]) sits behind one
//! mutex. The reader takes it only to process bytes it has already read;
//! the writer takes it to send. Neither holds it while waiting for the
//! network to deliver anything, so a piece never waits for the hub to speak
//! (see `wire` for how reading happens outside the lock).

use std::net::{Shutdown, TcpStream};
use std::sync::{Mutex, MutexGuard};

use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Message, WebSocket};

use super::wire::Wire;

pub struct Link {
    /// Counts connections since start, for log lines.
    pub id: u64,
    ws: Mutex<WebSocket<Wire>>,
    /// A handle on the socket for [`Link::shut`], which must work even
    /// while another thread holds the lock and is blocked in a write.
    socket: TcpStream,
}

impl Link {
    pub fn new(id: u64, ws: WebSocket<Wire>, socket: TcpStream) -> Link {
        Link {
            id,
            ws: Mutex::new(ws),
            socket,
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, WebSocket<Wire>> {
        // Every use leaves the WebSocket consistent between calls; a
        // poisoned lock only means another thread panicked mid-call.
        self.ws
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sends text frames in order; returns how many were written before an
    /// error, and the error.
    pub fn send_texts(&self, frames: Vec<String>) -> (usize, Option<tungstenite::Error>) {
        let count = frames.len();
        let mut ws = self.lock();
        for (sent, frame) in frames.into_iter().enumerate() {
            // The String moves into the message: no copy of the frame.
            if let Err(e) = ws.send(Message::text(frame)) {
                return (sent, Some(e));
            }
        }
        (count, None)
    }

    pub fn ping(&self) -> Result<(), tungstenite::Error> {
        self.lock().send(Message::Ping(Default::default()))
    }

    /// Starts a clean close with `code` and flushes it.
    pub fn close(&self, code: CloseCode, reason: &str) -> Result<(), tungstenite::Error> {
        self.lock().close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }))
    }

    /// Ends the connection at the TCP level: a blocked read or write on it
    /// returns at once, in whichever thread it is.
    pub fn shut(&self) {
        let _ = self.socket.shutdown(Shutdown::Both);
    }
}
