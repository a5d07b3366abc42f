//! `ollama-proxy-client`: sells the local Ollama on the marketplace hub.
//!
//! Data path: hub frame -> `hub::session` (reader) -> `relay` (job queue,
//! workers) -> `ollama` (NDJSON lines) -> pieces -> `hub::writer` -> hub
//! frames. Around it: `cli` (what was typed), `settings` (flags, environment
//! and config file combined), `config` (the file and the defaults),
//! `first_run` (questions at a terminal), `logging`, `console` (stdout and
//! terminal input), `secret` (the token's masked type), `protocol` (the
//! hub's JSON), `watchdog` (Ollama deadlines), and the modes `test_mode`
//! and `check`.
//!
//! Exit statuses: 0 normal end, 1 `--check` found a problem, 2 usage error,
//! 78 configuration missing or invalid (EX_CONFIG).

mod check;
mod cli;
mod config;
mod console;
mod first_run;
mod hub;
mod logging;
mod ollama;
mod protocol;
mod relay;
mod secret;
mod settings;
mod shutdown;
mod test_mode;
mod watchdog;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;

use crate::config::Settings;
use crate::console::print;
use crate::hub::{Backoff, Endpoint, Proxy, SessionConfig, Supervisor, Writer};
use crate::logging::LogSetup;
use crate::ollama::OllamaTarget;
use crate::relay::Relay;
use crate::settings::{Environment, Resolved};
use crate::shutdown::Shutdown;

/// glibc gives every thread that allocates its own malloc arena, each of
/// which keeps freed memory; for a client whose threads allocate little,
/// one shared arena keeps the resident size small and flat. (The static
/// release builds use musl, which has no arenas.)
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

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
    limit_malloc_arenas();
    let args = match cli::parse(std::env::args_os().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("ollama-proxy-client: {e}\n{}", cli::USAGE_HINT);
            return ExitCode::from(2);
        }
    };
    if args.version {
        print(&format!(
            "ollama-proxy-client {}\n",
            env!("CARGO_PKG_VERSION")
        ));
        return ExitCode::SUCCESS;
    }
    let config_path = settings::config_path(&args);
    if args.help {
        let (config, log) = match &config_path {
            Some(path) => (
                path.display().to_string(),
                settings::log_path_for(path).display().to_string(),
            ),
            None => ("(no home directory)".into(), "(no home directory)".into()),
        };
        print(&cli::help_text(&config, &log));
        return ExitCode::SUCCESS;
    }
    let result = match config_path {
        Some(path) => run(&args, &path),
        None => Err(Fatal::config(
            "cannot find the home directory; use --config PATH",
        )),
    };
    match result {
        Ok(code) => code,
        Err(fatal) => {
            if logging::is_ready() {
                log::error!("{}", fatal.message);
            } else {
                eprintln!("ollama-proxy-client: {}", fatal.message);
            }
            if fatal.status == 2 {
                eprintln!("{}", cli::USAGE_HINT);
            }
            ExitCode::from(fatal.status)
        }
    }
}

fn run(args: &cli::Args, config_path: &Path) -> Result<ExitCode, Fatal> {
    let endpoint = match &args.server {
        Some(url) => Endpoint::parse(url).map_err(Fatal::usage)?,
        None => Endpoint::default_for_port(args.port.unwrap_or(config::DEFAULT_HUB_PORT)),
    };
    if args.reset_config {
        reset_config(config_path)?;
    }
    let env = Environment::read();
    if args.check {
        return Ok(run_check(args, &env, config_path, endpoint));
    }
    let mut resolved =
        settings::resolve(args, &env, config_path).map_err(|e| Fatal::config(e.to_string()))?;
    if args.show_config {
        save(&mut resolved)?;
        show_config(&resolved, &endpoint);
        return Ok(ExitCode::SUCCESS);
    }
    complete_settings(args, &mut resolved)?;
    save(&mut resolved)?;
    init_logging(args, &resolved);
    let hub = match &resolved.settings.token {
        Some(token) => Some(session_config(
            args,
            &resolved.settings,
            endpoint,
            token.clone(),
        )?),
        None => None,
    };
    serve(args, &resolved.settings, hub)?;
    Ok(ExitCode::SUCCESS)
}

fn reset_config(path: &Path) -> Result<(), Fatal> {
    print(&format!("Deleting the config file {}\n", path.display()));
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Fatal::config(format!(
            "cannot delete {}: {e}",
            path.display()
        ))),
    }
}

/// Asks for missing settings at a terminal; elsewhere a missing token is
/// fatal at once (test mode runs without the hub instead).
fn complete_settings(args: &cli::Args, resolved: &mut Resolved) -> Result<(), Fatal> {
    let missing = first_run::missing(resolved);
    if missing.is_empty() {
        return Ok(());
    }
    if console::stdin_is_terminal() {
        let _echo_back_on_ctrl_c = console::TerminalGuard::install();
        return first_run::ask(resolved, &missing).map_err(Fatal::config);
    }
    if resolved.settings.token.is_none() && !args.test {
        return Err(Fatal::config(format!(
            "no hub token in {} and no terminal to ask for one: set it with \
             --force-token TOKEN (saved to the config) or the OLLAMA_PROXY_TOKEN \
             environment variable",
            resolved.config_path.display()
        )));
    }
    Ok(())
}

