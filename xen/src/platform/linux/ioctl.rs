//! The ioctls of `/dev/xen/gntdev` and `/dev/xen/evtchn`, with their structs laid out
//! as Linux's `include/uapi/xen/gntdev.h` and `evtchn.h` (checked at compile time), and
//! a safe API over them. The only unsafe code of the `linux` platform besides the
//! gntdev `mmap` (in [`shm`](crate::platform::shm)).
//!
//! Must never: hand the kernel a local address that does not come from a live borrow
//! for the duration of the call (grant copy writes through it), or trust a count the
//! kernel did not get from us.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use crate::platform::grant::{CopyOp, CopySegment, GrantPtr};
use crate::wire::grant::{GrantRef, GrantStatus};

// Pointers travel as u64 in the copy segment's union.
const _: () = assert!(std::mem::size_of::<usize>() == 8);

/// `_IOC(_IOC_NONE, type, nr, size)`: no direction bits, as both headers use.
const fn ioc_none(ty: u8, nr: u8, size: usize) -> libc::Ioctl {
    ((size as libc::Ioctl) << 16) | ((ty as libc::Ioctl) << 8) | nr as libc::Ioctl
}

/// `struct ioctl_gntdev_grant_ref`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct GntdevGrantRef {
    pub domid: u32,
    pub gref: u32,
}

/// `struct ioctl_gntdev_map_grant_ref` with its one-element `refs` array; a request for
/// `count` references is this header followed by `count` [`GntdevGrantRef`]s.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct GntdevMapGrantRef {
    count: u32,
    pad: u32,
    index: u64,
    refs: [GntdevGrantRef; 1],
}

/// `struct ioctl_gntdev_unmap_grant_ref`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct GntdevUnmapGrantRef {
    index: u64,
    count: u32,
    pad: u32,
}

/// `struct ioctl_gntdev_grant_copy_segment`: `source` and `dest` are a union of a local
/// address (`virt`) and `{u32 ref, u16 offset, u16 domid}` (`foreign`), 8 bytes each,
/// kept here as their native-order bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct GntdevCopySegment {
    pub source: u64,
    pub dest: u64,
    pub len: u16,
    pub flags: u16,
    pub status: i16,
}

/// `struct ioctl_gntdev_grant_copy`.
#[repr(C)]
#[derive(Debug)]
struct GntdevGrantCopy {
    count: u32,
    segments: *mut GntdevCopySegment,
}

/// `struct ioctl_evtchn_bind_interdomain`.
#[repr(C)]
#[derive(Debug)]
struct EvtchnBindInterdomain {
    remote_domain: u32,
    remote_port: u32,
}

/// `struct ioctl_evtchn_notify`.
#[repr(C)]
#[derive(Debug)]
struct EvtchnNotify {
    port: u32,
}

const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(size_of::<GntdevGrantRef>() == 8);
    assert!(size_of::<GntdevMapGrantRef>() == 24);
    assert!(offset_of!(GntdevMapGrantRef, index) == 8);
    assert!(offset_of!(GntdevMapGrantRef, refs) == 16);
    assert!(size_of::<GntdevUnmapGrantRef>() == 16);
    assert!(size_of::<GntdevCopySegment>() == 24);
    assert!(offset_of!(GntdevCopySegment, dest) == 8);
    assert!(offset_of!(GntdevCopySegment, len) == 16);
    assert!(offset_of!(GntdevCopySegment, flags) == 18);
    assert!(offset_of!(GntdevCopySegment, status) == 20);
    assert!(size_of::<GntdevGrantCopy>() == 16);
    assert!(size_of::<EvtchnBindInterdomain>() == 8);
    assert!(size_of::<EvtchnNotify>() == 4);
};

/// `IOCTL_GNTDEV_MAP_GRANT_REF`.
pub(super) const IOCTL_GNTDEV_MAP_GRANT_REF: libc::Ioctl =
    ioc_none(b'G', 0, std::mem::size_of::<GntdevMapGrantRef>());
/// `IOCTL_GNTDEV_UNMAP_GRANT_REF`.
pub(super) const IOCTL_GNTDEV_UNMAP_GRANT_REF: libc::Ioctl =
    ioc_none(b'G', 1, std::mem::size_of::<GntdevUnmapGrantRef>());
/// `IOCTL_GNTDEV_GRANT_COPY`.
pub(super) const IOCTL_GNTDEV_GRANT_COPY: libc::Ioctl =
    ioc_none(b'G', 8, std::mem::size_of::<GntdevGrantCopy>());
/// `IOCTL_EVTCHN_BIND_INTERDOMAIN`.
pub(super) const IOCTL_EVTCHN_BIND_INTERDOMAIN: libc::Ioctl =
    ioc_none(b'E', 1, std::mem::size_of::<EvtchnBindInterdomain>());
/// `IOCTL_EVTCHN_NOTIFY`.
pub(super) const IOCTL_EVTCHN_NOTIFY: libc::Ioctl =
    ioc_none(b'E', 4, std::mem::size_of::<EvtchnNotify>());

