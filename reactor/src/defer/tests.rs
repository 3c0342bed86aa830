//! Deferred behaviour, rule by rule, mostly ported from Twisted's `test_defer.py`.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use super::*;
use crate::error::{
    AlreadyCalled, CancelledError, FailureGroup, FirstError, PanicError, TimeoutError,
};
use crate::testing::{CaptureStatus, capture_logs};
use crate::time::Timers;

type Log = Rc<RefCell<Vec<String>>>;

fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

fn entries(log: &Log) -> Vec<String> {
    log.borrow().clone()
}

/// A callback that records `name:value` and passes the value on.
fn note(log: &Log, name: &'static str) -> impl FnOnce(i32) -> Result<i32, Failure> + 'static {
    let log = log.clone();
    move |v| {
        log.borrow_mut().push(format!("{name}:{v}"));
        Ok(v)
    }
}

/// An errback that records `name:message` and keeps failing.
fn note_err(
    log: &Log,
    name: &'static str,
) -> impl FnOnce(Failure) -> Result<i32, Failure> + 'static {
    let log = log.clone();
    move |f| {
        log.borrow_mut().push(format!("{name}:{}", f.message()));
        Err(f)
    }
}

/// The value `d` fired with (a test fails on anything else).
pub(crate) fn value<T: 'static>(d: &Deferred<T>) -> T {
    match d.take_result() {
        Some(Ok(v)) => v,
        Some(Err(f)) => panic!("expected a value, got failure {f:#}"),
        None => panic!("expected a result, the Deferred has none yet: {d:?}"),
    }
}

/// The failure `d` fired with (a test fails on anything else).
pub(crate) fn failure<T: 'static>(d: &Deferred<T>) -> Failure {
    match d.take_result() {
        Some(Err(f)) => f,
        Some(Ok(_)) => panic!("expected a failure, got a value"),
        None => panic!("expected a result, the Deferred has none yet: {d:?}"),
    }
}

#[test]
fn callbacks_run_in_order_inside_callback() {
    let l = log();
    let d = Deferred::new();
    d.add_callback(note(&l, "a"))
        .add_callback(|v| Ok(v + 1))
        .add_callback(note(&l, "b"));
    assert!(entries(&l).is_empty());
    d.callback(1).unwrap();
    assert_eq!(entries(&l), ["a:1", "b:2"]);
    assert_eq!(value(&d), 2);
}

#[test]
fn a_deferred_fires_once() {
    let d = Deferred::<i32>::new();
    d.callback(1).unwrap();
    assert_eq!(d.callback(2), Err(AlreadyCalled));
    assert_eq!(d.errback(Failure::msg("x")), Err(AlreadyCalled));
    assert_eq!(value(&d), 1);
    let e = Deferred::<i32>::new();
    e.errback(Failure::msg("first")).unwrap();
    assert_eq!(e.callback(2), Err(AlreadyCalled));
    assert_eq!(failure(&e).message(), "first");
}

#[test]
fn callbacks_added_after_firing_run_at_once() {
    let l = log();
    let d = Deferred::succeeded(5);
    d.add_callback(note(&l, "late"));
    assert_eq!(entries(&l), ["late:5"]);
}

#[test]
fn an_error_switches_to_the_errback_path_and_recovery_switches_back() {
    let l = log();
    let d = Deferred::new();
    d.add_callback(|_: i32| Err::<i32, _>(Failure::msg("bad")))
        .add_callback(note(&l, "skipped"))
        .add_errback(note_err(&l, "eb1"))
        .add_errback(|_| Ok(10))
        .add_errback(note_err(&l, "skipped too"))
        .add_callback(note(&l, "cb"));
    d.callback(0).unwrap();
    assert_eq!(entries(&l), ["eb1:bad", "cb:10"]);
}

#[test]
fn add_callbacks_runs_exactly_one_side() {
    let l = log();
    let d = Deferred::new();
    d.add_callbacks(note(&l, "cb"), note_err(&l, "eb"));
    d.callback(3).unwrap();
    let e = Deferred::new();
    // The errback of a pair does not see a failure raised by its own callback.
    e.add_callbacks(
        |_: i32| Err::<i32, _>(Failure::msg("x")),
        note_err(&l, "same-link eb"),
    )
    .add_errback(note_err(&l, "next eb"));
    e.callback(4).unwrap();
    assert_eq!(entries(&l), ["cb:3", "next eb:x"]);
    let _ = e.take_result();
}

