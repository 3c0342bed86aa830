//! [`UnixOptions`]: how to open a UNIX datagram port.

use super::{ToUnixAddress, UnixAddress};
use crate::error::InvalidAddress;
use crate::udp::MAX_DATAGRAM;

/// Options for [`Core::listen_unix_datagram_with`](crate::Core::listen_unix_datagram_with)
/// and [`Core::connect_unix_datagram_with`](crate::Core::connect_unix_datagram_with):
/// Twisted's `listenUNIXDatagram(address, protocol, maxPacketSize, mode)` and
/// `connectUNIXDatagram(address, protocol, maxPacketSize, mode, bindAddress)`.
///
/// ```
/// use gyre::unix::UnixOptions;
/// let options = UnixOptions::new("/run/app.sock").mode(0o600).max_packet_size(1500);
/// assert_eq!(options.address().unwrap().to_string(), "/run/app.sock");
/// ```
#[derive(Debug, Clone)]
pub struct UnixOptions {
    pub(crate) address: Result<UnixAddress, InvalidAddress>,
    pub(crate) mode: u32,
    pub(crate) max_packet_size: usize,
    pub(crate) bind_address: Option<Result<UnixAddress, InvalidAddress>>,
}

impl UnixOptions {
    /// The address to listen on (or, to connect, the peer's): a path, or `"\0name"` for a
    /// Linux abstract name. An invalid one is reported when the port opens.
    pub fn new(address: impl ToUnixAddress) -> UnixOptions {
        UnixOptions {
            address: address.to_unix_address(),
            mode: 0o666,
            max_packet_size: MAX_DATAGRAM,
            bind_address: None,
        }
    }

    /// The address asked for.
    pub fn address(&self) -> Result<UnixAddress, InvalidAddress> {
        self.address.clone()
    }

    /// The permission bits of the socket file a listening port creates (default `0o666`, as
    /// in Twisted); not used for abstract names or connecting ports.
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode & 0o7777;
        self
    }

    /// The largest datagram delivered whole (1 to 65,535; default 65,535). A longer one is
    /// counted in `truncated` and logged, never delivered cut.
    pub fn max_packet_size(mut self, size: usize) -> Self {
        self.max_packet_size = size.clamp(1, MAX_DATAGRAM);
        self
    }

    /// For a connecting port: the address to bind before connecting, so the peer can tell
    /// who wrote and answer (Twisted's `bindAddress`). Without it the port is unnamed.
    pub fn bind_address(mut self, address: impl ToUnixAddress) -> Self {
        self.bind_address = Some(address.to_unix_address());
        self
    }
}
