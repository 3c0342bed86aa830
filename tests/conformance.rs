//! One behaviour suite, run against a real loopback port and against the in-memory port of
//! `gyre::testing`: what users test in memory is what they get on the network.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::*;
use gyre::prelude::*;
use gyre::testing::MemoryWire;
use gyre::udp::ListenOptions;

/// Where datagrams come from and go to, for one backend.
enum Peer {
    Real(UdpSocket),
    Memory(MemoryWire, SocketAddr),
}

impl Peer {
    fn addr(&self) -> SocketAddr {
        match self {
            Peer::Real(s) => s.local_addr().unwrap(),
            Peer::Memory(_, a) => *a,
        }
    }

    fn send(&self, data: &[u8], to: SocketAddr) {
        match self {
            Peer::Real(s) => {
                s.send_to(data, to).unwrap();
            }
            Peer::Memory(wire, from) => wire.deliver(data, *from).unwrap(),
        }
    }

    /// What the protocol sent to this peer, waiting (bounded) for `n` datagrams.
    fn received(&self, reactor: &mut Reactor, n: usize) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        let give_up = Instant::now() + CAP;
        while got.len() < n {
            assert!(
                Instant::now() < give_up,
                "only {} of {n} datagrams came back",
                got.len()
            );
            reactor.iterate(Duration::from_millis(5)).unwrap();
            match self {
                Peer::Real(s) => {
                    let mut buf = vec![0u8; 70_000];
                    while let Ok((len, _)) = s.recv_from(&mut buf) {
                        got.push(buf[..len].to_vec());
                    }
                }
                Peer::Memory(wire, me) => {
                    for (data, to) in wire.sent() {
                        assert_eq!(to, *me);
                        got.push(data);
                    }
                }
            }
        }
        got
    }
}

/// Runs `scenario` once per backend against an echoing protocol (`options` for the real port).
fn on_both(options: ListenOptions, scenario: impl Fn(&mut Reactor, &Transport, &Peer)) {
    for memory in [false, true] {
        let mut reactor = reactor();
        let (port, peer) = if memory {
            let (echo, _) = Recorder::echoing();
            let (port, wire) = reactor
                .listen_memory("127.0.0.1:5000".parse().unwrap(), echo)
                .unwrap();
            (port, Peer::Memory(wire, "127.0.0.1:6000".parse().unwrap()))
        } else {
            let (echo, _) = Recorder::echoing();
            let port = reactor.listen_udp_with(options.clone(), echo).unwrap();
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            socket.set_nonblocking(true).unwrap();
            (port, Peer::Real(socket))
        };
        scenario(&mut reactor, &port, &peer);
    }
}

#[test]
fn echo_of_every_size_comes_back_exact() {
    on_both(loopback(), |reactor, port, peer| {
        let to = port.get_host().unwrap();
        let sizes = [0usize, 1, 512, 1472, 9000, 65_507];
        for size in sizes {
            let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            peer.send(&payload, to);
            assert_eq!(peer.received(reactor, 1), [payload], "size {size}");
        }
        let stats = port.stats().unwrap();
        assert_eq!(stats.datagrams_in, sizes.len() as u64);
        assert_eq!(stats.datagrams_out, sizes.len() as u64);
        assert_eq!(stats.bytes_in, sizes.iter().sum::<usize>() as u64);
        let _ = peer.addr();
    });
}

#[test]
fn stop_listening_ends_delivery_and_fires_later() {
    on_both(loopback(), |reactor, port, peer| {
        let to = port.get_host().unwrap();
        let stopped = port.stop_listening();
        assert!(!stopped.is_called());
        peer.send(b"late", to);
        reactor.iterate(Duration::from_millis(20)).unwrap();
        assert!(stopped.is_called());
        assert!(!port.is_listening());
        assert!(port.write_to(b"x", peer.addr()).is_err());
    });
}

#[test]
fn oversized_writes_are_message_length_errors() {
    on_both(loopback(), |_, port, peer| {
        let err = port.write_to(&vec![0; 70_000], peer.addr()).unwrap_err();
        assert!(
            matches!(err, gyre::error::WriteError::MessageLength { size: 70_000 }),
            "{err}"
        );
    });
}

#[test]
fn a_connected_port_hears_refusals_and_keeps_working() {
    for memory in [false, true] {
        let mut reactor = reactor();
        let (client, log) = Recorder::new();
        let (port, wire) = if memory {
            let (port, wire) = reactor
                .listen_memory("127.0.0.1:5000".parse().unwrap(), client)
                .unwrap();
            (port, Some(wire))
        } else {
            (reactor.listen_udp_with(loopback(), client).unwrap(), None)
        };
        let closed = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        port.connect(closed).unwrap();
        port.write(b"anyone?").unwrap();
        if let Some(wire) = &wire {
            assert_eq!(wire.sent(), [(b"anyone?".to_vec(), closed)]);
            wire.refuse(); // what the kernel reports after the ICMP error
        }
        run_until(&mut reactor, CAP, || log.borrow().contains(&Seen::Refused));
        assert!(port.is_listening(), "memory: {memory}");
        assert_eq!(port.stats().unwrap().refused, 1, "memory: {memory}");
    }
}
