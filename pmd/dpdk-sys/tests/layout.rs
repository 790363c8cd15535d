//! The struct sizes and field offsets the plugin relies on, against the numbers measured
//! on the C side (shared/dpdk/ABI-22.11.md: offsetof/sizeof with the same headers,
//! cross-checked with pahole). bindgen's own layout assertions check the generated code
//! against clang's view of the headers; these check that view against the DPDK build we
//! target (Debian 22.11, RTE_MAX_ETHPORTS=32, RTE_MAX_QUEUES_PER_PORT=1024).

use std::mem::{align_of, offset_of, size_of};

use dpdk_sys::*;

#[test]
fn sizes_match_abi_22_11() {
    assert_eq!(size_of::<rte_eth_dev>(), 16512);
    assert_eq!(align_of::<rte_eth_dev>(), 64);
    assert_eq!(size_of::<rte_eth_dev_data>(), 6144);
    assert_eq!(size_of::<eth_dev_ops>(), 904);
    assert_eq!(size_of::<rte_eth_fp_ops>(), 128);
    assert_eq!(size_of::<rte_vdev_driver>(), 88);
    assert_eq!(size_of::<rte_vdev_device>(), 80);
    assert_eq!(size_of::<rte_devargs>(), 136);
    assert_eq!(size_of::<rte_mbuf>(), 128);
    assert_eq!(align_of::<rte_mbuf>(), 64);
    assert_eq!(size_of::<rte_mempool>(), 192);
    assert_eq!(size_of::<rte_eth_dev_info>(), 376);
    assert_eq!(size_of::<rte_eth_stats>(), 704);
    assert_eq!(size_of::<rte_eth_link>(), 8);
    assert_eq!(align_of::<rte_eth_link>(), 8);
    assert_eq!(size_of::<rte_ether_addr>(), 6);
}

#[test]
fn build_config_constants() {
    assert_eq!(RTE_MAX_ETHPORTS, 32);
    assert_eq!(RTE_MAX_QUEUES_PER_PORT, 1024);
    assert_eq!(RTE_PKTMBUF_HEADROOM, 128);
    assert_eq!(LCORE_ID_ANY, u32::MAX);
    assert!(DPDK_VERSION.starts_with("22.11"), "{DPDK_VERSION}");
    // Function-like macros (RTE_BIT64) come through clang; flags are u64.
    let vlan_strip: u64 = RTE_ETH_RX_OFFLOAD_VLAN_STRIP;
    assert_eq!(vlan_strip, 1);
    assert_eq!(RTE_ETH_DEV_AUTOFILL_QUEUE_XSTATS, 0x40);
    assert_eq!(RTE_MBUF_F_TX_IPV4, 1u64 << 55);
    assert_eq!(RTE_ETH_LINK_UP, 1);
    assert_eq!(RTE_ETH_SPEED_NUM_10G, 10000);
}

#[test]
fn mbuf_offsets() {
    assert_eq!(offset_of!(rte_mbuf, buf_addr), 0);
    assert_eq!(offset_of!(rte_mbuf, buf_iova), 8);
    assert_eq!(offset_of!(rte_mbuf, data_off), 16);
    assert_eq!(offset_of!(rte_mbuf, refcnt), 18);
    assert_eq!(offset_of!(rte_mbuf, nb_segs), 20);
    assert_eq!(offset_of!(rte_mbuf, port), 22);
    assert_eq!(offset_of!(rte_mbuf, ol_flags), 24);
    assert_eq!(offset_of!(rte_mbuf, __bindgen_anon_1.packet_type), 32);
    assert_eq!(offset_of!(rte_mbuf, pkt_len), 36);
    assert_eq!(offset_of!(rte_mbuf, data_len), 40);
    assert_eq!(offset_of!(rte_mbuf, vlan_tci), 42);
    assert_eq!(offset_of!(rte_mbuf, buf_len), 54);
    assert_eq!(offset_of!(rte_mbuf, pool), 56);
    assert_eq!(offset_of!(rte_mbuf, next), 64);
    assert_eq!(offset_of!(rte_mbuf, shinfo), 80);
}

#[test]
fn ethdev_offsets() {
    assert_eq!(offset_of!(rte_eth_dev, rx_pkt_burst), 0);
    assert_eq!(offset_of!(rte_eth_dev, tx_pkt_burst), 8);
    assert_eq!(offset_of!(rte_eth_dev, data), 48);
    assert_eq!(offset_of!(rte_eth_dev, dev_ops), 64);
    assert_eq!(offset_of!(rte_eth_dev, device), 72);
    assert_eq!(offset_of!(rte_eth_dev, state), 16488);

    assert_eq!(offset_of!(rte_eth_dev_data, rx_queues), 64);
    assert_eq!(offset_of!(rte_eth_dev_data, tx_queues), 72);
    assert_eq!(offset_of!(rte_eth_dev_data, dev_private), 96);
    assert_eq!(offset_of!(rte_eth_dev_data, dev_link), 104);
    assert_eq!(offset_of!(rte_eth_dev_data, mtu), 2384);
    assert_eq!(offset_of!(rte_eth_dev_data, mac_addrs), 2400);
    assert_eq!(offset_of!(rte_eth_dev_data, port_id), 3440);

    // The op slots the plugin fills (ABI-22.11.md section 6).
    assert_eq!(offset_of!(eth_dev_ops, dev_configure), 0);
    assert_eq!(offset_of!(eth_dev_ops, dev_close), 40);
    assert_eq!(offset_of!(eth_dev_ops, link_update), 56);
    assert_eq!(offset_of!(eth_dev_ops, stats_get), 144);
    assert_eq!(offset_of!(eth_dev_ops, dev_infos_get), 192);
    assert_eq!(offset_of!(eth_dev_ops, rx_queue_setup), 328);
    assert_eq!(offset_of!(eth_dev_ops, tx_queue_setup), 360);
    assert_eq!(offset_of!(eth_dev_ops, cman_config_get), 896);

    assert_eq!(offset_of!(rte_eth_dev_info, max_rx_pktlen), 36);
    assert_eq!(offset_of!(rte_eth_dev_info, max_rx_queues), 44);
    assert_eq!(offset_of!(rte_eth_dev_info, max_mac_addrs), 48);
}

#[test]
fn vdev_offsets() {
    assert_eq!(offset_of!(rte_vdev_driver, driver), 16);
    assert_eq!(offset_of!(rte_vdev_driver, probe), 48);
    assert_eq!(offset_of!(rte_vdev_driver, remove), 56);
    assert_eq!(offset_of!(rte_vdev_driver, drv_flags), 80);
    assert_eq!(offset_of!(rte_driver, name), 16);
    assert_eq!(offset_of!(rte_vdev_device, device), 16);
    assert_eq!(offset_of!(rte_device, name), 16);
    assert_eq!(offset_of!(rte_device, numa_node), 48);
    assert_eq!(offset_of!(rte_device, devargs), 56);
    assert_eq!(offset_of!(rte_devargs, __bindgen_anon_1.args), 88);
}
