//! DeferredQueue, DeferredLock and DeferredSemaphore, mostly ported from Twisted's
//! `OtherPrimitivesTests` (`test_defer.py`), plus re-entrancy, cancellation and long lines.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::tests::{failure, value};
use super::*;
use crate::error::{CancelledError, LockError, PanicError, QueueOverflow, QueueUnderflow};

type Seen<T> = Rc<RefCell<Vec<T>>>;

fn seen<T>() -> Seen<T> {
    Rc::new(RefCell::new(Vec::new()))
}

fn entries<T: Clone>(seen: &Seen<T>) -> Vec<T> {
    seen.borrow().clone()
}

/// A callback that records the value it gets and passes it on.
fn push_to<T: Clone + 'static>(seen: &Seen<T>) -> impl FnOnce(T) -> Result<T, Failure> + 'static {
    let seen = seen.clone();
    move |v| {
        seen.borrow_mut().push(v.clone());
        Ok(v)
    }
}

/// A callback that records `name:value` and passes the value on.
fn note(
    log: &Seen<String>,
    name: &'static str,
) -> impl FnOnce(i32) -> Result<i32, Failure> + 'static {
    let log = log.clone();
    move |v| {
        log.borrow_mut().push(format!("{name}:{v}"));
        Ok(v)
    }
}

/// A callback that adds one to `counter`.
fn incr(counter: &Rc<Cell<usize>>) -> impl FnOnce(()) -> Result<(), Failure> + 'static {
    let counter = counter.clone();
    move |()| {
        counter.set(counter.get() + 1);
        Ok(())
    }
}

fn assert_cancelled<T: 'static>(d: &Deferred<T>) {
    let f = failure(d);
    assert!(
        f.check::<CancelledError>(),
        "expected CancelledError, got {f:#}"
    );
}

// ---- DeferredQueue ----------------------------------------------------------------------

/// Twisted's `testQueue`, first part: size N = 2, backlog M = 2.
#[test]
fn queue_size_and_backlog_limits() {
    let queue = DeferredQueue::bounded(Some(2), Some(2));
    let gotten = seen();
    for _ in 0..2 {
        queue.get().unwrap().add_callback(push_to(&gotten));
    }
    assert_eq!(queue.get().unwrap_err(), QueueUnderflow);
    assert_eq!(queue.waiting(), 2);

    for i in 0..2 {
        queue.put(i).unwrap();
        assert_eq!(entries(&gotten), (0..=i).collect::<Vec<_>>());
    }
    for i in 0..2 {
        queue.put(2 + i).unwrap();
        assert_eq!(entries(&gotten), [0, 1]);
    }
    assert_eq!(queue.put(99), Err(QueueOverflow));
    assert_eq!((queue.len(), queue.waiting()), (2, 0));

    let gotten = seen();
    for i in 0..2 {
        queue.get().unwrap().add_callback(push_to(&gotten));
        assert_eq!(entries(&gotten), (2..=2 + i).collect::<Vec<_>>());
    }
    assert!(queue.is_empty());
}

/// Twisted's `testQueue`, second part: an unbounded queue serves getters in order.
#[test]
fn getters_are_served_in_order() {
    let queue = DeferredQueue::new();
    let gotten = seen();
    for _ in 0..3 {
        queue.get().unwrap().add_callback(push_to(&gotten));
    }
    assert_eq!(queue.waiting(), 3);
    for i in 0..3 {
        queue.put(i).unwrap();
    }
    assert_eq!(entries(&gotten), [0, 1, 2]);
    assert_eq!((queue.len(), queue.waiting()), (0, 0));
}

/// Twisted's `testQueue`, last part: `size=0` and `backlog=0`.
#[test]
fn zero_size_overflows_and_zero_backlog_underflows() {
    let queue = DeferredQueue::bounded(Some(0), None);
    assert_eq!(queue.put(()), Err(QueueOverflow));
    assert_eq!(queue.len(), 0);

    let queue = DeferredQueue::<()>::bounded(None, Some(0));
    assert_eq!(queue.get().unwrap_err(), QueueUnderflow);
    assert_eq!(queue.waiting(), 0);
    queue.put(()).unwrap();
    value(&queue.get().unwrap()); // an item is there: no waiting needed
}

