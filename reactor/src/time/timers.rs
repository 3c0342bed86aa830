//! [`Timers`] and [`DelayedCall`]: `call_later` on a clock (Twisted's `IReactorTime`).

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use super::clock::{Clock, ManualClock, SystemClock};
use super::queue::{TimerId, TimerQueue};
use crate::defer::panic_message;
use crate::error::{DelayedCallError, TimeError};

/// Where a call is in its life; shared by the queue entry and every handle to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Pending,
    Called,
    Cancelled,
}

/// A scheduled call. It is handed whatever its runner passes to
/// [`run_due_with`](Timers::run_due_with): nothing for a plain `call_later`, the reactor's
/// [`Core`](crate::Core) for the reactor's own `call_later`.
pub(crate) type Call = Box<dyn FnOnce(&mut dyn Any)>;

/// Ticks standing for "never": a deadline no clock reaches (about 584 years).
const NEVER: u64 = u64::MAX;

struct Entry {
    call: Call,
    status: Rc<Cell<Status>>,
}

struct Inner {
    clock: Box<dyn Clock>,
    /// Tick 0 of the queue; deadlines are nanoseconds since this instant.
    origin: Instant,
    queue: RefCell<TimerQueue<Entry>>,
    fired: Cell<u64>,
    /// Calls that panicked (caught and logged).
    panicked: Cell<u64>,
    /// The clock as last read, in ticks (every read updates it).
    last_now: Cell<u64>,
    /// No pending deadline is earlier than this (`NEVER` when nothing is pending): lets a pass
    /// with nothing due return without touching the queue.
    earliest: Cell<u64>,
    /// Set by [`Timers::close`]: calls scheduled afterwards are dropped at once.
    closed: Cell<bool>,
}

/// A queue of delayed calls on a clock: Twisted's `callLater` / `getDelayedCalls`, and, on a
/// [`ManualClock`], Twisted's `task.Clock` with [`advance`](Timers::advance).
///
/// `Timers` is a cheap cloneable handle; the reactor owns one and runs [`run_due`](Timers::run_due)
/// once per turn. Its `RefCell` is borrowed only inside each method, never while a call runs, so
/// calls may schedule, cancel and reset other calls (or themselves) freely.
///
/// Rules: equal deadlines run in scheduling order (FIFO; Twisted's reactor does not promise
/// this); a call scheduled while a pass runs waits for the next pass, even with a zero delay;
/// a call that panics is caught and logged and the others still run. A delay too long for the
/// clock (`Duration::MAX`) means "never": the call stays pending and can still be cancelled.
///
/// ```
/// use gyre::time::Timers;
/// use std::{cell::RefCell, rc::Rc, time::Duration};
///
/// let (timers, _clock) = Timers::manual();
/// let log = Rc::new(RefCell::new(Vec::new()));
/// for (name, ms) in [("b", 20), ("a", 10), ("c", 20)] {
///     let log = log.clone();
///     timers.call_later(Duration::from_millis(ms), move || log.borrow_mut().push(name));
/// }
/// let late = timers.call_later(Duration::from_millis(15), || unreachable!());
/// late.cancel().unwrap();
/// timers.advance(Duration::from_millis(20)).unwrap();
/// assert_eq!(*log.borrow(), ["a", "b", "c"]);
/// ```
#[derive(Clone)]
pub struct Timers {
    inner: Rc<Inner>,
}

impl Timers {
    /// Timers on any clock.
    pub fn new(clock: impl Clock) -> Timers {
        let origin = clock.now();
        Timers {
            inner: Rc::new(Inner {
                clock: Box::new(clock),
                origin,
                queue: RefCell::new(TimerQueue::new()),
                fired: Cell::new(0),
                panicked: Cell::new(0),
                last_now: Cell::new(0),
                earliest: Cell::new(NEVER),
                closed: Cell::new(false),
            }),
        }
    }

    /// Timers on the real monotonic clock.
    pub fn system() -> Timers {
        Timers::new(SystemClock)
    }

