//! vhost-user wire types: the header, the payloads a virtio-net back-end receives, and
//! the rule table that says, per request, what payload size and how many fds are legal
//! (QEMU `docs/interop/vhost-user.rst`, "Message Specification" and "Front-end message
//! types").
//!
//! [`parse`] turns one framed message into a typed [`Request`] or a [`MsgError`]; it checks
//! the size against the request, the fd count against the payload (one per region in
//! `SET_MEM_TABLE`, one unless the "no fd" bit in `SET_VRING_KICK`, none where none are
//! allowed) and reserved bits. Semantic checks (ring sizes, indexes, addresses, features)
//! are the device's. Fds of a refused message are closed when the message is dropped.
//!
//! Must never: panic on any byte sequence, or keep an fd the request does not allow.
//! Payloads are read field by field with native byte order ("All numbers are in the
//! machine native byte order"); the `repr(C)` structs document and assert the layout.

#![deny(unsafe_code)]

use std::fs::File;
use std::mem::{offset_of, size_of};

use super::defs::{self, req};
use crate::memory::RegionDesc;

/// Largest payload the back-end accepts; anything bigger is a framing error (the
/// largest legal one, `GET_CONFIG` with 256 bytes, is 268).
pub const MAX_PAYLOAD: u32 = 4096;

/// The message header ("Header").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Request ID ([`defs::req`]).
    pub request: u32,
    /// Version, reply and need_reply bits.
    pub flags: u32,
    /// Payload bytes that follow.
    pub size: u32,
}

impl Header {
    /// A header for `request` with `size` payload bytes and extra `flags` bits (the
    /// version is always set).
    pub fn new(request: u32, flags: u32, size: u32) -> Self {
        Self {
            request,
            flags: flags | defs::VERSION,
            size,
        }
    }

    /// Decodes the 12 header bytes.
    pub fn parse(b: &[u8; defs::HEADER_LEN]) -> Self {
        Self {
            request: ne_u32(b, 0),
            flags: ne_u32(b, 4),
            size: ne_u32(b, 8),
        }
    }

    /// Encodes the header.
    pub fn to_bytes(self) -> [u8; defs::HEADER_LEN] {
        let mut b = [0u8; defs::HEADER_LEN];
        b[0..4].copy_from_slice(&self.request.to_ne_bytes());
        b[4..8].copy_from_slice(&self.flags.to_ne_bytes());
        b[8..12].copy_from_slice(&self.size.to_ne_bytes());
        b
    }

    /// The protocol version bits.
    pub fn version(&self) -> u32 {
        self.flags & defs::VERSION_MASK
    }

    /// The sender asked for an acknowledgement.
    pub fn need_reply(&self) -> bool {
        self.flags & defs::NEED_REPLY_MASK != 0
    }

    /// The message is a reply.
    pub fn is_reply(&self) -> bool {
        self.flags & defs::REPLY_MASK != 0
    }
}

/// "A vring state description" (also the split-ring descriptor index).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VringState {
    /// Vring index.
    pub index: u32,
    /// Size, base, or enable flag, by request.
    pub num: u32,
}

/// "A vring address description".
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VringAddr {
    /// Vring index.
    pub index: u32,
    /// `VHOST_VRING_F_LOG` and reserved bits.
    pub flags: u32,
    /// Descriptor table, front-end virtual address.
    pub desc: u64,
    /// Used ring, front-end virtual address.
    pub used: u64,
    /// Available ring, front-end virtual address.
    pub avail: u64,
    /// Guest address for logging used-ring writes.
    pub log: u64,
}

/// "Memory region description".
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemRegion {
    /// Guest physical address.
    pub gpa: u64,
    /// Size in bytes.
    pub size: u64,
    /// Front-end virtual address.
    pub uaddr: u64,
    /// Offset of the region in its fd.
    pub mmap_offset: u64,
}

/// "Virtio device config space" header; `size` payload bytes follow it.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConfigHeader {
    /// Offset into the device's config space.
    pub offset: u32,
    /// Bytes accessed.
    pub size: u32,
    /// [`defs::CONFIG_FLAG_WRITABLE`] or [`defs::CONFIG_FLAG_MIGRATION`].
    pub flags: u32,
}

const VRING_STATE_LEN: usize = 8;
const VRING_ADDR_LEN: usize = 40;
const MEM_REGION_LEN: usize = 32;
/// "Multiple Memory regions description": `nregions`, padding.
const MEM_TABLE_HDR_LEN: usize = 8;
/// "Single memory region description": padding, region.
const SINGLE_REGION_LEN: usize = 8 + MEM_REGION_LEN;
const CONFIG_HDR_LEN: usize = 12;

