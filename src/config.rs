//! Settings: what the owner configured, with every default in one place.
//!
//! The config file is the JSON object the original Python client wrote to
//! `~/.config/ollama_proxy/config.json` (`token`, `model`, `ollama_host`,
//! `ollama_port`, `stream_mode`), plus this client's own keys for the relay,
//! the heartbeat and the size limits. Loading turns that object into a typed
//! [`Settings`]; a value of the wrong type is an error that names the file,
//! the line and the key, never a silent reset to defaults. Keys this client
//! does not know are ignored here (and kept when the file is saved).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::secret::Token;

/// The hub's fixed address; only the port is chosen (`--port`).
pub const DEFAULT_HUB_HOST: &str = "bober.app";
pub const DEFAULT_HUB_PATH: &str = "/auth-proxy";
pub const DEFAULT_HUB_PORT: u16 = 5050;

/// Everything the running client needs to know, after defaults are applied.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Authenticates this box to the hub. `None` until the owner sets it.
    pub token: Option<Token>,
    /// The Ollama model every buyer prompt runs on (default `llama2`).
    pub model: String,
    /// Ollama's host, or a full base URL such as `http://gpu:11434`.
    pub ollama_host: String,
    pub ollama_port: u16,
    /// Answer in pieces (true) or in one frame, when a request does not say.
    pub stream_mode: bool,
    /// Generations run at once (worker threads).
    pub max_parallel: usize,
    /// Requests that may wait for a free worker; one more is answered `busy`.
    pub queue_size: usize,
    /// Passed to Ollama as `keep_alive` when set (seconds or a duration string).
    pub keep_alive: Option<Value>,
    /// Passed to Ollama as `options` (temperature, num_ctx, ...).
    pub options: Map<String, Value>,
    /// Longest wait for Ollama's first line: it sends nothing while it loads
    /// the model and reads the prompt.
    pub load_timeout: Duration,
    /// Longest wait between two of Ollama's lines once it has started.
    pub idle_timeout: Duration,
    /// Largest hub frame accepted; larger ones are ignored with a warning.
    pub max_frame_bytes: usize,
    /// Largest single NDJSON line accepted from Ollama (the final line
    /// carries the token ids of the whole conversation).
    pub max_line_bytes: usize,
    /// A WebSocket ping goes to the hub this often.
    pub ping_interval: Duration,
    /// A connection with nothing received for this long is replaced.
    pub dead_after: Duration,
    /// TCP + TLS + WebSocket handshake must finish within this.
    pub handshake_timeout: Duration,
    /// First reconnect delay; each failed attempt adds this much again.
    pub reconnect_base: Duration,
    /// Longest reconnect delay; also how long a connection must stay up
    /// before the delays start again from the first one.
    pub reconnect_max: Duration,
    /// How long running generations may finish after SIGTERM/SIGINT.
    pub shutdown_grace: Duration,
    /// Frames kept while the hub is unreachable, in bytes.
    pub outbox_bytes: usize,
    /// The log file is rotated when it reaches this size.
    pub log_max_bytes: u64,
    /// Rotated log files kept (`client.log.1` ... `client.log.N`).
    pub log_files_kept: usize,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            token: None,
            model: "llama2".into(),
            ollama_host: "localhost".into(),
            ollama_port: 11434,
            stream_mode: true,
            max_parallel: 1,
            queue_size: 16,
            keep_alive: None,
            options: Map::new(),
            load_timeout: Duration::from_secs(300),
            idle_timeout: Duration::from_secs(120),
            max_frame_bytes: 1 << 20,
            max_line_bytes: 8 << 20,
            ping_interval: Duration::from_secs(30),
            dead_after: Duration::from_secs(75),
            handshake_timeout: Duration::from_secs(15),
            reconnect_base: Duration::from_secs(5),
            reconnect_max: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(10),
            outbox_bytes: 8 << 20,
            log_max_bytes: 10 << 20,
            log_files_kept: 3,
        }
    }
}

