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
use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::rc::{Rc, Weak};

use super::address::fit_family;
use super::icmp::IcmpError;
use super::outbox::Outbox;
use super::send_queue::{QueuedRun, Runs};
use super::socket::PortSocket;
use super::transport::Transport;
use crate::defer::Deferred;
use crate::error::{InvalidAddress, WriteError};
use crate::port_state::{Phase, PortState, after_receive_error};
use crate::stats::{PortCounters, PortStats};
use crate::sys::{self, ErrorReport, RecvBatch, SendBatch};

/// Names one port for as long as the reactor lives: `key` is its slot in the port table (and
/// its `mio` token), `serial` is unique and never reused, so an id kept after its port closed
/// can never reach a later port in the same slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct PortId {
    pub key: usize,
    pub serial: u64,
}

/// The largest UDP payload over IPv4 (65,535 − 8 − 20).
const MAX_PAYLOAD_V4: usize = 65_507;
/// The largest UDP payload over IPv6 without jumbograms (65,535 − 8).
const MAX_PAYLOAD_V6: usize = 65_527;

/// The part of a port its transports share: everything but the socket itself.
pub(crate) struct PortShared {
    /// Its id and the outbox, listening, stopping or closed, the stop Deferred, refusals.
    pub state: PortState,
    /// The protocol's log prefix (`"Echo"`), for logs and `str(port)`.
    pub prefix: Box<str>,
    pub local: SocketAddr,
    pub dual_stack: bool,
    pub max_packet: usize,
    pub counters: PortCounters,
    socket: Weak<PortSocket>,
    peer: Cell<Option<SocketAddr>>,
    /// `peer.is_some()`, kept apart so the write path tests one byte, not an address.
    connected: Cell<bool>,
    /// Whether a reply to a datagram's sender leaves from the address the datagram reached:
    /// the port reads destinations (`IP_PKTINFO`) and is bound to a wildcard address.
    pub reply_from: bool,
    /// `connected || reply_from`: a write must take the full checks, not the fast path.
    slow_writes: Cell<bool>,
    /// Whether the socket reports ICMP errors (`IP_RECVERR`): they wait here for the loop's
    /// report step, and a send may meet (and consume) one meant for an earlier datagram.
    icmp_errors: bool,
    icmp_pending: RefCell<VecDeque<IcmpError>>,
}

/// ICMP errors one port keeps waiting for `icmp_error`; more are counted, not kept.
const ICMP_PENDING_MAX: usize = 1024;
/// Sends retried after failing with an earlier datagram's ICMP error (see
/// [`PortShared::retry_after`]).
const SEND_RETRIES: u8 = 4;

impl PortShared {
    #[inline]
    pub fn id(&self) -> PortId {
        self.state.id
    }

    /// The reactor's outbox, through which writes and port work reach the loop.
    #[inline]
    pub fn outbox(&self) -> &Outbox {
        &self.state.outbox
    }

