//! How the server examples end: run the reactor, stopping after `--seconds` if given (Twisted's
//! `reactor.callLater(N, reactor.stop)`), and turn the outcome into an exit code.

use std::process::ExitCode;
use std::time::Duration;

use gyre::prelude::*;

/// Runs `reactor` until stopped (or for `seconds`); exit code 0 on a clean stop.
pub fn run_for(mut reactor: Reactor, seconds: Option<f64>) -> ExitCode {
    if let Some(seconds) = seconds {
        reactor.call_later(Duration::from_secs_f64(seconds.max(0.0)), |r| {
            let _ = r.stop();
        });
    }
    match reactor.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
