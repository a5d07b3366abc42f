//! The soak run behind `scripts/soak.sh`: the release client against the
//! test rig's emulators for a given time, with random faults, and a checker
//! that every request got exactly one complete answer or one error answer.
//!
//! Rounds run one request at a time, so that each answer can be checked
//! exactly (the Ollama emulator echoes the prompt unless a fault is queued).
//! Faults: Ollama errors (HTTP 500, an error line mid-stream, a broken
//! stream, a stall past the idle timeout), slow tokens, malformed hub
//! frames, the hub closing the connection mid-answer, the hub dropping TCP
//! and a half-open connection while idle. Dropping TCP or stalling while an
//! answer streams can lose frames already written to the dying connection
//! (the protocol has no acknowledgements), so those two happen between
//! answers; a clean close mid-answer must lose nothing.
//!
//! The first fifth of the run (at most 30 s) is a warm-up with the same
//! faults; memory is compared between its end and the end of the run.
//!
//! Usage: soak [--seconds N] [--client PATH] [--seed N]. Exit 1 on any
//! failure.

#[path = "../tests/support/faultproxy.rs"]
mod faultproxy;
#[path = "../tests/support/http.rs"]
mod http;
#[path = "../tests/support/hub.rs"]
mod hub;
#[path = "../tests/support/launch.rs"]
mod launch;
#[path = "../tests/support/ollama.rs"]
mod ollama;
#[path = "../tests/support/tls.rs"]
mod tls;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use faultproxy::FaultProxy;
use hub::{Hub, Received};
use launch::Runner;
use ollama::{Ollama, Reply};
use serde_json::{json, Value};

const TOKEN: &str = "soak-token-0001";
const ANSWER_LIMIT: Duration = Duration::from_secs(15);

/// xorshift64*: reproducible from the printed seed, no extra crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What a round expects the buyer to get.
enum Expect {
    /// The whole prompt echoed back.
    Echo(String),
    /// An error answer; any pieces before it are a prefix of this text.
    Error { prefix_of: String },
}

#[derive(Default)]
struct Tally {
    requests: u64,
    answers: u64,
    errors: u64,
    faults: u64,
    failures: Vec<String>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
    };
    let seconds: u64 = value("--seconds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let client = value("--client")
        .map(PathBuf::from)
        .unwrap_or_else(default_client);
    let seed = value("--seed")
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(time_seed);
    println!(
        "soak: {seconds} s, seed {seed}, client {}",
        client.display()
    );
    let code = match soak(Duration::from_secs(seconds), &client, seed) {
        Ok(()) => 0,
        Err(e) => {
            println!("soak FAILED: {e}");
            1
        }
    };
    std::process::exit(code);
}

fn default_client() -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("ollama-proxy-client")
}

fn time_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    nanos | 1
}

fn soak(duration: Duration, client_path: &Path, seed: u64) -> Result<(), String> {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let proxy = FaultProxy::start(([127, 0, 0, 1], hub.port()).into());
    let home = std::env::temp_dir().join(format!("opc-soak-{}", std::process::id()));
    let mut child = start_client(client_path, &home, &proxy, ollama.port())?;
    let result = run_rounds(duration, &hub, &ollama, &proxy, child.id(), seed);
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&home);
    result
}

fn start_client(path: &Path, home: &Path, proxy: &FaultProxy, port: u16) -> Result<Child, String> {
    let dir = home.join(".config").join("ollama_proxy");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let config = json!({
        "token": TOKEN, "model": "llama3.2", "ollama_host": "127.0.0.1", "ollama_port": port,
        "max_parallel": 2, "load_timeout_secs": 2, "idle_timeout_secs": 0.5,
        "ping_interval_secs": 0.3, "dead_after_secs": 1, "handshake_timeout_secs": 2,
        "reconnect_base_secs": 0.05, "reconnect_max_secs": 0.3, "max_frame_bytes": 65536,
        "log_max_bytes": 1048576, "log_files_kept": 1,
    });
    std::fs::write(dir.join("config.json"), config.to_string()).map_err(|e| e.to_string())?;
    // Without the developer's token, CA file, Ollama address or proxy: the
    // soak measures the rig, not the machine it runs on.
    let mut command = launch::client_command(path, Runner::Direct);
    command
        .args(["--server", &proxy.ws_url()])
        .env("HOME", home)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // An interrupted soak leaves no client behind.
    launch::die_with_parent(&mut command)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", path.display()))
}

