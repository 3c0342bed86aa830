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

use std::fmt;
use std::num::NonZeroU64;

/// Identifies one scheduled entry of a [`TimerQueue`]; stale ids are recognised, never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerId {
    slot: u32,
    seq: u64,
}

impl TimerId {
    /// An id that names no entry of any queue.
    pub(crate) const STALE: TimerId = TimerId {
        slot: u32::MAX,
        seq: u64::MAX,
    };

    /// The entry's scheduling sequence number: unique per queue, increasing with each schedule.
    pub fn seq(&self) -> u64 {
        self.seq
    }
}

/// A heap item: one placement of an entry, ordered by `(deadline, seq)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Item {
    deadline: u64,
    seq: u64,
    slot: u32,
}

impl Item {
    /// `(deadline, seq)` as one number, so that comparing two items is one wide comparison.
    #[inline]
    fn key(&self) -> u128 {
        (u128::from(self.deadline) << 64) | u128::from(self.seq)
    }

    #[inline]
    fn before(&self, other: &Item) -> bool {
        self.key() < other.key()
    }
}

/// A ring item in 12 bytes: the deadline is `(bucket << SHIFT) | offset`, the bucket being
/// implied by where the entry is stored, and only the low 32 bits of `seq` are kept. The
/// full item is rebuilt from the slot when the bucket is moved.
#[derive(Clone, Copy)]
struct Entry {
    slot: u32,
    offset: u32,
    seq_low: u32,
}

impl Entry {
    #[inline]
    fn new(item: &Item) -> Entry {
        Entry {
            slot: item.slot,
            offset: (item.deadline & ((1 << SHIFT) - 1)) as u32,
            seq_low: item.seq as u32,
        }
    }

    /// The item this entry stands for, if its slot still holds a pending entry with this
    /// deadline and these low `seq` bits (see the module docs on why that is enough).
    #[inline]
    fn live_item<C>(self, slots: &[Slot<C>], bucket_start: u64) -> Option<Item> {
        let deadline = bucket_start | u64::from(self.offset);
        let Slot::Pending {
            deadline: d, seq, ..
        } = &slots[self.slot as usize]
        else {
            return None;
        };
        let seq = seq.get();
        let item = Item {
            deadline,
            seq,
            slot: self.slot,
        };
        (*d == deadline && seq as u32 == self.seq_low).then_some(item)
    }
}

enum Slot<C> {
    Pending {
        deadline: u64,
        seq: StoredSeq,
        payload: C,
    },
    Free {
        next: u32,
    },
}

/// A `seq` as the slab stores it: `seq + 1`, never zero. That zero gives `Slot` a niche for
/// its tag, so a slot takes 24 bytes instead of 32 when the payload is 8 bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
struct StoredSeq(NonZeroU64);

impl StoredSeq {
    #[inline]
    fn new(seq: u64) -> StoredSeq {
        StoredSeq(NonZeroU64::MIN.saturating_add(seq))
    }

    #[inline]
    fn get(self) -> u64 {
        self.0.get() - 1
    }
}

const NO_SLOT: u32 = u32::MAX;
const ARITY: usize = 4;
/// Garbage items tolerated on top of the live count before a compaction.
const GARBAGE_SLACK: usize = 64;
/// A bucket spans `2^SHIFT` ticks (about 1.05 ms of nanoseconds).
const SHIFT: u32 = 20;
/// Buckets in the ring: the window is `RING << SHIFT` ticks (about 4.4 s of nanoseconds).
const RING: usize = 4096;
const WORDS: usize = RING / 64;
/// Spare capacity a heap may keep after a compaction, in items.
const KEEP: usize = 64;

