//! Clocks: where "now" comes from. Always monotonic, never the wall clock.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A source of monotonic time for timers (Twisted's `IReactorTime.seconds`).
///
/// gyre never reads the wall clock for timers: a wall clock jumps (NTP, suspend, an admin),
/// and timers on it fire early or hang, a long-standing Twisted bug (#2424).
pub trait Clock: 'static {
    /// The current time.
    fn now(&self) -> Instant;

    /// This clock as a [`ManualClock`], if it is one; lets tests advance timers by hand.
    fn as_manual(&self) -> Option<&ManualClock> {
        None
    }
}

/// The real monotonic clock (`Instant::now`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that only moves when told to (Twisted's `task.Clock`): tests of timers, looping
/// calls and timeouts run instantly and exactly.
///
/// Clones share the same time. It starts at its creation instant; [`elapsed`](ManualClock::elapsed)
/// is Twisted's `seconds()` on a fresh `Clock` (which starts at 0).
///
/// ```
/// use gyre::time::{Clock, ManualClock};
/// use std::time::Duration;
/// let clock = ManualClock::new();
/// let t0 = clock.now();
/// clock.advance(Duration::from_millis(1500));
/// assert_eq!(clock.now() - t0, Duration::from_millis(1500));
/// assert_eq!(clock.elapsed(), Duration::from_millis(1500));
/// ```
#[derive(Clone)]
pub struct ManualClock {
    origin: Instant,
    elapsed_nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A manual clock standing at the current instant.
    pub fn new() -> ManualClock {
        ManualClock {
            origin: Instant::now(),
            elapsed_nanos: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Moves time forward by `by`. It never moves back.
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .elapsed_nanos
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |e| {
                Some(e.saturating_add(nanos))
            });
    }

    /// How far this clock has been advanced since it was made.
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.elapsed_nanos.load(Ordering::Relaxed))
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.origin + self.elapsed()
    }

    fn as_manual(&self) -> Option<&ManualClock> {
        Some(self)
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("elapsed", &self.elapsed())
            .finish()
    }
}
