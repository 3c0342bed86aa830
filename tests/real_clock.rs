//! Timers, looping calls and timeouts on the real monotonic clock: every wait is bounded.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use gyre::error::TimeoutError;
use gyre::prelude::*;

/// Drives `timers` like a reactor would (sleep until due, run due calls) until nothing is
/// pending, or panics after `cap`.
fn run_until_idle(timers: &Timers, cap: Duration) {
    let give_up = Instant::now() + cap;
    while let Some(wait) = timers.timeout() {
        assert!(
            Instant::now() < give_up,
            "timers still pending after {cap:?}"
        );
        std::thread::sleep(wait.min(Duration::from_millis(50)));
        timers.run_due();
    }
}

#[test]
fn calls_fire_in_order_and_never_early() {
    let timers = Timers::system();
    let start = Instant::now();
    let fired = Rc::new(RefCell::new(Vec::new()));
    for ms in [30u64, 10, 20, 10] {
        let fired = fired.clone();
        timers.call_later(Duration::from_millis(ms), move || {
            fired.borrow_mut().push((ms, start.elapsed()));
        });
    }
    run_until_idle(&timers, Duration::from_secs(5));
    let fired = fired.borrow();
    let order: Vec<u64> = fired.iter().map(|(ms, _)| *ms).collect();
    assert_eq!(order, [10, 10, 20, 30]);
    for (ms, at) in fired.iter() {
        assert!(
            *at >= Duration::from_millis(*ms),
            "{ms} ms call ran at {at:?}"
        );
    }
}

#[test]
fn a_looping_call_and_a_timeout_on_the_real_clock() {
    let timers = Timers::system();
    let runs = Rc::new(RefCell::new(0u32));
    let r = runs.clone();
    let lc = LoopingCall::new(&timers, move || {
        *r.borrow_mut() += 1;
        Ok::<(), Failure>(())
    });
    lc.start(Duration::from_millis(5), true).unwrap();
    let stopper = lc.clone();
    timers.call_later(Duration::from_millis(32), move || stopper.stop().unwrap());

    let never = Deferred::<()>::new();
    never.add_timeout(Duration::from_millis(20), &timers);
    let start = Instant::now();
    run_until_idle(&timers, Duration::from_secs(5));
    // 0, 5, 10, 15, 20, 25, 30 ms: seven runs unless the machine stalled (then fewer, never more).
    let runs = *runs.borrow();
    assert!((1..=7).contains(&runs), "{runs} runs");
    assert!(start.elapsed() >= Duration::from_millis(32));
    let failure = never.take_result().unwrap().unwrap_err();
    assert!(failure.check::<TimeoutError>());
}
