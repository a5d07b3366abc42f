//! The decision, as a pure state machine fed one check at a time (no
//! threads, no clock of its own): whether the box must step back from the
//! hub, and when it may return.
//!
//! It steps back at once when a check finds trouble: a GPU hotter than
//! the limit; with `yield_to_others`, a compute process that is not the
//! model server, or a GPU at least [`BUSY_PERCENT`] busy at two checks in
//! a row while the relay answered nothing at either (how a game shows:
//! its graphics work is not a compute process). It returns only once the
//! checks have been clear for `clear_after` in a row, so that it does not
//! flap. A failed reading changes nothing: the box stays where it is, and
//! the time it spans does not count as clear.

use std::time::{Duration, Instant};

use super::reading::{is_model_server, Sample, Trouble};

/// A GPU this busy while the relay is idle is someone else's.
pub const BUSY_PERCENT: f64 = 30.0;

/// What the owner set.
#[derive(Clone, Copy, Debug)]
pub struct Rules {
    pub max_temp_c: f64,
    pub yield_to_others: bool,
    pub clear_after: Duration,
}

/// A change the guard acts on (logs it, tells the watcher).
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// Step back, for this reason.
    Away(Trouble),
    /// Return: clear for `clear_after` since the box stepped back for
    /// `was`.
    Back { was: Trouble },
}

/// The decision so far.
#[derive(Debug)]
pub struct Verdict {
    rules: Rules,
    /// Why the box is held away (the latest trouble while it lasts).
    away: Option<Trouble>,
    /// While away: how long the checks have been clear in a row.
    clear_for: Duration,
    /// While away and clear: the last clear check, from which the next
    /// one counts.
    clear_since: Option<Instant>,
    /// The GPUs busy while the relay was idle at the last check read.
    busy_idle: Vec<String>,
}

impl Verdict {
    pub fn new(rules: Rules) -> Verdict {
        Verdict {
            rules,
            away: None,
            clear_for: Duration::ZERO,
            clear_since: None,
            busy_idle: Vec::new(),
        }
    }

    /// Why the box is held away; `None` when it is not.
    pub fn away(&self) -> Option<&Trouble> {
        self.away.as_ref()
    }

    /// While away: how long the checks have been clear.
    pub fn clear_for(&self) -> Option<Duration> {
        self.away.as_ref().map(|_| self.clear_for)
    }

    /// One check at `now`: what was read (or why nothing was), and whether
    /// the relay was answering a request.
    pub fn next(
        &mut self,
        reading: Result<&Sample, &str>,
        relay_busy: bool,
        now: Instant,
    ) -> Option<Change> {
        let Ok(sample) = reading else {
            // The span up to here is unknown: the next clear check counts
            // from now.
            if self.clear_since.is_some() {
                self.clear_since = Some(now);
            }
            return None;
        };
        match self.trouble(sample, relay_busy) {
            Some(trouble) => self.troubled(trouble),
            None => self.clear(now),
        }
    }

    fn troubled(&mut self, trouble: Trouble) -> Option<Change> {
        self.clear_for = Duration::ZERO;
        self.clear_since = None;
        let first = self.away.is_none();
        self.away = Some(trouble.clone());
        first.then_some(Change::Away(trouble))
    }

    fn clear(&mut self, now: Instant) -> Option<Change> {
        self.away.as_ref()?;
        if let Some(since) = self.clear_since {
            self.clear_for += now.saturating_duration_since(since);
        }
        self.clear_since = Some(now);
        if self.clear_for < self.rules.clear_after {
            return None;
        }
        self.clear_for = Duration::ZERO;
        self.clear_since = None;
        let was = self.away.take()?;
        Some(Change::Back { was })
    }