#[test]
fn add_both_sees_both_paths() {
    let l = log();
    for d in [Deferred::succeeded(1), Deferred::failed(Failure::msg("f"))] {
        let l2 = l.clone();
        d.add_both(move |r: Result<i32, Failure>| {
            l2.borrow_mut()
                .push(format!("{:?}", r.as_ref().map_err(Failure::message)));
            Ok(0)
        });
    }
    assert_eq!(entries(&l), ["Ok(1)", "Err(\"f\")"]);
}

#[test]
fn returning_a_deferred_pauses_the_chain_until_it_fires() {
    // Twisted's Exp: ['before inner fires', 'inner'].
    let l = log();
    let inner = Deferred::<i32>::new();
    let outer = Deferred::new();
    let i2 = inner.clone();
    outer
        .add_callback(move |_: i32| i2)
        .add_callback(note(&l, "outer got"));
    outer.callback(0).unwrap();
    l.borrow_mut().push("before inner fires".into());
    inner.callback(7).unwrap();
    assert_eq!(entries(&l), ["before inner fires", "outer got:7"]);
    // The inner Deferred's result was handed to the outer chain.
    assert_eq!(value(&outer), 7);
    assert!(inner.take_result().is_none());
}

#[test]
fn a_returned_fired_deferred_continues_at_once_and_failures_carry_over() {
    let l = log();
    let d = Deferred::new();
    d.add_callback(|v: i32| Deferred::succeeded(v * 3))
        .add_callback(note(&l, "cb"))
        .add_callback(|_| Deferred::<i32>::failed(Failure::msg("inner failed")))
        .add_errback(note_err(&l, "eb"));
    d.callback(2).unwrap();
    assert_eq!(entries(&l), ["cb:6", "eb:inner failed"]);
    assert_eq!(failure(&d).message(), "inner failed");
}

#[test]
fn a_callback_returning_its_own_deferred_fails_instead_of_hanging() {
    let d = Deferred::<i32>::new();
    let me = d.clone();
    d.add_callback(move |_| me);
    d.callback(1).unwrap();
    assert!(failure(&d).message().contains("cannot wait on itself"));
}

#[test]
fn a_million_callbacks_do_not_overflow_the_stack() {
    let d = Deferred::new();
    for _ in 0..1_000_000 {
        d.add_callback(|v: u64| Ok(v + 1));
    }
    d.callback(0).unwrap();
    assert_eq!(value(&d), 1_000_000);
}

/// `n + 1` Deferreds where each of the first `n` has fired and waits on the next (its
/// callback returned it); only the last is unfired.
fn waiting_line(n: usize) -> Vec<Deferred<usize>> {
    let ds: Vec<Deferred<usize>> = (0..=n).map(|_| Deferred::new()).collect();
    for i in 0..n {
        let next = ds[i + 1].clone();
        ds[i].add_callback(move |_| next);
    }
    for d in &ds[..n] {
        d.callback(0).unwrap(); // each now waits on the next
    }
    ds
}

#[test]
fn a_hundred_thousand_nested_deferreds_resolve_iteratively() {
    const N: usize = 100_000;
    let ds = waiting_line(N);
    let seen = Rc::new(RefCell::new(None));
    let s = seen.clone();
    ds[0].add_callback(move |v| {
        *s.borrow_mut() = Some(v);
        Ok(v)
    });
    assert!(seen.borrow().is_none());
    ds[N].callback(42).unwrap();
    assert_eq!(*seen.borrow(), Some(42));
}

#[test]
fn dropping_a_hundred_thousand_waiting_deferreds_does_not_overflow_the_stack() {
    const N: usize = 100_000;
    let ds = waiting_line(N);
    assert!(!ds[0].is_paused() && ds[0].take_result().is_none()); // waiting
    // Now each inner Deferred's last link owns its outer one. Drop every handle, innermost
    // last, so one drop has to release the whole line.
    let innermost = ds[N].clone();
    drop(ds);
    drop(innermost);
}

