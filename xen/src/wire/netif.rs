//! Netif requests, responses and extra info (`io/netif.h`), ANCHORS 3.2.
//!
//! Guest tx ring (the backend's rx): [`TxRequest`]s in, [`TxResponse`]s out, with an
//! [`ExtraInfo`] in the 12-byte slot after a request flagged `NETTXF_extra_info`.
//! Guest rx ring (the backend's tx): [`RxRequest`]s in, [`RxResponse`]s out, extra info
//! overlaying an 8-byte response slot. Responses must land in their request's slot.

use std::mem::offset_of;

use super::defs::*;
use super::grant::GrantRef;
use super::{
    assert_layout, flags, get_bytes, get_u16, get_u32, put_bytes, put_u16, put_u32, Entry,
};

flags! {
    /// `NETTXF_*`: flags of a transmit request.
    TxFlags(u16) {
        /// Checksum field blank (offload).
        CSUM_BLANK = NETTXF_CSUM_BLANK;
        /// Checksum already validated.
        DATA_VALIDATED = NETTXF_DATA_VALIDATED;
        /// The packet continues in the next slot.
        MORE_DATA = NETTXF_MORE_DATA;
        /// An extra-info slot follows.
        EXTRA_INFO = NETTXF_EXTRA_INFO;
    }
}

flags! {
    /// `NETRXF_*`: flags of a receive response.
    RxFlags(u16) {
        /// Checksum already validated.
        DATA_VALIDATED = NETRXF_DATA_VALIDATED;
        /// Checksum field blank (offload).
        CSUM_BLANK = NETRXF_CSUM_BLANK;
        /// The packet continues in the next slot.
        MORE_DATA = NETRXF_MORE_DATA;
        /// An extra-info slot follows.
        EXTRA_INFO = NETRXF_EXTRA_INFO;
        /// GSO prefix slot (deprecated).
        GSO_PREFIX = NETRXF_GSO_PREFIX;
    }
}

flags! {
    /// `XEN_NETIF_EXTRA_FLAG_*`.
    ExtraFlags(u8) {
        /// Another extra-info slot follows.
        MORE = XEN_NETIF_EXTRA_FLAG_MORE;
    }
}

/// A response status (`NETIF_RSP_*`); in an rx response, a non-negative value is the
/// fragment's size instead.
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NetifStatus(pub i16);

impl NetifStatus {
    /// `NETIF_RSP_DROPPED`.
    pub const DROPPED: Self = Self(NETIF_RSP_DROPPED);
    /// `NETIF_RSP_ERROR`.
    pub const ERROR: Self = Self(NETIF_RSP_ERROR);
    /// `NETIF_RSP_OKAY`.
    pub const OKAY: Self = Self(NETIF_RSP_OKAY);
    /// `NETIF_RSP_NULL`: the slot held a consumed extra-info request.
    pub const NULL: Self = Self(NETIF_RSP_NULL);
}

/// `struct netif_tx_request`: one slot of a packet the guest transmits.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TxRequest {
    /// Grant of the page holding this slot's data.
    pub gref: GrantRef,
    /// Offset of the data in that page.
    pub offset: u16,
    /// `NETTXF_*`.
    pub flags: TxFlags,
    /// Echoed in the response.
    pub id: u16,
    /// First slot: the whole packet's size; later slots: this slot's size.
    pub size: u16,
}
assert_layout!(TxRequest, 12, { gref: 0, offset: 4, flags: 6, id: 8, size: 10 });

impl Entry for TxRequest {
    const SIZE: usize = 12;
    type Bytes = [u8; 12];

    fn decode(b: &[u8; 12]) -> Self {
        Self {
            gref: GrantRef(get_u32::<12, { offset_of!(TxRequest, gref) }>(b)),
            offset: get_u16::<12, { offset_of!(TxRequest, offset) }>(b),
            flags: TxFlags(get_u16::<12, { offset_of!(TxRequest, flags) }>(b)),
            id: get_u16::<12, { offset_of!(TxRequest, id) }>(b),
            size: get_u16::<12, { offset_of!(TxRequest, size) }>(b),
        }
    }

