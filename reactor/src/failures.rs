//! Failures that must be seen. A callback that failed or panicked, a Deferred that failed
//! with no one to handle it, a socket that broke: each is logged at `error` through the `log`
//! crate; and when nothing takes `error` records for its target (no logger installed, as in a
//! program that never set one up), it is written to stderr instead, at most
//! [`STDERR_PER_SECOND`] lines a second, with a count of the lines held back. Twisted does the
//! same: with no log observer, errors still reach stderr.

use std::cell::Cell;
use std::fmt;
use std::time::{Duration, Instant};

/// Failure lines written to stderr per second at most when no logger takes them.
pub(crate) const STDERR_PER_SECOND: u32 = 10;

thread_local! {
    /// The current one-second window: when it began, lines written, lines held back.
    static WINDOW: Cell<(Option<Instant>, u32, u64)> = const { Cell::new((None, 0, 0)) };
}

/// Reports a failure on `target` (`gyre::udp`, …): logged, or on stderr without a logger.
pub(crate) fn report(target: &str, message: fmt::Arguments<'_>) {
    if log::log_enabled!(target: target, log::Level::Error) {
        log::error!(target: target, "{message}");
        return;
    }
    let now = Instant::now();
    WINDOW.with(|window| {
        let (start, written, held) = window.get();
        let (start, written, held) = match start {
            Some(start) if now.duration_since(start) < Duration::from_secs(1) => {
                (start, written, held)
            }
            _ => {
                if held > 0 {
                    eprintln!("[{target}] ({held} more failures not shown)");
                }
                (now, 0, 0)
            }
        };
        if written < STDERR_PER_SECOND {
            eprintln!("[{target}] {message}");
            window.set((Some(start), written + 1, held));
        } else {
            window.set((Some(start), written, held + 1));
        }
    });
}

/// `failures::report` with `format!`-style arguments, as `log::error!` takes them.
macro_rules! report_failure {
    (target: $target:expr, $($arg:tt)+) => {
        $crate::failures::report($target, format_args!($($arg)+))
    };
}

pub(crate) use report_failure;
