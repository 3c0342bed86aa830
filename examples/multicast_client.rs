//! The UDP howto's multicast client: send `UniqueID` to the group, print every `data` reply.
//!
//! ```text
//! cargo run --example multicast_client -- [--group 225.0.0.250] [--port 8005] [--interface 127.0.0.1] [--wait 3] [--loopback on|off] [--join]
//! ```
//!
//! Twisted's original:
//! ```python
//! class MulticastClientUDP(DatagramProtocol):
//!     def datagramReceived(self, datagram, address):
//!         print("Received:" + repr(datagram))
//!
//! # Send multicast to the all-hosts group, port 8005, from a dynamically allocated port
//! reactor.listenUDP(0, MulticastClientUDP()).write('UniqueID', (ALL_HOSTS_GROUP, 8005))
//! ```
//! Exits after `--wait` seconds: 0 if at least one reply came, 1 otherwise. With `--join` it
//! also joins the group itself and prints `Heard my own datagram` if its `UniqueID` comes back
//! to it, which is what `--loopback off` prevents (docs/multicast.md).

#[path = "common/args.rs"]
mod args;
#[path = "common/multicast.rs"]
mod multicast;

use std::cell::Cell;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use gyre::prelude::*;

const ABOUT: &str =
    "The howto's multicast client: sends to a group and prints the server's answers.";
const USAGE: &str = "multicast_client [--group 225.0.0.250] [--port 8005] [--interface 127.0.0.1] [--wait 3] [--loopback on|off] [--join]";

struct MulticastClient {
    group: String,
    port: u16,
    interface: String,
    loopback: bool,
    replies: Rc<Cell<u32>>,
}

impl DatagramProtocol for MulticastClient {
    fn start_protocol(&mut self, cx: &mut Context<'_>) -> Outcome {
        let transport = cx.transport();
        multicast::keep_local(transport, &self.interface)?;
        transport.set_loopback_mode(self.loopback)?;
        let to: SocketAddr = match self.group.parse::<std::net::IpAddr>() {
            Ok(ip) => SocketAddr::new(ip, self.port),
            Err(e) => return Err(Failure::msg(format!("--group {:?}: {e}", self.group))),
        };
        transport.write_to(b"UniqueID", to)?;
        Ok(())
    }

    fn datagram_received(&mut self, _: &mut Context<'_>, data: &[u8], _: SocketAddr) -> Outcome {
        println!("Received: {}", bytes_repr(data));
        self.replies.set(self.replies.get() + 1);
        Ok(())
    }
}

/// With `--join`: a second port, on the group's port and in the group, that reports the
/// client's own `UniqueID` if the network brings it back to this host.
struct OwnEcho {
    group: String,
    interface: String,
}

impl DatagramProtocol for OwnEcho {
    fn start_protocol(&mut self, cx: &mut Context<'_>) -> Outcome {
        cx.transport()
            .join_group(&self.group, &self.interface)
            .take_result()
            .unwrap_or(Ok(()))?;
        Ok(())
    }

    fn datagram_received(&mut self, _: &mut Context<'_>, data: &[u8], _: SocketAddr) -> Outcome {
        if data == b"UniqueID" {
            println!("Heard my own datagram");
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
    let wait: f64 = args.get("--wait", 3.0);
    let loopback = match args.get("--loopback", "on".to_string()).as_str() {
        "on" => true,
        "off" => false,
        other => args::fail(USAGE, &format!("--loopback {other:?}: on or off")),
    };
    let join = args.has("--join");

    let mut reactor = Reactor::new().expect("create the reactor");
    let replies = Rc::new(Cell::new(0));
    let bind = multicast::bind_address(&group);
    if join {
        // Listening before sending, on the group's port, beside a local server if there is one.
        let own = OwnEcho {
            group: group.clone(),
            interface: interface.clone(),
        };
        let options = ListenOptions::new(port)
            .interface(bind)
            .listen_multiple(true);
        if let Err(e) = reactor.listen_multicast_with(options, own) {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    }
    let client = MulticastClient {
        group,
        port,
        interface,
        loopback,
        replies: replies.clone(),
    };
    if let Err(e) = reactor.listen_multicast_with(ListenOptions::new(0).interface(bind), client) {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    reactor.call_later(Duration::from_secs_f64(wait.max(0.0)), |r| {
        let _ = r.stop();
    });
    if let Err(e) = reactor.run() {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    if replies.get() > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
