//! The performance benchmark behind `scripts/bench.sh`: the real client
//! binary against the test rig's emulators on 127.0.0.1 (the hub over TLS,
//! with a CA made on the spot and passed with `--ca-file`), printing one
//! Markdown table of measurements, each against its budget.
//!
//! Method. Every client below is its own process with a throw-away `HOME`
//! holding `.config/ollama_proxy/config.json` (token, model `llama3.2`,
//! `ollama_host` 127.0.0.1, the emulator's port; every other setting at its
//! default, `max_parallel` only where said), run with `--server
//! wss://127.0.0.1:PORT/auth-proxy --ca-file CA`. Figures come from `/proc`.
//!
//! 1. Start to connected: spawn to the hub emulator registering the
//!    finished TLS + WebSocket handshake, 5 runs, median.
//! 2. Idle: after the connect and a 1 s settle, `VmRSS`; then the sum of
//!    `voluntary_ctxt_switches` + `nonvoluntary_ctxt_switches` over all
//!    threads (`/proc/PID/task/*/status`) across 10 s of idle, with the
//!    default heartbeat (ping every 30 s, counted at the hub).
//! 3. Burst (same client, after the idle window): one answer of 20,000
//!    short pieces from the Ollama emulator (`Reply::pieces`, no delay),
//!    5 rounds. CPU per piece is the client's utime + stime
//!    (`/proc/PID/stat`) from just before each prompt goes out to the hub
//!    holding its end marker, summed and divided by 100,000; pieces per
//!    second is 20,000 over the hub's arrival time of the end marker minus
//!    the send time, median of the rounds. Every answer is checked to the
//!    byte.
//! 4. Peak RSS: a client with `max_parallel` 4 streams 4 answers at once
//!    (400 pieces each, 2 ms apart); `VmHWM` afterwards. `VmHWM` is the
//!    peak over the process's life, start and handshake included.
//! 5. Added latency at 100 pieces/s: the Ollama emulator does not record
//!    when it writes a line, so this scenario uses [`Pacer`], a small
//!    NDJSON responder here that writes one line every 10 ms and records
//!    `Instant::now()` right after each write. Every piece is a unique tag
//!    (`w00042 `); each hub frame's arrival `Instant` (`Received.at`) minus
//!    the emission instant of every tag in it is one sample. 600 samples
//!    after a 20-piece warm-up answer; p50 and p99. The notes repeat p50
//!    and p99 timed from just before each write (never negative, an upper
//!    bound), and the client's CPU per piece at this rate (schedstat) with
//!    its context switches per piece.
//! 6. Scale (issue 24): one OpenAI-compatible backend (the same responder,
//!    answering `POST /v1/chat/completions` with Server-Sent Events) with
//!    `max_parallel` 64, and 64 answers at once, each 300 tagged pieces at
//!    100 pieces/s: every piece checked in order per answer; the client's
//!    CPU per piece (schedstat) against one stream's at the same rate
//!    (scenario 5), at most twice it; `VmHWM` against 16 MiB; the thread
//!    count (`Threads` in `/proc/PID/status`).
//! 7. Sizes: every `dist/ollama-proxy-client-*` and
//!    `target/release/ollama-proxy-client`.
//!
//! Caveats.
//! - The emulators run in this process and share the machine's CPUs with
//!   the client. On a small box they compete: that lowers pieces per second
//!   and can raise latency, while CPU per piece counts the client's own time
//!   only.
//! - utime + stime tick in 1/`CLK_TCK` s (10 ms): about 0.5 us per piece
//!   over 20,000 pieces, so the burst runs 5 times (0.1 us). The notes add
//!   the per-thread `schedstat` run time (nanoseconds) as a cross-check.
//! - CPU per piece in a burst depends on how many frames carry the pieces:
//!   the writer merges consecutive pieces while the socket is behind, and
//!   most of the cost is per frame (TLS record, write, and on loopback the
//!   receiving side's TCP work, which the kernel charges to the sender). So
//!   the figure varies with how fast the hub emulator drains the socket;
//!   the notes give ticks and frames per round. At 100 pieces/s nothing
//!   merges and every piece wakes the worker and the writer: the latency
//!   scenario reports that cost too (schedstat), with no budget.
//! - Latency runs from the responder's write returning to the hub
//!   emulator's parse of the frame, one monotonic clock in one process. It
//!   includes two loopback hops, the hub's TLS decryption and the wakeups of
//!   the emulator threads, so it is an upper bound on what the client adds.
//!   A sample comes out negative when the responder thread is descheduled
//!   between its write and its clock read; the notes count those.
//! - RSS depends on the build. Most of it is file-backed: the binary's
//!   pages and, for the glibc build, libc's and the loader's, which other
//!   processes share (the notes split VmRSS into anon and file and give
//!   PSS). glibc's malloc also keeps an arena per thread that allocates,
//!   musl's does not. Measure the static (musl) build with
//!   `BENCH_CLIENT=dist/ollama-proxy-client-...-x86_64-unknown-linux-musl
//!   scripts/bench.sh`.
//! - Idle wakeups: each heartbeat ping costs a few switches (the writer
//!   wakes, the reader wakes for the pong). With a 30 s ping at most one can
//!   fall in the 10 s window; the raw rate is reported, and the budget is
//!   checked after allowing 4 switches per ping seen at the hub. The idle
//!   client has every listener on: the metrics port and the control socket.
//! - Start to connected includes exec, reading the config, opening the log
//!   file and the handshakes; the hub emulator registers the connection once
//!   it has written the 101 response, and the bench wakes on that.
//! - The header gives the 1-minute load average at start and end: anything
//!   else running on the box shows up in every figure, p99 first.
//!
//! Usage: `bench [--client PATH]` (default: `ollama-proxy-client` beside
//! this example's folder). Progress goes to stderr, the table to stdout.
//! Exit status 0 once the table is printed, whatever passes or fails; 1 if
//! a measurement could not be made. All waits are bounded; a client left
//! behind by a crash is killed with the bench (`PR_SET_PDEATHSIG`).

// The emulators live with the tests; `hub` finds `tls` as `super::tls`, and `ollama`
// finds `http` as `super::http`.
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

