//! Helpers shared by the integration tests: a recording protocol, bounded loop driving, and
//! the examples run as processes (under `supervise`).
#![allow(dead_code)] // each test file uses part of it

use std::cell::RefCell;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::rc::Rc;
use std::time::{Duration, Instant};

use gyre::prelude::*;
use gyre::udp::ListenOptions;

pub mod builder;
pub mod dnsmasq;
pub mod gso;
pub mod supervise;

pub use supervise::Supervised;

/// What a [`Recorder`] saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Start,
    Stop,
    Datagram(Vec<u8>, SocketAddr),
    Refused,
}

pub type Log = Rc<RefCell<Vec<Seen>>>;

/// A protocol that records every callback, and optionally echoes datagrams.
pub struct Recorder {
    pub log: Log,
    pub echo: bool,
}

impl Recorder {
    pub fn new() -> (Recorder, Log) {
        let log = Log::default();
        (
            Recorder {
                log: log.clone(),
                echo: false,
            },
            log,
        )
    }

    pub fn echoing() -> (Recorder, Log) {
        let log = Log::default();
        (
            Recorder {
                log: log.clone(),
                echo: true,
            },
            log,
        )
    }
}

impl DatagramProtocol for Recorder {
    fn start_protocol(&mut self, _: &mut Context<'_>) -> Outcome {
        self.log.borrow_mut().push(Seen::Start);
        Ok(())
    }

    fn stop_protocol(&mut self, _: &mut Context<'_>) -> Outcome {
        self.log.borrow_mut().push(Seen::Stop);
        Ok(())
    }

    fn datagram_received(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
        from: SocketAddr,
    ) -> Outcome {
        self.log
            .borrow_mut()
            .push(Seen::Datagram(data.to_vec(), from));
        if self.echo {
            cx.transport().write_to(data, from)?;
        }
        Ok(())
    }

    fn connection_refused(&mut self, _: &mut Context<'_>) -> Outcome {
        self.log.borrow_mut().push(Seen::Refused);
        Ok(())
    }
}

/// Options for a port on 127.0.0.1, port 0.
pub fn loopback() -> ListenOptions {
    ListenOptions::new(0).interface("127.0.0.1")
}

/// A reactor for tests: no signal handlers.
pub fn reactor() -> Reactor {
    let mut reactor = Reactor::new().expect("create a reactor");
    reactor.install_signal_handlers(false);
    reactor
}

/// Turns the loop until `done()` holds; panics after `cap`.
pub fn run_until(reactor: &mut Reactor, cap: Duration, mut done: impl FnMut() -> bool) {
    let give_up = Instant::now() + cap;
    while !done() {
        assert!(Instant::now() < give_up, "condition not met within {cap:?}");
        reactor
            .iterate(Duration::from_millis(10))
            .expect("a loop turn");
    }
}

/// The datagrams in a log.
pub fn datagrams(log: &Log) -> Vec<(Vec<u8>, SocketAddr)> {
    log.borrow()
        .iter()
        .filter_map(|s| match s {
            Seen::Datagram(d, a) => Some((d.clone(), *a)),
            _ => None,
        })
        .collect()
}

pub const CAP: Duration = Duration::from_secs(10);

/// Where cargo put an example's binary: `cargo test` builds every example next to the test
/// binaries (`target/<profile>/examples/`).
pub fn example(name: &str) -> Command {
    let mut path: PathBuf = std::env::current_exe().expect("test binary path");
    path.pop(); // deps/
    path.pop(); // <profile>/
    path.push("examples");
    path.push(name);
    assert!(
        path.exists(),
        "{} is not built; run the tests with `cargo test`",
        path.display()
    );
    Command::new(path)
}

/// Runs a command for at most `cap` ([`supervise::run`]), failing the test if it is still
/// running then.
pub fn run_bounded(mut command: impl std::borrow::BorrowMut<Command>, cap: Duration) -> Output {
    let command = command.borrow_mut();
    supervise::run(command, cap).unwrap_or_else(|e| panic!("{command:?}: {e}"))
}

/// Starts an example that logs `… starting on PORT` (with `RUST_LOG=info`) and returns it, the
/// port, and a thread collecting the rest of its stderr (everything it logged, once it ends).
pub fn start_logging_example(
    name: &str,
    args: &[&str],
) -> (Supervised, u16, std::thread::JoinHandle<String>) {
    use std::io::{BufRead, BufReader};
    let mut child = Supervised::spawn(
        example(name)
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped()),
    )
    .expect("spawn the example");
    let mut stderr = BufReader::new(child.child().stderr.take().unwrap());
    let mut seen = String::new();
    let port = loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            let status = child.wait_bounded(CAP);
            panic!("{name} ended early ({status:?}): {seen}");
        }
        seen.push_str(&line);
        if let Some((_, port)) = line.trim_end().rsplit_once("starting on ") {
            break port.parse().unwrap();
        }
    };
    let rest = std::thread::spawn(move || {
        let mut all = seen;
        for line in stderr.lines() {
            all.push_str(&line.unwrap());
            all.push('\n');
        }
        all
    });
    (child, port, rest)
}

/// The names the DNS tests serve: `example.test` with one IPv4 and one IPv6 address.
pub const DNS_HOSTS: &str = "192.0.2.7 example.test\n2001:db8::7 example.test\n";

/// A directory of the test's own holding a hosts file with [`DNS_HOSTS`]: (directory, file).
pub fn dns_hosts_file(tag: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("gyre-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let hosts = dir.join("hosts");
    std::fs::write(&hosts, DNS_HOSTS).unwrap();
    (dir, hosts)
}
