//! Receive throughput with UDP GRO against without, in the same run.
//!
//! A sender thread (pinned to core 0) sends trains of same-size datagrams with GSO
//! (`UDP_SEGMENT`, 64 datagrams a train, or as many as fit in 64,000 bytes) to a gyre port on
//! 127.0.0.1 for one second, as fast as it can; the reactor (pinned to core 1) counts what it
//! delivers, one `datagram_received` per datagram either way. On loopback the kernel keeps a
//! GSO train whole for a GRO socket (one buffer, one control message), and cuts it into
//! datagrams before queueing them for a socket without GRO. Rounds alternate the two ports;
//! the table gives the median datagrams delivered per second of each and the median of the
//! per-round ratios GRO ÷ without (above 1: GRO delivers more). Drops are the kernel's
//! (`kernel_drops`): the receiver falling behind the sender.
//!
//! Then an echo, closed loop: the generator (core 0, GRO on its own socket too) sends a train of
//! 32 datagrams with GSO and waits for the 32 echoes (200 ms at most) before the next, for one
//! second; the server on core 1 is gyre's `Echo` on a `gro(true)` port (replies leave with GSO,
//! as gyre always sends runs) or a raw loop that answers each coalesced buffer with one GSO
//! `sendmsg` of the same segmentation: the fair limit. The table gives echoed datagrams per
//! second and the median ratio gyre ÷ raw (target ≥ 0.95x).
//!
//! The tables go to stdout and to `target/bench-results/gro.md` (see `results.rs`).
//!
//! ```text
//! cargo bench -p gyre-benches --bench gro
//! GYRE_BENCH_ROUNDS=3 cargo bench -p gyre-benches --bench gro
//! ```

#[path = "../tests/common/gso.rs"]
mod gso;

use std::cell::Cell;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gyre::prelude::*;
use gyre::udp::ListenOptions;
use gyre_benches::results::Report;
use gyre_benches::util::{median, pin_current_thread, range};

/// How long the sender sends each round.
const SEND_FOR: Duration = Duration::from_secs(1);

/// Counts datagrams and bytes.
struct Count {
    datagrams: Rc<Cell<u64>>,
}

impl DatagramProtocol for Count {
    fn datagram_received(&mut self, _: &mut Context<'_>, _: &[u8], _: SocketAddr) -> Outcome {
        self.datagrams.set(self.datagrams.get() + 1);
        Ok(())
    }
}

/// What one round measured.
struct Round {
    per_second: f64,
    drops: u64,
    gro_receives: u64,
}

fn main() {
    let mut out = Report::new("gro");
    let rounds: usize = std::env::var("GYRE_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    out.line("| size | rounds | without GRO (datagrams/s) | with GRO (datagrams/s) | GRO ÷ without (median, range) | drops without / with | coalesced buffers |");
    out.line("|---:|---:|---:|---:|---:|---:|---:|");
    for size in [64usize, 1200] {
        let (mut plain, mut gro, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        let (mut drops, mut coalesced) = ((0, 0), 0);
        for _ in 0..rounds {
            let a = round(false, size);
            let b = round(true, size);
            ratios.push(b.per_second / a.per_second);
            drops.0 += a.drops;
            drops.1 += b.drops;
            coalesced += b.gro_receives;
            plain.push(a.per_second);
            gro.push(b.per_second);
        }
        let (lo, hi) = range(&ratios);
        out.line(format!(
            "| {size} B | {rounds} | {:.0} | {:.0} | {:.2}x ({lo:.2}–{hi:.2}) | {} / {} | {coalesced} |",
            median(&mut plain),
            median(&mut gro),
            median(&mut ratios),
            drops.0,
            drops.1,
        ));
    }
    out.line("");
    out.line("| size | rounds | raw GRO+GSO loop (echoes/s) | gyre, gro(true) (echoes/s) | gyre ÷ raw (median, range) |");
    out.line("|---:|---:|---:|---:|---:|");
    for size in [64usize, 1200] {
        let (mut raw, mut ours, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            let a = echo_round(false, size);
            let b = echo_round(true, size);
            ratios.push(b / a);
            raw.push(a);
            ours.push(b);
        }
        let (lo, hi) = range(&ratios);
        out.line(format!(
            "| {size} B | {rounds} | {:.0} | {:.0} | {:.2}x ({lo:.2}–{hi:.2}) |",
            median(&mut raw),
            median(&mut ours),
            median(&mut ratios),
        ));
    }
    out.save().expect("write the results");
}

/// Datagrams a train carries in the echo.
const TRAIN: usize = 32;

/// One echo round against gyre (`true`) or the raw loop: echoed datagrams per second.
fn echo_round(gyre: bool, size: usize) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let server = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            pin_current_thread(1);
            match gyre {
                true => serve_gyre(&tx, &stop),
                false => serve_raw(&tx, &stop),
            }
        })
    };
    let to: SocketAddr = rx.recv().unwrap();
    pin_current_thread(0);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    set_gro(&socket);
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let payload = vec![5u8; TRAIN * size];
    let mut buf = vec![0u8; 65_536];
    let (started, mut echoed) = (Instant::now(), 0u64);
    while started.elapsed() < SEND_FOR {
        send_train(&socket, to, &payload, size as u16);
        let mut back = 0;
        while back < TRAIN {
            match recv_counted(&socket, &mut buf) {
                Some(n) => back += n,
                None => break, // lost: the next train
            }
        }
        echoed += back as u64;
    }
    let rate = echoed as f64 / started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Release);
    server.join().unwrap();
    rate
}

