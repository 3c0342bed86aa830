//! [`DeferredQueue`] (Twisted's `DeferredQueue`), and the waiting line it shares with
//! [`DeferredLock`](super::DeferredLock) and [`DeferredSemaphore`](super::DeferredSemaphore).
//!
//! # One line for all three
//! A [`Line`] is a supply (queued items, or a semaphore's free tokens) and a FIFO of waiting
//! Deferreds. Whoever arrives when the supply has something no waiter is owed takes it at once;
//! otherwise they join the line and get a Deferred, whose canceller takes them out of it again.
//! Adding to the supply hands units to waiters, oldest first.
//!
//! Handing a unit to a waiter fires its Deferred, and that runs the waiter's callbacks, which
//! may call straight back into the same line (a getter that puts, an acquirer that releases).
//! So no `RefCell` borrow is held while a Deferred fires, and hand-offs are iterative: a call
//! made while the line is already handing out units only adds to the supply (or to the line),
//! and the loop that is running hands it on as soon as the current callback returns. A line of
//! a hundred thousand waiters, each of whose callbacks feeds the next, uses constant stack.
//!
//! During such a loop the line may briefly hold units and waiters at once: the first waiters are
//! owed the first units. Every count the public types report subtracts the one from the other,
//! so they always see Twisted's state, in which a put or release has already reached its waiter.
//! The only visible difference from Twisted is *when* a nested hand-off's callbacks run: right
//! after the callback that caused it returns, instead of inside the `put`/`release` call. A
//! waiter cancelled in that short window leaves the line, and its unit goes to the next one.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::mem;
use std::rc::{Rc, Weak};

use super::Deferred;
use crate::error::{QueueOverflow, QueueUnderflow};

/// Twisted's `DeferredQueue`: items go in with [`put`](DeferredQueue::put) and come out, in
/// order, through the Deferreds [`get`](DeferredQueue::get) returns.
///
/// A `get` on a queue that holds an item fires at once with the oldest one; on an empty queue
/// it returns a pending Deferred, and getters are served in the order they asked. Cancelling a
/// pending get takes that getter out of the line, so the next item goes to the next getter (or
/// into the queue); an item is never lost or given twice. Optional limits, as in Twisted:
/// `size` items at most may be queued ([`QueueOverflow`]) and `backlog` getters at most may wait
/// ([`QueueUnderflow`]).
///
/// A `DeferredQueue` is a cheap handle (an `Rc`): clones share one queue. A getter's callbacks
/// may use the queue again. Hand-offs are iterative: an item put from inside a getter's callback
/// reaches the next getter right after that callback returns (not inside the nested `put`), so
/// a hundred thousand getters, each putting for the next, use constant stack. The counts
/// ([`len`](DeferredQueue::len), [`waiting`](DeferredQueue::waiting)) are Twisted's at every
/// moment: an item on its way to a getter is neither queued nor waited for.
///
/// ```
/// use gyre::defer::DeferredQueue;
/// let queue = DeferredQueue::new();
/// let first = queue.get().unwrap(); // nothing queued yet: pending
/// queue.put("a").unwrap(); // goes straight to the waiting getter
/// queue.put("b").unwrap(); // nobody waits: queued
/// assert_eq!(first.take_result().unwrap().unwrap(), "a");
/// assert_eq!(queue.len(), 1);
/// assert_eq!(queue.get().unwrap().take_result().unwrap().unwrap(), "b");
/// ```
pub struct DeferredQueue<T: 'static> {
    line: Line<VecDeque<T>>,
    size: Option<usize>,
    backlog: Option<usize>,
}

impl<T: 'static> Clone for DeferredQueue<T> {
    fn clone(&self) -> Self {
        DeferredQueue {
            line: self.line.clone(),
            size: self.size,
            backlog: self.backlog,
        }
    }
}

impl<T: 'static> Default for DeferredQueue<T> {
    fn default() -> Self {
        DeferredQueue::new()
    }
}

