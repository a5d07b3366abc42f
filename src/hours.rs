//! The owner's selling hours: `sell_hours` in the config, such as
//! `["22:00-08:00", "sat 00:00-24:00"]`, in the box's local time.
//!
//! The config hands the entries to [`SellHours::parse`], which reads them
//! as hostile input (bounded in count and length, every bad entry refused
//! with its reason) into windows; `--check` shows them through
//! [`SellHours::windows`]. While the client runs, its watcher asks
//! [`SellHours::look`] whether the box sells now and when that next
//! changes, and sleeps [`sleep_for`] (at most [`RECHECK`], so a clock that
//! jumps is seen within a minute) before it looks again.
//!
//! Whether the box sells at an instant depends only on the local time at
//! that instant (weekday, hour, minute), which only a [`Zone`] knows: the
//! system's ([`SystemZone`]) in the program, fakes with odd offsets and
//! daylight-saving changes in the tests. Nothing here assumes an offset,
//! so a daylight-saving change or an arbitrary zone needs no special case:
//! on the night clocks skip 02:00-03:00 a window 02:30-03:30 sells from
//! 03:00 (the first local time inside it), and on the night they go back
//! from 03:00 to 02:00 the local times 02:00-02:59 come twice and are
//! judged the same way both times.

use std::time::Duration;

use crate::time::Millis;

/// The most entries `sell_hours` may have.
const MAX_ENTRIES: usize = 64;
/// The longest entry, in characters.
const MAX_ENTRY_CHARS: usize = 64;
const MINUTES_PER_DAY: u16 = 24 * 60;
const SECONDS_PER_DAY: i64 = 86_400;
const SECONDS_PER_WEEK: i64 = 7 * SECONDS_PER_DAY;
/// How far ahead [`SellHours::look`] asks the zone at a time, on the
/// assumption that no zone changes its offset twice within an hour.
const MAX_STEP_SECONDS: i64 = 3600;
/// How far ahead [`SellHours::look`] searches for the next change.
const HORIZON_SECONDS: i64 = 8 * SECONDS_PER_DAY;
/// Every weekday, as a bit mask (bit 0 = Sunday).
const EVERY_DAY: u8 = 0x7f;

/// How long the schedule's watcher sleeps at most: a clock that jumps (a
/// Raspberry Pi without a battery clock setting its time from the network,
/// a daylight-saving change) is seen within this.
pub const RECHECK: Duration = Duration::from_secs(60);
/// Slept past a change, so that on waking the change has happened even on
/// a clock a little coarser than milliseconds.
const PAST_THE_CHANGE: Duration = Duration::from_millis(5);

/// A local time as the system's time zone gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalTime {
    /// 0 = Sunday .. 6 = Saturday, as C's `tm_wday`.
    pub weekday: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

impl LocalTime {
    /// The UTC time of `utc_seconds` since the Unix epoch.
    pub fn utc(utc_seconds: i64) -> LocalTime {
        let days = utc_seconds.div_euclid(SECONDS_PER_DAY);
        let of_day = utc_seconds.rem_euclid(SECONDS_PER_DAY);
        LocalTime {
            // 1970-01-01 was a Thursday.
            weekday: (days + 4).rem_euclid(7) as u8,
            hour: (of_day / 3600) as u8,
            minute: (of_day / 60 % 60) as u8,
            second: (of_day % 60) as u8,
        }
    }

    fn minute_of_day(self) -> u16 {
        u16::from(self.hour) * 60 + u16::from(self.minute)
    }

    fn second_of_day(self) -> i64 {
        i64::from(self.minute_of_day()) * 60 + i64::from(self.second)
    }

    /// The local time `seconds` later, local time running on with real
    /// time.
    fn plus(self, seconds: i64) -> LocalTime {
        let of_week = (self.second_of_week() + seconds).rem_euclid(SECONDS_PER_WEEK);
        // 1970-01-04, day 3 of the epoch, was a Sunday.
        LocalTime::utc(of_week + 3 * SECONDS_PER_DAY)
    }

    fn second_of_week(self) -> i64 {
        i64::from(self.weekday % 7) * SECONDS_PER_DAY + self.second_of_day()
    }
}

/// Where local times come from: the system's zone in the program, a fake
/// with daylight saving in tests.
pub trait Zone {
    fn local(&self, utc_seconds: i64) -> Option<LocalTime>;
}

/// The system's time zone (`TZ`, else `/etc/localtime`; Windows' setting).
pub struct SystemZone;

impl Zone for SystemZone {
    /// Always `Some`: where the C library cannot tell (armv7's 32-bit
    /// `time_t` past 2038) the time is UTC's, which is better than none.
    fn local(&self, utc_seconds: i64) -> Option<LocalTime> {
        let from_libc = crate::platform::process::local_time(utc_seconds).and_then(|tm| {
            Some(LocalTime {
                weekday: u8::try_from(tm.tm_wday).ok().filter(|d| *d < 7)?,
                hour: u8::try_from(tm.tm_hour).ok()?,
                minute: u8::try_from(tm.tm_min).ok()?,
                second: u8::try_from(tm.tm_sec).ok()?,
            })
        });
        Some(from_libc.unwrap_or_else(|| LocalTime::utc(utc_seconds)))
    }
}

/// An entry of `sell_hours` refused, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadWindow {
    /// The entry as written (cut to 64 characters and `…` when longer).
    pub entry: String,
    /// A short English reason, such as "the hour must be 00 to 24".
    pub why: &'static str,
}

