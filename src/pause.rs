//! The owner's pause, kept in `paused.json` beside the config file so that
//! it survives a restart (a reboot in the middle of the owner's game must
//! not put the box back on sale).
//!
//! `--pause` and `--resume` reach the running client through the control
//! socket; the client's `availability` changes its state and calls
//! [`save`] here. At start it calls [`load`]; `--check` and `--status`
//! read the same file. The file is written the way the config is
//! (`config::save`: a temporary file, mode 0600, renamed over the old one),
//! and read back as hostile input: bounded in size, and anything that is
//! not what [`save`] writes is reported and ignored.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::state_file::{self, Access};
use crate::text::{files as text, Text};

/// The largest pause file read; [`save`] writes well under 100 bytes.
const MAX_FILE_BYTES: u64 = 4096;

/// How long the owner paused the box for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pause {
    /// Until `--resume`.
    Indefinite,
    /// Until this moment, or `--resume` before it.
    Until(SystemTime),
}

impl Pause {
    /// A pause of `duration` from now; `None` pauses until `--resume`.
    pub fn starting_now(duration: Option<Duration>) -> Pause {
        match duration {
            None => Pause::Indefinite,
            Some(d) => Pause::Until(SystemTime::now() + d),
        }
    }

    /// Whether the pause is over at `now`.
    pub fn is_over(&self, now: SystemTime) -> bool {
        match self {
            Pause::Indefinite => false,
            Pause::Until(end) => *end <= now,
        }
    }

    /// When it ends, in milliseconds since the Unix epoch; `None` for an
    /// indefinite pause.
    pub fn until_millis(&self) -> Option<i64> {
        match self {
            Pause::Indefinite => None,
            Pause::Until(end) => Some(crate::time::millis(*end)),
        }
    }
}

/// When a pause that ends at `until` (`None`: never) ends, for the owner:
/// its local time, or `--resume`.
pub fn end_shown(until: Option<i64>, now: i64) -> String {
    // not prose: the flag that ends such a pause.
    until.map_or_else(|| "--resume".into(), |until| crate::time::clock(until, now))
}

/// `paused.json` beside the config file (`gpu1.paused.json` beside
/// `gpu1.json`).
pub fn path_for(config_path: &Path) -> PathBuf {
    crate::config::beside(config_path, "paused.json")
}

/// Writes the pause (`Some`) or removes the file (`None`).
pub fn save(path: &Path, pause: Option<Pause>) -> Result<(), String> {
    let Some(pause) = pause else {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(format!("cannot remove {}: {e}", path.display()))
            }
            _ => Ok(()),
        };
    };
    let mut object = Map::new();
    object.insert("paused".into(), Value::Bool(true));
    object.insert("until_ms".into(), pause.until_millis().into());
    crate::config::save(path, &object).map_err(|e| e.to_string())
}

/// The pause saved at `path`, if any and not over. A file that cannot be
/// read or is not what [`save`] writes is an error (the caller warns and
/// serves: the owner can pause again), and so is one over 4 KiB, or
/// anything but a regular file in its place (a named pipe would otherwise
/// hold the reader forever: see `state_file`).
pub fn load(path: &Path) -> Result<Option<Pause>, LoadError> {
    let mut saved = String::new();
    let read = state_file::open(path, Access::Read)
        .and_then(|file| file.take(MAX_FILE_BYTES + 1).read_to_string(&mut saved));
    let shown = path.display();
    let why = match read {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => text::cannot_read(shown, state_file::reason(&e)),
        Ok(read) if read as u64 > MAX_FILE_BYTES => text::pause_too_large(shown),
        Ok(_) => match parse(&saved) {
            Some(pause) => return Ok(pause.filter(|p| !p.is_over(SystemTime::now()))),
            None => text::pause_not_ours(shown),
        },
    };
    Err(LoadError(why))
}

/// Why the saved pause cannot be used (it cannot be opened or read, is not
/// a regular file, is over [`MAX_FILE_BYTES`], or is not what [`save`]
/// writes), in words.
#[derive(Debug)]
pub struct LoadError(Text);

impl LoadError {
    pub fn text(&self) -> Text {
        self.0.clone()
    }
}

crate::text::english_display!(LoadError);

/// The same words are the same error (for tests' `assert_eq!`).
#[cfg(test)]
impl PartialEq for LoadError {
    fn eq(&self, other: &LoadError) -> bool {
        self.to_string() == other.to_string()
    }
}

