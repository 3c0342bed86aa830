//! [`Port`]: one UDP port's socket-side life in one place (Twisted's `udp.Port`): its socket,
//! addresses, peer, state and counters; receiving a batch, sending queued or direct writes,
//! taking socket errors, closing.
//!
//! A port is split in two so that handles can never keep its socket open:
//!
//! * [`Port`] is owned by the reactor's port table (through its entry). It holds the only
//!   strong reference to the socket: when the port is closed, or the reactor dropped, the
//!   socket closes, whatever handles remain.
//! * [`PortShared`] is what the port's [`Transport`]s share with it: addresses, state, peer,
//!   counters, and a weak reference to the socket for the calls that need one (socket
//!   options, connect, a write outside a loop turn). Everything a write checks before it
//!   queues (size, family, port 0, closed) lives here, so those checks fail at once wherever
//!   the write comes from.

use std::cell::{Cell, RefCell};
use std::io;
use std::net::SocketAddr;
use std::rc::{Rc, Weak};

use super::address::fit_family;
use super::outbox::Outbox;
use super::send_queue::Run;
use super::socket::PortSocket;
use super::transport::Transport;
use crate::defer::Deferred;
use crate::error::{InvalidAddress, WriteError};
use crate::stats::{PortCounters, PortStats};
use crate::sys::{self, RecvBatch, SendBatch};

/// Names one port for as long as the reactor lives: `key` is its slot in the port table (and
/// its `mio` token), `serial` is unique and never reused, so an id kept after its port closed
/// can never reach a later port in the same slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct PortId {
    pub key: usize,
    pub serial: u64,
}

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

/// The largest UDP payload over IPv4 (65,535 − 8 − 20).
const MAX_PAYLOAD_V4: usize = 65_507;
/// The largest UDP payload over IPv6 without jumbograms (65,535 − 8).
const MAX_PAYLOAD_V6: usize = 65_527;

/// The part of a port its transports share: everything but the socket itself.
pub(crate) struct PortShared {
    pub id: PortId,
    /// `"<protocol prefix> (UDP <address>)"`, for logs.
    pub name: Box<str>,
    pub local: SocketAddr,
    pub dual_stack: bool,
    pub max_packet: usize,
    pub outbox: Rc<Outbox>,
    pub counters: PortCounters,
    socket: Weak<PortSocket>,
    phase: Cell<Phase>,
    peer: Cell<Option<SocketAddr>>,
    /// `peer.is_some()`, kept apart so the write path tests one byte, not an address.
    connected: Cell<bool>,
    /// The Deferred `stop_listening` returned, fired when the port has closed.
    stopped: RefCell<Option<Deferred<()>>>,
    /// ICMP refusals seen by writes that still wait for `connection_refused`.
    refusals: Cell<u32>,
}

