//! Child processes that cannot outlive the bench: a guard that kills and reaps on drop, a
//! bounded wait, signals, and the `pre_exec` set-up (CPU pinning, death with the parent).

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// Owns a child process; dropping it kills (SIGKILL) and reaps the child if still running.
#[derive(Debug)]
pub struct Guard {
    child: Child,
    reaped: bool,
}

impl Guard {
    /// Takes ownership of a freshly spawned child.
    pub fn new(child: Child) -> Guard {
        Guard {
            child,
            reaped: false,
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child itself (to take its pipes).
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Its exit status if it has already exited.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        let status = self.child.try_wait()?;
        self.reaped |= status.is_some();
        Ok(status)
    }

    /// Waits at most `timeout` for the child to exit.
    pub fn wait_timeout(&mut self, timeout: Duration) -> io::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// SIGTERM, then up to `grace` for a clean exit, then SIGKILL. Always reaps.
    pub fn terminate(&mut self, grace: Duration) -> io::Result<ExitStatus> {
        if let Some(status) = self.try_wait()? {
            return Ok(status);
        }
        signal(self.pid(), libc::SIGTERM)?;
        if let Some(status) = self.wait_timeout(grace)? {
            return Ok(status);
        }
        self.kill_and_reap()
    }

    fn kill_and_reap(&mut self) -> io::Result<ExitStatus> {
        // `kill` fails only if the child already exited; `wait` then reaps it.
        let _ = self.child.kill();
        let status = self.child.wait()?;
        self.reaped = true;
        Ok(status)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = self.kill_and_reap();
        }
    }
}

/// Runs `command` and returns its standard output (trimmed), or `None` if it cannot start,
/// fails, prints nothing, or takes longer than `timeout` (it is then killed). For short
/// commands only: the output is read after the exit, so it must fit in the pipe.
pub fn output_within(mut command: Command, timeout: Duration) -> Option<String> {
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = Guard::new(command.spawn().ok()?);
    let status = child.wait_timeout(timeout).ok()??;
    let mut out = String::new();
    std::io::Read::read_to_string(child.child_mut().stdout.as_mut()?, &mut out).ok()?;
    let out = out.trim();
    (status.success() && !out.is_empty()).then(|| out.to_string())
}

/// Sends `signal` to process `pid`.
pub fn signal(pid: u32, signal: libc::c_int) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    let rc = unsafe { libc::kill(pid, signal) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Makes the command's process die with the bench (SIGKILL when the spawning thread exits)
/// and, if `core` is given, run only on that core, before it executes anything.
pub fn confine(command: &mut Command, core: Option<usize>) {
    let set = core.map(crate::procfs::cpu_set);
    // SAFETY: the closure runs between fork and exec; it only makes two system calls
    // (prctl, sched_setaffinity), both async-signal-safe, on a cpu_set_t built before the
    // fork, and it allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(io::Error::last_os_error());
            }
            if let Some(set) = &set {
                let size = std::mem::size_of::<libc::cpu_set_t>();
                if libc::sched_setaffinity(0, size, set) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}