    fn encode(&self) -> [u8; 12] {
        let mut b = [0; 12];
        put_u32::<12, { offset_of!(TxRequest, gref) }>(&mut b, self.gref.0);
        put_u16::<12, { offset_of!(TxRequest, offset) }>(&mut b, self.offset);
        put_u16::<12, { offset_of!(TxRequest, flags) }>(&mut b, self.flags.0);
        put_u16::<12, { offset_of!(TxRequest, id) }>(&mut b, self.id);
        put_u16::<12, { offset_of!(TxRequest, size) }>(&mut b, self.size);
        b
    }
}

/// `struct netif_tx_response`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TxResponse {
    /// The request's id.
    pub id: u16,
    /// `NETIF_RSP_*`.
    pub status: NetifStatus,
}
assert_layout!(TxResponse, 4, { id: 0, status: 2 });

impl Entry for TxResponse {
    const SIZE: usize = 4;
    type Bytes = [u8; 4];

    fn decode(b: &[u8; 4]) -> Self {
        Self {
            id: get_u16::<4, { offset_of!(TxResponse, id) }>(b),
            status: NetifStatus(get_u16::<4, { offset_of!(TxResponse, status) }>(b) as i16),
        }
    }

    fn encode(&self) -> [u8; 4] {
        let mut b = [0; 4];
        put_u16::<4, { offset_of!(TxResponse, id) }>(&mut b, self.id);
        put_u16::<4, { offset_of!(TxResponse, status) }>(&mut b, self.status.0 as u16);
        b
    }
}

/// `struct netif_rx_request`: a page the guest offers for one received fragment.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RxRequest {
    /// Echoed in the response (Linux netfront ignores it: slots must match instead).
    pub id: u16,
    /// Padding.
    pub pad: u16,
    /// Grant of the page to receive into.
    pub gref: GrantRef,
}
assert_layout!(RxRequest, 8, { id: 0, pad: 2, gref: 4 });

impl Entry for RxRequest {
    const SIZE: usize = 8;
    type Bytes = [u8; 8];

    fn decode(b: &[u8; 8]) -> Self {
        Self {
            id: get_u16::<8, { offset_of!(RxRequest, id) }>(b),
            pad: get_u16::<8, { offset_of!(RxRequest, pad) }>(b),
            gref: GrantRef(get_u32::<8, { offset_of!(RxRequest, gref) }>(b)),
        }
    }

    fn encode(&self) -> [u8; 8] {
        let mut b = [0; 8];
        put_u16::<8, { offset_of!(RxRequest, id) }>(&mut b, self.id);
        put_u16::<8, { offset_of!(RxRequest, pad) }>(&mut b, self.pad);
        put_u32::<8, { offset_of!(RxRequest, gref) }>(&mut b, self.gref.0);
        b
    }
}

/// `struct netif_rx_response`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RxResponse {
    /// The request's id.
    pub id: u16,
    /// Offset of the data in the granted page.
    pub offset: u16,
    /// `NETRXF_*`.
    pub flags: RxFlags,
    /// Negative: `NETIF_RSP_*`; otherwise this fragment's size.
    pub status: i16,
}
assert_layout!(RxResponse, 8, { id: 0, offset: 2, flags: 4, status: 6 });

impl RxResponse {
    /// The fragment's size, or the error status.
    pub fn size(&self) -> Result<u16, NetifStatus> {
        u16::try_from(self.status).map_err(|_| NetifStatus(self.status))
    }
}

impl Entry for RxResponse {
    const SIZE: usize = 8;
    type Bytes = [u8; 8];

