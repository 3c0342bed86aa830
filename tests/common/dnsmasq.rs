//! How the DNS tests and `benches/dns.rs` (which includes this file by path) start dnsmasq:
//! on 127.0.0.1 only, no upstream, no system files, authoritative for `.test`.

/// dnsmasq's arguments for a server on 127.0.0.1:`port` with `records` (`--host-record=…`,
/// `--txt-record=…`).
pub fn dnsmasq_args(port: u16, records: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--keep-in-foreground",
        "--no-resolv",
        "--no-hosts",
        "--no-poll",
        "--pid-file=",
        "--conf-file=/dev/null",
        "--bind-interfaces",
        "--listen-address=127.0.0.1",
        "--local=/test/",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(format!("--port={port}"));
    args.extend(records.iter().map(|s| s.to_string()));
    args
}
