//! The second stage of the command line: settings derived from what was
//! typed, the environment and the config file, with the source of each.
//!
//! Precedence: command line, then environment, then config file, then
//! default. `OLLAMA_PROXY_TOKEN` follows that order for the token.
//! `OLLAMA_HOST` is the one exception: Ollama's own servers read it (often
//! `0.0.0.0`, to listen everywhere), so it only fills in an Ollama address
//! that the config file does not set, as the issue asks ("the default Ollama
//! address when the config has none").

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::address::{self, Address, Port};
use crate::cli::Args;
use crate::config::{self, ConfigError, Settings};
use crate::secret::Token;
use crate::text::{cli as text, Text};

/// Where a setting's value came from, for `--show-config`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Flag(&'static str),
    Env(&'static str),
    File,
    Prompt,
    Default,
}

impl Source {
    /// How `--show-config` names it.
    pub fn text(&self) -> Text {
        match self {
            Source::Flag(flag) => text::source_flag(*flag),
            Source::Env(var) => text::source_env(*var),
            Source::File => text::source_file(),
            Source::Prompt => text::source_prompt(),
            Source::Default => text::source_default(),
        }
    }
}

/// In English, for the log.
impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text().english())
    }
}

/// What the environment offers; read once, so that tests can build it.
#[derive(Clone, Debug, Default)]
pub struct Environment {
    pub token: Option<String>,
    pub ollama_host: Option<String>,
}

impl Environment {
    pub fn read() -> Environment {
        let var = |name| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Environment {
            token: var("OLLAMA_PROXY_TOKEN"),
            ollama_host: var("OLLAMA_HOST"),
        }
    }
}

/// Settings ready to use, plus where each came from and what must be saved.
pub struct Resolved {
    pub settings: Settings,
    pub config_path: PathBuf,
    /// The config file as read (unknown keys included), for saving.
    pub raw: Map<String, Value>,
    pub sources: BTreeMap<&'static str, Source>,
    /// Values from flags or first-run answers that go into the config file.
    pub to_save: Map<String, Value>,
}

impl Resolved {
    pub fn source(&self, key: &str) -> Source {
        self.sources.get(key).cloned().unwrap_or(Source::Default)
    }

    /// Takes a value from a flag or a first-run answer: it goes into the
    /// settings through the same checks as the config file's, and is kept
    /// for saving. A rejected value gives what the key expects.
    pub fn set(
        &mut self,
        key: &'static str,
        value: Value,
        source: Source,
    ) -> Result<(), config::Expected> {
        config::apply_key(&mut self.settings, key, &value)?;
        self.sources.insert(key, source);
        self.to_save.insert(key.to_string(), value);
        Ok(())
    }

    /// Writes flags and answers into the config file, keeping the rest.
    pub fn save(&mut self) -> Result<bool, ConfigError> {
        if self.to_save.is_empty() {
            return Ok(false);
        }
        for (key, value) in std::mem::take(&mut self.to_save) {
            self.raw.insert(key, value);
        }
        config::save(&self.config_path, &self.raw)?;
        Ok(true)
    }

    /// The log file, beside the config file in use.
    pub fn log_path(&self) -> PathBuf {
        log_path_for(&self.config_path)
    }
}

/// `logs/client.log` beside the config file (`logs/gpu1.client.log` for
/// `gpu1.json`).
pub fn log_path_for(config_path: &Path) -> PathBuf {
    let own = config::beside(config_path, "client.log");
    let name = own.file_name().unwrap_or_default().to_os_string();
    own.with_file_name("logs").join(name)
}

/// The config file in use: `--config`, else the default.
pub fn config_path(args: &Args) -> Option<PathBuf> {
    args.config.clone().or_else(config::default_config_path)
}

/// Reads the config file and applies the environment and the flags.
pub fn resolve(args: &Args, env: &Environment, path: &Path) -> Result<Resolved, ConfigError> {
    let (settings, raw) = config::load(path)?;
    let mut resolved = Resolved {
        settings,
        config_path: path.to_path_buf(),
        sources: raw
            .keys()
            .filter_map(|name| config::KEYS.iter().find(|key| key.name == name.as_str()))
            .map(|key| (key.name, Source::File))
            .collect(),
        raw,
        to_save: Map::new(),
    };
    apply_environment(&mut resolved, env);
    apply_flags(&mut resolved, args)?;
    Ok(resolved)
}

