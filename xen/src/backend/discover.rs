//! Finding the vif to serve when the devargs name no domain: watch
//! `backend/vif` under the backend's own domain path, where the toolstack creates
//! `<domid>/<devid>` for every vif this domain is to serve (netback's xenbus backend
//! watches the same directory; ANCHORS 3.3).
//!
//! Must never: panic on what the toolstack wrote (a malformed entry is an error
//! naming its key), or take a vif another backend already serves.

use super::xenbus::{read_str, XenbusError};
use crate::platform::{TxId, XenStore};
use crate::wire::grant::DomId;
use crate::wire::xenbus::XenbusState;

/// Waits for a vif under `/local/domain/<own>/backend/vif` still in the toolstack's
/// Initialising state (any other state means a backend took it), with device id
/// `devid` if given; returns its frontend domain and device id. The lowest one wins
/// when several are waiting.
pub fn first_vif<S: XenStore + ?Sized>(
    st: &S,
    own: DomId,
    devid: Option<u32>,
) -> Result<(DomId, u32), XenbusError> {
    let dir = format!("/local/domain/{}/backend/vif", own.0);
    let token = format!("vpmd-discover:{dir}");
    st.watch(&dir, &token)?;
    let found = loop {
        // The watch fires once at once, so the first scan sees what exists already.
        match st.read_watch(None) {
            Ok(Some(_)) => {}
            Ok(None) => continue,
            Err(e) => break Err(e.into()),
        }
        match scan(st, &dir, devid) {
            Ok(Some(v)) => break Ok(v),
            Ok(None) => {}
            Err(e) => break Err(e),
        }
    };
    // On error too: a retry watches again with the same token.
    let _ = st.unwatch(&dir, &token);
    found
}

/// The lowest waiting vif in `dir`, if any.
fn scan<S: XenStore + ?Sized>(
    st: &S,
    dir: &str,
    devid: Option<u32>,
) -> Result<Option<(DomId, u32)>, XenbusError> {
    let mut found = None;
    for dom in children(st, dir)? {
        let dom_key = format!("{dir}/{dom}");
        let domid = number(&dom, &dom_key, "not a domain id")?;
        for dev in children(st, &dom_key)? {
            let dev_key = format!("{dom_key}/{dev}");
            let dev = number(&dev, &dev_key, "not a device id")?;
            let state = read_str(st, &format!("{dev_key}/state"))?;
            let waiting = state
                .as_deref()
                .and_then(|s| XenbusState::parse(s.as_bytes()))
                == Some(XenbusState::Initialising);
            if waiting && devid.is_none_or(|d| d == dev) {
                found = Some(found.map_or((domid, dev), |f: (u16, u32)| f.min((domid, dev))));
            }
        }
    }
    Ok(found.map(|(d, v)| (DomId(d), v)))
}

/// The children of `path`; none if it does not exist yet.
fn children<S: XenStore + ?Sized>(st: &S, path: &str) -> Result<Vec<String>, XenbusError> {
    match st.directory(TxId::NONE, path) {
        Ok(c) => Ok(c),
        Err(e) if e.is_not_found() => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

fn number<T: std::str::FromStr>(s: &str, key: &str, why: &'static str) -> Result<T, XenbusError> {
    s.parse().map_err(|_| XenbusError::Key {
        key: key.to_owned(),
        why,
    })
}
