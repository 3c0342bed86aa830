//! Timers and Deferreds on the real clock, driven by a loop you can read in five lines.
//!
//! ```text
//! cargo run --example timers -- [--ticks 5] [--interval-ms 200]
//! ```
//!
//! A `LoopingCall` ticks every interval and stops itself after `--ticks` runs; a
//! `defer_later` answers after two intervals; a Deferred that nobody fires times out after
//! three. `RUST_LOG=gyre=debug` shows what the engine logs.

use std::cell::OnceCell;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use gyre::error::TimeoutError;
use gyre::prelude::*;

struct Options {
    ticks: u64,
    interval: Duration,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        ticks: 5,
        interval: Duration::from_millis(200),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--ticks" => options.ticks = value()?.parse().map_err(|e| format!("--ticks: {e}"))?,
            "--interval-ms" => {
                let ms: u64 = value()?
                    .parse()
                    .map_err(|e| format!("--interval-ms: {e}"))?;
                options.interval = Duration::from_millis(ms);
            }
            "-h" | "--help" => return Err("usage: timers [--ticks N] [--interval-ms MS]".into()),
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(options)
}

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
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let timers = Timers::system();
    let started = Instant::now();
    let elapsed = move || started.elapsed().as_millis();

    // The function stops its own loop, so it needs a handle to it: set once the loop exists.
    let handle: Rc<OnceCell<LoopingCall>> = Rc::default();
    let me = handle.clone();
    let ticks = options.ticks;
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
    lc.start(options.interval, true)
        .expect("a new LoopingCall is not running")
        .add_callback(move |()| {
            println!("[{:>4} ms] looping call stopped", elapsed());
            Ok(())
        });

    defer_later(&timers, options.interval * 2, || Ok::<_, Failure>(6 * 7)).add_callback(
        move |answer| {
            println!("[{:>4} ms] defer_later answered {answer}", elapsed());
            Ok(answer)
        },
    );

    let never = Deferred::<()>::new();
    never
        .add_timeout(options.interval * 3, &timers)
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