const _: () = {
    assert!(size_of::<VringState>() == VRING_STATE_LEN);
    assert!(offset_of!(VringState, num) == 4);
    assert!(size_of::<VringAddr>() == VRING_ADDR_LEN);
    assert!(offset_of!(VringAddr, flags) == 4);
    assert!(offset_of!(VringAddr, desc) == 8);
    assert!(offset_of!(VringAddr, used) == 16);
    assert!(offset_of!(VringAddr, avail) == 24);
    assert!(offset_of!(VringAddr, log) == 32);
    assert!(size_of::<MemRegion>() == MEM_REGION_LEN);
    assert!(offset_of!(MemRegion, size) == 8);
    assert!(offset_of!(MemRegion, uaddr) == 16);
    assert!(offset_of!(MemRegion, mmap_offset) == 24);
    assert!(size_of::<ConfigHeader>() == CONFIG_HDR_LEN);
    assert!(offset_of!(ConfigHeader, size) == 4);
    assert!(offset_of!(ConfigHeader, flags) == 8);
};

fn ne_u32<const N: usize>(b: &[u8; N], off: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[off..off + 4]);
    u32::from_ne_bytes(a)
}

fn ne_u64<const N: usize>(b: &[u8; N], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_ne_bytes(a)
}

impl VringState {
    fn parse(b: &[u8; VRING_STATE_LEN]) -> Self {
        Self {
            index: ne_u32(b, 0),
            num: ne_u32(b, 4),
        }
    }

    /// Wire bytes.
    pub fn to_bytes(self) -> [u8; VRING_STATE_LEN] {
        let mut b = [0u8; VRING_STATE_LEN];
        b[0..4].copy_from_slice(&self.index.to_ne_bytes());
        b[4..8].copy_from_slice(&self.num.to_ne_bytes());
        b
    }
}

impl VringAddr {
    fn parse(b: &[u8; VRING_ADDR_LEN]) -> Self {
        Self {
            index: ne_u32(b, 0),
            flags: ne_u32(b, 4),
            desc: ne_u64(b, 8),
            used: ne_u64(b, 16),
            avail: ne_u64(b, 24),
            log: ne_u64(b, 32),
        }
    }

    /// Wire bytes.
    pub fn to_bytes(self) -> [u8; VRING_ADDR_LEN] {
        let mut b = [0u8; VRING_ADDR_LEN];
        b[0..4].copy_from_slice(&self.index.to_ne_bytes());
        b[4..8].copy_from_slice(&self.flags.to_ne_bytes());
        b[8..16].copy_from_slice(&self.desc.to_ne_bytes());
        b[16..24].copy_from_slice(&self.used.to_ne_bytes());
        b[24..32].copy_from_slice(&self.avail.to_ne_bytes());
        b[32..40].copy_from_slice(&self.log.to_ne_bytes());
        b
    }
}

impl MemRegion {
    fn parse(b: &[u8; MEM_REGION_LEN]) -> Self {
        Self {
            gpa: ne_u64(b, 0),
            size: ne_u64(b, 8),
            uaddr: ne_u64(b, 16),
            mmap_offset: ne_u64(b, 24),
        }
    }

    /// Wire bytes.
    pub fn to_bytes(self) -> [u8; MEM_REGION_LEN] {
        let mut b = [0u8; MEM_REGION_LEN];
        b[0..8].copy_from_slice(&self.gpa.to_ne_bytes());
        b[8..16].copy_from_slice(&self.size.to_ne_bytes());
        b[16..24].copy_from_slice(&self.uaddr.to_ne_bytes());
        b[24..32].copy_from_slice(&self.mmap_offset.to_ne_bytes());
        b
    }

    /// The memory module's view of it.
    pub fn desc(self) -> RegionDesc {
        RegionDesc {
            gpa: self.gpa,
            size: self.size,
            uaddr: self.uaddr,
            mmap_offset: self.mmap_offset,
        }
    }
}

impl From<RegionDesc> for MemRegion {
    fn from(d: RegionDesc) -> Self {
        Self {
            gpa: d.gpa,
            size: d.size,
            uaddr: d.uaddr,
            mmap_offset: d.mmap_offset,
        }
    }
}

impl ConfigHeader {
    fn parse(b: &[u8; CONFIG_HDR_LEN]) -> Self {
        Self {
            offset: ne_u32(b, 0),
            size: ne_u32(b, 4),
            flags: ne_u32(b, 8),
        }
    }

