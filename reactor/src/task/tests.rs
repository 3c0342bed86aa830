//! The executor on a manual clock: awaiting Deferreds, order of wakes, cancellation, panics,
//! timeouts, long chains, and wakes from other threads.

use std::cell::{Cell, RefCell};
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::Reactor;
use crate::defer::tests::{failure, value};
use crate::defer::{Deferred, Failure};
use crate::error::{CancelledError, PanicError, TimeoutError};
use crate::testing::capture_logs;
use crate::time::{ManualClock, sleep};

fn manual() -> (Reactor, ManualClock) {
    let clock = ManualClock::new();
    let mut reactor = Reactor::with_clock(clock.clone()).unwrap();
    reactor.install_signal_handlers(false);
    (reactor, clock)
}

fn turn(reactor: &mut Reactor) {
    reactor.iterate(Duration::ZERO).unwrap();
}

#[test]
fn a_future_runs_at_once_up_to_its_first_wait() {
    let (reactor, _) = manual();
    let done =
        reactor.ensure_deferred(async { Ok::<_, Failure>(Deferred::succeeded(20).await? + 1) });
    assert_eq!(value(&done), 21); // no turn needed
}

#[test]
fn awaiting_a_pending_deferred_resumes_on_the_turn_after_it_fires() {
    let (mut reactor, _) = manual();
    let gate = Deferred::<u32>::new();
    let steps = Rc::new(RefCell::new(Vec::new()));
    let (g, s) = (gate.clone(), steps.clone());
    let done = reactor.ensure_deferred(async move {
        s.borrow_mut().push("before");
        let n = g.await?;
        s.borrow_mut().push("after");
        Ok::<u32, Failure>(n * 2)
    });
    turn(&mut reactor);
    assert_eq!(*steps.borrow(), ["before"]);
    gate.callback(21).unwrap();
    assert!(
        !done.is_called(),
        "the task resumes on the loop, not inside callback"
    );
    turn(&mut reactor);
    assert_eq!(*steps.borrow(), ["before", "after"]);
    assert_eq!(value(&done), 42);
}

#[test]
fn a_failed_deferred_comes_out_of_await_as_err_so_question_mark_works() {
    let (reactor, _) = manual();
    let done = reactor.ensure_deferred(async {
        Deferred::<u8>::failed(Failure::msg("nope")).await?;
        Ok::<(), Failure>(())
    });
    assert_eq!(failure(&done).message(), "nope");
}

#[test]
fn tasks_woken_together_run_in_the_order_they_were_woken() {
    let (mut reactor, _) = manual();
    let order = Rc::new(RefCell::new(Vec::new()));
    let gates: Vec<Deferred<()>> = (0..3).map(|_| Deferred::new()).collect();
    for (i, gate) in gates.iter().enumerate() {
        let (g, o) = (gate.clone(), order.clone());
        reactor.ensure_deferred(async move {
            g.await?;
            o.borrow_mut().push(i);
            Ok::<(), Failure>(())
        });
    }
    for i in [2, 0, 1] {
        gates[i].callback(()).unwrap();
    }
    turn(&mut reactor);
    assert_eq!(*order.borrow(), [2, 0, 1]);
}

