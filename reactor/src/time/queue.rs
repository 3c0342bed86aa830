//! [`TimerQueue`]: the data structure under every timer, pure and generic.
//!
//! A 4-ary min-heap of `(deadline, seq)` keys next to a slab of pending entries.
//!
//! * **Schedule** pushes one heap item: O(log n), usually O(1) (random deadlines sift up about
//!   one level on average).
//! * **Cancel** frees the slab slot in O(1) and leaves the heap item behind as garbage; an item
//!   is live only while its slot still holds a pending entry with the same `seq` and deadline.
//! * **Reschedule** (`reset`, `delay`) pushes a fresh item with the entry's *original* `seq`,
//!   so calls with equal deadlines keep firing in the order they were first scheduled.
//! * **Garbage is bounded**: when the heap holds more than `2 × live + 64` items, one O(n)
//!   pass drops the dead ones. That happens at most once per `live + 64` cancels, so cancel
//!   stays O(1) amortized and endless schedule/cancel churn cannot grow memory (the failure
//!   calloop and others hit with tombstones that were never collected).
//! * **Fire** pops the root: O(log n).
//!
//! Ids are `(slot, seq)`: `seq` is unique for the life of the queue, so an id held after its
//! call ended can never touch a newer call that reuses the slot.
//!
//! Time is plain `u64` ticks here (the [`Timers`](super::Timers) wrapper uses nanoseconds since
//! its creation); the queue has no clock of its own.

use std::fmt;

/// Identifies one scheduled entry of a [`TimerQueue`]; stale ids are recognised, never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerId {
    slot: u32,
    seq: u64,
}

impl TimerId {
    /// The entry's scheduling sequence number: unique per queue, increasing with each schedule.
    pub fn seq(&self) -> u64 {
        self.seq
    }
}

#[derive(Clone, Copy)]
struct Item {
    deadline: u64,
    seq: u64,
    slot: u32,
}

impl Item {
    #[inline]
    fn before(&self, other: &Item) -> bool {
        (self.deadline, self.seq) < (other.deadline, other.seq)
    }
}

enum Slot<C> {
    Pending { deadline: u64, seq: u64, payload: C },
    Free { next: u32 },
}

const NO_SLOT: u32 = u32::MAX;
const ARITY: usize = 4;
/// Garbage items tolerated on top of the live count before a compaction.
const GARBAGE_SLACK: usize = 64;

/// A priority queue of payloads keyed by deadline, with O(1) amortized cancel and bounded
/// garbage. Equal deadlines come out in scheduling order.
///
/// ```
/// use gyre_reactor::time::TimerQueue;
/// let mut q = TimerQueue::new();
/// let a = q.schedule(20, "a");
/// q.schedule(10, "b");
/// q.schedule(20, "c");
/// assert_eq!(q.cancel(a), Some("a"));
/// assert_eq!(q.cancel(a), None); // stale id
/// let fired: Vec<_> = std::iter::from_fn(|| q.pop_due(25, u64::MAX).map(|(_, p)| p)).collect();
/// assert_eq!(fired, ["b", "c"]);
/// ```
pub struct TimerQueue<C> {
    heap: Vec<Item>,
    slots: Vec<Slot<C>>,
    free: u32,
    live: usize,
    next_seq: u64,
}

impl<C> Default for TimerQueue<C> {
    fn default() -> Self {
        TimerQueue::new()
    }
}

impl<C> TimerQueue<C> {
    /// An empty queue.
    pub fn new() -> TimerQueue<C> {
        TimerQueue::with_capacity(0)
    }

    /// An empty queue with room for `n` entries before it reallocates.
    pub fn with_capacity(n: usize) -> TimerQueue<C> {
        TimerQueue {
            heap: Vec::with_capacity(n),
            slots: Vec::with_capacity(n),
            free: NO_SLOT,
            live: 0,
            next_seq: 0,
        }
    }

    /// Number of pending entries.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether no entry is pending.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Heap items held, live and garbage: never more than `2 × len() + 64` after an operation.
    pub fn stored(&self) -> usize {
        self.heap.len()
    }

    /// The `seq` the next scheduled entry will get. Pass it to [`pop_due`](Self::pop_due) to
    /// leave out entries scheduled from now on (the reactor's "next pass" rule).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Adds an entry due at `deadline`.
    pub fn schedule(&mut self, deadline: u64, payload: C) -> TimerId {
        let seq = self.next_seq;
        self.next_seq += 1;
        let entry = Slot::Pending {
            deadline,
            seq,
            payload,
        };
        let slot = if self.free != NO_SLOT {
            let slot = self.free;
            match std::mem::replace(&mut self.slots[slot as usize], entry) {
                Slot::Free { next } => self.free = next,
                Slot::Pending { .. } => unreachable!("free list points at a pending slot"),
            }
            slot
        } else {
            let slot = u32::try_from(self.slots.len()).expect("more than 4 billion pending timers");
            assert!(slot != NO_SLOT, "more than 4 billion pending timers");
            self.slots.push(entry);
            slot
        };
        self.live += 1;
        self.push(Item {
            deadline,
            seq,
            slot,
        });
        TimerId { slot, seq }
    }

    /// Removes a pending entry and returns its payload; `None` if the id is stale.
    pub fn cancel(&mut self, id: TimerId) -> Option<C> {
        if !self.is_pending(id) {
            return None;
        }
        let payload = self.release(id.slot);
        self.maybe_compact();
        Some(payload)
    }

