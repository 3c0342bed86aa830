//! Connected UDP: exclusive peer, ICMP refusals reported as `connection_refused`, port keeps working.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::builder::{self, Builder};
use common::*;
use gyre::error::WriteError;
use gyre::prelude::*;

/// A loopback port number with nothing behind it (bound, read, closed).
fn closed_port(reactor: &mut Reactor) -> SocketAddr {
    let (p, _) = Recorder::new();
    let port = reactor.listen_udp_with(loopback(), p).unwrap();
    let addr = port.get_host().unwrap();
    port.stop_listening();
    reactor.iterate(Duration::ZERO).unwrap();
    addr
}

/// Twisted: test_udp.py `UDPTests.test_sendPackets` (the server's echo is its unconnected
/// `write(data, addr)`; gyre has no `write(data, None)`: `write` is the connected form)
#[test]
fn connected_send_and_receive() {
    let mut reactor = reactor();
    let (server, server_log) = Recorder::echoing();
    let server = reactor.listen_udp_with(loopback(), server).unwrap();
    let (client, client_log) = Recorder::new();
    let client = reactor.listen_udp_with(loopback(), client).unwrap();
    let peer = server.get_host().unwrap();
    client.connect(peer).unwrap();
    assert_eq!(client.peer(), Some(peer));
    client.write(b"hello").unwrap();
    client.write_to(b"again", peer).unwrap(); // the peer's own address is fine
    run_until(&mut reactor, CAP, || datagrams(&client_log).len() == 2);
    assert_eq!(
        datagrams(&client_log),
        [(b"hello".to_vec(), peer), (b"again".to_vec(), peer)]
    );
    let from = client.get_host().unwrap();
    assert_eq!(
        datagrams(&server_log),
        [(b"hello".to_vec(), from), (b"again".to_vec(), from)]
    );
}

/// Twisted: internet/test/test_udp.py `test_connectedWriteToIPv6Interface` (listenUDP)
#[test]
fn connected_send_over_ipv6_on_the_loopback() {
    builder::connected_write_over_ipv6(Builder::Listen);
}

/// Twisted: test_udp.py `UDPTests.test_badConnect` and internet/test/test_udp.py
/// `test_connectingToHostnameRaisesInvalidAddressError` (listenUDP)
#[test]
fn connect_rules() {
    let mut reactor = reactor();
    let (p, _) = Recorder::new();
    let port = reactor.listen_udp_with(loopback(), p).unwrap();
    assert!(matches!(port.write(b"x"), Err(WriteError::NotConnected)));
    assert!(matches!(
        port.connect(("example.com", 53)),
        Err(WriteError::InvalidAddress(_))
    ));
    assert!(matches!(
        port.connect("[::1]:53"),
        Err(WriteError::InvalidAddress(_))
    ));
    assert_eq!(port.peer(), None); // failed connects leave it unconnected
    let peer = closed_port(&mut reactor);
    port.connect(peer).unwrap();
    assert!(matches!(
        port.connect(peer),
        Err(WriteError::AlreadyConnected)
    ));
    let other: SocketAddr = "127.0.0.1:9".parse().unwrap();
    assert!(matches!(
        port.write_to(b"x", other),
        Err(WriteError::WrongPeer { .. })
    ));
}

/// Twisted: test_udp.py `UDPTests.test_connectionRefused` (the peer is a port just closed, not
/// port 80; the port stays open where Twisted's epoll reactor closes it)
#[test]
fn a_closed_peer_is_reported_as_connection_refused_and_the_port_keeps_working() {
    let mut reactor = reactor();
    let (client, log) = Recorder::new();
    let client = reactor.listen_udp_with(loopback(), client).unwrap();
    let peer = closed_port(&mut reactor);
    client.connect(peer).unwrap();
    client.write(b"anyone?").unwrap();
    run_until(&mut reactor, CAP, || log.borrow().contains(&Seen::Refused));
    assert!(client.is_listening());
    assert_eq!(client.stats().unwrap().refused, 1);
    // The refusal can also surface from the next write; either way, exactly one per datagram.
    let refusals = |log: &Log| log.borrow().iter().filter(|s| **s == Seen::Refused).count();
    for k in 2..=4 {
        client.write(b"still?").unwrap();
        run_until(&mut reactor, CAP, || refusals(&log) >= k);
        assert_eq!(refusals(&log), k);
    }
    assert_eq!(client.stats().unwrap().refused, 4);
    // Bring a server up on that very port: the same connected port now gets answers.
    let (server, _) = Recorder::echoing();
    reactor
        .listen_udp_with(
            gyre::udp::ListenOptions::new(peer.port()).interface("127.0.0.1"),
            server,
        )
        .unwrap();
    client.write(b"now?").unwrap();
    run_until(&mut reactor, CAP, || datagrams(&log).len() == 1);
    assert_eq!(datagrams(&log), [(b"now?".to_vec(), peer)]);
}

