//! The measurement plan: rounds of every server, interleaved; in each server run, for each
//! payload size, a pingpong phase and a window phase (each after a warm-up, each with the
//! CPU counters around it, see `phase.rs`), and the server's memory.

use std::error::Error;
use std::time::Duration;

use crate::config::{Config, LOSS_TIMEOUT, PAYLOADS, WINDOW};
use crate::counters;
use crate::load::{self, Limit, PingResult, WindowResult};
use crate::phase::{self, Measured, RetryBudget};
use crate::servers::{Launcher, Server, ServerKind, Under};

/// Bound on a native server's start-up.
const STARTUP: Duration = Duration::from_secs(20);
/// Pause between the server's port report and the idle RSS reading.
const SETTLE: Duration = Duration::from_millis(200);
/// Time a server gets to exit after SIGTERM.
const GRACE: Duration = Duration::from_secs(5);

/// Round-trip percentiles of one pingpong phase, in microseconds.
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    /// Median.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Round trips measured.
    pub count: u64,
    /// Datagrams lost.
    pub lost: u64,
}

/// One payload size within one server run.
#[derive(Debug, Clone, Copy)]
pub struct SizeRun {
    /// Payload bytes.
    pub size: usize,
    /// The pingpong phase.
    pub latency: Measured<Latency>,
    /// The window phase.
    pub window: Measured<WindowResult>,
}

impl SizeRun {
    /// Server CPU time (user + system) per echoed datagram in the window phase, in ns.
    pub fn cpu_ns_per_echo(&self) -> f64 {
        self.window.usage.server_ns as f64 / self.window.value.received.max(1) as f64
    }

    /// Share of one core the server used in the window phase (10 ms tick resolution).
    pub fn server_busy(&self) -> f64 {
        self.window.usage.share(self.window.usage.server_ns)
    }

    /// Share of one core the load generator used in the window phase.
    pub fn generator_busy(&self) -> f64 {
        let w = &self.window.value;
        w.generator_cpu_ns as f64 / w.elapsed.as_nanos().max(1) as f64
    }

    /// Share of one core other programs used, the larger of the two phases.
    pub fn others_busy(&self) -> f64 {
        let (p, w) = (&self.latency.usage, &self.window.usage);
        p.share(p.others_ns).max(w.share(w.others_ns))
    }

    /// Share of one core stolen by the hypervisor, the larger of the two phases.
    pub fn steal(&self) -> f64 {
        let (p, w) = (&self.latency.usage, &self.window.usage);
        p.share(p.steal_ns).max(w.share(w.steal_ns))
    }
}

/// One run of one server (a fresh process).
#[derive(Debug, Clone)]
pub struct ServerRun {
    /// The server.
    pub kind: ServerKind,
    /// Round number, from 0.
    pub round: usize,
    /// One entry per payload size.
    pub sizes: Vec<SizeRun>,
    /// `VmRSS` shortly after start-up, in KiB.
    pub idle_rss_kib: u64,
    /// `VmHWM` at the end of the run, in KiB.
    pub peak_rss_kib: u64,
}

/// Every round, every server: gyre, recvmmsg, recv_from, mio, tokio, gyre, …
pub fn run_all(config: &Config, launcher: &Launcher) -> Result<Vec<ServerRun>, Box<dyn Error>> {
    let budget = RetryBudget::new(config.retry_budget);
    let mut runs = Vec::new();
    for round in 0..config.rounds {
        for &kind in &config.servers {
            let run = run_server(config, launcher, &budget, kind, round)?;
            println!("{}", progress_line(config, &run));
            runs.push(run);
        }
    }
    Ok(runs)
}

