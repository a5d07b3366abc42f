//! Writing to the owner's terminal: standard output that ends the program
//! quietly (status 0) when its reader has gone, as in `--show-config |
//! head -1`, and line input with or without echo for the first-run
//! questions.

use std::io::{self, BufRead, IsTerminal, Write};

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

/// Reads one line with the terminal's echo off, for the token. The newline
/// is still echoed so that the next prompt starts on its own line.
pub fn read_secret_line() -> Option<String> {
    let echo = EchoOff::new();
    let line = read_line();
    drop(echo);
    line
}

/// Switches the terminal's echo off until dropped.
struct EchoOff {
    saved: Option<libc::termios>,
}

impl EchoOff {
    fn new() -> EchoOff {
        // SAFETY: termios is plain old data; tcgetattr fills it in, and on
        // failure (not a terminal) nothing is changed.
        unsafe {
            let mut term: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(libc::STDIN_FILENO, &mut term) != 0 {
                return EchoOff { saved: None };
            }
            let saved = term;
            term.c_lflag &= !libc::ECHO;
            term.c_lflag |= libc::ECHONL;
            if libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &term) != 0 {
                return EchoOff { saved: None };
            }
            EchoOff { saved: Some(saved) }
        }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            // SAFETY: restores the settings read in `new`.
            unsafe {
                libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, saved);
            }
        }
    }
}
