//! The owner's language, end to end: the real binary with `LANG`,
//! `LC_ALL`, `LC_MESSAGES` and the config's `language` set as an owner
//! would set them, against the hub and Ollama emulators on 127.0.0.1.
//! The terminal speaks Russian or English as the locale (or the config)
//! says; the log file, the console's log lines and the wire stay English;
//! buyers' error texts follow `buyer_language`. (The first run in Russian,
//! through a pseudo-terminal, is in `terminal.rs`.)

mod support;

use serde_json::{json, Value};
use support::answers::{buyer, closed_port, streamed_answer, WAIT};
use support::client::{
    log_dir, test_config, with, write_config_text, Client, Finished, Input, Launch, TempDir, TOKEN,
};
use support::hub::Hub;
use support::ollama::{Ollama, Reply};

const RU: (&str, &str) = ("LANG", "ru_RU.UTF-8");

fn has_cyrillic(text: &str) -> bool {
    text.chars()
        .any(|c| matches!(c, 'а'..='я' | 'А'..='Я' | 'ё' | 'Ё'))
}

fn assert_russian(what: &str, text: &str) {
    assert!(has_cyrillic(text), "{what} is not Russian:\n{text}");
}

fn assert_english(what: &str, text: &str) {
    assert!(!has_cyrillic(text), "{what} is not English:\n{text}");
}

/// Every log file under `home`, read together.
fn log_text(home: &std::path::Path) -> String {
    let Ok(entries) = std::fs::read_dir(log_dir(home)) else {
        return String::new();
    };
    entries
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok())
        .collect()
}

/// The log file exists, says something, and is English.
fn assert_english_log(home: &std::path::Path) {
    let log = log_text(home);
    assert!(!log.is_empty(), "no log file under {}", home.display());
    assert_english("the log file", &log);
}

fn run_env(launch: Launch, env: &[(&str, &str)], args: &[&str]) -> Finished {
    env.iter()
        .fold(launch, |launch, (key, value)| launch.env(key, value))
        .args(args)
        .run(WAIT)
}

// ----------------------------------------------------------------- --help

#[test]
fn help_is_russian_under_a_russian_locale_and_english_otherwise() {
    let english = run_env(Launch::fresh(), &[], &["--help"]);
    assert_eq!(english.code(), Some(0), "{}", english.describe());
    assert_english("--help without a locale", &english.stdout);
    let russian = run_env(Launch::fresh(), &[RU], &["--help"]);
    assert_eq!(russian.code(), Some(0), "{}", russian.describe());
    assert_russian("--help with LANG=ru_RU.UTF-8", &russian.stdout);
    // The same flags, settings and variables, whatever the language.
    for word in english.stdout.split_whitespace() {
        let word = word.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-');
        if word.starts_with("--") || word.starts_with("LC_") || word.ends_with("_TOKEN") {
            assert!(
                russian.stdout.contains(word),
                "{word} is missing:\n{}",
                russian.stdout
            );
        }
    }
    for named in ["language", "LC_ALL", "LC_MESSAGES", "LANG"] {
        assert!(
            english.stdout.contains(named),
            "{named}:\n{}",
            english.stdout
        );
        assert!(
            russian.stdout.contains(named),
            "{named}:\n{}",
            russian.stdout
        );
    }
}

