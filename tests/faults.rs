//! Fault injection: the real binary between the hub and Ollama emulators,
//! with connections closed, stalled, refused and proxied on 127.0.0.1, and
//! signals sent to it. Timings are shrunk through the config file so that
//! every scenario runs in well under a second or two.

mod support;

use std::collections::BTreeSet;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::answers::{buyer, error_of, frames_for, is_end, streamed_answer, text_of, WAIT};
use support::client::{stop_event, test_config, with, Client, Hangup, Launch, TempDir, TOKEN};
use support::faultproxy::FaultProxy;
use support::hub::Hub;
use support::ollama::{Ollama, Reply};
use support::tls::TestCa;

fn fast(config: Value) -> Value {
    let config = with(config, "ping_interval_secs", json!(0.1));
    with(config, "dead_after_secs", json!(0.4))
}

fn pieces(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:02} ")).collect()
}

#[test]
fn an_answer_survives_the_hub_closing_the_connection_mid_stream() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let client = Client::start(&test_config(ollama.port()), &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    let expected = pieces("p", 30);
    ollama.push(Reply::pieces(&expected).line_delay(Duration::from_millis(15)));
    hub.send_json(&buyer(&json!(1), "long answer"));
    hub.wait_for(WAIT, |r| frames_for(r, &json!(1)).len() >= 5);
    hub.close_connection();
    assert!(hub.wait_connected(2, WAIT), "{}", client.output());
    let frames = streamed_answer(&hub, &json!(1));
    assert_eq!(
        text_of(&frames),
        expected.concat(),
        "complete, in order, once"
    );
    assert_eq!(frames.iter().filter(|f| is_end(f)).count(), 1);
    let connections: BTreeSet<usize> = hub
        .received()
        .iter()
        .filter(|r| r.json["messageId"] == 1)
        .map(|r| r.conn)
        .collect();
    assert_eq!(connections.len(), 2, "the answer spans both connections");
    assert!(
        hub.close_frames().contains(&Some(1000)),
        "the close was answered"
    );
}

#[test]
fn a_half_open_connection_is_noticed_and_replaced() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let proxy = FaultProxy::start(([127, 0, 0, 1], hub.port()).into());
    let config = fast(test_config(ollama.port()));
    let client = Client::start(&config, &["--server", &proxy.ws_url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    assert!(hub.wait_pings(2, WAIT), "the client pings while idle");
    let stalled_at = Instant::now();
    proxy.stall(true);
    assert!(
        client.wait_output("nothing received from the hub for 0.4 s", WAIT),
        "{}",
        client.output()
    );
    let noticed = stalled_at.elapsed();
    assert!(
        noticed < Duration::from_secs(3),
        "noticed after {noticed:?}"
    );
    proxy.stall(false);
    assert!(hub.wait_connected(2, WAIT), "{}", client.output());
    hub.send_json(&buyer(&json!(1), "after the outage"));
    assert_eq!(
        text_of(&streamed_answer(&hub, &json!(1))),
        "after the outage"
    );
}

#[test]
fn a_hub_that_never_answers_the_handshake_is_abandoned() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/auth-proxy", silent.local_addr().unwrap());
    // The client connects only once Ollama answers.
    let ollama = Ollama::start();
    let config = with(
        test_config(ollama.port()),
        "handshake_timeout_secs",
        json!(0.3),
    );
    let client = Client::start(&config, &["--server", &url]);
    let message = "handshake did not finish within 0.3 s";
    assert!(
        client.wait_output_count(message, 2, WAIT),
        "{}",
        client.output()
    );
}

/// The delays the client announced, in seconds.
fn announced_delays(output: &str) -> Vec<f64> {
    output
        .lines()
        .filter_map(|l| l.split("reconnecting in ").nth(1))
        .filter_map(|rest| rest.split(' ').next()?.parse().ok())
        .collect()
}

