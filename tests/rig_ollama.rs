//! Self-test of the Ollama emulator (`tests/support/ollama.rs`), driven by a plain
//! std `TcpStream` HTTP/1.1 client so that the emulator is checked on the wire (the
//! TLS emulator by the same client inside a rustls stream).

mod support;

use rustls::pki_types::ServerName;
use rustls::{ClientConnection, StreamOwned};
use serde_json::{json, Value};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};
use support::ollama::{split_pieces, Ollama, Reply, GARBAGE_LINE};
use support::tls::TestCa;

/// Bound on every wait in these tests.
const WAIT: Duration = Duration::from_secs(3);

struct Head {
    status: u16,
    reason: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A response as read off the wire.
struct Answer {
    head: Head,
    /// Chunk payloads for a chunked body.
    chunks: Vec<String>,
    /// The whole body (chunks joined, or the Content-Length body).
    body: String,
    /// A chunked body ended with its `0\r\n\r\n` terminator.
    terminated: bool,
}

impl Answer {
    fn json_lines(&self) -> Vec<Value> {
        self.chunks
            .iter()
            .map(|c| serde_json::from_str(c).unwrap())
            .collect()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// Minimal HTTP/1.1 client on one connection: plain TCP, or TLS over it.
struct Client<S = TcpStream> {
    reader: BufReader<S>,
}

type TlsStream = StreamOwned<ClientConnection, TcpStream>;

impl Client {
    fn connect(ollama: &Ollama) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", ollama.port())).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        Client {
            reader: BufReader::new(stream),
        }
    }

    /// True if nothing (not even EOF) arrives within `d`.
    fn quiet_for(&mut self, d: Duration) -> bool {
        self.reader.get_ref().set_read_timeout(Some(d)).unwrap();
        let quiet = matches!(
            self.reader.fill_buf(),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
        );
        self.reader.get_ref().set_read_timeout(Some(WAIT)).unwrap();
        quiet
    }
}

impl Client<TlsStream> {
    /// A TLS connection (handshake done) that trusts `ca` alone and expects
    /// a certificate for `name`; the handshake's error otherwise.
    fn connect_tls(ollama: &Ollama, ca: &TestCa, name: &str) -> io::Result<Client<TlsStream>> {
        let socket = TcpStream::connect(("127.0.0.1", ollama.port()))?;
        socket.set_read_timeout(Some(WAIT))?;
        let name = ServerName::try_from(name.to_owned()).unwrap();
        let tls = ClientConnection::new(ca.client_config(), name).unwrap();
        let mut stream = StreamOwned::new(tls, socket);
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock)?;
        }
        Ok(Client {
            reader: BufReader::new(stream),
        })
    }
}

impl<S: Read + Write> Client<S> {
    fn send(&mut self, method: &str, path: &str, extra: &[(&str, &str)], body: &[u8]) {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (name, value) in extra {
            head += &format!("{name}: {value}\r\n");
        }
        let chunked = extra
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"));
        if !body.is_empty() && !chunked {
            head += &format!("Content-Length: {}\r\n", body.len());
        }
        head += "\r\n";
        let stream = self.reader.get_mut();
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
    }

    fn post(&mut self, body: &Value) {
        self.send("POST", "/api/generate", &[], body.to_string().as_bytes());
    }

    /// A CRLF-terminated line, without the CRLF.
    fn line(&mut self) -> io::Result<String> {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line)?;
        if !line.ends_with(b"\r\n") {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        line.truncate(line.len() - 2);
        Ok(String::from_utf8(line).unwrap())
    }

    fn head(&mut self) -> io::Result<Head> {
        let status_line = self.line()?;
        let mut parts = status_line.splitn(3, ' ');
        assert_eq!(parts.next(), Some("HTTP/1.1"));
        let status = parts.next().unwrap().parse().unwrap();
        let reason = parts.next().unwrap_or("").to_owned();
        let mut headers = Vec::new();
        loop {
            let line = self.line()?;
            if line.is_empty() {
                return Ok(Head {
                    status,
                    reason,
                    headers,
                });
            }
            let (name, value) = line.split_once(':').unwrap();
            headers.push((name.to_owned(), value.trim().to_owned()));
        }
    }

