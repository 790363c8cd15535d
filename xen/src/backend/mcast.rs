//! A vif's multicast filter (netback's `xenvif_mcast_add`/`_del`/`_match` and
//! `multicast_control`): the addresses the frontend registered with
//! `XEN_NETIF_EXTRA_TYPE_MCAST_ADD`/`_DEL` extras on its tx ring, and whether it asked
//! for filtering (`request-multicast-control`, watched). While filtering is on, a
//! multicast frame into the guest passes only if its destination is listed; broadcast
//! always passes.
//!
//! Lock-free, because any queue of the vif may add or remove (its guest tx ring, on
//! its lcore) while every queue's guest rx path reads: one atomic word per entry, an
//! address claimed or released with one compare-exchange. As in netback, the list
//! holds at most [`XEN_NETBK_MCAST_MAX`] entries, an address may be listed twice, and
//! a delete removes one entry.
//!
//! Must never: grow past [`XEN_NETBK_MCAST_MAX`] entries, allocate, or block.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::wire::defs::XEN_NETBK_MCAST_MAX;

/// Marks a used entry, so the all-zero address can be listed too.
const USED: u64 = 1 << 48;

/// One vif's multicast list and filtering switch.
#[derive(Debug)]
pub struct McastFilter {
    control: AtomicBool,
    entries: [AtomicU64; XEN_NETBK_MCAST_MAX],
}

impl Default for McastFilter {
    fn default() -> Self {
        Self {
            control: AtomicBool::new(false),
            entries: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

fn entry(mac: [u8; 6]) -> u64 {
    let mut b = [0u8; 8];
    b[..6].copy_from_slice(&mac);
    u64::from_le_bytes(b) | USED
}

impl McastFilter {
    /// Turns filtering on or off (the frontend's `request-multicast-control`).
    pub fn set_control(&self, on: bool) {
        self.control.store(on, Ordering::Relaxed);
    }

    /// Whether filtering is on (read once per burst).
    #[inline]
    pub fn control(&self) -> bool {
        self.control.load(Ordering::Relaxed)
    }

    /// Lists `mac`; `false` if the list is full (netback's `-ENOSPC`).
    pub fn add(&self, mac: [u8; 6]) -> bool {
        let e = entry(mac);
        self.entries.iter().any(|s| {
            s.compare_exchange(0, e, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        })
    }

    /// Removes one entry for `mac`, if there is one.
    pub fn del(&self, mac: [u8; 6]) {
        let e = entry(mac);
        let _ = self.entries.iter().any(|s| {
            s.compare_exchange(e, 0, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        });
    }

    /// Whether `mac` is listed.
    pub fn contains(&self, mac: [u8; 6]) -> bool {
        let e = entry(mac);
        self.entries.iter().any(|s| s.load(Ordering::Acquire) == e)
    }

    /// Entries in the list.
    pub fn len(&self) -> usize {
        self.entries
            .iter()
            .filter(|s| s.load(Ordering::Relaxed) != 0)
            .count()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a frame starting with `head` may go to the guest while filtering is
    /// on: unicast, broadcast and listed multicast destinations pass.
    #[inline]
    pub fn passes(&self, head: &[u8]) -> bool {
        let Some(dst) = head.get(..6).and_then(|d| <[u8; 6]>::try_from(d).ok()) else {
            return true;
        };
        dst[0] & 1 == 0 || dst == [0xff; 6] || self.contains(dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUP: [u8; 6] = [0x01, 0x00, 0x5e, 0, 0, 1];

    #[test]
    fn add_del_match_as_netback() {
        let f = McastFilter::default();
        assert!(!f.control() && f.is_empty());
        assert!(!f.passes(&GROUP));
        assert!(f.add(GROUP) && f.add(GROUP));
        assert!(f.passes(&[GROUP.as_slice(), &[0xa5; 8]].concat()));
        f.del(GROUP);
        assert!(f.contains(GROUP), "a delete removes one entry");
        f.del(GROUP);
        assert!(!f.contains(GROUP) && f.is_empty());
        f.del(GROUP);
        assert!(f.add([0; 6]) && f.contains([0; 6]) && !f.contains([1, 0, 0, 0, 0, 0]));
    }

    #[test]
    fn unicast_broadcast_and_runts_pass() {
        let f = McastFilter::default();
        assert!(f.passes(&[0x00, 0x16, 0x3e, 0, 0, 3]));
        assert!(f.passes(&[0xff; 6]));
        assert!(f.passes(&[0x01, 0x00]));
        assert!(!f.passes(&[0x33, 0x33, 0, 0, 0, 1]));
    }

    #[test]
    fn the_list_holds_at_most_the_netback_maximum() {
        let f = McastFilter::default();
        for i in 0..XEN_NETBK_MCAST_MAX {
            assert!(f.add([0x01, 0, 0, 0, 0, i as u8]));
        }
        assert!(!f.add([0x01, 0, 0, 0, 1, 0]));
        assert_eq!(f.len(), XEN_NETBK_MCAST_MAX);
        f.del([0x01, 0, 0, 0, 0, 7]);
        assert!(f.add([0x01, 0, 0, 0, 1, 0]));
    }
}
