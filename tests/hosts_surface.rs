//! End-to-end tests of the owner's side of several Ollama backends
//! (`ollama_hosts`): what `--show-config` shows, the config errors of a bad
//! list, and `--check` with a block per backend. Every test runs the real
//! binary with a temporary `HOME`, against the hub and Ollama emulators on
//! 127.0.0.1. (Serving from several backends is tested with the relay.)

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::answers::{closed_port, WAIT};
use support::client::{test_config, with, write_config_text, Finished, Launch, TempDir, TOKEN};
use support::hub::Hub;
use support::ollama::{Ollama, Reply, VERSION};
use support::tls::TestCa;

/// `--check`'s exit status when a step fails.
const CHECK_FAILED: i32 = 1;
/// The exit status of a config file that cannot be used (EX_CONFIG).
const CONFIG_ERROR: i32 = 78;

/// A test config whose `ollama_host`/`ollama_port` lead nowhere, so that
/// only `ollama_hosts` can make anything pass.
fn hosts_config(hosts: Value) -> Value {
    with(test_config(closed_port()), "ollama_hosts", hosts)
}

/// `--check` against `hub`, with `args` after it.
fn check(config: &Value, hub: &Hub, args: &[&str]) -> Finished {
    let url = hub.url();
    let out = Launch::with_config(config)
        .args(&[&["--check", "--server", &url], args].concat())
        .run(WAIT);
    assert!(out.elapsed < Duration::from_secs(12), "{}", out.describe());
    out
}

/// The `--check` lines of the backend named `name`, marks included.
fn block<'a>(out: &'a Finished, name: &str) -> Vec<&'a str> {
    let start = |line: &&str| line.starts_with("[") && line[7..].starts_with(&format!("{name}: "));
    out.stdout.lines().filter(start).collect()
}

/// The fix line under `line` in `--check`'s output.
fn fix_under<'a>(out: &'a Finished, line: &str) -> &'a str {
    let lines: Vec<&str> = out.stdout.lines().collect();
    let at = lines.iter().position(|l| *l == line).expect("the line");
    let fix = lines.get(at + 1).map(|l| l.trim_start()).unwrap_or("");
    assert!(fix.starts_with("fix: "), "{}", out.describe());
    fix
}

/// The 1-token requests an emulator saw.
fn one_token_requests(ollama: &Ollama) -> Vec<Value> {
    let generates = ollama.generate_requests().into_iter();
    generates.map(|r| r.body).collect()
}

/// `--check`'s line for a passed 1-token answer, with its time checked
/// against the time the whole run took.
fn assert_one_token_passed(lines: &[&str], name: &str, out: &Finished) {
    let prefix = format!("[ OK ] {name}: 1-token answer in ");
    let line = lines.iter().find(|l| l.starts_with(&prefix));
    let line = line.unwrap_or_else(|| panic!("{prefix}\n{}", out.describe()));
    let shown = line[prefix.len()..].strip_suffix(" s").expect("seconds");
    let decimals = shown.split_once('.').map(|(_, decimals)| decimals.len());
    assert_eq!(decimals, Some(2), "{line}");
    let seconds: f64 = shown.parse().unwrap_or_else(|_| panic!("{line}"));
    assert!(seconds < out.elapsed.as_secs_f64(), "{line}");
}

// ------------------------------------------------------------ --show-config

