//! What one run of the bench does: rounds, phase lengths, payload sizes, servers.
//!
//! Everything comes from environment variables (`GYRE_BENCH_*`) or from `--quick` on the
//! command line; the defaults are the full run.

use std::time::Duration;

use crate::servers::ServerKind;

/// Payload sizes, in bytes, measured for every server.
pub const PAYLOADS: [usize; 2] = [64, 1200];
/// Datagrams in flight in the window phase.
pub const WINDOW: usize = 32;
/// A datagram not echoed within this time counts as lost (outside valgrind).
pub const LOSS_TIMEOUT: Duration = Duration::from_millis(200);

/// The settings of one bench run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Quick mode (`GYRE_BENCH_QUICK=1` or `--quick`).
    pub quick: bool,
    /// Interleaved rounds of every server.
    pub rounds: usize,
    /// Untimed warm-up before each measured phase.
    pub warmup: Duration,
    /// Length of a measured pingpong phase.
    pub pingpong: Duration,
    /// Length of a measured window phase.
    pub window: Duration,
    /// Upper bound on the round trips of one pingpong phase.
    pub max_pingpongs: u64,
    /// Upper bound on the datagrams sent in one window phase.
    pub max_window_datagrams: u64,
    /// The servers to run, in round order.
    pub servers: Vec<ServerKind>,
    /// Run the throughput/latency suite.
    pub suite: bool,
    /// Count instructions under cachegrind.
    pub cachegrind: bool,
    /// Datagrams echoed in each loaded cachegrind run.
    pub cachegrind_datagrams: u64,
    /// Core of the servers (`None` on a one-core machine: no pinning).
    pub server_core: Option<usize>,
    /// Core of the load generator and of the harness.
    pub load_core: Option<usize>,
    /// Disturbed phases the whole run may repeat (see `phase.rs`).
    pub retry_budget: u32,
    /// No server lives longer than this, whatever happens to the bench.
    pub server_lifetime: Duration,
}

impl Config {
    /// Reads `GYRE_BENCH_*` and the command line (`--quick`; cargo's own `--bench` is ignored).
    pub fn from_env_and_args(args: &[String]) -> Config {
        let quick = args.iter().any(|a| a == "--quick") || env_flag("GYRE_BENCH_QUICK");
        let cachegrind_mode = std::env::var("GYRE_BENCH_CACHEGRIND").unwrap_or_default();
        let only_cachegrind = cachegrind_mode.eq_ignore_ascii_case("only");
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (server_core, load_core) = if cores >= 2 {
            (Some(1), Some(0))
        } else {
            (None, None)
        };
        let base = if quick {
            Config::quick()
        } else {
            Config::full()
        };
        Config {
            rounds: env_number("GYRE_BENCH_ROUNDS").map_or(base.rounds, |n| n.max(1) as usize),
            servers: servers_from_env(),
            suite: !only_cachegrind,
            cachegrind: only_cachegrind || env_flag("GYRE_BENCH_CACHEGRIND"),
            server_core,
            load_core,
            ..base
        }
    }

    fn full() -> Config {
        Config {
            quick: false,
            rounds: 7,
            warmup: Duration::from_millis(300),
            pingpong: Duration::from_millis(1000),
            window: Duration::from_millis(2000),
            max_pingpongs: 500_000,
            max_window_datagrams: 20_000_000,
            servers: ServerKind::ALL.to_vec(),
            suite: true,
            cachegrind: false,
            cachegrind_datagrams: 100_000,
            server_core: None,
            load_core: None,
            retry_budget: 12,
            server_lifetime: Duration::from_secs(300),
        }
    }

    fn quick() -> Config {
        Config {
            quick: true,
            rounds: 1,
            warmup: Duration::from_millis(200),
            pingpong: Duration::from_millis(500),
            window: Duration::from_millis(1000),
            cachegrind_datagrams: 20_000,
            retry_budget: 3,
            ..Config::full()
        }
    }

    /// One paragraph saying what this run does, printed first.
    pub fn describe(&self) -> String {
        let names: Vec<&str> = self.servers.iter().map(|s| s.name()).collect();
        format!(
            "echo bench ({mode}): servers {servers}; {rounds} round(s); per payload: \
             {warm} ms warm-up, {pp} ms pingpong, {warm} ms warm-up, {win} ms window of {WINDOW}; \
             payloads {PAYLOADS:?} B; {pinning}; cachegrind: {cg}",
            mode = if self.quick { "quick" } else { "full" },
            servers = names.join(", "),
            rounds = self.rounds,
            warm = self.warmup.as_millis(),
            pp = self.pingpong.as_millis(),
            win = self.window.as_millis(),
            pinning = match (self.server_core, self.load_core) {
                (Some(s), Some(l)) => format!("servers on core {s}, load generator on core {l}"),
                _ => "no pinning (one core)".to_string(),
            },
            cg = self.cachegrind,
        )
    }
}

/// True if the variable is set to anything but empty, `0`, `false` or `no`.
fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false" | "no"))
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.trim().parse().ok()
}

/// `GYRE_BENCH_SERVERS=gyre,tokio`, or every server; unknown names are reported and skipped.
fn servers_from_env() -> Vec<ServerKind> {
    let Ok(list) = std::env::var("GYRE_BENCH_SERVERS") else {
        return ServerKind::ALL.to_vec();
    };
    let mut servers = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match ServerKind::parse(name) {
            Some(kind) if !servers.contains(&kind) => servers.push(kind),
            Some(_) => {}
            None => eprintln!("GYRE_BENCH_SERVERS: unknown server {name:?}, skipped"),
        }
    }
    if servers.is_empty() {
        ServerKind::ALL.to_vec()
    } else {
        servers
    }
}
