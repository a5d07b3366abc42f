//! `--check`: a checklist an owner can run after installing, one line per
//! step with the fix when it fails. Config, Ollama, the model, the hub; each
//! step is bounded in time (10 s at most). Then the owner's pause, as the
//! next start would find it (`[NOTE]` when paused: not a failure). Exit 0
//! when all pass, 1 if not.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::cli::Args;
use crate::console::print;
use crate::control::client::clock;
use crate::exit::{self, Fatal};
use crate::hub::{self, ConnectError, Endpoint, SessionConfig};
use crate::ledger;
use crate::ollama::{self, RootCerts};
use crate::pause;
use crate::serve::{ollama_roots, session_config};
use crate::settings::{self, Environment, Resolved};
use crate::startup::{init_logging, save};
use crate::text::{self, check, control, owner_language, Lang, Text};

/// The longest any single step may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// One line of the checklist, in the owner's language when shown.
struct Step {
    ok: bool,
    /// Not a check but a state the owner set (the pause): `[NOTE]`.
    note: bool,
    what: Text,
    fix: Option<Text>,
}

impl Step {
    fn pass(what: Text) -> Step {
        Step {
            ok: true,
            note: false,
            what,
            fix: None,
        }
    }

    fn note(what: Text) -> Step {
        Step {
            note: true,
            ..Step::pass(what)
        }
    }

    fn fail(what: Text, fix: Text) -> Step {
        Step {
            ok: false,
            note: false,
            what,
            fix: Some(fix),
        }
    }

    fn show(&self) {
        print(&self.lines(owner_language()));
    }

    /// The step's line, and the fix's line under it when it failed.
    fn lines(&self, lang: Lang) -> String {
        let mark = match (self.ok, self.note) {
            (true, false) => "[ OK ]",
            (true, true) => "[NOTE]",
            (false, _) => "[FAIL]",
        };
        let mut lines = format!("{mark} {}\n", self.what.in_lang(lang));
        if let Some(fix) = &self.fix {
            let fix = check::check_fix(fix.in_lang(lang)).in_lang(lang);
            lines.push_str(&format!("       {fix}\n"));
        }
        lines
    }
}

/// Why the hub step cannot connect at all.
enum HubUnready {
    NoToken,
    /// The TLS setup failed (a CA file that cannot be used); says why.
    Tls(Text),
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
                .map_err(|e| Fatal::config(e.text()))?;
            (without_file, Some(e.text()))
        }
    };
    let config_problem = match config_error {
        Some(error) => Some(ConfigProblem::Unusable(error)),
        None => save(&mut resolved)
            .err()
            .map(|fatal| ConfigProblem::Unsaved(fatal.message)),
    };
    init_logging(args, &resolved);
    let hub = match resolved.settings.token.clone() {
        None => Err(HubUnready::NoToken),
        Some(token) => session_config(args, &resolved.settings, endpoint, token)
            .map_err(|fatal| HubUnready::Tls(fatal.message)),
    };
    let base_url = ollama::base_url(
        &resolved.settings.ollama_host,
        resolved.settings.ollama_port,
    );
    let roots = ollama_roots(args, &base_url).map_err(|fatal| fatal.message);
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
    roots: Result<RootCerts, Text>,
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
                check::check_ollama_not_checked(&base_url, why),
                check::fix_ca_file(),
            ));
            None
        }
    };
    let ollama_ok = match &roots {
        None => false,
        Some(roots) => {
            let step = ollama_step(&base_url, roots);
            let ok = step.ok;
            report(step);
            ok
        }
    };
    let model = &resolved.settings.model;
    report(match (&roots, ollama_ok) {
        (Some(roots), true) => model_step(model, &base_url, roots),
        _ => Step::fail(
            check::check_model_not_checked(model),
            check::fix_ollama_first(),
        ),
    });
    report(hub_step(hub));
    report(pause_step(&resolved.config_path));
    all_ok
}

/// The owner's pause, as saved beside the config (what the next start
/// will do).
fn pause_step(config_path: &Path) -> Step {
    let path = pause::path_for(config_path);
    let now = ledger::time::now();
    match pause::load(&path) {
        Ok(None) => Step::pass(control::check_not_paused()),
        Ok(Some(pause)) => Step::note(match pause.until_millis() {
            Some(until) => control::check_paused_until(clock(until, now)),
            None => control::check_paused_until_resume(),
        }),
        Err(why) => Step::fail(
            control::check_pause_unreadable(why),
            control::fix_pause_file(path.display()),
        ),
    }
}

/// The Ollama step: does it answer, and with which version.
fn ollama_step(base_url: &str, roots: &RootCerts) -> Step {
    match ollama::version(base_url, roots, STEP_TIMEOUT) {
        Ok(version) => Step::pass(check::check_ollama_answers(version, base_url)),
        Err(e) => {
            let fix = match ollama::uses_tls(base_url) {
                true => check::fix_start_ollama_tls(),
                false => check::fix_start_ollama(),
            };
            Step::fail(check::check_ollama_down(base_url, e.text()), fix)
        }
    }
}

