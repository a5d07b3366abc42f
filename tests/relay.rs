//! End-to-end tests of the relay: the real binary between the hub emulator
//! and the Ollama emulator, over real sockets on 127.0.0.1.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::answers::{buyer, buyer_stream, frames_for, is_end, streamed_answer, text_of, WAIT};
use support::client::{test_config, with, Client, TempDir, TOKEN};
use support::hub::{frame_text, Hub};
use support::ollama::{Ollama, Reply};
use support::rig::Rig;
use support::tls::TestCa;

/// Waits for the first frame of a non-stream answer.
fn single_answer(hub: &Hub, id: &Value) -> Value {
    let received = hub.wait_for(WAIT, |r| !frames_for(r, id).is_empty());
    frames_for(&received, id)
        .into_iter()
        .next()
        .expect("an answer frame")
}

/// The text of a streamed answer, checking the shape of every frame.
fn stream_text(frames: &[Value]) -> String {
    let (end, pieces) = frames.split_last().expect("frames");
    assert!(is_end(end), "the end marker must come last: {frames:?}");
    assert_eq!(end["content"], "");
    assert!(end.get("timestamp").and_then(Value::as_u64).is_some());
    let mut text = String::new();
    for piece in pieces {
        assert_eq!(piece["type"], "from_owner");
        assert_eq!(piece["stream"], true);
        assert!(
            piece.get("error").is_none(),
            "unexpected error frame: {piece}"
        );
        assert!(piece["timestamp"]
            .as_u64()
            .is_some_and(|t| t > 1_700_000_000_000));
        let content = piece["content"].as_str().expect("string content");
        assert!(!content.is_empty(), "empty pieces are not sent");
        text.push_str(content);
    }
    text
}

fn tricky_pieces() -> Vec<&'static str> {
    vec![
        "Hello",
        " ",
        "\n\n",
        "\t",
        "Привет",
        ", ",
        "мир",
        " 🦀",
        "👩‍👩‍👧",
        " \"quoted\"",
        " back\\slash",
        " <think>",
        "&amp;",
        "",
        "\u{2028}",
        "  ",
        "e\u{301}",
        "end",
        "\n",
    ]
}

#[test]
fn streamed_answer_is_byte_for_byte_ollamas_text() {
    let rig = Rig::start();
    let pieces = tricky_pieces();
    rig.ollama.push(Reply::pieces(&pieces));
    rig.hub
        .send_json(&buyer(&json!(42), "Why is the sky blue?"));
    let frames = streamed_answer(&rig.hub, &json!(42));
    assert_eq!(stream_text(&frames), pieces.concat());
    assert_eq!(frames.iter().filter(|f| is_end(f)).count(), 1);
    assert!(!rig.client.output().contains(TOKEN));
}

#[test]
fn non_stream_answer_is_one_frame_with_the_whole_text() {
    let rig = Rig::start();
    let pieces = tricky_pieces();
    rig.ollama.push(Reply::pieces(&pieces));
    rig.hub
        .send_json(&buyer_stream(&json!("req-7"), "hi", false));
    let frame = single_answer(&rig.hub, &json!("req-7"));
    assert_eq!(frame["type"], "from_owner");
    assert_eq!(frame["content"], pieces.concat());
    assert!(
        frame.get("stream").is_none() && frame.get("error").is_none(),
        "{frame}"
    );
    assert!(frame["timestamp"].as_u64().is_some());
    // A later request's answer arrives after anything the first could
    // still send: the first must have sent exactly one frame, no end marker.
    rig.hub.send_json(&buyer(&json!(2), "next"));
    streamed_answer(&rig.hub, &json!(2));
    assert_eq!(frames_for(&rig.hub.received(), &json!("req-7")).len(), 1);
}

#[test]
fn message_ids_are_echoed_with_their_json_type() {
    let rig = Rig::start();
    rig.hub.send_json(&buyer(&json!("42"), "a string id"));
    rig.hub.send_json(&buyer(&json!(42), "a number id"));
    rig.hub.send_json(&buyer(&json!(7.5), "a fractional id"));
    for id in [json!("42"), json!(42), json!(7.5)] {
        let frames = streamed_answer(&rig.hub, &id);
        assert!(frames.iter().all(|f| f["messageId"] == id), "{frames:?}");
    }
    let text = stream_text(&frames_for(&rig.hub.received(), &json!("42")));
    assert_eq!(text, "a string id");
}

