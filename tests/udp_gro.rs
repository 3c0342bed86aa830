//! UDP GRO on receive (`ListenOptions::gro`): trains of datagrams a sender gave the kernel as
//! one GSO buffer reach a GRO socket whole on loopback; gyre splits them again, so the
//! protocol sees each datagram. Loopback only.

// On the portable I/O path only the refusal is tested: the rest goes unused there.
#![cfg_attr(gyre_portable_io, allow(unused_imports, dead_code))]

mod common;

use std::cell::{Cell, RefCell};
use std::net::{SocketAddr, UdpSocket};
use std::rc::Rc;

use common::gso::send_train;
use common::{CAP, loopback, reactor, run_until};
use gyre::prelude::*;
use gyre::udp::ListenOptions;

/// Records each datagram; panics on one that starts with `!`.
struct Collect {
    got: Rc<RefCell<Vec<Vec<u8>>>>,
}

impl DatagramProtocol for Collect {
    fn datagram_received(&mut self, _: &mut Context<'_>, data: &[u8], _: SocketAddr) -> Outcome {
        self.got.borrow_mut().push(data.to_vec());
        if data.first() == Some(&b'!') {
            panic!("a protocol bug on one datagram of a train");
        }
        Ok(())
    }
}

type Got = Rc<RefCell<Vec<Vec<u8>>>>;

fn listen(reactor: &mut Reactor, options: ListenOptions) -> (Transport, Got) {
    let got = Got::default();
    let port = reactor
        .listen_udp_with(options, Collect { got: got.clone() })
        .unwrap();
    (port, got)
}

/// A train of datagrams of `segment` bytes, the `k`th filled with byte `k`, plus a short one.
fn train(count: usize, segment: usize, last: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut datagrams: Vec<Vec<u8>> = (0..count).map(|k| vec![b'a' + k as u8; segment]).collect();
    if last > 0 {
        datagrams.push(vec![b'z'; last]);
    }
    (datagrams.concat(), datagrams)
}

fn gro_available() -> bool {
    let mut reactor = reactor();
    let options = loopback().gro(true);
    match reactor.listen_udp_with(
        options,
        Collect {
            got: Got::default(),
        },
    ) {
        Ok(_) => true,
        Err(e) => {
            eprintln!("SKIP: no UDP GRO here ({e})");
            false
        }
    }
}

#[test]
#[cfg(not(gyre_portable_io))]
fn a_coalesced_train_is_split_into_its_datagrams_short_last_one_included() {
    if !gro_available() {
        return;
    }
    let mut reactor = reactor();
    let (port, got) = listen(&mut reactor, loopback().gro(true));
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (payload, expected) = train(10, 100, 40);
    send_train(&sender, port.get_host().unwrap(), &payload, 100).unwrap();
    run_until(&mut reactor, CAP, || got.borrow().len() == expected.len());
    assert_eq!(*got.borrow(), expected);
    let stats = port.stats().unwrap();
    assert_eq!(stats.gro_receives, 1, "the train arrived as one buffer");
    assert_eq!((stats.datagrams_in, stats.bytes_in), (11, 1040));
}

#[test]
#[cfg(not(gyre_portable_io))]
fn without_gro_the_same_train_arrives_datagram_by_datagram() {
    let mut reactor = reactor();
    let (port, got) = listen(&mut reactor, loopback());
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (payload, expected) = train(10, 100, 40);
    send_train(&sender, port.get_host().unwrap(), &payload, 100).unwrap();
    run_until(&mut reactor, CAP, || got.borrow().len() == expected.len());
    assert_eq!(*got.borrow(), expected);
    assert_eq!(port.stats().unwrap().gro_receives, 0);
}

#[test]
#[cfg(not(gyre_portable_io))]
fn max_packet_size_holds_for_each_datagram_of_a_train() {
    if !gro_available() {
        return;
    }
    let mut reactor = reactor();
    let (port, got) = listen(&mut reactor, loopback().gro(true).max_packet_size(64));
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = port.get_host().unwrap();
    let (too_long, _) = train(5, 100, 30); // five too long, the short last one fits
    send_train(&sender, to, &too_long, 100).unwrap();
    let (fits, expected_fits) = train(4, 50, 0);
    send_train(&sender, to, &fits, 50).unwrap();
    run_until(&mut reactor, CAP, || got.borrow().len() == 5);
    let mut expected = vec![vec![b'z'; 30]];
    expected.extend(expected_fits);
    assert_eq!(*got.borrow(), expected);
    let stats = port.stats().unwrap();
    assert_eq!((stats.truncated, stats.datagrams_in), (5, 5));
}

#[test]
#[cfg(not(gyre_portable_io))]
fn a_panic_on_one_datagram_of_a_train_resumes_at_the_next() {
    if !gro_available() {
        return;
    }
    let mut reactor = reactor();
    let (port, got) = listen(&mut reactor, loopback().gro(true));
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut datagrams: Vec<Vec<u8>> = (0..6).map(|k| vec![b'a' + k; 20]).collect();
    datagrams[2] = vec![b'!'; 20];
    send_train(&sender, port.get_host().unwrap(), &datagrams.concat(), 20).unwrap();
    run_until(&mut reactor, CAP, || got.borrow().len() == 6);
    assert_eq!(*got.borrow(), datagrams);
    assert_eq!(reactor.stats().callback_failures, 1);
    assert_eq!(port.stats().unwrap().gro_receives, 1);
}

/// Echoes; stops its port after `stop_after` datagrams.
struct StopAfter {
    seen: Rc<Cell<usize>>,
    stop_after: usize,
}

impl DatagramProtocol for StopAfter {
    fn datagram_received(&mut self, cx: &mut Context<'_>, _: &[u8], _: SocketAddr) -> Outcome {
        self.seen.set(self.seen.get() + 1);
        if self.seen.get() == self.stop_after {
            cx.transport().stop_listening();
        }
        Ok(())
    }
}

#[test]
#[cfg(not(gyre_portable_io))]
fn stopping_the_port_inside_a_train_delivers_nothing_more() {
    if !gro_available() {
        return;
    }
    let mut reactor = reactor();
    let seen = Rc::new(Cell::new(0));
    let protocol = StopAfter {
        seen: seen.clone(),
        stop_after: 3,
    };
    let port = reactor
        .listen_udp_with(loopback().gro(true), protocol)
        .unwrap();
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (payload, _) = train(8, 30, 0);
    send_train(&sender, port.get_host().unwrap(), &payload, 30).unwrap();
    run_until(&mut reactor, CAP, || {
        !port.is_listening() && seen.get() >= 3
    });
    for _ in 0..3 {
        reactor
            .iterate(std::time::Duration::from_millis(5))
            .unwrap();
    }
    assert_eq!(seen.get(), 3);
}

/// The portable I/O path reads no control messages: GRO is refused with the reason.
#[test]
#[cfg(gyre_portable_io)]
fn the_portable_io_path_refuses_gro_with_the_reason() {
    let mut reactor = reactor();
    let err = reactor
        .listen_udp_with(
            loopback().gro(true),
            Collect {
                got: Got::default(),
            },
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("UDP GRO needs the batched receive path"),
        "{err}"
    );
}
