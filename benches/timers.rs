//! Timer queue benchmark: gyre's [`TimerQueue`] against two baselines, in the same run.
//!
//! The workload: schedule N timers (default 1,000,000) at random deadlines within one second,
//! cancel half of them (a random half, in random order), then jump the clock past one second
//! and take out everything that is due. Every structure gets the same deadlines and the same
//! cancel set, made by a small xorshift generator with a fixed seed.
//!
//! The three structures:
//!
//! 1. `gyre::time::TimerQueue<u64>` (deadlines in nanoseconds, fired with `pop_due`).
//! 2. A baseline: `std::collections::BinaryHeap<Reverse<(deadline, seq, slot)>>` next to a
//!    slab of entries; cancel marks the slab entry in O(1) and firing pops and skips the
//!    heap items whose entry was cancelled.
//! 3. `tokio_util::time::DelayQueue<u64>` on a paused current-thread tokio runtime: `insert`
//!    with a `Duration`, `remove` to cancel, `tokio::time::advance` past one second (not
//!    timed), then `poll_expired` until the queue is exhausted (timed).
//!
//! For each it reports ns per schedule, ns per cancel, ns per fire and the peak heap memory
//! of the run, from a counting global allocator (peak minus the bytes allocated when the run
//! started). Each structure starts from an empty `new()`, so schedule includes growing its
//! storage. The caller's vector of ids (or keys) and the vector of fired payloads are
//! allocated once, before any measurement, and reused, so they are neither counted in the
//! peak nor page-faulted inside a timed loop. "ns per fire" is the drain time divided by the
//! number of timers that fired (half of N), so it includes skipping cancelled leftovers for
//! the two heaps. On glibc, the bench pins malloc's mmap threshold first (see
//! `pin_malloc_behaviour`), so that every run gets fresh pages for its large vectors
//! whatever ran before it.
//!
//! One untimed warm-up round is followed by rounds interleaved as gyre, heap, DelayQueue,
//! gyre, …; the table shows the median of each phase, then the ratios gyre / BinaryHeap and
//! DelayQueue / gyre. After each run (outside the timed regions) the harness checks that
//! exactly the non-cancelled payloads fired, once each, that `cancel` handed back exactly the
//! cancelled ones, and that gyre and the heap fired in (deadline, scheduling order).
//!
//! Run it with:
//!
//! ```text
//! cargo bench -p gyre-benches --bench timers
//! GYRE_BENCH_TIMERS=100000 GYRE_BENCH_ROUNDS=3 cargo bench -p gyre-benches --bench timers   # quick run
//! GYRE_BENCH_ONLY=gyre cargo bench -p gyre-benches --bench timers   # one structure alone, for profiling
//! ```
//!
//! `GYRE_BENCH_TIMERS` sets N (default 1,000,000), as does a bare number on the command line
//! (`cargo bench -p gyre-benches --bench timers -- 100000`); `GYRE_BENCH_ROUNDS` sets the rounds (default 5);
//! `GYRE_BENCH_ONLY` is `gyre`, `heap` or `delayqueue`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use gyre::time::{TimerId, TimerQueue};
use tokio_util::time::DelayQueue;
use tokio_util::time::delay_queue::Key;

/// Deadlines are drawn from `0..HORIZON` nanoseconds.
const HORIZON: u64 = 1_000_000_000;
const DEFAULT_TIMERS: usize = 1_000_000;
const DEFAULT_ROUNDS: usize = 5;
const SEED: u64 = 0x2545_F491_4F6C_DD1D;

// ---------------------------------------------------------------------------------------------
// Counting allocator: the tests' own (bytes now and at the peak).

#[path = "../tests/common/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::{Counting, memory_baseline, memory_peak_since};

#[global_allocator]
static ALLOC: Counting = Counting;

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

// ---------------------------------------------------------------------------------------------
// Workload

/// xorshift64: deterministic, dependency-free, good enough to scatter deadlines.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The same input for every structure and every round.
struct Workload {
    /// `deadlines[i]` is the deadline of the timer whose payload is `i`, in ns from 0.
    deadlines: Vec<u64>,
    /// Payloads to cancel, in the order they are cancelled (a random half).
    cancel_order: Vec<u32>,
    /// `cancelled[i]`: whether payload `i` is cancelled.
    cancelled: Vec<bool>,
    /// Sum of the cancelled payloads, to check what `cancel` hands back.
    cancelled_sum: u64,
}

