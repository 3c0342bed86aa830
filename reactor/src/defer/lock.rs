//! [`DeferredLock`] and [`DeferredSemaphore`] (Twisted's), on the waiting line of
//! [`DeferredQueue`](super::DeferredQueue): a semaphore is a line whose supply is a count of
//! free tokens, and a lock is a semaphore of one token that calls an extra release
//! [`LockError::NotLocked`]. Cancelling, FIFO order and re-entrancy are the line's, so they are
//! the same for all three types.

use std::fmt;

use super::queue::{Line, Supply};
use super::{Deferred, Failure, IntoStep, maybe_deferred};
use crate::error::LockError;

/// Twisted's `DeferredLock`: one holder at a time, the others wait in line.
///
/// [`acquire`](DeferredLock::acquire) returns a Deferred that fires when the lock is the
/// caller's: at once if it is free, else when [`release`](DeferredLock::release) hands it on,
/// first come first served. Cancelling a pending acquire takes it out of the line.
/// [`run`](DeferredLock::run) does acquire, call, release for you.
///
/// A `DeferredLock` is a cheap handle (an `Rc`): clones share one lock. An acquirer's callbacks
/// may release (or acquire) again; the lock then reaches the next acquirer right after that
/// callback returns, iteratively, so a hundred thousand waiters use constant stack, and
/// [`locked`](DeferredLock::locked) already says `true` while it is on its way.
///
/// ```
/// use gyre::defer::DeferredLock;
/// let lock = DeferredLock::new();
/// let first = lock.acquire(); // free: fires at once
/// let second = lock.acquire(); // waits
/// assert!(first.is_called() && !second.is_called());
/// lock.release().unwrap(); // handed to `second`
/// assert!(second.is_called() && lock.locked());
/// lock.release().unwrap();
/// assert!(!lock.locked());
/// ```
#[derive(Clone)]
pub struct DeferredLock(Primitive);

impl Default for DeferredLock {
    fn default() -> Self {
        DeferredLock::new()
    }
}

impl DeferredLock {
    /// A free lock.
    ///
    /// ```
    /// assert!(!gyre::defer::DeferredLock::new().locked());
    /// ```
    pub fn new() -> DeferredLock {
        DeferredLock(Primitive::new(1, LockError::NotLocked))
    }

    /// A Deferred that fires when the lock is the caller's: already fired if the lock is free,
    /// else once every earlier acquirer has had it. Cancelling it while it waits takes it out
    /// of the line (it fails with [`CancelledError`](crate::error::CancelledError)); cancelling
    /// it once it has fired does nothing, and the caller still holds the lock.
    ///
    /// ```
    /// use gyre::defer::DeferredLock;
    /// let lock = DeferredLock::new();
    /// let _held = lock.acquire();
    /// let waiting = lock.acquire();
    /// waiting.cancel();
    /// assert_eq!(lock.waiting(), 0);
    /// ```
    pub fn acquire(&self) -> Deferred<()> {
        self.0.acquire()
    }

    /// Releases the lock; the oldest waiting acquirer gets it now (its callbacks run before
    /// this returns; when called from a callback the lock is running, right after that
    /// callback). [`LockError::NotLocked`] if the lock is free.
    ///
    /// ```
    /// use gyre::defer::DeferredLock;
    /// use gyre::error::LockError;
    /// let lock = DeferredLock::new();
    /// assert_eq!(lock.release(), Err(LockError::NotLocked));
    /// ```
    pub fn release(&self) -> Result<(), LockError> {
        self.0.release()
    }

    /// Whether someone holds the lock (Twisted's `locked`).
    ///
    /// ```
    /// let lock = gyre::defer::DeferredLock::new();
    /// let _held = lock.acquire();
    /// assert!(lock.locked());
    /// ```
    pub fn locked(&self) -> bool {
        self.0.tokens() == 0
    }

    /// How many acquirers wait for the lock.
    ///
    /// ```
    /// let lock = gyre::defer::DeferredLock::new();
    /// let _held = lock.acquire();
    /// let _next = lock.acquire();
    /// assert_eq!(lock.waiting(), 1);
    /// ```
    pub fn waiting(&self) -> usize {
        self.0.waiting()
    }