/// `GNTCOPY_source_gref`: the source is `foreign`.
pub(super) const GNTCOPY_SOURCE_GREF: u16 = 1 << 0;
/// `GNTCOPY_dest_gref`: the destination is `foreign`.
pub(super) const GNTCOPY_DEST_GREF: u16 = 1 << 1;

/// The `foreign` member of the union: `{ref, offset, domid}`.
pub(super) fn foreign(p: GrantPtr) -> u64 {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&p.gref.0.to_ne_bytes());
    b[4..6].copy_from_slice(&p.offset.to_ne_bytes());
    b[6..].copy_from_slice(&p.domid.0.to_ne_bytes());
    u64::from_ne_bytes(b)
}

/// The kernel's segment for `seg`, whose length the caller checked fits a page. The
/// local side is the address of the segment's buffer, valid while `seg` is borrowed.
pub(super) fn encode(seg: &CopySegment<'_>) -> GntdevCopySegment {
    let (source, dest, flags) = match seg.op() {
        CopyOp::FromGrant { src, dst } => (foreign(*src), dst.as_ptr() as u64, GNTCOPY_SOURCE_GREF),
        CopyOp::ToGrant { src, dst } => (src.as_ptr() as u64, foreign(*dst), GNTCOPY_DEST_GREF),
    };
    GntdevCopySegment {
        source,
        dest,
        len: u16::try_from(seg.len()).unwrap_or(u16::MAX),
        flags,
        status: GrantStatus::GENERAL_ERROR.0,
    }
}

