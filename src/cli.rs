//! The command line, in the first of two stages (as ripgrep does it): this
//! module only records what was typed, with no I/O, so it is easy to test.
//! `settings` then combines it with the environment and the config file.
//!
//! The flags are the original Python client's (so that owners switch
//! without relearning anything) plus this client's own. The flags saved to
//! the config file are one table, [`SAVED_FLAGS`]: each names the config
//! key it sets, so parsing records (key, JSON value, flag) in
//! [`Args::saved`], and `settings` passes those through the key's own
//! check. The help is one page per language in the catalogue, filled in
//! with the settings' defaults and the files in use.
//!
//! The token can be given without putting it in the process's arguments,
//! where every local user can read it (`/proc/PID/cmdline`) for as long as
//! the client runs: `--force-token -` (standard input) and `--token-file
//! PATH` are recorded in [`Args::token_from`], and `startup` reads them.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::config::{self, Settings};
use crate::text::{cli as text, control as control_text, stats as stats_text, Arg, Lang, Text};
use crate::time::{self, Millis};

/// How a saved flag's value is given on the command line.
pub enum FlagValue {
    /// Non-empty text.
    Text,
    /// A port from 1 to 65535.
    Port,
    /// No value: the flag itself means `true` or `false`.
    Switch(bool),
    /// The token: non-empty text, or `-` to read it from standard input.
    /// Never repeated in a message.
    Secret,
    /// A file whose first line is the token.
    SecretFile,
}

/// A flag whose value is saved to the config file under `key`.
pub struct SavedFlagEntry {
    pub flag: &'static str,
    pub key: &'static str,
    pub value: FlagValue,
}

/// Every saved flag, in the help's order. Flags that share a key (`--stream`,
/// `--no-stream`) contradict each other when given together.
pub const SAVED_FLAGS: &[SavedFlagEntry] = &[
    SavedFlagEntry {
        flag: "--force-token",
        key: "token",
        value: FlagValue::Secret,
    },
    SavedFlagEntry {
        flag: "--token-file",
        key: "token",
        value: FlagValue::SecretFile,
    },
    SavedFlagEntry {
        flag: "--force-model",
        key: "model",
        value: FlagValue::Text,
    },
    SavedFlagEntry {
        flag: "--ollama-host",
        key: "ollama_host",
        value: FlagValue::Text,
    },
    SavedFlagEntry {
        flag: "--ollama-port",
        key: "ollama_port",
        value: FlagValue::Port,
    },
    SavedFlagEntry {
        flag: "--stream",
        key: "stream_mode",
        value: FlagValue::Switch(true),
    },
    SavedFlagEntry {
        flag: "--no-stream",
        key: "stream_mode",
        value: FlagValue::Switch(false),
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

/// `--since`: a span back from now (`24h`), or an instant (an RFC 3339
/// date and time, or a date).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Since {
    Ago(Duration),
    At(Millis),
}

impl Since {
    /// The instant it names, `now` being now.
    pub fn instant(self, now: Millis) -> Millis {
        match self {
            Since::Ago(span) => now.saturating_sub(span.as_millis() as Millis),
            Since::At(at) => at,
        }
    }
}

/// `--status`, `--pause [DURATION]`, `--resume`: a request to the client
/// running on this config.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Control {
    Status,
    /// `None`: until `--resume`.
    Pause(Option<Duration>),
    Resume,
}

impl Control {
    fn flag(self) -> &'static str {
        match self {
            Control::Status => "--status",
            Control::Pause(_) => "--pause",
            Control::Resume => "--resume",
        }
    }
}

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
    /// Show the ledger's figures, then exit.
    pub stats: bool,
    /// `--stats` from then on only.
    pub since: Option<Since>,
    /// `--stats` or `--status` as one JSON object.
    pub json: bool,
    /// Ask the running client, then exit.
    pub control: Option<Control>,
}

/// A usage error: printed as one line plus the usage hint, exit status 2.
/// Its text never repeats a flag's value, so a mistyped token is not echoed.
#[derive(Debug)]
pub struct UsageError(pub Text);

