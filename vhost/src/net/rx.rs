//! vpmd's rx from a vhost port: consumes the guest's **tx ring** (odd vring), copying each
//! frame into fresh buffers from the caller's pool (DPDK's `rte_vhost_dequeue_burst`).
//!
//! One burst: read `avail.idx` once; allocate one head buffer per waiting entry (up to
//! [`MAX_BURST`], all or nothing: if the pool cannot, the frames stay in the guest's ring
//! and `mbuf_alloc_failed` counts the buffers asked for); walk the chains of the waiting
//! entries first (device-readable buffers only) and start fetching each frame, so the
//! misses on lines the guest's core just wrote overlap; then per entry copy the
//! `virtio_net_hdr` into a local, copy the frame
//! straight from guest memory into the head buffer and, when it is larger than one
//! buffer's room, into further buffers chained behind it; map the header's offloads; write
//! a used element of length 0. With `VIRTIO_F_IN_ORDER`, only the burst's last used
//! element is written: the guest learns from `used.idx` that every buffer before it is
//! used too (virtio 1.2 §2.7.10 allows this batching). Then one Release store of
//! `used.idx`, the kick-suppression refresh, and an interrupt if the guest wants one.
//!
//! Faults (see [`crate::stats::VringCounters`]): the entry's chain is returned with length
//! 0 when its head is a valid index (the guest is not left waiting for it), the frame is
//! dropped and counted, and the burst goes on. A head out of range is consumed without a
//! used element: there is no valid id to return. A buffer that cannot be allocated
//! mid-frame ends the burst with that entry left in the ring.

use vpmd_mempool::{Burst, PktBuf, PktPool};

use crate::stats::{Tally, VringCounters};
use crate::virtqueue::{Cursor, Fault, SplitQueue, Walk, MAX_IOV};

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

/// A waiting entry whose chain was walked ahead of its copy.
#[derive(Clone, Copy)]
struct Walked {
    head: u16,
    /// Its buffers are `q.iov[at..at + walk.segs]`; or why it is refused.
    res: Result<(usize, Walk), Fault>,
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
    let n = (q.begin_burst(c) as usize).min(max) as u16;
    if n == 0 {
        return 0;
    }
    let start = out.len();
    if pool.alloc_bulk(out, n as usize).is_err() {
        c.mbuf_alloc_failed.add(n as u64);
        return 0;
    }
    let mut tally = Tally::default();
    let mut plan = [Walked {
        head: 0,
        res: Err(Fault::Descriptor),
    }; MAX_BURST];
    // Heads `start..start + heads` are fresh; a head spoilt by a failed frame is swapped
    // behind them and freed with the unused ones at the end.
    let (mut heads, mut good, mut consumed, mut used) = (n as usize, 0usize, 0u16, 0u16);
    let mut last_head = 0;
    'burst: while consumed < n {
        let ahead = walk_ahead(q, consumed, n, &mut plan);
        for w in plan.iter().take(ahead) {
            if good == heads {
                break 'burst;
            }
            let miss = match w.res {
                Err(f) => Some(Miss::Drop(f)),
                Ok((_, walk)) if walk.len <= q.hdr_len as u64 => Some(Miss::BadHeader),
                Ok((at, walk)) => {
                    let slots = out.as_mut_slice();
                    match fill(q, pool, &mut slots[start + good], at, walk, port) {
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
                    break 'burst;
                }
                Some(Miss::BadHeader) => c.bad_headers.add(1),
                Some(Miss::Drop(f)) => match f {
                    Fault::Descriptor => c.bad_descriptors.add(1),
                    Fault::Chain | Fault::TooManySegments => c.bad_chains.add(1),
                    Fault::TooLong => c.too_big_packets.add(1),
                },
            }
            consumed += 1;
            if w.head < q.size {
                if !q.in_order {
                    q.put_used(used, w.head, 0);
                }
                last_head = w.head;
                used += 1;
            }
        }
    }
    if q.in_order && used > 0 {
        q.put_used(used - 1, last_head, 0);
    }
    out.truncate(start + good);
    q.finish_burst(consumed, used, c);
    tally.flush(c);
    good
}

/// Walks the chains of the waiting entries `from..n` into `plan` while their buffers
/// fill less than [`MAX_IOV`] of the queue's list, and starts fetching each frame's
/// header and first line: the copies then find them in cache instead of taking one
/// miss on the guest's core after another. Returns how many entries it walked.
fn walk_ahead(q: &mut SplitQueue, from: u16, n: u16, plan: &mut [Walked; MAX_BURST]) -> usize {
    let limit = q.hdr_len as u64 + MAX_FRAME_LEN as u64;
    let (mut k, mut at) = (0usize, 0usize);
    for slot in plan.iter_mut() {
        let pos = from + k as u16;
        if pos >= n || at >= MAX_IOV {
            break;
        }
        // (`begin_burst` already started fetching the descriptors of all `n` entries.)
        let head = q.avail_head(pos);
        let res = q.walk(head, false, (at, at + MAX_IOV), u64::MAX, limit);
        *slot = Walked {
            head,
            res: res.map(|w| (at, w)),
        };
        if let (Ok(w), Some(&loc)) = (res, q.iov.get(at)) {
            q.mem().prefetch_loc(loc, q.hdr_len + 64, false);
            at += w.segs;
        }
        k += 1;
    }
    k
}

/// Copies the frame in `q.iov[at..at + walk.segs]` (`walk.len` bytes with the header)
/// into the fresh head buffer `m`, chaining more buffers from `pool` as needed, and
/// applies its header.
#[inline]
fn fill<P: PktPool>(
    q: &SplitQueue,
    pool: &P,
    m: &mut P::Buf,
    at: usize,
    walk: Walk,
    port: u16,
) -> Result<(), Miss> {
    let (mem, len) = (q.mem(), walk.len);
    let iov = q.iov.get(at..at + walk.segs).unwrap_or_default();
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
