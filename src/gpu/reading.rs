//! What one check reads from the GPUs, shared by the readers (`nvidia`,
//! `amd`) that produce it and the verdict that judges it: each GPU's
//! figures ([`GpuReading`]), the compute processes NVIDIA lists
//! ([`ComputeApp`]), which of those is the model server, and the reasons
//! to step back ([`Trouble`]). Everything read from outside (process
//! names, error texts) goes through [`clean`] before it is kept.

use std::fmt::Write as _;

use crate::text::outside;

/// Whose tool a GPU was read with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vendor {
    Nvidia,
    Amd,
}

impl Vendor {
    pub fn as_str(self) -> &'static str {
        match self {
            Vendor::Nvidia => "nvidia",
            Vendor::Amd => "amd",
        }
    }
}

/// One GPU at one check; a figure its tool did not give is `None`.
#[derive(Clone, Debug, PartialEq)]
pub struct GpuReading {
    /// `"0"` for NVIDIA's index 0, `"card1"` for AMD's `card1`.
    pub id: String,
    pub vendor: Vendor,
    pub temp_c: Option<f64>,
    pub busy_percent: Option<f64>,
    pub memory_used_bytes: Option<u64>,
    pub memory_total_bytes: Option<u64>,
}

/// A compute process NVIDIA lists on one of its GPUs.
#[derive(Clone, Debug, PartialEq)]
pub struct ComputeApp {
    pub pid: u32,
    /// Cleaned ([`clean`]); `[Not Found]`/`[N/A]` when the driver cannot
    /// tell (a process in another container).
    pub name: String,
    pub used_memory_bytes: Option<u64>,
}

/// Everything one check read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sample {
    pub gpus: Vec<GpuReading>,
    pub apps: Vec<ComputeApp>,
}

/// Why the box must step back.
#[derive(Clone, Debug, PartialEq)]
pub enum Trouble {
    /// A GPU is hotter than `gpu_max_temp_c`.
    Hot {
        gpu: String,
        temp_c: f64,
        max_c: f64,
    },
    /// A compute process that is not the model server.
    OtherProcess { pid: u32, name: String },
    /// A GPU busy at two checks in a row while the relay answered nothing
    /// (a game: graphics processes are not listed as compute processes).
    BusyWhileIdle { gpu: String, busy_percent: f64 },
}

impl Trouble {
    /// In English, for the log.
    pub fn describe(&self) -> String {
        match self {
            Trouble::Hot { gpu, temp_c, max_c } => format!(
                "GPU {gpu} is at {} °C (over {} °C)",
                number(*temp_c),
                number(*max_c)
            ),
            Trouble::OtherProcess { pid, name } => {
                format!("another program uses the GPU: {name} (pid {pid})")
            }
            Trouble::BusyWhileIdle { gpu, busy_percent } => format!(
                "GPU {gpu} is {} % busy while the client serves nothing",
                number(*busy_percent)
            ),
        }
    }

    /// A metrics label and ledger reason: `gpu_hot`, or `gpu_in_use` for
    /// both kinds of other user.
    pub fn kind(&self) -> &'static str {
        match self {
            Trouble::Hot { .. } => "gpu_hot",
            Trouble::OtherProcess { .. } | Trouble::BusyWhileIdle { .. } => "gpu_in_use",
        }
    }
}

/// `91`, or `90.5` when the figure has a fraction.
fn number(value: f64) -> String {
    let mut text = String::new();
    match value.fract() == 0.0 && value.abs() < 1e15 {
        true => write!(text, "{}", value as i64),
        false => write!(text, "{value:.1}"),
    }
    .map(|()| text)
    .unwrap_or_default()
}

/// The longest process name kept, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// The longest error text kept, in characters.
pub const MAX_ERROR_CHARS: usize = 200;

