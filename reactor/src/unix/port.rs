//! [`UnixPort`]: one UNIX datagram port's socket-side life (Twisted's `unix.DatagramPort`):
//! its socket, addresses, peer, state and counters; receiving a batch, sending, closing.
//!
//! Split like a UDP port: the reactor's table owns the [`UnixPort`] and with it the only
//! strong reference to the socket; [`UnixShared`] is what the port's
//! [`UnixTransport`]s share (addresses, state, counters, a weak reference to the socket), so
//! a handle can never keep the socket open.
//!
//! Unlike UDP, a UNIX datagram socket is reliable: a peer whose queue is full makes the
//! sender wait (`EAGAIN` here), nothing is lost on the way. So a write leaves at once (one
//! `sendmsg`) and a full peer is the writer's error, not a silent drop.

use std::io;
use std::path::PathBuf;
use std::rc::{Rc, Weak};

use socket2::Socket;

use super::UnixAddress;
use super::transport::UnixTransport;
use crate::defer::Deferred;
use crate::error::{InvalidAddress, WriteError};
use crate::port_state::{Phase, PortState, after_receive_error};
use crate::stats::{PortCounters, PortStats};
use crate::sys::{self, RecvBatch};
use crate::udp::outbox::Outbox;
use crate::udp::port::{PortId, Received};

/// What a UNIX port's transports share with it.
pub(crate) struct UnixShared {
    /// Its id and the outbox, listening, stopping or closed, the stop Deferred, refusals.
    pub state: PortState,
    /// The protocol's log prefix.
    pub prefix: Box<str>,
    pub local: UnixAddress,
    pub max_packet: usize,
    pub counters: PortCounters,
    socket: Weak<Socket>,
    peer: Option<UnixAddress>,
}

impl UnixShared {
    pub fn id(&self) -> PortId {
        self.state.id
    }

    #[inline]
    pub fn is_listening(&self) -> bool {
        self.state.is_listening()
    }

    pub fn peer(&self) -> Option<UnixAddress> {
        self.peer
    }

    /// The socket, while the port is open.
    pub fn socket(&self) -> Result<Rc<Socket>, WriteError> {
        match self.state.phase() {
            Phase::Closed => Err(WriteError::PortClosed),
            _ => self.socket.upgrade().ok_or(WriteError::PortClosed),
        }
    }

    /// How gyre's logs name the port: `Echo (UNIX /run/echo.sock)`.
    pub fn name(&self) -> String {
        format!("{} (UNIX {})", self.prefix, self.local)
    }

    /// Where a write to `to` goes: `Some(to)` on an unconnected port, `None` (the peer) on a
    /// connected one, which takes no other address.
    pub fn destination(&self, to: UnixAddress) -> Result<Option<UnixAddress>, WriteError> {
        if !self.is_listening() {
            return Err(WriteError::PortClosed);
        }
        if to.is_unnamed() {
            return Err(WriteError::InvalidAddress(InvalidAddress {
                address: to.to_string(),
                reason: "an unnamed socket cannot be written to",
            }));
        }
        match self.peer {
            None => Ok(Some(to)),
            Some(peer) if peer == to => Ok(None),
            Some(peer) => Err(WriteError::WrongUnixPeer {
                connected: Box::new(peer),
                given: Box::new(to),
            }),
        }
    }

    /// The connected peer, for `write` without an address.
    pub fn connected_destination(&self) -> Result<Option<UnixAddress>, WriteError> {
        if !self.is_listening() {
            return Err(WriteError::PortClosed);
        }
        match self.peer {
            Some(_) => Ok(None),
            None => Err(WriteError::NotConnected),
        }
    }

    /// Sends one datagram (`parts`, `len` bytes) now, retrying on EINTR. A peer with no room
    /// is the caller's error (counted in `send_drops`: the datagram did not go); a refusal
    /// on a connected port (the peer's socket is gone) is returned and also noted for
    /// `connection_refused`.
    pub fn send_now(
        &self,
        parts: &[&[u8]],
        len: usize,
        to: Option<&UnixAddress>,
    ) -> Result<(), WriteError> {
        let socket = self.socket()?;
        loop {
            let error = match sys::send_unix(&socket, parts, to) {
                Ok(n) => {
                    self.counters.count_sent(1, n as u64);
                    return Ok(());
                }
                Err(e) => e,
            };
            match sys::classify_send_error(&error) {
                sys::SendError::Interrupted => continue,
                sys::SendError::TooLong => return Err(WriteError::MessageLength { size: len }),
                sys::SendError::NoRoom => self.counters.send_drops.add(1),
                sys::SendError::Refused if self.peer.is_some() => self.state.note_refusal(),
                _ => {}
            }
            return Err(WriteError::Io(error));
        }
    }

    /// Takes the refusals waiting for `connection_refused`, counting them.
    pub fn take_refusals(&self) -> u32 {
        self.state.take_refusals(&self.counters.refused)
    }

