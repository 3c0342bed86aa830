//! A protocol's handle on its UDP port (Twisted's `IUDPTransport`), in two forms:
//!
//! * [`TransportMut`]: the port itself, lent to a protocol callback by its
//!   [`Context`](crate::Context). A write made through it goes straight into the reactor's
//!   send queue: no lookup, no reference count, no `RefCell`. An echo of a received datagram
//!   is queued by its position in the receive buffers, not copied.
//! * [`Transport`]: a handle to keep (in a protocol, a timer, a Deferred callback, `main`).
//!   Cheap to clone; it reaches the loop through the reactor's outbox and never keeps the
//!   port's socket open: once the port is stopped or the reactor dropped, every call returns
//!   [`WriteError::PortClosed`].
//!
//! Both check a write the same way before it goes anywhere (closed port, hostname, family,
//! port 0, size), so a bad write fails at once wherever it is made. Inside a loop turn writes
//! queue and leave in batches, in the order they were made through either form; outside a
//! turn (in `main`, before `run`) they go straight to the kernel.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::ops::{Deref, Range};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::rc::Rc;

use super::address::ToDatagramAddr;
use super::destination::ReceivedAt;
use super::port::{Port, PortShared};
use super::send_queue::SendQueue;
use crate::defer::Deferred;
use crate::error::WriteError;
use crate::stats::PortStats;
use crate::sys::{self, RecvBatch};

/// A handle on one UDP port to keep: write datagrams, connect, query and stop it.
///
/// Cheap to clone and safe to keep anywhere on the reactor's thread: once the port is stopped
/// (or the reactor dropped) every call returns [`WriteError::PortClosed`]. It never keeps the
/// port's socket, nor the reactor, alive.
///
/// Sending never blocks: UDP has no back-pressure. When the kernel has no room (`EWOULDBLOCK`,
/// `ENOBUFS`) the datagram is dropped and counted in [`PortStats::send_drops`], which is what
/// the network would do a hop later.
///
/// ```
/// use gyre::{Context, DatagramProtocol, Outcome, Reactor};
/// use gyre::udp::ListenOptions;
/// use std::net::SocketAddr;
///
/// struct Quiet;
/// impl DatagramProtocol for Quiet {
///     fn datagram_received(&mut self, _: &mut Context<'_>, _: &[u8], _: SocketAddr) -> Outcome { Ok(()) }
/// }
/// let mut reactor = Reactor::new().unwrap();
/// let port = reactor.listen_udp_with(ListenOptions::new(0).interface("127.0.0.1"), Quiet).unwrap();
/// let here = port.get_host().unwrap();
/// assert_eq!(here.ip().to_string(), "127.0.0.1");
/// assert_ne!(here.port(), 0); // port 0 picked a free port
/// port.write_to(b"to myself", here).unwrap();
/// assert!(port.write_to(b"x", ("example.com", 53)).is_err()); // hostnames are refused
/// ```
#[derive(Clone)]
pub struct Transport {
    shared: Rc<PortShared>,
}

impl Transport {
    pub(crate) fn new(shared: Rc<PortShared>) -> Transport {
        Transport { shared }
    }

    #[inline]
    pub(crate) fn shared(&self) -> &PortShared {
        &self.shared
    }

    /// The port's log prefix, `"<protocol's log prefix> (UDP)"` (Twisted's `logPrefix()`).
    pub fn log_prefix(&self) -> String {
        format!("{} (UDP)", self.shared.prefix)
    }

    /// Sends one datagram to `to` (Twisted's `write(data, addr)`). On a connected port `to`
    /// must be the peer.
    pub fn write_to(&self, data: &[u8], to: impl ToDatagramAddr) -> Result<(), WriteError> {
        let to = self.shared.destination(to.to_datagram_addr()?)?;
        self.send(&[data], to)
    }

    /// Sends one datagram to the connected peer (Twisted's `write(data)` after `connect`).
    pub fn write(&self, data: &[u8]) -> Result<(), WriteError> {
        let to = self.shared.connected_destination()?;
        self.send(&[data], to)
    }

