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
//!   the other modes `test_mode`, `check` and `--stats` (in
//!   `ledger::stats`, which reads back the ledger of answers);
//! - `availability` (whether the box takes buyers: the owner's pause,
//!   Ollama's health) and `control` (the socket through which `--status`,
//!   `--pause` and `--resume` reach the running client).
//!
//! Exit statuses (`exit`): 0 normal end, 1 `--check` found a problem (or
//! `--status`: running, not serving), 2 usage error, 69 no client running
//! for `--status`/`--pause`/`--resume` (EX_UNAVAILABLE), 71 a thread could
//! not be started, 75 another client already runs on this config
//! (EX_TEMPFAIL), 78 configuration missing or invalid (EX_CONFIG).

mod accept;
mod accounting;
mod address;
mod availability;
mod backends;
mod check;
mod cli;
mod config;
mod console;
mod control;
mod deadline;
mod exit;
mod first_run;
mod gpu;
mod hours;
mod hub;
mod ledger;
mod logging;
mod metrics;
mod ollama;
mod pause;
mod platform;
mod protocol;
#[cfg(test)]
mod reference;
mod relay;
mod secret;
mod serve;
mod settings;
mod shutdown;
mod startup;
mod state_file;
mod test_mode;
mod text;
mod time;
mod tls;

/// The test rig's throw-away certificate authority, for unit tests that
/// need real TLS on both sides.
#[cfg(test)]
#[path = "../tests/support/tls.rs"]
mod test_ca;

use std::path::Path;
use std::process::ExitCode;

use crate::console::print;
use crate::exit::Fatal;
use crate::hub::{Endpoint, SessionConfig};
use crate::settings::{Environment, Resolved};
use crate::startup::{complete_settings, init_logging, read_token, reset_config, save};
use crate::text::{Lang, Text};

/// musl's own allocator (mallocng) never reuses enough of what a busy
/// client frees: against a hub that stops reading, the static build's
/// resident size grew by 0.3-1 MiB with every few megabytes answered, on
/// and on (tests/slow_hub.rs). dlmalloc, which glibc's allocator descends
/// from, reuses it and stays flat.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

fn main() -> ExitCode {
    platform::process::limit_malloc_arenas();
    let display = platform::console::display_language();
    text::set_owner_language(text::Lang::from_environment(display));
    let args = match cli::parse(std::env::args_os().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            // `--config` is not known here: the default file's `language`
            // speaks for the owner.
            use_config_language(config::default_config_path().as_deref());
            return fail(Fatal::usage(e.0));
        }
    };
    if args.version {
        // not prose: the program's name and version.
        print(&format!(
            "ollama-proxy-client {}\n",
            env!("CARGO_PKG_VERSION")
        ));
        return ExitCode::SUCCESS;
    }
    // `--config`, else the default.
    let config_path = args.config.clone().or_else(config::default_config_path);
    use_config_language(config_path.as_deref());
    if args.help {
        print(&help(config_path.as_deref()));
        return ExitCode::SUCCESS;
    }
    let result = match config_path {
        Some(path) => run(args, &path),
        None => Err(Fatal::config(text::cli::home_directory_not_found())),
    };
    result.unwrap_or_else(fail)
}

/// The config file's `language` beats the locale, for every text from here
/// on (`--help` too); a file that cannot be read leaves the locale's
/// choice, in which its error is then shown.
fn use_config_language(config_path: Option<&Path>) {
    if let Some(lang) = config_path.and_then(config::language_in) {
        text::set_owner_language(lang);
    }
}

/// The help in the owner's language, with the files in use.
fn help(config_path: Option<&Path>) -> String {
    let lang = text::owner_language();
    match config_path {
        Some(path) => {
            let log = settings::log_path_for(path);
            cli::help_text(lang, path.display(), log.display())
        }
        None => {
            let none = text::cli::help_no_home_directory;
            cli::help_text(lang, none(), none())
        }
    }
}

