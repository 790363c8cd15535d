//! What Xen provides a backend, as traits the backend is generic over: grant copy and
//! map ([`GrantOps`]), event channels ([`EventChannels`], [`EventChannel`]) and xenstore
//! ([`XenStore`]), bundled by [`Platform`].
//!
//! Two implementations: [`sim`] (a simulated hypervisor: two processes on one Linux
//! machine, no Xen) and [`linux`] (a real dom0, through the kernel's Xen devices). The
//! traits are shaped after the dom0 user-space interfaces so that `linux` is a thin
//! layer:
//!
//! | Trait call | Linux dom0 |
//! |---|---|
//! | [`GrantOps::copy`] | `IOCTL_GNTDEV_GRANT_COPY` on `/dev/xen/gntdev`: one `gntdev_grant_copy_segment` per [`CopySegment`], the grant side as `{ref, offset, domid}` with `GNTCOPY_source_gref`/`GNTCOPY_dest_gref`, the local buffer as `virt` (gntdev splits it at local page boundaries); statuses are read back per segment. gntdev fails the whole ioctl with `-EINVAL` for a grant side crossing its page, so `linux` pre-checks and answers `GNTST_bad_copy_arg` for that segment alone, as Xen would. |
//! | [`GrantOps::map`] | `IOCTL_GNTDEV_MAP_GRANT_REF` (`count`, `{domid, ref}` each) then `mmap` of the returned offset, `PROT_READ` or `PROT_READ\|PROT_WRITE` (`GNTMAP_readonly`): one contiguous range, all or nothing. |
//! | [`GrantOps::unmap`] | `munmap`, then `IOCTL_GNTDEV_UNMAP_GRANT_REF`. |
//! | [`GrantOps::map_pages`] / [`GrantOps::unmap_pages`] | the same per page (`linux`: one ioctl and `mmap` per page for now; batching is issue 6); the sim pins the grant and points into the guest memory it already maps, no syscall. |
//! | [`EventChannels::bind_interdomain`] | `open("/dev/xen/evtchn")` + `IOCTL_EVTCHN_BIND_INTERDOMAIN` (one evtchn fd per bound port, so each is polled and moved on its own). |
//! | [`EventChannel::notify`] / `pending` / `unmask` / fd | `IOCTL_EVTCHN_NOTIFY` / non-blocking `read` of the fired port / `write` of the port / the evtchn fd. |
//! | [`XenStore`] | [`XsClient`](xenstore::XsClient) speaking xenstored's wire protocol to `/run/xenstored/socket` (libxenstore's own transport in dom0; `/dev/xen/xenbus`, for a domain without xenstored, is not wired up yet). |
//!
//! # What the grant checks are
//!
//! Every implementation reports, per copy segment, what Xen's `gnttab_copy` would
//! (`xen/common/grant_table.c`), in Xen's order:
//!
//! 1. a zero-length segment succeeds with no further check;
//! 2. an unknown domain is `GNTST_bad_domain`;
//! 3. a reference past the end of the granting domain's table is `GNTST_bad_gntref`;
//! 4. an entry that is not `GTF_permit_access`, names another domain, or is
//!    `GTF_readonly` for a copy into it is `GNTST_general_error`;
//! 5. a granted frame outside the domain's memory is `GNTST_bad_page`;
//! 6. a grant side with `offset + len > 4096` (crossing its page) is
//!    `GNTST_bad_copy_arg`.
//!
//! Maps make checks 2-5 and report the first failing reference.

pub mod evtchn;
pub mod grant;
pub mod linux;
#[allow(unsafe_code)]
pub mod shm;
pub mod sim;
pub mod xenstore;

pub use evtchn::{EventChannel, EventChannels, EvtchnError, Port};
pub use grant::{CopyOp, CopySegment, GrantError, GrantOps, GrantPtr};
pub use xenstore::{transact, TxId, WatchEvent, XenStore, XsError};

use crate::wire::grant::DomId;

/// One backend domain's view of Xen: the three services, over one set of types.
pub trait Platform: Send + Sync {
    /// Grant copy and map.
    type Grants: GrantOps;
    /// Event channels.
    type Events: EventChannels;
    /// Xenstore.
    type Store: XenStore;

    /// The backend's own domain id (0 for a dom0 backend).
    fn domid(&self) -> DomId;
    /// Grant operations.
    fn grants(&self) -> &Self::Grants;
    /// Event channels.
    fn events(&self) -> &Self::Events;
    /// Xenstore.
    fn store(&self) -> &Self::Store;
}
