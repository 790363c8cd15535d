//! The control ring (`feature-ctrl-ring`, `io/netif.h` "Control ring", ANCHORS 3.5),
//! served by the control plane, never by a burst: a frontend that wrote `ctrl-ring-ref`
//! and `event-channel-ctrl` sets its receive-side hashing ([`hash`](super::hash))
//! with it. Each request is copied out of its slot once, answered in the same slot
//! with its id, the responses published together, the frontend notified as its
//! `rsp_event` asks (netback's `xenvif_ctrl_action`).
//!
//! Guest data (a key, mapping entries) is grant-copied from offset 0 of the page the
//! request names, into a local buffer; the range is checked before the copy and every
//! entry after it, then the settings change whole (XSA-270). A bad request is answered
//! `INVALID_PARAMETER`; a ring claiming more requests than it holds disables the vif.
//!
//! The static grant messages (`*_GREF_MAPPING`) set each queue's staging grants
//! ([`staging`](super::staging)); their list page is copied in (and, for a delete,
//! the per-entry statuses copied back) the same way.
//!
//! Must never: panic on guest input, read a slot twice, or change any setting on a
//! request it answers with an error.

use std::sync::Arc;

use vpmd_pmd::Counter;

use super::hash::{HashSettings, HashShared, MAX_MAPPING_SIZE, SUPPORTED_FLAGS};
use super::ring::{VifRing, VifRingParts};
use super::staging::Staging;
use super::stats::QueueCounters;
use super::toeplitz::MAX_KEY_SIZE;
use super::vif::FatalReason;
use crate::platform::{CopySegment, GrantPtr, Platform};
use crate::wire::ctrl::{CtrlRequest, CtrlResponse, GrefEntry};
use crate::wire::defs::*;
use crate::wire::grant::GrantRef;
use crate::wire::ring::RingLayout;
use crate::wire::Entry;

/// What the control rings of a vif answered, across its connections. Written by the
/// control plane only.
#[derive(Debug, Default)]
pub struct CtrlCounters {
    /// Requests answered.
    pub requests: Counter,
    /// Requests answered with a status other than `SUCCESS`.
    pub errors: Counter,
    /// Of those, `NOT_SUPPORTED` (unknown or unimplemented types).
    pub not_supported: Counter,
    /// The ring's own counters (its notifications).
    ring: Arc<QueueCounters>,
}

impl CtrlCounters {
    /// `(name, value)` pairs, DPDK style.
    pub fn xstats(&self) -> Vec<(String, u64)> {
        [
            ("ctrl_requests", &self.requests),
            ("ctrl_errors", &self.errors),
            ("ctrl_not_supported", &self.not_supported),
            ("ctrl_notify", &self.ring.notify),
        ]
        .into_iter()
        .map(|(n, c)| (n.to_string(), c.get()))
        .collect()
    }
}

/// The backend's end of one connection's control ring.
pub(crate) struct CtrlRing<P: Platform> {
    q: VifRing<P>,
    hash: Arc<HashShared>,
    /// Queues the frontend connected: mapping entries must be below.
    queues: u16,
    counters: Arc<CtrlCounters>,
    /// Each queue's staging grants.
    staging: Vec<Staging<P>>,
}

impl<P: Platform> CtrlRing<P> {
    /// The ring mapped from the frontend's grant, answering into `hash` for a vif of
    /// `queues` queues.
    pub fn new(
        mut parts: VifRingParts<P>,
        hash: Arc<HashShared>,
        queues: u16,
        counters: Arc<CtrlCounters>,
        staging: Vec<Staging<P>>,
    ) -> Self {
        parts.stats = Arc::clone(&counters.ring);
        Self {
            q: VifRing::new(parts, RingLayout::CTRL),
            hash,
            queues,
            counters,
            staging,
        }
    }

    /// Answers every request posted; how many.
    pub fn serve(&mut self) -> usize {
        let Some(prod) = self.q.live_prod(FatalReason::CtrlImpossibleRequests) else {
            return 0;
        };
        let mut n = 0;
        while self.q.ring.req_cons != prod {
            let idx = self.q.ring.req_cons;
            let Ok(bytes) = self.q.ring.copy_slot::<CtrlRequest>(idx) else {
                self.q.fatal(FatalReason::RingAccess);
                return n;
            };
            let req = CtrlRequest::decode(&bytes);
            self.q.ring.req_cons = idx.wrapping_add(1);
            let (status, data) = self.handle(&req);
            self.count(status);
            let rsp = CtrlResponse {
                id: req.id,
                kind: req.kind,
                status,
                data,
            };
            // In the request's slot: requests are answered in order, one each.
            if self.q.ring.put_slot(idx, &rsp.encode()).is_err() {
                self.q.fatal(FatalReason::RingAccess);
                return n;
            }
            self.q.ring.rsp_prod_pvt = idx.wrapping_add(1);
            n += 1;
        }
        self.q.push_and_notify();
        n
    }