/// The English text, for the tests: the program shows the owner's.
#[cfg(test)]
impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.english())
    }
}

/// What follows a usage error: where to read how the program is used.
pub fn usage_hint() -> Text {
    text::usage_hint()
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
            Long("server") => parsed.server = Some(text_value(&mut parser, "--server")?),
            Long("port") => parsed.port = Some(port(&mut parser, "--port")?),
            Long("ca-file") => parsed.ca_file = Some(value(&mut parser, "--ca-file")?.into()),
            Long("config") => parsed.config = Some(value(&mut parser, "--config")?.into()),
            Long("stats") => parsed.stats = true,
            Long("since") => parsed.since = Some(since(&mut parser)?),
            Long("json") => parsed.json = true,
            Long("status") => set_control(&mut parsed, Control::Status)?,
            Long("pause") => set_control(&mut parsed, Control::Pause(pause_span(&mut parser)?))?,
            Long("resume") => set_control(&mut parsed, Control::Resume)?,
            other => return Err(usage(other.unexpected())),
        }
    }
    check_modes(&parsed)?;
    Ok(parsed)
}

/// Records one of the control flags; two different ones contradict each
/// other.
fn set_control(parsed: &mut Args, control: Control) -> Result<(), UsageError> {
    match parsed.control.replace(control) {
        Some(earlier) => {
            let other = earlier.flag() != control.flag();
            exclusive(earlier.flag(), &[(other, control.flag())])
        }
        None => Ok(()),
    }
}

/// `--pause`'s optional duration: attached (`--pause=2h`) or the next
/// argument unless that is an option (`--pause --config PATH`).
fn pause_span(parser: &mut lexopt::Parser) -> Result<Option<Duration>, UsageError> {
    let value = match parser.optional_value() {
        Some(attached) => Some(attached),
        None => parser
            .raw_args()
            .map_err(usage)?
            .next_if(|next| !next.as_encoded_bytes().starts_with(b"-")),
    };
    let Some(value) = value else {
        return Ok(None);
    };
    let value = value.to_string_lossy().trim().to_string();
    match time::parse_span(&value) {
        Some(span) if !span.is_zero() => Ok(Some(span)),
        _ => Err(UsageError(control_text::usage_bad_pause(value))),
    }
}

/// `--test` and `--check` exclude each other. `--status`, `--pause` and
/// `--resume` (they ask the running client and start nothing) and `--stats`
/// (it only reads) are modes of their own; `--since` belongs to `--stats`,
/// and `--json` to `--stats` or `--status`.
fn check_modes(parsed: &Args) -> Result<(), UsageError> {
    let (test, check) = ((parsed.test, "--test"), (parsed.check, "--check"));
    let show_config = (parsed.show_config, "--show-config");
    let reset_config = (parsed.reset_config, "--reset-config");
    let since = (parsed.since.is_some(), "--since");
    if parsed.test {
        exclusive("--test", &[check])?;
    }
    if let Some(control) = parsed.control {
        let stats = (parsed.stats, "--stats");
        let json = (parsed.json && control != Control::Status, "--json");
        let others = [test, check, stats, show_config, reset_config, since, json];
        return exclusive(control.flag(), &others);
    }
    if parsed.stats {
        return exclusive("--stats", &[test, check, show_config, reset_config]);
    }
    if parsed.since.is_some() {
        // not prose: the flag's name.
        return Err(UsageError(stats_text::usage_needs_stats("--since")));
    }
    match parsed.json {
        true => Err(UsageError(control_text::usage_json_needs_mode())),
        false => Ok(()),
    }
}

/// "`mode` and X cannot be used together" for the first flag X of `others`
/// that was given.
fn exclusive(mode: &str, others: &[(bool, &str)]) -> Result<(), UsageError> {
    match others.iter().find(|(given, _)| *given) {
        Some((_, other)) => Err(UsageError(text::usage_together(mode, *other))),
        None => Ok(()),
    }
}

