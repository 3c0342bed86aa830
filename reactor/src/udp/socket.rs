//! [`PortSocket`]: what a port reads and writes: an OS socket, or an in-memory one for tests.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;

use mio::net::UdpSocket;
use mio::{Registry, Token};

use crate::sys::{self, RecvBatch, SendBatch};

/// A port's socket. The loop and the transport see one set of operations either way.
pub(crate) enum PortSocket {
    Os(UdpSocket),
    Memory(MemorySocket),
}

/// What arrives at an in-memory socket.
pub(crate) enum Arrival {
    Datagram(Vec<u8>, SocketAddr),
    /// An ICMP "port unreachable", as the kernel would report it on a connected socket.
    Refused,
    /// Any other receive error, scripted by a test.
    Error(io::Error),
}

/// The two directions of an in-memory socket, shared with the test's
/// [`MemoryWire`](crate::testing::MemoryWire).
#[derive(Default)]
pub(crate) struct Wire {
    pub inbound: RefCell<VecDeque<Arrival>>,
    pub outbound: RefCell<Vec<(Vec<u8>, SocketAddr)>>,
}

/// A socket that lives in memory: sends are recorded, receives come from the test.
pub(crate) struct MemorySocket {
    pub wire: Rc<Wire>,
    peer: Cell<Option<SocketAddr>>,
    broadcast: Cell<bool>,
}

impl MemorySocket {
    pub fn new(wire: Rc<Wire>) -> MemorySocket {
        MemorySocket {
            wire,
            peer: Cell::new(None),
            broadcast: Cell::new(false),
        }
    }

    fn send_to(&self, data: &[u8], to: SocketAddr) -> io::Result<usize> {
        let limit = if to.is_ipv4() { 65_507 } else { 65_527 };
        if data.len() > limit {
            return Err(sys::message_too_long());
        }
        self.wire.outbound.borrow_mut().push((data.to_vec(), to));
        Ok(data.len())
    }

    /// Takes the next datagram from the wire (a connected socket skips other senders).
    fn take(&self) -> io::Result<(Vec<u8>, SocketAddr)> {
        loop {
            let arrival = self.wire.inbound.borrow_mut().pop_front();
            match arrival {
                None => return Err(io::ErrorKind::WouldBlock.into()),
                Some(Arrival::Refused) => return Err(io::ErrorKind::ConnectionRefused.into()),
                Some(Arrival::Error(error)) => return Err(error),
                Some(Arrival::Datagram(data, from)) => {
                    if self.peer.get().is_some_and(|peer| peer != from) {
                        continue; // a connected socket only hears its peer
                    }
                    return Ok((data, from));
                }
            }
        }
    }
}

impl PortSocket {
    pub fn send_to(&self, data: &[u8], to: SocketAddr) -> io::Result<usize> {
        match self {
            PortSocket::Os(s) => s.send_to(data, to),
            PortSocket::Memory(m) => m.send_to(data, to),
        }
    }

    /// Sends `data` to `to` from the local address `from.0` (on interface `from.1`).
    pub fn send_from(&self, data: &[u8], to: SocketAddr, from: (IpAddr, u32)) -> io::Result<usize> {
        match self {
            PortSocket::Os(s) => sys::send_from(s, data, to, from),
            PortSocket::Memory(m) => m.send_to(data, to),
        }
    }

    pub fn send(&self, data: &[u8]) -> io::Result<usize> {
        match self {
            PortSocket::Os(s) => s.send(data),
            PortSocket::Memory(m) => match m.peer.get() {
                Some(peer) => m.send_to(data, peer),
                None => Err(io::ErrorKind::NotConnected.into()),
            },
        }
    }

    /// Sends `parts` as one datagram (to the peer with `None`), without joining them first
    /// on an OS socket.
    pub fn send_parts(&self, parts: &[&[u8]], to: Option<SocketAddr>) -> io::Result<usize> {
        match (self, parts, to) {
            (_, [data], Some(to)) => self.send_to(data, to),
            (_, [data], None) => self.send(data),
            (PortSocket::Os(s), _, _) => sys::send_vectored(s, parts, to),
            (PortSocket::Memory(_), _, _) => {
                // The in-memory wire stores whole datagrams anyway.
                self.send_parts(&[&parts.concat()], to)
            }
        }
    }

