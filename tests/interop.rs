//! gyre against real Twisted (tests/interop/*.py, Twisted pinned in requirements.txt), each
//! case both ways: echo (every size, IPv4 and IPv6), connected UDP with refusals, the howto's
//! multicast exchange on the loopback interface, a LoopingCall stream with every datagram
//! accounted for, and the async echo client (`task.react`, `DeferredQueue`, `addTimeout`,
//! `deferLater`) printing the same lines in both languages.
//!
//! The first test to need Twisted installs it into `target/interop-venv` (`python3 -m venv` and
//! `pip install -r`). Under CI (`CI` set) a missing Python or Twisted fails the test; elsewhere
//! the tests say why and skip.

mod common;

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::sync::OnceLock;
use std::time::Duration;

use common::{Supervised, dns_hosts_file, example, reactor, run_until};
use gyre::prelude::*;
use gyre::udp::ListenOptions;

const TWISTED: &str = "Twisted==26.10.0";

/// The venv's python, installing Twisted first if needed; `None` (skip) outside CI on failure.
fn python() -> Option<&'static Path> {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match PYTHON.get_or_init(install_twisted) {
        Ok(p) => Some(p),
        Err(why) if std::env::var_os("CI").is_some() => panic!("interop needs Twisted: {why}"),
        Err(why) => {
            eprintln!("SKIP: {why}");
            None
        }
    }
}

fn install_twisted() -> Result<PathBuf, String> {
    let mut venv = std::env::current_exe().map_err(|e| e.to_string())?;
    venv.pop(); // deps
    venv.pop(); // profile
    venv.pop(); // target
    venv.push("interop-venv");
    let python = venv.join("bin/python");
    let has_twisted = |py: &Path| {
        Command::new(py)
            .args([
                "-c",
                "import twisted; print('Twisted==' + twisted.__version__)",
            ])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == TWISTED)
    };
    if has_twisted(&python) {
        return Ok(python);
    }
    let run = |cmd: &mut Command, what: &str| -> Result<(), String> {
        let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{what} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    };
    run(
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
        "python3 -m venv",
    )?;
    let requirements = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/requirements.txt");
    run(
        Command::new(venv.join("bin/pip"))
            .args(["install", "-q", "-r"])
            .arg(&requirements),
        "pip install Twisted",
    )?;
    if has_twisted(&python) {
        Ok(python)
    } else {
        Err(format!("{TWISTED} did not install"))
    }
}

/// A running Twisted script, with its stdout read line by line.
struct Script {
    child: Supervised,
    out: BufReader<std::process::ChildStdout>,
}