/// `--since`'s value: a span (`1h`, `7d`) or an RFC 3339 date and time
/// or date. Not a secret, so a bad one is repeated.
fn since(parser: &mut lexopt::Parser) -> Result<Since, UsageError> {
    let value = text_value(parser, "--since")?;
    if let Some(span) = time::parse_span(&value) {
        return Ok(Since::Ago(span));
    }
    match time::parse(&value) {
        Some(at) => Ok(Since::At(at)),
        None => Err(UsageError(stats_text::usage_bad_since(value))),
    }
}

/// lexopt's error in our words: it names the option, never a value (a
/// stray argument may well be a token typed in the wrong place).
fn usage(error: lexopt::Error) -> UsageError {
    use lexopt::Error;
    UsageError(match error {
        Error::MissingValue {
            option: Some(option),
        } => text::usage_missing_value(option),
        Error::MissingValue { option: None } => text::usage_missing_argument(),
        Error::UnexpectedOption(option) => text::usage_invalid_option(option),
        Error::UnexpectedArgument(_) => text::usage_unexpected_argument(),
        Error::UnexpectedValue { option, .. } => text::usage_takes_no_value(option),
        Error::NonUnicodeValue(_) => text::usage_not_utf8(),
        Error::ParsingFailed { .. } | Error::Custom(_) => text::usage_unreadable(),
    })
}

/// Whether `name` (`--config`) is one of this program's long flags, for
/// telling a forgotten value from a value: `--config --show-config` means
/// the owner forgot the path. The parser itself answers, so that no list
/// of flags can fall out of step with it: only a flag it does not know is
/// an invalid option (alone, a known one parses or lacks its value).
fn is_flag(name: &str) -> bool {
    // `--` alone ends the options: the parser takes it, it names no flag.
    if !name.starts_with("--") || name == "--" {
        return false;
    }
    let unknown = text::usage_invalid_option(name.to_string()).english();
    parse([OsString::from(name)]).map_or_else(|error| error.0.english() != unknown, |_| true)
}

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
    let known = name.filter(|name| is_flag(name));
    Err(UsageError(match known {
        Some(name) if !is_secret(flag) => text::usage_value_is_a_flag(flag, name),
        _ => text::usage_value_looks_like_a_flag(flag),
    }))
}

/// A non-empty UTF-8 value.
fn text_value(parser: &mut lexopt::Parser, flag: &str) -> Result<String, UsageError> {
    let value = value(parser, flag)?;
    let value = value
        .into_string()
        .map_err(|_| UsageError(text::usage_needs_utf8(flag)))?;
    if value.trim().is_empty() {
        return Err(UsageError(text::usage_needs_non_empty(flag)));
    }
    Ok(value.trim().to_string())
}

fn port(parser: &mut lexopt::Parser, flag: &str) -> Result<u16, UsageError> {
    let value = text_value(parser, flag)?;
    match value.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        // The value is not repeated: it may be a token typed in the wrong place.
        _ => Err(UsageError(text::usage_needs_port(flag))),
    }
}

/// Whether the flag's value is the token, never to be repeated.
fn is_secret(flag: &str) -> bool {
    SAVED_FLAGS
        .iter()
        .any(|option| option.flag == flag && matches!(option.value, FlagValue::Secret))
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
        FlagValue::Text => Given::Value(Value::String(text_value(parser, option.flag)?)),
        FlagValue::Port => Given::Value(Value::from(port(parser, option.flag)?)),
        FlagValue::Switch(on) => Given::Value(Value::Bool(on)),
        FlagValue::Secret => match text_value(parser, option.flag)?.as_str() {
            "-" => Given::Read(TokenFrom::Stdin),
            token => Given::Value(Value::String(token.to_string())),
        },
        FlagValue::SecretFile => {
            let path = value(parser, option.flag)?;
            if path.is_empty() {
                return Err(UsageError(text::usage_needs_file_name(option.flag)));
            }
            Given::Read(TokenFrom::File(path.into()))
        }
    })
}

