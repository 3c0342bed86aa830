//! Sending a train of datagrams with one GSO `sendmsg` (`UDP_SEGMENT`), for the GRO tests and
//! `benches/gro.rs` (which includes this file by path).

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

/// `UDP_SEGMENT` (linux/udp.h): send one buffer as datagrams of a given size.
const UDP_SEGMENT: libc::c_int = 103;

/// Sends `payload` from `socket` to `to` as one GSO train of `segment`-byte datagrams (the
/// last shorter if the payload does not divide evenly).
pub fn send_train(
    socket: &UdpSocket,
    to: SocketAddr,
    payload: &[u8],
    segment: u16,
) -> io::Result<()> {
    let SocketAddr::V4(to) = to else {
        unreachable!("IPv4 loopback only")
    };
    let mut name = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: to.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*to.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    let mut iov = libc::iovec {
        iov_base: payload.as_ptr() as *mut libc::c_void,
        iov_len: payload.len(),
    };
    let mut control = [0u64; 4];
    // SAFETY: an all-zero msghdr is valid; every pointer set points at a live local (or at
    // `payload`, borrowed for the call) with its length; the control buffer holds
    // CMSG_SPACE(2) bytes, so the one header and its u16 fit; the fd is open.
    let rc = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_name = (&mut name as *mut libc::sockaddr_in).cast();
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(2) as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_UDP;
        (*cmsg).cmsg_type = UDP_SEGMENT;
        (*cmsg).cmsg_len = libc::CMSG_LEN(2) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<u16>(), segment);
        libc::sendmsg(socket.as_raw_fd(), &msg, 0)
    };
    match rc {
        n if n < 0 => Err(io::Error::last_os_error()),
        _ => Ok(()),
    }
}
