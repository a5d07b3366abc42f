//! Signals: SIGTERM (systemd, supervisor) and SIGINT (Ctrl+C) end the
//! client with status 0. A dedicated thread waits for them (signal-hook's
//! self-pipe), so no work happens inside a signal handler.

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Calls `on_signal` with the signal's name when the first SIGTERM or
/// SIGINT arrives. Returns false when the handler could not be installed.
pub fn on_signal(on_signal: impl FnOnce(&'static str) + Send + 'static) -> bool {
    let Ok(mut signals) = Signals::new([SIGINT, SIGTERM]) else {
        return false;
    };
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                on_signal(if signal == SIGTERM {
                    "SIGTERM"
                } else {
                    "SIGINT"
                });
            }
        });
    spawned.is_ok()
}
