//! The control ring's request and response (`io/netif.h`, ANCHORS 3.5): hash key,
//! mapping table and static grant (staging) messages, and the staging list entry. The backend's handling of them is not here.

use std::mem::offset_of;

use super::{assert_layout, get_u16, get_u32, put_u16, put_u32, Entry};

/// `struct xen_netif_ctrl_request`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CtrlRequest {
    /// Echoed in the response.
    pub id: u16,
    /// `XEN_NETIF_CTRL_TYPE_*`.
    pub kind: u16,
    /// Type-specific arguments.
    pub data: [u32; 3],
}
assert_layout!(CtrlRequest, 16, { id: 0, kind: 2, data: 4 });

impl Entry for CtrlRequest {
    const SIZE: usize = 16;
    type Bytes = [u8; 16];

    fn decode(b: &[u8; 16]) -> Self {
        const D: usize = offset_of!(CtrlRequest, data);
        Self {
            id: get_u16::<16, { offset_of!(CtrlRequest, id) }>(b),
            kind: get_u16::<16, { offset_of!(CtrlRequest, kind) }>(b),
            data: [
                get_u32::<16, D>(b),
                get_u32::<16, { D + 4 }>(b),
                get_u32::<16, { D + 8 }>(b),
            ],
        }
    }

    fn encode(&self) -> [u8; 16] {
        const D: usize = offset_of!(CtrlRequest, data);
        let mut b = [0; 16];
        put_u16::<16, { offset_of!(CtrlRequest, id) }>(&mut b, self.id);
        put_u16::<16, { offset_of!(CtrlRequest, kind) }>(&mut b, self.kind);
        put_u32::<16, D>(&mut b, self.data[0]);
        put_u32::<16, { D + 4 }>(&mut b, self.data[1]);
        put_u32::<16, { D + 8 }>(&mut b, self.data[2]);
        b
    }
}

/// `struct xen_netif_ctrl_response`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CtrlResponse {
    /// The request's id.
    pub id: u16,
    /// The request's type.
    pub kind: u16,
    /// `XEN_NETIF_CTRL_STATUS_*`.
    pub status: u32,
    /// Type-specific result.
    pub data: u32,
}
assert_layout!(CtrlResponse, 12, { id: 0, kind: 2, status: 4, data: 8 });

impl Entry for CtrlResponse {
    const SIZE: usize = 12;
    type Bytes = [u8; 12];

    fn decode(b: &[u8; 12]) -> Self {
        Self {
            id: get_u16::<12, { offset_of!(CtrlResponse, id) }>(b),
            kind: get_u16::<12, { offset_of!(CtrlResponse, kind) }>(b),
            status: get_u32::<12, { offset_of!(CtrlResponse, status) }>(b),
            data: get_u32::<12, { offset_of!(CtrlResponse, data) }>(b),
        }
    }

    fn encode(&self) -> [u8; 12] {
        let mut b = [0; 12];
        put_u16::<12, { offset_of!(CtrlResponse, id) }>(&mut b, self.id);
        put_u16::<12, { offset_of!(CtrlResponse, kind) }>(&mut b, self.kind);
        put_u32::<12, { offset_of!(CtrlResponse, status) }>(&mut b, self.status);
        put_u32::<12, { offset_of!(CtrlResponse, data) }>(&mut b, self.data);
        b
    }
}

/// `struct xen_netif_gref`: one entry of the list page an ADD/DEL_GREF_MAPPING
/// request names (staging grants).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GrefEntry {
    /// The grant to keep mapped (or to unmap).
    pub gref: u32,
    /// `XEN_NETIF_CTRLF_GREF_*`.
    pub flags: u16,
    /// `XEN_NETIF_CTRL_STATUS_*`, written by the backend.
    pub status: u16,
}
assert_layout!(GrefEntry, 8, { gref: 0, flags: 4, status: 6 });

impl Entry for GrefEntry {
    const SIZE: usize = 8;
    type Bytes = [u8; 8];

    fn decode(b: &[u8; 8]) -> Self {
        Self {
            gref: get_u32::<8, { offset_of!(GrefEntry, gref) }>(b),
            flags: get_u16::<8, { offset_of!(GrefEntry, flags) }>(b),
            status: get_u16::<8, { offset_of!(GrefEntry, status) }>(b),
        }
    }

    fn encode(&self) -> [u8; 8] {
        let mut b = [0; 8];
        put_u32::<8, { offset_of!(GrefEntry, gref) }>(&mut b, self.gref);
        put_u16::<8, { offset_of!(GrefEntry, flags) }>(&mut b, self.flags);
        put_u16::<8, { offset_of!(GrefEntry, status) }>(&mut b, self.status);
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::defs::*;

    #[test]
    fn ctrl_messages_round_trip() {
        let q = CtrlRequest {
            id: 1,
            kind: XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING,
            data: [0x11, 128, 0xffff_ffff],
        };
        let b = q.encode();
        assert_eq!(b[..4], [1, 0, 6, 0]);
        assert_eq!(b[12..], [0xff; 4]);
        assert_eq!(CtrlRequest::decode(&b), q);
        let r = CtrlResponse {
            id: 1,
            kind: q.kind,
            status: XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER,
            data: 0,
        };
        assert_eq!(r.encode()[4..8], [2, 0, 0, 0]);
        assert_eq!(CtrlResponse::decode(&r.encode()), r);
        let g = GrefEntry {
            gref: 0x0102_0304,
            flags: XEN_NETIF_CTRLF_GREF_READONLY,
            status: 2,
        };
        assert_eq!(g.encode(), [4, 3, 2, 1, 1, 0, 2, 0]);
        assert_eq!(GrefEntry::decode(&g.encode()), g);
    }
}
