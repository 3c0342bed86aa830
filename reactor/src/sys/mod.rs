//! Every system call the reactor makes, in one place: the only module with `unsafe`.
//!
//! The rest of the engine sees sockets through these functions and `mio`'s types; none of
//! `mio`, `socket2` or `libc` reaches the public API. Linux-only calls live in `linux.rs`;
//! `portable.rs` holds what other Unix systems get instead. Batched I/O is `batch_linux.rs`
//! (`recvmmsg`/`sendmmsg`) or `batch_portable.rs` (one call per datagram), chosen here and only
//! here: `--cfg gyre_portable_io` selects the portable one on Linux too, so CI tests both.

use std::io;
use std::mem::MaybeUninit;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use std::os::fd::AsRawFd;

use mio::net::UdpSocket;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use socket2::{Domain, Protocol, SockRef, Socket, Type};

#[cfg(target_os = "linux")]
mod linux;
mod sockaddr;
mod unix;
#[cfg(target_os = "linux")]
use linux as platform;
#[cfg(not(target_os = "linux"))]
mod portable;
#[cfg(not(target_os = "linux"))]
use portable as platform;

pub(crate) use platform::{drain_error_queue, raise_open_files_limit, send_from};
pub(crate) use unix::{
    bind_unix, connect_unix, file_identity, local_unix, remove_file, send_unix, set_mode,
    unix_datagram,
};

/// How to set up a UDP socket before it is bound.
#[derive(Debug, Clone, Default)]
pub(crate) struct SocketSetup {
    pub reuse_address: bool,
    pub reuse_port: bool,
    /// `Some(v)`: set IPV6_V6ONLY to `v` (IPv6 sockets only).
    pub v6_only: Option<bool>,
    pub recv_buffer: Option<usize>,
    pub send_buffer: Option<usize>,
    pub broadcast: bool,
    /// `IP_RECVERR`: queue ICMP errors for the port to report.
    pub recv_err: bool,
    /// `IP_PKTINFO` / `IPV6_RECVPKTINFO`: each datagram says where it arrived.
    pub pktinfo: bool,
    /// `UDP_GRO`: receive coalesced trains of datagrams.
    pub gro: bool,
}

/// One entry of a socket's error queue: an ICMP error (or a local one) about a datagram this
/// socket sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) struct ErrorReport {
    /// Where the failed datagram was going.
    pub destination: Option<SocketAddr>,
    /// The error as an errno (`ECONNREFUSED`, `EHOSTUNREACH`, `EMSGSIZE`…).
    pub errno: i32,
    /// `SO_EE_ORIGIN_*`: ICMP, ICMPv6, or the local stack.
    pub origin: u8,
    pub icmp_type: u8,
    pub code: u8,
    /// The path MTU, for "fragmentation needed" / "packet too big".
    pub info: u32,
    /// The host that sent the ICMP message.
    pub offender: Option<std::net::IpAddr>,
}

/// A bound, non-blocking, close-on-exec UDP socket, ready for `mio`.
pub(crate) fn bind_udp(address: SocketAddr, setup: &SocketSetup) -> io::Result<UdpSocket> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::DGRAM,
        Some(Protocol::UDP),
    )?;
    socket.set_nonblocking(true)?;
    if setup.reuse_address {
        socket.set_reuse_address(true)?;
    }
    if setup.reuse_port {
        platform::set_reuse_port(&socket)?;
    }
    if let (SocketAddr::V6(_), Some(only)) = (address, setup.v6_only) {
        socket.set_only_v6(only)?;
    }
    if let Some(size) = setup.recv_buffer {
        socket.set_recv_buffer_size(size)?;
    }
    if let Some(size) = setup.send_buffer {
        socket.set_send_buffer_size(size)?;
    }
    if setup.broadcast {
        socket.set_broadcast(true)?;
    }
    if setup.recv_err {
        platform::set_recv_err(&socket, address.is_ipv6())?;
    }
    if setup.pktinfo {
        needs_control_messages("a datagram's destination address")?;
        platform::set_pktinfo(&socket, address.is_ipv6())?;
    }
    if setup.gro {
        needs_control_messages("UDP GRO")?;
        platform::set_gro(&socket)?;
    }
    batch::enable_overflow_count(&socket)?;
    socket.bind(&address.into())?;
    Ok(UdpSocket::from_std(socket.into()))
}

