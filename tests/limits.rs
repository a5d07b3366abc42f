//! The owner's limits per request, end to end: the real binary between the
//! hub emulator and the Ollama emulator on 127.0.0.1. A prompt over
//! `max_prompt_chars` is refused without asking Ollama; `max_answer_tokens`
//! reaches Ollama as `options.num_predict`; a generation running past
//! `max_answer_secs` is cut, its Ollama request closed, and the buyer gets
//! the text so far and the error. Each ends up in the ledger with its kind.

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use support::answers::{
    buyer, buyer_stream, error_of, frames_for, is_end, streamed_answer, text_of, WAIT,
};
use support::client::{ledger_events, test_config, with, Input, Launch, TOKEN};
use support::hub::Hub;
use support::ollama::{Ollama, Reply};
use support::rig::Rig;

/// The ledger's answer lines, in order.
fn ledger_answers(home: &Path) -> Vec<Value> {
    ledger_events(home, "answer")
}

/// The ledger's answer line for `id`.
fn ledger_answer(home: &Path, id: &Value) -> Value {
    let answers = ledger_answers(home);
    let mut found = answers.iter().filter(|line| line["message_id"] == *id);
    let line = found.next().unwrap_or_else(|| panic!("{id}: {answers:?}"));
    assert!(found.next().is_none(), "{id} counted twice: {answers:?}");
    line.clone()
}

/// Waits for the one frame of a non-stream answer; checks that it is one.
fn only_frame(rig: &Rig, id: &Value) -> Value {
    let received = rig.hub.wait_for(WAIT, |r| !frames_for(r, id).is_empty());
    let frame = frames_for(&received, id).remove(0);
    // A later answer comes after anything the first could still send.
    let next = json!(format!("after-{id}"));
    rig.hub.send_json(&buyer_stream(&next, "next", true));
    streamed_answer(&rig.hub, &next);
    assert_eq!(
        frames_for(&rig.hub.received(), id),
        std::slice::from_ref(&frame)
    );
    frame
}

/// Checks a streamed error answer (pieces, the error frame, the end
/// marker); returns the error frame's text.
fn stream_error(frames: &[Value]) -> String {
    let (end, rest) = frames.split_last().expect("frames");
    assert!(is_end(end), "{frames:?}");
    let (error, pieces) = rest.split_last().expect("an error frame");
    assert_eq!(error["error"], true, "{frames:?}");
    assert_eq!(error["stream"], true, "{frames:?}");
    assert!(
        pieces.iter().all(|p| p.get("error").is_none()),
        "{frames:?}"
    );
    error["content"].as_str().unwrap().to_string()
}

// ------------------------------------------------------ max_prompt_chars

const TOO_LONG: &str = "Error: prompt too long (6 characters, this box accepts at most 5)";

#[test]
fn a_prompt_over_max_prompt_chars_is_refused_without_asking_ollama() {
    let rig = Rig::with(&[("max_prompt_chars", json!(5))]);
    // Six characters in twelve bytes: the limit counts characters.
    rig.hub.send_json(&buyer_stream(&json!(1), "éééééé", true));
    let frames = streamed_answer(&rig.hub, &json!(1));
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!(stream_error(&frames), TOO_LONG);
    rig.hub.send_json(&buyer_stream(&json!(2), "123456", false));
    let frame = only_frame(&rig, &json!(2));
    assert_eq!(frame["error"], true);
    assert!(frame.get("stream").is_none(), "{frame}");
    assert_eq!(frame["content"], TOO_LONG);
    // Exactly the limit runs: five characters in ten bytes.
    rig.hub.send_json(&buyer(&json!(3), "ééééé"));
    let frames = streamed_answer(&rig.hub, &json!(3));
    assert_eq!(text_of(&frames), "ééééé");
    assert_eq!(error_of(&frames), None);
    let prompts: Vec<Value> = rig
        .ollama
        .generate_requests()
        .iter()
        .map(|r| r.body["prompt"].clone())
        .collect();
    assert_eq!(prompts, [json!("next"), json!("ééééé")]);
    for id in [json!(1), json!(2)] {
        let line = ledger_answer(rig.client.home.path(), &id);
        assert_eq!(line["outcome"], "error", "{line}");
        assert_eq!(line["error"], "prompt_too_long", "{line}");
        assert_eq!(line["prompt_chars"], 6, "{line}");
        assert_eq!(line["pieces"], 0, "{line}");
    }
    let line = ledger_answer(rig.client.home.path(), &json!(3));
    assert_eq!(line["outcome"], "ok", "{line}");
    // The console is read by another thread, which may be behind the hub.
    let refused = "request 1 refused: prompt of 6 characters, max_prompt_chars is 5";
    assert!(
        rig.client.wait_output(refused, WAIT),
        "{}",
        rig.client.output()
    );
}

