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
//!
//! What goes wrong is typed: [`ConnectError`] until the connection is up,
//! [`SessionEnd`] after; the former's `text` is what `--check` shows the
//! owner, in the owner's language (every `Display` here is English, for
//! the log). Each keeps the io, rustls or tungstenite error behind it as
//! its `source()`, and none can show the handshake URL, which carries the
//! token.

use std::fmt;
use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::{InvalidDnsNameError, ServerName};
use tungstenite::client::IntoClientRequest;
use tungstenite::error::{CapacityError, ProtocolError, UrlError};
use tungstenite::handshake::client::Request;
use tungstenite::handshake::HandshakeError;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tungstenite::{Error as WsError, Message, WebSocket};

use super::endpoint::Endpoint;
use super::link::Link;
use super::proxy::{Proxy, ProxyError};
use super::wire::{self, Socket, Wire};
use crate::config::Settings;
use crate::deadline;
use crate::exit::Fatal;
use crate::platform;
use crate::protocol::{buyer_message_id, parse_incoming, BuyerMessage, Incoming, MessageId};
use crate::secret::Token;
use crate::text::{self, errors, Text};
use crate::tls;

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
    /// with `reason` as an error, in the buyer's language; `kind` names
    /// why for the ledger (`too_large`, `bad_request`).
    fn refuse(&self, message_id: MessageId, reason: Text, kind: &'static str);
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
    /// Whether a buyer's text may go to the log (`log_prompts`).
    pub log_prompts: bool,
}

impl SessionConfig {
    /// What every connection to `endpoint` needs, from the owner's
    /// settings; fails on a CA file that cannot be used.
    pub fn new(
        settings: &Settings,
        endpoint: Endpoint,
        token: Token,
        ca_file: Option<&Path>,
    ) -> Result<SessionConfig, Fatal> {
        let tls = endpoint.tls.then(|| tls::hub_config(ca_file)).transpose()?;
        Ok(SessionConfig {
            proxy: Proxy::from_env(&endpoint),
            endpoint,
            token,
            tls,
            handshake_timeout: settings.handshake_timeout,
            dead_after: settings.dead_after,
            max_frame_bytes: settings.max_frame_bytes,
            log_prompts: settings.log_prompts,
        })
    }

    fn ws_config(&self) -> WebSocketConfig {
        // Frames over max_frame_bytes are read whole (up to the hard
        // limit) so that the buyer behind one can be answered.
        let hard_limit = Some(self.max_frame_bytes.saturating_mul(OVERSIZED_FRAME_FACTOR));
        // Hub frames are small; tungstenite's 128 KiB read chunk would be
        // memory a small box never uses. Every frame is flushed as it is
        // written, so no write buffer is kept either.
        WebSocketConfig::default()
            .max_message_size(hard_limit)
            .max_frame_size(hard_limit)
            .read_buffer_size(16 * 1024)
            .write_buffer_size(0)
    }
}

/// Why a connection could not be made. Never contains the token or the URL
/// that carries it. `text` is the owner's sentence and already includes
/// the cause's text (`Display` is the same in English); `source()` keeps
/// the typed cause, as ureq's errors do. tungstenite's errors are passed
/// through [`without_uri`] first: the request URI carries the token.
#[derive(Debug)]
pub enum ConnectError {
    /// The host name did not resolve.
    Resolve(io::Error),
    /// No TCP connection to any address.
    Tcp(io::Error),
    /// The HTTP proxy could not be reached or refused the tunnel.
    Proxy(ProxyError),
    /// The handshake did not finish within `handshake_timeout`.
    Timeout(Duration),
    /// The hub's host is neither a DNS name nor an IP address that TLS
    /// can check a certificate against.
    BadHostName {
        host: String,
        source: InvalidDnsNameError,
    },
    /// TLS failed (certificate, protocol); the text says what to do.
    Tls(rustls::Error),
    /// HTTP 401/403: the hub does not accept this token.
    TokenRejected(u16),
    /// Another HTTP status instead of the WebSocket upgrade.
    Http(u16),
    /// The hub closed the connection before it answered the upgrade.
    ClosedEarly(WsError),
    /// tungstenite could not make a request out of the hub URL.
    BadUri(WsError),
    /// Any other error in the HTTP exchange of the upgrade.
    Handshake(WsError),
}