impl<T: 'static> DeferredQueue<T> {
    /// An empty queue without limits.
    ///
    /// ```
    /// let queue = gyre::defer::DeferredQueue::<u8>::new();
    /// assert_eq!((queue.size(), queue.backlog()), (None, None));
    /// ```
    pub fn new() -> DeferredQueue<T> {
        DeferredQueue::bounded(None, None)
    }

    /// An empty queue that holds at most `size` items and lets at most `backlog` getters wait
    /// (`None`: no limit), Twisted's `DeferredQueue(size, backlog)`.
    ///
    /// ```
    /// use gyre::defer::DeferredQueue;
    /// use gyre::error::QueueOverflow;
    /// let queue = DeferredQueue::bounded(Some(1), None);
    /// queue.put(1).unwrap();
    /// assert_eq!(queue.put(2), Err(QueueOverflow));
    /// ```
    pub fn bounded(size: Option<usize>, backlog: Option<usize>) -> DeferredQueue<T> {
        DeferredQueue {
            line: Line::new(VecDeque::new()),
            size,
            backlog,
        }
    }

    /// Adds an item: the oldest waiting getter gets it now (its callbacks run before this
    /// returns; when called from a callback the queue is running, right after that callback),
    /// or, if nobody waits, it is queued. [`QueueOverflow`] if nobody waits and `size`
    /// items are already queued; the item is then dropped.
    ///
    /// ```
    /// use gyre::defer::DeferredQueue;
    /// let queue = DeferredQueue::bounded(Some(0), None);
    /// assert!(queue.put('x').is_err()); // no room, nobody waiting
    /// let getter = queue.get().unwrap();
    /// queue.put('y').unwrap(); // a getter waits: no room needed
    /// assert_eq!(getter.take_result().unwrap().unwrap(), 'y');
    /// ```
    pub fn put(&self, item: T) -> Result<(), QueueOverflow> {
        self.line.put(item, self.size).map_err(|_| QueueOverflow)
    }

    /// A Deferred for the next item: already fired with the oldest queued item if there is
    /// one, else pending until a [`put`](DeferredQueue::put) reaches it. Cancelling a pending
    /// one takes it out of the line (it fails with
    /// [`CancelledError`](crate::error::CancelledError)).
    ///
    /// # Why a `Result`
    /// Twisted raises `QueueUnderflow` from `get` itself when `backlog` getters already wait, so
    /// this returns it the same way, synchronously, like [`put`](DeferredQueue::put)'s
    /// [`QueueOverflow`]: the caller is told at the call, before any Deferred exists, and can
    /// back off; a failed Deferred would mix "you asked too often" into the item's own result
    /// and is easy to drop unread. In async code both errors go up with `?`
    /// (`queue.get()?.await?`). A queue without a backlog limit never returns `Err`.
    ///
    /// ```
    /// use gyre::defer::DeferredQueue;
    /// use gyre::error::QueueUnderflow;
    /// let queue = DeferredQueue::<u8>::bounded(None, Some(1));
    /// let waiting = queue.get().unwrap();
    /// assert_eq!(queue.get().unwrap_err(), QueueUnderflow);
    /// waiting.cancel(); // leaves the line: room for another getter
    /// assert!(queue.get().is_ok());
    /// ```
    pub fn get(&self) -> Result<Deferred<T>, QueueUnderflow> {
        if let Some(item) = self.line.take_now() {
            return Ok(Deferred::succeeded(item));
        }
        if self
            .backlog
            .is_some_and(|backlog| self.line.waiting() >= backlog)
        {
            return Err(QueueUnderflow);
        }
        Ok(self.line.join())
    }

    /// How many items are queued (not counting items already on their way to a getter).
    ///
    /// ```
    /// let queue = gyre::defer::DeferredQueue::new();
    /// queue.put(1).unwrap();
    /// queue.put(2).unwrap();
    /// assert_eq!(queue.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.line.available()
    }

    /// Whether no item is queued.
    ///
    /// ```
    /// let queue = gyre::defer::DeferredQueue::<u8>::new();
    /// assert!(queue.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many getters wait for an item.
    ///
    /// ```
    /// let queue = gyre::defer::DeferredQueue::<u8>::new();
    /// let _a = queue.get().unwrap();
    /// let _b = queue.get().unwrap();
    /// assert_eq!(queue.waiting(), 2);
    /// ```
    pub fn waiting(&self) -> usize {
        self.line.waiting()
    }

    /// Whether a [`put`](DeferredQueue::put) now would be taken: a getter waits, or fewer
    /// than `size` items are queued. Lets a producer skip making an item that would overflow.
    ///
    /// ```
    /// let queue = gyre::defer::DeferredQueue::bounded(Some(1), None);
    /// assert!(queue.has_room());
    /// queue.put(1).unwrap();
    /// assert!(!queue.has_room());
    /// let _first = queue.get().unwrap(); // takes the queued item
    /// let _waiting = queue.get().unwrap(); // waits
    /// assert!(queue.has_room());
    /// ```
    pub fn has_room(&self) -> bool {
        self.waiting() > 0 || self.size.is_none_or(|size| self.len() < size)
    }

    /// The most items the queue holds (`None`: no limit).
    ///
    /// ```
    /// let queue = gyre::defer::DeferredQueue::<u8>::bounded(Some(3), None);
    /// assert_eq!(queue.size(), Some(3));
    /// ```
    pub fn size(&self) -> Option<usize> {
        self.size
    }

    /// The most getters that may wait (`None`: no limit).
    ///
    /// ```
    /// let queue = gyre::defer::DeferredQueue::<u8>::bounded(None, Some(4));
    /// assert_eq!(queue.backlog(), Some(4));
    /// ```
    pub fn backlog(&self) -> Option<usize> {
        self.backlog
    }
}

