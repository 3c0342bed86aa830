//! [`Executor`]: the reactor's own futures, polled on the loop's thread, with no other
//! runtime.
//!
//! A task is a future and the Deferred it will fire. Spawning polls it once at once (so, as
//! with Twisted's `ensureDeferred`, code up to its first real wait runs before the call
//! returns); after that it is polled on the loop's "tasks" step each time it was woken. While
//! a task is polled its future is out of the table, so it may spawn, wake or cancel any task,
//! itself included.
//!
//! Wakes come two ways (`task/waker.rs`): on the loop's thread straight into the ready queue
//! (no lock), from other threads as a call from a thread (which wakes `poll`).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};

use slab::Slab;

use super::waker::{self, TaskWaker};
use crate::defer::{Chain, Deferred, Failure};
use crate::error::{PanicError, ReactorError};
use crate::guard;
use crate::remote::RemoteHandle;

/// Names a task for its life: its slot and a generation, so a stale wake never reaches a later
/// task in the same slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TaskId {
    pub key: usize,
    pub generation: u64,
}

type BoxedTask = Pin<Box<dyn Future<Output = ()>>>;

struct Task {
    generation: u64,
    /// Absent while the task is being polled.
    future: Option<BoxedTask>,
    waker: Waker,
    /// The Deferred the task waits on, cancelled with it.
    awaiting: Option<Rc<dyn Chain>>,
    /// Fails the task's Deferred (a panic).
    fail: Option<Box<dyn FnOnce(Failure)>>,
    cancelled: bool,
}

/// The tasks of one reactor. Shared (`Rc`) by the reactor's mailbox, which spawns, and by the
/// loop's "tasks" source, which polls.
pub(crate) struct Executor {
    id: u64,
    tasks: RefCell<Slab<Task>>,
    ready: RefCell<VecDeque<TaskId>>,
    next_generation: Cell<u64>,
    remote: RemoteHandle,
    /// Tasks that panicked (each logged).
    panicked: Cell<u64>,
    /// Set when the reactor is dropped: nothing will poll a task again.
    closed: Cell<bool>,
}

/// What polling one task came to.
enum Polled {
    Pending(Option<Rc<dyn Chain>>),
    Done,
    Panicked(String),
}

