//! Batched receive and send on Linux: `recvmmsg` and `sendmmsg`, with `SO_RXQ_OVFL` drop
//! counts. Buffers, headers and address storage are allocated once and reused for every port.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use mio::net::UdpSocket;

use super::sockaddr::{parse_address, write_address};
use super::{BATCH, SLOT};

/// Room for the control messages a datagram may carry, aligned as the kernel writes them:
/// `SO_RXQ_OVFL` (a `u32`, 24 bytes with its header), the destination (`IP_PKTINFO`, 32
/// bytes, or `IPV6_PKTINFO`, 40) and the GRO segment size (24), with room to spare.
const CONTROL: usize = 128;

/// This path reads control messages (the destination address of each datagram).
pub(crate) const CONTROL_MESSAGES: bool = true;

/// Receive buffers for one batch, reused for every port.
pub(crate) struct RecvBatch {
    pub(super) buffers: Vec<u8>,
    headers: Vec<libc::mmsghdr>,
    iovecs: Vec<libc::iovec>,
    addrs: Vec<libc::sockaddr_storage>,
    controls: Vec<[u64; CONTROL / 8]>,
    /// The iovec length the headers are set up for (0: not set up yet).
    ready_for: usize,
    /// Headers the last receive filled: read back by `len`/`from`/`drops`, reset before the
    /// next receive (the kernel touches no others).
    filled: usize,
}

impl RecvBatch {
    pub(crate) fn new() -> RecvBatch {
        RecvBatch {
            // `vec![0; n]` maps untouched pages lazily: only the bytes datagrams fill count
            // towards the resident size.
            buffers: vec![0; BATCH * SLOT],
            // SAFETY: all-zero `mmsghdr`, `iovec` and `sockaddr_storage` are valid values
            // (null pointers, zero lengths, family 0); every pointer is set before use.
            headers: (0..BATCH).map(|_| unsafe { zeroed() }).collect(),
            // SAFETY: as above.
            iovecs: (0..BATCH).map(|_| unsafe { zeroed() }).collect(),
            // SAFETY: as above.
            addrs: (0..BATCH).map(|_| unsafe { zeroed() }).collect(),
            controls: vec![[0; CONTROL / 8]; BATCH],
            ready_for: 0,
            filled: 0,
        }
    }

    /// Points every header at its buffers (once: the heap blocks never move) for datagrams
    /// of up to `len` bytes.
    fn set_up(&mut self, len: usize) {
        for i in 0..BATCH {
            self.iovecs[i] = libc::iovec {
                iov_base: self.buffers[i * SLOT..].as_mut_ptr().cast(),
                iov_len: len,
            };
            let hdr = &mut self.headers[i].msg_hdr;
            hdr.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
            hdr.msg_iov = &mut self.iovecs[i];
            hdr.msg_iovlen = 1;
            hdr.msg_control = self.controls[i].as_mut_ptr().cast();
            self.reset(i);
        }
        self.ready_for = len;
        self.filled = 0;
    }

    /// Restores the fields the kernel reads and writes back in header `i` (the address and
    /// control lengths; `msg_len` and `msg_flags` are only written).
    #[inline]
    fn reset(&mut self, i: usize) {
        let hdr = &mut self.headers[i].msg_hdr;
        hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        hdr.msg_controllen = CONTROL as _;
    }

    /// Reads up to `BATCH` datagrams of at most `limit` bytes each (longer ones keep their
    /// real length, so [`len`](Self::len) shows them truncated). Returns how many.
    pub(crate) fn recv(&mut self, socket: &impl AsRawFd, limit: usize) -> io::Result<usize> {
        let len = limit.min(SLOT);
        if self.ready_for != len {
            self.set_up(len);
        }
        for i in 0..self.filled {
            self.reset(i); // only the headers the kernel filled need resetting
        }
        self.filled = 0;
        // SAFETY: `set_up` pointed the BATCH headers at buffers owned by `self` (address
        // storage, one iovec each into `buffers` within its slot, control space); those Vecs
        // never reallocate, so the pointers stay valid; `reset` restored what the kernel
        // writes back. The fd is open for the call's duration.
        let n = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                self.headers.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT | libc::MSG_TRUNC | libc::MSG_CMSG_CLOEXEC,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        self.filled = n as usize;
        Ok(self.filled)
    }

