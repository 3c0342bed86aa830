//! Writes made while the loop runs a turn are queued here and leave in batches: after each
//! received batch and at the end of the turn, one run of system calls per port (`sendmmsg`,
//! or one GSO `sendmsg` per run of same-size datagrams to one destination).
//!
//! The queue is kept in the shape the flush needs, built as datagrams are pushed: a list of
//! *runs* (consecutive datagrams of one port, one destination and one size: what one GSO send
//! can carry) and, for each datagram, where its bytes are (8 bytes a datagram). The flush then
//! walks the runs; it never compares addresses again.
//!
//! A datagram is queued by position when its bytes are a received datagram still in the
//! reactor's receive buffers (an echo, a forwarded packet): no copy. Such an entry is valid
//! only until the next receive into those buffers, so the loop flushes after every received
//! batch, before it reads again. Anything else is copied into the queue's byte arena.
//!
//! The queue is bounded ([`SEND_QUEUE_DATAGRAMS`], [`SEND_QUEUE_BYTES`] copied): past the bound
//! a write is dropped and counted in the port's `send_drops`, as the kernel drops what does not
//! fit in a full socket buffer. Its storage is kept between turns (so the steady state
//! allocates nothing) and given back when a burst has passed.

use std::net::{IpAddr, SocketAddr};
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
/// Marks a segment whose bytes are in the receive buffers rather than the arena.
const RECEIVED: u32 = 1 << 31;

/// Where one queued datagram's bytes are: an offset into the arena, or (with [`RECEIVED`]
/// set) into the receive buffers, and a length.
#[derive(Debug, Clone, Copy)]
struct Segment {
    at: u32,
    len: u32,
}

/// Consecutive queued datagrams of one port, to one destination, of one size.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueuedRun {
    port: PortId,
    /// `None`: the connected peer.
    to: Option<SocketAddr>,
    /// Each datagram's size.
    len: u32,
    /// How many datagrams, and the most one GSO send may carry at this size.
    count: u32,
    cap: u16,
    /// The source address to send from, as an index into the queue's sources plus one
    /// (0: the socket's own). A run with a source holds one datagram.
    source: u16,
    /// Index of its first segment.
    first: u32,
}

