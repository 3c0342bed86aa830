//! The UDP howto's multicast server, made safe by default: it joins the group on the loopback
//! interface, so nothing it does reaches the real network unless you ask.
//!
//! ```text
//! cargo run --example multicast_server -- [--group 225.0.0.250] [--port 8005] [--interface 127.0.0.1] [--seconds N]
//! ```
//!
//! Twisted's original (the seed howto joins the all-hosts group on every interface):
//! ```python
//! class MulticastServerUDP(DatagramProtocol):
//!     def startProtocol(self):
//!         print('Started Listening')
//!         # Join a specific multicast group, which is the IP we will respond to
//!         self.transport.joinGroup(ALL_HOSTS_GROUP)
//!
//!     def datagramReceived(self, datagram, address):
//!         # The uniqueID check is to ensure we only service requests from ourselves
//!         if datagram == 'UniqueID':
//!             print("Server Received:" + repr(datagram))
//!             self.transport.write("data", address)
//!
//! reactor.listenMulticast(8005, MulticastServerUDP())
//! reactor.run()
//! ```
//! An IPv6 group (`--group ff12::8005`) takes an interface name or index (`--interface lo`).
//! See docs/multicast.md for why the defaults differ from the seed's.

#[path = "common/args.rs"]
mod args;
#[path = "common/multicast.rs"]
mod multicast;
#[path = "common/run.rs"]
mod run;

use std::net::SocketAddr;
use std::process::ExitCode;

use gyre::prelude::*;

const ABOUT: &str = "The howto's multicast server: joins a group and answers each ping.";
const USAGE: &str =
    "multicast_server [--group 225.0.0.250] [--port 8005] [--interface 127.0.0.1] [--seconds N]";

struct MulticastServer {
    group: String,
    interface: String,
}

impl DatagramProtocol for MulticastServer {
    fn start_protocol(&mut self, cx: &mut Context<'_>) -> Outcome {
        println!("Started Listening");
        multicast::keep_local(cx.transport(), &self.interface)?;
        // Unlike the seed, wait for the join's answer: a failure must not pass silently.
        cx.transport()
            .join_group(&self.group, &self.interface)
            .take_result()
            .unwrap_or(Ok(()))?;
        Ok(())
    }

    fn datagram_received(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
        from: SocketAddr,
    ) -> Outcome {
        if data == b"UniqueID" {
            println!("Server Received: {}", bytes_repr(data));
            cx.transport().write_to(b"data", from)?; // answered by unicast
        }
        Ok(())
    }
}

fn main() -> ExitCode {
    env_logger::init();
    let args = args::Args::parse(ABOUT, USAGE);
    let group: String = args.get("--group", "225.0.0.250".to_string());
    let port: u16 = args.get("--port", 8005);
    let interface: String = args.get("--interface", "127.0.0.1".to_string());
    let seconds: Option<f64> = args.get_opt("--seconds");

    let mut reactor = Reactor::new().expect("create the reactor");
    let bind = multicast::bind_address(&group);
    let options = ListenOptions::new(port)
        .interface(bind)
        .listen_multiple(true);
    let server = MulticastServer { group, interface };
    if let Err(e) = reactor.listen_multicast_with(options, server) {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    run::run_for(reactor, seconds)
}
