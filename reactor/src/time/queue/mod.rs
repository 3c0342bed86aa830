//! [`TimerQueue`]: the data structure under every timer, pure and generic.
//!
//! Time is plain `u64` ticks here (the [`Timers`](super::Timers) wrapper uses nanoseconds
//! since its creation); the queue has no clock of its own. Entries live in a slab (`slots`)
//! and are found again through their ids. To find the *earliest* entry, the queue keeps one
//! small *item* per placement, `(deadline, seq, slot)`, ordered by `(deadline, seq)`, in one
//! of three regions.
//!
//! # Buckets, the cursor and the three regions
//!
//! Ticks are grouped into *buckets* of `2^SHIFT` ticks (about 1 ms of nanoseconds): an
//! item's bucket number is `deadline >> SHIFT`. The `cursor`, a bucket number, splits time:
//!
//! ```text
//!   bucket:      0 ..   cursor   ..   cursor + RING   ..
//!               |  ready  |      ring       |      far       |
//!               | (heap)  | (RING unsorted  |     (heap)     |
//!               |         |    buckets)     |                |
//! ```
//!
//! * **ring**: `RING` buckets (about 4.4 s of nanoseconds), bucket `b` at index `b % RING`.
//!   A bucket is an unsorted list of entries, so scheduling into it is an append, plus one
//!   bit in an occupancy bitmap (one bit per bucket, `RING / 64` words). An entry takes 12
//!   bytes, not an item's 24: its slot, the low `SHIFT` bits of its deadline (the bucket
//!   gives the rest) and the low 32 bits of its `seq`; the full item is rebuilt from the
//!   slot when the bucket is moved. The lists are made of fixed-size chunks from one shared
//!   pool: no
//!   entry is ever copied to grow a bucket, and a drained bucket hands its chunks back, so
//!   the pool only grows to the most chunks the ring ever had in use at once.
//! * **ready**: a 4-ary min-heap. Items whose bucket is below the cursor (due soon, or in
//!   the past) are pushed here, and buckets are moved here from the ring when their turn
//!   comes. It holds about one bucket's worth of items, so it is small and stays in cache.
//! * **far**: a 4-ary min-heap for items at or beyond `cursor + RING` when they are placed.
//!   They stay there until they fire (no migration): the queue compares its root with the
//!   near minimum each time. A queue whose timers are all that far away behaves like a plain
//!   heap.
//!
//! # Finding the earliest entry
//!
//! The ring keeps one invariant: every entry in it has a bucket `>= cursor`, so a deadline
//! of at least `cursor << SHIFT`. So if the ready root's deadline is below that, or below
//! the first tick of the first occupied bucket (found by scanning the bitmap from the
//! cursor), no ring entry can come before it. Otherwise the queue *moves* that first
//! occupied bucket into `ready`: it checks each entry against its slot and drops the dead
//! ones (so cancelled timers never enter a heap), then heapifies, and looks again. The
//! earliest entry is then the smaller of the ready root and the far root.
//!
//! The cursor advances as buckets are moved out, skipping any number of empty ones, but
//! never beyond the bucket after the latest `now` given to [`TimerQueue::pop_due`] (the
//! `clock`). When a pass ends with nothing more due, it is moved up to there (never past an
//! occupied bucket), so the ring's window follows the clock even while the queue is idle.
//! `pop_due` only moves buckets that can hold something due by `now`; `next_deadline`, which
//! has no `now`, may move a later bucket early, but then leaves the cursor where it is.
//!
//! # Exactness and FIFO order
//!
//! Buckets only decide *when* an item reaches a heap, never its order: the heaps compare
//! `(deadline, seq)` in full, with no rounding. A bucket is moved as soon as one of its
//! entries could be the minimum (the test against the bucket's first tick is strict), so
//! when an item is popped, every item that compares before it is already in a heap, and
//! the far root is compared with it. Equal deadlines therefore fire in scheduling order
//! whichever regions their items sat in.
//!
//! A ring entry is checked against its slot with only 32 bits of `seq`. A stale entry
//! passes only if its slot now holds an entry with exactly the same deadline and a `seq`
//! that differs by a multiple of 2^32 (scheduled four billion schedules later). The item
//! rebuilt from the slot is then identical to that entry's own item, so the entry still
//! fires once and in order: the spare copy is found dead when it reaches the root, as is
//! the copy left when an entry is rescheduled away and back to the same deadline.
//!
//! # Cancel, reschedule and garbage
//!
//! * **Cancel** frees the slab slot in O(1) and leaves the item behind as garbage: an item is
//!   live only while its slot still holds a pending entry with the same `seq` and deadline.
//! * **Reschedule** (`reset`, `delay`) places a fresh item with the entry's *original* `seq`,
//!   so calls with equal deadlines keep firing in the order they were first scheduled; the
//!   old item dies the same way.
//! * **Garbage is bounded**: `stored()` (items in all three regions, live or not) never
//!   exceeds `2 × len() + 64` after an operation. Moving a bucket drops its garbage, and a
//!   dead heap root is popped when reached. When an operation leaves the queue over that
//!   bound, it first moves the next occupied bucket early (work that was due anyway); if
//!   that is not enough, one O(n) pass drops every dead item in all regions. Such a pass
//!   leaves no garbage and the next one needs about `(len() + 64) / 2` more operations, so
//!   all of this is O(1) amortized, and endless schedule/cancel churn cannot grow memory
//!   (the failure calloop and others hit with tombstones that were never collected).
//!
//! # Costs
//!
//! * Schedule: O(1) into the ring (an append); O(log n) into `ready` or `far`.
//! * Cancel: O(1) amortized.
//! * Fire: an item is moved once, O(1), then popped from `ready`: O(log b), with b the items
//!   of about one bucket, not of the whole queue. Items placed in `far` pay O(log n), as in
//!   a plain heap.
//! * Memory: one slot per pending entry (24 bytes for an 8-byte payload: the slab stores
//!   `seq + 1` as a `NonZeroU64`, which gives the enum a niche for its tag), plus 12 bytes
//!   per ring entry or 24 per heap item, plus garbage within the bound above. The ring's
//!   fixed part (its bucket table and bitmap, about 33 KiB) is allocated on first use.
//!
//! Ids are `(slot, seq)`: `seq` is unique for the life of the queue, so an id held after its
//! call ended can never touch a newer call that reuses the slot.
//!
//! # The files
//!
//! This file holds [`TimerQueue`] and its public operations. Each operation is a few steps
//! that call the parts below, one role per file, best read in this order:
//!
//! * [`slots`]: the slab. A [`TimerId`] is `(slot, seq)`; a `Slot` holds a pending entry or
//!   a link in the free list (`seq` stored as `StoredSeq`, for the niche). Taking and
//!   freeing a slot, and `is_live`: whether an item still stands for its entry.
//! * [`heap`]: the `Item` `(deadline, seq, slot)` and `MinHeap`, the 4-ary min-heap used
//!   for both `ready` and `far`.
//! * [`ring`]: the ring of buckets: `SHIFT` and `RING`, the 12-byte `Entry`, the chunk pool
//!   and the occupancy bitmap; appending to a bucket, finding the first occupied one,
//!   draining one.
//! * [`regions`]: the cursor at work: `place` sends an item to its region, `earliest` finds
//!   the smaller root after moving buckets into `ready` (`move_bucket`), and `follow_clock`
//!   lets the window follow an idle clock.
//! * [`garbage`]: the garbage bound: `maybe_compact`, called after every operation that can
//!   leave garbage behind.
//! * `tests`: the unit tests, ending with a model check over all three regions.