    /// The first trouble in this check: heat first, then another process,
    /// then a GPU busy while the relay is idle. Notes which GPUs are busy
    /// now, for the next check.
    fn trouble(&mut self, sample: &Sample, relay_busy: bool) -> Option<Trouble> {
        let busy_now: Vec<(String, f64)> = sample
            .gpus
            .iter()
            .filter(|_| !relay_busy)
            .filter_map(|gpu| Some((gpu.id.clone(), gpu.busy_percent?)))
            .filter(|(_, busy)| *busy >= BUSY_PERCENT)
            .collect();
        let busy_before = std::mem::replace(
            &mut self.busy_idle,
            busy_now.iter().map(|(id, _)| id.clone()).collect(),
        );
        let hot = sample.gpus.iter().find_map(|gpu| {
            let temp_c = gpu.temp_c.filter(|t| *t > self.rules.max_temp_c)?;
            Some(Trouble::Hot {
                gpu: gpu.id.clone(),
                temp_c,
                max_c: self.rules.max_temp_c,
            })
        });
        if hot.is_some() || !self.rules.yield_to_others {
            return hot;
        }
        let other = sample
            .apps
            .iter()
            .find(|app| is_model_server(&app.name) == Some(false));
        if let Some(app) = other {
            return Some(Trouble::OtherProcess {
                pid: app.pid,
                name: app.name.clone(),
            });
        }
        let (gpu, busy_percent) = busy_now
            .into_iter()
            .find(|(id, _)| busy_before.contains(id))?;
        Some(Trouble::BusyWhileIdle { gpu, busy_percent })
    }
}

#[cfg(test)]
mod tests {
    use super::super::reading::{ComputeApp, GpuReading, Vendor};
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn rules() -> Rules {
        Rules {
            max_temp_c: 85.0,
            yield_to_others: true,
            clear_after: Duration::from_secs(3),
        }
    }

    fn gpu(id: &str, temp: f64, busy: f64) -> GpuReading {
        GpuReading {
            id: id.into(),
            vendor: Vendor::Nvidia,
            temp_c: Some(temp),
            busy_percent: Some(busy),
            memory_used_bytes: None,
            memory_total_bytes: None,
        }
    }

    fn sample(gpus: Vec<GpuReading>, apps: &[(u32, &str)]) -> Sample {
        let apps = apps.iter().map(|(pid, name)| ComputeApp {
            pid: *pid,
            name: name.to_string(),
            used_memory_bytes: None,
        });
        Sample {
            gpus,
            apps: apps.collect(),
        }
    }

    fn cool() -> Sample {
        sample(vec![gpu("0", 50.0, 0.0)], &[(1, "/usr/bin/ollama")])
    }

    fn hot() -> Sample {
        sample(vec![gpu("0", 91.0, 0.0)], &[])
    }

    /// Feeds checks one second apart from `start`; the changes seen.
    fn feed(
        verdict: &mut Verdict,
        start: Instant,
        checks: &[(Result<&Sample, &str>, bool)],
    ) -> Vec<Option<Change>> {
        let at = |i: usize| start + SECOND * i as u32;
        let mut changes = Vec::new();
        for (i, (reading, busy)) in checks.iter().enumerate() {
            changes.push(verdict.next(*reading, *busy, at(i)));
        }
        changes
    }

    fn hot_trouble(temp_c: f64) -> Trouble {
        Trouble::Hot {
            gpu: "0".into(),
            temp_c,
            max_c: 85.0,
        }
    }

    #[test]
    fn heat_steps_back_at_once_and_returns_after_the_clear_time() {
        let mut verdict = Verdict::new(rules());
        let (cool, hot) = (cool(), hot());
        let changes = feed(
            &mut verdict,
            Instant::now(),
            &[
                (Ok(&cool), false),
                (Ok(&hot), false),
                (Ok(&hot), false),
                (Ok(&cool), false), // clear 0 s
                (Ok(&cool), false), // 1 s
                (Ok(&cool), false), // 2 s
                (Ok(&cool), false), // 3 s: back
                (Ok(&cool), false),
            ],
        );
        let away = Some(Change::Away(hot_trouble(91.0)));
        let back = Some(Change::Back {
            was: hot_trouble(91.0),
        });
        assert_eq!(changes, [None, away, None, None, None, None, back, None]);
        assert_eq!(verdict.away(), None);
        assert_eq!(verdict.clear_for(), None);
    }

    #[test]
    fn a_gpu_at_the_limit_is_not_hotter_than_it() {
        let mut verdict = Verdict::new(rules());
        let at_limit = sample(vec![gpu("0", 85.0, 0.0)], &[]);
        let above = sample(vec![gpu("0", 85.5, 0.0)], &[]);
        let changes = feed(
            &mut verdict,
            Instant::now(),
            &[(Ok(&at_limit), false), (Ok(&above), false)],
        );
        assert_eq!(changes, [None, Some(Change::Away(hot_trouble(85.5)))]);
    }

