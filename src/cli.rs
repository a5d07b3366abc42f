//! The command line, in the first of two stages (as ripgrep does it): this
//! module only records what was typed, with no I/O, so it is easy to test.
//! `settings` then combines it with the environment and the config file.
//!
//! The flags are the original Python client's (so that owners switch
//! without relearning anything) plus this client's own. The flags saved to
//! the config file are one table, [`SAVED_FLAGS`]: each names the config
//! key it sets, so parsing records (key, JSON value, flag) in
//! [`Args::saved`], `settings` passes those through the key's own check,
//! and the help's "saved" section is rendered from the table with each
//! key's default.
//!
//! The token can be given without putting it in the process's arguments,
//! where every local user can read it (`/proc/PID/cmdline`) for as long as
//! the client runs: `--force-token -` (standard input) and `--token-file
//! PATH` are recorded in [`Args::token_from`], and `startup` reads them.

use std::ffi::OsString;
use std::path::PathBuf;

use serde_json::Value;

use crate::config::Settings;

/// How a saved flag's value is given on the command line.
pub enum FlagValue {
    /// Non-empty text, named in the help by this placeholder.
    Text(&'static str),
    /// A port from 1 to 65535, named in the help by this placeholder.
    Port(&'static str),
    /// No value: the flag itself means `true` or `false`.
    Switch(bool),
    /// The token: non-empty text, or `-` to read it from standard input.
    /// Never repeated in a message.
    Secret(&'static str),
    /// A file whose first line is the token, named in the help by this
    /// placeholder.
    SecretFile(&'static str),
}

/// A flag whose value is saved to the config file under `key`.
pub struct SavedFlagEntry {
    pub flag: &'static str,
    pub key: &'static str,
    pub value: FlagValue,
    /// The help text; a line break continues it in the help's second column.
    /// The key's default is added by the help itself.
    pub help: &'static str,
}

/// Every saved flag, in help order. Flags that share a key (`--stream`,
/// `--no-stream`) contradict each other when given together.
pub const SAVED_FLAGS: &[SavedFlagEntry] = &[
    SavedFlagEntry {
        flag: "--force-token",
        key: "token",
        value: FlagValue::Secret("TOKEN"),
        help: "Set the hub token. Prefer --force-token - (reads\n\
               it from standard input) or --token-file: a TOKEN\n\
               typed here is visible to every local user (ps)\n\
               for the whole run",
    },
    SavedFlagEntry {
        flag: "--token-file",
        key: "token",
        value: FlagValue::SecretFile("PATH"),
        help: "Set the hub token from the first line of PATH",
    },
    SavedFlagEntry {
        flag: "--force-model",
        key: "model",
        value: FlagValue::Text("NAME"),
        help: "Set the Ollama model",
    },
    SavedFlagEntry {
        flag: "--ollama-host",
        key: "ollama_host",
        value: FlagValue::Text("HOST"),
        help: "Set Ollama's host",
    },
    SavedFlagEntry {
        flag: "--ollama-port",
        key: "ollama_port",
        value: FlagValue::Port("PORT"),
        help: "Set Ollama's port",
    },
    SavedFlagEntry {
        flag: "--stream",
        key: "stream_mode",
        value: FlagValue::Switch(true),
        help: "Answer in pieces as Ollama produces them",
    },
    SavedFlagEntry {
        flag: "--no-stream",
        key: "stream_mode",
        value: FlagValue::Switch(false),
        help: "Answer in one frame",
    },
];

/// A saved flag as typed: the config key it sets, the value as the config
/// file would hold it, and the flag (for messages and `--show-config`).
#[derive(Debug, PartialEq)]
pub struct SavedFlag {
    pub key: &'static str,
    pub value: Value,
    pub flag: &'static str,
}

/// Where a token that was not typed on the command line is to be read
/// from; `startup` reads it (this module does no I/O).
#[derive(Debug, PartialEq)]
pub enum TokenFrom {
    /// `--force-token -`: the first line of standard input.
    Stdin,
    /// `--token-file PATH`: the file's first line.
    File(PathBuf),
}

impl TokenFrom {
    /// The flag that asked for it, for messages and `--show-config`.
    pub fn flag(&self) -> &'static str {
        match self {
            TokenFrom::Stdin => "--force-token",
            TokenFrom::File(_) => "--token-file",
        }
    }
}

/// The config key of the token, the one setting that can be read from
/// standard input or a file.
const TOKEN_KEY: &str = "token";

/// What the owner typed.
#[derive(Debug, Default, PartialEq)]
pub struct Args {
    pub help: bool,
    pub version: bool,
    pub debug: bool,
    /// Print every setting and where it came from, then exit.
    pub show_config: bool,
    /// Set the config file aside and run the first-run questions again.
    pub reset_config: bool,
    /// The flags of [`SAVED_FLAGS`] that were given, at most one per key.
    pub saved: Vec<SavedFlag>,
    /// `--force-token -` or `--token-file PATH` (then the token is not in
    /// `saved` until `startup` has read it).
    pub token_from: Option<TokenFrom>,
    /// Prompts from standard input, answered on the console and to the hub.
    pub test: bool,
    /// Check config, Ollama, model and hub, then exit 0 or 1.
    pub check: bool,
    /// A full hub URL, replacing the default `wss://bober.app:<port>/auth-proxy`.
    pub server: Option<String>,
    /// The default hub URL's port, for this run only.
    pub port: Option<u16>,
    /// An extra CA certificate (PEM) to trust for the hub and an https://
    /// Ollama.
    pub ca_file: Option<PathBuf>,
    /// Another config file instead of `~/.config/ollama_proxy/config.json`.
    pub config: Option<PathBuf>,
}

/// A usage error: printed as one line plus the usage hint, exit status 2.
/// Its text never repeats a flag's value, so a mistyped token is not echoed.
#[derive(Debug, PartialEq)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Args, UsageError> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_args(args);
    let mut parsed = Args::default();
    while let Some(arg) = parser.next().map_err(usage)? {
        if let Long(name) = arg {
            if let Some(option) = saved_option(name) {
                let given = saved_value(&mut parser, option)?;
                record(&mut parsed, option, given)?;
                continue;
            }
        }
        match arg {
            Short('h') | Long("help") => parsed.help = true,
            Short('V') | Long("version") => parsed.version = true,
            Long("debug") => parsed.debug = true,
            Long("show-config") => parsed.show_config = true,
            Long("reset-config") => parsed.reset_config = true,
            Long("test") => parsed.test = true,
            Long("check") => parsed.check = true,
            Long("server") => parsed.server = Some(text(&mut parser, "--server")?),
            Long("port") => parsed.port = Some(port(&mut parser, "--port")?),
            Long("ca-file") => parsed.ca_file = Some(value(&mut parser, "--ca-file")?.into()),
            Long("config") => parsed.config = Some(value(&mut parser, "--config")?.into()),
            other => return Err(usage(other.unexpected())),
        }
    }
    if parsed.test && parsed.check {
        return Err(UsageError(
            "--test and --check cannot be used together".into(),
        ));
    }
    Ok(parsed)
}

/// lexopt's message, except where it would repeat a value: a stray
/// argument may well be a token typed in the wrong place.
fn usage(error: lexopt::Error) -> UsageError {
    match error {
        lexopt::Error::UnexpectedArgument(_) => {
            UsageError("unexpected argument: this program takes only options".into())
        }
        lexopt::Error::UnexpectedValue { option, .. } => {
            UsageError(format!("option '{option}' takes no value"))
        }
        lexopt::Error::NonUnicodeValue(_) => UsageError("an argument is not valid UTF-8".into()),
        other => UsageError(other.to_string()),
    }
}

/// Every long flag of this program, for telling a forgotten value from a
/// value: `--config --show-config` means the owner forgot the path.
const LONG_FLAGS: &[&str] = &[
    "--help",
    "--version",
    "--debug",
    "--show-config",
    "--reset-config",
    "--test",
    "--check",
    "--server",
    "--port",
    "--ca-file",
    "--config",
];

/// A flag's value: attached (`--flag=VALUE`, taken as it is) or the next
/// argument, which must not start with `--`: `--config --show-config` is a
/// forgotten value, not a file named `--show-config`, and `--force-token
/// --check` must not save `--check` as the token. The message names the
/// next argument only when it is one of this program's flags, and never
/// for the token's flag.
fn value(parser: &mut lexopt::Parser, flag: &str) -> Result<OsString, UsageError> {
    if let Some(attached) = parser.optional_value() {
        return Ok(attached);
    }
    let value = parser.value().map_err(usage)?;
    if !value.as_encoded_bytes().starts_with(b"--") {
        return Ok(value);
    }
    let name = value.to_str().and_then(|v| v.split('=').next());
    let known = name.filter(|name| {
        LONG_FLAGS.contains(name) || SAVED_FLAGS.iter().any(|option| option.flag == *name)
    });
    let next = match known {
        Some(name) if !is_secret(flag) => format!("'{name}' looks"),
        _ => "the next argument looks".into(),
    };
    Err(UsageError(format!(
        "{flag} needs a value; {next} like another option (write {flag}=VALUE if you mean it)"
    )))
}

/// A non-empty UTF-8 value.
fn text(parser: &mut lexopt::Parser, flag: &str) -> Result<String, UsageError> {
    let value = value(parser, flag)?;
    let value = value
        .into_string()
        .map_err(|_| UsageError(format!("{flag} needs UTF-8 text")))?;
    if value.trim().is_empty() {
        return Err(UsageError(format!("{flag} needs a non-empty value")));
    }
    Ok(value.trim().to_string())
}

fn port(parser: &mut lexopt::Parser, flag: &str) -> Result<u16, UsageError> {
    let value = text(parser, flag)?;
    match value.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        // The value is not repeated: it may be a token typed in the wrong place.
        _ => Err(UsageError(format!("{flag} needs a port from 1 to 65535"))),
    }
}

/// Whether the flag's value is the token, never to be repeated.
fn is_secret(flag: &str) -> bool {
    SAVED_FLAGS
        .iter()
        .any(|option| option.flag == flag && matches!(option.value, FlagValue::Secret(_)))
}

/// The table's entry for a long flag (given without its `--`).
fn saved_option(name: &str) -> Option<&'static SavedFlagEntry> {
    SAVED_FLAGS
        .iter()
        .find(|option| option.flag.strip_prefix("--") == Some(name))
}

