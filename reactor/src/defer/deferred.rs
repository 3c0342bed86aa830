//! [`Deferred<T>`]: a result that is not there yet, and the chain of callbacks that will get it.

use std::any::Any;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::mem;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::{Rc, Weak};

use super::Failure;
use crate::error::{AlreadyCalled, CancelledError};

/// What a callback hands on to the next one: a value, a failure, or a Deferred to wait for.
///
/// Callbacks usually return `Result<T, Failure>` or a `Deferred<T>`, both of which convert into
/// a `Step` through [`IntoStep`]; return a `Step` directly when one callback may do either.
#[derive(Debug)]
pub enum Step<T: 'static> {
    /// Continue down the callback path with this value.
    Value(T),
    /// Switch to (or stay on) the errback path with this failure.
    Fail(Failure),
    /// Pause this chain until that Deferred fires, then continue with its result.
    Wait(Deferred<T>),
}

/// What a callback may return: `Result<T, Failure>`, `Deferred<T>` or [`Step<T>`].
pub trait IntoStep<T: 'static> {
    /// Converts into a [`Step`].
    fn into_step(self) -> Step<T>;
}

impl<T: 'static> IntoStep<T> for Step<T> {
    fn into_step(self) -> Step<T> {
        self
    }
}

impl<T: 'static> IntoStep<T> for Result<T, Failure> {
    fn into_step(self) -> Step<T> {
        match self {
            Ok(v) => Step::Value(v),
            Err(f) => Step::Fail(f),
        }
    }
}

impl<T: 'static> IntoStep<T> for Deferred<T> {
    fn into_step(self) -> Step<T> {
        Step::Wait(self)
    }
}

/// What one link of a chain did with the result it was given.
pub(crate) enum Next<T: 'static> {
    /// The chain continues with this step.
    Step(Step<T>),
    /// The result went into another chain; run that one now (iteratively, not recursively).
    HandOff(Rc<dyn Chain>),
    /// The result was taken; this chain has nothing more to give.
    Consumed,
}

/// One link of a chain: takes the current result, says what comes next.
pub(crate) type Link<T> = Box<dyn FnOnce(Result<T, Failure>) -> Next<T>>;

type Canceller<T> = Box<dyn FnOnce(&Deferred<T>)>;

/// Where a Deferred is in its life.
enum State<T> {
    /// Not fired yet.
    Unfired,
    /// Fired; this result waits for the next link (or is the final result).
    Ready(Result<T, Failure>),
    /// Fired; a link is running right now and holds the result.
    Busy,
    /// Fired; the chain waits for an inner Deferred that a callback returned.
    Waiting(Weak<dyn Chain>),
    /// Fired; the result was moved into another Deferred (or taken).
    HandedOn,
}

struct Core<T: 'static> {
    state: State<T>,
    links: VecDeque<Link<T>>,
    paused: u32,
    canceller: Option<Canceller<T>>,
    /// Set by `cancel` without a canceller: the first later fire is silently ignored (Twisted).
    suppress_already_called: bool,
}

/// A chain of any result type, as the run loop and cancellation see it.
pub(crate) trait Chain {
    /// Runs this chain's links while it can; returns the chain to continue with, if the
    /// result was handed to another one.
    fn run_local(self: Rc<Self>) -> Option<Rc<dyn Chain>>;
    /// Cancels this chain (used to forward `cancel` to an inner Deferred).
    fn cancel_dyn(self: Rc<Self>);
}

