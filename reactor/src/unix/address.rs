//! [`UnixAddress`]: where a UNIX datagram socket is bound or sends, held inline (no heap) so
//! that receiving a datagram allocates nothing.

use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::InvalidAddress;

/// Bytes of `sun_path` in a `sockaddr_un` on Linux (and most Unix systems).
const SUN_PATH: usize = 108;

/// The address of a UNIX datagram socket (Twisted's `UNIXAddress`): a path in the file
/// system, a Linux abstract-namespace name, or unnamed (a socket that never bound, as a
/// client usually is).
///
/// Strings and paths convert with [`ToUnixAddress`]: a leading NUL byte (`"\0name"`) means an
/// abstract name, as in Twisted and in Linux itself. An address displays as its path, an
/// abstract name as `@name` (the notation of `ss` and systemd), an unnamed one as
/// `(unnamed)`.
///
/// ```
/// use gyre::unix::{ToUnixAddress, UnixAddress};
/// use std::path::Path;
///
/// let file = "/run/app.sock".to_unix_address().unwrap();
/// assert_eq!(file.as_pathname(), Some(Path::new("/run/app.sock")));
/// let name = "\0app".to_unix_address().unwrap();
/// assert_eq!(name, UnixAddress::abstract_name(b"app").unwrap());
/// assert_eq!(name.to_string(), "@app");
/// assert!(UnixAddress::path("").is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct UnixAddress {
    kind: Kind,
    len: u8,
    bytes: [u8; SUN_PATH],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Unnamed,
    Path,
    Abstract,
}

impl UnixAddress {
    /// A path in the file system: not empty, no NUL byte, at most 107 bytes (the NUL that
    /// ends it must fit too).
    pub fn path(path: impl AsRef<Path>) -> Result<UnixAddress, InvalidAddress> {
        let bytes = path.as_ref().as_os_str().as_bytes();
        let invalid = |reason| {
            Err(InvalidAddress {
                address: path.as_ref().display().to_string(),
                reason,
            })
        };
        if bytes.is_empty() {
            return invalid("an empty path is not a UNIX socket address");
        }
        if bytes.contains(&0) {
            return invalid("a UNIX socket path may not contain a NUL byte");
        }
        if bytes.len() >= SUN_PATH {
            return invalid("longer than a UNIX socket address holds (107 bytes)");
        }
        Ok(UnixAddress::raw(Kind::Path, bytes))
    }

    /// A Linux abstract-namespace name (without the leading NUL): at most 107 bytes, any
    /// bytes. Such a socket has no file; it goes away with its last descriptor.
    pub fn abstract_name(name: &[u8]) -> Result<UnixAddress, InvalidAddress> {
        if name.len() >= SUN_PATH {
            return Err(InvalidAddress {
                address: format!("@{}", name.escape_ascii()),
                reason: "longer than an abstract UNIX socket name may be (107 bytes)",
            });
        }
        Ok(UnixAddress::raw(Kind::Abstract, name))
    }

    /// The address of a socket that never bound one.
    pub const fn unnamed() -> UnixAddress {
        UnixAddress {
            kind: Kind::Unnamed,
            len: 0,
            bytes: [0; SUN_PATH],
        }
    }

    fn raw(kind: Kind, name: &[u8]) -> UnixAddress {
        let mut bytes = [0; SUN_PATH];
        bytes[..name.len()].copy_from_slice(name);
        UnixAddress {
            kind,
            len: name.len() as u8,
            bytes,
        }
    }

    /// An address as the kernel reported it (`sys` decodes `sockaddr_un`); `name` fits.
    pub(crate) fn from_kernel(abstract_name: bool, name: &[u8]) -> UnixAddress {
        let name = &name[..name.len().min(SUN_PATH - 1)];
        match (abstract_name, name.is_empty()) {
            (true, _) => UnixAddress::raw(Kind::Abstract, name),
            (false, true) => UnixAddress::unnamed(),
            (false, false) => UnixAddress::raw(Kind::Path, name),
        }
    }

    /// The path, for an address in the file system.
    pub fn as_pathname(&self) -> Option<&Path> {
        match self.kind {
            Kind::Path => Some(Path::new(OsStr::from_bytes(self.name()))),
            _ => None,
        }
    }

