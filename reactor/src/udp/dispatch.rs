//! Calling into a protocol: take it out of its slot, call, catch, log, put it back.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use super::table::PortId;
use super::transport::Transport;
use crate::context::Context;
use crate::defer::panic_message;
use crate::handle::Handle;
use crate::protocol::{DatagramProtocol, Outcome};

/// A protocol lent out of its slot for the duration of one or more callbacks. Dropping it
/// puts the protocol back, if its port still exists.
pub(crate) struct Lent<'h> {
    handle: &'h Handle,
    id: PortId,
    protocol: Option<Box<dyn DatagramProtocol>>,
    transport: Transport,
    name: Rc<str>,
}

impl<'h> Lent<'h> {
    /// Takes the protocol of port `id`; `None` if the port is gone or already lent (a
    /// callback of this very port is running).
    pub fn take(handle: &'h Handle, id: PortId) -> Option<Lent<'h>> {
        let mut ports = handle.shared.ports.borrow_mut();
        let slot = ports.get_mut(id)?;
        let protocol = slot.protocol.take()?;
        Some(Lent {
            handle,
            id,
            protocol: Some(protocol),
            transport: Transport::new(handle, id),
            name: slot.name.clone(),
        })
    }

    /// Calls one protocol method. A failure or panic is logged with the port and counted;
    /// returns whether the call succeeded.
    pub fn call(
        &mut self,
        what: &str,
        f: impl FnOnce(&mut dyn DatagramProtocol, &mut Context<'_>) -> Outcome,
    ) -> Result<(), crate::defer::Failure> {
        let protocol = self
            .protocol
            .as_deref_mut()
            .expect("lent protocol present until drop");
        let mut cx = Context {
            transport: &self.transport,
            handle: self.handle,
        };
        let failure = match catch_unwind(AssertUnwindSafe(|| f(protocol, &mut cx))) {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(failure)) => failure,
            Err(panic) => crate::defer::Failure::new(crate::error::PanicError {
                message: panic_message(panic.as_ref()),
            }),
        };
        self.handle.shared.counters.callback_failures.add(1);
        log::error!(target: "gyre::udp", "{}: {what} failed: {failure:#}", self.name);
        Err(failure)
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        let protocol = self.protocol.take();
        let homeless = {
            let mut ports = self.handle.shared.ports.borrow_mut();
            match ports.get_mut(self.id) {
                Some(slot) => {
                    slot.protocol = protocol;
                    None
                }
                None => protocol,
            }
        };
        drop(homeless); // outside the borrow: a protocol's Drop may use its transport
    }
}