    fn decode(b: &[u8; 8]) -> Self {
        Self {
            id: get_u16::<8, { offset_of!(RxResponse, id) }>(b),
            offset: get_u16::<8, { offset_of!(RxResponse, offset) }>(b),
            flags: RxFlags(get_u16::<8, { offset_of!(RxResponse, flags) }>(b)),
            status: get_u16::<8, { offset_of!(RxResponse, status) }>(b) as i16,
        }
    }

    fn encode(&self) -> [u8; 8] {
        let mut b = [0; 8];
        put_u16::<8, { offset_of!(RxResponse, id) }>(&mut b, self.id);
        put_u16::<8, { offset_of!(RxResponse, offset) }>(&mut b, self.offset);
        put_u16::<8, { offset_of!(RxResponse, flags) }>(&mut b, self.flags.0);
        put_u16::<8, { offset_of!(RxResponse, status) }>(&mut b, self.status as u16);
        b
    }
}

/// `u.gso` of an extra-info slot.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GsoInfo {
    /// Maximum payload of each segment (the MSS for TCP).
    pub size: u16,
    /// `XEN_NETIF_GSO_TYPE_*`.
    pub kind: u8,
    /// Padding.
    pub pad: u8,
    /// `XEN_NETIF_GSO_FEAT_*` (none are defined).
    pub features: u16,
}
assert_layout!(GsoInfo, 6, { size: 0, kind: 2, pad: 3, features: 4 });

/// `u.hash` of an extra-info slot.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HashInfo {
    /// `_XEN_NETIF_CTRL_HASH_TYPE_*` bit number.
    pub kind: u8,
    /// `XEN_NETIF_CTRL_HASH_ALGORITHM_*`.
    pub algorithm: u8,
    /// The hash, least significant byte first.
    pub value: [u8; 4],
}
assert_layout!(HashInfo, 6, { kind: 0, algorithm: 1, value: 2 });

/// `struct netif_extra_info`: 8 bytes, in a tx slot (plus 4 of padding) or an rx
/// response slot. `u` is kept raw; [`ExtraInfo::parse`] gives the typed view.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExtraInfo {
    /// `XEN_NETIF_EXTRA_TYPE_*`.
    pub kind: u8,
    /// `XEN_NETIF_EXTRA_FLAG_*`.
    pub flags: ExtraFlags,
    /// The type-specific union.
    pub u: [u8; 6],
}
assert_layout!(ExtraInfo, 8, { kind: 0, flags: 1, u: 2 });
// `u`'s members, at their offsets within the struct.
const _: () = {
    assert!(offset_of!(ExtraInfo, u) + offset_of!(GsoInfo, size) == 2);
    assert!(offset_of!(ExtraInfo, u) + offset_of!(GsoInfo, kind) == 4);
    assert!(offset_of!(ExtraInfo, u) + offset_of!(GsoInfo, features) == 6);
    assert!(offset_of!(ExtraInfo, u) + offset_of!(HashInfo, value) == 4);
};

/// The typed content of an extra-info slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extra {
    /// Segmentation offload parameters.
    Gso(GsoInfo),
    /// Add a multicast address to the filter.
    McastAdd([u8; 6]),
    /// Remove a multicast address from the filter.
    McastDel([u8; 6]),
    /// The packet's hash.
    Hash(HashInfo),
}

/// An extra-info slot of a type this protocol version does not define (including
/// `XEN_NETIF_EXTRA_TYPE_NONE`, which is never valid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown netif extra-info type {0}")]
pub struct UnknownExtra(pub u8);

/// Bytes of an extra-info slot in the guest tx ring (padded to a request's size).
pub const TX_EXTRA_SLOT: usize = TxRequest::SIZE;

impl ExtraInfo {
    /// The extra info at the start of a larger slot (a 12-byte tx slot).
    pub fn decode_slot<const N: usize>(b: &[u8; N]) -> Self {
        Self {
            kind: get_bytes::<N, 0, 1>(b)[0],
            flags: ExtraFlags(get_bytes::<N, 1, 1>(b)[0]),
            u: get_bytes::<N, 2, 6>(b),
        }
    }

