//! What users need to test their own code against gyre without sockets or sleeping.
//!
//! * A manual clock: [`Timers::manual`](crate::time::Timers::manual) and
//!   [`ManualClock`](crate::time::ManualClock) (Twisted's `task.Clock`).
//! * [`Core::listen_memory`] and [`MemoryWire`]: a port without a socket, driven by the
//!   real loop, for testing a protocol's behaviour exactly and without the network.
//! * [`capture_logs`]: run a closure and get back what it logged through the `log` crate, on
//!   this thread only, so parallel tests do not see each other's lines. Use it to assert that
//!   a failure was reported ("Unhandled error in Deferred", a panicking callback, …).

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Once;

use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::core::Core;
use crate::error::{InvalidAddress, ListenError};
use crate::protocol::DatagramProtocol;
use crate::udp::outbox::Outbox;
use crate::udp::port::NewPort;
use crate::udp::port::PortId;
use crate::udp::socket::{Arrival, MemorySocket, PortSocket, Wire};
use crate::udp::{MAX_DATAGRAM, ToDatagramAddr, Transport};

mod network;

pub use network::{Fate, Link, Network, NetworkStats, TraceEvent};

/// One log line captured by [`capture_logs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedLog {
    /// The record's level.
    pub level: Level,
    /// The record's target (gyre uses `gyre::defer`, `gyre::time`, …).
    pub target: String,
    /// The formatted message.
    pub message: String,
}

/// Whether [`capture_logs`] could install its logger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureStatus {
    /// The capturing logger is the process's logger: captures are complete.
    Installed,
    /// Another logger was installed first (by the program or another crate); nothing can be
    /// captured in this process.
    OtherLoggerInstalled,
}

thread_local! {
    static CAPTURED: RefCell<Option<Vec<CapturedLog>>> = const { RefCell::new(None) };
}

struct CaptureLogger;

impl Log for CaptureLogger {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        CAPTURED.with(|c| c.borrow().is_some())
    }

    fn log(&self, record: &Record<'_>) {
        let line = CapturedLog {
            level: record.level(),
            target: record.target().to_string(),
            message: record.args().to_string(),
        };
        CAPTURED.with(|c| {
            if let Some(lines) = c.borrow_mut().as_mut() {
                lines.push(line);
            }
        });
    }

    fn flush(&self) {}
}

static LOGGER: CaptureLogger = CaptureLogger;
static INSTALL: Once = Once::new();

fn install() -> CaptureStatus {
    INSTALL.call_once(|| {
        if log::set_logger(&LOGGER).is_ok() {
            log::set_max_level(LevelFilter::Trace);
        }
    });
    // `logger()` returns the installed logger; compare addresses to know whether it is ours.
    if std::ptr::addr_eq(log::logger(), &LOGGER as &dyn Log) {
        CaptureStatus::Installed
    } else {
        CaptureStatus::OtherLoggerInstalled
    }
}

/// Runs `f` and returns its result with every line logged on this thread while it ran.
///
/// The first call installs a capturing logger for the whole process; records from other
/// threads, and from this thread outside `capture_logs`, are dropped. If the process already
/// had another logger, the status says so and the list is empty.
///
/// ```
/// use gyre::defer::{Deferred, Failure};
/// use gyre::testing::{capture_logs, CaptureStatus};
///
/// let ((), lines, status) = capture_logs(|| {
///     let d = Deferred::<u8>::new();
///     d.errback(Failure::msg("nobody handles this")).unwrap();
/// }); // `d` is dropped inside the closure, with its failure unhandled
/// assert_eq!(status, CaptureStatus::Installed);
/// assert_eq!(lines[0].message, "Unhandled error in Deferred: nobody handles this");
/// ```
pub fn capture_logs<R>(f: impl FnOnce() -> R) -> (R, Vec<CapturedLog>, CaptureStatus) {
    let status = install();
    let outer = CAPTURED.with(|c| c.borrow_mut().replace(Vec::new()));
    let result = f();
    let lines = CAPTURED
        .with(|c| std::mem::replace(&mut *c.borrow_mut(), outer))
        .unwrap_or_default();
    (result, lines, status)
}

/// The test's end of an in-memory port made by [`Core::listen_memory`]: hand it datagrams,
/// read what the protocol sent.
pub struct MemoryWire {
    wire: Rc<Wire>,
    outbox: Rc<Outbox>,
    id: PortId,
}

impl MemoryWire {
    /// Queues a datagram from `from`; the protocol gets it on the reactor's next turn.
    pub fn deliver(&self, data: &[u8], from: impl ToDatagramAddr) -> Result<(), InvalidAddress> {
        let from = from.to_datagram_addr()?;
        self.wire
            .inbound
            .borrow_mut()
            .push_back(Arrival::Datagram(data.to_vec(), from));
        self.mark_readable();
        Ok(())
    }

