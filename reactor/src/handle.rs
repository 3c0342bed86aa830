//! [`Handle`]: the reactor, kept by code that cannot be handed its core.

use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::core::{self, Core};
use crate::defer::{Deferred, Failure};
use crate::error::ReactorError;
use crate::lifecycle::ReactorState;
use crate::mailbox::Mailbox;
use crate::protocol::DatagramProtocol;
use crate::remote::RemoteHandle;
use crate::time::{DelayedCall, Timers};
use crate::udp::{ListenOptions, Transport};

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
/// use gyre::Reactor;
/// use gyre::defer::Deferred;
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

    /// Runs `future` on the reactor's executor (Twisted's `ensureDeferred`), as
    /// [`Core::ensure_deferred`] does.
    pub fn ensure_deferred<T: 'static>(
        &self,
        future: impl std::future::Future<Output = Result<T, Failure>> + 'static,
    ) -> Deferred<T> {
        self.mailbox.executor.spawn(future)
    }

    /// Runs `f` with the reactor's core on the loop's next "queued calls" step and returns a
    /// Deferred of what it returns: how async code (which is handed no core) reaches it,
    /// `handle.with_reactor(|r| r.resolve("localhost")).await`.
    pub fn with_reactor<R: 'static>(
        &self,
        f: impl FnOnce(&mut Core) -> R + 'static,
    ) -> Deferred<R> {
        self.fire_soon(move |r| Ok(f(r)))
    }

    /// Runs `f` with the core on the next "queued calls" step; the Deferred fires with its
    /// result.
    fn fire_soon<T: 'static>(
        &self,
        f: impl FnOnce(&mut Core) -> Result<T, Failure> + 'static,
    ) -> Deferred<T> {
        let result = Deferred::new();
        let fire = result.clone();
        self.call_soon(move |r| {
            let _ = fire.fire(f(r));
        });
        result
    }

    /// Opens a UDP port from code that holds no core (async code, a Deferred callback): the
    /// port opens on the loop's next "queued calls" step as [`Core::listen_udp_with`] opens
    /// it, and the Deferred fires with its transport or fails with the
    /// [`ListenError`](crate::error::ListenError).
    ///
    /// ```
    /// use gyre::task::react;
    /// use gyre::udp::ListenOptions;
    /// use gyre::{Context, DatagramProtocol, Outcome};
    /// use std::net::SocketAddr;
    ///
    /// struct Quiet;
    /// impl DatagramProtocol for Quiet {
    ///     fn datagram_received(&mut self, _: &mut Context<'_>, _: &[u8], _: SocketAddr) -> Outcome {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let code = react(|reactor| {
    ///     let reactor = reactor.handle();
    ///     async move {
    ///         let port = reactor.listen_udp_with(ListenOptions::new(0).interface("127.0.0.1"), Quiet).await?;
    ///         assert!(port.get_host()?.ip().is_loopback());
    ///         port.stop_listening().await
    ///     }
    /// });
    /// assert_eq!(code, std::process::ExitCode::SUCCESS);
    /// ```
    pub fn listen_udp_with(
        &self,
        options: ListenOptions,
        protocol: impl DatagramProtocol,
    ) -> Deferred<Transport> {
        self.fire_soon(move |r| Ok(r.listen_udp_with(options, protocol)?))
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