/// One window as parsed, for `--check` to show (the caller renders it in
/// English or Russian).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowView {
    /// The weekdays it starts on (0 = Sunday), in order; `None`: every day.
    pub days: Option<Vec<u8>>,
    /// Hour and minute; the end may be (24, 0).
    pub start: (u8, u8),
    pub end: (u8, u8),
    /// The end is on the day after the start (`22:00-08:00`).
    pub crosses_midnight: bool,
}

/// What the schedule says at a moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Look {
    pub selling: bool,
    /// The next instant at which `selling` changes; `None` when it does
    /// not change within the next 8 days (every day 00:00-24:00).
    pub next_change: Option<Millis>,
}

/// One parsed window: from `start` on each of `days` to `end`, the next
/// day's when it is not after the start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Window {
    /// Bit 0 = Sunday .. bit 6 = Saturday.
    days: u8,
    /// Whether the entry named days (for `--check` to show it as written).
    days_named: bool,
    /// Minutes from midnight: 0..1440 for the start, 0..=1440 for the end.
    start: u16,
    end: u16,
}

impl Window {
    fn crosses_midnight(self) -> bool {
        self.end <= self.start
    }

    fn starts_on(self, weekday: u8) -> bool {
        self.days & (1 << (weekday % 7)) != 0
    }

    fn contains(self, local: LocalTime) -> bool {
        let minute = local.minute_of_day();
        let yesterday = (local.weekday + 6) % 7;
        match self.crosses_midnight() {
            false => self.starts_on(local.weekday) && (self.start..self.end).contains(&minute),
            true => {
                (self.starts_on(local.weekday) && minute >= self.start)
                    || (self.starts_on(yesterday) && minute < self.end)
            }
        }
    }

    fn view(self) -> WindowView {
        let days = self
            .days_named
            .then(|| (0..7).filter(|d| self.starts_on(*d)).collect());
        let hour_minute = |m: u16| ((m / 60) as u8, (m % 60) as u8);
        WindowView {
            days,
            start: hour_minute(self.start),
            end: hour_minute(self.end),
            crosses_midnight: self.crosses_midnight(),
        }
    }
}

/// The owner's selling hours: the box sells inside any of the windows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SellHours {
    windows: Vec<Window>,
    /// The entries as the owner wrote them (trimmed), for `--status` and
    /// `--show-config`.
    entries: Vec<String>,
}