    pub fn stats(&self) -> PortStats {
        self.counters.snapshot()
    }
}

/// A socket file this port created, to remove when it closes if it is still the same file.
struct OwnedFile {
    path: PathBuf,
    identity: (u64, u64),
}

/// One open UNIX datagram port, as the reactor owns it.
pub(crate) struct UnixPort {
    transport: UnixTransport,
    /// The only strong reference: dropping the port closes the socket.
    socket: Rc<Socket>,
    file: Option<OwnedFile>,
}

/// A bound (and maybe connected) socket about to become a port.
pub(crate) struct NewUnixPort {
    pub socket: Socket,
    pub local: UnixAddress,
    pub peer: Option<UnixAddress>,
    pub max_packet: usize,
    /// The socket file bind created, if any.
    pub created: Option<PathBuf>,
}

impl UnixPort {
    pub fn new(id: PortId, prefix: String, new: NewUnixPort, outbox: Rc<Outbox>) -> UnixPort {
        let file = new.created.and_then(|path| {
            let identity = sys::file_identity(&path).ok()?;
            Some(OwnedFile { path, identity })
        });
        let socket = Rc::new(new.socket);
        let shared = UnixShared {
            state: PortState::new(id, outbox),
            prefix: prefix.into_boxed_str(),
            local: new.local,
            max_packet: new.max_packet,
            counters: PortCounters::default(),
            socket: Rc::downgrade(&socket),
            peer: new.peer,
        };
        UnixPort {
            transport: UnixTransport::new(Rc::new(shared)),
            socket,
            file,
        }
    }

    #[inline]
    pub fn shared(&self) -> &UnixShared {
        self.transport.shared()
    }

    pub fn transport(&self) -> &UnixTransport {
        &self.transport
    }

    pub fn id(&self) -> PortId {
        self.shared().id()
    }

    /// Registers the socket with the poll for readable events.
    pub fn register(&self, registry: &mio::Registry) -> io::Result<()> {
        sys::register(registry, &*self.socket, mio::Token(self.id().key))
    }

    /// One batched receive, counted; as a UDP port's, with the errors of a UNIX socket.
    pub fn receive(&self, batch: &mut RecvBatch) -> Received {
        let shared = self.shared();
        let limit = shared.max_packet;
        let mut errors = 0;
        loop {
            match batch.recv_unix(&self.socket, limit + 1) {
                Ok(n) => {
                    self.count_received(batch, n, limit);
                    return Received::Datagrams { n, limit };
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Received::Empty,
                Err(e) => {
                    // The peer's socket closed: Linux says "refused" or "reset".
                    let refusal = matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
                    );
                    let connected = shared.peer.is_some();
                    let (counters, name) = (&shared.counters, shared.name());
                    if let Some(end) = after_receive_error(
                        "gyre::unix",
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

    fn count_received(&self, batch: &RecvBatch, n: usize, limit: usize) {
        let shared = self.shared();
        for (i, len) in batch.lens(n).enumerate() {
            if len <= limit {
                shared.counters.datagrams_in.add(1);
                shared.counters.bytes_in.add(len as u64);
            } else {
                shared.counters.truncated.add(1);
                log::warn!(target: "gyre::unix",
                    "{}: dropped a datagram from {} longer than max_packet_size ({limit} bytes)",
                    shared.name(), batch.unix_sender(i));
            }
        }
    }

    /// Error readiness: takes the pending socket error; a refusal on a connected port is
    /// noted for `connection_refused`.
    pub fn take_error(&self) {
        let shared = self.shared();
        match self.socket.take_error() {
            Ok(Some(e))
                if e.kind() == io::ErrorKind::ConnectionRefused && shared.peer.is_some() =>
            {
                shared.state.note_refusal()
            }
            Ok(Some(e)) => log::debug!(target: "gyre::unix", "{}: socket error {e}", shared.name()),
            _ => {}
        }
    }

    /// Stops reading, marks the port closed and removes the socket file it created (if that
    /// path still names the same file); returns the Deferred `stop_listening` gave out.
    pub fn close(&mut self, registry: &mio::Registry) -> Option<Deferred<()>> {
        let shared = self.transport.shared();
        if let Err(e) = sys::deregister(registry, &*self.socket) {
            log::debug!(target: "gyre::unix", "{}: deregister: {e}", shared.name());
        }
        let done = shared.state.close();
        if let Some(file) = self.file.take() {
            if sys::file_identity(&file.path).ok() == Some(file.identity) {
                if let Err(e) = sys::remove_file(&file.path) {
                    log::warn!(target: "gyre::unix", "{}: cannot remove the socket file: {e}", shared.name());
                }
            }
        }
        done
    }
}

impl Drop for UnixPort {
    fn drop(&mut self) {
        self.shared().state.mark_closed();
    }
}
