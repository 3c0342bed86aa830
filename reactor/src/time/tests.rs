//! Timers, delayed calls, looping calls and `defer_later` on a manual clock; many cases are
//! ported from Twisted's `test_task.py` and `test_base.py`.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use super::*;
use crate::defer::{Deferred, Failure};
use crate::error::{CancelledError, DelayedCallError, TimeError};
use crate::testing::{CaptureStatus, capture_logs};

type Log = Rc<RefCell<Vec<String>>>;

fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

fn push(log: &Log, s: impl Into<String>) {
    log.borrow_mut().push(s.into());
}

fn entries(log: &Log) -> Vec<String> {
    log.borrow().clone()
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn recorder(log: &Log, name: &str) -> impl FnOnce() + 'static {
    let log = log.clone();
    let name = name.to_string();
    move || push(&log, name)
}

#[test]
fn calls_run_in_deadline_order_and_fifo_on_ties() {
    let (timers, _clock) = Timers::manual();
    let l = log();
    timers.call_later(secs(2.0), recorder(&l, "c"));
    timers.call_later(secs(1.0), recorder(&l, "a"));
    for i in 0..5 {
        timers.call_later(secs(1.5), recorder(&l, &format!("b{i}")));
    }
    assert_eq!(timers.advance(secs(1.0)).unwrap(), 1);
    assert_eq!(entries(&l), ["a"]);
    assert_eq!(timers.advance(secs(1.0)).unwrap(), 6);
    assert_eq!(entries(&l), ["a", "b0", "b1", "b2", "b3", "b4", "c"]);
    assert_eq!(timers.fired(), 7);
}

#[test]
fn a_call_scheduled_during_a_pass_runs_on_the_next_pass() {
    let (timers, clock) = Timers::manual();
    let l = log();
    let t = timers.clone();
    let l2 = l.clone();
    timers.call_later(secs(1.0), move || {
        push(&l2, "first");
        t.call_later(Duration::ZERO, recorder(&l2, "zero-delay child"));
    });
    timers.call_later(secs(1.0), recorder(&l, "sibling"));
    clock.advance(secs(1.0));
    assert_eq!(timers.run_due(), 2);
    assert_eq!(entries(&l), ["first", "sibling"]);
    assert_eq!(timers.timeout(), Some(Duration::ZERO));
    assert_eq!(timers.run_due(), 1);
    assert_eq!(entries(&l), ["first", "sibling", "zero-delay child"]);
}

#[test]
fn advance_runs_calls_that_become_due_during_it_after_their_elders() {
    // Twisted's task.Clock Exp: a callLater(0) inside a call ran after its same-time sibling
    // within the same advance.
    let (timers, _clock) = Timers::manual();
    let l = log();
    let t = timers.clone();
    let l2 = l.clone();
    timers.call_later(secs(1.0), move || {
        push(&l2, "first");
        t.call_later(Duration::ZERO, recorder(&l2, "child"));
    });
    timers.call_later(secs(1.0), recorder(&l, "sibling"));
    assert_eq!(timers.advance(secs(1.0)).unwrap(), 3);
    assert_eq!(entries(&l), ["first", "sibling", "child"]);
}

#[test]
fn a_panicking_call_is_logged_and_the_others_still_run() {
    let (timers, _clock) = Timers::manual();
    let l = log();
    timers.call_later(secs(1.0), || panic!("timer exploded"));
    timers.call_later(secs(1.0), recorder(&l, "after"));
    let (ran, lines, status) = capture_logs(|| timers.advance(secs(1.0)).unwrap());
    assert_eq!(ran, 2);
    assert_eq!(entries(&l), ["after"]);
    assert_eq!(status, CaptureStatus::Installed);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].target, "gyre::time");
    assert!(lines[0].message.ends_with("timer exploded"), "{lines:?}");
}

#[test]
fn delayed_call_lifecycle_errors() {
    let (timers, _clock) = Timers::manual();
    let dc = timers.call_later(secs(1.0), || {});
    assert!(dc.active());
    dc.cancel().unwrap();
    assert!(!dc.active());
    assert_eq!(dc.cancel(), Err(DelayedCallError::AlreadyCancelled));
    assert_eq!(dc.reset(secs(1.0)), Err(DelayedCallError::AlreadyCancelled));
    assert_eq!(dc.delay(secs(1.0)), Err(DelayedCallError::AlreadyCancelled));
    assert_eq!(dc.time(), None);

    let dc = timers.call_later(secs(1.0), || {});
    timers.advance(secs(1.0)).unwrap();
    assert!(!dc.active());
    assert_eq!(dc.cancel(), Err(DelayedCallError::AlreadyCalled));
    assert_eq!(dc.reset(secs(1.0)), Err(DelayedCallError::AlreadyCalled));
    assert_eq!(dc.delay(secs(1.0)), Err(DelayedCallError::AlreadyCalled));
}