    /// How gyre's logs name the port: `Echo (UDP 127.0.0.1:9999)`.
    pub fn name(&self) -> impl std::fmt::Display + '_ {
        PortName(self)
    }

    #[inline]
    pub fn is_listening(&self) -> bool {
        self.state.is_listening()
    }

    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer.get()
    }

    /// The socket, while the port is open.
    pub fn socket(&self) -> Result<Rc<PortSocket>, WriteError> {
        match self.state.phase() {
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
        self.state.is_listening()
            && !self.slow_writes.get()
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
        self.slow_writes.set(true);
        Ok(())
    }

    /// Marks the port stopping and returns the Deferred that fires once it has closed (see
    /// [`PortState::stop`]).
    pub fn stop(&self) -> Deferred<()> {
        self.state.stop()
    }

    /// Notes an ICMP refusal for `connection_refused` (connected ports only; on others the
    /// kernel does not report them this way).
    pub fn note_refusal(&self) {
        if self.peer.get().is_some() {
            self.state.note_refusal();
        }
    }

    /// Takes the refusals waiting for `connection_refused`, counting them.
    pub fn take_refusals(&self) -> u32 {
        self.state.take_refusals(&self.counters.refused)
    }

    /// Files an error-queue entry for `icmp_error` (ports that report ICMP errors only):
    /// counted, and kept unless [`ICMP_PENDING_MAX`] already wait.
    fn queue_icmp(&self, report: &ErrorReport) {
        if !self.icmp_errors {
            return;
        }
        let Some(error) = IcmpError::from_report(report) else {
            return;
        };
        self.counters.icmp_errors.add(1);
        let mut pending = self.icmp_pending.borrow_mut();
        if pending.len() >= ICMP_PENDING_MAX {
            log::debug!(target: "gyre::udp", "{}: {error} (not passed on: {ICMP_PENDING_MAX} wait already)", self.name());
            return;
        }
        if pending.is_empty() {
            self.state.note_reports(); // the loop's error step takes it
        }
        pending.push_back(error);
    }

    /// The next ICMP error waiting for `icmp_error`.
    pub fn next_icmp(&self) -> Option<IcmpError> {
        self.icmp_pending.borrow_mut().pop_front()
    }

    /// Whether a failed send should be tried again: on a port that reports ICMP errors and
    /// is not connected, the kernel fails the next send with an ICMP error meant for an
    /// earlier datagram (and clears it), so such a failure is not this datagram's. Up to
    /// [`SEND_RETRIES`] times: more ICMP errors may arrive meanwhile, but not forever.
    #[cold]
    pub fn retry_after(&self, error: &io::Error, retried: &mut u8) -> bool {
        let retry = self.icmp_errors
            && *retried < SEND_RETRIES
            && !self.connected.get()
            && !matches!(
                sys::classify_send_error(error),
                sys::SendError::Interrupted | sys::SendError::NoRoom
            );
        *retried += u8::from(retry);
        retry
    }

    /// Makes one send, again while it fails with `EINTR` or with an earlier datagram's ICMP
    /// error ([`retry_after`](Self::retry_after)): what the last try returned. Every send
    /// path goes through here.
    #[inline]
    pub fn send_retrying<T>(&self, mut send: impl FnMut() -> io::Result<T>) -> io::Result<T> {
        let mut retried = 0;
        loop {
            match send() {
                Err(e)
                    if e.kind() == io::ErrorKind::Interrupted
                        || self.retry_after(&e, &mut retried) => {}
                result => return result,
            }
        }
    }

    /// Whether a receive error is an ICMP report for an unconnected port that reports them
    /// (its error queue has it: nothing more to do here).
    pub fn reported_elsewhere(&self, error: &io::Error) -> bool {
        self.icmp_errors && !self.connected.get() && sys::is_icmp_errno(error)
    }

    pub fn stats(&self) -> PortStats {
        self.counters.snapshot()
    }

    /// Sends one datagram (`len` bytes in `parts`) now, with UDP's rules, retrying on
    /// EINTR: no room in the kernel drops and counts it, a refusal (connected ports) is noted
    /// for `connection_refused`, a datagram too long is the caller's error, anything else is
    /// returned.
    pub fn send_now(
        &self,
        parts: &[&[u8]],
        len: usize,
        to: Option<SocketAddr>,
    ) -> Result<(), WriteError> {
        let socket = self.socket()?;
        let error = match self.send_retrying(|| socket.send_parts(parts, to)) {
            Ok(n) => {
                self.counters.count_sent(1, n as u64);
                return Ok(());
            }
            Err(e) => e,
        };
        match sys::classify_send_error(&error) {
            sys::SendError::NoRoom => {
                self.counters.send_drops.add(1);
                log::debug!(target: "gyre::udp", "{}: no room in the kernel, datagram dropped ({error})", self.name());
                Ok(())
            }
            sys::SendError::TooLong => Err(WriteError::MessageLength { size: len }),
            sys::SendError::Refused if self.peer.get().is_some() => {
                // The ICMP error answers an earlier datagram; this one was not sent. The
                // protocol hears of it after the current callback, never from inside `write`.
                self.note_refusal();
                Ok(())
            }
            _ => Err(WriteError::Io(error)),
        }
    }
}

