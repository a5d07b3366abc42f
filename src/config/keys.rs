//! The table of settings: every config key is one entry in the
//! `settings_table!` call below, and everything else about keys is
//! generated from it or walks it.
//!
//! An entry gives the `Settings` field and its type, the JSON key (when it
//! is not the field's name), the default, the check that turns a JSON
//! value into the field (saying what was expected when it cannot), how
//! `--show-config` shows the field (when not as its type's `Shown`), and
//! one line of doc. From the entries the macro generates the [`Settings`]
//! struct (the doc line becomes each field's doc), its `Default`, and
//! [`KEYS`]. Values flow in through [`apply_key`] (the config file, the
//! saved flags and the first-run answers all pass the same check) and out
//! through [`Settings::display_value`]. The configuration reference and the
//! man pages show every key from the same entries (`documented_keys`: the
//! doc line in English and Russian, the default, and what the key takes,
//! which is the text its check gives for a wrong value); see `reference`.
//!
//! Adding a key is one entry here, plus its use in code, then
//! `scripts/gen-docs.sh`.

use std::time::Duration;

use serde_json::{Map, Value};

use super::backends::{self, BackendSpec, HostEntry};
use crate::address::{self, OllamaUrl};
use crate::hours::SellHours;
use crate::secret::Token;
use crate::text::config as text;
use crate::text::{Lang, Text};

/// The model asked for when the owner names none (the Python client's).
pub const DEFAULT_MODEL: &str = "llama2";

/// What a key takes, when a value is refused: a catalogue text to follow
/// "must be" (one of `text::config::expected_*`, with its range or reason),
/// nested into the error that names the key.
pub type Expected = Text;

/// One config key: its name, and how a value gets in and out.
pub struct Key {
    /// The JSON key in the config file.
    pub name: &'static str,
    /// Checks a JSON value and stores it, or says what was expected.
    apply: fn(&mut Settings, &Value) -> Result<(), Expected>,
    /// The field for `--show-config`.
    show: fn(&Settings) -> String,
}

/// An entry's optional item if it has one (`or!(item, default)`), else the
/// default (`or!(, default)`).
macro_rules! or {
    (, $default:expr) => {
        $default
    };
    ($given:expr, $default:expr) => {
        $given
    };
}

