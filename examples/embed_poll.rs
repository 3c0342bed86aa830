//! gyre inside another program's event loop: a plain `poll(2)` loop that waits on standard
//! input and on the reactor's file descriptor. Each line you type goes to an echo server;
//! each echo is printed. At the end of input it waits for the echoes still due (at most
//! `--wait` seconds), then the reactor shuts down and the program exits: 0 if every line came
//! back, 1 if not (or if no one listens at the server's address).
//!
//! ```text
//! cargo run --example echo_server &
//! cargo run --example embed_poll -- [--host 127.0.0.1] [--port 9999] [--wait 1]
//! ```
//!
//! The loop is the embedding contract: [`Reactor::start_running`] instead of `run`; wait until
//! the reactor's fd (`AsFd`) is readable or [`Reactor::timeout`] has passed; then one
//! non-blocking turn, `reactor.iterate(Duration::ZERO)`.

#[path = "common/args.rs"]
mod args;

use std::cell::Cell;
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsFd;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use gyre::prelude::*;
use rustix::event::{PollFd, PollFlags, Timespec, poll};

const ABOUT: &str = "gyre's reactor inside a plain poll(2) loop that also reads stdin.";
const USAGE: &str = "embed_poll [--host 127.0.0.1] [--port 9999] [--wait 1]";

/// Prints each echo; once input has ended and nothing is due, stops the reactor.
struct Printer {
    due: Rc<Cell<u32>>,
    input_ended: Rc<Cell<bool>>,
}

impl DatagramProtocol for Printer {
    fn datagram_received(&mut self, cx: &mut Context<'_>, data: &[u8], _: SocketAddr) -> Outcome {
        println!("echo: {}", String::from_utf8_lossy(data));
        self.due.set(self.due.get().saturating_sub(1));
        if self.input_ended.get() && self.due.get() == 0 {
            let _ = cx.reactor().stop();
        }
        Ok(())
    }

    fn connection_refused(&mut self, cx: &mut Context<'_>) -> Outcome {
        eprintln!("no echo server there");
        let _ = cx.reactor().stop();
        Ok(())
    }
}

/// Waits until the reactor's fd or (while `stdin_open`) standard input is readable, or the
/// reactor's timeout passes; returns whether standard input is readable.
fn wait(reactor: &Reactor, stdin_open: bool) -> io::Result<bool> {
    let stdin = io::stdin();
    let mut fds = [
        PollFd::new(reactor, PollFlags::IN),
        PollFd::new(&stdin, PollFlags::IN),
    ];
    let watched = if stdin_open { 2 } else { 1 };
    let timeout = reactor.timeout().and_then(|t| Timespec::try_from(t).ok()); // too long: none
    match poll(&mut fds[..watched], timeout.as_ref()) {
        Ok(_) => Ok(stdin_open && !fds[1].revents().is_empty()),
        Err(rustix::io::Errno::INTR) => Ok(false), // a signal: the reactor's turn handles it
        Err(e) => Err(e.into()),
    }
}

/// Reads what standard input has (one `read`, no buffering behind `poll`'s back) and sends
/// each complete line; `Ok(false)` at the end of input.
fn forward_input(
    typed: &mut Vec<u8>,
    port: &Transport,
    due: &Cell<u32>,
) -> Result<bool, Box<dyn std::error::Error>> {
    let mut chunk = [0u8; 4096];
    let n = rustix::io::read(io::stdin().as_fd(), &mut chunk)?;
    typed.extend_from_slice(&chunk[..n]);
    while let Some(end) = typed.iter().position(|&b| b == b'\n') {
        let line: Vec<u8> = typed.drain(..=end).collect();
        port.write(&line[..line.len() - 1])?;
        due.set(due.get() + 1);
    }
    Ok(n > 0)
}

fn run(server: SocketAddr, wait_after: Duration) -> Result<(), Box<dyn std::error::Error>> {
    let mut reactor = Reactor::new()?;
    let (due, input_ended) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(false)));
    let printer = Printer {
        due: due.clone(),
        input_ended: input_ended.clone(),
    };
    let port = reactor.listen_udp_with(ListenOptions::new(0).interface("127.0.0.1"), printer)?;
    port.connect(server)?;
    reactor.start_running()?;
    let mut typed = Vec::new();
    while reactor.state() != ReactorState::Stopped {
        if wait(&reactor, !input_ended.get())? && !forward_input(&mut typed, &port, &due)? {
            input_ended.set(true); // end of input: stop once the echoes due are in
            if due.get() == 0 {
                reactor.stop()?;
            } else {
                reactor.call_later(wait_after, |r| {
                    let _ = r.stop();
                });
            }
        }
        reactor.iterate(Duration::ZERO)?;
        io::stdout().flush()?;
    }
    match due.get() {
        0 => Ok(()),
        n => Err(format!("{n} echo(es) never came").into()),
    }
}

fn main() -> ExitCode {
    env_logger::init();
    let args = args::Args::parse(ABOUT, USAGE);
    let host: IpAddr = args.get("--host", IpAddr::from([127, 0, 0, 1]));
    let server = SocketAddr::new(host, args.get("--port", 9999));
    let wait_after = Duration::from_secs_f64(args.get("--wait", 1.0));
    match run(server, wait_after) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
