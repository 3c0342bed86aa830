//! Calling into protocols: lend a port's entry out of the table, hand datagrams to its
//! protocol with a [`Context`], catch what it throws, flush what it wrote, put it back.
//!
//! One read of a port lends its entry once. Each received batch gets one `catch_unwind` and
//! one `Context`; a panic is logged with the port and delivery resumes at the next datagram.
//! The writes a batch's callbacks made leave right after it, before the next receive reuses
//! the buffers a reply may point into.
//!
//! `mio` is edge-triggered: readiness is reported once per change, so a port is read until
//! the kernel queue is empty (a batch that comes back short), or remembered as still readable
//! and read again on the next turn without waiting for an event. Otherwise it would stall
//! forever with datagrams queued.

use crate::context::Context;
use crate::core::Core;
use crate::defer::Failure;
use crate::error::PanicError;
use crate::guard;
use crate::ports::{Entry, WithLent};
use crate::protocol::{DatagramProtocol, Outcome};
use crate::sys::{BATCH, RecvBatch, SLOT, SendBatch};
use crate::udp::port::{Port, PortId, READ_ERRORS_BEFORE_CLOSING, Received, segments};
use crate::udp::send_queue::SendQueue;

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

impl Drain {
    /// After a batch of `n` datagrams, `read` in all this turn: drained if the batch was
    /// short (the kernel had no more), the budget spent, or `None` to read another batch.
    pub(crate) fn after_batch(n: usize, read: usize, budget: usize) -> Option<Drain> {
        if n < BATCH {
            Some(Drain::Drained)
        } else if read >= budget {
            Some(Drain::BudgetSpent)
        } else {
            None
        }
    }
}

/// The reactor's reusable I/O state, one set for every port: receive buffers, the queue of
/// writes made while datagrams are delivered, and send headers.
pub(crate) struct Batches {
    pub recv: RecvBatch,
    pub queue: SendQueue,
    pub send: SendBatch,
}

/// Reads up to `budget` datagrams (in batches) from port `id` and hands each to its
/// protocol.
pub(crate) fn read_port(
    core: &mut Core,
    batches: &mut Batches,
    id: PortId,
    budget: usize,
) -> Drain {
    let Some(mut entry) = core.ports.lend(id) else {
        return Drain::Closed;
    };
    let drain = drain_port(&mut entry, core, batches, budget);
    core.ports.put_back(entry);
    drain
}

fn drain_port(entry: &mut Entry, core: &mut Core, batches: &mut Batches, budget: usize) -> Drain {
    let mut read = 0;
    loop {
        if !entry.port.shared().is_listening() {
            return Drain::Closed;
        }
        let (n, limit, coalesced) = match entry.port.receive(&mut batches.recv) {
            Received::Datagrams { n, limit } => (n, limit, false),
            Received::Coalesced { n, limit } => (n, limit, true),
            Received::Refused => {
                let _ = call(entry, core, "connection_refused", |p, cx| {
                    p.connection_refused(cx)
                });
                continue;
            }
            Received::Empty => return Drain::Drained,
            Received::Broken => {
                crate::failures::report_failure!(target: "gyre::udp", "{}: closing the port after {READ_ERRORS_BEFORE_CLOSING} receive errors in a row", entry.port.shared().name());
                let _ = entry.port.transport().stop_listening();
                return Drain::Closed;
            }
        };
        let open = match coalesced {
            false => deliver(entry, core, batches, n, limit),
            true => deliver_coalesced(entry, core, batches, n, limit),
        };
        flush(core, Some(&mut entry.port), batches);
        if !open {
            return Drain::Closed; // stopped by its protocol: deliver nothing more
        }
        read += n;
        if let Some(drain) = Drain::after_batch(n, read, budget) {
            return drain;
        }
    }
}

/// Hands datagrams `0..n` of the batch to the protocol. Returns whether the port is still
/// listening.
fn deliver(
    entry: &mut Entry,
    core: &mut Core,
    batches: &mut Batches,
    n: usize,
    limit: usize,
) -> bool {
    deliver_guarded(entry, core, batches, n, |protocol, cx, recv, next| {
        deliver_batch(protocol, cx, recv, n, limit, next)
    })
}

