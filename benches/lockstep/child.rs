//! The child: `lockstep --turns KIND N SIZE ROUNDS`, run under callgrind by the parent.
//!
//! It starts one server and a client on 127.0.0.1, then plays `ROUNDS` rounds in lockstep:
//! the client sends exactly `N` datagrams of `SIZE` bytes, the server runs exactly one turn
//! (the only code callgrind counts), the client reads exactly `N` echoes. Loopback delivers
//! a datagram into the receiving socket's queue before `send` returns, so the turn finds all
//! `N` waiting; an echo that does not come back within two seconds is an error, which also
//! catches a server that needs more than one turn for them.

use std::net::UdpSocket;
use std::process::ExitCode;
use std::time::Duration;

use crate::servers::{Kind, Res};

/// How long the client waits for one echo.
const ECHO_TIMEOUT: Duration = Duration::from_secs(2);
/// Upper bounds on the command line, so a typo cannot start an endless run.
const MAX_N: usize = 64;
const MAX_ROUNDS: usize = 100_000;
const MAX_SIZE: usize = 65_507;

/// What one child does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Turns {
    /// The server.
    pub kind: Kind,
    /// Datagrams per round.
    pub n: usize,
    /// Bytes per datagram.
    pub size: usize,
    /// Rounds, each with exactly one turn.
    pub rounds: usize,
}

impl Turns {
    /// `--turns KIND N SIZE ROUNDS` if the command line starts so; an error if it is there
    /// but malformed.
    pub fn from_args(args: &[String]) -> Option<Res<Turns>> {
        let at = args.iter().position(|a| a == "--turns")?;
        Some(Turns::parse(&args[at + 1..]))
    }

    fn parse(args: &[String]) -> Res<Turns> {
        let [kind, n, size, rounds, ..] = args else {
            return Err("usage: lockstep --turns KIND N SIZE ROUNDS".into());
        };
        let kind = Kind::parse(kind).ok_or_else(|| format!("unknown server {kind:?}"))?;
        let (n, size, rounds) = (n.parse()?, size.parse()?, rounds.parse()?);
        if !(1..=MAX_N).contains(&n) || size > MAX_SIZE || rounds > MAX_ROUNDS {
            return Err(format!("out of range: N {n}, SIZE {size}, ROUNDS {rounds}").into());
        }
        Ok(Turns {
            kind,
            n,
            size,
            rounds,
        })
    }

    /// The arguments that make a child do this.
    pub fn to_args(self) -> Vec<String> {
        let mut args = vec!["--turns".to_string(), self.kind.name().to_string()];
        args.extend([self.n, self.size, self.rounds].map(|v| v.to_string()));
        args
    }
}

/// Runs the rounds; the exit code says whether every echo came back.
pub fn main(turns: Res<Turns>) -> ExitCode {
    match turns.and_then(play) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lockstep child: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Starts the server and the client, then plays every round.
fn play(turns: Turns) -> Res<()> {
    let mut server = turns.kind.start()?;
    let client = UdpSocket::bind("127.0.0.1:0")?;
    client.connect(server.addr())?;
    client.set_read_timeout(Some(ECHO_TIMEOUT))?;
    let payload = vec![0xa5; turns.size];
    let mut buf = vec![0; MAX_SIZE + 1];
    for round in 0..turns.rounds {
        for _ in 0..turns.n {
            client.send(&payload)?;
        }
        server.turn()?;
        for k in 0..turns.n {
            let got = client.recv(&mut buf).map_err(|e| {
                format!(
                    "round {round}: echo {k} of {} did not come back: {e}",
                    turns.n
                )
            })?;
            if buf[..got] != payload[..] {
                return Err(format!("round {round}: echo {k} differs ({got} bytes)").into());
            }
        }
    }
    Ok(())
}
