//! DNS over UDP on gyre's public API (Twisted's `twisted.names`): a client that can be the
//! reactor's resolver ([`DnsClient`]) and an authoritative server ([`DnsServer`] answering
//! from an [`Authority`]).
//!
//! Both are ordinary gyre protocols: a worked example of writing a real protocol on the
//! public API, nothing in the engine knows about DNS. The wire format is `hickory-proto`'s
//! ([`Message`], [`Name`], [`Record`], [`RecordType`] and the record data are re-exported
//! here).

mod authority;
mod client;
mod server;

pub use authority::{Authority, ZoneError};
pub use client::{DnsClient, DnsError, TIMEOUTS, addresses};
pub use hickory_proto::op::{Edns, Message, MessageType, Query, ResponseCode};
pub use hickory_proto::rr::{Name, RData, Record, RecordType};
pub use server::{DnsServer, ServerStats, ServerStatsHandle};