impl PortShared {
    #[inline]
    pub fn is_listening(&self) -> bool {
        self.phase.get() == Phase::Listening
    }

    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer.get()
    }

    /// The socket, while the port is open.
    pub fn socket(&self) -> Result<Rc<PortSocket>, WriteError> {
        match self.phase.get() {
            Phase::Closed => Err(WriteError::PortClosed),
            _ => self.socket.upgrade().ok_or(WriteError::PortClosed),
        }
    }

    /// Whether a write of `len` bytes to `to` passes every check as it is: the common case
    /// (an open, unconnected port; a destination of its family, not port 0; a size any UDP
    /// carries), tested in a few instructions. When false, [`destination`](Self::destination)
    /// and [`check_size`](Self::check_size) say what to do.
    #[inline]
    pub fn plain_destination(&self, to: &SocketAddr, len: usize) -> bool {
        self.phase.get() == Phase::Listening
            && !self.connected.get()
            && to.is_ipv4() == self.local.is_ipv4()
            && to.port() != 0
            && len <= MAX_PAYLOAD_V4
    }

    /// Where a write to `to` goes: `Some(to)` (fitted to the socket's family) on an
    /// unconnected port, `None` (the connected peer) on a connected one. Every check here
    /// needs no socket, so it fails at once, inside a loop turn or outside.
    #[inline]
    pub fn destination(&self, to: SocketAddr) -> Result<Option<SocketAddr>, WriteError> {
        if !self.is_listening() {
            return Err(WriteError::PortClosed);
        }
        if to.port() == 0 {
            return Err(WriteError::InvalidAddress(InvalidAddress {
                address: to.to_string(),
                reason: "port 0 is not a destination",
            }));
        }
        let to = fit_family(to, self.local, self.dual_stack)?;
        match self.peer.get() {
            None => Ok(Some(to)),
            Some(peer) if peer == to => Ok(None),
            Some(peer) => Err(WriteError::WrongPeer {
                connected: peer,
                given: to,
            }),
        }
    }

    /// The connected peer, for `write` without an address.
    pub fn connected_destination(&self) -> Result<Option<SocketAddr>, WriteError> {
        if !self.is_listening() {
            return Err(WriteError::PortClosed);
        }
        match self.peer.get() {
            Some(_) => Ok(None),
            None => Err(WriteError::NotConnected),
        }
    }

    /// Refuses a datagram larger than UDP can carry to `to` (`None`: the peer).
    #[inline]
    pub fn check_size(&self, len: usize, to: Option<SocketAddr>) -> Result<(), WriteError> {
        let limit = match to.or(self.peer.get()).unwrap_or(self.local) {
            SocketAddr::V4(_) => MAX_PAYLOAD_V4,
            SocketAddr::V6(v6) if v6.ip().to_ipv4_mapped().is_some() => MAX_PAYLOAD_V4,
            SocketAddr::V6(_) => MAX_PAYLOAD_V6,
        };
        if len > limit {
            return Err(WriteError::MessageLength { size: len });
        }
        Ok(())
    }

    /// Connects the socket to one peer (Twisted's rule: once).
    pub fn connect(&self, to: SocketAddr) -> Result<(), WriteError> {
        if self.peer.get().is_some() {
            return Err(WriteError::AlreadyConnected);
        }
        let socket = self.socket()?;
        let to = fit_family(to, self.local, self.dual_stack)?;
        socket.connect(to).map_err(WriteError::Io)?;
        self.peer.set(Some(to));
        self.connected.set(true);
        Ok(())
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

    /// Notes an ICMP refusal for `connection_refused` (connected ports only; on others the
    /// kernel does not report them this way).
    pub fn note_refusal(&self) {
        if self.peer.get().is_some() {
            self.refusals.set(self.refusals.get() + 1);
            self.outbox.note_refused(self.id);
        }
    }

    /// Takes the refusals waiting for `connection_refused`, counting them.
    pub fn take_refusals(&self) -> u32 {
        let n = self.refusals.replace(0);
        self.counters.refused.add(u64::from(n));
        n
    }

    pub fn stats(&self) -> PortStats {
        self.counters.snapshot()
    }

    /// Sends one datagram now, with UDP's rules: no room in the kernel drops and counts it, a
    /// refusal (connected ports) is noted for `connection_refused`, a datagram too long is the
    /// caller's error, anything else is returned.
    pub fn send_now(&self, data: &[u8], to: Option<SocketAddr>) -> Result<(), WriteError> {
        let socket = self.socket()?;
        loop {
            let sent = match to {
                Some(to) => socket.send_to(data, to),
                None => socket.send(data),
            };
            let error = match sent {
                Ok(n) => {
                    self.counters.datagrams_out.add(1);
                    self.counters.bytes_out.add(n as u64);
                    return Ok(());
                }
                Err(e) => e,
            };
            match sys::classify_send_error(&error) {
                sys::SendError::Interrupted => continue,
                sys::SendError::NoRoom => {
                    self.counters.send_drops.add(1);
                    log::debug!(target: "gyre::udp", "{}: no room in the kernel, datagram dropped ({error})", self.name);
                    return Ok(());
                }
                sys::SendError::TooLong => {
                    return Err(WriteError::MessageLength { size: data.len() });
                }
                sys::SendError::Refused if self.peer.get().is_some() => {
                    // The ICMP error answers an earlier datagram; this one was not sent. The
                    // protocol hears of it after the current callback, never from inside `write`.
                    self.note_refusal();
                    return Ok(());
                }
                _ => return Err(WriteError::Io(error)),
            }
        }
    }
}

/// What one batched receive produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Received {
    /// `n` datagrams in the batch, already counted; those longer than `limit` bytes were
    /// counted as truncated and must not be delivered.
    Datagrams { n: usize, limit: usize },
    /// An ICMP refusal for a connected port (counted).
    Refused,
    /// Nothing queued.
    Empty,
    /// The receive failed (logged and counted).
    Failed,
}

/// One open port, as the reactor owns it.
pub(crate) struct Port {
    transport: Transport,
    /// The only strong reference: dropping the port closes the socket.
    socket: Rc<PortSocket>,
    /// Whether UDP GSO may be used: probed once, off only if the kernel or device says no.
    gso: bool,
}