#[test]
fn long_lines_of_chain_deferred_and_then_are_iterative() {
    let first = Deferred::<u64>::new();
    let mut last = first.clone();
    for _ in 0..200_000 {
        let next = Deferred::new();
        last.chain_deferred(&next);
        last = next;
    }
    let mut tail = last.clone();
    for _ in 0..200_000 {
        tail = tail.then(|v| Ok(v + 1));
    }
    first.callback(1).unwrap();
    assert_eq!(value(&tail), 200_001);
}

#[test]
fn pause_and_unpause_nest() {
    let l = log();
    let d = Deferred::new();
    d.pause().pause();
    d.add_callback(note(&l, "a"));
    d.callback(1).unwrap();
    assert!(d.is_paused());
    d.unpause();
    assert!(entries(&l).is_empty());
    d.unpause();
    assert_eq!(entries(&l), ["a:1"]);
    d.unpause(); // extra unpause: nothing happens
    assert!(!d.is_paused());
    d.add_callback(note(&l, "b"));
    assert_eq!(entries(&l), ["a:1", "b:1"]);
}

#[test]
fn pausing_inside_a_callback_stops_the_rest() {
    let l = log();
    let d = Deferred::new();
    let me = d.clone();
    d.add_callback(move |v: i32| {
        me.pause();
        Ok(v)
    })
    .add_callback(note(&l, "after"));
    d.callback(1).unwrap();
    assert!(entries(&l).is_empty());
    d.unpause();
    assert_eq!(entries(&l), ["after:1"]);
}

#[test]
fn cancel_without_canceller_fails_and_swallows_the_first_late_fire() {
    let d = Deferred::<i32>::new();
    d.cancel();
    assert!(failure(&d).check::<CancelledError>());
    assert_eq!(d.callback(1), Ok(())); // the producer's fire is eaten
    assert_eq!(d.callback(2), Err(AlreadyCalled)); // the next one is an error
}

#[test]
fn a_canceller_may_fire_the_deferred_itself() {
    let d = Deferred::<i32>::with_canceller(|d| {
        d.callback(99).unwrap();
    });
    d.cancel();
    assert_eq!(value(&d), 99);
    assert_eq!(d.callback(1), Err(AlreadyCalled)); // no swallowing with a canceller
}

#[test]
fn a_canceller_that_does_not_fire_leads_to_cancelled_error() {
    let called = Rc::new(RefCell::new(0));
    let c = called.clone();
    let d = Deferred::<i32>::with_canceller(move |_| *c.borrow_mut() += 1);
    d.cancel();
    d.cancel(); // fired now: no-op
    assert_eq!(*called.borrow(), 1);
    assert!(failure(&d).check::<CancelledError>());
    assert_eq!(d.callback(1), Err(AlreadyCalled));
}

#[test]
fn a_panicking_canceller_is_logged_and_the_deferred_is_still_cancelled() {
    let d = Deferred::<i32>::with_canceller(|_| panic!("canceller broke"));
    let ((), lines, status) = capture_logs(|| d.cancel());
    assert!(failure(&d).check::<CancelledError>());
    assert_eq!(status, CaptureStatus::Installed);
    assert!(
        lines.iter().any(|l| l.message.contains("canceller broke")),
        "{lines:?}"
    );
}

#[test]
fn cancel_is_forwarded_to_the_inner_deferred_being_waited_on() {
    let inner_cancelled = Rc::new(RefCell::new(false));
    let flag = inner_cancelled.clone();
    let inner = Deferred::<i32>::with_canceller(move |_| *flag.borrow_mut() = true);
    let outer = Deferred::new();
    let i2 = inner.clone();
    outer.add_callback(move |_: i32| i2);
    outer.callback(0).unwrap();
    outer.cancel();
    assert!(*inner_cancelled.borrow());
    assert!(failure(&outer).check::<CancelledError>());
}

#[test]
fn cancelling_a_fired_deferred_does_nothing() {
    let d = Deferred::succeeded(1);
    d.cancel();
    assert_eq!(value(&d), 1);
}