/// A saved flag's value as typed: the value itself, or where to read it.
enum Given {
    /// As the config file would hold it.
    Value(Value),
    /// The token, to be read at startup.
    Read(TokenFrom),
}

fn saved_value(parser: &mut lexopt::Parser, option: &SavedFlagEntry) -> Result<Given, UsageError> {
    Ok(match option.value {
        FlagValue::Text(_) => Given::Value(Value::String(text(parser, option.flag)?)),
        FlagValue::Port(_) => Given::Value(Value::from(port(parser, option.flag)?)),
        FlagValue::Switch(on) => Given::Value(Value::Bool(on)),
        FlagValue::Secret(_) => match text(parser, option.flag)?.as_str() {
            "-" => Given::Read(TokenFrom::Stdin),
            token => Given::Value(Value::String(token.to_string())),
        },
        FlagValue::SecretFile(_) => {
            let path = value(parser, option.flag)?;
            if path.is_empty() {
                return Err(UsageError(format!("{} needs a file name", option.flag)));
            }
            Given::Read(TokenFrom::File(path.into()))
        }
    })
}

impl Args {
    /// The flag that set `key` so far, if any.
    fn flag_for(&self, key: &str) -> Option<&'static str> {
        let saved = self.saved.iter().find(|saved| saved.key == key);
        let read = self.token_from.as_ref().filter(|_| key == TOKEN_KEY);
        saved
            .map(|saved| saved.flag)
            .or_else(|| read.map(TokenFrom::flag))
    }
}

