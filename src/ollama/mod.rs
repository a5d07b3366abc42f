//! The local Ollama. `client` runs one buyer prompt per call on a worker's
//! keep-alive connection and hands each piece on as its NDJSON line
//! arrives; `watchdog` cuts a request that outlives its load or idle
//! deadline (or the shutdown grace); `api` holds the small requests of
//! `--check` and the first run. Nothing here knows the hub or the config
//! file: the caller builds an [`OllamaTarget`] from the settings.

mod api;
mod client;
mod watchdog;

pub use api::{base_url, installed_models, is_installed, version};
pub use client::{OllamaClient, OllamaError, OllamaTarget, Stats};
pub use watchdog::Canceller;
