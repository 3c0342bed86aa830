//! Twisted's `twisted/internet/test/test_udp_internals.py`, ported: how a port's read meets
//! receive errors, on an in-memory port whose receives the test scripts (`MemoryWire`).
//!
//! gyre's rule: `WouldBlock` ends a read quietly; a refusal goes to a connected protocol's
//! `connection_refused` and is skipped on an unconnected port; any other error is logged and
//! counted and reading goes on, until `READ_ERRORS_BEFORE_CLOSING` in a row close the port.
//! Twisted raises the first unknown error out of its read loop, which closes the port.

mod common;

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use gyre::prelude::*;
use gyre::testing::{MemoryWire, capture_logs};
use gyre::udp::READ_ERRORS_BEFORE_CLOSING;

const HERE: &str = "127.0.0.1:5000";
const PEER: &str = "127.0.0.1:9999";

fn memory_port() -> (Reactor, Transport, MemoryWire, Log) {
    let mut reactor = reactor();
    let (recorder, log) = Recorder::new();
    let (port, wire) = reactor
        .listen_memory(HERE.parse().unwrap(), recorder)
        .unwrap();
    (reactor, port, wire, log)
}

fn turns(reactor: &mut Reactor, n: usize) {
    for _ in 0..n {
        reactor.iterate(Duration::ZERO).unwrap();
    }
}

fn datagram(data: &[u8]) -> Seen {
    Seen::Datagram(data.to_vec(), PEER.parse::<SocketAddr>().unwrap())
}

/// `ErrorsTests.test_socketReadNormal`: an error that only says "nothing more now" ends the
/// read without a word; what comes after it is read next.
#[test]
fn would_block_ends_a_read_quietly_and_later_datagrams_are_still_read() {
    let (mut reactor, port, wire, log) = memory_port();
    wire.deliver(b"result", PEER).unwrap();
    wire.deliver(b"123", PEER).unwrap();
    wire.fail_receive(io::ErrorKind::WouldBlock.into());
    wire.deliver(b"456", PEER).unwrap();
    wire.fail_receive(io::ErrorKind::WouldBlock.into());
    let ((), lines, _) = capture_logs(|| turns(&mut reactor, 2));
    assert_eq!(
        *log.borrow(),
        [
            Seen::Start,
            datagram(b"result"),
            datagram(b"123"),
            datagram(b"456")
        ]
    );
    assert!(
        lines.iter().all(|l| l.level > log::Level::Warn),
        "{lines:?}"
    );
    assert_eq!(port.stats().unwrap().read_errors, 0);
}

/// `ErrorsTests.test_readImmediateError`: on an unconnected port a refusal reaches no one
/// (`connectionRefused` is never called) and reading goes on.
#[test]
fn an_unconnected_port_skips_a_refusal_and_reads_on() {
    let (mut reactor, port, wire, log) = memory_port();
    wire.deliver(b"a", PEER).unwrap();
    wire.refuse();
    wire.deliver(b"b", PEER).unwrap();
    turns(&mut reactor, 2);
    assert_eq!(*log.borrow(), [Seen::Start, datagram(b"a"), datagram(b"b")]);
    assert_eq!(port.stats().unwrap().refused, 0);
    assert!(port.is_listening());
}

/// `ErrorsTests.test_connectedReadImmediateError`: on a connected port the refusal is one
/// `connection_refused`, in order between the datagrams, and reading goes on.
#[test]
fn a_connected_port_hears_the_refusal_in_order_and_reads_on() {
    let (mut reactor, port, wire, log) = memory_port();
    port.connect(PEER).unwrap();
    wire.deliver(b"a", PEER).unwrap();
    wire.refuse();
    wire.deliver(b"b", PEER).unwrap();
    turns(&mut reactor, 2);
    assert_eq!(
        *log.borrow(),
        [Seen::Start, datagram(b"a"), Seen::Refused, datagram(b"b")]
    );
    assert_eq!(port.stats().unwrap().refused, 1);
    assert!(port.is_listening());
}

/// `ErrorsTests.test_readUnknownError`: the datagrams before an unknown error are delivered
/// and the error surfaces (here: logged with the port and counted). gyre then reads on where
/// Twisted closes the port.
#[test]
fn an_unknown_receive_error_is_logged_and_counted_and_reading_goes_on() {
    let (mut reactor, port, wire, log) = memory_port();
    wire.deliver(b"good", PEER).unwrap();
    wire.fail_receive(io::Error::other("-1337"));
    wire.deliver(b"after", PEER).unwrap();
    let ((), lines, _) = capture_logs(|| turns(&mut reactor, 2));
    assert_eq!(
        *log.borrow(),
        [Seen::Start, datagram(b"good"), datagram(b"after")]
    );
    let errors: Vec<&str> = lines
        .iter()
        .filter(|l| l.level == log::Level::Error)
        .map(|l| l.message.as_str())
        .collect();
    assert_eq!(
        errors,
        ["Recorder (UDP 127.0.0.1:5000): receive failed: -1337"]
    );
    assert_eq!(port.stats().unwrap().read_errors, 1);
    assert!(port.is_listening());
}

/// A socket that fails every read would keep the loop spinning: after
/// `READ_ERRORS_BEFORE_CLOSING` errors in a row the port is closed, as Twisted closes it.
#[test]
fn a_port_whose_every_read_fails_is_closed() {
    let (mut reactor, port, wire, log) = memory_port();
    for _ in 0..READ_ERRORS_BEFORE_CLOSING {
        wire.fail_receive(io::Error::other("broken"));
    }
    let ((), lines, _) = capture_logs(|| turns(&mut reactor, 2));
    assert!(!port.is_listening());
    assert_eq!(*log.borrow(), [Seen::Start, Seen::Stop]);
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.message.ends_with("receive failed: broken"))
            .count(),
        READ_ERRORS_BEFORE_CLOSING as usize
    );
    assert!(
        lines.iter().any(|l| l.message
            == "Recorder (UDP 127.0.0.1:5000): closing the port after 16 receive errors in a row"),
        "{lines:?}"
    );
}
