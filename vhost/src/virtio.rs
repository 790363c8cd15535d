//! Virtio constants vpmd's vhost PMD uses (virtio 1.2 spec; Linux `virtio_net.h`,
//! `virtio_ring.h`, `virtio_config.h`). Feature values are bit numbers.

/// Device handles packets with partial checksum (guest -> host offload).
pub const NET_F_CSUM: u32 = 0;
/// Driver handles packets with partial checksum (host -> guest).
pub const NET_F_GUEST_CSUM: u32 = 1;
/// Device reports its MTU in config space.
pub const NET_F_MTU: u32 = 3;
/// Device has a MAC address in config space.
pub const NET_F_MAC: u32 = 5;
/// Driver can receive TSOv4.
pub const NET_F_GUEST_TSO4: u32 = 7;
/// Driver can receive TSOv6.
pub const NET_F_GUEST_TSO6: u32 = 8;
/// Driver can receive TSO with ECN.
pub const NET_F_GUEST_ECN: u32 = 9;
/// Driver can receive UFO.
pub const NET_F_GUEST_UFO: u32 = 10;
/// Device can receive TSOv4.
pub const NET_F_HOST_TSO4: u32 = 11;
/// Device can receive TSOv6.
pub const NET_F_HOST_TSO6: u32 = 12;
/// Device can receive TSO with ECN.
pub const NET_F_HOST_ECN: u32 = 13;
/// Device can receive UFO.
pub const NET_F_HOST_UFO: u32 = 14;
/// Driver can merge receive buffers.
pub const NET_F_MRG_RXBUF: u32 = 15;
/// Link status in config space.
pub const NET_F_STATUS: u32 = 16;
/// Multiple queue pairs.
pub const NET_F_MQ: u32 = 22;
/// Any descriptor layout (header may share a buffer with data).
pub const F_ANY_LAYOUT: u32 = 27;
/// Indirect descriptor tables.
pub const RING_F_INDIRECT_DESC: u32 = 28;
/// `used_event` / `avail_event` notification suppression.
pub const RING_F_EVENT_IDX: u32 = 29;
/// vhost-user: protocol features are negotiated (not a virtio feature).
pub const VHOST_USER_F_PROTOCOL_FEATURES: u32 = 30;
/// Virtio 1.0+ (little-endian, 12-byte net header).
pub const F_VERSION_1: u32 = 32;
/// Device uses the platform IOMMU.
pub const F_IOMMU_PLATFORM: u32 = 33;
/// Packed virtqueues.
pub const F_RING_PACKED: u32 = 34;
/// Buffers are used in the order they were made available.
pub const F_IN_ORDER: u32 = 35;

/// The bit for feature number `f`.
pub const fn bit(f: u32) -> u64 {
    1 << f
}

/// Whether `features` has feature number `f`.
pub const fn has(features: u64, f: u32) -> bool {
    features & bit(f) != 0
}

/// Descriptor continues in `next`.
pub const VRING_DESC_F_NEXT: u16 = 1;
/// Buffer is device write-only (guest rx buffers).
pub const VRING_DESC_F_WRITE: u16 = 2;
/// Buffer holds an indirect descriptor table.
pub const VRING_DESC_F_INDIRECT: u16 = 4;
/// In `used.flags`: the device does not want kicks (polling).
pub const VRING_USED_F_NO_NOTIFY: u16 = 1;
/// In `avail.flags`: the driver does not want interrupts (polling).
pub const VRING_AVAIL_F_NO_INTERRUPT: u16 = 1;

/// Largest split ring size (`VIRTQUEUE_MAX_SIZE` in QEMU, DPDK's check).
pub const MAX_QUEUE_SIZE: u16 = 32768;

/// `virtio_net_hdr` without `num_buffers` (legacy, no MRG_RXBUF).
pub const NET_HDR_LEN: usize = 10;
/// `virtio_net_hdr_mrg_rxbuf` / virtio 1.0 header.
pub const NET_HDR_MRG_LEN: usize = 12;
/// `flags`: checksum needed from `csum_start` at `csum_offset`.
pub const NET_HDR_F_NEEDS_CSUM: u8 = 1;
/// `flags`: checksum already validated.
pub const NET_HDR_F_DATA_VALID: u8 = 2;
/// `gso_type`: no segmentation.
pub const NET_HDR_GSO_NONE: u8 = 0;
/// `gso_type`: TCP over IPv4.
pub const NET_HDR_GSO_TCPV4: u8 = 1;
/// `gso_type`: UDP (UFO).
pub const NET_HDR_GSO_UDP: u8 = 3;
/// `gso_type`: TCP over IPv6.
pub const NET_HDR_GSO_TCPV6: u8 = 4;
/// `gso_type` flag: ECN.
pub const NET_HDR_GSO_ECN: u8 = 0x80;

/// The net header length for negotiated `features` (DPDK's rule: 12 bytes with
/// MRG_RXBUF, VERSION_1 or RING_PACKED, else 10).
pub const fn net_hdr_len(features: u64) -> usize {
    if has(features, NET_F_MRG_RXBUF) || has(features, F_VERSION_1) || has(features, F_RING_PACKED)
    {
        NET_HDR_MRG_LEN
    } else {
        NET_HDR_LEN
    }
}
