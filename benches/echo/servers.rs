//! The six echo servers, seen from the bench: which they are, how gyre's is built, and how
//! each is started as its own process on 127.0.0.1 and stopped again.

use std::error::Error;
use std::io::{self, BufRead, BufReader, Read};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gyre_benches::supervise::{self, Supervised};

use crate::config::Config;

/// Bound on `cargo build --release --example echo_server`.
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);
/// Lines of a server's stderr kept for error messages.
const TAIL_LINES: usize = 20;

/// One of the servers under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// gyre's `echo_server` example.
    Gyre,
    /// Blocking `recvmmsg`/`sendmmsg` loop, 32 a batch.
    Recvmmsg,
    /// The same receive, replies by UDP GSO: one `sendmsg` with `UDP_SEGMENT` per run of
    /// same-size datagrams from one sender (`sendmmsg` for the rest).
    RecvmmsgGso,
    /// Blocking `recv_from`/`send_to` loop.
    RecvFrom,
    /// Bare mio loop.
    Mio,
    /// Current-thread tokio runtime.
    Tokio,
}

impl ServerKind {
    /// Every server, in round order.
    pub const ALL: [ServerKind; 6] = [
        ServerKind::Gyre,
        ServerKind::Recvmmsg,
        ServerKind::RecvmmsgGso,
        ServerKind::RecvFrom,
        ServerKind::Mio,
        ServerKind::Tokio,
    ];

