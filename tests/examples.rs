//! The examples, run end to end as a user would run them (bounded in time).

mod common;

use common::{Supervised, example, run_bounded, start_logging_example};

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::process::Stdio;
use std::time::Duration;

#[test]
fn timers_example_prints_its_story_in_order() {
    let mut cmd = example("timers");
    cmd.args(["--ticks", "3", "--interval-ms", "20"]);
    let out = run_bounded(cmd, Duration::from_secs(20));
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    // Strip the "[  ms] " timestamps, which vary.
    let lines: Vec<&str> = stdout
        .lines()
        .map(|l| l.split_once("] ").map_or(l, |(_, rest)| rest))
        .collect();
    assert_eq!(lines.len(), 7, "{stdout}");
    // A stalled machine may reorder independent events and skip intervals, never more.
    let ticks: Vec<&str> = lines
        .iter()
        .filter(|l| l.starts_with("tick "))
        .copied()
        .collect();
    for (i, tick) in ticks.iter().enumerate() {
        assert!(
            tick.starts_with(&format!("tick {} (intervals since last: ", i + 1)),
            "{stdout}"
        );
    }
    assert_eq!(ticks.len(), 3, "{stdout}");
    let pos = |needle: &str| {
        lines
            .iter()
            .position(|l| *l == needle)
            .unwrap_or_else(|| panic!("{needle:?} missing:\n{stdout}"))
    };
    assert_eq!(
        pos("looping call stopped"),
        lines.iter().position(|l| l.starts_with("tick 3")).unwrap() + 1
    );
    pos("defer_later answered 42");
    pos("a Deferred nobody fired timed out after 60ms");
    // Two scheduled ticks (the first runs at start), defer_later, the timeout.
    assert_eq!(pos("nothing left to do: 4 calls ran"), 6);
}

#[test]
fn timers_example_rejects_bad_flags() {
    let mut cmd = example("timers");
    cmd.arg("--ticks").arg("many");
    let out = run_bounded(cmd, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--ticks"));
}

/// Starts `echo_server` and returns it, its port, and its collected stderr.
fn start_server(args: &[&str]) -> (Supervised, u16, std::thread::JoinHandle<String>) {
    start_logging_example("echo_server", args)
}

fn client() -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    socket
}

#[test]
fn echo_server_echoes_prints_and_stops_cleanly_on_sigterm() {
    let (mut child, port, stderr) = start_server(&["--port", "0", "--seconds", "30"]);
    let socket = client();
    socket.send_to(b"hello\n", ("127.0.0.1", port)).unwrap();
    let mut buf = [0u8; 64];
    let (n, from) = socket.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello\n");
    assert_eq!(from.port(), port);
    let status = child.terminate(Duration::from_secs(10)).unwrap();
    assert!(status.success(), "{status:?}");
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.child().stdout.take().unwrap(), &mut stdout).unwrap();
    let me = socket.local_addr().unwrap();
    assert_eq!(
        stdout,
        format!("received b\"hello\\n\" from 127.0.0.1:{}\n", me.port())
    );
    let stderr = stderr.join().unwrap();
    assert!(
        stderr.contains("Received SIGTERM, shutting down."),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("(UDP Port {port} Closed)")),
        "{stderr}"
    );
    assert!(stderr.contains("reactor stopped"), "{stderr}");
}

#[test]
fn echo_server_quiet_and_bounded_in_time() {
    let (mut child, port, _stderr) = start_server(&["--port", "0", "--quiet", "--seconds", "0.3"]);
    let socket = client();
    socket.send_to(b"shh", ("127.0.0.1", port)).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(socket.recv(&mut buf).unwrap(), 3);
    assert!(child.wait_bounded(Duration::from_secs(10)).success());
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.child().stdout.take().unwrap(), &mut stdout).unwrap();
    assert_eq!(stdout, "");
}