    fn count(&self, status: u32) {
        self.counters.requests.add(1);
        if status != XEN_NETIF_CTRL_STATUS_SUCCESS {
            self.counters.errors.add(1);
        }
        if status == XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED {
            self.counters.not_supported.add(1);
        }
    }

    /// One request's `(status, data)` (netback's `process_ctrl_request`).
    fn handle(&mut self, req: &CtrlRequest) -> (u32, u32) {
        const OK: u32 = XEN_NETIF_CTRL_STATUS_SUCCESS;
        let [a, b, c] = req.data;
        match req.kind {
            XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS => (OK, SUPPORTED_FLAGS),
            XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS => self.set(|s| s.set_flags(a)),
            XEN_NETIF_CTRL_TYPE_SET_HASH_KEY => (self.set_key(GrantRef(a), b), 0),
            XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE => (OK, MAX_MAPPING_SIZE),
            XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE => self.set(|s| s.set_mapping_size(a)),
            XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING => (self.set_mapping(GrantRef(a), b, c), 0),
            XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM => self.set(|s| s.set_algorithm(a)),
            XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE
            | XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING
            | XEN_NETIF_CTRL_TYPE_DEL_GREF_MAPPING => self.staging_grants(req),
            _ => (XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED, 0),
        }
    }

    /// A settings change's answer.
    fn set(&self, f: impl FnOnce(&mut HashSettings) -> u32) -> (u32, u32) {
        (self.hash.update(f), 0)
    }

    /// `GET_GREF_MAPPING_SIZE`, `ADD_GREF_MAPPING`, `DEL_GREF_MAPPING` for queue
    /// `data[0]`, the list being `data[2]` entries at the start of page `data[1]`.
    fn staging_grants(&mut self, req: &CtrlRequest) -> (u32, u32) {
        const BAD: (u32, u32) = (XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER, 0);
        let [queue, gref, count] = req.data;
        if self.staging.get(queue as usize).is_none() {
            return BAD;
        }
        if req.kind == XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE {
            return (
                XEN_NETIF_CTRL_STATUS_SUCCESS,
                self.staging[queue as usize].free(),
            );
        }
        // Checked before the copy: a list is at most one page.
        let Some(n) = usize::try_from(count)
            .ok()
            .filter(|&n| n <= XEN_NETIF_GREF_LIST_MAX)
        else {
            return BAD;
        };
        let mut bytes = [0u8; XEN_NETIF_GREF_LIST_MAX * GrefEntry::SIZE];
        let bytes = &mut bytes[..n * GrefEntry::SIZE];
        if !self.copy_in(GrantRef(gref), bytes) {
            return BAD;
        }
        let mut list: Vec<GrefEntry> = bytes
            .chunks_exact(GrefEntry::SIZE)
            .map(|c| {
                let mut e = [0; GrefEntry::SIZE];
                e.copy_from_slice(c);
                GrefEntry::decode(&e)
            })
            .collect();
        let staging = &mut self.staging[queue as usize];
        let done = if req.kind == XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING {
            staging.add(&mut list)
        } else {
            let done = staging.del(&mut list);
            // Statuses go back to a writable list page; a read-only one keeps them.
            for (c, e) in bytes.chunks_exact_mut(GrefEntry::SIZE).zip(&list) {
                c.copy_from_slice(&e.encode());
            }
            self.copy_out(bytes, GrantRef(gref));
            done
        };
        match done {
            Ok(n) => (XEN_NETIF_CTRL_STATUS_SUCCESS, n),
            Err(status) => (status, 0),
        }
    }

    /// `SET_HASH_KEY`: `len` bytes from the start of page `gref`. Netback answers a key
    /// longer than it keeps `INVALID_PARAMETER` (netif.h suggests `BUFFER_OVERFLOW`;
    /// frontends are written against netback).
    fn set_key(&self, gref: GrantRef, len: u32) -> u32 {
        let Some(n) = usize::try_from(len).ok().filter(|&n| n <= MAX_KEY_SIZE) else {
            return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
        };
        let mut key = [0u8; MAX_KEY_SIZE];
        if !self.copy_in(gref, &mut key[..n]) {
            return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
        }
        self.hash.update(|s| s.set_key(&key[..n]))
    }