#[test]
fn the_first_locale_variable_set_decides_and_the_configs_language_beats_it() {
    let russian = |out: &Finished| has_cyrillic(&out.stdout);
    /// The locale variables, the config's `language`, and whether the help
    /// must be Russian.
    type Case<'a> = (&'a [(&'a str, &'a str)], Option<&'a str>, bool);
    let cases: [Case; 8] = [
        (&[("LC_ALL", "C"), RU], None, false),
        (&[("LC_ALL", ""), RU], None, true),
        (&[("LC_MESSAGES", "ru_RU.UTF-8"), ("LANG", "C")], None, true),
        (&[("LC_MESSAGES", "POSIX"), RU], None, false),
        (
            &[("LC_ALL", "ru_RU.UTF-8"), ("LANG", "en_US.UTF-8")],
            None,
            true,
        ),
        (&[RU], Some("en"), false),
        (&[("LANG", "C")], Some("ru"), true),
        (&[RU], Some("auto"), true),
    ];
    for (env, language, expect_russian) in cases {
        let launch = match language {
            Some(language) => Launch::with_config(&json!({ "language": language })),
            None => Launch::fresh(),
        };
        let out = run_env(launch, env, &["--help"]);
        assert_eq!(
            out.code(),
            Some(0),
            "{env:?} {language:?}: {}",
            out.describe()
        );
        assert_eq!(
            russian(&out),
            expect_russian,
            "{env:?}, language {language:?}:\n{}",
            out.stdout
        );
    }
}

// ------------------------------------------- messages before a non-zero exit

