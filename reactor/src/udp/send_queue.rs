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

/// Sends everything queued, one `sendmmsg` per run of up to `BATCH` datagrams of one port.
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
        let port = entries[i].port;
        let mut k = 0;
        while k < BATCH && i + k < entries.len() && entries[i + k].port == port {
            let e = entries[i + k];
            views[k] = (&bytes[e.start..e.start + e.len], e.to);
            k += 1;
        }
        if let Some(slot) = ports.get_mut(port).filter(|s| s.is_listening()) {
            send_run(shared, slot, batch, &views[..k]);
        }
        i += k;
    }
    bytes.clear();
    entries.clear();
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
