//! The frontend's end of the control ring (`ctrl-ring-ref`, `event-channel-ctrl`),
//! made when [`NetfrontConfig::ctrl_ring`](super::NetfrontConfig::ctrl_ring) asks and
//! the backend offers `feature-ctrl-ring`. Linux's xen-netfront never makes one (the
//! Windows PV drivers do, for RSS); here it lets tests drive the backend's hashing:
//! send a request, wait for its response.
//!
//! Two guest pages after the queues' ([`CTRL_PAGES`]): the ring, and one data page
//! granted writable (a staging-grant delete writes statuses back), whose start holds
//! a key, mapping entries or a grant list for the request that names it
//! ([`Netfront::ctrl_data`]).
//!
//! Must never: read a response before `rsp_prod` covers it, or trust its id.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::ring::FrontRing;
use super::{read_opt, Netfront, NetfrontError, PAGES_PER_QUEUE};
use crate::platform::sim::SimChannel;
use crate::platform::{EventChannel, TxId, XenStore, XsError};
use crate::wire::ctrl::{CtrlRequest, CtrlResponse};
use crate::wire::defs::XEN_PAGE_SIZE;
use crate::wire::grant::GrantRef;
use crate::wire::ring::{RingIdx, RingLayout};
use crate::wire::Entry;

/// Guest pages of the control ring: the ring and the data page.
pub const CTRL_PAGES: u32 = 2;

/// The control ring and its data page.
#[derive(Debug)]
pub(crate) struct FrontCtrl {
    ring: FrontRing,
    ch: SimChannel,
    pub ring_ref: GrantRef,
    pub data_ref: GrantRef,
    data_frame: u32,
    next_id: u16,
}

impl Netfront {
    /// First guest frame of the control pages: after every queue's.
    fn ctrl_frame(&self) -> u32 {
        self.cfg.first_frame + u32::from(self.cfg.queues.max(1)) * PAGES_PER_QUEUE
    }

    /// Makes the control ring if asked and offered (part of `talk_to_netback`).
    pub(super) fn ctrl_setup(&mut self) -> Result<(), NetfrontError> {
        let offered = read_opt(&self.store, &format!("{}/feature-ctrl-ring", self.be))?;
        if !self.cfg.ctrl_ring || offered.as_deref() != Some("1") {
            return Ok(());
        }
        let g = Arc::clone(&self.guest);
        let backend = self.cfg.backend;
        let frame = self.ctrl_frame();
        let ring = FrontRing::init(g.memory(), frame, RingLayout::CTRL)?;
        self.ctrl = Some(FrontCtrl {
            ring,
            ch: g.alloc_unbound(backend)?,
            ring_ref: g.grant_access(backend, frame, false)?,
            data_ref: g.grant_access(backend, frame + 1, false)?,
            data_frame: frame + 1,
            next_id: 0,
        });
        Ok(())
    }

    /// Writes the control ring's keys, if there is one, in transaction `tx`.
    pub(super) fn ctrl_keys(&self, tx: TxId) -> Result<(), XsError> {
        let Some(c) = &self.ctrl else { return Ok(()) };
        let w = |k: &str, v: String| {
            self.store
                .write(tx, &format!("{}/{k}", self.fe), v.as_bytes())
        };
        w("ctrl-ring-ref", c.ring_ref.0.to_string())?;
        w("event-channel-ctrl", c.ch.port().to_string())
    }

    fn ctrl(&mut self) -> Result<&mut FrontCtrl, NetfrontError> {
        self.ctrl
            .as_mut()
            .ok_or(NetfrontError::Invalid("no control ring"))
    }

    /// Whether the connection has a control ring.
    pub fn has_ctrl_ring(&self) -> bool {
        self.ctrl.is_some()
    }

    /// Puts `bytes` at the start of the control data page; the page's grant, for a
    /// `SET_HASH_KEY` or `SET_HASH_MAPPING` request.
    pub fn ctrl_data(&mut self, bytes: &[u8]) -> Result<GrantRef, NetfrontError> {
        if bytes.len() > XEN_PAGE_SIZE {
            return Err(NetfrontError::Invalid("more than a page of control data"));
        }
        let g = Arc::clone(&self.guest);
        let c = self.ctrl()?;
        g.memory()
            .write(c.data_frame as usize * XEN_PAGE_SIZE, bytes)?;
        Ok(c.data_ref)
    }

    /// Posts a request of type `kind` and notifies the backend if it asked; its id.
    pub fn ctrl_send(&mut self, kind: u16, data: [u32; 3]) -> Result<u16, NetfrontError> {
        let g = Arc::clone(&self.guest);
        let c = self.ctrl()?;
        if c.ring.free_requests() == 0 {
            return Err(NetfrontError::Busy);
        }
        let id = c.next_id;
        c.next_id = id.wrapping_add(1);
        let req = CtrlRequest { id, kind, data };
        c.ring.put(g.memory(), c.ring.req_prod_pvt, &req.encode())?;
        c.ring.req_prod_pvt = c.ring.req_prod_pvt.wrapping_add(1);
        if c.ring.push(g.memory())? {
            c.ch.notify()?;
        }
        Ok(id)
    }

    /// The next response, waiting on the control event channel up to `timeout` (the
    /// backend serves the ring elsewhere).
    pub fn ctrl_wait(&mut self, timeout: Duration) -> Result<CtrlResponse, NetfrontError> {
        let g = Arc::clone(&self.guest);
        let end = Instant::now() + timeout;
        let c = self.ctrl()?;
        loop {
            let prod = c.ring.rsp_prod(g.memory())?;
            if prod.wrapping_sub(c.ring.rsp_cons) > RingLayout::CTRL.entries {
                return Err(NetfrontError::Broken("ctrl rsp_prod beyond the ring"));
            }
            if prod != c.ring.rsp_cons || c.ring.final_check(g.memory())? {
                let rsp = CtrlResponse::decode(&c.ring.get::<12>(g.memory(), c.ring.rsp_cons)?);
                c.ring.rsp_cons = c.ring.rsp_cons.wrapping_add(1);
                return Ok(rsp);
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(NetfrontError::Timeout("a control response"));
            }
            c.ch.wait(Some(left.min(Duration::from_millis(10))))?;
        }
    }

    /// Sets the control ring's `req_prod` to anything (a hostile frontend).
    pub fn raw_set_ctrl_req_prod(&mut self, v: RingIdx) -> Result<(), NetfrontError> {
        let g = Arc::clone(&self.guest);
        self.ctrl()?.ring.set_req_prod(g.memory(), v)?;
        Ok(())
    }
}
