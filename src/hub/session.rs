//! One hub connection from TCP connect to its end: the handshake (TCP, TLS,
//! WebSocket upgrade with the token), then the reader loop that turns the
//! hub's frames into requests for the relay.
//!
//! The reader thread blocks on its own socket handle with a read timeout of
//! `dead_after`: while the heartbeat works the hub's pongs keep it awake, so
//! the timeout fires only on a dead connection, and an idle client does not
//! wake otherwise. Every batch of bytes read is fed to the [`Wire`] and then
//! processed to the last complete frame before the next blocking read, so no
//! frame that has already arrived waits unprocessed.

use std::fmt;
use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tungstenite::client::IntoClientRequest;
use tungstenite::error::{CapacityError, ProtocolError};
use tungstenite::handshake::HandshakeError;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Error as WsError, Message, WebSocket};

use super::endpoint::Endpoint;
use super::link::Link;
use super::proxy::Proxy;
use super::tls;
use super::wire::Wire;
use crate::protocol::{parse_incoming, BuyerMessage, Incoming, MessageId};
use crate::secret::Token;

/// Frames up to this many times `max_frame_bytes` are read and dropped;
/// beyond it reading one would cost too much memory on a small box, so the
/// connection is replaced instead.
const OVERSIZED_FRAME_FACTOR: usize = 16;

/// Where the reader hands the buyers' requests. The relay implements it,
/// so that the hub side never needs to know how an answer is made.
pub trait Requests {
    /// A buyer's request, to be answered.
    fn run(&self, request: BuyerMessage);
    /// A request that names its buyer but cannot be run: it is answered
    /// with `reason` as an error.
    fn refuse(&self, message_id: MessageId, reason: &'static str);
}

/// What a connection needs that does not change between connections.
pub struct SessionConfig {
    pub endpoint: Endpoint,
    pub token: Token,
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// An HTTP proxy to tunnel through (`HTTPS_PROXY`), if any.
    pub proxy: Option<Proxy>,
    pub handshake_timeout: Duration,
    pub dead_after: Duration,
    pub max_frame_bytes: usize,
}

impl SessionConfig {
    fn ws_config(&self) -> WebSocketConfig {
        let mut config = WebSocketConfig::default()
            .max_message_size(Some(self.max_frame_bytes))
            .max_frame_size(Some(self.hard_frame_limit()));
        // Hub frames are small; tungstenite's 128 KiB read chunk would be
        // memory a small box never uses. Every frame is flushed as it is
        // written, so no write buffer is kept either.
        config.read_buffer_size = 16 * 1024;
        config.write_buffer_size = 0;
        config
    }

    fn hard_frame_limit(&self) -> usize {
        self.max_frame_bytes.saturating_mul(OVERSIZED_FRAME_FACTOR)
    }
}

/// Why a connection could not be made. Never contains the token or the URL
/// that carries it.
#[derive(Debug)]
pub enum ConnectError {
    /// The host name did not resolve.
    Resolve(String),
    /// No TCP connection to any address.
    Tcp(io::Error),
    /// The HTTP proxy could not be reached or refused the tunnel.
    Proxy(io::Error),
    /// The handshake did not finish within `handshake_timeout`.
    Timeout(Duration),
    /// TLS failed (certificate, protocol); the text says what to do.
    Tls(String),
    /// HTTP 401/403: the hub does not accept this token.
    TokenRejected(u16),
    /// Another HTTP status instead of the WebSocket upgrade.
    Http(u16),
    /// The hub broke the handshake in another way.
    Handshake(String),
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Resolve(e) => write!(f, "cannot resolve the hub's host name: {e}"),
            ConnectError::Tcp(e) => write!(f, "cannot connect: {e}"),
            ConnectError::Proxy(e) => write!(f, "through the proxy: {e}"),
            ConnectError::Timeout(d) => {
                write!(
                    f,
                    "handshake did not finish within {:.1} s",
                    d.as_secs_f64()
                )
            }
            ConnectError::Tls(text) => f.write_str(text),
            ConnectError::TokenRejected(status) => write!(
                f,
                "the hub rejected the token (HTTP {status}); set the right one with \
                 --force-token TOKEN or the OLLAMA_PROXY_TOKEN environment variable"
            ),
            ConnectError::Http(status) => {
                write!(
                    f,
                    "the hub answered HTTP {status} instead of a WebSocket upgrade"
                )
            }
            ConnectError::Handshake(text) => write!(f, "handshake failed: {text}"),
        }
    }
}

/// A connected session: the shared link and the reader's own socket handle.
pub struct Session {
    pub link: Arc<Link>,
    reader: TcpStream,
    config_dead_after: Duration,
    hard_frame_limit: usize,
}

/// How a session ended.
#[derive(Debug)]
pub enum SessionEnd {
    /// The hub sent a Close frame or closed TCP.
    ClosedByHub(String),
    /// Nothing arrived for `dead_after`.
    Dead(Duration),
    /// A socket, TLS or WebSocket protocol error.
    Broken(String),
}

