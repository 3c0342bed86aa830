//! [`Reactor`]: the poll loop. One turn is [`Reactor::run_once`]; read it first.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::ops::Deref;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use crate::defer::{deferred_list, panic_message};
use crate::error::ReactorError;
use crate::handle::{
    Handle, LocalCall, PortWork, RemoteCall, RemoteQueue, Shared, default_resolver,
};
use crate::lifecycle::{Phase, ReactorState, SystemEvent};
use crate::sys::{RecvBatch, SendBatch};
use crate::time::{Clock, SystemClock, Timers};
use crate::udp::read::{Drain, read_port};
use crate::udp::send_queue::flush;
use crate::udp::table::PortId;

/// `mio` token of the waker that `call_from_thread` uses.
const WAKER: Token = Token(usize::MAX);
/// `mio` token of the SIGINT/SIGTERM source.
const SIGNALS: Token = Token(usize::MAX - 1);
/// Datagrams read from one port per turn before the loop moves on (fairness).
const READ_BUDGET: usize = 256;
/// Readiness events taken from one `poll`.
const EVENT_CAPACITY: usize = 1024;

/// The reactor: a single-threaded `mio` poll loop that owns UDP ports, timers and queued
/// calls, and runs protocol callbacks (Twisted's reactor).
///
/// `Reactor` owns what only the loop touches (the `Poll`, the event buffer, the receive
/// buffer); everything callbacks may reach lives behind the [`Handle`] it dereferences to, so
/// `reactor.listen_udp(…)`, `reactor.call_later(…)` and `reactor.stop()` read as in Twisted.
///
/// ```
/// use gyre_reactor::Reactor;
/// use std::time::Duration;
///
/// let mut reactor = Reactor::new().unwrap();
/// reactor.install_signal_handlers(false);
/// reactor.call_later(Duration::from_millis(10), |r| { r.stop().unwrap(); });
/// reactor.run().unwrap();
/// assert!(reactor.run().is_err()); // a stopped reactor does not restart
/// ```
pub struct Reactor {
    handle: Handle,
    poll: Poll,
    events: Events,
    /// The receive buffers, reused for every batch of every port.
    recv_batch: RecvBatch,
    /// Send headers, reused for every batch of queued writes.
    send_batch: SendBatch,
    /// Ports whose read budget ran out: read again next turn without waiting for an event.
    still_readable: Vec<PortId>,
    /// Ports to read this turn (reused to avoid allocating per turn).
    to_read: Vec<PortId>,
    remote_batch: VecDeque<RemoteCall>,
    local_batch: VecDeque<LocalCall>,
    signals: Option<Signals>,
    install_signals: bool,
}

impl Reactor {
    /// A reactor on the system's monotonic clock.
    pub fn new() -> io::Result<Reactor> {
        Reactor::with_clock(SystemClock)
    }

    /// A reactor on any clock; with a [`ManualClock`](crate::time::ManualClock), timers move
    /// only when the test advances them, while sockets stay real.
    pub fn with_clock(clock: impl Clock) -> io::Result<Reactor> {
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = mio::Waker::new(poll.registry(), WAKER)?;
        let shared = Shared {
            state: Cell::new(ReactorState::Idle),
            timers: Timers::new(clock),
            ports: RefCell::default(),
            registry,
            port_work: RefCell::new(PortWork::default()),
            calls: RefCell::default(),
            remote: Arc::new(RemoteQueue {
                calls: Mutex::new(VecDeque::new()),
                waker,
                open: AtomicBool::new(true),
            }),
            triggers: RefCell::default(),
            replies: RefCell::default(),
            resolver: RefCell::new(default_resolver()),
            resolve_timeout: Cell::new(Duration::from_secs(60)),
            counters: Default::default(),
            shutdown_ready: Cell::new(false),
            batching: Cell::new(false),
            stops: Cell::new(0),
            send_queue: RefCell::default(),
        };
        Ok(Reactor {
            handle: Handle::new(shared),
            poll,
            events: Events::with_capacity(EVENT_CAPACITY),
            recv_batch: RecvBatch::new(),
            send_batch: SendBatch::new(),
            still_readable: Vec::new(),
            to_read: Vec::new(),
            remote_batch: VecDeque::new(),
            local_batch: VecDeque::new(),
            signals: None,
            install_signals: true,
        })
    }

