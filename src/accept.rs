//! One accept loop for the small servers the owner talks to: the metrics
//! port (`metrics::server`) and the control socket (`control::server`).
//!
//! The server's thread blocks in `accept` (no wakeups while nobody
//! connects) and hands each connection to a short-lived thread of its own,
//! which serves it with the server's own deadline and ends. So one slow or
//! silent client holds up nobody else: `/healthz` and `--status` are
//! answered while others sit on open connections.
//!
//! At most [`MAX_OPEN`] connections are served at once. A new one beyond
//! that closes the *oldest* at once (its reads end, its thread finishes):
//! a real scraper or `--status` sends its request as soon as it connects
//! and is done within milliseconds, so the oldest connection still open is
//! the one most likely idle, and the newest is the one most likely to be
//! a person or Prometheus waiting for an answer. Refusing the newest
//! instead would let a handful of silent connections shut everyone out
//! for a whole deadline. Threads stay bounded even when closed connections
//! are slow to finish: with [`MAX_THREADS`] running, the loop waits for
//! one to end before it accepts more (they end at once when closed, or at
//! their deadline), and new connections wait in the kernel's queue. Each
//! open connection costs two descriptors (the stream, and the handle that
//! can close it).

use std::collections::VecDeque;
use std::io;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use crate::platform::control;

/// Connections served at once.
pub const MAX_OPEN: usize = 8;

/// Threads serving connections at once, closed ones still finishing
/// included.
pub const MAX_THREADS: usize = 2 * MAX_OPEN;

/// A connection the loop can hand over and close from another thread.
pub trait Conn: Send + Sized + 'static {
    fn handle(&self) -> io::Result<Self>;
    fn close(&self);
}

/// A listening socket.
pub trait Listen {
    type Conn: Conn;
    fn next(&self) -> io::Result<Self::Conn>;
}

/// Both traits for a kind of socket: std's TCP and Unix sockets (and the
/// control channel's on every system) have these
/// methods under the same names, but on no common trait.
macro_rules! socket {
    ($listener:ty, $stream:ty) => {
        impl Conn for $stream {
            fn handle(&self) -> io::Result<$stream> {
                self.try_clone()
            }

            fn close(&self) {
                let _ = self.shutdown(Shutdown::Both);
            }
        }

        impl Listen for $listener {
            type Conn = $stream;
            fn next(&self) -> io::Result<$stream> {
                self.accept().map(|(stream, _)| stream)
            }
        }
    };
}

socket!(TcpListener, TcpStream);
socket!(control::Listener, control::Stream);

/// What one connection's thread runs; it must end within its server's
/// deadline.
pub type Serve<C> = Arc<dyn Fn(C) + Send + Sync>;

/// Starts the thread `name`, which accepts on `listener` until the process
/// ends (see [`accept_loop`]); fails only if the thread cannot be started.
pub fn start<L: Listen + Send + 'static>(
    name: &'static str,
    listener: L,
    serve: Serve<L::Conn>,
) -> io::Result<()> {
    let accept = move || accept_loop(name, &listener, serve);
    thread::Builder::new()
        .name(name.into())
        .spawn(accept)
        .map(drop)
}