/// Says why the program stops (the log file stays English; the terminal
/// gets the owner's language) and gives its exit status.
fn fail(fatal: Fatal) -> ExitCode {
    if logging::is_ready() {
        log::error!(target: logging::FILE_ONLY, "{}", fatal.message.english());
    }
    console::warn(&fatal.message);
    if fatal.status == exit::USAGE {
        eprintln!("{}", cli::usage_hint().owner());
    }
    ExitCode::from(fatal.status)
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
    if args.stats {
        return Ok(stats(&args, config_path));
    }
    if let Some(command) = args.control {
        return control::client::run(
            command,
            args.json,
            config_path,
            ledger_files_kept(config_path),
        );
    }
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
        settings::resolve(args, &env, config_path).map_err(|e| Fatal::config(e.text()))?;
    if args.show_config {
        save(&mut resolved)?;
        let lang = text::owner_language();
        print(&show_config_text(lang, &resolved, &endpoint));
        return Ok(ExitCode::SUCCESS);
    }
    complete_settings(args, &mut resolved, reset.as_ref())?;
    save(&mut resolved)?;
    // Before serving, which only ends with the process.
    drop(reset);
    init_logging(args, &resolved);
    let settings = &resolved.settings;
    let ca_file = args.ca_file.as_deref();
    let session = |token| SessionConfig::new(settings, endpoint, token, ca_file);
    let hub = settings.token.clone().map(session).transpose()?;
    serve::serve(args, settings, hub, config_path)?;
    Ok(ExitCode::SUCCESS)
}

/// How many rotated ledger files `--stats` looks for when the config file
/// cannot be read: the most `ledger_files_kept` allows.
const LEDGER_FILES_MOST: usize = 100;

/// The config's `ledger_files_kept`, or the most it allows when the file
/// cannot be read.
fn ledger_files_kept(config_path: &Path) -> usize {
    config::load(config_path).map_or(LEDGER_FILES_MOST, |(settings, _)| {
        settings.ledger_files_kept
    })
}

/// `--stats`: the ledger's figures, as a table or one JSON object. Reads
/// the ledger beside the config file (and the file's `ledger_files_kept`);
/// needs no token, starts nothing, writes nothing. No ledger (or no config
/// file) is an empty period, not an error.
fn stats(args: &cli::Args, config_path: &Path) -> ExitCode {
    let files_kept = ledger_files_kept(config_path);
    let until = time::now();
    let since = args.since.map(|since| since.instant(until));
    let ledger_path = ledger::path_for(config_path);
    // A connection the ledger leaves open lasts until now only while a
    // client runs; after a crash it ended with the ledger's last line.
    let running = control::lock_is_held(&control::lock_path(config_path));
    let (stats, warnings) = ledger::stats::gather(&ledger_path, files_kept, since, until, running);
    warnings.iter().for_each(console::warn);
    print(&match args.json {
        true => ledger::stats::json(&stats) + "\n",
        false => ledger::stats::table(&stats, text::owner_language()),
    });
    ExitCode::SUCCESS
}

/// `--show-config` in `lang`: the files and addresses in use, then every
/// setting with its value and where it came from.
fn show_config_text(lang: Lang, resolved: &Resolved, endpoint: &Endpoint) -> String {
    let say = |text: Text| text.in_lang(lang);
    let settings = &resolved.settings;
    let mut config_file = resolved.config_path.display().to_string();
    if !resolved.config_path.exists() {
        config_file = format!("{config_file} {}", say(text::cli::show_not_created_yet()));
    }
    let log_file = settings::log_path_for(&resolved.config_path)
        .display()
        .to_string();
    let mut places = vec![
        (say(text::cli::config_file()), config_file),
        (say(text::cli::show_log_file()), log_file),
        (say(text::cli::show_hub_url()), endpoint.to_string()),
    ];
    places.extend(ollama_places(lang, settings));
    let mut shown = console::label_table(&places);
    shown.push('\n');
    for key in config::KEYS {
        let (name, value) = (key.name, settings.display_value(key.name));
        let mut source = resolved.source(name).text();
        // `ollama_hosts` replaces these: an owner with `OLLAMA_HOST` in the
        // environment sees it is not used.
        if !settings.ollama_hosts.is_empty() && matches!(name, "ollama_host" | "ollama_port") {
            source = text::cli::show_unused_with_hosts(source);
        }
        let source = say(source);
        shown.push_str(&format!("{name:<24}{value:<24} ({source})\n"));
    }
    shown
}