#[test]
fn cancelling_a_call_from_inside_itself_is_already_called() {
    // Twisted's testAdvanceCancel: `called` is set before the function runs.
    let (timers, _clock) = Timers::manual();
    let slot: Rc<RefCell<Option<DelayedCall>>> = Rc::default();
    let result = Rc::new(RefCell::new(None));
    let (s, r) = (slot.clone(), result.clone());
    *slot.borrow_mut() = Some(timers.call_later(secs(1.0), move || {
        *r.borrow_mut() = Some(s.borrow().as_ref().unwrap().cancel());
    }));
    timers.advance(secs(1.0)).unwrap();
    assert_eq!(*result.borrow(), Some(Err(DelayedCallError::AlreadyCalled)));
}

#[test]
fn reset_and_delay_move_a_call() {
    let (timers, clock) = Timers::manual();
    let start = clock.now();
    let l = log();
    let dc = timers.call_later(secs(1.0), recorder(&l, "moved"));
    dc.delay(secs(1.0)).unwrap(); // Twisted's testCallLaterDelayed: getTime becomes 2
    assert_eq!(dc.time(), Some(start + secs(2.0)));
    timers.advance(secs(1.5)).unwrap();
    dc.reset(secs(1.0)).unwrap(); // now 1.5 → due at 2.5
    assert_eq!(dc.time(), Some(start + secs(2.5)));
    timers.advance(secs(0.9)).unwrap();
    assert!(entries(&l).is_empty());
    timers.advance(secs(0.1)).unwrap();
    assert_eq!(entries(&l), ["moved"]);

    let sooner = timers.call_later(secs(10.0), recorder(&l, "sooner"));
    sooner.reset(secs(1.0)).unwrap();
    timers.advance(secs(1.0)).unwrap();
    assert_eq!(entries(&l), ["moved", "sooner"]);
}

#[test]
fn reset_keeps_calls_ordered() {
    // Twisted's test_callLaterResetLater/SoonerKeepsCallsOrdered: equal deadlines keep the
    // order in which the calls were first scheduled.
    let (timers, _clock) = Timers::manual();
    let l = log();
    let a = timers.call_later(secs(2.0), recorder(&l, "a"));
    timers.call_later(secs(1.0), recorder(&l, "b"));
    a.reset(secs(1.0)).unwrap(); // sooner, same deadline as b, but scheduled first
    timers.advance(secs(1.0)).unwrap();
    assert_eq!(entries(&l), ["a", "b"]);

    let l = log();
    let c = timers.call_later(secs(1.0), recorder(&l, "c"));
    timers.call_later(secs(2.0), recorder(&l, "d"));
    c.reset(secs(2.0)).unwrap(); // later, same deadline as d
    timers.advance(secs(2.0)).unwrap();
    assert_eq!(entries(&l), ["c", "d"]);
}

#[test]
fn reset_inside_a_call_moves_another_call() {
    // Twisted's test_callLaterResetInsideCallKeepsCallsOrdered.
    let (timers, _clock) = Timers::manual();
    let l = log();
    let later = timers.call_later(secs(2.0), recorder(&l, "later"));
    let l2 = l.clone();
    let later2 = later.clone();
    timers.call_later(secs(1.0), move || {
        push(&l2, "first");
        later2.reset(secs(1.0)).unwrap();
    });
    timers.call_later(secs(2.0), recorder(&l, "second"));
    timers.advance(secs(1.0)).unwrap();
    timers.advance(secs(1.0)).unwrap();
    assert_eq!(entries(&l), ["first", "later", "second"]);
}

#[test]
fn a_stale_handle_never_touches_a_newer_call() {
    let (timers, _clock) = Timers::manual();
    let l = log();
    let old = timers.call_later(secs(1.0), || {});
    timers.advance(secs(1.0)).unwrap();
    let new = timers.call_later(secs(1.0), recorder(&l, "new")); // reuses the freed slot
    assert_eq!(old.cancel(), Err(DelayedCallError::AlreadyCalled));
    assert_eq!(old.reset(secs(5.0)), Err(DelayedCallError::AlreadyCalled));
    assert!(new.active());
    assert_ne!(old, new);
    timers.advance(secs(1.0)).unwrap();
    assert_eq!(entries(&l), ["new"]);
}

