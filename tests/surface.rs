//! End-to-end tests of the owner's surface: the command line, the config
//! file, the environment, the first run without a terminal, the logs, test
//! mode and `--check`. Every test runs the real binary with a temporary
//! `HOME`, against the hub and Ollama emulators on 127.0.0.1.

mod support;

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::answers::{buyer, closed_port, frames_for, is_end, streamed_answer_within, WAIT};
use support::client::{
    config_path, files_under, log_dir, shown_joined, shown_path, test_config, windows, wine_start,
    with, write_config, write_config_text, Client, Finished, Input, Launch, TempDir, TOKEN,
};
use support::hub::Hub;
use support::launch::{Runner, CLIENT_ENV};
use support::ollama::{Ollama, VERSION};
use support::tls::TestCa;

const HINT: &str = "Try 'ollama-proxy-client --help' for more information.";

/// The token without its last four characters: what the mask must hide.
fn token_head() -> &'static str {
    &TOKEN[..TOKEN.len() - 4]
}

/// What `--show-config` shows for [`TOKEN`].
fn masked_token() -> String {
    format!("********{}", &TOKEN[TOKEN.len() - 4..])
}

/// Runs the client with a fresh, empty `HOME`.
fn run(args: &[&str]) -> Finished {
    Launch::fresh().args(args).run(WAIT)
}

/// Runs the client with `config` in the default place.
fn run_with(config: &Value, args: &[&str]) -> Finished {
    Launch::with_config(config).args(args).run(WAIT)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Every file and directory under `home`, relative, for "nothing happened".
/// On Windows but `AppData`, which wine itself makes in a new profile (with
/// `Local` and `Roaming`, before the client runs).
fn entries(home: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(home)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|path| !(windows() && *path == home.join("AppData")))
        .collect()
}

/// The value column of a `--show-config` row, with its source.
fn show_row<'a>(stdout: &'a str, key: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(key))
        .unwrap_or_else(|| panic!("no row for {key}:\n{stdout}"))
}

/// Waits for the streamed answer to `id` and returns its text.
fn answer_text(hub: &Hub, id: &Value) -> String {
    answer_text_within(hub, id, WAIT)
}

fn answer_text_within(hub: &Hub, id: &Value, timeout: Duration) -> String {
    streamed_answer_within(hub, id, timeout)
        .iter()
        .filter(|f| !is_end(f))
        .map(|f| f["content"].as_str().expect("string content"))
        .collect()
}

/// Sends SIGTERM and expects a clean exit 0.
fn stop(client: &mut Client) {
    client.terminate();
    let status = client.wait_exit(WAIT).expect("exits after SIGTERM");
    assert_eq!(status.code(), Some(0), "{}", client.output());
}

// ---------------------------------------------------------------- --help, -V

#[test]
fn help_lists_every_flag_default_path_variable_and_exit_status() {
    let out = run(&["--help"]);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    assert!(out.stderr.is_empty(), "{}", out.describe());
    let help = &out.stdout;
    for flag in [
        "--show-config",
        "--reset-config",
        "--force-token",
        "--force-model",
        "--ollama-host",
        "--ollama-port",
        "--stream",
        "--no-stream",
        "--port",
        "--test",
        "--debug",
        "--server",
        "--ca-file",
        "--config",
        "--check",
        "-h",
        "--help",
        "-V",
        "--version",
    ] {
        let listed = help
            .split(|c: char| c.is_whitespace() || c == ',')
            .any(|word| word == flag);
        assert!(listed, "{flag} is not listed:\n{help}");
    }
    for default in ["llama2", "localhost", "11434", "5050", "bober.app"] {
        assert!(
            help.lines()
                .any(|l| l.contains("default") && l.contains(default)),
            "default {default} not shown:\n{help}"
        );
    }
    let home = out.home();
    let config = config_path(home);
    let log = log_dir(home).join("client.log");
    assert!(
        help.contains(&shown_path(home, &config)),
        "config path:\n{help}"
    );
    assert!(help.contains(&shown_path(home, &log)), "log path:\n{help}");
    for var in ["OLLAMA_PROXY_TOKEN", "OLLAMA_HOST", "SSL_CERT_FILE"] {
        assert!(help.contains(var), "{var} not described:\n{help}");
    }
    let ca_file = help
        .split("--ca-file PATH")
        .nth(1)
        .and_then(|rest| rest.split("--config").next())
        .unwrap_or("");
    assert!(
        ca_file.contains("for the hub") && ca_file.contains("https:// Ollama"),
        "--ca-file does not say what it is for:\n{help}"
    );
    let statuses: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.contains("EXIT STATUS"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for code in ["0", "1", "2", "78"] {
        assert!(
            statuses.contains(&code),
            "exit status {code} not explained:\n{help}"
        );
    }
    assert!(entries(home).is_empty(), "--help wrote files");

    let short = run(&["-h"]);
    assert_eq!(short.code(), Some(0));
    let with_own_home = |f: &Finished| {
        f.stdout
            .replace(&shown_path(f.home(), f.home()), "$HOME")
            .to_string()
    };
    assert_eq!(with_own_home(&short), with_own_home(&out));
}

#[test]
fn help_shows_the_paths_of_the_config_given_with_config() {
    let home = TempDir::new();
    let config = home.path().join("gpu1").join("proxy.json");
    let out = Launch::in_home(home.path())
        .args(&["--config", config.to_str().unwrap(), "--help"])
        .run(WAIT);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    // Named after a config file other than config.json (see --config).
    let log = shown_joined(&home.path().join("gpu1"), "logs/proxy.client.log");
    assert!(
        out.stdout.contains(config.to_str().unwrap()),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains(&log), "{}", out.stdout);
}

#[test]
fn version_flag_prints_the_version() {
    for flag in ["-V", "--version"] {
        let out = run(&[flag]);
        assert_eq!(out.code(), Some(0), "{}", out.describe());
        assert_eq!(
            out.stdout,
            format!("ollama-proxy-client {}", env!("CARGO_PKG_VERSION"))
        );
        assert!(out.stderr.is_empty(), "{}", out.describe());
    }
}

// ------------------------------------------------------------ usage errors

#[test]
fn usage_errors_exit_2_with_one_line_and_the_hint_before_anything_else() {
    // (arguments, a word the one line must contain)
    let cases: &[(&[&str], &str)] = &[
        (&["--frobnicate"], "--frobnicate"),
        (&["--force-token"], "--force-token"),
        (&["--debug", "--ollama-host"], "--ollama-host"),
        (&["--port", "0"], "--port"),
        (&["--port", "65536"], "--port"),
        (&["--ollama-port", "x"], "--ollama-port"),
        (&["--stream", "--no-stream"], "--no-stream"),
        (&["--no-stream", "--show-config", "--stream"], "--stream"),
        (&["--test", "--check"], "--check"),
        (&["--show-config", "stray"], "argument"),
        (&["--debug=yes"], "--debug"),
        (&["--server", "http://127.0.0.1:1/auth-proxy"], "wss://"),
        (&["--server", "ws://example.com/auth-proxy"], "loopback"),
    ];
    for (args, word) in cases {
        let out = run(args);
        assert_eq!(out.code(), Some(2), "{args:?}: {}", out.describe());
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.describe());
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 2, "{args:?}: {}", out.describe());
        assert!(
            lines[0].starts_with("ollama-proxy-client: ") && lines[0].contains(word),
            "{args:?}: {}",
            lines[0]
        );
        assert_eq!(lines[1], HINT, "{args:?}");
        assert!(
            entries(out.home()).is_empty(),
            "{args:?} created {:?}",
            files_under(out.home())
        );
        assert!(
            out.elapsed < Duration::from_secs(2) + wine_start(),
            "{args:?}"
        );
    }
}

#[test]
fn a_flag_missing_its_value_does_not_swallow_the_next_flag() {
    // Each would save or create something if the next flag were taken as
    // the value: a token `--show-config`, a config file named
    // `--show-config` (in the working directory, here the empty HOME).
    let cases: &[&[&str]] = &[
        &["--force-token", "--show-config"],
        &["--config", "--show-config", "--force-model", "m"],
        &["--force-model", "--show-config"],
        &["--ollama-host", "--show-config"],
        &["--ollama-port", "--show-config"],
        &["--server", "--show-config"],
        &["--port", "--show-config"],
        &["--ca-file", "--show-config"],
        &["--show-config", "--config", "--force-model=m"],
    ];
    for args in cases {
        let out = Launch::fresh().in_home_dir().args(args).run(WAIT);
        assert_eq!(out.code(), Some(2), "{args:?}: {}", out.describe());
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.describe());
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 2, "{args:?}: {}", out.describe());
        let flag = args
            .iter()
            .find(|a| out.stderr.contains(&format!("{a} needs")));
        let flag = flag.unwrap_or_else(|| panic!("{args:?}: {}", out.stderr));
        assert!(
            lines[0].starts_with(&format!("ollama-proxy-client: {flag} needs a value; "))
                && lines[0].ends_with(&format!("(write {flag}=VALUE if you mean it)")),
            "{args:?}: {}",
            lines[0]
        );
        assert_eq!(lines[1], HINT, "{args:?}");
        assert!(
            entries(out.home()).is_empty(),
            "{args:?} created {:?}",
            files_under(out.home())
        );
    }
    // --flag=VALUE still takes anything, even a value that starts with --.
    let out = Launch::fresh()
        .in_home_dir()
        .args(&[
            "--config=--odd name.json",
            "--force-model=--m",
            "--show-config",
        ])
        .run(WAIT);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    let odd = out.home().join("--odd name.json");
    assert_eq!(read_json(&odd), json!({"model": "--m"}));
}

#[test]
fn a_usage_error_comes_before_reset_config_and_saving() {
    let home = TempDir::new();
    let path = write_config(home.path(), &test_config(1));
    let before = std::fs::read(&path).unwrap();
    for args in [
        &["--reset-config", "--force-model", "m", "--port", "0"][..],
        &[
            "--force-model",
            "m",
            "--reset-config",
            "--show-config",
            "extra",
        ],
        &["--reset-config", "--server", "ftp://x"],
    ] {
        let out = Launch::in_home(home.path()).args(args).run(WAIT);
        assert_eq!(out.code(), Some(2), "{args:?}: {}", out.describe());
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.describe());
        assert_eq!(std::fs::read(&path).unwrap(), before, "{args:?}");
        assert_eq!(files_under(home.path()), vec![path.clone()], "{args:?}");
    }
}

