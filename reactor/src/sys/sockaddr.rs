//! IP socket addresses as the kernel reads and writes them (`sockaddr_storage`), for the
//! batch path, the error queue and sends that name their source.

use std::mem::size_of;
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

/// Writes `addr` into `storage`; returns its length.
pub(super) fn write_address(
    storage: &mut libc::sockaddr_storage,
    addr: SocketAddr,
) -> libc::socklen_t {
    match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*a.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: `sockaddr_storage` is large enough and aligned for a `sockaddr_in`.
            unsafe { std::ptr::write((storage as *mut libc::sockaddr_storage).cast(), sin) };
            size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: `sockaddr_storage` is large enough and aligned for a `sockaddr_in6`.
            unsafe { std::ptr::write((storage as *mut libc::sockaddr_storage).cast(), sin6) };
            size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}
