//! A netfront on the sim: the guest side of a vif, behaving as Linux's xen-netfront
//! (xenbus dance, rx buffer refill, tx slot accounting and gc, packets spanning pages,
//! GSO extras), for tests and as the traffic source and sink of benchmarks and demos.
//!
//! Its ring code ([`ring`], [`tx`], [`rx`]) is written from netfront's documented
//! behaviour, not shared with the backend's, so a bug in one cannot hide in the other.
//! It also offers what a hostile frontend does (raw slots, a forged `req_prod`), and,
//! unlike Linux's, a control ring ([`ctrl`]) to set the backend's hashing.
//!
//! Guest memory per queue, from [`NetfrontConfig::first_frame`]: the tx ring page, the
//! rx ring page, one page per tx id, one page per rx slot ([`PAGES_PER_QUEUE`]); then
//! the control ring's pages ([`ctrl::CTRL_PAGES`]) if asked for.
//!
//! Must never: trust a response's id or size unchecked, or end a grant the backend
//! still holds (it reports the backend broken instead).

pub mod ctrl;
mod grants;
pub mod mcast;
pub mod ring;
pub mod rx;
mod staging;
pub mod tx;

use std::sync::Arc;
use std::time::{Duration, Instant};

pub use rx::{RxPacket, RxStats};
pub use tx::{TxPacket, TxStats};

use crate::platform::evtchn::EvtchnError;
use crate::platform::shm::ShmError;
use crate::platform::sim::{Guest, GuestError, SimChannel, SimPaths};
use crate::platform::xenstore::XsClient;
use crate::platform::{transact, EventChannel, TxId, XenStore, XsError};
use crate::wire::grant::{DomId, GrantRef};
use crate::wire::ring::{RingIdx, RingLayout};
use crate::wire::xenbus::XenbusState;
use grants::PageGrants;
use ring::FrontRing;
use rx::RxSide;
use tx::TxSide;

/// Guest pages one queue uses.
pub const PAGES_PER_QUEUE: u32 = 2 + RingLayout::TX.entries + RingLayout::RX.entries;

