//! Sending and receiving on real loopback sockets, IPv4 and IPv6.

mod common;

use common::*;
use gyre::udp::ListenOptions;

#[test]
fn ipv4_datagrams_arrive_whole_and_in_order_with_the_senders_address() {
    let mut reactor = reactor();
    let (rx, log) = Recorder::new();
    let receiver = reactor.listen_udp_with(loopback(), rx).unwrap();
    let (tx, _) = Recorder::new();
    let sender = reactor.listen_udp_with(loopback(), tx).unwrap();
    let to = receiver.get_host().unwrap();
    let from = sender.get_host().unwrap();
    let payloads: Vec<Vec<u8>> = vec![vec![], b"a".to_vec(), vec![0xff; 1472], vec![7; 65_507]];
    for p in &payloads {
        sender.write_to(p, to).unwrap();
    }
    run_until(&mut reactor, CAP, || {
        datagrams(&log).len() == payloads.len()
    });
    let got = datagrams(&log);
    for (i, p) in payloads.iter().enumerate() {
        assert_eq!(&got[i].0, p, "datagram {i}");
        assert_eq!(got[i].1, from);
    }
    let rx_stats = receiver.stats().unwrap();
    assert_eq!(rx_stats.datagrams_in, 4);
    assert_eq!(rx_stats.bytes_in, 1 + 1472 + 65_507);
    assert_eq!(sender.stats().unwrap().datagrams_out, 4);
    assert_eq!(reactor.stats().ports.datagrams_in, 4);
}

/// Twisted: internet/test/test_udp.py `test_writeToIPv6Interface` and `test_getHostIPv6`
/// (listenUDP)
#[test]
fn ipv6_send_and_receive_on_the_loopback() {
    let mut reactor = reactor();
    let (rx, log) = Recorder::echoing();
    let options = ListenOptions::new(0).interface("::1");
    let receiver = match reactor.listen_udp_with(options.clone(), rx) {
        Ok(port) => port,
        Err(e) => {
            eprintln!("SKIP: IPv6 loopback unavailable here: {e}");
            return;
        }
    };
    let (tx, tx_log) = Recorder::new();
    let sender = reactor.listen_udp_with(options, tx).unwrap();
    let to = receiver.get_host().unwrap();
    assert!(to.is_ipv6());
    assert_eq!(to.ip().to_string(), "::1");
    sender.write_to(b"over six", to).unwrap();
    run_until(&mut reactor, CAP, || datagrams(&tx_log).len() == 1);
    assert_eq!(
        datagrams(&log),
        [(b"over six".to_vec(), sender.get_host().unwrap())]
    );
    assert_eq!(datagrams(&tx_log), [(b"over six".to_vec(), to)]);
}

#[test]
fn ipv6_zones_by_interface_name_work_for_the_interface_and_the_destination() {
    let mut reactor = reactor();
    let (rx, log) = Recorder::new();
    let receiver = match reactor.listen_udp_with(ListenOptions::new(0).interface("::1%lo"), rx) {
        Ok(port) => port,
        Err(e) => {
            eprintln!("SKIP: IPv6 loopback unavailable here: {e}");
            return;
        }
    };
    let port = receiver.get_host().unwrap().port();
    let (tx, _) = Recorder::new();
    let sender = reactor
        .listen_udp_with(ListenOptions::new(0).interface("::1"), tx)
        .unwrap();
    sender.write_to(b"by name", ("::1%lo", port)).unwrap();
    sender
        .write_to(b"by text", format!("[::1%lo]:{port}"))
        .unwrap();
    run_until(&mut reactor, CAP, || datagrams(&log).len() == 2);
    let got: Vec<Vec<u8>> = datagrams(&log).into_iter().map(|(d, _)| d).collect();
    assert_eq!(got, [b"by name".to_vec(), b"by text".to_vec()]);
    let e = sender.write_to(b"x", ("::1%no-such-if", port)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid address \"::1%no-such-if\": no network interface has the name after %"
    );
}

#[test]
fn a_dual_stack_port_receives_ipv4_as_mapped_addresses_and_answers_them() {
    let mut reactor = reactor();
    let (rx, log) = Recorder::echoing();
    let Ok(receiver) =
        reactor.listen_udp_with(ListenOptions::new(0).interface("::").dual_stack(true), rx)
    else {
        eprintln!("SKIP: no dual-stack IPv6 here");
        return;
    };
    let (tx, tx_log) = Recorder::new();
    let sender = reactor.listen_udp_with(loopback(), tx).unwrap();
    let port = receiver.get_host().unwrap().port();
    sender.write_to(b"v4", ("127.0.0.1", port)).unwrap();
    run_until(&mut reactor, CAP, || datagrams(&tx_log).len() == 1);
    let (_, from) = &datagrams(&log)[0];
    assert_eq!(from.ip().to_string(), "::ffff:127.0.0.1");
    // The echo went back through the mapped address to the IPv4 sender.
    assert_eq!(datagrams(&tx_log)[0].1.port(), port);
}

