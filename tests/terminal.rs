//! The client at a terminal, as an owner runs it by hand: the real binary on
//! a pseudo-terminal (its standard input, output and error, and its
//! controlling terminal), driven from the master side. Covers the first-run
//! questions (hidden token, installed models offered, answers saved),
//! `--force-token -` typed without echo, `--reset-config` (answers saved,
//! the old file put back on Ctrl+C) and `--test` ended by Ctrl+C or Ctrl+D.

mod support;

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::answers::{buyer, closed_port, is_end, streamed_answer, WAIT};
use support::client::{client_command, test_config, TempDir, TOKEN};
use support::hub::Hub;
use support::ollama::{Ollama, Reply};

const CTRL_C: u8 = 0x03;
const CTRL_D: u8 = 0x04;

// ---------------------------------------------------------------------------
// Pseudo-terminal rig
// ---------------------------------------------------------------------------

/// Held from `openpty` until the child is spawned: the pty's descriptors are
/// inheritable until `FD_CLOEXEC` is set on them, and a child spawned by a
/// parallel test in that window would keep the slave open (and its reader
/// would never see the end of output).
static SPAWN: Mutex<()> = Mutex::new(());

#[derive(Default)]
struct Transcript {
    bytes: Vec<u8>,
    /// The slave side is closed everywhere: the client and its children are gone.
    closed: bool,
}

impl Transcript {
    /// What the terminal showed, with the line discipline's `\r\n` as `\n`.
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).replace("\r\n", "\n")
    }
}

/// The client running on a pseudo-terminal.
struct Terminal {
    child: Child,
    /// The master side, for typing.
    master: File,
    home: TempDir,
    screen: Arc<(Mutex<Transcript>, Condvar)>,
    /// How much of the transcript (without log records) `expect` has consumed.
    cursor: usize,
}

