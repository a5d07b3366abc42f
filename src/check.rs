//! `--check`: a checklist an owner can run after installing, one line per
//! step with the fix when it fails. Config, Ollama, the model, the hub; each
//! step is bounded in time (10 s at most). Exit 0 when all pass, 1 if not.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::cli::Args;
use crate::console::print;
use crate::exit::{self, Fatal};
use crate::hub::{self, ConnectError, Endpoint, SessionConfig};
use crate::ollama::{self, RootCerts};
use crate::serve::{ollama_roots, session_config};
use crate::settings::{self, Environment, Resolved};
use crate::startup::{init_logging, save};

/// The longest any single step may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// The fix for a CA file that cannot be used.
const CA_FIX: &str = "give --ca-file (or SSL_CERT_FILE) a readable PEM file with the CA \
                      certificate of the hub or of an https Ollama, or leave it out to trust \
                      the public CAs";

/// One line of the checklist.
struct Step {
    ok: bool,
    what: String,
    fix: Option<String>,
}

impl Step {
    fn pass(what: String) -> Step {
        Step {
            ok: true,
            what,
            fix: None,
        }
    }

    fn fail(what: String, fix: impl Into<String>) -> Step {
        Step {
            ok: false,
            what,
            fix: Some(fix.into()),
        }
    }

    fn show(&self) {
        let mark = if self.ok { "[ OK ]" } else { "[FAIL]" };
        print(&format!("{mark} {}\n", self.what));
        if let Some(fix) = &self.fix {
            print(&format!("       fix: {fix}\n"));
        }
    }
}

/// Why the hub step cannot connect at all.
enum HubUnready {
    NoToken,
    /// The TLS setup failed (a CA file that cannot be used); says why.
    Tls(String),
}

/// The `--check` mode: resolves the settings as serving would (a broken
/// config file is reported and never overwritten; the other steps then run
/// on the flags, the environment and the defaults), saves the flags, runs
/// the checklist. Exit 0 when every step passed, 1 if not.
pub fn run_mode(
    args: &Args,
    env: &Environment,
    path: &Path,
    endpoint: Endpoint,
) -> Result<ExitCode, Fatal> {
    let (mut resolved, config_error) = match settings::resolve(args, env, path) {
        Ok(resolved) => (resolved, None),
        Err(e) => {
            let without_file = settings::resolve_without_file(args, env, path)
                .map_err(|e| Fatal::config(e.to_string()))?;
            (without_file, Some(e.to_string()))
        }
    };
    let config_problem = match config_error {
        Some(error) => Some(ConfigProblem::Unusable(error)),
        None => save(&mut resolved)
            .err()
            .map(|fatal| ConfigProblem::Unsaved(fatal.message.owner())),
    };
    init_logging(args, &resolved);
    let hub = match resolved.settings.token.clone() {
        None => Err(HubUnready::NoToken),
        Some(token) => session_config(args, &resolved.settings, endpoint, token)
            .map_err(|fatal| HubUnready::Tls(fatal.message.owner())),
    };
    let base_url = ollama::base_url(
        &resolved.settings.ollama_host,
        resolved.settings.ollama_port,
    );
    let roots = ollama_roots(args, &base_url).map_err(|fatal| fatal.message.owner());
    match run(&resolved, config_problem, hub, roots) {
        true => Ok(ExitCode::SUCCESS),
        false => Ok(ExitCode::from(exit::CHECK_FAILED)),
    }
}

