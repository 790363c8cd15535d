//! Grant-table ABI: references, domain ids, the v1 grant entry a guest writes into its
//! grant table, and the `GNTST_*` status of a grant operation (`grant_table.h`).

use super::defs::*;
use super::{assert_layout, flags, get_u16, get_u32, put_u16, put_u32, Entry};

/// A grant reference: an index into the granting domain's grant table (`grant_ref_t`).
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct GrantRef(pub u32);

/// A domain id (`domid_t`).
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct DomId(pub u16);

impl DomId {
    /// The control domain, where backends usually run.
    pub const DOM0: Self = Self(0);
    /// "The calling domain" (`DOMID_SELF`).
    pub const SELF: Self = Self(DOMID_SELF);
}

impl std::fmt::Display for DomId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

flags! {
    /// `GTF_*`: the type (low two bits) and flags of a grant entry.
    GrantFlags(u16) {
        /// Type: `domid` may map and access `frame` (`GTF_permit_access`).
        PERMIT_ACCESS = GTF_PERMIT_ACCESS;
        /// Type: `domid` may transfer a page in (`GTF_accept_transfer`).
        ACCEPT_TRANSFER = GTF_ACCEPT_TRANSFER;
        /// `domid` may only read (`GTF_readonly`).
        READONLY = GTF_READONLY;
        /// Xen: pinned or mapped for reading (`GTF_reading`).
        READING = GTF_READING;
        /// Xen: pinned or mapped for writing (`GTF_writing`).
        WRITING = GTF_WRITING;
        /// Sub-page grant, v2 only (`GTF_sub_page`).
        SUB_PAGE = GTF_SUB_PAGE;
    }
}

impl GrantFlags {
    /// The entry type (`flags & GTF_type_mask`).
    #[inline]
    pub const fn kind(self) -> u16 {
        self.0 & GTF_TYPE_MASK
    }

    /// Whether Xen has the entry pinned or mapped (the guest may not revoke it).
    #[inline]
    pub const fn in_use(self) -> bool {
        self.0 & (GTF_READING | GTF_WRITING) != 0
    }
}

/// One v1 grant-table entry (`struct grant_entry_v1`): 512 per 4 KiB table frame.
///
/// Xen updates `flags` and `domid` together with a 32-bit compare-and-swap on the
/// entry's first word ([`GrantEntryV1::header_word`]), never as two halves.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GrantEntryV1 {
    /// `GTF_*`.
    pub flags: GrantFlags,
    /// The domain granted access.
    pub domid: DomId,
    /// The guest frame number granted (`GTF_permit_access`).
    pub frame: u32,
}
assert_layout!(GrantEntryV1, 8, { flags: 0, domid: 2, frame: 4 });

impl GrantEntryV1 {
    /// Entries per table frame.
    pub const PER_FRAME: usize = XEN_PAGE_SIZE / Self::SIZE;

    /// The first 32-bit word in memory order (little-endian): `flags | domid << 16`.
    #[inline]
    pub const fn header_word(flags: GrantFlags, domid: DomId) -> u32 {
        flags.0 as u32 | (domid.0 as u32) << 16
    }

    /// Splits a header word back into flags and domid.
    #[inline]
    pub const fn split_header(word: u32) -> (GrantFlags, DomId) {
        (GrantFlags(word as u16), DomId((word >> 16) as u16))
    }
}

impl Entry for GrantEntryV1 {
    const SIZE: usize = 8;
    type Bytes = [u8; 8];

    fn decode(b: &[u8; 8]) -> Self {
        const F: usize = std::mem::offset_of!(GrantEntryV1, flags);
        const D: usize = std::mem::offset_of!(GrantEntryV1, domid);
        const R: usize = std::mem::offset_of!(GrantEntryV1, frame);
        Self {
            flags: GrantFlags(get_u16::<8, F>(b)),
            domid: DomId(get_u16::<8, D>(b)),
            frame: get_u32::<8, R>(b),
        }
    }

    fn encode(&self) -> [u8; 8] {
        const F: usize = std::mem::offset_of!(GrantEntryV1, flags);
        const D: usize = std::mem::offset_of!(GrantEntryV1, domid);
        const R: usize = std::mem::offset_of!(GrantEntryV1, frame);
        let mut b = [0; 8];
        put_u16::<8, F>(&mut b, self.flags.0);
        put_u16::<8, D>(&mut b, self.domid.0);
        put_u32::<8, R>(&mut b, self.frame);
        b
    }
}

/// The result of one grant operation or copy segment (`int16_t status`, `GNTST_*`).
///
/// A newtype rather than an enum: a real hypervisor may return codes newer than this
/// list, and they must survive the trip to the caller.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct GrantStatus(pub i16);

