//! Writes made while the loop runs a turn are queued here and leave in batches: after each
//! received batch and at the end of the turn, one run of system calls per port (`sendmmsg`,
//! or one GSO `sendmsg` per run of same-size datagrams to one destination).
//!
//! A datagram is queued by position when its bytes are a received datagram still in the
//! reactor's receive buffers (an echo, a forwarded packet): no copy. Such an entry is valid
//! only until the next receive into those buffers, so the loop flushes after every received
//! batch, before it reads again. Anything else is copied into the queue's byte arena.
//!
//! The queue is bounded ([`SEND_QUEUE_DATAGRAMS`], [`SEND_QUEUE_BYTES`] copied): past the bound a write
//! is dropped and counted in the port's `send_drops`, as the kernel drops what does not fit
//! in a full socket buffer. Its storage is kept between turns (so the steady state allocates
//! nothing) and given back when a burst has passed.

use std::net::SocketAddr;
use std::ops::Range;

use super::port::{Port, PortId};
use crate::sys::{GSO_MAX_SEGMENTS, SendBatch};

/// At most this many datagrams wait in one queue; more are dropped and counted.
pub const SEND_QUEUE_DATAGRAMS: usize = 65_536;
/// At most this many copied bytes wait in one queue (4 MiB); more are dropped and counted.
pub const SEND_QUEUE_BYTES: usize = 4 << 20;
/// Storage the queue always keeps, however quiet it has been.
const KEEP_BYTES: usize = 64 << 10;
const KEEP_DATAGRAMS: usize = 256;
/// The total a GSO send may carry (IP's 16-bit length, less headers, rounded down).
const GSO_MAX_BYTES: usize = 65_000;

/// One queued datagram: its port, destination (`None`: the connected peer) and bytes.
#[derive(Debug, Clone, Copy)]
struct Queued {
    port: PortId,
    to: Option<SocketAddr>,
    /// Offset into the arena, or into the receive buffers when `received`.
    start: u32,
    len: u32,
    received: bool,
}

/// Datagrams waiting to be sent, in write order.
#[derive(Debug, Default)]
pub(crate) struct SendQueue {
    arena: Vec<u8>,
    entries: Vec<Queued>,
    /// Recent high-water marks (decaying), to decide when to give storage back.
    peak_bytes: usize,
    peak_datagrams: usize,
}

/// Finds the port a run of queued datagrams belongs to, at flush time.
pub(crate) trait PortLookup {
    /// The open (or stopping) port with this id; `None` if it has closed.
    fn port(&mut self, id: PortId) -> Option<&mut Port>;
}

impl SendQueue {
    /// Queues `data` for `port` (`to` is `None` on a connected port). Bytes inside
    /// `received` (the receive buffers' address range) are queued by position, others
    /// copied. False when the queue is full: the datagram was dropped.
    #[inline]
    pub fn push(
        &mut self,
        port: PortId,
        to: Option<SocketAddr>,
        data: &[u8],
        received: &Range<usize>,
    ) -> bool {
        if self.entries.len() >= SEND_QUEUE_DATAGRAMS {
            return false;
        }
        let at = data.as_ptr() as usize;
        let (start, in_buffers) = if at >= received.start && at + data.len() <= received.end {
            (at - received.start, true)
        } else {
            if self.arena.len() + data.len() > SEND_QUEUE_BYTES {
                return false;
            }
            let start = self.arena.len();
            self.arena.extend_from_slice(data);
            (start, false)
        };
        self.entries.push(Queued {
            port,
            to,
            start: start as u32,
            len: data.len() as u32,
            received: in_buffers,
        });
        true
    }

    /// Appends every datagram of `other` (which holds copies only), emptying it.
    pub fn absorb(&mut self, other: &mut SendQueue) {
        for e in &other.entries {
            let start = self.arena.len();
            let (from, len) = (e.start as usize, e.len as usize);
            self.arena.extend_from_slice(&other.arena[from..from + len]);
            self.entries.push(Queued {
                start: start as u32,
                ..*e
            });
        }
        other.clear();
    }

    /// Sends everything queued, one run per port in write order; `received` is the receive
    /// buffers entries may point into. Datagrams of a port that has closed go nowhere.
    pub fn flush(&mut self, ports: &mut dyn PortLookup, received: &[u8], batch: &mut SendBatch) {
        if self.entries.is_empty() {
            self.relax();
            return;
        }
        let mut i = 0;
        while i < self.entries.len() {
            let id = self.entries[i].port;
            let mut end = i + 1;
            while end < self.entries.len() && self.entries[end].port == id {
                end += 1;
            }
            if let Some(port) = ports.port(id) {
                let run = Run {
                    entries: &self.entries[i..end],
                    arena: &self.arena,
                    received,
                };
                port.send_run(&run, batch);
            }
            i = end;
        }
        self.clear();
    }

    /// An empty flush: lets the high-water marks decay, so storage grown for a burst is given
    /// back even when nothing more is written. Two comparisons when nothing is to give back.
    #[inline]
    pub fn relax(&mut self) {
        if self.holds_extra() {
            self.clear();
        }
    }

    /// Whether the queue holds more storage than it always keeps.
    #[inline]
    pub fn holds_extra(&self) -> bool {
        self.arena.capacity() > KEEP_BYTES || self.entries.capacity() > KEEP_DATAGRAMS
    }

