//! A poll that fails returns the OS error it failed with, not just that it failed. (One test
//! in this file: it swaps the reactor's epoll descriptor for `/dev/null` behind its back.)

use std::fs::File;
use std::os::fd::AsRawFd;
use std::time::Duration;

use gyre::Reactor;
use gyre::error::ReactorError;

/// The process's epoll descriptors.
fn epoll_fds() -> Vec<i32> {
    std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .filter_map(|e| {
            let e = e.ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            let fd = e.file_name().to_string_lossy().parse().ok()?;
            (target.to_string_lossy() == "anon_inode:[eventpoll]").then_some(fd)
        })
        .collect()
}

#[test]
fn a_failed_poll_keeps_its_os_error() {
    let before = epoll_fds();
    let mut reactor = Reactor::new().unwrap();
    reactor.install_signal_handlers(false);
    let theirs: Vec<i32> = epoll_fds()
        .into_iter()
        .filter(|fd| !before.contains(fd))
        .collect();
    let [epoll] = theirs[..] else {
        panic!("expected one new epoll descriptor, found {theirs:?}");
    };
    let null = File::open("/dev/null").unwrap();
    // SAFETY: both descriptors are open; `dup2` makes `epoll` refer to /dev/null, which the
    // reactor keeps owning (and closes when dropped). No memory is involved.
    assert_eq!(unsafe { libc::dup2(null.as_raw_fd(), epoll) }, epoll);
    let err = reactor.iterate(Duration::ZERO).unwrap_err();
    let ReactorError::PollFailed(io) = &err else {
        panic!("expected PollFailed, got {err:?}");
    };
    assert_eq!(io.raw_os_error(), Some(libc::EINVAL)); // not an epoll descriptor
    assert_eq!(
        err.to_string(),
        format!(
            "polling for I/O failed: {}",
            std::io::Error::from_raw_os_error(libc::EINVAL)
        )
    );
}