/// `Unsupported` for `what` on the I/O path that reads no control messages.
fn needs_control_messages(what: &str) -> io::Result<()> {
    match batch::CONTROL_MESSAGES {
        true => Ok(()),
        false => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("{what} needs the batched receive path (recvmmsg, Linux)"),
        )),
    }
}

/// One datagram read by [`recv_from`].
#[derive(Debug, Clone, Copy)]
#[cfg_attr(all(target_os = "linux", not(gyre_portable_io)), allow(dead_code))] // `len`: portable batches
pub(crate) struct Received {
    /// The datagram's real length; larger than the buffer when it was truncated.
    pub len: usize,
    pub from: SocketAddr,
}

/// Reads one datagram into `buf`, reporting its real length even when it did not fit.
/// (The batched path uses `recvmmsg` on Linux; this serves the portable one.)
#[cfg_attr(all(target_os = "linux", not(gyre_portable_io)), allow(dead_code))]
pub(crate) fn recv_from(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<Received> {
    // SAFETY: `[u8]` and `[MaybeUninit<u8>]` have the same layout, and the kernel only ever
    // writes initialised bytes into the buffer; nothing here writes uninitialised memory
    // into `buf`, so it stays fully initialised for the caller.
    let uninit = unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) };
    let (len, from) = SockRef::from(socket).recv_from_with_flags(uninit, platform::TRUNC_FLAG)?;
    let from = from
        .as_socket()
        .ok_or_else(|| io::Error::other("datagram from a non-IP address"))?;
    Ok(Received { len, from })
}

/// Reads one datagram from a UNIX datagram socket into `buf`: its real length (when the
/// kernel reports it) and its sender. (The portable batch path.)
#[cfg_attr(all(target_os = "linux", not(gyre_portable_io)), allow(dead_code))]
pub(crate) fn recv_unix_sender(
    socket: &Socket,
    buf: &mut [u8],
) -> io::Result<(usize, crate::unix::UnixAddress)> {
    // SAFETY: as in `recv_from`: the kernel writes only initialised bytes into `buf`.
    let uninit = unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) };
    let (len, from) = socket.recv_from_with_flags(uninit, platform::TRUNC_FLAG)?;
    Ok((len, unix::from_sockaddr(&from)))
}

/// Takes the socket's pending error (`SO_ERROR`), which clears it.
pub(crate) fn take_error(socket: &UdpSocket) -> io::Result<Option<io::Error>> {
    socket.take_error()
}

/// Reads a boolean socket option of the ones gyre exposes.
pub(crate) fn broadcast(socket: &UdpSocket) -> io::Result<bool> {
    socket.broadcast()
}

/// Sets `SO_BROADCAST`.
pub(crate) fn set_broadcast(socket: &UdpSocket, on: bool) -> io::Result<()> {
    socket.set_broadcast(on)
}

/// `SO_RCVBUF` as the kernel reports it (Linux doubles what was asked).
pub(crate) fn recv_buffer_size(socket: &impl std::os::fd::AsFd) -> io::Result<usize> {
    SockRef::from(socket).recv_buffer_size()
}

/// Sets `SO_RCVBUF`.
pub(crate) fn set_recv_buffer_size(socket: &impl std::os::fd::AsFd, size: usize) -> io::Result<()> {
    SockRef::from(socket).set_recv_buffer_size(size)
}

/// `SO_SNDBUF` as the kernel reports it.
pub(crate) fn send_buffer_size(socket: &impl std::os::fd::AsFd) -> io::Result<usize> {
    SockRef::from(socket).send_buffer_size()
}

/// Sets `SO_SNDBUF`.
pub(crate) fn set_send_buffer_size(socket: &impl std::os::fd::AsFd, size: usize) -> io::Result<()> {
    SockRef::from(socket).set_send_buffer_size(size)
}

