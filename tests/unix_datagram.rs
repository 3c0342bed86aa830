//! UNIX datagram ports (Twisted's `listenUNIXDatagram` / `connectUNIXDatagram`) on real
//! sockets: paths in a directory of the test's own, and Linux abstract names.

mod common;

use std::cell::RefCell;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use common::{CAP, reactor, run_until};
use gyre::Outcome;
use gyre::error::{ListenError, WriteError};
use gyre::unix::{ToUnixAddress, UnixAddress, UnixContext, UnixDatagramProtocol, UnixOptions};

/// A directory for one test's socket files, removed (with what is left in it) at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("gyre-unix-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A name in the abstract namespace, unique to this process and test.
fn abstract_name(test: &str) -> String {
    format!("\0gyre-test-{}-{test}", std::process::id())
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Start,
    Stop,
    Datagram(Vec<u8>, UnixAddress),
    Refused,
}

type Log = Rc<RefCell<Vec<Seen>>>;

/// Records every callback; answers each datagram with `reply` (if any), to its sender.
struct Recorder {
    log: Log,
    reply: Option<&'static [u8]>,
}

fn recorder() -> (Recorder, Log) {
    let log = Log::default();
    (
        Recorder {
            log: log.clone(),
            reply: None,
        },
        log,
    )
}

impl UnixDatagramProtocol for Recorder {
    fn start_protocol(&mut self, _: &mut UnixContext<'_>) -> Outcome {
        self.log.borrow_mut().push(Seen::Start);
        Ok(())
    }

    fn stop_protocol(&mut self, _: &mut UnixContext<'_>) -> Outcome {
        self.log.borrow_mut().push(Seen::Stop);
        Ok(())
    }

    fn datagram_received(
        &mut self,
        cx: &mut UnixContext<'_>,
        data: &[u8],
        from: &UnixAddress,
    ) -> Outcome {
        self.log
            .borrow_mut()
            .push(Seen::Datagram(data.to_vec(), *from));
        if let Some(reply) = self.reply {
            cx.transport().write_to(reply, from)?;
        }
        Ok(())
    }

    fn connection_refused(&mut self, _: &mut UnixContext<'_>) -> Outcome {
        self.log.borrow_mut().push(Seen::Refused);
        Ok(())
    }
}

fn datagrams(log: &Log) -> Vec<(Vec<u8>, UnixAddress)> {
    log.borrow()
        .iter()
        .filter_map(|s| match s {
            Seen::Datagram(d, a) => Some((d.clone(), *a)),
            _ => None,
        })
        .collect()
}

fn address(path: &Path) -> UnixAddress {
    path.to_unix_address().unwrap()
}

/// Twisted: test_unix.py DatagramUnixSocketTests.test_exchange
#[test]
fn a_connected_client_with_a_bind_address_exchanges_datagrams_with_a_listening_port() {
    let dir = TempDir::new("exchange");
    let (server_path, client_path) = (dir.path("server"), dir.path("client"));
    let mut reactor = reactor();
    let (mut server, server_log) = recorder();
    server.reply = Some(b"hi back");
    reactor.listen_unix_datagram(&server_path, server).unwrap();
    let (client, client_log) = recorder();
    let options = UnixOptions::new(&server_path).bind_address(&client_path);
    let port = reactor.connect_unix_datagram_with(options, client).unwrap();
    assert_eq!(port.get_host().unwrap(), address(&client_path));
    assert_eq!(port.peer(), Some(address(&server_path)));
    assert_eq!(server_log.borrow()[0], Seen::Start);
    assert_eq!(client_log.borrow()[0], Seen::Start);

    port.write(b"hi").unwrap();
    run_until(&mut reactor, CAP, || !datagrams(&client_log).is_empty());

    assert_eq!(
        datagrams(&server_log),
        vec![(b"hi".to_vec(), address(&client_path))]
    );
    assert_eq!(
        datagrams(&client_log),
        vec![(b"hi back".to_vec(), address(&server_path))]
    );
    let stats = port.stats().unwrap();
    assert_eq!((stats.datagrams_out, stats.bytes_out), (1, 2));
    assert_eq!((stats.datagrams_in, stats.bytes_in), (1, 7));
}

