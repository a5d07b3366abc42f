//! [`Metrics`] in Prometheus's text exposition format, version 0.0.4: a
//! `# HELP` and a `# TYPE` line for every family, then its samples. Also
//! the standard `process_*` figures, read from the system on each scrape
//! (`platform::process::figures`; each one only when it can be read: a
//! locked-down `/proc`).
//!
//! Durations are kept in whole milliseconds and written as seconds with
//! integer arithmetic ([`seconds`]), so no float formatting is needed.

use std::fmt::{Display, Write};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::{BackendFigures, Health, Histogram, Metrics, AWAY_REASONS, BUCKETS_MS};
use crate::accounting::Outcome;
use crate::platform::{self, ProcessFigures};

/// The `Content-Type` of [`render`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The whole scrape: the client's figures and its health as
/// `availability` decided it, then the process's figures.
pub fn render(metrics: &Metrics, health: &Health) -> String {
    let mut out = String::with_capacity(4096);
    client(&mut out, metrics, health);
    process(&mut out, &platform::process::figures());
    out
}

/// `# HELP` and `# TYPE` of a family.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    // Writing to a String cannot fail.
    let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
}

/// A family of one sample without labels.
fn single(out: &mut String, name: &str, kind: &str, help: &str, value: &dyn Display) {
    family(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

fn client(out: &mut String, m: &Metrics, health: &Health) {
    requests(out, m);
    unlabelled(out, m, health);
    ollama_up(out, health);
    away(out, health);
    gpus(out, health);
    backends(out, m, health);
    let name = "ollama_proxy_first_piece_seconds";
    let help = "From a request's arrival to its first answer piece.";
    histogram(out, name, help, &m.first_piece);
    let help = "From a request's arrival to its last frame, refused requests included.";
    histogram(out, "ollama_proxy_answer_seconds", help, &m.answer);
    let version = env!("CARGO_PKG_VERSION");
    let help = "The client's version; always 1.";
    family(out, "ollama_proxy_build_info", "gauge", help);
    let _ = writeln!(out, "ollama_proxy_build_info{{version=\"{version}\"}} 1");
}

/// Why the box is away: 1 for the reason that holds, 0 for the others, so
/// that an alert can say which.
fn away(out: &mut String, health: &Health) {
    let name = "ollama_proxy_away";
    let help = "1 for the reason the box takes no buyers (paused, outside_hours, gpu_hot, \
                gpu_in_use, ollama), else 0.";
    family(out, name, "gauge", help);
    for reason in AWAY_REASONS {
        let holds = u8::from(health.away == Some(reason));
        let _ = writeln!(out, "{name}{{reason=\"{reason}\"}} {holds}");
    }
}

/// What the GPU guard read of each GPU, when it is on and read something.
fn gpus(out: &mut String, health: &Health) {
    if health.gpus.is_empty() {
        return;
    }
    let families = [
        (
            "ollama_proxy_gpu_temperature_celsius",
            "A GPU's temperature as the GPU guard last read it.",
        ),
        (
            "ollama_proxy_gpu_utilization_percent",
            "How busy a GPU was when the GPU guard last read it, in percent.",
        ),
    ];
    for (index, (name, help)) in families.into_iter().enumerate() {
        family(out, name, "gauge", help);
        for (gpu, temp_c, busy) in &health.gpus {
            if let Some(value) = [temp_c, busy][index] {
                let _ = writeln!(out, "{name}{{gpu=\"{}\"}} {value}", escaped(gpu));
            }
        }
    }
}

/// The families of one sample without labels: name, type, help, value.
fn unlabelled(out: &mut String, m: &Metrics, health: &Health) {
    let (counter, gauge) = ("counter", "gauge");
    let families: [(&str, &str, &str, &dyn Display); 9] = [
        (
            "ollama_proxy_tokens_generated_total",
            counter,
            "Tokens Ollama generated for finished answers (its eval_count).",
            &m.tokens.load(Relaxed),
        ),
        (
            "ollama_proxy_prompt_tokens_total",
            counter,
            "Prompt tokens Ollama evaluated for finished answers (its prompt_eval_count).",
            &m.prompt_tokens.load(Relaxed),
        ),
        (
            "ollama_proxy_pieces_sent_total",
            counter,
            "Answer pieces handed to the hub's writer.",
            &m.pieces.load(Relaxed),
        ),
        (
            "ollama_proxy_hub_connected",
            gauge,
            "1 while the WebSocket to the hub is up, else 0.",
            &u8::from(health.hub_connected),
        ),
        (
            "ollama_proxy_hub_connections_total",
            counter,
            "Connections to the hub made since the start.",
            &m.hub_connections.load(Relaxed),
        ),
        (
            "ollama_proxy_requests_running",
            gauge,
            "Requests a worker is answering now.",
            &m.requests_running.load(Relaxed),
        ),
        (
            "ollama_proxy_queue_depth",
            gauge,
            "Requests waiting for a worker.",
            &m.queue_depth.load(Relaxed),
        ),
        (
            "ollama_proxy_outbox_bytes",
            gauge,
            "Bytes of answer frames not yet sent to the hub.",
            &m.outbox_bytes.load(Relaxed),
        ),
        (
            "ollama_proxy_paused",
            gauge,
            "1 while the owner has paused selling (--pause), else 0.",
            &u8::from(health.paused),
        ),
    ];
    for (name, kind, help, value) in families {
        single(out, name, kind, help, value);
    }
}

/// Every outcome, zero or not, so that rates and ratios never miss one.
fn requests(out: &mut String, m: &Metrics) {
    let name = "ollama_proxy_requests_total";
    let help = "Finished requests, by how they ended.";
    family(out, name, "counter", help);
    by_outcome(out, name, "", &m.requests);
}

/// A sample of `name` per outcome, from `counts` in the order of
/// [`Outcome::ALL`], after the `labels` given (each followed by a comma).
fn by_outcome(out: &mut String, name: &str, labels: &str, counts: &[AtomicU64]) {
    for (outcome, count) in Outcome::ALL.iter().zip(counts) {
        let (outcome, count) = (outcome.label(), count.load(Relaxed));
        let _ = writeln!(out, "{name}{{{labels}outcome=\"{outcome}\"}} {count}");
    }
}

/// No sample until the backends' health is known: an alert on
/// `ollama_proxy_ollama_up == 0` must not fire for "not checked yet".
fn ollama_up(out: &mut String, health: &Health) {
    let name = "ollama_proxy_ollama_up";
    let help = "1 if an Ollama backend can serve (answers and has the model), \
                0 while none can; absent until they were checked.";
    family(out, name, "gauge", help);
    if let Some(up) = health.ollama_up {
        let _ = writeln!(out, "{name} {}", u8::from(up));
    }
}

/// The figures per Ollama backend, labelled `backend="NAME"`: each
/// family's samples in the backends' listed order. Like
/// `ollama_proxy_ollama_up`, a backend's up gauge has no sample until it
/// was checked; the counters count the answers whose record names the
/// backend (the one that ran it last; a request refused before any
/// backend counts in `ollama_proxy_requests_total` alone).
fn backends(out: &mut String, m: &Metrics, health: &Health) {
    let name = "ollama_proxy_backend_up";
    let help = "1 if the Ollama backend answers and has the model, 0 while it is set aside; \
                absent until it was checked.";
    family(out, name, "gauge", help);
    for (name_of_backend, up) in &health.backends_up {
        if let Some(up) = up {
            let label = escaped(name_of_backend);
            let _ = writeln!(out, "{name}{{backend=\"{label}\"}} {}", u8::from(*up));
        }
    }
    let name = "ollama_proxy_backend_info";
    let help = "A backend's API (ollama or openai) and model; always 1.";
    family(out, name, "gauge", help);
    for backend in m.backends.iter() {
        let (label, model) = (escaped(&backend.name), escaped(&backend.model));
        let api = backend.api;
        let _ = writeln!(
            out,
            "{name}{{backend=\"{label}\",api=\"{api}\",model=\"{model}\"}} 1"
        );
    }
    let name = "ollama_proxy_backend_requests_total";
    let help = "Finished requests an Ollama backend ran (the last one tried), by how they ended.";
    family(out, name, "counter", help);
    for backend in m.backends.iter() {
        let labels = format!("backend=\"{}\",", escaped(&backend.name));
        by_outcome(out, name, &labels, &backend.requests);
    }
    let name = "ollama_proxy_backend_tokens_generated_total";
    let help = "Tokens an Ollama backend generated for finished answers (its eval_count).";
    counter_per_backend(out, m, name, help, |b| b.tokens.load(Relaxed));
    let name = "ollama_proxy_backend_failovers_total";
    let help = "Finished requests an Ollama backend ran after another backend failed \
                before their first piece.";
    counter_per_backend(out, m, name, help, |b| b.failovers.load(Relaxed));
}

/// A counter family with one sample per backend.
fn counter_per_backend(
    out: &mut String,
    m: &Metrics,
    name: &str,
    help: &str,
    value: fn(&BackendFigures) -> u64,
) {
    family(out, name, "counter", help);
    for backend in m.backends.iter() {
        let label = escaped(&backend.name);
        let _ = writeln!(out, "{name}{{backend=\"{label}\"}} {}", value(backend));
    }
}

/// A label's value as the text format wants it: backslash, double quote
/// and line feed escaped. (Backend names are plain host names or the
/// owner's words; escaped all the same.)
fn escaped(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn histogram(out: &mut String, name: &str, help: &str, h: &Histogram) {
    family(out, name, "histogram", help);
    let cumulative = h.cumulative();
    for (bound, count) in BUCKETS_MS.iter().zip(cumulative) {
        let _ = writeln!(out, "{name}_bucket{{le=\"{}\"}} {count}", seconds(*bound));
    }
    let count = cumulative.last().copied().unwrap_or(0);
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
    let _ = writeln!(out, "{name}_sum {}", seconds(h.sum_ms.load(Relaxed)));
    let _ = writeln!(out, "{name}_count {count}");
}

/// Milliseconds as seconds in decimal, without trailing zeros: 50 ->
/// `0.05`, 1000 -> `1`, 2500 -> `2.5`, 1234 -> `1.234`.
fn seconds(ms: u64) -> String {
    let (whole, frac) = (ms / 1000, ms % 1000);
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:03}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

fn process(out: &mut String, p: &ProcessFigures) {
    if let Some(bytes) = p.resident_bytes {
        let help = "Resident memory size in bytes.";
        single(out, "process_resident_memory_bytes", "gauge", help, &bytes);
    }
    if let Some(ms) = p.cpu_ms {
        let name = "process_cpu_seconds_total";
        let help = "Total user and system CPU time spent in seconds.";
        single(out, name, "counter", help, &seconds(ms));
    }
    if let Some(ms) = p.start_ms {
        let name = "process_start_time_seconds";
        let help = "Start time of the process since unix epoch in seconds.";
        single(out, name, "gauge", help, &seconds(ms));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounting::{Accounts, HubEvent};
    use crate::metrics::tests::record;

    const EMPTY: &str = "\
# HELP ollama_proxy_requests_total Finished requests, by how they ended.
# TYPE ollama_proxy_requests_total counter
ollama_proxy_requests_total{outcome=\"ok\"} 0
ollama_proxy_requests_total{outcome=\"error\"} 0
ollama_proxy_requests_total{outcome=\"busy\"} 0
ollama_proxy_requests_total{outcome=\"shutdown\"} 0
# HELP ollama_proxy_tokens_generated_total Tokens Ollama generated for finished answers (its eval_count).
# TYPE ollama_proxy_tokens_generated_total counter
ollama_proxy_tokens_generated_total 0
# HELP ollama_proxy_prompt_tokens_total Prompt tokens Ollama evaluated for finished answers (its prompt_eval_count).
# TYPE ollama_proxy_prompt_tokens_total counter
ollama_proxy_prompt_tokens_total 0
# HELP ollama_proxy_pieces_sent_total Answer pieces handed to the hub's writer.
# TYPE ollama_proxy_pieces_sent_total counter
ollama_proxy_pieces_sent_total 0
# HELP ollama_proxy_hub_connected 1 while the WebSocket to the hub is up, else 0.
# TYPE ollama_proxy_hub_connected gauge
ollama_proxy_hub_connected 0
# HELP ollama_proxy_hub_connections_total Connections to the hub made since the start.
# TYPE ollama_proxy_hub_connections_total counter
ollama_proxy_hub_connections_total 0
# HELP ollama_proxy_requests_running Requests a worker is answering now.
# TYPE ollama_proxy_requests_running gauge
ollama_proxy_requests_running 0
# HELP ollama_proxy_queue_depth Requests waiting for a worker.
# TYPE ollama_proxy_queue_depth gauge
ollama_proxy_queue_depth 0
# HELP ollama_proxy_outbox_bytes Bytes of answer frames not yet sent to the hub.
# TYPE ollama_proxy_outbox_bytes gauge
ollama_proxy_outbox_bytes 0
# HELP ollama_proxy_paused 1 while the owner has paused selling (--pause), else 0.
# TYPE ollama_proxy_paused gauge
ollama_proxy_paused 0
# HELP ollama_proxy_ollama_up 1 if an Ollama backend can serve (answers and has the model), 0 while none can; absent until they were checked.
# TYPE ollama_proxy_ollama_up gauge
# HELP ollama_proxy_away 1 for the reason the box takes no buyers (paused, outside_hours, gpu_hot, gpu_in_use, ollama), else 0.
# TYPE ollama_proxy_away gauge
ollama_proxy_away{reason=\"paused\"} 0
ollama_proxy_away{reason=\"outside_hours\"} 0
ollama_proxy_away{reason=\"gpu_hot\"} 0
ollama_proxy_away{reason=\"gpu_in_use\"} 0
ollama_proxy_away{reason=\"ollama\"} 0
# HELP ollama_proxy_backend_up 1 if the Ollama backend answers and has the model, 0 while it is set aside; absent until it was checked.
# TYPE ollama_proxy_backend_up gauge
# HELP ollama_proxy_backend_info A backend's API (ollama or openai) and model; always 1.
# TYPE ollama_proxy_backend_info gauge
# HELP ollama_proxy_backend_requests_total Finished requests an Ollama backend ran (the last one tried), by how they ended.
# TYPE ollama_proxy_backend_requests_total counter
# HELP ollama_proxy_backend_tokens_generated_total Tokens an Ollama backend generated for finished answers (its eval_count).
# TYPE ollama_proxy_backend_tokens_generated_total counter
# HELP ollama_proxy_backend_failovers_total Finished requests an Ollama backend ran after another backend failed before their first piece.
# TYPE ollama_proxy_backend_failovers_total counter
# HELP ollama_proxy_first_piece_seconds From a request's arrival to its first answer piece.
# TYPE ollama_proxy_first_piece_seconds histogram
ollama_proxy_first_piece_seconds_bucket{le=\"0.05\"} 0
ollama_proxy_first_piece_seconds_bucket{le=\"0.1\"} 0
ollama_proxy_first_piece_seconds_bucket{le=\"0.25\"} 0
ollama_proxy_first_piece_seconds_bucket{le=\"0.5\"} 0
ollama_proxy_first_piece_seconds_bucket{le=\"1\"} 0
ollama_proxy_first_piece_seconds_bucket{le=\"2.5\"} 0
ollama_proxy_first_piece_seconds_bucket{le=\"5\"} 0
ollama_proxy_first_piece_seconds_bucket{le=\"10\"} 0
ollama_proxy_first_piece_seconds_bucket{le=\"30\"} 0
ollama_proxy_first_piece_seconds_bucket{le=\"60\"} 0
ollama_proxy_first_piece_seconds_bucket{le=\"120\"} 0
ollama_proxy_first_piece_seconds_bucket{le=\"300\"} 0
ollama_proxy_first_piece_seconds_bucket{le=\"+Inf\"} 0
ollama_proxy_first_piece_seconds_sum 0
ollama_proxy_first_piece_seconds_count 0
# HELP ollama_proxy_answer_seconds From a request's arrival to its last frame, refused requests included.
# TYPE ollama_proxy_answer_seconds histogram
ollama_proxy_answer_seconds_bucket{le=\"0.05\"} 0
ollama_proxy_answer_seconds_bucket{le=\"0.1\"} 0
ollama_proxy_answer_seconds_bucket{le=\"0.25\"} 0
ollama_proxy_answer_seconds_bucket{le=\"0.5\"} 0
ollama_proxy_answer_seconds_bucket{le=\"1\"} 0
ollama_proxy_answer_seconds_bucket{le=\"2.5\"} 0
ollama_proxy_answer_seconds_bucket{le=\"5\"} 0
ollama_proxy_answer_seconds_bucket{le=\"10\"} 0
ollama_proxy_answer_seconds_bucket{le=\"30\"} 0
ollama_proxy_answer_seconds_bucket{le=\"60\"} 0
ollama_proxy_answer_seconds_bucket{le=\"120\"} 0
ollama_proxy_answer_seconds_bucket{le=\"300\"} 0
ollama_proxy_answer_seconds_bucket{le=\"+Inf\"} 0
ollama_proxy_answer_seconds_sum 0
ollama_proxy_answer_seconds_count 0
# HELP ollama_proxy_build_info The client's version; always 1.
# TYPE ollama_proxy_build_info gauge
";

    /// The client's figures with `health` (hub, Ollama, backends).
    fn client_text_with(m: &Metrics, health: &Health) -> String {
        let mut out = String::new();
        client(&mut out, m, health);
        out
    }

    /// Not connected, nothing checked yet.
    fn unknown() -> Health {
        Health {
            hub_connected: false,
            paused: false,
            ollama_up: None,
            backends_up: Vec::new(),
            away: None,
            gpus: Vec::new(),
            ready: Err("Ollama not checked yet".into()),
        }
    }

    fn client_text(m: &Metrics) -> String {
        client_text_with(m, &unknown())
    }

    fn with_backends(backends: &[(&str, Option<bool>)]) -> Health {
        let backends_up = backends.iter().map(|(name, up)| (name.to_string(), *up));
        Health {
            backends_up: backends_up.collect(),
            ..unknown()
        }
    }

    fn build_info() -> String {
        let version = env!("CARGO_PKG_VERSION");
        format!("ollama_proxy_build_info{{version=\"{version}\"}} 1\n")
    }

    #[test]
    fn the_away_reason_and_the_gpus_render_from_the_health() {
        let m = Metrics::new();
        let health = Health {
            away: Some("gpu_hot"),
            gpus: vec![
                ("0".into(), Some(91.0), Some(97.5)),
                ("card\"1".into(), None, Some(3.0)),
            ],
            ..unknown()
        };
        let text = client_text_with(&m, &health);
        for reason in AWAY_REASONS {
            let holds = u8::from(reason == "gpu_hot");
            let line = format!("ollama_proxy_away{{reason=\"{reason}\"}} {holds}\n");
            assert!(text.contains(&line), "{line}\n{text}");
        }
        for line in [
            "# TYPE ollama_proxy_gpu_temperature_celsius gauge\n",
            "ollama_proxy_gpu_temperature_celsius{gpu=\"0\"} 91\n",
            "ollama_proxy_gpu_utilization_percent{gpu=\"0\"} 97.5\n",
            "ollama_proxy_gpu_utilization_percent{gpu=\"card\\\"1\"} 3\n",
        ] {
            assert!(text.contains(line), "{line}\n{text}");
        }
        assert!(!text.contains("ollama_proxy_gpu_temperature_celsius{gpu=\"card"));
        // Without the guard's readings, no GPU family at all.
        assert!(!client_text(&m).contains("ollama_proxy_gpu_"));
    }

    #[test]
    fn fresh_figures_render_every_family_at_zero() {
        let m = Metrics::new();
        assert_eq!(client_text(&m), format!("{EMPTY}{}", build_info()));
    }

    /// `expected` lines replace those of the empty rendering that start
    /// with the same name and labels.
    fn empty_with(expected: &[&str]) -> String {
        let mut text = format!("{EMPTY}{}", build_info());
        for line in expected {
            let (key, _) = line.rsplit_once(' ').unwrap();
            let start = text.find(&format!("\n{key} ")).unwrap() + 1;
            let end = start + text[start..].find('\n').unwrap();
            text.replace_range(start..end, line);
        }
        text
    }

    #[test]
    fn known_figures_render_exactly() {
        let m = Metrics::new();
        m.answered(&record(Outcome::Ok, None));
        let mut slow = record(Outcome::Error, Some("timeout"));
        (slow.first_piece_ms, slow.total_ms, slow.tokens) = (Some(2_500), 301_234, None);
        m.answered(&slow);
        m.hub(&HubEvent::Connected);
        m.piece_sent();
        m.piece_sent();
        m.request_started();
        m.queue_depth_add(-2);
        m.set_outbox_bytes(123);
        let health = Health {
            hub_connected: true,
            ollama_up: Some(true),
            ..unknown()
        };
        let mut expected = vec![
            "ollama_proxy_requests_total{outcome=\"ok\"} 1",
            "ollama_proxy_requests_total{outcome=\"error\"} 1",
            "ollama_proxy_tokens_generated_total 11",
            "ollama_proxy_prompt_tokens_total 14",
            "ollama_proxy_pieces_sent_total 2",
            "ollama_proxy_hub_connected 1",
            "ollama_proxy_hub_connections_total 1",
            "ollama_proxy_requests_running 1",
            "ollama_proxy_queue_depth -2",
            "ollama_proxy_outbox_bytes 123",
            "ollama_proxy_first_piece_seconds_sum 2.54",
            "ollama_proxy_first_piece_seconds_count 2",
            "ollama_proxy_answer_seconds_sum 302.134",
            "ollama_proxy_answer_seconds_count 2",
            "ollama_proxy_answer_seconds_bucket{le=\"+Inf\"} 2",
            "ollama_proxy_first_piece_seconds_bucket{le=\"+Inf\"} 2",
        ];
        // 40 ms and 2.5 s (a bound is "less than or equal").
        for le in ["0.05", "0.1", "0.25", "0.5", "1"] {
            expected.push(leak(format!(
                "ollama_proxy_first_piece_seconds_bucket{{le=\"{le}\"}} 1"
            )));
        }
        for le in ["2.5", "5", "10", "30", "60", "120", "300"] {
            expected.push(leak(format!(
                "ollama_proxy_first_piece_seconds_bucket{{le=\"{le}\"}} 2"
            )));
        }
        // 0.9 s and 301.234 s, above the last bound.
        for le in ["1", "2.5", "5", "10", "30", "60", "120", "300"] {
            expected.push(leak(format!(
                "ollama_proxy_answer_seconds_bucket{{le=\"{le}\"}} 1"
            )));
        }
        let mut text = empty_with(&expected);
        let up = "# TYPE ollama_proxy_ollama_up gauge\n";
        text = text.replace(up, &format!("{up}ollama_proxy_ollama_up 1\n"));
        assert_eq!(client_text_with(&m, &health), text);
    }

    fn leak(line: String) -> &'static str {
        Box::leak(line.into_boxed_str())
    }

    #[test]
    fn ollama_up_has_a_sample_once_known() {
        let m = Metrics::new();
        assert!(!client_text(&m).contains("\nollama_proxy_ollama_up "));
        for (up, sample) in [(false, "0"), (true, "1")] {
            let health = Health {
                ollama_up: Some(up),
                ..unknown()
            };
            let text = client_text_with(&m, &health);
            assert!(text.contains(&format!("\nollama_proxy_ollama_up {sample}\n")));
        }
    }

    #[test]
    fn each_backend_has_its_samples_once_answers_name_it() {
        let m = Metrics::with_backends(["gpu1:11434", "desk"]);
        let mut ok = record(Outcome::Ok, None);
        ok.backend = Some("gpu1:11434".into());
        m.answered(&ok);
        ok.failed_over = true;
        m.answered(&ok);
        let mut failed = record(Outcome::Error, Some("ollama_unreachable"));
        (failed.backend, failed.tokens) = (Some("desk".into()), None);
        m.answered(&failed);
        // Refused before any backend: the totals alone count it.
        m.answered(&record(Outcome::Busy, Some("busy")));
        let text = client_text_with(
            &m,
            &with_backends(&[("gpu1:11434", None), ("desk", Some(false))]),
        );
        let expected = "\
# TYPE ollama_proxy_backend_up gauge
ollama_proxy_backend_up{backend=\"desk\"} 0
# HELP ollama_proxy_backend_info A backend's API (ollama or openai) and model; always 1.
# TYPE ollama_proxy_backend_info gauge
ollama_proxy_backend_info{backend=\"gpu1:11434\",api=\"ollama\",model=\"llama3.2\"} 1
ollama_proxy_backend_info{backend=\"desk\",api=\"ollama\",model=\"llama3.2\"} 1
# HELP ollama_proxy_backend_requests_total Finished requests an Ollama backend ran (the last one tried), by how they ended.
# TYPE ollama_proxy_backend_requests_total counter
ollama_proxy_backend_requests_total{backend=\"gpu1:11434\",outcome=\"ok\"} 2
ollama_proxy_backend_requests_total{backend=\"gpu1:11434\",outcome=\"error\"} 0
ollama_proxy_backend_requests_total{backend=\"gpu1:11434\",outcome=\"busy\"} 0
ollama_proxy_backend_requests_total{backend=\"gpu1:11434\",outcome=\"shutdown\"} 0
ollama_proxy_backend_requests_total{backend=\"desk\",outcome=\"ok\"} 0
ollama_proxy_backend_requests_total{backend=\"desk\",outcome=\"error\"} 1
ollama_proxy_backend_requests_total{backend=\"desk\",outcome=\"busy\"} 0
ollama_proxy_backend_requests_total{backend=\"desk\",outcome=\"shutdown\"} 0
# HELP ollama_proxy_backend_tokens_generated_total Tokens an Ollama backend generated for finished answers (its eval_count).
# TYPE ollama_proxy_backend_tokens_generated_total counter
ollama_proxy_backend_tokens_generated_total{backend=\"gpu1:11434\"} 22
ollama_proxy_backend_tokens_generated_total{backend=\"desk\"} 0
# HELP ollama_proxy_backend_failovers_total Finished requests an Ollama backend ran after another backend failed before their first piece.
# TYPE ollama_proxy_backend_failovers_total counter
ollama_proxy_backend_failovers_total{backend=\"gpu1:11434\"} 1
ollama_proxy_backend_failovers_total{backend=\"desk\"} 0
# HELP ollama_proxy_first_piece_seconds ";
        assert!(text.contains(expected), "{text}");
        // The totals still count every answer.
        assert!(text.contains("\nollama_proxy_requests_total{outcome=\"ok\"} 2\n"));
        assert!(text.contains("\nollama_proxy_tokens_generated_total 33\n"));
        let both = with_backends(&[("gpu1:11434", Some(true)), ("desk", Some(false))]);
        let up = "\
# TYPE ollama_proxy_backend_up gauge
ollama_proxy_backend_up{backend=\"gpu1:11434\"} 1
ollama_proxy_backend_up{backend=\"desk\"} 0
";
        assert!(client_text_with(&m, &both).contains(up));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escaped("gpu1:11434"), "gpu1:11434");
        assert_eq!(escaped("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
        let m = Metrics::with_backends(["say \"hi\""]);
        let text = client_text_with(&m, &with_backends(&[("say \"hi\"", Some(true))]));
        assert!(
            text.contains("\nollama_proxy_backend_up{backend=\"say \\\"hi\\\"\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn milliseconds_are_written_as_seconds() {
        let cases = [
            (0, "0"),
            (1, "0.001"),
            (10, "0.01"),
            (50, "0.05"),
            (250, "0.25"),
            (1_000, "1"),
            (1_234, "1.234"),
            (2_500, "2.5"),
            (300_000, "300"),
            (u64::MAX, "18446744073709551.615"),
        ];
        for (ms, text) in cases {
            assert_eq!(seconds(ms), text);
        }
    }

    #[test]
    fn the_version_needs_no_escaping_in_a_label() {
        assert!(!env!("CARGO_PKG_VERSION").contains(['"', '\\', '\n']));
    }

    #[test]
    fn process_figures_render_only_when_known() {
        let mut out = String::new();
        process(&mut out, &ProcessFigures::default());
        assert_eq!(out, "");
        let p = ProcessFigures {
            resident_bytes: Some(4096 * 300),
            cpu_ms: Some(1_230),
            start_ms: Some(1_700_000_123_450),
        };
        process(&mut out, &p);
        let expected = "\
# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 1228800
# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 1.23
# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1700000123.45
";
        assert_eq!(out, expected);
    }

    /// Writes two samples into the directory `$METRICS_SAMPLES`, for
    /// `scripts/check-metrics.sh` to give to `promtool check metrics`:
    /// `fresh.prom` (nothing happened yet: Ollama and the two backends
    /// not checked) and `busy.prom` (every family has samples).
    #[test]
    #[ignore = "run by scripts/check-metrics.sh"]
    fn write_samples_for_promtool() {
        let dir = std::env::var_os("METRICS_SAMPLES").expect("METRICS_SAMPLES: where to write");
        let dir = std::path::Path::new(&dir);
        let names = ["gpu1:11434", "desk"];
        let fresh = Metrics::with_backends(names);
        let unchecked = with_backends(&[("gpu1:11434", None), ("desk", None)]);
        std::fs::write(dir.join("fresh.prom"), render(&fresh, &unchecked)).unwrap();
        let m = Metrics::with_backends(names);
        for (outcome, error) in [(Outcome::Ok, None), (Outcome::Error, Some("cut"))] {
            for name in names {
                let mut answer = record(outcome, error);
                (answer.backend, answer.failed_over) = (Some(name.into()), name == "desk");
                m.answered(&answer);
            }
        }
        let health = Health {
            hub_connected: true,
            paused: true,
            ollama_up: Some(true),
            ..with_backends(&[("gpu1:11434", Some(true)), ("desk", Some(false))])
        };
        m.hub(&HubEvent::Connected);
        m.piece_sent();
        std::fs::write(dir.join("busy.prom"), render(&m, &health)).unwrap();
    }
}
