//! [`Core`]: the reactor's state, owned by the [`Reactor`](crate::Reactor) and lent by `&mut`
//! to every callback it runs.
//!
//! Everything a callback may touch is a plain field here: the poll (and its registry), the port
//! table, triggers, replies from worker threads, the resolver, the counters. A
//! protocol callback gets the core and its own port (lent out of the table) as two disjoint
//! borrows in its [`Context`](crate::Context); timers, queued calls and triggers get the core
//! itself. Nothing is reference-counted for the callback's sake, and no borrow is checked at
//! run time on the way from a received datagram to its reply.
//!
//! Code that cannot be handed the core (a Deferred callback, a `LoopingCall` function) holds a
//! [`Handle`] and queues a closure that will get it.

use std::any::Any;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsFd, AsRawFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio::{Poll, Token};

use crate::defer::{Deferred, Failure};
use crate::dispatch;
use crate::error::{DnsLookupError, ListenError, ReactorError};
use crate::guard;
use crate::handle::Handle;
use crate::lifecycle::{Phase, ReactorState, SystemEvent, TriggerId, Triggers};
use crate::mailbox::Mailbox;
use crate::ports::{Entry, PortTable};
use crate::protocol::DatagramProtocol;
use crate::remote::{RemoteHandle, Replies, ThreadReply};
use crate::resolve::{Resolver, SystemResolver, pick_address};
use crate::stats::{ReactorCounters, ReactorStats};
use crate::sys;
use crate::time::{DelayedCall, Timers};
use crate::udp::outbox::Outbox;
use crate::udp::port::{NewPort, Port, PortId};
use crate::udp::{ListenOptions, MAX_DATAGRAM, ProtocolHandle, Transport, parse_interface, scoped};
use crate::unix::dispatch::UnixEntry;

/// The reactor as callbacks see it (Twisted's global `reactor`): open and list ports,
/// schedule calls, resolve names, stop.
///
/// [`Reactor`](crate::Reactor) dereferences to it, so `reactor.listen_udp(…)` and
/// `reactor.call_later(…)` read as in Twisted; a protocol callback reaches it through
/// [`Context::reactor`](crate::Context::reactor), and delayed calls, queued calls and triggers
/// are handed it by `&mut`.
///
/// ```
/// use gyre::Reactor;
/// use std::time::Duration;
///
/// let mut reactor = Reactor::new().unwrap();
/// reactor.install_signal_handlers(false);
/// reactor.call_later(Duration::from_millis(5), |r| {
///     // `r` is the reactor's core: the whole reactor, borrowed for this call.
///     r.call_later(Duration::from_millis(5), |r| { r.stop().unwrap(); });
/// });
/// reactor.run().unwrap();
/// assert_eq!(reactor.stats().timers_fired, 2);
/// ```
pub struct Core {
    pub(crate) poll: Poll,
    pub(crate) ports: PortTable,
    pub(crate) unix_ports: PortTable<UnixEntry>,
    pub(crate) outbox: Rc<Outbox>,
    pub(crate) mailbox: Rc<Mailbox>,
    pub(crate) triggers: Triggers,
    pub(crate) replies: Replies,
    pub(crate) resolver: Rc<dyn Resolver>,
    pub(crate) resolve_timeout: Duration,
    pub(crate) counters: ReactorCounters,
    /// Set once shutdown has closed the ports for good: no new port may open.
    pub(crate) ports_closed: bool,
    /// The simulated network this reactor's UDP ports live on, if a test attached one.
    pub(crate) network: Option<crate::testing::Network>,
}

impl Core {
    pub(crate) fn new(poll: Poll, mailbox: Mailbox) -> Core {
        Core {
            poll,
            ports: PortTable::default(),
            unix_ports: PortTable::default(),
            outbox: Rc::default(),
            mailbox: Rc::new(mailbox),
            triggers: Triggers::default(),
            replies: Replies::default(),
            resolver: Rc::new(SystemResolver),
            resolve_timeout: Duration::from_secs(60),
            counters: ReactorCounters::default(),
            ports_closed: false,
            network: None,
        }
    }

    /// Opens a UDP port on every IPv4 interface (Twisted's `listenUDP(port, protocol)`).
    /// `start_protocol` has run when this returns. Port 0 picks a free port.
    pub fn listen_udp(
        &mut self,
        port: u16,
        protocol: impl DatagramProtocol,
    ) -> Result<Transport, ListenError> {
        self.listen_udp_with(ListenOptions::new(port), protocol)
    }

