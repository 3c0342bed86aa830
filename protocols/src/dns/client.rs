//! [`DnsClient`]: queries over UDP on gyre's public API (Twisted's
//! `twisted.names.client.Resolver`).
//!
//! Each query gets a port of its own (a fresh source port) and a random id, and goes to the
//! servers in turn on Twisted's schedule: 1 s, then 3, 11 and 45 (each attempt to the next
//! server). An answer counts only if it comes from a server that was asked, carries the
//! query's id and repeats its question; anything else is ignored (and counted). The answer
//! comes back through a [`Deferred`] (awaitable), failures as a [`DnsError`]. The client can
//! be the reactor's [`Resolver`], so `resolve(name)` needs no thread.
//!
//! ```
//! use gyre::protocols::dns::{DnsClient, RecordType};
//! use gyre::Reactor;
//!
//! let mut reactor = Reactor::new().unwrap();
//! let client = DnsClient::new(vec!["127.0.0.1:53".parse().unwrap()]);
//! // Sends a query for `localhost.`, type A, to 127.0.0.1:53 on the next turns.
//! let answer = client.query(&mut reactor, "localhost", RecordType::A);
//! answer.cancel(); // stops waiting: the query's port closes
//! ```

use std::cell::RefCell;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use super::{Authority, Message, Name, Query, RData, RecordType, ResponseCode};

use gyre_reactor::defer::{Deferred, Failure, deferred_list};
use gyre_reactor::time::DelayedCall;
use gyre_reactor::udp::{ListenOptions, Transport};
use gyre_reactor::{Context, Core, DatagramProtocol, Outcome, Resolver};
use hickory_proto::op::{MessageType, OpCode};

/// Twisted's retry schedule: how long each attempt waits for an answer (60 s in all).
pub const TIMEOUTS: [Duration; 4] = [
    Duration::from_secs(1),
    Duration::from_secs(3),
    Duration::from_secs(11),
    Duration::from_secs(45),
];

/// Why a query failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DnsError {
    /// The name does not exist (`NXDOMAIN`, Twisted's `DNSNameError`).
    NameError {
        /// The name asked for.
        name: String,
    },
    /// The server failed (`SERVFAIL`, Twisted's `DNSServerError`).
    ServerFailure,
    /// The server refused to answer (`REFUSED`, Twisted's `DNSQueryRefusedError`).
    Refused,
    /// The server does not do this kind of query (`NOTIMP`, Twisted's `DNSNotImplementedError`).
    NotImplemented,
    /// The server could not read the query (`FORMERR`, Twisted's `DNSFormatError`).
    FormatError,
    /// Another response code.
    Other(ResponseCode),
    /// The answer was cut to fit a datagram (TC bit). gyre's client speaks UDP only, so it
    /// cannot ask again over TCP; the answer is not given half.
    Truncated,
    /// No answer after the whole schedule (Twisted's `DNSQueryTimeoutError`).
    Timeout {
        /// How long the client waited in all.
        after: Duration,
    },
    /// The name is not a domain name, or the query could not be built.
    InvalidQuery(String),
    /// The query's port could not be opened or written.
    Io(String),
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsError::NameError { name } => write!(f, "domain name not found: {name}"),
            DnsError::ServerFailure => f.write_str("the DNS server failed (SERVFAIL)"),
            DnsError::Refused => f.write_str("the DNS server refused the query (REFUSED)"),
            DnsError::NotImplemented => {
                f.write_str("the DNS server does not implement this query (NOTIMP)")
            }
            DnsError::FormatError => {
                f.write_str("the DNS server could not read the query (FORMERR)")
            }
            DnsError::Other(code) => write!(f, "the DNS server answered {code}"),
            DnsError::Truncated => f.write_str(
                "the answer was truncated (TC) and this client speaks DNS over UDP only",
            ),
            DnsError::Timeout { after } => write!(f, "no DNS answer after {after:?}"),
            DnsError::InvalidQuery(why) => write!(f, "invalid DNS query: {why}"),
            DnsError::Io(why) => write!(f, "DNS query failed: {why}"),
        }
    }
}

impl std::error::Error for DnsError {}

/// A DNS client over UDP: the servers to ask and the schedule to ask them on.
#[derive(Debug, Clone)]
pub struct DnsClient {
    servers: Vec<SocketAddr>,
    timeouts: Vec<Duration>,
    ignored: Rc<std::cell::Cell<u64>>,
    /// Names answered from a hosts file before any server is asked.
    hosts: Option<Rc<Authority>>,
}

