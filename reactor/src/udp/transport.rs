//! [`Transport`]: a protocol's handle on its UDP port (Twisted's `IUDPTransport`).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::rc::Weak;

use super::address::{ToDatagramAddr, fit_family};
use super::table::{PortId, PortSlot, PortState};
use crate::defer::Deferred;
use crate::error::WriteError;
use crate::handle::{Handle, Shared};
use crate::stats::PortStats;
use crate::sys;

/// A handle on one UDP port: write datagrams, connect, query and stop it.
///
/// Cheap to clone and safe to keep (in a protocol, a timer, a Deferred callback): once the
/// port is stopped every call returns [`WriteError::PortClosed`]. It holds the reactor weakly,
/// so keeping one never keeps a dropped reactor alive.
///
/// Sending never blocks and never queues: UDP has no back-pressure. When the kernel has no
/// room (`EWOULDBLOCK`, `ENOBUFS`) the datagram is dropped and counted in
/// [`PortStats::send_drops`], which is what the network would do a hop later.
///
/// ```
/// use gyre_reactor::{Context, DatagramProtocol, Outcome, Reactor};
/// use std::net::SocketAddr;
///
/// struct Quiet;
/// impl DatagramProtocol for Quiet {
///     fn datagram_received(&mut self, _: &mut Context<'_>, _: &[u8], _: SocketAddr) -> Outcome { Ok(()) }
/// }
/// let reactor = Reactor::new().unwrap();
/// let port = reactor.listen_udp_with(gyre_reactor::udp::ListenOptions::new(0).interface("127.0.0.1"), Quiet).unwrap();
/// let here = port.get_host().unwrap();
/// assert_eq!(here.ip().to_string(), "127.0.0.1");
/// assert_ne!(here.port(), 0); // port 0 picked a free port
/// port.write_to(b"to myself", here).unwrap();
/// assert!(port.write_to(b"x", ("example.com", 53)).is_err()); // hostnames are refused
/// ```
#[derive(Clone)]
pub struct Transport {
    shared: Weak<Shared>,
    id: PortId,
}

impl Transport {
    pub(crate) fn new(handle: &Handle, id: PortId) -> Transport {
        Transport {
            shared: std::rc::Rc::downgrade(&handle.shared),
            id,
        }
    }

    pub(crate) fn port_id(&self) -> PortId {
        self.id
    }

    /// Sends one datagram to `to` (Twisted's `write(data, addr)`). On a connected port `to`
    /// must be the peer.
    pub fn write_to(&self, data: &[u8], to: impl ToDatagramAddr) -> Result<(), WriteError> {
        let to = to.to_datagram_addr()?;
        self.with_slot(|shared, slot| {
            let to = fit_family(to, slot.local, slot.dual_stack)?;
            match slot.connected {
                Some(peer) if peer != to => Err(WriteError::WrongPeer {
                    connected: peer,
                    given: to,
                }),
                Some(_) => send(shared, slot, data, None),
                None => send(shared, slot, data, Some(to)),
            }
        })
    }

    /// Sends one datagram to the connected peer (Twisted's `write(data)` after `connect`).
    pub fn write(&self, data: &[u8]) -> Result<(), WriteError> {
        self.with_slot(|shared, slot| match slot.connected {
            Some(_) => send(shared, slot, data, None),
            None => Err(WriteError::NotConnected),
        })
    }

    /// Connects the port to one peer: it then receives only from that peer, and an ICMP "port
    /// unreachable" for it arrives as `connection_refused`. A port connects once (Twisted's
    /// rule); a failed connect leaves it unconnected.
    pub fn connect(&self, to: impl ToDatagramAddr) -> Result<(), WriteError> {
        let to = to.to_datagram_addr()?;
        self.with_slot(|_, slot| {
            if slot.connected.is_some() {
                return Err(WriteError::AlreadyConnected);
            }
            let to = fit_family(to, slot.local, slot.dual_stack)?;
            slot.socket.connect(to).map_err(WriteError::Io)?;
            slot.connected = Some(to);
            Ok(())
        })
    }

    /// The local address the port is bound to (Twisted's `getHost`); with port 0, the port
    /// the OS picked.
    pub fn get_host(&self) -> Result<SocketAddr, WriteError> {
        self.with_slot(|_, slot| Ok(slot.local))
    }

