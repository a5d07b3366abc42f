//! Runs the real `ollama-proxy-client` binary for a test: a fresh temporary
//! `HOME` holding the config file, the given flags and environment, and a
//! thread that collects everything the client prints so that tests can wait
//! for a log line (with a bounded wait) and search the output for secrets.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_ollama-proxy-client");
pub const TOKEN: &str = "tok-SECRET-5f2a9c-e4d1";

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "opc-test-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A config for tests: the test token, the emulated Ollama, fast reconnects.
pub fn test_config(ollama_port: u16) -> Value {
    json!({
        "token": TOKEN,
        "model": "llama3.2",
        "ollama_host": "127.0.0.1",
        "ollama_port": ollama_port,
        "stream_mode": true,
        "reconnect_base_secs": 0.05,
        "reconnect_max_secs": 0.2,
        "handshake_timeout_secs": 2,
    })
}

/// Sets `key` in a config object.
pub fn with(mut config: Value, key: &str, value: Value) -> Value {
    config[key] = value;
    config
}

#[derive(Default)]
struct Output {
    lines: Vec<String>,
    closed: usize,
}

pub struct Client {
    child: Child,
    pub home: TempDir,
    output: Arc<(Mutex<Output>, Condvar)>,
}

impl Client {
    /// Starts the client with `config` written where it looks by default.
    pub fn start(config: &Value, args: &[&str]) -> Client {
        Client::start_with_env(config, args, &[])
    }

    pub fn start_with_env(config: &Value, args: &[&str], env: &[(&str, &str)]) -> Client {
        let home = TempDir::new();
        let dir = home.path().join(".config").join("ollama_proxy");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("config.json"),
            serde_json::to_string_pretty(config).unwrap(),
        )
        .unwrap();
        let mut command = Command::new(BIN);
        command
            .args(args)
            .env("HOME", home.path())
            .env_remove("SSL_CERT_FILE")
            .env_remove("OLLAMA_HOST")
            .env_remove("OLLAMA_PROXY_TOKEN")
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .env_remove("ALL_PROXY")
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .env_remove("all_proxy")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("start the client binary");
        let output = Arc::new((Mutex::new(Output::default()), Condvar::new()));
        collect(child.stdout.take().unwrap(), &output);
        collect(child.stderr.take().unwrap(), &output);
        Client {
            child,
            home,
            output,
        }
    }

    /// Everything printed so far (stdout and stderr, interleaved by line).
    pub fn output(&self) -> String {
        self.output.0.lock().unwrap().lines.join("\n")
    }

    /// Waits until a printed line contains `needle`.
    pub fn wait_output(&self, needle: &str, timeout: Duration) -> bool {
        self.wait_lines(timeout, |lines| lines.iter().any(|l| l.contains(needle)))
    }

    /// Waits until at least `n` printed lines contain `needle`.
    pub fn wait_output_count(&self, needle: &str, n: usize, timeout: Duration) -> bool {
        self.wait_lines(timeout, |lines| {
            lines.iter().filter(|l| l.contains(needle)).count() >= n
        })
    }

    fn wait_lines(&self, timeout: Duration, done: impl Fn(&[String]) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let (lock, wake) = &*self.output;
        let mut output = lock.lock().unwrap();
        loop {
            if done(&output.lines) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || output.closed == 2 {
                return false;
            }
            output = wake.wait_timeout(output, left).unwrap().0;
        }
    }

    /// Waits for the process to exit; kills it at the timeout.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the output threads see the end of both pipes.
                self.wait_lines(Duration::from_secs(2), |_| false);
                return Some(status);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect(pipe: impl Read + Send + 'static, output: &Arc<(Mutex<Output>, Condvar)>) {
    let output = Arc::clone(output);
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            let (lock, wake) = &*output;
            lock.lock().unwrap().lines.push(line);
            wake.notify_all();
        }
        let (lock, wake) = &*output;
        lock.lock().unwrap().closed += 1;
        wake.notify_all();
    });
}