#[test]
fn show_config_lists_every_backend_and_says_the_single_address_is_unused() {
    let config = hosts_config(json!([
        "localhost:11434",
        {"url": "http://192.168.1.20:11434", "max_parallel": 2, "name": "desktop"},
        "https://gpu3",
        {"url": "[::1]:5000", "max_parallel": 3},
    ]));
    let config = with(config, "max_parallel", json!(4));
    let out = Launch::with_config(&config)
        .args(&["--show-config"])
        .env("OLLAMA_HOST", "10.9.8.7")
        .run(WAIT);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    let expected = "\
Ollama backends   localhost:11434 = http://localhost:11434 (max_parallel 4)
                  desktop = http://192.168.1.20:11434 (max_parallel 2)
                  gpu3:443 = https://gpu3:443 (max_parallel 4)
                  [::1]:5000 = http://[::1]:5000 (max_parallel 3)
";
    assert!(out.stdout.contains(expected), "{}", out.describe());
    assert!(!out.stdout.contains("Ollama URL"), "{}", out.stdout);
    let row = |key: &str| {
        let found = out
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("{key} ")));
        found.unwrap_or_else(|| panic!("{key}:\n{}", out.stdout))
    };
    for key in ["ollama_host", "ollama_port"] {
        assert!(
            row(key).ends_with("(config file; not used: ollama_hosts is set)"),
            "{}",
            row(key)
        );
    }
    assert_eq!(
        row("ollama_hosts"),
        "ollama_hosts            localhost:11434, http://192.168.1.20:11434 \
         (max_parallel 2, name desktop), https://gpu3, [::1]:5000 (max_parallel 3) \
         (config file)"
    );
}

#[test]
fn without_ollama_hosts_show_config_has_the_one_ollama_url_as_before() {
    for hosts in [None, Some(Value::Null), Some(json!([]))] {
        let mut config = test_config(4321);
        if let Some(hosts) = hosts {
            config = with(config, "ollama_hosts", hosts);
        }
        let out = Launch::with_config(&config)
            .args(&["--show-config"])
            .run(WAIT);
        assert_eq!(out.code(), Some(0), "{}", out.describe());
        assert!(
            out.stdout
                .contains("\nOllama URL    http://127.0.0.1:4321\n"),
            "{}",
            out.stdout
        );
        assert!(!out.stdout.contains("not used"), "{}", out.stdout);
        assert!(!out.stdout.contains("Ollama backends"), "{}", out.stdout);
    }
}

// -------------------------------------------------------- a bad ollama_hosts

#[test]
fn a_bad_ollama_hosts_stops_with_78_naming_the_key_and_what_it_must_be() {
    let seventeen: Vec<String> = (0..17).map(|i| format!("gpu{i}")).collect();
    let cases = [
        (json!("gpu1,gpu2"), "a list of 1 to 16 Ollama addresses"),
        (json!({"url": "gpu1"}), "a list of 1 to 16 Ollama addresses"),
        (json!(11434), "a list of 1 to 16 Ollama addresses"),
        (json!(seventeen), "a list of 1 to 16 Ollama addresses"),
        (
            json!([1, 2]),
            "a list of 1 to 16 Ollama addresses: strings such as",
        ),
        (
            json!([["gpu1"]]),
            "a list of 1 to 16 Ollama addresses: strings such as",
        ),
        (
            json!([{"name": "x"}]),
            "a list of 1 to 16 Ollama addresses: strings such as",
        ),
        (
            json!([{"url": "gpu1", "weight": 2}]),
            "only the keys \"url\"",
        ),
        (json!([""]), "a list of Ollama addresses such as"),
        (json!(["gpu 1"]), "a list of Ollama addresses such as"),
        (json!(["ftp://gpu1"]), "a list of Ollama addresses such as"),
        (
            json!(["x".repeat(5000)]),
            "a list of Ollama addresses such as",
        ),
        (
            json!([{"url": "gpu1", "max_parallel": 0}]),
            "whole numbers from 1 to 256",
        ),
        (
            json!([{"url": "gpu1", "name": "gpu one"}]),
            "names are 1 to 64 Latin letters",
        ),
        (
            json!([{"url": "gpu1", "name": "машина"}]),
            "names are 1 to 64 Latin letters",
        ),
        (json!(["gpu1", "http://gpu1:11434"]), "different names"),
        (
            json!(["http://127.0.0.1:4321?x=1#frag"]),
            "(no query ? or fragment #)",
        ),
        (json!(["http://a/b@gpu1"]), "percent-encoded"),
    ];
    for (hosts, expected) in cases {
        let home = TempDir::new();
        let text = format!(
            "{{\n  \"token\": \"{TOKEN}\",\n  \"model\": \"llama3.2\",\n  \"ollama_hosts\": {hosts}\n}}"
        );
        let path = write_config_text(home.path(), &text);
        let out = Launch::in_home(home.path())
            .args(&["--show-config"])
            .run(WAIT);
        assert_eq!(
            out.code(),
            Some(CONFIG_ERROR),
            "{hosts}: {}",
            out.describe()
        );
        let message = format!(
            "ollama-proxy-client: config file {}, line 4: key 'ollama_hosts' must be ",
            support::client::shown_path(home.path(), &path)
        );
        assert!(out.stderr.starts_with(&message), "{hosts}: {}", out.stderr);
        assert!(out.stderr.contains(expected), "{hosts}: {}", out.stderr);
        assert_eq!(out.stdout, "", "{hosts}");
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    }
}

