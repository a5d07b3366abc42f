//! `--check`: a checklist an owner can run after installing, one line per
//! step with the fix when it fails. Config; then for each Ollama backend
//! whether it answers, whether it has the model, and the time of a
//! one-token answer (bounded by `load_timeout_secs`, as a model load may be
//! part of it; the other steps by 10 s); then the hub. Then the owner's
//! pause, as the next start would find it (`[NOTE]` when paused: not a
//! failure), the selling hours as the client reads them (`[NOTE]` outside
//! them), and with `gpu_guard` one reading of the GPUs. Exit 0 when all
//! pass, 1 if not.
//!
//! With `ollama_hosts`, every backend's lines start with its name, and the
//! fixes name its entry in `ollama_hosts`, not `--ollama-host`.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::cli::Args;
use crate::config::BackendSpec;
use crate::console::print;
use crate::exit::{self, Fatal};
use crate::gpu;
use crate::hours::{SellHours, SystemZone, WindowView};
use crate::hub::{self, ConnectError, Endpoint, SessionConfig};
use crate::ollama::{self, Api, OllamaTarget};
use crate::pause;
use crate::settings::{self, Environment, Resolved};
use crate::startup::{self, init_logging, save};
use crate::text::{self, check, control, owner_language, Lang, Text};
use crate::time;

/// The longest any single step may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// One line of the checklist, in the owner's language when shown.
struct Step {
    /// `[ OK ]`, `[FAIL]`, or `[NOTE]`: not a check but a state the owner
    /// set (the pause).
    mark: &'static str,
    what: Text,
    /// How to fix a failed step.
    fix: Option<Text>,
}

impl Step {
    fn new(mark: &'static str, what: Text, fix: Option<Text>) -> Step {
        Step { mark, what, fix }
    }

    fn pass(what: Text) -> Step {
        Step::new("[ OK ]", what, None)
    }

    fn note(what: Text) -> Step {
        Step::new("[NOTE]", what, None)
    }

    fn fail(what: Text, fix: Text) -> Step {
        Step::new("[FAIL]", what, Some(fix))
    }

    fn ok(&self) -> bool {
        self.fix.is_none()
    }

    /// The same step in a backend's block: its line names the backend.
    fn on(self, backend: &str) -> Step {
        Step {
            what: check::check_on_backend(backend, self.what),
            ..self
        }
    }

    /// The step's line, and the fix's line under it when it failed.
    fn lines(&self, lang: Lang) -> String {
        let mut lines = format!("{} {}\n", self.mark, self.what.in_lang(lang));
        if let Some(fix) = &self.fix {
            let fix = check::check_fix(fix.in_lang(lang)).in_lang(lang);
            lines.push_str(&format!("       {fix}\n"));
        }
        lines
    }
}

/// The `--check` mode: resolves the settings as serving would (a broken
/// config file is reported and never overwritten; the other steps then run
/// on the flags, the environment and the defaults), saves the flags, runs
/// the checklist, printing each step as it finishes. Exit 0 when every
/// step passed, 1 if not.
pub fn run_mode(
    args: &Args,
    env: &Environment,
    path: &Path,
    endpoint: Endpoint,
) -> Result<ExitCode, Fatal> {
    let (mut resolved, config_failed) = match settings::resolve(args, env, path) {
        Ok(resolved) => (resolved, None),
        Err(e) => {
            let without_file = settings::resolve_without_file(args, env, path)
                .map_err(|e| Fatal::config(e.text()))?;
            let fix = check::fix_config_unusable(path.display());
            (without_file, Some(Step::fail(e.text(), fix)))
        }
    };
    let config_failed = config_failed.or_else(|| {
        let unsaved = save(&mut resolved).err()?;
        Some(Step::fail(unsaved.message, check::fix_config_unsaved()))
    });
    init_logging(args, &resolved);
    // The CA files are read (and logged) before the first step is shown:
    // the hub's setup (`None` without a token), and what each backend's
    // https is checked against, or why there is nothing to check it against.
    let (settings, ca_file) = (&resolved.settings, args.ca_file.as_deref());
    let hub = settings.token.clone().map(|token| {
        let config = SessionConfig::new(settings, endpoint, token, ca_file);
        config.map_err(|fatal| fatal.message)
    });
    // What each backend is asked through, or why it cannot be asked: a
    // CA file that cannot be used, an API key file that cannot be read.
    let with_target = |spec: BackendSpec| {
        let target = startup::backend_target(&spec, settings, ca_file);
        (spec, target)
    };
    let backends: Vec<_> = settings.backends().into_iter().map(with_target).collect();
    let mut all_ok = true;
    let mut report = |step: Step| {
        print(&step.lines(owner_language()));
        all_ok &= step.ok();
    };
    report(config_failed.unwrap_or_else(|| config_step(&resolved)));
    let listed = !settings.ollama_hosts.is_empty();
    for (spec, target) in backends {
        // An entry of `ollama_hosts` names itself on each of its lines.
        let mut report_backend = |step: Step| match listed {
            true => report(step.on(&spec.name)),
            false => report(step),
        };
        let model = spec.own.model.as_deref().unwrap_or(&settings.model);
        backend_steps(&spec, model, target, listed, &mut report_backend);
    }
    report(hub_step(hub));
    report(pause_step(path));
    if let Some(hours) = &settings.sell_hours {
        report(hours_step(hours, owner_language()));
    }
    if settings.gpu_guard {
        report(gpu_step(settings));
    }
    Ok(match all_ok {
        true => ExitCode::SUCCESS,
        false => ExitCode::from(exit::CHECK_FAILED),
    })
}

