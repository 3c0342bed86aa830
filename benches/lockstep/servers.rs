//! The four servers, each in this process, each with the one function that runs exactly one
//! turn of its loop. Those `lockstep_turn_*` functions are what callgrind counts: they are
//! `#[inline(never)]` so that they exist as functions in the binary, and no other function's
//! name ends the same way (callgrind's `--toggle-collect` flips collection on entry *and* on
//! exit, so a matching function called from inside another would switch it off again).

use std::error::Error;
use std::io::{self, ErrorKind};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

use crate::mmsg::Batch;

/// Largest datagram a server takes whole (as in the echo bench).
const MAX_DATAGRAM: usize = 65_536;
/// Datagrams per `recvmmsg`.
const BATCH: usize = 32;

/// The result of everything here: errors are reported, never recovered from.
pub type Res<T> = Result<T, Box<dyn Error>>;

/// One of the servers measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// gyre's reactor running `protocols::Echo`.
    Gyre,
    /// A bare mio loop: poll, drain with `recv_from`, `send_to` each.
    Mio,
    /// One `recvmmsg` of up to 32, one `sendmmsg` back.
    Recvmmsg,
    /// The same receive; the replies by one `sendmsg` with `UDP_SEGMENT` (UDP GSO).
    RecvmmsgGso,
}

impl Kind {
    /// Every server, in table order.
    pub const ALL: [Kind; 4] = [Kind::Gyre, Kind::Mio, Kind::Recvmmsg, Kind::RecvmmsgGso];

    /// Its name in the table and on the child's command line.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Gyre => "gyre",
            Kind::Mio => "mio",
            Kind::Recvmmsg => "recvmmsg",
            Kind::RecvmmsgGso => "recvmmsg+gso",
        }
    }

    /// The server called `name`.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The name of its turn function as callgrind reports it: the demangled Rust path,
    /// without the hash (e.g. `lockstep::servers::lockstep_turn_gyre`).
    pub fn turn_function(self) -> String {
        let name = match self {
            Kind::Gyre => "lockstep_turn_gyre",
            Kind::Mio => "lockstep_turn_mio",
            Kind::Recvmmsg => "lockstep_turn_recvmmsg",
            Kind::RecvmmsgGso => "lockstep_turn_recvmmsg_gso",
        };
        format!("{}::{name}", module_path!())
    }

    /// Binds the server on 127.0.0.1, on a port the kernel picks.
    pub fn start(self) -> Res<Box<dyn Server>> {
        Ok(match self {
            Kind::Gyre => Box::new(GyreServer::start()?),
            Kind::Mio => Box::new(MioServer::start()?),
            Kind::Recvmmsg => Box::new(MmsgServer::start(false)?),
            Kind::RecvmmsgGso => Box::new(MmsgServer::start(true)?),
        })
    }
}

/// A server under test, seen from the child's round loop.
pub trait Server {
    /// Where it listens.
    fn addr(&self) -> SocketAddr;
    /// Exactly one turn of its loop, through its `lockstep_turn_*` function.
    fn turn(&mut self) -> Res<()>;
}

/// gyre: the only gyre-specific code of the bench (adapt it here when the API changes).
struct GyreServer {
    reactor: gyre::Reactor,
    addr: SocketAddr,
}

impl GyreServer {
    fn start() -> Res<GyreServer> {
        let mut reactor = gyre::Reactor::new()?;
        reactor.install_signal_handlers(false);
        let options = gyre::udp::ListenOptions::new(0).interface("127.0.0.1");
        let port = reactor.listen_udp_with(options, gyre::protocols::Echo::quiet())?;
        let addr = port.get_host()?;
        Ok(GyreServer { reactor, addr })
    }
}

impl Server for GyreServer {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn turn(&mut self) -> Res<()> {
        lockstep_turn_gyre(&mut self.reactor)
    }
}

