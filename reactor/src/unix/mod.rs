//! UNIX datagram ports (Twisted's `listenUNIXDatagram` / `connectUNIXDatagram`): a second
//! kind of port on the same loop.
//!
//! A UNIX port has its own table in the reactor (its `mio` tokens carry a tag bit), its own
//! protocol trait ([`UnixDatagramProtocol`], whose datagrams come from a [`UnixAddress`]) and
//! its own transport ([`UnixTransport`]); the loop's steps (read, refusals, lifecycle) ask
//! the port's kind once and call the matching module. Receiving is batched as for UDP
//! (`recvmmsg` into the same buffers); a write leaves at once, because a UNIX datagram socket
//! is reliable and tells its writer when the peer has no room.
//!
//! ```
//! use gyre::{Outcome, Reactor};
//! use gyre::unix::{UnixAddress, UnixContext, UnixDatagramProtocol, UnixOptions};
//! use std::cell::RefCell;
//! use std::rc::Rc;
//! use std::time::Duration;
//!
//! struct Echo;
//! impl UnixDatagramProtocol for Echo {
//!     fn datagram_received(&mut self, cx: &mut UnixContext<'_>, data: &[u8], from: &UnixAddress) -> Outcome {
//!         cx.transport().write_to(data, from)?;
//!         Ok(())
//!     }
//! }
//!
//! struct Client(Rc<RefCell<Vec<u8>>>);
//! impl UnixDatagramProtocol for Client {
//!     fn start_protocol(&mut self, cx: &mut UnixContext<'_>) -> Outcome {
//!         cx.transport().write(b"ping")?; // connected: no address needed
//!         Ok(())
//!     }
//!     fn datagram_received(&mut self, cx: &mut UnixContext<'_>, data: &[u8], _: &UnixAddress) -> Outcome {
//!         self.0.borrow_mut().extend_from_slice(data);
//!         cx.reactor().stop()?;
//!         Ok(())
//!     }
//! }
//!
//! let mut reactor = Reactor::new().unwrap();
//! reactor.install_signal_handlers(false);
//! let name = format!("\0gyre-doc-echo-{}", std::process::id()); // a Linux abstract name
//! reactor.listen_unix_datagram(&name, Echo).unwrap();
//! let me = format!("\0gyre-doc-client-{}", std::process::id());
//! let answer = Rc::new(RefCell::new(Vec::new()));
//! let options = UnixOptions::new(&name).bind_address(&me); // so the echo can answer
//! reactor.connect_unix_datagram_with(options, Client(answer.clone())).unwrap();
//! reactor.call_later(Duration::from_secs(5), |r| { let _ = r.stop(); }); // bounded
//! reactor.run().unwrap();
//! assert_eq!(*answer.borrow(), b"ping");
//! ```

mod address;
pub(crate) mod dispatch;
mod listen;
mod options;
pub(crate) mod port;
mod protocol;
mod transport;

pub use address::{ToUnixAddress, UnixAddress};
pub use options::UnixOptions;
pub use protocol::{UnixContext, UnixDatagramProtocol};
pub use transport::UnixTransport;
