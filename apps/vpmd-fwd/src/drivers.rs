//! The drivers vpmd-fwd knows: pmd's built-in ones and the guest-facing PMDs.

use vpmd_pmd::Registry;

/// `net_vpmd_null`, `net_vpmd_ring` and `net_vpmd_vhost`.
pub fn registry() -> Registry {
    let mut r = Registry::with_builtin();
    r.register(Box::new(vpmd_vhost::VhostDriver));
    r
}
