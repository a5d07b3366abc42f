//! Runs the real `ollama-proxy-client` binary for a test: a fresh temporary
//! `HOME` holding the config file, the given flags and environment, and a
//! thread that collects everything the client prints so that tests can wait
//! for a log line (with a bounded wait) and search the output for secrets.
//! The binary is started through [`super::launch`], so the environment
//! `cargo test` runs in cannot change what the client sees.
//!
//! [`Launch`] is the general form: any `HOME` (with or without a config
//! file), standard input from `/dev/null`, from given bytes or from a pipe
//! the test writes to, and optionally a standard output whose reader has
//! already gone. [`Client::start`] and [`Client::start_with_env`] are its
//! short forms for a client with a config file in the default place.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::answers::WAIT;
use super::launch::{self, Runner};
// For tests that build on [`client_command`] (tests/terminal.rs); the
// command is already clean, so cleaning it again changes nothing.
pub const BIN: &str = env!("CARGO_BIN_EXE_ollama-proxy-client");

/// A command that runs the client binary ([`BIN`], or the one
/// `OPC_TEST_CLIENT` names: a release build as shipped) through the rig's
/// one launcher: under the emulator named by `OPC_TEST_RUNNER` if it is
/// set (see [`Runner::FromEnv`]), with the environment variables the
/// client reads removed (see [`super::launch`]).
pub fn client_command() -> Command {
    let bin = std::env::var_os(launch::CLIENT_VAR).unwrap_or_else(|| BIN.into());
    launch::client_command(bin, Runner::FromEnv)
}

pub const TOKEN: &str = "tok-SECRET-5f2a9c-e4d1";

/// A directory under the system temp dir, removed on drop (unless it was
/// made with [`TempDir::borrowed`]).
pub struct TempDir {
    path: PathBuf,
    owned: bool,
}

