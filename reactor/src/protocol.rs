//! [`DatagramProtocol`]: what a user implements to handle a UDP port (Twisted's
//! `DatagramProtocol`).

use std::net::SocketAddr;

use crate::context::Context;
use crate::defer::Failure;
use crate::udp::IcmpError;

/// Any protocol as `dyn Any`, so a [`ProtocolHandle`](crate::udp::ProtocolHandle) can give
/// back the protocol's own type. Implemented for every `'static` type: nothing to write.
#[doc(hidden)]
pub trait AsAny: 'static {
    /// `self` as `dyn Any`.
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any;
}

impl<T: 'static> AsAny for T {
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

/// What a protocol callback returns. `Err` is Twisted's raised exception: it is logged with
/// the port, counted, and the port keeps working. `?` converts any error.
pub type Outcome = Result<(), Failure>;

/// The handler of one UDP port.
///
/// Each callback gets a [`Context`]: its port, lent for the callback
/// ([`TransportMut`](crate::udp::TransportMut)), and the reactor's [`Core`](crate::Core).
/// While a callback runs, the port and its protocol are out of the reactor's table, so the
/// callback has `&mut self` and the context with no `RefCell` in sight; a panic is caught at
/// that boundary, logged with the port, and the reactor goes on serving every other port.
///
/// ```
/// use gyre::{Context, DatagramProtocol, Outcome};
/// use std::net::SocketAddr;
///
/// struct Echo;
///
/// impl DatagramProtocol for Echo {
///     fn datagram_received(&mut self, cx: &mut Context<'_>, data: &[u8], from: SocketAddr) -> Outcome {
///         cx.transport().write_to(data, from)?;
///         Ok(())
///     }
/// }
/// ```
pub trait DatagramProtocol: AsAny {
    /// The port is open: called before `listen_udp` returns (Twisted's `startProtocol`).
    /// An error here closes the port again and `listen_udp` returns it.
    fn start_protocol(&mut self, cx: &mut Context<'_>) -> Outcome {
        let _ = cx;
        Ok(())
    }

    /// The port is closing: called once, on a later loop turn than the `stop_listening` that
    /// asked for it (never from inside that call), or at reactor shutdown.
    fn stop_protocol(&mut self, cx: &mut Context<'_>) -> Outcome {
        let _ = cx;
        Ok(())
    }

    /// One datagram arrived. `data` borrows the reactor's receive buffer: copy what you keep.
    fn datagram_received(&mut self, cx: &mut Context<'_>, data: &[u8], from: SocketAddr)
    -> Outcome;

    /// On a connected port, the peer's host answered a previous datagram with ICMP "port
    /// unreachable" (Twisted's `connectionRefused`). The port stays open.
    fn connection_refused(&mut self, cx: &mut Context<'_>) -> Outcome {
        let _ = cx;
        Ok(())
    }

    /// An ICMP error about a datagram this port sent (ports listening with
    /// [`ListenOptions::icmp_errors`](crate::udp::ListenOptions::icmp_errors) only; not in
    /// Twisted): called after the callback or turn in which the kernel reported it, once per
    /// report. The port stays open.
    fn icmp_error(&mut self, cx: &mut Context<'_>, error: &IcmpError) -> Outcome {
        let _ = (cx, error);
        Ok(())
    }

    /// A name for logs; the type's name by default (Twisted's `logPrefix`).
    fn log_prefix(&self) -> &str {
        let name = std::any::type_name::<Self>();
        name.rsplit("::").next().unwrap_or(name)
    }
}
