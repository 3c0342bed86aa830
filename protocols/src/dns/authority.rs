//! [`Authority`]: the records a [`DnsServer`](super::DnsServer) answers from, given as records,
//! a zone file (parsed by `hickory-proto`) or a hosts file.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::serialize::txt::Parser;

use super::{Name, RData, Record, RecordType};

/// Records by name, for the zones a server is authoritative for.
///
/// ```
/// use gyre::protocols::dns::{Authority, RecordType};
///
/// let authority = Authority::from_hosts("192.0.2.7 example.test www.example.test\n::1 localhost6\n", 300);
/// let found = authority.lookup(&"www.example.test.".parse().unwrap(), RecordType::A);
/// assert_eq!(found.unwrap().len(), 1);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Authority {
    /// Names (lower case, absolute) to their records.
    records: BTreeMap<Name, Vec<Record>>,
    /// The zones' origins: names under them that have no records are NXDOMAIN; names
    /// outside every zone are refused.
    origins: Vec<Name>,
}

/// A zone file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneError(pub String);

impl fmt::Display for ZoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot read the zone: {}", self.0)
    }
}

impl std::error::Error for ZoneError {}

impl Authority {
    /// An empty authority: every name is refused until records are added.
    pub fn new() -> Authority {
        Authority::default()
    }

    /// Adds a record; its name's zone is taken to be the name's parent (or the root), unless
    /// a zone already covers it.
    pub fn add(&mut self, record: Record) -> &mut Authority {
        let name = normal(&record.name);
        if !self.origins.iter().any(|o| o.zone_of(&name)) {
            self.origins.push(name.base_name());
        }
        self.records.entry(name).or_default().push(record);
        self
    }

    /// The records of a zone file (RFC 1035 master file syntax, `$ORIGIN` and `$TTL`
    /// included), parsed by `hickory-proto`.
    pub fn from_zone(text: &str, origin: Option<&str>) -> Result<Authority, ZoneError> {
        let origin = origin
            .map(|o| Name::from_ascii(o).map_err(|e| ZoneError(e.to_string())))
            .transpose()?;
        let (origin, sets) = Parser::new(text, None, origin)
            .parse()
            .map_err(|e| ZoneError(e.to_string()))?;
        let mut authority = Authority::new();
        authority.origins.push(normal(&origin));
        for set in sets.values() {
            for record in set.records_without_rrsigs() {
                authority.add(record.clone());
            }
        }
        Ok(authority)
    }

    /// The A and AAAA records of a hosts file (`address name [alias…]`, `#` comments), each
    /// with time to live `ttl`. Lines that do not parse are skipped.
    pub fn from_hosts(text: &str, ttl: u32) -> Authority {
        let mut authority = Authority::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let Some(Ok(ip)) = words.next().map(str::parse::<IpAddr>) else {
                continue;
            };
            for name in words {
                let Ok(mut name) = Name::from_ascii(name) else {
                    continue;
                };
                name.set_fqdn(true);
                let data = match ip {
                    IpAddr::V4(v4) => RData::A(A(v4)),
                    IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
                };
                authority.add(Record::from_rdata(name, ttl, data));
            }
        }
        authority
    }

    /// The records of `rtype` for `name`: `Some` (maybe empty: the name exists, not that
    /// type) inside a zone, `None` for a name that does not exist there. Names outside every
    /// zone: [`covers`](Authority::covers) is false.
    pub fn lookup(&self, name: &Name, rtype: RecordType) -> Option<Vec<Record>> {
        let records = self.records.get(&normal(name))?;
        Some(
            records
                .iter()
                .filter(|r| rtype == RecordType::ANY || r.record_type() == rtype)
                .cloned()
                .collect(),
        )
    }

    /// Whether `name` is inside a zone this authority holds.
    pub fn covers(&self, name: &Name) -> bool {
        let name = normal(name);
        self.origins.iter().any(|o| o.zone_of(&name))
    }
}

/// A name as the map keys it: absolute, lower case.
fn normal(name: &Name) -> Name {
    let mut name = name.to_lowercase();
    name.set_fqdn(true);
    name
}
