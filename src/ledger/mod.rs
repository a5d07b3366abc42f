//! The ledger: `ledger.jsonl` beside the config file, one JSON object per
//! line for every answered request, for the connection's life (`start`,
//! `connect`, `disconnect`, `stop`) and for the owner's `pause` and
//! `resume`, so that what the box served, and when
//! it was online, can be computed from it alone (`--stats`, in [`stats`]).
//!
//! Data flow: `relay` ends every answer with an [`AnswerRecord`] and the
//! connection loop reports [`HubEvent`]s; both reach [`Ledger`] through
//! `accounting::Accounts`, which turns each into one line (an [`Event`],
//! serialized by serde: `ts` and `event` first) and writes it
//! with a single `write` on a file opened with `O_APPEND` (mode 0600, never
//! through a symbolic link, rotated by size like the log): a crash or a
//! power cut leaves at most one torn last line, which `--stats` skips and
//! counts. One write per request, never per piece. Never any prompt or
//! answer text, never the token. An answer's `message_id` is the hub's own
//! JSON text, byte for byte (see [`AnswerRecord::message_id`]).

pub mod stats;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::accounting::{Accounts, AnswerRecord, HubEvent};
use crate::logging::{made_private, RotatingFile};
use crate::time;

/// `ledger.jsonl`, beside the config file (`gpu1.ledger.jsonl` beside
/// `gpu1.json`).
pub fn path_for(config_path: &Path) -> PathBuf {
    crate::config::beside(config_path, "ledger.jsonl")
}

/// The ledger being written.
pub struct Ledger {
    file: Mutex<Open>,
}

/// The file, and whether the hub is connected (for the `stop` line).
struct Open {
    file: RotatingFile,
    connected: bool,
    /// After the `stop` line nothing more is written: the process is ending.
    stopped: bool,
}

/// One line: its time stamp, then its event and the event's members.
#[derive(Serialize)]
struct Line<'a> {
    ts: String,
    #[serde(flatten)]
    event: Event<'a>,
}

/// The kinds of line, each written as `"event":"<name>"` followed by its
/// members in the order given here: alphabetical, the order the ledger has
/// always had (its lines were once built as `serde_json::Value`s, whose
/// maps are sorted).
#[derive(Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
enum Event<'a> {
    Start {
        model: &'a str,
        settings: Box<RawValue>,
        version: &'static str,
        warm_up_ms: Option<u64>,
    },
    Connect,
    Disconnect {
        reason: &'a str,
    },
    /// The box stepped back for one of the owner's rules (not a pause,
    /// which has its own line): `outside_hours`, `gpu_hot`, `gpu_in_use`.
    Away {
        detail: &'a str,
        reason: &'a str,
    },
    /// It returned after such a step back, and why.
    Back {
        reason: &'a str,
    },
    Pause {
        until: Option<String>,
    },
    Resume {
        reason: &'a str,
    },
    Stop {
        reason: &'a str,
    },
    Answer(&'a AnswerRecord),
}

impl Ledger {
    /// Opens (creating it, mode 0600) the ledger at `path`, or says why not
    /// (the caller logs it and runs on without a ledger). An existing
    /// ledger that others could read is made private, and the log says so.
    pub fn open(path: &Path, max_bytes: u64, files_kept: usize) -> Result<Ledger, String> {
        let file = RotatingFile::open(path, "the ledger", max_bytes, files_kept)?;
        if let Some(mode) = file.mode_fixed() {
            log::warn!("{}", made_private("the ledger", path, mode));
        }
        Ok(Ledger {
            file: Mutex::new(Open {
                file,
                connected: false,
                stopped: false,
            }),
        })
    }

    /// The `start` line: the version, the model, the settings that matter
    /// for reading the rest, and how long the warm-up took to load the
    /// model (`null` without one).
    pub fn started(&self, model: &str, settings: Map<String, Value>, warm_up_ms: Option<u64>) {
        // Written by `Value`'s own `Display`, which the binary has anyway:
        // a `Map` member would add another copy of `Value`'s serializer
        // (half a kilobyte).
        let settings = RawValue::from_string(Value::Object(settings).to_string());
        let line = Event::Start {
            model,
            settings: settings.unwrap_or_default(),
            version: env!("CARGO_PKG_VERSION"),
            warm_up_ms,
        };
        write(&mut self.lock(), line);
    }

    /// The owner paused the box, until this moment (`None`: `--resume`).
    pub fn paused(&self, until: Option<time::Millis>) {
        let until = until.map(time::format);
        write(&mut self.lock(), Event::Pause { until });
    }

    /// The box stepped back for an owner's rule other than a pause:
    /// `reason` is its kind (`outside_hours`, `gpu_hot`, `gpu_in_use`),
    /// `detail` says it in words.
    pub fn away(&self, reason: &str, detail: &str) {
        write(&mut self.lock(), Event::Away { detail, reason });
    }

