//! Batched datagram I/O with `recvmmsg`/`sendmmsg`, for the recvmmsg baseline servers and for
//! the load generator (so the generator spends far less per datagram than any server).
//!
//! The recvmmsg+gso baseline replies with UDP generic segmentation offload instead: one
//! `sendmsg` whose `UDP_SEGMENT` control message tells the kernel to cut the buffer into
//! datagrams of that size ([`Batch::echo_back_gso`]).

use std::io;
use std::os::fd::RawFd;

/// Most datagrams one GSO send carries (the kernel's `UDP_MAX_SEGMENTS`: 64 before Linux 6.9,
/// 128 since).
const GSO_MAX_SEGMENTS: usize = 64;
/// Most bytes one GSO send carries: the largest UDP payload over IPv4 (65,535 less the IP and
/// UDP headers).
const GSO_MAX_BYTES: usize = 65_507;
/// Bytes of a sender's address compared when grouping datagrams: enough for a
/// `sockaddr_in6` (28) or a `sockaddr_in` (16).
const SENDER_BYTES: usize = 32;

/// `slots` buffers of `slot_size` bytes in one allocation, with the headers `recvmmsg` and
/// `sendmmsg` need. The headers point into the batch's own vectors, whose heap storage never
/// moves, so a `Batch` may move freely between calls. Before a receive, only the headers the
/// last call used are set up again (the kernel touches no others), so a call that brings one
/// datagram costs O(1), not O(slots).
pub struct Batch {
    data: Vec<u8>,
    slot_size: usize,
    /// Headers `dirty..` are ready for a receive with names if `Some(true)`, without if
    /// `Some(false)`; `None`: none is ready.
    ready_for: Option<bool>,
    /// Headers that must be set up again before the next receive.
    dirty: usize,
    lens: Vec<usize>,
    iovs: Vec<libc::iovec>,
    addrs: Vec<libc::sockaddr_storage>,
    hdrs: Vec<libc::mmsghdr>,
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("slots", &self.hdrs.len())
            .field("slot_size", &self.slot_size)
            .finish()
    }
}

impl Batch {
    /// A batch of `slots` zeroed buffers of `slot_size` bytes.
    pub fn new(slots: usize, slot_size: usize) -> Batch {
        let iov = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        Batch {
            data: vec![0; slots * slot_size],
            slot_size,
            ready_for: None,
            dirty: slots,
            lens: vec![0; slots],
            iovs: vec![iov; slots],
            // SAFETY: both are plain C structs for which all-zero bytes are a valid value.
            addrs: vec![unsafe { std::mem::zeroed() }; slots],
            // SAFETY: as above (null pointers, zero lengths).
            hdrs: vec![unsafe { std::mem::zeroed() }; slots],
        }
    }

    /// Number of slots.
    pub fn slots(&self) -> usize {
        self.hdrs.len()
    }

    /// Slot `i`, whole.
    pub fn slot_mut(&mut self, i: usize) -> &mut [u8] {
        &mut self.data[i * self.slot_size..(i + 1) * self.slot_size]
    }

    /// The datagram last received into slot `i`.
    pub fn received(&self, i: usize) -> &[u8] {
        let start = i * self.slot_size;
        &self.data[start..start + self.lens[i]]
    }

    /// Blocks (up to the socket's `SO_RCVTIMEO`) until at least one datagram is there, then
    /// takes up to `slots()` without waiting more (`MSG_WAITFORONE`). With `named`, each
    /// sender's address is kept for [`Batch::echo_back`].
    pub fn recv(&mut self, fd: RawFd, named: bool) -> io::Result<usize> {
        let slots = self.slots();
        let stale = if self.ready_for == Some(named) {
            self.dirty
        } else {
            slots
        };
        self.point_headers(stale, self.slot_size, named);
        self.ready_for = Some(named);
        self.dirty = 0;
        let vlen = libc::c_uint::try_from(slots).map_err(io::Error::other)?;
        // SAFETY: every header in `hdrs[..slots]` was set up by `point_headers` for this
        // mode (all of them at the first receive, since then those the last call changed):
        // its iovec points at its own slot of `data` with the slot's size, its name (if any)
        // at its own `sockaddr_storage` with that size. All of them outlive the call; a
        // null timeout is allowed.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                self.hdrs.as_mut_ptr(),
                vlen,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        let n = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
        for i in 0..n {
            self.lens[i] = self.hdrs[i].msg_len as usize;
        }
        // The kernel wrote into headers 0..n (and `echo_back` will change their lengths).
        self.dirty = n;
        Ok(n)
    }

