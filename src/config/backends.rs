//! The Ollama backends the client serves from: the `ollama_hosts` key as
//! the owner wrote it ([`HostEntry`]), and the list the rest of the client
//! uses ([`BackendSpec`], from `Settings::backends`).
//!
//! Data flow: the config file's `ollama_hosts` passes [`parse_hosts`] (the
//! key's check in the settings table, `keys`) into `Settings::ollama_hosts`,
//! kept as written; `Settings::backends` then asks [`specs`] to turn each
//! entry into a name, a base URL and a `max_parallel`. This module knows
//! nothing of `Settings` (the table uses it, not the other way round). Without `ollama_hosts` the one backend is
//! `ollama_host`/`ollama_port` (which `OLLAMA_HOST` may fill in), exactly
//! as before the key existed, so an original config file means one Ollama.
//!
//! Every address, an entry's and `ollama_host`'s, is read by the one
//! parser, `address::OllamaUrl` (the way Ollama reads `OLLAMA_HOST`):
//! `gpu2` is `http://gpu2:11434`, `http://gpu2` port 80, `https://gpu2`
//! port 443, `http://user:password@gpu2` sends Basic auth. A backend's name
//! (its `name`, else its address's `host:port` and path, never its user or
//! password) becomes a Prometheus label value and appears in logs, so a
//! given name is short and plain; an address is shown only masked.
//! Every check, the one on unique names included, happens while parsing,
//! so that `Settings::backends` cannot fail.

use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::address::{self, OllamaUrl};
use crate::ollama::Api;
use crate::text::config as text;

/// What the key takes, when a value is refused (the table's `Expected`).
type Expected = crate::text::Text;

/// The port of an address without one (and without a scheme).
const OLLAMA_PORT: u16 = 11434;

/// The most backends `ollama_hosts` may list.
const MAX_HOSTS: usize = 16;
/// The longest name an entry may give itself, in characters.
const MAX_NAME_CHARS: usize = 64;
/// The longest address an entry may hold, in characters; real ones are far
/// shorter, and a name derived from it must stay readable in a log line.
const MAX_URL_CHARS: usize = 256;
/// An entry's `max_parallel`, as the global key allows.
const MAX_PARALLEL: u64 = 256;

/// One entry of `ollama_hosts` as the owner wrote it, and its address.
#[derive(Clone, Debug, PartialEq)]
pub struct HostEntry {
    /// The address in any form `OLLAMA_HOST` accepts, trimmed; shown only
    /// through `address::masked`.
    pub url: String,
    /// `url`, read.
    pub address: OllamaUrl,
    /// The entry's own `max_parallel`; the global one when absent.
    pub max_parallel: Option<usize>,
    /// The entry's own name; its `host:port` when absent.
    pub name: Option<String>,
    /// What it speaks, and with what.
    pub own: BackendSettings,
}

/// What an entry sets for its backend besides its address, as written;
/// `BackendSpec` carries it on.
#[derive(Clone, Debug, PartialEq)]
pub struct BackendSettings {
    /// What it speaks: Ollama's API unless `"api": "openai"`.
    pub api: Api,
    /// The entry's own model; the global `model` when absent. An
    /// OpenAI-compatible backend names its own (servers name models their
    /// own way).
    pub model: Option<String>,
    /// The entry's own generation options, instead of the global `options`
    /// (for an OpenAI-compatible backend, request parameters such as
    /// `temperature`: Ollama's option names mean nothing to it).
    pub options: Option<Map<String, Value>>,
    /// OpenAI-compatible backends only: a file whose first line is a
    /// bearer key (read at start); never the key itself.
    pub api_key_file: Option<PathBuf>,
    /// OpenAI-compatible backends only: ask for the usage chunk
    /// (`stream_options`); some servers refuse it.
    pub include_usage: bool,
    /// OpenAI-compatible backends only: relay the model's reasoning text
    /// (`reasoning_content`, `reasoning`) to buyers too.
    pub send_reasoning: bool,
}

