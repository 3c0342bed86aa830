//! [`IcmpError`]: an ICMP error about a datagram an unconnected port sent, as the kernel's
//! error queue reports it (`IP_RECVERR`), in gyre's words.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use crate::sys::ErrorReport;

/// What went wrong with a datagram a port sent, as an ICMP message (or the local stack) said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IcmpKind {
    /// No one listens on that port (ICMP "port unreachable").
    PortUnreachable,
    /// The host cannot be reached (ICMP "host unreachable", and the other host codes:
    /// unknown, prohibited, filtered…).
    HostUnreachable,
    /// The network cannot be reached.
    NetUnreachable,
    /// The datagram is larger than the path carries: `mtu` is the largest that fits
    /// (ICMP "fragmentation needed", ICMPv6 "packet too big", or the local MTU).
    MessageTooBig {
        /// The path MTU the report gives.
        mtu: u32,
    },
    /// The datagram's TTL (hop limit) ran out on the way.
    TtlExceeded,
    /// Another ICMP type or code, as reported.
    Other {
        /// The ICMP (or ICMPv6) type.
        icmp_type: u8,
        /// The ICMP code.
        code: u8,
    },
}

/// An ICMP error about a datagram an unconnected port sent (see
/// [`ListenOptions::icmp_errors`](crate::udp::ListenOptions::icmp_errors)), passed to
/// [`DatagramProtocol::icmp_error`](crate::DatagramProtocol::icmp_error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpError {
    /// Where the failed datagram was going.
    pub destination: SocketAddr,
    /// What went wrong.
    pub kind: IcmpKind,
    /// The host that sent the ICMP message (the destination itself, or a router on the way),
    /// when the report names one.
    pub reporter: Option<IpAddr>,
}

impl fmt::Display for IcmpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "datagram to {}: ", self.destination)?;
        match self.kind {
            IcmpKind::PortUnreachable => f.write_str("port unreachable")?,
            IcmpKind::HostUnreachable => f.write_str("host unreachable")?,
            IcmpKind::NetUnreachable => f.write_str("network unreachable")?,
            IcmpKind::MessageTooBig { mtu } => write!(f, "message too big (path MTU {mtu})")?,
            IcmpKind::TtlExceeded => f.write_str("TTL exceeded in transit")?,
            IcmpKind::Other { icmp_type, code } => write!(f, "ICMP type {icmp_type} code {code}")?,
        }
        match self.reporter {
            Some(ip) => write!(f, " (reported by {ip})"),
            None => Ok(()),
        }
    }
}

/// `SO_EE_ORIGIN_*` (linux/errqueue.h).
const ORIGIN_LOCAL: u8 = 1;
const ORIGIN_ICMP: u8 = 2;
const ORIGIN_ICMP6: u8 = 3;

impl IcmpError {
    /// The report in gyre's words; `None` for an entry that is not about a sent datagram
    /// (no destination, or an origin other than ICMP and the local stack).
    pub(crate) fn from_report(report: &ErrorReport) -> Option<IcmpError> {
        let kind = match report.origin {
            ORIGIN_ICMP => icmp_v4(report.icmp_type, report.code, report.info),
            ORIGIN_ICMP6 => icmp_v6(report.icmp_type, report.code, report.info),
            ORIGIN_LOCAL if report.errno == libc::EMSGSIZE => {
                IcmpKind::MessageTooBig { mtu: report.info }
            }
            _ => return None,
        };
        Some(IcmpError {
            destination: report.destination?,
            kind,
            reporter: report.offender,
        })
    }
}

/// ICMPv4 (RFC 792, 1812): destination unreachable (3) and time exceeded (11).
fn icmp_v4(icmp_type: u8, code: u8, info: u32) -> IcmpKind {
    match (icmp_type, code) {
        (3, 3) => IcmpKind::PortUnreachable,
        (3, 0 | 6 | 9 | 11) => IcmpKind::NetUnreachable,
        (3, 4) => IcmpKind::MessageTooBig { mtu: info },
        (3, 1 | 7 | 10 | 12 | 13) => IcmpKind::HostUnreachable,
        (11, _) => IcmpKind::TtlExceeded,
        _ => IcmpKind::Other { icmp_type, code },
    }
}

