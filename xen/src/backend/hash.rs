//! A vif's hash settings (netback's `hash.c`): the algorithm, the enabled hash types,
//! the Toeplitz key and the mapping table a frontend sets through its control ring
//! ([`ctrl`](super::ctrl)), and what the guest rx path makes of them: a packet's hash,
//! passed to the frontend as an `XEN_NETIF_EXTRA_TYPE_HASH` extra.
//!
//! The control plane changes the settings under a mutex and bumps a generation; each
//! queue checks the generation once per burst (`HashView::refresh`) and takes a copy
//! when it moved, with `try_lock` (never blocking a burst: a busy lock is retried at
//! the next burst). A new mapping is published whole, after every entry was checked
//! (XSA-270), so no queue ever sees a half-written table.
//!
//! Must never: block the data path, or let a frontend's value index outside a table.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use vpmd_mempool::PktBuf;
use vpmd_pmd::inet::{be16, l3, ETH_HLEN, IPPROTO_TCP};

use super::toeplitz::{self, MAX_KEY_SIZE};
use crate::wire::defs::*;
use crate::wire::netif::HashInfo;

/// The largest mapping table a frontend may set (`XEN_NETBK_MAX_HASH_MAPPING_SIZE`).
pub const MAX_MAPPING_SIZE: u32 = 128;

/// Every hash type the backend computes (the answer to `GET_HASH_FLAGS`).
pub const SUPPORTED_FLAGS: u32 = XEN_NETIF_CTRL_HASH_TYPE_IPV4
    | XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP
    | XEN_NETIF_CTRL_HASH_TYPE_IPV6
    | XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP;

/// Hash types an extra names, by bit number (`_XEN_NETIF_CTRL_HASH_TYPE_IPV4` = 0 ..
/// `_IPV6_TCP` = 3): one past the last.
pub const HASH_TYPES: u8 = 4;

/// What a frontend set. A new connection starts from [`HashSettings::default`]: no
/// algorithm, no types, a zero key, an empty mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashSettings {
    /// `XEN_NETIF_CTRL_HASH_ALGORITHM_*`.
    pub algorithm: u32,
    /// `XEN_NETIF_CTRL_HASH_TYPE_*` bits.
    pub flags: u32,
    /// The Toeplitz key, zero-padded.
    pub key: [u8; MAX_KEY_SIZE],
    /// Queue numbers indexed by `hash % len`; its length is the mapping size.
    pub mapping: Vec<u32>,
}

impl Default for HashSettings {
    fn default() -> Self {
        Self {
            algorithm: XEN_NETIF_CTRL_HASH_ALGORITHM_NONE,
            flags: 0,
            key: [0; MAX_KEY_SIZE],
            mapping: Vec::new(),
        }
    }
}

impl HashSettings {
    /// `SET_HASH_ALGORITHM`.
    pub fn set_algorithm(&mut self, alg: u32) -> u32 {
        match alg {
            XEN_NETIF_CTRL_HASH_ALGORITHM_NONE | XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ => {
                self.algorithm = alg;
                XEN_NETIF_CTRL_STATUS_SUCCESS
            }
            _ => XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER,
        }
    }

    /// `SET_HASH_FLAGS`: only known types, and only once an algorithm is chosen.
    pub fn set_flags(&mut self, flags: u32) -> u32 {
        if flags & !SUPPORTED_FLAGS != 0 || self.algorithm == XEN_NETIF_CTRL_HASH_ALGORITHM_NONE {
            return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
        }
        self.flags = flags;
        XEN_NETIF_CTRL_STATUS_SUCCESS
    }

    /// `SET_HASH_KEY` once the key's bytes are copied (at most [`MAX_KEY_SIZE`]):
    /// the rest of the key is cleared.
    pub fn set_key(&mut self, key: &[u8]) -> u32 {
        if key.len() > MAX_KEY_SIZE {
            return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
        }
        self.key = [0; MAX_KEY_SIZE];
        self.key[..key.len()].copy_from_slice(key);
        XEN_NETIF_CTRL_STATUS_SUCCESS
    }

    /// `SET_HASH_MAPPING_SIZE`: a table of `size` entries, all queue 0.
    pub fn set_mapping_size(&mut self, size: u32) -> u32 {
        if size > MAX_MAPPING_SIZE {
            return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
        }
        self.mapping = vec![0; size as usize];
        XEN_NETIF_CTRL_STATUS_SUCCESS
    }

    /// Whether `len` entries at `offset` fit the table (checked before anything is
    /// copied; `offset + len` may wrap a `u32`, XSA-270).
    pub fn mapping_range_ok(&self, offset: u32, len: u32) -> bool {
        offset
            .checked_add(len)
            .is_some_and(|end| end as usize <= self.mapping.len())
    }

