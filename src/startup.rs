//! What the modes share before they start: reading a token given as
//! `--force-token -` or `--token-file PATH` (so that it never is in the
//! process's arguments), deleting the config file on `--reset-config`,
//! asking the first-run questions at a terminal (and never elsewhere),
//! saving flags and answers to the config file, and setting up the log
//! beside it.

use std::io::{self, BufRead};
use std::path::Path;

use serde_json::Value;

use crate::cli::{Args, SavedFlag, TokenFrom};
use crate::console::{self, print};
use crate::exit::Fatal;
use crate::first_run;
use crate::logging::{self, LogSetup};
use crate::settings::Resolved;

/// The longest first line read for a token: far more than any token, and a
/// bound on what a wrong file (a log, `/dev/zero`) makes the client read.
const TOKEN_LINE_MAX: usize = 64 * 1024;

/// `--force-token -` and `--token-file PATH`: reads the token (the first
/// line of standard input or of the file, trimmed) and adds it to the saved
/// flags as `--force-token TOKEN` would, so that it is used and saved like
/// one. Standard input that gives no token is a usage error; a token file
/// that cannot be read or gives no token is a configuration error. The
/// messages never include what was read.
pub fn read_token(args: &mut Args) -> Result<(), Fatal> {
    let Some(from) = args.token_from.take() else {
        return Ok(());
    };
    let token = match &from {
        TokenFrom::Stdin => token_from_stdin()?,
        TokenFrom::File(path) => token_from_file(path)?,
    };
    args.saved.push(SavedFlag {
        key: "token",
        value: Value::String(token),
        flag: from.flag(),
    });
    Ok(())
}

/// Why no token came out of a first line.
enum NoToken {
    /// The input ended before any byte.
    Ended,
    /// The first line is blank.
    Blank,
    TooLong,
    NotText,
    Io(io::Error),
}

impl NoToken {
    fn what(&self) -> String {
        match self {
            NoToken::Ended => "is empty".into(),
            NoToken::Blank => "starts with an empty line".into(),
            NoToken::TooLong => format!("has a first line longer than {TOKEN_LINE_MAX} bytes"),
            NoToken::NotText => "has a first line that is not UTF-8 text".into(),
            NoToken::Io(e) => format!("cannot be read: {e}"),
        }
    }
}

/// The first line of `input`, trimmed, as a token. Reads no further than
/// the end of that line, so that the rest stays for whoever reads next
/// (`--test` reads its prompts from the same standard input).
fn first_line(input: impl BufRead) -> Result<String, NoToken> {
    let mut line = Vec::new();
    let limit = TOKEN_LINE_MAX as u64 + 1;
    input
        .take(limit)
        .read_until(b'\n', &mut line)
        .map_err(NoToken::Io)?;
    if line.is_empty() {
        return Err(NoToken::Ended);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    } else if line.len() > TOKEN_LINE_MAX {
        return Err(NoToken::TooLong);
    }
    let line = String::from_utf8(line).map_err(|_| NoToken::NotText)?;
    match line.trim() {
        "" => Err(NoToken::Blank),
        token => Ok(token.to_string()),
    }
}

/// At a terminal the token is typed without echo, as at the first run.
fn token_from_stdin() -> Result<String, Fatal> {
    let read = if console::stdin_is_terminal() {
        let _echo_back_on_ctrl_c = console::TerminalGuard::install();
        match console::read_secret_line("Hub token (input hidden): ") {
            Some(line) => first_line(line.as_bytes()),
            None => Err(NoToken::Ended),
        }
    } else {
        first_line(io::stdin().lock())
    };
    read.map_err(|why| {
        Fatal::usage(format!(
            "--force-token - reads the token from standard input, which {}",
            why.what()
        ))
    })
}

fn token_from_file(path: &Path) -> Result<String, Fatal> {
    let read = std::fs::File::open(path)
        .map_err(NoToken::Io)
        .and_then(|file| first_line(io::BufReader::new(file)));
    read.map_err(|why| {
        let fix = match why {
            NoToken::Io(_) => "",
            _ => " (its first line must be the hub token)",
        };
        Fatal::config(format!(
            "the token file {} {}{fix}",
            path.display(),
            why.what()
        ))
    })
}

pub fn reset_config(path: &Path) -> Result<(), Fatal> {
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
pub fn complete_settings(args: &Args, resolved: &mut Resolved) -> Result<(), Fatal> {
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
            "no hub token in {} and no terminal to ask for one: save it to the \
             config with --token-file PATH (the file's first line) or --force-token - \
             (one line of standard input), or set the OLLAMA_PROXY_TOKEN \
             environment variable",
            resolved.config_path.display()
        )));
    }
    Ok(())
}

/// Writes flags and answers into the config file, and says so.
pub fn save(resolved: &mut Resolved) -> Result<(), Fatal> {
    if resolved.save().map_err(|e| Fatal::config(e.to_string()))? {
        print(&format!(
            "Settings saved to {}\n",
            resolved.config_path.display()
        ));
    }
    Ok(())
}

pub fn init_logging(args: &Args, resolved: &Resolved) {
    let log_path = resolved.log_path();
    logging::init(&LogSetup {
        console_debug: args.debug || args.test,
        file: Some(&log_path),
        max_bytes: resolved.settings.log_max_bytes,
        files_kept: resolved.settings.log_files_kept,
    });
}
