//! UDP echo benchmark: gyre's `echo_server` example against five baseline echo servers, on
//! loopback, in the same run.
//!
//! Run it with:
//!
//! ```text
//! cargo bench -p gyre-benches --bench echo                              # full run: 7 rounds, about 5 minutes
//! GYRE_BENCH_QUICK=1 cargo bench -p gyre-benches --bench echo           # quick run: 1 round, under a minute
//! GYRE_BENCH_CACHEGRIND=1 cargo bench -p gyre-benches --bench echo      # also count instructions (valgrind)
//! GYRE_BENCH_CACHEGRIND=only cargo bench -p gyre-benches --bench echo   # only count instructions
//! ```
//!
//! `cargo bench -p gyre-benches --bench echo -- --quick` is the same as `GYRE_BENCH_QUICK=1`.
//! `GYRE_BENCH_ROUNDS=N` sets the number of rounds, `GYRE_BENCH_SERVERS=gyre,tokio` runs a
//! subset.
//!
//! # The servers
//!
//! Each server is a separate process bound to `127.0.0.1` on a port it picks and reports:
//!
//! * **gyre**: `examples/echo_server.rs --quiet --port 0 --interface 127.0.0.1`, built by the
//!   bench with `cargo build --release --example echo_server` (whatever the engine is today);
//! * **recvmmsg**: a blocking loop of `recvmmsg`/`sendmmsg`, 32 datagrams a batch (libc);
//! * **recvmmsg+gso**: the same loop, replying to each run of same-size datagrams from one
//!   sender with one GSO `sendmsg` (`UDP_SEGMENT`): the fair limit for gyre, which sends with
//!   GSO too;
//! * **recv_from**: a blocking `std::net::UdpSocket::recv_from` / `send_to` loop;
//! * **mio**: a bare `mio` loop, edge-triggered, draining until `WouldBlock`, `send_to` each;
//! * **tokio**: a current-thread tokio runtime, `UdpSocket::recv_from(..).await` then
//!   `send_to(..).await`.
//!
//! The five baselines live in this bench (`echo/serve.rs`): the bench re-executes itself as
//! `echo --serve KIND`. Every server is pinned to core 1 and the load generator to core 0.
//!
//! # What is measured
//!
//! For each server and for 64-byte and 1200-byte payloads (`echo/suite.rs`):
//!
//! * **pingpong**: one datagram in flight (the generator busy-polls for the echo); the
//!   round-trip times give p50, p99 and p99.9;
//! * **window**: 32 datagrams in flight, each with a sequence number; a datagram not back
//!   within 200 ms counts as lost; the result is echoed datagrams per second;
//! * the server's CPU time per echoed datagram during the window phase (`utime + stime` from
//!   `/proc/PID/stat`), its RSS right after start-up (`VmRSS`) and its peak RSS (`VmHWM`),
//!   read with the `procfs` crate (`echo/counters.rs`); round-trip percentiles come from an
//!   `hdrhistogram`.
//!
//! Rounds are interleaved (gyre, recvmmsg, recv_from, mio, tokio, gyre, …), each server run
//! is a fresh process, and the report gives medians, min–max spreads, and ratios to the
//! recvmmsg loop and to tokio, paired by round (`echo/report.rs`). A phase during which
//! other programs used over a fifth of a core is re-run, and left out if it stays so
//! (`echo/phase.rs`). With `GYRE_BENCH_CACHEGRIND`, each server also runs under
//! `valgrind --tool=cachegrind --cache-sim=no`, echoing a fixed number of datagrams (32 in
//! flight, then pingpong), and again idle for as long; the difference divided by the
//! datagrams echoed is its user-space instructions per datagram (`echo/cachegrind.rs`).
//!
//! Results go to stdout and under `target/bench-results/` (`gyre_benches::results`):
//! `echo.md` (the tables, headed by the command, revision and machine), the chart
//! `echo-throughput.svg`, and `echo-cachegrind.md` for the instruction counts.
//! `docs/performance-echo.md` and `docs/echo-throughput.svg` are curated by hand from them.
//!
//! Network safety: every datagram goes to 127.0.0.1; every load loop is bounded both in
//! count and in time; every server has a lifetime bound, dies with the bench
//! (`PR_SET_PDEATHSIG`), and is killed and reaped by the tests' supervisor
//! (`tests/common/supervise.rs`) even on panic.

#[path = "echo/cachegrind.rs"]
mod cachegrind;
#[path = "echo/chart.rs"]
mod chart;
#[path = "echo/config.rs"]
mod config;
#[path = "echo/counters.rs"]
mod counters;
#[path = "echo/load.rs"]
mod load;
#[path = "echo/mmsg.rs"]
mod mmsg;
#[path = "echo/phase.rs"]
mod phase;
#[path = "echo/report.rs"]
mod report;
#[path = "echo/serve.rs"]
mod serve;
#[path = "echo/servers.rs"]
mod servers;
#[path = "echo/stats.rs"]
mod stats;
#[path = "echo/suite.rs"]
mod suite;

use std::error::Error;
use std::process::ExitCode;

use config::Config;
use gyre_benches::results::{self, Report};
use gyre_benches::util::try_pin_current_thread;
use servers::Launcher;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(role) = serve::Role::from_args(&args) {
        return serve::main(role);
    }
    match run(Config::from_env_and_args(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Builds gyre's server, then runs the suite and/or the instruction counts, writing each
/// report under `target/bench-results/`.
fn run(config: Config) -> Result<(), Box<dyn Error>> {
    println!("{}", config.describe());
    let launcher = Launcher::prepare(&config)?;
    // The reports' stamp counts the cores: before pinning, which would hide the other one.
    let mut suite_report = Report::new("echo");
    let mut cachegrind_report = Report::new("echo");
    // Only now: the build above must not be confined to one core.
    if let Some(core) = config.load_core {
        try_pin_current_thread(core)?;
    }
    if config.suite {
        let runs = suite::run_all(&config, &launcher)?;
        let summary = report::Summary::new(&config, &runs);
        let chart = chart::write(&results::dir().join(chart::FILE_NAME), &summary)?;
        println!("chart written to {}", chart.display());
        suite_report.line(config.describe());
        suite_report.line(format!("\n![Echo throughput]({})\n", chart::FILE_NAME));
        suite_report.line(summary.render());
        suite_report.save()?;
    }
    if config.cachegrind {
        cachegrind_report.line(cachegrind::run(&config, &launcher)?);
        cachegrind_report.save_as("echo-cachegrind.md")?;
    }
    Ok(())
}
