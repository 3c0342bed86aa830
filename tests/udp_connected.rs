//! Connected UDP: exclusive peer, ICMP refusals reported as `connection_refused`, port keeps working.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

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
    assert_eq!(datagrams(&server_log).len(), 2);
}

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
