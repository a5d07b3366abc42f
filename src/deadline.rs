//! Reads that give up at a deadline, on sockets that block: the hub's
//! handshake, the metrics port's request heads and the control socket's
//! lines all wait for a peer that may send nothing, and none may wait
//! longer than its deadline.
//!
//! The one loop for it, [`read_before`], sets the socket's read timeout to
//! what is left of the deadline before each read (so the thread sleeps in
//! the kernel, with no wakeups in between), and reads again when a signal
//! interrupted the read (with a read timeout set, Linux ends a read that a
//! signal interrupts with `EINTR` even under `SA_RESTART`) or when the
//! timeout fired a little early.

use std::io::{self, ErrorKind, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::platform::control;

/// A socket whose reads can be given a timeout: std's TCP and Unix
/// streams have the method under the same name, but on no common trait.
pub trait TimedRead: Read {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
}

impl TimedRead for TcpStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
}

impl TimedRead for &TcpStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
}

impl TimedRead for control::Stream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        control::Stream::set_read_timeout(self, timeout)
    }
}

/// One read into `buf` before `until`: `Some(n)` bytes read (0: the peer
/// closed the connection), `None` when the deadline passed first, an error
/// when the socket failed.
pub fn read_before(
    stream: &mut impl TimedRead,
    buf: &mut [u8],
    until: Instant,
) -> io::Result<Option<usize>> {
    // A zero read timeout is an error to std: the time is up then.
    while let Some(left) = until
        .checked_duration_since(Instant::now())
        .filter(|left| !left.is_zero())
    {
        stream.set_read_timeout(Some(left))?;
        match stream.read(buf) {
            Ok(n) => return Ok(Some(n)),
            Err(e) if is_interrupted_or_timeout(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

fn is_interrupted_or_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::Interrupted | ErrorKind::WouldBlock | ErrorKind::TimedOut
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::io::Write;
    use std::net::TcpListener;

    /// A socket that answers each read with the next of `reads` (then
    /// "would block"), and records the timeouts it was given.
    struct Scripted {
        reads: Vec<io::Result<&'static [u8]>>,
        timeouts: RefCell<Vec<Option<Duration>>>,
    }

    impl Read for Scripted {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.reads.is_empty() {
                return Err(ErrorKind::WouldBlock.into());
            }
            let bytes = self.reads.remove(0)?;
            buf[..bytes.len()].copy_from_slice(bytes);
            Ok(bytes.len())
        }
    }

    impl TimedRead for Scripted {
        fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
            self.timeouts.borrow_mut().push(timeout);
            Ok(())
        }
    }

    fn scripted(reads: Vec<io::Result<&'static [u8]>>) -> Scripted {
        Scripted {
            reads,
            timeouts: RefCell::new(Vec::new()),
        }
    }

    const LATER: Duration = Duration::from_secs(60);

    #[test]
    fn a_read_a_signal_or_an_early_timeout_cut_short_is_made_again() {
        let interrupted = || Err(ErrorKind::Interrupted.into());
        let timed_out = || Err(ErrorKind::TimedOut.into());
        let mut stream = scripted(vec![interrupted(), timed_out(), Ok(b"abc")]);
        let mut buf = [0u8; 8];
        let until = Instant::now() + LATER;
        assert_eq!(read_before(&mut stream, &mut buf, until).unwrap(), Some(3));
        assert_eq!(&buf[..3], b"abc");
        let timeouts = stream.timeouts.borrow();
        assert_eq!(timeouts.len(), 3, "one timeout before each read");
        assert!(timeouts.iter().all(|t| t.is_some_and(|t| t <= LATER)));
    }

    #[test]
    fn a_closed_peer_reads_zero_and_a_broken_socket_is_an_error() {
        let mut buf = [0u8; 8];
        let until = Instant::now() + LATER;
        let mut closed = scripted(vec![Ok(b"")]);
        assert_eq!(read_before(&mut closed, &mut buf, until).unwrap(), Some(0));
        let mut broken = scripted(vec![Err(ErrorKind::ConnectionReset.into())]);
        let error = read_before(&mut broken, &mut buf, until).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ConnectionReset);
    }

    #[test]
    fn a_deadline_already_past_reads_nothing() {
        let mut stream = scripted(vec![Ok(b"abc")]);
        let past = Instant::now();
        assert_eq!(read_before(&mut stream, &mut [0u8; 8], past).unwrap(), None);
        assert!(stream.timeouts.borrow().is_empty());
    }

    #[test]
    fn a_silent_peer_is_given_up_at_the_deadline() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let mut buf = [0u8; 8];
        let wait = Duration::from_millis(50);
        // The socket's own timeout is far longer than what is left.
        server.set_read_timeout(Some(LATER)).unwrap();
        assert_eq!(
            read_before(&mut server, &mut buf, Instant::now() + wait).unwrap(),
            None
        );
        assert!(
            server.read_timeout().unwrap() < Some(LATER),
            "set to what was left"
        );
        server.set_read_timeout(Some(LATER)).unwrap();
        assert_eq!(
            read_before(&mut &server, &mut buf, Instant::now() + wait).unwrap(),
            None
        );
        assert!(
            server.read_timeout().unwrap() < Some(LATER),
            "set to what was left"
        );
        client.write_all(b"late").unwrap();
        let until = Instant::now() + LATER;
        assert_eq!(read_before(&mut &server, &mut buf, until).unwrap(), Some(4));
    }
}