/// Like [`resolve`] for a config file that cannot be used: the flags, the
/// environment and the defaults, with `path` kept as the file in use.
pub fn resolve_without_file(
    args: &Args,
    env: &Environment,
    path: &Path,
) -> Result<Resolved, ConfigError> {
    let mut resolved = Resolved {
        settings: Settings::default(),
        config_path: path.to_path_buf(),
        sources: BTreeMap::new(),
        raw: Map::new(),
        to_save: Map::new(),
    };
    apply_environment(&mut resolved, env);
    apply_flags(&mut resolved, args)?;
    Ok(resolved)
}

fn apply_environment(resolved: &mut Resolved, env: &Environment) {
    if let Some(token) = &env.token {
        resolved.settings.token = Some(Token::new(token.trim()));
        resolved
            .sources
            .insert("token", Source::Env("OLLAMA_PROXY_TOKEN"));
    }
    let config_sets_address =
        resolved.raw.contains_key("ollama_host") || resolved.raw.contains_key("ollama_port");
    if let (Some(value), false) = (&env.ollama_host, config_sets_address) {
        let (host, port) = ollama_host_from_env(value);
        resolved.settings.ollama_host = host;
        resolved.settings.ollama_port = port;
        resolved
            .sources
            .insert("ollama_host", Source::Env("OLLAMA_HOST"));
        resolved
            .sources
            .insert("ollama_port", Source::Env("OLLAMA_HOST"));
    }
}

/// The command line checked these values already; one the settings still
/// refuse is reported like a bad value in the file, naming the flag.
fn apply_flags(resolved: &mut Resolved, args: &Args) -> Result<(), ConfigError> {
    for saved in &args.saved {
        resolved
            .set(saved.key, saved.value.clone(), Source::Flag(saved.flag))
            .map_err(|expected| ConfigError::Value {
                path: resolved.config_path.clone(),
                line: None,
                key: saved.flag.to_string(),
                expected,
            })?;
    }
    Ok(())
}

/// Ollama's reading of `OLLAMA_HOST` (its envconfig.Host), as a host and a
/// port for this client. Forms: "" -> 127.0.0.1:11434; "1.2.3.4" or "host"
/// -> port 11434; "host:port"; "http://h" -> port 80; "https://h" -> 443;
/// a path is kept; "ollama.com" -> https://ollama.com:443; a bad port ->
/// the default; ":1234" -> 127.0.0.1:1234 (as Ollama's Python and JS
/// clients read it). A scheme or a path is returned inside the host as a
/// base URL, which `ollama::base_url` uses as it is.
pub fn ollama_host_from_env(value: &str) -> (String, u16) {
    let value = value.trim().trim_matches(|c| c == '"' || c == '\'').trim();
    let (scheme, rest, default_port) = match value.split_once("://") {
        None if value == "ollama.com" => ("https", "ollama.com:443", 443),
        None => ("http", value, 11434),
        Some(("http", rest)) => ("http", rest, 80),
        Some(("https", rest)) => ("https", rest, 443),
        Some((other, rest)) => (other, rest, 11434),
    };
    let (hostport, path) = match rest.split_once('/') {
        Some((hostport, path)) => (hostport, path.trim_end_matches('/')),
        None => (rest, ""),
    };
    let (host, port) = split_host_port(hostport, default_port);
    let host = if host.is_empty() {
        "127.0.0.1".to_string()
    } else {
        host
    };
    if scheme == "http" && path.is_empty() {
        return (host, port);
    }
    let bracketed = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    let path = if path.is_empty() {
        String::new()
    } else {
        format!("/{path}")
    };
    (format!("{scheme}://{bracketed}:{port}{path}"), port)
}

/// Ollama's policy on [`address::parse`] (Go's net.SplitHostPort): a
/// missing or bad port is the default one, and text that does not split
/// (a bare IPv6 address, say) is the host as a whole.
fn split_host_port(hostport: &str, default_port: u16) -> (String, u16) {
    match address::parse(hostport) {
        Ok(Address { host, port }) => {
            let port = match port {
                Port::Number(port) => port,
                Port::Absent | Port::Bad(_) => default_port,
            };
            (host.to_string(), port)
        }
        Err(_) => (unsplit_host(hostport), default_port),
    }
}

