//! Lockstep instruction count: user-space instructions per echoed datagram, counted exactly
//! by valgrind's callgrind, one loop turn at a time.
//!
//! ```text
//! cargo bench -p gyre-benches --bench lockstep                  # every server, under a minute
//! cargo bench -p gyre-benches --bench lockstep -- gyre mio      # a subset
//! ```
//!
//! The table goes to stdout and to `target/bench-results/lockstep.md`
//! (`gyre_benches::results`); each child's callgrind file stays in
//! `target/lockstep/callgrind/`, for `callgrind_annotate`. Each child runs under the tests'
//! supervisor (`tests/common/supervise.rs`). Without valgrind the bench says so and does
//! nothing.
//!
//! # Why count instructions, and why in lockstep
//!
//! Time per datagram depends on the CPU's clock, its caches, the other programs on the
//! machine and the hypervisor: two runs rarely agree to better than a few per cent.
//! Instructions executed depend only on the code and its input, so a count is the same in
//! every run, and a change of 2% is a real change. The price: it says nothing of cache
//! misses or of the kernel (valgrind sees only user space), so it complements the timed
//! `echo` bench rather than replacing it.
//!
//! "Its input" is the catch for a server. A loop that wakes up, reads what is waiting and
//! replies spends less per datagram when it finds 32 waiting than when it finds one, and
//! under a load generator how many it finds depends on scheduling. So the client and the
//! server here take turns in one process: each *round*, the client sends exactly `N`
//! datagrams, the server runs exactly one turn of its loop, and the client reads exactly
//! `N` echoes. Loopback puts a datagram in the receiving socket's queue before `send`
//! returns, so the turn always finds all `N`; a missing echo is an error.
//!
//! # Counting only the turn
//!
//! `valgrind --tool=callgrind --collect-atstart=no --toggle-collect=FUNCTION` counts only
//! while `FUNCTION` runs (with everything it calls): collection flips on at its entry and
//! off at its exit. Each server's turn is therefore one `#[inline(never)]` function, named
//! `lockstep_turn_<server>` (`lockstep/servers.rs`), and the client's work stays outside.
//! The name to give callgrind is the one it prints, the demangled Rust path without the
//! hash: `lockstep::servers::lockstep_turn_gyre`. No other function may share it (a
//! matching closure called from inside would flip collection off again), and a pattern
//! that matches nothing is not an error to callgrind: it just counts zero. The bench checks
//! both that the total is not zero and that the function appears in the file.
//!
//! # Two runs and a difference
//!
//! The first turns cost more than the others: buffers grow to their working size, the
//! dynamic linker resolves each libc function on its first call, lazily built state gets
//! built. Rather than guess how many turns that takes, the bench runs each case twice, with
//! `R1` and with `R2` rounds, and keeps the difference:
//!
//! ```text
//! Ir per echo = (Ir(R2) − Ir(R1)) / ((R2 − R1) · N)
//! ```
//!
//! Everything that happens a fixed number of times, whenever it happens, cancels out; what
//! is left is the cost of one more round, exactly, divided by the datagrams it echoed. For
//! the three baselines that is the same integer (or `/ 32` fraction) in every run. gyre's
//! count can move by a few hundred instructions over thousands of rounds, well under one
//! per echo: its timer queue moves with the clock (one bucket a millisecond), so its work
//! depends a little on how long the run takes, and valgrind runs the code some 50 times
//! slower than the CPU would.
//!
//! # The servers
//!
//! All four run in the child process, on 127.0.0.1, on a port the kernel picks:
//!
//! * **gyre**: `Reactor::iterate(Duration::ZERO)` with `protocols::Echo::quiet()`;
//! * **mio**: a bare mio loop, `poll` with a zero timeout, then `recv_from` until
//!   `WouldBlock`, `send_to` each;
//! * **recvmmsg**: one `recvmmsg` of up to 32 (non-blocking), one `sendmmsg` back;
//! * **recvmmsg+gso**: the same receive, then the replies by one `sendmsg` with a
//!   `UDP_SEGMENT` control message (the kernel cuts the buffer into datagrams), which needs
//!   two or more datagrams of one size from one sender (else `sendmmsg`, so at N = 1 it is
//!   the recvmmsg server).
//!
//! The recvmmsg code is the echo bench's (`echo/mmsg.rs`). Every datagram goes to
//! 127.0.0.1; every loop is bounded in count, and every child in time.