    /// Wire bytes.
    pub fn to_bytes(self) -> [u8; CONFIG_HDR_LEN] {
        let mut b = [0u8; CONFIG_HDR_LEN];
        b[0..4].copy_from_slice(&self.offset.to_ne_bytes());
        b[4..8].copy_from_slice(&self.size.to_ne_bytes());
        b[8..12].copy_from_slice(&self.flags.to_ne_bytes());
        b
    }
}

/// What payload a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadRule {
    /// None (size 0).
    Empty,
    /// Exactly this many bytes.
    Exact(u32),
    /// `SET_MEM_TABLE`: 8 + 32 per region (or the full 8-region struct).
    MemTable,
    /// `GET_CONFIG`/`SET_CONFIG`: 12 + the size field.
    Config,
    /// Not parsed (requests vpmd does not implement); bounded by [`MAX_PAYLOAD`].
    Ignored,
}

/// How many fds a request may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FdRule {
    /// None.
    None,
    /// Exactly one.
    One,
    /// One per region.
    PerRegion,
    /// One unless the payload's "no fd" bit (bit 8) is set, then none.
    VringFd,
    /// Zero or one, closed unused (`REM_MEM_REG`: "the back-end MAY accept messages with
    /// one file descriptor ... MUST close it").
    AtMostOneIgnored,
    /// Not implemented by vpmd: any fds are closed.
    Ignored,
}

/// The rule-table row of one request: DPDK's `VHOST_MESSAGE_HANDLERS` idea, minus the
/// handler (that is [`crate::device`]'s `match`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestSpec {
    /// Request ID.
    pub id: u32,
    /// Spec name, for logs.
    pub name: &'static str,
    /// Payload rule.
    pub payload: PayloadRule,
    /// Fd rule.
    pub fds: FdRule,
    /// The request always gets a reply with a payload (not just a `REPLY_ACK` status),
    /// so a front-end waits for one: refusing it silently would hang the front-end.
    pub has_reply: bool,
    /// The protocol feature that must be negotiated first, if any.
    pub feature: Option<u32>,
    /// vpmd implements it.
    pub supported: bool,
}

const fn row(
    id: u32,
    payload: PayloadRule,
    fds: FdRule,
    has_reply: bool,
    feature: Option<u32>,
) -> RequestSpec {
    RequestSpec {
        id,
        name: "",
        payload,
        fds,
        has_reply,
        feature,
        supported: true,
    }
}

const fn unsupported(id: u32, has_reply: bool) -> RequestSpec {
    RequestSpec {
        id,
        name: "",
        payload: PayloadRule::Ignored,
        fds: FdRule::Ignored,
        has_reply,
        feature: None,
        supported: false,
    }
}