#[test]
fn pending_calls_lists_live_calls_earliest_first() {
    let (timers, _clock) = Timers::manual();
    let c = timers.call_later(secs(3.0), || {});
    let a = timers.call_later(secs(1.0), || {});
    let cancelled = timers.call_later(secs(2.0), || {});
    cancelled.cancel().unwrap();
    assert_eq!(timers.pending_calls(), [a.clone(), c.clone()]);
    timers.advance(secs(1.0)).unwrap();
    assert_eq!(timers.pending_calls(), [c]);
    assert_eq!(timers.len(), 1);
}

#[test]
fn timeout_is_the_time_to_the_next_call() {
    let (timers, _clock) = Timers::manual();
    assert_eq!(timers.timeout(), None);
    let dc = timers.call_later(secs(2.5), || {});
    timers.call_later(secs(4.0), || {});
    assert_eq!(timers.timeout(), Some(secs(2.5)));
    dc.cancel().unwrap();
    assert_eq!(timers.timeout(), Some(secs(4.0)));
    timers.advance(secs(5.0)).unwrap();
    assert_eq!(timers.timeout(), None);
}

#[test]
fn only_a_manual_clock_can_be_advanced() {
    let timers = Timers::system();
    assert_eq!(timers.advance(secs(1.0)), Err(TimeError::NotManualClock));
    let due = timers.call_later(Duration::ZERO, || {});
    assert_eq!(timers.run_due(), 1);
    assert!(!due.active());
}

#[test]
fn dropping_the_timers_cancels_every_call() {
    let (timers, _clock) = Timers::manual();
    let dc = timers.call_later(secs(1.0), || {});
    drop(timers);
    assert!(!dc.active());
    assert_eq!(dc.cancel(), Err(DelayedCallError::AlreadyCancelled));
}

#[test]
fn pump_advances_step_by_step() {
    let (timers, _clock) = Timers::manual();
    let l = log();
    for s in [1.0, 2.0, 3.0] {
        timers.call_later(secs(s), recorder(&l, &format!("{s}")));
    }
    assert_eq!(timers.pump(&[secs(1.0), secs(1.0)]).unwrap(), 2);
    assert_eq!(entries(&l), ["1", "2"]);
}

// ---- LoopingCall ---------------------------------------------------------------------------

fn counting_loop(timers: &Timers) -> (LoopingCall, Rc<RefCell<Vec<u64>>>) {
    let counts = Rc::new(RefCell::new(Vec::new()));
    let c = counts.clone();
    let lc = LoopingCall::with_count(timers, move |n| {
        c.borrow_mut().push(n);
        Ok::<(), Failure>(())
    });
    (lc, counts)
}

#[test]
fn looping_call_counts_skipped_intervals() {
    // Twisted's Exp: start(1) at 0, then advances 1, 3.5, 0.5, 1 → [1, 1, 3, 1, 1].
    let (timers, _clock) = Timers::manual();
    let (lc, counts) = counting_loop(&timers);
    lc.start(secs(1.0), true).unwrap();
    for step in [1.0, 3.5, 0.5, 1.0] {
        timers.advance(secs(step)).unwrap();
    }
    assert_eq!(*counts.borrow(), [1, 1, 3, 1, 1]);
}

#[test]
fn looping_call_skips_missed_ticks_without_a_burst() {
    let (timers, clock) = Timers::manual();
    let start = clock.now();
    let times = Rc::new(RefCell::new(Vec::new()));
    let (t, c) = (times.clone(), clock.clone());
    let lc = LoopingCall::new(&timers, move || {
        t.borrow_mut().push(c.now() - start);
        Ok::<(), Failure>(())
    });
    lc.start(secs(1.0), false).unwrap();
    timers.advance(secs(5.5)).unwrap(); // one run, at 5.5, not five
    assert_eq!(*times.borrow(), [secs(5.5)]);
    assert_eq!(timers.pending_calls()[0].time(), Some(start + secs(6.0)));
    timers.advance(secs(0.5)).unwrap();
    assert_eq!(*times.borrow(), [secs(5.5), secs(6.0)]);
}

