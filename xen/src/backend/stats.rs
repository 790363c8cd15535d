//! Netback's own counters for one queue, beside the generic ethdev ones
//! ([`RxCounters`](vpmd_pmd::RxCounters)/[`TxCounters`](vpmd_pmd::TxCounters)): one
//! writer (the queue's lcore), readable by anyone. Must never be written from two
//! threads: [`Counter`] bumps with a load and a store.

use std::sync::atomic::AtomicU32;

use vpmd_pmd::Counter;

/// Counters of one queue pair, named as netback's `xenvif_stats` and its drop causes.
#[derive(Debug, Default)]
pub struct QueueCounters {
    /// Guest GSO packets without `csum_blank` (netback fixes the checksum up).
    pub rx_gso_checksum_fixup: Counter,
    /// Packets with more fragments than a `MAX_SKB_FRAGS` skb holds.
    pub tx_frag_overflow: Counter,
    /// Packets dropped for too many slots (more than `XEN_NETBK_LEGACY_SLOTS_MAX`).
    pub rx_drop_slots: Counter,
    /// Packets dropped because a fragment is larger than what remains of the frame.
    pub rx_drop_frag_size: Counter,
    /// Packets dropped because the first slot is shorter than an Ethernet header.
    pub rx_drop_short: Counter,
    /// Packets dropped because a grant copy failed.
    pub rx_drop_grant: Counter,
    /// Zero-length fragments skipped (XSA-448).
    pub rx_zero_frags: Counter,
    /// Slots of the guest rx ring filled with a failed grant copy.
    pub tx_grant_errors: Counter,
    /// Bursts that left a packet in the guest tx ring for want of rate-limit credit.
    pub rx_rate_limited: Counter,
    /// Packets dropped because the guest rx ring had no room for the drain timeout, or
    /// the queue is stalled.
    pub tx_drained: Counter,
    /// Times the guest rx stall timer turned the carrier off.
    pub tx_stalls: Counter,
    /// Notifications sent to the frontend.
    pub notify: Counter,
    /// Guest tx packets that carried a hash extra (set as the buffer's RSS hash).
    pub rx_hash_extras: Counter,
    /// Guest rx packets given a hash extra ([`hash`](super::hash)).
    pub tx_hash_extras: Counter,
    /// Packets with fragments grant-mapped into mbufs (netback's `tx_zerocopy_sent`).
    pub tx_zerocopy_sent: Counter,
    /// Of those, packets whose fragments all came back and were answered `OKAY`.
    pub tx_zerocopy_success: Counter,
    /// Of those, packets dropped after mapping, or in flight when the vif was
    /// disabled or closed. Sent minus success minus fail is what is still in flight.
    pub tx_zerocopy_fail: Counter,
    /// `XEN_NETIF_EXTRA_TYPE_MCAST_ADD` requests served.
    pub rx_mcast_add: Counter,
    /// `XEN_NETIF_EXTRA_TYPE_MCAST_DEL` requests served.
    pub rx_mcast_del: Counter,
    /// Adds refused because the list was full (`XEN_NETBK_MCAST_MAX`), answered
    /// `NETIF_RSP_ERROR`.
    pub rx_mcast_full: Counter,
    /// Multicast frames into the guest dropped by its multicast filter.
    pub tx_mcast_filtered: Counter,
    /// Notifications from the frontend consumed (each read takes all pending ones;
    /// written by the control thread).
    pub evtchn_events: Counter,
    /// Of those, events after which the rings made no progress (XSA-332's spurious
    /// events; written by the control thread).
    pub evtchn_spurious: Counter,
    /// The guest tx ring's `req_prod` as its last burst saw it, and the guest rx
    /// ring's: what tells a spurious event from one with work ([`late_eoi`]).
    ///
    /// [`late_eoi`]: super::late_eoi
    pub(crate) seen_prod: [AtomicU32; 2],
}

impl QueueCounters {
    /// `(name, value)` pairs, the name prefixed with the queue (`rx_q0_...`).
    pub fn xstats(&self, q: u16) -> Vec<(String, u64)> {
        [
            ("rx_gso_checksum_fixup", &self.rx_gso_checksum_fixup),
            ("tx_frag_overflow", &self.tx_frag_overflow),
            ("rx_drop_slots", &self.rx_drop_slots),
            ("rx_drop_frag_size", &self.rx_drop_frag_size),
            ("rx_drop_short", &self.rx_drop_short),
            ("rx_drop_grant", &self.rx_drop_grant),
            ("rx_zero_frags", &self.rx_zero_frags),
            ("tx_grant_errors", &self.tx_grant_errors),
            ("rx_rate_limited", &self.rx_rate_limited),
            ("tx_drained", &self.tx_drained),
            ("tx_stalls", &self.tx_stalls),
            ("notify", &self.notify),
            ("rx_hash_extras", &self.rx_hash_extras),
            ("tx_hash_extras", &self.tx_hash_extras),
            ("tx_zerocopy_sent", &self.tx_zerocopy_sent),
            ("tx_zerocopy_success", &self.tx_zerocopy_success),
            ("tx_zerocopy_fail", &self.tx_zerocopy_fail),
            ("rx_mcast_add", &self.rx_mcast_add),
            ("rx_mcast_del", &self.rx_mcast_del),
            ("rx_mcast_full", &self.rx_mcast_full),
            ("tx_mcast_filtered", &self.tx_mcast_filtered),
            ("evtchn_events", &self.evtchn_events),
            ("evtchn_spurious", &self.evtchn_spurious),
        ]
        .into_iter()
        .map(|(n, c)| (format!("q{q}_{n}"), c.get()))
        .collect()
    }
}
