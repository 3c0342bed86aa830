//! Port and reactor lifecycle: start/stop order, no re-entrancy, rebinding, shutdown.

mod common;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use common::builder::{self, Builder};
use common::*;
use gyre::error::ReactorError;
use gyre::prelude::*;
use gyre::{Phase, ReactorState, SystemEvent};

/// Twisted: test_udp.py `UDPTests.test_startStop`
#[test]
fn start_protocol_runs_before_listen_returns_and_stop_protocol_on_a_later_step() {
    let mut reactor = reactor();
    let (p, log) = Recorder::new();
    let port = reactor.listen_udp_with(loopback(), p).unwrap();
    assert_eq!(*log.borrow(), [Seen::Start]);
    let stopped = port.stop_listening();
    assert_eq!(*log.borrow(), [Seen::Start]); // not inside the call
    assert!(!stopped.is_called());
    assert!(!port.is_listening());
    assert!(port.stop_listening().is_called() == stopped.is_called()); // same Deferred
    reactor.iterate(Duration::ZERO).unwrap();
    assert_eq!(*log.borrow(), [Seen::Start, Seen::Stop]);
    assert!(stopped.take_result().unwrap().is_ok());
    assert!(port.stop_listening().is_called()); // after close: an already fired Deferred
    assert!(matches!(
        port.write_to(b"x", ("127.0.0.1", 9)),
        Err(gyre::error::WriteError::PortClosed)
    ));
}

/// Stops its own port from inside `datagram_received` and records the order of events.
struct StopsItself {
    log: Rc<RefCell<Vec<String>>>,
}

impl DatagramProtocol for StopsItself {
    fn datagram_received(&mut self, cx: &mut Context<'_>, data: &[u8], _: SocketAddr) -> Outcome {
        self.log
            .borrow_mut()
            .push(format!("got {}", String::from_utf8_lossy(data)));
        let log = self.log.clone();
        cx.transport().stop_listening().add_callback(move |()| {
            log.borrow_mut().push("stopped fired".into());
            Ok(())
        });
        self.log.borrow_mut().push("after stop_listening".into());
        Ok(())
    }

    fn stop_protocol(&mut self, _: &mut Context<'_>) -> Outcome {
        self.log.borrow_mut().push("stop_protocol".into());
        Ok(())
    }
}

/// Twisted: test_udp.py `ReactorShutdownInteractionTests.testShutdownFromDatagramReceived`
/// (the port goes away inside its read loop: Twisted calls the private `connectionLost`,
/// gyre `stop_listening`; the loop neither spins nor delivers the datagram already queued)
#[test]
fn stopping_from_inside_a_callback_is_not_reentrant_and_stops_delivery() {
    let mut reactor = reactor();
    let log = Rc::new(RefCell::new(Vec::new()));
    let port = reactor
        .listen_udp_with(loopback(), StopsItself { log: log.clone() })
        .unwrap();
    let to = port.get_host().unwrap();
    let (tx, _) = Recorder::new();
    let sender = reactor.listen_udp_with(loopback(), tx).unwrap();
    sender.write_to(b"one", to).unwrap();
    sender.write_to(b"two", to).unwrap();
    run_until(&mut reactor, CAP, || log.borrow().len() >= 4);
    assert_eq!(
        *log.borrow(),
        [
            "got one",
            "after stop_listening",
            "stop_protocol",
            "stopped fired"
        ]
    );
}

/// Twisted: test_udp.py `UDPTests.test_rebind` (listening again with the same protocol
/// state calls `start_protocol` again; gyre takes a protocol by value, so the second listen
/// gets a second `Recorder` sharing the first one's log)
#[test]
fn a_port_number_can_be_bound_again_after_stop() {
    let mut reactor = reactor();
    let (p, log) = Recorder::new();
    let port = reactor.listen_udp_with(loopback(), p).unwrap();
    let number = port.get_host().unwrap().port();
    let (again, _) = Recorder::new();
    assert!(
        reactor
            .listen_udp_with(loopback_port(number), again)
            .is_err()
    ); // still bound
    port.stop_listening();
    reactor.iterate(Duration::ZERO).unwrap();
    assert_eq!(*log.borrow(), [Seen::Start, Seen::Stop]);
    let again = Recorder {
        log: log.clone(),
        echo: false,
    };
    let port = reactor
        .listen_udp_with(loopback_port(number), again)
        .unwrap();
    assert_eq!(
        port.get_host().unwrap(),
        SocketAddr::from(([127, 0, 0, 1], number))
    );
    assert_eq!(*log.borrow(), [Seen::Start, Seen::Stop, Seen::Start]);
}