#[test]
fn flags_combine_in_any_order() {
    let orders: [&[&str]; 3] = [
        &[
            "--show-config",
            "--no-stream",
            "--port",
            "6000",
            "--force-model",
            "qwen3:8b",
            "--ollama-port",
            "11435",
            "--debug",
        ],
        &[
            "--debug",
            "--ollama-port=11435",
            "--force-model=qwen3:8b",
            "--port=6000",
            "--no-stream",
            "--show-config",
        ],
        &[
            "--force-model",
            "qwen3:8b",
            "--debug",
            "--show-config",
            "--port",
            "6000",
            "--no-stream",
            "--ollama-port",
            "11435",
        ],
    ];
    let mut seen: Vec<(String, Value)> = Vec::new();
    for args in orders {
        let out = run_with(&json!({"token": TOKEN}), args);
        assert_eq!(out.code(), Some(0), "{args:?}: {}", out.describe());
        let shown = out
            .stdout
            .replace(&shown_path(out.home(), out.home()), "$HOME");
        assert!(shown.contains("wss://bober.app:6000/auth-proxy"), "{shown}");
        assert!(show_row(&shown, "model").contains("qwen3:8b"), "{shown}");
        seen.push((shown, read_json(&config_path(out.home()))));
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:#?}");
    assert_eq!(
        seen[0].1,
        json!({"token": TOKEN, "model": "qwen3:8b", "ollama_port": 11435, "stream_mode": false})
    );
}

// ------------------------------------------------------------- config file

#[test]
fn saved_flags_go_to_a_private_config_file_and_unknown_keys_stay() {
    let home = TempDir::new();
    let path = config_path(home.path());
    let launch = |args: &[&str]| Launch::in_home(home.path()).args(args).run(WAIT);

    // The first save creates the directory (0700) and the file (0600).
    let out = launch(&["--force-token", TOKEN, "--show-config"]);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    assert!(
        out.stdout
            .contains(&format!("Settings saved to {}", path.display())),
        "{}",
        out.stdout
    );
    assert_eq!(read_json(&path), json!({"token": TOKEN}));
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);

    // Unknown keys (a newer version's, the owner's notes) survive a save.
    let mut config = read_json(&path);
    config["future_key"] = json!({"nested": [1, 2, 3]});
    config["note"] = json!("gpu box in the cellar");
    std::fs::write(&path, serde_json::to_string(&config).unwrap()).unwrap();
    let out = launch(&[
        "--force-model",
        "qwen3:8b",
        "--ollama-host",
        "gpu.local",
        "--ollama-port",
        "12345",
        "--no-stream",
        "--port",
        "6001",
        "--show-config",
    ]);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    assert_eq!(
        read_json(&path),
        json!({
            "token": TOKEN,
            "model": "qwen3:8b",
            "ollama_host": "gpu.local",
            "ollama_port": 12345,
            "stream_mode": false,
            "future_key": {"nested": [1, 2, 3]},
            "note": "gpu box in the cellar",
        }),
        "--port must not be saved"
    );
    assert_eq!(mode(&path), 0o600);
    // Saved atomically: no temporary file is left beside it.
    assert_eq!(files_under(home.path()), vec![path.clone()]);
    // --port applies to this run.
    assert!(
        out.stdout
            .contains("hub URL       wss://bober.app:6001/auth-proxy"),
        "{}",
        out.stdout
    );
    assert!(show_row(&out.stdout, "model").contains("(command line --force-model)"));

    // The next run reads the saved values; the port is back to its default.
    let out = launch(&["--show-config"]);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    assert!(!out.stdout.contains("Settings saved"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("hub URL       wss://bober.app:5050/auth-proxy"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("Ollama URL    http://gpu.local:12345"),
        "{}",
        out.stdout
    );
    for key in [
        "model",
        "ollama_host",
        "ollama_port",
        "stream_mode",
        "token",
    ] {
        assert!(
            show_row(&out.stdout, key).ends_with("(config file)"),
            "{}",
            out.stdout
        );
    }

    // --stream saves true again.
    let out = launch(&["--stream", "--show-config"]);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    assert_eq!(read_json(&path)["stream_mode"], json!(true));
    assert_eq!(read_json(&path)["note"], json!("gpu box in the cellar"));
}

/// The file as Python's `json.dump(config, f, indent=4)` wrote it.
fn python_config(token: &str, port: u16) -> String {
    format!(
        "{{\n    \"token\": \"{token}\",\n    \"model\": \"llama2\",\n    \
         \"ollama_host\": \"localhost\",\n    \"ollama_port\": {port},\n    \
         \"stream_mode\": true,\n    \"last_seen_version\": \"1.4.2\"\n}}"
    )
}

#[test]
fn a_config_file_from_the_python_client_is_read_unchanged() {
    let text = python_config(TOKEN, 11434);
    let home = TempDir::new();
    let path = write_config_text(home.path(), &text);
    let out = Launch::in_home(home.path())
        .args(&["--show-config"])
        .run(WAIT);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    let shown = &out.stdout;
    assert!(
        show_row(shown, "token").contains(&masked_token()),
        "{shown}"
    );
    for (key, value) in [
        ("model", "llama2"),
        ("ollama_host", "localhost"),
        ("ollama_port", "11434"),
        ("stream_mode", "true"),
    ] {
        let row = show_row(shown, key);
        assert!(
            row.contains(value) && row.ends_with("(config file)"),
            "{row}"
        );
    }
    assert!(shown.contains("Ollama URL    http://localhost:11434"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn a_python_client_config_serves_buyers_and_stays_unchanged() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let text = python_config(TOKEN, ollama.port());
    let home = TempDir::new();
    let path = write_config_text(home.path(), &text);
    let mut client = Launch::in_home(home.path())
        .args(&["--server", &hub.url()])
        .start();
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    hub.send_json(&buyer(&json!(1), "from an old config"));
    assert_eq!(answer_text(&hub, &json!(1)), "from an old config");
    assert_eq!(ollama.generate_requests()[0].body["model"], "llama2");
    stop(&mut client);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn a_config_file_that_is_not_json_stops_with_78_naming_file_and_line() {
    let text = format!("{{\n  \"token\": \"{TOKEN}\",\n  \"model\": \"llama2\",,\n}}\n");
    for args in [
        &[][..],
        &["--show-config"],
        &["--test"],
        &["--force-model", "other"],
    ] {
        let home = TempDir::new();
        let path = write_config_text(home.path(), &text);
        let out = Launch::in_home(home.path())
            .args(args)
            .stdin(Input::Bytes(b"hello\n".to_vec()))
            .run(WAIT);
        assert_eq!(out.code(), Some(78), "{args:?}: {}", out.describe());
        let message = &out.stderr;
        assert!(
            message.contains(&shown_path(home.path(), &path)) && message.contains("line 3"),
            "{args:?}: {message}"
        );
        assert!(!out.stdout.contains("Settings saved"), "{}", out.stdout);
        assert!(!message.contains(TOKEN), "{message}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "{args:?}");
        assert_eq!(files_under(home.path()), vec![path], "{args:?}");
    }
}

#[test]
fn a_value_of_the_wrong_type_stops_with_78_naming_file_line_and_key() {
    let cases = [
        (
            "{\n  \"token\": \"t\",\n  \"ollama_port\": true\n}",
            "line 3",
            "'ollama_port'",
        ),
        (
            "{\n  \"token\": \"t\",\n  \"model\": \"llama2\",\n  \"stream_mode\": \"yes\"\n}",
            "line 4",
            "'stream_mode'",
        ),
        (
            "{\"model\": \"llama2\",\n\"token\": 1234}",
            "line 2",
            "'token'",
        ),
    ];
    for (text, line, key) in cases {
        let home = TempDir::new();
        let path = write_config_text(home.path(), text);
        for args in [&[][..], &["--show-config", "--no-stream"]] {
            let out = Launch::in_home(home.path()).args(args).run(WAIT);
            assert_eq!(out.code(), Some(78), "{text}: {}", out.describe());
            let message = &out.stderr;
            assert!(
                message.contains(&shown_path(home.path(), &path))
                    && message.contains(line)
                    && message.contains(key),
                "{text}: {message}"
            );
            assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
            assert_eq!(files_under(home.path()), vec![path.clone()]);
        }
    }
}

// ---------------------------------------------------- first run, no terminal

#[test]
fn without_a_terminal_a_missing_token_exits_78_at_once() {
    let with_other_settings = TempDir::new();
    write_config(with_other_settings.path(), &json!({"model": "llama2"}));
    let launches = [
        ("empty HOME, stdin /dev/null", Launch::fresh()),
        (
            "empty HOME, stdin an open pipe",
            Launch::fresh().stdin(Input::Open),
        ),
        (
            "config without a token",
            Launch::in_home(with_other_settings.path()).stdin(Input::Open),
        ),
        (
            "token null, as the Python client wrote it",
            Launch::with_config(&json!({"token": null, "model": "llama2"})),
        ),
    ];
    for (what, launch) in launches {
        let out = launch.run(Duration::from_secs(5));
        assert_eq!(out.code(), Some(78), "{what}: {}", out.describe());
        assert!(
            out.elapsed < Duration::from_secs(1) + wine_start(),
            "{what}: {:?}",
            out.elapsed
        );
        assert!(
            out.stderr.contains("--force-token") && out.stderr.contains("OLLAMA_PROXY_TOKEN"),
            "{what}: {}",
            out.describe()
        );
        assert!(!out.stdout.contains("Settings saved"), "{what}");
    }
}

// ------------------------------------------- the token off the command line

/// The client's arguments as every local user can read them.
fn cmdline(client: &Client) -> String {
    let raw = std::fs::read(format!("/proc/{}/cmdline", client.pid())).expect("its cmdline");
    String::from_utf8_lossy(&raw).replace('\0', " ")
}

#[test]
fn a_token_from_standard_input_or_a_file_is_used_saved_and_kept_out_of_argv() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let mut config = test_config(ollama.port());
    config.as_object_mut().unwrap().remove("token");
    for (n, how) in ["standard input", "a file"].into_iter().enumerate() {
        let launch = Launch::with_config(&config);
        let launch = match how {
            "standard input" => launch
                .args(&["--force-token", "-"])
                .stdin(Input::Bytes(format!("{TOKEN}\n").into_bytes())),
            _ => {
                let file = launch.home().join("hub-token");
                std::fs::write(&file, format!("  {TOKEN}  \nnot this line\n")).unwrap();
                let file = file.to_str().unwrap().to_string();
                launch.args(&["--token-file", &file])
            }
        };
        let mut client = launch.args(&["--server", &hub.url()]).start();
        assert!(
            hub.wait_connected(n + 1, WAIT),
            "{how}: {}",
            client.output()
        );
        assert_eq!(hub.rejected(), 0, "{how}");
        let uris = hub.request_uris();
        assert!(
            uris[n].ends_with(&format!("token={TOKEN}")),
            "{how}: {uris:?}"
        );
        let args = cmdline(&client);
        assert!(args.contains("--server"), "{how}: {args}");
        assert!(
            !args.contains(token_head()),
            "{how}: the token is in argv: {args}"
        );
        let saved = read_json(&config_path(client.home.path()));
        assert_eq!(saved["token"], TOKEN, "{how}: {saved}");
        let id = json!(format!("from {how}"));
        hub.send_json(&buyer(&id, "token off the command line"));
        assert_eq!(answer_text(&hub, &id), "token off the command line");
        stop(&mut client);
        for (label, text) in readable(how, &client) {
            // (The token file holds it by design.)
            if !label.ends_with("hub-token") {
                assert!(!text.contains(token_head()), "{label}:\n{text}");
            }
        }
    }

    // The recommended unattended form: printf '%s\n' "$T" | ... --force-token - --check
    let out = Launch::with_config(&config)
        .args(&["--force-token", "-", "--check", "--server", &hub.url()])
        .stdin(Input::Bytes(format!("{TOKEN}\n").into_bytes()))
        .run(WAIT);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    assert!(out.stdout.contains("token accepted"), "{}", out.stdout);
    assert_eq!(read_json(&config_path(out.home()))["token"], TOKEN);
    assert!(!out.stdout.contains(token_head()) && !out.stderr.contains(token_head()));
}

#[test]
fn a_token_that_cannot_be_read_is_refused_without_repeating_what_was_read() {
    // Standard input without a token: a usage error, nothing saved.
    let stdin_cases: [(&str, Input); 3] = [
        ("no input", Input::Null),
        ("an empty line", Input::Bytes(b"\n".to_vec())),
        (
            "a blank first line",
            Input::Bytes(format!(" \t\n{TOKEN}\n").into_bytes()),
        ),
    ];
    for (what, stdin) in stdin_cases {
        let out = Launch::fresh()
            .args(&["--force-token", "-", "--show-config"])
            .stdin(stdin)
            .run(WAIT);
        assert_eq!(out.code(), Some(2), "{what}: {}", out.describe());
        assert!(out.stdout.is_empty(), "{what}: {}", out.describe());
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 2, "{what}: {}", out.describe());
        assert!(
            lines[0].starts_with(
                "ollama-proxy-client: --force-token - reads the token from standard input, which "
            ),
            "{what}: {}",
            lines[0]
        );
        assert_eq!(lines[1], HINT);
        assert!(!out.stderr.contains(token_head()), "{what}: {}", out.stderr);
        assert!(
            entries(out.home()).is_empty(),
            "{what}: {:?}",
            files_under(out.home())
        );
    }

    // A token file that gives no token: a configuration error, nothing saved.
    let home = TempDir::new();
    let path = write_config(home.path(), &json!({"model": "m"}));
    let before = std::fs::read(&path).unwrap();
    let file = home.path().join("hub-token");
    let file_cases: [(&str, Option<Vec<u8>>, &str); 4] = [
        ("missing", None, "cannot be read: "),
        ("empty", Some(Vec::new()), "is empty"),
        (
            "a blank first line",
            Some(format!("\n{TOKEN}\n").into_bytes()),
            "starts with an empty line",
        ),
        (
            "not text",
            Some([b"\xff".as_slice(), TOKEN.as_bytes(), b"\n"].concat()),
            "has a first line that is not UTF-8 text",
        ),
    ];
    for (what, bytes, why) in file_cases {
        let _ = std::fs::remove_file(&file);
        if let Some(bytes) = bytes {
            std::fs::write(&file, bytes).unwrap();
        }
        let out = Launch::in_home(home.path())
            .args(&["--token-file", file.to_str().unwrap(), "--show-config"])
            .run(WAIT);
        assert_eq!(out.code(), Some(78), "{what}: {}", out.describe());
        assert!(out.stdout.is_empty(), "{what}: {}", out.describe());
        let expected = format!(
            "ollama-proxy-client: the token file {} {why}",
            file.display()
        );
        assert!(out.stderr.starts_with(&expected), "{what}: {}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{what}: {}", out.stderr);
        assert!(!out.stderr.contains(token_head()), "{what}: {}", out.stderr);
        assert_eq!(std::fs::read(&path).unwrap(), before, "{what}");
    }
}

// -------------------------------------------------------------- precedence

#[test]
fn the_token_comes_from_the_flag_then_the_environment_then_the_file() {
    let home = TempDir::new();
    let path = write_config(
        home.path(),
        &json!({"token": "file-token-AAAA", "model": "llama2"}),
    );
    let show = |args: &[&str], env_token: Option<&str>| {
        let launch = Launch::in_home(home.path()).args(args);
        let launch = match env_token {
            Some(token) => launch.env("OLLAMA_PROXY_TOKEN", token),
            None => launch,
        };
        let out = launch.run(WAIT);
        assert_eq!(out.code(), Some(0), "{}", out.describe());
        out.stdout
    };

    let shown = show(&["--show-config"], None);
    let row = show_row(&shown, "token");
    assert!(
        row.contains("********AAAA") && row.ends_with("(config file)"),
        "{row}"
    );

    let shown = show(&["--show-config"], Some(TOKEN));
    let row = show_row(&shown, "token");
    assert!(
        row.contains(&masked_token()) && row.ends_with("(environment OLLAMA_PROXY_TOKEN)"),
        "{row}"
    );
    assert!(show_row(&shown, "model").ends_with("(config file)"));
    assert!(show_row(&shown, "queue_size").ends_with("(default)"));
    // The environment's token is not saved.
    assert_eq!(read_json(&path)["token"], "file-token-AAAA");

    let shown = show(
        &["--force-token", "flag-token-ZZZZ", "--show-config"],
        Some(TOKEN),
    );
    let row = show_row(&shown, "token");
    assert!(
        row.contains("********ZZZZ") && row.ends_with("(command line --force-token)"),
        "{row}"
    );
    assert_eq!(read_json(&path)["token"], "flag-token-ZZZZ");
}

#[test]
fn the_environments_token_beats_the_files_and_the_flag_beats_both_end_to_end() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let config = with(
        test_config(ollama.port()),
        "token",
        json!("stale-file-token"),
    );

    let client = Launch::with_config(&config)
        .args(&["--server", &hub.url()])
        .env("OLLAMA_PROXY_TOKEN", TOKEN)
        .start();
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    assert_eq!(hub.rejected(), 0);
    hub.send_json(&buyer(&json!(1), "env token"));
    assert_eq!(answer_text(&hub, &json!(1)), "env token");
    drop(client);

    let client = Launch::with_config(&config)
        .args(&["--force-token", TOKEN, "--server", &hub.url()])
        .env("OLLAMA_PROXY_TOKEN", "stale-env-token")
        .start();
    assert!(hub.wait_connected(2, WAIT), "{}", client.output());
    assert_eq!(hub.rejected(), 0);
    let uris = hub.request_uris();
    assert!(
        uris.iter().all(|u| u.ends_with(&format!("token={TOKEN}"))),
        "{uris:?}"
    );
}

#[test]
fn ollama_host_fills_in_only_when_the_config_sets_no_address() {
    let show = |config: Value, args: &[&str]| {
        let out = Launch::with_config(&config)
            .args(args)
            .env("OLLAMA_HOST", "127.0.0.1:54321")
            .run(WAIT);
        assert_eq!(out.code(), Some(0), "{}", out.describe());
        out.stdout
    };
    let no_address = json!({"token": TOKEN, "model": "llama2"});

    let shown = show(no_address.clone(), &["--show-config"]);
    assert!(
        shown.contains("Ollama URL    http://127.0.0.1:54321"),
        "{shown}"
    );
    for key in ["ollama_host", "ollama_port"] {
        assert!(
            show_row(&shown, key).ends_with("(environment OLLAMA_HOST)"),
            "{shown}"
        );
    }

    let shown = show(
        with(no_address.clone(), "ollama_host", json!("localhost")),
        &["--show-config"],
    );
    assert!(
        shown.contains("Ollama URL    http://localhost:11434"),
        "{shown}"
    );
    assert!(show_row(&shown, "ollama_host").ends_with("(config file)"));
    assert!(show_row(&shown, "ollama_port").ends_with("(default)"));

    let shown = show(
        with(no_address.clone(), "ollama_port", json!(11500)),
        &["--show-config"],
    );
    assert!(
        shown.contains("Ollama URL    http://localhost:11500"),
        "{shown}"
    );

    // A flag beats the environment.
    let shown = show(no_address, &["--ollama-port", "4444", "--show-config"]);
    assert!(
        shown.contains("Ollama URL    http://127.0.0.1:4444"),
        "{shown}"
    );
    assert!(show_row(&shown, "ollama_port").ends_with("(command line --ollama-port)"));
}

#[test]
fn ollama_host_from_the_environment_serves_a_buyer_end_to_end() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let mut config = test_config(ollama.port());
    let object = config.as_object_mut().unwrap();
    object.remove("ollama_host");
    object.remove("ollama_port");
    let forms = [
        format!("127.0.0.1:{}", ollama.port()),
        format!("http://127.0.0.1:{}", ollama.port()),
    ];
    for (n, form) in forms.iter().enumerate() {
        let client = Launch::with_config(&config)
            .args(&["--server", &hub.url()])
            .env("OLLAMA_HOST", form)
            .start();
        assert!(hub.wait_connected(n + 1, WAIT), "{}", client.output());
        let id = json!(n + 1);
        hub.send_json(&buyer(&id, &format!("via OLLAMA_HOST {form}")));
        assert_eq!(
            answer_text(&hub, &id),
            format!("via OLLAMA_HOST {form}"),
            "{}",
            client.output()
        );
    }
    assert_eq!(ollama.generate_requests().len(), 2);
}

// ------------------------------------------------ the developer's environment

/// Set only in the second process of
/// [`the_developers_environment_does_not_reach_the_client`]: the test binary
/// run again as if from a developer's shell.
const DEVELOPER_SHELL: &str = "OPC_TEST_DEVELOPER_SHELL";
const LEAKED_TOKEN: &str = "env-token-LEAKED-7c1d";
const LEAKED_CA: &str = "/nonexistent/opc-leaked/ca.pem";

/// What a developer who also runs the client may have exported: a value for
/// every variable the client reads ([`CLIENT_ENV`]), each of which would
/// change or break a run of the rig if the client saw it. The token is not
/// the hub emulator's, the CA file is missing, Ollama's address and every
/// proxy are a closed port, `NO_PROXY` exempts none of the emulators, and
/// the locale asks for Russian.
fn developer_env() -> Vec<(&'static str, String)> {
    let dead = format!("127.0.0.1:{}", closed_port());
    CLIENT_ENV
        .iter()
        .map(|&key| {
            let value = match key {
                "OLLAMA_PROXY_TOKEN" => LEAKED_TOKEN.to_string(),
                "SSL_CERT_FILE" => LEAKED_CA.to_string(),
                "OLLAMA_HOST" => dead.clone(),
                "NO_PROXY" | "no_proxy" => "example.invalid".to_string(),
                // The rig's assertions are on the English texts.
                "LC_ALL" | "LC_MESSAGES" | "LANG" => "ru_RU.UTF-8".to_string(),
                _ => format!("http://{dead}"),
            };
            (key, value)
        })
        .collect()
}

/// The test binary runs `test` again in a new process whose own environment
/// holds [`developer_env`], as `cargo test` would from that shell; waits
/// (bounded) for it and fails with its output if it fails.
fn rerun_from_a_developers_shell(test: &str) {
    let dir = TempDir::new();
    let (out_path, err_path) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let exe = std::env::current_exe().expect("the test binary's path");
    // Under qemu (scripts/test-arm.sh) the test binary needs the emulator too.
    // The Windows client's runner (wine) is for the client alone: the
    // test binary is a Linux program then.
    let runner = if windows() {
        Runner::Direct
    } else {
        Runner::FromEnv
    };
    let mut command = runner.command(&exe);
    command
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(DEVELOPER_SHELL, "1")
        .envs(developer_env())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    let mut child = command.spawn().expect("run the test binary again");
    // Three client runs inside, each bounded by WAIT.
    let deadline = Instant::now() + 4 * WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let output = format!(
        "{}\n{}",
        std::fs::read_to_string(&out_path).unwrap_or_default(),
        std::fs::read_to_string(&err_path).unwrap_or_default()
    );
    assert!(
        status.is_some_and(|s| s.success()),
        "{test} from a developer's shell: {status:?}\n{output}"
    );
    assert!(output.contains("1 passed"), "{output}");
}

#[test]
fn the_developers_environment_does_not_reach_the_client() {
    const NAME: &str = "the_developers_environment_does_not_reach_the_client";
    if std::env::var_os(DEVELOPER_SHELL).is_none() {
        rerun_from_a_developers_shell(NAME);
        return;
    }
    // From here on this process is the developer's shell: the variables are
    // in its own environment, and the rig's launcher must keep them from
    // the client.
    for key in CLIENT_ENV {
        assert!(std::env::var_os(key).is_some(), "{key} is not exported");
    }
    let leaks: Vec<String> = CLIENT_ENV
        .iter()
        .map(|key| std::env::var(key).unwrap())
        .filter(|value| value != "example.invalid")
        .collect();
    let assert_no_leak = |out: &Finished| {
        let text = out.describe();
        for leak in &leaks {
            assert!(
                !text.contains(leak.as_str()),
                "{leak} reached the client:\n{text}"
            );
        }
    };

    // The token comes from the config file, not OLLAMA_PROXY_TOKEN;
    // Ollama's address is the default, not OLLAMA_HOST.
    let out = run_with(
        &json!({"token": TOKEN, "model": "llama3.2"}),
        &["--show-config"],
    );
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    let row = show_row(&out.stdout, "token");
    assert!(
        row.contains(&masked_token()) && row.ends_with("(config file)"),
        "{row}"
    );
    for key in ["ollama_host", "ollama_port"] {
        assert!(
            show_row(&out.stdout, key).ends_with("(default)"),
            "{}",
            out.stdout
        );
    }
    assert!(
        out.stdout.contains("Ollama URL    http://localhost:11434"),
        "{}",
        out.stdout
    );
    assert_no_leak(&out);

    // Over TLS the hub accepts the config file's token on a direct
    // connection: the leaked token would be rejected, a leaked proxy
    // refused.
    let (out, hub) = check_over_tls("developer-shell");
    assert_check(&out, [true; 4], 0);
    assert!(
        out.stdout.contains("TLS verified, token accepted"),
        "{}",
        out.stdout
    );
    assert_eq!((hub.connections(), hub.rejected()), (1, 0));
    assert_no_leak(&out);

    // Without --ca-file the client trusts only its built-in roots: the hub's
    // certificate is refused as such, not for a CA file it cannot read
    // (SSL_CERT_FILE).
    let ollama = Ollama::start();
    let out = check(&test_config(ollama.port()), &["--server", &hub.url()]);
    assert_check(&out, [true, true, true, false], 1);
    assert!(
        out.stdout.contains("signed by an unknown authority"),
        "{}",
        out.stdout
    );
    assert_no_leak(&out);
}

// ------------------------------------------------------------ --show-config

#[test]
fn show_config_masks_the_token_and_needs_neither_hub_nor_ollama() {
    let (hub_port, ollama_port) = (closed_port(), closed_port());
    let hub_url = format!("ws://127.0.0.1:{hub_port}/auth-proxy");
    let out = run_with(
        &test_config(ollama_port),
        &["--show-config", "--server", &hub_url],
    );
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    assert!(
        out.elapsed < Duration::from_secs(2) + wine_start(),
        "{:?}",
        out.elapsed
    );
    let shown = &out.stdout;
    assert!(
        show_row(shown, "token").contains(&masked_token()),
        "{shown}"
    );
    assert!(!shown.contains(token_head()) && !out.stderr.contains(token_head()));
    let home = out.home();
    for expected in [
        format!("config file   {}", shown_path(home, &config_path(home))),
        format!(
            "log file      {}",
            shown_path(home, &log_dir(home).join("client.log"))
        ),
        format!("hub URL       {hub_url}"),
        format!("Ollama URL    http://127.0.0.1:{ollama_port}"),
    ] {
        assert!(shown.contains(&expected), "{expected}:\n{shown}");
    }
    for key in [
        "token",
        "model",
        "ollama_host",
        "ollama_port",
        "stream_mode",
        "max_parallel",
        "queue_size",
        "keep_alive",
        "options",
        "load_timeout_secs",
        "idle_timeout_secs",
        "max_frame_bytes",
        "max_line_bytes",
        "ping_interval_secs",
        "dead_after_secs",
        "handshake_timeout_secs",
        "reconnect_base_secs",
        "reconnect_max_secs",
        "shutdown_grace_secs",
        "outbox_bytes",
        "log_max_bytes",
        "log_files_kept",
    ] {
        show_row(shown, key);
    }
    // The default hub needs no network either.
    let out = run_with(&test_config(ollama_port), &["--show-config"]);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    assert!(out
        .stdout
        .contains("hub URL       wss://bober.app:5050/auth-proxy"));
}

#[test]
fn output_to_a_closed_pipe_ends_quietly_with_status_0() {
    let config = test_config(closed_port());
    let runs: [(&[&str], Input); 4] = [
        (&["--show-config"], Input::Null),
        (&["--help"], Input::Null),
        (&["--version"], Input::Null),
        (&["--test"], Input::Bytes(b"hello\nexit\n".to_vec())),
    ];
    for (args, stdin) in runs {
        let out = Launch::with_config(&config)
            .args(args)
            .stdin(stdin)
            .stdout_closed()
            .run(WAIT);
        assert_eq!(out.code(), Some(0), "{args:?}: {}", out.describe());
        assert!(
            !out.stderr.contains("panicked") && !out.stderr.contains("Broken pipe"),
            "{args:?}: {}",
            out.stderr
        );
    }
}

// ----------------------------------------------------------- --reset-config

#[test]
fn reset_config_without_a_terminal_changes_nothing_and_says_how() {
    let home = TempDir::new();
    let path = write_config(
        home.path(),
        &with(test_config(1), "note", json!("old settings")),
    );
    let other = home.path().join("gpu2.json");
    std::fs::write(
        &other,
        with(test_config(2), "note", json!("gpu 2")).to_string(),
    )
    .unwrap();
    let before = [
        std::fs::read(&path).unwrap(),
        std::fs::read(&other).unwrap(),
    ];
    let other_arg = other.to_str().unwrap();
    let runs: [(&[&str], Input, &Path); 5] = [
        (&["--reset-config"], Input::Null, &path),
        (&["--reset-config", "--show-config"], Input::Null, &path),
        (&["--reset-config"], Input::Open, &path),
        (
            &[
                "--reset-config",
                "--force-token",
                "fresh-token-9999",
                "--show-config",
            ],
            Input::Bytes(b"y\n".to_vec()),
            &path,
        ),
        (
            &["--config", other_arg, "--reset-config", "--check"],
            Input::Null,
            &other,
        ),
    ];
    for (args, stdin, config) in runs {
        let out = Launch::in_home(home.path())
            .args(args)
            .stdin(stdin)
            .run(WAIT);
        assert_eq!(out.code(), Some(78), "{args:?}: {}", out.describe());
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.describe());
        assert_eq!(
            out.stderr,
            format!(
                "ollama-proxy-client: --reset-config asks the first-run questions again, \
                 which needs a terminal, and standard input is not one: {} is left as it \
                 is. Run it at a terminal, or edit or delete the file by hand",
                // A --config path is shown as it was given.
                if args.contains(&"--config") {
                    config.display().to_string()
                } else {
                    shown_path(home.path(), config)
                }
            ),
            "{args:?}"
        );
        assert_eq!(
            [
                std::fs::read(&path).unwrap(),
                std::fs::read(&other).unwrap()
            ],
            before,
            "{args:?}"
        );
        let mut expected = vec![path.clone(), other.clone()];
        expected.sort();
        assert_eq!(files_under(home.path()), expected, "{args:?}");
    }
}

// ------------------------------------------------------------------- logs

/// A client serving with the emulators until one request is answered.
fn serve_one_request(launch: Launch, hub: &Hub) -> Client {
    let mut client = launch.args(&["--server", &hub.url()]).start();
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    hub.send_json(&buyer(&json!(7), "log me"));
    assert_eq!(answer_text(hub, &json!(7)), "log me");
    stop(&mut client);
    client
}

fn has_timestamp(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 20
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
}

#[test]
fn the_log_file_gets_every_level_with_timestamps_and_the_console_info_and_up() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let client = serve_one_request(Launch::with_config(&test_config(ollama.port())), &hub);
    let log_path = log_dir(client.home.path()).join("client.log");
    let log = std::fs::read_to_string(&log_path).expect("the log file");
    assert!(log.lines().all(has_timestamp), "{log}");
    for level in ["[DEBUG]", "[INFO]"] {
        assert!(log.lines().any(|l| l.contains(level)), "{level}:\n{log}");
    }
    assert!(log.contains("connected to the hub"), "{log}");
    let console = client.stderr();
    assert!(console.contains("[INFO]"), "{console}");
    assert!(!console.contains("[DEBUG]"), "{console}");
    assert!(console.lines().all(has_timestamp), "{console}");
    assert!(!log.contains(TOKEN) && !console.contains(TOKEN));
}