    /// Opens a UDP port for multicast (Twisted's `listenMulticast`). Any port can join groups;
    /// use [`listen_multicast_with`](Core::listen_multicast_with) and
    /// [`ListenOptions::listen_multiple`] to share the port with other listeners.
    pub fn listen_multicast(
        &mut self,
        port: u16,
        protocol: impl DatagramProtocol,
    ) -> Result<Transport, ListenError> {
        self.listen_udp_with(ListenOptions::new(port), protocol)
    }

    /// Opens a multicast port with options (interface, max packet size, `listen_multiple`).
    /// Without `listen_multiple`, a port already bound by another listener is `CannotListen`.
    pub fn listen_multicast_with(
        &mut self,
        options: ListenOptions,
        protocol: impl DatagramProtocol,
    ) -> Result<Transport, ListenError> {
        self.listen_udp_with(options, protocol)
    }

    /// Opens a UDP port with options: interface, maximum packet size, socket options.
    /// Once the reactor has shut its ports down, this is [`ListenError::ReactorStopped`].
    pub fn listen_udp_with(
        &mut self,
        options: ListenOptions,
        protocol: impl DatagramProtocol,
    ) -> Result<Transport, ListenError> {
        self.check_can_listen()?;
        let ip = parse_interface(&options.interface).map_err(ListenError::InvalidAddress)?;
        let address = scoped(ip, options.port);
        if let Some(network) = self.network.clone() {
            return self.listen_simulated(&network, address, options.max_packet_size, protocol);
        }
        let cannot = |source| ListenError::CannotListen { address, source };
        let socket = sys::bind_udp(address, &options.setup).map_err(cannot)?;
        let new = NewPort::os(socket, address, options.max_packet_size).map_err(cannot)?;
        let new = NewPort {
            icmp_errors: options.setup.recv_err,
            reply_from: options.setup.pktinfo && address.ip().is_unspecified(),
            gro: options.setup.gro,
            ..new
        };
        self.open_port(new, protocol)
    }

    /// [`listen_udp_with`](Core::listen_udp_with), returning a [`ProtocolHandle`] through
    /// which the protocol itself can be reached between callbacks (`handle.with(reactor, |p|
    /// …)`), typed, with no `Rc<RefCell<…>>` around its state.
    pub fn listen_udp_with_handle<P: DatagramProtocol>(
        &mut self,
        options: ListenOptions,
        protocol: P,
    ) -> Result<ProtocolHandle<P>, ListenError> {
        self.listen_udp_with(options, protocol)
            .map(ProtocolHandle::new)
    }

    /// Serves a UDP socket that is already bound (Twisted's `adoptDatagramPort`): a `std`
    /// socket, one inherited through socket activation
    /// ([`activation::listen_fds`](crate::activation::listen_fds)), anything `AsFd`. gyre
    /// works on a duplicate of the descriptor, so stopping the port closes only gyre's copy:
    /// the caller's socket stays open (and, sharing the open file, non-blocking). Not a bound
    /// IPv4/IPv6 datagram socket: [`ListenError::CannotAdopt`].
    ///
    /// ```
    /// use gyre::{Context, DatagramProtocol, Outcome, Reactor};
    /// use std::net::SocketAddr;
    ///
    /// struct Quiet;
    /// impl DatagramProtocol for Quiet {
    ///     fn datagram_received(&mut self, _: &mut Context<'_>, _: &[u8], _: SocketAddr) -> Outcome {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let mut reactor = Reactor::new().unwrap();
    /// let mine = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let port = reactor.adopt_udp(&mine, Quiet).unwrap();
    /// assert_eq!(port.get_host().unwrap(), mine.local_addr().unwrap());
    /// ```
    pub fn adopt_udp(
        &mut self,
        socket: impl AsFd,
        protocol: impl DatagramProtocol,
    ) -> Result<Transport, ListenError> {
        self.adopt_udp_with(socket, MAX_DATAGRAM, protocol)
    }