/// Twisted: test_unix.py DatagramUnixSocketTests.test_cannotListen
#[test]
fn a_path_in_use_cannot_be_listened_on_and_a_stopped_port_removes_its_file() {
    let dir = TempDir::new("cannot-listen");
    let path = dir.path("socket");
    let mut reactor = reactor();
    let (first, _) = recorder();
    let port = reactor.listen_unix_datagram(&path, first).unwrap();
    let (second, second_log) = recorder();
    match reactor.listen_unix_datagram(&path, second) {
        Err(ListenError::CannotListenUnix {
            address: at,
            source,
        }) => {
            assert_eq!(at, address(&path));
            assert_eq!(source.kind(), io::ErrorKind::AddrInUse);
        }
        other => panic!("expected CannotListenUnix, got {other:?}"),
    }
    assert!(
        second_log.borrow().is_empty(),
        "a port that did not open never starts"
    );
    assert_eq!(reactor.stats().ports_open, 1);

    let done = port.stop_listening();
    reactor.iterate(Duration::ZERO).unwrap();
    assert!(done.is_called());
    assert!(!path.exists(), "the port removes the socket file it made");
    let (again, _) = recorder();
    reactor.listen_unix_datagram(&path, again).unwrap(); // so the path is free again
}

#[test]
fn a_stale_socket_file_is_in_use_and_is_left_alone() {
    let dir = TempDir::new("stale");
    let path = dir.path("stale");
    drop(UnixDatagram::bind(&path).unwrap()); // leaves the file behind
    let mut reactor = reactor();
    let (protocol, _) = recorder();
    let err = reactor.listen_unix_datagram(&path, protocol).unwrap_err();
    assert!(
        matches!(&err, ListenError::CannotListenUnix { source, .. } if source.kind() == io::ErrorKind::AddrInUse),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "cannot listen on {}: Address already in use (os error 98)",
            path.display()
        )
    );
    assert!(path.exists(), "gyre never removes a file it did not create");
}

#[test]
fn a_socket_file_replaced_by_another_is_not_removed_when_the_port_closes() {
    let dir = TempDir::new("replaced");
    let path = dir.path("socket");
    let mut reactor = reactor();
    let (protocol, _) = recorder();
    let port = reactor.listen_unix_datagram(&path, protocol).unwrap();
    std::fs::remove_file(&path).unwrap();
    let other = UnixDatagram::bind(&path).unwrap(); // someone else's socket now
    port.stop_listening();
    reactor.iterate(Duration::ZERO).unwrap();
    assert!(path.exists(), "the path names another socket: left alone");
    drop(other);
}

/// Twisted: internet/test/test_unix.py UNIXDatagramTestsBuilder.test_listenMode
#[test]
fn a_listening_port_gives_its_socket_file_the_mode_asked_for() {
    let dir = TempDir::new("mode");
    let mut reactor = reactor();
    for (name, mode) in [("private", 0o600), ("shared", 0o660)] {
        let path = dir.path(name);
        let (protocol, _) = recorder();
        let options = UnixOptions::new(&path).mode(mode);
        reactor
            .listen_unix_datagram_with(options, protocol)
            .unwrap();
        let got = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(got, mode, "{name}");
    }
    let path = dir.path("default");
    let (protocol, _) = recorder();
    reactor.listen_unix_datagram(&path, protocol).unwrap();
    let got = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(got, 0o666, "Twisted's default mode");
}

