//! [`Failure`]: the error half of a Deferred's result (Twisted's `twisted.python.failure.Failure`).

use std::any::Any;
use std::error::Error;
use std::fmt;
use std::sync::Arc;

use crate::error::PanicError;

/// Any error, shared cheaply, that travels down a Deferred's errback path.
///
/// A `Failure` wraps any `Error + Send + Sync + 'static` value; `?` converts such errors into a
/// `Failure` inside callbacks that return `Result<T, Failure>`. Cloning is cheap (an `Arc`), so a
/// [`DeferredList`](crate::defer::DeferredList) can report a member's failure and still leave it
/// in the member. Like `anyhow::Error`, `Failure` does not itself implement `Error`; use
/// [`as_error`](Failure::as_error) where a `&dyn Error` is needed.
///
/// Twisted's `check` and `trap` become [`check`](Failure::check), [`trap`](Failure::trap) and
/// [`downcast_ref`](Failure::downcast_ref); `getErrorMessage` is [`message`](Failure::message);
/// the chain of causes (`Error::source`) is walked by [`causes`](Failure::causes) and
/// [`find`](Failure::find), and printed by `{:#}`.
///
/// ```
/// use gyre::defer::Failure;
/// use std::io;
///
/// let failure = Failure::new(io::Error::new(io::ErrorKind::NotFound, "no such port"));
/// assert!(failure.check::<io::Error>());
/// assert_eq!(failure.message(), "no such port");
/// let trapped: &io::Error = failure.trap::<io::Error>().unwrap();
/// assert_eq!(trapped.kind(), io::ErrorKind::NotFound);
/// ```
#[derive(Clone)]
pub struct Failure {
    error: Arc<dyn Error + Send + Sync + 'static>,
}

/// The error behind [`Failure::msg`]: a message and nothing else.
#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for Message {}

impl Failure {
    /// Wraps an error.
    pub fn new<E: Error + Send + Sync + 'static>(error: E) -> Failure {
        Failure {
            error: Arc::new(error),
        }
    }

    /// A failure that is only a message.
    ///
    /// ```
    /// let f = gyre::defer::Failure::msg("bad datagram");
    /// assert_eq!(f.to_string(), "bad datagram");
    /// ```
    pub fn msg(message: impl Into<String>) -> Failure {
        Failure::new(Message(message.into()))
    }

    /// Wraps an already boxed error.
    pub fn from_boxed(error: Box<dyn Error + Send + Sync + 'static>) -> Failure {
        Failure {
            error: Arc::from(error),
        }
    }

    /// Turns a caught panic's payload into a failure carrying a [`PanicError`].
    pub(crate) fn from_panic(payload: Box<dyn Any + Send>) -> Failure {
        Failure::new(PanicError {
            message: panic_message(payload.as_ref()),
        })
    }

    /// Whether the wrapped error is an `E` (Twisted's `check`).
    pub fn check<E: Error + 'static>(&self) -> bool {
        self.downcast_ref::<E>().is_some()
    }

    /// The wrapped error as an `E`, if it is one.
    pub fn downcast_ref<E: Error + 'static>(&self) -> Option<&E> {
        self.as_error().downcast_ref::<E>()
    }

    /// The wrapped error as an `E`, or this failure back as the error (Twisted's `trap`, which
    /// re-raises what it does not match). In an errback, `failure.trap::<E>()?` handles `E` and
    /// lets every other failure continue down the errback path.
    pub fn trap<E: Error + 'static>(&self) -> Result<&E, Failure> {
        self.downcast_ref::<E>().ok_or_else(|| self.clone())
    }

    /// The first error of type `E` in the chain of causes, starting with the wrapped error.
    pub fn find<E: Error + 'static>(&self) -> Option<&E> {
        self.causes().find_map(|e| e.downcast_ref::<E>())
    }

    /// The wrapped error's message (Twisted's `getErrorMessage`).
    pub fn message(&self) -> String {
        self.error.to_string()
    }

    /// The wrapped error, then each of its causes in turn (`Error::source`).
    pub fn causes(&self) -> impl Iterator<Item = &(dyn Error + 'static)> {
        fn source<'a>(e: &&'a (dyn Error + 'static)) -> Option<&'a (dyn Error + 'static)> {
            (*e).source()
        }
        std::iter::successors(Some(self.as_error()), source)
    }

    /// The wrapped error as a `&dyn Error`.
    pub fn as_error(&self) -> &(dyn Error + 'static) {
        &*self.error
    }
}

