//! The one way the test rig starts the client binary: the integration tests
//! (through `client.rs`), the bench, the soak and the demo all build the
//! client's [`Command`] here.
//!
//! Why: the client reads its token, Ollama's address, an extra CA file and
//! an HTTPS proxy from the environment (see [`CLIENT_ENV`]). A developer who
//! runs the client on the same machine has those exported, and a test, soak
//! or demo that inherited them would measure their setup instead of the
//! rig's: `OLLAMA_PROXY_TOKEN` beats the config file's token (the hub
//! emulator rejects it), `SSL_CERT_FILE=/nonexistent` stops every TLS
//! connection, `HTTPS_PROXY` sends the hub connection elsewhere. So the
//! command starts with those variables removed; a caller sets what it wants
//! afterwards (`HOME` always, the variables under test sometimes).
//!
//! This file is shared by the test crates (`tests/support/mod.rs`) and the
//! examples (`#[path = "../tests/support/launch.rs"]`), so it takes the
//! binary's path as a parameter: `env!("CARGO_BIN_EXE_...")` exists only in
//! integration tests.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::process::Command;

/// Every environment variable the client reads, besides `HOME` (which each
/// caller sets to its own temporary directory): `SSL_CERT_FILE` (extra CA,
/// src/main.rs), `OLLAMA_PROXY_TOKEN` and `OLLAMA_HOST` (src/settings.rs),
/// the HTTPS proxy and its exceptions (src/hub/proxy.rs). `HTTP_PROXY` is
/// not read today (the hub goes through a proxy only over TLS, Ollama
/// never), but is cleared too so that no proxy can ever leak in. The locale
/// variables choose the terminal's language (src/text/mod.rs): a developer
/// with `LANG=ru_RU.UTF-8` would otherwise see the English texts the tests
/// look for in Russian; a test of the Russian texts sets them itself.
pub const CLIENT_ENV: &[&str] = &[
    "LC_ALL",
    "LC_MESSAGES",
    "LANG",
    "SSL_CERT_FILE",
    "OLLAMA_HOST",
    "OLLAMA_PROXY_TOKEN",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
];

/// The variable that names an emulator for the client binary:
/// `scripts/test-arm.sh` sets it to `qemu-aarch64-static` or
/// `qemu-arm-static` for cross-built tests.
pub const RUNNER_VAR: &str = "OPC_TEST_RUNNER";

/// How a binary is run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runner {
    /// As it is (the bench, the soak and the demo measure the real binary).
    Direct,
    /// Under the emulator named by [`RUNNER_VAR`] if it is set and not
    /// empty, else directly (the integration tests).
    FromEnv,
}

impl Runner {
    /// A command that runs `program` this way; its environment is inherited
    /// unchanged.
    pub fn command(self, program: impl AsRef<OsStr>) -> Command {
        let emulator = match self {
            Runner::Direct => None,
            Runner::FromEnv => std::env::var_os(RUNNER_VAR).filter(|r| !r.is_empty()),
        };
        match emulator {
            Some(emulator) => {
                let mut command = Command::new(emulator);
                command.arg(program);
                command
            }
            None => Command::new(program),
        }
    }
}

/// A command that runs the client binary at `bin` with every variable of
/// [`CLIENT_ENV`] removed from the environment it inherits.
pub fn client_command(bin: impl AsRef<OsStr>, runner: Runner) -> Command {
    let mut command = runner.command(bin);
    clean_env(&mut command);
    command
}

/// Removes every variable of [`CLIENT_ENV`] from `command`'s environment.
/// Variables set on `command` afterwards are kept.
pub fn clean_env(command: &mut Command) -> &mut Command {
    for key in CLIENT_ENV {
        command.env_remove(key);
    }
    command
}

/// Makes the kernel kill the started process (SIGKILL) when the thread that
/// spawned it ends, so that an interrupted or aborted run leaves no client
/// behind. Spawn from the main thread (or one that lives as long as the
/// client should). Linux only: elsewhere the client is left to the tests'
/// own cleanup.
pub fn die_with_parent(command: &mut Command) -> &mut Command {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        use std::os::unix::process::CommandExt;
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
            Ok(())
        });
    }
    command
}

/// The variable that names the client binary the integration tests run
/// instead of the one cargo built: a release build as shipped
/// (`scripts/test-windows.sh` sets it to the Windows `.exe`).
pub const CLIENT_VAR: &str = "OPC_TEST_CLIENT";

/// Whether the client under test is the Windows build (`OPC_TEST_CLIENT`
/// names a `.exe`, run under wine by `scripts/wine-run.sh`). The tests use
/// it only where Windows shows the same behaviour differently (paths, the
/// pid, the name of the stop event, wine's start-up time); the features
/// Windows does not have are skipped by `scripts/test-windows.sh`, by name.
pub fn client_is_windows() -> bool {
    std::env::var_os(CLIENT_VAR)
        .is_some_and(|bin| bin.to_string_lossy().to_ascii_lowercase().ends_with(".exe"))
}