// ----------------------------------------------------- max_answer_tokens

/// The `options` Ollama got for one request, with `settings` in the config.
fn options_sent(settings: &[(&str, Value)]) -> Value {
    let rig = Rig::with(settings);
    rig.hub.send_json(&buyer(&json!(1), "hi"));
    streamed_answer(&rig.hub, &json!(1));
    let requests = rig.ollama.generate_requests();
    assert_eq!(requests.len(), 1);
    requests[0]
        .body
        .get("options")
        .cloned()
        .unwrap_or(Value::Null)
}

#[test]
fn max_answer_tokens_reaches_ollama_as_num_predict() {
    let limit = |n: u64| ("max_answer_tokens", json!(n));
    let options = |predict: Value| ("options", json!({"num_predict": predict, "top_k": 20}));
    let cases = [
        // The limit alone.
        (vec![limit(64)], json!({"num_predict": 64})),
        // The owner's lower one stays; a higher one gets the limit.
        (
            vec![limit(64), options(json!(32))],
            json!({"num_predict": 32, "top_k": 20}),
        ),
        (
            vec![limit(64), options(json!(4096))],
            json!({"num_predict": 64, "top_k": 20}),
        ),
        // -1 is "until stop" to Ollama: no limit, so the limit wins.
        (
            vec![limit(64), options(json!(-1))],
            json!({"num_predict": 64, "top_k": 20}),
        ),
        // No limit: the owner's options go as they are.
        (
            vec![limit(0), options(json!(-1))],
            json!({"num_predict": -1, "top_k": 20}),
        ),
        (vec![], Value::Null),
    ];
    for (settings, expected) in cases {
        assert_eq!(options_sent(&settings), expected, "{settings:?}");
    }
}

// ------------------------------------------------------- max_answer_secs

const CUT: &str = "Error: answer cut after 0.50 s (this box's limit)";

/// Forty pieces, one every 0.1 s: four seconds of answer, far past the
/// half second `max_answer_secs` allows in these tests.
fn slow_reply() -> (Reply, String) {
    let pieces: Vec<String> = (0..40).map(|i| format!("w{i} ")).collect();
    let reply = Reply::pieces(&pieces).line_delay(Duration::from_millis(100));
    (reply, pieces.concat())
}

/// Checks that `so_far` is a true beginning of `whole`, and not all of it.
fn assert_partial(so_far: &str, whole: &str) {
    assert!(!so_far.is_empty(), "nothing arrived before the cut");
    assert!(whole.starts_with(so_far), "{so_far:?}");
    assert!(so_far.len() < whole.len(), "the answer was not cut");
}

/// Checks the ledger line of a cut answer: its kind, and the pieces and
/// characters the buyer got before the cut.
fn assert_cut_recorded(home: &Path, id: &Value, so_far: &str) {
    let line = ledger_answer(home, id);
    assert_eq!(line["outcome"], "error", "{line}");
    assert_eq!(line["error"], "time_limit", "{line}");
    assert_eq!(line["answer_chars"], so_far.chars().count(), "{line}");
    let pieces = so_far.split_inclusive(' ').count();
    assert_eq!(line["pieces"], pieces, "{line}");
    // Counted from the request's arrival, which comes before its start on
    // Ollama, where the half second begins.
    assert!(
        line["total_ms"].as_u64().is_some_and(|ms| ms >= 500),
        "{line}"
    );
}

