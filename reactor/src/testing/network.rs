//! [`Network`]: a deterministic network simulator for tests. Ports on virtual loopback
//! addresses, driven by the real loop on a [`ManualClock`], exchange datagrams through links
//! with latency, jitter (so reordering), loss, duplication, truncation and ICMP refusals drawn
//! from a seeded generator, the same for every pair of hosts or set per pair
//! ([`Network::set_link`]): the same seed gives the same run, datagram for datagram.
//!
//! A reactor joins a network with [`Network::attach`]; from then on its `listen_udp` and
//! `listen_udp_with` open simulated ports instead of sockets, so a protocol (a DNS client, an
//! echo) runs unchanged on the simulator and on real sockets. A datagram to an address where
//! no port listens is lost, and a connected sender hears `connection_refused`, as from the
//! kernel. [`Network::run_until`] turns the loop, moves the clock to the next event (a
//! delivery or a timer), and repeats.
//!
//! ```
//! use gyre::testing::{Link, Network};
//! use gyre::time::ManualClock;
//! use gyre::{Context, DatagramProtocol, Outcome, Reactor};
//! use gyre::udp::ListenOptions;
//! use std::net::SocketAddr;
//! use std::time::Duration;
//!
//! struct Echo;
//! impl DatagramProtocol for Echo {
//!     fn datagram_received(&mut self, cx: &mut Context<'_>, data: &[u8], from: SocketAddr) -> Outcome {
//!         cx.transport().write_to(data, from)?;
//!         Ok(())
//!     }
//! }
//!
//! let clock = ManualClock::new();
//! let mut reactor = Reactor::with_clock(clock.clone()).unwrap();
//! let network = Network::new(7, Link::latency(Duration::from_millis(20)));
//! network.attach(&mut reactor);
//! let server = reactor.listen_udp_with(ListenOptions::new(7).interface("127.0.0.7"), Echo).unwrap();
//! let client = reactor.listen_udp_with(ListenOptions::new(0).interface("127.0.0.1"), Echo).unwrap();
//! client.write_to(b"ping", server.get_host().unwrap()).unwrap();
//! // The echo bounces back and forth, 20 ms each way, until the time limit.
//! network.run_until(&mut reactor, &clock, Duration::from_millis(100), || false);
//! assert_eq!(network.stats().delivered, 5); // at 20, 40, 60, 80 and 100 ms
//! ```

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::{Rc, Weak};
use std::time::Duration;

use crate::reactor::Reactor;
use crate::time::ManualClock;
use crate::udp::outbox::Outbox;
use crate::udp::port::PortId;
use crate::udp::socket::{Arrival, Wire};

/// How a link treats each datagram: a fixed latency plus up to `jitter` more (datagrams
/// that draw different delays arrive out of order), and probabilities (0 to 1) of loss,
/// duplication and truncation to a random shorter length.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    /// Every datagram's delay.
    pub latency: Duration,
    /// Up to this much more, drawn per datagram.
    pub jitter: Duration,
    /// Probability that a datagram is lost.
    pub loss: f64,
    /// Probability that a datagram arrives twice.
    pub duplicate: f64,
    /// Probability that a datagram arrives cut short.
    pub truncate: f64,
    /// Probability that a datagram is answered with an ICMP "port unreachable" instead of
    /// delivered (a firewall that rejects; a connected sender hears `connection_refused`).
    pub refuse: f64,
}

impl Link {
    /// A perfect link with this latency.
    pub fn latency(latency: Duration) -> Link {
        Link {
            latency,
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
            truncate: 0.0,
            refuse: 0.0,
        }
    }

    /// The same link, losing this share of datagrams.
    pub fn loss(self, loss: f64) -> Link {
        Link { loss, ..self }
    }

    /// The same link, with up to this much extra delay per datagram.
    pub fn jitter(self, jitter: Duration) -> Link {
        Link { jitter, ..self }
    }

