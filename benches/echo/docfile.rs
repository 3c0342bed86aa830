//! Writes the results into `performance-echo.md`: only between the file's
//! `<!-- BEGIN echo-bench NAME -->` and `<!-- END echo-bench NAME -->` markers, so the
//! hand-written method and interpretation around them stay. A missing file is created from a
//! short template; a file without a region gets it appended.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::Config;
use crate::procfs::Machine;
use crate::report::Summary;

/// The report's file name.
pub const FILE_NAME: &str = "performance-echo.md";

/// The regions this run will rewrite.
#[derive(Debug, Clone)]
pub struct Doc {
    /// When, with what command, on which revision and machine.
    stamp: String,
    /// The suite's settings (rounds, phase lengths, pinning).
    settings: String,
    results: Option<String>,
    cachegrind: Option<String>,
}

impl Doc {
    /// A report for this run, with nothing measured yet.
    pub fn new(config: &Config, machine: &Machine) -> Doc {
        let stamp = format!(
            "Measured on {date} with `{command}`, gyre at `{revision}`: {cores} cores ({cpu}), \
             Linux {kernel}, {rustc}.",
            date = today(),
            revision = git_revision(),
            command = config.command(),
            cores = machine.cores,
            cpu = machine.cpu,
            kernel = machine.kernel,
            rustc = machine.rustc,
        );
        Doc {
            stamp,
            settings: config.describe(),
            results: None,
            cachegrind: None,
        }
    }

    /// The suite's tables and the chart.
    pub fn set_results(&mut self, summary: &Summary) {
        self.results = Some(format!(
            "{}\n{}\n\n![Echo throughput per server and payload size]({})\n\n{}",
            self.stamp,
            self.settings,
            crate::chart::FILE_NAME,
            summary.render()
        ));
    }

    /// The cachegrind table.
    pub fn set_cachegrind(&mut self, table: &str) {
        self.cachegrind = Some(format!("{}\n\n{table}", self.stamp));
    }

    /// Updates (or creates) `dir/performance-echo.md`; returns its path.
    pub fn write(&self, dir: &Path) -> io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(FILE_NAME);
        let mut text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => TEMPLATE.to_string(),
            Err(e) => return Err(e),
        };
        if let Some(results) = &self.results {
            text = replace_region(&text, "results", results);
        }
        if let Some(cachegrind) = &self.cachegrind {
            text = replace_region(&text, "cachegrind", cachegrind);
        }
        std::fs::write(&path, text)?;
        Ok(path)
    }
}

/// `text` with the region `name` holding `body` (appended at the end if it has none).
fn replace_region(text: &str, name: &str, body: &str) -> String {
    let begin = format!("<!-- BEGIN echo-bench {name} -->");
    let end = format!("<!-- END echo-bench {name} -->");
    let region = format!("{begin}\n{}\n{end}", body.trim_end());
    match (text.find(&begin), text.find(&end)) {
        (Some(b), Some(e)) if b < e => {
            format!("{}{region}{}", &text[..b], &text[e + end.len()..])
        }
        _ => format!("{}\n\n{region}\n", text.trim_end()),
    }
}

/// `git describe --always --dirty` of the workspace (`-dirty`: uncommitted changes).
fn git_revision() -> String {
    let mut command = std::process::Command::new("git");
    command
        .args(["describe", "--always", "--dirty"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    crate::process::output_within(command, std::time::Duration::from_secs(10))
        .unwrap_or_else(|| "unknown".into())
}

/// Today's date (UTC) as `YYYY-MM-DD`.
fn today() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A new report's skeleton; `docs/performance-echo.md` explains the method in full.
const TEMPLATE: &str = "# Echo benchmark

Written by `cargo bench -p gyre-benches --bench echo` (see `benches/echo.rs` for what it measures and how,
and `docs/performance-echo.md` for the method and an interpretation).

## Results

<!-- BEGIN echo-bench results -->
<!-- END echo-bench results -->

## User-space instructions per echoed datagram (cachegrind)

<!-- BEGIN echo-bench cachegrind -->
Not measured yet: `GYRE_BENCH_CACHEGRIND=1 cargo bench -p gyre-benches --bench echo`.
<!-- END echo-bench cachegrind -->
";
