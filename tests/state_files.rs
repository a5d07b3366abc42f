//! The files the client keeps beside its config, when something other than
//! a private regular file stands in their place, end to end: the real
//! binary against the hub and Ollama emulators on 127.0.0.1. A named pipe
//! (FIFO) at `paused.json`, `ledger.jsonl`, `logs/client.log`,
//! `control.lock` or `config.json` must hold no mode in `open` (serving,
//! `--check`, `--stats`, `--status`), and each is named in a clear message,
//! in the owner's language at the terminal. An existing ledger others can
//! read is made private, and said so; a linked one is called the ledger.

mod support;

use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde_json::json;
use support::answers::{buyer, streamed_answer, text_of, WAIT};
use support::client::{config_dir, log_dir, test_config, Client, Finished, Launch, TOKEN};
use support::hub::Hub;
use support::ollama::Ollama;

/// How every FIFO refusal ends, in English and in Russian.
const FIFO_EN: &str = "it is a named pipe (FIFO), not a regular file: move it aside";
const FIFO_RU: &str = "это именованный канал (FIFO), а не обычный файл: уберите его";

fn mkfifo(path: &Path) {
    let name = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only creates the node.
    let made = unsafe { libc::mkfifo(name.as_ptr(), 0o600) };
    assert_eq!(made, 0, "{}", std::io::Error::last_os_error());
}

/// A fresh `HOME` with a config for `ollama` and a FIFO at `name` (a path
/// under the config directory); the FIFO's path.
fn with_fifo(ollama: &Ollama, name: &str) -> (Launch, PathBuf) {
    let launch = Launch::with_config(&test_config(ollama.port()));
    let logs = log_dir(launch.home());
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&logs)
        .unwrap();
    let fifo = config_dir(launch.home()).join(name);
    mkfifo(&fifo);
    (launch, fifo)
}

/// Serves one request (the emulated Ollama echoes the prompt), then stops
/// with SIGTERM, expecting exit 0.
fn serve_one(launch: Launch, hub: &Hub) -> Client {
    let mut client = launch.args(&["--server", &hub.url()]).start();
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    hub.send_json(&buyer(&json!(7), "still here"));
    let frames = streamed_answer(hub, &json!(7));
    assert_eq!(text_of(&frames), "still here", "{}", client.output());
    client.terminate();
    let status = client.wait_exit(WAIT).expect("exits after SIGTERM");
    assert_eq!(status.code(), Some(0), "{}", client.output());
    client
}

fn owner(home: &Path, args: &[&str]) -> Finished {
    Launch::in_home(home).args(args).run(WAIT)
}

#[test]
fn a_fifo_at_any_state_file_neither_holds_the_client_nor_goes_unsaid() {
    let ollama = Ollama::start();
    for (name, says, then) in [
        (
            "paused.json",
            "[WARN] cannot read",
            ": taken as not paused, so the box sells",
        ),
        (
            "ledger.jsonl",
            "[WARN] cannot write the ledger",
            "; answers are not written to the ledger",
        ),
        (
            "logs/client.log",
            "[WARN] cannot write the log file",
            "; logging to the console only",
        ),
        (
            "control.lock",
            "[WARN] no control socket: cannot open",
            "; --status, --pause and --resume will not reach this client",
        ),
    ] {
        let hub = Hub::start(TOKEN);
        let (launch, fifo) = with_fifo(&ollama, name);
        let client = serve_one(launch, &hub);
        let console = client.stderr();
        let expected = format!("{says} {}: {FIFO_EN}{then}", fifo.display());
        assert!(console.contains(&expected), "{name}: {expected}\n{console}");
        assert!(
            std::fs::symlink_metadata(&fifo)
                .unwrap()
                .file_type()
                .is_fifo(),
            "{name}: left as it was"
        );
    }
}