fn loopback_port(port: u16) -> gyre::udp::ListenOptions {
    gyre::udp::ListenOptions::new(port).interface("127.0.0.1")
}

#[test]
fn shutdown_stops_every_port_and_runs_triggers_in_order() {
    let mut reactor = reactor();
    let order = Rc::new(RefCell::new(Vec::<String>::new()));
    let (a, log_a) = Recorder::new();
    let (b, log_b) = Recorder::new();
    reactor.listen_udp_with(loopback(), a).unwrap();
    reactor.listen_udp_with(loopback(), b).unwrap();
    for (phase, event, name) in [
        (Phase::Before, SystemEvent::Startup, "before startup"),
        (Phase::During, SystemEvent::Startup, "during startup"),
        (Phase::After, SystemEvent::Startup, "after startup"),
        (Phase::Before, SystemEvent::Shutdown, "before shutdown"),
        (Phase::During, SystemEvent::Shutdown, "during shutdown"),
        (Phase::After, SystemEvent::Shutdown, "after shutdown"),
    ] {
        let order = order.clone();
        reactor.add_system_event_trigger(phase, event, move |r| {
            order
                .borrow_mut()
                .push(format!("{name} (running: {})", r.running()));
            None
        });
    }
    let o = order.clone();
    reactor.call_when_running(move |r| {
        o.borrow_mut().push("when running".into());
        r.stop().unwrap();
        o.borrow_mut().push("stop returned".into());
    });
    reactor.run().unwrap();
    assert_eq!(
        *order.borrow(),
        [
            "before startup (running: false)",
            "during startup (running: true)",
            "after startup (running: true)",
            "when running",
            "stop returned",
            "before shutdown (running: true)",
            "during shutdown (running: true)",
            "after shutdown (running: true)",
        ]
    );
    assert_eq!(*log_a.borrow(), [Seen::Start, Seen::Stop]);
    assert_eq!(*log_b.borrow(), [Seen::Start, Seen::Stop]);
    assert_eq!(reactor.state(), ReactorState::Stopped);
    assert!(reactor.ports().is_empty());
}

#[test]
fn shutdown_waits_for_deferreds_from_before_shutdown_triggers() {
    let mut reactor = reactor();
    let (p, log) = Recorder::new();
    reactor.listen_udp_with(loopback(), p).unwrap();
    let gate = Deferred::<()>::new();
    let g = gate.clone();
    reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, move |_| Some(g));
    let g = gate.clone();
    reactor.call_later(Duration::from_millis(5), |r| r.stop().unwrap());
    reactor.call_later(Duration::from_millis(40), move |_| g.callback(()).unwrap());
    let l = log.clone();
    reactor.call_later(Duration::from_millis(20), move |r| {
        // Still shutting down, ports still open.
        assert_eq!(r.state(), ReactorState::ShuttingDown);
        assert_eq!(*l.borrow(), [Seen::Start]);
    });
    reactor.run().unwrap();
    assert_eq!(*log.borrow(), [Seen::Start, Seen::Stop]);
}

#[test]
fn lifecycle_errors() {
    let mut reactor = reactor();
    assert_eq!(reactor.stop(), Err(ReactorError::NotRunning));
    reactor.call_when_running(|r| {
        r.stop().unwrap();
        assert_eq!(r.stop(), Err(ReactorError::NotRunning)); // already stopping
    });
    reactor.run().unwrap();
    assert_eq!(reactor.run(), Err(ReactorError::NotRestartable));
}

#[test]
fn crash_ends_run_without_shutdown_and_run_may_start_again() {
    let mut reactor = reactor();
    let (p, log) = Recorder::new();
    reactor.listen_udp_with(loopback(), p).unwrap();
    reactor.call_when_running(|r| r.crash());
    reactor.run().unwrap();
    assert_eq!(reactor.state(), ReactorState::Idle);
    assert_eq!(*log.borrow(), [Seen::Start]); // no stop_protocol
    reactor.call_later(Duration::ZERO, |r| r.stop().unwrap());
    reactor.run().unwrap();
    assert_eq!(*log.borrow(), [Seen::Start, Seen::Stop]);
}

