//! [`Inbox`]: a port's datagrams, awaited one at a time by async code.

use std::cell::Cell;
use std::fmt;
use std::net::SocketAddr;
use std::rc::Rc;

use gyre_reactor::defer::{Deferred, DeferredQueue, Failure};
use gyre_reactor::error::{ConnectionRefusedError, PortClosedError};
use gyre_reactor::{Context, DatagramProtocol, Outcome};

/// One datagram as an [`Inbox`] hands it over: its bytes, copied out of the reactor's receive
/// buffer, and its sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// The payload.
    pub data: Vec<u8>,
    /// Who sent it.
    pub from: SocketAddr,
}

/// What the protocol half and the receiving half share.
struct Shared {
    queue: DeferredQueue<Result<Datagram, Failure>>,
    dropped: Cell<u64>,
    closed: Cell<bool>,
}

/// The receiving half of an inbox: [`recv`](Inbox::recv) gives a Deferred of the port's next
/// datagram, to `.await` in async code (or to add callbacks to).
///
/// [`Inbox::bounded`] makes the pair: an [`InboxProtocol`] to listen with, and this. The
/// protocol puts every datagram into a [`DeferredQueue`] of at most `capacity` datagrams;
/// a datagram that arrives when the queue is full and no receive waits is dropped (before it
/// is copied) and counted in [`dropped`](Inbox::dropped), as the kernel drops what overflows
/// a socket's buffer. Receives are served in order, datagrams in the order they came; a
/// receive cancelled or timed out leaves the line without taking a datagram.
///
/// On a connected port an ICMP refusal is queued in order with the datagrams, and the receive
/// that reaches it fails with [`ConnectionRefusedError`] (Twisted's `connectionRefused`). Once
/// the port stops listening, the datagrams already queued can still be received; after them,
/// receives fail with [`PortClosedError`].
///
/// The inbox holds no socket: dropping the reactor closes the port whatever inboxes remain.
///
/// ```
/// use gyre::protocols::Inbox;
/// use gyre::task::react;
/// use gyre::udp::ListenOptions;
///
/// let code = react(|reactor| {
///     let (protocol, inbox) = Inbox::bounded(16);
///     let port = reactor.listen_udp_with(ListenOptions::new(0).interface("127.0.0.1"), protocol);
///     async move {
///         let port = port?;
///         port.write_to(b"to myself", port.get_host()?)?;
///         let datagram = inbox.recv().await?;
///         assert_eq!(datagram.data, b"to myself");
///         assert_eq!(datagram.from, port.get_host()?);
///         port.stop_listening().await
///     }
/// });
/// assert_eq!(code, std::process::ExitCode::SUCCESS);
/// ```
pub struct Inbox {
    shared: Rc<Shared>,
}

/// The protocol half of an inbox: listen with it, and its [`Inbox`] receives what the port
/// receives.
pub struct InboxProtocol {
    shared: Rc<Shared>,
}

impl Inbox {
    /// An inbox that keeps at most `capacity` datagrams no one has asked for yet (0: only
    /// datagrams that find a receive waiting are kept), and the protocol that fills it.
    pub fn bounded(capacity: usize) -> (InboxProtocol, Inbox) {
        let shared = Rc::new(Shared {
            queue: DeferredQueue::bounded(Some(capacity), None),
            dropped: Cell::new(0),
            closed: Cell::new(false),
        });
        let protocol = InboxProtocol {
            shared: shared.clone(),
        };
        (protocol, Inbox { shared })
    }

    /// The next datagram: a fired Deferred if one is queued, else one that fires when the
    /// next arrives. It fails with [`ConnectionRefusedError`] where the port met a refusal,
    /// and with [`PortClosedError`] once the port stopped and nothing queued is left.
    /// Cancel it (or let [`add_timeout`](Deferred::add_timeout) cancel it) and the datagram
    /// it would have had goes to the next receive.
    pub fn recv(&self) -> Deferred<Datagram> {
        let shared = &self.shared;
        if shared.closed.get() && shared.queue.is_empty() {
            return Deferred::failed(PortClosedError);
        }
        match shared.queue.get() {
            Ok(next) => next.then(|received| received),
            Err(underflow) => Deferred::failed(underflow), // no backlog limit: never
        }
    }

    /// Datagrams queued, not yet received.
    pub fn len(&self) -> usize {
        self.shared.queue.len()
    }

    /// Whether no datagram is queued.
    pub fn is_empty(&self) -> bool {
        self.shared.queue.is_empty()
    }

    /// The most datagrams the inbox keeps.
    pub fn capacity(&self) -> usize {
        self.shared.queue.size().unwrap_or(usize::MAX) // always bounded
    }

    /// Datagrams dropped because the inbox was full and no receive waited.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.get()
    }

    /// Whether the port has stopped listening.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.get()
    }
}

impl InboxProtocol {
    /// Hands `item` to a waiting receive or queues it; counts it dropped when full.
    fn offer(&self, item: impl FnOnce() -> Result<Datagram, Failure>) {
        let shared = &self.shared;
        if !shared.queue.has_room() || shared.queue.put(item()).is_err() {
            shared.dropped.set(shared.dropped.get() + 1);
        }
    }
}

impl DatagramProtocol for InboxProtocol {
    fn stop_protocol(&mut self, _: &mut Context<'_>) -> Outcome {
        let shared = &self.shared;
        shared.closed.set(true);
        for _ in 0..shared.queue.waiting() {
            let _ = shared.queue.put(Err(Failure::new(PortClosedError)));
        }
        Ok(())
    }

    fn datagram_received(&mut self, _: &mut Context<'_>, data: &[u8], from: SocketAddr) -> Outcome {
        self.offer(|| {
            Ok(Datagram {
                data: data.to_vec(),
                from,
            })
        });
        Ok(())
    }

    fn connection_refused(&mut self, _: &mut Context<'_>) -> Outcome {
        self.offer(|| Err(Failure::new(ConnectionRefusedError)));
        Ok(())
    }

    fn log_prefix(&self) -> &str {
        "Inbox"
    }
}

impl fmt::Debug for Inbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbox")
            .field("queued", &self.len())
            .field("waiting", &self.shared.queue.waiting())
            .field("capacity", &self.capacity())
            .field("dropped", &self.dropped())
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl fmt::Debug for InboxProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboxProtocol").finish_non_exhaustive()
    }
}