impl Script {
    fn start(python: &Path, name: &str, args: &[&str]) -> Script {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/interop")
            .join(name);
        let mut child = Supervised::spawn(
            Command::new(python)
                .arg(path)
                .args(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        )
        .expect("start a Twisted script");
        let out = BufReader::new(child.child().stdout.take().unwrap());
        Script { child, out }
    }

    /// The next stdout line (empty at the end).
    fn line(&mut self) -> String {
        let mut line = String::new();
        self.out.read_line(&mut line).unwrap();
        line.trim_end().to_string()
    }

    /// Waits for `READY <port>`.
    fn ready_port(&mut self) -> u16 {
        let line = self.line();
        match line.strip_prefix("READY ") {
            Some(port) => port.parse().unwrap(),
            None => panic!("expected READY, got {line:?}: {}", self.stderr()),
        }
    }

    /// Waits (bounded) for the script to end; returns its exit code and remaining stdout.
    fn finish(mut self, cap: Duration) -> (Option<i32>, String) {
        let status = self.child.wait_or_kill(cap).unwrap();
        let mut rest = String::new();
        self.out.read_to_string(&mut rest).unwrap();
        let code = status.and_then(|s| s.code());
        if code != Some(0) {
            eprintln!("script stderr: {}", self.stderr());
        }
        (code, rest)
    }

    fn stderr(&mut self) -> String {
        let mut err = String::new();
        if let Some(mut e) = self.child.child().stderr.take() {
            let _ = self.child.kill();
            let _ = e.read_to_string(&mut err);
        }
        err
    }
}

/// Starts a gyre example that logs `… starting on PORT`, and returns it with that port.
fn gyre_server(name: &str, args: &[&str]) -> (Supervised, u16) {
    let (child, port, _stderr) = common::start_logging_example(name, args);
    (child, port)
}

fn stop(mut child: Supervised) -> String {
    let _ = child.terminate(Duration::from_secs(10));
    let mut out = String::new();
    child
        .child()
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    out
}

/// The echo test's plan, as `echo_client.py` builds it: 1,000 sizes over 0..=1472, then 65,507.
fn plan() -> Vec<usize> {
    let mut sizes: Vec<usize> = (0..1000).map(|i| i * 1472 / 999).collect();
    sizes.push(65_507);
    sizes
}

fn payload(i: usize, size: usize) -> Vec<u8> {
    (0..size).map(|j| ((i * 7 + j) % 256) as u8).collect()
}

// ---- echo -----------------------------------------------------------------------------------

fn twisted_client_against_gyre_echo(host: &str) {
    let Some(py) = python() else { return };
    let (server, port) = gyre_server(
        "echo_server",
        &["--port", "0", "--quiet", "--interface", host],
    );
    let client = Script::start(
        py,
        "echo_client.py",
        &[
            "--host",
            host,
            "--port",
            &port.to_string(),
            "--interface",
            host,
        ],
    );
    let (code, out) = client.finish(Duration::from_secs(120));
    stop(server);
    assert_eq!((code, out.as_str()), (Some(0), "OK 1001\n"));
}

#[test]
fn twisted_echo_client_to_gyre_echo_server_ipv4() {
    twisted_client_against_gyre_echo("127.0.0.1");
}

#[test]
fn twisted_echo_client_to_gyre_echo_server_ipv6() {
    twisted_client_against_gyre_echo("::1");
}

/// gyre's side of the echo test: one datagram in flight, each echo checked byte for byte.
struct PingPong {
    server: SocketAddr,
    plan: Vec<usize>,
    next: Rc<Cell<usize>>,
    error: Rc<RefCell<Option<String>>>,
}

impl DatagramProtocol for PingPong {
    fn start_protocol(&mut self, cx: &mut Context<'_>) -> Outcome {
        cx.transport()
            .write_to(&payload(0, self.plan[0]), self.server)?;
        Ok(())
    }

    fn datagram_received(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
        from: SocketAddr,
    ) -> Outcome {
        let i = self.next.get();
        if data != payload(i, self.plan[i]).as_slice() || from != self.server {
            *self.error.borrow_mut() =
                Some(format!("datagram {i}: {} bytes from {from}", data.len()));
            return Ok(());
        }
        self.next.set(i + 1);
        if i + 1 < self.plan.len() {
            cx.transport()
                .write_to(&payload(i + 1, self.plan[i + 1]), self.server)?;
        }
        Ok(())
    }
}

fn gyre_client_against_twisted_echo(host: &str) {
    let Some(py) = python() else { return };
    let mut server = Script::start(py, "echo_server.py", &["--interface", host]);
    let port = server.ready_port();
    let mut reactor = reactor();
    let (next, error) = (Rc::new(Cell::new(0)), Rc::new(RefCell::new(None)));
    let client = PingPong {
        server: SocketAddr::new(host.parse().unwrap(), port),
        plan: plan(),
        next: next.clone(),
        error: error.clone(),
    };
    reactor
        .listen_udp_with(ListenOptions::new(0).interface(host), client)
        .unwrap();
    run_until(&mut reactor, Duration::from_secs(60), || {
        next.get() == 1001 || error.borrow().is_some()
    });
    drop(server.stderr());
    assert_eq!(*error.borrow(), None);
    assert_eq!(next.get(), 1001);
}

#[test]
fn gyre_echo_client_to_twisted_echo_server_ipv4() {
    gyre_client_against_twisted_echo("127.0.0.1");
}

#[test]
fn gyre_echo_client_to_twisted_echo_server_ipv6() {
    gyre_client_against_twisted_echo("::1");
}

// ---- connected UDP --------------------------------------------------------------------------

fn closed_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn twisted_helloer_against_gyre_echo_and_a_closed_port() {
    let Some(py) = python() else { return };
    let (server, port) = gyre_server("echo_server", &["--port", "0", "--quiet"]);
    let hello = Script::start(py, "helloer.py", &["--port", &port.to_string()]);
    let (code, out) = hello.finish(Duration::from_secs(30));
    stop(server);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        out,
        format!(
            "now we can only send to host 127.0.0.1 port {port}\nreceived b'hello' from 127.0.0.1\n"
        )
    );

