//! The local model server: an Ollama, or an OpenAI-compatible server
//! (llama.cpp's `llama-server`, vLLM, LM Studio, LocalAI; see [`Api`]).
//! `client` runs one buyer prompt per call on a worker's keep-alive
//! connection and hands each piece on as its line arrives, `stream`
//! reading what each line of the server's stream says (Ollama's NDJSON,
//! or Server-Sent Events); `watchdog` cuts a request that outlives its
//! load or idle deadline, the owner's limit on an answer's time, or the
//! shutdown grace; `api` holds the small requests of `--check`, the probes
//! and the first run; both speak https through `crate::tls`, against the
//! roots the caller chose. Nothing here knows the hub or the config file:
//! the caller builds an [`OllamaTarget`] (roots and key included) from the
//! settings.
mod api;
mod client;
mod kind;
mod stream;
mod watchdog;

pub use api::{
    installed_models, is_installed, load_model, one_token, unload_model, version, ApiError,
};
pub use client::{ErrorKind, OllamaClient, OllamaError, OllamaTarget};
pub use kind::Api;
pub use stream::{Stats, TokensSource};
pub use ureq::tls::RootCerts;
pub use watchdog::Canceller;
