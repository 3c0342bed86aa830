//! Stage 1 of the guide (`docs/guide.md`): a UDP echo server with a blocking `recv_from`.
//!
//! ```text
//! cargo run --example loop_1_blocking -- [--port 9999] [--count N]
//! ```
//!
//! One socket, one thread, one call that waits: it works, and it can do nothing else. A second
//! socket or a timer would need a second thread. `--count N` ends it after N echoes.

#[path = "common/args.rs"]
mod args;

use std::net::UdpSocket;

const ABOUT: &str = "Stage 1 of docs/guide.md: an echo server with a blocking recv_from.";
const USAGE: &str = "loop_1_blocking [--port 9999] [--count N]";

fn main() -> std::io::Result<()> {
    let args = args::Args::parse(ABOUT, USAGE);
    let port: u16 = args.get("--port", 9999);
    let count: Option<u64> = args.get_opt("--count");

    let socket = UdpSocket::bind(("127.0.0.1", port))?;
    println!("echo on {}", socket.local_addr()?.port());
    let mut buf = [0u8; 65_536];
    let mut echoed = 0;
    while count != Some(echoed) {
        // Blocks until a datagram arrives: the whole program waits here.
        let (n, from) = socket.recv_from(&mut buf)?;
        socket.send_to(&buf[..n], from)?;
        echoed += 1;
    }
    Ok(())
}
