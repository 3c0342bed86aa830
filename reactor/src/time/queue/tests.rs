//! Unit tests of [`TimerQueue`]: first its contract (order, FIFO, stale ids, the garbage
//! bound), then the buckets, the cursor and the three regions, ending with a random model
//! check that uses all three. They may look inside (`q.ring`, `q.cursor`, …): this module
//! is a child of `queue`, so it sees the private fields and the `pub(super)` items.

use super::garbage::GARBAGE_SLACK;
use super::ring::{CHUNK, RING, SHIFT};
use super::*;

fn drain(q: &mut TimerQueue<u32>, now: u64) -> Vec<u32> {
    std::iter::from_fn(|| q.pop_due(now, u64::MAX).map(|(_, p)| p)).collect()
}

#[test]
fn fires_in_deadline_order_then_scheduling_order() {
    let mut q = TimerQueue::new();
    for (i, d) in [30, 10, 20, 10, 30, 10].into_iter().enumerate() {
        q.schedule(d, i as u32);
    }
    assert_eq!(drain(&mut q, 15), [1, 3, 5]);
    assert_eq!(drain(&mut q, 100), [2, 0, 4]);
    assert!(q.is_empty());
}

#[test]
fn two_hundred_equal_deadlines_are_fifo() {
    // Twisted's heapq gives [0, 2, 6, 14, 30, …] here (issue #6718); gyre is FIFO.
    let mut q = TimerQueue::new();
    for i in 0..200 {
        q.schedule(5, i);
    }
    assert_eq!(drain(&mut q, 5), (0..200).collect::<Vec<_>>());
}

#[test]
fn cancel_is_exact_and_stale_ids_are_refused() {
    let mut q = TimerQueue::new();
    let a = q.schedule(10, 1);
    let b = q.schedule(10, 2);
    assert_eq!(q.cancel(a), Some(1));
    assert_eq!(q.cancel(a), None);
    assert!(!q.reschedule(a, 3));
    // The freed slot is reused; the old id must not reach the new entry.
    let c = q.schedule(5, 3);
    assert_eq!(c.slot, a.slot);
    assert_eq!(q.cancel(a), None);
    assert_eq!(q.deadline(c), Some(5));
    assert_eq!(drain(&mut q, 10), [3, 2]);
    assert_eq!(q.cancel(b), None);
}

#[test]
fn reschedule_moves_both_ways_and_keeps_fifo_rank() {
    let mut q = TimerQueue::new();
    let a = q.schedule(10, 0);
    let b = q.schedule(20, 1);
    let c = q.schedule(30, 2);
    assert!(q.reschedule(c, 5)); // sooner
    assert!(q.reschedule(a, 40)); // later
    assert!(q.reschedule(b, 40)); // same deadline as a, scheduled after it
    assert_eq!(drain(&mut q, 100), [2, 0, 1]);
    assert_eq!(q.stored(), 0);
}

#[test]
fn reschedule_back_and_forth_fires_once() {
    let mut q = TimerQueue::new();
    let a = q.schedule(10, 7);
    assert!(q.reschedule(a, 20));
    assert!(q.reschedule(a, 10));
    assert_eq!(drain(&mut q, 100), [7]);
    assert_eq!(q.next_deadline(), None);
}

#[test]
fn scheduled_before_holds_back_new_entries() {
    let mut q = TimerQueue::new();
    q.schedule(0, 1);
    let mark = q.next_seq();
    q.schedule(0, 2);
    assert_eq!(q.pop_due(0, mark).map(|(_, p)| p), Some(1));
    assert_eq!(q.pop_due(0, mark), None);
    assert_eq!(q.pop_due(0, q.next_seq()).map(|(_, p)| p), Some(2));
}

