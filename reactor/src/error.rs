//! Every public error type of the engine, each a small type with `Display` and `Error`.
//!
//! Errors that travel through a [`Deferred`](crate::defer::Deferred) chain are wrapped in a
//! [`Failure`]; check them with
//! [`Failure::check`](crate::defer::Failure::check) or
//! [`Failure::downcast_ref`](crate::defer::Failure::downcast_ref).

use std::error::Error;
use std::fmt;
use std::time::Duration;

use crate::defer::Failure;

/// A [`Deferred`](crate::defer::Deferred) was fired a second time (Twisted's `AlreadyCalledError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlreadyCalled;

impl fmt::Display for AlreadyCalled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the Deferred has already been fired")
    }
}

impl Error for AlreadyCalled {}

/// A Deferred was cancelled before it had a result (Twisted's `CancelledError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CancelledError;

impl fmt::Display for CancelledError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the Deferred was cancelled")
    }
}

impl Error for CancelledError {}

/// A Deferred did not fire within the time given to
/// [`Deferred::add_timeout`](crate::defer::Deferred::add_timeout) (Twisted's `defer.TimeoutError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeoutError {
    /// The timeout that ran out.
    pub after: Duration,
}

impl fmt::Display for TimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the Deferred timed out after {:?}", self.after)
    }
}

impl Error for TimeoutError {}

/// A callback panicked; the panic was caught and turned into this failure, the way Twisted turns
/// an exception raised in a callback into a `Failure`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanicError {
    /// The panic's message, when it had one.
    pub message: String,
}

impl fmt::Display for PanicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a callback panicked: {}", self.message)
    }
}

impl Error for PanicError {}

/// The first failure among a list of Deferreds, with its index (Twisted's `FirstError`).
#[derive(Debug, Clone)]
pub struct FirstError {
    /// Index of the failing Deferred in the list that was given.
    pub index: usize,
    /// The failure it had.
    pub failure: Failure,
}

impl fmt::Display for FirstError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Deferred #{} failed: {}", self.index, self.failure)
    }
}

impl Error for FirstError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.failure.as_error())
    }
}

/// Every Deferred given to [`race`](crate::defer::race) failed (Twisted's `FailureGroup`).
#[derive(Debug, Clone)]
pub struct FailureGroup {
    /// The failures, in the order of the Deferreds given.
    pub failures: Vec<Failure>,
}

impl fmt::Display for FailureGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "all {} Deferreds failed", self.failures.len())?;
        for (i, failure) in self.failures.iter().enumerate() {
            write!(f, "{}#{i}: {failure}", if i == 0 { ": " } else { "; " })?;
        }
        Ok(())
    }
}

impl Error for FailureGroup {}

/// Acting on a [`DelayedCall`](crate::time::DelayedCall) that can no longer be changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DelayedCallError {
    /// The call already ran (or is running now).
    AlreadyCalled,
    /// The call was cancelled (or its timer queue was dropped, which cancels every call).
    AlreadyCancelled,
}

impl fmt::Display for DelayedCallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DelayedCallError::AlreadyCalled => "the delayed call has already run",
            DelayedCallError::AlreadyCancelled => "the delayed call was cancelled",
        })
    }
}

impl Error for DelayedCallError {}

/// Misuse of a [`LoopingCall`](crate::time::LoopingCall) or of a timer queue's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeError {
    /// `LoopingCall::start` on a call that is already running.
    AlreadyRunning,
    /// `LoopingCall::stop` or `reset` on a call that is not running.
    NotRunning,
    /// `Timers::advance` on timers whose clock is not a [`ManualClock`](crate::time::ManualClock):
    /// a real clock cannot be moved by hand.
    NotManualClock,
}

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeError::AlreadyRunning => "the looping call is already running",
            TimeError::NotRunning => "the looping call is not running",
            TimeError::NotManualClock => "only timers on a ManualClock can be advanced by hand",
        })
    }
}

impl Error for TimeError {}

/// Misuse of the reactor's lifecycle (Twisted's `ReactorNotRunning`, `ReactorAlreadyRunning`,
/// `ReactorNotRestartable`), or a poll that failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReactorError {
    /// `stop` on a reactor that is not running (never started, or already stopping/stopped).
    NotRunning,
    /// `run` on a reactor that is already running.
    AlreadyRunning,
    /// `run` after the reactor was stopped: a stopped reactor cannot run again.
    NotRestartable,
    /// The OS poll call failed (also logged); the loop cannot go on.
    PollFailed(std::io::Error),
}