/// The keys every setting is stored under, in `--show-config` order.
pub const KEYS: &[&str] = &[
    "token",
    "model",
    "ollama_host",
    "ollama_port",
    "stream_mode",
    "max_parallel",
    "queue_size",
    "keep_alive",
    "options",
    "load_timeout_secs",
    "idle_timeout_secs",
    "max_frame_bytes",
    "max_line_bytes",
    "ping_interval_secs",
    "dead_after_secs",
    "handshake_timeout_secs",
    "reconnect_base_secs",
    "reconnect_max_secs",
    "shutdown_grace_secs",
    "outbox_bytes",
    "log_max_bytes",
    "log_files_kept",
];

impl Settings {
    /// A setting's value for display; the token is masked.
    pub fn display_value(&self, key: &str) -> String {
        let secs = |d: Duration| format!("{}", d.as_secs_f64());
        match key {
            "token" => self
                .token
                .as_ref()
                .map_or("(not set)".into(), Token::masked),
            "model" => self.model.clone(),
            "ollama_host" => self.ollama_host.clone(),
            "ollama_port" => self.ollama_port.to_string(),
            "stream_mode" => self.stream_mode.to_string(),
            "max_parallel" => self.max_parallel.to_string(),
            "queue_size" => self.queue_size.to_string(),
            "keep_alive" => self
                .keep_alive
                .as_ref()
                .map_or("(Ollama's default)".into(), Value::to_string),
            "options" => Value::Object(self.options.clone()).to_string(),
            "load_timeout_secs" => secs(self.load_timeout),
            "idle_timeout_secs" => secs(self.idle_timeout),
            "max_frame_bytes" => self.max_frame_bytes.to_string(),
            "max_line_bytes" => self.max_line_bytes.to_string(),
            "ping_interval_secs" => secs(self.ping_interval),
            "dead_after_secs" => secs(self.dead_after),
            "handshake_timeout_secs" => secs(self.handshake_timeout),
            "reconnect_base_secs" => secs(self.reconnect_base),
            "reconnect_max_secs" => secs(self.reconnect_max),
            "shutdown_grace_secs" => secs(self.shutdown_grace),
            "outbox_bytes" => self.outbox_bytes.to_string(),
            "log_max_bytes" => self.log_max_bytes.to_string(),
            "log_files_kept" => self.log_files_kept.to_string(),
            _ => String::new(),
        }
    }
}

/// Why the config file could not be used. Each variant names the file.
#[derive(Debug)]
pub enum ConfigError {
    /// The file exists but could not be read.
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file (or its directory) could not be written.
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not a JSON object.
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// A known key holds a value of the wrong type or out of range.
    Value {
        path: PathBuf,
        line: Option<usize>,
        key: String,
        expected: &'static str,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { path, source } => {
                write!(f, "cannot read config file {}: {source}", path.display())
            }
            ConfigError::Write { path, source } => {
                write!(f, "cannot write config file {}: {source}", path.display())
            }
            ConfigError::Syntax {
                path,
                line,
                column,
                message,
            } => write!(
                f,
                "config file {} is not valid JSON (line {line}, column {column}): {message}",
                path.display()
            ),
            ConfigError::Value {
                path,
                line,
                key,
                expected,
            } => {
                write!(f, "config file {}", path.display())?;
                if let Some(line) = line {
                    write!(f, ", line {line}")?;
                }
                write!(f, ": key '{key}' must be {expected}")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// `~/.config/ollama_proxy/config.json`, where the original client kept it.
/// Built from the home directory (not `XDG_CONFIG_HOME`) so that both
/// clients always agree on the file.
pub fn default_config_path() -> Option<PathBuf> {
    dirs::home_dir().map(|home| {
        home.join(".config")
            .join("ollama_proxy")
            .join("config.json")
    })
}

/// Reads the config file into settings. A missing file gives the defaults;
/// the raw object is returned too, so that saving can keep unknown keys.
pub fn load(path: &Path) -> Result<(Settings, Map<String, Value>), ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((Settings::default(), Map::new()))
        }
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.into(),
                source,
            })
        }
    };
    let object = parse_object(path, &text)?;
    let mut settings = Settings::default();
    for (key, value) in &object {
        apply_key(&mut settings, key, value).map_err(|expected| ConfigError::Value {
            path: path.into(),
            line: line_of_key(&text, key),
            key: key.clone(),
            expected,
        })?;
    }
    Ok((settings, object))
}

