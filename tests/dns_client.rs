//! The DNS client (`gyre::protocols::dns`) against DNS servers made in the test on gyre itself,
//! on loopback, with the reactor on a manual clock: answers, DNS errors, the retry schedule
//! across servers, spoofed answers, the reactor's resolver. Nothing leaves 127.0.0.1.

mod common;

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use common::CAP;
use gyre::prelude::*;
use gyre::protocols::dns::{
    DnsClient, DnsError, Message, Name, Query, RData, Record, RecordType, ResponseCode,
};
use gyre::udp::ListenOptions;

/// How a test server treats a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Answer from its records (NXDOMAIN for a name it does not have).
    Answer,
    /// Say nothing.
    Drop,
    /// Answer with this response code and no records.
    Code(ResponseCode),
    /// Answer, with the TC bit set and no records.
    Truncated,
}

/// What a test server saw: each query's id and source port.
type Seen = Rc<RefCell<Vec<(u16, SocketAddr)>>>;

struct Server {
    mode: Mode,
    seen: Seen,
}

const V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 7); // TEST-NET-1: only ever a value here
const V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7);

impl DatagramProtocol for Server {
    fn datagram_received(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
        from: SocketAddr,
    ) -> Outcome {
        let query = Message::from_vec(data).expect("a DNS query");
        self.seen.borrow_mut().push((query.metadata.id, from));
        let reply = match self.mode {
            Mode::Drop => return Ok(()),
            Mode::Answer => answer(&query),
            Mode::Code(code) => Message::error_msg(query.metadata.id, query.metadata.op_code, code),
            Mode::Truncated => {
                let mut m = answer(&query);
                m.answers.clear();
                m.metadata.truncation = true;
                m
            }
        };
        let mut reply = reply;
        if reply.queries.is_empty() {
            reply.add_query(query.queries[0].clone());
        }
        cx.transport().write_to(&reply.to_vec().unwrap(), from)?;
        Ok(())
    }
}

/// The answer of a server that knows `example.test.` (A and AAAA) and nothing else.
fn answer(query: &Message) -> Message {
    let mut m = Message::response(query.metadata.id, query.metadata.op_code);
    let q = query.queries[0].clone();
    m.add_query(q.clone());
    if q.name().to_ascii().to_lowercase() != "example.test." {
        m.metadata.response_code = ResponseCode::NXDomain;
        return m;
    }
    let data = match q.query_type() {
        RecordType::A => Some(RData::A(V4.into())),
        RecordType::AAAA => Some(RData::AAAA(V6.into())),
        _ => None,
    };
    if let Some(data) = data {
        m.answers
            .push(Record::from_rdata(q.name().clone(), 300, data));
    }
    m
}

fn server(reactor: &mut Reactor, mode: Mode) -> (SocketAddr, Seen) {
    let seen = Seen::default();
    let port = reactor
        .listen_udp_with(
            ListenOptions::new(0).interface("127.0.0.1"),
            Server {
                mode,
                seen: seen.clone(),
            },
        )
        .unwrap();
    (port.get_host().unwrap(), seen)
}

fn manual() -> (Reactor, ManualClock) {
    let clock = ManualClock::new();
    let mut reactor = Reactor::with_clock(clock.clone()).unwrap();
    reactor.install_signal_handlers(false);
    (reactor, clock)
}

/// Turns the loop (real I/O, the manual clock standing still) until `d` has fired.
fn wait<T: 'static>(reactor: &mut Reactor, d: &Deferred<T>) {
    common::run_until(reactor, CAP, || d.is_called());
}

/// The DnsError a failed Deferred holds.
fn error_of<T: 'static + std::fmt::Debug>(d: Deferred<T>) -> DnsError {
    let failure = d.take_result().unwrap().unwrap_err();
    match failure.downcast_ref::<DnsError>() {
        Some(e) => e.clone(),
        None => panic!("not a DnsError: {failure}"),
    }
}

#[test]
fn a_query_is_answered_with_the_servers_records_and_its_port_closes() {
    let (mut reactor, _clock) = manual();
    let (at, seen) = server(&mut reactor, Mode::Answer);
    let client = DnsClient::new(vec![at]);
    let ports = reactor.ports().len();
    let answer = client.query(&mut reactor, "example.test", RecordType::A);
    assert_eq!(reactor.ports().len(), ports + 1, "a port of its own");
    wait(&mut reactor, &answer);
    let message = answer.take_result().unwrap().unwrap();
    assert_eq!(
        gyre::protocols::dns::addresses(&message),
        vec![IpAddr::V4(V4)]
    );
    assert_eq!(seen.borrow().len(), 1);
    reactor.iterate(Duration::ZERO).unwrap();
    assert_eq!(reactor.ports().len(), ports, "the query's port closed");
}

