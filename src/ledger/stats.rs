//! `--stats`: reads the ledger back and says what was served in a period,
//! how fast, and how long the hub was connected.
//!
//! Three parts, each testable alone:
//!
//! - computing: [`Totals`] takes the ledger's lines one at a time (oldest
//!   first) and [`Totals::finish`] gives the [`Stats`] of the period from
//!   `since` to a given `until`; [`read`] feeds it one file from any
//!   `BufRead`, a line at a time;
//! - I/O: [`gather`] opens the ledger's files (`ledger.jsonl.N` ...
//!   `ledger.jsonl.1`, then `ledger.jsonl`) and reads them oldest first;
//! - rendering: [`json`] (one object) and [`table`] (the owner's table, in
//!   a language of the catalogue).
//!
//! The ledger is hostile input: a line longer than [`MAX_LINE`], one that
//! is not a JSON object with a `ts` (RFC 3339) and an `event` (a string),
//! a torn last line, are skipped and counted (`torn_lines`), never a
//! panic. Blank lines are skipped without being counted. Memory is bounded
//! by one line, apart from two figures kept per answer for the medians.
//!
//! The hub's connection: a `connect` opens it; the next `disconnect` or
//! `stop` closes it, and so does a `start` (a `start` with no `stop` before
//! it follows a crash: the connection closes at the last line before the
//! `start`). One still open at the end of the ledger lasts until `until`
//! while a client runs on this ledger (the caller knows: the control
//! lock), and otherwise ends at the ledger's last line (a crash, or a
//! `kill -9`: nothing says when the connection ended, and the last line is
//! the last the client is known to have been there). Time connected is
//! clipped to the period.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use crate::console;
use crate::logging;
use crate::state_file::{self, Access};
use crate::text::{outside, stats as text, Lang, Text};
use crate::time::{self, Millis};

/// A line longer than this (without its newline) is skipped as torn.
pub const MAX_LINE: usize = 64 * 1024;

/// An error kind longer than this is cut (the ledger's are short words).
const MAX_KIND: usize = 64;

/// The figures of one period (see the module comment and `--stats`). Also
/// the object of `--stats --json` (see [`json`]): its fields are the keys,
/// in this order, a format others read.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Stats {
    /// `--since`, or the first line's time stamp; `None` when neither.
    #[serde(serialize_with = "stamp_or_null")]
    pub since: Option<Millis>,
    #[serde(serialize_with = "stamp")]
    pub until: Millis,
    /// Answer lines.
    pub requests: u64,
    /// Answers whose outcome is `ok`.
    pub answered: u64,
    /// Error kind -> count, over the outcomes `error` and `shutdown`.
    pub errors: BTreeMap<String, u64>,
    /// Answers whose outcome is `busy`.
    pub busy: u64,
    /// Sums of Ollama's counts: wider than one count, so that no sum of
    /// counts a ledger can hold is cut short (a tampered one included).
    pub tokens: u128,
    pub prompt_tokens: u128,
    /// Median (nearest rank) of `tokens * 1000 / eval_ms`, to 0.1.
    pub tokens_per_s_p50: Option<f64>,
    pub first_piece_ms_p50: Option<u64>,
    pub first_piece_ms_p95: Option<u64>,
    /// Share of the period the hub was connected, to 0.1; `None` when the
    /// period is empty or unknown.
    pub hub_connected_pct: Option<f64>,
    /// `connect`s that follow a `disconnect` in the same run.
    pub reconnects: u64,
    /// Lines skipped as unreadable, in every file.
    pub torn_lines: u64,
}

/// The figures being gathered from lines, oldest first.
#[derive(Default)]
pub struct Totals {
    first_ts: Option<Millis>,
    last_ts: Option<Millis>,
    /// When the connection open now was opened.
    open: Option<Millis>,
    connected_ms: i64,
    /// A `disconnect` came since the run's start (or its last `connect`).
    disconnected: bool,
    rates: Vec<f64>,
    first_pieces: Vec<u64>,
    /// The sums so far, and the period asked for: `since` (every line when
    /// `None`) to `until`.
    stats: Stats,
}

impl Totals {
    /// Figures for the lines from `since` (every line when `None`), with
    /// the period ending at `until`.
    pub fn new(since: Option<Millis>, until: Millis) -> Totals {
        let stats = Stats {
            since,
            until,
            ..Stats::default()
        };
        Totals {
            stats,
            ..Totals::default()
        }
    }

