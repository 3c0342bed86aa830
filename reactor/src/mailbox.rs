//! [`Mailbox`]: what a [`Handle`](crate::Handle) reaches: the reactor's lifecycle state, its
//! queue of calls, and its timers.
//!
//! It also holds the reactor's executor, so a handle can spawn tasks.
//!
//! The reactor owns its [`Core`] and lends it by `&mut` to every callback it runs. Code that
//! cannot be handed the core (a Deferred callback, a `LoopingCall` function, a `Drop`) holds
//! a `Handle` instead, which can ask for a stop, read the state, schedule calls, and queue a
//! closure that will get the core on the loop's next "queued calls" step. Nothing in here
//! is a socket or a file descriptor: handles kept after the reactor is dropped hold memory
//! only, and every fd the reactor opened is closed.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;

use crate::core::Core;
use crate::lifecycle::ReactorState;
use crate::remote::{RemoteHandle, RemoteQueue};
use crate::task::Executor;
use crate::time::Timers;

/// A call queued for the loop's "queued calls" step; it gets the reactor's core.
pub(crate) type Call = Box<dyn FnOnce(&mut Core)>;

pub(crate) struct Mailbox {
    state: Cell<ReactorState>,
    calls: RefCell<VecDeque<Call>>,
    has_calls: Cell<bool>,
    /// Set when every Deferred returned by "before shutdown" triggers has fired.
    shutdown_ready: Cell<bool>,
    /// Set when the reactor is dropped: calls queued afterwards are dropped at once.
    closed: Cell<bool>,
    pub timers: Timers,
    pub remote: Arc<RemoteQueue>,
    pub executor: Rc<Executor>,
}

impl Mailbox {
    pub fn new(timers: Timers, remote: Arc<RemoteQueue>) -> Mailbox {
        Mailbox {
            state: Cell::new(ReactorState::Idle),
            calls: RefCell::default(),
            has_calls: Cell::new(false),
            shutdown_ready: Cell::new(false),
            closed: Cell::new(false),
            executor: Executor::new(RemoteHandle::new(remote.clone())),
            timers,
            remote,
        }
    }

    pub fn state(&self) -> ReactorState {
        self.state.get()
    }

    pub fn set_state(&self, state: ReactorState) {
        self.state.set(state);
    }

    /// Queues `call` (FIFO); dropped at once if the reactor is gone.
    pub fn push_call(&self, call: Call) {
        if self.closed.get() {
            crate::guard::drop_guarded(call, "a call queued after the reactor was dropped");
            return;
        }
        self.calls.borrow_mut().push_back(call);
        self.has_calls.set(true);
    }

    #[inline]
    pub fn has_calls(&self) -> bool {
        self.has_calls.get()
    }

    /// Moves every queued call into `into` (empty), leaving the queue empty.
    pub fn take_calls(&self, into: &mut VecDeque<Call>) {
        std::mem::swap(&mut *self.calls.borrow_mut(), into);
        self.has_calls.set(false);
    }

    pub fn shutdown_ready(&self) -> bool {
        self.shutdown_ready.get()
    }

    pub fn set_shutdown_ready(&self, ready: bool) {
        self.shutdown_ready.set(ready);
    }

    /// The reactor is going away: refuse new calls; returns the queued ones to drop.
    pub fn close(&self) -> VecDeque<Call> {
        self.closed.set(true);
        self.has_calls.set(false);
        std::mem::take(&mut *self.calls.borrow_mut())
    }
}