#[test]
fn reconnects_follow_the_backoff_schedule_then_the_hub_comes_back() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let proxy = FaultProxy::start(([127, 0, 0, 1], hub.port()).into());
    proxy.refuse(true);
    let config = with(
        test_config(ollama.port()),
        "reconnect_base_secs",
        json!(0.1),
    );
    let config = with(config, "reconnect_max_secs", json!(0.3));
    let client = Client::start(&config, &["--server", &proxy.ws_url()]);
    assert!(
        client.wait_output_count("reconnecting in", 5, WAIT),
        "{}",
        client.output()
    );
    proxy.refuse(false);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    let delays = announced_delays(&client.output());
    let plan = [0.1, 0.2, 0.3, 0.3, 0.3];
    for (delay, plain) in delays.iter().zip(plan) {
        // 0-20 % jitter, and the log rounds to 0.01 s.
        assert!(
            *delay >= plain - 0.005 && *delay <= plain * 1.2 + 0.005,
            "{delays:?}"
        );
    }
    assert!(client.output().contains("cannot connect to the hub"));
    hub.send_json(&buyer(&json!(1), "back again"));
    assert_eq!(text_of(&streamed_answer(&hub, &json!(1))), "back again");
}

#[test]
fn a_rejected_token_waits_the_maximum_then_a_new_token_is_accepted() {
    let ollama = Ollama::start();
    let hub = Hub::start("the-new-token");
    let config = with(
        test_config(ollama.port()),
        "reconnect_max_secs",
        json!(0.25),
    );
    let client = Client::start(&config, &["--server", &hub.url()]);
    assert!(hub.wait_rejected(2, WAIT));
    assert!(client.wait_output_count("reconnecting in", 2, WAIT));
    let output = client.output();
    assert!(output.contains("ERROR") && output.contains("rejected the token (HTTP 401)"));
    for delay in announced_delays(&output) {
        assert!((0.245..=0.305).contains(&delay), "{output}");
    }
    drop(client);
    let home_config = with(config, "token", json!("stale"));
    let client = Client::start(
        &home_config,
        &["--server", &hub.url(), "--force-token", "the-new-token"],
    );
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    let saved =
        std::fs::read_to_string(client.home.path().join(".config/ollama_proxy/config.json"))
            .unwrap();
    assert!(saved.contains("the-new-token"));
}