/// Declares every setting; see the module comment. One entry:
///
/// ```text
/// field: Type {
///     key: "json_key",          // optional: the field's name
///     default: <expression of Type>,
///     parse: <fn(&Value) -> Result<Type, Expected>>,
///     show: <fn(&Type) -> String>,  // optional: the type's `Shown`
///     default_doc: ["English", "Russian"],  // optional: the documents'
///                               // default, where `show` gives no value
///     doc: "one line",          // also the field's doc
///     doc_ru: "the same line in Russian",
/// }
/// ```
macro_rules! settings_table {
    ($(
        $field:ident: $ty:ty {
            $(key: $key:literal,)?
            default: $default:expr,
            parse: $parse:expr,
            $(show: $show:expr,)?
            $(default_doc: [$default_en:literal, $default_ru:literal],)?
            doc: $doc:literal,
            doc_ru: $doc_ru:literal $(,)?
        }
    )*) => {
        /// Everything the running client needs to know, after defaults are
        /// applied.
        #[derive(Clone, Debug)]
        pub struct Settings {
            $(#[doc = $doc] pub $field: $ty,)*
        }

        impl Default for Settings {
            fn default() -> Settings {
                Settings {
                    $($field: $default,)*
                }
            }
        }

        /// Every key, in `--show-config` and `docs/configuration.md` order.
        pub const KEYS: &[Key] = &[$(Key {
            name: or!($($key)?, stringify!($field)),
            apply: |settings, value| {
                // Typed here so that a closure in the table needs no
                // annotations, and a wrong type names the entry.
                let parse: fn(&Value) -> Result<$ty, Expected> = $parse;
                settings.$field = parse(value)?;
                Ok(())
            },
            show: |settings| {
                let show: fn(&$ty) -> String = or!($($show)?, Shown::shown);
                show(&settings.$field)
            },
        },)*];

        /// What the documents say about every key, in `KEYS` order.
        #[cfg(test)]
        const KEY_DOCS: &[KeyDoc] = &[$(KeyDoc {
            default: or!($(Some([$default_en, $default_ru]))?, None),
            doc: [$doc, $doc_ru],
        },)*];
    };
}

settings_table! {
    // The original client wrote `null` for a token it never asked for.
    token: Option<Token> {
        default: None,
        parse: token,
        show: |token| shown_or(token.as_ref().map(Token::masked), text::shown_not_set),
        default_doc: ["(none, required)", "(нет, обязателен)"],
        doc: "your hub token; never logged",
        doc_ru: "ваш токен хаба; никогда не пишется в журнал",
    }
    model: String {
        default: DEFAULT_MODEL.into(),
        parse: non_empty_string,
        doc: "the Ollama model every prompt runs on",
        doc_ru: "модель Ollama, на которой выполняется каждый запрос",
    }
    // Kept as written; `backends` reads it with `ollama_port`.
    ollama_host: String {
        default: "localhost".into(),
        parse: ollama_host,
        show: |host| address::masked(host),
        doc: "Ollama's host, or a base URL such as `http://gpu:11434` or, for an Ollama \
              behind a TLS reverse proxy, `https://gpu.example:443` (see `--ca-file`)",
        doc_ru: "хост Ollama или базовый URL, например `http://gpu:11434`, а для Ollama за обратным прокси с TLS — `https://gpu.example:443` (см. `--ca-file`)",
    }
    ollama_port: u16 {
        default: 11434,
        parse: port,
        doc: "Ollama's port",
        doc_ru: "порт Ollama",
    }
    // Several Ollama boxes; checked and turned into backends in `backends`.
    ollama_hosts: Vec<HostEntry> {
        default: Vec::new(),
        parse: backends::parse_hosts,
        show: |hosts| backends::show_hosts(hosts),
        default_doc: ["(empty: one Ollama, `ollama_host`/`ollama_port`)", "(пусто: одна Ollama, `ollama_host`/`ollama_port`)"],
        doc: "several backends, up to 16, used instead of `ollama_host`/`ollama_port`: \
              each an address (`\"gpu2:11434\"`) or `{\"url\": ..., \"max_parallel\": N, \
              \"name\": ...}`; an OpenAI-compatible server (llama-server, vLLM, LM Studio) \
              with `\"api\": \"openai\", \"model\": ...` (see \"Several Ollama boxes\" and \
              \"Other servers\" in `docs/operations.md`)",
        doc_ru: r#"несколько серверов, до 16, вместо `ollama_host`/`ollama_port`: каждый — адрес (`"gpu2:11434"`) или `{"url": ..., "max_parallel": N, "name": ...}`; OpenAI-совместимый сервер (llama-server, vLLM, LM Studio) — с `"api": "openai", "model": ...` (см. «Несколько машин с Ollama» и «Другие серверы» в `docs/ru/operations.md`)"#,
    }
    stream_mode: bool {
        default: true,
        parse: boolean,
        doc: "answer in pieces (true) or in one frame, when a request does not say",
        doc_ru: "отвечать частями (true) или одним кадром, если запрос этого не указывает",
    }
    // Worker threads.
    max_parallel: usize {
        default: 1,
        parse: |value| count(value, 1, 256),
        doc: "generations run at once",
        doc_ru: "сколько генераций идёт одновременно",
    }
    queue_size: usize {
        default: 16,
        parse: |value| count(value, 0, 100_000),
        doc: "requests that may wait for a free worker; one more is answered `Error: busy`",
        doc_ru: "сколько запросов может ждать свободного исполнителя; следующий получает `Error: busy`",
    }
    keep_alive: Option<Value> {
        default: None,
        parse: keep_alive,
        show: |value| shown_or(value.as_ref().map(Value::to_string), text::shown_ollamas_default),
        default_doc: ["(Ollama's default)", "(как в Ollama)"],
        doc: r#"sent to Ollama as `keep_alive`: seconds or a duration such as `"10m"`"#,
        doc_ru: r#"уходит в Ollama как `keep_alive`: секунды или длительность вроде `"10m"`"#,
    }
    options: Map<String, Value> {
        default: Map::new(),
        parse: object,
        show: |options| Value::Object(options.clone()).to_string(),
        doc: r#"sent to Ollama as `options`: `{"temperature": 0.7, "num_ctx": 4096}`"#,
        doc_ru: r#"уходит в Ollama как `options`: `{"temperature": 0.7, "num_ctx": 4096}`"#,
    }
    // Ollama sends nothing while it loads the model and reads the prompt.
    load_timeout: Duration {
        key: "load_timeout_secs",
        default: Duration::from_secs(300),
        parse: seconds,
        doc: "longest wait for Ollama's first line (model load + prompt)",
        doc_ru: "сколько самое большее ждать первой строки от Ollama (загрузка модели + запрос)",
    }
    idle_timeout: Duration {
        key: "idle_timeout_secs",
        default: Duration::from_secs(120),
        parse: seconds,
        doc: "longest pause between two of Ollama's lines",
        doc_ru: "самая длинная пауза между двумя строками от Ollama",
    }
    // Limits per request: they protect the owner's hardware from one buyer.
    max_prompt_chars: usize {
        default: 100_000,
        parse: |value| count(value, 1, 1 << 30),
        doc: "longest prompt accepted, in characters; a longer one is refused without asking Ollama",
        doc_ru: "самый длинный принимаемый запрос, в символах; более длинный отклоняется без обращения к Ollama",
    }
    max_answer_tokens: u64 {
        default: 0,
        parse: |value| count(value, 0, 1 << 40),
        doc: "most tokens in one answer (Ollama's `num_predict`; the lower one wins when \
              `options` sets it too); 0: no limit",
        doc_ru: "больше всего токенов в одном ответе (`num_predict` у Ollama; если его задаёт и `options`, действует меньшее); 0 — без ограничения",
    }
    // Zero is allowed: no limit.
    max_answer_secs: Duration {
        default: Duration::from_secs(900),
        parse: seconds_or_zero,
        doc: "a generation running longer is cut: the buyer gets the text so far and an \
              error; 0: no limit",
        doc_ru: "генерация, которая идёт дольше, обрывается: покупатель получает текст, созданный до этого, и ошибку; 0 — без ограничения",
    }
    // Stepping back while Ollama cannot serve.
    ollama_down_after: usize {
        default: 3,
        parse: |value| count(value, 1, 1000),
        doc: "after this many requests in a row find Ollama unreachable, stop taking buyers \
              until it answers again",
        doc_ru: "после стольких запросов подряд, не достучавшихся до Ollama, не принимать покупателей, пока она снова не ответит",
    }
    ollama_probe: Duration {
        key: "ollama_probe_secs",
        default: Duration::from_secs(10),
        parse: seconds,
        doc: "while Ollama is down (or the model missing), ask it this often",
        doc_ru: "пока Ollama недоступна (или нет модели), спрашивать её так часто",
    }
    warm_up: bool {
        default: true,
        parse: boolean,
        doc: "load the model before connecting to the hub, so the first buyer does not wait for it",
        doc_ru: "загружать модель до подключения к хабу, чтобы первый покупатель её не ждал",
    }
    max_frame_bytes: usize {
        default: 1 << 20,
        parse: |value| count(value, 1024, 1 << 30),
        doc: "largest hub frame accepted; larger ones are ignored with a warning",
        doc_ru: "самый большой принимаемый кадр от хаба; большие пропускаются с предупреждением",
    }
    // Ollama's final line carries the token ids of the whole conversation.
    max_line_bytes: usize {
        default: 8 << 20,
        parse: |value| count(value, 1024, 1 << 30),
        doc: "largest single NDJSON line accepted from Ollama",
        doc_ru: "самая длинная принимаемая строка NDJSON от Ollama",
    }
    ping_interval: Duration {
        key: "ping_interval_secs",
        default: Duration::from_secs(30),
        parse: seconds,
        doc: "WebSocket ping to the hub this often",
        doc_ru: "так часто отправлять хабу пинг WebSocket",
    }
    dead_after: Duration {
        key: "dead_after_secs",
        default: Duration::from_secs(75),
        parse: seconds,
        doc: "a hub connection with nothing received this long is replaced",
        doc_ru: "соединение с хабом, по которому так долго ничего не пришло, заменяется",
    }
    handshake_timeout: Duration {
        key: "handshake_timeout_secs",
        default: Duration::from_secs(15),
        parse: seconds,
        doc: "TCP + TLS + WebSocket handshake limit",
        doc_ru: "предел на установку TCP + TLS + WebSocket",
    }
    reconnect_base: Duration {
        key: "reconnect_base_secs",
        default: Duration::from_secs(5),
        parse: seconds,
        doc: "first reconnect delay; +this much per failed attempt",
        doc_ru: "первая пауза перед переподключением; плюс столько же за каждую неудачную попытку",
    }
    // Also how long a connection must stay up before the delays start again
    // from the first one.
    reconnect_max: Duration {
        key: "reconnect_max_secs",
        default: Duration::from_secs(60),
        parse: seconds,
        doc: "longest reconnect delay (and a rejected token's delay)",
        doc_ru: "самая длинная пауза перед переподключением (и пауза после отклонённого токена)",
    }
    // Zero is allowed: stop at once, cutting running answers short.
    shutdown_grace: Duration {
        key: "shutdown_grace_secs",
        default: Duration::from_secs(10),
        parse: seconds_or_zero,
        doc: "time running answers get to finish on shutdown",
        doc_ru: "время, которое идущие ответы получают на завершение при остановке",
    }
    outbox_bytes: usize {
        default: 8 << 20,
        parse: |value| count(value, 1024, 1 << 30),
        doc: "answer frames kept while the hub is unreachable or not reading",
        doc_ru: "сколько кадров ответов хранить, пока хаб недоступен или не читает",
    }
    log_max_bytes: u64 {
        default: 10 << 20,
        parse: |value| count(value, 1024, 1 << 40),
        doc: "the log file is rotated at this size",
        doc_ru: "при таком размере файл журнала ротируется",
    }
    log_files_kept: usize {
        default: 3,
        parse: |value| count(value, 0, 100),
        doc: "rotated log files kept (`client.log.1` ...)",
        doc_ru: "сколько старых файлов журнала хранить (`client.log.1` ...)",
    }
    // The ledger of answers (`ledger.jsonl` beside the config file).
    ledger_max_bytes: u64 {
        default: 16 << 20,
        parse: |value| count(value, 1024, 1 << 40),
        doc: "the ledger `ledger.jsonl` is rotated at this size",
        doc_ru: "при таком размере журнал учёта `ledger.jsonl` ротируется",
    }
    ledger_files_kept: usize {
        default: 4,
        parse: |value| count(value, 0, 100),
        doc: "rotated ledger files kept (`ledger.jsonl.1` ...); `--stats` reads them too",
        doc_ru: "сколько старых файлов журнала учёта хранить (`ledger.jsonl.1` ...); `--stats` читает и их",
    }
    summary_interval: Duration {
        key: "summary_interval_secs",
        default: Duration::from_secs(3600),
        parse: seconds,
        doc: "a one-line summary goes to the log this often, if anything happened",
        doc_ru: "так часто в журнал пишется строка итога, если что-то произошло",
    }
    metrics_listen: String {
        default: String::new(),
        parse: any_string,
        show: |listen| shown_or(Some(listen.clone()).filter(|l| !l.is_empty()), text::shown_off),
        default_doc: ["(empty: off)", "(пусто: выключено)"],
        doc: "`host:port` for `/metrics`, `/healthz` and `/readyz`, such as `127.0.0.1:9464`",
        doc_ru: "`host:port` для `/metrics`, `/healthz` и `/readyz`, например `127.0.0.1:9464`",
    }
    metrics_public: bool {
        default: false,
        parse: boolean,
        doc: "allow `metrics_listen` on an address other than loopback",
        doc_ru: "разрешить `metrics_listen` на адресе, отличном от loopback",
    }
    // The owner's terminal; the log file stays English.
    language: Option<Lang> {
        default: None,
        parse: language_or_auto,
        show: |language| language.map_or("auto", Lang::code).to_string(),
        doc: "the terminal's language: `auto` (from `LC_ALL`, `LC_MESSAGES`, `LANG`), `en` or `ru`",
        doc_ru: "язык в терминале: `auto` (по `LC_ALL`, `LC_MESSAGES`, `LANG`), `en` или `ru`",
    }
    buyer_language: Lang {
        default: Lang::En,
        parse: language,
        show: |lang| lang.code().to_string(),
        doc: "the language of the `Error: ...` texts buyers get: `en` or `ru`",
        doc_ru: "язык текстов `Error: ...`, которые получают покупатели: `en` или `ru`",
    }
    // The owner's rules for sharing (see "Sharing rules" in docs/operations.md).
    sell_hours: Option<SellHours> {
        default: None,
        parse: sell_hours,
        show: |hours| shown_or(hours.as_ref().map(|h| serde_json::json!(h.entries()).to_string()), text::shown_every_hour),
        default_doc: ["(empty: every hour)", "(пусто: в любое время)"],
        doc: "sell only inside these windows of the box's local time, such as \
              `[\"22:00-08:00\", \"sat 00:00-24:00\"]` (a window may cross midnight; a day \
              `mon`..`sun`, `mon-fri` or `sat,sun` in front names the day it starts on)",
        doc_ru: r#"продавать только в этих окнах местного времени машины, например `["22:00-08:00", "sat 00:00-24:00"]` (окно может переходить через полночь; день впереди — `mon`..`sun`, `mon-fri` или `sat,sun` — называет день его начала)"#,
    }
    unload_on_pause: bool {
        default: true,
        parse: boolean,
        doc: "when the box steps back for the owner (a pause, outside `sell_hours`, the GPU \
              guard), ask Ollama to unload the model so the GPU's memory is free; it is \
              loaded again before the box returns",
        doc_ru: "когда машина уходит ради владельца (пауза, вне `sell_hours`, защита GPU), просить Ollama выгрузить модель, чтобы освободить память GPU; перед возвращением модель загружается снова",
    }
    gpu_guard: bool {
        default: false,
        parse: boolean,
        doc: "read the GPUs (`nvidia-smi`, AMD's sysfs) every `gpu_check_secs` and step back \
              while one is too hot or another program uses it",
        doc_ru: "читать состояние GPU (`nvidia-smi`, sysfs у AMD) каждые `gpu_check_secs` и уходить, пока GPU перегрет или им пользуется другая программа",
    }
    gpu_check: Duration {
        key: "gpu_check_secs",
        default: Duration::from_secs(10),
        parse: seconds,
        doc: "how often the GPU guard reads the GPUs",
        doc_ru: "как часто защита GPU читает состояние GPU",
    }
    gpu_max_temp_c: f64 {
        default: 85.0,
        parse: temperature,
        doc: "the GPU guard steps back while a GPU is hotter than this (°C)",
        doc_ru: "защита GPU уходит, пока какой-либо GPU горячее этого (°C)",
    }
    yield_to_other_gpu_users: bool {
        default: true,
        parse: boolean,
        doc: "the GPU guard steps back while a program other than the model server uses a \
              GPU (a game, the owner's own work)",
        doc_ru: "защита GPU уходит, пока GPU пользуется программа, отличная от сервера модели (игра, работа владельца)",
    }
    gpu_clear: Duration {
        key: "gpu_clear_secs",
        default: Duration::from_secs(60),
        parse: seconds_or_zero,
        doc: "the GPU guard returns after its conditions have been clear this long",
        doc_ru: "защита GPU возвращает машину, когда её условия не выполняются уже столько времени",
    }
    gpu_sysfs_root: String {
        default: "/sys/class/drm".into(),
        parse: non_empty_string,
        doc: "where the GPU guard looks for AMD GPUs (`card*/device/gpu_busy_percent`)",
        doc_ru: "где защита GPU ищет GPU AMD (`card*/device/gpu_busy_percent`)",
    }
    log_prompts: bool {
        default: false,
        parse: boolean,
        doc: "write buyers' prompts (their first 300 characters) to the log file",
        doc_ru: "писать запросы покупателей (их первые 300 символов) в файл журнала",
    }
}

/// The entry for a config key, if this client knows it.
fn find(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|key| key.name == name)
}