/// Twisted's Deferred: a placeholder for a result that will arrive later, with a chain of
/// callbacks and errbacks that process it in order.
///
/// # The design, in Rust types
/// A `Deferred<T>` is a cheap, cloneable handle (an `Rc`) to one chain whose links all see a
/// `Result<T, Failure>`. `Ok` travels down callbacks, `Err(Failure)` down errbacks. Each link
/// returns what comes next ([`Step`]): a value, a failure (switches to the errback path, like a
/// raised exception), or another `Deferred<T>`, which pauses the chain until that one fires.
/// An errback that returns `Ok` recovers, back to the callback path.
///
/// Twisted lets a callback change the result's type freely; Rust cannot, so a type change
/// starts a new chain: [`then`](Deferred::then) and [`map`](Deferred::map) return a
/// `Deferred<U>` that receives the converted result, and the source chain hands its result
/// on (links added to the source afterwards never run, and say so in the log).
///
/// The rules are Twisted's: a Deferred fires once ([`AlreadyCalled`] the second time); callbacks
/// added to a fired Deferred run at once; the chain runs synchronously inside `callback`;
/// [`pause`](Deferred::pause) and [`unpause`](Deferred::unpause) nest; [`cancel`](Deferred::cancel)
/// calls the canceller or fails with [`CancelledError`] and is forwarded to an inner Deferred
/// the chain waits on. Chaining is iterative: a million links, or a hundred thousand nested
/// Deferreds, never grow the stack. A panic in a callback is caught and becomes a
/// [`PanicError`](crate::error::PanicError) failure. A Deferred dropped while its final
/// result is a failure logs `Unhandled error in Deferred: …` at error level, as Twisted does
/// when one is garbage-collected.
///
/// A `Deferred` lives on one thread (it is not `Send`); results from other threads reach it
/// through the reactor.
///
/// ```
/// use gyre::defer::{Deferred, Failure};
/// use std::{cell::Cell, rc::Rc};
///
/// let seen = Rc::new(Cell::new(0));
/// let d = Deferred::<u32>::new();
/// let s = seen.clone();
/// d.add_callback(|n| if n > 10 { Err(Failure::msg("too big")) } else { Ok(n * 2) })
///     .add_errback(|_failure| Ok(0)) // recover
///     .add_callback(move |n| { s.set(n); Ok(n) });
/// d.callback(4).unwrap();
/// assert_eq!(seen.get(), 8);
/// assert!(d.callback(5).is_err()); // fires once
/// ```
pub struct Deferred<T: 'static> {
    core: Rc<RefCell<Core<T>>>,
}

impl<T: 'static> Clone for Deferred<T> {
    fn clone(&self) -> Self {
        Deferred {
            core: self.core.clone(),
        }
    }
}

impl<T: 'static> Default for Deferred<T> {
    fn default() -> Self {
        Deferred::new()
    }
}

