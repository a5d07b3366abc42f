//! A tool run with bounds (`nvidia-smi`), so that a hanging or hostile
//! one can hold neither the guard nor the relay: its standard output is
//! read on a helper thread, at most [`MAX_OUTPUT`] bytes, and handed back
//! over a channel the caller waits on for at most its timeout; on timeout
//! (or too much output) the child is killed and reaped. A reader thread
//! that outlives its child (a grandchild still holds the pipe) is noted,
//! and no other run starts until it ends, so reader threads never pile
//! up.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::reading::{clean, MAX_ERROR_CHARS};

/// The most a run may print on its standard output.
pub const MAX_OUTPUT: usize = 64 * 1024;

/// The most of its error output read (for the error's first line).
const MAX_ERROR_OUTPUT: usize = 4096;

/// Runs one tool at a time, remembering a reader thread still stuck.
pub struct Runner {
    /// The tool's name in errors (`nvidia-smi`).
    name: String,
    /// Set while a reader thread runs; cleared by the thread as it ends.
    reading: Arc<AtomicBool>,
}

/// What the reader thread hands back: the standard output (or `None` when
/// it was over [`MAX_OUTPUT`]) and the start of the error output.
type Output = (Option<Vec<u8>>, Vec<u8>);

impl Runner {
    pub fn new(name: &str) -> Runner {
        Runner {
            name: name.to_string(),
            reading: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Runs `program args`; its standard output, or why there is none, in
    /// English: the first line of its output when it exits non-zero, or
    /// that it did not answer within `timeout`, printed too much or could
    /// not be started.
    pub fn run(&self, program: &Path, args: &[&str], timeout: Duration) -> Result<String, String> {
        if self.reading.load(Ordering::Acquire) {
            return Err(format!(
                "an earlier {} still holds its output open (a process it started has not \
                 ended): not run again until it does",
                self.name
            ));
        }
        let deadline = Instant::now() + timeout;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                clean(
                    &format!("could not run {}: {e}", self.name),
                    MAX_ERROR_CHARS,
                )
            })?;
        let output = self.read_on_a_thread(&mut child)?;
        let (stdout, stderr) = match output.recv_timeout(timeout) {
            Ok(output) => output,
            Err(_) => {
                stop(&mut child);
                return Err(format!(
                    "{} did not answer within {}",
                    self.name,
                    seconds(timeout)
                ));
            }
        };
        let Some(stdout) = stdout else {
            stop(&mut child);
            return Err(format!("{} printed more than 64 KiB", self.name));
        };
        let status = wait_until(&mut child, deadline).ok_or_else(|| {
            stop(&mut child);
            format!("{} did not answer within {}", self.name, seconds(timeout))
        })?;
        self.judge(status, stdout, &stderr)
    }

    /// Starts the thread that reads the child's output; the receiver gets
    /// it once both pipes are closed (or standard output overflowed).
    fn read_on_a_thread(&self, child: &mut Child) -> Result<mpsc::Receiver<Output>, String> {
        let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
        let (tx, rx) = mpsc::channel();
        let reading = Arc::clone(&self.reading);
        reading.store(true, Ordering::Release);
        let started = thread::Builder::new()
            .name("gpu-read".into())
            .spawn(move || {
                let out = stdout.map(|pipe| read_at_most(pipe, MAX_OUTPUT));
                let out = out.unwrap_or(Some(Vec::new()));
                // Past the limit the child is killed: its errors do not
                // matter, and reading them could wait on a grandchild.
                let err = match (&out, stderr) {
                    (Some(_), Some(pipe)) => read_at_most(pipe, MAX_ERROR_OUTPUT),
                    _ => None,
                };
                // Cleared before the output is handed over: the caller
                // may start the next run as soon as it has it.
                reading.store(false, Ordering::Release);
                let _ = tx.send((out, err.unwrap_or_default()));
            });
        started.map_err(|e| {
            self.reading.store(false, Ordering::Release);
            stop(child);
            format!("could not start a thread to read {}: {e}", self.name)
        })?;
        Ok(rx)
    }

    /// The output of a run that ended, or its error.
    fn judge(&self, status: ExitStatus, stdout: Vec<u8>, stderr: &[u8]) -> Result<String, String> {
        let stdout = String::from_utf8_lossy(&stdout).into_owned();
        if status.success() {
            return Ok(stdout);
        }
        let stderr = String::from_utf8_lossy(stderr);
        let first_line = [stdout.as_str(), &stderr]
            .into_iter()
            .flat_map(str::lines)
            .map(str::trim)
            .find(|line| !line.is_empty());
        Err(match first_line {
            Some(line) => clean(line, MAX_ERROR_CHARS),
            None => format!("{} ended with {status} and printed nothing", self.name),
        })
    }
}

/// Reads `pipe` to its end; `None` when it has more than `limit` bytes.
/// A read error ends the output where it was.
fn read_at_most(pipe: impl Read, limit: usize) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    let _ = pipe.take(limit as u64 + 1).read_to_end(&mut bytes);
    (bytes.len() <= limit).then_some(bytes)
}