#[test]
fn queued_items_come_out_oldest_first() {
    let queue = DeferredQueue::new();
    for c in ['a', 'b', 'c'] {
        queue.put(c).unwrap();
    }
    assert_eq!((queue.len(), queue.waiting()), (3, 0));
    let first = queue.get().unwrap();
    assert_eq!(value(&first), 'a');
    assert_eq!(value(&queue.get().unwrap()), 'b');
    assert_eq!(queue.len(), 1);
    let clone = queue.clone();
    assert_eq!(value(&clone.get().unwrap()), 'c');
    assert!(queue.is_empty());
    assert_eq!(
        format!("{queue:?}"),
        "DeferredQueue { len: 0, waiting: 0, size: None, backlog: None }"
    );
}

/// Twisted's `test_cancelQueueAfterSynchronousGet`.
#[test]
fn cancelling_a_fired_get_does_nothing() {
    let queue = DeferredQueue::new();
    let errbacks = Rc::new(Cell::new(0));
    let d = queue.get().unwrap();
    let e = errbacks.clone();
    d.add_errback(move |f| {
        e.set(e.get() + 1);
        Err(f)
    });
    queue.put(4).unwrap();
    d.cancel();
    assert_eq!(errbacks.get(), 0);
    assert_eq!(value(&d), 4);
}

/// Twisted's `test_cancelQueueAfterGet`: the cancelled getter leaves the line, so a later put
/// does not try to fire it.
#[test]
fn a_cancelled_get_leaves_the_line() {
    let queue = DeferredQueue::new();
    let d = queue.get().unwrap();
    assert_eq!(queue.waiting(), 1);
    d.cancel();
    assert_eq!(queue.waiting(), 0);
    let q = queue.clone();
    d.add_errback(move |f| {
        assert!(f.check::<CancelledError>());
        q.put(5).unwrap(); // queued: the cancelled getter is gone
        assert_eq!(q.len(), 1);
        q.get().unwrap()
    });
    assert_eq!(value(&d), 5);
    assert!(queue.is_empty());
}

#[test]
fn cancelling_a_waiting_getter_passes_its_item_to_the_next() {
    let queue = DeferredQueue::new();
    let (a, b, c) = (
        queue.get().unwrap(),
        queue.get().unwrap(),
        queue.get().unwrap(),
    );
    b.cancel();
    assert_eq!(queue.waiting(), 2);
    for i in 1..=3 {
        queue.put(i).unwrap();
    }
    assert_eq!(value(&a), 1);
    assert_cancelled(&b);
    assert_eq!(value(&c), 2);
    assert_eq!((queue.len(), queue.waiting()), (1, 0));
    assert_eq!(value(&queue.get().unwrap()), 3);
}

/// A getter's callback puts and gets again. The nested puts are handed on after that callback
/// returns (Twisted would fire the next getters inside `put`), but the counts seen inside the
/// callback are Twisted's, and no `RefCell` is borrowed twice.
#[test]
fn a_getter_that_puts_and_gets_again() {
    let queue = DeferredQueue::new();
    let log = seen::<String>();
    let first = queue.get().unwrap();
    let second = queue.get().unwrap();
    let (q, l) = (queue.clone(), log.clone());
    first.add_callback(move |v: i32| {
        l.borrow_mut().push(format!("first:{v}"));
        q.put(10).unwrap(); // owed to `second`
        assert_eq!((q.len(), q.waiting()), (0, 0));
        q.put(11).unwrap(); // nobody else waits: queued
        assert_eq!((q.len(), q.waiting()), (1, 0));
        let again = q.get().unwrap(); // takes 11 at once, not the 10 owed to `second`
        assert_eq!(value(&again), 11);
        let later = q.get().unwrap(); // nothing left: waits
        assert_eq!((q.len(), q.waiting()), (0, 1));
        later.add_callback(note(&l, "later"));
        l.borrow_mut().push("first done".into());
        Ok(v)
    });
    second.add_callback(note(&log, "second"));
    queue.put(1).unwrap();
    assert_eq!(entries(&log), ["first:1", "first done", "second:10"]);
    assert_eq!((queue.len(), queue.waiting()), (0, 1));
    queue.put(12).unwrap();
    assert_eq!(
        entries(&log),
        ["first:1", "first done", "second:10", "later:12"]
    );
    assert_eq!(value(&first), 1);
    assert_eq!(value(&second), 10);
}