#[test]
fn a_panicking_callback_becomes_a_failure() {
    let l = log();
    let d = Deferred::new();
    d.add_callback(|_: i32| -> Result<i32, Failure> { panic!("kaboom") })
        .add_errback(note_err(&l, "eb"));
    d.callback(1).unwrap();
    assert_eq!(entries(&l), ["eb:a callback panicked: kaboom"]);
    assert_eq!(
        failure(&d).downcast_ref::<PanicError>().unwrap().message,
        "kaboom"
    );
}

#[test]
fn reentrant_use_from_inside_a_callback() {
    let l = log();
    let d = Deferred::new();
    let me = d.clone();
    let l2 = l.clone();
    d.add_callback(move |v: i32| {
        // Adding a link while running queues it after the current one.
        me.add_callback(note(&l2, "added inside"));
        // Firing again from inside is an error, not a panic.
        assert_eq!(me.callback(5), Err(AlreadyCalled));
        l2.borrow_mut().push("first done".into());
        Ok(v + 1)
    });
    d.callback(1).unwrap();
    assert_eq!(entries(&l), ["first done", "added inside:2"]);
}

#[test]
fn then_changes_the_type_and_forwards_failures_and_cancel() {
    let d = Deferred::<&str>::new();
    let len = d.then(|s| Ok(s.len()));
    let doubled = len.map(|n| n * 2);
    d.callback("four").unwrap();
    assert_eq!(value(&doubled), 8);

    let d = Deferred::<&str>::new();
    let n = d.then(|s| Ok(s.len()));
    d.errback(Failure::msg("lost")).unwrap();
    assert_eq!(failure(&n).message(), "lost");

    let d = Deferred::<&str>::new();
    let n = d.map(|s| s.len());
    n.cancel();
    assert!(failure(&n).check::<CancelledError>());
    assert!(d.is_called());
}

#[test]
fn then_may_return_a_deferred_of_the_new_type() {
    let inner = Deferred::<usize>::new();
    let i2 = inner.clone();
    let d = Deferred::<&str>::new();
    let out = d.then(move |_| i2);
    d.callback("x").unwrap();
    assert!(out.take_result().is_none());
    inner.callback(3).unwrap();
    assert_eq!(value(&out), 3);
}

#[test]
fn callbacks_added_after_a_hand_off_never_run_and_are_logged() {
    let d = Deferred::succeeded(1);
    let _n = d.map(|v| v + 1);
    let ran = Rc::new(RefCell::new(false));
    let r = ran.clone();
    let ((), lines, status) = capture_logs(|| {
        d.add_callback(move |v| {
            *r.borrow_mut() = true;
            Ok(v)
        });
    });
    assert!(!*ran.borrow());
    assert_eq!(status, CaptureStatus::Installed);
    assert!(lines[0].message.contains("handed on"), "{lines:?}");
}

#[test]
fn chain_deferred_hands_the_result_over() {
    let a = Deferred::<i32>::new();
    let b = Deferred::<i32>::new();
    a.chain_deferred(&b);
    a.callback(4).unwrap();
    assert_eq!(value(&b), 4);
    assert!(a.take_result().is_none());
}

#[test]
fn unhandled_failures_are_logged_when_dropped_and_only_then() {
    let ((), lines, status) = capture_logs(|| {
        let d = Deferred::<i32>::new();
        d.errback(Failure::msg("lost datagram")).unwrap();
        let handled = Deferred::<i32>::failed(Failure::msg("handled"));
        handled.add_errback(|_| Ok(0));
        let taken = Deferred::<i32>::failed(Failure::msg("taken"));
        let _ = taken.take_result();
        let _unfired = Deferred::<i32>::new();
    });
    assert_eq!(status, CaptureStatus::Installed);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].level, log::Level::Error);
    assert_eq!(lines[0].target, "gyre::defer");
    assert_eq!(
        lines[0].message,
        "Unhandled error in Deferred: lost datagram"
    );
}