    /// The same link, delivering this share of datagrams twice.
    pub fn duplicate(self, duplicate: f64) -> Link {
        Link { duplicate, ..self }
    }

    /// The same link, cutting this share of datagrams short.
    pub fn truncate(self, truncate: f64) -> Link {
        Link { truncate, ..self }
    }

    /// The same link, refusing this share of datagrams with an ICMP error.
    pub fn refuse(self, refuse: f64) -> Link {
        Link { refuse, ..self }
    }
}

/// What the network did with a datagram, as its trace records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fate {
    /// Delivered to a listening port.
    Delivered,
    /// Lost on the link.
    Lost,
    /// Delivered, and a copy scheduled.
    Duplicated,
    /// Delivered cut short.
    Truncated,
    /// No port at the destination (a connected sender hears a refusal).
    Unreachable,
    /// Refused on the way by the link (an ICMP error back to the sender).
    Refused,
}

/// One line of a run's trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEvent {
    /// When it was sent, from the network's start.
    pub at: Duration,
    /// Sender and destination.
    pub from: SocketAddr,
    /// Destination.
    pub to: SocketAddr,
    /// Bytes sent.
    pub len: usize,
    /// What became of it.
    pub fate: Fate,
}

impl fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>10.3} ms {} -> {} {} B {:?}",
            self.at.as_secs_f64() * 1e3,
            self.from,
            self.to,
            self.len,
            self.fate
        )
    }
}

/// What a network has carried so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetworkStats {
    /// Datagrams sent into the network.
    pub sent: u64,
    /// Datagrams handed to a port (copies included).
    pub delivered: u64,
    /// Datagrams lost on a link.
    pub lost: u64,
    /// Extra copies made.
    pub duplicated: u64,
    /// Datagrams cut short.
    pub truncated: u64,
    /// Datagrams to an address where no port listened.
    pub unreachable: u64,
    /// Datagrams the link refused with an ICMP error.
    pub refused: u64,
}

/// A simulated network; cheap to clone (clones share it).
#[derive(Clone)]
pub struct Network {
    state: Rc<RefCell<State>>,
}

/// A listening simulated port.
pub(crate) struct Endpoint {
    pub wire: Weak<Wire>,
    pub outbox: Weak<Outbox>,
    pub id: PortId,
}

/// A datagram on its way.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct InFlight {
    due: Duration,
    seq: u64,
    from: SocketAddr,
    to: SocketAddr,
    data: Vec<u8>,
    /// The trace line of the datagram this carries (to mark it unreachable); `None` for an
    /// ICMP refusal going back to a sender.
    event: Option<usize>,
}

struct State {
    rng: u64,
    link: Link,
    /// Links between two hosts that differ from `link`, keyed by the pair in either order.
    links: BTreeMap<(IpAddr, IpAddr), Link>,
    /// Time from the network's start, as its clock last showed it.
    now: Duration,
    endpoints: BTreeMap<SocketAddr, Endpoint>,
    in_flight: BinaryHeap<Reverse<InFlight>>,
    seq: u64,
    next_port: u16,
    trace: Vec<TraceEvent>,
    stats: NetworkStats,
}

impl Network {
    /// A network whose links all behave as `link`, its random draws seeded with `seed`.
    pub fn new(seed: u64, link: Link) -> Network {
        Network {
            state: Rc::new(RefCell::new(State {
                rng: seed.max(1),
                link,
                links: BTreeMap::new(),
                now: Duration::ZERO,
                endpoints: BTreeMap::new(),
                in_flight: BinaryHeap::new(),
                seq: 0,
                next_port: 40_000,
                trace: Vec::new(),
                stats: NetworkStats::default(),
            })),
        }
    }

    /// Makes `reactor`'s UDP ports simulated ones on this network, from now on.
    pub fn attach(&self, reactor: &mut Reactor) {
        reactor.network = Some(self.clone());
    }