#[test]
fn a_full_outbox_drops_the_oldest_answer_whole_and_keeps_the_rest() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let proxy = FaultProxy::start(([127, 0, 0, 1], hub.port()).into());
    let config = with(test_config(ollama.port()), "outbox_bytes", json!(1024));
    let config = with(config, "max_parallel", json!(2));
    let client = Client::start(&config, &["--server", &proxy.ws_url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    // Both start after the connection is gone; the big one fills the outbox
    // before the small one starts.
    let big: Vec<String> = (0..40)
        .map(|i| format!("{i:02}{}", "x".repeat(40)))
        .collect();
    ollama.push(Reply::pieces(&big).first_delay(Duration::from_millis(200)));
    ollama.push(Reply::pieces(&["small", " answer"]).first_delay(Duration::from_millis(500)));
    hub.send_json(&buyer(&json!(1), "big"));
    assert!(ollama.wait_requests(1, WAIT));
    hub.send_json(&buyer(&json!(2), "small"));
    assert!(ollama.wait_requests(2, WAIT));
    proxy.refuse(true);
    proxy.drop_all();
    assert!(
        client.wait_output("dropped the answer to request 1", WAIT),
        "{}",
        client.output()
    );
    let small_done = client.wait_output("request 2 answered", WAIT);
    assert!(small_done, "{}", client.output());
    proxy.refuse(false);
    let frames = streamed_answer(&hub, &json!(2));
    assert_eq!(text_of(&frames), "small answer");
    assert!(
        frames_for(&hub.received(), &json!(1)).is_empty(),
        "nothing of the dropped answer"
    );
}

#[test]
fn sigterm_lets_short_answers_finish_and_ends_long_ones_cleanly() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let config = with(test_config(ollama.port()), "max_parallel", json!(2));
    let config = with(config, "shutdown_grace_secs", json!(0.5));
    let mut client = Client::start(&config, &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    let short = pieces("s", 5);
    let long = pieces("l", 200);
    let gap = Duration::from_millis(40);
    ollama.push(Reply::pieces(&short).line_delay(gap));
    ollama.push(Reply::pieces(&long).line_delay(gap));
    hub.send_json(&buyer(&json!(1), "short"));
    assert!(ollama.wait_requests(1, WAIT));
    hub.send_json(&buyer(&json!(2), "long"));
    hub.wait_for(WAIT, |r| {
        !frames_for(r, &json!(1)).is_empty() && !frames_for(r, &json!(2)).is_empty()
    });
    let signalled = Instant::now();
    // SAFETY: sends SIGTERM to the child this test started.
    unsafe { libc::kill(client.pid() as i32, libc::SIGTERM) };
    let status = client.wait_exit(WAIT).expect("exits");
    let took = signalled.elapsed();
    assert_eq!(status.code(), Some(0), "{}", client.output());
    assert!(took < Duration::from_millis(2500), "took {took:?}");
    let short_frames = streamed_answer(&hub, &json!(1));
    assert_eq!(text_of(&short_frames), short.concat());
    assert!(error_of(&short_frames).is_none());
    let long_frames = streamed_answer(&hub, &json!(2));
    assert_eq!(
        error_of(&long_frames).as_deref(),
        Some("Error: owner client is shutting down")
    );
    assert!(long.concat().starts_with(&text_of(&long_frames)));
    assert!(is_end(long_frames.last().unwrap()));
    assert!(
        ollama.wait_client_closed(1, WAIT),
        "Ollama saw the request closed"
    );
    assert_went_away(&hub);
}

#[test]
fn requests_after_sigterm_are_answered_with_the_shutdown_error() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let config = with(test_config(ollama.port()), "shutdown_grace_secs", json!(1));
    let mut client = Client::start(&config, &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    ollama.push(Reply::pieces(&pieces("x", 10)).line_delay(Duration::from_millis(50)));
    hub.send_json(&buyer(&json!(1), "running"));
    hub.wait_for(WAIT, |r| !frames_for(r, &json!(1)).is_empty());
    // SAFETY: signals the child this test started.
    unsafe { libc::kill(client.pid() as i32, libc::SIGTERM) };
    let received = format!("{} received", stop_event("SIGTERM"));
    assert!(client.wait_output(&received, WAIT), "{}", client.output());
    hub.send_json(&buyer(&json!(2), "too late"));
    let refused = streamed_answer(&hub, &json!(2));
    assert_eq!(
        error_of(&refused).as_deref(),
        Some("Error: owner client is shutting down")
    );
    assert_eq!(
        text_of(&streamed_answer(&hub, &json!(1))),
        pieces("x", 10).concat()
    );
    assert_eq!(client.wait_exit(WAIT).and_then(|s| s.code()), Some(0));
}

#[test]
fn a_second_signal_exits_at_once() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let config = with(test_config(ollama.port()), "shutdown_grace_secs", json!(30));
    let mut client = Client::start(&config, &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    ollama.push(Reply::pieces(&["never"]).hang_before_first());
    hub.send_json(&buyer(&json!(1), "hangs"));
    assert!(ollama.wait_requests(1, WAIT));
    let pid = client.pid() as i32;
    // SAFETY: signals the child this test started.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let received = format!("{} received", stop_event("SIGINT"));
    assert!(client.wait_output(&received, WAIT), "{}", client.output());
    let second = Instant::now();
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGINT) };
    assert_eq!(client.wait_exit(WAIT).and_then(|s| s.code()), Some(0));
    assert!(second.elapsed() < Duration::from_secs(2));
}

