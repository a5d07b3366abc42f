//! Marketplace hub emulator: a real WebSocket server on 127.0.0.1 for
//! integration tests, speaking the hub side of the wire contract (hub
//! protocol v1: `/auth-proxy?token=...`, JSON text frames, pings).
//!
//! What it owns: one listener on an ephemeral port, an accept thread, and one
//! thread per TCP connection. All of them share a single [`State`] behind a
//! mutex, paired with a condvar that is notified on every change, so tests
//! wait for events (`wait_connected`, `wait_for`, ...) with bounded timeouts
//! instead of sleeping.
//!
//! How data flows:
//! - Handshake: the connection thread runs the TLS (for `wss://`) and
//!   WebSocket handshakes. The request callback records the request URI and
//!   answers 401 unless the path is `/auth-proxy` and the percent-decoded
//!   `token` query parameter equals the currently accepted token (404 for any
//!   other path). A successful handshake registers the connection with an
//!   index (0 for the first) and counts it in `connections()`.
//! - Client to hub: the connection thread reads with a short socket timeout;
//!   text frames are appended to `received()` (arrival time, connection
//!   index, text, parsed JSON), pings, pongs and close codes are counted. Pings
//!   are answered with pongs by tungstenite.
//! - Hub to client: `send_*`, `close_connection` queue a command in the
//!   outbox of the latest live connection; its thread drains the outbox
//!   between reads. `drop_connection` shuts the socket down directly.
//! - `stall(true)` parks every connection thread (no reads, no writes, sockets
//!   held open) until `stall(false)`; queued commands wait in the outbox.
//! - `deaf(true)` stops every connection thread reading (so the client's
//!   writes back up) while it still sends what is queued, a Close included;
//!   a connection closed while deaf stays open, unread, until `deaf(false)`.
//! - Drop sets a stop flag, shuts every socket down, wakes the accept thread by
//!   connecting to it, and waits (bounded) until all threads have ended.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use rustls::{ServerConfig, ServerConnection, StreamOwned};
use serde_json::Value;
use tungstenite::handshake::server::{Callback, ErrorResponse, Request, Response};
use tungstenite::http::StatusCode;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tungstenite::{HandshakeError, Message, WebSocket};

use super::tls::TestCa;

/// The only path the hub serves.
const PATH: &str = "/auth-proxy";
/// Socket read timeout: how often a connection thread looks at its outbox.
const POLL: Duration = Duration::from_millis(5);
/// Longest time a client may take to finish the TLS + WebSocket handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// After `close_connection`, how long to wait for the client's Close reply.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// How long `stall(true)` waits for the connection threads to park.
const STALL_TIMEOUT: Duration = Duration::from_secs(1);
/// How long `Drop` waits for the threads to end.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(3);
/// Largest message (and frame) the hub accepts from the client.
const MAX_MESSAGE: usize = 64 << 20;

/// One text frame received from the client.
#[derive(Debug, Clone)]
pub struct Received {
    /// When the frame was parsed by the hub.
    pub at: Instant,
    /// Index of the connection it came on (0 for the first successful handshake).
    pub conn: usize,
    /// The frame's text.
    pub text: String,
    /// The text parsed as JSON, or `Value::Null` if it is not JSON.
    pub json: Value,
}

/// A running hub emulator; stops its threads when dropped.
pub struct Hub {
    shared: Arc<Shared>,
    addr: SocketAddr,
    tls: bool,
}

impl Hub {
    /// Starts a plain `ws://` hub accepting `token`.
    pub fn start(token: &str) -> Hub {
        Hub::launch(token, None)
    }

    /// Starts a `wss://` hub accepting `token`, presenting a leaf signed by `ca`.
    pub fn start_tls(token: &str, ca: &TestCa) -> Hub {
        Hub::launch(token, Some(ca.server_config()))
    }

