//! The running client's end of the control socket (see `control` for the
//! picture): [`claim`] the config file at start, then [`start`] the
//! `control` thread, which accepts (the shared loop in `accept`) and
//! serves each connection on a short-lived thread of its own, so that a
//! silent peer holds up no other `--status`.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use super::protocol::{
    AwayAnswer, BackendAnswer, GpuAnswer, GuardAnswer, HealthPhase, HealthState, HoursAnswer,
    HubPhase, HubState, PauseAnswer, Refusal, Request, ResumeAnswer, StatusAnswer, MAX_REQUEST,
};
use super::socket::{open_lock, read_line, NoLine};
use super::{lock_path, socket_path, TIMEOUT};
use crate::accept;
use crate::availability::{Availability, HoursStatus, OwnerAway, Status};
use crate::backends::Down;
use crate::exit::Fatal;
use crate::gpu::{GuardStatus, Trouble};
use crate::hub::Connection;
use crate::pause::Pause;
use crate::platform::control::{self as channel, OwnerCheck, Stream};
use crate::platform::files;
use crate::text::control as text;
use crate::time;

/// The lock on `control.lock`, held until the process ends (the kernel
/// lets it go then, however the process ends).
static HELD: OnceLock<File> = OnceLock::new();

/// The socket this process bound, for [`withdraw`].
static PUBLISHED: OnceLock<PathBuf> = OnceLock::new();

/// This process's claim on its config file: the lock is held; the
/// socket is not bound yet.
pub struct ConfigLock {
    socket: PathBuf,
}

/// Makes this process the one client of the config file: takes the
/// lock on `control.lock` (and writes its pid there, for the second
/// client's message). Another client holding it is a [`Fatal`] with exit
/// 75; so is a socket path too long for the system (exit 78: the config
/// must move). `None` when the directory cannot hold the lock (read-only,
/// say): the box then serves without a control socket, and says so.
pub fn claim(config_path: &Path) -> Result<Option<ConfigLock>, Fatal> {
    let socket = socket_path(config_path)?;
    let lock = lock_path(config_path);
    let file = match open_lock(&lock) {
        Ok(file) => file,
        Err(e) => {
            log::warn!(
                "no control socket: cannot open {}: {e}; --status, --pause and --resume \
                 will not reach this client",
                lock.display()
            );
            return Ok(None);
        }
    };
    match files::try_lock_exclusive(&file) {
        Ok(true) => {}
        Ok(false) => {
            let pid = running_pid(&file);
            return Err(Fatal::already_running(text::already_running(
                pid,
                config_path.display(),
            )));
        }
        Err(e) => {
            log::warn!(
                "no control socket: cannot lock {}: {e}; a second client on this config \
                 would not be stopped",
                lock.display()
            );
            return Ok(None);
        }
    }
    write_pid(&file);
    let _ = HELD.set(file);
    warn_if_shared(&lock);
    Ok(Some(ConfigLock { socket }))
}

/// An existing directory keeps the mode its owner gave it; one that other
/// users can write in lets them replace the socket, which is worth a word.
fn warn_if_shared(lock: &Path) {
    let Some(dir) = lock.parent() else { return };
    if std::fs::metadata(dir).is_ok_and(|meta| files::writable_by_others(&meta)) {
        log::warn!(
            "{} can be written by other users, who could replace the control socket; \
             chmod 700 it",
            dir.display()
        );
    }
}

/// The pid the lock's holder wrote, for the message; 0 if unreadable.
fn running_pid(file: &File) -> u32 {
    let mut text = String::new();
    let _ = file.take(32).read_to_string(&mut text);
    text.trim().parse().unwrap_or(0)
}

fn write_pid(mut file: &File) {
    let written = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{}", std::process::id()));
    if let Err(e) = written {
        log::debug!("control: cannot write the pid to the lock file: {e}");
    }
}