#[test]
fn sighup_lets_a_running_answer_finish_and_exits_0_like_sigterm() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let config = with(test_config(ollama.port()), "shutdown_grace_secs", json!(5));
    let mut client = Launch::with_config(&config)
        .args(&["--server", &hub.url()])
        .hangup(Hangup::Default)
        .start();
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    let running = pieces("h", 10);
    ollama.push(Reply::pieces(&running).line_delay(Duration::from_millis(30)));
    hub.send_json(&buyer(&json!(1), "running"));
    hub.wait_for(WAIT, |r| !frames_for(r, &json!(1)).is_empty());
    // SAFETY: signals the child this test started (the terminal closed).
    unsafe { libc::kill(client.pid() as i32, libc::SIGHUP) };
    assert!(
        client.wait_output("SIGHUP received", WAIT),
        "{}",
        client.output()
    );
    hub.send_json(&buyer(&json!(2), "too late"));
    let refused = streamed_answer(&hub, &json!(2));
    assert_eq!(
        error_of(&refused).as_deref(),
        Some("Error: owner client is shutting down")
    );
    let frames = streamed_answer(&hub, &json!(1));
    assert_eq!(text_of(&frames), running.concat());
    assert!(error_of(&frames).is_none(), "{frames:?}");
    assert!(is_end(frames.last().unwrap()), "{frames:?}");
    let status = client.wait_exit(WAIT);
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "{status:?}: {}",
        client.output()
    );
    assert_went_away(&hub);
}

#[test]
fn started_with_sighup_ignored_as_by_nohup_the_client_keeps_serving() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let mut client = Launch::with_config(&test_config(ollama.port()))
        .args(&["--server", &hub.url()])
        .hangup(Hangup::Ignored)
        .start();
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    // SAFETY: signals the child this test started (the terminal closed).
    unsafe { libc::kill(client.pid() as i32, libc::SIGHUP) };
    ollama.push(Reply::pieces(&pieces("n", 3)));
    hub.send_json(&buyer(&json!(1), "after the hangup"));
    let frames = streamed_answer(&hub, &json!(1));
    assert_eq!(text_of(&frames), pieces("n", 3).concat());
    assert!(error_of(&frames).is_none(), "{frames:?}");
    client.terminate();
    assert_eq!(client.wait_exit(WAIT).and_then(|s| s.code()), Some(0));
    let output = client.output();
    assert!(output.contains("SIGTERM received"), "{output}");
    assert!(!output.contains("SIGHUP"), "{output}");
}

/// Open file descriptors and threads of a process, from /proc.
fn fds_and_threads(pid: u32) -> (usize, usize) {
    let count = |dir: String| std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
    (
        count(format!("/proc/{pid}/fd")),
        count(format!("/proc/{pid}/task")),
    )
}

#[test]
fn two_hundred_reconnects_leak_no_descriptor_or_thread() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let config = with(
        test_config(ollama.port()),
        "reconnect_base_secs",
        json!(0.001),
    );
    let config = with(config, "reconnect_max_secs", json!(0.002));
    let client = Client::start(&config, &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    hub.send_json(&buyer(&json!(1), "warm up the Ollama connection"));
    streamed_answer(&hub, &json!(1));
    let before = fds_and_threads(client.process_pid());
    for n in 1..=200 {
        hub.drop_connection();
        assert!(hub.wait_connected(n + 1, WAIT), "reconnect {n}");
    }
    hub.send_json(&buyer(&json!(2), "still fine"));
    assert_eq!(text_of(&streamed_answer(&hub, &json!(2))), "still fine");
    let after = fds_and_threads(client.process_pid());
    assert_eq!(
        before, after,
        "(fds, threads) before and after 200 reconnects"
    );
}

