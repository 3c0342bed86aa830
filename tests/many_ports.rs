//! Ten thousand ports in one reactor, each served.

mod common;

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use common::*;
use gyre::prelude::*;

struct Count(Rc<Cell<usize>>);

impl DatagramProtocol for Count {
    fn datagram_received(&mut self, _: &mut Context<'_>, data: &[u8], _: SocketAddr) -> Outcome {
        assert_eq!(data, b"ping");
        self.0.set(self.0.get() + 1);
        Ok(())
    }
}

#[test]
fn ten_thousand_ports_in_one_reactor() {
    const PORTS: usize = 10_000;
    let limit = Reactor::raise_open_files_limit().unwrap_or(0);
    if limit < (PORTS + 200) as u64 {
        eprintln!(
            "SKIP: the open-files limit is {limit}, below the {} this test needs",
            PORTS + 200
        );
        return;
    }
    let mut reactor = reactor();
    let received = Rc::new(Cell::new(0));
    let ports: Vec<_> = (0..PORTS)
        .map(|_| {
            reactor
                .listen_udp_with(loopback(), Count(received.clone()))
                .unwrap()
        })
        .collect();
    let (tx, _) = Recorder::new();
    let sender = reactor
        .listen_udp_with(loopback().send_buffer_size(4 << 20), tx)
        .unwrap();
    // Send in rounds, letting the loop drain, so no socket buffer overflows.
    for chunk in ports.chunks(500) {
        for port in chunk {
            sender.write_to(b"ping", port.get_host().unwrap()).unwrap();
        }
        let expected = received.get() + chunk.len();
        run_until(&mut reactor, Duration::from_secs(30), || {
            received.get() == expected
        });
    }
    assert_eq!(received.get(), PORTS);
    assert_eq!(sender.stats().unwrap().send_drops, 0);
    assert!(ports.iter().all(|p| p.stats().unwrap().datagrams_in == 1));
    assert_eq!(reactor.stats().ports_open, PORTS as u64 + 1);
    for port in &ports {
        port.stop_listening();
    }
    reactor.iterate(Duration::ZERO).unwrap();
    assert_eq!(reactor.stats().ports_open, 1);
}
