//! `struct virtio_net_hdr` and `virtio_net_hdr_mrg_rxbuf` (virtio 1.2 §5.1.6), the header in
//! front of every packet on both rings, as a value type.
//!
//! The header is 10 bytes, or 12 with `num_buffers` when `VIRTIO_NET_F_MRG_RXBUF` or
//! `VIRTIO_F_VERSION_1` is negotiated ([`crate::virtio::net_hdr_len`]). Fields are
//! little-endian. Parsing and emitting work on a 12-byte array; a 10-byte header uses the
//! first 10 (`num_buffers` reads as whatever the array held, and is not sent).

/// Byte ranges of the fields.
mod field {
    pub(super) const FLAGS: usize = 0;
    pub(super) const GSO_TYPE: usize = 1;
    pub(super) const HDR_LEN: usize = 2;
    pub(super) const GSO_SIZE: usize = 4;
    pub(super) const CSUM_START: usize = 6;
    pub(super) const CSUM_OFFSET: usize = 8;
    pub(super) const NUM_BUFFERS: usize = 10;
    pub(super) const END: usize = 12;
}

/// The virtio-net header, parsed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetHdr {
    /// `VIRTIO_NET_HDR_F_*`.
    pub flags: u8,
    /// `VIRTIO_NET_HDR_GSO_*`, possibly with the ECN bit.
    pub gso_type: u8,
    /// Length of the headers to replicate in each segment (GSO).
    pub hdr_len: u16,
    /// Segment size (GSO).
    pub gso_size: u16,
    /// Where checksumming starts (`NEEDS_CSUM`).
    pub csum_start: u16,
    /// Where, after `csum_start`, the checksum goes (`NEEDS_CSUM`).
    pub csum_offset: u16,
    /// Buffers this packet spans (mergeable rx buffers; 1 otherwise).
    pub num_buffers: u16,
}

impl NetHdr {
    /// Bytes of the largest header (`virtio_net_hdr_mrg_rxbuf`).
    pub const MAX_LEN: usize = field::END;

    #[inline]
    fn u16_at(b: &[u8; Self::MAX_LEN], at: usize) -> u16 {
        u16::from_le_bytes([b[at], b[at + 1]])
    }

    /// Parses a header from its 12-byte array.
    #[inline]
    pub fn parse(b: &[u8; Self::MAX_LEN]) -> Self {
        Self {
            flags: b[field::FLAGS],
            gso_type: b[field::GSO_TYPE],
            hdr_len: Self::u16_at(b, field::HDR_LEN),
            gso_size: Self::u16_at(b, field::GSO_SIZE),
            csum_start: Self::u16_at(b, field::CSUM_START),
            csum_offset: Self::u16_at(b, field::CSUM_OFFSET),
            num_buffers: Self::u16_at(b, field::NUM_BUFFERS),
        }
    }

    /// The header's 12 bytes; send the first [`crate::virtio::net_hdr_len`] of them.
    #[inline]
    pub fn emit(&self) -> [u8; Self::MAX_LEN] {
        let mut b = [0u8; Self::MAX_LEN];
        b[field::FLAGS] = self.flags;
        b[field::GSO_TYPE] = self.gso_type;
        for (at, v) in [
            (field::HDR_LEN, self.hdr_len),
            (field::GSO_SIZE, self.gso_size),
            (field::CSUM_START, self.csum_start),
            (field::CSUM_OFFSET, self.csum_offset),
            (field::NUM_BUFFERS, self.num_buffers),
        ] {
            b[at..at + 2].copy_from_slice(&v.to_le_bytes());
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TCPv4 GSO header as Linux's virtio_net sends it: NEEDS_CSUM, csum_start 34,
    /// csum_offset 16, hdr_len 66, gso_size 1448, num_buffers 3.
    const BYTES: [u8; 12] = [
        0x01, 0x01, 0x42, 0x00, 0xa8, 0x05, 0x22, 0x00, 0x10, 0x00, 0x03, 0x00,
    ];

    #[test]
    fn parse_and_emit_match_the_wire_layout() {
        let h = NetHdr::parse(&BYTES);
        assert_eq!(
            h,
            NetHdr {
                flags: 1,
                gso_type: 1,
                hdr_len: 66,
                gso_size: 1448,
                csum_start: 34,
                csum_offset: 16,
                num_buffers: 3,
            }
        );
        assert_eq!(h.emit(), BYTES);
    }

    #[test]
    fn emit_writes_every_byte() {
        // Emitting must not rely on a zeroed buffer: every byte is written.
        let h = NetHdr::parse(&[0xa5; 12]);
        assert_eq!(h.emit(), [0xa5; 12]);
        assert_eq!(NetHdr::default().emit(), [0; 12]);
    }
}