    /// Sends one datagram made of `parts`, in order, to `to` (Twisted's
    /// `writeSequence(seq, addr)`): the parts are gathered by the kernel (`sendmsg` with one
    /// iovec each), or copied one after the other into the send queue during a loop turn;
    /// never joined into a buffer of their own first.
    ///
    /// ```
    /// use gyre::{Context, DatagramProtocol, Outcome, Reactor};
    /// use gyre::udp::ListenOptions;
    /// use std::net::SocketAddr;
    ///
    /// struct Quiet;
    /// impl DatagramProtocol for Quiet {
    ///     fn datagram_received(&mut self, _: &mut Context<'_>, _: &[u8], _: SocketAddr) -> Outcome {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let mut reactor = Reactor::new().unwrap();
    /// let port = reactor.listen_udp_with(ListenOptions::new(0).interface("127.0.0.1"), Quiet).unwrap();
    /// let header = [0u8, 1];
    /// port.write_sequence_to(&[&header, b"body"], port.get_host().unwrap()).unwrap();
    /// ```
    pub fn write_sequence_to(
        &self,
        parts: &[&[u8]],
        to: impl ToDatagramAddr,
    ) -> Result<(), WriteError> {
        let to = self.shared.destination(to.to_datagram_addr()?)?;
        self.send(parts, to)
    }

    /// Sends one datagram made of `parts` to the connected peer (Twisted's
    /// `writeSequence(seq)` after `connect`).
    pub fn write_sequence(&self, parts: &[&[u8]]) -> Result<(), WriteError> {
        let to = self.shared.connected_destination()?;
        self.send(parts, to)
    }

    /// Queues the write (one datagram, in one part or several) during a loop turn, sends it
    /// now outside one.
    pub(crate) fn send(&self, parts: &[&[u8]], to: Option<SocketAddr>) -> Result<(), WriteError> {
        let shared = &*self.shared;
        let len = total_len(parts);
        shared.check_size(len, to)?;
        if !shared.outbox().in_turn() {
            return shared.send_now(parts, len, to);
        }
        if !shared.outbox().queue_write(shared.id(), to, parts, len) {
            shared.counters.send_drops.add(1); // the send queue is full
        }
        Ok(())
    }

    /// Connects the port to one peer: it then receives only from that peer, and an ICMP "port
    /// unreachable" for it arrives as `connection_refused`. A port connects once (Twisted's
    /// rule); a failed connect leaves it unconnected.
    pub fn connect(&self, to: impl ToDatagramAddr) -> Result<(), WriteError> {
        self.shared.connect(to.to_datagram_addr()?)
    }

    /// The local address the port is bound to (Twisted's `getHost`); with port 0, the port
    /// the OS picked.
    pub fn get_host(&self) -> Result<SocketAddr, WriteError> {
        self.open().map(|s| s.local)
    }