    let closed = closed_port();
    let (code, out) = Script::start(py, "helloer.py", &["--port", &closed.to_string()])
        .finish(Duration::from_secs(30));
    assert_eq!(code, Some(1));
    assert_eq!(
        out,
        format!("now we can only send to host 127.0.0.1 port {closed}\nNo one listening\n")
    );
}

#[test]
fn gyre_helloer_against_twisted_echo_and_a_closed_port() {
    let Some(py) = python() else { return };
    let mut server = Script::start(py, "echo_server.py", &[]);
    let port = server.ready_port();
    let out = common::run_bounded(
        example("helloer").args(["--port", &port.to_string()]),
        Duration::from_secs(30),
    );
    drop(server.stderr());
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!(
            "now we can only send to host 127.0.0.1 port {port}\nreceived b\"hello\" from 127.0.0.1:{port}\n"
        )
    );
    let closed = closed_port();
    let out = common::run_bounded(
        example("helloer").args(["--port", &closed.to_string()]),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("now we can only send to host 127.0.0.1 port {closed}\nNo one listening\n")
    );
}

// ---- the async echo client (task.react, DeferredQueue, addTimeout, deferLater) ---------------

const ASYNC_ECHOED: &str =
    "line 0: echoed line 0\nline 1: echoed line 1\nline 2: echoed line 2\n3 of 3 lines echoed\n";
/// One line, two quick tries: to a closed port, each refused.
const REFUSED: &[&str] = &["--count", "1", "--timeout", "0.1", "--tries", "2"];
const ASYNC_REFUSED: &str =
    "line 0: refused (try 1 of 2)\nline 0: refused (try 2 of 2)\n0 of 1 lines echoed\n";

#[test]
fn twisted_async_echo_client_to_gyre_echo_server_and_a_closed_port() {
    let Some(py) = python() else { return };
    let (server, port) = gyre_server("echo_server", &["--port", "0", "--quiet"]);
    let client = Script::start(py, "echo_client_async.py", &["--port", &port.to_string()]);
    let (code, out) = client.finish(Duration::from_secs(30));
    stop(server);
    assert_eq!((code, out.as_str()), (Some(0), ASYNC_ECHOED));

    let closed = closed_port().to_string();
    let args = [["--port", closed.as_str()].as_slice(), REFUSED].concat();
    let (code, out) =
        Script::start(py, "echo_client_async.py", &args).finish(Duration::from_secs(30));
    assert_eq!((code, out.as_str()), (Some(1), ASYNC_REFUSED));
}

#[test]
fn gyre_async_echo_client_to_twisted_echo_server_and_a_closed_port() {
    let Some(py) = python() else { return };
    let mut server = Script::start(py, "echo_server.py", &[]);
    let port = server.ready_port();
    let mut client = example("echo_client_async");
    client.args(["--port", &port.to_string()]);
    let out = common::run_bounded(client, Duration::from_secs(30));
    drop(server.stderr());
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), ASYNC_ECHOED);

    let closed = closed_port().to_string();
    let args = [["--port", closed.as_str()].as_slice(), REFUSED].concat();
    let mut client = example("echo_client_async");
    client.args(args);
    let out = common::run_bounded(client, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), ASYNC_REFUSED);
}