impl<T: 'static> Deferred<T> {
    /// A new, unfired Deferred without a canceller.
    pub fn new() -> Deferred<T> {
        Deferred {
            core: Rc::new(RefCell::new(Core {
                state: State::Unfired,
                links: VecDeque::new(),
                paused: 0,
                canceller: None,
                suppress_already_called: false,
            })),
        }
    }

    /// A new Deferred whose [`cancel`](Deferred::cancel) calls `canceller` first (Twisted's
    /// `Deferred(canceller)`). The canceller may fire the Deferred itself; if it does not, the
    /// Deferred fails with [`CancelledError`].
    pub fn with_canceller(canceller: impl FnOnce(&Deferred<T>) + 'static) -> Deferred<T> {
        let d = Deferred::new();
        d.core.borrow_mut().canceller = Some(Box::new(canceller));
        d
    }

    /// An already fired Deferred (Twisted's `succeed`).
    pub fn succeeded(value: T) -> Deferred<T> {
        Deferred::resolved(Ok(value))
    }

    /// An already failed Deferred (Twisted's `fail`).
    pub fn failed(failure: impl Into<Failure>) -> Deferred<T> {
        Deferred::resolved(Err(failure.into()))
    }

    /// An already fired Deferred holding `result`.
    pub fn resolved(result: Result<T, Failure>) -> Deferred<T> {
        let d = Deferred::new();
        d.core.borrow_mut().state = State::Ready(result);
        d
    }

    /// Fires with a value; the callbacks run now, before this returns.
    /// A second fire is an [`AlreadyCalled`] error (once after a cancel, it is silently ignored).
    pub fn callback(&self, value: T) -> Result<(), AlreadyCalled> {
        self.fire(Ok(value))
    }

    /// Fires with a failure; the errbacks run now, before this returns.
    pub fn errback(&self, failure: impl Into<Failure>) -> Result<(), AlreadyCalled> {
        self.fire(Err(failure.into()))
    }

    /// Fires with a result: `Ok` as [`callback`](Deferred::callback), `Err` as
    /// [`errback`](Deferred::errback).
    pub fn fire(&self, result: Result<T, Failure>) -> Result<(), AlreadyCalled> {
        let canceller = {
            let mut core = self.core.borrow_mut();
            if !matches!(core.state, State::Unfired) {
                if mem::take(&mut core.suppress_already_called) {
                    return Ok(());
                }
                return Err(AlreadyCalled);
            }
            core.state = State::Ready(result);
            core.canceller.take()
        };
        drop(canceller);
        run_chain(self.core.clone());
        Ok(())
    }

    /// Adds a callback and an errback as one link (Twisted's `addCallbacks`): exactly one of
    /// them runs, depending on the path the result is on.
    pub fn add_callbacks<R1, R2>(
        &self,
        callback: impl FnOnce(T) -> R1 + 'static,
        errback: impl FnOnce(Failure) -> R2 + 'static,
    ) -> &Self
    where
        R1: IntoStep<T>,
        R2: IntoStep<T>,
    {
        self.push_link(Box::new(move |result| {
            Next::Step(match result {
                Ok(v) => guarded(callback, v),
                Err(f) => guarded(errback, f),
            })
        }))
    }

    /// Adds a callback; a failure passes by it unchanged.
    pub fn add_callback<R: IntoStep<T>>(&self, callback: impl FnOnce(T) -> R + 'static) -> &Self {
        self.push_link(Box::new(move |result| {
            Next::Step(match result {
                Ok(v) => guarded(callback, v),
                Err(f) => Step::Fail(f),
            })
        }))
    }

    /// Adds an errback; a value passes by it unchanged. Returning `Ok` recovers.
    pub fn add_errback<R: IntoStep<T>>(
        &self,
        errback: impl FnOnce(Failure) -> R + 'static,
    ) -> &Self {
        self.push_link(Box::new(move |result| {
            Next::Step(match result {
                Ok(v) => Step::Value(v),
                Err(f) => guarded(errback, f),
            })
        }))
    }

    /// Adds one function for both paths (Twisted's `addBoth`).
    pub fn add_both<R: IntoStep<T>>(
        &self,
        both: impl FnOnce(Result<T, Failure>) -> R + 'static,
    ) -> &Self {
        self.push_link(Box::new(move |result| Next::Step(guarded(both, result))))
    }

    /// Continues in a new chain of another type: `f` gets the value, and the returned
    /// `Deferred<U>` gets what `f` returns; a failure goes to the new chain unchanged.
    /// This Deferred's result is handed on: callbacks added to it later never run.
    /// Cancelling the returned Deferred cancels this one.
    ///
    /// ```
    /// use gyre::defer::{Deferred, Failure};
    /// let d = Deferred::<&str>::new();
    /// let len = d.then(|s| Ok::<_, Failure>(s.len()));
    /// d.callback("hello").unwrap();
    /// assert_eq!(len.take_result().unwrap().unwrap(), 5);
    /// ```
    pub fn then<U: 'static, R: IntoStep<U>>(
        &self,
        f: impl FnOnce(T) -> R + 'static,
    ) -> Deferred<U> {
        self.then_both(move |result| match result {
            Ok(v) => f(v).into_step(),
            Err(failure) => Step::Fail(failure),
        })
    }

    /// Like [`then`](Deferred::then), but `f` sees both paths.
    pub fn then_both<U: 'static, R: IntoStep<U>>(
        &self,
        f: impl FnOnce(Result<T, Failure>) -> R + 'static,
    ) -> Deferred<U> {
        let source = Rc::downgrade(&self.core);
        let target = Deferred::<U>::with_canceller(move |_| {
            if let Some(source) = source.upgrade() {
                Deferred { core: source }.cancel();
            }
        });
        let to = target.clone();
        self.push_link(Box::new(move |result| hand_to(&to, guarded(f, result))));
        target
    }

    /// [`then`](Deferred::then) for a function that cannot fail.
    pub fn map<U: 'static>(&self, f: impl FnOnce(T) -> U + 'static) -> Deferred<U> {
        self.then(move |v| Ok::<U, Failure>(f(v)))
    }

    /// Hands this chain's result to `other`, which then fires with it (Twisted's
    /// `chainDeferred`). Iterative: chaining a million Deferreds this way does not grow the stack.
    pub fn chain_deferred(&self, other: &Deferred<T>) -> &Self {
        let to = other.clone();
        self.push_link(Box::new(move |result| {
            let step = match result {
                Ok(v) => Step::Value(v),
                Err(f) => Step::Fail(f),
            };
            hand_to(&to, step)
        }))
    }

    /// Stops the chain from running until a matching [`unpause`](Deferred::unpause).
    pub fn pause(&self) -> &Self {
        self.core.borrow_mut().paused += 1;
        self
    }

    /// Undoes one [`pause`](Deferred::pause); at zero, runs whatever waits. Extra unpauses do
    /// nothing.
    pub fn unpause(&self) -> &Self {
        let resume = {
            let mut core = self.core.borrow_mut();
            core.paused = core.paused.saturating_sub(1);
            core.paused == 0
        };
        if resume {
            run_chain(self.core.clone());
        }
        self
    }

    /// Cancels: an unfired Deferred calls its canceller, and fails with [`CancelledError`] if
    /// the canceller did not fire it; a chain waiting on an inner Deferred cancels that one; a
    /// fired Deferred is left alone. After a cancel without a canceller, the producer's first
    /// later `callback`/`errback` is ignored instead of being an error (Twisted's rule).
    pub fn cancel(&self) {
        enum Action<T: 'static> {
            Forward(Weak<dyn Chain>),
            Cancel(Option<Canceller<T>>),
            Nothing,
        }
        let action = {
            let mut guard = self.core.borrow_mut();
            let core = &mut *guard;
            match &core.state {
                State::Unfired => Action::Cancel(core.canceller.take()),
                State::Waiting(inner) => Action::Forward(inner.clone()),
                _ => Action::Nothing,
            }
        };
        match action {
            Action::Forward(inner) => {
                if let Some(inner) = inner.upgrade() {
                    inner.cancel_dyn();
                }
            }
            Action::Cancel(Some(canceller)) => {
                if let Err(panic) = catch_unwind(AssertUnwindSafe(|| canceller(self))) {
                    let failure = Failure::from_panic(panic);
                    crate::failures::report_failure!(target: "gyre::defer", "a Deferred's canceller panicked: {failure}");
                }
                let _ = self.errback(CancelledError);
            }
            Action::Cancel(None) => {
                self.core.borrow_mut().suppress_already_called = true;
                let _ = self.errback(CancelledError);
            }
            Action::Nothing => {}
        }
    }

    /// Whether this Deferred has fired (Twisted's `called`).
    pub fn is_called(&self) -> bool {
        !matches!(self.core.borrow().state, State::Unfired)
    }

    /// Whether the chain is paused by [`pause`](Deferred::pause).
    pub fn is_paused(&self) -> bool {
        self.core.borrow().paused > 0
    }

    /// Takes the final result out, if the chain has run to its end: fired, not paused, not
    /// waiting, no links left. The Deferred's result is then handed on (a failure taken this
    /// way counts as handled). Handy in tests, like trial's `successResultOf`.
    pub fn take_result(&self) -> Option<Result<T, Failure>> {
        let mut core = self.core.borrow_mut();
        if core.paused > 0 || !core.links.is_empty() || !matches!(core.state, State::Ready(_)) {
            return None;
        }
        match mem::replace(&mut core.state, State::HandedOn) {
            State::Ready(result) => Some(result),
            _ => unreachable!("checked above"),
        }
    }

    /// Appends a link and runs the chain if it can run.
    pub(crate) fn push_link(&self, link: Link<T>) -> &Self {
        {
            let mut core = self.core.borrow_mut();
            if matches!(core.state, State::HandedOn) {
                drop(core);
                log::warn!(target: "gyre::defer",
                    "callback added to a Deferred whose result was already handed on; it will never run");
                return self;
            }
            core.links.push_back(link);
        }
        run_chain(self.core.clone());
        self
    }

    /// This Deferred as a chain of any type (for cancelling it without knowing `T`).
    pub(crate) fn as_chain(&self) -> Rc<dyn Chain> {
        self.core.clone()
    }

    /// A weak handle for closures that must not keep this Deferred alive (timeouts, cancellers).
    pub(crate) fn downgrade(&self) -> WeakDeferred<T> {
        WeakDeferred(Rc::downgrade(&self.core))
    }
}