    /// [`adopt_udp`](Core::adopt_udp) with a maximum packet size (Twisted's `maxPacketSize`).
    pub fn adopt_udp_with(
        &mut self,
        socket: impl AsFd,
        max_packet_size: usize,
        protocol: impl DatagramProtocol,
    ) -> Result<Transport, ListenError> {
        self.check_can_listen()?;
        let fd = socket.as_fd();
        let cannot = |source| ListenError::CannotAdopt {
            fd: fd.as_raw_fd(),
            source,
        };
        let socket = sys::adopt_udp(fd).map_err(cannot)?;
        let local = socket.local_addr().map_err(cannot)?;
        let max_packet = max_packet_size.clamp(1, MAX_DATAGRAM);
        let new = NewPort::os(socket, local, max_packet).map_err(cannot)?;
        self.open_port(new, protocol)
    }

    pub(crate) fn check_can_listen(&self) -> Result<(), ListenError> {
        match self.ports_closed {
            true => Err(ListenError::ReactorStopped),
            false => Ok(()),
        }
    }

    /// Files a bound socket as a port and runs `start_protocol`; a failed start closes it
    /// again and returns the failure.
    pub(crate) fn open_port<P: DatagramProtocol>(
        &mut self,
        new: NewPort,
        protocol: P,
    ) -> Result<Transport, ListenError> {
        let prefix = guard::log_prefix(|| protocol.log_prefix().into(), std::any::type_name::<P>());
        let id = self.ports.next_id();
        new.socket
            .register(self.poll.registry(), Token(id.key))
            .map_err(|source| ListenError::CannotListen {
                address: new.address,
                source,
            })?;
        let local = new.local;
        let port = Port::new(id, prefix, new, self.outbox.clone());
        let transport = port.transport().clone();
        self.ports.insert_lent(transport.clone());
        log::info!(target: "gyre::udp", "{} starting on {}", port.shared().prefix, local.port());
        let mut entry = Entry {
            port,
            protocol: Box::new(protocol),
        };
        match dispatch::call(&mut entry, self, "start_protocol", |p, cx| {
            p.start_protocol(cx)
        }) {
            Ok(()) => {
                self.ports.put_back(entry);
                Ok(transport)
            }
            Err(failure) => {
                self.ports.remove_lent(id);
                self.finish_port(entry);
                Err(ListenError::StartFailed(failure))
            }
        }
    }

    /// Tells a port's protocol about the errors its port met: each ICMP refusal
    /// (`connection_refused`), then each ICMP error (`icmp_error`). Rare: kept out of the
    /// loop's turn.
    #[cold]
    pub(crate) fn deliver_port_errors(&mut self, id: PortId) {
        if id.is_unix() {
            return self.deliver_unix_refusals(id);
        }
        let Some(mut entry) = self.ports.lend(id) else {
            return;
        };
        for _ in 0..entry.port.shared().take_refusals() {
            let _ = dispatch::call(&mut entry, self, "connection_refused", |p, cx| {
                p.connection_refused(cx)
            });
        }
        while let Some(error) = entry.port.shared().next_icmp() {
            let _ = dispatch::call(&mut entry, self, "icmp_error", |p, cx| {
                p.icmp_error(cx, &error)
            });
        }
        self.ports.put_back(entry);
    }

    /// Gives the port its `stop_protocol` (if `notify`), closes its socket, and fires its
    /// `stop_listening` Deferred.
    pub(crate) fn close_port(&mut self, id: PortId, notify: bool) {
        if id.is_unix() {
            return self.close_unix_port(id, notify);
        }
        let Some(mut entry) = self.ports.take(id) else {
            return;
        };
        if notify {
            let _ = dispatch::call(&mut entry, self, "stop_protocol", |p, cx| {
                p.stop_protocol(cx)
            });
        }
        self.finish_port(entry);
    }

    /// Closes a port that is out of the table: deregisters and drops its socket, drops its
    /// protocol (a panicking `Drop` is caught), then fires its `stop_listening` Deferred.
    fn finish_port(&mut self, mut entry: Entry) {
        let done = entry.port.close(self.poll.registry());
        let shared = entry.port.shared();
        log::info!(target: "gyre::udp", "(UDP Port {} Closed)", shared.local.port());
        let (stats, name) = (shared.stats(), shared.name().to_string());
        self.retire_port(entry, stats, &name, done);
    }