    /// Encodes into the start of a zeroed slot of `N` bytes.
    pub fn encode_slot<const N: usize>(&self) -> [u8; N] {
        let mut b = [0; N];
        put_bytes::<N, 0, 2>(&mut b, [self.kind, self.flags.0]);
        put_bytes::<N, 2, 6>(&mut b, self.u);
        b
    }

    /// Whether another extra-info slot follows.
    pub fn more(&self) -> bool {
        self.flags.contains(ExtraFlags::MORE)
    }

    /// The typed view of `u`, by `kind`.
    pub fn parse(&self) -> Result<Extra, UnknownExtra> {
        let u = &self.u;
        Ok(match self.kind {
            XEN_NETIF_EXTRA_TYPE_GSO => Extra::Gso(GsoInfo {
                size: get_u16::<6, { offset_of!(GsoInfo, size) }>(u),
                kind: u[offset_of!(GsoInfo, kind)],
                pad: u[offset_of!(GsoInfo, pad)],
                features: get_u16::<6, { offset_of!(GsoInfo, features) }>(u),
            }),
            XEN_NETIF_EXTRA_TYPE_MCAST_ADD => Extra::McastAdd(*u),
            XEN_NETIF_EXTRA_TYPE_MCAST_DEL => Extra::McastDel(*u),
            XEN_NETIF_EXTRA_TYPE_HASH => Extra::Hash(HashInfo {
                kind: u[offset_of!(HashInfo, kind)],
                algorithm: u[offset_of!(HashInfo, algorithm)],
                value: get_bytes::<6, { offset_of!(HashInfo, value) }, 4>(u),
            }),
            other => return Err(UnknownExtra(other)),
        })
    }

    /// The slot for `extra`, with `XEN_NETIF_EXTRA_FLAG_MORE` if `more`.
    pub fn new(extra: Extra, more: bool) -> Self {
        let mut u = [0u8; 6];
        let kind = match extra {
            Extra::Gso(g) => {
                put_u16::<6, { offset_of!(GsoInfo, size) }>(&mut u, g.size);
                put_bytes::<6, { offset_of!(GsoInfo, kind) }, 2>(&mut u, [g.kind, g.pad]);
                put_u16::<6, { offset_of!(GsoInfo, features) }>(&mut u, g.features);
                XEN_NETIF_EXTRA_TYPE_GSO
            }
            Extra::McastAdd(a) => {
                u = a;
                XEN_NETIF_EXTRA_TYPE_MCAST_ADD
            }
            Extra::McastDel(a) => {
                u = a;
                XEN_NETIF_EXTRA_TYPE_MCAST_DEL
            }
            Extra::Hash(h) => {
                put_bytes::<6, 0, 2>(&mut u, [h.kind, h.algorithm]);
                put_bytes::<6, { offset_of!(HashInfo, value) }, 4>(&mut u, h.value);
                XEN_NETIF_EXTRA_TYPE_HASH
            }
        };
        let flags = if more {
            ExtraFlags::MORE
        } else {
            ExtraFlags::EMPTY
        };
        Self { kind, flags, u }
    }
}

impl Entry for ExtraInfo {
    const SIZE: usize = 8;
    type Bytes = [u8; 8];

    fn decode(b: &[u8; 8]) -> Self {
        Self::decode_slot(b)
    }

