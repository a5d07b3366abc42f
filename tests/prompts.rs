//! What the client does with a buyer's prompt before Ollama sees it: the
//! real binary between the hub emulator and the Ollama emulator.

mod support;

use serde_json::{json, Value};
use support::answers::{buyer, error_of, streamed_answer, text_of};
use support::client::ledger_events;
use support::ollama::Recorded;
use support::rig::Rig;

/// Every `POST /api/generate` the emulator received (loads included).
fn generates(requests: &[Recorded]) -> Vec<Value> {
    let generate = |r: &&Recorded| r.method == "POST" && r.path == "/api/generate";
    requests
        .iter()
        .filter(generate)
        .map(|r| r.body.clone())
        .collect()
}

#[test]
fn an_empty_prompt_is_answered_like_a_missing_one_and_never_reaches_ollama() {
    let rig = Rig::start();
    let before = generates(&rig.ollama.requests()).len();
    rig.hub.send_json(&buyer(&json!(5), ""));
    // Requests run in the order they came: once 6 is answered, 5 would
    // have reached Ollama before it.
    rig.hub.send_json(&buyer(&json!(6), "after"));
    let empty = streamed_answer(&rig.hub, &json!(5));
    assert_eq!(
        error_of(&empty).as_deref(),
        Some("Error: the request has no text content"),
        "{empty:?}"
    );
    assert_eq!(text_of(&streamed_answer(&rig.hub, &json!(6))), "after");
    let asked = generates(&rig.ollama.requests());
    let prompts: Vec<&Value> = asked[before..].iter().map(|b| &b["prompt"]).collect();
    assert_eq!(prompts, [&json!("after")], "{}", rig.client.output());
    // Counted before its frames went out; the id as text or as the number.
    let answers = ledger_events(rig.home(), "answer");
    let first = answers
        .iter()
        .find(|a| a["message_id"] == "5" || a["message_id"] == 5);
    assert_eq!(
        first.map(|a| &a["error"]),
        Some(&json!("bad_request")),
        "{answers:?}"
    );
}