/// Runs `batch_loop` (which advances `next` up to `end`) with one `catch_unwind` and one
/// `Context` for the batch, again from the next datagram after a panic. Inlined into each
/// caller, so each shape of batch keeps a loop of its own.
#[inline(always)]
fn deliver_guarded(
    entry: &mut Entry,
    core: &mut Core,
    batches: &mut Batches,
    end: usize,
    batch_loop: impl Fn(&mut dyn DatagramProtocol, &mut Context<'_>, &RecvBatch, &mut usize) -> bool,
) -> bool {
    let mut next = 0;
    while next < end {
        let Entry { port, protocol } = &mut *entry;
        let Batches { recv, queue, .. } = &mut *batches;
        let outcome = guard::catch(|| {
            let mut cx = Context::new(core, port, Some(queue), Some(recv));
            batch_loop(protocol.as_mut(), &mut cx, recv, &mut next)
        });
        match outcome {
            Ok(open) => return open,
            Err(message) => {
                let failure = Failure::new(PanicError { message });
                report(core, &entry.port, "datagram_received", &failure);
            }
        }
    }
    entry.port.shared().is_listening()
}

/// The loop over one batch. `recv` is a parameter of its own, so the compiler knows the
/// receive buffers cannot change while protocols run and keeps their addresses in registers.
fn deliver_batch(
    protocol: &mut dyn DatagramProtocol,
    cx: &mut Context<'_>,
    recv: &RecvBatch,
    n: usize,
    limit: usize,
    next: &mut usize,
) -> bool {
    cx.transport.lone = n == 1;
    while *next < n {
        let i = *next;
        *next += 1;
        if recv.len(i) > limit {
            continue; // truncated: counted and logged on receipt, never delivered cut
        }
        cx.transport.current = i;
        if let Err(failure) = protocol.datagram_received(cx, recv.data(i), recv.from(i)) {
            report(cx.core, cx.transport.port, "datagram_received", &failure);
        }
        if !cx.transport.port.shared().is_listening() {
            return false;
        }
    }
    true
}

/// [`deliver`] for a batch in which the kernel coalesced datagrams (UDP GRO): each slot's
/// datagrams are handed over one by one. The position is `slot * SLOT + offset`, so a panic
/// resumes at the next datagram, inside a slot or not. Kept apart from `deliver` on purpose:
/// one function for both shapes cost the plain path 7 instructions per echo (lockstep).
#[cold]
fn deliver_coalesced(
    entry: &mut Entry,
    core: &mut Core,
    batches: &mut Batches,
    n: usize,
    limit: usize,
) -> bool {
    deliver_guarded(
        entry,
        core,
        batches,
        n * SLOT,
        |protocol, cx, recv, next| deliver_segments(protocol, cx, recv, n, limit, next),
    )
}

/// The loop over one coalesced batch: every datagram of every slot, in order.
fn deliver_segments(
    protocol: &mut dyn DatagramProtocol,
    cx: &mut Context<'_>,
    recv: &RecvBatch,
    n: usize,
    limit: usize,
    next: &mut usize,
) -> bool {
    while *next < n * SLOT {
        let (i, offset) = (*next / SLOT, *next % SLOT);
        let data = recv.data(i);
        let size = segments(data.len(), recv.segment_size(i))
            .next()
            .unwrap_or(0);
        let end = (offset + size).min(data.len());
        *next = match end >= data.len() {
            true => (i + 1) * SLOT,
            false => i * SLOT + end,
        };
        let datagram = &data[offset..end];
        if datagram.len() > limit || recv.len(i) > data.len() {
            continue; // longer than max_packet_size (or cut): counted on receipt
        }
        cx.transport.current = i;
        if let Err(failure) = protocol.datagram_received(cx, datagram, recv.from(i)) {
            report(cx.core, cx.transport.port, "datagram_received", &failure);
        }
        if !cx.transport.port.shared().is_listening() {
            return false;
        }
    }
    true
}

/// Calls one protocol method with a `Context` (no receive buffers). A failure or panic is
/// logged with the port and counted, and returned.
pub(crate) fn call(
    entry: &mut Entry,
    core: &mut Core,
    what: &str,
    f: impl FnOnce(&mut dyn DatagramProtocol, &mut Context<'_>) -> Outcome,
) -> Result<(), Failure> {
    let Entry { port, protocol } = entry;
    let outcome =
        guard::catch_outcome(|| f(protocol.as_mut(), &mut Context::new(core, port, None, None)));
    let Err(failure) = outcome else {
        return Ok(());
    };
    report(core, &entry.port, what, &failure);
    Err(failure)
}

/// Sends what was queued (writes through kept transports first absorbed, in order). `lent`
/// is the port a read has out of the table, if any.
#[inline]
pub(crate) fn flush(core: &mut Core, lent: Option<&mut Port>, batches: &mut Batches) {
    if batches.queue.is_idle() && !core.outbox.needs_absorbing() {
        return; // nothing queued, no storage to give back: the common end of a turn
    }
    flush_queued(core, lent, batches);
}

fn flush_queued(core: &mut Core, lent: Option<&mut Port>, batches: &mut Batches) {
    let Batches { recv, queue, send } = batches;
    core.outbox.absorb_into(queue);
    match lent {
        Some(lent) => {
            let mut ports = WithLent {
                table: &mut core.ports,
                lent,
            };
            queue.flush(&mut ports, recv.buffers(), send);
        }
        None => queue.flush(&mut core.ports, recv.buffers(), send),
    }
}

/// Logs a failed callback with its port and counts it.
fn report(core: &mut Core, port: &Port, what: &str, failure: &Failure) {
    core.counters.callback_failures += 1;
    crate::failures::report_failure!(target: "gyre::udp", "{}: {what} failed: {failure:#}", port.shared().name());
}
