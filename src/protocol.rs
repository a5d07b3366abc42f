//! The hub's wire format (`../shared/protocol.md`): what a text frame from
//! the hub means, and the exact JSON of every frame this client sends.
//!
//! Incoming frames are parsed leniently into [`Incoming`]: anything that is
//! not a usable `buyer_message` becomes a variant that says why, so the
//! reader can log it at the right level and carry on. Outgoing frames are
//! written by hand into a `String`, because they are built once per piece of
//! every answer (the hottest path in the program) and their shape is fixed.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

use serde_json::value::RawValue;

use crate::time::Millis;

/// A buyer's `messageId`, kept as the JSON text it arrived as (`42`,
/// `"abc"`), so that it goes back with the same type and value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageId(Arc<str>);

impl MessageId {
    /// The id of prompts typed in `--test` mode.
    pub fn test_mode() -> MessageId {
        MessageId(Arc::from("-1"))
    }

    /// From the id's JSON text as it stood in the frame: a number or a
    /// string, kept byte for byte (so `12345678901234567890123` or `4.20`
    /// go back unchanged, which a parsed number would not guarantee).
    pub fn from_raw(raw: &str) -> Option<MessageId> {
        let raw = raw.trim();
        let number_or_string = matches!(raw.as_bytes().first(), Some(b'"' | b'-' | b'0'..=b'9'));
        number_or_string.then(|| MessageId(Arc::from(raw)))
    }

    pub fn as_json(&self) -> &str {
        &self.0
    }

    /// The id for a log line: its JSON text, with what could drive a
    /// terminal escaped (JSON leaves C1 controls, U+2028 and bidi marks
    /// raw inside a string).
    pub fn shown(&self) -> String {
        crate::text::outside(&self.0)
    }
}

/// A buyer's request, as the hub sent it.
#[derive(Debug, PartialEq)]
pub struct BuyerMessage {
    pub message_id: MessageId,
    pub prompt: String,
    /// The request's own choice of stream mode, when it made one.
    pub stream: Option<bool>,
}

/// What one text frame from the hub turned out to be.
#[derive(Debug, PartialEq)]
pub enum Incoming {
    /// A request to answer.
    Buyer(BuyerMessage),
    /// A `buyer_message` whose id is fine but whose `content` is missing,
    /// not a string, or the empty string (which Ollama reads as "load the
    /// model", answering nothing: a hub could make the box load models at
    /// will): it is answered with an error. A prompt of spaces is text,
    /// and runs.
    Unanswerable { message_id: MessageId },
    /// Another `type` the hub uses for its own purposes (debug level).
    Other { kind: String },
    /// Not something this protocol allows (warning level).
    Malformed { reason: &'static str },
}

/// Reads one text frame from the hub. Fields are read from the raw JSON
/// text of the object, so that `messageId` can be echoed exactly.
pub fn parse_incoming(text: &str) -> Incoming {
    let fields: HashMap<String, &RawValue> = match serde_json::from_str(text) {
        Ok(fields) => fields,
        Err(_) if serde_json::from_str::<&RawValue>(text).is_ok() => {
            return Incoming::Malformed {
                reason: "not a JSON object",
            }
        }
        Err(_) => return Incoming::Malformed { reason: "not JSON" },
    };
    let field = |name: &str| fields.get(name).map(|raw| raw.get());
    let Some(kind) = field("type").and_then(|raw| serde_json::from_str::<String>(raw).ok()) else {
        return Incoming::Malformed {
            reason: "no string field \"type\"",
        };
    };
    if kind != "buyer_message" {
        return Incoming::Other { kind };
    }
    let Some(message_id) = field("messageId").and_then(MessageId::from_raw) else {
        return Incoming::Malformed {
            reason: "buyer_message without a number or string \"messageId\"",
        };
    };
    let prompt = field("content").and_then(|raw| serde_json::from_str::<String>(raw).ok());
    let Some(prompt) = prompt.filter(|prompt| !prompt.is_empty()) else {
        return Incoming::Unanswerable { message_id };
    };
    Incoming::Buyer(BuyerMessage {
        message_id,
        prompt,
        stream: field("stream").and_then(|raw| serde_json::from_str::<bool>(raw).ok()),
    })
}

/// The `messageId` of a `buyer_message` frame, read without decoding its
/// content: for a frame too large to run, whose buyer must still be told.
pub fn buyer_message_id(text: &str) -> Option<MessageId> {
    let fields: HashMap<String, &RawValue> = serde_json::from_str(text).ok()?;
    let kind = serde_json::from_str::<String>(fields.get("type")?.get()).ok()?;
    if kind != "buyer_message" {
        return None;
    }
    MessageId::from_raw(fields.get("messageId")?.get())
}

/// What a frame to the hub says; its `messageId` and timestamp are added
/// when it is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    /// One piece of a streamed answer (`from_owner`, `"stream":true`).
    Piece,
    /// A whole answer in non-stream mode (`from_owner`).
    Whole,
    /// An error answer (`from_owner`, `"error":true`); `stream` says
    /// whether the request was in stream mode.
    Error { stream: bool },
    /// The end marker of a streamed answer (`finished_message_stream`).
    End,
}

