//! [`Context`]: what every protocol callback is handed.

use crate::handle::Handle;
use crate::udp::Transport;

/// The world as a protocol callback sees it: its port's transport and the reactor.
///
/// Everything reachable from here may be used freely inside the callback: writing, opening
/// and stopping ports, scheduling calls, stopping the reactor. Changes that would touch the
/// callback's own protocol (stopping its port) take effect after it returns.
#[derive(Debug)]
pub struct Context<'a> {
    pub(crate) transport: &'a Transport,
    pub(crate) handle: &'a Handle,
}

impl<'a> Context<'a> {
    /// This port's transport (Twisted's `self.transport`). Clone it to keep it.
    pub fn transport(&self) -> &'a Transport {
        self.transport
    }

    /// The reactor (Twisted's global `reactor`). Clone it to keep it.
    pub fn reactor(&self) -> &'a Handle {
        self.handle
    }
}
