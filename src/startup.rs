//! What the modes share before they start: reading a token given as
//! `--force-token -` or `--token-file PATH` (so that it never is in the
//! process's arguments), setting the config file aside on `--reset-config`
//! (only at a terminal, and kept as `.bak` until new settings are saved),
//! asking the first-run questions at a terminal (and never elsewhere),
//! saving flags and answers to the config file, setting up the log beside
//! it, and what the workers ask each backend ([`backend_target`]: its
//! https roots, and its bearer key, read from its `api_key_file`).

use std::io::{self, BufRead};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::address::OllamaUrl;
use crate::cli::{Args, SavedFlag, TokenFrom};
use crate::config::{BackendSpec, Settings};
use crate::console::{self, say};
use crate::exit::Fatal;
use crate::first_run;
use crate::logging::{self, LogSetup};
use crate::ollama::OllamaTarget;
use crate::secret::Token;
use crate::settings::{self, Resolved};
use crate::state_file;
use crate::text::{startup as text, Text};
use crate::tls;

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

/// The first line of `input`, trimmed, as a token, or what is wrong with
/// the input (after "standard input, which" or "the token file PATH");
/// `Err` when it cannot be read. Reads no further than the end of that
/// line, so that the rest stays for whoever reads next (`--test` reads its
/// prompts from the same standard input).
fn first_line(input: impl BufRead) -> io::Result<Result<String, Text>> {
    let mut line = Vec::new();
    input
        .take(TOKEN_LINE_MAX as u64 + 1)
        .read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Ok(Err(text::token_input_empty()));
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    } else if line.len() > TOKEN_LINE_MAX {
        return Ok(Err(text::token_input_line_too_long(TOKEN_LINE_MAX)));
    }
    Ok(match String::from_utf8(line) {
        Err(_) => Err(text::token_input_not_text()),
        Ok(line) if line.trim().is_empty() => Err(text::token_input_starts_blank()),
        Ok(line) => Ok(line.trim().to_string()),
    })
}

/// At a terminal the token is typed without echo, as at the first run.
fn token_from_stdin() -> Result<String, Fatal> {
    let read = if console::stdin_is_terminal() {
        let _echo_back_on_ctrl_c = console::TerminalGuard::install(|| {});
        let typed = console::read_secret_line(&text::token_prompt().owner());
        // The end of input gives nothing, as an empty line does.
        first_line(typed.unwrap_or_default().as_bytes())
    } else {
        first_line(io::stdin().lock())
    };
    let why = match read {
        Ok(Ok(token)) => return Ok(token),
        Ok(Err(why)) => why,
        Err(e) => text::token_input_unreadable(e),
    };
    Err(Fatal::usage(text::token_stdin_unusable(why)))
}

/// What the workers ask the backend of `spec`: its own model and options
/// (else the global ones: the global `options` are Ollama's, so an
/// OpenAI-compatible backend gets only its own), the owner's limits, what
/// its https is checked against, and its bearer key, read from its
/// `api_key_file` (the first line, trimmed, as for `--token-file`).
pub fn backend_target(
    spec: &BackendSpec,
    settings: &Settings,
    ca_file: Option<&Path>,
) -> Result<OllamaTarget, Fatal> {
    let global_options = match spec.own.api {
        crate::ollama::Api::Ollama => settings.options.clone(),
        crate::ollama::Api::OpenAi => Default::default(),
    };
    let api_key = match &spec.own.api_key_file {
        Some(path) => Some(Token::new(api_key_from_file(path)?)),
        None => None,
    };
    Ok(OllamaTarget {
        roots: tls::ollama_roots(ca_file, &spec.base_url)?,
        base_url: spec.base_url.clone(),
        api: spec.own.api,
        api_key,
        include_usage: spec.own.include_usage,
        send_reasoning: spec.own.send_reasoning,
        model: spec
            .own
            .model
            .clone()
            .unwrap_or_else(|| settings.model.clone()),
        keep_alive: settings.keep_alive.clone(),
        options: spec.own.options.clone().unwrap_or(global_options),
        load_timeout: settings.load_timeout,
        idle_timeout: settings.idle_timeout,
        max_answer_time: settings.max_answer_secs,
        max_answer_tokens: settings.max_answer_tokens,
        max_line_bytes: settings.max_line_bytes,
    })
}

/// A secret kept in a file (`--token-file`, a backend's `api_key_file`),
/// opened as `file`: its first line, trimmed. The messages name the file,
/// never what was read: `unusable` when it cannot be read, `has_none` when
/// its first line gives nothing.
fn secret_from(
    file: io::Result<std::fs::File>,
    path: &Path,
    unusable: fn(String, Text) -> Text,
    has_none: fn(String, Text) -> Text,
) -> Result<String, Fatal> {
    let read = file.and_then(|file| first_line(io::BufReader::new(file)));
    let path = path.display().to_string();
    Err(Fatal::config(match read {
        Ok(Ok(secret)) => return Ok(secret),
        Ok(Err(why)) => has_none(path, why),
        Err(e) => unusable(path, text::token_input_unreadable(state_file::reason(&e))),
    }))
}

