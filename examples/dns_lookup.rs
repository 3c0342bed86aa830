//! A DNS lookup over UDP on the reactor (Twisted's `twisted.names.client.lookup…`), written
//! as an async main run by `task::react`.
//!
//! ```text
//! cargo run --example dns_lookup -- NAME [--type AAAA] [--server 127.0.0.1:5353] [--timeout 2]
//! ```
//!
//! Asks the server given (or those of `/etc/resolv.conf`) for NAME's records of the type
//! given (A by default) on Twisted's retry schedule, or one attempt of `--timeout` seconds per
//! server; prints each record as a zone file line, and exits 0; prints the error (`domain
//! name not found: NAME`, a timeout…) and exits 1.
//!
//! Twisted's:
//! ```python
//! from twisted.internet import task
//! from twisted.names import client
//!
//! async def main(reactor, name):
//!     answers, authority, additional = await client.lookupAddress(name)
//!     for record in answers:
//!         print(record.payload)
//!
//! task.react(main, ["example.com"])
//! ```

#[path = "common/args.rs"]
mod args;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use gyre::prelude::*;
use gyre::protocols::dns::{DnsClient, RecordType};

const ABOUT: &str = "Looks a name up over DNS (UDP) on gyre's reactor and prints the records.";
const USAGE: &str = "dns_lookup NAME [--type A] [--server ADDRESS:PORT] [--timeout SECONDS]";

fn main() -> ExitCode {
    env_logger::init();
    let args = args::Args::parse(ABOUT, USAGE);
    let [name] = args.positional.as_slice() else {
        args::fail(USAGE, "give exactly one name")
    };
    let name = name.clone();
    let kind: String = args.get("--type", "A".to_string());
    let rtype = RecordType::from_str(&kind.to_uppercase())
        .unwrap_or_else(|_| args::fail(USAGE, &format!("unknown record type {kind:?}")));
    let client = match args.get_opt::<SocketAddr>("--server") {
        Some(server) => DnsClient::new(vec![server]),
        None => DnsClient::from_resolv_conf("/etc/resolv.conf")
            .unwrap_or_else(|e| args::fail(USAGE, &format!("no server given and {e}"))),
    };
    let client = match args.get_opt::<f64>("--timeout") {
        Some(seconds) => client.with_timeouts(vec![Duration::from_secs_f64(seconds.max(0.001))]),
        None => client,
    };
    react(move |reactor| {
        let answer = client.query(reactor, &name, rtype);
        async move {
            let message = answer.await?;
            for record in &message.answers {
                println!("{record}");
            }
            Ok::<(), Failure>(())
        }
    })
}