impl fmt::Display for SessionEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionEnd::ClosedByHub(why) => write!(f, "the hub closed the connection ({why})"),
            SessionEnd::Dead(d) => write!(
                f,
                "nothing received from the hub for {:.1} s; the connection is dead",
                d.as_secs_f64()
            ),
            SessionEnd::Broken(why) => write!(f, "connection broken: {why}"),
        }
    }
}

/// Opens a connection: TCP, then TLS and the WebSocket upgrade, all within
/// `handshake_timeout`.
pub fn connect(config: &SessionConfig, id: u64) -> Result<Session, ConnectError> {
    let deadline = Instant::now() + config.handshake_timeout;
    let socket = match &config.proxy {
        Some(proxy) => proxy
            .tunnel(&config.endpoint, config.handshake_timeout)
            .map_err(ConnectError::Proxy)?,
        None => tcp_connect(&config.endpoint, config.handshake_timeout)?,
    };
    let _ = socket.set_nodelay(true);
    socket
        .set_write_timeout(Some(config.dead_after))
        .map_err(ConnectError::Tcp)?;
    let reader = socket.try_clone().map_err(ConnectError::Tcp)?;
    let shutter = socket.try_clone().map_err(ConnectError::Tcp)?;
    let wire = Wire::new(socket, tls_session(config)?);
    let ws = handshake(config, wire, &reader, deadline)?;
    reader
        .set_read_timeout(Some(config.dead_after))
        .map_err(ConnectError::Tcp)?;
    Ok(Session {
        link: Arc::new(Link::new(id, ws, shutter)),
        reader,
        config_dead_after: config.dead_after,
        hard_frame_limit: config.hard_frame_limit(),
    })
}

fn tcp_connect(endpoint: &Endpoint, timeout: Duration) -> Result<TcpStream, ConnectError> {
    let addrs: Vec<SocketAddr> = endpoint
        .authority()
        .to_socket_addrs()
        .map_err(|e| ConnectError::Resolve(e.to_string()))?
        .collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address for the hub's host");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(socket) => return Ok(socket),
            Err(e) => last = e,
        }
    }
    Err(ConnectError::Tcp(last))
}

fn tls_session(config: &SessionConfig) -> Result<Option<rustls::ClientConnection>, ConnectError> {
    let Some(tls_config) = &config.tls else {
        return Ok(None);
    };
    let name = rustls::pki_types::ServerName::try_from(config.endpoint.host.clone())
        .map_err(|_| ConnectError::Tls(format!("TLS: bad host name {}", config.endpoint.host)))?;
    rustls::ClientConnection::new(Arc::clone(tls_config), name)
        .map(Some)
        .map_err(|e| ConnectError::Tls(tls::explain(&e)))
}

/// Drives the TLS and WebSocket handshakes by feeding the wire whatever
/// the socket delivers until tungstenite is done.
fn handshake(
    config: &SessionConfig,
    wire: Wire,
    reader: &TcpStream,
    deadline: Instant,
) -> Result<WebSocket<Wire>, ConnectError> {
    let request = config
        .endpoint
        .url_with_token(&config.token)
        .into_client_request()
        .map_err(|_| ConnectError::Handshake("the hub URL is not a valid request URI".into()))?;
    let mut attempt =
        tungstenite::client::client_with_config(request, wire, Some(config.ws_config()));
    loop {
        let mut mid = match attempt {
            Ok((ws, _response)) => return Ok(ws),
            Err(HandshakeError::Failure(e)) => return Err(handshake_error(e)),
            Err(HandshakeError::Interrupted(mid)) => mid,
        };
        let bytes = read_before(reader, deadline, config.handshake_timeout)?;
        mid.get_mut().get_mut().feed(&bytes);
        attempt = mid.handshake();
    }
}

/// One read from the socket that gives up at `deadline`; an empty result
/// means the hub closed the connection.
fn read_before(
    reader: &TcpStream,
    deadline: Instant,
    limit: Duration,
) -> Result<Vec<u8>, ConnectError> {
    let mut buf = [0u8; 8192];
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(ConnectError::Timeout(limit));
        }
        reader
            .set_read_timeout(Some(remaining))
            .map_err(ConnectError::Tcp)?;
        match (&*reader).read(&mut buf) {
            Ok(n) => return Ok(buf[..n].to_vec()),
            Err(e) if is_timeout(&e) => return Err(ConnectError::Timeout(limit)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ConnectError::Tcp(e)),
        }
    }
}

