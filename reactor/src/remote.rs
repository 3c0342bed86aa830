//! Reaching the reactor from other threads: [`RemoteHandle`] (Twisted's `callFromThread`) and
//! [`ThreadReply`] (a worker's answer to a Deferred on the reactor's thread).
//!
//! A call from another thread is accepted only while the reactor can still run it: the check
//! and the push happen under one lock, and when the reactor stops (or is dropped) it closes
//! this queue under the same lock and runs what was accepted. So a call that returned `Ok`
//! runs, and one that cannot run gets [`ReactorError::NotRunning`].

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use slab::Slab;

use crate::core::Core;
use crate::defer::{Deferred, Failure};
use crate::error::ReactorError;

/// A call posted from another thread.
pub(crate) type RemoteCall = Box<dyn FnOnce(&mut Core) + Send>;

/// The queue behind [`RemoteHandle`].
pub(crate) struct RemoteQueue {
    inner: Mutex<Inner>,
    /// Set with each push: the loop checks this flag, not the lock, to learn of new calls.
    pending: AtomicBool,
}

struct Inner {
    calls: VecDeque<RemoteCall>,
    /// Interrupts `poll` when a call arrives; dropped (closing its eventfd) when the queue
    /// closes, so no handle keeps it open.
    waker: Option<mio::Waker>,
    open: bool,
}

impl RemoteQueue {
    pub fn new(waker: mio::Waker) -> Arc<RemoteQueue> {
        Arc::new(RemoteQueue {
            inner: Mutex::new(Inner {
                calls: VecDeque::new(),
                waker: Some(waker),
                open: true,
            }),
            pending: AtomicBool::new(false),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Accepts `call` if the reactor can still run it, and wakes the loop.
    fn push(&self, call: RemoteCall) -> Result<(), ReactorError> {
        let mut inner = self.lock();
        if !inner.open {
            return Err(ReactorError::NotRunning);
        }
        inner.calls.push_back(call);
        self.pending.store(true, Ordering::Release);
        if let Some(Err(e)) = inner.waker.as_ref().map(mio::Waker::wake) {
            log::error!(target: "gyre::reactor", "cannot wake the reactor: {e}");
        }
        Ok(())
    }

    /// Whether calls wait (no lock taken).
    #[inline]
    pub fn has_calls(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// Moves the waiting calls into `into` (empty).
    pub fn take(&self, into: &mut VecDeque<RemoteCall>) {
        let mut inner = self.lock();
        self.pending.store(false, Ordering::Release);
        std::mem::swap(&mut inner.calls, into);
    }

    /// Refuses calls from now on and closes the waker; returns the calls accepted before,
    /// which the caller must run.
    pub fn close(&self) -> VecDeque<RemoteCall> {
        let mut inner = self.lock();
        inner.open = false;
        inner.waker = None;
        self.pending.store(false, Ordering::Release);
        std::mem::take(&mut inner.calls)
    }

    fn is_open(&self) -> bool {
        self.lock().open
    }
}

/// The reactor, from any thread: queue calls to run on the reactor's thread (Twisted's
/// `callFromThread`), or stop it. `Send + Sync`, cheap to clone, usable before `run` (calls
/// wait for the first turn). Calls run in the order they were queued, each given the
/// reactor's [`Core`].
///
/// ```
/// use gyre::Reactor;
///
/// let mut reactor = Reactor::new().unwrap();
/// let remote = reactor.remote();
/// std::thread::spawn(move || {
///     remote.call_from_thread(|reactor| { reactor.stop().unwrap(); }).unwrap();
/// });
/// reactor.install_signal_handlers(false);
/// reactor.run().unwrap(); // returns once the other thread's call has stopped it
/// ```
#[derive(Clone)]
pub struct RemoteHandle {
    queue: Arc<RemoteQueue>,
}

impl RemoteHandle {
    pub(crate) fn new(queue: Arc<RemoteQueue>) -> RemoteHandle {
        RemoteHandle { queue }
    }

    /// Queues `f` for the reactor's thread and wakes the loop. A call that returns `Ok` runs,
    /// even if the reactor stops meanwhile (it then runs as the reactor closes its
    /// entrances). Errors with [`ReactorError::NotRunning`] once the reactor has stopped or
    /// been dropped.
    pub fn call_from_thread(
        &self,
        f: impl FnOnce(&mut Core) + Send + 'static,
    ) -> Result<(), ReactorError> {
        self.queue.push(Box::new(f))
    }

    /// Asks the reactor to stop, from any thread.
    pub fn stop(&self) -> Result<(), ReactorError> {
        self.call_from_thread(|reactor| {
            let _ = reactor.stop();
        })
    }
}

impl fmt::Debug for RemoteHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteHandle")
            .field("open", &self.queue.is_open())
            .finish()
    }
}

/// Deferreds waiting for a result from a worker thread, keyed by slot, checked by serial.
#[derive(Default)]
pub(crate) struct Replies {
    slots: Slab<(u64, Box<dyn Any>)>,
    next_serial: u64,
}

impl Replies {
    /// Files `deferred` for a reply; returns its key and serial.
    pub fn file<T: 'static>(&mut self, deferred: Deferred<T>) -> (usize, u64) {
        let serial = self.next_serial;
        self.next_serial += 1;
        (self.slots.insert((serial, Box::new(deferred))), serial)
    }

    /// Removes and returns the entry for `key` if it still belongs to `serial`.
    fn take(&mut self, key: usize, serial: u64) -> Option<Box<dyn Any>> {
        match self.slots.get(key) {
            Some((s, _)) if *s == serial => Some(self.slots.remove(key).1),
            _ => None,
        }
    }

    /// Every waiting Deferred, for the reactor's teardown.
    pub fn drain(&mut self) -> Vec<Box<dyn Any>> {
        self.slots.drain().map(|(_, d)| d).collect()
    }
}

/// The worker-thread half of [`Core::reply_from_thread`]: `Send`, used once.
pub struct ThreadReply<T: Send + 'static> {
    remote: RemoteHandle,
    key: usize,
    serial: u64,
    sent: bool,
    _result: PhantomData<fn(T)>,
}

impl<T: Send + 'static> ThreadReply<T> {
    pub(crate) fn new(remote: RemoteHandle, key: usize, serial: u64) -> ThreadReply<T> {
        ThreadReply {
            remote,
            key,
            serial,
            sent: false,
            _result: PhantomData,
        }
    }

    /// Fires the Deferred with `result` on the reactor's thread.
    pub fn send(mut self, result: Result<T, Failure>) {
        self.sent = true;
        self.deliver(result);
    }

    fn deliver(&self, result: Result<T, Failure>) {
        let (key, serial) = (self.key, self.serial);
        let _ = self.remote.call_from_thread(move |core| {
            let Some(entry) = core.replies.take(key, serial) else {
                return;
            };
            if let Ok(deferred) = entry.downcast::<Deferred<T>>() {
                let _ = deferred.fire(result); // AlreadyCalled if cancelled or timed out meanwhile
            }
        });
    }
}

impl<T: Send + 'static> Drop for ThreadReply<T> {
    fn drop(&mut self) {
        if !self.sent {
            self.deliver(Err(Failure::msg(
                "the worker thread ended without replying",
            )));
        }
    }
}

impl<T: Send + 'static> fmt::Debug for ThreadReply<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadReply")
            .field("sent", &self.sent)
            .finish()
    }
}