    /// [`recv`](Self::recv) from a UNIX datagram socket. A sender may pass descriptors
    /// (`SCM_RIGHTS`) with a datagram; the kernel installs them in this process, so they are
    /// closed here at once, before they can pile up.
    pub(crate) fn recv_unix(
        &mut self,
        socket: &socket2::Socket,
        limit: usize,
    ) -> io::Result<usize> {
        let n = self.recv(socket, limit)?;
        for i in 0..n {
            close_passed_fds(&self.headers[i].msg_hdr);
        }
        Ok(n)
    }

    /// The sender of datagram `i` of a [`recv_unix`](Self::recv_unix) batch.
    pub(crate) fn unix_sender(&self, i: usize) -> crate::unix::UnixAddress {
        super::unix::from_storage(&self.addrs[i], self.headers[i].msg_hdr.msg_namelen)
    }

    /// Puts one datagram in slot 0, as if received (for in-memory sockets); returns 1.
    pub(crate) fn fill(&mut self, data: &[u8], from: SocketAddr) -> usize {
        if self.ready_for == 0 {
            self.set_up(SLOT);
        }
        for i in 0..self.filled {
            self.reset(i);
        }
        let n = data.len().min(SLOT);
        self.buffers[..n].copy_from_slice(&data[..n]);
        write_address(&mut self.addrs[0], from);
        self.headers[0].msg_len = data.len() as u32;
        self.headers[0].msg_hdr.msg_controllen = 0;
        self.filled = 1;
        1
    }

    /// The real length of datagram `i` of the last batch (more than its slot holds when it
    /// was truncated).
    #[inline]
    pub(crate) fn len(&self, i: usize) -> usize {
        self.headers[i].msg_len as usize
    }

    /// The sender of datagram `i`.
    #[inline]
    pub(crate) fn from(&self, i: usize) -> SocketAddr {
        parse_address(&self.addrs[i])
    }

    /// The bytes of datagram `i` (cut to what its slot held).
    #[inline]
    pub(crate) fn data(&self, i: usize) -> &[u8] {
        let start = i * SLOT;
        &self.buffers[start..start + self.len(i).min(self.ready_for)]
    }

    /// The socket's cumulative kernel drop count (`SO_RXQ_OVFL`) that came with datagram `i`.
    #[inline]
    pub(crate) fn drops(&self, i: usize) -> Option<u32> {
        overflow_count(&self.headers[i].msg_hdr)
    }

    /// The local address and interface datagram `i` arrived on, on a socket with
    /// `IP_PKTINFO` / `IPV6_RECVPKTINFO` on.
    pub(crate) fn destination(&self, i: usize) -> Option<(std::net::IpAddr, u32)> {
        packet_info(&self.headers[i].msg_hdr)
    }

    /// The size of each datagram in slot `i` when the kernel coalesced several there (UDP
    /// GRO): all that size but the last, which may be shorter.
    pub(crate) fn segment_size(&self, i: usize) -> Option<usize> {
        gro_size(&self.headers[i].msg_hdr)
    }

    /// The first `n` datagrams' lengths, in one pass over the headers.
    #[inline]
    pub(crate) fn lens(&self, n: usize) -> impl Iterator<Item = usize> + '_ {
        self.headers[..n].iter().map(|h| h.msg_len as usize)
    }
}

/// The cumulative kernel drop count carried by an `SO_RXQ_OVFL` control message, if any.
fn overflow_count(hdr: &libc::msghdr) -> Option<u32> {
    if hdr.msg_controllen < size_of::<libc::cmsghdr>() as _ {
        return None; // the common case: no drops to report
    }
    // SAFETY: `hdr` was filled by the kernel; CMSG_FIRSTHDR/NXTHDR only walk within
    // `msg_control[..msg_controllen]`, and each header found is valid to read.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(hdr);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SO_RXQ_OVFL {
                return Some(std::ptr::read_unaligned(
                    libc::CMSG_DATA(cmsg).cast::<u32>(),
                ));
            }
            cmsg = libc::CMSG_NXTHDR(hdr, cmsg);
        }
    }
    None
}