/// `{"paused": true, "until_ms": N | null}`; `{"paused": false}` is no
/// pause. `None` for anything else.
fn parse(text: &str) -> Option<Option<Pause>> {
    let object: Map<String, Value> = serde_json::from_str(text).ok()?;
    if !object.get("paused")?.as_bool()? {
        return Some(None);
    }
    let pause = match object.get("until_ms") {
        None | Some(Value::Null) => Pause::Indefinite,
        Some(until) => {
            let ms = u64::try_from(until.as_i64()?).ok()?;
            Pause::Until(UNIX_EPOCH.checked_add(Duration::from_millis(ms))?)
        }
    };
    Some(Some(pause))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_pause_survives_being_written_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(&dir.path().join("config.json"));
        assert_eq!(path, dir.path().join("paused.json"));
        assert_eq!(load(&path), Ok(None), "no file, no pause");
        save(&path, Some(Pause::Indefinite)).unwrap();
        assert_eq!(load(&path), Ok(Some(Pause::Indefinite)));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Whole milliseconds survive exactly.
        let end = UNIX_EPOCH + Duration::from_millis(4_000_000_000_123);
        save(&path, Some(Pause::Until(end))).unwrap();
        assert_eq!(load(&path), Ok(Some(Pause::Until(end))));
        save(&path, None).unwrap();
        assert!(!path.exists());
        save(&path, None).expect("removing a missing file is fine");
    }

    #[test]
    fn a_pause_of_a_duration_ends_that_long_from_now() {
        let before = SystemTime::now();
        let hour = Duration::from_secs(3600);
        let Pause::Until(end) = Pause::starting_now(Some(hour)) else {
            panic!("a pause with a duration has an end");
        };
        assert!(end >= before + hour && end <= SystemTime::now() + hour);
        assert_eq!(Pause::starting_now(None), Pause::Indefinite);
    }

    #[test]
    fn a_pause_file_that_cannot_be_removed_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should be: `remove_file` fails, and not
        // because it is missing.
        let path = dir.path().join("paused.json");
        std::fs::create_dir(&path).unwrap();
        assert!(save(&path, None).unwrap_err().contains("cannot remove"));
    }

    #[test]
    fn a_pause_file_that_cannot_be_read_is_an_error_not_no_pause() {
        let dir = tempfile::tempdir().unwrap();
        // A directory in its place: it exists, so "missing" would be a lie.
        let path = dir.path().join("paused.json");
        std::fs::create_dir(&path).unwrap();
        let why = load(&path).unwrap_err().to_string();
        assert!(why.starts_with("cannot read"), "{why}");
        assert!(!why.contains("4 KiB"), "{why}");
    }

    #[test]
    fn a_pause_file_of_exactly_4_kib_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paused.json");
        let text = r#"{"paused": true}"#;
        std::fs::write(&path, format!("{text:<4096}")).unwrap();
        assert_eq!(load(&path), Ok(Some(Pause::Indefinite)));
        std::fs::write(&path, format!("{text:<4097}")).unwrap();
        assert!(load(&path).is_err());
    }

    #[test]
    fn a_pause_that_is_over_is_no_pause() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paused.json");
        let ended = SystemTime::now() - Duration::from_secs(1);
        save(&path, Some(Pause::Until(ended))).unwrap();
        assert_eq!(load(&path), Ok(None));
        let now = SystemTime::now();
        assert!(Pause::Until(now).is_over(now));
        assert!(!Pause::Until(now + Duration::from_secs(1)).is_over(now));
        assert!(!Pause::Indefinite.is_over(now));
    }

    #[test]
    fn load_errors_are_equal_when_they_say_the_same() {
        let path = Path::new("/home/o/paused.json");
        let not_ours = || LoadError(text::pause_not_ours(path.display()));
        assert_eq!(not_ours(), not_ours());
        assert_ne!(not_ours(), LoadError(text::pause_too_large(path.display())));
    }

    #[test]
    fn garbage_in_the_pause_file_is_an_error_not_a_pause() {
        for text in [
            "",
            "not json",
            "[]",
            "{}",
            r#"{"paused": "yes"}"#,
            r#"{"paused": true, "until_ms": "soon"}"#,
            r#"{"paused": true, "until_ms": -5}"#,
            r#"{"paused": true, "until_ms": 1.5}"#,
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
        assert_eq!(parse(r#"{"paused": false}"#), Some(None));
        assert_eq!(parse(r#"{"paused": true}"#), Some(Some(Pause::Indefinite)));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paused.json");
        std::fs::write(&path, "x".repeat(5000)).unwrap();
        assert!(load(&path).unwrap_err().to_string().contains("4 KiB"));
        std::fs::write(&path, "{").unwrap();
        let error = load(&path).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("{} is not a pause this client wrote", path.display())
        );
        assert_eq!(
            error.text().in_lang(crate::text::Lang::Ru),
            format!(
                "{} — это не пауза, записанная этим клиентом",
                path.display()
            )
        );
    }
}