#[test]
fn with_debug_the_console_gets_debug_lines_too() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let client = serve_one_request(
        Launch::with_config(&test_config(ollama.port())).args(&["--debug"]),
        &hub,
    );
    let console = client.stderr();
    assert!(console.contains("[DEBUG]"), "{console}");
    assert!(!console.contains(TOKEN));
}

#[test]
fn with_config_path_the_log_goes_beside_that_file() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let home = TempDir::new();
    let dir = home.path().join("gpu1");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("proxy.json");
    std::fs::write(&config, test_config(ollama.port()).to_string()).unwrap();
    serve_one_request(
        Launch::in_home(home.path()).args(&["--config", config.to_str().unwrap()]),
        &hub,
    );
    let log = std::fs::read_to_string(dir.join("logs").join("proxy.client.log")).unwrap();
    assert!(log.contains("connected to the hub"), "{log}");
    assert!(
        !log_dir(home.path()).exists(),
        "{:?}",
        files_under(home.path())
    );
}

#[test]
fn the_log_file_rotates_by_size_keeping_log_files_kept() {
    const MAX: u64 = 1024;
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let config = with(
        with(test_config(ollama.port()), "log_max_bytes", json!(MAX)),
        "log_files_kept",
        json!(2),
    );
    let mut client = Launch::with_config(&config)
        .args(&["--server", &hub.url()])
        .start();
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    // Each request logs its frame (DEBUG, up to 300 characters) and two
    // INFO lines: together far more than three files of 1 KiB.
    let padding = "x".repeat(120);
    for n in 0..16 {
        let prompt = format!("request {n} {padding}");
        hub.send_json(&buyer(&json!(n), &prompt));
        assert_eq!(answer_text(&hub, &json!(n)), prompt);
    }
    stop(&mut client);
    let dir = log_dir(client.home.path());
    let names: Vec<String> = files_under(&dir)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["client.log", "client.log.1", "client.log.2"]);
    for name in &names {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        let last_line = text.lines().last().unwrap_or_default().len() as u64 + 1;
        let size = text.len() as u64;
        // Rotated between lines: under the limit before its last line.
        assert!(size - last_line < MAX, "{name}: {size} bytes");
        assert!(
            text.ends_with('\n') && text.lines().all(has_timestamp),
            "{name}"
        );
        if name != "client.log" {
            assert!(size >= MAX, "{name} rotated early: {size} bytes");
        }
    }
}