#[test]
fn the_hub_connection_goes_through_https_proxy_with_connect() {
    let dir = TempDir::new();
    let ca = TestCa::new("proxied");
    let ca_path = ca.write_pem(dir.path());
    let ollama = Ollama::start();
    let hub = Hub::start_tls(TOKEN, &ca);
    let proxy = FaultProxy::start_connect();
    let proxy_url = format!("http://127.0.0.1:{}", proxy.port());
    let args = [
        "--server",
        &hub.url(),
        "--ca-file",
        ca_path.to_str().unwrap(),
    ];
    let env = [
        ("HTTPS_PROXY", proxy_url.as_str()),
        ("HTTP_PROXY", proxy_url.as_str()),
    ];
    let client = Client::start_with_env(&test_config(ollama.port()), &args, &env);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    assert_eq!(
        proxy.connect_targets(),
        [format!("localhost:{}", hub.port())]
    );
    hub.send_json(&buyer(&json!(1), "through the proxy"));
    assert_eq!(
        text_of(&streamed_answer(&hub, &json!(1))),
        "through the proxy"
    );
    assert_eq!(
        ollama.generate_requests().len(),
        1,
        "Ollama is reached directly"
    );

    // NO_PROXY covering the hub's host: straight to the hub.
    let env = [
        ("HTTPS_PROXY", proxy_url.as_str()),
        ("NO_PROXY", "localhost"),
    ];
    let direct = Client::start_with_env(&test_config(ollama.port()), &args, &env);
    assert!(hub.wait_connected(2, WAIT), "{}", direct.output());
    assert_eq!(proxy.connect_targets().len(), 1);
}

// ------------------------------------------ how a connection ends, exactly

/// Closes `stream` with a TCP reset (RST) instead of an orderly FIN.
fn reset(stream: TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on an open socket with a correctly sized value.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(stream);
}

/// A "hub" that accepts one connection, reads what the client sends first
/// (the HTTP upgrade or the TLS ClientHello) and then ends it with `end`.
fn hub_that_ends_the_handshake(end: fn(TcpStream)) -> (u16, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hub = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut first = [0u8; 512];
        let _ = stream.read(&mut first);
        end(stream);
    });
    (port, hub)
}

fn check_output(config: &Value, args: &[&str]) -> String {
    let mut client = Client::start(config, &[&["--check"], args].concat());
    let status = client.wait_exit(WAIT).expect("--check ends");
    assert_eq!(status.code(), Some(1), "{}", client.output());
    client.output()
}

#[test]
fn a_reset_during_the_handshake_is_a_connection_error() {
    let ollama = Ollama::start();
    let (port, hub) = hub_that_ends_the_handshake(reset);
    let url = format!("ws://127.0.0.1:{port}/auth-proxy");
    let output = check_output(&test_config(ollama.port()), &["--server", &url]);
    hub.join().unwrap();
    assert!(
        output.contains("cannot connect: Connection reset"),
        "{output}"
    );
}

#[test]
fn a_hub_that_closes_during_the_tls_handshake_says_so() {
    let ollama = Ollama::start();
    let (port, hub) = hub_that_ends_the_handshake(drop);
    let ca = TestCa::new("closing");
    let home = TempDir::new();
    let ca_file = ca.write_pem(home.path());
    let url = format!("wss://127.0.0.1:{port}/auth-proxy");
    let output = check_output(
        &test_config(ollama.port()),
        &["--server", &url, "--ca-file", ca_file.to_str().unwrap()],
    );
    hub.join().unwrap();
    assert!(
        output.contains("the hub closed the connection during the handshake"),
        "{output}"
    );
}

#[test]
fn a_reset_connection_is_reported_as_broken_and_replaced() {
    let ollama = Ollama::start();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "ws://127.0.0.1:{}/auth-proxy",
        listener.local_addr().unwrap().port()
    );
    let (reconnected, seen) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let ws = tungstenite::accept(stream.try_clone().unwrap()).unwrap();
        drop(ws);
        reset(stream);
        let second = listener.accept();
        let _ = reconnected.send(second.is_ok());
    });
    let config = with(
        test_config(ollama.port()),
        "reconnect_base_secs",
        json!(0.05),
    );
    let client = Client::start(&config, &["--server", &url]);
    assert_eq!(seen.recv_timeout(WAIT), Ok(true), "{}", client.output());
    assert!(
        client.wait_output("connection broken: ", WAIT),
        "{}",
        client.output()
    );
    assert!(client.output().contains("reset"), "{}", client.output());
}

