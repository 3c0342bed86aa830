//! [`defer_later`]: a Deferred that fires after a delay (Twisted's `task.deferLater`).

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use super::{DelayedCall, Timers};
use crate::defer::{Deferred, IntoStep};

/// A Deferred that fires with what `f` returns, `delay` from now. `f` may return a value, a
/// failure or a Deferred. Cancelling it before then cancels the timer and fails it with
/// [`CancelledError`](crate::error::CancelledError); `f` never runs.
///
/// ```
/// use gyre::defer::Failure;
/// use gyre::time::{defer_later, Timers};
/// use std::time::Duration;
///
/// let (timers, _clock) = Timers::manual();
/// let d = defer_later(&timers, Duration::from_secs(2), || Ok::<_, Failure>("late"));
/// timers.advance(Duration::from_secs(1)).unwrap();
/// assert!(d.take_result().is_none());
/// timers.advance(Duration::from_secs(1)).unwrap();
/// assert_eq!(d.take_result().unwrap().unwrap(), "late");
/// ```
pub fn defer_later<T: 'static, R: IntoStep<T>>(
    timers: &Timers,
    delay: Duration,
    f: impl FnOnce() -> R + 'static,
) -> Deferred<T> {
    let call: Rc<Cell<Option<DelayedCall>>> = Rc::default();
    let to_cancel = call.clone();
    let tick = Deferred::<()>::with_canceller(move |_| {
        if let Some(call) = to_cancel.take() {
            let _ = call.cancel();
        }
    });
    let fire = tick.clone();
    call.set(Some(timers.call_later(delay, move || {
        let _ = fire.callback(());
    })));
    tick.then(move |()| f())
}

/// A Deferred that fires with `()` after `delay` (Twisted's `deferLater(clock, delay)` without a
/// function): `sleep(timers, d).await` in async code. Cancelling it cancels the timer.
///
/// ```
/// use gyre::time::{sleep, Timers};
/// use std::time::Duration;
///
/// let (timers, _clock) = Timers::manual();
/// let nap = sleep(&timers, Duration::from_secs(3));
/// timers.advance(Duration::from_secs(3)).unwrap();
/// assert!(nap.take_result().unwrap().is_ok());
/// ```
pub fn sleep(timers: &Timers, delay: Duration) -> Deferred<()> {
    defer_later(timers, delay, || Ok::<(), crate::defer::Failure>(()))
}
