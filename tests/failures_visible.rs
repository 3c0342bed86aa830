//! With no logger installed, failures still reach stderr (rate-limited): a protocol whose
//! callback fails, and a Deferred that fails with no one to handle it. The test runs its inner
//! half in a child process (this binary again), which installs no logger, and reads its stderr.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::time::Duration;

use common::{CAP, run_until};
use gyre::prelude::*;

/// Fails every datagram, as a protocol bug would.
struct Failing;

impl DatagramProtocol for Failing {
    fn datagram_received(&mut self, _: &mut Context<'_>, data: &[u8], _: SocketAddr) -> Outcome {
        Err(Failure::new(std::io::Error::other(format!(
            "cannot handle {:?}",
            String::from_utf8_lossy(data)
        ))))
    }
}

#[test]
fn failures_reach_stderr_without_a_logger_at_most_ten_a_second() {
    if std::env::var_os("GYRE_NO_LOGGER_CHILD").is_some() {
        return inner();
    }
    let me = std::env::current_exe().unwrap();
    let mut child = Command::new(me);
    child
        .args([
            "--exact",
            "failures_reach_stderr_without_a_logger_at_most_ten_a_second",
            "--nocapture",
        ])
        .env("GYRE_NO_LOGGER_CHILD", "1");
    let out = common::run_bounded(child, CAP);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let failed: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("datagram_received failed"))
        .collect();
    assert_eq!(
        failed.len(),
        11,
        "ten in the first second, one after: {stderr}"
    );
    assert!(
        failed[0].starts_with("[gyre::udp] Failing (UDP 127.0.0.1:")
            && failed[0].ends_with("datagram_received failed: cannot handle \"0\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("[gyre::udp] (20 more failures not shown)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("[gyre::defer] Unhandled error in Deferred: nobody handled this"),
        "{stderr}"
    );
}

/// The child: 30 failures at once, a pause past the second, one more; then a Deferred that
/// fails unhandled.
fn inner() {
    let mut reactor = common::reactor();
    let port = reactor
        .listen_udp_with(common::loopback(), Failing)
        .unwrap();
    let to = port.get_host().unwrap();
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let send = |reactor: &mut Reactor, words: std::ops::Range<u32>| {
        let target = u64::from(words.end);
        for i in words {
            sender.send_to(i.to_string().as_bytes(), to).unwrap();
        }
        run_until(reactor, CAP, || {
            port.stats().unwrap().datagrams_in >= target
        });
    };
    send(&mut reactor, 0..30);
    std::thread::sleep(Duration::from_millis(1100));
    send(&mut reactor, 30..31);
    let unhandled = Deferred::<()>::new();
    unhandled
        .errback(Failure::new(std::io::Error::other("nobody handled this")))
        .unwrap();
    drop(unhandled);
}
