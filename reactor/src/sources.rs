//! Sources: the kinds of work the loop runs besides reading ports.
//!
//! Each source answers one question, "when do you next have work?" ([`Due`]), and runs its
//! work when asked. The loop sleeps only as long as every source allows, and runs them in
//! order on one step of each turn. A new kind of work (an async executor, say) is one more
//! source in the reactor's list: neither `run_once` nor the timeout computation changes.

use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use crate::core::Core;
use crate::mailbox::{Call, Mailbox};
use crate::remote::{RemoteCall, RemoteQueue};
use crate::time::Timers;

/// When a source next has work. Ordered: the earliest wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Due {
    /// Work is waiting: the loop must not sleep.
    Now,
    /// Work comes due after this long.
    In(Duration),
    /// Nothing until an outside event.
    Idle,
}

impl Due {
    /// `Now` when a condition holds, `Idle` otherwise.
    pub fn now_if(waiting: bool) -> Due {
        if waiting { Due::Now } else { Due::Idle }
    }

    /// The poll timeout this asks for (`None`: no limit).
    pub fn timeout(self) -> Option<Duration> {
        match self {
            Due::Now => Some(Duration::ZERO),
            Due::In(d) => Some(d),
            Due::Idle => None,
        }
    }
}

/// A kind of work the loop runs once per turn, after reading ports.
pub(crate) trait Source {
    /// When this source next has work.
    fn due(&self) -> Due;
    /// Runs the work due now (work queued meanwhile waits for the next turn); returns how
    /// many items ran.
    fn run(&mut self, core: &mut Core) -> usize;
}

/// Delayed calls (`call_later`, `LoopingCall`, timeouts).
pub(crate) struct DueTimers {
    pub timers: Timers,
}

impl Source for DueTimers {
    fn due(&self) -> Due {
        match self.timers.wait_hint() {
            None => Due::Idle,
            Some(Duration::ZERO) => Due::Now,
            Some(wait) => Due::In(wait),
        }
    }

    fn run(&mut self, core: &mut Core) -> usize {
        let ran = self.timers.run_due_with(core);
        if ran > 0 {
            log::trace!(target: "gyre::reactor", "  {ran} timer(s) fired");
        }
        ran
    }
}

/// Calls from other threads (`call_from_thread`, results from worker threads).
pub(crate) struct CallsFromThreads {
    pub queue: Arc<RemoteQueue>,
    pub batch: VecDeque<RemoteCall>,
}

impl Source for CallsFromThreads {
    fn due(&self) -> Due {
        Due::now_if(self.queue.has_calls())
    }

    fn run(&mut self, core: &mut Core) -> usize {
        if !self.queue.has_calls() {
            return 0;
        }
        self.queue.take(&mut self.batch);
        let ran = self.batch.len();
        while let Some(call) = self.batch.pop_front() {
            core.run_guarded("a call from another thread", call);
        }
        ran
    }
}

/// Calls queued on this thread (`call_soon`, Deferred continuations).
pub(crate) struct QueuedCalls {
    pub mailbox: Rc<Mailbox>,
    pub batch: VecDeque<Call>,
}

impl Source for QueuedCalls {
    fn due(&self) -> Due {
        Due::now_if(self.mailbox.has_calls())
    }

    fn run(&mut self, core: &mut Core) -> usize {
        if !self.mailbox.has_calls() {
            return 0;
        }
        self.mailbox.take_calls(&mut self.batch);
        let ran = self.batch.len();
        while let Some(call) = self.batch.pop_front() {
            core.run_guarded("a queued call", call);
        }
        ran
    }
}
