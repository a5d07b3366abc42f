//! Text from outside the process, end to end: a hub Close reason and a
//! frame that is not JSON (hub emulator), an Ollama error body (Ollama
//! emulator) and a tampered ledger read by `--stats` hold line breaks,
//! escape sequences, a bell and a carriage return. None of them may reach
//! the log file or the terminal raw: no forged log line, no live escape.

mod support;

use serde_json::json;
use support::answers::{buyer, error_of, streamed_answer, WAIT};
use support::client::{config_dir, log_dir, test_config, Client, Launch, TOKEN};
use support::hub::Hub;
use support::ollama::{Ollama, Reply};
use support::rig::Rig;

/// What a hostile peer puts in its words: a forged log line, a colour
/// change, a screen clear, a carriage return, a bell.
const FORGED_LINE: &str = "2026-01-01T00:00:00.000Z [ERROR] FORGED";

/// The characters that must never reach a log or a terminal raw.
fn assert_inert(what: &str, text: &str) {
    for raw in ['\u{1b}', '\r', '\u{7}', '\u{9b}', '\u{202e}'] {
        assert!(!text.contains(raw), "{what} holds {raw:?} raw:\n{text:?}");
    }
    for line in text.lines() {
        assert!(
            !line.starts_with(FORGED_LINE),
            "{what} has a forged line:\n{text}"
        );
    }
}

/// A Close frame from the server (unmasked) with `code` and `reason`.
fn close_frame(code: u16, reason: &str) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason.as_bytes());
    assert!(payload.len() < 126, "a short reason");
    let mut frame = vec![0x88, payload.len() as u8];
    frame.extend_from_slice(&payload);
    frame
}

fn log_file(rig: &Rig) -> String {
    std::fs::read_to_string(log_dir(rig.home()).join("client.log")).unwrap_or_default()
}

#[test]
fn the_hubs_and_ollamas_words_reach_the_log_and_terminal_escaped() {
    let rig = Rig::with(&[]);
    // Ollama's error body, then a line in the middle of a stream.
    let body = "out of memory\u{1b}[2J\r\u{7}\n2026-01-01T00:00:00.000Z [ERROR] FORGED";
    rig.ollama.push(Reply::error(500, body));
    rig.hub.send_json(&buyer(&json!(1), "hi"));
    let frames = streamed_answer(&rig.hub, &json!(1));
    assert!(error_of(&frames).is_some(), "{frames:?}");
    rig.ollama
        .push(Reply::pieces(&["a"]).error_after(1, "bad\u{9b}31m\u{202e}gpu"));
    rig.hub.send_json(&buyer(&json!(2), "hi"));
    streamed_answer(&rig.hub, &json!(2));
    assert!(
        rig.client.wait_output("gpu", WAIT),
        "{}",
        rig.client.output()
    );

    // A Close whose reason forges a line and changes the colour.
    let reason = format!("bye\n{FORGED_LINE}\u{1b}[31m\u{7}");
    rig.hub.send_raw(&close_frame(1000, &reason));
    assert!(rig.hub.wait_connected(2, WAIT), "{}", rig.client.output());
    assert!(
        rig.client.wait_output("FORGED", WAIT),
        "{}",
        rig.client.output()
    );
    let mut rig = rig;
    rig.client.terminate();
    assert!(
        rig.client.wait_exit(WAIT).is_some(),
        "{}",
        rig.client.output()
    );
    assert_inert("the console", &rig.client.output());
    let log = log_file(&rig);
    assert!(
        log.contains("out of memory\\u{1b}[2J\\r\\u{7}\\n2026"),
        "{log}"
    );
    assert!(log.contains("bad\\u{9b}31m\\u{202e}gpu"), "{log}");
    assert!(
        log.contains("bye\\n2026-01-01T00:00:00.000Z [ERROR] FORGED\\u{1b}[31m"),
        "{log}"
    );
    assert_inert("the log file", &log);
}

/// A messageId string may hold what JSON leaves raw (C1 controls, line
/// and paragraph separators, bidi marks): the log shows it escaped, and
/// the answer still goes back under that id.
#[test]
fn a_message_id_with_terminal_controls_is_logged_escaped() {
    let (hub, ollama) = (Hub::start(TOKEN), Ollama::start());
    let client = Client::start(&test_config(ollama.port()), &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    let id = json!("id\u{9b}31m\u{2028}\u{202e}x");
    hub.send_json(&buyer(&id, "hi"));
    let frames = streamed_answer(&hub, &id);
    assert!(!frames.is_empty());
    assert!(client.wait_output("answered", WAIT), "{}", client.output());
    let output = client.output();
    assert!(
        output.contains("request \"id\\u{9b}31m\\u{2028}\\u{202e}x\" received"),
        "{output}"
    );
    assert_inert("the console", &output);
    assert!(!output.contains('\u{2028}'), "{output:?}");
}

/// A frame that is not JSON is shown (with `--debug`) escaped.
#[test]
fn a_hub_frame_that_is_not_json_is_logged_escaped() {
    let (hub, ollama) = (Hub::start(TOKEN), Ollama::start());
    let config = test_config(ollama.port());
    let client = Client::start(&config, &["--server", &hub.url(), "--debug"]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    hub.send_text(&format!("not json\u{1b}]0;owned\u{7}\r\n{FORGED_LINE}"));
    assert!(client.wait_output("not json", WAIT), "{}", client.output());
    // Stopped, so that the log file holds everything the console shows.
    let mut client = client;
    client.terminate();
    assert!(client.wait_exit(WAIT).is_some(), "{}", client.output());
    assert_inert("the console", &client.output());
    let log =
        std::fs::read_to_string(log_dir(client.home.path()).join("client.log")).unwrap_or_default();
    assert!(
        log.contains("not json\\u{1b}]0;owned\\u{7}\\r\\n2026"),
        "{log}"
    );
    assert_inert("the log file", &log);
}

/// `--stats` on a ledger someone wrote control characters into.
#[test]
fn stats_shows_a_tampered_ledgers_words_escaped() {
    let launch = Launch::fresh();
    let dir = config_dir(launch.home());
    std::fs::create_dir_all(&dir).unwrap();
    let kind = format!("x\u{1b}[2J\r\u{7}\u{9b}\u{202e}\u{2028}\n{FORGED_LINE}");
    let line = json!({"ts": "2025-01-01T10:00:00.000Z", "event": "answer",
        "outcome": "error", "error": kind});
    std::fs::write(dir.join("ledger.jsonl"), format!("{line}\n")).unwrap();
    let out = launch
        .args(&["--stats", "--since", "2025-01-01T00:00:00Z"])
        .run(WAIT);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    assert!(
        out.stdout
            .contains("x\\u{1b}[2J\\r\\u{7}\\u{9b}\\u{202e}\\u{2028}"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains('\u{2028}'), "{}", out.stdout);
    assert_inert("--stats", &out.stdout);
    assert_inert("--stats", &out.stderr);
}
