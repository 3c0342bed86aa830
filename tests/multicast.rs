//! Multicast on the loopback interface: every datagram has 127.0.0.1 (IPv6: the loopback
//! interface) as its outgoing interface and a TTL of 1, so nothing leaves this machine.

mod common;

use std::io;
use std::net::{Ipv4Addr, UdpSocket};

use common::*;
use gyre::error::{ListenError, MulticastJoinError};
use gyre::prelude::*;
use gyre::udp::{ListenOptions, MulticastInterface};

const GROUP: &str = "225.0.0.250";
/// The group of the leave/source-filter test, joined by no other test: Linux delivers a
/// group's datagrams to every socket bound to the port while any socket of the host is a
/// member (`IP_MULTICAST_ALL`), so a test sharing the group could not see the leave.
const FILTER_GROUP: &str = "225.0.0.251";

fn join_error(d: Deferred<()>) -> MulticastJoinError {
    let failure = d
        .take_result()
        .expect("fired at once")
        .expect_err("a failure");
    let e = failure
        .downcast_ref::<MulticastJoinError>()
        .expect("a MulticastJoinError");
    MulticastJoinError {
        group: e.group.clone(),
        interface: e.interface.clone(),
        source: io::Error::new(e.source.kind(), e.source.to_string()),
    }
}

