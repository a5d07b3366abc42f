//! The values both sides of `platform` return.

/// The process's figures for `/metrics`, as far as the system tells.
#[derive(Debug, Default, PartialEq)]
pub struct ProcessFigures {
    pub resident_bytes: Option<u64>,
    /// User and system CPU time.
    pub cpu_ms: Option<u64>,
    /// Since the Unix epoch.
    pub start_ms: Option<u64>,
}