impl Executor {
    pub fn new(remote: RemoteHandle) -> Rc<Executor> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let executor = Rc::new(Executor {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            tasks: RefCell::default(),
            ready: RefCell::default(),
            next_generation: Cell::new(0),
            remote,
            panicked: Cell::new(0),
            closed: Cell::new(false),
        });
        waker::register(executor.id, Rc::downgrade(&executor));
        executor
    }

    /// Runs `future` as a task; the Deferred fires with its output. Cancelling the Deferred
    /// cancels the Deferred the task awaits and drops the future.
    pub fn spawn<T: 'static>(
        self: &Rc<Self>,
        future: impl Future<Output = Result<T, Failure>> + 'static,
    ) -> Deferred<T> {
        if self.closed.get() {
            return Deferred::failed(ReactorError::NotRunning); // the reactor is gone
        }
        let id = TaskId {
            key: self.tasks.borrow().vacant_key(),
            generation: self.next_generation.replace(self.next_generation.get() + 1),
        };
        let weak = Rc::downgrade(self);
        let deferred = Deferred::with_canceller(move |_| {
            if let Some(executor) = weak.upgrade() {
                executor.cancel(id);
            }
        });
        let (done, failed) = (deferred.clone(), deferred.clone());
        let task = Task {
            generation: id.generation,
            future: Some(Box::pin(async move {
                let result = future.await;
                let _ = done.fire(result);
            })),
            waker: Waker::from(Arc::new(TaskWaker::new(self.id, id, self.remote.clone()))),
            awaiting: None,
            fail: Some(Box::new(move |failure| {
                let _ = failed.errback(failure);
            })),
            cancelled: false,
        };
        self.tasks.borrow_mut().insert(task);
        self.poll_task(id);
        deferred
    }

    /// Queues a task to be polled on the next "tasks" step (a wake on this thread).
    pub fn wake(&self, id: TaskId) {
        self.ready.borrow_mut().push_back(id);
    }

    /// Whether woken tasks wait.
    pub fn has_ready(&self) -> bool {
        !self.ready.borrow().is_empty()
    }

    /// Moves the woken tasks into `into` (empty): those woken meanwhile wait a turn.
    pub fn take_ready(&self, into: &mut VecDeque<TaskId>) {
        std::mem::swap(&mut *self.ready.borrow_mut(), into);
    }

    /// Tasks that panicked so far.
    pub fn panicked(&self) -> u64 {
        self.panicked.get()
    }

    /// Polls task `id` once, if it still exists and is not being polled already.
    pub fn poll_task(&self, id: TaskId) {
        let Some((mut future, waker)) = self.take_future(id) else {
            return;
        };
        let polled = waker::polling(|| {
            guard::catch(|| future.as_mut().poll(&mut Context::from_waker(&waker)))
        });
        let outcome = match polled {
            (Ok(Poll::Ready(())), _) => Polled::Done,
            (Ok(Poll::Pending), awaiting) => Polled::Pending(awaiting),
            (Err(message), _) => Polled::Panicked(message),
        };
        self.settle(id, future, outcome);
    }

    fn take_future(&self, id: TaskId) -> Option<(BoxedTask, Waker)> {
        let mut tasks = self.tasks.borrow_mut();
        let task = tasks
            .get_mut(id.key)
            .filter(|t| t.generation == id.generation)?;
        let future = task.future.take()?;
        Some((future, task.waker.clone()))
    }

    /// Puts a polled task back, or ends it: finished, panicked, or cancelled meanwhile.
    fn settle(&self, id: TaskId, future: BoxedTask, outcome: Polled) {
        let keep = match &outcome {
            Polled::Pending(_) => !self.is_cancelled(id),
            Polled::Done | Polled::Panicked(_) => false,
        };
        if keep {
            let mut tasks = self.tasks.borrow_mut();
            let task = &mut tasks[id.key];
            task.future = Some(future);
            if let Polled::Pending(Some(awaiting)) = outcome {
                task.awaiting = Some(awaiting);
            }
            return;
        }
        let task = self.tasks.borrow_mut().remove(id.key);
        self.drop_future(future, "a task's future");
        if let Polled::Panicked(message) = outcome {
            self.panicked.set(self.panicked.get() + 1);
            crate::failures::report_failure!(target: "gyre::task", "a task panicked: {message}");
            if let Some(fail) = task.fail {
                fail(Failure::new(PanicError { message }));
            }
        }
    }

    fn is_cancelled(&self, id: TaskId) -> bool {
        self.tasks.borrow().get(id.key).is_some_and(|t| t.cancelled)
    }

    /// Cancels a task: the Deferred it awaits is cancelled and its future dropped (at once,
    /// or when the poll it is in returns).
    fn cancel(&self, id: TaskId) {
        let (awaiting, future) = {
            let mut tasks = self.tasks.borrow_mut();
            let Some(task) = tasks
                .get_mut(id.key)
                .filter(|t| t.generation == id.generation)
            else {
                return;
            };
            task.cancelled = true;
            (task.awaiting.take(), task.future.take())
        };
        if let Some(awaiting) = awaiting {
            awaiting.cancel_dyn();
        }
        if let Some(future) = future {
            self.tasks.borrow_mut().remove(id.key);
            self.drop_future(future, "a cancelled task's future");
        }
    }

    /// Drops a future whose `Drop` may panic: caught, logged, counted like a poll's panic.
    fn drop_future(&self, future: BoxedTask, what: &str) {
        if guard::drop_guarded(future, what) {
            self.panicked.set(self.panicked.get() + 1);
        }
    }

    /// The reactor is going away: every task is dropped, unfinished.
    pub fn close(&self) -> Vec<BoxedTask> {
        self.closed.set(true);
        let mut tasks = self.tasks.borrow_mut();
        let futures = tasks.drain().filter_map(|t| t.future).collect();
        self.ready.borrow_mut().clear();
        futures
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        waker::unregister(self.id);
    }
}

/// A weak handle, for wakers on this thread.
pub(crate) type WeakExecutor = Weak<Executor>;
