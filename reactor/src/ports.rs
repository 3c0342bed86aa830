//! The reactor's table of ports: a slab of entries (a [`Port`] and its protocol), keyed by
//! `mio` token, each named by a generation-tagged [`PortId`].
//!
//! While a protocol callback runs, its entry is lent out of the table (the slot keeps a
//! [`Transport`] so the port still shows in listings and totals): the callback owns its port
//! and its protocol by `&mut`, the rest of the reactor stays reachable through the core, and
//! the two borrows never overlap.

use slab::Slab;

use crate::protocol::DatagramProtocol;
use crate::stats::PortStats;
use crate::udp::Transport;
use crate::udp::port::{Port, PortId};
use crate::udp::send_queue::PortLookup;

/// One port and its protocol.
pub(crate) struct Entry {
    pub port: Port,
    pub protocol: Box<dyn DatagramProtocol>,
}

impl Entry {
    pub fn id(&self) -> PortId {
        self.port.id()
    }
}

enum Slot {
    /// In the table.
    Here(Entry),
    /// Lent to a running callback.
    Lent(Transport),
}

impl Slot {
    fn transport(&self) -> &Transport {
        match self {
            Slot::Here(entry) => entry.port.transport(),
            Slot::Lent(transport) => transport,
        }
    }

    fn id(&self) -> PortId {
        self.transport().shared().id
    }
}

#[derive(Default)]
pub(crate) struct PortTable {
    slab: Slab<Slot>,
    next_serial: u64,
}

impl PortTable {
    /// The id the next inserted port will get (its key is its `mio` token).
    pub fn next_id(&self) -> PortId {
        PortId {
            key: self.slab.vacant_key(),
            serial: self.next_serial,
        }
    }

    /// Files a new port under [`next_id`](Self::next_id), as lent: its creator holds the
    /// entry while `start_protocol` runs, then puts it back.
    pub fn insert_lent(&mut self, transport: Transport) -> PortId {
        let id = transport.shared().id;
        debug_assert_eq!(id, self.next_id());
        self.next_serial += 1;
        self.slab.insert(Slot::Lent(transport));
        id
    }

    /// Takes an entry out for a callback; `None` if the port is gone or already lent.
    #[inline]
    pub fn lend(&mut self, id: PortId) -> Option<Entry> {
        let slot = self.slab.get_mut(id.key)?;
        match slot {
            Slot::Here(entry) if entry.id() == id => {
                let lent = Slot::Lent(entry.port.transport().clone());
                match std::mem::replace(slot, lent) {
                    Slot::Here(entry) => Some(entry),
                    Slot::Lent(_) => unreachable!("matched as Here"),
                }
            }
            _ => None,
        }
    }

    /// Puts a lent entry back.
    #[inline]
    pub fn put_back(&mut self, entry: Entry) {
        if let Some(slot) = self.slab.get_mut(entry.id().key) {
            *slot = Slot::Here(entry);
        }
    }

    /// Removes a port that is in the table (not lent); `None` otherwise.
    pub fn take(&mut self, id: PortId) -> Option<Entry> {
        match self.slab.get(id.key) {
            Some(Slot::Here(entry)) if entry.id() == id => match self.slab.remove(id.key) {
                Slot::Here(entry) => Some(entry),
                Slot::Lent(_) => None,
            },
            _ => None,
        }
    }

    /// Forgets a lent slot whose entry will not come back (a port that failed to start).
    pub fn remove_lent(&mut self, id: PortId) {
        if matches!(self.slab.get(id.key), Some(Slot::Lent(t)) if t.shared().id == id) {
            self.slab.remove(id.key);
        }
    }

    /// The port behind a `mio` token, if any.
    pub fn by_key(&self, key: usize) -> Option<PortId> {
        self.slab.get(key).map(Slot::id)
    }

    /// A port in the table (not lent).
    pub fn get(&self, id: PortId) -> Option<&Port> {
        match self.slab.get(id.key) {
            Some(Slot::Here(entry)) if entry.id() == id => Some(&entry.port),
            _ => None,
        }
    }

    pub fn ids(&self) -> Vec<PortId> {
        self.slab.iter().map(|(_, slot)| slot.id()).collect()
    }

    pub fn transports(&self) -> Vec<Transport> {
        self.slab
            .iter()
            .map(|(_, slot)| slot.transport().clone())
            .collect()
    }

    pub fn len(&self) -> usize {
        self.slab.len()
    }

    /// Totals over the open ports.
    pub fn totals(&self) -> PortStats {
        self.slab
            .iter()
            .fold(PortStats::default(), |sum, (_, slot)| {
                sum.plus(slot.transport().final_stats())
            })
    }
}

impl PortLookup for PortTable {
    fn port(&mut self, id: PortId) -> Option<&mut Port> {
        match self.slab.get_mut(id.key) {
            Some(Slot::Here(entry)) if entry.id() == id => Some(&mut entry.port),
            _ => None,
        }
    }
}

/// The table, plus the entry lent out of it: what a flush inside a read sees.
pub(crate) struct WithLent<'a> {
    pub table: &'a mut PortTable,
    pub lent: &'a mut Port,
}

impl PortLookup for WithLent<'_> {
    #[inline]
    fn port(&mut self, id: PortId) -> Option<&mut Port> {
        if self.lent.id() == id {
            return Some(self.lent);
        }
        self.table.port(id)
    }
}
