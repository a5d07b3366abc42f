//! What macOS does its own way, apart so that the Linux-only test runs
//! (and cargo-mutants, which cannot build for macOS here) leave it be:
//! the control socket's peer (`getpeereid`) and the process figures
//! (`proc_pidinfo`, `getrusage`; macOS has no `/proc`).

use std::os::fd::AsRawFd;

use crate::platform::ProcessFigures;

/// The peer's user id, as the kernel recorded it at `connect`.
pub fn peer_uid(stream: &impl AsRawFd) -> Option<u32> {
    let (mut uid, mut gid) = (u32::MAX, u32::MAX);
    // SAFETY: the descriptor is the stream's own; both pointers are valid
    // for one write each.
    let result = unsafe { libc::getpeereid(stream.as_raw_fd(), &mut uid, &mut gid) };
    (result == 0).then_some(uid)
}

/// The process's figures: the resident size and the start from the
/// kernel's process information, the CPU time from `getrusage`.
pub fn figures() -> ProcessFigures {
    // SAFETY: both are plain structs that zeroed memory initialises.
    let (mut task, mut bsd): (libc::proc_taskinfo, libc::proc_bsdinfo) =
        unsafe { (std::mem::zeroed(), std::mem::zeroed()) };
    let pid = std::process::id() as libc::c_int;
    let info = |flavor, buffer: *mut libc::c_void, size: usize| {
        // SAFETY: `buffer` is valid for writes of `size` bytes.
        let read = unsafe { libc::proc_pidinfo(pid, flavor, 0, buffer, size as libc::c_int) };
        read == size as libc::c_int
    };
    let task_read = info(
        libc::PROC_PIDTASKINFO,
        (&mut task as *mut libc::proc_taskinfo).cast(),
        std::mem::size_of::<libc::proc_taskinfo>(),
    );
    let bsd_read = info(
        libc::PROC_PIDTBSDINFO,
        (&mut bsd as *mut libc::proc_bsdinfo).cast(),
        std::mem::size_of::<libc::proc_bsdinfo>(),
    );
    ProcessFigures {
        resident_bytes: task_read.then_some(task.pti_resident_size),
        cpu_ms: cpu_ms(),
        start_ms: bsd_read.then(|| bsd.pbi_start_tvsec * 1000 + bsd.pbi_start_tvusec / 1000),
    }
}

/// User and system CPU time, from `getrusage`.
fn cpu_ms() -> Option<u64> {
    // SAFETY: rusage is plain old data, filled in by the call.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is valid for one write.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return None;
    }
    let ms = |t: libc::timeval| -> Option<u64> {
        Some(u64::try_from(t.tv_sec).ok()? * 1000 + u64::try_from(t.tv_usec).ok()? / 1000)
    };
    Some(ms(usage.ru_utime)? + ms(usage.ru_stime)?)
}