    /// The connected peer, if any.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.open().ok().and_then(PortShared::peer)
    }

    /// The largest datagram this port delivers whole.
    pub fn max_packet_size(&self) -> Result<usize, WriteError> {
        self.open().map(|s| s.max_packet)
    }

    /// Whether the port is open (not stopped or stopping).
    pub fn is_listening(&self) -> bool {
        self.shared.is_listening()
    }

    /// Stops the port (Twisted's `stopListening`). Reading stops now; on a later step of this
    /// loop turn (or of the next, if called outside one) the protocol gets `stop_protocol`,
    /// the socket is closed, and the returned Deferred fires: never re-entrantly inside the
    /// callback that asked. Asking again returns the same Deferred; asking after the port
    /// closed returns a fired one.
    pub fn stop_listening(&self) -> Deferred<()> {
        self.shared.stop()
    }

    /// Whether `SO_BROADCAST` is on (Twisted's `getBroadcastAllowed`).
    pub fn broadcast_allowed(&self) -> Result<bool, WriteError> {
        self.with_socket(|s| s.broadcast())
    }

    /// Turns `SO_BROADCAST` on or off (Twisted's `setBroadcastAllowed`).
    pub fn set_broadcast_allowed(&self, on: bool) -> Result<(), WriteError> {
        self.with_socket(|s| s.set_broadcast(on))
    }

    /// `SO_RCVBUF` as the kernel reports it.
    pub fn recv_buffer_size(&self) -> Result<usize, WriteError> {
        self.with_os_socket(|s, _| sys::recv_buffer_size(s))
    }

    /// Sets `SO_RCVBUF`.
    pub fn set_recv_buffer_size(&self, bytes: usize) -> Result<(), WriteError> {
        self.with_os_socket(|s, _| sys::set_recv_buffer_size(s, bytes))
    }

    /// `SO_SNDBUF` as the kernel reports it.
    pub fn send_buffer_size(&self) -> Result<usize, WriteError> {
        self.with_os_socket(|s, _| sys::send_buffer_size(s))
    }

    /// Sets `SO_SNDBUF`.
    pub fn set_send_buffer_size(&self, bytes: usize) -> Result<(), WriteError> {
        self.with_os_socket(|s, _| sys::set_send_buffer_size(s, bytes))
    }

    /// This port's counters.
    pub fn stats(&self) -> Result<PortStats, WriteError> {
        self.open().map(PortShared::stats)
    }

    /// This port's counters, open or closed (for the reactor's totals).
    pub(crate) fn final_stats(&self) -> PortStats {
        self.shared.stats()
    }

    fn open(&self) -> Result<&PortShared, WriteError> {
        match self.shared.is_listening() {
            true => Ok(&self.shared),
            false => Err(WriteError::PortClosed),
        }
    }

    /// The number of the port's socket descriptor, while the port is open (Twisted's
    /// `fileno()`): for logs, or to hand to code that only looks. The number is the
    /// reactor's: it is closed (and may be reused) when the port stops, so use
    /// [`with_handle`](Transport::with_handle) for anything that acts on the socket.
    pub fn fileno(&self) -> Result<RawFd, WriteError> {
        self.with_handle(|fd| fd.as_raw_fd())
    }

    /// Runs `f` with the port's socket descriptor borrowed (Twisted's `getHandle()`), for
    /// socket options gyre does not wrap. The socket stays open for the call, whatever `f`
    /// does; an in-memory port has none (`WriteError::Io`, `Unsupported`).
    ///
    /// ```
    /// use gyre::{Context, DatagramProtocol, Outcome, Reactor};
    /// use gyre::udp::ListenOptions;
    /// use std::net::SocketAddr;
    ///
    /// struct Quiet;
    /// impl DatagramProtocol for Quiet {
    ///     fn datagram_received(&mut self, _: &mut Context<'_>, _: &[u8], _: SocketAddr) -> Outcome {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let mut reactor = Reactor::new().unwrap();
    /// let port = reactor.listen_udp_with(ListenOptions::new(0).interface("127.0.0.1"), Quiet).unwrap();
    /// // std can read the socket's address through the borrowed descriptor.
    /// let same = port.with_handle(|fd| {
    ///     let socket = std::net::UdpSocket::from(fd.try_clone_to_owned().unwrap());
    ///     socket.local_addr().unwrap()
    /// });
    /// assert_eq!(same.unwrap(), port.get_host().unwrap());
    /// ```
    pub fn with_handle<R>(&self, f: impl FnOnce(BorrowedFd<'_>) -> R) -> Result<R, WriteError> {
        self.with_socket(|s| s.os().map(|os| f(os.as_fd())))
    }

    /// Runs `f` on the port's socket, while the port is open.
    fn with_socket<R>(
        &self,
        f: impl FnOnce(&super::socket::PortSocket) -> io::Result<R>,
    ) -> Result<R, WriteError> {
        let socket = self.open()?.socket()?;
        f(&socket).map_err(WriteError::Io)
    }

    /// Runs `f` on the OS socket with whether the port is IPv6.
    pub(crate) fn with_os_socket<R>(
        &self,
        f: impl FnOnce(&mio::net::UdpSocket, bool) -> io::Result<R>,
    ) -> Result<R, WriteError> {
        let v6 = self.shared.local.is_ipv6();
        self.with_socket(|s| s.os().and_then(|os| f(os, v6)))
    }
}