/// Writes the config atomically: a temporary file in the same directory
/// (mode 0600), fsync, rename over the old file, fsync the directory. The
/// directory is created with mode 0700. A crash leaves the old file or the
/// new one, never half of one.
pub fn save(path: &Path, object: &Map<String, Value>) -> Result<(), ConfigError> {
    let error = |source| ConfigError::Write {
        path: path.into(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    create_private_dir(dir).map_err(error)?;
    let text = serde_json::to_string_pretty(object).unwrap_or_else(|_| "{}".into()) + "\n";
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("config.json");
    let temp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let written = write_private(&temp, text.as_bytes()).and_then(|()| std::fs::rename(&temp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(error(e));
    }
    // Makes the rename itself durable; not every file system allows it.
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn parse_object(path: &Path, text: &str) -> Result<Map<String, Value>, ConfigError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ConfigError::Syntax {
            path: path.into(),
            line: 1,
            column: 1,
            message: "the top level must be an object {...}".into(),
        }),
        Err(e) => Err(ConfigError::Syntax {
            path: path.into(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        }),
    }
}

/// Stores one config key into `settings`; on a bad value, says what was
/// expected. Unknown keys are accepted and left alone.
pub fn apply_key(settings: &mut Settings, key: &str, value: &Value) -> Result<(), &'static str> {
    let s = settings;
    match key {
        // The original client wrote `null` for a token it never asked for.
        "token" => {
            s.token = optional_string(value)?
                .filter(|t| !t.is_empty())
                .map(Token::new)
        }
        "model" => s.model = non_empty_string(value)?,
        "ollama_host" => s.ollama_host = non_empty_string(value)?,
        "ollama_port" => s.ollama_port = port(value)?,
        "stream_mode" => s.stream_mode = value.as_bool().ok_or("true or false")?,
        "max_parallel" => s.max_parallel = count(value, 1, 256)?,
        "queue_size" => s.queue_size = count(value, 0, 100_000)?,
        "keep_alive" => s.keep_alive = keep_alive(value)?,
        "options" => s.options = value.as_object().cloned().ok_or("an object {...}")?,
        "load_timeout_secs" => s.load_timeout = seconds(value)?,
        "idle_timeout_secs" => s.idle_timeout = seconds(value)?,
        "max_frame_bytes" => s.max_frame_bytes = count(value, 1024, 1 << 30)?,
        "max_line_bytes" => s.max_line_bytes = count(value, 1024, 1 << 30)?,
        "ping_interval_secs" => s.ping_interval = seconds(value)?,
        "dead_after_secs" => s.dead_after = seconds(value)?,
        "handshake_timeout_secs" => s.handshake_timeout = seconds(value)?,
        "reconnect_base_secs" => s.reconnect_base = seconds(value)?,
        "reconnect_max_secs" => s.reconnect_max = seconds(value)?,
        "shutdown_grace_secs" => s.shutdown_grace = seconds_or_zero(value)?,
        "outbox_bytes" => s.outbox_bytes = count(value, 1024, 1 << 30)?,
        "log_max_bytes" => s.log_max_bytes = count(value, 1024, 1 << 40)? as u64,
        "log_files_kept" => s.log_files_kept = count(value, 0, 100)?,
        _ => {}
    }
    Ok(())
}

fn optional_string(value: &Value) -> Result<Option<String>, &'static str> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err("a string"),
    }
}

fn non_empty_string(value: &Value) -> Result<String, &'static str> {
    match value.as_str() {
        Some(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        _ => Err("a non-empty string"),
    }
}

