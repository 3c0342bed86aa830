//! [`Handle`]: the reactor, kept by code that cannot be handed its core.

use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::core::{self, Core};
use crate::error::ReactorError;
use crate::lifecycle::ReactorState;
use crate::mailbox::Mailbox;
use crate::remote::RemoteHandle;
use crate::time::{DelayedCall, Timers};

/// The reactor, kept: for code on the reactor's thread that runs where no [`Core`] is
/// handed in (a Deferred callback, a `LoopingCall` function, a `Drop`).
///
/// It can stop the reactor, read its state, schedule calls, and queue a closure that the
/// loop runs with the whole core on its next "queued calls" step ([`call_soon`](Handle::call_soon)):
/// that is how such code opens a port or resolves a name. Cheap to clone; it holds no socket
/// and no file descriptor, so keeping one never keeps the reactor's ports open. Once the
/// reactor is dropped, `stop` is an error and queued calls are dropped. It is not `Send`;
/// from other threads use a [`RemoteHandle`].
///
/// ```
/// use gyre_reactor::Reactor;
/// use gyre_reactor::defer::Deferred;
///
/// let mut reactor = Reactor::new().unwrap();
/// reactor.install_signal_handlers(false);
/// let handle = reactor.handle();
/// let answer = Deferred::<u32>::new();
/// answer.add_callback(move |n| {
///     // No core in a Deferred callback: the handle stops the reactor.
///     handle.stop().unwrap();
///     Ok(n)
/// });
/// reactor.call_when_running(move |_| { answer.callback(42).unwrap(); });
/// reactor.run().unwrap();
/// ```
#[derive(Clone)]
pub struct Handle {
    mailbox: Rc<Mailbox>,
}

impl Handle {
    pub(crate) fn new(mailbox: Rc<Mailbox>) -> Handle {
        Handle { mailbox }
    }

    /// Queues `f` to run with the reactor's core on the loop's "queued calls" step (this
    /// turn's, or the next one's if it has passed). FIFO with [`Core::call_soon`].
    pub fn call_soon(&self, f: impl FnOnce(&mut Core) + 'static) {
        self.mailbox.push_call(Box::new(f));
    }

    /// Runs `f` with the reactor's core once, `delay` from now (Twisted's `callLater`).
    pub fn call_later(&self, delay: Duration, f: impl FnOnce(&mut Core) + 'static) -> DelayedCall {
        core::call_later(&self.mailbox.timers, delay, f)
    }

    /// Asks the reactor to stop (Twisted's `stop`); shutdown begins at the end of the current
    /// turn. Errors with [`ReactorError::NotRunning`] unless it is running.
    pub fn stop(&self) -> Result<(), ReactorError> {
        core::request_stop(&self.mailbox)
    }

    /// Ends `run` after the current turn without shutting down (Twisted's `crash`).
    pub fn crash(&self) {
        core::crash(&self.mailbox);
    }

    /// Where the reactor is in its life (`Stopped` once it has been dropped).
    pub fn state(&self) -> ReactorState {
        self.mailbox.state()
    }

    /// Whether the reactor is running (Twisted's `running`).
    pub fn running(&self) -> bool {
        self.state().is_looping()
    }

    /// The reactor's timer queue, for `LoopingCall`, `defer_later` and `add_timeout`.
    pub fn timers(&self) -> &Timers {
        &self.mailbox.timers
    }

    /// The reactor clock's current time.
    pub fn now(&self) -> Instant {
        self.mailbox.timers.now()
    }

    /// A handle for other threads.
    pub fn remote(&self) -> RemoteHandle {
        RemoteHandle::new(self.mailbox.remote.clone())
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("state", &self.state())
            .field("timers", &self.mailbox.timers.len())
            .finish()
    }
}