/// A weak reference to a Deferred.
pub(crate) struct WeakDeferred<T: 'static>(Weak<RefCell<Core<T>>>);

impl<T: 'static> WeakDeferred<T> {
    /// The Deferred, if any handle to it is still alive.
    pub(crate) fn upgrade(&self) -> Option<Deferred<T>> {
        self.0.upgrade().map(|core| Deferred { core })
    }
}

/// Calls user code, turning a panic into a failure.
fn guarded<A, T: 'static, R: IntoStep<T>>(f: impl FnOnce(A) -> R, arg: A) -> Step<T> {
    match catch_unwind(AssertUnwindSafe(move || f(arg).into_step())) {
        Ok(step) => step,
        Err(panic) => Step::Fail(Failure::from_panic(panic)),
    }
}

/// Fires `target` with `step` without running it, and tells the run loop to continue there.
fn hand_to<T: 'static, U: 'static>(target: &Deferred<U>, step: Step<U>) -> Next<T> {
    let canceller = {
        let mut core = target.core.borrow_mut();
        if !matches!(core.state, State::Unfired) {
            drop(core);
            if let Step::Fail(f) = &step {
                if !f.check::<CancelledError>() {
                    log::warn!(target: "gyre::defer",
                        "a failure arrived for a Deferred that had already fired (was it cancelled?): {f:#}");
                }
            }
            return Next::Consumed;
        }
        core.state = State::Busy;
        core.canceller.take()
    };
    drop(canceller);
    // If `target` must wait for an inner Deferred, running it now finds nothing to do, and
    // the inner one resumes it when it fires.
    settle(&target.core, step);
    Next::HandOff(target.core.clone())
}

