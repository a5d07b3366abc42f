//! NVIDIA GPUs through `nvidia-smi`: two queries a check, run with bounds
//! (`run`), their CSV (`--format=csv,noheader,nounits`) read here.
//!
//! `--query-gpu=index,temperature.gpu,utilization.gpu,memory.used,memory.total`
//! prints a line a GPU, `0, 45, 3, 1234, 24576` (memory in MiB), any field
//! `[N/A]` or `[Not Supported]` when the GPU does not tell it.
//! `--query-compute-apps=pid,process_name,used_memory` prints a line a
//! compute process, `1234, /usr/local/bin/ollama, 4096`, nothing when
//! there is none; the name is `[Not Found]` or `[N/A]` for a process the
//! driver cannot name (another container). A line that cannot be read
//! fails the whole reading: the guard then keeps what it decided.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::reading::{clean, ComputeApp, GpuReading, Vendor, MAX_ERROR_CHARS, MAX_NAME_CHARS};
use super::run::Runner;

const QUERY_GPUS: &str =
    "--query-gpu=index,temperature.gpu,utilization.gpu,memory.used,memory.total";
const QUERY_APPS: &str = "--query-compute-apps=pid,process_name,used_memory";
const FORMAT: &str = "--format=csv,noheader,nounits";

const MIB: u64 = 1024 * 1024;

/// The hottest a reading may claim before it is taken for garbage.
const MAX_PLAUSIBLE_C: f64 = 200.0;

/// `nvidia-smi`, found on `PATH`.
pub struct Nvidia {
    pub program: PathBuf,
    runner: Runner,
}

impl Nvidia {
    pub fn new(program: PathBuf) -> Nvidia {
        Nvidia {
            program,
            runner: Runner::new("nvidia-smi"),
        }
    }

    /// Every GPU's figures.
    pub fn gpus(&self, timeout: Duration) -> Result<Vec<GpuReading>, String> {
        parse_gpus(&self.query(QUERY_GPUS, timeout)?)
    }

    /// The compute processes on every GPU.
    pub fn apps(&self, timeout: Duration) -> Result<Vec<ComputeApp>, String> {
        parse_apps(&self.query(QUERY_APPS, timeout)?)
    }

    fn query(&self, query: &str, timeout: Duration) -> Result<String, String> {
        self.runner.run(&self.program, &[query, FORMAT], timeout)
    }

    pub fn path(&self) -> &Path {
        &self.program
    }
}

/// Reads `--query-gpu`'s lines (empty ones skipped).
pub fn parse_gpus(text: &str) -> Result<Vec<GpuReading>, String> {
    lines(text).map(parse_gpu).collect()
}

/// One GPU: exactly five fields, the index a number, each other field a
/// number or a bracketed "not given".
fn parse_gpu(line: &str) -> Result<GpuReading, String> {
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    let [index, temp, busy, used, total] = fields[..] else {
        return Err(unexpected(line));
    };
    let index: u32 = index.parse().map_err(|_| unexpected(line))?;
    let figure = |field: &str| figure(field).ok_or_else(|| unexpected(line));
    let in_range = |value: Option<f64>, max: f64| value.filter(|v| (0.0..=max).contains(v));
    Ok(GpuReading {
        id: index.to_string(),
        vendor: Vendor::Nvidia,
        temp_c: in_range(figure(temp)?, MAX_PLAUSIBLE_C),
        busy_percent: in_range(figure(busy)?, 100.0),
        memory_used_bytes: mebibytes(figure(used)?),
        memory_total_bytes: mebibytes(figure(total)?),
    })
}

/// Reads `--query-compute-apps`' lines (empty ones skipped). The name sits
/// between the first and the last comma: it may hold commas itself.
pub fn parse_apps(text: &str) -> Result<Vec<ComputeApp>, String> {
    lines(text).map(parse_app).collect()
}

fn parse_app(line: &str) -> Result<ComputeApp, String> {
    let (pid, rest) = line.split_once(',').ok_or_else(|| unexpected(line))?;
    let (name, used) = rest.rsplit_once(',').ok_or_else(|| unexpected(line))?;
    let pid: u32 = pid.trim().parse().map_err(|_| unexpected(line))?;
    // The memory only informs: a figure that cannot be read is unknown.
    let used = figure(used.trim()).flatten();
    Ok(ComputeApp {
        pid,
        name: clean(name, MAX_NAME_CHARS),
        used_memory_bytes: mebibytes(used),
    })
}

