//! How one side's buffer pages are granted to the backend: per use, as Linux's
//! xen-netfront does (grant when a slot is posted, end access when its response
//! comes back), or once for the whole connection, so the backend can keep them
//! mapped as staging grants (Xen's `netif-staging-grants.pandoc`; Linux's netfront
//! does not implement it, the document's patches and DPDK-like frontends do).

use crate::platform::sim::{Guest, GuestError};
use crate::wire::grant::{DomId, GrantRef};

/// The grants behind a side's pages, the page of buffer `i` being `page0 + i`.
#[derive(Debug)]
pub(crate) enum PageGrants {
    /// A fresh grant each time a buffer is posted.
    PerUse,
    /// Buffer `i`'s page granted once, as `refs[i]`.
    Persistent(Vec<GrantRef>),
}

impl PageGrants {
    /// Grants `n` pages from `page0` to `backend` for the connection's lifetime.
    pub fn persistent(
        g: &Guest,
        backend: DomId,
        page0: u32,
        n: u32,
        readonly: bool,
    ) -> Result<Self, GuestError> {
        let mut refs = Vec::with_capacity(n as usize);
        for i in 0..n {
            match g.grant_access(backend, page0 + i, readonly) {
                Ok(r) => refs.push(r),
                Err(e) => {
                    for r in refs {
                        let _ = g.end_access(r);
                    }
                    return Err(e);
                }
            }
        }
        Ok(Self::Persistent(refs))
    }

    /// The grant to post buffer `i` (page `frame`) with.
    pub fn acquire(
        &self,
        g: &Guest,
        backend: DomId,
        i: usize,
        frame: u32,
        readonly: bool,
    ) -> Result<GrantRef, GuestError> {
        match self {
            Self::PerUse => g.grant_access(backend, frame, readonly),
            Self::Persistent(refs) => refs
                .get(i)
                .copied()
                .ok_or(GuestError::NotGranted(GrantRef(u32::MAX))),
        }
    }

    /// Buffer `gref` came back: a per-use grant ends here (and fails if the backend
    /// still holds it).
    pub fn release(&self, g: &Guest, gref: GrantRef) -> Result<(), GuestError> {
        match self {
            Self::PerUse => g.end_access(gref),
            Self::Persistent(_) => Ok(()),
        }
    }

    /// The connection-long grants (none when granting per use).
    pub fn persistent_refs(&self) -> &[GrantRef] {
        match self {
            Self::PerUse => &[],
            Self::Persistent(refs) => refs,
        }
    }
}
