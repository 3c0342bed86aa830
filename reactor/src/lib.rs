//! gyre's engine: Twisted's programming model on a small single-threaded core.
//!
//! This crate holds the pieces a reactor turn is made of. Today that is the pure core, which
//! runs without sockets and is tested on a manual clock:
//!
//! * [`time`]: clocks (monotonic or manual), a timer queue that scales to millions of calls,
//!   `call_later` with cancellable and resettable [`DelayedCall`](time::DelayedCall)s,
//!   [`LoopingCall`](time::LoopingCall) and [`defer_later`](time::defer_later);
//! * [`defer`]: Twisted's [`Deferred`](defer::Deferred), typed, with
//!   [`Failure`](defer::Failure), lists, gathering, racing, cancellation and timeouts;
//! * [`error`]: every error type, small and printable.
//!
//! # How time and Deferreds meet in a loop
//! A reactor turn reads the clock once, asks [`Timers::timeout`](time::Timers::timeout) how
//! long it may sleep, waits for I/O that long, then calls
//! [`Timers::run_due`](time::Timers::run_due): every call due by then runs, in deadline order,
//! and a call scheduled during that pass waits for the next turn. Calls fire Deferreds, whose
//! callbacks run on the spot. On a [`ManualClock`](time::ManualClock),
//! [`Timers::advance`](time::Timers::advance) plays the part of the loop:
//!
//! ```
//! use gyre_reactor::defer::Failure;
//! use gyre_reactor::time::{defer_later, Timers};
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

mod context;
mod core;
pub mod defer;
mod dispatch;
pub mod error;
mod guard;
mod handle;
mod lifecycle;
mod mailbox;
mod ports;
mod protocol;
mod reactor;
mod remote;
mod resolve;
mod sources;
mod stats;
mod sys;
pub mod testing;
pub mod time;
pub mod udp;

pub use crate::core::Core;
pub use context::Context;
pub use handle::Handle;
pub use lifecycle::{Phase, ReactorState, SystemEvent, TriggerId};
pub use protocol::{DatagramProtocol, Outcome};
pub use reactor::Reactor;
pub use remote::{RemoteHandle, ThreadReply};
pub use resolve::{Resolver, SystemResolver};
pub use stats::{PortStats, ReactorStats};

/// The names most programs use, in one import.
pub mod prelude {
    pub use crate::defer::{Deferred, DeferredList, Failure, IntoStep, Step, gather_results, race};
    pub use crate::time::{Clock, DelayedCall, LoopingCall, ManualClock, Timers, defer_later};
    pub use crate::udp::{ListenOptions, Transport, TransportMut};
    pub use crate::{Context, Core, DatagramProtocol, Handle, Outcome, Reactor, RemoteHandle};
}
