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
pub(crate) fn drain_error_queue(_socket: &UdpSocket) -> usize {
    0
}

/// Leaves the limit alone and reports it as unknown.
pub(crate) fn raise_open_files_limit() -> io::Result<u64> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "raising RLIMIT_NOFILE is only done on Linux",
    ))
}
