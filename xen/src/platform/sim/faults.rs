//! Fault injection for the sim: what a hostile guest or a failing hypervisor does to a
//! backend mid-flight. One [`Faults`] per process side, shared (`Arc`) by its grant and
//! event-channel objects; tests arm faults on it.
//!
//! Faults are counted from the moment they are armed ("the 3rd copy segment from
//! now"), fire once, and cost one relaxed load per batch or notify while none is armed.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::platform::evtchn::Port;
use crate::wire::grant::{DomId, GrantRef, GrantStatus};
use vpmd_sys as sys;

/// What happens to one copy segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyFault {
    /// The segment fails with this status and copies nothing.
    Fail(GrantStatus),
    /// Just before the segment runs, the guest revokes this grant (clears its entry's
    /// flags behind the backend's back), as a rogue frontend may at any time.
    Revoke {
        /// The granting domain.
        domid: DomId,
        /// The grant.
        gref: GrantRef,
    },
}

/// What happens to one notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyFault {
    /// It is lost.
    Drop,
    /// It is held until [`Faults::release_held`].
    Hold,
    /// It is delivered after this long.
    Delay(Duration),
}

#[derive(Debug, Default)]
struct Plan {
    /// (segment index, fault).
    copy: Vec<(u64, CopyFault)>,
    /// (map call index, status).
    map: Vec<(u64, GrantStatus)>,
    /// (port, notify index on that port, fault).
    notify: Vec<(Port, u64, NotifyFault)>,
    /// Notifies counted per port while something is armed.
    notified: HashMap<Port, u64>,
    /// Held notifications: the eventfds to signal on release.
    held: Vec<Arc<File>>,
}

impl Plan {
    fn idle(&self) -> bool {
        self.copy.is_empty() && self.map.is_empty() && self.notify.is_empty()
    }
}

/// The armed faults of one process side.
#[derive(Debug, Default)]
pub struct Faults {
    armed: AtomicBool,
    segments: AtomicU64,
    maps: AtomicU64,
    plan: Mutex<Plan>,
}

impl Faults {
    /// No fault armed.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    fn plan(&self) -> MutexGuard<'_, Plan> {
        self.plan.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes the `nth` copy segment from now (0: the next one) suffer `fault`.
    pub fn copy_segment(&self, nth: u64, fault: CopyFault) {
        let mut p = self.plan();
        let at = self.segments.load(Ordering::Relaxed) + nth;
        p.copy.push((at, fault));
        self.armed.store(true, Ordering::Release);
    }

    /// Makes the `nth` grant map from now fail with `status`.
    pub fn map(&self, nth: u64, status: GrantStatus) {
        let mut p = self.plan();
        let at = self.maps.load(Ordering::Relaxed) + nth;
        p.map.push((at, status));
        self.armed.store(true, Ordering::Release);
    }

    /// Makes the `nth` notification from now on local `port` suffer `fault`.
    pub fn notify(&self, port: Port, nth: u64, fault: NotifyFault) {
        let mut p = self.plan();
        let at = p.notified.get(&port).copied().unwrap_or(0) + nth;
        p.notify.push((port, at, fault));
        self.armed.store(true, Ordering::Release);
    }

    /// Delivers every held notification; how many there were.
    pub fn release_held(&self) -> io::Result<usize> {
        let held = std::mem::take(&mut self.plan().held);
        for fd in &held {
            sys::eventfd_signal(fd)?;
        }
        Ok(held.len())
    }

    /// Reserves indexes for a batch of `n` segments; the first one's.
    pub(crate) fn start_batch(&self, n: usize) -> u64 {
        self.segments.fetch_add(n as u64, Ordering::Relaxed)
    }

    /// The fault for segment `idx`, if one is armed.
    pub(crate) fn copy_fault(&self, idx: u64) -> Option<CopyFault> {
        if !self.armed.load(Ordering::Acquire) {
            return None;
        }
        let mut p = self.plan();
        let i = p.copy.iter().position(|&(at, _)| at == idx)?;
        let (_, f) = p.copy.swap_remove(i);
        self.disarm_if_idle(&p);
        Some(f)
    }

    /// The status a map call must fail with, if one is armed.
    pub(crate) fn map_fault(&self) -> Option<GrantStatus> {
        let idx = self.maps.fetch_add(1, Ordering::Relaxed);
        if !self.armed.load(Ordering::Acquire) {
            return None;
        }
        let mut p = self.plan();
        let i = p.map.iter().position(|&(at, _)| at == idx)?;
        let (_, s) = p.map.swap_remove(i);
        self.disarm_if_idle(&p);
        Some(s)
    }

    /// What to do with a notification on `port`.
    pub(crate) fn notify_fault(&self, port: Port) -> Option<NotifyFault> {
        if !self.armed.load(Ordering::Acquire) {
            return None;
        }
        let mut p = self.plan();
        let n = p.notified.entry(port).or_insert(0);
        let idx = *n;
        *n += 1;
        let i = p
            .notify
            .iter()
            .position(|&(q, at, _)| q == port && at == idx)?;
        let (_, _, f) = p.notify.swap_remove(i);
        self.disarm_if_idle(&p);
        Some(f)
    }

    /// Keeps a notification for [`Faults::release_held`].
    pub(crate) fn hold(&self, fd: Arc<File>) {
        self.plan().held.push(fd);
    }

    fn disarm_if_idle(&self, p: &Plan) {
        if p.idle() {
            self.armed.store(false, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_fire_once_at_their_index() {
        let f = Faults::new();
        assert_eq!(f.start_batch(2), 0);
        f.copy_segment(1, CopyFault::Fail(GrantStatus::BAD_PAGE));
        let base = f.start_batch(3);
        assert_eq!(base, 2);
        assert_eq!(f.copy_fault(2), None);
        assert_eq!(
            f.copy_fault(3),
            Some(CopyFault::Fail(GrantStatus::BAD_PAGE))
        );
        assert_eq!(f.copy_fault(3), None);

        f.map(1, GrantStatus::NO_SPACE);
        assert_eq!(f.map_fault(), None);
        assert_eq!(f.map_fault(), Some(GrantStatus::NO_SPACE));
        assert_eq!(f.map_fault(), None);

        f.notify(Port(3), 0, NotifyFault::Drop);
        assert_eq!(f.notify_fault(Port(4)), None);
        assert_eq!(f.notify_fault(Port(3)), Some(NotifyFault::Drop));
        assert_eq!(f.notify_fault(Port(3)), None);
    }
}