crate::text::english_display!(ConnectError);

impl ConnectError {
    /// The owner's sentence, with the cause's own text (OS, rustls,
    /// tungstenite) as it is.
    pub fn text(&self) -> Text {
        match self {
            ConnectError::Resolve(e) => errors::hub_cannot_resolve(e),
            ConnectError::Tcp(e) => errors::hub_cannot_connect(e),
            ConnectError::Proxy(e) => errors::hub_through_proxy(e.text()),
            ConnectError::Timeout(d) => {
                errors::hub_handshake_timeout(format!("{:.1}", d.as_secs_f64()))
            }
            ConnectError::BadHostName { host, .. } => errors::hub_bad_host_name(host),
            ConnectError::Tls(e) => tls::explain(e),
            ConnectError::TokenRejected(status) => errors::hub_token_rejected(status),
            ConnectError::Http(status) => errors::hub_not_upgraded(status),
            ConnectError::ClosedEarly(_) => {
                errors::hub_handshake_failed(errors::hub_closed_during_handshake())
            }
            ConnectError::BadUri(_) => errors::hub_handshake_failed(errors::hub_bad_request_uri()),
            // These describe the HTTP exchange, never the request URI.
            ConnectError::Handshake(e) => errors::hub_handshake_failed(e),
        }
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConnectError::Resolve(e) | ConnectError::Tcp(e) => Some(e),
            ConnectError::Proxy(e) => Some(e),
            ConnectError::BadHostName { source, .. } => Some(source),
            ConnectError::Tls(e) => Some(e),
            ConnectError::ClosedEarly(e) | ConnectError::BadUri(e) | ConnectError::Handshake(e) => {
                Some(e)
            }
            ConnectError::Timeout(_) | ConnectError::TokenRejected(_) | ConnectError::Http(_) => {
                None
            }
        }
    }
}

/// tungstenite's one error that quotes the request URI (its own `connect`
/// makes it; this client's path does not), with the URI left out, so that
/// no text, Debug output or source chain can show the token.
fn without_uri(error: WsError) -> WsError {
    match error {
        WsError::Url(UrlError::UnableToConnect(_)) => {
            WsError::Url(UrlError::UnableToConnect("the hub".into()))
        }
        other => other,
    }
}

/// A connected session: the shared link, the reader's own socket handle,
/// and the settings it was made with.
pub struct Session<'a> {
    pub link: Arc<Link>,
    reader: TcpStream,
    config: &'a SessionConfig,
}

/// How a session ended. `Display` is English, for the log: why a
/// connection ended is never shown but there; TLS errors are turned into
/// advice by [`tls::explain`].
#[derive(Debug)]
pub enum SessionEnd {
    /// The hub sent a Close frame or closed TCP.
    ClosedByHub(String),
    /// This client sent a Close frame (stepping back, shutting down) and
    /// the hub answered it.
    ClosedByClient(String),
    /// Nothing arrived for `dead_after`.
    Dead(Duration),
    /// The socket failed.
    Io(io::Error),
    /// TLS failed (a corrupted record, a bad alert).
    Tls(rustls::Error),
    /// The hub broke the WebSocket protocol.
    WebSocket(WsError),
    /// Over tungstenite's limits: a frame over `OVERSIZED_FRAME_FACTOR` x
    /// `max_frame_bytes`, too big even to read and drop.
    FrameTooLarge(CapacityError),
}

// log only: why a connection ended is never shown but in the log.
impl fmt::Display for SessionEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionEnd::ClosedByHub(why) => write!(f, "the hub closed the connection ({why})"),
            SessionEnd::ClosedByClient(why) => write!(
                f,
                "this client closed the connection (the hub answered: {why})"
            ),
            SessionEnd::Dead(d) => write!(
                f,
                "nothing received from the hub for {:.1} s; the connection is dead",
                d.as_secs_f64()
            ),
            SessionEnd::Io(e) => write!(f, "connection broken: {e}"),
            SessionEnd::Tls(e) => write!(f, "connection broken: {}", tls::explain(e).english()),
            SessionEnd::WebSocket(e) => write!(f, "connection broken: {e}"),
            SessionEnd::FrameTooLarge(e) => {
                write!(f, "connection broken: hub frame too large to read: {e}")
            }
        }
    }
}