/// Binds the socket (replacing one a crash left: the lock says no other
/// client uses it) and starts the `control` thread, which serves until
/// the process ends. A socket that cannot be bound is a warning: the box
/// serves on without it. Fails only if the thread cannot be started.
pub fn start(claim: ConfigLock, availability: Arc<Availability>) -> Result<(), Fatal> {
    let (listener, owner) = match channel::bind(&claim.socket) {
        Ok(bound) => bound,
        Err(e) => {
            log::warn!(
                "no control socket: cannot listen on {}: {e}; --status, --pause and \
                 --resume will not reach this client",
                claim.socket.display()
            );
            return Ok(());
        }
    };
    log::info!("control socket {}", claim.socket.display());
    let _ = PUBLISHED.set(claim.socket.clone());
    let serve_one: accept::Serve<Stream> = Arc::new(move |stream| {
        serve_one(stream, &owner, TIMEOUT, &|request| {
            handle(request, &availability)
        })
    });
    accept::start("control", listener, serve_one).map_err(|e| Fatal::thread("control", &e))
}

/// Removes the socket this process bound, on a clean stop, just before
/// the exit: nothing is left behind. The lock, still held, says it is
/// this process's; a command that finds no socket while the lock is held
/// waits for the lock to go.
pub fn withdraw() {
    if let Some(socket) = PUBLISHED.get() {
        if let Err(e) = channel::withdraw(socket) {
            log::debug!("control: cannot remove {}: {e}", socket.display());
        }
    }
}

/// Carries out one request: its answer's fields, and `"ok": true`.
fn handle(request: Request, availability: &Availability) -> Value {
    let answer = match request {
        Request::Status => serde_json::to_value(status_answer(&availability.status())),
        Request::Pause(span) => {
            // With selling hours the pause may end sooner: say when.
            let pause = availability.until_next_boundary(Pause::starting_now(span));
            serde_json::to_value(pause_answer(pause, availability.pause(pause)))
        }
        Request::Resume => serde_json::to_value(resume_answer(availability.resume("--resume"))),
    };
    // Plain structs of strings and numbers always serialize, as objects.
    let mut answer = answer.unwrap_or_default();
    answer["ok"] = Value::Bool(true);
    answer
}

/// An instant as the answers write it (RFC 3339, UTC, milliseconds).
fn stamp(at: SystemTime) -> String {
    time::format(time::millis(at))
}

/// When a pause ends; `None` until `--resume`.
fn until(pause: Option<Pause>) -> Option<String> {
    pause.and_then(|p| p.until_millis()).map(time::format)
}

fn health_state(health: Option<&Result<(), Down>>) -> HealthState {
    match health {
        None => HealthState::default(),
        Some(Ok(())) => HealthState {
            state: HealthPhase::Up,
            ..HealthState::default()
        },
        Some(Err(down)) => HealthState {
            state: HealthPhase::Down,
            since: Some(stamp(down.since)),
            error: Some(down.error.clone()),
            model_missing: Some(down.model_missing),
        },
    }
}

/// The answer to `status`.
fn status_answer(status: &Status) -> StatusAnswer {
    let (state, since, retry_at) = match status.hub {
        Connection::Connected(since) => (HubPhase::Connected, Some(stamp(since)), None),
        Connection::Connecting => (HubPhase::Connecting, None, None),
        Connection::Retrying(at) => (HubPhase::Reconnecting, None, Some(stamp(at))),
        Connection::Away if status.paused.is_some() => (HubPhase::Paused, None, None),
        Connection::Away if status.owner_away.is_some() => (HubPhase::Away, None, None),
        Connection::Away => (HubPhase::WaitingForOllama, None, None),
    };
    let hub = HubState {
        state,
        since,
        retry_at,
    };
    let backends = status.backends.iter().map(|backend| BackendAnswer {
        name: backend.name.clone(),
        url: backend.base_url.clone(),
        api: backend.api.into(),
        model: backend.model.clone(),
        health: health_state(backend.health.as_ref()),
        running: backend.running,
        max_parallel: backend.max_parallel,
    });
    StatusAnswer {
        version: env!("CARGO_PKG_VERSION").into(),
        pid: std::process::id(),
        uptime_secs: status.uptime.as_secs(),
        model: status.model.clone(),
        serving: status.serving(),
        hub,
        ollama: health_state(status.ollama.as_ref()),
        backends: backends.collect(),
        paused: status.paused.is_some(),
        paused_until: until(status.paused),
        away: status
            .owner_away
            .as_ref()
            .map(|away| section(away_answer(away))),
        selling_hours: status
            .hours
            .as_ref()
            .map(|hours| section(hours_answer(hours))),
        gpu_guard: status
            .gpu
            .as_ref()
            .map(|guard| section(guard_answer(guard))),
        running: status.running,
        queued: status.queued,
    }
}