impl fmt::Display for ReactorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReactorError::NotRunning => f.write_str("the reactor is not running"),
            ReactorError::AlreadyRunning => f.write_str("the reactor is already running"),
            ReactorError::NotRestartable => {
                f.write_str("the reactor was stopped and cannot be restarted")
            }
            ReactorError::PollFailed(e) => write!(f, "polling for I/O failed: {e}"),
        }
    }
}

impl Error for ReactorError {}

/// Two errors are equal when they are the same variant; two `PollFailed` when their OS errors
/// have the same kind and code.
impl PartialEq for ReactorError {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (ReactorError::PollFailed(a), ReactorError::PollFailed(b)) => {
                a.kind() == b.kind() && a.raw_os_error() == b.raw_os_error()
            }
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }
}

impl Eq for ReactorError {}

/// An address that is not what the call needs: a hostname where an IP literal is required, a
/// malformed literal, or the wrong address family for the socket (Twisted's
/// `InvalidAddressError`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidAddress {
    /// The address as given.
    pub address: String,
    /// Why it was refused.
    pub reason: &'static str,
}

impl fmt::Display for InvalidAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid address {:?}: {}", self.address, self.reason)
    }
}

impl Error for InvalidAddress {}

/// Why opening a port (`listen_udp`, `adopt_udp`, `listen_unix_datagram`, …) failed. Nothing
/// is left open when it does.
#[derive(Debug)]
#[non_exhaustive]
pub enum ListenError {
    /// The interface is not an IP literal (Twisted's `InvalidAddressError`).
    InvalidAddress(InvalidAddress),
    /// The socket could not be created, configured or bound (Twisted's `CannotListenError`).
    CannotListen {
        /// The address it tried to bind.
        address: std::net::SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A UNIX datagram port could not be bound to `address` (Twisted's
    /// `CannotListenError`): the path exists already (`AddrInUse`), its directory is missing
    /// or not writable, …
    CannotListenUnix {
        /// The address asked for.
        address: crate::unix::UnixAddress,
        /// Why.
        source: std::io::Error,
    },
    /// A UNIX datagram port could not connect to `address`: no socket there, or not a
    /// datagram one (Twisted's `connectionFailed`).
    CannotConnectUnix {
        /// The peer's address.
        address: crate::unix::UnixAddress,
        /// Why.
        source: std::io::Error,
    },
    /// A socket could not be adopted (Twisted's `adoptDatagramPort`): the descriptor is not
    /// open (`EBADF`), not a datagram socket, not IPv4 or IPv6, or not bound.
    CannotAdopt {
        /// The descriptor given.
        fd: i32,
        /// What was wrong with it.
        source: std::io::Error,
    },
    /// The protocol's `start_protocol` failed; the port was closed again.
    StartFailed(Failure),
    /// The reactor has shut its ports down (it is stopped, or in the last steps of stopping):
    /// a new port would never be served.
    ReactorStopped,
}

impl fmt::Display for ListenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenError::InvalidAddress(e) => write!(f, "cannot listen: {e}"),
            ListenError::CannotListen { address, source } => {
                write!(f, "cannot listen on {address}: {source}")
            }
            ListenError::CannotListenUnix { address, source } => {
                write!(f, "cannot listen on {address}: {source}")
            }
            ListenError::CannotConnectUnix { address, source } => {
                write!(f, "cannot connect to {address}: {source}")
            }
            ListenError::CannotAdopt { fd, source } => {
                write!(f, "cannot adopt descriptor {fd}: {source}")
            }
            ListenError::StartFailed(failure) => write!(f, "start_protocol failed: {failure}"),
            ListenError::ReactorStopped => f.write_str(
                "cannot listen: the reactor has shut down its ports (it is stopped or stopping)",
            ),
        }
    }
}

/// The cause is part of the message, so `source()` is empty (no cause is printed twice).
impl Error for ListenError {}

/// Why a datagram could not be sent, or a transport call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum WriteError {
    /// The address is a hostname, malformed, or of the wrong family for this port.
    InvalidAddress(InvalidAddress),
    /// The datagram is larger than the OS accepts (`EMSGSIZE`; Twisted's `MessageLengthError`).
    MessageLength {
        /// The datagram's size in bytes.
        size: usize,
    },
    /// `write` without an address on a port that is not connected.
    NotConnected,
    /// `write_to` on a connected port with an address other than its peer.
    WrongPeer {
        /// The connected peer.
        connected: std::net::SocketAddr,
        /// The address given.
        given: std::net::SocketAddr,
    },
    /// A UNIX datagram port connected to one peer was asked to write to another.
    WrongUnixPeer {
        /// The peer the port is connected to.
        connected: Box<crate::unix::UnixAddress>,
        /// The address the write named.
        given: Box<crate::unix::UnixAddress>,
    },
    /// `connect` on a port that is already connected (Twisted raises `RuntimeError`).
    AlreadyConnected,
    /// The port was stopped.
    PortClosed,
    /// Any other OS error.
    Io(std::io::Error),
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::InvalidAddress(e) => write!(f, "{e}"),
            WriteError::MessageLength { size } => {
                write!(f, "message too long: a {size}-byte datagram does not fit")
            }
            WriteError::NotConnected => {
                f.write_str("write without an address on an unconnected port")
            }
            WriteError::WrongPeer { connected, given } => {
                write!(f, "the port is connected to {connected}, not {given}")
            }
            WriteError::WrongUnixPeer { connected, given } => {
                write!(f, "the port is connected to {connected}, not {given}")
            }
            WriteError::AlreadyConnected => {
                f.write_str("already connected; reconnecting is not supported")
            }
            WriteError::PortClosed => f.write_str("the port is closed"),
            WriteError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// The cause is part of the message, so `source()` is empty (no cause is printed twice).