/// The rule table, indexed by request ID (row 0 is a placeholder). Columns: ID, payload,
/// fds, has a reply payload, protocol feature required.
#[rustfmt::skip]
const SPECS: [RequestSpec; 44] = {
    use defs::proto::*;
    use FdRule as F;
    use PayloadRule as P;
    const U64: PayloadRule = P::Exact(8);
    const STATE: PayloadRule = P::Exact(VRING_STATE_LEN as u32);
    const SLOTS: Option<u32> = Some(CONFIGURE_MEM_SLOTS);
    const REGION: PayloadRule = P::Exact(SINGLE_REGION_LEN as u32);
    [
        unsupported(0, false),
        row(req::GET_FEATURES, P::Empty, F::None, true, None),
        row(req::SET_FEATURES, U64, F::None, false, None),
        row(req::SET_OWNER, P::Empty, F::None, false, None),
        row(req::RESET_OWNER, P::Empty, F::None, false, None),
        row(req::SET_MEM_TABLE, P::MemTable, F::PerRegion, false, None),
        unsupported(req::SET_LOG_BASE, true),
        unsupported(req::SET_LOG_FD, false),
        row(req::SET_VRING_NUM, STATE, F::None, false, None),
        row(req::SET_VRING_ADDR, P::Exact(VRING_ADDR_LEN as u32), F::None, false, None),
        row(req::SET_VRING_BASE, STATE, F::None, false, None),
        row(req::GET_VRING_BASE, STATE, F::None, true, None),
        row(req::SET_VRING_KICK, U64, F::VringFd, false, None),
        row(req::SET_VRING_CALL, U64, F::VringFd, false, None),
        row(req::SET_VRING_ERR, U64, F::VringFd, false, None),
        row(req::GET_PROTOCOL_FEATURES, P::Empty, F::None, true, None),
        row(req::SET_PROTOCOL_FEATURES, U64, F::None, false, None),
        row(req::GET_QUEUE_NUM, P::Empty, F::None, true, Some(MQ)),
        row(req::SET_VRING_ENABLE, STATE, F::None, false, None),
        row(req::SEND_RARP, U64, F::None, false, Some(RARP)),
        row(req::NET_SET_MTU, U64, F::None, false, Some(NET_MTU)),
        unsupported(req::SET_BACKEND_REQ_FD, false),
        unsupported(req::IOTLB_MSG, true),
        unsupported(req::SET_VRING_ENDIAN, false),
        row(req::GET_CONFIG, P::Config, F::None, true, Some(CONFIG)),
        row(req::SET_CONFIG, P::Config, F::None, false, Some(CONFIG)),
        unsupported(req::CREATE_CRYPTO_SESSION, true),
        unsupported(req::CLOSE_CRYPTO_SESSION, false),
        unsupported(req::POSTCOPY_ADVISE, true),
        unsupported(req::POSTCOPY_LISTEN, false),
        unsupported(req::POSTCOPY_END, true),
        unsupported(req::GET_INFLIGHT_FD, true),
        unsupported(req::SET_INFLIGHT_FD, false),
        unsupported(req::GPU_SET_SOCKET, false),
        row(req::RESET_DEVICE, P::Empty, F::None, false, Some(RESET_DEVICE)),
        unsupported(req::VRING_KICK, false),
        row(req::GET_MAX_MEM_SLOTS, P::Empty, F::None, true, SLOTS),
        row(req::ADD_MEM_REG, REGION, F::One, false, SLOTS),
        row(req::REM_MEM_REG, REGION, F::AtMostOneIgnored, false, SLOTS),
        row(req::SET_STATUS, U64, F::None, false, Some(STATUS)),
        row(req::GET_STATUS, P::Empty, F::None, true, Some(STATUS)),
        unsupported(req::GET_SHARED_OBJECT, true),
        unsupported(req::SET_DEVICE_STATE_FD, true),
        unsupported(req::CHECK_DEVICE_STATE, true),
    ]
};

/// The rule of request `id`; `None` for IDs the spec does not define (as of its newest
/// copy: 1-43).
pub fn spec(id: u32) -> Option<RequestSpec> {
    let s = *SPECS.get(id as usize).filter(|_| id != 0)?;
    Some(RequestSpec {
        name: defs::request_name(id),
        ..s
    })
}

/// One framed message as the connection read it: header, payload, attached fds.
#[derive(Debug)]
pub struct RawMessage {
    /// The header.
    pub header: Header,
    /// `header.size` bytes.
    pub payload: Vec<u8>,
    /// Fds that arrived with the message's bytes.
    pub fds: Vec<File>,
    /// The peer attached more fds than any message may carry.
    pub fds_truncated: bool,
}

/// A `SET_VRING_KICK`/`CALL`/`ERR`: the vring and its eventfd (`None`: poll).
#[derive(Debug)]
pub struct VringFile {
    /// Vring index (bits 0-7 of the payload).
    pub index: u8,
    /// The eventfd, or `None` when the "no fd" bit was set.
    pub file: Option<File>,
}

/// A parsed front-end request.
#[derive(Debug)]
pub enum Request {
    /// `GET_FEATURES`.
    GetFeatures,
    /// `SET_FEATURES`.
    SetFeatures(u64),
    /// `SET_OWNER`.
    SetOwner,
    /// `RESET_OWNER`.
    ResetOwner,
    /// `SET_MEM_TABLE`: regions with their fds, in message order.
    SetMemTable(Vec<(MemRegion, File)>),
    /// `SET_VRING_NUM`.
    SetVringNum(VringState),
    /// `SET_VRING_ADDR`.
    SetVringAddr(VringAddr),
    /// `SET_VRING_BASE`.
    SetVringBase(VringState),
    /// `GET_VRING_BASE`.
    GetVringBase(VringState),
    /// `SET_VRING_KICK`.
    SetVringKick(VringFile),
    /// `SET_VRING_CALL`.
    SetVringCall(VringFile),
    /// `SET_VRING_ERR`.
    SetVringErr(VringFile),
    /// `GET_PROTOCOL_FEATURES`.
    GetProtocolFeatures,
    /// `SET_PROTOCOL_FEATURES`.
    SetProtocolFeatures(u64),
    /// `GET_QUEUE_NUM`.
    GetQueueNum,
    /// `SET_VRING_ENABLE`.
    SetVringEnable(VringState),
    /// `SEND_RARP`: the guest's MAC (first 6 payload bytes).
    SendRarp([u8; 6]),
    /// `NET_SET_MTU`.
    NetSetMtu(u64),
    /// `GET_CONFIG` (the payload bytes the front-end sent are ignored).
    GetConfig(ConfigHeader),
    /// `SET_CONFIG` with its bytes.
    SetConfig(ConfigHeader, Vec<u8>),
    /// `RESET_DEVICE`.
    ResetDevice,
    /// `GET_MAX_MEM_SLOTS`.
    GetMaxMemSlots,
    /// `ADD_MEM_REG` with its fd.
    AddMemReg(MemRegion, File),
    /// `REM_MEM_REG`.
    RemMemReg(MemRegion),
    /// `SET_STATUS`.
    SetStatus(u64),
    /// `GET_STATUS`.
    GetStatus,
    /// A request the spec defines and vpmd does not implement (its fds were closed).
    Unsupported(RequestSpec),
    /// A request ID the spec does not define (its fds were closed).
    Unknown(u32),
}