mod garbage;
mod heap;
mod regions;
mod ring;
mod slots;

#[cfg(test)]
mod tests;

use std::fmt;

use heap::{Item, MinHeap};
use regions::Region;
use ring::{Ring, SHIFT};
use slots::{NO_SLOT, Slot, StoredSeq};

pub use slots::TimerId;

/// A priority queue of payloads keyed by deadline, with O(1) amortized cancel and bounded
/// garbage. Equal deadlines come out in scheduling order.
///
/// ```
/// use gyre::time::TimerQueue;
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
    slots: Vec<Slot<C>>,
    free: u32,
    live: usize,
    next_seq: u64,
    /// First bucket the ring may hold; every ring entry has bucket `>= cursor`.
    cursor: u64,
    /// The bucket of the latest `now` seen by `pop_due`: the cursor never passes `clock + 1`.
    clock: u64,
    /// Items before the cursor, and buckets moved out of the ring.
    ready: MinHeap,
    /// Buckets `cursor .. cursor + RING`.
    ring: Ring,
    /// Items that were beyond the ring's window when placed.
    far: MinHeap,
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

    /// An empty queue with room for `n` entries in its slab before that reallocates (the
    /// buckets grow as they fill).
    pub fn with_capacity(n: usize) -> TimerQueue<C> {
        TimerQueue {
            slots: Vec::with_capacity(n),
            free: NO_SLOT,
            live: 0,
            next_seq: 0,
            cursor: 0,
            clock: 0,
            ready: MinHeap::default(),
            ring: Ring::new(),
            far: MinHeap::default(),
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

    /// Items held in all regions, live and garbage: never more than `2 × len() + 64` after an
    /// operation.
    pub fn stored(&self) -> usize {
        self.ready.len() + self.ring.len + self.far.len()
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
        let slot = self.occupy(Slot::Pending {
            deadline,
            seq: StoredSeq::new(seq),
            payload,
        });
        self.live += 1;
        self.place(Item {
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
        if seq.get() != id.seq {
            return false;
        }
        if *deadline != new_deadline {
            *deadline = new_deadline;
            self.place(Item {
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
            Some(Slot::Pending { deadline, seq, .. }) if seq.get() == id.seq => Some(*deadline),
            _ => None,
        }
    }

    /// The payload of a pending entry.
    pub fn get(&self, id: TimerId) -> Option<&C> {
        match self.slots.get(id.slot as usize) {
            Some(Slot::Pending { seq, payload, .. }) if seq.get() == id.seq => Some(payload),
            _ => None,
        }
    }

    /// Whether the id names a pending entry.
    pub fn is_pending(&self, id: TimerId) -> bool {
        self.deadline(id).is_some()
    }

    /// The earliest deadline among pending entries.
    pub fn next_deadline(&mut self) -> Option<u64> {
        self.earliest(u64::MAX).map(|(item, _)| item.deadline)
    }

    /// Removes and returns the earliest entry if its deadline is `<= now` and it was scheduled
    /// before `scheduled_before` (a [`next_seq`](Self::next_seq) value; `u64::MAX` for any).
    pub fn pop_due(&mut self, now: u64, scheduled_before: u64) -> Option<(TimerId, C)> {
        self.clock = self.clock.max(now >> SHIFT);
        let first = self.earliest(now >> SHIFT);
        let Some((item, region)) =
            first.filter(|(item, _)| item.deadline <= now && item.seq < scheduled_before)
        else {
            self.follow_clock();
            return None;
        };
        match region {
            Region::Ready => self.ready.pop(),
            Region::Far => self.far.pop(),
        }
        let payload = self.release(item.slot);
        self.maybe_compact();
        let id = TimerId {
            slot: item.slot,
            seq: item.seq,
        };
        Some((id, payload))
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
                        seq: seq.get(),
                    },
                    *deadline,
                    payload,
                )),
                Slot::Free { .. } => None,
            })
    }
}

impl<C> fmt::Debug for TimerQueue<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerQueue")
            .field("pending", &self.live)
            .field("stored", &self.stored())
            .field("ready", &self.ready.len())
            .field("ring", &self.ring.len)
            .field("far", &self.far.len())
            .finish()
    }
}
