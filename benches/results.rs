//! Where a bench's results land: `target/bench-results/`, never `docs/` (the docs are curated
//! by hand from these files). Each report starts with a stamp: the command, gyre's revision,
//! the time and the machine.

use std::fmt::Display;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use procfs::Current;

use crate::supervise;

/// The workspace's root: the benches package is one of its members.
fn workspace() -> PathBuf {
    let benches = Path::new(env!("CARGO_MANIFEST_DIR"));
    benches.parent().unwrap_or(benches).to_path_buf()
}

/// Cargo's target directory: `CARGO_TARGET_DIR` when set (a relative one is taken from the
/// workspace root, where cargo is run), else the workspace's `target/`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => workspace().join(dir),
        _ => workspace().join("target"),
    }
}

/// `target/bench-results/`.
pub fn dir() -> PathBuf {
    target_dir().join("bench-results")
}

/// Writes `contents` to `file` in [`dir`], says where, and returns the path.
pub fn write(file: &str, contents: impl AsRef<[u8]>) -> io::Result<PathBuf> {
    let dir = dir();
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(file);
    std::fs::write(&path, contents)?;
    println!("results written to {}", path.display());
    Ok(path)
}

/// A markdown report: printed as it is written, saved whole by [`Report::save`].
#[derive(Debug)]
pub struct Report {
    bench: String,
    text: String,
}

impl Report {
    /// The report of the bench target `bench`, starting with its [`stamp`] (not printed).
    pub fn new(bench: &str) -> Report {
        Report {
            bench: bench.to_string(),
            text: format!("# {bench}\n\n{}\n\n", stamp(bench)),
        }
    }

    /// Prints `line` and adds it to the report.
    pub fn line(&mut self, line: impl Display) {
        let line = line.to_string();
        println!("{line}");
        self.text.push_str(&line);
        self.text.push('\n');
    }

    /// Writes it to `BENCH.md` in [`dir`].
    pub fn save(&self) -> io::Result<PathBuf> {
        self.save_as(&format!("{}.md", self.bench))
    }

    /// Writes it to `file` in [`dir`].
    pub fn save_as(&self, file: &str) -> io::Result<PathBuf> {
        write(file, &self.text)
    }
}

/// How, when and on what a run of `bench` measured.
pub fn stamp(bench: &str) -> String {
    let mut env: Vec<String> = std::env::vars()
        .filter(|(name, _)| name.starts_with("GYRE_BENCH_"))
        .map(|(name, value)| format!("{name}={value} "))
        .collect();
    env.sort();
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let args = match args.is_empty() {
        true => String::new(),
        false => format!(" -- {}", args.join(" ")),
    };
    let when = jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M UTC");
    format!(
        "Measured with `{env}cargo bench -p gyre-benches --bench {bench}{args}`, gyre at \
         `{revision}`, {when}, on {machine}.",
        env = env.concat(),
        revision = output_of(Command::new("git").args(["describe", "--always", "--dirty"])),
        machine = machine(),
    )
}

/// Cores, CPU model, kernel and compiler.
fn machine() -> String {
    let cpu = procfs::CpuInfo::current()
        .ok()
        .and_then(|info| info.model_name(0).map(str::to_string))
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".into(), |k| k.trim().to_string());
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    format!(
        "{cores} cores ({cpu}), Linux {kernel}, {rustc}",
        cores = std::thread::available_parallelism().map_or(1, |n| n.get()),
        rustc = output_of(Command::new(rustc).arg("--version")),
    )
}

/// What a short command prints (trimmed), run in the workspace for at most 10 s, or `unknown`.
pub fn output_of(command: &mut Command) -> String {
    command.current_dir(workspace());
    supervise::run(command, Duration::from_secs(10))
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|out| !out.is_empty())
        .unwrap_or_else(|| "unknown".into())
}
