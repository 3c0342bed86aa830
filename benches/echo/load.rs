//! The load generator: pingpong (one datagram in flight, round-trip times) and window (a
//! fixed number in flight, echoed datagrams per second, with loss accounting).
//!
//! Every datagram goes to the server's address, which is on 127.0.0.1; every phase stops
//! after its duration or its count, whichever comes first, plus at most one loss timeout to
//! collect what is still in flight. Each phase opens a fresh connected socket, so late
//! echoes of an earlier phase never reach it.

use std::collections::VecDeque;
use std::io::{self, ErrorKind};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::mmsg::Batch;

/// How long the window generator blocks in `recvmmsg` before checking for losses.
const RECV_TICK: Duration = Duration::from_millis(2);
/// Bytes every payload starts with: the sequence number, little-endian.
const SEQ_BYTES: usize = 8;

/// When a phase stops: after `duration` or after `count` datagrams, whichever comes first.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// Time bound.
    pub duration: Duration,
    /// Count bound (round trips for pingpong, datagrams sent for window).
    pub count: u64,
}

/// Runs `f` on a new thread pinned to `core` (if any), and returns what it returns.
pub fn on_core<T: Send>(core: Option<usize>, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                if let Some(Err(e)) = core.map(gyre_benches::util::try_pin_current_thread) {
                    eprintln!("cannot pin the load generator to core {core:?}: {e}");
                }
                f()
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// A UDP socket on 127.0.0.1, connected to the server (which must be on loopback too).
fn connect(server: SocketAddr) -> io::Result<UdpSocket> {
    if !server.ip().is_loopback() {
        return Err(io::Error::other(format!(
            "refusing to load {server}: not loopback"
        )));
    }
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    socket.connect(server)?;
    Ok(socket)
}

/// A payload of `size` bytes: the sequence number, then a fixed pattern.
fn fill_payload(buf: &mut [u8], seq: u64) {
    for (i, b) in buf.iter_mut().enumerate().skip(SEQ_BYTES) {
        *b = (i % 251) as u8;
    }
    buf[..SEQ_BYTES].copy_from_slice(&seq.to_le_bytes());
}

/// The sequence number of an echo of `size` bytes, or `None` if it is not one of ours.
fn sequence_of(datagram: &[u8], size: usize) -> Option<u64> {
    if datagram.len() != size {
        return None;
    }
    Some(u64::from_le_bytes(datagram[..SEQ_BYTES].try_into().ok()?))
}

/// What a pingpong phase saw.
#[derive(Debug, Clone)]
pub struct PingResult {
    /// Round-trip times in nanoseconds (1 ns to 10 s, three significant digits).
    pub rtts_ns: Histogram<u64>,
    /// Datagrams not echoed within the loss timeout.
    pub lost: u64,
}

impl PingResult {
    fn new() -> PingResult {
        PingResult {
            rtts_ns: Histogram::new_with_bounds(1, 10_000_000_000, 3).expect("valid bounds"),
            lost: 0,
        }
    }

    /// Round trips measured.
    pub fn count(&self) -> u64 {
        self.rtts_ns.len()
    }

    /// The `q` quantile (0..=1) of the round-trip times, in nanoseconds; NaN if none.
    pub fn quantile_ns(&self, q: f64) -> f64 {
        if self.rtts_ns.is_empty() {
            return f64::NAN;
        }
        self.rtts_ns.value_at_quantile(q) as f64
    }
}

/// One datagram in flight at a time: send, wait for its echo (at most `loss_timeout`),
/// record the round trip, repeat.
pub fn pingpong(
    server: SocketAddr,
    size: usize,
    limit: Limit,
    loss_timeout: Duration,
) -> io::Result<PingResult> {
    let socket = connect(server)?;
    socket.set_nonblocking(true)?;
    let (mut out, mut back) = (vec![0u8; size], vec![0u8; size + 64]);
    fill_payload(&mut out, 0);
    let mut result = PingResult::new();
    let start = Instant::now();
    for seq in 1..=limit.count {
        if start.elapsed() >= limit.duration {
            break;
        }
        out[..SEQ_BYTES].copy_from_slice(&seq.to_le_bytes());
        let sent = Instant::now();
        socket.send(&out)?;
        match await_echo(&socket, &mut back, size, seq, sent + loss_timeout)? {
            Some(at) => result
                .rtts_ns
                .saturating_record((at - sent).as_nanos() as u64),
            None => result.lost += 1,
        }
    }
    Ok(result)
}

/// Polls until the echo of `seq` arrives (its arrival time) or `deadline` passes (`None`).
///
/// The generator spins on a non-blocking socket instead of sleeping in `recv`: it has a core
/// of its own, and its own wake-up latency (tens of µs on a VM) would otherwise be part of
/// every round trip, hiding differences between servers.
fn await_echo(
    socket: &UdpSocket,
    buf: &mut [u8],
    size: usize,
    seq: u64,
    deadline: Instant,
) -> io::Result<Option<Instant>> {
    while Instant::now() < deadline {
        match socket.recv(buf) {
            Ok(n) if sequence_of(&buf[..n], size) == Some(seq) => return Ok(Some(Instant::now())),
            Ok(_) => {} // a late echo of an earlier datagram
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::hint::spin_loop(),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// What a window phase saw.
#[derive(Debug, Clone, Copy, Default)]
pub struct WindowResult {
    /// Datagrams sent.
    pub sent: u64,
    /// Echoes received in time, each counted once.
    pub received: u64,
    /// Datagrams whose echo did not come back within the loss timeout.
    pub lost: u64,
    /// Echoes that arrived after being counted lost, duplicates, or foreign datagrams.
    pub stray: u64,
    /// From the first send until the last echo or loss.
    pub elapsed: Duration,
    /// CPU time the load generator's thread used meanwhile, in nanoseconds.
    pub generator_cpu_ns: u64,
}

impl WindowResult {
    /// Echoed datagrams per second.
    pub fn throughput(&self) -> f64 {
        self.received as f64 / self.elapsed.as_secs_f64()
    }
}

/// One datagram of the window, in sending order.
#[derive(Debug, Clone, Copy)]
struct Flight {
    seq: u64,
    sent: Instant,
    done: bool,
}

/// The window's bookkeeping: datagrams in flight, oldest first.
#[derive(Debug)]
struct Window {
    flights: VecDeque<Flight>,
    pending: usize,
    next_seq: u64,
    result: WindowResult,
}

impl Window {
    fn new(window: usize) -> Window {
        Window {
            flights: VecDeque::with_capacity(window * 2),
            pending: 0,
            next_seq: 1,
            result: WindowResult::default(),
        }
    }

    /// Counts as lost the oldest datagrams still unanswered after `timeout`.
    fn expire(&mut self, now: Instant, timeout: Duration) {
        while let Some(front) = self.flights.front() {
            if !front.done && now.duration_since(front.sent) < timeout {
                break;
            }
            if !front.done {
                self.result.lost += 1;
                self.pending -= 1;
            }
            self.flights.pop_front();
        }
    }

    /// Records the echo of `seq`.
    fn ack(&mut self, seq: u64) {
        let first = self.flights.front().map_or(self.next_seq, |f| f.seq);
        let slot = seq
            .checked_sub(first)
            .and_then(|i| self.flights.get_mut(usize::try_from(i).ok()?));
        match slot {
            Some(flight) if !flight.done => {
                flight.done = true;
                self.pending -= 1;
                self.result.received += 1;
            }
            _ => self.result.stray += 1,
        }
    }

    /// Fills the window up (within `budget` more datagrams) with one `sendmmsg`.
    fn send(&mut self, tx: &mut Batch, fd: i32, size: usize, budget: u64) -> io::Result<()> {
        let room = (tx.slots() - self.pending).min(usize::try_from(budget).unwrap_or(usize::MAX));
        if room == 0 {
            return Ok(());
        }
        for i in 0..room {
            let seq = self.next_seq + i as u64;
            tx.slot_mut(i)[..SEQ_BYTES].copy_from_slice(&seq.to_le_bytes());
        }
        let sent = tx.send(fd, room, size)?;
        let now = Instant::now();
        for _ in 0..sent {
            let seq = self.next_seq;
            self.flights.push_back(Flight {
                seq,
                sent: now,
                done: false,
            });
            self.next_seq += 1;
        }
        self.pending += sent;
        self.result.sent += sent as u64;
        Ok(())
    }

    /// Takes the echoes that are there (waiting at most `RECV_TICK` for the first).
    fn receive(&mut self, rx: &mut Batch, fd: i32, size: usize) -> io::Result<()> {
        match rx.recv(fd, false) {
            Ok(n) => {
                for i in 0..n {
                    match sequence_of(rx.received(i), size) {
                        Some(seq) => self.ack(seq),
                        None => self.result.stray += 1,
                    }
                }
                Ok(())
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Keeps `window` datagrams of `size` bytes in flight until the limit, then waits for the
/// stragglers (at most `loss_timeout`).
pub fn window(
    server: SocketAddr,
    size: usize,
    window: usize,
    limit: Limit,
    loss_timeout: Duration,
) -> io::Result<WindowResult> {
    let socket = connect(server)?;
    socket.set_read_timeout(Some(RECV_TICK))?;
    let fd = socket.as_raw_fd();
    let mut tx = Batch::new(window, size);
    for i in 0..window {
        fill_payload(tx.slot_mut(i), 0);
    }
    let mut rx = Batch::new(window, size + 64);
    let mut state = Window::new(window);
    let cpu_before = crate::counters::thread_cpu_ns();
    let start = Instant::now();
    let (stop_sending, give_up) = (
        start + limit.duration,
        start + limit.duration + loss_timeout * 2,
    );
    loop {
        let now = Instant::now();
        state.expire(now, loss_timeout);
        let budget = limit.count - state.result.sent;
        let sending = now < stop_sending && budget > 0;
        if (!sending && state.pending == 0) || now >= give_up {
            break;
        }
        if sending {
            state.send(&mut tx, fd, size, budget)?;
        }
        state.receive(&mut rx, fd, size)?;
    }
    // Still unanswered when the phase gave up: lost too.
    state.result.lost += state.pending as u64;
    state.result.elapsed = start.elapsed();
    state.result.generator_cpu_ns = crate::counters::thread_cpu_ns().saturating_sub(cpu_before);
    Ok(state.result)
}
