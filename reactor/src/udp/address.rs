//! Turning what users write into socket addresses, refusing hostnames with a clear error.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::error::InvalidAddress;
use crate::sys;

const HOSTNAME: &str =
    "only IP addresses are accepted here, not hostnames: resolve the name first with resolve()";

/// Anything that names one UDP destination: a `SocketAddr`, `(ip, port)`, `("127.0.0.1",
/// 9999)`, or `"127.0.0.1:9999"` / `"[::1]:9999"`. Strings must be IP literals (Twisted's
/// rule since 2013); `"<broadcast>"` means `255.255.255.255`, as in Twisted. An IPv6 literal
/// may name its zone by interface name or index, `("fe80::1%lo", 9999)` or
/// `"[fe80::1%2]:9999"`: the scope id of the address.
pub trait ToDatagramAddr {
    /// The address, or why it is not one.
    fn to_datagram_addr(&self) -> Result<SocketAddr, InvalidAddress>;
}

impl ToDatagramAddr for SocketAddr {
    fn to_datagram_addr(&self) -> Result<SocketAddr, InvalidAddress> {
        Ok(*self)
    }
}

impl ToDatagramAddr for SocketAddrV4 {
    fn to_datagram_addr(&self) -> Result<SocketAddr, InvalidAddress> {
        Ok((*self).into())
    }
}

impl ToDatagramAddr for SocketAddrV6 {
    fn to_datagram_addr(&self) -> Result<SocketAddr, InvalidAddress> {
        Ok((*self).into())
    }
}

impl ToDatagramAddr for (IpAddr, u16) {
    fn to_datagram_addr(&self) -> Result<SocketAddr, InvalidAddress> {
        Ok(SocketAddr::new(self.0, self.1))
    }
}

impl ToDatagramAddr for (Ipv4Addr, u16) {
    fn to_datagram_addr(&self) -> Result<SocketAddr, InvalidAddress> {
        Ok(SocketAddr::new(self.0.into(), self.1))
    }
}

impl ToDatagramAddr for (Ipv6Addr, u16) {
    fn to_datagram_addr(&self) -> Result<SocketAddr, InvalidAddress> {
        Ok(SocketAddr::new(self.0.into(), self.1))
    }
}

impl ToDatagramAddr for (&str, u16) {
    fn to_datagram_addr(&self) -> Result<SocketAddr, InvalidAddress> {
        Ok(scoped(parse_host(self.0)?, self.1))
    }
}

impl ToDatagramAddr for (String, u16) {
    fn to_datagram_addr(&self) -> Result<SocketAddr, InvalidAddress> {
        (self.0.as_str(), self.1).to_datagram_addr()
    }
}

impl ToDatagramAddr for &str {
    fn to_datagram_addr(&self) -> Result<SocketAddr, InvalidAddress> {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return Ok(addr);
        }
        let reason = match self.rsplit_once(':') {
            Some((host, port)) if port.parse::<u16>().is_ok() => {
                let host = host
                    .strip_prefix('[')
                    .and_then(|h| h.strip_suffix(']'))
                    .unwrap_or(host);
                return (host, port.parse().expect("checked")).to_datagram_addr();
            }
            _ => "expected IP:PORT (IPv6 as [IP]:PORT)",
        };
        Err(InvalidAddress {
            address: self.to_string(),
            reason,
        })
    }
}

impl ToDatagramAddr for String {
    fn to_datagram_addr(&self) -> Result<SocketAddr, InvalidAddress> {
        self.as_str().to_datagram_addr()
    }
}

impl<T: ToDatagramAddr + ?Sized> ToDatagramAddr for &T {
    fn to_datagram_addr(&self) -> Result<SocketAddr, InvalidAddress> {
        (**self).to_datagram_addr()
    }
}

/// An IP literal (or `"<broadcast>"`), with its IPv6 zone if it names one; a hostname is an
/// error that says to resolve it.
fn parse_host(host: &str) -> Result<(IpAddr, u32), InvalidAddress> {
    if host == "<broadcast>" {
        return Ok((Ipv4Addr::BROADCAST.into(), 0));
    }
    parse_scoped(host).map_err(|reason| InvalidAddress {
        address: host.to_string(),
        reason: reason.unwrap_or(if looks_like_hostname(host) {
            HOSTNAME
        } else {
            "not an IPv4 or IPv6 address"
        }),
    })
}

/// `ip` or `ipv6%zone` (an interface name or index) as an address and a scope id; `Err(None)`
/// if it is no IP literal, `Err(Some(why))` if the zone is wrong.
fn parse_scoped(text: &str) -> Result<(IpAddr, u32), Option<&'static str>> {
    let Some((ip, zone)) = text.split_once('%') else {
        return text.parse().map(|ip| (ip, 0)).map_err(|_| None);
    };
    let ip: Ipv6Addr = ip
        .parse()
        .map_err(|_| Some("only an IPv6 address has a zone (%interface)"))?;
    let scope = match zone.parse::<u32>() {
        Ok(index) => index,
        Err(_) if zone.is_empty() => return Err(Some("the zone after % is empty")),
        Err(_) => sys::interface_index(zone)
            .map_err(|_| Some("no network interface has the name after %"))?,
    };
    Ok((ip.into(), scope))
}