#[test]
fn a_streamed_answer_past_max_answer_secs_is_cut_and_ollama_stops() {
    let rig = Rig::with(&[("max_answer_secs", json!(0.5))]);
    let (reply, whole) = slow_reply();
    rig.ollama.push(reply);
    rig.hub.send_json(&buyer(&json!(1), "go on and on"));
    let frames = streamed_answer(&rig.hub, &json!(1));
    assert_eq!(stream_error(&frames), CUT);
    let so_far = text_of(&frames);
    assert_partial(&so_far, &whole);
    assert!(
        rig.ollama.wait_client_closed(1, WAIT),
        "the Ollama request was not closed"
    );
    assert_cut_recorded(rig.client.home.path(), &json!(1), &so_far);
    let failed = "request 1 failed: the answer was cut after 0.50 s";
    assert!(
        rig.client.wait_output(failed, WAIT),
        "{}",
        rig.client.output()
    );
    // The worker serves on, with a fresh connection.
    rig.hub.send_json(&buyer(&json!(2), "short one"));
    assert_eq!(text_of(&streamed_answer(&rig.hub, &json!(2))), "short one");
}

#[test]
fn a_non_stream_answer_past_max_answer_secs_is_one_error_frame_with_the_text_so_far() {
    let rig = Rig::with(&[
        ("max_answer_secs", json!(0.5)),
        ("stream_mode", json!(false)),
    ]);
    let (reply, whole) = slow_reply();
    rig.ollama.push(reply);
    rig.hub.send_json(&buyer(&json!(1), "go on and on"));
    let frame = only_frame(&rig, &json!(1));
    assert_eq!(frame["type"], "from_owner");
    assert_eq!(frame["error"], true, "{frame}");
    assert!(frame.get("stream").is_none(), "{frame}");
    let content = frame["content"].as_str().unwrap();
    let so_far = content
        .strip_prefix(&format!("{CUT}\n\n"))
        .unwrap_or_else(|| panic!("{content:?}"));
    assert_partial(so_far, &whole);
    assert!(rig.ollama.wait_client_closed(1, WAIT));
    assert_cut_recorded(rig.client.home.path(), &json!(1), so_far);
}

#[test]
fn without_a_time_limit_a_long_answer_runs_to_its_end() {
    let rig = Rig::with(&[("max_answer_secs", json!(0))]);
    let pieces: Vec<String> = (0..8).map(|i| format!("w{i} ")).collect();
    rig.ollama
        .push(Reply::pieces(&pieces).line_delay(Duration::from_millis(100)));
    rig.hub.send_json(&buyer(&json!(1), "go on"));
    let frames = streamed_answer(&rig.hub, &json!(1));
    assert_eq!(error_of(&frames), None);
    assert_eq!(text_of(&frames), pieces.concat());
}

// ------------------------------------------------------------- test mode

#[test]
fn test_mode_prompts_have_the_same_limits() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let config = with(test_config(ollama.port()), "max_prompt_chars", json!(5));
    let config = with(config, "max_answer_secs", json!(0.5));
    let (reply, _) = slow_reply();
    ollama.push(reply);
    let out = Launch::with_config(&config)
        .args(&["--test", "--server", &hub.url()])
        .stdin(Input::Bytes("éééééé\nslow\nexit\n".as_bytes().to_vec()))
        .run(WAIT);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    assert!(out.stdout.contains(TOO_LONG), "{}", out.stdout);
    let cut = "w0 ";
    let owner_cut = "Error: the answer was cut after 0.50 s (the max_answer_secs limit)";
    assert!(out.stdout.contains(cut), "{}", out.stdout);
    assert!(out.stdout.contains(owner_cut), "{}", out.stdout);
    let prompts: Vec<Value> = ollama
        .generate_requests()
        .iter()
        .map(|r| r.body["prompt"].clone())
        .collect();
    assert_eq!(prompts, [json!("slow")]);
    let kinds: Vec<Value> = ledger_answers(out.home())
        .iter()
        .map(|line| line["error"].clone())
        .collect();
    assert_eq!(kinds, [json!("prompt_too_long"), json!("time_limit")]);
}