#[test]
fn churn_keeps_memory_bounded() {
    let mut q = TimerQueue::new();
    let keep: Vec<_> = (0..10)
        .map(|i| q.schedule(1_000_000 + i, i as u32))
        .collect();
    let mut max_stored = 0;
    for i in 0..1_000_000u64 {
        let id = q.schedule(i % 5000, 0);
        if i % 3 == 0 {
            assert!(q.reschedule(id, i % 7000));
        }
        assert_eq!(q.cancel(id), Some(0));
        max_stored = max_stored.max(q.stored());
    }
    assert!(
        max_stored <= 2 * 11 + GARBAGE_SLACK + 1,
        "heap grew to {max_stored}"
    );
    assert!(q.slots.len() <= 11, "slab grew to {}", q.slots.len());
    assert_eq!(q.len(), 10);
    assert_eq!(drain(&mut q, u64::MAX), (0..10).collect::<Vec<_>>());
    assert!(keep.iter().all(|id| !q.is_pending(*id)));
}

#[test]
fn random_operations_match_a_sorted_list() {
    // A small deterministic xorshift so the test needs no dependency and never flakes.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rnd = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let mut q = TimerQueue::new();
    let mut model: Vec<(u64, u64, TimerId)> = Vec::new(); // (deadline, seq, id)
    let mut now = 0;
    for _ in 0..50_000 {
        match rnd(10) {
            0..=3 => {
                let d = now + rnd(1000);
                let id = q.schedule(d, 0u32);
                model.push((d, id.seq, id));
            }
            4 | 5 if !model.is_empty() => {
                let i = rnd(model.len() as u64) as usize;
                let (_, _, id) = model.swap_remove(i);
                assert!(q.cancel(id).is_some());
            }
            6 if !model.is_empty() => {
                let i = rnd(model.len() as u64) as usize;
                let d = now + rnd(1000);
                model[i].0 = d;
                assert!(q.reschedule(model[i].2, d));
            }
            _ => {
                now += rnd(50);
                model.sort_by_key(|(d, s, _)| (*d, *s));
                let due = model.iter().take_while(|(d, _, _)| *d <= now).count();
                let expected: Vec<TimerId> = model.drain(..due).map(|(_, _, id)| id).collect();
                let got: Vec<TimerId> =
                    std::iter::from_fn(|| q.pop_due(now, u64::MAX).map(|(id, _)| id)).collect();
                assert_eq!(got, expected);
            }
        }
        assert_eq!(q.len(), model.len());
        assert!(q.stored() <= 2 * q.len() + GARBAGE_SLACK + 1);
    }
}

// -----------------------------------------------------------------------------------------
// The buckets, the cursor and the three regions.

/// Ticks in a millisecond and a second when ticks are nanoseconds, as `Timers` uses them.
const MS: u64 = 1_000_000;
const SEC: u64 = 1_000 * MS;

/// A small deterministic xorshift, so the tests need no dependency and never flake.
fn xorshift(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut x = seed;
    move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    }
}

/// Checks the documented garbage bound exactly.
fn assert_bounded<C>(q: &TimerQueue<C>) {
    assert!(
        q.stored() <= 2 * q.len() + GARBAGE_SLACK,
        "stored {} for {} pending",
        q.stored(),
        q.len()
    );
}

#[test]
fn far_deadlines_fire_in_exact_order_among_near_ones() {
    let mut q = TimerQueue::new();
    // Beyond the ring's window (about 4.4 s) when scheduled: these go to `far`.
    q.schedule(100 * SEC, 0);
    q.schedule(10 * SEC, 1);
    q.schedule(10 * SEC + 1, 2);
    // Near ones, some sharing a bucket with nothing, some with each other.
    q.schedule(3 * MS, 3);
    q.schedule(SEC, 4);
    q.schedule(3 * MS, 5);
    assert_eq!(q.far.len(), 3);
    assert_eq!(q.next_deadline(), Some(3 * MS));
    assert_eq!(drain(&mut q, 2 * SEC), [3, 5, 4]);
    // The window follows the clock: 10 s is now near. A near entry with the same deadline
    // as a far one was scheduled later, so it fires after it.
    assert_eq!(drain(&mut q, 8 * SEC), []);
    q.schedule(10 * SEC, 6);
    q.schedule(10 * SEC - 1, 7);
    assert_eq!(q.far.len(), 3);
    assert_eq!(q.ring.len, 2);
    assert_eq!(q.next_deadline(), Some(10 * SEC - 1));
    assert_eq!(drain(&mut q, 10 * SEC), [7, 1, 6]);
    assert_eq!(drain(&mut q, 100 * SEC - 1), [2]);
    assert_eq!(drain(&mut q, u64::MAX), [0]);
    assert!(q.is_empty());
    assert_eq!(q.stored(), 0);
}

