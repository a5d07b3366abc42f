//! The box steps back from the hub while Ollama cannot serve, and warms
//! the model up before it offers itself: the real binary between the hub
//! emulator and the Ollama emulator (or a port where Ollama is down).

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::answers::{buyer, closed_port, error_of, streamed_answer, text_of, WAIT};
use support::client::{ledger_events, ledger_lines, test_config, with, Client, TOKEN};
use support::dead::DeadOllama;
use support::hub::Hub;
use support::ollama::{Ollama, DEFAULT_MODELS};

/// How often the client asks a down Ollama, in these tests.
const PROBE_SECS: f64 = 0.3;

fn config(ollama_port: u16) -> Value {
    with(
        test_config(ollama_port),
        "ollama_probe_secs",
        json!(PROBE_SECS),
    )
}

/// Waits until the client's output holds `needle`.
fn wait_log(client: &Client, needle: &str) {
    assert!(
        client.wait_output(needle, WAIT),
        "{needle}:\n{}",
        client.output()
    );
}

#[test]
fn three_unreachable_requests_in_a_row_step_back_until_ollama_answers_again() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let client = Client::start(&config(ollama.port()), &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    let port = ollama.port();
    drop(ollama);
    let dead = DeadOllama::on(port);
    // Five at once: three fail and step back; the two still queued then get
    // the same error without asking Ollama again.
    for id in 1..=5 {
        hub.send_json(&buyer(&json!(id), "anyone there?"));
    }
    for id in 1..=5 {
        let frames = streamed_answer(&hub, &json!(id));
        assert_eq!(
            error_of(&frames).as_deref(),
            Some("Error: the owner's model server is not reachable"),
            "{id}"
        );
    }
    assert!(hub.wait_close_frames(1, WAIT), "{}", client.output());
    assert_eq!(hub.close_frames()[0], Some(1000));
    wait_log(&client, "stepping back from the hub until it does");
    // Several probes, nothing else: no reconnect, one warning.
    assert!(dead.wait_probes(3), "{}", client.output());
    assert_eq!(hub.connections(), 1);
    drop(dead);
    let back = Ollama::start_on(port).expect("the port again");
    let returned = Instant::now();
    let within = Duration::from_secs_f64(PROBE_SECS) + Duration::from_secs(2);
    assert!(hub.wait_connected(2, within), "{}", client.output());
    assert!(returned.elapsed() <= within);
    hub.send_json(&buyer(&json!(6), "back again"));
    assert_eq!(text_of(&streamed_answer(&hub, &json!(6))), "back again");
    let output = client.output();
    assert_eq!(
        output.matches("stepping back from the hub").count(),
        1,
        "{output}"
    );
    assert_eq!(
        output.matches("Ollama answers again").count(),
        1,
        "{output}"
    );
    // Coming back warms the model up again.
    assert_eq!(back.load_requests().len(), 1);
    let disconnects = ledger_events(client.home.path(), "disconnect");
    assert_eq!(
        disconnects[0]["reason"], "3 requests in a row could not reach Ollama",
        "{disconnects:?}"
    );
}

#[test]
fn fewer_failures_than_ollama_down_after_keep_the_box_connected() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let config = with(config(ollama.port()), "ollama_down_after", json!(2));
    let client = Client::start(&config, &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    let port = ollama.port();
    drop(ollama);
    hub.send_json(&buyer(&json!(1), "one failure"));
    assert!(error_of(&streamed_answer(&hub, &json!(1))).is_some());
    // Ollama is back before the second failure: the count starts over.
    let _back = Ollama::start_on(port).expect("the port again");
    hub.send_json(&buyer(&json!(2), "a success"));
    assert_eq!(text_of(&streamed_answer(&hub, &json!(2))), "a success");
    assert_eq!(hub.connections(), 1);
    assert!(hub.close_frames().is_empty());
    assert!(!client.output().contains("stepping back"));
}

#[test]
fn a_model_removed_from_ollama_steps_back_and_tells_the_owner_to_pull_it() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let client = Client::start(&config(ollama.port()), &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    ollama.set_models(&["qwen3:8b"]);
    hub.send_json(&buyer(&json!(1), "hello?"));
    assert_eq!(
        error_of(&streamed_answer(&hub, &json!(1))).as_deref(),
        Some("Error: model 'llama3.2' is not installed on this box")
    );
    assert!(hub.wait_close_frames(1, WAIT), "{}", client.output());
    assert_eq!(hub.close_frames()[0], Some(1000));
    wait_log(&client, "ollama pull llama3.2");
    // Probes find the model still missing: no reconnect.
    assert!(ollama.wait_path("/api/tags", 3, WAIT));
    assert_eq!(hub.connections(), 1);
    ollama.set_models(&DEFAULT_MODELS);
    assert!(hub.wait_connected(2, WAIT), "{}", client.output());
    hub.send_json(&buyer(&json!(2), "there it is"));
    assert_eq!(text_of(&streamed_answer(&hub, &json!(2))), "there it is");
    let disconnects = ledger_events(client.home.path(), "disconnect");
    assert_eq!(
        disconnects[0]["reason"], "Ollama does not have the model llama3.2",
        "{disconnects:?}"
    );
    let output = client.output();
    let warning = "(install it: ollama pull llama3.2); stepping back";
    assert_eq!(output.matches(warning).count(), 1, "{output}");
}

