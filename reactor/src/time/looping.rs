//! [`LoopingCall`]: call a function every interval (Twisted's `task.LoopingCall`).

use std::cell::RefCell;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::{DelayedCall, Timers};
use crate::defer::{Deferred, Failure, IntoStep, Step};
use crate::error::TimeError;

type Tick = Box<dyn FnMut(u64) -> Step<()>>;

struct State {
    timers: Timers,
    /// Taken out while it runs, so it may call `stop`/`reset` on its own loop.
    f: Option<Tick>,
    interval: Duration,
    running: bool,
    run_at_start: bool,
    start_time: Instant,
    last_time: Option<Instant>,
    /// The next scheduled run; `None` while `f` runs or its Deferred is pending.
    call: Option<DelayedCall>,
    /// The Deferred `start` returned; fired by `stop` or a failure.
    finished: Option<Deferred<()>>,
}

/// Calls a function every `interval` on a [`Timers`] queue (Twisted's `task.LoopingCall`).
///
/// * Runs are aligned to the start time: run *n* is due at `start + n × interval`. A loop that
///   falls behind skips the missed ticks (no catch-up burst) and goes on at the next boundary
///   strictly in the future; [`with_count`](LoopingCall::with_count) tells the function how
///   many intervals went by since its last run (Twisted's `withCount`).
/// * The function returns `Ok(())`, a failure, or a `Deferred<()>`; with a pending Deferred
///   the next run is scheduled only once it fires.
/// * [`start`](LoopingCall::start) returns a Deferred that fires with `()` on
///   [`stop`](LoopingCall::stop) (after a pending run's Deferred completes), and errbacks
///   with the failure if the function fails, which also stops the loop.
/// * Interval zero runs it on every pass of the timer queue.
///
/// ```
/// use gyre::defer::Failure;
/// use gyre::time::{LoopingCall, Timers};
/// use std::{cell::RefCell, rc::Rc, time::Duration};
///
/// let (timers, _clock) = Timers::manual();
/// let counts = Rc::new(RefCell::new(Vec::new()));
/// let c = counts.clone();
/// let lc = LoopingCall::with_count(&timers, move |n| { c.borrow_mut().push(n); Ok::<(), Failure>(()) });
/// let done = lc.start(Duration::from_secs(1), true).unwrap();
/// for secs in [1.0, 3.5, 0.5, 1.0] {
///     timers.advance(Duration::from_secs_f64(secs)).unwrap();
/// }
/// assert_eq!(*counts.borrow(), [1, 1, 3, 1, 1]);
/// lc.stop().unwrap();
/// assert!(done.take_result().unwrap().is_ok());
/// ```
#[derive(Clone)]
pub struct LoopingCall {
    state: Rc<RefCell<State>>,
}

impl LoopingCall {
    /// A loop that calls `f` on each run.
    pub fn new<R: IntoStep<()>>(
        timers: &Timers,
        mut f: impl FnMut() -> R + 'static,
    ) -> LoopingCall {
        LoopingCall::build(timers, Box::new(move |_| f().into_step()))
    }

    /// A loop that calls `f` with the number of intervals elapsed since its last run (1 when
    /// on time, more when runs were skipped).
    pub fn with_count<R: IntoStep<()>>(
        timers: &Timers,
        mut f: impl FnMut(u64) -> R + 'static,
    ) -> LoopingCall {
        LoopingCall::build(timers, Box::new(move |n| f(n).into_step()))
    }

    fn build(timers: &Timers, f: Tick) -> LoopingCall {
        LoopingCall {
            state: Rc::new(RefCell::new(State {
                timers: timers.clone(),
                f: Some(f),
                interval: Duration::ZERO,
                running: false,
                run_at_start: false,
                start_time: timers.now(),
                last_time: None,
                call: None,
                finished: None,
            })),
        }
    }

    /// Starts the loop; with `now`, the first run happens before this returns, otherwise one
    /// interval from now. Errors with [`TimeError::AlreadyRunning`] if it runs already.
    pub fn start(&self, interval: Duration, now: bool) -> Result<Deferred<()>, TimeError> {
        let finished = Deferred::new();
        let start_time = {
            let mut s = self.state.borrow_mut();
            if s.running {
                return Err(TimeError::AlreadyRunning);
            }
            s.running = true;
            s.interval = interval;
            s.run_at_start = now;
            s.start_time = s.timers.now();
            s.last_time = None;
            s.finished = Some(finished.clone());
            s.start_time
        };
        if now {
            run(&self.state);
        } else {
            schedule_from(&self.state, start_time);
        }
        Ok(finished)
    }

    /// Stops the loop and fires `start`'s Deferred (at once, or when a pending run's Deferred
    /// completes). Errors with [`TimeError::NotRunning`] if it is not running.
    pub fn stop(&self) -> Result<(), TimeError> {
        let (call, finished) = {
            let mut s = self.state.borrow_mut();
            if !s.running {
                return Err(TimeError::NotRunning);
            }
            s.running = false;
            match s.call.take() {
                Some(call) => (Some(call), s.finished.take()),
                None => (None, None), // a run is in progress; it fires `finished` when done
            }
        };
        if let Some(call) = call {
            let _ = call.cancel();
        }
        if let Some(finished) = finished {
            let _ = finished.callback(());
        }
        Ok(())
    }