/// One backend's steps, reported as each finishes: does it answer, has it
/// the model, and how long a one-token answer takes (the model loaded
/// first if it is not). The steps after one that failed are "not
/// checked"; the fixes of an entry of `ollama_hosts` (`listed`) point at
/// that entry.
fn backend_steps(
    spec: &BackendSpec,
    model: &str,
    target: Result<OllamaTarget, Fatal>,
    listed: bool,
    report: &mut dyn FnMut(Step),
) {
    let answers = match &target {
        Ok(target) => passed(answers_step(target, listed), report),
        Err(why) => {
            let why = check::check_ollama_not_checked(spec.base_url.shown(), why.message.clone());
            let fix = match spec.own.api_key_file {
                Some(_) => check::fix_api_key_file(),
                None => check::fix_ca_file(),
            };
            report(Step::fail(why, fix));
            false
        }
    };
    let (Ok(target), true) = (target, answers) else {
        report(Step::fail(
            check::check_model_not_checked(model),
            check::fix_ollama_first(),
        ));
        report(Step::fail(
            check::check_one_token_not_checked(),
            check::fix_ollama_first(),
        ));
        return;
    };
    let step = match passed(model_step(&target, listed), report) {
        true => one_token_step(&target),
        false => Step::fail(
            check::check_one_token_not_checked(),
            check::fix_model_first(),
        ),
    };
    report(step);
}

/// Reports `step`; true when it passed.
fn passed(step: Step, report: &mut dyn FnMut(Step)) -> bool {
    let ok = step.ok();
    report(step);
    ok
}

/// The time of a one-token answer: the model (loaded first if it is not)
/// answering a short prompt, within the owner's `load_timeout_secs`.
fn one_token_step(target: &OllamaTarget) -> Step {
    match ollama::one_token(target, target.load_timeout) {
        Ok(took) => Step::pass(check::check_one_token(seconds(took))),
        Err(e) => Step::fail(
            check::check_one_token_failed(e.text()),
            check::fix_one_token(),
        ),
    }
}

/// Seconds with two decimals: `0.84`.
fn seconds(took: Duration) -> String {
    format!("{:.2}", took.as_secs_f64())
}

/// The owner's pause, as saved beside the config (what the next start
/// will do).
fn pause_step(config_path: &Path) -> Step {
    let path = pause::path_for(config_path);
    let now = time::now();
    match pause::load(&path) {
        Ok(None) => Step::pass(control::not_paused()),
        Ok(Some(pause)) => Step::note(control::check_paused_until(pause::end_shown(
            pause.until_millis(),
            now,
        ))),
        Err(why) => Step::fail(
            control::check_pause_unreadable(why.text()),
            control::fix_pause_file(path.display()),
        ),
    }
}