impl GrantStatus {
    /// `GNTST_okay`.
    pub const OKAY: Self = Self(GNTST_OKAY);
    /// `GNTST_general_error`: bad flags or domid in the entry, write to a read-only
    /// grant, an unstable entry.
    pub const GENERAL_ERROR: Self = Self(GNTST_GENERAL_ERROR);
    /// `GNTST_bad_domain`.
    pub const BAD_DOMAIN: Self = Self(GNTST_BAD_DOMAIN);
    /// `GNTST_bad_gntref`: the reference is past the end of the table.
    pub const BAD_GNTREF: Self = Self(GNTST_BAD_GNTREF);
    /// `GNTST_bad_handle`.
    pub const BAD_HANDLE: Self = Self(GNTST_BAD_HANDLE);
    /// `GNTST_bad_virt_addr`.
    pub const BAD_VIRT_ADDR: Self = Self(GNTST_BAD_VIRT_ADDR);
    /// `GNTST_bad_dev_addr`.
    pub const BAD_DEV_ADDR: Self = Self(GNTST_BAD_DEV_ADDR);
    /// `GNTST_no_device_space`.
    pub const NO_DEVICE_SPACE: Self = Self(GNTST_NO_DEVICE_SPACE);
    /// `GNTST_permission_denied`.
    pub const PERMISSION_DENIED: Self = Self(GNTST_PERMISSION_DENIED);
    /// `GNTST_bad_page`: the granted frame is not the guest's.
    pub const BAD_PAGE: Self = Self(GNTST_BAD_PAGE);
    /// `GNTST_bad_copy_arg`: a copy crosses a page boundary.
    pub const BAD_COPY_ARG: Self = Self(GNTST_BAD_COPY_ARG);
    /// `GNTST_address_too_big`.
    pub const ADDRESS_TOO_BIG: Self = Self(GNTST_ADDRESS_TOO_BIG);
    /// `GNTST_eagain`: not done (page paged out); try again.
    pub const EAGAIN: Self = Self(GNTST_EAGAIN);
    /// `GNTST_no_space`.
    pub const NO_SPACE: Self = Self(GNTST_NO_SPACE);

    /// Whether the operation succeeded.
    #[inline]
    pub const fn is_ok(self) -> bool {
        self.0 == GNTST_OKAY
    }

    /// Xen's message for the code (`GNTTABOP_error_msgs`).
    pub const fn message(self) -> &'static str {
        match self.0 {
            GNTST_OKAY => "okay",
            GNTST_GENERAL_ERROR => "undefined error",
            GNTST_BAD_DOMAIN => "unrecognised domain id",
            GNTST_BAD_GNTREF => "invalid grant reference",
            GNTST_BAD_HANDLE => "invalid mapping handle",
            GNTST_BAD_VIRT_ADDR => "invalid virtual address",
            GNTST_BAD_DEV_ADDR => "invalid device address",
            GNTST_NO_DEVICE_SPACE => "no spare translation slot in the I/O MMU",
            GNTST_PERMISSION_DENIED => "permission denied",
            GNTST_BAD_PAGE => "bad page",
            GNTST_BAD_COPY_ARG => "copy arguments cross page boundary",
            GNTST_ADDRESS_TOO_BIG => "page address size too large",
            GNTST_EAGAIN => "operation not done; try again",
            GNTST_NO_SPACE => "out of space",
            _ => "unknown grant status",
        }
    }
}

impl std::fmt::Debug for GrantStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GrantStatus({}: {})", self.0, self.message())
    }
}

impl std::fmt::Display for GrantStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (GNTST {})", self.message(), self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_round_trips_little_endian() {
        let bytes = [0x05, 0x00, 0x07, 0x00, 0x34, 0x12, 0x00, 0x00];
        let e = GrantEntryV1::decode(&bytes);
        assert_eq!(e.flags, GrantFlags::PERMIT_ACCESS | GrantFlags::READONLY);
        assert_eq!((e.domid, e.frame), (DomId(7), 0x1234));
        assert_eq!(e.encode(), bytes);
        // The header word is the first four bytes read as a little-endian u32.
        let word = GrantEntryV1::header_word(e.flags, e.domid);
        assert_eq!(word.to_le_bytes(), bytes[..4]);
        assert_eq!(GrantEntryV1::split_header(word), (e.flags, e.domid));
        assert_eq!(GrantEntryV1::PER_FRAME, 512);
    }

    #[test]
    fn flags_name_type_use_and_unknown_bits() {
        let f = GrantFlags(GTF_PERMIT_ACCESS | GTF_READING | 0x8000);
        assert_eq!(f.kind(), GTF_PERMIT_ACCESS);
        assert!(f.in_use() && !GrantFlags::PERMIT_ACCESS.in_use());
        assert_eq!(f.unknown(), 0x8000);
        assert_eq!(GrantFlags(GTF_TRANSITIVE).kind(), GTF_TRANSITIVE);
    }

    #[test]
    fn status_codes_and_messages() {
        assert!(GrantStatus::OKAY.is_ok() && !GrantStatus::BAD_PAGE.is_ok());
        assert_eq!(GrantStatus::BAD_COPY_ARG.0, -10);
        assert_eq!(GrantStatus::NO_SPACE.0, -13);
        assert_eq!(GrantStatus(-3).message(), "invalid grant reference");
        assert_eq!(GrantStatus(-99).message(), "unknown grant status");
    }
}
