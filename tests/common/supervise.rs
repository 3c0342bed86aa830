//! The one child-process supervisor of the tests and the benches (which include this file by
//! path): a child that is killed and reaped when its owner drops it, even on panic; waits
//! bounded in time; SIGTERM with a grace period; and a bounded run that reads everything the
//! child prints while it runs, so a full pipe never stalls it.
#![allow(dead_code)] // each user takes part of it

use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A running child; dropping it kills (SIGKILL) and reaps it if it has not been reaped.
#[derive(Debug)]
pub struct Supervised {
    child: Child,
    status: Option<ExitStatus>,
}

impl Supervised {
    /// Spawns `command` under supervision.
    pub fn spawn(command: &mut Command) -> io::Result<Supervised> {
        Ok(Supervised {
            child: command.spawn()?,
            status: None,
        })
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child itself, to take its pipes.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Its exit status, if it has exited.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.child.try_wait()?;
        }
        Ok(self.status)
    }

    /// Waits at most `cap` for it to exit: its status, or `None` if it still runs.
    pub fn wait_within(&mut self, cap: Duration) -> io::Result<Option<ExitStatus>> {
        let give_up = Instant::now() + cap;
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= give_up {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// [`Supervised::wait_within`], then kills it if it still runs: `None` then.
    pub fn wait_or_kill(&mut self, cap: Duration) -> io::Result<Option<ExitStatus>> {
        match self.wait_within(cap)? {
            Some(status) => Ok(Some(status)),
            None => self.kill().map(|_| None),
        }
    }

    /// Its exit status within `cap`; panics (after killing it) if it still runs then. For tests.
    pub fn wait_bounded(&mut self, cap: Duration) -> ExitStatus {
        match self.wait_or_kill(cap) {
            Ok(Some(status)) => status,
            Ok(None) => panic!("pid {} still running after {cap:?}: killed", self.pid()),
            Err(e) => panic!("waiting for pid {}: {e}", self.pid()),
        }
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`), unless it has been reaped already.
    pub fn signal(&mut self, signal: libc::c_int) -> io::Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        let pid = libc::pid_t::try_from(self.pid()).map_err(io::Error::other)?;
        // SAFETY: kill(2) takes plain integers and touches no memory of ours; the child is
        // not reaped yet, so its pid is still its own.
        if unsafe { libc::kill(pid, signal) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// SIGTERM, up to `grace` to exit cleanly, then SIGKILL. Always reaps.
    pub fn terminate(&mut self, grace: Duration) -> io::Result<ExitStatus> {
        self.signal(libc::SIGTERM)?;
        match self.wait_within(grace)? {
            Some(status) => Ok(status),
            None => self.kill(),
        }
    }

    /// SIGKILL (if it still runs) and reap.
    pub fn kill(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        // `kill` fails only if the child has exited already; `wait` then reaps it.
        let _ = self.child.kill();
        let status = self.child.wait()?;
        self.status = Some(status);
        Ok(status)
    }

    /// Waits at most `cap` for it to exit while reading its piped stdout and stderr (those
    /// not taken); kills it after `cap`, which is then a `TimedOut` error showing what it
    /// printed.
    pub fn collect(mut self, cap: Duration) -> io::Result<Output> {
        let stdout = drain(self.child.stdout.take());
        let stderr = drain(self.child.stderr.take());
        let status = self.wait_or_kill(cap)?;
        let output = Output {
            status: self.kill()?,
            stdout: stdout.join().unwrap_or_default(),
            stderr: stderr.join().unwrap_or_default(),
        };
        match status {
            Some(_) => Ok(output),
            None => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "still running after {cap:?}: killed; stdout: {:?}; stderr: {:?}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                ),
            )),
        }
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// Reads a pipe to its end on a thread (nothing if there is no pipe).
fn drain(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// Runs `command` (no input; stdout and stderr piped) for at most `cap`:
/// [`Supervised::collect`].
pub fn run(command: &mut Command, cap: Duration) -> io::Result<Output> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Supervised::spawn(command)?.collect(cap)
}

/// Makes the command's process get SIGKILL when the thread that spawns it ends, so it cannot
/// outlive a bench that is itself killed.
pub fn die_with_parent(command: &mut Command) {
    // SAFETY: the closure runs between fork and exec; it makes one async-signal-safe system
    // call (prctl) with plain integers and allocates nothing.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
