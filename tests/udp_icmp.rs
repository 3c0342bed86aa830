//! ICMP errors on unconnected ports (`ListenOptions::icmp_errors`, Linux's `IP_RECVERR`): a
//! gyre addition, no peer reports them. Loopback only: the "unreachable" ports are ports the
//! test bound and closed again.

mod common;

use std::cell::RefCell;
use std::net::{SocketAddr, UdpSocket};
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::{CAP, loopback, reactor, run_until};
use gyre::prelude::*;
use gyre::udp::{IcmpError, IcmpKind, ListenOptions};

/// Records the ICMP errors it hears; echoes datagrams.
struct Watcher {
    errors: Rc<RefCell<Vec<IcmpError>>>,
    panic_on_error: bool,
}

impl DatagramProtocol for Watcher {
    fn datagram_received(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
        from: SocketAddr,
    ) -> Outcome {
        cx.transport().write_to(data, from)?;
        Ok(())
    }

    fn icmp_error(&mut self, _: &mut Context<'_>, error: &IcmpError) -> Outcome {
        self.errors.borrow_mut().push(*error);
        if self.panic_on_error {
            panic!("icmp_error bug");
        }
        Ok(())
    }
}

fn watcher() -> (Watcher, Rc<RefCell<Vec<IcmpError>>>) {
    let errors = Rc::default();
    (
        Watcher {
            errors: Rc::clone(&errors),
            panic_on_error: false,
        },
        errors,
    )
}

/// An address on `ip` where nothing listens: a port bound and closed again.
fn closed_port(ip: &str) -> SocketAddr {
    UdpSocket::bind((ip, 0)).unwrap().local_addr().unwrap()
}

fn ipv6_available() -> bool {
    UdpSocket::bind("[::1]:0").is_ok()
}

#[test]
fn a_datagram_to_a_closed_port_comes_back_as_port_unreachable_with_its_destination() {
    let mut reactor = reactor();
    let (protocol, errors) = watcher();
    let port = reactor
        .listen_udp_with(loopback().icmp_errors(true), protocol)
        .unwrap();
    let nobody = closed_port("127.0.0.1");
    port.write_to(b"anyone?", nobody).unwrap();
    run_until(&mut reactor, CAP, || !errors.borrow().is_empty());
    let error = errors.borrow()[0];
    assert_eq!(error.destination, nobody);
    assert_eq!(error.kind, IcmpKind::PortUnreachable);
    assert_eq!(error.reporter, Some("127.0.0.1".parse().unwrap()));
    assert_eq!(
        error.to_string(),
        format!("datagram to {nobody}: port unreachable (reported by 127.0.0.1)")
    );
    let stats = port.stats().unwrap();
    assert_eq!(
        (stats.icmp_errors, stats.read_errors, stats.send_drops),
        (1, 0, 0)
    );
    assert!(port.is_listening());
}

#[test]
fn without_the_option_an_unconnected_port_hears_nothing_as_in_every_other_reactor() {
    let mut reactor = reactor();
    let (protocol, errors) = watcher();
    let port = reactor.listen_udp_with(loopback(), protocol).unwrap();
    let nobody = closed_port("127.0.0.1");
    for _ in 0..3 {
        port.write_to(b"anyone?", nobody).unwrap();
        reactor.iterate(Duration::from_millis(20)).unwrap();
    }
    assert!(errors.borrow().is_empty());
    let stats = port.stats().unwrap();
    assert_eq!((stats.icmp_errors, stats.datagrams_out), (0, 3));
}

#[test]
fn an_ipv6_port_hears_port_unreachable_from_the_loopback() {
    if !ipv6_available() {
        eprintln!("SKIP: no IPv6 on this host");
        return;
    }
    let mut reactor = reactor();
    let (protocol, errors) = watcher();
    let options = ListenOptions::new(0).interface("::1").icmp_errors(true);
    let port = reactor.listen_udp_with(options, protocol).unwrap();
    let nobody = closed_port("::1");
    port.write_to(b"anyone?", nobody).unwrap();
    run_until(&mut reactor, CAP, || !errors.borrow().is_empty());
    let error = errors.borrow()[0];
    assert_eq!(
        (error.destination, error.kind),
        (nobody, IcmpKind::PortUnreachable)
    );
}