#[test]
fn looping_call_with_interval_zero_runs_every_pass() {
    let (timers, _clock) = Timers::manual();
    let (lc, counts) = counting_loop(&timers);
    lc.start(Duration::ZERO, true).unwrap();
    assert_eq!(*counts.borrow(), [1]);
    assert_eq!(timers.run_due(), 1);
    assert_eq!(timers.run_due(), 1);
    assert_eq!(*counts.borrow(), [1, 1, 1]);
    lc.stop().unwrap();
    assert!(timers.is_empty());
}

#[test]
fn looping_call_start_and_stop_rules() {
    let (timers, _clock) = Timers::manual();
    let (lc, counts) = counting_loop(&timers);
    assert_eq!(lc.stop(), Err(TimeError::NotRunning));
    assert_eq!(lc.reset(), Err(TimeError::NotRunning));
    let done = lc.start(secs(1.0), false).unwrap();
    assert!(counts.borrow().is_empty()); // not now: first run after one interval
    assert_eq!(
        lc.start(secs(1.0), true).err(),
        Some(TimeError::AlreadyRunning)
    );
    timers.advance(secs(1.0)).unwrap();
    assert_eq!(*counts.borrow(), [1]);
    assert!(!done.is_called());
    lc.stop().unwrap();
    assert!(!lc.running());
    assert!(done.take_result().unwrap().is_ok());
    assert!(timers.is_empty());
    // It can be started again.
    lc.start(secs(2.0), true).unwrap();
    assert_eq!(lc.interval(), secs(2.0));
    assert_eq!(*counts.borrow(), [1, 1]);
}

#[test]
fn a_failing_function_stops_the_loop_and_errbacks_start() {
    let (timers, _clock) = Timers::manual();
    let runs = Rc::new(RefCell::new(0));
    let r = runs.clone();
    let lc = LoopingCall::new(&timers, move || {
        *r.borrow_mut() += 1;
        if *r.borrow() == 2 {
            Err(Failure::msg("second run failed"))
        } else {
            Ok(())
        }
    });
    let done = lc.start(secs(1.0), true).unwrap();
    timers.advance(secs(1.0)).unwrap();
    assert!(!lc.running());
    assert_eq!(
        done.take_result().unwrap().unwrap_err().message(),
        "second run failed"
    );
    timers.advance(secs(5.0)).unwrap();
    assert_eq!(*runs.borrow(), 2);
    assert_eq!(lc.stop(), Err(TimeError::NotRunning));
}

#[test]
fn a_pending_deferred_holds_the_next_run_and_time_skips() {
    // Twisted's test_callbackTimeSkips.
    let (timers, clock) = Timers::manual();
    let start = clock.now();
    let pending = Deferred::<()>::new();
    let runs = Rc::new(RefCell::new(0));
    let (p, r) = (pending.clone(), runs.clone());
    let lc = LoopingCall::new(&timers, move || {
        *r.borrow_mut() += 1;
        if *r.borrow() == 1 {
            p.clone()
        } else {
            Deferred::succeeded(())
        }
    });
    lc.start(secs(0.5), true).unwrap();
    timers.advance(secs(2.0)).unwrap();
    assert_eq!(*runs.borrow(), 1);
    assert!(timers.is_empty()); // nothing scheduled while the run's Deferred is pending
    pending.callback(()).unwrap();
    // Scheduled from now (2.0), a boundary: a full interval is added.
    assert_eq!(timers.pending_calls()[0].time(), Some(start + secs(2.5)));
    timers.advance(secs(0.5)).unwrap();
    assert_eq!(*runs.borrow(), 2);
}

#[test]
fn stop_while_a_run_is_pending_fires_start_when_the_run_completes() {
    let (timers, _clock) = Timers::manual();
    let pending = Deferred::<()>::new();
    let p = pending.clone();
    let lc = LoopingCall::new(&timers, move || p.clone());
    let done = lc.start(secs(1.0), true).unwrap();
    lc.stop().unwrap();
    assert!(!done.is_called());
    pending.callback(()).unwrap();
    assert!(done.take_result().unwrap().is_ok());
    assert!(timers.is_empty());
}

#[test]
fn stop_from_inside_the_function() {
    let (timers, _clock) = Timers::manual();
    let me: Rc<RefCell<Option<LoopingCall>>> = Rc::default();
    let m = me.clone();
    let lc = LoopingCall::new(&timers, move || {
        m.borrow().as_ref().unwrap().stop().unwrap();
        Ok::<(), Failure>(())
    });
    *me.borrow_mut() = Some(lc.clone());
    let done = lc.start(secs(1.0), true).unwrap();
    assert!(!lc.running());
    assert!(done.take_result().unwrap().is_ok());
    assert!(timers.is_empty());
    me.borrow_mut().take(); // break the cycle
}