/// Keeps a saved flag's value. A repeated flag's last value wins, like any
/// other option's (`--force-token -` after `--force-token TOKEN`, too); two
/// different flags for one key contradict each other.
fn record(
    parsed: &mut Args,
    option: &'static SavedFlagEntry,
    given: Given,
) -> Result<(), UsageError> {
    if let Some(earlier) = parsed.flag_for(option.key) {
        if earlier != option.flag {
            return Err(conflict(earlier, option.flag));
        }
    }
    let earlier = parsed
        .saved
        .iter()
        .position(|saved| saved.key == option.key);
    match given {
        Given::Value(value) => {
            if option.key == TOKEN_KEY {
                parsed.token_from = None;
            }
            match earlier {
                Some(index) => parsed.saved[index].value = value,
                None => parsed.saved.push(SavedFlag {
                    key: option.key,
                    value,
                    flag: option.flag,
                }),
            }
        }
        Given::Read(from) => {
            if let Some(index) = earlier {
                parsed.saved.remove(index);
            }
            parsed.token_from = Some(from);
        }
    }
    Ok(())
}

/// Names the two flags in table order, whichever came first on the line.
fn conflict(a: &str, b: &str) -> UsageError {
    let position = |flag| SAVED_FLAGS.iter().position(|option| option.flag == flag);
    let (first, second) = if position(a) <= position(b) {
        (a, b)
    } else {
        (b, a)
    };
    UsageError(format!("{first} and {second} cannot be used together"))
}