    /// One line of the ledger (a `\r` before its newline is JSON's
    /// whitespace too). A line that is not a ledger line is counted as
    /// torn.
    fn line(&mut self, line: &[u8]) {
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let Some((ts, event, fields)) = parse(line) else {
            self.stats.torn_lines += 1;
            return;
        };
        self.first_ts.get_or_insert(ts);
        let in_period = self.stats.since.is_none_or(|since| ts >= since);
        match event.as_str() {
            "start" => {
                self.close(self.last_ts);
                self.disconnected = false;
            }
            "stop" | "disconnect" => {
                self.close(Some(ts));
                self.disconnected = event == "disconnect";
            }
            "connect" => {
                if self.disconnected && in_period {
                    self.stats.reconnects += 1;
                }
                self.disconnected = false;
                self.open.get_or_insert(ts);
            }
            "answer" if in_period => self.answer(&fields),
            _ => {}
        }
        self.last_ts = Some(ts);
    }

    fn answer(&mut self, fields: &Members) {
        let stats = &mut self.stats;
        stats.requests += 1;
        let number = |name| member::<u64>(fields, name);
        let outcome = member::<String>(fields, "outcome");
        match outcome.as_deref() {
            Some("ok") => stats.answered += 1,
            Some("busy") => stats.busy += 1,
            _ => {
                let error = member::<String>(fields, "error");
                let kind = error.as_deref().or(outcome.as_deref());
                let kind = kind.unwrap_or("unknown").chars().take(MAX_KIND);
                *stats.errors.entry(kind.collect()).or_default() += 1;
            }
        }
        let tokens = number("tokens");
        // 2^64 lines of 2^64 tokens would be needed to reach the limit.
        stats.tokens = stats.tokens.saturating_add(tokens.unwrap_or(0).into());
        let prompt_tokens = number("prompt_tokens").unwrap_or(0);
        stats.prompt_tokens = stats.prompt_tokens.saturating_add(prompt_tokens.into());
        let eval_ms = member::<f64>(fields, "eval_ms").filter(|ms| *ms > 0.0);
        if let (Some(tokens), Some(eval_ms)) = (tokens, eval_ms) {
            self.rates.push(tokens as f64 * 1000.0 / eval_ms);
        }
        self.first_pieces.extend(number("first_piece_ms"));
    }

    /// Closes the open connection (if any) at `end`, counting its time
    /// within the period. With no `end` there is no line yet, so no
    /// connection either.
    fn close(&mut self, end: Option<Millis>) {
        let (Some(begin), Some(end)) = (self.open.take(), end) else {
            return;
        };
        let start = self.stats.since.or(self.first_ts).unwrap_or(begin);
        let (from, to) = (begin.max(start), end.min(self.stats.until));
        self.connected_ms += (to - from).max(0);
    }

    /// The figures. A connection still open lasts until `until` when
    /// `client_running`, else until the last line (see the module comment).
    pub fn finish(mut self, client_running: bool) -> Stats {
        self.close(client_running.then_some(self.stats.until).or(self.last_ts));
        let mut stats = self.stats;
        stats.since = stats.since.or(self.first_ts);
        stats.hub_connected_pct = stats
            .since
            .map(|since| stats.until - since)
            .filter(|period| *period > 0)
            .map(|period| tenths(self.connected_ms as f64 * 100.0 / period as f64).min(100.0));
        self.rates.sort_by(f64::total_cmp);
        stats.tokens_per_s_p50 = percentile(&self.rates, 50).map(|rate| tenths(*rate));
        self.first_pieces.sort_unstable();
        stats.first_piece_ms_p50 = percentile(&self.first_pieces, 50).copied();
        stats.first_piece_ms_p95 = percentile(&self.first_pieces, 95).copied();
        stats
    }
}

/// A ledger line's members, each as its JSON text, parsed only when asked
/// for (see [`member`]): the others (a `message_id`, which holds whatever
/// the hub sent, unknown members) are never parsed.
type Members<'a> = BTreeMap<String, &'a RawValue>;

/// A line's time stamp, event and members, if it is a ledger line.
fn parse(line: &[u8]) -> Option<(Millis, String, Members<'_>)> {
    let members: Members = serde_json::from_slice(line).ok()?;
    let ts = time::parse(&member::<String>(&members, "ts")?)?;
    let event = member(&members, "event")?;
    Some((ts, event, members))
}

/// The member `name` as a `T`: `None` when there is none, or when it is
/// not a `T`, or a value serde_json cannot hold (a string with a lone
/// surrogate escape, a number past `f64`), which leaves the rest of the
/// line readable.
fn member<T: DeserializeOwned>(members: &Members, name: &str) -> Option<T> {
    serde_json::from_str(members.get(name)?.get()).ok()
}

