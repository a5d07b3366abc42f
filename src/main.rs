//! `ollama-proxy-client`: sells the local Ollama on the marketplace hub.
//!
//! Data path: hub frame -> `hub::session` (reader) -> `relay` (job queue,
//! workers) -> `ollama` (NDJSON lines) -> pieces -> `hub::writer` -> hub
//! frames. Around it: `cli` (what was typed), `config` (settings and their
//! defaults), `logging`, `secret` (the token's masked type), `protocol`
//! (the hub's JSON), `watchdog` (Ollama deadlines).
//!
//! Exit statuses: 0 normal end, 2 usage error, 78 configuration missing or
//! invalid (EX_CONFIG).

mod cli;
mod config;
mod hub;
mod logging;
mod ollama;
mod protocol;
mod relay;
mod secret;
mod watchdog;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;

use crate::config::Settings;
use crate::hub::{Backoff, Endpoint, SessionConfig, Writer};
use crate::ollama::OllamaTarget;

/// A reason to stop, with the exit status it maps to.
struct Fatal {
    status: u8,
    message: String,
}

impl Fatal {
    fn usage(message: impl Into<String>) -> Fatal {
        Fatal {
            status: 2,
            message: message.into(),
        }
    }

    fn config(message: impl Into<String>) -> Fatal {
        Fatal {
            status: 78,
            message: message.into(),
        }
    }
}

fn main() -> ExitCode {
    let args = match cli::parse(std::env::args_os().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("ollama-proxy-client: {e}\n{}", cli::USAGE_HINT);
            return ExitCode::from(2);
        }
    };
    if args.help {
        print!("{}", cli::help_text());
        return ExitCode::SUCCESS;
    }
    if args.version {
        println!("ollama-proxy-client {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    logging::init(args.debug);
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(fatal) => {
            log::error!("{}", fatal.message);
            if fatal.status == 2 {
                eprintln!("{}", cli::USAGE_HINT);
            }
            ExitCode::from(fatal.status)
        }
    }
}

fn run(args: &cli::Args) -> Result<(), Fatal> {
    let endpoint = match &args.server {
        Some(url) => Endpoint::parse(url).map_err(Fatal::usage)?,
        None => Endpoint::default_for_port(args.port.unwrap_or(config::DEFAULT_HUB_PORT)),
    };
    let config_path = match &args.config {
        Some(path) => path.clone(),
        None => config::default_config_path()
            .ok_or_else(|| Fatal::config("cannot find the home directory for the config file"))?,
    };
    let (settings, _) = config::load(&config_path).map_err(|e| Fatal::config(e.to_string()))?;
    let Some(token) = settings.token.clone() else {
        return Err(Fatal::config(format!(
            "no token in {}: add \"token\" to that file",
            config_path.display()
        )));
    };
    let tls = match endpoint.tls {
        true => Some(hub::client_config(extra_ca(args).as_deref()).map_err(Fatal::config)?),
        false => None,
    };
    let session = SessionConfig {
        endpoint,
        token,
        tls,
        handshake_timeout: settings.handshake_timeout,
        dead_after: settings.dead_after,
        max_frame_bytes: settings.max_frame_bytes,
    };
    serve(&settings, &session)
}

/// `--ca-file`, else `SSL_CERT_FILE`.
fn extra_ca(args: &cli::Args) -> Option<PathBuf> {
    args.ca_file.clone().or_else(|| {
        std::env::var_os("SSL_CERT_FILE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
}

/// Starts the writer and the workers, then keeps the hub connection up.
fn serve(settings: &Settings, session: &SessionConfig) -> Result<(), Fatal> {
    let target = OllamaTarget::from_settings(settings);
    log::info!(
        "ollama-proxy-client {}: model {} on {}, {} worker(s), {} mode",
        env!("CARGO_PKG_VERSION"),
        target.model,
        target.base_url,
        settings.max_parallel,
        if settings.stream_mode {
            "stream"
        } else {
            "non-stream"
        }
    );
    let (to_writer, inbox) = mpsc::channel();
    let writer = Writer::new(inbox, settings.outbox_bytes, settings.ping_interval);
    thread::Builder::new()
        .name("writer".into())
        .spawn(move || writer.run())
        .map_err(|e| Fatal::config(format!("cannot start the writer thread: {e}")))?;
    let dispatcher = relay::start_workers(
        settings.max_parallel,
        settings.queue_size,
        settings.stream_mode,
        &target,
        &to_writer,
    )
    .map_err(|e| Fatal::config(format!("cannot start the worker threads: {e}")))?;
    let backoff = Backoff::new(settings.reconnect_base, settings.reconnect_max);
    hub::run(
        session,
        &dispatcher,
        &to_writer,
        backoff,
        settings.reconnect_max,
    );
    Ok(())
}
