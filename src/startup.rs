//! What the modes share before they start: deleting the config file on
//! `--reset-config`, asking the first-run questions at a terminal (and
//! never elsewhere), saving flags and answers to the config file, and
//! setting up the log beside it.

use std::path::Path;

use crate::cli::Args;
use crate::console::{self, print};
use crate::exit::Fatal;
use crate::first_run;
use crate::logging::{self, LogSetup};
use crate::settings::Resolved;

pub fn reset_config(path: &Path) -> Result<(), Fatal> {
    print(&format!("Deleting the config file {}\n", path.display()));
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Fatal::config(format!(
            "cannot delete {}: {e}",
            path.display()
        ))),
    }
}

/// Asks for missing settings at a terminal; elsewhere a missing token is
/// fatal at once (test mode runs without the hub instead).
pub fn complete_settings(args: &Args, resolved: &mut Resolved) -> Result<(), Fatal> {
    let missing = first_run::missing(resolved);
    if missing.is_empty() {
        return Ok(());
    }
    if console::stdin_is_terminal() {
        let _echo_back_on_ctrl_c = console::TerminalGuard::install();
        return first_run::ask(resolved, &missing).map_err(Fatal::config);
    }
    if resolved.settings.token.is_none() && !args.test {
        return Err(Fatal::config(format!(
            "no hub token in {} and no terminal to ask for one: set it with \
             --force-token TOKEN (saved to the config) or the OLLAMA_PROXY_TOKEN \
             environment variable",
            resolved.config_path.display()
        )));
    }
    Ok(())
}

/// Writes flags and answers into the config file, and says so.
pub fn save(resolved: &mut Resolved) -> Result<(), Fatal> {
    if resolved.save().map_err(|e| Fatal::config(e.to_string()))? {
        print(&format!(
            "Settings saved to {}\n",
            resolved.config_path.display()
        ));
    }
    Ok(())
}

pub fn init_logging(args: &Args, resolved: &Resolved) {
    let log_path = resolved.log_path();
    logging::init(&LogSetup {
        console_debug: args.debug || args.test,
        file: Some(&log_path),
        max_bytes: resolved.settings.log_max_bytes,
        files_kept: resolved.settings.log_files_kept,
    });
}
