//! async/await on the loop, end to end: `task::react`'s exit codes, and async code receiving
//! and sending on real loopback ports through an `Inbox`.

mod common;

use std::cell::Cell;
use std::net::UdpSocket;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use common::{CAP, loopback, reactor, run_until};
use gyre::Reactor;
use gyre::defer::{Deferred, Failure};
use gyre::error::{ConnectionRefusedError, PortClosedError, TimeoutError};
use gyre::protocols::{Datagram, Inbox};
use gyre::task::react;
use gyre::time::{ManualClock, sleep};

#[test]
fn react_exits_with_what_main_returns() {
    assert_eq!(react(|_| async { Ok(()) }), ExitCode::SUCCESS);
    assert_eq!(
        react(|_| async { Ok(ExitCode::from(3)) }),
        ExitCode::from(3)
    );
    let failed = react(|_| async { Err::<(), _>(Failure::msg("no")) });
    assert_eq!(failed, ExitCode::FAILURE);
    let panicked = react(|_| async {
        if true {
            panic!("boom");
        }
        Ok(())
    });
    assert_eq!(panicked, ExitCode::FAILURE);
    let slept = react(|reactor| {
        let timers = reactor.timers().clone();
        async move { sleep(&timers, Duration::from_millis(5)).await }
    });
    assert_eq!(slept, ExitCode::SUCCESS);
}

#[test]
fn react_exits_with_1_when_the_reactor_stops_before_main_finished() {
    let code = react(|reactor| {
        let handle = reactor.handle();
        async move {
            handle.stop().unwrap();
            Deferred::<()>::new().await // never fires: the reactor stops first
        }
    });
    assert_eq!(code, ExitCode::FAILURE);
}

fn sender() -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(CAP)).unwrap();
    socket
}

fn received(d: &Deferred<Datagram>) -> Datagram {
    d.take_result().expect("fired").expect("a datagram")
}

#[test]
fn an_inbox_keeps_datagrams_in_order_up_to_its_capacity_and_counts_the_rest() {
    let mut reactor = reactor();
    let (protocol, inbox) = Inbox::bounded(4);
    let port = reactor.listen_udp_with(loopback(), protocol).unwrap();
    let to = port.get_host().unwrap();
    let client = sender();
    for i in 0..10u8 {
        client.send_to(&[i], to).unwrap();
    }
    run_until(&mut reactor, CAP, || {
        inbox.len() as u64 + inbox.dropped() == 10
    });
    assert_eq!((inbox.len(), inbox.dropped()), (4, 6));
    let from = client.local_addr().unwrap();
    for i in 0..4u8 {
        assert_eq!(
            received(&inbox.recv()),
            Datagram {
                data: vec![i],
                from
            }
        );
    }
    let next = inbox.recv();
    assert!(!next.is_called());
    client.send_to(b"late", to).unwrap();
    run_until(&mut reactor, CAP, || next.is_called());
    assert_eq!(received(&next).data, b"late");
    assert_eq!(inbox.dropped(), 6);
}

#[test]
fn a_receive_that_timed_out_leaves_the_datagram_to_the_next() {
    let clock = ManualClock::new();
    let mut reactor = Reactor::with_clock(clock.clone()).unwrap();
    reactor.install_signal_handlers(false);
    let (protocol, inbox) = Inbox::bounded(4);
    let port = reactor.listen_udp_with(loopback(), protocol).unwrap();
    let first = inbox.recv();
    first.add_timeout(Duration::from_secs(1), reactor.timers());
    clock.advance(Duration::from_secs(1));
    reactor.iterate(Duration::ZERO).unwrap();
    let failure = first.take_result().expect("timed out").unwrap_err();
    assert!(failure.check::<TimeoutError>(), "{failure}");

    sender().send_to(b"kept", port.get_host().unwrap()).unwrap();
    run_until(&mut reactor, CAP, || inbox.len() == 1);
    assert_eq!(received(&inbox.recv()).data, b"kept");
}

#[test]
fn a_refusal_fails_the_receive_that_reaches_it_and_the_port_goes_on() {
    let mut reactor = reactor();
    let (protocol, inbox) = Inbox::bounded(4);
    let port = reactor.listen_udp_with(loopback(), protocol).unwrap();
    let closed = sender().local_addr().unwrap(); // bound, then dropped: closed
    port.connect(closed).unwrap();
    let reply = inbox.recv();
    port.write(b"anyone?").unwrap();
    run_until(&mut reactor, CAP, || reply.is_called());
    let failure = reply.take_result().unwrap().unwrap_err();
    assert!(failure.check::<ConnectionRefusedError>(), "{failure}");
    assert!(port.is_listening());
    assert_eq!(inbox.dropped(), 0);
}

#[test]
fn after_stop_listening_queued_datagrams_are_received_then_receives_fail() {
    let mut reactor = reactor();
    let (protocol, inbox) = Inbox::bounded(4);
    let port = reactor.listen_udp_with(loopback(), protocol).unwrap();
    let client = sender();
    client.send_to(b"a", port.get_host().unwrap()).unwrap();
    client.send_to(b"b", port.get_host().unwrap()).unwrap();
    run_until(&mut reactor, CAP, || inbox.len() == 2);
    let stopped = port.stop_listening();
    run_until(&mut reactor, CAP, || stopped.is_called());
    assert!(inbox.is_closed());
    assert_eq!(received(&inbox.recv()).data, b"a");
    assert_eq!(received(&inbox.recv()).data, b"b");
    let failure = inbox.recv().take_result().unwrap().unwrap_err();
    assert!(failure.check::<PortClosedError>(), "{failure}");

    // A receive already waiting when the port stops fails too.
    let (protocol, inbox) = Inbox::bounded(4);
    let port = reactor.listen_udp_with(loopback(), protocol).unwrap();
    let waiting = inbox.recv();
    let stopped = port.stop_listening();
    run_until(&mut reactor, CAP, || stopped.is_called());
    let failure = waiting.take_result().expect("failed").unwrap_err();
    assert!(failure.check::<PortClosedError>(), "{failure}");
}

#[test]
fn an_echo_server_written_as_a_task_echoes_through_the_transport() {
    let mut reactor = reactor();
    let (protocol, inbox) = Inbox::bounded(16);
    let port = reactor.listen_udp_with(loopback(), protocol).unwrap();
    let echoed = Rc::new(Cell::new(0));
    let count = echoed.clone();
    let server = port.clone();
    let task: Deferred<()> = reactor.ensure_deferred(async move {
        loop {
            let datagram = inbox.recv().await?;
            server.write_to(&datagram.data, datagram.from)?;
            count.set(count.get() + 1);
        }
    });
    let client = sender();
    for line in ["one", "two", "three"] {
        client
            .send_to(line.as_bytes(), port.get_host().unwrap())
            .unwrap();
    }
    run_until(&mut reactor, CAP, || echoed.get() == 3);
    let mut buf = [0u8; 16];
    for line in ["one", "two", "three"] {
        let (n, from) = client.recv_from(&mut buf).unwrap();
        assert_eq!(
            (&buf[..n], from),
            (line.as_bytes(), port.get_host().unwrap())
        );
    }
    // Stopping the port ends the task's loop with the port's failure.
    let stopped = port.stop_listening();
    run_until(&mut reactor, CAP, || {
        stopped.is_called() && task.is_called()
    });
    let failure: Failure = task.take_result().unwrap().unwrap_err();
    assert!(failure.check::<PortClosedError>(), "{failure}");
    assert_eq!(reactor.stats().callback_failures, 0);
}
