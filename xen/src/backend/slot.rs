//! A port's vif over the port's life. A named vif (`domid=`) is bound once, at probe.
//! A searching port binds the first waiting vif [`discover`](super::discover) finds,
//! and when the toolstack removes that vif (the guest was destroyed; a new guest is a
//! new domain, so a new vif) it lets it go and searches again. The queues and their
//! counters belong to the port and outlive every vif.
//!
//! Must never: block (the caller waits on the store's watch queue), or give up
//! searching because one vif was malformed.

use std::sync::Arc;

use super::discover::VifSearch;
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
    /// The running search, while unbound.
    search: Option<VifSearch>,
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
            search: None,
            binds: 1,
        };
        Ok((slot, ends))
    }

    /// Starts searching for a vif with device id `devid` (any if `None`); it is bound
    /// by a later [`VifSlot::changed`].
    pub fn searching(
        platform: Arc<P>,
        cfg: BackendConfig,
        devid: Option<u32>,
    ) -> Result<(Self, Vec<QueueEnds<P>>), XsError> {
        let (queues, ends) = Queues::new(cfg.max_queues);
        let search = VifSearch::start(platform.store(), platform.domid(), devid)?;
        let slot = Self {
            platform,
            cfg,
            queues,
            nb: None,
            search_for: Some(devid),
            search: Some(search),
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
            log::info!("{}: vif removed; waiting for the next one", nb.path());
            nb.close()?;
            self.nb = None;
            let st = self.platform.store();
            self.search = Some(VifSearch::start(st, self.platform.domid(), devid)?);
        }
        self.bind_waiting()
    }

    /// Binds the first waiting vif another backend does not take first.
    fn bind_waiting(&mut self) -> Result<(), XsError> {
        let Some(search) = &mut self.search else {
            return Ok(());
        };
        let st = self.platform.store();
        for (frontend, devid) in search.waiting(st)? {
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
                    log::info!("{}: bound", nb.path());
                    self.nb = Some(nb);
                    self.binds += 1;
                    if let Some(s) = self.search.take() {
                        s.stop(st);
                    }
                    return Ok(());
                }
                Err(XenbusError::Taken { .. }) => {}
                Err(XenbusError::Store(e)) => return Err(e),
                Err(e) => {
                    log::error!("vif {devid} of domain {}: {e}; skipped", frontend.0);
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
