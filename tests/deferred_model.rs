//! Model-based property test of [`Deferred`]: random sequences of operations (adding links,
//! firing, cancelling, pausing) run against a real `Deferred<i64>` and against a plain
//! reference model of Twisted's rules, and both must show the same observable behaviour.
//!
//! Observed after every operation: which links ran, in what order, with what input; what
//! `callback`/`errback` returned (`Ok` or `AlreadyCalled`); `is_called()`; `is_paused()`.
//! At the end, after unpausing fully: the final result from `take_result()`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use gyre::defer::{Deferred, Failure};
use gyre::error::AlreadyCalled;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// The message of the failure a cancelled Deferred holds (`CancelledError`'s message).
const CANCELLED: &str = "the Deferred was cancelled";

/// A result as the test observes it: a value, or a failure's message.
type Obs = Result<i64, String>;

/// One log entry: which link ran, and the input its function was given.
type Entry = (usize, Obs);

/// What a link's function does with its input (for any link shape).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Returns its input unchanged (an errback re-raises the same failure).
    Pass,
    /// A value `v` becomes `v + k` (wrapping); a failure is recovered to the value `k`.
    Add(i64),
    /// Fails with the message `e{code}`.
    Fail(u8),
    /// Panics with the message `p{code}`; the Deferred turns that into a failure.
    Panic(u8),
}

/// One operation on the Deferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    AddCallback(Kind),
    AddErrback(Kind),
    AddBoth(Kind),
    AddCallbacks(Kind, Kind),
    /// `callback(value)`.
    Callback(i64),
    /// `errback(Failure::msg("x{code}"))`.
    Errback(u8),
    Cancel,
    Pause,
    Unpause,
}

/// What a link does, as the model sees it.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Callback(Kind),
    Errback(Kind),
    Both(Kind),
    Callbacks(Kind, Kind),
}

/// The reference model: Twisted's rules written out directly.
#[derive(Debug, Default)]
struct Model {
    /// Links added and not yet run.
    pending: VecDeque<(usize, Shape)>,
    /// The current result, once fired.
    result: Option<Obs>,
    paused: u32,
    fired: bool,
    /// Set by a cancel of an unfired Deferred: the next fire is silently ignored.
    suppress: bool,
    log: Vec<Entry>,
}

/// What a link's function returns, in the model.
fn model_apply(kind: Kind, input: Obs) -> Obs {
    match kind {
        Kind::Pass => input,
        Kind::Add(k) => Ok(input.map_or(k, |v| v.wrapping_add(k))),
        Kind::Fail(code) => Err(format!("e{code}")),
        Kind::Panic(code) => Err(format!("a callback panicked: p{code}")),
    }
}

impl Model {
    fn add(&mut self, id: usize, shape: Shape) {
        self.pending.push_back((id, shape));
        self.run();
    }

    fn fire(&mut self, result: Obs) -> Result<(), AlreadyCalled> {
        if self.fired {
            if self.suppress {
                self.suppress = false;
                return Ok(());
            }
            return Err(AlreadyCalled);
        }
        self.fired = true;
        self.result = Some(result);
        self.run();
        Ok(())
    }

    fn cancel(&mut self) {
        if !self.fired {
            self.suppress = true;
            self.fire(Err(CANCELLED.to_string()))
                .expect("an unfired Deferred accepts a fire");
        }
    }

    fn pause(&mut self) {
        self.paused += 1;
    }

    fn unpause(&mut self) {
        self.paused = self.paused.saturating_sub(1);
        if self.paused == 0 {
            self.run();
        }
    }

    /// Runs waiting links, in order, if the Deferred has fired and is not paused.
    fn run(&mut self) {
        if !self.fired || self.paused > 0 {
            return;
        }
        while let Some((id, shape)) = self.pending.pop_front() {
            let input = self.result.take().expect("a fired model has a result");
            let kind = match (shape, &input) {
                (Shape::Callback(k), Ok(_)) | (Shape::Errback(k), Err(_)) => Some(k),
                (Shape::Callback(_), Err(_)) | (Shape::Errback(_), Ok(_)) => None,
                (Shape::Both(k), _) => Some(k),
                (Shape::Callbacks(k, _), Ok(_)) | (Shape::Callbacks(_, k), Err(_)) => Some(k),
            };
            self.result = Some(match kind {
                Some(kind) => {
                    self.log.push((id, input.clone()));
                    model_apply(kind, input)
                }
                None => input,
            });
        }
    }