    /// One chunk's payload; `None` at the terminator.
    fn chunk(&mut self) -> io::Result<Option<String>> {
        let size = self.line()?;
        let size = usize::from_str_radix(&size, 16).expect("chunk size");
        if size == 0 {
            assert_eq!(self.line()?, "", "no trailers expected");
            return Ok(None);
        }
        let mut data = vec![0; size];
        self.reader.read_exact(&mut data)?;
        assert_eq!(self.line()?, "", "CRLF after chunk data");
        Ok(Some(String::from_utf8(data).unwrap()))
    }

    /// The rest of a response whose head is read.
    fn body(&mut self, head: Head, head_request: bool) -> Answer {
        let mut answer = Answer {
            head,
            chunks: Vec::new(),
            body: String::new(),
            terminated: false,
        };
        if answer.head.header("transfer-encoding") == Some("chunked") {
            loop {
                match self.chunk() {
                    Ok(Some(chunk)) => answer.chunks.push(chunk),
                    Ok(None) => {
                        answer.terminated = true;
                        break;
                    }
                    Err(_) => break,
                }
            }
            answer.body = answer.chunks.concat();
        } else if let (false, Some(length)) = (head_request, answer.head.header("content-length")) {
            let mut body = vec![0; length.parse().unwrap()];
            self.reader.read_exact(&mut body).unwrap();
            answer.body = String::from_utf8(body).unwrap();
        }
        answer
    }

    fn answer(&mut self) -> Answer {
        let head = self.head().unwrap();
        self.body(head, false)
    }

    fn request(&mut self, method: &str, path: &str) -> Answer {
        self.send(method, path, &[], b"");
        let head = self.head().unwrap();
        self.body(head, method == "HEAD")
    }

    /// True once the server has closed the connection.
    fn at_eof(&mut self) -> bool {
        matches!(self.reader.fill_buf(), Ok([]))
    }
}

/// One generate request on a fresh connection.
fn generate(ollama: &Ollama, body: Value) -> Answer {
    let mut client = Client::connect(ollama);
    client.post(&body);
    client.answer()
}

/// Checks a Go-style created_at (UTC, trimmed fraction, Z) and replaces its value with X.
fn normalize(line: &str) -> String {
    let key = "\"created_at\":\"";
    let start = line.find(key).expect("created_at") + key.len();
    let end = start + line[start..].find('"').unwrap();
    let stamp = &line[start..end];
    let (seconds, fraction) = stamp.strip_suffix('Z').unwrap().split_at(19);
    let shape: String = seconds
        .chars()
        .map(|c| if c.is_ascii_digit() { 'd' } else { c })
        .collect();
    assert_eq!(shape, "dddd-dd-ddTdd:dd:dd", "{stamp}");
    assert!(seconds >= "2025", "{stamp}");
    if let Some(digits) = fraction.strip_prefix('.') {
        assert!(
            (1..=9).contains(&digits.len()) && !digits.ends_with('0'),
            "{stamp}"
        );
        assert!(digits.chars().all(|c| c.is_ascii_digit()), "{stamp}");
    } else {
        assert_eq!(fraction, "", "{stamp}");
    }
    format!("{}X{}", &line[..start], &line[end..])
}

/// Asserts that `keys` appear in this order in `line`.
fn assert_key_order(line: &str, keys: &[&str]) {
    let mut from = 0;
    for key in keys {
        let at = line[from..]
            .find(&format!("\"{key}\":"))
            .unwrap_or_else(|| panic!("{key} missing or out of order in {line}"));
        from += at + key.len();
    }
}

fn assert_ndjson_stream(answer: &Answer) {
    assert_eq!(answer.head.status, 200);
    assert_eq!(
        answer.head.header("content-type"),
        Some("application/x-ndjson")
    );
    assert_eq!(answer.head.header("transfer-encoding"), Some("chunked"));
    assert_eq!(answer.head.header("content-length"), None);
    let date = answer.head.header("date").expect("Date header");
    assert!(date.len() == 29 && date.ends_with(" GMT"), "{date}");
    for chunk in &answer.chunks {
        assert!(
            chunk.ends_with('\n') && chunk.matches('\n').count() == 1,
            "one line per chunk: {chunk:?}"
        );
    }
}

