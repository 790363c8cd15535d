//! The guest's transmit queue (vring 1): frames written once into their buffers at
//! set-up (a zeroed `virtio_net_hdr`, then the frame, in one descriptor), so sending is
//! reclaiming used heads and putting them back into the available ring, plus, for probe
//! frames, a 16-byte stamp per frame.

use std::os::fd::BorrowedFd;
use std::sync::Arc;

use crate::frontend::GuestMemory;

use super::frame::{self, Stamp};
use super::ring::{Ring, RingStats, INSIDE};

/// Transmit counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TxStats {
    /// Frames made available to the device.
    pub sent: u64,
    /// Frames the device has used (returned).
    pub completed: u64,
    /// The ring's counters.
    pub ring: RingStats,
}

/// The guest's transmit queue.
#[derive(Debug)]
pub struct TxQueue {
    ring: Ring,
    mem: Arc<GuestMemory>,
    hdr_len: u64,
    next_seq: u64,
    sent: u64,
    completed: u64,
}

impl TxQueue {
    /// A queue over `ring`, whose buffers hold `hdr_len` bytes of header and the frame;
    /// writes a zero header and a probe frame template into every buffer.
    pub(crate) fn new(ring: Ring, mem: Arc<GuestMemory>, hdr_len: u64) -> Self {
        let bufs = ring.bufs();
        let mut bytes = vec![0u8; hdr_len as usize];
        bytes.extend_from_slice(&frame::template((u64::from(bufs.len) - hdr_len) as u16));
        for i in 0..ring.layout().size {
            mem.write(bufs.at(i), &bytes).expect(INSIDE);
        }
        Self {
            ring,
            mem,
            hdr_len,
            next_seq: 0,
            sent: 0,
            completed: 0,
        }
    }

    /// Takes back what the device has used; returns how many frames can be sent now.
    #[inline]
    pub fn reclaim(&mut self) -> u16 {
        self.completed += u64::from(self.ring.reclaim(false, |_, _| {}));
        self.ring.free()
    }

    /// Sends up to `max` frames as they are (reclaiming first if the ring is short);
    /// returns how many went out.
    #[inline]
    pub fn send(&mut self, max: u16) -> u16 {
        let n = self.room(max);
        for _ in 0..n {
            self.ring.take().expect("room was checked");
        }
        self.finish(n)
    }

    /// Sends up to `max` probe frames with the next sequence numbers, each stamped with
    /// `due(seq)`; returns how many went out.
    #[inline]
    pub fn send_stamped(&mut self, max: u16, mut due: impl FnMut(u64) -> u64) -> u16 {
        let n = self.room(max);
        for _ in 0..n {
            let head = self.ring.take().expect("room was checked");
            let seq = self.next_seq;
            let stamp = Stamp { seq, tsc: due(seq) };
            let at = self.ring.bufs().at(head) + self.hdr_len;
            self.mem
                .write(at + frame::SEQ as u64, &stamp.to_bytes())
                .expect(INSIDE);
            self.next_seq += 1;
        }
        self.finish(n)
    }

    /// The next sequence number [`send_stamped`](Self::send_stamped) uses.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The ring's kick eventfd, for `SET_VRING_KICK`.
    pub(crate) fn kick_fd(&self) -> BorrowedFd<'_> {
        self.ring.kick_fd()
    }

    /// Counters.
    pub fn stats(&self) -> TxStats {
        TxStats {
            sent: self.sent,
            completed: self.completed,
            ring: self.ring.stats(),
        }
    }

    fn room(&mut self, max: u16) -> u16 {
        if self.ring.free() < max {
            self.reclaim();
        }
        self.ring.free().min(max)
    }

    fn finish(&mut self, n: u16) -> u16 {
        if n > 0 {
            self.ring.publish();
            self.sent += u64::from(n);
        }
        n
    }
}
