//! [`Handle`] (same thread, cloneable: Twisted's global `reactor`) and [`RemoteHandle`]
//! (any thread: `callFromThread`).

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mio::{Interest, Registry, Token};
use slab::Slab;

use crate::defer::{Deferred, Failure, panic_message};
use crate::error::{DnsLookupError, ListenError, ReactorError};
use crate::lifecycle::{Phase, ReactorState, SystemEvent, TriggerId, Triggers};
use crate::protocol::DatagramProtocol;
use crate::resolve::{Resolver, SystemResolver, pick_address};
use crate::stats::{ReactorCounters, ReactorStats};
use crate::sys;
use crate::time::{DelayedCall, Timers};
use crate::udp::dispatch::Lent;
use crate::udp::socket::PortSocket;
use crate::udp::table::{PortId, PortSlot, PortState, PortTable};
use crate::udp::{ListenOptions, Transport, parse_interface};

/// A bound socket about to become a port.
pub(crate) struct PortSetup {
    pub socket: PortSocket,
    pub local: SocketAddr,
    pub dual_stack: bool,
    pub max_packet: usize,
}

/// A call queued for the loop's "queued calls" step.
pub(crate) type LocalCall = Box<dyn FnOnce(&Handle)>;
/// A call posted from another thread.
pub(crate) type RemoteCall = Box<dyn FnOnce(&Handle) + Send>;

/// Port changes made during a turn, applied by the loop at the end of it.
#[derive(Debug, Default)]
pub(crate) struct PortWork {
    /// Ports whose `stop_listening` was called.
    pub stopping: Vec<PortId>,
    /// Connected ports with an ICMP refusal waiting for `connection_refused`.
    pub refused: Vec<PortId>,
    /// In-memory ports given datagrams by a test: read them this turn.
    pub readable: Vec<PortId>,
}

/// The reactor's state that callbacks reach through a [`Handle`]. Every `RefCell` here is
/// borrowed inside one method and released before any user code runs.
pub(crate) struct Shared {
    pub state: Cell<ReactorState>,
    pub timers: Timers,
    pub ports: RefCell<PortTable>,
    pub registry: Registry,
    pub port_work: RefCell<PortWork>,
    pub calls: RefCell<VecDeque<LocalCall>>,
    pub remote: Arc<RemoteQueue>,
    pub triggers: RefCell<Triggers>,
    pub replies: RefCell<Replies>,
    pub resolver: RefCell<Rc<dyn Resolver>>,
    pub resolve_timeout: Cell<Duration>,
    pub counters: ReactorCounters,
    /// Counts `stop_listening` calls, so the read loop notices a stop with one compare per
    /// datagram instead of a table lookup.
    pub stops: Cell<u64>,
    /// While true (inside a loop turn), writes are queued and leave in batches.
    pub batching: Cell<bool>,
    pub send_queue: RefCell<crate::udp::send_queue::SendQueue>,
    /// Set when every Deferred returned by "before shutdown" triggers has fired.
    pub shutdown_ready: Cell<bool>,
}

/// Deferreds waiting for a result from a worker thread, keyed by slot, checked by serial.
#[derive(Default)]
pub(crate) struct Replies {
    slots: Slab<(u64, Box<dyn Any>)>,
    next_serial: u64,
}

/// The queue behind [`RemoteHandle`]: calls from other threads, and the waker that interrupts
/// `poll` when one arrives.
pub(crate) struct RemoteQueue {
    pub calls: Mutex<VecDeque<RemoteCall>>,
    pub waker: mio::Waker,
    pub open: AtomicBool,
}

/// The reactor, from inside it: a cheap, cloneable handle for callbacks and closures on the
/// reactor's thread (Twisted's global `reactor` object).
///
/// It is what [`Context::reactor`](crate::Context::reactor) returns, what
/// [`Reactor`](crate::Reactor) dereferences to, and what delayed calls receive. It is not
/// `Send`; from other threads use a [`RemoteHandle`].
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Rc<Shared>,
}

impl Handle {
    pub(crate) fn new(shared: Shared) -> Handle {
        Handle {
            shared: Rc::new(shared),
        }
    }

