//! virtio-net over split virtqueues: vpmd's rx and tx bursts, and the `virtio_net_hdr`
//! in front of every packet (virtio 1.2 §5.1.6).
//!
//! - [`rx`]: vpmd's **rx**, the guest's **tx ring** (odd vring) into fresh buffers.
//! - [`tx`]: vpmd's **tx**, packets into the guest's **rx ring** (even vring), mergeable
//!   rx buffers included.
//! - [`hdr`]: the header as a value type; `offload` maps it to and from `RTE_MBUF_F_*`
//!   flags (DPDK's compliant mode), with `proto` (the Ethernet/IP/L4 walk it needs) and
//!   `vpmd_pmd::csum` (software checksums where the guest cannot take an offload).
//!
//! Both bursts are generic over [`vpmd_mempool::PktBuf`]/[`vpmd_mempool::PktPool`], so the
//! same code serves vpmd's `Mbuf` and, in the DPDK plugin, `rte_mbuf`. Must never: panic on
//! guest input, allocate (other than packet buffers from the pool), lock, log or make a
//! syscall per packet.

#![deny(unsafe_code)]

pub mod hdr;
mod offload;
mod proto;
pub mod rx;
pub mod tx;

pub use hdr::NetHdr;

/// Most packets one burst moves, DPDK's `MAX_PKT_BURST` for vhost (larger `max` values
/// are clamped); a per-call byte budget is the caller's business.
pub const MAX_BURST: usize = 32;

/// Longest frame vpmd accepts from a guest: the largest IP datagram (65535 bytes, what a
/// GSO super-frame can carry) behind an Ethernet header with two VLAN tags. A longer
/// chain is a guest fault, so a hostile guest cannot make one packet drain the pool.
pub const MAX_FRAME_LEN: u32 = 65535 + 14 + 2 * 4;
