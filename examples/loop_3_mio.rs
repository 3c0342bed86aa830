//! Stage 3 of the guide (`docs/guide.md`): the same loop on `mio`, edge-triggered.
//!
//! ```text
//! cargo run --example loop_3_mio -- [--port 9999] [--ticks N] [--no-drain]
//! ```
//!
//! `mio` registers each socket once with the kernel (epoll) and reports a socket when it
//! *becomes* readable, not while it stays so. So every report must be answered by reading
//! until `WouldBlock`: a datagram left behind would wait until the next one arrives to be
//! noticed. `--no-drain` reads one datagram per report, to watch that happen.

#[path = "common/args.rs"]
mod args;

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};

const ABOUT: &str =
    "Stage 3 of docs/guide.md: the same loop on mio, edge-triggered, draining each port.";
const USAGE: &str = "loop_3_mio [--port 9999] [--ticks N] [--no-drain]";
const TICK: Duration = Duration::from_millis(200);

fn main() -> std::io::Result<()> {
    let args = args::Args::parse(ABOUT, USAGE);
    let port: u16 = args.get("--port", 9999);
    let ticks: Option<u64> = args.get_opt("--ticks");
    let drain = !args.has("--no-drain");

    let mut poll = Poll::new()?;
    let mut sockets = Vec::new();
    for i in 0..2u16 {
        let port = if port == 0 { 0 } else { port + i };
        let mut socket = UdpSocket::bind(([127, 0, 0, 1], port).into())?;
        // Token(i) comes back with every event for this socket.
        poll.registry()
            .register(&mut socket, Token(i.into()), Interest::READABLE)?;
        sockets.push(socket);
    }
    println!(
        "echo on {} and {}",
        sockets[0].local_addr()?.port(),
        sockets[1].local_addr()?.port()
    );
    let mut events = Events::with_capacity(64);
    let mut next_tick = Instant::now() + TICK;
    let mut ticked = 0;
    let mut buf = [0u8; 65_536];
    while ticks != Some(ticked) {
        // 1. Wait for readiness changes, at most until the timer is due.
        poll.poll(
            &mut events,
            Some(next_tick.saturating_duration_since(Instant::now())),
        )?;
        // 2. Drain every socket that became readable.
        for event in events.iter() {
            let socket = &sockets[event.token().0];
            loop {
                match socket.recv_from(&mut buf) {
                    Ok((n, from)) => drop(socket.send_to(&buf[..n], from)),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break, // drained
                    Err(e) => return Err(e),
                }
                if !drain {
                    break; // the rest waits for the next event: the stall drain prevents
                }
            }
        }
        // 3. Run the timer if it is due.
        if Instant::now() >= next_tick {
            ticked += 1;
            println!("tick {ticked}");
            next_tick += TICK;
        }
    }
    Ok(())
}
