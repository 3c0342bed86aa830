//! Timer queue benchmark: gyre's [`TimerQueue`](gyre::time::TimerQueue) against two
//! baselines, in the same run, with criterion.
//!
//! The workload (`timers/workload.rs`): schedule N timers (default 1,000,000) at random
//! deadlines within one second, cancel half of them (a random half, in random order), then
//! jump the clock past one second and take out everything that is due. Every structure gets
//! the same deadlines and the same cancel set. The structures (`timers/subjects.rs`):
//!
//! 1. `gyre::time::TimerQueue<u64>` (deadlines in nanoseconds, fired with `pop_due`);
//! 2. `std`'s `BinaryHeap` next to a slab, with lazy cancellation (`timers/heap.rs`);
//! 3. `tokio_util::time::DelayQueue<u64>` on a paused current-thread tokio runtime.
//!
//! Each phase of each structure is one criterion benchmark, `schedule/gyre` … `fire/delayqueue`:
//! an iteration starts from an empty `new()` with the earlier phases done outside the timed
//! region (so schedule includes growing the storage), and times one phase over all N timers;
//! for DelayQueue, `tokio::time::advance` past one second is outside it too. Criterion (flat
//! sampling: at least 10 iterations, 1 s per benchmark) gives the median time per iteration;
//! divided by the timers the phase touches, that is ns per schedule, per cancel and per fire
//! ("per fire" includes dropping or skipping the cancelled leftovers). The heaviest phases
//! take longer than a second for their 10 iterations, and criterion says so: that is expected.
//!
//! Before its first benchmark, each structure runs once untimed, counted by the tests'
//! counting allocator (`tests/common/counting_alloc.rs`): allocations per phase and peak heap
//! bytes above the level when it started. That run is checked: exactly the non-cancelled
//! payloads fire, once each; `cancel` hands back exactly the cancelled ones; gyre and the heap
//! fire in (deadline, scheduling order). The caller's vectors of handles and of fired payloads
//! are made once and reused by every run, so they are neither counted nor page-faulted inside
//! a timed phase. On glibc the bench first pins malloc's mmap threshold (see
//! `pin_malloc_behaviour`), so that every run gets fresh pages for its large vectors.
//!
//! After the benchmarks, the table of ns per operation, allocations and peak memory, and the
//! ratios gyre / BinaryHeap and DelayQueue / gyre, are computed from criterion's
//! `estimates.json` of this run (a benchmark filtered out leaves its cells empty rather than
//! reusing an older run's) and written to stdout and `target/bench-results/timers.md`;
//! criterion's own data is in `target/bench-results/criterion/`.
//!
//! ```text
//! cargo bench -p gyre-benches --bench timers
//! GYRE_BENCH_TIMERS=100000 cargo bench -p gyre-benches --bench timers   # quick run
//! cargo bench -p gyre-benches --bench timers -- gyre                     # one structure (a criterion filter)
//! cargo bench -p gyre-benches --bench timers -- --measurement-time 5     # criterion's options
//! ```

#[path = "../tests/common/counting_alloc.rs"]
mod counting_alloc;
#[path = "timers/heap.rs"]
mod heap;
#[path = "timers/subjects.rs"]
mod subjects;
#[path = "timers/workload.rs"]
mod workload;

use std::cell::RefCell;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, SystemTime};

use counting_alloc::{Counting, memory_baseline, memory_peak_since, start_counting, stop_counting};
use criterion::{BatchSize, Criterion, SamplingMode, Throughput};
use gyre_benches::results::{self, Report};
use subjects::{Delay, Gyre, Heap, Subject};
use workload::Workload;

#[global_allocator]
static ALLOC: Counting = Counting;

const DEFAULT_TIMERS: usize = 1_000_000;
/// The phases, in order: criterion's group names.
const PHASES: [&str; 3] = ["schedule", "cancel", "fire"];

/// Pins glibc's mmap threshold at its default (128 KiB), which also turns off glibc's
/// dynamic threshold. Without this, freeing one structure's large vectors raises the threshold
/// and the next structure's vectors land in recycled, already-faulted heap memory or not,
/// depending on what ran before it: schedule times then moved by up to 1.5x with the run
/// order. Pinned, every run gets fresh pages for its large vectors and pays the first-touch
/// page faults for its own footprint, the same way for all three structures.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn pin_malloc_behaviour() -> &'static str {
    /// `M_MMAP_THRESHOLD` from glibc's `<malloc.h>`.
    const M_MMAP_THRESHOLD: i32 = -3;
    // SAFETY: `mallopt` is glibc's, with this exact C signature (`int mallopt(int, int)`).
    unsafe extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
    }
    // SAFETY: called from `main` before any other thread exists; `mallopt` only adjusts
    // malloc's tuning parameters and takes plain integers.
    let ok = unsafe { mallopt(M_MMAP_THRESHOLD, 128 * 1024) };
    if ok == 1 {
        "glibc mmap threshold pinned at 128 KiB"
    } else {
        "glibc mmap threshold NOT pinned (mallopt failed)"
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn pin_malloc_behaviour() -> &'static str {
    "system allocator left as is (not glibc)"
}

