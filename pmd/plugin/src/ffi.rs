//! Where the plugin meets DPDK's structures: registering the vdev drivers from an ELF
//! constructor, probe and remove, and reading and writing `rte_eth_dev` and its data.
//! All of the plugin's unsafe code that touches DPDK's ethdev lives here.
//!
//! Memory rules (DPDK 22.11, `rte_eth_dev_release_port`): `dev_private` holds a
//! `Box<PluginDev>` and is taken back (and set to null) in `dev_close`, before DPDK
//! `rte_free`s it; `mac_addrs` is `rte_zmalloc`ed, for DPDK to free; queue objects are
//! boxes in `rx_queues[]`/`tx_queues[]`, freed by queue release or close.
//!
//! Must never: write `rte_eth_fp_ops` (DPDK fills it at start), or register a driver
//! whose `rte_vdev_driver` can move (EAL links it into a list).

use std::cell::UnsafeCell;
use std::ffi::{c_void, CStr};
use std::os::raw::{c_char, c_int};

use dpdk_sys as sys;
use vpmd_pmd::{DevInfo, DriverFor, Link, PortConf, PortStats};

use crate::burst;
use crate::dev::{fmt_mac, PluginDev, RxQ, TxQ};
use crate::mbuf::RtePool;
use crate::ops::OPS;

/// A `rte_vdev_driver` at a fixed address, filled in by the constructor.
struct Registered(UnsafeCell<sys::rte_vdev_driver>);

// SAFETY: written once by the constructor, before any other thread can see it; EAL
// owns it after `rte_vdev_register`.
unsafe impl Sync for Registered {}

impl Registered {
    const fn new() -> Self {
        // SAFETY: all-zero is a valid rte_vdev_driver (null pointers, no callbacks).
        Self(UnsafeCell::new(unsafe { std::mem::zeroed() }))
    }

    /// # Safety
    /// Called once, from the constructor.
    unsafe fn register(
        &self,
        name: &'static CStr,
        probe: unsafe extern "C" fn(*mut sys::rte_vdev_device) -> c_int,
    ) {
        let d = self.0.get();
        // SAFETY: the caller's contract: nobody else touches the driver yet.
        unsafe {
            (*d).driver.name = name.as_ptr();
            (*d).probe = Some(probe);
            (*d).remove = Some(remove);
            sys::rte_vdev_register(d);
        }
    }
}

static VHOST: Registered = Registered::new();
static XEN: Registered = Registered::new();

/// Registers `net_vpmd_vhost` and `net_vpmd_xen` when the `.so` is loaded (`-d`), as
/// DPDK's `RTE_PMD_REGISTER_VDEV` does. The vdev bus registered itself in its own
/// library's constructor, which ran first (it is this library's dependency).
extern "C" fn register() {
    crate::log::init();
    // SAFETY: the constructor runs once, before anything can probe.
    unsafe {
        VHOST.register(c"net_vpmd_vhost", probe_vhost);
        XEN.register(c"net_vpmd_xen", probe_xen);
    }
}

#[used]
#[link_section = ".init_array"]
static CONSTRUCTOR: extern "C" fn() = register;

unsafe extern "C" fn probe_vhost(vdev: *mut sys::rte_vdev_device) -> c_int {
    // SAFETY: EAL passes the device it probes.
    unsafe { probe(vdev, &vpmd_vhost::VhostDriver) }
}

unsafe extern "C" fn probe_xen(vdev: *mut sys::rte_vdev_device) -> c_int {
    // SAFETY: as for vhost.
    unsafe { probe(vdev, &vpmd_xen::XenDriver) }
}

/// `name` and `args` of a vdev, as vpmd's devargs string (`name,args`).
///
/// # Safety
/// `vdev` is a device EAL is probing or removing.
unsafe fn devargs(vdev: *mut sys::rte_vdev_device) -> (String, String) {
    // SAFETY: EAL sets the name; devargs (when present) holds the argument string.
    unsafe {
        let d = &(*vdev).device;
        let name = cstr(d.name);
        let args = if d.devargs.is_null() {
            String::new()
        } else {
            cstr((*d.devargs).__bindgen_anon_1.args)
        };
        (name, args)
    }
}

