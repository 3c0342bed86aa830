//! [`UnixTransport`]: a protocol's handle on its UNIX datagram port (Twisted's
//! `unix.DatagramPort` as a transport).

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::rc::Rc;

use socket2::Socket;

use super::port::UnixShared;
use super::{ToUnixAddress, UnixAddress};
use crate::defer::Deferred;
use crate::error::WriteError;
use crate::stats::PortStats;
use crate::sys;

/// A handle on one UNIX datagram port: write datagrams, query and stop it.
///
/// Cheap to clone, and the same whether a callback is handed it or a timer keeps it: writes
/// leave at once (one `sendmsg` each), in the order they are made. Once the port is stopped
/// (or the reactor dropped) every call returns [`WriteError::PortClosed`]; it never keeps
/// the port's socket, nor the reactor, alive.
///
/// A UNIX datagram socket is reliable: when the receiving socket's queue is full the kernel
/// says so (`EWOULDBLOCK`) rather than dropping the datagram, and gyre passes that on as
/// [`WriteError::Io`] (counted in [`PortStats::send_drops`]); Twisted drops it silently.
///
/// ```
/// use gyre::Reactor;
/// use gyre::unix::{UnixAddress, UnixContext, UnixDatagramProtocol};
/// use gyre::Outcome;
///
/// struct Quiet;
/// impl UnixDatagramProtocol for Quiet {
///     fn datagram_received(&mut self, _: &mut UnixContext<'_>, _: &[u8], _: &UnixAddress) -> Outcome {
///         Ok(())
///     }
/// }
///
/// let mut reactor = Reactor::new().unwrap();
/// let dir = std::env::temp_dir().join(format!("gyre-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("quiet.sock");
/// let port = reactor.listen_unix_datagram(&path, Quiet).unwrap();
/// assert_eq!(port.get_host().unwrap().as_pathname(), Some(path.as_path()));
/// port.write_to(b"to myself", &path).unwrap();
/// assert_eq!(port.to_string(), format!("<Quiet on '{}'>", path.display()));
/// port.stop_listening();
/// reactor.iterate(std::time::Duration::ZERO).unwrap();
/// assert!(!path.exists()); // gyre removes the socket file it created
/// # std::fs::remove_dir(&dir).unwrap();
/// ```
#[derive(Clone)]
pub struct UnixTransport {
    shared: Rc<UnixShared>,
}

impl UnixTransport {
    pub(crate) fn new(shared: Rc<UnixShared>) -> UnixTransport {
        UnixTransport { shared }
    }

    #[inline]
    pub(crate) fn shared(&self) -> &UnixShared {
        &self.shared
    }

    /// The port's log prefix, `"<protocol's log prefix> (UNIX)"`.
    pub fn log_prefix(&self) -> String {
        format!("{} (UNIX)", self.shared.prefix)
    }

    /// Sends one datagram to `to` (Twisted's `write(data, address)`). On a connected port
    /// `to` must be the peer.
    pub fn write_to(&self, data: &[u8], to: impl ToUnixAddress) -> Result<(), WriteError> {
        self.write_sequence_to(&[data], to)
    }

    /// Sends one datagram to the connected peer (Twisted's `ConnectedDatagramPort.write`).
    pub fn write(&self, data: &[u8]) -> Result<(), WriteError> {
        self.write_sequence(&[data])
    }

    /// Sends one datagram made of `parts` to `to`, gathered by the kernel (Twisted's
    /// `writeSequence`), never joined into a buffer of its own first.
    pub fn write_sequence_to(
        &self,
        parts: &[&[u8]],
        to: impl ToUnixAddress,
    ) -> Result<(), WriteError> {
        let to = self.shared.destination(to.to_unix_address()?)?;
        self.send(parts, to.as_ref())
    }

    /// Sends one datagram made of `parts` to the connected peer.
    pub fn write_sequence(&self, parts: &[&[u8]]) -> Result<(), WriteError> {
        let to = self.shared.connected_destination()?;
        self.send(parts, to.as_ref())
    }

