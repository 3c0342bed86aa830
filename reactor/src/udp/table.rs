//! The reactor's table of open UDP ports, keyed by `mio` token.

use std::net::SocketAddr;
use std::rc::Rc;

use slab::Slab;

use super::socket::PortSocket;
use crate::defer::Deferred;
use crate::protocol::DatagramProtocol;
use crate::stats::{PortCounters, PortStats};

/// Names one port for as long as the reactor lives: `key` is its slab slot (and `mio`
/// token), `serial` is unique and never reused, so an id kept after its port closed can never
/// reach a later port in the same slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct PortId {
    pub key: usize,
    pub serial: u64,
}

/// Where a port is in its life.
pub(crate) enum PortState {
    Listening,
    /// `stop_listening` was called; the port closes at the end of the turn and fires this.
    Stopping(Deferred<()>),
}

/// One open port: its socket, its protocol (absent while a callback runs) and its counters.
pub(crate) struct PortSlot {
    pub id: PortId,
    pub socket: PortSocket,
    pub protocol: Option<Box<dyn DatagramProtocol>>,
    /// `"<protocol> (UDP <address>)"`, for logs.
    pub name: Rc<str>,
    pub local: SocketAddr,
    pub dual_stack: bool,
    pub connected: Option<SocketAddr>,
    pub max_packet: usize,
    pub state: PortState,
    /// ICMP refusals seen by `write` that still wait for `connection_refused`.
    pub refusals_pending: u32,
    pub counters: PortCounters,
}

impl PortSlot {
    pub fn is_listening(&self) -> bool {
        matches!(self.state, PortState::Listening)
    }
}

#[derive(Default)]
pub(crate) struct PortTable {
    slab: Slab<PortSlot>,
    next_serial: u64,
}

impl PortTable {
    /// Makes room for a port and returns its id; `fill` builds the slot given that id.
    pub fn insert(&mut self, fill: impl FnOnce(PortId) -> PortSlot) -> PortId {
        let entry = self.slab.vacant_entry();
        let id = PortId {
            key: entry.key(),
            serial: self.next_serial,
        };
        self.next_serial += 1;
        entry.insert(fill(id));
        id
    }

    /// The slab key (and `mio` token) the next inserted port will get.
    pub fn vacant_key(&self) -> usize {
        self.slab.vacant_key()
    }

    pub fn get(&self, id: PortId) -> Option<&PortSlot> {
        self.slab.get(id.key).filter(|slot| slot.id == id)
    }

    pub fn get_mut(&mut self, id: PortId) -> Option<&mut PortSlot> {
        self.slab.get_mut(id.key).filter(|slot| slot.id == id)
    }

    /// The port behind a `mio` token, if any.
    pub fn by_key(&self, key: usize) -> Option<PortId> {
        self.slab.get(key).map(|slot| slot.id)
    }

    pub fn remove(&mut self, id: PortId) -> Option<PortSlot> {
        self.get(id)?;
        Some(self.slab.remove(id.key))
    }

    pub fn ids(&self) -> Vec<PortId> {
        self.slab.iter().map(|(_, slot)| slot.id).collect()
    }

    pub fn len(&self) -> usize {
        self.slab.len()
    }

    /// Totals over the open ports.
    pub fn totals(&self) -> PortStats {
        self.slab
            .iter()
            .fold(PortStats::default(), |sum, (_, slot)| {
                sum.plus(slot.counters.snapshot())
            })
    }
}