/// Sets a flag when dropped.
struct DropFlag(Rc<Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

#[test]
fn cancelling_the_task_cancels_what_it_awaits_and_drops_the_future() {
    let (mut reactor, _) = manual();
    let cancelled = Rc::new(Cell::new(false));
    let c = cancelled.clone();
    let inner = Deferred::<u8>::with_canceller(move |_| c.set(true));
    let dropped = Rc::new(Cell::new(false));
    let (i, flag) = (inner.clone(), DropFlag(dropped.clone()));
    let reached_end = Rc::new(Cell::new(false));
    let r = reached_end.clone();
    let outer = reactor.ensure_deferred(async move {
        let _flag = flag;
        let _ = i.await; // the canceller fails it, but the future is dropped first
        r.set(true);
        Ok::<(), Failure>(())
    });
    outer.cancel();
    assert!(cancelled.get(), "the awaited Deferred was cancelled");
    assert!(dropped.get(), "the future was dropped");
    assert!(failure(&outer).check::<CancelledError>());
    turn(&mut reactor);
    assert!(!reached_end.get());
}

#[test]
fn cancellation_reaches_the_innermost_wait_through_nested_awaits() {
    let (mut reactor, _) = manual();
    let cancelled = Rc::new(Cell::new(false));
    let c = cancelled.clone();
    let innermost = Deferred::<u8>::with_canceller(move |_| c.set(true));
    let i = innermost.clone();
    let handle = reactor.handle();
    let outer = reactor.ensure_deferred(async move {
        // A task awaiting a task awaiting a Deferred.
        handle.ensure_deferred(async move { i.await }).await
    });
    turn(&mut reactor);
    outer.cancel();
    assert!(cancelled.get());
    assert!(failure(&outer).check::<CancelledError>());
}

#[test]
fn a_task_that_cancels_itself_ends_after_its_poll() {
    let (mut reactor, _) = manual();
    let me: Rc<RefCell<Option<Deferred<()>>>> = Rc::default();
    let m = me.clone();
    let gate = Deferred::<()>::new();
    let g = gate.clone();
    let task = reactor.ensure_deferred(async move {
        g.await?;
        if let Some(me) = m.borrow().clone() {
            me.cancel();
        }
        Ok::<(), Failure>(())
    });
    *me.borrow_mut() = Some(task.clone());
    gate.callback(()).unwrap();
    turn(&mut reactor);
    assert!(failure(&task).check::<CancelledError>());
}

#[test]
fn a_panic_in_a_task_fails_its_deferred_and_is_logged_and_counted() {
    let (mut reactor, _) = manual();
    let gate = Deferred::<()>::new();
    let g = gate.clone();
    let task = reactor.ensure_deferred(async move {
        g.await?;
        if true {
            panic!("task bug");
        }
        Ok::<(), Failure>(())
    });
    let ((), lines, _) = capture_logs(|| {
        gate.callback(()).unwrap();
        turn(&mut reactor);
    });
    let failure = failure(&task);
    assert_eq!(
        failure.downcast_ref::<PanicError>().unwrap().message,
        "task bug"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.message == "a task panicked: task bug"),
        "{lines:?}"
    );
    assert_eq!(reactor.stats().callback_failures, 1);
    let after = reactor.ensure_deferred(async { Ok::<u8, Failure>(7) });
    assert_eq!(value(&after), 7); // the loop goes on
}

#[test]
fn sleeping_and_timeouts_follow_the_manual_clock() {
    let (mut reactor, clock) = manual();
    let timers = reactor.timers().clone();
    let slept = reactor.ensure_deferred(async move {
        sleep(&timers, Duration::from_secs(5)).await?;
        let never = Deferred::<()>::new();
        never.add_timeout(Duration::from_secs(2), &timers);
        never.await
    });
    clock.advance(Duration::from_secs(4));
    turn(&mut reactor);
    assert!(!slept.is_called());
    clock.advance(Duration::from_secs(1));
    turn(&mut reactor); // the sleep ends: the task starts waiting on `never`
    turn(&mut reactor);
    clock.advance(Duration::from_secs(2));
    turn(&mut reactor);
    turn(&mut reactor);
    let failure = failure(&slept);
    assert_eq!(
        failure.downcast_ref::<TimeoutError>().unwrap().after,
        Duration::from_secs(2)
    );
}

#[test]
fn a_million_awaits_do_not_grow_the_stack() {
    let (mut reactor, _) = manual();
    let sum = reactor.ensure_deferred(async {
        let mut sum = 0u64;
        for i in 0..1_000_000u64 {
            sum += Deferred::succeeded(i).await?;
        }
        Ok::<u64, Failure>(sum)
    });
    assert_eq!(value(&sum), 499_999_500_000);
    // And a line of 10,000 tasks, each awaiting the next one's Deferred.
    let handle = reactor.handle();
    let first = Deferred::<u64>::new();
    let mut last = first.clone();
    for _ in 0..10_000 {
        let wait = last.clone();
        last = handle.ensure_deferred(async move { Ok::<u64, Failure>(wait.await? + 1) });
    }
    first.callback(0).unwrap();
    for _ in 0..10_001 {
        if last.is_called() {
            break;
        }
        turn(&mut reactor);
    }
    assert_eq!(value(&last), 10_000);
}

/// A one-shot value set from another thread, waking whoever waits.
#[derive(Clone, Default)]
struct Oneshot(Arc<Mutex<(Option<u32>, Option<Waker>)>>);