    /// A cloneable handle for callbacks and closures on this thread.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Whether `run` installs SIGINT and SIGTERM handlers that stop the reactor cleanly
    /// (default: yes; Twisted's `installSignalHandlers`).
    pub fn install_signal_handlers(&mut self, on: bool) {
        self.install_signals = on;
    }

    /// Raises this process's open-file limit to its hard limit (Linux), for reactors with
    /// thousands of ports; returns the new limit.
    pub fn raise_open_files_limit() -> io::Result<u64> {
        crate::sys::raise_open_files_limit()
    }

    /// Runs the loop until the reactor is stopped (and shut down) or crashed (Twisted's
    /// `run`). Startup triggers fire first; `call_when_running` calls run once it is running.
    pub fn run(&mut self) -> Result<(), ReactorError> {
        match self.handle.state() {
            ReactorState::Idle => {}
            ReactorState::Stopped => return Err(ReactorError::NotRestartable),
            _ => return Err(ReactorError::AlreadyRunning),
        }
        self.start_up();
        while self.handle.state().is_looping() {
            self.run_once(None)?;
        }
        Ok(())
    }

    /// One turn of the loop, waiting at most `max_wait` for I/O (Twisted's `iterate`). Works
    /// whether or not `run` is active, which makes it handy in tests.
    pub fn iterate(&mut self, max_wait: Duration) -> Result<(), ReactorError> {
        self.run_once(Some(max_wait))
    }

    /// One turn: the whole loop on one screen. `max_wait` caps the poll (`None`: until the
    /// next timer, or forever).
    pub fn run_once(&mut self, max_wait: Option<Duration>) -> Result<(), ReactorError> {
        let timeout = self.poll_timeout(max_wait); // 1-2. how long may we sleep?
        self.poll(timeout)?; // 3. wait for readiness
        self.handle.shared.batching.set(true); //   (writes now queue, and leave in batches)
        self.dispatch_io(); // 4. read ready ports, hand datagrams to protocols
        self.fire_timers(); // 5. delayed calls that are due
        self.run_queued_calls(); // 6. calls from threads, then call_soon calls
        self.flush_writes(); // 7. send what was written since the last batch
        self.deliver_refusals(); // 8. ICMP refusals seen by writes → connection_refused
        self.apply_lifecycle(); // 9. close stopped ports; shutdown steps
        self.handle.shared.counters.turns.add(1);
        Ok(())
    }

    /// Zero when work is already waiting; otherwise until the next timer, capped by `max_wait`.
    fn poll_timeout(&self, max_wait: Option<Duration>) -> Option<Duration> {
        let shared = &self.handle.shared;
        let work_waiting = !self.still_readable.is_empty()
            || !shared.calls.borrow().is_empty()
            || !shared
                .remote
                .calls
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_empty()
            || !shared.port_work.borrow().stopping.is_empty()
            || !shared.port_work.borrow().refused.is_empty()
            || !shared.port_work.borrow().readable.is_empty()
            || self.lifecycle_step_due();
        let timeout = if work_waiting {
            Some(Duration::ZERO)
        } else {
            shared.timers.timeout()
        };
        match (timeout, max_wait) {
            (Some(t), Some(m)) => Some(t.min(m)),
            (t, m) => t.or(m),
        }
    }