    /// The end of a closed port of either kind: its counters go to the closed ports' totals,
    /// its entry (with the protocol) is dropped where a panicking `Drop` is caught, and its
    /// `stop_listening` Deferred fires.
    pub(crate) fn retire_port<E>(
        &mut self,
        entry: E,
        stats: crate::stats::PortStats,
        name: &str,
        done: Option<Deferred<()>>,
    ) {
        self.counters.closed_ports = self.counters.closed_ports.plus(stats);
        if guard::drop_guarded(entry, name) {
            self.counters.callback_failures += 1;
        }
        if let Some(done) = done {
            let _ = done.callback(());
        }
    }

    /// Runs `f` once, `delay` from now (Twisted's `callLater`), with the reactor's core. A
    /// delay too long for the clock (`Duration::MAX`) means never.
    pub fn call_later(&self, delay: Duration, f: impl FnOnce(&mut Core) + 'static) -> DelayedCall {
        call_later(&self.mailbox.timers, delay, f)
    }

    /// Queues `f` to run on this turn's "queued calls" step (or the next turn's, if that step
    /// has passed): after I/O and timers, before the loop sleeps again. FIFO.
    pub fn call_soon(&self, f: impl FnOnce(&mut Core) + 'static) {
        self.mailbox.push_call(Box::new(f));
    }

    /// The reactor's timer queue, for `LoopingCall`, `defer_later` and `add_timeout`. The
    /// reactor runs it; to move a reactor on a [`ManualClock`](crate::time::ManualClock),
    /// advance the clock and `iterate`.
    pub fn timers(&self) -> &Timers {
        &self.mailbox.timers
    }

    /// The reactor clock's current time (Twisted's `seconds()`, but monotonic).
    pub fn now(&self) -> Instant {
        self.mailbox.timers.now()
    }

    /// Asks the reactor to stop: shutdown begins at the end of the current turn (Twisted's
    /// `stop`). Errors with [`ReactorError::NotRunning`] unless it is running.
    pub fn stop(&self) -> Result<(), ReactorError> {
        request_stop(&self.mailbox)
    }

    /// Ends `run` after the current turn without shutting down: no triggers, ports stay open,
    /// and `run` may be called again (Twisted's `crash`).
    pub fn crash(&self) {
        crash(&self.mailbox);
    }

    /// Where the reactor is in its life.
    pub fn state(&self) -> ReactorState {
        self.mailbox.state()
    }

    /// Whether the reactor is running (Twisted's `running`): from "during startup" until
    /// shutdown finishes.
    pub fn running(&self) -> bool {
        self.state().is_looping()
    }

    /// Runs `f` now if the reactor is running, or once it starts (Twisted's
    /// `callWhenRunning`).
    pub fn call_when_running(&mut self, f: impl FnOnce(&mut Core) + 'static) -> Option<TriggerId> {
        if self.running() {
            f(self);
            return None;
        }
        Some(
            self.add_system_event_trigger(Phase::After, SystemEvent::Startup, move |r| {
                f(r);
                None
            }),
        )
    }

    /// Adds a trigger for a phase of startup or shutdown (Twisted's
    /// `addSystemEventTrigger`). A "before shutdown" trigger may return a Deferred: shutdown
    /// waits for all of them. A panicking trigger is logged; the others still run.
    pub fn add_system_event_trigger(
        &mut self,
        phase: Phase,
        event: SystemEvent,
        f: impl FnOnce(&mut Core) -> Option<Deferred<()>> + 'static,
    ) -> TriggerId {
        self.triggers.add(phase, event, Box::new(f))
    }

    /// Removes a trigger that has not run; false if there is none with that id.
    pub fn remove_system_event_trigger(&mut self, id: TriggerId) -> bool {
        self.triggers.remove(id)
    }

    /// Runs every trigger of one phase; returns the Deferreds they gave back.
    pub(crate) fn fire_triggers(&mut self, phase: Phase, event: SystemEvent) -> Vec<Deferred<()>> {
        let mut waits = Vec::new();
        for trigger in self.triggers.take(phase, event) {
            match guard::catch(|| trigger(self)) {
                Ok(Some(d)) => waits.push(d),
                Ok(None) => {}
                Err(message) => {
                    self.counters.callback_failures += 1;
                    crate::failures::report_failure!(target: "gyre::reactor", "a {phase:?} {event:?} trigger panicked: {message}");
                }
            }
        }
        waits
    }

