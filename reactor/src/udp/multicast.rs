//! Multicast on a [`Transport`] (Twisted's `IMulticastTransport`): groups, source-specific
//! groups, loopback mode, TTL / hop limit, outgoing interface; IPv4 and IPv6.
//!
//! Every UDP port can use these; [`Core::listen_multicast`](crate::Core::listen_multicast)
//! only sets the socket up so several listeners can share the port.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr};

use super::transport::Transport;
use crate::defer::Deferred;
use crate::error::{InvalidAddress, MulticastJoinError, WriteError};
use crate::sys;

/// Which network interface a multicast operation uses.
///
/// IPv4 names an interface by one of its addresses (Twisted's style) or by index; IPv6 only by
/// index. From a string: `""` is any, an IPv4 literal is that address, a number is an index,
/// anything else is an interface name (`"lo"`, `"eth0"`) looked up to its index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MulticastInterface {
    /// Let the OS choose.
    Any,
    /// The IPv4 interface with this address.
    Address(Ipv4Addr),
    /// The interface with this index (IPv4 or IPv6).
    Index(u32),
}

impl MulticastInterface {
    /// Parses `""`, an IPv4 literal, an index, or an interface name.
    pub fn parse(interface: &str) -> Result<MulticastInterface, InvalidAddress> {
        if interface.is_empty() || interface == "0.0.0.0" || interface == "::" {
            return Ok(MulticastInterface::Any);
        }
        if let Ok(v4) = interface.parse::<Ipv4Addr>() {
            return Ok(MulticastInterface::Address(v4));
        }
        if let Ok(index) = interface.parse::<u32>() {
            return Ok(MulticastInterface::Index(index));
        }
        sys::interface_index(interface).map(MulticastInterface::Index).map_err(|_| InvalidAddress {
            address: interface.to_string(),
            reason: "no network interface has this name (an IPv6 address cannot name an interface: use its index or name)",
        })
    }

    fn index(self) -> u32 {
        match self {
            MulticastInterface::Index(i) => i,
            _ => 0,
        }
    }
}

impl From<Ipv4Addr> for MulticastInterface {
    fn from(address: Ipv4Addr) -> Self {
        MulticastInterface::Address(address)
    }
}

impl From<u32> for MulticastInterface {
    fn from(index: u32) -> Self {
        MulticastInterface::Index(index)
    }
}

impl fmt::Display for MulticastInterface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MulticastInterface::Any => f.write_str(""),
            MulticastInterface::Address(a) => write!(f, "{a}"),
            MulticastInterface::Index(i) => write!(f, "interface #{i}"),
        }
    }
}

/// A group join or leave, described for errors.
struct Membership<'a> {
    group: &'a str,
    source: Option<&'a str>,
    interface: &'a str,
    join: bool,
}

impl Transport {
    /// Joins a multicast group on an interface (Twisted's `joinGroup`): `interface` is `""`
    /// (any), an IPv4 address, an interface index or name. The Deferred is already fired when
    /// returned; a failure is a [`MulticastJoinError`] and is logged if nobody handles it.
    pub fn join_group(&self, group: &str, interface: &str) -> Deferred<()> {
        self.membership(Membership {
            group,
            source: None,
            interface,
            join: true,
        })
    }

    /// Leaves a multicast group (Twisted's `leaveGroup`).
    pub fn leave_group(&self, group: &str, interface: &str) -> Deferred<()> {
        self.membership(Membership {
            group,
            source: None,
            interface,
            join: false,
        })
    }

    /// Joins a group for datagrams from one source only (source-specific multicast, IPv4
    /// `IP_ADD_SOURCE_MEMBERSHIP`, IPv6 `MCAST_JOIN_SOURCE_GROUP`).
    pub fn join_source_group(&self, group: &str, source: &str, interface: &str) -> Deferred<()> {
        self.membership(Membership {
            group,
            source: Some(source),
            interface,
            join: true,
        })
    }

    /// Leaves a source-specific membership.
    pub fn leave_source_group(&self, group: &str, source: &str, interface: &str) -> Deferred<()> {
        self.membership(Membership {
            group,
            source: Some(source),
            interface,
            join: false,
        })
    }

    fn membership(&self, m: Membership<'_>) -> Deferred<()> {
        let failed = |source: io::Error| {
            Deferred::failed(MulticastJoinError {
                group: m.group.to_string(),
                interface: m.interface.to_string(),
                source,
            })
        };
        let invalid = |what: String| io::Error::new(io::ErrorKind::InvalidInput, what);
        let group = match m.group.parse::<IpAddr>() {
            Ok(ip) if ip.is_multicast() => ip,
            Ok(_) => return failed(invalid("not a multicast address".into())),
            Err(_) => return failed(invalid("the group must be an IP address literal".into())),
        };
        let source = match m.source.map(str::parse::<IpAddr>) {
            None => None,
            Some(Ok(ip)) if ip.is_ipv4() == group.is_ipv4() => Some(ip),
            Some(_) => {
                return failed(invalid(
                    "the source must be an IP literal of the group's family".into(),
                ));
            }
        };
        let interface = match MulticastInterface::parse(m.interface) {
            Ok(i) => i,
            Err(e) => return failed(invalid(e.to_string())),
        };
        match self.with_os_socket(|socket, v6| {
            apply_membership(socket, v6, m.join, group, source, interface)
        }) {
            Ok(()) => Deferred::succeeded(()),
            Err(WriteError::Io(e)) => failed(e),
            Err(other) => failed(invalid(other.to_string())),
        }
    }

