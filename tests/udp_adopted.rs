//! Twisted's `twisted/internet/test/test_udp.py` run through its second builder,
//! `UDPFDServerTestsBuilder`: every port is a socket the test bound itself and handed over
//! with `adoptDatagramPort` (gyre: `adopt_udp`). As in that builder, the test's own copy of
//! the socket is closed once the port is adopted; gyre serves its duplicate.
//!
//! Not here: `test_interface` (zope `verifyObject`) and `test_logPrefix` (the log context's
//! `system` key), which have no Rust counterpart, and `test_invalidInterface`, which Twisted
//! runs through `listenUDP` in this builder too (`udp_errors.rs` ports it).

mod common;

use std::net::{SocketAddr, UdpSocket};

use common::builder::{self, Builder};
use common::*;
use gyre::error::WriteError;
use gyre::prelude::*;

/// Binds a UDP socket to `address` (port 0), adopts it and closes the test's own copy, as
/// Twisted's `getListeningPort` does. `None` when the address cannot be bound (no IPv6).
fn adopted(
    reactor: &mut Reactor,
    address: &str,
    protocol: impl DatagramProtocol,
) -> Option<(Transport, SocketAddr)> {
    let mine = match UdpSocket::bind(address) {
        Ok(socket) => socket,
        Err(e) => {
            eprintln!("SKIP: cannot bind {address} here: {e}");
            return None;
        }
    };
    let bound = mine.local_addr().unwrap();
    let port = reactor.adopt_udp(&mine, protocol).unwrap();
    drop(mine);
    Some((port, bound))
}

/// An adopted IPv4 loopback port.
fn adopted_v4(reactor: &mut Reactor, protocol: impl DatagramProtocol) -> Transport {
    Builder::Adopt.port(reactor, "127.0.0.1", protocol).unwrap()
}

/// Twisted: internet/test/test_udp.py `test_startedListeningLogMessage`,
/// `test_connectionLostLogMessage`, `test_str` and `test_repr` (adoptDatagramPort). Twisted's
/// `test_repr` checks `str` again; gyre's `repr` is `Debug`.
#[test]
fn an_adopted_port_shows_itself_and_logs_its_start_and_close_as_twisted_words_them() {
    builder::port_shows_itself_and_logs_its_start_and_close(Builder::Adopt);
}

/// Twisted: internet/test/test_udp.py `test_stopProtocolScheduling` (adoptDatagramPort)
#[test]
fn stopping_an_adopted_port_from_start_protocol_calls_stop_protocol_later() {
    builder::stopping_from_start_protocol_calls_stop_protocol_later(Builder::Adopt);
}

/// Twisted: internet/test/test_udp.py `test_getHost` (adoptDatagramPort)
#[test]
fn an_adopted_ipv4_port_reports_the_address_it_was_bound_to() {
    let mut reactor = reactor();
    let (port, bound) = adopted(&mut reactor, "127.0.0.1:0", Recorder::new().0).unwrap();
    assert_ne!(bound.port(), 0);
    assert_eq!(port.get_host().unwrap(), bound);
    assert_eq!(
        port.get_host().unwrap(),
        SocketAddr::from(([127, 0, 0, 1], bound.port()))
    );
}

/// Twisted: internet/test/test_udp.py `test_getHostIPv6` (adoptDatagramPort)
#[test]
fn an_adopted_ipv6_port_reports_an_ipv6_address() {
    let mut reactor = reactor();
    let Some((port, bound)) = adopted(&mut reactor, "[::1]:0", Recorder::new().0) else {
        return;
    };
    let host = port.get_host().unwrap();
    assert!(host.is_ipv6());
    assert_eq!(host.ip().to_string(), "::1");
    assert_eq!(host, bound);
}

/// Twisted: internet/test/test_udp.py `test_writeSequence` (adoptDatagramPort)
#[test]
fn a_sequence_written_on_an_adopted_port_arrives_as_one_datagram() {
    let mut reactor = reactor();
    let (rx, log) = Recorder::new();
    let port = adopted_v4(&mut reactor, rx);
    let here = port.get_host().unwrap();
    port.write_sequence_to(
        &[b"some", b"bytes", b"to", b"write"],
        ("127.0.0.1", here.port()),
    )
    .unwrap();
    run_until(&mut reactor, CAP, || datagrams(&log).len() == 1);
    assert_eq!(datagrams(&log), [(b"somebytestowrite".to_vec(), here)]);
}