    #[test]
    fn trouble_during_the_clear_time_starts_it_again() {
        let mut verdict = Verdict::new(rules());
        let (cool, hot) = (cool(), hot());
        let start = Instant::now();
        let changes = feed(
            &mut verdict,
            start,
            &[
                (Ok(&hot), false),
                (Ok(&cool), false),
                (Ok(&cool), false),
                (Ok(&cool), false), // 2 s clear
                (Ok(&hot), false),  // again: no second step back
                (Ok(&cool), false),
                (Ok(&cool), false),
                (Ok(&cool), false),
            ],
        );
        assert!(matches!(changes[0], Some(Change::Away(_))));
        assert!(changes[1..].iter().all(Option::is_none), "{changes:?}");
        assert_eq!(verdict.clear_for(), Some(2 * SECOND));
        assert_eq!(verdict.away(), Some(&hot_trouble(91.0)));
        let back = verdict.next(Ok(&cool), false, start + 8 * SECOND);
        assert!(matches!(back, Some(Change::Back { .. })));
    }

    #[test]
    fn a_failed_reading_changes_nothing_and_does_not_count_as_clear() {
        let mut verdict = Verdict::new(rules());
        let (cool, hot) = (cool(), hot());
        let error = Err("nvidia-smi did not answer within 10 s");
        // Before anything was read: nothing to change.
        assert_eq!(verdict.next(error, false, Instant::now()), None);
        let changes = feed(
            &mut verdict,
            Instant::now(),
            &[
                (Ok(&hot), false),
                (error, false),
                (Ok(&cool), false), // clear 0 s
                (error, false),     // the second to here does not count
                (error, false),
                (Ok(&cool), false), // 1 s
                (Ok(&cool), false), // 2 s
                (error, false),
                (Ok(&cool), false), // 3 s
            ],
        );
        assert!(matches!(changes[0], Some(Change::Away(_))));
        assert!(changes[1..8].iter().all(Option::is_none), "{changes:?}");
        assert!(matches!(changes[8], Some(Change::Back { .. })));
        // While clear, an error keeps the box where it is.
        assert_eq!(verdict.next(error, false, Instant::now()), None);
        assert_eq!(verdict.away(), None);
    }

    #[test]
    fn another_compute_process_steps_back_unless_it_is_the_model_server() {
        let mut verdict = Verdict::new(rules());
        let now = Instant::now();
        let ours = sample(
            vec![gpu("0", 50.0, 99.0)],
            &[(1, "/usr/bin/ollama"), (2, "[Not Found]"), (3, "[N/A]")],
        );
        assert_eq!(verdict.next(Ok(&ours), true, now), None);
        let blender = sample(
            vec![gpu("0", 50.0, 99.0)],
            &[(1, "/usr/bin/ollama"), (4242, "/usr/bin/blender")],
        );
        assert_eq!(
            verdict.next(Ok(&blender), true, now),
            Some(Change::Away(Trouble::OtherProcess {
                pid: 4242,
                name: "/usr/bin/blender".into()
            }))
        );
        // Not when the owner lets others share the GPU.
        let mut sharing = Verdict::new(Rules {
            yield_to_others: false,
            ..rules()
        });
        assert_eq!(sharing.next(Ok(&blender), false, now), None);
        assert_eq!(sharing.next(Ok(&blender), false, now + SECOND), None);
    }

    #[test]
    fn heat_comes_before_other_users() {
        let mut verdict = Verdict::new(rules());
        let both = sample(vec![gpu("0", 90.0, 0.0)], &[(7, "game.exe")]);
        let change = verdict.next(Ok(&both), false, Instant::now());
        assert_eq!(change, Some(Change::Away(hot_trouble(90.0))));
        // Heat steps back even when others may share the GPU.
        let mut sharing = Verdict::new(Rules {
            yield_to_others: false,
            ..rules()
        });
        let change = sharing.next(Ok(&both), false, Instant::now());
        assert!(matches!(change, Some(Change::Away(Trouble::Hot { .. }))));
    }

