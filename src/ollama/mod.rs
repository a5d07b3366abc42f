//! The local Ollama. `client` runs one buyer prompt per call on a worker's
//! keep-alive connection and hands each piece on as its NDJSON line
//! arrives; `watchdog` cuts a request that outlives its load or idle
//! deadline, the owner's limit on an answer's time, or the shutdown
//! grace; `api` holds the small requests of `--check` and the first run;
//! both speak https through `crate::tls`, against the roots the caller
//! chose. Nothing here knows the hub or the config file: the caller builds
//! an [`OllamaTarget`] (roots included) from the settings.

mod api;
mod client;
mod stream;
mod watchdog;

pub use api::{installed_models, is_installed, load_model, one_token, version, ApiError};
pub use client::{ErrorKind, OllamaClient, OllamaError, OllamaTarget, Stats, TokensSource};
pub use ureq::tls::RootCerts;
pub use watchdog::Canceller;

/// The HTTP API a backend speaks: Ollama's own (`/api/generate`, NDJSON),
/// or the OpenAI-compatible one of llama.cpp's `llama-server`, vLLM, LM
/// Studio and LocalAI (`/v1/chat/completions`, Server-Sent Events).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Api {
    #[default]
    Ollama,
    OpenAi,
}

impl Api {
    /// The name an owner writes in a backend entry (`"api": "openai"`),
    /// and shown in `--status`, `/metrics` and the ledger.
    pub const fn as_str(self) -> &'static str {
        match self {
            Api::Ollama => "ollama",
            Api::OpenAi => "openai",
        }
    }

    pub fn from_name(name: &str) -> Option<Api> {
        [Api::Ollama, Api::OpenAi]
            .into_iter()
            .find(|api| api.as_str() == name)
    }
}