/// The destination address and interface an `IP_PKTINFO` / `IPV6_PKTINFO` control message in
/// `hdr` gives.
fn packet_info(hdr: &libc::msghdr) -> Option<(std::net::IpAddr, u32)> {
    if hdr.msg_controllen < size_of::<libc::cmsghdr>() as _ {
        return None;
    }
    // SAFETY: `hdr` was filled by the kernel; CMSG_FIRSTHDR/NXTHDR only walk within
    // `msg_control[..msg_controllen]`; an IP_PKTINFO payload is an `in_pktinfo`, an
    // IPV6_PKTINFO one an `in6_pktinfo` (read unaligned).
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(hdr);
        while !cmsg.is_null() {
            let (level, kind) = ((*cmsg).cmsg_level, (*cmsg).cmsg_type);
            if level == libc::IPPROTO_IP && kind == libc::IP_PKTINFO {
                let info: libc::in_pktinfo = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                let ip = std::net::Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr));
                return Some((ip.into(), info.ipi_ifindex as u32));
            }
            if level == libc::IPPROTO_IPV6 && kind == libc::IPV6_PKTINFO {
                let info: libc::in6_pktinfo =
                    std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                let ip = std::net::Ipv6Addr::from(info.ipi6_addr.s6_addr);
                return Some((ip.into(), info.ipi6_ifindex));
            }
            cmsg = libc::CMSG_NXTHDR(hdr, cmsg);
        }
    }
    None
}

/// The segment size a `UDP_GRO` control message in `hdr` gives.
fn gro_size(hdr: &libc::msghdr) -> Option<usize> {
    if hdr.msg_controllen < size_of::<libc::cmsghdr>() as _ {
        return None;
    }
    // SAFETY: `hdr` was filled by the kernel; CMSG_FIRSTHDR/NXTHDR only walk within
    // `msg_control[..msg_controllen]`; a UDP_GRO payload is a `c_int` (read unaligned).
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(hdr);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_UDP && (*cmsg).cmsg_type == super::linux::UDP_GRO {
                let size: libc::c_int = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                return usize::try_from(size).ok().filter(|&s| s > 0);
            }
            cmsg = libc::CMSG_NXTHDR(hdr, cmsg);
        }
    }
    None
}

/// Closes the descriptors an `SCM_RIGHTS` control message in `hdr` carries.
fn close_passed_fds(hdr: &libc::msghdr) {
    if hdr.msg_controllen < size_of::<libc::cmsghdr>() as _ {
        return;
    }
    // SAFETY: `hdr` was filled by the kernel; CMSG_FIRSTHDR/NXTHDR only walk within
    // `msg_control[..msg_controllen]`, each header found is valid to read, and an
    // `SCM_RIGHTS` payload is `cmsg_len - CMSG_LEN(0)` bytes of `c_int`s. Those descriptors
    // were installed in this process by this very receive and nothing else holds them, so
    // closing them closes nothing of anyone else's.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(hdr);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let bytes = (*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                let fds = libc::CMSG_DATA(cmsg).cast::<libc::c_int>();
                for k in 0..bytes / size_of::<libc::c_int>() {
                    libc::close(std::ptr::read_unaligned(fds.add(k)));
                }
            }
            cmsg = libc::CMSG_NXTHDR(hdr, cmsg);
        }
    }
}

/// `UDP_SEGMENT` (linux/udp.h): send one buffer as several datagrams of a given size (GSO).
const UDP_SEGMENT: libc::c_int = 103;
/// The kernel's limit on segments per GSO send.
pub(crate) const GSO_MAX_SEGMENTS: usize = 64;

/// Headers for sending one batch, reused.
pub(crate) struct SendBatch {
    headers: Vec<libc::mmsghdr>,
    iovecs: Vec<libc::iovec>,
    addrs: Vec<libc::sockaddr_storage>,
}

impl SendBatch {
    pub(crate) fn new() -> SendBatch {
        SendBatch {
            // SAFETY: all-zero `mmsghdr`, `iovec`, `sockaddr_storage` are valid values; every
            // pointer is set before use.
            headers: (0..BATCH).map(|_| unsafe { zeroed() }).collect(),
            // SAFETY: as above.
            iovecs: (0..BATCH.max(GSO_MAX_SEGMENTS))
                .map(|_| unsafe { zeroed() })
                .collect(),
            // SAFETY: as above.
            addrs: (0..BATCH).map(|_| unsafe { zeroed() }).collect(),
        }
    }

