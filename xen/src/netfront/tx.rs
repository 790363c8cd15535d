//! Netfront's transmit side (`xennet_start_xmit`, `xennet_tx_buf_gc`): each slot's
//! data sits in its own guest page granted read-only to the backend; a slot's id
//! names that page and grant until the response comes back; a GSO extra takes a ring
//! slot but no id. Responses are checked as hardened netfront does (an id not in
//! flight, or a grant the backend still holds, breaks the device).

use crate::platform::sim::Guest;
use crate::wire::defs::XEN_PAGE_SIZE;
use crate::wire::grant::{DomId, GrantRef};
use crate::wire::netif::{Extra, ExtraInfo, GsoInfo, NetifStatus, TxFlags, TxRequest, TxResponse};
use crate::wire::ring::RingLayout;
use crate::wire::Entry;

use super::grants::PageGrants;
use super::ring::FrontRing;
use super::NetfrontError;

/// A frame to send, and how to lay it out in slots.
#[derive(Debug, Clone, Copy)]
pub struct TxPacket<'a> {
    /// The frame.
    pub data: &'a [u8],
    /// Offset of the first slot's data in its page (an skb's `data` is rarely
    /// page-aligned).
    pub offset: u16,
    /// Largest data per slot (4096 in Linux; smaller makes more slots).
    pub chunk: usize,
    /// `NETTXF_csum_blank | NETTXF_data_validated`.
    pub csum_blank: bool,
    /// A GSO extra.
    pub gso: Option<GsoInfo>,
    /// The frame already sits at `offset` of every tx page ([`Netfront::fill_tx_pages`]):
    /// only the request is written, as a fixed-buffer frontend re-posts its buffers
    /// (vuser's generator does the same). One slot only.
    ///
    /// [`Netfront::fill_tx_pages`]: super::Netfront::fill_tx_pages
    pub prewritten: bool,
}

impl<'a> TxPacket<'a> {
    /// `data` laid out as Linux would: first slot at offset 0x42, whole pages after.
    pub fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            offset: 0x42,
            chunk: XEN_PAGE_SIZE,
            csum_blank: false,
            gso: None,
            prewritten: false,
        }
    }

    /// The (offset, len) of each data slot.
    fn slots(&self) -> impl Iterator<Item = (u16, usize)> + '_ {
        let first = self
            .data
            .len()
            .min(XEN_PAGE_SIZE - usize::from(self.offset))
            .min(self.chunk.max(1));
        let rest = self.data.len() - first;
        std::iter::once((self.offset, first)).chain(
            (0..rest.div_ceil(self.chunk.max(1)))
                .map(move |i| (0, (rest - i * self.chunk.max(1)).min(self.chunk.max(1)))),
        )
    }
}

/// What came back for transmitted slots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxStats {
    /// Packets queued.
    pub packets: u64,
    /// `NETIF_RSP_OKAY` responses.
    pub okay: u64,
    /// `NETIF_RSP_ERROR` responses.
    pub error: u64,
    /// `NETIF_RSP_DROPPED` responses.
    pub dropped: u64,
    /// `NETIF_RSP_NULL` responses (extra slots).
    pub null: u64,
    /// Notifications sent to the backend (it asked through `req_event`).
    pub notify: u64,
}

/// Netfront's tx ring and its in-flight slots.
#[derive(Debug)]
pub(crate) struct TxSide {
    pub ring: FrontRing,
    page0: u32,
    grants: PageGrants,
    grefs: Vec<Option<GrantRef>>,
    free: Vec<u16>,
    pub stats: TxStats,
}

impl TxSide {
    pub fn new(ring: FrontRing, page0: u32, grants: PageGrants) -> Self {
        let n = RingLayout::TX.entries as u16;
        Self {
            ring,
            page0,
            grants,
            grefs: vec![None; n.into()],
            free: (0..n).rev().collect(),
            stats: TxStats::default(),
        }
    }

    /// Frame of the page behind id `id`.
    pub fn page(&self, id: u16) -> u32 {
        self.page0 + u32::from(id)
    }

    /// Takes a free id, writes `data` (unless `None`: already there) into its page at
    /// `offset` and grants it.
    pub fn grant_slot(
        &mut self,
        g: &Guest,
        backend: DomId,
        offset: u16,
        data: Option<&[u8]>,
    ) -> Result<(u16, GrantRef), NetfrontError> {
        let id = self.free.pop().ok_or(NetfrontError::Busy)?;
        let frame = self.page(id);
        if let Some(data) = data {
            g.memory()
                .write(frame as usize * XEN_PAGE_SIZE + usize::from(offset), data)?;
        }
        let gref = self
            .grants
            .acquire(g, backend, usize::from(id), frame, true)?;
        self.grefs[usize::from(id)] = Some(gref);
        Ok((id, gref))
    }

    /// Queues one packet; whether the backend wants an event.
    pub fn send(
        &mut self,
        g: &Guest,
        backend: DomId,
        p: &TxPacket<'_>,
    ) -> Result<bool, NetfrontError> {
        self.queue(g, backend, p)?;
        self.push(g)
    }

    /// Publishes the queued requests (`RING_PUSH_REQUESTS_AND_CHECK_NOTIFY`); whether
    /// the backend wants an event.
    pub fn push(&mut self, g: &Guest) -> Result<bool, NetfrontError> {
        Ok(self.ring.push(g.memory())?)
    }