/// A getter cancelled by an earlier getter's callback, while an item is already owed to it:
/// it leaves the line and the item goes to the next getter.
#[test]
fn a_getter_cancelled_while_its_item_is_on_the_way_passes_it_on() {
    let queue = DeferredQueue::new();
    let a = queue.get().unwrap();
    let b = queue.get().unwrap();
    let c = queue.get().unwrap();
    let (q, b2) = (queue.clone(), b.clone());
    a.add_callback(move |v| {
        q.put(20).unwrap(); // owed to `b`
        b2.cancel();
        assert_eq!((q.len(), q.waiting()), (0, 0)); // owed to `c` now
        Ok(v)
    });
    queue.put(1).unwrap();
    assert_eq!(value(&a), 1);
    assert_cancelled(&b);
    assert_eq!(value(&c), 20);
    assert_eq!((queue.len(), queue.waiting()), (0, 0));
}

/// Firing a getter's Deferred by hand is a misuse; the queue then skips it, and the item is
/// not lost.
#[test]
fn a_getter_fired_by_someone_else_gets_no_item() {
    let queue = DeferredQueue::new();
    let a = queue.get().unwrap();
    let b = queue.get().unwrap();
    a.callback(99).unwrap();
    queue.put(1).unwrap();
    assert_eq!(value(&a), 99);
    assert_eq!(value(&b), 1);
    assert_eq!((queue.len(), queue.waiting()), (0, 0));
    queue.put(2).unwrap();
    assert_eq!(queue.len(), 1);
}

#[test]
fn getters_outlive_a_dropped_queue() {
    let d = {
        let queue = DeferredQueue::<u8>::new();
        queue.get().unwrap()
    };
    assert!(!d.is_called());
    d.cancel(); // the canceller finds no queue: still a clean cancel
    assert_cancelled(&d);
}

/// A hundred thousand getters, each putting the next item from its callback: one flat loop.
#[test]
fn a_long_line_of_getters_feeding_each_other() {
    const N: usize = 100_000;
    let queue = DeferredQueue::new();
    let gotten = seen();
    for _ in 0..N {
        let (q, g) = (queue.clone(), gotten.clone());
        queue.get().unwrap().add_callback(move |v: usize| {
            g.borrow_mut().push(v);
            q.put(v + 1).unwrap();
            Ok(v)
        });
    }
    assert_eq!(queue.waiting(), N);
    queue.put(0).unwrap();
    assert_eq!(gotten.borrow().len(), N);
    assert!(gotten.borrow().iter().copied().eq(0..N));
    assert_eq!((queue.len(), queue.waiting()), (1, 0));
    assert_eq!(value(&queue.get().unwrap()), N);
}

// ---- DeferredLock -----------------------------------------------------------------------

