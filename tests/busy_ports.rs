//! The owner's two doors under a crowd: the real binary with its metrics
//! port and control socket, each held by 100 connections that send
//! nothing. `/healthz` and `--status` must still answer at once, and the
//! crowd must cost a bounded number of threads and descriptors.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use support::answers::WAIT;
use support::client::{config_dir, test_config, Client, Launch, TOKEN};
use support::hub::Hub;
use support::ollama::Ollama;

/// How soon an answer must come: far less than one silent connection's
/// deadline (2 s), let alone a hundred of them.
const AT_ONCE: Duration = Duration::from_secs(1);

fn fds_and_threads(pid: u32) -> (usize, usize) {
    let count = |dir: String| std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
    (
        count(format!("/proc/{pid}/fd")),
        count(format!("/proc/{pid}/task")),
    )
}

fn healthz(port: u16) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(AT_ONCE)).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    match stream.read_to_string(&mut answer) {
        Ok(_) => answer,
        Err(e) => panic!("no answer within {AT_ONCE:?}: {e}"),
    }
}

/// A connection to the control door that says nothing.
enum Silent {
    Unix(#[allow(dead_code)] UnixStream),
    Tcp(#[allow(dead_code)] TcpStream),
}

/// Opens a [`Silent`] connection to the control door `socket`: the Unix
/// socket, or on Windows the 127.0.0.1 port that `control.sock` names
/// (`127.0.0.1:PORT SECRET`), where the client waits for the secret.
fn silent_control(socket: &std::path::Path) -> Silent {
    if !support::client::windows() {
        return Silent::Unix(UnixStream::connect(socket).unwrap());
    }
    let published = std::fs::read_to_string(socket).unwrap();
    let address = published.split_whitespace().next().unwrap_or_default();
    let stream = TcpStream::connect(address);
    Silent::Tcp(stream.unwrap_or_else(|e| panic!("{address} ({published:?}): {e}")))
}

#[test]
fn a_hundred_silent_connections_on_each_door_hold_up_neither() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let (client, port) =
        Client::start_with_metrics(&test_config(ollama.port()), &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    let home = client.home.path().to_path_buf();
    let socket = config_dir(&home).join("control.sock");
    let pid = client.process_pid();
    let before = fds_and_threads(pid);

    let silent_tcp: Vec<TcpStream> = (0..100)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    let silent_control: Vec<Silent> = (0..100).map(|_| silent_control(&socket)).collect();

    let asked = Instant::now();
    let answer = healthz(port);
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.ends_with("ok\n"), "{answer}");
    let status = Launch::in_home(&home)
        .args(&["--status", "--json"])
        .run(WAIT);
    let took = asked.elapsed();
    assert_eq!(status.code(), Some(0), "{}", status.describe());
    assert!(
        status.stdout.contains("\"serving\":true"),
        "{}",
        status.stdout
    );
    assert!(took < 2 * AT_ONCE + Duration::from_secs(1), "took {took:?}");

    let (fds, threads) = fds_and_threads(pid);
    assert!(
        threads <= before.1 + 2 * 16,
        "threads {threads}, {} before",
        before.1
    );
    assert!(
        fds <= before.0 + 4 * 16,
        "descriptors {fds}, {} before",
        before.0
    );
    // Still held open by this test all along.
    assert_eq!(silent_tcp.len() + silent_control.len(), 200);
    drop((silent_tcp, silent_control));
    assert!(healthz(port).ends_with("ok\n"));
}