fn run_server(
    config: &Config,
    launcher: &Launcher,
    budget: &RetryBudget,
    kind: ServerKind,
    round: usize,
) -> Result<ServerRun, Box<dyn Error>> {
    let mut server = launcher.launch(kind, Under::Native, STARTUP)?;
    std::thread::sleep(SETTLE);
    let (idle_rss_kib, _) = counters::rss_kib(server.pid())?;
    let mut sizes = Vec::new();
    for size in PAYLOADS {
        sizes.push(run_size(config, &server, budget, size)?);
        server.check_alive()?;
    }
    let (_, peak_rss_kib) = counters::rss_kib(server.pid())?;
    server.stop(GRACE)?;
    Ok(ServerRun {
        kind,
        round,
        sizes,
        idle_rss_kib,
        peak_rss_kib,
    })
}

/// Warm-up, pingpong, warm-up, window, all on the load generator's core; each measured
/// phase with the CPU counters around it.
fn run_size(
    config: &Config,
    server: &Server,
    budget: &RetryBudget,
    size: usize,
) -> Result<SizeRun, Box<dyn Error>> {
    let (addr, pid) = (server.addr(), server.pid());
    let ping = |duration| Limit {
        duration,
        count: config.max_pingpongs,
    };
    let window = |duration| Limit {
        duration,
        count: config.max_window_datagrams,
    };
    let run = load::on_core(config.load_core, || -> std::io::Result<SizeRun> {
        load::pingpong(addr, size, ping(config.warmup), LOSS_TIMEOUT)?;
        let latency = phase::measure(pid, budget, || {
            load::pingpong(addr, size, ping(config.pingpong), LOSS_TIMEOUT).map(latency)
        })?;
        load::window(addr, size, WINDOW, window(config.warmup), LOSS_TIMEOUT)?;
        let window = phase::measure(pid, budget, || {
            load::window(addr, size, WINDOW, window(config.window), LOSS_TIMEOUT)
        })?;
        Ok(SizeRun {
            size,
            latency,
            window,
        })
    })?;
    Ok(run)
}

/// The percentiles of a pingpong phase.
fn latency(ping: PingResult) -> Latency {
    Latency {
        p50_us: ping.quantile_ns(0.50) / 1e3,
        p99_us: ping.quantile_ns(0.99) / 1e3,
        p999_us: ping.quantile_ns(0.999) / 1e3,
        count: ping.count(),
        lost: ping.lost,
    }
}

fn progress_line(config: &Config, run: &ServerRun) -> String {
    let sizes: Vec<String> = run
        .sizes
        .iter()
        .map(|s| {
            let (l, w) = (&s.latency.value, &s.window.value);
            format!(
                "{} B: {:.0}/s, lost {}, p50 {:.1} µs of {} round trips, {:.0} ns CPU/echo, \
                 busy: server {:.0}%, generator {:.0}%, others {:.0}%, steal {:.0}%{}",
                s.size,
                w.throughput(),
                w.lost + l.lost,
                l.p50_us,
                l.count,
                s.cpu_ns_per_echo(),
                s.server_busy() * 100.0,
                s.generator_busy() * 100.0,
                s.others_busy() * 100.0,
                s.steal() * 100.0,
                disturbance_note(s),
            )
        })
        .collect();
    format!(
        "round {}/{} {:<9} idle RSS {} KiB, peak {} KiB; {}",
        run.round + 1,
        config.rounds,
        run.kind.name(),
        run.idle_rss_kib,
        run.peak_rss_kib,
        sizes.join("; ")
    )
}

/// ` (retried N, excluded: …)` when a phase was disturbed, else nothing.
fn disturbance_note(s: &SizeRun) -> String {
    let retries = s.latency.retries + s.window.retries;
    let excluded: Vec<&str> = [
        (s.latency.usage.disturbed(), "pingpong"),
        (s.window.usage.disturbed(), "window"),
    ]
    .into_iter()
    .filter_map(|(bad, name)| bad.then_some(name))
    .collect();
    match (retries, excluded.is_empty()) {
        (0, true) => String::new(),
        (n, true) => format!(" (disturbed, retried {n}x)"),
        (n, false) => format!(
            " (disturbed, retried {n}x, excluded: {})",
            excluded.join(", ")
        ),
    }
}