impl SellHours {
    /// Reads `sell_hours`. An empty list is no rule: [`SellHours::is_empty`],
    /// and it sells at every moment.
    pub fn parse(entries: &[String]) -> Result<SellHours, BadWindow> {
        if let Some(extra) = entries.get(MAX_ENTRIES) {
            return Err(bad(extra, "at most 64 entries"));
        }
        let windows = entries
            .iter()
            .map(|entry| parse_entry(entry).map_err(|why| bad(entry, why)))
            .collect::<Result<_, _>>()?;
        let entries = entries.iter().map(|entry| entry.trim().to_string());
        Ok(SellHours {
            windows,
            entries: entries.collect(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// The entries as written (trimmed).
    pub fn entries(&self) -> &[String] {
        &self.entries
    }

    /// The windows in the order of the entries.
    pub fn windows(&self) -> Vec<WindowView> {
        self.windows.iter().map(|w| w.view()).collect()
    }

    /// Whether the box sells at this local time.
    pub fn selling_at(&self, local: LocalTime) -> bool {
        self.is_empty() || self.windows.iter().any(|w| w.contains(local))
    }

    /// Whether the box sells at `now_ms`, and when that next changes.
    ///
    /// Asks the zone once an hour ahead: when local time ran on with real
    /// time over that hour (the usual case), the state can change only at
    /// the local times where windows start or end, or at midnight (the
    /// weekday), and those are worked out without asking again. When it
    /// did not (the zone's offset changed within the hour), the first
    /// second of the new offset is found by bisection and judged on its
    /// own, so a window skipped into is entered at the first local time
    /// inside it. About 200 questions to the zone for 8 days.
    pub fn look(&self, now_ms: Millis, zone: &dyn Zone) -> Look {
        let local = |t: i64| zone.local(t).unwrap_or_else(|| LocalTime::utc(t));
        let mut at = now_ms.div_euclid(1000);
        let mut here = local(at);
        let selling = self.selling_at(here);
        let changes_at = |t: i64| Look {
            selling,
            next_change: Some(t * 1000),
        };
        let horizon = at + HORIZON_SECONDS;
        let edges = self.edges();
        while at < horizon {
            let mut next = (at + MAX_STEP_SECONDS).min(horizon);
            let mut there = local(next);
            if !runs_on(here, there, next - at) {
                next = first_jump(at, here, next, local);
                there = local(next);
            }
            if let Some(change) = self.change_before(&edges, at, here, next, selling) {
                return changes_at(change);
            }
            if self.selling_at(there) != selling {
                return changes_at(next);
            }
            (at, here) = (next, there);
        }
        Look {
            selling,
            next_change: None,
        }
    }

    /// The first edge after `at` and before `end` at which the state is no
    /// longer `selling`, local time running on from `here` with real time.
    fn change_before(
        &self,
        edges: &[i64],
        mut at: i64,
        mut here: LocalTime,
        end: i64,
        selling: bool,
    ) -> Option<i64> {
        loop {
            let step = seconds_to_next_edge(edges, here);
            at += step;
            if at >= end {
                return None;
            }
            here = here.plus(step);
            if self.selling_at(here) != selling {
                return Some(at);
            }
        }
    }

    /// The local seconds of the day at which the state may change: where
    /// windows start and end, and midnight.
    fn edges(&self) -> Vec<i64> {
        let minutes = self
            .windows
            .iter()
            .flat_map(|w| [w.start, w.end % MINUTES_PER_DAY]);
        let seconds = minutes.map(|minute| i64::from(minute) * 60).chain([0]);
        // In order, each once, by inserting in place: a sort would add a
        // routine of its own to the binary for a few dozen numbers.
        let mut edges: Vec<i64> = Vec::new();
        for edge in seconds {
            if let Err(at) = edges.binary_search(&edge) {
                edges.insert(at, edge);
            }
        }
        edges
    }
}

/// How long the schedule's watcher may sleep from `now_ms`: until just
/// past the next change, but at most [`RECHECK`]; never zero.
pub fn sleep_for(look: &Look, now_ms: Millis) -> Duration {
    let Some(change) = look.next_change else {
        return RECHECK;
    };
    let until = Duration::from_millis(change.saturating_sub(now_ms).max(0) as u64);
    (until + PAST_THE_CHANGE).min(RECHECK)
}

/// Seconds from `local` to the next edge strictly after it (a day when
/// `local` is on the only edge).
fn seconds_to_next_edge(edges: &[i64], local: LocalTime) -> i64 {
    let now = local.second_of_day();
    edges
        .iter()
        .map(|edge| match (edge - now).rem_euclid(SECONDS_PER_DAY) {
            0 => SECONDS_PER_DAY,
            ahead => ahead,
        })
        .min()
        .unwrap_or(SECONDS_PER_DAY)
}

/// Whether local time went from `from` to `to` in `seconds` of real time,
/// as it does when the zone's offset stays the same.
fn runs_on(from: LocalTime, to: LocalTime, seconds: i64) -> bool {
    (from.second_of_week() + seconds).rem_euclid(SECONDS_PER_WEEK) == to.second_of_week()
}

/// The first second after `at` (and at most `jumped`, where local time is
/// known not to have run on) at which local time is no longer `here` plus
/// the real time since `at`.
fn first_jump(at: i64, here: LocalTime, jumped: i64, local: impl Fn(i64) -> LocalTime) -> i64 {
    let (mut ran_on, mut not) = (at, jumped);
    while not - ran_on > 1 {
        let middle = ran_on + (not - ran_on) / 2;
        match runs_on(here, local(middle), middle - at) {
            true => ran_on = middle,
            false => not = middle,
        }
    }
    not
}

/// The entry for an error: as written, cut when long (it may be a whole
/// hostile file).
fn bad(entry: &str, why: &'static str) -> BadWindow {
    let mut shown: String = entry.chars().take(MAX_ENTRY_CHARS).collect();
    if shown.len() < entry.len() {
        shown.push('…');
    }
    BadWindow { entry: shown, why }
}

const SPACES: &str = "write [DAYS] HH:MM-HH:MM, with no spaces inside either";

/// `[DAYS] HH:MM-HH:MM`.
fn parse_entry(entry: &str) -> Result<Window, &'static str> {
    if entry.chars().nth(MAX_ENTRY_CHARS).is_some() {
        return Err("an entry has at most 64 characters");
    }
    let tokens: Vec<&str> = entry.split_whitespace().collect();
    let (days, times) = match tokens[..] {
        [] => return Err("the entry is empty"),
        [times] => (None, times),
        // A time where the days go: a space inside the times.
        [days, _] if days.contains(':') => return Err(SPACES),
        [days, times] => (Some(parse_days(days)?), times),
        _ => return Err(SPACES),
    };
    let (start, end) = parse_times(times)?;
    Ok(Window {
        days: days.unwrap_or(EVERY_DAY),
        days_named: days.is_some(),
        start,
        end,
    })
}

/// `sat`, `mon-fri`, `fri-mon`, `sat,sun`, `mon-wed,fri`: a bit mask.
fn parse_days(text: &str) -> Result<u8, &'static str> {
    let mut days = 0;
    for piece in text.split(',') {
        days |= match piece.split_once('-') {
            None => 1 << weekday(piece)?,
            Some((first, last)) => day_range(weekday(first)?, weekday(last)?)?,
        };
    }
    Ok(days)
}

/// The days from `first` to `last`, wrapping past Saturday.
fn day_range(first: u8, last: u8) -> Result<u8, &'static str> {
    if first == last {
        return Err("a day range needs two different days");
    }
    let mut days = 0;
    let mut day = first;
    loop {
        days |= 1 << day;
        if day == last {
            return Ok(days);
        }
        day = (day + 1) % 7;
    }
}

/// 0 = Sunday, from `sun` or `sunday` in any case.
fn weekday(name: &str) -> Result<u8, &'static str> {
    const NAMES: [&str; 7] = [
        "sunday",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
    ];
    let name = name.to_ascii_lowercase();
    NAMES
        .iter()
        .position(|full| name == *full || name == full[..3])
        .map(|day| day as u8)
        .ok_or("a weekday is mon, tue, wed, thu, fri, sat or sun (or its full name)")
}

