//! The authoritative DNS server (`gyre::protocols::dns::DnsServer`) on loopback: answered by
//! gyre's own client and by raw sockets for what a client would never send.

mod common;

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;

use common::{CAP, reactor, run_until};
use gyre::prelude::*;
use gyre::protocols::dns::{
    Authority, DnsClient, DnsError, DnsServer, Message, Name, Query, RecordType, ResponseCode,
    ServerStatsHandle, addresses,
};
use gyre::udp::ListenOptions;

const HOSTS: &str = "\
# a hosts file
192.0.2.7   example.test www.example.test
2001:db8::7 example.test
";

fn serve(reactor: &mut Reactor, authority: Authority) -> (SocketAddr, ServerStatsHandle) {
    let (server, stats) = DnsServer::new(authority);
    let port = reactor
        .listen_udp_with(ListenOptions::new(0).interface("127.0.0.1"), server)
        .unwrap();
    (port.get_host().unwrap(), stats)
}

fn ask(
    reactor: &mut Reactor,
    at: SocketAddr,
    name: &str,
    rtype: RecordType,
) -> Result<Message, DnsError> {
    let answer = DnsClient::new(vec![at]).query(reactor, name, rtype);
    run_until(reactor, CAP, || answer.is_called());
    answer
        .take_result()
        .unwrap()
        .map_err(|f| f.downcast_ref::<DnsError>().expect("a DnsError").clone())
}

/// Sends raw bytes to the server from a plain socket; returns the reply, if one comes.
fn raw(reactor: &mut Reactor, at: SocketAddr, bytes: &[u8]) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_nonblocking(true).unwrap();
    socket.send_to(bytes, at).unwrap();
    let mut buf = vec![0u8; 65_536];
    for _ in 0..20 {
        reactor.iterate(Duration::from_millis(5)).unwrap();
        if let Ok(n) = socket.recv(&mut buf) {
            return Some(buf[..n].to_vec());
        }
    }
    None
}

fn query_bytes(name: &str, rtype: RecordType, edns: Option<u16>) -> Vec<u8> {
    let mut m = Message::query();
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    if let Some(size) = edns {
        let mut e = hickory_edns();
        e.set_max_payload(size);
        m.edns = Some(e);
    }
    m.to_vec().unwrap()
}

fn hickory_edns() -> gyre::protocols::dns::Edns {
    gyre::protocols::dns::Edns::new()
}

#[test]
fn the_client_gets_the_hosts_files_addresses_and_the_right_errors() {
    let mut reactor = reactor();
    let (at, stats) = serve(&mut reactor, Authority::from_hosts(HOSTS, 300));
    let a = ask(&mut reactor, at, "www.example.test", RecordType::A).unwrap();
    assert_eq!(addresses(&a), vec!["192.0.2.7".parse::<IpAddr>().unwrap()]);
    assert!(a.metadata.authoritative);
    let aaaa = ask(&mut reactor, at, "EXAMPLE.test", RecordType::AAAA).unwrap();
    assert_eq!(
        addresses(&aaaa),
        vec!["2001:db8::7".parse::<IpAddr>().unwrap()]
    );
    // The name exists, not that type: no error, no records.
    let mx = ask(&mut reactor, at, "example.test", RecordType::MX).unwrap();
    assert!(mx.answers.is_empty());
    assert_eq!(mx.metadata.response_code, ResponseCode::NoError);
    assert_eq!(
        ask(&mut reactor, at, "nowhere.test", RecordType::A).unwrap_err(),
        DnsError::NameError {
            name: "nowhere.test".into()
        }
    );
    assert_eq!(
        ask(&mut reactor, at, "example.org", RecordType::A).unwrap_err(),
        DnsError::Refused,
        "outside every zone: no recursion"
    );
    assert_eq!(stats.get().answered, 5);
}

#[test]
fn a_zone_file_is_served() {
    let zone = "\
$ORIGIN zone.test.
$TTL 3600
@    IN SOA ns.zone.test. admin.zone.test. 1 7200 3600 1209600 3600
@    IN NS  ns
ns   IN A   192.0.2.53
mail IN A   192.0.2.25
@    IN MX  10 mail
@    IN TXT \"hello from gyre\"
";
    let mut reactor = reactor();
    let authority = Authority::from_zone(zone, None).unwrap();
    let (at, _) = serve(&mut reactor, authority);
    let mx = ask(&mut reactor, at, "zone.test", RecordType::MX).unwrap();
    assert_eq!(mx.answers.len(), 1);
    assert_eq!(mx.answers[0].data.to_string(), "10 mail.zone.test.");
    let txt = ask(&mut reactor, at, "zone.test", RecordType::TXT).unwrap();
    assert_eq!(txt.answers[0].data.to_string(), "hello from gyre");
    let a = ask(&mut reactor, at, "mail.zone.test", RecordType::A).unwrap();
    assert_eq!(addresses(&a), vec!["192.0.2.25".parse::<IpAddr>().unwrap()]);
    assert!(Authority::from_zone("@ IN A not-an-address", Some("bad.test.")).is_err());
}