/// What is wrong with the config file, for its step of the checklist.
enum ConfigProblem {
    /// It cannot be read or holds a bad value.
    Unusable(Text),
    /// The flags given could not be saved to it.
    Unsaved(Text),
}

fn config_step(resolved: &Resolved, problem: Option<ConfigProblem>) -> Step {
    let path = resolved.config_path.display();
    match problem {
        Some(ConfigProblem::Unusable(error)) => {
            return Step::fail(error, check::fix_config_unusable(path))
        }
        Some(ConfigProblem::Unsaved(error)) => {
            return Step::fail(error, check::fix_config_unsaved())
        }
        None => {}
    }
    if resolved.settings.token.is_none() {
        return Step::fail(check::check_config_no_token(path), check::fix_no_token());
    }
    let model = &resolved.settings.model;
    Step::pass(match resolved.config_path.exists() {
        true => check::check_config_readable(path, model),
        false => check::check_config_absent(path, model),
    })
}

/// The model step, once Ollama answered.
fn model_step(model: &str, base_url: &str, roots: &RootCerts) -> Step {
    match ollama::installed_models(base_url, roots, STEP_TIMEOUT) {
        Ok(installed) if ollama::is_installed(model, &installed) => {
            Step::pass(check::check_model_installed(model))
        }
        Ok(installed) => Step::fail(
            check::check_model_missing(model, list(&installed)),
            check::fix_pull_model(model),
        ),
        Err(e) => Step::fail(
            check::check_models_unlisted(e.text()),
            check::fix_check_ollama_log(),
        ),
    }
}

fn list(names: &[String]) -> Text {
    match names.is_empty() {
        true => check::check_no_models(),
        false => text::errors::verbatim(names.join(", ")),
    }
}

fn hub_step(hub: Result<SessionConfig, HubUnready>) -> Step {
    let mut config = match hub {
        Ok(config) => config,
        Err(HubUnready::NoToken) => {
            return Step::fail(check::check_hub_no_token(), check::fix_token_first())
        }
        Err(HubUnready::Tls(why)) => {
            return Step::fail(check::check_hub_not_checked(why), check::fix_ca_file())
        }
    };
    config.handshake_timeout = config.handshake_timeout.min(STEP_TIMEOUT);
    let endpoint = config.endpoint.to_string();
    match hub::connect(&config, 0) {
        Ok(session) => {
            session.close();
            Step::pass(match config.tls.is_some() {
                true => check::check_hub_ok_tls(endpoint),
                false => check::check_hub_ok(endpoint),
            })
        }
        Err(error) => {
            let fix = match error {
                ConnectError::TokenRejected(_) => check::fix_get_token(),
                ConnectError::Tls(_) | ConnectError::BadHostName { .. } => {
                    check::fix_tls_see_above()
                }
                _ => check::fix_network(),
            };
            Step::fail(check::check_hub_failed(endpoint, error.text()), fix)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_show_in_the_owners_language_with_the_fix_under_them() {
        let step = Step::fail(
            check::check_ollama_down("http://127.0.0.1:11434", "connection refused"),
            check::fix_start_ollama(),
        );
        assert_eq!(
            step.lines(Lang::En),
            "[FAIL] Ollama does not answer at http://127.0.0.1:11434: connection refused\n       \
             fix: start Ollama (ollama serve), or set its address with \
             --ollama-host/--ollama-port\n"
        );
        assert_eq!(
            step.lines(Lang::Ru),
            "[FAIL] Ollama не отвечает по адресу http://127.0.0.1:11434: connection refused\n       \
             исправить: запустите Ollama (ollama serve) или укажите её адрес через \
             --ollama-host/--ollama-port\n"
        );
        let passed = Step::pass(check::check_model_installed("qwen3:8b"));
        assert_eq!(
            passed.lines(Lang::Ru),
            "[ OK ] модель 'qwen3:8b' установлена\n"
        );
    }

    #[test]
    fn a_hub_error_inside_a_step_is_in_the_same_language() {
        let error = ConnectError::TokenRejected(401);
        let step = Step::fail(
            check::check_hub_failed("wss://hub.example:5050/x", error.text()),
            check::fix_get_token(),
        );
        let ru = step.lines(Lang::Ru);
        assert!(
            ru.starts_with("[FAIL] хаб wss://hub.example:5050/x: хаб отклонил токен (HTTP 401)"),
            "{ru}"
        );
        assert!(ru.contains("--force-token TOKEN"), "{ru}");
        assert!(ru.contains("исправить: получите действующий токен"), "{ru}");
        let en = step.lines(Lang::En);
        assert!(
            en.starts_with("[FAIL] hub wss://hub.example:5050/x: the hub rejected the token"),
            "{en}"
        );
        assert_eq!(error.to_string(), error.text().english());
    }

    #[test]
    fn an_empty_model_list_says_none() {
        assert_eq!(list(&[]).in_lang(Lang::Ru), "нет");
        assert_eq!(list(&[]).in_lang(Lang::En), "none");
        let names = ["a:latest".to_string(), "b:7b".to_string()];
        assert_eq!(list(&names).in_lang(Lang::Ru), "a:latest, b:7b");
    }
}
