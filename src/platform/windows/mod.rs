//! The Windows side of `platform`: `windows-sys` and `std::os::windows`.

pub mod console;
pub mod control;
pub mod files;
pub mod net;
pub mod process;
