//! Per-vring counters: DPDK 22.11 net_vhost's per-queue xstats (lib/vhost
//! `vhost_vq_stat_strings`, names and order), then vpmd's own counters of what a guest
//! did wrong and what was dropped.
//!
//! One writer, the lcore polling the vring ([`Counter`] is a relaxed load and store, no
//! read-modify-write). Bursts tally in a local `Tally` and add once per burst, so a
//! packet costs no shared-memory write. Anyone may read, e.g. for `xstats`.

#![deny(unsafe_code)]

use vpmd_pmd::Counter;

/// What one vring counts.
#[derive(Debug, Default)]
pub struct VringCounters {
    /// Packets delivered (rx: handed to the caller; tx: written into the guest's ring).
    pub good_packets: Counter,
    /// Bytes of those packets (frame bytes, without the virtio-net header).
    pub good_bytes: Counter,
    /// Delivered packets to a multicast (not broadcast) Ethernet address.
    pub multicast_packets: Counter,
    /// Delivered packets to the broadcast Ethernet address.
    pub broadcast_packets: Counter,
    /// Delivered packets shorter than 64 bytes.
    pub undersize_packets: Counter,
    /// Delivered packets of exactly 64 bytes.
    pub size_64_packets: Counter,
    /// Delivered packets of 65..=127 bytes.
    pub size_65_127_packets: Counter,
    /// Delivered packets of 128..=255 bytes.
    pub size_128_255_packets: Counter,
    /// Delivered packets of 256..=511 bytes.
    pub size_256_511_packets: Counter,
    /// Delivered packets of 512..=1023 bytes.
    pub size_512_1023_packets: Counter,
    /// Delivered packets of 1024..=1518 bytes.
    pub size_1024_1518_packets: Counter,
    /// Delivered packets of 1519 bytes or more.
    pub size_1519_max_packets: Counter,
    /// Interrupts sent to the guest (call eventfd writes).
    pub guest_notifications: Counter,
    /// Packets dropped for a malformed descriptor: head or `next` out of range, a buffer
    /// outside guest memory, a buffer of the wrong direction.
    pub bad_descriptors: Counter,
    /// Packets dropped for a malformed chain: a loop or a chain longer than the ring, a bad
    /// indirect table (empty, not a multiple of 16, larger than the ring, nested, with
    /// `NEXT`, not negotiated), more than [`crate::virtqueue::MAX_IOV`] buffers (rx).
    pub bad_chains: Counter,
    /// Packets dropped for their virtio-net header: a chain no longer than the header
    /// (rx) or a first buffer shorter than it (tx), offload fields that contradict the
    /// frame or the negotiated features (rx).
    pub bad_headers: Counter,
    /// Packets dropped for their size: rx frames longer than
    /// [`crate::net::MAX_FRAME_LEN`]; tx packets larger than the guest's buffer (without
    /// mergeable buffers) or than [`crate::virtqueue::MAX_IOV`] buffers.
    pub too_big_packets: Counter,
    /// Tx packets dropped because the guest did not negotiate the segmentation offload
    /// they ask for, or their offload lengths do not fit the packet.
    pub offload_drops: Counter,
    /// Rx buffers the pool could not supply; the packets stay in the guest's ring.
    pub mbuf_alloc_failed: Counter,
    /// The guest moved the available index more than a ring ahead; the queue is disabled.
    pub bad_avail_idx: Counter,
}

/// DPDK's size bins, in order: (name, counter).
macro_rules! size_bins {
    ($s:expr) => {
        [
            ("undersize_packets", &$s.undersize_packets),
            ("size_64_packets", &$s.size_64_packets),
            ("size_65_127_packets", &$s.size_65_127_packets),
            ("size_128_255_packets", &$s.size_128_255_packets),
            ("size_256_511_packets", &$s.size_256_511_packets),
            ("size_512_1023_packets", &$s.size_512_1023_packets),
            ("size_1024_1518_packets", &$s.size_1024_1518_packets),
            ("size_1519_max_packets", &$s.size_1519_max_packets),
        ]
    };
}

impl VringCounters {
    /// Every counter as `(prefix_name, value)`, DPDK's first (`rx_q0_good_packets`), then
    /// vpmd's; the glue passes `rx_qN` for a guest tx ring and `tx_qN` for a guest rx ring.
    pub fn xstats(&self, prefix: &str) -> Vec<(String, u64)> {
        let head = [
            ("good_packets", &self.good_packets),
            ("good_bytes", &self.good_bytes),
            ("multicast_packets", &self.multicast_packets),
            ("broadcast_packets", &self.broadcast_packets),
        ];
        let tail = [
            ("guest_notifications", &self.guest_notifications),
            ("bad_descriptors", &self.bad_descriptors),
            ("bad_chains", &self.bad_chains),
            ("bad_headers", &self.bad_headers),
            ("too_big_packets", &self.too_big_packets),
            ("offload_drops", &self.offload_drops),
            ("mbuf_alloc_failed", &self.mbuf_alloc_failed),
            ("bad_avail_idx", &self.bad_avail_idx),
        ];
        head.into_iter()
            .chain(size_bins!(self))
            .chain(tail)
            .map(|(name, c)| (format!("{prefix}_{name}"), c.get()))
            .collect()
    }

