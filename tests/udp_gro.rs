//! UDP GRO on receive (`ListenOptions::gro`): trains of datagrams a sender gave the kernel as
//! one GSO buffer reach a GRO socket whole on loopback; gyre splits them again, so the
//! protocol sees each datagram. Loopback only.

// On the portable I/O path only the refusal is tested: the rest goes unused there.
#![cfg_attr(gyre_portable_io, allow(unused_imports, dead_code))]

mod common;

use std::cell::{Cell, RefCell};
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::rc::Rc;

use common::{CAP, loopback, reactor, run_until};
use gyre::prelude::*;
use gyre::udp::ListenOptions;

/// `UDP_SEGMENT` (linux/udp.h): send one buffer as datagrams of a given size.
const UDP_SEGMENT: libc::c_int = 103;

/// Sends `payload` from `socket` to `to` as one GSO train of `segment`-byte datagrams (the
/// last shorter if the payload does not divide evenly).
fn send_train(socket: &UdpSocket, to: SocketAddr, payload: &[u8], segment: u16) -> io::Result<()> {
    let SocketAddr::V4(to) = to else {
        unreachable!("IPv4 loopback only")
    };
    let mut name = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: to.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*to.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    let mut iov = libc::iovec {
        iov_base: payload.as_ptr() as *mut libc::c_void,
        iov_len: payload.len(),
    };
    let mut control = [0u64; 4];
    // SAFETY: an all-zero msghdr is valid; every pointer set points at a live local (or at
    // `payload`, borrowed for the call) with its length; the control buffer holds
    // CMSG_SPACE(2) bytes, so the one header and its u16 fit; the fd is open.
    let rc = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_name = (&mut name as *mut libc::sockaddr_in).cast();
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(2) as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_UDP;
        (*cmsg).cmsg_type = UDP_SEGMENT;
        (*cmsg).cmsg_len = libc::CMSG_LEN(2) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<u16>(), segment);
        libc::sendmsg(socket.as_raw_fd(), &msg, 0)
    };
    match rc {
        n if n < 0 => Err(io::Error::last_os_error()),
        _ => Ok(()),
    }
}

/// Records each datagram; panics on one that starts with `!`.
struct Collect {
    got: Rc<RefCell<Vec<Vec<u8>>>>,
}

impl DatagramProtocol for Collect {
    fn datagram_received(&mut self, _: &mut Context<'_>, data: &[u8], _: SocketAddr) -> Outcome {
        self.got.borrow_mut().push(data.to_vec());
        if data.first() == Some(&b'!') {
            panic!("a protocol bug on one datagram of a train");
        }
        Ok(())
    }
}

type Got = Rc<RefCell<Vec<Vec<u8>>>>;

fn listen(reactor: &mut Reactor, options: ListenOptions) -> (Transport, Got) {
    let got = Got::default();
    let port = reactor
        .listen_udp_with(options, Collect { got: got.clone() })
        .unwrap();
    (port, got)
}

/// A train of datagrams of `segment` bytes, the `k`th filled with byte `k`, plus a short one.
fn train(count: usize, segment: usize, last: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut datagrams: Vec<Vec<u8>> = (0..count).map(|k| vec![b'a' + k as u8; segment]).collect();
    if last > 0 {
        datagrams.push(vec![b'z'; last]);
    }
    (datagrams.concat(), datagrams)
}

fn gro_available() -> bool {
    let mut reactor = reactor();
    let options = loopback().gro(true);
    match reactor.listen_udp_with(
        options,
        Collect {
            got: Got::default(),
        },
    ) {
        Ok(_) => true,
        Err(e) => {
            eprintln!("SKIP: no UDP GRO here ({e})");
            false
        }
    }
}

#[test]
#[cfg(not(gyre_portable_io))]
fn a_coalesced_train_is_split_into_its_datagrams_short_last_one_included() {
    if !gro_available() {
        return;
    }
    let mut reactor = reactor();
    let (port, got) = listen(&mut reactor, loopback().gro(true));
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (payload, expected) = train(10, 100, 40);
    send_train(&sender, port.get_host().unwrap(), &payload, 100).unwrap();
    run_until(&mut reactor, CAP, || got.borrow().len() == expected.len());
    assert_eq!(*got.borrow(), expected);
    let stats = port.stats().unwrap();
    assert_eq!(stats.gro_receives, 1, "the train arrived as one buffer");
    assert_eq!((stats.datagrams_in, stats.bytes_in), (11, 1040));
}

