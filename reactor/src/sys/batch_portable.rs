//! Batches built from one `recv_from`/`send_to` per datagram: the portable path, and the one
//! selected on Linux with `--cfg gyre_portable_io` so it stays compiled and tested.

use std::io;
use std::net::SocketAddr;

use mio::net::UdpSocket;

use super::{BATCH, SLOT};

/// What a batch knows of one received datagram.
#[derive(Debug, Clone, Copy)]
struct Received {
    /// Its real length (more than its slot holds when it was truncated).
    len: usize,
    from: SocketAddr,
}

/// Receive buffers for one batch, reused for every port.
pub(crate) struct RecvBatch {
    pub(super) buffers: Vec<u8>,
    meta: Vec<Received>,
    /// Bytes each slot holds for the current batch.
    limit: usize,
    /// The senders of a UNIX datagram batch.
    unix_from: Vec<crate::unix::UnixAddress>,
}

impl RecvBatch {
    pub(crate) fn new() -> RecvBatch {
        RecvBatch {
            buffers: vec![0; BATCH * SLOT],
            meta: Vec::with_capacity(BATCH),
            limit: SLOT,
            unix_from: Vec::with_capacity(BATCH),
        }
    }

    /// Reads datagrams one `recv_from` at a time until `BATCH` or the queue is empty.
    pub(crate) fn recv(&mut self, socket: &UdpSocket, limit: usize) -> io::Result<usize> {
        self.limit = limit.min(SLOT);
        self.meta.clear();
        while self.meta.len() < BATCH {
            let start = self.meta.len() * SLOT;
            match super::recv_from(socket, &mut self.buffers[start..start + self.limit]) {
                Ok(got) => self.meta.push(Received {
                    len: got.len,
                    from: got.from,
                }),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // Anything else after some datagrams: report it on the next call, after these.
                Err(_) if !self.meta.is_empty() => break,
                Err(e) => return Err(e),
            }
        }
        Ok(self.meta.len())
    }

    /// Reads datagrams from a UNIX datagram socket one `recv_from` at a time, as
    /// [`recv`](Self::recv) does.
    pub(crate) fn recv_unix(
        &mut self,
        socket: &socket2::Socket,
        limit: usize,
    ) -> io::Result<usize> {
        self.limit = limit.min(SLOT);
        self.meta.clear();
        self.unix_from.clear();
        while self.meta.len() < BATCH {
            let start = self.meta.len() * SLOT;
            match super::recv_unix_sender(socket, &mut self.buffers[start..start + self.limit]) {
                Ok((len, from)) => {
                    self.meta.push(Received {
                        len,
                        from: SocketAddr::from(([0, 0, 0, 0], 0)),
                    });
                    self.unix_from.push(from);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) if !self.meta.is_empty() => break,
                Err(e) => return Err(e),
            }
        }
        Ok(self.meta.len())
    }

    /// The sender of datagram `i` of a [`recv_unix`](Self::recv_unix) batch.
    pub(crate) fn unix_sender(&self, i: usize) -> crate::unix::UnixAddress {
        self.unix_from[i]
    }

    /// Puts one datagram in slot 0, as if received (for in-memory sockets); returns 1.
    pub(crate) fn fill(&mut self, data: &[u8], from: SocketAddr) -> usize {
        let n = data.len().min(SLOT);
        self.buffers[..n].copy_from_slice(&data[..n]);
        self.limit = SLOT;
        self.meta.clear();
        self.meta.push(Received {
            len: data.len(),
            from,
        });
        1
    }

    /// The real length of datagram `i` of the last batch.
    pub(crate) fn len(&self, i: usize) -> usize {
        self.meta[i].len
    }

    /// The sender of datagram `i`.
    pub(crate) fn from(&self, i: usize) -> SocketAddr {
        self.meta[i].from
    }

    /// The bytes of datagram `i` (cut to what its slot held).
    pub(crate) fn data(&self, i: usize) -> &[u8] {
        let start = i * SLOT;
        &self.buffers[start..start + self.meta[i].len.min(self.limit)]
    }

    /// The first `n` datagrams' lengths.
    pub(crate) fn lens(&self, n: usize) -> impl Iterator<Item = usize> + '_ {
        self.meta[..n].iter().map(|m| m.len)
    }

    /// No control messages on this path: the destination is not known.
    pub(crate) fn destination(&self, _i: usize) -> Option<(std::net::IpAddr, u32)> {
        None
    }

    /// No GRO on this path: every slot holds one datagram.
    pub(crate) fn segment_size(&self, _i: usize) -> Option<usize> {
        None
    }

    /// No drop counter on this path.
    pub(crate) fn drops(&self, _i: usize) -> Option<u32> {
        None
    }
}

/// This path reads no control messages (one `recv_from` per datagram).
pub(crate) const CONTROL_MESSAGES: bool = false;

/// The kernel's limit on segments per GSO send (unused here: no GSO on this path).
pub(crate) const GSO_MAX_SEGMENTS: usize = 64;

/// Sends one datagram at a time.
pub(crate) struct SendBatch;

impl SendBatch {
    pub(crate) fn new() -> SendBatch {
        SendBatch
    }

    /// Never called: [`gso_supported`] is false here.
    pub(crate) fn send_segments<'d>(
        &mut self,
        _socket: &UdpSocket,
        _segments: impl Iterator<Item = &'d [u8]>,
        _size: usize,
        _to: Option<SocketAddr>,
    ) -> io::Result<()> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "no UDP GSO"))
    }

    /// Sends `n` datagrams in order until one fails; returns how many went, or the first
    /// error (an error after the first is not reported: `sendmmsg`'s rule).
    pub(crate) fn send<'d>(
        &mut self,
        socket: &UdpSocket,
        n: usize,
        mut datagram: impl FnMut(usize) -> (&'d [u8], Option<SocketAddr>),
    ) -> io::Result<usize> {
        let mut sent = 0;
        for (data, to) in (0..n.min(BATCH)).map(&mut datagram) {
            let result = match to {
                Some(to) => socket.send_to(data, to),
                None => socket.send(data),
            };
            match result {
                Ok(_) => sent += 1,
                Err(e) if sent == 0 => return Err(e),
                Err(_) => break, // report it when the caller sends the rest
            }
        }
        Ok(sent)
    }
}

/// No UDP GSO on the portable path.
pub(crate) fn gso_supported(_socket: &UdpSocket) -> bool {
    false
}

/// No drop counter outside Linux.
pub(crate) fn enable_overflow_count(_socket: &socket2::Socket) -> io::Result<()> {
    Ok(())
}