    /// Packets dropped for the guest's faults or for their size (the queue's `errors`).
    pub fn dropped(&self) -> u64 {
        [
            &self.bad_descriptors,
            &self.bad_chains,
            &self.bad_headers,
            &self.too_big_packets,
            &self.offload_drops,
        ]
        .iter()
        .map(|c| c.get())
        .sum()
    }
}

/// One burst's delivered packets, counted locally and added to the counters once.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    packets: u64,
    bytes: u64,
    multicast: u64,
    broadcast: u64,
    bins: [u64; 8],
}

impl Tally {
    /// Counts a delivered packet of `len` bytes whose first bytes are `frame` (at least
    /// the destination MAC when the packet has one).
    #[inline]
    pub(crate) fn count(&mut self, len: u32, frame: &[u8]) {
        self.packets += 1;
        self.bytes += len as u64;
        let bin = match len {
            0..=63 => 0,
            64 => 1,
            // 65..=127 -> 2, 128..=255 -> 3, 256..=511 -> 4, 512..=1023 -> 5.
            65..=1023 => (27 - len.leading_zeros()) as usize,
            1024..=1518 => 6,
            _ => 7,
        };
        self.bins[bin] += 1;
        if let Some(dst) = frame.get(..6) {
            if dst[0] & 1 != 0 {
                if dst == [0xff; 6] {
                    self.broadcast += 1;
                } else {
                    self.multicast += 1;
                }
            }
        }
    }

    /// Adds the tally to `c`.
    #[inline]
    pub(crate) fn flush(&self, c: &VringCounters) {
        if self.packets == 0 {
            return;
        }
        c.good_packets.add(self.packets);
        c.good_bytes.add(self.bytes);
        if self.multicast > 0 {
            c.multicast_packets.add(self.multicast);
        }
        if self.broadcast > 0 {
            c.broadcast_packets.add(self.broadcast);
        }
        for ((_, counter), &n) in size_bins!(c).into_iter().zip(&self.bins) {
            if n > 0 {
                counter.add(n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_bins_and_address_classes_follow_dpdk() {
        let c = VringCounters::default();
        let mut t = Tally::default();
        let bcast = [0xffu8; 6];
        let mcast = [0x01, 0x00, 0x5e, 0, 0, 1];
        let ucast = [0x02, 0, 0, 0, 0, 1];
        for (len, mac) in [
            (60, &ucast),
            (64, &bcast),
            (65, &mcast),
            (127, &ucast),
            (128, &ucast),
            (511, &ucast),
            (512, &ucast),
            (1023, &ucast),
            (1024, &ucast),
            (1518, &ucast),
            (1519, &ucast),
            (9000, &ucast),
        ] {
            t.count(len, mac);
        }
        t.count(3, &[0xff; 3]);
        t.flush(&c);
        let x: std::collections::HashMap<_, _> = c.xstats("rx_q0").into_iter().collect();
        assert_eq!(x["rx_q0_good_packets"], 13);
        assert_eq!(x["rx_q0_undersize_packets"], 2);
        assert_eq!(x["rx_q0_size_64_packets"], 1);
        assert_eq!(x["rx_q0_size_65_127_packets"], 2);
        assert_eq!(x["rx_q0_size_128_255_packets"], 1);
        assert_eq!(x["rx_q0_size_256_511_packets"], 1);
        assert_eq!(x["rx_q0_size_512_1023_packets"], 2);
        assert_eq!(x["rx_q0_size_1024_1518_packets"], 2);
        assert_eq!(x["rx_q0_size_1519_max_packets"], 2);
        assert_eq!(x["rx_q0_broadcast_packets"], 1);
        assert_eq!(x["rx_q0_multicast_packets"], 1);
        assert_eq!(
            x["rx_q0_good_bytes"],
            [60u64, 64, 65, 127, 128, 511, 512, 1023, 1024, 1518, 1519, 9000, 3]
                .iter()
                .sum::<u64>()
        );
    }

    #[test]
    fn xstats_names_start_with_dpdk_order() {
        let names: Vec<_> = VringCounters::default()
            .xstats("tx_q1")
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            &names[..13],
            [
                "tx_q1_good_packets",
                "tx_q1_good_bytes",
                "tx_q1_multicast_packets",
                "tx_q1_broadcast_packets",
                "tx_q1_undersize_packets",
                "tx_q1_size_64_packets",
                "tx_q1_size_65_127_packets",
                "tx_q1_size_128_255_packets",
                "tx_q1_size_256_511_packets",
                "tx_q1_size_512_1023_packets",
                "tx_q1_size_1024_1518_packets",
                "tx_q1_size_1519_max_packets",
                "tx_q1_guest_notifications",
            ]
        );
        assert!(names.contains(&"tx_q1_bad_chains".to_string()));
    }
}