/// Twisted's `testLock`.
#[test]
fn lock_acquire_release_and_run() {
    let lock = DeferredLock::new();
    let counter = Rc::new(Cell::new(0));
    lock.acquire().add_callback(incr(&counter));
    assert!(lock.locked());
    assert_eq!(counter.get(), 1);

    lock.acquire().add_callback(incr(&counter));
    assert!(lock.locked());
    assert_eq!(counter.get(), 1);

    lock.release().unwrap();
    assert!(lock.locked());
    assert_eq!(counter.get(), 2);

    lock.release().unwrap();
    assert!(!lock.locked());
    assert_eq!(counter.get(), 2);

    let control = Deferred::<&str>::new();
    let result = Rc::new(Cell::new(""));
    let (c, r) = (control.clone(), result.clone());
    let result_d = lock.run(move || {
        r.set("first");
        c
    });
    assert!(lock.locked());
    assert_eq!(result.get(), "first");
    let r = result.clone();
    result_d.add_callback(move |v| {
        r.set(v);
        Ok(v)
    });

    lock.acquire().add_callback(incr(&counter));
    assert!(lock.locked());
    assert_eq!(counter.get(), 2);

    control.callback("second").unwrap();
    assert_eq!(result.get(), "second");
    assert!(lock.locked());
    assert_eq!(counter.get(), 3);

    let d = lock.acquire();
    d.cancel();
    assert_cancelled(&d);

    lock.release().unwrap();
    assert!(!lock.locked());
    assert_eq!(value(&result_d), "second");
}

/// Twisted's `test_cancelLockAfterAcquired`.
#[test]
fn cancelling_an_acquired_lock_does_nothing() {
    let lock = DeferredLock::new();
    let d = lock.acquire();
    let errbacks = Rc::new(Cell::new(0));
    let e = errbacks.clone();
    d.add_errback(move |f| {
        e.set(e.get() + 1);
        Err(f)
    });
    d.cancel();
    assert_eq!(errbacks.get(), 0);
    assert!(lock.locked());
    value(&d);
}

/// Twisted's `test_cancelLockBeforeAcquired`; then the lock is not handed to the cancelled one.
#[test]
fn cancelling_a_waiting_acquire_fails_it() {
    let lock = DeferredLock::new();
    let _held = lock.acquire();
    let d = lock.acquire();
    d.cancel();
    assert_cancelled(&d);
    assert_eq!(lock.waiting(), 0);
    lock.release().unwrap();
    assert!(!lock.locked());
}

#[test]
fn releasing_a_free_lock_is_an_error() {
    let lock = DeferredLock::new();
    assert_eq!(lock.release(), Err(LockError::NotLocked));
    value(&lock.acquire());
    lock.release().unwrap();
    assert_eq!(lock.release(), Err(LockError::NotLocked));
    assert!(!lock.locked());
    assert_eq!(
        format!("{lock:?}"),
        "DeferredLock { locked: false, waiting: 0 }"
    );
}

#[test]
fn acquirers_get_the_lock_in_order() {
    let lock = DeferredLock::new();
    let order = seen();
    for i in 0..5 {
        let o = order.clone();
        lock.acquire().add_callback(move |()| {
            o.borrow_mut().push(i);
            Ok(())
        });
    }
    assert_eq!(entries(&order), [0]);
    assert_eq!(lock.waiting(), 4);
    for n in 1..5 {
        lock.release().unwrap();
        assert_eq!(entries(&order), (0..=n).collect::<Vec<_>>());
    }
    assert_eq!(lock.waiting(), 0);
    assert!(lock.locked());
}

#[test]
fn a_cancelled_acquirer_passes_its_turn_on() {
    let lock = DeferredLock::new();
    let _held = lock.acquire();
    let (a, b, c) = (lock.acquire(), lock.acquire(), lock.acquire());
    b.cancel();
    assert_eq!(lock.waiting(), 2);
    lock.release().unwrap();
    assert!(a.is_called() && !c.is_called());
    lock.release().unwrap();
    value(&a);
    assert_cancelled(&b);
    value(&c);
    assert!(lock.locked());
    lock.release().unwrap();
    assert!(!lock.locked());
}