impl Error for WriteError {}

impl From<InvalidAddress> for WriteError {
    fn from(e: InvalidAddress) -> Self {
        WriteError::InvalidAddress(e)
    }
}

/// A name could not be resolved (Twisted's `DNSLookupError`).
#[derive(Debug)]
pub struct DnsLookupError {
    /// The name that was looked up.
    pub name: String,
    /// Why: the resolver's error, or `None` if it found no address.
    pub source: Option<std::io::Error>,
}

impl fmt::Display for DnsLookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The resolver's error is the `source()`: `{:#}` on a Failure prints it after this.
        match &self.source {
            Some(_) => write!(f, "DNS lookup failed for {:?}", self.name),
            None => write!(f, "DNS lookup failed for {:?}: no address found", self.name),
        }
    }
}

impl Error for DnsLookupError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.as_ref().map(|e| e as &(dyn Error + 'static))
    }
}

/// Joining or leaving a multicast group failed (Twisted's `MulticastJoinError`): the group,
/// the interface, and why: the OS error (joining twice is `EADDRINUSE`, leaving a group not
/// joined is `EADDRNOTAVAIL`), or gyre's own check (not a multicast address, wrong family).
#[derive(Debug)]
pub struct MulticastJoinError {
    /// The group, as given.
    pub group: String,
    /// The interface, as given (`""` for any).
    pub interface: String,
    /// What went wrong.
    pub source: std::io::Error,
}

impl fmt::Display for MulticastJoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let on = if self.interface.is_empty() {
            "any interface"
        } else {
            &self.interface
        };
        write!(f, "multicast group {} on {on}: {}", self.group, self.source)
    }
}

/// The cause is part of the message, so `source()` is empty (no cause is printed twice).
impl Error for MulticastJoinError {}

/// [`DeferredQueue::put`](crate::defer::DeferredQueue::put) on a queue that already holds its
/// `size` items, with no getter waiting (Twisted's `QueueOverflow`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueOverflow;

impl fmt::Display for QueueOverflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the queue is full")
    }
}

impl Error for QueueOverflow {}

/// [`DeferredQueue::get`](crate::defer::DeferredQueue::get) on an empty queue that already has
/// its `backlog` of getters waiting (Twisted's `QueueUnderflow`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueUnderflow;

impl fmt::Display for QueueUnderflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("too many getters are already waiting on the queue")
    }
}

impl Error for QueueUnderflow {}

/// Misuse of a [`DeferredLock`](crate::defer::DeferredLock) or a
/// [`DeferredSemaphore`](crate::defer::DeferredSemaphore) (Twisted asserts, or raises
/// `ValueError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LockError {
    /// `release` on a lock that is not locked.
    NotLocked,
    /// `release` on a semaphore whose tokens are all free: more releases than acquires.
    TooManyReleases,
    /// A semaphore with no token at all: every acquire would wait forever.
    ZeroTokens,
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LockError::NotLocked => "released a lock that is not locked",
            LockError::TooManyReleases => "released a semaphore more times than it was acquired",
            LockError::ZeroTokens => "a semaphore needs at least one token",
        })
    }
}

impl Error for LockError {}

/// The peer's host answered with ICMP "port unreachable": no one listens there (Twisted's
/// `ConnectionRefusedError`). Connected protocols hear of it through
/// [`connection_refused`](crate::DatagramProtocol::connection_refused); async code receiving
/// through an inbox gets it as the failure of its next receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionRefusedError;

impl fmt::Display for ConnectionRefusedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection refused: no one listens at the peer's address")
    }
}

impl Error for ConnectionRefusedError {}

/// A receive waited on a port that stopped listening, and nothing it received is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortClosedError;

impl fmt::Display for PortClosedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the port stopped listening")
    }
}

impl Error for PortClosedError {}