/// gyre's echo on a GRO port, until `stop`.
fn serve_gyre(tx: &std::sync::mpsc::Sender<SocketAddr>, stop: &AtomicBool) {
    let mut reactor = Reactor::new().expect("a reactor");
    reactor.install_signal_handlers(false);
    let options = ListenOptions::new(0).interface("127.0.0.1").gro(true);
    let port = reactor
        .listen_udp_with(options, gyre::protocols::Echo::quiet())
        .expect("a GRO port");
    tx.send(port.get_host().unwrap()).unwrap();
    while !stop.load(Ordering::Acquire) {
        reactor.iterate(Duration::from_millis(10)).unwrap();
    }
}

/// The fair limit: a blocking loop that reads one (maybe coalesced) buffer and sends it back
/// with one GSO `sendmsg` of the same segmentation, until `stop`.
fn serve_raw(tx: &std::sync::mpsc::Sender<SocketAddr>, stop: &AtomicBool) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    set_gro(&socket);
    socket
        .set_read_timeout(Some(Duration::from_millis(10)))
        .unwrap();
    tx.send(socket.local_addr().unwrap()).unwrap();
    let mut buf = vec![0u8; 65_536];
    while !stop.load(Ordering::Acquire) {
        if let Some((len, size, from)) = recv_gro(&socket, &mut buf) {
            send_train(&socket, from, &buf[..len], size as u16);
        }
    }
}

/// Turns on `UDP_GRO` (104) on a bench socket.
fn set_gro(socket: &UdpSocket) {
    let on: libc::c_int = 1;
    // SAFETY: `on` is a valid c_int for the call and its size is passed; the fd is open.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_UDP,
            104,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// Reads one buffer: its length, the size of its datagrams (the whole length when it holds
/// one), and its sender; `None` on a timeout.
fn recv_gro(socket: &UdpSocket, buf: &mut [u8]) -> Option<(usize, usize, SocketAddr)> {
    let mut control = [0u64; 8];
    // SAFETY: all-zero sockaddr_in and msghdr are valid; every pointer set points at a live
    // local or `buf` with its length; CMSG_* walk only inside `control`, as the kernel filled
    // it; a UDP_GRO payload is a c_int.
    unsafe {
        let mut name: libc::sockaddr_in = std::mem::zeroed();
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_name = (&mut name as *mut libc::sockaddr_in).cast();
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        let n = libc::recvmsg(socket.as_raw_fd(), &mut msg, 0);
        if n < 0 {
            return None;
        }
        let len = n as usize;
        let mut size = len;
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_UDP && (*cmsg).cmsg_type == 104 {
                let s: libc::c_int = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                size = (s as usize).max(1);
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
        let from = SocketAddr::from((
            std::net::Ipv4Addr::from(u32::from_be(name.sin_addr.s_addr)),
            u16::from_be(name.sin_port),
        ));
        Some((len, size, from))
    }
}

/// Reads one buffer and says how many datagrams it held; `None` on a timeout.
fn recv_counted(socket: &UdpSocket, buf: &mut [u8]) -> Option<usize> {
    let (len, size, _) = recv_gro(socket, buf)?;
    Some(len.div_ceil(size).max(1))
}

/// One round: a port with or without GRO, a sender blasting GSO trains at it for `SEND_FOR`.
fn round(gro: bool, size: usize) -> Round {
    pin_current_thread(1);
    let mut reactor = Reactor::new().expect("a reactor");
    reactor.install_signal_handlers(false);
    let datagrams = Rc::new(Cell::new(0));
    let options = ListenOptions::new(0)
        .interface("127.0.0.1")
        .gro(gro)
        .recv_buffer_size(4 << 20);
    let protocol = Count {
        datagrams: datagrams.clone(),
    };
    let port = reactor
        .listen_udp_with(options, protocol)
        .expect("a port (UDP GRO needs Linux 5.0+)");
    let to = port.get_host().unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let sender = {
        let done = done.clone();
        std::thread::spawn(move || send_trains(to, size, &done))
    };
    let started = Instant::now();
    while !done.load(Ordering::Acquire) {
        reactor.iterate(Duration::from_millis(10)).unwrap();
    }
    let sent_for = started.elapsed();
    for _ in 0..5 {
        reactor.iterate(Duration::from_millis(5)).unwrap(); // what is queued still counts
    }
    sender.join().unwrap();
    let stats = port.stats().unwrap();
    Round {
        per_second: datagrams.get() as f64 / sent_for.as_secs_f64(),
        drops: stats.kernel_drops,
        gro_receives: stats.gro_receives,
    }
}

/// Sends GSO trains of `size`-byte datagrams to `to` for `SEND_FOR`, then sets `done`.
fn send_trains(to: SocketAddr, size: usize, done: &AtomicBool) {
    pin_current_thread(0);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let per_train = (64_000 / size).min(64);
    let payload = vec![7u8; per_train * size];
    let until = Instant::now() + SEND_FOR;
    while Instant::now() < until {
        for _ in 0..64 {
            send_train(&socket, to, &payload, size as u16);
        }
    }
    done.store(true, Ordering::Release);
}

/// One GSO `sendmsg` of `payload` (errors, such as a full buffer, are the load's problem,
/// not the measurement's).
fn send_train(socket: &UdpSocket, to: SocketAddr, payload: &[u8], segment: u16) {
    let _ = gso::send_train(socket, to, payload, segment);
}
