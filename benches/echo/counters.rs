//! What Linux tells about the server and the machine, through the `procfs` crate: a process's
//! CPU time (`/proc/PID/stat`) and memory (`/proc/PID/status`), the machine's CPU time
//! (`/proc/stat`), and the calling thread's own CPU time.

use std::io;

use procfs::process::Process;
use procfs::{CurrentSI, KernelStats};

/// `procfs`'s errors as `io::Error`s.
fn io_error(e: procfs::ProcError) -> io::Error {
    io::Error::other(e)
}

fn process(pid: u32) -> io::Result<Process> {
    Process::new(i32::try_from(pid).map_err(io::Error::other)?).map_err(io_error)
}

/// Clock ticks (usually 10 ms, the unit of the CPU times) in nanoseconds.
fn ticks_to_ns(ticks: u64) -> u64 {
    ticks * 1_000_000_000 / procfs::ticks_per_second()
}

/// CPU time (user + system, all threads) of process `pid`, in nanoseconds.
pub fn cpu_time_ns(pid: u32) -> io::Result<u64> {
    let stat = process(pid)?.stat().map_err(io_error)?;
    Ok(ticks_to_ns(stat.utime + stat.stime))
}

/// CPU time of the whole machine so far, in ns.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemCpu {
    /// Time spent running anything (user, nice, system, irq, softirq), all cores.
    pub busy_ns: u64,
    /// Time the hypervisor ran something else while this machine wanted to run.
    pub steal_ns: u64,
}

impl SystemCpu {
    /// Reads `/proc/stat`.
    pub fn read() -> io::Result<SystemCpu> {
        let total = KernelStats::current().map_err(io_error)?.total;
        let irq = total.irq.unwrap_or(0) + total.softirq.unwrap_or(0);
        Ok(SystemCpu {
            busy_ns: ticks_to_ns(total.user + total.nice + total.system + irq),
            steal_ns: ticks_to_ns(total.steal.unwrap_or(0)),
        })
    }
}

/// Memory of process `pid`, in KiB: resident now (`VmRSS`) and at its peak (`VmHWM`).
pub fn rss_kib(pid: u32) -> io::Result<(u64, u64)> {
    let status = process(pid)?.status().map_err(io_error)?;
    match (status.vmrss, status.vmhwm) {
        (Some(now), Some(peak)) => Ok((now, peak)),
        _ => Err(io::Error::other(format!("no VmRSS or VmHWM for {pid}"))),
    }
}

/// CPU time of the calling thread, in nanoseconds (`CLOCK_THREAD_CPUTIME_ID`).
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write into; the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}
