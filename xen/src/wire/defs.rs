//! Constants of the Xen PV network protocol and the grant-table ABI, under their C
//! names (upper-cased where the header spells them in lower case).
//!
//! Sources: `xen/include/public/io/netif.h`, `io/ring.h`, `io/xenbus.h`,
//! `xen/include/public/grant_table.h`, `xen/include/public/xen.h`, and Linux's
//! `drivers/net/xen-netback/common.h` for netback's own limits (ANCHORS 3.2, 3.5, 3.6).

// ---- Pages (xen.h, XEN_PAGE_SIZE in Linux) ----

/// Grant and ring granularity: Xen pages are 4 KiB whatever the host page size.
pub const XEN_PAGE_SIZE: usize = 4096;
/// `log2(XEN_PAGE_SIZE)`.
pub const XEN_PAGE_SHIFT: u32 = 12;

// ---- netif.h: transmit request flags (NETTXF_*) ----

/// Protocol checksum field is blank in the packet (checksum offload).
pub const NETTXF_CSUM_BLANK: u16 = 1 << 0;
/// Packet data has been validated against its protocol checksum.
pub const NETTXF_DATA_VALIDATED: u16 = 1 << 1;
/// The packet continues in the next request.
pub const NETTXF_MORE_DATA: u16 = 1 << 2;
/// An extra-info slot follows this request.
pub const NETTXF_EXTRA_INFO: u16 = 1 << 3;

// ---- netif.h: receive response flags (NETRXF_*) ----

/// Packet data has been validated against its protocol checksum.
pub const NETRXF_DATA_VALIDATED: u16 = 1 << 0;
/// Protocol checksum field is blank in the packet.
pub const NETRXF_CSUM_BLANK: u16 = 1 << 1;
/// The packet continues in the next response.
pub const NETRXF_MORE_DATA: u16 = 1 << 2;
/// An extra-info slot follows this response.
pub const NETRXF_EXTRA_INFO: u16 = 1 << 3;
/// GSO prefix descriptor (deprecated: old Windows frontends only).
pub const NETRXF_GSO_PREFIX: u16 = 1 << 4;

// ---- netif.h: extra info ----

/// Never used: an extra slot of type 0 is invalid.
pub const XEN_NETIF_EXTRA_TYPE_NONE: u8 = 0;
/// `u.gso`.
pub const XEN_NETIF_EXTRA_TYPE_GSO: u8 = 1;
/// `u.mcast`: add a multicast address to the filter.
pub const XEN_NETIF_EXTRA_TYPE_MCAST_ADD: u8 = 2;
/// `u.mcast`: remove a multicast address from the filter.
pub const XEN_NETIF_EXTRA_TYPE_MCAST_DEL: u8 = 3;
/// `u.hash`.
pub const XEN_NETIF_EXTRA_TYPE_HASH: u8 = 4;
/// One past the last type Xen's header defines (Linux's copy adds XDP = 5, MAX = 6).
pub const XEN_NETIF_EXTRA_TYPE_MAX: u8 = 5;
/// Another extra-info slot follows this one.
pub const XEN_NETIF_EXTRA_FLAG_MORE: u8 = 1 << 0;

/// GSO type: none.
pub const XEN_NETIF_GSO_TYPE_NONE: u8 = 0;
/// GSO type: TCP over IPv4.
pub const XEN_NETIF_GSO_TYPE_TCPV4: u8 = 1;
/// GSO type: TCP over IPv6.
pub const XEN_NETIF_GSO_TYPE_TCPV6: u8 = 2;

// ---- netif.h: response status ----

/// The packet was dropped.
pub const NETIF_RSP_DROPPED: i16 = -2;
/// The request was bad.
pub const NETIF_RSP_ERROR: i16 = -1;
/// Done.
pub const NETIF_RSP_OKAY: i16 = 0;
/// The response slot of a consumed extra-info request (no packet result).
pub const NETIF_RSP_NULL: i16 = 1;

// ---- netif.h and netback limits ----

/// Largest packet a tx chain may describe (its first slot's `size` is a `u16`).
pub const XEN_NETIF_MAX_TX_SIZE: usize = 0xFFFF;
/// Slots a backend must accept for one packet (`XEN_NETIF_NR_SLOTS_MIN`).
pub const XEN_NETIF_NR_SLOTS_MIN: usize = 18;
/// Netback drops (but survives) packets of this many slots or more
/// (`XEN_NETBK_LEGACY_SLOTS_MAX = XEN_NETIF_NR_SLOTS_MIN`).
pub const XEN_NETBK_LEGACY_SLOTS_MAX: usize = XEN_NETIF_NR_SLOTS_MIN;
/// Default `fatal_skb_slots`: a packet of this many slots or more marks the frontend
/// rogue and disables its vif.
pub const FATAL_SKB_SLOTS_DEFAULT: usize = 20;
/// Bytes of a packet's first slot that netback grant-copies into the linear area
/// (`XEN_NETBACK_TX_COPY_LEN`, once `PKT_PROT_LEN`).
pub const XEN_NETBACK_TX_COPY_LEN: usize = 128;
/// Page fragments of a 64 KiB packet plus one (`MAX_XEN_SKB_FRAGS`).
pub const MAX_XEN_SKB_FRAGS: usize = 65536 / XEN_PAGE_SIZE + 1;
/// Multicast addresses a frontend may add (`XEN_NETBK_MCAST_MAX`).
pub const XEN_NETBK_MCAST_MAX: usize = 64;

