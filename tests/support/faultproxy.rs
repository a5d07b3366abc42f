//! A TCP proxy between the client and the hub emulator that can fail on
//! demand: stall every connection (stop forwarding both ways without
//! closing: a half-open connection), refuse new connections (accept and
//! close at once: a hub that is down), drop them all, or corrupt the next
//! bytes to the client. With
//! [`FaultProxy::start_connect`] it is instead an HTTP CONNECT proxy, as
//! named by `HTTPS_PROXY`, that records the targets it was asked for.
//!
//! One accept thread, and two pump threads per connection that copy bytes
//! with a short read timeout so that they notice a stall or a stop.
#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

#[derive(Default)]
struct Shared {
    /// One flag per open connection; new connections start unstalled.
    stalls: Mutex<Vec<Arc<AtomicBool>>>,
    refusing: AtomicBool,
    stop: AtomicBool,
    accepted: AtomicUsize,
    sockets: Mutex<Vec<TcpStream>>,
    connect_targets: Mutex<Vec<String>>,
    /// Flip a byte in the next chunk that goes to the client.
    corrupt: AtomicBool,
}

pub struct FaultProxy {
    port: u16,
    shared: Arc<Shared>,
}

impl FaultProxy {
    /// Forwards every connection to `target`.
    pub fn start(target: SocketAddr) -> FaultProxy {
        FaultProxy::spawn(Some(target))
    }

    /// An HTTP CONNECT proxy: the target comes from each request.
    pub fn start_connect() -> FaultProxy {
        FaultProxy::spawn(None)
    }

    fn spawn(target: Option<SocketAddr>) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared::default());
        let accepting = Arc::clone(&shared);
        thread::spawn(move || {
            for client in listener.incoming() {
                if accepting.stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                accepting.accepted.fetch_add(1, Ordering::SeqCst);
                if accepting.refusing.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let shared = Arc::clone(&accepting);
                thread::spawn(move || serve(client, target, &shared));
            }
        });
        FaultProxy { port, shared }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `ws://127.0.0.1:PORT/auth-proxy`: the hub, through this proxy.
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/auth-proxy", self.port)
    }

    /// Stops (or resumes) forwarding on every open connection, without
    /// closing it: a half-open connection. New connections are not stalled.
    pub fn stall(&self, on: bool) {
        for flag in self.shared.stalls.lock().unwrap().iter() {
            flag.store(on, Ordering::SeqCst);
        }
    }

    /// Flips the last byte of the next chunk forwarded to the client: under
    /// TLS, a record that fails its integrity check.
    pub fn corrupt_next_to_client(&self) {
        self.shared.corrupt.store(true, Ordering::SeqCst);
    }

    /// While on, new connections are accepted and closed at once.
    pub fn refuse(&self, on: bool) {
        self.shared.refusing.store(on, Ordering::SeqCst);
    }

    /// Closes every open connection (both sides).
    pub fn drop_all(&self) {
        for socket in self.shared.sockets.lock().unwrap().drain(..) {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// The `host:port` of every CONNECT request, in order.
    pub fn connect_targets(&self) -> Vec<String> {
        self.shared.connect_targets.lock().unwrap().clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.drop_all();
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(mut client: TcpStream, target: Option<SocketAddr>, shared: &Arc<Shared>) {
    let target = match target {
        Some(target) => target,
        None => match read_connect(&mut client, shared) {
            Some(target) => target,
            None => return,
        },
    };
    let Ok(upstream) = TcpStream::connect(target) else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
        return;
    };
    {
        let mut sockets = shared.sockets.lock().unwrap();
        sockets.push(client.try_clone().unwrap());
        sockets.push(upstream.try_clone().unwrap());
    }
    let stalled = Arc::new(AtomicBool::new(false));
    shared.stalls.lock().unwrap().push(Arc::clone(&stalled));
    let (c2, u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
    let (other, other_stalled) = (Arc::clone(shared), Arc::clone(&stalled));
    thread::spawn(move || pump(c2, u2, &other, &other_stalled, None));
    pump(upstream, client, shared, &stalled, Some(&shared.corrupt));
}

/// Reads a CONNECT request and answers 200; returns the target.
fn read_connect(client: &mut TcpStream, shared: &Shared) -> Option<SocketAddr> {
    client.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
        if client.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut words = head.split_whitespace();
    if words.next() != Some("CONNECT") {
        let _ = client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n");
        return None;
    }
    let authority = words.next()?.to_string();
    shared
        .connect_targets
        .lock()
        .unwrap()
        .push(authority.clone());
    let port = authority.rsplit_once(':')?.1.parse::<u16>().ok()?;
    client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .ok()?;
    client.set_read_timeout(None).ok()?;
    Some(SocketAddr::from(([127, 0, 0, 1], port)))
}

/// Copies `from` to `to` until either side ends or the proxy stops. When
/// `corrupt` is given and set, the next chunk has its last byte flipped.
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    shared: &Shared,
    stalled: &AtomicBool,
    corrupt: Option<&AtomicBool>,
) {
    let _ = from.set_read_timeout(Some(Duration::from_millis(10)));
    let mut buf = [0u8; 16 * 1024];
    while !shared.stop.load(Ordering::SeqCst) {
        if stalled.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(5));
            continue;
        }
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if corrupt.is_some_and(|c| c.swap(false, Ordering::SeqCst)) {
                    buf[n - 1] ^= 0x01;
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