/// A section of the status answer as JSON (plain structs of strings and
/// numbers always serialize).
fn section(answer: impl serde::Serialize) -> Value {
    serde_json::to_value(answer).unwrap_or_default()
}

/// Why the box is away for its owner, with the GPU guard's figures.
fn away_answer(away: &OwnerAway) -> AwayAnswer {
    match away {
        OwnerAway::Gpu(trouble) => trouble_answer(trouble),
        away => AwayAnswer {
            reason: away.kind().into(),
            detail: away.describe(),
            ..AwayAnswer::default()
        },
    }
}

fn trouble_answer(trouble: &Trouble) -> AwayAnswer {
    let answer = AwayAnswer {
        reason: trouble.kind().into(),
        detail: trouble.describe(),
        ..AwayAnswer::default()
    };
    match trouble.clone() {
        Trouble::Hot { gpu, temp_c, max_c } => AwayAnswer {
            gpu: Some(gpu),
            temp_c: Some(temp_c),
            max_c: Some(max_c),
            ..answer
        },
        Trouble::OtherProcess { pid, name } => AwayAnswer {
            pid: Some(pid),
            program: Some(name),
            ..answer
        },
        Trouble::BusyWhileIdle { gpu, busy_percent } => AwayAnswer {
            gpu: Some(gpu),
            busy_percent: Some(busy_percent),
            ..answer
        },
    }
}

fn hours_answer(hours: &HoursStatus) -> HoursAnswer {
    HoursAnswer {
        windows: hours.windows.clone(),
        selling: hours.selling,
        next_change: hours.next_change.map(time::format),
        resumed_until: hours.resumed_until.map(time::format),
    }
}

fn guard_answer(guard: &GuardStatus) -> GuardAnswer {
    let gpus = guard.gpus.iter().map(|gpu| GpuAnswer {
        id: gpu.id.clone(),
        vendor: gpu.vendor.as_str().into(),
        temp_c: gpu.temp_c,
        busy_percent: gpu.busy_percent,
        memory_used_bytes: gpu.memory_used_bytes,
        memory_total_bytes: gpu.memory_total_bytes,
    });
    GuardAnswer {
        gpus: gpus.collect(),
        away: guard.away.as_ref().map(trouble_answer),
        clear_for_secs: guard.clear_for.map(|clear| clear.as_secs()),
        error: guard.last_error.clone(),
    }
}

/// The answer to `pause`, with whether it was saved for a restart.
fn pause_answer(pause: Pause, saved: Result<(), String>) -> PauseAnswer {
    PauseAnswer {
        paused_until: until(Some(pause)),
        saved: saved.is_ok(),
        save_error: saved.err(),
    }
}

/// The answer to `resume`: whether the box was paused. The pause is over
/// in this process even when that could not be saved.
fn resume_answer(resumed: Result<bool, String>) -> ResumeAnswer {
    ResumeAnswer {
        resumed: *resumed.as_ref().unwrap_or(&true),
        saved: resumed.is_ok(),
        save_error: resumed.err(),
    }
}

