//! Several Ollama backends behind one client: the real binary between the
//! hub emulator and three Ollama emulators (or ports where one is down).
//! Requests spread over the least busy backends, a backend that fails
//! before the buyer saw anything is invisible to the buyer, and the box
//! steps back from the hub only when no backend is left.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use support::answers::{buyer, error_of, is_end, streamed_answer, text_of, WAIT};
use support::client::{ledger_events, test_config, with, Client, TOKEN};
use support::dead::DeadOllama;
use support::hub::Hub;
use support::ollama::{Ollama, Reply};

/// How often the client asks a backend that is down, in these tests.
const PROBE_SECS: f64 = 0.2;

/// A config whose backends are `backends` (named `a`, `b`, `c`, ... in
/// order), each running up to `max_parallel` requests.
fn config(backends: &[&Ollama], max_parallel: usize) -> Value {
    let hosts: Vec<Value> = backends
        .iter()
        .zip(["a", "b", "c"])
        .map(|(ollama, name)| json!({"url": ollama.url(), "max_parallel": max_parallel, "name": name}))
        .collect();
    // The one-backend keys point nowhere: `ollama_hosts` replaces them.
    let config = with(test_config(1), "ollama_hosts", Value::Array(hosts));
    with(config, "ollama_probe_secs", json!(PROBE_SECS))
}

/// The ledger's answers: message id -> (backend, failed_over).
fn ran_on(client: &Client) -> BTreeMap<String, (Value, bool)> {
    let answers = ledger_events(client.home.path(), "answer");
    answers
        .iter()
        .map(|a| {
            let id = a["message_id"].to_string();
            let failed_over = a["failed_over"].as_bool().expect("failed_over");
            (id, (a["backend"].clone(), failed_over))
        })
        .collect()
}

/// How many answers each backend gave, from the ledger.
fn answers_per_backend(client: &Client) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for (backend, _) in ran_on(client).into_values() {
        let name = backend.as_str().unwrap_or("none").to_string();
        *counts.entry(name).or_insert(0) += 1;
    }
    counts
}