    /// Writes one packet's requests without publishing them (Linux's `xmit_more`).
    pub fn queue(
        &mut self,
        g: &Guest,
        backend: DomId,
        p: &TxPacket<'_>,
    ) -> Result<(), NetfrontError> {
        if p.data.is_empty() || p.data.len() > usize::from(u16::MAX) {
            return Err(NetfrontError::Invalid("frame of 1..=65535 bytes"));
        }
        let data_slots = p.slots().count();
        if p.prewritten && data_slots > 1 {
            return Err(NetfrontError::Invalid("a prewritten frame takes one slot"));
        }
        let need = data_slots + usize::from(p.gso.is_some());
        if self.free.len() < data_slots || (self.ring.free_requests() as usize) < need {
            self.gc(g)?;
            if self.free.len() < data_slots || (self.ring.free_requests() as usize) < need {
                return Err(NetfrontError::Busy);
            }
        }
        let mut at = 0;
        for (i, (offset, len)) in p.slots().enumerate() {
            let data = (!p.prewritten).then(|| &p.data[at..at + len]);
            let (id, gref) = self.grant_slot(g, backend, offset, data)?;
            at += len;
            let mut flags = TxFlags::EMPTY;
            if i + 1 < data_slots {
                flags |= TxFlags::MORE_DATA;
            }
            let size = if i == 0 {
                if p.csum_blank {
                    flags |= TxFlags::CSUM_BLANK | TxFlags::DATA_VALIDATED;
                }
                if p.gso.is_some() {
                    flags |= TxFlags::EXTRA_INFO;
                }
                p.data.len() as u16
            } else {
                len as u16
            };
            let req = TxRequest {
                gref,
                offset,
                flags,
                id,
                size,
            };
            self.put(g, &req.encode())?;
            if i == 0 {
                if let Some(gso) = p.gso {
                    let x: [u8; 12] = ExtraInfo::new(Extra::Gso(gso), false).encode_slot();
                    self.put(g, &x)?;
                }
            }
        }
        self.stats.packets += 1;
        Ok(())
    }

    /// Writes raw slot bytes at `req_prod_pvt` (not yet pushed).
    pub fn put(&mut self, g: &Guest, bytes: &[u8; 12]) -> Result<(), NetfrontError> {
        self.ring.put(g.memory(), self.ring.req_prod_pvt, bytes)?;
        self.ring.req_prod_pvt = self.ring.req_prod_pvt.wrapping_add(1);
        Ok(())
    }

    /// Collects responses: ends each slot's grant and frees its id.
    pub fn gc(&mut self, g: &Guest) -> Result<(), NetfrontError> {
        let mem = g.memory();
        loop {
            let prod = self.ring.rsp_prod(mem)?;
            if prod.wrapping_sub(self.ring.rsp_cons) > RingLayout::TX.entries {
                return Err(NetfrontError::Broken("tx rsp_prod beyond the ring"));
            }
            while self.ring.rsp_cons != prod {
                let rsp = TxResponse::decode(&self.ring.get::<4>(mem, self.ring.rsp_cons)?);
                self.ring.rsp_cons = self.ring.rsp_cons.wrapping_add(1);
                match rsp.status {
                    NetifStatus::NULL => {
                        self.stats.null += 1;
                        continue;
                    }
                    NetifStatus::OKAY => self.stats.okay += 1,
                    NetifStatus::ERROR => self.stats.error += 1,
                    NetifStatus::DROPPED => self.stats.dropped += 1,
                    _ => return Err(NetfrontError::Broken("tx response with unknown status")),
                }
                let gref = self
                    .grefs
                    .get_mut(usize::from(rsp.id))
                    .and_then(Option::take)
                    .ok_or(NetfrontError::Broken("tx response for an id not in flight"))?;
                self.grants
                    .release(g, gref)
                    .map_err(|_| NetfrontError::Broken("backend still holds a tx grant"))?;
                self.free.push(rsp.id);
            }
            if !self.ring.final_check(mem)? {
                return Ok(());
            }
        }
    }

    /// Writes `data` at `offset` of every tx page (for [`TxPacket::prewritten`]).
    pub fn fill_pages(&self, g: &Guest, offset: u16, data: &[u8]) -> Result<(), NetfrontError> {
        for id in 0..self.grefs.len() as u16 {
            let at = self.page(id) as usize * XEN_PAGE_SIZE + usize::from(offset);
            g.memory().write(at, data)?;
        }
        Ok(())
    }

    /// Every grant still out (for release at close).
    pub fn granted(&self) -> impl Iterator<Item = GrantRef> + '_ {
        let per_use = self.grants.persistent_refs().is_empty();
        let in_flight = self.grefs.iter().flatten().copied();
        (self.grants.persistent_refs().iter().copied()).chain(in_flight.filter(move |_| per_use))
    }

    /// The connection-long grants of the tx pages (staging grants), if any.
    pub fn persistent_refs(&self) -> &[GrantRef] {
        self.grants.persistent_refs()
    }

    /// Slots still waiting for their response.
    pub fn in_flight(&self) -> usize {
        self.grefs.len() - self.free.len()
    }
}