use std::ffi::CStr;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use hub::{Hub, Received};
use launch::Runner;
use ollama::{Ollama, Reply};
use serde_json::{json, Value};
use tls::TestCa;

const TOKEN: &str = "bench-token-0001";
const STARTUP_RUNS: usize = 5;
const SETTLE: Duration = Duration::from_secs(1);
const IDLE_WINDOW: Duration = Duration::from_secs(10);
const BURST_PIECES: usize = 20_000;
/// The burst runs this many times: 5 x the clock-tick resolution.
const BURST_ROUNDS: usize = 5;
const PARALLEL: usize = 4;
const PARALLEL_PIECES: usize = 400;
const PARALLEL_DELAY: Duration = Duration::from_millis(2);
const LATENCY_PIECES: usize = 600;
const LATENCY_INTERVAL: Duration = Duration::from_millis(10);
const WARMUP_PIECES: usize = 20;
const SCALE_STREAMS: usize = 64;
const SCALE_PIECES: usize = 300;
const CONNECT_LIMIT: Duration = Duration::from_secs(10);
const ANSWER_LIMIT: Duration = Duration::from_secs(20);
/// How often the bench looks at the hub's received frames. Arrival times
/// come from the hub itself, so this only bounds how late the bench notices.
const POLL: Duration = Duration::from_millis(2);
/// Context switches one heartbeat ping may cost (see the caveats).
const SWITCHES_PER_PING: u64 = 4;

const CPU_PER_PIECE_US: f64 = 5.0;
const P99_LATENCY_US: f64 = 1000.0;
const IDLE_RSS_KIB: u64 = 3 * 1024;
const PEAK_RSS_KIB: u64 = 6 * 1024;
const SCALE_RSS_KIB: u64 = 16 * 1024;
/// CPU per piece with 64 streams at most this many times one stream's.
const SCALE_CPU_FACTOR: f64 = 2.0;
const IDLE_WAKEUPS_PER_S: f64 = 0.1;
const STATIC_BINARY_BYTES: u64 = 2 * 1024 * 1024;

type Result<T> = std::result::Result<T, String>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let client = args
        .iter()
        .rposition(|a| a == "--client")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)
        .unwrap_or_else(|| release_dir().join("ollama-proxy-client"));
    let code = match run(&client) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("bench failed: {e}");
            1
        }
    };
    std::process::exit(code);
}

/// `target/release`: this example lives in `target/release/examples`.
fn release_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target/release"))
}

fn run(client: &Path) -> Result<()> {
    let load_at_start = load_average();
    if !client.is_file() {
        return Err(format!(
            "no client binary at {} (build it, or pass --client PATH)",
            client.display()
        ));
    }
    let mut bench = Bench::new(client)?;
    let mut rows = Vec::new();
    progress("start to connected (5 runs)");
    rows.push(bench.startup()?);
    progress("idle for 10 s, then a 20,000-piece burst");
    rows.extend(bench.idle_and_burst()?);
    progress("4 answers at once (max_parallel 4)");
    rows.extend(bench.parallel()?);
    progress("added latency at 100 pieces/s (6 s)");
    let (latency, cpu_per_piece) = bench.latency()?;
    rows.extend(latency);
    progress("64 streams at once from an OpenAI-compatible backend (max_parallel 64)");
    rows.extend(bench.scale(cpu_per_piece)?);
    rows.extend(sizes());
    drop(bench);
    let load = format!("{load_at_start} at start, {} at end", load_average());
    print_table(client, &load, &rows);
    Ok(())
}

fn progress(what: &str) {
    eprintln!("bench: {what}");
}

// ---- the rig ----

/// The emulators, the CA file and the scratch directory, shared by every
/// scenario. Clients are started per scenario and stopped at its end.
struct Bench {
    client: PathBuf,
    // Declared (and so dropped) before `work`, whose files they may use.
    hub: Hub,
    ollama: Ollama,
    _ca: TestCa,
    ca_path: PathBuf,
    work: Scratch,
    homes: usize,
}

impl Bench {
    fn new(client: &Path) -> Result<Bench> {
        let work = Scratch::new()?;
        let ca = TestCa::new("bench");
        let ca_path = ca.write_pem(work.path());
        Ok(Bench {
            client: client.to_path_buf(),
            hub: Hub::start_tls(TOKEN, &ca),
            ollama: Ollama::start(),
            _ca: ca,
            ca_path,
            work,
            homes: 0,
        })
    }

    /// The hub's URL by address: the emulator's certificate names
    /// 127.0.0.1 too, so nothing resolves `localhost` (or tries `::1`).
    fn hub_url(&self) -> String {
        format!("wss://127.0.0.1:{}/auth-proxy", self.hub.port())
    }