    /// Looks a host name up without blocking the loop (Twisted's `resolve`). `""` is
    /// `0.0.0.0`; an IP literal answers at once; otherwise the resolver runs (by default
    /// `getaddrinfo` on a worker thread) and the first IPv4 address wins, else the first IPv6
    /// one. Fails with [`DnsLookupError`] naming the host, or with
    /// [`TimeoutError`](crate::error::TimeoutError) after the resolve timeout (60 s unless set).
    pub fn resolve(&mut self, name: &str) -> Deferred<IpAddr> {
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
    pub fn resolve_all(&mut self, name: &str) -> Deferred<Vec<IpAddr>> {
        let resolver = self.resolver.clone();
        let found = resolver.resolve(name, self);
        found.add_timeout(self.resolve_timeout, &self.mailbox.timers);
        found
    }

    /// Replaces the resolver (a test double, a DNS client…).
    pub fn set_resolver(&mut self, resolver: impl Resolver) {
        self.resolver = Rc::new(resolver);
    }

    /// Sets how long a lookup may take before it fails with a timeout (default 60 s, the total
    /// of Twisted's `(1, 3, 11, 45)`). `Duration::MAX` means no timeout.
    pub fn set_resolve_timeout(&mut self, timeout: Duration) {
        self.resolve_timeout = timeout;
    }

    /// Runs `future` on the reactor's own executor and returns a Deferred of its output
    /// (Twisted's `Deferred.fromCoroutine` / `ensureDeferred`). The future runs at once up to
    /// its first wait, then whenever it is woken, on the loop's thread; it may await
    /// Deferreds (`d.await?`). Cancelling the returned Deferred cancels the Deferred the
    /// future awaits and drops the future. A panic in it fails the Deferred with a
    /// [`PanicError`](crate::error::PanicError), logged and counted like a callback's.
    ///
    /// ```
    /// use gyre::Reactor;
    /// use gyre::defer::{Deferred, Failure};
    ///
    /// let mut reactor = Reactor::new().unwrap();
    /// let ready = Deferred::<u32>::new();
    /// let wait = ready.clone();
    /// let sum = reactor.ensure_deferred(async move {
    ///     let n = wait.await?; // waits for `ready` to fire
    ///     Ok::<u32, Failure>(n + 1)
    /// });
    /// assert!(!sum.is_called());
    /// ready.callback(41).unwrap(); // wakes the task ...
    /// reactor.iterate(std::time::Duration::ZERO).unwrap(); // ... which runs on the next turn
    /// assert_eq!(sum.take_result().unwrap().unwrap(), 42);
    /// ```
    pub fn ensure_deferred<T: 'static>(
        &self,
        future: impl std::future::Future<Output = Result<T, Failure>> + 'static,
    ) -> Deferred<T> {
        self.mailbox.executor.spawn(future)
    }

    /// A handle for code on this thread that cannot be handed the core: Deferred callbacks,
    /// `LoopingCall` functions (Twisted's global `reactor`, kept).
    pub fn handle(&self) -> Handle {
        Handle::new(self.mailbox.clone())
    }

    /// A handle for other threads (Twisted's `callFromThread`).
    pub fn remote(&self) -> RemoteHandle {
        RemoteHandle::new(self.mailbox.remote.clone())
    }