    /// Opens a UDP port on every IPv4 interface (Twisted's `listenUDP(port, protocol)`).
    /// `start_protocol` has run when this returns. Port 0 picks a free port.
    pub fn listen_udp(
        &self,
        port: u16,
        protocol: impl DatagramProtocol,
    ) -> Result<Transport, ListenError> {
        self.listen_udp_with(ListenOptions::new(port), protocol)
    }

    /// Opens a UDP port for multicast (Twisted's `listenMulticast`). Any port can join groups;
    /// use [`listen_multicast_with`](Handle::listen_multicast_with) and
    /// [`ListenOptions::listen_multiple`] to share the port with other listeners.
    pub fn listen_multicast(
        &self,
        port: u16,
        protocol: impl DatagramProtocol,
    ) -> Result<Transport, ListenError> {
        self.listen_udp_with(ListenOptions::new(port), protocol)
    }

    /// Opens a multicast port with options (interface, max packet size, `listen_multiple`).
    /// Without `listen_multiple`, a port already bound by another listener is `CannotListen`.
    pub fn listen_multicast_with(
        &self,
        options: ListenOptions,
        protocol: impl DatagramProtocol,
    ) -> Result<Transport, ListenError> {
        self.listen_udp_with(options, protocol)
    }

    /// Opens a UDP port with options: interface, maximum packet size, socket options.
    pub fn listen_udp_with(
        &self,
        options: ListenOptions,
        protocol: impl DatagramProtocol,
    ) -> Result<Transport, ListenError> {
        let ip = parse_interface(&options.interface).map_err(ListenError::InvalidAddress)?;
        let address = SocketAddr::new(ip, options.port);
        let cannot = |source| ListenError::CannotListen { address, source };
        let mut socket = sys::bind_udp(address, &options.setup).map_err(cannot)?;
        let local = socket.local_addr().map_err(cannot)?;
        let dual_stack = local.is_ipv6() && !sys::only_v6(&socket).unwrap_or(true);
        let key = self.shared.ports.borrow().vacant_key();
        self.shared
            .registry
            .register(&mut socket, Token(key), Interest::READABLE)
            .map_err(cannot)?;
        let port = PortSetup {
            socket: PortSocket::Os(socket),
            local,
            dual_stack,
            max_packet: options.max_packet_size,
        };
        self.install_port(port, Box::new(protocol))
    }

    /// Puts a ready socket and its protocol in the port table and runs `start_protocol`.
    /// The socket must already be registered under the table's next key, if it is an OS one.
    pub(crate) fn install_port(
        &self,
        port: PortSetup,
        protocol: Box<dyn DatagramProtocol>,
    ) -> Result<Transport, ListenError> {
        let local = port.local;
        let name: Rc<str> = format!("{} (UDP {local})", protocol.log_prefix()).into();
        let id = self.shared.ports.borrow_mut().insert(|id| PortSlot {
            id,
            socket: port.socket,
            protocol: Some(protocol),
            name: name.clone(),
            local,
            dual_stack: port.dual_stack,
            connected: None,
            max_packet: port.max_packet,
            state: PortState::Listening,
            refusals_pending: 0,
            counters: Default::default(),
        });
        log::info!(target: "gyre::udp", "{name} starting on {}", local.port());
        let started = Lent::take(self, id)
            .expect("a new port has its protocol")
            .call("start_protocol", |p, cx| p.start_protocol(cx));
        if let Err(failure) = started {
            self.close_port(id, false);
            return Err(ListenError::StartFailed(failure));
        }
        Ok(Transport::new(self, id))
    }

    /// Gives the port its `stop_protocol` (unless `quietly`), closes its socket, and fires its
    /// `stop_listening` Deferred.
    pub(crate) fn close_port(&self, id: PortId, notify: bool) {
        if notify {
            if let Some(mut lent) = Lent::take(self, id) {
                let _ = lent.call("stop_protocol", |p, cx| p.stop_protocol(cx));
            }
        }
        let Some(mut slot) = self.shared.ports.borrow_mut().remove(id) else {
            return;
        };
        if slot.is_listening() {
            let _ = slot.socket.deregister(&self.shared.registry);
        }
        let closed = &self.shared.counters.closed_ports;
        closed.set(closed.get().plus(slot.counters.snapshot()));
        log::info!(target: "gyre::udp", "({} closed)", slot.name);
        let done = match std::mem::replace(&mut slot.state, PortState::Listening) {
            PortState::Stopping(done) => Some(done),
            PortState::Listening => None,
        };
        drop(slot); // closes the socket; the protocol's Drop runs outside any borrow
        if let Some(done) = done {
            let _ = done.callback(());
        }
    }

