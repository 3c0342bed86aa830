//! Task benchmark: gyre's executor against tokio's current-thread runtime (`spawn_local` on a
//! `LocalSet`), in the same run.
//!
//! Two costs, each per operation, over interleaved rounds (gyre, tokio, gyre, …):
//!
//! * **spawn and complete**: spawn 100,000 tasks whose future completes at its first poll,
//!   until all have completed. gyre polls a task once when it is spawned (Twisted's
//!   `ensureDeferred` runs a coroutine up to its first wait), so the task is done before
//!   `ensure_deferred` returns; tokio queues it and polls it when the `LocalSet` runs.
//! * **wake to poll**: one task that wakes itself and returns `Pending`, 1,000,000 times: the
//!   cost of a wake on the loop's own thread plus the poll it leads to. gyre's loop turns
//!   (`iterate` with no wait) poll up to 256 woken tasks a turn between two looks at I/O;
//!   tokio's current-thread scheduler polls 61 tasks between two.
//!
//! The table gives the median ns per operation of each, and the median of the per-round
//! ratios gyre ÷ tokio (below 1: gyre is faster). The target is ≤ 1.0x for both.
//!
//! The tables go to stdout and to `target/bench-results/tasks.md` (see `results.rs`).
//!
//! ```text
//! cargo bench -p gyre-benches --bench tasks
//! GYRE_BENCH_ROUNDS=3 cargo bench -p gyre-benches --bench tasks
//! ```

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use gyre::Reactor;
use gyre::defer::Failure;
use gyre_benches::results::Report;
use gyre_benches::util::median;

const SPAWNS: u32 = 100_000;
const WAKES: u32 = 1_000_000;

/// Wakes itself and waits, `n` times, then completes.
struct YieldTimes(u32);

impl Future for YieldTimes {
    type Output = Result<(), Failure>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Failure>> {
        if self.0 == 0 {
            return Poll::Ready(Ok(()));
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn reactor() -> Reactor {
    let mut reactor = Reactor::new().expect("a reactor");
    reactor.install_signal_handlers(false);
    reactor
}

fn gyre_spawn() -> Duration {
    let reactor = reactor();
    let done = Rc::new(Cell::new(0u32));
    let start = Instant::now();
    for _ in 0..SPAWNS {
        let done = done.clone();
        reactor.ensure_deferred(async move {
            done.set(done.get() + 1);
            Ok::<(), Failure>(())
        });
    }
    let elapsed = start.elapsed();
    assert_eq!(done.get(), SPAWNS);
    elapsed
}

fn gyre_wakes() -> Duration {
    let mut reactor = reactor();
    let start = Instant::now();
    let task = reactor.ensure_deferred(YieldTimes(WAKES));
    while !task.is_called() {
        reactor.iterate(Duration::ZERO).expect("a turn");
    }
    start.elapsed()
}

fn tokio_runtime() -> (tokio::runtime::Runtime, tokio::task::LocalSet) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    (runtime, tokio::task::LocalSet::new())
}

fn tokio_spawn() -> Duration {
    let (runtime, local) = tokio_runtime();
    let done = Rc::new(Cell::new(0u32));
    local.block_on(&runtime, async {
        let start = Instant::now();
        for _ in 0..SPAWNS {
            let done = done.clone();
            tokio::task::spawn_local(async move { done.set(done.get() + 1) });
        }
        while done.get() < SPAWNS {
            YieldTimes(1).await.expect("a yield");
        }
        start.elapsed()
    })
}

fn tokio_wakes() -> Duration {
    let (runtime, local) = tokio_runtime();
    local.block_on(&runtime, async {
        let start = Instant::now();
        tokio::task::spawn_local(YieldTimes(WAKES))
            .await
            .expect("the task")
            .expect("its output");
        start.elapsed()
    })
}

fn ns_per(elapsed: Duration, n: u32) -> f64 {
    elapsed.as_nanos() as f64 / f64::from(n)
}

fn main() {
    let mut out = Report::new("tasks");
    let rounds: usize = std::env::var("GYRE_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(7)
        .max(1);
    let (_, _, _, _) = (gyre_spawn(), tokio_spawn(), gyre_wakes(), tokio_wakes()); // warm-up
    let mut rows: [(Vec<f64>, Vec<f64>, Vec<f64>); 2] = Default::default();
    for _ in 0..rounds {
        let (g, t) = (ns_per(gyre_spawn(), SPAWNS), ns_per(tokio_spawn(), SPAWNS));
        rows[0].0.push(g);
        rows[0].1.push(t);
        rows[0].2.push(g / t);
        let (g, t) = (ns_per(gyre_wakes(), WAKES), ns_per(tokio_wakes(), WAKES));
        rows[1].0.push(g);
        rows[1].1.push(t);
        rows[1].2.push(g / t);
    }
    out.line(format!(
        "#### Tasks: gyre's executor and tokio's current-thread `spawn_local` ({rounds} rounds, medians)\n"
    ));
    out.line("| cost | gyre ns | tokio ns | gyre ÷ tokio (per round) | ≤ 1.0x? |");
    out.line("|---|---:|---:|---:|---|");
    for (name, (mut g, mut t, mut r)) in ["spawn and complete", "wake to poll"].iter().zip(rows) {
        let ratio = median(&mut r);
        out.line(format!(
            "| {name} | {:.1} | {:.1} | {ratio:.2}x | {} |",
            median(&mut g),
            median(&mut t),
            if ratio <= 1.0 { "yes" } else { "no" }
        ));
    }
    out.save().expect("write the results");
}