/// Stores one config key into `settings`; on a bad value, says what was
/// expected (a text to follow "must be", see `text::config::expected_*`).
/// Unknown keys are accepted and left alone, so that a file written by a
/// newer client still loads.
pub fn apply_key(settings: &mut Settings, key: &str, value: &Value) -> Result<(), Expected> {
    match find(key) {
        Some(key) => (key.apply)(settings, value),
        None => Ok(()),
    }
}

impl Settings {
    /// A setting's value for display (the token masked); empty for a key
    /// this client does not know.
    pub fn display_value(&self, key: &str) -> String {
        find(key).map_or_else(String::new, |key| (key.show)(self))
    }

    /// The Ollama backends to serve from, in the owner's order; never
    /// empty: `ollama_hosts`, or without it the one at `ollama_host` and
    /// `ollama_port` (see `backends`).
    pub fn backends(&self) -> Vec<BackendSpec> {
        backends::specs(&self.ollama_hosts, self.ollama_url(), self.max_parallel)
    }

    /// `ollama_host` and `ollama_port` read as one address. Both passed the
    /// one parser on their way in; the default stands in for a value set
    /// around the checks.
    pub fn ollama_url(&self) -> OllamaUrl {
        let port = self.ollama_port;
        OllamaUrl::parse(&self.ollama_host, port).unwrap_or_else(|_| OllamaUrl::localhost(port))
    }
}

