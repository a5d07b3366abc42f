//! Time stamps as the log, the ledger and the control socket write them:
//! RFC 3339 in UTC with milliseconds (`2026-11-30T22:40:01.123Z`), and
//! back, and the spans owners type (`--pause 2h`). Written by hand (days
//! from the civil date, after Howard Hinnant's algorithms) rather than
//! with a date crate: a few small functions are all the client needs.
//! Also the owner's local time of day (`clock`), through the C library's
//! `localtime_r`, which knows the system's time zone.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

pub fn millis(time: SystemTime) -> Millis {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_millis() as Millis,
        Err(before) => -(before.duration().as_millis() as Millis),
    }
}

/// The instant `at` milliseconds from the epoch (either side).
pub fn system_time(at: Millis) -> SystemTime {
    let span = Duration::from_millis(at.unsigned_abs());
    match at >= 0 {
        true => UNIX_EPOCH.checked_add(span),
        false => UNIX_EPOCH.checked_sub(span),
    }
    .unwrap_or(UNIX_EPOCH)
}

pub fn now() -> Millis {
    millis(SystemTime::now())
}

/// `2026-11-30T22:40:01.123Z`.
pub fn format(at: Millis) -> String {
    let (days, ms_of_day) = (at.div_euclid(86_400_000), at.rem_euclid(86_400_000));
    let (year, month, day) = civil_from_days(days);
    let (h, m, s, ms) = (
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000,
    );
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{ms:03}Z")
}