impl<T: 'static> fmt::Debug for DeferredQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeferredQueue")
            .field("len", &self.len())
            .field("waiting", &self.waiting())
            .field("size", &self.size)
            .field("backlog", &self.backlog)
            .finish()
    }
}

/// What a [`Line`] hands out: queued items, or a semaphore's interchangeable tokens.
pub(super) trait Supply: 'static {
    /// What one waiter gets.
    type Unit: 'static;
    /// How many units are held.
    fn units(&self) -> usize;
    /// Adds a unit after the others.
    fn add(&mut self, unit: Self::Unit);
    /// Puts a unit back before the others.
    fn give_back(&mut self, unit: Self::Unit);
    /// Takes the unit at `index` (the oldest is 0); `None` past the end.
    fn take(&mut self, index: usize) -> Option<Self::Unit>;
}

impl<T: 'static> Supply for VecDeque<T> {
    type Unit = T;

    fn units(&self) -> usize {
        self.len()
    }

    fn add(&mut self, unit: T) {
        self.push_back(unit);
    }

    fn give_back(&mut self, unit: T) {
        self.push_front(unit);
    }

    fn take(&mut self, index: usize) -> Option<T> {
        self.remove(index)
    }
}

/// A supply and the FIFO of Deferreds waiting for it: the one mechanism behind
/// [`DeferredQueue`], [`DeferredLock`](super::DeferredLock) and
/// [`DeferredSemaphore`](super::DeferredSemaphore) (Twisted's `_ConcurrencyPrimitive` and
/// its `waiting` list). A cheap handle; clones share the line.
pub(super) struct Line<S: Supply> {
    state: Rc<RefCell<LineState<S>>>,
}

impl<S: Supply> Clone for Line<S> {
    fn clone(&self) -> Self {
        Line {
            state: self.state.clone(),
        }
    }
}

struct LineState<S: Supply> {
    supply: S,
    /// Oldest first; ids only grow, so the line is sorted by id.
    waiters: VecDeque<Waiter<S::Unit>>,
    next_id: u64,
    /// A hand-off loop is running: nested calls leave the handing-on to it.
    dispatching: bool,
}

struct Waiter<T: 'static> {
    id: u64,
    deferred: Deferred<T>,
}

