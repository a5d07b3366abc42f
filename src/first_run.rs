//! The first-run questions: when the token (or the model, Ollama's host and
//! port, the stream mode) is set nowhere and a person is at the terminal,
//! ask for it, offer the models Ollama has installed, and save the answers.
//!
//! Under systemd, supervisor or cron standard input is not a terminal: the
//! client then never waits for input, and a missing token is a
//! configuration error (exit 78) that says how to provide one.

use std::time::Duration;

use serde_json::Value;

use crate::console::{print, read_line, read_secret_line};
use crate::ollama::{self, RootCerts};
use crate::settings::{Resolved, Source};

/// What an https Ollama at a base URL is checked against, or why there is
/// nothing to check it against (the caller's policy on the extra CA).
pub type Roots<'a> = &'a dyn Fn(&str) -> Result<RootCerts, String>;

/// The settings the first run asks for, when no source set them.
pub fn missing(resolved: &Resolved) -> Vec<&'static str> {
    let mut keys = Vec::new();
    if resolved.settings.token.is_none() {
        keys.push("token");
    }
    for key in ["ollama_host", "ollama_port", "model", "stream_mode"] {
        if resolved.source(key) == Source::Default {
            keys.push(key);
        }
    }
    keys
}

/// Asks for each missing setting; an answer left empty takes the offered
/// default. Fails only at the end of input. `roots` gives what an https
/// Ollama is checked against when its models are listed.
pub fn ask(resolved: &mut Resolved, keys: &[&str], roots: Roots) -> Result<(), String> {
    print(&format!(
        "First run: a few settings are missing. They will be saved to {}\n",
        resolved.config_path.display()
    ));
    for key in keys {
        match *key {
            "token" => ask_token(resolved)?,
            "ollama_host" => {
                let host = ask_text("Ollama host", &resolved.settings.ollama_host)?;
                keep(resolved, "ollama_host", Value::String(host))?;
            }
            "ollama_port" => ask_port(resolved)?,
            "model" => ask_model(resolved, roots)?,
            "stream_mode" => ask_stream(resolved)?,
            _ => {}
        }
    }
    Ok(())
}

/// Takes an answer into the settings (checked like the config file's).
fn keep(resolved: &mut Resolved, key: &'static str, value: Value) -> Result<(), String> {
    resolved
        .set(key, value, Source::Prompt)
        .map_err(|expected| format!("the answer for {key} must be {expected}"))
}

const END_OF_INPUT: &str = "the first-run questions need answers, but the input ended";

fn ask_token(resolved: &mut Resolved) -> Result<(), String> {
    loop {
        let token = read_secret_line("Hub token (input hidden): ").ok_or(END_OF_INPUT)?;
        let token = token.trim();
        if !token.is_empty() {
            return keep(resolved, "token", Value::String(token.to_string()));
        }
        print("The token cannot be empty.\n");
    }
}

fn ask_text(question: &str, default: &str) -> Result<String, String> {
    print(&format!("{question} [{default}]: "));
    let answer = read_line().ok_or(END_OF_INPUT)?;
    let answer = answer.trim();
    Ok(if answer.is_empty() {
        default.to_string()
    } else {
        answer.to_string()
    })
}

fn ask_port(resolved: &mut Resolved) -> Result<(), String> {
    loop {
        let answer = ask_text("Ollama port", &resolved.settings.ollama_port.to_string())?;
        match answer.parse::<u16>() {
            Ok(port) if port > 0 => {
                return keep(resolved, "ollama_port", Value::from(port));
            }
            _ => print("A port is a number from 1 to 65535.\n"),
        }
    }
}

/// Offers the installed models (numbered, the first as default); falls
/// back to `llama2` when Ollama cannot be asked.
fn ask_model(resolved: &mut Resolved, roots: Roots) -> Result<(), String> {
    let base = ollama::base_url(
        &resolved.settings.ollama_host,
        resolved.settings.ollama_port,
    );
    let installed = roots(&base)
        .and_then(|roots| ollama::installed_models(&base, &roots, Duration::from_secs(5)));
    let default = match installed {
        Ok(models) if !models.is_empty() => {
            print("Models installed in Ollama:\n");
            for (n, model) in models.iter().enumerate() {
                print(&format!("  {}) {model}\n", n + 1));
            }
            let answer = ask_text("Model (number or name)", &models[0])?;
            let model = match answer.parse::<usize>() {
                Ok(n) if (1..=models.len()).contains(&n) => models[n - 1].clone(),
                _ => answer,
            };
            return keep(resolved, "model", Value::String(model));
        }
        Ok(_) => {
            print("Ollama has no models installed yet (install one with: ollama pull NAME).\n");
            "llama2".to_string()
        }
        Err(e) => {
            print(&format!(
                "Cannot ask Ollama for its models ({e}); offering llama2.\n"
            ));
            "llama2".to_string()
        }
    };
    let model = ask_text("Model", &default)?;
    keep(resolved, "model", Value::String(model))
}

fn ask_stream(resolved: &mut Resolved) -> Result<(), String> {
    loop {
        let answer = ask_text("Stream answers piece by piece (y/n)", "y")?;
        let stream = match answer.to_ascii_lowercase().as_str() {
            "y" | "yes" => true,
            "n" | "no" => false,
            _ => {
                print("Please answer y or n.\n");
                continue;
            }
        };
        return keep(resolved, "stream_mode", Value::Bool(stream));
    }
}