/// Datagrams waiting to be sent, in write order.
#[derive(Debug, Default)]
pub(crate) struct SendQueue {
    arena: Vec<u8>,
    segments: Vec<Segment>,
    runs: Vec<QueuedRun>,
    /// Source addresses (and interfaces) runs are sent from, for replies that leave from the
    /// address their request reached.
    sources: Vec<(IpAddr, u32)>,
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
        if self.segments.len() >= SEND_QUEUE_DATAGRAMS {
            return false;
        }
        let from = data.as_ptr() as usize;
        let at = if from >= received.start && from + data.len() <= received.end {
            (from - received.start) as u32 | RECEIVED
        } else if self.arena.len() + data.len() <= SEND_QUEUE_BYTES {
            let at = self.arena.len() as u32;
            self.arena.extend_from_slice(data);
            at
        } else {
            return false;
        };
        self.queue_segment(port, to, at, data.len() as u32);
        true
    }

    /// Queues one datagram made of `parts` (`len` bytes in all), copied one after the other
    /// into the arena; false if the queue is full.
    pub fn push_parts(
        &mut self,
        port: PortId,
        to: Option<SocketAddr>,
        parts: &[&[u8]],
        len: usize,
    ) -> bool {
        if self.segments.len() >= SEND_QUEUE_DATAGRAMS || self.arena.len() + len > SEND_QUEUE_BYTES
        {
            return false;
        }
        let at = self.arena.len() as u32;
        for part in parts {
            self.arena.extend_from_slice(part);
        }
        self.queue_segment(port, to, at, len as u32);
        true
    }

    /// Gives the datagram queued last (by [`push`](Self::push) or
    /// [`push_parts`](Self::push_parts)) a run of its own, to leave from `source`: a local
    /// address and the interface it belongs to. Past the number of sources a queue can name
    /// (65,535 a flush), it leaves from the socket's own address.
    pub fn source_last(&mut self, port: PortId, to: Option<SocketAddr>, source: (IpAddr, u32)) {
        if self.sources.len() >= usize::from(u16::MAX) {
            return;
        }
        self.sources.push(source);
        let index = self.sources.len() as u16;
        let run = self.runs.last_mut().expect("a datagram was just queued");
        if run.count == 1 {
            run.source = index;
            run.cap = 1; // alone: nothing joins it
            return;
        }
        // It joined an earlier run: take it out into one of its own.
        run.count -= 1;
        let len = run.len;
        self.runs.push(QueuedRun {
            port,
            to,
            len,
            count: 1,
            cap: 1,
            source: index,
            first: self.segments.len() as u32 - 1,
        });
    }

    /// Files a datagram whose bytes are at `at`: into its run, and as a segment.
    #[inline]
    fn queue_segment(&mut self, port: PortId, to: Option<SocketAddr>, at: u32, len: u32) {
        self.extend_runs(port, to, len);
        self.segments.push(Segment { at, len });
    }

    /// Counts a new datagram into the last run if it fits there, else starts a run.
    #[inline]
    fn extend_runs(&mut self, port: PortId, to: Option<SocketAddr>, len: u32) {
        if let Some(run) = self.runs.last_mut() {
            if run.len == len && run.count < u32::from(run.cap) && run.to == to && run.port == port
            {
                run.count += 1;
                return;
            }
        }
        self.start_run(port, to, len);
    }

    fn start_run(&mut self, port: PortId, to: Option<SocketAddr>, len: u32) {
        let cap = match len as usize {
            0 => 1, // an empty datagram cannot be a GSO segment
            n if n * GSO_MAX_SEGMENTS <= GSO_MAX_BYTES => GSO_MAX_SEGMENTS,
            n => (GSO_MAX_BYTES / n).max(1),
        };
        self.runs.push(QueuedRun {
            port,
            to,
            len,
            count: 1,
            cap: cap as u16,
            source: 0,
            first: self.segments.len() as u32,
        });
    }

    /// Appends every datagram of `other` (which holds copies only), emptying it.
    pub fn absorb(&mut self, other: &mut SendQueue) {
        for run in &other.runs {
            for s in &other.segments[run.first as usize..(run.first + run.count) as usize] {
                let (from, len) = (s.at as usize, s.len as usize);
                let at = self.arena.len() as u32;
                self.arena.extend_from_slice(&other.arena[from..from + len]);
                self.extend_runs(run.port, run.to, s.len);
                self.segments.push(Segment { at, len: s.len });
            }
        }
        other.clear();
    }

    /// Sends everything queued, one port's runs at a time in write order; `received` is the
    /// receive buffers segments may point into. Datagrams of a port that has closed go
    /// nowhere.
    pub fn flush(&mut self, ports: &mut dyn PortLookup, received: &[u8], batch: &mut SendBatch) {
        if self.runs.is_empty() {
            self.relax();
            return;
        }
        let mut i = 0;
        while i < self.runs.len() {
            let id = self.runs[i].port;
            let mut end = i + 1;
            while end < self.runs.len() && self.runs[end].port == id {
                end += 1;
            }
            if let Some(port) = ports.port(id) {
                let runs = Runs {
                    runs: &self.runs[i..end],
                    segments: &self.segments,
                    arena: &self.arena,
                    received,
                    sources: &self.sources,
                };
                port.send_runs(&runs, batch);
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

    /// Whether nothing is queued.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// Whether nothing is queued and no storage is to be given back.
    #[inline]
    pub fn is_idle(&self) -> bool {
        self.runs.is_empty() && !self.holds_extra()
    }

    /// Whether the queue holds more storage than it always keeps.
    #[inline]
    pub fn holds_extra(&self) -> bool {
        self.arena.capacity() > KEEP_BYTES || self.segments.capacity() > KEEP_DATAGRAMS
    }

    /// Empties the queue, giving storage back once a burst has passed.
    fn clear(&mut self) {
        self.peak_bytes = self.arena.len().max(self.peak_bytes - self.peak_bytes / 8);
        self.peak_datagrams = self
            .segments
            .len()
            .max(self.peak_datagrams - self.peak_datagrams / 8);
        self.arena.clear();
        self.segments.clear();
        self.runs.clear();
        self.sources.clear();
        if self.arena.capacity() > (4 * self.peak_bytes).max(KEEP_BYTES) {
            self.arena.shrink_to((2 * self.peak_bytes).max(KEEP_BYTES));
        }
        if self.segments.capacity() > (4 * self.peak_datagrams).max(KEEP_DATAGRAMS) {
            let keep = (2 * self.peak_datagrams).max(KEEP_DATAGRAMS);
            self.segments.shrink_to(keep);
            self.runs.shrink_to(keep);
        }
    }

    /// Bytes of storage held (for tests of the bound).
    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.arena.capacity()
    }
}

/// One port's consecutive runs of queued datagrams, as its `Port` sends them.
#[derive(Clone, Copy)]
pub(crate) struct Runs<'a> {
    runs: &'a [QueuedRun],
    segments: &'a [Segment],
    arena: &'a [u8],
    received: &'a [u8],
    sources: &'a [(IpAddr, u32)],
}

