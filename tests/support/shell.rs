//! A command line run by `sh -c`, as an owner types it, for the tests that
//! run the documents' commands (tests/doc_commands.rs): its environment
//! starts clean of everything the client reads (see [`super::launch`]),
//! both output streams are collected by threads, every wait is bounded, and
//! the client it started (a child of `sh`, `flock` or `nohup`, or the `sh`
//! process itself after `exec`) can be found and stopped by its pid.
//!
//! Not in `mod.rs`: tests/doc_commands.rs includes it by path, so the other
//! test binaries are not built with it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::launch;

/// A running `sh -c COMMAND`.
pub struct Shell {
    child: Child,
    output: Arc<Mutex<Vec<u8>>>,
    readers: Vec<thread::JoinHandle<()>>,
}

impl Shell {
    /// Starts `sh -c command` in `dir` with exactly `env` added to a clean
    /// environment; `stdin` is written to its standard input (then closed),
    /// or it reads `/dev/null`.
    pub fn start(
        command: &str,
        dir: &Path,
        env: &[(String, String)],
        stdin: Option<&str>,
    ) -> Shell {
        let mut sh = Command::new("sh");
        sh.arg("-c").arg(command).current_dir(dir);
        launch::clean_env(&mut sh);
        sh.envs(env.iter().map(|(key, value)| (key, value)));
        sh.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        sh.stdout(Stdio::piped()).stderr(Stdio::piped());
        // A client left by a failed test would hold its port and lock.
        launch::die_with_parent(&mut sh);
        let mut child = sh.spawn().expect("start sh");
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            let text = text.to_string();
            thread::spawn(move || {
                let _ = pipe.write_all(text.as_bytes());
            });
        }
        let output = Arc::new(Mutex::new(Vec::new()));
        let stdout = child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>);
        let stderr = child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>);
        let readers = [stdout, stderr]
            .into_iter()
            .flatten()
            .map(|pipe| collect(pipe, &output))
            .collect();
        Shell {
            child,
            output,
            readers,
        }
    }

    /// Waits for `sh` to exit; `None` (and killed) after `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for sh") {
                self.drain_output(deadline.max(Instant::now() + Duration::from_secs(2)));
                return Some(status);
            }
            if Instant::now() >= deadline {
                self.kill();
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Lets the output threads reach the end of the pipes, until
    /// `deadline`: a process `sh` left behind may hold them open.
    fn drain_output(&mut self, deadline: Instant) {
        while self.readers.iter().any(|reader| !reader.is_finished()) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        self.readers.clear();
    }

    /// Whether `sh` (or what it became) still runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Everything printed so far, both streams.
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// The process at the end of the one-child chain from `sh`: the client
    /// when `sh` runs it (or execs it, or runs `flock`/`nohup` that run
    /// it). Call once it is known to run (the hub saw it).
    pub fn innermost_pid(&self) -> u32 {
        let mut pid = self.child.id();
        loop {
            match children(pid).as_slice() {
                [only] => pid = *only,
                _ => return pid,
            }
        }
    }

    /// Sends SIGTERM to [`Shell::innermost_pid`]: a client stops as on
    /// `systemctl stop`, and what started it exits with its status.
    pub fn terminate_innermost(&self) {
        let pid = self.innermost_pid();
        // SAFETY: kill has no memory effects; the pid is a descendant of our
        // unreaped child, found just now.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGTERM);
        }
    }

    fn kill(&mut self) {
        let inner = self.innermost_pid();
        if inner != self.child.id() {
            // SAFETY: as above; SIGKILL, as the test gives up on it.
            unsafe {
                libc::kill(inner as libc::pid_t, libc::SIGKILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        if self.running() {
            self.kill();
        }
    }
}

/// The pids whose parent is `pid`, from `/proc/*/stat`.
fn children(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|candidate| parent_of(*candidate) == Some(pid))
        .collect()
}

/// The parent's pid: the fourth field of `/proc/PID/stat`, after the
/// command name in parentheses (which may hold spaces).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

fn collect(mut pipe: Box<dyn Read + Send>, output: &Arc<Mutex<Vec<u8>>>) -> thread::JoinHandle<()> {
    let output = Arc::clone(output);
    thread::spawn(move || {
        let mut buffer = [0; 4096];
        while let Ok(n @ 1..) = pipe.read(&mut buffer) {
            output.lock().unwrap().extend_from_slice(&buffer[..n]);
        }
    })
}