impl TempDir {
    pub fn new() -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "opc-test-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir { path, owned: true }
    }

    /// A directory someone else owns: left in place on drop.
    pub fn borrowed(path: &Path) -> TempDir {
        TempDir {
            path: path.to_path_buf(),
            owned: false,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if self.owned {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// A config for tests: the test token, the emulated Ollama, fast reconnects.
pub fn test_config(ollama_port: u16) -> Value {
    json!({
        "token": TOKEN,
        "model": "llama3.2",
        "ollama_host": "127.0.0.1",
        "ollama_port": ollama_port,
        "stream_mode": true,
        "reconnect_base_secs": 0.05,
        "reconnect_max_secs": 0.2,
        "handshake_timeout_secs": 2,
    })
}

/// Whether the client under test is the Windows build, run under wine
/// (see [`launch::client_is_windows`]).
pub fn windows() -> bool {
    launch::client_is_windows()
}

/// The name the client's log gives the stop event a test sends as
/// `signal` (`SIGTERM`, `SIGINT`): on Windows, `scripts/wine-run.sh` turns
/// either into one Ctrl+C (`CTRL_C_EVENT`), which the client names so.
pub fn stop_event(signal: &'static str) -> &'static str {
    if windows() {
        "Ctrl+C"
    } else {
        signal
    }
}

/// What wine adds to a client's run, for the tests that bound how long a
/// run takes: nothing natively; under wine (`scripts/wine-run.sh`) a run in
/// a new `HOME` starts that `HOME`'s own wine session (~0.6 s alone, up to
/// 1.3 s measured on 2 busy cores) and ends it: 1.5 s.
pub fn wine_start() -> Duration {
    if windows() {
        Duration::from_millis(1500)
    } else {
        Duration::ZERO
    }
}

/// The Windows profile `scripts/wine-run.sh` gives a run whose `HOME` is
/// `home`: `C:\users\opc-<first 12 hex digits of sha256(HOME)>`, a link to
/// `home` itself.
fn windows_profile(home: &Path) -> String {
    let mut sha = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum");
    sha.stdin
        .take()
        .unwrap()
        .write_all(home.as_os_str().as_encoded_bytes())
        .unwrap();
    let out = sha.wait_with_output().unwrap();
    let hex = String::from_utf8(out.stdout).unwrap();
    format!("C:\\users\\opc-{}", &hex[..12])
}

/// `path` as the client shows it when it found it from `home` (its `HOME`:
/// the default config file, its logs): as it is on Linux; on Windows under
/// the Windows profile that stands for `home`, with `\` between the parts
/// (a path outside `home` is shown as it is).
pub fn shown_path(home: &Path, path: &Path) -> String {
    if !windows() {
        return path.display().to_string();
    }
    match path.strip_prefix(home) {
        Ok(rest) => shown_joined(Path::new(&windows_profile(home)), rest),
        Err(_) => path.display().to_string(),
    }
}

/// `given.join(rest)` as the client shows it when it was given `given` (a
/// `--config` path, say) and made the rest itself: on Windows, `given` as
/// it was given and `\` before each part the client added.
pub fn shown_joined(given: &Path, rest: impl AsRef<Path>) -> String {
    if !windows() {
        return given.join(rest).display().to_string();
    }
    let mut shown = given.display().to_string();
    for part in rest.as_ref().components() {
        shown.push('\\');
        shown.push_str(&part.as_os_str().to_string_lossy());
    }
    shown
}

/// Sets `key` in a config object.
pub fn with(mut config: Value, key: &str, value: Value) -> Value {
    config[key] = value;
    config
}

/// `HOME/.config/ollama_proxy`, where the client keeps its files by default.
pub fn config_dir(home: &Path) -> PathBuf {
    home.join(".config").join("ollama_proxy")
}

/// `HOME/.config/ollama_proxy/config.json`.
pub fn config_path(home: &Path) -> PathBuf {
    config_dir(home).join("config.json")
}

/// `HOME/.config/ollama_proxy/logs`.
pub fn log_dir(home: &Path) -> PathBuf {
    config_dir(home).join("logs")
}

/// The lines of the ledger beside the default config file, parsed (none
/// when there is no ledger yet).
pub fn ledger_lines(home: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(config_dir(home).join("ledger.jsonl")).unwrap_or_default();
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// The ledger's lines of one event (`answer`, `start`, `disconnect`...).
pub fn ledger_events(home: &Path, event: &str) -> Vec<Value> {
    let lines = ledger_lines(home).into_iter();
    lines.filter(|line| line["event"] == event).collect()
}

/// Writes `text` as the default config file (creating its directory) and
/// returns its path.
pub fn write_config_text(home: &Path, text: &str) -> PathBuf {
    let path = config_path(home);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

/// Writes `config` (pretty JSON) as the default config file.
pub fn write_config(home: &Path, config: &Value) -> PathBuf {
    write_config_text(home, &serde_json::to_string_pretty(config).unwrap())
}

/// Every file under `dir`, recursively, sorted; empty if `dir` is missing.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Where the client's standard input comes from.
pub enum Input {
    /// `/dev/null`: not a terminal, at its end at once.
    Null,
    /// These bytes, then the end of input.
    Bytes(Vec<u8>),
    /// A pipe held open until [`Client::close_stdin`] (or drop); the test
    /// writes to it with [`Client::write_stdin`].
    Open,
}

/// How the client starts out treating SIGHUP (it inherits that from the
/// test otherwise, which `nohup cargo test` would set to ignored).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hangup {
    /// The default action, as from a terminal or an ssh session.
    Default,
    /// Ignored, as `nohup` starts a program.
    Ignored,
}

/// How to start the client: the general form of [`Client::start`].
pub struct Launch {
    home: TempDir,
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: Input,
    stdout_closed: bool,
    /// The client's working directory; the test's own when `None`.
    dir: Option<PathBuf>,
    /// SIGHUP's disposition at the start; inherited when `None`.
    hangup: Option<Hangup>,
}

impl Launch {
    /// A client with `home` as its `HOME`, as it is (no config is written).
    pub fn new(home: TempDir) -> Launch {
        Launch {
            home,
            args: Vec::new(),
            env: Vec::new(),
            stdin: Input::Null,
            stdout_closed: false,
            dir: None,
            hangup: None,
        }
    }

    /// `home` (owned by the caller, kept after the run) as `HOME`, so that
    /// several runs can share one config file.
    pub fn in_home(home: &Path) -> Launch {
        Launch::new(TempDir::borrowed(home))
    }

    /// A fresh empty `HOME`.
    pub fn fresh() -> Launch {
        Launch::new(TempDir::new())
    }

    /// A fresh `HOME` with `config` in the default place.
    pub fn with_config(config: &Value) -> Launch {
        let home = TempDir::new();
        write_config(home.path(), config);
        Launch::new(home)
    }

    pub fn args(mut self, args: &[&str]) -> Launch {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Launch {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn stdin(mut self, stdin: Input) -> Launch {
        self.stdin = stdin;
        self
    }

    /// Standard output is a pipe whose read end is closed before the client
    /// starts, so its first write fails (EPIPE).
    pub fn stdout_closed(mut self) -> Launch {
        self.stdout_closed = true;
        self
    }

    /// Runs the client in `HOME` rather than in the test's working
    /// directory (the crate's root), so that a relative path it is given
    /// (or mistakes for one) can only land in the temporary `HOME`.
    pub fn in_home_dir(mut self) -> Launch {
        self.dir = Some(self.home.path().to_path_buf());
        self
    }

    /// Starts the client with SIGHUP set to `hangup`.
    pub fn hangup(mut self, hangup: Hangup) -> Launch {
        self.hangup = Some(hangup);
        self
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    pub fn start(self) -> Client {
        let mut command = client_command();
        command
            .args(&self.args)
            .env("HOME", self.home.path())
            .stderr(Stdio::piped());
        command.stdin(match self.stdin {
            Input::Null => Stdio::null(),
            Input::Bytes(_) | Input::Open => Stdio::piped(),
        });
        command.stdout(if self.stdout_closed {
            Stdio::from(pipe_without_reader())
        } else {
            Stdio::piped()
        });
        for (key, value) in &self.env {
            command.env(key, value);
        }
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        if let Some(hangup) = self.hangup {
            let action = match hangup {
                Hangup::Default => libc::SIG_DFL,
                Hangup::Ignored => libc::SIG_IGN,
            };
            // SAFETY: signal is async-signal-safe and touches no memory of
            // the parent; exec keeps an ignored signal ignored.
            unsafe {
                command.pre_exec(move || {
                    libc::signal(libc::SIGHUP, action);
                    Ok(())
                });
            }
        }
        if windows() {
            // scripts/wine-run.sh turns the SIGINT a test sends into Ctrl+C
            // with a bash trap, and bash cannot trap a signal ignored when
            // it starts, as SIGINT is for all of `cargo test` when a script
            // runs it in the background (`scripts/test-windows.sh &`).
            // SAFETY: signal is async-signal-safe and touches no memory of
            // the parent.
            unsafe {
                command.pre_exec(|| {
                    libc::signal(libc::SIGINT, libc::SIG_DFL);
                    Ok(())
                });
            }
        }
        let started = Instant::now();
        let mut child = command.spawn().expect("start the client binary");
        let mut stdin = child.stdin.take();
        if let Input::Bytes(bytes) = self.stdin {
            let mut pipe = stdin.take().unwrap();
            // A thread, so that a client that stops reading cannot block the
            // test; the pipe closes (end of input) when the thread ends.
            thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            });
        }
        let output = Arc::new((Mutex::new(Output::default()), Condvar::new()));
        if let Some(stdout) = child.stdout.take() {
            collect(stdout, Stream::Stdout, &output);
        }
        collect(child.stderr.take().unwrap(), Stream::Stderr, &output);
        Client {
            child,
            home: self.home,
            output,
            stdin,
            started,
        }
    }

    /// Starts the client and waits (bounded) for it to exit.
    pub fn run(self, timeout: Duration) -> Finished {
        let mut client = self.start();
        let status = client.wait_exit(timeout);
        let elapsed = client.started.elapsed();
        Finished {
            status,
            stdout: client.stdout(),
            stderr: client.stderr(),
            elapsed,
            client,
        }
    }
}

/// A pipe's write end whose read end is already closed.
fn pipe_without_reader() -> OwnedFd {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills in two new descriptors, which we then own.
    #[cfg(target_os = "linux")]
    let result = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    // No pipe2 on macOS: the descriptors are marked close-on-exec after.
    // SAFETY: pipe fills in two new descriptors; fcntl only sets their flag.
    #[cfg(not(target_os = "linux"))]
    let result = unsafe {
        let made = libc::pipe(fds.as_mut_ptr());
        for fd in fds {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
        made
    };
    assert_eq!(result, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just created and are owned by nobody else.
    let (reader, writer) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(reader);
    writer
}

/// A client run to its end.
pub struct Finished {
    /// `None` if it did not exit in time (it was killed).
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    /// From just before the spawn until the exit was seen.
    pub elapsed: Duration,
    /// The (exited) client, for its `home` and its output.
    pub client: Client,
}

impl Finished {
    /// The exit code; `None` if it was killed or did not exit.
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }

    pub fn home(&self) -> &Path {
        self.client.home.path()
    }

    /// Both streams, for failure messages.
    pub fn describe(&self) -> String {
        format!(
            "status {:?} after {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.status, self.elapsed, self.stdout, self.stderr
        )
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Stream {
    Stdout,
    Stderr,
}

#[derive(Default)]
struct Output {
    lines: Vec<String>,
    stdout: Vec<String>,
    stderr: Vec<String>,
    opened: usize,
    closed: usize,
}

pub struct Client {
    child: Child,
    pub home: TempDir,
    output: Arc<(Mutex<Output>, Condvar)>,
    stdin: Option<ChildStdin>,
    started: Instant,
}

impl Client {
    /// Starts the client with `config` written where it looks by default.
    pub fn start(config: &Value, args: &[&str]) -> Client {
        Client::start_with_env(config, args, &[])
    }

    pub fn start_with_env(config: &Value, args: &[&str], env: &[(&str, &str)]) -> Client {
        env.iter()
            .fold(Launch::with_config(config).args(args), |launch, (k, v)| {
                launch.env(k, v)
            })
            .start()
    }

    /// Starts the client with its metrics port on (`metrics_listen`
    /// `127.0.0.1:0`: the system picks it) and returns it with the port.
    pub fn start_with_metrics(config: &Value, args: &[&str]) -> (Client, u16) {
        let mut config = config.clone();
        config["metrics_listen"] = json!("127.0.0.1:0");
        let client = Client::start(&config, args);
        let port = client.metrics_port();
        (client, port)
    }

    /// The port of the metrics endpoint, from the client's log line
    /// `metrics on http://127.0.0.1:PORT/metrics` (for `metrics_listen`
    /// `127.0.0.1:0`, where the system picks the port).
    pub fn metrics_port(&self) -> u16 {
        const SAYS: &str = "metrics on http://127.0.0.1:";
        assert!(self.wait_output(SAYS, WAIT), "{}", self.output());
        let output = self.output();
        let at = output.find(SAYS).map_or(0, |at| at + SAYS.len());
        output[at..]
            .split('/')
            .next()
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("no metrics port in:\n{output}"))
    }

    /// Everything printed so far (stdout and stderr, interleaved by line).
    pub fn output(&self) -> String {
        self.output.0.lock().unwrap().lines.join("\n")
    }

    /// Everything printed to standard output so far.
    pub fn stdout(&self) -> String {
        self.output.0.lock().unwrap().stdout.join("\n")
    }

    /// Everything printed to standard error (the console log) so far.
    pub fn stderr(&self) -> String {
        self.output.0.lock().unwrap().stderr.join("\n")
    }

    /// Waits until a printed line contains `needle`.
    pub fn wait_output(&self, needle: &str, timeout: Duration) -> bool {
        self.wait_lines(timeout, |lines| lines.iter().any(|l| l.contains(needle)))
    }

    /// Waits until at least `n` printed lines contain `needle`.
    pub fn wait_output_count(&self, needle: &str, n: usize, timeout: Duration) -> bool {
        self.wait_lines(timeout, |lines| {
            lines.iter().filter(|l| l.contains(needle)).count() >= n
        })
    }

    fn wait_lines(&self, timeout: Duration, done: impl Fn(&[String]) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let (lock, wake) = &*self.output;
        let mut output = lock.lock().unwrap();
        loop {
            if done(&output.lines) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || output.closed == output.opened {
                return false;
            }
            output = wake.wait_timeout(output, left).unwrap().0;
        }
    }

    /// Writes to standard input (started with [`Input::Open`]).
    pub fn write_stdin(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is an open pipe");
        stdin.write_all(text.as_bytes()).expect("write to stdin");
        stdin.flush().expect("flush stdin");
    }

    /// Closes standard input: the client sees the end of input.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        // SAFETY: kill has no memory effects; the child is not reaped yet
        // (we hold it), so the pid is still ours.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
    }

    /// Waits for the process to exit; kills it at the timeout.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the output threads see the end of the pipes.
                self.wait_lines(Duration::from_secs(2), |_| false);
                return Some(status);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// The pid of the process the test started: the client itself, or the
    /// runner it runs under (signals sent to it reach the client: qemu is
    /// the client's own process, `scripts/wine-run.sh` forwards them).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The pid the client reports for itself (in `--status`, in "another
    /// client (pid N)"), with its config file in the default place: the
    /// process's pid; on Windows its Windows pid, unrelated to any Linux
    /// one, read from what it wrote to `control.lock`.
    pub fn shown_pid(&self) -> u32 {
        self.shown_pid_by(&config_dir(self.home.path()).join("control.lock"))
    }

    /// [`Client::shown_pid`] for a client whose lock file is `lock` (a
    /// config file other than the default).
    pub fn shown_pid_by(&self, lock: &Path) -> u32 {
        if !windows() {
            return self.pid();
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let text = std::fs::read_to_string(lock).unwrap_or_default();
            match text.trim().parse() {
                Ok(pid) => return pid,
                Err(_) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                Err(e) => panic!("no pid in {}: {e}: {text:?}", lock.display()),
            }
        }
    }

    /// The Linux pid of the process that runs the client's code, for what
    /// `/proc` tells of it (memory, threads, descriptors, command line):
    /// the process started, or under `scripts/wine-run.sh` the runner's
    /// child that wine has made the `.exe`'s process (wine's loader execs
    /// in place, and names the process by the `.exe`: its first argument).
    pub fn process_pid(&self) -> u32 {
        if !windows() {
            return self.pid();
        }
        let exe = std::env::var_os(launch::CLIENT_VAR).unwrap_or_default();
        let exe = Path::new(&exe).file_name().unwrap_or_default().to_owned();
        let runs_exe = |pid: &u32| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let first = cmdline.split(|b| *b == 0).next().unwrap_or_default();
            let first = Path::new(std::ffi::OsStr::from_bytes(first));
            first.file_name() == Some(exe.as_os_str())
        };
        let runner = self.pid();
        let children = format!("/proc/{runner}/task/{runner}/children");
        let deadline = Instant::now() + WAIT;
        loop {
            let text = std::fs::read_to_string(&children).unwrap_or_default();
            let pids = text.split_whitespace().filter_map(|p| p.parse().ok());
            let found: Vec<u32> = pids.filter(runs_exe).collect();
            match found[..] {
                [pid] => return pid,
                _ if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                _ => panic!("the runner {runner} runs no {exe:?}: {text:?}"),
            }
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect(
    pipe: impl Read + Send + 'static,
    stream: Stream,
    output: &Arc<(Mutex<Output>, Condvar)>,
) {
    output.0.lock().unwrap().opened += 1;
    let output = Arc::clone(output);
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            let (lock, wake) = &*output;
            let mut out = lock.lock().unwrap();
            match stream {
                Stream::Stdout => out.stdout.push(line.clone()),
                Stream::Stderr => out.stderr.push(line.clone()),
            }
            out.lines.push(line);
            wake.notify_all();
        }
        let (lock, wake) = &*output;
        lock.lock().unwrap().closed += 1;
        wake.notify_all();
    });
}