/// Keeps a saved flag's value. A repeated flag's last value wins, like any
/// other option's (`--force-token -` after `--force-token TOKEN`, too); two
/// different flags for one key contradict each other.
fn record(
    parsed: &mut Args,
    option: &'static SavedFlagEntry,
    given: Given,
) -> Result<(), UsageError> {
    let saved = parsed.saved.iter().filter(|saved| saved.key == option.key);
    let read = parsed.token_from.iter().filter(|_| option.key == TOKEN_KEY);
    let mut earlier = saved
        .map(|saved| saved.flag)
        .chain(read.map(TokenFrom::flag));
    if let Some(earlier) = earlier.find(|earlier| *earlier != option.flag) {
        return Err(conflict(earlier, option.flag));
    }
    parsed.saved.retain(|saved| saved.key != option.key);
    if option.key == TOKEN_KEY {
        parsed.token_from = None;
    }
    match given {
        Given::Value(value) => parsed.saved.push(SavedFlag {
            key: option.key,
            value,
            flag: option.flag,
        }),
        Given::Read(from) => parsed.token_from = Some(from),
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
    UsageError(text::usage_together(first, second))
}

/// The help in `lang`, naming the config file and the log file in use and
/// the defaults of the settings it mentions.
pub fn help_text(lang: Lang, config_path: impl Into<Arg>, log_path: impl Into<Arg>) -> String {
    let defaults = Settings::default();
    let default = |key| defaults.display_value(key);
    let hub_url = format!(
        "wss://{}:PORT{}",
        config::DEFAULT_HUB_HOST,
        config::DEFAULT_HUB_PATH
    );
    text::help_page(
        env!("CARGO_PKG_VERSION"),
        default("model"),
        default("ollama_host"),
        default("ollama_port"),
        hub_url,
        config::DEFAULT_HUB_PORT,
        config_path,
        log_path,
    )
    .in_lang(lang)
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
    fn the_control_flags_are_modes_of_their_own_with_json_for_status() {
        let control = |args: &[&str]| parse_strs(args).map(|parsed| parsed.control);
        let two_hours = Some(Duration::from_secs(7200));
        assert_eq!(control(&["--status"]).unwrap(), Some(Control::Status));
        assert_eq!(control(&["--resume"]).unwrap(), Some(Control::Resume));
        let pause = Some(Control::Pause(two_hours));
        assert_eq!(control(&["--pause", "2h"]).unwrap(), pause);
        assert_eq!(
            control(&["--status", "--status"]).unwrap(),
            Some(Control::Status)
        );
        assert_eq!(
            control(&["--status", "--json"]).unwrap(),
            Some(Control::Status)
        );
        for (args, message) in [
            (&["--status", "--resume"][..], "--status and --resume"),
            (&["--resume", "--pause"], "--resume and --pause"),
            (&["--pause", "--json"], "--pause and --json"),
            (&["--resume", "--json"], "--resume and --json"),
        ] {
            let error = control(args).unwrap_err().to_string();
            assert_eq!(
                error,
                format!("{message} cannot be used together"),
                "{args:?}"
            );
        }
    }

    #[test]
    fn every_saved_flag_sets_a_config_key_and_is_in_the_help_with_its_default() {
        let defaults = Settings::default();
        for (lang, marker) in [(Lang::En, "default"), (Lang::Ru, "по умолчанию")] {
            let help = help_text(lang, "c", "l");
            for option in SAVED_FLAGS {
                assert!(
                    crate::config::KEYS.iter().any(|key| key.name == option.key),
                    "{} sets an unknown key {}",
                    option.flag,
                    option.key
                );
                let line = help
                    .lines()
                    .find(|line| line.starts_with(&format!("    {} ", option.flag)));
                let line = line.unwrap_or_else(|| panic!("{} is not in:\n{help}", option.flag));
                let shown = defaults.display_value(option.key);
                let note = match option.value {
                    FlagValue::Switch(on) if shown == on.to_string() => Some(format!("[{marker}]")),
                    FlagValue::Switch(_) => None,
                    _ if shown.starts_with('(') => None,
                    _ => Some(format!("[{marker}: {shown}]")),
                };
                match note {
                    Some(note) => assert!(line.ends_with(&note), "{line:?} lacks {note}"),
                    None => assert!(!line.contains(marker), "{line:?}"),
                }
            }
        }
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
            &["--stats", "--test"],
            &["--since", "1h"],
            &["--json"],
            &["--stats", "--since", "1w"],
        ] {
            assert!(parse_strs(bad).is_err(), "{bad:?}");
        }
        assert!(parse_strs(&["--stream", "--stream"]).is_ok());
    }

    #[test]
    fn stats_is_a_mode_of_its_own_with_its_two_options() {
        let args = parse_strs(&["--stats"]).unwrap();
        assert!(args.stats && !args.json && args.since.is_none());
        let args = parse_strs(&["--json", "--since", "24h", "--stats"]).unwrap();
        assert!(args.stats && args.json);
        assert_eq!(args.since, Some(Since::Ago(Duration::from_secs(86_400))));
        let at = time::parse("2026-11-30T10:00:00Z").unwrap();
        for spelled in ["2026-11-30T13:00:00+03:00", "2026-11-30T10:00:00.000Z"] {
            let args = parse_strs(&["--stats", "--since", spelled]).unwrap();
            assert_eq!(args.since, Some(Since::At(at)), "{spelled}");
        }
        let args = parse_strs(&["--stats", "--since=2026-11-30"]).unwrap();
        assert_eq!(args.since.unwrap().instant(0), at - 10 * 3_600_000);
        assert_eq!(
            Since::Ago(Duration::from_secs(3600)).instant(at),
            at - 3_600_000
        );
        assert_eq!(Since::At(at).instant(0), at);
        let error = |args: &[&str]| parse_strs(args).unwrap_err().to_string();
        for other in ["--test", "--check", "--show-config", "--reset-config"] {
            assert_eq!(
                error(&["--stats", other]),
                format!("--stats and {other} cannot be used together")
            );
        }
        assert_eq!(
            error(&["--json"]),
            "--json can only be used with --stats or --status"
        );
        assert_eq!(
            error(&["--since", "7d", "--check"]),
            "--since can only be used with --stats"
        );
        // A bad value is named (it is not a secret) in both languages.
        for bad in ["yesterday", "1w", "2026-13-01", "-1h"] {
            let shown = parse_strs(&["--stats", "--since", bad]).unwrap_err().0;
            for lang in [Lang::En, Lang::Ru] {
                let shown = shown.in_lang(lang);
                assert!(shown.starts_with("--since"), "{shown}");
                assert!(shown.contains(&format!("'{bad}'")), "{shown}");
            }
        }
        assert_eq!(
            error(&["--stats", "--since", "--json"]),
            "--since needs a value; '--json' looks like another option \
             (write --since=VALUE if you mean it)"
        );
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
    fn every_flag_the_help_names_is_a_flag_and_nothing_else_is() {
        let help = help_text(Lang::En, "config.json", "log");
        let flags = help.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'));
        let flags: Vec<&str> = flags.filter(|word| word.starts_with("--")).collect();
        assert!(flags.len() > 20, "{help}");
        for flag in flags {
            assert!(is_flag(flag), "{flag}");
        }
        for other in ["--", "--nope", "--Config", "--confi", "-h", "config"] {
            assert!(!is_flag(other), "{other}");
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
            let read = matches!(option.value, FlagValue::Secret | FlagValue::SecretFile);
            assert_eq!(read, option.key == TOKEN_KEY, "{}", option.flag);
        }
        for from in [TokenFrom::Stdin, TokenFrom::File("f".into())] {
            let option = SAVED_FLAGS.iter().find(|o| o.flag == from.flag());
            assert!(option.is_some_and(|o| o.key == TOKEN_KEY), "{from:?}");
        }
    }

    #[test]
    fn a_bad_value_is_not_a_token_echo() {
        for args in [
            &["s3cret"][..],
            &["--debug=s3cret"],
            &["--test", "s3cret"],
            &["--port", "s3cret"],
            &["-hs3cret"],
            &["--force-token", "--s3cret"],
        ] {
            let error = parse_strs(args).unwrap_err();
            for lang in [Lang::En, Lang::Ru] {
                let shown = error.0.in_lang(lang);
                assert!(!shown.contains("s3cret"), "{args:?}: {shown}");
            }
        }
    }

    /// Every lexopt error gets our own words, naming the option it is
    /// about and never a value.
    #[test]
    fn every_lexopt_error_names_the_option_and_never_the_value() {
        use lexopt::Error;
        let value = || OsString::from("s3cret");
        let boxed = || Box::<dyn std::error::Error + Send + Sync>::from("s3cret");
        let cases = [
            (
                Error::MissingValue {
                    option: Some("--port".into()),
                },
                Some("--port"),
            ),
            (Error::MissingValue { option: None }, None),
            (Error::UnexpectedOption("--frob".into()), Some("--frob")),
            (Error::UnexpectedArgument(value()), None),
            (
                Error::UnexpectedValue {
                    option: "--debug".into(),
                    value: value(),
                },
                Some("--debug"),
            ),
            (Error::NonUnicodeValue(value()), None),
            (
                Error::ParsingFailed {
                    value: "s3cret".into(),
                    error: boxed(),
                },
                None,
            ),
            (Error::Custom(boxed()), None),
        ];
        for (error, option) in cases {
            let described = format!("{error:?}");
            let text = usage(error).0;
            let (en, ru) = (text.english(), text.in_lang(Lang::Ru));
            for shown in [&en, &ru] {
                assert!(!shown.contains("s3cret"), "{described}: {shown}");
                if let Some(option) = option {
                    assert!(
                        shown.contains(&format!("'{option}'")),
                        "{described}: {shown}"
                    );
                }
            }
            assert_ne!(en, ru, "{described}");
        }
        // The texts that lexopt gave before are kept in English.
        let missing = Error::MissingValue {
            option: Some("--port".into()),
        };
        assert_eq!(
            usage(missing).to_string(),
            "missing argument for option '--port'"
        );
        let unknown = Error::UnexpectedOption("--frob".into());
        assert_eq!(usage(unknown).to_string(), "invalid option '--frob'");
    }

    #[test]
    fn usage_errors_are_shown_in_russian() {
        let ru = |args: &[&str]| parse_strs(args).unwrap_err().0.in_lang(Lang::Ru);
        assert_eq!(ru(&["--frobnicate"]), "неизвестный параметр '--frobnicate'");
        assert_eq!(
            ru(&["--no-stream", "--stream"]),
            "--stream и --no-stream нельзя использовать вместе"
        );
        assert_eq!(
            ru(&["--config", "--check"]),
            "--config: нужно значение; '--check' похоже на другой параметр \
             (если это значение, напишите --config=VALUE)"
        );
        assert_eq!(ru(&["--port", "0"]), "--port: нужен порт от 1 до 65535");
        assert_eq!(
            usage_hint().in_lang(Lang::Ru),
            "Справка: 'ollama-proxy-client --help'."
        );
    }

    /// The flags and placeholders of a help: every word that starts with
    /// `-` and a letter, and every all-capital placeholder after a flag.
    fn flags_of(help: &str) -> std::collections::BTreeSet<String> {
        let words: Vec<&str> = help
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|word| !word.is_empty())
            .collect();
        let is_flag = |word: &str| {
            let name = word.trim_start_matches('-');
            word.starts_with('-') && name.starts_with(|c: char| c.is_ascii_alphabetic())
        };
        let mut flags = std::collections::BTreeSet::new();
        for pair in words.windows(2) {
            if is_flag(pair[0]) {
                flags.insert(pair[0].to_string());
                let placeholder = pair[1].chars().all(|c| c.is_ascii_uppercase());
                if placeholder {
                    flags.insert(format!("{} {}", pair[0], pair[1]));
                }
            }
        }
        flags
    }

    #[test]
    fn the_russian_help_is_russian_and_names_every_flag_of_the_english_one() {
        let en = help_text(Lang::En, "/c/config.json", "/c/logs/client.log");
        let ru = help_text(Lang::Ru, "/c/config.json", "/c/logs/client.log");
        let (en_flags, ru_flags) = (flags_of(&en), flags_of(&ru));
        assert!(en_flags.len() > 20, "{en_flags:?}");
        let missing: Vec<&String> = en_flags.difference(&ru_flags).collect();
        assert!(
            missing.is_empty(),
            "not in the Russian help: {missing:?}\n{ru}"
        );
        for help in [&en, &ru] {
            for name in ["LC_ALL, LC_MESSAGES, LANG", "language", "/c/config.json"] {
                assert!(help.contains(name), "{name}:\n{help}");
            }
            assert!(help.contains("/c/logs/client.log\n"), "{help}");
        }
        for words in [
            "ПАРАМЕТРЫ",
            "РЕЖИМЫ",
            "Показать эту справку",
            "[по умолчанию: 5050]",
        ] {
            assert!(ru.contains(words), "{words}:\n{ru}");
        }
        assert!(ru.contains("--force-model NAME    Задать модель Ollama [по умолчанию: llama2]\n"));
        assert!(en.contains(
            "    LC_ALL, LC_MESSAGES, LANG\n                          The terminal's language"
        ));
    }

    /// The table (after `heading`, up to the next blank line) of `help`.
    fn table_of<'h>(help: &'h str, heading: &str) -> Vec<&'h str> {
        let rest = help
            .split_once(&format!("\n{heading}\n"))
            .map(|(_, rest)| rest);
        let rest = rest.unwrap_or_else(|| panic!("no {heading}:\n{help}"));
        rest.lines().take_while(|line| !line.is_empty()).collect()
    }

    /// Each line of a table: a label at column 4 then its text from
    /// `column` on (counted in characters), a continuation with its text
    /// from `column` on, or a label alone that the next line continues.
    fn assert_lined_up(table: &[&str], column: usize) {
        let starts_at = |line: &str| line.chars().take_while(|c| *c == ' ').count();
        for (index, line) in table.iter().enumerate() {
            let chars: Vec<char> = line.chars().collect();
            let indent = starts_at(line);
            assert!(
                indent == 4 || indent == column,
                "indented {indent}: {line:?}"
            );
            let label: String = chars.iter().take(column).collect();
            let text: String = chars.iter().skip(column).collect();
            let label_alone = !line.trim().contains("  ") && chars.len() >= column;
            if label.ends_with(' ') && !label.trim().contains("  ") && !text.starts_with(' ') {
                assert!(!text.is_empty(), "{line:?}");
            } else {
                assert!(label_alone, "not lined up at {column}: {line:?}");
                let next = table.get(index + 1).copied().unwrap_or_default();
                assert_eq!(starts_at(next), column, "{line:?} is not continued");
            }
        }
    }

    #[test]
    fn the_help_columns_line_up_in_both_languages() {
        let tables = [
            (
                Lang::En,
                [
                    "OPTIONS (saved to the config file):",
                    "OPTIONS (this run only):",
                ],
            ),
            (
                Lang::Ru,
                [
                    "ПАРАМЕТРЫ (сохраняются в файл настроек):",
                    "ПАРАМЕТРЫ (только для этого запуска):",
                ],
            ),
        ];
        let more = [
            (
                Lang::En,
                ["MODES:", "ENVIRONMENT:"],
                ("FILES:", 13),
                "EXIT STATUS:",
            ),
            (
                Lang::Ru,
                ["РЕЖИМЫ:", "ПЕРЕМЕННЫЕ ОКРУЖЕНИЯ:"],
                ("ФАЙЛЫ:", 16),
                "КОДЫ ВЫХОДА:",
            ),
        ];
        for ((lang, options), (_, others, (files, files_column), statuses)) in
            tables.into_iter().zip(more)
        {
            let help = help_text(lang, "/c/config.json", "/c/logs/client.log");
            for heading in options.into_iter().chain(others) {
                let table = table_of(&help, heading);
                assert!(table.len() > 3, "{table:?}");
                assert_lined_up(&table, 26);
            }
            assert_lined_up(&table_of(&help, files), files_column);
            assert_lined_up(&table_of(&help, statuses), 9);
            for line in help.lines() {
                assert!(
                    line.chars().count() <= 80,
                    "{lang:?}: over 80 columns: {line}"
                );
            }
        }
    }
}