    fn send(&self, parts: &[&[u8]], to: Option<&UnixAddress>) -> Result<(), WriteError> {
        let len = parts.iter().map(|p| p.len()).sum();
        self.shared.send_now(parts, len, to)
    }

    /// The address the port is bound to (Twisted's `getHost`); unnamed for a connected port
    /// made without a bind address.
    pub fn get_host(&self) -> Result<UnixAddress, WriteError> {
        self.open().map(|s| s.local)
    }

    /// The connected peer, if any (Twisted's `getPeer`).
    pub fn peer(&self) -> Option<UnixAddress> {
        self.open().ok().and_then(UnixShared::peer)
    }

    /// The largest datagram this port delivers whole.
    pub fn max_packet_size(&self) -> Result<usize, WriteError> {
        self.open().map(|s| s.max_packet)
    }

    /// Whether the port is open (not stopped or stopping).
    pub fn is_listening(&self) -> bool {
        self.shared.is_listening()
    }

    /// Stops the port (Twisted's `stopListening`), as a UDP port stops: reading stops now,
    /// `stop_protocol` runs on a later step, the socket closes (its file is removed, if the
    /// port created it and the path still names it), and the returned Deferred fires.
    pub fn stop_listening(&self) -> Deferred<()> {
        self.shared.state.stop()
    }

    /// `SO_RCVBUF` as the kernel reports it.
    pub fn recv_buffer_size(&self) -> Result<usize, WriteError> {
        self.with_socket(sys::recv_buffer_size)
    }

    /// Sets `SO_RCVBUF`.
    pub fn set_recv_buffer_size(&self, bytes: usize) -> Result<(), WriteError> {
        self.with_socket(|s| sys::set_recv_buffer_size(s, bytes))
    }

    /// `SO_SNDBUF` as the kernel reports it (on Linux it also bounds a datagram's size).
    pub fn send_buffer_size(&self) -> Result<usize, WriteError> {
        self.with_socket(sys::send_buffer_size)
    }

    /// Sets `SO_SNDBUF`.
    pub fn set_send_buffer_size(&self, bytes: usize) -> Result<(), WriteError> {
        self.with_socket(|s| sys::set_send_buffer_size(s, bytes))
    }

    /// This port's counters.
    pub fn stats(&self) -> Result<PortStats, WriteError> {
        self.open().map(UnixShared::stats)
    }

    /// The number of the port's socket descriptor while it is open (Twisted's `fileno()`).
    pub fn fileno(&self) -> Result<RawFd, WriteError> {
        self.with_handle(|fd| fd.as_raw_fd())
    }

    /// Runs `f` with the port's socket descriptor borrowed (Twisted's `getHandle()`).
    pub fn with_handle<R>(&self, f: impl FnOnce(BorrowedFd<'_>) -> R) -> Result<R, WriteError> {
        self.with_socket(|s| Ok(f(s.as_fd())))
    }

    fn with_socket<R>(
        &self,
        f: impl FnOnce(&Socket) -> std::io::Result<R>,
    ) -> Result<R, WriteError> {
        let socket = self.open()?.socket()?;
        f(&socket).map_err(WriteError::Io)
    }

    fn open(&self) -> Result<&UnixShared, WriteError> {
        match self.shared.is_listening() {
            true => Ok(&self.shared),
            false => Err(WriteError::PortClosed),
        }
    }
}

/// Twisted's `repr(port)`: `<Echo on '/run/echo.sock'>` while the port is open,
/// `<Echo (not listening)>` once it has closed (an abstract name shows as `@name`).
impl fmt::Display for UnixTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.shared;
        match shared.socket() {
            Ok(_) => write!(f, "<{} on '{}'>", shared.prefix, shared.local),
            Err(_) => write!(f, "<{} (not listening)>", shared.prefix),
        }
    }
}

impl fmt::Debug for UnixTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.get_host() {
            Ok(addr) => write!(f, "UnixTransport({addr})"),
            Err(_) => f.write_str("UnixTransport(closed)"),
        }
    }
}