    pub fn connect(&self, to: SocketAddr) -> io::Result<()> {
        match self {
            PortSocket::Os(s) => s.connect(to),
            PortSocket::Memory(m) => {
                m.peer.set(Some(to));
                Ok(())
            }
        }
    }

    /// Reads a batch of datagrams of at most `limit` bytes each into `batch`.
    #[inline]
    pub fn recv_batch(&self, batch: &mut RecvBatch, limit: usize) -> io::Result<usize> {
        match self {
            PortSocket::Os(s) => batch.recv(s, limit),
            PortSocket::Memory(m) => {
                let (data, from) = m.take()?;
                Ok(batch.fill(&data, from))
            }
        }
    }

    /// Whether GSO sends may be tried (probed once; never for in-memory sockets).
    pub fn gso_supported(&self) -> bool {
        match self {
            PortSocket::Os(s) => sys::gso_supported(s),
            PortSocket::Memory(_) => false,
        }
    }

    /// Sends `segments` of `size` bytes with one GSO call (OS sockets only).
    pub fn send_segments<'d>(
        &self,
        batch: &mut SendBatch,
        segments: impl Iterator<Item = &'d [u8]>,
        size: usize,
        to: Option<SocketAddr>,
    ) -> io::Result<()> {
        match self {
            PortSocket::Os(s) => batch.send_segments(s, segments, size, to),
            PortSocket::Memory(_) => Err(io::ErrorKind::Unsupported.into()),
        }
    }

    /// Sends `n` queued datagrams (`to` is `None` when connected); returns how many went.
    pub fn send_batch<'d>(
        &self,
        batch: &mut SendBatch,
        n: usize,
        mut datagram: impl FnMut(usize) -> (&'d [u8], Option<SocketAddr>),
    ) -> io::Result<usize> {
        match self {
            PortSocket::Os(s) => batch.send(s, n, datagram),
            PortSocket::Memory(_) => {
                let mut sent = 0;
                for (data, to) in (0..n.min(sys::BATCH)).map(&mut datagram) {
                    let result = match to {
                        Some(to) => self.send_to(data, to),
                        None => self.send(data),
                    };
                    match result {
                        Ok(_) => sent += 1,
                        Err(e) if sent == 0 => return Err(e),
                        Err(_) => break,
                    }
                }
                Ok(sent)
            }
        }
    }

    /// Registers the socket with the poll for readable events (OS sockets only).
    pub fn register(&self, registry: &Registry, token: Token) -> io::Result<()> {
        match self {
            PortSocket::Os(s) => sys::register(registry, s, token),
            PortSocket::Memory(_) => Ok(()),
        }
    }

    /// Removes the socket from the poll.
    pub fn deregister(&self, registry: &Registry) -> io::Result<()> {
        match self {
            PortSocket::Os(s) => sys::deregister(registry, s),
            PortSocket::Memory(_) => Ok(()),
        }
    }

    /// Error readiness: empties the error queue (each entry to `each`) and takes the pending
    /// error.
    pub fn take_error(&self, each: impl FnMut(sys::ErrorReport)) -> io::Result<Option<io::Error>> {
        match self {
            PortSocket::Os(s) => {
                sys::drain_error_queue(s, each);
                sys::take_error(s)
            }
            PortSocket::Memory(_) => Ok(None),
        }
    }

    pub fn broadcast(&self) -> io::Result<bool> {
        match self {
            PortSocket::Os(s) => sys::broadcast(s),
            PortSocket::Memory(m) => Ok(m.broadcast.get()),
        }
    }

    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        match self {
            PortSocket::Os(s) => sys::set_broadcast(s, on),
            PortSocket::Memory(m) => {
                m.broadcast.set(on);
                Ok(())
            }
        }
    }

    /// The OS socket, for options an in-memory socket does not have.
    pub fn os(&self) -> io::Result<&UdpSocket> {
        match self {
            PortSocket::Os(s) => Ok(s),
            PortSocket::Memory(_) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "an in-memory port has no OS socket options",
            )),
        }
    }
}