/// The lines with something on them, `\r` and spaces trimmed.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|line| !line.is_empty())
}

/// A field: `Some(Some(value))` for a finite number, `Some(None)` for a
/// bracketed "not given" (`[N/A]`, `[Not Supported]`, `[Unknown Error]`),
/// `None` for anything else.
fn figure(field: &str) -> Option<Option<f64>> {
    if field.starts_with('[') && field.ends_with(']') {
        return Some(None);
    }
    decimal(field).map(Some)
}

/// A plain decimal (`45`, `-3`, `12.5`), as `nvidia-smi` writes its figures
/// with `nounits`. Read by hand: the standard library's float parser would
/// add its tables to the binary for numbers that are whole but for rare
/// fractions. Exponents, `inf` and `NaN` are not figures.
fn decimal(field: &str) -> Option<f64> {
    let (negative, digits) = match field.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, field),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) || fraction.len() > 6 {
        return None;
    }
    // Past u64 the figure is impossible anyway: the callers' ranges refuse it.
    let whole = whole
        .parse::<u64>()
        .map_or(f64::INFINITY, |whole| whole as f64);
    let scale = 10u64.pow(fraction.len() as u32);
    let fraction: u64 = match fraction {
        "" => 0,
        digits => digits.parse().ok()?,
    };
    let value = whole + fraction as f64 / scale as f64;
    Some(if negative { -value } else { value })
}

/// MiB as bytes; a negative or overflowing figure is unknown.
fn mebibytes(value: Option<f64>) -> Option<u64> {
    let value = value.filter(|v| *v >= 0.0 && *v <= (u64::MAX / MIB) as f64)?;
    Some(value as u64 * MIB)
}