#[test]
fn echo_is_the_default_reply() {
    let ollama = Ollama::start();
    assert!(!ollama.wait_requests(1, Duration::from_millis(20)));
    let answer = generate(
        &ollama,
        json!({"model": "llama3.2", "prompt": "hello big world"}),
    );
    assert_ndjson_stream(&answer);
    assert!(answer.terminated);
    let lines = answer.json_lines();
    assert_eq!(lines.len(), 4);
    let words: Vec<&str> = lines[..3]
        .iter()
        .map(|l| l["response"].as_str().unwrap())
        .collect();
    assert_eq!(words, ["hello", " big", " world"]);
    assert!(lines.iter().all(|l| l["model"] == "llama3.2"));
    assert_eq!(lines[3]["done"], true);
    let recorded = ollama.generate_requests();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].body["prompt"], "hello big world");
    assert_eq!(recorded[0].header("host"), Some("127.0.0.1"));
}

#[test]
fn tricky_pieces_are_escaped_like_go() {
    let ollama = Ollama::start();
    let pieces = [
        "  ",
        "\n\n",
        "\t",
        "Привет",
        " 🦀",
        "say \"hi\" \\ ok",
        "<think>",
        "a&b>c",
        "\u{2028}\u{2029}",
        "\u{1}\u{8}\u{c}\r",
    ];
    ollama.push(Reply::pieces(&pieces));
    // A queued reply serves whatever model is asked for.
    let answer = generate(&ollama, json!({"model": "not-installed", "prompt": "x"}));
    assert_ndjson_stream(&answer);
    let raw = [
        r#""  ""#,
        r#""\n\n""#,
        r#""\t""#,
        r#""Привет""#,
        r#"" 🦀""#,
        r#""say \"hi\" \\ ok""#,
        r#""\u003cthink\u003e""#,
        r#""a\u0026b\u003ec""#,
        r#""\u2028\u2029""#,
        r#""\u0001\b\f\r""#,
    ];
    for (i, expected) in raw.iter().enumerate() {
        let line = normalize(&answer.chunks[i]);
        let want = format!(
            r#"{{"model":"not-installed","created_at":"X","response":{expected},"done":false}}"#
        );
        assert_eq!(line, want + "\n");
    }
    let lines = answer.json_lines();
    for (line, piece) in lines.iter().zip(pieces) {
        assert_eq!(line["response"], piece);
    }
    assert_eq!(lines.len(), pieces.len() + 1);
}

#[test]
fn thinking_lines_come_first() {
    let ollama = Ollama::with_models(&["qwen3:8b"]);
    ollama.push(Reply::pieces(&["Hi"]).thinking(&["Let me", " think <ok>"]));
    let answer = generate(&ollama, json!({"model": "qwen3:8b", "prompt": "hey"}));
    assert_ndjson_stream(&answer);
    let lines: Vec<String> = answer.chunks.iter().map(|c| normalize(c)).collect();
    assert_eq!(
        lines[..3],
        [
            "{\"model\":\"qwen3:8b\",\"created_at\":\"X\",\"response\":\"\",\"thinking\":\"Let me\",\"done\":false}\n",
            "{\"model\":\"qwen3:8b\",\"created_at\":\"X\",\"response\":\"\",\"thinking\":\" think \\u003cok\\u003e\",\"done\":false}\n",
            "{\"model\":\"qwen3:8b\",\"created_at\":\"X\",\"response\":\"Hi\",\"done\":false}\n",
        ]
    );
    assert_eq!(answer.json_lines()[3]["done"], true);
}

#[test]
fn final_line_carries_metrics_and_context() {
    let ollama = Ollama::start();
    ollama.push(Reply::pieces(&["a", " b", " c"]).done_reason("length"));
    let answer = generate(&ollama, json!({"model": "llama3.2", "prompt": "one two"}));
    assert!(answer.terminated);
    let last = answer.chunks.last().unwrap();
    let keys = [
        "model",
        "created_at",
        "response",
        "done",
        "done_reason",
        "context",
        "total_duration",
        "load_duration",
        "prompt_eval_count",
        "prompt_eval_duration",
        "eval_count",
        "eval_duration",
    ];
    assert_key_order(last, &keys);
    let done: Value = serde_json::from_str(last).unwrap();
    assert_eq!(done.as_object().unwrap().len(), keys.len());
    assert_eq!(done["response"], "");
    assert_eq!(done["done"], true);
    assert_eq!(done["done_reason"], "length");
    assert_eq!(done["eval_count"], 3);
    let n = |key: &str| done[key].as_u64().unwrap_or_else(|| panic!("{key}"));
    let context = done["context"].as_array().unwrap();
    assert!(context.iter().all(Value::is_u64));
    assert_eq!(context.len() as u64, n("prompt_eval_count") + 3);
    assert!(n("load_duration") > 0 && n("prompt_eval_duration") > 0 && n("eval_duration") > 0);
    assert!(
        n("total_duration") >= n("load_duration") + n("prompt_eval_duration") + n("eval_duration")
    );

    // No pieces: eval metrics are 0 and so omitted; raw mode: no context.
    ollama.push(Reply::pieces::<&str>(&[]));
    let answer = generate(
        &ollama,
        json!({"model": "llama3.2", "prompt": "x", "raw": true}),
    );
    let lines = answer.json_lines();
    assert_eq!(lines.len(), 1);
    let done = lines[0].as_object().unwrap();
    for absent in ["eval_count", "eval_duration", "context"] {
        assert!(!done.contains_key(absent), "{absent} in {done:?}");
    }
    assert!(done.contains_key("total_duration"));
}