    /// Makes the link between hosts `a` and `b` (both ways) behave as `link`; every other
    /// pair keeps the network's.
    pub fn set_link(&self, a: IpAddr, b: IpAddr, link: Link) {
        let key = if a <= b { (a, b) } else { (b, a) };
        self.state.borrow_mut().links.insert(key, link);
    }

    /// The datagrams sent so far, with what became of each.
    pub fn trace(&self) -> Vec<TraceEvent> {
        self.state.borrow().trace.clone()
    }

    /// The totals so far.
    pub fn stats(&self) -> NetworkStats {
        self.state.borrow().stats
    }

    /// Turns the loop and moves `clock` from event to event (a delivery, a timer) until
    /// `done()` holds or `limit` of simulated time has passed; returns whether `done()` held.
    /// A loop with nothing left to do (no timer, nothing in flight) ends the run early.
    pub fn run_until(
        &self,
        reactor: &mut Reactor,
        clock: &ManualClock,
        limit: Duration,
        mut done: impl FnMut() -> bool,
    ) -> bool {
        let end = self.state.borrow().now + limit;
        loop {
            let _ = reactor.iterate(Duration::ZERO);
            self.collect();
            if done() {
                return true;
            }
            let now = self.state.borrow().now;
            let timer = reactor.timeout().map(|wait| now + wait);
            let delivery = self.state.borrow().in_flight.peek().map(|d| d.0.due);
            let next = match (timer, delivery) {
                (Some(t), Some(d)) => t.min(d),
                (t, d) => match t.or(d) {
                    Some(next) => next,
                    None => return false, // idle: nothing will ever happen
                },
            };
            if next > end {
                clock.advance(end - now);
                self.state.borrow_mut().now = end;
                return done();
            }
            clock.advance(next - now);
            self.state.borrow_mut().now = next;
            self.deliver_due();
        }
    }

    /// Files a port bound at `address` (port 0: the next free one); `None` if it is taken.
    pub(crate) fn bind(
        &self,
        address: SocketAddr,
        wire: &Rc<Wire>,
        outbox: &Rc<Outbox>,
        id: PortId,
    ) -> Option<SocketAddr> {
        let mut s = self.state.borrow_mut();
        s.endpoints.retain(|_, e| e.wire.strong_count() > 0);
        let ip = match address.ip() {
            ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            ip => ip,
        };
        let address = match address.port() {
            0 => loop {
                let port = s.next_port;
                s.next_port = s.next_port.checked_add(1).unwrap_or(40_000);
                let candidate = SocketAddr::new(ip, port);
                if !s.endpoints.contains_key(&candidate) {
                    break candidate;
                }
            },
            _ => SocketAddr::new(ip, address.port()),
        };
        if s.endpoints.contains_key(&address) {
            return None;
        }
        s.endpoints.insert(
            address,
            Endpoint {
                wire: Rc::downgrade(wire),
                outbox: Rc::downgrade(outbox),
                id,
            },
        );
        Some(address)
    }

    /// Takes what every port sent this turn into the network.
    fn collect(&self) {
        let mut s = self.state.borrow_mut();
        let mut sent = Vec::new();
        for (address, endpoint) in &s.endpoints {
            if let Some(wire) = endpoint.wire.upgrade() {
                for (data, to) in wire.outbound.borrow_mut().drain(..) {
                    sent.push((*address, to, data));
                }
            }
        }
        for (from, to, data) in sent {
            s.send(from, to, data);
        }
    }

    /// Hands every datagram due by now to its port.
    fn deliver_due(&self) {
        let mut s = self.state.borrow_mut();
        while s.in_flight.peek().is_some_and(|d| d.0.due <= s.now) {
            let Reverse(datagram) = s.in_flight.pop().expect("peeked");
            s.deliver(datagram);
        }
    }
}

impl State {
    /// Whether an event of probability `p` happens: a draw from the seeded generator, or
    /// none at all when `p` is 0 (so a property left off never shifts the others' draws).
    fn happens(&mut self, p: f64) -> bool {
        p > 0.0 && self.draw() < p
    }

