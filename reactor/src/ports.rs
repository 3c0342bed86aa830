//! The reactor's tables of ports: slabs of entries (a port and its protocol), keyed by `mio`
//! token, each named by a generation-tagged [`PortId`]. There is one table per kind of port
//! (UDP, UNIX datagram); a tag bit in the key tells the kinds' tokens apart.
//!
//! While a protocol callback runs, its entry is lent out of the table (the slot keeps a
//! handle, so the port still shows in listings and totals): the callback owns its port and
//! its protocol by `&mut`, the rest of the reactor stays reachable through the core, and the
//! two borrows never overlap.

use slab::Slab;

use crate::protocol::DatagramProtocol;
use crate::stats::PortStats;
use crate::udp::Transport;
use crate::udp::port::{Port, PortId};
use crate::udp::send_queue::PortLookup;

/// Set in the key (and `mio` token) of every UNIX datagram port; clear for UDP ports.
pub(crate) const UNIX_TAG: usize = 1 << (usize::BITS - 2);

/// What a table files: an entry with an id, and the handle its slot keeps while it is lent.
pub(crate) trait Filed {
    /// The tag bit of this kind's keys.
    const TAG: usize;
    /// A handle on the port to keep in the slot while the entry is lent.
    type Handle: Clone;
    fn handle(&self) -> &Self::Handle;
    fn handle_id(handle: &Self::Handle) -> PortId;
    fn handle_stats(handle: &Self::Handle) -> PortStats;
}

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

impl Filed for Entry {
    const TAG: usize = 0;
    type Handle = Transport;

    #[inline]
    fn handle(&self) -> &Transport {
        self.port.transport()
    }

    #[inline]
    fn handle_id(handle: &Transport) -> PortId {
        handle.shared().id()
    }

    fn handle_stats(handle: &Transport) -> PortStats {
        handle.final_stats()
    }
}

impl PortId {
    /// Whether this names a UNIX datagram port.
    #[inline]
    pub fn is_unix(self) -> bool {
        self.key & UNIX_TAG != 0
    }
}

enum Slot<E: Filed> {
    /// In the table.
    Here(E),
    /// Lent to a running callback.
    Lent(E::Handle),
}

impl<E: Filed> Slot<E> {
    fn handle(&self) -> &E::Handle {
        match self {
            Slot::Here(entry) => entry.handle(),
            Slot::Lent(handle) => handle,
        }
    }

    #[inline]
    fn id(&self) -> PortId {
        E::handle_id(self.handle())
    }
}

pub(crate) struct PortTable<E: Filed = Entry> {
    slab: Slab<Slot<E>>,
    next_serial: u64,
}

impl<E: Filed> Default for PortTable<E> {
    fn default() -> Self {
        PortTable {
            slab: Slab::new(),
            next_serial: 0,
        }
    }
}

impl<E: Filed> PortTable<E> {
    /// The id the next inserted port will get (its key is its `mio` token).
    pub fn next_id(&self) -> PortId {
        PortId {
            key: self.slab.vacant_key() | E::TAG,
            serial: self.next_serial,
        }
    }

    /// Files a new port under [`next_id`](Self::next_id), as lent: its creator holds the
    /// entry while `start_protocol` runs, then puts it back.
    pub fn insert_lent(&mut self, handle: E::Handle) -> PortId {
        let id = E::handle_id(&handle);
        debug_assert_eq!(id, self.next_id());
        self.next_serial += 1;
        self.slab.insert(Slot::Lent(handle));
        id
    }

    /// Takes an entry out for a callback; `None` if the port is gone or already lent.
    #[inline]
    pub fn lend(&mut self, id: PortId) -> Option<E> {
        let slot = self.slab.get_mut(id.key ^ E::TAG)?;
        match slot {
            Slot::Here(entry) if E::handle_id(entry.handle()) == id => {
                let lent = Slot::Lent(entry.handle().clone());
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
    pub fn put_back(&mut self, entry: E) {
        let key = E::handle_id(entry.handle()).key ^ E::TAG;
        if let Some(slot) = self.slab.get_mut(key) {
            *slot = Slot::Here(entry);
        }
    }

    /// Removes a port that is in the table (not lent); `None` otherwise.
    pub fn take(&mut self, id: PortId) -> Option<E> {
        let key = id.key ^ E::TAG;
        match self.slab.get(key) {
            Some(Slot::Here(entry)) if E::handle_id(entry.handle()) == id => {
                match self.slab.remove(key) {
                    Slot::Here(entry) => Some(entry),
                    Slot::Lent(_) => None,
                }
            }
            _ => None,
        }
    }

    /// Forgets a lent slot whose entry will not come back (a port that failed to start).
    pub fn remove_lent(&mut self, id: PortId) {
        let key = id.key ^ E::TAG;
        if matches!(self.slab.get(key), Some(Slot::Lent(h)) if E::handle_id(h) == id) {
            self.slab.remove(key);
        }
    }

    /// The port behind a `mio` token, if any.
    #[inline]
    pub fn by_key(&self, key: usize) -> Option<PortId> {
        self.slab.get(key ^ E::TAG).map(Slot::id)
    }

    /// An entry in the table by `&mut`: `Err(true)` while it is lent to a callback,
    /// `Err(false)` once its port has closed.
    pub fn here_mut(&mut self, id: PortId) -> Result<&mut E, bool> {
        match self.slab.get_mut(id.key ^ E::TAG) {
            Some(Slot::Here(entry)) if E::handle_id(entry.handle()) == id => Ok(entry),
            Some(Slot::Lent(handle)) if E::handle_id(handle) == id => Err(true),
            _ => Err(false),
        }
    }

    /// An entry in the table (not lent).
    pub fn get(&self, id: PortId) -> Option<&E> {
        match self.slab.get(id.key ^ E::TAG) {
            Some(Slot::Here(entry)) if E::handle_id(entry.handle()) == id => Some(entry),
            _ => None,
        }
    }

    pub fn ids(&self) -> Vec<PortId> {
        self.slab.iter().map(|(_, slot)| slot.id()).collect()
    }

    /// A handle on every port.
    pub fn handles(&self) -> Vec<E::Handle> {
        self.slab
            .iter()
            .map(|(_, slot)| slot.handle().clone())
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
                sum.plus(E::handle_stats(slot.handle()))
            })
    }
}

impl PortLookup for PortTable<Entry> {
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