    /// Sends the `n` datagrams just received back to their senders (as received, length
    /// included). Returns how many went out; a datagram the kernel refuses is skipped.
    pub fn echo_back(&mut self, fd: RawFd, n: usize) -> usize {
        for i in 0..n {
            self.iovs[i].iov_len = self.lens[i];
        }
        self.send_prepared(fd, 0, n)
    }

    /// Like [`Batch::echo_back`] (after a receive with names), but each run of two or more
    /// consecutive datagrams of the same non-zero size from the same sender goes back in one
    /// `sendmsg` with a `UDP_SEGMENT` control message; the others go by `sendmmsg`, as does a
    /// run the kernel refuses to segment. Returns how many went out.
    pub fn echo_back_gso(&mut self, fd: RawFd, n: usize) -> usize {
        if n < 2 {
            return self.echo_back(fd, n);
        }
        for (iov, &len) in self.iovs[..n].iter_mut().zip(&self.lens[..n]) {
            iov.iov_len = len;
        }
        let (mut sent, mut plain_from, mut i) = (0, 0, 0);
        while i < n {
            let run = self.gso_run(i, n);
            if run < 2 {
                i += 1;
                continue;
            }
            sent += self.send_prepared(fd, plain_from, i);
            sent += match self.send_gso(fd, i, run) {
                Ok(()) => run,
                Err(_) => self.send_prepared(fd, i, i + run),
            };
            i += run;
            plain_from = i;
        }
        sent + self.send_prepared(fd, plain_from, n)
    }

    /// How many datagrams from `start` (before `end`) have the size and the sender of the
    /// one at `start`, within one GSO send's limits; 1 for an empty datagram.
    fn gso_run(&self, start: usize, end: usize) -> usize {
        let size = self.lens[start];
        let name_len = self.hdrs[start].msg_hdr.msg_namelen;
        if size == 0 || name_len as usize > SENDER_BYTES {
            return 1;
        }
        let most = (end - start)
            .min(GSO_MAX_SEGMENTS)
            .min(GSO_MAX_BYTES / size);
        let first_name = address_words(&self.addrs[start]);
        let range = start..start + most;
        let same = self.lens[range.clone()]
            .iter()
            .zip(&self.hdrs[range.clone()])
            .zip(&self.addrs[range])
            .skip(1)
            .take_while(|((len, hdr), addr)| {
                **len == size
                    && hdr.msg_hdr.msg_namelen == name_len
                    && address_words(addr) == first_name
            })
            .count();
        1 + same
    }