/// ICMPv6 (RFC 4443): destination unreachable (1), packet too big (2), time exceeded (3).
fn icmp_v6(icmp_type: u8, code: u8, info: u32) -> IcmpKind {
    match (icmp_type, code) {
        (1, 4) => IcmpKind::PortUnreachable,
        (1, 0) => IcmpKind::NetUnreachable,
        (1, 1 | 3 | 5 | 6) => IcmpKind::HostUnreachable,
        (2, _) => IcmpKind::MessageTooBig { mtu: info },
        (3, _) => IcmpKind::TtlExceeded,
        _ => IcmpKind::Other { icmp_type, code },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(origin: u8, icmp_type: u8, code: u8, info: u32) -> ErrorReport {
        ErrorReport {
            destination: Some("127.0.0.1:9".parse().unwrap()),
            errno: libc::ECONNREFUSED,
            origin,
            icmp_type,
            code,
            info,
            offender: Some("127.0.0.1".parse().unwrap()),
        }
    }

    #[test]
    fn icmp_types_and_codes_map_to_kinds() {
        let kind = |origin, t, c, info| {
            IcmpError::from_report(&report(origin, t, c, info))
                .unwrap()
                .kind
        };
        assert_eq!(kind(ORIGIN_ICMP, 3, 3, 0), IcmpKind::PortUnreachable);
        assert_eq!(kind(ORIGIN_ICMP, 3, 1, 0), IcmpKind::HostUnreachable);
        assert_eq!(kind(ORIGIN_ICMP, 3, 13, 0), IcmpKind::HostUnreachable);
        assert_eq!(kind(ORIGIN_ICMP, 3, 0, 0), IcmpKind::NetUnreachable);
        assert_eq!(
            kind(ORIGIN_ICMP, 3, 4, 1400),
            IcmpKind::MessageTooBig { mtu: 1400 }
        );
        assert_eq!(kind(ORIGIN_ICMP, 11, 0, 0), IcmpKind::TtlExceeded);
        assert_eq!(
            kind(ORIGIN_ICMP, 5, 1, 0),
            IcmpKind::Other {
                icmp_type: 5,
                code: 1
            }
        );
        assert_eq!(kind(ORIGIN_ICMP6, 1, 4, 0), IcmpKind::PortUnreachable);
        assert_eq!(kind(ORIGIN_ICMP6, 1, 3, 0), IcmpKind::HostUnreachable);
        assert_eq!(kind(ORIGIN_ICMP6, 1, 0, 0), IcmpKind::NetUnreachable);
        assert_eq!(
            kind(ORIGIN_ICMP6, 2, 0, 1280),
            IcmpKind::MessageTooBig { mtu: 1280 }
        );
        assert_eq!(kind(ORIGIN_ICMP6, 3, 0, 0), IcmpKind::TtlExceeded);
        let mut local = report(ORIGIN_LOCAL, 0, 0, 65_535);
        local.errno = libc::EMSGSIZE;
        assert_eq!(
            IcmpError::from_report(&local).unwrap().kind,
            IcmpKind::MessageTooBig { mtu: 65_535 }
        );
    }

    #[test]
    fn reports_about_nothing_sent_are_left_out() {
        let mut nowhere = report(ORIGIN_ICMP, 3, 3, 0);
        nowhere.destination = None;
        assert_eq!(IcmpError::from_report(&nowhere), None);
        assert_eq!(IcmpError::from_report(&report(4, 0, 0, 0)), None); // timestamping
    }

    #[test]
    fn an_error_displays_what_happened_to_which_datagram() {
        let e = IcmpError::from_report(&report(ORIGIN_ICMP, 3, 3, 0)).unwrap();
        assert_eq!(
            e.to_string(),
            "datagram to 127.0.0.1:9: port unreachable (reported by 127.0.0.1)"
        );
    }
}