// ------------------------------------------------------------ the checks

fn token(value: &Value) -> Result<Option<Token>, Expected> {
    match value {
        Value::Null => Ok(None),
        // An empty token is no token: the first run then asks for one.
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => Ok(Some(Token::new(s.as_str()))),
        _ => Err(text::expected_string()),
    }
}

fn non_empty_string(value: &Value) -> Result<String, Expected> {
    match value.as_str() {
        Some(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        _ => Err(text::expected_non_empty_string()),
    }
}

/// An address [`OllamaUrl::parse`] takes (any port will do for the check).
fn ollama_host(value: &Value) -> Result<String, Expected> {
    let host = non_empty_string(value)?;
    match OllamaUrl::parse(&host, 11434) {
        Ok(_) => Ok(host),
        Err(why) => Err(text::expected_ollama_address(why.text())),
    }
}

/// Any string, empty included.
fn any_string(value: &Value) -> Result<String, Expected> {
    let trimmed = value.as_str().map(|s| s.trim().to_string());
    trimmed.ok_or_else(text::expected_string)
}

fn boolean(value: &Value) -> Result<bool, Expected> {
    value.as_bool().ok_or_else(text::expected_boolean)
}

/// A TCP port. The original client could save it as a string ("11434").
fn port(value: &Value) -> Result<u16, Expected> {
    let number = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    number
        .and_then(|n| u16::try_from(n).ok())
        .filter(|n| *n > 0)
        .ok_or_else(text::expected_port)
}

/// A whole number from `min` to `max`, in the field's own type (so that a
/// byte count above 4 GiB is not cut short on a 32-bit board).
fn count<T: TryFrom<u64>>(value: &Value, min: u64, max: u64) -> Result<T, Expected> {
    value
        .as_u64()
        .filter(|n| (min..=max).contains(n))
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| text::expected_count_in_range(min, max))
}

