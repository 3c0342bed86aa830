//! The UDP howto's `reactor.resolve` listing: look a name up without blocking the loop.
//!
//! ```text
//! cargo run --example resolve -- localhost
//! ```
//!
//! Twisted's original:
//! ```python
//! def gotIP(ip):
//!     print("IP of 'localhost' is", ip)
//!     reactor.callLater(3, reactor.stop)
//!
//! reactor.resolve('localhost').addCallback(gotIP)
//! reactor.run()
//! ```
//! Prints `IP of 'NAME' is ADDR` and exits 0, or prints the error and exits 1.

#[path = "common/args.rs"]
mod args;

use std::cell::Cell;
use std::process::ExitCode;
use std::rc::Rc;

use gyre::prelude::*;

const ABOUT: &str = "Looks a host name up with reactor.resolve, without blocking the loop.";
const USAGE: &str = "resolve NAME";

fn main() -> ExitCode {
    env_logger::init();
    let args = args::Args::parse(ABOUT, USAGE);
    let [name] = args.positional.as_slice() else {
        args::fail(USAGE, "give exactly one name")
    };
    let name = name.clone();

    let mut reactor = Reactor::new().expect("create the reactor");
    let ok = Rc::new(Cell::new(false));
    let (ok2, handle) = (ok.clone(), reactor.handle());
    reactor.call_when_running(move |r| {
        r.resolve(&name).then_both(move |result| {
            match &result {
                Ok(ip) => {
                    println!("IP of '{name}' is {ip}");
                    ok2.set(true);
                }
                Err(failure) => println!("{failure:#}"),
            }
            let _ = handle.stop();
            Ok::<(), Failure>(()) // handled either way
        });
    });
    if let Err(e) = reactor.run() {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    if ok.get() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
