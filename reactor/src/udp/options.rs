//! [`ListenOptions`]: how to open a UDP port.

use crate::sys::SocketSetup;

/// The largest UDP payload there is (IPv4 tops out at 65,507, IPv6 at 65,527 without jumbograms).
pub const MAX_DATAGRAM: usize = 65_535;

/// Options for [`Core::listen_udp_with`](crate::Core::listen_udp_with): Twisted's
/// `listenUDP(port, protocol, interface, maxPacketSize)`, plus the socket options Twisted
/// leaves to `getHandle()`.
///
/// ```
/// use gyre::udp::ListenOptions;
/// let options = ListenOptions::new(0).interface("127.0.0.1").max_packet_size(1500);
/// assert_eq!(options.port(), 0);
/// ```
#[derive(Debug, Clone)]
pub struct ListenOptions {
    pub(crate) port: u16,
    pub(crate) interface: String,
    pub(crate) max_packet_size: usize,
    pub(crate) setup: SocketSetup,
}

impl ListenOptions {
    /// Port `port` (0 picks a free one) on every IPv4 interface, 65,535-byte datagrams.
    pub fn new(port: u16) -> ListenOptions {
        ListenOptions {
            port,
            interface: String::new(),
            max_packet_size: MAX_DATAGRAM,
            setup: SocketSetup::default(),
        }
    }

    /// The port number asked for.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address to bind: an IPv4 or IPv6 literal (`"::"` for every IPv6 interface; a
    /// link-local one with its zone, by name or index: `"fe80::1%eth0"`, `"fe80::1%2"`); `""`
    /// (the default) is `0.0.0.0`. A hostname is refused with `InvalidAddress`.
    pub fn interface(mut self, interface: &str) -> Self {
        self.interface = interface.to_string();
        self
    }

    /// The largest datagram delivered whole (1 to 65,535; default 65,535, where Twisted's
    /// 8,192 silently truncates). A longer datagram is counted and logged, never delivered cut.
    pub fn max_packet_size(mut self, size: usize) -> Self {
        self.max_packet_size = size.clamp(1, MAX_DATAGRAM);
        self
    }

    /// Receives with UDP GRO (Linux 5.0+, `UDP_GRO`): the kernel may hand a train of
    /// same-size datagrams from one sender as one buffer, one system call and one wake-up for
    /// many datagrams. gyre splits it again: the protocol still gets one `datagram_received`
    /// per datagram, and `max_packet_size` still holds for each. Counted in
    /// [`PortStats::gro_receives`](crate::PortStats::gro_receives). Off by default. Where the
    /// kernel lacks it, or on the portable I/O path, opening the port fails with
    /// `Unsupported`.
    pub fn gro(mut self, on: bool) -> Self {
        self.setup.gro = on;
        self
    }

    /// Records where each datagram arrived (Linux's `IP_PKTINFO` / `IPV6_RECVPKTINFO`):
    /// while `datagram_received` runs, [`TransportMut::received_at`](crate::udp::TransportMut::received_at)
    /// gives the local address the sender used and the interface. Off by default (it costs a
    /// control message per datagram). On another system, or on the portable one-call-per-
    /// datagram I/O path, opening the port fails with `Unsupported`.
    pub fn receive_destination(mut self, on: bool) -> Self {
        self.setup.pktinfo = on;
        self
    }

    /// Reports ICMP errors about datagrams this port sends to any destination (Linux's
    /// `IP_RECVERR`): each reaches [`DatagramProtocol::icmp_error`](crate::DatagramProtocol::icmp_error)
    /// with the destination and what went wrong (port or host unreachable, message too big
    /// with the path MTU, TTL exceeded). Off by default, as in every other reactor, where an
    /// unconnected port hears of none. On another system, opening the port fails with
    /// `Unsupported`.
    pub fn icmp_errors(mut self, on: bool) -> Self {
        self.setup.recv_err = on;
        self
    }

    /// `SO_REUSEPORT`: several sockets, in this reactor or in reactors on other threads, share
    /// the port; the kernel spreads unicast datagrams among them.
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.setup.reuse_port = on;
        self
    }

    /// Twisted's `listenMultiple`: `SO_REUSEADDR` and `SO_REUSEPORT`, so several sockets
    /// (in this process or others) bind the same port and each gets every multicast datagram.
    pub fn listen_multiple(mut self, on: bool) -> Self {
        self.setup.reuse_address = on;
        self.setup.reuse_port = on;
        self
    }

    /// `SO_RCVBUF` in bytes (the kernel may double or clamp it).
    pub fn recv_buffer_size(mut self, bytes: usize) -> Self {
        self.setup.recv_buffer = Some(bytes);
        self
    }

    /// `SO_SNDBUF` in bytes (the kernel may double or clamp it).
    pub fn send_buffer_size(mut self, bytes: usize) -> Self {
        self.setup.send_buffer = Some(bytes);
        self
    }

    /// `SO_BROADCAST` from the start (also settable later on the transport).
    pub fn broadcast(mut self, on: bool) -> Self {
        self.setup.broadcast = on;
        self
    }

    /// For an IPv6 interface: also receive IPv4 (as `::ffff:a.b.c.d`) or not
    /// (`IPV6_V6ONLY`). Unset, the OS default applies (dual-stack on Linux, as in Twisted).
    pub fn dual_stack(mut self, on: bool) -> Self {
        self.setup.v6_only = Some(!on);
        self
    }
}
