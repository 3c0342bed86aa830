//! The network simulator (`gyre::testing::Network`): protocols written for sockets run
//! unchanged on simulated links with latency, jitter, loss, duplication and truncation, on a
//! manual clock, reproducibly from a seed. No socket is opened.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use gyre::prelude::*;
use gyre::protocols::Echo;
use gyre::protocols::dns::{Authority, DnsClient, DnsError, DnsServer, RecordType, addresses};
use gyre::testing::{Fate, Link, Network};
use gyre::udp::ListenOptions;

fn simulated(seed: u64, link: Link) -> (Reactor, ManualClock, Network) {
    let clock = ManualClock::new();
    let mut reactor = Reactor::with_clock(clock.clone()).unwrap();
    reactor.install_signal_handlers(false);
    let network = Network::new(seed, link);
    network.attach(&mut reactor);
    (reactor, clock, network)
}

/// Request/response with retransmission: sends request `n` (its number, 8 bytes), resends it
/// every `retry` until its response comes, then sends `n + 1`, up to `total`.
struct Requester {
    server: SocketAddr,
    retry: Duration,
    total: u64,
    next: Rc<Cell<u64>>,
    sends: Rc<Cell<u64>>,
    timer: Option<DelayedCall>,
}

impl Requester {
    fn send(&mut self, cx: &mut Context<'_>) -> Outcome {
        if let Some(timer) = self.timer.take() {
            let _ = timer.cancel();
        }
        if self.next.get() == self.total {
            return Ok(());
        }
        cx.transport()
            .write_to(&self.next.get().to_be_bytes(), self.server)?;
        self.sends.set(self.sends.get() + 1);
        let port = cx.transport().clone();
        let (server, n, sends, next) = (
            self.server,
            self.next.get(),
            self.sends.clone(),
            self.next.clone(),
        );
        let retry = self.retry;
        self.timer = Some(cx.reactor().call_later(retry, move |r| {
            resend(r, port, server, n, retry, sends, next);
        }));
        Ok(())
    }
}

/// A retransmission: again, and again after `retry`, while request `n` is still the one
/// waiting.
fn resend(
    reactor: &mut Core,
    port: Transport,
    server: SocketAddr,
    n: u64,
    retry: Duration,
    sends: Rc<Cell<u64>>,
    next: Rc<Cell<u64>>,
) {
    if next.get() != n || !port.is_listening() {
        return;
    }
    let _ = port.write_to(&n.to_be_bytes(), server);
    sends.set(sends.get() + 1);
    reactor.call_later(retry, move |r| {
        resend(r, port, server, n, retry, sends, next)
    });
}

impl DatagramProtocol for Requester {
    fn start_protocol(&mut self, cx: &mut Context<'_>) -> Outcome {
        self.send(cx)
    }

    fn datagram_received(&mut self, cx: &mut Context<'_>, data: &[u8], _: SocketAddr) -> Outcome {
        let Ok(bytes) = <[u8; 8]>::try_from(data) else {
            return Ok(()); // cut short on the way: ignore it
        };
        if u64::from_be_bytes(bytes) == self.next.get() {
            self.next.set(self.next.get() + 1);
            self.send(cx)?;
        }
        Ok(()) // a duplicate or a late answer to an earlier request
    }
}

/// Runs `total` exchanges over `link`; returns (completed, sends, the network's trace).
fn exchanges(seed: u64, link: Link, total: u64) -> (u64, u64, Network) {
    let (mut reactor, clock, network) = simulated(seed, link);
    let server = reactor
        .listen_udp_with(ListenOptions::new(7).interface("127.0.0.7"), Echo::quiet())
        .unwrap()
        .get_host()
        .unwrap();
    let (next, sends) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    let requester = Requester {
        server,
        retry: Duration::from_millis(50),
        total,
        next: next.clone(),
        sends: sends.clone(),
        timer: None,
    };
    reactor
        .listen_udp_with(ListenOptions::new(0).interface("127.0.0.1"), requester)
        .unwrap();
    network.run_until(&mut reactor, &clock, Duration::from_secs(24 * 3600), || {
        next.get() == total
    });
    (next.get(), sends.get(), network)
}