    /// Queues an ICMP "port unreachable": a connected protocol gets `connection_refused`.
    pub fn refuse(&self) {
        self.wire.inbound.borrow_mut().push_back(Arrival::Refused);
        self.mark_readable();
    }

    /// Queues a receive error (Twisted's scripted `socket.error` in `test_udp_internals`): the
    /// port's read meets it after the datagrams queued before it. `WouldBlock` ends that read
    /// quietly, `Interrupted` is retried, anything else is logged and counted
    /// (`read_errors`) and reading goes on, unless errors keep coming (see
    /// [`READ_ERRORS_BEFORE_CLOSING`](crate::udp::READ_ERRORS_BEFORE_CLOSING)).
    pub fn fail_receive(&self, error: std::io::Error) {
        self.wire
            .inbound
            .borrow_mut()
            .push_back(Arrival::Error(error));
        self.mark_readable();
    }

    /// Takes every datagram the protocol sent so far, with its destination, in order.
    pub fn sent(&self) -> Vec<(Vec<u8>, SocketAddr)> {
        std::mem::take(&mut *self.wire.outbound.borrow_mut())
    }

    fn mark_readable(&self) {
        if !self.outbox.is_closed() {
            self.outbox.note_readable(self.id);
        }
    }
}

impl std::fmt::Debug for MemoryWire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryWire")
            .field("queued", &self.wire.inbound.borrow().len())
            .field("sent", &self.wire.outbound.borrow().len())
            .finish()
    }
}

impl Core {
    /// Opens a port with no socket behind it (Twisted's `FakeDatagramTransport`, but driven
    /// by the real loop): the protocol runs exactly as on a UDP port, while the returned
    /// [`MemoryWire`] delivers datagrams and collects what it sends. `local` is the address
    /// the transport reports; nothing is bound.
    ///
    /// ```
    /// use gyre::{Context, DatagramProtocol, Outcome, Reactor};
    /// use gyre::time::ManualClock;
    /// use std::{net::SocketAddr, time::Duration};
    ///
    /// struct Echo;
    /// impl DatagramProtocol for Echo {
    ///     fn datagram_received(&mut self, cx: &mut Context<'_>, data: &[u8], from: SocketAddr) -> Outcome {
    ///         Ok(cx.transport().write_to(data, from)?)
    ///     }
    /// }
    /// let mut reactor = Reactor::with_clock(ManualClock::new()).unwrap();
    /// let (port, wire) = reactor.listen_memory("127.0.0.1:9999".parse().unwrap(), Echo).unwrap();
    /// wire.deliver(b"ping", ("127.0.0.1", 4000)).unwrap();
    /// reactor.iterate(Duration::ZERO).unwrap();
    /// assert_eq!(wire.sent(), [(b"ping".to_vec(), "127.0.0.1:4000".parse().unwrap())]);
    /// assert_eq!(port.get_host().unwrap().port(), 9999);
    /// ```
    pub fn listen_memory(
        &mut self,
        local: SocketAddr,
        protocol: impl DatagramProtocol,
    ) -> Result<(Transport, MemoryWire), ListenError> {
        self.check_can_listen()?;
        let wire = Rc::new(Wire::default());
        let port = NewPort {
            socket: PortSocket::Memory(MemorySocket::new(wire.clone())),
            address: local,
            local,
            dual_stack: false,
            max_packet: MAX_DATAGRAM,
            icmp_errors: false,
            reply_from: false,
            gro: false,
        };
        let transport = self.open_port(port, protocol)?;
        let wire = MemoryWire {
            wire,
            outbox: self.outbox.clone(),
            id: transport.shared().id(),
        };
        Ok((transport, wire))
    }

    /// Opens a port on the simulated network a test attached (see [`Network`]): bound at
    /// `address` there, or `AddrInUse` if a port already is.
    pub(crate) fn listen_simulated(
        &mut self,
        network: &Network,
        address: SocketAddr,
        max_packet: usize,
        protocol: impl DatagramProtocol,
    ) -> Result<Transport, ListenError> {
        self.check_can_listen()?;
        let wire = Rc::new(Wire::default());
        let id = self.ports.next_id();
        let local = network
            .bind(address, &wire, &self.outbox, id)
            .ok_or_else(|| ListenError::CannotListen {
                address,
                source: std::io::ErrorKind::AddrInUse.into(),
            })?;
        let port = NewPort {
            socket: PortSocket::Memory(MemorySocket::new(wire)),
            address,
            local,
            dual_stack: false,
            max_packet,
            icmp_errors: false,
            reply_from: false,
            gro: false,
        };
        self.open_port(port, protocol)
    }
}
