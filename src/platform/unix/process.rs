//! The process on Unix: its figures for `/metrics` (Linux: `/proc`;
//! macOS: `proc_pidinfo` and `getrusage`), the local time (`localtime_r`),
//! and glibc's malloc arenas.

#[cfg(not(target_os = "macos"))]
use crate::platform::ProcessFigures;

#[cfg(target_os = "macos")]
pub use super::macos::figures;

/// The process's figures, as far as the system tells.
#[cfg(not(target_os = "macos"))]
pub fn figures() -> ProcessFigures {
    let file = |path| std::fs::read_to_string(path).ok();
    let (page, hz) = (sysconf(libc::_SC_PAGESIZE), sysconf(libc::_SC_CLK_TCK));
    let stat = file("/proc/self/stat").and_then(|text| stat_ticks(&text));
    let btime = file("/proc/stat").and_then(|text| boot_time(&text));
    let resident = file("/proc/self/statm").and_then(|text| resident_pages(&text));
    ProcessFigures {
        resident_bytes: resident
            .zip(page)
            .map(|(pages, page)| pages.saturating_mul(page)),
        cpu_ms: stat.zip(hz).map(|((cpu, _), hz)| ticks_ms(cpu, hz)),
        start_ms: stat.zip(hz).zip(btime).map(|(((_, start), hz), btime)| {
            let since_boot = ticks_ms(start, hz);
            btime.saturating_mul(1000).saturating_add(since_boot)
        }),
    }
}

/// A positive `sysconf` value.
#[cfg(not(target_os = "macos"))]
fn sysconf(name: libc::c_int) -> Option<u64> {
    // SAFETY: sysconf only reads a system parameter.
    let value = unsafe { libc::sysconf(name) };
    u64::try_from(value).ok().filter(|v| *v != 0)
}

#[cfg(not(target_os = "macos"))]
fn ticks_ms(ticks: u64, hz: u64) -> u64 {
    ticks.saturating_mul(1000) / hz.max(1)
}

/// The CPU time (utime + stime) and the start since boot in
/// `/proc/self/stat`, in clock ticks: `pid (comm) state ...`. The command
/// name may hold spaces and parentheses, so fields are counted after the
/// last `)`: there, field 3 (`state`) is the first, so utime (14), stime
/// (15) and starttime (22) are the 12th, 13th and 20th.
#[cfg(not(target_os = "macos"))]
fn stat_ticks(text: &str) -> Option<(u64, u64)> {
    let (_, after) = text.rsplit_once(')')?;
    let fields: Vec<&str> = after.split_ascii_whitespace().collect();
    let field = |n: usize| fields.get(n)?.parse::<u64>().ok();
    Some((field(11)?.checked_add(field(12)?)?, field(19)?))
}

/// The `btime` line of `/proc/stat`: the boot time, in Unix seconds.
#[cfg(not(target_os = "macos"))]
fn boot_time(text: &str) -> Option<u64> {
    let line = text.lines().find_map(|line| line.strip_prefix("btime "))?;
    line.trim().parse().ok()
}

/// The second field of `/proc/self/statm`: resident pages.
#[cfg(not(target_os = "macos"))]
fn resident_pages(text: &str) -> Option<u64> {
    text.split_ascii_whitespace().nth(1)?.parse().ok()
}

/// The broken-down local time of `seconds` since the Unix epoch (the
/// system's time zone: `TZ`, else `/etc/localtime`).
pub fn local_time(seconds: i64) -> Option<libc::tm> {
    // Typed by `localtime_r`'s parameter: naming `libc::time_t` warns on
    // musl (its width changes with musl 1.2), where it is 32 bits on armv7
    // and the conversion can fail; on 64-bit targets it is i64 already.
    #[allow(clippy::useless_conversion)]
    let seconds = seconds.try_into().ok()?;
    // SAFETY: an all-zero tm is a valid value for localtime_r to overwrite.
    let mut local: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; localtime_r is the
    // thread-safe form.
    let result = unsafe { libc::localtime_r(&seconds, &mut local) };
    (!result.is_null()).then_some(local)
}

/// glibc gives every thread that allocates its own malloc arena, each of
/// which keeps freed memory; for a client whose threads allocate little,
/// one shared arena keeps the resident size small and flat. (The static
/// release builds use dlmalloc, which has no arenas.) Call before any
/// other thread exists.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(not(target_os = "macos"))]
    fn proc_files_are_parsed_and_garbage_is_not() {
        use super::{boot_time, resident_pages, stat_ticks, ticks_ms};
        let stat = "1234 (a (weird) name) S 1 1234 1234 0 -1 4194560 500 0 0 0 \
                    150 73 0 0 20 0 3 0 98765 12345678 300 18446744073709551615";
        assert_eq!(stat_ticks(stat), Some((223, 98765)));
        assert_eq!(stat_ticks("1234 (x) S 1 2"), None);
        assert_eq!(stat_ticks("no parenthesis"), None);
        assert_eq!(stat_ticks(""), None);
        assert_eq!(
            boot_time("cpu  1 2 3\nbtime 1700000000\nprocesses 9\n"),
            Some(1_700_000_000)
        );
        assert_eq!(boot_time("cpu 1\nbtime x\n"), None);
        assert_eq!(boot_time(""), None);
        assert_eq!(resident_pages("2000 300 100 5 0 400 0\n"), Some(300));
        assert_eq!(resident_pages("2000"), None);
        assert_eq!(ticks_ms(223, 100), 2_230);
        assert_eq!(ticks_ms(5, 0), 5_000);
    }
}
