//! The buyer's side of the hub emulator, shared by the end-to-end tests:
//! the `buyer_message` requests a test sends through [`Hub`], and reading
//! the client's answers back off it — the frames for one `messageId`, the
//! end marker of a streamed answer, the text of its pieces and its error.
//! Also the bound on every wait ([`WAIT`]) and a port nothing listens on
//! ([`closed_port`]), for an Ollama or hub that cannot be reached.
//!
//! Checks that only one test file makes (the shape of every frame, the
//! order of an error answer) stay in that file, built on these.

use std::net::TcpListener;
use std::time::Duration;

use serde_json::{json, Value};

use super::hub::{Hub, Received};

/// Every wait in the end-to-end tests is bounded by this.
pub const WAIT: Duration = Duration::from_secs(10);

/// A buyer's request `content` with message id `id`, in the client's
/// default stream mode.
pub fn buyer(id: &Value, content: &str) -> Value {
    json!({"type": "buyer_message", "content": content, "messageId": id})
}

/// A buyer's request that says whether it wants a streamed answer.
pub fn buyer_stream(id: &Value, content: &str, stream: bool) -> Value {
    json!({"type": "buyer_message", "content": content, "messageId": id, "stream": stream})
}

/// The frames received for request `id`, in order.
pub fn frames_for(received: &[Received], id: &Value) -> Vec<Value> {
    received
        .iter()
        .filter(|r| r.json["messageId"] == *id)
        .map(|r| r.json.clone())
        .collect()
}

/// Whether `frame` is a streamed answer's end marker.
pub fn is_end(frame: &Value) -> bool {
    frame["type"] == "finished_message_stream"
}

/// Waits (up to [`WAIT`]) for the end marker of the streamed answer to
/// `id`; returns all its frames in order.
pub fn streamed_answer(hub: &Hub, id: &Value) -> Vec<Value> {
    streamed_answer_within(hub, id, WAIT)
}

/// [`streamed_answer`] with its own bound on the wait.
pub fn streamed_answer_within(hub: &Hub, id: &Value, timeout: Duration) -> Vec<Value> {
    let received = hub.wait_for(timeout, |r| frames_for(r, id).iter().any(is_end));
    let frames = frames_for(&received, id);
    assert!(
        frames.iter().any(is_end),
        "no end marker for {id}: {frames:?}"
    );
    frames
}

/// The text of an answer's pieces (error frames and end marker excluded).
pub fn text_of(frames: &[Value]) -> String {
    frames
        .iter()
        .filter(|f| f["type"] == "from_owner" && f.get("error").is_none())
        .map(|f| f["content"].as_str().unwrap())
        .collect()
}

/// The text of an answer's error frame, if it has one.
pub fn error_of(frames: &[Value]) -> Option<String> {
    frames
        .iter()
        .find(|f| f["error"] == true)
        .map(|f| f["content"].as_str().unwrap().to_string())
}

/// A TCP port on 127.0.0.1 that nothing listens on.
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
