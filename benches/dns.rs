//! Queries per second: gyre's DNS server against dnsmasq serving the same record, on one core
//! each, in the same run.
//!
//! The server (gyre's `DnsServer` on a reactor thread, or a `dnsmasq` process started with
//! `--no-resolv --local=/test/ --host-record=host.test,192.0.2.8`) runs pinned to core 1; a
//! generator on core 0 keeps 64 queries for `host.test` (type A) in flight on one socket, each
//! with its own id, for two seconds, and counts the answers. Rounds alternate the two; the
//! table gives the median queries answered per second and the median of the per-round ratios
//! gyre ÷ dnsmasq (target ≥ 1.0x). Needs `dnsmasq` and `taskset`; says why and stops
//! otherwise.
//!
//! The tables go to stdout and to `target/bench-results/dns.md` (see `results.rs`).
//!
//! ```text
//! cargo bench -p gyre-benches --bench dns
//! GYRE_BENCH_ROUNDS=5 cargo bench -p gyre-benches --bench dns
//! ```

#[path = "../tests/common/dnsmasq.rs"]
mod dnsmasq;

use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gyre::prelude::*;
use gyre::protocols::dns::{Authority, DnsServer, Message, Name, Query, RecordType};
use gyre_benches::results::Report;
use gyre_benches::supervise::Supervised;
use gyre_benches::util::{median, pin_current_thread, range};

/// How long each round's generator runs.
const RUN: Duration = Duration::from_secs(2);
/// Queries in flight.
const WINDOW: u16 = 64;

fn main() {
    let mut out = Report::new("dns");
    let rounds: usize = std::env::var("GYRE_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    if Command::new("dnsmasq").arg("--version").output().is_err() {
        out.line(
            "dnsmasq is not installed: nothing to compare with (apt-get install dnsmasq-base)",
        );
        return;
    }
    let (mut gyre, mut dnsmasq, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let g = round_gyre();
        let d = round_dnsmasq();
        ratios.push(g / d);
        gyre.push(g);
        dnsmasq.push(d);
    }
    let (lo, hi) = range(&ratios);
    out.line("| server | rounds | queries answered per second (median) |");
    out.line("|---|---:|---:|");
    out.line(format!(
        "| dnsmasq | {rounds} | {:.0} |",
        median(&mut dnsmasq)
    ));
    out.line(format!(
        "| gyre `DnsServer` | {rounds} | {:.0} |",
        median(&mut gyre)
    ));
    out.line("");
    out.line(format!(
        "gyre ÷ dnsmasq: {:.2}x ({lo:.2}–{hi:.2}), target ≥ 1.0x",
        median(&mut ratios)
    ));
    out.save().expect("write the results");
}

/// gyre's server on a reactor thread pinned to core 1.
fn round_gyre() -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let server = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            pin_current_thread(1);
            let mut reactor = Reactor::new().unwrap();
            reactor.install_signal_handlers(false);
            let (server, _) = DnsServer::new(Authority::from_hosts("192.0.2.8 host.test\n", 300));
            let options = ListenOptions::new(0).interface("127.0.0.1");
            let port = reactor.listen_udp_with(options, server).unwrap();
            tx.send(port.get_host().unwrap()).unwrap();
            while !stop.load(Ordering::Acquire) {
                reactor.iterate(Duration::from_millis(10)).unwrap();
            }
        })
    };
    let at = rx.recv().unwrap();
    let qps = generate(at);
    stop.store(true, Ordering::Release);
    server.join().unwrap();
    qps
}

/// dnsmasq, pinned to core 1 with `taskset`.
fn round_dnsmasq() -> f64 {
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let records = ["--host-record=host.test,192.0.2.8", "--cache-size=1000"];
    let _dnsmasq = Supervised::spawn(
        Command::new("taskset")
            .args(["-c", "1", "dnsmasq"])
            .args(dnsmasq::dnsmasq_args(port, &records))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .expect("start dnsmasq"); // killed on drop
    let at = SocketAddr::from(([127, 0, 0, 1], port));
    wait_until_answering(at);
    generate(at)
}

/// Asks `at` once a few times until it answers (a process needs a moment to bind).
fn wait_until_answering(at: SocketAddr) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let query = query_bytes();
    let mut buf = [0u8; 512];
    for _ in 0..50 {
        let _ = socket.send_to(&query, at);
        if socket.recv(&mut buf).is_ok() {
            return;
        }
    }
    panic!("the server at {at} does not answer");
}

/// The generator on core 0: `WINDOW` queries in flight for `RUN`; answers per second.
fn generate(at: SocketAddr) -> f64 {
    pin_current_thread(0);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut query = query_bytes();
    let mut buf = [0u8; 512];
    let mut next_id: u16 = 1;
    let mut send = |socket: &UdpSocket, query: &mut Vec<u8>| {
        query[..2].copy_from_slice(&next_id.to_be_bytes());
        next_id = next_id.wrapping_add(1);
        let _ = socket.send_to(query, at);
    };
    for _ in 0..WINDOW {
        send(&socket, &mut query);
    }
    let started = Instant::now();
    let mut answered = 0u64;
    while started.elapsed() < RUN {
        match socket.recv(&mut buf) {
            Ok(_) => {
                answered += 1;
                send(&socket, &mut query);
            }
            // A lost query or answer: top the window up again.
            Err(_) => {
                for _ in 0..WINDOW {
                    send(&socket, &mut query);
                }
            }
        }
    }
    answered as f64 / started.elapsed().as_secs_f64()
}

fn query_bytes() -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(
        Name::from_ascii("host.test.").unwrap(),
        RecordType::A,
    ));
    m.to_vec().unwrap()
}
