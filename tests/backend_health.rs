//! One rule for a backend's health, end to end: the real binary between
//! the hub emulator and Ollama emulators, its metrics port
//! (`metrics_listen`) scraped and `--status --json` asked. `/metrics`'
//! `ollama_proxy_ollama_up`, `/readyz` and `--status` all follow what
//! `backends` decides (`ollama_down_after` requests in a row, the model
//! gone, a backend that fails before its first piece), never one answer.

mod support;

use std::path::Path;
use std::time::Instant;

use serde_json::{json, Value};
use support::answers::{buyer, error_of, streamed_answer, text_of, WAIT};
use support::client::{test_config, with, Client, Launch, TOKEN};
use support::hub::Hub;
use support::metrics::{self, http_get};
use support::ollama::{Ollama, Reply};

/// The value of one sample (`name{labels}`) of `/metrics`, `None` when
/// it has none.
fn sample(port: u16, series: &str) -> Option<f64> {
    metrics::sample(&http_get(port, "/metrics").1, series)
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
    // /readyz says why, as --status does: the model, not the connection.
    let why = wait_readyz(port, false);
    assert!(why.ends_with(" is not installed on Ollama"), "{why}");
    let status = status(client.home.path());
    assert_eq!(status["ollama"]["state"], "down", "{status}");
    assert_eq!(status["ollama"]["model_missing"], true, "{status}");
    assert!(
        why.contains(status["model"].as_str().unwrap()),
        "{why} {status}"
    );
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

/// Two backends, `a` (listed first) and `b`, one request at a time each;
/// a backend set aside is asked again only after a minute.
fn two_backends(a: &Ollama, b: &Ollama) -> (Hub, Client) {
    let hosts = json!([
        {"url": a.url(), "name": "a", "max_parallel": 1},
        {"url": b.url(), "name": "b", "max_parallel": 1},
    ]);
    let config = with(test_config(1), "ollama_hosts", hosts);
    let config = with(config, "ollama_probe_secs", json!(60));
    let hub = Hub::start(TOKEN);
    let client = Client::start(&config, &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    (hub, client)
}

/// Eight requests, one after the other, with backend `a` broken as
/// `broken` makes each of its replies: every buyer gets the whole answer
/// from `b`, `a` is tried once and set aside, and `--status` shows it.
fn broken_first_line(broken: fn() -> Reply, reason: &str) {
    let (a, b) = (Ollama::start(), Ollama::start());
    for _ in 0..8 {
        a.push(broken());
    }
    let (hub, client) = two_backends(&a, &b);
    for id in 1..=8 {
        let prompt = format!("answer number {id}");
        hub.send_json(&buyer(&json!(id), &prompt));
        let frames = streamed_answer(&hub, &json!(id));
        assert_eq!(error_of(&frames), None, "{id}: {}", client.output());
        assert_eq!(text_of(&frames), prompt);
    }
    assert_eq!(a.generate_requests().len(), 1, "{}", client.output());
    assert_eq!(b.generate_requests().len(), 8);
    let status = status(client.home.path());
    let backends = &status["backends"];
    assert_eq!(backends[0]["state"], "down", "{status}");
    let error = backends[0]["error"].as_str().unwrap_or_default();
    assert_eq!(
        error,
        format!("Ollama backend a {reason} before its first piece")
    );
    assert_eq!(backends[1]["state"], "up", "{status}");
    assert_eq!(hub.connections(), 1, "never left the hub");
}

#[test]
fn a_backend_whose_first_line_is_an_error_is_set_aside_and_its_requests_run_elsewhere() {
    let crashed = || Reply::text("never").error_after(0, "llama runner: CUDA error: out of memory");
    broken_first_line(crashed, "sent an error line");
}

#[test]
fn a_backend_whose_first_line_is_not_json_is_set_aside_and_its_requests_run_elsewhere() {
    broken_first_line(
        || Reply::text("never").garbage_after(0),
        "sent a line that is not JSON",
    );
}

#[test]
fn a_backend_whose_first_line_is_too_long_is_set_aside_and_its_requests_run_elsewhere() {
    // Over the default `max_line_bytes` (8 MiB).
    let runaway = || Reply::text("never").long_line_after(0, 9 << 20);
    broken_first_line(runaway, "sent a line over max_line_bytes");
}

#[test]
fn an_error_after_the_first_piece_goes_to_its_buyer_and_sets_nothing_aside() {
    let (a, b) = (Ollama::start(), Ollama::start());
    a.push(Reply::text("half an answer").error_after(1, "llama runner: CUDA error"));
    let (hub, client) = two_backends(&a, &b);
    hub.send_json(&buyer(&json!(1), "in two halves"));
    let frames = streamed_answer(&hub, &json!(1));
    assert_eq!(text_of(&frames), "half");
    assert!(error_of(&frames).is_some(), "{frames:?}");
    assert_eq!(
        b.generate_requests().len(),
        0,
        "the buyer saw text: no retry"
    );
    let status = status(client.home.path());
    assert_eq!(status["backends"][0]["state"], "up", "{status}");
}

#[test]
fn with_one_backend_an_error_first_line_still_reaches_the_buyer_as_an_error() {
    let ollama = Ollama::start();
    let (hub, client, port) = one_backend(&ollama);
    ollama.push(Reply::text("never").error_after(0, "llama runner: CUDA error"));
    hub.send_json(&buyer(&json!(1), "only one"));
    let frames = streamed_answer(&hub, &json!(1));
    assert_eq!(
        error_of(&frames).as_deref(),
        Some("Error: the model failed while answering"),
        "{}",
        client.output()
    );
    // Nowhere else to go: it stays, and serves the next one.
    hub.send_json(&buyer(&json!(2), "next"));
    assert_eq!(text_of(&streamed_answer(&hub, &json!(2))), "next");
    assert_eq!(sample(port, "ollama_proxy_ollama_up"), Some(1.0));
    let status = status(client.home.path());
    assert_eq!(status["ollama"]["state"], "up", "{status}");
    assert_eq!(hub.connections(), 1);
}
