//! Writing to the owner's terminal: standard output that ends the program
//! quietly (status 0) when its reader has gone, as in `--show-config |
//! head -1`, line input with or without echo for the first-run questions
//! (the terminal's side of it is `platform::console`), and putting the
//! echo back when the owner stops the client at a question.

use crate::platform::console::{echo_off, restore_terminal, StopCloser, StopEvents};
use crate::text::Text;
use std::io::{self, BufRead, IsTerminal, Write};

/// Rows of a label and its value, the values lined up three characters
/// after the longest label (counted in characters, not bytes, so that
/// Russian labels line up too): `--show-config`, `--stats`, `--status`.
pub fn label_table(rows: &[(String, String)]) -> String {
    let width = label_width(rows.iter().map(|(label, _)| label.as_str()));
    rows.iter()
        .map(|(label, value)| labelled(label, value, width))
        .collect()
}

/// Where a table's values start: three characters after its longest label.
pub fn label_width<'a>(labels: impl Iterator<Item = &'a str>) -> usize {
    let longest = labels.map(|label| label.chars().count()).max();
    longest.unwrap_or_default() + 3
}

/// One row of a label table whose values start at `width`.
pub fn labelled(label: &str, value: &str, width: usize) -> String {
    format!("{label:<width$}{value}\n")
}

/// Prints `text` to standard output and flushes it. A closed pipe ends the
/// program with status 0: nobody is left to read the rest.
pub fn print(text: &str) {
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

/// Prints `line` in the owner's language, and a newline.
pub fn say(line: Text) {
    print(&(line.owner() + "\n"));
}

/// Says `line` on standard error in the owner's language, after the
/// program's name, as Unix tools start their warnings and errors.
pub fn warn(line: &Text) {
    // not prose: the program's name.
    eprintln!("ollama-proxy-client: {}", line.owner());
}

pub fn stdin_is_terminal() -> bool {
    io::stdin().is_terminal()
}

/// Reads one line from standard input, without its line ending; `None` at
/// the end of input.
pub fn read_line() -> Option<String> {
    let mut line = String::new();
    match io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim_end_matches(['\n', '\r']).to_string()),
    }
}

/// Shows `prompt`, then reads one line with the terminal's echo off, for
/// the token. Echo goes off before the prompt appears, so nothing typed
/// early is shown; the newline is still echoed so that the next prompt
/// starts on its own line.
pub fn read_secret_line(prompt: &str) -> Option<String> {
    echo_off();
    print(prompt);
    let line = read_line();
    restore_terminal();
    line
}

/// While alive, an event that stops the client (Ctrl+C at a first-run
/// question: `platform::console::StopEvents`) puts the terminal's echo
/// back before ending the program with status 0, instead of leaving the
/// owner's shell without echo.
pub struct TerminalGuard {
    closer: Option<StopCloser>,
}

impl TerminalGuard {
    /// Runs `on_signal` (which may print) after the echo is back, before
    /// the program ends.
    pub fn install(on_signal: impl FnOnce() + Send + 'static) -> TerminalGuard {
        let Ok(mut events) = StopEvents::catch() else {
            return TerminalGuard { closer: None };
        };
        let closer = events.closer();
        let spawned = std::thread::Builder::new()
            .name("first-run-signals".into())
            .spawn(move || {
                if events.next().is_some() {
                    restore_terminal();
                    print("\n");
                    on_signal();
                    std::process::exit(0);
                }
            });
        TerminalGuard {
            closer: spawned.ok().map(|_| closer),
        }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        if let Some(closer) = &self.closer {
            closer.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_line_up_three_characters_after_the_longest_label_in_any_script() {
        let rows = [
            ("Лог".to_string(), "a".to_string()),
            ("Конфиг".to_string(), "b".to_string()),
        ];
        assert_eq!(label_table(&rows), "Лог      a\nКонфиг   b\n");
        assert_eq!(label_width(std::iter::empty()), 3);
    }
}
