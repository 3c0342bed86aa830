//! A StatsD-style aggregator: counts `name:value|c` lines from UDP and flushes the totals
//! every second, from a `LoopingCall`, reaching the protocol's state through its
//! `ProtocolHandle` (no `Rc<RefCell<…>>`).
//!
//! ```text
//! cargo run --example statsd -- [--port 8125] [--interface 127.0.0.1] [--seconds N]
//! echo "requests:1|c" | nc -u -w0 127.0.0.1 8125
//! ```
//!
//! Each flush prints `flush N: name=total …` (sorted by name), then starts the next second
//! from zero; a line that is not `name:value|c` is counted as bad. `--seconds` stops it.

#[path = "common/args.rs"]
mod args;
#[path = "common/run.rs"]
mod run;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use gyre::prelude::*;

const ABOUT: &str =
    "A StatsD-style aggregator: counts name:value|c lines and flushes them every second.";
const USAGE: &str = "statsd [--port 8125] [--interface 127.0.0.1] [--seconds N]";

/// This second's counters.
#[derive(Default)]
struct StatsD {
    counters: BTreeMap<String, i64>,
    bad: u64,
}

impl StatsD {
    /// Adds one `name:value|c` line; anything else is counted as bad.
    fn add(&mut self, line: &str) {
        let parsed = line
            .strip_suffix("|c")
            .and_then(|rest| rest.split_once(':'))
            .and_then(|(name, value)| Some((name, value.parse::<i64>().ok()?)))
            .filter(|(name, _)| !name.is_empty());
        match parsed {
            Some((name, value)) => *self.counters.entry(name.to_string()).or_default() += value,
            None => self.bad += 1,
        }
    }
}

impl DatagramProtocol for StatsD {
    fn datagram_received(&mut self, _: &mut Context<'_>, data: &[u8], _: SocketAddr) -> Outcome {
        for line in String::from_utf8_lossy(data)
            .lines()
            .filter(|l| !l.is_empty())
        {
            self.add(line.trim());
        }
        Ok(())
    }
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args = args::Args::parse(ABOUT, USAGE);
    let interface: String = args.get("--interface", "127.0.0.1".to_string());
    let options = ListenOptions::new(args.get("--port", 8125)).interface(&interface);
    let mut reactor = Reactor::new().expect("a reactor");
    let port = match reactor.listen_udp_with_handle(options, StatsD::default()) {
        Ok(port) => port,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    // Every second: take this second's counters out of the protocol and print them.
    let handle = reactor.handle();
    let mut flushes = 0;
    let flush = LoopingCall::new(reactor.timers(), move || {
        flushes += 1;
        let (port, n) = (port.clone(), flushes);
        handle.call_soon(move |core| {
            let taken = port.with(core, std::mem::take);
            if let Ok(stats) = taken {
                let totals: Vec<String> = stats
                    .counters
                    .iter()
                    .map(|(name, total)| format!("{name}={total}"))
                    .collect();
                println!("flush {n}: {} (bad lines: {})", totals.join(" "), stats.bad);
            }
        });
        Ok::<(), Failure>(())
    });
    let _ = flush.start(Duration::from_secs(1), false);
    run::run_for(reactor, args.get_opt("--seconds"))
}