fn handshake_error(error: WsError) -> ConnectError {
    const CLOSED: &str = "the hub closed the connection during the handshake";
    match error {
        WsError::Protocol(ProtocolError::HandshakeIncomplete) => {
            ConnectError::Handshake(CLOSED.into())
        }
        WsError::Http(response) => match response.status().as_u16() {
            status @ (401 | 403) => ConnectError::TokenRejected(status),
            status => ConnectError::Http(status),
        },
        WsError::Io(e) => match tls_cause(&e) {
            Some(tls_error) => ConnectError::Tls(tls::explain(tls_error)),
            None if e.kind() == io::ErrorKind::UnexpectedEof => {
                ConnectError::Handshake(CLOSED.into())
            }
            None => ConnectError::Tcp(e),
        },
        WsError::Tls(e) => ConnectError::Tls(e.to_string()),
        // Other tungstenite errors describe the HTTP exchange; they do not
        // include the request URI.
        other => ConnectError::Handshake(other.to_string()),
    }
}

fn tls_cause(error: &io::Error) -> Option<&rustls::Error> {
    error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

impl Session {
    /// Ends the connection the polite way: a Close frame (1000), then TCP.
    pub fn close(self) {
        let _ = self.link.close(CloseCode::Normal, "check done");
        self.link.shut();
    }

    /// Reads and handles the hub's frames until the connection ends.
    pub fn serve(mut self, requests: &dyn Requests) -> SessionEnd {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let (messages, end) = self.drain();
            for message in messages {
                handle(message, requests);
            }
            if let Some(end) = end {
                return end;
            }
            match self.reader.read(&mut buf) {
                Ok(n) => self.link.lock().get_mut().feed(&buf[..n]),
                Err(e) if is_timeout(&e) => return SessionEnd::Dead(self.config_dead_after),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return SessionEnd::Broken(e.to_string()),
            }
        }
    }

    /// Processes every complete frame already received, under the lock;
    /// the messages are handled after the lock is released.
    fn drain(&mut self) -> (Vec<Message>, Option<SessionEnd>) {
        let mut ws = self.link.lock();
        let mut messages = Vec::new();
        let end = loop {
            match ws.read() {
                Ok(Message::Close(frame)) => {
                    let why = frame
                        .map(|f| format!("code {}{}", u16::from(f.code), reason_suffix(&f.reason)))
                        .unwrap_or_else(|| "no code".into());
                    break Some(SessionEnd::ClosedByHub(why));
                }
                Ok(message) => messages.push(message),
                Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => break None,
                Err(WsError::Capacity(CapacityError::MessageTooLong { size, max_size }))
                    if max_size < self.hard_frame_limit =>
                {
                    log::warn!(
                        "ignored a hub frame of {size} bytes (max_frame_bytes is {max_size})"
                    );
                }
                Err(WsError::Capacity(e)) => {
                    break Some(SessionEnd::Broken(format!(
                        "hub frame too large to read: {e}"
                    )))
                }
                Err(WsError::Utf8(_)) => log::warn!("ignored a hub text frame that is not UTF-8"),
                Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => {
                    break Some(SessionEnd::ClosedByHub("closed".into()))
                }
                Err(WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake)) => {
                    break Some(SessionEnd::ClosedByHub(
                        "TCP closed without a Close frame".into(),
                    ))
                }
                Err(WsError::Io(e)) => break Some(io_end(&e)),
                Err(e) => break Some(SessionEnd::Broken(e.to_string())),
            }
        };
        // Sends the pongs (and the Close reply) tungstenite queued while reading.
        let _ = ws.flush();
        (messages, end)
    }
}

fn io_end(error: &io::Error) -> SessionEnd {
    match tls_cause(error) {
        Some(tls_error) => SessionEnd::Broken(tls::explain(tls_error)),
        None if error.kind() == io::ErrorKind::UnexpectedEof => {
            SessionEnd::ClosedByHub("TCP closed without a Close frame".into())
        }
        None => SessionEnd::Broken(error.to_string()),
    }
}

fn reason_suffix(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(": {reason}")
    }
}

/// Acts on one message from the hub (outside the lock).
fn handle(message: Message, requests: &dyn Requests) {
    if let Message::Text(text) = &message {
        log::debug!("hub frame: {}", shorten(text.as_str(), 300));
    }
    match message {
        Message::Text(text) => match parse_incoming(text.as_str()) {
            Incoming::Buyer(request) => {
                log::info!(
                    "request {} received ({} chars)",
                    request.message_id.as_json(),
                    request.prompt.chars().count()
                );
                requests.run(request);
            }
            Incoming::Unanswerable { message_id, reason } => {
                log::warn!("request {} cannot be run: {reason}", message_id.as_json());
                requests.refuse(message_id, reason);
            }
            Incoming::Other { kind } => log::debug!("hub frame of type {kind:?} ignored"),
            Incoming::Malformed { reason } => log::warn!("ignored a hub frame: {reason}"),
        },
        Message::Binary(bytes) => {
            log::warn!("ignored a binary hub frame of {} bytes", bytes.len())
        }
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) | Message::Close(_) => {}
    }
}

/// At most `max` characters of `text`, for a log line.
fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}... ({} bytes)", &text[..cut], text.len()),
        None => text.to_string(),
    }
}