/// # Safety
/// `p` is null or a NUL-terminated string.
unsafe fn cstr(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: the caller's contract.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// Creates the ethdev for `vdev` on `driver`.
///
/// # Safety
/// `vdev` is the device EAL is probing.
unsafe fn probe(vdev: *mut sys::rte_vdev_device, driver: &dyn DriverFor<RtePool>) -> c_int {
    // SAFETY: the caller's contract.
    let (name, args) = unsafe { devargs(vdev) };
    // SAFETY: a plain EAL query.
    if unsafe { sys::rte_eal_process_type() } != sys::RTE_PROC_PRIMARY {
        log::error!("{name}: secondary processes are not supported");
        return -libc::ENOTSUP;
    }
    log::info!("probing {name} ({args})");
    let Ok(cname) = std::ffi::CString::new(name.clone()) else {
        return -libc::EINVAL;
    };
    // SAFETY: DPDK allocates (or refuses) a port under this unique name.
    let eth = unsafe { sys::rte_eth_dev_allocate(cname.as_ptr()) };
    if eth.is_null() {
        log::error!("{name}: cannot allocate an ethdev");
        return -libc::ENOMEM;
    }
    // SAFETY: a freshly allocated ethdev and its data.
    let port_id = unsafe { (*(*eth).data).port_id };
    let spec = if args.is_empty() {
        name.clone()
    } else {
        format!("{name},{args}")
    };
    let made = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        PluginDev::probe(driver, &spec, port_id)
    }));
    let pd = match made {
        Ok(Ok(pd)) => pd,
        Ok(Err(e)) => {
            log::error!("{e}");
            // SAFETY: our port, not yet visible to the application.
            unsafe { sys::rte_eth_dev_release_port(eth) };
            return -libc::EINVAL;
        }
        Err(_) => {
            log::error!("{name}: internal error (panic) while probing");
            // SAFETY: as above.
            unsafe { sys::rte_eth_dev_release_port(eth) };
            return -libc::EIO;
        }
    };
    let mac = pd.mac();
    // SAFETY: the ethdev is ours until probing finishes; the MAC array is DPDK memory
    // (freed by DPDK at release), the private data our box (taken back at close).
    unsafe {
        let data = &mut *(*eth).data;
        let macs = sys::rte_zmalloc(
            c"vpmd_mac".as_ptr(),
            std::mem::size_of::<sys::rte_ether_addr>(),
            0,
        )
        .cast::<sys::rte_ether_addr>();
        if macs.is_null() {
            sys::rte_eth_dev_release_port(eth);
            return -libc::ENOMEM;
        }
        (*macs).addr_bytes = mac;
        data.mac_addrs = macs;
        data.dev_private = Box::into_raw(Box::new(pd)).cast::<c_void>();
        data.dev_flags |= sys::RTE_ETH_DEV_AUTOFILL_QUEUE_XSTATS;
        data.numa_node = (*vdev).device.numa_node;
        (*eth).device = &mut (*vdev).device;
        (*eth).dev_ops = &OPS;
        (*eth).rx_pkt_burst = Some(burst::rx);
        (*eth).tx_pkt_burst = Some(burst::tx);
        sys::rte_eth_dev_probing_finish(eth);
    }
    log::info!("{name}: port {port_id}, mac {}", fmt_mac(&mac));
    0
}

/// `rte_vdev_uninit` / hot-unplug: closes the port if the application did not.
unsafe extern "C" fn remove(vdev: *mut sys::rte_vdev_device) -> c_int {
    // SAFETY: EAL passes the device it removes.
    let (name, _) = unsafe { devargs(vdev) };
    let Ok(cname) = std::ffi::CString::new(name) else {
        return -libc::EINVAL;
    };
    // SAFETY: a lookup by name; a port found is ours and is closed (which releases it).
    unsafe {
        let eth = sys::rte_eth_dev_allocated(cname.as_ptr());
        if eth.is_null() {
            return 0;
        }
        sys::rte_eth_dev_close((*(*eth).data).port_id)
    }
}

