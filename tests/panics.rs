//! A panic in any user code is caught at the boundary, logged, counted, and the loop goes on:
//! protocol callbacks, `Drop` of a protocol, `log_prefix`, delayed calls, queued calls, calls
//! from threads, triggers, Deferred callbacks, and the `Drop` of whatever a pending call holds
//! when the reactor goes away.

mod common;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use common::*;
use gyre::error::{ListenError, PanicError};
use gyre::prelude::*;
use gyre::testing::capture_logs;
use gyre::{Phase, ReactorState, SystemEvent};

/// Panics when dropped; records its stop.
struct PanicsOnDrop {
    name: &'static str,
    log: Rc<RefCell<Vec<String>>>,
}

impl DatagramProtocol for PanicsOnDrop {
    fn stop_protocol(&mut self, _: &mut Context<'_>) -> Outcome {
        self.log.borrow_mut().push(format!("{} stopped", self.name));
        Ok(())
    }

    fn datagram_received(&mut self, _: &mut Context<'_>, _: &[u8], _: SocketAddr) -> Outcome {
        Ok(())
    }
}

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("{} panics in drop", self.name);
    }
}

#[test]
fn a_protocol_panicking_in_drop_never_breaks_the_ports_stopped_with_it() {
    let mut reactor = reactor();
    let log = Rc::new(RefCell::new(Vec::new()));
    let first = reactor
        .listen_udp_with(
            loopback(),
            PanicsOnDrop {
                name: "first",
                log: log.clone(),
            },
        )
        .unwrap();
    let (second, second_log) = Recorder::new();
    let second = reactor.listen_udp_with(loopback(), second).unwrap();
    let stopped = [first.stop_listening(), second.stop_listening()];
    let ((), lines, _) = capture_logs(|| reactor.iterate(Duration::ZERO).unwrap());
    assert_eq!(*log.borrow(), ["first stopped"]);
    assert_eq!(*second_log.borrow(), [Seen::Start, Seen::Stop]);
    assert!(stopped.iter().all(|d| d.take_result().unwrap().is_ok()));
    assert!(
        lines
            .iter()
            .any(|l| l.message.contains("first panics in drop")),
        "{lines:?}"
    );
    assert_eq!(reactor.stats().callback_failures, 1);
    assert!(reactor.ports().is_empty());
}

#[test]
fn shutdown_finishes_when_a_protocol_panics_in_drop() {
    let mut reactor = reactor();
    let log = Rc::new(RefCell::new(Vec::new()));
    reactor
        .listen_udp_with(
            loopback(),
            PanicsOnDrop {
                name: "a",
                log: log.clone(),
            },
        )
        .unwrap();
    reactor
        .listen_udp_with(
            loopback(),
            PanicsOnDrop {
                name: "b",
                log: log.clone(),
            },
        )
        .unwrap();
    reactor.call_when_running(|r| r.stop().unwrap());
    let (result, _, _) = capture_logs(|| reactor.run());
    result.unwrap();
    assert_eq!(reactor.state(), ReactorState::Stopped);
    assert_eq!(*log.borrow(), ["a stopped", "b stopped"]);
}

#[test]
fn dropping_a_reactor_whose_protocols_and_pending_calls_panic_in_drop_does_not_panic() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("a captured value panics in drop");
        }
    }
    let ((), lines, _) = capture_logs(|| {
        let mut reactor = reactor();
        let log = Rc::new(RefCell::new(Vec::new()));
        reactor
            .listen_udp_with(loopback(), PanicsOnDrop { name: "kept", log })
            .unwrap();
        let bomb = Bomb;
        reactor.call_later(Duration::from_secs(60), move |_| drop(bomb));
        let bomb = Bomb;
        reactor.call_soon(move |_| drop(bomb));
        drop(reactor);
    });
    let panics = lines.iter().filter(|l| l.message.contains("panic")).count();
    assert_eq!(panics, 3, "{lines:?}");
}

