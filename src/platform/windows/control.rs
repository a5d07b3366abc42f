//! The control channel on Windows: a TCP port on 127.0.0.1 that only the
//! owner can use. Windows has no peer credentials for loopback TCP, so the
//! running client makes a random secret and writes `address secret` to
//! `control.sock` beside the config file, in the user's own profile; a
//! command reads it there and sends the secret first on the line. A
//! connection without it gets the refusal, as another user's does on Unix.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

use windows_sys::Win32::Security::Cryptography::{
    BCryptGenRandom, BCRYPT_USE_SYSTEM_PREFERRED_RNG,
};

/// No limit from the system on the path of `control.sock` (a file here).
pub const MAX_PATH: usize = usize::MAX;

/// The secret's length in bytes (written as hex).
const SECRET_BYTES: usize = 32;

/// The most a `control.sock` file may hold: an address and the secret.
const MAX_FILE: u64 = 256;

/// The client's listening port.
pub struct Listener(TcpListener);

/// One connection to or from the client.
pub struct Stream(TcpStream);

impl Listener {
    pub fn accept(&self) -> io::Result<(Stream, SocketAddr)> {
        self.0.accept().map(|(stream, addr)| (Stream(stream), addr))
    }
}

impl Stream {
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.0.set_read_timeout(timeout)
    }

    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.0.set_write_timeout(timeout)
    }

    pub fn try_clone(&self) -> io::Result<Stream> {
        self.0.try_clone().map(Stream)
    }

    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.0.shutdown(how)
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Who may use the channel: whoever can read `control.sock`.
pub struct OwnerCheck {
    secret: String,
}

impl OwnerCheck {
    /// The request in `line` when it starts with the secret and a space;
    /// `None` when not. Compared in constant time, so that the time of a
    /// refusal tells nothing of the secret.
    pub fn admit<'l>(&self, _stream: &Stream, line: &'l [u8]) -> Option<&'l [u8]> {
        let secret = self.secret.as_bytes();
        let (given, request) = line.split_at_checked(secret.len())?;
        let differs = given
            .iter()
            .zip(secret)
            .fold(0, |acc, (a, b)| acc | (a ^ b));
        let request = request.strip_prefix(b" ")?;
        (differs == 0).then_some(request)
    }
}

/// Listens on a free port of 127.0.0.1 and publishes its address with a
/// new secret in `socket` (written beside it and renamed over it, so a
/// command never reads half of it, and a stale one is replaced).
pub fn bind(socket: &Path) -> io::Result<(Listener, OwnerCheck)> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let secret = new_secret()?;
    let published = format!("{} {secret}\n", listener.local_addr()?);
    let fresh = socket.with_extension("new");
    let _ = std::fs::remove_file(&fresh);
    let written = super::files::create_private(&fresh)
        .and_then(|mut file| file.write_all(published.as_bytes()))
        .and_then(|()| std::fs::rename(&fresh, socket));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&fresh);
        return Err(e);
    }
    Ok((Listener(listener), OwnerCheck { secret }))
}

/// Connects to the running client: reads `socket` (`NotFound` when there
/// is none), connects to its address (`ConnectionRefused` when nobody
/// listens there), and sends the secret, so that the request line that
/// follows is admitted.
pub fn connect(socket: &Path) -> io::Result<Stream> {
    let mut published = String::new();
    std::fs::File::open(socket)?
        .take(MAX_FILE)
        .read_to_string(&mut published)?;
    let unreadable = || io::Error::new(io::ErrorKind::InvalidData, "not a control file");
    let (addr, secret) = published.trim().split_once(' ').ok_or_else(unreadable)?;
    let addr: SocketAddr = addr.parse().map_err(|_| unreadable())?;
    if !addr.ip().is_loopback() {
        return Err(unreadable());
    }
    let mut stream = TcpStream::connect(addr)?;
    stream.write_all(format!("{secret} ").as_bytes())?;
    Ok(Stream(stream))
}

/// Removes what [`bind`] published, on a clean stop.
pub fn withdraw(socket: &Path) -> io::Result<()> {
    std::fs::remove_file(socket)
}

/// A secret nobody else can guess, in hex.
fn new_secret() -> io::Result<String> {
    let mut bytes = [0u8; SECRET_BYTES];
    // SAFETY: `bytes` is valid for writes of its length.
    let status = unsafe {
        BCryptGenRandom(
            std::ptr::null_mut(),
            bytes.as_mut_ptr(),
            SECRET_BYTES as u32,
            BCRYPT_USE_SYSTEM_PREFERRED_RNG,
        )
    };
    if status != 0 {
        return Err(io::Error::other("no random numbers for the control secret"));
    }
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