/// A positive number of seconds; fractions allowed so that tests can use
/// milliseconds.
fn seconds(value: &Value) -> Result<Duration, Expected> {
    match value.as_f64() {
        Some(s) if s > 0.0 && s <= 1e9 => Ok(Duration::from_secs_f64(s)),
        _ => Err(text::expected_seconds()),
    }
}

fn seconds_or_zero(value: &Value) -> Result<Duration, Expected> {
    match value.as_f64() {
        Some(s) if (0.0..=1e9).contains(&s) => Ok(Duration::from_secs_f64(s)),
        _ => Err(text::expected_seconds_or_zero()),
    }
}

/// A list of selling windows (`hours` reads each); an empty list is no
/// rule.
fn sell_hours(value: &Value) -> Result<Option<SellHours>, Expected> {
    let list = value.as_array().ok_or_else(text::expected_sell_hours)?;
    let entries = list.iter().map(|entry| entry.as_str().map(str::to_string));
    let entries: Option<Vec<String>> = entries.collect();
    let entries = entries.ok_or_else(text::expected_sell_hours)?;
    match SellHours::parse(&entries) {
        Ok(hours) if hours.is_empty() => Ok(None),
        Ok(hours) => Ok(Some(hours)),
        Err(bad) => Err(text::expected_sell_hours_entry(bad.entry, bad.why)),
    }
}