/// The caller's vectors, made once and reused by every run: the handles `schedule` returns
/// and the payloads in firing order.
struct Buffers<H> {
    ids: Vec<H>,
    fired: Vec<u64>,
}

/// One run of one structure: its queue, with the phases before the timed one done.
struct Run<'a, S: Subject> {
    // Dropped in this order: the queue before the runtime it may belong to.
    q: S::Queue,
    env: S::Env,
    ids: Vec<S::Handle>,
    fired: Vec<u64>,
    pool: &'a RefCell<Buffers<S::Handle>>,
}

impl<'a, S: Subject> Run<'a, S> {
    /// A fresh queue on the pooled buffers, with the phases before `phase` done.
    fn before(phase: usize, w: &Workload, pool: &'a RefCell<Buffers<S::Handle>>) -> Self {
        let (mut ids, mut fired) = {
            let mut b = pool.borrow_mut();
            (std::mem::take(&mut b.ids), std::mem::take(&mut b.fired))
        };
        ids.clear();
        fired.clear();
        let env = S::env();
        let mut q = S::new(&env);
        if phase > 0 {
            S::schedule(&env, &mut q, &w.deadlines, &mut ids);
        }
        if phase > 1 {
            S::cancel(&env, &mut q, &w.cancel_order, &ids);
            S::advance(&env, &mut q);
        }
        Run {
            q,
            env,
            ids,
            fired,
            pool,
        }
    }

    /// Runs `phase`, the timed one.
    fn phase(&mut self, phase: usize, w: &Workload) {
        match phase {
            0 => S::schedule(&self.env, &mut self.q, &w.deadlines, &mut self.ids),
            1 => {
                black_box(S::cancel(
                    &self.env,
                    &mut self.q,
                    &w.cancel_order,
                    &self.ids,
                ));
            }
            _ => S::fire(&self.env, &mut self.q, &mut self.fired),
        }
    }
}

impl<S: Subject> Drop for Run<'_, S> {
    /// Hands the buffers back for the next run.
    fn drop(&mut self) {
        let mut pool = self.pool.borrow_mut();
        pool.ids = std::mem::take(&mut self.ids);
        pool.fired = std::mem::take(&mut self.fired);
    }
}

/// What the checked run of one structure found.
struct Checked {
    /// Allocations (and reallocations) in each phase.
    allocs: [u64; 3],
    /// Peak heap bytes above the level when the run started.
    peak_bytes: usize,
}

/// One run outside criterion: counts allocations per phase and the peak memory, and checks
/// what the structure fired and handed back.
fn checked_run<S: Subject>(w: &Workload, pool: &RefCell<Buffers<S::Handle>>) -> Checked {
    let mut allocs = [0; 3];
    let mut run = Run::<S>::before(0, w, pool);
    let base = memory_baseline();
    start_counting();
    run.q = S::new(&run.env); // counted with schedule, as its storage grows
    S::schedule(&run.env, &mut run.q, &w.deadlines, &mut run.ids);
    allocs[0] = stop_counting();
    start_counting();
    let cancelled = S::cancel(&run.env, &mut run.q, &w.cancel_order, &run.ids);
    allocs[1] = stop_counting();
    S::advance(&run.env, &mut run.q);
    start_counting();
    S::fire(&run.env, &mut run.q, &mut run.fired);
    allocs[2] = stop_counting();
    let peak_bytes = memory_peak_since(base);
    assert!(S::is_empty(&run.q), "{}: not empty after firing", S::NAME);
    workload::check(S::NAME, w, cancelled, &run.fired, S::ORDERED);
    Checked { allocs, peak_bytes }
}

/// The three phases of `S` as criterion benchmarks; returns what its checked run found (if
/// criterion ran any of them).
fn bench<S: Subject>(c: &mut Criterion, w: &Workload) -> Option<Checked> {
    let pool = RefCell::new(Buffers {
        ids: Vec::with_capacity(w.n()),
        fired: Vec::with_capacity(w.to_fire()),
    });
    let checked = RefCell::new(None);
    for (phase, name) in PHASES.iter().enumerate() {
        let mut group = c.benchmark_group(*name);
        group
            .sampling_mode(SamplingMode::Flat)
            .throughput(Throughput::Elements(ops(w, phase) as u64));
        group.bench_function(S::ID, |b| {
            if checked.borrow().is_none() {
                checked.replace(Some(checked_run::<S>(w, &pool)));
            }
            b.iter_batched(
                || Run::<S>::before(phase, w, &pool),
                |mut run| {
                    run.phase(phase, w);
                    run
                },
                BatchSize::PerIteration,
            );
        });
        group.finish();
    }
    checked.into_inner()
}

