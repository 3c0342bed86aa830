//! Awaiting a Deferred: `deferred.await` in async code (Twisted's `await d` in an
//! `async def`).
//!
//! A [`Deferred<T>`] is [`IntoFuture`]: awaiting it gives `Result<T, Failure>`, so `?` works
//! as a `raise` does. The future adds one link to the Deferred's chain the first time it is
//! polled and waits; the link takes the result, whatever comes before it in the chain, and
//! wakes the task. A Deferred that has already fired answers on the first poll. A `&Deferred`
//! awaits the same way, so `d.add_timeout(t, &timers).await` reads as Twisted's
//! `await d.addTimeout(t, reactor)`.
//!
//! Inside a task of the reactor's executor, the Deferred being awaited is also noted as what
//! the task waits on, so cancelling the task cancels it (Twisted's rule for
//! `Deferred.fromCoroutine`).

use std::cell::{Cell, RefCell};
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::Failure;
use super::deferred::{Deferred, Next};

/// What the future and its link share: the result once it arrives, and who to wake.
struct Waiting<T> {
    result: Cell<Option<Result<T, Failure>>>,
    waker: RefCell<Option<Waker>>,
}

/// The future of awaiting a [`Deferred<T>`]: what `deferred.await` polls.
#[must_use = "futures do nothing unless awaited"]
pub struct DeferredFuture<T: 'static> {
    deferred: Deferred<T>,
    waiting: Option<Rc<Waiting<T>>>,
}

impl<T: 'static> IntoFuture for Deferred<T> {
    type Output = Result<T, Failure>;
    type IntoFuture = DeferredFuture<T>;

    fn into_future(self) -> DeferredFuture<T> {
        DeferredFuture {
            deferred: self,
            waiting: None,
        }
    }
}

/// Awaiting a borrowed Deferred awaits the Deferred itself, so a call that returns `&Self`
/// can end in `.await`: `d.add_timeout(timeout, &timers).await` (Twisted's
/// `await d.addTimeout(timeout, reactor)`).
impl<T: 'static> IntoFuture for &Deferred<T> {
    type Output = Result<T, Failure>;
    type IntoFuture = DeferredFuture<T>;

    fn into_future(self) -> DeferredFuture<T> {
        self.clone().into_future()
    }
}

impl<T: 'static> Future for DeferredFuture<T> {
    type Output = Result<T, Failure>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, Failure>> {
        let this = self.get_mut();
        match &this.waiting {
            Some(waiting) => match waiting.result.take() {
                Some(result) => Poll::Ready(result),
                None => {
                    remember(&waiting.waker, cx.waker());
                    Poll::Pending
                }
            },
            None => match this.deferred.take_result() {
                Some(result) => Poll::Ready(result),
                None => {
                    this.waiting = Some(this.wait(cx.waker()));
                    crate::task::note_awaiting(this.deferred.as_chain());
                    Poll::Pending
                }
            },
        }
    }
}

impl<T: 'static> DeferredFuture<T> {
    /// Adds the link that takes the result and wakes whoever polled last.
    fn wait(&self, waker: &Waker) -> Rc<Waiting<T>> {
        let waiting = Rc::new(Waiting {
            result: Cell::new(None),
            waker: RefCell::new(Some(waker.clone())),
        });
        let link = waiting.clone();
        self.deferred.push_link(Box::new(move |result| {
            link.result.set(Some(result));
            let waker = link.waker.borrow_mut().take();
            if let Some(waker) = waker {
                waker.wake();
            }
            Next::Consumed
        }));
        waiting
    }
}

/// Keeps the waker of the latest poll (cloning only when it changed).
fn remember(slot: &RefCell<Option<Waker>>, waker: &Waker) {
    let mut slot = slot.borrow_mut();
    match slot.as_ref() {
        Some(old) if old.will_wake(waker) => {}
        _ => *slot = Some(waker.clone()),
    }
}

impl<T: 'static> std::fmt::Debug for DeferredFuture<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeferredFuture")
            .field("waiting", &self.waiting.is_some())
            .finish()
    }
}