impl DnsClient {
    /// A client of `servers`, asked in turn on Twisted's schedule ([`TIMEOUTS`]).
    pub fn new(servers: Vec<SocketAddr>) -> DnsClient {
        DnsClient {
            servers,
            timeouts: TIMEOUTS.to_vec(),
            ignored: Rc::default(),
            hosts: None,
        }
    }

    /// The name servers of a `resolv.conf` file (`nameserver` lines, port 53), read with the
    /// `resolv-conf` crate; `/etc/resolv.conf` is the system's.
    pub fn from_resolv_conf(path: impl AsRef<std::path::Path>) -> Result<DnsClient, DnsError> {
        let text = std::fs::read(path.as_ref()).map_err(|e| DnsError::Io(e.to_string()))?;
        let config = resolv_conf::Config::parse(&text)
            .map_err(|e| DnsError::InvalidQuery(format!("resolv.conf: {e}")))?;
        let servers: Vec<SocketAddr> = config
            .nameservers
            .iter()
            .map(|ns| SocketAddr::new(IpAddr::from(ns.clone()), 53))
            .collect();
        if servers.is_empty() {
            return Err(DnsError::InvalidQuery("resolv.conf names no server".into()));
        }
        Ok(DnsClient::new(servers))
    }

    /// Another schedule: one attempt per entry, each waiting that long.
    pub fn with_timeouts(mut self, timeouts: Vec<Duration>) -> DnsClient {
        self.timeouts = timeouts;
        self
    }

    /// Answers A and AAAA queries for the names of a hosts file (`/etc/hosts` is the
    /// system's) from it, before asking any server, as Twisted's `createResolver` does.
    pub fn with_hosts_file(
        mut self,
        path: impl AsRef<std::path::Path>,
    ) -> Result<DnsClient, DnsError> {
        let text =
            std::fs::read_to_string(path.as_ref()).map_err(|e| DnsError::Io(e.to_string()))?;
        self.hosts = Some(Rc::new(Authority::from_hosts(&text, 0)));
        Ok(self)
    }

    /// Answers ignored so far: from a server not asked, with the wrong id or question, or
    /// not DNS at all.
    pub fn ignored(&self) -> u64 {
        self.ignored.get()
    }

    /// Asks for records of `rtype` for `name` (relative names are taken as absolute). The
    /// Deferred fires with the server's answer (its `answers` hold the records), or fails
    /// with a [`DnsError`]; cancelling it stops the query and closes its port.
    pub fn query(&self, reactor: &mut Core, name: &str, rtype: RecordType) -> Deferred<Message> {
        self.query_with(reactor, name, rtype, &self.timeouts)
    }

    /// [`query`](DnsClient::query) on a schedule of its own (Twisted's `timeout=` argument):
    /// one attempt per entry, each to the next server.
    pub fn query_with(
        &self,
        reactor: &mut Core,
        name: &str,
        rtype: RecordType,
        timeouts: &[Duration],
    ) -> Deferred<Message> {
        if let Some(found) = self.hosts_answer(name, rtype) {
            return Deferred::succeeded(found);
        }
        match self.start(reactor, name, rtype, timeouts) {
            Ok(answer) => answer,
            Err(e) => Deferred::failed(e),
        }
    }

    /// The hosts file's answer for an A or AAAA query of a name it has.
    fn hosts_answer(&self, name: &str, rtype: RecordType) -> Option<Message> {
        if !matches!(rtype, RecordType::A | RecordType::AAAA) {
            return None;
        }
        let hosts = self.hosts.as_ref()?;
        let qname = absolute_name(name).ok()?;
        let records = hosts.lookup(&qname, rtype).filter(|r| !r.is_empty())?;
        let mut message = Message::response(0, OpCode::Query);
        message.add_query(Query::query(qname, rtype));
        message.answers = records;
        Some(message)
    }