#[test]
fn a_tls_connection_dropped_without_a_close_is_a_close_by_the_hub() {
    let ollama = Ollama::start();
    let ca = TestCa::new("dropping");
    let hub = Hub::start_tls(TOKEN, &ca);
    let home = TempDir::new();
    let ca_file = ca.write_pem(home.path());
    let config = with(
        test_config(ollama.port()),
        "reconnect_base_secs",
        json!(0.05),
    );
    let client = Client::start(
        &config,
        &[
            "--server",
            &hub.url(),
            "--ca-file",
            ca_file.to_str().unwrap(),
        ],
    );
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    hub.drop_connection();
    assert!(hub.wait_connected(2, WAIT), "{}", client.output());
    assert!(
        client
            .output()
            .contains("the hub closed the connection (TCP closed without a Close frame)"),
        "{}",
        client.output()
    );
}

#[test]
fn a_corrupted_tls_record_replaces_the_connection() {
    let ollama = Ollama::start();
    let ca = TestCa::new("corrupt");
    let hub = Hub::start_tls(TOKEN, &ca);
    let proxy = FaultProxy::start(([127, 0, 0, 1], hub.port()).into());
    let home = TempDir::new();
    let ca_file = ca.write_pem(home.path());
    let url = proxy.ws_url().replace("ws://", "wss://");
    let config = with(
        test_config(ollama.port()),
        "reconnect_base_secs",
        json!(0.05),
    );
    let client = Client::start(
        &config,
        &["--server", &url, "--ca-file", ca_file.to_str().unwrap()],
    );
    assert!(
        client.wait_output("connected to the hub (connection #1)", WAIT),
        "{}",
        client.output()
    );
    // The client's log line can come before the hub has the connection.
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    proxy.corrupt_next_to_client();
    hub.send_json(&json!({"type": "notice", "content": "garbled on the way"}));
    assert!(hub.wait_connected(2, WAIT), "{}", client.output());
    assert!(
        client.wait_output("connection broken: TLS", WAIT),
        "{}",
        client.output()
    );
}

#[test]
fn a_hub_frame_far_over_the_limit_replaces_the_connection() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    // Frames up to 16 x 1024 bytes are read and ignored; this one is not.
    let config = with(test_config(ollama.port()), "max_frame_bytes", json!(1024));
    let config = with(config, "reconnect_base_secs", json!(0.05));
    let client = Client::start(&config, &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    hub.send_text(&"x".repeat(20_000));
    assert!(hub.wait_connected(2, WAIT), "{}", client.output());
    assert!(
        client.output().contains("hub frame too large to read"),
        "{}",
        client.output()
    );
    // The hub was told why: 1009, message too big.
    assert!(
        hub.close_frames().contains(&Some(1009)),
        "{:?}",
        hub.close_frames()
    );
}

/// The client's peak resident memory (VmHWM), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn huge_prompts_are_refused_with_an_answer_and_memory_stays_bounded() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    // Natively: the default max_frame_bytes (1 MiB, so frames up to 16 MiB
    // are read) and frames of 10 and 20 MB. Under qemu, where everything runs
    // some twenty times slower, the same shape at a sixteenth of the size.
    let emulated = std::env::var_os("OPC_TEST_RUNNER").is_some();
    let (limit, readable, unreadable) = match emulated {
        false => (1 << 20, 10_000_000, 20_000_000),
        true => (1 << 16, 640_000, 1_250_000),
    };
    let config = with(
        test_config(ollama.port()),
        "reconnect_base_secs",
        json!(0.05),
    );
    let config = with(config, "max_frame_bytes", json!(limit));
    let client = Client::start(&config, &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    let big = buyer(&json!(1), &"p".repeat(readable)).to_string();
    hub.send_text(&big);
    let frames = streamed_answer(&hub, &json!(1));
    let error = error_of(&frames).unwrap_or_default();
    assert_eq!(
        error,
        format!(
            "Error: prompt too large ({} bytes, this box accepts at most {limit})",
            big.len()
        )
    );
    assert!(is_end(frames.last().unwrap()));
    assert_eq!(hub.connections(), 1, "the connection stays up");
    // Over 16 x the limit, a frame is not read at all: the connection is
    // replaced (after a Close 1009, which a hub still busy writing may not
    // read; the test above sees it).
    hub.send_text(&buyer(&json!(2), &"p".repeat(unreadable)).to_string());
    assert!(hub.wait_connected(2, WAIT), "{}", client.output());
    assert!(
        client.output().contains("hub frame too large to read"),
        "{}",
        client.output()
    );
    hub.send_json(&buyer(&json!(3), "still serving"));
    assert_eq!(text_of(&streamed_answer(&hub, &json!(3))), "still serving");
    if !emulated {
        // One 16 MiB frame buffer at most, and the text of the 10 MB one
        // is never copied.
        let peak = peak_rss_kib(client.pid());
        assert!(peak < 48 * 1024, "peak RSS {peak} KiB");
        eprintln!("peak RSS after a 10 MB and a 20 MB frame: {peak} KiB");
    }
}