/// Twisted: internet/test/test_unix.py UNIXDatagramTestsBuilder.test_listenOnLinuxAbstractNamespace
#[test]
fn a_port_listens_on_a_linux_abstract_name_and_answers_there() {
    let name = abstract_name("abstract");
    let mut reactor = reactor();
    let (mut server, log) = recorder();
    server.reply = Some(b"pong");
    let port = reactor.listen_unix_datagram(&name, server).unwrap();
    let host = port.get_host().unwrap();
    assert_eq!(host.as_abstract_name(), Some(name.as_bytes()[1..].as_ref()));
    assert_eq!(host, name.to_unix_address().unwrap());
    assert_eq!(port.to_string(), format!("<Recorder on '@{}'>", &name[1..]));

    let client_name = abstract_name("abstract-client");
    let (client, client_log) = recorder();
    let options = UnixOptions::new(&name).bind_address(&client_name);
    let client_port = reactor.connect_unix_datagram_with(options, client).unwrap();
    client_port.write(b"ping").unwrap();
    run_until(&mut reactor, CAP, || !datagrams(&client_log).is_empty());
    assert_eq!(
        datagrams(&log),
        vec![(b"ping".to_vec(), client_name.to_unix_address().unwrap())]
    );
    assert_eq!(datagrams(&client_log), vec![(b"pong".to_vec(), host)]);
}

/// Twisted: test_unix.py DatagramUnixSocketTests.test_reprWithNewStyleProtocol
#[test]
fn a_port_displays_as_twisted_shows_it_and_logs_under_its_prefix() {
    let dir = TempDir::new("repr");
    let path = dir.path("socket");
    let mut reactor = reactor();
    let (protocol, _) = recorder();
    let port = reactor.listen_unix_datagram(&path, protocol).unwrap();
    assert_eq!(
        port.to_string(),
        format!("<Recorder on '{}'>", path.display())
    );
    assert_eq!(port.log_prefix(), "Recorder (UNIX)");
    assert_eq!(
        format!("{port:?}"),
        format!("UnixTransport({})", path.display())
    );
    port.stop_listening();
    reactor.iterate(Duration::ZERO).unwrap();
    assert_eq!(port.to_string(), "<Recorder (not listening)>");
    assert_eq!(format!("{port:?}"), "UnixTransport(closed)");
}

#[test]
fn datagrams_from_std_sockets_arrive_in_order_with_their_senders() {
    let dir = TempDir::new("order");
    let path = dir.path("server");
    let mut reactor = reactor();
    let (protocol, log) = recorder();
    reactor.listen_unix_datagram(&path, protocol).unwrap();
    let named = UnixDatagram::bind(dir.path("named")).unwrap();
    let unnamed = UnixDatagram::unbound().unwrap();
    const N: usize = 100; // more than one receive batch, more than the kernel queues (10)
    named.set_nonblocking(true).unwrap();
    let mut sent = 0;
    run_until(&mut reactor, CAP, || {
        while sent < N {
            match named.send_to(format!("{sent}").as_bytes(), &path) {
                Ok(_) => sent += 1,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false, // read some
                Err(e) => panic!("{e}"),
            }
        }
        true
    });
    unnamed.send_to(b"anonymous", &path).unwrap();
    run_until(&mut reactor, CAP, || datagrams(&log).len() == N + 1);
    let got = datagrams(&log);
    for (i, (data, from)) in got[..N].iter().enumerate() {
        assert_eq!(data, format!("{i}").as_bytes());
        assert_eq!(*from, address(&dir.path("named")));
    }
    assert_eq!(got[N].0, b"anonymous");
    assert!(got[N].1.is_unnamed());
}

#[test]
fn an_unnamed_sender_cannot_be_answered_and_the_port_goes_on() {
    let dir = TempDir::new("unnamed");
    let path = dir.path("server");
    let mut reactor = reactor();
    let (mut protocol, log) = recorder();
    protocol.reply = Some(b"who?");
    let port = reactor.listen_unix_datagram(&path, protocol).unwrap();
    let unnamed = UnixDatagram::unbound().unwrap();
    unnamed.send_to(b"one", &path).unwrap();
    unnamed.send_to(b"two", &path).unwrap();
    run_until(&mut reactor, CAP, || datagrams(&log).len() == 2);
    assert_eq!(reactor.stats().callback_failures, 2, "each reply failed");
    match port.write_to(b"x", UnixAddress::unnamed()) {
        Err(WriteError::InvalidAddress(e)) => {
            assert_eq!(e.reason, "an unnamed socket cannot be written to")
        }
        other => panic!("expected InvalidAddress, got {other:?}"),
    }
    assert!(port.is_listening());
}

