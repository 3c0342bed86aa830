//! Running a child under callgrind and reading back how many instructions its turns took.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use gyre_benches::supervise::{self, Supervised};

use crate::child::Turns;
use crate::servers::Res;

/// Bound on one child under valgrind.
const CHILD_TIMEOUT: Duration = Duration::from_secs(120);

/// `valgrind --version` runs.
pub fn valgrind_available() -> bool {
    supervise::run(
        Command::new("valgrind").arg("--version"),
        Duration::from_secs(10),
    )
    .is_ok_and(|out| out.status.success())
}

/// Runs `exe` as the child `turns` under callgrind, counting only inside its turn function;
/// returns the instructions counted (`Ir`). The out file and valgrind's messages stay in
/// `dir`, for `callgrind_annotate`.
pub fn count(exe: &Path, turns: Turns, dir: &Path) -> Res<u64> {
    let stem = format!(
        "{}-n{}-{}b-r{}",
        turns.kind.name().replace('+', "-"),
        turns.n,
        turns.size,
        turns.rounds
    );
    let out = dir.join(format!("{stem}.callgrind"));
    let log = dir.join(format!("{stem}.stderr"));
    let function = turns.kind.turn_function();
    let mut command = Command::new("valgrind");
    command
        .args(["--tool=callgrind", "--collect-atstart=no"])
        .arg(format!("--toggle-collect={function}"))
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(exe)
        .args(turns.to_args())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&log)?);
    let status = Supervised::spawn(&mut command)?
        .wait_or_kill(CHILD_TIMEOUT)?
        .ok_or_else(|| format!("{stem}: the child took more than {CHILD_TIMEOUT:?}: killed"))?;
    if !status.success() {
        let messages = std::fs::read_to_string(&log).unwrap_or_default();
        return Err(format!("{stem}: child failed ({status}); its stderr:\n{messages}").into());
    }
    read_total(&out, &function)
}

/// The total `Ir` of a callgrind out file (its `totals:` line, or `summary:`), after
/// checking that the counted function appears in it: if the toggle pattern matched nothing,
/// nothing was counted and the total is zero or nearly so.
fn read_total(path: &PathBuf, function: &str) -> Res<u64> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let total: u64 = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("totals:")
                .or_else(|| l.strip_prefix("summary:"))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("no totals line in {}", path.display()))?;
    let named = text
        .lines()
        .any(|l| l.starts_with("fn=") && l.ends_with(function));
    if total == 0 || !named {
        return Err(format!(
            "{}: --toggle-collect={function} counted nothing (total {total}): \
             the function's name in the binary differs",
            path.display()
        )
        .into());
    }
    Ok(total)
}