impl Future for Oneshot {
    type Output = u32;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        let mut slot = self.0.lock().unwrap();
        match slot.0.take() {
            Some(v) => Poll::Ready(v),
            None => {
                slot.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

#[test]
fn a_wake_from_another_thread_reaches_the_loop() {
    let (mut reactor, _) = manual();
    let shot = Oneshot::default();
    let s = shot.clone();
    let got = reactor.ensure_deferred(async move { Ok::<u32, Failure>(s.await) });
    std::thread::spawn(move || {
        let waker = {
            let mut slot = shot.0.lock().unwrap();
            slot.0 = Some(99);
            slot.1.take().expect("the task polled once and waits")
        };
        waker.wake(); // not the loop's thread: through the reactor's queue of calls
    })
    .join()
    .unwrap();
    for _ in 0..3 {
        turn(&mut reactor);
    }
    assert_eq!(value(&got), 99);
}

#[test]
fn a_task_spawned_after_the_reactor_is_gone_fails_at_once() {
    let (reactor, _) = manual();
    let handle = reactor.handle();
    let pending = handle.ensure_deferred(Deferred::<u8>::new().into_future());
    drop(reactor);
    let late = handle.ensure_deferred(async { Ok::<u8, Failure>(1) });
    assert!(late.take_result().unwrap().is_err());
    assert!(!pending.is_called()); // dropped with the reactor, unfinished
}

#[test]
fn tasks_take_turns_on_a_lock_and_a_semaphore_and_share_a_queue() {
    use crate::defer::{DeferredLock, DeferredQueue, DeferredSemaphore};
    let (mut reactor, _) = manual();
    let (lock, tokens) = (DeferredLock::new(), DeferredSemaphore::new(2).unwrap());
    let queue = DeferredQueue::<u32>::new();
    let log: Rc<RefCell<Vec<String>>> = Rc::default();
    let gate = Deferred::<()>::new();
    let mut tasks = Vec::new();
    for n in 0..3u32 {
        let (lock, tokens, queue, log, gate) = (
            lock.clone(),
            tokens.clone(),
            queue.clone(),
            log.clone(),
            gate.clone(),
        );
        tasks.push(reactor.ensure_deferred(async move {
            tokens.acquire().await?;
            log.borrow_mut().push(format!("{n} has a token"));
            lock.acquire().await?;
            log.borrow_mut().push(format!("{n} has the lock"));
            if n == 0 {
                gate.await?; // holds the lock and a token until the gate opens
            }
            lock.release()?;
            tokens.release()?;
            queue.put(n).map_err(Failure::new)?;
            Ok::<(), Failure>(())
        }));
    }
    let consumer = {
        let queue = queue.clone();
        reactor.ensure_deferred(async move {
            let mut got = Vec::new();
            for _ in 0..3 {
                got.push(queue.get().map_err(Failure::new)?.await?);
            }
            Ok::<Vec<u32>, Failure>(got)
        })
    };
    turn(&mut reactor);
    assert_eq!(
        *log.borrow(),
        ["0 has a token", "0 has the lock", "1 has a token"]
    );
    gate.callback(()).unwrap();
    for _ in 0..4 {
        turn(&mut reactor);
    }
    assert_eq!(
        *log.borrow(),
        [
            "0 has a token",
            "0 has the lock",
            "1 has a token",
            "1 has the lock",
            "2 has a token",
            "2 has the lock"
        ]
    );
    assert_eq!(value(&consumer), [0, 1, 2]);
    for task in &tasks {
        value(task);
    }
    assert!(!lock.locked());
    assert_eq!(tokens.tokens(), 2);
}

#[test]
fn a_waker_outliving_its_reactor_wakes_nothing_on_any_thread() {
    let (mut reactor, _) = manual();
    let shot = Oneshot::default();
    let s = shot.clone();
    let _pending = reactor.ensure_deferred(async move { Ok::<u32, Failure>(s.await) });
    turn(&mut reactor);
    let waker = shot.0.lock().unwrap().1.take().expect("the task waits");
    drop(reactor);
    waker.wake_by_ref(); // on the loop's thread: the executor is gone
    std::thread::spawn(move || waker.wake()) // elsewhere: the reactor's queue is closed
        .join()
        .unwrap(); // neither panics
}
