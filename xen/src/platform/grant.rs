//! Grant operations a backend needs: batched grant copy with a status per segment
//! (`GNTTABOP_copy`), mapping granted pages (`GNTTABOP_map_grant_ref`): rings all or
//! nothing, data pages one by one in batches, each with its own status, as external
//! mbuf memory.

use std::io;

use vpmd_mempool::ExtMem;

use super::shm::SharedMem;
use crate::wire::grant::{DomId, GrantRef, GrantStatus};

/// A place in another domain's memory named by a grant: `offset` bytes into the page
/// that `domid` granted as `gref` (`struct gnttab_copy_ptr` with `GNTCOPY_*_gref`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GrantPtr {
    /// The granting domain.
    pub domid: DomId,
    /// Its grant reference.
    pub gref: GrantRef,
    /// Offset in the granted page.
    pub offset: u16,
}

/// What one copy segment moves: between a granted page and a local buffer, whose
/// length is the segment's length. A local buffer may span local pages; the granted
/// side may not cross its page (`offset + len <= 4096`), or the segment fails with
/// `GNTST_bad_copy_arg`.
#[derive(Debug)]
pub enum CopyOp<'a> {
    /// From another domain into `dst` (the guest's transmit path).
    FromGrant {
        /// Where to read.
        src: GrantPtr,
        /// Where to write; its length is the copy's.
        dst: &'a mut [u8],
    },
    /// From `src` into another domain (the guest's receive path).
    ToGrant {
        /// What to write; its length is the copy's.
        src: &'a [u8],
        /// Where to write.
        dst: GrantPtr,
    },
}

/// One segment of a batched grant copy and, once the batch ran, its status.
#[derive(Debug)]
pub struct CopySegment<'a> {
    op: CopyOp<'a>,
    status: GrantStatus,
}

impl<'a> CopySegment<'a> {
    /// Copy from the granted page at `src` into `dst`.
    pub fn from_grant(src: GrantPtr, dst: &'a mut [u8]) -> Self {
        Self::new(CopyOp::FromGrant { src, dst })
    }

    /// Copy `src` into the granted page at `dst`.
    pub fn to_grant(src: &'a [u8], dst: GrantPtr) -> Self {
        Self::new(CopyOp::ToGrant { src, dst })
    }

    /// A segment that has not run: its status is `GNTST_general_error` until a copy
    /// sets it, so a batch that failed as a whole leaves nothing looking copied.
    pub fn new(op: CopyOp<'a>) -> Self {
        Self {
            op,
            status: GrantStatus::GENERAL_ERROR,
        }
    }

    /// The operation.
    pub fn op(&self) -> &CopyOp<'a> {
        &self.op
    }

    /// The operation, for an implementation to carry out.
    pub fn op_mut(&mut self) -> &mut CopyOp<'a> {
        &mut self.op
    }

    /// Bytes to copy.
    pub fn len(&self) -> usize {
        match &self.op {
            CopyOp::FromGrant { dst, .. } => dst.len(),
            CopyOp::ToGrant { src, .. } => src.len(),
        }
    }

    /// Whether the segment copies nothing (Xen reports success without any check).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The granted side.
    pub fn grant(&self) -> GrantPtr {
        match &self.op {
            CopyOp::FromGrant { src, .. } => *src,
            CopyOp::ToGrant { dst, .. } => *dst,
        }
    }

    /// The result of the last batch this segment ran in.
    pub fn status(&self) -> GrantStatus {
        self.status
    }

    /// Records the result (for implementations).
    pub fn set_status(&mut self, s: GrantStatus) {
        self.status = s;
    }
}

/// Why a grant operation failed as a whole (per-segment failures are statuses).
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// Mapping the `index`-th reference failed; nothing stays mapped.
    #[error("grant {index} of the mapping failed: {status}")]
    Map {
        /// Which reference.
        index: usize,
        /// Xen's status for it.
        status: GrantStatus,
    },
    /// The request itself is malformed (no references, too many).
    #[error("invalid grant request: {0}")]
    Invalid(&'static str),
    /// The platform failed (a device or socket error).
    #[error("grant platform: {0}")]
    Io(#[from] io::Error),
}

/// Grant copy and grant map, as the backend's domain may do them.
///
/// Implementations must check every segment as Xen does (see the module doc of
/// [`platform`](super)) and must never touch memory outside the granted page or the
/// local buffer, whatever the guest wrote into its grant table.
pub trait GrantOps: Send + Sync {
    /// Pages mapped from grants: read and written only through [`SharedMem`]'s checked
    /// copies and atomics, unmapped by [`GrantOps::unmap`] (or on drop).
    type Mapping: AsRef<SharedMem> + Send + Sync;

    /// Runs a batch of copies, setting each segment's status. One segment's failure
    /// does not stop the others. `Err` means the batch did not run (statuses are then
    /// left as they were).
    fn copy(&self, segments: &mut [CopySegment<'_>]) -> Result<(), GrantError>;

    /// Maps the pages `domid` granted as `refs`, contiguously and in order, read-only
    /// or writable; all or nothing.
    fn map(
        &self,
        domid: DomId,
        refs: &[GrantRef],
        writable: bool,
    ) -> Result<Self::Mapping, GrantError>;

    /// Unmaps; the grants are released (the guest may then end its foreign access).
    fn unmap(&self, mapping: Self::Mapping) -> Result<(), GrantError>;

    /// One granted page mapped read-only for the data path: the whole 4 KiB page as
    /// external mbuf memory. Dropping it unmaps it; [`GrantOps::unmap_pages`] unmaps a
    /// batch at once.
    type Page: ExtMem;

    /// Maps each of `refs` read-only, one page each and independently (one
    /// `GNTTABOP_map_grant_ref` batch): `out` gets one result per reference, in order,
    /// a failure being Xen's status for that reference alone.
    fn map_pages(
        &self,
        domid: DomId,
        refs: &[GrantRef],
        out: &mut Vec<Result<Self::Page, GrantStatus>>,
    );

    /// Unmaps every page of `pages` (left empty) in one batch. `Err` means some page
    /// may still be mapped into this process; the grants are released either way.
    fn unmap_pages(&self, pages: &mut Vec<Self::Page>) -> Result<(), GrantError>;
}