#[test]
fn run_releases_after_success_failure_and_panic() {
    let lock = DeferredLock::new();
    assert_eq!(value(&lock.run(|| Ok::<_, Failure>(1))), 1);
    assert!(!lock.locked());

    let d = lock.run(|| Err::<u8, _>(Failure::msg("bad")));
    assert_eq!(failure(&d).message(), "bad");
    assert!(!lock.locked());

    let d = lock.run(|| -> Result<u8, Failure> { panic!("boom") });
    assert_eq!(
        failure(&d).downcast_ref::<PanicError>().unwrap().message,
        "boom"
    );
    assert!(!lock.locked());

    let work = Deferred::<u8>::new();
    let w = work.clone();
    let d = lock.run(move || w);
    assert!(lock.locked());
    assert!(d.take_result().is_none()); // waits for `work`
    work.errback(Failure::msg("later")).unwrap();
    assert_eq!(failure(&d).message(), "later");
    assert!(!lock.locked());
}

#[test]
fn runs_wait_for_the_lock_and_go_in_order() {
    let lock = DeferredLock::new();
    let held = lock.acquire();
    let order = seen();
    let runs: Vec<Deferred<i32>> = (0..3)
        .map(|i| {
            let o = order.clone();
            lock.run(move || {
                o.borrow_mut().push(i);
                Ok::<_, Failure>(i * 10)
            })
        })
        .collect();
    assert!(entries(&order).is_empty());
    assert_eq!(lock.waiting(), 3);
    value(&held);
    lock.release().unwrap();
    assert_eq!(entries(&order), [0, 1, 2]);
    let results: Vec<i32> = runs.iter().map(value).collect();
    assert_eq!(results, [0, 10, 20]);
    assert!(!lock.locked());
}

#[test]
fn cancelling_a_waiting_run_never_calls_f() {
    let lock = DeferredLock::new();
    let _held = lock.acquire();
    let called = Rc::new(Cell::new(false));
    let c = called.clone();
    let d = lock.run(move || {
        c.set(true);
        Ok::<_, Failure>(())
    });
    d.cancel();
    assert_cancelled(&d);
    assert_eq!(lock.waiting(), 0);
    lock.release().unwrap();
    assert!(!called.get());
    assert!(!lock.locked());
}

#[test]
fn cancelling_a_running_run_cancels_its_deferred_and_releases() {
    let lock = DeferredLock::new();
    let work = Deferred::<u8>::new();
    let w = work.clone();
    let d = lock.run(move || w);
    assert!(lock.locked());
    d.cancel();
    assert_cancelled(&d);
    assert!(work.is_called());
    assert!(!lock.locked());
}

#[test]
fn run_fails_when_f_released_the_lock_itself() {
    let lock = DeferredLock::new();
    let l = lock.clone();
    let d = lock.run(move || {
        l.release().unwrap();
        Ok::<_, Failure>(1)
    });
    let f = failure(&d);
    assert_eq!(f.downcast_ref::<LockError>(), Some(&LockError::NotLocked));
    assert_eq!(f.message(), "released a lock that is not locked");
    assert!(!lock.locked());
}

/// Acquirers whose callbacks release: each hands on after its callback returns (Twisted
/// would nest them), and `locked` already counts the lock as the next acquirer's.
#[test]
fn an_acquirer_that_releases_hands_on_without_nesting() {
    let lock = DeferredLock::new();
    let held = lock.acquire();
    let log = seen::<String>();
    for i in 0..3 {
        let (l, log) = (lock.clone(), log.clone());
        lock.acquire().add_callback(move |()| {
            log.borrow_mut().push(format!("{i}:start"));
            l.release().unwrap();
            log.borrow_mut().push(format!(
                "{i}:end locked={} waiting={}",
                l.locked(),
                l.waiting()
            ));
            Ok(())
        });
    }
    value(&held);
    lock.release().unwrap();
    assert_eq!(
        entries(&log),
        [
            "0:start",
            "0:end locked=true waiting=1",
            "1:start",
            "1:end locked=true waiting=0",
            "2:start",
            "2:end locked=false waiting=0",
        ]
    );
    assert!(!lock.locked());
}

