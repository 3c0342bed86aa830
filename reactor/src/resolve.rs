//! Name resolution that never blocks the loop: the [`Resolver`] trait and the default,
//! `getaddrinfo` on a worker thread.

use std::net::{IpAddr, ToSocketAddrs};

use crate::core::Core;
use crate::defer::{Deferred, Failure};
use crate::error::DnsLookupError;

/// Looks names up for [`Core::resolve`]. Replace it with
/// [`Core::set_resolver`] to use a DNS client, or a fixed table in tests.
///
/// ```
/// use gyre::{Core, Reactor, Resolver};
/// use gyre::defer::Deferred;
/// use std::net::IpAddr;
///
/// struct Fixed;
/// impl Resolver for Fixed {
///     fn resolve(&self, name: &str, _: &mut Core) -> Deferred<Vec<IpAddr>> {
///         Deferred::succeeded(if name == "gyre.test" { vec![[127, 0, 0, 7].into()] } else { vec![] })
///     }
/// }
/// let mut reactor = Reactor::new().unwrap();
/// reactor.set_resolver(Fixed);
/// let ip = reactor.resolve("gyre.test").take_result().unwrap().unwrap();
/// assert_eq!(ip.to_string(), "127.0.0.7");
/// ```
pub trait Resolver: 'static {
    /// Starts looking `name` up; the Deferred fires with the addresses found, in preference
    /// order (an empty list means "no such host"), or fails. It must not block; it may use
    /// the reactor (open a port, ask a worker thread).
    fn resolve(&self, name: &str, reactor: &mut Core) -> Deferred<Vec<IpAddr>>;
}

/// The default resolver: the system's `getaddrinfo` (through `ToSocketAddrs`) on a worker
/// thread per lookup, its answer brought back to the loop by
/// [`Core::reply_from_thread`]. Both IPv4 and IPv6 answers are kept (Twisted's asks for
/// IPv4 only).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve(&self, name: &str, reactor: &mut Core) -> Deferred<Vec<IpAddr>> {
        let (answer, reply) = reactor.reply_from_thread();
        let name = name.to_string();
        // If the thread cannot start, `reply` is dropped unsent and `answer` fails.
        let _ = std::thread::Builder::new()
            .name("gyre-resolve".into())
            .spawn(move || reply.send(lookup(&name)));
        answer
    }
}

/// One blocking lookup, on a worker thread.
fn lookup(name: &str) -> Result<Vec<IpAddr>, Failure> {
    let found = (name, 0).to_socket_addrs().map_err(|e| {
        Failure::new(DnsLookupError {
            name: name.to_string(),
            source: Some(e),
        })
    })?;
    let mut ips: Vec<IpAddr> = Vec::new();
    for addr in found {
        if !ips.contains(&addr.ip()) {
            ips.push(addr.ip());
        }
    }
    Ok(ips)
}

/// The address `resolve` answers with: the first IPv4 address, else the first one.
pub(crate) fn pick_address(ips: &[IpAddr]) -> Option<IpAddr> {
    ips.iter()
        .find(|ip| ip.is_ipv4())
        .or_else(|| ips.first())
        .copied()
}
