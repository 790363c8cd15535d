//! Which of a process's searching ports takes a waiting vif: the lowest-numbered port
//! whose device-id filter matches, so "the lowest free port gets the next guest" holds
//! and forwarding or OpenFlow rules written for port numbers stay right.
//!
//! Every searching port has a [`Place`] in the order of its Xen host (the `scope`: one
//! per sim directory, one for the real domain). A port looks at the waiting vifs and
//! binds with the order locked ([`lock`]), and leaves the order before unlocking, so
//! the next port's scan sees either the lower port still searching (and defers; the
//! lower port's bind writes under the watched directory and wakes it again) or the vif
//! taken. Ports of other processes are not ordered: there the claim in
//! [`Netback::bind`](super::Netback::bind) only keeps two backends off one vif.
//!
//! Must never: be held on the data path (only control threads bind vifs).

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Searching ports per scope: port number to device-id filter.
type Searching = BTreeMap<String, BTreeMap<u16, Option<u32>>>;

static ORDER: Mutex<Searching> = Mutex::new(BTreeMap::new());

fn order() -> MutexGuard<'static, Searching> {
    ORDER.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A searching port's place in its scope's order; leaves the order when dropped.
#[derive(Debug)]
pub struct Place {
    scope: String,
    port: u16,
}

impl Place {
    /// Puts `port`, searching for vifs with device id `devid` (any if `None`), in the
    /// order of `scope`.
    pub fn join(scope: &str, port: u16, devid: Option<u32>) -> Self {
        order()
            .entry(scope.to_owned())
            .or_default()
            .insert(port, devid);
        Self {
            scope: scope.to_owned(),
            port,
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        Locked(order()).leave(self);
    }
}

/// The order, locked for one scan and bind.
pub struct Locked(MutexGuard<'static, Searching>);

/// Locks the order of every scope.
pub fn lock() -> Locked {
    Locked(order())
}

impl Locked {
    /// Whether `place` is the lowest searching port that may take a vif with device
    /// id `devid`.
    pub fn first(&self, place: &Place, devid: u32) -> bool {
        self.0.get(&place.scope).is_none_or(|ports| {
            ports
                .iter()
                .find(|(_, filter)| filter.is_none_or(|f| f == devid))
                .is_none_or(|(&p, _)| p == place.port)
        })
    }

    /// Takes `place` out of the order (it bound a vif, or stops searching).
    pub fn leave(&mut self, place: &Place) {
        if let Some(ports) = self.0.get_mut(&place.scope) {
            ports.remove(&place.port);
            if ports.is_empty() {
                self.0.remove(&place.scope);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lowest_matching_port_goes_first() {
        let scope = "order-test-a";
        let p2 = Place::join(scope, 2, None);
        let p0 = Place::join(scope, 0, Some(1));
        let p1 = Place::join(scope, 1, None);
        let l = lock();
        assert!(l.first(&p0, 1) && !l.first(&p1, 1) && !l.first(&p2, 1));
        // Port 0 only takes device 1.
        assert!(!l.first(&p0, 0) && l.first(&p1, 0) && !l.first(&p2, 0));
        drop(l);
        drop(p1);
        assert!(lock().first(&p2, 0));
        lock().leave(&p0);
        assert!(lock().first(&p2, 1));
        // Another scope is another host.
        let other = Place::join("order-test-b", 7, None);
        assert!(lock().first(&other, 1));
    }
}
