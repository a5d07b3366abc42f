//! The small requests the owner's tools make of a backend: Ollama's
//! version (`GET /api/version`), the models it has (Ollama's `GET
//! /api/tags`, an OpenAI-compatible server's `GET /v1/models`) for
//! `--check`, the probes and the first run, the model's load (the
//! warm-up), a one-token answer (`--check`'s timing). Buyers' prompts go through `client`
//! instead. Like them (the same agent settings, `client::agent_config`),
//! these requests never use an environment proxy, and an https address is
//! checked against the roots the caller gives.

use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::client::{agent_config, authorized, generate_body, OllamaTarget};
use super::kind::Api;
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

/// One small request to the backend within `timeout`: a `GET`, or a
/// `POST` of `body`, to Ollama's `path` or an OpenAI-compatible server's
/// `openai_path` (under its `/v1`). The JSON of its 200 answer (at most 4
/// MiB of it), and how long it took.
fn request(
    target: &OllamaTarget,
    (path, openai_path): (&'static str, &'static str),
    body: Option<Value>,
    timeout: Duration,
) -> Result<(Value, Duration), ApiError> {
    let started = Instant::now();
    let agent: ureq::Agent = agent_config(&target.roots)
        .timeout_global(Some(timeout))
        .build()
        .into();
    let (url, path) = match target.api {
        Api::Ollama => (format!("{}{path}", target.base_url.expose()), path),
        Api::OpenAi => (target.openai_url(openai_path), openai_path),
    };
    let response = match body {
        None => authorized(agent.get(url), target).call(),
        Some(body) => authorized(agent.post(url), target)
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

/// Where a generation without streaming is asked for.
const GENERATE: (&str, &str) = ("/api/generate", "/chat/completions");

/// Loads the model into memory without generating anything for a buyer
/// (the warm-up before taking buyers): Ollama gets a generate request
/// with an empty prompt, which it answers once the model is loaded, with
/// the owner's `keep_alive` so that the model stays as long as their
/// requests keep it; an OpenAI-compatible server, whose model is loaded
/// with the server, a one-token answer. Returns how long Ollama says the
/// load took (`load_duration`), else how long the request took.
pub fn load_model(target: &OllamaTarget, timeout: Duration) -> Result<Duration, ApiError> {
    let body = match target.api {
        Api::Ollama => {
            let keep_alive = target.keep_alive.as_ref();
            generate_body(&target.model, "", false, keep_alive, Map::new())
        }
        Api::OpenAi => one_token_body(target),
    };
    let (answer, took) = request(target, GENERATE, Some(body), timeout)?;
    let reported = answer.get("load_duration").and_then(Value::as_u64);
    Ok(reported.map_or(took, Duration::from_nanos))
}

/// Asks Ollama to unload the model now (a generate request with no prompt
/// and `keep_alive: 0`, Ollama's documented way), so that the GPU's memory
/// is the owner's while the box is away for them. Running requests finish
/// first: Ollama unloads once they end. `false` for an OpenAI-compatible
/// server: the API has no way to unload, nothing was asked.
pub fn unload_model(target: &OllamaTarget, timeout: Duration) -> Result<bool, ApiError> {
    if target.api != Api::Ollama {
        return Ok(false);
    }
    let now = Value::from(0);
    let body = generate_body(&target.model, "", false, Some(&now), Map::new());
    request(target, GENERATE, Some(body), timeout).map(|_| true)
}

/// The prompt of [`one_token`]: short, so that reading it costs nothing.
const ONE_TOKEN_PROMPT: &str = "Hi";

/// Asks the model for a one-token answer to a short prompt and returns how
/// long the whole request took: roughly what a buyer waits for the first
/// piece (`--check`; a model not loaded yet is loaded first, within
/// `timeout`). The owner's options go with it (only the number of tokens
/// is 1), so that Ollama keeps a loaded model as its buyers' requests want
/// it (another `num_ctx` would reload it); `keep_alive` is the owner's too.
pub fn one_token(target: &OllamaTarget, timeout: Duration) -> Result<Duration, ApiError> {
    let body = one_token_body(target);
    let (_, took) = request(target, GENERATE, Some(body), timeout)?;
    Ok(took)
}

fn one_token_body(target: &OllamaTarget) -> Value {
    if target.api == Api::OpenAi {
        return target.chat_body(ONE_TOKEN_PROMPT, false, 1);
    }
    let mut options = target.options.clone();
    options.insert("num_predict".into(), 1.into());
    let keep_alive = target.keep_alive.as_ref();
    generate_body(&target.model, ONE_TOKEN_PROMPT, false, keep_alive, options)
}

/// The names of the models the backend has: Ollama's installed ones
/// (`GET /api/tags`), an OpenAI-compatible server's (`GET /v1/models`).
pub fn installed_models(target: &OllamaTarget, timeout: Duration) -> Result<Vec<String>, ApiError> {
    let (answer, _) = request(target, ("/api/tags", "/models"), None, timeout)?;
    let (list, name) = match target.api {
        Api::Ollama => ("models", "name"),
        Api::OpenAi => ("data", "id"),
    };
    let models = answer
        .get(list)
        .and_then(Value::as_array)
        .ok_or(ApiError::NoModelList)?;
    Ok(models
        .iter()
        .filter_map(|m| m.get(name).and_then(Value::as_str).map(str::to_string))
        .collect())
}

/// Ollama's version (`GET /api/version`).
pub fn version(target: &OllamaTarget, timeout: Duration) -> Result<String, ApiError> {
    let (answer, _) = request(target, ("/api/version", "/models"), None, timeout)?;
    Ok(answer
        .get("version")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_string())
}

/// Whether the target's model is among `installed`, as the server matches
/// names: Ollama reads a name without a tag as `:latest`; an
/// OpenAI-compatible server takes its own names exactly.
pub fn is_installed(target: &OllamaTarget, installed: &[String]) -> bool {
    let model = target.model.as_str();
    let latest = |name: &str| {
        target.api == Api::Ollama
            && !model.contains(':')
            && name.strip_suffix(":latest") == Some(model)
    };
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

    use crate::address::OllamaUrl;
    use ureq::tls::RootCerts;

    fn target(url: &str, model: &str) -> OllamaTarget {
        OllamaTarget::plain(OllamaUrl::parse(url, 0).unwrap(), RootCerts::WebPki, model)
    }

    fn openai(url: &str, model: &str) -> OllamaTarget {
        OllamaTarget {
            api: Api::OpenAi,
            ..target(url, model)
        }
    }

    #[test]
    fn a_request_without_an_answer_says_how_long_it_waited() {
        // Accepts the connection, then says nothing.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let target = target(&silent.local_addr().unwrap().to_string(), "m");
        let error = version(&target, Duration::from_millis(300)).unwrap_err();
        assert_eq!(error.to_string(), "no answer within 0.3 s");
        assert_eq!(
            error.text().in_lang(crate::text::Lang::Ru),
            "нет ответа за 0.3 с"
        );
        let error = load_model(&target, Duration::from_secs(1)).unwrap_err();
        assert_eq!(error.to_string(), "no answer within 1 s");
    }

    #[test]
    fn the_one_token_request_keeps_the_owners_options_but_asks_for_one_token() {
        let mut target = target("http://127.0.0.1:1", "qwen3:8b");
        target.options.insert("num_ctx".into(), 8192.into());
        target.options.insert("num_predict".into(), 500.into());
        target.keep_alive = Some(Value::from("10m"));
        assert_eq!(
            one_token_body(&target),
            serde_json::json!({
                "model": "qwen3:8b",
                "prompt": "Hi",
                "stream": false,
                "options": {"num_ctx": 8192, "num_predict": 1},
                "keep_alive": "10m",
            })
        );
        target.options.clear();
        target.keep_alive = None;
        let body = one_token_body(&target);
        assert_eq!(body["options"], serde_json::json!({"num_predict": 1}));
        assert!(body.get("keep_alive").is_none());
    }

    #[test]
    fn an_openai_one_token_request_is_a_chat_without_stream_options() {
        let mut target = openai("http://127.0.0.1:1/v1", "org/Model-7B");
        target.options.insert("temperature".into(), 0.0.into());
        target.options.insert("max_tokens".into(), 500.into());
        assert_eq!(
            one_token_body(&target),
            serde_json::json!({
                "model": "org/Model-7B",
                "messages": [{"role": "user", "content": "Hi"}],
                "stream": false,
                "max_tokens": 1,
                "temperature": 0.0,
            })
        );
        assert_eq!(target.openai_url("/models"), "http://127.0.0.1:1/v1/models");
        let target = openai("http://127.0.0.1:1", "m");
        assert_eq!(target.openai_url("/models"), "http://127.0.0.1:1/v1/models");
    }

    #[test]
    fn model_names_match_like_the_server() {
        let installed = vec!["llama3.2:latest".to_string(), "qwen3:8b".to_string()];
        let found = |model| is_installed(&target("http://127.0.0.1:1", model), &installed);
        assert!(found("llama3.2"));
        assert!(found("qwen3:8b"));
        assert!(!found("qwen3"));
        assert!(!found("llama2"));
        // An OpenAI-compatible server's names are taken exactly.
        let found = |model| is_installed(&openai("http://127.0.0.1:1", model), &installed);
        assert!(!found("llama3.2"));
        assert!(found("llama3.2:latest"));
    }
}