#[test]
fn a_datagram_longer_than_max_packet_size_is_counted_and_never_delivered_cut() {
    let dir = TempDir::new("truncated");
    let path = dir.path("server");
    let mut reactor = reactor();
    let (protocol, log) = recorder();
    let options = UnixOptions::new(&path).max_packet_size(10);
    let port = reactor
        .listen_unix_datagram_with(options, protocol)
        .unwrap();
    let sender = UnixDatagram::unbound().unwrap();
    sender.send_to(&[7; 11], &path).unwrap();
    sender.send_to(&[1; 10], &path).unwrap();
    run_until(&mut reactor, CAP, || datagrams(&log).len() == 1);
    assert_eq!(datagrams(&log)[0].0, vec![1; 10]);
    let stats = port.stats().unwrap();
    assert_eq!(
        (stats.truncated, stats.datagrams_in, stats.bytes_in),
        (1, 1, 10)
    );
}

#[test]
fn write_sequence_sends_the_parts_as_one_datagram() {
    let dir = TempDir::new("sequence");
    let mut reactor = reactor();
    let (protocol, _) = recorder();
    let port = reactor
        .listen_unix_datagram(dir.path("port"), protocol)
        .unwrap();
    let peer = UnixDatagram::bind(dir.path("peer")).unwrap();
    port.write_sequence_to(&[b"head", b"", b"-body"], dir.path("peer"))
        .unwrap();
    let mut buf = [0; 64];
    peer.set_read_timeout(Some(CAP)).unwrap();
    let (n, from) = peer.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"head-body");
    assert_eq!(from.as_pathname(), Some(dir.path("port").as_path()));
}

#[test]
fn a_connected_port_takes_no_other_address_and_an_unconnected_one_needs_one() {
    let dir = TempDir::new("peer-rules");
    let mut reactor = reactor();
    let (server, _) = recorder();
    let server_port = reactor
        .listen_unix_datagram(dir.path("server"), server)
        .unwrap();
    let (client, _) = recorder();
    let client_port = reactor
        .connect_unix_datagram(dir.path("server"), client)
        .unwrap();
    assert!(client_port.get_host().unwrap().is_unnamed());
    client_port.write_to(b"ok", dir.path("server")).unwrap();
    match client_port.write_to(b"no", dir.path("elsewhere")) {
        Err(WriteError::WrongUnixPeer { connected, given }) => {
            assert_eq!(*connected, address(&dir.path("server")));
            assert_eq!(*given, address(&dir.path("elsewhere")));
        }
        other => panic!("expected WrongUnixPeer, got {other:?}"),
    }
    assert!(matches!(
        server_port.write(b"to whom?"),
        Err(WriteError::NotConnected)
    ));
}

#[test]
fn connecting_to_nothing_fails_at_once_and_leaves_nothing_behind() {
    let dir = TempDir::new("connect-fails");
    let mut reactor = reactor();
    let (protocol, log) = recorder();
    let options = UnixOptions::new(dir.path("nobody")).bind_address(dir.path("me"));
    match reactor.connect_unix_datagram_with(options, protocol) {
        Err(ListenError::CannotConnectUnix {
            address: at,
            source,
        }) => {
            assert_eq!(at, address(&dir.path("nobody")));
            assert_eq!(source.kind(), io::ErrorKind::NotFound);
        }
        other => panic!("expected CannotConnectUnix, got {other:?}"),
    }
    assert!(log.borrow().is_empty());
    assert!(
        !dir.path("me").exists(),
        "the bind address's file is removed again"
    );
    assert_eq!(reactor.stats().ports_open, 0);

    std::fs::write(dir.path("file"), b"not a socket").unwrap();
    let (protocol, _) = recorder();
    let err = reactor
        .connect_unix_datagram(dir.path("file"), protocol)
        .unwrap_err();
    assert!(
        matches!(&err, ListenError::CannotConnectUnix { source, .. } if source.kind() == io::ErrorKind::ConnectionRefused),
        "{err}"
    );
}

