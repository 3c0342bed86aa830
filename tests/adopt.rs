//! Adopting sockets (Twisted's `adoptDatagramPort`, `internet/test/test_socket.py`) and
//! systemd socket activation (`sd_listen_fds`), end to end.

mod common;

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use gyre::error::ListenError;

/// `test_adoptDatagramPort`-style: the port serves the socket it was given, both ways.
#[test]
fn an_adopted_socket_is_served_as_a_port() {
    let mut reactor = reactor();
    let mine = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (rx, log) = Recorder::echoing();
    let port = reactor.adopt_udp(&mine, rx).unwrap();
    assert_eq!(port.get_host().unwrap(), mine.local_addr().unwrap());
    assert_ne!(
        port.fileno().unwrap(),
        mine.as_raw_fd(),
        "gyre works on a duplicate"
    );
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(CAP)).unwrap();
    client
        .send_to(b"adopted", mine.local_addr().unwrap())
        .unwrap();
    run_until(&mut reactor, CAP, || datagrams(&log).len() == 1);
    let mut buf = [0u8; 16];
    let (n, from) = client.recv_from(&mut buf).unwrap();
    assert_eq!(
        (&buf[..n], from),
        (&b"adopted"[..], mine.local_addr().unwrap())
    );
}

/// Twisted's `test_stopOnlyCloses` for datagram ports: stopping closes gyre's copy only; the
/// caller's socket is still open (and non-blocking: it reads EAGAIN, not EBADF).
#[test]
fn stopping_an_adopted_port_closes_only_gyres_copy() {
    let mut reactor = reactor();
    let mine = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = reactor.adopt_udp(&mine, Recorder::new().0).unwrap();
    let stopped = port.stop_listening();
    run_until(&mut reactor, CAP, || stopped.is_called());
    let mut buf = [0u8; 4];
    let e = mine.recv_from(&mut buf).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
    assert!(mine.local_addr().is_ok());
    // And it still works: what is sent to it arrives.
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .send_to(b"still", mine.local_addr().unwrap())
        .unwrap();
    mine.set_nonblocking(false).unwrap();
    mine.set_read_timeout(Some(CAP)).unwrap();
    assert_eq!(mine.recv(&mut buf).unwrap(), 4);
}

/// Twisted's `test_invalidDescriptor` / `test_invalidAddressFamily` in spirit: a socket gyre
/// cannot serve is a clear `CannotAdopt`, and nothing is left open.
#[test]
fn sockets_that_are_not_bound_ip_datagram_sockets_are_refused_with_the_reason() {
    let mut reactor = reactor();
    let why = |e: ListenError| match e {
        ListenError::CannotAdopt { source, .. } => source.to_string(),
        other => panic!("expected CannotAdopt, got {other}"),
    };
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let e = reactor.adopt_udp(&tcp, Recorder::new().0).unwrap_err();
    assert_eq!(why(e), "not a datagram socket");
    let (unix, _) = UnixDatagram::pair().unwrap();
    let e = reactor.adopt_udp(&unix, Recorder::new().0).unwrap_err();
    assert_eq!(why(e), "not an IPv4 or IPv6 socket (address family 1)");
    let unbound = rustix::net::socket(
        rustix::net::AddressFamily::INET,
        rustix::net::SocketType::DGRAM,
        None,
    )
    .unwrap();
    let e = reactor.adopt_udp(&unbound, Recorder::new().0).unwrap_err();
    let fd = unbound.as_raw_fd();
    assert_eq!(
        e.to_string(),
        format!("cannot adopt descriptor {fd}: the socket is not bound")
    );
    assert!(reactor.ports().is_empty());
}

/// Launches `activated_echo` as a service manager would: `sh` puts `passed` on descriptor 3
/// (`None`: closes 3), sets LISTEN_PID to its own pid and execs (keeping that pid).
fn activated(passed: Option<std::os::fd::OwnedFd>, listen_fds: &str) -> Supervised {
    let three = match &passed {
        Some(fd) => format!("3<&{n} {n}<&-", n = fd.as_raw_fd()),
        None => "3<&-".to_string(),
    };
    let child = activated_with(&three, listen_fds);
    drop(passed); // the child has its copy
    child
}

/// [`activated`] with any redirection of descriptor 3 (`sh` syntax).
fn activated_with(three: &str, listen_fds: &str) -> Supervised {
    let script =
        format!("exec {three}; LISTEN_PID=$$ LISTEN_FDS={listen_fds} exec \"$0\" --seconds 20");
    let path = example("activated_echo").get_program().to_owned();
    Supervised::spawn(
        Command::new("sh")
            .args(["-c", &script])
            .arg(path)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .unwrap()
}

#[test]
fn the_activated_echo_example_serves_the_socket_it_was_passed() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let address = socket.local_addr().unwrap();
    // dup() makes a copy without close-on-exec: the one the child inherits.
    let passed = rustix::io::dup(socket.as_fd()).unwrap();
    drop(socket);
    let mut child = activated(Some(passed), "1");
    let mut stderr = BufReader::new(child.child().stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(
        line.trim_end()
            .ends_with(&format!("Echo starting on {}", address.port())),
        "{line}"
    );
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(CAP)).unwrap();
    client.send_to(b"activated", address).unwrap();
    let mut buf = [0u8; 16];
    let (n, from) = client.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"activated"[..], address));
    let status = child.terminate(CAP).unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn activation_with_a_descriptor_that_is_not_open_fails_with_ebadf() {
    let out = activated(None, "1").collect(CAP).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "socket activation: descriptor 3 was passed but cannot be taken: \
         Bad file descriptor (os error 9)\n"
    );
}

#[test]
fn activation_refuses_a_descriptor_that_is_not_a_socket() {
    let out = activated_with("3</dev/null", "1").collect(CAP).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "socket activation: descriptor 3 was passed but cannot be taken: \
         it is not a socket (was it opened by this process before listen_fds?)\n"
    );
}

#[test]
fn without_activation_the_example_says_so() {
    let out = run_bounded(example("activated_echo"), Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "no sockets were passed to this process (LISTEN_FDS, LISTEN_PID)\n"
    );
}
