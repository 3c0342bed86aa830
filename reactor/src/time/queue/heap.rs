//! The 4-ary min-heap of [`Item`]s: one type for both `ready` and `far`.
//!
//! An item is one placement of an entry, `(deadline, seq, slot)`, ordered by `(deadline,
//! seq)` compared as one `u128`: the full order, with no rounding, which is what makes
//! equal deadlines fire in scheduling order. The heap knows nothing of slots or liveness:
//! `super::regions` pops dead roots as it meets them, and `super::garbage` filters the
//! whole heap with [`MinHeap::retain`]. [`MinHeap::restore_from`] takes a whole bucket
//! appended at once (see `TimerQueue::move_bucket`).

/// A heap item: one placement of an entry, ordered by `(deadline, seq)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Item {
    pub(super) deadline: u64,
    pub(super) seq: u64,
    pub(super) slot: u32,
}

impl Item {
    /// `(deadline, seq)` as one number, so that comparing two items is one wide comparison.
    #[inline]
    fn key(&self) -> u128 {
        (u128::from(self.deadline) << 64) | u128::from(self.seq)
    }

    #[inline]
    pub(super) fn before(&self, other: &Item) -> bool {
        self.key() < other.key()
    }
}

const ARITY: usize = 4;
/// Spare capacity a heap may keep after a compaction, in items.
const KEEP: usize = 64;

/// A 4-ary min-heap of items, ordered by `(deadline, seq)`.
#[derive(Default)]
pub(super) struct MinHeap {
    pub(super) items: Vec<Item>,
}

impl MinHeap {
    pub(super) fn len(&self) -> usize {
        self.items.len()
    }

    pub(super) fn top(&self) -> Option<&Item> {
        self.items.first()
    }

    pub(super) fn push(&mut self, item: Item) {
        self.items.push(item);
        self.sift_up(self.items.len() - 1);
    }

    /// Removes the root. Bottom-up: the hole left by the root sinks to a leaf along the
    /// smaller children (a branch-free choice among four), then the last item fills it and
    /// sifts up, usually not far since it came from the bottom.
    pub(super) fn pop(&mut self) {
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
    pub(super) fn restore_from(&mut self, start: usize) {
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
    pub(super) fn retain(&mut self, keep: impl FnMut(&Item) -> bool) {
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