#[test]
fn a_usage_error_is_russian_and_still_exits_2() {
    let out = run_env(Launch::fresh(), &[RU], &["--no-such-flag"]);
    assert_eq!(out.code(), Some(2), "{}", out.describe());
    assert_russian("the usage error", &out.stderr);
    assert!(out.stderr.contains("--no-such-flag"), "{}", out.stderr);
    assert!(
        out.stderr.contains("ollama-proxy-client --help"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    let out = run_env(Launch::fresh(), &[("LC_ALL", "C"), RU], &["--no-such-flag"]);
    assert_english("the usage error under LC_ALL=C", &out.stderr);
}

#[test]
fn a_corrupt_config_is_reported_in_russian_with_file_line_and_key() {
    let home = TempDir::new();
    let text = "{\n  \"token\": \"t\",\n  \"ollama_port\": true\n}";
    let path = write_config_text(home.path(), text);
    let out = run_env(Launch::in_home(home.path()), &[RU], &[]);
    assert_eq!(out.code(), Some(78), "{}", out.describe());
    let message = &out.stderr;
    assert_russian("the config error", message);
    for part in [path.to_str().unwrap(), "3", "'ollama_port'"] {
        assert!(message.contains(part), "{part}:\n{message}");
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    // The same with LC_ALL=C: English.
    let out = run_env(Launch::in_home(home.path()), &[("LC_ALL", "C"), RU], &[]);
    assert_eq!(out.code(), Some(78), "{}", out.describe());
    assert_english("the config error under LC_ALL=C", &out.stderr);
    assert!(out.stderr.contains("line 3"), "{}", out.stderr);
}

#[test]
fn a_missing_token_without_a_terminal_is_explained_in_russian() {
    let out = run_env(
        Launch::with_config(&json!({"model": "llama3.2"})),
        &[RU],
        &[],
    );
    assert_eq!(out.code(), Some(78), "{}", out.describe());
    assert_russian("the missing-token error", &out.stderr);
    for part in ["--token-file", "--force-token -", "OLLAMA_PROXY_TOKEN"] {
        assert!(out.stderr.contains(part), "{part}:\n{}", out.stderr);
    }
}

// ----------------------------------------------------------------- --check

#[test]
fn check_with_ollama_down_says_what_failed_and_the_fix_in_russian() {
    let hub = Hub::start(TOKEN);
    let config = test_config(closed_port());
    for (env, russian) in [(&[RU][..], true), (&[("LC_ALL", "C"), RU][..], false)] {
        let out = run_env(
            Launch::with_config(&config),
            env,
            &["--check", "--server", &hub.url()],
        );
        assert_eq!(out.code(), Some(1), "{env:?}: {}", out.describe());
        let fail = out
            .stdout
            .lines()
            .position(|line| line.starts_with("[FAIL]") && line.contains("Ollama"))
            .unwrap_or_else(|| panic!("no failing Ollama line:\n{}", out.stdout));
        let lines: Vec<&str> = out.stdout.lines().collect();
        let (line, fix) = (lines[fail], lines.get(fail + 1).copied().unwrap_or(""));
        assert!(
            fix.contains("ollama serve"),
            "{env:?}: no fix after {line:?}:\n{}",
            out.stdout
        );
        assert!(line.contains("127.0.0.1"), "{line}");
        assert_eq!(has_cyrillic(line), russian, "{env:?}: {line}");
        assert_eq!(has_cyrillic(fix), russian, "{env:?}: {fix}");
        assert!(
            out.stdout.starts_with("[ OK ]"),
            "the config passes:\n{}",
            out.stdout
        );
    }
}

#[test]
fn the_configs_language_en_beats_a_russian_locale_for_check() {
    let hub = Hub::start(TOKEN);
    let ollama = Ollama::start();
    let config = with(test_config(ollama.port()), "language", json!("en"));
    let out = run_env(
        Launch::with_config(&config),
        &[RU],
        &["--check", "--server", &hub.url()],
    );
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    assert_english("--check with language en", &out.stdout);
    let config = with(test_config(ollama.port()), "language", json!("ru"));
    let out = run_env(
        Launch::with_config(&config),
        &[],
        &["--check", "--server", &hub.url()],
    );
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    assert_russian("--check with language ru", &out.stdout);
}

// --------------------------------------------------------------- test mode

#[test]
fn test_mode_speaks_russian_and_the_log_and_the_hub_stay_english() {
    let ollama = Ollama::start();
    let hub = Hub::start(TOKEN);
    ollama.push(Reply::pieces(&["При", "вет"]));
    let launch = Launch::with_config(&test_config(ollama.port()));
    let home = launch.home().to_path_buf();
    let out = run_env(
        launch.stdin(Input::Bytes(b"hello\nexit\n".to_vec())),
        &[RU],
        &["--test", "--server", &hub.url()],
    );
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    let summary = out
        .stdout
        .lines()
        .find(|line| line.starts_with('['))
        .unwrap_or_else(|| panic!("no summary line:\n{}", out.stdout));
    assert!(summary.contains("2 части"), "{summary}");
    assert_russian(
        "test mode's first line",
        out.stdout.lines().next().unwrap_or(""),
    );
    assert!(out.stdout.contains("Привет"), "{}", out.stdout);
    assert_english_log(&home);
    // The console's log lines are English too.
    assert_english("the console's log lines", &out.stderr);
}

#[test]
fn russian_output_into_a_closed_pipe_or_a_non_utf8_locale_does_not_panic() {
    for locale in ["ru_RU.UTF-8", "ru_RU.KOI8-R", "ru_RU"] {
        let out = run_env(
            Launch::fresh().stdout_closed(),
            &[("LANG", locale)],
            &["--help"],
        );
        assert_eq!(out.code(), Some(0), "{locale}: {}", out.describe());
        assert!(!out.stderr.contains("panicked"), "{locale}: {}", out.stderr);
        let out = run_env(Launch::fresh(), &[("LC_ALL", locale)], &["--show-config"]);
        assert_eq!(out.code(), Some(0), "{locale}: {}", out.describe());
        assert_russian(locale, &out.stdout);
    }
}

// ---------------------------------------------------------------- buyers

/// Sends one prompt that Ollama fails (HTTP 500) and returns its error
/// frame.
fn buyer_error(config: Value, env: &[(&str, &str)]) -> Value {
    let ollama = Ollama::start();
    ollama.push(Reply::error(500, "runner crashed"));
    let config = with(config, "ollama_port", json!(ollama.port()));
    let hub = Hub::start(TOKEN);
    let mut launch = Launch::with_config(&config).args(&["--server", &hub.url()]);
    for (key, value) in env {
        launch = launch.env(key, value);
    }
    let client: Client = launch.start();
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    hub.send_json(&buyer(&json!(7), "hi"));
    let frames = streamed_answer(&hub, &json!(7));
    let error = frames
        .iter()
        .find(|frame| frame["error"] == true)
        .cloned()
        .unwrap_or_else(|| panic!("no error frame: {frames:?}"));
    // The owner's log, on the console and in the file, is English.
    assert!(
        client.wait_output("request 7 failed", WAIT),
        "{}",
        client.output()
    );
    assert_english("the console's log lines", &client.stderr());
    assert_english_log(client.home.path());
    error
}

#[test]
fn buyer_errors_are_english_by_default_and_russian_with_buyer_language_ru() {
    let config = test_config(1);
    // The owner's Russian locale does not change what buyers read.
    let error = buyer_error(config.clone(), &[RU]);
    assert_eq!(
        error["content"],
        "Error: the owner's model server failed (HTTP 500)"
    );
    let error = buyer_error(with(config, "buyer_language", json!("ru")), &[]);
    let content = error["content"].as_str().unwrap_or_default();
    assert!(content.starts_with("Error: "), "{content}");
    assert_russian("the buyer's error", content);
    assert_eq!(error["error"], true);
}

// ------------------------------------------------------ the documents

/// The English pages with a Russian twin: the front page, and one page per
/// topic in `docs/` (its twin in `docs/ru/`).
const TWINS: &[(&str, &str)] = &[
    ("README.md", "README.ru.md"),
    ("docs/install.md", "docs/ru/install.md"),
    ("docs/configuration.md", "docs/ru/configuration.md"),
    ("docs/config-reference.md", "docs/ru/config-reference.md"),
    ("docs/operations.md", "docs/ru/operations.md"),
    ("docs/monitoring.md", "docs/ru/monitoring.md"),
    ("docs/security.md", "docs/ru/security.md"),
    ("docs/troubleshooting.md", "docs/ru/troubleshooting.md"),
    ("docs/how-it-works.md", "docs/ru/how-it-works.md"),
];

/// A document of the repository, by its path from the top.
fn document(path: &str) -> String {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A page's section from `heading` to the next `## ` heading.
fn section<'a>(page: &'a str, heading: &str) -> &'a str {
    let start = page
        .find(heading)
        .unwrap_or_else(|| panic!("the page has no {heading:?}"));
    let rest = &page[start + heading.len()..];
    &rest[..rest.find("\n## ").unwrap_or(rest.len())]
}

/// The commands and code lines of a text's fenced blocks (```sh, ```cron,
/// ```ini, ```json, ```yaml), without comments: what an owner types or
/// pastes, the same in both languages. (```text blocks show the program's
/// output, which follows the locale.)
fn commands(text: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut in_block = false;
    for line in text.lines() {
        match line.trim() {
            "```sh" | "```cron" | "```ini" | "```json" | "```yaml" => in_block = true,
            fence if fence.starts_with("```") => in_block = false,
            code if in_block
                && !code.starts_with('#')
                && !code.starts_with(';')
                && !code.is_empty() =>
            {
                let code = code.split("  #").next().unwrap_or(code).trim_end();
                commands.push(code.to_string());
            }
            _ => {}
        }
    }
    commands
}

#[test]
fn every_english_page_has_its_russian_twin_with_every_command() {
    for (english, russian) in TWINS {
        let (english_page, russian_page) = (document(english), document(russian));
        for line in commands(&english_page) {
            assert!(
                russian_page.contains(&line),
                "{russian} lacks this line of {english}:\n{line}"
            );
        }
        // Each links to the other in its first lines.
        let head = |page: &str| page.lines().take(4).collect::<Vec<_>>().join("\n");
        let (to_russian, to_english) = match english.strip_prefix("docs/") {
            Some(name) => (format!("](ru/{name})"), format!("](../{name})")),
            None => ("](README.ru.md)".to_string(), "](README.md)".to_string()),
        };
        assert!(
            head(&english_page).contains(&to_russian),
            "{english} must link to {russian} in its first lines"
        );
        assert!(
            head(&russian_page).contains(&to_english),
            "{russian} must link to {english} in its first lines"
        );
    }
    // Every page of docs/ has its twin listed above.
    for dir in ["docs", "docs/ru"] {
        let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        for entry in std::fs::read_dir(full).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if name.ends_with(".md") {
                let path = format!("{dir}/{name}");
                assert!(
                    TWINS.iter().any(|(en, ru)| *en == path || *ru == path),
                    "{path} has no twin in TWINS"
                );
            }
        }
    }
}

#[test]
fn the_russian_pages_name_every_flag_variable_and_status_an_owner_needs() {
    let russian: String = TWINS.iter().map(|(_, ru)| document(ru)).collect();
    for named in [
        "--check",
        "--test",
        "--reset-config",
        "--show-config",
        "--force-token -",
        "--token-file",
        "OLLAMA_PROXY_TOKEN",
        "OLLAMA_HOST",
        "SSL_CERT_FILE",
        "LC_ALL",
        "LC_MESSAGES",
        "LANG",
        "language",
        "buyer_language",
        "cargo run --release",
        "cargo test",
        "78",
        "71",
    ] {
        assert!(
            russian.contains(named),
            "the Russian pages do not mention {named}"
        );
    }
}

#[test]
fn both_front_pages_are_short() {
    for page in ["README.md", "README.ru.md"] {
        let lines = document(page).lines().count();
        assert!(
            lines <= 250,
            "{page} has {lines} lines: move detail to docs/"
        );
    }
}

/// Where `needle` is in `text`; the test fails if it is not there.
fn position(text: &str, needle: &str) -> usize {
    text.find(needle)
        .unwrap_or_else(|| panic!("the page has no {needle:?}"))
}

#[test]
fn the_readme_leads_with_the_debian_packages_in_both_languages() {
    let version = env!("CARGO_PKG_VERSION");
    // First among the install instructions, in English and in Russian.
    for (page, debian, by_hand) in [
        (
            "README.md",
            "## Install on Debian, Ubuntu, Raspberry Pi OS",
            "## Install by hand",
        ),
        (
            "README.ru.md",
            "## Установка на Debian, Ubuntu, Raspberry Pi OS",
            "## Установка вручную",
        ),
        ("docs/install.md", "## The Debian package", "## systemd"),
        ("docs/ru/install.md", "## Пакет Debian", "## systemd"),
    ] {
        let text = document(page);
        assert!(
            position(&text, debian) < position(&text, by_hand),
            "{page}: {debian:?} must come before {by_hand:?}"
        );
    }
    // The owner's commands, in this order, with this version's packages
    // (scripts/build-deb.sh names them so).
    let readme = document("README.md");
    let steps = commands(section(
        &readme,
        "## Install on Debian, Ubuntu, Raspberry Pi OS",
    ));
    let wanted = [
        format!("sudo apt install ./ollama-proxy-client_{version}_arm64.deb"),
        "sudoedit /etc/ollama-proxy-client.env".to_string(),
        "sudo systemctl enable --now ollama-proxy-client".to_string(),
        // --check as the service runs: its user (its config), the env file.
        "sudo sh -c 'set -a; . /etc/ollama-proxy-client.env; \
         exec runuser -u ollama-proxy -- ollama-proxy-client --check'"
            .to_string(),
    ];
    let mut after = 0;
    for want in &wanted {
        let at = steps
            .iter()
            .position(|step| step == want)
            .unwrap_or_else(|| panic!("the Debian install lacks `{want}`:\n{steps:#?}"));
        assert!(at >= after, "`{want}` is out of order:\n{steps:#?}");
        after = at;
    }
    for page in ["README.md", "README.ru.md"] {
        let text = document(page);
        for arch in ["amd64", "arm64", "armhf"] {
            let package = format!("`ollama-proxy-client_{version}_{arch}.deb`");
            assert!(text.contains(&package), "{page} names {package}");
        }
    }
}