    /// The connected peer, if any.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.with_slot(|_, slot| Ok(slot.connected)).ok().flatten()
    }

    /// The largest datagram this port delivers whole.
    pub fn max_packet_size(&self) -> Result<usize, WriteError> {
        self.with_slot(|_, slot| Ok(slot.max_packet))
    }

    /// Whether the port is open (not stopped or stopping).
    pub fn is_listening(&self) -> bool {
        self.with_slot(|_, _| Ok(())).is_ok()
    }

    /// Stops the port (Twisted's `stopListening`). Reading stops now; on a later step of this
    /// loop turn the protocol gets `stop_protocol`, the socket is closed, and the returned
    /// Deferred fires: never re-entrantly inside the callback that asked. Asking again
    /// returns the same Deferred; asking after the port closed returns a fired one.
    pub fn stop_listening(&self) -> Deferred<()> {
        let Some(shared) = self.shared.upgrade() else {
            return Deferred::succeeded(());
        };
        let mut ports = shared.ports.borrow_mut();
        let Some(slot) = ports.get_mut(self.id) else {
            return Deferred::succeeded(());
        };
        if let PortState::Stopping(done) = &slot.state {
            return done.clone();
        }
        let done = Deferred::new();
        if let Err(e) = slot.socket.deregister(&shared.registry) {
            log::warn!(target: "gyre::udp", "{}: deregister failed: {e}", slot.name);
        }
        slot.state = PortState::Stopping(done.clone());
        shared.stops.set(shared.stops.get() + 1);
        shared.port_work.borrow_mut().stopping.push(self.id);
        done
    }

    /// Whether `SO_BROADCAST` is on (Twisted's `getBroadcastAllowed`).
    pub fn broadcast_allowed(&self) -> Result<bool, WriteError> {
        self.with_slot(|_, slot| slot.socket.broadcast().map_err(WriteError::Io))
    }

    /// Turns `SO_BROADCAST` on or off (Twisted's `setBroadcastAllowed`).
    pub fn set_broadcast_allowed(&self, on: bool) -> Result<(), WriteError> {
        self.with_slot(|_, slot| slot.socket.set_broadcast(on).map_err(WriteError::Io))
    }

    /// `SO_RCVBUF` as the kernel reports it.
    pub fn recv_buffer_size(&self) -> Result<usize, WriteError> {
        self.with_socket(sys::recv_buffer_size)
    }

    /// Sets `SO_RCVBUF`.
    pub fn set_recv_buffer_size(&self, bytes: usize) -> Result<(), WriteError> {
        self.with_socket(|s| sys::set_recv_buffer_size(s, bytes))
    }

    /// `SO_SNDBUF` as the kernel reports it.
    pub fn send_buffer_size(&self) -> Result<usize, WriteError> {
        self.with_socket(sys::send_buffer_size)
    }

    /// Sets `SO_SNDBUF`.
    pub fn set_send_buffer_size(&self, bytes: usize) -> Result<(), WriteError> {
        self.with_socket(|s| sys::set_send_buffer_size(s, bytes))
    }

    /// This port's counters.
    pub fn stats(&self) -> Result<PortStats, WriteError> {
        self.with_slot(|_, slot| Ok(slot.counters.snapshot()))
    }

    /// Runs `f` on the OS socket with whether the port is IPv6.
    pub(crate) fn with_os_socket<R>(
        &self,
        f: impl FnOnce(&mio::net::UdpSocket, bool) -> io::Result<R>,
    ) -> Result<R, WriteError> {
        self.with_slot(|_, slot| {
            let v6 = slot.local.is_ipv6();
            slot.socket
                .os()
                .and_then(|s| f(s, v6))
                .map_err(WriteError::Io)
        })
    }

    fn with_socket<R>(
        &self,
        f: impl FnOnce(&mio::net::UdpSocket) -> io::Result<R>,
    ) -> Result<R, WriteError> {
        self.with_slot(|_, slot| slot.socket.os().and_then(f).map_err(WriteError::Io))
    }

    /// Runs `f` on the open port's slot, borrowed for just this call (no user code runs in it).
    fn with_slot<R>(
        &self,
        f: impl FnOnce(&Shared, &mut PortSlot) -> Result<R, WriteError>,
    ) -> Result<R, WriteError> {
        let shared = self.shared.upgrade().ok_or(WriteError::PortClosed)?;
        let mut ports = shared.ports.borrow_mut();
        match ports.get_mut(self.id) {
            Some(slot) if slot.is_listening() => f(&shared, slot),
            _ => Err(WriteError::PortClosed),
        }
    }
}

/// The largest UDP payload over IPv4 (65,535 − 8 − 20).
const MAX_PAYLOAD_V4: usize = 65_507;
/// The largest UDP payload over IPv6 without jumbograms (65,535 − 8).
const MAX_PAYLOAD_V6: usize = 65_527;

/// Sends one datagram, or queues it while the loop runs (it then leaves in a batch at the end
/// of the current step), with UDP's error rules.
fn send(
    shared: &Shared,
    slot: &mut PortSlot,
    data: &[u8],
    to: Option<SocketAddr>,
) -> Result<(), WriteError> {
    let limit = match to.unwrap_or(slot.local) {
        SocketAddr::V4(_) => MAX_PAYLOAD_V4,
        SocketAddr::V6(v6) if v6.ip().to_ipv4_mapped().is_some() => MAX_PAYLOAD_V4,
        SocketAddr::V6(_) => MAX_PAYLOAD_V6,
    };
    if data.len() > limit {
        return Err(WriteError::MessageLength { size: data.len() });
    }
    if shared.batching.get() {
        shared.send_queue.borrow_mut().push(slot.id, to, data);
        return Ok(());
    }
    loop {
        let sent = match to {
            Some(to) => slot.socket.send_to(data, to),
            None => slot.socket.send(data),
        };
        let error = match sent {
            Ok(n) => {
                slot.counters.datagrams_out.add(1);
                slot.counters.bytes_out.add(n as u64);
                return Ok(());
            }
            Err(e) => e,
        };
        match sys::classify_send_error(&error) {
            sys::SendError::Interrupted => continue,
            sys::SendError::NoRoom => {
                slot.counters.send_drops.add(1);
                log::debug!(target: "gyre::udp", "{}: no room in the kernel, datagram dropped ({error})", slot.name);
                return Ok(());
            }
            sys::SendError::TooLong => return Err(WriteError::MessageLength { size: data.len() }),
            sys::SendError::Refused if slot.connected.is_some() => {
                // The ICMP error answers an earlier datagram; this one was not sent. The
                // protocol hears of it after the current callback, never from inside `write`.
                slot.refusals_pending += 1;
                shared.port_work.borrow_mut().refused.push(slot.id);
                return Ok(());
            }
            sys::SendError::Refused | sys::SendError::Other => return Err(WriteError::Io(error)),
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