#[test]
fn writes_after_an_icmp_error_are_not_failed_by_it() {
    // The kernel fails the send after an ICMP error with that error (for an earlier
    // datagram); gyre sends again, so the write that meets it still goes.
    let mut reactor = reactor();
    let (protocol, errors) = watcher();
    let port = reactor
        .listen_udp_with(loopback().icmp_errors(true), protocol)
        .unwrap();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(CAP)).unwrap();
    let nobody = closed_port("127.0.0.1");
    port.write_to(b"lost", nobody).unwrap();
    std::thread::sleep(Duration::from_millis(20)); // the ICMP error is back: sk_err is set
    port.write_to(b"after", peer.local_addr().unwrap()).unwrap();
    let mut buf = [0; 16];
    let n = peer.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"after");
    run_until(&mut reactor, CAP, || !errors.borrow().is_empty());
    assert_eq!(port.stats().unwrap().datagrams_out, 2);
}

#[test]
fn a_storm_of_icmp_errors_leaves_the_port_serving_and_the_loop_idle() {
    const SENT: usize = 10_000;
    let mut reactor = reactor();
    let (protocol, errors) = watcher();
    let port = reactor
        .listen_udp_with(loopback().icmp_errors(true), protocol)
        .unwrap();
    let closed: Vec<SocketAddr> = (0..16).map(|_| closed_port("127.0.0.1")).collect();
    let give_up = Instant::now() + CAP;
    for i in 0..SENT {
        port.write_to(b"storm", closed[i % closed.len()])
            .expect("a write after an ICMP error still returns Ok");
        if i % 100 == 99 {
            reactor.iterate(Duration::ZERO).unwrap(); // in turns, as a server would
            assert!(Instant::now() < give_up, "the storm took too long");
        }
    }
    // Serving goes on: an echo through the same port.
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_nonblocking(true).unwrap();
    client
        .send_to(b"still there?", port.get_host().unwrap())
        .unwrap();
    let mut buf = [0; 32];
    let mut echoed = None;
    run_until(&mut reactor, CAP, || {
        echoed = client.recv(&mut buf).ok();
        echoed.is_some()
    });
    assert_eq!(&buf[..echoed.unwrap()], b"still there?");
    // Every report reached the protocol (the kernel rate-limits ICMP, so fewer than sent).
    for _ in 0..10 {
        reactor.iterate(Duration::from_millis(5)).unwrap();
    }
    let stats = port.stats().unwrap();
    let heard = errors.borrow().len() as u64;
    assert!(heard > 0 && heard <= SENT as u64, "{heard} errors heard");
    assert_eq!(stats.icmp_errors, heard);
    assert_eq!(stats.datagrams_out, SENT as u64 + 1);
    assert_eq!((stats.read_errors, stats.send_drops), (0, 0));
    assert!(port.is_listening());
    // Idle afterwards: turns with nothing to do see no events.
    let events = reactor.stats().events;
    for _ in 0..5 {
        reactor.iterate(Duration::from_millis(2)).unwrap();
    }
    assert_eq!(
        reactor.stats().events,
        events,
        "the loop spins on something"
    );
}

#[test]
fn a_panic_in_icmp_error_is_caught_and_counted() {
    let mut reactor = reactor();
    let (mut protocol, errors) = watcher();
    protocol.panic_on_error = true;
    let port = reactor
        .listen_udp_with(loopback().icmp_errors(true), protocol)
        .unwrap();
    port.write_to(b"anyone?", closed_port("127.0.0.1")).unwrap();
    run_until(&mut reactor, CAP, || !errors.borrow().is_empty());
    assert_eq!(reactor.stats().callback_failures, 1);
    assert!(port.is_listening());
}