#[test]
fn a_long_line_of_runs() {
    const N: usize = 100_000;
    let lock = DeferredLock::new();
    let held = lock.acquire();
    let next = Rc::new(Cell::new(0));
    let runs: Vec<Deferred<usize>> = (0..N)
        .map(|i| {
            let next = next.clone();
            lock.run(move || {
                assert_eq!(next.get(), i);
                next.set(i + 1);
                Ok::<_, Failure>(i)
            })
        })
        .collect();
    assert_eq!(lock.waiting(), N);
    value(&held);
    lock.release().unwrap();
    assert_eq!(next.get(), N);
    assert!(runs.iter().map(value).eq(0..N));
    assert!(!lock.locked());
    assert_eq!(lock.waiting(), 0);
}

#[test]
fn a_long_line_of_acquirers_that_release() {
    const N: usize = 100_000;
    let lock = DeferredLock::new();
    let held = lock.acquire();
    let count = Rc::new(Cell::new(0));
    for _ in 0..N {
        let (l, count) = (lock.clone(), count.clone());
        lock.acquire().add_callback(move |()| {
            count.set(count.get() + 1);
            l.release().map_err(Failure::new)
        });
    }
    value(&held);
    lock.release().unwrap();
    assert_eq!(count.get(), N);
    assert!(!lock.locked());
}

// ---- DeferredSemaphore ------------------------------------------------------------------

/// Twisted's `testSemaphore`.
#[test]
fn semaphore_acquire_release_and_run() {
    const N: usize = 13;
    let sem = DeferredSemaphore::new(N).unwrap();
    let counter = Rc::new(Cell::new(0));

    let control = Deferred::<()>::new();
    let helper_called = Rc::new(Cell::new(false));
    let (c, h) = (control.clone(), helper_called.clone());
    let result_d = sem.run(move || {
        h.set(true);
        c
    });
    let results = seen();
    result_d
        .add_callback(push_to(&results))
        .add_callback(incr(&counter));
    assert!(entries(&results).is_empty());
    assert!(helper_called.get());
    control.callback(()).unwrap();
    assert_eq!(entries(&results), [()]);
    assert_eq!(counter.get(), 1);
    assert_eq!(sem.tokens(), N);

    counter.set(0);
    for i in 1..=N {
        sem.acquire().add_callback(incr(&counter));
        assert_eq!(counter.get(), i);
    }

    let outcome = seen();
    let (ok, err) = (outcome.clone(), outcome.clone());
    let d = sem.acquire();
    d.add_callbacks(
        move |()| {
            ok.borrow_mut().push(false);
            Ok(())
        },
        move |_| {
            err.borrow_mut().push(true);
            Ok(())
        },
    );
    d.cancel();
    assert_eq!(entries(&outcome), [true]);

    sem.acquire().add_callback(incr(&counter));
    assert_eq!(counter.get(), N);

    sem.release().unwrap();
    assert_eq!(counter.get(), N + 1);

    for _ in 1..=N {
        sem.release().unwrap();
        assert_eq!(counter.get(), N + 1);
    }
    assert_eq!((sem.tokens(), sem.limit(), sem.waiting()), (N, N, 0));
    assert_eq!(sem.release(), Err(LockError::TooManyReleases));
}

/// Twisted's `test_semaphoreInvalidTokens`.
#[test]
fn zero_tokens_is_an_error() {
    assert_eq!(
        DeferredSemaphore::new(0).unwrap_err(),
        LockError::ZeroTokens
    );
    assert_eq!(DeferredSemaphore::new(1).unwrap().limit(), 1);
}

/// Twisted's `test_cancelSemaphoreAfterAcquired` and `test_cancelSemaphoreBeforeAcquired`.
#[test]
fn cancelling_semaphore_acquires() {
    let sem = DeferredSemaphore::new(1).unwrap();
    let first = sem.acquire();
    first.cancel();
    value(&first); // already acquired: the cancel did nothing
    let second = sem.acquire();
    second.cancel();
    assert_cancelled(&second);
    assert_eq!((sem.tokens(), sem.waiting()), (0, 0));
    sem.release().unwrap();
    assert_eq!(sem.tokens(), 1);
}