#[test]
fn a_connected_port_whose_peer_is_gone_hears_connection_refused_and_stays_open() {
    let dir = TempDir::new("refused");
    let mut reactor = reactor();
    let peer = UnixDatagram::bind(dir.path("peer")).unwrap();
    let (client, log) = recorder();
    let port = reactor
        .connect_unix_datagram(dir.path("peer"), client)
        .unwrap();
    port.write(b"first").unwrap();
    drop(peer);
    let err = port.write(b"second").unwrap_err();
    assert!(
        matches!(&err, WriteError::Io(e) if e.kind() == io::ErrorKind::ConnectionRefused),
        "{err}"
    );
    reactor.iterate(Duration::ZERO).unwrap();
    assert_eq!(*log.borrow(), vec![Seen::Start, Seen::Refused]);
    assert!(port.is_listening());
    let stats = port.stats().unwrap();
    assert_eq!((stats.datagrams_out, stats.refused), (1, 1));
}

#[test]
fn a_peer_with_a_full_queue_is_the_writers_error_and_nothing_is_lost_silently() {
    let dir = TempDir::new("full");
    let mut reactor = reactor();
    let (protocol, _) = recorder();
    let port = reactor
        .listen_unix_datagram(dir.path("port"), protocol)
        .unwrap();
    let slow = UnixDatagram::bind(dir.path("slow")).unwrap(); // never reads until the end
    let mut accepted = 0u64;
    let full = loop {
        assert!(accepted < 100_000, "the peer's queue never filled");
        match port.write_to(b"0123456789", dir.path("slow")) {
            Ok(()) => accepted += 1,
            Err(e) => break e,
        }
    };
    assert!(
        matches!(&full, WriteError::Io(e) if e.kind() == io::ErrorKind::WouldBlock),
        "{full}"
    );
    let stats = port.stats().unwrap();
    assert_eq!((stats.datagrams_out, stats.send_drops), (accepted, 1));
    // Every write that returned Ok is there to read.
    slow.set_nonblocking(true).unwrap();
    let mut buf = [0; 16];
    let mut read = 0u64;
    while slow.recv(&mut buf).is_ok() {
        read += 1;
    }
    assert_eq!(read, accepted);
}

struct Panicky {
    log: Log,
}

impl UnixDatagramProtocol for Panicky {
    fn datagram_received(
        &mut self,
        _: &mut UnixContext<'_>,
        data: &[u8],
        from: &UnixAddress,
    ) -> Outcome {
        if data == b"boom" {
            panic!("boom");
        }
        self.log
            .borrow_mut()
            .push(Seen::Datagram(data.to_vec(), *from));
        Ok(())
    }
}

#[test]
fn a_panic_in_datagram_received_is_caught_and_the_next_datagram_is_delivered() {
    let dir = TempDir::new("panic");
    let mut reactor = reactor();
    let log = Log::default();
    let port = reactor
        .listen_unix_datagram(dir.path("port"), Panicky { log: log.clone() })
        .unwrap();
    let sender = UnixDatagram::unbound().unwrap();
    for data in [&b"one"[..], b"boom", b"two"] {
        sender.send_to(data, dir.path("port")).unwrap();
    }
    run_until(&mut reactor, CAP, || datagrams(&log).len() == 2);
    let got: Vec<_> = datagrams(&log).into_iter().map(|(d, _)| d).collect();
    assert_eq!(got, vec![b"one".to_vec(), b"two".to_vec()]);
    assert_eq!(reactor.stats().callback_failures, 1);
    assert!(port.is_listening());
}

