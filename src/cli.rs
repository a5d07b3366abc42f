//! The command line, in the first of two stages (as ripgrep does it): this
//! module only records what was typed, with no I/O, so it is easy to test.
//! `main` then combines it with the config file and the environment.

use std::ffi::OsString;
use std::path::PathBuf;

/// What the owner typed.
#[derive(Debug, Default, PartialEq)]
pub struct Args {
    pub help: bool,
    pub version: bool,
    pub debug: bool,
    /// A full hub URL, replacing the default `wss://bober.app:<port>/auth-proxy`.
    pub server: Option<String>,
    /// The default hub URL's port, for this run.
    pub port: Option<u16>,
    /// An extra CA certificate (PEM) to trust for the hub.
    pub ca_file: Option<PathBuf>,
    /// Another config file instead of `~/.config/ollama_proxy/config.json`.
    pub config: Option<PathBuf>,
}

/// A usage error: printed as one line plus the usage hint, exit status 2.
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
            Long("server") => parsed.server = Some(string_value(&mut parser, "--server")?),
            Long("port") => parsed.port = Some(port_value(&mut parser, "--port")?),
            Long("ca-file") => parsed.ca_file = Some(parser.value().map_err(usage)?.into()),
            Long("config") => parsed.config = Some(parser.value().map_err(usage)?.into()),
            other => return Err(usage(other.unexpected())),
        }
    }
    Ok(parsed)
}

fn usage(error: lexopt::Error) -> UsageError {
    UsageError(error.to_string())
}

fn string_value(parser: &mut lexopt::Parser, flag: &str) -> Result<String, UsageError> {
    let value = parser.value().map_err(usage)?;
    value
        .into_string()
        .map_err(|_| UsageError(format!("{flag} needs a UTF-8 value")))
}

fn port_value(parser: &mut lexopt::Parser, flag: &str) -> Result<u16, UsageError> {
    let value = string_value(parser, flag)?;
    match value.trim().parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(UsageError(format!(
            "{flag} needs a port from 1 to 65535, not '{value}'"
        ))),
    }
}

pub const USAGE_HINT: &str = "Try 'ollama-proxy-client --help' for more information.";

pub fn help_text() -> String {
    format!(
        "\
ollama-proxy-client {version}
Sells this box's local Ollama on the marketplace hub: keeps one outbound
WebSocket to the hub, runs buyers' prompts on Ollama, streams answers back.

USAGE:
    ollama-proxy-client [OPTIONS]

OPTIONS:
    --server URL      Hub URL (default wss://bober.app:PORT/auth-proxy);
                      ws:// only for loopback hosts
    --port PORT       Port of the default hub URL, this run only [default: 5050]
    --ca-file PATH    Also trust this CA certificate (PEM) for the hub
                      (SSL_CERT_FILE does the same)
    --config PATH     Use this config file
                      [default: ~/.config/ollama_proxy/config.json]
    --debug           Show debug messages on the console
    -h, --help        Show this help
    -V, --version     Show the version

ENVIRONMENT:
    SSL_CERT_FILE     An extra CA certificate (PEM) to trust for the hub

EXIT STATUS:
    0 normal end, 2 usage error, 78 configuration missing or invalid
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
        let args =
            parse_strs(&["--debug", "--port", "6000", "--server=ws://127.0.0.1:1/x"]).unwrap();
        assert!(args.debug);
        assert_eq!(args.port, Some(6000));
        assert_eq!(args.server.as_deref(), Some("ws://127.0.0.1:1/x"));
    }

    #[test]
    fn bad_input_is_a_usage_error() {
        assert!(parse_strs(&["--port", "0"]).is_err());
        assert!(parse_strs(&["--port", "70000"]).is_err());
        assert!(parse_strs(&["--port"]).is_err());
        assert!(parse_strs(&["--frobnicate"]).is_err());
        assert!(parse_strs(&["extra"]).is_err());
    }
}
