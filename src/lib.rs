#![doc = include_str!("../README.md")]
//!
//! ## This crate
//!
//! The facade: it re-exports the engine (`gyre-reactor`) and the ready-made protocols
//! (`gyre-protocols`), so a program depends on this crate only and writes `use gyre::…`. Most
//! programs need only `use gyre::prelude::*;`. The guides are the modules of [`guides`].

pub use gyre_protocols as protocols;
pub use gyre_reactor::{
    Context, Core, DatagramProtocol, Handle, Outcome, Phase, PortStats, Reactor, ReactorState,
    ReactorStats, RemoteHandle, Resolver, SystemEvent, SystemResolver, ThreadReply, TriggerId,
    activation, defer, error, task, testing, time, udp, unix,
};

pub mod prelude {
    //! The names most programs use, in one import: `use gyre::prelude::*;`.
    //!
    //! The engine's prelude (the reactor and its handles, the protocol trait and its `Context`,
    //! `ListenOptions`, `Transport`, timers and `LoopingCall`, `Deferred` and `Failure`, `react`,
    //! and the errors programs match; its documentation says what is left out and why), plus the
    //! two protocol helpers the examples keep importing: [`Inbox`], whose `recv().await` gives a
    //! port's next datagram to async code (Twisted's `DeferredQueue` fed by `datagramReceived`),
    //! and [`bytes_repr`], which prints a datagram as Python prints `bytes`.

    pub use gyre_protocols::{Inbox, bytes_repr};
    pub use gyre_reactor::prelude::*;
}

/// The guides in `docs/`, readable here; their Rust examples are compiled and run as
/// doctests, so they cannot drift from the code.
pub mod guides {
    // The guides are Markdown for GitHub as much as for rustdoc: `[::1]:0` is an address, not
    // a link, and a `rust,ignore` quote may be a few lines out of a function.
    #![allow(rustdoc::broken_intra_doc_links, rustdoc::invalid_rust_codeblocks)]

    /// From `recv_from` to `run_once`: how an event loop works, in five runnable stages.
    #[doc = include_str!("../docs/guide.md")]
    pub mod guide {}

    /// How gyre works inside: the loop's turn, ownership, sources, timers.
    #[doc = include_str!("../docs/internals.md")]
    pub mod internals {}

    /// Porting Twisted code: every API side by side, with the differences and why.
    #[doc = include_str!("../docs/porting-from-twisted.md")]
    pub mod porting_from_twisted {}

    /// Multicast: groups, source-specific groups, loopback, TTL, interfaces.
    #[doc = include_str!("../docs/multicast.md")]
    pub mod multicast {}

    /// Datagram metadata and errors: destinations, replies from them, GRO, ICMP errors.
    #[doc = include_str!("../docs/datagram-metadata.md")]
    pub mod datagram_metadata {}

    /// Protocols on the public API: DNS over UDP.
    #[doc = include_str!("../docs/protocols.md")]
    pub mod protocols {}

    /// What gyre costs, measured against its peers in the same runs.
    #[doc = include_str!("../docs/performance.md")]
    pub mod performance {}

    /// The echo benchmark in full: its method, every table of its latest curated run.
    #[doc = include_str!("../docs/performance-echo.md")]
    pub mod performance_echo {}

    /// Twisted's UDP test suites, test by test, with the gyre tests that port them.
    #[doc = include_str!("../docs/twisted-tests.md")]
    pub mod twisted_tests {}
}