/// Runs the segments `which` of `segs` (each index once, each segment's length at most
/// a page) as one `IOCTL_GNTDEV_GRANT_COPY` and sets their statuses. `raw` is scratch.
/// `Err`: the batch did not run as a whole; statuses are left as they were.
pub(super) fn grant_copy(
    fd: BorrowedFd<'_>,
    segs: &mut [CopySegment<'_>],
    which: &[usize],
    raw: &mut Vec<GntdevCopySegment>,
) -> io::Result<()> {
    raw.clear();
    for &i in which {
        let s = segs.get(i).ok_or(io::ErrorKind::InvalidInput)?;
        if s.len() > usize::from(u16::MAX) {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        raw.push(encode(s));
    }
    if raw.is_empty() {
        return Ok(());
    }
    let mut req = GntdevGrantCopy {
        count: u32::try_from(raw.len()).map_err(|_| io::ErrorKind::InvalidInput)?,
        segments: raw.as_mut_ptr(),
    };
    // SAFETY: `req` points at `raw`, `count` segments long, live for the call. Each
    // segment's local address and length come from a buffer of `segs`, which this
    // function borrows (mutably for the `FromGrant` destinations the kernel writes)
    // for the whole call; the kernel touches nothing else of ours.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), IOCTL_GNTDEV_GRANT_COPY, &mut req) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    for (&i, r) in which.iter().zip(raw.iter()) {
        segs[i].set_status(GrantStatus(r.status));
    }
    Ok(())
}

/// The `IOCTL_GNTDEV_MAP_GRANT_REF` request for `refs` of `domid`, as 8-byte words:
/// `{count, pad}`, `index`, then one `{domid, ref}` per reference.
pub(super) fn map_request(domid: u16, refs: &[GrantRef]) -> io::Result<Vec<u64>> {
    let count = u32::try_from(refs.len()).map_err(|_| io::ErrorKind::InvalidInput)?;
    let word = |a: u32, b: u32| {
        let mut w = [0u8; 8];
        w[..4].copy_from_slice(&a.to_ne_bytes());
        w[4..].copy_from_slice(&b.to_ne_bytes());
        u64::from_ne_bytes(w)
    };
    let mut req = Vec::with_capacity(2 + refs.len().max(1));
    req.push(word(count, 0));
    req.push(0);
    req.extend(refs.iter().map(|r| word(u32::from(domid), r.0)));
    // The struct has room for one reference even when none is asked for.
    if refs.is_empty() {
        req.push(0);
    }
    Ok(req)
}

/// Asks gntdev to set up a mapping of `refs` of `domid`; the offset to `mmap` at. The
/// pages are mapped at the `mmap`, which fails if any reference does.
pub(super) fn map_grant_refs(fd: BorrowedFd<'_>, domid: u16, refs: &[GrantRef]) -> io::Result<u64> {
    let mut req = map_request(domid, refs)?;
    // SAFETY: `req` holds the struct's header and `count` references (at least the one
    // the struct declares), 8-aligned as the struct is; the kernel reads those and
    // writes `index`, all inside `req`.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), IOCTL_GNTDEV_MAP_GRANT_REF, req.as_mut_ptr()) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(req[1])
}

/// Releases a mapping set up by [`map_grant_refs`] (the pages go once unmapped too).
pub(super) fn unmap_grant_refs(fd: BorrowedFd<'_>, index: u64, count: u32) -> io::Result<()> {
    let mut req = GntdevUnmapGrantRef {
        index,
        count,
        pad: 0,
    };
    // SAFETY: a plain struct the kernel only reads, live for the call.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), IOCTL_GNTDEV_UNMAP_GRANT_REF, &mut req) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Binds a local port of this evtchn fd to `remote_port` of `remote`; the local port.
pub(super) fn evtchn_bind_interdomain(
    fd: BorrowedFd<'_>,
    remote: u16,
    remote_port: u32,
) -> io::Result<u32> {
    let mut req = EvtchnBindInterdomain {
        remote_domain: u32::from(remote),
        remote_port,
    };
    // SAFETY: a plain struct the kernel only reads, live for the call.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), IOCTL_EVTCHN_BIND_INTERDOMAIN, &mut req) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    u32::try_from(rc).map_err(|_| io::ErrorKind::InvalidData.into())
}

/// Signals the remote end of local `port`.
pub(super) fn evtchn_notify(fd: BorrowedFd<'_>, port: u32) -> io::Result<()> {
    let mut req = EvtchnNotify { port };
    // SAFETY: a plain struct the kernel only reads, live for the call.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), IOCTL_EVTCHN_NOTIFY, &mut req) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::grant::DomId;

    #[test]
    fn ioctl_numbers_are_the_headers() {
        // As printed by a C program including <xen/sys/gntdev.h> and <xen/sys/evtchn.h>.
        assert_eq!(IOCTL_GNTDEV_MAP_GRANT_REF, 0x18_4700);
        assert_eq!(IOCTL_GNTDEV_UNMAP_GRANT_REF, 0x10_4701);
        assert_eq!(IOCTL_GNTDEV_GRANT_COPY, 0x10_4708);
        assert_eq!(IOCTL_EVTCHN_BIND_INTERDOMAIN, 0x8_4501);
        assert_eq!(IOCTL_EVTCHN_NOTIFY, 0x4_4504);
    }

    #[test]
    fn copy_segments_encode_the_union_and_flags() {
        let g = GrantPtr {
            domid: DomId(0x1234),
            gref: GrantRef(0xdead_beef),
            offset: 0x0abc,
        };
        let f = foreign(g).to_ne_bytes();
        assert_eq!(f[..4], 0xdead_beefu32.to_ne_bytes());
        assert_eq!(f[4..6], 0x0abcu16.to_ne_bytes());
        assert_eq!(f[6..], 0x1234u16.to_ne_bytes());

        let mut buf = [0u8; 100];
        let addr = buf.as_ptr() as u64;
        let r = encode(&CopySegment::from_grant(g, &mut buf));
        assert_eq!(
            r,
            GntdevCopySegment {
                source: foreign(g),
                dest: addr,
                len: 100,
                flags: GNTCOPY_SOURCE_GREF,
                status: GrantStatus::GENERAL_ERROR.0,
            }
        );
        let src = [1u8; 7];
        let r = encode(&CopySegment::to_grant(&src, g));
        assert_eq!(
            (r.source, r.dest, r.len, r.flags),
            (src.as_ptr() as u64, foreign(g), 7, GNTCOPY_DEST_GREF)
        );
    }

    #[test]
    fn map_requests_carry_count_and_refs() {
        let req = map_request(7, &[GrantRef(520), GrantRef(521)]).unwrap();
        assert_eq!(req.len(), 4);
        let w0 = req[0].to_ne_bytes();
        assert_eq!(
            (&w0[..4], &w0[4..]),
            (&2u32.to_ne_bytes()[..], &[0u8; 4][..])
        );
        assert_eq!(req[1], 0);
        let w2 = req[2].to_ne_bytes();
        assert_eq!(
            (&w2[..4], &w2[4..]),
            (&7u32.to_ne_bytes()[..], &520u32.to_ne_bytes()[..])
        );
        // Room for the declared element even with no reference.
        assert_eq!(map_request(7, &[]).unwrap().len(), 3);
    }

    #[test]
    fn ioctls_on_another_file_fail_cleanly() {
        use std::os::fd::AsFd;
        let f = std::fs::File::open("/dev/null").unwrap();
        let mut buf = [0u8; 8];
        let g = GrantPtr {
            domid: DomId(1),
            gref: GrantRef(1),
            offset: 0,
        };
        let mut segs = [CopySegment::from_grant(g, &mut buf)];
        let mut raw = Vec::new();
        assert!(grant_copy(f.as_fd(), &mut segs, &[0], &mut raw).is_err());
        assert_eq!(segs[0].status(), GrantStatus::GENERAL_ERROR);
        assert!(grant_copy(f.as_fd(), &mut segs, &[1], &mut raw).is_err());
        assert!(map_grant_refs(f.as_fd(), 1, &[GrantRef(1)]).is_err());
        assert!(unmap_grant_refs(f.as_fd(), 0, 1).is_err());
        assert!(evtchn_bind_interdomain(f.as_fd(), 1, 8).is_err());
        assert!(evtchn_notify(f.as_fd(), 8).is_err());
    }
}
