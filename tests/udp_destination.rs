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

/// A port on `0.0.0.0` that reads each datagram's destination.
fn wildcard_with_destinations() -> ListenOptions {
    ListenOptions::new(0)
        .interface("0.0.0.0")
        .receive_destination(true)
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
    let options = wildcard_with_destinations();
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

/// Sends `data` from `client` to `ip:port` and returns the echo's payload and source.
fn echo_via(
    reactor: &mut Reactor,
    client: &UdpSocket,
    ip: &str,
    port: u16,
    data: &[u8],
) -> (Vec<u8>, SocketAddr) {
    client.send_to(data, (ip, port)).unwrap();
    let mut buf = [0u8; 64];
    let mut got = None;
    run_until(reactor, CAP, || {
        got = client.recv_from(&mut buf).ok();
        got.is_some()
    });
    let (n, from) = got.unwrap();
    (buf[..n].to_vec(), from)
}

#[test]
#[cfg(not(gyre_portable_io))]
fn a_reply_on_a_wildcard_port_leaves_from_the_address_its_request_reached() {
    let mut reactor = reactor();
    let options = wildcard_with_destinations();
    let (port, _) = listen(&mut reactor, options);
    let number = port.get_host().unwrap().port();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_nonblocking(true).unwrap();
    for ip in ["127.0.0.2", "127.0.0.3", "127.0.0.1", "127.0.0.2"] {
        let (data, from) = echo_via(&mut reactor, &client, ip, number, ip.as_bytes());
        assert_eq!(data, ip.as_bytes());
        assert_eq!(
            from,
            SocketAddr::new(ip.parse().unwrap(), number),
            "reply to {ip}"
        );
    }
    assert_eq!(port.stats().unwrap().datagrams_out, 4);
}

#[test]
#[cfg(not(gyre_portable_io))]
fn without_the_option_a_wildcard_port_replies_from_the_routes_choice() {
    // What every other reactor does: the kernel picks the source, here 127.0.0.1, so a client
    // that wrote to 127.0.0.2 sees the answer come from somewhere else.
    let mut reactor = reactor();
    let (port, _) = listen(&mut reactor, ListenOptions::new(0).interface("0.0.0.0"));
    let number = port.get_host().unwrap().port();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_nonblocking(true).unwrap();
    let (_, from) = echo_via(&mut reactor, &client, "127.0.0.2", number, b"x");
    assert_eq!(from, SocketAddr::new("127.0.0.1".parse().unwrap(), number));
}

/// Answers each datagram three ways: to its sender (from its destination), to a third
/// party (from the socket's own address), and to its sender again as a sequence.
struct Fanout {
    third: SocketAddr,
}

impl DatagramProtocol for Fanout {
    fn datagram_received(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
        from: SocketAddr,
    ) -> Outcome {
        cx.transport().write_to(data, from)?;
        cx.transport().write_to(data, self.third)?;
        cx.transport().write_sequence_to(&[b"seq:", data], from)?;
        Ok(())
    }
}

#[test]
#[cfg(not(gyre_portable_io))]
fn only_replies_to_the_sender_take_its_destination_and_order_is_kept() {
    let mut reactor = reactor();
    let third = UdpSocket::bind("127.0.0.1:0").unwrap();
    third.set_read_timeout(Some(CAP)).unwrap();
    let options = wildcard_with_destinations();
    let protocol = Fanout {
        third: third.local_addr().unwrap(),
    };
    let port = reactor.listen_udp_with(options, protocol).unwrap();
    let number = port.get_host().unwrap().port();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_nonblocking(true).unwrap();
    client.send_to(b"hi", ("127.0.0.3", number)).unwrap();
    let mut answers = Vec::new();
    run_until(&mut reactor, CAP, || {
        let mut buf = [0u8; 16];
        while let Ok((n, from)) = client.recv_from(&mut buf) {
            answers.push((buf[..n].to_vec(), from.ip().to_string()));
        }
        answers.len() == 2
    });
    let from_3 = "127.0.0.3".to_string();
    assert_eq!(
        answers,
        vec![
            (b"hi".to_vec(), from_3.clone()),
            (b"seq:hi".to_vec(), from_3)
        ]
    );
    let mut buf = [0u8; 16];
    let (n, from) = third.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"hi");
    assert_eq!(
        from.ip().to_string(),
        "127.0.0.1",
        "not a reply: the route's source"
    );
}

/// IPv6 has one loopback address, so a second one lives in a network namespace this test
/// creates (lo up, `fd67:7972:66::2/128` added to it; no other interface, no route out): the
/// test binary runs itself in there for the inner test. Needs root and `ip`; skips otherwise.
#[test]
#[cfg(not(gyre_portable_io))]
fn an_ipv6_reply_leaves_from_the_address_its_request_reached() {
    use std::process::Command;
    if std::env::var_os("GYRE_INSIDE_NETNS").is_some() {
        return ipv6_replies_inside_the_namespace();
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n");
    if !matches!(root, Ok(true)) || Command::new("ip").arg("-V").output().is_err() {
        eprintln!("SKIP: a network namespace needs root and `ip` (iproute2)");
        return;
    }
    let ns = format!("gyre-dest-{}", std::process::id());
    let ip = |args: &[&str]| {
        let out = Command::new("ip").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ip(&["netns", "add", &ns]);
    struct Remove(String);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
        }
    }
    let _remove = Remove(ns.clone());
    ip(&["-n", &ns, "link", "set", "lo", "up"]);
    ip(&[
        "-n",
        &ns,
        "-6",
        "addr",
        "add",
        "fd67:7972:66::2/128",
        "dev",
        "lo",
        "nodad",
    ]);
    let me = std::env::current_exe().unwrap();
    let test = "an_ipv6_reply_leaves_from_the_address_its_request_reached";
    let out = common::run_bounded(
        {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", &ns])
                .arg(me)
                .args(["--exact", test, "--nocapture", "--test-threads", "1"])
                .env("GYRE_INSIDE_NETNS", "1");
            c
        },
        CAP,
    );
    let output =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{output}");
    assert!(output.contains("1 passed"), "{output}");
}

/// The inner half: `::` with destinations, asked at `::1` and at `fd67:7972:66::2`.
fn ipv6_replies_inside_the_namespace() {
    let mut reactor = reactor();
    let options = ListenOptions::new(0)
        .interface("::")
        .receive_destination(true);
    let (port, _) = listen(&mut reactor, options);
    let number = port.get_host().unwrap().port();
    let client = UdpSocket::bind("[::1]:0").unwrap();
    client.set_nonblocking(true).unwrap();
    for ip in ["fd67:7972:66::2", "::1", "fd67:7972:66::2"] {
        let (data, from) = echo_via(&mut reactor, &client, ip, number, ip.as_bytes());
        assert_eq!(data, ip.as_bytes());
        assert_eq!(
            from,
            SocketAddr::new(ip.parse().unwrap(), number),
            "reply to {ip}"
        );
    }
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
