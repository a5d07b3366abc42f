//! The small Ollama requests the owner's tools make: the version
//! (`GET /api/version`) and the installed models (`GET /api/tags`) for
//! `--check` and the first run, the model's load (the warm-up), a
//! one-token answer (`--check`'s timing). Buyers' prompts go through `client`
//! instead. Like them (the same agent settings, `client::agent_config`),
//! these requests never use an environment proxy, and an https address is
//! checked against the roots the caller gives.

use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use ureq::tls::RootCerts;

use super::client::{agent_config, generate_body};
use crate::address::OllamaUrl;
use crate::text::{errors as text, Text};

/// Why one of these requests failed.
#[derive(Debug)]
pub enum ApiError {
    /// No answer: the HTTP library's own words (connection refused, a TLS
    /// failure).
    Request(String),
    /// No whole answer within the request's time limit (ureq would say
    /// only "timeout: global").
    NoAnswer(Duration),
    /// An answer other than 200.
    Status { status: u16, path: &'static str },
    /// An answer that is not JSON.
    NotJson { path: &'static str },
    /// `/api/tags` without its `models` list.
    NoModelList,
}

impl ApiError {
    pub fn text(&self) -> Text {
        match self {
            // The HTTP library's words may quote what the peer sent.
            ApiError::Request(error) => Text::verbatim(crate::text::outside(error)),
            ApiError::NoAnswer(limit) => text::ollama_api_no_answer(limit.as_secs_f64()),
            ApiError::Status { status, path } => text::ollama_api_status(status, path),
            ApiError::NotJson { path } => text::ollama_api_not_json(path),
            ApiError::NoModelList => text::ollama_api_no_model_list(),
        }
    }
}

crate::text::english_display!(ApiError);

/// One small request to `path` within `timeout`: a `GET`, or a `POST` of
/// `body`. The JSON of its 200 answer (at most 4 MiB of it), and how long
/// it took.
fn request(
    base_url: &OllamaUrl,
    roots: &RootCerts,
    path: &'static str,
    body: Option<Value>,
    timeout: Duration,
) -> Result<(Value, Duration), ApiError> {
    let started = Instant::now();
    let agent: ureq::Agent = agent_config(roots)
        .timeout_global(Some(timeout))
        .build()
        .into();
    let url = format!("{}{path}", base_url.expose());
    let response = match body {
        None => agent.get(url).call(),
        Some(body) => agent
            .post(url)
            .header("Content-Type", "application/json")
            .send(body.to_string()),
    };
    let failed = |e: ureq::Error| match e {
        ureq::Error::Timeout(_) => ApiError::NoAnswer(timeout),
        e => ApiError::Request(e.to_string()),
    };
    let response = response.map_err(failed)?;
    let status = response.status().as_u16();
    let text = response
        .into_body()
        .with_config()
        .limit(4 << 20)
        .read_to_string()
        .map_err(failed)?;
    if status != 200 {
        return Err(ApiError::Status { status, path });
    }
    let answer = serde_json::from_str(&text).map_err(|_| ApiError::NotJson { path })?;
    Ok((answer, started.elapsed()))
}

/// Loads `model` into memory without generating anything: a generate
/// request with an empty prompt, which Ollama answers once the model is
/// loaded (the warm-up before taking buyers). `keep_alive` is the owner's,
/// so the model stays as long as their requests keep it. Returns how long
/// Ollama says the load took (`load_duration`), else how long the request
/// took.
pub fn load_model(
    base_url: &OllamaUrl,
    roots: &RootCerts,
    model: &str,
    keep_alive: Option<&Value>,
    timeout: Duration,
) -> Result<Duration, ApiError> {
    let body = generate_body(model, "", false, keep_alive, Map::new());
    let (answer, took) = request(base_url, roots, "/api/generate", Some(body), timeout)?;
    let reported = answer.get("load_duration").and_then(Value::as_u64);
    Ok(reported.map_or(took, Duration::from_nanos))
}

/// The prompt of [`one_token`]: short, so that reading it costs nothing.
const ONE_TOKEN_PROMPT: &str = "Hi";

/// Asks `model` for a one-token answer to a short prompt and returns how
/// long the whole request took: roughly what a buyer waits for the first
/// piece (`--check`; a model not loaded yet is loaded first, within
/// `timeout`). The owner's `options` go with it (only `num_predict` is 1),
/// so that Ollama keeps a loaded model as its buyers' requests want it
/// (another `num_ctx` would reload it); `keep_alive` is the owner's too.
pub fn one_token(
    base_url: &OllamaUrl,
    roots: &RootCerts,
    model: &str,
    keep_alive: Option<&Value>,
    options: &Map<String, Value>,
    timeout: Duration,
) -> Result<Duration, ApiError> {
    let body = one_token_body(model, keep_alive, options);
    let (_, took) = request(base_url, roots, "/api/generate", Some(body), timeout)?;
    Ok(took)
}

fn one_token_body(model: &str, keep_alive: Option<&Value>, options: &Map<String, Value>) -> Value {
    let mut options = options.clone();
    options.insert("num_predict".into(), 1.into());
    generate_body(model, ONE_TOKEN_PROMPT, false, keep_alive, options)
}

/// The names of the models Ollama has installed (`GET /api/tags`).
pub fn installed_models(
    base_url: &OllamaUrl,
    roots: &RootCerts,
    timeout: Duration,
) -> Result<Vec<String>, ApiError> {
    let (tags, _) = request(base_url, roots, "/api/tags", None, timeout)?;
    let models = tags
        .get("models")
        .and_then(Value::as_array)
        .ok_or(ApiError::NoModelList)?;
    Ok(models
        .iter()
        .filter_map(|m| m.get("name").and_then(Value::as_str).map(str::to_string))
        .collect())
}

/// Ollama's version (`GET /api/version`).
pub fn version(
    base_url: &OllamaUrl,
    roots: &RootCerts,
    timeout: Duration,
) -> Result<String, ApiError> {
    let (answer, _) = request(base_url, roots, "/api/version", None, timeout)?;
    Ok(answer
        .get("version")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_string())
}

/// Whether `model` is among `installed`, as Ollama matches names: a name
/// without a tag means `:latest`.
pub fn is_installed(model: &str, installed: &[String]) -> bool {
    let latest = |name: &str| !model.contains(':') && name.strip_suffix(":latest") == Some(model);
    installed.iter().any(|name| name == model || latest(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_read_in_english() {
        let status = ApiError::Status {
            status: 503,
            path: "/api/tags",
        };
        assert_eq!(status.to_string(), "HTTP 503 for /api/tags");
        assert_eq!(ApiError::NoModelList.to_string(), "no model list");
        let not_json = ApiError::NotJson {
            path: "/api/version",
        };
        assert_eq!(not_json.to_string(), "/api/version did not answer JSON");
        assert_eq!(
            not_json.text().in_lang(crate::text::Lang::Ru),
            "/api/version ответил не в формате JSON"
        );
    }

    #[test]
    fn a_request_without_an_answer_says_how_long_it_waited() {
        // Accepts the connection, then says nothing.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = OllamaUrl::parse(&silent.local_addr().unwrap().to_string(), 0).unwrap();
        let roots = RootCerts::WebPki;
        let error = version(&url, &roots, Duration::from_millis(300)).unwrap_err();
        assert_eq!(error.to_string(), "no answer within 0.3 s");
        assert_eq!(
            error.text().in_lang(crate::text::Lang::Ru),
            "нет ответа за 0.3 с"
        );
        let error = load_model(&url, &roots, "m", None, Duration::from_secs(1)).unwrap_err();
        assert_eq!(error.to_string(), "no answer within 1 s");
    }

    #[test]
    fn the_one_token_request_keeps_the_owners_options_but_asks_for_one_token() {
        let mut options = Map::new();
        options.insert("num_ctx".into(), 8192.into());
        options.insert("num_predict".into(), 500.into());
        let keep_alive = Value::from("10m");
        let body = one_token_body("qwen3:8b", Some(&keep_alive), &options);
        assert_eq!(
            body,
            serde_json::json!({
                "model": "qwen3:8b",
                "prompt": "Hi",
                "stream": false,
                "options": {"num_ctx": 8192, "num_predict": 1},
                "keep_alive": "10m",
            })
        );
        let body = one_token_body("m", None, &Map::new());
        assert_eq!(body["options"], serde_json::json!({"num_predict": 1}));
        assert!(body.get("keep_alive").is_none());
    }

    #[test]
    fn model_names_match_like_ollama() {
        let installed = vec!["llama3.2:latest".to_string(), "qwen3:8b".to_string()];
        assert!(is_installed("llama3.2", &installed));
        assert!(is_installed("qwen3:8b", &installed));
        assert!(!is_installed("qwen3", &installed));
        assert!(!is_installed("llama2", &installed));
    }
}