impl Workload {
    fn new(n: usize) -> Workload {
        assert!(n <= u32::MAX as usize, "N must fit in u32");
        let mut rng = XorShift(SEED);
        let deadlines: Vec<u64> = (0..n).map(|_| rng.below(HORIZON)).collect();
        // Fisher–Yates shuffle of 0..n; the first half is the cancel set, in shuffled order.
        let mut order: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            order.swap(i, j);
        }
        order.truncate(n / 2);
        let mut cancelled = vec![false; n];
        for &i in &order {
            cancelled[i as usize] = true;
        }
        let cancelled_sum = order.iter().map(|&i| u64::from(i)).sum();
        Workload {
            deadlines,
            cancel_order: order,
            cancelled,
            cancelled_sum,
        }
    }

    fn n(&self) -> usize {
        self.deadlines.len()
    }

    fn to_fire(&self) -> usize {
        self.n() - self.cancel_order.len()
    }
}

/// One structure's measurement in one round.
#[derive(Clone, Copy)]
struct Sample {
    schedule_ns: f64,
    cancel_ns: f64,
    fire_ns: f64,
    peak_bytes: usize,
}

/// What a run hands back for checking, outside the timed regions.
struct Outcome {
    sample: Sample,
    /// Number and sum of the payloads `cancel` returned.
    cancel_count: usize,
    cancel_sum: u64,
}

fn per_op(elapsed: Duration, ops: usize) -> f64 {
    elapsed.as_nanos() as f64 / ops.max(1) as f64
}