    /// Whether this host hears its own multicast datagrams (default: yes).
    pub fn loopback_mode(&self) -> Result<bool, WriteError> {
        self.with_os_socket(sys::multicast_loop)
    }

    /// Sets whether this host hears its own multicast datagrams.
    pub fn set_loopback_mode(&self, on: bool) -> Result<(), WriteError> {
        self.with_os_socket(|s, v6| sys::set_multicast_loop(s, v6, on))
    }

    /// The multicast TTL (IPv4) or hop limit (IPv6; Twisted sets the IPv4 option there);
    /// default 1: the local network only.
    pub fn ttl(&self) -> Result<u32, WriteError> {
        self.with_os_socket(sys::multicast_ttl)
    }

    /// Sets the multicast TTL or hop limit.
    pub fn set_ttl(&self, ttl: u32) -> Result<(), WriteError> {
        self.with_os_socket(|s, v6| sys::set_multicast_ttl(s, v6, ttl))
    }

    /// The interface multicast datagrams leave by: an address (IPv4) or index (IPv6); `Any`
    /// when unset.
    pub fn outgoing_interface(&self) -> Result<MulticastInterface, WriteError> {
        self.with_os_socket(|s, v6| {
            Ok(if v6 {
                match sys::multicast_if_v6(s)? {
                    0 => MulticastInterface::Any,
                    i => MulticastInterface::Index(i),
                }
            } else {
                match sys::multicast_if_v4(s)? {
                    a if a.is_unspecified() => MulticastInterface::Any,
                    a => MulticastInterface::Address(a),
                }
            })
        })
    }

    /// Sets the interface multicast datagrams leave by: for IPv4 an address (or `Any`), for
    /// IPv6 an index (or `Any`). Tests on a machine with a real network set this to the
    /// loopback interface so nothing leaves the host.
    pub fn set_outgoing_interface(
        &self,
        interface: impl Into<MulticastInterface>,
    ) -> Result<(), WriteError> {
        let interface = interface.into();
        self.with_os_socket(|s, v6| match (v6, interface) {
            (false, MulticastInterface::Address(a)) => sys::set_multicast_if_v4(s, a),
            (false, MulticastInterface::Any) => sys::set_multicast_if_v4(s, Ipv4Addr::UNSPECIFIED),
            (false, MulticastInterface::Index(_)) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an IPv4 port names its outgoing interface by address",
            )),
            (true, MulticastInterface::Address(_)) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an IPv6 port names its outgoing interface by index or name",
            )),
            (true, other) => sys::set_multicast_if_v6(s, other.index()),
        })
    }
}

fn apply_membership(
    socket: &mio::net::UdpSocket,
    v6: bool,
    join: bool,
    group: IpAddr,
    source: Option<IpAddr>,
    interface: MulticastInterface,
) -> io::Result<()> {
    let wrong = |what: &str| {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            what.to_string(),
        ))
    };
    match (group, source, interface) {
        (IpAddr::V4(_), _, _) if v6 => wrong("an IPv4 group on an IPv6 port"),
        (IpAddr::V6(_), _, _) if !v6 => wrong("an IPv6 group on an IPv4 port"),
        (IpAddr::V6(_), _, MulticastInterface::Address(_)) => {
            wrong("an IPv6 group needs an interface index or name, not an IPv4 address")
        }
        (IpAddr::V4(g), None, MulticastInterface::Index(i)) => {
            sys::membership_v4_index(socket, join, g, i)
        }
        (IpAddr::V4(g), None, iface) => sys::membership_v4(socket, join, g, v4_address(iface)),
        (IpAddr::V4(g), Some(IpAddr::V4(src)), iface) => {
            sys::source_membership_v4(socket, join, g, src, v4_address(iface))
        }
        (IpAddr::V6(g), None, iface) => sys::membership_v6(socket, join, g, iface.index()),
        (IpAddr::V6(g), Some(IpAddr::V6(src)), iface) => {
            sys::source_membership_v6(socket, join, g, src, iface.index())
        }
        _ => wrong("the source and the group differ in family"),
    }
}

fn v4_address(interface: MulticastInterface) -> Ipv4Addr {
    match interface {
        MulticastInterface::Address(a) => a,
        _ => Ipv4Addr::UNSPECIFIED,
    }
}
