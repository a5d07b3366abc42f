//! The flag that ends the connection loop: set by the writer right before
//! its last Close goes out, so that no reconnect follows the shutdown, and
//! read by the `supervisor` before every connect.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

/// Tells the connection loop that the process is going away: it connects
/// no more once this is set.
#[derive(Clone, Default)]
pub struct Stopping(Arc<AtomicBool>);

impl Stopping {
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    pub fn set(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Blocks the calling thread for good: the shutdown thread ends the
    /// process once the last frames are out.
    pub fn wait_for_exit(&self) -> ! {
        loop {
            thread::park();
        }
    }
}