/// Checks an outcome against the workload; `ordered` also checks firing order.
fn check(name: &str, w: &Workload, out: &Outcome, fired: &[u64], ordered: bool) {
    assert_eq!(out.cancel_count, w.cancel_order.len(), "{name}: cancels");
    assert_eq!(
        out.cancel_sum, w.cancelled_sum,
        "{name}: cancelled payloads"
    );
    assert_eq!(fired.len(), w.to_fire(), "{name}: number fired");
    let mut seen = vec![false; w.n()];
    for &p in fired {
        let p = p as usize;
        assert!(!w.cancelled[p], "{name}: cancelled payload {p} fired");
        assert!(!seen[p], "{name}: payload {p} fired twice");
        seen[p] = true;
    }
    if ordered {
        // Deadline order, ties in scheduling order (payload = scheduling index).
        for pair in fired.windows(2) {
            let a = (w.deadlines[pair[0] as usize], pair[0]);
            let b = (w.deadlines[pair[1] as usize], pair[1]);
            assert!(a < b, "{name}: fired {a:?} before {b:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 1. gyre

// The phases are separate functions, never inlined, so that a profiler (callgrind) can tell
// them apart; the queues' own methods still inline into them as they would in a caller.

#[inline(never)]
fn gyre_schedule(q: &mut TimerQueue<u64>, deadlines: &[u64], ids: &mut Vec<TimerId>) {
    for (i, &d) in deadlines.iter().enumerate() {
        ids.push(q.schedule(black_box(d), i as u64));
    }
}

#[inline(never)]
fn gyre_cancel(q: &mut TimerQueue<u64>, order: &[u32], ids: &[TimerId]) -> (usize, u64) {
    let (mut count, mut sum) = (0, 0u64);
    for &i in order {
        if let Some(p) = q.cancel(ids[i as usize]) {
            count += 1;
            sum += p;
        }
    }
    (count, sum)
}

#[inline(never)]
fn gyre_fire(q: &mut TimerQueue<u64>, now: u64, fired: &mut Vec<u64>) {
    while let Some((_, p)) = q.pop_due(now, u64::MAX) {
        fired.push(p);
    }
}

fn run_gyre(w: &Workload, ids: &mut Vec<TimerId>, fired: &mut Vec<u64>) -> Outcome {
    let phases = Phases {
        schedule: gyre_schedule,
        cancel: gyre_cancel,
        fire: gyre_fire,
        is_empty: |q: &TimerQueue<u64>| q.is_empty(),
    };
    measure(w, ids, fired, TimerQueue::new, phases)
}

/// Cancels the ids in the given order; returns how many were pending and their payload sum.
type CancelPhase<Q, I> = fn(&mut Q, &[u32], &[I]) -> (usize, u64);

/// The three timed phases of one synchronous structure, and how to check it ended empty.
struct Phases<Q, I> {
    schedule: fn(&mut Q, &[u64], &mut Vec<I>),
    cancel: CancelPhase<Q, I>,
    fire: fn(&mut Q, u64, &mut Vec<u64>),
    is_empty: fn(&Q) -> bool,
}

/// Times schedule, cancel and fire on `q` (built inside the memory window) for workload `w`.
fn measure<Q, I>(
    w: &Workload,
    ids: &mut Vec<I>,
    fired: &mut Vec<u64>,
    q: impl FnOnce() -> Q,
    phases: Phases<Q, I>,
) -> Outcome {
    ids.clear();
    fired.clear();
    let base = memory_baseline();
    let mut q = q();

    let t = Instant::now();
    (phases.schedule)(&mut q, &w.deadlines, ids);
    let schedule = t.elapsed();

    let t = Instant::now();
    let (cancel_count, cancel_sum) = (phases.cancel)(&mut q, &w.cancel_order, ids);
    let cancel = t.elapsed();

    let t = Instant::now();
    (phases.fire)(&mut q, black_box(HORIZON), fired);
    let fire = t.elapsed();

    let peak_bytes = memory_peak_since(base);
    assert!((phases.is_empty)(&q));
    drop(q);
    Outcome {
        sample: Sample {
            schedule_ns: per_op(schedule, w.n()),
            cancel_ns: per_op(cancel, w.cancel_order.len()),
            fire_ns: per_op(fire, w.to_fire()),
            peak_bytes,
        },
        cancel_count,
        cancel_sum,
    }
}

// ---------------------------------------------------------------------------------------------
// 2. BinaryHeap baseline

/// One slab entry of the baseline. A heap item `(deadline, seq, slot)` is live while its slot
/// is pending with the same `seq`; freed slots are reused through an intrusive free list.
struct HeapEntry {
    seq: u64,
    payload: u64,
    next_free: u32,
    pending: bool,
}

#[derive(Clone, Copy)]
struct HeapHandle {
    slot: u32,
    seq: u64,
}

const NO_SLOT: u32 = u32::MAX;

/// The textbook timer queue: `std`'s binary heap plus lazy (mark-and-skip) cancellation.
struct HeapQueue {
    heap: BinaryHeap<Reverse<(u64, u64, u32)>>,
    slab: Vec<HeapEntry>,
    free: u32,
    next_seq: u64,
}

impl HeapQueue {
    fn new() -> HeapQueue {
        HeapQueue {
            heap: BinaryHeap::new(),
            slab: Vec::new(),
            free: NO_SLOT,
            next_seq: 0,
        }
    }

    fn schedule(&mut self, deadline: u64, payload: u64) -> HeapHandle {
        let seq = self.next_seq;
        self.next_seq += 1;
        let entry = HeapEntry {
            seq,
            payload,
            next_free: NO_SLOT,
            pending: true,
        };
        let slot = if self.free != NO_SLOT {
            let slot = self.free;
            self.free = self.slab[slot as usize].next_free;
            self.slab[slot as usize] = entry;
            slot
        } else {
            let slot = u32::try_from(self.slab.len()).expect("too many timers");
            self.slab.push(entry);
            slot
        };
        self.heap.push(Reverse((deadline, seq, slot)));
        HeapHandle { slot, seq }
    }

    fn release(&mut self, slot: u32) -> u64 {
        let entry = &mut self.slab[slot as usize];
        entry.pending = false;
        entry.next_free = self.free;
        self.free = slot;
        entry.payload
    }

    fn cancel(&mut self, h: HeapHandle) -> Option<u64> {
        let entry = self.slab.get(h.slot as usize)?;
        if !entry.pending || entry.seq != h.seq {
            return None;
        }
        Some(self.release(h.slot))
    }

    fn pop_due(&mut self, now: u64) -> Option<u64> {
        while let Some(&Reverse((deadline, seq, slot))) = self.heap.peek() {
            let entry = &self.slab[slot as usize];
            if !entry.pending || entry.seq != seq {
                self.heap.pop(); // cancelled: skip
                continue;
            }
            if deadline > now {
                return None;
            }
            self.heap.pop();
            return Some(self.release(slot));
        }
        None
    }
}

#[inline(never)]
fn heap_schedule(q: &mut HeapQueue, deadlines: &[u64], ids: &mut Vec<HeapHandle>) {
    for (i, &d) in deadlines.iter().enumerate() {
        ids.push(q.schedule(black_box(d), i as u64));
    }
}

#[inline(never)]
fn heap_cancel(q: &mut HeapQueue, order: &[u32], ids: &[HeapHandle]) -> (usize, u64) {
    let (mut count, mut sum) = (0, 0u64);
    for &i in order {
        if let Some(p) = q.cancel(ids[i as usize]) {
            count += 1;
            sum += p;
        }
    }
    (count, sum)
}

#[inline(never)]
fn heap_fire(q: &mut HeapQueue, now: u64, fired: &mut Vec<u64>) {
    while let Some(p) = q.pop_due(now) {
        fired.push(p);
    }
}

fn run_heap(w: &Workload, ids: &mut Vec<HeapHandle>, fired: &mut Vec<u64>) -> Outcome {
    let phases = Phases {
        schedule: heap_schedule,
        cancel: heap_cancel,
        fire: heap_fire,
        is_empty: |q: &HeapQueue| q.heap.is_empty(),
    };
    measure(w, ids, fired, HeapQueue::new, phases)
}

// ---------------------------------------------------------------------------------------------
// 3. tokio-util DelayQueue

/// Must run inside the runtime (it reads tokio's paused clock).
#[inline(never)]
fn dq_schedule(q: &mut DelayQueue<u64>, deadlines: &[u64], keys: &mut Vec<Key>) {
    for (i, &d) in deadlines.iter().enumerate() {
        keys.push(q.insert(i as u64, Duration::from_nanos(black_box(d))));
    }
}

#[inline(never)]
fn dq_cancel(q: &mut DelayQueue<u64>, order: &[u32], keys: &[Key]) -> (usize, u64) {
    let (mut count, mut sum) = (0, 0u64);
    for &i in order {
        sum += q.remove(&keys[i as usize]).into_inner();
        count += 1;
    }
    (count, sum)
}

/// Returns the outcome and how many times `poll_expired` answered `Pending` while draining.
fn run_delay_queue(w: &Workload, keys: &mut Vec<Key>, fired: &mut Vec<u64>) -> (Outcome, usize) {
    let n = w.n();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("tokio runtime");
    keys.clear();
    fired.clear();
    let out = rt.block_on(async {
        let base = memory_baseline();
        let mut q: DelayQueue<u64> = DelayQueue::new();

        let t = Instant::now();
        dq_schedule(&mut q, &w.deadlines, keys);
        let schedule = t.elapsed();

        let t = Instant::now();
        let (cancel_count, cancel_sum) = dq_cancel(&mut q, &w.cancel_order, keys);
        let cancel = t.elapsed();

        // Not timed: move the paused clock past every deadline (DelayQueue rounds up to ms).
        tokio::time::advance(Duration::from_nanos(HORIZON) + Duration::from_millis(2)).await;

        let mut pending = 0;
        let t = Instant::now();
        loop {
            let next = std::future::poll_fn(|cx| {
                let poll = q.poll_expired(cx);
                if poll.is_pending() {
                    pending += 1;
                }
                poll
            })
            .await;
            match next {
                Some(expired) => fired.push(expired.into_inner()),
                None => break,
            }
        }
        let fire = t.elapsed();

        let peak_bytes = memory_peak_since(base);
        assert!(q.is_empty());
        drop(q);
        (
            Sample {
                schedule_ns: per_op(schedule, n),
                cancel_ns: per_op(cancel, w.cancel_order.len()),
                fire_ns: per_op(fire, w.to_fire()),
                peak_bytes,
            },
            cancel_count,
            cancel_sum,
            pending,
        )
    });
    let (sample, cancel_count, cancel_sum, pending) = out;
    (
        Outcome {
            sample,
            cancel_count,
            cancel_sum,
        },
        pending,
    )
}

// ---------------------------------------------------------------------------------------------
// Driver

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let m = xs.len() / 2;
    if xs.len() % 2 == 1 {
        xs[m]
    } else {
        (xs[m - 1] + xs[m]) / 2.0
    }
}

/// Per-phase medians over rounds.
struct Summary {
    schedule_ns: f64,
    cancel_ns: f64,
    fire_ns: f64,
    peak_mib: f64,
}

fn summarize(samples: &[Sample]) -> Summary {
    let pick = |f: fn(&Sample) -> f64| median(samples.iter().map(f).collect());
    Summary {
        schedule_ns: pick(|s| s.schedule_ns),
        cancel_ns: pick(|s| s.cancel_ns),
        fire_ns: pick(|s| s.fire_ns),
        peak_mib: pick(|s| s.peak_bytes as f64 / (1024.0 * 1024.0)),
    }
}

fn env_or_arg_timers() -> usize {
    let from_arg = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok());
    let from_env = std::env::var("GYRE_BENCH_TIMERS")
        .ok()
        .and_then(|v| v.trim().replace('_', "").parse::<usize>().ok());
    from_arg.or(from_env).unwrap_or(DEFAULT_TIMERS).max(2)
}

const NAMES: [&str; 3] = [
    "gyre TimerQueue",
    "BinaryHeap + slab",
    "tokio-util DelayQueue",
];

/// The caller's side of a run, kept across rounds so that its pages are already touched: the
/// ids (or keys) returned by schedule and the payloads in firing order.
struct Buffers {
    gyre_ids: Vec<TimerId>,
    heap_ids: Vec<HeapHandle>,
    dq_keys: Vec<Key>,
    fired: Vec<u64>,
}

/// Runs structure `k` once, checks the outcome (untimed) and returns its sample and, for
/// DelayQueue, how many times draining it had to wait for tokio's timer driver.
fn run_one(k: usize, w: &Workload, b: &mut Buffers) -> (Sample, usize) {
    let (out, pending) = match k {
        0 => (run_gyre(w, &mut b.gyre_ids, &mut b.fired), 0),
        1 => (run_heap(w, &mut b.heap_ids, &mut b.fired), 0),
        _ => run_delay_queue(w, &mut b.dq_keys, &mut b.fired),
    };
    check(NAMES[k], w, &out, &b.fired, k < 2);
    (out.sample, pending)
}

fn main() {
    let malloc_note = pin_malloc_behaviour();
    let n = env_or_arg_timers();
    let rounds = std::env::var("GYRE_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(DEFAULT_ROUNDS)
        .max(1);
    // For profiling one structure alone: GYRE_BENCH_ONLY=gyre|heap|delayqueue.
    let only = std::env::var("GYRE_BENCH_ONLY").ok();
    let selected: Vec<usize> = match only.as_deref().map(str::trim) {
        None | Some("") => vec![0, 1, 2],
        Some("gyre") => vec![0],
        Some("heap") => vec![1],
        Some("delayqueue") => vec![2],
        Some(other) => panic!("GYRE_BENCH_ONLY={other}: expected gyre, heap or delayqueue"),
    };
    let w = Workload::new(n);
    println!(
        "timers: {n} scheduled at random deadlines in 1 s, {} cancelled, {} fired; \
         1 warm-up + {rounds} interleaved rounds, medians",
        w.cancel_order.len(),
        w.to_fire()
    );
    println!("  ({malloc_note})");

    let mut buffers = Buffers {
        gyre_ids: Vec::with_capacity(n),
        heap_ids: Vec::with_capacity(n),
        dq_keys: Vec::with_capacity(n),
        fired: Vec::with_capacity(w.to_fire()),
    };
    let mut samples: [Vec<Sample>; 3] = Default::default();
    for round in 0..=rounds {
        for &k in &selected {
            let (s, pending) = run_one(k, &w, &mut buffers);
            let label = if round == 0 {
                "warm-up".to_string()
            } else {
                format!("round {round}")
            };
            println!(
                "  {label:<8} {:<22} schedule {:7.1} ns  cancel {:7.1} ns  fire {:7.1} ns  peak {:6.1} MiB",
                NAMES[k],
                s.schedule_ns,
                s.cancel_ns,
                s.fire_ns,
                s.peak_bytes as f64 / (1024.0 * 1024.0)
            );
            if pending > 0 {
                println!(
                    "{:33}(poll_expired returned Pending {pending} times in the drain)",
                    ""
                );
            }
            if round > 0 {
                samples[k].push(s);
            }
        }
    }

    let summaries: [Option<Summary>; 3] =
        [0, 1, 2].map(|k| (!samples[k].is_empty()).then(|| summarize(&samples[k])));
    println!();
    println!(
        "{:<24} {:>12} {:>10} {:>9} {:>9}",
        "structure (median)", "ns/schedule", "ns/cancel", "ns/fire", "peak MiB"
    );
    for (name, s) in NAMES.iter().zip(&summaries) {
        if let Some(s) = s {
            println!(
                "{:<24} {:>12.1} {:>10.1} {:>9.1} {:>9.1}",
                name, s.schedule_ns, s.cancel_ns, s.fire_ns, s.peak_mib
            );
        }
    }
    println!();
    let ratio = |label: &str, a: &Option<Summary>, b: &Option<Summary>| {
        if let (Some(a), Some(b)) = (a, b) {
            println!(
                "{:<24} {:>12.2} {:>10.2} {:>9.2} {:>9.2}",
                label,
                a.schedule_ns / b.schedule_ns,
                a.cancel_ns / b.cancel_ns,
                a.fire_ns / b.fire_ns,
                a.peak_mib / b.peak_mib
            );
        }
    };
    ratio("gyre / BinaryHeap", &summaries[0], &summaries[1]);
    ratio("DelayQueue / gyre", &summaries[2], &summaries[0]);
}