/// The console lines that talk about the log file.
fn log_file_warnings(console: &str) -> Vec<&str> {
    console.lines().filter(|l| l.contains("log file")).collect()
}

#[test]
fn a_symbolic_link_at_the_log_file_is_not_followed_and_the_console_says_why() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let launch = Launch::with_config(&test_config(ollama.port()));
    let logs = log_dir(launch.home());
    std::fs::create_dir(&logs).unwrap();
    std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o700)).unwrap();
    let victim = launch.home().join("victim.txt");
    std::fs::write(&victim, "the owner's own file\n").unwrap();
    std::os::unix::fs::symlink(&victim, logs.join("client.log")).unwrap();

    let client = serve_one_request(launch, &hub);
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "the owner's own file\n"
    );
    assert!(std::fs::symlink_metadata(logs.join("client.log"))
        .unwrap()
        .file_type()
        .is_symlink());
    let console = client.stderr();
    let warnings = log_file_warnings(&console);
    assert_eq!(warnings.len(), 1, "{console}");
    let path = logs.join("client.log");
    assert!(
        warnings[0].contains(&format!(
            "[WARN] not writing the log file {}: it is a symbolic link",
            path.display()
        )) && warnings[0].contains("delete it")
            && warnings[0].ends_with("; logging to the console only"),
        "{console}"
    );
    // The client served all the same.
    assert!(console.contains("connected to the hub"), "{console}");
}