/// Text from outside (a process name, a tool's error) made safe to keep
/// and log: control characters escaped ([`outside`]), then cut to at most
/// `max` characters (the last one `…` when cut).
pub fn clean(text: &str, max: usize) -> String {
    let shown = outside(text.trim());
    if shown.chars().count() <= max {
        return shown;
    }
    let kept: String = shown.chars().take(max.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// The model servers a GPU box runs for the relay, as they appear in a
/// process's base name (lowercase, `.exe` stripped); `lms` (LM Studio's
/// command line) only as the whole name, being part of many words.
const MODEL_SERVERS: [&str; 9] = [
    "ollama",
    "llama-server",
    "llama_server",
    "vllm",
    "lm studio",
    "lm-studio",
    "lmstudio",
    "local-ai",
    "localai",
];

/// Whether a compute process is the model server: `None` when its name is
/// unknown (`[Not Found]`, `[N/A]`, empty: containers hide the names, and
/// the model server may well run in one).
pub fn is_model_server(name: &str) -> Option<bool> {
    let name = name.trim();
    if name.is_empty() || name.starts_with('[') {
        return None;
    }
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let base = base.to_ascii_lowercase();
    let base = base.strip_suffix(".exe").unwrap_or(&base);
    Some(base == "lms" || MODEL_SERVERS.iter().any(|server| base.contains(server)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_server_is_known_by_its_base_name() {
        for name in [
            "/usr/local/bin/ollama",
            "ollama",
            "C:\\Program Files\\Ollama\\ollama.exe",
            "C:\\Users\\me\\AppData\\Local\\Programs\\Ollama\\OLLAMA_LLAMA_SERVER.EXE",
            "/opt/llama.cpp/build/bin/llama-server",
            "/usr/bin/python3 -m vllm",
            "vllm",
            "C:\\Program Files\\LM Studio\\LM Studio.exe",
            "/home/me/.lmstudio/bin/lms",
            "/usr/bin/local-ai",
            "localai",
        ] {
            assert_eq!(is_model_server(name), Some(true), "{name}");
        }
        for name in [
            "/usr/bin/blender",
            "C:\\Games\\game.exe",
            "python3",
            "/usr/bin/lmsensors",
            "/opt/ollama/bin/python3",
        ] {
            assert_eq!(is_model_server(name), Some(false), "{name}");
        }
        for name in ["[Not Found]", "[N/A]", "", "  "] {
            assert_eq!(is_model_server(name), None, "{name:?}");
        }
    }

    #[test]
    fn outside_text_is_cleaned_and_bounded() {
        assert_eq!(clean(" a\nb\u{1b}[2J ", 100), "a\\nb\\u{1b}[2J");
        let long = "ж".repeat(150);
        let cut = clean(&long, MAX_NAME_CHARS);
        assert_eq!(cut.chars().count(), MAX_NAME_CHARS);
        assert_eq!(clean(&"x".repeat(100), 100), "x".repeat(100));
        assert!(cut.ends_with('…'));
        assert_eq!(clean("short", 100), "short");
    }

    #[test]
    fn troubles_describe_themselves_in_english() {
        let hot = Trouble::Hot {
            gpu: "0".into(),
            temp_c: 91.0,
            max_c: 85.0,
        };
        assert_eq!(hot.describe(), "GPU 0 is at 91 °C (over 85 °C)");
        assert_eq!(hot.kind(), "gpu_hot");
        let other = Trouble::OtherProcess {
            pid: 4242,
            name: "blender".into(),
        };
        assert_eq!(
            other.describe(),
            "another program uses the GPU: blender (pid 4242)"
        );
        assert_eq!(other.kind(), "gpu_in_use");
        let busy = Trouble::BusyWhileIdle {
            gpu: "0".into(),
            busy_percent: 97.0,
        };
        assert_eq!(
            busy.describe(),
            "GPU 0 is 97 % busy while the client serves nothing"
        );
        assert_eq!(busy.kind(), "gpu_in_use");
        let fraction = Trouble::Hot {
            gpu: "card1".into(),
            temp_c: 90.5,
            max_c: 85.0,
        };
        assert_eq!(fraction.describe(), "GPU card1 is at 90.5 °C (over 85 °C)");
    }
}
