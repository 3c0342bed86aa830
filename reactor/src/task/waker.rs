//! Waking a task: on the loop's thread straight into its executor's ready queue, with no lock
//! and no allocation; from any other thread through the reactor's queue of calls from threads,
//! which wakes `poll`.
//!
//! A `Waker` must be `Send + Sync`, so it cannot hold the executor (an `Rc`). It holds the
//! executor's id instead; each thread keeps a short list of the executors living on it, and a
//! wake looks its executor up there first.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Wake;

use super::executor::{TaskId, WeakExecutor};
use crate::defer::Chain;
use crate::remote::RemoteHandle;

thread_local! {
    /// The executors living on this thread (usually one).
    static EXECUTORS: RefCell<Vec<(u64, WeakExecutor)>> = const { RefCell::new(Vec::new()) };
    /// While a task is polled: `Some`, holding the Deferred it awaits once it notes one.
    static AWAITING: RefCell<Option<Option<Rc<dyn Chain>>>> = const { RefCell::new(None) };
}

/// Notes an executor as living on this thread.
pub(super) fn register(id: u64, executor: WeakExecutor) {
    let _ = EXECUTORS.try_with(|list| list.borrow_mut().push((id, executor)));
}

/// Forgets an executor (it is being dropped).
pub(super) fn unregister(id: u64) {
    let _ = EXECUTORS.try_with(|list| list.borrow_mut().retain(|(e, _)| *e != id));
}

/// Runs `poll` (one poll of a task) and returns what it returned with the Deferred the task
/// noted it awaits, if any.
pub(super) fn polling<R>(poll: impl FnOnce() -> R) -> (R, Option<Rc<dyn Chain>>) {
    let outer = AWAITING.with(|a| a.replace(Some(None)));
    let result = poll();
    let awaiting = AWAITING.with(|a| a.replace(outer)).flatten();
    (result, awaiting)
}

/// Notes the Deferred the task being polled now awaits (nothing outside a task's poll).
pub(crate) fn note_awaiting(deferred: Rc<dyn Chain>) {
    let _ = AWAITING.try_with(|a| {
        if let Some(slot) = a.borrow_mut().as_mut() {
            *slot = Some(deferred);
        }
    });
}

/// A task's waker: which executor, which task, and the way in from other threads.
pub(crate) struct TaskWaker {
    executor: u64,
    task: TaskId,
    remote: RemoteHandle,
}

impl TaskWaker {
    pub(super) fn new(executor: u64, task: TaskId, remote: RemoteHandle) -> TaskWaker {
        TaskWaker {
            executor,
            task,
            remote,
        }
    }

    /// Wakes the task if its executor lives on this thread; false if it does not.
    fn wake_here(&self) -> bool {
        let found = EXECUTORS.try_with(|list| {
            let list = list.borrow();
            let (_, executor) = list.iter().find(|(id, _)| *id == self.executor)?;
            executor.upgrade()
        });
        match found {
            Ok(Some(executor)) => {
                executor.wake(self.task);
                true
            }
            _ => false,
        }
    }
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.wake_here() {
            return;
        }
        let task = self.task;
        // Another thread: the reactor's queue of calls wakes its poll. A reactor that has
        // stopped has no task to wake.
        let _ = self
            .remote
            .call_from_thread(move |core| core.mailbox.executor.wake(task));
    }
}
