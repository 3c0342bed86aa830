//! Stage 2 of the guide (`docs/guide.md`): two echo sockets and a timer in one thread, with
//! non-blocking sockets and `poll(2)`.
//!
//! ```text
//! cargo run --example loop_2_poll -- [--port 9999] [--ticks N]
//! ```
//!
//! The loop asks the kernel "which of these is readable?", waiting at most until the next
//! timer is due. `poll` is level-triggered: a socket with data left is reported again, so one
//! `recv_from` per report is enough. Echoes on PORT and PORT+1; prints `tick N` every 200 ms
//! and ends after `--ticks` ticks (default: never).

#[path = "common/args.rs"]
mod args;

use std::io::ErrorKind;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};

const ABOUT: &str = "Stage 2 of docs/guide.md: two echo sockets and a timer with poll(2).";
const USAGE: &str = "loop_2_poll [--port 9999] [--ticks N]";
const TICK: Duration = Duration::from_millis(200);

fn main() -> std::io::Result<()> {
    let args = args::Args::parse(ABOUT, USAGE);
    let port: u16 = args.get("--port", 9999);
    let ticks: Option<u64> = args.get_opt("--ticks");

    let first = UdpSocket::bind(("127.0.0.1", port))?;
    let port = first.local_addr()?.port();
    let second = UdpSocket::bind(("127.0.0.1", if port == 0 { 0 } else { port + 1 }))?;
    let sockets = [first, second];
    for socket in &sockets {
        socket.set_nonblocking(true)?; // a read with nothing queued returns WouldBlock
    }
    println!(
        "echo on {} and {}",
        sockets[0].local_addr()?.port(),
        sockets[1].local_addr()?.port()
    );
    let mut next_tick = Instant::now() + TICK;
    let mut ticked = 0;
    let mut buf = [0u8; 65_536];
    while ticks != Some(ticked) {
        // 1. Wait for readiness, at most until the timer is due.
        let wait = next_tick.saturating_duration_since(Instant::now());
        let timeout = Timespec::try_from(wait).expect("a short wait");
        let mut fds: Vec<PollFd<'_>> = sockets
            .iter()
            .map(|s| PollFd::new(s, PollFlags::IN))
            .collect();
        poll(&mut fds, Some(&timeout))?;
        let ready: Vec<bool> = fds
            .iter()
            .map(|fd| fd.revents().contains(PollFlags::IN))
            .collect();
        // 2. Serve each readable socket once: poll reports it again if more is queued.
        for (socket, ready) in sockets.iter().zip(ready) {
            if !ready {
                continue;
            }
            match socket.recv_from(&mut buf) {
                Ok((n, from)) => drop(socket.send_to(&buf[..n], from)),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
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