/// An ethdev of this plugin, as its ops see it.
pub struct Eth(*mut sys::rte_eth_dev);

/// The ethdev and its port state.
///
/// # Safety
/// `dev` is an ethdev DPDK passes to one of this plugin's ops.
pub unsafe fn eth<'a>(dev: *mut sys::rte_eth_dev) -> Option<(Eth, &'a mut PluginDev)> {
    // SAFETY: the caller's contract; dev_private is our box or null after close.
    unsafe {
        let pd = (*(*dev).data).dev_private.cast::<PluginDev>();
        pd.as_mut().map(|pd| (Eth(dev), pd))
    }
}

/// Takes the port state back and releases every queue object (`dev_close`).
///
/// # Safety
/// As for [`eth`]; nothing uses the port's queues any more.
pub unsafe fn take_dev(dev: *mut sys::rte_eth_dev) -> Option<Box<PluginDev>> {
    let e = Eth(dev);
    let data = e.data();
    let (nb_rx, nb_tx) = (data.nb_rx_queues, data.nb_tx_queues);
    let mut e = e;
    for q in 0..nb_rx {
        e.set_rx_queue(q, None);
    }
    for q in 0..nb_tx {
        e.set_tx_queue(q, None);
    }
    let data = e.data_mut();
    let pd = std::mem::replace(&mut data.dev_private, std::ptr::null_mut());
    // SAFETY: dev_private was our box (or null once closed).
    (!pd.is_null()).then(|| unsafe { Box::from_raw(pd.cast::<PluginDev>()) })
}

impl Eth {
    fn data(&self) -> &sys::rte_eth_dev_data {
        // SAFETY: an ethdev always has its data.
        unsafe { &*(*self.0).data }
    }

    fn data_mut(&mut self) -> &mut sys::rte_eth_dev_data {
        // SAFETY: as for `data`; DPDK serialises control calls on one port.
        unsafe { &mut *(*self.0).data }
    }

    /// The DPDK port id.
    pub fn port_id(&self) -> u16 {
        self.data().port_id
    }

    /// Queue counts and the port configuration `rte_eth_dev_configure` stored.
    pub fn conf(&self) -> (u16, u16, PortConf) {
        let d = self.data();
        let mtu = d.dev_conf.rxmode.mtu;
        let conf = PortConf {
            mtu: (mtu != 0).then_some(mtu as u16),
            rx_offloads: d.dev_conf.rxmode.offloads,
            tx_offloads: d.dev_conf.txmode.offloads,
        };
        (d.nb_rx_queues, d.nb_tx_queues, conf)
    }

    /// Marks every queue started or stopped (`rte_eth_rx_queue_info`, testpmd's view).
    pub fn set_queues_started(&mut self, started: bool) {
        let st = if started {
            sys::RTE_ETH_QUEUE_STATE_STARTED
        } else {
            sys::RTE_ETH_QUEUE_STATE_STOPPED
        } as u8;
        let d = self.data_mut();
        let (nr, nt) = (d.nb_rx_queues as usize, d.nb_tx_queues as usize);
        d.rx_queue_state[..nr].fill(st);
        d.tx_queue_state[..nt].fill(st);
    }

    /// Publishes `link` in `dev_link`; returns whether it changed.
    pub fn set_link(&mut self, link: Link) -> bool {
        // SAFETY: all-zero is a valid rte_eth_link (down, no speed).
        let mut l: sys::rte_eth_link = unsafe { std::mem::zeroed() };
        l.link_speed = if link.up { link.speed_mbps } else { 0 };
        l.set_link_duplex(u16::from(link.full_duplex));
        l.set_link_autoneg(0);
        l.set_link_status(u16::from(link.up));
        // SAFETY: our ethdev; the swap is atomic, as DPDK's readers expect.
        unsafe { sys::vpmd_rte_eth_linkstatus_set(self.0, &l) == 0 }
    }

