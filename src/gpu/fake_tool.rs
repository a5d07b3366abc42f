//! Stand-in tools for the unit tests: an executable `sh` script written
//! so that it can be run at once. A file this process wrote could not be:
//! a test forking meanwhile on another thread holds the write descriptor
//! until its child execs, and running the file then fails with "text file
//! busy". So the script is copied into place by `cp`, whose descriptor no
//! thread of this process can inherit.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Writes the executable script `dir/name` running `body`.
pub fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let source = dir.join(format!(".{name}.source"));
    std::fs::write(&source, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&source, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.join(name);
    let copied = Command::new("cp").arg(&source).arg(&path).status().unwrap();
    assert!(copied.success());
    path
}
