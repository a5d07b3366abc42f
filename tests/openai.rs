//! OpenAI-compatible backends end to end: the real binary between the hub
//! emulator and the OpenAI-compatible server emulator (`support::openai`),
//! over real sockets on 127.0.0.1. One test per quirk of the servers as
//! they really speak (`shared/openai-api.md`): each asserts what the buyer
//! got (frames), what the owner's ledger says, and what the server was
//! asked.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::answers::{
    buyer, error_of, frames_for, is_end, streamed_answer_within, text_of, WAIT,
};
use support::client::{
    config_dir, ledger_events, ledger_lines, test_config, with, write_config, Client, Finished,
    Launch, TOKEN,
};
use support::hub::Hub;
use support::openai::{self, chunk, timings_json, OpenAi, Recorded, Reply, MS_PER_TOKEN};

/// A model named the way vLLM names them: with its organisation.
const MODEL: &str = "org/Tiny-1B-Instruct";
/// The bearer key the server wants.
const KEY: &str = "sk-emu-7f3b9a1c5d2e";
/// How often the client asks a backend that is down, in these tests.
const PROBE_SECS: f64 = 0.2;

/// A server emulator that lists [`MODEL`].
fn server() -> OpenAi {
    OpenAi::with_models(&[MODEL])
}

/// An `ollama_hosts` entry for `server`, named `name`, with `more` keys.
fn entry(server: &OpenAi, name: &str, more: Value) -> Value {
    let mut entry = json!({"url": server.url(), "api": "openai", "model": MODEL, "name": name});
    for (key, value) in more.as_object().into_iter().flatten() {
        entry[key] = value.clone();
    }
    entry
}

/// A client whose backends are `entries`, with `settings` on top of the
/// test config; its config written in a fresh `HOME`, where `key` (if any)
/// is the first line of `server.key` (`api_key_file`: `"KEY_FILE"`).
fn launch(entries: Vec<Value>, settings: &[(&str, Value)], key: Option<&str>) -> Launch {
    let launch = Launch::fresh();
    let key_file = launch.home().join("server.key");
    if let Some(key) = key {
        std::fs::write(&key_file, format!("{key}\n")).unwrap();
    }
    let entries = entries.into_iter().map(|mut entry| {
        if entry["api_key_file"] == "KEY_FILE" {
            entry["api_key_file"] = json!(key_file);
        }
        entry
    });
    let mut config = with(test_config(1), "ollama_hosts", entries.collect());
    config = with(config, "ollama_probe_secs", json!(PROBE_SECS));
    for (name, value) in settings {
        config = with(config, name, value.clone());
    }
    write_config(launch.home(), &config);
    launch
}

/// Starts the client (with `--debug`, so that every log line is there to
/// search) against `hub` and waits until the hub has its connection.
fn connected(launch: Launch, hub: &Hub) -> Client {
    let client = launch.args(&["--server", &hub.url(), "--debug"]).start();
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    client
}

