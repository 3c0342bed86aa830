//! One measured phase with the CPU counters around it: the server's CPU time, the bench's
//! own, and what the rest of the machine did meanwhile. A phase during which other programs
//! used more than a fifth of a core is *disturbed*: it is run again (at most twice, and
//! within a budget for the whole bench), and if it stays disturbed the report leaves it out.

use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::counters;

/// Share of one core the rest of the machine may use before a phase counts as disturbed.
pub const DISTURBED_SHARE: f64 = 0.2;
/// Retries of one phase.
const MAX_RETRIES_PER_PHASE: u32 = 2;

/// Retries left for the whole bench run, so that a busy machine cannot stretch it much.
#[derive(Debug)]
pub struct RetryBudget(AtomicU32);

impl RetryBudget {
    /// A budget of `retries`.
    pub fn new(retries: u32) -> RetryBudget {
        RetryBudget(AtomicU32::new(retries))
    }

    /// Takes one retry, if any is left.
    fn take(&self) -> bool {
        self.0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }
}

/// CPU time used during a phase, in nanoseconds, and its length.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// The server process (user + system, 10 ms ticks).
    pub server_ns: u64,
    /// Everything but the server and the bench.
    pub others_ns: u64,
    /// Time the hypervisor ran something else instead of this machine.
    pub steal_ns: u64,
    /// Wall-clock length of the phase.
    pub wall: Duration,
}

impl Usage {
    /// `ns` as a share of one core over the phase.
    pub fn share(&self, ns: u64) -> f64 {
        ns as f64 / self.wall.as_nanos().max(1) as f64
    }

    /// True if other programs used more than [`DISTURBED_SHARE`] of a core.
    pub fn disturbed(&self) -> bool {
        self.share(self.others_ns) > DISTURBED_SHARE
    }
}

/// A phase's result with its CPU usage (of the last attempt) and how often it was re-run.
#[derive(Debug, Clone, Copy)]
pub struct Measured<T> {
    /// What the phase returned.
    pub value: T,
    /// CPU usage during it.
    pub usage: Usage,
    /// Attempts that were disturbed and repeated.
    pub retries: u32,
}

/// Runs `phase` with the counters of server `pid` around it, again if it was disturbed and
/// the budget allows.
pub fn measure<T>(
    pid: u32,
    budget: &RetryBudget,
    mut phase: impl FnMut() -> io::Result<T>,
) -> io::Result<Measured<T>> {
    let mut retries = 0;
    loop {
        let before = Snapshot::take(pid)?;
        let started = Instant::now();
        let value = phase()?;
        let usage = Snapshot::take(pid)?.usage_since(&before, started.elapsed());
        if !usage.disturbed() || retries == MAX_RETRIES_PER_PHASE || !budget.take() {
            return Ok(Measured {
                value,
                usage,
                retries,
            });
        }
        retries += 1;
    }
}

/// CPU counters read together: the server's, the bench's own, the machine's.
#[derive(Debug, Clone, Copy)]
struct Snapshot {
    server_ns: u64,
    bench_ns: u64,
    system: counters::SystemCpu,
}

impl Snapshot {
    fn take(server: u32) -> io::Result<Snapshot> {
        Ok(Snapshot {
            server_ns: counters::cpu_time_ns(server)?,
            bench_ns: counters::cpu_time_ns(std::process::id())?,
            system: counters::SystemCpu::read()?,
        })
    }

    /// What was used between `earlier` and `self`, `wall` apart.
    fn usage_since(&self, earlier: &Snapshot, wall: Duration) -> Usage {
        let server_ns = self.server_ns.saturating_sub(earlier.server_ns);
        let bench_ns = self.bench_ns.saturating_sub(earlier.bench_ns);
        let busy_ns = self.system.busy_ns.saturating_sub(earlier.system.busy_ns);
        Usage {
            server_ns,
            others_ns: busy_ns.saturating_sub(server_ns + bench_ns),
            steal_ns: self.system.steal_ns.saturating_sub(earlier.system.steal_ns),
            wall,
        }
    }
}
