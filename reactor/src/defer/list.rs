//! Waiting on many Deferreds: [`DeferredList`], [`gather_results`], [`race`].
//!
//! Each member gets one link that moves its result into a shared collector. A member's value
//! moves into the list (so the member's own chain ends there); a member's failure is copied
//! into the list and, unless errors are consumed, stays in the member too, where it is logged
//! as unhandled if nothing else handles it (Twisted's `consumeErrors`).

use std::cell::RefCell;
use std::rc::Rc;

use super::deferred::{Link, Next, WeakDeferred};
use super::{Deferred, Failure, IntoStep, Step};
use crate::error::{FailureGroup, FirstError};

/// What a [`DeferredList`] fires with.
#[derive(Debug)]
pub enum ListOutcome<T> {
    /// Every member's result, in the order given (`Ok` = success, Twisted's `(True, value)`).
    All(Vec<Result<T, Failure>>),
    /// With `fire_on_one_callback`: the first member to succeed, and its index.
    First {
        /// Index of the member in the list given.
        index: usize,
        /// Its value.
        value: T,
    },
}

/// Twisted's `DeferredList`: one Deferred for a list of them, with its options.
///
/// By default it fires, once every member has fired, with [`ListOutcome::All`]. With
/// `fire_on_one_callback` it fires with the first success instead (or with `All` if none
/// succeeds); with `fire_on_one_errback` the first failure errbacks it with a [`FirstError`];
/// with `consume_errors` the members' failures are handled by the list (no "Unhandled error"
/// log from the members). Cancelling the list's Deferred cancels every member.
///
/// ```
/// use gyre::defer::{Deferred, DeferredList, Failure, ListOutcome};
/// let a = Deferred::<u8>::new();
/// let b = Deferred::<u8>::new();
/// let all = DeferredList::new(vec![a.clone(), b.clone()]).consume_errors(true).into_deferred();
/// b.errback(Failure::msg("lost")).unwrap();
/// a.callback(1).unwrap();
/// let ListOutcome::All(results) = all.take_result().unwrap().unwrap() else { panic!() };
/// assert_eq!(results[0].as_ref().unwrap(), &1);
/// assert_eq!(results[1].as_ref().unwrap_err().message(), "lost");
/// ```
#[derive(Debug)]
pub struct DeferredList<T: 'static> {
    members: Vec<Deferred<T>>,
    fire_on_one_callback: bool,
    fire_on_one_errback: bool,
    consume_errors: bool,
}

impl<T: 'static> DeferredList<T> {
    /// A list over these Deferreds, with every option off.
    pub fn new(members: Vec<Deferred<T>>) -> DeferredList<T> {
        DeferredList {
            members,
            fire_on_one_callback: false,
            fire_on_one_errback: false,
            consume_errors: false,
        }
    }

    /// Fire with the first member that succeeds.
    pub fn fire_on_one_callback(mut self, yes: bool) -> Self {
        self.fire_on_one_callback = yes;
        self
    }

    /// Errback with [`FirstError`] on the first member that fails.
    pub fn fire_on_one_errback(mut self, yes: bool) -> Self {
        self.fire_on_one_errback = yes;
        self
    }

    /// Handle the members' failures, so they are not logged as unhandled.
    pub fn consume_errors(mut self, yes: bool) -> Self {
        self.consume_errors = yes;
        self
    }

    /// Attaches to the members and returns the list's Deferred. An empty list fires at once.
    pub fn into_deferred(self) -> Deferred<ListOutcome<T>> {
        let DeferredList {
            members,
            fire_on_one_callback,
            fire_on_one_errback,
            consume_errors,
        } = self;
        collect(members, consume_errors, move |event| match event {
            Event::Success(index, value) if fire_on_one_callback => {
                Verdict::Fire(Ok(ListOutcome::First { index, value }))
            }
            Event::Failure(index, failure) if fire_on_one_errback => {
                Verdict::Fire(Err(Failure::new(FirstError { index, failure })))
            }
            Event::Success(index, value) => Verdict::Keep(index, Ok(value)),
            Event::Failure(index, failure) => Verdict::Keep(index, Err(failure)),
            Event::AllDone(results) => Verdict::Fire(Ok(ListOutcome::All(results))),
        })
    }
}

/// A list's Deferred that fires with every member's result, in order: Twisted's plain
/// `DeferredList(ds, consumeErrors=True)`.
pub fn deferred_list<T: 'static>(members: Vec<Deferred<T>>) -> Deferred<Vec<Result<T, Failure>>> {
    collect(members, true, |event| match event {
        Event::Success(index, value) => Verdict::Keep(index, Ok(value)),
        Event::Failure(index, failure) => Verdict::Keep(index, Err(failure)),
        Event::AllDone(results) => Verdict::Fire(Ok(results)),
    })
}

/// Every member's value in order, or the first failure as a [`FirstError`] with its index
/// (Twisted's `gatherResults`). Cancelling the result cancels every member.
///
/// ```
/// use gyre::defer::{gather_results, Deferred};
/// let d = gather_results(vec![Deferred::succeeded(1), Deferred::succeeded(2)], true);
/// assert_eq!(d.take_result().unwrap().unwrap(), vec![1, 2]);
/// ```
pub fn gather_results<T: 'static>(
    members: Vec<Deferred<T>>,
    consume_errors: bool,
) -> Deferred<Vec<T>> {
    collect(members, consume_errors, |event| match event {
        Event::Success(index, value) => Verdict::Keep(index, Ok(value)),
        Event::Failure(index, failure) => {
            Verdict::Fire(Err(Failure::new(FirstError { index, failure })))
        }
        Event::AllDone(results) => Verdict::Fire(Ok(results
            .into_iter()
            .map(|r| r.unwrap_or_else(|_| unreachable!("a failure fires the list first")))
            .collect())),
    })
}

