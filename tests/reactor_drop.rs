//! Dropping the reactor closes every file descriptor it opened, whatever handles remain: a
//! protocol that keeps its transport and a handle, pending calls that hold them, clones kept
//! by the test. The port can be bound again at once, and the kept handles fail cleanly.
//! (One test in this file: it compares the process's open file descriptors.)

mod common;

use std::cell::Cell;
use std::net::{SocketAddr, UdpSocket};
use std::rc::Rc;
use std::time::Duration;

use common::*;
use gyre::ReactorState;
use gyre::error::{ReactorError, WriteError};
use gyre::prelude::*;

/// What `/proc/self/fd` holds: each open descriptor and what it points at.
fn open_fds() -> Vec<(String, String)> {
    let mut fds: Vec<(String, String)> = std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .filter_map(|e| {
            let e = e.ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            Some((
                e.file_name().to_string_lossy().into(),
                target.display().to_string(),
            ))
        })
        .collect();
    fds.sort();
    fds
}

/// Sets a flag when dropped.
struct DropFlag(Rc<Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// Keeps its own transport, a handle, and a pending call holding both: the shapes that kept
/// the old design's shared state (and so its sockets) alive.
struct Keeper {
    me: Option<Transport>,
    handle: Option<Handle>,
    _dropped: DropFlag,
}

impl DatagramProtocol for Keeper {
    fn start_protocol(&mut self, cx: &mut Context<'_>) -> Outcome {
        let me = cx.transport().clone();
        let handle = cx.reactor().handle();
        self.me = Some(me.clone());
        self.handle = Some(handle.clone());
        cx.reactor()
            .call_later(Duration::from_secs(3600), move |_| {
                let _ = (&me, &handle);
            });
        Ok(())
    }

    fn datagram_received(&mut self, _: &mut Context<'_>, data: &[u8], from: SocketAddr) -> Outcome {
        self.me.as_ref().expect("started").write_to(data, from)?;
        Ok(())
    }
}

#[test]
fn dropping_the_reactor_closes_every_fd_whatever_handles_remain() {
    let before = open_fds();
    let protocol_dropped = Rc::new(Cell::new(false));
    let call_dropped = Rc::new(Cell::new(false));
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(CAP)).unwrap();
    let (address, port, handle, remote) = {
        let mut reactor = reactor();
        let keeper = Keeper {
            me: None,
            handle: None,
            _dropped: DropFlag(protocol_dropped.clone()),
        };
        let port = reactor.listen_udp_with(loopback(), keeper).unwrap();
        let address = port.get_host().unwrap();
        // Pending calls holding a handle, a transport and a drop flag.
        let (h, t, flag) = (
            reactor.handle(),
            port.clone(),
            DropFlag(call_dropped.clone()),
        );
        reactor.call_later(Duration::from_secs(3600), move |_| {
            let _ = (&h, &t, &flag);
        });
        let h = reactor.handle();
        reactor.call_soon(move |_| {
            let _ = &h;
        });
        // The port works, through the transport the protocol kept.
        client.send_to(b"ping", address).unwrap();
        let mut buf = [0u8; 16];
        let mut echoed = 0;
        while echoed == 0 {
            reactor.iterate(Duration::from_millis(10)).unwrap();
            if let Ok(n) = client.recv(&mut buf) {
                echoed = n;
            }
        }
        assert_eq!(&buf[..echoed], b"ping");
        (address, port, reactor.handle(), reactor.remote())
    }; // the reactor is dropped here
    drop(client);
    assert_eq!(open_fds(), before, "the reactor left descriptors open");
    assert!(
        protocol_dropped.get(),
        "the protocol (and what it kept) was freed"
    );
    assert!(
        call_dropped.get(),
        "the pending call (and what it held) was freed"
    );
    // The port number is free again.
    UdpSocket::bind(address).expect("the port can be bound again");
    // What was kept fails cleanly.
    assert!(matches!(
        port.write_to(b"x", address),
        Err(WriteError::PortClosed)
    ));
    assert!(!port.is_listening());
    assert_eq!(handle.state(), ReactorState::Stopped);
    assert_eq!(handle.stop(), Err(ReactorError::NotRunning));
    assert_eq!(
        remote.call_from_thread(|_| {}),
        Err(ReactorError::NotRunning)
    );
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    handle.call_soon(move |_| r.set(true)); // dropped at once: nothing will run it
    let late = handle.call_later(Duration::ZERO, |_| unreachable!());
    assert!(!late.active());
    assert!(!ran.get());
}