impl std::error::Error for SessionEnd {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SessionEnd::Io(e) => Some(e),
            SessionEnd::Tls(e) => Some(e),
            SessionEnd::WebSocket(e) => Some(e),
            SessionEnd::FrameTooLarge(e) => Some(e),
            SessionEnd::ClosedByHub(_) | SessionEnd::ClosedByClient(_) | SessionEnd::Dead(_) => {
                None
            }
        }
    }
}

/// Opens a connection: TCP, then TLS and the WebSocket upgrade, all within
/// `handshake_timeout`.
pub fn connect(config: &SessionConfig, id: u64) -> Result<Session<'_>, ConnectError> {
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
    let wire = Wire::new(Socket::new(socket), tls_session(config)?);
    let mut ws = handshake(config, wire, &reader, deadline)?;
    // From now on the writer waits for room outside the link's lock.
    ws.get_mut().never_wait().map_err(ConnectError::Tcp)?;
    reader
        .set_read_timeout(Some(config.dead_after))
        .map_err(ConnectError::Tcp)?;
    Ok(Session {
        link: Arc::new(Link::new(id, ws, shutter, config.dead_after)),
        reader,
        config,
    })
}

fn tcp_connect(endpoint: &Endpoint, timeout: Duration) -> Result<TcpStream, ConnectError> {
    let addrs = endpoint.authority().to_socket_addrs();
    match wire::connect(addrs.map_err(ConnectError::Resolve)?, timeout) {
        Some(connected) => connected.map_err(ConnectError::Tcp),
        None => Err(ConnectError::Tcp(io::Error::new(
            io::ErrorKind::NotFound,
            "no address for the hub's host",
        ))),
    }
}

fn tls_session(config: &SessionConfig) -> Result<Option<rustls::ClientConnection>, ConnectError> {
    let Some(tls_config) = &config.tls else {
        return Ok(None);
    };
    let host = &config.endpoint.host;
    let name = ServerName::try_from(host.clone()).map_err(|source| ConnectError::BadHostName {
        host: host.clone(),
        source,
    })?;
    rustls::ClientConnection::new(Arc::clone(tls_config), name)
        .map(Some)
        .map_err(ConnectError::Tls)
}

/// Drives the TLS and WebSocket handshakes by feeding the wire whatever
/// the socket delivers until tungstenite is done.
fn handshake(
    config: &SessionConfig,
    wire: Wire,
    reader: &TcpStream,
    deadline: Instant,
) -> Result<WebSocket<Wire>, ConnectError> {
    let request = handshake_request(&config.endpoint, &config.token)?;
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
    mut reader: &TcpStream,
    deadline: Instant,
    limit: Duration,
) -> Result<Vec<u8>, ConnectError> {
    let mut buf = [0u8; 8192];
    match deadline::read_before(&mut reader, &mut buf, deadline) {
        Ok(Some(n)) => Ok(buf[..n].to_vec()),
        Ok(None) => Err(ConnectError::Timeout(limit)),
        Err(e) => Err(ConnectError::Tcp(e)),
    }
}

/// The upgrade request, whose URI carries the token: never log it.
/// (`pub(super)` for `endpoint`'s tests, which look for the token in its
/// errors.)
pub(super) fn handshake_request(
    endpoint: &Endpoint,
    token: &Token,
) -> Result<Request, ConnectError> {
    endpoint
        .url_with_token(token)
        .into_client_request()
        .map_err(|e| ConnectError::BadUri(without_uri(e)))
}

/// Sorts what tungstenite reports when the upgrade fails (`pub(super)`
/// for `endpoint`'s tests too).
pub(super) fn handshake_error(error: WsError) -> ConnectError {
    match error {
        WsError::Protocol(ProtocolError::HandshakeIncomplete) => ConnectError::ClosedEarly(error),
        WsError::Http(response) => match response.status().as_u16() {
            status @ (401 | 403) => ConnectError::TokenRejected(status),
            status => ConnectError::Http(status),
        },
        WsError::Io(e) => match tls::rustls_cause(&e) {
            Some(tls_error) => ConnectError::Tls(tls_error.clone()),
            None if e.kind() == io::ErrorKind::UnexpectedEof => {
                ConnectError::ClosedEarly(WsError::Io(e))
            }
            None => ConnectError::Tcp(e),
        },
        other => ConnectError::Handshake(without_uri(other)),
    }
}

fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

impl Session<'_> {
    /// Ends the connection the polite way: a Close frame (1000), then TCP.
    pub fn close(self) {
        let _ = self.link.close(CloseCode::Normal, "check done");
        self.link.shut();
    }

    /// Reads and handles the hub's frames until the connection ends.
    /// `left_unsent` is called when a reply (a pong, a Close) waits in the
    /// link because the socket is full: the writer sends it when there is
    /// room.
    pub fn serve(mut self, requests: &dyn Requests, left_unsent: &dyn Fn()) -> SessionEnd {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let (messages, end, unsent) = self.drain();
            if unsent {
                left_unsent();
            }
            for message in messages {
                handle(message, requests, self.config);
            }
            if let Some(end) = end {
                return end;
            }
            let read = platform::net::read_within(&self.reader, &mut buf, self.config.dead_after);
            match read {
                Ok(n) => self.link.lock().get_mut().feed(&buf[..n]),
                Err(e) if is_timeout(&e) => return SessionEnd::Dead(self.config.dead_after),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return SessionEnd::Io(e),
            }
        }
    }

    /// Processes every complete frame already received, under the lock;
    /// the messages are handled after the lock is released. Also says
    /// whether replies wait in the link for room in the socket.
    fn drain(&mut self) -> (Vec<Message>, Option<SessionEnd>, bool) {
        let mut ws = self.link.lock();
        let mut messages = Vec::new();
        let end = loop {
            // A Close that comes after ours is the hub's answer to it.
            let ours = !ws.can_write();
            match ws.read() {
                Ok(Message::Close(frame)) => {
                    let why = frame
                        .map(|f| format!("code {}{}", u16::from(f.code), reason_suffix(&f.reason)))
                        .unwrap_or_else(|| "no code".into());
                    break Some(match ours {
                        true => SessionEnd::ClosedByClient(why),
                        false => SessionEnd::ClosedByHub(why),
                    });
                }
                Ok(message) => messages.push(message),
                Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => break None,
                Err(WsError::Capacity(e)) => {
                    // Too large even to read: say so with the code the
                    // protocol has for it (1009), then reconnect.
                    let _ = ws.close(Some(CloseFrame {
                        code: CloseCode::Size,
                        reason: "message too big".into(),
                    }));
                    break Some(SessionEnd::FrameTooLarge(e));
                }
                Err(WsError::Utf8(_)) => log::warn!("ignored a hub text frame that is not UTF-8"),
                Err(e) => break Some(ended(e)),
            }
        };
        // Sends the pongs (and the Close reply) tungstenite queued while
        // reading, as far as the socket takes them now.
        let unsent = matches!(ws.flush(), Err(WsError::Io(e)) if wire::is_full(&e));
        (messages, end, unsent)
    }
}

/// How a WebSocket error ends the session.
fn ended(error: WsError) -> SessionEnd {
    let tcp_closed = || SessionEnd::ClosedByHub("TCP closed without a Close frame".into());
    match error {
        WsError::ConnectionClosed | WsError::AlreadyClosed => {
            SessionEnd::ClosedByHub("closed".into())
        }
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => tcp_closed(),
        WsError::Io(e) => match tls::rustls_cause(&e) {
            Some(tls_error) => SessionEnd::Tls(tls_error.clone()),
            None if e.kind() == io::ErrorKind::UnexpectedEof => tcp_closed(),
            None => SessionEnd::Io(e),
        },
        other => SessionEnd::WebSocket(other),
    }
}

/// The hub's Close reason, made safe for the log line it ends up in.
fn reason_suffix(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(": {}", text::outside(reason))
    }
}

