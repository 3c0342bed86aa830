//! From the runs to the tables: medians over rounds, spreads, ratios to the recvmmsg loop and
//! to tokio, and the targets, met or not.

use crate::config::{Config, PAYLOADS, WINDOW};
use crate::servers::ServerKind;
use crate::stats::{Samples, Table, one_decimal, thousands, times};
use crate::suite::{Latency, ServerRun, SizeRun};

/// How every value and ratio below is taken.
const RATIO_NOTE: &str = "Values are medians over rounds, with their min–max. A ratio \
    (`× recvmmsg`, `× recvmmsg+gso`, `× tokio`, …) is the median of the per-round ratios: \
    each server against the baseline run in the same round, seconds apart, which cancels the \
    slow drifts of the VM's speed; the targets table shows the range of those per-round \
    ratios too. A phase during which other programs used over a fifth of a core is re-run \
    (at most twice) and, if still disturbed, left out.";
/// The idle RSS target, in KiB.
const IDLE_RSS_TARGET_KIB: f64 = 4096.0;

/// One server and one payload size, over the rounds.
#[derive(Debug, Clone, Default)]
struct PerSize {
    throughput: Samples,
    p50: Samples,
    p99: Samples,
    p999: Samples,
    cpu: Samples,
    server_busy: Samples,
    generator_busy: Samples,
    others_busy: Samples,
    steal: Samples,
    retries: u32,
    excluded_pingpong: usize,
    excluded_window: usize,
    sent: u64,
    lost: u64,
    ping_lost: u64,
}

/// One server, over the rounds.
#[derive(Debug, Clone)]
struct PerServer {
    kind: ServerKind,
    sizes: Vec<PerSize>,
    idle_rss: Samples,
    peak_rss: Samples,
}

/// Everything the suite measured, summarised.
#[derive(Debug, Clone)]
pub struct Summary {
    rounds: usize,
    servers: Vec<PerServer>,
}

impl Summary {
    /// Gathers the runs by server and payload size.
    pub fn new(config: &Config, runs: &[ServerRun]) -> Summary {
        let servers = config
            .servers
            .iter()
            .map(|&kind| per_server(kind, runs.iter().filter(|r| r.kind == kind)))
            .collect();
        Summary {
            rounds: config.rounds,
            servers,
        }
    }

    /// Rounds run.
    pub fn rounds(&self) -> usize {
        self.rounds
    }

    /// The servers, in round order.
    pub fn kinds(&self) -> Vec<ServerKind> {
        self.servers.iter().map(|s| s.kind).collect()
    }

    /// Median echoed datagrams per second of `kind` at `size` bytes (NaN if not run).
    pub fn throughput(&self, kind: ServerKind, size: usize) -> f64 {
        self.size(kind, size)
            .map_or(f64::NAN, |s| s.throughput.median())
    }

    /// Slowest and fastest round of `kind` at `size` bytes.
    pub fn throughput_range(&self, kind: ServerKind, size: usize) -> (f64, f64) {
        self.size(kind, size).map_or((f64::NAN, f64::NAN), |s| {
            (s.throughput.min(), s.throughput.max())
        })
    }

    fn size(&self, kind: ServerKind, size: usize) -> Option<&PerSize> {
        let at = PAYLOADS.iter().position(|&p| p == size)?;
        self.servers.iter().find(|s| s.kind == kind)?.sizes.get(at)
    }

    /// `kind`'s `pick` divided by `base`'s, round by round.
    fn ratios(
        &self,
        kind: ServerKind,
        base: ServerKind,
        size: usize,
        pick: fn(&PerSize) -> &Samples,
    ) -> Samples {
        match (self.size(kind, size), self.size(base, size)) {
            (Some(a), Some(b)) => pick(a).per_round_ratio(pick(b)),
            _ => Samples::default(),
        }
    }

    /// The median of [`Summary::ratios`], formatted.
    fn ratio(
        &self,
        kind: ServerKind,
        base: ServerKind,
        size: usize,
        pick: fn(&PerSize) -> &Samples,
    ) -> String {
        times(self.ratios(kind, base, size, pick).median())
    }

    /// Every table, as markdown with headings.
    pub fn render(&self) -> String {
        let sections = [
            (
                format!(
                    "Echo throughput (window: {WINDOW} in flight; echoed datagrams/s; higher is better)"
                ),
                self.throughput_table(),
            ),
            (
                "Round-trip time (pingpong: one in flight; µs; lower is better)".to_string(),
                self.latency_table(),
            ),
            (
                "Server CPU time per echoed datagram (window phase; user + system; ns)".to_string(),
                self.cpu_table(),
            ),
            (
                "Busy time in the window phase (% of one core: medians; for the rest of the \
                 machine, the worst phase of any round; a phase in which it used over 20% is \
                 re-run, and left out if it stays so)"
                    .to_string(),
                self.busy_table(),
            ),
            ("Server memory (KiB)".to_string(), self.memory_table()),
            (
                format!("The issue's targets (gyre; {} round(s))", self.rounds),
                self.targets_table(),
            ),
        ];
        let mut out = format!("{RATIO_NOTE}\n\n");
        for (title, table) in sections {
            out.push_str(&format!("#### {title}\n\n{}\n", table.render()));
        }
        out
    }

