//! Bad input gets a clear error and loses nothing: the reactor keeps serving every other port.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use gyre::error::{ListenError, WriteError};
use gyre::prelude::*;
use gyre::testing::{CaptureStatus, capture_logs};
use gyre::udp::ListenOptions;

/// Records the address its lent transport reports in `start_protocol`.
struct HostAtStart {
    host: std::rc::Rc<std::cell::Cell<Option<SocketAddr>>>,
}

impl DatagramProtocol for HostAtStart {
    fn start_protocol(&mut self, cx: &mut Context<'_>) -> Outcome {
        self.host.set(Some(cx.transport().get_host()?));
        Ok(())
    }

    fn datagram_received(&mut self, _: &mut Context<'_>, _: &[u8], _: SocketAddr) -> Outcome {
        Ok(())
    }
}

/// Twisted: test_udp.py `UDPTests.test_bindError`
#[test]
fn binding_a_busy_port_is_cannot_listen_naming_the_address() {
    let mut reactor = reactor();
    let host = std::rc::Rc::new(std::cell::Cell::new(None));
    let p = HostAtStart { host: host.clone() };
    let first = reactor.listen_udp_with(loopback(), p).unwrap();
    let taken = first.get_host().unwrap();
    assert_eq!(host.get(), Some(taken)); // the port and the protocol's transport agree
    let (p, _) = Recorder::new();
    let err = reactor
        .listen_udp_with(ListenOptions::new(taken.port()).interface("127.0.0.1"), p)
        .unwrap_err();
    match &err {
        ListenError::CannotListen { address, source } => {
            assert_eq!(*address, taken);
            assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse);
        }
        other => panic!("expected CannotListen, got {other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with(&format!("cannot listen on {taken}: ")),
        "{err}"
    );
    assert_eq!(reactor.ports().len(), 1); // nothing leaked
}

/// Twisted: internet/test/test_udp.py `test_invalidInterface` (both builders: Twisted's
/// adoptDatagramPort builder calls `listenUDP` here too)
#[test]
fn a_hostname_interface_is_refused_before_any_socket_exists() {
    let mut reactor = reactor();
    for name in ["localhost", "example.com"] {
        let (p, log) = Recorder::new();
        let err = reactor
            .listen_udp_with(ListenOptions::new(0).interface(name), p)
            .unwrap_err();
        assert!(
            matches!(&err, ListenError::InvalidAddress(a) if a.address == name),
            "{err}"
        );
        assert!(err.to_string().contains("not a hostname"), "{err}");
        assert!(log.borrow().is_empty());
    }
    assert!(reactor.ports().is_empty());
}

/// Twisted: internet/test/test_udp.py `test_writingToHostnameRaisesInvalidAddressError` and
/// `test_writingToIPv6OnIPv4RaisesInvalidAddressError` (listenUDP)
#[test]
fn write_refuses_hostnames_wrong_families_and_oversized_datagrams() {
    let mut reactor = reactor();
    let (p, _) = Recorder::new();
    let port = reactor.listen_udp_with(loopback(), p).unwrap();
    let err = port.write_to(b"x", ("example.com", 9)).unwrap_err();
    assert!(
        matches!(&err, WriteError::InvalidAddress(a) if a.reason.contains("not hostnames")),
        "{err}"
    );
    let err = port.write_to(b"x", "[::1]:9").unwrap_err();
    assert!(
        err.to_string().contains("IPv6 address on an IPv4 port"),
        "{err}"
    );
    let err = port
        .write_to(&vec![0u8; 70_000], port.get_host().unwrap())
        .unwrap_err();
    assert!(
        matches!(err, WriteError::MessageLength { size: 70_000 }),
        "{err}"
    );
    assert!(err.to_string().contains("message too long"));
    assert_eq!(port.stats().unwrap().datagrams_out, 0);
}

