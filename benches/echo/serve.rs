//! The five baseline echo servers, run when the bench re-executes itself as
//! `echo --serve KIND SECONDS`.
//!
//! Each binds 127.0.0.1 on a port the kernel picks, prints `KIND starting on PORT` to stderr
//! (the line gyre's `echo_server` logs), and echoes every datagram to its sender until
//! SIGTERM, or until `SECONDS` have passed (checked when idle and every few thousand
//! datagrams, so the check costs nothing per datagram). Buffers hold 65,536 bytes, as
//! gyre's does.

use std::error::Error;
use std::io::{self, ErrorKind};
use std::net::UdpSocket;
use std::os::fd::{AsRawFd, RawFd};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::mmsg::Batch;
use crate::servers::ServerKind;

/// Largest datagram a server takes whole.
const MAX_DATAGRAM: usize = 65_536;
/// Datagrams per `recvmmsg`/`sendmmsg` call.
const BATCH: usize = 32;
/// How long a blocking server waits before checking its lifetime again.
const IDLE_TICK: Duration = Duration::from_millis(100);
/// Datagrams between two lifetime checks under load.
const CHECK_EVERY: u32 = 4096;

/// What a `--serve` invocation asks for.
#[derive(Debug, Clone, Copy)]
pub struct Role {
    kind: ServerKind,
    lifetime: Duration,
}

impl Role {
    /// `--serve KIND SECONDS` (anywhere on the command line), or `None`.
    pub fn from_args(args: &[String]) -> Option<Role> {
        let at = args.iter().position(|a| a == "--serve")?;
        let kind = ServerKind::parse(args.get(at + 1)?)?;
        let seconds: u64 = args.get(at + 2)?.parse().ok()?;
        Some(Role {
            kind,
            lifetime: Duration::from_secs(seconds),
        })
    }
}

/// Runs the server `role` names until its lifetime ends.
pub fn main(role: Role) -> ExitCode {
    let deadline = Instant::now() + role.lifetime;
    let result = match role.kind {
        ServerKind::Recvmmsg => recvmmsg_loop(ServerKind::Recvmmsg, Batch::echo_back, deadline),
        ServerKind::RecvmmsgGso => {
            recvmmsg_loop(ServerKind::RecvmmsgGso, Batch::echo_back_gso, deadline)
        }
        ServerKind::RecvFrom => recv_from_loop(deadline),
        ServerKind::Mio => mio_loop(deadline),
        ServerKind::Tokio => tokio_loop(role.lifetime),
        ServerKind::Gyre => Err("gyre's server is examples/echo_server.rs".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{} server: {e}", role.kind.name());
            ExitCode::FAILURE
        }
    }
}

/// Binds 127.0.0.1:0 and announces the port.
fn bind(kind: ServerKind) -> io::Result<UdpSocket> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    eprintln!(
        "{} starting on {}",
        kind.name(),
        socket.local_addr()?.port()
    );
    Ok(socket)
}

/// A receive that timed out or was interrupted: not an error, just a chance to look at the
/// clock.
fn is_idle(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
    )
}

/// How a recvmmsg server sends a batch back: [`Batch::echo_back`] (one `sendmmsg`) or
/// [`Batch::echo_back_gso`] (`sendmsg` with `UDP_SEGMENT` per run of same-size datagrams).
type EchoBack = fn(&mut Batch, RawFd, usize) -> usize;

/// Blocking `recvmmsg` (up to 32, `MSG_WAITFORONE`), then `echo_back` of the same batch.
fn recvmmsg_loop(
    kind: ServerKind,
    echo_back: EchoBack,
    deadline: Instant,
) -> Result<(), Box<dyn Error>> {
    let socket = bind(kind)?;
    socket.set_read_timeout(Some(IDLE_TICK))?;
    let fd = socket.as_raw_fd();
    let mut batch = Batch::new(BATCH, MAX_DATAGRAM);
    let mut calls = 0u32;
    loop {
        match batch.recv(fd, true) {
            Ok(n) => {
                echo_back(&mut batch, fd, n);
                calls = calls.wrapping_add(1);
                if calls % (CHECK_EVERY / BATCH as u32) == 0 && Instant::now() >= deadline {
                    return Ok(());
                }
            }
            Err(e) if is_idle(&e) => {
                if Instant::now() >= deadline {
                    return Ok(());
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Blocking `recv_from`, then `send_to`, one datagram at a time.
fn recv_from_loop(deadline: Instant) -> Result<(), Box<dyn Error>> {
    let socket = bind(ServerKind::RecvFrom)?;
    socket.set_read_timeout(Some(IDLE_TICK))?;
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut echoed = 0u32;
    loop {
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                // A datagram the kernel refuses to send is dropped, as any echo server would.
                let _ = socket.send_to(&buf[..n], from);
                echoed = echoed.wrapping_add(1);
                if echoed % CHECK_EVERY == 0 && Instant::now() >= deadline {
                    return Ok(());
                }
            }
            Err(e) if is_idle(&e) => {
                if Instant::now() >= deadline {
                    return Ok(());
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// A bare mio loop: one edge-triggered socket, drained until `WouldBlock` on every event,
/// `send_to` for each datagram.
fn mio_loop(deadline: Instant) -> Result<(), Box<dyn Error>> {
    use mio::{Events, Interest, Poll, Token};
    let socket = bind(ServerKind::Mio)?;
    socket.set_nonblocking(true)?;
    let mut socket = mio::net::UdpSocket::from_std(socket);
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut socket, Token(0), Interest::READABLE)?;
    let mut events = Events::with_capacity(16);
    let mut buf = vec![0u8; MAX_DATAGRAM];
    while Instant::now() < deadline {
        match poll.poll(&mut events, Some(IDLE_TICK)) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        }
        if !events.is_empty() {
            drain_mio(&socket, &mut buf)?;
        }
    }
    Ok(())
}

/// Echoes datagrams until the socket says `WouldBlock`.
fn drain_mio(socket: &mio::net::UdpSocket, buf: &mut [u8]) -> io::Result<()> {
    loop {
        match socket.recv_from(buf) {
            Ok((n, from)) => {
                // Dropped if the send buffer is full (`WouldBlock`): UDP semantics.
                let _ = socket.send_to(&buf[..n], from);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// A current-thread tokio runtime running the textbook loop: `recv_from(..).await`, then
/// `send_to(..).await`.
fn tokio_loop(lifetime: Duration) -> Result<(), Box<dyn Error>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let socket = bind(ServerKind::Tokio)?;
        socket.set_nonblocking(true)?;
        let socket = tokio::net::UdpSocket::from_std(socket)?;
        match tokio::time::timeout(lifetime, tokio_echo(&socket)).await {
            Ok(result) => result,
            Err(_elapsed) => Ok(()),
        }
    })?;
    Ok(())
}

async fn tokio_echo(socket: &tokio::net::UdpSocket) -> io::Result<()> {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (n, from) = socket.recv_from(&mut buf).await?;
        socket.send_to(&buf[..n], from).await?;
    }
}