/// Reads an RFC 3339 date and time (`2026-11-30T22:40:01Z`, with or without
/// fractions, `Z` or an offset such as `+03:00`; `t`/`z`/a space allowed as
/// RFC 3339 permits), or a bare date (`2026-11-30`, midnight UTC).
pub fn parse(text: &str) -> Option<Millis> {
    let text = text.trim();
    let date = text.get(..10)?;
    let days = parse_date(date)?;
    let rest = &text[10..];
    if rest.is_empty() {
        return Some(days * 86_400_000);
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let (clock, offset_ms) = split_offset(rest)?;
    let of_day = parse_clock(clock)?;
    Some(days * 86_400_000 + of_day - offset_ms)
}

/// `YYYY-MM-DD` as days since the epoch.
fn parse_date(date: &str) -> Option<i64> {
    let [year, month, day] = fields(date, '-', [4, 2, 2])?;
    let valid = (1..=12).contains(&month) && (1..=days_in_month(year, month)).contains(&day);
    valid.then(|| days_from_civil(year, month, day))
}

/// `HH:MM:SS[.fff...]` as milliseconds of the day.
fn parse_clock(clock: &str) -> Option<i64> {
    // No fraction reads as `.0`; a `.` must have digits after it.
    let (whole, fraction) = clock.split_once('.').unwrap_or((clock, "0"));
    let [h, m, s] = fields(whole, ':', [2, 2, 2])?;
    let fraction_ok = !fraction.is_empty() && fraction.bytes().all(|b| b.is_ascii_digit());
    // 60 is a leap second; it is counted as the next second's start.
    if h > 23 || m > 59 || s > 60 || !fraction_ok {
        return None;
    }
    let ms = number(&format!("{fraction:0<3}")[..3])?;
    Some(((h * 60 + m) * 60 + s) * 1000 + ms)
}

/// The clock and the offset (in ms east of UTC) of `HH:MM:SS...Z` or
/// `HH:MM:SS...+03:00`.
fn split_offset(rest: &str) -> Option<(&str, i64)> {
    if let Some(clock) = rest.strip_suffix(['Z', 'z']) {
        return Some((clock, 0));
    }
    let at = rest.rfind(['+', '-'])?;
    let (clock, offset) = rest.split_at(at);
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let [h, m] = fields(&offset[1..], ':', [2, 2])?;
    if h > 23 || m > 59 {
        return None;
    }
    Some((clock, sign * (h * 60 + m) * 60_000))
}

/// `text` as numbers of exactly `widths` digits between `separator`s:
/// `fields("22:40", ':', [2, 2])` is `[22, 40]`.
fn fields<const N: usize>(text: &str, separator: char, widths: [usize; N]) -> Option<[i64; N]> {
    let mut parts = text.split(separator);
    let mut numbers = [0; N];
    for (slot, width) in numbers.iter_mut().zip(widths) {
        *slot = number(parts.next().filter(|part| part.len() == width)?)?;
    }
    parts.next().is_none().then_some(numbers)
}

/// Digits only (no sign, no spaces).
fn number(digits: &str) -> Option<i64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12; // March = 0
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day counted from 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = (month_index + 2) % 12 + 1; // March = 0, as above
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A span such as `90s`, `30m`, `1h`, `24h`, `7d` (a whole number and one
/// unit).
pub fn parse_span(text: &str) -> Option<Duration> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let seconds = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    let count: u64 = number(&text[..text.len() - 1])?.try_into().ok()?;
    count
        .checked_mul(seconds)
        .filter(|s| *s <= 100 * 365 * 86_400)
        .map(Duration::from_secs)
}

/// The local time of day of `at` (`23:00:00`), with the date in front
/// (`2026-12-02 08:00:00`) when it is not on the local date of `now`.
pub fn clock(at: Millis, now: Millis) -> String {
    let Some(local) = local_time(at) else {
        return format(at);
    };
    let time_of_day = format!(
        "{:02}:{:02}:{:02}",
        local.tm_hour, local.tm_min, local.tm_sec
    );
    let same_day =
        local_time(now).is_some_and(|n| (n.tm_year, n.tm_yday) == (local.tm_year, local.tm_yday));
    match same_day {
        true => time_of_day,
        false => format!(
            "{:04}-{:02}-{:02} {time_of_day}",
            i64::from(local.tm_year) + 1900,
            local.tm_mon + 1,
            local.tm_mday
        ),
    }
}

/// The last local midnight at or before `now` (the start of "today").
pub fn local_midnight(now: Millis) -> Millis {
    match local_time(now) {
        Some(local) => {
            let of_day = (i64::from(local.tm_hour) * 60 + i64::from(local.tm_min)) * 60
                + i64::from(local.tm_sec);
            now - of_day * 1000 - now.rem_euclid(1000)
        }
        None => utc_midnight(now),
    }
}

/// The UTC day's start: `local_midnight` when the local time is not known
/// (on armv7 the C library's time_t is 32 bits, so past 2038).
fn utc_midnight(now: Millis) -> Millis {
    now - now.rem_euclid(86_400_000)
}

/// The broken-down local time of `at` (the system's time zone).
fn local_time(at: Millis) -> Option<libc::tm> {
    crate::platform::process::local_time(at.div_euclid(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_milliseconds_from_the_epoch_either_side() {
        let ms = Duration::from_millis(1500);
        assert_eq!(millis(UNIX_EPOCH + ms), 1500);
        assert_eq!(millis(UNIX_EPOCH - ms), -1500);
        let system = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        assert!((now() - system).abs() < 60_000, "{} {system}", now());
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(format(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format(1_764_542_401_123), "2025-11-30T22:40:01.123Z");
        assert_eq!(format(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(format(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(format(4_107_542_399_999), "2100-02-28T23:59:59.999Z");
    }

    #[test]
    fn parses_what_it_formats_for_every_day_of_many_years() {
        let mut at = millis(UNIX_EPOCH) - 400 * 86_400_000;
        while at < 5_000_000_000_000 {
            assert_eq!(parse(&format(at)), Some(at), "{}", format(at));
            at += 86_400_000 * 7 + 3_600_000 + 61_001;
        }
    }

    #[test]
    fn parses_rfc3339_forms() {
        let base = parse("2026-11-30T22:40:01Z").unwrap();
        assert_eq!(parse("2026-11-30T22:40:01.000Z"), Some(base));
        assert_eq!(parse("2026-11-30t22:40:01.5z"), Some(base + 500));
        assert_eq!(parse("2026-11-30 22:40:01Z"), Some(base));
        assert_eq!(parse("2026-12-01T01:40:01+03:00"), Some(base));
        assert_eq!(parse("2026-11-30T20:40:01-02:00"), Some(base));
        assert_eq!(parse("2026-11-30T22:40:01.123456Z"), Some(base + 123));
        assert_eq!(
            parse("2026-11-30"),
            Some(base - (22 * 3600 + 40 * 60 + 1) * 1000)
        );
        assert_eq!(format(base), "2026-11-30T22:40:01.000Z");
    }

    #[test]
    fn refuses_what_is_not_a_date() {
        for bad in [
            "",
            "2026",
            "2026-13-01",
            "2026-02-30",
            "2025-02-29",
            "2026-11-30T",
            "2026-11-30T24:00:00Z",
            "2026-11-30T22:40Z",
            "2026-11-30T22:40:01",
            "2026-11-30T22:40:01.Z",
            "2026-11-30T22:40:01+3",
            "2026-11-30X22:40:01Z",
            "yesterday",
            "１２３４-11-30",
            "-026-11-30",
            "2026-1-30",
            "2026-11-30T22:40:01+24:00",
            "2026-11-30T22:40:0aZ",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
        assert!(parse("2024-02-29").is_some());
        // Each separator and each field's bound on its own.
        for bad in [
            "2026/11-30",
            "2026-11/30",
            "2026-11-30T22/40:01Z",
            "2026-11-30T22:40/01Z",
            "2026-11-30T22:60:00Z",
            "2026-11-30T22:40:61Z",
            "2026-11-30T24:59:59Z",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
        for good in [
            "2026-11-30T23:59:59Z",
            "2026-11-30T22:59:00Z",
            "2026-11-30T23:59:60Z",
        ] {
            assert!(parse(good).is_some(), "{good:?}");
        }
        // Offsets: every hour and minute they may have, and no more.
        let utc = parse("2026-11-30T12:00:00Z").unwrap();
        assert_eq!(parse("2026-11-30T17:30:00+05:30"), Some(utc));
        assert_eq!(parse("2026-12-01T11:59:00+23:59"), Some(utc));
        for bad in ["2026-11-30T12:00:00+24:00", "2026-11-30T12:00:00+00:60"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
        // Leap years (every 4th, not every 100th, every 400th) and the
        // 30-day months.
        for (date, valid) in [
            ("2000-02-29", true),
            ("2024-02-29", true),
            ("1900-02-29", false),
            ("2100-02-29", false),
            ("2023-02-29", false),
            ("2026-04-30", true),
            ("2026-04-31", false),
            ("2026-06-31", false),
            ("2026-09-31", false),
            ("2026-11-31", false),
            ("2026-12-31", true),
        ] {
            assert_eq!(parse(date).is_some(), valid, "{date}");
        }
    }

    #[test]
    fn spans() {
        assert_eq!(parse_span("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_span("24h"), Some(Duration::from_secs(86_400)));
        assert_eq!(parse_span("7d"), Some(Duration::from_secs(604_800)));
        assert_eq!(parse_span("30m"), Some(Duration::from_secs(1800)));
        assert_eq!(parse_span("90s"), Some(Duration::from_secs(90)));
        // Up to a hundred years.
        assert_eq!(
            parse_span("36500d"),
            Some(Duration::from_secs(36500 * 86_400))
        );
        for bad in [
            "",
            "h",
            "1",
            "1w",
            "-1h",
            "1.5h",
            "99999999999999999999d",
            "36501d",
            "1 h",
        ] {
            assert_eq!(parse_span(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn local_times_are_shown_with_the_date_only_on_another_day() {
        let now = now();
        let shown = clock(now, now);
        assert_eq!(shown.len(), 8, "{shown}");
        assert_eq!(shown.matches(':').count(), 2, "{shown}");
        let tomorrow = clock(now + 2 * 86_400_000, now);
        assert_eq!(tomorrow.len(), 19, "{tomorrow}");
        assert!(tomorrow.ends_with(&shown), "{tomorrow} {shown}");
        let midnight = local_midnight(now);
        assert!(midnight <= now && now - midnight < 86_400_000 + 3_600_000);
        assert_eq!(clock(midnight, now), "00:00:00");
        assert_eq!(local_midnight(midnight), midnight);
        // Whole seconds: the milliseconds of `now` go too.
        let odd = now - now.rem_euclid(1000) + 123;
        assert_eq!(
            local_midnight(odd),
            local_midnight(now - now.rem_euclid(1000))
        );
        assert_eq!(local_midnight(odd).rem_euclid(1000), 0);
        // 61.5 s past midnight: its seconds, minutes and milliseconds go.
        assert_eq!(local_midnight(midnight + 61_500), midnight);
        let day = 86_400_000;
        assert_eq!(utc_midnight(3 * day + 5), 3 * day);
        assert_eq!(utc_midnight(-day + 5), -day);
    }
}
