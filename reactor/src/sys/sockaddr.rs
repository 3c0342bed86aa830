//! Reading the IP socket addresses the kernel writes (`sockaddr_storage`), for the batch
//! receive path and the error queue.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// The address the kernel wrote: IPv4 inline (the common case), IPv6 out of line; a
/// datagram from no IP address (it cannot happen on a UDP socket) reads as `0.0.0.0:0`.
#[inline]
pub(super) fn parse_address(storage: &libc::sockaddr_storage) -> SocketAddr {
    if storage.ss_family as libc::c_int == libc::AF_INET {
        // SAFETY: the family says the storage holds a `sockaddr_in`, which it can contain.
        let a = unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
        let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
        return SocketAddrV4::new(ip, u16::from_be(a.sin_port)).into();
    }
    parse_other_address(storage).unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)))
}

/// The IP address in a kernel-filled `sockaddr_storage`, if it holds one.
pub(super) fn socket_address(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match storage.ss_family as libc::c_int {
        libc::AF_INET => Some(parse_address(storage)),
        _ => parse_other_address(storage),
    }
}

#[inline(never)]
fn parse_other_address(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match storage.ss_family as libc::c_int {
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a `sockaddr_in6`, which it can contain.
            let a = unsafe {
                &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            Some(
                SocketAddrV6::new(
                    ip,
                    u16::from_be(a.sin6_port),
                    a.sin6_flowinfo,
                    a.sin6_scope_id,
                )
                .into(),
            )
        }
        _ => None,
    }
}
