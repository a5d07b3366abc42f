//! The connection loop's shared state, two flags:
//!
//! - stopping: set by the writer right before its last Close goes out, so
//!   that no reconnect follows the shutdown; read by the `supervisor`
//!   before every connect;
//! - connecting: set by the `supervisor` while an attempt is under way, so
//!   that test mode's last frames wait for a connection that is coming,
//!   and not for one that failed and is backing off.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

#[derive(Clone, Default)]
pub struct LoopState {
    stopping: Arc<AtomicBool>,
    connecting: Arc<AtomicBool>,
}

impl LoopState {
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    pub fn is_connecting(&self) -> bool {
        self.connecting.load(Ordering::SeqCst)
    }

    pub fn set_connecting(&self, connecting: bool) {
        self.connecting.store(connecting, Ordering::SeqCst);
    }

    /// Blocks the calling thread for good: the shutdown thread ends the
    /// process once the last frames are out.
    pub fn wait_for_exit(&self) -> ! {
        loop {
            thread::park();
        }
    }
}