/// Twisted's `str(port)`: `<Echo on 9999>` while the port listens, `<Echo not connected>`
/// once it has closed (Twisted names the protocol's class; gyre its log prefix).
///
/// ```
/// use gyre::{Context, DatagramProtocol, Outcome, Reactor};
/// use gyre::udp::ListenOptions;
/// use std::net::SocketAddr;
///
/// struct Echo;
/// impl DatagramProtocol for Echo {
///     fn datagram_received(&mut self, _: &mut Context<'_>, _: &[u8], _: SocketAddr) -> Outcome {
///         Ok(())
///     }
/// }
///
/// let mut reactor = Reactor::new().unwrap();
/// let port = reactor.listen_udp_with(ListenOptions::new(0).interface("127.0.0.1"), Echo).unwrap();
/// let number = port.get_host().unwrap().port();
/// assert_eq!(port.to_string(), format!("<Echo on {number}>"));
/// assert_eq!(port.log_prefix(), "Echo (UDP)");
/// ```
impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.shared;
        match shared.socket() {
            Ok(_) => write!(f, "<{} on {}>", shared.prefix, shared.local.port()),
            Err(_) => write!(f, "<{} not connected>", shared.prefix),
        }
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.get_host() {
            Ok(addr) => write!(f, "Transport(UDP {addr})"),
            Err(_) => f.write_str("Transport(closed)"),
        }
    }
}

/// The port itself, lent to a protocol callback: what [`Context::transport`](crate::Context::transport)
/// returns (Twisted's `self.transport`).
///
/// Writes through it go straight into the reactor's send queue. It dereferences to the port's
/// [`Transport`], so every other method (`connect`, `get_host`, `stop_listening`, multicast,
/// socket options…) is there too, and `.clone()` gives a `Transport` to keep.
pub struct TransportMut<'a> {
    pub(crate) port: &'a mut Port,
    /// The reactor's send queue while datagrams are delivered; `None` in other callbacks,
    /// whose writes go through the outbox like a kept transport's.
    queue: Option<&'a mut SendQueue>,
    /// The receive buffers' address range while datagrams are delivered (empty otherwise).
    received: Range<usize>,
    /// The receive buffers while datagrams are delivered, and which one is being delivered:
    /// what [`received_at`](TransportMut::received_at) reads.
    recv: Option<&'a RecvBatch>,
    pub(crate) current: usize,
    /// Whether the batch being delivered is a single datagram: the port is drained, so a
    /// reply written while the send queue is empty can leave at once, with no queue or
    /// batch around it (what a ping-pong exchange does every turn).
    pub(crate) lone: bool,
}

