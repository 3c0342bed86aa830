//! What users need to test their own code against gyre without sockets or sleeping.
//!
//! * A manual clock: [`Timers::manual`](crate::time::Timers::manual) and
//!   [`ManualClock`](crate::time::ManualClock) (Twisted's `task.Clock`).
//! * [`capture_logs`]: run a closure and get back what it logged through the `log` crate, on
//!   this thread only, so parallel tests do not see each other's lines. Use it to assert that
//!   a failure was reported ("Unhandled error in Deferred", a panicking callback, …).

use std::cell::RefCell;
use std::sync::Once;

use log::{Level, LevelFilter, Log, Metadata, Record};

/// One log line captured by [`capture_logs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedLog {
    /// The record's level.
    pub level: Level,
    /// The record's target (gyre uses `gyre::defer`, `gyre::time`, …).
    pub target: String,
    /// The formatted message.
    pub message: String,
}

/// Whether [`capture_logs`] could install its logger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureStatus {
    /// The capturing logger is the process's logger: captures are complete.
    Installed,
    /// Another logger was installed first (by the program or another crate); nothing can be
    /// captured in this process.
    OtherLoggerInstalled,
}

thread_local! {
    static CAPTURED: RefCell<Option<Vec<CapturedLog>>> = const { RefCell::new(None) };
}

struct CaptureLogger;

impl Log for CaptureLogger {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        CAPTURED.with(|c| c.borrow().is_some())
    }

    fn log(&self, record: &Record<'_>) {
        let line = CapturedLog {
            level: record.level(),
            target: record.target().to_string(),
            message: record.args().to_string(),
        };
        CAPTURED.with(|c| {
            if let Some(lines) = c.borrow_mut().as_mut() {
                lines.push(line);
            }
        });
    }

    fn flush(&self) {}
}

static LOGGER: CaptureLogger = CaptureLogger;
static INSTALL: Once = Once::new();

fn install() -> CaptureStatus {
    INSTALL.call_once(|| {
        if log::set_logger(&LOGGER).is_ok() {
            log::set_max_level(LevelFilter::Trace);
        }
    });
    // `logger()` returns the installed logger; compare addresses to know whether it is ours.
    if std::ptr::addr_eq(log::logger(), &LOGGER as &dyn Log) {
        CaptureStatus::Installed
    } else {
        CaptureStatus::OtherLoggerInstalled
    }
}

/// Runs `f` and returns its result with every line logged on this thread while it ran.
///
/// The first call installs a capturing logger for the whole process; records from other
/// threads, and from this thread outside `capture_logs`, are dropped. If the process already
/// had another logger, the status says so and the list is empty.
///
/// ```
/// use gyre_reactor::defer::{Deferred, Failure};
/// use gyre_reactor::testing::{capture_logs, CaptureStatus};
///
/// let ((), lines, status) = capture_logs(|| {
///     let d = Deferred::<u8>::new();
///     d.errback(Failure::msg("nobody handles this")).unwrap();
/// }); // `d` is dropped inside the closure, with its failure unhandled
/// assert_eq!(status, CaptureStatus::Installed);
/// assert_eq!(lines[0].message, "Unhandled error in Deferred: nobody handles this");
/// ```
pub fn capture_logs<R>(f: impl FnOnce() -> R) -> (R, Vec<CapturedLog>, CaptureStatus) {
    let status = install();
    let outer = CAPTURED.with(|c| c.borrow_mut().replace(Vec::new()));
    let result = f();
    let lines = CAPTURED
        .with(|c| std::mem::replace(&mut *c.borrow_mut(), outer))
        .unwrap_or_default();
    (result, lines, status)
}
