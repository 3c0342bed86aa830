//! An authoritative DNS server over UDP (Twisted's `twistd dns --pyzone` / `--hosts-file`).
//!
//! ```text
//! cargo run --example dns_server -- [--port 5353] [--interface 127.0.0.1] (--zone FILE [--origin NAME] | --hosts FILE) [--seconds N]
//! dig @127.0.0.1 -p 5353 example.test A
//! ```
//!
//! Answers from a zone file (RFC 1035 master syntax) or a hosts file; names outside them
//! are refused (it does not recurse). Logs `DNSDatagramProtocol starting on PORT` at info.

#[path = "common/args.rs"]
mod args;
#[path = "common/run.rs"]
mod run;

use std::process::ExitCode;

use gyre::prelude::*;
use gyre::protocols::dns::{Authority, DnsServer};

const ABOUT: &str =
    "An authoritative DNS server over UDP, answering from a zone file or a hosts file.";
const USAGE: &str = "dns_server [--port 5353] [--interface 127.0.0.1] [--zone FILE] [--origin NAME] \
                     [--hosts FILE] [--seconds N]";

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args = args::Args::parse(ABOUT, USAGE);
    let port: u16 = args.get("--port", 5353);
    let interface: String = args.get("--interface", "127.0.0.1".to_string());
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .unwrap_or_else(|e| args::fail(USAGE, &format!("cannot read {path}: {e}")))
    };
    let authority = match (
        args.get_opt::<String>("--zone"),
        args.get_opt::<String>("--hosts"),
    ) {
        (Some(zone), None) => {
            let origin = args.get_opt::<String>("--origin");
            Authority::from_zone(&read(&zone), origin.as_deref())
                .unwrap_or_else(|e| args::fail(USAGE, &format!("{zone}: {e}")))
        }
        (None, Some(hosts)) => Authority::from_hosts(&read(&hosts), 300),
        _ => args::fail(USAGE, "give --zone FILE or --hosts FILE"),
    };
    let mut reactor = match Reactor::new() {
        Ok(reactor) => reactor,
        Err(e) => {
            eprintln!("cannot create the reactor: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (server, _stats) = DnsServer::new(authority);
    let options = ListenOptions::new(port).interface(&interface);
    if let Err(e) = reactor.listen_udp_with(options, server) {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    run::run_for(reactor, args.get_opt("--seconds"))
}
