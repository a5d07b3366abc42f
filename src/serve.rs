//! The running client: the one place that starts the threads and wires
//! their channels together (see ARCHITECTURE.md for the picture).
//!
//! The writer thread comes first (everything else sends to it), then the
//! relay's workers, then the signal thread that runs the shutdown sequence,
//! and last the hub connection loop: on this thread when serving, in the
//! background in test mode while the console takes prompts. Before them:
//! the metrics (always counted; served on `metrics_listen` when set) and
//! the ledger, both fed every answer through `accounting::Sinks`.

use std::path::Path;
use std::sync::Arc;
use std::thread;

use crate::accounting::{Accounts, Sinks};
use crate::availability::{Availability, OwnerRules};
use crate::backends::{self, Backend, Backends};
use crate::cli::Args;
use crate::config::Settings;
use crate::control;
use crate::exit::Fatal;
use crate::gpu::GuardSettings;
use crate::hub::{self, Backoff, SessionConfig, Supervisor, Writer};
use crate::ledger::{self, Ledger};
use crate::metrics::{self, Metrics, Summary};
use crate::ollama::Api;
use crate::pause;
use crate::relay::{Admission, Recorder, Relay, RelaySettings};
use crate::shutdown::Shutdown;
use crate::startup;
use crate::test_mode;

/// The Ollama backends, from the owner's settings: `ollama_hosts`, or the
/// one of `ollama_host` and `ollama_port`. Fails on a CA file that cannot
/// be used when a backend's address is https.
fn backends(args: &Args, settings: &Settings, has_hub: bool) -> Result<Arc<Backends>, Fatal> {
    let mut list = Vec::new();
    for spec in settings.backends() {
        let target = startup::backend_target(&spec, settings, args.ca_file.as_deref())?;
        list.push(Backend::new(spec.name, target, spec.max_parallel));
    }
    let policy = backends::Policy {
        down_after: settings.ollama_down_after,
        probe_every: settings.ollama_probe,
        warm_up: settings.warm_up,
        has_hub,
    };
    Ok(Backends::new(list, policy))
}

/// What the GPU guard is told of the owner's settings.
fn guard_settings(settings: &Settings) -> GuardSettings {
    GuardSettings {
        check_every: settings.gpu_check,
        max_temp_c: settings.gpu_max_temp_c,
        yield_to_others: settings.yield_to_other_gpu_users,
        clear_after: settings.gpu_clear,
        sysfs_root: settings.gpu_sysfs_root.clone().into(),
    }
}

/// Starts the writer and the workers, then keeps the hub connection up (in
/// test mode in the background, while the console takes prompts). Returns
/// only on a failure to start; the shutdown sequence ends the process.
pub fn serve(
    args: &Args,
    settings: &Settings,
    hub: Option<SessionConfig>,
    config_path: &Path,
) -> Result<(), Fatal> {
    let backends = backends(args, settings, hub.is_some())?;
    // First: a second client on this config stops before it touches anything.
    let claim = match hub {
        Some(_) => control::server::claim(config_path)?,
        None => None,
    };
    // A backend's API and model are said where they are not the default's.
    let own = |b: &Backend| {
        let api = (b.target.api != Api::Ollama).then(|| b.target.api.as_str().to_string());
        let model = (b.target.model != settings.model).then(|| format!("model {}", b.target.model));
        api.into_iter()
            .chain(model)
            .map(|s| format!(", {s}"))
            .collect::<String>()
    };
    let on: Vec<String> = backends
        .list()
        .iter()
        .map(|b| match (backends.list().len(), own(b)) {
            (1, own) if own.is_empty() => b.target.base_url.shown().to_string(),
            (_, own) => format!(
                "{} ({}{own}, {} worker(s))",
                b.target.base_url.shown(),
                b.name,
                b.max_parallel
            ),
        })
        .collect();
    let workers: usize = backends.list().iter().map(|b| b.max_parallel).sum();
    log::info!(
        "ollama-proxy-client {}: model {} on {}, {} worker(s), {} mode",
        env!("CARGO_PKG_VERSION"),
        settings.model,
        on.join(", "),
        workers,
        if settings.stream_mode {
            "stream"
        } else {
            "non-stream"
        }
    );
    let labels = backends.list().iter().map(|b| {
        let target = &b.target;
        (b.name.as_str(), target.api.as_str(), target.model.as_str())
    });
    let metrics = Metrics::for_backends(labels);
    let summary = Summary::new(settings.summary_interval);
    let ledger = open_ledger(settings, config_path);
    let (to_writer, inbox) = hub::writer_channel();
    let admission = Admission::new(to_writer.clone());
    let availability = Availability::new(
        Arc::clone(&admission),
        metrics.clone(),
        ledger.clone(),
        Arc::clone(&backends),
        hub.is_some(),
        pause::path_for(config_path),
        OwnerRules {
            sell_hours: settings.sell_hours.clone(),
            unload_on_pause: settings.unload_on_pause,
            ..OwnerRules::default()
        },
    );
    start_metrics_endpoint(settings, &metrics, &availability)?;
    let mut sinks: Vec<Arc<dyn Accounts>> = vec![metrics.clone()];
    if let Some(ledger) = &ledger {
        sinks.push(ledger.clone());
    }
    let sinks = Sinks::new(sinks);
    let writer = Writer::new(inbox, settings.outbox_bytes, settings.ping_interval)
        .counting(metrics.clone(), summary);
    let writer = match hub {
        Some(_) => writer,
        None => writer.without_hub(),
    };
    spawn("writer", move || writer.run())?;
    let relay_settings = RelaySettings {
        queue_size: settings.queue_size,
        default_stream: settings.stream_mode,
        buyer_language: settings.buyer_language,
        max_prompt_chars: settings.max_prompt_chars,
    };
    let relay = Relay::start(
        relay_settings,
        &backends,
        &admission,
        Recorder {
            sinks: sinks.clone(),
            metrics,
            model: settings.model.as_str().into(),
        },
    )
    .map_err(|e| Fatal::thread("worker", &e))?;
    let dispatcher = relay.dispatcher.clone();
    let shutdown = Shutdown::new(
        relay,
        to_writer.clone(),
        settings.shutdown_grace,
        args.test,
        hub.is_some(),
        ledger.clone(),
    );
    // Without it a SIGTERM would kill running answers mid-sentence.
    shutdown
        .install_signals()
        .map_err(|e| Fatal::thread("signal", &e))?;
    if let Some(claim) = claim {
        control::server::start(claim, availability.clone())?;
    }
    backends
        .start_prober()
        .map_err(|e| Fatal::thread("prober", &e))?;
    // The owner's rules before the first look: a box started outside its
    // hours, or while the owner games, does not load the model.
    availability
        .watch_hours()
        .map_err(|e| Fatal::thread("hours", &e))?;
    if settings.gpu_guard {
        availability.watch_gpus(guard_settings(settings));
    }
    // Ollama first: the hub is not told this box serves before it can.
    let warm_up = match hub {
        Some(_) => availability.first_look(),
        None => None,
    };
    if let Some(ledger) = &ledger {
        ledger.started(
            &settings.model,
            recorded(settings, &backends, hub.as_ref()),
            warm_up.map(|d| d.as_millis() as u64),
        );
    }
    availability.start_recording();
    let hub_loop = shutdown.hub_loop.clone();
    let supervisor = hub.map(|config| Supervisor {
        config,
        backoff: Backoff::new(settings.reconnect_base, settings.reconnect_max),
        stable_after: settings.reconnect_max,
        sinks,
        gate: availability.clone(),
    });
    if !args.test {
        if let Some(supervisor) = supervisor {
            supervisor.run(&dispatcher, &to_writer, &hub_loop);
        }
        // Only a shutdown ends the loop above; it also ends the process.
        hub_loop.wait_for_exit();
    }
    match supervisor {
        Some(supervisor) => {
            // The first attempt is under way from now on, for the writer.
            hub_loop.set_connecting(true);
            let (dispatcher, to_writer) = (dispatcher.clone(), to_writer.clone());
            spawn("hub", move || {
                supervisor.run(&dispatcher, &to_writer, &hub_loop)
            })?;
        }
        None => log::warn!("no hub token: answers are shown here only, not sent to the hub"),
    }
    test_mode::run(&dispatcher);
    shutdown.run("end of test mode")
}

