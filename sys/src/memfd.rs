//! Anonymous memory files: guest memory as QEMU's `memory-backend-memfd` hands it to a
//! back-end, and the sealed files of the simulated Xen (no holder can shrink them under
//! another's mapping).

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

fn create(name: &str, flags: libc::c_uint, len: u64) -> io::Result<File> {
    let cname = std::ffi::CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in memfd name"))?;
    // SAFETY: `cname` is a valid C string for the call.
    let fd = unsafe { libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC | flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd we own.
    let f = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    f.set_len(len)?;
    Ok(f)
}

/// An anonymous memory file (`memfd_create`) of `len` bytes, as QEMU's
/// `memory-backend-memfd` hands to a back-end.
pub fn memfd(name: &str, len: u64) -> io::Result<File> {
    create(name, 0, len)
}

/// A memfd of `len` bytes whose size is sealed: no process holding it can shrink it
/// under another's mapping (SIGBUS) or grow it.
pub fn sealed_memfd(name: &str, len: u64) -> io::Result<File> {
    let f = create(name, libc::MFD_ALLOW_SEALING, len)?;
    let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL;
    // SAFETY: fcntl on an fd we own, with an int argument.
    if unsafe { libc::fcntl(f.as_raw_fd(), libc::F_ADD_SEALS, seals) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(f)
}

/// Whether `f`'s size is sealed against shrinking (so mapping it cannot SIGBUS later).
pub fn size_sealed(f: &File) -> bool {
    // SAFETY: fcntl on a valid fd; F_GET_SEALS takes no argument.
    let seals = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GET_SEALS) };
    seals >= 0 && seals & libc::F_SEAL_SHRINK != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_memfds_cannot_shrink() {
        let f = sealed_memfd("vpmd-test", 8192).unwrap();
        assert!(size_sealed(&f));
        assert!(f.set_len(4096).is_err());
        assert_eq!(f.metadata().unwrap().len(), 8192);
        let plain = memfd("vpmd-test", 4096).unwrap();
        assert!(!size_sealed(&plain));
        plain.set_len(8192).unwrap();
    }
}