#[test]
fn shutdown_stops_every_unix_port_and_dropping_the_reactor_closes_and_removes_them() {
    let dir = TempDir::new("shutdown");
    let mut reactor = reactor();
    let (protocol, log) = recorder();
    let stopped = reactor
        .listen_unix_datagram(dir.path("a"), protocol)
        .unwrap();
    reactor.call_later(Duration::from_millis(1), |r| {
        r.stop().unwrap();
    });
    reactor.run().unwrap();
    assert_eq!(*log.borrow(), vec![Seen::Start, Seen::Stop]);
    assert!(!stopped.is_listening());
    assert!(!dir.path("a").exists());

    let mut reactor = common::reactor();
    let (protocol, log) = recorder();
    let kept = reactor
        .listen_unix_datagram(dir.path("b"), protocol)
        .unwrap();
    let fd = kept.fileno().unwrap();
    let socket = fd_target(fd).expect("the port's socket is open");
    assert!(dir.path("b").exists());
    drop(reactor);
    assert_ne!(fd_target(fd), Some(socket), "the port's socket is closed");
    assert_eq!(*log.borrow(), vec![Seen::Start], "dropped, not shut down");
    assert!(!dir.path("b").exists());
    assert!(matches!(
        kept.write_to(b"x", dir.path("b")),
        Err(WriteError::PortClosed)
    ));
    assert!(matches!(kept.fileno(), Err(WriteError::PortClosed)));
}

/// What descriptor `fd` of this process points at (`socket:[inode]` for a socket), if open.
fn fd_target(fd: i32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()
}

/// The descriptors of this process open on `file`.
fn fds_open_on(file: &Path) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target == file)
        .count()
}

#[test]
fn descriptors_a_sender_passes_with_its_datagrams_are_closed_not_kept() {
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags, sendmsg_addr};
    use std::mem::MaybeUninit;
    use std::os::fd::AsFd;

    let dir = TempDir::new("scm-rights");
    let path = dir.path("port");
    let mut reactor = reactor();
    let (protocol, log) = recorder();
    reactor.listen_unix_datagram(&path, protocol).unwrap();
    let file = dir.path("passed");
    let passed = std::fs::File::create(&file).unwrap();
    let sender = UnixDatagram::unbound().unwrap();
    let target = rustix::net::SocketAddrUnix::new(&path).unwrap();
    const SENDS: usize = 5;
    for _ in 0..SENDS {
        let fds = [passed.as_fd(), passed.as_fd(), passed.as_fd()];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(3))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        assert!(control.push(SendAncillaryMessage::ScmRights(&fds)));
        let data = [io::IoSlice::new(b"with fds")];
        sendmsg_addr(&sender, &target, &data, &mut control, SendFlags::empty()).unwrap();
    }
    drop(passed);
    run_until(&mut reactor, CAP, || datagrams(&log).len() == SENDS);
    assert_eq!(
        fds_open_on(&file),
        0,
        "the {} descriptors passed were closed on receipt",
        SENDS * 3
    );
}

#[test]
fn udp_and_unix_ports_share_the_loop_and_the_totals() {
    let dir = TempDir::new("mixed");
    let mut reactor = reactor();
    let (unix, unix_log) = recorder();
    reactor
        .listen_unix_datagram(dir.path("port"), unix)
        .unwrap();
    let (udp, udp_log) = common::Recorder::new();
    let udp_port = reactor.listen_udp_with(common::loopback(), udp).unwrap();
    let sender = UnixDatagram::unbound().unwrap();
    sender.send_to(b"over unix", dir.path("port")).unwrap();
    let udp_sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp_sender
        .send_to(b"over udp", udp_port.get_host().unwrap())
        .unwrap();
    run_until(&mut reactor, CAP, || {
        datagrams(&unix_log).len() == 1 && common::datagrams(&udp_log).len() == 1
    });
    let stats = reactor.stats();
    assert_eq!(stats.ports_open, 2);
    assert_eq!(stats.ports.datagrams_in, 2);
    assert_eq!(reactor.ports().len(), 1);
    assert_eq!(reactor.unix_ports().len(), 1);
}

#[test]
fn invalid_addresses_are_refused_before_any_socket_exists() {
    let mut reactor = reactor();
    let (protocol, log) = recorder();
    let long = format!("/tmp/{}", "x".repeat(120));
    match reactor.listen_unix_datagram(&long, protocol) {
        Err(ListenError::InvalidAddress(e)) => {
            assert_eq!(
                e.reason,
                "longer than a UNIX socket address holds (107 bytes)"
            )
        }
        other => panic!("expected InvalidAddress, got {other:?}"),
    }
    assert!(log.borrow().is_empty());
}
