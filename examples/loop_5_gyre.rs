//! Stage 5 of the guide (`docs/guide.md`): stage 4's program on gyre, whose turn is the same
//! list of steps with names and the faults handled.
//!
//! ```text
//! RUST_LOG=gyre=trace cargo run --example loop_5_gyre -- [--port 9999] [--seconds 2]
//! ```
//!
//! With `RUST_LOG=gyre=trace` every turn logs its poll timeout, its events, the timers it
//! fired: the transcript the guide annotates. Echoes on PORT, ticks every 500 ms, and stops
//! after `--seconds`, printing how many datagrams it echoed.

#[path = "common/args.rs"]
mod args;
#[path = "common/run.rs"]
mod run;

use std::process::ExitCode;
use std::time::Duration;

use gyre::prelude::*;
use gyre::protocols::Echo;

const ABOUT: &str = "Stage 5 of docs/guide.md: the same program on gyre (try RUST_LOG=gyre=trace).";
const USAGE: &str = "loop_5_gyre [--port 9999] [--seconds 2]";

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args = args::Args::parse(ABOUT, USAGE);
    let mut reactor = Reactor::new().expect("a reactor");
    let options = ListenOptions::new(args.get("--port", 9999)).interface("127.0.0.1");
    let port = match reactor.listen_udp_with(options, Echo::quiet()) {
        Ok(port) => port,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let tick = LoopingCall::new(reactor.timers(), || {
        println!("tick");
        Ok::<(), Failure>(())
    });
    let _ = tick.start(Duration::from_millis(500), false);
    let seconds: f64 = args.get("--seconds", 2.0);
    reactor.call_later(Duration::from_secs_f64(seconds), move |r| {
        println!(
            "stopping after {} echoes",
            port.stats().map_or(0, |s| s.datagrams_in)
        );
        let _ = r.stop();
    });
    run::run_for(reactor, None)
}
