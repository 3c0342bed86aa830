//! The boundary around user code: a panic in a callback, a queued call, a trigger or a
//! `Drop` is caught here, logged, and the loop goes on (Twisted logs and continues).

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::defer::panic_message;

/// Runs `f`; a panic comes back as its message. Inlined, so the per-batch boundary around
/// datagram delivery costs no call of its own.
#[inline]
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|panic| panic_message(panic.as_ref()))
}

/// Runs a callback that returns an [`Outcome`](crate::Outcome): its failure, or a panic as a
/// failure carrying a [`PanicError`](crate::error::PanicError).
pub(crate) fn catch_outcome(f: impl FnOnce() -> crate::Outcome) -> crate::Outcome {
    match catch(f) {
        Ok(outcome) => outcome,
        Err(message) => Err(crate::defer::Failure::new(crate::error::PanicError {
            message,
        })),
    }
}

/// Drops `value` where a panicking `Drop` is caught and logged (`what` names it); returns
/// whether it panicked.
pub(crate) fn drop_guarded<T>(value: T, what: &str) -> bool {
    match catch(move || drop(value)) {
        Ok(()) => false,
        Err(message) => {
            crate::failures::report_failure!(target: "gyre::reactor", "dropping {what} panicked: {message}");
            true
        }
    }
}

/// A protocol's log prefix, from `prefix` (its `log_prefix`); a panicking one falls back to
/// the last segment of `type_name` (and is logged), never failing the listen.
pub(crate) fn log_prefix(prefix: impl FnOnce() -> String, type_name: &str) -> String {
    match catch(prefix) {
        Ok(prefix) => prefix,
        Err(message) => {
            crate::failures::report_failure!(target: "gyre::reactor", "log_prefix panicked: {message}");
            type_name
                .rsplit("::")
                .next()
                .unwrap_or(type_name)
                .to_string()
        }
    }
}
