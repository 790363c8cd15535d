//! Multicast control from the frontend's side (netif.h's `MCAST_ADD`/`MCAST_DEL`):
//! `request-multicast-control` asks the backend to filter multicast frames into the
//! guest, and dummy tx requests carrying one `XEN_NETIF_EXTRA_TYPE_MCAST_ADD`/`_DEL`
//! extra register or drop a group. Linux's xen-netfront implements neither (it never
//! writes the key, so netback floods it every multicast); this is written from netif.h
//! and netback's behaviour, for tests and for guests that do (e.g. Windows PV drivers).
//!
//! The dummy request's slot names a granted empty page, so its response is gc'd like
//! any other: the backend answers it `NETIF_RSP_OKAY` (or `NETIF_RSP_ERROR`, list full)
//! and the extra `NETIF_RSP_NULL`.

use std::sync::Arc;

use super::{read_opt, Netfront, NetfrontError};
use crate::platform::{EventChannel, TxId, XenStore};
use crate::wire::netif::{Extra, ExtraInfo, TxFlags, TxRequest};
use crate::wire::Entry;

impl Netfront {
    /// Writes `request-multicast-control` (the backend watches it when it offers
    /// `feature-dynamic-multicast-control`, so this works connected or not).
    pub fn request_multicast_control(&mut self, on: bool) -> Result<(), NetfrontError> {
        let offered = read_opt(
            &self.store,
            &format!("{}/feature-multicast-control", self.be),
        )?;
        if offered.as_deref().map(str::trim) != Some("1") {
            return Err(NetfrontError::Invalid(
                "the backend offers no feature-multicast-control",
            ));
        }
        let key = format!("{}/request-multicast-control", self.fe);
        let v: &[u8] = if on { b"1" } else { b"0" };
        Ok(self.store.write(TxId::NONE, &key, v)?)
    }

    /// Registers multicast group `mac` on queue `q`'s tx ring.
    pub fn mcast_add(&mut self, q: u16, mac: [u8; 6]) -> Result<(), NetfrontError> {
        self.mcast(q, Extra::McastAdd(mac))
    }

    /// Drops one registration of `mac`.
    pub fn mcast_del(&mut self, q: u16, mac: [u8; 6]) -> Result<(), NetfrontError> {
        self.mcast(q, Extra::McastDel(mac))
    }

    fn mcast(&mut self, q: u16, extra: Extra) -> Result<(), NetfrontError> {
        let g = Arc::clone(&self.guest);
        let backend = self.cfg.backend;
        let fq = self.queue(q)?;
        if fq.tx.ring.free_requests() < 2 {
            fq.tx.gc(&g)?;
            if fq.tx.ring.free_requests() < 2 {
                return Err(NetfrontError::Busy);
            }
        }
        let (id, gref) = fq.tx.grant_slot(&g, backend, 0, Some(&[]))?;
        let req = TxRequest {
            gref,
            offset: 0,
            flags: TxFlags::EXTRA_INFO,
            id,
            size: 0,
        };
        fq.tx.put(&g, &req.encode())?;
        fq.tx.put(&g, &ExtraInfo::new(extra, false).encode_slot())?;
        if fq.tx.ring.push(g.memory())? {
            fq.tx.stats.notify += 1;
            fq.ch_tx.notify()?;
        }
        Ok(())
    }
}
