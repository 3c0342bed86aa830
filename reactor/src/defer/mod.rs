//! Deferreds: Twisted's way of handing back a result that is not there yet.
//!
//! A [`Deferred<T>`] holds a chain of callbacks (for a value) and errbacks (for a
//! [`Failure`]). Whoever produces the result fires it once with
//! [`callback`](Deferred::callback) or [`errback`](Deferred::errback); the chain then runs,
//! each link handing its result to the next. The rules are Twisted's (see
//! `docs/porting-from-twisted.md` for the few deliberate differences):
//!
//! * a link returns a value (continue), a failure (switch to the errback path), or another
//!   Deferred (pause until it fires, then continue with its result): see [`Step`];
//! * callbacks added to a Deferred that has already fired run at once;
//! * [`pause`](Deferred::pause)/[`unpause`](Deferred::unpause), [`cancel`](Deferred::cancel)
//!   with an optional canceller, [`add_timeout`](Deferred::add_timeout) on a
//!   [`Timers`](crate::time::Timers) queue;
//! * aggregates: [`DeferredList`], [`deferred_list`], [`gather_results`], [`race`];
//! * helpers: [`succeed`], [`fail`], [`maybe_deferred`].
//!
//! # Why the types look the way they do
//! Python lets each callback return anything; Rust wants one type per chain. A `Deferred<T>`'s
//! chain carries `Result<T, Failure>` from link to link, which keeps `add_callback` exactly as
//! flexible as Twisted's while the value's type stays `T`. Changing the type is explicit:
//! [`then`](Deferred::then) and [`map`](Deferred::map) return a `Deferred<U>` that continues
//! where the first one stops. Internally every Deferred is an `Rc<RefCell<_>>` whose borrow
//! is never held while user code runs, and a single loop drives all chains: when one chain
//! hands its result to another (a returned inner Deferred firing, `then`, `chain_deferred`),
//! the loop moves on to that chain instead of calling into it, so no depth of nesting can
//! overflow the stack.

mod deferred;
mod failure;
mod future;
mod list;
mod lock;
mod queue;
mod timeout;

#[cfg(test)]
mod sync_tests;
#[cfg(test)]
pub(crate) mod tests;

pub(crate) use deferred::Chain;
pub use deferred::{Deferred, IntoStep, Step};
pub use failure::Failure;
pub use future::DeferredFuture;
pub use list::{DeferredList, ListOutcome, deferred_list, gather_results, race};
pub use lock::{DeferredLock, DeferredSemaphore};
pub use queue::DeferredQueue;

pub(crate) use failure::panic_message;

/// An already fired Deferred (Twisted's `succeed`).
pub fn succeed<T: 'static>(value: T) -> Deferred<T> {
    Deferred::succeeded(value)
}

/// An already failed Deferred (Twisted's `fail`).
pub fn fail<T: 'static>(failure: impl Into<Failure>) -> Deferred<T> {
    Deferred::failed(failure)
}

/// Calls `f` now and wraps what it returns in a Deferred (Twisted's `maybeDeferred`): a value
/// or failure becomes a fired Deferred, a Deferred is returned as it is, a panic becomes a
/// failed Deferred with a [`PanicError`](crate::error::PanicError).
///
/// ```
/// use gyre::defer::{maybe_deferred, Failure};
/// let d = maybe_deferred(|| Ok::<_, Failure>(7));
/// assert_eq!(d.take_result().unwrap().unwrap(), 7);
/// let d = maybe_deferred::<u8, Result<u8, Failure>>(|| panic!("boom"));
/// assert_eq!(d.take_result().unwrap().unwrap_err().to_string(), "a callback panicked: boom");
/// ```
pub fn maybe_deferred<T: 'static, R: IntoStep<T>>(f: impl FnOnce() -> R) -> Deferred<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || f().into_step())) {
        Ok(Step::Value(v)) => Deferred::succeeded(v),
        Ok(Step::Fail(failure)) => Deferred::failed(failure),
        Ok(Step::Wait(d)) => d,
        Err(panic) => Deferred::failed(failure::Failure::from_panic(panic)),
    }
}
