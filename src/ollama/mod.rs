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
mod watchdog;

pub use api::{installed_models, is_installed, load_model, one_token, version, ApiError};
pub use client::{ErrorKind, OllamaClient, OllamaError, OllamaTarget, Stats};
pub use ureq::tls::RootCerts;
pub use watchdog::Canceller;