/// Degrees Celsius a GPU may reach: below 40 every GPU at work is "hot", above
/// 110 no GPU gets there without shutting itself down.
fn temperature(value: &Value) -> Result<f64, Expected> {
    match value.as_f64() {
        Some(c) if (40.0..=110.0).contains(&c) => Ok(c),
        _ => Err(text::expected_temperature()),
    }
}

/// Ollama takes a number of seconds or a Go duration string ("10m", "-1").
fn keep_alive(value: &Value) -> Result<Option<Value>, Expected> {
    match value {
        Value::Null => Ok(None),
        Value::Number(_) | Value::String(_) => Ok(Some(value.clone())),
        _ => Err(text::expected_keep_alive()),
    }
}

fn object(value: &Value) -> Result<Map<String, Value>, Expected> {
    value.as_object().cloned().ok_or_else(text::expected_object)
}

/// `en` or `ru`.
fn language(value: &Value) -> Result<Lang, Expected> {
    value
        .as_str()
        .and_then(Lang::from_code)
        .ok_or_else(text::expected_language)
}

/// `auto` (as `None`: the locale decides), `en` or `ru`.
fn language_or_auto(value: &Value) -> Result<Option<Lang>, Expected> {
    match value.as_str() {
        Some("auto") => Ok(None),
        _ => language(value)
            .map(Some)
            .map_err(|_| text::expected_language_or_auto()),
    }
}

// ------------------------------------------------------ how values show
//
// A setting without a value shows a description in parentheses, in the
// owner's language (`--show-config` and `--help` are read at the terminal);
// the parentheses tell it from a value.

/// The value shown, or `none`'s description without one.
fn shown_or(value: Option<String>, none: fn() -> Text) -> String {
    value.unwrap_or_else(|| none().owner())
}

/// How a value shows when its entry gives no `show`.
trait Shown {
    fn shown(&self) -> String;
}

/// Numbers, switches and text show as they are.
macro_rules! shown_as_they_are {
    ($($ty:ty),*) => {$(
        impl Shown for $ty {
            fn shown(&self) -> String {
                self.to_string()
            }
        }
    )*};
}

shown_as_they_are!(bool, u16, u64, usize, f64, String);

/// Seconds, as the file holds them (fractions too).
impl Shown for Duration {
    fn shown(&self) -> String {
        self.as_secs_f64().to_string()
    }
}

// ------------------------------------------------------ the documents