impl Terminal {
    /// Starts the client in a fresh session whose controlling terminal is a
    /// new pty, with `home` as `HOME` and a clean environment plus `env`.
    fn start(home: TempDir, args: &[&str], env: &[(&str, &str)]) -> Terminal {
        let spawning = SPAWN.lock().unwrap_or_else(PoisonError::into_inner);
        let (master, slave) = open_pty();
        let mut command = client_command();
        command
            .args(args)
            .env("HOME", home.path())
            .env("TERM", "xterm")
            .stdin(Stdio::from(slave.try_clone().expect("dup the pty slave")))
            .stdout(Stdio::from(slave.try_clone().expect("dup the pty slave")))
            .stderr(Stdio::from(slave));
        for (key, value) in env {
            command.env(key, value);
        }
        // SAFETY: only async-signal-safe calls (setsid, ioctl) between fork
        // and exec. Standard input is already the slave here.
        unsafe {
            command.pre_exec(|| {
                if libc::setsid() == -1 {
                    return Err(io::Error::last_os_error());
                }
                if libc::ioctl(libc::STDIN_FILENO, libc::TIOCSCTTY as _, 0) == -1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("start the client binary");
        // The slave's copies in `command` must be closed here, or the reader
        // never sees the end of output.
        drop(command);
        drop(spawning);
        let master = File::from(master);
        let screen = Arc::new((Mutex::new(Transcript::default()), Condvar::new()));
        let reader = master.try_clone().expect("dup the pty master");
        collect(reader, &screen);
        Terminal {
            child,
            master,
            home,
            screen,
            cursor: 0,
        }
    }

    /// Everything the terminal has shown so far.
    fn text(&self) -> String {
        self.screen
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .text()
    }

    /// Waits until `needle` appears after what earlier calls consumed, and
    /// returns the text from there up to the end of `needle`, which is
    /// consumed. Log records are left out: in `--test` they share the
    /// terminal with the answers and may land in the middle of a line.
    /// Panics with the transcript after [`WAIT`] or at the end of output.
    fn expect(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        let (lock, wake) = &*self.screen;
        let mut screen = lock.lock().unwrap_or_else(PoisonError::into_inner);
        let failure = loop {
            let shown = without_log_records(&screen.text());
            if let Some(at) = shown.get(self.cursor..).and_then(|rest| rest.find(needle)) {
                let end = self.cursor + at + needle.len();
                let seen = shown[self.cursor..end].to_string();
                self.cursor = end;
                return seen;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || screen.closed {
                break screen.text();
            }
            screen = wake
                .wait_timeout(screen, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        };
        drop(screen);
        panic!(
            "the terminal did not show {needle:?} (after char {} of the text without \
             log records); it showed:\n{failure}",
            self.cursor
        );
    }

    /// Sends bytes as if typed at the keyboard.
    fn send(&mut self, bytes: &[u8]) {
        self.master
            .write_all(bytes)
            .expect("write to the pty master");
    }

    /// Types `line` and presses Enter (a terminal sends `\r`).
    fn type_line(&mut self, line: &str) {
        self.send(format!("{line}\r").as_bytes());
    }

    /// Whether the terminal echoes what is typed (the slave's termios, which
    /// Linux returns for the master too).
    fn echoes(&self) -> bool {
        // SAFETY: termios is plain old data that tcgetattr fills in.
        unsafe {
            let mut term: libc::termios = std::mem::zeroed();
            assert_eq!(
                libc::tcgetattr(self.master.as_raw_fd(), &mut term),
                0,
                "tcgetattr on the pty master: {}",
                io::Error::last_os_error()
            );
            term.c_lflag & libc::ECHO != 0
        }
    }

    /// Waits (bounded) until the client has switched the echo off.
    fn wait_echo_off(&self) {
        let deadline = Instant::now() + WAIT;
        while self.echoes() {
            assert!(
                Instant::now() < deadline,
                "the echo stayed on at the token prompt:\n{}",
                self.text()
            );
            thread::sleep(Duration::from_millis(1));
        }
    }

    /// Waits for the client to exit and for the last of its output; kills it
    /// at the timeout.
    fn wait_exit(&mut self) -> Option<ExitStatus> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the client") {
                let (lock, wake) = &*self.screen;
                let screen = lock.lock().unwrap_or_else(PoisonError::into_inner);
                let _unused = wake
                    .wait_timeout_while(screen, WAIT, |s| !s.closed)
                    .unwrap_or_else(PoisonError::into_inner);
                return Some(status);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                return None;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    fn config_path(&self) -> PathBuf {
        self.home
            .path()
            .join(".config")
            .join("ollama_proxy")
            .join("config.json")
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A new pty pair (100x30), both sides close-on-exec.
fn open_pty() -> (OwnedFd, OwnedFd) {
    let (mut master, mut slave) = (-1, -1);
    let mut size = libc::winsize {
        ws_row: 30,
        ws_col: 100,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two descriptors; the name, termios and window
    // size pointers are null or point to live values.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::addr_of_mut!(size),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", io::Error::last_os_error());
    // SAFETY: both descriptors were just opened and are owned by nobody else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    for fd in [&master, &slave] {
        // SAFETY: F_SETFD on a descriptor we own.
        let rc = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
        assert_eq!(rc, 0, "fcntl: {}", io::Error::last_os_error());
    }
    (master, slave)
}

/// Reads the master side into the transcript until the slave is closed
/// everywhere (Linux then answers EIO).
fn collect(mut master: File, screen: &Arc<(Mutex<Transcript>, Condvar)>) {
    let screen = Arc::clone(screen);
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            let n = match master.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            let (lock, wake) = &*screen;
            lock.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .bytes
                .extend_from_slice(&buf[..n]);
            wake.notify_all();
        }
        let (lock, wake) = &*screen;
        lock.lock().unwrap_or_else(PoisonError::into_inner).closed = true;
        wake.notify_all();
    });
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The text without the log records (`2026-01-02T03:04:05.123Z [INFO] ...`
/// up to the end of their line), wherever they start.
fn without_log_records(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        match log_record_at(rest) {
            Some(len) => rest = &rest[len..],
            None => {
                let c = rest.chars().next().unwrap();
                shown.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    shown
}

/// The length of the log record (its line end included) that `text` starts
/// with, if it starts with one.
fn log_record_at(text: &str) -> Option<usize> {
    const STAMP: &[u8] = b"dddd-dd-ddTdd:dd:dd";
    let bytes = text.as_bytes();
    let stamped = bytes.len() > STAMP.len()
        && STAMP.iter().zip(bytes).all(|(want, got)| match want {
            b'd' => got.is_ascii_digit(),
            _ => want == got,
        });
    if !stamped {
        return None;
    }
    let after = &text[STAMP.len()..];
    let fraction = after
        .strip_prefix('.')
        .map_or(0, |f| 1 + f.bytes().take_while(u8::is_ascii_digit).count());
    if !after[fraction..].starts_with("Z [") {
        return None;
    }
    Some(text.find('\n').map_or(text.len(), |end| end + 1))
}

/// A temporary HOME holding `config` where the client looks by default.
fn home_with_config(config: &Value) -> TempDir {
    let home = TempDir::new();
    let dir = home.path().join(".config").join("ollama_proxy");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_string_pretty(config).unwrap(),
    )
    .unwrap();
    home
}

/// Waits for a streamed answer's end marker; returns the text of its pieces.
fn streamed_text(hub: &Hub, id: &Value) -> String {
    let frames = streamed_answer(hub, id);
    let (end, pieces) = frames.split_last().expect("answer frames");
    assert!(is_end(end), "no end marker last for {id}: {frames:?}");
    pieces
        .iter()
        .map(|piece| {
            assert_eq!(piece["type"], "from_owner", "{frames:?}");
            piece["content"].as_str().expect("string content")
        })
        .collect()
}

fn read_config(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read the saved config {}: {e}", path.display()));
    serde_json::from_str(&text).expect("the saved config is JSON")
}

/// Asserts that no recognizable part of the token is on the screen.
fn assert_token_hidden(text: &str) {
    for part in TOKEN.split('-').filter(|p| p.len() >= 4) {
        assert!(
            !text.contains(part),
            "the terminal showed part of the token ({part:?}):\n{text}"
        );
    }
    assert!(!text.contains(TOKEN));
}

fn assert_no_panic(text: &str) {
    assert!(
        !text.contains("panicked") && !text.contains("RUST_BACKTRACE"),
        "the client panicked:\n{text}"
    );
}

// ---------------------------------------------------------------------------
// First run
// ---------------------------------------------------------------------------

/// A first run on a fresh home, against `hub`, with `OLLAMA_HOST` set to
/// 127.0.0.1:`ollama_port` (so that the models are offered at once) and
/// the variables `env`.
fn first_run(hub: &Hub, ollama_port: u16, env: &[(&str, &str)]) -> Terminal {
    let ollama_host = format!("127.0.0.1:{ollama_port}");
    let env = [&[("OLLAMA_HOST", ollama_host.as_str())][..], env].concat();
    Terminal::start(TempDir::new(), &["--server", &hub.url()], &env)
}

#[test]
fn first_run_asks_hides_the_token_offers_models_and_saves() {
    let ollama = Ollama::with_models(&["qwen3:8b", "llama3.2:latest"]);
    let hub = Hub::start(TOKEN);
    let mut term = first_run(&hub, ollama.port(), &[]);
    let config_path = term.config_path();
    let intro = term.expect("Hub token (input hidden): ");
    assert!(
        intro.contains(&format!(
            "First run: a few settings are missing. They will be saved to {}\n",
            config_path.display()
        )),
        "{intro}"
    );
    term.wait_echo_off();
    term.type_line(TOKEN);

    // OLLAMA_HOST answers the host and port questions; the models come next.
    let models = term.expect("Model (number or name) [qwen3:8b]: ");
    assert_eq!(
        models,
        "\nModels installed in Ollama:\n  1) qwen3:8b\n  2) llama3.2:latest\n\
         Model (number or name) [qwen3:8b]: ",
        "only the newline after the token is echoed, then the numbered models"
    );
    assert!(term.echoes(), "the echo is back on after the token");
    term.type_line("2");
    let stream = term.expect("Stream answers piece by piece (y/n) [y]: ");
    assert_eq!(stream, "2\nStream answers piece by piece (y/n) [y]: ");
    term.type_line("");
    term.expect(&format!("Settings saved to {}\n", config_path.display()));

    let saved = read_config(&config_path);
    assert_eq!(saved["token"], TOKEN, "{saved}");
    assert_eq!(saved["model"], "llama3.2:latest", "{saved}");
    assert_eq!(saved["stream_mode"], true, "{saved}");
    let mode = std::fs::metadata(&config_path)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the config file holds the token");

    assert!(
        hub.wait_connected(1, WAIT),
        "the client did not connect with the typed token:\n{}",
        term.text()
    );
    ollama.push(Reply::pieces(&["Hello", ", ", "buyer"]));
    hub.send_json(&buyer(&json!(1), "hi"));
    assert_eq!(streamed_text(&hub, &json!(1)), "Hello, buyer");
    let generate = ollama.generate_requests();
    assert_eq!(generate.len(), 1);
    assert_eq!(generate[0].body["model"], "llama3.2:latest");
    assert_eq!(generate[0].body["prompt"], "hi");

    let text = term.text();
    assert_token_hidden(&text);
    assert_no_panic(&text);
}

#[test]
fn first_run_falls_back_to_llama2_when_ollama_is_unreachable() {
    let hub = Hub::start(TOKEN);
    let mut term = first_run(&hub, closed_port(), &[]);
    term.expect("Hub token (input hidden): ");
    term.wait_echo_off();
    term.type_line(TOKEN);
    let model = term.expect("Model [llama2]: ");
    assert!(
        model.contains("Cannot ask Ollama for its models (")
            && model.contains("); offering llama2.\n"),
        "{model}"
    );
    assert!(!model.contains("Models installed"), "{model}");
    term.type_line("");
    term.expect("Stream answers piece by piece (y/n) [y]: ");
    term.type_line("n");
    let config_path = term.config_path();
    term.expect(&format!("Settings saved to {}\n", config_path.display()));

    let saved = read_config(&config_path);
    assert_eq!(saved["model"], "llama2", "{saved}");
    assert_eq!(saved["token"], TOKEN, "{saved}");
    assert_eq!(saved["stream_mode"], false, "{saved}");
    // It then waits for Ollama before it offers the box to the hub (a log
    // record, which `expect` leaves out).
    let waiting = "not connecting to the hub until it does";
    let deadline = std::time::Instant::now() + WAIT;
    while !term.text().contains(waiting) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(term.text().contains(waiting), "{}", term.text());
    assert_eq!(hub.connections(), 0);
    let text = term.text();
    assert_token_hidden(&text);
    assert_no_panic(&text);
}

#[test]
fn force_token_dash_at_a_terminal_reads_the_token_without_echo() {
    let home = home_with_config(&json!({"model": "llama2"}));
    let mut term = Terminal::start(home, &["--force-token", "-", "--show-config"], &[]);
    let config_path = term.config_path();
    term.expect("Hub token (input hidden): ");
    term.wait_echo_off();
    term.type_line(TOKEN);
    let shown = term.expect(&format!("Settings saved to {}\n", config_path.display()));
    assert_eq!(
        shown,
        "\nSettings saved to ".to_string() + &format!("{}\n", config_path.display())
    );
    assert!(term.echoes(), "the echo is back on after the token");
    let status = term.wait_exit();
    let text = term.text();
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{text}");
    let saved = read_config(&config_path);
    assert_eq!(saved, json!({"model": "llama2", "token": TOKEN}));
    // --show-config then shows the mask (its last four characters) only.
    let (typed, shown) = text.split_once("Settings saved").expect("saved");
    assert_token_hidden(typed);
    assert!(!shown.contains(&TOKEN[..TOKEN.len() - 4]), "{text}");
    assert_no_panic(&text);
}

// ---------------------------------------------------------------------------
// --reset-config
// ---------------------------------------------------------------------------

/// The settings a reset replaces, with a key this client does not know.
fn old_settings(ollama_port: u16) -> Value {
    json!({
        "token": "old-token-1111",
        "model": "old-model",
        "ollama_host": "127.0.0.1",
        "ollama_port": ollama_port,
        "note": "old settings",
    })
}

fn backup_of(config: &Path) -> PathBuf {
    config.with_file_name("config.json.bak")
}

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The files in the config's directory, by name.
fn names_beside(config: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(config.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn reset_config_at_a_terminal_asks_again_saves_and_leaves_no_backup() {
    let ollama = Ollama::with_models(&["qwen3:8b"]);
    let hub = Hub::start(TOKEN);
    let home = home_with_config(&old_settings(ollama.port()));
    let ollama_host = format!("127.0.0.1:{}", ollama.port());
    let mut term = Terminal::start(
        home,
        &["--reset-config", "--server", &hub.url()],
        &[("OLLAMA_HOST", &ollama_host)],
    );
    let config_path = term.config_path();
    let backup = backup_of(&config_path);
    let intro = term.expect("Hub token (input hidden): ");
    assert!(
        intro.starts_with(&format!(
            "Deleting the config file {} (the old one is kept as {} until the new \
             settings are saved)\n",
            config_path.display(),
            backup.display()
        )),
        "{intro}"
    );
    // While the questions run, the old file waits aside, private.
    assert!(!config_path.exists());
    assert_eq!(read_config(&backup), old_settings(ollama.port()));
    assert_eq!(mode_of(&backup), 0o600);

    term.wait_echo_off();
    term.type_line(TOKEN);
    term.expect("Model (number or name) [qwen3:8b]: ");
    term.type_line("");
    term.expect("Stream answers piece by piece (y/n) [y]: ");
    term.type_line("n");
    term.expect(&format!("Settings saved to {}\n", config_path.display()));
    assert!(
        hub.wait_connected(1, WAIT),
        "the client did not connect with the new token:\n{}",
        term.text()
    );
    assert_eq!(
        read_config(&config_path),
        json!({"token": TOKEN, "model": "qwen3:8b", "stream_mode": false})
    );
    assert_eq!(mode_of(&config_path), 0o600);
    // No backup left; the ledger and the control socket (with its lock) of
    // the run that followed are beside it.
    assert_eq!(
        names_beside(&config_path),
        [
            "config.json",
            "control.lock",
            "control.sock",
            "ledger.jsonl",
            "logs"
        ]
    );
    let text = term.text();
    assert!(!text.contains("Nothing new was saved"), "{text}");
    assert_token_hidden(&text);
    assert_no_panic(&text);
}

#[test]
fn ctrl_c_at_the_first_question_of_a_reset_puts_the_old_config_back() {
    let home = home_with_config(&old_settings(closed_port()));
    let before = std::fs::read(
        home.path()
            .join(".config")
            .join("ollama_proxy")
            .join("config.json"),
    )
    .unwrap();
    let mut term = Terminal::start(home, &["--reset-config"], &[]);
    let config_path = term.config_path();
    let backup = backup_of(&config_path);
    term.expect("Hub token (input hidden): ");
    assert!(!config_path.exists());
    assert!(backup.exists());
    term.wait_echo_off();
    term.send(&[CTRL_C]);
    let status = term.wait_exit();
    let text = term.text();
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{text}");
    assert!(
        text.contains(&format!(
            "Nothing new was saved: the old config file is back at {}\n",
            config_path.display()
        )),
        "{text}"
    );
    assert_eq!(std::fs::read(&config_path).unwrap(), before);
    assert_eq!(names_beside(&config_path), ["config.json"]);
    assert!(term.echoes(), "the echo is back on after Ctrl+C");
    assert_no_panic(&text);
}

#[test]
fn reset_config_with_config_resets_only_that_file() {
    let home = home_with_config(&old_settings(1));
    let default = home
        .path()
        .join(".config")
        .join("ollama_proxy")
        .join("config.json");
    let default_before = std::fs::read(&default).unwrap();
    let dir = home.path().join("gpu2");
    std::fs::create_dir(&dir).unwrap();
    let other = dir.join("config.json");
    std::fs::write(&other, old_settings(2).to_string()).unwrap();
    let other_arg = other.to_str().unwrap();

    // Flags only (no question): they are the new settings.
    let mut term = Terminal::start(
        TempDir::borrowed(home.path()),
        &[
            "--config",
            other_arg,
            "--reset-config",
            "--force-token",
            "fresh-token-9999",
            "--show-config",
        ],
        &[],
    );
    term.expect(&format!("Deleting the config file {}", other.display()));
    term.expect(&format!("Settings saved to {}\n", other.display()));
    let status = term.wait_exit();
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", term.text());
    assert_eq!(read_config(&other), json!({"token": "fresh-token-9999"}));
    assert_eq!(names_beside(&other), ["config.json"]);
    assert_eq!(std::fs::read(&default).unwrap(), default_before);

    // Nothing new to save: the reset is undone.
    let saved = std::fs::read(&other).unwrap();
    let mut term = Terminal::start(
        TempDir::borrowed(home.path()),
        &["--config", other_arg, "--reset-config", "--show-config"],
        &[],
    );
    term.expect(&format!("{} (not created yet)", other.display()));
    term.expect(&format!(
        "Nothing new was saved: the old config file is back at {}\n",
        other.display()
    ));
    let status = term.wait_exit();
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", term.text());
    assert_eq!(std::fs::read(&other).unwrap(), saved);
    assert_eq!(names_beside(&other), ["config.json"]);
    assert_no_panic(&term.text());
}

// ---------------------------------------------------------------------------
// Test mode
// ---------------------------------------------------------------------------

/// `--test` with a complete config, up to its first `> ` prompt.
fn test_mode(ollama: &Ollama, hub: &Hub) -> Terminal {
    let home = home_with_config(&test_config(ollama.port()));
    let mut term = Terminal::start(home, &["--test", "--server", &hub.url()], &[]);
    term.expect("Test mode: type a prompt and press Enter; 'exit' or Ctrl+D to quit.\n");
    term.expect("> ");
    term
}

/// Checks a summary line such as `[0.02 s, 3 pieces, 150.0 tokens/s]`.
fn assert_summary(summary: &str, pieces: usize) {
    let inner = summary
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or_else(|| panic!("not a summary line: {summary:?}"));
    let mut parts = inner.split(", ");
    let seconds = parts.next().and_then(|s| s.strip_suffix(" s"));
    assert!(
        seconds.is_some_and(|s| s.parse::<f64>().is_ok_and(|s| s >= 0.0)),
        "{summary:?}"
    );
    assert_eq!(parts.next(), Some(format!("{pieces} pieces").as_str()));
    if let Some(speed) = parts.next() {
        assert!(
            speed
                .strip_suffix(" tokens/s")
                .is_some_and(|s| s.parse::<f64>().is_ok()),
            "{summary:?}"
        );
    }
    assert_eq!(parts.next(), None, "{summary:?}");
}

#[test]
fn test_mode_at_a_terminal_ends_cleanly_on_ctrl_c() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let mut term = test_mode(&ollama, &hub);
    ollama.push(Reply::pieces(&["Rayleigh", " scattering", "."]));
    term.type_line("Why is the sky blue?");
    term.expect("Why is the sky blue?\n");
    term.expect("Rayleigh scattering.\n[");
    let summary = format!("[{}", term.expect("]\n"));
    assert_summary(summary.trim_end(), 3);
    term.expect("> ");
    // The answer went to the hub too, as messageId -1.
    assert_eq!(streamed_text(&hub, &json!(-1)), "Rayleigh scattering.");

    term.send(&[CTRL_C]);
    let status = term.wait_exit();
    let text = term.text();
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "Ctrl+C must end test mode with status 0 ({status:?}):\n{text}"
    );
    assert_no_panic(&text);
}

#[test]
fn end_of_input_at_the_prompt_ends_test_mode() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let mut term = test_mode(&ollama, &hub);
    term.send(&[CTRL_D]);
    let status = term.wait_exit();
    let text = term.text();
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "Ctrl+D must end test mode with status 0 ({status:?}):\n{text}"
    );
    assert_no_panic(&text);
}

#[test]
fn first_run_asks_ollamas_host_and_port_when_nothing_sets_them() {
    let ollama = Ollama::with_models(&["qwen3:8b"]);
    let hub = Hub::start(TOKEN);
    let mut term = Terminal::start(TempDir::new(), &["--server", &hub.url()], &[]);
    let config_path = term.config_path();
    term.expect("Hub token (input hidden): ");
    term.wait_echo_off();
    term.type_line(TOKEN);
    term.expect("Ollama host [localhost]: ");
    term.type_line("127.0.0.1");
    term.expect("Ollama port [11434]: ");
    // A bad port (too large, or 0) is asked again, then the emulator's is
    // taken.
    term.type_line("99999");
    term.expect("A port is a number from 1 to 65535.\nOllama port [11434]: ");
    term.type_line("0");
    term.expect("A port is a number from 1 to 65535.\nOllama port [11434]: ");
    term.type_line(&ollama.port().to_string());
    // The models listed come from that address.
    term.expect("Model (number or name) [qwen3:8b]: ");
    term.type_line("");
    term.expect("Stream answers piece by piece (y/n) [y]: ");
    term.type_line("n");
    term.expect(&format!("Settings saved to {}\n", config_path.display()));
    let saved = read_config(&config_path);
    assert_eq!(saved["ollama_host"], "127.0.0.1", "{saved}");
    assert_eq!(saved["ollama_port"], ollama.port(), "{saved}");
    assert_eq!(saved["stream_mode"], false, "{saved}");
    assert_token_hidden(&term.text());
}

#[test]
fn reset_config_without_a_config_file_says_so_and_goes_on() {
    let home = TempDir::new();
    let config = home.path().join("fresh").join("config.json");
    let mut term = Terminal::start(
        TempDir::borrowed(home.path()),
        &[
            "--config",
            config.to_str().unwrap(),
            "--reset-config",
            "--force-token",
            "fresh-token-4242",
            "--show-config",
        ],
        &[],
    );
    term.expect(&format!(
        "There is no config file {} to delete\n",
        config.display()
    ));
    term.expect(&format!("Settings saved to {}\n", config.display()));
    let status = term.wait_exit();
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", term.text());
    assert_eq!(read_config(&config), json!({"token": "fresh-token-4242"}));

    // A config path that cannot even be looked at is not "no file".
    let not_a_dir = home.path().join("a-file");
    std::fs::write(&not_a_dir, "").unwrap();
    let inside = not_a_dir.join("config.json");
    let mut term = Terminal::start(
        TempDir::borrowed(home.path()),
        &["--config", inside.to_str().unwrap(), "--reset-config"],
        &[],
    );
    term.expect(&format!("cannot read {}", inside.display()));
    let status = term.wait_exit();
    assert_eq!(status.and_then(|s| s.code()), Some(78), "{}", term.text());
}

// ------------------------------------------------------- the owner's language

const RUSSIAN: (&str, &str) = ("LANG", "ru_RU.UTF-8");

/// The log file's text (every rotated file together).
fn log_file_text(home: &Path) -> String {
    let dir = home.join(".config").join("ollama_proxy").join("logs");
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                .collect()
        })
        .unwrap_or_default()
}

fn has_cyrillic(text: &str) -> bool {
    text.chars()
        .any(|c| matches!(c, 'а'..='я' | 'А'..='Я' | 'ё' | 'Ё'))
}

#[test]
fn first_run_in_russian_asks_in_russian_and_saves_the_answers_as_before() {
    let ollama = Ollama::with_models(&["qwen3:8b", "llama3.2:latest"]);
    let hub = Hub::start(TOKEN);
    let mut term = first_run(&hub, ollama.port(), &[RUSSIAN]);
    let config_path = term.config_path();
    let intro = term.expect("Введите токен хаба (ввод скрыт): ");
    assert!(
        intro.contains(&format!(
            "Первый запуск: не хватает нескольких настроек. Они будут сохранены в {}\n",
            config_path.display()
        )),
        "{intro}"
    );
    term.wait_echo_off();
    term.type_line(TOKEN);
    let models = term.expect("Выберите модель (номер или название) [qwen3:8b]: ");
    assert!(
        models.contains("Модели, установленные в Ollama:\n  1) qwen3:8b\n  2) llama3.2:latest\n"),
        "{models}"
    );
    term.type_line("2");
    term.expect("Отдавать ответы по частям (y/n) [y]: ");
    term.type_line("да");
    term.expect(&format!(
        "Настройки сохранены в {}\n",
        config_path.display()
    ));

    let saved = read_config(&config_path);
    assert_eq!(saved["token"], TOKEN, "{saved}");
    assert_eq!(saved["model"], "llama3.2:latest", "{saved}");
    assert_eq!(saved["stream_mode"], true, "{saved}");
    assert!(
        saved.get("language").is_none(),
        "the locale is not saved: {saved}"
    );
    assert!(hub.wait_connected(1, WAIT), "{}", term.text());

    // Ctrl+C while serving at a terminal: told in Russian there, logged in
    // English in the file (and not shown twice).
    term.send(&[CTRL_C]);
    term.expect("Получен SIGINT: ожидание завершения выполняемых ответов");
    let status = term.wait_exit();
    let text = term.text();
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{text}");
    assert!(!text.contains("SIGINT received"), "shown twice:\n{text}");
    let log = log_file_text(term.home.path());
    assert!(
        log.contains("SIGINT received: finishing running answers"),
        "{log}"
    );
    assert!(
        !has_cyrillic(&log),
        "the log file must stay English:\n{log}"
    );
    assert_token_hidden(&text);
    assert_no_panic(&text);
}

#[test]
fn first_run_with_no_model_installed_says_so_and_asks_for_a_name_as_the_python_client_did() {
    let ollama = Ollama::with_models(&[]);
    let hub = Hub::start(TOKEN);
    let mut term = first_run(&hub, ollama.port(), &[RUSSIAN]);
    term.expect("Введите токен хаба (ввод скрыт): ");
    term.wait_echo_off();
    term.type_line(TOKEN);
    let model = term.expect("Введите название модели Ollama [llama2]: ");
    assert!(
        model.contains(
            "В Ollama пока не установлено ни одной модели (установите: ollama pull НАЗВАНИЕ).\n"
        ),
        "{model}"
    );
    term.type_line("qwen3:8b");
    term.expect("Отдавать ответы по частям (y/n) [y]: ");
    term.type_line("нет");
    term.expect("Настройки сохранены в ");
    let saved = read_config(&term.config_path());
    assert_eq!(saved["model"], "qwen3:8b", "{saved}");
    assert_eq!(saved["stream_mode"], false, "{saved}");
    assert_no_panic(&term.text());
}

#[test]
fn a_model_number_out_of_the_list_is_taken_as_a_name() {
    let ollama = Ollama::with_models(&["qwen3:8b", "llama3.2:latest"]);
    let hub = Hub::start(TOKEN);
    let mut term = first_run(&hub, ollama.port(), &[]);
    term.expect("Hub token (input hidden): ");
    term.wait_echo_off();
    term.type_line(TOKEN);
    term.expect("Model (number or name) [qwen3:8b]: ");
    term.type_line("3");
    term.expect("Stream answers piece by piece (y/n) [y]: ");
    term.type_line("");
    term.expect("Settings saved to ");
    assert_eq!(read_config(&term.config_path())["model"], "3");
    assert_no_panic(&term.text());
}
