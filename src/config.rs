//! The config file: where it is, how it is read and written, and what a
//! bad one is reported as. The keys themselves (name, default, check,
//! display, doc) are one table in [`keys`].
//!
//! The file is the JSON object the original Python client wrote to
//! `~/.config/ollama_proxy/config.json` (`token`, `model`, `ollama_host`,
//! `ollama_port`, `stream_mode`), plus this client's own keys for the relay,
//! the heartbeat and the size limits. Loading starts from the defaults and
//! passes every key of the object through its entry's check
//! ([`apply_key`]), giving a typed [`Settings`]; a value of the wrong type
//! is an error that names the file, the line and the key, never a silent
//! reset to defaults. Keys this client does not know are ignored here (and
//! kept when the file is saved).

mod backends;
mod keys;

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::platform::files;
use crate::text::{config as text, Text};

pub use backends::BackendSpec;
pub use keys::{apply_key, Expected, Settings, DEFAULT_MODEL, KEYS};
#[cfg(test)]
pub use keys::{documented_keys, DocumentedDefault};

/// The hub's fixed address; only the port is chosen (`--port`).
pub const DEFAULT_HUB_HOST: &str = "bober.app";
pub const DEFAULT_HUB_PATH: &str = "/auth-proxy";
pub const DEFAULT_HUB_PORT: u16 = 5050;

/// Why the config file could not be used, or a value for it: a message
/// that names the file (or the environment variable that stands for a
/// key), built where the error is found.
#[derive(Debug)]
pub struct ConfigError(pub Text);

impl ConfigError {
    /// The message, for the terminal ([`Text::owner`]) or the log.
    pub fn text(&self) -> Text {
        self.0.clone()
    }

    /// A value of `key` that its check refused, saying what the key takes;
    /// `line` is where the file holds it (none for a flag, whose name is
    /// then `key`).
    pub fn bad_value(path: &Path, line: Option<usize>, key: &str, expected: Expected) -> Self {
        let path = path.display();
        ConfigError(match line {
            Some(line) => text::config_bad_value_at_line(path, line, key, expected),
            None => text::config_bad_value(path, key, expected),
        })
    }
}

crate::text::english_display!(ConfigError);

impl std::error::Error for ConfigError {}

/// `~/.config/ollama_proxy/config.json`, where the original client kept it.
/// Built from the home directory (not `XDG_CONFIG_HOME`) so that both
/// clients always agree on the file.
pub fn default_config_path() -> Option<PathBuf> {
    let home = crate::platform::files::home_dir()?;
    Some(
        home.join(".config")
            .join("ollama_proxy")
            .join("config.json"),
    )
}

/// The file `name` the client keeps beside the config file at
/// `config_path` (the control socket and lock, the pause, the ledger, the
/// log): `name` itself for `config.json`, and `STEM.name` for any other
/// config file (`gpu1.control.sock` for `gpu1.json`), so that two config
/// files in one directory (one per GPU) never share one.
pub fn beside(config_path: &Path, name: &str) -> PathBuf {
    let dir = dir_of(config_path);
    let file = config_path.file_name().unwrap_or_default();
    if file == "config.json" || file.is_empty() {
        return dir.join(name);
    }
    let stem = Path::new(file).file_stem().unwrap_or(file);
    let mut own = stem.to_os_string();
    own.push(".");
    own.push(name);
    dir.join(own)
}

/// Reads the config file into settings. A missing file gives the defaults;
/// the raw object is returned too, so that saving can keep unknown keys.
pub fn load(path: &Path) -> Result<(Settings, Map<String, Value>), ConfigError> {
    let text = match read_text(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((Settings::default(), Map::new()))
        }
        Err(e) => {
            let why = crate::state_file::reason(&e);
            return Err(ConfigError(text::config_cannot_read(path.display(), why)));
        }
    };
    let object = parse_object(path, &text)?;
    let mut settings = Settings::default();
    for (key, value) in &object {
        apply_key(&mut settings, key, value).map_err(|expected| {
            ConfigError::bad_value(path, line_of_key(&text, key), key, expected)
        })?;
    }
    Ok((settings, object))
}

