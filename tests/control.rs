//! The owner's hold on a running client, end to end: the real binary
//! serves against the hub and Ollama emulators on 127.0.0.1, and a second
//! run of the binary asks it `--status [--json]`, `--pause [DURATION]`
//! and `--resume` through its control socket. Also the socket itself
//! (private, replaced after a crash, robust to garbage), the one-client
//! rule (exit 75), and a pause outliving a restart.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::answers::{buyer, closed_port, streamed_answer, WAIT};
use support::client::{config_dir, test_config, with, Client, Finished, Launch, TOKEN};
use support::hub::Hub;
use support::ollama::{Ollama, Reply};
use support::rig::Rig;

/// How long a paused client is watched for a reconnect it must not make
/// (its reconnect delays are 0.05-0.2 s).
const NO_RECONNECT: Duration = Duration::from_millis(800);

/// Runs the binary as the owner would, on the config in `home`.
fn owner(home: &Path, args: &[&str]) -> Finished {
    Launch::in_home(home).args(args).run(WAIT)
}

fn owner_env(home: &Path, env: (&str, &str), args: &[&str]) -> Finished {
    Launch::in_home(home).env(env.0, env.1).args(args).run(WAIT)
}

/// `--status --json`: the exit code and the object.
fn status(home: &Path) -> (Option<i32>, Value) {
    let run = owner(home, &["--status", "--json"]);
    let object = serde_json::from_str(run.stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {}", run.describe()));
    (run.code(), object)
}

/// Asks `--status --json` until `done` holds (bounded by [`WAIT`]); a
/// client that has not opened its socket yet (exit 69) is asked again.
fn wait_status(home: &Path, done: impl Fn(&Value) -> bool) -> (Option<i32>, Value) {
    let deadline = Instant::now() + WAIT;
    loop {
        let run = owner(home, &["--status", "--json"]);
        let starting = run.code() == Some(69) && Instant::now() < deadline;
        if !starting {
            let (code, object) = (run.code(), serde_json::from_str(run.stdout.trim()));
            let object: Value = object.unwrap_or_else(|e| panic!("{e}: {}", run.describe()));
            if done(&object) || Instant::now() > deadline {
                return (code, object);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn socket(home: &Path) -> PathBuf {
    config_dir(home).join("control.sock")
}

/// One raw exchange on the control socket: the bytes sent, then the
/// answer line.
fn raw(home: &Path, bytes: &[u8]) -> Value {
    let mut stream = UnixStream::connect(socket(home)).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.write_all(bytes).unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
}

// ------------------------------------------------------------- --status

#[test]
fn status_with_no_client_running_exits_69() {
    let launch = Launch::with_config(&test_config(closed_port())).args(&["--status"]);
    let run = launch.run(WAIT);
    assert_eq!(run.code(), Some(69), "{}", run.describe());
    assert!(
        run.stderr.contains("no client is running on this config ("),
        "{}",
        run.describe()
    );
    assert!(run.stdout.is_empty());
    // No socket and no lock were left behind by asking.
    let dir = config_dir(run.home());
    assert!(!dir.join("control.sock").exists() && !dir.join("paused.json").exists());
}

#[test]
fn status_while_serving_tells_everything_and_exits_0() {
    let rig = Rig::start();
    rig.ollama.push(Reply::pieces(&["Hel", "lo"]));
    rig.hub.send_json(&buyer(&json!(7), "hi"));
    streamed_answer(&rig.hub, &json!(7));
    let (code, status) = wait_status(rig.home(), |s| s["today"]["answered"] == 1);
    assert_eq!(code, Some(0), "{status}");
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(status["pid"], rig.client.shown_pid());
    assert_eq!(status["model"], "llama3.2");
    assert_eq!(status["serving"], true);
    assert_eq!(status["hub"]["state"], "connected");
    assert!(status["hub"]["since"].as_str().unwrap().ends_with('Z'));
    assert_eq!(status["ollama"], json!({"state": "up"}));
    assert_eq!(status["paused"], false);
    assert_eq!(status["paused_until"], Value::Null);
    assert_eq!(
        (status["running"].clone(), status["queued"].clone()),
        (json!(0), json!(0))
    );
    assert!(status["uptime_secs"].as_u64().unwrap() < 60);
    let today = &status["today"];
    assert_eq!(
        (today["answered"].clone(), today["errors"].clone()),
        (json!(1), json!(0))
    );
    assert_eq!(today["tokens"], 2);
    assert!(today["since"].as_str().unwrap().ends_with('Z'), "{today}");
    assert!(status.get("ok").is_none(), "{status}");

    let en = owner(rig.home(), &["--status"]);
    assert_eq!(en.code(), Some(0), "{}", en.describe());
    for line in [
        format!(
            "Version    {} (pid {})",
            env!("CARGO_PKG_VERSION"),
            rig.client.shown_pid()
        ),
        "Model      llama3.2".into(),
        "Serving    yes".into(),
        "Hub        connected since ".into(),
        "Ollama     up".into(),
        "Requests   0 running, 0 queued".into(),
        "Today      1 answered, 0 errors, 2 tokens".into(),
        "Paused     no".into(),
    ] {
        assert!(en.stdout.contains(&line), "{line}\n{}", en.stdout);
    }
    let ru = owner_env(rig.home(), ("LANG", "ru_RU.UTF-8"), &["--status"]);
    assert_eq!(ru.code(), Some(0), "{}", ru.describe());
    for line in [
        "Продаёт    да",
        "Хаб        на связи с ",
        "Ollama     работает",
        "Запросы    выполняется: 0, в очереди: 0",
        "Сегодня    ответов: 1, ошибок: 0, токенов: 2",
        "Пауза      нет",
    ] {
        assert!(ru.stdout.contains(line), "{line}\n{}", ru.stdout);
    }
}

#[test]
fn status_while_the_hub_is_unreachable_says_when_it_reconnects() {
    let ollama = Ollama::start();
    let config = with(test_config(ollama.port()), "reconnect_base_secs", json!(30));
    let config = with(config, "reconnect_max_secs", json!(60));
    let hub_url = format!("ws://127.0.0.1:{}/auth-proxy", closed_port());
    let client = Client::start(&config, &["--server", &hub_url]);
    let home = client.home.path();
    let (code, status) = wait_status(home, |s| s["hub"]["state"] == "reconnecting");
    assert_eq!(code, Some(1), "{status}\n{}", client.output());
    assert_eq!(status["hub"]["state"], "reconnecting", "{status}");
    assert!(status["hub"]["retry_at"].is_string(), "{status}");
    assert_eq!(status["serving"], false);
    assert_eq!(status["ollama"]["state"], "up");
    let human = owner(home, &["--status"]);
    assert_eq!(human.code(), Some(1), "{}", human.describe());
    // The first delay is reconnect_base_secs (30) plus up to 20 % jitter.
    let seconds: u64 = human
        .stdout
        .split("Hub        reconnecting in ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{}", human.stdout));
    assert!((20..=37).contains(&seconds), "{}", human.stdout);
    assert!(human.stdout.contains("Serving    no"), "{}", human.stdout);
}

#[test]
fn status_while_ollama_is_down_says_since_when_and_why() {
    let hub = Hub::start(TOKEN);
    let client = Client::start(&test_config(closed_port()), &["--server", &hub.url()]);
    let home = client.home.path();
    let (code, status) = wait_status(home, |s| s["ollama"]["state"] == "down");
    assert_eq!(code, Some(1), "{status}\n{}", client.output());
    assert_eq!(status["ollama"]["state"], "down", "{status}");
    assert_eq!(status["ollama"]["model_missing"], false);
    assert!(status["ollama"]["since"].is_string());
    assert!(
        status["ollama"]["error"]
            .as_str()
            .unwrap()
            .contains("Ollama"),
        "{status}"
    );
    assert_eq!(status["hub"]["state"], "waiting_for_ollama");
    let human = owner(home, &["--status"]);
    assert_eq!(human.code(), Some(1), "{}", human.describe());
    assert!(
        human.stdout.contains("Ollama     down since "),
        "{}",
        human.stdout
    );
    assert!(
        human
            .stdout
            .contains("Hub        disconnected: waiting for Ollama"),
        "{}",
        human.stdout
    );
    assert_eq!(hub.connections(), 0);
}

// --------------------------------------------------- --pause, --resume

#[test]
fn pause_closes_the_hub_connection_and_only_resume_reconnects() {
    let rig = Rig::start();
    let paused = owner(rig.home(), &["--pause"]);
    assert_eq!(paused.code(), Some(0), "{}", paused.describe());
    assert!(
        paused
            .stdout
            .contains("paused until --resume (running answers finish first"),
        "{}",
        paused.stdout
    );
    assert!(
        rig.hub.wait_close_frames(1, WAIT),
        "{}",
        rig.client.output()
    );
    assert_eq!(rig.hub.close_frames(), [Some(1000)]);
    let (code, status) = wait_status(rig.home(), |s| s["hub"]["state"] == "paused");
    assert_eq!(code, Some(1), "{status}");
    assert_eq!(status["paused"], true);
    assert_eq!(status["paused_until"], Value::Null);
    assert_eq!(status["hub"]["state"], "paused");
    let human = owner(rig.home(), &["--status"]);
    assert!(
        human.stdout.contains("Paused     until --resume"),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains("Hub        disconnected: paused"),
        "{}",
        human.stdout
    );
    assert!(
        !rig.hub.wait_connected(2, NO_RECONNECT),
        "reconnected while paused"
    );
    assert_eq!(rig.hub.connections(), 1);

    let resumed = owner(rig.home(), &["--resume"]);
    assert_eq!(resumed.code(), Some(0), "{}", resumed.describe());
    assert!(resumed.stdout.contains("resumed"), "{}", resumed.stdout);
    assert!(rig.hub.wait_connected(2, WAIT), "{}", rig.client.output());
    let (code, status) = wait_status(rig.home(), |s| s["serving"] == true);
    assert_eq!(
        (code, status["paused"].clone()),
        (Some(0), json!(false)),
        "{status}"
    );
    let again = owner(rig.home(), &["--resume"]);
    assert_eq!(again.code(), Some(0), "{}", again.describe());
    assert_eq!(again.stdout.trim(), "not paused");
    assert!(!config_dir(rig.home()).join("paused.json").exists());
}

#[test]
fn a_pause_with_a_duration_ends_by_itself() {
    let rig = Rig::start();
    let paused = owner(rig.home(), &["--pause", "1s"]);
    assert_eq!(paused.code(), Some(0), "{}", paused.describe());
    assert!(
        paused.stdout.starts_with("paused until "),
        "{}",
        paused.stdout
    );
    assert!(rig.hub.wait_close_frames(1, WAIT));
    let (_, status) = status(rig.home());
    assert!(status["paused_until"].is_string(), "{status}");
    assert!(rig.hub.wait_connected(2, WAIT), "{}", rig.client.output());
    let (code, status) = wait_status(rig.home(), |s| s["serving"] == true);
    assert_eq!(code, Some(0), "{status}");
    assert!(!config_dir(rig.home()).join("paused.json").exists());
}

#[test]
fn a_pause_outlives_a_restart_and_check_shows_it() {
    let rig = Rig::start();
    let home = rig.home().to_path_buf();
    assert_eq!(owner(&home, &["--pause", "2h"]).code(), Some(0));
    assert!(rig.hub.wait_close_frames(1, WAIT));
    let Rig {
        hub,
        ollama,
        mut client,
    } = rig;
    client.terminate();
    assert!(client.wait_exit(WAIT).is_some());

    let second = Launch::in_home(&home)
        .args(&["--server", &hub.url()])
        .start();
    assert!(
        second.wait_output("still paused by the owner", WAIT),
        "{}",
        second.output()
    );
    let (code, status) = status(&home);
    assert_eq!(code, Some(1), "{status}");
    assert_eq!(status["pid"], second.shown_pid());
    assert_eq!(status["paused"], true);
    assert!(status["paused_until"].is_string(), "{status}");
    assert!(
        !hub.wait_connected(2, NO_RECONNECT),
        "connected while paused"
    );

    let check = owner(&home, &["--check", "--server", &hub.url()]);
    assert!(
        check.stdout.contains("[NOTE] paused until "),
        "{}",
        check.describe()
    );
    assert!(
        check.stdout.contains("--resume ends it"),
        "{}",
        check.describe()
    );

    assert_eq!(owner(&home, &["--resume"]).code(), Some(0));
    assert!(hub.wait_connected(2, WAIT), "{}", second.output());
    let check = owner(&home, &["--check", "--server", &hub.url()]);
    assert!(
        check.stdout.contains("[ OK ] not paused"),
        "{}",
        check.describe()
    );
    drop(ollama);
    drop(client);
}

#[test]
fn with_no_client_running_pause_and_resume_change_the_next_start() {
    let hub = Hub::start(TOKEN);
    let ollama = Ollama::start();
    let launch = Launch::with_config(&test_config(ollama.port()));
    let home = launch.home().to_path_buf();
    let _keep = launch.args(&["--version"]).run(WAIT);
    let paused = owner(&home, &["--pause", "30m"]);
    assert_eq!(paused.code(), Some(0), "{}", paused.describe());
    assert!(
        paused
            .stdout
            .contains("no client is running on this config; it will start paused until "),
        "{}",
        paused.stdout
    );
    let client = Launch::in_home(&home)
        .args(&["--server", &hub.url()])
        .start();
    assert!(
        client.wait_output("still paused by the owner", WAIT),
        "{}",
        client.output()
    );
    drop(client);

    let resumed = owner(&home, &["--resume"]);
    assert_eq!(resumed.code(), Some(0), "{}", resumed.describe());
    assert!(
        resumed.stdout.contains("the saved pause is removed"),
        "{}",
        resumed.stdout
    );
    assert!(!config_dir(&home).join("paused.json").exists());
    let again = owner(&home, &["--resume"]);
    assert!(
        again.stdout.contains("no pause is saved"),
        "{}",
        again.describe()
    );
    let client = Launch::in_home(&home)
        .args(&["--server", &hub.url()])
        .start();
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
}

#[test]
fn pause_usage_errors_exit_2() {
    let home = support::client::TempDir::new();
    for args in [
        &["--pause", "soon"][..],
        &["--pause=0s"],
        &["--pause", "2h", "--resume"],
        &["--status", "--stats"],
        &["--pause", "--json"],
    ] {
        let run = owner(home.path(), args);
        assert_eq!(run.code(), Some(2), "{args:?}: {}", run.describe());
    }
    let run = owner(home.path(), &["--pause", "soon"]);
    assert!(
        run.stderr
            .contains("--pause takes a duration such as 90s, 30m, 2h or 1d, not 'soon'"),
        "{}",
        run.stderr
    );
}

// ----------------------------------------------- the socket, one client

#[test]
fn a_second_client_on_the_same_config_exits_75() {
    let rig = Rig::start();
    for args in [
        &["--server", &rig.hub.url()][..],
        &["--test", "--server", &rig.hub.url()],
    ] {
        let second = owner(rig.home(), args);
        assert_eq!(second.code(), Some(75), "{}", second.describe());
        let says = format!(
            "another ollama-proxy-client (pid {}) is already running with ",
            rig.client.shown_pid()
        );
        assert!(second.stderr.contains(&says), "{}", second.describe());
    }
    assert!(
        !rig.hub.wait_connected(2, NO_RECONNECT),
        "the second one connected"
    );
    assert_eq!(status(rig.home()).0, Some(0));
}

#[test]
fn the_socket_and_its_directory_are_private() {
    // The client makes the directory itself here (the token comes from the
    // environment, the port from a flag it saves).
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let port = ollama.port().to_string();
    let client = Launch::fresh()
        .env("OLLAMA_PROXY_TOKEN", TOKEN)
        .args(&[
            "--ollama-port",
            &port,
            "--ollama-host",
            "127.0.0.1",
            "--server",
            &hub.url(),
        ])
        .start();
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    let home = client.home.path();
    wait_status(home, |s| s["serving"] == true);
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let dir = config_dir(home);
    assert_eq!(mode(&dir), 0o700);
    let socket = socket(home);
    assert!(std::fs::metadata(&socket).unwrap().file_type().is_socket());
    assert_eq!(mode(&socket), 0o600);
    assert_eq!(mode(&dir.join("control.lock")), 0o600);
}

#[test]
fn a_socket_left_by_a_killed_client_is_replaced() {
    let rig = Rig::start();
    let home = rig.home().to_path_buf();
    // SAFETY: the pid is our child's, not reaped yet.
    unsafe { libc::kill(rig.client.pid() as libc::pid_t, libc::SIGKILL) };
    let Rig {
        hub,
        ollama,
        mut client,
    } = rig;
    assert!(client.wait_exit(WAIT).is_some());
    assert!(socket(&home).exists(), "the killed client's socket stays");
    let asked = owner(&home, &["--status"]);
    assert_eq!(asked.code(), Some(69), "{}", asked.describe());

    let second = Launch::in_home(&home)
        .args(&["--server", &hub.url()])
        .start();
    assert!(hub.wait_connected(2, WAIT), "{}", second.output());
    let (code, status) = wait_status(&home, |s| s["serving"] == true);
    assert_eq!(code, Some(0), "{status}");
    assert_eq!(status["pid"], second.shown_pid());
    drop((ollama, client));
}

#[test]
fn a_stale_socket_file_from_before_the_start_is_replaced() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let launch = Launch::with_config(&test_config(ollama.port()));
    let stale = socket(launch.home());
    if support::client::windows() {
        // Windows' control.sock is a text file naming a 127.0.0.1 port and
        // a secret: a stale one names a port nobody listens on.
        std::fs::write(
            &stale,
            format!("127.0.0.1:{} 0123456789abcdef\n", closed_port()),
        )
        .unwrap();
    } else {
        drop(UnixListener::bind(&stale).unwrap());
    }
    assert!(stale.exists());
    let client = launch.args(&["--server", &hub.url()]).start();
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    let (code, status) = wait_status(client.home.path(), |s| s["serving"] == true);
    assert_eq!(
        (code, status["pid"].clone()),
        (Some(0), json!(client.shown_pid()))
    );
}

#[test]
fn garbage_on_the_socket_is_answered_and_the_next_status_still_served() {
    let rig = Rig::start();
    let home = rig.home();
    // Serving first (the hub has the connection a moment before the
    // client says so): the `--status` below must find it serving.
    let (code, seen) = wait_status(home, |s| s["serving"] == true);
    assert_eq!(code, Some(0), "{seen}");
    let answer = raw(home, b"\x00\xff\x13 not json at all\n");
    assert_eq!(
        (answer["ok"].clone(), answer["code"].clone()),
        (json!(false), json!("bad_request"))
    );
    let answer = raw(home, &[b'{'; 4096]);
    assert_eq!(answer["code"], "too_long", "{answer}");
    let answer = raw(home, b"{\"command\":\"shutdown\"}\n");
    assert_eq!(answer["code"], "unknown_command", "{answer}");
    let answer = raw(home, b"{\"command\":\"pause\",\"secs\":-1}\n");
    assert_eq!(answer["code"], "bad_duration", "{answer}");
    // A peer that connects and goes away says nothing and gets nothing.
    drop(UnixStream::connect(socket(home)).unwrap());

    // Half a line, then silence: the next owner does not wait for it
    // (each connection is served on its own thread).
    let mut slow = UnixStream::connect(socket(home)).unwrap();
    slow.write_all(b"{\"command\":\"sta").unwrap();
    let started = Instant::now();
    let (code, status) = status(home);
    assert_eq!(code, Some(0), "{status}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    slow.set_read_timeout(Some(WAIT)).unwrap();
    let mut line = String::new();
    BufReader::new(slow).read_line(&mut line).unwrap();
    assert!(line.contains("\"code\":\"timeout\""), "{line}");
    assert_eq!(rig.hub.connections(), 1, "the client kept serving");
}

#[test]
fn a_config_directory_too_deep_for_a_socket_stops_with_78_and_names_it() {
    let base = support::client::TempDir::new();
    let home = base.path().join("h".repeat(70));
    support::client::write_config(&home, &test_config(closed_port()));
    let socket = socket(&home);
    assert!(socket.as_os_str().len() > 107);
    for args in [&["--status"][..], &["--server", "ws://127.0.0.1:1/x"]] {
        let run = owner(&home, args);
        assert_eq!(run.code(), Some(78), "{args:?}: {}", run.describe());
        let says = format!(
            "the control socket's path {} is longer than the system allows",
            socket.display()
        );
        assert!(run.stderr.contains(&says), "{}", run.describe());
    }
}

#[test]
fn a_client_holding_the_lock_without_a_socket_is_waited_for_then_reported_as_75() {
    let launch = Launch::with_config(&test_config(closed_port()));
    let home = launch.home().to_path_buf();
    let lock = std::fs::File::create(config_dir(&home).join("control.lock")).unwrap();
    // SAFETY: the descriptor is the file's own.
    assert_eq!(
        unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) },
        0
    );
    let started = Instant::now();
    let run = launch.args(&["--pause"]).run(WAIT);
    // Never "no client" while one holds the lock: try again later.
    assert_eq!(run.code(), Some(75), "{}", run.describe());
    assert!(run.stderr.contains("does not answer"), "{}", run.describe());
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(
        !config_dir(&home).join("paused.json").exists(),
        "a running client's pause is its own"
    );
    drop(lock);
    let run = owner(&home, &["--status"]);
    assert_eq!(run.code(), Some(69), "{}", run.describe());
    assert!(
        run.stderr.contains("no client is running"),
        "{}",
        run.describe()
    );
}

#[test]
fn a_pause_that_cannot_be_saved_holds_and_says_so() {
    let rig = Rig::start();
    // A directory where the pause file goes: nothing can be written there.
    std::fs::create_dir(config_dir(rig.home()).join("paused.json")).unwrap();
    let paused = owner(rig.home(), &["--pause"]);
    assert_eq!(paused.code(), Some(0), "{}", paused.describe());
    assert!(
        paused.stdout.contains("paused until --resume"),
        "{}",
        paused.describe()
    );
    assert!(
        paused.stderr.contains("the pause could not be saved (")
            && paused
                .stderr
                .contains("a restart of the client would end it"),
        "{}",
        paused.describe()
    );
    assert!(
        rig.hub.wait_close_frames(1, WAIT),
        "{}",
        rig.client.output()
    );
    let resumed = owner(rig.home(), &["--resume"]);
    assert_eq!(resumed.code(), Some(0), "{}", resumed.describe());
    assert!(resumed.stdout.contains("resumed"), "{}", resumed.describe());
    assert!(
        resumed
            .stderr
            .contains("the end of the pause could not be saved"),
        "{}",
        resumed.describe()
    );
    assert!(rig.hub.wait_connected(2, WAIT), "{}", rig.client.output());
}

#[test]
fn a_socket_that_cannot_be_reached_is_named_with_the_reason() {
    // The "directory" of the config is a file: nothing can be there.
    let home = support::client::TempDir::new();
    let not_a_dir = home.path().join("file");
    std::fs::write(&not_a_dir, "").unwrap();
    let config = not_a_dir.join("config.json");
    let run = owner(
        home.path(),
        &["--status", "--config", config.to_str().unwrap()],
    );
    assert_eq!(run.code(), Some(69), "{}", run.describe());
    let says = format!(
        "cannot reach the client's control socket {}: ",
        support::client::shown_joined(&not_a_dir, "control.sock")
    );
    assert!(run.stderr.contains(&says), "{}", run.describe());
}

#[test]
fn a_directory_others_can_write_in_is_warned_about_and_a_missing_one_made_private() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let launch = Launch::with_config(&test_config(ollama.port()));
    let dir = config_dir(launch.home());
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let client = launch.args(&["--server", &hub.url()]).start();
    assert!(
        client.wait_output(
            "can be written by other users, who could replace the control socket; chmod 700 it",
            WAIT
        ),
        "{}",
        client.output()
    );
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    drop(client);

    // Nothing saved (the settings come from the environment): the
    // client makes the directory for its lock and socket itself.
    let client = Launch::fresh()
        .env("OLLAMA_PROXY_TOKEN", TOKEN)
        .env("OLLAMA_HOST", &format!("127.0.0.1:{}", ollama.port()))
        .args(&["--server", &hub.url()])
        .start();
    assert!(hub.wait_connected(2, WAIT), "{}", client.output());
    let dir = config_dir(client.home.path());
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    assert!(socket(client.home.path()).exists(), "{}", client.output());
    let output = client.output();
    assert!(!output.contains("no control socket"), "{output}");
    assert!(
        !output.contains("can be written by other users"),
        "{output}"
    );
}

// ------------------------------------------- the owner's pause is never lost

/// A slow answer (30 pieces, 0.1 s apart) is running on the rig's client.
fn slow_answer_running(rig: &Rig, id: u64) -> String {
    let pieces: Vec<String> = (0..30).map(|i| format!("p{i} ")).collect();
    rig.ollama
        .push(Reply::pieces(&pieces).line_delay(Duration::from_millis(100)));
    rig.hub.send_json(&buyer(&json!(id), "a long one"));
    rig.hub.wait_for(WAIT, |r| {
        !support::answers::frames_for(r, &json!(id)).is_empty()
    });
    pieces.concat()
}

#[test]
fn a_resume_while_the_pause_drains_keeps_the_connection_and_serves_the_next_buyer() {
    let rig = Rig::start();
    let home = rig.home().to_path_buf();
    let long = slow_answer_running(&rig, 1);
    assert_eq!(owner(&home, &["--pause"]).code(), Some(0));
    let (code, paused) = status(&home);
    assert_eq!((code, paused["paused"].clone()), (Some(1), json!(true)));
    let resumed = owner(&home, &["--resume"]);
    assert_eq!(resumed.code(), Some(0), "{}", resumed.describe());
    // Right after --resume, while the first answer still runs.
    rig.hub.send_json(&buyer(&json!(2), "right after"));
    let (code, now) = status(&home);
    assert_eq!(
        (code, now["serving"].clone(), now["paused"].clone()),
        (Some(0), json!(true), json!(false)),
        "{now}"
    );
    assert_eq!(now["hub"]["state"], "connected", "{now}");
    let first = streamed_answer(&rig.hub, &json!(1));
    assert_eq!(support::answers::text_of(&first), long);
    let second = streamed_answer(&rig.hub, &json!(2));
    assert_eq!(support::answers::error_of(&second), None, "{second:?}");
    assert_eq!(support::answers::text_of(&second), "right after");
    assert!(
        !rig.hub.wait_close_frames(1, NO_RECONNECT),
        "the pause's Close still went out:\n{}",
        rig.client.output()
    );
    assert_eq!(rig.hub.connections(), 1);
    assert!(support::client::ledger_events(&home, "disconnect").is_empty());
    assert_eq!(support::client::ledger_events(&home, "resume").len(), 1);
    assert!(
        rig.client.output().contains("the hub connection stays"),
        "{}",
        rig.client.output()
    );
}

#[test]
fn a_pause_behind_idle_connections_waits_for_its_answer_and_happens_once() {
    let rig = Rig::start();
    let home = rig.home().to_path_buf();
    let (code, _) = wait_status(&home, |s| s["serving"] == true);
    assert_eq!(code, Some(0));
    // Each idle connection may hold the control socket for its 2 s.
    let idle: Vec<UnixStream> = (0..3)
        .map(|_| UnixStream::connect(socket(&home)).unwrap())
        .collect();
    let paused = owner(&home, &["--pause"]);
    assert_eq!(paused.code(), Some(0), "{}", paused.describe());
    assert!(
        paused.stdout.contains("paused until --resume"),
        "{}",
        paused.stdout
    );
    drop(idle);
    assert!(
        rig.hub.wait_close_frames(1, WAIT),
        "{}",
        rig.client.output()
    );
    assert_eq!(rig.hub.close_frames(), [Some(1000)]);
    assert_eq!(support::client::ledger_events(&home, "pause").len(), 1);
    let (code, now) = status(&home);
    assert_eq!((code, now["paused"].clone()), (Some(1), json!(true)));
    assert!(
        !rig.hub.wait_close_frames(2, NO_RECONNECT) && rig.hub.connections() == 1,
        "{}",
        rig.client.output()
    );
    assert_eq!(support::client::ledger_events(&home, "pause").len(), 1);
}

#[test]
fn a_pause_meeting_a_restart_is_never_lost() {
    let hub = Hub::start(TOKEN);
    let ollama = Ollama::start();
    let launch = Launch::with_config(&test_config(ollama.port()));
    let home = launch.home().to_path_buf();
    let mut client = launch.args(&["--server", &hub.url()]).start();
    let mut stopped = Vec::new();
    for round in 0..20 {
        let (code, now) = wait_status(&home, |s| s["serving"] == true);
        assert_eq!(code, Some(0), "round {round}: {now}");
        // Within milliseconds of the SIGTERM, before or after it.
        let asker = {
            let home = home.clone();
            std::thread::spawn(move || owner(&home, &["--pause"]))
        };
        // Not a wait: a few milliseconds' lead for some rounds, so that the
        // request meets the stop at different steps.
        if round % 2 == 0 {
            std::thread::sleep(Duration::from_millis(round as u64 % 5));
        }
        client.terminate();
        let paused = asker.join().unwrap();
        assert_eq!(
            paused.code(),
            Some(0),
            "round {round}: {}",
            paused.describe()
        );
        assert!(client.wait_exit(WAIT).is_some(), "round {round}");
        let saved = std::fs::read_to_string(config_dir(&home).join("paused.json"));
        assert!(
            saved
                .as_deref()
                .unwrap_or_default()
                .contains("\"paused\": true"),
            "round {round}: {saved:?}\n{}",
            paused.describe()
        );
        // The next start does not sell (the first client keeps the home).
        let next = Launch::in_home(&home)
            .args(&["--server", &hub.url()])
            .start();
        stopped.push(std::mem::replace(&mut client, next));
        assert!(
            client.wait_output("still paused by the owner", WAIT),
            "round {round}: {}",
            client.output()
        );
        let resumed = owner(&home, &["--resume"]);
        assert_eq!(resumed.code(), Some(0), "{}", resumed.describe());
    }
}

#[test]
fn a_clean_stop_leaves_no_socket_behind() {
    let rig = Rig::start();
    let home = rig.home().to_path_buf();
    let (code, _) = wait_status(&home, |s| s["serving"] == true);
    assert_eq!(code, Some(0));
    assert!(socket(&home).exists());
    let Rig { mut client, .. } = rig;
    client.terminate();
    assert!(client.wait_exit(WAIT).is_some());
    assert!(!socket(&home).exists(), "{}", client.output());
    let asked = owner(&home, &["--status"]);
    assert_eq!(asked.code(), Some(69), "{}", asked.describe());
}

#[test]
fn an_unreadable_pause_file_is_said_to_mean_not_paused() {
    let hub = Hub::start(TOKEN);
    let ollama = Ollama::start();
    let launch = Launch::with_config(&test_config(ollama.port()));
    let home = launch.home().to_path_buf();
    let _keep = launch.args(&["--version"]).run(WAIT);
    std::fs::write(config_dir(&home).join("paused.json"), "{garbage").unwrap();
    let client = Launch::in_home(&home)
        .args(&["--server", &hub.url()])
        .start();
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    assert!(
        client.wait_output(
            "is not a pause this client wrote: taken as not paused",
            WAIT
        ),
        "{}",
        client.output()
    );
}

// ------------------------------------------- two config files in one folder

#[test]
fn two_config_files_in_one_folder_run_side_by_side_and_each_is_reached() {
    let rig = Rig::start();
    let home = rig.home().to_path_buf();
    let dir = config_dir(&home);
    let gpu1 = dir.join("gpu1.json");
    let config = test_config(rig.ollama.port());
    std::fs::write(&gpu1, config.to_string()).unwrap();
    let gpu1 = gpu1.to_str().unwrap().to_string();
    let second = Launch::in_home(&home)
        .args(&["--config", &gpu1, "--server", &rig.hub.url()])
        .start();
    assert!(rig.hub.wait_connected(2, WAIT), "{}", second.output());
    let asked = owner(&home, &["--status", "--json", "--config", &gpu1]);
    let object: Value = serde_json::from_str(asked.stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {}", asked.describe()));
    let second_pid = second.shown_pid_by(&dir.join("gpu1.control.lock"));
    assert_eq!(object["pid"], second_pid, "{object}");
    assert_eq!(status(&home).1["pid"], rig.client.shown_pid());
    for name in [
        "gpu1.control.sock",
        "gpu1.control.lock",
        "gpu1.ledger.jsonl",
    ] {
        assert!(dir.join(name).exists(), "{name}");
    }
    assert!(dir.join("logs").join("gpu1.client.log").exists());
    // Pausing one leaves the other selling.
    let paused = owner(&home, &["--pause", "--config", &gpu1]);
    assert_eq!(paused.code(), Some(0), "{}", paused.describe());
    assert!(dir.join("gpu1.paused.json").exists());
    assert!(!dir.join("paused.json").exists());
    let (code, first) = status(&home);
    assert_eq!((code, first["paused"].clone()), (Some(0), json!(false)));
    // The same config file twice is still one client.
    let again = owner(&home, &["--config", &gpu1, "--server", &rig.hub.url()]);
    assert_eq!(again.code(), Some(75), "{}", again.describe());
    let says = format!("(pid {second_pid}) is already running with {gpu1}");
    assert!(again.stderr.contains(&says), "{}", again.describe());
}