/// Why a message was refused at the wire level. The request name is logged by the
/// caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MsgError {
    /// The payload size does not fit the request.
    #[error("payload of {got} bytes, expected {expected}")]
    BadSize {
        /// What the request needs.
        expected: u32,
        /// What the header said.
        got: u32,
    },
    /// The fd count does not fit the request.
    #[error("{got} fds attached, expected {expected}")]
    BadFdCount {
        /// What the request needs.
        expected: u32,
        /// What arrived.
        got: u32,
    },
    /// More fds than fit in any message (the kernel dropped the rest).
    #[error("more than {} fds attached", defs::MAX_FDS)]
    TooManyFds,
    /// `SET_MEM_TABLE` with more than 8 regions.
    #[error("{0} regions, at most {max}", max = defs::MEM_TABLE_MAX_REGIONS)]
    TooManyRegions(u32),
    /// Bits the spec reserves are set.
    #[error("reserved bits set in {0:#x}")]
    ReservedBits(u64),
    /// A config access larger than [`defs::CONFIG_MAX_SIZE`].
    #[error("config access of {0} bytes, at most {max}", max = defs::CONFIG_MAX_SIZE)]
    ConfigTooLarge(u32),
    /// The message has the reply flag set: a front-end never sends replies here.
    #[error("message is flagged as a reply")]
    IsReply,
}

fn exact<const N: usize>(p: &[u8]) -> Result<&[u8; N], MsgError> {
    p.try_into().map_err(|_| MsgError::BadSize {
        expected: N as u32,
        got: p.len() as u32,
    })
}

fn fd_count(fds: &[File], expected: usize) -> Result<(), MsgError> {
    if fds.len() != expected {
        return Err(MsgError::BadFdCount {
            expected: expected as u32,
            got: fds.len() as u32,
        });
    }
    Ok(())
}

