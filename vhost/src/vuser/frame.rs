//! The frames vpmd's front-end sends: an Ethernet header (locally administered MACs,
//! the IEEE local experimental EtherType 0x88b5) and a probe record right behind it, a
//! magic, a sequence number and a send timestamp, so frames looped back through a
//! back-end can be told apart from anything else and timed.
//!
//! Backends in io mode return the bytes as sent; macswap only swaps the MACs, so the
//! record survives both.

/// The probe record's first bytes.
pub const MAGIC: [u8; 8] = *b"vpmdprob";
/// EtherType of probe frames (IEEE 802 local experimental).
pub const ETHERTYPE: u16 = 0x88b5;
/// Where the record starts in the frame (after the Ethernet header).
const RECORD: usize = 14;
/// Offset of the sequence number (little-endian `u64`); the timestamp follows it.
pub(crate) const SEQ: usize = RECORD + 8;
/// Smallest frame that holds the record.
pub const MIN_FRAME_LEN: u16 = (SEQ + 16) as u16;

/// Destination and source MACs of probe frames.
const DST: [u8; 6] = [0x02, 0x76, 0x70, 0x6d, 0xff, 0x01];
const SRC: [u8; 6] = [0x02, 0x76, 0x70, 0x6d, 0xff, 0x02];

/// What a probe frame carries besides its magic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Sequence number, from 0 per transmit queue.
    pub seq: u64,
    /// When the frame was due to be sent, in time-stamp counter ticks
    /// (`vpmd_fastpath::lcore::rdtsc`).
    pub tsc: u64,
}

impl Stamp {
    /// The 16 bytes written at [`SEQ`].
    pub(crate) fn to_bytes(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.seq.to_le_bytes());
        b[8..].copy_from_slice(&self.tsc.to_le_bytes());
        b
    }
}

/// A probe frame of `len` bytes (at least [`MIN_FRAME_LEN`]) with a zero stamp and a
/// recognisable fill after the record.
pub fn template(len: u16) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len as usize).map(|i| i as u8).collect();
    f[..6].copy_from_slice(&DST);
    f[6..12].copy_from_slice(&SRC);
    f[12..14].copy_from_slice(&ETHERTYPE.to_be_bytes());
    f[RECORD..SEQ].copy_from_slice(&MAGIC);
    f[SEQ..SEQ + 16].fill(0);
    f
}

/// The stamp of a frame whose first bytes are `head`, if it is a probe frame (magic in
/// place, MACs in either order).
pub fn parse(head: &[u8]) -> Option<Stamp> {
    let rec = head.get(RECORD..SEQ + 16)?;
    if rec[..8] != MAGIC || head[12..14] != ETHERTYPE.to_be_bytes() {
        return None;
    }
    let u = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
    Some(Stamp {
        seq: u(&rec[8..16]),
        tsc: u(&rec[16..24]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip_through_a_template_and_survive_a_mac_swap() {
        let mut f = template(64);
        assert_eq!(f.len(), 64);
        assert_eq!(parse(&f), Some(Stamp { seq: 0, tsc: 0 }));
        let s = Stamp {
            seq: 7,
            tsc: 0x1234_5678_9abc,
        };
        f[SEQ..SEQ + 16].copy_from_slice(&s.to_bytes());
        let (dst, src) = f.split_at_mut(6);
        dst.swap_with_slice(&mut src[..6]);
        assert_eq!(parse(&f), Some(s));
        assert_eq!(parse(&f[..MIN_FRAME_LEN as usize]), Some(s));
        assert_eq!(parse(&f[..MIN_FRAME_LEN as usize - 1]), None, "too short");
        f[RECORD] ^= 1;
        assert_eq!(parse(&f), None, "bad magic");
    }
}