/// Puts a step's result into `core` (which must be `Busy`). Returns true when the chain must
/// wait for an inner Deferred.
fn settle<T: 'static>(core: &Rc<RefCell<Core<T>>>, step: Step<T>) -> bool {
    let result = match step {
        Step::Value(v) => Ok(v),
        Step::Fail(f) => Err(f),
        Step::Wait(inner) => match wait_on(core, inner) {
            Some(result) => result,
            None => return true,
        },
    };
    core.borrow_mut().state = State::Ready(result);
    false
}

/// Makes `outer` wait for `inner`. Returns `inner`'s result at once when it already has its
/// final one; otherwise parks `outer` and appends a link to `inner` that resumes it.
fn wait_on<T: 'static>(
    outer: &Rc<RefCell<Core<T>>>,
    inner: Deferred<T>,
) -> Option<Result<T, Failure>> {
    if Rc::ptr_eq(outer, &inner.core) {
        return Some(Err(Failure::msg(
            "a callback returned the Deferred it was attached to; the chain cannot wait on itself",
        )));
    }
    if let Some(result) = inner.take_result() {
        return Some(result);
    }
    if matches!(inner.core.borrow().state, State::HandedOn) {
        return Some(Err(Failure::msg(
            "a callback returned a Deferred whose result was already handed on",
        )));
    }
    let weak_inner: Weak<dyn Chain> = Rc::downgrade(&inner.core) as Weak<RefCell<Core<T>>>;
    outer.borrow_mut().state = State::Waiting(weak_inner);
    let resume = outer.clone();
    inner
        .core
        .borrow_mut()
        .links
        .push_back(Box::new(move |result| {
            resume.borrow_mut().state = State::Ready(result);
            Next::HandOff(resume)
        }));
    None
}

