//! gyre: Twisted's UDP programming model on a small, hand-rolled, single-threaded reactor.
//!
//! This facade re-exports the engine ([`gyre_reactor`]) and the ready-made protocols
//! ([`gyre_protocols`]). Most programs need only `use gyre::prelude::*;`.

pub use gyre_protocols as protocols;
pub use gyre_reactor::{
    Context, Core, DatagramProtocol, Handle, Outcome, Phase, PortStats, Reactor, ReactorState,
    ReactorStats, RemoteHandle, Resolver, SystemEvent, SystemResolver, ThreadReply, TriggerId,
    activation, defer, error, task, testing, time, udp, unix,
};

/// The names most programs use, in one import.
pub mod prelude {
    pub use gyre_reactor::prelude::*;
}

/// The README's Rust examples, compiled and run as doctests so they cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The guides' Rust examples, compiled and run as doctests too.
#[cfg(doctest)]
#[doc = include_str!("../docs/internals.md")]
struct InternalsDoctests;

#[cfg(doctest)]
#[doc = include_str!("../docs/porting-from-twisted.md")]
struct PortingDoctests;

#[cfg(doctest)]
#[doc = include_str!("../docs/datagram-metadata.md")]
struct DatagramMetadataDoctests;

#[cfg(doctest)]
#[doc = include_str!("../docs/protocols.md")]
struct ProtocolsDoctests;

#[cfg(doctest)]
#[doc = include_str!("../docs/guide.md")]
struct GuideDoctests;