impl<'a> TransportMut<'a> {
    pub(crate) fn new(
        port: &'a mut Port,
        queue: Option<&'a mut SendQueue>,
        recv: Option<&'a RecvBatch>,
    ) -> TransportMut<'a> {
        TransportMut {
            port,
            queue,
            received: recv.map_or(0..0, RecvBatch::area),
            recv,
            current: 0,
            lone: false,
        }
    }

    /// Where the datagram being delivered arrived: the local address it was sent to and the
    /// interface it came in on, on a port listening with
    /// [`ListenOptions::receive_destination`](crate::udp::ListenOptions::receive_destination)
    /// (`None` otherwise, and outside `datagram_received`). On a port bound to `0.0.0.0` or
    /// `::` this tells which of the host's addresses the sender used.
    pub fn received_at(&self) -> Option<ReceivedAt> {
        let (address, interface) = self.recv?.destination(self.current)?;
        Some(ReceivedAt { address, interface })
    }

    /// Sends one datagram to `to` (Twisted's `write(data, addr)`). On a connected port `to`
    /// must be the peer. Replying with the received `data` itself costs no copy.
    #[inline]
    pub fn write_to(&mut self, data: &[u8], to: impl ToDatagramAddr) -> Result<(), WriteError> {
        match to.to_datagram_addr() {
            Ok(to) => self.write_to_addr(data, to),
            Err(e) => Err(WriteError::InvalidAddress(e)),
        }
    }

    /// The common case queues at once; anything else takes the full checks. (A transport
    /// lent with the send queue exists only while a turn delivers datagrams: no need to ask
    /// whether the loop is in a turn.)
    #[inline]
    fn write_to_addr(&mut self, data: &[u8], to: SocketAddr) -> Result<(), WriteError> {
        let shared = self.port.shared();
        if let Some(queue) = self.queue.as_deref_mut() {
            if shared.plain_destination(&to, data.len()) && !shared.outbox().has_writes() {
                if self.lone && queue.is_empty() {
                    self.port.send_lone(data, to); // nothing queued before it: same order
                    return Ok(());
                }
                if !queue.push(shared.id(), Some(to), data, &self.received) {
                    shared.counters.send_drops.add(1); // the send queue is full
                }
                return Ok(());
            }
        }
        self.write_to_checked(data, to)
    }

    #[inline(never)]
    fn write_to_checked(&mut self, data: &[u8], to: SocketAddr) -> Result<(), WriteError> {
        let to = self.port.shared().destination(to)?;
        self.send(&[data], to)
    }

    /// Sends one datagram to the connected peer (Twisted's `write(data)` after `connect`).
    pub fn write(&mut self, data: &[u8]) -> Result<(), WriteError> {
        let to = self.port.shared().connected_destination()?;
        self.send(&[data], to)
    }

    /// Sends one datagram made of `parts` to `to` (Twisted's `writeSequence(seq, addr)`), as
    /// [`Transport::write_sequence_to`] does.
    pub fn write_sequence_to(
        &mut self,
        parts: &[&[u8]],
        to: impl ToDatagramAddr,
    ) -> Result<(), WriteError> {
        let to = self.port.shared().destination(to.to_datagram_addr()?)?;
        self.send(parts, to)
    }

    /// Sends one datagram made of `parts` to the connected peer (Twisted's
    /// `writeSequence(seq)` after `connect`).
    pub fn write_sequence(&mut self, parts: &[&[u8]]) -> Result<(), WriteError> {
        let to = self.port.shared().connected_destination()?;
        self.send(parts, to)
    }

    /// Queues one datagram (in one part or several) behind the kept transports' writes; a
    /// single part that is received bytes is queued by position, without a copy.
    fn send(&mut self, parts: &[&[u8]], to: Option<SocketAddr>) -> Result<(), WriteError> {
        let shared = self.port.shared();
        let Some(queue) = self.queue.as_deref_mut() else {
            return self.port.transport().send(parts, to);
        };
        let len = total_len(parts);
        shared.check_size(len, to)?;
        if !shared.outbox().in_turn() {
            return shared.send_now(parts, len, to);
        }
        shared.outbox().absorb_into(queue); // earlier writes through kept transports first
        let queued = match parts {
            [data] => queue.push(shared.id(), to, data, &self.received),
            _ => queue.push_parts(shared.id(), to, parts, len),
        };
        if !queued {
            shared.counters.send_drops.add(1); // the send queue is full
        } else if shared.reply_from {
            if let Some(from) = reply_source(self.recv, self.current, to) {
                queue.source_last(shared.id(), to, from); // leaves from where the request came
            }
        }
        Ok(())
    }
}

impl Deref for TransportMut<'_> {
    type Target = Transport;

    fn deref(&self) -> &Transport {
        self.port.transport()
    }
}

impl fmt::Debug for TransportMut<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.port.transport(), f)
    }
}

/// The address a reply to `to` leaves from: the one the datagram being delivered reached,
/// when `to` is its sender.
fn reply_source(
    recv: Option<&RecvBatch>,
    current: usize,
    to: Option<SocketAddr>,
) -> Option<(IpAddr, u32)> {
    let recv = recv?;
    if to? != recv.from(current) {
        return None;
    }
    recv.destination(current)
}

/// The length of the datagram `parts` make.
fn total_len(parts: &[&[u8]]) -> usize {
    parts.iter().map(|p| p.len()).sum()
}
