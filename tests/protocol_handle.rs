//! `ProtocolHandle`: a protocol's own state, reached between callbacks by `&mut`, typed, and
//! refused while one of its callbacks runs.

mod common;

use std::cell::OnceCell;
use std::net::{SocketAddr, UdpSocket};
use std::rc::Rc;

use common::{CAP, loopback, reactor, run_until};
use gyre::prelude::*;
use gyre::udp::{ProtocolError, ProtocolHandle};

/// Counts datagrams; from inside its callback, tries to reach itself through its handle.
#[derive(Default)]
struct Counter {
    seen: u64,
    me: Rc<OnceCell<ProtocolHandle<Counter>>>,
    inside: Option<Result<u64, ProtocolError>>,
}

impl DatagramProtocol for Counter {
    fn datagram_received(&mut self, cx: &mut Context<'_>, _: &[u8], _: SocketAddr) -> Outcome {
        self.seen += 1;
        if let Some(me) = self.me.get() {
            self.inside = Some(me.with(cx.reactor(), |c| c.seen));
        }
        Ok(())
    }
}

#[test]
fn the_protocol_is_reached_between_callbacks_and_refused_inside_its_own() {
    let mut reactor = reactor();
    let me = Rc::new(OnceCell::new());
    let counter = Counter {
        me: me.clone(),
        ..Counter::default()
    };
    let port = reactor.listen_udp_with_handle(loopback(), counter).unwrap();
    let _ = me.set(port.clone());
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    sender.send_to(b"one", port.get_host().unwrap()).unwrap();
    run_until(&mut reactor, CAP, || {
        port.stats().unwrap().datagrams_in == 1
    });
    // Between callbacks: the protocol itself, by &mut.
    assert_eq!(port.with(&mut reactor, |c| c.seen), Ok(1));
    assert_eq!(
        port.with(&mut reactor, |c| c.inside.take()),
        Ok(Some(Err(ProtocolError::InCallback)))
    );
    port.with(&mut reactor, |c| c.seen = 10).unwrap();
    sender.send_to(b"two", port.get_host().unwrap()).unwrap();
    run_until(&mut reactor, CAP, || {
        port.stats().unwrap().datagrams_in == 2
    });
    assert_eq!(port.with(&mut reactor, |c| c.seen), Ok(11));
    // From a timer too.
    let later = port.clone();
    reactor.call_later(std::time::Duration::ZERO, move |core| {
        later.with(core, |c| c.seen += 100).unwrap();
    });
    reactor
        .iterate(std::time::Duration::from_millis(5))
        .unwrap();
    assert_eq!(port.with(&mut reactor, |c| c.seen), Ok(111));
    // Once closed, no protocol.
    port.stop_listening();
    reactor.iterate(std::time::Duration::ZERO).unwrap();
    assert_eq!(
        port.with(&mut reactor, |c| c.seen),
        Err(ProtocolError::Closed)
    );
    let _ = me; // the cycle port -> protocol -> handle is broken by the close
}