#[test]
fn dns_errors_come_back_typed() {
    let (mut reactor, _clock) = manual();
    let cases = [
        (Mode::Answer, "nowhere.test"),
        (Mode::Code(ResponseCode::ServFail), "example.test"),
        (Mode::Code(ResponseCode::Refused), "example.test"),
        (Mode::Code(ResponseCode::NotImp), "example.test"),
        (Mode::Code(ResponseCode::FormErr), "example.test"),
        (Mode::Truncated, "example.test"),
    ];
    let mut got = Vec::new();
    for (mode, name) in cases {
        let (at, _) = server(&mut reactor, mode);
        let answer = DnsClient::new(vec![at]).query(&mut reactor, name, RecordType::A);
        wait(&mut reactor, &answer);
        got.push(error_of(answer).to_string());
    }
    assert_eq!(
        got,
        [
            "domain name not found: nowhere.test",
            "the DNS server failed (SERVFAIL)",
            "the DNS server refused the query (REFUSED)",
            "the DNS server does not implement this query (NOTIMP)",
            "the DNS server could not read the query (FORMERR)",
            "the answer was truncated (TC) and this client speaks DNS over UDP only",
        ]
    );
}

#[test]
fn silence_moves_to_the_next_server_on_twisteds_schedule_then_times_out() {
    let (mut reactor, clock) = manual();
    let (mute_a, seen_a) = server(&mut reactor, Mode::Drop);
    let (mute_b, seen_b) = server(&mut reactor, Mode::Drop);
    let answer =
        DnsClient::new(vec![mute_a, mute_b]).query(&mut reactor, "example.test", RecordType::A);
    let asked = |a: &Seen, b: &Seen| (a.borrow().len(), b.borrow().len());
    common::run_until(&mut reactor, CAP, || asked(&seen_a, &seen_b) == (1, 0));
    // 1 s, then 3, 11 and 45: each attempt to the next server.
    for (wait_for, expect) in [(1, (1, 1)), (3, (2, 1)), (11, (2, 2))] {
        clock.advance(Duration::from_millis(wait_for * 1000 - 1));
        reactor.iterate(Duration::from_millis(20)).unwrap();
        assert!(!answer.is_called());
        clock.advance(Duration::from_millis(1));
        common::run_until(&mut reactor, CAP, || asked(&seen_a, &seen_b) == expect);
    }
    clock.advance(Duration::from_secs(45));
    wait(&mut reactor, &answer);
    assert_eq!(asked(&seen_a, &seen_b), (2, 2));
    match error_of(answer) {
        DnsError::Timeout { after } => assert_eq!(after, Duration::from_secs(60)),
        other => panic!("expected a timeout, got {other}"),
    }
    // The same id to both servers, from the same port, on every attempt.
    let all: Vec<_> = seen_a
        .borrow()
        .iter()
        .chain(seen_b.borrow().iter())
        .copied()
        .collect();
    assert!(all.windows(2).all(|w| w[0] == w[1]), "{all:?}");
}

#[test]
fn a_silent_first_server_is_passed_over_for_the_next() {
    let (mut reactor, clock) = manual();
    let (mute, _) = server(&mut reactor, Mode::Drop);
    let (good, seen) = server(&mut reactor, Mode::Answer);
    let answer =
        DnsClient::new(vec![mute, good]).query(&mut reactor, "example.test", RecordType::AAAA);
    reactor.iterate(Duration::from_millis(20)).unwrap();
    clock.advance(Duration::from_secs(1));
    wait(&mut reactor, &answer);
    let message = answer.take_result().unwrap().unwrap();
    assert_eq!(
        gyre::protocols::dns::addresses(&message),
        vec![IpAddr::V6(V6)]
    );
    assert_eq!(seen.borrow().len(), 1);
}

/// Sends a forged answer to the client's query port.
struct Forger;

impl DatagramProtocol for Forger {
    fn datagram_received(&mut self, _: &mut Context<'_>, _: &[u8], _: SocketAddr) -> Outcome {
        Ok(())
    }
}