/// Rounded to one decimal.
fn tenths(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// The nearest-rank `p`th percentile of sorted values.
pub fn percentile<T>(sorted: &[T], p: usize) -> Option<&T> {
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted.get(rank - 1)
}

/// Feeds every line of `reader` to `totals`, a line at a time: at most
/// [`MAX_LINE`] bytes of a line are kept; a longer one is read to its end
/// and counted as torn, and so is a last line cut short (no newline,
/// unfinished JSON).
pub fn read(reader: &mut dyn BufRead, totals: &mut Totals) -> io::Result<()> {
    let mut line = Vec::new();
    loop {
        line.clear();
        // The line and its newline, or a byte past the limit.
        (&mut *reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if line.is_empty() {
            return Ok(());
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        } else if line.len() > MAX_LINE {
            reader.skip_until(b'\n')?;
            totals.stats.torn_lines += 1;
            continue;
        }
        totals.line(&line);
    }
}

/// Reads the ledger at `ledger` (with its rotated files) into the figures
/// from `since` to `until`, and the warnings for the owner: lines skipped
/// in a file, a file that cannot be read. A missing file is no warning:
/// no ledger yet. Nothing is written. `client_running`: whether a client
/// writes this ledger now (see [`Totals::finish`]).
pub fn gather(
    ledger: &Path,
    files_kept: usize,
    since: Option<Millis>,
    until: Millis,
    client_running: bool,
) -> (Stats, Vec<Text>) {
    let mut warnings = Vec::new();
    // Opened newest first and read oldest first: a rotation between two
    // opens shows one file under two names (read once, told by its inode)
    // instead of hiding one.
    let mut opened = Vec::new();
    let mut seen = Vec::new();
    let rotated = (1..=files_kept).map(|n| logging::rotated(ledger, n));
    for path in std::iter::once(ledger.to_path_buf()).chain(rotated) {
        // Never blocking, and only a regular file: a FIFO in the ledger's
        // place cannot hang us, and is named in the warning.
        match state_file::open(&path, Access::Read) {
            Ok(file) => {
                let id = crate::platform::files::identity(&file);
                if id.is_none() || !seen.contains(&id) {
                    seen.push(id);
                    opened.push((path, file));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => warnings.push(text::stats_unreadable_file(
                path.display(),
                state_file::reason(&e),
            )),
        }
    }
    let mut totals = Totals::new(since, until);
    for (path, file) in opened.into_iter().rev() {
        let before = totals.stats.torn_lines;
        let mut reader = BufReader::with_capacity(64 * 1024, file);
        if let Err(e) = read(&mut reader, &mut totals) {
            warnings.push(text::stats_unreadable_file(path.display(), e));
        }
        let torn = totals.stats.torn_lines - before;
        if torn > 0 {
            warnings.push(text::stats_skipped_lines(torn, path.display()));
        }
    }
    (totals.finish(client_running), warnings)
}

/// `--stats --json`: one object, [`Stats`] as it is. Written by
/// serde_json's serializer, not through a `Value`, which cannot hold a
/// token sum over 2^64-1.
pub fn json(stats: &Stats) -> String {
    // Strings and numbers: serializing cannot fail.
    serde_json::to_string(stats).unwrap_or_default()
}

/// A moment as `--stats --json` shows it: its RFC 3339 time stamp.
fn stamp<S: Serializer>(at: &Millis, to: S) -> Result<S::Ok, S::Error> {
    to.serialize_str(&time::format(*at))
}

/// `since`: a time stamp, or `null`.
fn stamp_or_null<S: Serializer>(at: &Option<Millis>, to: S) -> Result<S::Ok, S::Error> {
    at.map(time::format).serialize(to)
}

/// `--stats`: the owner's table in `lang`, a label and a value a line, the
/// values lined up three spaces after the longest label.
pub fn table(stats: &Stats, lang: Lang) -> String {
    let until = time::format(stats.until);
    let period = match stats.since {
        Some(since) => text::stats_period(time::format(since), until),
        None => text::stats_period_empty(until),
    };
    let kinds = stats
        .errors
        .iter()
        .map(|(kind, n)| format!("{} {n}", outside(kind)));
    let errors = match stats.errors.values().sum() {
        0 => text::none(),
        n => text::stats_errors(n, kinds.collect::<Vec<_>>().join(", ")),
    };
    let busy = match stats.busy {
        0 => text::none(),
        n => text::stats_busy(n),
    };
    // A median or a share that nothing in the period gives.
    let no_data = |value: Option<Text>| value.unwrap_or_else(text::stats_no_data);
    let speed = stats
        .tokens_per_s_p50
        .map(|speed| text::stats_speed(format!("{speed:.1}")));
    let first_piece = (stats.first_piece_ms_p50.zip(stats.first_piece_ms_p95))
        .map(|(p50, p95)| text::stats_first_piece(p50, p95));
    let hub = stats
        .hub_connected_pct
        .map(|percent| text::stats_hub(format!("{percent:.1}")));
    let requests = text::stats_requests(stats.requests, stats.answered);
    let tokens = text::stats_tokens(stats.tokens, stats.prompt_tokens);
    let rows = [
        (text::stats_label_period(), period),
        (text::label_requests(), requests),
        (text::stats_label_errors(), errors),
        (text::stats_label_busy(), busy),
        (text::stats_label_tokens(), tokens),
        (text::stats_label_speed(), no_data(speed)),
        (text::stats_label_first_piece(), no_data(first_piece)),
        (text::stats_label_hub(), no_data(hub)),
        (
            text::stats_label_reconnects(),
            Text::verbatim(stats.reconnects),
        ),
    ];
    let rows: Vec<(String, String)> = rows
        .into_iter()
        .map(|(label, value)| (label.in_lang(lang), value.in_lang(lang)))
        .collect();
    console::label_table(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use std::io::{Cursor, Read};

    /// 2026-11-30 at `clock` (`HH:MM:SS`), UTC.
    fn at(clock: &str) -> Millis {
        time::parse(&format!("2026-11-30T{clock}Z")).unwrap()
    }

    /// A ledger line at `clock` with `event` and the fields of `rest`
    /// (`,"key":value...`, or empty).
    fn line(clock: &str, event: &str, rest: &str) -> String {
        format!(
            "{{\"ts\":\"{}\",\"event\":\"{event}\"{rest}}}\n",
            time::format(at(clock))
        )
    }

    fn answer(clock: &str, outcome: &str, rest: &str) -> String {
        let error = match outcome {
            "ok" => String::new(),
            _ => format!(",\"error\":\"{outcome}\""),
        };
        line(
            clock,
            "answer",
            &format!(
                ",\"message_id\":1,\"stream\":true,\"model\":\"m\",\"outcome\":\"{}\"{error},\
                 \"prompt_chars\":5,\"answer_chars\":0,\"pieces\":0,\"total_ms\":9{rest}",
                match outcome {
                    "ok" | "busy" | "shutdown" => outcome,
                    _ => "error",
                }
            ),
        )
    }

    /// Two runs: the first crashes (no `stop`) after a reconnect.
    fn ledger() -> String {
        [
            line(
                "10:00:00",
                "start",
                ",\"version\":\"0.1.0\",\"model\":\"m\",\"settings\":{}",
            ),
            line("10:00:01", "connect", ""),
            answer(
                "10:05:00",
                "ok",
                ",\"prompt_tokens\":10,\"tokens\":30,\"eval_ms\":1000,\"first_piece_ms\":100",
            ),
            answer("10:06:00", "ollama_unreachable", ""),
            answer("10:07:00", "busy", ""),
            line(
                "10:08:00",
                "disconnect",
                ",\"reason\":\"the hub closed the connection\"",
            ),
            line("10:10:00", "connect", ""),
            answer(
                "10:20:00",
                "ok",
                ",\"prompt_tokens\":20,\"tokens\":50,\"eval_ms\":500,\"first_piece_ms\":300",
            ),
            answer(
                "10:30:00",
                "shutdown",
                ",\"tokens\":5,\"eval_ms\":0,\"first_piece_ms\":200",
            ),
            line("11:00:00", "start", ",\"version\":\"0.1.0\""),
            line("11:00:01", "connect", ""),
            answer("11:30:00", "timeout", ""),
            line("12:00:00", "stop", ",\"reason\":\"SIGTERM received\""),
        ]
        .concat()
    }

    fn totals(text: &str, since: Option<Millis>, until: Millis) -> Stats {
        let mut totals = Totals::new(since, until);
        read(&mut Cursor::new(text.as_bytes()), &mut totals).unwrap();
        totals.finish(true)
    }

    fn errors(kinds: &[(&str, u64)]) -> BTreeMap<String, u64> {
        kinds.iter().map(|(k, n)| (k.to_string(), *n)).collect()
    }

    #[test]
    fn the_figures_of_a_whole_ledger() {
        let stats = totals(&ledger(), None, at("13:00:00"));
        // Connected 10:00:01-10:08:00, 10:10:00-10:30:00 (the crash: the
        // last line before the next start), 11:00:01-12:00:00: 5278 s of
        // the 3 h from the first line to `until`.
        assert_eq!(
            stats,
            Stats {
                since: Some(at("10:00:00")),
                until: at("13:00:00"),
                requests: 6,
                answered: 2,
                errors: errors(&[("ollama_unreachable", 1), ("shutdown", 1), ("timeout", 1)]),
                busy: 1,
                tokens: 85,
                prompt_tokens: 30,
                tokens_per_s_p50: Some(30.0),
                first_piece_ms_p50: Some(200),
                first_piece_ms_p95: Some(300),
                hub_connected_pct: Some(48.9),
                reconnects: 1,
                torn_lines: 0,
            }
        );
    }

    #[test]
    fn since_in_the_middle_counts_what_follows_and_clips_the_connection() {
        let stats = totals(&ledger(), Some(at("10:15:00")), at("13:00:00"));
        // Connected 10:15:00-10:30:00 and 11:00:01-12:00:00: 4499 s of
        // 9900 s. The reconnect at 10:10 is before the period.
        assert_eq!(
            stats,
            Stats {
                since: Some(at("10:15:00")),
                until: at("13:00:00"),
                requests: 3,
                answered: 1,
                errors: errors(&[("shutdown", 1), ("timeout", 1)]),
                busy: 0,
                tokens: 55,
                prompt_tokens: 20,
                tokens_per_s_p50: Some(100.0),
                first_piece_ms_p50: Some(200),
                first_piece_ms_p95: Some(300),
                hub_connected_pct: Some(45.4),
                reconnects: 0,
                torn_lines: 0,
            }
        );
        let later = totals(&ledger(), Some(at("12:30:00")), at("13:00:00"));
        assert_eq!((later.requests, later.hub_connected_pct), (0, Some(0.0)));
        assert_eq!(later.tokens_per_s_p50, None);
        assert_eq!(later.first_piece_ms_p50, None);
    }

    #[test]
    fn a_connection_open_at_the_end_lasts_until_now() {
        let text = [
            line("10:00:00", "start", ""),
            line("10:00:00", "connect", ""),
            line("10:30:00", "disconnect", ""),
            line("10:40:00", "connect", ""),
            line("10:50:00", "disconnect", ""),
            line("11:00:00", "connect", ""),
        ]
        .concat();
        // 30 + 10 + 60 minutes of 2 hours.
        let stats = totals(&text, None, at("12:00:00"));
        assert_eq!(stats.hub_connected_pct, Some(83.3));
        assert_eq!(stats.reconnects, 2);
        // A `until` before the end clips it.
        let stats = totals(&text, None, at("10:15:00"));
        assert_eq!(stats.hub_connected_pct, Some(100.0));
        // A period of no length has no share.
        let stats = totals(&text, Some(at("12:00:00")), at("12:00:00"));
        assert_eq!(stats.hub_connected_pct, None);
    }

    #[test]
    fn a_connection_left_open_by_a_crash_ends_at_the_last_line() {
        let text = [
            line("10:00:00", "start", ""),
            line("10:00:00", "connect", ""),
            answer("10:30:00", "ok", ""),
        ]
        .concat();
        let figures = |since, client_running| {
            let mut totals = Totals::new(since, at("12:00:00"));
            read(&mut Cursor::new(text.as_bytes()), &mut totals).unwrap();
            totals.finish(client_running).hub_connected_pct
        };
        // No client runs (a kill -9): connected 10:00-10:30 of 2 h.
        assert_eq!(figures(None, false), Some(25.0));
        // The client runs on: connected until now.
        assert_eq!(figures(None, true), Some(100.0));
        // --since after an old crash: nothing of the period.
        assert_eq!(figures(Some(at("11:00:00")), false), Some(0.0));
        assert_eq!(figures(Some(at("11:00:00")), true), Some(100.0));
        // No line at all: nothing to close.
        let empty = Totals::new(Some(at("11:00:00")), at("12:00:00")).finish(false);
        assert_eq!(empty.hub_connected_pct, Some(0.0));
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<u64> = (1..=20).collect();
        assert_eq!(percentile(&values, 50), Some(&10));
        assert_eq!(percentile(&values, 95), Some(&19));
        assert_eq!(percentile(&values[..1], 95), Some(&1));
        assert_eq!(percentile(&values[..2], 50), Some(&1));
        assert_eq!(percentile(&values[..3], 50), Some(&2));
        assert_eq!(percentile(&values[..0], 50), None);
        let text: String = (1..=100u64)
            .map(|ms| answer("10:00:00", "ok", &format!(",\"first_piece_ms\":{ms}")))
            .collect();
        let stats = totals(&text, None, at("11:00:00"));
        assert_eq!(stats.first_piece_ms_p50, Some(50));
        assert_eq!(stats.first_piece_ms_p95, Some(95));
        let rates = [(10, 1000), (1, 3), (20, 1000), (7, 0)]
            .map(|(tokens, ms)| {
                answer(
                    "10:00:00",
                    "ok",
                    &format!(",\"tokens\":{tokens},\"eval_ms\":{ms}"),
                )
            })
            .concat();
        // 10, 333.33..., 20 tokens/s (the answer with no eval time is left
        // out): the median is 20.
        let stats = totals(&rates, None, at("11:00:00"));
        assert_eq!(stats.tokens_per_s_p50, Some(20.0));
        assert_eq!(stats.tokens, 38);
        let one = answer("10:00:00", "ok", ",\"tokens\":1,\"eval_ms\":3");
        assert_eq!(totals(&one, None, 0).tokens_per_s_p50, Some(333.3));
    }

    #[test]
    fn torn_garbage_and_huge_lines_are_skipped_and_counted() {
        let huge = answer(
            "10:00:00",
            "ok",
            &format!(",\"pad\":\"{}\"", "x".repeat(MAX_LINE)),
        );
        let text = [
            line("10:00:00", "start", ""),
            "not json\n".into(),
            "{\"ts\":\"yesterday\",\"event\":\"connect\"}\n".into(),
            "{\"event\":\"connect\"}\n".into(),
            "{\"ts\":\"2026-11-30T10:00:00Z\"}\n".into(),
            "{\"ts\":\"2026-11-30T10:00:00Z\",\"event\":7}\n".into(),
            "[1,2]\n".into(),
            "\u{0}\u{ff}\n".into(),
            "\n  \r\n".into(),
            huge,
            // A line ending in \r\n is read too.
            answer("10:01:00", "ok", ",\"tokens\":4").replace('\n', "\r\n"),
            "{\"ts\":\"2026-11-30T10:02:00.000Z\",\"event\":\"ans".into(),
        ]
        .concat();
        // Read in small pieces, so that lines (and the huge one) straddle
        // the reader's buffer.
        for capacity in [1, 7, 4096, 1 << 20] {
            let mut totals = Totals::new(None, at("11:00:00"));
            let mut reader = BufReader::with_capacity(capacity, Cursor::new(text.as_bytes()));
            read(&mut reader, &mut totals).unwrap();
            let stats = totals.finish(true);
            assert_eq!(stats.torn_lines, 9, "{capacity}");
            assert_eq!((stats.requests, stats.tokens), (1, 4), "{capacity}");
            assert_eq!(stats.since, Some(at("10:00:00")));
        }
        // A line just within the limit is read.
        let mut fits = answer("10:00:00", "ok", ",\"pad\":\"\"");
        let pad = MAX_LINE + 1 - fits.len();
        fits = answer(
            "10:00:00",
            "ok",
            &format!(",\"pad\":\"{}\"", "x".repeat(pad)),
        );
        assert_eq!(fits.len(), MAX_LINE + 1);
        let stats = totals(&fits, None, at("11:00:00"));
        assert_eq!((stats.requests, stats.torn_lines), (1, 0));
        // So is the same line as the last, without its newline.
        let stats = totals(fits.trim_end(), None, at("11:00:00"));
        assert_eq!((stats.requests, stats.torn_lines), (1, 0));
        // A long line of a real ledger (a long disconnect reason, say) is
        // far within the limit.
        let long = answer(
            "10:00:00",
            "ok",
            &format!(",\"pad\":\"{}\"", "x".repeat(10_000)),
        );
        let stats = totals(&long, None, at("11:00:00"));
        assert_eq!((stats.requests, stats.torn_lines), (1, 0));
        // A whole last line without its newline is still a line.
        let last = line("10:00:00", "connect", "");
        assert_eq!(totals(last.trim_end(), None, 0).torn_lines, 0);
    }

    #[test]
    fn odd_values_do_not_stop_the_count() {
        let text = [
            line(
                "10:00:00",
                "answer",
                ",\"outcome\":\"ok\",\"tokens\":-1,\"eval_ms\":\"x\"",
            ),
            line("10:00:00", "answer", ",\"outcome\":\"error\""),
            line("10:00:00", "answer", ""),
            line(
                "10:00:00",
                "answer",
                ",\"outcome\":\"error\",\"error\":\"\\u001b[2Jx\"",
            ),
            line(
                "10:00:00",
                "answer",
                &format!(",\"outcome\":\"error\",\"error\":\"{}\"", "k".repeat(500)),
            ),
            line(
                "10:00:00",
                "answer",
                ",\"outcome\":\"ok\",\"tokens\":18446744073709551615",
            ),
            line("10:00:00", "answer", ",\"outcome\":\"ok\",\"tokens\":5"),
            line("10:00:00", "upgrade", ""),
        ]
        .concat();
        let stats = totals(&text, None, at("11:00:00"));
        assert_eq!(stats.requests, 7);
        assert_eq!(stats.answered, 3);
        // Past 2^64-1, counted and shown exactly.
        assert_eq!(stats.tokens, u128::from(u64::MAX) + 5);
        assert!(
            json(&stats).contains(r#""tokens":18446744073709551620,"#),
            "{}",
            json(&stats)
        );
        let shown = table(&stats, Lang::En);
        assert!(shown.contains("18446744073709551620 generated"), "{shown}");
        assert_eq!(stats.tokens_per_s_p50, None);
        let long = "k".repeat(MAX_KIND);
        assert_eq!(
            stats.errors,
            errors(&[("error", 1), ("unknown", 1), ("\u{1b}[2Jx", 1), (&long, 1)])
        );
        let shown = table(&stats, Lang::En);
        assert!(!shown.contains('\u{1b}'), "{shown}");
        assert!(shown.contains("\\u{1b}[2Jx 1"), "{shown}");
    }

    #[test]
    fn a_member_serde_json_cannot_hold_leaves_the_rest_of_the_line() {
        let text = [
            answer("10:00:00", "ok", ",\"tokens\":1e400,\"prompt_tokens\":3"),
            line(
                "10:00:00",
                "answer",
                ",\"message_id\":\"\\udc00\",\"outcome\":\"error\",\"error\":\"\\ud800\"",
            ),
            // A member given twice: the last one counts.
            answer("10:00:00", "ok", ",\"tokens\":5,\"tokens\":6"),
        ]
        .concat();
        let stats = totals(&text, None, at("11:00:00"));
        assert_eq!(
            (stats.requests, stats.answered, stats.torn_lines),
            (3, 2, 0)
        );
        assert_eq!((stats.tokens, stats.prompt_tokens), (6, 3));
        assert_eq!(stats.errors, errors(&[("error", 1)]));
    }

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn rotated_files_are_read_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join("ledger.jsonl");
        write(dir.path(), "ledger.jsonl.3", &line("08:00:00", "start", ""));
        write(
            dir.path(),
            "ledger.jsonl.2",
            &[
                line("09:00:00", "start", ""),
                line("09:00:00", "connect", ""),
            ]
            .concat(),
        );
        write(
            dir.path(),
            "ledger.jsonl.1",
            &[
                answer("09:30:00", "ok", ""),
                line("10:00:00", "disconnect", ""),
            ]
            .concat(),
        );
        write(
            dir.path(),
            "ledger.jsonl",
            &[
                line("10:30:00", "connect", ""),
                line("11:00:00", "stop", ""),
            ]
            .concat(),
        );
        let (stats, warnings) = gather(&ledger, 2, None, at("11:00:00"), true);
        assert!(warnings.is_empty(), "{warnings:?}");
        // From .2 (.3 is beyond ledger_files_kept): connected 09:00-10:00
        // and 10:30-11:00 of 2 h, one reconnect.
        assert_eq!(stats.since, Some(at("09:00:00")));
        assert_eq!(stats.hub_connected_pct, Some(75.0));
        assert_eq!((stats.requests, stats.reconnects), (1, 1));
        let (stats, _) = gather(&ledger, 4, None, at("11:00:00"), true);
        assert_eq!(stats.since, Some(at("08:00:00")));
        let (stats, _) = gather(&ledger, 0, None, at("11:00:00"), true);
        assert_eq!(stats.since, Some(at("10:30:00")));
    }

    #[test]
    fn a_file_with_torn_lines_gets_one_warning() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join("ledger.jsonl");
        write(dir.path(), "ledger.jsonl.1", "garbage\n\n");
        let text = [
            answer("10:00:00", "ok", ""),
            "x\n".into(),
            "{\"ts\":".into(),
        ]
        .concat();
        write(dir.path(), "ledger.jsonl", &text);
        let (stats, warnings) = gather(&ledger, 3, None, at("11:00:00"), true);
        assert_eq!((stats.requests, stats.torn_lines), (1, 3));
        let shown: Vec<String> = warnings.iter().map(Text::english).collect();
        assert_eq!(
            shown,
            [
                format!(
                    "warning: skipped 1 unreadable line in {}.1",
                    ledger.display()
                ),
                format!(
                    "warning: skipped 2 unreadable lines in {}",
                    ledger.display()
                ),
            ]
        );
        assert_eq!(
            warnings[1].in_lang(Lang::Ru),
            format!(
                "предупреждение: в {} пропущены 2 нечитаемые строки",
                ledger.display()
            )
        );
    }

    #[test]
    fn a_fifo_or_a_link_loop_in_the_ledgers_place_neither_hangs_nor_hides() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join("ledger.jsonl");
        let fifo = std::ffi::CString::new(ledger.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid path; mkfifo only creates the node.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let looped = dir.path().join("ledger.jsonl.1");
        std::os::unix::fs::symlink(&looped, &looped).unwrap();
        let (stats, warnings) = gather(&ledger, 1, None, at("11:00:00"), true);
        assert_eq!(stats.requests, 0);
        let shown: Vec<String> = warnings.iter().map(Text::english).collect();
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert_eq!(
            shown[0],
            format!(
                "warning: cannot read {}: it is a named pipe (FIFO), not a regular file: \
                 move it aside",
                ledger.display()
            )
        );
        assert!(
            shown[1].starts_with(&format!("warning: cannot read {}", looped.display())),
            "{shown:?}"
        );
        assert!(
            warnings[0]
                .in_lang(Lang::Ru)
                .contains("именованный канал (FIFO)"),
            "{:?}",
            warnings[0].in_lang(Lang::Ru)
        );
    }

    /// A reader whose first read is interrupted by a signal.
    struct Interrupted<R>(bool, R);

    impl<R: Read> Read for Interrupted<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if !self.0 {
                self.0 = true;
                return Err(io::ErrorKind::Interrupted.into());
            }
            self.1.read(buf)
        }
    }

    #[test]
    fn a_read_interrupted_by_a_signal_is_tried_again() {
        let text = answer("10:00:00", "ok", ",\"tokens\":5");
        let mut reader = BufReader::new(Interrupted(false, Cursor::new(text.into_bytes())));
        let mut totals = Totals::new(None, at("11:00:00"));
        read(&mut reader, &mut totals).unwrap();
        assert_eq!(totals.finish(true).tokens, 5);
    }

    #[test]
    fn a_missing_or_empty_ledger_has_no_figures() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join("ledger.jsonl");
        let until = at("11:00:00");
        let (stats, warnings) = gather(&ledger, 4, None, until, true);
        assert!(warnings.is_empty());
        let empty = Totals::new(None, until).finish(true);
        assert_eq!(stats, empty);
        assert_eq!((stats.since, stats.hub_connected_pct), (None, None));
        write(dir.path(), "ledger.jsonl", "");
        assert_eq!(gather(&ledger, 4, None, until, true).0, empty);
        let (stats, _) = gather(&ledger, 4, Some(at("10:00:00")), until, true);
        assert_eq!(stats.hub_connected_pct, Some(0.0));
        assert_eq!(stats.since, Some(at("10:00:00")));
        // A directory in the ledger's place is a warning, not a panic.
        let (stats, warnings) = gather(dir.path(), 0, None, until, true);
        assert_eq!(stats, empty);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].english().starts_with("warning: cannot read "));
    }

    #[test]
    fn json_has_exactly_the_keys() {
        let stats = totals(&ledger(), Some(at("10:15:00")), at("13:00:00"));
        let shown: Value = serde_json::from_str(&json(&stats)).unwrap();
        assert_eq!(
            shown,
            json!({
                "since": "2026-11-30T10:15:00.000Z",
                "until": "2026-11-30T13:00:00.000Z",
                "requests": 3,
                "answered": 1,
                "errors": {"shutdown": 1, "timeout": 1},
                "busy": 0,
                "tokens": 55,
                "prompt_tokens": 20,
                "tokens_per_s_p50": 100.0,
                "first_piece_ms_p50": 200,
                "first_piece_ms_p95": 300,
                "hub_connected_pct": 45.4,
                "reconnects": 0,
                "torn_lines": 0,
            })
        );
        let empty: Value = serde_json::from_str(&json(&Totals::new(None, 0).finish(true))).unwrap();
        assert_eq!(empty["since"], Value::Null);
        assert_eq!(empty["tokens_per_s_p50"], Value::Null);
        assert_eq!(empty["errors"], json!({}));
    }

    #[test]
    fn the_table_in_both_languages() {
        let stats = totals(&ledger(), None, at("13:00:00"));
        assert_eq!(
            table(&stats, Lang::En),
            "Period          2026-11-30T10:00:00.000Z to 2026-11-30T13:00:00.000Z\n\
             Requests        6 requests, 2 answered\n\
             Errors          3 (ollama_unreachable 1, shutdown 1, timeout 1)\n\
             Busy answers    1 answer\n\
             Tokens          85 generated, 30 read\n\
             Tokens/s        30.0 (median)\n\
             First piece     after 200 ms (median), 300 ms (p95)\n\
             Hub connected   48.9% of the time\n\
             Reconnects      1\n"
        );
        assert_eq!(
            table(&stats, Lang::Ru),
            "Период            с 2026-11-30T10:00:00.000Z по 2026-11-30T13:00:00.000Z\n\
             Запросы           6 запросов, с ответом: 2\n\
             Ошибки            3 (ollama_unreachable 1, shutdown 1, timeout 1)\n\
             Ответы «занято»   1 ответ\n\
             Токены            сгенерировано 85, прочитано 30\n\
             Токенов/с         30.0 (медиана)\n\
             Первая часть      через 200 мс (медиана), 300 мс (p95)\n\
             Связь с хабом     48.9% времени\n\
             Переподключения   1\n"
        );
        let empty = table(&Totals::new(None, at("13:00:00")).finish(true), Lang::En);
        assert_eq!(
            empty,
            "Period          nothing recorded up to 2026-11-30T13:00:00.000Z\n\
             Requests        0 requests, 0 answered\n\
             Errors          none\n\
             Busy answers    none\n\
             Tokens          0 generated, 0 read\n\
             Tokens/s        no data\n\
             First piece     no data\n\
             Hub connected   no data\n\
             Reconnects      0\n"
        );
    }
}
