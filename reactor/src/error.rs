//! Every public error type of the engine, each a small type with `Display` and `Error`.
//!
//! Errors that travel through a [`Deferred`](crate::defer::Deferred) chain are wrapped in a
//! [`Failure`]; check them with
//! [`Failure::check`](crate::defer::Failure::check) or
//! [`Failure::downcast_ref`](crate::defer::Failure::downcast_ref).

use std::error::Error;
use std::fmt;
use std::time::Duration;

use crate::defer::Failure;

/// A [`Deferred`](crate::defer::Deferred) was fired a second time (Twisted's `AlreadyCalledError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlreadyCalled;

impl fmt::Display for AlreadyCalled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the Deferred has already been fired")
    }
}

impl Error for AlreadyCalled {}

/// A Deferred was cancelled before it had a result (Twisted's `CancelledError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CancelledError;

impl fmt::Display for CancelledError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the Deferred was cancelled")
    }
}

impl Error for CancelledError {}

/// A Deferred did not fire within the time given to
/// [`Deferred::add_timeout`](crate::defer::Deferred::add_timeout) (Twisted's `defer.TimeoutError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeoutError {
    /// The timeout that ran out.
    pub after: Duration,
}

impl fmt::Display for TimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the Deferred timed out after {:?}", self.after)
    }
}

impl Error for TimeoutError {}

/// A callback panicked; the panic was caught and turned into this failure, the way Twisted turns
/// an exception raised in a callback into a `Failure`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanicError {
    /// The panic's message, when it had one.
    pub message: String,
}

impl fmt::Display for PanicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a callback panicked: {}", self.message)
    }
}

impl Error for PanicError {}

/// The first failure among a list of Deferreds, with its index (Twisted's `FirstError`).
#[derive(Debug, Clone)]
pub struct FirstError {
    /// Index of the failing Deferred in the list that was given.
    pub index: usize,
    /// The failure it had.
    pub failure: Failure,
}

impl fmt::Display for FirstError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Deferred #{} failed: {}", self.index, self.failure)
    }
}

impl Error for FirstError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.failure.as_error())
    }
}

/// Every Deferred given to [`race`](crate::defer::race) failed (Twisted's `FailureGroup`).
#[derive(Debug, Clone)]
pub struct FailureGroup {
    /// The failures, in the order of the Deferreds given.
    pub failures: Vec<Failure>,
}

impl fmt::Display for FailureGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "all {} Deferreds failed", self.failures.len())?;
        for (i, failure) in self.failures.iter().enumerate() {
            write!(f, "{}#{i}: {failure}", if i == 0 { ": " } else { "; " })?;
        }
        Ok(())
    }
}

impl Error for FailureGroup {}

/// Acting on a [`DelayedCall`](crate::time::DelayedCall) that can no longer be changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DelayedCallError {
    /// The call already ran (or is running now).
    AlreadyCalled,
    /// The call was cancelled (or its timer queue was dropped, which cancels every call).
    AlreadyCancelled,
}

impl fmt::Display for DelayedCallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DelayedCallError::AlreadyCalled => "the delayed call has already run",
            DelayedCallError::AlreadyCancelled => "the delayed call was cancelled",
        })
    }
}

impl Error for DelayedCallError {}

/// Misuse of a [`LoopingCall`](crate::time::LoopingCall) or of a timer queue's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeError {
    /// `LoopingCall::start` on a call that is already running.
    AlreadyRunning,
    /// `LoopingCall::stop` or `reset` on a call that is not running.
    NotRunning,
    /// `Timers::advance` on timers whose clock is not a [`ManualClock`](crate::time::ManualClock):
    /// a real clock cannot be moved by hand.
    NotManualClock,
}

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeError::AlreadyRunning => "the looping call is already running",
            TimeError::NotRunning => "the looping call is not running",
            TimeError::NotManualClock => "only timers on a ManualClock can be advanced by hand",
        })
    }
}

impl Error for TimeError {}