    /// Starts a client on a fresh `HOME` whose config points at Ollama on
    /// `ollama_port`, with `extra` settings on top.
    fn start_client(&mut self, ollama_port: u16, extra: &[(&str, Value)]) -> Result<Client> {
        self.homes += 1;
        let home = self.work.path().join(format!("home-{}", self.homes));
        let dir = home.join(".config").join("ollama_proxy");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut config = json!({
            "token": TOKEN, "model": "llama3.2", "ollama_host": "127.0.0.1",
            "ollama_port": ollama_port, "stream_mode": true,
        });
        for (key, value) in extra {
            config[*key] = value.clone();
        }
        std::fs::write(dir.join("config.json"), config.to_string())
            .map_err(|e| format!("writing the config: {e}"))?;
        let mut command = launch::client_command(&self.client, Runner::Direct);
        command
            .arg("--server")
            .arg(self.hub_url())
            .arg("--ca-file")
            .arg(&self.ca_path)
            .env("HOME", &home)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Spawned from the main thread, which outlives every measurement:
        // even an aborted bench leaves no client behind.
        launch::die_with_parent(&mut command);
        let spawned = Instant::now();
        match command.spawn() {
            Ok(child) => Ok(Client {
                child,
                home,
                spawned,
            }),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&home);
                Err(format!("cannot start {}: {e}", self.client.display()))
            }
        }
    }

    /// Starts a client and waits until the hub has its connection.
    fn connected_client(&mut self, ollama_port: u16, extra: &[(&str, Value)]) -> Result<Client> {
        let target = self.hub.connections() + 1;
        let mut client = self.start_client(ollama_port, extra)?;
        if !self.hub.wait_connected(target, CONNECT_LIMIT) {
            return Err(format!(
                "the client did not connect within {} s{}",
                CONNECT_LIMIT.as_secs(),
                client.why()
            ));
        }
        Ok(client)
    }

    fn ask(&self, id: u64, prompt: &str) {
        self.hub
            .send_json(&json!({"type": "buyer_message", "content": prompt,
                                   "messageId": id, "stream": true}));
    }

    /// Collects the hub's frames until every request in `ids` has its end
    /// marker; frames of other requests are dropped.
    fn wait_ends(&self, ids: &[u64], limit: Duration) -> Result<Vec<Received>> {
        let deadline = Instant::now() + limit;
        let mut frames = Vec::new();
        let mut ends = 0;
        loop {
            for frame in self.hub.take_received() {
                let Some(id) = frame.json["messageId"].as_u64() else {
                    continue;
                };
                if !ids.contains(&id) {
                    continue;
                }
                if frame.json["error"] == true {
                    return Err(format!("request {id} got an error: {}", frame.text));
                }
                ends += usize::from(frame.json["type"] == "finished_message_stream");
                frames.push(frame);
            }
            if ends >= ids.len() {
                return Ok(frames);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{ends} of {} answers complete after {} s ({} frames)",
                    ids.len(),
                    limit.as_secs(),
                    frames.len()
                ));
            }
            thread::sleep(POLL);
        }
    }

    // ---- scenarios ----

    fn startup(&mut self) -> Result<Row> {
        let mut times = Vec::new();
        for _ in 0..STARTUP_RUNS {
            let client = self.connected_client(self.ollama.port(), &[])?;
            times.push(client.spawned.elapsed().as_secs_f64() * 1e3);
        }
        let list: Vec<String> = times.iter().map(|t| format!("{t:.1}")).collect();
        Ok(Row::info(
            "start to connected (median of 5)",
            format!("{:.1} ms", median(&mut times)),
            format!(
                "spawn to TLS + WebSocket handshake done at the hub; runs: {} ms",
                list.join(", ")
            ),
        ))
    }

    fn idle_and_burst(&mut self) -> Result<Vec<Row>> {
        // Every listener on: the metrics port beside the control socket
        // (always there with a hub), each thread in `accept`.
        let metrics = [("metrics_listen", json!("127.0.0.1:0"))];
        let client = self.connected_client(self.ollama.port(), &metrics)?;
        let pid = client.pid();
        thread::sleep(SETTLE);
        let rss_idle = status_kib(pid, "VmRSS")?;
        let rss_idle_parts = rss_parts(pid)?;
        let before = switches(pid)?;
        let pings_before = self.hub.pings();
        let started = Instant::now();
        thread::sleep(IDLE_WINDOW);
        let after = switches(pid)?;
        let window = started.elapsed().as_secs_f64();
        let pings = self.hub.pings() - pings_before;
        let idle = after.since(&before);

        let pieces: Vec<String> = (0..BURST_PIECES).map(|i| format!("w{i} ")).collect();
        let expected = pieces.concat();
        let (mut ticks, mut sched, mut rates, mut frames) =
            (Vec::new(), Some(0), Vec::new(), Vec::new());
        for round in 1..=BURST_ROUNDS as u64 {
            self.ollama.push(Reply::pieces(&pieces));
            self.hub.take_received();
            let cpu_before = cpu_ticks(pid)?;
            let sched_before = schedstat_ns(pid);
            let sent = Instant::now();
            self.ask(round, "burst");
            let answer = self.wait_ends(&[round], ANSWER_LIMIT)?;
            ticks.push(cpu_ticks(pid)? - cpu_before);
            sched = sched
                .zip(schedstat_ns(pid).zip(sched_before))
                .map(|(sum, (after, before))| sum + after - before);
            let wall = answer.last().map(|f| f.at.duration_since(sent));
            rates.push(BURST_PIECES as f64 / wall.unwrap_or_default().as_secs_f64());
            frames.push(answer.len());
            let text = answer_text(&answer);
            if text != expected {
                return Err(format!(
                    "burst {round} arrived incomplete or altered ({} of {} bytes)",
                    text.len(),
                    expected.len()
                ));
            }
        }
        let hwm_after_burst = status_kib(pid, "VmHWM")?;
        let rss_after_burst = rss_parts(pid)?;
        drop(client);

        let n = (BURST_PIECES * BURST_ROUNDS) as f64;
        let tick = 1.0 / clock_ticks_per_second();
        let cpu: u64 = ticks.iter().sum();
        let cpu_us = cpu as f64 * tick / n * 1e6;
        let sched_note = sched
            .map(|ns| format!("; schedstat {:.2} us/piece", ns as f64 / 1e3 / n))
            .unwrap_or_default();
        let per_round: Vec<String> = ticks
            .iter()
            .zip(&frames)
            .map(|(t, f)| format!("{t} ticks/{f} frames"))
            .collect();
        let rate_list: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
        let raw_rate = idle.total() as f64 / window;
        let beyond = idle
            .total()
            .saturating_sub(SWITCHES_PER_PING * pings as u64) as f64
            / window;
        Ok(vec![
            Row::checked(
                "CPU per relayed piece (20,000-piece burst x 5)",
                format!("{cpu_us:.2} us"),
                format!("<= {CPU_PER_PIECE_US} us"),
                cpu_us <= CPU_PER_PIECE_US,
                format!(
                    "utime+stime {cpu} ticks of {:.0} ms (+/- {:.2} us/piece; rounds: {}) \
                     over {} pieces{sched_note}",
                    tick * 1e3,
                    tick / n * 1e6,
                    per_round.join(", "),
                    n
                ),
            ),
            Row::info(
                "pieces per second (same bursts, median)",
                format!("{:.0}/s", median(&mut rates)),
                format!(
                    "20,000 over prompt sent to end marker at the hub; rounds: {}/s; pieces \
                     merge into fewer frames while the socket is behind, and fewer frames cost \
                     less CPU; the emulators share the {} CPUs",
                    rate_list.join(", "),
                    cpus()
                ),
            ),
            Row::checked(
                "RSS connected, idle",
                mib(rss_idle),
                format!("<= {} MiB", IDLE_RSS_KIB / 1024),
                rss_idle <= IDLE_RSS_KIB,
                format!(
                    "VmRSS {} s after connect, default max_parallel 1; {}",
                    SETTLE.as_secs(),
                    rss_idle_parts
                ),
            ),
            Row::checked(
                "wakeups per second, idle",
                format!("{raw_rate:.2}/s"),
                format!("<= {IDLE_WAKEUPS_PER_S}/s beyond the heartbeat"),
                beyond <= IDLE_WAKEUPS_PER_S,
                format!(
                    "{} switches ({} voluntary, {} involuntary) over {} threads in {window:.1} s; \
                     {pings} heartbeat ping(s) in the window (ping every 30 s, {} switches \
                     allowed per ping): {beyond:.2}/s beyond it",
                    idle.total(),
                    idle.voluntary,
                    idle.involuntary,
                    after.threads,
                    SWITCHES_PER_PING
                ),
            ),
            Row::info(
                "VmHWM after the burst",
                mib(hwm_after_burst),
                format!("same process as the idle rows, after the bursts; now {rss_after_burst}"),
            ),
        ])
    }

    fn parallel(&mut self) -> Result<Vec<Row>> {
        let client =
            self.connected_client(self.ollama.port(), &[("max_parallel", json!(PARALLEL))])?;
        let pid = client.pid();
        thread::sleep(SETTLE);
        let rss_idle = status_kib(pid, "VmRSS")?;
        let pieces: Vec<String> = (0..PARALLEL_PIECES).map(|i| format!("w{i} ")).collect();
        for _ in 0..PARALLEL {
            self.ollama
                .push(Reply::pieces(&pieces).line_delay(PARALLEL_DELAY));
        }
        self.hub.take_received();
        let ids: Vec<u64> = (101..101 + PARALLEL as u64).collect();
        for id in &ids {
            self.ask(*id, "parallel");
        }
        let frames = self.wait_ends(&ids, ANSWER_LIMIT)?;
        let hwm = status_kib(pid, "VmHWM")?;
        let rss_after = rss_parts(pid)?;
        drop(client);

        let expected = pieces.concat();
        let mut spans = Vec::new();
        for id in &ids {
            let own: Vec<Received> = frames
                .iter()
                .filter(|f| f.json["messageId"] == *id)
                .cloned()
                .collect();
            if answer_text(&own) != expected {
                return Err(format!(
                    "parallel answer {id} arrived incomplete or altered"
                ));
            }
            spans.push((own[0].at, own[own.len() - 1].at));
        }
        let overlapped = spans.iter().map(|s| s.0).max() < spans.iter().map(|s| s.1).min();
        Ok(vec![Row::checked(
            "peak RSS, 4 answers streaming at once",
            mib(hwm),
            format!("<= {} MiB", PEAK_RSS_KIB / 1024),
            hwm <= PEAK_RSS_KIB,
            format!(
                "VmHWM, max_parallel 4, {PARALLEL} x {PARALLEL_PIECES} pieces {} ms apart; \
                 answers overlapped: {}; VmRSS idle {} -> after: {}",
                PARALLEL_DELAY.as_millis(),
                if overlapped { "yes" } else { "NO" },
                mib(rss_idle),
                rss_after
            ),
        )])
    }

    /// The latency rows, and the client's CPU per piece at this rate (us).
    fn latency(&mut self) -> Result<(Vec<Row>, f64)> {
        // Declared first, so dropped after the client that talks to it.
        let pacer = Pacer::start().map_err(|e| format!("cannot start the responder: {e}"))?;
        // The pacer answers prompts only; the bench warms it up itself.
        let client = self.connected_client(pacer.port, &[("warm_up", json!(false))])?;
        self.hub.take_received();
        self.ask(201, &format!("pieces={WARMUP_PIECES}"));
        self.wait_ends(&[201], ANSWER_LIMIT)?;
        pacer.take_emitted();
        let pid = client.pid();
        let cpu_before = cpu_ticks(pid)?;
        let sched_before = schedstat_ns(pid);
        let switches_before = switches(pid)?;
        self.ask(202, &format!("pieces={LATENCY_PIECES}"));
        let limit = LATENCY_INTERVAL * LATENCY_PIECES as u32 + ANSWER_LIMIT;
        let frames = self.wait_ends(&[202], limit)?;
        let cpu = cpu_ticks(pid)? - cpu_before;
        let sched = schedstat_ns(pid).zip(sched_before).map(|(a, b)| a - b);
        let woken = switches(pid)?.since(&switches_before);
        let emitted = pacer.take_emitted();
        drop(client);
        drop(pacer);

        if emitted.len() != LATENCY_PIECES {
            return Err(format!(
                "the responder sent {} of {LATENCY_PIECES} pieces",
                emitted.len()
            ));
        }
        let mut seen = vec![false; LATENCY_PIECES];
        let mut samples = Vec::with_capacity(LATENCY_PIECES);
        let mut from_before = Vec::with_capacity(LATENCY_PIECES);
        let mut piece_frames = 0;
        for frame in frames.iter().filter(|f| f.json["type"] == "from_owner") {
            piece_frames += 1;
            let content = frame.json["content"].as_str().unwrap_or("");
            for tag in content.split_whitespace() {
                let index = tag
                    .strip_prefix('w')
                    .and_then(|n| n.parse::<usize>().ok())
                    .filter(|&i| i < LATENCY_PIECES && !seen[i])
                    .ok_or_else(|| format!("unexpected or repeated piece {tag:?}"))?;
                seen[index] = true;
                samples.push(signed_us(frame.at, emitted[index].after));
                from_before.push(signed_us(frame.at, emitted[index].before));
            }
        }
        if samples.len() != LATENCY_PIECES {
            return Err(format!(
                "the hub got {} of {LATENCY_PIECES} pieces",
                samples.len()
            ));
        }
        let negative = samples.iter().filter(|&&s| s < 0.0).count();
        samples.sort_by(f64::total_cmp);
        from_before.sort_by(f64::total_cmp);
        let p50 = percentile(&samples, 0.50);
        let p99 = percentile(&samples, 0.99);
        let max = samples[samples.len() - 1];
        let setup = format!(
            "{LATENCY_PIECES} pieces, one per {} ms, after a {WARMUP_PIECES}-piece warm-up; \
             responder write to hub frame parsed",
            LATENCY_INTERVAL.as_millis()
        );
        let n = LATENCY_PIECES as f64;
        let cpu_us = cpu as f64 / clock_ticks_per_second() / n * 1e6;
        let per_piece = sched.map_or(cpu_us, |ns| ns as f64 / 1e3 / n);
        let cpu_value = format!("{per_piece:.1} us");
        let rows = vec![
            Row::info("added latency p50 at 100 pieces/s", us(p50), setup),
            Row::checked(
                "added latency p99 at 100 pieces/s",
                us(p99),
                format!("<= {P99_LATENCY_US:.0} us"),
                p99 <= P99_LATENCY_US,
                format!(
                    "max {}; {piece_frames} frames for {LATENCY_PIECES} pieces; {negative} \
                     negative sample(s) (the write woke the client before the responder read \
                     the clock); timed from just before each write instead: p50 {}, p99 {}",
                    us(max),
                    us(percentile(&from_before, 0.50)),
                    us(percentile(&from_before, 0.99))
                ),
            ),
            Row::info(
                "CPU per relayed piece at 100 pieces/s",
                cpu_value,
                format!(
                    "one frame per piece, so every piece wakes the threads: {:.1} context \
                     switches per piece; schedstat over the {LATENCY_PIECES}-piece answer \
                     (utime+stime: {cpu} ticks, {cpu_us:.1} us/piece)",
                    woken.total() as f64 / n
                ),
            ),
        ];
        Ok((rows, per_piece))
    }

    /// 64 answers at once, each [`SCALE_PIECES`] pieces at 100 pieces/s,
    /// from one OpenAI-compatible backend with `max_parallel` 64: every
    /// piece in order, the CPU per piece against one stream's at the same
    /// rate (`single_us`), the peak RSS and the threads.
    fn scale(&mut self, single_us: f64) -> Result<Vec<Row>> {
        let pacer = Pacer::start().map_err(|e| format!("cannot start the responder: {e}"))?;
        let backend = json!([{"url": format!("http://127.0.0.1:{}", pacer.port),
                              "api": "openai", "model": "bench",
                              "max_parallel": SCALE_STREAMS}]);
        let extra = [("ollama_hosts", backend), ("warm_up", json!(false))];
        let client = self.connected_client(pacer.port, &extra)?;
        let pid = client.pid();
        thread::sleep(SETTLE);
        let threads_idle = status_kib(pid, "Threads")?;
        self.hub.take_received();
        let ids: Vec<u64> = (301..301 + SCALE_STREAMS as u64).collect();
        let sched_before = schedstat_ns(pid);
        let cpu_before = cpu_ticks(pid)?;
        for (stream, id) in ids.iter().enumerate() {
            self.ask(*id, &format!("stream={stream} pieces={SCALE_PIECES}"));
        }
        let limit = LATENCY_INTERVAL * SCALE_PIECES as u32 + ANSWER_LIMIT;
        let frames = self.wait_ends(&ids, limit)?;
        let cpu = cpu_ticks(pid)? - cpu_before;
        let sched = schedstat_ns(pid).zip(sched_before).map(|(a, b)| a - b);
        let hwm = status_kib(pid, "VmHWM")?;
        let threads = status_kib(pid, "Threads")?;
        drop(client);
        drop(pacer);

        for (stream, id) in ids.iter().enumerate() {
            let own: Vec<Received> = frames
                .iter()
                .filter(|f| f.json["messageId"] == *id)
                .cloned()
                .collect();
            if answer_text(&own) != scale_answer(stream, SCALE_PIECES) {
                return Err(format!(
                    "stream {id} arrived incomplete, altered or out of order"
                ));
            }
        }
        let n = (SCALE_STREAMS * SCALE_PIECES) as f64;
        let cpu_us = cpu as f64 / clock_ticks_per_second() / n * 1e6;
        let per_piece = sched.map_or(cpu_us, |ns| ns as f64 / 1e3 / n);
        let budget = single_us * SCALE_CPU_FACTOR;
        let piece_frames = frames
            .iter()
            .filter(|f| f.json["type"] == "from_owner")
            .count();
        let setup = format!(
            "{SCALE_STREAMS} answers at once, {SCALE_PIECES} pieces each one per {} ms, \
             every piece checked in order; {piece_frames} frames",
            LATENCY_INTERVAL.as_millis()
        );
        Ok(vec![
            Row::checked(
                "CPU per piece, 64 streams at once",
                format!("{per_piece:.1} us"),
                format!("<= {budget:.1} us (2 x one stream)"),
                per_piece <= budget,
                format!("{setup}; schedstat (utime+stime: {cpu} ticks, {cpu_us:.1} us/piece)"),
            ),
            Row::checked(
                "peak RSS, 64 streams at once",
                mib(hwm),
                format!("<= {} MiB", SCALE_RSS_KIB / 1024),
                hwm <= SCALE_RSS_KIB,
                format!("VmHWM over the client's life; {setup}"),
            ),
            Row::info(
                "threads, 64 streams at once",
                threads.to_string(),
                format!(
                    "{threads_idle} idle with max_parallel {SCALE_STREAMS}: a worker and its \
                     watchdog per slot, plus the main, writer, prober, signal, shutdown, \
                     control and metrics threads"
                ),
            ),
        ])
    }
}