    /// Runs `f` once, `delay` from now (Twisted's `callLater`), with the reactor's handle.
    pub fn call_later(&self, delay: Duration, f: impl FnOnce(&Handle) + 'static) -> DelayedCall {
        let weak = Rc::downgrade(&self.shared);
        self.shared.timers.call_later(delay, move || {
            if let Some(shared) = weak.upgrade() {
                f(&Handle { shared });
            }
        })
    }

    /// Queues `f` to run on this turn's "queued calls" step (or the next turn's, if that step
    /// has passed): after I/O and timers, before the loop sleeps again. FIFO.
    pub fn call_soon(&self, f: impl FnOnce(&Handle) + 'static) {
        self.shared.calls.borrow_mut().push_back(Box::new(f));
    }

    /// The reactor's timer queue, for `LoopingCall`, `defer_later` and `add_timeout`.
    pub fn timers(&self) -> &Timers {
        &self.shared.timers
    }

    /// The reactor clock's current time (Twisted's `seconds()`, but monotonic).
    pub fn now(&self) -> Instant {
        self.shared.timers.now()
    }

    /// Asks the reactor to stop: shutdown begins at the end of the current turn (Twisted's
    /// `stop`). Errors with [`ReactorError::NotRunning`] unless it is running.
    pub fn stop(&self) -> Result<(), ReactorError> {
        match self.shared.state.get() {
            ReactorState::Running => {
                self.shared.state.set(ReactorState::StopRequested);
                Ok(())
            }
            _ => Err(ReactorError::NotRunning),
        }
    }

    /// Ends `run` after the current turn without shutting down: no triggers, ports stay open,
    /// and `run` may be called again (Twisted's `crash`).
    pub fn crash(&self) {
        if self.shared.state.get().is_looping() {
            self.shared.state.set(ReactorState::Idle);
        }
    }

    /// Where the reactor is in its life.
    pub fn state(&self) -> ReactorState {
        self.shared.state.get()
    }

    /// Whether the reactor is running (Twisted's `running`): from "during startup" until
    /// shutdown finishes.
    pub fn running(&self) -> bool {
        self.shared.state.get().is_looping()
    }

    /// Runs `f` now if the reactor is running, or once it starts (Twisted's
    /// `callWhenRunning`).
    pub fn call_when_running(&self, f: impl FnOnce(&Handle) + 'static) -> Option<TriggerId> {
        if self.running() {
            f(self);
            return None;
        }
        Some(
            self.add_system_event_trigger(Phase::After, SystemEvent::Startup, move |h| {
                f(h);
                None
            }),
        )
    }

    /// Adds a trigger for a phase of startup or shutdown (Twisted's
    /// `addSystemEventTrigger`). A "before shutdown" trigger may return a Deferred: shutdown
    /// waits for all of them. A panicking trigger is logged; the others still run.
    pub fn add_system_event_trigger(
        &self,
        phase: Phase,
        event: SystemEvent,
        f: impl FnOnce(&Handle) -> Option<Deferred<()>> + 'static,
    ) -> TriggerId {
        self.shared
            .triggers
            .borrow_mut()
            .add(phase, event, Box::new(f))
    }

    /// Removes a trigger that has not run; false if there is none with that id.
    pub fn remove_system_event_trigger(&self, id: TriggerId) -> bool {
        self.shared.triggers.borrow_mut().remove(id)
    }