    /// Acquires the lock, calls `f`, and releases the lock once `f`'s result is complete (if
    /// `f` returns a Deferred, once that fires), whether it succeeded or failed; the returned
    /// Deferred then fires with that result. A panic in `f` becomes a
    /// [`PanicError`](crate::error::PanicError) failure, and the lock is still released.
    /// Cancelling the returned Deferred before `f` runs takes it out of the line (`f` never
    /// runs); cancelling it while `f`'s Deferred is pending cancels that one.
    ///
    /// If `f` released the lock itself, the release after it fails, and so does the result,
    /// with [`LockError::NotLocked`] (Twisted fails the same way).
    ///
    /// ```
    /// use gyre::defer::{Deferred, DeferredLock, Failure};
    /// let lock = DeferredLock::new();
    /// let work = Deferred::<u32>::new();
    /// let w = work.clone();
    /// let result = lock.run(move || w); // runs now: the lock was free
    /// assert!(lock.locked());
    /// work.callback(7).unwrap(); // `f`'s Deferred fires: the lock is released
    /// assert!(!lock.locked());
    /// assert_eq!(result.take_result().unwrap().unwrap(), 7);
    /// ```
    pub fn run<T: 'static, R: IntoStep<T>>(&self, f: impl FnOnce() -> R + 'static) -> Deferred<T> {
        self.0.run(f)
    }
}

impl fmt::Debug for DeferredLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeferredLock")
            .field("locked", &self.locked())
            .field("waiting", &self.waiting())
            .finish()
    }
}

/// Twisted's `DeferredSemaphore`: at most [`limit`](DeferredSemaphore::limit) holders at a
/// time, the others wait in line.
///
/// It works like [`DeferredLock`] with `limit` tokens instead of one: each
/// [`acquire`](DeferredSemaphore::acquire) takes a token (or waits, first come first served),
/// each [`release`](DeferredSemaphore::release) gives one back, and
/// [`run`](DeferredSemaphore::run) limits how many calls are in flight at once.
///
/// ```
/// use gyre::defer::{Deferred, DeferredSemaphore};
/// let sem = DeferredSemaphore::new(2).unwrap();
/// let jobs: Vec<Deferred<u8>> = (0..3).map(|_| Deferred::new()).collect();
/// let results: Vec<Deferred<u8>> = jobs.iter().map(|job| {
///     let job = job.clone();
///     sem.run(move || job)
/// }).collect();
/// assert_eq!((sem.tokens(), sem.waiting()), (0, 1)); // two run, one waits
/// jobs[0].callback(10).unwrap(); // frees a token: the third job starts
/// assert_eq!((sem.tokens(), sem.waiting()), (0, 0));
/// assert_eq!(results[0].take_result().unwrap().unwrap(), 10);
/// ```
#[derive(Clone)]
pub struct DeferredSemaphore(Primitive);

impl DeferredSemaphore {
    /// A semaphore with `tokens` free tokens, which is also its limit.
    ///
    /// # Zero tokens
    /// [`LockError::ZeroTokens`] for `0`, as Twisted raises `ValueError`: every acquire would
    /// wait forever, and quietly using 1 instead would allow concurrency the caller did not ask
    /// for. A `Result` rather than a panic, because the count often comes from configuration.
    ///
    /// ```
    /// use gyre::defer::DeferredSemaphore;
    /// use gyre::error::LockError;
    /// assert_eq!(DeferredSemaphore::new(3).unwrap().limit(), 3);
    /// assert_eq!(DeferredSemaphore::new(0).unwrap_err(), LockError::ZeroTokens);
    /// ```
    pub fn new(tokens: usize) -> Result<DeferredSemaphore, LockError> {
        if tokens == 0 {
            return Err(LockError::ZeroTokens);
        }
        Ok(DeferredSemaphore(Primitive::new(
            tokens,
            LockError::TooManyReleases,
        )))
    }

    /// A Deferred that fires when the caller has a token: already fired if one is free, else
    /// once every earlier acquirer has had one. Cancelling it while it waits takes it out of
    /// the line; cancelling it once it has fired does nothing.
    ///
    /// ```
    /// let sem = gyre::defer::DeferredSemaphore::new(1).unwrap();
    /// assert!(sem.acquire().is_called());
    /// assert!(!sem.acquire().is_called());
    /// ```
    pub fn acquire(&self) -> Deferred<()> {
        self.0.acquire()
    }

    /// Gives a token back; the oldest waiting acquirer gets it now (its callbacks run before
    /// this returns; when called from a callback the semaphore is running, right after that
    /// callback). [`LockError::TooManyReleases`] if every token is already free.
    ///
    /// ```
    /// use gyre::defer::DeferredSemaphore;
    /// use gyre::error::LockError;
    /// let sem = DeferredSemaphore::new(2).unwrap();
    /// let _token = sem.acquire();
    /// sem.release().unwrap();
    /// assert_eq!(sem.release(), Err(LockError::TooManyReleases));
    /// ```
    pub fn release(&self) -> Result<(), LockError> {
        self.0.release()
    }