    /// Timers on a new [`ManualClock`], returned with them (Twisted's `task.Clock()`).
    pub fn manual() -> (Timers, ManualClock) {
        let clock = ManualClock::new();
        (Timers::new(clock.clone()), clock)
    }

    /// The clock's current time.
    pub fn now(&self) -> Instant {
        let now = self.inner.clock.now();
        self.inner.last_now.set(self.inner.ticks(now));
        now
    }

    /// Runs `f` once, `delay` from now (Twisted's `callLater`). The returned handle cancels,
    /// resets or delays it. A delay past what the clock can count means never.
    pub fn call_later(&self, delay: Duration, f: impl FnOnce() + 'static) -> DelayedCall {
        self.call_later_with(delay, move |_| f())
    }

    /// Runs `f` once at `when` (at the next pass if `when` is already past).
    pub fn call_at(&self, when: Instant, f: impl FnOnce() + 'static) -> DelayedCall {
        self.schedule(self.inner.ticks(when), Box::new(move |_| f()))
    }

    /// Like [`call_later`](Timers::call_later), for a call that takes what its runner passes
    /// to [`run_due_with`](Timers::run_due_with) (the reactor passes its `Core`).
    pub(crate) fn call_later_with(
        &self,
        delay: Duration,
        f: impl FnOnce(&mut dyn Any) + 'static,
    ) -> DelayedCall {
        let now = self.inner.ticks(self.now());
        self.schedule(now.saturating_add(nanos(delay)), Box::new(f))
    }

    /// Runs `f` `delay` after `from`, saturating to never (for loops that compute boundaries).
    pub(crate) fn call_after(
        &self,
        from: Instant,
        delay: Duration,
        f: impl FnOnce() + 'static,
    ) -> DelayedCall {
        let at = self.inner.ticks(from).saturating_add(nanos(delay));
        self.schedule(at, Box::new(move |_| f()))
    }

    fn schedule(&self, deadline: u64, call: Call) -> DelayedCall {
        let status = Rc::new(Cell::new(Status::Pending));
        if self.inner.closed.get() {
            status.set(Status::Cancelled);
            drop(call); // the reactor is gone: nothing will ever run it
            return DelayedCall {
                timers: Rc::downgrade(&self.inner),
                id: TimerId::STALE,
                status,
            };
        }
        let entry = Entry {
            call,
            status: status.clone(),
        };
        let id = self.inner.queue.borrow_mut().schedule(deadline, entry);
        self.inner.lower_earliest(deadline);
        DelayedCall {
            timers: Rc::downgrade(&self.inner),
            id,
            status,
        }
    }

    /// Every call that has not run or been cancelled, earliest first (Twisted's
    /// `getDelayedCalls`).
    pub fn pending_calls(&self) -> Vec<DelayedCall> {
        let queue = self.inner.queue.borrow();
        let mut calls: Vec<(u64, DelayedCall)> = queue
            .iter()
            .map(|(id, deadline, entry)| {
                let call = DelayedCall {
                    timers: Rc::downgrade(&self.inner),
                    id,
                    status: entry.status.clone(),
                };
                (deadline, call)
            })
            .collect();
        calls.sort_by_key(|(deadline, call)| (*deadline, call.id.seq()));
        calls.into_iter().map(|(_, call)| call).collect()
    }

    /// Number of pending calls.
    pub fn len(&self) -> usize {
        self.inner.queue.borrow().len()
    }

    /// Whether no call is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls run so far (a counter for statistics).
    pub fn fired(&self) -> u64 {
        self.inner.fired.get()
    }

    /// Calls that panicked so far (each was caught and logged; the others still ran).
    pub fn panicked(&self) -> u64 {
        self.inner.panicked.get()
    }

    /// When the earliest pending call is due.
    pub fn next_deadline(&self) -> Option<Instant> {
        let ticks = self.inner.queue.borrow_mut().next_deadline()?;
        Some(self.inner.origin + Duration::from_nanos(ticks))
    }

