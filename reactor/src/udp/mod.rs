//! UDP ports: options, transports, and how the reactor reads and dispatches them.

mod address;
pub(crate) mod dispatch;
mod multicast;
mod options;
pub(crate) mod read;
pub(crate) mod send_queue;
pub(crate) mod socket;
pub(crate) mod table;
mod transport;

pub use address::ToDatagramAddr;
pub(crate) use address::parse_interface;
pub use multicast::MulticastInterface;
pub use options::{ListenOptions, MAX_DATAGRAM};
pub use transport::Transport;
