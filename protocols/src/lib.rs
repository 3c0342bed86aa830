//! Ready-made protocols built only on gyre's public API.
//!
//! The datagram protocols (echo, and the other programs of Twisted's UDP howto) arrive here
//! with the reactor's UDP ports; until then this crate only re-exports the engine's prelude,
//! so protocol code can already be written against timers and Deferreds.

pub use gyre_reactor::prelude;