    /// How long until the earliest pending call is due, zero if it is due already; `None` when
    /// nothing is pending. This is what a reactor hands to `poll` as its timeout.
    pub fn timeout(&self) -> Option<Duration> {
        let deadline = self.inner.queue.borrow_mut().next_deadline()?;
        let now = self.inner.ticks(self.now());
        Some(Duration::from_nanos(deadline.saturating_sub(now)))
    }

    /// One pass: reads the clock once, then runs every call due by then that was scheduled
    /// before the pass began, in deadline order (FIFO among equal deadlines). Calls scheduled
    /// during the pass wait for the next one. Returns how many calls ran.
    pub fn run_due(&self) -> usize {
        self.run_due_with(&mut ())
    }

    /// [`run_due`](Timers::run_due), handing `cx` to each call. With nothing pending the
    /// clock is not even read.
    pub(crate) fn run_due_with(&self, cx: &mut dyn Any) -> usize {
        if self.inner.earliest.get() == NEVER {
            return 0;
        }
        let now = self.inner.ticks(self.now());
        if now < self.inner.earliest.get() {
            return 0; // nothing can be due yet: the queue is not touched
        }
        let pass_mark = self.inner.queue.borrow().next_seq();
        let mut ran = 0;
        loop {
            let next = self.inner.queue.borrow_mut().pop_due(now, pass_mark);
            let Some((_, entry)) = next else { break };
            entry.status.set(Status::Called);
            ran += 1;
            if let Err(panic) = catch_unwind(AssertUnwindSafe(|| (entry.call)(cx))) {
                self.inner.panicked.set(self.inner.panicked.get() + 1);
                crate::failures::report_failure!(target: "gyre::time",
                    "a delayed call panicked (the other calls still run): {}",
                    panic_message(panic.as_ref()));
            }
        }
        let earliest = self.inner.queue.borrow_mut().next_deadline();
        self.inner.earliest.set(earliest.unwrap_or(NEVER));
        self.inner.fired.set(self.inner.fired.get() + ran as u64);
        ran
    }

    /// How long a loop may sleep before the next call is due, measured from the clock's last
    /// reading (no new reading: the reactor reads the clock once per turn); `None` when
    /// nothing is pending. May be early (a cancelled call), never late.
    pub(crate) fn wait_hint(&self) -> Option<Duration> {
        match self.inner.earliest.get() {
            NEVER => None,
            at => Some(Duration::from_nanos(
                at.saturating_sub(self.inner.last_now.get()),
            )),
        }
    }

    /// Cancels every pending call and refuses new ones (they are dropped at once); returns the
    /// calls so the caller can drop them where a panicking `Drop` is caught. The reactor does
    /// this when it is dropped, which also breaks the cycles between calls and the handles
    /// they hold.
    pub(crate) fn close(&self) -> Vec<Call> {
        self.inner.closed.set(true);
        let mut queue = self.inner.queue.borrow_mut();
        let ids: Vec<TimerId> = queue.iter().map(|(id, _, _)| id).collect();
        let mut calls = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(entry) = queue.cancel(id) {
                entry.status.set(Status::Cancelled);
                calls.push(entry.call);
            }
        }
        self.inner.earliest.set(NEVER);
        calls
    }

    /// Moves a manual clock forward by `by` and runs passes until no call is due (Twisted's
    /// `Clock.advance`): a call scheduled during the advance that is already due runs in it
    /// too, after the calls that were already due. Returns how many calls ran.
    ///
    /// Errors with [`TimeError::NotManualClock`] on any other clock.
    pub fn advance(&self, by: Duration) -> Result<usize, TimeError> {
        let clock = self
            .inner
            .clock
            .as_manual()
            .ok_or(TimeError::NotManualClock)?;
        clock.advance(by);
        let mut ran = 0;
        while self.timeout() == Some(Duration::ZERO) {
            ran += self.run_due();
        }
        Ok(ran)
    }

    /// [`advance`](Timers::advance) by each step in turn (Twisted's `Clock.pump`).
    pub fn pump(&self, steps: &[Duration]) -> Result<usize, TimeError> {
        steps
            .iter()
            .try_fold(0, |ran, step| Ok(ran + self.advance(*step)?))
    }
}

