//! [`Reactor`]: the poll loop. One turn is [`Reactor::run_once`]; read it first.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};
use std::time::Duration;

use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use crate::core::Core;
use crate::defer::deferred_list;
use crate::dispatch::{self, Batches, Drain};
use crate::error::ReactorError;
use crate::lifecycle::{Phase, ReactorState, SystemEvent};
use crate::mailbox::Mailbox;
use crate::remote::RemoteQueue;
use crate::sources::{CallsFromThreads, Due, DueTimers, QueuedCalls, Source, Tasks};
use crate::sys::{RecvBatch, SendBatch};
use crate::time::{Clock, SystemClock, Timers};
use crate::udp::port::PortId;
use crate::udp::send_queue::SendQueue;
use crate::unix;

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
/// The reactor owns everything by value: the loop's state (its [`Core`], which it
/// dereferences to, so `reactor.listen_udp(…)`, `reactor.call_later(…)` and `reactor.stop()`
/// read as in Twisted), the readiness events, the receive and send buffers, and the sources
/// of work it asks each turn. Dropping it closes every file descriptor it opened, whatever
/// handles remain.
///
/// ```
/// use gyre::Reactor;
/// use std::time::Duration;
///
/// let mut reactor = Reactor::new().unwrap();
/// reactor.install_signal_handlers(false);
/// reactor.call_later(Duration::from_millis(10), |r| { r.stop().unwrap(); });
/// reactor.run().unwrap();
/// assert!(reactor.run().is_err()); // a stopped reactor does not restart
/// ```
pub struct Reactor {
    core: Core,
    events: Events,
    /// The receive and send buffers, reused for every batch of every port.
    batches: Batches,
    /// The kinds of work besides ports, asked in order every turn.
    sources: Vec<Box<dyn Source>>,
    /// Ports whose read budget ran out: read again next turn without waiting for an event.
    still_readable: Vec<PortId>,
    /// Ports to read this turn (reused to avoid allocating per turn).
    to_read: Vec<PortId>,
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
        let waker = mio::Waker::new(poll.registry(), WAKER)?;
        let timers = Timers::new(clock);
        let remote = RemoteQueue::new(waker);
        let core = Core::new(poll, Mailbox::new(timers.clone(), remote.clone()));
        let sources: Vec<Box<dyn Source>> = vec![
            Box::new(DueTimers { timers }),
            Box::new(CallsFromThreads {
                queue: remote,
                batch: VecDeque::new(),
            }),
            Box::new(QueuedCalls {
                mailbox: core.mailbox.clone(),
                batch: VecDeque::new(),
            }),
            Box::new(Tasks {
                executor: core.mailbox.executor.clone(),
                batch: VecDeque::new(),
            }),
        ];
        Ok(Reactor {
            core,
            events: Events::with_capacity(EVENT_CAPACITY),
            batches: Batches {
                recv: RecvBatch::new(),
                queue: SendQueue::default(),
                send: SendBatch::new(),
            },
            sources,
            still_readable: Vec::new(),
            to_read: Vec::new(),
            signals: None,
            install_signals: true,
        })
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
        self.start_running()?;
        while self.core.state().is_looping() {
            self.run_once(None)?;
        }
        Ok(())
    }

    /// Starts the reactor without running its loop (Twisted's `startRunning`), for a program
    /// whose own loop drives it: startup triggers fire, the state becomes `Running`, signal
    /// handlers are installed if asked for, and `call_when_running` calls run on the first
    /// turn. Then wait until the reactor's file descriptor is readable or
    /// [`timeout`](Reactor::timeout) has passed, call [`iterate`](Reactor::iterate) with
    /// `Duration::ZERO`, and repeat while [`running`](Core::running) (or until the state is
    /// `Stopped`, to let shutdown finish).
    ///
    /// ```
    /// use gyre::{Reactor, ReactorState};
    /// use std::time::Duration;
    ///
    /// let mut reactor = Reactor::new().unwrap();
    /// reactor.install_signal_handlers(false);
    /// reactor.call_later(Duration::from_millis(1), |r| { let _ = r.stop(); });
    /// reactor.start_running().unwrap();
    /// while reactor.state() != ReactorState::Stopped {
    ///     // A foreign loop would wait here on the reactor's fd (`AsFd`) for `timeout()`.
    ///     std::thread::sleep(reactor.timeout().unwrap_or(Duration::from_millis(10)));
    ///     reactor.iterate(Duration::ZERO).unwrap();
    /// }
    /// ```
    pub fn start_running(&mut self) -> Result<(), ReactorError> {
        match self.core.state() {
            ReactorState::Idle => {}
            ReactorState::Stopped => return Err(ReactorError::NotRestartable),
            _ => return Err(ReactorError::AlreadyRunning),
        }
        self.start_up();
        Ok(())
    }

    /// How long the loop may wait for I/O before its next turn has work regardless: zero when
    /// work is waiting, the time to the next timer, or `None` (no limit). A foreign loop waits
    /// at most this long on the reactor's file descriptor (libuv's `uv_backend_timeout`). A
    /// timer cancelled since the last turn may still count until a turn passes its time.
    pub fn timeout(&self) -> Option<Duration> {
        self.refresh_clock();
        self.poll_timeout(None)
    }

    /// Reads the clock afresh when timers wait: time may have passed outside the loop.
    fn refresh_clock(&self) {
        if !self.core.timers().is_empty() {
            self.core.now();
        }
    }

    /// One turn of the loop, waiting at most `max_wait` for I/O (Twisted's `iterate`). Works
    /// whether or not `run` is active, which makes it handy in tests.
    pub fn iterate(&mut self, max_wait: Duration) -> Result<(), ReactorError> {
        self.refresh_clock();
        self.run_once(Some(max_wait))
    }

    /// One turn: the whole loop on one screen. `max_wait` caps the poll (`None`: until the
    /// next timer, or forever).
    pub fn run_once(&mut self, max_wait: Option<Duration>) -> Result<(), ReactorError> {
        let timeout = self.poll_timeout(max_wait); // 1. zero if work waits, else until the next timer
        self.poll(timeout)?; // 2. wait for readiness
        self.core.outbox.set_in_turn(true); //   (writes now queue, and leave in batches)
        self.read_ports(); // 3. read ready ports, hand datagrams to protocols
        self.run_sources(); // 4. timers due, calls from threads, queued calls, tasks
        self.flush_writes(); // 5. send what was written since the last batch
        self.deliver_errors(); // 6. ICMP errors: connection_refused, icmp_error
        self.apply_lifecycle(); // 7. close stopped ports; shutdown steps
        self.core.counters.turns += 1;
        Ok(())
    }

    /// How long `poll` may wait: as long as every source and the loop's own work allow.
    fn poll_timeout(&self, max_wait: Option<Duration>) -> Option<Duration> {
        let due = self
            .sources
            .iter()
            .map(|s| s.due())
            .min()
            .unwrap_or(Due::IDLE);
        let timeout = due.min(self.loop_work()).timeout();
        match (timeout, max_wait) {
            (Some(t), Some(m)) => Some(t.min(m)),
            (t, m) => t.or(m),
        }
    }

    /// The loop's own work: ports left readable, port work posted by handles, a lifecycle
    /// step.
    fn loop_work(&self) -> Due {
        let lifecycle = match self.core.state() {
            ReactorState::StopRequested => true,
            ReactorState::ShuttingDown => self.core.mailbox.shutdown_ready(),
            _ => false,
        };
        Due::now_if(!self.still_readable.is_empty() || self.core.outbox.has_work() || lifecycle)
    }

    fn poll(&mut self, timeout: Option<Duration>) -> Result<(), ReactorError> {
        log::trace!(target: "gyre::reactor", "turn {}: poll({timeout:?})", self.core.counters.turns);
        match self.core.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => self.events.clear(),
            Err(e) => {
                log::error!(target: "gyre::reactor", "poll failed: {e}");
                return Err(ReactorError::PollFailed(e));
            }
        }
        let n = self.events.iter().count();
        self.core.counters.events += n as u64;
        log::trace!(target: "gyre::reactor", "  {n} event(s)");
        Ok(())
    }

    /// Reads every port that is ready (events), was left readable last turn (budget), or was
    /// handed datagrams in memory.
    fn read_ports(&mut self) {
        let mut signalled = false;
        self.to_read.clear();
        self.to_read.append(&mut self.still_readable);
        self.core.outbox.take_readable(&mut self.to_read);
        for event in self.events.iter() {
            match event.token() {
                WAKER => {}
                SIGNALS => signalled = true,
                Token(key) => {
                    let Some(id) = self.core.port_by_key(key) else {
                        continue; // closed earlier this turn
                    };
                    if event.is_error() {
                        self.core.take_port_error(id);
                    }
                    self.to_read.push(id);
                }
            }
        }
        if signalled {
            self.handle_signals();
        }
        for &id in &self.to_read {
            let drain = match id.is_unix() {
                false => dispatch::read_port(&mut self.core, &mut self.batches, id, READ_BUDGET),
                true => unix::dispatch::read_port(
                    &mut self.core,
                    &mut self.batches.recv,
                    id,
                    READ_BUDGET,
                ),
            };
            if drain == Drain::BudgetSpent {
                self.still_readable.push(id);
            }
        }
    }

    /// Runs every source with work waiting or coming due: timers due, then calls from other
    /// threads, then `call_soon` calls, then woken tasks (each runs what was waiting when it
    /// began).
    fn run_sources(&mut self) {
        for source in &mut self.sources {
            if source.due() != Due::IDLE {
                source.run(&mut self.core);
            }
        }
    }

    /// Sends the writes queued by timers and calls; from here to the end of the turn writes
    /// go straight out (as they do outside the loop).
    fn flush_writes(&mut self) {
        dispatch::flush(&mut self.core, None, &mut self.batches);
        self.core.outbox.set_in_turn(false);
    }

    /// Tells protocols about the errors their ports met: ICMP refusals on connected ports
    /// (`connection_refused`), ICMP errors on ports that report them (`icmp_error`).
    fn deliver_errors(&mut self) {
        for id in self.core.outbox.take_reporting() {
            self.core.deliver_port_errors(id);
        }
    }

    /// Closes ports whose `stop_listening` was called, then moves startup or shutdown along.
    fn apply_lifecycle(&mut self) {
        for id in self.core.outbox.take_stopping() {
            self.core.close_port(id, true);
        }
        match self.core.state() {
            ReactorState::StopRequested => self.begin_shutdown(),
            ReactorState::ShuttingDown if self.core.mailbox.shutdown_ready() => {
                self.finish_shutdown()
            }
            _ => {}
        }
    }

    /// Startup: "before" triggers, then running (signal handlers), "during", "after".
    fn start_up(&mut self) {
        self.core.fire_triggers(Phase::Before, SystemEvent::Startup);
        self.core.mailbox.set_state(ReactorState::Running);
        if self.install_signals {
            self.install_signal_handlers_now();
        }
        self.core.fire_triggers(Phase::During, SystemEvent::Startup);
        self.core.fire_triggers(Phase::After, SystemEvent::Startup);
    }

    /// Shutdown, first half: "before shutdown" triggers; waits for the Deferreds they return.
    fn begin_shutdown(&mut self) {
        let mailbox = self.core.mailbox.clone();
        mailbox.set_state(ReactorState::ShuttingDown);
        mailbox.set_shutdown_ready(false);
        let waits = self
            .core
            .fire_triggers(Phase::Before, SystemEvent::Shutdown);
        if waits.is_empty() {
            mailbox.set_shutdown_ready(true);
            return;
        }
        log::debug!(target: "gyre::reactor", "shutdown waits for {} Deferred(s)", waits.len());
        deferred_list(waits).add_both(move |results| {
            mailbox.set_shutdown_ready(true);
            results
        });
    }

    /// Shutdown, second half: "during" (every port stops, and no new one may open), "after",
    /// then stopped: calls from other threads accepted until now run, later ones are refused.
    fn finish_shutdown(&mut self) {
        self.core
            .fire_triggers(Phase::During, SystemEvent::Shutdown);
        self.core.ports_closed = true;
        for id in self.core.port_ids() {
            self.core.close_port(id, true);
        }
        self.core.fire_triggers(Phase::After, SystemEvent::Shutdown);
        self.core.mailbox.set_state(ReactorState::Stopped);
        self.core.close_entrances();
        self.remove_signal_handlers();
        log::info!(target: "gyre::reactor", "reactor stopped");
    }

    fn install_signal_handlers_now(&mut self) {
        let installed = Signals::new([SIGINT, SIGTERM]).and_then(|mut signals| {
            self.core
                .poll
                .registry()
                .register(&mut signals, SIGNALS, Interest::READABLE)?;
            Ok(signals)
        });
        match installed {
            Ok(signals) => self.signals = Some(signals),
            Err(e) => log::warn!(target: "gyre::reactor", "cannot install signal handlers: {e}"),
        }
    }

    fn remove_signal_handlers(&mut self) {
        if let Some(mut signals) = self.signals.take() {
            let _ = self.core.poll.registry().deregister(&mut signals);
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
            let _ = self.core.stop();
        }
    }
}

impl Deref for Reactor {
    type Target = Core;

    fn deref(&self) -> &Core {
        &self.core
    }
}

impl DerefMut for Reactor {
    fn deref_mut(&mut self) -> &mut Core {
        &mut self.core
    }
}

impl Drop for Reactor {
    fn drop(&mut self) {
        self.remove_signal_handlers();
        self.core.tear_down();
    }
}

impl fmt::Debug for Reactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reactor").field("core", &self.core).finish()
    }
}

/// The reactor's poll file descriptor (epoll or kqueue): readable when a port, a call from
/// another thread or a signal has something for the loop. With
/// [`timeout`](Reactor::timeout) and [`iterate`](Reactor::iterate), it lets another event loop
/// drive this one (see [`start_running`](Reactor::start_running) and
/// `examples/embed_poll.rs`).
impl std::os::fd::AsFd for Reactor {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        crate::sys::poll_fd(&self.core.poll)
    }
}
