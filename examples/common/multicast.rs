//! What the multicast examples share: the bind address for a group's family, and keeping
//! multicast on the interface that was asked for, with a TTL of 1.
#![allow(dead_code)] // each example uses part of it

use gyre::prelude::*;
use gyre::udp::MulticastInterface;

/// `0.0.0.0` for an IPv4 group, `::` for an IPv6 one.
pub fn bind_address(group: &str) -> &'static str {
    if group.contains(':') { "::" } else { "0.0.0.0" }
}

/// Sends multicast only by `interface` (the loopback by default), one hop at most.
pub fn keep_local(transport: &Transport, interface: &str) -> Result<(), WriteError> {
    let interface = MulticastInterface::parse(interface)?;
    transport.set_outgoing_interface(interface)?;
    transport.set_ttl(1)
}
