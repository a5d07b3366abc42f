//! Which API a backend speaks: a leaf, so that the config's backend
//! entries can name it without knowing the client.

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
