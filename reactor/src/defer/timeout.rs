//! [`Deferred::add_timeout`]: cancel a Deferred that takes too long.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use super::{Deferred, Failure};
use crate::error::{CancelledError, TimeoutError};
use crate::time::Timers;

impl<T: 'static> Deferred<T> {
    /// Cancels this Deferred if it has not fired `timeout` from now on `timers`' clock, and
    /// turns the resulting [`CancelledError`] into a [`TimeoutError`] (Twisted's `addTimeout`).
    /// If it fires in time, the timer is cancelled. The conversion happens at this point of the
    /// chain: callbacks added before see the `CancelledError`, callbacks added after see the
    /// `TimeoutError`.
    ///
    /// ```
    /// use gyre::defer::Deferred;
    /// use gyre::error::TimeoutError;
    /// use gyre::time::Timers;
    /// use std::time::Duration;
    ///
    /// let (timers, _clock) = Timers::manual();
    /// let d = Deferred::<u8>::new();
    /// d.add_timeout(Duration::from_secs(5), &timers);
    /// timers.advance(Duration::from_secs(5)).unwrap();
    /// let failure = d.take_result().unwrap().unwrap_err();
    /// assert_eq!(failure.downcast_ref::<TimeoutError>().unwrap().after, Duration::from_secs(5));
    /// ```
    pub fn add_timeout(&self, timeout: Duration, timers: &Timers) -> &Self {
        let timed_out = Rc::new(Cell::new(false));
        let flag = timed_out.clone();
        // The timer holds the Deferred (as Twisted's `callLater(t, d.cancel)` does), so a
        // Deferred nobody else keeps still times out; firing in time cancels the timer.
        let target = self.clone();
        let call = timers.call_later(timeout, move || {
            flag.set(true);
            target.cancel();
        });
        self.add_both(move |result| {
            let _ = call.cancel(); // already ran if we timed out: that is fine
            match result {
                Err(f) if timed_out.get() && f.check::<CancelledError>() => {
                    Err(Failure::new(TimeoutError { after: timeout }))
                }
                other => other,
            }
        })
    }
}
