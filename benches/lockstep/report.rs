//! The counts, as a markdown table with ratios and the two targets.

use crate::servers::Kind;

/// gyre's target at N = 32, 64 B: instructions per echoed datagram.
const TARGET_PER_ECHO: f64 = 100.0;
/// gyre's target at N = 1: instructions per echo, as a multiple of mio's.
const TARGET_RATIO_TO_MIO: f64 = 1.3;

/// One server, batch size and payload size: two children and what their difference gives.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    /// The server.
    pub kind: Kind,
    /// Datagrams per round (and per turn).
    pub n: usize,
    /// Payload bytes.
    pub size: usize,
    /// Rounds of the short child and of the long one.
    pub rounds: (usize, usize),
    /// Instructions counted in the short child and in the long one.
    pub ir: (u64, u64),
}

impl Row {
    /// `(Ir(R2) − Ir(R1)) / ((R2 − R1) · N)`.
    pub fn per_echo(&self) -> f64 {
        let extra_echoes = (self.rounds.1 - self.rounds.0) * self.n;
        (self.ir.1 as f64 - self.ir.0 as f64) / extra_echoes as f64
    }
}

/// The table and the targets, as markdown.
pub fn render(rows: &[Row]) -> String {
    let per = |kind, like: &Row| {
        rows.iter()
            .find(|r| r.kind == kind && r.n == like.n && r.size == like.size)
            .map_or(f64::NAN, Row::per_echo)
    };
    let mut lines = vec![
        "| server | N | size | Ir / echo | × mio | × recvmmsg | rounds (R1, R2) |".to_string(),
        "|---|---:|---:|---:|---:|---:|---:|".to_string(),
    ];
    for r in rows {
        let v = r.per_echo();
        lines.push(format!(
            "| {} | {} | {} B | {:.1} | {} | {} | {}, {} |",
            r.kind.name(),
            r.n,
            r.size,
            v,
            times(v / per(Kind::Mio, r)),
            times(v / per(Kind::Recvmmsg, r)),
            r.rounds.0,
            r.rounds.1
        ));
    }
    let mut out = format!(
        "#### User-space instructions per echoed datagram, one turn per round (callgrind)\n\n\
         `(Ir(R2) − Ir(R1)) / ((R2 − R1) · N)`, counted inside each server's turn function \
         only (`cargo bench -p gyre-benches --bench lockstep`).\n\n{}\n",
        lines.join("\n")
    );
    let targets = targets(rows, per);
    if !targets.is_empty() {
        out.push_str(&format!("\n{targets}\n"));
    }
    out
}

/// The two target lines: gyre at N = 32, 64 B against 100, and gyre ÷ mio at N = 1.
fn targets(rows: &[Row], per: impl Fn(Kind, &Row) -> f64) -> String {
    let mut out = Vec::new();
    for r in rows.iter().filter(|r| r.kind == Kind::Gyre) {
        if r.n == 32 && r.size == 64 {
            let v = r.per_echo();
            out.push(format!(
                "- gyre, N = 32, 64 B: {v:.1} instructions per echo (target ≤ {TARGET_PER_ECHO}): {}",
                verdict(v, v <= TARGET_PER_ECHO)
            ));
        }
        if r.n == 1 {
            let ratio = r.per_echo() / per(Kind::Mio, r);
            out.push(format!(
                "- gyre ÷ mio, N = 1, {} B: {} (target ≤ {TARGET_RATIO_TO_MIO}x): {}",
                r.size,
                times(ratio),
                verdict(ratio, ratio <= TARGET_RATIO_TO_MIO)
            ));
        }
    }
    out.join("\n")
}

/// `2.41x`, or `–` when a server needed for it did not run.
fn times(r: f64) -> String {
    if r.is_finite() {
        format!("{r:.2}x")
    } else {
        "–".into()
    }
}

fn verdict(value: f64, met: bool) -> &'static str {
    match (value.is_finite(), met) {
        (false, _) => "no data",
        (true, true) => "**met**",
        (true, false) => "not met",
    }
}
