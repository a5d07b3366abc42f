//! What the box is doing, as `availability` decides it: connected to the
//! hub, paused, which backends can serve, ready or why not. The metrics
//! port asks for it on each scrape and each `/readyz` ([`HealthView`]) and
//! renders it; nothing here keeps or judges it.

use std::sync::Arc;

#[derive(Clone, Debug, PartialEq)]
pub struct Health {
    pub hub_connected: bool,
    pub paused: bool,
    /// Whether some backend can serve; `None` until they were checked.
    pub ollama_up: Option<bool>,
    /// Each backend's name and whether it can serve (`None`: not checked
    /// yet), in the listed order.
    pub backends_up: Vec<(String, Option<bool>)>,
    /// Why the box is away, by name (see [`AWAY_REASONS`]); `None` while
    /// it takes buyers or only waits for the hub.
    pub away: Option<&'static str>,
    /// What the GPU guard read of each GPU: its id, temperature (°C) and
    /// how busy it is (%), each when known. Empty when the guard is off.
    pub gpus: Vec<(String, Option<f64>, Option<f64>)>,
    /// Ready to take buyers, or why not, in English (`/readyz`'s body).
    pub ready: Result<(), String>,
}

/// Every reason the box can be away for, as `ollama_proxy_away` labels
/// them: the owner's pause, outside the selling hours, a GPU too hot, a GPU
/// another program uses, and no backend that can serve.
pub const AWAY_REASONS: [&str; 5] = ["paused", "outside_hours", "gpu_hot", "gpu_in_use", "ollama"];

/// Asks the one place that decides for the [`Health`] of this moment.
pub type HealthView = Arc<dyn Fn() -> Health + Send + Sync>;
