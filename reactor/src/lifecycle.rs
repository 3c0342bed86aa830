//! The reactor's lifecycle: an explicit state, and Twisted's system event triggers.

use std::fmt;

use crate::core::Core;
use crate::defer::Deferred;

/// Where the reactor is in its life. One enum instead of Twisted's three booleans
/// (`_started`, `_stopped`, `_justStopped`, whose docstrings ask for exactly this).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReactorState {
    /// Created, not running (or crashed: it may run again).
    Idle,
    /// Inside `run`.
    Running,
    /// `stop` was called; shutdown begins at the end of the current turn.
    StopRequested,
    /// "before shutdown" triggers ran; waiting for the Deferreds they returned.
    ShuttingDown,
    /// Shut down; `run` will not start it again.
    Stopped,
}

impl ReactorState {
    /// Whether `run` is still looping in this state.
    pub(crate) fn is_looping(self) -> bool {
        matches!(
            self,
            ReactorState::Running | ReactorState::StopRequested | ReactorState::ShuttingDown
        )
    }
}

/// When a trigger runs relative to the event (Twisted's `'before'`, `'during'`, `'after'`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// First. A "before shutdown" trigger may return a Deferred that shutdown waits for.
    Before,
    /// Second: the reactor's own work for the event happens here.
    During,
    /// Last.
    After,
}

/// The events triggers attach to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemEvent {
    /// `run` starting: before, then during (the reactor becomes `Running`, signal handlers are
    /// installed), then after (where `call_when_running` calls go).
    Startup,
    /// Shutting down after `stop`: before (may return Deferreds), during (every port is
    /// stopped), after.
    Shutdown,
}

/// Identifies a trigger, to remove it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TriggerId(u64);

/// A trigger: runs once, may return a Deferred (waited for only by "before shutdown").
pub(crate) type Trigger = Box<dyn FnOnce(&mut Core) -> Option<Deferred<()>>>;

#[derive(Default)]
pub(crate) struct Triggers {
    next: u64,
    list: Vec<(TriggerId, Phase, SystemEvent, Trigger)>,
}

impl Triggers {
    pub fn add(&mut self, phase: Phase, event: SystemEvent, trigger: Trigger) -> TriggerId {
        let id = TriggerId(self.next);
        self.next += 1;
        self.list.push((id, phase, event, trigger));
        id
    }

    pub fn remove(&mut self, id: TriggerId) -> bool {
        let before = self.list.len();
        self.list.retain(|(t, ..)| *t != id);
        self.list.len() != before
    }

    /// Takes every trigger left (the reactor is going away).
    pub fn drain(&mut self) -> Vec<Trigger> {
        self.list.drain(..).map(|(_, _, _, t)| t).collect()
    }

    /// Takes the triggers for one phase of one event, in the order they were added.
    pub fn take(&mut self, phase: Phase, event: SystemEvent) -> Vec<Trigger> {
        let (taken, kept) = std::mem::take(&mut self.list)
            .into_iter()
            .partition::<Vec<_>, _>(|(_, p, e, _)| *p == phase && *e == event);
        self.list = kept;
        taken.into_iter().map(|(_, _, _, t)| t).collect()
    }
}

impl fmt::Debug for Triggers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Triggers")
            .field("pending", &self.list.len())
            .finish()
    }
}