pub const USAGE_HINT: &str = "Try 'ollama-proxy-client --help' for more information.";

pub fn help_text(config_path: &str, log_path: &str) -> String {
    format!(
        "\
ollama-proxy-client {version}
Sells this box's local Ollama on the marketplace hub: keeps one outbound
WebSocket to the hub, runs buyers' prompts on Ollama, streams answers back.

USAGE:
    ollama-proxy-client [OPTIONS]

OPTIONS (saved to the config file):
{saved}
OPTIONS (this run only):
    --server URL          Hub URL [default: wss://bober.app:PORT/auth-proxy];
                          ws:// only for loopback hosts
    --port PORT           Port of the default hub URL [default: 5050]
    --ca-file PATH        Also trust this CA certificate (PEM) for the hub
                          and an https:// Ollama
    --config PATH         Use this config file (one per GPU, say)
    --debug               Show debug messages on the console

MODES:
    (none)                Serve buyers until stopped (SIGTERM, SIGHUP or
                          Ctrl+C: running answers get time to finish)
    --test                Type prompts; answers show here and go to the hub
                          with messageId -1
    --check               Check config, Ollama, model and hub; exit 0 or 1
    --show-config         Show every setting and where it came from
    --reset-config        Ask everything again, at a terminal only; the old
                          config file is kept as .bak until new settings
                          are saved (and put back if none are)
    -h, --help            Show this help
    -V, --version         Show the version

FILES:
    config   {config_path}
    log      {log_path}
             (rotated by size; every level, with timestamps)

ENVIRONMENT:
    OLLAMA_PROXY_TOKEN    The hub token (beats the config file)
    OLLAMA_HOST           Ollama's address, in any form Ollama accepts, used
                          when the config file sets none
    SSL_CERT_FILE         An extra CA certificate (PEM) to trust for the hub
                          and an https:// Ollama

Precedence: command line, then environment, then config file, then default.

EXIT STATUS:
    0    normal end (also after SIGTERM/SIGHUP/Ctrl+C)
    1    --check found a problem
    2    usage error
    71   a thread could not be started (the system is out of resources)
    78   configuration missing or invalid
",
        version = env!("CARGO_PKG_VERSION"),
        saved = saved_options_help(),
    )
}

/// Where the help's second column starts.
const HELP_COLUMN: usize = 26;

/// The help's lines for [`SAVED_FLAGS`], each with its key's default.
fn saved_options_help() -> String {
    let defaults = Settings::default();
    let mut text = String::new();
    for option in SAVED_FLAGS {
        let usage = flag_usage(option);
        let help = option.help.to_string() + &default_note(option, &defaults);
        let mut lines = help.lines();
        let first = lines.next().unwrap_or_default();
        // At least one space between the columns, even for a long flag.
        text.push_str(&format!(
            "    {usage:<width$} {first}\n",
            width = HELP_COLUMN - 5
        ));
        for line in lines {
            text.push_str(&format!("{:HELP_COLUMN$}{line}\n", ""));
        }
    }
    text
}

/// The flag with its value's placeholder: `--ollama-port PORT`.
fn flag_usage(option: &SavedFlagEntry) -> String {
    match option.value {
        FlagValue::Text(name)
        | FlagValue::Port(name)
        | FlagValue::Secret(name)
        | FlagValue::SecretFile(name) => format!("{} {name}", option.flag),
        FlagValue::Switch(_) => option.flag.to_string(),
    }
}

/// " [default: x]" for a flag with a value, " [default]" for the switch
/// that matches the default, nothing where there is no default (the token).
fn default_note(option: &SavedFlagEntry, defaults: &Settings) -> String {
    let shown = defaults.display_value(option.key);
    match option.value {
        FlagValue::Switch(on) if shown == on.to_string() => " [default]".into(),
        FlagValue::Switch(_) => String::new(),
        _ if shown.starts_with('(') => String::new(),
        _ => format!(" [default: {shown}]"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse_strs(args: &[&str]) -> Result<Args, UsageError> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn flags_in_any_order() {
        let args = parse_strs(&[
            "--no-stream",
            "--debug",
            "--port",
            "6000",
            "--server=ws://127.0.0.1:1/x",
            "--force-model",
            "qwen3:8b",
            "--ollama-port=11435",
            "--show-config",
        ])
        .unwrap();
        assert!(args.debug && args.show_config);
        assert_eq!(args.port, Some(6000));
        assert_eq!(args.server.as_deref(), Some("ws://127.0.0.1:1/x"));
        assert_eq!(
            args.saved,
            [
                saved("stream_mode", json!(false), "--no-stream"),
                saved("model", json!("qwen3:8b"), "--force-model"),
                saved("ollama_port", json!(11435), "--ollama-port"),
            ]
        );
    }

    fn saved(key: &'static str, value: Value, flag: &'static str) -> SavedFlag {
        SavedFlag { key, value, flag }
    }

    #[test]
    fn a_repeated_saved_flag_keeps_its_last_value() {
        let args = parse_strs(&[
            "--force-model",
            " a ",
            "--stream",
            "--force-model=b",
            "--stream",
        ])
        .unwrap();
        assert_eq!(
            args.saved,
            [
                saved("model", json!("b"), "--force-model"),
                saved("stream_mode", json!(true), "--stream"),
            ]
        );
    }

    #[test]
    fn contradicting_flags_are_named_in_table_order() {
        for args in [&["--stream", "--no-stream"], &["--no-stream", "--stream"]] {
            assert_eq!(
                parse_strs(args).unwrap_err().to_string(),
                "--stream and --no-stream cannot be used together"
            );
        }
    }

    #[test]
    fn every_saved_flag_sets_a_config_key_and_is_in_the_help() {
        let help = help_text("c", "l");
        for option in SAVED_FLAGS {
            assert!(
                crate::config::KEYS.iter().any(|key| key.name == option.key),
                "{} sets an unknown key {}",
                option.flag,
                option.key
            );
            assert!(
                help.contains(&format!("    {} ", option.flag)),
                "{}",
                option.flag
            );
        }
        assert!(help.contains("--force-model NAME    Set the Ollama model [default: llama2]\n"));
        assert!(help.contains(
            "--stream              Answer in pieces as Ollama produces them [default]\n"
        ));
        assert!(
            help.contains("--no-stream           Answer in one frame\n\nOPTIONS (this run only)")
        );
    }

    #[test]
    fn bad_input_is_a_usage_error() {
        for bad in [
            &["--port", "0"][..],
            &["--port", "70000"],
            &["--ollama-port", "x"],
            &["--port"],
            &["--force-token"],
            &["--force-token", " "],
            &["--frobnicate"],
            &["extra"],
            &["--stream", "--no-stream"],
            &["--test", "--check"],
        ] {
            assert!(parse_strs(bad).is_err(), "{bad:?}");
        }
        assert!(parse_strs(&["--stream", "--stream"]).is_ok());
    }

    #[test]
    fn a_flag_missing_its_value_does_not_take_the_next_flag() {
        for flag in [
            "--force-token",
            "--force-model",
            "--ollama-host",
            "--ollama-port",
            "--server",
            "--port",
            "--ca-file",
            "--config",
            "--token-file",
        ] {
            for next in ["--show-config", "--check", "--stream", "--debug=x"] {
                let error = parse_strs(&[flag, next]).unwrap_err().to_string();
                let named = next.split('=').next().unwrap();
                let expected = match flag {
                    "--force-token" => "the next argument looks".to_string(),
                    _ => format!("'{named}' looks"),
                };
                assert_eq!(
                    error,
                    format!(
                        "{flag} needs a value; {expected} like another option \
                         (write {flag}=VALUE if you mean it)"
                    )
                );
            }
        }
        // Only this program's own flags are named: anything else may be a
        // token typed in the wrong place.
        for args in [&["--config", "--s3cret"][..], &["--server", "--s3cret=x"]] {
            let error = parse_strs(args).unwrap_err().to_string();
            assert!(!error.contains("s3cret"), "{error}");
            assert!(error.contains("the next argument looks like"), "{error}");
        }
    }

    #[test]
    fn a_value_attached_with_equals_or_with_one_dash_is_taken_as_it_is() {
        let args = parse_strs(&[
            "--config=--show-config",
            "--force-token=--tok",
            "--force-model",
            "-m",
            "--ca-file",
            "-",
        ])
        .unwrap();
        assert_eq!(args.config, Some(PathBuf::from("--show-config")));
        assert_eq!(args.ca_file, Some(PathBuf::from("-")));
        assert_eq!(
            args.saved,
            [
                saved("token", json!("--tok"), "--force-token"),
                saved("model", json!("-m"), "--force-model"),
            ]
        );
        assert!(!args.show_config);
    }

    #[test]
    fn every_long_flag_listed_is_one_the_parser_knows() {
        for flag in LONG_FLAGS {
            if let Err(error) = parse_strs(&[flag]) {
                assert!(error.to_string().contains("missing"), "{flag}: {error}");
            }
        }
    }

    #[test]
    fn the_token_can_be_read_from_standard_input_or_a_file() {
        let args = parse_strs(&["--force-token", "-", "--show-config"]).unwrap();
        assert_eq!(args.token_from, Some(TokenFrom::Stdin));
        assert!(args.saved.is_empty() && args.show_config);
        assert_eq!(
            parse_strs(&["--force-token=-"]).unwrap().token_from,
            Some(TokenFrom::Stdin)
        );
        let args = parse_strs(&["--token-file", "/run/secrets/hub", "--stream"]).unwrap();
        assert_eq!(
            args.token_from,
            Some(TokenFrom::File(PathBuf::from("/run/secrets/hub")))
        );
        assert_eq!(args.saved, [saved("stream_mode", json!(true), "--stream")]);
        assert_eq!(
            parse_strs(&["--token-file=-x"]).unwrap().token_from,
            Some(TokenFrom::File(PathBuf::from("-x")))
        );
        // The last of one flag's values wins, whichever form it takes.
        let args = parse_strs(&["--force-token", "-", "--force-token", "t1"]).unwrap();
        assert_eq!((args.token_from, args.saved.len()), (None, 1));
        let args = parse_strs(&["--force-token", "t1", "--force-token", "-"]).unwrap();
        assert_eq!(
            (args.token_from, args.saved),
            (Some(TokenFrom::Stdin), vec![])
        );
        let args = parse_strs(&["--token-file", "a", "--token-file", "b"]).unwrap();
        assert_eq!(args.token_from, Some(TokenFrom::File("b".into())));
    }

    #[test]
    fn the_token_flags_contradict_each_other() {
        for args in [
            &["--force-token", "t1", "--token-file", "f"][..],
            &["--token-file", "f", "--force-token", "-"],
            &["--force-token", "-", "--token-file", "f"],
        ] {
            assert_eq!(
                parse_strs(args).unwrap_err().to_string(),
                "--force-token and --token-file cannot be used together",
                "{args:?}"
            );
        }
        for args in [
            &["--token-file"][..],
            &["--token-file="],
            &["--token-file", "--check"],
        ] {
            assert!(parse_strs(args).is_err(), "{args:?}");
        }
    }

    #[test]
    fn only_the_token_is_secret_or_read_from_elsewhere() {
        for option in SAVED_FLAGS {
            let read = matches!(
                option.value,
                FlagValue::Secret(_) | FlagValue::SecretFile(_)
            );
            assert_eq!(read, option.key == TOKEN_KEY, "{}", option.flag);
        }
        for from in [TokenFrom::Stdin, TokenFrom::File("f".into())] {
            let option = SAVED_FLAGS.iter().find(|o| o.flag == from.flag());
            assert!(option.is_some_and(|o| o.key == TOKEN_KEY), "{from:?}");
        }
    }

    #[test]
    fn a_bad_value_is_not_a_token_echo() {
        for args in [&["s3cret"][..], &["--debug=s3cret"], &["--test", "s3cret"]] {
            let error = parse_strs(args).unwrap_err();
            assert!(!error.to_string().contains("s3cret"), "{error}");
        }
    }
}