fn run_rounds(
    duration: Duration,
    hub: &Hub,
    ollama: &Ollama,
    proxy: &FaultProxy,
    pid: u32,
    seed: u64,
) -> Result<(), String> {
    let mut rng = Rng(seed);
    let mut tally = Tally::default();
    if !hub.wait_connected(1, Duration::from_secs(10)) {
        return Err("the client never connected".into());
    }
    // Warm up with the same faults for a fifth of the run (at most 30 s):
    // the first reading must come after every code path has allocated its
    // buffers once, or the allocator's warm-up looks like a leak.
    let warm_up = (duration / 5).min(Duration::from_secs(30));
    let warm_start = Instant::now();
    let mut warm_id = 1_000_000;
    while warm_start.elapsed() < warm_up && tally.failures.is_empty() {
        warm_id += 1;
        round(hub, ollama, proxy, &mut rng, &mut tally, warm_id);
    }
    let rss_start = rss_kib(pid)?;
    println!(
        "  after {} s of warm-up: RSS {rss_start} KiB",
        warm_up.as_secs()
    );
    let start = Instant::now();
    let mut id = 0;
    let mut next_report = Duration::from_secs(60);
    while start.elapsed() < duration && tally.failures.is_empty() {
        id += 1;
        round(hub, ollama, proxy, &mut rng, &mut tally, id);
        if start.elapsed() >= next_report {
            let rss = rss_kib(pid)?;
            println!(
                "  {:>4} s: {} requests, RSS {rss} KiB",
                next_report.as_secs(),
                tally.requests
            );
            next_report += Duration::from_secs(60);
        }
    }
    let rss_end = rss_kib(pid)?;
    let reconnects = hub.connections().saturating_sub(1);
    println!(
        "requests {} | answers {} | errors {} | faults {} | reconnects {reconnects} | \
         RSS start {rss_start} KiB, end {rss_end} KiB",
        tally.requests, tally.answers, tally.errors, tally.faults
    );
    if let Some(first) = tally.failures.first() {
        return Err(format!(
            "{} failure(s); first: {first}",
            tally.failures.len()
        ));
    }
    if rss_end > rss_start + 1024 {
        return Err(format!("RSS grew by {} KiB", rss_end - rss_start));
    }
    Ok(())
}

/// One request with a randomly chosen fault, checked to the byte.
fn round(
    hub: &Hub,
    ollama: &Ollama,
    proxy: &FaultProxy,
    rng: &mut Rng,
    tally: &mut Tally,
    id: u64,
) {
    let prompt = random_prompt(rng);
    let stream = rng.below(4) != 0;
    let dice = rng.below(100);
    let expect = match dice {
        0..=4 => {
            ollama.push(Reply::error(
                500,
                "an error was encountered while running the model",
            ));
            Expect::Error {
                prefix_of: String::new(),
            }
        }
        5..=9 => {
            ollama.push(Reply::text(&prompt).error_after(2, "runner crashed"));
            Expect::Error {
                prefix_of: prompt.clone(),
            }
        }
        10..=12 => {
            ollama.push(Reply::text(&prompt).drop_after(1));
            Expect::Error {
                prefix_of: prompt.clone(),
            }
        }
        13..=14 => {
            ollama.push(Reply::text(&prompt).hang_after(1));
            Expect::Error {
                prefix_of: prompt.clone(),
            }
        }
        15..=24 => {
            ollama.push(Reply::text(&prompt).line_delay(Duration::from_millis(5)));
            Expect::Echo(prompt.clone())
        }
        _ => Expect::Echo(prompt.clone()),
    };
    if rng.below(10) == 0 {
        between_answers_fault(hub, proxy, rng);
        tally.faults += 1;
    }
    tally.requests += 1;
    hub.send_json(
        &json!({"type": "buyer_message", "content": prompt, "messageId": id,
                          "stream": stream}),
    );
    if (15..=24).contains(&dice) && rng.below(3) == 0 {
        // A clean close while the slow answer streams: nothing may be lost.
        hub.wait_for(ANSWER_LIMIT, |r| {
            r.iter().any(|f| f.json["messageId"] == id)
        });
        let connections = hub.connections();
        hub.close_connection();
        hub.wait_connected(connections + 1, ANSWER_LIMIT);
        tally.faults += 1;
    }
    let frames = wait_answer(hub, id, stream);
    match check(&frames, stream, &expect) {
        Ok(true) => tally.answers += 1,
        Ok(false) => tally.errors += 1,
        Err(why) => tally.failures.push(format!("request {id}: {why}")),
    }
}