#[test]
fn the_hubs_close_code_is_logged() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let config = with(
        test_config(ollama.port()),
        "reconnect_base_secs",
        json!(0.05),
    );
    let client = Client::start(&config, &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    hub.close_connection();
    assert!(hub.wait_connected(2, WAIT), "{}", client.output());
    assert!(
        client
            .output()
            .contains("the hub closed the connection (code 1000)"),
        "{}",
        client.output()
    );
}

#[test]
fn a_dead_connection_is_closed_at_once_not_at_the_reconnect() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let proxy = FaultProxy::start(([127, 0, 0, 1], hub.port()).into());
    // The reconnect is far away: only the client's own close can end the
    // old connection in time.
    let config = with(
        fast(test_config(ollama.port())),
        "reconnect_base_secs",
        json!(60),
    );
    let client = Client::start(&config, &["--server", &proxy.ws_url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    proxy.stall(true);
    assert!(
        client.wait_output("nothing received from the hub", WAIT),
        "{}",
        client.output()
    );
    proxy.stall(false);
    let deadline = Instant::now() + WAIT;
    while hub.open_connections() > 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(hub.open_connections(), 0, "{}", client.output());
}

/// The hub was told the client is going away: Close 1001.
fn assert_went_away(hub: &Hub) {
    assert!(hub.wait_close_frames(1, WAIT));
    assert!(
        hub.close_frames().contains(&Some(1001)),
        "{:?}",
        hub.close_frames()
    );
}

#[test]
fn on_sigterm_answers_waiting_for_the_hub_get_the_rest_of_the_grace_period() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let proxy = FaultProxy::start(([127, 0, 0, 1], hub.port()).into());
    let config = with(test_config(ollama.port()), "shutdown_grace_secs", json!(10));
    let mut client = Client::start(&config, &["--server", &proxy.ws_url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    // The answer is made while the hub is away, and waits in the outbox.
    ollama.push(Reply::text("kept for the hub").first_delay(Duration::from_millis(300)));
    hub.send_json(&buyer(&json!(1), "kept"));
    assert!(ollama.wait_requests(1, WAIT));
    proxy.refuse(true);
    proxy.drop_all();
    assert!(
        client.wait_output("request 1 answered", WAIT),
        "{}",
        client.output()
    );
    let failed = "cannot connect to the hub";
    let before = client.output().matches(failed).count();
    // SAFETY: sends SIGTERM to the child this test started.
    unsafe { libc::kill(client.pid() as i32, libc::SIGTERM) };
    // Well past the moment a stop without a grace period would give up
    // (half a second): eight more failed attempts, 0.05 to 0.2 s apart.
    assert!(
        client.wait_output_count(failed, before + 8, WAIT),
        "{}",
        client.output()
    );
    assert!(
        !client.output().contains("not delivered"),
        "the stop gave up on the answer:\n{}",
        client.output()
    );
    proxy.refuse(false);
    let frames = streamed_answer(&hub, &json!(1));
    assert_eq!(text_of(&frames), "kept for the hub");
    assert_eq!(client.wait_exit(WAIT).and_then(|s| s.code()), Some(0));
}
