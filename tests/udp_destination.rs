//! Which address a datagram reached (`ListenOptions::receive_destination`, Linux's
//! `IP_PKTINFO`): a gyre addition. Loopback only: a port bound to `0.0.0.0` is reached at
//! 127.0.0.2 and 127.0.0.3, which Linux routes to `lo` without any set-up.

// On the portable I/O path only the refusal is tested: the rest goes unused there.
#![cfg_attr(gyre_portable_io, allow(unused_imports, dead_code))]

mod common;

use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::rc::Rc;

use common::{CAP, reactor, run_until};
use gyre::prelude::*;
use gyre::udp::{ListenOptions, ReceivedAt};

/// Each datagram delivered, with where it arrived.
type Seen = Rc<RefCell<Vec<(Vec<u8>, Option<ReceivedAt>)>>>;

/// Records where each datagram arrived; echoes it.
struct Where {
    seen: Seen,
}

impl DatagramProtocol for Where {
    fn datagram_received(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
        from: SocketAddr,
    ) -> Outcome {
        let at = cx.transport().received_at();
        self.seen.borrow_mut().push((data.to_vec(), at));
        cx.transport().write_to(data, from)?;
        Ok(())
    }
}

fn listen(reactor: &mut Reactor, options: ListenOptions) -> (Transport, Seen) {
    let seen = Seen::default();
    let port = reactor
        .listen_udp_with(options, Where { seen: seen.clone() })
        .unwrap();
    (port, seen)
}

fn lo_index() -> u32 {
    std::fs::read_to_string("/sys/class/net/lo/ifindex")
        .map(|s| s.trim().parse().unwrap())
        .unwrap_or(1)
}

#[test]
#[cfg(not(gyre_portable_io))]
fn a_port_on_the_wildcard_address_tells_which_loopback_address_each_datagram_reached() {
    let mut reactor = reactor();
    let options = ListenOptions::new(0)
        .interface("0.0.0.0")
        .receive_destination(true);
    let (port, seen) = listen(&mut reactor, options);
    let number = port.get_host().unwrap().port();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.send_to(b"two", ("127.0.0.2", number)).unwrap();
    client.send_to(b"three", ("127.0.0.3", number)).unwrap();
    client.send_to(b"one", ("127.0.0.1", number)).unwrap();
    run_until(&mut reactor, CAP, || seen.borrow().len() == 3);
    let at = |ip: &str| {
        Some(ReceivedAt {
            address: ip.parse::<IpAddr>().unwrap(),
            interface: lo_index(),
        })
    };
    assert_eq!(
        *seen.borrow(),
        vec![
            (b"two".to_vec(), at("127.0.0.2")),
            (b"three".to_vec(), at("127.0.0.3")),
            (b"one".to_vec(), at("127.0.0.1")),
        ]
    );
    assert_eq!(
        at("127.0.0.2").unwrap().to_string(),
        format!("127.0.0.2 on interface {}", lo_index())
    );
}

#[test]
#[cfg(not(gyre_portable_io))]
fn an_ipv6_port_tells_the_destination_too() {
    if UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("SKIP: no IPv6 on this host");
        return;
    }
    let mut reactor = reactor();
    let options = ListenOptions::new(0)
        .interface("::")
        .receive_destination(true);
    let (port, seen) = listen(&mut reactor, options);
    let client = UdpSocket::bind("[::1]:0").unwrap();
    client
        .send_to(b"six", ("::1", port.get_host().unwrap().port()))
        .unwrap();
    run_until(&mut reactor, CAP, || seen.borrow().len() == 1);
    let at = seen.borrow()[0].1.expect("a destination");
    assert_eq!(at.address, "::1".parse::<IpAddr>().unwrap());
    assert_eq!(at.interface, lo_index());
}

#[test]
#[cfg(not(gyre_portable_io))]
fn without_the_option_there_is_no_destination_and_outside_delivery_none_either() {
    let mut reactor = reactor();
    let (port, seen) = listen(&mut reactor, common::loopback());
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.send_to(b"x", port.get_host().unwrap()).unwrap();
    run_until(&mut reactor, CAP, || seen.borrow().len() == 1);
    assert_eq!(seen.borrow()[0].1, None);
}

/// The one-call-per-datagram path reads no control messages: asking is a clear error.
#[test]
#[cfg(gyre_portable_io)]
fn the_portable_io_path_refuses_the_option_with_the_reason() {
    let mut reactor = reactor();
    let options = ListenOptions::new(0)
        .interface("127.0.0.1")
        .receive_destination(true);
    let seen = Seen::default();
    match reactor.listen_udp_with(options, Where { seen }) {
        Err(gyre::error::ListenError::CannotListen { source, .. }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::Unsupported);
            assert!(source.to_string().contains("recvmmsg"), "{source}");
        }
        other => panic!("expected CannotListen(Unsupported), got {other:?}"),
    }
}