#[test]
fn a_requests_stream_field_beats_the_stream_mode_setting() {
    let rig = Rig::with(&[("stream_mode", json!(false))]);
    rig.hub
        .send_json(&buyer(&json!(1), "default is non-stream"));
    let frame = single_answer(&rig.hub, &json!(1));
    assert_eq!(frame["content"], "default is non-stream");
    assert!(frame.get("stream").is_none());
    let gap = Duration::from_millis(30);
    rig.ollama
        .push(Reply::text("but this one streams").line_delay(gap));
    rig.hub
        .send_json(&buyer_stream(&json!(2), "but this one streams", true));
    let frames = streamed_answer(&rig.hub, &json!(2));
    assert_eq!(stream_text(&frames), "but this one streams");
    assert!(frames.len() > 2, "streamed in several pieces: {frames:?}");
}

#[test]
fn thinking_is_not_forwarded() {
    let rig = Rig::start();
    rig.ollama
        .push(Reply::pieces(&["The answer", " is 4."]).thinking(&["Let me think", "..."]));
    rig.hub.send_json(&buyer(&json!(1), "2+2?"));
    let frames = streamed_answer(&rig.hub, &json!(1));
    assert_eq!(stream_text(&frames), "The answer is 4.");
}

#[test]
fn ollama_gets_the_model_prompt_and_options_inside_options() {
    let rig = Rig::with(&[
        ("options", json!({"temperature": 0.1, "num_ctx": 2048})),
        ("keep_alive", json!("10m")),
    ]);
    rig.hub.send_json(&buyer(&json!(1), "first"));
    streamed_answer(&rig.hub, &json!(1));
    rig.hub.send_json(&buyer(&json!(2), "second"));
    streamed_answer(&rig.hub, &json!(2));
    let requests = rig.ollama.generate_requests();
    assert_eq!(requests.len(), 2);
    let body = &requests[0].body;
    assert_eq!(requests[0].path, "/api/generate");
    assert_eq!(body["model"], "llama3.2");
    assert_eq!(body["prompt"], "first");
    assert_eq!(body["stream"], true);
    assert_eq!(body["keep_alive"], "10m");
    assert_eq!(
        body["options"],
        json!({"temperature": 0.1, "num_ctx": 2048})
    );
    assert!(body.get("temperature").is_none());
    assert_eq!(
        requests[0].conn, requests[1].conn,
        "the connection to Ollama is reused"
    );
}

#[test]
fn environment_proxies_are_not_used_for_ollama() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let proxy = "http://127.0.0.1:9";
    let env = [
        ("HTTP_PROXY", proxy),
        ("http_proxy", proxy),
        ("ALL_PROXY", proxy),
    ];
    let client =
        Client::start_with_env(&test_config(ollama.port()), &["--server", &hub.url()], &env);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    hub.send_json(&buyer(&json!(1), "direct please"));
    assert_eq!(
        stream_text(&streamed_answer(&hub, &json!(1))),
        "direct please"
    );
}

#[test]
fn two_parallel_requests_interleave_without_mixing() {
    let rig = Rig::with(&[("max_parallel", json!(2))]);
    let a: Vec<String> = (0..8).map(|i| format!("a{i} ")).collect();
    let b: Vec<String> = (0..8).map(|i| format!("b{i} ")).collect();
    let delay = Duration::from_millis(40);
    rig.ollama.push(Reply::pieces(&a).line_delay(delay));
    rig.ollama.push(Reply::pieces(&b).line_delay(delay));
    rig.hub.send_json(&buyer(&json!("A"), "one"));
    assert!(rig.ollama.wait_requests(1, WAIT));
    rig.hub.send_json(&buyer(&json!("B"), "two"));
    let frames_a = streamed_answer(&rig.hub, &json!("A"));
    let frames_b = streamed_answer(&rig.hub, &json!("B"));
    assert_eq!(stream_text(&frames_a), a.concat());
    assert_eq!(stream_text(&frames_b), b.concat());
    let received = rig.hub.received();
    let positions = |id: &str| -> Vec<usize> {
        let ids = received.iter().enumerate();
        ids.filter(|(_, r)| r.json["messageId"] == id)
            .map(|(i, _)| i)
            .collect()
    };
    let (a_at, b_at) = (positions("A"), positions("B"));
    assert!(
        b_at[0] < a_at[a_at.len() - 1],
        "answers ran one after the other"
    );
}

