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
//! rustls to the [`Socket`], which, once the connection is up, never waits
//! either: a full socket answers `WouldBlock` (`platform::net::send_now`),
//! tungstenite keeps the rest of its frame (rustls its records) for the
//! next call, and the writer waits for room
//! (`platform::net::wait_writable`), outside the lock. The reader still
//! waits for the hub's bytes on its own handle
//! (`platform::net::read_within`). While the socket is full no new
//! plaintext is taken, so rustls never buffers more than one write.
//!
//! For `ws://` (loopback only) the same type passes bytes through unchanged.
//! The TCP connection under it, to the hub or to a proxy, is opened by
//! [`connect`].
//!
//! The outgoing half is generic so that the unit tests below can drive a
//! real rustls client against a rustls server in memory; the program only
//! ever uses the default, a `TcpStream`.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::platform;

/// The hub's TCP socket as the WebSocket writes to it: blocking writes
/// during the handshake (bounded by the socket's write timeout), then
/// writes that never wait.
pub struct Socket {
    tcp: TcpStream,
    never_wait: bool,
}

impl Socket {
    pub fn new(tcp: TcpStream) -> Socket {
        Socket {
            tcp,
            never_wait: false,
        }
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.never_wait {
            true => platform::net::send_now(&self.tcp, buf),
            false => self.tcp.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// TCP to the first of `addrs` that answers within `timeout`, or the last
/// failure; `None` when there is no address to try.
pub fn connect(
    addrs: impl Iterator<Item = SocketAddr>,
    timeout: Duration,
) -> Option<io::Result<TcpStream>> {
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(socket) => return Some(Ok(socket)),
            failed => last = Some(failed),
        }
    }
    last
}

/// Whether a write error only means that the socket is full for now.
pub fn is_full(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// One connection's transport state (TLS or plain). `S` is where encrypted
/// (or, for `ws://`, plain) bytes are written.
pub struct Wire<S: Write = Socket> {
    socket: S,
    tls: Option<Box<rustls::ClientConnection>>,
    /// Bytes from the socket not yet consumed: TLS records, or plaintext
    /// for `ws://`.
    inbound: Vec<u8>,
    consumed: usize,
    /// The hub closed its side of the TCP connection.
    eof: bool,
    /// rustls has been told about `eof`.
    eof_told: bool,
    /// The TLS error that ended the session: every later read reports it
    /// again, so a broken connection can never look like "no data yet".
    failed: Option<rustls::Error>,
}

impl<S: Write> Wire<S> {
    pub fn new(socket: S, tls: Option<rustls::ClientConnection>) -> Wire<S> {
        Wire {
            socket,
            tls: tls.map(Box::new),
            inbound: Vec::new(),
            consumed: 0,
            eof: false,
            eof_told: false,
            failed: None,
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
        match &mut self.tls {
            Some(tls) => push_records(tls, &mut self.socket),
            None => Ok(()),
        }
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
        if let Err(error) = result {
            self.failed = Some(error.clone());
            return Err(tls_error(error));
        }
        match pushed {
            // A socket the hub stopped reading only delays what rustls
            // holds (the writer's next flush sends it); it must not hide
            // what was just decrypted, or the reader would wait on the
            // socket for bytes it already has.
            Err(e) if !is_full(&e) => Err(e),
            _ => Ok(true),
        }
    }
}

/// Sends whatever `tls` has queued, until the socket refuses.
fn push_records<S: Write>(tls: &mut rustls::ClientConnection, socket: &mut S) -> io::Result<()> {
    while tls.wants_write() {
        tls.write_tls(socket)?;
    }
    Ok(())
}

/// rustls errors travel inside io::Error; `hub::session` unwraps them for
/// a clear message.
fn tls_error(error: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}

impl Wire<Socket> {
    /// From now on no write waits for the socket (the handshake is done).
    pub fn never_wait(&mut self) -> io::Result<()> {
        platform::net::stop_waiting(&self.socket.tcp)?;
        self.socket.never_wait = true;
        Ok(())
    }
}

impl<S: Write> Read for Wire<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(error) = &self.failed {
            return Err(tls_error(error.clone()));
        }
        // Run dry: the end of the stream once the hub has closed it, else
        // "no data yet".
        let dry = |eof| match eof {
            true => Ok(0),
            false => Err(io::ErrorKind::WouldBlock.into()),
        };
        if self.tls.is_none() {
            if self.pending().is_empty() {
                return dry(self.eof);
            }
            let n = self.pending().read(buf)?;
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
                return dry(self.eof);
            }
        }
    }
}