    /// Moves a pending entry to a new deadline, keeping its place among equal deadlines.
    /// Returns false if the id is stale.
    pub fn reschedule(&mut self, id: TimerId, new_deadline: u64) -> bool {
        let Some(Slot::Pending { deadline, seq, .. }) = self.slots.get_mut(id.slot as usize) else {
            return false;
        };
        if *seq != id.seq {
            return false;
        }
        if *deadline != new_deadline {
            *deadline = new_deadline;
            self.push(Item {
                deadline: new_deadline,
                seq: id.seq,
                slot: id.slot,
            });
            self.maybe_compact();
        }
        true
    }

    /// The deadline of a pending entry.
    pub fn deadline(&self, id: TimerId) -> Option<u64> {
        match self.slots.get(id.slot as usize) {
            Some(Slot::Pending { deadline, seq, .. }) if *seq == id.seq => Some(*deadline),
            _ => None,
        }
    }

    /// The payload of a pending entry.
    pub fn get(&self, id: TimerId) -> Option<&C> {
        match self.slots.get(id.slot as usize) {
            Some(Slot::Pending { seq, payload, .. }) if *seq == id.seq => Some(payload),
            _ => None,
        }
    }

    /// Whether the id names a pending entry.
    pub fn is_pending(&self, id: TimerId) -> bool {
        self.deadline(id).is_some()
    }

    /// The earliest deadline among pending entries.
    pub fn next_deadline(&mut self) -> Option<u64> {
        self.drop_dead_root();
        self.heap.first().map(|item| item.deadline)
    }

    /// Removes and returns the earliest entry if its deadline is `<= now` and it was scheduled
    /// before `scheduled_before` (a [`next_seq`](Self::next_seq) value; `u64::MAX` for any).
    pub fn pop_due(&mut self, now: u64, scheduled_before: u64) -> Option<(TimerId, C)> {
        self.drop_dead_root();
        let root = *self.heap.first()?;
        if root.deadline > now || root.seq >= scheduled_before {
            return None;
        }
        self.pop_root();
        let payload = self.release(root.slot);
        Some((
            TimerId {
                slot: root.slot,
                seq: root.seq,
            },
            payload,
        ))
    }

    /// Every pending entry as `(id, deadline, payload)`, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (TimerId, u64, &C)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(slot, s)| match s {
                Slot::Pending {
                    deadline,
                    seq,
                    payload,
                } => Some((
                    TimerId {
                        slot: slot as u32,
                        seq: *seq,
                    },
                    *deadline,
                    payload,
                )),
                Slot::Free { .. } => None,
            })
    }

    /// Frees a pending slot and returns its payload.
    fn release(&mut self, slot: u32) -> C {
        let old = std::mem::replace(
            &mut self.slots[slot as usize],
            Slot::Free { next: self.free },
        );
        self.free = slot;
        self.live -= 1;
        match old {
            Slot::Pending { payload, .. } => payload,
            Slot::Free { .. } => unreachable!("released a free slot"),
        }
    }

    #[inline]
    fn is_live(&self, item: &Item) -> bool {
        matches!(&self.slots[item.slot as usize],
            Slot::Pending { deadline, seq, .. } if *seq == item.seq && *deadline == item.deadline)
    }

    fn drop_dead_root(&mut self) {
        while let Some(root) = self.heap.first() {
            if self.is_live(root) {
                return;
            }
            self.pop_root();
        }
    }

    fn maybe_compact(&mut self) {
        if self.heap.len() > 2 * self.live + GARBAGE_SLACK {
            let mut heap = std::mem::take(&mut self.heap);
            heap.retain(|item| self.is_live(item));
            self.heap = heap;
            for i in (0..self.heap.len() / ARITY + 1).rev() {
                self.sift_down(i);
            }
        }
    }

    fn push(&mut self, item: Item) {
        self.heap.push(item);
        self.sift_up(self.heap.len() - 1);
    }

    fn pop_root(&mut self) {
        let last = self.heap.pop().expect("pop_root on an empty heap");
        if !self.heap.is_empty() {
            self.heap[0] = last;
            self.sift_down(0);
        }
    }

    fn sift_up(&mut self, mut i: usize) {
        let item = self.heap[i];
        while i > 0 {
            let parent = (i - 1) / ARITY;
            if !item.before(&self.heap[parent]) {
                break;
            }
            self.heap[i] = self.heap[parent];
            i = parent;
        }
        self.heap[i] = item;
    }

    fn sift_down(&mut self, mut i: usize) {
        let len = self.heap.len();
        if i >= len {
            return;
        }
        let item = self.heap[i];
        loop {
            let first = ARITY * i + 1;
            if first >= len {
                break;
            }
            let last = (first + ARITY).min(len);
            let mut best = first;
            for c in first + 1..last {
                if self.heap[c].before(&self.heap[best]) {
                    best = c;
                }
            }
            if !self.heap[best].before(&item) {
                break;
            }
            self.heap[i] = self.heap[best];
            i = best;
        }
        self.heap[i] = item;
    }
}

impl<C> fmt::Debug for TimerQueue<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerQueue")
            .field("pending", &self.live)
            .field("stored", &self.heap.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
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
}