#[test]
fn a_request_beyond_the_queue_is_answered_busy_at_once() {
    let rig = Rig::with(&[("max_parallel", json!(1)), ("queue_size", json!(1))]);
    rig.ollama
        .push(Reply::pieces(&["slow"]).first_delay(Duration::from_millis(800)));
    rig.hub.send_json(&buyer(&json!(1), "runs"));
    assert!(rig.ollama.wait_requests(1, WAIT));
    rig.hub.send_json(&buyer(&json!(2), "waits in the queue"));
    rig.hub.send_json(&buyer(&json!(3), "one too many"));
    let busy = streamed_answer(&rig.hub, &json!(3));
    assert_eq!(busy.len(), 2, "{busy:?}");
    assert_eq!(busy[0]["content"], "Error: busy");
    assert_eq!(busy[0]["error"], true);
    // The busy answer came before the running request finished.
    assert!(frames_for(&rig.hub.received(), &json!(1)).is_empty());
    assert_eq!(stream_text(&streamed_answer(&rig.hub, &json!(1))), "slow");
    assert_eq!(
        stream_text(&streamed_answer(&rig.hub, &json!(2))),
        "waits in the queue"
    );
}

/// Checks an error answer in stream mode: pieces (maybe), the error frame,
/// then the end marker. Returns the error text.
fn stream_error(frames: &[Value]) -> String {
    let n = frames.len();
    assert!(n >= 2, "{frames:?}");
    assert!(is_end(&frames[n - 1]));
    let error = &frames[n - 2];
    assert_eq!(error["type"], "from_owner");
    assert_eq!(error["error"], true);
    assert_eq!(error["stream"], true);
    let text = error["content"].as_str().unwrap().to_string();
    assert!(text.starts_with("Error: "), "{text}");
    text
}

/// Runs one failing reply, checks the buyer's error (`buyer`: parts it
/// has) and the owner's log (`log`: parts the details left there), then
/// checks that the client still answers the next request.
fn assert_failure_answered(
    rig: &Rig,
    id: i64,
    reply: Reply,
    buyer_sees: &[&str],
    log: &[&str],
) -> String {
    rig.ollama.push(reply);
    rig.hub.send_json(&buyer(&json!(id), "this fails"));
    let text = stream_error(&streamed_answer(&rig.hub, &json!(id)));
    for part in buyer_sees {
        assert!(text.contains(part), "{text:?} lacks {part:?}");
    }
    let logged = format!("request {id} failed: ");
    assert!(
        rig.client.wait_output(&logged, WAIT),
        "{}",
        rig.client.output()
    );
    let output = rig.client.output();
    let line = output
        .lines()
        .find(|l| l.contains(&logged))
        .unwrap_or_default();
    for part in log {
        assert!(line.contains(part), "{line:?} lacks {part:?}");
    }
    rig.hub
        .send_json(&buyer(&json!(id + 1000), "still serving"));
    assert_eq!(
        stream_text(&streamed_answer(&rig.hub, &json!(id + 1000))),
        "still serving"
    );
    text
}