/// The text of stream `stream`'s answer: its tagged pieces in order.
fn scale_answer(stream: usize, pieces: usize) -> String {
    (0..pieces)
        .map(|i| format!("s{stream:02}-p{i:05} "))
        .collect()
}

/// A running client; killed (and its `HOME` removed) on drop.
struct Client {
    child: Child,
    home: PathBuf,
    spawned: Instant,
}

impl Client {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Why a client did not connect: its exit status and last log line.
    fn why(&mut self) -> String {
        let status = match self.child.try_wait() {
            Ok(Some(status)) => format!(" (it exited: {status})"),
            _ => String::new(),
        };
        let log = self
            .home
            .join(".config/ollama_proxy/logs/client.log")
            .to_path_buf();
        let last = std::fs::read_to_string(log)
            .ok()
            .and_then(|text| text.lines().last().map(str::to_owned))
            .map(|line| format!("; last log line: {line}"))
            .unwrap_or_default();
        status + &last
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

/// A directory under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch> {
        let path = std::env::temp_dir().join(format!("opc-bench-{}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Scratch(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The text of an answer's piece frames, in arrival order.
fn answer_text(frames: &[Received]) -> String {
    frames
        .iter()
        .filter(|f| f.json["type"] == "from_owner")
        .filter_map(|f| f.json["content"].as_str())
        .collect()
}

// ---- the paced responder (latency scenario) ----

/// When the responder wrote one line: just before and just after the write.
#[derive(Clone, Copy)]
struct Emitted {
    before: Instant,
    after: Instant,
}

/// A stand-in for Ollama that records when it writes each line (and, for
/// the scale scenario, for an OpenAI-compatible server: see [`chat`]): it
/// answers `POST /api/generate` with chunked NDJSON, one line every
/// [`LATENCY_INTERVAL`] on a fixed schedule (no drift), as many pieces as
/// the prompt `pieces=N` asks, each piece the tag `wNNNNN `, then the done
/// line; `GET /api/version` and `/api/tags` (the client asks them before it
/// connects) get short answers. Other requests get a 404. One thread per connection; keep-alive.
struct Pacer {
    port: u16,
    emitted: Arc<Mutex<Vec<Emitted>>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Pacer {
    fn start() -> io::Result<Pacer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let emitted = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (emitted, stop) = (Arc::clone(&emitted), Arc::clone(&stop));
            thread::Builder::new()
                .name("pacer-accept".into())
                .spawn(move || pacer_accept(&listener, &emitted, &stop))?
        };
        Ok(Pacer {
            port,
            emitted,
            stop,
            accept: Some(accept),
        })
    }

    /// The emission instants of the current (or last) answer, taken.
    fn take_emitted(&self) -> Vec<Emitted> {
        std::mem::take(&mut *lock(&self.emitted))
    }
}

impl Drop for Pacer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept thread, which then sees the stop flag.
        let _ = TcpStream::connect_timeout(&([127, 0, 0, 1], self.port).into(), SETTLE);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn pacer_accept(
    listener: &TcpListener,
    emitted: &Arc<Mutex<Vec<Emitted>>>,
    stop: &Arc<AtomicBool>,
) {
    let mut connections = Vec::new();
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let (emitted, stop) = (Arc::clone(emitted), Arc::clone(stop));
        let spawned = thread::Builder::new()
            .name("pacer-conn".into())
            .spawn(move || {
                let _ = pacer_serve(stream, &emitted, &stop);
            });
        connections.extend(spawned.ok());
    }
    // Each ends within a read timeout (or one line) of the stop flag.
    for connection in connections {
        let _ = connection.join();
    }
}

fn pacer_serve(
    mut stream: TcpStream,
    emitted: &Mutex<Vec<Emitted>>,
    stop: &AtomicBool,
) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_millis(100)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    stream.set_nodelay(true)?;
    let mut pending = Vec::new();
    while let Some((head, body)) = read_request(&mut stream, &mut pending, stop)? {
        // What the client asks before it connects to the hub.
        let small = match head.split(' ').take(2).collect::<Vec<_>>()[..] {
            ["GET", "/api/version"] => Some(r#"{"version":"0.12.6"}"#),
            ["GET", "/api/tags"] => Some(r#"{"models":[{"name":"llama3.2:latest"}]}"#),
            ["GET", "/v1/models"] => Some(r#"{"object":"list","data":[{"id":"bench"}]}"#),
            _ => None,
        };
        if let Some(json) = small {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                json.len()
            );
            stream.write_all(head.as_bytes())?;
            stream.write_all(json.as_bytes())?;
            continue;
        }
        if head.starts_with("POST /v1/chat/completions ") {
            chat(&mut stream, &body, stop)?;
            continue;
        }
        if !head.starts_with("POST /api/generate ") {
            stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")?;
            continue;
        }
        let prompt = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v["prompt"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let pieces = prompt
            .strip_prefix("pieces=")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        lock(emitted).clear();
        pace(&mut stream, pieces, emitted, stop)?;
    }
    Ok(())
}

/// Streams `pieces` lines on schedule, recording each write's end.
fn pace(
    stream: &mut TcpStream,
    pieces: usize,
    emitted: &Mutex<Vec<Emitted>>,
    stop: &AtomicBool,
) -> io::Result<()> {
    let mut out = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n\
                    Transfer-Encoding: chunked\r\n\r\n"
        .to_vec();
    let start = Instant::now();
    for i in 0..pieces {
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        wait_for_turn(start, i);
        let piece = format!("w{i:05} ");
        push_chunk(&mut out, &ndjson_line(&piece, false));
        let before = Instant::now();
        stream.write_all(&out)?;
        stream.flush()?;
        let after = Instant::now();
        lock(emitted).push(Emitted { before, after });
        out.clear();
    }
    push_chunk(&mut out, &ndjson_line("", true));
    out.extend_from_slice(b"0\r\n\r\n");
    stream.write_all(&out)
}

/// An OpenAI-compatible streamed answer to the prompt `stream=S
/// pieces=N`: N tagged pieces on schedule, as Server-Sent Events, then the
/// finish chunk, the usage chunk and `[DONE]`. Not recorded: the scale
/// scenario checks what arrives, not when.
fn chat(stream: &mut TcpStream, body: &[u8], stop: &AtomicBool) -> io::Result<()> {
    let request: Value = serde_json::from_slice(body).unwrap_or_default();
    let prompt = request["messages"][0]["content"].as_str().unwrap_or("");
    let number = |key: &str| {
        prompt
            .split(' ')
            .find_map(|word| word.strip_prefix(key)?.parse::<usize>().ok())
            .unwrap_or(0)
    };
    let (which, pieces) = (number("stream="), number("pieces="));
    let mut out = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\
                    Transfer-Encoding: chunked\r\n\r\n"
        .to_vec();
    let event = |json: Value| format!("data: {json}\n\n");
    push_chunk(
        &mut out,
        &event(json!({"choices": [{"index": 0,
        "delta": {"role": "assistant", "content": null}, "finish_reason": null}]})),
    );
    let start = Instant::now();
    for i in 0..pieces {
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        wait_for_turn(start, i);
        let piece = format!("s{which:02}-p{i:05} ");
        push_chunk(
            &mut out,
            &event(json!({"choices": [{"index": 0,
            "delta": {"content": piece}, "finish_reason": null}]})),
        );
        stream.write_all(&out)?;
        out.clear();
    }
    push_chunk(
        &mut out,
        &event(json!({"choices": [{"index": 0, "delta": {},
        "finish_reason": "length"}]})),
    );
    push_chunk(
        &mut out,
        &event(json!({"choices": [], "usage": {"prompt_tokens": 3,
        "completion_tokens": pieces, "total_tokens": pieces + 3}})),
    );
    push_chunk(&mut out, "data: [DONE]\n\n");
    out.extend_from_slice(b"0\r\n\r\n");
    stream.write_all(&out)
}

/// Sleeps until piece `i` is due on the fixed schedule that began at
/// `start`, one piece per [`LATENCY_INTERVAL`] (no drift: a late piece
/// does not push the next ones back).
fn wait_for_turn(start: Instant, i: usize) {
    let due = start + LATENCY_INTERVAL * i as u32;
    if let Some(wait) = due.checked_duration_since(Instant::now()) {
        thread::sleep(wait);
    }
}

fn ndjson_line(response: &str, done: bool) -> String {
    let created = ollama::rfc3339(SystemTime::now());
    let end = if done {
        ",\"done\":true,\"done_reason\":\"stop\""
    } else {
        ",\"done\":false"
    };
    format!(
        "{{\"model\":\"llama3.2\",\"created_at\":{},\"response\":{}{end}}}\n",
        Value::from(created),
        Value::from(response)
    )
}

fn push_chunk(out: &mut Vec<u8>, data: &str) {
    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Reads one request (head and `Content-Length` body); `None` at the end
/// of the connection or when stopping.
fn read_request(
    stream: &mut TcpStream,
    pending: &mut Vec<u8>,
    stop: &AtomicBool,
) -> io::Result<Option<(String, Vec<u8>)>> {
    let head_end = loop {
        if let Some(i) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if pending.len() > 64 * 1024 || !fill(stream, pending, stop)? {
            return Ok(None);
        }
    };
    let head = String::from_utf8_lossy(&pending[..head_end]).into_owned();
    let length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while pending.len() < head_end + length {
        if !fill(stream, pending, stop)? {
            return Ok(None);
        }
    }
    let body = pending[head_end..head_end + length].to_vec();
    pending.drain(..head_end + length);
    Ok(Some((head, body)))
}

/// One read into `pending`; false at the end of the connection or when
/// stopping.
fn fill(stream: &mut TcpStream, pending: &mut Vec<u8>, stop: &AtomicBool) -> io::Result<bool> {
    let mut buf = [0u8; 4096];
    loop {
        if stop.load(Ordering::SeqCst) {
            return Ok(false);
        }
        match stream.read(&mut buf) {
            Ok(0) => return Ok(false),
            Ok(n) => {
                pending.extend_from_slice(&buf[..n]);
                return Ok(true);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(e),
        }
    }
}

// ---- /proc ----

fn proc_read(path: String) -> Result<String> {
    std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))
}

/// A `kB` line of `/proc/PID/status`, in KiB.
fn status_kib(pid: u32, key: &str) -> Result<u64> {
    let status = proc_read(format!("/proc/{pid}/status"))?;
    status_field(&status, key).ok_or_else(|| format!("no {key} in /proc/{pid}/status"))
}

/// VmRSS with its anonymous and file-backed parts (the binary's and
/// libraries' pages), for the notes.
fn rss_parts(pid: u32) -> Result<String> {
    let status = proc_read(format!("/proc/{pid}/status"))?;
    let field = |key| status_field(&status, key).map_or("?".into(), mib);
    // Proportional set size: shared library pages divided among their users.
    let pss = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|rollup| status_field(&rollup, "Pss"))
        .map(|kib| format!(", PSS {}", mib(kib)))
        .unwrap_or_default();
    Ok(format!(
        "VmRSS {} = anon {} + file {} + shmem {}{pss}",
        field("VmRSS"),
        field("RssAnon"),
        field("RssFile"),
        field("RssShmem")
    ))
}

fn status_field(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
}

/// utime + stime of the whole process (every thread, live or ended), in
/// clock ticks.
fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = proc_read(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces; the fields after it start with
    // `state` (field 3), so utime (14) and stime (15) are at 11 and 12.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    match (field(11), field(12)) {
        (Some(utime), Some(stime)) => Ok(utime + stime),
        _ => Err(format!("cannot parse /proc/{pid}/stat")),
    }
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

/// The threads' time on the CPU in nanoseconds (first field of each
/// `/proc/PID/task/TID/schedstat`); `None` where the kernel lacks it.
fn schedstat_ns(pid: u32) -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        let text = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
        total += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// Context switches summed over a process's threads.
struct Switches {
    voluntary: u64,
    involuntary: u64,
    threads: usize,
}

impl Switches {
    fn total(&self) -> u64 {
        self.voluntary + self.involuntary
    }

    fn since(&self, earlier: &Switches) -> Switches {
        Switches {
            voluntary: self.voluntary.saturating_sub(earlier.voluntary),
            involuntary: self.involuntary.saturating_sub(earlier.involuntary),
            threads: self.threads,
        }
    }
}

fn switches(pid: u32) -> Result<Switches> {
    let dir = format!("/proc/{pid}/task");
    let tasks = std::fs::read_dir(&dir).map_err(|e| format!("{dir}: {e}"))?;
    let mut sum = Switches {
        voluntary: 0,
        involuntary: 0,
        threads: 0,
    };
    for task in tasks.flatten() {
        let status = proc_read(task.path().join("status").display().to_string())?;
        sum.voluntary += status_field(&status, "voluntary_ctxt_switches").unwrap_or(0);
        sum.involuntary += status_field(&status, "nonvoluntary_ctxt_switches").unwrap_or(0);
        sum.threads += 1;
    }
    Ok(sum)
}

/// The 1-minute load average: other work on the box skews every figure,
/// the latency percentiles most.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn cpus() -> usize {
    thread::available_parallelism().map_or(1, |n| n.get())
}

// ---- sizes ----

fn sizes() -> Vec<Row> {
    let mut rows = Vec::new();
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("dist");
    let mut built: Vec<PathBuf> = std::fs::read_dir(&dist)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.is_file()
                        && p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with("ollama-proxy-client-"))
                })
                .collect()
        })
        .unwrap_or_default();
    built.sort();
    if built.is_empty() {
        rows.push(Row::info(
            "static binaries (dist/ollama-proxy-client-*)",
            "not built; run scripts/build-release.sh".into(),
            String::new(),
        ));
    }
    for path in built {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let name = name.unwrap_or_default();
        let size = file_size(&path);
        let what = format!("size of dist/{name}");
        let linkage = linkage(&path);
        if name.contains("x86_64") && name.contains("musl") {
            rows.push(Row::checked(
                &what,
                bytes(size),
                "<= 2 MiB (static x86_64)".into(),
                size <= STATIC_BINARY_BYTES,
                linkage,
            ));
        } else {
            rows.push(Row::info(&what, bytes(size), linkage));
        }
    }
    let local = release_dir().join("ollama-proxy-client");
    rows.push(Row::info(
        "size of target/release/ollama-proxy-client",
        bytes(file_size(&local)),
        linkage(&local),
    ));
    rows
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// "static", or "dynamic, <its loader>", from the ELF program headers
/// (little-endian ELF32 or ELF64: every target this project builds).
fn linkage(path: &Path) -> String {
    let Ok(elf) = std::fs::read(path) else {
        return "missing".into();
    };
    let uint = |at: usize, size: usize| -> Option<u64> {
        let bytes = elf.get(at..at.checked_add(size)?)?;
        Some(bytes.iter().rev().fold(0, |n, b| n << 8 | u64::from(*b)))
    };
    let wide = match elf.get(..6) {
        Some([0x7f, b'E', b'L', b'F', 1, 1]) => false,
        Some([0x7f, b'E', b'L', b'F', 2, 1]) => true,
        _ => return "not a little-endian ELF file".into(),
    };
    // Offsets of e_phoff, e_phentsize, e_phnum, and of p_offset and
    // p_filesz within a program header, for ELF32 and ELF64.
    let (word, phoff, phentsize, phnum, p_offset, p_filesz) = match wide {
        false => (4, 0x1c, 0x2a, 0x2c, 4, 16),
        true => (8, 0x20, 0x36, 0x38, 8, 32),
    };
    let (Some(table), Some(entry), Some(count)) =
        (uint(phoff, word), uint(phentsize, 2), uint(phnum, 2))
    else {
        return "truncated ELF header".into();
    };
    for i in 0..count {
        let header = (table + i * entry) as usize;
        if uint(header, 4) == Some(3) {
            // PT_INTERP: the dynamic loader's path.
            let interp = uint(header + p_offset, word)
                .zip(uint(header + p_filesz, word))
                .and_then(|(at, len)| elf.get(at as usize..(at + len) as usize))
                .and_then(|raw| CStr::from_bytes_until_nul(raw).ok())
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            return format!("dynamic, {interp}");
        }
    }
    "static".into()
}