#[test]
fn a_log_directory_others_can_write_is_refused_and_a_private_one_is_used() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let home = TempDir::new();
    write_config(home.path(), &test_config(ollama.port()));
    let logs = log_dir(home.path());
    std::fs::create_dir(&logs).unwrap();
    std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o777)).unwrap();

    let client = serve_one_request(Launch::in_home(home.path()), &hub);
    let console = client.stderr();
    let warnings = log_file_warnings(&console);
    assert_eq!(warnings.len(), 1, "{console}");
    assert!(
        warnings[0].contains(&format!(
            "[WARN] not writing the log file {}: its directory {} can be written by \
             other users (mode 0777)",
            logs.join("client.log").display(),
            logs.display()
        )) && warnings[0].contains(&format!("chmod 700 {}", logs.display())),
        "{console}"
    );
    assert!(files_under(&logs).is_empty(), "{:?}", files_under(&logs));
    drop(client);

    // Made private as the message says, it is used again.
    std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o700)).unwrap();
    let hub = Hub::start(TOKEN);
    let client = serve_one_request(Launch::in_home(home.path()), &hub);
    assert!(
        log_file_warnings(&client.stderr()).is_empty(),
        "{}",
        client.stderr()
    );
    let log = std::fs::read_to_string(logs.join("client.log")).unwrap();
    assert!(log.contains("connected to the hub"), "{log}");
    assert_eq!(mode(&logs.join("client.log")), 0o600);
}

// ------------------------------------------------------- the token's secrecy