    /// Every IPv4 and IPv6 address of `name` (A and AAAA, asked at once), IPv4 first. A
    /// name that does not exist gives an empty list.
    pub fn lookup_ip(&self, reactor: &mut Core, name: &str) -> Deferred<Vec<IpAddr>> {
        let both = vec![
            self.query(reactor, name, RecordType::A),
            self.query(reactor, name, RecordType::AAAA),
        ];
        deferred_list(both).then(|results| {
            let mut ips = Vec::new();
            let mut failure = None;
            for result in results {
                match result {
                    Ok(message) => ips.extend(addresses(&message)),
                    Err(f)
                        if matches!(
                            f.downcast_ref::<DnsError>(),
                            Some(DnsError::NameError { .. })
                        ) => {}
                    Err(f) => {
                        failure.get_or_insert(f);
                    }
                }
            }
            match (ips.is_empty(), failure) {
                (true, Some(failure)) => Err(failure),
                _ => Ok(ips),
            }
        })
    }

    fn start(
        &self,
        reactor: &mut Core,
        name: &str,
        rtype: RecordType,
        timeouts: &[Duration],
    ) -> Result<Deferred<Message>, DnsError> {
        if self.servers.is_empty() || timeouts.is_empty() {
            return Err(DnsError::InvalidQuery(
                "no server or no attempt to make".into(),
            ));
        }
        let question = Query::query(absolute_name(name)?, rtype);
        let mut message = Message::query();
        message.metadata.recursion_desired = true;
        message.add_query(question.clone());
        let wire = message
            .to_vec()
            .map_err(|e| DnsError::InvalidQuery(e.to_string()))?;
        let state = Rc::new(RefCell::new(QueryState {
            id: message.metadata.id,
            question,
            name: name.to_string(),
            wire,
            servers: self.servers.clone(),
            timeouts: timeouts.to_vec(),
            asked: Vec::new(),
            attempt: 0,
            port: None,
            timer: None,
            answer: Deferred::new(),
            ignored: self.ignored.clone(),
        }));
        // Weak: a query the reactor dropped unanswered must not keep itself alive.
        let answer = {
            let state = Rc::downgrade(&state);
            Deferred::with_canceller(move |_| {
                if let Some(state) = state.upgrade() {
                    QueryState::finish(&state);
                }
            })
        };
        state.borrow_mut().answer = answer.clone();
        let any = if self.servers.iter().all(SocketAddr::is_ipv4) {
            "0.0.0.0"
        } else {
            "::"
        };
        let options = ListenOptions::new(0).interface(any).dual_stack(true);
        let port = reactor
            .listen_udp_with(
                options,
                QueryProtocol {
                    state: state.clone(),
                },
            )
            .map_err(|e| DnsError::Io(e.to_string()))?;
        state.borrow_mut().port = Some(port);
        QueryState::attempt(&state, reactor);
        Ok(answer)
    }
}

impl Resolver for DnsClient {
    fn resolve(&self, name: &str, reactor: &mut Core) -> Deferred<Vec<IpAddr>> {
        self.lookup_ip(reactor, name)
    }
}

/// `name` as a domain name, absolute (`example.test` is `example.test.`).
fn absolute_name(name: &str) -> Result<Name, DnsError> {
    let mut absolute = Name::from_str_relaxed(name)
        .map_err(|e| DnsError::InvalidQuery(format!("{name:?}: {e}")))?;
    absolute.set_fqdn(true);
    Ok(absolute)
}

/// The IPv4 then IPv6 addresses in an answer.
pub fn addresses(message: &Message) -> Vec<IpAddr> {
    let mut v4: Vec<IpAddr> = Vec::new();
    let mut v6: Vec<IpAddr> = Vec::new();
    for record in &message.answers {
        match &record.data {
            RData::A(a) => v4.push(IpAddr::V4(a.0)),
            RData::AAAA(a) => v6.push(IpAddr::V6(a.0)),
            _ => {}
        }
    }
    v4.extend(v6);
    v4
}

/// One query in flight.
struct QueryState {
    id: u16,
    question: Query,
    name: String,
    wire: Vec<u8>,
    servers: Vec<SocketAddr>,
    timeouts: Vec<Duration>,
    /// The servers asked so far: an answer from any of them counts.
    asked: Vec<SocketAddr>,
    attempt: usize,
    port: Option<Transport>,
    timer: Option<DelayedCall>,
    answer: Deferred<Message>,
    ignored: Rc<std::cell::Cell<u64>>,
}