#[test]
fn at_start_the_hub_waits_until_ollama_answers() {
    let port = closed_port();
    let hub = Hub::start(TOKEN);
    let client = Client::start(&config(port), &["--server", &hub.url()]);
    wait_log(&client, "not connecting to the hub until it does");
    let dead = DeadOllama::on(port);
    assert!(dead.wait_probes(2), "{}", client.output());
    assert_eq!(hub.connections(), 0);
    drop(dead);
    let ollama = Ollama::start_on(port).expect("the port again");
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    // The model was loaded before the hub saw the box.
    assert_eq!(ollama.load_requests().len(), 1);
    hub.send_json(&buyer(&json!(1), "first buyer"));
    assert_eq!(text_of(&streamed_answer(&hub, &json!(1))), "first buyer");
    // The start line was written when Ollama was still down.
    let start = &ledger_events(client.home.path(), "start")[0];
    assert_eq!(start["warm_up_ms"], Value::Null, "{start}");
}

#[test]
fn the_warm_up_loads_the_model_before_the_hub_sees_a_connection() {
    let ollama = Ollama::start();
    ollama.set_load_delay(Duration::from_millis(500));
    let hub = Hub::start(TOKEN);
    let config = with(config(ollama.port()), "keep_alive", json!("10m"));
    let client = Client::start(&config, &["--server", &hub.url()]);
    assert!(ollama.wait_loads(1, WAIT), "{}", client.output());
    // The load takes half a second, and the client waits for it.
    assert_eq!(hub.connections(), 0);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    let load = &ollama.load_requests()[0];
    assert_eq!(load.body["model"], "llama3.2");
    assert_eq!(load.body["keep_alive"], "10m");
    assert!(ollama.generate_requests().is_empty());
    wait_log(&client, "warm-up: model llama3.2 loaded in");
    let start = &ledger_events(client.home.path(), "start")[0];
    let took = start["warm_up_ms"]
        .as_u64()
        .unwrap_or_else(|| panic!("{start}"));
    assert!(took >= 500, "{start}");
}

#[test]
fn without_warm_up_no_model_is_loaded() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let config = with(config(ollama.port()), "warm_up", json!(false));
    let client = Client::start(&config, &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    // It still asked whether Ollama answers and has the model.
    assert!(ollama.wait_path("/api/tags", 1, WAIT));
    assert!(ollama.load_requests().is_empty());
    let start = &ledger_events(client.home.path(), "start")[0];
    assert_eq!(start["warm_up_ms"], Value::Null, "{start}");
}

/// Runs `ollama-proxy-client ARGS` as the owner of the client in `home`.
fn owner(home: &Path, args: &[&str]) -> support::client::Finished {
    support::client::Launch::in_home(home).args(args).run(WAIT)
}

#[test]
fn a_pause_lets_the_running_answer_finish_refuses_newcomers_then_steps_back() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let client = Client::start(&config(ollama.port()), &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    let running: Vec<String> = (0..12).map(|i| format!("p{i} ")).collect();
    let slow = support::ollama::Reply::pieces(&running).line_delay(Duration::from_millis(100));
    ollama.push(slow);
    hub.send_json(&buyer(&json!(1), "a long one"));
    hub.wait_for(WAIT, |r| {
        !support::answers::frames_for(r, &json!(1)).is_empty()
    });
    let paused = owner(client.home.path(), &["--pause"]);
    assert_eq!(paused.code(), Some(0), "{}", paused.describe());
    // Arrives while the first answer is still running.
    hub.send_json(&buyer(&json!(2), "too late"));
    assert_eq!(
        error_of(&streamed_answer(&hub, &json!(2))).as_deref(),
        Some("Error: owner paused")
    );
    let first = streamed_answer(&hub, &json!(1));
    assert_eq!(text_of(&first), running.concat());
    assert!(error_of(&first).is_none(), "{first:?}");
    // Only then the Close, and no reconnect while paused.
    assert!(hub.wait_close_frames(1, WAIT), "{}", client.output());
    assert_eq!(hub.close_frames()[0], Some(1000));
    assert_eq!(hub.connections(), 1);
    assert_eq!(
        ollama.generate_requests().len(),
        1,
        "the refused one never ran"
    );
    let resumed = owner(client.home.path(), &["--resume"]);
    assert_eq!(resumed.code(), Some(0), "{}", resumed.describe());
    assert!(hub.wait_connected(2, WAIT), "{}", client.output());
    hub.send_json(&buyer(&json!(3), "welcome back"));
    assert_eq!(text_of(&streamed_answer(&hub, &json!(3))), "welcome back");
    let home = client.home.path();
    let refused = ledger_lines(home)
        .into_iter()
        .find(|l| l["message_id"] == 2);
    assert_eq!(refused.map(|l| l["error"].clone()), Some(json!("paused")));
    assert_eq!(ledger_events(home, "pause")[0]["until"], Value::Null);
    assert_eq!(ledger_events(home, "resume").len(), 1);
    let disconnects = ledger_events(home, "disconnect");
    assert_eq!(disconnects[0]["reason"], "paused by the owner");
    let output = client.output();
    assert!(
        output.contains("paused by the owner (until --resume)"),
        "{output}"
    );
    assert!(
        output.contains("hub connection #1 closed: paused by the owner"),
        "{output}"
    );
    // The start line records the settings that matter for reading on.
    let start = &ledger_events(home, "start")[0];
    assert_eq!(start["settings"]["max_parallel"], 1, "{start}");
    assert_eq!(start["settings"]["stream_mode"], true, "{start}");
}
