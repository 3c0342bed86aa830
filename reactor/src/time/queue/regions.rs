//! The cursor at work: which region an item goes to, and how the earliest item is found.
//!
//! These are the steps the public operations in `mod.rs` are made of (see the module docs
//! there for the picture):
//!
//! * [`place`](TimerQueue::place): one comparison against the cursor sends an item to the
//!   ring, to `ready` (before the cursor) or to `far` (beyond the window).
//! * [`earliest`](TimerQueue::earliest): moves ring buckets into `ready` until its root
//!   comes before every ring entry (`settle_ready`), drops dead roots, and returns the
//!   smaller of the `ready` and `far` roots with the [`Region`] it came from.
//! * [`move_bucket`](TimerQueue::move_bucket): drains one bucket into `ready`, keeping only
//!   live entries, and advances the cursor (never past the clock).
//! * [`follow_clock`](TimerQueue::follow_clock): lets the window follow the clock when a
//!   pass ends with nothing due.

use super::TimerQueue;
use super::heap::{Item, MinHeap};
use super::ring::{RING, SHIFT};
use super::slots::{Slot, is_live};

/// Where the earliest item sits.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Region {
    Ready,
    Far,
}

impl<C> TimerQueue<C> {
    /// Puts an item in the region its bucket belongs to.
    #[inline]
    pub(super) fn place(&mut self, item: Item) {
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
    pub(super) fn earliest(&mut self, limit: u64) -> Option<(Item, Region)> {
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
    pub(super) fn move_bucket(&mut self, bucket: u64) {
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
    pub(super) fn follow_clock(&mut self) {
        let target = self.clock + 1;
        if target > self.cursor {
            let first = self.ring.first_from(self.cursor).unwrap_or(u64::MAX);
            self.cursor = target.min(first);
        }
    }
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