impl<E: Error + Send + Sync + 'static> From<E> for Failure {
    /// Out of line and cold: `?` in a callback costs nothing on its `Ok` path.
    #[cold]
    #[inline(never)]
    fn from(error: E) -> Failure {
        Failure::new(error)
    }
}

impl fmt::Display for Failure {
    /// `{}` prints the error's message; `{:#}` adds every cause, separated by `: `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            for (i, cause) in self.causes().enumerate() {
                if i > 0 {
                    f.write_str(": ")?;
                }
                write!(f, "{cause}")?;
            }
            Ok(())
        } else {
            write!(f, "{}", self.error)
        }
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Failure").field(&self.error).finish()
    }
}

/// The message of a caught panic: its `&str` or `String` payload, or a placeholder.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic without a message)".to_string()
    }
}

/// A Failure as a boxed error, so `?` works in a function returning
/// `Result<_, Box<dyn Error + Send + Sync>>` (`main`, tests, threads).
///
/// ```
/// use gyre::defer::Failure;
/// fn main_like() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
///     let result: Result<(), Failure> = Err(Failure::new(std::io::Error::other("boom")));
///     result?;
///     Ok(())
/// }
/// assert_eq!(main_like().unwrap_err().to_string(), "boom");
/// ```
impl From<Failure> for Box<dyn Error + Send + Sync + 'static> {
    fn from(failure: Failure) -> Self {
        Box::new(Boxed(failure.error))
    }
}

/// A Failure as a boxed error, for `Result<_, Box<dyn Error>>` (what most `main`s return).
impl From<Failure> for Box<dyn Error + 'static> {
    fn from(failure: Failure) -> Self {
        Box::new(Boxed(failure.error))
    }
}

/// The error a Failure holds, shared, as an error of its own.
struct Boxed(Arc<dyn Error + Send + Sync + 'static>);

impl fmt::Debug for Boxed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Boxed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl Error for Boxed {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[derive(Debug)]
    struct Outer(io::Error);
    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("cannot listen")
        }
    }
    impl Error for Outer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn causes_are_kept_and_printed_with_alternate() {
        let f = Failure::new(Outer(io::Error::new(io::ErrorKind::AddrInUse, "in use")));
        assert_eq!(f.to_string(), "cannot listen");
        assert_eq!(format!("{f:#}"), "cannot listen: in use");
        assert_eq!(f.causes().count(), 2);
        assert_eq!(
            f.find::<io::Error>().unwrap().kind(),
            io::ErrorKind::AddrInUse
        );
        assert!(!f.check::<io::Error>());
        assert!(f.check::<Outer>());
    }

    #[test]
    fn trap_returns_the_failure_back_when_the_type_differs() {
        let f = Failure::msg("nope");
        let back = f.trap::<io::Error>().unwrap_err();
        assert_eq!(back.message(), "nope");
    }

    #[test]
    fn question_mark_converts_errors() {
        fn parse(s: &str) -> Result<u16, Failure> {
            Ok(s.parse::<u16>()?)
        }
        let f = parse("x").unwrap_err();
        assert!(f.check::<std::num::ParseIntError>());
    }

    #[test]
    fn panic_payloads_become_messages() {
        let f = Failure::from_panic(Box::new("boom"));
        assert_eq!(f.downcast_ref::<PanicError>().unwrap().message, "boom");
        let f = Failure::from_panic(Box::new(String::from("bang")));
        assert_eq!(f.to_string(), "a callback panicked: bang");
        let f = Failure::from_panic(Box::new(7u8));
        assert_eq!(
            f.to_string(),
            "a callback panicked: (a panic without a message)"
        );
    }
}