/// Parses one message. Fds not consumed by the result are closed.
pub fn parse(raw: RawMessage) -> Result<Request, MsgError> {
    let RawMessage {
        header,
        payload: p,
        mut fds,
        fds_truncated,
    } = raw;
    if header.is_reply() {
        return Err(MsgError::IsReply);
    }
    let Some(spec) = spec(header.request) else {
        return Ok(Request::Unknown(header.request));
    };
    if fds_truncated && spec.fds != FdRule::Ignored {
        return Err(MsgError::TooManyFds);
    }
    match spec.payload {
        PayloadRule::Empty if !p.is_empty() => {
            return Err(MsgError::BadSize {
                expected: 0,
                got: p.len() as u32,
            })
        }
        PayloadRule::Exact(n) if p.len() != n as usize => {
            return Err(MsgError::BadSize {
                expected: n,
                got: p.len() as u32,
            })
        }
        _ => {}
    }
    match spec.fds {
        FdRule::None => fd_count(&fds, 0)?,
        FdRule::One => fd_count(&fds, 1)?,
        FdRule::AtMostOneIgnored if fds.len() > 1 => fd_count(&fds, 1)?,
        FdRule::AtMostOneIgnored | FdRule::Ignored => fds.clear(),
        FdRule::PerRegion | FdRule::VringFd => {} // checked with the payload below
    }
    let u64_payload = || exact::<8>(&p).map(|b| u64::from_ne_bytes(*b));
    let state = || exact::<VRING_STATE_LEN>(&p).map(VringState::parse);
    let vring_file = |mut fds: Vec<File>| -> Result<VringFile, MsgError> {
        let v = u64_payload()?;
        if v & !(defs::VRING_IDX_MASK | defs::VRING_NOFD_MASK) != 0 {
            return Err(MsgError::ReservedBits(v));
        }
        let nofd = v & defs::VRING_NOFD_MASK != 0;
        fd_count(&fds, usize::from(!nofd))?;
        Ok(VringFile {
            index: (v & defs::VRING_IDX_MASK) as u8,
            file: fds.pop(),
        })
    };
    let region = || {
        exact::<SINGLE_REGION_LEN>(&p).map(|b| {
            let mut r = [0u8; MEM_REGION_LEN];
            r.copy_from_slice(&b[8..]);
            MemRegion::parse(&r)
        })
    };
    Ok(match header.request {
        req::GET_FEATURES => Request::GetFeatures,
        req::SET_FEATURES => Request::SetFeatures(u64_payload()?),
        req::SET_OWNER => Request::SetOwner,
        req::RESET_OWNER => Request::ResetOwner,
        req::SET_MEM_TABLE => Request::SetMemTable(parse_mem_table(&p, fds)?),
        req::SET_VRING_NUM => Request::SetVringNum(state()?),
        req::SET_VRING_ADDR => {
            Request::SetVringAddr(VringAddr::parse(exact::<VRING_ADDR_LEN>(&p)?))
        }
        req::SET_VRING_BASE => Request::SetVringBase(state()?),
        req::GET_VRING_BASE => Request::GetVringBase(state()?),
        req::SET_VRING_KICK => Request::SetVringKick(vring_file(fds)?),
        req::SET_VRING_CALL => Request::SetVringCall(vring_file(fds)?),
        req::SET_VRING_ERR => Request::SetVringErr(vring_file(fds)?),
        req::GET_PROTOCOL_FEATURES => Request::GetProtocolFeatures,
        req::SET_PROTOCOL_FEATURES => Request::SetProtocolFeatures(u64_payload()?),
        req::GET_QUEUE_NUM => Request::GetQueueNum,
        req::SET_VRING_ENABLE => Request::SetVringEnable(state()?),
        req::SEND_RARP => {
            let b = exact::<8>(&p)?;
            let mut mac = [0u8; 6];
            mac.copy_from_slice(&b[..6]);
            Request::SendRarp(mac)
        }
        req::NET_SET_MTU => Request::NetSetMtu(u64_payload()?),
        req::GET_CONFIG | req::SET_CONFIG => {
            let (hdr, data) = parse_config(&p)?;
            if header.request == req::GET_CONFIG {
                Request::GetConfig(hdr)
            } else {
                Request::SetConfig(hdr, data.to_vec())
            }
        }
        req::RESET_DEVICE => Request::ResetDevice,
        req::GET_MAX_MEM_SLOTS => Request::GetMaxMemSlots,
        req::ADD_MEM_REG => {
            let r = region()?;
            match fds.pop() {
                Some(f) => Request::AddMemReg(r, f),
                None => {
                    return Err(MsgError::BadFdCount {
                        expected: 1,
                        got: 0,
                    })
                }
            }
        }
        req::REM_MEM_REG => Request::RemMemReg(region()?),
        req::SET_STATUS => Request::SetStatus(u64_payload()?),
        req::GET_STATUS => Request::GetStatus,
        _ => Request::Unsupported(spec),
    })
}

fn parse_mem_table(p: &[u8], fds: Vec<File>) -> Result<Vec<(MemRegion, File)>, MsgError> {
    let Some(hdr) = p.get(..MEM_TABLE_HDR_LEN) else {
        return Err(MsgError::BadSize {
            expected: MEM_TABLE_HDR_LEN as u32,
            got: p.len() as u32,
        });
    };
    let mut n = [0u8; 4];
    n.copy_from_slice(&hdr[..4]);
    let n = u32::from_ne_bytes(n);
    if n as usize > defs::MEM_TABLE_MAX_REGIONS {
        return Err(MsgError::TooManyRegions(n));
    }
    // QEMU and DPDK send only the regions in use; accept the full struct too.
    let used = MEM_TABLE_HDR_LEN + n as usize * MEM_REGION_LEN;
    let full = MEM_TABLE_HDR_LEN + defs::MEM_TABLE_MAX_REGIONS * MEM_REGION_LEN;
    if p.len() != used && p.len() != full {
        return Err(MsgError::BadSize {
            expected: used as u32,
            got: p.len() as u32,
        });
    }
    fd_count(&fds, n as usize)?;
    let regions = p[MEM_TABLE_HDR_LEN..used]
        .chunks_exact(MEM_REGION_LEN)
        .map(|c| {
            let mut r = [0u8; MEM_REGION_LEN];
            r.copy_from_slice(c);
            MemRegion::parse(&r)
        });
    Ok(regions.zip(fds).collect())
}