    /// `SET_HASH_MAPPING` once the entries are copied: every entry must name one of
    /// the `queues` connected, or nothing changes.
    pub fn set_mapping(&mut self, offset: u32, entries: &[u32], queues: u16) -> u32 {
        let Ok(len) = u32::try_from(entries.len()) else {
            return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
        };
        if !self.mapping_range_ok(offset, len) || entries.iter().any(|&q| q >= u32::from(queues)) {
            return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
        }
        let at = offset as usize;
        self.mapping[at..at + entries.len()].copy_from_slice(entries);
        XEN_NETIF_CTRL_STATUS_SUCCESS
    }

    /// The queue the frontend wants a packet of this hash on, among `queues`: its
    /// mapping table's entry, or `hash % queues` with no table (netback's
    /// `xenvif_select_queue`); `None` with no algorithm set.
    pub fn queue_for_hash(&self, hash: u32, queues: u16) -> Option<u16> {
        if self.algorithm == XEN_NETIF_CTRL_HASH_ALGORITHM_NONE || queues == 0 {
            return None;
        }
        let q = match self.mapping.len() {
            0 => hash % u32::from(queues),
            n => self.mapping[hash as usize % n],
        };
        u16::try_from(q).ok()
    }
}

/// A vif's settings, shared by its control ring and its queues.
#[derive(Debug, Default)]
pub struct HashShared {
    generation: AtomicU32,
    settings: Mutex<HashSettings>,
}

impl HashShared {
    /// No hashing.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of the current settings.
    pub fn settings(&self) -> HashSettings {
        self.settings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Changes the settings and publishes them to the queues.
    pub(crate) fn update<R>(&self, f: impl FnOnce(&mut HashSettings) -> R) -> R {
        let mut s = self.settings.lock().unwrap_or_else(PoisonError::into_inner);
        let r = f(&mut s);
        // Under the lock: a queue that reads the new generation under it sees `s`.
        self.generation.fetch_add(1, Ordering::Release);
        r
    }
}

/// What a queue hashes with: the key and the types, present only when the frontend
/// asked for Toeplitz with at least one type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hasher {
    key: [u8; MAX_KEY_SIZE],
    flags: u32,
}

/// One queue's view of the vif's settings, refreshed once per burst.
#[derive(Debug)]
pub(crate) struct HashView {
    shared: Arc<HashShared>,
    seen: u32,
    hasher: Option<Hasher>,
}

impl HashView {
    pub fn new(shared: Arc<HashShared>) -> Self {
        Self {
            shared,
            // Not a generation yet: the first burst takes the settings as they are.
            seen: u32::MAX,
            hasher: None,
        }
    }

    /// Picks up new settings, if any (one atomic load when nothing changed).
    #[inline]
    pub fn refresh(&mut self) -> Option<&Hasher> {
        if self.shared.generation.load(Ordering::Acquire) != self.seen {
            if let Ok(s) = self.shared.settings.try_lock() {
                self.seen = self.shared.generation.load(Ordering::Acquire);
                self.hasher = (s.algorithm == XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ
                    && s.flags != 0)
                    .then_some(Hasher {
                        key: s.key,
                        flags: s.flags,
                    });
            }
        }
        self.hasher.as_ref()
    }
}

/// Header bytes a hash may need: Ethernet, the longest IPv4 header, the TCP ports.
const HDR: usize = 14 + 60 + 4;

impl Hasher {
    /// The hash extra for a packet, if its headers match an enabled type.
    pub fn extra<B: PktBuf>(&self, m: &B) -> Option<HashInfo> {
        let mut buf = [0u8; HDR];
        let (kind, input, len) = tuple(headers(m, &mut buf), self.flags)?;
        Some(HashInfo {
            kind,
            algorithm: XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ as u8,
            value: toeplitz::hash(&self.key, &input[..len]).to_le_bytes(),
        })
    }
}

/// The packet's first [`HDR`] bytes (fewer if it is shorter), gathered from its
/// segments only when the first one is too short.
fn headers<'a, B: PktBuf>(m: &'a B, buf: &'a mut [u8; HDR]) -> &'a [u8] {
    let d = m.data();
    if d.len() >= HDR || m.next().is_none() {
        return &d[..d.len().min(HDR)];
    }
    let n = vpmd_pmd::csum::gather(m, 0, buf);
    &buf[..n]
}

