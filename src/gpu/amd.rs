//! AMD GPUs through sysfs (the `amdgpu` driver), under a root that is
//! `/sys/class/drm` unless the owner set `gpu_sysfs_root`: each GPU is a
//! `card<N>` directory (not a connector such as `card0-DP-1`) whose
//! `device/gpu_busy_percent` holds its load in percent; a card without it
//! is not one this reads. Beside it, `device/hwmon/hwmon*/temp1_input` is
//! the temperature in millidegrees Celsius, and `device/mem_info_vram_used`
//! and `device/mem_info_vram_total` the memory in bytes, when the driver
//! gives them. The cards are listed again at every check (cheap, and a
//! GPU may come or go); a file that cannot be read is an unknown figure.
//! Files are opened without waiting (a named pipe in one's place cannot
//! hold the guard) and read only when regular, at most 64 bytes.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::reading::{GpuReading, Vendor};
use crate::state_file::{self, Access};

/// The longest sysfs value read (a number and a line break).
const MAX_VALUE: u64 = 64;

/// The hottest a reading may claim before it is taken for garbage.
const MAX_PLAUSIBLE_C: f64 = 200.0;

/// The AMD cards under `root`, by number: `(card3, its directory)`.
pub fn cards(root: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    // In the cards' order, kept by inserting each in place: a sort would
    // add a sorting routine of its own to the binary for a handful of
    // cards.
    let mut cards: Vec<(u64, String, PathBuf)> = Vec::new();
    for entry in entries.flatten() {
        let Some(name) = entry.file_name().into_string().ok() else {
            continue;
        };
        let Some(number) = card_number(&name) else {
            continue;
        };
        let dir = entry.path();
        if dir.join("device/gpu_busy_percent").exists() {
            let at = cards.partition_point(|(n, _, _)| *n < number);
            cards.insert(at, (number, name, dir));
        }
    }
    cards
        .into_iter()
        .map(|(_, name, dir)| (name, dir))
        .collect()
}

/// `3` for `card3`; `None` for a connector (`card0-DP-1`) or anything
/// else.
fn card_number(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("card")?;
    let all_digits = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    all_digits.then(|| digits.parse().ok()).flatten()
}

/// Every AMD card's figures.
pub fn read(root: &Path) -> Vec<GpuReading> {
    cards(root)
        .into_iter()
        .map(|(name, dir)| read_card(name, &dir.join("device")))
        .collect()
}

fn read_card(id: String, device: &Path) -> GpuReading {
    let value = |file: &str| read_value(&device.join(file));
    GpuReading {
        id,
        vendor: Vendor::Amd,
        temp_c: temperature(device),
        busy_percent: value("gpu_busy_percent").and_then(|text| parse_busy(&text)),
        memory_used_bytes: value("mem_info_vram_used").and_then(|text| parse_bytes(&text)),
        memory_total_bytes: value("mem_info_vram_total").and_then(|text| parse_bytes(&text)),
    }
}

/// The first `hwmon*` (by name) with a `temp1_input` that reads.
fn temperature(device: &Path) -> Option<f64> {
    let hwmons = std::fs::read_dir(device.join("hwmon")).ok()?.flatten();
    let hwmons = hwmons.filter(|entry| entry.file_name().to_string_lossy().starts_with("hwmon"));
    let readings = hwmons.filter_map(|entry| {
        let text = read_value(&entry.path().join("temp1_input"))?;
        Some((entry.file_name(), parse_millidegrees(&text)?))
    });
    readings
        .min_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, celsius)| celsius)
}

