//! The baseline: `std`'s `BinaryHeap<Reverse<(deadline, seq, slot)>>` next to a slab of
//! entries; cancel marks the slab entry in O(1), and firing pops and skips the heap items whose
//! entry was cancelled (the textbook timer queue with lazy cancellation).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// One slab entry of the baseline. A heap item `(deadline, seq, slot)` is live while its slot
/// is pending with the same `seq`; freed slots are reused through an intrusive free list.
struct HeapEntry {
    seq: u64,
    payload: u64,
    next_free: u32,
    pending: bool,
}

/// What `schedule` hands back, to cancel with.
#[derive(Clone, Copy)]
pub struct HeapHandle {
    slot: u32,
    seq: u64,
}

const NO_SLOT: u32 = u32::MAX;

/// The baseline queue.
pub struct HeapQueue {
    heap: BinaryHeap<Reverse<(u64, u64, u32)>>,
    slab: Vec<HeapEntry>,
    free: u32,
    next_seq: u64,
}

impl HeapQueue {
    /// An empty queue.
    pub fn new() -> HeapQueue {
        HeapQueue {
            heap: BinaryHeap::new(),
            slab: Vec::new(),
            free: NO_SLOT,
            next_seq: 0,
        }
    }

    /// Adds `payload` due at `deadline`.
    pub fn schedule(&mut self, deadline: u64, payload: u64) -> HeapHandle {
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

    /// Takes a pending timer out; its payload, or `None` if it fired or was cancelled.
    pub fn cancel(&mut self, h: HeapHandle) -> Option<u64> {
        let entry = self.slab.get(h.slot as usize)?;
        if !entry.pending || entry.seq != h.seq {
            return None;
        }
        Some(self.release(h.slot))
    }

    /// True when nothing is left, cancelled leftovers included.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// The payload of the earliest live timer due at `now`, if any.
    pub fn pop_due(&mut self, now: u64) -> Option<u64> {
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