#[test]
fn the_cursor_jumps_over_empty_buckets() {
    let mut q = TimerQueue::new();
    let last = (RING as u64 - 1) << SHIFT; // the window's last bucket
    q.schedule(last + 5, 0);
    q.schedule(7, 1);
    q.schedule(last, 2);
    assert_eq!(drain(&mut q, 10), [1]);
    assert_eq!(q.cursor, 1);
    // Thousands of empty buckets lie between; one bitmap scan finds the next occupied one.
    assert_eq!(q.next_deadline(), Some(last));
    assert_eq!(drain(&mut q, last + 5), [2, 0]);
    assert_eq!(q.cursor, (RING as u64 - 1) + 1);
    // The window moved with the cursor: a deadline a whole ring later is near now.
    q.schedule(last + ((RING as u64 - 1) << SHIFT), 3);
    assert_eq!(q.ring.len, 1);
    assert_eq!(drain(&mut q, u64::MAX), [3]);
}

#[test]
fn an_idle_queue_follows_the_clock() {
    let mut q = TimerQueue::<u32>::new();
    assert_eq!(q.pop_due(60 * SEC, u64::MAX).map(|(_, p)| p), None);
    assert_eq!(q.cursor, ((60 * SEC) >> SHIFT) + 1);
    // One second from "now" is in the ring, not in `far`.
    q.schedule(61 * SEC, 0);
    assert_eq!((q.ring.len, q.far.len()), (1, 0));
    assert_eq!(drain(&mut q, 61 * SEC), [0]);
}

#[test]
fn schedules_into_the_past_go_to_ready_and_keep_fifo() {
    let mut q = TimerQueue::new();
    q.schedule(5 * MS, 0);
    q.schedule(30 * MS, 1);
    assert_eq!(drain(&mut q, 12 * MS), [0]);
    // The cursor followed the clock up to the next occupied bucket.
    assert_eq!(q.cursor, ((12 * MS) >> SHIFT) + 1);
    // Bucket numbers below the cursor: straight into `ready`.
    q.schedule(9 * MS, 2);
    q.schedule(MS, 3);
    q.schedule(9 * MS, 4);
    assert_eq!((q.ready.len(), q.ring.len), (3, 1));
    assert_eq!(q.next_deadline(), Some(MS));
    assert_eq!(drain(&mut q, 8 * MS), [3]);
    // The pass mark holds back what was scheduled after it, even when it is due and
    // ties with entries in the pass.
    let mark = q.next_seq();
    q.schedule(9 * MS, 5);
    let pass: Vec<u32> = std::iter::from_fn(|| q.pop_due(30 * MS, mark).map(|(_, p)| p)).collect();
    assert_eq!(pass, [2, 4]);
    assert_eq!(drain(&mut q, 30 * MS), [5, 1]);
}

#[test]
fn next_deadline_may_look_ahead_without_moving_the_window() {
    let mut q = TimerQueue::new();
    q.schedule(3 * SEC, 0);
    assert_eq!(q.next_deadline(), Some(3 * SEC)); // moves that bucket into `ready` early
    assert_eq!(q.cursor, 0);
    // Sooner entries still go to the ring, and still come first.
    q.schedule(SEC, 1);
    q.schedule(2 * SEC, 2);
    assert_eq!(q.ring.len, 2);
    assert_eq!(q.next_deadline(), Some(SEC));
    assert_eq!(drain(&mut q, 3 * SEC), [1, 2, 0]);
}