#[path = "lockstep/callgrind.rs"]
mod callgrind;
#[path = "lockstep/child.rs"]
mod child;
#[path = "lockstep/report.rs"]
mod report;
#[path = "lockstep/servers.rs"]
mod servers;

// The echo bench's batch; its load generator's half is not used here.
#[allow(dead_code)]
#[path = "echo/mmsg.rs"]
mod mmsg;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use child::Turns;
use report::Row;
use servers::{Kind, Res};

/// `(N, R1, R2)`: datagrams per round, and the rounds of the short and the long child.
const PLAN: [(usize, usize, usize); 2] = [(1, 500, 5500), (32, 200, 1200)];
/// Payload sizes, in bytes.
const SIZES: [usize; 2] = [64, 1200];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(turns) = Turns::from_args(&args) {
        return child::main(turns);
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lockstep bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Counts every case, prints the table and writes it under `target/bench-results/`.
fn run(args: &[String]) -> Res<()> {
    if !callgrind::valgrind_available() {
        println!(
            "valgrind is not installed: lockstep instruction counts skipped (apt-get install valgrind)."
        );
        return Ok(());
    }
    let kinds = kinds_from_args(args)?;
    let exe = std::env::current_exe()?;
    let dir = target_dir(&exe).join("lockstep");
    let files = dir.join("callgrind");
    std::fs::create_dir_all(&files)?;
    let mut rows = Vec::new();
    for (n, r1, r2) in PLAN {
        for size in SIZES {
            for &kind in &kinds {
                let row = measure(&exe, &files, kind, n, size, (r1, r2))?;
                println!(
                    "{:<13} N {n:>2}, {size:>4} B: {:.1} instructions per echo",
                    kind.name(),
                    row.per_echo()
                );
                rows.push(row);
            }
        }
    }
    let table = report::render(&rows);
    println!("\n{table}");
    gyre_benches::results::write("lockstep.md", &table)?;
    Ok(())
}

/// One case: the child with `R1` rounds, then with `R2`.
fn measure(
    exe: &Path,
    files: &Path,
    kind: Kind,
    n: usize,
    size: usize,
    rounds: (usize, usize),
) -> Res<Row> {
    let turns = |rounds| Turns {
        kind,
        n,
        size,
        rounds,
    };
    let ir = (
        callgrind::count(exe, turns(rounds.0), files)?,
        callgrind::count(exe, turns(rounds.1), files)?,
    );
    if ir.1 <= ir.0 {
        return Err(format!(
            "{}: more rounds counted fewer instructions: {ir:?}",
            kind.name()
        )
        .into());
    }
    Ok(Row {
        kind,
        n,
        size,
        rounds,
        ir,
    })
}

/// The servers named on the command line (cargo's own `--bench` is ignored), or all.
fn kinds_from_args(args: &[String]) -> Res<Vec<Kind>> {
    let names: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    if names.is_empty() {
        return Ok(Kind::ALL.to_vec());
    }
    names
        .into_iter()
        .map(|name| Kind::parse(name).ok_or_else(|| format!("unknown server {name:?}").into()))
        .collect()
}

/// Cargo's target directory: the bench runs as `target/release/deps/lockstep-HASH`.
fn target_dir(exe: &Path) -> PathBuf {
    exe.ancestors()
        .nth(3)
        .map_or_else(|| PathBuf::from("target"), Path::to_path_buf)
}