    fn encode(&self) -> [u8; 8] {
        self.encode_slot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // gref 0x01020304, offset 0x100, flags more_data|extra_info, id 7, size 1514.
    const TX_REQ: [u8; 12] = [4, 3, 2, 1, 0x00, 0x01, 0x0c, 0x00, 7, 0, 0xea, 0x05];

    #[test]
    fn tx_request_decodes_and_encodes() {
        let r = TxRequest::decode(&TX_REQ);
        assert_eq!(r.gref, GrantRef(0x0102_0304));
        assert_eq!((r.offset, r.id, r.size), (0x100, 7, 1514));
        assert!(r.flags.contains(TxFlags::MORE_DATA | TxFlags::EXTRA_INFO));
        assert!(!r.flags.contains(TxFlags::CSUM_BLANK));
        assert_eq!(r.encode(), TX_REQ);
    }

    #[test]
    fn responses_and_rx_requests_round_trip() {
        let t = TxResponse {
            id: 0xabcd,
            status: NetifStatus::DROPPED,
        };
        assert_eq!(t.encode(), [0xcd, 0xab, 0xfe, 0xff]);
        assert_eq!(TxResponse::decode(&t.encode()), t);

        let q = RxRequest::decode(&[9, 0, 0xa5, 0xa5, 0x10, 0, 0, 0]);
        assert_eq!((q.id, q.gref), (9, GrantRef(0x10)));
        assert_eq!(RxRequest::decode(&q.encode()), q);

        let ok = RxResponse {
            id: 3,
            offset: 64,
            flags: RxFlags::MORE_DATA,
            status: 1400,
        };
        assert_eq!(ok.encode(), [3, 0, 64, 0, 4, 0, 0x78, 0x05]);
        assert_eq!(RxResponse::decode(&ok.encode()).size(), Ok(1400));
        let err = RxResponse {
            status: NETIF_RSP_ERROR,
            ..ok
        };
        assert_eq!(err.size(), Err(NetifStatus::ERROR));
    }

    #[test]
    fn extra_info_gso_mcast_hash() {
        // A GSO extra in a 12-byte tx slot: size 1448, TCPv4, MORE, trailing padding
        // that must be ignored.
        let slot = [1, 1, 0xa8, 0x05, 1, 0, 0, 0, 0xa5, 0xa5, 0xa5, 0xa5];
        let x = ExtraInfo::decode_slot(&slot);
        assert!(x.more());
        let Ok(Extra::Gso(g)) = x.parse() else {
            panic!("not gso: {x:?}")
        };
        assert_eq!(
            (g.size, g.kind, g.features),
            (1448, XEN_NETIF_GSO_TYPE_TCPV4, 0)
        );
        assert_eq!(ExtraInfo::new(Extra::Gso(g), true), x);
        let re: [u8; 12] = x.encode_slot();
        assert_eq!(re[..8], slot[..8]);
        assert_eq!(re[8..], [0; 4]);

        let mac = [0x01, 0x00, 0x5e, 0, 0, 1];
        let m = ExtraInfo::new(Extra::McastAdd(mac), false);
        assert_eq!(m.encode(), [2, 0, 0x01, 0x00, 0x5e, 0, 0, 1]);
        assert_eq!(
            ExtraInfo::decode(&m.encode()).parse(),
            Ok(Extra::McastAdd(mac))
        );
        let d = ExtraInfo::new(Extra::McastDel(mac), false);
        assert_eq!(d.parse(), Ok(Extra::McastDel(mac)));

        let h = HashInfo {
            kind: 1,
            algorithm: 1,
            value: [0x78, 0x56, 0x34, 0x12],
        };
        let e = ExtraInfo::new(Extra::Hash(h), false);
        assert_eq!(e.encode(), [4, 0, 1, 1, 0x78, 0x56, 0x34, 0x12]);
        assert_eq!(e.parse(), Ok(Extra::Hash(h)));
    }

    #[test]
    fn unknown_extra_types_are_errors_not_panics() {
        for kind in [XEN_NETIF_EXTRA_TYPE_NONE, XEN_NETIF_EXTRA_TYPE_MAX, 0xff] {
            let x = ExtraInfo::decode(&[kind, 0xff, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5]);
            assert_eq!(x.parse(), Err(UnknownExtra(kind)));
            assert_eq!(x.flags.unknown(), 0xfe);
        }
    }
}