    /// The name (without the leading NUL), for an abstract address.
    pub fn as_abstract_name(&self) -> Option<&[u8]> {
        match self.kind {
            Kind::Abstract => Some(self.name()),
            _ => None,
        }
    }

    /// Whether this is the address of a socket that never bound one.
    pub fn is_unnamed(&self) -> bool {
        self.kind == Kind::Unnamed
    }

    /// The bytes of the path or abstract name.
    pub(crate) fn name(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Display for UnixAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Kind::Path => write!(f, "{}", Path::new(OsStr::from_bytes(self.name())).display()),
            Kind::Abstract => write!(f, "@{}", self.name().escape_ascii()),
            Kind::Unnamed => f.write_str("(unnamed)"),
        }
    }
}

impl fmt::Debug for UnixAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UnixAddress({self})")
    }
}

/// Anything that names a UNIX socket address: a [`UnixAddress`], a path, or a string (a
/// leading NUL byte makes it an abstract name).
pub trait ToUnixAddress {
    /// The address, or why it is not one.
    fn to_unix_address(&self) -> Result<UnixAddress, InvalidAddress>;
}

impl ToUnixAddress for UnixAddress {
    fn to_unix_address(&self) -> Result<UnixAddress, InvalidAddress> {
        Ok(*self)
    }
}

impl ToUnixAddress for Path {
    fn to_unix_address(&self) -> Result<UnixAddress, InvalidAddress> {
        match self.as_os_str().as_bytes() {
            [0, name @ ..] => UnixAddress::abstract_name(name),
            _ => UnixAddress::path(self),
        }
    }
}

impl ToUnixAddress for PathBuf {
    fn to_unix_address(&self) -> Result<UnixAddress, InvalidAddress> {
        self.as_path().to_unix_address()
    }
}

impl ToUnixAddress for str {
    fn to_unix_address(&self) -> Result<UnixAddress, InvalidAddress> {
        Path::new(self).to_unix_address()
    }
}

impl ToUnixAddress for String {
    fn to_unix_address(&self) -> Result<UnixAddress, InvalidAddress> {
        self.as_str().to_unix_address()
    }
}

impl<T: ToUnixAddress + ?Sized> ToUnixAddress for &T {
    fn to_unix_address(&self) -> Result<UnixAddress, InvalidAddress> {
        (**self).to_unix_address()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_abstract_names_round_trip() {
        let path = UnixAddress::path("/tmp/a.sock").unwrap();
        assert_eq!(path.as_pathname(), Some(Path::new("/tmp/a.sock")));
        assert_eq!(path.as_abstract_name(), None);
        assert_eq!(path.to_string(), "/tmp/a.sock");
        let name = "\0gyre\x01".to_unix_address().unwrap();
        assert_eq!(name.as_abstract_name(), Some(&b"gyre\x01"[..]));
        assert_eq!(name.as_pathname(), None);
        assert_eq!(name.to_string(), "@gyre\\x01");
        assert_eq!(format!("{name:?}"), "UnixAddress(@gyre\\x01)");
        let nobody = UnixAddress::unnamed();
        assert!(nobody.is_unnamed());
        assert_eq!(nobody.to_string(), "(unnamed)");
    }

    #[test]
    fn bad_paths_are_refused_with_the_reason() {
        let long = "x".repeat(108);
        assert_eq!(
            UnixAddress::path(&long).unwrap_err().reason,
            "longer than a UNIX socket address holds (107 bytes)"
        );
        assert!(UnixAddress::path("x".repeat(107)).is_ok());
        assert_eq!(
            "a\0b".to_unix_address().unwrap_err().reason,
            "a UNIX socket path may not contain a NUL byte"
        );
        assert!(UnixAddress::abstract_name(&[7; 107]).is_ok());
        assert!(UnixAddress::abstract_name(&[7; 108]).is_err());
        // "\0" alone is the empty abstract name, which Linux accepts.
        assert_eq!(
            "\0".to_unix_address().unwrap().as_abstract_name(),
            Some(&[][..])
        );
    }

    #[test]
    fn kernel_addresses_decode_by_kind() {
        assert!(UnixAddress::from_kernel(false, b"").is_unnamed());
        assert_eq!(
            UnixAddress::from_kernel(false, b"/x").as_pathname(),
            Some(Path::new("/x"))
        );
        assert_eq!(
            UnixAddress::from_kernel(true, b"").as_abstract_name(),
            Some(&[][..])
        );
    }
}