/// Waits until the ledger holds `n` lines of `event`; returns them.
fn wait_events(client: &Client, event: &str, n: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let lines = ledger_events(client.home.path(), event);
        if lines.len() >= n {
            return lines;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{n} {event} lines never came: {}",
            client.output()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until the ledger holds `n` answers.
fn wait_answers(client: &Client, n: usize) {
    wait_events(client, "answer", n);
}

#[test]
fn six_requests_over_three_backends_of_two_run_at_once_two_on_each() {
    let backends = [Ollama::start(), Ollama::start(), Ollama::start()];
    // Each reply waits a moment before its first line: long enough for all
    // six to be running at once, which the emulators then see.
    for ollama in &backends {
        for _ in 0..3 {
            ollama.push(Reply::text("in parallel").first_delay(Duration::from_millis(800)));
        }
    }
    let hub = Hub::start(TOKEN);
    let config = config(&[&backends[0], &backends[1], &backends[2]], 2);
    // No waiting line: a request that found no free slot would be busy.
    let config = with(config, "queue_size", json!(0));
    let client = Client::start(&config, &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    for id in 1..=6 {
        hub.send_json(&buyer(&json!(id), "in parallel"));
    }
    for ollama in &backends {
        assert!(ollama.wait_requests(2, WAIT), "{}", client.output());
    }
    // Every backend full and no line: only now is a buyer told busy.
    hub.send_json(&buyer(&json!(7), "one too many"));
    assert_eq!(
        error_of(&streamed_answer(&hub, &json!(7))).as_deref(),
        Some("Error: busy")
    );
    for id in 1..=6 {
        assert_eq!(text_of(&streamed_answer(&hub, &json!(id))), "in parallel");
    }
    for ollama in &backends {
        assert_eq!(ollama.generate_requests().len(), 2, "{}", client.output());
    }
    wait_answers(&client, 7);
    let expected: BTreeMap<String, usize> = [("a", 2), ("b", 2), ("c", 2), ("none", 1)]
        .map(|(name, n)| (name.to_string(), n))
        .into();
    assert_eq!(answers_per_backend(&client), expected);
    let start = &ledger_events(client.home.path(), "start")[0];
    let listed = start["settings"]["backends"].as_array().cloned();
    let names: Vec<Value> = listed
        .unwrap_or_default()
        .iter()
        .map(|b| b["name"].clone())
        .collect();
    assert_eq!(names, [json!("a"), json!("b"), json!("c")], "{start}");
    assert_eq!(start["settings"]["backends"][1]["url"], backends[1].url());
    assert_eq!(start["settings"]["backends"][1]["max_parallel"], 2);
    let each: Vec<String> = (backends.iter().zip(["a", "b", "c"]))
        .map(|(ollama, name)| format!("{} ({name}, 2 worker(s))", ollama.url()))
        .collect();
    let started = format!("model llama3.2 on {}, 6 worker(s)", each.join(", "));
    assert!(client.output().contains(&started), "{}", client.output());
}

#[test]
fn a_backend_killed_while_idle_is_invisible_to_buyers_and_used_again_once_back() {
    let (first, second) = (Ollama::start(), Ollama::start());
    let hub = Hub::start(TOKEN);
    let client = Client::start(&config(&[&first, &second], 1), &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    let port = first.port();
    drop(first);
    // The first request goes to `a` (listed first), finds it gone, and runs
    // on `b`; the next ones go to `b` straight away.
    for id in 1..=3 {
        hub.send_json(&buyer(&json!(id), "still here"));
        let frames = streamed_answer(&hub, &json!(id));
        assert_eq!(error_of(&frames), None, "{id}: {}", client.output());
        assert_eq!(text_of(&frames), "still here");
    }
    wait_answers(&client, 3);
    let ran = ran_on(&client);
    assert_eq!(ran["1"], (json!("b"), true), "{}", client.output());
    assert_eq!(ran["2"], (json!("b"), false));
    assert_eq!(ran["3"], (json!("b"), false));
    assert_eq!(second.generate_requests().len(), 3);
    assert!(
        client.wait_output("Ollama backend a does not answer", WAIT),
        "{}",
        client.output()
    );
    // Back on its port: its probe finds it, warms it up, and the next
    // request (a tie on running requests, `a` listed first) goes there.
    let back = Ollama::start_on(port).expect("the port again");
    assert!(back.wait_loads(1, WAIT), "{}", client.output());
    assert!(
        client.wait_output("Ollama backend a answers again", WAIT),
        "{}",
        client.output()
    );
    hub.send_json(&buyer(&json!(4), "welcome back"));
    assert_eq!(text_of(&streamed_answer(&hub, &json!(4))), "welcome back");
    assert_eq!(back.generate_requests().len(), 1, "{}", client.output());
    assert_eq!(hub.connections(), 1, "never left the hub");
}

/// Runs one request whose first try, on backend `a`, fails as `break_first`
/// makes it; returns the buyer's frames and the ledger's answer.
fn failing_first(
    break_first: impl FnOnce(&Ollama),
    extra: &[(&str, Value)],
) -> (Vec<Value>, Value) {
    let (first, second) = (Ollama::start(), Ollama::start());
    let hub = Hub::start(TOKEN);
    let mut config = config(&[&first, &second], 1);
    for (key, value) in extra {
        config = with(config, key, value.clone());
    }
    let client = Client::start(&config, &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    break_first(&first);
    hub.send_json(&buyer(&json!(1), "the whole answer"));
    let frames = streamed_answer(&hub, &json!(1));
    assert_eq!(first.generate_requests().len(), 1, "{}", client.output());
    assert_eq!(second.generate_requests().len(), 1, "{}", client.output());
    wait_answers(&client, 1);
    let answer = ledger_events(client.home.path(), "answer").remove(0);
    (frames, answer)
}

fn assert_failed_over(frames: &[Value], answer: &Value) {
    assert_eq!(error_of(frames), None, "{frames:?}");
    assert_eq!(text_of(frames), "the whole answer");
    assert_eq!(frames.iter().filter(|f| is_end(f)).count(), 1);
    assert_eq!(answer["outcome"], "ok", "{answer}");
    assert_eq!(answer["backend"], "b", "{answer}");
    assert_eq!(answer["failed_over"], true, "{answer}");
}

#[test]
fn a_connection_reset_before_the_first_line_fails_over() {
    let (frames, answer) = failing_first(|a| a.push(Reply::text("never").drop_after(0)), &[]);
    assert_failed_over(&frames, &answer);
}

#[test]
fn a_500_before_the_first_line_fails_over() {
    let (frames, answer) = failing_first(|a| a.push(Reply::error(500, "out of memory")), &[]);
    assert_failed_over(&frames, &answer);
}

#[test]
fn a_missing_model_fails_over() {
    let (frames, answer) = failing_first(|a| a.set_models(&[]), &[]);
    assert_failed_over(&frames, &answer);
}

#[test]
fn no_first_line_within_the_load_timeout_fails_over() {
    let hang = |a: &Ollama| a.push(Reply::text("too late").hang_before_first());
    let (frames, answer) = failing_first(hang, &[("load_timeout_secs", json!(0.5))]);
    assert_failed_over(&frames, &answer);
}

#[test]
fn a_backend_dying_mid_answer_cuts_only_its_own_buyer() {
    let (first, second) = (Ollama::start(), Ollama::start());
    let hub = Hub::start(TOKEN);
    let client = Client::start(&config(&[&first, &second], 1), &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    let dying = Reply::pieces(&["one ", "two ", "three"])
        .line_delay(Duration::from_millis(300))
        .drop_after(2);
    first.push(dying);
    hub.send_json(&buyer(&json!(1), "dies halfway"));
    assert!(first.wait_requests(1, WAIT));
    // `a` is busy with the first: the second goes to `b`.
    hub.send_json(&buyer(&json!(2), "unaffected"));
    let cut = streamed_answer(&hub, &json!(1));
    assert_eq!(text_of(&cut), "one two ");
    assert!(error_of(&cut).is_some(), "{cut:?}");
    assert!(is_end(cut.last().unwrap()), "{cut:?}");
    assert_eq!(cut.iter().filter(|f| is_end(f)).count(), 1);
    let whole = streamed_answer(&hub, &json!(2));
    assert_eq!(
        (text_of(&whole), error_of(&whole)),
        ("unaffected".into(), None)
    );
    assert_eq!(second.generate_requests().len(), 1, "nothing retried");
    wait_answers(&client, 2);
    let ran = ran_on(&client);
    assert_eq!(ran["1"], (json!("a"), false));
    assert_eq!(ran["2"], (json!("b"), false));
}

#[test]
fn all_backends_down_step_back_and_one_returning_reconnects() {
    let (first, second) = (Ollama::start(), Ollama::start());
    let hub = Hub::start(TOKEN);
    let client = Client::start(&config(&[&first, &second], 1), &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    let second_port = second.port();
    drop(first);
    drop(second);
    // The first request sets `a` aside and fails on `b` too; `b`, the last
    // one up, goes after `ollama_down_after` (3) failures in a row.
    for id in 1..=3 {
        hub.send_json(&buyer(&json!(id), "anyone?"));
        let frames = streamed_answer(&hub, &json!(id));
        assert_eq!(
            error_of(&frames).as_deref(),
            Some("Error: the owner's model server is not reachable"),
            "{id}: {}",
            client.output()
        );
    }
    assert!(hub.wait_close_frames(1, WAIT), "{}", client.output());
    assert_eq!(hub.close_frames()[0], Some(1000));
    assert!(
        client.wait_output("stepping back from the hub until it does", WAIT),
        "{}",
        client.output()
    );
    let disconnects = wait_events(&client, "disconnect", 1);
    let reason = disconnects[0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("no Ollama backend can serve"),
        "{reason}"
    );
    let back = Ollama::start_on(second_port).expect("the port again");
    assert!(hub.wait_connected(2, WAIT), "{}", client.output());
    hub.send_json(&buyer(&json!(4), "b is back"));
    assert_eq!(text_of(&streamed_answer(&hub, &json!(4))), "b is back");
    assert_eq!(back.generate_requests().len(), 1);
}

#[test]
fn the_original_clients_config_is_one_backend_exactly_as_before() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    // The Python client's keys, and nothing else.
    let config = json!({
        "token": TOKEN, "model": "llama3.2", "ollama_host": "127.0.0.1",
        "ollama_port": ollama.port(), "stream_mode": true,
    });
    let client = Client::start(&config, &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    ollama.push(Reply::error(500, "boom"));
    hub.send_json(&buyer(&json!(1), "first"));
    hub.send_json(&buyer(&json!(2), "second"));
    let failed = streamed_answer(&hub, &json!(1));
    assert!(error_of(&failed).is_some(), "no other backend: the error");
    assert_eq!(text_of(&streamed_answer(&hub, &json!(2))), "second");
    wait_answers(&client, 2);
    let name = format!("127.0.0.1:{}", ollama.port());
    let ran = ran_on(&client);
    assert_eq!(ran["1"], (json!(name), false));
    assert_eq!(ran["2"], (json!(name), false));
    let start = &ledger_events(client.home.path(), "start")[0];
    assert_eq!(start["settings"]["ollama"], ollama.url());
    assert_eq!(start["settings"].get("backends"), None);
    let output = client.output();
    assert!(!output.contains("backend"), "{output}");
    let started = format!(
        "model llama3.2 on {}, 1 worker(s), stream mode",
        ollama.url()
    );
    assert!(output.contains(&started), "{output}");
    assert_eq!(hub.connections(), 1, "a 500 does not step back");
}

#[test]
fn the_hub_chooses_neither_the_backend_nor_the_model_nor_the_options() {
    let (first, second) = (Ollama::start(), Ollama::start());
    let hub = Hub::start(TOKEN);
    let client = Client::start(&config(&[&first, &second], 1), &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    let mut request = buyer(&json!(1), "mine to choose");
    for (key, value) in [
        ("backend", json!("b")),
        ("ollama_host", json!("http://127.0.0.1:9")),
        ("model", json!("other")),
        ("options", json!({"num_predict": 99999})),
    ] {
        request[key] = value;
    }
    hub.send_json(&request);
    assert_eq!(text_of(&streamed_answer(&hub, &json!(1))), "mine to choose");
    // `a`: listed first, nothing running anywhere.
    let asked = first.generate_requests();
    assert_eq!((asked.len(), second.generate_requests().len()), (1, 0));
    let body = &asked[0].body;
    assert_eq!(body["model"], "llama3.2");
    assert_eq!(body.get("options"), None, "{body}");
}

#[test]
fn while_paused_no_backend_is_probed_and_the_resume_asks_at_once() {
    // One backend, down: it is asked every `ollama_probe_secs`, no backing
    // off, since nothing else serves.
    let dead = DeadOllama::start();
    let hub = Hub::start(TOKEN);
    let config = with(
        test_config(dead.port()),
        "ollama_probe_secs",
        json!(PROBE_SECS),
    );
    let client = Client::start(&config, &["--server", &hub.url()]);
    assert!(dead.wait_probes(3), "{}", client.output());
    let paused = support::client::Launch::in_home(client.home.path())
        .args(&["--pause"])
        .run(WAIT);
    assert_eq!(paused.code(), Some(0), "{}", paused.describe());
    let before = dead.probes();
    // Five probe intervals: a prober that went on would have asked 5 times.
    std::thread::sleep(Duration::from_secs_f64(PROBE_SECS * 5.0));
    assert!(dead.probes() <= before + 1, "one may have been under way");
    let asked = dead.probes();
    let resumed = support::client::Launch::in_home(client.home.path())
        .args(&["--resume"])
        .run(WAIT);
    assert_eq!(resumed.code(), Some(0), "{}", resumed.describe());
    assert!(dead.wait_probes(asked + 1), "{}", client.output());
    assert_eq!(hub.connections(), 0, "{}", client.output());
}

#[test]
fn a_retry_waiting_for_a_busy_backend_does_not_hold_new_requests_off_an_idle_one() {
    let (first, second) = (Ollama::start(), Ollama::start());
    // `a` thinks at once (its first line within the load timeout), then
    // takes a while over its answer.
    let slow = Reply::pieces(&["slow ", "one"])
        .thinking(&["hmm"])
        .line_delay(Duration::from_secs(2));
    first.push(slow);
    // `b` sends no first line in time: a timeout, which fails over but
    // says nothing about `b`'s health, so `b` stays up.
    second.push(Reply::text("never").hang_before_first());
    let hub = Hub::start(TOKEN);
    let config = config(&[&first, &second], 1);
    let config = with(config, "load_timeout_secs", json!(0.5));
    // A line of one: the retry fills it.
    let config = with(config, "queue_size", json!(1));
    let client = Client::start(&config, &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    hub.send_json(&buyer(&json!(1), "first"));
    assert!(first.wait_requests(1, WAIT), "{}", client.output());
    hub.send_json(&buyer(&json!(2), "second"));
    // 2 failed on `b` and waits in line for `a`, the one it may use.
    assert!(
        client.wait_output("trying another backend", WAIT),
        "{}",
        client.output()
    );
    hub.send_json(&buyer(&json!(3), "third"));
    let third = streamed_answer(&hub, &json!(3));
    assert_eq!(error_of(&third), None, "{}", client.output());
    assert_eq!(text_of(&third), "third");
    assert_eq!(text_of(&streamed_answer(&hub, &json!(1))), "slow one");
    assert_eq!(text_of(&streamed_answer(&hub, &json!(2))), "second");
    wait_answers(&client, 3);
    let ran = ran_on(&client);
    assert_eq!(ran["1"], (json!("a"), false), "{}", client.output());
    assert_eq!(ran["2"], (json!("a"), true));
    assert_eq!(ran["3"], (json!("b"), false));
}
