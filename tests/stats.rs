//! End-to-end tests of `--stats`: the real binary, with ledger files
//! written into a temporary `HOME`'s `~/.config/ollama_proxy/`. It must
//! give the ledger's figures (as one JSON object or as the owner's table,
//! in English or Russian), count and report torn lines, refuse bad usage,
//! and write nothing at all.

mod support;

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use support::answers::WAIT;
use support::client::{config_dir, config_path, files_under, write_config, Finished, Launch};

const HINT: &str = "Try 'ollama-proxy-client --help' for more information.";

/// The start of the fixture's period.
const SINCE: &str = "2025-01-01T00:00:00Z";

/// A ledger line on 2025-01-01 at `clock` (`HH:MM:SS`).
fn line(clock: &str, event: &str, rest: &str) -> String {
    format!("{{\"ts\":\"2025-01-01T{clock}.000Z\",\"event\":\"{event}\"{rest}}}\n")
}

/// An answer line with `outcome` (and its error kind when not ok).
fn answer(clock: &str, outcome: &str, rest: &str) -> String {
    let error = match outcome {
        "ok" => String::new(),
        "busy" => ",\"error\":\"busy\"".to_string(),
        kind => format!(",\"error\":\"{kind}\""),
    };
    let outcome = match outcome {
        "ok" | "busy" => outcome,
        _ => "error",
    };
    line(
        clock,
        "answer",
        &format!(
            ",\"message_id\":7,\"stream\":true,\"model\":\"llama3.2\",\"outcome\":\"{outcome}\"\
             {error},\"prompt_chars\":5,\"answer_chars\":12,\"pieces\":3{rest},\"total_ms\":900"
        ),
    )
}

