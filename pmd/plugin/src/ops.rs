//! `eth_dev_ops`: DPDK's control calls, each translated onto [`PluginDev`]. Errors come
//! back as negative errnos, and are logged with the reason vpmd gives.
//!
//! Must never: unwind into C (every op returns an errno), or hold a reference to
//! `dev_private` past the call (DPDK may close the port on another thread after).

use std::os::raw::{c_int, c_uint};

use dpdk_sys as sys;
use vpmd_pmd::PmdError;

use crate::dev::{PluginDev, RxQ, TxQ};
use crate::ffi::{self, Eth};
use crate::mbuf::RtePool;

/// The errno DPDK expects for a refused call.
fn errno(e: &PmdError) -> c_int {
    match e {
        PmdError::State { .. } => -libc::EBUSY,
        PmdError::Driver { .. } => -libc::EIO,
        PmdError::Range { .. } | PmdError::Offload { .. } | PmdError::Devargs(_) => -libc::EINVAL,
    }
}

/// Runs `f` on the port behind `dev`; logs and maps a failure.
fn with_dev(
    dev: *mut sys::rte_eth_dev,
    f: impl FnOnce(&mut Eth, &mut PluginDev) -> Result<(), PmdError>,
) -> c_int {
    // SAFETY: DPDK passes the ethdev it allocated for this plugin's port.
    let Some((mut eth, pd)) = (unsafe { ffi::eth(dev) }) else {
        return -libc::ENODEV;
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut eth, pd))) {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            log::error!("{e}");
            errno(&e)
        }
        Err(_) => {
            log::error!(
                "port {}: internal error (panic) in a control call",
                eth.port_id()
            );
            -libc::EIO
        }
    }
}

unsafe extern "C" fn dev_configure(dev: *mut sys::rte_eth_dev) -> c_int {
    with_dev(dev, |eth, pd| {
        let (nb_rx, nb_tx, conf) = eth.conf();
        pd.configure(nb_rx, nb_tx, conf)
    })
}

unsafe extern "C" fn dev_start(dev: *mut sys::rte_eth_dev) -> c_int {
    with_dev(dev, |eth, pd| {
        pd.start()?;
        eth.set_queues_started(true);
        eth.set_link(pd.link());
        Ok(())
    })
}

unsafe extern "C" fn dev_stop(dev: *mut sys::rte_eth_dev) -> c_int {
    with_dev(dev, |eth, pd| {
        pd.stop()?;
        eth.set_queues_started(false);
        eth.set_link(vpmd_pmd::Link {
            up: false,
            ..pd.link()
        });
        Ok(())
    })
}

unsafe extern "C" fn dev_close(dev: *mut sys::rte_eth_dev) -> c_int {
    // SAFETY: DPDK closes a port it allocated; after this `dev_private` is gone and
    // so are the queue objects.
    match unsafe { ffi::take_dev(dev) } {
        Some(mut pd) => match pd.close() {
            Ok(()) => 0,
            Err(e) => {
                log::error!("{e}");
                errno(&e)
            }
        },
        None => 0,
    }
}

unsafe extern "C" fn dev_infos_get(
    dev: *mut sys::rte_eth_dev,
    info: *mut sys::rte_eth_dev_info,
) -> c_int {
    with_dev(dev, |_, pd| {
        // SAFETY: DPDK passes a zeroed rte_eth_dev_info to fill.
        unsafe { ffi::fill_info(&mut *info, &pd.info()) };
        Ok(())
    })
}

unsafe extern "C" fn rx_queue_setup(
    dev: *mut sys::rte_eth_dev,
    q: u16,
    nb_desc: u16,
    _socket: c_uint,
    _conf: *const sys::rte_eth_rxconf,
    mp: *mut sys::rte_mempool,
) -> c_int {
    with_dev(dev, |eth, pd| {
        // SAFETY: DPDK's contract: the pool outlives the queue.
        let Some(pool) = (unsafe { RtePool::new(mp) }) else {
            return Err(PmdError::Range {
                port: eth.port_id(),
                what: "rx queue mempool (null)",
                value: q.into(),
                max: 0,
            });
        };
        let rxq = pd.rx_queue_setup(q, nb_desc, &pool)?;
        eth.set_rx_queue(q, Some(Box::new(rxq)));
        Ok(())
    })
}

unsafe extern "C" fn tx_queue_setup(
    dev: *mut sys::rte_eth_dev,
    q: u16,
    nb_desc: u16,
    _socket: c_uint,
    _conf: *const sys::rte_eth_txconf,
) -> c_int {
    with_dev(dev, |eth, pd| {
        let txq = pd.tx_queue_setup(q, nb_desc)?;
        eth.set_tx_queue(q, Some(Box::new(txq)));
        Ok(())
    })
}

unsafe extern "C" fn rx_queue_release(dev: *mut sys::rte_eth_dev, q: u16) {
    with_dev(dev, |eth, _| {
        eth.set_rx_queue(q, None::<Box<RxQ>>);
        Ok(())
    });
}