/// Twisted: internet/test/test_udp.py `test_writingToIPv4OnIPv6RaisesInvalidAddressError`
/// (listenUDP). A port bound to `::1` is IPv6-only whether or not `dual_stack(false)` says
/// so (Linux sets `IPV6_V6ONLY` on a socket bound to one IPv6 address).
#[test]
fn an_ipv6_only_port_refuses_ipv4_destinations() {
    let mut reactor = reactor();
    let Ok(port) = reactor.listen_udp_with(
        ListenOptions::new(0).interface("::1").dual_stack(false),
        Recorder::new().0,
    ) else {
        eprintln!("SKIP: no IPv6 loopback");
        return;
    };
    let plain = reactor
        .listen_udp_with(ListenOptions::new(0).interface("::1"), Recorder::new().0)
        .unwrap();
    for port in [port, plain] {
        let err = port.write_to(b"spam", ("127.0.0.1", 1)).unwrap_err();
        assert!(matches!(err, WriteError::InvalidAddress(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            "invalid address \"127.0.0.1:1\": an IPv4 address on an IPv6-only port"
        );
    }
}

#[test]
fn datagrams_longer_than_max_packet_size_are_counted_never_delivered_cut() {
    let mut reactor = reactor();
    let (rx, log) = Recorder::new();
    let receiver = reactor
        .listen_udp_with(loopback().max_packet_size(100), rx)
        .unwrap();
    let (tx, _) = Recorder::new();
    let sender = reactor.listen_udp_with(loopback(), tx).unwrap();
    let to = receiver.get_host().unwrap();
    sender.write_to(&[1; 101], to).unwrap();
    sender.write_to(&[2; 100], to).unwrap();
    sender.write_to(&[3; 5000], to).unwrap();
    sender.write_to(b"last", to).unwrap();
    let ((), lines, status) =
        capture_logs(|| run_until(&mut reactor, CAP, || datagrams(&log).len() == 2));
    let got: Vec<Vec<u8>> = datagrams(&log).into_iter().map(|(d, _)| d).collect();
    assert_eq!(got, [vec![2; 100], b"last".to_vec()]);
    assert_eq!(receiver.stats().unwrap().truncated, 2);
    assert_eq!(status, CaptureStatus::Installed);
    let warnings: Vec<_> = lines
        .iter()
        .filter(|l| l.message.contains("longer than max_packet_size"))
        .collect();
    assert_eq!(warnings.len(), 2, "{lines:?}");
    assert!(
        warnings[1].message.contains("5000 > 100"),
        "{:?}",
        warnings[1]
    );
}

/// Panics on every datagram.
struct Panics;

impl DatagramProtocol for Panics {
    fn datagram_received(&mut self, _: &mut Context<'_>, data: &[u8], _: SocketAddr) -> Outcome {
        if data == b"fail" {
            return Err(Failure::msg("refused to process"));
        }
        panic!("protocol bug on {:?}", String::from_utf8_lossy(data));
    }
}

/// Twisted: test_udp.py `UDPTests.test_datagramReceivedError`
#[test]
fn a_panicking_or_failing_protocol_is_logged_and_everything_else_goes_on() {
    let mut reactor = reactor();
    let bad = reactor.listen_udp_with(loopback(), Panics).unwrap();
    let (good, log) = Recorder::new();
    let good = reactor.listen_udp_with(loopback(), good).unwrap();
    let (tx, _) = Recorder::new();
    let sender = reactor.listen_udp_with(loopback(), tx).unwrap();
    let ((), lines, _) = capture_logs(|| {
        for word in [&b"boom"[..], b"fail", b"bang"] {
            sender.write_to(word, bad.get_host().unwrap()).unwrap();
            sender.write_to(word, good.get_host().unwrap()).unwrap();
        }
        run_until(&mut reactor, CAP, || {
            datagrams(&log).len() == 3 && bad.stats().unwrap().datagrams_in == 3
        });
    });
    assert!(bad.is_listening()); // the port stays up, as in Twisted
    assert_eq!(reactor.stats().callback_failures, 3);
    let errors: Vec<&str> = lines
        .iter()
        .filter(|l| l.target == "gyre::udp")
        .map(|l| l.message.as_str())
        .collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors[0].starts_with("Panics (UDP 127.0.0.1:"),
        "{errors:?}"
    );
    assert!(
        errors[0]
            .ends_with("datagram_received failed: a callback panicked: protocol bug on \"boom\""),
        "{errors:?}"
    );
    assert!(
        errors[1].ends_with("datagram_received failed: refused to process"),
        "{errors:?}"
    );
}

/// Twisted: test_udp.py `UDPTests.test_serverReadFailure`: an unconnected port that wrote to
/// a closed port (and may have an ICMP error pending for it) still reads what comes next.
#[test]
fn an_unconnected_port_that_wrote_to_a_closed_port_still_receives() {
    let mut reactor = reactor();
    let (server, log) = Recorder::new();
    let server = reactor.listen_udp_with(loopback(), server).unwrap();
    let (client, _) = Recorder::new();
    let client = reactor.listen_udp_with(loopback(), client).unwrap();
    let closed = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap(); // bound, then closed: nothing listens there
    server
        .write_to(b"write to port no one is listening to", closed)
        .unwrap();
    client
        .write_to(b"Sending test packet to server", server.get_host().unwrap())
        .unwrap();
    run_until(&mut reactor, CAP, || datagrams(&log).len() == 1);
    let payload = b"Sending test packet to server".to_vec();
    assert_eq!(
        *log.borrow(),
        [
            Seen::Start,
            Seen::Datagram(payload, client.get_host().unwrap())
        ]
    );
    let stats = server.stats().unwrap();
    assert_eq!(
        (stats.datagrams_out, stats.refused, stats.read_errors),
        (1, 0, 0)
    );
    assert!(server.is_listening());
}

/// On "go", writes to port 0, records the error, then replies with a burst of eight
/// same-size datagrams (a GSO run where the kernel has GSO).
struct PortZeroThenBurst {
    errors: std::rc::Rc<std::cell::RefCell<Vec<String>>>,
}

impl DatagramProtocol for PortZeroThenBurst {
    fn datagram_received(&mut self, cx: &mut Context<'_>, _: &[u8], from: SocketAddr) -> Outcome {
        let port_zero = SocketAddr::new(from.ip(), 0);
        for _ in 0..2 {
            let e = cx.transport().write_to(b"nowhere", port_zero).unwrap_err();
            self.errors.borrow_mut().push(e.to_string());
        }
        for _ in 0..8 {
            cx.transport().write_to(&[9; 100], from)?;
        }
        Ok(())
    }
}

#[test]
fn port_zero_is_refused_at_once_inside_and_outside_a_turn_and_gso_stays_on() {
    let mut reactor = reactor();
    let errors = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let port = reactor
        .listen_udp_with(
            loopback(),
            PortZeroThenBurst {
                errors: errors.clone(),
            },
        )
        .unwrap();
    let outside = port.write_to(b"nowhere", ("127.0.0.1", 0)).unwrap_err();
    assert!(
        matches!(&outside, WriteError::InvalidAddress(a) if a.reason == "port 0 is not a destination")
    );
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_nonblocking(true).unwrap();
    let to = port.get_host().unwrap();
    let mut received = 0;
    for round in 1..=3 {
        client.send_to(b"go", to).unwrap();
        run_until(&mut reactor, CAP, || {
            let mut buf = [0u8; 200];
            while client.recv(&mut buf).is_ok() {
                received += 1;
            }
            received == 8 * round
        });
    }
    assert_eq!(errors.borrow().len(), 6);
    assert!(
        errors.borrow().iter().all(|e| *e == outside.to_string()),
        "{errors:?}"
    );
    let stats = port.stats().unwrap();
    assert_eq!(stats.datagrams_out, 24);
    if stats.gso_sends == 0 {
        eprintln!("SKIP (GSO part): this kernel sends no UDP GSO");
        return;
    }
    assert_eq!(
        stats.gso_sends, 3,
        "GSO stayed on after the port-0 writes: {stats:?}"
    );
}

#[test]
fn a_full_send_buffer_drops_and_counts_and_every_ok_write_is_accounted_for() {
    let mut reactor = reactor();
    let (p, _) = Recorder::new();
    let sender = reactor
        .listen_udp_with(loopback().send_buffer_size(4096), p)
        .unwrap();
    // Nobody reads the receiver: its small queue overflows as well.
    let receiver = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = receiver.local_addr().unwrap();
    const BURST: u64 = 5_000;
    let s = sender.clone();
    reactor.call_soon(move |_| {
        for i in 0..BURST {
            let payload = vec![(i % 251) as u8; 1000 + (i % 7) as usize];
            s.write_to(&payload, to).unwrap();
        }
    });
    reactor.iterate(Duration::ZERO).unwrap();
    for i in 0..BURST {
        sender.write_to(&[1; 1200], to).unwrap(); // outside a turn: straight to the kernel
        if i % 1000 == 0 {
            reactor.iterate(Duration::ZERO).unwrap();
        }
    }
    let stats = sender.stats().unwrap();
    assert_eq!(
        stats.datagrams_out + stats.send_drops,
        2 * BURST,
        "{stats:?}"
    );
    assert!(sender.is_listening());
}