#[test]
fn a_bad_ollama_hosts_is_said_in_russian_too() {
    let config = hosts_config(json!(["gpu1", "gpu1"]));
    let out = Launch::with_config(&with(config, "language", json!("ru")))
        .args(&["--show-config"])
        .run(WAIT);
    assert_eq!(out.code(), Some(CONFIG_ERROR), "{}", out.describe());
    assert!(
        out.stderr.contains(
            "значение ключа 'ollama_hosts' должно быть списком серверов с разными именами"
        ),
        "{}",
        out.stderr
    );
}

/// `ollama_host`, an entry of `ollama_hosts` and `OLLAMA_HOST` share one
/// parser: what it cannot take stops the client with 78, naming the key
/// or the variable, in either language.
#[test]
fn an_address_the_parser_cannot_take_stops_with_78_wherever_it_is_written() {
    let bad = "http://127.0.0.1:4321?x=1#frag";
    let why = (
        "(no query ? or fragment #)",
        "(без запроса ? и фрагмента #)",
    );
    let host = with(test_config(4321), "ollama_host", json!(bad));
    let hosts = hosts_config(json!([bad]));
    let mut bare = test_config(4321);
    bare.as_object_mut().unwrap().remove("ollama_host");
    bare.as_object_mut().unwrap().remove("ollama_port");
    let cases = [
        (
            &host,
            "key 'ollama_host' must be an Ollama address",
            "ключа 'ollama_host'",
        ),
        (
            &hosts,
            "key 'ollama_hosts' must be a list of Ollama",
            "ключа 'ollama_hosts'",
        ),
        (
            &bare,
            "environment variable OLLAMA_HOST must be an Ollama",
            "окружения OLLAMA_HOST",
        ),
    ];
    for (config, en, ru) in cases {
        for (lang, says, why) in [("C", en, why.0), ("ru_RU.UTF-8", ru, why.1)] {
            let out = Launch::with_config(config)
                .env("OLLAMA_HOST", bad)
                .env("LANG", lang)
                .args(&["--show-config"])
                .run(WAIT);
            assert_eq!(out.code(), Some(CONFIG_ERROR), "{}", out.describe());
            assert!(out.stderr.contains(says), "{}", out.stderr);
            assert!(out.stderr.contains(why), "{}", out.stderr);
            assert_eq!(out.stdout, "", "{}", out.describe());
        }
    }
}

// ------------------------------------------------------------------ --check