#[test]
fn echo_server_sets_the_receive_buffer_asked_for_and_says_what_the_kernel_gave() {
    let asked = 1 << 20;
    let args = [
        "--port",
        "0",
        "--quiet",
        "--seconds",
        "0.3",
        "--recv-buffer",
        "1048576",
    ];
    let (mut child, port, stderr) = start_server(&args);
    let socket = client();
    socket.send_to(b"big", ("127.0.0.1", port)).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(socket.recv(&mut buf).unwrap(), 3);
    assert!(child.wait_bounded(Duration::from_secs(10)).success());
    let cap: usize = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
        .map(|s| s.trim().parse().unwrap())
        .unwrap_or(asked);
    let expected = 2 * asked.min(cap); // Linux doubles it, after capping it at rmem_max
    let stderr = stderr.join().unwrap();
    assert!(
        stderr.contains(&format!("receive buffer: {expected} bytes (asked {asked};")),
        "{stderr}"
    );
}

#[test]
fn helloer_hears_no_one_on_a_closed_port() {
    let closed = client().local_addr().unwrap().port(); // bound, then dropped: closed
    let mut cmd = example("helloer");
    cmd.args(["--port", &closed.to_string(), "--wait", "5"]);
    let out = run_bounded(cmd, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("now we can only send to host 127.0.0.1 port {closed}\nNo one listening\n")
    );
}

#[test]
fn helloer_prints_the_first_reply() {
    let server = client();
    let port = server.local_addr().unwrap().port();
    let answer = std::thread::spawn(move || {
        let mut buf = [0u8; 16];
        let (n, from) = server.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"hello");
        server.send_to(b"hi there", from).unwrap();
    });
    let mut cmd = example("helloer");
    cmd.args(["--port", &port.to_string()]);
    let out = run_bounded(cmd, Duration::from_secs(20));
    answer.join().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!(
            "now we can only send to host 127.0.0.1 port {port}\nreceived b\"hi there\" from 127.0.0.1:{port}\n"
        )
    );
}

#[test]
fn resolve_example_prints_the_address_or_fails() {
    let mut cmd = example("resolve");
    cmd.arg("localhost");
    let out = run_bounded(cmd, Duration::from_secs(30));
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "IP of 'localhost' is 127.0.0.1\n"
    );
    let mut cmd = example("resolve");
    cmd.arg("no-such-host.invalid");
    let out = run_bounded(cmd, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .starts_with("DNS lookup failed for \"no-such-host.invalid\"")
    );
}

#[test]
fn multicast_examples_talk_over_the_loopback_interface() {
    let port = client().local_addr().unwrap().port().to_string();
    let mut server = Supervised::spawn(
        example("multicast_server")
            .args(["--port", &port, "--seconds", "20"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .unwrap();
    let mut stdout = BufReader::new(server.child().stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap(); // it has joined once this is printed
    assert_eq!(first, "Started Listening\n");
    let mut cmd = example("multicast_client");
    cmd.args(["--port", &port, "--wait", "1"]);
    let out = run_bounded(cmd, Duration::from_secs(20));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "Received: b\"data\"\n"
    );
    server.kill().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert_eq!(rest, "Server Received: b\"UniqueID\"\n");
}

// ---- echo_client_async: the port of Twisted's async echo client -----------------------------

fn echo_client_async(port: u16, args: &[&str]) -> (Option<i32>, String) {
    let mut cmd = example("echo_client_async");
    cmd.args(["--port", &port.to_string()]).args(args);
    let out = run_bounded(cmd, Duration::from_secs(20));
    (out.status.code(), String::from_utf8(out.stdout).unwrap())
}

#[test]
fn echo_client_async_sends_every_line_to_the_echo_server_example() {
    let (mut server, port, _stderr) = start_server(&["--port", "0", "--quiet", "--seconds", "30"]);
    let (code, out) = echo_client_async(port, &["--count", "4"]);
    server.kill().unwrap();
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        out,
        "line 0: echoed line 0\nline 1: echoed line 1\nline 2: echoed line 2\n\
         line 3: echoed line 3\n4 of 4 lines echoed\n"
    );
}

#[test]
fn echo_client_async_retries_a_line_whose_echo_never_came() {
    // A server that ignores the first datagram and echoes the rest.
    let server = client();
    let port = server.local_addr().unwrap().port();
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        let (n, _) = server.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"line 0");
        for _ in 0..2 {
            let (n, from) = server.recv_from(&mut buf).unwrap();
            server.send_to(&buf[..n], from).unwrap();
        }
    });
    let (code, out) = echo_client_async(port, &["--count", "2", "--timeout", "0.3"]);
    echo.join().unwrap();
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        out,
        "line 0: no echo (try 1 of 3)\nline 0: echoed line 0\nline 1: echoed line 1\n\
         2 of 2 lines echoed\n"
    );
}