/// Why a netfront operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NetfrontError {
    /// No free slot or ring space (try after responses come back).
    #[error("tx ring full")]
    Busy,
    /// The caller asked for something impossible.
    #[error("invalid: {0}")]
    Invalid(&'static str),
    /// The backend broke the protocol.
    #[error("backend broke the protocol: {0}")]
    Broken(&'static str),
    /// Not connected.
    #[error("not connected (frontend {0:?}, backend {1:?})")]
    NotConnected(XenbusState, XenbusState),
    /// A timeout passed.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    /// Guest memory.
    #[error(transparent)]
    Shm(#[from] ShmError),
    /// The guest's grant table.
    #[error(transparent)]
    Grant(#[from] GuestError),
    /// Event channels.
    #[error(transparent)]
    Evtchn(#[from] EvtchnError),
    /// Xenstore.
    #[error(transparent)]
    Store(#[from] XsError),
}

/// How to set the netfront up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetfrontConfig {
    /// The vif's device id.
    pub devid: u32,
    /// The backend's domain.
    pub backend: DomId,
    /// Queues to ask for (capped by the backend's `multi-queue-max-queues`).
    pub queues: u16,
    /// Use split event channels if the backend offers them.
    pub split_evtchn: bool,
    /// First guest frame of this netfront's pages.
    pub first_frame: u32,
    /// Rx buffers kept posted per queue (at most 256).
    pub rx_buffers: u32,
    /// Make a control ring if the backend offers `feature-ctrl-ring`.
    pub ctrl_ring: bool,
    /// Grant every buffer page once for the connection instead of per use, so the
    /// backend can keep them mapped (staging grants).
    pub persistent_grants: bool,
    /// The guest busy-polls its rings (a DPDK-style netfront, or vuser on the vhost
    /// side): it never asks the backend for response events. Linux's netfront does.
    pub busy_poll: bool,
}

impl NetfrontConfig {
    /// One queue, no split channels, pages from frame 0, a full rx ring.
    pub fn new(devid: u32) -> Self {
        Self {
            devid,
            backend: DomId::DOM0,
            queues: 1,
            split_evtchn: false,
            first_frame: 0,
            rx_buffers: RingLayout::RX.entries,
            ctrl_ring: false,
            persistent_grants: false,
            busy_poll: false,
        }
    }

    /// Guest pages needed.
    pub fn pages(&self) -> u32 {
        u32::from(self.queues.max(1)) * PAGES_PER_QUEUE
            + if self.ctrl_ring { ctrl::CTRL_PAGES } else { 0 }
    }
}

struct FrontQueue {
    tx: TxSide,
    rx: RxSide,
    ring_refs: [GrantRef; 2],
    ch_tx: SimChannel,
    ch_rx: Option<SimChannel>,
}

impl FrontQueue {
    fn ch_rx(&self) -> &SimChannel {
        self.ch_rx.as_ref().unwrap_or(&self.ch_tx)
    }
}

/// The frontend of one vif.
pub struct Netfront {
    guest: Arc<Guest>,
    store: XsClient,
    cfg: NetfrontConfig,
    fe: String,
    be: String,
    state: XenbusState,
    backend_state: XenbusState,
    queues: Vec<FrontQueue>,
    ctrl: Option<ctrl::FrontCtrl>,
    /// Grants the backend still held when the device closed; ended later.
    deferred: Vec<GrantRef>,
}

impl std::fmt::Debug for Netfront {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Netfront")
            .field("fe", &self.fe)
            .field("state", &self.state)
            .field("backend_state", &self.backend_state)
            .finish_non_exhaustive()
    }
}

fn read_opt(st: &XsClient, key: &str) -> Result<Option<String>, XsError> {
    match st.read(TxId::NONE, key) {
        Ok(v) => Ok(Some(
            String::from_utf8_lossy(&v)
                .trim_end_matches('\0')
                .to_owned(),
        )),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

impl Netfront {
    /// Probes the vif the toolstack created for `guest`: enters Initialising and
    /// watches the backend's state (reacting to it once).
    pub fn probe(
        guest: Arc<Guest>,
        paths: &SimPaths,
        cfg: NetfrontConfig,
    ) -> Result<Self, NetfrontError> {
        if cfg.first_frame + cfg.pages() > guest.layout().mem_pages {
            return Err(NetfrontError::Invalid(
                "guest memory too small for the netfront",
            ));
        }
        let store = XsClient::connect(&paths.xenstore).map_err(XsError::Io)?;
        let fe = crate::backend::xenbus::frontend_path(guest.domid(), cfg.devid);
        let be = read_opt(&store, &format!("{fe}/backend"))?.ok_or(NetfrontError::Invalid(
            "no backend key: the toolstack made no vif",
        ))?;
        let mut nf = Self {
            guest,
            store,
            cfg,
            fe,
            be,
            state: XenbusState::Unknown,
            backend_state: XenbusState::Unknown,
            queues: Vec::new(),
            ctrl: None,
            deferred: Vec::new(),
        };
        nf.switch(XenbusState::Initialising)?;
        nf.store
            .watch(&format!("{}/state", nf.be), "vpmd-netfront")?;
        nf.backend_changed()?;
        Ok(nf)
    }

    /// The frontend's state.
    pub fn state(&self) -> XenbusState {
        self.state
    }

    /// The backend's state as last seen.
    pub fn backend_state(&self) -> XenbusState {
        self.backend_state
    }

    /// The guest.
    pub fn guest(&self) -> &Arc<Guest> {
        &self.guest
    }

    /// The frontend's xenstore directory.
    pub fn path(&self) -> &str {
        &self.fe
    }

    /// Connected queues.
    pub fn queues(&self) -> u16 {
        self.queues.len() as u16
    }

    fn switch(&mut self, s: XenbusState) -> Result<(), XsError> {
        self.store.write(
            TxId::NONE,
            &format!("{}/state", self.fe),
            s.as_str().as_bytes(),
        )?;
        self.state = s;
        Ok(())
    }

    /// Handles the watch events that arrive within `timeout`; whether one did.
    pub fn step(&mut self, timeout: Duration) -> Result<bool, NetfrontError> {
        let got = self.store.read_watch(Some(timeout))?.is_some();
        if got {
            while self.store.read_watch(Some(Duration::ZERO))?.is_some() {}
            self.backend_changed()?;
        }
        Ok(got)
    }

    /// Steps until `done` or `timeout`.
    pub fn step_until(
        &mut self,
        timeout: Duration,
        what: &'static str,
        mut done: impl FnMut(&Self) -> bool,
    ) -> Result<(), NetfrontError> {
        let end = Instant::now() + timeout;
        while !done(self) {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(NetfrontError::Timeout(what));
            }
            self.step(left.min(Duration::from_millis(20)))?;
        }
        Ok(())
    }

    /// Steps until both ends are Connected.
    pub fn wait_connected(&mut self, timeout: Duration) -> Result<(), NetfrontError> {
        self.step_until(timeout, "Connected", |n| {
            n.state == XenbusState::Connected && n.backend_state == XenbusState::Connected
        })
    }

    /// netfront's `netback_changed`.
    pub fn backend_changed(&mut self) -> Result<(), NetfrontError> {
        let s = read_opt(&self.store, &format!("{}/state", self.be))?;
        self.backend_state = s
            .and_then(|s| XenbusState::parse(s.as_bytes()))
            .unwrap_or(XenbusState::Unknown);
        match self.backend_state {
            XenbusState::InitWait if self.state == XenbusState::Initialising => {
                self.connect()?;
                self.switch(XenbusState::Connected)?;
            }
            // Already closed, or starting again and waiting for the backend's
            // InitWait (a restart sees the old connection's Closed first).
            XenbusState::Closing | XenbusState::Closed
                if matches!(self.state, XenbusState::Closed | XenbusState::Initialising) => {}
            XenbusState::Closing | XenbusState::Closed => {
                // `xenbus_frontend_closed`.
                self.release();
                self.switch(XenbusState::Closed)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// `talk_to_netback`: rings, grants, ports, and every key in one transaction.
    fn connect(&mut self) -> Result<(), NetfrontError> {
        self.release();
        let be_max_key = read_opt(&self.store, &format!("{}/multi-queue-max-queues", self.be))?;
        // Linux writes `multi-queue-num-queues` whenever the backend offers queues,
        // 1 included (its keys stay flat then).
        let mq = be_max_key.is_some();
        let be_max: u16 = be_max_key.and_then(|v| v.trim().parse().ok()).unwrap_or(1);
        let queues = self.cfg.queues.clamp(1, be_max.max(1));
        let split = self.cfg.split_evtchn
            && read_opt(
                &self.store,
                &format!("{}/feature-split-event-channels", self.be),
            )?
            .as_deref()
                == Some("1");
        let g = Arc::clone(&self.guest);
        let backend = self.cfg.backend;
        for q in 0..u32::from(queues) {
            let base = self.cfg.first_frame + q * PAGES_PER_QUEUE;
            let mut tx_ring = FrontRing::init(g.memory(), base, RingLayout::TX)?;
            let mut rx_ring = FrontRing::init(g.memory(), base + 1, RingLayout::RX)?;
            tx_ring.events = !self.cfg.busy_poll;
            rx_ring.events = !self.cfg.busy_poll;
            let ring_refs = [
                g.grant_access(backend, base, false)?,
                g.grant_access(backend, base + 1, false)?,
            ];
            let ch_tx = g.alloc_unbound(backend)?;
            let ch_rx = if split {
                Some(g.alloc_unbound(backend)?)
            } else {
                None
            };
            let (tx_page0, rx_page0) = (base + 2, base + 2 + RingLayout::TX.entries);
            let grants = |page0, n, readonly| {
                if self.cfg.persistent_grants {
                    PageGrants::persistent(&g, backend, page0, n, readonly)
                } else {
                    Ok(PageGrants::PerUse)
                }
            };
            let tx_grants = grants(tx_page0, RingLayout::TX.entries, true)?;
            let rx_grants = grants(rx_page0, RingLayout::RX.entries, false)?;
            let mut rx = RxSide::new(rx_ring, rx_page0, self.cfg.rx_buffers, rx_grants);
            rx.refill(&g, backend)?;
            self.queues.push(FrontQueue {
                tx: TxSide::new(tx_ring, tx_page0, tx_grants),
                rx,
                ring_refs,
                ch_tx,
                ch_rx,
            });
        }
        self.ctrl_setup()?;
        let fe = self.fe.clone();
        let st = &self.store;
        let qs = &self.queues;
        transact(st, |tx| {
            self.ctrl_keys(tx)?;
            for (q, fq) in qs.iter().enumerate() {
                let dir = if qs.len() == 1 {
                    fe.clone()
                } else {
                    format!("{fe}/queue-{q}")
                };
                let w = |k: &str, v: String| st.write(tx, &format!("{dir}/{k}"), v.as_bytes());
                w("tx-ring-ref", fq.ring_refs[0].0.to_string())?;
                w("rx-ring-ref", fq.ring_refs[1].0.to_string())?;
                match &fq.ch_rx {
                    Some(rx) => {
                        w("event-channel-tx", fq.ch_tx.port().to_string())?;
                        w("event-channel-rx", rx.port().to_string())?;
                    }
                    None => w("event-channel", fq.ch_tx.port().to_string())?,
                }
            }
            if mq {
                st.write(
                    tx,
                    &format!("{fe}/multi-queue-num-queues"),
                    qs.len().to_string().as_bytes(),
                )?;
            }
            for k in [
                "request-rx-copy",
                "feature-rx-notify",
                "feature-sg",
                "feature-gso-tcpv4",
                "feature-gso-tcpv6",
                "feature-ipv6-csum-offload",
            ] {
                st.write(tx, &format!("{fe}/{k}"), b"1")?;
            }
            Ok(())
        })?;
        // `xennet_connect` kicks every queue before it reports Connected, so before
        // the backend has bound the ports: Xen drops these events.
        for fq in &self.queues {
            fq.ch_tx.notify()?;
            if let Some(rx) = &fq.ch_rx {
                rx.notify()?;
            }
        }
        Ok(())
    }

    /// Drops the queues, ending every grant the backend let go of.
    fn release(&mut self) {
        let g = Arc::clone(&self.guest);
        for q in self.queues.drain(..) {
            let mut refs: Vec<GrantRef> = q.ring_refs.to_vec();
            refs.extend(q.tx.granted());
            refs.extend(q.rx.granted());
            self.deferred.extend(refs);
        }
        if let Some(c) = self.ctrl.take() {
            self.deferred.extend([c.ring_ref, c.data_ref]);
        }
        self.deferred
            .retain(|&r| matches!(g.end_access(r), Err(GuestError::InUse(_))));
    }

    /// Starts closing (Closing); [`Netfront::step`] finishes once the backend closed.
    pub fn start_close(&mut self) -> Result<(), NetfrontError> {
        Ok(self.switch(XenbusState::Closing)?)
    }

    /// Closes: Closing, wait for the backend (served elsewhere) to close, Closed.
    pub fn close(&mut self, timeout: Duration) -> Result<(), NetfrontError> {
        self.start_close()?;
        self.step_until(timeout, "backend Closed", |n| {
            matches!(n.backend_state, XenbusState::Closing | XenbusState::Closed)
                && n.state == XenbusState::Closed
        })
    }

    /// Starts again after Closed (what a guest does when the device is re-plugged).
    pub fn restart(&mut self) -> Result<(), NetfrontError> {
        self.release();
        self.switch(XenbusState::Initialising)?;
        self.backend_changed()
    }

    fn queue(&mut self, q: u16) -> Result<&mut FrontQueue, NetfrontError> {
        let (s, b) = (self.state, self.backend_state);
        self.queues
            .get_mut(usize::from(q))
            .ok_or(NetfrontError::NotConnected(s, b))
    }

    /// Queues one packet on queue `q` and notifies the backend if it asked.
    pub fn send(&mut self, q: u16, p: &TxPacket<'_>) -> Result<(), NetfrontError> {
        let g = Arc::clone(&self.guest);
        let backend = self.cfg.backend;
        let fq = self.queue(q)?;
        if fq.tx.send(&g, backend, p)? {
            fq.tx.stats.notify += 1;
            fq.ch_tx.notify()?;
        }
        Ok(())
    }

    /// Writes `data` at `offset` of every tx page of queue `q`, for packets sent
    /// [`prewritten`](TxPacket::prewritten).
    pub fn fill_tx_pages(&mut self, q: u16, offset: u16, data: &[u8]) -> Result<(), NetfrontError> {
        let g = Arc::clone(&self.guest);
        self.queue(q)?.tx.fill_pages(&g, offset, data)
    }

    /// Queues `pkts` on queue `q` until the ring is full, publishing them together and
    /// notifying the backend once if it asked (`xmit_more`); how many were queued.
    pub fn send_burst<'a>(
        &mut self,
        q: u16,
        pkts: impl IntoIterator<Item = TxPacket<'a>>,
    ) -> Result<usize, NetfrontError> {
        let g = Arc::clone(&self.guest);
        let backend = self.cfg.backend;
        let fq = self.queue(q)?;
        let mut n = 0;
        for p in pkts {
            match fq.tx.queue(&g, backend, &p) {
                Ok(()) => n += 1,
                Err(NetfrontError::Busy) => break,
                Err(e) => return Err(e),
            }
        }
        if n > 0 && fq.tx.push(&g)? {
            fq.tx.stats.notify += 1;
            fq.ch_tx.notify()?;
        }
        Ok(n)
    }

    /// Collects tx responses and received packets of queue `q`, and refills.
    pub fn poll(&mut self, q: u16, out: &mut Vec<RxPacket>) -> Result<(), NetfrontError> {
        let g = Arc::clone(&self.guest);
        let backend = self.cfg.backend;
        let fq = self.queue(q)?;
        fq.tx.gc(&g)?;
        fq.rx.poll(&g, out)?;
        if fq.rx.refill(&g, backend)? {
            fq.ch_rx().notify()?;
        }
        Ok(())
    }

    /// Polls queue `q` until `out` holds `n` packets, waiting on its event channel.
    pub fn recv(
        &mut self,
        q: u16,
        out: &mut Vec<RxPacket>,
        n: usize,
        timeout: Duration,
    ) -> Result<(), NetfrontError> {
        let end = Instant::now() + timeout;
        loop {
            self.poll(q, out)?;
            if out.len() >= n {
                return Ok(());
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(NetfrontError::Timeout("received packets"));
            }
            self.queue(q)?
                .ch_rx()
                .wait(Some(left.min(Duration::from_millis(10))))?;
        }
    }

    /// Makes queue `q` a traffic sink: received frames are counted and checked, their
    /// data not copied out ([`RxPacket::data`] stays empty).
    pub fn set_rx_sink(&mut self, q: u16, sink: bool) -> Result<(), NetfrontError> {
        self.queue(q)?.rx.sink = sink;
        Ok(())
    }

    /// Changes how many rx buffers queue `q` keeps posted (from the next poll).
    pub fn set_rx_buffers(&mut self, q: u16, n: u32) -> Result<(), NetfrontError> {
        self.queue(q)?.rx.target = n.min(RingLayout::RX.entries);
        Ok(())
    }

    /// Tx counters of queue `q`.
    pub fn tx_stats(&self, q: u16) -> TxStats {
        self.queues
            .get(usize::from(q))
            .map(|f| f.tx.stats)
            .unwrap_or_default()
    }

    /// Rx counters of queue `q`.
    pub fn rx_stats(&self, q: u16) -> RxStats {
        self.queues
            .get(usize::from(q))
            .map(|f| f.rx.stats)
            .unwrap_or_default()
    }

    /// Tx slots still waiting for a response on queue `q`.
    pub fn tx_in_flight(&self, q: u16) -> usize {
        self.queues
            .get(usize::from(q))
            .map_or(0, |f| f.tx.in_flight())
    }

    // ---- what a hostile frontend does ----

    /// Writes `data` into a free tx page at `offset` and grants it: its id and gref.
    pub fn raw_grant(
        &mut self,
        q: u16,
        offset: u16,
        data: &[u8],
    ) -> Result<(u16, GrantRef), NetfrontError> {
        let g = Arc::clone(&self.guest);
        let backend = self.cfg.backend;
        self.queue(q)?
            .tx
            .grant_slot(&g, backend, offset, Some(data))
    }

    /// Writes raw slot bytes at the next tx request slot (not yet pushed).
    pub fn raw_put(&mut self, q: u16, slot: [u8; 12]) -> Result<(), NetfrontError> {
        let g = Arc::clone(&self.guest);
        self.queue(q)?.tx.put(&g, &slot)
    }

    /// Publishes the tx requests written so far and notifies the backend.
    pub fn raw_push(&mut self, q: u16) -> Result<(), NetfrontError> {
        let g = Arc::clone(&self.guest);
        let fq = self.queue(q)?;
        fq.tx.ring.push(g.memory())?;
        fq.ch_tx.notify()?;
        Ok(())
    }

    /// Notifies every port of queue `q`, with nothing new in its rings (one step of
    /// an event-channel storm, XSA-332).
    pub fn raw_notify(&mut self, q: u16) -> Result<(), NetfrontError> {
        let fq = self.queue(q)?;
        fq.ch_tx.notify()?;
        if let Some(rx) = &fq.ch_rx {
            rx.notify()?;
        }
        Ok(())
    }

    /// Sets the tx ring's `req_prod` to anything.
    pub fn raw_set_req_prod(&mut self, q: u16, v: RingIdx) -> Result<(), NetfrontError> {
        let g = Arc::clone(&self.guest);
        self.queue(q)?.tx.ring.set_req_prod(g.memory(), v)?;
        Ok(())
    }

    /// Sets the rx ring's `req_prod` to anything.
    pub fn raw_set_rx_req_prod(&mut self, q: u16, v: RingIdx) -> Result<(), NetfrontError> {
        let g = Arc::clone(&self.guest);
        self.queue(q)?.rx.ring.set_req_prod(g.memory(), v)?;
        Ok(())
    }

    /// The grants of the rx buffers posted on queue `q` (to revoke them, as a rogue
    /// guest may).
    pub fn raw_rx_grants(&mut self, q: u16) -> Result<Vec<GrantRef>, NetfrontError> {
        Ok(self.queue(q)?.rx.granted().collect())
    }

    /// The tx ring's private producer index.
    pub fn raw_req_prod_pvt(&mut self, q: u16) -> Result<RingIdx, NetfrontError> {
        Ok(self.queue(q)?.tx.ring.req_prod_pvt)
    }
}
