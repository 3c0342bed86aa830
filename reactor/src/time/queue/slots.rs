//! The slab: where a [`TimerQueue`]'s entries live, and how an id finds its entry again.
//!
//! Each pending entry owns one [`Slot`]: its deadline, its `seq` and its payload. Free slots
//! are linked through `next` from `TimerQueue::free`, so [`occupy`](TimerQueue::occupy) and
//! [`release`](TimerQueue::release) are O(1) and the slab only grows to the most entries
//! ever pending at once. A [`TimerId`] is `(slot, seq)`: `seq` is unique for the life of the
//! queue, so it is the slot's generation, and an id whose `seq` no longer matches is stale.
//!
//! The regions never hold entries, only items ([`Item`] in the heaps,
//! [`Entry`](super::ring::Entry) in the ring) that name a slot. [`is_live`] is the one test
//! of whether an item still stands for its entry; a cancelled or rescheduled entry leaves
//! its old items behind, and that test is how the regions (and `super::garbage`) drop them.

use std::num::NonZeroU64;

use super::TimerQueue;
use super::heap::Item;

/// Identifies one scheduled entry of a [`TimerQueue`]; stale ids are recognised, never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerId {
    pub(super) slot: u32,
    pub(super) seq: u64,
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

/// One slot of the slab: a pending entry, or a link in the list of free slots.
pub(super) enum Slot<C> {
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
pub(super) struct StoredSeq(NonZeroU64);

impl StoredSeq {
    #[inline]
    pub(super) fn new(seq: u64) -> StoredSeq {
        StoredSeq(NonZeroU64::MIN.saturating_add(seq))
    }

    #[inline]
    pub(super) fn get(self) -> u64 {
        self.0.get() - 1
    }
}

/// The end of the free list: no free slot.
pub(super) const NO_SLOT: u32 = u32::MAX;

impl<C> TimerQueue<C> {
    /// Stores a pending entry in a free slot (or a new one) and returns the slot.
    pub(super) fn occupy(&mut self, entry: Slot<C>) -> u32 {
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
    pub(super) fn release(&mut self, slot: u32) -> C {
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
}

/// Whether an item still stands for its entry: same `seq`, same deadline.
#[inline]
pub(super) fn is_live<C>(slots: &[Slot<C>], item: &Item) -> bool {
    matches!(&slots[item.slot as usize],
        Slot::Pending { deadline, seq, .. } if seq.get() == item.seq && *deadline == item.deadline)
}
