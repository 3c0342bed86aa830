//! User-space instructions per echoed datagram, counted by valgrind's cachegrind (opt-in:
//! `GYRE_BENCH_CACHEGRIND=1`, it is slow).
//!
//! For each load shape (window: 32 in flight; pingpong: one), server and payload size: the
//! server runs under `valgrind --tool=cachegrind --cache-sim=no` (the load generator does
//! not) and echoes a fixed number of datagrams, then stops on SIGTERM; then a fresh one runs
//! idle for as long. The difference of their `summary:` totals (instructions
//! executed, `Ir`), divided by the datagrams echoed, leaves out start-up, shutdown and idle
//! wake-ups, and keeps what each datagram costs in user space. The kernel's work is not
//! counted: cachegrind sees only user space.

use std::error::Error;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gyre_benches::supervise;

use crate::config::{Config, PAYLOADS, WINDOW};
use crate::load::{self, Limit};
use crate::servers::{Launcher, ServerKind, Under};
use crate::stats::{Table, one_decimal, thousands, times};

/// Bound on a server's start-up under valgrind.
const STARTUP: Duration = Duration::from_secs(60);
/// Bound on a loaded run.
const MAX_LOADED: Duration = Duration::from_secs(120);
/// Loss timeout under valgrind (the first datagrams wait for code to be translated).
const LOSS_TIMEOUT: Duration = Duration::from_secs(2);
/// Time a server under valgrind gets to exit and write its counts after SIGTERM.
const GRACE: Duration = Duration::from_secs(30);
/// The target, instructions per echoed datagram.
const TARGET: f64 = 100.0;

/// The load of a cachegrind run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// 32 in flight: the server finds many datagrams per wake-up.
    Window,
    /// One in flight: one datagram per wake-up.
    Pingpong,
}

impl Shape {
    fn name(self) -> String {
        match self {
            Shape::Window => format!("window {WINDOW}"),
            Shape::Pingpong => "pingpong".into(),
        }
    }
}

/// One server, payload size and load shape under cachegrind.
#[derive(Debug, Clone, Copy)]
struct Count {
    kind: ServerKind,
    size: usize,
    shape: Shape,
    echoed: u64,
    lost: u64,
    loaded_ir: u64,
    idle_ir: u64,
}

impl Count {
    fn per_echo(&self) -> f64 {
        (self.loaded_ir as f64 - self.idle_ir as f64) / self.echoed.max(1) as f64
    }
}

/// Runs every server at every payload size and load shape under cachegrind; returns the
/// markdown table (or a sentence saying why there is none).
pub fn run(config: &Config, launcher: &Launcher) -> Result<String, Box<dyn Error>> {
    if !valgrind_available() {
        return Ok("valgrind is not installed: instruction counts skipped \
                   (`apt-get install valgrind`)."
            .into());
    }
    let dir = std::env::temp_dir().join(format!("gyre-echo-cachegrind-{}", std::process::id()));
    let mut counts = Vec::new();
    for shape in [Shape::Window, Shape::Pingpong] {
        for &kind in &config.servers {
            for size in PAYLOADS {
                std::fs::create_dir_all(&dir)?;
                let count = measure(config, launcher, &dir, (kind, size, shape));
                let _ = std::fs::remove_dir_all(&dir);
                let count = count?;
                println!(
                    "cachegrind {:<9} {size} B, {}: {:.1} instructions per echoed datagram",
                    kind.name(),
                    shape.name(),
                    count.per_echo()
                );
                counts.push(count);
            }
        }
    }
    Ok(render(config, &counts))
}

/// `valgrind --version` runs.
fn valgrind_available() -> bool {
    let mut command = std::process::Command::new("valgrind");
    supervise::run(command.arg("--version"), Duration::from_secs(10))
        .is_ok_and(|out| out.status.success())
}

/// One loaded run, then one idle run of the same length.
fn measure(
    config: &Config,
    launcher: &Launcher,
    dir: &Path,
    (kind, size, shape): (ServerKind, usize, Shape),
) -> Result<Count, Box<dyn Error>> {
    let out = |what: &str| -> PathBuf { dir.join(format!("{}-{size}-{what}.out", kind.name())) };
    let loaded_out = out("loaded");
    let server = launcher.launch(kind, Under::Cachegrind(&loaded_out), STARTUP)?;
    let started = Instant::now();
    let (echoed, lost) = load_for_count(config, server.addr(), size, shape)?;
    let busy = started.elapsed();
    server.stop(GRACE)?;
    let idle_out = out("idle");
    let server = launcher.launch(kind, Under::Cachegrind(&idle_out), STARTUP)?;
    std::thread::sleep(busy);
    server.stop(GRACE)?;
    Ok(Count {
        kind,
        size,
        shape,
        echoed,
        lost,
        loaded_ir: read_total(&loaded_out)?,
        idle_ir: read_total(&idle_out)?,
    })
}

/// Sends the configured number of datagrams in `shape`; returns (echoed, lost).
fn load_for_count(
    config: &Config,
    addr: SocketAddr,
    size: usize,
    shape: Shape,
) -> std::io::Result<(u64, u64)> {
    let limit = Limit {
        duration: MAX_LOADED,
        count: config.cachegrind_datagrams,
    };
    load::on_core(config.load_core, || match shape {
        Shape::Window => {
            load::window(addr, size, WINDOW, limit, LOSS_TIMEOUT).map(|w| (w.received, w.lost))
        }
        Shape::Pingpong => {
            load::pingpong(addr, size, limit, LOSS_TIMEOUT).map(|p| (p.count(), p.lost))
        }
    })
}

/// The `summary:` total (instructions, with `--cache-sim=no`) of a cachegrind out file.
fn read_total(path: &Path) -> Result<u64, Box<dyn Error>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {} (did valgrind finish?): {e}", path.display()))?;
    let total = text
        .lines()
        .find_map(|l| l.strip_prefix("summary:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("no summary line in {}", path.display()))?;
    Ok(total)
}

fn render(config: &Config, counts: &[Count]) -> String {
    let mut t = Table::new(&[
        "server",
        "load",
        "payload",
        "echoed",
        "lost",
        "Ir loaded",
        "Ir idle",
        "Ir / echo",
        "× recvmmsg",
        "× recvmmsg+gso",
        "× tokio",
        "≤ 100?",
    ]);
    let per = |kind, c: &Count| {
        counts
            .iter()
            .find(|o| o.kind == kind && o.size == c.size && o.shape == c.shape)
            .map_or(f64::NAN, Count::per_echo)
    };
    for c in counts {
        let v = c.per_echo();
        t.row(vec![
            c.kind.name().into(),
            c.shape.name(),
            format!("{} B", c.size),
            thousands(c.echoed as f64),
            c.lost.to_string(),
            thousands(c.loaded_ir as f64),
            thousands(c.idle_ir as f64),
            one_decimal(v),
            times(v / per(ServerKind::Recvmmsg, c)),
            times(v / per(ServerKind::RecvmmsgGso, c)),
            times(v / per(ServerKind::Tokio, c)),
            crate::report::verdict(v, v <= TARGET),
        ]);
    }
    format!(
        "#### User-space instructions per echoed datagram (cachegrind; {} datagrams a run; \
         loaded minus idle)\n\n{}",
        thousands(config.cachegrind_datagrams as f64),
        t.render()
    )
}