/// Where Ollama is: its URL as always, or with `ollama_hosts` one line per
/// backend, the first labelled and the others under it.
fn ollama_places(lang: Lang, settings: &config::Settings) -> Vec<(String, String)> {
    let backends = settings.backends();
    if settings.ollama_hosts.is_empty() {
        let label = text::cli::show_ollama_url().in_lang(lang);
        return backends
            .into_iter()
            .map(|backend| (label.clone(), backend.base_url.shown().to_string()))
            .collect();
    }
    let label = text::cli::show_ollama_backends().in_lang(lang);
    let labels = std::iter::once(label).chain(std::iter::repeat(String::new()));
    let line = |backend: config::BackendSpec| {
        let url = backend.base_url.shown();
        let shown = text::cli::show_backend(backend.name, url, backend.max_parallel);
        shown.in_lang(lang)
    };
    labels.zip(backends.into_iter().map(line)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where each line's value starts (in characters): after the label and
    /// the spaces that follow it.
    fn value_column(line: &str, value: &str) -> usize {
        let at = line
            .find(value)
            .unwrap_or_else(|| panic!("{value} in {line:?}"));
        line[..at].chars().count()
    }

    #[test]
    fn show_config_lists_every_backend_and_says_the_single_address_is_unused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let hosts = serde_json::json!([
            "gpu1",
            {"url": "http://192.168.1.20:11434", "max_parallel": 2, "name": "desktop"},
        ]);
        let args = cli::Args::default();
        let env = Environment {
            token: None,
            ollama_host: Some("10.0.0.9".into()),
        };
        let mut resolved = settings::resolve_without_file(&args, &env, &path).expect("defaults");
        let endpoint = Endpoint::default_for_port(5050);
        let shown = show_config_text(Lang::En, &resolved, &endpoint);
        assert!(
            shown.contains("\nOllama URL    http://10.0.0.9:11434\n"),
            "{shown}"
        );
        assert!(!shown.contains("not used"), "{shown}");
        resolved
            .set("ollama_hosts", hosts, settings::Source::File)
            .unwrap();
        let shown = show_config_text(Lang::En, &resolved, &endpoint);
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(
            lines[3],
            "Ollama backends   gpu1:11434 = http://gpu1:11434 (max_parallel 1)"
        );
        assert_eq!(
            lines[4],
            "                  desktop = http://192.168.1.20:11434 (max_parallel 2)"
        );
        assert_eq!(lines[5], "");
        assert!(lines[0].starts_with("config file       "), "{shown}");
        assert!(!shown.contains("Ollama URL"), "{shown}");
        for key in ["ollama_host", "ollama_port"] {
            let row = lines.iter().find(|l| l.starts_with(&format!("{key} ")));
            let row = row.unwrap_or_else(|| panic!("{key}:\n{shown}"));
            assert!(
                row.ends_with("(environment OLLAMA_HOST; not used: ollama_hosts is set)"),
                "{row}"
            );
        }
        let hosts_row = lines.iter().find(|l| l.starts_with("ollama_hosts "));
        assert_eq!(
            hosts_row.copied(),
            Some(
                "ollama_hosts            gpu1, http://192.168.1.20:11434 \
                 (max_parallel 2, name desktop) (config file)"
            )
        );
        let russian = show_config_text(Lang::Ru, &resolved, &endpoint);
        assert!(
            russian.contains(
                "\nсерверы Ollama   gpu1:11434 = http://gpu1:11434 (одновременно max_parallel 1)\n"
            ),
            "{russian}"
        );
        assert!(
            russian.contains(
                "(переменная окружения OLLAMA_HOST; не используется: задан ollama_hosts)"
            ),
            "{russian}"
        );
    }

    #[test]
    fn show_config_rows_line_up_in_both_languages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let args = cli::Args::default();
        let resolved = settings::resolve_without_file(&args, &Environment::default(), &path)
            .expect("defaults");
        let endpoint = Endpoint::default_for_port(5050);
        let log = settings::log_path_for(&resolved.config_path)
            .display()
            .to_string();
        for (lang, not_yet, default) in [
            (Lang::En, "(not created yet)", "(default)"),
            (Lang::Ru, "(ещё не создан)", "(по умолчанию)"),
        ] {
            let shown = show_config_text(lang, &resolved, &endpoint);
            let lines: Vec<&str> = shown.lines().collect();
            let values = [
                path.display().to_string(),
                log.clone(),
                endpoint.to_string(),
                "http://localhost:11434".to_string(),
            ];
            let columns: Vec<usize> = lines
                .iter()
                .zip(&values)
                .map(|(line, value)| value_column(line, value))
                .collect();
            assert!(
                columns.iter().all(|c| *c == columns[0]),
                "{lang:?}:\n{shown}"
            );
            assert!(lines[0].ends_with(&format!(" {not_yet}")), "{shown}");
            assert_eq!(lines[4], "");
            let rows = &lines[5..];
            assert_eq!(rows.len(), config::KEYS.len());
            for (row, key) in rows.iter().zip(config::KEYS) {
                assert!(row.starts_with(key.name), "{row}");
                let value = resolved.settings.display_value(key.name);
                assert_eq!(value_column(row, &value), 24, "{row}");
                if value.chars().count() < 24 {
                    assert_eq!(value_column(row, default), 49, "{row}");
                }
            }
        }
    }
}