#[test]
fn a_failed_start_whose_protocol_panics_in_drop_is_still_start_failed() {
    /// Refuses to start; dropping it drops the `PanicsOnDrop` it carries.
    struct Refuses {
        _panics_when_dropped: PanicsOnDrop,
    }
    impl DatagramProtocol for Refuses {
        fn start_protocol(&mut self, _: &mut Context<'_>) -> Outcome {
            Err(Failure::msg("no"))
        }
        fn datagram_received(&mut self, _: &mut Context<'_>, _: &[u8], _: SocketAddr) -> Outcome {
            Ok(())
        }
    }
    let mut reactor = reactor();
    let log = Rc::new(RefCell::new(Vec::new()));
    let (result, _, _) = capture_logs(|| {
        let _panics_when_dropped = PanicsOnDrop { name: "x", log };
        reactor.listen_udp_with(
            loopback(),
            Refuses {
                _panics_when_dropped,
            },
        )
    });
    assert!(matches!(result, Err(ListenError::StartFailed(f)) if f.message() == "no"));
    assert!(reactor.ports().is_empty());
}

#[test]
fn a_panicking_start_protocol_is_start_failed_and_a_panicking_log_prefix_is_not_fatal() {
    struct PanicsAtStart;
    impl DatagramProtocol for PanicsAtStart {
        fn start_protocol(&mut self, _: &mut Context<'_>) -> Outcome {
            panic!("cannot start");
        }
        fn datagram_received(&mut self, _: &mut Context<'_>, _: &[u8], _: SocketAddr) -> Outcome {
            Ok(())
        }
    }
    struct BadPrefix;
    impl DatagramProtocol for BadPrefix {
        fn datagram_received(&mut self, _: &mut Context<'_>, _: &[u8], _: SocketAddr) -> Outcome {
            Ok(())
        }
        fn log_prefix(&self) -> &str {
            panic!("no prefix today")
        }
    }
    let mut reactor = reactor();
    let (result, _, _) = capture_logs(|| reactor.listen_udp_with(loopback(), PanicsAtStart));
    let Err(ListenError::StartFailed(failure)) = result else {
        panic!("expected StartFailed");
    };
    assert_eq!(
        failure.downcast_ref::<PanicError>().unwrap().message,
        "cannot start"
    );
    let (port, lines, _) = capture_logs(|| reactor.listen_udp_with(loopback(), BadPrefix));
    let port = port.expect("a panicking log_prefix does not fail the listen");
    assert!(port.is_listening());
    let starting: Vec<_> = lines
        .iter()
        .filter(|l| l.message.contains("starting on"))
        .collect();
    let number = port.get_host().unwrap().port();
    assert_eq!(
        starting[0].message,
        format!("BadPrefix starting on {number}")
    );
    assert_eq!(port.log_prefix(), "BadPrefix (UDP)");
}

