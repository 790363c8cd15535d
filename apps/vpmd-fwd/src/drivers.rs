//! The drivers vpmd-fwd knows: pmd's built-in ones and the guest-facing PMDs.

use vpmd_pmd::Registry;

/// `net_vpmd_null`, `net_vpmd_ring`, `net_vpmd_vhost` and `net_vpmd_xen`.
pub fn registry() -> Registry {
    let mut r = Registry::with_builtin();
    r.register(Box::new(vpmd_vhost::VhostDriver));
    r.register(Box::new(vpmd_xen::XenDriver));
    r
}
