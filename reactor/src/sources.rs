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
use crate::task::{Executor, TaskId};
use crate::time::Timers;

/// When a source next has work: [`Due::NOW`], after a wait, or [`Due::IDLE`] (nothing until
/// an outside event). Ordered: the earliest wins. (Nanoseconds from now, so comparing two is
/// one integer comparison.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Due(u64);

impl Due {
    /// Work is waiting: the loop must not sleep.
    pub const NOW: Due = Due(0);
    /// Nothing until an outside event.
    pub const IDLE: Due = Due(u64::MAX);

    /// Work comes due after `wait` (saturating short of idle).
    pub fn after(wait: Duration) -> Due {
        Due(u64::try_from(wait.as_nanos())
            .unwrap_or(u64::MAX - 1)
            .min(u64::MAX - 1))
    }

    /// `NOW` when a condition holds, `IDLE` otherwise.
    #[inline]
    pub fn now_if(waiting: bool) -> Due {
        if waiting { Due::NOW } else { Due::IDLE }
    }

    /// The poll timeout this asks for (`None`: no limit).
    pub fn timeout(self) -> Option<Duration> {
        match self {
            Due::IDLE => None,
            Due(nanos) => Some(Duration::from_nanos(nanos)),
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
            None => Due::IDLE,
            Some(wait) => Due::after(wait),
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
        run_each(&mut self.batch, core, "a call from another thread")
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
        run_each(&mut self.batch, core, "a queued call")
    }
}

/// Task polls one "tasks" step may start before the loop goes back to I/O: tasks that keep
/// waking each other are served in rounds of this size, and I/O in between.
const TASK_BUDGET: usize = 256;

/// Tasks of the reactor's executor that were woken.
pub(crate) struct Tasks {
    pub executor: Rc<Executor>,
    pub batch: VecDeque<TaskId>,
}

impl Source for Tasks {
    fn due(&self) -> Due {
        Due::now_if(self.executor.has_ready())
    }

    /// Polls the woken tasks in the order they were woken, round after round (a task woken
    /// during a round waits for the next), until none is woken or the budget is spent.
    fn run(&mut self, _core: &mut Core) -> usize {
        let mut ran = 0;
        while ran < TASK_BUDGET && self.executor.has_ready() {
            self.executor.take_ready(&mut self.batch);
            ran += self.batch.len();
            while let Some(id) = self.batch.pop_front() {
                self.executor.poll_task(id);
            }
        }
        ran
    }
}

/// Runs (and empties) a batch of calls taken from a queue, each guarded; returns how many.
fn run_each<C: FnOnce(&mut Core)>(batch: &mut VecDeque<C>, core: &mut Core, what: &str) -> usize {
    let ran = batch.len();
    while let Some(call) = batch.pop_front() {
        core.run_guarded(what, call);
    }
    ran
}