#[test]
fn echo_client_async_gives_up_on_silence_and_on_refusals_with_exit_code_1() {
    let silent = client(); // bound, never answers
    let port = silent.local_addr().unwrap().port();
    let (code, out) =
        echo_client_async(port, &["--count", "1", "--timeout", "0.1", "--tries", "2"]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(
        out,
        "line 0: no echo (try 1 of 2)\nline 0: no echo (try 2 of 2)\n0 of 1 lines echoed\n"
    );
    drop(silent);

    let closed = client().local_addr().unwrap().port(); // bound, then dropped: closed
    let (code, out) = echo_client_async(
        closed,
        &["--count", "1", "--timeout", "0.1", "--tries", "2"],
    );
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(
        out,
        "line 0: refused (try 1 of 2)\nline 0: refused (try 2 of 2)\n0 of 1 lines echoed\n"
    );
}

// ---- embed_poll: the reactor inside a plain poll(2) loop -------------------------------------

#[test]
fn embed_poll_echoes_each_line_while_input_is_still_open_then_exits_at_its_end() {
    use std::io::Write;
    let (mut server, port, _stderr) = start_server(&["--port", "0", "--quiet", "--seconds", "30"]);
    let mut client = Supervised::spawn(
        example("embed_poll")
            .args(["--port", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .unwrap();
    let mut input = client.child().stdin.take().unwrap();
    let mut output = BufReader::new(client.child().stdout.take().unwrap());
    for line in ["one", "two words", ""] {
        // Each echo comes back while the input is still open: the poll loop serves both.
        writeln!(input, "{line}").unwrap();
        let mut echoed = String::new();
        output.read_line(&mut echoed).unwrap();
        assert_eq!(echoed, format!("echo: {line}\n"));
    }
    input.write_all(b"last, no newline").unwrap(); // never a whole line: never sent
    drop(input); // end of input
    let status = client.wait_bounded(Duration::from_secs(10));
    server.kill().unwrap();
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut output, &mut rest).unwrap();
    assert_eq!(rest, "");
}

#[test]
fn embed_poll_exits_1_when_no_one_echoes() {
    let closed = client().local_addr().unwrap().port(); // bound, then dropped: closed
    let mut cmd = example("embed_poll");
    cmd.args(["--port", &closed.to_string(), "--wait", "0.2"])
        .stdin(Stdio::piped());
    let mut child = Supervised::spawn(cmd.stdout(Stdio::piped()).stderr(Stdio::piped())).unwrap();
    {
        use std::io::Write;
        let mut input = child.child().stdin.take().unwrap();
        writeln!(input, "anyone?").unwrap();
    }
    let out = child.collect(Duration::from_secs(10)).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "");
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "no echo server there\n1 echo(es) never came\n"
    );
}

#[test]
fn dns_lookup_asks_the_dns_server_example_and_prints_its_records() {
    let (dir, hosts) = common::dns_hosts_file("dns-example");
    let (mut server, port, _log) = start_logging_example(
        "dns_server",
        &[
            "--port",
            "0",
            "--hosts",
            hosts.to_str().unwrap(),
            "--seconds",
            "30",
        ],
    );
    let at = format!("127.0.0.1:{port}");
    let lookup = |args: &[&str]| {
        let mut cmd = example("dns_lookup");
        cmd.args(args).args(["--server", &at, "--timeout", "5"]);
        run_bounded(cmd, Duration::from_secs(20))
    };
    let a = lookup(&["example.test"]);
    assert!(a.status.success(), "{a:?}");
    assert_eq!(
        String::from_utf8_lossy(&a.stdout),
        "example.test. 300 IN A 192.0.2.7\n"
    );
    let aaaa = lookup(&["example.test", "--type", "aaaa"]);
    assert_eq!(
        String::from_utf8_lossy(&aaaa.stdout),
        "example.test. 300 IN AAAA 2001:db8::7\n"
    );
    let missing = lookup(&["nowhere.test"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("domain name not found: nowhere.test"),
        "{missing:?}"
    );
    server.kill().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts a guide stage that prints `echo on PORT [and PORT]` first; returns it and the ports.
fn start_stage(name: &str, args: &[&str]) -> (Supervised, Vec<u16>) {
    let mut child = Supervised::spawn(
        example(name)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .expect("start the stage");
    let mut out = BufReader::new(child.child().stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let ports = line
        .trim()
        .strip_prefix("echo on ")
        .unwrap_or_else(|| panic!("{name} said {line:?}"))
        .split(" and ")
        .map(|p| p.parse().unwrap())
        .collect();
    // Keep reading what it prints, so a full pipe never stops it.
    std::thread::spawn(move || for _ in out.lines() {});
    (child, ports)
}

/// Sends `word` to each port and checks the echo.
fn echoes_on(ports: &[u16], word: &[u8]) {
    let socket = client();
    for &port in ports {
        socket.send_to(word, ("127.0.0.1", port)).unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = socket.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from.port()), (word, port));
    }
}

#[test]
fn every_stage_of_the_guide_echoes_and_ends_on_its_own() {
    let stages: [(&str, &[&str]); 5] = [
        ("loop_1_blocking", &["--port", "0", "--count", "1"]),
        ("loop_2_poll", &["--port", "0", "--ticks", "3"]),
        ("loop_3_mio", &["--port", "0", "--ticks", "3"]),
        ("loop_4_reactor", &["--port", "0", "--seconds", "1"]),
        ("loop_5_gyre", &["--port", "0", "--seconds", "1"]),
    ];
    for (name, args) in stages {
        if name == "loop_5_gyre" {
            let (mut child, port, _log) = start_logging_example(name, args);
            echoes_on(&[port], name.as_bytes());
            assert!(
                child.wait_bounded(Duration::from_secs(10)).success(),
                "{name}"
            );
            continue;
        }
        let (mut child, ports) = start_stage(name, args);
        echoes_on(&ports, name.as_bytes());
        assert!(
            child.wait_bounded(Duration::from_secs(10)).success(),
            "{name}"
        );
    }
}

#[test]
fn every_example_says_what_it_does_and_its_usage_on_help() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".rs").map(str::to_string)
        })
        .collect();
    names.sort();
    assert!(names.len() >= 16, "{names:?}");
    for name in names {
        let mut cmd = example(&name);
        cmd.arg("--help");
        let out = run_bounded(cmd, Duration::from_secs(20));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{name} --help: {out:?}");
        let mut lines = stdout.lines();
        let about = lines.next().unwrap_or_default();
        assert!(about.len() > 20 && about.ends_with('.'), "{name}: {stdout}");
        assert!(
            stdout.contains(&format!("usage: {name}")),
            "{name}: {stdout}"
        );
    }
}

#[test]
fn statsd_aggregates_counters_and_flushes_them_every_second() {
    let (mut child, port, _log) =
        start_logging_example("statsd", &["--port", "0", "--seconds", "2.5"]);
    let socket = client();
    for datagram in ["a:1|c\nb:2|c", "a:3|c", "not a metric"] {
        socket
            .send_to(datagram.as_bytes(), ("127.0.0.1", port))
            .unwrap();
    }
    assert!(child.wait_bounded(Duration::from_secs(10)).success());
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.child().stdout.take().unwrap(), &mut stdout).unwrap();
    assert_eq!(
        stdout,
        "flush 1: a=4 b=2 (bad lines: 1)\nflush 2:  (bad lines: 0)\n"
    );
}