#[test]
fn spoofed_answers_are_ignored_and_the_real_one_counts() {
    let (mut reactor, clock) = manual();
    let (mute, seen) = server(&mut reactor, Mode::Drop);
    let client = DnsClient::new(vec![mute]);
    let answer = client.query(&mut reactor, "example.test", RecordType::A);
    common::run_until(&mut reactor, CAP, || seen.borrow().len() == 1);
    let (id, client_port) = seen.borrow()[0];
    let mut question = Message::query();
    question.add_query(hickory_query("example.test.", RecordType::A));
    let good = answer_with_id(&question, id);
    // From a port the client never asked: ignored, however right it looks.
    let forger = reactor
        .listen_udp_with(ListenOptions::new(0).interface("127.0.0.1"), Forger)
        .unwrap();
    forger.write_to(&good, client_port).unwrap();
    // From the server asked, but with another id, or another question, or not DNS: ignored.
    let wrong_id = answer_with_id(&question, id.wrapping_add(1));
    let other_question = {
        let mut q = Message::query();
        q.add_query(hickory_query("other.test.", RecordType::A));
        answer_with_id(&q, id)
    };
    let mute_port = reactor
        .ports()
        .into_iter()
        .find(|p| p.get_host().unwrap() == mute)
        .unwrap();
    for bogus in [&wrong_id[..], &other_question[..], b"not dns at all"] {
        mute_port.write_to(bogus, client_port).unwrap();
    }
    for _ in 0..10 {
        reactor.iterate(Duration::from_millis(5)).unwrap();
    }
    assert!(!answer.is_called());
    assert_eq!(client.ignored(), 4);
    mute_port.write_to(&good, client_port).unwrap();
    wait(&mut reactor, &answer);
    assert!(answer.take_result().unwrap().is_ok());
    let _ = clock;
}

fn hickory_query(name: &str, rtype: RecordType) -> Query {
    Query::query(Name::from_ascii(name).unwrap(), rtype)
}

fn answer_with_id(query: &Message, id: u16) -> Vec<u8> {
    let mut q = query.clone();
    q.metadata.id = id;
    answer(&q).to_vec().unwrap()
}

#[test]
fn every_query_has_a_port_of_its_own() {
    let (mut reactor, _clock) = manual();
    let (at, seen) = server(&mut reactor, Mode::Answer);
    let client = DnsClient::new(vec![at]);
    let a = client.query(&mut reactor, "example.test", RecordType::A);
    let b = client.query(&mut reactor, "example.test", RecordType::A);
    wait(&mut reactor, &a);
    wait(&mut reactor, &b);
    let seen = seen.borrow();
    assert_ne!(seen[0].1.port(), seen[1].1.port());
}

#[test]
fn the_client_is_the_reactors_resolver_and_resolve_needs_no_thread() {
    let (mut reactor, _clock) = manual();
    let (at, _) = server(&mut reactor, Mode::Answer);
    let client = DnsClient::new(vec![at]);
    let both = client.lookup_ip(&mut reactor, "example.test");
    wait(&mut reactor, &both);
    assert_eq!(
        both.take_result().unwrap().unwrap(),
        vec![IpAddr::V4(V4), IpAddr::V6(V6)]
    );
    reactor.set_resolver(client);
    let one = reactor.resolve("example.test");
    wait(&mut reactor, &one);
    assert_eq!(one.take_result().unwrap().unwrap(), IpAddr::V4(V4));
    let none = reactor.resolve("nowhere.test");
    wait(&mut reactor, &none);
    let failure = none.take_result().unwrap().unwrap_err();
    assert!(failure.to_string().contains("nowhere.test"), "{failure}");
}

#[test]
fn cancelling_a_query_closes_its_port_and_a_late_answer_goes_nowhere() {
    let (mut reactor, _clock) = manual();
    let (mute, seen) = server(&mut reactor, Mode::Drop);
    let ports = reactor.ports().len();
    let answer = DnsClient::new(vec![mute]).query(&mut reactor, "example.test", RecordType::A);
    common::run_until(&mut reactor, CAP, || seen.borrow().len() == 1);
    answer.cancel();
    reactor.iterate(Duration::ZERO).unwrap();
    assert_eq!(reactor.ports().len(), ports);
    assert!(answer.take_result().unwrap().is_err());
}

#[test]
fn names_that_are_not_names_fail_at_once() {
    let (mut reactor, _clock) = manual();
    let client = DnsClient::new(vec!["127.0.0.1:9".parse().unwrap()]);
    let bad = client.query(&mut reactor, &"x".repeat(300), RecordType::A);
    assert!(matches!(error_of(bad), DnsError::InvalidQuery(_)));
}