    /// Runs every trigger of one phase; returns the Deferreds they gave back.
    pub(crate) fn fire_triggers(&self, phase: Phase, event: SystemEvent) -> Vec<Deferred<()>> {
        let triggers = self.shared.triggers.borrow_mut().take(phase, event);
        let mut waits = Vec::new();
        for trigger in triggers {
            match catch_unwind(AssertUnwindSafe(|| trigger(self))) {
                Ok(Some(d)) => waits.push(d),
                Ok(None) => {}
                Err(panic) => log::error!(target: "gyre::reactor",
                    "a {phase:?} {event:?} trigger panicked: {}", panic_message(panic.as_ref())),
            }
        }
        waits
    }

    /// Looks a host name up without blocking the loop (Twisted's `resolve`). `""` is
    /// `0.0.0.0`; an IP literal answers at once; otherwise the resolver runs (by default
    /// `getaddrinfo` on a worker thread) and the first IPv4 address wins, else the first IPv6
    /// one. Fails with [`DnsLookupError`] naming the host, or with
    /// [`TimeoutError`](crate::error::TimeoutError) after the resolve timeout (60 s unless set).
    pub fn resolve(&self, name: &str) -> Deferred<IpAddr> {
        if name.is_empty() {
            return Deferred::succeeded(Ipv4Addr::UNSPECIFIED.into());
        }
        if let Ok(ip) = name.parse::<IpAddr>() {
            return Deferred::succeeded(ip);
        }
        let owned = name.to_string();
        self.resolve_all(name).then(move |ips| {
            pick_address(&ips).ok_or_else(|| {
                Failure::new(DnsLookupError {
                    name: owned,
                    source: None,
                })
            })
        })
    }

    /// Every address the resolver finds for `name`, in its order, under the resolve timeout.
    pub fn resolve_all(&self, name: &str) -> Deferred<Vec<IpAddr>> {
        let resolver = self.shared.resolver.borrow().clone();
        let found = resolver.resolve(name, self);
        found.add_timeout(self.shared.resolve_timeout.get(), &self.shared.timers);
        found
    }

    /// Replaces the resolver (a test double, a DNS client…).
    pub fn set_resolver(&self, resolver: impl Resolver) {
        *self.shared.resolver.borrow_mut() = Rc::new(resolver);
    }

    /// Sets how long a lookup may take before it fails with a timeout (default 60 s, the total
    /// of Twisted's `(1, 3, 11, 45)`).
    pub fn set_resolve_timeout(&self, timeout: Duration) {
        self.shared.resolve_timeout.set(timeout);
    }

    /// A handle for other threads (Twisted's `callFromThread`).
    pub fn remote(&self) -> RemoteHandle {
        RemoteHandle {
            queue: self.shared.remote.clone(),
        }
    }

    /// A Deferred on this thread and a `Send` reply for a worker thread: whatever the worker
    /// sends fires the Deferred on the reactor's thread, through `call_from_thread`. Cancelling
    /// the Deferred makes the reply go nowhere. A reply dropped unsent fails the Deferred.
    pub fn reply_from_thread<T: Send + 'static>(&self) -> (Deferred<T>, ThreadReply<T>) {
        let mut replies = self.shared.replies.borrow_mut();
        let serial = replies.next_serial;
        replies.next_serial += 1;
        let entry = replies.slots.vacant_entry();
        let key = entry.key();
        let weak: Weak<Shared> = Rc::downgrade(&self.shared);
        let deferred = Deferred::with_canceller(move |_| {
            if let Some(shared) = weak.upgrade() {
                shared.replies.borrow_mut().take(key, serial);
            }
        });
        entry.insert((serial, Box::new(deferred.clone())));
        let reply = ThreadReply {
            remote: self.remote(),
            key,
            serial,
            sent: false,
            _result: PhantomData,
        };
        (deferred, reply)
    }

    /// What the reactor has done so far.
    pub fn stats(&self) -> ReactorStats {
        let c = &self.shared.counters;
        let ports = self.shared.ports.borrow();
        ReactorStats {
            turns: c.turns.get(),
            events: c.events.get(),
            timers_fired: self.shared.timers.fired(),
            calls_run: c.calls_run.get(),
            ports_open: ports.len() as u64,
            ports: c.closed_ports.get().plus(ports.totals()),
            callback_failures: c.callback_failures.get(),
        }
    }

    /// Every open port's transport.
    pub fn ports(&self) -> Vec<Transport> {
        let ids = self.shared.ports.borrow().ids();
        ids.into_iter().map(|id| Transport::new(self, id)).collect()
    }
}

