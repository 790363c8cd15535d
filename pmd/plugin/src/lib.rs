//! `librte_net_vpmd.so`: vpmd's vhost and Xen PMDs as DPDK 22.11 vdev ethdevs
//! (`net_vpmd_vhost`, `net_vpmd_xen`), for stock `dpdk-testpmd -d` and OVS-DPDK.
//!
//! Glue only, like DPDK's `rte_eth_vhost.c`: the devargs, the state machine, the
//! rings and the statistics are the native PMDs' ([`vpmd_pmd::Port`] over
//! [`RtePool`](mbuf::RtePool)); the burst functions run the same generic datapath,
//! writing into the application's `rte_mbuf`s.
//!
//! - [`ffi`]: driver registration (ELF constructor), probe/remove, `rte_eth_dev` access;
//! - [`ops`]: `eth_dev_ops`; [`burst`]: rx/tx bursts; [`dev`]: a port's state;
//! - [`mbuf`]: `rte_mbuf`/`rte_mempool` as vpmd's `PktBuf`/`PktPool`;
//! - [`log`]: vpmd's log lines through `rte_log`.
//!
//! Secondary processes are refused at probe. The Xen PMD's grant-map zero copy
//! (`copy-threshold`) copies instead here: DPDK mbufs cannot hold vpmd's external
//! buffers.

pub mod burst;
pub mod dev;
pub mod ffi;
pub mod log;
pub mod mbuf;
pub mod ops;