    /// The box returned after such a step back (`reason`: what changed).
    pub fn back(&self, reason: &str) {
        write(&mut self.lock(), Event::Back { reason });
    }

    /// The pause ended: `--resume`, or its time was up.
    pub fn resumed(&self, reason: &str) {
        write(&mut self.lock(), Event::Resume { reason });
    }

    /// The `stop` line, with why (`SIGTERM received`, `end of test
    /// mode`), after a `disconnect` if the hub was still connected: the
    /// connection ends with the process, whichever thread gets there first,
    /// so the ledger says so in one order, always.
    pub fn stopped(&self, reason: &str) {
        let mut open = self.lock();
        if open.connected {
            let reason = "client stopping";
            write(&mut open, Event::Disconnect { reason });
        }
        write(&mut open, Event::Stop { reason });
        open.stopped = true;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.file.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Writes one line, its time stamp taken here, under the lock, so that
/// the stamps follow the file's order (nothing after the `stop` line).
fn write(open: &mut Open, event: Event) {
    if open.stopped {
        return;
    }
    let ts = time::format(time::now());
    // Strings, numbers and the hub's own JSON: serializing cannot fail.
    let mut line = serde_json::to_vec(&Line { ts, event }).unwrap_or_default();
    line.push(b'\n');
    if let Err(e) = open.file.write_line(&line) {
        log::warn!("cannot write the ledger: {e}");
    }
}

impl Accounts for Ledger {
    fn answered(&self, record: &AnswerRecord) {
        write(&mut self.lock(), Event::Answer(record));
    }

    /// Also what [`Ledger::stopped`] needs to know: whether the hub is
    /// connected.
    fn hub(&self, event: &HubEvent) {
        let mut open = self.lock();
        open.connected = *event == HubEvent::Connected;
        let line = match event {
            HubEvent::Connected => Event::Connect,
            HubEvent::Disconnected(reason) => Event::Disconnect { reason },
        };
        write(&mut open, line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounting::Outcome;
    use serde_json::json;

    fn record() -> AnswerRecord {
        AnswerRecord {
            api: None,
            tokens_source: None,
            message_id: "42".into(),
            stream: true,
            model: "llama3.2".into(),
            outcome: Outcome::Ok,
            error: None,
            prompt_chars: 5,
            answer_chars: 12,
            pieces: 3,
            prompt_tokens: Some(26),
            tokens: Some(3),
            eval_ms: Some(60.5),
            first_piece_ms: Some(120),
            total_ms: 300,
            load_ms: Some(7),
            backend: Some("gpu1:11434".into()),
            failed_over: true,
        }
    }

    fn lines(path: &Path) -> Vec<Value> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    #[cfg(unix)]
    #[test]
    fn every_event_is_one_line_with_a_time_stamp_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.jsonl");
        let ledger = Ledger::open(&path, 1 << 20, 2).unwrap();
        ledger.started("llama3.2", Map::new(), Some(1234));
        ledger.hub(&HubEvent::Connected);
        ledger.answered(&record());
        let failed = AnswerRecord {
            message_id: "\"a-1\"".into(),
            outcome: Outcome::Error,
            error: Some("ollama_unreachable"),
            prompt_tokens: None,
            tokens: None,
            eval_ms: None,
            first_piece_ms: None,
            load_ms: None,
            backend: None,
            failed_over: false,
            pieces: 0,
            answer_chars: 0,
            ..record()
        };
        ledger.answered(&failed);
        ledger.hub(&HubEvent::Disconnected(
            "the hub closed the connection".into(),
        ));
        ledger.stopped("SIGTERM received");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.lines()
                .all(|l| l.starts_with("{\"ts\":\"") && l.contains("Z\",\"event\":\"")),
            "{text}"
        );
        // The bytes between the time stamp and the closing brace, members
        // in the ledger's order.
        let rest: Vec<&str> = text
            .lines()
            .map(|l| &l[l.find("Z\",").unwrap() + 3..l.len() - 1])
            .collect();
        assert_eq!(
            rest[0],
            format!(
                "\"event\":\"start\",\"model\":\"llama3.2\",\"settings\":{{}},\
                 \"version\":\"{}\",\"warm_up_ms\":1234",
                env!("CARGO_PKG_VERSION")
            )
        );
        assert_eq!(
            rest[2],
            "\"event\":\"answer\",\"message_id\":42,\"answer_chars\":12,\
             \"backend\":\"gpu1:11434\",\"eval_ms\":60.5,\"failed_over\":true,\
             \"first_piece_ms\":120,\"load_ms\":7,\"model\":\"llama3.2\",\"outcome\":\"ok\",\
             \"pieces\":3,\"prompt_chars\":5,\"prompt_tokens\":26,\"stream\":true,\
             \"tokens\":3,\"total_ms\":300"
        );
        assert_eq!(
            rest[3],
            "\"event\":\"answer\",\"message_id\":\"a-1\",\"answer_chars\":0,\"backend\":null,\
             \"error\":\"ollama_unreachable\",\"failed_over\":false,\"model\":\"llama3.2\",\
             \"outcome\":\"error\",\"pieces\":0,\"prompt_chars\":5,\"stream\":true,\
             \"total_ms\":300"
        );
        let lines = lines(&path);
        let events: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
        assert_eq!(
            events,
            ["start", "connect", "answer", "answer", "disconnect", "stop"]
        );
        assert_eq!(lines[0]["version"], env!("CARGO_PKG_VERSION"));
        let mut ok = lines[2].clone();
        ok.as_object_mut().unwrap().remove("ts");
        assert_eq!(
            ok,
            json!({"event": "answer", "message_id": 42, "stream": true, "model": "llama3.2",
                   "outcome": "ok", "prompt_chars": 5, "answer_chars": 12, "pieces": 3,
                   "prompt_tokens": 26, "tokens": 3, "eval_ms": 60.5, "first_piece_ms": 120,
                   "total_ms": 300, "load_ms": 7, "backend": "gpu1:11434",
                   "failed_over": true})
        );
        let mut error = lines[3].clone();
        error.as_object_mut().unwrap().remove("ts");
        assert_eq!(
            error,
            json!({"event": "answer", "message_id": "a-1", "stream": true, "model": "llama3.2",
                   "outcome": "error", "error": "ollama_unreachable", "prompt_chars": 5,
                   "answer_chars": 0, "pieces": 0, "total_ms": 300, "backend": null,
                   "failed_over": false})
        );
        assert_eq!(lines[4]["reason"], "the hub closed the connection");
        let ts = time::parse(lines[0]["ts"].as_str().unwrap()).unwrap();
        assert!((time::now() - ts).abs() < 60_000);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_stop_while_connected_ends_the_connection_first_and_nothing_follows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.jsonl");
        let ledger = Ledger::open(&path, 1 << 20, 2).unwrap();
        ledger.hub(&HubEvent::Connected);
        ledger.stopped("SIGTERM received");
        ledger.hub(&HubEvent::Disconnected("late".into()));
        ledger.answered(&record());
        let events: Vec<Value> = lines(&path)
            .into_iter()
            .map(|mut l| {
                l.as_object_mut().unwrap().remove("ts");
                l
            })
            .collect();
        assert_eq!(
            events,
            [
                json!({"event": "connect"}),
                json!({"event": "disconnect", "reason": "client stopping"}),
                json!({"event": "stop", "reason": "SIGTERM received"}),
            ]
        );
        // Not connected: the stop alone.
        let other = dir.path().join("other.jsonl");
        let ledger = Ledger::open(&other, 1 << 20, 2).unwrap();
        ledger.stopped("end of test mode");
        assert_eq!(lines(&other).len(), 1);
    }

    #[test]
    fn the_message_id_is_written_as_the_hub_sent_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.jsonl");
        let ledger = Ledger::open(&path, 1 << 20, 2).unwrap();
        let ids = [
            "123456789012345678901234567890",
            "18446744073709551616",
            "4.20",
            "-0",
            "1e3",
            r#""\ud800""#,
            r#""a\u0041""#,
        ];
        for id in ids {
            ledger.answered(&AnswerRecord {
                message_id: id.into(),
                ..record()
            });
        }
        // Not one JSON value: kept as a string rather than breaking the line.
        ledger.answered(&AnswerRecord {
            message_id: "7 8".into(),
            ..record()
        });
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (line, id) in lines.iter().zip(ids.iter().chain([&r#""7 8""#])) {
            let expected = format!("\"event\":\"answer\",\"message_id\":{id},\"answer_chars\":");
            assert!(line.contains(&expected), "{expected}\n{line}");
        }
        // --stats reads every one of them as an answer.
        let mut totals = stats::Totals::new(None, time::now());
        stats::read(&mut std::io::Cursor::new(text.as_bytes()), &mut totals).unwrap();
        let figures = totals.finish(false);
        assert_eq!((figures.requests, figures.torn_lines), (8, 0));
    }

    #[test]
    fn the_ledger_rotates_by_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.jsonl");
        let ledger = Ledger::open(&path, 1024, 2).unwrap();
        for _ in 0..30 {
            ledger.answered(&record());
        }
        let rotated = dir.path().join("ledger.jsonl.1");
        assert!(rotated.exists());
        assert!(std::fs::metadata(&path).unwrap().len() <= 1024 + 400);
        for file in [&path, &rotated] {
            assert!(lines(file).iter().all(|l| l["event"] == "answer"));
        }
    }

    #[test]
    fn the_ledger_lives_beside_the_config_file() {
        assert_eq!(
            path_for(Path::new("/home/o/.config/ollama_proxy/config.json")),
            Path::new("/home/o/.config/ollama_proxy/ledger.jsonl")
        );
    }
}