/// Acts on one message from the hub (outside the lock).
fn handle(message: Message, requests: &dyn Requests, config: &SessionConfig) {
    let text = match &message {
        Message::Text(text) => text.as_str(),
        Message::Binary(bytes) => {
            return log::warn!("ignored a binary hub frame of {} bytes", bytes.len());
        }
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) | Message::Close(_) => return,
    };
    // A buyer's text reaches the log only when the owner chose so; the
    // hub's own frames are shown (--debug, test mode) as they come.
    let from_a_buyer = text.contains("\"buyer_message\"");
    match config.log_prompts || !from_a_buyer {
        true => log::debug!("hub frame: {}", text::outside(&shorten(text, 300))),
        false => log::debug!("hub frame: a buyer_message of {} bytes", text.len()),
    }
    if text.len() > config.max_frame_bytes {
        return refuse_oversized(text, requests, config.max_frame_bytes);
    }
    match parse_incoming(text) {
        Incoming::Buyer(request) => {
            log::info!(
                "request {} received ({} chars)",
                request.message_id.shown(),
                request.prompt.chars().count()
            );
            requests.run(request);
        }
        Incoming::Unanswerable { message_id } => {
            let reason = errors::buyer_no_text_content();
            let why = reason.english();
            log::warn!("request {} cannot be run: {why}", message_id.shown());
            requests.refuse(message_id, reason, "bad_request");
        }
        Incoming::Other { kind } => {
            log::debug!("hub frame of type \"{}\" ignored", text::outside(&kind))
        }
        Incoming::Malformed { reason } => log::warn!("ignored a hub frame: {reason}"),
    }
}

/// A frame over `max_frame_bytes`: its buyer, if it names one, is told so
/// (the content is never decoded); anything else is dropped with a warning.
fn refuse_oversized(text: &str, requests: &dyn Requests, max_frame_bytes: usize) {
    let size = text.len();
    match buyer_message_id(text) {
        Some(message_id) => {
            log::warn!(
                "request {} refused: {size} bytes, over max_frame_bytes ({max_frame_bytes})",
                message_id.shown()
            );
            requests.refuse(
                message_id,
                errors::buyer_prompt_too_large(size, max_frame_bytes),
                "too_large",
            );
        }
        None => {
            log::warn!("ignored a hub frame of {size} bytes (max_frame_bytes is {max_frame_bytes})")
        }
    }
}

/// At most `max` characters of `text`, for a log line.
fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}... ({} bytes)", &text[..cut], text.len()),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn handshake_failures_read_in_english() {
        let closed = ConnectError::ClosedEarly(WsError::ConnectionClosed);
        assert_eq!(
            closed.to_string(),
            "handshake failed: the hub closed the connection during the handshake"
        );
        let other = ConnectError::Handshake(WsError::AlreadyClosed);
        let expected = format!("handshake failed: {}", WsError::AlreadyClosed);
        assert_eq!(other.to_string(), expected);
    }

    use super::*;

    #[test]
    fn a_close_reason_is_shown_after_its_code() {
        assert_eq!(reason_suffix("maintenance"), ": maintenance");
        assert_eq!(reason_suffix(""), "");
    }

    #[test]
    fn a_broken_connection_keeps_its_cause_as_the_source() {
        use std::error::Error;
        let refused = io::Error::from(io::ErrorKind::ConnectionReset);
        let broken = SessionEnd::Io(refused);
        let cause = broken.source().and_then(|e| e.downcast_ref::<io::Error>());
        assert!(cause.is_some_and(|e| e.kind() == io::ErrorKind::ConnectionReset));
        assert!(SessionEnd::Dead(Duration::from_secs(75)).source().is_none());
        assert!(SessionEnd::ClosedByHub("1000".into()).source().is_none());
    }

    #[test]
    fn a_tcp_close_without_a_close_frame_is_told_from_a_broken_connection() {
        let eof = ended(WsError::Io(io::ErrorKind::UnexpectedEof.into()));
        assert!(
            matches!(&eof, SessionEnd::ClosedByHub(why) if why.contains("without a Close")),
            "{eof:?}"
        );
        let reset = ended(WsError::Io(io::ErrorKind::ConnectionReset.into()));
        assert!(matches!(&reset, SessionEnd::Io(e) if e.kind() == io::ErrorKind::ConnectionReset));
    }

    #[test]
    fn long_frames_are_shortened_for_the_log() {
        assert_eq!(shorten("abc", 5), "abc");
        assert_eq!(shorten("abcdef", 3), "abc... (6 bytes)");
        assert_eq!(shorten("ééé", 2), "éé... (6 bytes)");
    }
}
