//! The owner's account of what the box served, end to end: the real binary
//! serves a scripted session (answers in both modes, an Ollama error, a
//! busy answer, a reconnect, a shutdown) against the hub and Ollama
//! emulators on 127.0.0.1; then the ledger holds exactly the expected
//! lines, `--stats --json` reads the exact figures back, and `/metrics`
//! (scraped before the shutdown) counts exactly what the emulators saw.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};
use support::answers::{buyer, buyer_stream, frames_for, streamed_answer, WAIT};
use support::client::{config_dir, ledger_lines, test_config, with, Client, Launch, TOKEN};
use support::hub::Hub;
use support::metrics::{self, http_get};
use support::ollama::{split_pieces, Ollama, Reply};

/// Ollama's prompt template adds this many tokens (the emulator's
/// `prompt_eval_count`).
const TEMPLATE_TOKENS: u64 = 10;

/// Waits for the one frame of a non-stream answer.
fn whole_answer(hub: &Hub, id: &Value) -> Value {
    let received = hub.wait_for(WAIT, |r| !frames_for(r, id).is_empty());
    frames_for(&received, id).remove(0)
}

/// The value of one sample line (`name{labels} value`) of `/metrics`.
fn sample(metrics: &str, series: &str) -> f64 {
    metrics::sample(metrics, series).unwrap_or_else(|| panic!("no {series} in:\n{metrics}"))
}

/// What the session is expected to have produced for one answer: the
/// fields that do not depend on timing.
fn answer(
    id: Value,
    stream: bool,
    outcome: &str,
    prompt: &str,
    text: &str,
    pieces: usize,
) -> Value {
    let mut line = json!({
        "event": "answer", "message_id": id, "stream": stream, "model": "llama3.2",
        "outcome": outcome, "prompt_chars": prompt.chars().count(),
        "answer_chars": text.chars().count(), "pieces": pieces,
    });
    if outcome == "ok" {
        line["prompt_tokens"] = json!(split_pieces(prompt).len() as u64 + TEMPLATE_TOKENS);
        line["tokens"] = json!(pieces);
    }
    // The one Ollama ran it (see `without_timings`), unless it never got
    // there.
    line["backend"] = match outcome {
        "busy" => Value::Null,
        _ => json!("the one Ollama"),
    };
    if outcome != "busy" {
        line["api"] = json!("ollama");
    }
    line["failed_over"] = json!(false);
    line
}

/// A ledger line without the fields that depend on timing, after checking
/// that they are there and sensible.
fn without_timings(mut line: Value) -> Value {
    let fields = line.as_object_mut().unwrap();
    let ts = fields.remove("ts").expect("ts");
    assert!(
        ts.as_str()
            .is_some_and(|t| t.ends_with('Z') && t.len() == 24),
        "{ts}"
    );
    if fields.get("event") == Some(&json!("answer")) {
        let total = fields
            .remove("total_ms")
            .expect("total_ms")
            .as_u64()
            .unwrap();
        if let Some(first) = fields.remove("first_piece_ms") {
            assert!(first.as_u64().unwrap() <= total);
        }
        if fields.get("outcome") == Some(&json!("ok")) {
            assert!(fields.remove("eval_ms").is_some_and(|v| v.is_number()));
            assert!(fields.remove("load_ms").is_some_and(|v| v.is_u64()));
        }
        // The backend's name is its address, on a port of the OS's choice.
        if let Some(Value::String(name)) = fields.get_mut("backend") {
            assert!(name.starts_with("127.0.0.1:"), "{name}");
            *name = "the one Ollama".into();
        }
    }
    line
}