/// Whether an IPv6 socket accepts only IPv6 (`IPV6_V6ONLY`).
pub(crate) fn only_v6(socket: &UdpSocket) -> io::Result<bool> {
    socket.only_v6()
}

/// How `send` failed, as far as UDP cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SendError {
    /// `EINTR`: try again.
    Interrupted,
    /// `EWOULDBLOCK`/`EAGAIN`/`ENOBUFS`: the kernel has no room; drop the datagram.
    NoRoom,
    /// `EMSGSIZE`.
    TooLong,
    /// `ECONNREFUSED`: an ICMP error for an earlier datagram.
    Refused,
    /// Anything else.
    Other,
}

/// Whether a receive or send error is one an ICMP message sets on a socket (`sk_err`):
/// port, host or network unreachable, message too big, and their kin.
pub(crate) fn is_icmp_errno(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(
            libc::ECONNREFUSED
                | libc::EHOSTUNREACH
                | libc::ENETUNREACH
                | libc::EHOSTDOWN
                | libc::EMSGSIZE
                | libc::ENOPROTOOPT
                | libc::EPROTO
                | libc::EOPNOTSUPP
        )
    )
}

pub(crate) fn classify_send_error(error: &io::Error) -> SendError {
    match (error.kind(), error.raw_os_error()) {
        (io::ErrorKind::Interrupted, _) => SendError::Interrupted,
        (io::ErrorKind::WouldBlock, _) => SendError::NoRoom,
        (_, Some(libc::ENOBUFS)) => SendError::NoRoom,
        (_, Some(libc::EMSGSIZE)) => SendError::TooLong,
        (io::ErrorKind::ConnectionRefused, _) => SendError::Refused,
        _ => SendError::Other,
    }
}

/// Whether a GSO send failed because the device or route cannot offload it (`EIO`): the
/// kernel's answer about the capability, unlike `EINVAL` (a bad segment size for this path).
pub(crate) fn gso_refused_by_device(error: &io::Error) -> bool {
    error.raw_os_error() == Some(libc::EIO)
}

/// A UDP socket of gyre's own made from someone else's (Twisted's `adoptDatagramPort`): a
/// duplicate descriptor (close-on-exec), checked to be a bound IPv4 or IPv6 datagram socket,
/// made non-blocking (which the original shares: one open file description).
pub(crate) fn adopt_udp(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<UdpSocket> {
    let socket = Socket::from(fd.try_clone_to_owned()?);
    if socket.r#type()? != Type::DGRAM {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a datagram socket",
        ));
    }
    let local = socket.local_addr()?;
    let Some(address) = local.as_socket() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "not an IPv4 or IPv6 socket (address family {})",
                local.family()
            ),
        ));
    };
    if address.port() == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the socket is not bound",
        ));
    }
    socket.set_nonblocking(true)?;
    Ok(UdpSocket::from_std(socket.into()))
}

