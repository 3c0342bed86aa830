//! Timers and Deferreds on the real clock, driven by a loop you can read in five lines.
//!
//! ```text
//! cargo run --example timers -- [--ticks 5] [--interval-ms 200]
//! ```
//!
//! A `LoopingCall` ticks every interval and stops itself after `--ticks` runs; a
//! `defer_later` answers after two intervals; a Deferred that nobody fires times out after
//! three. `RUST_LOG=gyre=debug` shows what the engine logs.

#[path = "common/args.rs"]
mod args;

use std::cell::OnceCell;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use gyre::prelude::*;

const ABOUT: &str =
    "Timers and Deferreds on the real clock: a LoopingCall, defer_later and a timeout.";
const USAGE: &str = "timers [--ticks 5] [--interval-ms 200]";

/// The smallest possible event loop: sleep until the next call is due, run what is due,
/// repeat until nothing is left. gyre's reactor does the same with `poll` instead of `sleep`.
fn run_until_idle(timers: &Timers) {
    while let Some(wait) = timers.timeout() {
        std::thread::sleep(wait);
        timers.run_due();
    }
}

fn main() -> ExitCode {
    env_logger::init();
    let args = args::Args::parse(ABOUT, USAGE);
    let ticks: u64 = args.get("--ticks", 5);
    let interval = Duration::from_millis(args.get("--interval-ms", 200));
    let timers = Timers::system();
    let started = Instant::now();
    let elapsed = move || started.elapsed().as_millis();

    // The function stops its own loop, so it needs a handle to it: set once the loop exists.
    let handle: Rc<OnceCell<LoopingCall>> = Rc::default();
    let me = handle.clone();
    let mut done = 0;
    let lc = LoopingCall::with_count(&timers, move |count| {
        done += 1;
        println!(
            "[{:>4} ms] tick {done} (intervals since last: {count})",
            elapsed()
        );
        if done == ticks {
            me.get()
                .expect("set before start")
                .stop()
                .map_err(Failure::new)?;
        }
        Ok(())
    });
    handle.set(lc.clone()).expect("set once");
    lc.start(interval, true)
        .expect("a new LoopingCall is not running")
        .add_callback(move |()| {
            println!("[{:>4} ms] looping call stopped", elapsed());
            Ok(())
        });

    defer_later(&timers, interval * 2, || Ok::<_, Failure>(6 * 7)).add_callback(move |answer| {
        println!("[{:>4} ms] defer_later answered {answer}", elapsed());
        Ok(answer)
    });

    let never = Deferred::<()>::new();
    never
        .add_timeout(interval * 3, &timers)
        .add_errback(move |failure| {
            if let Some(timeout) = failure.downcast_ref::<TimeoutError>() {
                println!(
                    "[{:>4} ms] a Deferred nobody fired timed out after {:?}",
                    elapsed(),
                    timeout.after
                );
                return Ok(());
            }
            Err(failure)
        });

    run_until_idle(&timers);
    println!(
        "[{:>4} ms] nothing left to do: {} calls ran",
        elapsed(),
        timers.fired()
    );
    ExitCode::SUCCESS
}