impl Replies {
    /// Removes and returns the entry for `key` if it still belongs to `serial`.
    fn take(&mut self, key: usize, serial: u64) -> Option<Box<dyn Any>> {
        match self.slots.get(key) {
            Some((s, _)) if *s == serial => Some(self.slots.remove(key).1),
            _ => None,
        }
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("state", &self.shared.state.get())
            .field("ports", &self.shared.ports.borrow().len())
            .field("timers", &self.shared.timers.len())
            .finish()
    }
}

/// The reactor, from any thread: queue calls to run on the reactor's thread (Twisted's
/// `callFromThread`), or stop it. `Send + Sync`, cheap to clone, usable before `run` (calls
/// wait for the first turn). Calls run in the order they were queued.
///
/// ```
/// use gyre_reactor::Reactor;
/// use std::time::Duration;
///
/// let mut reactor = Reactor::new().unwrap();
/// let remote = reactor.remote();
/// std::thread::spawn(move || {
///     remote.call_from_thread(|reactor| { reactor.stop().unwrap(); }).unwrap();
/// });
/// reactor.install_signal_handlers(false);
/// reactor.run().unwrap(); // returns once the other thread's call has stopped it
/// ```
#[derive(Clone)]
pub struct RemoteHandle {
    queue: Arc<RemoteQueue>,
}

impl RemoteHandle {
    /// Queues `f` for the reactor's thread and wakes the loop. Errors with
    /// [`ReactorError::NotRunning`] once the reactor has stopped or been dropped.
    pub fn call_from_thread(
        &self,
        f: impl FnOnce(&Handle) + Send + 'static,
    ) -> Result<(), ReactorError> {
        if !self.queue.open.load(Ordering::Acquire) {
            return Err(ReactorError::NotRunning);
        }
        self.queue
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(Box::new(f));
        if let Err(e) = self.queue.waker.wake() {
            log::error!(target: "gyre::reactor", "cannot wake the reactor: {e}");
        }
        Ok(())
    }

    /// Asks the reactor to stop, from any thread.
    pub fn stop(&self) -> Result<(), ReactorError> {
        self.call_from_thread(|reactor| {
            let _ = reactor.stop();
        })
    }
}

impl fmt::Debug for RemoteHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteHandle")
            .field("open", &self.queue.open.load(Ordering::Relaxed))
            .finish()
    }
}

/// The worker-thread half of [`Handle::reply_from_thread`]: `Send`, used once.
pub struct ThreadReply<T: Send + 'static> {
    remote: RemoteHandle,
    key: usize,
    serial: u64,
    sent: bool,
    _result: PhantomData<fn(T)>,
}

impl<T: Send + 'static> ThreadReply<T> {
    /// Fires the Deferred with `result` on the reactor's thread.
    pub fn send(mut self, result: Result<T, Failure>) {
        self.sent = true;
        self.deliver(result);
    }

    fn deliver(&self, result: Result<T, Failure>) {
        let (key, serial) = (self.key, self.serial);
        let _ = self.remote.call_from_thread(move |reactor| {
            let Some(entry) = reactor.shared.replies.borrow_mut().take(key, serial) else {
                return; // cancelled or timed out meanwhile
            };
            if let Ok(deferred) = entry.downcast::<Deferred<T>>() {
                let _ = deferred.fire(result);
            }
        });
    }
}

impl<T: Send + 'static> Drop for ThreadReply<T> {
    fn drop(&mut self) {
        if !self.sent {
            self.deliver(Err(Failure::msg(
                "the worker thread ended without replying",
            )));
        }
    }
}

impl<T: Send + 'static> fmt::Debug for ThreadReply<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadReply")
            .field("sent", &self.sent)
            .finish()
    }
}

/// The default resolver, for `Shared::new`.
pub(crate) fn default_resolver() -> Rc<dyn Resolver> {
    Rc::new(SystemResolver)
}