/// Takes ownership of descriptor `fd`, inherited from the process that started this one
/// (socket activation), marking it close-on-exec. `EBADF` if it is not open; an error too if
/// it is not a socket.
///
/// The caller takes each inherited descriptor at most once (see `activation.rs`).
pub(crate) fn inherited_fd(fd: std::os::fd::RawFd) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: `fcntl(F_GETFD)` only reads the descriptor's flags; any number is allowed.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut stat = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `stat` is valid for writes of one `struct stat`; `fd` is open.
    if unsafe { libc::fstat(fd, stat.as_mut_ptr()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fstat` succeeded, so it filled `stat`.
    let mode = unsafe { stat.assume_init() }.st_mode;
    if mode & libc::S_IFMT != libc::S_IFSOCK {
        // Not what a service manager passes: more likely a descriptor this process opened
        // itself at that number, which must not get a second owner.
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is not a socket (was it opened by this process before listen_fds?)",
        ));
    }
    // SAFETY: as above, on a descriptor now known to be open.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the descriptor is an open socket (checked above) that this process's parent
    // handed it to own (LISTEN_PID names this process); `activation::listen_fds` takes each
    // one once per process and must run before this process opens descriptors of its own
    // (documented), so no other `OwnedFd` closes it.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// The poll's file descriptor, borrowed for as long as the poll.
pub(crate) fn poll_fd(poll: &mio::Poll) -> std::os::fd::BorrowedFd<'_> {
    // SAFETY: the descriptor belongs to `poll`, which stays open for the borrow's lifetime.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(poll.as_raw_fd()) }
}

/// Sends `parts` as one datagram, gathered by the kernel (`sendmsg` with one iovec per part),
/// to `to`, or to the connected peer with `None`.
pub(crate) fn send_vectored(
    socket: &UdpSocket,
    parts: &[&[u8]],
    to: Option<SocketAddr>,
) -> io::Result<usize> {
    let to = to.map(socket2::SockAddr::from);
    send_gathered(SockRef::from(socket), parts, to.as_ref())
}

/// `sendmsg` of `parts` as one datagram on any datagram socket. Up to 16 parts need no
/// allocation.
fn send_gathered(
    sock: SockRef<'_>,
    parts: &[&[u8]],
    to: Option<&socket2::SockAddr>,
) -> io::Result<usize> {
    const ON_STACK: usize = 16;
    let mut few = [io::IoSlice::new(&[]); ON_STACK];
    let many: Vec<io::IoSlice<'_>>;
    let slices = if parts.len() <= ON_STACK {
        for (slot, part) in few.iter_mut().zip(parts) {
            *slot = io::IoSlice::new(part);
        }
        &few[..parts.len()]
    } else {
        many = parts.iter().map(|p| io::IoSlice::new(p)).collect();
        &many[..]
    };
    match to {
        Some(to) => sock.send_to_vectored(slices, to),
        None => sock.send_vectored(slices),
    }
}

/// The error the kernel gives for a datagram that is too long (`EMSGSIZE`).
pub(crate) fn message_too_long() -> io::Error {
    io::Error::from_raw_os_error(libc::EMSGSIZE)
}

pub(crate) use platform::{interface_index, source_membership_v6};

/// Joins or leaves an IPv4 group on the interface with this address (`0.0.0.0`: any).
pub(crate) fn membership_v4(
    socket: &UdpSocket,
    join: bool,
    group: Ipv4Addr,
    interface: Ipv4Addr,
) -> io::Result<()> {
    let sock = SockRef::from(socket);
    if join {
        sock.join_multicast_v4(&group, &interface)
    } else {
        sock.leave_multicast_v4(&group, &interface)
    }
}

/// Joins or leaves an IPv4 group on the interface with this index (`ip_mreqn`).
pub(crate) fn membership_v4_index(
    socket: &UdpSocket,
    join: bool,
    group: Ipv4Addr,
    index: u32,
) -> io::Result<()> {
    let sock = SockRef::from(socket);
    let interface = socket2::InterfaceIndexOrAddress::Index(index);
    if join {
        sock.join_multicast_v4_n(&group, &interface)
    } else {
        sock.leave_multicast_v4_n(&group, &interface)
    }
}

/// Joins or leaves an IPv6 group on the interface with this index (0: the OS picks).
pub(crate) fn membership_v6(
    socket: &UdpSocket,
    join: bool,
    group: Ipv6Addr,
    index: u32,
) -> io::Result<()> {
    let sock = SockRef::from(socket);
    if join {
        sock.join_multicast_v6(&group, index)
    } else {
        sock.leave_multicast_v6(&group, index)
    }
}

/// Joins or leaves an IPv4 group for one source only (`IP_ADD_SOURCE_MEMBERSHIP`).
pub(crate) fn source_membership_v4(
    socket: &UdpSocket,
    join: bool,
    group: Ipv4Addr,
    source: Ipv4Addr,
    interface: Ipv4Addr,
) -> io::Result<()> {
    let sock = SockRef::from(socket);
    if join {
        sock.join_ssm_v4(&source, &group, &interface)
    } else {
        sock.leave_ssm_v4(&source, &group, &interface)
    }
}

/// `IP(V6)_MULTICAST_LOOP`.
pub(crate) fn multicast_loop(socket: &UdpSocket, v6: bool) -> io::Result<bool> {
    let sock = SockRef::from(socket);
    if v6 {
        sock.multicast_loop_v6()
    } else {
        sock.multicast_loop_v4()
    }
}

/// Sets `IP(V6)_MULTICAST_LOOP`.
pub(crate) fn set_multicast_loop(socket: &UdpSocket, v6: bool, on: bool) -> io::Result<()> {
    let sock = SockRef::from(socket);
    if v6 {
        sock.set_multicast_loop_v6(on)
    } else {
        sock.set_multicast_loop_v4(on)
    }
}

/// `IP_MULTICAST_TTL`, or `IPV6_MULTICAST_HOPS` on an IPv6 socket.
pub(crate) fn multicast_ttl(socket: &UdpSocket, v6: bool) -> io::Result<u32> {
    let sock = SockRef::from(socket);
    if v6 {
        sock.multicast_hops_v6()
    } else {
        sock.multicast_ttl_v4()
    }
}

/// Sets `IP_MULTICAST_TTL`, or `IPV6_MULTICAST_HOPS` on an IPv6 socket.
pub(crate) fn set_multicast_ttl(socket: &UdpSocket, v6: bool, ttl: u32) -> io::Result<()> {
    let sock = SockRef::from(socket);
    if v6 {
        sock.set_multicast_hops_v6(ttl)
    } else {
        sock.set_multicast_ttl_v4(ttl)
    }
}

/// `IP_MULTICAST_IF` (an address).
pub(crate) fn multicast_if_v4(socket: &UdpSocket) -> io::Result<Ipv4Addr> {
    SockRef::from(socket).multicast_if_v4()
}

/// Sets `IP_MULTICAST_IF` by address.
pub(crate) fn set_multicast_if_v4(socket: &UdpSocket, interface: Ipv4Addr) -> io::Result<()> {
    SockRef::from(socket).set_multicast_if_v4(&interface)
}

/// `IPV6_MULTICAST_IF` (an interface index).
pub(crate) fn multicast_if_v6(socket: &UdpSocket) -> io::Result<u32> {
    SockRef::from(socket).multicast_if_v6()
}

/// Sets `IPV6_MULTICAST_IF` by interface index.
pub(crate) fn set_multicast_if_v6(socket: &UdpSocket, index: u32) -> io::Result<()> {
    SockRef::from(socket).set_multicast_if_v6(index)
}

/// Datagrams read or sent per system call.
pub(crate) const BATCH: usize = 32;
/// Bytes per receive slot: the largest datagram plus one, so truncation always shows.
pub(crate) const SLOT: usize = 65_536;

#[cfg(all(target_os = "linux", not(gyre_portable_io)))]
#[path = "batch_linux.rs"]
mod batch;
#[cfg(any(not(target_os = "linux"), gyre_portable_io))]
#[path = "batch_portable.rs"]
mod batch;

pub(crate) use batch::{GSO_MAX_SEGMENTS, RecvBatch, SendBatch, gso_supported};

impl RecvBatch {
    /// Where the receive buffers live, as an address range: lets a write recognise bytes
    /// that are a received datagram (and queue them by position instead of copying them).
    pub(crate) fn area(&self) -> std::ops::Range<usize> {
        let start = self.buffers.as_ptr() as usize;
        start..start + self.buffers.len()
    }

    /// The receive buffers, for sends that point into them.
    pub(crate) fn buffers(&self) -> &[u8] {
        &self.buffers
    }
}

/// Registers a socket's fd for readable events under `token`. By fd, so the socket itself can
/// stay shared (`Rc`) between its port and the transports that reach it weakly.
pub(crate) fn register(registry: &Registry, socket: &impl AsRawFd, token: Token) -> io::Result<()> {
    registry.register(
        &mut SourceFd(&socket.as_raw_fd()),
        token,
        Interest::READABLE,
    )
}

/// Removes a socket's fd from the poll.
pub(crate) fn deregister(registry: &Registry, socket: &impl AsRawFd) -> io::Result<()> {
    registry.deregister(&mut SourceFd(&socket.as_raw_fd()))
}