/// Accepts on `listener` forever, serving each connection with `serve`
/// on a thread of its own. A failing `accept` (out of descriptors) is
/// retried after a pause, and said once.
fn accept_loop<L: Listen>(name: &'static str, listener: &L, serve: Serve<L::Conn>) {
    let open = Arc::new(Open {
        state: Mutex::new(State {
            conns: VecDeque::new(),
            threads: 0,
            next_id: 0,
        }),
        ended: Condvar::new(),
    });
    let mut failing = false;
    loop {
        match listener.next() {
            Ok(conn) => {
                failing = false;
                open.start(name, conn, &serve);
            }
            Err(e) => {
                // Lasts until something is freed: pause instead of
                // spinning.
                if !failing {
                    log::warn!("{name}: cannot accept a connection: {e}");
                }
                failing = true;
                thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// The connections being served, oldest first, each with a handle that
/// closes it; and how many threads are running.
struct Open<C> {
    state: Mutex<State<C>>,
    /// Notified when a connection's thread ends.
    ended: Condvar,
}

struct State<C> {
    conns: VecDeque<(u64, C)>,
    threads: usize,
    next_id: u64,
}

impl<C: Conn> Open<C> {
    fn lock(&self) -> MutexGuard<'_, State<C>> {
        // Every change is one step; a panicking thread leaves it whole.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes room (closing the oldest if need be) and serves `conn` on a
    /// thread of its own; a connection that cannot be served is closed.
    fn start(self: &Arc<Self>, name: &'static str, conn: C, serve: &Serve<C>) {
        let Ok(handle) = conn.handle() else {
            return;
        };
        let id = {
            let mut state = self.lock();
            while state.threads >= MAX_THREADS {
                state = self.ended.wait(state).unwrap_or_else(|e| e.into_inner());
            }
            if state.conns.len() >= MAX_OPEN {
                if let Some((_, oldest)) = state.conns.pop_front() {
                    oldest.close();
                }
            }
            let id = state.next_id;
            state.next_id += 1;
            state.conns.push_back((id, handle));
            state.threads += 1;
            id
        };
        let open = Arc::clone(self);
        let serve = Arc::clone(serve);
        let spawned = thread::Builder::new()
            .name(format!("{name}-conn"))
            .spawn(move || {
                serve(conn);
                open.finished(id);
            });
        if let Err(e) = spawned {
            log::warn!("{name}: cannot start a thread for a connection: {e}");
            self.finished(id);
        }
    }

    fn finished(&self, id: u64) {
        let mut state = self.lock();
        state.conns.retain(|(open, _)| *open != id);
        state.threads -= 1;
        self.ended.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    /// A server whose connections read one line and answer it; slow ones
    /// wait for their line as long as it takes (no deadline), so only the
    /// loop can end them. Also the most threads seen serving at once.
    fn echo_server() -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let seen = Arc::clone(&most);
        let serve: Serve<TcpStream> = Arc::new(move |mut stream: TcpStream| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            seen.fetch_max(now, Ordering::SeqCst);
            let mut byte = [0u8; 1];
            let mut line = Vec::new();
            while let Ok(1) = stream.read(&mut byte) {
                if byte[0] == b'\n' {
                    let _ = stream.write_all(&line);
                    break;
                }
                line.push(byte[0]);
            }
            running.fetch_sub(1, Ordering::SeqCst);
        });
        thread::spawn(move || accept_loop("test", &listener, serve));
        (addr, most)
    }

    fn ask(addr: SocketAddr, line: &str) -> String {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(format!("{line}\n").as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    }

    #[test]
    fn silent_connections_give_way_to_a_new_one() {
        let (addr, most) = echo_server();
        let silent: Vec<TcpStream> = (0..100)
            .map(|_| TcpStream::connect(addr).unwrap())
            .collect();
        let started = Instant::now();
        assert_eq!(ask(addr, "hello"), "hello");
        assert!(started.elapsed() < Duration::from_secs(5));
        // The oldest were closed to make room; the newest still wait.
        let mut oldest = &silent[0];
        oldest
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        assert_eq!(oldest.read(&mut [0u8; 1]).unwrap(), 0, "closed");
        assert!(most.load(Ordering::SeqCst) <= MAX_THREADS);
        for _ in 0..3 {
            assert_eq!(ask(addr, "again"), "again");
        }
    }

    #[test]
    fn connections_are_served_at_once_each_on_its_own_thread() {
        let (addr, most) = echo_server();
        let slow: Vec<TcpStream> = (0..MAX_OPEN - 1)
            .map(|_| TcpStream::connect(addr).unwrap())
            .collect();
        assert_eq!(ask(addr, "not behind the others"), "not behind the others");
        // None of the slow ones was closed to make room.
        for mut stream in slow {
            stream.write_all(b"still here\n").unwrap();
            let mut answer = String::new();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            stream.read_to_string(&mut answer).unwrap();
            assert_eq!(answer, "still here");
        }
        assert!(most.load(Ordering::SeqCst) >= 2);
    }
}