/// The selling hours as the client reads them, and where they stand now
/// (`[NOTE]` outside them: the box will not sell until the time shown).
fn hours_step(hours: &SellHours, lang: Lang) -> Step {
    let now = time::now();
    let windows = hours
        .windows()
        .iter()
        .map(|w| window(w, lang))
        .collect::<Vec<_>>();
    let windows = windows.join(", ");
    let look = hours.look(now, &SystemZone);
    match (
        look.next_change.map(|at| time::clock(at, now)),
        look.selling,
    ) {
        (None, _) => Step::pass(check::check_hours_always(windows)),
        (Some(next), true) => Step::pass(check::check_hours_selling(windows, next)),
        (Some(next), false) => Step::note(check::check_hours_away(windows, next)),
    }
}

/// One window in `lang`: its days, start and end.
fn window(window: &WindowView, lang: Lang) -> String {
    let names = check::check_weekdays().in_lang(lang);
    let names: Vec<&str> = names.split(' ').collect();
    let days = match &window.days {
        None => check::check_every_day().in_lang(lang),
        Some(days) => {
            let day = |d: &u8| names.get(usize::from(*d)).copied().unwrap_or("?");
            days.iter().map(day).collect::<Vec<_>>().join(",")
        }
    };
    let at = |(h, m): (u8, u8)| format!("{h:02}:{m:02}");
    let (start, end) = (at(window.start), at(window.end));
    match window.crosses_midnight {
        true => check::check_window_next_day(days, start, end),
        false => check::check_window(days, start, end),
    }
    .in_lang(lang)
}

/// One reading of the GPUs, as the guard would take it: what it reads and
/// each GPU's figures; `[NOTE]` when there is nothing to read (the guard
/// stays off), `[FAIL]` when the tool does not answer.
fn gpu_step(settings: &crate::config::Settings) -> Step {
    let root = Path::new(&settings.gpu_sysfs_root);
    let sources = match gpu::Sources::find(std::env::var_os("PATH").as_deref(), root) {
        Ok(sources) => sources,
        Err(_) => return Step::note(check::check_gpu_none(root.display())),
    };
    let timeout = settings
        .gpu_check
        .clamp(Duration::from_secs(1), STEP_TIMEOUT);
    match sources.read(settings.yield_to_other_gpu_users, timeout) {
        Ok(sample) => {
            let gpus = sample.gpus.iter().map(|gpu| {
                let figure = |v: Option<f64>| v.map_or_else(|| "?".into(), |v| format!("{v:.0}"));
                control::status_gpu(&gpu.id, figure(gpu.temp_c), figure(gpu.busy_percent))
                    .in_lang(owner_language())
            });
            let gpus = gpus.collect::<Vec<_>>().join("; ");
            Step::pass(check::check_gpu_read(sources.describe(), gpus))
        }
        Err(e) => Step::fail(
            check::check_gpu_failed(sources.describe(), e),
            check::fix_gpu_tool(),
        ),
    }
}

/// The first step: does the backend answer: Ollama with its version, an
/// OpenAI-compatible server with its list of models. The fix of an entry
/// of `ollama_hosts` (`listed`) points at that entry.
fn answers_step(target: &OllamaTarget, listed: bool) -> Step {
    let url = target.base_url.shown();
    let answered = match target.api {
        Api::Ollama => ollama::version(target, STEP_TIMEOUT)
            .map(|version| check::check_ollama_answers(text::outside(&version), url)),
        Api::OpenAi => ollama::installed_models(target, STEP_TIMEOUT)
            .map(|models| check::check_openai_answers(url, models.len())),
    };
    match answered {
        Ok(answers) => Step::pass(answers),
        Err(e) => {
            let refused = matches!(
                e,
                ollama::ApiError::Status {
                    status: 401 | 403,
                    ..
                }
            );
            let fix = match (target.api, target.base_url.uses_tls(), listed) {
                (Api::OpenAi, ..) if refused => check::fix_openai_key_refused(),
                (Api::OpenAi, ..) => check::fix_start_openai(),
                (_, true, false) => check::fix_start_ollama_tls(),
                (_, false, false) => check::fix_start_ollama(),
                (_, true, true) => check::fix_start_backend_tls(),
                (_, false, true) => check::fix_start_backend(),
            };
            let down = match target.api {
                Api::Ollama => check::check_ollama_down(url, e.text()),
                Api::OpenAi => check::check_openai_down(url, e.text()),
            };
            Step::fail(down, fix)
        }
    }
}