fn save(resolved: &mut Resolved) -> Result<(), Fatal> {
    if resolved.save().map_err(|e| Fatal::config(e.to_string()))? {
        print(&format!(
            "Settings saved to {}\n",
            resolved.config_path.display()
        ));
    }
    Ok(())
}

fn init_logging(args: &cli::Args, resolved: &Resolved) {
    let log_path = resolved.log_path();
    logging::init(&LogSetup {
        console_debug: args.debug || args.test,
        file: Some(&log_path),
        max_bytes: resolved.settings.log_max_bytes,
        files_kept: resolved.settings.log_files_kept,
    });
}

fn session_config(
    args: &cli::Args,
    settings: &Settings,
    endpoint: Endpoint,
    token: secret::Token,
) -> Result<SessionConfig, Fatal> {
    let tls = match endpoint.tls {
        true => Some(hub::client_config(extra_ca(args).as_deref()).map_err(Fatal::config)?),
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
    })
}

/// `--ca-file`, else `SSL_CERT_FILE`.
fn extra_ca(args: &cli::Args) -> Option<PathBuf> {
    args.ca_file.clone().or_else(|| {
        std::env::var_os("SSL_CERT_FILE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
}

fn show_config(resolved: &Resolved, endpoint: &Endpoint) {
    let settings = &resolved.settings;
    let mut text = String::new();
    let config_state = if resolved.config_path.exists() {
        ""
    } else {
        " (not created yet)"
    };
    text.push_str(&format!(
        "config file   {}{config_state}\n",
        resolved.config_path.display()
    ));
    text.push_str(&format!(
        "log file      {}\n",
        resolved.log_path().display()
    ));
    text.push_str(&format!("hub URL       {endpoint}\n"));
    let ollama_url = ollama::base_url(&settings.ollama_host, settings.ollama_port);
    text.push_str(&format!("Ollama URL    {ollama_url}\n\n"));
    for key in config::KEYS {
        let (name, value) = (key.name, settings.display_value(key.name));
        text.push_str(&format!(
            "{name:<24}{value:<24} ({})\n",
            resolved.source(name)
        ));
    }
    print(&text);
}

fn run_check(args: &cli::Args, env: &Environment, path: &Path, endpoint: Endpoint) -> ExitCode {
    let (mut resolved, config_error) = match settings::resolve(args, env, path) {
        Ok(resolved) => (resolved, None),
        Err(e) => {
            // The other steps run on the flags, the environment and the
            // defaults; the broken file is reported, never overwritten.
            let empty = Path::new("/nonexistent/ollama-proxy-client/config.json");
            let fallback = settings::resolve(args, env, empty);
            match fallback {
                Ok(mut resolved) => {
                    resolved.config_path = path.to_path_buf();
                    (resolved, Some(e.to_string()))
                }
                Err(_) => return ExitCode::from(78),
            }
        }
    };
    if config_error.is_none() {
        if let Err(fatal) = save(&mut resolved) {
            print(&format!("[FAIL] {}\n", fatal.message));
        }
    }
    init_logging(args, &resolved);
    let hub = resolved.settings.token.clone().and_then(|token| {
        session_config(args, &resolved.settings, endpoint, token)
            .map_err(|e| print(&format!("[FAIL] {}\n", e.message)))
            .ok()
    });
    match check::run(&resolved, config_error, hub) {
        true => ExitCode::SUCCESS,
        false => ExitCode::from(1),
    }
}

/// Starts the writer and the workers, then keeps the hub connection up (in
/// test mode in the background, while the console takes prompts).
fn serve(args: &cli::Args, settings: &Settings, hub: Option<SessionConfig>) -> Result<(), Fatal> {
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
    spawn("writer", move || writer.run())?;
    let relay = Relay::start(
        settings.max_parallel,
        settings.queue_size,
        settings.stream_mode,
        &target,
        &to_writer,
    )
    .map_err(|e| Fatal::config(format!("cannot start the worker threads: {e}")))?;
    let dispatcher = relay.dispatcher.clone();
    let shutdown = Shutdown::new(
        relay,
        to_writer.clone(),
        settings.shutdown_grace,
        args.test,
        hub.is_some(),
    );
    if !shutdown.install_signals() {
        log::warn!("cannot catch SIGTERM/SIGINT: a stop will not wait for running answers");
    }
    let stop = shutdown.stopping.clone();
    let supervisor = hub.map(|config| Supervisor {
        config,
        backoff: Backoff::new(settings.reconnect_base, settings.reconnect_max),
        stable_after: settings.reconnect_max,
    });
    if !args.test {
        if let Some(supervisor) = supervisor {
            supervisor.run(&dispatcher, &to_writer, &stop);
        }
        // Only a shutdown ends the loop above; it also ends the process.
        stop.wait_for_exit();
    }
    match supervisor {
        Some(supervisor) => {
            let (dispatcher, to_writer) = (dispatcher.clone(), to_writer.clone());
            spawn("hub", move || {
                supervisor.run(&dispatcher, &to_writer, &stop)
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
        .map_err(|e| Fatal::config(format!("cannot start the {name} thread: {e}")))
}
