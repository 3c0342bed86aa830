//! The garbage bound: `stored() <= 2 × len() + GARBAGE_SLACK` after every operation.
//!
//! Cancel and reschedule leave dead items behind (see "Cancel, reschedule and garbage" in
//! the `queue` module docs). The public operations that can leave garbage (`cancel`,
//! `reschedule`, `pop_due`) end with [`maybe_compact`](TimerQueue::maybe_compact): one
//! comparison in the common case. Over the bound, it first moves the next occupied bucket
//! (`super::regions`), which drops that bucket's garbage; only if that is not enough does
//! it filter every region with [`is_live`] and [`Entry::live_item`](super::ring::Entry::live_item).

use super::TimerQueue;
use super::slots::is_live;

/// Garbage items tolerated on top of the live count before a compaction.
pub(super) const GARBAGE_SLACK: usize = 64;

impl<C> TimerQueue<C> {
    /// Keeps `stored() <= 2 × live + GARBAGE_SLACK`. Moving the next bucket drops its garbage
    /// at no extra cost (it has to move some day), so that is tried first; only if that is not
    /// enough does one pass drop the dead items everywhere.
    #[inline]
    pub(super) fn maybe_compact(&mut self) {
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