impl QueryState {
    /// Sends attempt `attempt` to its server and arms its timeout; past the schedule, fails.
    fn attempt(state: &Rc<RefCell<QueryState>>, reactor: &mut Core) {
        let mut s = state.borrow_mut();
        if s.attempt >= s.timeouts.len() {
            let after = s.timeouts.iter().sum();
            drop(s);
            QueryState::fail(state, DnsError::Timeout { after });
            return;
        }
        let server = s.servers[s.attempt % s.servers.len()];
        if !s.asked.contains(&server) {
            s.asked.push(server);
        }
        let wait = s.timeouts[s.attempt];
        let sent = match &s.port {
            Some(port) => port.write_to(&s.wire, server).map_err(|e| e.to_string()),
            None => Err("the query's port is closed".to_string()),
        };
        let next = state.clone();
        s.timer = Some(reactor.call_later(wait, move |reactor| {
            next.borrow_mut().attempt += 1;
            QueryState::attempt(&next, reactor);
        }));
        drop(s);
        if let Err(why) = sent {
            log::debug!(target: "gyre::dns", "query to {server} not sent: {why}");
        }
    }

    /// A datagram on the query's port: the answer, or something to ignore.
    fn received(state: &Rc<RefCell<QueryState>>, data: &[u8], from: SocketAddr) {
        let verdict = {
            let s = state.borrow();
            match Message::from_vec(data) {
                Ok(m) if s.accepts(&m, from) => Some(m),
                _ => None,
            }
        };
        let Some(message) = verdict else {
            let s = state.borrow();
            s.ignored.set(s.ignored.get() + 1);
            log::debug!(target: "gyre::dns", "ignored a datagram from {from} for query {}", s.id);
            return;
        };
        let name = state.borrow().name.clone();
        let outcome = match (message.metadata.truncation, message.metadata.response_code) {
            (true, _) => Err(DnsError::Truncated),
            (false, ResponseCode::NoError) => Ok(message),
            (false, ResponseCode::NXDomain) => Err(DnsError::NameError { name }),
            (false, ResponseCode::ServFail) => Err(DnsError::ServerFailure),
            (false, ResponseCode::Refused) => Err(DnsError::Refused),
            (false, ResponseCode::NotImp) => Err(DnsError::NotImplemented),
            (false, ResponseCode::FormErr) => Err(DnsError::FormatError),
            (false, code) => Err(DnsError::Other(code)),
        };
        match outcome {
            Ok(message) => {
                let answer = state.borrow().answer.clone();
                QueryState::finish(state);
                let _ = answer.callback(message);
            }
            Err(e) => QueryState::fail(state, e),
        }
    }

    /// Whether `m` answers this query: a response, from a server asked, with the id and the
    /// question (names compared without regard to case).
    fn accepts(&self, m: &Message, from: SocketAddr) -> bool {
        m.metadata.message_type == MessageType::Response
            && m.metadata.op_code == OpCode::Query
            && m.metadata.id == self.id
            && self.asked.iter().any(|asked| same_host(*asked, from))
            && m.queries.len() == 1
            && m.queries[0].query_type() == self.question.query_type()
            && m.queries[0].name() == self.question.name()
    }

    fn fail(state: &Rc<RefCell<QueryState>>, error: DnsError) {
        let answer = state.borrow().answer.clone();
        QueryState::finish(state);
        let _ = answer.errback(Failure::new(error));
    }

    /// Stops the timer and closes the port (an answer, a failure, or a cancel).
    fn finish(state: &Rc<RefCell<QueryState>>) {
        let (timer, port) = {
            let mut s = state.borrow_mut();
            (s.timer.take(), s.port.take())
        };
        if let Some(timer) = timer {
            let _ = timer.cancel();
        }
        if let Some(port) = port {
            port.stop_listening();
        }
    }
}

/// The same server: address and port, an IPv4 one matching its mapped form.
fn same_host(asked: SocketAddr, from: SocketAddr) -> bool {
    let plain = |a: SocketAddr| match a {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => a,
        },
        a => a,
    };
    plain(asked) == plain(from)
}

/// The protocol on a query's port.
struct QueryProtocol {
    state: Rc<RefCell<QueryState>>,
}

impl DatagramProtocol for QueryProtocol {
    fn datagram_received(&mut self, _: &mut Context<'_>, data: &[u8], from: SocketAddr) -> Outcome {
        QueryState::received(&self.state, data, from);
        Ok(())
    }

    fn log_prefix(&self) -> &str {
        "DNSQuery"
    }
}