    /// How many tokens are free (Twisted's `tokens`).
    ///
    /// ```
    /// let sem = gyre::defer::DeferredSemaphore::new(3).unwrap();
    /// let _token = sem.acquire();
    /// assert_eq!(sem.tokens(), 2);
    /// ```
    pub fn tokens(&self) -> usize {
        self.0.tokens()
    }

    /// How many tokens there are in all: the most holders at once (Twisted's `limit`).
    ///
    /// ```
    /// let sem = gyre::defer::DeferredSemaphore::new(3).unwrap();
    /// let _token = sem.acquire();
    /// assert_eq!(sem.limit(), 3);
    /// ```
    pub fn limit(&self) -> usize {
        self.0.limit
    }

    /// How many acquirers wait for a token.
    ///
    /// ```
    /// let sem = gyre::defer::DeferredSemaphore::new(1).unwrap();
    /// let _held = sem.acquire();
    /// let _next = sem.acquire();
    /// assert_eq!(sem.waiting(), 1);
    /// ```
    pub fn waiting(&self) -> usize {
        self.0.waiting()
    }

    /// Acquires a token, calls `f`, and gives the token back once `f`'s result is complete,
    /// success or failure; then passes the result on. The rules are
    /// [`DeferredLock::run`]'s (a panic becomes a failure and still releases; if `f` released
    /// the token itself, the result fails with [`LockError::TooManyReleases`] when no token was
    /// out).
    ///
    /// ```
    /// use gyre::defer::{DeferredSemaphore, Failure};
    /// let sem = DeferredSemaphore::new(1).unwrap();
    /// let d = sem.run(|| Err::<u8, _>(Failure::msg("nope")));
    /// assert_eq!(d.take_result().unwrap().unwrap_err().message(), "nope");
    /// assert_eq!(sem.tokens(), 1); // released all the same
    /// ```
    pub fn run<T: 'static, R: IntoStep<T>>(&self, f: impl FnOnce() -> R + 'static) -> Deferred<T> {
        self.0.run(f)
    }
}

impl fmt::Debug for DeferredSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeferredSemaphore")
            .field("tokens", &self.tokens())
            .field("limit", &self.limit())
            .field("waiting", &self.waiting())
            .finish()
    }
}

/// What a lock and a semaphore share (Twisted's `_ConcurrencyPrimitive`): a line of acquirers
/// waiting for `limit` tokens.
#[derive(Clone)]
struct Primitive {
    line: Line<Tokens>,
    limit: usize,
    /// What a release with every token free fails with.
    over_release: LockError,
}

impl Primitive {
    fn new(limit: usize, over_release: LockError) -> Primitive {
        Primitive {
            line: Line::new(Tokens(limit)),
            limit,
            over_release,
        }
    }

    fn acquire(&self) -> Deferred<()> {
        match self.line.take_now() {
            Some(()) => Deferred::succeeded(()),
            None => self.line.join(),
        }
    }

    fn release(&self) -> Result<(), LockError> {
        let over_release = self.over_release;
        self.line
            .put((), Some(self.limit))
            .map_err(|()| over_release)
    }

    fn tokens(&self) -> usize {
        self.line.available()
    }

    fn waiting(&self) -> usize {
        self.line.waiting()
    }

    /// Acquire, call, release when the result is complete (Twisted's `run`). The release
    /// closure holds the primitive strongly: whoever waits in its line keeps it alive.
    fn run<T: 'static, R: IntoStep<T>>(&self, f: impl FnOnce() -> R + 'static) -> Deferred<T> {
        let primitive = self.clone();
        self.acquire().then(move |()| {
            let result = maybe_deferred(f);
            result.add_both(move |outcome| primitive.release_after(outcome));
            result
        })
    }

    /// Releases after `run`'s function, and passes its result on; a failed release replaces it.
    fn release_after<T>(&self, outcome: Result<T, Failure>) -> Result<T, Failure> {
        self.release().map_err(Failure::new).and(outcome)
    }
}

/// A semaphore's free tokens: interchangeable, so a count is all the line needs.
struct Tokens(usize);

impl Supply for Tokens {
    type Unit = ();

    fn units(&self) -> usize {
        self.0
    }

    fn add(&mut self, (): ()) {
        self.0 += 1;
    }

    fn give_back(&mut self, (): ()) {
        self.0 += 1;
    }

    fn take(&mut self, index: usize) -> Option<()> {
        if index < self.0 {
            self.0 -= 1;
            Some(())
        } else {
            None
        }
    }
}
