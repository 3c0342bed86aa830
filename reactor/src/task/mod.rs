//! Futures on the reactor, with no other runtime: Twisted's `async def` idiom.
//!
//! * [`Deferred`](crate::defer::Deferred) is `IntoFuture`: `deferred.await` gives
//!   `Result<T, Failure>`, so `?` works.
//! * [`Core::ensure_deferred`](crate::Core::ensure_deferred) (and the same on a
//!   [`Handle`](crate::Handle)) runs a future on the reactor's own executor and gives back a
//!   Deferred of its output: Twisted's `Deferred.fromCoroutine` / `ensureDeferred`.
//!   Cancelling that Deferred cancels the Deferred the task awaits and drops the future; a
//!   panic in the future fails it with a [`PanicError`](crate::error::PanicError), logged and
//!   counted like a callback's.
//! * [`react()`]: Twisted's `task.react`: a reactor, one async main, an exit code.
//! * Time: [`sleep`](crate::time::sleep), and `add_timeout` on anything awaited.
//!
//! The executor is one more source of work on the loop (its "tasks" step, after queued
//! calls). `docs/internals.md` shows how a task is polled, woken and scheduled in one turn.

mod executor;
mod react;
mod waker;

#[cfg(test)]
mod tests;

pub(crate) use executor::{Executor, TaskId};
pub use react::react;
pub(crate) use waker::note_awaiting;