/// The socket address of `ip` and `port` in zone `scope` (IPv6; ignored for IPv4).
pub(crate) fn scoped((ip, scope): (IpAddr, u32), port: u16) -> SocketAddr {
    match ip {
        IpAddr::V4(v4) => SocketAddr::new(v4.into(), port),
        IpAddr::V6(v6) => SocketAddrV6::new(v6, port, 0, scope).into(),
    }
}

fn looks_like_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
}

/// The address to bind for an interface string: `""` is `0.0.0.0` (Twisted's default), an IP
/// literal is itself (an IPv6 one with its zone, `fe80::1%lo`), anything else is an error
/// before any socket exists.
pub(crate) fn parse_interface(interface: &str) -> Result<(IpAddr, u32), InvalidAddress> {
    if interface.is_empty() {
        return Ok((Ipv4Addr::UNSPECIFIED.into(), 0));
    }
    parse_scoped(interface).map_err(|reason| InvalidAddress {
        address: interface.to_string(),
        reason: reason.unwrap_or(if looks_like_hostname(interface) {
            "the interface must be an IPv4 or IPv6 address, not a hostname"
        } else {
            "not an IPv4 or IPv6 address"
        }),
    })
}

/// Fits a destination to a socket's family: an IPv4 destination on a dual-stack IPv6 socket
/// becomes `::ffff:a.b.c.d`; any other mismatch is an error (Twisted's messages, in spirit).
pub(crate) fn fit_family(
    to: SocketAddr,
    local: SocketAddr,
    dual_stack: bool,
) -> Result<SocketAddr, InvalidAddress> {
    match (to, local) {
        (SocketAddr::V4(_), SocketAddr::V4(_)) | (SocketAddr::V6(_), SocketAddr::V6(_)) => Ok(to),
        (SocketAddr::V4(v4), SocketAddr::V6(_)) if dual_stack => {
            Ok(SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0).into())
        }
        (SocketAddr::V4(_), SocketAddr::V6(_)) => Err(InvalidAddress {
            address: to.to_string(),
            reason: "an IPv4 address on an IPv6-only port",
        }),
        (SocketAddr::V6(_), SocketAddr::V4(_)) => Err(InvalidAddress {
            address: to.to_string(),
            reason: "an IPv6 address on an IPv4 port",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_parse_and_hostnames_are_refused_with_advice() {
        assert_eq!(
            ("127.0.0.1", 9).to_datagram_addr().unwrap(),
            "127.0.0.1:9".parse().unwrap()
        );
        assert_eq!(
            "[::1]:9".to_datagram_addr().unwrap(),
            "[::1]:9".parse().unwrap()
        );
        assert_eq!(
            ("<broadcast>", 9).to_datagram_addr().unwrap(),
            "255.255.255.255:9".parse().unwrap()
        );
        let e = ("example.com", 9).to_datagram_addr().unwrap_err();
        assert_eq!(e.address, "example.com");
        assert!(e.reason.contains("not hostnames"));
        let e = "localhost:53".to_datagram_addr().unwrap_err();
        assert!(e.reason.contains("not hostnames"));
        assert!("nonsense".to_datagram_addr().is_err());
        assert!(
            parse_interface("localhost")
                .unwrap_err()
                .reason
                .contains("hostname")
        );
        assert_eq!(parse_interface("").unwrap(), ([0, 0, 0, 0].into(), 0));
        assert_eq!(
            parse_interface("::").unwrap(),
            (Ipv6Addr::UNSPECIFIED.into(), 0)
        );
    }

    #[test]
    fn an_ipv6_zone_is_a_scope_id_by_index_or_interface_name() {
        let lo = sys::interface_index("lo").expect("a loopback interface named lo");
        let at = |scope| SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 9, 0, scope));
        assert_eq!(("fe80::1%lo", 9).to_datagram_addr().unwrap(), at(lo));
        assert_eq!(("fe80::1%7", 9).to_datagram_addr().unwrap(), at(7));
        assert_eq!("[fe80::1%lo]:9".to_datagram_addr().unwrap(), at(lo));
        assert_eq!("[fe80::1%7]:9".to_datagram_addr().unwrap(), at(7));
        assert_eq!(
            "[::1]:9".to_datagram_addr().unwrap(),
            "[::1]:9".parse().unwrap()
        );
        assert_eq!(
            parse_interface("fe80::1%lo").unwrap(),
            ("fe80::1".parse().unwrap(), lo)
        );
        let reason = |text: &str| (text, 9).to_datagram_addr().unwrap_err().reason;
        assert_eq!(
            reason("fe80::1%no-such-interface-here"),
            "no network interface has the name after %"
        );
        assert_eq!(
            reason("127.0.0.1%lo"),
            "only an IPv6 address has a zone (%interface)"
        );
        assert_eq!(reason("fe80::1%"), "the zone after % is empty");
    }

    #[test]
    fn families_are_fitted_or_refused() {
        let v4: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let v6: SocketAddr = "[::1]:1".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:1".parse().unwrap();
        assert_eq!(fit_family(v4, v6, true).unwrap(), mapped);
        assert!(fit_family(v4, v6, false).is_err());
        assert!(fit_family(v6, v4, true).is_err());
        assert_eq!(fit_family(v6, v6, false).unwrap(), v6);
    }
}