/// Where the earliest item sits.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Region {
    Ready,
    Far,
}

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

    /// Stores a pending entry in a free slot (or a new one) and returns the slot.
    fn occupy(&mut self, entry: Slot<C>) -> u32 {
        if self.free == NO_SLOT {
            let slot = u32::try_from(self.slots.len()).expect("more than 4 billion pending timers");
            assert!(slot != NO_SLOT, "more than 4 billion pending timers");
            self.slots.push(entry);
            return slot;
        }
        let slot = self.free;
        match std::mem::replace(&mut self.slots[slot as usize], entry) {
            Slot::Free { next } => self.free = next,
            Slot::Pending { .. } => unreachable!("free list points at a pending slot"),
        }
        slot
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

    /// Puts an item in the region its bucket belongs to.
    #[inline]
    fn place(&mut self, item: Item) {
        let bucket = item.deadline >> SHIFT;
        // One comparison for `cursor <= bucket < cursor + RING`: below the cursor, the
        // difference wraps around to a huge number.
        if bucket.wrapping_sub(self.cursor) < RING as u64 {
            self.ring.push(bucket, item);
        } else {
            self.place_in_heap(item);
        }
    }

    /// Puts an item that is not for the ring in `ready` (before the cursor) or `far`.
    #[inline(never)]
    fn place_in_heap(&mut self, item: Item) {
        if item.deadline >> SHIFT < self.cursor {
            self.ready.push(item);
        } else {
            self.far.push(item);
        }
    }

    /// The earliest live item and the heap it is the root of. Ring buckets past `limit` are
    /// left alone: when that leaves the answer uncertain, the answer is later than `limit`'s
    /// bucket anyway.
    fn earliest(&mut self, limit: u64) -> Option<(Item, Region)> {
        self.settle_ready(limit);
        drop_dead_roots(&mut self.far, &self.slots);
        match (self.ready.top(), self.far.top()) {
            (Some(near), Some(far)) if far.before(near) => Some((*far, Region::Far)),
            (Some(near), _) => Some((*near, Region::Ready)),
            (None, Some(far)) => Some((*far, Region::Far)),
            (None, None) => None,
        }
    }

    /// Moves ring buckets into `ready` until its root comes before every ring entry, or the
    /// next bucket is past `limit`.
    fn settle_ready(&mut self, limit: u64) {
        loop {
            drop_dead_roots(&mut self.ready, &self.slots);
            let top = self.ready.top().map(|item| item.deadline);
            if top.is_some_and(|d| d >> SHIFT < self.cursor) {
                return; // before the cursor, so before every ring entry
            }
            let Some(bucket) = self.ring.first_from(self.cursor) else {
                return;
            };
            if bucket > limit || top.is_some_and(|d| d < bucket << SHIFT) {
                return;
            }
            self.move_bucket(bucket);
        }
    }

    /// Moves the first occupied bucket's live entries into `ready`, dropping the dead ones,
    /// and moves the cursor past it unless that would pass the clock.
    fn move_bucket(&mut self, bucket: u64) {
        let start = bucket << SHIFT;
        let before = self.ready.len();
        let (items, slots) = (&mut self.ready.items, &self.slots);
        self.ring.drain(bucket, |entries| {
            items.extend(entries.iter().filter_map(|e| e.live_item(slots, start)));
        });
        self.ready.restore_from(before);
        if bucket <= self.clock {
            self.cursor = bucket + 1;
        }
    }

    /// Lets the ring's window follow the clock: moves the cursor up to the clock's bucket + 1,
    /// never past an occupied bucket.
    fn follow_clock(&mut self) {
        let target = self.clock + 1;
        if target > self.cursor {
            let first = self.ring.first_from(self.cursor).unwrap_or(u64::MAX);
            self.cursor = target.min(first);
        }
    }

    /// Keeps `stored() <= 2 × live + GARBAGE_SLACK`. Moving the next bucket drops its garbage
    /// at no extra cost (it has to move some day), so that is tried first; only if that is not
    /// enough does one pass drop the dead items everywhere.
    #[inline]
    fn maybe_compact(&mut self) {
        if self.over_budget() {
            self.collect_garbage();
        }
    }

    #[cold]
    fn collect_garbage(&mut self) {
        if let Some(bucket) = self.ring.first_from(self.cursor) {
            self.move_bucket(bucket);
            if !self.over_budget() {
                return;
            }
        }
        let slots = &self.slots;
        self.ready.retain(|item| is_live(slots, item));
        self.far.retain(|item| is_live(slots, item));
        self.ring.retain(self.cursor, |entry, start| {
            entry.live_item(slots, start).is_some()
        });
    }

    #[inline]
    fn over_budget(&self) -> bool {
        self.stored() > 2 * self.live + GARBAGE_SLACK
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

/// Whether an item still stands for its entry: same `seq`, same deadline.
#[inline]
fn is_live<C>(slots: &[Slot<C>], item: &Item) -> bool {
    matches!(&slots[item.slot as usize],
        Slot::Pending { deadline, seq, .. } if seq.get() == item.seq && *deadline == item.deadline)
}

/// Pops dead roots until the root is live or the heap is empty.
fn drop_dead_roots<C>(heap: &mut MinHeap, slots: &[Slot<C>]) {
    while let Some(top) = heap.top() {
        if is_live(slots, top) {
            return;
        }
        heap.pop();
    }
}

/// A 4-ary min-heap of items, ordered by `(deadline, seq)`.
#[derive(Default)]
struct MinHeap {
    items: Vec<Item>,
}

impl MinHeap {
    fn len(&self) -> usize {
        self.items.len()
    }

    fn top(&self) -> Option<&Item> {
        self.items.first()
    }

    fn push(&mut self, item: Item) {
        self.items.push(item);
        self.sift_up(self.items.len() - 1);
    }

    /// Removes the root. Bottom-up: the hole left by the root sinks to a leaf along the
    /// smaller children (a branch-free choice among four), then the last item fills it and
    /// sifts up, usually not far since it came from the bottom.
    fn pop(&mut self) {
        let last = self.items.pop().expect("pop on an empty heap");
        let len = self.items.len();
        if len == 0 {
            return;
        }
        let mut hole = 0;
        loop {
            let first = ARITY * hole + 1;
            if first + ARITY > len {
                if first < len {
                    let best = self.min_child(first, len);
                    self.items[hole] = self.items[best];
                    hole = best;
                }
                break;
            }
            let best = self.min_of_four(first);
            self.items[hole] = self.items[best];
            hole = best;
        }
        self.items[hole] = last;
        self.sift_up(hole);
    }

    /// The index of the smallest of the four items from `first`, written so that it compiles
    /// to conditional moves: which child is smallest is a coin toss the CPU cannot predict.
    #[inline]
    fn min_of_four(&self, first: usize) -> usize {
        let four = &self.items[first..first + ARITY];
        let a = usize::from(four[1].before(&four[0]));
        let b = 2 + usize::from(four[3].before(&four[2]));
        let best = if four[b].before(&four[a]) { b } else { a };
        first + best
    }

    /// Restores the heap order after items were appended from index `start` on.
    fn restore_from(&mut self, start: usize) {
        let added = self.items.len() - start;
        if added > start {
            self.heapify();
        } else {
            for i in start..self.items.len() {
                self.sift_up(i);
            }
        }
    }

    /// Keeps the items `keep` accepts, re-heapifies, and frees most of the spare capacity.
    fn retain(&mut self, keep: impl FnMut(&Item) -> bool) {
        self.items.retain(keep);
        if self.items.capacity() > 4 * self.items.len() + KEEP {
            self.items.shrink_to(2 * self.items.len());
        }
        self.heapify();
    }

    fn heapify(&mut self) {
        for i in (0..self.items.len() / ARITY + 1).rev() {
            self.sift_down(i);
        }
    }

    fn sift_up(&mut self, mut i: usize) {
        let item = self.items[i];
        while i > 0 {
            let parent = (i - 1) / ARITY;
            if !item.before(&self.items[parent]) {
                break;
            }
            self.items[i] = self.items[parent];
            i = parent;
        }
        self.items[i] = item;
    }

    /// The index of the smallest item in `first..end`.
    fn min_child(&self, first: usize, end: usize) -> usize {
        (first + 1..end).fold(first, |best, c| {
            if self.items[c].before(&self.items[best]) {
                c
            } else {
                best
            }
        })
    }

    fn sift_down(&mut self, mut i: usize) {
        let len = self.items.len();
        if i >= len {
            return;
        }
        let item = self.items[i];
        loop {
            let first = ARITY * i + 1;
            if first >= len {
                break;
            }
            let best = if first + ARITY <= len {
                self.min_of_four(first)
            } else {
                self.min_child(first, len)
            };
            if !self.items[best].before(&item) {
                break;
            }
            self.items[i] = self.items[best];
            i = best;
        }
        self.items[i] = item;
    }
}

/// `RING` unsorted buckets indexed by `bucket % RING`, with a bitmap of the non-empty ones.
/// It holds buckets `cursor .. cursor + RING` only, so an index names one bucket.
///
/// A bucket is a list of fixed-size chunks taken from one shared pool, newest chunk first;
/// only the newest can be partly filled. Filling a bucket never copies entries, and a
/// drained bucket hands its chunks back for reuse, so the pool never holds more chunks than
/// were ever in use at once: the entries divided by `CHUNK`, plus one partly filled chunk
/// per occupied bucket.
struct Ring {
    /// Per bucket, its newest chunk and how full that is. Allocated on first use: a queue
    /// that never uses the ring costs nothing for it.
    tails: Vec<Tail>,
    occupied: Vec<u64>,
    chunks: Vec<Chunk>,
    /// Chunks free for reuse, linked through `next`.
    free: u32,
    /// Entries in all buckets.
    len: usize,
}

const NIL: u32 = u32::MAX;
/// Entries per chunk: 20 × 12 bytes plus the link, 244 bytes in all.
const CHUNK: usize = 20;

/// A bucket's newest chunk and the entries in it. An empty bucket has no chunk and counts
/// as full, so a push needs one comparison to know it can write in place.
#[derive(Clone, Copy)]
struct Tail {
    chunk: u32,
    fill: u32,
}

const NO_TAIL: Tail = Tail {
    chunk: NIL,
    fill: CHUNK as u32,
};

#[derive(Clone, Copy)]
struct Chunk {
    next: u32,
    entries: [Entry; CHUNK],
}

impl Ring {
    fn new() -> Ring {
        Ring {
            tails: Vec::new(),
            occupied: Vec::new(),
            chunks: Vec::new(),
            free: NIL,
            len: 0,
        }
    }

    #[inline]
    fn push(&mut self, bucket: u64, item: Item) {
        if self.tails.is_empty() {
            self.allocate();
        }
        self.push_entry((bucket % RING as u64) as usize, Entry::new(&item));
    }

    #[inline]
    fn push_entry(&mut self, i: usize, entry: Entry) {
        self.len += 1;
        let tail = self.tails[i];
        if (tail.fill as usize) < CHUNK {
            self.chunks[tail.chunk as usize].entries[tail.fill as usize] = entry;
            self.tails[i].fill += 1;
            return;
        }
        if tail.chunk == NIL {
            self.occupied[i / 64] |= 1 << (i % 64);
        }
        let chunk = self.new_chunk(tail.chunk, entry);
        self.tails[i] = Tail { chunk, fill: 1 };
    }

    #[cold]
    fn allocate(&mut self) {
        self.tails = vec![NO_TAIL; RING];
        self.occupied = vec![0; WORDS];
    }

    /// A chunk holding `first`, linked to `next`: a free one if any, else a new one.
    #[inline(never)]
    fn new_chunk(&mut self, next: u32, first: Entry) -> u32 {
        let chunk = Chunk {
            next,
            entries: [first; CHUNK],
        };
        if self.free == NIL {
            let c = u32::try_from(self.chunks.len()).expect("too many timer chunks");
            if self.chunks.len() == self.chunks.capacity() {
                // Grow by a quarter, not double: the pool is often the largest buffer.
                self.chunks.reserve_exact(self.chunks.len() / 4 + 16);
            }
            self.chunks.push(chunk);
            return c;
        }
        let c = self.free;
        self.free = self.chunks[c as usize].next;
        self.chunks[c as usize] = chunk;
        c
    }

    /// The first non-empty bucket at or after `cursor`.
    fn first_from(&self, cursor: u64) -> Option<u64> {
        if self.len == 0 {
            return None;
        }
        let start = (cursor % RING as u64) as usize;
        let mut w = start / 64;
        let mut bits = self.occupied[w] & (!0 << (start % 64));
        // WORDS + 1 words: the last one is the first again, for the bits below `start`.
        for _ in 0..=WORDS {
            if bits != 0 {
                let i = w * 64 + bits.trailing_zeros() as usize;
                return Some(cursor + ((i + RING - start) % RING) as u64);
            }
            w = (w + 1) % WORDS;
            bits = self.occupied[w];
        }
        unreachable!("ring entries without an occupied bucket")
    }

    /// Empties a bucket, handing its entries to `f` a chunk at a time, and frees its chunks.
    fn drain(&mut self, bucket: u64, f: impl FnMut(&[Entry])) {
        self.drain_index((bucket % RING as u64) as usize, f);
    }

    fn drain_index(&mut self, i: usize, mut f: impl FnMut(&[Entry])) {
        self.occupied[i / 64] &= !(1 << (i % 64));
        let tail = std::mem::replace(&mut self.tails[i], NO_TAIL);
        let (mut c, mut fill) = (tail.chunk, tail.fill as usize);
        while c != NIL {
            let chunk = &mut self.chunks[c as usize];
            f(&chunk.entries[..fill]);
            self.len -= fill;
            fill = CHUNK;
            let next = std::mem::replace(&mut chunk.next, self.free);
            self.free = c;
            c = next;
        }
    }

    /// Keeps the entries `keep` accepts, given with their bucket's first tick.
    fn retain(&mut self, cursor: u64, mut keep: impl FnMut(Entry, u64) -> bool) {
        let start = (cursor % RING as u64) as usize;
        let mut kept = Vec::new();
        for w in 0..self.occupied.len() {
            let mut bits = self.occupied[w];
            while bits != 0 {
                let i = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let bucket_start = (cursor + ((i + RING - start) % RING) as u64) << SHIFT;
                self.drain_index(i, |entries| {
                    kept.extend(entries.iter().filter(|e| keep(**e, bucket_start)));
                });
                kept.drain(..).for_each(|e| self.push_entry(i, e));
            }
        }
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
        let pass: Vec<u32> =
            std::iter::from_fn(|| q.pop_due(30 * MS, mark).map(|(_, p)| p)).collect();
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
}
