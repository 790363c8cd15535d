//! The Internet checksum (RFC 1071) over packet bytes that vpmd owns: the PMDs fill it
//! where a peer cannot take a checksum offload, vpmd-fwd's csum-like engines check and
//! fill it.
//!
//! Sums big-endian 16-bit words; a span that ends on an odd byte carries it into the next
//! span, so a packet's segments can be summed one after another.

use vpmd_mempool::PktBuf;

/// A running one's-complement sum.
#[derive(Debug, Clone, Copy, Default)]
pub struct Csum {
    sum: u64,
    carry: Option<u8>,
}

impl Csum {
    /// Adds `data`, continuing where the previous span stopped.
    pub fn add(&mut self, mut data: &[u8]) {
        if let (Some(hi), Some((&lo, rest))) = (self.carry, data.split_first()) {
            self.sum += u16::from_be_bytes([hi, lo]) as u64;
            self.carry = None;
            data = rest;
        }
        let mut words = data.chunks_exact(2);
        for w in &mut words {
            self.sum += u16::from_be_bytes([w[0], w[1]]) as u64;
        }
        if let [last] = words.remainder() {
            self.carry = Some(*last);
        }
    }

    /// Adds one 16-bit word (at an even offset).
    #[inline]
    pub fn word(&mut self, w: u16) {
        self.sum += u64::from(w);
    }

    /// Takes out a word that was added at an even offset (a checksum field summed with
    /// its header), so the rest can be checked or filled.
    #[inline]
    pub fn without(mut self, w: u16) -> Self {
        self.sum -= u64::from(w);
        self
    }

    /// Adds bytes `from..to` of packet `m`, across its segments.
    pub fn add_packet<B: PktBuf>(&mut self, m: &B, from: u32, to: u32) {
        let (mut seg, mut at) = (Some(m), 0u32);
        while let Some(s) = seg {
            let d = s.data();
            let end = at + d.len() as u32;
            if end > from && at < to {
                let lo = from.saturating_sub(at) as usize;
                let hi = (to.min(end) - at) as usize;
                self.add(d.get(lo..hi).unwrap_or_default());
            }
            if end >= to {
                break;
            }
            at = end;
            seg = s.next();
        }
    }

    /// The folded 16-bit sum (not complemented).
    pub fn fold(&self) -> u16 {
        let mut s = self.sum + self.carry.map_or(0, |b| (b as u64) << 8);
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        s as u16
    }

    /// The checksum to store: the complement of the folded sum.
    #[inline]
    pub fn checksum(self) -> u16 {
        !self.fold()
    }

    /// Whether `field` is the right checksum for this sum (taken without the field);
    /// 0 and 0xffff are the same value in one's complement.
    #[inline]
    pub fn verifies(self, field: u16) -> bool {
        let mut s = self;
        s.word(field);
        s.fold() == 0xffff
    }
}

/// The sum of `bytes`.
#[inline]
pub fn sum(bytes: &[u8]) -> Csum {
    let mut c = Csum::default();
    c.add(bytes);
    c
}

/// Sums bytes `from..to` of packet `m` across its segments.
pub fn sum_packet<B: PktBuf>(m: &B, from: u32, to: u32) -> Csum {
    let mut c = Csum::default();
    c.add_packet(m, from, to);
    c
}

/// Copies bytes `from..` of packet `m` into `out` across segments; returns how many.
pub fn gather<B: PktBuf>(m: &B, from: u32, out: &mut [u8]) -> usize {
    let (mut seg, mut at, mut n) = (Some(m), 0u32, 0usize);
    while let Some(s) = seg {
        if n == out.len() {
            break;
        }
        let d = s.data();
        let end = at + d.len() as u32;
        if end > from {
            let lo = from.saturating_sub(at) as usize;
            let src = d.get(lo..).unwrap_or_default();
            let k = src.len().min(out.len() - n);
            out[n..n + k].copy_from_slice(&src[..k]);
            n += k;
        }
        at = end;
        seg = s.next();
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example_and_odd_spans() {
        // RFC 1071 section 3: the sum of 0001 f203 f4f5 f6f7 folds to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        let mut c = Csum::default();
        c.add(&data);
        assert_eq!(c.fold(), 0xddf2);
        for split in 0..data.len() {
            let mut c = Csum::default();
            c.add(&data[..split]);
            c.add(&data[split..]);
            assert_eq!(c.fold(), 0xddf2, "split at {split}");
        }
        let mut odd = Csum::default();
        odd.add(&[0xab]);
        assert_eq!(odd.fold(), 0xab00);
    }

    #[test]
    fn a_header_checksum_verifies_and_fills() {
        // 192.168.0.1 -> 192.168.0.199, UDP, checksum 0xb861 (a textbook example).
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(sum(&h).without(0xb861).checksum(), 0xb861);
        assert!(sum(&h).without(0xb861).verifies(0xb861));
        assert!(!sum(&h).without(0xb861).verifies(0xb862));
    }
}
