//! The byte stream under tungstenite, built so that one WebSocket can be
//! read and written from two threads.
//!
//! rustls keeps one state machine per connection and tungstenite keeps one
//! per WebSocket, so both live together behind one mutex (see `link`). What
//! must not happen behind that mutex is the blocking wait for the hub's next
//! bytes, or every write would wait for the hub to speak. So the socket is
//! read *outside* the lock, by the reader thread on its own handle, and the
//! bytes are handed in with [`Wire::feed`]. Inside the lock, tungstenite
//! reads from [`Wire`], which decrypts what was fed and answers `WouldBlock`
//! when it runs dry; tungstenite treats that like a non-blocking socket and
//! keeps any partial frame for the next call. Writes go straight through
//! rustls to the socket (a blocking write, bounded by the socket's write
//! timeout).
//!
//! For `ws://` (loopback only) the same type passes bytes through unchanged.

use std::io::{self, Read, Write};
use std::net::TcpStream;

/// One connection's transport state (TLS or plain).
pub struct Wire {
    socket: TcpStream,
    tls: Option<Box<rustls::ClientConnection>>,
    /// Bytes from the socket not yet consumed: TLS records, or plaintext
    /// for `ws://`.
    inbound: Vec<u8>,
    consumed: usize,
    /// The hub closed its side of the TCP connection.
    eof: bool,
    /// rustls has been told about `eof`.
    eof_told: bool,
}

impl Wire {
    pub fn new(socket: TcpStream, tls: Option<rustls::ClientConnection>) -> Wire {
        Wire {
            socket,
            tls: tls.map(Box::new),
            inbound: Vec::new(),
            consumed: 0,
            eof: false,
            eof_told: false,
        }
    }

    /// Hands over bytes the reader thread read from the socket; an empty
    /// slice means the hub closed the connection.
    pub fn feed(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            self.eof = true;
            return;
        }
        if self.consumed == self.inbound.len() {
            self.inbound.clear();
            self.consumed = 0;
        }
        self.inbound.extend_from_slice(bytes);
    }

    fn pending(&self) -> &[u8] {
        &self.inbound[self.consumed..]
    }

    /// Sends whatever rustls has queued (handshake messages, alerts,
    /// encrypted application data).
    fn push_tls(&mut self) -> io::Result<()> {
        if let Some(tls) = &mut self.tls {
            while tls.wants_write() {
                tls.write_tls(&mut self.socket)?;
            }
        }
        Ok(())
    }

    /// Decrypts the next fed TLS records; false when nothing is left.
    fn decrypt_more(&mut self) -> io::Result<bool> {
        let Some(tls) = &mut self.tls else {
            return Ok(false);
        };
        if self.consumed == self.inbound.len() {
            if self.eof && !self.eof_told {
                self.eof_told = true;
                // Tells rustls the transport ended, so that its reader
                // reports a clean close or an unexpected EOF.
                tls.read_tls(&mut io::empty())?;
                tls.process_new_packets().map_err(tls_error)?;
                return Ok(true);
            }
            return Ok(false);
        }
        let mut records = &self.inbound[self.consumed..];
        let before = records.len();
        tls.read_tls(&mut records)?;
        self.consumed += before - records.len();
        let result = tls.process_new_packets();
        // Send the alert, or the handshake's next flight, even on error.
        let pushed = self.push_tls();
        result.map_err(tls_error)?;
        pushed?;
        Ok(true)
    }
}

/// rustls errors travel inside io::Error; `hub::session` unwraps them for
/// a clear message.
fn tls_error(error: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.tls.is_none() {
            let pending = self.pending();
            if pending.is_empty() {
                return if self.eof {
                    Ok(0)
                } else {
                    Err(io::ErrorKind::WouldBlock.into())
                };
            }
            let n = pending.len().min(buf.len());
            buf[..n].copy_from_slice(&pending[..n]);
            self.consumed += n;
            return Ok(n);
        }
        loop {
            if let Some(tls) = &mut self.tls {
                match tls.reader().read(buf) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    other => return other,
                }
            }
            if !self.decrypt_more()? {
                return if self.eof {
                    Ok(0)
                } else {
                    Err(io::ErrorKind::WouldBlock.into())
                };
            }
        }
    }
}

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.tls {
            None => self.socket.write(buf),
            Some(tls) => {
                let n = tls.writer().write(buf)?;
                self.push_tls()?;
                Ok(n)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.push_tls()?;
        self.socket.flush()
    }
}
