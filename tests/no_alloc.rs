//! No allocation per datagram in the steady state: 100,000 datagrams through an echo port,
//! counted by a global allocator, after a warm-up; and none per poll of a running task, nor
//! per wake on the loop's thread. (One test in this file: the counter is process-wide.)

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use gyre::prelude::*;
use gyre::protocols::Echo;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::{Counting, start_counting, stop_counting};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Sends `count` datagrams in windows of 32 and reads every echo back.
fn pump(reactor: &mut Reactor, client: &UdpSocket, to: std::net::SocketAddr, count: usize) {
    let payload = [7u8; 64];
    let mut buf = [0u8; 128];
    let give_up = Instant::now() + Duration::from_secs(60);
    let mut done = 0;
    while done < count {
        assert!(Instant::now() < give_up, "only {done} of {count} echoed");
        let window = 32.min(count - done);
        for _ in 0..window {
            client.send_to(&payload, to).unwrap();
        }
        let mut back = 0;
        while back < window {
            reactor.iterate(Duration::from_millis(5)).unwrap();
            while let Ok(n) = client.recv(&mut buf) {
                assert_eq!(n, 64);
                back += 1;
            }
            assert!(Instant::now() < give_up, "echoes stopped coming");
        }
        done += window;
    }
}

/// Yields `n` times: each time it wakes itself (on the loop's thread) and waits for the next
/// poll.
struct YieldTimes(u32);

impl std::future::Future for YieldTimes {
    type Output = Result<(), Failure>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Failure>> {
        if self.0 == 0 {
            return std::task::Poll::Ready(Ok(()));
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

/// Runs a task that is woken and polled 100,000 times; the allocations counted from its
/// 1,000th poll on.
fn task_polls_allocate_nothing(reactor: &mut Reactor) {
    let task = reactor.ensure_deferred(YieldTimes(101_000));
    for _ in 0..1_000 {
        reactor.iterate(Duration::ZERO).unwrap(); // warm-up: the ready queue grows to its size
    }
    start_counting();
    for _ in 0..100_000 {
        reactor.iterate(Duration::ZERO).unwrap();
    }
    assert_eq!(
        stop_counting(),
        0,
        "allocations while polling a task 100,000 times"
    );
    while !task.is_called() {
        reactor.iterate(Duration::ZERO).unwrap();
    }
    assert!(task.take_result().unwrap().is_ok());
}

#[test]
fn nothing_allocates_per_datagram_nor_per_poll_of_a_running_task() {
    let mut reactor = Reactor::new().unwrap();
    reactor.install_signal_handlers(false);
    let port = reactor
        .listen_udp_with(ListenOptions::new(0).interface("127.0.0.1"), Echo::quiet())
        .unwrap();
    let to = port.get_host().unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_nonblocking(true).unwrap();
    pump(&mut reactor, &client, to, 10_000); // warm-up: buffers and queues reach their size
    start_counting();
    pump(&mut reactor, &client, to, 100_000);
    let allocations = stop_counting();
    assert_eq!(port.stats().unwrap().datagrams_in, 110_000);
    assert_eq!(
        allocations, 0,
        "allocations while echoing 100,000 datagrams"
    );
    task_polls_allocate_nothing(&mut reactor);
}
