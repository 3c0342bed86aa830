//! Reading one port: drain it until the kernel has nothing more, or its budget is spent.
//!
//! `mio` is edge-triggered: readiness is reported once per change, so a port must be read
//! until `WouldBlock`, or remembered as still readable and read again on the next turn without
//! waiting for an event. Otherwise it would stall forever with datagrams queued.

use std::io;
use std::net::SocketAddr;

use super::dispatch::Lent;
use super::table::PortId;
use crate::handle::Handle;

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

/// What one receive produced.
enum Recv {
    Datagram {
        len: usize,
        from: SocketAddr,
    },
    /// Too long for the port; counted and logged, nothing to deliver.
    Skipped,
    Refused,
    Empty,
    Closed,
    Failed,
}

/// Reads up to `budget` datagrams from port `id` into `buf` and hands each to its protocol.
/// `buf` must hold at least `max_packet + 1` bytes.
pub(crate) fn read_port(handle: &Handle, id: PortId, buf: &mut [u8], budget: usize) -> Drain {
    let Some(mut lent) = Lent::take(handle, id) else {
        return Drain::Closed;
    };
    for _ in 0..budget {
        match recv_one(handle, id, buf) {
            Recv::Datagram { len, from } => {
                let data = &buf[..len];
                let _ = lent.call("datagram_received", |p, cx| {
                    p.datagram_received(cx, data, from)
                });
            }
            Recv::Refused => {
                let _ = lent.call("connection_refused", |p, cx| p.connection_refused(cx));
            }
            Recv::Skipped => {}
            Recv::Empty | Recv::Failed => return Drain::Drained,
            Recv::Closed => return Drain::Closed,
        }
    }
    Drain::BudgetSpent
}

/// One `recv`, with the port's table entry borrowed only for the system call.
fn recv_one(handle: &Handle, id: PortId, buf: &mut [u8]) -> Recv {
    let ports = handle.shared.ports.borrow();
    let Some(slot) = ports.get(id).filter(|slot| slot.is_listening()) else {
        return Recv::Closed;
    };
    let limit = slot.max_packet;
    let counters = &slot.counters;
    loop {
        match slot.socket.recv_from(&mut buf[..limit + 1]) {
            Ok(got) if got.truncated(limit) => {
                counters.truncated.add(1);
                log::warn!(target: "gyre::udp",
                    "{}: dropped a datagram from {} longer than max_packet_size ({} > {limit} bytes)",
                    slot.name, got.from, if got.len > limit + 1 { got.len.to_string() } else { format!("at least {}", got.len) });
                return Recv::Skipped;
            }
            Ok(got) => {
                counters.datagrams_in.add(1);
                counters.bytes_in.add(got.len as u64);
                return Recv::Datagram {
                    len: got.len,
                    from: got.from,
                };
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Recv::Empty,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                if slot.connected.is_none() {
                    continue; // no one to tell on an unconnected port (Twisted ignores it too)
                }
                counters.refused.add(1);
                return Recv::Refused;
            }
            Err(e) => {
                counters.read_errors.add(1);
                log::error!(target: "gyre::udp", "{}: receive failed: {e}", slot.name);
                return Recv::Failed;
            }
        }
    }
}
