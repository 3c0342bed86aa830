//! Linux system calls socket2 and mio do not wrap.

use std::io;
use std::os::fd::AsRawFd;

use mio::net::UdpSocket;
use socket2::Socket;

/// `recv` flag that makes Linux return a datagram's real length even when it was truncated.
#[cfg_attr(not(gyre_portable_io), allow(dead_code))] // the portable batch path uses it
pub(crate) const TRUNC_FLAG: libc::c_int = libc::MSG_TRUNC;

pub(crate) fn set_reuse_port(socket: &Socket) -> io::Result<()> {
    socket.set_reuse_port(true)
}

/// Empties the socket's error queue (`MSG_ERRQUEUE`) and returns how many entries it held.
///
/// With `IP_RECVERR` set, ICMP errors queue here and keep `EPOLLERR` raised until read; gyre
/// does not set it, so this normally finds nothing, but reading it on every error event means
/// the loop can never spin on an error it does not consume, whatever set the option.
pub(crate) fn drain_error_queue(socket: &UdpSocket) -> usize {
    let fd = socket.as_raw_fd();
    let mut drained = 0;
    loop {
        let mut data = [0u8; 256];
        let mut control = [0u8; 512];
        let mut iov = libc::iovec {
            iov_base: data.as_mut_ptr().cast(),
            iov_len: data.len(),
        };
        // SAFETY: an all-zero `msghdr` is a valid empty header; every pointer set below points
        // into a live local buffer whose length is given next to it.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = control.len() as _;
        // SAFETY: `fd` is an open socket owned by `socket` for the duration of the call, and
        // `msg` only references the local buffers above.
        let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT) };
        if n < 0 {
            return drained; // EAGAIN: empty (any other error: nothing more to read either)
        }
        drained += 1;
    }
}

/// Raises the soft limit on open files to the hard limit; returns the new soft limit.
pub(crate) fn raise_open_files_limit() -> io::Result<u64> {
    // SAFETY: an all-zero `rlimit` is a valid value; `getrlimit` fills it in.
    let mut limit: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: `limit` is a valid, writable `rlimit`.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: `limit` is a valid `rlimit` with `rlim_cur <= rlim_max`.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(limit.rlim_cur as u64)
}

/// The index of the network interface called `name` (`if_nametoindex`).
pub(crate) fn interface_index(name: &str) -> io::Result<u32> {
    let name =
        std::ffi::CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `name` is a valid NUL-terminated string that lives across the call.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if index == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(index)
    }
}

/// Joins or leaves an IPv6 group for one source only (`MCAST_JOIN_SOURCE_GROUP` /
/// `MCAST_LEAVE_SOURCE_GROUP`), which socket2 does not wrap.
pub(crate) fn source_membership_v6(
    socket: &UdpSocket,
    join: bool,
    group: std::net::Ipv6Addr,
    source: std::net::Ipv6Addr,
    index: u32,
) -> io::Result<()> {
    // SAFETY: an all-zero `group_source_req` is a valid value (empty addresses).
    let mut req: libc::group_source_req = unsafe { std::mem::zeroed() };
    req.gsr_interface = index;
    write_sockaddr_in6(&mut req.gsr_group, group);
    write_sockaddr_in6(&mut req.gsr_source, source);
    let option = if join {
        libc::MCAST_JOIN_SOURCE_GROUP
    } else {
        libc::MCAST_LEAVE_SOURCE_GROUP
    };
    // SAFETY: `req` is a fully initialised `group_source_req` and the length passed is its size;
    // the fd is open for the duration of the call.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IPV6,
            option,
            (&req as *const libc::group_source_req).cast(),
            std::mem::size_of::<libc::group_source_req>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn write_sockaddr_in6(storage: &mut libc::sockaddr_storage, ip: std::net::Ipv6Addr) {
    let addr = libc::sockaddr_in6 {
        sin6_family: libc::AF_INET6 as libc::sa_family_t,
        sin6_port: 0,
        sin6_flowinfo: 0,
        sin6_addr: libc::in6_addr {
            s6_addr: ip.octets(),
        },
        sin6_scope_id: 0,
    };
    // SAFETY: `sockaddr_storage` is larger than and aligned for every socket address type,
    // `sockaddr_in6` included; we write one whole, initialised `sockaddr_in6` at its start.
    unsafe {
        std::ptr::write(
            (storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>(),
            addr,
        )
    };
}