#[test]
fn a_scripted_session_is_in_the_ledger_in_stats_and_in_the_metrics_exactly() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let config = test_config(ollama.port());
    let config = with(config, "max_parallel", json!(1));
    let config = with(config, "queue_size", json!(1));
    let (mut client, port) = Client::start_with_metrics(&config, &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());

    // 1: streamed; 2: whole; 3: Ollama fails.
    ollama.push(Reply::pieces(&["Hel", "lo"]));
    hub.send_json(&buyer(&json!(1), "say hi"));
    streamed_answer(&hub, &json!(1));
    ollama.push(Reply::pieces(&["a", "b", "c"]));
    hub.send_json(&buyer_stream(&json!("two"), "abc please", false));
    assert_eq!(whole_answer(&hub, &json!("two"))["content"], "abc");
    ollama.push(Reply::error(500, "boom"));
    hub.send_json(&buyer(&json!(3), "fail"));
    streamed_answer(&hub, &json!(3));
    // 4 runs slowly on the only worker (Ollama has it), 5 waits in the
    // one-place queue, so 6 finds both full.
    ollama.push(Reply::pieces(&["slow"]).first_delay(Duration::from_millis(800)));
    ollama.push(Reply::pieces(&["q"]));
    hub.send_json(&buyer(&json!(4), "take your time"));
    assert!(ollama.wait_requests(4, WAIT), "{}", client.output());
    hub.send_json(&buyer(&json!(5), "in line"));
    hub.send_json(&buyer(&json!(6), "me too"));
    let busy = streamed_answer(&hub, &json!(6));
    assert_eq!(busy[0]["content"], "Error: busy");
    streamed_answer(&hub, &json!(4));
    streamed_answer(&hub, &json!(5));
    // A reconnect, then 7.
    hub.close_connection();
    assert!(hub.wait_connected(2, WAIT), "{}", client.output());
    ollama.push(Reply::pieces(&["x", "y", "z", "!"]));
    hub.send_json(&buyer(&json!(7), "last one"));
    streamed_answer(&hub, &json!(7));

    let (status, health) = http_get(port, "/healthz");
    assert!(status.contains(" 200 "), "{status}");
    assert_eq!(health.trim(), "ok");
    let (status, _) = http_get(port, "/readyz");
    assert!(status.contains(" 200 "), "{status}");
    let (status, metrics) = http_get(port, "/metrics");
    assert!(status.contains(" 200 "), "{status}");
    let prompt_tokens: u64 = [
        "say hi",
        "abc please",
        "take your time",
        "in line",
        "last one",
    ]
    .iter()
    .map(|p| split_pieces(p).len() as u64 + TEMPLATE_TOKENS)
    .sum();
    let expected = [
        ("ollama_proxy_requests_total{outcome=\"ok\"}", 5.0),
        ("ollama_proxy_requests_total{outcome=\"error\"}", 1.0),
        ("ollama_proxy_requests_total{outcome=\"busy\"}", 1.0),
        ("ollama_proxy_requests_total{outcome=\"shutdown\"}", 0.0),
        ("ollama_proxy_tokens_generated_total", 11.0),
        ("ollama_proxy_prompt_tokens_total", prompt_tokens as f64),
        ("ollama_proxy_pieces_sent_total", 11.0),
        ("ollama_proxy_hub_connected", 1.0),
        ("ollama_proxy_hub_connections_total", 2.0),
        ("ollama_proxy_requests_running", 0.0),
        ("ollama_proxy_queue_depth", 0.0),
        ("ollama_proxy_outbox_bytes", 0.0),
        ("ollama_proxy_ollama_up", 1.0),
        ("ollama_proxy_first_piece_seconds_count", 5.0),
        ("ollama_proxy_answer_seconds_count", 7.0),
    ];
    for (series, value) in expected {
        assert_eq!(sample(&metrics, series), value, "{series}:\n{metrics}");
    }
    assert_eq!(
        ollama.generate_requests().len(),
        6,
        "the busy one never reached Ollama"
    );

    client.terminate();
    let status = client.wait_exit(WAIT).expect("exits after SIGTERM");
    assert_eq!(status.code(), Some(0), "{}", client.output());

    let home = client.home.path().to_path_buf();
    let lines = ledger_lines(&home);
    let shown: Vec<Value> = lines.iter().cloned().map(without_timings).collect();
    let start = &shown[0];
    assert_eq!(start["event"], "start", "{start}");
    assert_eq!(start["model"], "llama3.2");
    assert_eq!(start["version"], env!("CARGO_PKG_VERSION"));
    let expected = vec![
        json!({"event": "connect"}),
        answer(json!(1), true, "ok", "say hi", "Hello", 2),
        answer(json!("two"), false, "ok", "abc please", "abc", 3),
        {
            let mut failed = answer(json!(3), true, "error", "fail", "", 0);
            failed["error"] = json!("ollama_error");
            failed
        },
        {
            let mut busy = answer(json!(6), true, "busy", "me too", "", 0);
            busy["error"] = json!("busy");
            busy
        },
        answer(json!(4), true, "ok", "take your time", "slow", 1),
        answer(json!(5), true, "ok", "in line", "q", 1),
        json!({"event": "disconnect", "reason": shown[8]["reason"].clone()}),
        json!({"event": "connect"}),
        answer(json!(7), true, "ok", "last one", "xyz!", 4),
        json!({"event": "disconnect", "reason": "client stopping"}),
        json!({"event": "stop", "reason": format!("{} received", support::client::stop_event("SIGTERM"))}),
    ];
    assert_eq!(shown[1..].to_vec(), expected, "{lines:#?}");
    assert!(
        shown[8]["reason"].as_str().unwrap().contains("closed"),
        "{}",
        shown[8]
    );
    let text = std::fs::read_to_string(config_dir(&home).join("ledger.jsonl")).unwrap();
    assert!(
        !text.contains(TOKEN) && !text.contains("say hi"),
        "no token, no prompt:\n{text}"
    );

    // --stats reads it back.
    let since = lines[0]["ts"].as_str().unwrap().to_string();
    let out = Launch::in_home(&home)
        .args(&["--stats", "--json", "--since", &since])
        .run(WAIT);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    let stats: Value = serde_json::from_str(&out.stdout).expect("one JSON object");
    let millis = |line: &Value| {
        let ts = line["ts"].as_str().unwrap();
        // Both ends of a span share the format: compare as text-derived ms.
        ts_millis(ts)
    };
    let connected =
        (millis(&lines[8]) - millis(&lines[1])) + (millis(&lines[11]) - millis(&lines[9]));
    let until = ts_millis(stats["until"].as_str().unwrap());
    let period = until - millis(&lines[0]);
    let pct = (connected as f64 * 1000.0 / period as f64).round() / 10.0;
    assert_eq!(stats["since"], json!(since));
    assert_eq!(stats["requests"], 7);
    assert_eq!(stats["answered"], 5);
    assert_eq!(stats["errors"], json!({"ollama_error": 1}));
    assert_eq!(stats["busy"], 1);
    assert_eq!(stats["tokens"], 11);
    assert_eq!(stats["prompt_tokens"], prompt_tokens);
    assert_eq!(stats["reconnects"], 1);
    assert_eq!(stats["torn_lines"], 0);
    assert_eq!(stats["hub_connected_pct"], json!(pct), "{stats}");
    for key in [
        "tokens_per_s_p50",
        "first_piece_ms_p50",
        "first_piece_ms_p95",
    ] {
        assert!(stats[key].is_number(), "{key}: {stats}");
    }
}