/// The first member to succeed, with its index; the others are cancelled. If every member
/// fails, a [`FailureGroup`] with all the failures (Twisted's `race`). Failures are consumed.
///
/// ```
/// use gyre::defer::{race, Deferred};
/// let slow = Deferred::<&str>::new();
/// let fast = Deferred::<&str>::new();
/// let winner = race(vec![slow.clone(), fast.clone()]);
/// fast.callback("fast").unwrap();
/// assert_eq!(winner.take_result().unwrap().unwrap(), (1, "fast"));
/// assert!(slow.is_called()); // cancelled
/// ```
pub fn race<T: 'static>(members: Vec<Deferred<T>>) -> Deferred<(usize, T)> {
    let members_for_cancel: Vec<WeakDeferred<T>> =
        members.iter().map(Deferred::downgrade).collect();
    let d = collect(members, true, |event| match event {
        Event::Success(index, value) => Verdict::Fire(Ok((index, value))),
        Event::Failure(index, failure) => Verdict::Keep(index, Err(failure)),
        Event::AllDone(results) => Verdict::Fire(Err(Failure::new(FailureGroup {
            failures: results.into_iter().filter_map(Result::err).collect(),
        }))),
    });
    // Once a winner is known, the others are cancelled.
    d.add_both(move |result| {
        if result.is_ok() {
            for member in members_for_cancel.iter().filter_map(WeakDeferred::upgrade) {
                member.cancel();
            }
        }
        result.into_step()
    });
    d
}

/// What the collector saw.
enum Event<T> {
    Success(usize, T),
    Failure(usize, Failure),
    AllDone(Vec<Result<T, Failure>>),
}

/// What the policy decides.
enum Verdict<T, R> {
    /// Record this result at this index and keep waiting.
    Keep(usize, Result<T, Failure>),
    /// Fire the aggregate now.
    Fire(Result<R, Failure>),
}

struct Collector<T: 'static, R: 'static> {
    results: Vec<Option<Result<T, Failure>>>,
    remaining: usize,
    target: Option<Deferred<R>>,
}

/// The one mechanism behind every aggregate: attach a link to each member, record results,
/// and let `policy` decide when the aggregate fires and with what.
fn collect<T: 'static, R: 'static>(
    members: Vec<Deferred<T>>,
    consume_errors: bool,
    policy: impl Fn(Event<T>) -> Verdict<T, R> + 'static,
) -> Deferred<R> {
    let weak_members: Vec<WeakDeferred<T>> = members.iter().map(Deferred::downgrade).collect();
    let target = Deferred::with_canceller(move |_| {
        for member in weak_members.iter().filter_map(WeakDeferred::upgrade) {
            member.cancel();
        }
    });
    let state = Rc::new(RefCell::new(Collector {
        results: (0..members.len()).map(|_| None).collect(),
        remaining: members.len(),
        target: Some(target.clone()),
    }));
    let policy = Rc::new(policy);
    if members.is_empty() {
        if let Verdict::Fire(result) = policy(Event::AllDone(Vec::new())) {
            let _ = target.fire(result);
        }
    }
    for (index, member) in members.into_iter().enumerate() {
        let state = state.clone();
        let policy = policy.clone();
        let link: Link<T> = Box::new(move |result| {
            let kept = match &result {
                Err(f) if !consume_errors => Next::Step(Step::Fail(f.clone())),
                _ => Next::Consumed,
            };
            record(&state, &*policy, index, result);
            kept
        });
        member.push_link(link);
    }
    target
}

/// Records one member's result and fires the aggregate when the policy says so.
fn record<T: 'static, R: 'static>(
    state: &Rc<RefCell<Collector<T, R>>>,
    policy: &dyn Fn(Event<T>) -> Verdict<T, R>,
    index: usize,
    result: Result<T, Failure>,
) {
    if state.borrow().target.is_none() {
        return; // already fired: later results are dropped (failures were consumed or kept above)
    }
    let event = match result {
        Ok(v) => Event::Success(index, v),
        Err(f) => Event::Failure(index, f),
    };
    let fire = match policy(event) {
        Verdict::Fire(result) => Some(result),
        Verdict::Keep(i, result) => {
            let mut s = state.borrow_mut();
            s.results[i] = Some(result);
            s.remaining -= 1;
            if s.remaining == 0 {
                let results = s
                    .results
                    .iter_mut()
                    .map(|r| r.take().expect("every member recorded"))
                    .collect();
                drop(s);
                match policy(Event::AllDone(results)) {
                    Verdict::Fire(result) => Some(result),
                    Verdict::Keep(..) => None,
                }
            } else {
                None
            }
        }
    };
    if let Some(result) = fire {
        let target = state.borrow_mut().target.take();
        if let Some(target) = target {
            let _ = target.fire(result);
        }
    }
}
