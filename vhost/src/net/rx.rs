//! vpmd's rx from a vhost port: consumes the guest's **tx ring** (odd vring), copying each
//! frame into fresh buffers from the caller's pool (DPDK's `rte_vhost_dequeue_burst`).
//!
//! One burst: read `avail.idx` once; allocate one head buffer per waiting entry (up to
//! [`MAX_BURST`], all or nothing: if the pool cannot, the frames stay in the guest's ring
//! and `mbuf_alloc_failed` counts the buffers asked for); per entry, walk the chain
//! (device-readable buffers only), copy the `virtio_net_hdr` into a local, copy the frame
//! straight from guest memory into the head buffer and, when it is larger than one
//! buffer's room, into further buffers chained behind it; map the header's offloads; write
//! a used element of length 0. Then one Release store of `used.idx`, the kick-suppression
//! refresh, and an interrupt if the guest wants one.
//!
//! Faults (see [`crate::stats::VringCounters`]): the entry's chain is returned with length
//! 0 when its head is a valid index (the guest is not left waiting for it), the frame is
//! dropped and counted, and the burst goes on. A head out of range is consumed without a
//! used element: there is no valid id to return. A buffer that cannot be allocated
//! mid-frame ends the burst with that entry left in the ring.

use vpmd_mempool::{Burst, PktBuf, PktPool};

use crate::stats::{Tally, VringCounters};
use crate::virtqueue::{Cursor, Fault, SplitQueue};

use super::hdr::NetHdr;
use super::{offload, MAX_BURST, MAX_FRAME_LEN};

/// Why a frame was not delivered.
enum Miss {
    /// Dropped: count it here.
    Drop(Fault),
    /// Dropped for its header.
    BadHeader,
    /// No buffer: leave the entry in the ring and end the burst.
    NoBufs,
}

/// Receives up to `max` frames (clamped to [`MAX_BURST`] and to `out`'s room) from the
/// guest's tx ring `q` into buffers from `pool`, appended to `out` with input port `port`.
/// Returns how many were appended.
pub fn dequeue_burst<P: PktPool>(
    q: &mut SplitQueue,
    pool: &P,
    out: &mut Burst<P::Buf>,
    max: usize,
    port: u16,
    c: &VringCounters,
) -> usize {
    let max = max.min(MAX_BURST).min(out.room());
    if max == 0 {
        return 0;
    }
    let n = (q.begin_burst(c) as usize).min(max);
    if n == 0 {
        return 0;
    }
    let start = out.len();
    if pool.alloc_bulk(out, n).is_err() {
        c.mbuf_alloc_failed.add(n as u64);
        return 0;
    }
    let limit = q.hdr_len as u64 + MAX_FRAME_LEN as u64;
    let mut tally = Tally::default();
    // Heads `start..start + heads` are fresh; a head spoilt by a failed frame is swapped
    // behind them and freed with the unused ones at the end.
    let (mut heads, mut good, mut consumed, mut used) = (n, 0usize, 0u16, 0u16);
    while (consumed as usize) < n && good < heads {
        let head = q.avail_head(consumed);
        q.prefetch_ahead(consumed + 1, n as u16);
        let miss = match q.walk(head, false, 0, u64::MAX, limit) {
            Err(f) => Some(Miss::Drop(f)),
            Ok(w) if w.len <= q.hdr_len as u64 => Some(Miss::BadHeader),
            Ok(w) => {
                let slots = out.as_mut_slice();
                match fill(q, pool, &mut slots[start + good], w.segs, w.len, port) {
                    Ok(()) => {
                        let m = &slots[start + good];
                        tally.count(m.pkt_len(), m.data());
                        good += 1;
                        None
                    }
                    Err(miss) => {
                        heads -= 1;
                        slots.swap(start + good, start + heads);
                        Some(miss)
                    }
                }
            }
        };
        match miss {
            None => {}
            Some(Miss::NoBufs) => {
                c.mbuf_alloc_failed.add(1);
                break;
            }
            Some(Miss::BadHeader) => c.bad_headers.add(1),
            Some(Miss::Drop(f)) => match f {
                Fault::Descriptor => c.bad_descriptors.add(1),
                Fault::Chain | Fault::TooManySegments => c.bad_chains.add(1),
                Fault::TooLong => c.too_big_packets.add(1),
            },
        }
        consumed += 1;
        if head < q.size {
            q.put_used(used, head, 0);
            used += 1;
        }
    }
    out.truncate(start + good);
    q.finish_burst(consumed, used, c);
    tally.flush(c);
    good
}

/// Copies the frame in `q.iov[..segs]` (`len` bytes with the header) into the fresh head
/// buffer `m`, chaining more buffers from `pool` as needed, and applies its header.
#[inline]
fn fill<P: PktPool>(
    q: &SplitQueue,
    pool: &P,
    m: &mut P::Buf,
    segs: usize,
    len: u64,
    port: u16,
) -> Result<(), Miss> {
    let (mem, iov) = (q.mem(), q.iov.get(..segs).unwrap_or_default());
    let hdr_len = q.hdr_len as usize;
    let mut cur = Cursor::default();
    let mut hb = [0u8; NetHdr::MAX_LEN];
    cur.read(mem, iov, hb.get_mut(..hdr_len).unwrap_or_default())
        .ok_or(Miss::Drop(Fault::Descriptor))?;
    let hdr = NetHdr::parse(&hb);
    // The walk capped `len` at the header plus MAX_FRAME_LEN.
    let mut left = (len - hdr_len as u64) as u32;
    let first = left.min(m.tailroom() as u32) as u16;
    let dst = m.append(first).ok_or(Miss::NoBufs)?;
    cur.read(mem, iov, dst)
        .ok_or(Miss::Drop(Fault::Descriptor))?;
    left -= first as u32;
    while left > 0 {
        let mut seg = pool.alloc().map_err(|_| Miss::NoBufs)?;
        let k = left.min(seg.tailroom() as u32) as u16;
        if k == 0 {
            return Err(Miss::NoBufs);
        }
        let dst = seg.append(k).ok_or(Miss::NoBufs)?;
        cur.read(mem, iov, dst)
            .ok_or(Miss::Drop(Fault::Descriptor))?;
        // More segments than an mbuf chain can count: a frame this pool cannot hold.
        m.chain(seg).map_err(|_| Miss::Drop(Fault::TooLong))?;
        left -= k as u32;
    }
    m.set_port(port);
    offload::apply_rx(&hdr, m, q.features, q.rx_sw_csum).map_err(|_| Miss::BadHeader)
}