/// A TCP port. The original client could save it as a string ("11434").
fn port(value: &Value) -> Result<u16, &'static str> {
    const EXPECTED: &str = "a port number from 1 to 65535";
    let number = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    match number {
        Some(n @ 1..=65535) => Ok(n as u16),
        _ => Err(EXPECTED),
    }
}

fn count(value: &Value, min: u64, max: u64) -> Result<usize, &'static str> {
    match value.as_u64() {
        Some(n) if (min..=max).contains(&n) => Ok(n as usize),
        _ => Err("a whole number in its allowed range (see the README)"),
    }
}

/// A positive number of seconds; fractions allowed so that tests can use
/// milliseconds.
fn seconds(value: &Value) -> Result<Duration, &'static str> {
    match value.as_f64() {
        Some(s) if s > 0.0 && s <= 1e9 => Ok(Duration::from_secs_f64(s)),
        _ => Err("a number of seconds greater than 0"),
    }
}

fn seconds_or_zero(value: &Value) -> Result<Duration, &'static str> {
    match value.as_f64() {
        Some(s) if (0.0..=1e9).contains(&s) => Ok(Duration::from_secs_f64(s)),
        _ => Err("a number of seconds, 0 or more"),
    }
}

/// Ollama takes a number of seconds or a Go duration string ("10m", "-1").
fn keep_alive(value: &Value) -> Result<Option<Value>, &'static str> {
    match value {
        Value::Null => Ok(None),
        Value::Number(_) | Value::String(_) => Ok(Some(value.clone())),
        _ => Err("a number of seconds or a duration string such as \"10m\""),
    }
}

/// The 1-based line on which `"key"` first appears, for error messages.
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    let quoted = format!("\"{key}\"");
    text.lines()
        .position(|line| line.contains(&quoted))
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<Settings, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, text).unwrap();
        load(&path).map(|(s, _)| s)
    }

    #[test]
    fn reads_the_original_clients_file() {
        let s = load_text(
            r#"{"token": "abc123", "model": "llama3", "ollama_host": "localhost",
                "ollama_port": 11434, "stream_mode": false}"#,
        )
        .unwrap();
        assert_eq!(s.token.unwrap().expose(), "abc123");
        assert_eq!(s.model, "llama3");
        assert_eq!(s.ollama_port, 11434);
        assert!(!s.stream_mode);
    }

    #[test]
    fn a_wrong_type_names_the_key_and_line() {
        let err = load_text("{\n  \"model\": \"x\",\n  \"ollama_port\": true\n}").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("line 3"), "{text}");
        assert!(text.contains("'ollama_port'"), "{text}");
    }

    #[test]
    fn broken_json_names_line_and_column() {
        let err = load_text("{\n  \"model\": \"x\",,\n}").unwrap_err();
        assert!(matches!(err, ConfigError::Syntax { line: 2, .. }), "{err}");
    }

    #[test]
    fn fractional_seconds_and_unknown_keys() {
        let s = load_text(r#"{"ping_interval_secs": 0.05, "something_new": [1]}"#).unwrap();
        assert_eq!(s.ping_interval, Duration::from_millis(50));
    }

    #[test]
    fn save_is_private_and_keeps_unknown_keys() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("config.json");
        let mut object = Map::new();
        object.insert("token".into(), Value::String("t".into()));
        object.insert("future_key".into(), serde_json::json!({"a": 1}));
        save(&path, &object).unwrap();
        save(&path, &object).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        let (_, raw) = load(&path).unwrap();
        assert_eq!(raw["future_key"], serde_json::json!({"a": 1}));
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
    }

    #[test]
    fn port_as_string_is_accepted_but_zero_is_not() {
        assert_eq!(
            load_text(r#"{"ollama_port": "8080"}"#).unwrap().ollama_port,
            8080
        );
        assert!(load_text(r#"{"ollama_port": 0}"#).is_err());
    }
}
