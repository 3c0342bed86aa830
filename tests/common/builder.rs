//! Twisted's two port builders for `twisted/internet/test/test_udp.py`: each test there runs
//! once on a port from `listenUDP` and once on one from `adoptDatagramPort`. The tests that
//! run on both are written once here, with the builder as a parameter.

use std::cell::{Cell, RefCell};
use std::net::{SocketAddr, UdpSocket};
use std::rc::Rc;

use gyre::prelude::*;
use gyre::testing::{CapturedLog, capture_logs};

use super::{CAP, Recorder, datagrams, run_until};

/// How a test gets its ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builder {
    /// `listen_udp_with` (Twisted's `listenUDP`).
    Listen,
    /// A socket the test binds, adopted with `adopt_udp` and then closed on the test's side,
    /// as Twisted's `UDPFDServerTestsBuilder` does.
    Adopt,
}

impl Builder {
    /// A port on `ip`, port 0; `None` (and a SKIP line) where `ip` cannot be bound here.
    pub fn port(
        self,
        reactor: &mut Reactor,
        ip: &str,
        protocol: impl DatagramProtocol,
    ) -> Option<Transport> {
        let bound = match self {
            Builder::Listen => {
                reactor.listen_udp_with(ListenOptions::new(0).interface(ip), protocol)
            }
            Builder::Adopt => match UdpSocket::bind((ip, 0)) {
                Ok(mine) => reactor.adopt_udp(&mine, protocol), // `mine` closes here
                Err(e) => {
                    eprintln!("SKIP: cannot bind {ip} here: {e}");
                    return None;
                }
            },
        };
        match bound {
            Ok(port) => Some(port),
            Err(e) if ip.contains(':') => {
                eprintln!("SKIP: IPv6 loopback unavailable here: {e}");
                None
            }
            Err(e) => panic!("{self:?} on {ip}: {e}"),
        }
    }
}

/// A protocol with its own log prefix (Twisted's `SomeProtocol`).
pub struct Crazy;

impl DatagramProtocol for Crazy {
    fn datagram_received(&mut self, _: &mut Context<'_>, _: &[u8], _: SocketAddr) -> Outcome {
        Ok(())
    }

    fn log_prefix(&self) -> &str {
        "Crazy Protocol"
    }
}

/// The lines a default log observer shows (debug and trace lines left out).
fn info_and_above(lines: Vec<CapturedLog>) -> Vec<CapturedLog> {
    lines
        .into_iter()
        .filter(|l| l.level <= log::Level::Info)
        .collect()
}

/// Twisted: `test_startedListeningLogMessage`, `test_connectionLostLogMessage`, `test_str`
/// and `test_repr`: how a port shows itself, and the lines it logs when it starts and closes.
pub fn port_shows_itself_and_logs_its_start_and_close(builder: Builder) {
    let mut reactor = super::reactor();
    let (port, lines, _) = capture_logs(|| builder.port(&mut reactor, "127.0.0.1", Crazy));
    let port = port.unwrap();
    let number = port.get_host().unwrap().port();
    assert_eq!(port.to_string(), format!("<Crazy Protocol on {number}>"));
    assert_eq!(
        format!("{port:?}"),
        format!("Transport(UDP 127.0.0.1:{number})")
    );
    assert_eq!(port.log_prefix(), "Crazy Protocol (UDP)");
    let started = &info_and_above(lines)[0];
    assert_eq!(
        started.message,
        format!("Crazy Protocol starting on {number}")
    );
    assert_eq!(
        (started.level, started.target.as_str()),
        (log::Level::Info, "gyre::udp")
    );

    let stopped = port.stop_listening();
    let ((), lines, _) = capture_logs(|| run_until(&mut reactor, CAP, || stopped.is_called()));
    let closed = &info_and_above(lines)[0];
    assert_eq!(closed.message, format!("(UDP Port {number} Closed)"));
    assert_eq!(
        (closed.level, closed.target.as_str()),
        (log::Level::Info, "gyre::udp")
    );
    assert_eq!(port.to_string(), "<Crazy Protocol not connected>");
    assert_eq!(format!("{port:?}"), "Transport(closed)");
}

/// Stops its own port from `start_protocol` and records whether `stop_protocol` ran inside
/// that call (Twisted's `DisconnectingProtocol`).
struct StopsInStart {
    events: Rc<RefCell<Vec<&'static str>>>,
    in_start: Cell<bool>,
}

impl DatagramProtocol for StopsInStart {
    fn start_protocol(&mut self, cx: &mut Context<'_>) -> Outcome {
        self.events.borrow_mut().push("start_protocol");
        self.in_start.set(true);
        cx.transport().stop_listening();
        self.in_start.set(false);
        self.events.borrow_mut().push("start_protocol returned");
        Ok(())
    }

    fn stop_protocol(&mut self, _: &mut Context<'_>) -> Outcome {
        let event = match self.in_start.get() {
            true => "stop_protocol inside start_protocol",
            false => "stop_protocol",
        };
        self.events.borrow_mut().push(event);
        Ok(())
    }

    fn datagram_received(&mut self, _: &mut Context<'_>, _: &[u8], _: SocketAddr) -> Outcome {
        Ok(())
    }
}

/// Twisted: `test_stopProtocolScheduling`: `stop_listening` from `start_protocol` calls
/// `stop_protocol` later, never inside the call that asked.
pub fn stopping_from_start_protocol_calls_stop_protocol_later(builder: Builder) {
    let mut reactor = super::reactor();
    let events = Rc::new(RefCell::new(Vec::new()));
    let protocol = StopsInStart {
        events: events.clone(),
        in_start: Cell::new(false),
    };
    let port = builder.port(&mut reactor, "127.0.0.1", protocol).unwrap();
    assert_eq!(
        *events.borrow(),
        ["start_protocol", "start_protocol returned"]
    );
    assert!(!port.is_listening());
    run_until(&mut reactor, CAP, || events.borrow().len() == 3);
    assert_eq!(
        *events.borrow(),
        ["start_protocol", "start_protocol returned", "stop_protocol"]
    );
    assert!(reactor.ports().is_empty());
}

/// Twisted: `test_connectedWriteToIPv6Interface`: a port connected to an IPv6 peer writes to
/// it without an address, and the peer sees the port's address.
pub fn connected_write_over_ipv6(builder: Builder) {
    let mut reactor = super::reactor();
    let (server, log) = Recorder::new();
    let Some(server) = builder.port(&mut reactor, "::1", server) else {
        return;
    };
    let client = builder
        .port(&mut reactor, "::1", Recorder::new().0)
        .unwrap();
    let to = server.get_host().unwrap();
    client.connect(("::1", to.port())).unwrap();
    assert_eq!(client.peer(), Some(to));
    client.write(b"spam").unwrap();
    run_until(&mut reactor, CAP, || datagrams(&log).len() == 1);
    assert_eq!(
        datagrams(&log),
        [(b"spam".to_vec(), client.get_host().unwrap())]
    );
}
