//! The OpenAI-compatible backend against a real llama.cpp server: the
//! `llama-server` of `xllamacpp` (PyPI) serving a tiny generated model,
//! started by `scripts/llama-server.py` (which sets up its virtualenv and
//! the model the first time, from PyPI, and caches both). The real client
//! binary relays buyers' prompts from the hub emulator to it.
//!
//! What only a real server can show: the client's pieces concatenate to
//! exactly what the server answers the same prompt without streaming (at
//! temperature 0), the ledger's token counts are the server's own (its
//! usage chunk, or llama.cpp's `timings` when the usage is not asked
//! for), and `--check` passes against it.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};
use support::answers::{buyer, buyer_stream, frames_for, is_end, streamed_answer, text_of, WAIT};
use support::client::{ledger_lines, test_config, with, Client, Launch};
use support::hub::Hub;

/// The first start sets up a virtualenv from PyPI (seconds, once).
const SETUP_WAIT: Duration = Duration::from_secs(300);

/// The tokens every answer here is limited to: the tiny model never
/// stops on its own.
const MAX_TOKENS: u64 = 24;

/// A llama.cpp server on 127.0.0.1, stopped when dropped (its stdin
/// closes, which ends it even if this test process is killed).
struct LlamaServer {
    child: Child,
    _stdin: ChildStdin,
    port: u16,
}