/// Runs every step, printing each as it finishes; true when all passed.
/// `config_problem` is set when the config file could not be used (the
/// other steps then run on the defaults) or the flags not saved to it;
/// `roots` is what an https Ollama is checked against, or why there is
/// nothing to check it against (a CA file that cannot be used).
fn run(
    resolved: &Resolved,
    config_problem: Option<ConfigProblem>,
    hub: Result<SessionConfig, HubUnready>,
    roots: Result<RootCerts, String>,
) -> bool {
    let mut all_ok = true;
    let mut report = |step: Step| {
        step.show();
        all_ok &= step.ok;
    };
    report(config_step(resolved, config_problem));
    let base_url = ollama::base_url(
        &resolved.settings.ollama_host,
        resolved.settings.ollama_port,
    );
    let roots = match roots {
        Ok(roots) => Some(roots),
        Err(why) => {
            report(Step::fail(
                format!("Ollama at {base_url}: not checked: {why}"),
                CA_FIX,
            ));
            None
        }
    };
    let ollama_ok = match &roots {
        None => false,
        Some(roots) => match ollama::version(&base_url, roots, STEP_TIMEOUT) {
            Ok(version) => {
                report(Step::pass(format!(
                    "Ollama {version} answers at {base_url}"
                )));
                true
            }
            Err(e) => {
                let fix = if ollama::uses_tls(&base_url) {
                    "start Ollama (ollama serve), or set its address with \
                     --ollama-host/--ollama-port; if its https certificate is not trusted, \
                     give its CA certificate with --ca-file"
                } else {
                    "start Ollama (ollama serve), or set its address with \
                     --ollama-host/--ollama-port"
                };
                report(Step::fail(
                    format!("Ollama does not answer at {base_url}: {e}"),
                    fix,
                ));
                false
            }
        },
    };
    let model = &resolved.settings.model;
    report(match (&roots, ollama_ok) {
        (Some(roots), true) => model_step(model, &base_url, roots),
        _ => Step::fail(
            format!("model '{model}': not checked"),
            "make Ollama answer first",
        ),
    });
    report(hub_step(hub));
    all_ok
}

/// What is wrong with the config file, for its step of the checklist.
enum ConfigProblem {
    /// It cannot be read or holds a bad value.
    Unusable(String),
    /// The flags given could not be saved to it.
    Unsaved(String),
}

fn config_step(resolved: &Resolved, problem: Option<ConfigProblem>) -> Step {
    let path = resolved.config_path.display();
    match problem {
        Some(ConfigProblem::Unusable(error)) => {
            return Step::fail(error, format!("correct or delete {path} (--reset-config)"))
        }
        Some(ConfigProblem::Unsaved(error)) => {
            return Step::fail(
                error,
                "make its folder writable by this user, or choose another file with --config PATH",
            )
        }
        None => {}
    }
    if resolved.settings.token.is_none() {
        return Step::fail(
            format!("config {path}: no hub token"),
            "run once with --force-token TOKEN, or set OLLAMA_PROXY_TOKEN",
        );
    }
    let exists = if resolved.config_path.exists() {
        "readable"
    } else {
        "absent, defaults"
    };
    Step::pass(format!(
        "config {path} ({exists}), token set, model {}",
        resolved.settings.model
    ))
}

/// The model step, once Ollama answered.
fn model_step(model: &str, base_url: &str, roots: &RootCerts) -> Step {
    match ollama::installed_models(base_url, roots, STEP_TIMEOUT) {
        Ok(installed) if ollama::is_installed(model, &installed) => {
            Step::pass(format!("model '{model}' is installed"))
        }
        Ok(installed) => Step::fail(
            format!(
                "model '{model}' is not installed (installed: {})",
                list(&installed)
            ),
            format!("ollama pull {model}, or choose an installed one with --force-model NAME"),
        ),
        Err(e) => Step::fail(
            format!("cannot list Ollama's models: {e}"),
            "check Ollama's log",
        ),
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

fn hub_step(hub: Result<SessionConfig, HubUnready>) -> Step {
    let mut config = match hub {
        Ok(config) => config,
        Err(HubUnready::NoToken) => {
            return Step::fail(
                "hub: not checked without a token".into(),
                "set the token first",
            )
        }
        Err(HubUnready::Tls(why)) => return Step::fail(format!("hub: not checked: {why}"), CA_FIX),
    };
    config.handshake_timeout = config.handshake_timeout.min(STEP_TIMEOUT);
    let endpoint = config.endpoint.to_string();
    match hub::connect(&config, 0) {
        Ok(session) => {
            session.close();
            let secure = if config.tls.is_some() {
                "TLS verified, "
            } else {
                ""
            };
            Step::pass(format!("hub {endpoint}: {secure}token accepted"))
        }
        Err(error @ ConnectError::TokenRejected(_)) => Step::fail(
            format!("hub {endpoint}: {error}"),
            "get a valid token from the marketplace",
        ),
        Err(error @ (ConnectError::Tls(_) | ConnectError::BadHostName { .. })) => Step::fail(
            format!("hub {endpoint}: {error}"),
            "see above; check this box's clock too",
        ),
        Err(error) => Step::fail(
            format!("hub {endpoint}: {error}"),
            "check the network and firewall (outbound TCP to the hub), or --server/--port",
        ),
    }
}
