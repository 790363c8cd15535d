//! The frontend's side of staging grants (Xen's `netif-staging-grants.pandoc`): with
//! [`NetfrontConfig::persistent_grants`](super::NetfrontConfig::persistent_grants)
//! every buffer page is granted once, and this asks the backend, through the control
//! ring, to keep a queue's pages mapped, so it copies them without grant operations.
//! Linux's xen-netfront has neither; the document's patches and fixed-buffer
//! frontends (DPDK-like) do.

use super::{Netfront, NetfrontError};
use crate::wire::ctrl::GrefEntry;
use crate::wire::defs::*;
use crate::wire::grant::GrantRef;
use crate::wire::Entry;

impl Netfront {
    /// The list that stages queue `q`'s pages: tx pages read-only, rx pages writable.
    pub fn staging_list(&mut self, q: u16) -> Result<Vec<GrefEntry>, NetfrontError> {
        let fq = self.queue(q)?;
        let entry = |flags| {
            move |&r: &GrantRef| GrefEntry {
                gref: r.0,
                flags,
                status: 0,
            }
        };
        let tx = fq
            .tx
            .persistent_refs()
            .iter()
            .map(entry(XEN_NETIF_CTRLF_GREF_READONLY));
        let rx = fq.rx.persistent_refs().iter().map(entry(0));
        Ok(tx.chain(rx).collect())
    }

    /// Asks the backend to stage queue `q`'s pages ([`Netfront::staging_list`]); the
    /// request's id (its answer comes with [`Netfront::ctrl_wait`]).
    pub fn stage_grants(&mut self, q: u16) -> Result<u16, NetfrontError> {
        let list = self.staging_list(q)?;
        if list.is_empty() {
            return Err(NetfrontError::Invalid("no persistent grants to stage"));
        }
        let bytes: Vec<u8> = list.iter().flat_map(GrefEntry::encode).collect();
        let page = self.ctrl_data(&bytes)?;
        self.ctrl_send(
            XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING,
            [u32::from(q), page.0, list.len() as u32],
        )
    }
}