fn unexpected(line: &str) -> String {
    clean(
        &format!("nvidia-smi printed an unexpected line: {line}"),
        MAX_ERROR_CHARS,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpu(id: &str, temp: Option<f64>, busy: Option<f64>, used: Option<u64>) -> GpuReading {
        GpuReading {
            id: id.into(),
            vendor: Vendor::Nvidia,
            temp_c: temp,
            busy_percent: busy,
            memory_used_bytes: used,
            memory_total_bytes: Some(24576 * MIB),
        }
    }

    #[test]
    fn gpu_lines_are_read() {
        let text = "0, 45, 3, 1234, 24576\r\n\r\n1, [N/A], [Not Supported], [N/A], 24576\n";
        assert_eq!(
            parse_gpus(text).unwrap(),
            vec![
                gpu("0", Some(45.0), Some(3.0), Some(1234 * MIB)),
                gpu("1", None, None, None),
            ]
        );
        // MiB, as bytes.
        let first = &parse_gpus(text).unwrap()[0];
        assert_eq!(first.memory_used_bytes, Some(1_293_942_784));
        // A large figure is taken as long as its bytes fit.
        let large = &parse_gpus("0, 45, 3, 2000000, 17592186044415").unwrap()[0];
        assert_eq!(large.memory_used_bytes, Some(2_097_152_000_000));
        assert_eq!(large.memory_total_bytes, Some(17_592_186_044_415 * MIB));
        assert_eq!(parse_gpus("").unwrap(), vec![]);
        assert_eq!(parse_gpus("\n \r\n").unwrap(), vec![]);
    }

    #[test]
    fn figures_are_plain_decimals_read_by_hand() {
        for (text, value) in [
            ("45", Some(45.0)),
            ("-3", Some(-3.0)),
            ("007", Some(7.0)),
            ("12.5", Some(12.5)),
            ("0.125", Some(0.125)),
            ("3.", Some(3.0)),
            ("1.123456", Some(1.123456)),
            ("1.1234567", None),
            ("", None),
            ("-", None),
            (".5", None),
            ("+5", None),
            ("1e3", None),
            ("inf", None),
            ("NaN", None),
            ("1.2.3", None),
            ("١٢", None),
        ] {
            assert_eq!(decimal(text), value, "{text:?}");
        }
        assert_eq!(decimal("99999999999999999999999"), Some(f64::INFINITY));
    }

    #[test]
    fn impossible_figures_are_unknown() {
        let huge = "99999999999999999999999";
        let text = format!("0, -5, 250, -1, 24576\n1, {huge}, 100, {huge}, 24576");
        assert_eq!(
            parse_gpus(&text).unwrap(),
            vec![
                gpu("0", None, None, None),
                gpu("1", None, Some(100.0), None)
            ]
        );
    }

    #[test]
    fn garbage_fails_the_reading() {
        for text in [
            "0, 45, 3, 1234",
            "0, 45, 3, 1234, 24576, 7",
            "x, 45, 3, 1234, 24576",
            "0, 1e3, 3, 1234, 24576",
            "0, [45, 3, 1234, 24576",
            "0, 45], 3, 1234, 24576",
            "0, 45, NaN, 1234, 24576",
            "-1, 45, 3, 1234, 24576",
            "0, hot, 3, 1234, 24576",
            "0, NaN, 3, 1234, 24576",
            "0, inf, 3, 1234, 24576",
            "No devices were found",
            "0, 45, 3, 1234, 24576\ngarbage",
        ] {
            assert!(parse_gpus(text).is_err(), "{text:?}");
        }
        let error = parse_gpus("\u{1b}[2Jgarbage\u{fffd}").unwrap_err();
        assert_eq!(
            error,
            "nvidia-smi printed an unexpected line: \\u{1b}[2Jgarbage\u{fffd}"
        );
        let long = parse_gpus(&"y".repeat(1000)).unwrap_err();
        assert!(long.chars().count() <= MAX_ERROR_CHARS);
    }

    #[test]
    fn non_utf8_output_is_garbage_not_a_panic() {
        let bytes = b"0, 4\xff5, 3, 1234, 24576";
        assert!(parse_gpus(&String::from_utf8_lossy(bytes)).is_err());
    }

    #[test]
    fn compute_apps_are_read() {
        let text = "1234, /usr/local/bin/ollama, 4096\r\n\n\
                    77, [Not Found], [N/A]\n\
                    88, C:\\Games\\Big, Game.exe, 512\n\
                    99, bad\u{1b}name, -3\n";
        let apps = parse_apps(text).unwrap();
        assert_eq!(
            apps,
            vec![
                ComputeApp {
                    pid: 1234,
                    name: "/usr/local/bin/ollama".into(),
                    used_memory_bytes: Some(4096 * MIB)
                },
                ComputeApp {
                    pid: 77,
                    name: "[Not Found]".into(),
                    used_memory_bytes: None
                },
                ComputeApp {
                    pid: 88,
                    name: "C:\\\\Games\\\\Big, Game.exe".into(),
                    used_memory_bytes: Some(512 * MIB)
                },
                ComputeApp {
                    pid: 99,
                    name: "bad\\u{1b}name".into(),
                    used_memory_bytes: None
                },
            ]
        );
        assert_eq!(parse_apps("").unwrap(), vec![]);
    }

    #[test]
    fn compute_app_garbage_fails_the_reading() {
        for text in [
            "1234",
            "1234, ollama",
            "x, ollama, 5",
            "-4, ollama, 5",
            "99999999999, a, 1",
        ] {
            assert!(parse_apps(text).is_err(), "{text:?}");
        }
        let long = format!("5, {}, 1", "n".repeat(500));
        assert_eq!(
            parse_apps(&long).unwrap()[0].name.chars().count(),
            MAX_NAME_CHARS
        );
    }

    #[cfg(unix)]
    #[test]
    fn both_queries_run_the_tool() {
        let dir = tempfile::tempdir().unwrap();
        let body = "case \"$1\" in\n\
                    --query-gpu=*) echo '0, 45, 3, 1234, 24576' ;;\n\
                    --query-compute-apps=*) echo '42, /usr/bin/blender, 100' ;;\n\
                    esac\n\
                    [ \"$2\" = --format=csv,noheader,nounits ] || exit 2";
        let tool = crate::gpu::fake_tool::script(dir.path(), "nvidia-smi", body);
        let nvidia = Nvidia::new(tool);
        let timeout = Duration::from_secs(5);
        assert_eq!(
            nvidia.gpus(timeout).unwrap(),
            vec![gpu("0", Some(45.0), Some(3.0), Some(1234 * MIB))]
        );
        assert_eq!(nvidia.apps(timeout).unwrap()[0].pid, 42);
    }
}