impl Default for BackendSettings {
    /// An Ollama with the global model and options.
    fn default() -> BackendSettings {
        BackendSettings {
            api: Api::Ollama,
            model: None,
            options: None,
            api_key_file: None,
            include_usage: true,
            send_reasoning: false,
        }
    }
}

/// One Ollama backend as the client uses it.
#[derive(Clone, Debug, PartialEq)]
pub struct BackendSpec {
    /// Unique among the backends; a Prometheus label value and a log word.
    pub name: String,
    /// Such as `http://gpu2:11434`, as `address::OllamaUrl` reads it.
    pub base_url: OllamaUrl,
    /// Requests this backend runs at once.
    pub max_parallel: usize,
    /// What its entry set besides its address (the defaults without one).
    pub own: BackendSettings,
}

/// The backends of `hosts` (entries that passed [`parse_hosts`]), or
/// without any the one at `ollama` (`ollama_host` and `ollama_port`); never
/// empty. `max_parallel` is the global one, for the entries that do not set
/// their own.
pub(super) fn specs(
    hosts: &[HostEntry],
    ollama: OllamaUrl,
    max_parallel: usize,
) -> Vec<BackendSpec> {
    if hosts.is_empty() {
        return vec![BackendSpec {
            name: ollama.name().to_string(),
            base_url: ollama,
            max_parallel,
            own: BackendSettings::default(),
        }];
    }
    let spec = |entry: &HostEntry| BackendSpec {
        name: entry.backend_name(),
        base_url: entry.address.clone(),
        max_parallel: entry.max_parallel.unwrap_or(max_parallel),
        own: entry.own.clone(),
    };
    hosts.iter().map(spec).collect()
}

impl HostEntry {
    /// The entry's name, or the one its address gives it.
    fn backend_name(&self) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None => self.address.name().to_string(),
        }
    }
}

// ------------------------------------------------------------ the check

/// The check of `ollama_hosts`: `null` or `[]` is no list (one backend from
/// `ollama_host`/`ollama_port`), else 1 to [`MAX_HOSTS`] entries with
/// different names.
pub(super) fn parse_hosts(value: &Value) -> Result<Vec<HostEntry>, Expected> {
    let list = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(list) if list.len() <= MAX_HOSTS => list,
        _ => return Err(text::expected_hosts()),
    };
    let entries = list.iter().map(entry).collect::<Result<Vec<_>, _>>()?;
    let names: Vec<String> = entries.iter().map(HostEntry::backend_name).collect();
    let repeated = |(i, name): (usize, &String)| names[i + 1..].contains(name);
    match names.iter().enumerate().any(repeated) {
        true => Err(text::expected_hosts_unique()),
        false => Ok(entries),
    }
}

/// The keys an entry object may have.
const ENTRY_KEYS: &[&str] = &[
    "url",
    "max_parallel",
    "name",
    "api",
    "model",
    "options",
    "api_key_file",
    "include_usage",
    "send_reasoning",
];

/// The keys that mean something only to an OpenAI-compatible backend.
const OPENAI_KEYS: &[&str] = &["api_key_file", "include_usage", "send_reasoning"];

