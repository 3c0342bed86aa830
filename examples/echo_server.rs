//! The UDP howto's first listing: an echo server.
//!
//! ```text
//! cargo run --example echo_server -- [--port 9999] [--interface 127.0.0.1] [--quiet] [--seconds N]
//! nc -u 127.0.0.1 9999        # then type lines: each comes back
//! ```
//!
//! Twisted's original:
//! ```python
//! class Echo(DatagramProtocol):
//!     def datagramReceived(self, data, addr):
//!         print("received %r from %s" % (data, addr))
//!         self.transport.write(data, addr)
//!
//! reactor.listenUDP(9999, Echo())
//! reactor.run()
//! ```
//! It listens on every interface; this one defaults to loopback (`--interface 0.0.0.0` to
//! listen everywhere). `--seconds N` stops it after N seconds, Twisted's
//! `reactor.callLater(N, reactor.stop)`. Ctrl-C (SIGINT) or SIGTERM stop it cleanly.

#[path = "common/args.rs"]
mod args;
#[path = "common/run.rs"]
mod run;

use std::process::ExitCode;

use gyre::prelude::*;
use gyre::protocols::Echo;

const USAGE: &str = "echo_server [--port 9999] [--interface 127.0.0.1] [--quiet] [--seconds N]";

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args = args::Args::parse(USAGE);
    let port: u16 = args.get("--port", 9999);
    let interface: String = args.get("--interface", "127.0.0.1".to_string());
    let seconds: Option<f64> = args.get_opt("--seconds");

    let mut reactor = match Reactor::new() {
        Ok(reactor) => reactor,
        Err(e) => {
            eprintln!("cannot create the reactor: {e}");
            return ExitCode::FAILURE;
        }
    };
    let echo = if args.has("--quiet") {
        Echo::quiet()
    } else {
        Echo::new()
    };
    let options = ListenOptions::new(port).interface(&interface);
    if let Err(e) = reactor.listen_udp_with(options, echo) {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    run::run_for(reactor, seconds)
}
