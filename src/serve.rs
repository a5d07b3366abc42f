//! The running client: the one place that starts the threads and wires
//! their channels together (see ARCHITECTURE.md for the picture).
//!
//! The writer thread comes first (everything else sends to it), then the
//! relay's workers, then the signal thread that runs the shutdown sequence,
//! and last the hub connection loop: on this thread when serving, in the
//! background in test mode while the console takes prompts.

use std::path::PathBuf;
use std::sync::{mpsc, Arc};
use std::thread;

use crate::cli::Args;
use crate::config::Settings;
use crate::exit::Fatal;
use crate::hub::{self, Backoff, Endpoint, Proxy, SessionConfig, Supervisor, Writer};
use crate::ollama::{self, OllamaTarget};
use crate::relay::Relay;
use crate::secret::Token;
use crate::shutdown::Shutdown;
use crate::test_mode;

/// What the workers need to ask Ollama, from the owner's settings.
pub fn ollama_target(settings: &Settings) -> OllamaTarget {
    OllamaTarget {
        base_url: ollama::base_url(&settings.ollama_host, settings.ollama_port),
        model: settings.model.clone(),
        keep_alive: settings.keep_alive.clone(),
        options: settings.options.clone(),
        load_timeout: settings.load_timeout,
        idle_timeout: settings.idle_timeout,
        max_line_bytes: settings.max_line_bytes,
    }
}

/// What every hub connection needs; fails on a CA file that cannot be used.
pub fn session_config(
    args: &Args,
    settings: &Settings,
    endpoint: Endpoint,
    token: Token,
) -> Result<SessionConfig, Fatal> {
    let tls = match endpoint.tls {
        true => Some(hub_tls(args)?),
        false => None,
    };
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

/// The hub's TLS setup: the bundled Mozilla roots, plus the CA file of
/// `--ca-file` (which must work: the owner asked for it) or else of
/// `SSL_CERT_FILE` (often set machine-wide for other tools, so a broken one
/// is only a warning). The log says which sources are in use.
fn hub_tls(args: &Args) -> Result<Arc<rustls::ClientConfig>, Fatal> {
    if let Some(path) = &args.ca_file {
        let config = hub::client_config(Some(path)).map_err(|e| Fatal::config(e.to_string()))?;
        log::info!(
            "hub TLS trusts the bundled Mozilla roots and --ca-file {}",
            path.display()
        );
        return Ok(config);
    }
    let from_env = std::env::var_os("SSL_CERT_FILE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    if let Some(path) = from_env {
        match hub::client_config(Some(&path)) {
            Ok(config) => {
                log::info!(
                    "hub TLS trusts the bundled Mozilla roots and SSL_CERT_FILE {}",
                    path.display()
                );
                return Ok(config);
            }
            Err(e) => log::warn!("ignoring SSL_CERT_FILE: {e}"),
        }
    }
    log::info!("hub TLS trusts the bundled Mozilla roots only");
    hub::client_config(None).map_err(|e| Fatal::config(e.to_string()))
}

/// Starts the writer and the workers, then keeps the hub connection up (in
/// test mode in the background, while the console takes prompts). Returns
/// only on a failure to start; the shutdown sequence ends the process.
pub fn serve(args: &Args, settings: &Settings, hub: Option<SessionConfig>) -> Result<(), Fatal> {
    let target = ollama_target(settings);
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
    let writer = match hub {
        Some(_) => writer,
        None => writer.without_hub(),
    };
    spawn("writer", move || writer.run())?;
    let relay = Relay::start(
        settings.max_parallel,
        settings.queue_size,
        settings.stream_mode,
        &target,
        &to_writer,
    )
    .map_err(|e| Fatal::thread("worker", &e))?;
    let dispatcher = relay.dispatcher.clone();
    let shutdown = Shutdown::new(
        relay,
        to_writer.clone(),
        settings.shutdown_grace,
        args.test,
        hub.is_some(),
    );
    // Without it a SIGTERM would kill running answers mid-sentence.
    shutdown
        .install_signals()
        .map_err(|e| Fatal::thread("signal", &e))?;
    let hub_loop = shutdown.hub_loop.clone();
    let supervisor = hub.map(|config| Supervisor {
        config,
        backoff: Backoff::new(settings.reconnect_base, settings.reconnect_max),
        stable_after: settings.reconnect_max,
    });
    if !args.test {
        if let Some(supervisor) = supervisor {
            supervisor.run(&dispatcher, &to_writer, &hub_loop);
        }
        // Only a shutdown ends the loop above; it also ends the process.
        hub_loop.wait_for_exit();
    }
    match supervisor {
        Some(supervisor) => {
            // The first attempt is under way from now on, for the writer.
            hub_loop.set_connecting(true);
            let (dispatcher, to_writer) = (dispatcher.clone(), to_writer.clone());
            spawn("hub", move || {
                supervisor.run(&dispatcher, &to_writer, &hub_loop)
            })?;
        }
        None => log::warn!("no hub token: answers are shown here only, not sent to the hub"),
    }
    test_mode::run(&dispatcher);
    shutdown.run("end of test mode")
}

fn spawn(name: &str, body: impl FnOnce() + Send + 'static) -> Result<(), Fatal> {
    thread::Builder::new()
        .name(name.into())
        .spawn(body)
        .map(drop)
        .map_err(|e| Fatal::thread(name, &e))
}
