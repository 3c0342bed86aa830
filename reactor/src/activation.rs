//! Socket activation: the sockets a service manager (systemd, or anything speaking its
//! protocol) bound and passed to this process, ready for
//! [`Core::adopt_udp`](crate::Core::adopt_udp).
//!
//! The protocol is `sd_listen_fds(3)`'s: `LISTEN_PID` names the process the sockets are for
//! (another process, a child that inherited the environment, gets none), `LISTEN_FDS` counts
//! them, and they are descriptors 3, 4, … in order; `LISTEN_FDNAMES` may name them,
//! colon-separated. A systemd unit passes UDP sockets with `ListenDatagram=`.
//!
//! ```no_run
//! use gyre::{activation, Reactor};
//! # use gyre::{Context, DatagramProtocol, Outcome};
//! # struct Echo;
//! # impl DatagramProtocol for Echo {
//! #     fn datagram_received(&mut self, cx: &mut Context<'_>, d: &[u8], from: std::net::SocketAddr) -> Outcome {
//! #         cx.transport().write_to(d, from)?; Ok(())
//! #     }
//! # }
//! let sockets = activation::listen_fds()?; // before anything opens a descriptor
//! let mut reactor = Reactor::new()?;
//! for socket in sockets {
//!     reactor.adopt_udp(&socket, Echo)?; // gyre serves its own duplicate
//! }
//! reactor.run()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::os::fd::{OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::sys;

/// `SD_LISTEN_FDS_START`: the first passed descriptor.
const FIRST: RawFd = 3;

/// Set once the passed descriptors have been taken: each may have only one owner.
static TAKEN: AtomicBool = AtomicBool::new(false);

/// The sockets passed to this process, in order, each owned by the caller (close-on-exec);
/// empty when none were passed to it (no `LISTEN_PID`, or another process's). The first call
/// takes them; a later one is [`ActivationError::AlreadyTaken`].
///
/// Call it first thing, before creating the reactor or opening anything: the passed sockets
/// are descriptors 3, 4, …, and a descriptor this process opened at one of those numbers
/// because the socket was not there would otherwise look passed. A number that is not open is
/// [`ActivationError::NotOpen`] (`EBADF`); one that is open but not a socket is refused too.
pub fn listen_fds() -> Result<Vec<OwnedFd>, ActivationError> {
    let count = passed_here()?;
    if count == 0 {
        return Ok(Vec::new());
    }
    if TAKEN.swap(true, Ordering::SeqCst) {
        return Err(ActivationError::AlreadyTaken);
    }
    (FIRST..FIRST + count as RawFd)
        .map(|fd| sys::inherited_fd(fd).map_err(|source| ActivationError::NotOpen { fd, source }))
        .collect()
}

/// The names of the passed sockets (`LISTEN_FDNAMES`), one per socket, `"unknown"` where none
/// is given (systemd's default); empty when none were passed to this process.
pub fn listen_fd_names() -> Vec<String> {
    let count = passed_here().unwrap_or(0);
    let names = std::env::var("LISTEN_FDNAMES").unwrap_or_default();
    let mut names = names.split(':').filter(|n| !n.is_empty());
    (0..count)
        .map(|_| names.next().unwrap_or("unknown").to_string())
        .collect()
}

/// How many descriptors were passed to this process, from its environment.
fn passed_here() -> Result<usize, ActivationError> {
    passed_count(
        std::process::id(),
        std::env::var("LISTEN_PID").ok().as_deref(),
        std::env::var("LISTEN_FDS").ok().as_deref(),
    )
}

/// How many descriptors were passed to process `pid`, from the two variables' values.
fn passed_count(
    pid: u32,
    listen_pid: Option<&str>,
    listen_fds: Option<&str>,
) -> Result<usize, ActivationError> {
    let (Some(listen_pid), Some(listen_fds)) = (listen_pid, listen_fds) else {
        return Ok(0);
    };
    match listen_pid.trim().parse::<u32>() {
        Ok(p) if p == pid => {}
        Ok(_) => return Ok(0), // passed to another process (our parent, say)
        Err(_) => {
            return Err(ActivationError::Malformed(
                "LISTEN_PID",
                listen_pid.to_string(),
            ));
        }
    }
    listen_fds
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|&n| n <= (RawFd::MAX - FIRST) as usize)
        .ok_or_else(|| ActivationError::Malformed("LISTEN_FDS", listen_fds.to_string()))
}

/// Why the passed sockets could not be taken.
#[derive(Debug)]
#[non_exhaustive]
pub enum ActivationError {
    /// `LISTEN_PID` or `LISTEN_FDS` is not a number.
    Malformed(&'static str, String),
    /// A descriptor `LISTEN_FDS` counts is not open (`EBADF`), or is not a socket.
    NotOpen {
        /// The descriptor.
        fd: RawFd,
        /// What the OS said.
        source: std::io::Error,
    },
    /// `listen_fds` already gave the descriptors away.
    AlreadyTaken,
}

impl fmt::Display for ActivationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActivationError::Malformed(name, value) => {
                write!(f, "socket activation: {name}={value:?} is not a number")
            }
            ActivationError::NotOpen { fd, source } => write!(
                f,
                "socket activation: descriptor {fd} was passed but cannot be taken: {source}"
            ),
            ActivationError::AlreadyTaken => {
                f.write_str("socket activation: the passed sockets were already taken")
            }
        }
    }
}

/// The cause is part of the message, so `source()` is empty (no cause is printed twice).
impl std::error::Error for ActivationError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_follows_sd_listen_fds() {
        assert_eq!(passed_count(42, None, None).unwrap(), 0);
        assert_eq!(passed_count(42, Some("42"), None).unwrap(), 0);
        assert_eq!(passed_count(42, None, Some("2")).unwrap(), 0);
        assert_eq!(passed_count(42, Some("7"), Some("2")).unwrap(), 0); // another process's
        assert_eq!(passed_count(42, Some("42"), Some("2")).unwrap(), 2);
        assert_eq!(passed_count(42, Some("42"), Some("0")).unwrap(), 0);
        let e = passed_count(42, Some("42"), Some("two")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "socket activation: LISTEN_FDS=\"two\" is not a number"
        );
        let e = passed_count(42, Some("me"), Some("1")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "socket activation: LISTEN_PID=\"me\" is not a number"
        );
        assert!(passed_count(42, Some("42"), Some("-1")).is_err());
    }
}