/// One entry: an address, or an object with `url` and optionally the
/// other [`ENTRY_KEYS`] (`null` for any is the same as leaving it out).
fn entry(value: &Value) -> Result<HostEntry, Expected> {
    let no_keys = Map::new();
    let (url, object) = match value {
        Value::String(url) => (url, &no_keys),
        Value::Object(object) => {
            if !object.keys().all(|key| ENTRY_KEYS.contains(&key.as_str())) {
                return Err(text::expected_hosts_keys());
            }
            match object.get("url") {
                Some(Value::String(url)) => (url, object),
                _ => return Err(text::expected_hosts()),
            }
        }
        _ => return Err(text::expected_hosts()),
    };
    let (url, address) = checked_url(url)?;
    let api = entry_api(object)?;
    let model = entry_string(object, "model")?;
    if api == Api::OpenAi && model.is_none() {
        return Err(text::expected_hosts_openai_model());
    }
    let set = |key: &&str| object.get(*key).is_some_and(|value| !value.is_null());
    if api == Api::Ollama && OPENAI_KEYS.iter().any(set) {
        return Err(text::expected_hosts_openai_only());
    }
    Ok(HostEntry {
        url,
        address,
        max_parallel: entry_max_parallel(object)?,
        name: entry_name(object)?,
        own: BackendSettings {
            api,
            model,
            options: entry_options(object)?,
            api_key_file: entry_string(object, "api_key_file")?.map(PathBuf::from),
            include_usage: entry_switch(object, "include_usage", true)?,
            send_reasoning: entry_switch(object, "send_reasoning", false)?,
        },
    })
}

fn entry_api(object: &Map<String, Value>) -> Result<Api, Expected> {
    match object.get("api") {
        None | Some(Value::Null) => Ok(Api::Ollama),
        Some(value) => value
            .as_str()
            .and_then(Api::from_name)
            .ok_or_else(text::expected_hosts_api),
    }
}

/// A non-empty string, trimmed (a model's name, a file's path).
fn entry_string(object: &Map<String, Value>, key: &str) -> Result<Option<String>, Expected> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
        Some(_) => Err(text::expected_hosts_string(key)),
    }
}

fn entry_switch(object: &Map<String, Value>, key: &str, default: bool) -> Result<bool, Expected> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(value) => value
            .as_bool()
            .ok_or_else(|| text::expected_hosts_switch(key)),
    }
}

fn entry_options(object: &Map<String, Value>) -> Result<Option<Map<String, Value>>, Expected> {
    match object.get("options") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(options)) => Ok(Some(options.clone())),
        Some(_) => Err(text::expected_hosts_options()),
    }
}

/// An address the one parser takes, trimmed, and what it reads as.
fn checked_url(written: &str) -> Result<(String, OllamaUrl), Expected> {
    let url = written.trim();
    let unquoted = url.trim_matches(['"', '\'']).trim();
    if unquoted.is_empty() || url.chars().count() > MAX_URL_CHARS {
        return Err(text::expected_hosts_url(text::hosts_url_length()));
    }
    match OllamaUrl::parse(url, OLLAMA_PORT) {
        Ok(address) => Ok((url.to_string(), address)),
        Err(why) => Err(text::expected_hosts_url(why.text())),
    }
}

fn entry_max_parallel(object: &Map<String, Value>) -> Result<Option<usize>, Expected> {
    let value = match object.get("max_parallel") {
        None | Some(Value::Null) => return Ok(None),
        Some(value) => value,
    };
    value
        .as_u64()
        .filter(|n| (1..=MAX_PARALLEL).contains(n))
        .and_then(|n| usize::try_from(n).ok())
        .map(Some)
        .ok_or_else(text::expected_hosts_max_parallel)
}

fn entry_name(object: &Map<String, Value>) -> Result<Option<String>, Expected> {
    match object.get("name") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(name)) if is_name(name) => Ok(Some(name.clone())),
        Some(_) => Err(text::expected_hosts_name()),
    }
}

/// 1 to [`MAX_NAME_CHARS`] Latin letters, digits, `.`, `_`, `-` or `:`:
/// safe in a Prometheus label and a log line as it is.
fn is_name(name: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':');
    (1..=MAX_NAME_CHARS).contains(&name.len()) && name.chars().all(allowed)
}

// ------------------------------------------------------- how it shows

/// `--show-config`'s value: the entries as written, each with what it
/// sets beside its address (`gpu2 (max_parallel 4, name big)`), or
/// "(not set)".
pub(super) fn show_hosts(entries: &[HostEntry]) -> String {
    if entries.is_empty() {
        return text::shown_not_set().owner();
    }
    let shown: Vec<String> = entries.iter().map(show_entry).collect();
    shown.join(", ")
}

