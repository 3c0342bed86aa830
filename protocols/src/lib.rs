//! Ready-made protocols built only on gyre's public API.
//!
//! * [`Echo`]: the UDP howto's first listing, sends every datagram back to its sender.
//! * [`Inbox`]: a port's datagrams for async code, `inbox.recv().await`, through a bounded
//!   [`DeferredQueue`](gyre_reactor::defer::DeferredQueue) that counts what it drops.
//! * [`bytes_repr`]: prints a datagram the way Python prints `bytes` (`b"hi\n"`), so the
//!   examples print what their Twisted originals print.

use std::fmt::Write as _;
use std::net::SocketAddr;

use gyre_reactor::{Context, DatagramProtocol, Outcome};

pub use gyre_reactor::prelude;

pub mod dns;
mod inbox;

pub use inbox::{Datagram, Inbox, InboxProtocol};

/// Echoes every datagram back to where it came from (the howto's `Echo`). Unless `quiet`, it
/// prints `received b"…" from host:port` for each one, as the Twisted listing does.
///
/// ```
/// use gyre::protocols::Echo;
/// use gyre::{Reactor, udp::ListenOptions};
///
/// let mut reactor = Reactor::new().unwrap();
/// let port = reactor.listen_udp_with(ListenOptions::new(0).interface("127.0.0.1"), Echo::quiet()).unwrap();
/// assert!(port.get_host().unwrap().port() > 0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Echo {
    quiet: bool,
    echoed: u64,
}

impl Echo {
    /// An echo that prints each datagram.
    pub fn new() -> Echo {
        Echo::default()
    }

    /// An echo that prints nothing (for benchmarks and scripts).
    pub fn quiet() -> Echo {
        Echo {
            quiet: true,
            echoed: 0,
        }
    }

    /// Datagrams echoed so far.
    pub fn echoed(&self) -> u64 {
        self.echoed
    }
}

impl DatagramProtocol for Echo {
    fn datagram_received(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
        from: SocketAddr,
    ) -> Outcome {
        if !self.quiet {
            println!(
                "received {} from {}:{}",
                bytes_repr(data),
                from.ip(),
                from.port()
            );
        }
        cx.transport().write_to(data, from)?;
        self.echoed += 1;
        Ok(())
    }
}

/// `data` as Python 3 prints `bytes`, with double quotes: printable ASCII as is, `\n`, `\r`,
/// `\t`, `\\` and `\"` escaped, everything else as `\xNN`.
///
/// ```
/// assert_eq!(gyre::protocols::bytes_repr(b"hi\n\x00\"x\""), r#"b"hi\n\x00\"x\"""#);
/// ```
pub fn bytes_repr(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len() + 3);
    out.push_str("b\"");
    for &b in data {
        match b {
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('"');
    out
}
