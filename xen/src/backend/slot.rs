//! A port's vif over the port's life. A named vif (`domid=`) is bound once, at probe.
//! A searching port binds the first waiting vif [`discover`](super::discover) finds,
//! and when the toolstack removes that vif (the guest was destroyed; a new guest is a
//! new domain, so a new vif) it lets it go and searches again. The lowest searching
//! port of the process takes the next vif ([`order`](super::order)). The queues and
//! their counters belong to the port and outlive every vif.
//!
//! Must never: block (the caller waits on the store's watch queue), or give up
//! searching because one vif was malformed.

use std::sync::Arc;

use super::discover::VifSearch;
use super::order;
use super::xenbus::{BackendConfig, Claim, Netback, QueueEnds, Queues, XenbusError};
use crate::platform::{Platform, XsError};

/// The vif a port serves, if any, and how it finds the next.
pub struct VifSlot<P: Platform> {
    platform: Arc<P>,
    /// The port's settings; each bind sets `frontend` and `devid` on a copy.
    cfg: BackendConfig,
    queues: Queues<P>,
    nb: Option<Netback<P>>,
    /// `Some(devid filter)` for a searching port.
    search_for: Option<Option<u32>>,
    /// The Xen host whose searching ports this one is ordered among.
    scope: String,
    /// The running search, while unbound.
    search: Option<VifSearch>,
    /// A waiting vif was left to a lower port: look again even without an event, in
    /// case that port stops searching without taking it.
    deferred: bool,
    binds: u64,
}

impl<P: Platform> VifSlot<P> {
    /// Binds the vif `cfg` names, now; an error is the probe's.
    pub fn named(
        platform: Arc<P>,
        cfg: BackendConfig,
    ) -> Result<(Self, Vec<QueueEnds<P>>), XenbusError> {
        let (queues, ends) = Queues::new(cfg.max_queues);
        let nb = Netback::bind(Arc::clone(&platform), cfg.clone(), &queues, Claim::Named)?;
        let slot = Self {
            platform,
            cfg,
            queues,
            nb: Some(nb),
            search_for: None,
            scope: String::new(),
            search: None,
            deferred: false,
            binds: 1,
        };
        Ok((slot, ends))
    }

    /// Starts searching for a vif with device id `devid` (any if `None`), ordered
    /// among the searching ports of `scope`; it is bound by a later
    /// [`VifSlot::changed`].
    pub fn searching(
        platform: Arc<P>,
        cfg: BackendConfig,
        devid: Option<u32>,
        scope: &str,
    ) -> Result<(Self, Vec<QueueEnds<P>>), XsError> {
        let (queues, ends) = Queues::new(cfg.max_queues);
        let (own, port) = (platform.domid(), cfg.port);
        let search = VifSearch::start(platform.store(), own, devid, scope, port)?;
        let slot = Self {
            platform,
            cfg,
            queues,
            nb: None,
            search_for: Some(devid),
            scope: scope.to_owned(),
            search: Some(search),
            deferred: false,
            binds: 0,
        };
        Ok((slot, ends))
    }

    /// The bound vif's backend.
    pub fn netback(&self) -> Option<&Netback<P>> {
        self.nb.as_ref()
    }

    /// The bound vif's backend, mutable.
    pub fn netback_mut(&mut self) -> Option<&mut Netback<P>> {
        self.nb.as_mut()
    }

    /// Whether a waiting vif was left to a lower port: call [`VifSlot::changed`] again
    /// soon even if no event comes.
    pub fn deferred(&self) -> bool {
        self.deferred
    }

    /// How many vifs this port has bound.
    pub fn binds(&self) -> u64 {
        self.binds
    }

    /// Every queue's netback counters (the port's, across vifs).
    pub fn queue_stats(&self) -> Vec<Arc<super::QueueCounters>> {
        self.queues.stats()
    }

    /// Reacts to a watch event: the bound vif follows its frontend; a searching port
    /// lets a removed vif go and binds the first waiting one.
    pub fn changed(&mut self) -> Result<(), XsError> {
        if let Some(nb) = &mut self.nb {
            nb.frontend_changed()?;
            // A named port keeps its (removed) vif: it serves that one only.
            let (true, Some(devid)) = (nb.removed(), self.search_for) else {
                return Ok(());
            };
            let port = self.cfg.port;
            log::info!(
                "port {port}: {}: vif removed; waiting for the next",
                nb.path()
            );
            nb.close()?;
            self.nb = None;
            let (st, own) = (self.platform.store(), self.platform.domid());
            let search = VifSearch::start(st, own, devid, &self.scope, port)?;
            self.search = Some(search);
        }
        self.bind_waiting()
    }

    /// Binds the first waiting vif that neither a lower port of this process nor
    /// another backend takes first.
    fn bind_waiting(&mut self) -> Result<(), XsError> {
        let Some(search) = &mut self.search else {
            return Ok(());
        };
        let st = self.platform.store();
        let port = self.cfg.port;
        // Locked across the scan and the bind: see `order`.
        let mut order = order::lock();
        self.deferred = false;
        for (frontend, devid) in search.waiting(st)? {
            if !order.first(search.place(), devid) {
                self.deferred = true;
                continue;
            }
            let cfg = BackendConfig {
                frontend,
                devid,
                ..self.cfg.clone()
            };
            match Netback::bind(
                Arc::clone(&self.platform),
                cfg,
                &self.queues,
                Claim::Unclaimed,
            ) {
                Ok(nb) => {
                    log::info!("port {port}: {}: bound", nb.path());
                    order.leave(search.place());
                    drop(order);
                    self.nb = Some(nb);
                    self.binds += 1;
                    self.deferred = false;
                    if let Some(s) = self.search.take() {
                        s.stop(st);
                    }
                    return Ok(());
                }
                Err(XenbusError::Taken { .. }) => {}
                Err(XenbusError::Store(e)) => return Err(e),
                Err(e) => {
                    let dom = frontend.0;
                    log::error!("port {port}: vif {devid} of domain {dom}: {e}; skipped");
                    search.skip(&super::xenbus::backend_path(
                        self.platform.domid(),
                        frontend,
                        devid,
                    ));
                }
            }
        }
        Ok(())
    }

    /// Lets the vif go (Closed, `hotplug-status` removed) or stops searching.
    pub fn close(&mut self) -> Result<(), XsError> {
        if let Some(s) = self.search.take() {
            s.stop(self.platform.store());
        }
        match self.nb.as_mut() {
            Some(nb) => nb.close(),
            None => Ok(()),
        }
    }
}
