//! The guest's receive queue (vring 0): every buffer posted at set-up and reposted as soon
//! as its frame is read, one `avail.idx` store per burst. Of each frame only the header
//! and the first bytes are copied out (enough for the probe record): a sink that counts and
//! validates, not a guest that consumes payloads.
//!
//! With mergeable buffers a frame larger than one buffer continues in the next used
//! elements (`num_buffers` in its header); those are counted and skipped.

use std::os::fd::BorrowedFd;
use std::sync::Arc;

use crate::frontend::GuestMemory;
use crate::virtio::NET_HDR_MRG_LEN;

use super::frame::{self, Stamp, MIN_FRAME_LEN};
use super::ring::{Ring, RingStats, INSIDE};

/// Bytes copied out of each received buffer: header and probe record.
const PEEK: usize = NET_HDR_MRG_LEN + MIN_FRAME_LEN as usize;

/// One frame as the sink saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Frame bytes in its first buffer (the whole frame unless it spans buffers).
    pub len: u32,
    /// Its probe stamp, if it is a probe frame.
    pub stamp: Option<Stamp>,
}

/// Receive counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RxStats {
    /// Frames received.
    pub packets: u64,
    /// Their bytes, without virtio-net headers.
    pub bytes: u64,
    /// Frames without a probe record.
    pub foreign: u64,
    /// Frames that took more than one buffer.
    pub multi_buffer: u64,
    /// Used buffers shorter than the virtio-net header.
    pub short: u64,
    /// The ring's counters.
    pub ring: RingStats,
}

/// The guest's receive queue.
#[derive(Debug)]
pub struct RxQueue {
    ring: Ring,
    mem: Arc<GuestMemory>,
    hdr_len: usize,
    mrg_rxbuf: bool,
    /// Buffers still to skip of a frame that took several.
    skip: u16,
    stats: RxStats,
}

impl RxQueue {
    /// A queue over `ring`, whose buffers start with a `hdr_len`-byte header; posts every
    /// buffer.
    pub(crate) fn new(ring: Ring, mem: Arc<GuestMemory>, hdr_len: usize, mrg_rxbuf: bool) -> Self {
        let mut q = Self {
            ring,
            mem,
            hdr_len,
            mrg_rxbuf,
            skip: 0,
            stats: RxStats::default(),
        };
        q.repost();
        q
    }

    /// Takes every frame the device has written, calls `f` for each in order, and
    /// reposts their buffers; returns how many frames came.
    #[inline]
    pub fn recv(&mut self, mut f: impl FnMut(Received)) -> u64 {
        let before = self.stats.packets;
        let mut peek = [0u8; PEEK];
        let (mem, stats, skip) = (&self.mem, &mut self.stats, &mut self.skip);
        let (bufs, h, mrg) = (self.ring.bufs(), self.hdr_len, self.mrg_rxbuf);
        let n = self.ring.reclaim(true, |head, len| {
            let len = len as usize;
            if *skip > 0 {
                *skip -= 1;
                stats.bytes += len as u64;
                return;
            }
            if len < h {
                stats.short += 1;
                return;
            }
            let peek = &mut peek[..len.min(PEEK)];
            mem.read(bufs.at(head), peek).expect(INSIDE);
            if mrg {
                let nb = u16::from_le_bytes([peek[10], peek[11]]);
                if nb > 1 {
                    *skip = nb - 1;
                    stats.multi_buffer += 1;
                }
            }
            let stamp = frame::parse(&peek[h..]);
            stats.packets += 1;
            stats.bytes += (len - h) as u64;
            stats.foreign += u64::from(stamp.is_none());
            f(Received {
                len: (len - h) as u32,
                stamp,
            });
        });
        if n > 0 {
            self.repost();
        }
        self.stats.packets - before
    }

    /// The ring's kick eventfd, for `SET_VRING_KICK`.
    pub(crate) fn kick_fd(&self) -> BorrowedFd<'_> {
        self.ring.kick_fd()
    }

    /// Counters.
    pub fn stats(&self) -> RxStats {
        RxStats {
            ring: self.ring.stats(),
            ..self.stats
        }
    }

    fn repost(&mut self) {
        while self.ring.take().is_some() {}
        self.ring.publish();
    }
}