impl<S: Supply> Line<S> {
    /// A line with nobody waiting.
    pub(super) fn new(supply: S) -> Line<S> {
        Line {
            state: Rc::new(RefCell::new(LineState {
                supply,
                waiters: VecDeque::new(),
                next_id: 0,
                dispatching: false,
            })),
        }
    }

    /// Units held beyond those the waiters already in line are owed.
    pub(super) fn available(&self) -> usize {
        let state = self.state.borrow();
        state.supply.units().saturating_sub(state.waiters.len())
    }

    /// Waiters beyond those the units held will serve.
    pub(super) fn waiting(&self) -> usize {
        let state = self.state.borrow();
        state.waiters.len().saturating_sub(state.supply.units())
    }

    /// Takes a unit for a newcomer if one is free: one no waiter in line is owed.
    pub(super) fn take_now(&self) -> Option<S::Unit> {
        let mut state = self.state.borrow_mut();
        let owed = state.waiters.len();
        state.supply.take(owed)
    }

    /// Joins the end of the line: the Deferred fires with a unit when its turn comes, and
    /// cancelling it before then takes it out of the line.
    pub(super) fn join(&self) -> Deferred<S::Unit> {
        let id = {
            let mut state = self.state.borrow_mut();
            state.next_id += 1;
            state.next_id
        };
        // Weak: a waiter must not keep the line alive (nor make a cycle through it).
        let line = Rc::downgrade(&self.state);
        let deferred = Deferred::with_canceller(move |_| leave(&line, id));
        let waiter = Waiter {
            id,
            deferred: deferred.clone(),
        };
        self.state.borrow_mut().waiters.push_back(waiter);
        deferred
    }

    /// Adds a unit and hands units on to waiters. `Err` gives the unit back when `limit` units
    /// are already held beyond the waiters' share.
    pub(super) fn put(&self, unit: S::Unit, limit: Option<usize>) -> Result<(), S::Unit> {
        {
            let mut state = self.state.borrow_mut();
            let owed = state.waiters.len();
            if limit.is_some_and(|limit| state.supply.units() >= owed.saturating_add(limit)) {
                return Err(unit);
            }
            state.supply.add(unit);
        }
        self.dispatch();
        Ok(())
    }

    /// Hands units to waiters, oldest first, until one side runs out. A nested call (from a
    /// callback this loop fired) returns at once: this loop sees what it added.
    fn dispatch(&self) {
        if mem::replace(&mut self.state.borrow_mut().dispatching, true) {
            return;
        }
        let _done = Dispatching(&self.state);
        while let Some((waiter, unit)) = self.next_pair() {
            if waiter.is_called() {
                // Fired by someone else (a misuse): the unit goes to the next waiter.
                self.state.borrow_mut().supply.give_back(unit);
                continue;
            }
            // No borrow is held: the waiter's callbacks may use the line again.
            let _ = waiter.callback(unit);
        }
    }

    /// Takes the oldest waiter and the oldest unit, if there are both.
    fn next_pair(&self) -> Option<(Deferred<S::Unit>, S::Unit)> {
        let mut state = self.state.borrow_mut();
        if state.waiters.is_empty() {
            return None;
        }
        let unit = state.supply.take(0)?;
        let waiter = state.waiters.pop_front()?;
        Some((waiter.deferred, unit))
    }
}

/// A cancelled waiter's canceller: takes it out of the line, if both are still there.
fn leave<S: Supply>(line: &Weak<RefCell<LineState<S>>>, id: u64) {
    let Some(line) = line.upgrade() else { return };
    let gone = {
        let mut state = line.borrow_mut();
        match state.waiters.binary_search_by_key(&id, |w| w.id) {
            Ok(index) => state.waiters.remove(index),
            Err(_) => None,
        }
    };
    drop(gone); // outside the borrow
}

/// Ends a hand-off loop, even if it unwinds.
struct Dispatching<'a, S: Supply>(&'a RefCell<LineState<S>>);

impl<S: Supply> Drop for Dispatching<'_, S> {
    fn drop(&mut self) {
        self.0.borrow_mut().dispatching = false;
    }
}
