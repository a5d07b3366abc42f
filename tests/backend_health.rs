//! One rule for a backend's health, end to end: the real binary between
//! the hub emulator and Ollama emulators, its metrics port
//! (`metrics_listen`) scraped and `--status --json` asked. `/metrics`'
//! `ollama_proxy_ollama_up`, `/readyz` and `--status` all follow what
//! `backends` decides (`ollama_down_after` requests in a row, the model
//! gone, a backend that fails before its first piece), never one answer.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Instant;

use serde_json::{json, Value};
use support::answers::{buyer, error_of, streamed_answer, WAIT};
use support::client::{test_config, Client, Launch, TOKEN};
use support::hub::Hub;
use support::ollama::Ollama;

/// `GET path` on the metrics port: the status line and the body.
fn http_get(port: u16, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("metrics port");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.lines().next().unwrap_or("").to_string();
    (status, body.to_string())
}

/// The value of one sample (`name{labels}`) of `/metrics`, `None` when
/// it has none.
fn sample(port: u16, series: &str) -> Option<f64> {
    let (_, metrics) = http_get(port, "/metrics");
    let value = metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))?;
    value.trim().parse().ok()
}

/// `/readyz`: whether it says ready (200), and its body.
fn readyz(port: u16) -> (bool, String) {
    let (status, body) = http_get(port, "/readyz");
    (status.starts_with("HTTP/1.1 200"), body.trim().to_string())
}

/// `--status --json` of the client running in `home`.
fn status(home: &Path) -> Value {
    let run = Launch::in_home(home)
        .args(&["--status", "--json"])
        .run(WAIT);
    serde_json::from_str(run.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", run.describe()))
}

/// The one backend's `backend_up` series.
fn backend_up(ollama: &Ollama) -> String {
    format!(
        "ollama_proxy_backend_up{{backend=\"127.0.0.1:{}\"}}",
        ollama.port()
    )
}

/// The client on one Ollama with its metrics port, connected, Ollama up.
fn one_backend(ollama: &Ollama) -> (Hub, Client, u16) {
    let hub = Hub::start(TOKEN);
    let config = test_config(ollama.port());
    let (client, port) = Client::start_with_metrics(&config, &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    // The client counts the connection once its handshake is through.
    assert_eq!(wait_readyz(port, true), "ready", "{}", client.output());
    assert_eq!(sample(port, "ollama_proxy_ollama_up"), Some(1.0));
    (hub, client, port)
}

/// Waits (bounded) until `/readyz` says ready (200) or not (503); its body.
fn wait_readyz(port: u16, ready: bool) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let (now, body) = readyz(port);
        if now == ready || Instant::now() > deadline {
            assert_eq!(now, ready, "{body}");
            return body;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn with_one_backend_and_the_model_gone_ollama_up_stays_0_as_the_backend_and_readyz_say() {
    let ollama = Ollama::start();
    let (hub, client, port) = one_backend(&ollama);
    ollama.set_models(&[]);
    hub.send_json(&buyer(&json!(1), "where is it?"));
    let frames = streamed_answer(&hub, &json!(1));
    assert!(error_of(&frames).is_some(), "{frames:?}");
    // The answer is counted before its frames go out: the figures already
    // know of it. The backend is down, and so is Ollama as a whole.
    assert_eq!(sample(port, &backend_up(&ollama)), Some(0.0));
    assert_eq!(
        sample(port, "ollama_proxy_ollama_up"),
        Some(0.0),
        "{}",
        client.output()
    );
    assert_eq!(wait_readyz(port, false), "Ollama is not reachable");
    let status = status(client.home.path());
    assert_eq!(status["ollama"]["state"], "down", "{status}");
    assert_eq!(status["ollama"]["model_missing"], true, "{status}");
}

#[test]
fn one_unreachable_request_of_ollama_down_after_3_leaves_ollama_up_and_the_box_ready() {
    let ollama = Ollama::start();
    let (hub, client, port) = one_backend(&ollama);
    let up = backend_up(&ollama);
    drop(ollama);
    for id in 1..=2 {
        hub.send_json(&buyer(&json!(id), "anyone?"));
        let frames = streamed_answer(&hub, &json!(id));
        assert_eq!(
            error_of(&frames).as_deref(),
            Some("Error: the owner's model server is not reachable")
        );
        // Still serving: `ollama_down_after` is 3.
        assert_eq!(sample(port, "ollama_proxy_ollama_up"), Some(1.0), "{id}");
        assert_eq!(sample(port, &up), Some(1.0), "{id}");
        assert_eq!(readyz(port), (true, "ready".into()), "{id}");
        let status = status(client.home.path());
        assert_eq!(status["ollama"]["state"], "up", "{status}");
    }
    // The third in a row sets it aside: all three say so.
    hub.send_json(&buyer(&json!(3), "anyone?"));
    streamed_answer(&hub, &json!(3));
    assert_eq!(sample(port, "ollama_proxy_ollama_up"), Some(0.0));
    assert_eq!(sample(port, &up), Some(0.0));
    assert_eq!(wait_readyz(port, false), "Ollama is not reachable");
    let status = status(client.home.path());
    assert_eq!(status["ollama"]["state"], "down", "{status}");
}
