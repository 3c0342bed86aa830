//! Batches built from one `recv_from`/`send_to` per datagram: the portable path, and the one
//! selected on Linux with `--cfg gyre_portable_io` so it stays compiled and tested.

use std::io;
use std::net::SocketAddr;

use mio::net::UdpSocket;

use super::{BATCH, Datagram, SLOT};

/// Receive buffers for one batch, reused for every port.
pub(crate) struct RecvBatch {
    pub(super) buffers: Vec<u8>,
    pub(super) meta: Vec<Datagram>,
}

impl RecvBatch {
    pub(crate) fn new() -> RecvBatch {
        RecvBatch {
            buffers: vec![0; BATCH * SLOT],
            meta: Vec::with_capacity(BATCH),
        }
    }

    /// Reads datagrams one `recv_from` at a time until `BATCH` or the queue is empty.
    pub(crate) fn recv(&mut self, socket: &UdpSocket, limit: usize) -> io::Result<usize> {
        let len = limit.min(SLOT);
        self.meta.clear();
        while self.meta.len() < BATCH {
            let start = self.meta.len() * SLOT;
            match super::recv_from(socket, &mut self.buffers[start..start + len]) {
                Ok(got) => self.meta.push(Datagram {
                    len: got.len,
                    from: got.from,
                    drops: None,
                }),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && !self.meta.is_empty() => break,
                Err(e) if !self.meta.is_empty() && e.kind() != io::ErrorKind::Interrupted => {
                    let _ = e; // report it on the next call, after these datagrams
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(self.meta.len())
    }
}

/// The kernel's limit on segments per GSO send (unused here: no GSO on this path).
pub(crate) const GSO_MAX_SEGMENTS: usize = 64;

/// Sends one datagram at a time.
pub(crate) struct SendBatch;

impl SendBatch {
    pub(crate) fn new() -> SendBatch {
        SendBatch
    }

    /// No GSO on the portable path.
    pub(crate) fn gso_available(&self) -> bool {
        false
    }

    /// Never called: `gso_available` is false.
    pub(crate) fn send_segments(
        &mut self,
        _socket: &UdpSocket,
        _data: &[u8],
        _segment: usize,
        _to: Option<SocketAddr>,
    ) -> io::Result<()> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "no UDP GSO"))
    }

    /// Sends datagrams in order until one fails; returns how many went, or the first error.
    pub(crate) fn send(
        &mut self,
        socket: &UdpSocket,
        datagrams: &[(&[u8], Option<SocketAddr>)],
    ) -> io::Result<usize> {
        for (i, (data, to)) in datagrams.iter().take(BATCH).enumerate() {
            let sent = match to {
                Some(to) => socket.send_to(data, *to),
                None => socket.send(data),
            };
            if let Err(e) = sent {
                return if i == 0 { Err(e) } else { Ok(i) };
            }
        }
        Ok(datagrams.len().min(BATCH))
    }
}

/// No drop counter outside Linux.
pub(crate) fn enable_overflow_count(_socket: &socket2::Socket) -> io::Result<()> {
    Ok(())
}