#[test]
fn ten_thousand_exchanges_complete_at_thirty_percent_loss() {
    let link = Link::latency(Duration::from_millis(10)).loss(0.3);
    let started = Instant::now();
    let (done, sends, network) = exchanges(42, link, 10_000);
    let real = started.elapsed();
    assert_eq!(done, 10_000);
    let stats = network.stats();
    // Both ways lose 30%: about half the round trips fail, each costing a resend.
    assert!(sends > 15_000 && sends < 25_000, "{sends} sends");
    assert_eq!(stats.sent, stats.delivered + stats.lost);
    assert!(
        (stats.lost as f64 / stats.sent as f64 - 0.3).abs() < 0.02,
        "{stats:?}"
    );
    eprintln!("10,000 exchanges at 30% loss: {sends} sends, {real:?} of real time");
}

#[test]
fn the_same_seed_gives_the_same_run_and_another_seed_another() {
    let link = Link::latency(Duration::from_millis(5))
        .jitter(Duration::from_millis(20))
        .loss(0.2)
        .duplicate(0.1);
    let (_, sends_a, a) = exchanges(7, link, 500);
    let (_, sends_b, b) = exchanges(7, link, 500);
    let (_, _, c) = exchanges(8, link, 500);
    assert_eq!(sends_a, sends_b);
    assert_eq!(a.trace(), b.trace());
    assert_ne!(a.trace(), c.trace());
    assert_eq!(
        a.trace()[0].to_string(),
        "     0.000 ms 127.0.0.1:40000 -> 127.0.0.7:7 8 B Delivered"
    );
}

/// Records what arrives, in order.
struct Collect(Rc<RefCell<Vec<Vec<u8>>>>);

impl DatagramProtocol for Collect {
    fn datagram_received(&mut self, _: &mut Context<'_>, data: &[u8], _: SocketAddr) -> Outcome {
        self.0.borrow_mut().push(data.to_vec());
        Ok(())
    }
}

#[test]
fn jitter_reorders_duplication_copies_and_truncation_cuts() {
    let link = Link::latency(Duration::from_millis(1))
        .jitter(Duration::from_millis(50))
        .duplicate(0.2)
        .truncate(0.1);
    let (mut reactor, clock, network) = simulated(3, link);
    let got = Rc::new(RefCell::new(Vec::new()));
    let sink = reactor
        .listen_udp_with(
            ListenOptions::new(9).interface("127.0.0.9"),
            Collect(got.clone()),
        )
        .unwrap();
    let source = reactor
        .listen_udp_with(
            ListenOptions::new(0).interface("127.0.0.1"),
            Collect(Rc::default()),
        )
        .unwrap();
    for i in 0..200u32 {
        source
            .write_to(&i.to_be_bytes(), sink.get_host().unwrap())
            .unwrap();
    }
    network.run_until(&mut reactor, &clock, Duration::from_secs(1), || false);
    let stats = network.stats();
    let got = got.borrow();
    assert_eq!(got.len() as u64, 200 + stats.duplicated);
    assert!(stats.duplicated > 20 && stats.truncated > 5, "{stats:?}");
    let whole: Vec<u32> = got
        .iter()
        .filter_map(|d| <[u8; 4]>::try_from(d.as_slice()).ok())
        .map(u32::from_be_bytes)
        .collect();
    assert!(whole.windows(2).any(|w| w[0] > w[1]), "jitter reorders");
    // Every datagram cut short arrives shorter (twice, if it was also duplicated).
    let short = got.iter().filter(|d| d.len() < 4).count() as u64;
    assert!(
        short >= stats.truncated && short <= 2 * stats.truncated,
        "{short} short, {stats:?}"
    );
}

/// Hears refusals.
struct Connected {
    refused: Rc<Cell<u32>>,
    to: SocketAddr,
}

impl DatagramProtocol for Connected {
    fn start_protocol(&mut self, cx: &mut Context<'_>) -> Outcome {
        cx.transport().connect(self.to)?;
        cx.transport().write(b"anyone?")?;
        Ok(())
    }

    fn datagram_received(&mut self, _: &mut Context<'_>, _: &[u8], _: SocketAddr) -> Outcome {
        Ok(())
    }

    fn connection_refused(&mut self, _: &mut Context<'_>) -> Outcome {
        self.refused.set(self.refused.get() + 1);
        Ok(())
    }
}