/// Twisted: internet/test/test_udp.py `test_getHost` (listenUDP)
#[test]
fn port_zero_picks_a_free_port_and_get_host_reports_it() {
    let mut reactor = reactor();
    let (p, _) = Recorder::new();
    let port = reactor.listen_udp_with(loopback(), p).unwrap();
    let host = port.get_host().unwrap();
    assert_eq!(host.ip().to_string(), "127.0.0.1");
    assert_ne!(host.port(), 0);
    // A number asked for (found free as Twisted's `findFreePort` does) is reported exactly.
    let free = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (p, _) = Recorder::new();
    let asked = reactor
        .listen_udp_with(ListenOptions::new(free.port()).interface("127.0.0.1"), p)
        .unwrap();
    assert_eq!(asked.get_host().unwrap(), free);
    // The default interface is 0.0.0.0, as in Twisted.
    let (p, _) = Recorder::new();
    let any = reactor.listen_udp(0, p).unwrap();
    assert_eq!(any.get_host().unwrap().ip().to_string(), "0.0.0.0");
}

/// Twisted: internet/test/test_udp.py `test_allowBroadcast` (listenUDP)
#[test]
fn socket_options_round_trip() {
    let mut reactor = reactor();
    let (p, _) = Recorder::new();
    let port = reactor
        .listen_udp_with(
            loopback()
                .recv_buffer_size(1 << 20)
                .send_buffer_size(1 << 18),
            p,
        )
        .unwrap();
    assert!(!port.broadcast_allowed().unwrap());
    port.set_broadcast_allowed(true).unwrap();
    assert!(port.broadcast_allowed().unwrap());
    port.set_recv_buffer_size(1 << 16).unwrap();
    assert!(port.recv_buffer_size().unwrap() >= 1 << 16); // Linux reports double what was asked
    port.set_send_buffer_size(1 << 16).unwrap();
    assert!(port.send_buffer_size().unwrap() >= 1 << 16);
    assert_eq!(port.max_packet_size().unwrap(), 65_535);
}

/// On each datagram: replies through its lent transport and through a transport it kept,
/// alternating, then opens a second port from inside the callback and writes from its
/// `start_protocol`.
struct Interleaves {
    kept: Option<gyre::udp::Transport>,
    opened: std::rc::Rc<std::cell::RefCell<Vec<String>>>,
}

impl gyre::DatagramProtocol for Interleaves {
    fn start_protocol(&mut self, cx: &mut gyre::Context<'_>) -> gyre::Outcome {
        self.kept = Some(cx.transport().clone());
        Ok(())
    }

    fn datagram_received(
        &mut self,
        cx: &mut gyre::Context<'_>,
        data: &[u8],
        from: std::net::SocketAddr,
    ) -> gyre::Outcome {
        let kept = self.kept.clone().expect("started");
        for i in 0..6u8 {
            if i % 2 == 0 {
                cx.transport().write_to(&[data[0], i], from)?; // the lent port: the send queue
            } else {
                kept.write_to(&[data[0], i], from)?; // a kept transport: the outbox
            }
        }
        // A port opened from inside a callback has run start_protocol when listen returns.
        let (p, log) = Recorder::new();
        let port = cx.reactor().listen_udp_with(loopback(), p)?;
        let started = log.borrow().first() == Some(&Seen::Start);
        self.opened
            .borrow_mut()
            .push(format!("{} started: {started}", port.get_host()?.port()));
        Ok(())
    }
}

/// An `Interleaves` port, the log of the ports it opens, and a client socket for it.
fn interleaving_server(
    reactor: &mut gyre::Reactor,
) -> (
    gyre::udp::Transport,
    std::rc::Rc<std::cell::RefCell<Vec<String>>>,
    std::net::UdpSocket,
) {
    let opened = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let protocol = Interleaves {
        kept: None,
        opened: opened.clone(),
    };
    let server = reactor.listen_udp_with(loopback(), protocol).unwrap();
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_nonblocking(true).unwrap();
    (server, opened, client)
}

#[test]
fn writes_leave_in_the_order_made_whichever_way_they_took() {
    let mut reactor = reactor();
    let (server, opened, client) = interleaving_server(&mut reactor);
    let to = server.get_host().unwrap();
    for round in 0..3u8 {
        client.send_to(&[round], to).unwrap();
    }
    let mut got = Vec::new();
    run_until(&mut reactor, CAP, || {
        let mut buf = [0u8; 8];
        while let Ok(n) = client.recv(&mut buf) {
            got.push(buf[..n].to_vec());
        }
        got.len() == 18
    });
    let expected: Vec<Vec<u8>> = (0..3u8)
        .flat_map(|round| (0..6u8).map(move |i| vec![round, i]))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(opened.borrow().len(), 3);
    assert!(
        opened.borrow().iter().all(|s| s.ends_with("started: true")),
        "{opened:?}"
    );
    assert_eq!(reactor.ports().len(), 4);
}