/// One connection: one request line within `timeout`, the owner's check,
/// one answer line, closed. Nothing the peer does can panic it or hold
/// it longer than `timeout` for the request and `timeout` per write.
fn serve_one(
    mut stream: Stream,
    owner: &OwnerCheck,
    timeout: Duration,
    handle: &dyn Fn(Request) -> Value,
) {
    if stream.set_write_timeout(Some(timeout)).is_err() {
        return;
    }
    // The request is read (bounded) even from another user: closing with
    // it unread would reset the connection, and the peer would get
    // "Connection reset by peer" instead of the refusal.
    let read = read_request(&mut stream, timeout);
    let line = read.as_deref().unwrap_or_default();
    let answer = match (owner.admit(&stream, line), &read) {
        // Left without a word, or the socket failed: nobody to answer.
        (_, Err(NoLine::Ended | NoLine::Io(_))) => return,
        (None, _) => {
            log::warn!("control: refused a connection from another user");
            Refusal::NotOwner.answer()
        }
        (Some(request), Ok(_)) => Request::parse(request).map_or_else(Refusal::answer, handle),
        (Some(_), Err(NoLine::TooLong)) => Refusal::TooLong.answer(),
        (Some(_), Err(NoLine::Late)) => Refusal::Timeout.answer(),
    };
    let line = answer.to_string() + "\n";
    if let Err(e) = stream.write_all(line.as_bytes()) {
        log::debug!("control: answer not delivered: {e}");
    }
}