/// The hash type (`_XEN_NETIF_CTRL_HASH_TYPE_*` bit number) and Toeplitz input of a
/// frame, per the enabled `flags`: addresses and TCP ports when the TCP type is on and
/// the frame is unfragmented TCP, else addresses when the address type is on.
fn tuple(h: &[u8], flags: u32) -> Option<(u8, [u8; 36], usize)> {
    // Untagged frames only, and no walk through IPv6 extension headers.
    let ip = l3(h, ETH_HLEN, be16(h, ETH_HLEN - 2)?)?;
    let fixed = &h[ip.off..ip.off + ip.len];
    let ports = h.get(ip.off + ip.len..ip.off + ip.len + 4);
    let mut t = [0u8; 36];
    let tcp = ip.proto == IPPROTO_TCP && ip.frag == 0;
    if ip.v6 {
        t[..32].copy_from_slice(&fixed[8..40]);
        match ports {
            Some(p) if tcp && flags & XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP != 0 => {
                t[32..36].copy_from_slice(p);
                Some((3, t, 36))
            }
            _ => (flags & XEN_NETIF_CTRL_HASH_TYPE_IPV6 != 0).then_some((2, t, 32)),
        }
    } else {
        t[..8].copy_from_slice(&fixed[12..20]);
        match ports {
            Some(p) if tcp && flags & XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP != 0 => {
                t[8..12].copy_from_slice(p);
                Some((1, t, 12))
            }
            _ => (flags & XEN_NETIF_CTRL_HASH_TYPE_IPV4 != 0).then_some((0, t, 8)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ethernet + IPv4 (`proto`, `frag` field) frame with ports after the header.
    fn v4(proto: u8, frag: u16) -> Vec<u8> {
        let mut f = vec![0xa5; 14];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let mut ip = [0u8; 20];
        ip[0] = 0x45;
        ip[6..8].copy_from_slice(&frag.to_be_bytes());
        ip[9] = proto;
        ip[12..20].copy_from_slice(&[66, 9, 149, 187, 161, 142, 100, 80]);
        f.extend(ip);
        f.extend([0x0a, 0xea, 0x06, 0xe6]); // 2794 -> 1766
        f
    }

    const ALL: u32 = SUPPORTED_FLAGS;

    #[test]
    fn tuples_follow_the_enabled_types() {
        let (k, t, n) = tuple(&v4(6, 0), ALL).unwrap();
        assert_eq!((k, n), (1, 12));
        assert_eq!(
            t[..12],
            [66, 9, 149, 187, 161, 142, 100, 80, 0x0a, 0xea, 0x06, 0xe6]
        );
        assert_eq!(
            tuple(&v4(6, 0), XEN_NETIF_CTRL_HASH_TYPE_IPV4).unwrap().0,
            0
        );
        assert!(tuple(&v4(6, 0), XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP).is_none());
        // UDP and fragments hash on addresses only.
        assert_eq!(tuple(&v4(17, 0), ALL).unwrap().0, 0);
        assert_eq!(tuple(&v4(6, 0x2000), ALL).unwrap().0, 0);
        assert!(tuple(&v4(17, 0), XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP).is_none());
    }

    #[test]
    fn short_or_odd_frames_have_no_tuple() {
        let f = v4(6, 0);
        for n in 0..34 {
            assert!(tuple(&f[..n], ALL).is_none(), "{n}");
        }
        // Ports cut off: the address hash.
        assert_eq!(tuple(&f[..36], ALL).unwrap().0, 0);
        let mut bad_ihl = f.clone();
        bad_ihl[14] = 0x44;
        assert!(tuple(&bad_ihl, ALL).is_none());
        let mut arp = f;
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert!(tuple(&arp, ALL).is_none());
    }

    #[test]
    fn settings_reject_what_netback_rejects() {
        let mut s = HashSettings::default();
        assert_eq!(s.set_flags(ALL), XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
        assert_eq!(s.set_algorithm(2), XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
        assert_eq!(s.set_algorithm(1), XEN_NETIF_CTRL_STATUS_SUCCESS);
        assert_eq!(s.set_flags(1 << 4), XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
        assert_eq!(s.set_flags(ALL), XEN_NETIF_CTRL_STATUS_SUCCESS);
        assert_eq!(s.set_key(&[1; 41]), XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
        assert_eq!(
            s.set_mapping_size(129),
            XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER
        );
        assert_eq!(s.set_mapping_size(4), XEN_NETIF_CTRL_STATUS_SUCCESS);
        assert!(!s.mapping_range_ok(u32::MAX, 2));
        assert!(!s.mapping_range_ok(3, 2));
        assert_eq!(
            s.set_mapping(2, &[1, 2], 2),
            XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER
        );
        assert_eq!(s.mapping, [0; 4], "nothing changes on a bad entry");
        assert_eq!(s.set_mapping(2, &[1, 1], 2), XEN_NETIF_CTRL_STATUS_SUCCESS);
        assert_eq!(s.mapping, [0, 0, 1, 1]);
        assert_eq!(s.queue_for_hash(7, 2), Some(1));
        assert_eq!(HashSettings::default().queue_for_hash(7, 2), None);
    }

    #[test]
    fn a_view_sees_published_settings() {
        let shared = Arc::new(HashShared::new());
        let mut v = HashView::new(Arc::clone(&shared));
        assert!(v.refresh().is_none());
        shared.update(|s| s.set_algorithm(XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ));
        assert!(v.refresh().is_none(), "no types yet");
        shared.update(|s| s.set_flags(XEN_NETIF_CTRL_HASH_TYPE_IPV4));
        assert_eq!(v.refresh().unwrap().flags, XEN_NETIF_CTRL_HASH_TYPE_IPV4);
    }
}