// ---- the table ----

enum Verdict {
    Pass,
    Fail,
    Info,
}

struct Row {
    what: String,
    value: String,
    budget: String,
    verdict: Verdict,
    notes: String,
}

impl Row {
    fn checked(what: &str, value: String, budget: String, pass: bool, notes: String) -> Row {
        Row {
            what: what.into(),
            value,
            budget,
            verdict: if pass { Verdict::Pass } else { Verdict::Fail },
            notes,
        }
    }

    fn info(what: &str, value: String, notes: String) -> Row {
        Row {
            what: what.into(),
            value,
            budget: "-".into(),
            verdict: Verdict::Info,
            notes,
        }
    }
}

fn print_table(client: &Path, load: &str, rows: &[Row]) {
    let checked = rows
        .iter()
        .filter(|r| !matches!(r.verdict, Verdict::Info))
        .count();
    let passed = rows
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Pass))
        .count();
    let mut out = format!(
        "ollama-proxy-client benchmark: {} UTC, uname -m {}, {} CPUs, load average {load}\n\
         client: {} ({})\n\n\
         | measurement | value | budget | result | notes |\n\
         | --- | --- | --- | --- | --- |\n",
        ollama::rfc3339(SystemTime::now())
            .split('.')
            .next()
            .unwrap_or_default()
            .trim_end_matches('Z'),
        machine(),
        cpus(),
        client.display(),
        linkage(client)
    );
    for row in rows {
        let verdict = match row.verdict {
            Verdict::Pass => "pass",
            Verdict::Fail => "**FAIL**",
            Verdict::Info => "-",
        };
        out += &format!(
            "| {} | {} | {} | {verdict} | {} |\n",
            row.what,
            row.value,
            row.budget,
            row.notes.replace('|', "\\|")
        );
    }
    out += &format!("\n{passed} of {checked} budget lines pass.\n");
    print!("{out}");
}

/// `uname -m`.
fn machine() -> String {
    // SAFETY: utsname is plain old data; uname fills it with NUL-terminated
    // strings.
    unsafe {
        let mut name: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut name) != 0 {
            return std::env::consts::ARCH.into();
        }
        CStr::from_ptr(name.machine.as_ptr())
            .to_string_lossy()
            .into_owned()
    }
}

// ---- numbers ----

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `later - earlier` in microseconds, negative when `later` is earlier.
fn signed_us(later: Instant, earlier: Instant) -> f64 {
    match later.checked_duration_since(earlier) {
        Some(d) => d.as_secs_f64() * 1e6,
        None => -(earlier.duration_since(later).as_secs_f64() * 1e6),
    }
}

fn us(value: f64) -> String {
    format!("{value:.0} us")
}

fn mib(kib: u64) -> String {
    format!("{:.2} MiB", kib as f64 / 1024.0)
}

fn bytes(n: u64) -> String {
    format!("{:.2} MiB ({n} B)", n as f64 / (1024.0 * 1024.0))
}
