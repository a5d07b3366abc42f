//! `--test`: the owner types prompts; each answer streams live to standard
//! output, followed by a summary line, and goes to the hub as well with
//! `"messageId": -1`, exactly as a buyer's would. The hub connection runs in
//! the background, so this works to check the local Ollama even while the
//! hub cannot be reached (the log says so and it keeps reconnecting).
//!
//! `exit`, `quit` or the end of input end it; Ctrl+C too (see `shutdown`).

use std::sync::mpsc;

use crate::console::{print, read_line};
use crate::protocol::MessageId;
use crate::relay::{Dispatcher, Echo};

pub fn run(dispatcher: &Dispatcher) {
    print("Test mode: type a prompt and press Enter; 'exit' or Ctrl+D to quit.\n");
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
                let seconds = elapsed.as_secs_f64();
                let summary = match result {
                    Ok(stats) => {
                        let speed = stats
                            .tokens_per_second()
                            .map(|tps| format!(", {tps:.1} tokens/s"))
                            .unwrap_or_default();
                        format!("[{seconds:.2} s, {pieces} pieces{speed}]")
                    }
                    Err(error) => format!("{error}\n[{seconds:.2} s, {pieces} pieces]"),
                };
                print(&format!("\n{summary}\n"));
                return;
            }
        }
    }
}