    /// `SET_HASH_MAPPING`: `len` entries from the start of page `gref` into the table
    /// at entry `offset`.
    fn set_mapping(&self, gref: GrantRef, len: u32, offset: u32) -> u32 {
        // Checked before the copy: the range (wrap included) and hence the byte count,
        // at most 128 entries, which also keeps the grant side inside its page.
        if !self.hash.settings().mapping_range_ok(offset, len) {
            return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
        }
        let mut buf = [0u8; MAX_MAPPING_SIZE as usize * 4];
        let bytes = &mut buf[..len as usize * 4];
        if !self.copy_in(gref, bytes) {
            return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
        }
        let mut entries = [0u32; MAX_MAPPING_SIZE as usize];
        let entries = &mut entries[..len as usize];
        for (e, b) in entries.iter_mut().zip(bytes.chunks_exact(4)) {
            *e = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
        let queues = self.queues;
        self.hash.update(|s| s.set_mapping(offset, entries, queues))
    }

    /// Grant-copies `src` to the start of page `gref` (a failure leaves the page as
    /// it was, which is all a read-only grant allows).
    fn copy_out(&self, src: &[u8], gref: GrantRef) {
        let dst = GrantPtr {
            domid: self.q.domid,
            gref,
            offset: 0,
        };
        self.q.copy(&mut [CopySegment::to_grant(src, dst)]);
    }

    /// Grant-copies the start of page `gref` into `dst`; whether it worked. Nothing to
    /// copy succeeds without touching the grant, as in Xen.
    fn copy_in(&self, gref: GrantRef, dst: &mut [u8]) -> bool {
        if dst.is_empty() {
            return true;
        }
        let src = GrantPtr {
            domid: self.q.domid,
            gref,
            offset: 0,
        };
        let mut segs = [CopySegment::from_grant(src, dst)];
        self.q.copy(&mut segs);
        segs[0].status().is_ok()
    }
}

/// A vif's control side across connections: the ring of the current one (if its
/// frontend made one), the hash settings its queues read, the counters.
pub struct CtrlSide<P: Platform> {
    ring: Option<CtrlRing<P>>,
    hash: Arc<HashShared>,
    queues: u16,
    counters: Arc<CtrlCounters>,
}

impl<P: Platform> Default for CtrlSide<P> {
    fn default() -> Self {
        Self {
            ring: None,
            hash: Arc::new(HashShared::new()),
            queues: 0,
            counters: Arc::default(),
        }
    }
}

impl<P: Platform> std::fmt::Debug for CtrlSide<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CtrlSide")
            .field("ring", &self.ring.is_some())
            .field("queues", &self.queues)
            .finish_non_exhaustive()
    }
}

impl<P: Platform> CtrlSide<P> {
    /// A new connection's settings and ring (`None`: the frontend made no ring).
    pub(crate) fn connected(
        &mut self,
        ring: Option<CtrlRing<P>>,
        hash: Arc<HashShared>,
        queues: u16,
    ) {
        self.ring = ring;
        self.hash = hash;
        self.queues = queues;
    }

    /// Drops the ring (unmapping it).
    pub(crate) fn disconnect(&mut self) {
        self.ring = None;
        self.queues = 0;
    }

    /// The counters, shared with every connection's ring.
    pub(crate) fn counters(&self) -> &Arc<CtrlCounters> {
        &self.counters
    }

    /// Whether the current connection has a control ring.
    pub fn has_ring(&self) -> bool {
        self.ring.is_some()
    }

    /// Answers the requests waiting on the control ring; how many.
    pub fn serve(&mut self) -> usize {
        self.ring.as_mut().map_or(0, CtrlRing::serve)
    }

    /// The frontend's current hash settings.
    pub fn settings(&self) -> HashSettings {
        self.hash.settings()
    }

    /// The queue the frontend wants a packet of RSS hash `hash` on (its mapping
    /// table), for an application that steers guest-bound packets to queues; `None`
    /// while the frontend set no algorithm. Control-plane speed (a lock and a copy):
    /// per packet, keep [`CtrlSide::settings`] and ask its
    /// [`HashSettings::queue_for_hash`].
    pub fn queue_for_hash(&self, hash: u32) -> Option<u16> {
        self.hash.settings().queue_for_hash(hash, self.queues)
    }

    /// The counters and the settings as xstats.
    pub fn xstats(&self) -> Vec<(String, u64)> {
        let s = self.hash.settings();
        let mut x = self.counters.xstats();
        x.extend([
            ("hash_algorithm".to_string(), u64::from(s.algorithm)),
            ("hash_flags".to_string(), u64::from(s.flags)),
            ("hash_mapping_size".to_string(), s.mapping.len() as u64),
        ]);
        x
    }
}
