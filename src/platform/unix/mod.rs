//! The Unix side of `platform` (Linux and macOS): `libc`, `signal-hook`
//! and `std::os::unix`; what macOS does its own way is in `macos`, and the
//! few smaller differences say so with `cfg(target_os)`.

pub mod console;
pub mod control;
pub mod files;
#[cfg(target_os = "macos")]
mod macos;
pub mod net;
pub mod process;