#[test]
fn ollama_failures_are_answered_and_the_client_keeps_serving() {
    let rig = Rig::with(&[
        ("load_timeout_secs", json!(0.5)),
        ("idle_timeout_secs", json!(0.5)),
    ]);
    // (A missing model makes the box step back: tests/control.rs.)
    // Ollama's own error texts (which can name the owner's paths and
    // devices) go to the owner's log; the buyer learns the status.
    let text = "an error was encountered while running the model: CUDA out of memory";
    let seen = assert_failure_answered(&rig, 2, Reply::error(500, text), &["HTTP 500"], &[text]);
    assert!(!seen.contains("CUDA"), "{seen}");
    let busy = "server busy, please try again.  maximum pending requests exceeded";
    assert_failure_answered(&rig, 3, Reply::error(503, busy), &["HTTP 503"], &[busy]);
    // A 500 that mentions a model is not a missing model.
    let runner = "model runner not found";
    let seen = assert_failure_answered(
        &rig,
        10,
        Reply::error(500, runner),
        &["HTTP 500"],
        &[runner],
    );
    assert!(!seen.contains("not installed"), "{seen}");
    // A long error text is read whole, not lost.
    let long = "x".repeat(2000);
    assert_failure_answered(&rig, 11, Reply::error(500, &long), &["HTTP 500"], &[&long]);
    let mid = Reply::pieces(&["a", "b", "c"]).error_after(2, "runner crashed");
    let frames_text = assert_failure_answered(
        &rig,
        4,
        mid,
        &["the model failed while answering"],
        &["runner crashed"],
    );
    assert!(frames_text.starts_with("Error: "));
    assert_eq!(text_of(&frames_for(&rig.hub.received(), &json!(4))), "ab");
    assert_failure_answered(
        &rig,
        5,
        Reply::pieces(&["a", "b"]).garbage_after(1),
        &["cannot be relayed"],
        &["not valid JSON"],
    );
    assert_failure_answered(
        &rig,
        6,
        Reply::pieces(&["a", "b"]).no_done(),
        &["ended before"],
        &["ended before"],
    );
    assert_failure_answered(
        &rig,
        7,
        Reply::pieces(&["a", "b"]).drop_after(1),
        &["ended before"],
        &["ended before"],
    );
    let hang = Reply::pieces(&["a"]).hang_before_first();
    assert_failure_answered(
        &rig,
        8,
        hang,
        &["did not start answering within 0.50 s"],
        &["sent nothing for 0.50 s"],
    );
    let stall = Reply::pieces(&["a", "b", "c"]).hang_after(1);
    assert_failure_answered(
        &rig,
        9,
        stall,
        &["stopped answering for 0.50 s"],
        &["stopped answering for 0.50 s"],
    );
    assert!(
        rig.ollama.wait_client_closed(2, WAIT),
        "the hung requests were closed"
    );
    assert_eq!(rig.hub.connections(), 1, "the hub connection stayed up");
}

#[test]
fn non_stream_errors_are_one_error_frame() {
    let rig = Rig::with(&[("stream_mode", json!(false))]);
    rig.ollama.push(Reply::error(500, "runner crashed"));
    rig.hub.send_json(&buyer(&json!(1), "x"));
    let frame = single_answer(&rig.hub, &json!(1));
    assert_eq!(frame["error"], true);
    assert!(frame.get("stream").is_none());
    assert_eq!(
        frame["content"],
        "Error: the owner's model server failed (HTTP 500)"
    );
    rig.hub.send_json(&buyer(&json!(2), "y"));
    assert_eq!(single_answer(&rig.hub, &json!(2))["content"], "y");
    assert_eq!(frames_for(&rig.hub.received(), &json!(1)).len(), 1);
}

#[test]
fn ollama_unreachable_is_answered() {
    let Rig {
        hub,
        ollama,
        client,
    } = Rig::start();
    // Ollama goes away after the client connected (it waits for Ollama
    // before it connects); below `ollama_down_after` (3) failures in a row
    // the box stays connected and answers each buyer.
    let unreachable = ollama.port();
    drop(ollama);
    hub.send_json(&buyer(&json!(1), "anyone there?"));
    let text = stream_error(&streamed_answer(&hub, &json!(1)));
    assert_eq!(text, "Error: the owner's model server is not reachable");
    // The address and the system's error are for the owner alone.
    assert!(
        client.wait_output(
            &format!("Ollama is not reachable at http://127.0.0.1:{unreachable}"),
            WAIT
        ),
        "{}",
        client.output()
    );
    hub.send_json(&buyer_stream(&json!(2), "and without streaming?", false));
    let frame = single_answer(&hub, &json!(2));
    assert_eq!(frame["error"], true);
    assert_eq!(hub.connections(), 1);
}

