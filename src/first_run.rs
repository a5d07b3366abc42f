//! The first-run questions: when the token (or the model, Ollama's host and
//! port, the stream mode) is set nowhere and a person is at the terminal,
//! ask for it, offer the models Ollama has installed, and save the answers.
//!
//! Under systemd, supervisor or cron standard input is not a terminal: the
//! client then never waits for input, and a missing token is a
//! configuration error (exit 78) that says how to provide one.

use std::time::Duration;

use serde_json::Value;

use crate::address::OllamaUrl;
use crate::config::DEFAULT_MODEL;
use crate::console::{print, read_line, read_secret_line, say};
use crate::ollama::{self, RootCerts};
use crate::settings::{Resolved, Source};
use crate::text::{startup as text, Text};

/// What an https Ollama at a base URL is checked against, or why there is
/// nothing to check it against (the caller's policy on the extra CA).
pub type Roots<'a> = &'a dyn Fn(&OllamaUrl) -> Result<RootCerts, Text>;

/// The settings the first run asks for, when no source set them.
pub fn missing(resolved: &Resolved) -> Vec<&'static str> {
    let token = resolved.settings.token.is_none().then_some("token");
    let defaults = ["ollama_host", "ollama_port", "model", "stream_mode"];
    let unset = defaults
        .into_iter()
        .filter(|key| resolved.source(key) == Source::Default);
    token.into_iter().chain(unset).collect()
}

/// Asks for each missing setting; an answer left empty takes the offered
/// default. Each answer goes into the settings through the same check as
/// the config file's. Fails only at the end of input. `roots` gives what an
/// https Ollama is checked against when its models are listed.
pub fn ask(resolved: &mut Resolved, keys: &[&'static str], roots: Roots) -> Result<(), Text> {
    let path = resolved.config_path.display().to_string();
    say(text::first_run_intro(path));
    for &key in keys {
        let settings = &resolved.settings;
        let answer = match key {
            "token" => Value::String(ask_token()?),
            "ollama_host" => {
                Value::String(ask_text(text::ask_ollama_host(), &settings.ollama_host)?)
            }
            "ollama_port" => Value::from(ask_port(settings.ollama_port)?),
            "model" => Value::String(ask_model(&settings.ollama_url(), roots)?),
            "stream_mode" => Value::Bool(ask_stream()?),
            _ => continue,
        };
        resolved
            .set(key, answer, Source::Prompt)
            .map_err(|expected| text::answer_must_be(key, expected))?;
    }
    Ok(())
}

fn ask_token() -> Result<String, Text> {
    loop {
        let token = read_secret_line(&text::token_prompt().owner())
            .ok_or_else(text::first_run_input_ended)?;
        match token.trim() {
            "" => say(text::token_cannot_be_empty()),
            token => return Ok(token.to_string()),
        }
    }
}

fn ask_text(question: Text, default: &str) -> Result<String, Text> {
    print(&text::first_run_question(question, default).owner());
    let answer = read_line().ok_or_else(text::first_run_input_ended)?;
    let answer = answer.trim();
    let answer = if answer.is_empty() { default } else { answer };
    Ok(answer.to_string())
}

fn ask_port(default: u16) -> Result<u16, Text> {
    loop {
        let answer = ask_text(text::ask_ollama_port(), &default.to_string())?;
        match answer.parse::<u16>() {
            Ok(port) if port > 0 => return Ok(port),
            _ => say(text::port_is_a_number()),
        }
    }
}

/// Offers the models installed at `base` (numbered, the first as
/// default); falls back to `llama2` when Ollama cannot be asked.
fn ask_model(base: &OllamaUrl, roots: Roots) -> Result<String, Text> {
    let installed = roots(base).and_then(|roots| {
        let target = ollama::OllamaTarget::plain(base.clone(), roots, DEFAULT_MODEL);
        ollama::installed_models(&target, Duration::from_secs(5)).map_err(|e| e.text())
    });
    match installed {
        Ok(models) if !models.is_empty() => {
            say(text::models_installed());
            for (n, model) in models.iter().enumerate() {
                print(&format!("  {}) {}\n", n + 1, crate::text::outside(model)));
            }
            let answer = ask_text(text::ask_model_number_or_name(), &models[0])?;
            return Ok(match answer.parse::<usize>() {
                Ok(n) if (1..=models.len()).contains(&n) => models[n - 1].clone(),
                _ => answer,
            });
        }
        Ok(_) => say(text::no_models_installed()),
        Err(e) => say(text::cannot_list_models(e, DEFAULT_MODEL)),
    }
    ask_text(text::ask_model(), DEFAULT_MODEL)
}

fn ask_stream() -> Result<bool, Text> {
    loop {
        match yes_or_no(&ask_text(text::ask_stream_mode(), "y")?) {
            Some(stream) => return Ok(stream),
            None => say(text::answer_y_or_n()),
        }
    }
}

/// A yes/no answer: y, yes, n, no, or the Russian words (not the letters
/// д and н: on a Russian keyboard н is the key of y).
fn yes_or_no(answer: &str) -> Option<bool> {
    match answer.to_lowercase().as_str() {
        "y" | "yes" | "да" => Some(true),
        "n" | "no" | "нет" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Lang;

    #[test]
    fn questions_and_hints_are_asked_in_russian_too() {
        let question = text::first_run_question(text::ask_model(), "llama2");
        assert_eq!(question.english(), "Model [llama2]: ");
        assert_eq!(
            question.in_lang(Lang::Ru),
            "Введите название модели Ollama [llama2]: "
        );
        let port = text::first_run_question(text::ask_ollama_port(), 11434);
        assert_eq!(port.in_lang(Lang::Ru), "Введите порт Ollama [11434]: ");
        let refused = text::answer_must_be("ollama_port", crate::text::config::expected_port());
        assert_eq!(
            refused.english(),
            "the answer for ollama_port must be a port number from 1 to 65535"
        );
        assert_eq!(
            refused.in_lang(Lang::Ru),
            "ответ для ollama_port должен быть номером порта от 1 до 65535"
        );
    }

    #[test]
    fn yes_and_no_in_either_language() {
        for (answer, meaning) in [
            ("y", Some(true)),
            ("YES", Some(true)),
            ("Да", Some(true)),
            ("n", Some(false)),
            ("No", Some(false)),
            ("нет", Some(false)),
            ("н", None),
            ("maybe", None),
        ] {
            assert_eq!(yes_or_no(answer), meaning, "{answer}");
        }
    }
}
