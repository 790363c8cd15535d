//! The Toeplitz hash as `io/netif.h` defines it (`XEN_NETIF_DEFINE_TOEPLITZ`, the
//! Microsoft RSS algorithm): each set bit of the input, most significant first, XORs
//! in the 32-bit window of the key that starts at that bit. A key shorter than the
//! input needs reads as zeros beyond its end.
//!
//! Inputs (network byte order, as in the packet): IPv4 source and destination
//! addresses (8 bytes), then the TCP source and destination ports (12); IPv6 the same
//! (32, 36).
//!
//! Must never: panic on any key or input length, or allocate.

/// The largest key a frontend may set (`XEN_NETBK_MAX_HASH_KEY_SIZE`).
pub const MAX_KEY_SIZE: usize = 40;

/// The Toeplitz hash of `input` under `key`.
pub fn hash(key: &[u8; MAX_KEY_SIZE], input: &[u8]) -> u32 {
    let k = |i: usize| u64::from(key.get(i).copied().unwrap_or(0));
    // The key's next 64 bits; the top 32 are the window of the current input bit.
    let mut window = (0..8).fold(0u64, |w, i| (w << 8) | k(i));
    let mut acc = 0u64;
    for (i, &byte) in input.iter().enumerate() {
        for bit in (0..8).rev() {
            if byte >> bit & 1 != 0 {
                acc ^= window;
            }
            window <<= 1;
        }
        // Shifted by a whole byte: the low byte is free for the key's next one.
        window |= k(i + 8);
    }
    (acc >> 32) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key of Microsoft's RSS verification suite.
    const MS_KEY: [u8; 40] = [
        0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f,
        0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
        0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
    ];

    fn input(src: &[u8], dst: &[u8], ports: Option<(u16, u16)>) -> Vec<u8> {
        let mut v = [src, dst].concat();
        if let Some((s, d)) = ports {
            v.extend(s.to_be_bytes());
            v.extend(d.to_be_bytes());
        }
        v
    }

    fn v6(s: &str) -> [u8; 16] {
        s.parse::<std::net::Ipv6Addr>().unwrap().octets()
    }

    /// Source, destination, source port, destination port, address hash, TCP hash.
    type V4Case = ([u8; 4], [u8; 4], u16, u16, u32, u32);

    #[test]
    fn microsoft_ipv4_vectors() {
        let cases: [V4Case; 5] = [
            (
                [66, 9, 149, 187],
                [161, 142, 100, 80],
                2794,
                1766,
                0x323e8fc2,
                0x51ccc178,
            ),
            (
                [199, 92, 111, 2],
                [65, 69, 140, 83],
                14230,
                4739,
                0xd718262a,
                0xc626b0ea,
            ),
            (
                [24, 19, 198, 95],
                [12, 22, 207, 184],
                12898,
                38024,
                0xd2d0a5de,
                0x5c2b394a,
            ),
            (
                [38, 27, 205, 30],
                [209, 142, 163, 6],
                48228,
                2217,
                0x82989176,
                0xafc7327f,
            ),
            (
                [153, 39, 163, 191],
                [202, 188, 127, 2],
                44251,
                1303,
                0x5d1809c5,
                0x10e828a2,
            ),
        ];
        for (s, d, sp, dp, l3, l4) in cases {
            assert_eq!(hash(&MS_KEY, &input(&s, &d, None)), l3, "{s:?}");
            assert_eq!(hash(&MS_KEY, &input(&s, &d, Some((sp, dp)))), l4, "{s:?}");
        }
    }

    #[test]
    fn microsoft_ipv6_vectors() {
        let cases = [
            (
                "3ffe:2501:200:1fff::7",
                "3ffe:2501:200:3::1",
                2794,
                1766,
                0x2cc18cd5,
                0x40207d3d,
            ),
            (
                "3ffe:501:8::260:97ff:fe40:efab",
                "ff02::1",
                14230,
                4739,
                0x0f0c461c,
                0xdde51bbf,
            ),
            (
                "3ffe:1900:4545:3:200:f8ff:fe21:67cf",
                "fe80::200:f8ff:fe21:67cf",
                44251,
                38024,
                0x4b61e985,
                0x02d1feef,
            ),
        ];
        for (s, d, sp, dp, l3, l4) in cases {
            let (s, d) = (v6(s), v6(d));
            assert_eq!(hash(&MS_KEY, &input(&s, &d, None)), l3);
            assert_eq!(hash(&MS_KEY, &input(&s, &d, Some((sp, dp)))), l4);
        }
    }

    #[test]
    fn zero_key_and_empty_input_hash_to_zero() {
        assert_eq!(hash(&[0; 40], &[0xff; 36]), 0);
        assert_eq!(hash(&MS_KEY, &[]), 0);
        // Longer than the key: the missing key bits are zeros, nothing panics.
        let _ = hash(&MS_KEY, &[0xff; 64]);
    }
}