/// The timers phase `phase` works on: every one, the cancelled half, the fired half.
fn ops(w: &Workload, phase: usize) -> usize {
    [w.n(), w.cancel_order.len(), w.to_fire()][phase]
}

/// Criterion's median time per iteration of `phase/id`, in ns, if this run measured it.
fn median_ns(dir: &Path, phase: &str, id: &str, since: SystemTime) -> Option<f64> {
    let path = dir.join(phase).join(id).join("new/estimates.json");
    let fresh = std::fs::metadata(&path).ok()?.modified().ok()? >= since;
    let text = std::fs::read_to_string(&path).ok()?;
    let estimates: serde_json::Value = serde_json::from_str(&text).ok()?;
    estimates["median"]["point_estimate"]
        .as_f64()
        .filter(|_| fresh)
}

/// One structure's row: ns per operation of each phase (NaN if not measured), allocations.
struct Row {
    name: &'static str,
    ns: [f64; 3],
    checked: Checked,
}

impl Row {
    fn new<S: Subject>(w: &Workload, dir: &Path, since: SystemTime, checked: Checked) -> Row {
        let ns = [0, 1, 2].map(|phase| {
            median_ns(dir, PHASES[phase], S::ID, since)
                .map_or(f64::NAN, |t| t / ops(w, phase) as f64)
        });
        Row {
            name: S::NAME,
            ns,
            checked,
        }
    }

    fn peak_mib(&self) -> f64 {
        self.checked.peak_bytes as f64 / (1024.0 * 1024.0)
    }
}

fn timers_from_env() -> usize {
    std::env::var("GYRE_BENCH_TIMERS")
        .ok()
        .and_then(|v| v.trim().replace('_', "").parse::<usize>().ok())
        .unwrap_or(DEFAULT_TIMERS)
        .max(2)
}

fn main() {
    let malloc_note = pin_malloc_behaviour();
    let mut report = Report::new("timers");
    let w = Workload::new(timers_from_env());
    let dir = results::dir().join("criterion");
    let mut c = Criterion::default()
        .output_directory(&dir)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_secs(1))
        .configure_from_args();
    let since = SystemTime::now();
    let gyre = bench::<Gyre>(&mut c, &w).map(|k| Row::new::<Gyre>(&w, &dir, since, k));
    let heap = bench::<Heap>(&mut c, &w).map(|k| Row::new::<Heap>(&w, &dir, since, k));
    let delay = bench::<Delay>(&mut c, &w).map(|k| Row::new::<Delay>(&w, &dir, since, k));
    c.final_summary();
    if gyre.is_none() && heap.is_none() && delay.is_none() {
        return; // nothing ran (`--list`, or a filter that matches nothing)
    }

    report.line(format!(
        "#### Timers: {} scheduled at random deadlines in 1 s, {} cancelled, {} fired \
         (criterion medians; allocations and peak memory from one counted run; {malloc_note})\n",
        w.n(),
        w.cancel_order.len(),
        w.to_fire()
    ));
    report.line("| structure | ns/schedule | ns/cancel | ns/fire | allocations (schedule / cancel / fire) | peak MiB |");
    report.line("|---|---:|---:|---:|---:|---:|");
    for row in [&gyre, &heap, &delay].into_iter().flatten() {
        let [s, c, f] = row.ns;
        let [a0, a1, a2] = row.checked.allocs;
        report.line(format!(
            "| {} | {s:.1} | {c:.1} | {f:.1} | {a0} / {a1} / {a2} | {:.1} |",
            row.name,
            row.peak_mib()
        ));
    }
    report.line(
        "\n| ratio (< 1: the first is faster / smaller) | schedule | cancel | fire | memory |",
    );
    report.line("|---|---:|---:|---:|---:|");
    for (label, a, b) in [
        ("gyre / BinaryHeap", &gyre, &heap),
        ("DelayQueue / gyre", &delay, &gyre),
    ] {
        if let (Some(a), Some(b)) = (a, b) {
            let r = |i: usize| a.ns[i] / b.ns[i];
            report.line(format!(
                "| {label} | {:.2} | {:.2} | {:.2} | {:.2} |",
                r(0),
                r(1),
                r(2),
                a.peak_mib() / b.peak_mib()
            ));
        }
    }
    report.save().expect("write the results");
}
