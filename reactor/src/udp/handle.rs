//! [`ProtocolHandle`]: a port's transport, plus its protocol by type, reachable between
//! callbacks without sharing the protocol's state through `Rc<RefCell<…>>`.

use std::fmt;
use std::marker::PhantomData;

use super::Transport;
use crate::core::Core;
use crate::protocol::DatagramProtocol;

/// A port opened with [`Core::listen_udp_with_handle`]: its [`Transport`] (it dereferences to
/// it), and its protocol, lent by `&mut` for a closure given the reactor
/// ([`with`](ProtocolHandle::with)). A timer, a `LoopingCall` (through
/// [`Handle::call_soon`](crate::Handle::call_soon)) or `main` reads and changes the
/// protocol's state that way; no `Rc<RefCell<…>>` is needed for it. Cheap to clone.
///
/// ```
/// use gyre::prelude::*;
/// use gyre::udp::{ListenOptions, ProtocolError};
/// use std::net::SocketAddr;
///
/// #[derive(Default)]
/// struct Counter { seen: u64 }
///
/// impl DatagramProtocol for Counter {
///     fn datagram_received(&mut self, _: &mut Context<'_>, _: &[u8], _: SocketAddr) -> Outcome {
///         self.seen += 1;
///         Ok(())
///     }
/// }
///
/// let mut reactor = Reactor::new().unwrap();
/// let options = ListenOptions::new(0).interface("127.0.0.1");
/// let port = reactor.listen_udp_with_handle(options, Counter::default()).unwrap();
/// assert_eq!(port.with(&mut reactor, |c| c.seen), Ok(0));
/// port.stop_listening();
/// reactor.iterate(std::time::Duration::ZERO).unwrap();
/// assert_eq!(port.with(&mut reactor, |c| c.seen), Err(ProtocolError::Closed));
/// ```
pub struct ProtocolHandle<P> {
    transport: Transport,
    protocol: PhantomData<fn() -> P>,
}

/// Why [`ProtocolHandle::with`] could not lend the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The port has closed; its protocol is gone.
    Closed,
    /// One of the protocol's own callbacks is running (the protocol is lent to it): reach
    /// the state through `&mut self` there.
    InCallback,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProtocolError::Closed => "the port has closed",
            ProtocolError::InCallback => "the protocol is running one of its own callbacks",
        })
    }
}

impl std::error::Error for ProtocolError {}

impl<P: DatagramProtocol> ProtocolHandle<P> {
    pub(crate) fn new(transport: Transport) -> ProtocolHandle<P> {
        ProtocolHandle {
            transport,
            protocol: PhantomData,
        }
    }

    /// Runs `f` with the port's protocol, lent by `&mut` for the call.
    pub fn with<R>(
        &self,
        reactor: &mut Core,
        f: impl FnOnce(&mut P) -> R,
    ) -> Result<R, ProtocolError> {
        let id = self.transport.shared().id();
        let entry = reactor.ports.here_mut(id).map_err(|lent| match lent {
            true => ProtocolError::InCallback,
            false => ProtocolError::Closed,
        })?;
        let protocol = entry
            .protocol
            .as_any_mut()
            .downcast_mut::<P>()
            .expect("a ProtocolHandle<P> names a port listening with a P");
        Ok(f(protocol))
    }

    /// The port's transport.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }
}

impl<P> Clone for ProtocolHandle<P> {
    fn clone(&self) -> Self {
        ProtocolHandle {
            transport: self.transport.clone(),
            protocol: PhantomData,
        }
    }
}

impl<P> std::ops::Deref for ProtocolHandle<P> {
    type Target = Transport;

    fn deref(&self) -> &Transport {
        &self.transport
    }
}

impl<P> fmt::Debug for ProtocolHandle<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProtocolHandle({:?})", self.transport)
    }
}
