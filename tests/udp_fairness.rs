//! Edge-triggered reading done right: a per-port budget per turn, and ports left readable are
//! read again without waiting for a new event. Plus several reactors sharing a port.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use gyre::prelude::*;

#[test]
fn a_busy_port_is_read_in_budgeted_slices_and_never_stalls() {
    let mut reactor = reactor();
    let (rx, log) = Recorder::new();
    let receiver = reactor
        .listen_udp_with(loopback().recv_buffer_size(4 << 20), rx)
        .unwrap();
    let (other, other_log) = Recorder::new();
    let other = reactor.listen_udp_with(loopback(), other).unwrap();
    let to = receiver.get_host().unwrap();
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    const SENT: usize = 400;
    for i in 0..SENT as u32 {
        sender.send_to(&i.to_be_bytes(), to).unwrap();
    }
    sender.send_to(b"other", other.get_host().unwrap()).unwrap();
    // Wait (bounded) until the kernel has queued everything: the first turn sees it all ready.
    let give_up = Instant::now() + CAP;
    while receiver.stats().unwrap().datagrams_in == 0 && Instant::now() < give_up {
        reactor.iterate(Duration::from_millis(50)).unwrap();
    }
    let first_turn = datagrams(&log).len();
    assert_eq!(
        first_turn, 256,
        "one turn reads at most the budget from one port"
    );
    assert_eq!(
        datagrams(&other_log).len(),
        1,
        "the other port was served in the same turn"
    );
    // No new datagram arrives, so no new edge: only the still-readable list gets the rest.
    reactor.iterate(Duration::ZERO).unwrap();
    let got = datagrams(&log);
    assert_eq!(got.len(), SENT);
    let order: Vec<u32> = got
        .iter()
        .map(|(d, _)| u32::from_be_bytes(d[..4].try_into().unwrap()))
        .collect();
    assert_eq!(order, (0..SENT as u32).collect::<Vec<_>>());
}

#[test]
fn reactors_on_several_threads_share_one_port_with_reuse_port() {
    // Find a free port number, then let two reactors bind it with SO_REUSEPORT.
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let counts: Vec<Arc<AtomicUsize>> = (0..2).map(|_| Arc::new(AtomicUsize::new(0))).collect();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let mut remotes = Vec::new();
    let threads: Vec<_> = counts
        .iter()
        .cloned()
        .map(|count| {
            let ready_tx = ready_tx.clone();
            std::thread::spawn(move || {
                let mut reactor = reactor();
                struct Counting(Arc<AtomicUsize>);
                impl DatagramProtocol for Counting {
                    fn datagram_received(
                        &mut self,
                        _: &mut Context<'_>,
                        _: &[u8],
                        _: SocketAddr,
                    ) -> Outcome {
                        self.0.fetch_add(1, Ordering::SeqCst);
                        Ok(())
                    }
                }
                let options = gyre::udp::ListenOptions::new(port)
                    .interface("127.0.0.1")
                    .reuse_port(true);
                reactor.listen_udp_with(options, Counting(count)).unwrap();
                ready_tx.send(reactor.remote()).unwrap();
                reactor.run().unwrap();
            })
        })
        .collect();
    for _ in 0..2 {
        remotes.push(ready_rx.recv_timeout(CAP).unwrap());
    }
    // Many source ports: the kernel spreads flows over the sockets by hash.
    let senders: Vec<UdpSocket> = (0..64)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    for s in &senders {
        s.send_to(b"x", ("127.0.0.1", port)).unwrap();
    }
    let give_up = Instant::now() + CAP;
    while counts
        .iter()
        .map(|c| c.load(Ordering::SeqCst))
        .sum::<usize>()
        < 64
    {
        assert!(Instant::now() < give_up, "not every datagram arrived");
        std::thread::sleep(Duration::from_millis(5));
    }
    for remote in &remotes {
        remote.stop().unwrap();
    }
    for t in threads {
        t.join().unwrap();
    }
    let per_reactor: Vec<usize> = counts.iter().map(|c| c.load(Ordering::SeqCst)).collect();
    assert_eq!(per_reactor.iter().sum::<usize>(), 64);
    assert!(
        per_reactor.iter().all(|n| *n > 0),
        "both reactors served some: {per_reactor:?}"
    );
}

/// The kernel's receive-queue drops (`SO_RXQ_OVFL`) show in the port's counters, and every
/// datagram sent is either delivered or counted as dropped.
#[cfg(all(target_os = "linux", not(gyre_portable_io)))]
#[test]
fn kernel_drops_of_a_full_receive_queue_are_counted() {
    let mut reactor = reactor();
    let (rx, log) = Recorder::new();
    let receiver = reactor
        .listen_udp_with(loopback().recv_buffer_size(4096), rx)
        .unwrap();
    let to = receiver.get_host().unwrap();
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    const SENT: u64 = 1000;
    for i in 0..SENT as u32 {
        sender.send_to(&i.to_be_bytes(), to).unwrap(); // nobody reads meanwhile
    }
    for _ in 0..5 {
        reactor.iterate(Duration::from_millis(10)).unwrap();
    }
    // The kernel reports its drop count on the next datagram it queues after them.
    sender.send_to(b"after", to).unwrap();
    run_until(&mut reactor, CAP, || {
        datagrams(&log).last().is_some_and(|(d, _)| d == b"after")
    });
    let stats = receiver.stats().unwrap();
    assert_eq!(stats.datagrams_in, datagrams(&log).len() as u64);
    assert!(
        stats.kernel_drops > 0,
        "a 4 KiB queue cannot hold {SENT} datagrams"
    );
    assert_eq!(stats.datagrams_in + stats.kernel_drops, SENT + 1);
    assert_eq!(reactor.stats().ports.kernel_drops, stats.kernel_drops);
}

/// A burst of same-size datagrams to one peer, written during a turn, leaves in one batch
/// (UDP GSO where the kernel has it) and arrives whole, in order, as separate datagrams.
#[test]
fn a_burst_to_one_peer_arrives_whole_and_in_order() {
    let mut reactor = reactor();
    let (rx, log) = Recorder::new();
    let receiver = reactor
        .listen_udp_with(loopback().recv_buffer_size(1 << 20), rx)
        .unwrap();
    let (tx, _) = Recorder::new();
    let sender = reactor.listen_udp_with(loopback(), tx).unwrap();
    let to = receiver.get_host().unwrap();
    let s = sender.clone();
    reactor.call_soon(move |_| {
        for i in 0..100u8 {
            s.write_to(&[i; 1200], to).unwrap(); // queued: the loop is running
        }
        s.write_to(b"odd one out", to).unwrap();
        for i in 0..3u8 {
            s.write_to(&[i; 7], to).unwrap();
        }
    });
    run_until(&mut reactor, CAP, || datagrams(&log).len() == 104);
    let got: Vec<Vec<u8>> = datagrams(&log).into_iter().map(|(d, _)| d).collect();
    for i in 0..100u8 {
        assert_eq!(got[i as usize], vec![i; 1200]);
    }
    assert_eq!(got[100], b"odd one out");
    assert_eq!(&got[101..], [vec![0u8; 7], vec![1u8; 7], vec![2u8; 7]]);
    let stats = sender.stats().unwrap();
    assert_eq!(
        (stats.datagrams_out, stats.bytes_out, stats.send_drops),
        (104, 100 * 1200 + 11 + 21, 0)
    );
}