impl Port {
    /// A port around a bound socket; `name` is its log prefix.
    pub fn new(
        id: PortId,
        name: String,
        socket: PortSocket,
        local: SocketAddr,
        dual_stack: bool,
        max_packet: usize,
        outbox: Rc<Outbox>,
    ) -> Port {
        let gso = socket.gso_supported();
        let socket = Rc::new(socket);
        let shared = PortShared {
            id,
            name: name.into_boxed_str(),
            local,
            dual_stack,
            max_packet,
            outbox,
            counters: PortCounters::default(),
            socket: Rc::downgrade(&socket),
            phase: Cell::new(Phase::Listening),
            peer: Cell::new(None),
            connected: Cell::new(false),
            stopped: RefCell::new(None),
            refusals: Cell::new(0),
        };
        Port {
            transport: Transport::new(Rc::new(shared)),
            socket,
            gso,
        }
    }

    #[inline]
    pub fn shared(&self) -> &PortShared {
        self.transport.shared()
    }

    /// A handle on this port that may be kept.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    pub fn id(&self) -> PortId {
        self.shared().id
    }

    /// One batched receive; the batch's datagrams are counted here, once per batch.
    pub fn receive(&self, batch: &mut RecvBatch) -> Received {
        let shared = self.shared();
        let limit = shared.max_packet;
        loop {
            match self.socket.recv_batch(batch, limit + 1) {
                Ok(n) => {
                    self.count_received(batch, n, limit);
                    return Received::Datagrams { n, limit };
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Received::Empty,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    if shared.peer().is_none() {
                        continue; // no one to tell on an unconnected port (Twisted ignores it too)
                    }
                    shared.counters.refused.add(1);
                    return Received::Refused;
                }
                Err(e) => {
                    shared.counters.read_errors.add(1);
                    log::error!(target: "gyre::udp", "{}: receive failed: {e}", shared.name);
                    return Received::Failed;
                }
            }
        }
    }

    /// Counts a received batch in one pass: delivered datagrams and bytes, truncations (each
    /// logged), and the kernel's drop count when it came along.
    fn count_received(&self, batch: &RecvBatch, n: usize, limit: usize) {
        let shared = self.shared();
        let (mut delivered, mut bytes) = (0u64, 0u64);
        for i in 0..n {
            let len = batch.len(i);
            if len > limit {
                shared.counters.truncated.add(1);
                log::warn!(target: "gyre::udp",
                    "{}: dropped a datagram from {} longer than max_packet_size ({len} > {limit} bytes)",
                    shared.name, batch.from(i));
            } else {
                delivered += 1;
                bytes += len as u64;
            }
            if let Some(drops) = batch.drops(i) {
                shared.counters.kernel_drops.set(u64::from(drops));
            }
        }
        shared.counters.datagrams_in.add(delivered);
        shared.counters.bytes_in.add(bytes);
    }

    /// Error readiness: empties the error queue (so the loop cannot spin on it) and takes the
    /// pending socket error; a refusal on a connected port is noted for `connection_refused`.
    pub fn take_error(&self) {
        let shared = self.shared();
        match self.socket.take_error() {
            Ok(Some(e)) if e.kind() == io::ErrorKind::ConnectionRefused => shared.note_refusal(),
            Ok(Some(e)) => log::debug!(target: "gyre::udp", "{}: socket error {e}", shared.name),
            _ => {}
        }
    }

    /// Sends one port's run of queued datagrams: runs of same-destination, same-size
    /// datagrams with one GSO call each where the kernel can, the rest with `sendmmsg` (a
    /// lone datagram with one `send`).
    pub fn send_run(&mut self, run: &Run<'_>, batch: &mut SendBatch) {
        if run.len() == 1 {
            return self.send_lone(run, 0);
        }
        let mut i = 0;
        while i < run.len() {
            let same = if self.gso { run.same_shape(i) } else { 1 };
            i += if same >= 2 {
                match self.send_gso(run, i, same, batch) {
                    Gso::Done(went) => went,
                    Gso::Fallback => {
                        self.send_plain(run, i, same, batch);
                        same
                    }
                }
            } else {
                let k = if self.gso {
                    run.plain_run(i)
                } else {
                    run.len() - i
                };
                self.send_plain(run, i, k, batch);
                k
            };
        }
    }

    /// One GSO send of entries `i..i + same`; says how far the run got, or to fall back.
    fn send_gso(&mut self, run: &Run<'_>, i: usize, same: usize, batch: &mut SendBatch) -> Gso {
        let (size, to) = (run.len_of(i), run.to(i));
        let error = loop {
            match self
                .socket
                .send_segments(batch, same, |k| run.data(i + k), size, to)
            {
                Ok(()) => {
                    self.count_sent(same as u64, (size * same) as u64);
                    self.shared().counters.gso_sends.add(1);
                    return Gso::Done(same);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break e,
            }
        };
        let shared = self.transport.shared();
        match sys::classify_send_error(&error) {
            sys::SendError::NoRoom => {
                shared.counters.send_drops.add(same as u64);
                Gso::Done(same)
            }
            sys::SendError::Refused if shared.peer().is_some() => {
                shared.note_refusal(); // an earlier datagram's ICMP: the first of these is lost
                Gso::Done(1)
            }
            _ if sys::gso_refused_by_device(&error) => {
                // The device or route cannot offload the checksum: the kernel's own answer
                // about this capability. Send this port's datagrams one by one from now on.
                log::debug!(target: "gyre::udp", "{}: UDP GSO refused by the route ({error}); sending datagrams one by one", shared.name);
                self.gso = false;
                Gso::Fallback
            }
            // EINVAL (a segment larger than the path MTU, …) or anything else: send this run
            // the ordinary way; GSO stays on for the next.
            _ => Gso::Fallback,
        }
    }

    /// Sends entries `i..i + k` with `sendmmsg`, going past datagrams the kernel refuses.
    fn send_plain(&mut self, run: &Run<'_>, i: usize, k: usize, batch: &mut SendBatch) {
        let end = i + k;
        let mut j = i;
        while j < end {
            let asked = (end - j).min(sys::BATCH);
            match self
                .socket
                .send_batch(batch, asked, |m| (run.data(j + m), run.to(j + m)))
            {
                Ok(sent) => {
                    let bytes: usize = (j..j + sent).map(|m| run.len_of(m)).sum();
                    self.count_sent(sent as u64, bytes as u64);
                    j += sent;
                    if sent < asked {
                        // The kernel stopped early and, after the first datagram of a batch,
                        // does not say why: one send of the next datagram tells.
                        if self.send_one(run, j).is_ok() {
                            // It went: the batch met an error that one send consumed. On a
                            // connected port that is an earlier datagram's ICMP refusal.
                            self.shared().note_refusal();
                        }
                        j += 1;
                    }
                }
                Err(error) => {
                    if sys::classify_send_error(&error) == sys::SendError::Interrupted {
                        continue;
                    }
                    self.lose_queued(&error);
                    j += 1; // this datagram is lost; the rest still go
                }
            }
        }
    }

    /// Sends a run's only datagram.
    fn send_lone(&mut self, run: &Run<'_>, j: usize) {
        let _ = self.send_one(run, j);
    }

    /// Sends datagram `j` with one system call: counted when it goes, lost (and counted, or
    /// noted as a refusal) when the kernel refuses it.
    fn send_one(&mut self, run: &Run<'_>, j: usize) -> Result<(), ()> {
        loop {
            let sent = match run.to(j) {
                Some(to) => self.socket.send_to(run.data(j), to),
                None => self.socket.send(run.data(j)),
            };
            match sent {
                Ok(n) => {
                    self.count_sent(1, n as u64);
                    return Ok(());
                }
                Err(e) if sys::classify_send_error(&e) == sys::SendError::Interrupted => {}
                Err(e) => {
                    self.lose_queued(&e);
                    return Err(());
                }
            }
        }
    }

    /// A queued datagram the kernel refused: counted, or noted as a refusal.
    fn lose_queued(&self, error: &io::Error) {
        let shared = self.shared();
        match sys::classify_send_error(error) {
            sys::SendError::NoRoom => shared.counters.send_drops.add(1),
            sys::SendError::Refused if shared.peer().is_some() => shared.note_refusal(),
            _ => {
                shared.counters.send_drops.add(1);
                log::warn!(target: "gyre::udp", "{}: a queued datagram was not sent: {error}", shared.name);
            }
        }
    }

    fn count_sent(&self, datagrams: u64, bytes: u64) {
        let counters = &self.shared().counters;
        counters.datagrams_out.add(datagrams);
        counters.bytes_out.add(bytes);
    }

    /// Stops reading (deregisters the socket) and marks the port closed; returns the Deferred
    /// `stop_listening` gave out, to fire once the port is gone. The socket itself closes when
    /// the port is dropped.
    pub fn close(&mut self, registry: &mio::Registry) -> Option<Deferred<()>> {
        let shared = self.shared();
        if let Err(e) = self.socket.deregister(registry) {
            log::debug!(target: "gyre::udp", "{}: deregister: {e}", shared.name);
        }
        shared.phase.set(Phase::Closed);
        shared.stopped.borrow_mut().take()
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        self.shared().phase.set(Phase::Closed);
    }
}

/// How a GSO attempt ended.
enum Gso {
    /// The first `n` entries are done with (sent, dropped or refused).
    Done(usize),
    /// Send the run the ordinary way.
    Fallback,
}
