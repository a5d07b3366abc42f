//! A port where Ollama is down: something accepts the TCP connection and
//! hangs up at once, counting the connections (the client's probes).

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::answers::WAIT;

/// A port where Ollama is down but something answers the TCP connect and
/// hangs up at once, counting the connections: each is one probe.
pub struct DeadOllama {
    probes: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    port: u16,
}

impl DeadOllama {
    /// Connections so far: each is one probe.
    pub fn probes(&self) -> usize {
        self.probes.load(Ordering::SeqCst)
    }

    /// On a port of the OS's choice.
    pub fn start() -> DeadOllama {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        DeadOllama::on(port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn on(port: u16) -> DeadOllama {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("take over the port");
        let probes = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (counted, stopping) = (Arc::clone(&probes), Arc::clone(&stop));
        thread::spawn(move || {
            for connection in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                drop(connection);
                counted.fetch_add(1, Ordering::SeqCst);
            }
        });
        DeadOllama { probes, stop, port }
    }

    pub fn wait_probes(&self, n: usize) -> bool {
        let deadline = Instant::now() + WAIT;
        while self.probes.load(Ordering::SeqCst) < n && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        self.probes.load(Ordering::SeqCst) >= n
    }
}

impl Drop for DeadOllama {
    fn drop(&mut self) {
        // Wakes the accept loop so that it sees the flag and lets go of the port.
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}