    fn launch(token: &str, tls: Option<Arc<ServerConfig>>) -> Hub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind hub listener");
        let addr = listener.local_addr().expect("hub listener address");
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                token: token.to_owned(),
                ..State::default()
            }),
            changed: Condvar::new(),
        });
        let hub = Hub {
            shared: Arc::clone(&shared),
            addr,
            tls: tls.is_some(),
        };
        shared.lock().threads += 1;
        let running = Running(Arc::clone(&shared));
        thread::Builder::new()
            .name("hub-accept".into())
            .spawn(move || accept_loop(running, listener, tls))
            .expect("spawn hub accept thread");
        hub
    }

    /// `ws://127.0.0.1:PORT/auth-proxy` or `wss://localhost:PORT/auth-proxy`, without token.
    pub fn url(&self) -> String {
        if self.tls {
            format!("wss://localhost:{}{PATH}", self.port())
        } else {
            format!("ws://127.0.0.1:{}{PATH}", self.port())
        }
    }

    /// The port the hub listens on (127.0.0.1 only).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Accepts `token` (and only it) for handshakes from now on.
    pub fn set_token(&self, token: &str) {
        self.shared.update(|st| st.token = token.to_owned());
    }

    /// True once `n` handshakes have succeeded in total, false after `timeout`.
    pub fn wait_connected(&self, n: usize, timeout: Duration) -> bool {
        self.shared
            .wait_until(timeout, |st| st.conns.len() >= n)
            .conns
            .len()
            >= n
    }

    /// Number of successful handshakes so far.
    pub fn connections(&self) -> usize {
        self.shared.lock().conns.len()
    }

    /// Number of handshakes answered 401 (wrong or missing token).
    pub fn rejected(&self) -> usize {
        self.shared.lock().rejected
    }

    /// True once `n` handshakes have been answered 401 in total, false after `timeout`.
    pub fn wait_rejected(&self, n: usize, timeout: Duration) -> bool {
        self.shared
            .wait_until(timeout, |st| st.rejected >= n)
            .rejected
            >= n
    }

    /// Sends a text frame on the latest live connection.
    ///
    /// Panics if there is none (wait with `wait_connected` first).
    pub fn send_text(&self, text: &str) {
        self.enqueue(Command::Send(Message::text(text)));
    }

    /// Sends `v` serialized as one text frame.
    pub fn send_json(&self, v: &Value) {
        self.send_text(&v.to_string());
    }

    /// Sends a binary frame.
    pub fn send_binary(&self, bytes: &[u8]) {
        self.enqueue(Command::Send(Message::binary(bytes.to_vec())));
    }

    /// Sends a ping; the client's pong shows up in `pongs()`.
    pub fn send_ping(&self, payload: &[u8]) {
        self.enqueue(Command::Send(Message::Ping(payload.to_vec().into())));
    }

    /// Writes already framed bytes (see [`frame_text`]) straight onto the socket.
    pub fn send_raw(&self, bytes: &[u8]) {
        self.enqueue(Command::Raw(bytes.to_vec()));
    }

    /// Every text frame from the client so far, in arrival order, all connections.
    pub fn received(&self) -> Vec<Received> {
        self.shared.lock().received.clone()
    }

    /// Takes every text frame received so far, leaving none (for long runs
    /// such as the soak, where keeping all of them would slow every wait).
    pub fn take_received(&self) -> Vec<Received> {
        std::mem::take(&mut self.shared.lock().received)
    }

    /// Waits until `pred` holds for the received frames or `timeout` passes,
    /// and returns the frames received by then either way.
    pub fn wait_for<F: Fn(&[Received]) -> bool>(
        &self,
        timeout: Duration,
        pred: F,
    ) -> Vec<Received> {
        self.shared
            .wait_until(timeout, |st| pred(&st.received))
            .received
            .clone()
    }

    /// Pongs received from the client.
    pub fn pongs(&self) -> usize {
        self.shared.lock().pongs
    }

    /// Pings received from the client.
    pub fn pings(&self) -> usize {
        self.shared.lock().pings
    }

    /// True once `n` pings have come from the client in total, false after `timeout`.
    pub fn wait_pings(&self, n: usize, timeout: Duration) -> bool {
        self.shared.wait_until(timeout, |st| st.pings >= n).pings >= n
    }

    /// True once `n` pongs have come from the client in total, false after `timeout`.
    pub fn wait_pongs(&self, n: usize, timeout: Duration) -> bool {
        self.shared.wait_until(timeout, |st| st.pongs >= n).pongs >= n
    }

    /// Binary frames received from the client (their content is not kept).
    pub fn binaries(&self) -> usize {
        self.shared.lock().binaries
    }

    /// Connections whose socket is still open on the hub side (handshake
    /// done; not ended, dropped or closed by either side yet).
    pub fn open_connections(&self) -> usize {
        let st = self.shared.lock();
        st.conns.iter().filter(|c| c.socket.is_some()).count()
    }

    /// Closes the latest live connection with a Close frame (1000), waits up to
    /// a second for the client's reply, then drops the TCP connection.
    ///
    /// Returns at once; the connection stops being live immediately.
    pub fn close_connection(&self) {
        let closed = self.shared.update(|st| {
            st.latest_live()
                .map(|conn| {
                    conn.outbox.push_back(Command::Close);
                    conn.live = false;
                })
                .is_some()
        });
        assert!(closed, "hub: no live connection to close");
    }

    /// Shuts the latest live connection's TCP socket down at once, without a Close frame.
    pub fn drop_connection(&self) {
        let dropped = self.shared.update(|st| {
            st.latest_live()
                .map(|conn| {
                    conn.live = false;
                    conn.shut_down();
                })
                .is_some()
        });
        assert!(dropped, "hub: no live connection to drop");
    }

    /// While `on`, connection threads neither read nor write: the client's
    /// pings go unanswered and nothing is recorded, but sockets stay open.
    ///
    /// `stall(true)` returns once every connection thread has parked (waiting
    /// at most a second), so nothing is recorded after it returns.
    pub fn stall(&self, on: bool) {
        self.shared.update(|st| st.stalled = on);
        if on {
            let all_parked = |st: &State| st.conns.iter().all(|c| !c.running || c.parked);
            let st = self.shared.wait_until(STALL_TIMEOUT, all_parked);
            assert!(
                all_parked(&st),
                "hub: connection threads did not stall in time"
            );
        }
    }

    /// While `on`, connection threads read nothing (the client's writes
    /// back up once the socket buffers are full) but still send what
    /// `send_*` and `close_connection` queue; a closed connection is kept
    /// open meanwhile. Nothing is recorded until `deaf(false)`.
    ///
    /// `deaf(true)` returns once every connection thread has seen it
    /// (waiting at most a second), so nothing is read after it returns.
    pub fn deaf(&self, on: bool) {
        self.shared.update(|st| st.deaf = on);
        if on {
            let all_deaf = |st: &State| st.conns.iter().all(|c| !c.running || c.deaf);
            let st = self.shared.wait_until(STALL_TIMEOUT, all_deaf);
            assert!(
                all_deaf(&st),
                "hub: connection threads did not go deaf in time"
            );
        }
    }

    /// Connections accepted from now on get a receive buffer of `bytes`
    /// (which the kernel doubles) and no autotuning, so that a deaf hub
    /// backs up the client's writes after a few MiB rather than after tens.
    pub fn small_buffers(&self, bytes: usize) {
        self.shared.update(|st| st.small_buffers = Some(bytes));
    }

    /// Close codes received from the client (`None` for a Close frame without code).
    pub fn close_frames(&self) -> Vec<Option<u16>> {
        self.shared.lock().close_frames.clone()
    }

    /// True once `n` Close frames have come from the client in total, false after `timeout`.
    pub fn wait_close_frames(&self, n: usize, timeout: Duration) -> bool {
        let st = self
            .shared
            .wait_until(timeout, |st| st.close_frames.len() >= n);
        st.close_frames.len() >= n
    }

    /// Request URIs (path and query, e.g. `/auth-proxy?token=a%20b`) of every
    /// handshake attempt, accepted or not, in order.
    pub fn request_uris(&self) -> Vec<String> {
        self.shared.lock().request_uris.clone()
    }

    fn enqueue(&self, command: Command) {
        let queued = self.shared.update(|st| {
            st.latest_live()
                .map(|conn| conn.outbox.push_back(command))
                .is_some()
        });
        assert!(
            queued,
            "hub: no live connection to send on (call wait_connected first)"
        );
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.shared.update(|st| {
            st.stopping = true;
            st.conns.iter_mut().for_each(Conn::shut_down);
        });
        // Unblock `accept`; the accept thread sees `stopping` and ends.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        drop(
            self.shared
                .wait_until(SHUTDOWN_TIMEOUT, |st| st.threads == 0),
        );
    }
}

