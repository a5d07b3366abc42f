//! The GPU guard: reads the box's GPUs and decides when the box must step
//! back from the hub, so that its owner's own use of the GPU (a game, a
//! render) and its health come first. Off unless the owner sets
//! `gpu_guard`.
//!
//! How data flows: at the start, `sources` finds the tools (`nvidia-smi`
//! on `PATH`, AMD cards under sysfs); every `gpu_check_secs` the guard's
//! one thread (`guard`) reads them, NVIDIA through a bounded run of
//! `nvidia-smi` (`run`, parsed in `nvidia`) and AMD through sysfs
//! (`amd`), into one sample (`reading`), which the pure state machine in
//! `verdict` judges: step back at once on heat or another user of the GPU,
//! return after `gpu_clear_secs` of clear checks. The guard publishes a
//! [`GuardStatus`] and calls the [`GuardWatcher`] it was given on each
//! change. This module knows neither the hub nor the relay: whoever acts
//! on a change (availability) reads the status.
mod amd;
#[cfg(test)]
#[cfg(unix)]
mod fake_tool;
mod guard;
mod nvidia;
mod reading;
mod run;
mod sources;
mod verdict;

pub use guard::{Guard, GuardSettings, GuardStatus, GuardWatcher};
pub use reading::Trouble;
pub use sources::Sources;