#[test]
fn an_answer_too_large_for_the_client_is_truncated_unless_edns_allows_it() {
    let mut reactor = reactor();
    let hosts: String = (1..=60)
        .map(|i| format!("192.0.2.{i} big.test\n"))
        .collect();
    let (at, stats) = serve(&mut reactor, Authority::from_hosts(&hosts, 300));
    let classic = Message::from_vec(
        &raw(
            &mut reactor,
            at,
            &query_bytes("big.test.", RecordType::A, None),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(classic.metadata.truncation);
    assert!(classic.answers.is_empty());
    let large = Message::from_vec(
        &raw(
            &mut reactor,
            at,
            &query_bytes("big.test.", RecordType::A, Some(4096)),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(!large.metadata.truncation);
    assert_eq!(large.answers.len(), 60);
    assert_eq!(stats.get().truncated, 1);
    // gyre's client says why it cannot use a truncated answer.
    assert_eq!(
        ask(&mut reactor, at, "big.test", RecordType::A).unwrap_err(),
        DnsError::Truncated
    );
}

#[test]
fn malformed_queries_get_formerr_or_are_dropped_and_are_counted() {
    let mut reactor = reactor();
    let (at, stats) = serve(&mut reactor, Authority::from_hosts(HOSTS, 300));
    // A header and garbage: FORMERR with the same id.
    let mut garbage = vec![0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    garbage.extend_from_slice(&[0xff; 7]);
    let reply = Message::from_vec(&raw(&mut reactor, at, &garbage).unwrap()).unwrap();
    assert_eq!(
        (reply.metadata.id, reply.metadata.response_code),
        (0xabcd, ResponseCode::FormErr)
    );
    // Shorter than a header, or a response: dropped.
    assert_eq!(raw(&mut reactor, at, b"short"), None);
    let mut response = query_bytes("example.test.", RecordType::A, None);
    response[2] |= 0x80;
    assert_eq!(raw(&mut reactor, at, &response), None);
    // Not a query (NOTIFY): NOTIMP.
    let mut notify = query_bytes("example.test.", RecordType::SOA, None);
    notify[2] = (notify[2] & 0x87) | (4 << 3);
    let reply = Message::from_vec(&raw(&mut reactor, at, &notify).unwrap()).unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::NotImp);
    assert_eq!(stats.get().malformed, 3);
}

#[test]
fn random_bytes_never_panic_the_server() {
    let mut reactor = reactor();
    let (at, stats) = serve(&mut reactor, Authority::from_hosts(HOSTS, 300));
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let valid = query_bytes("example.test.", RecordType::A, None);
    const SENT: u64 = 500;
    for k in 0..SENT {
        // Half pure noise, half a real query with bytes flipped.
        let bytes: Vec<u8> = if k % 2 == 0 {
            (0..(next() % 100)).map(|_| next() as u8).collect()
        } else {
            let mut b = valid.clone();
            for _ in 0..3 {
                let i = (next() as usize) % b.len();
                b[i] ^= next() as u8;
            }
            b
        };
        socket.send_to(&bytes, at).unwrap();
        if k % 32 == 31 {
            reactor.iterate(Duration::from_millis(1)).unwrap();
        }
    }
    run_until(&mut reactor, CAP, || {
        let s = stats.get();
        s.answered + s.malformed >= SENT - 5 // a few flipped bytes may make a response: dropped
    });
    assert_eq!(reactor.stats().callback_failures, 0);
    // And it still answers.
    let a = ask(&mut reactor, at, "example.test", RecordType::A).unwrap();
    assert_eq!(addresses(&a).len(), 1);
}

proptest::proptest! {
    /// Whatever bytes arrive, the server answers or drops them: it never panics, and what it
    /// sends back is a DNS response with the same id when it answers.
    #[test]
    fn the_server_never_panics_on_any_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
        let (server, _) = DnsServer::new(Authority::from_hosts(HOSTS, 300));
        if let Some(reply) = server.answer(&bytes) {
            let reply = Message::from_vec(&reply).expect("a reply gyre wrote parses");
            proptest::prop_assert_eq!(reply.metadata.id, u16::from_be_bytes([bytes[0], bytes[1]]));
            proptest::prop_assert_eq!(reply.metadata.message_type, gyre::protocols::dns::MessageType::Response);
        }
    }
}
