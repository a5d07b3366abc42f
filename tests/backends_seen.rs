//! Several Ollama backends as the owner sees them, end to end: the real
//! binary serves from two Ollama emulators (`ollama_hosts`) against the
//! hub emulator on 127.0.0.1; a second run of the binary asks it
//! `--status [--json]`, and `/metrics` is scraped. Both list each backend
//! with its state and running requests, and follow one backend's death:
//! a request that meets it runs on the other (failover), it shows down,
//! and the figures count each backend's answers.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::answers::{buyer, error_of, streamed_answer, text_of, WAIT};
use support::client::{test_config, with, Client, Finished, Launch, TOKEN};
use support::hub::Hub;
use support::metrics::sample;
use support::ollama::{Ollama, Reply};

/// How long the scripted slow answer waits before its first piece: long
/// enough for the test to see it running and send the next request.
const SLOW: Duration = Duration::from_secs(3);

fn owner(home: &Path, args: &[&str]) -> Finished {
    Launch::in_home(home).args(args).run(WAIT)
}

/// Asks `--status --json` until `done` holds (bounded by [`WAIT`]).
fn wait_status(home: &Path, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let run = owner(home, &["--status", "--json"]);
        if run.code() != Some(69) {
            let status = serde_json::from_str(run.stdout.trim());
            let status: Value = status.unwrap_or_else(|e| panic!("{e}: {}", run.describe()));
            if done(&status) || Instant::now() > deadline {
                return status;
            }
        }
        assert!(Instant::now() < deadline, "{}", run.describe());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The `--status` line that starts with `  NAME ` (a backend's line).
fn backend_line(status: &str, name: &str) -> String {
    let start = format!("  {name} ");
    let line = status.lines().find(|line| line.starts_with(&start));
    line.unwrap_or_else(|| panic!("no line for {name}:\n{status}"))
        .to_string()
}

/// `/metrics`' body.
fn scrape(port: u16) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("metrics port");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    assert!(head.starts_with("HTTP/1.1 200"), "{answer}");
    body.to_string()
}

/// Waits for the answer to `id` and checks the buyer got it whole.
fn answered_whole(hub: &Hub, id: i64) -> String {
    let frames = streamed_answer(hub, &json!(id));
    assert_eq!(error_of(&frames), None, "{frames:?}");
    text_of(&frames)
}

#[test]
fn status_and_metrics_show_each_backend_and_follow_one_that_dies() {
    let alpha = Ollama::start();
    let beta = Ollama::start();
    let hosts = json!([
        {"url": format!("127.0.0.1:{}", alpha.port()), "name": "alpha"},
        {"url": beta.url(), "max_parallel": 2},
    ]);
    let config = with(test_config(alpha.port()), "ollama_hosts", hosts);
    let config = with(config, "max_parallel", json!(1));
    let hub = Hub::start(TOKEN);
    let (client, port) = Client::start_with_metrics(&config, &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    let home = client.home.path();
    let beta_name = format!("127.0.0.1:{}", beta.port());
    let beta_url = format!("http://127.0.0.1:{}", beta.port());

    // Both up after the first look, in the listed order.
    let status = wait_status(home, |s| s["backends"][1]["state"] == "up");
    assert_eq!(
        status["backends"],
        json!([
            {"name": "alpha", "url": format!("http://127.0.0.1:{}", alpha.port()),
             "api": "ollama", "model": "llama3.2",
             "state": "up", "running": 0, "max_parallel": 1},
            {"name": beta_name, "url": beta_url, "api": "ollama", "model": "llama3.2",
             "state": "up", "running": 0, "max_parallel": 2},
        ]),
        "{status}"
    );
    let metrics = scrape(port);
    let up = |name: &str| format!("ollama_proxy_backend_up{{backend=\"{name}\"}}");
    assert_eq!(sample(&metrics, &up("alpha")), Some(1.0), "{metrics}");
    assert_eq!(sample(&metrics, &up(&beta_name)), Some(1.0), "{metrics}");

    // A slow answer keeps alpha (listed first, one at a time) busy: the
    // next request goes to beta.
    alpha.push(Reply::pieces(&["slow ", "one"]).first_delay(SLOW));
    hub.send_json(&buyer(&json!(1), "first"));
    assert!(alpha.wait_requests(1, WAIT));
    let status = wait_status(home, |s| s["backends"][0]["running"] == 1);
    assert_eq!(status["backends"][0]["running"], 1, "{status}");
    let table = owner(home, &["--status"]).stdout;
    let alpha_line = backend_line(&table, "alpha");
    assert!(alpha_line.ends_with("  up, 1 of 1 running"), "{table}");
    let beta_line = backend_line(&table, &beta_name);
    assert!(
        beta_line.contains(&format!("  {beta_url}  up, 0 of 2 running")),
        "{table}"
    );
    // The Ollama line, then the backends, then the requests.
    let ollama_at = table.find("\nOllama     up\n").expect(&table);
    let requests_at = table.find("\nRequests   1 running, 0 queued\n");
    let (alpha_at, beta_at) = (table.find(&alpha_line), table.find(&beta_line));
    assert!(
        Some(ollama_at) < alpha_at && alpha_at < beta_at && beta_at < requests_at,
        "{table}"
    );
    let russian = Launch::in_home(home)
        .env("LANG", "ru_RU.UTF-8")
        .args(&["--status"])
        .run(WAIT)
        .stdout;
    let alpha_line = backend_line(&russian, "alpha");
    assert!(
        alpha_line.ends_with("  работает, выполняется 1 из 1"),
        "{russian}"
    );
    hub.send_json(&buyer(&json!(2), "second"));
    assert_eq!(answered_whole(&hub, 2), "second");
    assert_eq!(answered_whole(&hub, 1), "slow one");
    assert!(beta.wait_requests(1, WAIT));

    // Beta dies. Two requests at once: whichever meets it runs on alpha,
    // and the buyer sees only the answer.
    let beta_port = beta.port();
    drop(beta);
    alpha.push(Reply::pieces(&["slow ", "three"]).first_delay(SLOW));
    hub.send_json(&buyer(&json!(3), "third"));
    hub.send_json(&buyer(&json!(4), "fourth"));
    // Whichever reached alpha first got the slow answer, the other its
    // prompt echoed.
    let texts = [answered_whole(&hub, 3), answered_whole(&hub, 4)];
    let slow_or_own = |text: &str, own| text == "slow three" || text == own;
    assert!(
        slow_or_own(&texts[0], "third") && slow_or_own(&texts[1], "fourth") && texts[0] != texts[1],
        "{texts:?}"
    );

    let status = wait_status(home, |s| s["backends"][1]["state"] == "down");
    let beta = &status["backends"][1];
    assert_eq!(beta["state"], "down", "{status}");
    assert_eq!(beta["model_missing"], false, "{status}");
    assert!(beta["since"].is_string(), "{status}");
    let error = beta["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with(&format!("Ollama backend 127.0.0.1:{beta_port} ")),
        "{status}"
    );
    assert_eq!(status["backends"][0]["state"], "up", "{status}");
    assert_eq!(status["ollama"], json!({"state": "up"}), "{status}");
    assert_eq!(status["serving"], true, "{status}");
    let table = owner(home, &["--status"]).stdout;
    let beta_line = backend_line(&table, &beta_name);
    assert!(
        beta_line.contains(&format!("  {beta_url}  down since ")),
        "{table}"
    );
    assert!(beta_line.ends_with(", 0 of 2 running"), "{table}");
    assert!(table.contains("\nOllama     up\n"), "{table}");

    // The figures: alpha ran three answers, one of them after beta failed
    // it; beta ran one, and is down.
    let metrics = scrape(port);
    let requests = |name: &str, outcome: &str| {
        let series = format!(
            "ollama_proxy_backend_requests_total{{backend=\"{name}\",outcome=\"{outcome}\"}}"
        );
        sample(&metrics, &series)
    };
    let counter =
        |family: &str, name: &str| sample(&metrics, &format!("{family}{{backend=\"{name}\"}}"));
    assert_eq!(sample(&metrics, &up("alpha")), Some(1.0), "{metrics}");
    assert_eq!(sample(&metrics, &up(&beta_name)), Some(0.0), "{metrics}");
    assert_eq!(requests("alpha", "ok"), Some(3.0), "{metrics}");
    assert_eq!(requests(&beta_name, "ok"), Some(1.0), "{metrics}");
    for name in ["alpha", beta_name.as_str()] {
        for outcome in ["error", "busy", "shutdown"] {
            assert_eq!(requests(name, outcome), Some(0.0), "{metrics}");
        }
    }
    let failovers = "ollama_proxy_backend_failovers_total";
    assert_eq!(counter(failovers, "alpha"), Some(1.0), "{metrics}");
    assert_eq!(counter(failovers, &beta_name), Some(0.0), "{metrics}");
    // Each backend's tokens, adding up to the total.
    let tokens = "ollama_proxy_backend_tokens_generated_total";
    let (alpha_tokens, beta_tokens) = (counter(tokens, "alpha"), counter(tokens, &beta_name));
    let total = sample(&metrics, "ollama_proxy_tokens_generated_total");
    assert!(
        alpha_tokens > Some(0.0) && beta_tokens > Some(0.0),
        "{metrics}"
    );
    assert_eq!(
        alpha_tokens.zip(beta_tokens).map(|(a, b)| a + b),
        total,
        "{metrics}"
    );
}