/// The same, one datagram a turn: the first reply to a lone datagram leaves at once (no
/// queue around it), and the writes after it, kept or lent, still leave after it in order.
#[test]
fn writes_to_a_lone_datagram_leave_in_the_order_made() {
    let mut reactor = reactor();
    let (server, opened, client) = interleaving_server(&mut reactor);
    let to = server.get_host().unwrap();
    let mut got = Vec::new();
    for round in 0..3u8 {
        client.send_to(&[round], to).unwrap();
        run_until(&mut reactor, CAP, || {
            let mut buf = [0u8; 8];
            while let Ok(n) = client.recv(&mut buf) {
                got.push(buf[..n].to_vec());
            }
            got.len() == 6 * (usize::from(round) + 1)
        });
    }
    let expected: Vec<Vec<u8>> = (0..3u8)
        .flat_map(|round| (0..6u8).map(move |i| vec![round, i]))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(server.stats().unwrap().datagrams_out, 18);
    assert_eq!(opened.borrow().len(), 3);
}

/// Replies to each datagram with `re: ` and the datagram, in two parts.
struct SequenceReply;

impl gyre::DatagramProtocol for SequenceReply {
    fn datagram_received(
        &mut self,
        cx: &mut gyre::Context<'_>,
        data: &[u8],
        from: std::net::SocketAddr,
    ) -> gyre::Outcome {
        cx.transport().write_sequence_to(&[b"re: ", data], from)?;
        Ok(())
    }
}

/// Twisted's `writeSequence`: the parts leave as one datagram on every path (sent at once,
/// queued by a kept transport during a turn, queued by the protocol's own lent transport).
///
/// Twisted: internet/test/test_udp.py `test_writeSequence` (listenUDP)
#[test]
fn a_sequence_of_parts_leaves_as_one_datagram_on_every_write_path() {
    let mut reactor = reactor();
    let (rx, log) = Recorder::new();
    let receiver = reactor.listen_udp_with(loopback(), rx).unwrap();
    let to = receiver.get_host().unwrap();
    let replier = reactor.listen_udp_with(loopback(), SequenceReply).unwrap();
    let (tx, _) = Recorder::new();
    let sender = reactor.listen_udp_with(loopback(), tx).unwrap();

    sender
        .write_sequence_to(&[b"now: ", b"a", b"b"], to)
        .unwrap(); // outside a turn: sendmsg
    let many: Vec<[u8; 1]> = (0..40u8).map(|i| [b'0' + i % 10]).collect();
    let parts: Vec<&[u8]> = many.iter().map(|p| &p[..]).collect();
    sender.write_sequence_to(&parts, to).unwrap(); // more parts than fit on the stack
    sender.write_sequence_to(&[], to).unwrap(); // no part: an empty datagram
    let kept = sender.clone();
    reactor.call_soon(move |_| {
        kept.write_sequence_to(&[b"queued: ", b"c"], to).unwrap(); // during a turn: queued
    });
    let (asker, asked) = Recorder::new();
    let asker = reactor.listen_udp_with(loopback(), asker).unwrap();
    asker.connect(replier.get_host().unwrap()).unwrap();
    asker.write_sequence(&[b"to ", b"replier"]).unwrap(); // connected: sendmsg, no address
    run_until(&mut reactor, CAP, || {
        datagrams(&log).len() == 4 && datagrams(&asked).len() == 1
    });
    let got: Vec<Vec<u8>> = datagrams(&log).into_iter().map(|(d, _)| d).collect();
    let forty: Vec<u8> = (0..40u8).map(|i| b'0' + i % 10).collect();
    assert_eq!(
        got,
        [b"now: ab".to_vec(), forty, vec![], b"queued: c".to_vec(),]
    );
    // The reply was queued by the replier's lent transport while delivering.
    assert_eq!(datagrams(&asked)[0].0, b"re: to replier");
    let e = sender
        .write_sequence_to(&[&[0u8; 65_000], &[0u8; 1_000]], to)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "message too long: a 66000-byte datagram does not fit"
    );
}

/// Twisted: test_udp.py `UDPTests.test_NoWarningOnBroadcast`: `"<broadcast>"` is a name for
/// 255.255.255.255, accepted without a warning. On an in-memory port, so nothing leaves.
#[test]
fn broadcast_is_a_name_for_the_limited_broadcast_address() {
    let mut reactor = reactor();
    let (p, _) = Recorder::new();
    let (port, wire) = reactor
        .listen_memory("127.0.0.1:5000".parse().unwrap(), p)
        .unwrap();
    let (written, lines, _) =
        gyre::testing::capture_logs(|| port.write_to(b"test", ("<broadcast>", 1234)));
    written.unwrap();
    assert_eq!(
        wire.sent(),
        [(b"test".to_vec(), "255.255.255.255:1234".parse().unwrap())]
    );
    assert!(
        lines.iter().all(|l| l.level > log::Level::Warn),
        "{lines:?}"
    );
}