/// The `language` the config file at `path` names (`en` or `ru`), read
/// leniently before anything else so that even `--help` and the file's own
/// errors can be in it: a file that is missing, unreadable or not valid
/// JSON, or holds `auto` or nothing usable, gives `None` (the locale
/// decides).
pub fn language_in(path: &Path) -> Option<crate::text::Lang> {
    let text = read_text(path).ok()?;
    let object: Map<String, Value> = serde_json::from_str(&text).ok()?;
    object
        .get("language")?
        .as_str()
        .and_then(crate::text::Lang::from_code)
}

/// The config file's text, opened as a state file: never blocking, and
/// only a regular file (a FIFO in its place would hold every mode).
fn read_text(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    crate::state_file::open(path, crate::state_file::Access::Read)?.read_to_string(&mut text)?;
    Ok(text)
}

/// Writes the config atomically: a temporary file in the same directory
/// (mode 0600, created anew, never through a symbolic link), fsync, rename
/// over the old file, fsync the directory. The directory is created with
/// mode 0700. A crash leaves the old file or the new one, never half of one.
pub fn save(path: &Path, object: &Map<String, Value>) -> Result<(), ConfigError> {
    let error = |e| ConfigError(text::config_cannot_write(path.display(), e));
    let dir = dir_of(path);
    files::create_private_dir(dir).map_err(error)?;
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

/// The directory of the file at `path` (`.` for a bare file name).
fn dir_of(path: &Path) -> &Path {
    let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty());
    dir.unwrap_or(Path::new("."))
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = files::create_private(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn parse_object(path: &Path, text: &str) -> Result<Map<String, Value>, ConfigError> {
    let (line, column, why) = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => return Ok(object),
        Ok(_) => (1, 1, text::config_top_level_not_object()),
        Err(e) => (e.line(), e.column(), Text::verbatim(e)),
    };
    let path = path.display();
    Err(ConfigError(text::config_not_json(path, line, column, why)))
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
    use std::time::Duration;

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
    fn a_wrong_value_is_named_in_russian_too_with_file_line_and_key() {
        use crate::text::Lang;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, "{\n  \"model\": \"x\",\n  \"ollama_port\": true\n}").unwrap();
        let err = load(&path).unwrap_err();
        let shown = path.display();
        assert_eq!(
            err.text().english(),
            format!("config file {shown}, line 3: key 'ollama_port' must be a port number from 1 to 65535")
        );
        assert_eq!(err.to_string(), err.text().english());
        assert_eq!(
            err.text().in_lang(Lang::Ru),
            format!(
                "файл настроек {shown}, строка 3: значение ключа 'ollama_port' должно быть \
                 номером порта от 1 до 65535"
            )
        );
        // From the command line there is no line to name.
        let expected = crate::text::config::expected_non_empty_string();
        let flag = ConfigError::bad_value(&path, None, "--model", expected);
        assert_eq!(
            flag.text().in_lang(Lang::Ru),
            format!("файл настроек {shown}: значение ключа '--model' должно быть непустой строкой")
        );
    }

    #[test]
    fn json_that_is_not_an_object_says_so_in_either_language() {
        use crate::text::Lang;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, "[1]").unwrap();
        let err = load(&path).unwrap_err();
        let shown = path.display();
        assert_eq!(
            err.to_string(),
            format!(
                "config file {shown} is not valid JSON (line 1, column 1): \
                 the top level must be an object {{...}}"
            )
        );
        let russian = err.text().in_lang(Lang::Ru);
        assert!(
            russian.starts_with(&format!("файл настроек {shown} ")),
            "{russian}"
        );
        assert!(
            russian.ends_with("(строка 1, столбец 1): на верхнем уровне должен быть объект {...}"),
            "{russian}"
        );
    }

    #[test]
    fn broken_json_names_line_and_column() {
        let err = load_text("{\n  \"model\": \"x\",,\n}").unwrap_err();
        assert!(err.to_string().contains("(line 2, column "), "{err}");
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