#[test]
fn stream_false_sends_one_object() {
    let ollama = Ollama::start();
    ollama.push(Reply::pieces(&["Hel", "lo"]).thinking(&["hm", "m"]));
    let answer = generate(
        &ollama,
        json!({"model": "llama3.2", "prompt": "hi", "stream": false}),
    );
    assert_eq!(answer.head.status, 200);
    assert_eq!(
        answer.head.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(answer.head.header("transfer-encoding"), None);
    assert!(answer.head.header("content-length").is_some());
    assert!(!answer.body.ends_with('\n'));
    assert!(normalize(&answer.body).starts_with(
        r#"{"model":"llama3.2","created_at":"X","response":"Hello","thinking":"hmm","done":true,"done_reason":"stop","context":["#
    ));
    assert_eq!(answer.json()["eval_count"], 2);

    // The default echo, big enough that net/http would send it chunked.
    let prompt = "word ".repeat(600);
    let answer = generate(
        &ollama,
        json!({"model": "llama2", "prompt": prompt, "stream": false}),
    );
    assert_eq!(answer.head.header("transfer-encoding"), Some("chunked"));
    assert!(answer.terminated);
    assert_eq!(answer.json()["response"], prompt.as_str());
}

#[test]
fn models_are_checked_only_without_a_queued_reply() {
    let ollama = Ollama::with_models(&["qwen3:8b", "llama2:latest"]);
    let cases = [
        (
            json!({"model": "llama9", "prompt": "x"}),
            404,
            r#"{"error":"model 'llama9' not found"}"#,
        ),
        (
            json!({"prompt": "x"}),
            404,
            r#"{"error":"model '' not found"}"#,
        ),
        (
            json!({"model": "qwen3", "prompt": "x"}),
            404,
            r#"{"error":"model 'qwen3' not found"}"#,
        ),
        (
            json!({"model": "llama2", "prompt": "x", "raw": true, "system": "s"}),
            400,
            r#"{"error":"raw mode does not support template, system, or context"}"#,
        ),
    ];
    for (body, status, error) in cases {
        let answer = generate(&ollama, body);
        assert_eq!(answer.head.status, status, "{error}");
        assert_eq!(
            answer.head.header("content-type"),
            Some("application/json; charset=utf-8")
        );
        assert_eq!(answer.body, error);
    }
    for model in ["qwen3:8b", "llama2", "llama2:latest"] {
        let answer = generate(&ollama, json!({"model": model, "prompt": "ok"}));
        assert_eq!(answer.head.status, 200, "{model}");
        assert_eq!(answer.json_lines()[0]["response"], "ok");
    }
    ollama.push(Reply::text("queued"));
    let answer = generate(&ollama, json!({"model": "llama9", "prompt": "x"}));
    assert_eq!(answer.json_lines()[0]["response"], "queued");
}

#[test]
fn bad_bodies_are_400_and_keep_the_queue() {
    let ollama = Ollama::start();
    ollama.push(Reply::text("kept"));
    let cases: [(&[u8], &str); 5] = [
        (b"", "missing request body"),
        (b"  \n", "missing request body"),
        (b"{\"model\": x}", "invalid character 'x' looking for beginning of value"),
        (b"{\"model\":\"a\"", "unexpected EOF"),
        (
            b"{\"model\": 1}",
            "json: cannot unmarshal number into Go struct field GenerateRequest.model of type string",
        ),
    ];
    for (body, error) in cases {
        let mut client = Client::connect(&ollama);
        client.send("POST", "/api/generate", &[], body);
        let answer = client.answer();
        assert_eq!(answer.head.status, 400);
        assert_eq!(answer.json(), json!({ "error": error }));
    }
    assert_eq!(ollama.pending_replies(), 1);
    let answer = generate(&ollama, json!({"model": "llama3.2", "prompt": "x"}));
    assert_eq!(answer.json_lines()[0]["response"], "kept");
    assert_eq!(ollama.generate_requests().len(), 6);
    assert_eq!(ollama.generate_requests()[2].body, Value::Null);
}

#[test]
fn empty_prompt_loads_or_unloads() {
    let ollama = Ollama::start();
    let answer = generate(&ollama, json!({"model": "llama3.2"}));
    assert_eq!(
        answer.head.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(
        normalize(&answer.body),
        r#"{"model":"llama3.2","created_at":"X","response":"","done":true,"done_reason":"load"}"#
    );
    let answer = generate(
        &ollama,
        json!({"model": "llama3.2", "prompt": "", "keep_alive": 0}),
    );
    assert_eq!(answer.json()["done_reason"], "unload");
}

#[test]
fn error_replies_come_before_any_output() {
    let ollama = Ollama::start();
    let busy = "server busy, please try again.  maximum pending requests exceeded";
    ollama.push(Reply::error(503, busy));
    ollama.push(Reply::error(499, "<canceled>"));
    let answer = generate(&ollama, json!({"model": "llama3.2", "prompt": "x"}));
    assert_eq!(
        (answer.head.status, answer.head.reason.as_str()),
        (503, "Service Unavailable")
    );
    assert_eq!(
        answer.head.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(answer.json(), json!({ "error": busy }));
    let answer = generate(
        &ollama,
        json!({"model": "llama3.2", "prompt": "x", "stream": false}),
    );
    assert_eq!(answer.head.status, 499);
    assert_eq!(answer.body, r#"{"error":"\u003ccanceled\u003e"}"#);
}

#[test]
fn error_after_ends_the_stream_with_an_error_line() {
    let ollama = Ollama::start();
    let message = "an error was encountered while running the model: boom";
    ollama.push(Reply::pieces(&["a", " b", " c"]).error_after(2, message));
    let answer = generate(&ollama, json!({"model": "llama3.2", "prompt": "x"}));
    assert_ndjson_stream(&answer);
    assert!(answer.terminated);
    assert_eq!(answer.chunks.len(), 3);
    assert_eq!(answer.chunks[2], format!("{{\"error\":\"{message}\"}}\n"));
    assert!(answer
        .json_lines()
        .iter()
        .all(|l| l.get("done") != Some(&json!(true))));

    ollama.push(Reply::pieces(&["a"]).error_after(0, "boom"));
    let answer = generate(
        &ollama,
        json!({"model": "llama3.2", "prompt": "x", "stream": false}),
    );
    assert_eq!(answer.head.status, 500);
    assert_eq!(answer.json(), json!({"error": "boom"}));
}

#[test]
fn garbage_after_sends_a_non_json_line() {
    let ollama = Ollama::start();
    ollama.push(Reply::pieces(&["a", " b"]).garbage_after(1));
    let answer = generate(&ollama, json!({"model": "llama3.2", "prompt": "x"}));
    assert_ndjson_stream(&answer);
    assert!(answer.terminated);
    assert_eq!(answer.chunks.len(), 3);
    assert_eq!(answer.chunks[1], format!("{GARBAGE_LINE}\n"));
    assert!(serde_json::from_str::<Value>(&answer.chunks[1]).is_err());
    assert!(!answer.body.contains("\"done\":true"));
}

#[test]
fn no_done_ends_cleanly_without_a_done_line() {
    let ollama = Ollama::start();
    ollama.push(Reply::pieces(&["a", " b"]).no_done());
    let answer = generate(&ollama, json!({"model": "llama3.2", "prompt": "x"}));
    assert!(answer.terminated);
    let lines = answer.json_lines();
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|l| l["done"] == false));
}

#[test]
fn drop_after_closes_without_terminator() {
    let ollama = Ollama::start();
    ollama.push(Reply::pieces(&["a", " b", " c"]).drop_after(1));
    let mut client = Client::connect(&ollama);
    client.post(&json!({"model": "llama3.2", "prompt": "x"}));
    let answer = client.answer();
    assert_eq!(answer.chunks.len(), 1);
    assert!(!answer.terminated);
    assert!(client.at_eof());
    assert_eq!(ollama.client_closed(), 0);
}

#[test]
fn hang_after_waits_for_the_client_to_leave() {
    let ollama = Ollama::start();
    ollama.push(Reply::pieces(&["a", " b"]).hang_after(1));
    let mut client = Client::connect(&ollama);
    client.post(&json!({"model": "llama3.2", "prompt": "x"}));
    let head = client.head().unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(client.chunk().unwrap().map(|c| normalize(&c)).unwrap(), {
        "{\"model\":\"llama3.2\",\"created_at\":\"X\",\"response\":\"a\",\"done\":false}\n"
    });
    assert!(client.quiet_for(Duration::from_millis(150)));
    assert_eq!(ollama.client_closed(), 0);
    drop(client);
    assert!(ollama.wait_client_closed(1, WAIT));
    assert_eq!(ollama.client_closed(), 1);
}

#[test]
fn hang_before_first_sends_not_even_headers() {
    let ollama = Ollama::start();
    ollama.push(Reply::text("x").hang_before_first());
    let mut client = Client::connect(&ollama);
    client.post(&json!({"model": "llama3.2", "prompt": "x"}));
    assert!(ollama.wait_requests(1, WAIT));
    assert!(client.quiet_for(Duration::from_millis(150)));
    drop(client);
    assert!(ollama.wait_client_closed(1, WAIT));
}

#[test]
fn client_leaving_during_line_delay_is_noticed_at_once() {
    let ollama = Ollama::start();
    ollama.push(Reply::pieces(&["a", " b"]).line_delay(Duration::from_secs(30)));
    let mut client = Client::connect(&ollama);
    client.post(&json!({"model": "llama3.2", "prompt": "x"}));
    client.head().unwrap();
    assert!(client.chunk().unwrap().is_some());
    let left = Instant::now();
    drop(client);
    assert!(ollama.wait_client_closed(1, WAIT));
    assert!(left.elapsed() < Duration::from_secs(1));
}

#[test]
fn delays_hold_back_output() {
    let ollama = Ollama::start();
    let first = Duration::from_millis(300);
    let gap = Duration::from_millis(60);
    ollama.push(Reply::text("a b").first_delay(first).line_delay(gap));
    let mut client = Client::connect(&ollama);
    let sent = Instant::now();
    client.post(&json!({"model": "llama3.2", "prompt": "x"}));
    assert!(
        client.quiet_for(first / 2),
        "nothing, not even headers, before first_delay"
    );
    let head = client.head().unwrap();
    assert!(sent.elapsed() >= first);
    assert_eq!(head.status, 200);
    let first_line = Instant::now();
    let answer = client.body(head, false);
    assert_eq!(answer.chunks.len(), 3);
    assert!(
        first_line.elapsed() >= gap * 2,
        "a gap before ' b' and before the done line"
    );
    let done = &answer.json_lines()[2];
    assert!(done["load_duration"].as_u64().unwrap() >= first.as_nanos() as u64);
}

#[test]
fn keep_alive_serves_many_requests_per_connection() {
    let ollama = Ollama::start();
    let mut client = Client::connect(&ollama);
    client.post(&json!({"model": "llama3.2", "prompt": "one"}));
    assert!(client.answer().terminated);
    // A chunked request body.
    let body = json!({"model": "llama3.2", "prompt": "two"}).to_string();
    let (a, b) = body.split_at(10);
    let chunked = format!(
        "{:x}\r\n{a}\r\n{:x};ext=1\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    );
    let te = [("Transfer-Encoding", "chunked")];
    client.send("POST", "/api/generate", &te, chunked.as_bytes());
    assert_eq!(client.answer().json_lines()[0]["response"], "two");
    client.send("GET", "/api/version", &[("Connection", "close")], b"");
    let answer = client.answer();
    assert_eq!(answer.head.header("connection"), Some("close"));
    assert!(client.at_eof());

    let requests = ollama.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().all(|r| r.conn == 0));
    assert_eq!(requests[1].body["prompt"], "two");
    assert_eq!(ollama.connections(), 1);
    let other = generate(&ollama, json!({"model": "llama3.2", "prompt": "three"}));
    assert!(other.terminated);
    assert_eq!(ollama.generate_requests()[2].conn, 1);
    assert_eq!(ollama.connections(), 2);
}

#[test]
fn other_endpoints() {
    let ollama = Ollama::with_models(&["qwen3:8b", "llama3.2:latest"]);
    let mut client = Client::connect(&ollama);

    let root = client.request("GET", "/");
    assert_eq!(
        (root.head.status, root.body.as_str()),
        (200, "Ollama is running")
    );
    assert_eq!(
        root.head.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let head = client.request("HEAD", "/");
    assert_eq!(head.head.header("content-length"), Some("17"));
    assert_eq!(head.body, "");

    let version = client.request("GET", "/api/version");
    assert_eq!(version.body, r#"{"version":"0.12.6"}"#);
    assert_eq!(
        version.head.header("content-type"),
        Some("application/json; charset=utf-8")
    );

    let tags = client.request("GET", "/api/tags?x=1").json();
    let models = tags["models"].as_array().unwrap();
    let names: Vec<&str> = models.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["qwen3:8b", "llama3.2:latest"]);
    let entry = &models[0];
    assert_eq!(entry["model"], "qwen3:8b");
    assert_eq!(entry["digest"].as_str().unwrap().len(), 64);
    assert!(entry["size"].as_u64().unwrap() > 0);
    assert!(entry["modified_at"].is_string());
    assert_eq!(entry["details"]["format"], "gguf");
    assert_eq!(entry["details"]["parameter_size"], "8B");

    let missing = client.request("GET", "/api/nope");
    assert_eq!(
        (missing.head.status, missing.body.as_str()),
        (404, "404 page not found")
    );
    assert_eq!(missing.head.header("content-type"), Some("text/plain"));
    let wrong = client.request("GET", "/api/generate");
    assert_eq!(
        (wrong.head.status, wrong.body.as_str()),
        (405, "405 method not allowed")
    );
    assert_eq!(wrong.head.header("allow"), Some("POST"));
    let wrong = client.request("POST", "/");
    assert_eq!(
        (wrong.head.status, wrong.head.header("allow")),
        (405, Some("GET, HEAD"))
    );

    let paths: Vec<String> = ollama.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/",
            "/",
            "/api/version",
            "/api/tags",
            "/api/nope",
            "/api/generate",
            "/"
        ]
    );
    assert!(
        ollama.generate_requests().is_empty(),
        "GET /api/generate is not a generate"
    );
    assert_eq!(ollama.connections(), 1);
}

#[test]
fn parallel_requests_get_their_own_echo() {
    let ollama = Ollama::start();
    let answers: Vec<String> = thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|i| {
                let ollama = &ollama;
                s.spawn(move || {
                    let prompt = format!("client {i} says hi");
                    let answer = generate(ollama, json!({"model": "llama3.2", "prompt": prompt}));
                    let lines = answer.json_lines();
                    lines
                        .iter()
                        .map(|l| l["response"].as_str().unwrap().to_owned())
                        .collect()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    for (i, answer) in answers.iter().enumerate() {
        assert_eq!(answer, &format!("client {i} says hi"));
    }
    assert!(ollama.wait_requests(4, WAIT));
    assert_eq!(ollama.connections(), 4);
}

#[test]
fn dropping_the_emulator_ends_hanging_replies_and_idle_connections() {
    let ollama = Ollama::start();
    let mut idle = Client::connect(&ollama);
    assert_eq!(idle.request("GET", "/").head.status, 200);
    ollama.push(Reply::text("x").hang_before_first());
    let mut client = Client::connect(&ollama);
    client.post(&json!({"model": "llama3.2", "prompt": "x"}));
    assert!(ollama.wait_requests(1, WAIT));
    let dropping = Instant::now();
    drop(ollama);
    assert!(dropping.elapsed() < Duration::from_secs(1));
    assert!(client.at_eof());
    assert!(idle.at_eof());
}

#[test]
fn the_tls_emulator_serves_the_same_api_over_tls() {
    let ca = TestCa::new("ollama-rig");
    let ollama = Ollama::start_tls(&ca);
    assert_eq!(ollama.url(), format!("https://127.0.0.1:{}", ollama.port()));
    let mut client = Client::connect_tls(&ollama, &ca, "127.0.0.1").expect("TLS handshake");
    let version = client.request("GET", "/api/version");
    assert_eq!(version.body, r#"{"version":"0.12.6"}"#);
    let tags = client.request("GET", "/api/tags").json();
    assert_eq!(tags["models"][0]["name"], "llama3.2:latest");
    client.post(&json!({"model": "llama3.2", "prompt": "hello over tls"}));
    let answer = client.answer();
    assert_ndjson_stream(&answer);
    assert!(answer.terminated);
    let lines = answer.json_lines();
    let words: Vec<&str> = lines[..3]
        .iter()
        .map(|l| l["response"].as_str().unwrap())
        .collect();
    assert_eq!(words, ["hello", " over", " tls"]);
    assert_eq!(lines[3]["done"], true);
    // Keep-alive over TLS: one connection, recorded like plain HTTP.
    let requests = ollama.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().all(|r| r.conn == 0));
    assert_eq!(
        ollama.generate_requests()[0].body["prompt"],
        "hello over tls"
    );

    // The certificate names localhost too.
    let mut by_name = Client::connect_tls(&ollama, &ca, "localhost").expect("TLS handshake");
    assert_eq!(by_name.request("GET", "/").body, "Ollama is running");
    assert_eq!(ollama.connections(), 2);
    assert_eq!(ollama.tls_failures(), 0);
}

#[test]
fn the_tls_emulator_notices_a_client_leaving_mid_reply() {
    let ca = TestCa::new("ollama-rig");
    let ollama = Ollama::start_tls(&ca);
    ollama.push(Reply::text("a b c").hang_after(1));
    let mut client = Client::connect_tls(&ollama, &ca, "localhost").expect("TLS handshake");
    client.post(&json!({"model": "llama3.2", "prompt": "x"}));
    let head = client.head().unwrap();
    assert_eq!(head.status, 200);
    let first: Value = serde_json::from_str(&client.chunk().unwrap().unwrap()).unwrap();
    assert_eq!(first["response"], "a");
    drop(client);
    assert!(ollama.wait_client_closed(1, WAIT));
}

#[test]
fn the_tls_emulator_refuses_other_cas_and_plain_http() {
    let ca = TestCa::new("ollama-rig");
    let other = TestCa::new("other");
    let ollama = Ollama::start_tls(&ca);
    match Client::connect_tls(&ollama, &other, "127.0.0.1") {
        Err(e) => assert!(e.to_string().contains("UnknownIssuer"), "{e}"),
        Ok(_) => panic!("a handshake trusting another CA succeeded"),
    }
    assert!(ollama.wait_tls_failures(1, WAIT));

    // Plain HTTP on the TLS port gets no HTTP answer.
    let mut plain = Client::connect(&ollama);
    plain.send("GET", "/api/version", &[], b"");
    assert!(plain.head().is_err());
    assert!(ollama.wait_tls_failures(2, WAIT));
    assert!(ollama.requests().is_empty());

    // The plain emulator stays plain.
    let plain_ollama = Ollama::start();
    assert!(plain_ollama.url().starts_with("http://127.0.0.1:"));
    match Client::connect_tls(&plain_ollama, &ca, "127.0.0.1") {
        Err(_) => {}
        Ok(_) => panic!("the plain emulator spoke TLS"),
    }
}

#[test]
fn dropping_the_tls_emulator_ends_connections_before_and_after_the_handshake() {
    let ca = TestCa::new("ollama-rig");
    let ollama = Ollama::start_tls(&ca);
    // A connection that never starts its handshake.
    let mut silent = Client::connect(&ollama);
    let mut idle = Client::connect_tls(&ollama, &ca, "localhost").expect("TLS handshake");
    assert_eq!(idle.request("GET", "/").head.status, 200);
    let dropping = Instant::now();
    drop(ollama);
    assert!(dropping.elapsed() < Duration::from_secs(1));
    assert!(silent.at_eof());
    assert!(idle.at_eof() || idle.reader.fill_buf().is_err());
}

#[test]
fn split_pieces_keeps_whitespace_with_words() {
    assert_eq!(split_pieces("a b\n"), ["a", " b", "\n"]);
    assert_eq!(
        split_pieces("Hello,  world.\n\nNext\tline  "),
        ["Hello,", "  world.", "\n\n", "Next", "\tline", "  "]
    );
    assert_eq!(split_pieces("  \n"), ["  ", "\n"]);
    assert!(split_pieces("").is_empty());
    let text = "Привет 🦀 мир\r\n";
    assert_eq!(split_pieces(text).concat(), text);
}
