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
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::address::OllamaUrl;
use crate::cli::Args;
use crate::config::{self, ConfigError, Settings};
use crate::secret::Token;
use crate::text::{cli as text, config as text_config, Text};

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
            Source::File => text::config_file(),
            Source::Prompt => text::source_prompt(),
            Source::Default => text::source_default(),
        }
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
    pub sources: BTreeMap<String, Source>,
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
        self.sources.insert(key.to_string(), source);
        self.to_save.insert(key.to_string(), value);
        Ok(())
    }

    /// Writes flags and answers into the config file, keeping the rest.
    pub fn save(&mut self) -> Result<bool, ConfigError> {
        if self.to_save.is_empty() {
            return Ok(false);
        }
        self.raw.append(&mut self.to_save);
        config::save(&self.config_path, &self.raw)?;
        Ok(true)
    }
}

/// `logs/client.log` beside the config file (`logs/gpu1.client.log` for
/// `gpu1.json`).
pub fn log_path_for(config_path: &Path) -> PathBuf {
    let own = config::beside(config_path, "client.log");
    let name = own.file_name().unwrap_or_default().to_os_string();
    own.with_file_name("logs").join(name)
}

/// Reads the config file and applies the environment and the flags.
pub fn resolve(args: &Args, env: &Environment, path: &Path) -> Result<Resolved, ConfigError> {
    resolve_over(config::load(path)?, args, env, path)
}

/// Like [`resolve`] for a config file that cannot be used: the flags, the
/// environment and the defaults, with `path` kept as the file in use.
pub fn resolve_without_file(
    args: &Args,
    env: &Environment,
    path: &Path,
) -> Result<Resolved, ConfigError> {
    resolve_over((Settings::default(), Map::new()), args, env, path)
}

/// The environment and the flags over the settings read from the config
/// file's object `raw` (empty without a file).
fn resolve_over(
    (settings, raw): (Settings, Map<String, Value>),
    args: &Args,
    env: &Environment,
    path: &Path,
) -> Result<Resolved, ConfigError> {
    let mut resolved = Resolved {
        settings,
        config_path: path.to_path_buf(),
        sources: raw.keys().map(|key| (key.clone(), Source::File)).collect(),
        raw,
        to_save: Map::new(),
    };
    apply_environment(&mut resolved, env)?;
    apply_flags(&mut resolved, args)?;
    Ok(resolved)
}

/// The token, and `OLLAMA_HOST` when the file sets no Ollama address. The
/// variable is read by the one parser (`address::OllamaUrl`) into
/// `ollama_host` and `ollama_port`; one that parser refuses stops the
/// client like a bad key, naming it.
fn apply_environment(resolved: &mut Resolved, env: &Environment) -> Result<(), ConfigError> {
    if let Some(token) = &env.token {
        resolved.settings.token = Some(Token::new(token.trim()));
        let source = Source::Env("OLLAMA_PROXY_TOKEN");
        resolved.sources.insert("token".into(), source);
    }
    let config_sets_address =
        resolved.raw.contains_key("ollama_host") || resolved.raw.contains_key("ollama_port");
    if let (Some(value), false) = (&env.ollama_host, config_sets_address) {
        let url = OllamaUrl::parse(value, Settings::default().ollama_port).map_err(|why| {
            let expected = text_config::expected_ollama_address(why.text());
            ConfigError(text_config::config_bad_env("OLLAMA_HOST", expected))
        })?;
        // Host and port apart when they can be, so that `--ollama-port`
        // still changes the port; a base URL stays whole.
        let host = url.plain_host().unwrap_or(url.expose());
        resolved.settings.ollama_host = host.to_string();
        resolved.settings.ollama_port = url.port();
        for key in ["ollama_host", "ollama_port"] {
            resolved
                .sources
                .insert(key.into(), Source::Env("OLLAMA_HOST"));
        }
    }
    Ok(())
}

/// The command line checked these values already; one the settings still
/// refuse is reported like a bad value in the file, naming the flag.
fn apply_flags(resolved: &mut Resolved, args: &Args) -> Result<(), ConfigError> {
    for saved in &args.saved {
        resolved
            .set(saved.key, saved.value.clone(), Source::Flag(saved.flag))
            .map_err(|expected| {
                ConfigError::bad_value(&resolved.config_path, None, saved.flag, expected)
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::SavedFlag;

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
            assert_eq!(source.text().english(), en);
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
            r.settings.backends()[0].base_url.expose(),
            "http://10.1.2.3:7777"
        );
        assert_eq!(r.source("ollama_host"), Source::Env("OLLAMA_HOST"));
        let r = resolve_with(r#"{"ollama_host":"localhost"}"#, Args::default(), env);
        assert_eq!(
            (r.settings.ollama_host.as_str(), r.settings.ollama_port),
            ("localhost", 11434)
        );
    }

    /// `OLLAMA_HOST` is read by the parser of `ollama_host`: what it
    /// cannot take stops the client naming the variable, in either
    /// language; with the file setting an address it is not read at all.
    #[test]
    fn a_bad_ollama_host_env_is_refused_naming_it() {
        use crate::text::Lang;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        for bad in ["http://gpu?x=1", "ftp://gpu", "http://a/b@gpu", "gpu 1"] {
            let env = Environment {
                token: None,
                ollama_host: Some(bad.into()),
            };
            std::fs::write(&path, "{}").unwrap();
            let error = resolve(&Args::default(), &env, &path).err().expect(bad);
            let (en, ru) = (error.text().english(), error.text().in_lang(Lang::Ru));
            assert!(
                en.starts_with("environment variable OLLAMA_HOST must be an Ollama address"),
                "{en}"
            );
            assert!(ru.contains("переменной окружения OLLAMA_HOST"), "{ru}");
            std::fs::write(&path, r#"{"ollama_host": "gpu"}"#).unwrap();
            assert!(resolve(&Args::default(), &env, &path).is_ok(), "{bad}");
        }
    }
}
