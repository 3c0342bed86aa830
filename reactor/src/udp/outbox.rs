//! [`Outbox`]: how a [`Transport`](super::Transport) kept outside a callback reaches the loop.
//!
//! The reactor owns its ports; a transport held by a timer, a Deferred callback or `main`
//! cannot borrow them. What it asks for goes here instead, and the loop picks it up:
//!
//! * writes made while the loop runs a turn (they leave with the turn's other writes, in the
//!   order they were made: the lent transport absorbs this queue before it queues);
//! * ports asked to stop, ports with errors to report (ICMP refusals, ICMP errors), in-memory
//!   ports that were handed a datagram: the loop's lifecycle, error and read steps take them.
//!
//! The outbox holds no socket: keeping a transport (and so the outbox) alive never keeps a
//! port open. None of its `RefCell`s is borrowed on the path that echoes a datagram.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;

use super::port::PortId;
use super::send_queue::SendQueue;

/// Port work the loop picks up on its next steps.
#[derive(Debug, Default)]
pub(crate) struct PortWork {
    /// Ports whose `stop_listening` was called.
    pub stopping: Vec<PortId>,
    /// Ports with errors to report: refusals waiting for `connection_refused`, ICMP errors
    /// waiting for `icmp_error`.
    pub reporting: Vec<PortId>,
    /// In-memory ports handed datagrams by a test: read them.
    pub readable: Vec<PortId>,
}

/// What handles post for the loop; one per reactor, shared by all its ports.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    /// True from the loop's poll until its flush step: writes queue and leave in batches.
    in_turn: Cell<bool>,
    /// Set once the reactor is gone.
    closed: Cell<bool>,
    writes: RefCell<SendQueue>,
    has_writes: Cell<bool>,
    /// The writes' queue still holds storage a burst made it grow.
    writes_grown: Cell<bool>,
    work: RefCell<PortWork>,
    has_work: Cell<bool>,
}

impl Outbox {
    /// Whether the loop is inside a turn, where writes queue.
    #[inline]
    pub fn in_turn(&self) -> bool {
        self.in_turn.get()
    }

    pub fn set_in_turn(&self, on: bool) {
        self.in_turn.set(on);
    }

    pub fn close(&self) {
        self.closed.set(true);
        self.in_turn.set(false);
    }

    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }

    /// Queues a copy of a write made through a kept transport during a turn (one datagram of
    /// `len` bytes, in `parts`); false if the queue is full (the datagram is dropped).
    pub fn queue_write(
        &self,
        port: PortId,
        to: Option<SocketAddr>,
        parts: &[&[u8]],
        len: usize,
    ) -> bool {
        let queued = self.writes.borrow_mut().push_parts(port, to, parts, len);
        self.has_writes.set(true);
        queued
    }

    /// Whether writes through kept transports wait here.
    #[inline]
    pub fn has_writes(&self) -> bool {
        self.has_writes.get()
    }

    /// Whether a flush has something to do here: writes to move, or storage a burst grew to
    /// give back.
    #[inline]
    pub fn needs_absorbing(&self) -> bool {
        self.has_writes.get() || self.writes_grown.get()
    }

    /// Moves the writes queued here to the end of `queue`, keeping their order.
    /// Each call also lets the queue here give back storage a burst made it grow.
    #[inline]
    pub fn absorb_into(&self, queue: &mut SendQueue) {
        if self.needs_absorbing() {
            let mut writes = self.writes.borrow_mut();
            queue.absorb(&mut writes);
            writes.relax();
            self.writes_grown.set(writes.holds_extra());
            self.has_writes.set(false);
        }
    }

    /// Drops every queued write (the reactor is going away).
    pub fn discard_writes(&self) {
        *self.writes.borrow_mut() = SendQueue::default();
        self.has_writes.set(false);
    }

    pub fn note_stopping(&self, id: PortId) {
        self.work.borrow_mut().stopping.push(id);
        self.has_work.set(true);
    }

    pub fn note_reports(&self, id: PortId) {
        self.work.borrow_mut().reporting.push(id);
        self.has_work.set(true);
    }

    pub fn note_readable(&self, id: PortId) {
        self.work.borrow_mut().readable.push(id);
        self.has_work.set(true);
    }

    /// Whether port work or writes wait for the loop.
    #[inline]
    pub fn has_work(&self) -> bool {
        self.has_work.get() || self.has_writes.get()
    }

    /// Takes the ports asked to stop.
    pub fn take_stopping(&self) -> Vec<PortId> {
        self.take(|w| &mut w.stopping)
    }

    /// Takes the ports with errors to report.
    pub fn take_reporting(&self) -> Vec<PortId> {
        self.take(|w| &mut w.reporting)
    }

    /// Appends the in-memory ports with datagrams waiting to `into`.
    #[inline]
    pub fn take_readable(&self, into: &mut Vec<PortId>) {
        if self.has_work.get() {
            into.append(&mut self.work.borrow_mut().readable);
            self.update();
        }
    }

    fn take(&self, list: impl FnOnce(&mut PortWork) -> &mut Vec<PortId>) -> Vec<PortId> {
        if !self.has_work.get() {
            return Vec::new();
        }
        let taken = std::mem::take(list(&mut self.work.borrow_mut()));
        self.update();
        taken
    }

    fn update(&self) {
        let w = self.work.borrow();
        self.has_work
            .set(!(w.stopping.is_empty() && w.reporting.is_empty() && w.readable.is_empty()));
    }
}