    fn throughput_table(&self) -> Table {
        let mut t = Table::new(&[
            "server",
            "payload",
            "median",
            "min–max",
            "× recvmmsg",
            "× recvmmsg+gso",
            "× tokio",
            "lost / sent",
        ]);
        for size in PAYLOADS {
            for s in &self.servers {
                let v = self.throughput(s.kind, size);
                let ps = &s.sizes[index_of(size)];
                t.row(vec![
                    s.kind.name().into(),
                    format!("{size} B"),
                    thousands(v),
                    ps.throughput.spread(thousands),
                    self.ratio(s.kind, ServerKind::Recvmmsg, size, |p| &p.throughput),
                    self.ratio(s.kind, ServerKind::RecvmmsgGso, size, |p| &p.throughput),
                    self.ratio(s.kind, ServerKind::Tokio, size, |p| &p.throughput),
                    format!("{} / {}", ps.lost, thousands(ps.sent as f64)),
                ]);
            }
        }
        t
    }

    fn latency_table(&self) -> Table {
        let mut t = Table::new(&[
            "server",
            "payload",
            "p50",
            "p50 min–max",
            "p99",
            "p99.9",
            "p50 × recvmmsg",
            "p50 × tokio",
            "p50 × recv_from",
            "lost",
        ]);
        for size in PAYLOADS {
            for s in &self.servers {
                let ps = &s.sizes[index_of(size)];
                let v = ps.p50.median();
                t.row(vec![
                    s.kind.name().into(),
                    format!("{size} B"),
                    one_decimal(v),
                    ps.p50.spread(one_decimal),
                    one_decimal(ps.p99.median()),
                    one_decimal(ps.p999.median()),
                    self.ratio(s.kind, ServerKind::Recvmmsg, size, |p| &p.p50),
                    self.ratio(s.kind, ServerKind::Tokio, size, |p| &p.p50),
                    self.ratio(s.kind, ServerKind::RecvFrom, size, |p| &p.p50),
                    ps.ping_lost.to_string(),
                ]);
            }
        }
        t
    }

    fn cpu_table(&self) -> Table {
        let mut t = Table::new(&[
            "server",
            "payload",
            "ns/echo",
            "min–max",
            "× recvmmsg",
            "× recvmmsg+gso",
            "× tokio",
        ]);
        for size in PAYLOADS {
            for s in &self.servers {
                let ps = &s.sizes[index_of(size)];
                let v = ps.cpu.median();
                t.row(vec![
                    s.kind.name().into(),
                    format!("{size} B"),
                    thousands(v),
                    ps.cpu.spread(thousands),
                    self.ratio(s.kind, ServerKind::Recvmmsg, size, |p| &p.cpu),
                    self.ratio(s.kind, ServerKind::RecvmmsgGso, size, |p| &p.cpu),
                    self.ratio(s.kind, ServerKind::Tokio, size, |p| &p.cpu),
                ]);
            }
        }
        t
    }

    fn busy_table(&self) -> Table {
        let mut t = Table::new(&[
            "server",
            "payload",
            "server",
            "generator",
            "others (max)",
            "steal (max)",
            "phases re-run",
            "rounds left out (pingpong / window)",
        ]);
        let pct = |v: f64| format!("{v:.0}%");
        for size in PAYLOADS {
            for s in &self.servers {
                let ps = &s.sizes[index_of(size)];
                t.row(vec![
                    s.kind.name().into(),
                    format!("{size} B"),
                    pct(ps.server_busy.median()),
                    pct(ps.generator_busy.median()),
                    pct(ps.others_busy.max()),
                    pct(ps.steal.max()),
                    ps.retries.to_string(),
                    format!("{} / {}", ps.excluded_pingpong, ps.excluded_window),
                ]);
            }
        }
        t
    }

    fn memory_table(&self) -> Table {
        let mut t = Table::new(&[
            "server",
            "idle RSS",
            "min–max",
            "peak RSS (VmHWM)",
            "min–max",
            "idle × recvmmsg",
            "idle × tokio",
        ]);
        let idle = |k| {
            self.server(k)
                .map_or_else(Samples::default, |s| s.idle_rss.clone())
        };
        for s in &self.servers {
            let v = s.idle_rss.median();
            t.row(vec![
                s.kind.name().into(),
                thousands(v),
                s.idle_rss.spread(thousands),
                thousands(s.peak_rss.median()),
                s.peak_rss.spread(thousands),
                times(
                    s.idle_rss
                        .per_round_ratio(&idle(ServerKind::Recvmmsg))
                        .median(),
                ),
                times(
                    s.idle_rss
                        .per_round_ratio(&idle(ServerKind::Tokio))
                        .median(),
                ),
            ]);
        }
        t
    }

    fn server(&self, kind: ServerKind) -> Option<&PerServer> {
        self.servers.iter().find(|s| s.kind == kind)
    }