/// Everything a run left for a person to read: its output and every file
/// under its `HOME` except config files (which hold the token by design).
fn readable(label: &str, client: &Client) -> Vec<(String, String)> {
    let mut texts = vec![
        (format!("{label}: stdout"), client.stdout()),
        (format!("{label}: stderr"), client.stderr()),
    ];
    for file in files_under(client.home.path()) {
        let name = file.file_name().unwrap().to_string_lossy();
        // The control socket is not a file to read.
        if name.ends_with(".json") || !file.is_file() {
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        texts.push((format!("{label}: {}", file.display()), text));
    }
    texts
}

#[test]
fn the_token_never_appears_in_any_output_or_log() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let config = test_config(ollama.port());
    let url = hub.url();
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut served = 0;
    let mut serve = |label: &str, args: &[&str], env: Option<&str>, seen: &mut Vec<_>| {
        served += 1;
        let launch = Launch::with_config(&config).args(args);
        let launch = match env {
            Some(token) => launch.env("OLLAMA_PROXY_TOKEN", token),
            None => launch,
        };
        let mut client = launch.args(&["--server", &url]).start();
        assert!(hub.wait_connected(served, WAIT), "{}", client.output());
        let id = json!(format!("leak-{served}"));
        hub.send_json(&buyer(&id, "is the token safe?"));
        assert_eq!(answer_text(&hub, &id), "is the token safe?");
        stop(&mut client);
        seen.extend(readable(label, &client));
    };
    serve("serving", &[], None, &mut seen);
    serve("serving --debug", &["--debug"], None, &mut seen);
    serve(
        "serving, token in the environment",
        &["--debug"],
        Some(TOKEN),
        &mut seen,
    );
    serve(
        "serving --force-token",
        &["--debug", "--force-token", TOKEN],
        None,
        &mut seen,
    );

    // Test mode, answered to the console and the hub.
    let mut client = Launch::with_config(&config)
        .args(&["--test", "--server", &url])
        .stdin(Input::Open)
        .start();
    assert!(hub.wait_connected(served + 1, WAIT), "{}", client.output());
    client.write_stdin("hello there\n");
    assert_eq!(answer_text(&hub, &json!(-1)), "hello there");
    client.write_stdin("exit\n");
    assert_eq!(client.wait_exit(WAIT).and_then(|s| s.code()), Some(0));
    seen.extend(readable("--test", &client));

    // --show-config, --check passing.
    for (label, args) in [
        ("--show-config", &["--show-config"][..]),
        ("--show-config --debug", &["--show-config", "--debug"]),
        ("--check", &["--check", "--server", &url]),
        ("--check --debug", &["--check", "--debug", "--server", &url]),
    ] {
        let out = run_with(&config, args);
        assert_eq!(out.code(), Some(0), "{label}: {}", out.describe());
        seen.extend(readable(label, &out.client));
    }

    // A hub that rejects the token: --check fails, serving keeps retrying.
    let rejecting = Hub::start("some-other-token");
    let out = run_with(&config, &["--check", "--server", &rejecting.url()]);
    assert_eq!(out.code(), Some(1), "{}", out.describe());
    seen.extend(readable("--check, token rejected", &out.client));
    let mut client = Launch::with_config(&config)
        .args(&["--debug", "--server", &rejecting.url()])
        .start();
    assert!(rejecting.wait_rejected(2, WAIT), "{}", client.output());
    assert!(client.wait_output_count("rejected the token", 2, WAIT));
    stop(&mut client);
    seen.extend(readable("serving, token rejected", &client));

    // --check failing for Ollama, with the token only in the environment.
    let mut no_token = test_config(closed_port());
    no_token.as_object_mut().unwrap().remove("token");
    let out = Launch::with_config(&no_token)
        .args(&["--check", "--debug", "--server", &url])
        .env("OLLAMA_PROXY_TOKEN", TOKEN)
        .run(WAIT);
    assert_eq!(out.code(), Some(1), "{}", out.describe());
    seen.extend(readable("--check, Ollama down", &out.client));

    // Exit 78: a broken file and a wrong type, each holding the token.
    for (label, text) in [
        ("78, not JSON", format!("{{\"token\": \"{TOKEN}\",,}}")),
        (
            "78, wrong type",
            format!("{{\"token\": \"{TOKEN}\",\n\"model\": 5}}"),
        ),
        (
            "78, token not a string",
            format!("{{\"token\": [\"{TOKEN}\"]}}"),
        ),
    ] {
        let home = TempDir::new();
        write_config_text(home.path(), &text);
        let out = Launch::in_home(home.path())
            .args(&["--debug"])
            .env("OLLAMA_PROXY_TOKEN", TOKEN)
            .run(WAIT);
        assert_eq!(out.code(), Some(78), "{label}: {}", out.describe());
        seen.extend(readable(label, &out.client));
    }

    // Usage errors with the token typed where it does not belong.
    let debug_eq = format!("--debug={TOKEN}");
    for args in [
        &[TOKEN][..],
        &["--show-config", TOKEN],
        &[debug_eq.as_str()],
        &["--force-token", TOKEN, TOKEN],
        &["--test", TOKEN, "--check"],
        &["--force-token", TOKEN, "--port", "0"],
        &["--force-token", TOKEN, "--stream", "--no-stream"],
    ] {
        let out = run_with(&config, args);
        assert_eq!(out.code(), Some(2), "{args:?}: {}", out.describe());
        seen.extend(readable(&format!("usage {args:?}"), &out.client));
    }

    assert!(seen.len() > 40, "{}", seen.len());
    for (label, text) in &seen {
        assert!(
            !text.contains(token_head()),
            "the token leaked in {label}:\n{text}"
        );
    }
}

#[test]

fn a_token_typed_as_a_flags_value_is_not_echoed() {
    for args in [
        ["--port", TOKEN],
        ["--ollama-port", TOKEN],
        ["--server", TOKEN],
    ] {
        let out = run(&args);
        assert_eq!(out.code(), Some(2), "{args:?}: {}", out.describe());
        assert!(
            !out.stderr.contains(token_head()),
            "{args:?}: {}",
            out.stderr
        );
    }
}

// -------------------------------------------------------------- test mode

/// The line after the one that ends with `answer`: the summary.
fn summary_after<'a>(stdout: &'a str, answer: &str) -> &'a str {
    let mut lines = stdout.lines();
    lines
        .find(|l| l.ends_with(answer))
        .unwrap_or_else(|| panic!("no answer {answer:?}:\n{stdout}"));
    lines.next().unwrap_or_default()
}

fn is_summary(line: &str) -> bool {
    line.starts_with('[')
        && line.ends_with(" tokens/s]")
        && line.contains(" s, ")
        && line.contains(" pieces")
}

#[test]
fn test_mode_answers_on_stdout_and_to_the_hub_with_message_id_minus_1() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let mut client = Launch::with_config(&test_config(ollama.port()))
        .args(&["--test", "--server", &hub.url()])
        .stdin(Input::Open)
        .start();
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    client.write_stdin("hello there\n");
    assert_eq!(answer_text(&hub, &json!(-1)), "hello there");
    let frames = frames_for(&hub.received(), &json!(-1));
    assert!(
        frames.iter().all(|f| f["messageId"].as_i64() == Some(-1)),
        "messageId must be the number -1: {frames:?}"
    );
    assert!(
        client.wait_output(" tokens/s]", WAIT),
        "{}",
        client.output()
    );

    // Frames from the hub are shown as they arrive.
    hub.send_json(&json!({"type": "notice", "content": "hub-says-hi-4711"}));
    assert!(
        client.wait_output("hub-says-hi-4711", WAIT),
        "{}",
        client.output()
    );

    client.write_stdin("exit\n");
    let status = client.wait_exit(WAIT).expect("exits after 'exit'");
    assert_eq!(status.code(), Some(0), "{}", client.output());
    let stdout = client.stdout();
    assert!(stdout.contains("> "), "no prompt:\n{stdout}");
    // Test mode shows DEBUG lines on the console.
    assert!(client.stderr().contains("[DEBUG]"), "{}", client.stderr());
    let summary = summary_after(&stdout, "hello there");
    assert!(is_summary(summary), "{summary:?}\n{stdout}");
    assert_eq!(ollama.generate_requests().len(), 1);
}

#[test]
fn test_mode_with_all_input_piped_at_once_answers_and_exits_0() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let out = Launch::with_config(&test_config(ollama.port()))
        .args(&["--test", "--server", &hub.url()])
        .stdin(Input::Bytes(b"hello there\nexit\n".to_vec()))
        .run(WAIT);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    let summary = summary_after(&out.stdout, "hello there");
    assert!(is_summary(summary), "{summary:?}\n{}", out.stdout);
    // The answer's own log line goes to the file only: on the console it
    // would land in the middle of the answer being printed.
    let log = std::fs::read_to_string(log_dir(out.home()).join("client.log")).unwrap();
    assert!(log.contains("request -1 answered"), "{log}");
    let console = format!("{}{}", out.stdout, out.stderr);
    assert!(!console.contains("request -1 answered"), "{console}");
}

#[test]

fn test_mode_with_all_input_piped_at_once_still_sends_the_answer_to_the_hub() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let out = Launch::with_config(&test_config(ollama.port()))
        .args(&["--test", "--server", &hub.url()])
        .stdin(Input::Bytes(b"hello there\nexit\n".to_vec()))
        .run(WAIT);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    // The client has exited: whatever it sent has arrived by now.
    let answer = answer_text_within(&hub, &json!(-1), Duration::from_secs(2));
    assert_eq!(answer, "hello there");
}

#[test]
fn test_mode_checks_ollama_even_when_the_hub_cannot_be_reached() {
    let ollama = Ollama::start();
    let unreachable = format!("ws://127.0.0.1:{}/auth-proxy", closed_port());
    let config = with(test_config(ollama.port()), "shutdown_grace_secs", json!(1));
    let mut client = Launch::with_config(&config)
        .args(&["--test", "--server", &unreachable])
        .stdin(Input::Open)
        .start();
    client.write_stdin("hello there\n");
    assert!(
        client.wait_output(" tokens/s]", WAIT),
        "{}",
        client.output()
    );
    assert!(
        client.wait_output("cannot connect", WAIT),
        "{}",
        client.output()
    );
    // The end of input ends it.
    client.close_stdin();
    let status = client.wait_exit(WAIT).expect("exits at the end of input");
    assert_eq!(status.code(), Some(0), "{}", client.output());
    let stdout = client.stdout();
    let summary = summary_after(&stdout, "hello there");
    assert!(is_summary(summary), "{summary:?}");
}

#[test]
fn test_mode_ends_at_the_end_of_input_even_without_a_token() {
    let ollama = Ollama::start();
    let mut config = test_config(ollama.port());
    config.as_object_mut().unwrap().remove("token");
    let out = Launch::with_config(&config)
        .args(&["--test"])
        .stdin(Input::Bytes(b"hello there\n\nsecond one\n".to_vec()))
        .run(WAIT);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    assert!(is_summary(summary_after(&out.stdout, "hello there")));
    assert!(is_summary(summary_after(&out.stdout, "second one")));
    assert!(out.stderr.contains("no hub token"), "{}", out.stderr);
    assert_eq!(ollama.generate_requests().len(), 2);
    // Nothing about a hub it never tried.
    assert!(!out.stderr.contains("not delivered"), "{}", out.stderr);
    assert!(!out.stderr.contains("could not take"), "{}", out.stderr);
}

// ------------------------------------------------------------------ --check

/// The checklist's four marks in order: true for `[ OK ]`.
fn checklist(out: &Finished) -> Vec<bool> {
    let lines: Vec<&str> = out.stdout.lines().collect();
    let mut marks = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        if line.starts_with("[ OK ]") {
            marks.push(true);
        } else if line.starts_with("[FAIL]") {
            marks.push(false);
            let fix = lines.get(n + 1).map(|l| l.trim_start()).unwrap_or("");
            assert!(
                fix.starts_with("fix: ") && fix.len() > 10,
                "no fix after {line:?}:\n{}",
                out.stdout
            );
        }
    }
    marks
}

fn check(config: &Value, args: &[&str]) -> Finished {
    let out = run_with(config, &[&["--check"], args].concat());
    assert!(out.elapsed < Duration::from_secs(12), "{}", out.describe());
    out
}

/// `--check` against the emulators, the hub over TLS with a CA made for
/// the test and given with `--ca-file`; the hub is returned for its counts.
fn check_over_tls(ca_name: &str) -> (Finished, Hub) {
    let ollama = Ollama::start();
    let ca = TestCa::new(ca_name);
    let hub = Hub::start_tls(TOKEN, &ca);
    let launch = Launch::with_config(&test_config(ollama.port()));
    let ca_file = ca.write_pem(launch.home());
    let out = launch
        .args(&[
            "--check",
            "--server",
            &hub.url(),
            "--ca-file",
            ca_file.to_str().unwrap(),
        ])
        .run(WAIT);
    (out, hub)
}

