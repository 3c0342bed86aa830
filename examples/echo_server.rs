//! The UDP howto's first listing: an echo server.
//!
//! ```text
//! cargo run --example echo_server -- [--port 9999] [--interface 127.0.0.1] [--quiet] [--seconds N] [--recv-buffer BYTES]
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
//! `--recv-buffer BYTES` sets the socket's receive buffer (`SO_RCVBUF`) and logs what the
//! kernel gave: see "Choosing the receive buffer" in `docs/performance.md`.

#[path = "common/args.rs"]
mod args;
#[path = "common/run.rs"]
mod run;

use std::process::ExitCode;

use gyre::prelude::*;
use gyre::protocols::Echo;

const ABOUT: &str = "The UDP howto's echo server: every datagram goes back to its sender.";
const USAGE: &str = "echo_server [--port 9999] [--interface 127.0.0.1] [--quiet] [--seconds N] [--recv-buffer BYTES]";

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args = args::Args::parse(ABOUT, USAGE);
    let port: u16 = args.get("--port", 9999);
    let interface: String = args.get("--interface", "127.0.0.1".to_string());
    let seconds: Option<f64> = args.get_opt("--seconds");
    let recv_buffer: Option<usize> = args.get_opt("--recv-buffer");

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
    let mut options = ListenOptions::new(port).interface(&interface);
    if let Some(bytes) = recv_buffer {
        options = options.recv_buffer_size(bytes);
    }
    let port = match reactor.listen_udp_with(options, echo) {
        Ok(port) => port,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if let (Some(asked), Ok(got)) = (recv_buffer, port.recv_buffer_size()) {
        log::info!(
            "receive buffer: {got} bytes (asked {asked}; Linux doubles a request for its own \
             bookkeeping and caps it at net.core.rmem_max)"
        );
    }
    run::run_for(reactor, seconds)
}