fn show_entry(entry: &HostEntry) -> String {
    let shown = |key: &str, value: Option<String>| value.map(|value| format!("{key} {value}"));
    let own = &entry.own;
    let openai = own.api == Api::OpenAi;
    let set: Vec<String> = [
        shown("api", openai.then(|| own.api.as_str().to_string())),
        shown("model", own.model.clone()),
        shown("max_parallel", entry.max_parallel.map(|n| n.to_string())),
        shown("name", entry.name.clone()),
        shown(
            "options",
            own.options.clone().map(|o| Value::Object(o).to_string()),
        ),
        shown(
            "api_key_file",
            own.api_key_file.as_ref().map(|p| p.display().to_string()),
        ),
        shown(
            "include_usage",
            (!own.include_usage).then(|| "false".into()),
        ),
        shown("send_reasoning", own.send_reasoning.then(|| "true".into())),
    ]
    .into_iter()
    .flatten()
    .collect();
    let url = address::masked(&entry.url);
    match set.is_empty() {
        true => url,
        false => format!("{url} ({})", set.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::{apply_key, Settings};

    fn parsed(value: Value) -> Result<Settings, String> {
        let mut settings = Settings::default();
        apply_key(&mut settings, "ollama_hosts", &value)
            .map(|()| settings)
            .map_err(|expected| expected.english())
    }

    fn backends_of(value: Value) -> Vec<BackendSpec> {
        parsed(value).expect("a good ollama_hosts").backends()
    }

    fn spec(name: &str, base_url: &str, max_parallel: usize) -> BackendSpec {
        BackendSpec {
            name: name.into(),
            base_url: OllamaUrl::parse(base_url, 11434).unwrap(),
            max_parallel,
            own: BackendSettings::default(),
        }
    }

    #[test]
    fn without_the_key_the_one_backend_is_ollama_host_and_port() {
        let mut settings = Settings::default();
        assert_eq!(
            settings.backends(),
            [spec("localhost:11434", "http://localhost:11434", 1)]
        );
        settings.ollama_host = "::1".into();
        settings.ollama_port = 8080;
        settings.max_parallel = 3;
        assert_eq!(
            settings.backends(),
            [spec("[::1]:8080", "http://[::1]:8080", 3)]
        );
        // OLLAMA_HOST's forms reach `ollama_host` as a base URL.
        settings.ollama_host = "https://gpu.example:443/ollama".into();
        assert_eq!(
            settings.backends(),
            [spec(
                "gpu.example:443/ollama",
                "https://gpu.example:443/ollama",
                3
            )]
        );
    }

    #[test]
    fn null_and_an_empty_list_are_not_set() {
        for value in [Value::Null, json!([])] {
            let settings = parsed(value).unwrap();
            assert!(settings.ollama_hosts.is_empty());
            assert_eq!(settings.backends().len(), 1);
            assert_eq!(settings.display_value("ollama_hosts"), "(not set)");
        }
    }

    #[test]
    fn every_form_of_ollama_host_is_an_address() {
        let cases = [
            ("gpu2", "gpu2:11434", "http://gpu2:11434"),
            ("gpu2:8080", "gpu2:8080", "http://gpu2:8080"),
            ("http://gpu2:11434", "gpu2:11434", "http://gpu2:11434"),
            ("http://gpu2", "gpu2:80", "http://gpu2:80"),
            ("https://gpu2", "gpu2:443", "https://gpu2:443"),
            (
                "https://example.com/ollama/",
                "example.com:443/ollama",
                "https://example.com:443/ollama",
            ),
            (":1234", "127.0.0.1:1234", "http://127.0.0.1:1234"),
            ("localhost", "localhost:11434", "http://localhost:11434"),
            ("::1", "[::1]:11434", "http://[::1]:11434"),
            ("[::1]:5000", "[::1]:5000", "http://[::1]:5000"),
            ("  10.0.0.7  ", "10.0.0.7:11434", "http://10.0.0.7:11434"),
            ("ollama.com", "ollama.com:443", "https://ollama.com:443"),
            // A user and password: sent, never in the name.
            (
                "http://admin:pw@127.0.0.1:4321",
                "127.0.0.1:4321",
                "http://admin:pw@127.0.0.1:4321",
            ),
        ];
        for (written, name, base_url) in cases {
            assert_eq!(
                backends_of(json!([written])),
                [spec(name, base_url, 1)],
                "{written}"
            );
        }
    }

    #[test]
    fn objects_give_a_url_and_optionally_max_parallel_and_a_name() {
        let mut settings = parsed(json!([
            "gpu1",
            {"url": "http://192.168.1.20:11434", "max_parallel": 2, "name": "desktop"},
            {"url": "gpu3", "max_parallel": 256},
            {"url": "gpu4", "name": "a-Z_0.9:x", "max_parallel": null},
            {"url": "gpu5", "name": null},
        ]))
        .unwrap();
        settings.max_parallel = 4;
        assert_eq!(
            settings.backends(),
            [
                spec("gpu1:11434", "http://gpu1:11434", 4),
                spec("desktop", "http://192.168.1.20:11434", 2),
                spec("gpu3:11434", "http://gpu3:11434", 256),
                spec("a-Z_0.9:x", "http://gpu4:11434", 4),
                spec("gpu5:11434", "http://gpu5:11434", 4),
            ]
        );
        assert_eq!(
            settings.ollama_hosts[1],
            HostEntry {
                url: "http://192.168.1.20:11434".into(),
                address: OllamaUrl::parse("http://192.168.1.20:11434", 11434).unwrap(),
                max_parallel: Some(2),
                name: Some("desktop".into()),
                own: BackendSettings::default(),
            }
        );
    }

    #[test]
    fn sixteen_entries_are_allowed_and_seventeen_are_not() {
        let hosts = |n: usize| Value::from((0..n).map(|i| format!("gpu{i}")).collect::<Vec<_>>());
        assert_eq!(backends_of(hosts(16)).len(), 16);
        assert_eq!(backends_of(hosts(1)).len(), 1);
        let refused = parsed(hosts(17)).unwrap_err();
        assert!(
            refused.starts_with("a list of 1 to 16 Ollama addresses"),
            "{refused}"
        );
    }

    /// Each value with the end of what the key must be.
    fn assert_refused(cases: &[(Value, &str)]) {
        for (value, expected) in cases {
            let refused = parsed(value.clone()).expect_err(&value.to_string());
            assert!(refused.contains(expected), "{value}: {refused}");
        }
    }

    #[test]
    fn a_value_that_is_not_a_list_is_refused() {
        let list = "a list of 1 to 16 Ollama addresses";
        assert_refused(&[
            (json!("gpu1"), list),
            (json!("gpu1,gpu2"), list),
            (json!(3), list),
            (json!(true), list),
            (json!({"url": "gpu1"}), list),
        ]);
    }

    #[test]
    fn entries_of_the_wrong_type_are_refused() {
        let entry = "a list of 1 to 16 Ollama addresses: strings such as \"gpu2:11434\" or objects";
        assert_refused(&[
            (json!([1]), entry),
            (json!([1.5]), entry),
            (json!([null]), entry),
            (json!([false]), entry),
            (json!([["gpu1"]]), entry),
            (json!(["gpu1", [["gpu2"]]]), entry),
            (json!([{}]), entry),
            (json!([{"url": 5}]), entry),
            (json!([{"url": ["gpu1"]}]), entry),
            (json!([{"url": null}]), entry),
            (json!([{"name": "gpu1"}]), entry),
        ]);
    }

    #[test]
    fn unknown_keys_in_an_entry_are_refused() {
        let keys = "only the keys \"url\", \"max_parallel\", \"name\", \"api\", \"model\"";
        assert_refused(&[
            (json!([{"url": "gpu1", "weight": 2}]), keys),
            (json!([{"url": "gpu1", "URL": "gpu1"}]), keys),
            (json!([{"host": "gpu1"}]), keys),
        ]);
    }

    #[test]
    fn an_openai_backend_names_its_model_and_may_set_its_own_keys() {
        let settings = parsed(json!([
            "gpu1",
            {"url": "http://127.0.0.1:8080", "api": "openai", "model": "org/Qwen2.5-7B-Instruct",
             "api_key_file": " /etc/keys/vllm ", "include_usage": false, "send_reasoning": true,
             "options": {"temperature": 0.2}, "name": "vllm"},
            {"url": "gpu2", "api": "ollama", "model": "llama3.2", "options": {"num_ctx": 4096}},
            {"url": "http://127.0.0.1:1234/v1", "api": "openai", "model": "qwen",
             "api_key_file": null, "include_usage": null, "send_reasoning": null},
        ]))
        .unwrap();
        let specs = settings.backends();
        let shown: Vec<_> = specs
            .iter()
            .map(|s| &s.own)
            .map(|s| (s.api, s.model.as_deref(), s.include_usage, s.send_reasoning))
            .collect();
        assert_eq!(
            shown,
            [
                (Api::Ollama, None, true, false),
                (Api::OpenAi, Some("org/Qwen2.5-7B-Instruct"), false, true),
                (Api::Ollama, Some("llama3.2"), true, false),
                (Api::OpenAi, Some("qwen"), true, false),
            ]
        );
        assert_eq!(
            specs[1].own.api_key_file,
            Some(PathBuf::from("/etc/keys/vllm"))
        );
        assert_eq!(
            specs[1].own.options,
            Some(json!({"temperature": 0.2}).as_object().unwrap().clone())
        );
        assert_eq!(specs[2].own.options.as_ref().map(|o| o.len()), Some(1));
        assert_eq!(
            (
                specs[0].own.options.as_ref(),
                specs[3].own.api_key_file.as_ref()
            ),
            (None, None)
        );
        // The key file's path shows; the key never is in the config.
        assert_eq!(
            settings.display_value("ollama_hosts"),
            "gpu1, http://127.0.0.1:8080 (api openai, model org/Qwen2.5-7B-Instruct, name vllm, \
             options {\"temperature\":0.2}, api_key_file /etc/keys/vllm, include_usage false, \
             send_reasoning true), gpu2 (model llama3.2, options {\"num_ctx\":4096}), \
             http://127.0.0.1:1234/v1 (api openai, model qwen)"
        );
    }

    #[test]
    fn bad_openai_entries_are_refused() {
        let url = "http://127.0.0.1:8080";
        assert_refused(&[
            (
                json!([{"url": url, "api": "openai"}]),
                "names its \"model\"",
            ),
            (
                json!([{"url": url, "api": "openai", "model": " "}]),
                "non-empty strings",
            ),
            (
                json!([{"url": url, "api": "OpenAI", "model": "m"}]),
                "\"ollama\" or \"openai\"",
            ),
            (
                json!([{"url": url, "api": 1, "model": "m"}]),
                "\"ollama\" or \"openai\"",
            ),
            (
                json!([{"url": url, "model": 7}]),
                "\"model\" values are non-empty strings",
            ),
            (
                json!([{"url": url, "api": "openai", "model": "m", "api_key_file": ""}]),
                "\"api_key_file\" values are non-empty strings",
            ),
            (
                json!([{"url": url, "api": "openai", "model": "m", "include_usage": "no"}]),
                "\"include_usage\" values are true or false",
            ),
            (
                json!([{"url": url, "api": "openai", "model": "m", "send_reasoning": 1}]),
                "\"send_reasoning\" values are true or false",
            ),
            (
                json!([{"url": url, "options": [1]}]),
                "\"options\" values are objects",
            ),
            (
                json!([{"url": url, "api_key_file": "/k"}]),
                "only on \"api\": \"openai\" entries",
            ),
            (
                json!([{"url": url, "include_usage": false}]),
                "only on \"api\": \"openai\"",
            ),
            (
                json!([{"url": url, "send_reasoning": true}]),
                "only on \"api\": \"openai\"",
            ),
        ]);
    }

    #[test]
    fn bad_addresses_are_refused() {
        let url = "Ollama addresses such as";
        let huge = "g".repeat(MAX_URL_CHARS + 1);
        let ten_megabytes = "x".repeat(10 << 20);
        assert_refused(&[
            (json!([""]), url),
            (json!(["   "]), url),
            (json!(["''"]), url),
            (json!([{"url": ""}]), url),
            (json!(["gpu 1"]), url),
            (json!(["gpu\n1"]), url),
            (json!(["gpu\"1"]), url),
            (json!(["gpu\\1"]), url),
            (json!(["gpü"]), url),
            (json!(["машина:11434"]), url),
            (json!(["ftp://gpu1"]), url),
            (json!(["HTTP://gpu1"]), url),
            (json!(["unix:///run/ollama.sock"]), url),
            (
                json!(["http://127.0.0.1:4321?x=1#frag"]),
                "no query ? or fragment #",
            ),
            (
                json!(["http://127.0.0.1:4321#frag"]),
                "no query ? or fragment #",
            ),
            (json!(["http://a/b@gpu"]), "percent-encoded"),
            (json!(["ftp://gpu1"]), "only http:// or https://"),
            (json!(["gpu 1"]), "no spaces"),
            (json!([huge]), url),
            (json!([ten_megabytes]), url),
        ]);
        // The longest address allowed.
        let longest = "g".repeat(MAX_URL_CHARS);
        assert_eq!(
            backends_of(json!([longest.clone()]))[0].base_url.expose(),
            format!("http://{longest}:11434")
        );
    }

    #[test]
    fn bad_max_parallel_values_are_refused() {
        let max = "\"max_parallel\" values are whole numbers from 1 to 256";
        assert_refused(&[
            (json!([{"url": "gpu1", "max_parallel": 0}]), max),
            (json!([{"url": "gpu1", "max_parallel": 257}]), max),
            (json!([{"url": "gpu1", "max_parallel": -1}]), max),
            (json!([{"url": "gpu1", "max_parallel": 1.5}]), max),
            (json!([{"url": "gpu1", "max_parallel": "2"}]), max),
            (json!([{"url": "gpu1", "max_parallel": [2]}]), max),
            (json!([{"url": "gpu1", "max_parallel": u64::MAX}]), max),
        ]);
        let one = backends_of(json!([{"url": "gpu1", "max_parallel": 1}]));
        assert_eq!(one[0].max_parallel, 1);
    }

    #[test]
    fn bad_names_are_refused() {
        let name = "names are 1 to 64 Latin letters";
        let long = "n".repeat(MAX_NAME_CHARS + 1);
        let cases: Vec<(Value, &str)> = [
            json!(""),
            json!("gpu 1"),
            json!("gpu/1"),
            json!("gpu\"1"),
            json!("gpu{1}"),
            json!("gpu\n"),
            json!("видеокарта"),
            json!("gpü"),
            json!(long),
            json!(1),
            json!(["gpu1"]),
            json!({"name": "gpu1"}),
        ]
        .into_iter()
        .map(|bad| (json!([{"url": "gpu1", "name": bad}]), name))
        .collect();
        assert_refused(&cases);
        let longest = "n".repeat(MAX_NAME_CHARS);
        let named = backends_of(json!([{"url": "gpu1", "name": longest.clone()}]));
        assert_eq!(named[0].name, longest);
    }

    #[test]
    fn two_entries_with_one_name_are_refused() {
        let unique = "different names";
        assert_refused(&[
            (json!(["gpu1", "gpu1"]), unique),
            // The same address written two ways.
            (json!(["gpu1", "http://gpu1:11434"]), unique),
            (json!(["gpu1", {"url": "gpu1:11434"}]), unique),
            (
                json!(["gpu1", {"url": "gpu2", "name": "gpu1:11434"}]),
                unique,
            ),
            (
                json!([{"url": "gpu1", "name": "a"}, {"url": "gpu2", "name": "a"}]),
                unique,
            ),
            (json!(["a", "b", "c", "a"]), unique),
        ]);
        // One Ollama twice is fine when the owner names both.
        let twice = backends_of(json!([
            {"url": "gpu1", "name": "first"},
            {"url": "gpu1", "name": "second"},
        ]));
        assert_eq!(twice.len(), 2);
    }

    #[test]
    fn what_it_must_be_is_said_in_russian_too() {
        use crate::text::Lang;
        let mut settings = Settings::default();
        for value in [
            json!(1),
            Value::from(vec!["a"; 17]),
            json!([1]),
            json!([{"url": "a", "x": 1}]),
            json!([""]),
            json!([{"url": "a", "max_parallel": 0}]),
            json!([{"url": "a", "name": ""}]),
            json!(["a", "a"]),
        ] {
            let expected = apply_key(&mut settings, "ollama_hosts", &value).unwrap_err();
            let russian = expected.in_lang(Lang::Ru);
            assert!(
                !russian.is_empty() && russian != expected.english(),
                "{value}"
            );
        }
        assert!(settings.ollama_hosts.is_empty());
    }

    /// `ollama_host` and the entries share one parser: the same text is
    /// the same backend, and is refused for the same reason.
    #[test]
    fn ollama_host_and_an_entry_read_alike() {
        for written in [
            "http://admin:pw@127.0.0.1:4321",
            "gpu:8080",
            "https://g/o/",
            "::1",
        ] {
            let mut one = Settings::default();
            apply_key(&mut one, "ollama_host", &json!(written)).unwrap();
            assert_eq!(one.backends(), backends_of(json!([written])), "{written}");
        }
        let mut settings = Settings::default();
        for bad in [
            "http://127.0.0.1:4321?x=1#frag",
            "ftp://gpu",
            "http://a/b@gpu",
            "g 1",
        ] {
            let one = apply_key(&mut settings, "ollama_host", &json!(bad)).unwrap_err();
            let list = parsed(json!([bad])).unwrap_err();
            let why = |text: &str| text.rsplit_once('(').map(|(_, why)| why.to_string());
            assert_eq!(why(&one.english()), why(&list), "{bad}");
            assert!(
                one.english().starts_with("an Ollama address such as"),
                "{bad}"
            );
        }
        assert_eq!(settings.ollama_host, "localhost");
    }

    #[test]
    fn a_password_is_never_shown() {
        let mut settings = parsed(json!([
            "http://admin:s3cretpw@gpu1:11434",
            {"url": "https://t0ken@gpu2", "max_parallel": 2},
        ]))
        .unwrap();
        assert_eq!(
            settings.display_value("ollama_hosts"),
            "http://admin:***@gpu1:11434, https://***@gpu2 (max_parallel 2)"
        );
        let names: Vec<String> = settings.backends().into_iter().map(|b| b.name).collect();
        assert_eq!(names, ["gpu1:11434", "gpu2:443"]);
        apply_key(
            &mut settings,
            "ollama_host",
            &json!("http://admin:s3cretpw@gpu3"),
        )
        .unwrap();
        assert_eq!(
            settings.display_value("ollama_host"),
            "http://admin:***@gpu3"
        );
    }

    #[test]
    fn the_list_shows_compactly() {
        let settings = parsed(json!([
            "http://gpu1:11434",
            {"url": "gpu2", "max_parallel": 4, "name": "big"},
            {"url": "gpu3", "max_parallel": 2},
            {"url": "gpu4", "name": "small"},
        ]))
        .unwrap();
        assert_eq!(
            settings.display_value("ollama_hosts"),
            "http://gpu1:11434, gpu2 (max_parallel 4, name big), gpu3 (max_parallel 2), \
             gpu4 (name small)"
        );
    }
}