impl Inner {
    /// An instant as queue ticks: nanoseconds since `origin`, saturating at both ends, and
    /// always short of `NEVER`, so a call due "never" stays pending whatever the clock says.
    fn ticks(&self, at: Instant) -> u64 {
        let nanos = at.saturating_duration_since(self.origin).as_nanos();
        u64::try_from(nanos).unwrap_or(NEVER).min(NEVER - 1)
    }

    fn lower_earliest(&self, deadline: u64) {
        if deadline < self.earliest.get() {
            self.earliest.set(deadline);
        }
    }
}

/// A duration in ticks, saturating ("never" for anything too long to count).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(NEVER)
}

impl fmt::Debug for Timers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timers")
            .field("pending", &self.len())
            .field("fired", &self.fired())
            .finish()
    }
}

/// A handle to one call made with [`Timers::call_later`] (Twisted's `DelayedCall`).
///
/// Handles are cheap to clone. Once the call has run or been cancelled, every method that
/// would change it returns [`DelayedCallError`]; a handle never reaches a later call that
/// happens to reuse its slot in the queue.
#[derive(Clone)]
pub struct DelayedCall {
    timers: Weak<Inner>,
    id: TimerId,
    status: Rc<Cell<Status>>,
}

impl DelayedCall {
    /// Cancels the call. Errors if it already ran (`AlreadyCalled`, also from inside the call
    /// itself) or was cancelled (`AlreadyCancelled`).
    pub fn cancel(&self) -> Result<(), DelayedCallError> {
        let inner = self.pending()?;
        let entry = inner.queue.borrow_mut().cancel(self.id);
        self.status.set(Status::Cancelled);
        drop(entry); // the closure's captures drop here, outside the borrow
        Ok(())
    }

    /// Moves the call to `delay` from now (Twisted's `reset`); too long a delay means never.
    pub fn reset(&self, delay: Duration) -> Result<(), DelayedCallError> {
        let inner = self.pending()?;
        let now = inner.ticks(inner.clock.now());
        inner.last_now.set(now);
        let deadline = now.saturating_add(nanos(delay));
        inner.queue.borrow_mut().reschedule(self.id, deadline);
        inner.lower_earliest(deadline);
        Ok(())
    }

    /// Moves the call `more` later than it was (Twisted's `delay`).
    pub fn delay(&self, more: Duration) -> Result<(), DelayedCallError> {
        let inner = self.pending()?;
        let mut queue = inner.queue.borrow_mut();
        let deadline = queue.deadline(self.id).expect("pending() checked the id");
        queue.reschedule(self.id, deadline.saturating_add(nanos(more)));
        Ok(())
    }

    /// Whether the call is still pending: neither run nor cancelled.
    pub fn active(&self) -> bool {
        self.status.get() == Status::Pending && self.timers.strong_count() > 0
    }

    /// When the call is due, while it is pending (Twisted's `getTime`).
    pub fn time(&self) -> Option<Instant> {
        let inner = self.pending().ok()?;
        let ticks = inner.queue.borrow().deadline(self.id)?;
        Some(inner.origin + Duration::from_nanos(ticks))
    }

    fn pending(&self) -> Result<Rc<Inner>, DelayedCallError> {
        match self.status.get() {
            Status::Called => Err(DelayedCallError::AlreadyCalled),
            Status::Cancelled => Err(DelayedCallError::AlreadyCancelled),
            Status::Pending => self
                .timers
                .upgrade()
                .ok_or(DelayedCallError::AlreadyCancelled),
        }
    }
}

impl PartialEq for DelayedCall {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.status, &other.status)
    }
}

impl Eq for DelayedCall {}

impl fmt::Debug for DelayedCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DelayedCall")
            .field("seq", &self.id.seq())
            .field("status", &self.status.get())
            .finish()
    }
}
