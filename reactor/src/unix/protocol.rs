//! [`UnixDatagramProtocol`]: what a user implements to handle a UNIX datagram port, and the
//! [`UnixContext`] its callbacks get.

use super::{UnixAddress, UnixTransport};
use crate::core::Core;
use crate::protocol::Outcome;

/// The handler of one UNIX datagram port: [`DatagramProtocol`](crate::DatagramProtocol) with
/// a [`UnixAddress`] where UDP has a `SocketAddr`.
///
/// A second trait rather than a type parameter on the UDP one: a UNIX address is a path of up
/// to 108 bytes, not a 32-byte `Copy` value, and a UNIX port has no multicast, broadcast or
/// IP options. Keeping the two apart keeps every UDP signature, and the UDP receive path, as
/// they are. Callbacks are guarded the same way: a failure or panic is logged with the port
/// and counted, and the reactor goes on.
///
/// ```
/// use gyre::Outcome;
/// use gyre::unix::{UnixAddress, UnixContext, UnixDatagramProtocol};
///
/// struct Echo;
///
/// impl UnixDatagramProtocol for Echo {
///     fn datagram_received(&mut self, cx: &mut UnixContext<'_>, data: &[u8], from: &UnixAddress) -> Outcome {
///         if !from.is_unnamed() {
///             cx.transport().write_to(data, from)?; // an unnamed sender cannot be answered
///         }
///         Ok(())
///     }
/// }
/// ```
pub trait UnixDatagramProtocol: 'static {
    /// The port is open: called before `listen_unix_datagram` (or `connect_unix_datagram`)
    /// returns. An error here closes the port again and the call returns it.
    fn start_protocol(&mut self, cx: &mut UnixContext<'_>) -> Outcome {
        let _ = cx;
        Ok(())
    }

    /// The port is closing: called once, on a later loop turn than the `stop_listening` that
    /// asked for it, or at reactor shutdown.
    fn stop_protocol(&mut self, cx: &mut UnixContext<'_>) -> Outcome {
        let _ = cx;
        Ok(())
    }

    /// One datagram arrived from `from` (unnamed when the sender never bound an address).
    /// `data` borrows the reactor's receive buffer: copy what you keep.
    fn datagram_received(
        &mut self,
        cx: &mut UnixContext<'_>,
        data: &[u8],
        from: &UnixAddress,
    ) -> Outcome;

    /// On a connected port, the peer's socket is gone: a write found no one there (Twisted's
    /// `connectionRefused`). The port stays open.
    fn connection_refused(&mut self, cx: &mut UnixContext<'_>) -> Outcome {
        let _ = cx;
        Ok(())
    }

    /// A name for logs; the type's name by default (Twisted's `logPrefix`).
    fn log_prefix(&self) -> &str {
        let name = std::any::type_name::<Self>();
        name.rsplit("::").next().unwrap_or(name)
    }
}

/// What a UNIX protocol callback is handed: its port's transport and the reactor, as two
/// disjoint borrows.
pub struct UnixContext<'a> {
    pub(crate) core: &'a mut Core,
    pub(crate) transport: &'a UnixTransport,
}

impl<'a> UnixContext<'a> {
    /// This port's transport (Twisted's `self.transport`); `.clone()` gives one to keep.
    #[inline]
    pub fn transport(&self) -> &'a UnixTransport {
        self.transport
    }

    /// The reactor (Twisted's global `reactor`).
    #[inline]
    pub fn reactor(&mut self) -> &mut Core {
        self.core
    }
}

impl std::fmt::Debug for UnixContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnixContext")
            .field("port", &self.transport)
            .field("reactor", &self.core)
            .finish()
    }
}