#[test]
fn check_checks_every_backend_and_names_the_one_without_the_model() {
    let good = Ollama::start();
    let lacking = Ollama::with_models(&["qwen3:8b"]);
    let hub = Hub::start(TOKEN);
    let config = hosts_config(json!([
        {"url": good.url(), "name": "good"},
        format!("127.0.0.1:{}", lacking.port()),
    ]));
    let out = check(&config, &hub, &[]);
    assert_eq!(out.code(), Some(CHECK_FAILED), "{}", out.describe());

    let good_block = block(&out, "good");
    assert_eq!(
        good_block[..2],
        [
            format!("[ OK ] good: Ollama {VERSION} answers at {}", good.url()).as_str(),
            "[ OK ] good: model 'llama3.2' is installed",
        ],
        "{}",
        out.describe()
    );
    assert_eq!(good_block.len(), 3, "{}", out.describe());
    assert_one_token_passed(&good_block, "good", &out);

    let name = format!("127.0.0.1:{}", lacking.port());
    let lacking_block = block(&out, &name);
    let missing = format!("[FAIL] {name}: model 'llama3.2' is not installed (installed: qwen3:8b)");
    let not_checked = format!("[FAIL] {name}: 1-token answer: not checked");
    assert_eq!(
        lacking_block,
        [
            format!("[ OK ] {name}: Ollama {VERSION} answers at http://{name}").as_str(),
            &missing,
            &not_checked,
        ],
        "{}",
        out.describe()
    );
    let pull = fix_under(&out, &missing);
    assert!(
        pull.starts_with("fix: ollama pull llama3.2 on that box"),
        "{pull}"
    );
    assert!(
        pull.contains(&format!("OLLAMA_HOST=http://{name} ollama pull llama3.2")),
        "{pull}"
    );
    assert_eq!(
        fix_under(&out, &not_checked),
        "fix: install the model there first"
    );
    // The hub and the pause are checked once, after the backends.
    assert!(out.stdout.contains("[ OK ] hub "), "{}", out.stdout);
    assert!(out.stdout.trim_end().ends_with("[ OK ] not paused"));
    assert_eq!(one_token_requests(&good).len(), 1);
    assert!(one_token_requests(&lacking).is_empty());
}

#[test]
fn check_passes_with_two_good_backends_each_asked_for_one_token() {
    let (first, second) = (Ollama::start(), Ollama::start());
    let hub = Hub::start(TOKEN);
    let config = hosts_config(json!([first.url(), {"url": second.url(), "name": "second"}]));
    let config = with(config, "keep_alive", json!("7m"));
    let config = with(
        config,
        "options",
        json!({"temperature": 0.1, "num_predict": 99}),
    );
    let out = check(&config, &hub, &[]);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    assert!(!out.stdout.contains("[FAIL]"), "{}", out.stdout);
    let first_name = format!("127.0.0.1:{}", first.port());
    for (ollama, name) in [(&first, first_name.as_str()), (&second, "second")] {
        let lines = block(&out, name);
        assert_eq!(lines.len(), 3, "{name}: {}", out.describe());
        assert_one_token_passed(&lines, name, &out);
        let asked = one_token_requests(ollama);
        assert_eq!(
            asked,
            [json!({
                "model": "llama3.2",
                "prompt": "Hi",
                "stream": false,
                "options": {"temperature": 0.1, "num_predict": 1},
                "keep_alive": "7m",
            })],
            "{name}"
        );
    }
    assert_eq!(hub.connections(), 1);
}

#[test]
fn check_names_a_backend_that_does_not_answer_and_points_at_its_entry() {
    let good = Ollama::start();
    let hub = Hub::start(TOKEN);
    let down = format!("127.0.0.1:{}", closed_port());
    let config = hosts_config(json!([good.url(), {"url": down, "name": "down"}]));
    let out = check(&config, &hub, &[]);
    assert_eq!(out.code(), Some(CHECK_FAILED), "{}", out.describe());
    let lines = block(&out, "down");
    assert_eq!(lines.len(), 3, "{}", out.describe());
    let prefix = format!("[FAIL] down: Ollama does not answer at http://{down}: ");
    assert!(lines[0].starts_with(&prefix), "{}", out.describe());
    assert_eq!(
        fix_under(&out, lines[0]),
        "fix: start Ollama there (ollama serve), or correct its address in ollama_hosts"
    );
    assert_eq!(lines[1], "[FAIL] down: model 'llama3.2': not checked");
    assert_eq!(lines[2], "[FAIL] down: 1-token answer: not checked");
    assert_eq!(fix_under(&out, lines[2]), "fix: make Ollama answer first");
    let good_lines = block(&out, &format!("127.0.0.1:{}", good.port()));
    assert_eq!(good_lines.len(), 3, "{}", out.describe());
    assert!(good_lines.iter().all(|l| l.starts_with("[ OK ]")));
}