#[test]
fn nobody_at_the_destination_is_a_refusal_for_a_connected_sender_only() {
    let (mut reactor, clock, network) = simulated(1, Link::latency(Duration::from_millis(3)));
    let nobody: SocketAddr = "127.0.0.99:99".parse().unwrap();
    let refused = Rc::new(Cell::new(0));
    let connected = Connected {
        refused: refused.clone(),
        to: nobody,
    };
    reactor
        .listen_udp_with(ListenOptions::new(0).interface("127.0.0.1"), connected)
        .unwrap();
    let loose = reactor
        .listen_udp_with(
            ListenOptions::new(0).interface("127.0.0.1"),
            Collect(Rc::default()),
        )
        .unwrap();
    loose.write_to(b"anyone?", nobody).unwrap();
    network.run_until(&mut reactor, &clock, Duration::from_secs(1), || false);
    assert_eq!(refused.get(), 1);
    assert_eq!(network.stats().unreachable, 2);
    assert!(network.trace().iter().all(|e| e.fate == Fate::Unreachable));
    // A port cannot be bound twice.
    let err = reactor
        .listen_udp_with(ListenOptions::new(7).interface("127.0.0.7"), Echo::quiet())
        .and_then(|_| {
            reactor.listen_udp_with(ListenOptions::new(7).interface("127.0.0.7"), Echo::quiet())
        })
        .unwrap_err();
    assert!(err.to_string().contains("in use"), "{err}");
}

#[test]
fn the_dns_client_retries_through_thirty_percent_loss_unchanged() {
    let (mut reactor, clock, network) =
        simulated(2024, Link::latency(Duration::from_millis(20)).loss(0.3));
    let (server, stats) = DnsServer::new(Authority::from_hosts("192.0.2.7 example.test\n", 300));
    let at = reactor
        .listen_udp_with(ListenOptions::new(53).interface("127.0.0.53"), server)
        .unwrap()
        .get_host()
        .unwrap();
    let client = DnsClient::new(vec![at]);
    const QUERIES: usize = 50;
    let answers: Vec<_> = (0..QUERIES)
        .map(|_| client.query(&mut reactor, "example.test", RecordType::A))
        .collect();
    let all_done = || answers.iter().all(|a| a.is_called());
    assert!(network.run_until(&mut reactor, &clock, Duration::from_secs(120), all_done));
    let mut answered = 0;
    for answer in answers {
        match answer.take_result().unwrap() {
            Ok(message) => {
                let expected = vec!["192.0.2.7".parse::<std::net::IpAddr>().unwrap()];
                assert_eq!(addresses(&message), expected);
                answered += 1;
            }
            Err(failure) => assert!(
                matches!(
                    failure.downcast_ref::<DnsError>(),
                    Some(DnsError::Timeout { .. })
                ),
                "{failure}"
            ),
        }
    }
    // Four attempts each, a round trip lost 51% of the time: a query fails only if all four
    // are lost (0.51^4, about 7%), so about 46 of 50 get through; the rest time out.
    assert!(answered >= 40, "{answered} of {QUERIES}");
    assert!(
        stats.get().answered > QUERIES as u64,
        "some queries were asked again"
    );
}

#[test]
fn links_are_set_per_pair_of_hosts_and_may_refuse_with_icmp() {
    let (mut reactor, clock, network) = simulated(5, Link::latency(Duration::from_millis(1)));
    // Traffic between .1 and .9 is refused half the time; .2 to .9 stays perfect.
    network.set_link(
        "127.0.0.1".parse().unwrap(),
        "127.0.0.9".parse().unwrap(),
        Link::latency(Duration::from_millis(1)).refuse(0.5),
    );
    let got = Rc::new(RefCell::new(Vec::new()));
    let sink = reactor
        .listen_udp_with(
            ListenOptions::new(9).interface("127.0.0.9"),
            Collect(got.clone()),
        )
        .unwrap()
        .get_host()
        .unwrap();
    let refused = Rc::new(Cell::new(0));
    reactor
        .listen_udp_with(
            ListenOptions::new(0).interface("127.0.0.1"),
            Connected {
                refused: refused.clone(),
                to: sink,
            },
        )
        .unwrap();
    let clean = reactor
        .listen_udp_with(
            ListenOptions::new(0).interface("127.0.0.2"),
            Collect(Rc::default()),
        )
        .unwrap();
    for _ in 0..100 {
        clean.write_to(b"fine", sink).unwrap();
    }
    network.run_until(&mut reactor, &clock, Duration::from_secs(1), || false);
    let stats = network.stats();
    // The connected sender wrote once: delivered, or refused and told so.
    assert_eq!(stats.refused, u64::from(refused.get()));
    assert_eq!(got.borrow().len() as u64, 101 - stats.refused);
    assert!(
        network
            .trace()
            .iter()
            .filter(|e| e.from.ip().to_string() == "127.0.0.2")
            .all(|e| e.fate == Fate::Delivered)
    );
}
