//! [`PortState`]: where a port is in its life, the same for both kinds of port (UDP and UNIX
//! datagram): listening, stopping, closed; the Deferred `stop_listening` handed out; refusals
//! waiting for `connection_refused`. Each kind's shared half holds one, next to what is its
//! own (addresses, peer, socket).

use std::cell::{Cell, RefCell};
use std::fmt::Display;
use std::io;
use std::rc::Rc;

use crate::defer::Deferred;
use crate::stats::{Counter, PortCounters};
use crate::udp::outbox::Outbox;
use crate::udp::port::{PortId, READ_ERRORS_BEFORE_CLOSING, Received};

/// Where a port is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Open: reading and writing.
    Listening,
    /// `stop_listening` was called: no more reading; it closes on the loop's lifecycle step.
    Stopping,
    /// Closed: its socket is gone.
    Closed,
}

/// A port's life, and what it tells the loop through the outbox.
pub(crate) struct PortState {
    pub id: PortId,
    pub outbox: Rc<Outbox>,
    phase: Cell<Phase>,
    /// The Deferred `stop_listening` returned, fired when the port has closed.
    stopped: RefCell<Option<Deferred<()>>>,
    /// Refusals that still wait for `connection_refused`.
    refusals: Cell<u32>,
}

impl PortState {
    pub fn new(id: PortId, outbox: Rc<Outbox>) -> PortState {
        PortState {
            id,
            outbox,
            phase: Cell::new(Phase::Listening),
            stopped: RefCell::new(None),
            refusals: Cell::new(0),
        }
    }

    #[inline]
    pub fn phase(&self) -> Phase {
        self.phase.get()
    }

    #[inline]
    pub fn is_listening(&self) -> bool {
        self.phase.get() == Phase::Listening
    }

    /// Marks the port stopping and returns the Deferred that fires once it has closed; the
    /// same one when asked again, a fired one once closed. The loop closes it later.
    pub fn stop(&self) -> Deferred<()> {
        match self.phase.get() {
            Phase::Closed => Deferred::succeeded(()),
            Phase::Stopping => self.stopped.borrow().clone().unwrap_or_default(),
            Phase::Listening => {
                let done = Deferred::new();
                *self.stopped.borrow_mut() = Some(done.clone());
                self.phase.set(Phase::Stopping);
                self.outbox.note_stopping(self.id);
                done
            }
        }
    }

    /// Notes a refusal for the loop's error step to pass to `connection_refused`.
    pub fn note_refusal(&self) {
        self.refusals.set(self.refusals.get() + 1);
        self.note_reports();
    }

    /// Tells the loop this port has errors to report (refusals, ICMP errors): its error step
    /// takes them.
    pub fn note_reports(&self) {
        self.outbox.note_reports(self.id);
    }

    /// Takes the refusals waiting for `connection_refused`, counting them in `refused`.
    pub fn take_refusals(&self, refused: &Counter) -> u32 {
        let n = self.refusals.replace(0);
        refused.add(u64::from(n));
        n
    }

    /// Marks the port closed; returns the Deferred `stop_listening` gave out, to fire once
    /// the port is gone.
    pub fn close(&self) -> Option<Deferred<()>> {
        self.phase.set(Phase::Closed);
        self.stopped.borrow_mut().take()
    }

    /// Marks the port closed (its owner was dropped).
    pub fn mark_closed(&self) {
        self.phase.set(Phase::Closed);
    }
}

/// What a port does after a receive failed with `error` (any error but `WouldBlock`; logged
/// on `target`): `None` to read again, or how the read ends. `refusal` says whether the error reports a peer that is
/// not there (each kind of socket words it its own way): on a connected port that is counted
/// and ends the read as `Refused`, on an unconnected one there is no one to tell and it is
/// skipped (Twisted ignores it too). `EINTR` retries. Anything else is logged and counted in
/// `read_errors`, and reading goes on (an ICMP "host unreachable" is consumed by the receive
/// that reports it) until [`READ_ERRORS_BEFORE_CLOSING`] in a row say the socket is broken.
pub(crate) fn after_receive_error(
    target: &str,
    error: &io::Error,
    refusal: bool,
    connected: bool,
    counters: &PortCounters,
    port: &dyn Display,
    errors_in_a_row: &mut u32,
) -> Option<Received> {
    if error.kind() == io::ErrorKind::Interrupted {
        return None;
    }
    if refusal {
        if !connected {
            return None;
        }
        counters.refused.add(1);
        return Some(Received::Refused);
    }
    counters.read_errors.add(1);
    crate::failures::report_failure!(target: target, "{port}: receive failed: {error}");
    *errors_in_a_row += 1;
    (*errors_in_a_row == READ_ERRORS_BEFORE_CLOSING).then_some(Received::Broken)
}
