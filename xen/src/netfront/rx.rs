//! Netfront's receive side (`xennet_alloc_rx_buffers`, `xennet_poll`): a page per
//! ring slot, granted writable and posted with the slot's index as id; responses are
//! matched to buffers by ring position (netfront ignores the response's id), chains
//! follow `more_data`, extras (GSO, hash) arrive in the slots after the first. A malformed
//! response drops the packet and is counted, as netfront does.

use crate::platform::sim::Guest;
use crate::wire::defs::XEN_PAGE_SIZE;
use crate::wire::grant::{DomId, GrantRef};
use crate::wire::netif::{Extra, ExtraInfo, GsoInfo, HashInfo, RxFlags, RxRequest, RxResponse};
use crate::wire::ring::{RingIdx, RingLayout};
use crate::wire::Entry;

use super::grants::PageGrants;
use super::ring::FrontRing;
use super::NetfrontError;

/// Most slots one received packet may take (`MAX_SKB_FRAGS + 1` data, plus extras).
const MAX_RX_SLOTS: usize = 20;

/// A received frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxPacket {
    /// Its bytes.
    pub data: Vec<u8>,
    /// Flags of its first response.
    pub flags: RxFlags,
    /// Its GSO extra.
    pub gso: Option<GsoInfo>,
    /// Its hash extra (a backend hashing for the frontend's control ring settings).
    pub hash: Option<HashInfo>,
    /// Slots it took (data and extra).
    pub slots: usize,
}

/// Receive counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RxStats {
    /// Packets delivered.
    pub packets: u64,
    /// Packets dropped for a bad response (error status, bad offset, too many slots).
    pub errors: u64,
}

#[derive(Debug)]
pub(crate) struct RxSide {
    pub ring: FrontRing,
    page0: u32,
    grants: PageGrants,
    grefs: Vec<Option<GrantRef>>,
    /// Buffers to keep posted.
    pub target: u32,
    /// Count and check received frames without copying them out (a traffic sink, as
    /// vuser's is): their [`RxPacket::data`] stays empty.
    pub sink: bool,
    pub stats: RxStats,
}

fn idx_of(i: RingIdx) -> usize {
    (i & (RingLayout::RX.entries - 1)) as usize
}

impl RxSide {
    pub fn new(ring: FrontRing, page0: u32, target: u32, grants: PageGrants) -> Self {
        Self {
            ring,
            page0,
            grants,
            grefs: vec![None; RingLayout::RX.entries as usize],
            target: target.min(RingLayout::RX.entries),
            sink: false,
            stats: RxStats::default(),
        }
    }

    /// Posts buffers up to the target; whether the backend wants an event.
    pub fn refill(&mut self, g: &Guest, backend: DomId) -> Result<bool, NetfrontError> {
        let mem = g.memory();
        let mut posted = false;
        while self.ring.req_prod_pvt.wrapping_sub(self.ring.rsp_cons) < self.target {
            let i = self.ring.req_prod_pvt;
            let id = idx_of(i);
            if self.grefs[id].is_some() {
                break;
            }
            let gref = self
                .grants
                .acquire(g, backend, id, self.page0 + id as u32, false)?;
            self.grefs[id] = Some(gref);
            let req = RxRequest {
                id: id as u16,
                pad: 0,
                gref,
            };
            self.ring.put(mem, i, &req.encode())?;
            self.ring.req_prod_pvt = i.wrapping_add(1);
            posted = true;
        }
        Ok(posted && self.ring.push(mem)?)
    }

    /// Every grant still out (for release at close).
    pub fn granted(&self) -> impl Iterator<Item = GrantRef> + '_ {
        let per_use = self.grants.persistent_refs().is_empty();
        let posted = self.grefs.iter().flatten().copied();
        (self.grants.persistent_refs().iter().copied()).chain(posted.filter(move |_| per_use))
    }

    /// The connection-long grants of the rx pages (staging grants), if any.
    pub fn persistent_refs(&self) -> &[GrantRef] {
        self.grants.persistent_refs()
    }

    /// Releases the buffer at ring index `i` (ending a per-use grant); its page.
    fn take(&mut self, g: &Guest, i: RingIdx) -> Result<u32, NetfrontError> {
        let id = idx_of(i);
        let gref = self.grefs[id].take().ok_or(NetfrontError::Broken(
            "rx response for a slot with no buffer",
        ))?;
        self.grants
            .release(g, gref)
            .map_err(|_| NetfrontError::Broken("backend still holds an rx grant"))?;
        Ok(self.page0 + id as u32)
    }

    /// Gathers received packets into `out`.
    pub fn poll(&mut self, g: &Guest, out: &mut Vec<RxPacket>) -> Result<(), NetfrontError> {
        let mem = g.memory();
        loop {
            let prod = self.ring.rsp_prod(mem)?;
            if prod.wrapping_sub(self.ring.rsp_cons) > RingLayout::RX.entries {
                return Err(NetfrontError::Broken("rx rsp_prod beyond the ring"));
            }
            while self.ring.rsp_cons != prod {
                match self.one(g, prod)? {
                    Some(p) => {
                        self.stats.packets += 1;
                        out.push(p);
                    }
                    None => self.stats.errors += 1,
                }
            }
            if !self.ring.final_check(mem)? {
                return Ok(());
            }
        }
    }

    /// One packet's responses from `rsp_cons` (consumed whatever their fate).
    fn one(&mut self, g: &Guest, prod: RingIdx) -> Result<Option<RxPacket>, NetfrontError> {
        let mem = g.memory();
        let mut cons = self.ring.rsp_cons;
        let first = RxResponse::decode(&self.ring.get::<8>(mem, cons)?);
        let mut bad = false;
        let mut gso = None;
        let mut hash = None;
        let mut data = Vec::new();
        let mut slots = 0;
        let mut rsp = first;
        loop {
            let page = self.take(g, cons)?;
            cons = cons.wrapping_add(1);
            slots += 1;
            match rsp.size() {
                // A sink checks each response but copies nothing out.
                Ok(n) if usize::from(rsp.offset) + usize::from(n) <= XEN_PAGE_SIZE => {
                    if !self.sink {
                        let at = data.len();
                        data.resize(at + usize::from(n), 0);
                        mem.read(
                            page as usize * XEN_PAGE_SIZE + usize::from(rsp.offset),
                            &mut data[at..],
                        )?;
                    }
                }
                _ => bad = true,
            }
            if slots == 1 && rsp.flags.contains(RxFlags::EXTRA_INFO) {
                loop {
                    if cons == prod {
                        bad = true;
                        break;
                    }
                    let x = ExtraInfo::decode(&self.ring.get::<8>(mem, cons)?);
                    self.take(g, cons)?;
                    cons = cons.wrapping_add(1);
                    slots += 1;
                    match x.parse() {
                        Ok(Extra::Gso(gi)) => gso = Some(gi),
                        Ok(Extra::Hash(h)) => hash = Some(h),
                        Ok(_) => {}
                        Err(_) => bad = true,
                    }
                    if !x.more() {
                        break;
                    }
                }
            }
            if !rsp.flags.contains(RxFlags::MORE_DATA) {
                break;
            }
            if cons == prod || slots >= MAX_RX_SLOTS {
                bad = true;
                break;
            }
            rsp = RxResponse::decode(&self.ring.get::<8>(mem, cons)?);
        }
        self.ring.rsp_cons = cons;
        Ok((!bad).then_some(RxPacket {
            data,
            flags: first.flags,
            gso,
            hash,
            slots,
        }))
    }
}