    /// One `sendmsg` of the `run` datagrams from `start` (all of one size, to one sender,
    /// their iovecs already set to that size) with `UDP_SEGMENT` set to that size.
    fn send_gso(&mut self, fd: RawFd, start: usize, run: usize) -> io::Result<()> {
        let segment = u16::try_from(self.lens[start]).map_err(io::Error::other)?;
        // Room for one control message carrying a u16, aligned as `cmsghdr` needs.
        let mut control = [0u64; 4];
        // SAFETY: a plain C struct; all-zero is valid (null pointers, zero lengths).
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = self.hdrs[start].msg_hdr.msg_name;
        msg.msg_namelen = self.hdrs[start].msg_hdr.msg_namelen;
        msg.msg_iov = self.iovs[start..start + run].as_mut_ptr();
        msg.msg_iovlen = run as _;
        msg.msg_control = control.as_mut_ptr().cast();
        // SAFETY: only arithmetic on its argument.
        msg.msg_controllen = unsafe { libc::CMSG_SPACE(2) } as _;
        // SAFETY: `msg_control` points at `control` (32 bytes, 8-aligned) and
        // `msg_controllen` is CMSG_SPACE(2) = 24 ≤ 32, so the first header is not null and
        // it and its 2 data bytes lie inside `control`.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_UDP;
            (*cmsg).cmsg_type = libc::UDP_SEGMENT;
            (*cmsg).cmsg_len = libc::CMSG_LEN(2) as _;
            libc::CMSG_DATA(cmsg).cast::<u16>().write_unaligned(segment);
        }
        // SAFETY: the name points at the sender address `recvmmsg` wrote into `addrs`, the
        // iovecs at `run` slots of `data` with their lengths, the control at `control`; all
        // outlive the call, which only reads them.
        let n = unsafe { libc::sendmsg(fd, &msg, 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Sends the first `n` slots, `len` bytes each, on a connected socket. Returns how many
    /// went out, or the error that stopped the first one.
    pub fn send(&mut self, fd: RawFd, n: usize, len: usize) -> io::Result<usize> {
        self.point_headers(n, len.min(self.slot_size), false);
        self.ready_for = None;
        let mut sent = 0;
        while sent < n {
            match self.send_once(fd, sent, n) {
                Ok(k) => sent += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if sent == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(sent)
    }

    /// Sends headers `from..to` as prepared, retrying after partial sends; skips a datagram
    /// that fails (other than by a signal).
    fn send_prepared(&mut self, fd: RawFd, from: usize, to: usize) -> usize {
        let (mut next, mut sent) = (from, 0);
        while next < to {
            match self.send_once(fd, next, to) {
                Ok(k) => {
                    next += k;
                    sent += k;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => next += 1,
            }
        }
        sent
    }

    /// One `sendmmsg` of headers `from..to`.
    fn send_once(&mut self, fd: RawFd, from: usize, to: usize) -> io::Result<usize> {
        let vlen = libc::c_uint::try_from(to - from).map_err(io::Error::other)?;
        // SAFETY: `hdrs[from..to]` are valid mmsghdrs prepared by `point_headers` (or by a
        // `recv` whose names stay valid), pointing into `data`, `iovs` and `addrs`, which
        // outlive the call.
        let n = unsafe { libc::sendmmsg(fd, self.hdrs[from..to].as_mut_ptr(), vlen, 0) };
        usize::try_from(n).map_err(|_| io::Error::last_os_error())
    }

    /// Points headers `0..n` at their slots (`len` bytes each) and, if `named`, at their
    /// address buffers.
    fn point_headers(&mut self, n: usize, len: usize, named: bool) {
        let base = self.data.as_mut_ptr();
        for i in 0..n {
            // The slot lies inside `data`, so the offset stays in bounds.
            self.iovs[i].iov_base = base.wrapping_add(i * self.slot_size).cast();
            self.iovs[i].iov_len = len;
            let hdr = &mut self.hdrs[i].msg_hdr;
            hdr.msg_iov = &mut self.iovs[i];
            hdr.msg_iovlen = 1;
            if named {
                hdr.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
                hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as u32;
            } else {
                hdr.msg_name = std::ptr::null_mut();
                hdr.msg_namelen = 0;
            }
            hdr.msg_control = std::ptr::null_mut();
            hdr.msg_controllen = 0;
            hdr.msg_flags = 0;
        }
    }
}

/// The first [`SENDER_BYTES`] of an address, as words (cheap to compare). Bytes past the
/// address's length may be left from an earlier, longer address: two equal senders may then
/// look different, and merely miss being grouped; different senders never look equal.
fn address_words(storage: &libc::sockaddr_storage) -> [u64; SENDER_BYTES / 8] {
    let storage: *const libc::sockaddr_storage = storage;
    // SAFETY: a `sockaddr_storage` is 128 bytes of plain data without padding, all of them
    // initialised (zeroed at creation, since written only by the kernel); its first 32
    // bytes are in bounds, and an unaligned read needs no alignment.
    unsafe { storage.cast::<[u64; SENDER_BYTES / 8]>().read_unaligned() }
}