    /// Its name in tables, in `--serve NAME` and in `GYRE_BENCH_SERVERS`.
    pub fn name(self) -> &'static str {
        match self {
            ServerKind::Gyre => "gyre",
            ServerKind::Recvmmsg => "recvmmsg",
            ServerKind::RecvmmsgGso => "recvmmsg+gso",
            ServerKind::RecvFrom => "recv_from",
            ServerKind::Mio => "mio",
            ServerKind::Tokio => "tokio",
        }
    }

    /// The server called `name`.
    pub fn parse(name: &str) -> Option<ServerKind> {
        ServerKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Whether a server runs natively or under cachegrind (writing its counts to the path).
#[derive(Debug, Clone, Copy)]
pub enum Under<'a> {
    /// As is.
    Native,
    /// `valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=PATH`.
    Cachegrind(&'a Path),
}

/// Starts servers: knows where gyre's binary and the bench itself are.
#[derive(Debug)]
pub struct Launcher {
    gyre_exe: PathBuf,
    self_exe: PathBuf,
    server_core: Option<usize>,
    lifetime: Duration,
}

impl Launcher {
    /// Builds gyre's `echo_server` in release mode and finds both executables.
    pub fn prepare(config: &Config) -> Result<Launcher, Box<dyn Error>> {
        Ok(Launcher {
            gyre_exe: build_gyre_echo_server()?,
            self_exe: std::env::current_exe()?,
            server_core: config.server_core,
            lifetime: config.server_lifetime,
        })
    }

    /// Starts `kind` and waits (at most `startup`) until it reports its port.
    pub fn launch(
        &self,
        kind: ServerKind,
        under: Under<'_>,
        startup: Duration,
    ) -> Result<Server, Box<dyn Error>> {
        let mut command = self.command(kind, under);
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        supervise::die_with_parent(&mut command);
        if let Some(core) = self.server_core {
            pin_child(&mut command, core);
        }
        let mut process = Supervised::spawn(&mut command)?;
        let stderr = process.child().stderr.take().ok_or("no stderr pipe")?;
        let tail = Arc::new(Mutex::new(Vec::new()));
        let ports = watch_stderr(stderr, Arc::clone(&tail));
        match ports.recv_timeout(startup) {
            Ok(port) => Ok(Server {
                kind,
                process,
                port,
            }),
            Err(_) => Err(format!(
                "{} did not report its port within {startup:?}; its stderr:\n{}",
                kind.name(),
                tail.lock().map(|t| t.join("\n")).unwrap_or_default()
            )
            .into()),
        }
    }

    fn command(&self, kind: ServerKind, under: Under<'_>) -> Command {
        let (exe, args) = self.program(kind);
        let mut command = match under {
            Under::Native => Command::new(exe),
            Under::Cachegrind(out) => {
                let mut c = Command::new("valgrind");
                c.args(["--tool=cachegrind", "--cache-sim=no", "-q"])
                    .arg(format!("--cachegrind-out-file={}", out.display()))
                    .arg(exe);
                c
            }
        };
        command.args(args).env("RUST_LOG", "info");
        command
    }

    fn program(&self, kind: ServerKind) -> (&Path, Vec<String>) {
        let seconds = self.lifetime.as_secs().to_string();
        match kind {
            ServerKind::Gyre => {
                let args = ["--quiet", "--port", "0", "--interface", "127.0.0.1"];
                let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
                args.extend(["--seconds".into(), seconds]);
                (&self.gyre_exe, args)
            }
            _ => {
                let args = vec!["--serve".into(), kind.name().into(), seconds];
                (&self.self_exe, args)
            }
        }
    }
}

/// A running server; dropping it kills and reaps the process.
#[derive(Debug)]
pub struct Server {
    kind: ServerKind,
    process: Supervised,
    port: u16,
}

impl Server {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Where it listens: 127.0.0.1 and the port it reported.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// Fails if the process has already exited.
    pub fn check_alive(&mut self) -> Result<(), Box<dyn Error>> {
        match self.process.try_wait()? {
            None => Ok(()),
            Some(status) => Err(format!("{} exited early: {status}", self.kind.name()).into()),
        }
    }

    /// SIGTERM, up to `grace` to exit cleanly, then SIGKILL.
    pub fn stop(mut self, grace: Duration) -> std::io::Result<ExitStatus> {
        self.process.terminate(grace)
    }
}

/// Makes the command's process run only on `core`, from before it executes anything.
fn pin_child(command: &mut Command, core: usize) {
    let set = gyre_benches::util::cpu_set(core);
    // SAFETY: the closure runs between fork and exec; it makes one async-signal-safe system
    // call (sched_setaffinity) on a cpu_set_t built before the fork, and allocates nothing.
    unsafe {
        command.pre_exec(move || {
            let size = std::mem::size_of::<libc::cpu_set_t>();
            if libc::sched_setaffinity(0, size, &set) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Reads a server's stderr on a thread until it closes: keeps the last lines in `tail` and
/// sends the port of the first `… starting on PORT` line.
fn watch_stderr(
    stderr: impl Read + Send + 'static,
    tail: Arc<Mutex<Vec<String>>>,
) -> mpsc::Receiver<u16> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(port) = reported_port(&line) {
                let _ = tx.send(port);
            }
            if let Ok(mut tail) = tail.lock() {
                if tail.len() == TAIL_LINES {
                    tail.remove(0);
                }
                tail.push(line);
            }
        }
    });
    rx
}

/// The port in a line such as `[… INFO  gyre::udp] Echo starting on 40123`.
fn reported_port(line: &str) -> Option<u16> {
    let (_, after) = line.split_once("starting on ")?;
    after.split_whitespace().next()?.parse().ok()
}

/// `cargo build --release --example echo_server`, returning the executable cargo reports.
fn build_gyre_echo_server() -> Result<PathBuf, Box<dyn Error>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    println!("building gyre's echo_server: cargo build --release --example echo_server");
    let mut command = Command::new(cargo);
    command
        .args([
            "build",
            "--release",
            "-p",
            "gyre-udp",
            "--example",
            "echo_server",
        ])
        .arg("--message-format=json-render-diagnostics")
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut build = Supervised::spawn(&mut command)?;
    let stdout = build.child().stdout.take().ok_or("no stdout pipe")?;
    let reader = std::thread::spawn(move || {
        let mut json = String::new();
        BufReader::new(stdout)
            .read_to_string(&mut json)
            .map(|_| json)
    });
    let status = build
        .wait_or_kill(BUILD_TIMEOUT)?
        .ok_or("cargo build did not finish within 15 minutes")?;
    let json = reader.join().map_err(|_| "reader thread panicked")??;
    if !status.success() {
        return Err(format!("cargo build --release --example echo_server failed: {status}").into());
    }
    executable_from_json(&json).ok_or_else(|| "cargo did not report echo_server's path".into())
}

/// The `"executable"` of the `echo_server` artifact in cargo's JSON messages.
fn executable_from_json(json: &str) -> Option<PathBuf> {
    let line = json
        .lines()
        .filter(|l| l.contains("\"name\":\"echo_server\""))
        .find(|l| l.contains("\"executable\":\""))?;
    let (_, after) = line.split_once("\"executable\":\"")?;
    let (path, _) = after.split_once('"')?;
    Some(PathBuf::from(path))
}