/// `text` holds every one of `parts`.
fn assert_says(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "{part}:\n{text}");
    }
}

fn assert_check(out: &Finished, expected: [bool; 4], status: i32) {
    // The config, Ollama, the model, the 1-token answer (against the
    // emulator it passes exactly when Ollama and the model did), the hub,
    // then the owner's pause (tests/control.rs checks it paused).
    let [config, ollama, model, hub] = expected;
    let expected = [config, ollama, model, ollama && model, hub];
    let mut marks = checklist(out);
    assert_eq!(marks.pop(), Some(true), "{}", out.describe());
    assert!(
        out.stdout.trim_end().ends_with("[ OK ] not paused"),
        "{}",
        out.describe()
    );
    assert_eq!(marks, expected, "{}", out.describe());
    assert_eq!(out.code(), Some(status), "{}", out.describe());
}

#[test]
fn check_passes_against_the_emulators_over_tls() {
    let (out, hub) = check_over_tls("check");
    assert_check(&out, [true; 4], 0);
    assert_says(
        &out.stdout,
        &[
            &format!("Ollama {VERSION}"),
            "model 'llama3.2' is installed",
            "TLS verified",
            "token accepted",
        ],
    );
    assert_eq!(hub.connections(), 1);
}

#[test]
fn check_passes_against_an_https_ollama_trusted_through_the_ca_file() {
    let ca = TestCa::new("check-ollama");
    let ollama = Ollama::start_tls(&ca);
    let hub = Hub::start(TOKEN);
    let launch = Launch::with_config(&test_config(1));
    let ca_file = ca.write_pem(launch.home());
    let out = launch
        .args(&[
            "--check",
            "--server",
            &hub.url(),
            "--ollama-host",
            &ollama.url(),
            "--ca-file",
            ca_file.to_str().unwrap(),
        ])
        .run(WAIT);
    assert_check(&out, [true; 4], 0);
    assert_says(
        &out.stdout,
        &[
            &format!("Ollama {VERSION} answers at {}", ollama.url()),
            "model 'llama3.2' is installed",
            "token accepted",
        ],
    );
    assert_eq!(ollama.tls_failures(), 0);
    let paths: Vec<String> = ollama.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/api/version", "/api/tags", "/api/generate"]);
}

#[test]
fn check_against_an_https_ollama_from_an_unknown_ca_says_so() {
    let ca = TestCa::new("check-ollama");
    let ollama = Ollama::start_tls(&ca);
    let hub = Hub::start(TOKEN);
    let out = check(
        &test_config(1),
        &["--server", &hub.url(), "--ollama-host", &ollama.url()],
    );
    assert_check(&out, [true, false, false, true], 1);
    assert!(out.stdout.contains("UnknownIssuer"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("give its CA certificate with --ca-file"),
        "{}",
        out.stdout
    );
    assert!(ollama.wait_tls_failures(1, WAIT));
}

#[test]
fn check_with_an_https_ollama_and_a_bad_ca_file_gives_the_ca_fix() {
    let ca = TestCa::new("check-ollama");
    let ollama = Ollama::start_tls(&ca);
    let hub = Hub::start(TOKEN);
    let launch = Launch::with_config(&test_config(1));
    let bad_ca = launch.home().join("not-a-ca.pem");
    std::fs::write(&bad_ca, "not a certificate\n").unwrap();
    let out = launch
        .args(&[
            "--check",
            "--server",
            &hub.url(),
            "--ollama-host",
            &ollama.url(),
            "--ca-file",
            bad_ca.to_str().unwrap(),
        ])
        .run(WAIT);
    // The plain ws:// hub needs no CA; Ollama's https does.
    assert_check(&out, [true, false, false, true], 1);
    let expected = format!("Ollama at {}: not checked: CA file", ollama.url());
    assert!(out.stdout.contains(&expected), "{}", out.stdout);
    assert!(
        out.stdout.contains("holds no certificate"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("give --ca-file"), "{}", out.stdout);
    assert_eq!(ollama.connections(), 0);
}

#[test]
fn check_passes_over_plain_ws_with_the_token_from_the_environment() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let mut config = test_config(ollama.port());
    config.as_object_mut().unwrap().remove("token");
    let out = Launch::with_config(&config)
        .args(&["--check", "--server", &hub.url()])
        .env("OLLAMA_PROXY_TOKEN", TOKEN)
        .run(WAIT);
    assert_check(&out, [true; 4], 0);
    // The check leaves the hub politely.
    assert!(hub.wait_close_frames(1, WAIT));
    assert_eq!(hub.close_frames(), [Some(1000)]);
}

#[test]
fn check_fails_when_ollama_is_down() {
    let hub = Hub::start(TOKEN);
    let out = check(&test_config(closed_port()), &["--server", &hub.url()]);
    assert_check(&out, [true, false, false, true], 1);
    assert!(out.stdout.contains("--ollama-host"), "{}", out.stdout);
}

#[test]
fn check_fails_when_the_model_is_not_installed() {
    let ollama = Ollama::with_models(&["qwen3:8b"]);
    let hub = Hub::start(TOKEN);
    let out = check(&test_config(ollama.port()), &["--server", &hub.url()]);
    assert_check(&out, [true, true, false, true], 1);
    assert!(
        out.stdout.contains("ollama pull llama3.2"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("qwen3:8b"), "{}", out.stdout);
}

#[test]
fn check_fails_when_the_hub_rejects_the_token() {
    let ollama = Ollama::start();
    let hub = Hub::start("another-token");
    let out = check(&test_config(ollama.port()), &["--server", &hub.url()]);
    assert_check(&out, [true, true, true, false], 1);
    assert!(out.stdout.contains("rejected"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("fix: get a valid token from the marketplace"),
        "{}",
        out.stdout
    );
    assert_eq!(hub.rejected(), 1);
}

#[test]
fn check_fails_when_the_hubs_certificate_is_not_trusted_and_says_to_look_at_the_clock() {
    let ollama = Ollama::start();
    let ca = TestCa::new("untrusted-by-check");
    let hub = Hub::start_tls(TOKEN, &ca);
    // No --ca-file: the hub's private CA is not among the Mozilla roots.
    let out = check(&test_config(ollama.port()), &["--server", &hub.url()]);
    assert_check(&out, [true, true, true, false], 1);
    assert!(
        out.stdout
            .contains("fix: see above; check this box's clock too"),
        "{}",
        out.stdout
    );
}

#[test]
fn check_fails_when_the_hub_cannot_be_reached_or_stays_silent() {
    let ollama = Ollama::start();
    let unreachable = format!("ws://127.0.0.1:{}/auth-proxy", closed_port());
    let out = check(&test_config(ollama.port()), &["--server", &unreachable]);
    assert_check(&out, [true, true, true, false], 1);
    assert!(
        out.stdout.contains("fix: check the network and firewall"),
        "{}",
        out.stdout
    );

    // A hub that accepts TCP and then says nothing: the handshake times out.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "ws://127.0.0.1:{}/auth-proxy",
        silent.local_addr().unwrap().port()
    );
    let config = with(
        test_config(ollama.port()),
        "handshake_timeout_secs",
        json!(0.5),
    );
    let out = check(&config, &["--server", &url]);
    assert_check(&out, [true, true, true, false], 1);
    assert!(out.stdout.contains("did not finish"), "{}", out.stdout);
}

#[test]
fn check_fails_without_a_token() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let mut config = test_config(ollama.port());
    config.as_object_mut().unwrap().remove("token");
    let out = check(&config, &["--server", &hub.url()]);
    assert_check(&out, [false, true, true, false], 1);
    assert!(out.stdout.contains("--force-token"), "{}", out.stdout);
    assert_eq!(hub.request_uris().len(), 0);
}

#[test]
fn check_reports_a_corrupt_config_file_as_a_failed_step() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    for text in [
        "{\n  \"token\": \"t\",,\n}".to_string(),
        format!("{{\n  \"token\": \"{TOKEN}\",\n  \"max_parallel\": \"two\"\n}}"),
    ] {
        let home = TempDir::new();
        let path = write_config_text(home.path(), &text);
        // The other steps run on the defaults and the environment.
        let out = Launch::in_home(home.path())
            .args(&["--check", "--server", &hub.url()])
            .env("OLLAMA_HOST", &ollama.url())
            .env("OLLAMA_PROXY_TOKEN", TOKEN)
            .run(WAIT);
        assert_check(&out, [false, true, true, true], 1);
        let first = out.stdout.lines().next().unwrap_or_default();
        assert!(first.contains(&shown_path(home.path(), &path)), "{first}");
        assert!(
            first.contains("line 2") || first.contains("line 3"),
            "{first}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }
}

#[test]
fn check_saves_the_flags_it_is_given_like_every_mode() {
    let ollama = Ollama::with_models(&["qwen3:8b"]);
    let hub = Hub::start(TOKEN);
    let mut config = test_config(ollama.port());
    config.as_object_mut().unwrap().remove("token");
    let out = check(
        &config,
        &[
            "--server",
            &hub.url(),
            "--force-token",
            TOKEN,
            "--force-model",
            "qwen3:8b",
        ],
    );
    assert_check(&out, [true, true, true, true], 0);
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(config_path(out.home())).unwrap()).unwrap();
    assert_eq!(saved["token"], TOKEN);
    assert_eq!(saved["model"], "qwen3:8b");
}

#[test]
fn check_with_a_token_and_a_bad_ca_file_gives_the_ca_fix() {
    let ollama = Ollama::start();
    let launch = Launch::with_config(&test_config(ollama.port()));
    let bad_ca = launch.home().join("not-a-ca.pem");
    std::fs::write(&bad_ca, "not a certificate\n").unwrap();
    let unused_hub = format!("wss://127.0.0.1:{}/auth-proxy", closed_port());
    let out = launch
        .args(&[
            "--check",
            "--server",
            &unused_hub,
            "--ca-file",
            bad_ca.to_str().unwrap(),
        ])
        .run(WAIT);
    assert_check(&out, [true, true, true, false], 1);
    assert!(
        out.stdout.contains("holds no certificate"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("give --ca-file"), "{}", out.stdout);
    assert!(
        !out.stdout.contains("set the token first"),
        "{}",
        out.stdout
    );
}

#[test]
fn test_mode_exits_at_once_when_the_hub_is_not_connected() {
    let ollama = Ollama::start();
    let unreachable = format!("ws://127.0.0.1:{}/auth-proxy", closed_port());
    // A grace period far longer than the test waits: nothing may wait for it.
    let config = with(test_config(ollama.port()), "shutdown_grace_secs", json!(60));
    let out = Launch::with_config(&config)
        .args(&["--test", "--server", &unreachable])
        .stdin(Input::Bytes(b"hello there\nexit\n".to_vec()))
        .run(WAIT);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    let summary = summary_after(&out.stdout, "hello there");
    assert!(is_summary(summary), "{summary:?}\n{}", out.stdout);
    assert!(
        out.stderr
            .contains("answer frame(s) not delivered: the hub is not connected"),
        "{}",
        out.describe()
    );
}

#[test]
fn a_thread_that_cannot_start_ends_with_status_71_and_says_why() {
    if std::env::var_os("OPC_TEST_RUNNER").is_some() {
        // Under qemu-user the guest's address space, not this limit, decides.
        return;
    }
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    // Every thread asks for a 1 TiB stack, which no machine here can map.
    let out = Launch::with_config(&test_config(ollama.port()))
        .args(&["--server", &hub.url()])
        .env("RUST_MIN_STACK", "1099511627776")
        .run(WAIT);
    assert_ended(&out, 71, "cannot start the writer thread");
}

#[test]
fn check_fails_when_the_flags_cannot_be_saved() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    // A config file in a folder nobody can create, root included.
    let port = ollama.port().to_string();
    let out = Launch::fresh()
        .args(&[
            "--check",
            "--config",
            "/proc/self/ollama-proxy-client/config.json",
            "--ollama-host",
            "127.0.0.1",
            "--ollama-port",
            &port,
            "--force-model",
            "llama3.2",
            "--server",
            &hub.url(),
        ])
        .env("OLLAMA_PROXY_TOKEN", TOKEN)
        .run(WAIT);
    assert_check(&out, [false, true, true, true], 1);
    assert!(
        out.stdout.contains("cannot write config file"),
        "{}",
        out.stdout
    );
}

/// Starts `launch` with a `SSL_CERT_FILE` that cannot be read, against a
/// TLS hub whose CA it then lacks: it keeps running, says once that it
/// ignores the file, and says why it cannot trust the hub.
fn start_with_a_broken_ssl_cert_file(launch: Launch) -> (Client, String) {
    let client = launch
        .env("SSL_CERT_FILE", "/nonexistent/ca-bundle.pem")
        .start();
    assert!(
        client.wait_output("unknown authority", WAIT),
        "{}",
        client.output()
    );
    let output = client.output();
    assert_eq!(
        output.matches("ignoring SSL_CERT_FILE").count(),
        1,
        "{output}"
    );
    (client, output)
}

#[test]
fn a_broken_ssl_cert_file_is_a_warning_not_a_stop() {
    // Both TLS users at once: the hub and an https Ollama.
    let ca = TestCa::new("elsewhere");
    let ollama = Ollama::start_tls(&ca);
    let hub = Hub::start_tls(TOKEN, &ca);
    let launch = Launch::with_config(&test_config(1)).args(&[
        "--server",
        &hub.url(),
        "--ollama-host",
        &ollama.url(),
    ]);
    let mut client = launch
        .env("SSL_CERT_FILE", "/nonexistent/ca-bundle.pem")
        .start();
    // Ollama's certificate cannot be trusted either, so the client waits
    // for it before it connects to the hub.
    assert!(
        client.wait_output("UnknownIssuer", WAIT),
        "{}",
        client.output()
    );
    let output = client.output();
    assert_eq!(
        output.matches("ignoring SSL_CERT_FILE").count(),
        1,
        "{output}"
    );
    for user in ["hub TLS", "Ollama's https"] {
        let line = format!("{user} trusts the bundled Mozilla roots only");
        assert!(output.contains(&line), "{line}:\n{output}");
    }
    stop(&mut client);
}

#[test]
fn a_broken_ca_file_flag_is_still_a_configuration_error() {
    let ollama = Ollama::start();
    let ca = TestCa::new("flagged");
    let hub = Hub::start_tls(TOKEN, &ca);
    let out = Launch::with_config(&test_config(ollama.port()))
        .args(&["--server", &hub.url(), "--ca-file", "/nonexistent/ca.pem"])
        .run(WAIT);
    assert_ended(&out, 78, "cannot read CA file");
}

#[test]
fn a_token_in_the_server_url_is_used_saved_and_never_shown() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let mut config = test_config(ollama.port());
    config.as_object_mut().unwrap().remove("token");
    let url = format!("{}?token={TOKEN}", hub.url());

    let shown = Launch::with_config(&config)
        .args(&["--show-config", "--server", &url])
        .run(WAIT);
    assert_eq!(shown.code(), Some(0), "{}", shown.describe());
    assert!(!shown.stdout.contains(TOKEN), "{}", shown.stdout);
    assert!(
        shown
            .stdout
            .contains(&format!("hub URL       {}", hub.url())),
        "{}",
        shown.stdout
    );
    let token_row = shown
        .stdout
        .lines()
        .find(|l| l.starts_with("token "))
        .unwrap();
    assert!(
        token_row.ends_with("(command line --server)"),
        "{token_row}"
    );

    let mut client = Launch::with_config(&config)
        .args(&["--server", &url])
        .start();
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    assert_eq!(
        hub.request_uris()
            .last()
            .map(|u| u.matches("token=").count()),
        Some(1),
        "{:?}",
        hub.request_uris()
    );
    client.terminate();
    assert!(client.wait_exit(WAIT).is_some());
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(config_path(client.home.path())).unwrap())
            .unwrap();
    assert_eq!(saved["token"], TOKEN);
    let log = std::fs::read_to_string(log_dir(client.home.path()).join("client.log")).unwrap();
    assert!(!client.output().contains(TOKEN), "{}", client.output());
    assert!(!log.contains(TOKEN), "{log}");
    assert!(
        log.contains(&format!("connecting to {}", hub.url())),
        "{log}"
    );
}