/// What the documents say about a key, in English and Russian: its
/// default where `show` gives no value (the token's "(not set)" is
/// "(none, required)" there), and its doc line.
#[cfg(test)]
struct KeyDoc {
    default: Option<[&'static str; 2]>,
    doc: [&'static str; 2],
}

/// A key as the configuration reference and the man pages show it (see
/// `reference`): what it takes is the text an owner gets for a value it
/// refuses, so the documents state the same ranges as that message.
#[cfg(test)]
pub struct DocumentedKey {
    pub name: &'static str,
    pub default: DocumentedDefault,
    pub takes: String,
    pub doc: &'static str,
}

/// A default as the documents show it.
#[cfg(test)]
pub enum DocumentedDefault {
    /// A value, as the config file holds it.
    Value(String),
    /// A description of no value, such as "(empty: off)".
    Described(&'static str),
}

/// Every key, in `KEYS` order, documented in `lang`.
#[cfg(test)]
pub fn documented_keys(lang: Lang) -> Vec<DocumentedKey> {
    let in_lang = |pair: [&'static str; 2]| match lang {
        Lang::En => pair[0],
        Lang::Ru => pair[1],
    };
    // No key takes a list of seventeen nulls, so each says what it takes.
    let refused = Value::Array(vec![Value::Null; 17]);
    let defaults = Settings::default();
    let document = |(key, doc): (&Key, &KeyDoc)| DocumentedKey {
        name: key.name,
        default: match doc.default {
            Some(described) => DocumentedDefault::Described(in_lang(described)),
            None => DocumentedDefault::Value((key.show)(&defaults)),
        },
        takes: match (key.apply)(&mut Settings::default(), &refused) {
            Err(expected) => expected.in_lang(lang),
            Ok(()) => String::new(),
        },
        doc: in_lang(doc.doc),
    };
    KEYS.iter().zip(KEY_DOCS).map(document).collect()
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_metrics_address_is_shown_or_said_to_be_off() {
        let mut settings = Settings::default();
        assert_eq!(settings.display_value("metrics_listen"), "(off)");
        apply_key(
            &mut settings,
            "metrics_listen",
            &Value::from(" 127.0.0.1:9464 "),
        )
        .unwrap();
        assert_eq!(settings.display_value("metrics_listen"), "127.0.0.1:9464");
    }

    #[test]
    fn the_languages_are_read_and_shown() {
        let mut settings = Settings::default();
        assert_eq!(settings.display_value("language"), "auto");
        apply_key(&mut settings, "language", &Value::from("ru")).unwrap();
        assert_eq!(settings.language, Some(Lang::Ru));
        assert_eq!(settings.display_value("language"), "ru");
        apply_key(&mut settings, "language", &Value::from("auto")).unwrap();
        assert_eq!(settings.language, None);
        apply_key(&mut settings, "buyer_language", &Value::from("ru")).unwrap();
        assert_eq!(settings.buyer_language, Lang::Ru);
        assert_eq!(settings.display_value("buyer_language"), "ru");
    }

    use super::*;

    #[test]
    fn every_key_is_documented_in_both_languages_with_what_it_takes() {
        for lang in [Lang::En, Lang::Ru] {
            let documented = documented_keys(lang);
            assert_eq!(documented.len(), KEYS.len());
            for (key, doc) in KEYS.iter().zip(&documented) {
                assert_eq!(doc.name, key.name);
                assert!(!doc.takes.is_empty() && !doc.doc.is_empty(), "{}", key.name);
                // A description from `show` is in the owner's language:
                // the documents need their own, in both languages.
                if let DocumentedDefault::Value(value) = &doc.default {
                    assert!(!value.starts_with('('), "{} needs a default_doc", key.name);
                }
            }
        }
        let takes = |lang| documented_keys(lang).swap_remove(6).takes;
        assert_eq!(KEYS[6].name, "max_parallel");
        assert_eq!(takes(Lang::En), "a whole number from 1 to 256");
        assert_eq!(takes(Lang::Ru), "целым числом от 1 до 256");
    }

    #[test]
    fn every_default_passes_its_own_check() {
        let defaults = Settings::default();
        for key in KEYS {
            let shown = (key.show)(&defaults);
            if shown.starts_with('(') {
                continue; // No value, such as the token's "(not set)".
            }
            let value = serde_json::from_str(&shown).unwrap_or(Value::String(shown.clone()));
            let mut settings = Settings::default();
            let applied = apply_key(&mut settings, key.name, &value);
            assert!(applied.is_ok(), "{}: {applied:?}", key.name);
            assert_eq!((key.show)(&settings), shown, "{}", key.name);
        }
    }

    #[test]
    fn key_names_are_unique() {
        for (i, key) in KEYS.iter().enumerate() {
            assert!(
                KEYS[i + 1..].iter().all(|other| other.name != key.name),
                "{} is in the table twice",
                key.name
            );
        }
    }

    #[test]
    fn values_out_of_range_say_what_was_expected() {
        let mut settings = Settings::default();
        let cases = [
            ("max_parallel", serde_json::json!(0), "from 1 to 256"),
            ("max_parallel", serde_json::json!(257), "from 1 to 256"),
            ("log_max_bytes", serde_json::json!(1u64 << 40), ""),
            ("stream_mode", serde_json::json!("yes"), "true or false"),
            ("shutdown_grace_secs", serde_json::json!(-1), "0 or more"),
            ("ping_interval_secs", serde_json::json!(0), "greater than 0"),
            ("token", serde_json::json!(5), "a string"),
            ("model", serde_json::json!("  "), "a non-empty string"),
            (
                "language",
                serde_json::json!("de"),
                "\"auto\", \"en\" or \"ru\"",
            ),
            (
                "buyer_language",
                serde_json::json!("auto"),
                "\"en\" or \"ru\"",
            ),
        ];
        for (key, value, expected) in cases {
            let result = apply_key(&mut settings, key, &value);
            match expected {
                "" => assert!(result.is_ok(), "{key} {value}: {result:?}"),
                _ => assert!(
                    result.is_err_and(|e| e.english().contains(expected)),
                    "{key} {value}"
                ),
            }
        }
        assert_eq!(settings.log_max_bytes, 1 << 40);
        assert!(apply_key(&mut settings, "no_such_key", &Value::Null).is_ok());
        assert_eq!(settings.display_value("no_such_key"), "");
    }

    /// A count out of range says the range, in either language: the
    /// configuration reference lists none yet.
    #[test]
    fn a_count_out_of_range_says_its_range() {
        let mut settings = Settings::default();
        let cases = [
            (
                "max_parallel",
                serde_json::json!(0),
                "1 to 256",
                "от 1 до 256",
            ),
            (
                "queue_size",
                serde_json::json!(-1),
                "0 to 100000",
                "от 0 до 100000",
            ),
            (
                "queue_size",
                serde_json::json!(1.5),
                "0 to 100000",
                "от 0 до 100000",
            ),
            (
                "log_max_bytes",
                serde_json::json!(1u64 << 41),
                "1024 to 1099511627776",
                "от 1024 до 1099511627776",
            ),
            (
                "ollama_down_after",
                serde_json::json!("3"),
                "1 to 1000",
                "от 1 до 1000",
            ),
        ];
        for (key, value, en, ru) in cases {
            let refused = apply_key(&mut settings, key, &value).expect_err(key);
            assert_eq!(refused.english(), format!("a whole number from {en}"));
            assert_eq!(refused.in_lang(Lang::Ru), format!("целым числом {ru}"));
        }
    }

    #[test]
    fn a_missing_value_is_described_in_parentheses_in_both_languages() {
        for description in [text::shown_not_set(), text::shown_ollamas_default()] {
            for lang in [Lang::En, Lang::Ru] {
                let shown = description.in_lang(lang);
                assert!(shown.starts_with('(') && shown.ends_with(')'), "{shown}");
            }
        }
        assert_eq!(text::shown_not_set().in_lang(Lang::Ru), "(не задан)");
    }

    #[test]
    fn what_a_key_expects_is_said_in_russian_too() {
        let mut settings = Settings::default();
        let refused = apply_key(&mut settings, "stream_mode", &Value::from("yes"));
        let expected = refused.expect_err("not a boolean");
        assert_eq!(expected.english(), "true or false");
        assert_eq!(expected.in_lang(Lang::Ru), "true или false");
    }

    #[test]
    fn the_sharing_rules_take_their_values_and_refuse_others_by_name() {
        let mut settings = Settings::default();
        let hours = serde_json::json!([" 22:00-08:00", "sat 00:00-24:00"]);
        apply_key(&mut settings, "sell_hours", &hours).unwrap();
        let kept = settings.sell_hours.as_ref().map(|h| h.entries().to_vec());
        assert_eq!(kept.unwrap(), ["22:00-08:00", "sat 00:00-24:00"]);
        assert_eq!(
            settings.display_value("sell_hours"),
            r#"["22:00-08:00","sat 00:00-24:00"]"#
        );
        apply_key(&mut settings, "sell_hours", &serde_json::json!([])).unwrap();
        assert!(settings.sell_hours.is_none(), "an empty list is no rule");
        assert_eq!(settings.display_value("sell_hours"), "(every hour)");
        let refused = |value: Value| {
            let refused = apply_key(&mut Settings::default(), "sell_hours", &value);
            refused.map_err(|e| e.english()).unwrap_err()
        };
        let shape = r#"a list of selling windows such as ["22:00-08:00", "sat 00:00-24:00"]"#;
        assert_eq!(refused(serde_json::json!("22:00-08:00")), shape);
        assert_eq!(refused(serde_json::json!(["22:00-08:00", 5])), shape);
        assert_eq!(
            refused(serde_json::json!(["22:00-08:00", "25:00-08:00"])),
            format!(r#"{shape} ("25:00-08:00": the hour must be 00 to 24)"#)
        );
        for (celsius, taken) in [
            (40.0, true),
            (85.5, true),
            (110.0, true),
            (39.9, false),
            (110.1, false),
        ] {
            let applied = apply_key(&mut settings, "gpu_max_temp_c", &serde_json::json!(celsius));
            assert_eq!(applied.is_ok(), taken, "{celsius}");
        }
        assert_eq!(settings.gpu_max_temp_c, 110.0);
        let text = apply_key(&mut settings, "gpu_max_temp_c", &serde_json::json!("hot"));
        assert!(text.is_err_and(|e| e.english() == "a temperature in °C from 40 to 110"));
        let defaults = Settings::default();
        assert!(
            defaults.unload_on_pause && !defaults.gpu_guard && defaults.yield_to_other_gpu_users
        );
        assert_eq!(defaults.gpu_check, Duration::from_secs(10));
        assert_eq!(defaults.gpu_clear, Duration::from_secs(60));
        assert_eq!(defaults.gpu_sysfs_root, "/sys/class/drm");
    }

    #[test]
    fn keep_alive_and_options_take_their_json_types_only() {
        let mut settings = Settings::default();
        for value in [serde_json::json!(600), serde_json::json!("10m")] {
            apply_key(&mut settings, "keep_alive", &value).unwrap();
            assert_eq!(settings.keep_alive, Some(value));
        }
        apply_key(&mut settings, "keep_alive", &Value::Null).unwrap();
        assert_eq!(settings.keep_alive, None);
        let refused = apply_key(&mut settings, "keep_alive", &serde_json::json!([1]));
        assert!(refused.is_err_and(|e| e.english().contains("duration string")));
        let options = serde_json::json!({"num_ctx": 4096});
        apply_key(&mut settings, "options", &options).unwrap();
        assert_eq!(Value::Object(settings.options.clone()), options);
        let refused = apply_key(&mut settings, "options", &serde_json::json!(1));
        assert!(refused.is_err_and(|e| e.english() == "an object {...}"));
    }

    #[test]
    fn the_token_is_shown_masked() {
        let mut settings = Settings::default();
        assert_eq!(settings.display_value("token"), "(not set)");
        apply_key(&mut settings, "token", &Value::from("s3cret-abcd")).unwrap();
        assert_eq!(settings.display_value("token"), "********abcd");
        apply_key(&mut settings, "token", &Value::from("")).unwrap();
        assert!(settings.token.is_none());
    }
}