/// A sender that can only send by the loopback interface, one hop.
fn loopback_sender(reactor: &mut Reactor) -> Transport {
    let (tx, _) = Recorder::new();
    let sender = reactor.listen_udp_with(loopback(), tx).unwrap();
    sender.set_outgoing_interface(Ipv4Addr::LOCALHOST).unwrap();
    sender.set_ttl(1).unwrap();
    sender
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Twisted: test_udp.py `MulticastTests.testTTL`, `MulticastTests.test_interface` and the
/// mode half of `MulticastTests.test_loopback` (the TTL is set to 0, not 2; no `"localhost"`
/// synonym for an interface, gyre does not resolve names). The delivery half of
/// `test_loopback` is `multicast_netns.rs`: on `lo` the kernel sends a group datagram out
/// through the loopback device, which brings it back whatever the loopback mode.
#[test]
fn ipv4_options_round_trip() {
    let mut reactor = reactor();
    let (p, _) = Recorder::new();
    let port = reactor.listen_multicast(0, p).unwrap();
    assert_eq!(port.ttl().unwrap(), 1);
    assert!(port.loopback_mode().unwrap());
    assert_eq!(port.outgoing_interface().unwrap(), MulticastInterface::Any);
    port.set_ttl(0).unwrap();
    assert_eq!(port.ttl().unwrap(), 0);
    port.set_loopback_mode(false).unwrap();
    assert!(!port.loopback_mode().unwrap());
    port.set_outgoing_interface(Ipv4Addr::LOCALHOST).unwrap();
    assert_eq!(
        port.outgoing_interface().unwrap(),
        MulticastInterface::Address(Ipv4Addr::LOCALHOST)
    );
    assert!(port.set_outgoing_interface(1u32).is_err()); // IPv4 names interfaces by address
}

/// Twisted: test_udp.py `MulticastTestsIPv6.test_interface` and the mode half of
/// `MulticastTestsIPv6.test_loopback` (delivery: `multicast_netns.rs`)
#[test]
fn ipv6_options_use_the_ipv6_socket_options() {
    let mut reactor = reactor();
    let (p, _) = Recorder::new();
    let Ok(port) = reactor.listen_multicast_with(ListenOptions::new(0).interface("::1"), p) else {
        eprintln!("SKIP: no IPv6 here");
        return;
    };
    let MulticastInterface::Index(lo) = MulticastInterface::parse("lo").unwrap() else {
        panic!()
    };
    assert_eq!(port.outgoing_interface().unwrap(), MulticastInterface::Any); // Twisted: 0
    assert!(port.loopback_mode().unwrap());
    port.set_ttl(1).unwrap(); // IPV6_MULTICAST_HOPS, not Twisted's IPv4 option
    assert_eq!(port.ttl().unwrap(), 1);
    port.set_outgoing_interface(lo).unwrap();
    assert_eq!(
        port.outgoing_interface().unwrap(),
        MulticastInterface::Index(lo)
    );
    port.set_loopback_mode(false).unwrap();
    assert!(!port.loopback_mode().unwrap());
    assert!(port.set_outgoing_interface(Ipv4Addr::LOCALHOST).is_err());
}

/// Twisted: test_udp.py `MulticastTests.test_joinLeave` and `MulticastTests.test_joinFailure`
/// (joined on the loopback interface, not the default one, so that no membership report
/// leaves this host)
#[test]
fn join_and_leave_succeed_and_fail_as_specified() {
    let mut reactor = reactor();
    let (p, _) = Recorder::new();
    let port = reactor.listen_multicast(0, p).unwrap();
    assert!(
        port.join_group(GROUP, "127.0.0.1")
            .take_result()
            .unwrap()
            .is_ok()
    );
    let e = join_error(port.join_group(GROUP, "127.0.0.1"));
    assert_eq!(
        (e.group.as_str(), e.interface.as_str()),
        (GROUP, "127.0.0.1")
    );
    assert_eq!(e.source.kind(), io::ErrorKind::AddrInUse); // joining twice (Twisted: errno 98)
    assert!(
        port.leave_group(GROUP, "127.0.0.1")
            .take_result()
            .unwrap()
            .is_ok()
    );
    let e = join_error(port.leave_group(GROUP, "127.0.0.1"));
    assert_eq!(e.source.kind(), io::ErrorKind::AddrNotAvailable); // not joined (errno 99)
    let e = join_error(port.join_group("127.0.0.1", ""));
    assert!(e.to_string().contains("not a multicast address"), "{e}");
    let e = join_error(port.join_group("ff02::1", ""));
    assert!(e.to_string().contains("IPv6 group on an IPv4 port"), "{e}");
    let e = join_error(port.join_group("all-hosts.example", ""));
    assert!(e.to_string().contains("IP address literal"), "{e}");
    let e = join_error(port.join_group(GROUP, "no-such-interface0"));
    assert!(
        e.to_string().contains("no network interface has this name"),
        "{e}"
    );
    // By interface index, too.
    assert!(port.join_group(GROUP, "lo").take_result().unwrap().is_ok());
}

/// Twisted: test_udp.py `MulticastTests.test_multicast`
#[test]
fn a_datagram_sent_to_the_group_reaches_a_joined_listener() {
    let mut reactor = reactor();
    let (rx, log) = Recorder::new();
    let receiver = reactor.listen_multicast(0, rx).unwrap();
    receiver
        .join_group(GROUP, "127.0.0.1")
        .take_result()
        .unwrap()
        .unwrap();
    let port = receiver.get_host().unwrap().port();
    let sender = loopback_sender(&mut reactor);
    sender.write_to(b"UniqueID", (GROUP, port)).unwrap();
    run_until(&mut reactor, CAP, || datagrams(&log).len() == 1);
    assert_eq!(
        datagrams(&log),
        [(b"UniqueID".to_vec(), sender.get_host().unwrap())]
    );
}

/// Twisted: test_udp.py `MulticastTests.test_multiListen`
#[test]
fn listen_multiple_delivers_every_datagram_to_each_listener() {
    let mut reactor = reactor();
    let port = free_port();
    let options = ListenOptions::new(port).listen_multiple(true);
    let (a, log_a) = Recorder::new();
    let (b, log_b) = Recorder::new();
    let a = reactor.listen_multicast_with(options.clone(), a).unwrap();
    let b = reactor.listen_multicast_with(options, b).unwrap();
    for t in [&a, &b] {
        t.join_group(GROUP, "127.0.0.1")
            .take_result()
            .unwrap()
            .unwrap();
    }
    let (c, _) = Recorder::new();
    let err = reactor.listen_multicast(port, c).unwrap_err();
    assert!(
        matches!(&err, ListenError::CannotListen { source, .. } if source.kind() == io::ErrorKind::AddrInUse),
        "{err}"
    );
    let sender = loopback_sender(&mut reactor);
    for i in 0..3u8 {
        sender.write_to(&[i], (GROUP, port)).unwrap();
    }
    run_until(&mut reactor, CAP, || {
        datagrams(&log_a).len() == 3 && datagrams(&log_b).len() == 3
    });
    let payloads = |log: &Log| {
        datagrams(log)
            .into_iter()
            .map(|(d, _)| d)
            .collect::<Vec<_>>()
    };
    assert_eq!(payloads(&log_a), [vec![0], vec![1], vec![2]]);
    assert_eq!(payloads(&log_b), payloads(&log_a));
}

#[test]
fn a_left_group_and_a_source_filter_keep_datagrams_out() {
    let mut reactor = reactor();
    let port = free_port();
    let (rx, log) = Recorder::new();
    let receiver = reactor
        .listen_multicast_with(ListenOptions::new(port).listen_multiple(true), rx)
        .unwrap();
    let sender = loopback_sender(&mut reactor);
    let marker = |n: u8| {
        // A unicast marker after each multicast datagram: once it is in, the multicast one
        // would have been too (same sender, same path, in order).
        sender.write_to(&[0xEE, n], ("127.0.0.1", port)).unwrap();
    };
    // Source-specific: only 127.0.0.1 may speak (it is the sender's address), then only 127.0.0.2.
    receiver
        .join_source_group(FILTER_GROUP, "127.0.0.1", "127.0.0.1")
        .take_result()
        .unwrap()
        .unwrap();
    sender
        .write_to(b"from the right source", (FILTER_GROUP, port))
        .unwrap();
    marker(1);
    run_until(&mut reactor, CAP, || datagrams(&log).len() == 2);
    receiver
        .leave_source_group(FILTER_GROUP, "127.0.0.1", "127.0.0.1")
        .take_result()
        .unwrap()
        .unwrap();
    receiver
        .join_source_group(FILTER_GROUP, "127.0.0.2", "127.0.0.1")
        .take_result()
        .unwrap()
        .unwrap();
    sender
        .write_to(b"from the wrong source", (FILTER_GROUP, port))
        .unwrap();
    marker(2);
    run_until(&mut reactor, CAP, || datagrams(&log).len() == 3);
    receiver
        .leave_source_group(FILTER_GROUP, "127.0.0.2", "127.0.0.1")
        .take_result()
        .unwrap()
        .unwrap();
    // Not a member at all any more.
    sender
        .write_to(b"after leaving", (FILTER_GROUP, port))
        .unwrap();
    marker(3);
    run_until(&mut reactor, CAP, || datagrams(&log).len() == 4);
    let got: Vec<Vec<u8>> = datagrams(&log).into_iter().map(|(d, _)| d).collect();
    assert_eq!(
        got,
        [
            b"from the right source".to_vec(),
            vec![0xEE, 1],
            vec![0xEE, 2],
            vec![0xEE, 3]
        ]
    );
}

/// Twisted: test_udp.py `MulticastTestsIPv6.test_multicast` (group `ff12::8005` on `lo`
/// rather than `ff03::1` on the default interface, so that nothing leaves this host)
#[test]
fn ipv6_multicast_on_the_loopback_interface() {
    let mut reactor = reactor();
    let (rx, log) = Recorder::new();
    let options = ListenOptions::new(0).interface("::").dual_stack(false);
    let Ok(receiver) = reactor.listen_multicast_with(options.clone(), rx) else {
        eprintln!("SKIP: no IPv6 here");
        return;
    };
    let group = "ff12::8005";
    receiver
        .join_group(group, "lo")
        .take_result()
        .unwrap()
        .unwrap();
    let (tx, _) = Recorder::new();
    let sender = reactor.listen_udp_with(options, tx).unwrap();
    let MulticastInterface::Index(lo) = MulticastInterface::parse("lo").unwrap() else {
        panic!()
    };
    sender.set_outgoing_interface(lo).unwrap();
    sender.set_ttl(1).unwrap();
    let to = std::net::SocketAddrV6::new(
        group.parse().unwrap(),
        receiver.get_host().unwrap().port(),
        0,
        lo,
    );
    match sender.write_to(b"six", to) {
        Err(gyre::error::WriteError::Io(e)) if e.kind() == io::ErrorKind::NetworkUnreachable => {
            // Linux gives `lo` no IPv6 multicast route unless it is flagged MULTICAST; the
            // two-namespace test (tests/multicast_netns.rs) covers IPv6 end to end instead.
            eprintln!("SKIP: the kernel refuses IPv6 multicast on lo here: {e}");
            return;
        }
        other => other.unwrap(),
    }
    run_until(&mut reactor, CAP, || datagrams(&log).len() == 1);
    assert_eq!(datagrams(&log)[0].0, b"six");
}

/// Twisted: test_udp.py `MulticastTests.test_wrongFamilyInterfaceJoin`
#[test]
fn an_ipv4_group_on_an_ipv6_interface_is_a_join_error() {
    let mut reactor = reactor();
    let (p, _) = Recorder::new();
    let port = reactor.listen_multicast(0, p).unwrap();
    let e = join_error(port.join_group(GROUP, "::1"));
    assert_eq!((e.group.as_str(), e.interface.as_str()), (GROUP, "::1"));
    assert_eq!(
        e.to_string(),
        "multicast group 225.0.0.250 on ::1: invalid address \"::1\": no network interface \
         has this name (an IPv6 address cannot name an interface: use its index or name)"
    );
}

/// An IPv6 port on `::` for the IPv6 multicast tests (Twisted's `MulticastTestsIPv6` setup);
/// `None` where this host has no IPv6.
fn ipv6_multicast_port(reactor: &mut Reactor, options: ListenOptions) -> Option<(Transport, Log)> {
    let (p, log) = Recorder::new();
    match reactor.listen_multicast_with(options.interface("::").dual_stack(false), p) {
        Ok(port) => Some((port, log)),
        Err(e) => {
            eprintln!("SKIP: no IPv6 here: {e}");
            None
        }
    }
}

/// The loopback interface's index.
fn lo() -> u32 {
    match MulticastInterface::parse("lo").unwrap() {
        MulticastInterface::Index(lo) => lo,
        other => panic!("lo is {other:?}"),
    }
}

/// A write to an IPv6 group by `lo`; `false` (and a SKIP line) where the kernel gives `lo` no
/// IPv6 multicast route (see `ipv6_multicast_on_the_loopback_interface`).
fn write_to_v6_group(port: &Transport, data: &[u8], group: &str, number: u16) -> bool {
    let to = std::net::SocketAddrV6::new(group.parse().unwrap(), number, 0, lo());
    match port.write_to(data, to) {
        Err(gyre::error::WriteError::Io(e)) if e.kind() == io::ErrorKind::NetworkUnreachable => {
            eprintln!("SKIP: the kernel refuses IPv6 multicast on lo here: {e}");
            false
        }
        other => {
            other.unwrap();
            true
        }
    }
}

/// Twisted: test_udp.py `MulticastTestsIPv6.test_wrongFamilyInterfaceJoin`
#[test]
fn an_ipv6_group_on_an_ipv4_interface_is_a_join_error() {
    let mut reactor = reactor();
    let Some((port, _)) = ipv6_multicast_port(&mut reactor, ListenOptions::new(0)) else {
        return;
    };
    let e = join_error(port.join_group("ff03::1", "127.0.0.1"));
    assert_eq!(
        (e.group.as_str(), e.interface.as_str()),
        ("ff03::1", "127.0.0.1")
    );
    assert_eq!(
        e.to_string(),
        "multicast group ff03::1 on 127.0.0.1: an IPv6 group needs an interface index or \
         name, not an IPv4 address"
    );
}

/// Twisted: test_udp.py `MulticastTestsIPv6.test_joinLeave` (on `lo`, not the default
/// interface, so that no membership report leaves this host)
#[test]
fn an_ipv6_group_can_be_joined_and_left() {
    let mut reactor = reactor();
    let Some((a, _)) = ipv6_multicast_port(&mut reactor, ListenOptions::new(0)) else {
        return;
    };
    let (b, _) = ipv6_multicast_port(&mut reactor, ListenOptions::new(0)).unwrap();
    for port in [&a, &b] {
        assert!(
            port.join_group("ff03::1", "lo")
                .take_result()
                .unwrap()
                .is_ok()
        );
        assert!(
            port.leave_group("ff03::1", "lo")
                .take_result()
                .unwrap()
                .is_ok()
        );
    }
}

/// Twisted: test_udp.py `MulticastTestsIPv6.test_joinFailure`
#[test]
fn joining_an_ipv6_address_that_is_not_multicast_is_a_join_error() {
    let mut reactor = reactor();
    let Some((port, _)) = ipv6_multicast_port(&mut reactor, ListenOptions::new(0)) else {
        return;
    };
    let e = join_error(port.join_group("::1", ""));
    assert_eq!(e.group, "::1");
    assert_eq!(
        e.to_string(),
        "multicast group ::1 on any interface: not a multicast address"
    );
}

/// Twisted: test_udp.py `MulticastTestsIPv6.test_multiListen` (group `ff12::8007` on `lo`)
#[test]
fn ipv6_listen_multiple_delivers_a_group_datagram_to_each_listener() {
    let mut reactor = reactor();
    let shared = || ListenOptions::new(0).listen_multiple(true);
    let Some((first, first_log)) = ipv6_multicast_port(&mut reactor, shared()) else {
        return;
    };
    let number = first.get_host().unwrap().port();
    let (second, second_log) = ipv6_multicast_port(
        &mut reactor,
        ListenOptions::new(number).listen_multiple(true),
    )
    .unwrap();
    let group = "ff12::8007";
    for port in [&first, &second] {
        port.join_group(group, "lo").take_result().unwrap().unwrap();
    }
    first.set_outgoing_interface(lo()).unwrap();
    first.set_ttl(1).unwrap();
    if !write_to_v6_group(&first, b"hello world", group, number) {
        return;
    }
    run_until(&mut reactor, CAP, || {
        !datagrams(&first_log).is_empty() && !datagrams(&second_log).is_empty()
    });
    assert_eq!(datagrams(&first_log)[0].0, b"hello world");
    assert_eq!(datagrams(&second_log)[0].0, b"hello world");
}