unsafe extern "C" fn tx_queue_release(dev: *mut sys::rte_eth_dev, q: u16) {
    with_dev(dev, |eth, _| {
        eth.set_tx_queue(q, None::<Box<TxQ>>);
        Ok(())
    });
}

unsafe extern "C" fn link_update(dev: *mut sys::rte_eth_dev, _wait: c_int) -> c_int {
    let mut changed = false;
    let rc = with_dev(dev, |eth, pd| {
        changed = eth.set_link(pd.link());
        Ok(())
    });
    // 0: the link changed; -1: it did not (rte_eth_linkstatus_set's convention).
    if rc != 0 {
        rc
    } else if changed {
        0
    } else {
        -1
    }
}

unsafe extern "C" fn stats_get(dev: *mut sys::rte_eth_dev, out: *mut sys::rte_eth_stats) -> c_int {
    with_dev(dev, |_, pd| {
        // SAFETY: DPDK passes a zeroed rte_eth_stats to fill.
        unsafe { ffi::fill_stats(&mut *out, &pd.stats()) };
        Ok(())
    })
}

unsafe extern "C" fn stats_reset(dev: *mut sys::rte_eth_dev) -> c_int {
    with_dev(dev, |_, pd| {
        pd.stats_reset();
        Ok(())
    })
}

/// The xstats calls' shared shape: the count when `out` is null or too small (DPDK
/// then asks again with room), else `fill` writes every entry and the count.
///
/// # Safety
/// `out` is null or has room for `n` entries.
unsafe fn xstats_into<T>(
    dev: *mut sys::rte_eth_dev,
    out: *mut T,
    n: c_uint,
    fill: impl Fn(&mut T, usize, (String, u64)),
) -> c_int {
    let mut count = 0;
    let rc = with_dev(dev, |_, pd| {
        let x = pd.xstats();
        count = x.len();
        if out.is_null() || (n as usize) < x.len() {
            return Ok(());
        }
        // SAFETY: the caller's contract, and `n` covers every entry.
        let out = unsafe { std::slice::from_raw_parts_mut(out, x.len()) };
        for (i, (o, e)) in out.iter_mut().zip(x).enumerate() {
            fill(o, i, e);
        }
        Ok(())
    });
    if rc != 0 {
        rc
    } else {
        count as c_int
    }
}

unsafe extern "C" fn xstats_get(
    dev: *mut sys::rte_eth_dev,
    out: *mut sys::rte_eth_xstat,
    n: c_uint,
) -> c_int {
    // SAFETY: DPDK passes null or room for `n` entries.
    unsafe {
        xstats_into(dev, out, n, |o, i, (_, v)| {
            o.id = i as u64;
            o.value = v;
        })
    }
}

unsafe extern "C" fn xstats_get_names(
    dev: *mut sys::rte_eth_dev,
    out: *mut sys::rte_eth_xstat_name,
    n: c_uint,
) -> c_int {
    // SAFETY: as for `xstats_get`.
    unsafe {
        xstats_into(dev, out, n, |o, _, (name, _)| {
            ffi::copy_name(&mut o.name, &name)
        })
    }
}

/// Promiscuous and all-multicast: a virtual port delivers every frame already.
unsafe extern "C" fn accept_all(_dev: *mut sys::rte_eth_dev) -> c_int {
    0
}

unsafe extern "C" fn mtu_set(dev: *mut sys::rte_eth_dev, mtu: u16) -> c_int {
    with_dev(dev, |_, pd| pd.check_mtu(mtu))
}

unsafe extern "C" fn mac_addr_set(
    dev: *mut sys::rte_eth_dev,
    mac: *mut sys::rte_ether_addr,
) -> c_int {
    with_dev(dev, |eth, pd| {
        // SAFETY: DPDK passes a valid address.
        let mac = unsafe { (*mac).addr_bytes };
        pd.set_mac(mac)?;
        eth.set_mac(mac);
        Ok(())
    })
}

/// The table every plugin port points at.
pub static OPS: sys::eth_dev_ops = sys::eth_dev_ops {
    dev_configure: Some(dev_configure),
    dev_start: Some(dev_start),
    dev_stop: Some(dev_stop),
    dev_close: Some(dev_close),
    dev_infos_get: Some(dev_infos_get),
    rx_queue_setup: Some(rx_queue_setup),
    tx_queue_setup: Some(tx_queue_setup),
    rx_queue_release: Some(rx_queue_release),
    tx_queue_release: Some(tx_queue_release),
    link_update: Some(link_update),
    stats_get: Some(stats_get),
    stats_reset: Some(stats_reset),
    xstats_get: Some(xstats_get),
    xstats_get_names: Some(xstats_get_names),
    xstats_reset: Some(stats_reset),
    promiscuous_enable: Some(accept_all),
    promiscuous_disable: Some(accept_all),
    allmulticast_enable: Some(accept_all),
    allmulticast_disable: Some(accept_all),
    mtu_set: Some(mtu_set),
    mac_addr_set: Some(mac_addr_set),
    // SAFETY: every other slot is an `Option` of a function pointer; all-zero is None.
    ..unsafe { std::mem::zeroed() }
};
