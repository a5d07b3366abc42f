//! A password in an Ollama address, end to end: the real binary serves
//! through an Ollama emulator that demands Basic auth (so the password must
//! reach it), and every output the owner or a monitor reads (`/metrics`,
//! the ledger, the log file and the console, `--status` and `--status
//! --json`, `--show-config`, `--check`) shows the address masked
//! (`admin:***@`), never the password, and a backend's default name
//! without the user at all.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;

use serde_json::json;
use support::answers::{buyer, closed_port, streamed_answer, text_of, WAIT};
use support::client::{config_dir, log_dir, test_config, with, Client, Launch, TOKEN};
use support::hub::Hub;
use support::ollama::{Ollama, Reply};

const PASSWORD: &str = "s3cretpw";

/// `http://admin:s3cretpw@127.0.0.1:PORT`.
fn with_password(port: u16) -> String {
    format!("http://admin:{PASSWORD}@127.0.0.1:{port}")
}

/// The same address as it may be shown.
fn masked(port: u16) -> String {
    format!("http://admin:***@127.0.0.1:{port}")
}

/// `GET path` on a loopback port: the body.
fn http_get(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("metrics port");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// Every file the client wrote beside its config (log, ledger, state).
fn written_files(home: &Path) -> String {
    let mut all = String::new();
    for path in support::client::files_under(&config_dir(home)) {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name == "config.json" || name == "control.sock" {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap_or_default();
        all.push_str(&format!(
            "--- {}\n{}\n",
            path.display(),
            String::from_utf8_lossy(&bytes)
        ));
    }
    all
}

fn assert_no_password(what: &str, text: &str) {
    assert!(
        !text.contains(PASSWORD),
        "{what} shows the password:\n{text}"
    );
}

/// Runs the binary as the owner would, on the config in `home`.
fn owner(home: &Path, args: &[&str]) -> support::client::Finished {
    Launch::in_home(home).args(args).run(WAIT)
}

#[test]
fn a_password_in_ollama_hosts_is_sent_but_never_shown() {
    let ollama = Ollama::start();
    ollama.require_basic_auth("admin", PASSWORD);
    let down = closed_port();
    let hub = Hub::start(TOKEN);
    let config = with(
        test_config(closed_port()),
        "ollama_hosts",
        json!([
            with_password(ollama.port()),
            {"url": with_password(down), "name": "spare"},
        ]),
    );
    let (mut client, metrics) = Client::start_with_metrics(&config, &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    ollama.push(Reply::pieces(&["Hel", "lo"]));
    hub.send_json(&buyer(&json!(1), "hi"));
    let answer = streamed_answer(&hub, &json!(1));
    assert_eq!(text_of(&answer), "Hello", "{}", client.output());
    assert_eq!(ollama.unauthorized(), 0, "Basic auth must reach Ollama");
    let name = format!("127.0.0.1:{}", ollama.port());

    let scraped = http_get(metrics, "/metrics");
    assert!(
        scraped.contains(&format!("backend=\"{name}\"")),
        "{scraped}"
    );
    assert_no_password("/metrics", &scraped);

    let status = owner(client.home.path(), &["--status", "--json"]);
    assert_eq!(status.code(), Some(0), "{}", status.describe());
    assert!(
        status.stdout.contains(&masked(ollama.port())),
        "{}",
        status.stdout
    );
    assert!(status.stdout.contains(&masked(down)), "{}", status.stdout);
    assert_no_password("--status --json", &status.stdout);
    assert_no_password("--status --json", &status.stderr);
    let status = owner(client.home.path(), &["--status"]);
    assert!(status.stdout.contains(&masked(down)), "{}", status.stdout);
    assert_no_password("--status", &status.stdout);
    assert_no_password("--status", &status.stderr);

    client.terminate();
    assert!(client.wait_exit(WAIT).is_some(), "{}", client.output());
    assert_no_password("the console", &client.output());
    let files = written_files(client.home.path());
    assert!(
        files.contains(&format!("\"backend\":\"{name}\"")),
        "{files}"
    );
    assert!(files.contains(&masked(ollama.port())), "{files}");
    assert!(log_dir(client.home.path()).join("client.log").exists());
    assert_no_password("the log and the ledger", &files);

    let shown = owner(client.home.path(), &["--show-config"]);
    assert_eq!(shown.code(), Some(0), "{}", shown.describe());
    assert!(shown.stdout.contains(&masked(down)), "{}", shown.stdout);
    assert_no_password(
        "--show-config",
        &format!("{}{}", shown.stdout, shown.stderr),
    );

    let checked = owner(client.home.path(), &["--check", "--server", &hub.url()]);
    assert!(
        checked
            .stdout
            .contains(&format!("answers at {}", masked(ollama.port()))),
        "{}",
        checked.describe()
    );
    assert!(
        checked
            .stdout
            .contains(&format!("does not answer at {}", masked(down))),
        "{}",
        checked.describe()
    );
    assert_no_password("--check", &format!("{}{}", checked.stdout, checked.stderr));
    assert_eq!(ollama.unauthorized(), 0);
}

/// The one `ollama_host`, and `OLLAMA_HOST`: the same parser, the same
/// masking (the ledger's `settings.ollama`, the start line, the errors).
#[test]
fn a_password_in_ollama_host_or_ollama_host_env_is_never_shown() {
    let ollama = Ollama::start();
    ollama.require_basic_auth("admin", PASSWORD);
    let hub = Hub::start(TOKEN);
    let config = with(
        test_config(ollama.port()),
        "ollama_host",
        json!(with_password(ollama.port())),
    );
    let mut client = Client::start(&config, &["--server", &hub.url()]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    ollama.push(Reply::text("fine"));
    hub.send_json(&buyer(&json!(2), "hi"));
    assert_eq!(text_of(&streamed_answer(&hub, &json!(2))), "fine");
    client.terminate();
    assert!(client.wait_exit(WAIT).is_some(), "{}", client.output());
    let files = written_files(client.home.path());
    assert!(
        files.contains(&format!("\"ollama\":\"{}\"", masked(ollama.port()))),
        "{files}"
    );
    assert_no_password("the log and the ledger", &files);
    assert_no_password("the console", &client.output());

    // OLLAMA_HOST fills in an address the file does not set.
    let mut bare = test_config(0);
    bare.as_object_mut().unwrap().remove("ollama_host");
    bare.as_object_mut().unwrap().remove("ollama_port");
    let launch = Launch::with_config(&bare).env("OLLAMA_HOST", &with_password(ollama.port()));
    let shown = launch.args(&["--show-config"]).run(WAIT);
    assert_eq!(shown.code(), Some(0), "{}", shown.describe());
    assert!(
        shown.stdout.contains(&masked(ollama.port())),
        "{}",
        shown.stdout
    );
    assert_no_password("--show-config", &shown.stdout);
    let launch = Launch::with_config(&bare).env("OLLAMA_HOST", &with_password(ollama.port()));
    let checked = launch.args(&["--check", "--server", &hub.url()]).run(WAIT);
    assert_eq!(checked.code(), Some(0), "{}", checked.describe());
    assert_no_password("--check", &format!("{}{}", checked.stdout, checked.stderr));
    assert_eq!(ollama.unauthorized(), 0);

    // Unreachable: the error names the address masked.
    let down = closed_port();
    let config = with(test_config(down), "ollama_host", json!(with_password(down)));
    let checked = Launch::with_config(&config)
        .args(&["--check", "--server", &hub.url()])
        .run(WAIT);
    assert!(
        checked.stdout.contains(&masked(down)),
        "{}",
        checked.describe()
    );
    assert_no_password("--check", &format!("{}{}", checked.stdout, checked.stderr));
    let config = with(config, "warm_up", json!(true));
    let client = Client::start(&config, &["--server", &hub.url()]);
    assert!(
        client.wait_output(&masked(down), WAIT),
        "{}",
        client.output()
    );
    assert_no_password("the console", &client.output());
}