/// Twisted: internet/test/test_udp.py `test_writeToIPv6Interface` (adoptDatagramPort)
#[test]
fn adopted_ipv6_ports_exchange_datagrams() {
    let mut reactor = reactor();
    let (rx, log) = Recorder::new();
    let Some((server, _)) = adopted(&mut reactor, "[::1]:0", rx) else {
        return;
    };
    let (client, _) = adopted(&mut reactor, "[::1]:0", Recorder::new().0).unwrap();
    let to = server.get_host().unwrap().port();
    client.write_to(b"spam", ("::1", to)).unwrap();
    run_until(&mut reactor, CAP, || datagrams(&log).len() == 1);
    assert_eq!(
        datagrams(&log),
        [(b"spam".to_vec(), client.get_host().unwrap())]
    );
}

/// Twisted: internet/test/test_udp.py `test_connectedWriteToIPv6Interface` (adoptDatagramPort)
#[test]
fn an_adopted_ipv6_port_connects_and_writes_to_its_peer() {
    builder::connected_write_over_ipv6(Builder::Adopt);
}

/// Twisted: internet/test/test_udp.py `test_writingToHostnameRaisesInvalidAddressError`
/// (adoptDatagramPort)
#[test]
fn an_adopted_port_refuses_to_write_to_a_hostname() {
    let mut reactor = reactor();
    let port = adopted_v4(&mut reactor, Recorder::new().0);
    let err = port.write_to(b"spam", ("example.invalid", 1)).unwrap_err();
    assert!(matches!(err, WriteError::InvalidAddress(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "invalid address \"example.invalid\": only IP addresses are accepted here, \
         not hostnames: resolve the name first with resolve()"
    );
    assert_eq!(port.stats().unwrap().datagrams_out, 0);
}

/// Twisted: internet/test/test_udp.py `test_writingToIPv6OnIPv4RaisesInvalidAddressError`
/// (adoptDatagramPort)
#[test]
fn an_adopted_ipv4_port_refuses_an_ipv6_destination() {
    let mut reactor = reactor();
    let port = adopted_v4(&mut reactor, Recorder::new().0);
    let err = port.write_to(b"spam", ("::1", 1)).unwrap_err();
    assert!(matches!(err, WriteError::InvalidAddress(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "invalid address \"[::1]:1\": an IPv6 address on an IPv4 port"
    );
}

/// Twisted: internet/test/test_udp.py `test_writingToIPv4OnIPv6RaisesInvalidAddressError`
/// (adoptDatagramPort)
#[test]
fn an_adopted_ipv6_port_refuses_an_ipv4_destination() {
    let mut reactor = reactor();
    let Some((port, _)) = adopted(&mut reactor, "[::1]:0", Recorder::new().0) else {
        return;
    };
    let err = port.write_to(b"spam", ("127.0.0.1", 1)).unwrap_err();
    assert!(matches!(err, WriteError::InvalidAddress(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "invalid address \"127.0.0.1:1\": an IPv4 address on an IPv6-only port"
    );
}

/// Twisted: internet/test/test_udp.py `test_connectingToHostnameRaisesInvalidAddressError`
/// (adoptDatagramPort)
#[test]
fn an_adopted_port_refuses_to_connect_to_a_hostname() {
    let mut reactor = reactor();
    let port = adopted_v4(&mut reactor, Recorder::new().0);
    let err = port.connect(("example.invalid", 1)).unwrap_err();
    assert!(matches!(err, WriteError::InvalidAddress(_)), "{err:?}");
    assert_eq!(port.peer(), None);
}

/// Twisted: internet/test/test_udp.py `test_allowBroadcast` (adoptDatagramPort)
#[test]
fn broadcast_can_be_allowed_on_an_adopted_port() {
    let mut reactor = reactor();
    let port = adopted_v4(&mut reactor, Recorder::new().0);
    assert!(!port.broadcast_allowed().unwrap());
    port.set_broadcast_allowed(true).unwrap();
    assert!(port.broadcast_allowed().unwrap());
}
