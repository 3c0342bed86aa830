//! UDP ports: a port's socket-side life (`Port`, in `udp/port.rs`), the transports protocols
//! write through, the send queue, and the outbox through which kept transports reach the loop.
//!
//! This module is a leaf over `sys`: it never reaches back into the loop. The reactor's port
//! table lends a port to a protocol callback and reads the outbox; nothing here knows about
//! either.

mod address;
mod destination;
mod handle;
mod icmp;
mod multicast;
mod options;
pub(crate) mod outbox;
pub(crate) mod port;
pub(crate) mod send_queue;
pub(crate) mod socket;
mod transport;

pub use address::ToDatagramAddr;
pub(crate) use address::{parse_interface, scoped};
pub use destination::ReceivedAt;
pub use handle::{ProtocolError, ProtocolHandle};
pub use icmp::{IcmpError, IcmpKind};
pub use multicast::MulticastInterface;
pub use options::{ListenOptions, MAX_DATAGRAM};
pub use port::READ_ERRORS_BEFORE_CLOSING;
pub use send_queue::{SEND_QUEUE_BYTES, SEND_QUEUE_DATAGRAMS};
pub use transport::{Transport, TransportMut};
