//! An asynchronous UDP echo client, ported from Twisted (tests/interop/echo_client_async.py):
//! sends `--count` lines to an echo server one at a time, waits `--timeout` seconds for each
//! echo and tries `--tries` times, prints what came back, exits 0 when every line was echoed
//! and 1 otherwise.
//!
//! ```text
//! cargo run --example echo_server &
//! cargo run --example echo_client_async -- [--host 127.0.0.1] [--port 9999] [--count 3] [--timeout 1] [--tries 3]
//! ```

#[path = "common/args.rs"]
mod args;

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use gyre::prelude::*;
use gyre::time::sleep;

const ABOUT: &str = "Sends lines to an echo server and waits for each echo, with a timeout and retries (async/await).";
const USAGE: &str = "echo_client_async [--host 127.0.0.1] [--port 9999] [--interface 127.0.0.1] \
                     [--count 3] [--timeout 1] [--tries 3]";

struct EchoClient {
    port: Transport,
    replies: Inbox,
    timers: Timers,
}

impl EchoClient {
    async fn ask(&self, line: &str, timeout: Duration, tries: u32) -> Result<bool, Failure> {
        for attempt in 1..=tries {
            self.port.write(line.as_bytes())?;
            match self.replies.recv().add_timeout(timeout, &self.timers).await {
                Err(e) if e.check::<TimeoutError>() => {
                    println!("{line}: no echo (try {attempt} of {tries})")
                }
                Err(e) if e.check::<ConnectionRefusedError>() => {
                    println!("{line}: refused (try {attempt} of {tries})");
                    sleep(&self.timers, timeout).await?;
                }
                Err(e) => return Err(e),
                Ok(reply) => {
                    println!("{line}: echoed {}", String::from_utf8_lossy(&reply.data));
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}

fn main() -> ExitCode {
    let args = args::Args::parse(ABOUT, USAGE);
    let host: IpAddr = args.get("--host", IpAddr::from([127, 0, 0, 1]));
    let server = SocketAddr::new(host, args.get("--port", 9999));
    let interface: String = args.get("--interface", "127.0.0.1".into());
    let (count, tries): (u32, u32) = (args.get("--count", 3), args.get("--tries", 3));
    let timeout = Duration::from_secs_f64(args.get("--timeout", 1.0));
    react(move |reactor| {
        let (protocol, replies) = Inbox::bounded(16);
        let port = reactor.listen_udp_with(ListenOptions::new(0).interface(&interface), protocol);
        let timers = reactor.timers().clone();
        async move {
            let client = EchoClient {
                port: port?,
                replies,
                timers,
            };
            client.port.connect(server)?;
            let mut echoed = 0;
            for i in 0..count {
                echoed += client.ask(&format!("line {i}"), timeout, tries).await? as u32;
            }
            client.port.stop_listening().await?;
            println!("{echoed} of {count} lines echoed");
            Ok(ExitCode::from(u8::from(echoed < count)))
        }
    })
}
