//! A demo that needs neither a hub nor Ollama: it starts the test rig's hub
//! emulator (over TLS, with a CA made on the spot) and Ollama emulator on
//! 127.0.0.1, runs the real client against them with a throw-away HOME, has
//! the hub send a buyer prompt, and prints the answer as it streams back.
//!
//! `scripts/demo.sh` builds and runs it. `--serve` only starts the two
//! emulators and prints how to point a client at them, until Enter.

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

use std::io::{BufRead, BufReader};
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use hub::Hub;
use launch::Runner;
use ollama::{Ollama, Reply};
use serde_json::json;
use tls::TestCa;

const TOKEN: &str = "demo-token-1234";
const ANSWER: &str = "The sky looks blue because air scatters short (blue) wavelengths \
                      of sunlight far more than long (red) ones: Rayleigh scattering. 🌍\n";

const USAGE: &str = "\
usage: demo [--client PATH] [--serve]

Runs the client (target/release/ollama-proxy-client, or --client PATH)
against a hub emulator (TLS, a CA made on the spot) and an Ollama emulator
on 127.0.0.1, and shows a buyer's answer streaming back.
  --serve   only start the two emulators and print how to point a client
            at them; Enter stops them
  --help    this text
scripts/demo.sh builds and runs it.";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if wants_help(&args) {
        println!("{USAGE}");
        return;
    }
    let work = std::env::temp_dir().join(format!("opc-demo-{}", std::process::id()));
    // Private (0700) and new: no other user can plant files in it.
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&work)
        .expect("a new private temporary directory");
    let ca = TestCa::new("demo");
    let ca_path = ca.write_pem(&work);
    let ollama = Ollama::start();
    let hub = Hub::start_tls(TOKEN, &ca);
    let result = if args.iter().any(|a| a == "--serve") {
        serve(&hub, &ollama, &ca_path, &work, &client_path(&args));
        Ok(())
    } else {
        demo(&hub, &ollama, &ca_path, &work, client_path(&args))
    };
    let _ = std::fs::remove_dir_all(&work);
    if let Err(e) = result {
        eprintln!("demo failed: {e}");
        std::process::exit(1);
    }
}

/// How to point a client at the emulators: the built client's own path (it
/// is not on the PATH after a build), and a config (with the log beside
/// it) in this run's private folder, never in /tmp itself.
fn try_line(
    client: &std::path::Path,
    hub: &Hub,
    ollama_port: u16,
    ca_path: &std::path::Path,
    work: &std::path::Path,
) -> String {
    let config = work.join("config").join("config.json");
    format!(
        "try: OLLAMA_PROXY_TOKEN={TOKEN} {} --server {} --ca-file {} \
         --ollama-host 127.0.0.1 --ollama-port {ollama_port} --config {} --check",
        client.display(),
        hub.url(),
        ca_path.display(),
        config.display()
    )
}

fn wants_help(args: &[String]) -> bool {
    args.iter().any(|a| a == "--help" || a == "-h")
}

/// `--client PATH`, else the client binary beside this example's folder.
fn client_path(args: &[String]) -> PathBuf {
    if let Some(i) = args.iter().position(|a| a == "--client") {
        if let Some(path) = args.get(i + 1) {
            return PathBuf::from(path);
        }
    }
    let exe = std::env::current_exe().expect("own path");
    exe.parent()
        .and_then(|p| p.parent())
        .expect("target dir")
        .join("ollama-proxy-client")
}

fn serve(
    hub: &Hub,
    ollama: &Ollama,
    ca_path: &std::path::Path,
    work: &std::path::Path,
    client: &std::path::Path,
) {
    println!("hub emulator:    {}   (token {TOKEN})", hub.url());
    println!("Ollama emulator: {}", ollama.url());
    println!("CA certificate:  {}", ca_path.display());
    println!("{}", try_line(client, hub, ollama.port(), ca_path, work));
    println!("press Enter to stop");
    let _ = std::io::stdin().read_line(&mut String::new());
}

fn demo(
    hub: &Hub,
    ollama: &Ollama,
    ca_path: &std::path::Path,
    work: &std::path::Path,
    client: PathBuf,
) -> Result<(), String> {
    println!(
        "[demo] hub emulator at {}, Ollama emulator at {}",
        hub.url(),
        ollama.url()
    );
    let config_dir = work.join(".config").join("ollama_proxy");
    std::fs::create_dir_all(&config_dir).map_err(|e| e.to_string())?;
    let config = json!({"token": TOKEN, "model": "llama3.2", "ollama_host": "127.0.0.1",
                        "ollama_port": ollama.port(), "stream_mode": true});
    std::fs::write(config_dir.join("config.json"), config.to_string())
        .map_err(|e| e.to_string())?;
    // Without the developer's token, CA file, Ollama address or proxy, which
    // would point the client away from the emulators.
    let mut child = launch::client_command(&client, Runner::Direct)
        .args([
            "--server",
            &hub.url(),
            "--ca-file",
            &ca_path.to_string_lossy(),
        ])
        .env("HOME", work)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", client.display()))?;
    if let Some(stderr) = child.stderr.take() {
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                println!("[client] {line}");
            }
        });
    }
    let result = converse(hub, ollama);
    let _ = child.kill();
    let _ = child.wait();
    result
}

fn converse(hub: &Hub, ollama: &Ollama) -> Result<(), String> {
    if !hub.wait_connected(1, Duration::from_secs(10)) {
        return Err("the client did not connect to the hub".into());
    }
    ollama.push(Reply::text(ANSWER).line_delay(Duration::from_millis(60)));
    let prompt = json!({"type": "buyer_message", "content": "Why is the sky blue?",
                        "messageId": 42, "stream": true});
    println!("[hub] buyer asks: {}", prompt["content"]);
    hub.send_json(&prompt);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut shown = 0;
    let mut text = String::new();
    while Instant::now() < deadline {
        let frames = hub.wait_for(Duration::from_secs(1), |r| r.len() > shown);
        for frame in &frames[shown..] {
            let kind = frame.json["type"].as_str().unwrap_or("?");
            let content = frame.json["content"].as_str().unwrap_or("");
            println!("[hub] <- {kind:<24} {content:?}");
            text.push_str(content);
            if kind == "finished_message_stream" {
                println!("[demo] the buyer got {} bytes:\n{text}", text.len());
                return Ok(());
            }
        }
        shown = frames.len();
    }
    Err("no complete answer within 20 s".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_try_line_names_the_built_client_and_a_private_config() {
        let ca = TestCa::new("try");
        let hub = Hub::start_tls(TOKEN, &ca);
        let work = std::path::Path::new("/tmp/opc-demo-42");
        let client = client_path(&[]);
        let line = try_line(&client, &hub, 11434, &work.join("demo-ca.pem"), work);
        assert!(client.is_absolute() && client.ends_with("ollama-proxy-client"));
        assert!(
            line.contains(&format!(" {} --server ", client.display())),
            "{line}"
        );
        assert!(
            line.contains("--config /tmp/opc-demo-42/config/config.json"),
            "{line}"
        );
    }

    #[test]
    fn help_is_recognised() {
        assert!(wants_help(&["--help".into()]));
        assert!(wants_help(&["--serve".into(), "-h".into()]));
        assert!(!wants_help(&["--serve".into()]));
    }
}
