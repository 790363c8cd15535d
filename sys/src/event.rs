//! Eventfds: the kick, call and event-channel doorbells.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};

/// A new eventfd (counter 0), non-blocking if asked.
pub fn eventfd(nonblocking: bool) -> io::Result<File> {
    let mut flags = libc::EFD_CLOEXEC;
    if nonblocking {
        flags |= libc::EFD_NONBLOCK;
    }
    // SAFETY: plain eventfd(2).
    let fd = unsafe { libc::eventfd(0, flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd we own.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// Adds one to an eventfd. A counter at its maximum is still pending: nothing is lost.
pub fn eventfd_signal(fd: &File) -> io::Result<()> {
    match (&*fd).write(&1u64.to_ne_bytes()) {
        Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
        _ => Ok(()),
    }
}

/// Resets a non-blocking eventfd to 0; whether it was signalled.
pub fn eventfd_consume(fd: &File) -> io::Result<bool> {
    let mut b = [0u8; 8];
    match (&*fd).read(&mut b) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::poll_readable;
    use std::os::fd::AsFd;
    use std::time::Duration;

    #[test]
    fn signal_consume_and_poll() {
        let e = eventfd(true).unwrap();
        assert!(!eventfd_consume(&e).unwrap());
        eventfd_signal(&e).unwrap();
        eventfd_signal(&e).unwrap();
        assert!(poll_readable(e.as_fd(), None).unwrap());
        assert!(eventfd_consume(&e).unwrap(), "two signals, one wake-up");
        assert!(!eventfd_consume(&e).unwrap());
        assert!(!poll_readable(e.as_fd(), Some(Duration::ZERO)).unwrap());
    }
}
