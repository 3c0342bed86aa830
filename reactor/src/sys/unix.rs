//! UNIX datagram sockets: create, bind (with a file mode), connect, send, name; and the
//! `sockaddr_un` ⇄ [`UnixAddress`] conversions both batch paths use.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use socket2::{Domain, SockAddr, SockRef, Socket, Type};

use crate::unix::UnixAddress;

/// A new, unbound, non-blocking, close-on-exec UNIX datagram socket.
pub(crate) fn unix_datagram() -> io::Result<Socket> {
    let socket = Socket::new(Domain::UNIX, Type::DGRAM, None)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// Binds `socket` to `address` (a path or an abstract name).
pub(crate) fn bind_unix(socket: &Socket, address: &UnixAddress) -> io::Result<()> {
    socket.bind(&sockaddr(address)?)
}

/// Connects `socket` to `address`: it then sends there by default and hears only from there.
pub(crate) fn connect_unix(socket: &Socket, address: &UnixAddress) -> io::Result<()> {
    socket.connect(&sockaddr(address)?)
}

/// The address `socket` is bound to (unnamed if none).
pub(crate) fn local_unix(socket: &Socket) -> io::Result<UnixAddress> {
    Ok(from_sockaddr(&socket.local_addr()?))
}

/// Sends `parts` as one datagram (gathered by the kernel) to `to`, or to the connected peer
/// with `None`.
pub(crate) fn send_unix(
    socket: &Socket,
    parts: &[&[u8]],
    to: Option<&UnixAddress>,
) -> io::Result<usize> {
    let to = to.map(sockaddr).transpose()?;
    super::send_gathered(SockRef::from(socket), parts, to.as_ref())
}

/// Sets the permission bits of the socket file at `path` (Twisted's `mode`).
pub(crate) fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Which file `path` is now (device and inode), to tell later whether it is still ours.
pub(crate) fn file_identity(path: &Path) -> io::Result<(u64, u64)> {
    let meta = std::fs::symlink_metadata(path)?;
    Ok((meta.dev(), meta.ino()))
}

/// Removes the socket file at `path`.
pub(crate) fn remove_file(path: &Path) -> io::Result<()> {
    std::fs::remove_file(path)
}

/// `address` as the kernel takes it. An unnamed address names no socket: `InvalidInput`.
fn sockaddr(address: &UnixAddress) -> io::Result<SockAddr> {
    if let Some(path) = address.as_pathname() {
        return SockAddr::unix(path);
    }
    let Some(name) = address.as_abstract_name() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "an unnamed UNIX socket address names no socket",
        ));
    };
    // socket2 reads a path that starts with NUL as an abstract name.
    let mut bytes = [0u8; 108];
    bytes[1..=name.len()].copy_from_slice(name);
    SockAddr::unix(Path::new(OsStr::from_bytes(&bytes[..=name.len()])))
}

/// The [`UnixAddress`] in a kernel-filled `sockaddr`: unnamed when it is not `AF_UNIX` or
/// holds no name.
pub(crate) fn from_sockaddr(address: &SockAddr) -> UnixAddress {
    if let Some(name) = address.as_abstract_namespace() {
        return UnixAddress::from_kernel(true, name);
    }
    match address.as_pathname() {
        Some(path) => UnixAddress::from_kernel(false, path.as_os_str().as_bytes()),
        None => UnixAddress::unnamed(),
    }
}

/// The [`UnixAddress`] a `recvmmsg` header holds: `len` bytes of `storage`, as the kernel
/// wrote them.
#[cfg_attr(any(not(target_os = "linux"), gyre_portable_io), allow(dead_code))]
pub(crate) fn from_storage(storage: &libc::sockaddr_storage, len: libc::socklen_t) -> UnixAddress {
    if storage.ss_family as libc::c_int != libc::AF_UNIX {
        return UnixAddress::unnamed();
    }
    // SAFETY: the family says the storage holds a `sockaddr_un`, which it is large enough
    // and aligned to contain.
    let un = unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_un>() };
    let offset = std::mem::size_of::<libc::sa_family_t>();
    let path_len = (len as usize).saturating_sub(offset).min(un.sun_path.len());
    let bytes = un.sun_path.map(|c| c as u8);
    match &bytes[..path_len] {
        [] => UnixAddress::unnamed(),
        [0, name @ ..] => UnixAddress::from_kernel(true, name),
        name => {
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            UnixAddress::from_kernel(false, &name[..end])
        }
    }
}
