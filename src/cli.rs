//! The command line, in the first of two stages (as ripgrep does it): this
//! module only records what was typed, with no I/O, so it is easy to test.
//! `settings` then combines it with the environment and the config file.
//!
//! The flags are the original Python client's (so that owners switch
//! without relearning anything) plus this client's own.

use std::ffi::OsString;
use std::path::PathBuf;

/// What the owner typed.
#[derive(Debug, Default, PartialEq)]
pub struct Args {
    pub help: bool,
    pub version: bool,
    pub debug: bool,
    /// Print every setting and where it came from, then exit.
    pub show_config: bool,
    /// Delete the config file and run the first-run questions again.
    pub reset_config: bool,
    /// Saved to the config.
    pub force_token: Option<String>,
    /// Saved to the config.
    pub force_model: Option<String>,
    /// Saved to the config.
    pub ollama_host: Option<String>,
    /// Saved to the config.
    pub ollama_port: Option<u16>,
    /// `--stream` (true) or `--no-stream` (false); saved to the config.
    pub stream: Option<bool>,
    /// Prompts from standard input, answered on the console and to the hub.
    pub test: bool,
    /// Check config, Ollama, model and hub, then exit 0 or 1.
    pub check: bool,
    /// A full hub URL, replacing the default `wss://bober.app:<port>/auth-proxy`.
    pub server: Option<String>,
    /// The default hub URL's port, for this run only.
    pub port: Option<u16>,
    /// An extra CA certificate (PEM) to trust for the hub.
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
        match arg {
            Short('h') | Long("help") => parsed.help = true,
            Short('V') | Long("version") => parsed.version = true,
            Long("debug") => parsed.debug = true,
            Long("show-config") => parsed.show_config = true,
            Long("reset-config") => parsed.reset_config = true,
            Long("force-token") => parsed.force_token = Some(text(&mut parser, "--force-token")?),
            Long("force-model") => parsed.force_model = Some(text(&mut parser, "--force-model")?),
            Long("ollama-host") => parsed.ollama_host = Some(text(&mut parser, "--ollama-host")?),
            Long("ollama-port") => parsed.ollama_port = Some(port(&mut parser, "--ollama-port")?),
            Long("stream") => parsed.stream = Some(stream_choice(parsed.stream, true)?),
            Long("no-stream") => parsed.stream = Some(stream_choice(parsed.stream, false)?),
            Long("test") => parsed.test = true,
            Long("check") => parsed.check = true,
            Long("server") => parsed.server = Some(text(&mut parser, "--server")?),
            Long("port") => parsed.port = Some(port(&mut parser, "--port")?),
            Long("ca-file") => parsed.ca_file = Some(parser.value().map_err(usage)?.into()),
            Long("config") => parsed.config = Some(parser.value().map_err(usage)?.into()),
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

/// A non-empty UTF-8 value.
fn text(parser: &mut lexopt::Parser, flag: &str) -> Result<String, UsageError> {
    let value = parser.value().map_err(usage)?;
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

fn stream_choice(previous: Option<bool>, choice: bool) -> Result<bool, UsageError> {
    match previous {
        Some(earlier) if earlier != choice => Err(UsageError(
            "--stream and --no-stream cannot be used together".into(),
        )),
        _ => Ok(choice),
    }
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
    --force-token TOKEN   Set the hub token (OLLAMA_PROXY_TOKEN keeps it off
                          the command line, where other users can read it)
    --force-model NAME    Set the Ollama model [default: llama2]
    --ollama-host HOST    Set Ollama's host [default: localhost]
    --ollama-port PORT    Set Ollama's port [default: 11434]
    --stream              Answer in pieces as Ollama produces them [default]
    --no-stream           Answer in one frame

OPTIONS (this run only):
    --server URL          Hub URL [default: wss://bober.app:PORT/auth-proxy];
                          ws:// only for loopback hosts
    --port PORT           Port of the default hub URL [default: 5050]
    --ca-file PATH        Also trust this CA certificate (PEM) for the hub
    --config PATH         Use this config file (one per GPU, say)
    --debug               Show debug messages on the console

MODES:
    (none)                Serve buyers until stopped (SIGTERM or Ctrl+C)
    --test                Type prompts; answers show here and go to the hub
                          with messageId -1
    --check               Check config, Ollama, model and hub; exit 0 or 1
    --show-config         Show every setting and where it came from
    --reset-config        Delete the config file and ask everything again
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

Precedence: command line, then environment, then config file, then default.

EXIT STATUS:
    0    normal end (also after SIGTERM/Ctrl+C)
    1    --check found a problem
    2    usage error
    78   configuration missing or invalid
",
        version = env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
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
        assert_eq!(args.ollama_port, Some(11435));
        assert_eq!(args.stream, Some(false));
        assert_eq!(args.force_model.as_deref(), Some("qwen3:8b"));
        assert_eq!(args.server.as_deref(), Some("ws://127.0.0.1:1/x"));
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
    fn a_bad_value_is_not_a_token_echo() {
        for args in [&["s3cret"][..], &["--debug=s3cret"], &["--test", "s3cret"]] {
            let error = parse_strs(args).unwrap_err();
            assert!(!error.to_string().contains("s3cret"), "{error}");
        }
    }
}