// ---- netif.h: control ring ----

/// Control request type: invalid.
pub const XEN_NETIF_CTRL_TYPE_INVALID: u16 = 0;
/// Control request type: get the enabled hash types.
pub const XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS: u16 = 1;
/// Control request type: set the enabled hash types.
pub const XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS: u16 = 2;
/// Control request type: set the hash key (gref, len).
pub const XEN_NETIF_CTRL_TYPE_SET_HASH_KEY: u16 = 3;
/// Control request type: get the maximum mapping table size.
pub const XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE: u16 = 4;
/// Control request type: set the mapping table size.
pub const XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE: u16 = 5;
/// Control request type: set mapping entries (gref, len, offset).
pub const XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING: u16 = 6;
/// Control request type: set the hash algorithm.
pub const XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM: u16 = 7;
/// Control request type: get the number of static grant mappings.
pub const XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE: u16 = 8;
/// Control request type: add static grant mappings.
pub const XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING: u16 = 9;
/// Control request type: remove static grant mappings.
pub const XEN_NETIF_CTRL_TYPE_DEL_GREF_MAPPING: u16 = 10;
/// Control response status: done.
pub const XEN_NETIF_CTRL_STATUS_SUCCESS: u32 = 0;
/// Control response status: request type not supported.
pub const XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED: u32 = 1;
/// Control response status: a parameter is out of range.
pub const XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER: u32 = 2;
/// Control response status: a buffer is too small.
pub const XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW: u32 = 3;
/// Hash type bit: IPv4 addresses (8 bytes of input).
pub const XEN_NETIF_CTRL_HASH_TYPE_IPV4: u32 = 1 << 0;
/// Hash type bit: IPv4 addresses and TCP ports (12 bytes).
pub const XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP: u32 = 1 << 1;
/// Hash type bit: IPv6 addresses (32 bytes).
pub const XEN_NETIF_CTRL_HASH_TYPE_IPV6: u32 = 1 << 2;
/// Hash type bit: IPv6 addresses and TCP ports (36 bytes).
pub const XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP: u32 = 1 << 3;
/// Hash algorithm: none.
pub const XEN_NETIF_CTRL_HASH_ALGORITHM_NONE: u32 = 0;
/// Hash algorithm: Toeplitz.
pub const XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ: u32 = 1;
/// Staging list entry flag: map the grant read-only.
pub const XEN_NETIF_CTRLF_GREF_READONLY: u16 = 1 << 0;
/// Most entries one ADD/DEL_GREF_MAPPING list may carry (one page of `xen_netif_gref`).
pub const XEN_NETIF_GREF_LIST_MAX: usize = 512;

// ---- grant_table.h: grant entry flags (GTF_*) ----

/// Entry type: grants no privileges.
pub const GTF_INVALID: u16 = 0;
/// Entry type: `domid` may map and access `frame`.
pub const GTF_PERMIT_ACCESS: u16 = 1;
/// Entry type: `domid` may transfer a page into `frame`.
pub const GTF_ACCEPT_TRANSFER: u16 = 2;
/// Entry type: transitive grant (v2 tables only).
pub const GTF_TRANSITIVE: u16 = 3;
/// Mask of the entry type.
pub const GTF_TYPE_MASK: u16 = 3;
/// `domid` may only read.
pub const GTF_READONLY: u16 = 1 << 2;
/// Set by Xen while `domid` has the frame mapped or pinned for reading.
pub const GTF_READING: u16 = 1 << 3;
/// Set by Xen while `domid` has the frame mapped or pinned for writing.
pub const GTF_WRITING: u16 = 1 << 4;
/// Grant only a sub-range of the page (v2 only).
pub const GTF_SUB_PAGE: u16 = 1 << 8;

// ---- grant_table.h: status codes (GNTST_*) ----

/// Normal return.
pub const GNTST_OKAY: i16 = 0;
/// General undefined error (also: bad flags or domid, write to a read-only grant).
pub const GNTST_GENERAL_ERROR: i16 = -1;
/// Unrecognised domain id.
pub const GNTST_BAD_DOMAIN: i16 = -2;
/// Unrecognised or inappropriate grant reference.
pub const GNTST_BAD_GNTREF: i16 = -3;
/// Unrecognised or inappropriate mapping handle.
pub const GNTST_BAD_HANDLE: i16 = -4;
/// Inappropriate virtual address to map.
pub const GNTST_BAD_VIRT_ADDR: i16 = -5;
/// Inappropriate device address to unmap.
pub const GNTST_BAD_DEV_ADDR: i16 = -6;
/// Out of space in the I/O MMU.
pub const GNTST_NO_DEVICE_SPACE: i16 = -7;
/// Not enough privilege for the operation.
pub const GNTST_PERMISSION_DENIED: i16 = -8;
/// The page was invalid for the operation.
pub const GNTST_BAD_PAGE: i16 = -9;
/// Copy arguments cross a page boundary.
pub const GNTST_BAD_COPY_ARG: i16 = -10;
/// Transfer page address too large.
pub const GNTST_ADDRESS_TOO_BIG: i16 = -11;
/// Operation not done; try again.
pub const GNTST_EAGAIN: i16 = -12;
/// Out of space (handles etc.).
pub const GNTST_NO_SPACE: i16 = -13;

// ---- xen.h ----

/// The calling domain itself, where a domid is expected.
pub const DOMID_SELF: u16 = 0x7FF0;
