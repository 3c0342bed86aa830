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
//! subset, and `GYRE_BENCH_OUT=DIR` picks where the report and the chart go (default: `docs/`
//! for a full run, `target/echo-bench/` for a quick one, so a quick run never replaces the
//! published numbers).
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
//!   `/proc/PID/stat`), its RSS right after start-up (`VmRSS`) and its peak RSS (`VmHWM`).
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
//! Results go to stdout, to `docs/performance-echo.md` (only between its `BEGIN echo-bench`
//! / `END echo-bench` markers when the file exists) and to the chart
//! `docs/echo-throughput.svg`.
//!
//! Network safety: every datagram goes to 127.0.0.1; every load loop is bounded both in
//! count and in time; every server has a lifetime bound, dies with the bench
//! (`PR_SET_PDEATHSIG`), and is killed and reaped by a guard even on panic.

#[path = "echo/cachegrind.rs"]
mod cachegrind;
#[path = "echo/chart.rs"]
mod chart;
#[path = "echo/config.rs"]
mod config;
#[path = "echo/docfile.rs"]
mod docfile;
#[path = "echo/load.rs"]
mod load;
#[path = "echo/mmsg.rs"]
mod mmsg;
#[path = "echo/phase.rs"]
mod phase;
#[path = "echo/process.rs"]
mod process;
#[path = "echo/procfs.rs"]
mod procfs;
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

/// Builds gyre's server, then runs the suite and/or the instruction counts, then reports.
fn run(config: Config) -> Result<(), Box<dyn Error>> {
    println!("{}", config.describe());
    let launcher = Launcher::prepare(&config)?;
    // Before pinning, which would hide the other core.
    let machine = procfs::Machine::read();
    // Only now: the build above must not be confined to one core.
    procfs::pin_current_thread(config.load_core)?;
    let mut doc = docfile::Doc::new(&config, &machine);
    if config.suite {
        let runs = suite::run_all(&config, &launcher)?;
        let summary = report::Summary::new(&config, &runs);
        println!("{}", summary.render());
        let chart_path = config.out_dir(&launcher).join(chart::FILE_NAME);
        chart::write(&chart_path, &summary)?;
        println!("chart written to {}", chart_path.display());
        doc.set_results(&summary);
    }
    if config.cachegrind {
        let table = cachegrind::run(&config, &launcher)?;
        println!("{table}");
        doc.set_cachegrind(&table);
    }
    let doc_path = doc.write(&config.out_dir(&launcher))?;
    println!("report written to {}", doc_path.display());
    Ok(())
}