/// A small regular file's text; `None` when it is missing, not a regular
/// file (`state_file::open` refuses those without waiting on them), or
/// cannot be read.
fn read_value(path: &Path) -> Option<String> {
    let file = state_file::open(path, Access::Read).ok()?;
    let mut bytes = Vec::new();
    file.take(MAX_VALUE).read_to_end(&mut bytes).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// `gpu_busy_percent`: an integer 0 to 100.
pub fn parse_busy(text: &str) -> Option<f64> {
    let value: u64 = text.trim().parse().ok()?;
    (value <= 100).then_some(value as f64)
}

/// `temp1_input`: millidegrees Celsius (may be negative in principle; a
/// figure beyond what a GPU can reach is garbage).
pub fn parse_millidegrees(text: &str) -> Option<f64> {
    let value: i64 = text.trim().parse().ok()?;
    let celsius = value as f64 / 1000.0;
    (-50.0..=MAX_PLAUSIBLE_C)
        .contains(&celsius)
        .then_some(celsius)
}

/// `mem_info_vram_*`: bytes.
pub fn parse_bytes(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `root/relative` with `text`, making its directories.
    fn put(root: &Path, relative: &str, text: &str) {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn cards_are_card_directories_with_a_busy_file() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        // Made out of order: the cards come back in theirs, whatever the
        // directory's.
        put(root, "card3/device/gpu_busy_percent", "7\n");
        put(root, "card1/device/gpu_busy_percent", "7\n");
        put(root, "card10/device/gpu_busy_percent", "0\n");
        put(root, "card2/device/gpu_busy_percent", "0\n");
        put(root, "card+4/device/gpu_busy_percent", "0\n");
        put(root, "card/device/gpu_busy_percent", "0\n");
        put(root, "card0-DP-1/device/gpu_busy_percent", "5\n");
        put(root, "card5/device/vendor", "0x10de\n");
        put(root, "renderD128/device/gpu_busy_percent", "5\n");
        put(root, "cardX/device/gpu_busy_percent", "5\n");
        put(root, "version", "drm 1.1.0\n");
        let names: Vec<String> = cards(root).into_iter().map(|(name, _)| name).collect();
        assert_eq!(names, ["card1", "card2", "card3", "card10"]);
        assert!(cards(&root.join("missing")).is_empty());
    }

    #[test]
    fn a_card_is_read() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        put(root, "card1/device/gpu_busy_percent", "97\n");
        put(root, "card1/device/hwmon/hwmon3/temp1_input", "91000\n");
        put(root, "card1/device/mem_info_vram_used", "1073741824\n");
        put(root, "card1/device/mem_info_vram_total", "17163091968\n");
        put(root, "card2/device/gpu_busy_percent", "garbage");
        put(root, "card2/device/hwmon/hwmon4/temp1_input", "[N/A]");
        put(root, "card2/device/hwmon/hwmon5/temp1_input", "45500\r\n");
        put(root, "card2/device/mem_info_vram_used", "-5");
        assert_eq!(
            read(root),
            vec![
                GpuReading {
                    id: "card1".into(),
                    vendor: Vendor::Amd,
                    temp_c: Some(91.0),
                    busy_percent: Some(97.0),
                    memory_used_bytes: Some(1 << 30),
                    memory_total_bytes: Some(17163091968),
                },
                GpuReading {
                    id: "card2".into(),
                    vendor: Vendor::Amd,
                    temp_c: Some(45.5),
                    busy_percent: None,
                    memory_used_bytes: None,
                    memory_total_bytes: None,
                },
            ]
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_named_pipe_in_a_file_s_place_is_not_waited_on() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        put(root, "card0/device/gpu_busy_percent", "5");
        let fifo = root.join("card0/device/hwmon/hwmon0/temp1_input");
        std::fs::create_dir_all(fifo.parent().unwrap()).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        assert_eq!(read(root)[0].temp_c, None);
        assert_eq!(read(root)[0].busy_percent, Some(5.0));
    }

    #[test]
    fn sysfs_values_reject_garbage() {
        assert_eq!(parse_busy("42\n"), Some(42.0));
        for text in [
            "",
            "-1",
            "101",
            "4.5",
            "99999999999999999999999",
            "\u{fffd}",
            "[N/A]",
        ] {
            assert_eq!(parse_busy(text), None, "{text:?}");
        }
        assert_eq!(parse_millidegrees("45000\n"), Some(45.0));
        assert_eq!(parse_millidegrees("-1000"), Some(-1.0));
        for text in [
            "",
            "abc",
            "999999999",
            "-999999999",
            "99999999999999999999999",
        ] {
            assert_eq!(parse_millidegrees(text), None, "{text:?}");
        }
        assert_eq!(parse_bytes("17163091968\n"), Some(17163091968));
        for text in ["", "-1", "1e9", "99999999999999999999999"] {
            assert_eq!(parse_bytes(text), None, "{text:?}");
        }
        let bytes = String::from_utf8_lossy(b"4\xff2");
        assert_eq!(parse_busy(&bytes), None);
    }
}