/// Three ledger files, oldest first (`.2`, `.1`, the current one): one run
/// with a reconnect, every connection closed, so that only the period's
/// length depends on when the test runs.
fn fixture() -> [(&'static str, String); 3] {
    [
        (
            "ledger.jsonl.2",
            [
                line(
                    "00:00:00",
                    "start",
                    ",\"version\":\"0.1.0\",\"model\":\"llama3.2\",\"settings\":{}",
                ),
                line("00:00:00", "connect", ""),
                answer(
                    "00:10:00",
                    "ok",
                    ",\"prompt_tokens\":12,\"tokens\":40,\"eval_ms\":2000,\"first_piece_ms\":150",
                ),
            ]
            .concat(),
        ),
        (
            "ledger.jsonl.1",
            [
                answer("00:20:00", "timeout", ",\"first_piece_ms\":500"),
                line(
                    "00:30:00",
                    "disconnect",
                    ",\"reason\":\"the hub closed the connection\"",
                ),
                line("00:31:00", "connect", ""),
                answer("00:40:00", "busy", ""),
            ]
            .concat(),
        ),
        (
            "ledger.jsonl",
            [
                answer(
                    "00:50:00",
                    "ok",
                    ",\"prompt_tokens\":8,\"tokens\":10,\"eval_ms\":1000,\"first_piece_ms\":250",
                ),
                line("01:00:00", "stop", ",\"reason\":\"SIGTERM received\""),
            ]
            .concat(),
        ),
    ]
}

/// Connected 00:00-00:30 and 00:31-01:00.
const CONNECTED_MS: i64 = 59 * 60_000;

/// Writes the fixture's files into `dir` (created if need be).
fn write_ledger(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, text) in fixture() {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

/// A fresh `HOME` with the fixture in the default config directory (and no
/// config file).
fn with_ledger() -> Launch {
    let launch = Launch::fresh();
    write_ledger(&config_dir(launch.home()));
    launch
}

/// Every file under `home` with its contents, for "nothing was written".
fn snapshot(home: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    files_under(home)
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect()
}

/// Runs `launch` with `args`, checking that it wrote nothing in `HOME`.
fn run(launch: Launch, args: &[&str]) -> Finished {
    let before = snapshot(launch.home());
    let finished = launch.args(args).run(WAIT);
    assert_eq!(
        snapshot(finished.home()),
        before,
        "{args:?} wrote something\n{}",
        finished.describe()
    );
    finished
}

/// Milliseconds since the epoch of an RFC 3339 UTC time stamp as the
/// client writes them (checked against known instants below).
fn millis_of(stamp: &str) -> i64 {
    // Days from 1970-01-01 to the date, then the clock.
    let (date, clock) = stamp.split_once('T').unwrap();
    let numbers: Vec<i64> = date.split('-').map(|n| n.parse().unwrap()).collect();
    let (y, m, d) = (numbers[0], numbers[1], numbers[2]);
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * m + 2) / 5 + d - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    let clock = clock.trim_end_matches('Z');
    let (hms, ms) = clock.split_once('.').unwrap_or((clock, "0"));
    let parts: Vec<i64> = hms.split(':').map(|n| n.parse().unwrap()).collect();
    days * 86_400_000
        + ((parts[0] * 60 + parts[1]) * 60 + parts[2]) * 1000
        + ms.parse::<i64>().unwrap()
}

/// `hub_connected_pct` for the fixture with the period ending at `until`.
fn connected_pct(until: &str) -> f64 {
    let period = millis_of(until) - millis_of(SINCE);
    (CONNECTED_MS as f64 * 100.0 / period as f64 * 10.0).round() / 10.0
}

fn parse_json(finished: &Finished) -> Value {
    serde_json::from_str(&finished.stdout)
        .unwrap_or_else(|e| panic!("{e}: not one JSON object\n{}", finished.describe()))
}

#[test]
fn the_time_stamp_helper_agrees_with_known_instants() {
    assert_eq!(millis_of("1970-01-01T00:00:00.000Z"), 0);
    assert_eq!(millis_of("2025-11-30T22:40:01.123Z"), 1_764_542_401_123);
    assert_eq!(millis_of("2000-02-29T00:00:00Z"), 951_782_400_000);
}

#[test]
fn json_gives_the_exact_figures_of_the_rotated_ledger() {
    let finished = run(with_ledger(), &["--stats", "--since", SINCE, "--json"]);
    assert_eq!(finished.code(), Some(0), "{}", finished.describe());
    assert_eq!(finished.stderr, "", "{}", finished.describe());
    assert_eq!(
        finished.stdout.lines().count(),
        1,
        "{}",
        finished.describe()
    );
    let mut shown = parse_json(&finished);
    let until = shown["until"].as_str().unwrap().to_string();
    assert!(until.ends_with('Z') && until.len() == 24, "{until}");
    assert_eq!(shown["hub_connected_pct"], json!(connected_pct(&until)));
    let fields = shown.as_object_mut().unwrap();
    fields.remove("until");
    fields.remove("hub_connected_pct");
    assert_eq!(
        shown,
        json!({
            "since": "2025-01-01T00:00:00.000Z",
            "requests": 4,
            "answered": 2,
            "errors": {"timeout": 1},
            "busy": 1,
            "tokens": 50,
            "prompt_tokens": 20,
            "tokens_per_s_p50": 10.0,
            "first_piece_ms_p50": 250,
            "first_piece_ms_p95": 500,
            "reconnects": 1,
            "torn_lines": 0,
        })
    );
    // Without --since the period starts at the first line; a later --since
    // leaves out what came before it.
    let finished = run(with_ledger(), &["--stats", "--json"]);
    let shown = parse_json(&finished);
    assert_eq!(shown["since"], "2025-01-01T00:00:00.000Z");
    assert_eq!(shown["requests"], 4);
    let finished = run(
        with_ledger(),
        &["--stats", "--json", "--since=2025-01-01T00:35:00+00:00"],
    );
    let shown = parse_json(&finished);
    assert_eq!(shown["since"], "2025-01-01T00:35:00.000Z");
    assert_eq!(
        (shown["requests"].clone(), shown["reconnects"].clone()),
        (json!(2), json!(0))
    );
    assert_eq!(shown["tokens"], 10);
    // A span back from now, long before the fixture: nothing in it.
    let finished = run(with_ledger(), &["--stats", "--json", "--since", "1h"]);
    let shown = parse_json(&finished);
    assert_eq!(shown["requests"], 0);
    assert_eq!(shown["hub_connected_pct"], 0.0);
}

#[test]
fn a_torn_last_line_is_counted_with_a_warning() {
    let launch = with_ledger();
    let current = config_dir(launch.home()).join("ledger.jsonl");
    let mut text = std::fs::read_to_string(&current).unwrap();
    text.push_str("{\"ts\":\"2025-01-01T01:00:01.000Z\",\"event\":\"conn");
    std::fs::write(&current, text).unwrap();
    let finished = run(launch, &["--stats", "--json", "--since", SINCE]);
    assert_eq!(finished.code(), Some(0), "{}", finished.describe());
    let shown = parse_json(&finished);
    assert_eq!(shown["torn_lines"], 1);
    assert_eq!(shown["requests"], 4);
    assert_eq!(
        finished.stderr,
        format!(
            "ollama-proxy-client: warning: skipped 1 unreadable line in {}",
            support::client::shown_path(finished.home(), &current)
        )
    );
    // In Russian too.
    let launch = with_ledger();
    let current = config_dir(launch.home()).join("ledger.jsonl");
    std::fs::write(&current, "garbage\n{\"ts\":").unwrap();
    let finished = run(launch.env("LANG", "ru_RU.UTF-8"), &["--stats"]);
    assert_eq!(finished.code(), Some(0), "{}", finished.describe());
    assert_eq!(
        finished.stderr,
        format!(
            "ollama-proxy-client: предупреждение: в {} пропущены 2 нечитаемые строки",
            support::client::shown_path(finished.home(), &current)
        )
    );
}

/// The table's lines, with the two that depend on the time of the run
/// (the period's end, the share connected) checked and cut to their label.
fn table_lines(finished: &Finished, period: &str, hub: &str) -> Vec<String> {
    assert_eq!(finished.code(), Some(0), "{}", finished.describe());
    assert_eq!(finished.stderr, "", "{}", finished.describe());
    finished
        .stdout
        .lines()
        .map(|line| {
            if line.starts_with(period) || line.starts_with(hub) {
                let label = line.split("   ").next().unwrap();
                return label.trim_end().to_string();
            }
            line.to_string()
        })
        .collect()
}

#[test]
fn the_table_in_english_and_in_russian() {
    let finished = run(with_ledger(), &["--stats", "--since", SINCE]);
    let first = finished
        .stdout
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(
        first.starts_with("Period          2025-01-01T00:00:00.000Z to 20"),
        "{}",
        finished.describe()
    );
    assert_eq!(
        table_lines(&finished, "Period", "Hub connected"),
        [
            "Period",
            "Requests        4 requests, 2 answered",
            "Errors          1 (timeout 1)",
            "Busy answers    1 answer",
            "Tokens          50 generated, 20 read",
            "Tokens/s        10.0 (median)",
            "First piece     after 250 ms (median), 500 ms (p95)",
            "Hub connected",
            "Reconnects      1",
        ]
    );
    let hub = finished.stdout.lines().nth(7).unwrap().to_string();
    assert!(hub.ends_with("% of the time"), "{hub}");
    let finished = run(
        with_ledger().env("LANG", "ru_RU.UTF-8"),
        &["--stats", "--since", SINCE],
    );
    let first = finished
        .stdout
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(
        first.starts_with("Период            с 2025-01-01T00:00:00.000Z по 20"),
        "{}",
        finished.describe()
    );
    assert_eq!(
        table_lines(&finished, "Период", "Связь с хабом"),
        [
            "Период",
            "Запросы           4 запроса, с ответом: 2",
            "Ошибки            1 (timeout 1)",
            "Ответы «занято»   1 ответ",
            "Токены            сгенерировано 50, прочитано 20",
            "Токенов/с         10.0 (медиана)",
            "Первая часть      через 250 мс (медиана), 500 мс (p95)",
            "Связь с хабом",
            "Переподключения   1",
        ]
    );
}

#[test]
fn usage_errors_exit_2_and_write_nothing() {
    for (args, message) in [
        (
            &["--json"][..],
            "--json can only be used with --stats or --status",
        ),
        (&["--since", "1h"], "--since can only be used with --stats"),
        (
            &["--stats", "--check"],
            "--stats and --check cannot be used together",
        ),
        (
            &["--test", "--stats"],
            "--stats and --test cannot be used together",
        ),
        (
            &["--stats", "--since", "last week"],
            "--since needs a span such as 1h, 24h or 7d, or a date such as 2026-11-30 \
             or 2026-11-30T22:40:00Z, not 'last week'",
        ),
        (
            &["--stats", "--since"],
            "missing argument for option '--since'",
        ),
    ] {
        let finished = run(with_ledger(), args);
        assert_eq!(
            finished.code(),
            Some(2),
            "{args:?}\n{}",
            finished.describe()
        );
        assert_eq!(finished.stdout, "", "{args:?}");
        assert_eq!(
            finished.stderr,
            format!("ollama-proxy-client: {message}\n{HINT}"),
            "{args:?}"
        );
    }
}

#[test]
fn stats_needs_no_config_no_token_and_creates_nothing() {
    // An empty HOME: no ledger, an empty period, nothing created.
    let finished = run(Launch::fresh(), &["--stats", "--json"]);
    assert_eq!(finished.code(), Some(0), "{}", finished.describe());
    assert!(files_under(finished.home()).is_empty());
    assert!(!config_dir(finished.home()).exists());
    let shown = parse_json(&finished);
    assert_eq!(shown["since"], Value::Null);
    assert_eq!(shown["requests"], 0);
    assert_eq!(shown["hub_connected_pct"], Value::Null);
    let keys: Vec<&String> = shown.as_object().unwrap().keys().collect();
    let mut expected = [
        "since",
        "until",
        "requests",
        "answered",
        "errors",
        "busy",
        "tokens",
        "prompt_tokens",
        "tokens_per_s_p50",
        "first_piece_ms_p50",
        "first_piece_ms_p95",
        "hub_connected_pct",
        "reconnects",
        "torn_lines",
    ];
    expected.sort_unstable();
    assert_eq!(keys, expected);
    // The table of an empty ledger; a token flag changes nothing and is
    // not saved.
    let finished = run(Launch::fresh(), &["--stats", "--force-token", "-"]);
    assert_eq!(finished.code(), Some(0), "{}", finished.describe());
    assert!(
        finished
            .stdout
            .starts_with("Period          nothing recorded up to 20"),
        "{}",
        finished.describe()
    );
    assert!(files_under(finished.home()).is_empty());
}

#[test]
fn the_ledger_is_read_beside_the_config_file_and_as_many_as_it_keeps() {
    // --config elsewhere: its directory holds the ledger; the default one
    // is not read.
    let launch = with_ledger();
    let other = launch.home().join("gpu1");
    write_ledger(&other);
    std::fs::remove_file(other.join("ledger.jsonl.2")).unwrap();
    let config = other.join("config.json");
    let args = ["--stats", "--json", "--config", config.to_str().unwrap()];
    let finished = run(launch, &args);
    let shown = parse_json(&finished);
    assert_eq!(shown["since"], "2025-01-01T00:20:00.000Z");
    assert_eq!(shown["requests"], 3);
    assert!(!config.exists());
    // A config file keeping one rotated file: `.2` is not read; its
    // language speaks for the owner.
    let launch = with_ledger();
    let config = json!({"ledger_files_kept": 1, "language": "ru"});
    write_config(launch.home(), &config);
    let finished = run(launch, &["--stats", "--json"]);
    let shown = parse_json(&finished);
    assert_eq!(shown["since"], "2025-01-01T00:20:00.000Z");
    let launch = with_ledger();
    write_config(launch.home(), &config);
    let finished = run(launch, &["--stats"]);
    assert!(
        finished.stdout.starts_with("Период "),
        "{}",
        finished.describe()
    );
    // A config file that cannot be read does not stop --stats.
    let launch = with_ledger();
    std::fs::write(config_path(launch.home()), "{ not json").unwrap();
    let finished = run(launch, &["--stats", "--json"]);
    assert_eq!(finished.code(), Some(0), "{}", finished.describe());
    assert_eq!(parse_json(&finished)["requests"], 4);
}

#[test]
fn token_sums_past_2_to_the_64_are_shown_exactly() {
    let launch = Launch::fresh();
    let dir = config_dir(launch.home());
    std::fs::create_dir_all(&dir).unwrap();
    let max = ",\"prompt_tokens\":18446744073709551615,\"tokens\":18446744073709551615";
    let text = [
        answer("00:10:00", "ok", max),
        answer("00:20:00", "ok", max),
        answer("00:30:00", "ok", ",\"prompt_tokens\":2,\"tokens\":3"),
    ]
    .concat();
    std::fs::write(dir.join("ledger.jsonl"), text).unwrap();
    let home = launch.home().to_path_buf();
    let out = run(launch, &["--stats", "--json", "--since", SINCE]);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    // 2 * (2^64 - 1) + 3 and + 2, neither stuck at 2^64 - 1.
    assert!(
        out.stdout.contains("\"tokens\":36893488147419103233,")
            && out
                .stdout
                .contains("\"prompt_tokens\":36893488147419103232,"),
        "{}",
        out.describe()
    );
    let out = run(Launch::in_home(&home), &["--stats", "--since", SINCE]);
    assert!(
        out.stdout
            .contains("36893488147419103233 generated, 36893488147419103232 read"),
        "{}",
        out.describe()
    );
}
