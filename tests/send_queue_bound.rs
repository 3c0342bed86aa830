//! The send queue is bounded: one callback writing far more than it holds gets `Ok` for every
//! write, the excess is dropped and counted as the kernel would, and the memory a burst took
//! comes back once it has passed. (One test in this file: it reads the process's RSS.)

mod common;

use std::time::Duration;

use common::*;
use gyre::udp::{SEND_QUEUE_BYTES, SEND_QUEUE_DATAGRAMS};

/// The process's resident set, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line")
}

#[test]
fn a_burst_past_the_bound_is_dropped_counted_and_its_memory_given_back() {
    let mut reactor = reactor();
    let (p, _) = Recorder::new();
    let sender = reactor.listen_udp_with(loopback(), p).unwrap();
    let sink = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = sink.local_addr().unwrap();
    // Warm up: buffers touched, queues at their working size.
    for _ in 0..3 {
        let s = sender.clone();
        reactor.call_soon(move |_| s.write_to(&[0; 60_000], to).unwrap());
        reactor.iterate(Duration::ZERO).unwrap();
    }
    let baseline = rss_kib();
    const WRITES: usize = 2_000; // 120 MB in one callback
    let s = sender.clone();
    reactor.call_soon(move |_| {
        let payload = vec![5u8; 60_000];
        for _ in 0..WRITES {
            s.write_to(&payload, to).unwrap(); // every one returns Ok
        }
    });
    reactor.iterate(Duration::ZERO).unwrap();
    let peak = rss_kib();
    let accepted = (SEND_QUEUE_BYTES / 60_000).min(SEND_QUEUE_DATAGRAMS);
    let stats = sender.stats().unwrap();
    assert_eq!(
        stats.datagrams_out + stats.send_drops,
        3 + WRITES as u64,
        "{stats:?}"
    );
    assert!(stats.send_drops >= (WRITES - accepted) as u64, "{stats:?}");
    assert!(
        peak < baseline + 24 * 1024,
        "the burst took {} KiB (baseline {baseline} KiB)",
        peak - baseline
    );
    for _ in 0..64 {
        reactor.iterate(Duration::ZERO).unwrap(); // quiet turns: the queue gives memory back
    }
    let after = rss_kib();
    assert!(
        after < baseline + 2 * 1024,
        "{} KiB still held after the burst (baseline {baseline} KiB, peak {peak} KiB)",
        after.saturating_sub(baseline)
    );
}