/// The ledger beside the config file; `None` (and a warning) when it
/// cannot be written: the box serves on.
fn open_ledger(settings: &Settings, config_path: &Path) -> Option<Arc<Ledger>> {
    let path = ledger::path_for(config_path);
    let opened = Ledger::open(&path, settings.ledger_max_bytes, settings.ledger_files_kept);
    match opened {
        Ok(ledger) => Some(Arc::new(ledger)),
        Err(why) => {
            log::warn!("{why}; answers are not written to the ledger");
            None
        }
    }
}

/// The settings the ledger's `start` line records.
fn recorded(
    settings: &Settings,
    backends: &Backends,
    hub: Option<&SessionConfig>,
) -> serde_json::Map<String, serde_json::Value> {
    let mut recorded = serde_json::Map::new();
    let list = backends.list();
    let first = list.first().map(|b| b.target.base_url.shown());
    recorded.insert("ollama".into(), first.into());
    if list.len() > 1 {
        let each = |b: &Backend| serde_json::json!({"name": b.name, "url": b.target.base_url.shown(), "max_parallel": b.max_parallel});
        recorded.insert("backends".into(), list.iter().map(each).collect());
    }
    let hub = hub.map(|config| config.endpoint.to_string());
    recorded.insert("hub".into(), hub.into());
    recorded.insert("max_parallel".into(), settings.max_parallel.into());
    recorded.insert("queue_size".into(), settings.queue_size.into());
    recorded.insert("stream_mode".into(), settings.stream_mode.into());
    recorded
}

/// The `/metrics`, `/healthz` and `/readyz` port, when `metrics_listen`
/// names one. An address that cannot be used stops the client (status 78):
/// the owner asked for it, and a monitor would otherwise report the box as
/// down without saying why.
fn start_metrics_endpoint(
    settings: &Settings,
    metrics: &Arc<Metrics>,
    availability: &Arc<Availability>,
) -> Result<(), Fatal> {
    if settings.metrics_listen.is_empty() {
        return Ok(());
    }
    let listener = metrics::bind(&settings.metrics_listen, settings.metrics_public)
        .map_err(|e| Fatal::config(e.text()))?;
    if let Ok(address) = listener.local_addr() {
        log::info!("metrics on http://{address}/metrics");
    }
    // The gauges and /readyz come from the one place that decides them.
    let availability = Arc::clone(availability);
    let health: metrics::HealthView = Arc::new(move || availability.status().health());
    metrics::start(listener, metrics.clone(), health).map_err(|e| Fatal::thread("metrics", &e))
}

fn spawn(name: &str, body: impl FnOnce() + Send + 'static) -> Result<(), Fatal> {
    thread::Builder::new()
        .name(name.into())
        .spawn(body)
        .map(drop)
        .map_err(|e| Fatal::thread(name, &e))
}