    /// `take_result()`: the result once fired, unpaused and with every link run.
    fn final_result(&self) -> Option<Obs> {
        if self.fired && self.paused == 0 && self.pending.is_empty() {
            self.result.clone()
        } else {
            None
        }
    }
}

/// What a link's function returns, on the real Deferred.
fn real_apply(kind: Kind, input: Result<i64, Failure>) -> Result<i64, Failure> {
    match kind {
        Kind::Pass => input,
        Kind::Add(k) => Ok(input.map_or(k, |v| v.wrapping_add(k))),
        Kind::Fail(code) => Err(Failure::msg(format!("e{code}"))),
        Kind::Panic(code) => panic!("p{code}"),
    }
}

fn observe(result: &Result<i64, Failure>) -> Obs {
    result.as_ref().map(|v| *v).map_err(Failure::message)
}

/// A real Deferred, the model, and the log the real links write into.
struct Harness {
    deferred: Deferred<i64>,
    log: Rc<RefCell<Vec<Entry>>>,
    model: Model,
    next_id: usize,
    /// What each `callback`/`errback` op returned on the real Deferred, in order.
    fire_results: Vec<Result<(), AlreadyCalled>>,
}

/// The observations of one run, for fixed tests to pin.
#[derive(Debug)]
struct Outcome {
    log: Vec<Entry>,
    fire_results: Vec<Result<(), AlreadyCalled>>,
    final_result: Option<Obs>,
}

impl Harness {
    fn new() -> Harness {
        Harness {
            deferred: Deferred::new(),
            log: Rc::new(RefCell::new(Vec::new())),
            model: Model::default(),
            next_id: 0,
            fire_results: Vec::new(),
        }
    }

    /// A closure for the real Deferred that logs its input and then does `kind`.
    fn func<A: 'static>(
        &self,
        id: usize,
        kind: Kind,
        to_result: fn(A) -> Result<i64, Failure>,
    ) -> impl FnOnce(A) -> Result<i64, Failure> + 'static {
        let log = self.log.clone();
        move |arg| {
            let input = to_result(arg);
            log.borrow_mut().push((id, observe(&input)));
            real_apply(kind, input)
        }
    }

    fn apply(&mut self, op: Op) -> Result<(), TestCaseError> {
        let id = self.next_id;
        match op {
            Op::AddCallback(_) | Op::AddErrback(_) | Op::AddBoth(_) | Op::AddCallbacks(..) => {
                self.next_id += 1;
            }
            _ => {}
        }
        match op {
            Op::AddCallback(k) => {
                self.deferred.add_callback(self.func(id, k, Ok));
                self.model.add(id, Shape::Callback(k));
            }
            Op::AddErrback(k) => {
                self.deferred.add_errback(self.func(id, k, Err));
                self.model.add(id, Shape::Errback(k));
            }
            Op::AddBoth(k) => {
                self.deferred.add_both(self.func(id, k, |r| r));
                self.model.add(id, Shape::Both(k));
            }
            Op::AddCallbacks(kc, ke) => {
                self.deferred
                    .add_callbacks(self.func(id, kc, Ok), self.func(id, ke, Err));
                self.model.add(id, Shape::Callbacks(kc, ke));
            }
            Op::Callback(v) => {
                let real = self.deferred.callback(v);
                let model = self.model.fire(Ok(v));
                prop_assert_eq!(real, model, "callback({}) returned differently", v);
                self.fire_results.push(real);
            }
            Op::Errback(code) => {
                let real = self.deferred.errback(Failure::msg(format!("x{code}")));
                let model = self.model.fire(Err(format!("x{code}")));
                prop_assert_eq!(real, model, "errback(x{}) returned differently", code);
                self.fire_results.push(real);
            }
            Op::Cancel => {
                self.deferred.cancel();
                self.model.cancel();
            }
            Op::Pause => {
                self.deferred.pause();
                self.model.pause();
            }
            Op::Unpause => {
                self.deferred.unpause();
                self.model.unpause();
            }
        }
        prop_assert_eq!(&*self.log.borrow(), &self.model.log, "log after {:?}", op);
        prop_assert_eq!(
            self.deferred.is_called(),
            self.model.fired,
            "is_called after {:?}",
            op
        );
        prop_assert_eq!(
            self.deferred.is_paused(),
            self.model.paused > 0,
            "is_paused after {:?}",
            op
        );
        Ok(())
    }
}

