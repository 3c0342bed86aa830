//! Datagrams lost to a full receive buffer, with the default `SO_RCVBUF` and with 4 MiB.
//!
//! A sender thread (core 0) sends 64-byte datagrams to a gyre port (core 1) at a steady rate,
//! half of what the port can take on this machine (measured first, unthrottled, as in
//! `benches/gro.rs`), for `GYRE_BENCH_SECONDS` (default 20) per buffer size. At half capacity
//! the port keeps up on average; what it loses, it loses during pauses (the OS or the VM not
//! running it), when the datagrams that arrive meanwhile outgrow the buffer. The table gives
//! datagrams sent, delivered, and lost (sent − delivered; the kernel's own count,
//! `kernel_drops`, beside it), for each buffer.
//!
//! The tables go to stdout and to `target/bench-results/loss.md` (see `results.rs`).
//!
//! ```text
//! cargo bench -p gyre-benches --bench loss
//! GYRE_BENCH_SECONDS=300 cargo bench -p gyre-benches --bench loss   # the soak in docs/performance.md
//! ```

use std::cell::Cell;
use std::net::{SocketAddr, UdpSocket};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gyre::prelude::*;
use gyre::udp::ListenOptions;
use gyre_benches::results::Report;
use gyre_benches::util::pin_current_thread;

/// Counts datagrams.
struct Count(Rc<Cell<u64>>);

impl DatagramProtocol for Count {
    fn datagram_received(&mut self, _: &mut Context<'_>, _: &[u8], _: SocketAddr) -> Outcome {
        self.0.set(self.0.get() + 1);
        Ok(())
    }
}

/// What one run measured.
struct Run {
    sent: u64,
    delivered: u64,
    kernel_drops: u64,
    buffer: usize,
}

fn main() {
    let mut out = Report::new("loss");
    let seconds: u64 = std::env::var("GYRE_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let capacity = run(None, u64::MAX, Duration::from_secs(2));
    let capacity = capacity.delivered / 2;
    let rate = capacity / 2;
    out.line(format!(
        "capacity about {capacity} datagrams/s; sending {rate}/s for {seconds} s each"
    ));
    out.line("");
    out.line(
        "| SO_RCVBUF asked | SO_RCVBUF given | sent | delivered | lost | lost % | kernel_drops |",
    );
    out.line("|---|---:|---:|---:|---:|---:|---:|");
    for asked in [None, Some(4usize << 20)] {
        let r = run(asked, rate, Duration::from_secs(seconds));
        let lost = r.sent.saturating_sub(r.delivered);
        out.line(format!(
            "| {} | {} | {} | {} | {lost} | {:.3}% | {} |",
            asked.map_or("default".to_string(), |b| format!("{b}")),
            r.buffer,
            r.sent,
            r.delivered,
            100.0 * lost as f64 / r.sent.max(1) as f64,
            r.kernel_drops,
        ));
    }
    out.save().expect("write the results");
}

/// Sends at `rate` datagrams a second (`u64::MAX`: as fast as possible) for `length`, to a
/// port with receive buffer `buffer`; returns what was sent and delivered.
fn run(buffer: Option<usize>, rate: u64, length: Duration) -> Run {
    pin_current_thread(1);
    let mut reactor = Reactor::new().expect("a reactor");
    reactor.install_signal_handlers(false);
    let mut options = ListenOptions::new(0).interface("127.0.0.1");
    if let Some(bytes) = buffer {
        options = options.recv_buffer_size(bytes);
    }
    let delivered = Rc::new(Cell::new(0));
    let port = reactor
        .listen_udp_with(options, Count(delivered.clone()))
        .unwrap();
    let to = port.get_host().unwrap();
    let (done, sent) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let sender = {
        let (done, sent) = (done.clone(), sent.clone());
        std::thread::spawn(move || send_at(to, rate, length, &sent, &done))
    };
    while !done.load(Ordering::Acquire) {
        reactor.iterate(Duration::from_millis(10)).unwrap();
    }
    for _ in 0..10 {
        reactor.iterate(Duration::from_millis(5)).unwrap();
    }
    sender.join().unwrap();
    let stats = port.stats().unwrap();
    Run {
        sent: sent.load(Ordering::Acquire),
        delivered: delivered.get(),
        kernel_drops: stats.kernel_drops,
        buffer: port.recv_buffer_size().unwrap(),
    }
}

/// Sends 64-byte datagrams to `to`, 64 at a time, paced to `rate` a second, for `length`.
fn send_at(to: SocketAddr, rate: u64, length: Duration, sent: &AtomicU64, done: &AtomicBool) {
    pin_current_thread(0);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let payload = [9u8; 64];
    let started = Instant::now();
    let mut count = 0u64;
    while started.elapsed() < length {
        let due = if rate == u64::MAX {
            u64::MAX
        } else {
            (started.elapsed().as_secs_f64() * rate as f64) as u64
        };
        if count >= due {
            std::hint::spin_loop();
            continue;
        }
        for _ in 0..64 {
            if socket.send_to(&payload, to).is_ok() {
                count += 1;
            }
        }
    }
    sent.store(count, Ordering::Release);
    done.store(true, Ordering::Release);
}
