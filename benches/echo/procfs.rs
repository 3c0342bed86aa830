//! What Linux tells about a process (`/proc/PID/stat`, `/proc/PID/status`), CPU pinning, and
//! a description of the machine for the report.

use std::io;

/// CPU time (user + system, all threads) of process `pid`, in nanoseconds.
///
/// From fields 14 and 15 of `/proc/PID/stat`, which count clock ticks (usually 10 ms).
pub fn cpu_time_ns(pid: u32) -> io::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| io::Error::other("unexpected /proc/PID/stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): utime is field 14, stime field 15.
    let field = |n: usize| -> io::Result<u64> {
        fields
            .get(n - 3)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| io::Error::other(format!("no field {n} in /proc/{pid}/stat")))
    };
    let ticks = field(14)? + field(15)?;
    Ok(ticks * 1_000_000_000 / clock_ticks_per_second())
}

/// CPU time of the whole machine so far, from the first line of `/proc/stat`, in ns.
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
        let stat = std::fs::read_to_string("/proc/stat")?;
        let line = stat.lines().next().unwrap_or_default();
        let ticks: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        let at = |i: usize| ticks.get(i).copied().unwrap_or(0);
        let to_ns = |t: u64| t * 1_000_000_000 / clock_ticks_per_second();
        // user nice system idle iowait irq softirq steal …
        Ok(SystemCpu {
            busy_ns: to_ns(at(0) + at(1) + at(2) + at(5) + at(6)),
            steal_ns: to_ns(at(7)),
        })
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

/// `sysconf(_SC_CLK_TCK)`: the unit of `utime` and `stime`.
pub fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|&t| t > 0).unwrap_or(100)
}

/// A `VmXXX:` line of `/proc/PID/status`, in KiB (`VmRSS`: resident now, `VmHWM`: peak).
pub fn status_kib(pid: u32, field: &str) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| io::Error::other(format!("no {field} in /proc/{pid}/status")))
}

/// A CPU set holding `core` alone.
pub fn cpu_set(core: usize) -> libc::cpu_set_t {
    // SAFETY: cpu_set_t is a plain bit array, for which all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: CPU_ZERO and CPU_SET only write bits of `set`; CPU_SET ignores a core past
    // the end of the set.
    unsafe {
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(core, &mut set);
    }
    set
}

/// Pins the calling thread (and the threads it spawns later) to `core`; `None` does nothing.
pub fn pin_current_thread(core: Option<usize>) -> io::Result<()> {
    let Some(core) = core else { return Ok(()) };
    let set = cpu_set(core);
    // SAFETY: `set` is a valid cpu_set_t of the size passed; pid 0 is the calling thread.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The machine, as the report describes it.
#[derive(Debug, Clone)]
pub struct Machine {
    /// `model name` from `/proc/cpuinfo`.
    pub cpu: String,
    /// Cores available to the bench.
    pub cores: usize,
    /// Kernel release.
    pub kernel: String,
    /// `rustc --version`.
    pub rustc: String,
}

impl Machine {
    /// Reads it from `/proc` and `rustc --version` (any part it cannot read is `unknown`).
    pub fn read() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
            .map_or("unknown".into(), |(_, v)| v.trim().to_string());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_or("unknown".into(), |k| k.trim().to_string());
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            kernel,
            rustc: rustc_version(),
        }
    }
}

fn rustc_version() -> String {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let mut command = std::process::Command::new(rustc);
    command.arg("--version");
    crate::process::output_within(command, std::time::Duration::from_secs(10))
        .unwrap_or_else(|| "unknown".into())
}
