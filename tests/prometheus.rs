//! A real Prometheus server scrapes the client's `/metrics` on loopback:
//! the target is `up` and a counter holds the value the session produced.
//! Needs `prometheus` and `promtool` (Debian's `prometheus` package), so it
//! is ignored by a plain `cargo test`; `scripts/check-metrics.sh` installs
//! them and runs it with `--ignored`.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::answers::{buyer, streamed_answer, WAIT};
use support::client::{test_config, Client, TempDir, TOKEN};
use support::hub::Hub;
use support::ollama::{Ollama, Reply};

/// How long Prometheus may take to start and scrape twice.
const PROMETHEUS_WAIT: Duration = Duration::from_secs(60);

/// A port for Prometheus (which cannot report one the system picked).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `GET path` on a loopback port; the body, or `None` if nothing answers.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let (_, body) = answer.split_once("\r\n\r\n")?;
    Some(body.to_string())
}

/// Prometheus's answer to an instant query, as the one sample's value.
fn query(port: u16, promql: &str) -> Option<f64> {
    let encoded: String = promql
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let body = http_get(port, &format!("/api/v1/query?query={encoded}"))?;
    // The body may be chunked; the JSON object is between its braces.
    let json = &body[body.find('{')?..=body.rfind('}')?];
    let answer: Value = serde_json::from_str(json).ok()?;
    answer["data"]["result"][0]["value"][1]
        .as_str()?
        .parse()
        .ok()
}

struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_prometheus(dir: &TempDir, port: u16, target: u16) -> Prometheus {
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: ollama-proxy-client\n    \
             static_configs:\n      - targets: ['127.0.0.1:{target}']\n"
        ),
    )
    .unwrap();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run prometheus (scripts/check-metrics.sh installs it)");
    Prometheus(child)
}

/// Polls `promql` until it equals `expected` (bounded).
fn wait_for_value(port: u16, promql: &str, expected: f64) -> Option<f64> {
    let deadline = Instant::now() + PROMETHEUS_WAIT;
    let mut last = None;
    while Instant::now() < deadline {
        last = query(port, promql);
        if last == Some(expected) {
            return last;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    last
}

#[test]
#[ignore = "needs prometheus; run by scripts/check-metrics.sh"]
fn a_real_prometheus_scrapes_the_client_and_sees_its_counters() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let config = test_config(ollama.port());
    let (client, metrics_port) = Client::start_with_metrics(&config, &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    for id in 1..=3 {
        ollama.push(Reply::pieces(&["a", "b"]));
        hub.send_json(&buyer(&json!(id), "hi"));
        streamed_answer(&hub, &json!(id));
    }
    // promtool agrees with the format of what the client serves.
    let metrics = http_get(metrics_port, "/metrics").expect("the metrics port answers");
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success() && checked.stdout.is_empty() && checked.stderr.is_empty(),
        "promtool: {}{}\n{metrics}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );

    let dir = TempDir::new();
    let port = free_port();
    let _prometheus = start_prometheus(&dir, port, metrics_port);
    assert_eq!(
        wait_for_value(port, "up{job=\"ollama-proxy-client\"}", 1.0),
        Some(1.0),
        "the target is up"
    );
    assert_eq!(
        wait_for_value(port, "ollama_proxy_requests_total{outcome=\"ok\"}", 3.0),
        Some(3.0),
        "the scraped counter"
    );
    assert_eq!(
        wait_for_value(port, "ollama_proxy_hub_connected", 1.0),
        Some(1.0)
    );
}