#[test]
fn a_failing_start_protocol_closes_the_port_and_returns_the_failure() {
    struct Refuses;
    impl DatagramProtocol for Refuses {
        fn start_protocol(&mut self, _: &mut Context<'_>) -> Outcome {
            Err(Failure::msg("not today"))
        }
        fn datagram_received(&mut self, _: &mut Context<'_>, _: &[u8], _: SocketAddr) -> Outcome {
            Ok(())
        }
    }
    let mut reactor = reactor();
    let err = reactor.listen_udp_with(loopback(), Refuses).unwrap_err();
    assert!(
        matches!(&err, gyre::error::ListenError::StartFailed(f) if f.message() == "not today"),
        "{err}"
    );
    assert!(reactor.ports().is_empty());
}

/// Tries to open a port from its `stop_protocol`, and reports what happened.
struct ListensWhenStopped {
    outcome: Rc<RefCell<Option<Result<(), String>>>>,
}

impl DatagramProtocol for ListensWhenStopped {
    fn stop_protocol(&mut self, cx: &mut Context<'_>) -> Outcome {
        let (p, _) = Recorder::new();
        let result = cx.reactor().listen_udp_with(loopback(), p);
        *self.outcome.borrow_mut() = Some(result.map(|_| ()).map_err(|e| e.to_string()));
        Ok(())
    }

    fn datagram_received(&mut self, _: &mut Context<'_>, _: &[u8], _: SocketAddr) -> Outcome {
        Ok(())
    }
}

#[test]
fn no_port_opens_once_shutdown_has_closed_the_ports() {
    use gyre::error::ListenError;
    let mut reactor = reactor();
    let in_stop = Rc::new(RefCell::new(None));
    reactor
        .listen_udp_with(
            loopback(),
            ListensWhenStopped {
                outcome: in_stop.clone(),
            },
        )
        .unwrap();
    let before = Rc::new(RefCell::new(Vec::new()));
    let b = before.clone();
    reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, move |r| {
        // Still allowed: shutdown's "during" phase closes this one too.
        let (p, log) = Recorder::new();
        r.listen_udp_with(loopback(), p).unwrap();
        b.borrow_mut().push(log);
        None
    });
    let after = Rc::new(RefCell::new(None));
    let a = after.clone();
    reactor.add_system_event_trigger(Phase::After, SystemEvent::Shutdown, move |r| {
        let (p, _) = Recorder::new();
        *a.borrow_mut() = Some(matches!(
            r.listen_udp_with(loopback(), p),
            Err(ListenError::ReactorStopped)
        ));
        None
    });
    reactor.call_when_running(|r| r.stop().unwrap());
    reactor.run().unwrap();
    let refused = in_stop.borrow().clone().unwrap().unwrap_err();
    assert!(refused.contains("shut down its ports"), "{refused}");
    assert_eq!(*after.borrow(), Some(true));
    assert_eq!(*before.borrow()[0].borrow(), [Seen::Start, Seen::Stop]);
    assert!(reactor.ports().is_empty());
    let (p, log) = Recorder::new();
    let err = reactor.listen_udp_with(loopback(), p).unwrap_err();
    assert!(matches!(err, ListenError::ReactorStopped), "{err}");
    assert!(log.borrow().is_empty()); // start_protocol never ran
    assert!(reactor.ports().is_empty());
}

/// Twisted: internet/test/test_udp.py `test_startedListeningLogMessage`,
/// `test_connectionLostLogMessage`, `test_str` and `test_repr` (listenUDP)
#[test]
fn a_port_shows_itself_and_logs_its_start_and_close_as_twisted_words_them() {
    builder::port_shows_itself_and_logs_its_start_and_close(Builder::Listen);
}

/// Twisted: internet/test/test_udp.py `test_stopProtocolScheduling` (listenUDP)
#[test]
fn stopping_from_start_protocol_calls_stop_protocol_later_not_inside() {
    builder::stopping_from_start_protocol_calls_stop_protocol_later(Builder::Listen);
}
