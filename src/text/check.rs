//! The catalogue's texts for the owner's two ways to try the client:
//! `--check` (each step's line and its fix) and test mode (`--test`); see
//! `text` for how entries work.

use super::catalogue;

catalogue! {
    // ------------------------------------------------------ test mode

    test_mode_intro() {
        en: "Test mode: type a prompt and press Enter; 'exit' or Ctrl+D to quit.",
        ru: "Тестовый режим: введите запрос и нажмите Enter; 'exit' или Ctrl+D — выход.",
    }
    /// The summary after an answer without a speed (a failed one, or one
    /// whose figures Ollama did not give).
    test_mode_summary(seconds, pieces) {
        en: "[{seconds} s, {pieces} {pieces|piece|pieces}]",
        ru: "[{seconds} с, {pieces} {pieces|часть|части|частей}]",
    }
    /// The summary after an answer; `speed` is in tokens per second.
    test_mode_summary_speed(seconds, pieces, speed) {
        en: "[{seconds} s, {pieces} {pieces|piece|pieces}, {speed} tokens/s]",
        ru: "[{seconds} с, {pieces} {pieces|часть|части|частей}, {speed} токенов/с]",
    }
    /// A prompt that failed, before its summary.
    test_mode_error(error) {
        en: "Error: {error}",
        ru: "Ошибка: {error}",
    }
}
