//! The howto's echo server on sockets a service manager passed in (systemd socket
//! activation), through `activation::listen_fds` and `adopt_udp`.
//!
//! ```text
//! # echo.socket:  [Socket]  ListenDatagram=127.0.0.1:9999
//! # echo.service: [Service] ExecStart=/path/to/activated_echo
//! systemd-socket-activate --datagram -l 127.0.0.1:9999 target/debug/examples/activated_echo
//! ```
//!
//! Each passed socket gets its own `Echo`. With none passed it says so and exits 1; SIGTERM
//! (what systemd sends) stops it cleanly. `--seconds N` stops it after N seconds.

#[path = "common/args.rs"]
mod args;
#[path = "common/run.rs"]
mod run;

use std::process::ExitCode;

use gyre::activation;
use gyre::prelude::*;
use gyre::protocols::Echo;

const ABOUT: &str = "Echo server on the datagram sockets systemd passed in (socket activation).";
const USAGE: &str = "activated_echo [--quiet] [--seconds N]";

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args = args::Args::parse(ABOUT, USAGE);
    let seconds: Option<f64> = args.get_opt("--seconds");
    // First, before anything opens a descriptor: the passed sockets are 3, 4, …
    let sockets = match activation::listen_fds() {
        Ok(sockets) if sockets.is_empty() => {
            eprintln!("no sockets were passed to this process (LISTEN_FDS, LISTEN_PID)");
            return ExitCode::FAILURE;
        }
        Ok(sockets) => sockets,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let mut reactor = match Reactor::new() {
        Ok(reactor) => reactor,
        Err(e) => {
            eprintln!("cannot create the reactor: {e}");
            return ExitCode::FAILURE;
        }
    };
    for socket in &sockets {
        let echo = if args.has("--quiet") {
            Echo::quiet()
        } else {
            Echo::new()
        };
        if let Err(e) = reactor.adopt_udp(socket, echo) {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    }
    drop(sockets); // gyre serves its own duplicates
    run::run_for(reactor, seconds)
}