    /// Restarts the interval from now: the next run is one interval away.
    pub fn reset(&self) -> Result<(), TimeError> {
        let (call, now) = {
            let mut s = self.state.borrow_mut();
            if !s.running {
                return Err(TimeError::NotRunning);
            }
            s.start_time = s.timers.now();
            (s.call.take(), s.start_time)
        };
        if let Some(call) = call {
            let _ = call.cancel();
            schedule_from(&self.state, now);
        }
        Ok(())
    }

    /// Whether the loop is running.
    pub fn running(&self) -> bool {
        self.state.borrow().running
    }

    /// The interval given to [`start`](LoopingCall::start).
    pub fn interval(&self) -> Duration {
        self.state.borrow().interval
    }
}

/// One run: count the intervals, call the function, then schedule the next run when its
/// result is in.
fn run(state: &Rc<RefCell<State>>) {
    let (f, count) = {
        let mut s = state.borrow_mut();
        s.call = None;
        let now = s.timers.now();
        let count = s.intervals_since_last(now);
        (s.f.take(), count)
    };
    let Some(mut f) = f else {
        return; // re-entered from inside the function itself: nothing to do
    };
    let step = match count {
        Some(n) => catch_unwind(AssertUnwindSafe(|| f(n)))
            .unwrap_or_else(|panic| Step::Fail(Failure::from_panic(panic))),
        None => Step::Value(()),
    };
    state.borrow_mut().f = Some(f);
    let result = match step {
        Step::Value(()) => Deferred::succeeded(()),
        Step::Fail(failure) => Deferred::failed(failure),
        Step::Wait(d) => d,
    };
    let on_done = Rc::downgrade(state);
    result.add_both(move |outcome| {
        if let Some(state) = on_done.upgrade() {
            after_run(&state, outcome);
        }
        Ok::<(), Failure>(())
    });
}

/// After a run's result: schedule the next run, or finish the loop.
fn after_run(state: &Rc<RefCell<State>>, outcome: Result<(), Failure>) {
    let (running, finished) = {
        let mut s = state.borrow_mut();
        if outcome.is_err() {
            s.running = false;
        }
        let finished = if s.running { None } else { s.finished.take() };
        (s.running, finished)
    };
    if running {
        let now = state.borrow().timers.now();
        schedule_from(state, now);
    } else if let Some(finished) = finished {
        let _ = finished.fire(outcome);
    }
}

/// Schedules the next run at the first interval boundary strictly after `when`.
fn schedule_from(state: &Rc<RefCell<State>>, when: Instant) {
    let (timers, wait) = {
        let s = state.borrow();
        (s.timers.clone(), s.until_boundary_after(when))
    };
    // The queue holds the loop alive while a run is scheduled, as Twisted's reactor does.
    // An interval too long for the clock saturates: the next run is never.
    let strong = state.clone();
    let call = timers.call_after(when, wait, move || run(&strong));
    state.borrow_mut().call = Some(call);
}

impl State {
    /// How long after `when` the first interval boundary strictly after it comes.
    fn until_boundary_after(&self, when: Instant) -> Duration {
        let interval = self.interval.as_nanos();
        if interval == 0 {
            return Duration::ZERO;
        }
        let running_for = when.saturating_duration_since(self.start_time).as_nanos();
        duration_from_nanos(interval - running_for % interval)
    }

    /// Twisted's `withCount` arithmetic, exact in nanoseconds. `None` if no interval passed.
    fn intervals_since_last(&mut self, now: Instant) -> Option<u64> {
        let interval = self.interval.as_nanos() as i128;
        if interval == 0 {
            self.last_time = Some(now);
            return Some(1);
        }
        let last = match self.last_time {
            Some(t) => signed_nanos(t, self.start_time),
            None if self.run_at_start => -interval,
            None => 0,
        };
        let this = signed_nanos(now, self.start_time);
        let count = this.div_euclid(interval) - last.div_euclid(interval);
        if count > 0 {
            self.last_time = Some(now);
            Some(u64::try_from(count).unwrap_or(u64::MAX))
        } else {
            None
        }
    }
}

/// `a - b` in nanoseconds, negative when `a` is earlier.
fn signed_nanos(a: Instant, b: Instant) -> i128 {
    if a >= b {
        (a - b).as_nanos() as i128
    } else {
        -((b - a).as_nanos() as i128)
    }
}

/// Nanoseconds as a `Duration`, saturating at `Duration::MAX`.
fn duration_from_nanos(n: u128) -> Duration {
    match u64::try_from(n / 1_000_000_000) {
        Ok(secs) => Duration::new(secs, (n % 1_000_000_000) as u32),
        Err(_) => Duration::MAX,
    }
}

impl fmt::Debug for LoopingCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.borrow();
        f.debug_struct("LoopingCall")
            .field("running", &s.running)
            .field("interval", &s.interval)
            .finish()
    }
}
