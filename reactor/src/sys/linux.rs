//! Linux system calls socket2 and mio do not wrap.

use std::io;
use std::os::fd::AsRawFd;

use mio::net::UdpSocket;
use socket2::Socket;

use super::ErrorReport;

/// `recv` flag that makes Linux return a datagram's real length even when it was truncated.
#[cfg_attr(not(gyre_portable_io), allow(dead_code))] // the portable batch path uses it
pub(crate) const TRUNC_FLAG: libc::c_int = libc::MSG_TRUNC;

pub(crate) fn set_reuse_port(socket: &Socket) -> io::Result<()> {
    socket.set_reuse_port(true)
}

/// Empties the socket's error queue (`MSG_ERRQUEUE`), handing each entry to `each`; returns
/// how many entries it held.
///
/// With `IP_RECVERR` set (a port that reports ICMP errors), ICMP errors queue here and keep
/// `EPOLLERR` raised until read. Reading the queue on every error event, whoever set the
/// option, means the loop can never spin on an error it does not consume.
pub(crate) fn drain_error_queue(socket: &UdpSocket, mut each: impl FnMut(ErrorReport)) -> usize {
    let fd = socket.as_raw_fd();
    let mut drained = 0;
    loop {
        let mut data = [0u8; 64]; // the failed datagram's first bytes: not kept
        let mut control = [0u64; 64]; // 512 bytes, aligned for `cmsghdr`
        // SAFETY: an all-zero `sockaddr_storage` is a valid value (family 0).
        let mut name: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut iov = libc::iovec {
            iov_base: data.as_mut_ptr().cast(),
            iov_len: data.len(),
        };
        // SAFETY: an all-zero `msghdr` is a valid empty header; every pointer set below points
        // into a live local buffer whose length is given next to it.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = (&mut name as *mut libc::sockaddr_storage).cast();
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: `fd` is an open socket owned by `socket` for the duration of the call, and
        // `msg` only references the local buffers above.
        let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT) };
        if n < 0 {
            return drained; // EAGAIN: empty (any other error: nothing more to read either)
        }
        drained += 1;
        if let Some(report) = extended_error(&msg) {
            let destination = super::sockaddr::socket_address(&name);
            each(ErrorReport {
                destination,
                ..report
            });
        }
    }
}

