//! Writes made while the loop runs are queued here and leave in batches: one `sendmmsg` per
//! run of datagrams for the same port, after each received batch and at the end of the turn.
//!
//! The queue keeps its byte arena and entry list between turns, so queueing allocates nothing
//! once they have grown to the traffic's size. Errors that must reach the caller (wrong family,
//! size) were already checked by `write`; the kernel's own refusals are handled here: no room
//! drops and counts the datagram, `ECONNREFUSED` on a connected port becomes a pending
//! `connection_refused`.

use std::net::SocketAddr;

use super::table::PortId;
use crate::handle::Shared;
use crate::sys::{self, BATCH, SendBatch};

#[derive(Debug, Clone, Copy)]
struct Queued {
    port: PortId,
    to: Option<SocketAddr>,
    start: usize,
    len: usize,
}

/// Datagrams waiting to be sent, in write order.
#[derive(Debug, Default)]
pub(crate) struct SendQueue {
    bytes: Vec<u8>,
    entries: Vec<Queued>,
}

impl SendQueue {
    /// Queues a copy of `data` for port `port` (`to` is `None` on a connected port).
    pub fn push(&mut self, port: PortId, to: Option<SocketAddr>, data: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(data);
        self.entries.push(Queued {
            port,
            to,
            start,
            len: data.len(),
        });
    }
}

/// Sends everything queued: runs of same-destination, same-size datagrams with one GSO call
/// where the kernel supports it, the rest with one `sendmmsg` per run of up to `BATCH`
/// datagrams of one port.
pub(crate) fn flush(shared: &Shared, batch: &mut SendBatch) {
    let mut queue = shared.send_queue.borrow_mut();
    if queue.entries.is_empty() {
        return;
    }
    let SendQueue { bytes, entries } = &mut *queue;
    let mut ports = shared.ports.borrow_mut();
    let mut views: [(&[u8], Option<SocketAddr>); BATCH] = [(&[], None); BATCH];
    let mut i = 0;
    while i < entries.len() {
        let Some(slot) = ports.get_mut(entries[i].port).filter(|s| s.is_listening()) else {
            i += 1; // the port closed meanwhile: its datagrams go nowhere
            continue;
        };
        let same = if batch.gso_available() && pair_starts_at(entries, i) {
            same_shape_run(entries, i)
        } else {
            1
        };
        if same >= 2 && send_gso(slot, batch, bytes, &entries[i..i + same]) {
            i += same;
            continue;
        }
        let mut k = 0;
        while k < BATCH && i + k < entries.len() && entries[i + k].port == slot.id {
            if k > 0 && batch.gso_available() && pair_starts_at(entries, i + k) {
                break; // leave that run to GSO
            }
            let e = entries[i + k];
            views[k] = (&bytes[e.start..e.start + e.len], e.to);
            k += 1;
        }
        send_run(shared, slot, batch, &views[..k.max(1)]);
        i += k.max(1);
    }
    bytes.clear();
    entries.clear();
}

/// Whether entries `i` and `i + 1` could leave together by GSO.
fn pair_starts_at(entries: &[Queued], i: usize) -> bool {
    match (entries.get(i), entries.get(i + 1)) {
        (Some(a), Some(b)) => a.len > 0 && a.port == b.port && a.to == b.to && a.len == b.len,
        _ => false,
    }
}

/// How many entries from `i` share its port, destination and size (at most what one GSO call
/// may carry).
fn same_shape_run(entries: &[Queued], i: usize) -> usize {
    let first = entries[i];
    if first.len == 0 {
        return 1;
    }
    let cap = sys::GSO_MAX_SEGMENTS.min(65_000 / first.len);
    entries[i..]
        .iter()
        .take(cap)
        .take_while(|e| e.port == first.port && e.to == first.to && e.len == first.len)
        .count()
}

/// One GSO send of a same-shape run (its bytes are contiguous in the arena). False if GSO is
/// not available or failed: the caller then sends the run the ordinary way.
fn send_gso(
    slot: &mut super::table::PortSlot,
    batch: &mut SendBatch,
    bytes: &[u8],
    run: &[Queued],
) -> bool {
    let (start, len) = (run[0].start, run[0].len);
    let data = &bytes[start..start + len * run.len()];
    match slot.socket.send_segments(batch, data, len, run[0].to) {
        Ok(()) => {
            slot.counters.datagrams_out.add(run.len() as u64);
            slot.counters.bytes_out.add(data.len() as u64);
            true
        }
        Err(_) => false,
    }
}

/// Sends one port's run, going past datagrams the kernel refuses.
fn send_run(
    shared: &Shared,
    slot: &mut super::table::PortSlot,
    batch: &mut SendBatch,
    run: &[(&[u8], Option<SocketAddr>)],
) {
    let mut j = 0;
    while j < run.len() {
        match slot.socket.send_batch(batch, &run[j..]) {
            Ok(sent) => {
                for (data, _) in &run[j..j + sent] {
                    slot.counters.datagrams_out.add(1);
                    slot.counters.bytes_out.add(data.len() as u64);
                }
                j += sent.max(1).min(run.len() - j);
                if sent == 0 {
                    slot.counters.send_drops.add(1);
                }
            }
            Err(error) => {
                match sys::classify_send_error(&error) {
                    sys::SendError::Interrupted => continue,
                    sys::SendError::NoRoom => slot.counters.send_drops.add(1),
                    sys::SendError::Refused if slot.connected.is_some() => {
                        slot.refusals_pending += 1;
                        shared.port_work.borrow_mut().refused.push(slot.id);
                    }
                    _ => {
                        slot.counters.send_drops.add(1);
                        log::warn!(target: "gyre::udp", "{}: a queued datagram was not sent: {error}", slot.name);
                    }
                }
                j += 1; // this datagram is lost; the rest still go
            }
        }
    }
}
