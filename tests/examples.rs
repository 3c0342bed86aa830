//! The examples, run end to end as a user would run them (bounded in time).

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Where cargo put an example's binary: `cargo test` builds every example next to the test
/// binaries (`target/<profile>/examples/`).
fn example(name: &str) -> Command {
    let mut path: PathBuf = std::env::current_exe().expect("test binary path");
    path.pop(); // deps/
    path.pop(); // <profile>/
    path.push("examples");
    path.push(name);
    assert!(
        path.exists(),
        "{} is not built; run the tests with `cargo test`",
        path.display()
    );
    Command::new(path)
}

/// Runs a command, killing it if it is still running after `cap`.
fn run_bounded(mut command: Command, cap: Duration) -> Output {
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn the example");
    let give_up = Instant::now() + cap;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > give_up {
            let _ = child.kill();
            panic!("the example was still running after {cap:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("collect output")
}

#[test]
fn timers_example_prints_its_story_in_order() {
    let mut cmd = example("timers");
    cmd.args(["--ticks", "3", "--interval-ms", "20"]);
    let out = run_bounded(cmd, Duration::from_secs(20));
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    // Strip the "[  ms] " timestamps, which vary.
    let lines: Vec<&str> = stdout
        .lines()
        .map(|l| l.split_once("] ").map_or(l, |(_, rest)| rest))
        .collect();
    assert_eq!(lines.len(), 7, "{stdout}");
    // A stalled machine may reorder independent events and skip intervals, never more.
    let ticks: Vec<&str> = lines
        .iter()
        .filter(|l| l.starts_with("tick "))
        .copied()
        .collect();
    for (i, tick) in ticks.iter().enumerate() {
        assert!(
            tick.starts_with(&format!("tick {} (intervals since last: ", i + 1)),
            "{stdout}"
        );
    }
    assert_eq!(ticks.len(), 3, "{stdout}");
    let pos = |needle: &str| {
        lines
            .iter()
            .position(|l| *l == needle)
            .unwrap_or_else(|| panic!("{needle:?} missing:\n{stdout}"))
    };
    assert_eq!(
        pos("looping call stopped"),
        lines.iter().position(|l| l.starts_with("tick 3")).unwrap() + 1
    );
    pos("defer_later answered 42");
    pos("a Deferred nobody fired timed out after 60ms");
    // Two scheduled ticks (the first runs at start), defer_later, the timeout.
    assert_eq!(pos("nothing left to do: 4 calls ran"), 6);
}

#[test]
fn timers_example_rejects_bad_flags() {
    let mut cmd = example("timers");
    cmd.arg("--ticks").arg("many");
    let out = run_bounded(cmd, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--ticks"));
}
