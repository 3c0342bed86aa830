//! The UDP howto's connected-UDP listing: send `hello` to one peer, hear back or be refused.
//!
//! ```text
//! cargo run --example helloer -- [--host 127.0.0.1] [--port 1234] [--wait 5]
//! ```
//!
//! Twisted's original (which sends to a host on the LAN; this one defaults to loopback):
//! ```python
//! class Helloer(DatagramProtocol):
//!     def startProtocol(self):
//!         host = "<a LAN address>"
//!         port = 1234
//!         self.transport.connect(host, port)
//!         print("now we can only send to host %s port %d" % (host, port))
//!         self.transport.write(b"hello")  # no need for address
//!
//!     def datagramReceived(self, data, addr):
//!         print("received %r from %s" % (data, addr))
//!
//!     def connectionRefused(self):
//!         print("No one listening")
//! ```
//! It stops after the first reply (exit 0), the first refusal (exit 1, `No one listening`),
//! or `--wait` seconds of silence (exit 1).

#[path = "common/args.rs"]
mod args;

use std::cell::Cell;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use gyre::prelude::*;

const ABOUT: &str =
    "Connected UDP: says hello to a port and reports 'No one listening' on an ICMP refusal.";
const USAGE: &str = "helloer [--host 127.0.0.1] [--port 1234] [--wait 5]";

struct Helloer {
    peer: SocketAddr,
    replied: Rc<Cell<bool>>,
}

impl DatagramProtocol for Helloer {
    fn start_protocol(&mut self, cx: &mut Context<'_>) -> Outcome {
        cx.transport().connect(self.peer)?;
        println!(
            "now we can only send to host {} port {}",
            self.peer.ip(),
            self.peer.port()
        );
        cx.transport().write(b"hello")?; // no need for an address
        Ok(())
    }

    fn datagram_received(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
        from: SocketAddr,
    ) -> Outcome {
        println!(
            "received {} from {}:{}",
            bytes_repr(data),
            from.ip(),
            from.port()
        );
        self.replied.set(true);
        let _ = cx.reactor().stop();
        Ok(())
    }

    fn connection_refused(&mut self, cx: &mut Context<'_>) -> Outcome {
        println!("No one listening");
        let _ = cx.reactor().stop();
        Ok(())
    }
}

fn main() -> ExitCode {
    env_logger::init();
    let args = args::Args::parse(ABOUT, USAGE);
    let host: IpAddr = args.get("--host", IpAddr::from([127, 0, 0, 1]));
    let port: u16 = args.get("--port", 1234);
    let wait: f64 = args.get("--wait", 5.0);

    let mut reactor = Reactor::new().expect("create the reactor");
    let replied = Rc::new(Cell::new(false));
    let helloer = Helloer {
        peer: SocketAddr::new(host, port),
        replied: replied.clone(),
    };
    let interface = if host.is_ipv6() { "::" } else { "0.0.0.0" };
    if let Err(e) = reactor.listen_udp_with(ListenOptions::new(0).interface(interface), helloer) {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    reactor.call_later(Duration::from_secs_f64(wait.max(0.0)), |r| {
        println!("no answer");
        let _ = r.stop();
    });
    if let Err(e) = reactor.run() {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    if replied.get() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