    fn poll(&mut self, timeout: Option<Duration>) -> Result<(), ReactorError> {
        log::trace!(target: "gyre::reactor", "turn {}: poll({timeout:?})", self.handle.shared.counters.turns.get());
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => self.events.clear(),
            Err(e) => {
                log::error!(target: "gyre::reactor", "poll failed: {e}");
                return Err(ReactorError::PollFailed);
            }
        }
        let n = self.events.iter().count();
        self.handle.shared.counters.events.add(n as u64);
        log::trace!(target: "gyre::reactor", "  {n} event(s)");
        Ok(())
    }

    /// Reads every port that is ready (events) or was left readable last turn (budget).
    fn dispatch_io(&mut self) {
        let mut signalled = false;
        self.to_read.clear();
        self.to_read.append(&mut self.still_readable);
        self.to_read
            .append(&mut self.handle.shared.port_work.borrow_mut().readable);
        for event in self.events.iter() {
            match event.token() {
                WAKER => {}
                SIGNALS => signalled = true,
                Token(key) => {
                    let Some(id) = self.handle.shared.ports.borrow().by_key(key) else {
                        continue; // closed earlier this turn
                    };
                    if event.is_error() {
                        take_socket_error(&self.handle, id);
                    }
                    self.to_read.push(id);
                }
            }
        }
        if signalled {
            self.handle_signals();
        }
        for i in 0..self.to_read.len() {
            let id = self.to_read[i];
            let drain = read_port(
                &self.handle,
                id,
                &mut self.recv_batch,
                &mut self.send_batch,
                READ_BUDGET,
            );
            if drain == Drain::BudgetSpent {
                self.still_readable.push(id);
            }
        }
    }

    fn fire_timers(&mut self) {
        let ran = self.handle.shared.timers.run_due();
        if ran > 0 {
            log::trace!(target: "gyre::reactor", "  {ran} timer(s) fired");
        }
    }

    /// Runs the calls queued before this step began: first those from other threads, then
    /// `call_soon` calls (Deferred continuations, results). Calls queued meanwhile wait a turn.
    fn run_queued_calls(&mut self) {
        {
            let mut queue = self
                .handle
                .shared
                .remote
                .calls
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            std::mem::swap(&mut *queue, &mut self.remote_batch);
        }
        std::mem::swap(
            &mut *self.handle.shared.calls.borrow_mut(),
            &mut self.local_batch,
        );
        let ran = self.remote_batch.len() + self.local_batch.len();
        while let Some(call) = self.remote_batch.pop_front() {
            guarded_call(&self.handle, "a call from another thread", call);
        }
        while let Some(call) = self.local_batch.pop_front() {
            guarded_call(&self.handle, "a queued call", call);
        }
        self.handle.shared.counters.calls_run.add(ran as u64);
        if ran > 0 {
            log::trace!(target: "gyre::reactor", "  {ran} queued call(s) ran");
        }
    }

    /// Sends the writes queued by timers and calls; later writes in this turn go straight out.
    fn flush_writes(&mut self) {
        flush(&self.handle.shared, &mut self.send_batch);
        self.handle.shared.batching.set(false);
    }

    /// Tells connected protocols about ICMP refusals their writes ran into.
    fn deliver_refusals(&mut self) {
        let refused = std::mem::take(&mut self.handle.shared.port_work.borrow_mut().refused);
        for id in refused {
            deliver_refusal(&self.handle, id);
        }
    }

    /// Closes ports whose `stop_listening` was called, then moves shutdown along.
    fn apply_lifecycle(&mut self) {
        let stopping = std::mem::take(&mut self.handle.shared.port_work.borrow_mut().stopping);
        for id in stopping {
            self.handle.close_port(id, true);
        }
        match self.handle.state() {
            ReactorState::StopRequested => self.begin_shutdown(),
            ReactorState::ShuttingDown if self.handle.shared.shutdown_ready.get() => {
                self.finish_shutdown()
            }
            _ => {}
        }
    }

    fn lifecycle_step_due(&self) -> bool {
        match self.handle.state() {
            ReactorState::StopRequested => true,
            ReactorState::ShuttingDown => self.handle.shared.shutdown_ready.get(),
            _ => false,
        }
    }

    /// Startup: "before" triggers, then running (signal handlers), "during", "after".
    fn start_up(&mut self) {
        self.handle
            .fire_triggers(Phase::Before, SystemEvent::Startup);
        self.handle.shared.state.set(ReactorState::Running);
        if self.install_signals {
            self.install_signal_handlers_now();
        }
        self.handle
            .fire_triggers(Phase::During, SystemEvent::Startup);
        self.handle
            .fire_triggers(Phase::After, SystemEvent::Startup);
    }

    /// Shutdown, first half: "before shutdown" triggers; waits for the Deferreds they return.
    fn begin_shutdown(&mut self) {
        let shared = &self.handle.shared;
        shared.state.set(ReactorState::ShuttingDown);
        shared.shutdown_ready.set(false);
        let waits = self
            .handle
            .fire_triggers(Phase::Before, SystemEvent::Shutdown);
        if waits.is_empty() {
            shared.shutdown_ready.set(true);
            return;
        }
        log::debug!(target: "gyre::reactor", "shutdown waits for {} Deferred(s)", waits.len());
        let weak = std::rc::Rc::downgrade(shared);
        deferred_list(waits).add_both(move |results| {
            if let Some(shared) = weak.upgrade() {
                shared.shutdown_ready.set(true);
            }
            results
        });
    }

    /// Shutdown, second half: "during" (every port stops), "after", then stopped.
    fn finish_shutdown(&mut self) {
        self.handle
            .fire_triggers(Phase::During, SystemEvent::Shutdown);
        let ids = self.handle.shared.ports.borrow().ids();
        for id in ids {
            self.handle.close_port(id, true);
        }
        self.handle
            .fire_triggers(Phase::After, SystemEvent::Shutdown);
        self.handle.shared.state.set(ReactorState::Stopped);
        self.close_entrances();
        log::info!(target: "gyre::reactor", "reactor stopped");
    }

    fn install_signal_handlers_now(&mut self) {
        let installed = Signals::new([SIGINT, SIGTERM]).and_then(|mut signals| {
            self.poll
                .registry()
                .register(&mut signals, SIGNALS, Interest::READABLE)?;
            Ok(signals)
        });
        match installed {
            Ok(signals) => self.signals = Some(signals),
            Err(e) => log::warn!(target: "gyre::reactor", "cannot install signal handlers: {e}"),
        }
    }

    /// Stops accepting calls from other threads and signals: the loop will not run again.
    fn close_entrances(&mut self) {
        self.handle
            .shared
            .remote
            .open
            .store(false, Ordering::Release);
        self.remove_signal_handlers();
    }

    fn remove_signal_handlers(&mut self) {
        if let Some(mut signals) = self.signals.take() {
            let _ = self.poll.registry().deregister(&mut signals);
        }
    }

    /// SIGINT or SIGTERM arrived: stop cleanly (Twisted logs the same line).
    fn handle_signals(&mut self) {
        let Some(signals) = self.signals.as_mut() else {
            return;
        };
        for signal in signals.pending() {
            let name = if signal == SIGINT {
                "SIGINT"
            } else {
                "SIGTERM"
            };
            log::info!(target: "gyre::reactor", "Received {name}, shutting down.");
            let _ = self.handle.stop();
        }
    }
}