/// One complete frame as JSON text; `timestamp` is milliseconds since
/// the Unix epoch.
pub fn write_frame(
    kind: FrameKind,
    message_id: &MessageId,
    content: &str,
    timestamp: Millis,
) -> String {
    let frame_type = match kind {
        FrameKind::End => "finished_message_stream",
        _ => "from_owner",
    };
    // serde_json's escaping is exact and fast; a String is always valid UTF-8.
    let content = serde_json::to_string(content).unwrap_or_else(|_| "\"\"".into());
    let id = message_id.as_json();
    let mut out = String::with_capacity(content.len() + 128);
    // Writing into a String cannot fail.
    let _ = write!(
        out,
        r#"{{"type":"{frame_type}","content":{content},"messageId":{id},"timestamp":{timestamp}"#
    );
    if let FrameKind::Piece | FrameKind::Error { stream: true } = kind {
        out.push_str(r#","stream":true"#);
    }
    if let FrameKind::Error { .. } = kind {
        out.push_str(r#","error":true"#);
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn an_unanswerable_request_is_logged_in_english_and_told_in_either_language() {
        let reason = crate::text::errors::buyer_no_text_content();
        assert_eq!(reason.english(), "the request has no text content");
        assert_eq!(
            reason.in_lang(crate::text::Lang::Ru),
            "в запросе нет текста"
        );
    }

    use super::*;
    use serde_json::Value;

    fn frame(kind: FrameKind, id: &MessageId, content: &str) -> Value {
        serde_json::from_str(&write_frame(kind, id, content, 1764000000123)).unwrap()
    }

    #[test]
    fn buyer_message_with_number_and_string_ids() {
        let Incoming::Buyer(m) = parse_incoming(
            r#"{"type":"buyer_message","content":"hi","messageId":42,"stream":false}"#,
        ) else {
            panic!("not a buyer message")
        };
        assert_eq!(m.message_id.as_json(), "42");
        assert_eq!(m.stream, Some(false));
        let Incoming::Buyer(m) =
            parse_incoming(r#"{"type":"buyer_message","content":"hi","messageId":"a-1"}"#)
        else {
            panic!("not a buyer message")
        };
        assert_eq!(m.message_id.as_json(), "\"a-1\"");
        assert_eq!(m.stream, None);
    }

    #[test]
    fn message_ids_are_kept_exactly_as_sent() {
        for raw in [
            "12345678901234567890123",
            "4.20",
            "-0",
            "1e3",
            "\"\\u0041b\"",
        ] {
            let text = format!(r#"{{"type":"buyer_message","content":"x","messageId":{raw}}}"#);
            let Incoming::Buyer(m) = parse_incoming(&text) else {
                panic!("{text}")
            };
            assert_eq!(m.message_id.as_json(), raw);
        }
        for bad in ["true", "null", "[1]", "{}"] {
            let text = format!(r#"{{"type":"buyer_message","content":"x","messageId":{bad}}}"#);
            assert!(
                matches!(parse_incoming(&text), Incoming::Malformed { .. }),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_id_of_a_frame_too_large_to_run() {
        let big = format!(
            r#"{{"type":"buyer_message","content":"{}","messageId":"b-7"}}"#,
            "x".repeat(5000)
        );
        assert_eq!(buyer_message_id(&big), MessageId::from_raw("\"b-7\""));
        let other = r#"{"type":"notice","content":"x","messageId":3}"#;
        assert_eq!(buyer_message_id(other), None);
        assert_eq!(
            buyer_message_id(r#"{"type":"buyer_message","messageId":null}"#),
            None
        );
        assert_eq!(buyer_message_id(r#"{"type":"buyer_message"}"#), None);
        assert_eq!(buyer_message_id("not json"), None);
        assert_eq!(buyer_message_id(r#"{"type":7,"messageId":1}"#), None);
    }

    #[test]
    fn malformed_and_other_frames() {
        assert!(matches!(parse_incoming("nope"), Incoming::Malformed { .. }));
        assert!(matches!(parse_incoming("[1]"), Incoming::Malformed { .. }));
        assert!(matches!(
            parse_incoming(r#"{"content":"x"}"#),
            Incoming::Malformed { .. }
        ));
        assert!(matches!(
            parse_incoming(r#"{"type":"buyer_message","content":"x"}"#),
            Incoming::Malformed { .. }
        ));
        assert!(matches!(
            parse_incoming(r#"{"type":"buyer_message","content":"x","messageId":null}"#),
            Incoming::Malformed { .. }
        ));
        assert_eq!(
            parse_incoming(r#"{"type":"system","message":"hello"}"#),
            Incoming::Other {
                kind: "system".into()
            }
        );
        for no_text in [
            r#"{"type":"buyer_message","messageId":7}"#,
            r#"{"type":"buyer_message","messageId":7,"content":7}"#,
            r#"{"type":"buyer_message","messageId":7,"content":""}"#,
        ] {
            assert_eq!(
                parse_incoming(no_text),
                Incoming::Unanswerable {
                    message_id: MessageId::from_raw("7").unwrap(),
                },
                "{no_text}"
            );
        }
        let spaces = parse_incoming(r#"{"type":"buyer_message","messageId":7,"content":" "}"#);
        assert!(matches!(spaces, Incoming::Buyer(b) if b.prompt == " "));
    }

    #[test]
    fn outgoing_frames_have_the_protocol_shapes() {
        let id = MessageId::from_raw("42").unwrap();
        assert_eq!(
            frame(FrameKind::Piece, &id, " \n"),
            serde_json::json!({"type":"from_owner","content":" \n","messageId":42,
                               "timestamp":1764000000123u64,"stream":true})
        );
        assert_eq!(
            frame(FrameKind::End, &id, ""),
            serde_json::json!({"type":"finished_message_stream","content":"","messageId":42,
                               "timestamp":1764000000123u64})
        );
        assert_eq!(
            frame(FrameKind::Whole, &id, "all"),
            serde_json::json!({"type":"from_owner","content":"all","messageId":42,
                               "timestamp":1764000000123u64})
        );
        let sid = MessageId::from_raw("\"x\"").unwrap();
        assert_eq!(
            frame(FrameKind::Error { stream: true }, &sid, "Error: busy"),
            serde_json::json!({"type":"from_owner","content":"Error: busy","messageId":"x",
                               "timestamp":1764000000123u64,"stream":true,"error":true})
        );
    }

    #[test]
    fn tricky_text_survives_the_round_trip() {
        let id = MessageId::test_mode();
        let text = "\"q\" \\ \t\n\u{2028} <tag> Привет 🦀 \u{0}";
        assert_eq!(frame(FrameKind::Piece, &id, text)["content"], text);
        assert_eq!(frame(FrameKind::Piece, &id, text)["messageId"], -1);
    }
}