#[test]
fn random_bytes_from_the_server_asked_are_ignored_and_never_panic() {
    let (mut reactor, _clock) = manual();
    let (mute, seen) = server(&mut reactor, Mode::Drop);
    let client = DnsClient::new(vec![mute]);
    let answer = client.query(&mut reactor, "example.test", RecordType::A);
    common::run_until(&mut reactor, CAP, || seen.borrow().len() == 1);
    let (id, client_port) = seen.borrow()[0];
    let mute_port = reactor
        .ports()
        .into_iter()
        .find(|p| p.get_host().unwrap() == mute)
        .unwrap();
    // A fixed-seed generator: the same 300 datagrams every run, the query's id in most of them.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    const SENT: u64 = 300;
    for k in 0..SENT {
        let len = (next() % 120) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if len >= 2 && k % 4 != 0 {
            bytes[..2].copy_from_slice(&id.to_be_bytes());
        }
        mute_port.write_to(&bytes, client_port).unwrap();
        if k % 32 == 31 {
            reactor.iterate(Duration::from_millis(1)).unwrap();
        }
    }
    common::run_until(&mut reactor, CAP, || client.ignored() == SENT);
    assert!(!answer.is_called());
    assert_eq!(reactor.stats().callback_failures, 0);
}

#[test]
fn a_late_answer_from_the_first_server_still_counts_after_the_retry_moved_on() {
    let (mut reactor, clock) = manual();
    let (slow, seen_slow) = server(&mut reactor, Mode::Drop);
    let (mute, seen_mute) = server(&mut reactor, Mode::Drop);
    let answer =
        DnsClient::new(vec![slow, mute]).query(&mut reactor, "example.test", RecordType::A);
    common::run_until(&mut reactor, CAP, || seen_slow.borrow().len() == 1);
    clock.advance(Duration::from_secs(1));
    common::run_until(&mut reactor, CAP, || seen_mute.borrow().len() == 1);
    // The first server answers now, late: it was asked, so its answer counts.
    let (id, client_port) = seen_slow.borrow()[0];
    let mut question = Message::query();
    question.add_query(hickory_query("example.test.", RecordType::A));
    let late = answer_with_id(&question, id);
    let slow_port = reactor
        .ports()
        .into_iter()
        .find(|p| p.get_host().unwrap() == slow)
        .unwrap();
    slow_port.write_to(&late, client_port).unwrap();
    wait(&mut reactor, &answer);
    let message = answer.take_result().unwrap().unwrap();
    assert_eq!(
        gyre::protocols::dns::addresses(&message),
        vec![IpAddr::V4(V4)]
    );
}

#[test]
fn a_call_may_bring_its_own_schedule() {
    let (mut reactor, clock) = manual();
    let (mute, seen) = server(&mut reactor, Mode::Drop);
    let client = DnsClient::new(vec![mute]);
    let schedule = [Duration::from_millis(100), Duration::from_millis(200)];
    let answer = client.query_with(&mut reactor, "example.test", RecordType::A, &schedule);
    common::run_until(&mut reactor, CAP, || seen.borrow().len() == 1);
    clock.advance(Duration::from_millis(100));
    common::run_until(&mut reactor, CAP, || seen.borrow().len() == 2);
    clock.advance(Duration::from_millis(200));
    wait(&mut reactor, &answer);
    assert_eq!(
        error_of(answer),
        DnsError::Timeout {
            after: Duration::from_millis(300)
        }
    );
}

#[test]
fn names_in_the_hosts_file_are_answered_without_asking_a_server() {
    let (mut reactor, _clock) = manual();
    let (at, seen) = server(&mut reactor, Mode::Answer);
    let hosts = std::env::temp_dir().join(format!("gyre-dns-hosts-{}", std::process::id()));
    std::fs::write(&hosts, "198.51.100.1 local.test # from the file\n").unwrap();
    let client = DnsClient::new(vec![at]).with_hosts_file(&hosts).unwrap();
    let _ = std::fs::remove_file(&hosts);
    let local = client.query(&mut reactor, "local.test", RecordType::A);
    let message = local.take_result().expect("answered at once").unwrap();
    assert_eq!(
        gyre::protocols::dns::addresses(&message),
        vec!["198.51.100.1".parse::<IpAddr>().unwrap()]
    );
    // Names (and types) the file does not have go to the server.
    let other = client.query(&mut reactor, "example.test", RecordType::A);
    wait(&mut reactor, &other);
    assert!(other.take_result().unwrap().is_ok());
    assert_eq!(seen.borrow().len(), 1);
}