#[test]
fn add_timeout_times_out_with_timeout_error() {
    let (timers, _clock) = Timers::manual();
    let l = log();
    let d = Deferred::<i32>::new();
    let l2 = l.clone();
    d.add_errback(move |f| {
        // Added before the timeout: sees the cancellation.
        l2.borrow_mut()
            .push(format!("before:{}", f.check::<CancelledError>()));
        Err(f)
    });
    d.add_timeout(Duration::from_secs(10), &timers);
    timers.advance(Duration::from_secs(9)).unwrap();
    assert!(!d.is_called());
    timers.advance(Duration::from_secs(1)).unwrap();
    assert_eq!(entries(&l), ["before:true"]);
    let f = failure(&d);
    assert_eq!(
        f.downcast_ref::<TimeoutError>(),
        Some(&TimeoutError {
            after: Duration::from_secs(10)
        })
    );
    assert_eq!(d.callback(1), Ok(())); // the late producer's fire is swallowed
}

#[test]
fn add_timeout_cancels_its_timer_when_the_deferred_fires_in_time() {
    let (timers, _clock) = Timers::manual();
    let d = Deferred::<i32>::new();
    d.add_timeout(Duration::from_secs(10), &timers);
    assert_eq!(timers.len(), 1);
    d.callback(3).unwrap();
    assert_eq!(timers.len(), 0);
    assert_eq!(value(&d), 3);
}

#[test]
fn add_timeout_keeps_a_cancellers_own_result() {
    let (timers, _clock) = Timers::manual();
    let d = Deferred::<i32>::with_canceller(|d| d.callback(-1).unwrap());
    d.add_timeout(Duration::from_secs(1), &timers);
    timers.advance(Duration::from_secs(1)).unwrap();
    assert_eq!(value(&d), -1);
}

#[test]
fn deferred_list_collects_in_input_order() {
    let ds: Vec<Deferred<i32>> = (0..3).map(|_| Deferred::new()).collect();
    let all = DeferredList::new(ds.clone())
        .consume_errors(true)
        .into_deferred();
    ds[2].callback(2).unwrap();
    ds[0].errback(Failure::msg("zero")).unwrap();
    assert!(!all.is_called());
    ds[1].callback(1).unwrap();
    let ListOutcome::All(results) = value(&all) else {
        panic!("expected All")
    };
    let shown: Vec<_> = results
        .iter()
        .map(|r| r.as_ref().map_err(Failure::message))
        .collect();
    assert_eq!(shown, [Err("zero".to_string()), Ok(&1), Ok(&2)]);
}

#[test]
fn an_empty_list_fires_at_once() {
    let ListOutcome::All(results) = value(&DeferredList::<i32>::new(vec![]).into_deferred()) else {
        panic!("expected All")
    };
    assert!(results.is_empty());
    assert!(value(&deferred_list::<i32>(vec![])).is_empty());
    assert!(value(&gather_results::<i32>(vec![], false)).is_empty());
}

#[test]
fn deferred_list_fire_on_one_callback_and_errback() {
    let ds: Vec<Deferred<i32>> = (0..3).map(|_| Deferred::new()).collect();
    let first = DeferredList::new(ds.clone())
        .fire_on_one_callback(true)
        .consume_errors(true)
        .into_deferred();
    ds[0].errback(Failure::msg("no")).unwrap();
    ds[2].callback(20).unwrap();
    let ListOutcome::First { index, value: v } = value(&first) else {
        panic!("expected First")
    };
    assert_eq!((index, v), (2, 20));
    ds[1].callback(10).unwrap(); // later results are ignored

    let ds: Vec<Deferred<i32>> = (0..3).map(|_| Deferred::new()).collect();
    let first_err = DeferredList::new(ds.clone())
        .fire_on_one_errback(true)
        .consume_errors(true)
        .into_deferred();
    ds[0].callback(0).unwrap();
    ds[1].errback(Failure::msg("one")).unwrap();
    let f = failure(&first_err);
    let fe = f.downcast_ref::<FirstError>().unwrap();
    assert_eq!((fe.index, fe.failure.message()), (1, "one".to_string()));
}

