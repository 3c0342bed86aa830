//! Reading one port: drain it in batches until the kernel has nothing more, or its budget is
//! spent.
//!
//! `mio` is edge-triggered: readiness is reported once per change, so a port must be read
//! until the kernel queue is empty, or remembered as still readable and read again on the
//! next turn without waiting for an event. Otherwise it would stall forever with datagrams
//! queued. A batch that comes back short (fewer than `BATCH`) means the queue was empty.

use std::io;

use super::dispatch::Lent;
use super::send_queue::flush;
use super::table::PortId;
use crate::handle::Handle;
use crate::sys::{BATCH, RecvBatch, SendBatch};

/// How reading a port ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Drain {
    /// The kernel queue is empty: wait for the next readiness event.
    Drained,
    /// The budget ran out with datagrams maybe left: read again next turn.
    BudgetSpent,
    /// The port is gone or stopping.
    Closed,
}

/// What one batched receive produced.
enum Batch {
    /// `n` datagrams; those longer than `limit` were counted and are skipped.
    Got {
        n: usize,
        limit: usize,
    },
    Refused,
    Empty,
    Closed,
    Failed,
}

/// Reads up to `budget` datagrams (in batches) from port `id`, hands each to its protocol,
/// and flushes the writes the protocol made after each batch.
pub(crate) fn read_port(
    handle: &Handle,
    id: PortId,
    recv: &mut RecvBatch,
    send: &mut SendBatch,
    budget: usize,
) -> Drain {
    let Some(mut lent) = Lent::take(handle, id) else {
        return Drain::Closed;
    };
    let mut read = 0;
    let stops = handle.shared.stops.get();
    loop {
        let (n, limit) = match recv_batch(handle, id, recv) {
            Batch::Got { n, limit } => (n, limit),
            Batch::Refused => {
                let _ = lent.call("connection_refused", |p, cx| p.connection_refused(cx));
                continue;
            }
            Batch::Empty | Batch::Failed => return Drain::Drained,
            Batch::Closed => return Drain::Closed,
        };
        for i in 0..n {
            let (datagram, data) = recv.get(i);
            if datagram.len > limit {
                continue; // truncated: counted and logged, never delivered cut
            }
            let _ = lent.call("datagram_received", |p, cx| {
                p.datagram_received(cx, data, datagram.from)
            });
            if handle.shared.stops.get() != stops && !is_listening(handle, id) {
                flush(&handle.shared, send);
                return Drain::Closed; // stopped by its protocol: deliver nothing more
            }
        }
        flush(&handle.shared, send);
        read += n;
        if n < BATCH {
            return Drain::Drained;
        }
        if read >= budget {
            return Drain::BudgetSpent;
        }
    }
}

fn is_listening(handle: &Handle, id: PortId) -> bool {
    handle
        .shared
        .ports
        .borrow()
        .get(id)
        .is_some_and(|slot| slot.is_listening())
}

/// One batched receive, with the port's table entry borrowed only for the system call and
/// the counters.
fn recv_batch(handle: &Handle, id: PortId, batch: &mut RecvBatch) -> Batch {
    let ports = handle.shared.ports.borrow();
    let Some(slot) = ports.get(id).filter(|slot| slot.is_listening()) else {
        return Batch::Closed;
    };
    let limit = slot.max_packet;
    let counters = &slot.counters;
    loop {
        match slot.socket.recv_batch(batch, limit + 1) {
            Ok(n) => {
                for i in 0..n {
                    let (d, _) = batch.get(i);
                    if let Some(drops) = d.drops {
                        counters.kernel_drops.set(u64::from(drops));
                    }
                    if d.len > limit {
                        counters.truncated.add(1);
                        log::warn!(target: "gyre::udp",
                            "{}: dropped a datagram from {} longer than max_packet_size ({} > {limit} bytes)",
                            slot.name, d.from, d.len);
                    } else {
                        counters.datagrams_in.add(1);
                        counters.bytes_in.add(d.len as u64);
                    }
                }
                return Batch::Got { n, limit };
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Batch::Empty,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                if slot.connected.is_none() {
                    continue; // no one to tell on an unconnected port (Twisted ignores it too)
                }
                counters.refused.add(1);
                return Batch::Refused;
            }
            Err(e) => {
                counters.read_errors.add(1);
                log::error!(target: "gyre::udp", "{}: receive failed: {e}", slot.name);
                return Batch::Failed;
            }
        }
    }
}