/// Error readiness: empty the error queue (so the loop cannot spin on it) and take the pending
/// socket error; on a connected port a refusal is queued for `connection_refused`.
fn take_socket_error(handle: &Handle, id: PortId) {
    let mut ports = handle.shared.ports.borrow_mut();
    let Some(slot) = ports.get_mut(id) else {
        return;
    };
    match slot.socket.take_error() {
        Ok(Some(e)) if e.kind() == io::ErrorKind::ConnectionRefused && slot.connected.is_some() => {
            slot.refusals_pending += 1;
            handle.shared.port_work.borrow_mut().refused.push(id);
        }
        Ok(Some(e)) => log::debug!(target: "gyre::udp", "{}: socket error {e}", slot.name),
        _ => {}
    }
}

/// Calls `connection_refused` once per refusal pending on the port.
fn deliver_refusal(handle: &Handle, id: PortId) {
    let pending = {
        let mut ports = handle.shared.ports.borrow_mut();
        let Some(slot) = ports.get_mut(id) else {
            return;
        };
        slot.counters.refused.add(u64::from(slot.refusals_pending));
        std::mem::take(&mut slot.refusals_pending)
    };
    let Some(mut lent) = crate::udp::dispatch::Lent::take(handle, id) else {
        return;
    };
    for _ in 0..pending {
        let _ = lent.call("connection_refused", |p, cx| p.connection_refused(cx));
    }
}

fn guarded_call(handle: &Handle, what: &str, call: impl FnOnce(&Handle)) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| call(handle))) {
        handle.shared.counters.callback_failures.add(1);
        log::error!(target: "gyre::reactor", "{what} panicked: {}", panic_message(panic.as_ref()));
    }
}

impl Deref for Reactor {
    type Target = Handle;

    fn deref(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for Reactor {
    fn drop(&mut self) {
        self.close_entrances();
    }
}

impl fmt::Debug for Reactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reactor")
            .field("handle", &self.handle)
            .finish()
    }
}
