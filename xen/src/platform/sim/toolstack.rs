//! What the toolstack (libxl) does for a vif before either driver runs: create the
//! backend and frontend directories, each pointing at the other, with the MAC, the
//! handle, `online` and both states at Initialising.

use crate::backend::xenbus::{backend_path, frontend_path};
use crate::platform::{transact, XenStore, XsError};
use crate::wire::grant::DomId;
use crate::wire::xenbus::XenbusState;

/// One vif to create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VifSpec {
    /// The backend's domain (0).
    pub backend: DomId,
    /// The guest.
    pub frontend: DomId,
    /// The device id.
    pub devid: u32,
    /// The guest's MAC.
    pub mac: [u8; 6],
}

impl VifSpec {
    /// The MAC as the `mac` key spells it.
    pub fn mac_str(&self) -> String {
        let m = self.mac;
        format!(
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

/// Creates both directories in one transaction.
pub fn create_vif<S: XenStore + ?Sized>(store: &S, v: &VifSpec) -> Result<(), XsError> {
    let be = backend_path(v.backend, v.frontend, v.devid);
    let fe = frontend_path(v.frontend, v.devid);
    let init = XenbusState::Initialising.as_str();
    let (mac, devid) = (v.mac_str(), v.devid.to_string());
    let (fe_id, be_id) = (v.frontend.0.to_string(), v.backend.0.to_string());
    transact(store, |tx| {
        for (k, val) in [
            ("frontend", fe.as_str()),
            ("frontend-id", &fe_id),
            ("online", "1"),
            ("state", init),
            ("handle", &devid),
            ("mac", &mac),
        ] {
            store.write(tx, &format!("{be}/{k}"), val.as_bytes())?;
        }
        for (k, val) in [
            ("backend", be.as_str()),
            ("backend-id", &be_id),
            ("state", init),
            ("handle", &devid),
            ("mac", &mac),
        ] {
            store.write(tx, &format!("{fe}/{k}"), val.as_bytes())?;
        }
        Ok(())
    })
}

/// Removes the vif as libxl does when its guest is destroyed, each step its own
/// transaction: the frontend directory goes with the guest's domain; libxl then asks
/// the backend to close (`online` 0, state Closing) and, once it is Closed or the wait
/// timed out, removes the backend directory. The sim does not wait: a backend must cope
/// with all three landing at once.
pub fn remove_vif<S: XenStore + ?Sized>(store: &S, v: &VifSpec) -> Result<(), XsError> {
    let be = backend_path(v.backend, v.frontend, v.devid);
    let fe = frontend_path(v.frontend, v.devid);
    transact(store, |tx| store.rm(tx, &fe))?;
    transact(store, |tx| {
        store.write(tx, &format!("{be}/online"), b"0")?;
        let closing = XenbusState::Closing.as_str();
        store.write(tx, &format!("{be}/state"), closing.as_bytes())
    })?;
    transact(store, |tx| store.rm(tx, &be))
}