#[test]
fn panics_in_calls_triggers_and_callbacks_are_logged_counted_and_survived() {
    /// Panics in every callback it has.
    struct Panicky;
    impl DatagramProtocol for Panicky {
        fn stop_protocol(&mut self, _: &mut Context<'_>) -> Outcome {
            panic!("stop_protocol");
        }
        fn datagram_received(&mut self, _: &mut Context<'_>, _: &[u8], _: SocketAddr) -> Outcome {
            panic!("datagram_received");
        }
        fn connection_refused(&mut self, _: &mut Context<'_>) -> Outcome {
            panic!("connection_refused");
        }
    }
    let mut reactor = reactor();
    let panicky = reactor.listen_udp_with(loopback(), Panicky).unwrap();
    let (echo, echo_log) = Recorder::echoing();
    let echo = reactor.listen_udp_with(loopback(), echo).unwrap();
    let (tx, tx_log) = Recorder::new();
    let tx = reactor.listen_udp_with(loopback(), tx).unwrap();
    reactor.add_system_event_trigger(Phase::Before, SystemEvent::Startup, |_| panic!("trigger"));
    reactor.call_later(Duration::ZERO, |_| panic!("delayed call"));
    reactor.call_soon(|_| panic!("queued call"));
    reactor
        .remote()
        .call_from_thread(|_| panic!("call from a thread"))
        .unwrap();
    let d = Deferred::<u8>::new();
    d.add_callback(|_| -> Result<u8, Failure> { panic!("deferred callback") });
    let (panicky_at, echo_at) = (panicky.get_host().unwrap(), echo.get_host().unwrap());
    let ((), lines, _) = capture_logs(|| {
        tx.write_to(b"to the panicky port", panicky_at).unwrap();
        tx.write_to(b"to the echo port", echo_at).unwrap();
        reactor.call_when_running(move |r| {
            d.callback(1).unwrap();
            assert!(d.take_result().unwrap().unwrap_err().check::<PanicError>());
            r.call_later(Duration::from_millis(50), |r| r.stop().unwrap());
        });
        reactor.run().unwrap();
    });
    // The echo port kept serving throughout.
    assert_eq!(datagrams(&echo_log).len(), 1);
    assert_eq!(
        datagrams(&tx_log),
        [(b"to the echo port".to_vec(), echo_at)]
    );
    assert_eq!(reactor.state(), ReactorState::Stopped);
    for what in [
        "trigger",
        "delayed call",
        "queued call",
        "call from a thread",
        "datagram_received",
        "stop_protocol",
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l.message.contains(what) && l.message.contains("panic")),
            "no log of the {what} panic: {lines:?}"
        );
    }
    // Each one counted: trigger, delayed call, queued call, call from a thread,
    // datagram_received, stop_protocol.
    assert_eq!(reactor.stats().callback_failures, 6);
}

/// A future that completes at its `n`th poll (never if `n` is 0), and panics when dropped.
struct FuturePanicsOnDrop(u32);

impl std::future::Future for FuturePanicsOnDrop {
    type Output = Result<(), Failure>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        self.0 = self.0.saturating_sub(1);
        if self.0 == 0 {
            return std::task::Poll::Ready(Ok(()));
        }
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

impl Drop for FuturePanicsOnDrop {
    fn drop(&mut self) {
        panic!("a future panics in drop");
    }
}

#[test]
fn futures_panicking_in_drop_when_done_cancelled_or_left_behind_are_survived_and_counted() {
    let ((), lines, _) = capture_logs(|| {
        let mut reactor = reactor();
        // Done at its first poll, and dropped within it, as `.await` drops what it awaited:
        // the task panicked.
        let done = reactor.ensure_deferred(FuturePanicsOnDrop(1));
        let failure = done.take_result().unwrap().unwrap_err();
        assert!(failure.check::<PanicError>(), "{failure}");
        let cancelled = reactor.ensure_deferred(FuturePanicsOnDrop(100));
        cancelled.cancel();
        assert!(cancelled.take_result().unwrap().is_err());
        let _left = reactor.ensure_deferred(FuturePanicsOnDrop(1_000_000));
        reactor.iterate(Duration::ZERO).unwrap(); // the loop goes on
        let after = reactor.ensure_deferred(async { Ok::<u8, Failure>(7) });
        assert_eq!(after.take_result().unwrap().unwrap(), 7);
        assert_eq!(reactor.stats().callback_failures, 2);
        drop(reactor); // the third is dropped with the reactor, and logged
    });
    let panics: Vec<_> = lines
        .iter()
        .filter(|l| l.message.contains("a future panics in drop"))
        .map(|l| l.message.as_str())
        .collect();
    assert_eq!(
        panics,
        [
            "a task panicked: a future panics in drop",
            "dropping a cancelled task's future panicked: a future panics in drop",
            "dropping a call, timer, task or trigger left when the reactor was dropped panicked: \
             a future panics in drop",
        ],
        "{lines:?}"
    );
}