#[test]
fn buyers_prompts_reach_the_log_only_when_the_owner_chooses() {
    for (log_prompts, kept) in [(None, false), (Some(true), true)] {
        let ollama = Ollama::start();
        let hub = Hub::start(TOKEN);
        let mut config = test_config(ollama.port());
        if let Some(on) = log_prompts {
            config = with(config, "log_prompts", json!(on));
        }
        let mut client = Launch::with_config(&config)
            .args(&["--server", &hub.url()])
            .start();
        assert!(hub.wait_connected(1, WAIT), "{}", client.output());
        let prompt = "a buyer's private words 7788";
        hub.send_json(&buyer(&json!(1), prompt));
        assert_eq!(answer_text(&hub, &json!(1)), prompt);
        stop(&mut client);
        let log = std::fs::read_to_string(log_dir(client.home.path()).join("client.log")).unwrap();
        assert!(log.contains("request 1 received"), "{log}");
        assert_eq!(
            log.contains(prompt),
            kept,
            "log_prompts {log_prompts:?}:\n{log}"
        );
    }
}

#[test]
fn every_non_zero_exit_says_why_on_stderr() {
    let ollama = Ollama::start();
    let config = test_config(ollama.port());
    let mut no_token = config.clone();
    no_token.as_object_mut().unwrap().remove("token");
    let broken = "{\n  \"model\": \"x\",\n  \"ollama_port\": true\n}\n";
    let cases: Vec<(&str, Launch)> = vec![
        (
            "unknown flag",
            Launch::with_config(&config).args(&["--frobnicate"]),
        ),
        (
            "bad port",
            Launch::with_config(&config).args(&["--port", "0"]),
        ),
        (
            "bad server URL",
            Launch::with_config(&config).args(&["--server", "http://x"]),
        ),
        ("no token, no terminal", Launch::with_config(&no_token)),
        (
            "bad CA file",
            Launch::with_config(&config).args(&[
                "--server",
                "wss://127.0.0.1:1/x",
                "--ca-file",
                "/nonexistent.pem",
            ]),
        ),
        ("broken config file", {
            let launch = Launch::fresh();
            write_config_text(launch.home(), broken);
            launch
        }),
        ("broken config file, --check", {
            let launch = Launch::fresh().args(&["--check"]);
            write_config_text(launch.home(), broken);
            launch
        }),
        (
            "--check failing",
            Launch::with_config(&test_config(closed_port())).args(&[
                "--check",
                "--server",
                "ws://127.0.0.1:1/x",
            ]),
        ),
    ];
    for (what, launch) in cases {
        let out = launch.run(WAIT);
        let code = out.code();
        assert!(
            matches!(code, Some(c) if c != 0),
            "{what}: {}",
            out.describe()
        );
        let said = if code == Some(1) {
            &out.stdout
        } else {
            &out.stderr
        };
        assert!(
            !said.trim().is_empty(),
            "{what}: exit {code:?} with nothing said\n{}",
            out.describe()
        );
    }
}

/// The run ended with `status` and said `why` on stderr.
fn assert_ended(out: &Finished, status: i32, why: &str) {
    assert_eq!(out.code(), Some(status), "{}", out.describe());
    assert!(out.stderr.contains(why), "{}", out.describe());
}

#[test]
fn a_broken_ssl_cert_file_is_reported_for_the_hub_alone_too() {
    let ollama = Ollama::start();
    let ca = TestCa::new("hub-only");
    let hub = Hub::start_tls(TOKEN, &ca);
    let launch = Launch::with_config(&test_config(ollama.port())).args(&["--server", &hub.url()]);
    let (mut client, _) = start_with_a_broken_ssl_cert_file(launch);
    stop(&mut client);
}
