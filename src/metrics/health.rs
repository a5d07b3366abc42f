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
    /// Ready to take buyers, or why not, in English (`/readyz`'s body).
    pub ready: Result<(), String>,
}

/// Asks the one place that decides for the [`Health`] of this moment.
pub type HealthView = Arc<dyn Fn() -> Health + Send + Sync>;