/// The token file may be a pipe (`--token-file <(pass show hub)`), read
/// once at a terminal.
fn token_from_file(path: &Path) -> Result<String, Fatal> {
    let (unusable, has_none) = (text::token_file_unusable, text::token_file_has_no_token);
    secret_from(std::fs::File::open(path), path, unusable, has_none)
}

/// A key file is read at every unattended start: a named pipe in its
/// place is refused (`state_file`), not waited on.
fn api_key_from_file(path: &Path) -> Result<String, Fatal> {
    let (unusable, has_none) = (text::api_key_file_unusable, text::api_key_file_has_no_key);
    let file = state_file::open(path, state_file::Access::Read);
    secret_from(file, path, unusable, has_none)
}

/// `--reset-config`: moves the config file aside to `<name>.bak` (mode
/// 0600) so that the first-run questions start from nothing; the returned
/// [`ResetBackup`] deletes it once new settings are saved, and otherwise
/// puts it back. Only at a terminal: elsewhere nobody can answer the
/// questions, and the file (the token and unknown keys included) would be
/// lost, so nothing is touched and the run stops with status 78.
pub fn reset_config(path: &Path) -> Result<Option<ResetBackup>, Fatal> {
    let shown = path.display().to_string();
    if !console::stdin_is_terminal() {
        return Err(Fatal::config(text::reset_needs_terminal(shown)));
    }
    // `config.json` -> `config.json.bak`, beside it.
    let mut backup = path.as_os_str().to_os_string();
    backup.push(".bak");
    let backup = PathBuf::from(backup);
    let backup_shown = backup.display().to_string();
    match std::fs::symlink_metadata(path) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            say(text::reset_no_config_file(shown));
            return Ok(None);
        }
        Err(e) => return Err(Fatal::config(crate::text::files::cannot_read(shown, e))),
    }
    std::fs::rename(path, &backup)
        .map_err(|e| Fatal::config(text::reset_cannot_move_aside(&shown, &backup_shown, e)))?;
    if std::fs::symlink_metadata(&backup).is_ok_and(|m| m.is_file()) {
        if let Err(e) = crate::platform::files::set_private(&backup) {
            say(text::reset_cannot_make_private(&backup_shown, e));
        }
    }
    say(text::reset_deleting(shown, backup_shown));
    Ok(Some(ResetBackup {
        config: path.to_path_buf(),
        backup,
    }))
}

/// The old config file, set aside by `--reset-config`. When it is dropped
/// after new settings were saved, the backup is deleted; when nothing new
/// was saved (an error, the end of input at a question, a mode that saves
/// nothing), the old file is put back and the console says so. Ctrl+C at a
/// question does the same ([`ResetBackup::settler`]).
pub struct ResetBackup {
    config: PathBuf,
    backup: PathBuf,
}

impl ResetBackup {
    /// The same settling, for a signal thread that ends the program.
    pub fn settler(&self) -> impl FnOnce() + Send + 'static {
        let (config, backup) = (self.config.clone(), self.backup.clone());
        move || settle(&config, &backup)
    }
}

impl Drop for ResetBackup {
    fn drop(&mut self) {
        settle(&self.config, &self.backup);
    }
}

fn settle(config: &Path, backup: &Path) {
    if std::fs::symlink_metadata(config).is_ok() {
        let _ = std::fs::remove_file(backup);
        return;
    }
    let config_shown = config.display().to_string();
    match std::fs::rename(backup, config) {
        Ok(()) => say(text::reset_put_back(config_shown)),
        Err(e) => say(text::reset_not_put_back(e, backup.display(), config_shown)),
    }
}

/// Asks for missing settings at a terminal; elsewhere a missing token is
/// fatal at once (test mode runs without the hub instead). Ctrl+C at a
/// question puts the echo back and, after `--reset-config`, the old config
/// file too.
pub fn complete_settings(
    args: &Args,
    resolved: &mut Resolved,
    reset: Option<&ResetBackup>,
) -> Result<(), Fatal> {
    let missing = first_run::missing(resolved);
    if missing.is_empty() {
        return Ok(());
    }
    if console::stdin_is_terminal() {
        let put_back = reset.map(ResetBackup::settler);
        let _echo_back_on_ctrl_c = console::TerminalGuard::install(move || {
            if let Some(put_back) = put_back {
                put_back();
            }
        });
        let roots = |base_url: &OllamaUrl| {
            tls::ollama_roots(args.ca_file.as_deref(), base_url).map_err(|fatal| fatal.message)
        };
        return first_run::ask(resolved, &missing, &roots).map_err(Fatal::config);
    }
    if resolved.settings.token.is_none() && !args.test {
        let path = resolved.config_path.display().to_string();
        return Err(Fatal::config(text::no_token_and_no_terminal(path)));
    }
    Ok(())
}