    /// A Deferred on this thread and a `Send` reply for a worker thread: whatever the worker
    /// sends fires the Deferred on the reactor's thread, through `call_from_thread`. Once the
    /// Deferred is cancelled (or timed out) the reply goes nowhere. A reply dropped unsent
    /// fails the Deferred.
    pub fn reply_from_thread<T: Send + 'static>(&mut self) -> (Deferred<T>, ThreadReply<T>) {
        let deferred = Deferred::new();
        let (key, serial) = self.replies.file(deferred.clone());
        (deferred, ThreadReply::new(self.remote(), key, serial))
    }

    /// What the reactor has done so far.
    pub fn stats(&self) -> ReactorStats {
        let c = &self.counters;
        let timers = &self.mailbox.timers;
        ReactorStats {
            turns: c.turns,
            events: c.events,
            timers_fired: timers.fired(),
            calls_run: c.calls_run,
            ports_open: (self.ports.len() + self.unix_ports.len()) as u64,
            ports: c
                .closed_ports
                .plus(self.ports.totals())
                .plus(self.unix_ports.totals()),
            callback_failures: c.callback_failures
                + timers.panicked()
                + self.mailbox.executor.panicked(),
        }
    }

    /// The port (of either kind) behind a `mio` token.
    #[inline]
    pub(crate) fn port_by_key(&self, key: usize) -> Option<PortId> {
        match self.ports.by_key(key) {
            None => self.unix_ports.by_key(key),
            found => found,
        }
    }

    /// Error readiness on a port: takes its pending socket error.
    pub(crate) fn take_port_error(&self, id: PortId) {
        match id.is_unix() {
            false => self.ports.get(id).map(|e| e.port.take_error()),
            true => self.unix_ports.get(id).map(|e| e.port.take_error()),
        };
    }

    /// Every open port, of either kind.
    pub(crate) fn port_ids(&self) -> Vec<PortId> {
        let mut ids = self.ports.ids();
        ids.extend(self.unix_ports.ids());
        ids
    }

    /// Every open UDP port's transport.
    pub fn ports(&self) -> Vec<Transport> {
        self.ports.handles()
    }

    /// The reactor is being dropped: runs the calls other threads were promised, closes
    /// every port (no `stop_protocol`: the reactor is not shutting down, it is going away),
    /// and drops every pending call, timer, trigger and reply where a panicking `Drop` is
    /// caught. Afterwards no handle can reach a socket, and the calls that held handles are
    /// gone, so nothing keeps this reactor's memory alive either.
    pub(crate) fn tear_down(&mut self) {
        self.ports_closed = true;
        self.close_entrances();
        for id in self.port_ids() {
            self.close_port(id, false);
        }
        self.outbox.close();
        self.outbox.discard_writes();
        if !matches!(self.state(), ReactorState::Stopped) {
            self.mailbox.set_state(ReactorState::Stopped);
        }
        for _ in 0..8 {
            let mut leftovers: Vec<Box<dyn Any>> = Vec::new();
            leftovers.extend(self.mailbox.close().into_iter().map(|c| Box::new(c) as _));
            leftovers.extend(
                self.mailbox
                    .timers
                    .close()
                    .into_iter()
                    .map(|c| Box::new(c) as _),
            );
            leftovers.extend(
                self.mailbox
                    .executor
                    .close()
                    .into_iter()
                    .map(|t| Box::new(t) as _),
            );
            leftovers.extend(self.triggers.drain().into_iter().map(|t| Box::new(t) as _));
            leftovers.extend(self.replies.drain());
            if leftovers.is_empty() {
                break;
            }
            for leftover in leftovers {
                guard::drop_guarded(
                    leftover,
                    "a call, timer, task or trigger left when the reactor was dropped",
                );
            }
        }
    }

    /// Refuses calls from other threads from now on, and runs those already accepted (they
    /// returned `Ok`, so they run).
    pub(crate) fn close_entrances(&mut self) {
        let accepted = self.mailbox.remote.close();
        for call in accepted {
            self.run_guarded("a call from another thread", call);
        }
    }

    /// Runs one queued call, catching a panic (logged and counted).
    pub(crate) fn run_guarded(&mut self, what: &str, call: impl FnOnce(&mut Core)) {
        self.counters.calls_run += 1;
        if let Err(message) = guard::catch(|| call(self)) {
            self.counters.callback_failures += 1;
            crate::failures::report_failure!(target: "gyre::reactor", "{what} panicked: {message}");
        }
    }
}

/// `call_later` for the reactor: the call is handed the core by the loop's timer step.
pub(crate) fn call_later(
    timers: &Timers,
    delay: Duration,
    f: impl FnOnce(&mut Core) + 'static,
) -> DelayedCall {
    timers.call_later_with(delay, move |cx: &mut dyn Any| match cx.downcast_mut::<Core>() {
        Some(core) => f(core),
        None => crate::failures::report_failure!(target: "gyre::time",
            "a reactor call ran outside the reactor's loop (run_due or advance on its timers) and was dropped; \
             advance the clock and iterate the reactor instead"),
    })
}

pub(crate) fn request_stop(mailbox: &Mailbox) -> Result<(), ReactorError> {
    match mailbox.state() {
        ReactorState::Running => {
            mailbox.set_state(ReactorState::StopRequested);
            Ok(())
        }
        _ => Err(ReactorError::NotRunning),
    }
}

pub(crate) fn crash(mailbox: &Mailbox) {
    if mailbox.state().is_looping() {
        mailbox.set_state(ReactorState::Idle);
    }
}

impl fmt::Debug for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Core")
            .field("state", &self.state())
            .field("ports", &self.ports.len())
            .field("timers", &self.mailbox.timers.len())
            .finish()
    }
}