impl<'a> Runs<'a> {
    /// The runs, in write order.
    pub fn runs(&self) -> &'a [QueuedRun] {
        self.runs
    }

    /// The runs `range` of these, as a view of their own.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Runs<'a> {
        Runs {
            runs: &self.runs[range],
            ..*self
        }
    }

    /// The address (and interface) `run` leaves from, if not the socket's own.
    #[inline]
    pub fn source(&self, run: &QueuedRun) -> Option<(IpAddr, u32)> {
        match run.source {
            0 => None,
            n => Some(self.sources[usize::from(n) - 1]),
        }
    }

    /// The bytes of the `k`th datagram of `run`.
    #[inline]
    pub fn data(&self, run: &QueuedRun, k: usize) -> &'a [u8] {
        self.bytes(self.segments[run.first as usize + k])
    }

    /// The bytes of `run`'s datagrams from its `k`th on.
    #[inline]
    pub fn segments(&self, run: &QueuedRun, k: usize) -> impl Iterator<Item = &'a [u8]> + '_ {
        let (from, end) = (run.first as usize + k, (run.first + run.count) as usize);
        self.segments[from..end].iter().map(|s| self.bytes(*s))
    }

    #[inline]
    fn bytes(&self, s: Segment) -> &'a [u8] {
        let (bytes, at) = match s.at & RECEIVED {
            0 => (self.arena, s.at as usize),
            _ => (self.received, (s.at & !RECEIVED) as usize),
        };
        &bytes[at..at + s.len as usize]
    }
}

impl QueuedRun {
    /// How many datagrams.
    pub fn count(&self) -> usize {
        self.count as usize
    }

    /// Each datagram's size.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Where they go (`None`: the connected peer).
    pub fn to(&self) -> Option<SocketAddr> {
        self.to
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PORT: PortId = PortId { key: 0, serial: 0 };

    fn to() -> Option<SocketAddr> {
        Some("127.0.0.1:9".parse().unwrap())
    }

    fn runs(q: &SendQueue) -> Vec<(usize, usize)> {
        q.runs.iter().map(|r| (r.len(), r.count())).collect()
    }

    #[test]
    fn received_bytes_are_queued_by_position_others_copied() {
        let buffers = vec![7u8; 1000];
        let area = buffers.as_ptr() as usize..buffers.as_ptr() as usize + buffers.len();
        let mut q = SendQueue::default();
        assert!(q.push(PORT, to(), &buffers[100..164], &area));
        assert!(q.push(PORT, to(), b"copied", &area));
        assert_eq!(q.arena.len(), 6);
        let view = Runs {
            runs: &q.runs,
            segments: &q.segments,
            arena: &q.arena,
            received: &buffers,
            sources: &q.sources,
        };
        assert_eq!(view.data(&q.runs[0], 0), &buffers[100..164]);
        assert_eq!(view.data(&q.runs[1], 0), b"copied");
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
    fn runs_of_one_port_destination_and_size_are_built_as_datagrams_come() {
        let mut q = SendQueue::default();
        let other: Option<SocketAddr> = Some("127.0.0.1:10".parse().unwrap());
        for (len, to) in [
            (10, to()),
            (10, to()),
            (10, to()),
            (20, to()),
            (30, to()),
            (30, to()),
        ] {
            q.push(PORT, to, &vec![0u8; len], &(0..0));
        }
        q.push(PORT, other, &[0u8; 30], &(0..0)); // another destination
        q.push(PortId { key: 1, serial: 1 }, other, &[0u8; 30], &(0..0)); // another port
        q.push(PORT, to(), &[], &(0..0));
        q.push(PORT, to(), &[], &(0..0)); // empty datagrams never share a run
        assert_eq!(
            runs(&q),
            [(10, 3), (20, 1), (30, 2), (30, 1), (30, 1), (0, 1), (0, 1)]
        );
    }

    #[test]
    fn a_datagram_with_a_source_is_a_run_of_its_own_and_nothing_joins_it() {
        let mut q = SendQueue::default();
        let here = ("127.0.0.2".parse().unwrap(), 1);
        q.push(PORT, to(), &[0u8; 10], &(0..0));
        q.push(PORT, to(), &[0u8; 10], &(0..0)); // would have joined the first...
        q.source_last(PORT, to(), here); // ...but leaves from `here`
        q.push(PORT, to(), &[0u8; 10], &(0..0));
        q.push_parts(PORT, to(), &[&[0u8; 12], &[0u8; 8]], 20);
        q.source_last(PORT, to(), here);
        assert_eq!(runs(&q), [(10, 1), (10, 1), (10, 1), (20, 1)]);
        let view = Runs {
            runs: &q.runs,
            segments: &q.segments,
            arena: &q.arena,
            received: &[],
            sources: &q.sources,
        };
        let sources: Vec<_> = q.runs.iter().map(|r| view.source(r)).collect();
        assert_eq!(sources, [None, Some(here), None, Some(here)]);
        assert_eq!(q.runs[1].first, 1);
        q.clear();
        assert!(q.sources.is_empty());
    }

    #[test]
    fn a_run_stops_at_what_one_gso_send_carries() {
        let mut q = SendQueue::default();
        for _ in 0..70 {
            q.push(PORT, to(), &[1u8; 100], &(0..0)); // 64 segments at most
        }
        for _ in 0..3 {
            q.push(PORT, to(), &[1u8; 30_000], &(0..0)); // 2 x 30,000 fit in 65,000
        }
        assert_eq!(runs(&q), [(100, 64), (100, 6), (30_000, 2), (30_000, 1)]);
    }
}