#[test]
fn reschedule_moves_between_ready_ring_and_far() {
    let mut q = TimerQueue::new();
    let a = q.schedule(50 * MS, 0);
    let b = q.schedule(50 * MS, 1);
    assert_eq!(drain(&mut q, 20 * MS), []);
    let cursor = q.cursor;
    assert!(q.reschedule(a, 30 * SEC)); // ring -> far
    assert_eq!(q.far.len(), 1);
    assert_eq!(q.next_deadline(), Some(50 * MS));
    assert!(q.reschedule(b, 5 * MS)); // ring -> ready (into the past)
    assert_eq!(q.next_deadline(), Some(5 * MS));
    assert!(q.reschedule(a, 5 * MS)); // far -> ready, same deadline as b: seq decides
    assert_eq!(q.deadline(a), Some(5 * MS));
    assert!(q.reschedule(b, SEC)); // ready -> ring
    assert!(q.reschedule(b, 40 * SEC)); // ring -> far
    assert!(q.reschedule(b, 5 * MS)); // far -> ready: a was scheduled first
    assert_bounded(&q);
    assert_eq!(drain(&mut q, 10 * MS), [0, 1]);
    assert_eq!(drain(&mut q, u64::MAX), []);
    assert!(q.cursor >= cursor);
    assert_eq!(q.stored(), 0);
}

#[test]
fn cancelled_entries_never_reach_the_heaps() {
    let mut q = TimerQueue::new();
    let ids: Vec<_> = (0..100).map(|i| q.schedule(MS + i, i as u32)).collect();
    for id in ids.iter().step_by(2) {
        q.cancel(*id);
    }
    assert_eq!(q.stored(), 100);
    assert_eq!(q.next_deadline(), Some(MS + 1));
    assert_eq!(q.ready.len(), 50, "the dead half was dropped while moving");
    assert_eq!(drain(&mut q, 2 * MS).len(), 50);
}

#[test]
fn a_stale_ring_entry_matching_32_bits_of_a_newer_seq_fires_nothing_twice() {
    let mut q = TimerQueue::new();
    let a = q.schedule(5 * MS, 0);
    q.schedule(5 * MS, 1);
    q.cancel(a);
    // Four billion schedules later, a's slot is reused for the same deadline: a's stale
    // ring entry now matches the new entry in the 32 bits of `seq` it keeps.
    q.next_seq = a.seq + (1 << 32);
    let b = q.schedule(5 * MS, 2);
    assert_eq!((b.slot, b.seq as u32), (a.slot, a.seq as u32));
    q.schedule(5 * MS, 3);
    assert_eq!(q.stored(), 4);
    assert_eq!(drain(&mut q, 5 * MS), [1, 2, 3]);
    assert_eq!(q.stored(), 0);
}

#[test]
fn idle_bucket_memory_does_not_grow_across_cycles() {
    let mut rnd = xorshift(0x1234_5678_9ABC_DEF1);
    let mut q = TimerQueue::new();
    let mut now = 0;
    // Chunks in use never exceed one partly filled chunk per occupied bucket plus the
    // full ones; freed chunks are reused before new ones, so the pool stays at the peak.
    let in_use_bound = |q: &TimerQueue<u32>| {
        let occupied: u32 = q.ring.occupied.iter().map(|w| w.count_ones()).sum();
        q.ring.len / CHUNK + occupied as usize
    };
    let mut peak = 0;
    for _ in 0..40 {
        for i in 0..2000 {
            let id = q.schedule(now + rnd(3 * SEC), i);
            if i % 4 == 0 {
                q.cancel(id);
            }
            peak = peak.max(in_use_bound(&q));
        }
        now += SEC;
        while q.pop_due(now, u64::MAX).is_some() {}
        assert_bounded(&q);
    }
    assert!(
        q.ring.chunks.len() <= peak,
        "{} chunks",
        q.ring.chunks.len()
    );
    assert!(q.ready.items.capacity() <= 2 * 2000);
}

/// The model: pending entries by `(deadline, seq)`.
type Model = std::collections::BTreeMap<(u64, u64), TimerId>;

fn check_pop(q: &mut TimerQueue<u64>, model: &mut Model, now: u64, mark: u64) -> bool {
    let expected = model
        .first_key_value()
        .filter(|((d, s), _)| *d <= now && *s < mark)
        .map(|(_, id)| *id);
    let got = q.pop_due(now, mark);
    assert_eq!(
        got.as_ref().map(|(id, _)| *id),
        expected,
        "now {now}, mark {mark}"
    );
    if let Some((id, payload)) = got {
        assert_eq!(payload, id.seq);
        model.pop_first();
        return true;
    }
    false
}

