//! The Unix side of `platform` (Linux and macOS): `libc`, `signal-hook`
//! and `std::os::unix`; the few places where macOS differs from Linux say
//! so with `cfg(target_os)`.

pub mod console;
pub mod control;
pub mod files;
pub mod net;
pub mod process;