/// Builds an unmasked, final server text frame around `payload`, choosing the
/// 7-bit, 16-bit or 64-bit length encoding by size. For [`Hub::send_raw`].
pub fn frame_text(payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 10);
    frame.push(0x81); // FIN + opcode 1 (text)
    match payload.len() {
        len @ 0..=125 => frame.push(len as u8),
        len if len <= usize::from(u16::MAX) => {
            frame.push(126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            frame.push(127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(payload);
    frame
}

/// State shared by the `Hub` handle and its threads.
struct Shared {
    state: Mutex<State>,
    /// Notified after every change to `state`.
    changed: Condvar,
}

#[derive(Default)]
struct State {
    token: String,
    stopping: bool,
    stalled: bool,
    deaf: bool,
    small_buffers: Option<usize>,
    /// Accept and connection threads still running.
    threads: usize,
    /// Every connection whose handshake succeeded, by index.
    conns: Vec<Conn>,
    rejected: usize,
    request_uris: Vec<String>,
    received: Vec<Received>,
    binaries: usize,
    pings: usize,
    pongs: usize,
    close_frames: Vec<Option<u16>>,
}

struct Conn {
    /// A clone of the TCP socket, to shut it down from other threads;
    /// `None` once shut down.
    socket: Option<TcpStream>,
    /// Commands for the connection thread, in order.
    outbox: VecDeque<Command>,
    /// Takes new commands: not closed, dropped or closed by the client.
    live: bool,
    /// Its thread is still in the message loop.
    running: bool,
    /// Its thread is parked by `stall`.
    parked: bool,
    /// Its thread has seen `deaf(true)` and reads no more.
    deaf: bool,
}

enum Command {
    Send(Message),
    Raw(Vec<u8>),
    Close,
}

impl State {
    fn latest_live(&mut self) -> Option<&mut Conn> {
        self.conns.iter_mut().rev().find(|c| c.live)
    }
}

impl Conn {
    fn shut_down(&mut self) {
        if let Some(socket) = self.socket.take() {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not make the hub unusable (or Drop panic).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies `f` to the state and wakes every waiter.
    fn update<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let result = f(&mut self.lock());
        self.changed.notify_all();
        result
    }

    /// Waits until `done` holds or `timeout` passes; returns the locked state.
    fn wait_until(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&State) -> bool,
    ) -> MutexGuard<'_, State> {
        self.changed
            .wait_timeout_while(self.lock(), timeout, |st| !done(st))
            .unwrap_or_else(PoisonError::into_inner)
            .0
    }

    /// Records the handshake's URI and checks its path and token; the error
    /// is the HTTP status to refuse it with.
    fn check_request(&self, request: &Request) -> Result<(), StatusCode> {
        let uri = request.uri();
        self.update(|st| {
            st.request_uris.push(uri.to_string());
            if uri.path() != PATH {
                return Err(StatusCode::NOT_FOUND);
            }
            let token = uri.query().and_then(|q| query_param(q, "token"));
            if token.as_deref() == Some(st.token.as_str()) {
                Ok(())
            } else {
                st.rejected += 1;
                Err(StatusCode::UNAUTHORIZED)
            }
        })
    }

    /// Adds a connection after a successful handshake; `None` if stopping.
    fn register(&self, socket: TcpStream) -> Option<usize> {
        self.update(|st| {
            if st.stopping {
                return None;
            }
            st.conns.push(Conn {
                socket: Some(socket),
                outbox: VecDeque::new(),
                live: true,
                running: true,
                parked: false,
                deaf: false,
            });
            Some(st.conns.len() - 1)
        })
    }

    fn unregister(&self, id: usize) {
        self.update(|st| {
            let conn = &mut st.conns[id];
            conn.live = false;
            conn.running = false;
            conn.parked = false;
            conn.shut_down();
        });
    }

    /// Takes connection `id`'s queued commands, first parking while stalled,
    /// and waiting for one while deaf; also says whether the hub is deaf.
    /// `None` when the hub is stopping.
    fn next_commands(&self, id: usize) -> Option<(VecDeque<Command>, bool)> {
        let mut st = self.lock();
        loop {
            if st.stopping {
                return None;
            }
            if st.conns[id].deaf != st.deaf {
                st.conns[id].deaf = st.deaf;
                self.changed.notify_all();
            }
            let waiting = st.deaf && st.conns[id].outbox.is_empty();
            if !st.stalled && !waiting {
                st.conns[id].parked = false;
                let deaf = st.deaf;
                return Some((std::mem::take(&mut st.conns[id].outbox), deaf));
            }
            if !st.stalled {
                // Deaf with nothing to send: woken by a command, `deaf(false)`
                // or Drop; the timeout is only a safety net.
                st = self
                    .changed
                    .wait_timeout(st, Duration::from_millis(100))
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
                continue;
            }
            if !st.conns[id].parked {
                st.conns[id].parked = true;
                self.changed.notify_all();
            }
            // Woken by `stall(false)` or Drop; the timeout is only a safety net.
            st = self
                .changed
                .wait_timeout(st, Duration::from_millis(100))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn record(&self, id: usize, at: Instant, message: Message) {
        self.update(|st| match message {
            Message::Text(text) => {
                let text = text.as_str().to_owned();
                let json = serde_json::from_str(&text).unwrap_or(Value::Null);
                st.received.push(Received {
                    at,
                    conn: id,
                    text,
                    json,
                });
            }
            Message::Binary(_) => st.binaries += 1,
            Message::Ping(_) => st.pings += 1,
            Message::Pong(_) => st.pongs += 1,
            Message::Close(frame) => {
                st.close_frames.push(frame.map(|f| f.code.into()));
                st.conns[id].live = false;
            }
            Message::Frame(_) => {}
        });
    }
}

/// Decrements the running-thread count when its thread ends, however it ends.
struct Running(Arc<Shared>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.update(|st| st.threads -= 1);
    }
}

fn accept_loop(running: Running, listener: TcpListener, tls: Option<Arc<ServerConfig>>) {
    let shared = &running.0;
    for tcp in listener.incoming() {
        let mut st = shared.lock();
        if st.stopping {
            break;
        }
        let Ok(tcp) = tcp else { continue };
        if let Some(bytes) = st.small_buffers {
            set_receive_buffer(&tcp, bytes.try_into().unwrap_or(libc::c_int::MAX));
        }
        st.threads += 1;
        drop(st);
        let conn_running = Running(Arc::clone(shared));
        let tls = tls.clone();
        thread::Builder::new()
            .name("hub-conn".into())
            .spawn(move || serve(conn_running, tcp, tls))
            .expect("spawn hub connection thread");
    }
}

/// Sets SO_RCVBUF, which also turns the kernel's autotuning off.
fn set_receive_buffer(tcp: &TcpStream, bytes: libc::c_int) {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is the stream's own; the value is a c_int of
    // the size given.
    unsafe {
        libc::setsockopt(
            tcp.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&bytes as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// One connection: handshake, then the message loop until it ends.
fn serve(running: Running, tcp: TcpStream, tls: Option<Arc<ServerConfig>>) {
    let shared = &running.0;
    let (Ok(control), Ok(()), Ok(())) = (
        tcp.try_clone(),
        tcp.set_read_timeout(Some(POLL)),
        tcp.set_nodelay(true),
    ) else {
        return;
    };
    let stream = match tls {
        Some(config) => match ServerConnection::new(config) {
            Ok(tls) => Stream::Tls(Box::new(StreamOwned::new(tls, tcp))),
            Err(_) => return,
        },
        None => Stream::Plain(tcp),
    };
    let Some(ws) = handshake(shared, stream) else {
        let _ = control.shutdown(Shutdown::Both);
        return;
    };
    let Some(id) = shared.register(control) else {
        return;
    };
    message_loop(shared, id, ws);
    shared.unregister(id);
}

fn handshake(shared: &Shared, stream: Stream) -> Option<WebSocket<Stream>> {
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    let mut attempt = tungstenite::accept_hdr_with_config(stream, Gate(shared), Some(config));
    loop {
        match attempt {
            Ok(ws) => return Some(ws),
            // The socket read timed out mid-handshake: keep going unless too late.
            Err(HandshakeError::Interrupted(mid))
                if Instant::now() < deadline && !shared.lock().stopping =>
            {
                attempt = mid.handshake();
            }
            Err(_) => return None,
        }
    }
}

/// The handshake callback: lets a request through or refuses it with a status.
struct Gate<'a>(&'a Shared);

impl Callback for Gate<'_> {
    fn on_request(self, request: &Request, response: Response) -> Result<Response, ErrorResponse> {
        match self.0.check_request(request) {
            Ok(()) => Ok(response),
            Err(status) => {
                let mut refusal = ErrorResponse::new(status.canonical_reason().map(str::to_owned));
                *refusal.status_mut() = status;
                Err(refusal)
            }
        }
    }
}

fn message_loop(shared: &Shared, id: usize, mut ws: WebSocket<Stream>) {
    let mut close_deadline = None;
    while let Some((commands, deaf)) = shared.next_commands(id) {
        for command in commands {
            if matches!(command, Command::Close) {
                close_deadline.get_or_insert(Instant::now() + CLOSE_GRACE);
            }
            if execute(&mut ws, command).is_err() {
                return;
            }
        }
        if deaf {
            continue;
        }
        if close_deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return;
        }
        match ws.read() {
            Ok(message) => {
                let is_ping = matches!(message, Message::Ping(_));
                shared.record(id, Instant::now(), message);
                // tungstenite has queued the pong; send it now.
                if is_ping && ws.flush().is_err_and(|e| !is_timeout(&e)) {
                    return;
                }
            }
            Err(e) if is_timeout(&e) => {}
            Err(tungstenite::Error::ConnectionClosed) => {
                // Close handshake complete: end TLS cleanly too.
                ws.get_mut().close_notify();
                return;
            }
            Err(_) => return,
        }
    }
}

fn execute(ws: &mut WebSocket<Stream>, command: Command) -> tungstenite::Result<()> {
    match command {
        Command::Send(message) => ws.send(message),
        Command::Raw(bytes) => {
            ws.flush()?;
            let stream = ws.get_mut();
            stream.write_all(&bytes)?;
            stream.flush()?;
            Ok(())
        }
        Command::Close => ws.close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        })),
    }
}

fn is_timeout(error: &tungstenite::Error) -> bool {
    matches!(error, tungstenite::Error::Io(e)
        if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut))
}

/// The first value of `name` in a query string, decoded the way
/// `application/x-www-form-urlencoded` parsers (as in typical hubs) do:
/// `%XX` escapes and `+` as space. So a client that leaves `+` unencoded in a
/// token is caught, while `%20` and `+` both work for spaces.
fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(key) == name).then(|| percent_decode(value))
    })
}

/// Decodes `%XX` escapes and `+`; malformed escapes are kept as they are.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match bytes.get(i + 1..i + 3).and_then(hex_byte) {
                Some(byte) => {
                    out.push(byte);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_byte(pair: &[u8]) -> Option<u8> {
    let digit = |b: u8| char::from(b).to_digit(16);
    Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8)
}

/// The server side of a connection, with or without TLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl Stream {
    /// Sends a TLS close_notify so the client sees a clean end; no-op for plain TCP.
    fn close_notify(&mut self) {
        if let Stream::Tls(tls) = self {
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}