/// A bound socket about to become a port.
pub(crate) struct NewPort {
    pub socket: PortSocket,
    /// The address asked for (for errors).
    pub address: SocketAddr,
    pub local: SocketAddr,
    pub dual_stack: bool,
    pub max_packet: usize,
    /// Whether the socket queues ICMP errors (`IP_RECVERR`) for the port to report.
    pub icmp_errors: bool,
    /// Whether replies leave from the address their request reached (see
    /// [`PortShared::reply_from`]).
    pub reply_from: bool,
    /// Whether the socket receives coalesced trains (`UDP_GRO`).
    pub gro: bool,
}

impl NewPort {
    /// A bound OS socket, to open as a port (`address`: the address asked for).
    pub fn os(
        socket: mio::net::UdpSocket,
        address: SocketAddr,
        max_packet: usize,
    ) -> io::Result<NewPort> {
        let local = socket.local_addr()?;
        let dual_stack = local.is_ipv6() && !sys::only_v6(&socket).unwrap_or(true);
        Ok(NewPort {
            socket: PortSocket::Os(socket),
            address,
            local,
            dual_stack,
            max_packet,
            icmp_errors: false,
            reply_from: false,
            gro: false,
        })
    }
}

/// What one batched receive produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Received {
    /// `n` datagrams in the batch, already counted; those longer than `limit` bytes were
    /// counted as truncated and must not be delivered.
    Datagrams { n: usize, limit: usize },
    /// `n` slots, some holding several datagrams the kernel coalesced (UDP GRO; see
    /// [`segments`]), already counted; datagrams longer than `limit` must not be delivered.
    Coalesced { n: usize, limit: usize },
    /// An ICMP refusal for a connected port (counted).
    Refused,
    /// Nothing queued.
    Empty,
    /// Every receive failed, [`READ_ERRORS_BEFORE_CLOSING`] times in a row (each logged and
    /// counted): the socket is broken.
    Broken,
}

/// The lengths of the datagrams in a slot of `len` bytes: one datagram, or, when the kernel
/// coalesced several of `size` bytes (UDP GRO), that many, the last maybe shorter.
pub(crate) fn segments(len: usize, size: Option<usize>) -> impl Iterator<Item = usize> {
    let size = match size {
        Some(size) if size > 0 && len > size => size,
        _ => len.max(1), // one datagram (an empty one too)
    };
    let count = len.div_ceil(size).max(1);
    (0..count).map(move |k| (len - k * size).min(size))
}

/// Receive errors in a row after which a port is closed (its protocol gets `stop_protocol`):
/// a socket that fails every read would otherwise keep the loop spinning. Fewer are logged,
/// counted in `read_errors`, and reading goes on (Twisted closes the port at the first).
pub const READ_ERRORS_BEFORE_CLOSING: u32 = 16;

/// One open port, as the reactor owns it.
pub(crate) struct Port {
    transport: Transport,
    /// The only strong reference: dropping the port closes the socket.
    socket: Rc<PortSocket>,
    /// Whether UDP GSO may be used: probed once, off only if the kernel or device says no.
    gso: bool,
    /// Whether the socket receives coalesced trains of datagrams (UDP GRO).
    gro: bool,
    /// The room a receive gives each datagram: one byte more than the largest delivered, so
    /// a longer one shows as truncated; a whole slot with GRO, where a buffer may hold a
    /// train of up to 64 KiB whatever the datagrams' size.
    room: usize,
}