// ---- multicast ------------------------------------------------------------------------------

#[test]
fn twisted_multicast_client_to_gyre_multicast_server() {
    let Some(py) = python() else { return };
    let port = closed_port().to_string();
    let mut server = Supervised::spawn(
        example("multicast_server")
            .args(["--port", &port, "--seconds", "30"])
            .stdout(Stdio::piped()),
    )
    .unwrap();
    let mut server_out = BufReader::new(server.child().stdout.take().unwrap());
    let mut line = String::new();
    server_out.read_line(&mut line).unwrap();
    assert_eq!(line, "Started Listening\n");
    let (code, out) = Script::start(
        py,
        "multicast_client.py",
        &["--port", &port, "--wait", "1.5"],
    )
    .finish(Duration::from_secs(30));
    server.kill().unwrap();
    server_out.read_to_string(&mut line).unwrap();
    assert_eq!((code, out.as_str()), (Some(0), "Received: b'data'\n"));
    assert_eq!(line, "Started Listening\nServer Received: b\"UniqueID\"\n");
}

#[test]
fn gyre_multicast_client_to_twisted_multicast_server() {
    let Some(py) = python() else { return };
    let port = closed_port().to_string();
    let mut server = Script::start(py, "multicast_server.py", &["--port", &port]);
    server.ready_port();
    let out = common::run_bounded(
        example("multicast_client").args(["--port", &port, "--wait", "1.5"]),
        Duration::from_secs(30),
    );
    assert_eq!(server.line(), "Server Received: b'UniqueID'");
    drop(server.stderr());
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "Received: b\"data\"\n"
    );
}

// ---- a LoopingCall stream -------------------------------------------------------------------

/// Counts numbered datagrams until `END`.
struct Counter {
    seen: Rc<RefCell<BTreeSet<u64>>>,
    count: Rc<Cell<u64>>,
    ended: Rc<Cell<bool>>,
}

impl DatagramProtocol for Counter {
    fn datagram_received(&mut self, _: &mut Context<'_>, data: &[u8], _: SocketAddr) -> Outcome {
        if data == b"END" {
            self.ended.set(true);
            return Ok(());
        }
        self.count.set(self.count.get() + 1);
        let n: u64 = std::str::from_utf8(data)
            .map_err(Failure::new)?
            .parse()
            .map_err(Failure::new)?;
        self.seen.borrow_mut().insert(n);
        Ok(())
    }
}

#[test]
fn twisted_looping_call_sender_to_gyre_receiver_loses_nothing() {
    let Some(py) = python() else { return };
    let mut reactor = reactor();
    let (seen, count, ended) = (
        Rc::default(),
        Rc::new(Cell::new(0)),
        Rc::new(Cell::new(false)),
    );
    let counter = Counter {
        seen: Rc::clone(&seen),
        count: count.clone(),
        ended: ended.clone(),
    };
    let port = reactor
        .listen_udp_with(common::loopback(), counter)
        .unwrap()
        .get_host()
        .unwrap()
        .port();
    let sender = Script::start(
        py,
        "looping_sender.py",
        &["--port", &port.to_string(), "--for", "2"],
    );
    run_until(&mut reactor, Duration::from_secs(30), || ended.get());
    let (code, out) = sender.finish(Duration::from_secs(10));
    assert_eq!(code, Some(0));
    let sent: u64 = out.trim().strip_prefix("SENT ").unwrap().parse().unwrap();
    assert!(sent > 100, "a 2-second loop every 5 ms sent only {sent}");
    assert_eq!(count.get(), sent);
    let seen: &RefCell<BTreeSet<u64>> = &seen;
    assert_eq!(*seen.borrow(), (0..sent).collect::<BTreeSet<_>>());
}

