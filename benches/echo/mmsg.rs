//! Batched datagram I/O with `recvmmsg`/`sendmmsg`, for the recvmmsg baseline server and for
//! the load generator (so the generator spends far less per datagram than any server).

use std::io;
use std::os::fd::RawFd;

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
        self.send_prepared(fd, n)
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

    /// Sends headers `0..n` as prepared, retrying after partial sends; skips a datagram that
    /// fails (other than by a signal).
    fn send_prepared(&mut self, fd: RawFd, n: usize) -> usize {
        let (mut next, mut sent) = (0, 0);
        while next < n {
            match self.send_once(fd, next, n) {
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