/// Milliseconds since the epoch of `YYYY-MM-DDTHH:MM:SS.mmmZ` (the tests'
/// own reading, independent of the client's).
fn ts_millis(ts: &str) -> i64 {
    let n = |range: std::ops::Range<usize>| ts[range].parse::<i64>().unwrap();
    let (year, month, day) = (n(0..4), n(5..7), n(8..10));
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let of_day = ((n(11..13) * 60 + n(14..16)) * 60 + n(17..19)) * 1000 + n(20..23);
    days * 86_400_000 + of_day
}

#[test]
fn the_tests_own_time_reading_is_right() {
    assert_eq!(ts_millis("1970-01-01T00:00:00.000Z"), 0);
    assert_eq!(ts_millis("2000-03-01T00:00:00.001Z"), 951_868_800_001);
}

/// The client's resident memory, from `/proc`.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn garbage_on_the_metrics_port_does_not_stop_relaying_or_grow_memory() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let config = test_config(ollama.port());
    let (client, port) = Client::start_with_metrics(&config, &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    let before = rss_kib(client.pid());

    // A 1 MiB request line, a client trickling one byte at a time, many
    // connections at once, and methods and paths it does not serve.
    let huge = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_write_timeout(Some(WAIT)).unwrap();
        let line = format!("GET /{} HTTP/1.1\r\n", "a".repeat(1 << 20));
        // The client stops reading after 8 KiB: the rest may not be taken.
        let _ = stream.write_all(line.as_bytes());
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    });
    let trickle = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let mut dropped = false;
        for byte in b"GET /metrics HTTP/1.1\r\n".iter().cycle().take(100) {
            if stream.write_all(&[*byte]).is_err() {
                dropped = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        dropped
    });
    let crowd: Vec<TcpStream> = (0..200)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    ollama.push(Reply::pieces(&["still", " here"]));
    hub.send_json(&buyer(&json!(1), "anyone?"));
    let answer: String = streamed_answer(&hub, &json!(1))
        .iter()
        .filter_map(|f| f["content"].as_str().map(str::to_string))
        .collect();
    assert_eq!(answer, "still here", "relaying goes on");
    drop(crowd);

    let huge = huge.join().unwrap();
    assert!(
        huge.starts_with("HTTP/1.1 431") || huge.is_empty(),
        "{huge:.200}"
    );
    assert!(trickle.join().unwrap(), "a trickling client is dropped");
    let (status, _) = http_get(port, "/metrics");
    assert!(status.contains(" 200 "), "{status}");
    for (request, expected) in [
        (
            "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            " 405 ",
        ),
        ("GET /nope HTTP/1.1\r\n\r\n", " 404 "),
        ("\x00\x01garbage\r\n\r\n", " 400 "),
    ] {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        assert!(
            answer.lines().next().unwrap_or("").contains(expected),
            "{request:?}: {answer}"
        );
    }
    let after = rss_kib(client.pid());
    assert!(
        after < before + 4096,
        "RSS grew from {before} to {after} KiB"
    );
}