/// Waits until the ledger holds `n` answers; returns them.
fn answers(client: &Client, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let lines = ledger_events(client.home.path(), "answer");
        if lines.len() >= n || Instant::now() > deadline {
            assert_eq!(lines.len(), n, "{}", client.output());
            return lines;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A ledger answer without its clock readings (`ts`, `total_ms`,
/// `first_piece_ms`), after checking that they are there and sensible.
fn untimed(mut line: Value) -> Value {
    let fields = line.as_object_mut().unwrap();
    assert!(fields.remove("ts").is_some_and(|ts| ts.is_string()));
    let total = fields.remove("total_ms").and_then(|t| t.as_u64());
    let total = total.expect("total_ms");
    if let Some(first) = fields.remove("first_piece_ms") {
        assert!(
            first.as_u64().is_some_and(|first| first <= total),
            "{first}"
        );
    }
    line
}

/// The ledger's answer to a streamed request `id` of `prompt` on backend
/// `backend`, with `more` fields (the outcome's, the figures).
fn answer_line(id: i64, prompt: &str, backend: &str, more: Value) -> Value {
    let mut line = json!({
        "event": "answer", "message_id": id, "stream": true, "model": MODEL,
        "api": "openai", "backend": backend, "failed_over": false,
        "prompt_chars": prompt.chars().count(),
    });
    for (key, value) in more.as_object().into_iter().flatten() {
        line[key] = value.clone();
    }
    line
}

/// The contents of an answer's piece frames, one string a frame.
fn pieces_of(frames: &[Value]) -> Vec<String> {
    let pieces = frames
        .iter()
        .filter(|f| f["type"] == "from_owner" && f.get("error").is_none());
    pieces
        .map(|f| f["content"].as_str().unwrap().into())
        .collect()
}

/// A gate for the server: the hub has `n` frames of answer `id`. Sending
/// each delta only once the hub has the one before makes every delta one
/// frame (pieces that wait together for the socket are merged).
fn hub_has(hub: &Arc<Hub>, id: i64, n: usize) -> impl Fn() -> bool + Send + Sync + 'static {
    let hub = Arc::clone(hub);
    move || frames_for(&hub.received(), &json!(id)).len() >= n
}

/// A streamed reply of `pieces`, each delta sent once the hub has the one
/// before it (see [`hub_has`]), after llama-server's role chunk.
fn one_frame_each(hub: &Arc<Hub>, id: i64, pieces: &[&str]) -> Reply {
    let reply = Reply::stream().role();
    let each = pieces.iter().enumerate();
    each.fold(reply, |reply, (i, piece)| {
        reply.gate(hub_has(hub, id, i)).delta(piece)
    })
}

/// The answer to `id`: its frames, checked to be pieces, then the end
/// marker last and only once.
fn answered(hub: &Hub, client: &Client, id: i64) -> Vec<Value> {
    let received = hub.wait_for(WAIT, |r| frames_for(r, &json!(id)).iter().any(is_end));
    let frames = frames_for(&received, &json!(id));
    assert!(frames.iter().any(is_end), "{frames:?}\n{}", client.output());
    let ends = frames.iter().filter(|f| is_end(f)).count();
    assert_eq!(
        (ends, frames.last().map(is_end)),
        (1, Some(true)),
        "{frames:?}"
    );
    frames
}

/// The buyer's frames of a failed answer: the pieces, one error frame,
/// the end marker; returns the pieces' text and the error.
fn failed(hub: &Hub, client: &Client, id: i64) -> (String, String) {
    let frames = answered(hub, client, id);
    let error = error_of(&frames).unwrap_or_else(|| panic!("no error frame: {frames:?}"));
    assert!(frames[frames.len() - 2]["error"] == true, "{frames:?}");
    (text_of(&frames), error)
}

/// Checks that a buyer's `error` names neither the server's address nor
/// any of `words` (the server's own words, the owner's paths).
fn tells_nothing_of(error: &str, server: &OpenAi, words: &[&str]) {
    assert!(!error.contains(&server.port().to_string()), "{error}");
    assert!(!error.contains("127.0.0.1"), "{error}");
    for word in words {
        assert!(!error.contains(word), "{error}");
    }
}

/// Everything the owner's tools print and keep: `--show-config`,
/// `--status` (while the client runs), the log file, the ledger.
fn owner_sees(home: &Path) -> String {
    let run = |args: &[&str]| -> Finished { Launch::in_home(home).args(args).run(WAIT) };
    let shown = run(&["--show-config"]);
    assert_eq!(shown.code(), Some(0), "{}", shown.describe());
    let status = run(&["--status"]);
    assert_eq!(status.code(), Some(0), "{}", status.describe());
    let mut seen = format!("{}\n{}\n{}", shown.stdout, status.stdout, status.stderr);
    assert!(seen.contains(MODEL), "{seen}");
    let logs = support::client::files_under(&config_dir(home).join("logs"));
    assert!(!logs.is_empty(), "no log file");
    for file in logs {
        seen += &std::fs::read_to_string(file).unwrap_or_default();
    }
    for line in ledger_lines(home) {
        seen += &line.to_string();
    }
    seen
}

#[test]
fn a_streamed_answer_is_the_deltas_byte_for_byte_and_the_request_the_owners() {
    let server = server();
    server.require_key(Some(KEY));
    let hub = Arc::new(Hub::start(TOKEN));
    let options = json!({"temperature": 0.25, "top_p": 0.9});
    let more = json!({"api_key_file": "KEY_FILE", "options": options});
    let settings = [("max_answer_tokens", json!(64))];
    let launch = launch(vec![entry(&server, "vllm", more)], &settings, Some(KEY));
    let client = connected(launch, &hub);
    let pieces = [
        "Hello",
        ",",
        " мир",
        "\n",
        " <b>",
        "&",
        " \"quoted\"",
        " 日本語",
        " ",
        "🦀",
        "\n\n",
        " back\\slash",
        "\u{2028}",
        "end",
    ];
    let reply = one_frame_each(&hub, 1, &pieces).finish("stop");
    server.push(reply.usage(17, 14).done());
    hub.send_json(&buyer(&json!(1), "Say hello"));
    let frames = answered(&hub, &client, 1);
    assert_eq!(pieces_of(&frames), pieces, "{frames:?}");
    assert_eq!(error_of(&frames), None);
    let asked = server.streams();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(
        asked[0].body,
        json!({
            "model": MODEL,
            "messages": [{"role": "user", "content": "Say hello"}],
            "stream": true,
            "stream_options": {"include_usage": true},
            "max_tokens": 64,
            "temperature": 0.25,
            "top_p": 0.9,
        })
    );
    let bearer = format!("Bearer {KEY}");
    assert_eq!(asked[0].header("authorization"), Some(bearer.as_str()));
    assert_eq!(server.unauthorized(), 0);
    let ledger = answers(&client, 1);
    let text: String = pieces.concat();
    let expected = answer_line(
        1,
        "Say hello",
        "vllm",
        json!({"outcome": "ok", "answer_chars": text.chars().count(), "pieces": 14,
               "tokens": 14, "prompt_tokens": 17, "tokens_source": "usage"}),
    );
    assert_eq!(untimed(ledger[0].clone()), expected);
    // The key is the server's business alone.
    let seen = owner_sees(client.home.path()) + &client.output();
    assert!(seen.contains("api_key_file"), "{seen}");
    assert!(!seen.contains(KEY), "{seen}");
}

#[test]
fn comments_a_bare_data_colon_empty_choices_and_reasoning_are_read_as_servers_send_them() {
    // `reasoning_content` (llama.cpp) and `reasoning` (LM Studio) around
    // the content; keep-alive comments before the first token (llama.cpp
    // while it reads a long prompt, OpenRouter), `data:` without a space,
    // a chunk with no choices and one with a null content.
    let quirky = || {
        Reply::stream()
            .line(": keep-alive")
            .line("")
            .line(": OPENROUTER PROCESSING")
            .line("")
            .role()
            .data(&json!({"choices": [], "object": "chat.completion.chunk"}))
            .data(&chunk(json!({"reasoning_content": "Two and two. "}), None))
            .line(
                r#"data:{"choices":[{"index":0,"delta":{"content":"Four"},"finish_reason":null}]}"#,
            )
            .line("")
            .line("event: message")
            .data(&chunk(json!({"reasoning": " (sure)"}), None))
            .data(&chunk(json!({"content": null}), None))
            .delta(".")
            .finish("stop")
            .done()
    };
    for send_reasoning in [false, true] {
        let server = server();
        let hub = Hub::start(TOKEN);
        let more = json!({"send_reasoning": send_reasoning});
        let client = connected(launch(vec![entry(&server, "lm", more)], &[], None), &hub);
        server.push(quirky());
        hub.send_json(&buyer(&json!(1), "Two and two?"));
        let frames = answered(&hub, &client, 1);
        assert_eq!(error_of(&frames), None, "{frames:?}");
        let (text, pieces) = match send_reasoning {
            false => ("Four.", 2),
            true => ("Two and two. Four (sure).", 4),
        };
        assert_eq!(text_of(&frames), text);
        let ledger = answers(&client, 1);
        let expected = answer_line(
            1,
            "Two and two?",
            "lm",
            // The count is of the answer's content, reasoning left out.
            json!({"outcome": "ok", "answer_chars": text.chars().count(), "pieces": pieces,
                   "tokens": 2, "tokens_source": "counted"}),
        );
        assert_eq!(untimed(ledger[0].clone()), expected);
    }
}

#[test]
fn without_done_the_finish_reason_ends_the_answer_within_a_second_and_keeps_the_usage() {
    // Some servers (MLX) never send `[DONE]` and keep the connection open;
    // the usage chunk still comes right after the finish chunk.
    let server = server();
    let hub = Arc::new(Hub::start(TOKEN));
    let settings = [("idle_timeout_secs", json!(30))];
    let client = connected(
        launch(vec![entry(&server, "mlx", json!({}))], &settings, None),
        &hub,
    );
    let reply = one_frame_each(&hub, 1, &["Done", " soon"]).finish("stop");
    server.push(reply.usage(9, 2).hang());
    hub.send_json(&buyer(&json!(1), "Are you done?"));
    let frames = streamed_answer_within(&hub, &json!(1), Duration::from_secs(5));
    assert_eq!(pieces_of(&frames), ["Done", " soon"]);
    assert_eq!(error_of(&frames), None);
    let received = hub.received();
    let at = |f: &dyn Fn(&Value) -> bool| {
        let frame = received
            .iter()
            .find(|r| r.json["messageId"] == 1 && f(&r.json));
        frame.expect("the frame").at
    };
    let last_piece = at(&|f| f["content"] == " soon");
    let end = at(&is_end);
    let waited = end - last_piece;
    assert!(waited < Duration::from_secs(4), "{waited:?}");
    // The client hung up: the server's stream ends with it.
    assert!(server.wait_client_closed(1, WAIT), "{}", client.output());
    let ledger = answers(&client, 1);
    let expected = answer_line(
        1,
        "Are you done?",
        "mlx",
        json!({"outcome": "ok", "answer_chars": 9, "pieces": 2,
               "tokens": 2, "prompt_tokens": 9, "tokens_source": "usage"}),
    );
    assert_eq!(untimed(ledger[0].clone()), expected);
}

#[test]
fn done_without_the_end_of_the_body_ends_the_answer_within_a_second() {
    // `[DONE]` with no finish reason before it (LocalAI), and the body
    // never ended: the answer is whole at `[DONE]`.
    let server = server();
    let hub = Arc::new(Hub::start(TOKEN));
    let settings = [("idle_timeout_secs", json!(30))];
    let client = connected(
        launch(vec![entry(&server, "local", json!({}))], &settings, None),
        &hub,
    );
    server.push(one_frame_each(&hub, 1, &["All", " said"]).done().hang());
    hub.send_json(&buyer(&json!(1), "Say it"));
    let frames = streamed_answer_within(&hub, &json!(1), Duration::from_secs(5));
    assert_eq!(pieces_of(&frames), ["All", " said"]);
    assert_eq!(error_of(&frames), None);
    assert!(server.wait_client_closed(1, WAIT), "{}", client.output());
    let ledger = answers(&client, 1);
    let expected = answer_line(
        1,
        "Say it",
        "local",
        json!({"outcome": "ok", "answer_chars": 8, "pieces": 2,
               "tokens": 2, "tokens_source": "counted"}),
    );
    assert_eq!(untimed(ledger[0].clone()), expected);
}

#[test]
fn the_figures_come_from_usage_else_timings_else_the_pieces_counted() {
    let server = server();
    let hub = Hub::start(TOKEN);
    // A server that refuses `stream_options`: the owner switched it off.
    let more = json!({"include_usage": false});
    let settings = [("max_answer_tokens", json!(3))];
    let client = connected(
        launch(vec![entry(&server, "any", more)], &settings, None),
        &hub,
    );
    // 1: the emulator's own answer (llama-server's, not asked for usage),
    // cut at max_tokens: counted.
    let prompt = "one two three four five";
    hub.send_json(&buyer(&json!(1), prompt));
    assert_eq!(text_of(&answered(&hub, &client, 1)), "one two three");
    let asked = server.streams();
    assert_eq!(
        asked[0].body.get("stream_options"),
        None,
        "{:?}",
        asked[0].body
    );
    assert_eq!(asked[0].body["max_tokens"], 3);
    // 2: llama.cpp's timings alone, on the finish chunk (older builds).
    let mut last = chunk(json!({}), Some("stop"));
    last["timings"] = timings_json(7, 3);
    let reply = Reply::stream().role().deltas(&["a", "b", "c"]).data(&last);
    server.push(reply.done());
    hub.send_json(&buyer(&json!(2), "abc"));
    assert_eq!(text_of(&answered(&hub, &client, 2)), "abc");
    // 3: LocalAI: all-zero usage, no finish reason: counted.
    let reply = Reply::stream().deltas(&["x", "y"]).usage(0, 0);
    server.push(reply.done());
    hub.send_json(&buyer(&json!(3), "xy"));
    assert_eq!(text_of(&answered(&hub, &client, 3)), "xy");
    // 4: a usage chunk the server sends unasked (recent llama.cpp).
    let reply = Reply::stream().role().delta("u").finish("length");
    server.push(reply.usage(5, 1).done());
    hub.send_json(&buyer(&json!(4), "u"));
    assert_eq!(text_of(&answered(&hub, &client, 4)), "u");
    let ledger: Vec<Value> = answers(&client, 4).into_iter().map(untimed).collect();
    let ok = |id, prompt, text: &str, pieces, figures: Value| {
        let mut more = json!({"outcome": "ok", "answer_chars": text.chars().count(),
                              "pieces": pieces});
        for (key, value) in figures.as_object().unwrap() {
            more[key] = value.clone();
        }
        answer_line(id, prompt, "any", more)
    };
    let eval_ms = 3.0 * MS_PER_TOKEN;
    assert_eq!(
        ledger,
        [
            ok(
                1,
                prompt,
                "one two three",
                3,
                json!({"tokens": 3, "tokens_source": "counted"})
            ),
            ok(
                2,
                "abc",
                "abc",
                3,
                json!({"tokens": 3, "prompt_tokens": 7, "eval_ms": eval_ms,
                      "tokens_source": "timings"})
            ),
            ok(
                3,
                "xy",
                "xy",
                2,
                json!({"tokens": 2, "tokens_source": "counted"})
            ),
            ok(
                4,
                "u",
                "u",
                1,
                json!({"tokens": 1, "prompt_tokens": 5, "tokens_source": "usage"})
            ),
        ]
    );
}

#[test]
fn an_error_inside_the_stream_after_pieces_reaches_the_buyer_as_an_error() {
    let server = server();
    let hub = Arc::new(Hub::start(TOKEN));
    let client = connected(
        launch(vec![entry(&server, "vllm", json!({}))], &[], None),
        &hub,
    );
    let message = "template error at /home/owner/models/chat.jinja";
    let error = json!({"error": {"message": message, "type": "BadRequestError", "code": 400}});
    server.push(one_frame_each(&hub, 1, &["Partial"]).data(&error).done());
    hub.send_json(&buyer(&json!(1), "Go"));
    let (text, error) = failed(&hub, &client, 1);
    assert_eq!(text, "Partial");
    assert_eq!(error, "Error: the model failed while answering");
    tells_nothing_of(&error, &server, &["template", "/home/owner"]);
    let ledger = answers(&client, 1);
    let expected = answer_line(
        1,
        "Go",
        "vllm",
        json!({"outcome": "error", "error": "ollama_error", "answer_chars": 7, "pieces": 1}),
    );
    assert_eq!(untimed(ledger[0].clone()), expected);
    // The owner's log has the server's words.
    assert!(client.wait_output(message, WAIT), "{}", client.output());
}

#[test]
fn an_error_inside_the_stream_before_any_piece_fails_over_to_the_other_backend() {
    let (first, second) = (server(), server());
    let hub = Hub::start(TOKEN);
    let entries = vec![
        entry(&first, "a", json!({})),
        entry(&second, "b", json!({})),
    ];
    let client = connected(launch(entries, &[], None), &hub);
    // The first request goes to `a` (listed first), which fails it at once.
    let error = json!({"error": {"message": "out of memory", "type": "server_error", "code": 500}});
    first.push(Reply::stream().role().data(&error).done());
    hub.send_json(&buyer(&json!(1), "Still here"));
    let frames = answered(&hub, &client, 1);
    assert_eq!(error_of(&frames), None, "{frames:?}");
    assert_eq!(text_of(&frames), "Still here");
    assert_eq!((first.streams().len(), second.streams().len()), (1, 1));
    let ledger = answers(&client, 1);
    let mut expected = answer_line(
        1,
        "Still here",
        "b",
        json!({"outcome": "ok", "answer_chars": 10, "pieces": 2, "tokens": 2,
               "prompt_tokens": openai::prompt_tokens("Still here"), "tokens_source": "usage",
               "eval_ms": 2.0 * MS_PER_TOKEN}),
    );
    expected["failed_over"] = json!(true);
    assert_eq!(untimed(ledger[0].clone()), expected);
}

#[test]
fn http_errors_reach_the_buyer_in_plain_words() {
    let server = server();
    server.require_key(Some(KEY));
    let hub = Hub::start(TOKEN);
    let more = json!({"api_key_file": "KEY_FILE"});
    let client = connected(
        launch(vec![entry(&server, "vllm", more)], &[], Some(KEY)),
        &hub,
    );
    // 500 with the server's words.
    server.push(Reply::error(
        500,
        "CUDA error: out of memory on /dev/nvidia0",
    ));
    hub.send_json(&buyer(&json!(1), "one"));
    let (text, error) = failed(&hub, &client, 1);
    assert_eq!(text, "");
    assert_eq!(error, "Error: the owner's model server failed (HTTP 500)");
    tells_nothing_of(&error, &server, &["CUDA", "nvidia"]);
    // The server's key changed: the owner's is wrong now.
    server.require_key(Some("sk-rotated"));
    hub.send_json(&buyer(&json!(2), "two"));
    let (_, error) = failed(&hub, &client, 2);
    assert_eq!(error, "Error: the owner's model server failed (HTTP 401)");
    assert_eq!(server.unauthorized(), 1);
    assert!(
        client.wait_output(openai::INVALID_KEY, WAIT),
        "{}",
        client.output()
    );
    server.require_key(Some(KEY));
    // vLLM's 404 for a model it does not serve: the model is missing.
    server.push(Reply::error(
        404,
        &format!("The model `{MODEL}` does not exist."),
    ));
    hub.send_json(&buyer(&json!(3), "three"));
    let (_, error) = failed(&hub, &client, 3);
    assert_eq!(
        error,
        format!("Error: model '{MODEL}' is not installed on this box")
    );
    let ledger: Vec<Value> = answers(&client, 3).into_iter().map(untimed).collect();
    let failed_with = |id, prompt, error| {
        let more = json!({"outcome": "error", "error": error, "answer_chars": 0, "pieces": 0});
        answer_line(id, prompt, "vllm", more)
    };
    assert_eq!(
        ledger,
        [
            failed_with(1, "one", "ollama_error"),
            failed_with(2, "two", "ollama_error"),
            failed_with(3, "three", "model_missing"),
        ]
    );
    // Its one backend without the model, the box steps back from the hub;
    // the server still lists it, so the probe brings the box back.
    assert!(hub.wait_close_frames(1, WAIT), "{}", client.output());
    assert_eq!(hub.close_frames(), [Some(1000)]);
    assert!(hub.wait_connected(2, WAIT), "{}", client.output());
}

#[test]
fn a_line_too_long_a_stall_and_a_cut_stream_end_in_errors_without_waiting_for_more() {
    let server = server();
    let hub = Arc::new(Hub::start(TOKEN));
    // A small `max_line_bytes` (the smallest is 1 KiB, the default 8 MiB)
    // and a short idle timeout keep the test fast.
    let settings = [
        ("max_line_bytes", json!(64 * 1024)),
        ("idle_timeout_secs", json!(0.5)),
    ];
    let client = connected(
        launch(vec![entry(&server, "llama", json!({}))], &settings, None),
        &hub,
    );
    // 1: a 50 MB line: the client stops reading at the limit.
    let long = 50_000_000;
    server.push(
        one_frame_each(&hub, 1, &["Start"])
            .long_line(long)
            .finish("stop")
            .done(),
    );
    hub.send_json(&buyer(&json!(1), "Long"));
    let (text, error) = failed(&hub, &client, 1);
    assert_eq!(text, "Start");
    assert_eq!(
        error,
        "Error: the owner's model server sent an answer that cannot be relayed"
    );
    assert!(server.wait_client_closed(1, WAIT), "{}", client.output());
    // The client read at most the limit and hung up: the rest of what
    // went out is what the sockets' buffers took, far from the whole line.
    let sent = server.long_line_sent();
    assert!(sent < long / 2, "{sent} bytes of {long} taken");
    // 2: the server stops mid-answer with the connection open.
    server.push(one_frame_each(&hub, 2, &["Half"]).hang());
    hub.send_json(&buyer(&json!(2), "Stall"));
    let (text, error) = failed(&hub, &client, 2);
    assert_eq!(text, "Half");
    assert_eq!(error, "Error: the model stopped answering for 0.50 s");
    assert!(server.wait_client_closed(2, WAIT), "{}", client.output());
    // 3: the server closes the connection before any finish.
    server.push(one_frame_each(&hub, 3, &["Cut"]).close());
    hub.send_json(&buyer(&json!(3), "Cut"));
    let (text, error) = failed(&hub, &client, 3);
    assert_eq!(text, "Cut");
    assert_eq!(error, "Error: the answer ended before it was complete");
    let ledger: Vec<Value> = answers(&client, 3).into_iter().map(untimed).collect();
    let failed_with = |id, prompt, error, text: &str| {
        let more = json!({"outcome": "error", "error": error,
                          "answer_chars": text.chars().count(), "pieces": 1});
        answer_line(id, prompt, "llama", more)
    };
    assert_eq!(
        ledger,
        [
            failed_with(1, "Long", "bad_answer", "Start"),
            failed_with(2, "Stall", "timeout", "Half"),
            failed_with(3, "Cut", "cut", "Cut"),
        ]
    );
    // Still serving: the next answer is whole.
    hub.send_json(&buyer(&json!(4), "fine again"));
    assert_eq!(text_of(&answered(&hub, &client, 4)), "fine again");
}

/// `--check` on `entries`, against `hub`, with the key file holding `key`.
fn check(entries: Vec<Value>, key: Option<&str>, hub: &Hub) -> Finished {
    let launch = launch(entries, &[], key);
    launch.args(&["--check", "--server", &hub.url()]).run(WAIT)
}

/// The one-token request the client sends (`--check`, the warm-up).
fn is_one_token(request: &Recorded) {
    assert_eq!(
        request.body,
        json!({
            "model": MODEL,
            "messages": [{"role": "user", "content": "Hi"}],
            "stream": false,
            "max_tokens": 1,
        })
    );
}

#[test]
fn check_names_the_server_the_model_and_the_one_token_time_or_says_what_to_fix() {
    let server = server();
    server.require_key(Some(KEY));
    let hub = Hub::start(TOKEN);
    let more = json!({"api_key_file": "KEY_FILE"});
    let run = check(vec![entry(&server, "vllm", more.clone())], Some(KEY), &hub);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let url = server.url();
    let lines: Vec<&str> = run.stdout.lines().collect();
    let answers =
        format!("[ OK ] vllm: the OpenAI-compatible server at {url} answers (1 model listed)");
    let at = lines.iter().position(|line| *line == answers);
    let at = at.unwrap_or_else(|| panic!("{}", run.describe()));
    assert_eq!(
        lines[at + 1],
        format!("[ OK ] vllm: model '{MODEL}' is installed")
    );
    let took = lines[at + 2].strip_prefix("[ OK ] vllm: 1-token answer in ");
    let took = took.and_then(|took| took.strip_suffix(" s"));
    assert!(
        took.is_some_and(|s| s.parse::<f64>().is_ok()),
        "{}",
        lines[at + 2]
    );
    let asked = server.whole();
    assert_eq!(asked.len(), 1, "{asked:?}");
    is_one_token(&asked[0]);
    assert!(!format!("{}{}", run.stdout, run.stderr).contains(KEY));
    // The server serves another model.
    server.set_models(&["other/Model-7B"]);
    let run = check(vec![entry(&server, "vllm", more.clone())], Some(KEY), &hub);
    assert_eq!(run.code(), Some(1), "{}", run.describe());
    let missing = format!(
        "[FAIL] vllm: model '{MODEL}' is not installed (installed: other/Model-7B)\n       \
         fix: load {MODEL} on that server, or write in the entry's \"model\" a name its \
         GET /v1/models lists (above)\n"
    );
    assert!(run.stdout.contains(&missing), "{}", run.describe());
    assert!(run
        .stdout
        .contains("[FAIL] vllm: 1-token answer: not checked"));
    // A wrong key.
    server.set_models(&[MODEL]);
    let run = check(vec![entry(&server, "vllm", more)], Some("sk-wrong"), &hub);
    assert_eq!(run.code(), Some(1), "{}", run.describe());
    let refused = format!(
        "[FAIL] vllm: the OpenAI-compatible server does not answer at {url}: HTTP 401 for \
         /models\n       fix: the server refuses this client's key: put the key it expects as \
         the first line of the file the entry's api_key_file names (or add api_key_file if it has \
         none)\n"
    );
    assert!(run.stdout.contains(&refused), "{}", run.describe());
    assert!(!format!("{}{}", run.stdout, run.stderr).contains("sk-wrong"));
    // Nothing there: the fix is to start it, not the key.
    let gone = json!({"url": format!("http://127.0.0.1:{}", support::answers::closed_port()),
                      "api": "openai", "model": MODEL, "name": "gone"});
    let run = check(vec![gone], None, &hub);
    assert_eq!(run.code(), Some(1), "{}", run.describe());
    assert!(
        run.stdout
            .contains("[FAIL] gone: the OpenAI-compatible server does not answer at"),
        "{}",
        run.describe()
    );
    assert!(
        run.stdout
            .contains("fix: start the server there (llama-server, vLLM, LM Studio...)"),
        "{}",
        run.describe()
    );
    assert_eq!(server.whole().len(), 1, "no more one-token requests");
}

#[test]
fn a_backend_without_the_model_is_set_aside_and_the_warm_up_asks_for_one_token() {
    let (without, with_it) = (OpenAi::with_models(&["other/Model-7B"]), server());
    let hub = Hub::start(TOKEN);
    let entries = vec![
        entry(&without, "a", json!({})),
        entry(&with_it, "b", json!({})),
    ];
    let client = connected(launch(entries, &[], None), &hub);
    let aside = "backend a does not have the model org/Tiny-1B-Instruct";
    assert!(client.wait_output(aside, WAIT), "{}", client.output());
    // `b` was warmed up with one token; `a` was only asked for its models.
    // The first look asks each for its models once (no Ollama version).
    let paths = |server: &OpenAi| -> Vec<String> {
        server.requests().into_iter().map(|r| r.path).collect()
    };
    assert_eq!(paths(&with_it), ["/v1/models", "/v1/chat/completions"]);
    assert_eq!(paths(&without), ["/v1/models"]);
    let warm_up = with_it.whole();
    assert_eq!(warm_up.len(), 1, "{warm_up:?}");
    is_one_token(&warm_up[0]);
    assert!(without.chats().is_empty(), "{:?}", without.chats());
    hub.send_json(&buyer(&json!(1), "who serves"));
    assert_eq!(text_of(&answered(&hub, &client, 1)), "who serves");
    let ledger = answers(&client, 1);
    assert_eq!(
        (&ledger[0]["backend"], &ledger[0]["failed_over"]),
        (&json!("b"), &json!(false))
    );
    assert!(without.chats().is_empty(), "{:?}", without.chats());
    // The model loaded there: the probe finds it, warms it up, and it serves.
    without.set_models(&["other/Model-7B", MODEL]);
    assert!(without.wait_chats(1, WAIT), "{}", client.output());
    is_one_token(&without.whole()[0]);
    assert!(
        client.wait_output("backend a answers again", WAIT),
        "{}",
        client.output()
    );
    assert_eq!(hub.connections(), 1, "never left the hub");
}