/// `HH:MM-HH:MM` as minutes from midnight; the end may be 24:00.
fn parse_times(text: &str) -> Result<(u16, u16), &'static str> {
    let Some((start, end)) = text.split_once('-') else {
        return Err("the times must be HH:MM-HH:MM");
    };
    let (start, end) = (clock(start)?, clock(end)?);
    if start == MINUTES_PER_DAY {
        return Err("a window cannot start at 24:00");
    }
    if start == end {
        return Err("the start and the end are the same (a whole day is 00:00-24:00)");
    }
    Ok((start, end))
}

/// `HH:MM` (two digits each, 00:00 to 24:00) as minutes from midnight.
fn clock(text: &str) -> Result<u16, &'static str> {
    let digits = |field: &str| -> Option<u16> {
        let all_digits = field.len() == 2 && field.bytes().all(|b| b.is_ascii_digit());
        all_digits.then(|| field.parse().ok()).flatten()
    };
    let fields = text.split_once(':');
    let Some((hour, minute)) = fields.and_then(|(h, m)| Some((digits(h)?, digits(m)?))) else {
        return Err("a time must be HH:MM, with two digits each");
    };
    if hour > 24 {
        return Err("the hour must be 00 to 24");
    }
    if minute > 59 {
        return Err("the minutes must be 00 to 59");
    }
    if hour == 24 && minute != 0 {
        return Err("the only time in hour 24 is 24:00");
    }
    Ok(hour * 60 + minute)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours(entries: &[&str]) -> SellHours {
        let entries: Vec<String> = entries.iter().map(|e| e.to_string()).collect();
        SellHours::parse(&entries).unwrap()
    }

    fn refusal(entry: &str) -> &'static str {
        match SellHours::parse(&[entry.to_string()]) {
            Ok(parsed) => panic!("{entry:?} was accepted: {parsed:?}"),
            Err(bad) => {
                assert_eq!(bad.entry, entry);
                bad.why
            }
        }
    }

    /// 0 = Sunday.
    fn at(weekday: u8, hour: u8, minute: u8) -> LocalTime {
        LocalTime {
            weekday,
            hour,
            minute,
            second: 0,
        }
    }

    const SUN: u8 = 0;
    const MON: u8 = 1;
    const FRI: u8 = 5;
    const SAT: u8 = 6;

    fn instant(rfc3339: &str) -> Millis {
        crate::time::parse(rfc3339).unwrap()
    }

    /// A zone `offset` seconds east of UTC.
    struct Fixed(i64);

    impl Zone for Fixed {
        fn local(&self, utc_seconds: i64) -> Option<LocalTime> {
            Some(LocalTime::utc(utc_seconds + self.0))
        }
    }

    /// A zone whose offset changes from `before` to `after` at `switch`
    /// (UTC seconds).
    struct Dst {
        switch: i64,
        before: i64,
        after: i64,
    }

    impl Zone for Dst {
        fn local(&self, utc_seconds: i64) -> Option<LocalTime> {
            let offset = match utc_seconds < self.switch {
                true => self.before,
                false => self.after,
            };
            Some(LocalTime::utc(utc_seconds + offset))
        }
    }

    /// Central Europe's spring forward on 2026-03-29: 02:00 local (+01:00)
    /// becomes 03:00 (+02:00).
    fn spring_forward() -> Dst {
        Dst {
            switch: instant("2026-03-29T01:00:00Z") / 1000,
            before: 3600,
            after: 7200,
        }
    }

    /// Central Europe's fall back on 2026-10-25: 03:00 local (+02:00)
    /// becomes 02:00 (+01:00).
    fn fall_back() -> Dst {
        Dst {
            switch: instant("2026-10-25T01:00:00Z") / 1000,
            before: 7200,
            after: 3600,
        }
    }

    fn look(entries: &[&str], now: &str, zone: &dyn Zone) -> Look {
        hours(entries).look(instant(now), zone)
    }

    fn change(selling: bool, next: &str) -> Look {
        Look {
            selling,
            next_change: Some(instant(next)),
        }
    }

    #[test]
    fn reads_the_forms_owners_write() {
        let all = hours(&[
            "22:00-08:00",
            "sat 00:00-24:00",
            "  Mon-FRI \t 09:30-17:45 ",
            "fri-mon 23:59-00:01",
            "saturday,Sunday 10:00-11:00",
            "mon-wed,fri,sat 00:00-00:01",
            "sun 12:00-00:00",
        ]);
        let view = |days: Option<Vec<u8>>, start, end, crosses_midnight| WindowView {
            days,
            start,
            end,
            crosses_midnight,
        };
        assert_eq!(
            all.windows(),
            [
                view(None, (22, 0), (8, 0), true),
                view(Some(vec![6]), (0, 0), (24, 0), false),
                view(Some(vec![1, 2, 3, 4, 5]), (9, 30), (17, 45), false),
                view(Some(vec![0, 1, 5, 6]), (23, 59), (0, 1), true),
                view(Some(vec![0, 6]), (10, 0), (11, 0), false),
                view(Some(vec![1, 2, 3, 5, 6]), (0, 0), (0, 1), false),
                view(Some(vec![0]), (12, 0), (0, 0), true),
            ]
        );
        assert!(!all.is_empty());
        let none = SellHours::parse(&[]).unwrap();
        assert!(none.is_empty());
        assert_eq!(none.windows(), []);
        // Duplicated days are the same days.
        assert_eq!(
            hours(&["sat,sat 01:00-02:00"]).windows(),
            hours(&["sat 01:00-02:00"]).windows()
        );
    }

    #[test]
    fn refuses_each_bad_form_with_its_reason() {
        for (entry, why) in [
            ("", "the entry is empty"),
            ("   ", "the entry is empty"),
            ("garbage", "the times must be HH:MM-HH:MM"),
            ("sat", "the times must be HH:MM-HH:MM"),
            ("25:00-08:00", "the hour must be 00 to 24"),
            ("12:60-13:00", "the minutes must be 00 to 59"),
            ("12:00-13:60", "the minutes must be 00 to 59"),
            ("1:5-08:00", "a time must be HH:MM, with two digits each"),
            ("01:05-8:00", "a time must be HH:MM, with two digits each"),
            ("0100-0800", "a time must be HH:MM, with two digits each"),
            (
                "01:00-08:00-09:00",
                "a time must be HH:MM, with two digits each",
            ),
            ("+1:00-08:00", "a time must be HH:MM, with two digits each"),
            (
                "１２:00-13:00",
                "a time must be HH:MM, with two digits each",
            ),
            ("24:00-08:00", "a window cannot start at 24:00"),
            ("22:00-24:30", "the only time in hour 24 is 24:00"),
            (
                "08:00-08:00",
                "the start and the end are the same (a whole day is 00:00-24:00)",
            ),
            (
                "00:00-00:00",
                "the start and the end are the same (a whole day is 00:00-24:00)",
            ),
            (
                "22:00 - 08:00",
                "write [DAYS] HH:MM-HH:MM, with no spaces inside either",
            ),
            (
                "sat, sun 22:00-08:00",
                "write [DAYS] HH:MM-HH:MM, with no spaces inside either",
            ),
            (
                "22:00 -08:00",
                "write [DAYS] HH:MM-HH:MM, with no spaces inside either",
            ),
            ("22: 00-08:00", SPACES),
            ("xyz 22:00-08:00", WEEKDAY),
            ("sa 22:00-08:00", WEEKDAY),
            ("saturdays 22:00-08:00", WEEKDAY),
            ("sat,,sun 22:00-08:00", WEEKDAY),
            ("sat, 22:00-08:00", WEEKDAY),
            ("mon-tue-wed 22:00-08:00", WEEKDAY),
            ("mon- 22:00-08:00", WEEKDAY),
            (
                "mon-mon 22:00-08:00",
                "a day range needs two different days",
            ),
            ("22:00-08:00 sat", SPACES),
        ] {
            assert_eq!(refusal(entry), why, "{entry:?}");
        }
    }

    const WEEKDAY: &str = "a weekday is mon, tue, wed, thu, fri, sat or sun (or its full name)";

    #[test]
    fn hostile_sizes_are_refused_and_cut_in_the_error() {
        let many: Vec<String> = (0..65).map(|h| format!("{:02}:00-23:00", h % 23)).collect();
        assert_eq!(
            SellHours::parse(&many),
            Err(BadWindow {
                entry: many[64].clone(),
                why: "at most 64 entries"
            })
        );
        assert_eq!(SellHours::parse(&many[..64]).unwrap().windows().len(), 64);
        let huge = format!("sat {}22:00-08:00", " ".repeat(10_000));
        let refused = SellHours::parse(&[huge]).unwrap_err();
        assert_eq!(refused.why, "an entry has at most 64 characters");
        assert_eq!(refused.entry.chars().count(), 65);
        assert!(refused.entry.ends_with('…'));
        // 64 characters are still fine, 65 are not.
        let longest = format!("sat{}22:00-08:00", " ".repeat(64 - 3 - 11));
        assert_eq!(longest.len(), 64);
        assert!(SellHours::parse(std::slice::from_ref(&longest)).is_ok());
        let too_long = format!("{longest} ");
        let refused = SellHours::parse(&[too_long]).unwrap_err();
        assert_eq!(refused.why, "an entry has at most 64 characters");
        assert_eq!(refused.entry, format!("{longest}…"));
        // The first bad entry of several is the one named.
        let mixed = ["08:00-09:00".to_string(), "8-9".to_string()];
        assert_eq!(SellHours::parse(&mixed).unwrap_err().entry, "8-9");
    }

    #[test]
    fn sells_inside_any_window() {
        let night = hours(&["22:00-08:00"]);
        for (local, selling) in [
            (at(MON, 21, 59), false),
            (at(MON, 22, 0), true),
            (at(MON, 23, 59), true),
            (at(SUN, 0, 0), true),
            (at(SUN, 7, 59), true),
            (at(SUN, 8, 0), false),
            (at(SAT, 12, 0), false),
        ] {
            assert_eq!(night.selling_at(local), selling, "{local:?}");
        }
        let saturday_night = hours(&["sat 22:00-02:00"]);
        for (local, selling) in [
            (at(SUN, 1, 0), true),
            (at(SAT, 1, 0), false),
            (at(SAT, 22, 0), true),
            (at(SAT, 21, 59), false),
            (at(SUN, 2, 0), false),
            (at(SUN, 22, 30), false),
            (at(FRI, 23, 0), false),
        ] {
            assert_eq!(saturday_night.selling_at(local), selling, "{local:?}");
        }
        let working_days = hours(&["mon-fri 09:00-17:00"]);
        assert!(working_days.selling_at(at(MON, 9, 0)));
        assert!(working_days.selling_at(at(FRI, 16, 59)));
        assert!(!working_days.selling_at(at(FRI, 17, 0)));
        assert!(!working_days.selling_at(at(SAT, 10, 0)));
        assert!(!working_days.selling_at(at(SUN, 10, 0)));
        let long_weekend = hours(&["fri-mon 00:00-24:00"]);
        for day in 0..7 {
            let selling = [SUN, MON, FRI, SAT].contains(&day);
            assert_eq!(long_weekend.selling_at(at(day, 12, 0)), selling, "{day}");
            assert_eq!(long_weekend.selling_at(at(day, 0, 0)), selling, "{day}");
            assert_eq!(long_weekend.selling_at(at(day, 23, 59)), selling, "{day}");
        }
        // An end of 00:00 is the end of the day.
        let evening = hours(&["sun 12:00-00:00"]);
        assert!(evening.selling_at(at(SUN, 23, 59)));
        assert!(!evening.selling_at(at(MON, 0, 0)));
        assert!(!evening.selling_at(at(SUN, 11, 59)));
        // Seconds do not matter: windows are whole minutes.
        let second = LocalTime {
            second: 59,
            ..at(MON, 21, 59)
        };
        assert!(!night.selling_at(second));
        // Several windows: any one will do.
        let two = hours(&["08:00-12:00", "sat 20:00-21:00"]);
        assert!(two.selling_at(at(SAT, 20, 30)));
        assert!(two.selling_at(at(SUN, 9, 0)));
        assert!(!two.selling_at(at(SUN, 20, 30)));
        // No rule: always.
        assert!(SellHours::parse(&[]).unwrap().selling_at(at(MON, 3, 0)));
    }

    #[test]
    fn finds_the_next_change_in_utc() {
        let utc = Fixed(0);
        // 2026-03-02 is a Monday.
        assert_eq!(
            look(&["22:00-08:00"], "2026-03-02T12:00:00.250Z", &utc),
            change(false, "2026-03-02T22:00:00Z")
        );
        assert_eq!(
            look(&["22:00-08:00"], "2026-03-02T22:00:00Z", &utc),
            change(true, "2026-03-03T08:00:00Z")
        );
        assert_eq!(
            look(&["22:00-08:00"], "2026-03-03T07:59:59.999Z", &utc),
            change(true, "2026-03-03T08:00:00Z")
        );
        // 2026-03-07 is a Saturday.
        let saturday_night = ["sat 22:00-02:00"];
        assert_eq!(
            look(&saturday_night, "2026-03-02T12:00:00Z", &utc),
            change(false, "2026-03-07T22:00:00Z")
        );
        assert_eq!(
            look(&saturday_night, "2026-03-07T23:00:00Z", &utc),
            change(true, "2026-03-08T02:00:00Z")
        );
        // Adjacent windows merge: no change at 12:00.
        assert_eq!(
            look(
                &["08:00-12:00", "12:00-18:00"],
                "2026-03-02T09:00:00Z",
                &utc
            ),
            change(true, "2026-03-02T18:00:00Z")
        );
        assert_eq!(
            look(
                &["08:00-13:00", "12:00-18:00"],
                "2026-03-02T09:00:00Z",
                &utc
            ),
            change(true, "2026-03-02T18:00:00Z")
        );
        // A whole weekend: no change at Sunday's midnight.
        let weekend = ["sat 00:00-24:00", "sun 00:00-24:00"];
        assert_eq!(
            look(&weekend, "2026-03-06T12:00:00Z", &utc),
            change(false, "2026-03-07T00:00:00Z")
        );
        assert_eq!(
            look(&weekend, "2026-03-07T00:00:00Z", &utc),
            change(true, "2026-03-09T00:00:00Z")
        );
        // Every day, all day; and no rule: never a change.
        let always = Look {
            selling: true,
            next_change: None,
        };
        assert_eq!(look(&["00:00-24:00"], "2026-03-02T12:00:00Z", &utc), always);
        assert_eq!(look(&[], "2026-03-02T12:00:00Z", &utc), always);
        // A window once a week is found from any day of the week before.
        assert_eq!(
            look(&["sat 22:00-22:01"], "2026-03-07T22:01:00Z", &utc),
            change(false, "2026-03-14T22:00:00Z")
        );
    }

    #[test]
    fn finds_the_next_change_in_a_zone_with_half_hours() {
        let india = Fixed(5 * 3600 + 1800);
        // 05:30 local on Monday 2026-03-02.
        assert_eq!(
            look(&["09:00-17:00"], "2026-03-02T00:00:00Z", &india),
            change(false, "2026-03-02T03:30:00Z")
        );
        assert_eq!(
            look(&["09:00-17:00"], "2026-03-02T03:30:00Z", &india),
            change(true, "2026-03-02T11:30:00Z")
        );
        // Saturday 22:00 local is 16:30 UTC; the weekday is the local one.
        assert_eq!(
            look(&["sat 22:00-02:00"], "2026-03-07T12:00:00Z", &india),
            change(false, "2026-03-07T16:30:00Z")
        );
        // 2026-03-07T20:00Z is already Sunday 01:30 local.
        assert_eq!(
            look(&["sat 22:00-02:00"], "2026-03-07T20:00:00Z", &india),
            change(true, "2026-03-07T20:30:00Z")
        );
        let west = Fixed(-(9 * 3600 + 1800));
        assert_eq!(
            look(&["sun 00:00-01:00"], "2026-03-08T09:00:00Z", &west),
            change(false, "2026-03-08T09:30:00Z")
        );
    }

    #[test]
    fn a_window_skipped_into_sells_from_the_first_local_time_inside_it() {
        let zone = spring_forward();
        // 01:00 local; 02:00-03:00 does not happen; 03:00 local is 01:00Z.
        assert_eq!(
            look(&["02:30-03:30"], "2026-03-29T00:00:00Z", &zone),
            change(false, "2026-03-29T01:00:00Z")
        );
        assert_eq!(
            look(&["02:30-03:30"], "2026-03-29T01:00:00Z", &zone),
            change(true, "2026-03-29T01:30:00Z")
        );
        // A window wholly inside the skipped hour does not happen that day.
        assert_eq!(
            look(&["02:10-02:20"], "2026-03-29T00:00:00Z", &zone),
            change(false, "2026-03-30T00:10:00Z")
        );
        // After the change, local times are UTC + 2.
        assert_eq!(
            look(&["22:00-08:00"], "2026-03-29T12:00:00Z", &zone),
            change(false, "2026-03-29T20:00:00Z")
        );
        // Ending inside the skipped hour ends at the change.
        assert_eq!(
            look(&["01:30-02:30"], "2026-03-29T00:45:00Z", &zone),
            change(true, "2026-03-29T01:00:00Z")
        );
        // A night window is an hour shorter, not broken.
        assert_eq!(
            look(&["22:00-08:00"], "2026-03-28T22:00:00Z", &zone),
            change(true, "2026-03-29T06:00:00Z")
        );
    }

    #[test]
    fn a_repeated_hour_is_judged_by_its_local_times_both_times() {
        let zone = fall_back();
        // 01:00 local (+02:00) on 2026-10-25; 02:30 first comes at 00:30Z.
        assert_eq!(
            look(&["02:30-03:30"], "2026-10-24T23:00:00Z", &zone),
            change(false, "2026-10-25T00:30:00Z")
        );
        // At 01:00Z local time goes back from 03:00 to 02:00, before the
        // window, until 02:30 comes again at 01:30Z; 03:30 is at 02:30Z.
        assert_eq!(
            look(&["02:30-03:30"], "2026-10-25T00:30:00Z", &zone),
            change(true, "2026-10-25T01:00:00Z")
        );
        assert_eq!(
            look(&["02:30-03:30"], "2026-10-25T01:00:00Z", &zone),
            change(false, "2026-10-25T01:30:00Z")
        );
        assert_eq!(
            look(&["02:30-03:30"], "2026-10-25T01:30:00Z", &zone),
            change(true, "2026-10-25T02:30:00Z")
        );
        // A window holding the whole repeated hour sells through it: the
        // next change is the single 03:30.
        assert_eq!(
            look(&["02:00-03:30"], "2026-10-25T00:00:00Z", &zone),
            change(true, "2026-10-25T02:30:00Z")
        );
        assert_eq!(
            look(&["01:30-03:30"], "2026-10-24T23:15:00Z", &zone),
            change(false, "2026-10-24T23:30:00Z")
        );
        // A night window is an hour longer.
        assert_eq!(
            look(&["22:00-08:00"], "2026-10-24T20:00:00Z", &zone),
            change(true, "2026-10-25T07:00:00Z")
        );
    }

    /// The first whole second after `now` at which the state differs,
    /// second by second.
    fn scanned(schedule: &SellHours, now: Millis, zone: &dyn Zone) -> Look {
        let selling_at = |t: i64| schedule.selling_at(zone.local(t).unwrap());
        let start = now.div_euclid(1000);
        let selling = selling_at(start);
        let next_change = (start + 1..start + HORIZON_SECONDS)
            .find(|t| selling_at(*t) != selling)
            .map(|t| t * 1000);
        Look {
            selling,
            next_change,
        }
    }

    #[test]
    fn agrees_with_a_scan_second_by_second() {
        let schedules = [
            hours(&["02:15-02:45", "01:59-02:00"]),
            hours(&["02:30-03:30", "sat 22:00-02:00"]),
            hours(&["fri-mon 01:59-02:01", "wed 12:00-12:01"]),
            hours(&["00:00-00:01", "02:00-03:00"]),
            hours(&["sun 00:00-24:00", "mon 02:30-24:00"]),
        ];
        // Lord Howe Island's half-hour change, at an odd second.
        let half_hour = Dst {
            switch: instant("2026-03-29T15:30:00Z") / 1000 + 17,
            before: 10 * 3600 + 1800,
            after: 11 * 3600,
        };
        let zones: [&dyn Zone; 5] = [
            &half_hour,
            &spring_forward(),
            &fall_back(),
            &Fixed(-(3 * 3600 + 1800)),
            &Fixed(13 * 3600 + 45 * 60),
        ];
        let mut seed: i64 = 12_345;
        for (schedule, zone) in schedules.iter().zip(zones) {
            for _ in 0..3 {
                // Within two days of the zones' changes.
                seed = (seed * 1_103_515_245 + 12_345).rem_euclid(1 << 31);
                let now = instant("2026-03-28T00:00:00Z") + seed % (3 * 86_400_000);
                for now in [now, now + 209 * 86_400_000] {
                    assert_eq!(
                        schedule.look(now, zone),
                        scanned(schedule, now, zone),
                        "{schedule:?} {}",
                        crate::time::format(now)
                    );
                }
            }
        }
    }

    /// A zone that counts how often it is asked.
    struct Counting<'a>(&'a dyn Zone, std::cell::Cell<u32>);

    impl Zone for Counting<'_> {
        fn local(&self, utc_seconds: i64) -> Option<LocalTime> {
            self.1.set(self.1.get() + 1);
            self.0.local(utc_seconds)
        }
    }

    #[test]
    fn a_look_asks_the_zone_a_few_hundred_times_at_most() {
        let fall_back = fall_back();
        let zone = Counting(&fall_back, std::cell::Cell::new(0));
        // Eight days without a change, across a change of the offset.
        let always = hours(&["00:00-24:00"]);
        let seen = always.look(instant("2026-10-22T00:00:00Z"), &zone);
        assert_eq!(seen.next_change, None);
        assert!(zone.1.get() < 250, "{}", zone.1.get());
        // Many edges a day.
        zone.1.set(0);
        let entries: Vec<String> = (0..64)
            .map(|i| format!("sat {:02}:{:02}-23:59", i / 3, i % 3 * 20))
            .collect();
        let busy = SellHours::parse(&entries).unwrap();
        busy.look(instant("2026-10-25T00:00:00Z"), &zone);
        assert!(zone.1.get() < 250, "{}", zone.1.get());
    }

    #[test]
    fn a_clock_that_jumps_is_seen_at_the_next_look() {
        let utc = Fixed(0);
        let schedule = hours(&["22:00-08:00"]);
        let now = instant("2026-03-02T20:00:00Z");
        let before = schedule.look(now, &utc);
        assert_eq!(before, change(false, "2026-03-02T22:00:00Z"));
        // The clock is set three hours on: the watcher wakes within a
        // minute, finds itself past the change it waited for, and looks
        // again.
        let jumped = now + 3 * 3_600_000;
        assert!(sleep_for(&before, jumped) > Duration::ZERO);
        assert_eq!(
            schedule.look(jumped, &utc),
            change(true, "2026-03-03T08:00:00Z")
        );
        // And back (a clock set from the network after a boot at 1970).
        assert_eq!(schedule.look(0, &utc), change(true, "1970-01-01T08:00:00Z"));
    }

    #[test]
    fn sleeps_until_just_past_the_change_but_never_long_or_zero() {
        let now = 1_000_000;
        let soon = Look {
            selling: true,
            next_change: Some(now + 2_000),
        };
        assert_eq!(sleep_for(&soon, now), Duration::from_millis(2_005));
        let far = Look {
            selling: true,
            next_change: Some(now + 3_600_000),
        };
        assert_eq!(sleep_for(&far, now), RECHECK);
        let never = Look {
            selling: false,
            next_change: None,
        };
        assert_eq!(sleep_for(&never, now), RECHECK);
        for past in [now, now - 1, now - 86_400_000, i64::MIN] {
            let stale = Look {
                selling: false,
                next_change: Some(past),
            };
            let sleep = sleep_for(&stale, now);
            assert!(sleep > Duration::ZERO && sleep < Duration::from_millis(10));
        }
        let huge = Look {
            selling: false,
            next_change: Some(i64::MAX),
        };
        assert_eq!(sleep_for(&huge, i64::MIN), RECHECK);
    }

    #[test]
    fn utc_by_hand_knows_the_weekday() {
        assert_eq!(
            LocalTime::utc(0),
            LocalTime {
                weekday: 4,
                hour: 0,
                minute: 0,
                second: 0
            }
        );
        assert_eq!(
            LocalTime::utc(-1),
            LocalTime {
                weekday: 3,
                hour: 23,
                minute: 59,
                second: 59
            }
        );
        // 2026-03-07T22:01:02Z, a Saturday.
        assert_eq!(
            LocalTime::utc(instant("2026-03-07T22:01:02Z") / 1000),
            LocalTime {
                weekday: SAT,
                hour: 22,
                minute: 1,
                second: 2
            }
        );
        // 2040 (past armv7's 2038): 2040-01-01 is a Sunday.
        assert_eq!(
            LocalTime::utc(instant("2040-01-01T00:00:00Z") / 1000).weekday,
            SUN
        );
    }

    #[test]
    fn the_system_zone_is_what_the_c_library_says() {
        let now = crate::time::now();
        for at in [
            0,
            instant("2026-03-29T01:30:00Z"),
            instant("2026-10-25T00:30:00Z"),
            now,
            now + 183 * 86_400_000,
        ] {
            let seconds = at.div_euclid(1000);
            let ours = SystemZone.local(seconds).unwrap();
            let libc = crate::platform::process::local_time(seconds).unwrap();
            assert_eq!(i32::from(ours.weekday), libc.tm_wday, "{at}");
            assert_eq!(i32::from(ours.hour), libc.tm_hour, "{at}");
            assert_eq!(i32::from(ours.minute), libc.tm_min, "{at}");
            assert_eq!(i32::from(ours.second), libc.tm_sec, "{at}");
            let shown = format!("{:02}:{:02}:{:02}", ours.hour, ours.minute, ours.second);
            assert_eq!(crate::time::clock(seconds * 1000, seconds * 1000), shown);
        }
        // The schedule in the system's zone sells when its local time says.
        let schedule = hours(&["mon-fri 09:00-17:00"]);
        let seen = schedule.look(now, &SystemZone);
        let local_now = SystemZone.local(now.div_euclid(1000)).unwrap();
        assert_eq!(seen.selling, schedule.selling_at(local_now));
        let change = seen.next_change.unwrap();
        assert!(change > now && change <= now + 8 * 86_400_000);
        let just_before = SystemZone.local(change / 1000 - 1).unwrap();
        let at_change = SystemZone.local(change / 1000).unwrap();
        assert_eq!(schedule.selling_at(just_before), seen.selling);
        assert_eq!(schedule.selling_at(at_change), !seen.selling);
    }
}
