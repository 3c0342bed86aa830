//! Medians and spreads over rounds (the median is `gyre_benches::util`'s), and the number
//! formats of the tables.

/// The values one quantity took over the rounds, in round order (NaN where a round has no
/// value), so that two servers' samples pair up round by round.
#[derive(Debug, Clone, Default)]
pub struct Samples(Vec<f64>);

impl Samples {
    /// One value per round.
    pub fn new(values: impl IntoIterator<Item = f64>) -> Samples {
        Samples(values.into_iter().collect())
    }

    fn finite(&self) -> impl Iterator<Item = f64> + '_ {
        self.0.iter().copied().filter(|v| v.is_finite())
    }

    /// The median of the finite values (mean of the two middle ones for an even count); NaN
    /// if there are none.
    pub fn median(&self) -> f64 {
        gyre_benches::util::median(&mut self.finite().collect::<Vec<_>>())
    }

    /// The smallest value; NaN if none.
    pub fn min(&self) -> f64 {
        self.finite().reduce(f64::min).unwrap_or(f64::NAN)
    }

    /// The largest value; NaN if none.
    pub fn max(&self) -> f64 {
        self.finite().reduce(f64::max).unwrap_or(f64::NAN)
    }

    /// `min–max` with `fmt` for each.
    pub fn spread(&self, fmt: impl Fn(f64) -> String) -> String {
        if self.finite().next().is_none() {
            return "–".into();
        }
        format!("{}–{}", fmt(self.min()), fmt(self.max()))
    }

    /// `self / base` round by round: each value is compared with the baseline measured in
    /// the same round, seconds apart, which cancels the slow drifts of a shared VM's speed.
    pub fn per_round_ratio(&self, base: &Samples) -> Samples {
        Samples(self.0.iter().zip(&base.0).map(|(a, b)| a / b).collect())
    }
}

/// A ratio as `1.23x`, or `–` if it is missing.
pub fn times(r: f64) -> String {
    if r.is_finite() {
        format!("{r:.2}x")
    } else {
        "–".into()
    }
}

/// An integer with thousands separators (`1,234,567`), or `–` if not finite.
pub fn thousands(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 { format!("-{out}") } else { out }
}

/// `v` with one decimal, or `–` if not finite.
pub fn one_decimal(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.1}")
    } else {
        "–".into()
    }
}

/// A table: markdown, with columns padded so that it also reads well on a terminal.
#[derive(Debug, Clone)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles; the first column is left-aligned, the others right.
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row (missing cells are blank).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The markdown text.
    pub fn render(&self) -> String {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|c| {
                let cells = self.rows.iter().filter_map(|r| r.get(c));
                cells
                    .chain([&self.header[c]])
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(3)
                    .max(3)
            })
            .collect();
        let mut out = self.line(&self.header, &widths);
        let rule: Vec<String> = widths
            .iter()
            .enumerate()
            .map(|(c, &w)| {
                if c == 0 {
                    "-".repeat(w + 2)
                } else {
                    format!("{}:", "-".repeat(w + 1))
                }
            })
            .collect();
        out.push_str(&format!("|{}|\n", rule.join("|")));
        for row in &self.rows {
            out.push_str(&self.line(row, &widths));
        }
        out
    }

    fn line(&self, cells: &[String], widths: &[usize]) -> String {
        let padded: Vec<String> = widths
            .iter()
            .enumerate()
            .map(|(c, &w)| {
                let cell = cells.get(c).map_or("", String::as_str);
                if c == 0 {
                    format!("{cell:<w$}")
                } else {
                    format!("{cell:>w$}")
                }
            })
            .collect();
        format!("| {} |\n", padded.join(" | "))
    }
}