fn refusals(log: &Log) -> usize {
    log.borrow().iter().filter(|s| **s == Seen::Refused).count()
}

/// Turns the loop until `log` has seen no new refusal for a few turns.
fn settle(reactor: &mut Reactor, log: &Log) {
    let mut quiet = 0;
    let mut seen = refusals(log);
    let give_up = std::time::Instant::now() + CAP;
    while quiet < 5 {
        assert!(std::time::Instant::now() < give_up, "refusals kept coming");
        reactor.iterate(Duration::from_millis(5)).unwrap();
        let now = refusals(log);
        quiet = if now == seen { quiet + 1 } else { 0 };
        seen = now;
    }
}

#[test]
fn refusals_reach_the_protocol_from_batched_and_segmented_sends() {
    let mut reactor = reactor();
    let (client, log) = Recorder::new();
    let client = reactor.listen_udp_with(loopback(), client).unwrap();
    let peer = closed_port(&mut reactor);
    client.connect(peer).unwrap();
    const RUNS: usize = 16;
    let c = client.clone();
    reactor.call_soon(move |_| {
        // Runs of two same-size datagrams, a size per run, all queued in one turn: each run
        // leaves in one GSO send where the kernel can (else by sendmmsg, or one by one on the
        // portable path). The refusal each datagram provokes makes a later send fail.
        for run in 0..RUNS {
            let payload = vec![7u8; 100 + run];
            c.write(&payload).unwrap();
            c.write(&payload).unwrap();
        }
    });
    settle(&mut reactor, &log);
    let stats = client.stats().unwrap();
    assert_eq!(refusals(&log) as u64, stats.refused);
    assert!(
        refusals(&log) >= RUNS / 2,
        "only {} refusals reached the protocol (stats: {stats:?})",
        refusals(&log)
    );
    assert!(client.is_listening());
}

#[test]
fn an_icmp_storm_neither_spins_the_loop_nor_disturbs_other_ports() {
    let mut reactor = reactor();
    let (refused, log) = Recorder::new();
    let connected = reactor.listen_udp_with(loopback(), refused).unwrap();
    let (quiet, _) = Recorder::new();
    let unconnected = reactor.listen_udp_with(loopback(), quiet).unwrap();
    let (echo, echo_log) = Recorder::echoing();
    let echo = reactor.listen_udp_with(loopback(), echo).unwrap();
    let peer = closed_port(&mut reactor);
    connected.connect(peer).unwrap();
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_nonblocking(true).unwrap();
    for round in 0..40u8 {
        let (c, u) = (connected.clone(), unconnected.clone());
        reactor.call_soon(move |_| {
            for _ in 0..25 {
                c.write(b"anyone?").unwrap();
                u.write_to(b"anyone?", peer).unwrap(); // unconnected: the kernel tells no one
            }
        });
        client.send_to(&[round], echo.get_host().unwrap()).unwrap();
        run_until(&mut reactor, CAP, || {
            datagrams(&echo_log).len() == round as usize + 1
        });
    }
    settle(&mut reactor, &log);
    assert_eq!(refusals(&log) as u64, connected.stats().unwrap().refused);
    assert!(refusals(&log) > 0);
    let u = unconnected.stats().unwrap();
    assert_eq!((u.datagrams_out, u.refused, u.read_errors), (1000, 0, 0));
    let mut buf = [0u8; 4];
    let mut echoed = 0;
    while client.recv(&mut buf).is_ok() {
        echoed += 1;
    }
    assert_eq!(echoed, 40); // every datagram to the echo port came back
    // Nothing is left raised: an idle loop sleeps, it does not spin on errors.
    let events = reactor.stats().events;
    for _ in 0..3 {
        reactor.iterate(Duration::from_millis(10)).unwrap();
    }
    assert_eq!(reactor.stats().events, events);
    assert!(connected.is_listening() && unconnected.is_listening());
}
