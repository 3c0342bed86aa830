//! Calling into UNIX protocols: lend the port's entry out of its table, hand it datagrams
//! with a [`UnixContext`], catch what it throws, put it back. The same shape as UDP's
//! `dispatch`, without the send queue: a UNIX write leaves at once.

use super::port::UnixPort;
use super::{UnixContext, UnixDatagramProtocol, UnixTransport};
use crate::core::Core;
use crate::defer::Failure;
use crate::dispatch::Drain;
use crate::guard;
use crate::ports::{Filed, UNIX_TAG};
use crate::protocol::Outcome;
use crate::stats::PortStats;
use crate::sys::RecvBatch;
use crate::udp::READ_ERRORS_BEFORE_CLOSING;
use crate::udp::port::{PortId, Received};

/// One UNIX port and its protocol.
pub(crate) struct UnixEntry {
    pub port: UnixPort,
    pub protocol: Box<dyn UnixDatagramProtocol>,
}

impl Filed for UnixEntry {
    const TAG: usize = UNIX_TAG;
    type Handle = UnixTransport;

    fn handle(&self) -> &UnixTransport {
        self.port.transport()
    }

    fn handle_id(handle: &UnixTransport) -> PortId {
        handle.shared().id()
    }

    fn handle_stats(handle: &UnixTransport) -> PortStats {
        handle.shared().stats()
    }
}

/// Reads up to `budget` datagrams (in batches) from UNIX port `id` and hands each to its
/// protocol.
pub(crate) fn read_port(core: &mut Core, recv: &mut RecvBatch, id: PortId, budget: usize) -> Drain {
    let Some(mut entry) = core.unix_ports.lend(id) else {
        return Drain::Closed;
    };
    let drain = drain_port(&mut entry, core, recv, budget);
    core.unix_ports.put_back(entry);
    drain
}

fn drain_port(
    entry: &mut UnixEntry,
    core: &mut Core,
    recv: &mut RecvBatch,
    budget: usize,
) -> Drain {
    let mut read = 0;
    loop {
        if !entry.port.shared().is_listening() {
            return Drain::Closed;
        }
        let (n, limit) = match entry.port.receive(recv) {
            Received::Datagrams { n, limit } | Received::Coalesced { n, limit } => (n, limit),
            Received::Refused => {
                let _ = call(entry, core, "connection_refused", |p, cx| {
                    p.connection_refused(cx)
                });
                continue;
            }
            Received::Empty => return Drain::Drained,
            Received::Broken => {
                crate::failures::report_failure!(target: "gyre::unix", "{}: closing the port after {READ_ERRORS_BEFORE_CLOSING} receive errors in a row", entry.port.shared().name());
                let _ = entry.port.transport().stop_listening();
                return Drain::Closed;
            }
        };
        for i in (0..n).filter(|&i| recv.len(i) <= limit) {
            let from = recv.unix_sender(i);
            let data = recv.data(i);
            let _ = call(entry, core, "datagram_received", |p, cx| {
                p.datagram_received(cx, data, &from)
            });
            if !entry.port.shared().is_listening() {
                return Drain::Closed; // stopped by its protocol: deliver nothing more
            }
        }
        read += n;
        if let Some(drain) = Drain::after_batch(n, read, budget) {
            return drain;
        }
    }
}

/// Calls one protocol method with a [`UnixContext`]. A failure or panic is logged with the
/// port and counted, and returned.
pub(crate) fn call(
    entry: &mut UnixEntry,
    core: &mut Core,
    what: &str,
    f: impl FnOnce(&mut dyn UnixDatagramProtocol, &mut UnixContext<'_>) -> Outcome,
) -> Result<(), Failure> {
    let UnixEntry { port, protocol } = entry;
    let transport = port.transport();
    let outcome = guard::catch_outcome(|| {
        let core = &mut *core;
        f(protocol.as_mut(), &mut UnixContext { core, transport })
    });
    let Err(failure) = outcome else {
        return Ok(());
    };
    core.counters.callback_failures += 1;
    crate::failures::report_failure!(target: "gyre::unix", "{}: {what} failed: {failure:#}", port.shared().name());
    Err(failure)
}