#[test]
fn check_fails_a_backend_whose_one_token_answer_fails_or_takes_too_long() {
    let (failing, slow) = (Ollama::start(), Ollama::start());
    failing.push(Reply::error(500, "out of memory"));
    slow.push(Reply::text("Hello").first_delay(Duration::from_secs(5)));
    let hub = Hub::start(TOKEN);
    let config = hosts_config(json!([
        {"url": failing.url(), "name": "failing"},
        {"url": slow.url(), "name": "slow"},
    ]));
    let config = with(config, "load_timeout_secs", json!(0.3));
    let out = check(&config, &hub, &[]);
    assert_eq!(out.code(), Some(CHECK_FAILED), "{}", out.describe());
    assert!(out.elapsed < Duration::from_secs(4), "{}", out.describe());
    let failed = block(&out, "failing");
    assert_eq!(
        failed[2],
        "[FAIL] failing: no 1-token answer: HTTP 500 for /api/generate",
        "{}",
        out.describe()
    );
    assert_eq!(
        fix_under(&out, failed[2]),
        "fix: check Ollama's log there; a model that loads slowly needs a larger \
         load_timeout_secs"
    );
    let slow_lines = block(&out, "slow");
    assert!(
        slow_lines[2].starts_with("[FAIL] slow: no 1-token answer: "),
        "{}",
        out.describe()
    );
    assert!(slow_lines[..2].iter().all(|l| l.starts_with("[ OK ]")));
}

#[test]
fn check_trusts_an_https_backend_through_the_ca_file_next_to_a_plain_one() {
    let ca = TestCa::new("hosts-check");
    let (secure, plain) = (Ollama::start_tls(&ca), Ollama::start());
    let hub = Hub::start(TOKEN);
    let launch = Launch::with_config(&hosts_config(json!([secure.url(), plain.url()])));
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
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    let name = format!("127.0.0.1:{}", secure.port());
    let lines = block(&out, &name);
    assert_eq!(
        lines[0],
        format!(
            "[ OK ] {name}: Ollama {VERSION} answers at {}",
            secure.url()
        )
    );
    assert_one_token_passed(&lines, &name, &out);
    assert_eq!(secure.tls_failures(), 0);
    assert_eq!(one_token_requests(&plain).len(), 1);
}

#[test]
fn check_without_ollama_hosts_asks_the_one_ollama_for_one_token_too() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    let out = check(&test_config(ollama.port()), &hub, &[]);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    let marks: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with("[")).collect();
    assert_eq!(marks.len(), 6, "{}", out.stdout);
    // Unnamed, like the one Ollama's other lines.
    assert!(
        marks[3].starts_with("[ OK ] 1-token answer in "),
        "{}",
        out.stdout
    );
    assert_eq!(one_token_requests(&ollama).len(), 1);
}

#[test]
fn check_of_an_https_backend_from_an_unknown_ca_points_at_its_entry_and_the_ca_file() {
    let ca = TestCa::new("hosts-check-unknown");
    let secure = Ollama::start_tls(&ca);
    let hub = Hub::start(TOKEN);
    let config = hosts_config(json!([{"url": secure.url(), "name": "secure"}]));
    let out = check(&config, &hub, &[]);
    assert_eq!(out.code(), Some(CHECK_FAILED), "{}", out.describe());
    let lines = block(&out, "secure");
    assert!(
        lines[0].starts_with(&format!(
            "[FAIL] secure: Ollama does not answer at {}: ",
            secure.url()
        )),
        "{}",
        out.describe()
    );
    assert_eq!(
        fix_under(&out, lines[0]),
        "fix: start Ollama there (ollama serve), or correct its address in ollama_hosts; \
         if its https certificate is not trusted, give its CA certificate with --ca-file"
    );
    assert!(secure.wait_tls_failures(1, WAIT));
}