/// A fault while no answer is streaming.
fn between_answers_fault(hub: &Hub, proxy: &FaultProxy, rng: &mut Rng) {
    let connections = hub.connections();
    match rng.below(3) {
        0 => {
            hub.drop_connection();
            hub.wait_connected(connections + 1, Duration::from_secs(10));
        }
        1 => {
            // Half-open: the client must notice (dead_after 1 s) and reconnect.
            proxy.stall(true);
            hub.wait_connected(connections + 1, Duration::from_secs(10));
            proxy.stall(false);
        }
        _ => {
            hub.send_text("not json at all");
            hub.send_text(r#"{"type":"buyer_message","content":"no id"}"#);
            hub.send_binary(&[1, 2, 3]);
            hub.send_text(r#"{"type":"owners_statuses","owners":[]}"#);
        }
    }
}

/// Frames for `id` until its answer is complete (or the limit passes);
/// received frames are taken out of the hub's record as they come.
fn wait_answer(hub: &Hub, id: u64, stream: bool) -> Vec<Value> {
    let deadline = Instant::now() + ANSWER_LIMIT;
    let mut frames: Vec<Value> = Vec::new();
    let done = |frames: &[Value]| {
        if stream {
            frames
                .iter()
                .any(|f| f["type"] == "finished_message_stream")
        } else {
            !frames.is_empty()
        }
    };
    while !done(&frames) && Instant::now() < deadline {
        hub.wait_for(Duration::from_millis(200), |r: &[Received]| !r.is_empty());
        for received in hub.take_received() {
            if received.json["messageId"] == id {
                frames.push(received.json);
            }
        }
    }
    // Anything late (a duplicate) would show up here.
    hub.wait_for(Duration::from_millis(20), |_| false);
    frames.extend(
        hub.take_received()
            .into_iter()
            .filter(|r| r.json["messageId"] == id)
            .map(|r| r.json),
    );
    frames
}

/// Ok(true) for a complete answer, Ok(false) for an error answer.
fn check(frames: &[Value], stream: bool, expect: &Expect) -> Result<bool, String> {
    if frames.is_empty() {
        return Err("no answer at all".into());
    }
    let ends = frames
        .iter()
        .filter(|f| f["type"] == "finished_message_stream")
        .count();
    let errors: Vec<&Value> = frames.iter().filter(|f| f["error"] == true).collect();
    if stream
        && (ends != 1
            || frames.last().map(|f| &f["type"]) != Some(&json!("finished_message_stream")))
    {
        return Err(format!("{ends} end markers, or not last: {frames:?}"));
    }
    if !stream && (frames.len() != 1 || ends != 0) {
        return Err(format!("non-stream answer in {} frames", frames.len()));
    }
    let text: String = frames
        .iter()
        .filter(|f| f["type"] == "from_owner" && f.get("error").is_none())
        .filter_map(|f| f["content"].as_str())
        .collect();
    match (expect, errors.len()) {
        (Expect::Echo(prompt), 0) if text == *prompt => Ok(true),
        (Expect::Echo(_), 0) => Err(format!("answer differs from the prompt: {text:?}")),
        (Expect::Echo(_), _) => Err(format!("unexpected error: {errors:?}")),
        (Expect::Error { prefix_of }, 1) if prefix_of.starts_with(&text) => Ok(false),
        (Expect::Error { .. }, n) => Err(format!("{n} error frames, text {text:?}")),
    }
}

fn random_prompt(rng: &mut Rng) -> String {
    const WORDS: &[&str] = &[
        "sky",
        " ",
        "\n\n",
        "\t",
        "Привет",
        "🦀",
        "\"q\"",
        "back\\slash",
        "<b>",
        "&",
        "e\u{301}",
        "blue",
        "scattering",
        "  ",
        "мир",
        "👩‍👩‍👧",
    ];
    let n = 1 + rng.below(60) as usize;
    let mut prompt = String::from("p");
    for _ in 0..n {
        prompt.push(' ');
        prompt.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
    }
    prompt
}

fn rss_kib(pid: u32) -> Result<u64, String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmRSS".into())
}