    fn targets_table(&self) -> Table {
        let mut t = Table::new(&["target", "measured (rounds: min–max)", "met?"]);
        let (g, mmsg) = (ServerKind::Gyre, ServerKind::Recvmmsg);
        for size in PAYLOADS {
            let r = self.ratios(g, mmsg, size, |p| &p.throughput);
            t.row(target(
                format!("throughput {size} B ≥ 1.0x recvmmsg"),
                &r,
                |v| v >= 1.0,
            ));
            let r = self.ratios(g, ServerKind::Tokio, size, |p| &p.throughput);
            t.row(target(
                format!("throughput {size} B ≥ 1.2x tokio"),
                &r,
                |v| v >= 1.2,
            ));
        }
        for size in PAYLOADS {
            let r = self.ratios(g, ServerKind::RecvFrom, size, |p| &p.p50);
            let name = format!("pingpong p50 {size} B ≤ 1.05x recv_from");
            t.row(target(name, &r, |v| v <= 1.05));
        }
        for size in PAYLOADS {
            let r = self.ratios(g, mmsg, size, |p| &p.cpu);
            let name = format!("CPU per echo {size} B ≤ 1.05x recvmmsg");
            t.row(target(name, &r, |v| v <= 1.05));
        }
        let idle = self
            .server(g)
            .map_or_else(Samples::default, |s| s.idle_rss.clone());
        t.row(vec![
            "idle RSS ≤ 4 MiB (4,096 KiB)".into(),
            format!(
                "{} KiB ({})",
                thousands(idle.median()),
                idle.spread(thousands)
            ),
            verdict(idle.median(), idle.median() <= IDLE_RSS_TARGET_KIB),
        ]);
        t
    }
}

/// A target row: the median of the per-round ratios decides, their range is shown.
fn target(name: String, ratios: &Samples, met: impl Fn(f64) -> bool) -> Vec<String> {
    let median = ratios.median();
    let shown = format!(
        "{} ({})",
        times(median),
        ratios.spread(|v| format!("{v:.2}"))
    );
    vec![name, shown, verdict(median, met(median))]
}

/// `yes`, `no`, or `no data` when a server needed for it did not run or every round of it
/// was left out as disturbed.
pub fn verdict(value: f64, met: bool) -> String {
    match (value.is_finite(), met) {
        (false, _) => "no data (disturbed or not run)".into(),
        (true, true) => "**yes**".into(),
        (true, false) => "no".into(),
    }
}

fn index_of(size: usize) -> usize {
    PAYLOADS.iter().position(|&p| p == size).unwrap_or(0)
}

fn per_server<'a>(
    kind: ServerKind,
    runs: impl Iterator<Item = &'a ServerRun> + Clone,
) -> PerServer {
    let sizes = (0..PAYLOADS.len())
        .map(|i| per_size(runs.clone().filter_map(|r| r.sizes.get(i))))
        .collect();
    PerServer {
        kind,
        sizes,
        idle_rss: Samples::new(runs.clone().map(|r| r.idle_rss_kib as f64)),
        peak_rss: Samples::new(runs.map(|r| r.peak_rss_kib as f64)),
    }
}

/// Over the rounds; a disturbed phase (see `phase.rs`) gives NaN, which medians, spreads
/// and ratios leave out.
fn per_size<'a>(runs: impl Iterator<Item = &'a SizeRun> + Clone) -> PerSize {
    let samples = |f: fn(&SizeRun) -> f64| Samples::new(runs.clone().map(f));
    let ping = |f: fn(&Latency) -> f64| {
        Samples::new(runs.clone().map(move |r| {
            if r.latency.usage.disturbed() {
                f64::NAN
            } else {
                f(&r.latency.value)
            }
        }))
    };
    let window = |f: fn(&SizeRun) -> f64| {
        Samples::new(runs.clone().map(move |r| {
            if r.window.usage.disturbed() {
                f64::NAN
            } else {
                f(r)
            }
        }))
    };
    PerSize {
        throughput: window(|r| r.window.value.throughput()),
        p50: ping(|l| l.p50_us),
        p99: ping(|l| l.p99_us),
        p999: ping(|l| l.p999_us),
        cpu: window(SizeRun::cpu_ns_per_echo),
        server_busy: window(|r| r.server_busy() * 100.0),
        generator_busy: window(|r| r.generator_busy() * 100.0),
        others_busy: samples(|r| r.others_busy() * 100.0),
        steal: samples(|r| r.steal() * 100.0),
        retries: runs
            .clone()
            .map(|r| r.latency.retries + r.window.retries)
            .sum(),
        excluded_pingpong: runs.clone().filter(|r| r.latency.usage.disturbed()).count(),
        excluded_window: runs.clone().filter(|r| r.window.usage.disturbed()).count(),
        sent: runs.clone().map(|r| r.window.value.sent).sum(),
        lost: runs.clone().map(|r| r.window.value.lost).sum(),
        ping_lost: runs.map(|r| r.latency.value.lost).sum(),
    }
}
