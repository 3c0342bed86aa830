//! The three structures under test, each behind the same four phases: schedule every
//! deadline, cancel the cancel set, move the clock past the horizon (not timed), fire what is
//! due. The phases are separate functions, never inlined, so that a profiler (callgrind) can
//! tell them apart; the queues' own methods still inline into them as they would in a caller.

use std::hint::black_box;
use std::time::Duration;

use gyre::time::{TimerId, TimerQueue};
use tokio::runtime::Runtime;
use tokio_util::time::DelayQueue;
use tokio_util::time::delay_queue::Key;

use crate::heap::{HeapHandle, HeapQueue};
use crate::workload::HORIZON;

/// One structure, as the bench drives it.
pub trait Subject {
    /// Its name in criterion's ids (`schedule/gyre`) and in `--bench timers -- NAME` filters.
    const ID: &'static str;
    /// Its name in the tables.
    const NAME: &'static str;
    /// Whether it must fire in (deadline, scheduling order).
    const ORDERED: bool;
    /// What it runs in, made before the queue and outside every measurement.
    type Env;
    /// The queue.
    type Queue;
    /// What `schedule` hands back, to cancel with.
    type Handle;

    /// Its environment.
    fn env() -> Self::Env;
    /// An empty queue.
    fn new(env: &Self::Env) -> Self::Queue;
    /// Schedules every deadline, payload `i` for `deadlines[i]`, pushing the handles.
    fn schedule(
        env: &Self::Env,
        q: &mut Self::Queue,
        deadlines: &[u64],
        ids: &mut Vec<Self::Handle>,
    );
    /// Cancels `ids[i]` for each `i` of `order`: how many were pending and their payload sum.
    fn cancel(
        env: &Self::Env,
        q: &mut Self::Queue,
        order: &[u32],
        ids: &[Self::Handle],
    ) -> (usize, u64);
    /// Moves its clock past every deadline (not timed).
    fn advance(_env: &Self::Env, _q: &mut Self::Queue) {}
    /// Takes out everything due, pushing the payloads in firing order.
    fn fire(env: &Self::Env, q: &mut Self::Queue, fired: &mut Vec<u64>);
    /// Whether it ended empty.
    fn is_empty(q: &Self::Queue) -> bool;
}

/// `gyre::time::TimerQueue<u64>`, deadlines in nanoseconds, fired with `pop_due`.
pub struct Gyre;

impl Subject for Gyre {
    const ID: &'static str = "gyre";
    const NAME: &'static str = "gyre TimerQueue";
    const ORDERED: bool = true;
    type Env = ();
    type Queue = TimerQueue<u64>;
    type Handle = TimerId;

    fn env() {}

    fn new(_: &()) -> TimerQueue<u64> {
        TimerQueue::new()
    }

    #[inline(never)]
    fn schedule(_: &(), q: &mut TimerQueue<u64>, deadlines: &[u64], ids: &mut Vec<TimerId>) {
        for (i, &d) in deadlines.iter().enumerate() {
            ids.push(q.schedule(black_box(d), i as u64));
        }
    }

    #[inline(never)]
    fn cancel(_: &(), q: &mut TimerQueue<u64>, order: &[u32], ids: &[TimerId]) -> (usize, u64) {
        sum_some(order.iter().map(|&i| q.cancel(ids[i as usize])))
    }

    #[inline(never)]
    fn fire(_: &(), q: &mut TimerQueue<u64>, fired: &mut Vec<u64>) {
        while let Some((_, p)) = q.pop_due(black_box(HORIZON), u64::MAX) {
            fired.push(p);
        }
    }

    fn is_empty(q: &TimerQueue<u64>) -> bool {
        q.is_empty()
    }
}

/// The `BinaryHeap` + slab baseline (`heap.rs`).
pub struct Heap;

impl Subject for Heap {
    const ID: &'static str = "heap";
    const NAME: &'static str = "BinaryHeap + slab";
    const ORDERED: bool = true;
    type Env = ();
    type Queue = HeapQueue;
    type Handle = HeapHandle;

    fn env() {}

    fn new(_: &()) -> HeapQueue {
        HeapQueue::new()
    }

    #[inline(never)]
    fn schedule(_: &(), q: &mut HeapQueue, deadlines: &[u64], ids: &mut Vec<HeapHandle>) {
        for (i, &d) in deadlines.iter().enumerate() {
            ids.push(q.schedule(black_box(d), i as u64));
        }
    }

    #[inline(never)]
    fn cancel(_: &(), q: &mut HeapQueue, order: &[u32], ids: &[HeapHandle]) -> (usize, u64) {
        sum_some(order.iter().map(|&i| q.cancel(ids[i as usize])))
    }

    #[inline(never)]
    fn fire(_: &(), q: &mut HeapQueue, fired: &mut Vec<u64>) {
        while let Some(p) = q.pop_due(black_box(HORIZON)) {
            fired.push(p);
        }
    }

    fn is_empty(q: &HeapQueue) -> bool {
        q.is_empty()
    }
}

/// `tokio_util::time::DelayQueue<u64>` on a paused current-thread runtime: `insert` with a
/// `Duration`, `remove` to cancel, `tokio::time::advance` past the horizon (not timed), then
/// `poll_expired` until the queue is exhausted.
pub struct Delay;

impl Subject for Delay {
    const ID: &'static str = "delayqueue";
    const NAME: &'static str = "tokio-util DelayQueue";
    const ORDERED: bool = false;
    type Env = Runtime;
    type Queue = DelayQueue<u64>;
    type Handle = Key;

    fn env() -> Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("tokio runtime")
    }

    fn new(_: &Runtime) -> DelayQueue<u64> {
        DelayQueue::new()
    }

    /// Inside the runtime: `insert` reads tokio's paused clock.
    #[inline(never)]
    fn schedule(rt: &Runtime, q: &mut DelayQueue<u64>, deadlines: &[u64], keys: &mut Vec<Key>) {
        let _inside = rt.enter();
        for (i, &d) in deadlines.iter().enumerate() {
            keys.push(q.insert(i as u64, Duration::from_nanos(black_box(d))));
        }
    }

    #[inline(never)]
    fn cancel(rt: &Runtime, q: &mut DelayQueue<u64>, order: &[u32], keys: &[Key]) -> (usize, u64) {
        let _inside = rt.enter();
        sum_some(
            order
                .iter()
                .map(|&i| Some(q.remove(&keys[i as usize]).into_inner())),
        )
    }

    /// DelayQueue rounds deadlines up to the millisecond: 2 ms past the horizon.
    fn advance(rt: &Runtime, _: &mut DelayQueue<u64>) {
        rt.block_on(tokio::time::advance(
            Duration::from_nanos(HORIZON) + Duration::from_millis(2),
        ));
    }

    /// Drained inside `block_on`, which turns tokio's timer driver when a poll is pending.
    #[inline(never)]
    fn fire(rt: &Runtime, q: &mut DelayQueue<u64>, fired: &mut Vec<u64>) {
        rt.block_on(async {
            while let Some(expired) = std::future::poll_fn(|cx| q.poll_expired(cx)).await {
                fired.push(expired.into_inner());
            }
        });
    }

    fn is_empty(q: &DelayQueue<u64>) -> bool {
        q.is_empty()
    }
}

/// How many of `payloads` are `Some`, and their sum.
fn sum_some(payloads: impl Iterator<Item = Option<u64>>) -> (usize, u64) {
    payloads
        .flatten()
        .fold((0, 0), |(n, sum), p| (n + 1, sum + p))
}
