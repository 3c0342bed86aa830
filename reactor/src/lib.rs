//! gyre's engine: Twisted's UDP programming model on a single-threaded `mio` reactor you can
//! read in an afternoon.
//!
//! # The loop in a page
//!
//! A [`Reactor`] owns everything by value: its [`Core`] (the poll, the table of ports, triggers,
//! replies from worker threads, the resolver, counters), the readiness events, one set of
//! receive and send buffers for every port, and a list of *sources* of work (timers, calls from
//! other threads, queued calls). [`Reactor::run`] turns [`Reactor::run_once`] until the reactor
//! stops; one turn is seven named steps:
//!
//! 1. ask every source when it next has work, and take the earliest as the poll timeout;
//! 2. `poll` for readiness;
//! 3. read every ready port in batches (`recvmmsg`), handing each datagram to its protocol,
//!    and send what the protocol wrote right after each batch (`sendmmsg`, GSO);
//! 4. run the sources: timers that are due, calls from other threads, queued calls;
//! 5. send what they wrote;
//! 6. tell protocols about the errors their ports met (ICMP refusals on connected ports,
//!    ICMP errors on ports that report them);
//! 7. close the ports asked to stop, and move startup or shutdown along.
//!
//! Callbacks are *lent* the reactor by `&mut`: a [`DatagramProtocol`] callback gets a
//! [`Context`] holding its own port ([`udp::TransportMut`]) and the rest of the reactor
//! ([`Core`]) as two disjoint borrows; delayed calls, queued calls and triggers get `&mut Core`.
//! Code that cannot be handed the core keeps a handle instead: a [`Handle`] (same thread), a
//! [`udp::Transport`] (one port), a [`RemoteHandle`] (other threads). None of them holds a
//! socket or any other file descriptor, so dropping the `Reactor` closes every port whatever
//! handles remain.
//!
//! A panic in any user code is caught at that boundary, logged with its port, counted, and the
//! loop goes on serving every other port. `docs/internals.md` walks through each step.
//!
//! ```no_run
//! use gyre::{Context, DatagramProtocol, Outcome, Reactor};
//! use gyre::udp::ListenOptions;
//! use std::net::SocketAddr;
//! use std::time::Duration;
//!
//! /// Twisted's howto echo server.
//! struct Echo;
//!
//! impl DatagramProtocol for Echo {
//!     fn datagram_received(&mut self, cx: &mut Context<'_>, data: &[u8], from: SocketAddr) -> Outcome {
//!         cx.transport().write_to(data, from)?; // `?`: logged with the port, like a raise
//!         Ok(())
//!     }
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let mut reactor = Reactor::new()?;
//!     let port = reactor.listen_udp_with(ListenOptions::new(9999).interface("127.0.0.1"), Echo)?;
//!     println!("echoing on {}", port.get_host()?);
//!     reactor.call_later(Duration::from_secs(60), |r| { let _ = r.stop(); });
//!     reactor.run()?; // until stop(), SIGINT or SIGTERM
//!     Ok(())
//! }
//! ```
//!
//! # Modules
//!
//! * [`udp`]: ports, transports, options, multicast;
//! * [`time`]: clocks (monotonic or manual), the timer queue, `call_later`'s
//!   [`DelayedCall`](time::DelayedCall), [`LoopingCall`](time::LoopingCall),
//!   [`defer_later`](time::defer_later);
//! * [`defer`]: Twisted's [`Deferred`](defer::Deferred), typed, with
//!   [`Failure`](defer::Failure), lists, gathering, racing, cancellation and timeouts;
//! * [`task`]: futures on the loop: `ensure_deferred`, [`react`](task::react);
//! * [`activation`]: sockets passed in by a service manager (systemd), to adopt;
//! * [`testing`]: in-memory ports driven by the real loop, log capture;
//! * [`error`]: every error type, small and printable.
//!
//! Timers and Deferreds also work without a reactor, on a manual clock:
//!
//! ```
//! use gyre::defer::Failure;
//! use gyre::time::{defer_later, Timers};
//! use std::{cell::Cell, rc::Rc, time::Duration};
//!
//! let (timers, _clock) = Timers::manual();
//! let answer = Rc::new(Cell::new(0));
//! let a = answer.clone();
//! defer_later(&timers, Duration::from_secs(1), || Ok::<u32, Failure>(21))
//!     .add_callback(|n| Ok(n * 2))
//!     .add_callback(move |n| { a.set(n); Ok(n) });
//! assert_eq!(timers.timeout(), Some(Duration::from_secs(1)));
//! timers.advance(Duration::from_secs(1)).unwrap();
//! assert_eq!(answer.get(), 42);
//! ```

