//! `--test`: the owner types prompts; each answer streams live to standard
//! output, followed by a summary line, and goes to the hub as well with
//! `"messageId": -1`, exactly as a buyer's would. The hub connection runs in
//! the background, so this works to check the local Ollama even while the
//! hub cannot be reached (the log says so and it keeps reconnecting).
//!
//! `exit`, `quit` or the end of input end it; Ctrl+C too (see `shutdown`).

use std::sync::mpsc;
use std::time::Duration;

use crate::console::{print, read_line, say};
use crate::ollama::Stats;
use crate::protocol::MessageId;
use crate::relay::{Dispatcher, Echo};
use crate::text::{check, Text};

pub fn run(dispatcher: &Dispatcher) {
    say(check::test_mode_intro());
    loop {
        print("> ");
        let Some(line) = read_line() else {
            print("\n");
            return;
        };
        let prompt = line.trim();
        match prompt {
            "" => continue,
            "exit" | "quit" => return,
            _ => ask(dispatcher, prompt),
        }
    }
}

/// Sends one prompt and shows its answer as it arrives.
fn ask(dispatcher: &Dispatcher, prompt: &str) {
    let (echo, answer) = mpsc::channel();
    dispatcher.dispatch(MessageId::test_mode(), prompt.to_string(), None, Some(echo));
    for event in answer {
        match event {
            Echo::Piece(piece) => print(&piece),
            Echo::Done {
                result,
                pieces,
                elapsed,
            } => {
                let summary = summary(result.as_ref().ok(), pieces, elapsed).owner();
                let error = result
                    .err()
                    .map(|e| check::test_mode_error(e).owner() + "\n");
                print(&format!("\n{}{summary}\n", error.unwrap_or_default()));
                return;
            }
        }
    }
}

/// The line after an answer: the time taken, the number of pieces, and
/// the speed when Ollama gave its figures (`stats` is `None` when the
/// answer failed).
fn summary(stats: Option<&Stats>, pieces: usize, elapsed: Duration) -> Text {
    let seconds = format!("{:.2}", elapsed.as_secs_f64());
    match stats.and_then(Stats::tokens_per_second) {
        Some(tps) => check::test_mode_summary_speed(seconds, pieces, format!("{tps:.1}")),
        None => check::test_mode_summary(seconds, pieces),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Lang;

    #[test]
    fn the_summary_counts_pieces_in_russian_plural_forms() {
        let elapsed = Duration::from_millis(1234);
        for (pieces, word) in [
            (1, "часть"),
            (2, "части"),
            (5, "частей"),
            (11, "частей"),
            (21, "часть"),
        ] {
            assert_eq!(
                summary(None, pieces, elapsed).in_lang(Lang::Ru),
                format!("[1.23 с, {pieces} {word}]")
            );
        }
        let stats = Stats {
            eval_count: Some(123),
            eval_duration_ns: Some(10_000_000_000),
            ..Stats::default()
        };
        let summary = summary(Some(&stats), 5, elapsed);
        assert_eq!(
            summary.in_lang(Lang::Ru),
            "[1.23 с, 5 частей, 12.3 токенов/с]"
        );
        assert_eq!(summary.english(), "[1.23 s, 5 pieces, 12.3 tokens/s]");
    }
}