#[test]
fn check_stats_and_status_finish_and_name_a_fifo_in_both_languages() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let server = ["--server".to_string(), hub.url()];
    let server: Vec<&str> = server.iter().map(String::as_str).collect();

    let (launch, fifo) = with_fifo(&ollama, "paused.json");
    let home = launch.home().to_path_buf();
    for (lang, says) in [("C", FIFO_EN), ("ru_RU.UTF-8", FIFO_RU)] {
        let out = Launch::in_home(&home)
            .env("LANG", lang)
            .args(&["--check"])
            .args(&server)
            .run(WAIT);
        assert_eq!(out.code(), Some(1), "{lang}: {}", out.describe());
        let line = out.stdout.lines().find(|l| l.contains("paused.json"));
        let line = line.unwrap_or_else(|| panic!("{lang}: {}", out.describe()));
        assert!(
            line.starts_with("[FAIL]") && line.contains(&format!("{}: {says}", fifo.display())),
            "{lang}: {line}"
        );
    }
    drop(launch);

    let (launch, fifo) = with_fifo(&ollama, "ledger.jsonl");
    for (lang, says) in [("C", FIFO_EN), ("ru_RU.UTF-8", FIFO_RU)] {
        let out = Launch::in_home(launch.home())
            .env("LANG", lang)
            .args(&["--stats", "--json"])
            .run(WAIT);
        assert_eq!(out.code(), Some(0), "{lang}: {}", out.describe());
        assert!(
            out.stderr.contains(&format!("{}: {says}", fifo.display())),
            "{lang}: {}",
            out.describe()
        );
    }

    // With no client running, --status asks whether the lock is held.
    let (launch, _) = with_fifo(&ollama, "control.lock");
    let out = owner(launch.home(), &["--status"]);
    assert_eq!(out.code(), Some(69), "{}", out.describe());

    // The config file itself, read by every mode.
    let launch = Launch::fresh();
    std::fs::create_dir_all(config_dir(launch.home())).unwrap();
    let fifo = config_dir(launch.home()).join("config.json");
    mkfifo(&fifo);
    let out = owner(launch.home(), &["--stats"]);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    let out = Launch::in_home(launch.home())
        .env("LANG", "ru_RU.UTF-8")
        .args(&["--check"])
        .args(&server)
        .run(WAIT);
    assert_eq!(out.code(), Some(1), "{}", out.describe());
    assert!(
        out.stdout
            .contains(&format!("{}: {FIFO_RU}", fifo.display())),
        "{}",
        out.describe()
    );
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn a_ledger_others_can_read_is_made_private_and_the_log_says_so() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let launch = Launch::with_config(&test_config(ollama.port()));
    let ledger = config_dir(launch.home()).join("ledger.jsonl");
    let earlier = "{\"ts\":\"2025-01-01T00:00:00.000Z\",\"event\":\"start\"}\n";
    std::fs::write(&ledger, earlier).unwrap();
    std::fs::set_permissions(&ledger, std::fs::Permissions::from_mode(0o666)).unwrap();

    let client = serve_one(launch, &hub);
    assert_eq!(mode(&ledger), 0o600);
    let console = client.stderr();
    let expected = format!(
        "[WARN] the ledger {} could be read or written by other users (mode 0666); it is now \
         private (0600)",
        ledger.display()
    );
    assert!(console.contains(&expected), "{console}");
    let text = std::fs::read_to_string(&ledger).unwrap();
    assert!(
        text.starts_with(earlier) && text.contains("\"event\":\"answer\""),
        "kept and written on:\n{text}"
    );

    // A private one is left alone, and nothing is said.
    let hub = Hub::start(TOKEN);
    let client = serve_one(Launch::in_home(client.home.path()), &hub);
    assert!(
        !client.stderr().contains("now private"),
        "{}",
        client.stderr()
    );
    assert_eq!(mode(&ledger), 0o600);
}

#[test]
fn a_symbolic_link_at_the_ledger_is_called_the_ledger() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let launch = Launch::with_config(&test_config(ollama.port()));
    let victim = launch.home().join("victim.txt");
    std::fs::write(&victim, "the owner's own file\n").unwrap();
    let ledger = config_dir(launch.home()).join("ledger.jsonl");
    std::os::unix::fs::symlink(&victim, &ledger).unwrap();

    let client = serve_one(launch, &hub);
    let console = client.stderr();
    let expected = format!(
        "[WARN] not writing the ledger {}: it is a symbolic link",
        ledger.display()
    );
    assert!(console.contains(&expected), "{console}");
    assert!(!console.contains("log file"), "{console}");
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "the owner's own file\n"
    );
}

/// A symbolic link planted where the client writes, pointing at a file of
/// the owner's: the lock is never opened through it, and a pause saved with
/// no client running replaces the link (a new file renamed into its place)
/// instead of writing through it.
#[test]
fn a_symbolic_link_at_the_lock_or_the_pause_file_is_never_written_through() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let launch = Launch::with_config(&test_config(ollama.port()));
    let home = launch.home().to_path_buf();
    let victim = home.join("victim.txt");
    std::fs::write(&victim, "the owner's own file\n").unwrap();
    let lock = config_dir(&home).join("control.lock");
    std::os::unix::fs::symlink(&victim, &lock).unwrap();

    let client = serve_one(launch, &hub);
    let console = client.stderr();
    assert!(
        console.contains(&format!(
            "[WARN] no control socket: cannot open {}",
            lock.display()
        )),
        "{console}"
    );
    assert!(std::fs::symlink_metadata(&lock).unwrap().is_symlink());

    let paused = config_dir(&home).join("paused.json");
    std::os::unix::fs::symlink(&victim, &paused).unwrap();
    std::fs::remove_file(&lock).unwrap();
    let out = owner(&home, &["--pause"]);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    let saved = std::fs::symlink_metadata(&paused).unwrap();
    assert!(saved.file_type().is_file(), "the link itself was replaced");
    assert_eq!(saved.permissions().mode() & 0o777, 0o600);
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "the owner's own file\n"
    );
}