    /// A number in `0..1` from the seeded generator (xorshift64*).
    fn draw(&mut self) -> f64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let x = self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The link between two hosts.
    fn link(&self, a: IpAddr, b: IpAddr) -> Link {
        let key = if a <= b { (a, b) } else { (b, a) };
        self.links.get(&key).copied().unwrap_or(self.link)
    }

    fn delay(&mut self, link: &Link) -> Duration {
        match link.jitter.is_zero() {
            true => link.latency,
            false => link.latency + link.jitter.mul_f64(self.draw()),
        }
    }

    /// One datagram into the link: lost, refused, or scheduled (maybe twice, maybe cut short).
    fn send(&mut self, from: SocketAddr, to: SocketAddr, mut data: Vec<u8>) {
        self.stats.sent += 1;
        let link = self.link(from.ip(), to.ip());
        let len = data.len();
        let mut fate = Fate::Delivered;
        if self.happens(link.loss) {
            self.stats.lost += 1;
            self.record(from, to, len, Fate::Lost);
            return;
        }
        if self.happens(link.refuse) {
            self.stats.refused += 1;
            self.record(from, to, len, Fate::Refused);
            let due = self.now + self.delay(&link);
            self.schedule(due, to, from, Vec::new(), None);
            return;
        }
        let event = Some(self.trace.len()); // the line `record` is about to write
        if !data.is_empty() && self.happens(link.truncate) {
            let keep = (self.draw() * len as f64) as usize;
            data.truncate(keep);
            self.stats.truncated += 1;
            fate = Fate::Truncated;
        }
        if self.happens(link.duplicate) {
            self.stats.duplicated += 1;
            fate = Fate::Duplicated;
            let due = self.now + self.delay(&link);
            self.schedule(due, from, to, data.clone(), event);
        }
        let due = self.now + self.delay(&link);
        self.schedule(due, from, to, data, event);
        self.record(from, to, len, fate);
    }

    fn schedule(
        &mut self,
        due: Duration,
        from: SocketAddr,
        to: SocketAddr,
        data: Vec<u8>,
        event: Option<usize>,
    ) {
        self.seq += 1;
        let seq = self.seq;
        self.in_flight.push(Reverse(InFlight {
            due,
            seq,
            from,
            to,
            data,
            event,
        }));
    }

    fn record(&mut self, from: SocketAddr, to: SocketAddr, len: usize, fate: Fate) {
        let at = self.now;
        self.trace.push(TraceEvent {
            at,
            from,
            to,
            len,
            fate,
        });
    }

    /// A datagram arrives: into its port, or, with no port there, a refusal back to a
    /// sender that is still listening (which its connected socket turns into
    /// `connection_refused`; an unconnected one ignores it, as the kernel does).
    fn deliver(&mut self, d: InFlight) {
        let target = self.endpoints.get(&d.to).and_then(|e| {
            let wire = e.wire.upgrade()?;
            let outbox = e.outbox.upgrade()?;
            Some((wire, outbox, e.id))
        });
        let Some((wire, outbox, id)) = target else {
            if let Some(event) = d.event {
                self.stats.unreachable += 1;
                self.trace[event].fate = Fate::Unreachable;
                let link = self.link(d.from.ip(), d.to.ip());
                let due = self.now + self.delay(&link);
                self.schedule(due, d.to, d.from, Vec::new(), None);
            }
            return;
        };
        let arrival = match d.event {
            None => Arrival::Refused,
            Some(_) => Arrival::Datagram(d.data, d.from),
        };
        if d.event.is_some() {
            self.stats.delivered += 1;
        }
        wire.inbound.borrow_mut().push_back(arrival);
        if !outbox.is_closed() {
            outbox.note_readable(id);
        }
    }
}

impl fmt::Debug for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.borrow();
        f.debug_struct("Network")
            .field("link", &s.link)
            .field("ports", &s.endpoints.len())
            .field("in_flight", &s.in_flight.len())
            .field("stats", &s.stats)
            .finish()
    }
}
