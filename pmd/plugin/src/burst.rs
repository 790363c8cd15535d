//! The burst functions DPDK calls through `rte_eth_fp_ops`: one call into the queue's
//! generic datapath per burst, no lock, no allocation.
//!
//! Must never: unwind into C. A panic on the fast path is a bug, so it aborts the
//! process (`extern "C"` functions abort on unwind) rather than corrupt DPDK state.

use dpdk_sys as sys;

use crate::dev::{RxQ, TxQ};

/// `eth_rx_burst_t`.
///
/// # Safety
/// DPDK's contract: `q` is a queue object from `rx_queue_setup`, polled by one lcore,
/// and `pkts` has room for `n` pointers.
pub unsafe extern "C" fn rx(
    q: *mut std::ffi::c_void,
    pkts: *mut *mut sys::rte_mbuf,
    n: u16,
) -> u16 {
    // SAFETY: the caller's contract.
    let (q, out) = unsafe {
        (
            &mut *q.cast::<RxQ>(),
            std::slice::from_raw_parts_mut(pkts, n.into()),
        )
    };
    q.rx(out) as u16
}

/// `eth_tx_burst_t`.
///
/// # Safety
/// As for [`rx`]; `pkts` holds `n` mbufs the caller owns.
pub unsafe extern "C" fn tx(
    q: *mut std::ffi::c_void,
    pkts: *mut *mut sys::rte_mbuf,
    n: u16,
) -> u16 {
    // SAFETY: the caller's contract.
    unsafe {
        let (q, pkts) = (
            &mut *q.cast::<TxQ>(),
            std::slice::from_raw_parts(pkts, n.into()),
        );
        q.tx(pkts) as u16
    }
}