    /// Empties the queue, giving storage back once a burst has passed.
    fn clear(&mut self) {
        self.peak_bytes = self.arena.len().max(self.peak_bytes - self.peak_bytes / 8);
        self.peak_datagrams = self
            .entries
            .len()
            .max(self.peak_datagrams - self.peak_datagrams / 8);
        self.arena.clear();
        self.entries.clear();
        if self.arena.capacity() > (4 * self.peak_bytes).max(KEEP_BYTES) {
            self.arena.shrink_to((2 * self.peak_bytes).max(KEEP_BYTES));
        }
        if self.entries.capacity() > (4 * self.peak_datagrams).max(KEEP_DATAGRAMS) {
            self.entries
                .shrink_to((2 * self.peak_datagrams).max(KEEP_DATAGRAMS));
        }
    }

    /// Bytes of storage held (for tests of the bound).
    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.arena.capacity()
    }
}

/// One port's consecutive queued datagrams, as its `Port` sends them.
pub(crate) struct Run<'a> {
    entries: &'a [Queued],
    arena: &'a [u8],
    received: &'a [u8],
}

impl Run<'_> {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The bytes of datagram `j`.
    #[inline]
    pub fn data(&self, j: usize) -> &[u8] {
        let e = &self.entries[j];
        let (start, len) = (e.start as usize, e.len as usize);
        let bytes = if e.received {
            self.received
        } else {
            self.arena
        };
        &bytes[start..start + len]
    }

    pub fn len_of(&self, j: usize) -> usize {
        self.entries[j].len as usize
    }

    pub fn to(&self, j: usize) -> Option<SocketAddr> {
        self.entries[j].to
    }

    /// Whether datagrams `j` and `j + 1` could leave in one GSO send.
    fn pair_at(&self, j: usize) -> bool {
        match (self.entries.get(j), self.entries.get(j + 1)) {
            (Some(a), Some(b)) => a.len > 0 && a.len == b.len && a.to == b.to,
            _ => false,
        }
    }

    /// How many datagrams from `i` share its destination and size, up to what one GSO send
    /// may carry (1 if none could).
    pub fn same_shape(&self, i: usize) -> usize {
        let first = &self.entries[i];
        if first.len == 0 {
            return 1;
        }
        let cap = if (first.len as usize) * GSO_MAX_SEGMENTS <= GSO_MAX_BYTES {
            GSO_MAX_SEGMENTS
        } else {
            (GSO_MAX_BYTES / first.len as usize).max(1)
        };
        let rest = &self.entries[i..self.entries.len().min(i + cap)];
        let mut n = 1;
        while n < rest.len() && rest[n].len == first.len && rest[n].to == first.to {
            n += 1;
        }
        n
    }

    /// How many datagrams from `i` go the ordinary way before a GSO run starts (at least 1).
    pub fn plain_run(&self, i: usize) -> usize {
        let mut k = 1;
        while i + k < self.len() && !self.pair_at(i + k) {
            k += 1;
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PORT: PortId = PortId { key: 0, serial: 0 };

    fn to() -> Option<SocketAddr> {
        Some("127.0.0.1:9".parse().unwrap())
    }

    #[test]
    fn received_bytes_are_queued_by_position_others_copied() {
        let buffers = vec![7u8; 1000];
        let area = buffers.as_ptr() as usize..buffers.as_ptr() as usize + buffers.len();
        let mut q = SendQueue::default();
        assert!(q.push(PORT, to(), &buffers[100..164], &area));
        assert!(q.push(PORT, to(), b"copied", &area));
        assert_eq!(q.arena.len(), 6);
        let run = Run {
            entries: &q.entries,
            arena: &q.arena,
            received: &buffers,
        };
        assert_eq!(run.data(0), &buffers[100..164]);
        assert_eq!(run.data(1), b"copied");
    }

    #[test]
    fn the_queue_is_bounded_and_gives_memory_back_after_a_burst() {
        let mut q = SendQueue::default();
        let big = vec![1u8; 60_000];
        let mut accepted = 0;
        for _ in 0..2_000 {
            if q.push(PORT, to(), &big, &(0..0)) {
                accepted += 1;
            }
        }
        assert_eq!(accepted, SEND_QUEUE_BYTES / 60_000);
        let burst = q.capacity();
        assert!(burst >= SEND_QUEUE_BYTES - 60_000);
        q.clear();
        for _ in 0..64 {
            q.push(PORT, to(), b"small", &(0..0));
            q.clear(); // quiet flushes after the burst
        }
        assert!(q.capacity() <= 2 * KEEP_BYTES, "{}", q.capacity());
    }

    #[test]
    fn runs_of_one_shape_are_found_and_capped() {
        let mut q = SendQueue::default();
        for len in [10, 10, 10, 20, 30, 30] {
            q.push(PORT, to(), &vec![0u8; len], &(0..0));
        }
        let run = Run {
            entries: &q.entries,
            arena: &q.arena,
            received: &[],
        };
        assert_eq!(run.same_shape(0), 3);
        assert_eq!(run.same_shape(3), 1);
        assert_eq!(run.plain_run(3), 1); // 30, 30 starts at 4
        assert_eq!(run.same_shape(4), 2);
    }
}
