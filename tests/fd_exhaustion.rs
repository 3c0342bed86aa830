//! Running out of file descriptors: a listen fails with `CannotListen` naming `EMFILE`, a new
//! reactor fails with the OS error, and the ports already open keep serving. (One test in
//! this file: it lowers the process's open-file limit.)

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use common::*;
use gyre::error::ListenError;
use gyre::prelude::*;

/// The process's open-file limits (soft, hard).
fn nofile() -> (libc::rlim_t, libc::rlim_t) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable `rlimit`.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(rc, 0);
    (limit.rlim_cur, limit.rlim_max)
}

fn set_soft_nofile(soft: libc::rlim_t) {
    let (_, hard) = nofile();
    let limit = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `limit` is a valid `rlimit` with `rlim_cur <= rlim_max`.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
}

/// The descriptor number the next open would get: the lowest free one.
fn lowest_free_fd() -> libc::rlim_t {
    use std::os::fd::AsRawFd;
    let probe = std::fs::File::open("/dev/null").unwrap();
    probe.as_raw_fd() as libc::rlim_t
}

#[test]
fn out_of_file_descriptors_fails_the_listen_and_nothing_else() {
    let mut reactor = reactor();
    let (echo, echo_log) = Recorder::echoing();
    let echo = reactor.listen_udp_with(loopback(), echo).unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(CAP)).unwrap();
    let (soft, _) = nofile();
    // Every descriptor number below the limit is taken: no room for one more.
    set_soft_nofile(lowest_free_fd());
    let (p, log) = Recorder::new();
    let err = reactor.listen_udp_with(loopback(), p).unwrap_err();
    let new_reactor = Reactor::new().map(|_| ());
    // The port already open still echoes.
    client
        .send_to(b"still there?", echo.get_host().unwrap())
        .unwrap();
    run_until(&mut reactor, CAP, || datagrams(&echo_log).len() == 1);
    let mut buf = [0u8; 32];
    let n = client.recv(&mut buf).unwrap();
    set_soft_nofile(soft);
    assert_eq!(&buf[..n], b"still there?");
    match &err {
        ListenError::CannotListen { source, .. } => {
            assert_eq!(source.raw_os_error(), Some(libc::EMFILE), "{err}")
        }
        other => panic!("expected CannotListen, got {other:?}"),
    }
    assert!(log.borrow().is_empty()); // start_protocol never ran
    assert_eq!(reactor.ports().len(), 1);
    assert_eq!(new_reactor.unwrap_err().raw_os_error(), Some(libc::EMFILE));
    // With descriptors back, listening works again.
    let (p, _) = Recorder::new();
    reactor.listen_udp_with(loopback(), p).unwrap();
    reactor.iterate(Duration::ZERO).unwrap();
}