#[test]
fn deferred_list_without_consume_errors_leaves_failures_in_members() {
    let ((), lines, status) = capture_logs(|| {
        let d = Deferred::<i32>::new();
        let list = DeferredList::new(vec![d.clone()]).into_deferred();
        d.errback(Failure::msg("kept")).unwrap();
        let ListOutcome::All(results) = value(&list) else {
            panic!()
        };
        assert_eq!(results[0].as_ref().unwrap_err().message(), "kept");
        assert_eq!(failure(&d).message(), "kept"); // still in the member
        let consumed = Deferred::<i32>::new();
        let _list = DeferredList::new(vec![consumed.clone()])
            .consume_errors(true)
            .into_deferred();
        consumed.errback(Failure::msg("consumed")).unwrap();
        assert!(consumed.take_result().is_none());
    });
    assert_eq!(status, CaptureStatus::Installed);
    assert!(lines.is_empty(), "{lines:?}");
}

#[test]
fn cancelling_a_list_cancels_every_member() {
    let ds: Vec<Deferred<i32>> = (0..3).map(|_| Deferred::new()).collect();
    let list = DeferredList::new(ds.clone())
        .consume_errors(true)
        .into_deferred();
    list.cancel();
    for d in &ds {
        assert!(d.is_called());
    }
    let ListOutcome::All(results) = value(&list) else {
        panic!()
    };
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().unwrap_err().check::<CancelledError>())
    );
}

#[test]
fn gather_results_gives_values_or_the_first_error_with_its_index() {
    let ds: Vec<Deferred<i32>> = (0..3).map(|_| Deferred::new()).collect();
    let g = gather_results(ds.clone(), true);
    for (i, d) in ds.iter().enumerate().rev() {
        d.callback(i as i32).unwrap();
    }
    assert_eq!(value(&g), [0, 1, 2]);

    // Twisted's Exp: ('FirstError', 1, 'ValueError').
    let ds = vec![
        Deferred::succeeded(1),
        Deferred::failed("x".parse::<u8>().unwrap_err()),
    ];
    let g = gather_results(ds, true);
    let f = failure(&g);
    let fe = f.downcast_ref::<FirstError>().unwrap();
    assert_eq!(fe.index, 1);
    assert!(fe.failure.check::<std::num::ParseIntError>());

    let ds: Vec<Deferred<i32>> = (0..2).map(|_| Deferred::new()).collect();
    let g = gather_results(ds.clone(), true);
    g.cancel();
    assert!(ds.iter().all(Deferred::is_called));
}

#[test]
fn race_takes_the_first_success_and_cancels_the_rest() {
    let cancelled = Rc::new(RefCell::new(Vec::new()));
    let ds: Vec<Deferred<i32>> = (0..3)
        .map(|i| {
            let c = cancelled.clone();
            Deferred::with_canceller(move |_| c.borrow_mut().push(i))
        })
        .collect();
    let r = race(ds.clone());
    ds[0].errback(Failure::msg("zero failed")).unwrap();
    ds[1].callback(11).unwrap();
    assert_eq!(value(&r), (1, 11));
    assert_eq!(*cancelled.borrow(), [2]);

    let ds: Vec<Deferred<i32>> = (0..2).map(|_| Deferred::new()).collect();
    let r = race(ds.clone());
    ds[1].errback(Failure::msg("b")).unwrap();
    ds[0].errback(Failure::msg("a")).unwrap();
    let f = failure(&r);
    let group = f.downcast_ref::<FailureGroup>().unwrap();
    let messages: Vec<_> = group.failures.iter().map(Failure::message).collect();
    assert_eq!(messages, ["a", "b"]);
}

#[test]
fn helpers_succeed_fail_maybe_deferred() {
    assert_eq!(value(&succeed(1)), 1);
    assert_eq!(failure(&fail::<i32>(Failure::msg("f"))).message(), "f");
    let inner = Deferred::<i32>::new();
    let d = maybe_deferred({
        let inner = inner.clone();
        move || inner
    });
    inner.callback(5).unwrap();
    assert_eq!(value(&d), 5);
    let d = maybe_deferred(|| Err::<i32, _>(Failure::msg("raised")));
    assert_eq!(failure(&d).message(), "raised");
}
