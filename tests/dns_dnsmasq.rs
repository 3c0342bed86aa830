//! gyre's DNS client against a real `dnsmasq` the test starts on 127.0.0.1 and a free high
//! port, serving records given on its command line, with no upstream (`--no-resolv`) and
//! authoritative for `.test` (`--local`), so nothing is asked of any other server. `.ci/run`
//! installs dnsmasq; elsewhere the test says why and skips (under CI it fails instead).

mod common;

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{CAP, Supervised, reactor, run_until};
use gyre::protocols::dns::{DnsClient, DnsError, RecordType, addresses};

/// Starts dnsmasq on a free port (killed when the first half is dropped); `None` (skip) when
/// it is not installed, outside CI.
fn dnsmasq() -> Option<(Supervised, SocketAddr)> {
    if Command::new("dnsmasq").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI installs dnsmasq; it is missing"
        );
        eprintln!("SKIP: dnsmasq is not installed");
        return None;
    }
    let records = [
        "--host-record=host.test,192.0.2.8,2001:db8::8",
        "--txt-record=host.test,served by dnsmasq",
    ];
    // A port found free may be taken again before dnsmasq binds it (other tests run beside
    // this one): a dnsmasq that exits at once is started again on another port.
    for _ in 0..5 {
        let port = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Supervised::spawn(
            Command::new("dnsmasq")
                .args(common::dnsmasq::dnsmasq_args(port, &records))
                .stdout(Stdio::null())
                .stderr(Stdio::piped()),
        )
        .expect("start dnsmasq");
        if child
            .wait_within(Duration::from_millis(200))
            .unwrap()
            .is_none()
        {
            return Some((child, SocketAddr::from(([127, 0, 0, 1], port))));
        }
    }
    panic!("dnsmasq would not start on five free ports in a row");
}

#[test]
fn the_client_resolves_dnsmasqs_records_and_hears_nxdomain() {
    let Some((_dnsmasq, at)) = dnsmasq() else {
        return;
    };
    let mut reactor = reactor();
    // dnsmasq may take a moment to bind: one attempt of 200 ms per try, a few tries.
    let client = DnsClient::new(vec![at]).with_timeouts(vec![Duration::from_millis(200); 25]);
    let mut ask = |name: &str, rtype| {
        let answer = client.query(&mut reactor, name, rtype);
        run_until(&mut reactor, CAP, || answer.is_called());
        answer.take_result().unwrap()
    };
    let a = ask("host.test", RecordType::A).expect("an A answer");
    assert_eq!(addresses(&a), vec!["192.0.2.8".parse::<IpAddr>().unwrap()]);
    let aaaa = ask("host.test", RecordType::AAAA).expect("an AAAA answer");
    assert_eq!(
        addresses(&aaaa),
        vec!["2001:db8::8".parse::<IpAddr>().unwrap()]
    );
    let txt = ask("host.test", RecordType::TXT).expect("a TXT answer");
    assert_eq!(txt.answers[0].data.to_string(), "served by dnsmasq");
    let missing = ask("nowhere.test", RecordType::A).unwrap_err();
    assert_eq!(
        missing.downcast_ref::<DnsError>(),
        Some(&DnsError::NameError {
            name: "nowhere.test".into()
        })
    );
}