/// Writes flags and answers into the config file, and says so.
pub fn save(resolved: &mut Resolved) -> Result<(), Fatal> {
    if resolved.save().map_err(|e| Fatal::config(e.text()))? {
        say(text::settings_saved(resolved.config_path.display()));
    }
    Ok(())
}

pub fn init_logging(args: &Args, resolved: &Resolved) {
    let log_path = settings::log_path_for(&resolved.config_path);
    logging::init(&LogSetup {
        console_debug: args.debug || args.test,
        file: Some(&log_path),
        max_bytes: resolved.settings.log_max_bytes,
        files_kept: resolved.settings.log_files_kept,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The token in `input`'s first line, if it has one.
    fn token(input: impl BufRead) -> Option<String> {
        first_line(input).ok()?.ok()
    }

    #[test]
    fn a_token_is_the_first_line_and_the_rest_is_left_unread() {
        let mut input: &[u8] = b"  the-token \nnext prompt\n";
        assert_eq!(token(&mut input).as_deref(), Some("the-token"));
        assert_eq!(input, b"next prompt\n");
    }

    #[test]
    fn a_token_line_may_be_as_long_as_the_limit_but_no_longer() {
        let longest = "t".repeat(TOKEN_LINE_MAX);
        let text = format!("{longest}\nrest\n");
        let mut input = text.as_bytes();
        assert_eq!(token(&mut input), Some(longest.clone()));
        assert_eq!(input, b"rest\n");
        // The same without its newline, at the end of input.
        assert_eq!(token(longest.as_bytes()), Some(longest.clone()));
        let too_long = "t".repeat(TOKEN_LINE_MAX + 1);
        let why = first_line(too_long.as_bytes()).unwrap().unwrap_err();
        let expected = text::token_input_line_too_long(TOKEN_LINE_MAX);
        assert_eq!(why.english(), expected.english());
        // Tokens are far shorter; a few thousand bytes are fine.
        let long = "k".repeat(2000);
        assert_eq!(token(long.as_bytes()), Some(long));
    }

    #[test]
    fn what_a_token_file_lacks_is_said_and_its_fix_only_when_it_helps() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let message = token_from_file(&missing).unwrap_err().message.english();
        assert!(message.contains("cannot be read"), "{message}");
        assert!(!message.contains("first line must be"), "{message}");
        let blank = dir.path().join("blank");
        std::fs::write(&blank, "\nsecret-on-line-2\n").unwrap();
        let message = token_from_file(&blank).unwrap_err().message.english();
        assert!(
            message.contains("its first line must be the hub token"),
            "{message}"
        );
        assert!(!message.contains("secret-on-line-2"), "{message}");
    }

    #[test]
    fn an_api_key_file_is_read_from_a_file_never_waited_on_and_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("vllm.key");
        std::fs::write(&key, "  sk-local-1234  \nsecond line\n").unwrap();
        assert_eq!(api_key_from_file(&key).unwrap(), "sk-local-1234");
        // A named pipe in its place would hold an unattended start forever.
        let pipe = dir.path().join("pipe.key");
        let name = std::ffi::CString::new(pipe.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let refused = api_key_from_file(&pipe).unwrap_err();
        assert_eq!(refused.status, crate::exit::CONFIG);
        let message = refused.message.english();
        assert!(message.starts_with("the API key file "), "{message}");
        assert!(message.contains("named pipe"), "{message}");
        let blank = dir.path().join("blank.key");
        std::fs::write(&blank, "\nsk-on-line-2\n").unwrap();
        let message = api_key_from_file(&blank).unwrap_err().message.english();
        assert!(
            message.contains("its first line must be the backend's key"),
            "{message}"
        );
        assert!(!message.contains("sk-on-line-2"), "{message}");
    }

    #[test]
    fn what_a_token_input_lacks_is_said_in_russian_too() {
        use crate::text::Lang;
        let dir = tempfile::tempdir().unwrap();
        let blank = dir.path().join("blank");
        std::fs::write(&blank, "\n").unwrap();
        let message = token_from_file(&blank)
            .unwrap_err()
            .message
            .in_lang(Lang::Ru);
        assert_eq!(
            message,
            format!(
                "файл с токеном {} начинается с пустой строки (его первой строкой \
                 должен быть токен хаба)",
                blank.display()
            )
        );
        let too_long = text::token_stdin_unusable(text::token_input_line_too_long(TOKEN_LINE_MAX));
        assert_eq!(
            too_long.english(),
            "--force-token - reads the token from standard input, which has a first \
             line longer than 65536 bytes"
        );
        assert_eq!(
            too_long.in_lang(Lang::Ru),
            "--force-token - читает токен со стандартного ввода, а он начинается со \
             строки длиннее 65536 байт"
        );
        for (max, english, russian) in [(1, "1 byte", "1 байта"), (3, "3 bytes", "3 байт")]
        {
            let line = text::token_input_line_too_long(max);
            assert!(line.english().ends_with(english), "{}", line.english());
            assert!(
                line.in_lang(Lang::Ru).ends_with(russian),
                "{}",
                line.in_lang(Lang::Ru)
            );
        }
    }
}