impl LlamaServer {
    fn start(parallel: usize) -> LlamaServer {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/llama-server.py");
        let mut child = Command::new("python3")
            .args([script, "--parallel", &parallel.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs scripts/llama-server.py");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (said, told) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = said.send(line);
        });
        let line = told
            .recv_timeout(SETUP_WAIT)
            .expect("scripts/llama-server.py said it listens");
        let port = line
            .trim()
            .strip_prefix("listening 127.0.0.1:")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("scripts/llama-server.py said {line:?}"));
        LlamaServer {
            child,
            _stdin: stdin,
            port,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The server's own answer to `prompt` without streaming, at
    /// temperature 0: its text and its usage.
    fn answer(&self, prompt: &str) -> (String, Value) {
        let body = json!({
            "model": "tiny",
            "messages": [{"role": "user", "content": prompt}],
            "stream": false,
            "max_tokens": MAX_TOKENS,
            "temperature": 0,
        })
        .to_string();
        let answer = post(self.port, "/v1/chat/completions", &body);
        let text = answer["choices"][0]["message"]["content"].as_str();
        let text = text.unwrap_or_else(|| panic!("no content: {answer}"));
        (text.to_string(), answer["usage"].clone())
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A POST over HTTP/1.1 with `Connection: close`; the JSON of a 200
/// answer (read to the end, de-chunked when chunked).
fn post(port: u16, path: &str, body: &str) -> Value {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8(raw).expect("UTF-8");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a head");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let body = match head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        true => dechunked(body),
        false => body.to_string(),
    };
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn dechunked(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).expect("a chunk size");
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

/// The client's config: the one backend is the llama.cpp server.
fn config_for(server: &LlamaServer, entry: Value) -> Value {
    let mut backend = json!({
        "url": server.url(), "api": "openai", "model": "tiny", "name": "llama",
        "options": {"temperature": 0},
    });
    for (key, value) in entry.as_object().unwrap() {
        backend[key] = value.clone();
    }
    let config = with(test_config(1), "ollama_hosts", json!([backend]));
    with(config, "max_answer_tokens", json!(MAX_TOKENS))
}

/// The ledger's answer lines.
fn answers(client: &Client) -> Vec<Value> {
    let lines = ledger_lines(client.home.path());
    lines
        .into_iter()
        .filter(|l| l["event"] == "answer")
        .collect()
}

/// Stops the client, so that its ledger is complete.
fn stop(mut client: Client) -> Vec<Value> {
    client.terminate();
    let status = client.wait_exit(WAIT).expect("exits after SIGTERM");
    assert_eq!(status.code(), Some(0), "{}", client.output());
    answers(&client)
}

#[test]
fn answers_are_the_servers_own_text_and_figures() {
    let server = LlamaServer::start(2);
    let hub = Hub::start(support::client::TOKEN);
    let config = config_for(&server, json!({}));
    let client = Client::start(&config, &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    // The start's line says the backend's API and model (not the global).
    let started = format!(
        "model llama3.2 on {} (llama, openai, model tiny, 1 worker(s)), 1 worker(s)",
        server.url()
    );
    assert!(client.output().contains(&started), "{}", client.output());

    let prompts = ["Hello there", "Почему небо голубое? \"quoted\" <b>"];
    for (id, prompt) in prompts.iter().enumerate() {
        let id = json!(id + 1);
        hub.send_json(&buyer(&id, prompt));
        let frames = streamed_answer(&hub, &id);
        let (expected, _) = server.answer(prompt);
        assert_eq!(text_of(&frames), expected, "{}", client.output());
    }
    // The same without streaming: one frame, the same text.
    hub.send_json(&buyer_stream(&json!("whole"), prompts[0], false));
    let received = hub.wait_for(WAIT, |r| !frames_for(r, &json!("whole")).is_empty());
    let frame = frames_for(&received, &json!("whole")).remove(0);
    assert_eq!(frame["content"], server.answer(prompts[0]).0);

    let answers = stop(client);
    assert_eq!(answers.len(), 3, "{answers:#?}");
    for (line, prompt) in answers.iter().zip([prompts[0], prompts[1], prompts[0]]) {
        let (_, usage) = server.answer(prompt);
        assert_eq!(line["outcome"], "ok", "{line}");
        assert_eq!(line["api"], "openai", "{line}");
        assert_eq!(line["backend"], "llama", "{line}");
        assert_eq!(line["model"], "tiny", "{line}");
        assert_eq!(line["tokens_source"], "usage", "{line}");
        assert_eq!(line["tokens"], usage["completion_tokens"], "{line}");
        assert_eq!(line["prompt_tokens"], usage["prompt_tokens"], "{line}");
        assert_eq!(line["tokens"], MAX_TOKENS, "{line}");
        // One piece per token the server sent (the tiny model's words;
        // the hub may get several in one frame when it reads slower).
        assert_eq!(line["pieces"], MAX_TOKENS, "{line}");
    }
}

#[test]
fn without_the_usage_chunk_the_figures_are_llama_cpps_timings() {
    let server = LlamaServer::start(1);
    let hub = Hub::start(support::client::TOKEN);
    let config = config_for(&server, json!({"include_usage": false}));
    let client = Client::start(&config, &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    hub.send_json(&buyer(&json!(7), "Hello"));
    let frames = streamed_answer(&hub, &json!(7));
    assert!(frames.last().is_some_and(is_end));
    assert_eq!(text_of(&frames), server.answer("Hello").0);
    let answers = stop(client);
    let line = &answers[0];
    assert_eq!(line["tokens_source"], "timings", "{line}");
    assert_eq!(line["tokens"], MAX_TOKENS, "{line}");
    let (_, usage) = server.answer("Hello");
    assert_eq!(line["prompt_tokens"], usage["prompt_tokens"], "{line}");
    // llama.cpp's timings give the speed too.
    let eval_ms = line["eval_ms"].as_f64().expect("eval_ms from the timings");
    assert!(eval_ms > 0.0, "{line}");
}

#[test]
fn check_passes_against_the_server_and_names_what_is_missing() {
    let server = LlamaServer::start(1);
    let hub = Hub::start(support::client::TOKEN);
    let config = config_for(&server, json!({}));
    let run = Launch::with_config(&config)
        .args(&["--check", "--server", &hub.url()])
        .env("LC_ALL", "C")
        .run(WAIT);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let url = server.url();
    assert!(
        run.stdout.contains(&format!(
            "the OpenAI-compatible server at {url} answers (1 model listed)"
        )),
        "{}",
        run.describe()
    );
    assert!(
        run.stdout.contains("model 'tiny' is installed"),
        "{}",
        run.describe()
    );

    let config = config_for(&server, json!({"model": "Org/Other-7B"}));
    let run = Launch::with_config(&config)
        .args(&["--check", "--server", &hub.url()])
        .env("LC_ALL", "C")
        .run(WAIT);
    assert_eq!(run.code(), Some(1), "{}", run.describe());
    assert!(
        run.stdout
            .contains("model 'Org/Other-7B' is not installed (installed: tiny)"),
        "{}",
        run.describe()
    );
    assert!(run.stdout.contains("GET /v1/models"), "{}", run.describe());
}
