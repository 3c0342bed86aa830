//! [`react`]: Twisted's `task.react`.

use std::cell::Cell;
use std::future::Future;
use std::process::{ExitCode, Termination};
use std::rc::Rc;

use crate::core::Core;
use crate::defer::Failure;
use crate::reactor::Reactor;

/// Runs one async main on a new reactor and returns the process's exit code (Twisted's
/// `task.react`): `main` gets the reactor's core to set up what it needs and returns the
/// future to run; the reactor stops when that future completes. `Ok(v)` exits with what `v`
/// reports as a `main` would (`()` is 0; return an [`ExitCode`] to choose, as a Twisted main
/// raises `SystemExit`); a failure is logged (`main function encountered error`, on stderr
/// when no logger is installed, as Twisted prints it) and exits with 1; so does a reactor
/// that stops before main finished (SIGINT or SIGTERM, handled as [`Reactor::run`] does).
///
/// ```no_run
/// use gyre::task::react;
/// use gyre::time::sleep;
/// use std::{process::ExitCode, time::Duration};
///
/// fn main() -> ExitCode {
///     react(|reactor| {
///         let timers = reactor.timers().clone();
///         async move {
///             sleep(&timers, Duration::from_millis(10)).await?;
///             println!("slept");
///             Ok(())
///         }
///     })
/// }
/// ```
pub fn react<F, Fut, T>(main: F) -> ExitCode
where
    F: FnOnce(&mut Core) -> Fut + 'static,
    Fut: Future<Output = Result<T, Failure>> + 'static,
    T: Termination + 'static,
{
    let mut reactor = match Reactor::new() {
        Ok(reactor) => reactor,
        Err(e) => {
            say_why(format_args!("cannot create the reactor: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let code: Rc<Cell<Option<ExitCode>>> = Rc::default();
    let finished = code.clone();
    reactor.call_when_running(move |r| {
        let handle = r.handle();
        let future = main(r);
        let main = r.ensure_deferred(async move { future.await.map(Termination::report) });
        main.add_both(move |result| {
            finished.set(Some(match result {
                Ok(code) => code,
                Err(failure) => {
                    say_why(format_args!("main function encountered error: {failure:#}"));
                    ExitCode::FAILURE
                }
            }));
            let _ = handle.stop();
            Ok(ExitCode::SUCCESS)
        });
    });
    if let Err(e) = reactor.run() {
        say_why(format_args!("the reactor failed: {e}"));
        return ExitCode::FAILURE;
    }
    match code.get() {
        Some(code) => code,
        None => {
            say_why(format_args!("the reactor stopped before main finished"));
            ExitCode::FAILURE
        }
    }
}

/// Says why `react` exits with 1: logged, or printed on stderr if no logger takes errors from
/// `gyre::task` (Twisted's `react` prints its traceback even with logging never started).
fn say_why(why: std::fmt::Arguments<'_>) {
    crate::failures::report("gyre::task", why);
}
