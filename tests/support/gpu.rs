//! A stand-in `nvidia-smi` for the GPU guard's end-to-end tests: an `sh`
//! script in a directory of its own, put first on the client's `PATH`
//! ([`FakeNvidiaSmi::path_env`]), that answers from files a test changes
//! while the client runs:
//!
//! - `--query-gpu=...` prints `gpus.csv` (`0, 45, 3, 1234, 24576`: index,
//!   °C, busy %, MiB used, MiB total);
//! - `--query-compute-apps=...` prints `apps.csv` (`1234, /usr/bin/ollama,
//!   4096`; empty: no compute process);
//! - while `fail` exists it prints its text and exits 9, as `nvidia-smi`
//!   does when it cannot reach the driver;
//! - while `hang` exists it never answers (`exec sleep 1000`);
//! - each run's first argument is appended to `calls`.
//!
//! Each file is written whole (a temp file renamed into place), so the
//! script never reads half of one. Unix only (it is a shell script).

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// What `nvidia-smi` prints when the driver cannot be reached.
pub const DRIVER_FAILED: &str = "NVIDIA-SMI has failed because it couldn't communicate with \
    the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.";

/// One cool, idle GPU.
pub const COOL_GPU: &str = "0, 45, 3, 1234, 24576\n";

/// The stand-in and the files it answers from.
pub struct FakeNvidiaSmi {
    dir: TempDir,
}

impl FakeNvidiaSmi {
    /// Writes the script into a fresh directory, with one cool, idle GPU
    /// and no compute process.
    pub fn install() -> FakeNvidiaSmi {
        let dir = tempfile::Builder::new()
            .prefix("opc-nvidia-smi-")
            .tempdir()
            .expect("a directory for nvidia-smi");
        let fake = FakeNvidiaSmi { dir };
        fake.set_gpus(COOL_GPU);
        fake.set_apps("");
        fake.write_script();
        fake
    }

    /// The directory the script and its files are in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The script itself.
    pub fn program(&self) -> PathBuf {
        self.dir().join("nvidia-smi")
    }

    /// What `--query-gpu` prints from now on.
    pub fn set_gpus(&self, csv: &str) {
        self.put("gpus.csv", csv);
    }

    /// What `--query-compute-apps` prints from now on.
    pub fn set_apps(&self, csv: &str) {
        self.put("apps.csv", csv);
    }

    /// From now on every run prints `message` and exits 9.
    pub fn fail(&self, message: &str) {
        self.put("fail", message);
    }

    /// From now on every run hangs (`exec sleep 1000`) until the client
    /// kills it.
    pub fn hang(&self) {
        self.put("hang", "");
    }

    /// Ends [`fail`](Self::fail) and [`hang`](Self::hang).
    pub fn heal(&self) {
        for name in ["fail", "hang"] {
            let _ = std::fs::remove_file(self.dir().join(name));
        }
    }

    /// How many times it was run with `--query-gpu` (once per check).
    pub fn gpu_queries(&self) -> usize {
        let calls = std::fs::read_to_string(self.dir().join("calls")).unwrap_or_default();
        calls
            .lines()
            .filter(|l| l.starts_with("--query-gpu="))
            .count()
    }

    /// `PATH` with the stand-in's directory first, for the client's
    /// environment.
    pub fn path_env(&self) -> String {
        let rest = std::env::var_os("PATH").unwrap_or_default();
        let dirs = std::iter::once(self.dir().to_path_buf()).chain(std::env::split_paths(&rest));
        let path = std::env::join_paths(dirs).expect("a PATH with the stand-in first");
        path.into_string().expect("PATH in UTF-8")
    }

    /// Writes `name` whole: a temp file renamed into place.
    fn put(&self, name: &str, text: &str) {
        let temp = self.dir().join(format!(".{name}.tmp"));
        std::fs::write(&temp, text).expect("write a stand-in file");
        std::fs::rename(&temp, self.dir().join(name)).expect("rename a stand-in file");
    }

    /// The script. Copied into place by `cp`: a file this process wrote
    /// itself could not be run while another test's fork (on another
    /// thread) still held the write descriptor ("text file busy").
    fn write_script(&self) {
        let dir = self.dir().display();
        let script = format!(
            "#!/bin/sh\n\
             dir='{dir}'\n\
             echo \"$1\" >> \"$dir/calls\"\n\
             if [ -e \"$dir/hang\" ]; then exec sleep 1000; fi\n\
             if [ -e \"$dir/fail\" ]; then cat \"$dir/fail\"; exit 9; fi\n\
             case \"$1\" in\n\
             --query-gpu=*) cat \"$dir/gpus.csv\" ;;\n\
             --query-compute-apps=*) cat \"$dir/apps.csv\" ;;\n\
             *) echo \"nvidia-smi stand-in: unexpected arguments: $*\" >&2; exit 2 ;;\n\
             esac\n"
        );
        let source = self.dir().join(".nvidia-smi.source");
        std::fs::write(&source, script).expect("write the stand-in script");
        make_executable(&source);
        let copied = Command::new("cp")
            .arg(&source)
            .arg(self.program())
            .status()
            .expect("run cp");
        assert!(copied.success(), "cp the stand-in script");
    }
}

#[cfg(unix)]
fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .expect("make the stand-in executable");
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) {}
