//! Log setup. The console gets INFO and up (DEBUG with `--debug`).
//!
//! Logging policy: the token never reaches a log. Our own code logs the hub
//! URL only through `Endpoint`'s `Display`, which has no token, and the
//! token's own type prints a mask. tungstenite logs the full request URI
//! (which carries the token) at debug and trace level, so its records are
//! dropped entirely; rustls is built without its logging feature.

use log::LevelFilter;
use simplelog::{ColorChoice, ConfigBuilder, TermLogger, TerminalMode};

pub fn init(debug: bool) {
    let level = if debug {
        LevelFilter::Debug
    } else {
        LevelFilter::Info
    };
    let config = ConfigBuilder::new()
        .add_filter_ignore_str("tungstenite")
        .add_filter_ignore_str("ureq_proto")
        .set_time_format_rfc3339()
        .set_target_level(LevelFilter::Off)
        .set_thread_level(LevelFilter::Off)
        .build();
    // Fails only if a logger is already set, which cannot happen here.
    let _ = TermLogger::init(level, config, TerminalMode::Stderr, ColorChoice::Never);
}