/// The `IP_RECVERR` / `IPV6_RECVERR` control message of an error-queue entry, if any.
fn extended_error(msg: &libc::msghdr) -> Option<ErrorReport> {
    // SAFETY: `msg` was filled by the kernel; CMSG_FIRSTHDR/NXTHDR only walk within
    // `msg_control[..msg_controllen]`. A `sock_extended_err` is the payload of an
    // IP_RECVERR/IPV6_RECVERR message (read unaligned), and the offender's address follows
    // it (SO_EE_OFFENDER), still inside the message the kernel wrote (checked by length).
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            let (level, kind) = ((*cmsg).cmsg_level, (*cmsg).cmsg_type);
            let ours = (level == libc::SOL_IP && kind == libc::IP_RECVERR)
                || (level == libc::SOL_IPV6 && kind == libc::IPV6_RECVERR);
            let payload = (*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
            let size = std::mem::size_of::<libc::sock_extended_err>();
            if ours && payload >= size {
                let data = libc::CMSG_DATA(cmsg);
                let ee: libc::sock_extended_err = std::ptr::read_unaligned(data.cast());
                let mut offender = None;
                if payload >= size + std::mem::size_of::<libc::sockaddr_in>() {
                    let mut storage: libc::sockaddr_storage = std::mem::zeroed();
                    let room = (payload - size).min(std::mem::size_of::<libc::sockaddr_storage>());
                    std::ptr::copy_nonoverlapping(
                        data.add(size),
                        (&mut storage as *mut libc::sockaddr_storage).cast::<u8>(),
                        room,
                    );
                    offender = super::sockaddr::socket_address(&storage).map(|a| a.ip());
                }
                return Some(ErrorReport {
                    destination: None,
                    errno: ee.ee_errno as i32,
                    origin: ee.ee_origin,
                    icmp_type: ee.ee_type,
                    code: ee.ee_code,
                    info: ee.ee_info,
                    offender,
                });
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    None
}

/// Turns on `IP_RECVERR` (and `IPV6_RECVERR` on an IPv6 socket, whose IPv4-mapped traffic
/// still meets IPv4 errors): ICMP errors then queue on the socket's error queue, whatever
/// the datagram's destination, with the destination and the ICMP type and code.
pub(crate) fn set_recv_err(socket: &Socket, v6: bool) -> io::Result<()> {
    set_int_option(socket, libc::SOL_IP, libc::IP_RECVERR, 1)?;
    if v6 {
        set_int_option(socket, libc::SOL_IPV6, libc::IPV6_RECVERR, 1)?;
    }
    Ok(())
}

/// Sends `data` to `to` from the local address `from.0`: `sendmsg` with an `IP_PKTINFO`
/// (IPv4 source) or `IPV6_PKTINFO` control message. The interface `from.1` is named only for
/// an IPv6 link-local source, which needs it; otherwise routing picks the way out.
pub(crate) fn send_from(
    socket: &UdpSocket,
    data: &[u8],
    to: std::net::SocketAddr,
    from: (std::net::IpAddr, u32),
) -> io::Result<usize> {
    let mut control = [0u64; 8]; // 64 bytes: CMSG_SPACE(in6_pktinfo) is 40
    // SAFETY: an all-zero `sockaddr_storage` is a valid value (family 0).
    let mut name: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let namelen = super::sockaddr::write_address(&mut name, to);
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: an all-zero `msghdr` is a valid empty header; every pointer set below points at
    // a live local (or `data`, borrowed for the call) whose length is given next to it.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = (&mut name as *mut libc::sockaddr_storage).cast();
    msg.msg_namelen = namelen;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    // SAFETY: the first header of a control buffer of `msg_controllen` bytes is inside it;
    // CMSG_SPACE/CMSG_LEN only compute sizes, and the payload written (an `in_pktinfo` or
    // `in6_pktinfo`, unaligned) fits in the space counted for it, within `control`.
    unsafe {
        match from.0 {
            std::net::IpAddr::V4(ip) => {
                let size = std::mem::size_of::<libc::in_pktinfo>() as u32;
                msg.msg_controllen = libc::CMSG_SPACE(size) as _;
                let cmsg = libc::CMSG_FIRSTHDR(&msg);
                (*cmsg).cmsg_level = libc::IPPROTO_IP;
                (*cmsg).cmsg_type = libc::IP_PKTINFO;
                (*cmsg).cmsg_len = libc::CMSG_LEN(size) as _;
                let info = libc::in_pktinfo {
                    ipi_ifindex: 0,
                    ipi_spec_dst: libc::in_addr {
                        s_addr: u32::from(ip).to_be(),
                    },
                    ipi_addr: libc::in_addr { s_addr: 0 },
                };
                std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast(), info);
            }
            std::net::IpAddr::V6(ip) => {
                let size = std::mem::size_of::<libc::in6_pktinfo>() as u32;
                msg.msg_controllen = libc::CMSG_SPACE(size) as _;
                let cmsg = libc::CMSG_FIRSTHDR(&msg);
                (*cmsg).cmsg_level = libc::IPPROTO_IPV6;
                (*cmsg).cmsg_type = libc::IPV6_PKTINFO;
                (*cmsg).cmsg_len = libc::CMSG_LEN(size) as _;
                let link_local = ip.segments()[0] & 0xffc0 == 0xfe80;
                let info = libc::in6_pktinfo {
                    ipi6_addr: libc::in6_addr {
                        s6_addr: ip.octets(),
                    },
                    ipi6_ifindex: if link_local { from.1 } else { 0 },
                };
                std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast(), info);
            }
        }
    }
    // SAFETY: `msg` is fully initialised and points only at the locals above and `data`,
    // which live across the call; the fd is open for the call's duration.
    let sent = unsafe { libc::sendmsg(socket.as_raw_fd(), &msg, libc::MSG_DONTWAIT) };
    if sent < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(sent as usize)
    }
}

/// `UDP_GRO` (linux/udp.h): receive trains of same-size datagrams coalesced into one buffer.
pub(crate) const UDP_GRO: libc::c_int = 104;

/// Turns on `UDP_GRO` (Linux 5.0+): the kernel may hand several datagrams of one sender, of
/// one size (the last maybe shorter), as one buffer with their size in a control message.
pub(crate) fn set_gro(socket: &Socket) -> io::Result<()> {
    set_int_option(socket, libc::SOL_UDP, UDP_GRO, 1).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOPROTOOPT) => io::Error::new(
            io::ErrorKind::Unsupported,
            "UDP GRO needs Linux 5.0 or later: this kernel refused UDP_GRO",
        ),
        _ => e,
    })
}

/// Turns on `IP_PKTINFO` (and `IPV6_RECVPKTINFO` on an IPv6 socket, whose IPv4-mapped
/// datagrams come with the IPv4 one): each datagram then carries the local address and
/// interface it arrived on.
pub(crate) fn set_pktinfo(socket: &Socket, v6: bool) -> io::Result<()> {
    set_int_option(socket, libc::IPPROTO_IP, libc::IP_PKTINFO, 1)?;
    if v6 {
        set_int_option(socket, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1)?;
    }
    Ok(())
}

fn set_int_option(
    socket: &Socket,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    set_option(socket.as_raw_fd(), level, name, &value)
}

/// `setsockopt` with any plain value (`c_int`, `group_source_req`…).
fn set_option<T: Copy>(
    fd: std::os::fd::RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: `value` is a valid, initialised `T` for the duration of the call and its size is
    // passed with it; the caller's socket keeps `fd` open across the call.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
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
    set_option(socket.as_raw_fd(), libc::IPPROTO_IPV6, option, &req)
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