/// Waits for a child that closed its output to exit, until `deadline`:
/// most exit at once; one that closed its pipes and goes on is asked again
/// after 1, 2, 4... ms (at most 50 ms apart).
fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    let mut pause = Duration::from_millis(1);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        thread::sleep(pause.min(left));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Kills the child and reaps it (killing a child that already exited only
/// fails; the wait then collects it).
fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// `10 s`, or `0.3 s` for a timeout under a second (tests).
pub fn seconds(span: Duration) -> String {
    match span.subsec_millis() {
        0 => format!("{} s", span.as_secs()),
        _ => format!("{:.1} s", span.as_secs_f64()),
    }
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;
    use crate::gpu::fake_tool::script;

    fn run(body: &str, timeout: Duration) -> (Result<String, String>, Duration) {
        let dir = tempfile::tempdir().unwrap();
        let tool = script(dir.path(), "nvidia-smi", body);
        let runner = Runner::new("nvidia-smi");
        let started = Instant::now();
        let result = runner.run(&tool, &["--query-gpu=index"], timeout);
        (result, started.elapsed())
    }

    #[test]
    fn scripted_output_comes_back() {
        let (result, _) = run("echo \"0, 45, 3, 1234, 24576 $1\"", Duration::from_secs(5));
        assert_eq!(result.unwrap(), "0, 45, 3, 1234, 24576 --query-gpu=index\n");
    }

    #[test]
    fn no_output_is_an_empty_answer() {
        let (result, _) = run("exit 0", Duration::from_secs(5));
        assert_eq!(result.unwrap(), "");
    }

    #[test]
    fn a_failure_is_the_first_line_of_its_output() {
        let message = "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA \
                       driver. Make sure that the latest NVIDIA driver is installed and running.";
        let (result, _) = run(
            &format!("echo \"{message}\"\necho second\nexit 9"),
            Duration::from_secs(5),
        );
        assert_eq!(result.unwrap_err(), message);
        let (result, _) = run(
            "echo '  on stderr \u{1b}[31m' >&2\nexit 9",
            Duration::from_secs(5),
        );
        assert_eq!(result.unwrap_err(), "on stderr \\u{1b}[31m");
        let (result, _) = run("exit 9", Duration::from_secs(5));
        let error = result.unwrap_err();
        assert!(error.starts_with("nvidia-smi ended with"), "{error}");
        assert!(error.contains('9'), "{error}");
        let long = "x".repeat(500);
        let (result, _) = run(&format!("echo {long}\nexit 3"), Duration::from_secs(5));
        assert_eq!(result.unwrap_err().chars().count(), MAX_ERROR_CHARS);
    }

    #[test]
    fn too_much_output_is_an_error_at_once() {
        let body = "head -c 10000000 /dev/zero | tr '\\0' x";
        let (result, took) = run(body, Duration::from_secs(20));
        assert_eq!(result.unwrap_err(), "nvidia-smi printed more than 64 KiB");
        assert!(took < Duration::from_secs(10), "{took:?}");
    }

    #[test]
    fn a_tool_that_never_exits_is_killed_at_the_timeout() {
        let (result, took) = run("exec sleep 1000", Duration::from_millis(300));
        assert_eq!(
            result.unwrap_err(),
            "nvidia-smi did not answer within 0.3 s"
        );
        assert!(took < Duration::from_secs(3), "{took:?}");
    }

    #[test]
    fn a_tool_that_closes_its_output_and_goes_on_is_killed_too() {
        let (result, took) = run("exec >&- 2>&-\nexec sleep 1000", Duration::from_millis(300));
        assert_eq!(
            result.unwrap_err(),
            "nvidia-smi did not answer within 0.3 s"
        );
        assert!(took < Duration::from_secs(3), "{took:?}");
    }

    #[test]
    fn a_grandchild_holding_the_pipe_stops_further_runs_until_it_ends() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("sleeper");
        // `sh` waits for its `sleep` (not exec'd): killing `sh` leaves the
        // sleep holding the output pipe, and the reader thread on it.
        let body = format!("sleep 1000 &\necho $! > '{}'\nwait", pid_file.display());
        let tool = script(dir.path(), "nvidia-smi", &body);
        let runner = Runner::new("nvidia-smi");
        let timeout = Duration::from_millis(300);
        let started = Instant::now();
        let error = runner.run(&tool, &[], timeout).unwrap_err();
        assert_eq!(error, "nvidia-smi did not answer within 0.3 s");
        assert!(started.elapsed() < Duration::from_secs(3));
        let again = runner.run(&tool, &[], timeout).unwrap_err();
        assert!(again.contains("still holds its output open"), "{again}");
        assert!(started.elapsed() < Duration::from_secs(3));
        // End the sleeper: the reader thread ends, and runs start again.
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        std::process::Command::new("kill")
            .arg(pid.trim())
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while runner.reading.load(Ordering::Acquire) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        let ok = script(dir.path(), "nvidia-smi-2", "echo fine");
        assert_eq!(runner.run(&ok, &[], timeout).unwrap(), "fine\n");
    }

    #[test]
    fn a_tool_that_cannot_start_says_so() {
        let runner = Runner::new("nvidia-smi");
        let error = runner
            .run(
                Path::new("/nonexistent/nvidia-smi"),
                &[],
                Duration::from_secs(1),
            )
            .unwrap_err();
        assert!(error.starts_with("could not run nvidia-smi: "), "{error}");
    }

    #[test]
    fn timeouts_read_as_seconds() {
        assert_eq!(seconds(Duration::from_secs(10)), "10 s");
        assert_eq!(seconds(Duration::from_millis(1500)), "1.5 s");
    }
}