#[test]
fn reset_restarts_the_interval_from_now() {
    let (timers, clock) = Timers::manual();
    let start = clock.now();
    let (lc, counts) = counting_loop(&timers);
    lc.start(secs(1.0), false).unwrap();
    timers.advance(secs(0.75)).unwrap();
    lc.reset().unwrap();
    assert_eq!(timers.pending_calls()[0].time(), Some(start + secs(1.75)));
    timers.advance(secs(0.5)).unwrap();
    assert!(counts.borrow().is_empty());
    timers.advance(secs(0.5)).unwrap();
    assert_eq!(*counts.borrow(), [1]);
}

// ---- defer_later ---------------------------------------------------------------------------

#[test]
fn defer_later_fires_after_the_delay() {
    let (timers, _clock) = Timers::manual();
    let d = defer_later(&timers, secs(1.0), || Ok::<_, Failure>(3));
    assert!(!d.is_called());
    timers.advance(secs(1.0)).unwrap();
    assert_eq!(d.take_result().unwrap().unwrap(), 3);
}

#[test]
fn defer_later_can_wait_on_a_returned_deferred_and_carry_failures() {
    let (timers, _clock) = Timers::manual();
    let inner = Deferred::<u8>::new();
    let i2 = inner.clone();
    let d = defer_later(&timers, secs(1.0), move || i2);
    timers.advance(secs(1.0)).unwrap();
    assert!(d.take_result().is_none());
    inner.callback(9).unwrap();
    assert_eq!(d.take_result().unwrap().unwrap(), 9);

    let d = defer_later(&timers, secs(1.0), || {
        Err::<u8, _>(Failure::msg("failed later"))
    });
    timers.advance(secs(1.0)).unwrap();
    assert_eq!(
        d.take_result().unwrap().unwrap_err().message(),
        "failed later"
    );
}

#[test]
fn cancelling_defer_later_cancels_the_timer_and_never_runs_the_function() {
    let (timers, _clock) = Timers::manual();
    let ran = Rc::new(RefCell::new(false));
    let r = ran.clone();
    let d = defer_later(&timers, secs(1.0), move || {
        *r.borrow_mut() = true;
        Ok::<_, Failure>(())
    });
    d.cancel();
    assert!(timers.is_empty());
    assert!(
        d.take_result()
            .unwrap()
            .unwrap_err()
            .check::<CancelledError>()
    );
    timers.advance(secs(2.0)).unwrap();
    assert!(!*ran.borrow());
}

#[test]
fn durations_too_long_for_the_clock_mean_never() {
    let (timers, clock) = Timers::manual();
    let l = log();
    let never = timers.call_later(Duration::MAX, recorder(&l, "never"));
    let moved = timers.call_later(secs(1.0), recorder(&l, "moved"));
    moved.reset(Duration::MAX).unwrap();
    let delayed = timers.call_later(secs(1.0), recorder(&l, "delayed"));
    delayed.delay(Duration::MAX).unwrap();
    let lc = LoopingCall::new(&timers, {
        let l = l.clone();
        move || {
            push(&l, "tick");
            Ok::<(), Failure>(())
        }
    });
    lc.start(Duration::MAX, true).unwrap();
    let later = defer_later(&timers, Duration::MAX, || Ok::<u8, Failure>(1));
    clock.advance(Duration::MAX); // the manual clock saturates too
    timers.advance(Duration::ZERO).unwrap();
    assert_eq!(entries(&l), ["tick"]);
    assert!(never.active() && moved.active() && delayed.active());
    assert_eq!(timers.len(), 5);
    never.cancel().unwrap();
    lc.stop().unwrap();
    later.cancel();
    assert_eq!(timers.len(), 2);
}

#[test]
fn a_closed_queue_cancels_its_calls_and_drops_new_ones() {
    let (timers, _clock) = Timers::manual();
    let l = log();
    let pending = timers.call_later(secs(1.0), recorder(&l, "pending"));
    assert_eq!(timers.close().len(), 1);
    assert!(!pending.active());
    let late = timers.call_later(Duration::ZERO, recorder(&l, "late"));
    assert!(!late.active());
    assert_eq!(late.cancel(), Err(DelayedCallError::AlreadyCancelled));
    timers.advance(secs(2.0)).unwrap();
    assert!(entries(&l).is_empty());
    assert!(timers.is_empty());
}