/// Runs chains until none can go further. Hand-offs between chains loop here instead of
/// recursing, so a long line of nested or chained Deferreds uses constant stack.
fn run_chain(start: Rc<dyn Chain>) {
    let mut current = Some(start);
    while let Some(chain) = current {
        current = chain.run_local();
    }
}

impl<T: 'static> Chain for RefCell<Core<T>> {
    fn run_local(self: Rc<Self>) -> Option<Rc<dyn Chain>> {
        loop {
            let (link, input) = {
                let mut core = self.borrow_mut();
                if core.paused > 0 || !matches!(core.state, State::Ready(_)) {
                    return None;
                }
                let link = core.links.pop_front()?;
                match mem::replace(&mut core.state, State::Busy) {
                    State::Ready(input) => (link, input),
                    _ => unreachable!("checked above"),
                }
            };
            let next = catch_unwind(AssertUnwindSafe(move || link(input)))
                .unwrap_or_else(|panic| Next::Step(Step::Fail(Failure::from_panic(panic))));
            match next {
                Next::Step(step) => {
                    if settle(&self, step) {
                        return None;
                    }
                }
                Next::HandOff(other) => {
                    hand_on(&self);
                    return Some(other);
                }
                Next::Consumed => {
                    hand_on(&self);
                    return None;
                }
            }
        }
    }

    fn cancel_dyn(self: Rc<Self>) {
        Deferred { core: self }.cancel();
    }
}

/// Marks the result as handed on; links still queued can never run, so drop them (loudly).
fn hand_on<T: 'static>(cell: &RefCell<Core<T>>) {
    {
        let stranded = {
            let mut core = cell.borrow_mut();
            core.state = State::HandedOn;
            mem::take(&mut core.links)
        };
        if !stranded.is_empty() {
            log::warn!(target: "gyre::defer",
                "{} callback(s) added to a Deferred after its result was handed on will never run",
                stranded.len());
        }
    }
}

impl<T: 'static> Drop for Core<T> {
    fn drop(&mut self) {
        if let State::Ready(Err(failure)) = &self.state {
            crate::failures::report_failure!(target: "gyre::defer", "Unhandled error in Deferred: {failure:#}");
        }
        if !self.links.is_empty() {
            drop_iteratively(Box::new(mem::take(&mut self.links)));
        }
    }
}

thread_local! {
    /// Links waiting to be dropped while an outer drop is in progress.
    static GRAVEYARD: RefCell<Option<Vec<Box<dyn Any>>>> = const { RefCell::new(None) };
}

/// Drops `garbage` without recursing: a link can own the last handle to another Deferred
/// (an outer chain waiting on this one), whose links can own the next, and so on; dropping a
/// hundred thousand such unfired Deferreds recursively would overflow the stack. The outermost
/// drop empties a queue instead.
fn drop_iteratively(garbage: Box<dyn Any>) {
    let first = GRAVEYARD.try_with(|g| {
        let mut g = g.borrow_mut();
        match g.as_mut() {
            Some(queue) => {
                queue.push(garbage);
                None
            }
            None => {
                *g = Some(Vec::new());
                Some(garbage)
            }
        }
    });
    match first {
        Ok(None) => {} // queued; the outermost drop will get to it
        Ok(Some(garbage)) => {
            drop(garbage);
            while let Some(next) = GRAVEYARD.with(|g| g.borrow_mut().as_mut().and_then(Vec::pop)) {
                drop(next);
            }
            GRAVEYARD.with(|g| *g.borrow_mut() = None);
        }
        Err(_) => {} // thread-local storage is gone (thread exit): `garbage` drops here
    }
}

impl<T: 'static> fmt::Debug for Deferred<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Ok(core) = self.core.try_borrow() else {
            return f.write_str("Deferred { running }");
        };
        let state = match &core.state {
            State::Unfired => "unfired",
            State::Ready(Ok(_)) => "fired (value)",
            State::Ready(Err(_)) => "fired (failure)",
            State::Busy => "running",
            State::Waiting(_) => "waiting on another Deferred",
            State::HandedOn => "result handed on",
        };
        f.debug_struct("Deferred")
            .field("state", &state)
            .field("links", &core.links.len())
            .field("paused", &core.paused)
            .finish()
    }
}
