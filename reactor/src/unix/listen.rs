//! Opening and closing UNIX datagram ports: the reactor's `listen_unix_datagram` and
//! `connect_unix_datagram` (Twisted's `IReactorUNIXDatagram`).

use super::dispatch::{self, UnixEntry};
use super::port::{NewUnixPort, UnixPort};
use super::{ToUnixAddress, UnixDatagramProtocol, UnixOptions, UnixTransport};
use crate::core::Core;
use crate::error::ListenError;
use crate::guard;
use crate::sys;
use crate::udp::port::PortId;

impl Core {
    /// Opens a UNIX datagram port on `address` (Twisted's `listenUNIXDatagram`): a path,
    /// whose socket file gets mode `0o666`, or `"\0name"` for a Linux abstract name.
    /// `start_protocol` has run when this returns. A path that exists already (a live
    /// socket, a stale one, any file) is [`ListenError::CannotListenUnix`]; the socket file
    /// gyre creates is removed when the port closes.
    pub fn listen_unix_datagram(
        &mut self,
        address: impl ToUnixAddress,
        protocol: impl UnixDatagramProtocol,
    ) -> Result<UnixTransport, ListenError> {
        self.listen_unix_datagram_with(UnixOptions::new(address), protocol)
    }

    /// [`listen_unix_datagram`](Core::listen_unix_datagram) with options: the socket file's
    /// mode, the maximum packet size.
    pub fn listen_unix_datagram_with(
        &mut self,
        options: UnixOptions,
        protocol: impl UnixDatagramProtocol,
    ) -> Result<UnixTransport, ListenError> {
        self.check_can_listen()?;
        let address = options.address.map_err(ListenError::InvalidAddress)?;
        let cannot = |source| ListenError::CannotListenUnix { address, source };
        let socket = sys::unix_datagram().map_err(cannot)?;
        sys::bind_unix(&socket, &address).map_err(cannot)?;
        let created = address.as_pathname().map(|p| p.to_path_buf());
        if let Some(path) = &created {
            if let Err(source) = sys::set_mode(path, options.mode) {
                let _ = sys::remove_file(path); // ours: bind just made it
                return Err(cannot(source));
            }
        }
        let new = NewUnixPort {
            socket,
            local: address,
            peer: None,
            max_packet: options.max_packet_size,
            created,
        };
        self.open_unix_port(new, protocol)
    }

    /// Opens a UNIX datagram port connected to `address` (Twisted's `connectUNIXDatagram`):
    /// it writes there without naming it and hears only from there. The port is unnamed,
    /// so the peer cannot answer; give it an address with
    /// [`connect_unix_datagram_with`](Core::connect_unix_datagram_with) and
    /// [`UnixOptions::bind_address`]. No socket at `address` is
    /// [`ListenError::CannotConnectUnix`] (Twisted's `connectionFailed`).
    pub fn connect_unix_datagram(
        &mut self,
        address: impl ToUnixAddress,
        protocol: impl UnixDatagramProtocol,
    ) -> Result<UnixTransport, ListenError> {
        self.connect_unix_datagram_with(UnixOptions::new(address), protocol)
    }

    /// [`connect_unix_datagram`](Core::connect_unix_datagram) with options: a bind address,
    /// the maximum packet size (`mode` is not used, as in Twisted).
    pub fn connect_unix_datagram_with(
        &mut self,
        options: UnixOptions,
        protocol: impl UnixDatagramProtocol,
    ) -> Result<UnixTransport, ListenError> {
        self.check_can_listen()?;
        let peer = options.address.map_err(ListenError::InvalidAddress)?;
        let bind = options
            .bind_address
            .transpose()
            .map_err(ListenError::InvalidAddress)?;
        let socket = sys::unix_datagram().map_err(|source| ListenError::CannotConnectUnix {
            address: peer,
            source,
        })?;
        let mut created = None;
        if let Some(local) = bind {
            sys::bind_unix(&socket, &local).map_err(|source| ListenError::CannotListenUnix {
                address: local,
                source,
            })?;
            created = local.as_pathname().map(|p| p.to_path_buf());
        }
        let connected = sys::connect_unix(&socket, &peer).and_then(|()| sys::local_unix(&socket));
        let local = match connected {
            Ok(local) => local,
            Err(source) => {
                if let Some(path) = &created {
                    let _ = sys::remove_file(path); // ours: bind just made it
                }
                return Err(ListenError::CannotConnectUnix {
                    address: peer,
                    source,
                });
            }
        };
        let new = NewUnixPort {
            socket,
            local,
            peer: Some(peer),
            max_packet: options.max_packet_size,
            created,
        };
        self.open_unix_port(new, protocol)
    }

    /// Files a bound socket as a UNIX port and runs `start_protocol`; a failed start closes
    /// it again and returns the failure.
    fn open_unix_port<P: UnixDatagramProtocol>(
        &mut self,
        new: NewUnixPort,
        protocol: P,
    ) -> Result<UnixTransport, ListenError> {
        let prefix = guard::log_prefix(|| protocol.log_prefix().into(), std::any::type_name::<P>());
        let id = self.unix_ports.next_id();
        let local = new.local;
        let mut port = UnixPort::new(id, prefix, new, self.outbox.clone());
        if let Err(source) = port.register(self.poll.registry()) {
            port.close(self.poll.registry());
            return Err(ListenError::CannotListenUnix {
                address: local,
                source,
            });
        }
        let transport = port.transport().clone();
        self.unix_ports.insert_lent(transport.clone());
        log::info!(target: "gyre::unix", "{} starting on {local}", port.shared().prefix);
        let mut entry = UnixEntry {
            port,
            protocol: Box::new(protocol),
        };
        match dispatch::call(&mut entry, self, "start_protocol", |p, cx| {
            p.start_protocol(cx)
        }) {
            Ok(()) => {
                self.unix_ports.put_back(entry);
                Ok(transport)
            }
            Err(failure) => {
                self.unix_ports.remove_lent(id);
                self.finish_unix_port(entry);
                Err(ListenError::StartFailed(failure))
            }
        }
    }

    /// Gives a UNIX port its `stop_protocol` (if `notify`), closes it, and fires its
    /// `stop_listening` Deferred.
    pub(crate) fn close_unix_port(&mut self, id: PortId, notify: bool) {
        let Some(mut entry) = self.unix_ports.take(id) else {
            return;
        };
        if notify {
            let _ = dispatch::call(&mut entry, self, "stop_protocol", |p, cx| {
                p.stop_protocol(cx)
            });
        }
        self.finish_unix_port(entry);
    }

    fn finish_unix_port(&mut self, mut entry: UnixEntry) {
        let done = entry.port.close(self.poll.registry());
        let shared = entry.port.shared();
        log::info!(target: "gyre::unix", "(Port '{}' Closed)", shared.local);
        let (stats, name) = (shared.stats(), shared.name());
        self.retire_port(entry, stats, &name, done);
    }

    /// Tells a connected UNIX protocol about the refusals its writes met.
    pub(crate) fn deliver_unix_refusals(&mut self, id: PortId) {
        let Some(mut entry) = self.unix_ports.lend(id) else {
            return;
        };
        for _ in 0..entry.port.shared().take_refusals() {
            let _ = dispatch::call(&mut entry, self, "connection_refused", |p, cx| {
                p.connection_refused(cx)
            });
        }
        self.unix_ports.put_back(entry);
    }

    /// Every open UNIX datagram port's transport.
    pub fn unix_ports(&self) -> Vec<UnixTransport> {
        self.unix_ports.handles()
    }
}