pub mod activation;
mod context;
mod core;
pub mod defer;
mod dispatch;
pub mod error;
mod failures;
mod guard;
mod handle;
mod lifecycle;
mod mailbox;
mod port_state;
mod ports;
mod protocol;
mod reactor;
mod remote;
mod resolve;
mod sources;
mod stats;
mod sys;
pub mod task;
pub mod testing;
pub mod time;
pub mod udp;
pub mod unix;

pub use crate::core::Core;
pub use context::Context;
pub use handle::Handle;
pub use lifecycle::{Phase, ReactorState, SystemEvent, TriggerId};
pub use protocol::{DatagramProtocol, Outcome};
pub use reactor::Reactor;
pub use remote::{RemoteHandle, ThreadReply};
pub use resolve::{Resolver, SystemResolver};
pub use stats::{PortStats, ReactorStats};

pub mod prelude {
    //! The names most programs use, in one import: `use gyre::prelude::*;`.
    //!
    //! What nearly every program built on the reactor names, and nothing else:
    //!
    //! * the reactor, lent and kept: [`Reactor`], [`Core`] (what callbacks are lent), [`Handle`]
    //!   (kept on the loop's thread), [`RemoteHandle`] (other threads), [`ReactorState`] (for
    //!   programs that drive the loop themselves);
    //! * a protocol and its port: [`DatagramProtocol`], [`Context`], [`Outcome`],
    //!   [`ListenOptions`], [`Transport`] (kept) and [`TransportMut`] (lent);
    //! * time: [`Timers`], [`DelayedCall`], [`LoopingCall`], [`defer_later`], and the [`Clock`]
    //!   trait with [`ManualClock`] for tests;
    //! * Deferreds: [`Deferred`], [`Failure`], [`IntoStep`] and [`Step`] (what a callback returns),
    //!   [`DeferredList`] with its [`ListOutcome`], [`gather_results`], [`race`];
    //! * async code: [`react`], Twisted's `task.react`;
    //! * the errors programs match: [`TimeoutError`], [`CancelledError`],
    //!   [`ConnectionRefusedError`] and [`PortClosedError`], which fail Deferreds and are tested
    //!   with [`Failure::check`]; [`ListenError`], [`WriteError`] and [`ReactorError`], returned by
    //!   `listen_udp`, `write_to` and `run`/`stop`.
    //!
    //! Left out on purpose: names that read like std's (`sleep`, which `std::thread` has too),
    //! names a program is likely to define itself (`Phase`, the protocols' `Echo`), and what only
    //! some programs need (UNIX datagram ports, multicast interfaces, the rest of
    //! [`defer`](crate::defer), [`time`](crate::time) and [`error`](crate::error)): import those by
    //! path. The facade's `gyre::prelude` adds the protocols crate's `Inbox` and `bytes_repr`.

    pub use crate::defer::{
        Deferred, DeferredList, Failure, IntoStep, ListOutcome, Step, gather_results, race,
    };
    pub use crate::error::{
        CancelledError, ConnectionRefusedError, ListenError, PortClosedError, ReactorError,
        TimeoutError, WriteError,
    };
    pub use crate::task::react;
    pub use crate::time::{Clock, DelayedCall, LoopingCall, ManualClock, Timers, defer_later};
    pub use crate::udp::{ListenOptions, Transport, TransportMut};
    pub use crate::{
        Context, Core, DatagramProtocol, Handle, Outcome, Reactor, ReactorState, RemoteHandle,
    };
}