impl<S: Write> Write for Wire<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.tls {
            None => self.socket.write(buf),
            Some(tls) => {
                // Records from an earlier write go first; while the socket
                // takes none, no plaintext is taken (which bounds rustls's
                // buffer to one write).
                push_records(tls, &mut self.socket)?;
                let n = tls.writer().write(buf)?;
                match push_records(tls, &mut self.socket) {
                    // rustls holds these bytes now and will send them: a
                    // full socket, or a signal that interrupted the send,
                    // must not make the caller write them a second time.
                    // `flush` sends them.
                    Err(e) if !is_full(&e) => Err(e),
                    _ => Ok(n),
                }
            }
        }
    }

    /// Sends what an interrupted `write` left in rustls (tungstenite
    /// flushes after every frame, so nothing waits there for long).
    fn flush(&mut self) -> io::Result<()> {
        self.push_tls()?;
        self.socket.flush()
    }
}

/// A real rustls client inside a `Wire`, talking to a real rustls server in
/// memory: every byte the tests feed is a byte a hub could send.
#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    use crate::test_ca::TestCa;

    /// What the client wrote, kept for the test to hand to the server. It
    /// can be told to fail its next write as a signal would (EINTR).
    #[derive(Clone, Default)]
    struct Outbound {
        bytes: Arc<Mutex<Vec<u8>>>,
        interrupt_next: Arc<AtomicBool>,
        broken: Arc<AtomicBool>,
        /// Takes nothing, as a socket the hub stopped reading.
        full: Arc<AtomicBool>,
    }

    impl Write for Outbound {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.interrupt_next.swap(false, Ordering::SeqCst) {
                return Err(io::ErrorKind::Interrupted.into());
            }
            if self.broken.load(Ordering::SeqCst) {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            if self.full.load(Ordering::SeqCst) {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.bytes.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Outbound {
        fn take(&self) -> Vec<u8> {
            std::mem::take(&mut *self.bytes.lock().unwrap())
        }
    }

    /// How a run of reads ended.
    #[derive(Debug)]
    enum Ended {
        /// `WouldBlock`: everything fed so far has been read.
        Dry,
        /// `Ok(0)`: a clean end of the stream.
        Closed,
        Failed(io::Error),
    }

    struct Pair {
        wire: Wire<Outbound>,
        out: Outbound,
        server: rustls::ServerConnection,
    }

    impl Pair {
        /// A client and a server that have finished the TLS handshake.
        fn connected() -> Pair {
            let ca = TestCa::new("wire");
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            let client = rustls::ClientConnection::new(ca.client_config(), name).unwrap();
            let server = rustls::ServerConnection::new(ca.server_config()).unwrap();
            let out = Outbound::default();
            let mut pair = Pair {
                wire: Wire::new(out.clone(), Some(client)),
                out,
                server,
            };
            pair.wire.flush().unwrap();
            for _ in 0..10 {
                assert_eq!(pair.deliver_to_server(), b"");
                let flight = pair.take_from_server();
                if !flight.is_empty() {
                    // (An empty feed would mean the TCP connection closed.)
                    pair.wire.feed(&flight);
                }
                let (data, ended) = pair.read_now();
                assert!(data.is_empty() && matches!(ended, Ended::Dry), "{ended:?}");
                let client_done = !pair.wire.tls.as_ref().unwrap().is_handshaking();
                if client_done && !pair.server.is_handshaking() && flight.is_empty() {
                    return pair;
                }
            }
            panic!("the handshake did not finish");
        }

        /// Hands the server what the client wrote; returns the plaintext.
        fn deliver_to_server(&mut self) -> Vec<u8> {
            let bytes = self.out.take();
            let mut records = &bytes[..];
            while !records.is_empty() {
                self.server.read_tls(&mut records).unwrap();
                self.server.process_new_packets().unwrap();
            }
            let mut plain = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                match self.server.reader().read(&mut buf) {
                    Ok(0) => return plain,
                    Ok(n) => plain.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return plain,
                    Err(e) => panic!("server read: {e}"),
                }
            }
        }

        /// The records the server has queued for the client.
        fn take_from_server(&mut self) -> Vec<u8> {
            let mut records = Vec::new();
            while self.server.wants_write() {
                self.server.write_tls(&mut records).unwrap();
            }
            records
        }

        /// The records carrying `plain` from the server.
        fn server_sends(&mut self, plain: &[u8]) -> Vec<u8> {
            self.server.writer().write_all(plain).unwrap();
            self.take_from_server()
        }

        /// Reads from the wire until it has nothing more to give, in small
        /// reads as tungstenite makes them.
        fn read_now(&mut self) -> (Vec<u8>, Ended) {
            let mut data = Vec::new();
            let mut buf = [0u8; 1000];
            for _ in 0..100_000 {
                match self.wire.read(&mut buf) {
                    Ok(0) => return (data, Ended::Closed),
                    Ok(n) => data.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return (data, Ended::Dry),
                    Err(e) => return (data, Ended::Failed(e)),
                }
            }
            panic!("the wire never ran dry");
        }

        /// Reads what was fed, which must not end the stream.
        fn read_dry(&mut self) -> Vec<u8> {
            let (data, ended) = self.read_now();
            assert!(matches!(ended, Ended::Dry), "{ended:?}");
            data
        }
    }

    #[test]
    fn a_socket_the_hub_stopped_reading_does_not_hold_back_what_it_sent() {
        let mut pair = Pair::connected();
        pair.out.full.store(true, Ordering::SeqCst);
        // The writer's frame waits in rustls: the socket takes nothing.
        assert_eq!(pair.wire.write(b"a piece of an answer").unwrap(), 20);
        let request = pair.server_sends(b"a buyer's request");
        pair.wire.feed(&request);
        assert_eq!(pair.read_dry(), b"a buyer's request");
        // Once the socket takes bytes again, the frame goes out whole.
        pair.out.full.store(false, Ordering::SeqCst);
        pair.wire.flush().unwrap();
        assert_eq!(pair.deliver_to_server(), b"a piece of an answer");
    }

    #[test]
    fn a_broken_socket_fails_the_read_that_pushes_into_it() {
        let mut pair = Pair::connected();
        pair.out.full.store(true, Ordering::SeqCst);
        assert_eq!(pair.wire.write(b"a piece of an answer").unwrap(), 20);
        // The connection breaks while the frame waits: unlike a full
        // socket, that ends the connection at once.
        pair.out.full.store(false, Ordering::SeqCst);
        pair.out.broken.store(true, Ordering::SeqCst);
        let request = pair.server_sends(b"a buyer's request");
        pair.wire.feed(&request);
        let (_, ended) = pair.read_now();
        assert!(
            matches!(&ended, Ended::Failed(e) if e.kind() == io::ErrorKind::BrokenPipe),
            "{ended:?}"
        );
    }

    #[test]
    fn records_split_at_every_byte_boundary_arrive_whole() {
        let mut pair = Pair::connected();
        let mut expected = Vec::new();
        let mut got = Vec::new();
        let message = b"fed one byte at a time";
        expected.extend_from_slice(message);
        for byte in pair.server_sends(message) {
            pair.wire.feed(&[byte]);
            got.extend(pair.read_dry());
        }
        // Two records per round, so a cut falls inside the first, between
        // them, and inside the second.
        let mut cut = 0;
        loop {
            let first = format!("{cut:04}-a");
            let second = format!("{cut:04}-b");
            let mut records = pair.server_sends(first.as_bytes());
            records.extend(pair.server_sends(second.as_bytes()));
            // (An empty feed would mean the TCP connection closed.)
            for part in [&records[..cut], &records[cut..]] {
                if !part.is_empty() {
                    pair.wire.feed(part);
                }
                got.extend(pair.read_dry());
            }
            expected.extend_from_slice(first.as_bytes());
            expected.extend_from_slice(second.as_bytes());
            if cut == records.len() {
                break;
            }
            cut += 1;
        }
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&expected)
        );
    }

    #[test]
    fn many_records_fed_at_once_are_all_read_in_order() {
        let mut pair = Pair::connected();
        let mut expected = Vec::new();
        let mut records = Vec::new();
        for i in 0..64u8 {
            let message = vec![b'a' + i % 26; 4000];
            records.extend(pair.server_sends(&message));
            expected.extend(message);
        }
        // Far more than rustls takes from one read_tls call (4 KiB).
        assert!(records.len() > 200_000);
        pair.wire.feed(&records);
        assert_eq!(pair.read_dry(), expected);
        assert_eq!(pair.wire.pending(), b"");
    }

    #[test]
    fn the_inbound_buffer_does_not_grow_over_a_long_run() {
        let mut pair = Pair::connected();
        for round in 0..2000u32 {
            let message = format!("{round:06}{}", "x".repeat(994));
            let records = pair.server_sends(message.as_bytes());
            pair.wire.feed(&records);
            assert_eq!(pair.read_dry(), message.as_bytes());
            assert!(
                pair.wire.inbound.len() <= records.len(),
                "round {round}: {} bytes kept",
                pair.wire.inbound.len()
            );
        }
    }

    #[test]
    fn close_notify_ends_the_stream_cleanly() {
        let mut pair = Pair::connected();
        pair.server.writer().write_all(b"goodbye").unwrap();
        pair.server.send_close_notify();
        let records = pair.take_from_server();
        pair.wire.feed(&records);
        let (data, ended) = pair.read_now();
        assert_eq!(data, b"goodbye");
        assert!(matches!(ended, Ended::Closed), "{ended:?}");
        // The TCP close that follows changes nothing.
        pair.wire.feed(&[]);
        assert!(matches!(pair.read_now().1, Ended::Closed));
    }

    #[test]
    fn a_stream_cut_without_close_notify_is_an_unexpected_eof() {
        let mut pair = Pair::connected();
        let records = pair.server_sends(b"partial answer");
        pair.wire.feed(&records);
        pair.wire.feed(&[]);
        let (data, ended) = pair.read_now();
        assert_eq!(data, b"partial answer");
        let Ended::Failed(error) = ended else {
            panic!("{ended:?}")
        };
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        // It stays an error: never a clean end, never "no data yet".
        let Ended::Failed(again) = pair.read_now().1 else {
            panic!("the second read did not fail")
        };
        assert_eq!(again.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn a_stream_cut_inside_a_record_is_an_unexpected_eof() {
        let mut pair = Pair::connected();
        let records = pair.server_sends(b"half of this record arrives");
        pair.wire.feed(&records[..records.len() / 2]);
        assert_eq!(pair.read_dry(), b"");
        pair.wire.feed(&[]);
        let (data, ended) = pair.read_now();
        assert_eq!(data, b"");
        assert!(
            matches!(&ended, Ended::Failed(e) if e.kind() == io::ErrorKind::UnexpectedEof),
            "{ended:?}"
        );
    }

    #[test]
    fn a_corrupted_record_ends_the_connection_with_a_tls_error() {
        let mut pair = Pair::connected();
        let mut records = pair.server_sends(&[b'z'; 100]);
        let last = records.len() - 3;
        records[last] ^= 0x40;
        pair.wire.feed(&records);
        let (data, ended) = pair.read_now();
        assert_eq!(data, b"");
        let Ended::Failed(error) = ended else {
            panic!("{ended:?}")
        };
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        let cause = error
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>());
        assert!(
            matches!(cause, Some(rustls::Error::DecryptError)),
            "{error}"
        );
        // The alert that tells the hub why went out.
        assert!(!pair.out.take().is_empty());
        // Later reads, even with good bytes fed, keep failing.
        let more = pair.server_sends(b"more");
        pair.wire.feed(&more);
        assert!(matches!(pair.read_now(), (d, Ended::Failed(_)) if d.is_empty()));
    }

    #[test]
    fn an_interrupted_send_is_written_once_by_flush() {
        let mut pair = Pair::connected();
        pair.out.interrupt_next.store(true, Ordering::SeqCst);
        assert_eq!(pair.wire.write(b"frame").unwrap(), 5);
        assert_eq!(pair.deliver_to_server(), b"");
        pair.wire.flush().unwrap();
        assert_eq!(pair.deliver_to_server(), b"frame");
        pair.wire.write_all(b" and the next").unwrap();
        assert_eq!(pair.deliver_to_server(), b" and the next");
    }

    #[test]
    fn a_send_that_fails_for_good_is_an_error() {
        let mut pair = Pair::connected();
        pair.out.broken.store(true, Ordering::SeqCst);
        let error = pair.wire.write(b"frame").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);
    }

    #[test]
    fn plain_ws_passes_bytes_through() {
        let out = Outbound::default();
        let mut wire = Wire::new(out.clone(), None);
        wire.feed(b"abc");
        let mut buf = [0u8; 2];
        assert_eq!(wire.read(&mut buf).unwrap(), 2);
        assert_eq!(&buf, b"ab");
        assert_eq!(wire.read(&mut buf).unwrap(), 1);
        assert_eq!(buf[0], b'c');
        let dry = wire.read(&mut buf).unwrap_err();
        assert_eq!(dry.kind(), io::ErrorKind::WouldBlock);
        wire.feed(b"de");
        wire.feed(b"f");
        let mut all = [0u8; 8];
        assert_eq!(wire.read(&mut all).unwrap(), 3);
        assert_eq!(&all[..3], b"def");
        assert!(wire.inbound.len() <= 3);
        wire.feed(&[]);
        assert_eq!(wire.read(&mut buf).unwrap(), 0);
        wire.write_all(b"out").unwrap();
        wire.flush().unwrap();
        assert_eq!(out.take(), b"out");
    }
}