    #[test]
    fn a_gpu_busy_twice_in_a_row_while_the_relay_is_idle_is_someone_else() {
        let start = Instant::now();
        let busy = |percent: f64| sample(vec![gpu("0", 60.0, percent)], &[]);
        let (gaming, light, edge) = (busy(97.0), busy(29.0), busy(BUSY_PERCENT));
        type Checks<'a> = &'a [(&'a Sample, bool)];
        let cases: [(Checks, Option<usize>); 6] = [
            // Twice in a row while idle: the second check steps back.
            (&[(&gaming, false), (&gaming, false)], Some(1)),
            // At exactly the threshold too.
            (&[(&edge, false), (&edge, false)], Some(1)),
            // The relay was answering at one of the two: ours.
            (&[(&gaming, true), (&gaming, false)], None),
            (&[(&gaming, false), (&gaming, true)], None),
            // Not in a row.
            (&[(&gaming, false), (&light, false), (&gaming, false)], None),
            // Under the threshold.
            (&[(&light, false), (&light, false)], None),
        ];
        for (checks, step_back_at) in cases {
            let mut verdict = Verdict::new(rules());
            let checks: Vec<(Result<&Sample, &str>, bool)> =
                checks.iter().map(|(s, b)| (Ok(*s), *b)).collect();
            let changes = feed(&mut verdict, start, &checks);
            let at = changes.iter().position(Option::is_some);
            assert_eq!(at, step_back_at, "{checks:?}");
            if let Some(at) = at {
                assert!(matches!(
                    &changes[at],
                    Some(Change::Away(Trouble::BusyWhileIdle { gpu, .. })) if gpu == "0"
                ));
            }
        }
        // Only the same GPU counts as in a row.
        let mut verdict = Verdict::new(rules());
        let first = sample(vec![gpu("0", 60.0, 97.0), gpu("1", 60.0, 0.0)], &[]);
        let second = sample(vec![gpu("0", 60.0, 0.0), gpu("1", 60.0, 97.0)], &[]);
        assert_eq!(verdict.next(Ok(&first), false, start), None);
        assert_eq!(verdict.next(Ok(&second), false, start + SECOND), None);
        // A failed reading between two busy ones keeps the first.
        let mut verdict = Verdict::new(rules());
        assert_eq!(verdict.next(Ok(&gaming), false, start), None);
        assert_eq!(verdict.next(Err("x"), false, start + SECOND), None);
        let change = verdict.next(Ok(&gaming), false, start + 2 * SECOND);
        assert!(matches!(change, Some(Change::Away(_))));
    }

    #[test]
    fn a_game_keeps_the_box_away_while_it_runs() {
        let mut verdict = Verdict::new(Rules {
            clear_after: Duration::ZERO,
            ..rules()
        });
        let start = Instant::now();
        let gaming = sample(vec![gpu("0", 60.0, 97.0)], &[]);
        let changes = feed(
            &mut verdict,
            start,
            &[
                (Ok(&gaming), false),
                (Ok(&gaming), false),
                (Ok(&gaming), false),
            ],
        );
        assert!(matches!(changes[1], Some(Change::Away(_))));
        assert_eq!(changes[2], None);
        // clear_after 0: back at the first clear check.
        let back = verdict.next(Ok(&cool()), false, start + 3 * SECOND);
        assert!(matches!(back, Some(Change::Back { .. })));
    }

    #[test]
    fn unknown_figures_are_no_trouble() {
        let mut verdict = Verdict::new(rules());
        let unknown = GpuReading {
            temp_c: None,
            busy_percent: None,
            ..gpu("0", 0.0, 0.0)
        };
        let blank = sample(vec![unknown], &[]);
        let start = Instant::now();
        assert_eq!(verdict.next(Ok(&blank), false, start), None);
        assert_eq!(verdict.next(Ok(&blank), false, start + SECOND), None);
        assert_eq!(verdict.next(Ok(&Sample::default()), false, start), None);
    }

    #[test]
    fn the_reason_held_is_the_latest_trouble() {
        let mut verdict = Verdict::new(rules());
        let start = Instant::now();
        verdict.next(Ok(&hot()), false, start);
        let hotter = sample(vec![gpu("0", 95.0, 0.0)], &[]);
        assert_eq!(verdict.next(Ok(&hotter), false, start + SECOND), None);
        assert_eq!(verdict.away(), Some(&hot_trouble(95.0)));
        assert_eq!(verdict.clear_for(), Some(Duration::ZERO));
    }
}