#[test]
fn gyre_looping_call_sender_to_twisted_receiver_loses_nothing() {
    let Some(py) = python() else { return };
    let mut receiver = Script::start(py, "counting_receiver.py", &[]);
    let port = receiver.ready_port();
    let mut reactor = reactor();
    let (tx, _) = common::Recorder::new();
    let transport = reactor.listen_udp_with(common::loopback(), tx).unwrap();
    let to: SocketAddr = ("127.0.0.1".parse::<std::net::IpAddr>().unwrap(), port).into();
    let sent = Rc::new(Cell::new(0u64));
    let (t, s) = (transport.clone(), sent.clone());
    let lc = LoopingCall::new(reactor.timers(), move || {
        t.write_to(format!("{}", s.get()).as_bytes(), to)
            .map_err(Failure::new)?;
        s.set(s.get() + 1);
        Ok::<(), Failure>(())
    });
    lc.start(Duration::from_millis(5), true).unwrap();
    let done = Rc::new(Cell::new(false));
    let (d, end_to) = (done.clone(), transport.clone());
    reactor.call_later(Duration::from_secs(2), move |_| {
        lc.stop().unwrap();
        end_to.write_to(b"END", to).unwrap();
        d.set(true);
    });
    run_until(&mut reactor, Duration::from_secs(30), || done.get());
    let (code, out) = receiver.finish(Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert!(sent.get() > 100, "only {} sent", sent.get());
    assert_eq!(out, format!("GOT {} MISSING 0\n", sent.get()));
}

// ---- DNS ------------------------------------------------------------------------------------

#[test]
fn twisted_names_client_asks_gyre_dns_server() {
    let Some(py) = python() else { return };
    let (dir, hosts) = dns_hosts_file("dns-interop");
    let (server, port) = gyre_server(
        "dns_server",
        &[
            "--port",
            "0",
            "--hosts",
            hosts.to_str().unwrap(),
            "--seconds",
            "60",
        ],
    );
    let client = Script::start(py, "dns_lookup.py", &["--port", &port.to_string()]);
    let (code, out) = client.finish(Duration::from_secs(60));
    stop(server);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        (code, out.as_str()),
        (Some(0), "A 192.0.2.7\nAAAA 2001:db8::7\nDNSNameError\n")
    );
}

#[test]
fn gyre_dns_client_asks_twisted_names_server() {
    use gyre::protocols::dns::{DnsClient, DnsError, RecordType, addresses};
    let Some(py) = python() else { return };
    let (dir, hosts) = dns_hosts_file("dns-interop2");
    let mut twisted = Script::start(
        py,
        "dns_server.py",
        &[
            "--port",
            "0",
            "--hosts",
            hosts.to_str().unwrap(),
            "--seconds",
            "60",
        ],
    );
    let port = twisted.ready_port();
    let mut reactor = reactor();
    let client = DnsClient::new(vec![SocketAddr::from(([127, 0, 0, 1], port))]);
    let mut ask = |name: &str, rtype| {
        let answer = client.query(&mut reactor, name, rtype);
        run_until(&mut reactor, Duration::from_secs(30), || answer.is_called());
        answer.take_result().unwrap()
    };
    let a = ask("example.test", RecordType::A).unwrap();
    let aaaa = ask("example.test", RecordType::AAAA).unwrap();
    let missing = ask("nowhere.test", RecordType::A).unwrap_err();
    let _ = twisted.child.kill();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        addresses(&a),
        vec!["192.0.2.7".parse::<std::net::IpAddr>().unwrap()]
    );
    assert_eq!(
        addresses(&aaaa),
        vec!["2001:db8::7".parse::<std::net::IpAddr>().unwrap()]
    );
    assert_eq!(
        missing.downcast_ref::<DnsError>(),
        Some(&DnsError::NameError {
            name: "nowhere.test".into()
        })
    );
}
