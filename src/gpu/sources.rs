//! Where the GPUs are read from, found once at the start: `nvidia-smi` on
//! `PATH` (searched here, as a shell would, without running one) and AMD
//! cards under the sysfs root; both may be present, and then both are
//! read. A check reads every source into one [`Sample`].

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::amd;
use super::nvidia::Nvidia;
use super::reading::Sample;
use crate::platform::files::is_executable;

/// The tools found at the start.
pub struct Sources {
    pub nvidia: Option<Nvidia>,
    /// The sysfs root, when it had an AMD card.
    pub amd_root: Option<PathBuf>,
}

impl Sources {
    /// Looks for the tools: `path` is the value of `PATH` (given, not read
    /// here, so that tests need not change the process's environment).
    /// `Err`: why there is none, in English, for the one warning.
    pub fn find(path: Option<&OsStr>, sysfs_root: &Path) -> Result<Sources, String> {
        let tool = format!("nvidia-smi{}", std::env::consts::EXE_SUFFIX);
        let nvidia = find_on_path(&tool, path).map(Nvidia::new);
        let amd_root = (!amd::cards(sysfs_root).is_empty()).then(|| sysfs_root.to_path_buf());
        if nvidia.is_none() && amd_root.is_none() {
            return Err(format!(
                "gpu_guard is on but no GPU tool was found ({tool} is not on PATH, no AMD GPU \
                 under {}): the guard stays off",
                sysfs_root.display()
            ));
        }
        Ok(Sources { nvidia, amd_root })
    }

    /// What the guard reads, for the log: `nvidia-smi (/usr/bin/nvidia-smi)
    /// and AMD sysfs under /sys/class/drm`.
    pub fn describe(&self) -> String {
        let nvidia = self
            .nvidia
            .as_ref()
            .map(|n| format!("nvidia-smi ({})", n.path().display()));
        let amd = self
            .amd_root
            .as_ref()
            .map(|root| format!("AMD sysfs under {}", root.display()));
        let both: Vec<String> = nvidia.into_iter().chain(amd).collect();
        both.join(" and ")
    }

    /// One check: every GPU, and NVIDIA's compute processes when
    /// `want_apps` (only other users need them). A failed `nvidia-smi`
    /// fails the whole check, AMD's figures included: a check that saw
    /// half the GPUs must not let the box come back.
    pub fn read(&self, want_apps: bool, timeout: Duration) -> Result<Sample, String> {
        let mut sample = Sample::default();
        if let Some(nvidia) = &self.nvidia {
            sample.gpus = nvidia.gpus(timeout)?;
            if want_apps {
                sample.apps = nvidia.apps(timeout)?;
            }
        }
        if let Some(root) = &self.amd_root {
            sample.gpus.extend(amd::read(root));
        }
        Ok(sample)
    }
}

/// The first executable file `name` in the directories of `path` (an
/// empty entry is skipped: a shell would take it for the current
/// directory, which is no place to pick a tool from).
pub fn find_on_path(name: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    std::env::split_paths(path?)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|file| std::fs::metadata(file).is_ok_and(|meta| is_executable(&meta)))
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;

    #[test]
    fn nvidia_smi_is_found_on_the_path_given() {
        let (empty, with) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let tool = crate::gpu::fake_tool::script(with.path(), "nvidia-smi", "exit 0");
        let path = std::env::join_paths([empty.path(), with.path()]).unwrap();
        assert_eq!(find_on_path("nvidia-smi", Some(&path)), Some(tool.clone()));
        let only_empty = std::env::join_paths([empty.path()]).unwrap();
        assert_eq!(find_on_path("nvidia-smi", Some(&only_empty)), None);
        assert_eq!(find_on_path("nvidia-smi", None), None);
        // A file without an execute bit is passed over, as by a shell.
        std::fs::write(empty.path().join("nvidia-smi"), "#!/bin/sh\n").unwrap();
        assert_eq!(find_on_path("nvidia-smi", Some(&path)), Some(tool.clone()));
        // A directory of that name too.
        let shadow = tempfile::tempdir().unwrap();
        std::fs::create_dir(shadow.path().join("nvidia-smi")).unwrap();
        let path = std::env::join_paths([shadow.path(), with.path()]).unwrap();
        assert_eq!(find_on_path("nvidia-smi", Some(&path)), Some(tool));
    }

    #[test]
    fn sources_are_what_was_found() {
        let (bin, sysfs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let nothing = tempfile::tempdir().unwrap();
        let empty_path = std::env::join_paths([nothing.path()]).unwrap();
        let error = Sources::find(Some(&empty_path), sysfs.path())
            .err()
            .unwrap();
        assert_eq!(
            error,
            format!(
                "gpu_guard is on but no GPU tool was found (nvidia-smi is not on PATH, no AMD \
                 GPU under {}): the guard stays off",
                sysfs.path().display()
            )
        );
        let body = "echo '0, 45, 3, 1234, 24576'";
        crate::gpu::fake_tool::script(bin.path(), "nvidia-smi", body);
        let path = std::env::join_paths([bin.path()]).unwrap();
        let nvidia_only = Sources::find(Some(&path), sysfs.path()).unwrap();
        assert!(nvidia_only.nvidia.is_some() && nvidia_only.amd_root.is_none());
        let busy = sysfs.path().join("card0/device/gpu_busy_percent");
        std::fs::create_dir_all(busy.parent().unwrap()).unwrap();
        std::fs::write(&busy, "12\n").unwrap();
        let amd_only = Sources::find(Some(&empty_path), sysfs.path()).unwrap();
        assert!(amd_only.nvidia.is_none() && amd_only.amd_root.is_some());
        assert_eq!(
            amd_only.describe(),
            format!("AMD sysfs under {}", sysfs.path().display())
        );
        let both = Sources::find(Some(&path), sysfs.path()).unwrap();
        let sample = both.read(false, Duration::from_secs(5)).unwrap();
        let ids: Vec<&str> = sample.gpus.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(ids, ["0", "card0"]);
        assert!(both.describe().contains(" and AMD sysfs under "));
    }
}