    /// Sends `segments` (all `size` bytes long but maybe the last, at most
    /// `GSO_MAX_SEGMENTS`) as that many datagrams with one `sendmsg` and a `UDP_SEGMENT`
    /// control message: one iovec per segment, so they need not be contiguous.
    pub(crate) fn send_segments<'d>(
        &mut self,
        socket: &UdpSocket,
        segments: impl Iterator<Item = &'d [u8]>,
        size: usize,
        to: Option<SocketAddr>,
    ) -> io::Result<()> {
        let mut n = 0;
        for (iov, data) in self.iovecs.iter_mut().zip(segments) {
            *iov = libc::iovec {
                iov_base: data.as_ptr() as *mut libc::c_void,
                iov_len: data.len(),
            };
            n += 1;
        }
        let mut control = [0u64; 4]; // CMSG_SPACE(2) rounded up, 8-aligned
        // SAFETY: an all-zero `msghdr` is a valid empty header; every pointer set below points
        // at live memory (the iovecs and address storage owned by `self`, `control`).
        let mut msg: libc::msghdr = unsafe { zeroed() };
        if let Some(to) = to {
            msg.msg_namelen = write_address(&mut self.addrs[0], to);
            msg.msg_name = (&mut self.addrs[0] as *mut libc::sockaddr_storage).cast();
        }
        msg.msg_iov = self.iovecs.as_mut_ptr();
        msg.msg_iovlen = n as _;
        msg.msg_control = control.as_mut_ptr().cast();
        // SAFETY: CMSG_SPACE only computes a size.
        msg.msg_controllen = unsafe { libc::CMSG_SPACE(size_of::<u16>() as u32) } as _;
        // SAFETY: `msg_control` points at `control`, which is at least CMSG_SPACE(2) bytes, so
        // the first header and its data fit; we write a complete `cmsghdr` and a `u16`.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_UDP;
            (*cmsg).cmsg_type = UDP_SEGMENT;
            (*cmsg).cmsg_len = libc::CMSG_LEN(size_of::<u16>() as u32) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<u16>(), size as u16);
        }
        // SAFETY: `msg` is fully initialised; its `n` iovecs point at the caller's slices, which
        // live for `'d`, beyond this call; the fd is open.
        let rc = unsafe { libc::sendmsg(socket.as_raw_fd(), &msg, libc::MSG_DONTWAIT) };
        if rc >= 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Sends `n` datagrams (`datagram(k)`: its bytes, and its destination or `None` on a
    /// connected socket; at most `BATCH`) with one `sendmmsg`; returns how many the kernel
    /// took, or the error of the first one.
    pub(crate) fn send<'d>(
        &mut self,
        socket: &UdpSocket,
        n: usize,
        mut datagram: impl FnMut(usize) -> (&'d [u8], Option<SocketAddr>),
    ) -> io::Result<usize> {
        let n = n.min(BATCH);
        for k in 0..n {
            let (data, to) = datagram(k);
            self.iovecs[k] = libc::iovec {
                iov_base: data.as_ptr() as *mut libc::c_void,
                iov_len: data.len(),
            };
            let hdr = &mut self.headers[k].msg_hdr;
            match to {
                Some(to) => {
                    hdr.msg_namelen = write_address(&mut self.addrs[k], to);
                    hdr.msg_name = (&mut self.addrs[k] as *mut libc::sockaddr_storage).cast();
                }
                None => {
                    hdr.msg_name = std::ptr::null_mut();
                    hdr.msg_namelen = 0;
                }
            }
            hdr.msg_iov = &mut self.iovecs[k];
            hdr.msg_iovlen = 1;
        }
        // SAFETY: the first `n` headers are initialised (control fields stay zero from `new`)
        // and point at live data: the caller's byte slices (which live for `'d`, beyond this
        // call) and address storage owned by `self`.
        let sent = unsafe {
            libc::sendmmsg(
                socket.as_raw_fd(),
                self.headers.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        if sent < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(sent as usize)
        }
    }
}

/// Whether this socket can send with UDP GSO (`UDP_SEGMENT`, Linux 4.18+): the kernel answers
/// `getsockopt` for the option when it knows it. The one probe that may turn GSO off.
pub(crate) fn gso_supported(socket: &UdpSocket) -> bool {
    let mut value: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` are valid, writable, and `len` gives `value`'s size.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_UDP,
            UDP_SEGMENT,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    rc == 0
}

/// Asks the kernel to attach its cumulative receive-queue drop count to each datagram.
pub(crate) fn enable_overflow_count(socket: &socket2::Socket) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: `on` is a valid `c_int` for the duration of the call and its size is given.
    let rc = unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(socket),
            libc::SOL_SOCKET,
            libc::SO_RXQ_OVFL,
            (&on as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