/// One turn of gyre's reactor: poll without waiting, read, echo, flush.
#[inline(never)]
fn lockstep_turn_gyre(reactor: &mut gyre::Reactor) -> Res<()> {
    reactor.iterate(Duration::ZERO)?;
    Ok(())
}

/// The bare mio loop of the echo bench, one socket registered edge-triggered.
struct MioServer {
    poll: mio::Poll,
    events: mio::Events,
    socket: mio::net::UdpSocket,
    buf: Vec<u8>,
}

impl MioServer {
    fn start() -> Res<MioServer> {
        let mut socket = mio::net::UdpSocket::bind("127.0.0.1:0".parse()?)?;
        let poll = mio::Poll::new()?;
        poll.registry()
            .register(&mut socket, mio::Token(0), mio::Interest::READABLE)?;
        Ok(MioServer {
            poll,
            events: mio::Events::with_capacity(16),
            socket,
            buf: vec![0; MAX_DATAGRAM],
        })
    }
}

impl Server for MioServer {
    fn addr(&self) -> SocketAddr {
        self.socket
            .local_addr()
            .expect("a bound socket has an address")
    }

    fn turn(&mut self) -> Res<()> {
        Ok(lockstep_turn_mio(self)?)
    }
}

/// One turn of the mio loop: poll without waiting, then for each event echo until
/// `WouldBlock`.
#[inline(never)]
fn lockstep_turn_mio(s: &mut MioServer) -> io::Result<()> {
    s.poll.poll(&mut s.events, Some(Duration::ZERO))?;
    for _event in s.events.iter() {
        drain_mio(&s.socket, &mut s.buf)?;
    }
    Ok(())
}

/// Echoes datagrams until the socket says `WouldBlock`.
fn drain_mio(socket: &mio::net::UdpSocket, buf: &mut [u8]) -> io::Result<()> {
    loop {
        match socket.recv_from(buf) {
            Ok((n, from)) => {
                socket.send_to(&buf[..n], from)?;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// The recvmmsg baselines: a non-blocking socket, so the echo bench's `recvmmsg` with
/// `MSG_WAITFORONE` waits for nothing, as `MSG_DONTWAIT` would.
struct MmsgServer {
    socket: UdpSocket,
    batch: Batch,
    gso: bool,
}

impl MmsgServer {
    fn start(gso: bool) -> Res<MmsgServer> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.set_nonblocking(true)?;
        Ok(MmsgServer {
            socket,
            batch: Batch::new(BATCH, MAX_DATAGRAM),
            gso,
        })
    }
}

impl Server for MmsgServer {
    fn addr(&self) -> SocketAddr {
        self.socket
            .local_addr()
            .expect("a bound socket has an address")
    }

    fn turn(&mut self) -> Res<()> {
        let fd = self.socket.as_raw_fd();
        let echoed = if self.gso {
            lockstep_turn_recvmmsg_gso(&mut self.batch, fd)?
        } else {
            lockstep_turn_recvmmsg(&mut self.batch, fd)?
        };
        if echoed == 0 {
            return Err("the turn echoed nothing".into());
        }
        Ok(())
    }
}

/// One `recvmmsg` of up to 32, then one `sendmmsg` of the same batch.
#[inline(never)]
fn lockstep_turn_recvmmsg(batch: &mut Batch, fd: std::os::fd::RawFd) -> io::Result<usize> {
    let n = batch.recv(fd, true)?;
    Ok(batch.echo_back(fd, n))
}

/// One `recvmmsg` of up to 32, then the batch back by UDP GSO where it is one run of
/// same-size datagrams from one sender (`sendmmsg` otherwise; also for a single datagram).
#[inline(never)]
fn lockstep_turn_recvmmsg_gso(batch: &mut Batch, fd: std::os::fd::RawFd) -> io::Result<usize> {
    let n = batch.recv(fd, true)?;
    Ok(batch.echo_back_gso(fd, n))
}