fn parse_config(p: &[u8]) -> Result<(ConfigHeader, &[u8]), MsgError> {
    let Some(h) = p.get(..CONFIG_HDR_LEN) else {
        return Err(MsgError::BadSize {
            expected: CONFIG_HDR_LEN as u32,
            got: p.len() as u32,
        });
    };
    let mut b = [0u8; CONFIG_HDR_LEN];
    b.copy_from_slice(h);
    let hdr = ConfigHeader::parse(&b);
    if hdr.size > defs::CONFIG_MAX_SIZE {
        return Err(MsgError::ConfigTooLarge(hdr.size));
    }
    let data = &p[CONFIG_HDR_LEN..];
    if data.len() != hdr.size as usize {
        return Err(MsgError::BadSize {
            expected: CONFIG_HDR_LEN as u32 + hdr.size,
            got: p.len() as u32,
        });
    }
    Ok((hdr, data))
}

/// A whole message: header (with `flags` plus the version) and payload.
pub fn encode(request: u32, flags: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(defs::HEADER_LEN + payload.len());
    v.extend_from_slice(&Header::new(request, flags, payload.len() as u32).to_bytes());
    v.extend_from_slice(payload);
    v
}

/// A back-end reply to `request`.
pub fn reply(request: u32, payload: &[u8]) -> Vec<u8> {
    encode(request, defs::REPLY_MASK, payload)
}

/// The payload of a `SET_MEM_TABLE` with `regions` (only the regions in use, as QEMU
/// sends it).
pub fn mem_table_payload(regions: &[MemRegion]) -> Vec<u8> {
    let mut v = Vec::with_capacity(MEM_TABLE_HDR_LEN + regions.len() * MEM_REGION_LEN);
    v.extend_from_slice(&(regions.len() as u32).to_ne_bytes());
    v.extend_from_slice(&0u32.to_ne_bytes());
    for r in regions {
        v.extend_from_slice(&r.to_bytes());
    }
    v
}

/// The payload of `ADD_MEM_REG`/`REM_MEM_REG`.
pub fn single_region_payload(region: MemRegion) -> [u8; SINGLE_REGION_LEN] {
    let mut b = [0u8; SINGLE_REGION_LEN];
    b[8..].copy_from_slice(&region.to_bytes());
    b
}