/// The request line, without its newline (an end of input ends it too),
/// within `timeout`.
fn read_request(stream: &mut Stream, timeout: Duration) -> Result<Vec<u8>, NoLine> {
    let until = Instant::now() + timeout;
    read_line(stream, MAX_REQUEST, until, timeout, || Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    #[cfg(unix)]
    use std::io::BufRead;
    #[cfg(unix)]
    use std::thread;

    #[cfg(unix)]
    /// Serves one connection of a socket pair on a thread; the test holds
    /// the other end.
    fn serving(owner: u32, timeout: Duration) -> (Stream, thread::JoinHandle<()>) {
        let (ours, theirs) = Stream::pair().unwrap();
        let handle = thread::spawn(move || {
            serve_one(
                theirs,
                &OwnerCheck::for_user(owner),
                timeout,
                &|request| json!({"got": request.line()}),
            )
        });
        (ours, handle)
    }

    #[cfg(unix)]
    fn me() -> u32 {
        channel::current_user()
    }

    #[cfg(unix)]
    fn answer(stream: Stream) -> Value {
        let mut line = String::new();
        std::io::BufReader::new(stream)
            .read_line(&mut line)
            .unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    }

    #[cfg(unix)]
    fn ask(bytes: &[u8]) -> Value {
        let (mut stream, served) = serving(me(), Duration::from_secs(2));
        stream.write_all(bytes).unwrap();
        let answer = answer(stream);
        served.join().unwrap();
        answer
    }

    #[cfg(unix)]
    #[test]
    fn a_request_line_is_answered_with_one_line() {
        assert_eq!(
            ask(b"{\"command\":\"status\"}\n"),
            json!({"got": r#"{"command":"status"}"#})
        );
        // Split over writes, or ended by the end of input instead of a newline.
        let (mut stream, served) = serving(me(), Duration::from_secs(2));
        stream.write_all(b"{\"command\":").unwrap();
        stream.flush().unwrap();
        thread::sleep(Duration::from_millis(20));
        stream.write_all(b"\"resume\"}").unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(answer(stream), json!({"got": r#"{"command":"resume"}"#}));
        served.join().unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_peer_that_ends_before_its_first_byte_gets_no_answer() {
        let (mut stream, served) = serving(me(), Duration::from_secs(2));
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).unwrap();
        assert_eq!(String::from_utf8_lossy(&rest), "");
        served.join().unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn garbage_gets_an_error_answer() {
        assert_eq!(ask(b"\x00\xff garbage\n")["code"], "bad_request");
        assert_eq!(
            ask(b"{\"command\":\"reboot\"}\n")["code"],
            "unknown_command"
        );
        let long = [b'x'; MAX_REQUEST + 10];
        assert_eq!(ask(&long)["code"], "too_long");
        // The limit counts the newline.
        let mut over = vec![b' '; MAX_REQUEST];
        over.push(b'\n');
        assert_eq!(ask(&over)["code"], "too_long");
        // Also when the newline comes in a later read than the rest.
        let (mut stream, served) = serving(me(), Duration::from_secs(2));
        stream.write_all(&[b' '; 1000]).unwrap();
        thread::sleep(Duration::from_millis(20));
        stream.write_all(&[b' '; MAX_REQUEST - 1000]).unwrap();
        // The limit is reached without it: the server may have answered and
        // hung up before the newline goes (a broken pipe, seen in CI).
        let _ = stream.write_all(b"\n");
        assert_eq!(answer(stream)["code"], "too_long");
        served.join().unwrap();
        let mut exact = vec![b' '; MAX_REQUEST - 1 - 20];
        exact.extend_from_slice(b"{\"command\":\"status\"}\n");
        assert_eq!(exact.len(), MAX_REQUEST);
        assert_eq!(ask(&exact)["got"], r#"{"command":"status"}"#);
        let mut under = vec![b' '; MAX_REQUEST - 2 - 20];
        under.extend_from_slice(b"{\"command\":\"status\"}\n");
        assert_eq!(ask(&under)["got"], r#"{"command":"status"}"#);
    }

    #[cfg(unix)]
    #[test]
    fn a_silent_peer_is_answered_at_the_timeout_and_a_gone_one_not_at_all() {
        let (mut stream, served) = serving(me(), Duration::from_millis(200));
        let started = Instant::now();
        stream.write_all(b"{\"comm").unwrap();
        assert_eq!(answer(stream)["code"], "timeout");
        served.join().unwrap();
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_secs(2),
            "{took:?}"
        );
        let (stream, served) = serving(me(), Duration::from_secs(2));
        drop(stream);
        served.join().unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn another_user_gets_the_refusal_not_a_reset() {
        let (ours, theirs) = Stream::pair().unwrap();
        // The request is there before the server looks: it must not be
        // left unread when the connection closes.
        (&ours).write_all(b"{\"command\":\"status\"}\n").unwrap();
        let other = me().wrapping_add(1);
        let check = OwnerCheck::for_user(other);
        let served = thread::spawn(move || {
            serve_one(theirs, &check, Duration::from_secs(2), &|_| json!({}))
        });
        served.join().unwrap();
        // To the end, as a peer that reads the whole answer does: no reset.
        let mut all = Vec::new();
        (&ours).read_to_end(&mut all).unwrap();
        let answer_line: Value = serde_json::from_slice(&all).unwrap();
        assert_eq!(answer_line["code"], "not_owner");
        // One that sends nothing gets it at the timeout.
        let (stream, served) = serving(other, Duration::from_millis(100));
        assert_eq!(answer(stream)["code"], "not_owner");
        served.join().unwrap();
        let (ours, _theirs) = Stream::pair().unwrap();
        let line: &[u8] = b"{}";
        assert_eq!(OwnerCheck::for_user(me()).admit(&ours, line), Some(line));
    }

    use crate::backends::BackendStatus;

    fn value(answer: impl serde::Serialize) -> serde_json::Value {
        serde_json::to_value(answer).unwrap()
    }

    fn status(hub: Connection, ollama: Option<Result<(), Down>>, paused: Option<Pause>) -> Status {
        Status {
            uptime: Duration::from_millis(61_900),
            model: "llama3.2".into(),
            hub,
            ollama,
            backends: vec![
                BackendStatus {
                    name: "gpu1:11434".into(),
                    base_url: "http://gpu1:11434".into(),
                    api: "ollama",
                    model: "llama3.2".into(),
                    health: Some(Ok(())),
                    running: 2,
                    max_parallel: 2,
                },
                BackendStatus {
                    name: "desk".into(),
                    base_url: "http://192.168.1.20:11434".into(),
                    api: "openai",
                    model: "qwen2.5".into(),
                    health: Some(Err(crate::backends::Down {
                        since: std::time::UNIX_EPOCH + Duration::from_millis(1_764_547_200_123),
                        error: "Ollama backend desk does not answer".into(),
                        model_missing: false,
                    })),
                    running: 0,
                    max_parallel: 1,
                },
            ],
            paused,
            owner_away: paused.map(|_| OwnerAway::Paused),
            hours: None,
            gpu: None,
            running: 2,
            queued: 1,
        }
    }

    #[test]
    fn the_status_answer_says_each_state() {
        let at = std::time::UNIX_EPOCH + Duration::from_millis(1_764_547_200_123);
        let serving = value(status_answer(&status(
            Connection::Connected(at),
            Some(Ok(())),
            None,
        )));
        assert_eq!(
            serving,
            json!({
                "version": env!("CARGO_PKG_VERSION"), "pid": std::process::id(),
                "uptime_secs": 61, "model": "llama3.2", "serving": true,
                "hub": {"state": "connected", "since": "2025-12-01T00:00:00.123Z"},
                "ollama": {"state": "up"}, "paused": false, "paused_until": null,
                "running": 2, "queued": 1,
                "backends": [
                    {"name": "gpu1:11434", "url": "http://gpu1:11434", "state": "up",
                     "running": 2, "max_parallel": 2, "api": "ollama", "model": "llama3.2"},
                    {"name": "desk", "url": "http://192.168.1.20:11434", "state": "down",
                     "api": "openai", "model": "qwen2.5",
                     "since": "2025-12-01T00:00:00.123Z",
                     "error": "Ollama backend desk does not answer", "model_missing": false,
                     "running": 0, "max_parallel": 1},
                ],
            })
        );
        let paused = value(status_answer(&status(
            Connection::Away,
            Some(Ok(())),
            Some(Pause::Until(at)),
        )));
        assert_eq!(paused["hub"], json!({"state": "paused"}));
        assert_eq!(paused["paused"], true);
        assert_eq!(paused["paused_until"], "2025-12-01T00:00:00.123Z");
        assert_eq!(paused["serving"], false);
        let down = Some(Err(Down {
            since: at,
            error: "Ollama does not answer".into(),
            model_missing: false,
        }));
        let waiting = value(status_answer(&status(Connection::Away, down, None)));
        assert_eq!(waiting["hub"], json!({"state": "waiting_for_ollama"}));
        assert_eq!(
            waiting["ollama"],
            json!({"state": "down", "since": "2025-12-01T00:00:00.123Z",
                   "error": "Ollama does not answer", "model_missing": false})
        );
        let retrying = value(status_answer(&status(Connection::Retrying(at), None, None)));
        assert_eq!(
            retrying["hub"],
            json!({"state": "reconnecting", "retry_at": "2025-12-01T00:00:00.123Z"})
        );
        assert_eq!(retrying["ollama"], json!({"state": "unknown"}));
        let connecting = value(status_answer(&status(
            Connection::Connecting,
            Some(Ok(())),
            Some(Pause::Indefinite),
        )));
        assert_eq!(connecting["hub"], json!({"state": "connecting"}));
        assert_eq!(
            (
                connecting["paused"].clone(),
                connecting["paused_until"].clone()
            ),
            (json!(true), Value::Null)
        );
    }

    #[test]
    fn pause_and_resume_answers_say_whether_it_was_saved() {
        let end = std::time::UNIX_EPOCH + Duration::from_secs(1_764_547_200);
        assert_eq!(
            value(pause_answer(Pause::Until(end), Ok(()))),
            json!({"paused_until": "2025-12-01T00:00:00.000Z", "saved": true, "save_error": null})
        );
        assert_eq!(
            value(pause_answer(Pause::Indefinite, Err("disk full".into()))),
            json!({"paused_until": null, "saved": false, "save_error": "disk full"})
        );
        assert_eq!(
            value(resume_answer(Ok(false))),
            json!({"resumed": false, "saved": true})
        );
        assert_eq!(value(resume_answer(Ok(true)))["resumed"], true);
        assert_eq!(
            value(resume_answer(Err("read-only".into()))),
            json!({"resumed": true, "saved": false, "save_error": "read-only"})
        );
    }
}