#[test]
#[cfg(not(gyre_portable_io))]
fn without_gro_the_same_train_arrives_datagram_by_datagram() {
    let mut reactor = reactor();
    let (port, got) = listen(&mut reactor, loopback());
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (payload, expected) = train(10, 100, 40);
    send_train(&sender, port.get_host().unwrap(), &payload, 100).unwrap();
    run_until(&mut reactor, CAP, || got.borrow().len() == expected.len());
    assert_eq!(*got.borrow(), expected);
    assert_eq!(port.stats().unwrap().gro_receives, 0);
}

#[test]
#[cfg(not(gyre_portable_io))]
fn max_packet_size_holds_for_each_datagram_of_a_train() {
    if !gro_available() {
        return;
    }
    let mut reactor = reactor();
    let (port, got) = listen(&mut reactor, loopback().gro(true).max_packet_size(64));
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = port.get_host().unwrap();
    let (too_long, _) = train(5, 100, 30); // five too long, the short last one fits
    send_train(&sender, to, &too_long, 100).unwrap();
    let (fits, expected_fits) = train(4, 50, 0);
    send_train(&sender, to, &fits, 50).unwrap();
    run_until(&mut reactor, CAP, || got.borrow().len() == 5);
    let mut expected = vec![vec![b'z'; 30]];
    expected.extend(expected_fits);
    assert_eq!(*got.borrow(), expected);
    let stats = port.stats().unwrap();
    assert_eq!((stats.truncated, stats.datagrams_in), (5, 5));
}

#[test]
#[cfg(not(gyre_portable_io))]
fn a_panic_on_one_datagram_of_a_train_resumes_at_the_next() {
    if !gro_available() {
        return;
    }
    let mut reactor = reactor();
    let (port, got) = listen(&mut reactor, loopback().gro(true));
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut datagrams: Vec<Vec<u8>> = (0..6).map(|k| vec![b'a' + k; 20]).collect();
    datagrams[2] = vec![b'!'; 20];
    send_train(&sender, port.get_host().unwrap(), &datagrams.concat(), 20).unwrap();
    run_until(&mut reactor, CAP, || got.borrow().len() == 6);
    assert_eq!(*got.borrow(), datagrams);
    assert_eq!(reactor.stats().callback_failures, 1);
    assert_eq!(port.stats().unwrap().gro_receives, 1);
}

/// Echoes; stops its port after `stop_after` datagrams.
struct StopAfter {
    seen: Rc<Cell<usize>>,
    stop_after: usize,
}

impl DatagramProtocol for StopAfter {
    fn datagram_received(&mut self, cx: &mut Context<'_>, _: &[u8], _: SocketAddr) -> Outcome {
        self.seen.set(self.seen.get() + 1);
        if self.seen.get() == self.stop_after {
            cx.transport().stop_listening();
        }
        Ok(())
    }
}

#[test]
#[cfg(not(gyre_portable_io))]
fn stopping_the_port_inside_a_train_delivers_nothing_more() {
    if !gro_available() {
        return;
    }
    let mut reactor = reactor();
    let seen = Rc::new(Cell::new(0));
    let protocol = StopAfter {
        seen: seen.clone(),
        stop_after: 3,
    };
    let port = reactor
        .listen_udp_with(loopback().gro(true), protocol)
        .unwrap();
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (payload, _) = train(8, 30, 0);
    send_train(&sender, port.get_host().unwrap(), &payload, 30).unwrap();
    run_until(&mut reactor, CAP, || {
        !port.is_listening() && seen.get() >= 3
    });
    for _ in 0..3 {
        reactor
            .iterate(std::time::Duration::from_millis(5))
            .unwrap();
    }
    assert_eq!(seen.get(), 3);
}

/// The portable I/O path reads no control messages: GRO is refused with the reason.
#[test]
#[cfg(gyre_portable_io)]
fn the_portable_io_path_refuses_gro_with_the_reason() {
    let mut reactor = reactor();
    let err = reactor
        .listen_udp_with(
            loopback().gro(true),
            Collect {
                got: Got::default(),
            },
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("UDP GRO needs the batched receive path"),
        "{err}"
    );
}
