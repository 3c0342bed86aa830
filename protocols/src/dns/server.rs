//! [`DnsServer`]: an authoritative DNS server over UDP (Twisted's
//! `twisted.names.server.DNSServerFactory` with a `DNSDatagramProtocol`).
//!
//! Each query is answered from the [`Authority`]: the records (`NOERROR`), none of that type
//! (`NOERROR`, empty), `NXDOMAIN` for a name in a zone that has no records, `REFUSED` for a
//! name outside every zone (no recursion), `NOTIMP` for an opcode other than a query,
//! `FORMERR` for a query that does not parse (or asks more or fewer than one question) when
//! its header can still be read; anything shorter is dropped. An answer larger than the
//! client can take (512 bytes, or its EDNS payload size) goes out with no records and the TC
//! bit. Nothing a client sends can make it panic; what it could not read is counted.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;

use gyre_reactor::{Context, DatagramProtocol, Outcome};
use hickory_proto::op::{Edns, MessageType, OpCode};

use super::{Authority, Message, ResponseCode};

/// The most a client without EDNS takes (RFC 1035).
const CLASSIC_LIMIT: usize = 512;

/// What a server has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Queries answered (with records, or with an error code).
    pub answered: u64,
    /// Answers sent truncated (TC) because they did not fit.
    pub truncated: u64,
    /// Datagrams that were not a readable query: answered `FORMERR`, or dropped when not even
    /// the header could be read.
    pub malformed: u64,
}

#[derive(Debug, Default)]
struct Counters {
    answered: Cell<u64>,
    truncated: Cell<u64>,
    malformed: Cell<u64>,
}

/// An authoritative DNS server: listen with it like any protocol.
///
/// ```
/// use gyre::protocols::dns::{Authority, DnsServer};
/// use gyre::Reactor;
/// use gyre::udp::ListenOptions;
///
/// let mut reactor = Reactor::new().unwrap();
/// let authority = Authority::from_hosts("192.0.2.7 example.test\n", 300);
/// let (server, stats) = DnsServer::new(authority);
/// reactor.listen_udp_with(ListenOptions::new(0).interface("127.0.0.1"), server).unwrap();
/// assert_eq!(stats.get().answered, 0);
/// ```
#[derive(Debug)]
pub struct DnsServer {
    authority: Authority,
    counters: Rc<Counters>,
}

/// A handle on a server's counters.
#[derive(Debug, Clone)]
pub struct ServerStatsHandle(Rc<Counters>);

impl ServerStatsHandle {
    /// The counters now.
    pub fn get(&self) -> ServerStats {
        ServerStats {
            answered: self.0.answered.get(),
            truncated: self.0.truncated.get(),
            malformed: self.0.malformed.get(),
        }
    }
}

impl DnsServer {
    /// A server answering from `authority`, and a handle on its counters.
    pub fn new(authority: Authority) -> (DnsServer, ServerStatsHandle) {
        let counters = Rc::new(Counters::default());
        let handle = ServerStatsHandle(counters.clone());
        (
            DnsServer {
                authority,
                counters,
            },
            handle,
        )
    }

    /// The answer to a datagram, as bytes; `None` to drop it.
    pub fn answer(&self, data: &[u8]) -> Option<Vec<u8>> {
        let query = match Message::from_vec(data) {
            Ok(query) => query,
            Err(_) => return self.unreadable(data),
        };
        if query.metadata.message_type != MessageType::Query {
            bump(&self.counters.malformed);
            return None; // a response sent to a server: never answer it (no loops)
        }
        let reply = self.reply(&query);
        let limit = query.edns.as_ref().map_or(CLASSIC_LIMIT, |e| {
            usize::from(e.max_payload()).max(CLASSIC_LIMIT)
        });
        let bytes = reply.to_vec().ok()?;
        bump(&self.counters.answered);
        if bytes.len() <= limit {
            return Some(bytes);
        }
        bump(&self.counters.truncated);
        let mut cut = Message::response(reply.metadata.id, reply.metadata.op_code);
        cut.metadata = reply.metadata;
        cut.metadata.truncation = true;
        cut.queries = reply.queries.clone();
        cut.edns = reply.edns.clone();
        cut.to_vec().ok()
    }

    /// The reply to a query that parsed.
    fn reply(&self, query: &Message) -> Message {
        let mut reply = Message::response(query.metadata.id, query.metadata.op_code);
        reply.metadata.recursion_desired = query.metadata.recursion_desired;
        reply.queries = query.queries.clone();
        if let Some(edns) = &query.edns {
            let mut ours = Edns::new();
            ours.set_max_payload(edns.max_payload().max(CLASSIC_LIMIT as u16));
            reply.edns = Some(ours);
        }
        if query.metadata.op_code != OpCode::Query {
            reply.metadata.response_code = ResponseCode::NotImp;
            return reply;
        }
        let [question] = query.queries.as_slice() else {
            reply.metadata.response_code = ResponseCode::FormErr;
            bump(&self.counters.malformed);
            return reply;
        };
        if !self.authority.covers(question.name()) {
            reply.metadata.response_code = ResponseCode::Refused;
            return reply;
        }
        reply.metadata.authoritative = true;
        match self
            .authority
            .lookup(question.name(), question.query_type())
        {
            Some(records) => reply.answers = records,
            None => reply.metadata.response_code = ResponseCode::NXDomain,
        }
        reply
    }

    /// A datagram that does not parse: `FORMERR` when its header is there to answer, else
    /// dropped. Counted either way.
    fn unreadable(&self, data: &[u8]) -> Option<Vec<u8>> {
        bump(&self.counters.malformed);
        // A header is 12 bytes; bit 7 of byte 2 set means it is a response: never answer.
        if data.len() < 12 || data[2] & 0x80 != 0 {
            return None;
        }
        let id = u16::from_be_bytes([data[0], data[1]]);
        let op_code = OpCode::from_u8((data[2] >> 3) & 0x0f);
        Message::error_msg(id, op_code, ResponseCode::FormErr)
            .to_vec()
            .ok()
    }
}

fn bump(counter: &Cell<u64>) {
    counter.set(counter.get() + 1);
}

impl DatagramProtocol for DnsServer {
    fn datagram_received(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
        from: SocketAddr,
    ) -> Outcome {
        if let Some(reply) = self.answer(data) {
            cx.transport().write_to(&reply, from)?;
        }
        Ok(())
    }

    fn log_prefix(&self) -> &str {
        "DNSDatagramProtocol"
    }
}
