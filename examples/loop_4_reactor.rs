//! Stage 4 of the guide (`docs/guide.md`): a tiny reactor, in the shape of gyre's.
//!
//! ```text
//! cargo run --example loop_4_reactor -- [--port 9999] [--seconds 2]
//! ```
//!
//! Stage 3's loop stops knowing what it serves: a slab of ports with protocol objects, each
//! lent out while its protocol runs; `call_later`; a Deferred. Echoes on PORT for `--seconds`.

#[path = "common/args.rs"]
mod args;

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};

const ABOUT: &str =
    "Stage 4 of docs/guide.md: a tiny reactor with ports, protocols, timers and a Deferred.";

type Call = Box<dyn FnOnce(&mut Reactor)>;

/// What a protocol implements (gyre's `DatagramProtocol`).
trait Protocol {
    fn datagram_received(&mut self, cx: &mut Cx<'_>, data: &[u8], from: SocketAddr);
}

/// What a callback is handed: its port, lent, and the timers (gyre's `Context`).
struct Cx<'a> {
    socket: &'a UdpSocket,
    timers: &'a mut Timers,
}

struct Port {
    socket: UdpSocket,
    protocol: Box<dyn Protocol>,
}

/// Delayed calls by deadline; ties in the order they were made.
#[derive(Default)]
struct Timers {
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    calls: HashMap<u64, Call>,
    made: u64,
}

impl Timers {
    fn call_later(&mut self, delay: Duration, f: impl FnOnce(&mut Reactor) + 'static) {
        self.made += 1; // the id: equal deadlines run in the order they were made
        self.heap.push(Reverse((Instant::now() + delay, self.made)));
        self.calls.insert(self.made, Box::new(f));
    }

    fn due(&mut self) -> Option<Call> {
        let &Reverse((at, id)) = self.heap.peek()?;
        (at <= Instant::now()).then(|| self.heap.pop())??;
        self.calls.remove(&id)
    }
}

struct Reactor {
    poll: Poll,
    ports: Vec<Option<Port>>, // the slab: `None` while a port is lent
    timers: Timers,
    running: bool,
}

impl Reactor {
    fn listen(&mut self, port: u16, protocol: impl Protocol + 'static) -> std::io::Result<u16> {
        let mut socket = UdpSocket::bind(([127, 0, 0, 1], port).into())?;
        let token = Token(self.ports.len()); // its index in the slab
        (self.poll.registry()).register(&mut socket, token, Interest::READABLE)?;
        let port = socket.local_addr()?.port();
        let protocol = Box::new(protocol);
        self.ports.push(Some(Port { socket, protocol }));
        Ok(port)
    }

    /// One turn: wait, read and dispatch, run the timers that are due.
    fn run_once(&mut self, events: &mut Events) -> std::io::Result<()> {
        let next = self.timers.heap.peek().map(|Reverse((at, _))| *at);
        let timeout = next.map(|at| at.saturating_duration_since(Instant::now())); // 1.
        self.poll.poll(events, timeout)?; // 2. wait for readiness
        for event in events.iter() {
            self.read_port(event.token().0); // 3. read ready ports, call their protocols
        }
        while let Some(call) = self.timers.due() {
            call(self); // 4. delayed calls that are due
        }
        Ok(())
    }

    /// Lends port `i` out of the table, hands its datagrams to its protocol, puts it back.
    fn read_port(&mut self, i: usize) {
        let Some(mut port) = self.ports[i].take() else {
            return;
        };
        let mut buf = [0u8; 65_536];
        while let Ok((n, from)) = port.socket.recv_from(&mut buf) {
            let (socket, timers) = (&port.socket, &mut self.timers);
            port.protocol
                .datagram_received(&mut Cx { socket, timers }, &buf[..n], from);
        } // drained: WouldBlock (or an error) ends the read, as stage 3 showed
        self.ports[i] = Some(port);
    }
}

/// A value that comes later, and what to do with it (a minimal Twisted `Deferred`).
#[derive(Clone, Default)]
struct Deferred(Rc<RefCell<(Option<u64>, Waiting)>>);

type Waiting = Vec<Box<dyn FnOnce(u64)>>;

impl Deferred {
    fn add_callback(&self, f: impl FnOnce(u64) + 'static) {
        let value = self.0.borrow().0;
        match value {
            Some(v) => f(v),
            None => self.0.borrow_mut().1.push(Box::new(f)),
        }
    }

    fn callback(&self, v: u64) {
        self.0.borrow_mut().0 = Some(v);
        let waiting = std::mem::take(&mut self.0.borrow_mut().1);
        waiting.into_iter().for_each(|f| f(v));
    }
}

/// Echoes and counts; a second after the first datagram, says so (a timer from a callback).
struct Echo(Rc<RefCell<u64>>);

impl Protocol for Echo {
    fn datagram_received(&mut self, cx: &mut Cx<'_>, data: &[u8], from: SocketAddr) {
        let _ = cx.socket.send_to(data, from); // UDP: a full buffer drops, as the network would
        *self.0.borrow_mut() += 1;
        if *self.0.borrow() == 1 {
            cx.timers
                .call_later(Duration::from_secs(1), |_| println!("1 s since the first"));
        }
    }
}

fn main() -> std::io::Result<()> {
    let args = args::Args::parse(ABOUT, "loop_4_reactor [--port 9999] [--seconds 2]");
    let (poll, ports, timers) = (Poll::new()?, Vec::new(), Timers::default());
    let mut reactor = Reactor {
        poll,
        ports,
        timers,
        running: true,
    };
    let echoed = Rc::new(RefCell::new(0));
    let port = reactor.listen(args.get("--port", 9999), Echo(echoed.clone()))?;
    println!("echo on {port}");
    let done = Deferred::default();
    done.add_callback(|n| println!("stopping after {n} echoes"));
    let seconds: f64 = args.get("--seconds", 2.0);
    reactor
        .timers
        .call_later(Duration::from_secs_f64(seconds), move |r| {
            r.running = false;
            done.callback(*echoed.borrow());
        });
    let mut events = Events::with_capacity(64);
    while reactor.running {
        reactor.run_once(&mut events)?;
    }
    Ok(())
}