/// The config's step, once the file was read and the flags saved.
fn config_step(resolved: &Resolved) -> Step {
    let path = resolved.config_path.display();
    if resolved.settings.token.is_none() {
        return Step::fail(check::check_config_no_token(path), check::fix_no_token());
    }
    let model = &resolved.settings.model;
    Step::pass(match resolved.config_path.exists() {
        true => check::check_config_readable(path, model),
        false => check::check_config_absent(path, model),
    })
}

/// The model step, once the backend answered. The fix of an entry of
/// `ollama_hosts` (`listed`) says how to pull the model on that box; an
/// OpenAI-compatible server's, how to name it as the server does.
fn model_step(target: &OllamaTarget, listed: bool) -> Step {
    let model = target.model.as_str();
    match ollama::installed_models(target, STEP_TIMEOUT) {
        Ok(installed) if ollama::is_installed(target, &installed) => {
            Step::pass(check::check_model_installed(model))
        }
        Ok(installed) => Step::fail(
            check::check_model_missing(model, list(&installed)),
            match (target.api, listed) {
                (Api::OpenAi, _) => check::fix_openai_model(model),
                (_, true) => check::fix_pull_model_on(model, target.base_url.shown()),
                (_, false) => check::fix_pull_model(model),
            },
        ),
        Err(e) => Step::fail(
            check::check_models_unlisted(e.text()),
            check::fix_check_ollama_log(),
        ),
    }
}

fn list(names: &[String]) -> Text {
    match names.is_empty() {
        true => text::stats::none(),
        // Ollama's words, made safe for the terminal.
        false => Text::verbatim(text::outside(&names.join(", "))),
    }
}

fn hub_step(hub: Option<Result<SessionConfig, Text>>) -> Step {
    let mut config = match hub {
        Some(Ok(config)) => config,
        None => return Step::fail(check::check_hub_no_token(), check::fix_token_first()),
        Some(Err(why)) => {
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
    fn selling_windows_show_as_read_in_either_language() {
        let entries = ["22:00-08:00", "sat,sun 10:00-12:30", "mon-fri 09:00-24:00"];
        let hours = SellHours::parse(&entries.map(String::from)).unwrap();
        let shown = |lang| {
            let windows = hours.windows();
            windows.iter().map(|w| window(w, lang)).collect::<Vec<_>>()
        };
        assert_eq!(
            shown(Lang::En),
            [
                "every day 22:00-08:00 (ends the next day)",
                "Sun,Sat 10:00-12:30",
                "Mon,Tue,Wed,Thu,Fri 09:00-24:00"
            ]
        );
        assert_eq!(
            shown(Lang::Ru),
            [
                "каждый день 22:00-08:00 (до следующего дня)",
                "вс,сб 10:00-12:30",
                "пн,вт,ср,чт,пт 09:00-24:00"
            ]
        );
        let always = SellHours::parse(&["00:00-24:00".to_string()]).unwrap();
        let step = hours_step(&always, Lang::En);
        assert_eq!(
            step.lines(Lang::En),
            "[ OK ] selling hours: every day 00:00-24:00; selling at every hour\n"
        );
    }

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
    fn a_backends_step_names_it_in_either_language() {
        let step = Step::fail(
            check::check_model_missing("llama3.2", list(&[])),
            check::fix_pull_model_on("llama3.2", "http://gpu2:11434"),
        )
        .on("gpu2:11434");
        assert_eq!(
            step.lines(Lang::Ru),
            "[FAIL] gpu2:11434: модель 'llama3.2' не установлена (установлены: нет)\n       \
             исправить: ollama pull llama3.2 на той машине (отсюда: \
             OLLAMA_HOST=http://gpu2:11434 ollama pull llama3.2) или выберите модель, \
             которая есть на всех серверах, через --force-model NAME\n"
        );
        let passed = Step::pass(check::check_one_token(seconds(Duration::from_millis(843))));
        assert_eq!(
            passed.on("desktop").lines(Lang::En),
            "[ OK ] desktop: 1-token answer in 0.84 s\n"
        );
        assert_eq!(seconds(Duration::from_millis(12_345)), "12.35");
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
