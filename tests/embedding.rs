//! Driving the reactor from another event loop: `start_running`, the reactor's fd (`AsFd`),
//! `timeout`, one non-blocking turn at a time; and a port's own descriptor (`fileno`,
//! `with_handle`, Twisted's `fileno()` / `getHandle()`).

mod common;

use std::net::UdpSocket;
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

use common::*;
use gyre::ReactorState;
use gyre::error::{ReactorError, WriteError};
use gyre::prelude::*;
use rustix::event::{PollFd, PollFlags, Timespec, poll};

/// Waits (bounded) for the reactor's fd to become readable, as a foreign loop would.
fn readable_within(reactor: &Reactor, cap: Duration) -> bool {
    let mut fds = [PollFd::new(reactor, PollFlags::IN)];
    let cap = Timespec::try_from(cap).unwrap();
    poll(&mut fds, Some(&cap)).unwrap() == 1
}

#[test]
fn a_foreign_loop_waits_on_the_reactors_fd_and_runs_one_turn_at_a_time() {
    let mut reactor = reactor();
    let (rx, log) = Recorder::new();
    let port = reactor.listen_udp_with(loopback(), rx).unwrap();
    let ran = std::rc::Rc::new(std::cell::Cell::new(false));
    let r = ran.clone();
    reactor.call_when_running(move |_| r.set(true));
    reactor.start_running().unwrap();
    assert_eq!(reactor.state(), ReactorState::Running);
    assert!(matches!(
        reactor.start_running(),
        Err(ReactorError::AlreadyRunning)
    ));

    reactor.iterate(Duration::ZERO).unwrap(); // call_when_running's call
    assert!(ran.get());
    assert_eq!(
        reactor.timeout(),
        None,
        "nothing to do: no limit on the wait"
    );
    assert!(!readable_within(&reactor, Duration::from_millis(20)));

    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .send_to(b"through the fd", port.get_host().unwrap())
        .unwrap();
    assert!(
        readable_within(&reactor, CAP),
        "a datagram makes the fd readable"
    );
    reactor.iterate(Duration::ZERO).unwrap();
    assert_eq!(datagrams(&log).len(), 1);
    assert_eq!(datagrams(&log)[0].0, b"through the fd");

    reactor.stop().unwrap();
    let give_up = Instant::now() + CAP;
    while reactor.state() != ReactorState::Stopped {
        assert!(Instant::now() < give_up, "shutdown did not finish");
        reactor.iterate(Duration::ZERO).unwrap();
    }
    assert!(!port.is_listening());
    assert!(matches!(
        reactor.start_running(),
        Err(ReactorError::NotRestartable)
    ));
}

#[test]
fn timeout_is_zero_with_work_waiting_and_the_time_to_the_next_timer_otherwise() {
    let clock = ManualClock::new();
    let mut reactor = Reactor::with_clock(clock.clone()).unwrap();
    reactor.install_signal_handlers(false);
    assert_eq!(reactor.timeout(), None);
    let call = reactor.call_later(Duration::from_millis(1500), |_| {});
    assert_eq!(reactor.timeout(), Some(Duration::from_millis(1500)));
    clock.advance(Duration::from_millis(500));
    assert_eq!(reactor.timeout(), Some(Duration::from_millis(1000)));
    reactor.call_soon(|_| {});
    assert_eq!(reactor.timeout(), Some(Duration::ZERO));
    reactor.iterate(Duration::ZERO).unwrap();
    assert_eq!(reactor.timeout(), Some(Duration::from_millis(1000)));
    call.cancel().unwrap();
    // A cancelled call leaves the queue lazily: the loop may wake once for nothing.
    assert_eq!(reactor.timeout(), Some(Duration::from_millis(1000)));
    clock.advance(Duration::from_millis(1000));
    reactor.iterate(Duration::ZERO).unwrap();
    assert_eq!(reactor.timeout(), None);
}

#[test]
fn the_reactors_fd_is_readable_for_a_call_from_another_thread() {
    let mut reactor = reactor();
    reactor.start_running().unwrap();
    reactor.iterate(Duration::ZERO).unwrap();
    let remote = reactor.remote();
    std::thread::spawn(move || remote.call_from_thread(|_| {}).unwrap())
        .join()
        .unwrap();
    assert!(readable_within(&reactor, CAP));
    assert!(reactor.as_fd().as_raw_fd() >= 0);
}

#[test]
fn a_port_lends_its_descriptor_while_open_and_only_then() {
    let mut reactor = reactor();
    let port = reactor
        .listen_udp_with(loopback(), Recorder::new().0)
        .unwrap();
    let fd = port.fileno().unwrap();
    assert_eq!(port.with_handle(|h| h.as_raw_fd()).unwrap(), fd);
    // What the descriptor says agrees with the port.
    let local = port
        .with_handle(|h| {
            UdpSocket::from(h.try_clone_to_owned().unwrap())
                .local_addr()
                .unwrap()
        })
        .unwrap();
    assert_eq!(local, port.get_host().unwrap());
    let stopped = port.stop_listening();
    run_until(&mut reactor, CAP, || stopped.is_called());
    assert!(matches!(port.fileno(), Err(WriteError::PortClosed)));

    let (memory, _wire) = reactor
        .listen_memory("127.0.0.1:5000".parse().unwrap(), Recorder::new().0)
        .unwrap();
    match memory.fileno() {
        Err(WriteError::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::Unsupported),
        other => panic!("an in-memory port has no descriptor: {other:?}"),
    }
}