#[test]
fn the_running_client_logs_a_summary_when_its_interval_is_over() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let config = with(
        test_config(ollama.port()),
        "summary_interval_secs",
        json!(0.2),
    );
    // The summary rides on the heartbeat.
    let config = with(config, "ping_interval_secs", json!(0.1));
    let client = Client::start(&config, &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    ollama.push(Reply::pieces(&["a", "b", "c"]));
    hub.send_json(&buyer(&json!(1), "hi"));
    streamed_answer(&hub, &json!(1));
    assert!(
        client.wait_output(
            "1 requests, 1 answered, 0 errors, 0 busy, 3 tokens generated",
            WAIT
        ),
        "{}",
        client.output()
    );
}

#[test]
fn a_metrics_port_off_loopback_or_taken_stops_the_client_saying_why() {
    let ollama = Ollama::start();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = format!("127.0.0.1:{}", taken.local_addr().unwrap().port());
    for (listen, public, says) in [
        ("0.0.0.0:9464", false, "is not a loopback address"),
        (taken.as_str(), false, "cannot listen on"),
        ("127.0.0.1", false, "has no port"),
    ] {
        let config = with(test_config(ollama.port()), "metrics_listen", json!(listen));
        let config = with(config, "metrics_public", json!(public));
        let out = Launch::with_config(&config)
            .args(&["--server", "ws://127.0.0.1:1/x"])
            .run(WAIT);
        assert_eq!(out.code(), Some(78), "{listen}: {}", out.describe());
        assert!(out.stderr.contains(says), "{listen}: {}", out.stderr);
        assert!(out.stderr.contains(listen), "{listen}: {}", out.stderr);
    }
    // In Russian, too.
    let config = with(
        test_config(ollama.port()),
        "metrics_listen",
        json!("0.0.0.0:9464"),
    );
    let out = Launch::with_config(&config)
        .env("LANG", "ru_RU.UTF-8")
        .args(&["--server", "ws://127.0.0.1:1/x"])
        .run(WAIT);
    assert_eq!(out.code(), Some(78), "{}", out.describe());
    assert!(
        out.stderr.contains("0.0.0.0:9464") && out.stderr.contains("loopback"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.chars().any(|c| ('а'..='я').contains(&c)),
        "{}",
        out.stderr
    );
}

#[test]
fn readyz_says_why_the_box_is_not_ready() {
    let hub = Hub::start(TOKEN);
    let config = test_config(support::answers::closed_port());
    let (client, port) = Client::start_with_metrics(&config, &["--server", &hub.url()]);
    // Ollama down at start: the client waits for it before connecting.
    assert!(
        client.wait_output("not connecting to the hub until it does", WAIT),
        "{}",
        client.output()
    );
    assert_eq!(hub.connections(), 0);
    let (status, body) = http_get(port, "/readyz");
    assert!(status.contains(" 503 "), "{status}");
    assert!(body.contains("Ollama"), "{body}");
    let (_, metrics) = http_get(port, "/metrics");
    assert_eq!(
        sample(&metrics, "ollama_proxy_ollama_up"),
        0.0,
        "the probe's answer"
    );
    assert_eq!(sample(&metrics, "ollama_proxy_paused"), 0.0);
    let (status, body) = http_get(port, "/healthz");
    assert!(
        status.contains(" 200 ") && body.trim() == "ok",
        "{status} {body}"
    );
}

/// Waits (bounded) until the ledger in `home` has `n` answer lines (read
/// as text: an id with a lone surrogate is not a `Value`).
fn wait_answers(home: &std::path::Path, n: usize) -> bool {
    let deadline = std::time::Instant::now() + WAIT;
    let path = config_dir(home).join("ledger.jsonl");
    let answers = || {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        text.matches("\"event\":\"answer\"").count()
    };
    while answers() < n {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// `--stats --json [--since SINCE]` on the config in `home`.
fn stats_json(home: &std::path::Path, since: Option<&str>) -> Value {
    let mut args = vec!["--stats", "--json"];
    args.extend(since.map(|since| ["--since", since]).into_iter().flatten());
    let out = Launch::in_home(home).args(&args).run(WAIT);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    serde_json::from_str(&out.stdout).expect("one JSON object")
}

/// The share, as `--stats` rounds it, of `connected` ms in `period` ms.
fn share(connected: i64, period: i64) -> Value {
    json!((connected as f64 * 1000.0 / period as f64).round() / 10.0)
}

#[test]
fn after_a_kill_9_the_connection_counts_until_the_ledgers_last_line() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let mut client = Client::start(&test_config(ollama.port()), &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    hub.send_json(&buyer(&json!(1), "one"));
    streamed_answer(&hub, &json!(1));
    let home = client.home.path().to_path_buf();
    assert!(wait_answers(&home, 1), "{}", client.output());
    let lines = ledger_lines(&home);
    let events: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["start", "connect", "answer"]);
    let ts: Vec<i64> = lines
        .iter()
        .map(|l| ts_millis(l["ts"].as_str().unwrap()))
        .collect();
    let (start, connect, last) = (ts[0], ts[1], ts[2]);

    // Running: the connection lasts until now.
    let stats = stats_json(&home, None);
    let until = ts_millis(stats["until"].as_str().unwrap());
    assert_eq!(
        stats["hub_connected_pct"],
        share(until - connect, until - start),
        "{stats}"
    );

    // SAFETY: kill has no memory effects; the child is not reaped yet.
    unsafe { libc::kill(client.pid() as libc::pid_t, libc::SIGKILL) };
    client.wait_exit(WAIT).expect("killed");
    assert_eq!(ledger_lines(&home).len(), 3, "nothing after the kill");
    // Crashed: until its last line, however long ago.
    let stats = stats_json(&home, None);
    let until = ts_millis(stats["until"].as_str().unwrap());
    assert_eq!(
        stats["hub_connected_pct"],
        share(last - connect, until - start),
        "{stats}"
    );
    // A period after the crash saw no connection at all.
    let since = lines[2]["ts"].as_str().unwrap();
    let stats = stats_json(&home, Some(since));
    assert_eq!(stats["hub_connected_pct"], json!(0.0), "{stats}");
}

#[test]
fn message_ids_reach_the_ledger_and_go_back_to_the_hub_byte_for_byte() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let mut client = Client::start(&test_config(ollama.port()), &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    let ids = [
        "123456789012345678901234567890",
        "18446744073709551616",
        r#""\ud800""#,
        "4.20",
    ];
    for id in ids {
        hub.send_text(&format!(
            r#"{{"type":"buyer_message","content":"hi","messageId":{id}}}"#
        ));
        let echoed = format!("\"messageId\":{id},");
        let received = hub.wait_for(WAIT, |r| {
            r.iter()
                .any(|f| f.text.contains("finished_message_stream") && f.text.contains(&echoed))
        });
        let frames: Vec<&str> = received
            .iter()
            .map(|f| f.text.as_str())
            .filter(|text| text.contains(&echoed))
            .collect();
        assert!(frames.len() >= 2, "{id}: {received:?}");
    }
    let home = client.home.path().to_path_buf();
    assert!(wait_answers(&home, ids.len()), "{}", client.output());
    client.terminate();
    client.wait_exit(WAIT).expect("exits after SIGTERM");

    let bytes = std::fs::read(config_dir(&home).join("ledger.jsonl")).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    for id in ids {
        let recorded = format!("\"event\":\"answer\",\"message_id\":{id},");
        assert!(text.contains(&recorded), "{recorded}\n{text}");
    }
    let stats = stats_json(&home, None);
    assert_eq!(stats["requests"], ids.len(), "{stats}");
    assert_eq!(stats["torn_lines"], 0, "{stats}");
}
