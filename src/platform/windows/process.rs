//! The process on Windows: its figures for `/metrics` (the working set,
//! the CPU times and the start from `GetProcessTimes`), and the local time
//! (the C runtime's `localtime_s`).

use windows_sys::Win32::Foundation::FILETIME;
use windows_sys::Win32::System::ProcessStatus::{K32GetProcessMemoryInfo, PROCESS_MEMORY_COUNTERS};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, GetProcessTimes};

use crate::platform::ProcessFigures;

/// 100-nanosecond intervals from 1601-01-01 (a FILETIME's epoch) to the
/// Unix epoch.
const UNIX_EPOCH_TICKS: u64 = 116_444_736_000_000_000;

/// The process's figures, as far as the system tells.
pub fn figures() -> ProcessFigures {
    // SAFETY: a pseudo handle to this process; no failure.
    let process = unsafe { GetCurrentProcess() };
    // SAFETY: plain old data, filled in by the call.
    let mut memory: PROCESS_MEMORY_COUNTERS = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<PROCESS_MEMORY_COUNTERS>() as u32;
    // SAFETY: `memory` is valid for `size` bytes.
    let memory_read = unsafe { K32GetProcessMemoryInfo(process, &mut memory, size) } != 0;
    let zero = FILETIME {
        dwLowDateTime: 0,
        dwHighDateTime: 0,
    };
    let (mut created, mut exited, mut kernel, mut user) = (zero, zero, zero, zero);
    // SAFETY: four FILETIMEs, each valid for one write.
    let times_read =
        unsafe { GetProcessTimes(process, &mut created, &mut exited, &mut kernel, &mut user) } != 0;
    ProcessFigures {
        resident_bytes: memory_read.then_some(memory.WorkingSetSize as u64),
        cpu_ms: times_read.then(|| (ticks(kernel) + ticks(user)) / 10_000),
        start_ms: times_read
            .then(|| ticks(created).checked_sub(UNIX_EPOCH_TICKS))
            .flatten()
            .map(|since| since / 10_000),
    }
}

fn ticks(time: FILETIME) -> u64 {
    (u64::from(time.dwHighDateTime) << 32) | u64::from(time.dwLowDateTime)
}

/// The broken-down local time of `seconds` since the Unix epoch (the
/// system's time zone).
pub fn local_time(seconds: i64) -> Option<libc::tm> {
    // SAFETY: an all-zero tm is a valid value for localtime_s to overwrite.
    let mut local: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call.
    let result = unsafe { libc::localtime_s(&mut local, &seconds) };
    (result == 0).then_some(local)
}

/// Windows' allocator needs no settings.
pub fn limit_malloc_arenas() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filetime_counts_from_1601() {
        let epoch = FILETIME {
            dwLowDateTime: UNIX_EPOCH_TICKS as u32,
            dwHighDateTime: (UNIX_EPOCH_TICKS >> 32) as u32,
        };
        assert_eq!(ticks(epoch), UNIX_EPOCH_TICKS);
    }

    #[test]
    fn the_local_time_is_a_real_date() {
        // 2025-06-15 12:00 UTC: the same day in every time zone but the
        // farthest ones, and never another year.
        let local = local_time(1_749_988_800).unwrap();
        assert_eq!(local.tm_year, 125);
        assert_eq!(local.tm_mon, 5);
        assert!((14..=16).contains(&local.tm_mday), "{}", local.tm_mday);
    }
}
