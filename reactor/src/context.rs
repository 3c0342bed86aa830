//! [`Context`]: what every protocol callback is handed.

use crate::core::Core;
use crate::sys::RecvBatch;
use crate::udp::TransportMut;
use crate::udp::port::Port;
use crate::udp::send_queue::SendQueue;

/// The world as a protocol callback sees it: its own port, lent for the callback, and the
/// rest of the reactor.
///
/// The two are disjoint `&mut` borrows: [`transport`](Context::transport) writes straight into
/// the reactor's send queue, and [`reactor`](Context::reactor) may open and stop ports,
/// schedule calls or stop the reactor meanwhile. Changes that would touch the callback's own
/// protocol (stopping its port) take effect after it returns.
pub struct Context<'a> {
    pub(crate) core: &'a mut Core,
    pub(crate) transport: TransportMut<'a>,
}

impl<'a> Context<'a> {
    /// A context for a callback on `port`. `queue` and `recv` are the reactor's send queue
    /// and receive buffers while datagrams are delivered; other callbacks write through the
    /// outbox, as kept transports do.
    pub(crate) fn new(
        core: &'a mut Core,
        port: &'a mut Port,
        queue: Option<&'a mut SendQueue>,
        recv: Option<&'a RecvBatch>,
    ) -> Self {
        Context {
            core,
            transport: TransportMut::new(port, queue, recv),
        }
    }

    /// This port's transport (Twisted's `self.transport`): write, connect, stop, query.
    /// `.clone()` on it gives a [`Transport`](crate::udp::Transport) to keep.
    #[inline]
    pub fn transport(&mut self) -> &mut TransportMut<'a> {
        &mut self.transport
    }

    /// The reactor (Twisted's global `reactor`): open ports, schedule calls, stop.
    #[inline]
    pub fn reactor(&mut self) -> &mut Core {
        self.core
    }
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("port", &self.transport)
            .field("reactor", &self.core)
            .finish()
    }
}