#[test]
fn tokens_and_releases_are_counted_exactly() {
    let sem = DeferredSemaphore::new(3).unwrap();
    let held: Vec<Deferred<()>> = (0..5).map(|_| sem.acquire()).collect();
    let fired: Vec<bool> = held.iter().map(Deferred::is_called).collect();
    assert_eq!(fired, [true, true, true, false, false]);
    assert_eq!((sem.tokens(), sem.waiting()), (0, 2));
    sem.release().unwrap();
    assert!(held[3].is_called() && !held[4].is_called());
    assert_eq!((sem.tokens(), sem.waiting()), (0, 1));
    for expected_tokens in [0, 1, 2, 3] {
        sem.release().unwrap();
        assert_eq!(sem.tokens(), expected_tokens);
    }
    assert_eq!(sem.release(), Err(LockError::TooManyReleases));
    assert_eq!(sem.tokens(), 3);
    assert_eq!(
        format!("{sem:?}"),
        "DeferredSemaphore { tokens: 3, limit: 3, waiting: 0 }"
    );
}

#[test]
fn semaphore_run_limits_how_many_run_at_once() {
    let sem = DeferredSemaphore::new(2).unwrap();
    let started = seen();
    let jobs: Vec<Deferred<usize>> = (0..5).map(|_| Deferred::new()).collect();
    let results: Vec<Deferred<usize>> = jobs
        .iter()
        .enumerate()
        .map(|(i, job)| {
            let (job, started) = (job.clone(), started.clone());
            sem.run(move || {
                started.borrow_mut().push(i);
                job
            })
        })
        .collect();
    assert_eq!(entries(&started), [0, 1]);
    jobs[1].callback(1).unwrap();
    assert_eq!(entries(&started), [0, 1, 2]);
    jobs[0].errback(Failure::msg("job 0")).unwrap();
    assert_eq!(entries(&started), [0, 1, 2, 3]);
    assert_eq!((sem.tokens(), sem.waiting()), (0, 1));
    for (i, job) in jobs.iter().enumerate().skip(2) {
        job.callback(i).unwrap();
    }
    assert_eq!(entries(&started), [0, 1, 2, 3, 4]);
    assert_eq!(failure(&results[0]).message(), "job 0");
    let values: Vec<usize> = results[1..].iter().map(value).collect();
    assert_eq!(values, [1, 2, 3, 4]);
    assert_eq!((sem.tokens(), sem.waiting()), (2, 0));
}

#[test]
fn a_long_line_of_semaphore_runs() {
    const N: usize = 100_000;
    let sem = DeferredSemaphore::new(3).unwrap();
    let held: Vec<Deferred<()>> = (0..3).map(|_| sem.acquire()).collect();
    let ran = Rc::new(Cell::new(0));
    for _ in 0..N {
        let ran = ran.clone();
        sem.run(move || {
            ran.set(ran.get() + 1);
            Ok::<_, Failure>(())
        });
    }
    assert_eq!(sem.waiting(), N);
    for d in &held {
        value(d);
    }
    sem.release().unwrap();
    assert_eq!(ran.get(), N);
    assert_eq!((sem.tokens(), sem.waiting()), (1, 0));
}

#[test]
fn error_messages() {
    assert_eq!(QueueOverflow.to_string(), "the queue is full");
    assert_eq!(
        QueueUnderflow.to_string(),
        "too many getters are already waiting on the queue"
    );
    assert_eq!(
        LockError::NotLocked.to_string(),
        "released a lock that is not locked"
    );
    assert_eq!(
        LockError::TooManyReleases.to_string(),
        "released a semaphore more times than it was acquired"
    );
    assert_eq!(
        LockError::ZeroTokens.to_string(),
        "a semaphore needs at least one token"
    );
}