#[test]
fn malformed_hub_frames_are_ignored_and_the_connection_stays_up() {
    let rig = Rig::with(&[("max_frame_bytes", json!(4096))]);
    rig.hub.send_text("this is not json");
    rig.hub.send_text("[1,2,3]");
    rig.hub.send_text(r#"{"content":"no type"}"#);
    rig.hub
        .send_text(r#"{"type":"buyer_message","content":"no id"}"#);
    rig.hub
        .send_text(r#"{"type":"buyer_message","content":"bad id","messageId":{"a":1}}"#);
    rig.hub
        .send_text(r#"{"type":"owner_status_update","status":"online"}"#);
    rig.hub.send_binary(&[0, 159, 146, 150]);
    let big = buyer(&json!(99), &"x".repeat(10_000)).to_string();
    rig.hub.send_raw(&frame_text(big.as_bytes()));
    rig.hub.send_json(&buyer(&json!(1), "still answered"));
    assert_eq!(
        stream_text(&streamed_answer(&rig.hub, &json!(1))),
        "still answered"
    );
    // The buyer behind a frame too large to run is told so, not left waiting.
    let refused = stream_error(&streamed_answer(&rig.hub, &json!(99)));
    assert!(
        refused.starts_with("Error: prompt too large (")
            && refused.ends_with("this box accepts at most 4096)"),
        "{refused}"
    );
    assert_eq!(rig.hub.connections(), 1);
    // The console is read by another thread, which may be behind the hub.
    for warning in [
        "not JSON",
        "not a JSON object",
        "\"type\"",
        "messageId",
        "binary",
        "max_frame_bytes",
    ] {
        assert!(
            rig.client.wait_output(warning, WAIT),
            "no warning mentioning {warning:?}:\n{}",
            rig.client.output()
        );
    }
}

#[test]
fn a_request_without_text_content_gets_an_error_answer() {
    let rig = Rig::start();
    rig.hub
        .send_json(&json!({"type": "buyer_message", "messageId": 5}));
    let text = stream_error(&streamed_answer(&rig.hub, &json!(5)));
    assert!(text.contains("no text content"), "{text}");
}

#[test]
fn the_hubs_pings_are_answered() {
    let rig = Rig::start();
    rig.hub.send_ping(b"hello");
    rig.hub.send_json(&buyer(&json!(1), "after the ping"));
    streamed_answer(&rig.hub, &json!(1));
    assert!(rig.hub.pongs() >= 1);
}

#[test]
fn tls_with_the_owners_ca_file_works() {
    let dir = TempDir::new();
    let ca = TestCa::new("hub-ca");
    let ca_path = ca.write_pem(dir.path());
    let ollama = Ollama::start();
    let hub = Hub::start_tls(TOKEN, &ca);
    assert!(hub.url().starts_with("wss://localhost:"));
    let ca_arg = ca_path.to_str().unwrap();
    let client = Client::start(
        &test_config(ollama.port()),
        &["--server", &hub.url(), "--ca-file", ca_arg],
    );
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    hub.send_json(&buyer(&json!(1), "over TLS"));
    assert_eq!(stream_text(&streamed_answer(&hub, &json!(1))), "over TLS");
}

#[test]
fn tls_with_ssl_cert_file_works() {
    let dir = TempDir::new();
    let ca = TestCa::new("env-ca");
    let ca_path = ca.write_pem(dir.path());
    let ollama = Ollama::start();
    let hub = Hub::start_tls(TOKEN, &ca);
    // An IP address in the URL is checked against the certificate's IP
    // names; "localhost" for Ollama resolves like the original config had it.
    let url = hub.url().replace("wss://localhost:", "wss://127.0.0.1:");
    let config = with(
        test_config(ollama.port()),
        "ollama_host",
        json!("localhost"),
    );
    let client = Client::start_with_env(
        &config,
        &["--server", &url],
        &[("SSL_CERT_FILE", ca_path.to_str().unwrap())],
    );
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    hub.send_json(&buyer(&json!(1), "trusted via env"));
    assert_eq!(
        stream_text(&streamed_answer(&hub, &json!(1))),
        "trusted via env"
    );
}

#[test]
fn an_https_ollama_trusted_through_the_ca_file_answers_buyers() {
    let dir = TempDir::new();
    let ca = TestCa::new("ollama-ca");
    let ca_path = ca.write_pem(dir.path());
    let ollama = Ollama::start_tls(&ca);
    let hub = Hub::start(TOKEN);
    let client = Client::start(
        &test_config(1),
        &[
            "--server",
            &hub.url(),
            "--ollama-host",
            &ollama.url(),
            "--ca-file",
            ca_path.to_str().unwrap(),
            "--debug",
        ],
    );
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    hub.send_json(&buyer(&json!(1), "over https"));
    assert_eq!(stream_text(&streamed_answer(&hub, &json!(1))), "over https");
    hub.send_json(&buyer_stream(&json!(2), "and again", false));
    assert_eq!(single_answer(&hub, &json!(2))["content"], "and again");
    // Both on one kept-alive TLS connection (the probes and the warm-up
    // before connecting to the hub use their own).
    let prompts = ollama.generate_requests();
    assert_eq!(prompts.len(), 2);
    assert_eq!(prompts[0].conn, prompts[1].conn);
    assert_eq!(ollama.tls_failures(), 0);
    let output = client.output();
    assert!(
        output.contains(&format!(
            "Ollama's https trusts only --ca-file {} (1 certificate)",
            ca_path.display()
        )),
        "{output}"
    );
    // rustls's own records (handshake details) stay out of the log, even
    // with --debug.
    for noise in ["ciphersuite", "resuming", "cached session"] {
        assert!(!output.contains(noise), "{noise}:\n{output}");
    }
}

#[test]
fn an_https_ollama_from_ollama_host_is_trusted_through_ssl_cert_file() {
    let dir = TempDir::new();
    let ca = TestCa::new("ollama-env-ca");
    let ca_path = ca.write_pem(dir.path());
    let ollama = Ollama::start_tls(&ca);
    let hub = Hub::start(TOKEN);
    let mut config = test_config(1);
    let fields = config.as_object_mut().unwrap();
    fields.remove("ollama_host");
    fields.remove("ollama_port");
    let ollama_host = ollama.url();
    let client = Client::start_with_env(
        &config,
        &["--server", &hub.url()],
        &[
            ("OLLAMA_HOST", ollama_host.as_str()),
            ("SSL_CERT_FILE", ca_path.to_str().unwrap()),
        ],
    );
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    hub.send_json(&buyer(&json!(1), "found through OLLAMA_HOST"));
    assert_eq!(
        stream_text(&streamed_answer(&hub, &json!(1))),
        "found through OLLAMA_HOST"
    );
    let output = client.output();
    assert!(
        output.contains(&format!("on https://127.0.0.1:{}", ollama.port())),
        "{output}"
    );
    assert!(output.contains("trusts only SSL_CERT_FILE"), "{output}");
}

#[test]
fn an_https_ollama_with_an_unknown_ca_is_not_reachable_and_the_log_says_why() {
    let ca = TestCa::new("private-ollama-ca");
    let ollama = Ollama::start_tls(&ca);
    let hub = Hub::start(TOKEN);
    // No CA file: only the bundled Mozilla roots, which never signed it.
    let client = Client::start(
        &test_config(1),
        &["--server", &hub.url(), "--ollama-host", &ollama.url()],
    );
    // The box never offers the hub an Ollama it cannot reach.
    assert!(
        client.wait_output("Ollama does not answer", WAIT),
        "{}",
        client.output()
    );
    let output = client.output();
    assert!(output.contains("UnknownIssuer"), "{output}");
    assert!(
        output.contains("not connecting to the hub until it does"),
        "{output}"
    );
    assert!(
        output.contains("Ollama's https trusts the bundled Mozilla roots only"),
        "{output}"
    );
    assert!(ollama.wait_tls_failures(1, WAIT));
    assert!(ollama.requests().is_empty());
    assert_eq!(hub.connections(), 0);
}

#[test]
fn a_hub_certificate_from_an_unknown_ca_is_refused_clearly() {
    let dir = TempDir::new();
    let hub_ca = TestCa::new("real-ca");
    let other_ca = TestCa::new("other-ca");
    let other_path = other_ca.write_pem(dir.path());
    let hub = Hub::start_tls(TOKEN, &hub_ca);
    let ollama = Ollama::start();
    let client = Client::start(
        &test_config(ollama.port()),
        &[
            "--server",
            &hub.url(),
            "--ca-file",
            other_path.to_str().unwrap(),
        ],
    );
    assert!(
        client.wait_output_count("unknown authority", 2, WAIT),
        "{}",
        client.output()
    );
    assert!(client.output().contains("--ca-file"));
    assert_eq!(hub.connections(), 0);
}

#[test]
fn a_rejected_token_is_reported_clearly_and_never_logged() {
    let hub = Hub::start("the-right-token");
    let ollama = Ollama::start();
    let client = Client::start(
        &test_config(ollama.port()),
        &["--server", &hub.url(), "--debug"],
    );
    assert!(hub.wait_rejected(1, WAIT));
    assert!(
        client.wait_output("rejected the token (HTTP 401)", WAIT),
        "{}",
        client.output()
    );
    let output = client.output();
    assert!(output.contains("--force-token"), "{output}");
    assert!(!output.contains(TOKEN), "the token leaked:\n{output}");
    let uri = hub.request_uris().into_iter().next().unwrap();
    assert!(uri.contains(&format!("token={TOKEN}")), "{uri}");
}

#[test]
fn plain_ws_to_a_remote_host_is_refused_before_connecting() {
    let mut client = Client::start(
        &test_config(1),
        &["--server", "ws://example.com/auth-proxy"],
    );
    let status = client.wait_exit(WAIT).expect("exits");
    assert_eq!(status.code(), Some(2));
    assert!(client.output().contains("loopback"), "{}", client.output());
}

#[test]
fn a_missing_token_stops_with_status_78() {
    let config = with(test_config(1), "token", Value::Null);
    let mut client = Client::start(&config, &["--server", "ws://127.0.0.1:9/auth-proxy"]);
    assert_eq!(client.wait_exit(WAIT).expect("exits").code(), Some(78));
    assert!(client.output().contains("token"), "{}", client.output());
}

#[test]
fn a_message_id_goes_back_byte_for_byte() {
    let rig = Rig::start();
    let big = "12345678901234567890123";
    rig.hub.send_text(&format!(
        r#"{{"type":"buyer_message","content":"big id","messageId":{big}}}"#
    ));
    let needle = format!(r#""messageId":{big},"#);
    let received = rig.hub.wait_for(WAIT, |r| {
        r.iter()
            .any(|f| f.text.contains(&needle) && f.text.contains("finished_message_stream"))
    });
    let frames: Vec<_> = received
        .iter()
        .filter(|f| f.text.contains(&needle))
        .collect();
    assert!(frames.len() >= 2, "{received:?}");
    let text: String = frames
        .iter()
        .filter_map(|f| f.json["content"].as_str())
        .collect();
    assert_eq!(text, "big id");
}

#[test]
fn a_frame_of_exactly_max_frame_bytes_is_run() {
    let rig = Rig::with(&[("max_frame_bytes", json!(4096))]);
    let bare = buyer(&json!(1), "").to_string().len();
    let prompt = "q".repeat(4096 - bare);
    let frame = buyer(&json!(1), &prompt).to_string();
    assert_eq!(frame.len(), 4096);
    rig.hub.send_text(&frame);
    assert_eq!(stream_text(&streamed_answer(&rig.hub, &json!(1))), prompt);
    // One byte more is too large.
    let over = buyer(&json!(2), &format!("{prompt}q")).to_string();
    rig.hub.send_text(&over);
    let refused = stream_error(&streamed_answer(&rig.hub, &json!(2)));
    assert!(
        refused.contains("(4097 bytes, this box accepts at most 4096)"),
        "{refused}"
    );
}
