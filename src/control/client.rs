//! The owner's commands `--status [--json]`, `--pause [DURATION]` and
//! `--resume`: ask the client running on this config through its control
//! socket, and print the answer in the owner's language.
//!
//! They need no token and start nothing. The lock on `control.lock` says
//! whether a client runs: while it is held they never say "no client"
//! (exit 69). A socket that is not there yet (the client is starting: it
//! binds the socket moments after taking the lock) or any more (it is
//! stopping) is asked again for up to [`STARTING`]; an answer is waited
//! for as long as the lock stays held, up to [`ANSWER_WAIT`] (a busy
//! client). A client that ends before it answers lets go of the lock: the
//! command then goes on as with no client. When no client runs, `--status`
//! exits 69, and `--pause` and `--resume` change the saved pause
//! (`paused.json`) for the next start instead, holding the lock while they
//! do so that a client cannot start in between and miss it: a crontab line
//! that meets a restart still counts. A client that holds the lock and
//! does not answer in time is exit 75 (try again).
//!
//! `--status` adds today's figures (since local midnight) from the ledger
//! itself (`ledger::stats`), so that the running client never reads files
//! for a caller. Times are shown in local time.

use std::io::{ErrorKind, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::protocol::{
    BackendAnswer, HealthPhase, HealthState, HubPhase, PauseAnswer, Request, ResumeAnswer,
    StatusAnswer,
};
use super::socket::{open_lock, read_line, NoLine};
use super::{lock_is_held, lock_path, socket_path};
use crate::console::{label_table, print, say, warn};
use crate::exit::{self, Fatal};
use crate::ledger;
use crate::pause::{self, Pause};
use crate::platform::control::{self as channel, Stream};
use crate::platform::files;
use crate::text::{control as text, owner_language, Lang, Text};
use crate::time::{self, clock, local_midnight, Millis};

/// How long a client holding the lock without a socket (starting, or
/// stopping) is waited for.
const STARTING: Duration = Duration::from_secs(3);

/// How long the running client may take to answer, while it holds the
/// lock.
const ANSWER_WAIT: Duration = Duration::from_secs(30);

/// How often the lock is looked at while waiting.
const LOOK_EVERY: Duration = Duration::from_millis(50);

/// The largest answer read (a status answer is under 1 KiB, and a few
/// hundred bytes more per backend).
const MAX_ANSWER: usize = 64 * 1024;

/// Runs `--status`, `--pause` or `--resume` for the config at
/// `config_path`. `files_kept` is the config's `ledger_files_kept`, for
/// today's figures.
pub fn run(
    request: Request,
    json: bool,
    config_path: &Path,
    files_kept: usize,
) -> Result<ExitCode, Fatal> {
    let (socket, lock) = (socket_path(config_path)?, lock_path(config_path));
    let mut rounds = 0;
    let answer = loop {
        if let Some(answer) = ask(&socket, &lock, request, ANSWER_WAIT)? {
            break answer;
        }
        if let Some(done) = offline(request, config_path)? {
            return Ok(done);
        }
        // Someone took the lock just now (a client starting, another
        // command changing the file): ask again, a few times.
        rounds += 1;
        if rounds >= 5 {
            return Err(held(text::not_answering(socket.display())));
        }
    };
    let lang = owner_language();
    match request {
        Request::Status => {
            let answer: StatusAnswer = typed(answer)?;
            let today = today(config_path, files_kept);
            print(&match json {
                true => status_json(&answer, &today) + "\n",
                false => status_table(&answer, &today, lang, time::now()),
            });
            Ok(ExitCode::from(match answer.serving {
                true => 0,
                false => exit::NOT_SERVING,
            }))
        }
        Request::Pause(_) => {
            let answer: PauseAnswer = typed(answer)?;
            let until = answer.paused_until.as_deref().and_then(time::parse);
            say(text::paused_until(pause::end_shown(until, time::now())));
            warn_unsaved(answer.saved, answer.save_error, text::pause_not_saved);
            Ok(ExitCode::SUCCESS)
        }
        Request::Resume => {
            let answer: ResumeAnswer = typed(answer)?;
            say(match answer.resumed {
                true => text::resumed(),
                false => text::not_paused(),
            });
            warn_unsaved(answer.saved, answer.save_error, text::resume_not_saved);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The answer as the request's type, or the running client's refusal in
/// the owner's words; one that does not fit is garbled, as an answer that
/// is no JSON object is.
fn typed<T: DeserializeOwned>(answer: Value) -> Result<T, Fatal> {
    if answer["ok"] != true {
        let message = match answer["code"].as_str() {
            Some("not_owner") => text::not_owner(),
            _ => text::refused(answer["error"].as_str().unwrap_or_default()),
        };
        return Err(Fatal::new(exit::NOT_SERVING, message));
    }
    serde_json::from_value(answer).map_err(|_| held(text::bad_answer()))
}

/// Says on stderr that the running client could not save its state.
fn warn_unsaved(saved: bool, why: Option<String>, message: fn(String) -> Text) {
    if !saved {
        warn(&message(why.unwrap_or_default()));
    }
}

/// A client runs (it holds the lock) but cannot be reached now: try
/// again (EX_TEMPFAIL), never "no client".
fn held(message: Text) -> Fatal {
    Fatal::already_running(message)
}

/// The running client's answer; `None` when no client runs on this
/// config (no socket, or a socket nobody listens on, and the lock free),
/// or when it ended before answering.
fn ask(
    socket: &Path,
    lock: &Path,
    request: Request,
    answer_wait: Duration,
) -> Result<Option<Value>, Fatal> {
    let started = Instant::now();
    let stream = loop {
        match channel::connect(socket) {
            Ok(stream) => break stream,
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused) => {
                if !lock_is_held(lock) {
                    return Ok(None);
                }
                if started.elapsed() >= STARTING {
                    return Err(held(text::not_answering(socket.display())));
                }
                std::thread::sleep(LOOK_EVERY);
            }
            Err(e) => {
                let status = match lock_is_held(lock) {
                    true => exit::ALREADY_RUNNING,
                    false => exit::UNAVAILABLE,
                };
                return Err(Fatal::new(status, text::cannot_reach(socket.display(), e)));
            }
        }
    };
    match exchange(stream, request, lock, answer_wait) {
        Ok(Some(answer)) => Ok(Some(answer)),
        Err(NoLine::Late) => Err(held(text::no_answer_in_time(
            socket.display(),
            answer_wait.as_secs(),
        ))),
        // Ended before answering: its lock goes with it, and then the
        // request is for the next start.
        _ if released(lock) => Ok(None),
        Err(NoLine::Io(e)) => Err(held(text::cannot_reach(socket.display(), e))),
        // No JSON object, too long, or nothing before the end.
        _ => Err(held(text::bad_answer())),
    }
}

/// Waits, a little, for the lock's holder to end; true once it has.
fn released(lock: &Path) -> bool {
    let started = Instant::now();
    loop {
        if !lock_is_held(lock) {
            return true;
        }
        if started.elapsed() >= STARTING {
            return false;
        }
        std::thread::sleep(LOOK_EVERY);
    }
}

/// Sends the request line; reads the answer line (bounded in size), for
/// as long as the client holds `lock`, up to `answer_wait`. `None`: an
/// answer that is no JSON object.
fn exchange(
    mut stream: Stream,
    request: Request,
    lock: &Path,
    answer_wait: Duration,
) -> Result<Option<Value>, NoLine> {
    let until = Instant::now() + answer_wait;
    stream
        .set_write_timeout(Some(answer_wait))
        .and_then(|()| stream.write_all((request.line() + "\n").as_bytes()))
        .map_err(NoLine::Io)?;
    // A client that let go of its lock ended without answering.
    let still_held = || lock_is_held(lock).then_some(()).ok_or(NoLine::Ended);
    let line = read_line(&mut stream, MAX_ANSWER, until, LOOK_EVERY, still_held)?;
    Ok(serde_json::from_slice(&line).ok().filter(Value::is_object))
}

/// No client runs: `--status` says so (exit 69); `--pause` and `--resume`
/// change the saved pause for the next start, under the lock. `None` when
/// a client took the lock just now: it is starting, and will answer.
fn offline(request: Request, config_path: &Path) -> Result<Option<ExitCode>, Fatal> {
    let dir = config_path.parent().filter(|d| d.is_dir());
    if request == Request::Status || dir.is_none() {
        let no_client = text::no_client(config_path.display());
        return Err(Fatal::new(exit::UNAVAILABLE, no_client));
    }
    let lock = open_lock(&lock_path(config_path));
    let cannot_save = |e: String| Fatal::config(text::offline_cannot_save(e));
    let lock = lock.map_err(|e| cannot_save(e.to_string()))?;
    if !files::try_lock_exclusive(&lock).unwrap_or(false) {
        return Ok(None);
    }
    let path = pause::path_for(config_path);
    let now = time::now();
    let said = match request {
        Request::Pause(span) => {
            let pause = Pause::starting_now(span);
            pause::save(&path, Some(pause)).map_err(cannot_save)?;
            text::offline_paused_until(pause::end_shown(pause.until_millis(), now))
        }
        _ => {
            let was = pause::load(&path).ok().flatten();
            pause::save(&path, None).map_err(cannot_save)?;
            match was {
                Some(_) => text::offline_resumed(),
                None => text::offline_not_paused(),
            }
        }
    };
    drop(lock);
    say(said);
    Ok(Some(ExitCode::SUCCESS))
}

/// Today's figures (since local midnight), from the ledger, as
/// `--status --json` shows them.
#[derive(Serialize)]
struct Today {
    /// Local midnight, in RFC 3339.
    since: String,
    answered: u64,
    errors: u64,
    tokens: u64,
}

fn today(config_path: &Path, files_kept: usize) -> Today {
    let now = time::now();
    let since = local_midnight(now);
    let ledger_path = ledger::path_for(config_path);
    // The client answered: it runs.
    let (stats, warnings) = ledger::stats::gather(&ledger_path, files_kept, Some(since), now, true);
    warnings.iter().for_each(warn);
    Today {
        since: time::format(since),
        answered: stats.answered,
        errors: stats.errors.values().sum(),
        // Beyond 2^64-1 only in a tampered ledger; JSON here takes a u64.
        tokens: u64::try_from(stats.tokens).unwrap_or(u64::MAX),
    }
}

/// `--status --json`: the running client's answer (its fields, without
/// `ok`), with today's figures.
fn status_json(answer: &StatusAnswer, today: &Today) -> String {
    // Plain structs serialize, as objects.
    let mut shown = serde_json::to_value(answer).unwrap_or_default();
    shown["today"] = serde_json::to_value(today).unwrap_or_default();
    shown.to_string()
}

/// `--status`: the owner's table in `lang`, a label and a value a line.
fn status_table(answer: &StatusAnswer, today: &Today, lang: Lang, now: Millis) -> String {
    let parsed = |stamp: &Option<String>| stamp.as_deref().and_then(time::parse);
    let hub = &answer.hub;
    let hub = match hub.state {
        HubPhase::Connected => {
            let since = parsed(&hub.since).map(|since| clock(since, now));
            text::status_hub_connected(since.unwrap_or_default())
        }
        HubPhase::Reconnecting => {
            let retry = parsed(&hub.retry_at).unwrap_or(now);
            text::status_hub_reconnecting(((retry - now).max(0) + 999) / 1000)
        }
        HubPhase::Paused => text::status_hub_paused(),
        HubPhase::Away => match answer
            .away
            .as_ref()
            .and_then(|away| away["reason"].as_str())
        {
            Some("outside_hours") => text::status_hub_outside_hours(),
            _ => text::status_hub_gpu_guard(),
        },
        HubPhase::WaitingForOllama => text::status_hub_waiting(),
        HubPhase::Connecting | HubPhase::Unknown => text::status_hub_connecting(),
    };
    let model = &answer.model;
    // The backends' lines go under the Ollama line, as part of its value.
    let ollama = health(&answer.ollama, model, false, now);
    let backends = backend_lines(&answer.backends, model, lang, now);
    let ollama = Text::verbatim(ollama.in_lang(lang) + &backends);
    let serving = match answer.serving {
        true => text::status_yes(),
        false => text::status_no(),
    };
    let paused = match answer.paused {
        true => text::status_paused_until(pause::end_shown(parsed(&answer.paused_until), now)),
        false => text::status_no(),
    };
    let version = text::status_version(&answer.version, answer.pid);
    let requests = text::status_requests(answer.running, answer.queued);
    let today = text::status_today(today.answered, today.errors, today.tokens);
    let mut rows = vec![
        (text::status_label_version(), version),
        (text::status_label_uptime(), span(answer.uptime_secs)),
        (text::status_label_model(), Text::verbatim(model)),
        (text::status_label_serving(), serving),
        (text::status_label_hub(), hub),
        (text::status_label_ollama(), ollama),
        (crate::text::stats::label_requests(), requests),
        (text::status_label_today(), today),
        (text::status_label_paused(), paused),
    ];
    if let Some(hours) = &answer.selling_hours {
        rows.push((text::status_label_hours(), hours_line(hours, now)));
    }
    if let Some(guard) = &answer.gpu_guard {
        let line = guard_line(guard, lang);
        rows.push((text::status_label_gpu(), Text::verbatim(line)));
    }
    let rows = rows.into_iter();
    let rows = rows.map(|(label, value)| (label.in_lang(lang), value.in_lang(lang)));
    label_table(&rows.collect::<Vec<_>>())
}

/// The selling hours as written, and where they stand: selling until a
/// boundary, not selling until one, or selling on the owner's `--resume`
/// (the answer's `selling_hours`, see `protocol::HoursAnswer`).
fn hours_line(hours: &Value, now: Millis) -> Text {
    let windows = hours["windows"].as_array().into_iter().flatten();
    let windows: Vec<&str> = windows.filter_map(Value::as_str).collect();
    let windows = crate::text::outside(&windows.join(", "));
    let at = |key: &str| hours[key].as_str().and_then(time::parse);
    let next = at("next_change").map(|next| clock(next, now));
    let selling = hours["selling"].as_bool().unwrap_or(false);
    match (at("resumed_until"), next) {
        (Some(until), _) if !selling => {
            text::status_hours_resumed_until(windows, clock(until, now))
        }
        (_, None) => text::status_hours_always(windows),
        (_, Some(next)) if selling => text::status_hours_selling_until(windows, next),
        (_, Some(next)) => text::status_hours_away_until(windows, next),
    }
}

/// A figure of the answer, whole (`?` when absent).
fn figure(value: &Value) -> String {
    value
        .as_f64()
        .map_or_else(|| "?".into(), |v| format!("{v:.0}"))
}

/// Each GPU as the guard read it, then what holds the box back (or that
/// nothing does), then the last error when reading failed (the answer's
/// `gpu_guard`, see `protocol::GuardAnswer`).
fn guard_line(guard: &Value, lang: Lang) -> String {
    let gpus = guard["gpus"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let gpu_text = |gpu: &Value| {
        let id = crate::text::outside(gpu["id"].as_str().unwrap_or("?"));
        text::status_gpu(id, figure(&gpu["temp_c"]), figure(&gpu["busy_percent"]))
    };
    let mut parts: Vec<Text> = gpus.iter().map(gpu_text).collect();
    let error = guard["error"].as_str();
    if gpus.is_empty() && error.is_none() {
        parts.push(text::status_gpu_not_read());
    }
    let away = guard.get("away").filter(|away| !away.is_null());
    parts.push(away.map_or_else(text::status_gpu_clear, trouble_text));
    if let (Some(_), Some(secs)) = (away, guard["clear_for_secs"].as_u64()) {
        parts.push(text::status_gpu_clear_for(secs));
    }
    if let Some(error) = error {
        parts.push(text::status_gpu_error(crate::text::outside(error)));
    }
    let parts: Vec<String> = parts.iter().map(|part| part.in_lang(lang)).collect();
    parts.join("; ")
}

/// What the GPU guard found, in the owner's language (an `AwayAnswer`).
fn trouble_text(away: &Value) -> Text {
    let gpu = crate::text::outside(away["gpu"].as_str().unwrap_or_default());
    match (away["reason"].as_str(), away["program"].as_str()) {
        (Some("gpu_hot"), _) => {
            text::status_gpu_hot(gpu, figure(&away["temp_c"]), figure(&away["max_c"]))
        }
        (_, Some(program)) => {
            let pid = away["pid"].as_u64().unwrap_or(0);
            text::status_gpu_other_program(crate::text::outside(program), pid)
        }
        _ => text::status_gpu_busy_while_idle(gpu, figure(&away["busy_percent"])),
    }
}

/// What the answer says of Ollama's (or a backend's) health: up, down
/// since when and why, without the model, or not checked yet.
fn health(health: &HealthState, model: &str, openai: bool, now: Millis) -> Text {
    let since = health.since.as_deref().and_then(time::parse);
    let since = since.map(|t| clock(t, now)).unwrap_or_default();
    match (health.state, health.model_missing) {
        (HealthPhase::Up, _) => text::status_ollama_up(),
        (HealthPhase::Down, Some(true)) if openai => {
            text::status_openai_model_missing(since, model)
        }
        (HealthPhase::Down, Some(true)) => text::status_ollama_model_missing(since, model),
        (HealthPhase::Down, _) => {
            text::status_ollama_down(since, health.error.as_deref().unwrap_or_default())
        }
        (HealthPhase::Unknown, _) => text::status_ollama_unknown(),
    }
}

/// A line per backend, each after a newline, when there are several or
/// one is not an Ollama (one Ollama is the Ollama line itself): name,
/// address (with its API and model when they are not the Ollama line's),
/// state, and requests running of its `max_parallel`, the names and
/// addresses padded into columns.
fn backend_lines(backends: &[BackendAnswer], model: &str, lang: Lang, now: Millis) -> String {
    let other = |b: &BackendAnswer| !b.api.is_empty() && b.api != "ollama";
    if backends.len() < 2 && !backends.iter().any(other) {
        return String::new();
    }
    let address = |b: &BackendAnswer| match (other(b), b.model.as_str()) {
        (true, own) => format!("{} ({}, {own})", b.url, b.api),
        (false, "") => b.url.clone(),
        (false, own) if own == model => b.url.clone(),
        (false, own) => format!("{} ({own})", b.url),
    };
    let addresses: Vec<String> = backends.iter().map(address).collect();
    let name_width = backends.iter().map(|b| b.name.chars().count()).max();
    let url_width = addresses.iter().map(|a| a.chars().count()).max();
    let (name_width, url_width) = (name_width.unwrap_or(0), url_width.unwrap_or(0));
    let line = |(backend, url): (&BackendAnswer, &String)| {
        let state = health(
            &backend.health,
            &backend_model(backend, model),
            other(backend),
            now,
        );
        let (running, most) = (backend.running, backend.max_parallel);
        let state = text::status_backend(state, running, most).in_lang(lang);
        let name = &backend.name;
        format!("\n  {name:<name_width$}  {url:<url_width$}  {state}")
    };
    backends.iter().zip(&addresses).map(line).collect()
}

/// The model a backend runs: its own, or the client's.
fn backend_model(backend: &BackendAnswer, model: &str) -> String {
    match backend.model.is_empty() {
        true => model.to_string(),
        false => backend.model.clone(),
    }
}

/// A span of seconds, in its two largest units.
fn span(secs: u64) -> Text {
    let (days, hours, minutes, seconds) =
        (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (days, secs / 3600, secs / 60) {
        (1.., _, _) => text::span_days(days, hours),
        (0, 1.., _) => text::span_hours(secs / 3600, minutes),
        (0, 0, 1..) => text::span_minutes(secs / 60, seconds),
        _ => text::span_seconds(seconds),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    #[cfg(unix)]
    use std::io::Read;
    #[cfg(unix)]
    use std::os::unix::net::UnixListener;
    #[cfg(unix)]
    use std::os::unix::net::UnixStream;
    #[cfg(unix)]
    use std::path::PathBuf;

    #[cfg(unix)]
    /// A stand-in for a running client: a config path whose lock is held
    /// (for as long as the returned file is open) and whose socket is
    /// bound.
    fn running_client() -> (tempfile::TempDir, PathBuf, std::fs::File, UnixListener) {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.json");
        let lock = std::fs::File::create(lock_path(&config)).unwrap();
        assert!(files::try_lock_exclusive(&lock).unwrap());
        let listener = UnixListener::bind(socket_path(&config).unwrap()).unwrap();
        (dir, config, lock, listener)
    }

    #[cfg(unix)]
    fn ask_status(config: &Path) -> Result<Option<Value>, Fatal> {
        ask_within(config, ANSWER_WAIT)
    }

    #[cfg(unix)]
    fn ask_within(config: &Path, answer_wait: Duration) -> Result<Option<Value>, Fatal> {
        let socket = socket_path(config)?;
        ask(&socket, &lock_path(config), Request::Status, answer_wait)
    }

    #[cfg(unix)]
    /// A client that holds the lock and reads the request but never
    /// answers is given up on after the wait, and said so (try again, 75).
    #[test]
    fn a_client_that_never_answers_is_given_up_after_the_wait() {
        let (_dir, config, _lock, listener) = running_client();
        let (done, finished) = std::sync::mpsc::channel::<()>();
        let silent = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut request = String::new();
            std::io::BufRead::read_line(&mut std::io::BufReader::new(&stream), &mut request)
                .unwrap();
            // Holds the connection open, silent, until the test is done.
            let _ = finished.recv();
        });
        let fatal = ask_within(&config, Duration::from_millis(200)).unwrap_err();
        drop(done);
        silent.join().unwrap();
        assert_eq!(fatal.status, exit::ALREADY_RUNNING);
        let socket = socket_path(&config).unwrap();
        let said = text::no_answer_in_time(socket.display(), 0).english();
        assert_eq!(fatal.message.english(), said);
    }

    #[cfg(unix)]
    /// A client that holds the lock and hangs up without answering is
    /// still running: the command says it could not get an answer (try
    /// again, 75), and neither reports "no client" nor saves the request
    /// for a next start that this client's lock would then miss.
    #[test]
    fn a_client_that_hangs_up_but_keeps_its_lock_is_not_taken_for_gone() {
        let (_dir, config, _lock, listener) = running_client();
        let hangs_up = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            // Reads the request, then hangs up without a word.
            let mut request = String::new();
            std::io::BufRead::read_line(&mut std::io::BufReader::new(&stream), &mut request)
                .unwrap();
        });
        let fatal = ask_status(&config).unwrap_err();
        hangs_up.join().unwrap();
        assert_eq!(fatal.status, exit::ALREADY_RUNNING);
        assert_eq!(fatal.message.english(), text::bad_answer().english());
        assert!(!pause::path_for(&config).exists());
    }

    #[cfg(unix)]
    /// A running client that resets the connection (it closed with the
    /// request unread) is named as unreachable, the error as it came.
    #[test]
    fn a_reset_from_a_client_that_keeps_its_lock_says_it_cannot_be_reached() {
        let (_dir, config, _lock, listener) = running_client();
        let resets = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            // One byte: the request has arrived, and the rest stays
            // unread, so closing resets the connection.
            stream.read_exact(&mut [0u8]).unwrap();
        });
        let fatal = ask_status(&config).unwrap_err();
        resets.join().unwrap();
        assert_eq!(fatal.status, exit::ALREADY_RUNNING);
        let said = fatal.message.english();
        assert!(
            said.starts_with("cannot reach the client's control socket"),
            "{said}"
        );
        assert!(said.contains("reset"), "{said}");
    }

    #[test]
    fn spans_show_their_two_largest_units() {
        let en = |secs| span(secs).in_lang(Lang::En);
        assert_eq!(en(0), "0 s");
        assert_eq!(en(59), "59 s");
        assert_eq!(en(60), "1 min 0 s");
        assert_eq!(en(3599), "59 min 59 s");
        assert_eq!(en(3600), "1 h 0 min");
        assert_eq!(en(86_399), "23 h 59 min");
        assert_eq!(en(86_400 + 7200 + 59), "1 d 2 h");
        assert_eq!(span(90).in_lang(Lang::Ru), "1 мин 30 с");
    }

    /// The table for an answer as it came over the socket.
    fn table_of(answer: &Value, today: &Today, lang: Lang, now: Millis) -> String {
        let answer: StatusAnswer = serde_json::from_value(answer.clone()).unwrap();
        status_table(&answer, today, lang, now)
    }

    fn answer() -> Value {
        json!({
            "ok": true, "version": "9.9.9", "pid": 42, "uptime_secs": 3725,
            "model": "llama3.2", "serving": true,
            "hub": {"state": "connected", "since": time::format(time::now())},
            "ollama": {"state": "up"}, "paused": false, "paused_until": null,
            "running": 1, "queued": 2,
        })
    }

    #[test]
    fn the_status_table_says_everything_in_both_languages() {
        let now = time::now();
        let today = Today {
            since: time::format(local_midnight(now)),
            answered: 12,
            errors: 1,
            tokens: 3456,
        };
        let en = table_of(&answer(), &today, Lang::En, now);
        for line in [
            "Version    9.9.9 (pid 42)\n",
            "Uptime     1 h 2 min\n",
            "Model      llama3.2\n",
            "Serving    yes\n",
            "Hub        connected since ",
            "Ollama     up\n",
            "Requests   1 running, 2 queued\n",
            "Today      12 answered, 1 error, 3456 tokens\n",
            "Paused     no\n",
        ] {
            assert!(en.contains(line), "{line}\n{en}");
        }
        let ru = table_of(&answer(), &today, Lang::Ru, now);
        for line in [
            "Работает   1 ч 2 мин\n",
            "Продаёт    да\n",
            "Хаб        на связи с ",
            "Сегодня    ответов: 12, ошибок: 1, токенов: 3456\n",
            "Пауза      нет\n",
        ] {
            assert!(ru.contains(line), "{line}\n{ru}");
        }
        let mut away = answer();
        away["serving"] = json!(false);
        away["hub"] = json!({"state": "reconnecting", "retry_at": time::format(now + 4200)});
        away["ollama"] = json!({"state": "down", "since": time::format(now), "error": "refused", "model_missing": false});
        away["paused"] = json!(true);
        let table = table_of(&away, &today, Lang::En, now);
        assert!(
            table.contains("Hub        reconnecting in 5 s\n"),
            "{table}"
        );
        assert!(
            table.contains(&format!(
                "Ollama     down since {}: refused\n",
                clock(now, now)
            )),
            "{table}"
        );
        assert!(table.contains("Paused     until --resume\n"), "{table}");
        assert!(table.contains("Serving    no\n"), "{table}");
        away["ollama"]["model_missing"] = json!(true);
        away["paused_until"] = json!(time::format(now));
        away["hub"] = json!({"state": "waiting_for_ollama"});
        let table = table_of(&away, &today, Lang::En, now);
        assert!(table.contains("has no model llama3.2 since"), "{table}");
        assert!(table.contains("ollama pull llama3.2"), "{table}");
        assert!(
            table.contains(&format!("Paused     until {}\n", clock(now, now))),
            "{table}"
        );
        assert!(
            table.contains("Hub        disconnected: waiting for Ollama\n"),
            "{table}"
        );
        away["hub"] = json!({"state": "paused"});
        away["ollama"] = json!({"state": "unknown"});
        let table = table_of(&away, &today, Lang::En, now);
        assert!(
            table.contains("Hub        disconnected: paused\n"),
            "{table}"
        );
        assert!(table.contains("Ollama     not checked yet\n"), "{table}");
        away["hub"] = json!({"state": "connecting"});
        let table = table_of(&away, &today, Lang::En, now);
        assert!(table.contains("Hub        connecting\n"), "{table}");
    }

    #[test]
    fn the_status_table_shows_the_selling_hours_and_the_gpu_guard() {
        let now = time::now();
        let at = |ms: Millis| json!(time::format(ms));
        let mut status = answer();
        status["serving"] = json!(false);
        status["hub"] = json!({"state": "away"});
        status["away"] = json!({"reason": "outside_hours", "detail": "outside the selling hours"});
        status["selling_hours"] = json!({
            "windows": ["22:00-08:00", "sat 00:00-24:00"], "selling": false,
            "next_change": at(now + 60_000),
        });
        status["gpu_guard"] = json!({
            "gpus": [{"id": "0", "vendor": "nvidia", "temp_c": 67.4, "busy_percent": 3.0},
                     {"id": "card1", "vendor": "amd", "temp_c": null, "busy_percent": 12.0}],
        });
        let next = clock(now + 60_000, now);
        let en = table_of(&status, &today_nothing(), Lang::En, now);
        for line in [
            "Hub             disconnected: outside the selling hours\n".to_string(),
            format!("Selling hours   22:00-08:00, sat 00:00-24:00: not selling until {next}\n"),
            "GPU guard       GPU 0: 67 °C, 3 % busy; GPU card1: ? °C, 12 % busy; nothing holds \
             the box back\n"
                .to_string(),
        ] {
            assert!(en.contains(&line), "{line}\n{en}");
        }
        let ru = table_of(&status, &today_nothing(), Lang::Ru, now);
        assert!(ru.contains("отключён: вне часов продажи\n"), "{ru}");
        assert!(ru.contains(&format!("не продаёт до {next}\n")), "{ru}");
        assert!(ru.contains("GPU 0: 67 °C, загрузка 3 %"), "{ru}");
        // Selling, resumed outside them, and every hour.
        status["selling_hours"]["selling"] = json!(true);
        let en = table_of(&status, &today_nothing(), Lang::En, now);
        assert!(
            en.contains(&format!("sat 00:00-24:00: selling until {next}\n")),
            "{en}"
        );
        status["selling_hours"]["selling"] = json!(false);
        status["selling_hours"]["resumed_until"] = at(now + 60_000);
        let en = table_of(&status, &today_nothing(), Lang::En, now);
        assert!(
            en.contains(&format!(
                "outside them, but selling until {next} (--resume)\n"
            )),
            "{en}"
        );
        status["selling_hours"] =
            json!({"windows": ["00:00-24:00"], "selling": true, "next_change": null});
        let en = table_of(&status, &today_nothing(), Lang::En, now);
        assert!(en.contains("00:00-24:00: selling at every hour\n"), "{en}");
        // The guard holding the box away, each reason, and a read error.
        status["hub"] = json!({"state": "away"});
        status["away"] =
            json!({"reason": "gpu_hot", "detail": "", "gpu": "0", "temp_c": 91.0, "max_c": 85.0});
        status["gpu_guard"]["away"] = status["away"].clone();
        status["gpu_guard"]["clear_for_secs"] = json!(12);
        status["gpu_guard"]["error"] = json!("nvidia-smi did not answer within 10 s\u{1b}");
        let en = table_of(&status, &today_nothing(), Lang::En, now);
        assert!(
            en.contains("disconnected: the GPU guard stepped back\n"),
            "{en}"
        );
        assert!(
            en.contains(
                "away: GPU 0 is at 91 °C (over 85 °C); conditions clear for 12 s; cannot read \
                 the GPUs: nvidia-smi did not answer within 10 s\\u{1b}\n"
            ),
            "{en}"
        );
        let program =
            json!({"reason": "gpu_in_use", "detail": "", "pid": 4242, "program": "blender"});
        status["gpu_guard"] = json!({"gpus": [], "away": program});
        let ru = table_of(&status, &today_nothing(), Lang::Ru, now);
        assert!(
            ru.contains("машина ушла: GPU занят другой программой: blender (pid 4242)\n"),
            "{ru}"
        );
        let busy = json!({"reason": "gpu_in_use", "detail": "", "gpu": "0", "busy_percent": 97.0});
        status["gpu_guard"] = json!({"gpus": [], "away": busy});
        let en = table_of(&status, &today_nothing(), Lang::En, now);
        assert!(
            en.contains("not read yet; away: GPU 0 is 97 % busy while the client serves nothing\n"),
            "{en}"
        );
    }

    fn today_nothing() -> Today {
        Today {
            since: String::new(),
            answered: 0,
            errors: 0,
            tokens: 0,
        }
    }

    #[test]
    fn an_answer_of_the_wrong_shape_is_garbled_and_the_client_held() {
        let wrong = typed::<StatusAnswer>(json!({"ok": true, "pid": "forty-two"}));
        let error = wrong.unwrap_err();
        assert_eq!(error.status, exit::ALREADY_RUNNING);
        assert_eq!(error.message.english(), text::bad_answer().english());
        let refused = json!({"ok": false, "code": "not_owner", "error": "x"});
        assert_eq!(
            typed::<Value>(refused).unwrap_err().message.english(),
            text::not_owner().english()
        );
    }

    #[test]
    fn an_answer_from_another_version_shows_what_it_can() {
        let now = time::now();
        let newer = json!({"ok": true, "hub": {"state": "teleporting"},
                           "ollama": {"state": "sparkling", "level": 3}, "extra": [1]});
        let table = table_of(&newer, &today_nothing(), Lang::En, now);
        assert!(table.contains("Hub        connecting\n"), "{table}");
        assert!(table.contains("Ollama     not checked yet\n"), "{table}");
        assert!(table.contains("Serving    no\n"), "{table}");
    }

    #[test]
    fn one_backend_is_the_ollama_line_alone() {
        let now = time::now();
        // One answer for both: a second fixture could be a second later,
        // and its hub line another time.
        let none = answer();
        let mut one = none.clone();
        one["backends"] = json!([{"name": "127.0.0.1:11434", "url": "http://127.0.0.1:11434",
                                   "state": "up", "running": 1, "max_parallel": 1}]);
        for lang in [Lang::En, Lang::Ru] {
            let without = table_of(&none, &today_nothing(), lang, now);
            assert_eq!(table_of(&one, &today_nothing(), lang, now), without);
            assert_eq!(without.lines().count(), 9, "{without}");
        }
        // Two are already several: a line each.
        let mut two = one.clone();
        let second = json!({"name": "gpu2", "url": "http://gpu2:11434",
                            "state": "up", "running": 0, "max_parallel": 1});
        two["backends"].as_array_mut().unwrap().push(second);
        let both = table_of(&two, &today_nothing(), Lang::En, now);
        assert_eq!(both.lines().count(), 11, "{both}");
        assert!(
            both.contains("\n  gpu2             http://gpu2:11434"),
            "{both}"
        );
    }

    #[test]
    fn a_backend_shows_its_api_and_model_where_they_are_not_the_ollama_lines() {
        let now = time::now();
        let mut one = answer();
        one["backends"] = json!([{"name": "vllm", "url": "http://gpu:8000", "api": "openai",
                                   "model": "Org/Qwen-7B", "state": "down",
                                   "since": time::format(now), "error": "backend vllm lacks it",
                                   "model_missing": true, "running": 0, "max_parallel": 32}]);
        // One OpenAI-compatible backend is not the Ollama line: it gets
        // its own, naming its API and model (and the model it misses).
        let table = table_of(&one, &today_nothing(), Lang::En, now);
        let line = table
            .lines()
            .find(|l| l.starts_with("  vllm"))
            .expect(&table);
        assert!(
            line.starts_with("  vllm  http://gpu:8000 (openai, Org/Qwen-7B)  "),
            "{line}"
        );
        assert!(
            line.contains("Org/Qwen-7B") && line.ends_with("0 of 32 running"),
            "{line}"
        );
        assert!(line.contains("has no model Org/Qwen-7B since"), "{line}");
        assert!(line.contains("GET /v1/models"), "{line}");
        let mut three = one.clone();
        let same = json!({"name": "gpu1", "url": "http://gpu1:11434", "api": "ollama",
                          "model": "llama3.2", "state": "up", "running": 0, "max_parallel": 1});
        let own = json!({"name": "gpu2", "url": "http://gpu2:11434", "api": "ollama",
                         "model": "qwen3:8b", "state": "up", "running": 0, "max_parallel": 1});
        three["backends"]
            .as_array_mut()
            .unwrap()
            .extend([same, own]);
        let table = table_of(&three, &today_nothing(), Lang::En, now);
        // The model of the Ollama line is not repeated; another one is said.
        let words = |name: &str| {
            let line = table.lines().find(|l| l.starts_with(&format!("  {name} ")));
            let words = line.expect(&table).split_whitespace().take(4);
            words.collect::<Vec<_>>().join(" ")
        };
        assert_eq!(words("gpu1"), "gpu1 http://gpu1:11434 up, 0");
        assert_eq!(words("gpu2"), "gpu2 http://gpu2:11434 (qwen3:8b) up,");
    }

    /// Three backends: up and busy, down, not checked yet.
    fn three_backends(now: Millis) -> Value {
        let mut three = answer();
        three["backends"] = json!([
            {"name": "gpu1:11434", "url": "http://gpu1:11434", "state": "up",
             "running": 1, "max_parallel": 2},
            {"name": "desk", "url": "https://192.168.1.20:11434", "state": "down",
             "since": time::format(now), "error": "Ollama backend desk does not answer",
             "model_missing": false, "running": 0, "max_parallel": 1},
            {"name": "spare", "url": "http://spare:11434", "state": "unknown",
             "running": 0, "max_parallel": 4},
        ]);
        three
    }

    #[test]
    fn several_backends_get_a_line_each_under_the_ollama_line() {
        let now = time::now();
        let at = clock(now, now);
        let en = table_of(&three_backends(now), &today_nothing(), Lang::En, now);
        let expected = format!(
            "Ollama     up\n\
             \x20 gpu1:11434  http://gpu1:11434           up, 1 of 2 running\n\
             \x20 desk        https://192.168.1.20:11434  down since {at}: \
             Ollama backend desk does not answer, 0 of 1 running\n\
             \x20 spare       http://spare:11434          not checked yet, 0 of 4 running\n\
             Requests   1 running, 2 queued\n"
        );
        assert!(en.contains(&expected), "{expected}\n{en}");
        assert_eq!(en.lines().count(), 12, "{en}");
        let ru = table_of(&three_backends(now), &today_nothing(), Lang::Ru, now);
        let expected = format!(
            "Ollama     работает\n\
             \x20 gpu1:11434  http://gpu1:11434           работает, выполняется 1 из 2\n\
             \x20 desk        https://192.168.1.20:11434  не работает с {at}: \
             Ollama backend desk does not answer, выполняется 0 из 1\n\
             \x20 spare       http://spare:11434          ещё не проверено, выполняется 0 из 4\n\
             Запросы    выполняется: 1, в очереди: 2\n"
        );
        assert!(ru.contains(&expected), "{expected}\n{ru}");
    }

    #[test]
    fn a_backend_without_the_model_says_how_to_install_it() {
        let now = time::now();
        let mut answer = three_backends(now);
        answer["backends"][1]["model_missing"] = json!(true);
        let en = table_of(&answer, &today_nothing(), Lang::En, now);
        let line = format!(
            "  desk        https://192.168.1.20:11434  has no model llama3.2 since {} \
             (install it: ollama pull llama3.2), 0 of 1 running\n",
            clock(now, now)
        );
        assert!(en.contains(&line), "{line}\n{en}");
    }

    #[test]
    fn the_status_json_adds_today_and_drops_ok() {
        let today = Today {
            since: time::format(0),
            answered: 3,
            errors: 2,
            tokens: 1,
        };
        let shown: Value = serde_json::from_str(&status_json(
            &serde_json::from_value(answer()).unwrap(),
            &today,
        ))
        .unwrap();
        assert!(shown.get("ok").is_none());
        assert_eq!(
            shown["today"],
            json!({"since": "1970-01-01T00:00:00.000Z", "answered": 3, "errors": 2, "tokens": 1})
        );
        assert_eq!(shown["pid"], 42);
    }

    #[cfg(unix)]
    #[test]
    fn a_long_answer_is_read_whole_and_a_bad_one_is_refused() {
        let long = "e".repeat(20_000);
        for (sent, ok) in [
            (json!({"ok": true, "error": long}).to_string() + "\n", true),
            ("not json\n".to_string(), false),
            ("[1, 2]\n".to_string(), false),
        ] {
            let (ours, mut theirs) = UnixStream::pair().unwrap();
            let server = std::thread::spawn(move || {
                let mut request = [0u8; 64];
                let n = theirs.read(&mut request).unwrap();
                theirs.write_all(sent.as_bytes()).unwrap();
                String::from_utf8_lossy(&request[..n]).into_owned()
            });
            let answer = exchange(
                ours,
                Request::Status,
                Path::new("/nonexistent/control.lock"),
                ANSWER_WAIT,
            );
            assert_eq!(server.join().unwrap(), "{\"command\":\"status\"}\n");
            match ok {
                true => assert_eq!(
                    answer.unwrap().unwrap()["error"].as_str().unwrap().len(),
                    20_000
                ),
                false => assert!(matches!(answer, Ok(None)), "{answer:?}"),
            }
        }
    }

    #[cfg(unix)]
    #[test]
    fn an_endless_answer_is_cut_at_its_bound_while_the_connection_stays_open() {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let (release, held) = std::sync::mpsc::channel::<()>();
        let server = std::thread::spawn(move || {
            let mut request = [0u8; 64];
            let _ = theirs.read(&mut request).unwrap();
            // More than an answer may be, with no end of line (the rest
            // fails once the command hangs up).
            let _ = theirs.write_all(&[b'x'; 2 * MAX_ANSWER]);
            // Open until the command has given up reading.
            let _ = held.recv();
        });
        let lock = Path::new("/nonexistent/control.lock");
        let answer = exchange(ours, Request::Status, lock, ANSWER_WAIT);
        assert!(matches!(answer, Err(NoLine::TooLong)), "{answer:?}");
        drop(release);
        server.join().unwrap();
    }

    #[cfg(unix)]
    /// A busy client (its lock held) that answers after a while is waited
    /// for, not taken for one that ended.
    #[test]
    fn a_slow_answer_from_a_client_holding_its_lock_is_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let lock_file = dir.path().join("control.lock");
        let lock = std::fs::File::create(&lock_file).unwrap();
        assert!(files::try_lock_exclusive(&lock).unwrap());
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let server = std::thread::spawn(move || {
            let mut request = [0u8; 64];
            let _ = theirs.read(&mut request).unwrap();
            // Several of the command's looks at the lock go by first.
            std::thread::sleep(LOOK_EVERY * 4);
            theirs.write_all(b"{\"ok\": true}\n").unwrap();
        });
        let answer = exchange(ours, Request::Status, &lock_file, ANSWER_WAIT);
        server.join().unwrap();
        assert_eq!(answer.unwrap().unwrap()["ok"], true);
    }

    #[test]
    fn a_refusal_is_told_in_the_owners_words() {
        let refused = |answer: Value| typed::<Value>(answer).err().unwrap();
        let other_user = refused(json!({"ok": false, "code": "not_owner", "error": "x"}));
        assert_eq!(other_user.status, exit::NOT_SERVING);
        assert!(other_user
            .message
            .english()
            .contains("runs as another user"));
        assert!(other_user
            .message
            .in_lang(Lang::Ru)
            .contains("от другого пользователя"));
        let other = refused(json!({"ok": false, "code": "bad_request", "error": "not a request"}));
        assert_eq!(
            other.message.english(),
            "the running client refused the request: not a request"
        );
        assert_eq!(
            typed::<Value>(json!({"ok": true})).ok(),
            Some(json!({"ok": true}))
        );
    }
}
