//! `ollama-proxy-client`: sells the local Ollama on the marketplace hub.
//!
//! `main` only reads the command line, picks the mode and turns a
//! [`Fatal`] into its exit status. The modules, in the order data flows
//! through them (each uses only modules listed before it; see
//! ARCHITECTURE.md):
//!
//! - `protocol`: the hub's JSON frames, in and out;
//! - `hub`: the WebSocket to the hub: connect, read requests, write frames;
//! - `ollama`: one prompt on the local Ollama, piece by piece;
//! - `relay`: requests from the hub to Ollama's workers and their answers
//!   to the hub's writer;
//! - `shutdown`: the ordered stop on SIGTERM/SIGINT/SIGHUP;
//! - `serve`: starts the threads above and wires them together;
//! - the owner's side: `cli` (what was typed), `config` (the file and the
//!   settings table), `settings` (flags, environment and file combined),
//!   `address` (host and port as owners type them),
//!   `startup`, `first_run`, `logging`, `console`, `secret`, `exit`, and
//!   the other modes `test_mode` and `check`.
//!
//! Exit statuses (`exit`): 0 normal end, 1 `--check` found a problem, 2
//! usage error, 71 a thread could not be started, 78 configuration missing
//! or invalid (EX_CONFIG).

mod address;
mod check;
mod cli;
mod config;
mod console;
mod exit;
mod first_run;
mod hub;
mod logging;
mod ollama;
mod protocol;
mod relay;
mod secret;
mod serve;
mod settings;
mod shutdown;
mod startup;
mod test_mode;
mod text;

/// The test rig's throw-away certificate authority, for unit tests that
/// need real TLS on both sides.
#[cfg(test)]
#[path = "../tests/support/tls.rs"]
mod test_ca;

use std::path::Path;
use std::process::ExitCode;

use crate::console::print;
use crate::exit::Fatal;
use crate::hub::Endpoint;
use crate::settings::{Environment, Resolved};
use crate::startup::{complete_settings, init_logging, read_token, reset_config, save};

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

fn main() -> ExitCode {
    limit_malloc_arenas();
    text::set_owner_language(text::Lang::from_environment());
    let args = match cli::parse(std::env::args_os().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("ollama-proxy-client: {e}\n{}", cli::USAGE_HINT);
            return ExitCode::from(exit::USAGE);
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
    // The config file's `language` beats the locale, for every text from
    // here on (`--help` too); a file that cannot be read leaves the locale's
    // choice, in which its error is then shown.
    if let Some(lang) = config_path.as_deref().and_then(config::language_in) {
        text::set_owner_language(lang);
    }
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
        Some(path) => run(args, &path),
        None => Err(Fatal::config(
            "cannot find the home directory; use --config PATH",
        )),
    };
    match result {
        Ok(code) => code,
        Err(fatal) => {
            // The log file stays English; the terminal gets the owner's
            // language.
            if logging::is_ready() {
                log::error!(target: logging::FILE_ONLY, "{}", fatal.message.english());
            }
            eprintln!("ollama-proxy-client: {}", fatal.message.owner());
            if fatal.status == exit::USAGE {
                eprintln!("{}", cli::USAGE_HINT);
            }
            ExitCode::from(fatal.status)
        }
    }
}

/// The hub's URL: `--server`, else the default with `--port`. A token in
/// the URL's query (the hub's own URLs carry one, so owners paste them) is
/// taken out and used like `--force-token` (an explicit `--force-token`
/// still wins), so that the URL can be shown and logged without it.
fn hub_endpoint(args: &mut cli::Args) -> Result<Endpoint, Fatal> {
    let Some(url) = &args.server else {
        return Ok(Endpoint::default_for_port(
            args.port.unwrap_or(config::DEFAULT_HUB_PORT),
        ));
    };
    let mut endpoint = Endpoint::parse(url).map_err(|e| Fatal::usage(e.text()))?;
    if let Some(token) = endpoint.take_token() {
        let from_url = cli::SavedFlag {
            key: "token",
            value: serde_json::Value::String(token),
            flag: "--server",
        };
        args.saved.insert(0, from_url);
    }
    Ok(endpoint)
}

fn run(mut args: cli::Args, config_path: &Path) -> Result<ExitCode, Fatal> {
    let endpoint = hub_endpoint(&mut args)?;
    read_token(&mut args)?;
    let args = &args;
    // Deleted once new settings are saved; put back otherwise (when dropped).
    let reset = match args.reset_config {
        true => reset_config(config_path)?,
        false => None,
    };
    let env = Environment::read();
    if args.check {
        return check::run_mode(args, &env, config_path, endpoint);
    }
    let mut resolved =
        settings::resolve(args, &env, config_path).map_err(|e| Fatal::config(e.to_string()))?;
    if args.show_config {
        save(&mut resolved)?;
        show_config(&resolved, &endpoint);
        return Ok(ExitCode::SUCCESS);
    }
    complete_settings(args, &mut resolved, reset.as_ref())?;
    save(&mut resolved)?;
    // Before serving, which only ends with the process.
    drop(reset);
    init_logging(args, &resolved);
    let hub = match &resolved.settings.token {
        Some(token) => Some(serve::session_config(
            args,
            &resolved.settings,
            endpoint,
            token.clone(),
        )?),
        None => None,
    };
    serve::serve(args, &resolved.settings, hub)?;
    Ok(ExitCode::SUCCESS)
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
