//! [`ReceivedAt`]: where a datagram arrived (`IP_PKTINFO` / `IPV6_PKTINFO`).

use std::fmt;
use std::net::IpAddr;

/// The local address a datagram was sent to and the interface it came in on: which of the
/// host's addresses the sender used, on a port bound to a wildcard address. Read with
/// [`TransportMut::received_at`](crate::udp::TransportMut::received_at) while
/// `datagram_received` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReceivedAt {
    /// The datagram's destination address (an IPv4-mapped IPv6 address on a dual-stack
    /// port is given as IPv4 if the kernel reports it so).
    pub address: IpAddr,
    /// The index of the interface it arrived on (see `if_nametoindex`).
    pub interface: u32,
}

impl fmt::Display for ReceivedAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} on interface {}", self.address, self.interface)
    }
}
