//! Finding the vif to serve when the devargs name no domain: watch
//! `backend/vif` under the backend's own domain path, where the toolstack creates
//! `<domid>/<devid>` for every vif this domain is to serve (netback's xenbus backend
//! watches the same directory; ANCHORS 3.3).
//!
//! A vif is waiting while its state is the toolstack's Initialising and no backend has
//! advertised features on it; [`Netback::bind`](super::Netback::bind) with
//! [`Claim::Unclaimed`](super::xenbus::Claim) re-checks that in the transaction that
//! writes its own, so two searches (ports of one process, or two processes) never
//! take the same vif.
//!
//! Must never: panic on, or stop at, what the toolstack wrote (a malformed entry is
//! skipped and logged once), or block: the caller owns the watch queue and waits on it.

use std::collections::BTreeSet;

use super::order::Place;
use super::xenbus::{has_backend, read_str, XenbusError};
use crate::platform::{TxId, XenStore, XsError};
use crate::wire::grant::DomId;
use crate::wire::xenbus::XenbusState;

/// A watch on this domain's `backend/vif`, the vifs it must pass over, and the port's
/// place among the searching ports.
#[derive(Debug)]
pub struct VifSearch {
    dir: String,
    token: String,
    devid: Option<u32>,
    /// Vifs that failed to bind, and malformed entries already logged.
    skip: BTreeSet<String>,
    place: Place,
}

impl VifSearch {
    /// Watches `/local/domain/<own>/backend/vif` for vifs with device id `devid`
    /// (any if `None`), for `port`, placed in the [order](super::order) of `scope`. The
    /// watch fires once at once, so the first event scans what exists already.
    pub fn start<S: XenStore + ?Sized>(
        st: &S,
        own: DomId,
        devid: Option<u32>,
        scope: &str,
        port: u16,
    ) -> Result<Self, XsError> {
        let dir = format!("/local/domain/{}/backend/vif", own.0);
        let token = format!("vpmd-discover:{dir}");
        st.watch(&dir, &token)?;
        Ok(Self {
            dir,
            token,
            devid,
            skip: BTreeSet::new(),
            place: Place::join(scope, port, devid),
        })
    }

    /// The port's place among the searching ports.
    pub fn place(&self) -> &Place {
        &self.place
    }

    /// The waiting vifs, lowest (domid, devid) first.
    pub fn waiting<S: XenStore + ?Sized>(&mut self, st: &S) -> Result<Vec<(DomId, u32)>, XsError> {
        let mut found = Vec::new();
        for dom in children(st, &self.dir)? {
            let dom_key = format!("{}/{dom}", self.dir);
            let Some(domid) = self.number::<u16>(&dom, &dom_key, "not a domain id") else {
                continue;
            };
            for dev in children(st, &dom_key)? {
                let dev_key = format!("{dom_key}/{dev}");
                let Some(dev) = self.number::<u32>(&dev, &dev_key, "not a device id") else {
                    continue;
                };
                if self.devid.is_some_and(|d| d != dev) || self.skip.contains(&dev_key) {
                    continue;
                }
                if waiting(st, &dev_key)? {
                    found.push((domid, dev));
                }
            }
        }
        found.sort_unstable();
        Ok(found.into_iter().map(|(d, v)| (DomId(d), v)).collect())
    }

    /// Passes over the vif at backend directory `be` from now on (it failed to bind:
    /// retrying would fail the same way until the toolstack makes a new one).
    pub fn skip(&mut self, be: &str) {
        self.skip.insert(be.to_owned());
    }

    /// Removes the watch.
    pub fn stop<S: XenStore + ?Sized>(self, st: &S) {
        let _ = st.unwatch(&self.dir, &self.token);
    }

    /// `s` as a number, or `None` (logged once) if the toolstack wrote something else.
    fn number<T: std::str::FromStr>(&mut self, s: &str, key: &str, why: &str) -> Option<T> {
        let n = s.parse().ok();
        if n.is_none() && self.skip.insert(key.to_owned()) {
            log::warn!("{key}: {why}, skipped");
        }
        n
    }
}

/// Whether the vif at `be` is the toolstack's and no backend's yet.
fn waiting<S: XenStore + ?Sized>(st: &S, be: &str) -> Result<bool, XsError> {
    let state = match read_str(st, &format!("{be}/state")) {
        Ok(s) => s,
        Err(XenbusError::Store(e)) => return Err(e),
        Err(_) => return Ok(false),
    };
    let initialising = state
        .as_deref()
        .and_then(|s| XenbusState::parse(s.as_bytes()))
        == Some(XenbusState::Initialising);
    Ok(initialising && !has_backend(st, TxId::NONE, be)?)
}

/// The children of `path`; none if it does not exist yet.
fn children<S: XenStore + ?Sized>(st: &S, path: &str) -> Result<Vec<String>, XsError> {
    match st.directory(TxId::NONE, path) {
        Ok(c) => Ok(c),
        Err(e) if e.is_not_found() => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}