impl Port {
    /// A port around a bound socket; `prefix` is its protocol's log prefix.
    pub fn new(id: PortId, prefix: String, new: NewPort, outbox: Rc<Outbox>) -> Port {
        let gso = new.socket.gso_supported();
        let socket = Rc::new(new.socket);
        let shared = PortShared {
            state: PortState::new(id, outbox),
            prefix: prefix.into_boxed_str(),
            local: new.local,
            dual_stack: new.dual_stack,
            max_packet: new.max_packet,
            counters: PortCounters::default(),
            socket: Rc::downgrade(&socket),
            peer: Cell::new(None),
            connected: Cell::new(false),
            reply_from: new.reply_from,
            slow_writes: Cell::new(new.reply_from),
            icmp_errors: new.icmp_errors,
            icmp_pending: RefCell::new(VecDeque::new()),
        };
        Port {
            transport: Transport::new(Rc::new(shared)),
            socket,
            gso,
            gro: new.gro,
            room: if new.gro {
                sys::SLOT
            } else {
                new.max_packet + 1
            },
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
        self.shared().id()
    }

    /// One batched receive; the batch's datagrams are counted here, once per batch.
    pub fn receive(&self, batch: &mut RecvBatch) -> Received {
        let shared = self.shared();
        let limit = shared.max_packet;
        let mut errors = 0;
        loop {
            match self.socket.recv_batch(batch, self.room) {
                Ok(n) if self.gro => return self.count_coalesced(batch, n, limit),
                Ok(n) => {
                    self.count_received(batch, n, limit);
                    return Received::Datagrams { n, limit };
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Received::Empty,
                Err(e) => {
                    let refusal = e.kind() == io::ErrorKind::ConnectionRefused
                        || shared.reported_elsewhere(&e);
                    let connected = shared.peer().is_some();
                    let (counters, name) = (&shared.counters, shared.name());
                    if let Some(end) = after_receive_error(
                        "gyre::udp",
                        &e,
                        refusal,
                        connected,
                        counters,
                        &name,
                        &mut errors,
                    ) {
                        return end;
                    }
                }
            }
        }
    }

    /// Counts a received batch in one pass over its lengths: delivered datagrams and bytes,
    /// truncations (each then logged), and the kernel's drop count (cumulative: the last
    /// datagram carries the latest).
    fn count_received(&self, batch: &RecvBatch, n: usize, limit: usize) {
        let counters = &self.shared().counters;
        let (mut delivered, mut bytes) = (0u64, 0u64);
        for len in batch.lens(n) {
            if len <= limit {
                delivered += 1;
                bytes += len as u64;
            }
        }
        counters.datagrams_in.add(delivered);
        counters.bytes_in.add(bytes);
        if delivered < n as u64 {
            self.report_truncated(batch, n, limit);
        }
        if let Some(drops) = n.checked_sub(1).and_then(|last| batch.drops(last)) {
            counters.kernel_drops.set(u64::from(drops));
        }
    }

    /// Counts a batch on a GRO port, where a slot may hold several datagrams; says whether
    /// any did.
    #[cold]
    fn count_coalesced(&self, batch: &RecvBatch, n: usize, limit: usize) -> Received {
        let counters = &self.shared().counters;
        let mut coalesced = false;
        for i in 0..n {
            let (len, size) = (batch.len(i), batch.segment_size(i));
            if size.is_some_and(|size| len > size) {
                coalesced = true;
                counters.gro_receives.add(1);
            }
            for part in segments(len, size) {
                if part <= limit {
                    counters.datagrams_in.add(1);
                    counters.bytes_in.add(part as u64);
                } else {
                    counters.truncated.add(1);
                    log::warn!(target: "gyre::udp",
                        "{}: dropped a datagram from {} longer than max_packet_size ({part} > {limit} bytes)",
                        self.shared().name(), batch.from(i));
                }
            }
        }
        if let Some(drops) = n.checked_sub(1).and_then(|last| batch.drops(last)) {
            counters.kernel_drops.set(u64::from(drops));
        }
        match coalesced {
            true => Received::Coalesced { n, limit },
            false => Received::Datagrams { n, limit },
        }
    }

    #[cold]
    fn report_truncated(&self, batch: &RecvBatch, n: usize, limit: usize) {
        let shared = self.shared();
        for (i, len) in batch.lens(n).enumerate().filter(|&(_, len)| len > limit) {
            shared.counters.truncated.add(1);
            log::warn!(target: "gyre::udp",
                "{}: dropped a datagram from {} longer than max_packet_size ({len} > {limit} bytes)",
                shared.name(), batch.from(i));
        }
    }

    /// Error readiness: empties the error queue (so the loop cannot spin on it; on a port that
    /// reports ICMP errors each entry waits for `icmp_error`) and takes the pending socket
    /// error; a refusal on a connected port is noted for `connection_refused`.
    pub fn take_error(&self) {
        let shared = self.shared();
        match self.socket.take_error(|report| shared.queue_icmp(&report)) {
            Ok(Some(e)) if e.kind() == io::ErrorKind::ConnectionRefused => shared.note_refusal(),
            Ok(Some(e)) => log::debug!(target: "gyre::udp", "{}: socket error {e}", shared.name()),
            _ => {}
        }
    }

    /// Sends one port's queued runs, in order: a run of two or more datagrams with one GSO
    /// send where the kernel can, everything else with `sendmmsg` (a lone datagram with one
    /// `send`).
    pub fn send_runs(&mut self, runs: &Runs<'_>, batch: &mut SendBatch) {
        if self.shared().reply_from {
            return self.send_runs_from(runs, batch);
        }
        self.send_batched(runs, batch);
    }

    /// [`send_runs`](Self::send_runs) on a port whose replies may leave from the address
    /// their request reached: a run with a source goes with one `sendmsg` naming it, the
    /// stretches between such runs as usual.
    #[cold]
    fn send_runs_from(&mut self, runs: &Runs<'_>, batch: &mut SendBatch) {
        let list = runs.runs();
        let mut a = 0;
        while a < list.len() {
            if runs.source(&list[a]).is_some() {
                let _ = self.send_one(runs, Cursor { run: a, k: 0 });
                a += 1;
                continue;
            }
            let mut b = a + 1;
            while b < list.len() && runs.source(&list[b]).is_none() {
                b += 1;
            }
            self.send_batched(&runs.slice(a..b), batch);
            a = b;
        }
    }

    /// Sends runs without sources: GSO, `sendmmsg`, or one `send`. (Inlined into
    /// `send_runs`, the path every port takes.)
    #[inline(always)]
    fn send_batched(&mut self, runs: &Runs<'_>, batch: &mut SendBatch) {
        let list = runs.runs();
        let mut at = Cursor { run: 0, k: 0 };
        if list.len() == 1 && list[0].count() == 1 {
            let _ = self.send_one(runs, at); // a lone reply: one send
            return;
        }
        while at.run < list.len() {
            if self.gso && list[at.run].count() - at.k >= 2 {
                match self.send_gso(runs, &list[at.run], at.k, batch) {
                    Gso::Done(went) => {
                        at = at.advance(list, went);
                        continue;
                    }
                    Gso::Fallback => {
                        let end = Cursor {
                            run: at.run + 1,
                            k: 0,
                        };
                        self.send_plain(runs, at, end, batch);
                        at = end;
                        continue;
                    }
                }
            }
            // Up to the next run GSO will take (or the end).
            let mut end = Cursor {
                run: at.run + 1,
                k: 0,
            };
            while end.run < list.len() && !(self.gso && list[end.run].count() >= 2) {
                end.run += 1;
            }
            self.send_plain(runs, at, end, batch);
            at = end;
        }
    }

    /// One GSO send of the datagrams of `run` from its `k`th on; says how many it dealt with
    /// (sent, dropped, or lost to a refusal), or to send them the ordinary way.
    fn send_gso(
        &mut self,
        runs: &Runs<'_>,
        run: &QueuedRun,
        k: usize,
        batch: &mut SendBatch,
    ) -> Gso {
        let (n, size) = (run.count() - k, run.len());
        let sent = self.shared().send_retrying(|| {
            self.socket
                .send_segments(batch, runs.segments(run, k), size, run.to())
        });
        let Err(error) = sent else {
            self.shared()
                .counters
                .count_sent(n as u64, (size * n) as u64);
            self.shared().counters.gso_sends.add(1);
            return Gso::Done(n);
        };
        let shared = self.transport.shared();
        match sys::classify_send_error(&error) {
            sys::SendError::NoRoom => {
                shared.counters.send_drops.add(n as u64);
                Gso::Done(n)
            }
            sys::SendError::Refused if shared.peer().is_some() => {
                shared.note_refusal(); // an earlier datagram's ICMP: the first of these is lost
                Gso::Done(1)
            }
            _ if sys::gso_refused_by_device(&error) => {
                // The device or route cannot offload the checksum: the kernel's own answer
                // about this capability. Send this port's datagrams one by one from now on.
                log::debug!(target: "gyre::udp", "{}: UDP GSO refused by the route ({error}); sending datagrams one by one", shared.name());
                self.gso = false;
                Gso::Fallback
            }
            // EINVAL (a segment larger than the path MTU, …) or anything else: send this run
            // the ordinary way; GSO stays on for the next.
            _ => Gso::Fallback,
        }
    }

    /// Sends the datagrams from `at` up to `end` with `sendmmsg`, going past those the kernel
    /// refuses (a lone one with one `send`).
    fn send_plain(&mut self, runs: &Runs<'_>, mut at: Cursor, end: Cursor, batch: &mut SendBatch) {
        let list = runs.runs();
        let mut left = at.distance(list, end);
        if left == 1 {
            let _ = self.send_one(runs, at);
            return;
        }
        while left > 0 {
            let asked = left.min(sys::BATCH);
            let result = self.shared().send_retrying(|| {
                let mut next = at;
                self.socket.send_batch(batch, asked, |_| {
                    let run = &list[next.run];
                    let data = runs.data(run, next.k);
                    next = next.advance(list, 1);
                    (data, run.to())
                })
            });
            match result {
                Ok(sent) => {
                    self.shared()
                        .counters
                        .count_sent(sent as u64, at.bytes(list, sent));
                    at = at.advance(list, sent);
                    left -= sent;
                    if sent < asked {
                        // The kernel stopped early and, after the first datagram of a batch,
                        // does not say why: one send of the next datagram tells.
                        if self.send_one(runs, at).is_ok() {
                            // It went: the batch met an error that one send consumed. On a
                            // connected port that is an earlier datagram's ICMP refusal.
                            self.shared().note_refusal();
                        }
                        at = at.advance(list, 1);
                        left -= 1;
                    }
                }
                Err(error) => {
                    self.lose_queued(&error);
                    at = at.advance(list, 1); // this datagram is lost; the rest still go
                    left -= 1;
                }
            }
        }
    }

    /// Sends the datagram at `at` with one system call: counted when it goes, lost (and
    /// counted, or noted as a refusal) when the kernel refuses it.
    fn send_one(&mut self, runs: &Runs<'_>, at: Cursor) -> Result<(), ()> {
        let run = &runs.runs()[at.run];
        self.send_datagram(runs.data(run, at.k), run.to(), runs.source(run))
    }

    /// Sends a reply written while the send queue is empty, from a batch of one datagram
    /// (see `TransportMut::lone`): one system call, as if queued and flushed at once, so a
    /// failure is counted (or noted as a refusal) as a queued datagram's would be.
    pub fn send_lone(&mut self, data: &[u8], to: SocketAddr) {
        let _ = self.send_datagram(data, Some(to), None);
    }

    fn send_datagram(
        &mut self,
        data: &[u8],
        to: Option<SocketAddr>,
        source: Option<(IpAddr, u32)>,
    ) -> Result<(), ()> {
        let sent = self.shared().send_retrying(|| match (&to, &source) {
            (Some(to), Some(from)) => self.socket.send_from(data, *to, *from),
            (Some(to), None) => self.socket.send_to(data, *to),
            (None, _) => self.socket.send(data),
        });
        match sent {
            Ok(n) => {
                self.shared().counters.count_sent(1, n as u64);
                Ok(())
            }
            Err(e) => {
                self.lose_queued(&e);
                Err(())
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
                log::warn!(target: "gyre::udp", "{}: a queued datagram was not sent: {error}", shared.name());
            }
        }
    }

    /// Stops reading (deregisters the socket) and marks the port closed; returns the Deferred
    /// `stop_listening` gave out, to fire once the port is gone. The socket itself closes when
    /// the port is dropped.
    pub fn close(&mut self, registry: &mio::Registry) -> Option<Deferred<()>> {
        let shared = self.shared();
        if let Err(e) = self.socket.deregister(registry) {
            log::debug!(target: "gyre::udp", "{}: deregister: {e}", shared.name());
        }
        shared.state.close()
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        self.shared().state.mark_closed();
    }
}

/// How a GSO attempt ended.
enum Gso {
    /// The first `n` datagrams are done with (sent, dropped or refused).
    Done(usize),
    /// Send the run the ordinary way.
    Fallback,
}

/// A position among a port's queued runs: datagram `k` of run `run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    run: usize,
    k: usize,
}

impl Cursor {
    /// The position `n` datagrams further on.
    #[inline]
    fn advance(mut self, runs: &[QueuedRun], mut n: usize) -> Cursor {
        while n > 0 {
            let left = runs[self.run].count() - self.k;
            if n < left {
                self.k += n;
                break;
            }
            n -= left;
            self.run += 1;
            self.k = 0;
        }
        self
    }

