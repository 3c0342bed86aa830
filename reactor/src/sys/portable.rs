//! What non-Linux Unix systems get where Linux has a special call.

use std::io;

use mio::net::UdpSocket;
use socket2::Socket;

/// No portable way to learn a truncated datagram's real length: gyre reads into a buffer one
/// byte larger than the largest datagram it accepts, so a longer one still shows as truncated.
pub(crate) const TRUNC_FLAG: libc::c_int = 0;

pub(crate) fn set_reuse_port(socket: &Socket) -> io::Result<()> {
    socket.set_reuse_port(true)
}

/// There is no error queue to drain outside Linux.
pub(crate) fn drain_error_queue(
    _socket: &UdpSocket,
    _each: impl FnMut(super::ErrorReport),
) -> usize {
    0
}

/// ICMP error reports need Linux's `IP_RECVERR`.
pub(crate) fn set_recv_err(_socket: &Socket, _v6: bool) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "ICMP errors on unconnected ports are reported only on Linux (IP_RECVERR)",
    ))
}

/// Leaves the limit alone and reports it as unknown.
pub(crate) fn raise_open_files_limit() -> io::Result<u64> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "raising RLIMIT_NOFILE is only done on Linux",
    ))
}

/// Interface names need `if_nametoindex`; only wired up on Linux so far.
pub(crate) fn interface_index(_name: &str) -> io::Result<u32> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "interface names are only resolved on Linux",
    ))
}

/// IPv6 source-specific multicast is only wired up on Linux so far.
pub(crate) fn source_membership_v6(
    _socket: &UdpSocket,
    _join: bool,
    _group: std::net::Ipv6Addr,
    _source: std::net::Ipv6Addr,
    _index: u32,
) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "IPv6 source-specific multicast is Linux-only here",
    ))
}

/// A datagram's destination address (`IP_PKTINFO`) is only read on Linux so far.
pub(crate) fn set_pktinfo(_socket: &Socket, _v6: bool) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "a datagram's destination address is only reported on Linux (IP_PKTINFO)",
    ))
}

/// Choosing a datagram's source address is only wired up on Linux (`IP_PKTINFO`).
pub(crate) fn send_from(
    _socket: &UdpSocket,
    _data: &[u8],
    _to: std::net::SocketAddr,
    _from: (std::net::IpAddr, u32),
) -> io::Result<usize> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "choosing a datagram's source address needs Linux (IP_PKTINFO)",
    ))
}

/// UDP GRO is Linux's.
pub(crate) fn set_gro(_socket: &Socket) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "UDP GRO is only available on Linux (UDP_GRO, 5.0+)",
    ))
}