    /// Puts `q` in `rx_queues[id]`, dropping the one there.
    pub fn set_rx_queue(&mut self, id: u16, q: Option<Box<RxQ>>) {
        let d = self.data_mut();
        // SAFETY: DPDK sized rx_queues for nb_rx_queues; its entries are our boxes.
        unsafe { swap_box(d.rx_queues, d.nb_rx_queues, id, q) }
    }

    /// Puts `q` in `tx_queues[id]`, dropping the one there.
    pub fn set_tx_queue(&mut self, id: u16, q: Option<Box<TxQ>>) {
        let d = self.data_mut();
        // SAFETY: as for rx.
        unsafe { swap_box(d.tx_queues, d.nb_tx_queues, id, q) }
    }

    /// The address DPDK reports for the port.
    pub fn set_mac(&mut self, mac: [u8; 6]) {
        let d = self.data_mut();
        if !d.mac_addrs.is_null() {
            // SAFETY: our one-entry array from probe.
            unsafe { (*d.mac_addrs).addr_bytes = mac };
        }
    }
}

/// Replaces the box of type `T` at `queues[id]` with `new`, dropping the old one; an
/// `id` outside the `nb` entries changes nothing.
///
/// # Safety
/// `queues` is null or has `nb` entries, each null or a `Box<T>` made by this plugin.
unsafe fn swap_box<T>(queues: *mut *mut c_void, nb: u16, id: u16, new: Option<Box<T>>) {
    if id >= nb || queues.is_null() {
        return;
    }
    let new = new.map_or(std::ptr::null_mut(), |b| Box::into_raw(b).cast::<c_void>());
    // SAFETY: the caller's contract; `id` is within the entries.
    let old = unsafe { std::ptr::replace(queues.add(id as usize), new) };
    if !old.is_null() {
        // SAFETY: the caller's contract.
        drop(unsafe { Box::from_raw(old.cast::<T>()) });
    }
}

/// `dev_infos_get`.
pub fn fill_info(out: &mut sys::rte_eth_dev_info, i: &DevInfo) {
    out.max_rx_queues = i.max_rx_queues;
    out.max_tx_queues = i.max_tx_queues;
    out.max_rx_pktlen = i.max_rx_pktlen;
    out.min_mtu = i.min_mtu;
    out.max_mtu = i.max_mtu;
    out.min_rx_bufsize = 0;
    out.max_mac_addrs = 1;
    out.rx_offload_capa = i.rx_offload_capa;
    out.tx_offload_capa = i.tx_offload_capa;
    for lim in [&mut out.rx_desc_lim, &mut out.tx_desc_lim] {
        lim.nb_min = i.min_desc;
        lim.nb_max = i.max_desc;
        lim.nb_align = 1;
    }
    out.speed_capa = sys::RTE_ETH_LINK_SPEED_10G;
}

/// `stats_get`: port totals and the first `RTE_ETHDEV_QUEUE_STAT_CNTRS` queues.
pub fn fill_stats(out: &mut sys::rte_eth_stats, s: &PortStats) {
    out.ipackets = s.ipackets;
    out.opackets = s.opackets;
    out.ibytes = s.ibytes;
    out.obytes = s.obytes;
    out.imissed = s.imissed;
    out.ierrors = s.ierrors;
    out.oerrors = s.oerrors;
    out.rx_nombuf = s.rx_nombuf;
    for (i, q) in s.rxq.iter().take(out.q_ipackets.len()).enumerate() {
        out.q_ipackets[i] = q.packets;
        out.q_ibytes[i] = q.bytes;
        out.q_errors[i] = q.errors;
    }
    for (i, q) in s.txq.iter().take(out.q_opackets.len()).enumerate() {
        out.q_opackets[i] = q.packets;
        out.q_obytes[i] = q.bytes;
    }
}

/// Copies `name` into a fixed C string field, cut to fit with its NUL.
pub fn copy_name(out: &mut [c_char], name: &str) {
    let n = name.len().min(out.len() - 1);
    for (o, b) in out.iter_mut().zip(&name.as_bytes()[..n]) {
        *o = *b as c_char;
    }
    out[n] = 0;
}