    /// Datagrams from here to `end`.
    fn distance(self, runs: &[QueuedRun], end: Cursor) -> usize {
        let whole: usize = runs[self.run..end.run].iter().map(QueuedRun::count).sum();
        whole - self.k + end.k
    }

    /// The bytes of the `n` datagrams from here.
    fn bytes(self, runs: &[QueuedRun], n: usize) -> u64 {
        let (mut at, mut n, mut bytes) = (self, n, 0);
        while n > 0 {
            let run = &runs[at.run];
            let take = n.min(run.count() - at.k);
            bytes += (take * run.len()) as u64;
            n -= take;
            at = at.advance(runs, take);
        }
        bytes
    }
}

/// [`PortShared::name`]: the protocol's prefix and the port's address.
struct PortName<'a>(&'a PortShared);

impl std::fmt::Display for PortName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (UDP {})", self.0.prefix, self.0.local)
    }
}

#[cfg(test)]
mod tests {
    use super::segments;

    #[test]
    fn a_slot_splits_into_its_datagrams() {
        let split = |len, size| segments(len, size).collect::<Vec<_>>();
        assert_eq!(
            split(1040, Some(100)),
            [100; 10].iter().copied().chain([40]).collect::<Vec<_>>()
        );
        assert_eq!(split(300, Some(100)), [100, 100, 100]);
        assert_eq!(
            split(100, Some(100)),
            [100],
            "one datagram of the segment size"
        );
        assert_eq!(
            split(60, Some(100)),
            [60],
            "shorter than a segment: one datagram"
        );
        assert_eq!(split(60, None), [60]);
        assert_eq!(split(0, None), [0], "an empty datagram is one datagram");
        assert_eq!(split(0, Some(100)), [0]);
    }
}