/// Ollama's host when SplitHostPort fails: an IP address without its
/// brackets, or else the text as it is.
fn unsplit_host(hostport: &str) -> String {
    let trimmed = hostport.trim_matches(['[', ']']);
    match trimmed.parse::<IpAddr>() {
        Ok(_) => trimmed.to_string(),
        Err(_) => hostport.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::SavedFlag;

    #[test]
    fn ollama_host_forms() {
        let cases = [
            ("", ("127.0.0.1", 11434)),
            ("0.0.0.0", ("0.0.0.0", 11434)),
            ("1.2.3.4", ("1.2.3.4", 11434)),
            ("gpu-box", ("gpu-box", 11434)),
            ("gpu-box:8080", ("gpu-box", 8080)),
            (" \"gpu:1\" ", ("gpu", 1)),
            ("http://gpu", ("gpu", 80)),
            ("http://gpu:11434", ("gpu", 11434)),
            ("https://gpu", ("https://gpu:443", 443)),
            (
                "https://example.com/ollama",
                ("https://example.com:443/ollama", 443),
            ),
            (
                "http://example.com/ollama/",
                ("http://example.com:80/ollama", 80),
            ),
            ("ollama.com", ("https://ollama.com:443", 443)),
            ("gpu:99999", ("gpu", 11434)),
            ("gpu:x", ("gpu", 11434)),
            (":1234", ("127.0.0.1", 1234)),
            ("::1", ("::1", 11434)),
            ("[::1]:5000", ("::1", 5000)),
        ];
        for (input, (host, port)) in cases {
            assert_eq!(
                ollama_host_from_env(input),
                (host.to_string(), port),
                "{input:?}"
            );
        }
    }

    /// Text that Go's SplitHostPort refuses: Ollama keeps it as the host
    /// (an IP address without its brackets) on the default port.
    #[test]
    fn ollama_host_garbage_falls_back_as_ollama_does() {
        let cases = [
            ("[::1", ("::1", 11434)),
            ("a:b:c", ("a:b:c", 11434)),
            ("fe80::1:443", ("fe80::1:443", 11434)),
            ("[gpu]x", ("[gpu]x", 11434)),
            (":", ("127.0.0.1", 11434)),
            ("gpu:", ("gpu", 11434)),
            ("[::1]", ("::1", 11434)),
        ];
        for (input, (host, port)) in cases {
            assert_eq!(
                ollama_host_from_env(input),
                (host.to_string(), port),
                "{input:?}"
            );
        }
    }

    fn resolve_with(file: &str, args: Args, env: Environment) -> Resolved {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, file).unwrap();
        resolve(&args, &env, &path).unwrap()
    }

    #[test]
    fn precedence_is_flag_env_file_default() {
        let env = Environment {
            token: Some("from-env".into()),
            ollama_host: None,
        };
        let r = resolve_with(
            r#"{"token":"from-file","model":"m"}"#,
            Args::default(),
            env.clone(),
        );
        assert_eq!(r.settings.token.as_ref().unwrap().expose(), "from-env");
        assert_eq!(r.source("token"), Source::Env("OLLAMA_PROXY_TOKEN"));
        assert_eq!(r.source("model"), Source::File);
        assert_eq!(r.source("queue_size"), Source::Default);
        let args = Args {
            saved: vec![SavedFlag {
                key: "token",
                value: Value::from("from-flag"),
                flag: "--force-token",
            }],
            ..Args::default()
        };
        let r = resolve_with(r#"{"token":"from-file"}"#, args, env);
        assert_eq!(r.settings.token.as_ref().unwrap().expose(), "from-flag");
        assert_eq!(r.to_save["token"], "from-flag");
    }

    #[test]
    fn sources_are_named_in_either_language() {
        use crate::text::Lang;
        let cases = [
            (
                Source::Flag("--stream"),
                "command line --stream",
                "командная строка, --stream",
            ),
            (
                Source::Env("OLLAMA_HOST"),
                "environment OLLAMA_HOST",
                "переменная окружения OLLAMA_HOST",
            ),
            (Source::File, "config file", "файл настроек"),
            (
                Source::Prompt,
                "first-run answer",
                "ответ при первом запуске",
            ),
            (Source::Default, "default", "по умолчанию"),
        ];
        for (source, en, ru) in cases {
            assert_eq!(source.to_string(), en);
            assert_eq!(source.text().in_lang(Lang::Ru), ru);
        }
    }

    #[test]
    fn ollama_host_env_only_fills_a_missing_address() {
        let env = Environment {
            token: None,
            ollama_host: Some("10.1.2.3:7777".into()),
        };
        let r = resolve_with("{}", Args::default(), env.clone());
        assert_eq!(
            (r.settings.ollama_host.as_str(), r.settings.ollama_port),
            ("10.1.2.3", 7777)
        );
        let r = resolve_with(r#"{"ollama_host":"localhost"}"#, Args::default(), env);
        assert_eq!(
            (r.settings.ollama_host.as_str(), r.settings.ollama_port),
            ("localhost", 11434)
        );
    }
}