/// A random pending id from `ids` and its index, dropping (and checking) stale ones.
fn pick(
    ids: &mut Vec<TimerId>,
    q: &mut TimerQueue<u64>,
    rnd: &mut impl FnMut(u64) -> u64,
) -> Option<usize> {
    while !ids.is_empty() {
        let i = rnd(ids.len() as u64) as usize;
        if q.is_pending(ids[i]) {
            return Some(i);
        }
        assert!(!q.reschedule(ids[i], 0));
        assert_eq!(q.cancel(ids.swap_remove(i)), None);
    }
    None
}

#[test]
fn random_operations_over_all_three_regions_match_a_model() {
    let mut rnd = xorshift(0x2545_F491_4F6C_DD1D);
    let mut q: TimerQueue<u64> = TimerQueue::new();
    let mut model = Model::new();
    let mut ids: Vec<TimerId> = Vec::new();
    let mut now = 0;
    let mut used = [false; 3]; // ready, ring, far
    // Deadlines from the past up to 100 s ahead, many around the end of the ring's window
    // (about 4.4 s), with many exact ties.
    let deadline = |now: u64, rnd: &mut dyn FnMut(u64) -> u64| match rnd(16) {
        0 | 1 => now.saturating_sub(rnd(50 * MS)),
        2..=4 => now + 4 * SEC + rnd(4 * SEC),
        5 => now + rnd(100 * SEC),
        6..=8 => (now + rnd(2 * SEC)) / MS * MS,
        _ => now + rnd(2 * SEC),
    };
    for step in 0..60_000 {
        // Phases: growth, then mostly cancels and reschedules, which make garbage.
        let op = match (step / 4000) % 3 {
            2 => [0, 5, 5, 5, 6, 6, 6, 6, 7, 8, 8, 9][rnd(12) as usize],
            _ => [0, 0, 0, 0, 0, 5, 5, 6, 7, 8, 8, 8][rnd(12) as usize],
        };
        match op {
            0 => {
                let d = deadline(now, &mut rnd);
                let id = q.schedule(d, q.next_seq());
                model.insert((d, id.seq), id);
                ids.push(id);
            }
            5 => {
                if let Some(i) = pick(&mut ids, &mut q, &mut rnd) {
                    let id = ids.swap_remove(i);
                    model.remove(&(q.deadline(id).unwrap(), id.seq));
                    assert_eq!(q.cancel(id), Some(id.seq));
                }
            }
            6 => {
                if let Some(i) = pick(&mut ids, &mut q, &mut rnd) {
                    let id = ids[i];
                    let d = deadline(now, &mut rnd);
                    model.remove(&(q.deadline(id).unwrap(), id.seq));
                    model.insert((d, id.seq), id);
                    assert!(q.reschedule(id, d));
                }
            }
            7 => {
                let expected = model.first_key_value().map(|((d, _), _)| *d);
                assert_eq!(q.next_deadline(), expected);
            }
            _ => {
                // One reactor pass: a mark, then pops, with new entries scheduled in
                // between that must wait for the next pass.
                now += rnd(if op == 8 { 20 * MS } else { SEC });
                let mark = q.next_seq();
                while check_pop(&mut q, &mut model, now, mark) {
                    if rnd(4) == 0 {
                        let d = now.saturating_sub(rnd(MS));
                        let id = q.schedule(d, q.next_seq());
                        model.insert((d, id.seq), id);
                        ids.push(id);
                    }
                }
            }
        }
        assert_eq!(q.len(), model.len(), "step {step}");
        assert_bounded(&q);
        used[0] |= q.ready.len() > 0;
        used[1] |= q.ring.len > 0;
        used[2] |= q.far.len() > 0;
    }
    assert_eq!(used, [true; 3]);
    while check_pop(&mut q, &mut model, u64::MAX, u64::MAX) {}
    assert!(q.is_empty() && model.is_empty());
}
