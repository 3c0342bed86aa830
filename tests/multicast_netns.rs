//! Multicast between two hosts: two network namespaces made by this test, joined by a veth
//! pair. The examples run in them as server and client, IPv4 and IPv6. Nothing here can reach
//! the machine's real network: the namespaces have no other interface and no route out.
//!
//! Needs root and `ip` (iproute2); says why and skips otherwise. CI runs as root.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{Supervised, example};

/// Two namespaces and a veth pair between them, removed on drop (also when a test fails).
struct TwoHosts {
    a: String,
    b: String,
}

/// Why this machine cannot run the test, if it cannot.
fn cannot_run() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("not root: creating network namespaces needs root".into());
    }
    match Command::new("ip").arg("-V").output() {
        Ok(o) if o.status.success() => None,
        _ => Some("`ip` (iproute2) is not installed".into()),
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl TwoHosts {
    /// Hosts `a` (169.254.77.1, fd67:7972:65::1) and `b` (.2, ::2), link-local and private
    /// addresses that exist only inside the namespaces.
    fn new(tag: &str) -> Result<TwoHosts, String> {
        let id = std::process::id() % 100_000;
        let hosts = TwoHosts {
            a: format!("gyre-{tag}-a-{id}"),
            b: format!("gyre-{tag}-b-{id}"),
        };
        let (va, vb) = (format!("gy{tag}a{id}"), format!("gy{tag}b{id}"));
        ip(&["netns", "add", &hosts.a])?;
        ip(&["netns", "add", &hosts.b])?;
        ip(&["link", "add", &va, "type", "veth", "peer", "name", &vb])?;
        for (ns, dev, n) in [(&hosts.a, &va, "1"), (&hosts.b, &vb, "2")] {
            ip(&["link", "set", dev, "netns", ns])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            ip(&["-n", ns, "link", "set", dev, "name", "veth0"])?;
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("169.254.77.{n}/24"),
                "dev",
                "veth0",
            ])?;
            ip(&[
                "-n",
                ns,
                "-6",
                "addr",
                "add",
                &format!("fd67:7972:65::{n}/64"),
                "dev",
                "veth0",
                "nodad",
            ])?;
            ip(&["-n", ns, "link", "set", "veth0", "up"])?;
        }
        Ok(hosts)
    }

    /// Runs an example inside a namespace.
    fn spawn(&self, ns: &str, name: &str, args: &[&str]) -> Supervised {
        let program = example(name).get_program().to_owned();
        Supervised::spawn(
            Command::new("ip")
                .args(["netns", "exec", ns])
                .arg(program)
                .args(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        )
        .expect("spawn in a namespace")
    }
}

impl Drop for TwoHosts {
    fn drop(&mut self) {
        // Deleting a namespace deletes its end of the veth pair, and so the pair.
        let _ = ip(&["netns", "del", &self.a]);
        let _ = ip(&["netns", "del", &self.b]);
    }
}

fn finish(child: Supervised, cap: Duration) -> Output {
    child.collect(cap).unwrap_or_else(|e| panic!("{e}"))
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Server in `a`, clients in `b`: the reply crosses; with loopback mode on the client hears its
/// own datagram, with it off it does not, while the other host still does.
fn request_reply_across_hosts(tag: &str, group: &str, iface_a: &str, iface_b: &str) {
    if let Some(why) = cannot_run() {
        eprintln!("SKIP: {why}");
        return;
    }
    let hosts = TwoHosts::new(tag).unwrap_or_else(|e| panic!("cannot build the two hosts: {e}"));
    let mut server = hosts.spawn(
        &hosts.a,
        "multicast_server",
        &["--group", group, "--interface", iface_a, "--seconds", "30"],
    );
    // "Started Listening" is printed once the group is joined.
    let mut server_out = BufReader::new(server.child().stdout.take().unwrap());
    let mut served = String::new();
    server_out.read_line(&mut served).unwrap();
    assert_eq!(served, "Started Listening\n", "the server did not start");
    let common = [
        "--group",
        group,
        "--interface",
        iface_b,
        "--wait",
        "1.5",
        "--join",
    ];
    let on = finish(
        hosts.spawn(
            &hosts.b,
            "multicast_client",
            &[&common[..], &["--loopback", "on"]].concat(),
        ),
        Duration::from_secs(20),
    );
    let off = finish(
        hosts.spawn(
            &hosts.b,
            "multicast_client",
            &[&common[..], &["--loopback", "off"]].concat(),
        ),
        Duration::from_secs(20),
    );
    // A clean stop, as a user's Ctrl-C or a service manager would do it.
    server.signal(libc::SIGTERM).unwrap();
    let server = finish(server, Duration::from_secs(20));
    server_out.read_to_string(&mut served).unwrap();
    let (on_out, off_out) = (
        String::from_utf8_lossy(&on.stdout),
        String::from_utf8_lossy(&off.stdout),
    );
    assert!(on.status.success(), "client (loopback on): {}", text(&on));
    assert!(on_out.contains("Received: b\"data\""), "{}", text(&on));
    assert!(
        on_out.contains("Heard my own datagram"),
        "loopback on: {}",
        text(&on)
    );
    assert!(
        off.status.success(),
        "client (loopback off): {}",
        text(&off)
    );
    assert!(
        off_out.contains("Received: b\"data\""),
        "the other host still heard it: {}",
        text(&off)
    );
    assert!(
        !off_out.contains("Heard my own datagram"),
        "loopback off: {}",
        text(&off)
    );
    assert_eq!(
        served.matches("Server Received: b\"UniqueID\"").count(),
        2,
        "{served}{}",
        text(&server)
    );
    assert!(server.status.success(), "{}", text(&server));
}

/// Twisted: test_udp.py `MulticastTests.test_loopback` (its delivery half: with loopback mode
/// off the sender no longer hears itself; this needs a non-loopback interface, hence the
/// namespaces)
#[test]
fn ipv4_multicast_between_two_namespaces() {
    request_reply_across_hosts("4", "225.0.0.250", "169.254.77.1", "169.254.77.2");
}

/// Twisted: test_udp.py `MulticastTestsIPv6.test_loopback` (its delivery half, as above)
#[test]
fn ipv6_multicast_between_two_namespaces() {
    request_reply_across_hosts("6", "ff15::8005", "veth0", "veth0");
}