/// Runs `ops` on a real Deferred and on the model, comparing after every op; then unpauses
/// fully and compares the final result.
fn run_ops(ops: &[Op]) -> Result<Outcome, TestCaseError> {
    let mut h = Harness::new();
    for &op in ops {
        h.apply(op)?;
    }
    while h.model.paused > 0 {
        h.apply(Op::Unpause)?;
    }
    let real = h.deferred.take_result().as_ref().map(observe);
    let model = h.model.final_result();
    prop_assert_eq!(&real, &model, "final result");
    let log = h.log.borrow().clone();
    Ok(Outcome {
        log,
        fire_results: h.fire_results,
        final_result: real,
    })
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        10 => Just(Kind::Pass),
        12 => (-100i64..100).prop_map(Kind::Add),
        10 => (0u8..10).prop_map(Kind::Fail),
        // Rare: each one prints a panic message to stderr.
        1 => (0u8..10).prop_map(Kind::Panic),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => kind().prop_map(Op::AddCallback),
        4 => kind().prop_map(Op::AddErrback),
        3 => kind().prop_map(Op::AddBoth),
        3 => (kind(), kind()).prop_map(|(c, e)| Op::AddCallbacks(c, e)),
        2 => (-1000i64..1000).prop_map(Op::Callback),
        2 => (0u8..10).prop_map(Op::Errback),
        1 => Just(Op::Cancel),
        2 => Just(Op::Pause),
        2 => Just(Op::Unpause),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn deferred_matches_model(ops in proptest::collection::vec(op(), 0..40)) {
        run_ops(&ops)?;
    }
}

#[test]
fn cancel_swallows_the_first_late_fire_only() {
    let out = run_ops(&[
        Op::AddErrback(Kind::Pass),
        Op::Cancel,
        Op::Callback(1),
        Op::Callback(2),
        Op::Errback(3),
        Op::Cancel,
    ])
    .unwrap();
    assert_eq!(out.log, vec![(0, Err(CANCELLED.to_string()))]);
    assert_eq!(
        out.fire_results,
        vec![Ok(()), Err(AlreadyCalled), Err(AlreadyCalled)]
    );
    assert_eq!(out.final_result, Some(Err(CANCELLED.to_string())));
}

#[test]
fn links_added_while_paused_run_in_order_on_unpause() {
    let out = run_ops(&[
        Op::Pause,
        Op::Pause,
        Op::Callback(10),
        Op::AddCallback(Kind::Add(1)),
        Op::AddBoth(Kind::Add(2)),
        Op::Unpause,
        Op::AddCallbacks(Kind::Add(3), Kind::Pass),
        Op::Unpause,
        Op::Unpause, // extra: does nothing
        Op::AddCallback(Kind::Pass),
    ])
    .unwrap();
    assert_eq!(
        out.log,
        vec![(0, Ok(10)), (1, Ok(11)), (2, Ok(13)), (3, Ok(16))]
    );
    assert_eq!(out.final_result, Some(Ok(16)));
}

#[test]
fn errback_recovery_returns_to_the_callback_path() {
    let out = run_ops(&[
        Op::AddCallback(Kind::Fail(1)),
        Op::AddCallback(Kind::Add(100)), // skipped: failure
        Op::AddErrback(Kind::Pass),      // re-raises e1
        Op::AddCallbacks(Kind::Add(7), Kind::Add(5)), // recovers to 5
        Op::AddErrback(Kind::Add(1000)), // skipped: value
        Op::Callback(0),
        Op::AddCallback(Kind::Add(1)), // fired, not paused: runs at once
    ])
    .unwrap();
    assert_eq!(
        out.log,
        vec![
            (0, Ok(0)),
            (2, Err("e1".to_string())),
            (3, Err("e1".to_string())),
            (5, Ok(5)),
        ]
    );
    assert_eq!(out.final_result, Some(Ok(6)));
}

#[test]
fn a_panicking_callback_becomes_a_failure_and_pause_holds_the_cancel() {
    let out = run_ops(&[
        Op::AddErrback(Kind::Pass),
        Op::Pause,
        Op::Cancel,     // fires with CancelledError, but the chain waits
        Op::Errback(4), // swallowed
        Op::AddBoth(Kind::Add(2)),
        Op::AddCallback(Kind::Panic(9)),
        Op::Unpause,
        Op::Errback(5),
    ])
    .unwrap();
    assert_eq!(
        out.log,
        vec![
            (0, Err(CANCELLED.to_string())),
            (1, Err(CANCELLED.to_string())),
            (2, Ok(2)),
        ]
    );
    assert_eq!(out.fire_results, vec![Ok(()), Err(AlreadyCalled)]);
    assert_eq!(
        out.final_result,
        Some(Err("a callback panicked: p9".to_string()))
    );
}
