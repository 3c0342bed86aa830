//! Time: clocks, the timer queue, delayed calls, looping calls (Twisted's `IReactorTime`,
//! `DelayedCall`, `task.Clock`, `task.LoopingCall`, `task.deferLater`).
//!
//! The layers, bottom up:
//! * [`Clock`]: where "now" comes from: [`SystemClock`] (monotonic) or [`ManualClock`]
//!   (moved by hand in tests).
//! * [`TimerQueue`]: the pure data structure: deadlines in, due payloads out.
//! * [`Timers`]: a queue of closures on a clock, with [`DelayedCall`] handles; the reactor
//!   runs one pass of it per turn.
//! * [`LoopingCall`] and [`defer_later`], built on `Timers` and Deferreds.

mod clock;
mod later;
mod looping;
mod queue;
mod timers;

#[cfg(test)]
mod tests;

pub use clock::{Clock, ManualClock, SystemClock};
pub use later::{defer_later, sleep};
pub use looping::LoopingCall;
pub use queue::{TimerId, TimerQueue};
pub use timers::{DelayedCall, Timers};
