//! The ring of buckets: the near future, `RING` buckets of `2^SHIFT` ticks from the cursor.
//!
//! An item bound for the ring is stored as a 12-byte [`Entry`] appended to its bucket's
//! list (the bucket gives the high bits of the deadline), and the bucket's bit is set in
//! the occupancy bitmap. The ring only stores and hands back: it does not know the cursor
//! (callers pass it in), never orders entries, and never checks them. `super::regions`
//! decides what goes in (`TimerQueue::place`) and drains the first occupied bucket into
//! the `ready` heap when its turn comes (`TimerQueue::move_bucket`), checking each entry
//! with [`Entry::live_item`]; `super::garbage` filters it with [`Ring::retain`].

use super::heap::Item;
use super::slots::Slot;

/// A bucket spans `2^SHIFT` ticks (about 1.05 ms of nanoseconds).
pub(super) const SHIFT: u32 = 20;
/// Buckets in the ring: the window is `RING << SHIFT` ticks (about 4.4 s of nanoseconds).
pub(super) const RING: usize = 4096;
const WORDS: usize = RING / 64;

/// A ring item in 12 bytes: the deadline is `(bucket << SHIFT) | offset`, the bucket being
/// implied by where the entry is stored, and only the low 32 bits of `seq` are kept. The
/// full item is rebuilt from the slot when the bucket is moved.
#[derive(Clone, Copy)]
pub(super) struct Entry {
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
    /// deadline and these low `seq` bits (see the `queue` module docs on why that is enough).
    #[inline]
    pub(super) fn live_item<C>(self, slots: &[Slot<C>], bucket_start: u64) -> Option<Item> {
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

/// `RING` unsorted buckets indexed by `bucket % RING`, with a bitmap of the non-empty ones.
/// It holds buckets `cursor .. cursor + RING` only, so an index names one bucket.
///
/// A bucket is a list of fixed-size chunks taken from one shared pool, newest chunk first;
/// only the newest can be partly filled. Filling a bucket never copies entries, and a
/// drained bucket hands its chunks back for reuse, so the pool never holds more chunks than
/// were ever in use at once: the entries divided by `CHUNK`, plus one partly filled chunk
/// per occupied bucket.
pub(super) struct Ring {
    /// Per bucket, its newest chunk and how full that is. Allocated on first use: a queue
    /// that never uses the ring costs nothing for it.
    tails: Vec<Tail>,
    pub(super) occupied: Vec<u64>,
    pub(super) chunks: Vec<Chunk>,
    /// Chunks free for reuse, linked through `next`.
    free: u32,
    /// Entries in all buckets.
    pub(super) len: usize,
}

const NIL: u32 = u32::MAX;
/// Entries per chunk: 20 × 12 bytes plus the link, 244 bytes in all.
pub(super) const CHUNK: usize = 20;

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
pub(super) struct Chunk {
    next: u32,
    entries: [Entry; CHUNK],
}

impl Ring {
    pub(super) fn new() -> Ring {
        Ring {
            tails: Vec::new(),
            occupied: Vec::new(),
            chunks: Vec::new(),
            free: NIL,
            len: 0,
        }
    }

    #[inline]
    pub(super) fn push(&mut self, bucket: u64, item: Item) {
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
    pub(super) fn first_from(&self, cursor: u64) -> Option<u64> {
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
    pub(super) fn drain(&mut self, bucket: u64, f: impl FnMut(&[Entry])) {
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
    pub(super) fn retain(&mut self, cursor: u64, mut keep: impl FnMut(Entry, u64) -> bool) {
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
