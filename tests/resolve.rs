//! `resolve`: never blocks the loop, answers through a Deferred.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::*;
use gyre::Resolver;
use gyre::error::{DnsLookupError, TimeoutError};
use gyre::prelude::*;

fn resolved(reactor: &mut Reactor, name: &str) -> Result<IpAddr, Failure> {
    let d = reactor.resolve(name);
    run_until(reactor, Duration::from_secs(30), || d.is_called());
    d.take_result().unwrap()
}

#[test]
fn literals_and_the_empty_name_answer_at_once() {
    let mut reactor = reactor();
    let d = reactor.resolve("127.0.0.2");
    assert_eq!(d.take_result().unwrap().unwrap().to_string(), "127.0.0.2");
    let d = reactor.resolve("::1");
    assert_eq!(d.take_result().unwrap().unwrap().to_string(), "::1"); // Twisted: DNSLookupError
    let d = reactor.resolve("");
    assert_eq!(d.take_result().unwrap().unwrap().to_string(), "0.0.0.0");
}

#[test]
fn localhost_resolves_to_a_loopback_address_off_the_loop_thread() {
    let mut reactor = reactor();
    let d = reactor.resolve("localhost");
    assert!(!d.is_called()); // the lookup runs on a worker thread
    run_until(&mut reactor, Duration::from_secs(30), || d.is_called());
    let ip = d.take_result().unwrap().unwrap();
    assert!(ip.is_loopback(), "{ip}");
    assert!(ip.is_ipv4(), "IPv4 is preferred when there is one: {ip}");
}

#[test]
fn an_unknown_host_fails_with_a_dns_lookup_error_naming_it() {
    let mut reactor = reactor();
    let failure = resolved(&mut reactor, "no-such-host.invalid").unwrap_err();
    let e = failure
        .downcast_ref::<DnsLookupError>()
        .expect("a DnsLookupError");
    assert_eq!(e.name, "no-such-host.invalid");
    assert!(failure.to_string().contains("no-such-host.invalid"));
}

/// A resolver that never answers.
struct Silent;

impl Resolver for Silent {
    fn resolve(&self, _: &str, _: &mut Core) -> Deferred<Vec<IpAddr>> {
        Deferred::new()
    }
}

#[test]
fn a_lookup_that_takes_too_long_times_out() {
    let clock = gyre::time::ManualClock::new();
    let mut reactor = Reactor::with_clock(clock.clone()).unwrap();
    reactor.set_resolver(Silent);
    let d = reactor.resolve("slow.example");
    clock.advance(Duration::from_secs(59));
    reactor.iterate(Duration::ZERO).unwrap();
    assert!(!d.is_called());
    clock.advance(Duration::from_secs(1)); // the default: Twisted's 60 s in total
    reactor.iterate(Duration::ZERO).unwrap();
    let f = d.take_result().unwrap().unwrap_err();
    assert_eq!(
        f.downcast_ref::<TimeoutError>().unwrap().after,
        Duration::from_secs(60)
    );

    reactor.set_resolve_timeout(Duration::from_secs(2));
    let d = reactor.resolve("slow.example");
    clock.advance(Duration::from_secs(2));
    reactor.iterate(Duration::ZERO).unwrap();
    assert!(
        d.take_result()
            .unwrap()
            .unwrap_err()
            .check::<TimeoutError>()
    );
}

#[test]
fn a_resolver_answer_with_no_address_is_a_lookup_error() {
    struct Empty;
    impl Resolver for Empty {
        fn resolve(&self, _: &str, _: &mut Core) -> Deferred<Vec<IpAddr>> {
            Deferred::succeeded(vec![])
        }
    }
    let mut reactor = reactor();
    reactor.set_resolver(Empty);
    let f = resolved(&mut reactor, "nothing.example").unwrap_err();
    assert_eq!(
        f.to_string(),
        "DNS lookup failed for \"nothing.example\": no address found"
    );
}