/// The payload of `GET_CONFIG`/`SET_CONFIG`: header then `data`.
pub fn config_payload(hdr: ConfigHeader, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(CONFIG_HDR_LEN + data.len());
    v.extend_from_slice(&hdr.to_bytes());
    v.extend_from_slice(data);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(request: u32, payload: &[u8], nfds: usize) -> RawMessage {
        RawMessage {
            header: Header::new(request, 0, payload.len() as u32),
            payload: payload.to_vec(),
            fds: (0..nfds)
                .map(|_| crate::sys::eventfd(false).unwrap())
                .collect(),
            fds_truncated: false,
        }
    }

    #[test]
    fn header_round_trip_and_flags() {
        let h = Header::new(req::SET_FEATURES, defs::NEED_REPLY_MASK, 8);
        let b = h.to_bytes();
        assert_eq!(b, [2, 0, 0, 0, 9, 0, 0, 0, 8, 0, 0, 0]);
        let back = Header::parse(&b);
        assert_eq!(back, h);
        assert!(back.need_reply() && !back.is_reply() && back.version() == 1);
    }

    #[test]
    fn payload_layouts_match_the_spec_bytes() {
        let a = VringAddr {
            index: 1,
            flags: 0,
            desc: 0x1000,
            used: 0x3000,
            avail: 0x2000,
            log: 0,
        };
        let b = a.to_bytes();
        assert_eq!(&b[8..16], &0x1000u64.to_ne_bytes());
        assert_eq!(
            &b[16..24],
            &0x3000u64.to_ne_bytes(),
            "used comes before avail"
        );
        assert_eq!(VringAddr::parse(&b), a);
        let r = MemRegion {
            gpa: 1,
            size: 2,
            uaddr: 3,
            mmap_offset: 4,
        };
        let p = single_region_payload(r);
        assert_eq!(&p[..8], &[0; 8], "padding first");
        assert_eq!(MemRegion::parse(p[8..].try_into().unwrap()), r);
    }

    #[test]
    fn sizes_and_fds_are_checked_per_request() {
        assert!(matches!(
            parse(raw(req::GET_FEATURES, &[], 0)),
            Ok(Request::GetFeatures)
        ));
        assert_eq!(
            parse(raw(req::GET_FEATURES, &[0; 4], 0)).unwrap_err(),
            MsgError::BadSize {
                expected: 0,
                got: 4
            }
        );
        assert_eq!(
            parse(raw(req::SET_FEATURES, &[0; 4], 0)).unwrap_err(),
            MsgError::BadSize {
                expected: 8,
                got: 4
            }
        );
        assert_eq!(
            parse(raw(req::SET_VRING_NUM, &[0; 8], 1)).unwrap_err(),
            MsgError::BadFdCount {
                expected: 0,
                got: 1
            }
        );
        // Kick: one fd unless the no-fd bit is set; index in bits 0-7 only.
        let kick = |v: u64, n| parse(raw(req::SET_VRING_KICK, &v.to_ne_bytes(), n));
        assert!(matches!(
            kick(3, 1),
            Ok(Request::SetVringKick(VringFile {
                index: 3,
                file: Some(_)
            }))
        ));
        assert!(matches!(
            kick(0x103, 0),
            Ok(Request::SetVringKick(VringFile {
                index: 3,
                file: None
            }))
        ));
        assert!(kick(3, 0).is_err());
        assert!(kick(0x103, 1).is_err());
        assert_eq!(kick(0x203, 1).unwrap_err(), MsgError::ReservedBits(0x203));
        // REM_MEM_REG may carry one fd, never two.
        assert!(parse(raw(req::REM_MEM_REG, &[0; 40], 1)).is_ok());
        assert!(parse(raw(req::REM_MEM_REG, &[0; 40], 2)).is_err());
        assert!(parse(raw(req::ADD_MEM_REG, &[0; 40], 0)).is_err());
        let mut m = raw(req::SET_FEATURES, &[0; 8], 0);
        m.header.flags |= defs::REPLY_MASK;
        assert_eq!(parse(m).unwrap_err(), MsgError::IsReply);
    }

    #[test]
    fn mem_table_needs_one_fd_per_region_and_at_most_eight() {
        let regions = [MemRegion {
            gpa: 0,
            size: 4096,
            uaddr: 0x7000_0000,
            mmap_offset: 0,
        }; 2];
        let p = mem_table_payload(&regions);
        assert_eq!(p.len(), 8 + 64);
        match parse(raw(req::SET_MEM_TABLE, &p, 2)) {
            Ok(Request::SetMemTable(v)) => assert_eq!(v.len(), 2),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse(raw(req::SET_MEM_TABLE, &p, 1)).unwrap_err(),
            MsgError::BadFdCount {
                expected: 2,
                got: 1
            }
        );
        // The full 8-slot struct is accepted too.
        let mut full = p.clone();
        full.resize(8 + 8 * 32, 0);
        assert!(parse(raw(req::SET_MEM_TABLE, &full, 2)).is_ok());
        let mut nine = p;
        nine[0] = 9;
        assert_eq!(
            parse(raw(req::SET_MEM_TABLE, &nine, 0)).unwrap_err(),
            MsgError::TooManyRegions(9)
        );
        assert!(parse(raw(req::SET_MEM_TABLE, &[0; 4], 0)).is_err());
    }

    #[test]
    fn config_size_must_match_and_unknown_requests_drop_their_fds() {
        let hdr = ConfigHeader {
            offset: 0,
            size: 6,
            flags: 0,
        };
        assert!(parse(raw(req::GET_CONFIG, &config_payload(hdr, &[0; 6]), 0)).is_ok());
        assert!(parse(raw(req::GET_CONFIG, &config_payload(hdr, &[0; 5]), 0)).is_err());
        let big = ConfigHeader { size: 300, ..hdr };
        assert_eq!(
            parse(raw(req::SET_CONFIG, &config_payload(big, &[0; 300]), 0)).unwrap_err(),
            MsgError::ConfigTooLarge(300)
        );
        assert!(matches!(
            parse(raw(999, &[1, 2, 3], 2)),
            Ok(Request::Unknown(999))
        ));
        match parse(raw(req::SET_LOG_BASE, &[0; 16], 1)) {
            Ok(Request::Unsupported(s)) => {
                assert_eq!(s.name, "SET_LOG_BASE");
                assert!(s.has_reply && !s.supported);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rule_table_rows_sit_at_their_ids() {
        for id in 1..=43 {
            let s = spec(id).unwrap();
            assert_eq!(s.id, id);
            assert_ne!(s.name, "UNKNOWN");
        }
        assert!(spec(0).is_none() && spec(44).is_none());
    }
}
