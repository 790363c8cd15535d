//! dpdk-sys: Rust bindings to the **system** DPDK (22.11 LTS, ABI 23, as Debian 12 ships
//! it), for vpmd's DPDK plugin (`librte_net_vpmd.so`, issue 7): a vdev ethdev PMD that
//! stock `dpdk-testpmd -d` and OVS-DPDK load.
//!
//! What is here:
//! - [`bindings`](self) generated at build time by bindgen from the headers that
//!   `pkg-config libdpdk` points at, plus DPDK's driver-SDK headers (`ethdev_driver.h`,
//!   `ethdev_vdev.h`, `bus_vdev_driver.h`, ...), which Debian does not ship:
//!   `./setup.sh` (`scripts/dpdk-sdk-headers.sh`) takes them from Debian's source package
//!   of exactly the installed version; `VPMD_DPDK_SDK` overrides where build.rs looks.
//!   Only what a vdev ethdev PMD needs is allowlisted: `rte_eth_*`, `eth_dev_ops`,
//!   `rte_vdev_*`, `rte_mbuf`/`rte_pktmbuf_*`, `rte_mempool`, `rte_ring`, `rte_kvargs_*`,
//!   `rte_zmalloc*`/`rte_free`, `rte_log*`, EAL init/cleanup, and the `RTE_MBUF_F_*`,
//!   `RTE_ETH_*`, `RTE_PTYPE_*` constants (offload and mbuf flags are `u64`). bindgen's
//!   layout assertions are compiled in, so a DPDK whose struct layout differs from the
//!   headers fails the build rather than the packet path.
//! - `vpmd_rte_*`: a small C shim (`shim/shim.c`) with out-of-line copies of the DPDK
//!   functions that are `static inline` and so have no symbol: mbuf alloc/free/reset,
//!   refcounts, head/tail room, external buffers, mempool get/put bulk, rte_ring SP/SC
//!   bursts, `rte_lcore_id` and `rte_errno` (TLS reads stable Rust cannot do on an
//!   extern `#[thread_local]`) and `rte_eth_linkstatus_set/get`. `vpmd_rte_X` is exactly `rte_X`.
//!   Exported functions (`rte_pktmbuf_free_bulk`, `rte_socket_id`, ...) are called
//!   directly.
//! - Linking: `-lrte_ethdev -lrte_bus_vdev -lrte_mbuf -lrte_mempool -lrte_ring
//!   -lrte_kvargs -lrte_eal -lrte_net` (dynamic; the host application must link DPDK
//!   shared too, PLUGIN-FEASIBILITY.md P3). rustc links with `--as-needed`, so a final
//!   binary gets DT_NEEDED only on the libraries it calls into; a PMD always calls
//!   librte_ethdev and librte_bus_vdev, the two P3 is about. A cdylib that wants all
//!   eight (like the C route's `--no-as-needed`) emits, in its build.rs,
//!   `cargo:rustc-cdylib-link-arg=-Wl,--push-state,--no-as-needed,-lrte_ethdev,...,--pop-state`
//!   from `DEP_DPDK_LIBS` (this crate sets `links = "dpdk"`; also `DEP_DPDK_SDK`,
//!   `DEP_DPDK_VERSION`). `__rte_internal` functions (`rte_eth_dev_allocate`,
//!   `rte_vdev_register`, ...) resolve to version node `INTERNAL` like any other
//!   symbol; the headers are read with `-DALLOW_INTERNAL_API`.
//!
//! Why not the crates.io crate named `dpdk-sys` (0.1.x): it targets DPDK 17-era APIs and
//! builds its own bundled DPDK, while a `-d` plugin must bind to the very DPDK instance
//! (ethdev and vdev globals, struct layouts) of the process that loads it. This crate
//! keeps the name but is local to the workspace and never published.
//!
//! Everything here is raw FFI: all functions are `unsafe` and follow DPDK's own
//! contracts. The safe wrappers belong in the plugin's `ffi` module.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

use std::os::raw::c_char;

/// The generated bindings (bindgen output, `$OUT_DIR/bindings.rs`). Lints are relaxed
/// for this module only: the names follow C, and the code is not ours to tidy.
#[allow(
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    clippy::all,
    clippy::undocumented_unsafe_blocks
)]
mod bindings {
    include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
}

pub use bindings::*;

/// The DPDK version these bindings were generated for (`pkg-config --modversion libdpdk`).
pub const DPDK_VERSION: &str = env!("VPMD_DPDK_VERSION");

/// `rte_vdev_device_name()` (static inline in `bus_vdev_driver.h`): the device's name,
/// e.g. `net_vpmd_vhost0`, or NULL if `dev` is NULL.
///
/// # Safety
/// `dev` is NULL or points to a live `rte_vdev_device` (as passed to a vdev driver's
/// `probe`/`remove`).
pub unsafe fn rte_vdev_device_name(dev: *const rte_vdev_device) -> *const c_char {
    if dev.is_null() {
        return std::ptr::null();
    }
    // SAFETY: `dev` is non-NULL and live (caller's contract); reading a field of it.
    unsafe { (*dev).device.name }
}

/// `rte_vdev_device_args()` (static inline in `bus_vdev_driver.h`): the devargs string
/// after the name (`key=value,...`), `""` if the device has no devargs, or NULL if `dev`
/// is NULL.
///
/// # Safety
/// `dev` is NULL or points to a live `rte_vdev_device` whose `device.devargs` is NULL
/// or points to a live `rte_devargs`.
pub unsafe fn rte_vdev_device_args(dev: *const rte_vdev_device) -> *const c_char {
    if dev.is_null() {
        return std::ptr::null();
    }
    // SAFETY: `dev` is non-NULL and live (caller's contract).
    let devargs = unsafe { (*dev).device.devargs };
    if devargs.is_null() {
        return c"".as_ptr();
    }
    // SAFETY: `devargs` is non-NULL and live (caller's contract); `args` is the
    // `char *` member of its anonymous union, the one `rte_vdev_device_args` reads.
    unsafe { (*devargs).__bindgen_anon_1.args }
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    use super::*;

    #[test]
    fn vdev_name_and_args() {
        let name = c"net_vpmd_vhost0";
        let mut dev = rte_vdev_device::default();
        dev.device.name = name.as_ptr();
        // SAFETY: `dev` is a live, zeroed rte_vdev_device with no devargs.
        unsafe {
            assert_eq!(CStr::from_ptr(rte_vdev_device_name(&dev)), name);
            assert_eq!(CStr::from_ptr(rte_vdev_device_args(&dev)), c"");
            assert!(rte_vdev_device_name(std::ptr::null()).is_null());
        }
        let args = c"iface=/run/vu0.sock,queues=2";
        let mut devargs = rte_devargs::default();
        devargs.__bindgen_anon_1.args = args.as_ptr().cast_mut();
        dev.device.devargs = &mut devargs;
        // SAFETY: `dev` and `devargs` are live locals.
        unsafe { assert_eq!(CStr::from_ptr(rte_vdev_device_args(&dev)), args) };
    }
}
