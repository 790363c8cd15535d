//! vpmd's tx to a vhost port: fills the guest's **rx ring** (even vring) with packets
//! taken from the front of the caller's burst (DPDK's `rte_vhost_enqueue_burst`).
//!
//! One burst: read `avail.idx` once; per packet (up to [`MAX_BURST`]), work out its
//! `virtio_net_hdr` from its offload flags, then reserve guest buffers: walk chains
//! (device-writable buffers only) until they hold the header and the packet, one chain
//! without mergeable rx buffers, as many as needed with them (`num_buffers`); then copy
//! the header and every segment straight into guest memory, patch software checksums,
//! and write one used element per chain with the bytes it received. Then one Release
//! store of `used.idx`, the kick-suppression refresh, and an interrupt if the guest wants
//! one. Packets taken (delivered or dropped) are freed; the rest stay in the caller's
//! burst, in order.
//!
//! Outcomes per packet:
//! - the guest's buffers run out mid-packet: the chains reserved for it are given back to
//!   the available ring (not consumed), and the burst ends with this packet first in the
//!   caller's burst;
//! - the packet is larger than the guest's chain (no mergeable buffers) or than
//!   [`crate::virtqueue::MAX_IOV`] buffers: dropped (`too_big_packets`), chains given
//!   back, as vhost-net discards a packet too big for the guest's buffers;
//! - a guest fault in a chain (or a first buffer shorter than the header): every chain
//!   taken for the packet, the bad one included, is returned with length 0 and the packet
//!   is dropped and counted; the burst goes on;
//! - offloads the guest cannot take: dropped (`offload_drops`).

use vpmd_mempool::{Burst, PktBuf};

use crate::stats::{Tally, VringCounters};
use crate::virtqueue::{ChainRec, Cursor, Fault, SplitQueue};

use super::offload::{self, Patch};
use super::MAX_BURST;

/// What became of one packet.
enum Placed {
    /// In the guest's ring: its length and its first bytes go to the tally.
    Done,
    /// Not enough guest buffers: the packet stays with the caller, the burst ends.
    NoRoom,
    /// Dropped for a fault of the guest's chain.
    Fault(Fault),
    /// Dropped: first buffer shorter than the header.
    BadHeader,
    /// Dropped: does not fit the guest's buffers.
    TooBig,
    /// Dropped: offload the guest cannot take.
    Offload,
}

/// Sends packets from the front of `pkts` (up to [`MAX_BURST`]) into the guest's rx ring
/// `q`. Returns how many were taken from `pkts` (delivered, or dropped and counted) and
/// freed; packets that did not fit stay at the front of `pkts`.
pub fn enqueue_burst<B: PktBuf>(
    q: &mut SplitQueue,
    pkts: &mut Burst<B>,
    c: &VringCounters,
) -> usize {
    let n = pkts.len().min(MAX_BURST);
    if n == 0 {
        return 0;
    }
    let pending = q.begin_burst(c);
    if pending == 0 {
        return 0;
    }
    let mut tally = Tally::default();
    let (mut consumed, mut used, mut taken) = (0u16, 0u16, 0usize);
    for m in pkts.as_slice().iter().take(n) {
        match place(q, m, pending, &mut consumed, &mut used) {
            Placed::NoRoom => break,
            Placed::Done => tally.count(m.pkt_len(), m.data()),
            Placed::Fault(Fault::Descriptor) => c.bad_descriptors.add(1),
            Placed::Fault(Fault::Chain) => c.bad_chains.add(1),
            Placed::Fault(Fault::TooManySegments | Fault::TooLong) | Placed::TooBig => {
                c.too_big_packets.add(1)
            }
            Placed::BadHeader => c.bad_headers.add(1),
            Placed::Offload => c.offload_drops.add(1),
        }
        taken += 1;
    }
    q.finish_burst(consumed, used, c);
    tally.flush(c);
    if taken == pkts.len() {
        B::free_bulk(pkts);
    } else {
        drop(pkts.take_front(taken));
    }
    taken
}

/// Returns the chains `q.chains[..k]` with length 0 (a packet abandoned for a fault).
fn give_back_empty(q: &SplitQueue, k: usize, used: &mut u16) {
    for ch in q.chains.iter().take(k) {
        q.put_used(*used, ch.head, 0);
        *used += 1;
    }
}

/// Places one packet into the guest's buffers; `consumed`/`used` count this burst's
/// available entries taken and used elements written.
fn place<B: PktBuf>(
    q: &mut SplitQueue,
    m: &B,
    pending: u16,
    consumed: &mut u16,
    used: &mut u16,
) -> Placed {
    let Ok(plan) = offload::tx_plan(m, q.features) else {
        return Placed::Offload;
    };
    let hdr_len = q.hdr_len as u64;
    let need = hdr_len + m.pkt_len() as u64;
    let first = *consumed;
    let (mut chains, mut segs, mut cap) = (0usize, 0usize, 0u64);
    while cap < need {
        if *consumed == pending {
            *consumed = first;
            return Placed::NoRoom;
        }
        if chains == q.chains.len() {
            *consumed = first;
            return Placed::TooBig;
        }
        let head = q.avail_head(*consumed);
        q.prefetch_ahead(*consumed + 1, pending);
        *consumed += 1;
        match q.walk(head, true, segs, need - cap, u64::MAX) {
            Ok(w) => {
                q.chains[chains] = ChainRec {
                    head,
                    cap: w.len.min(u32::MAX as u64) as u32,
                };
                chains += 1;
                segs += w.segs;
                cap += w.len;
                // Each buffer must hold at least a header (virtio 1.2 §5.1.6.3.1); an
                // empty chain is never useful. (Later chains may be short only because
                // the walk stopped once the packet fitted.)
                if w.len == 0 || (chains == 1 && w.len < hdr_len) {
                    give_back_empty(q, chains, used);
                    return Placed::BadHeader;
                }
                if cap < need && !q.mergeable {
                    *consumed = first;
                    return Placed::TooBig;
                }
            }
            Err(Fault::TooManySegments) => {
                *consumed = first;
                return Placed::TooBig;
            }
            Err(f) => {
                give_back_empty(q, chains, used);
                if head < q.size {
                    q.put_used(*used, head, 0);
                    *used += 1;
                }
                return Placed::Fault(f);
            }
        }
    }
    let mut hdr = plan.hdr;
    hdr.num_buffers = chains as u16;
    if copy_out(q, m, segs, &hdr.emit(), [plan.ip_csum, plan.l4_csum]).is_none() {
        // Unreachable with chains the walk resolved; treat it as the guest's fault.
        give_back_empty(q, chains, used);
        return Placed::Fault(Fault::Descriptor);
    }
    let mut left = need;
    for ch in q.chains.iter().take(chains) {
        let len = left.min(ch.cap as u64);
        q.put_used(*used, ch.head, len as u32);
        *used += 1;
        left -= len;
    }
    Placed::Done
}

/// Writes the header and the packet into the guest buffers `q.iov[..segs]`, then the
/// software checksums.
#[inline]
fn copy_out<B: PktBuf>(
    q: &SplitQueue,
    m: &B,
    segs: usize,
    hdr: &[u8; 12],
    patches: [Patch; 2],
) -> Option<()> {
    let (mem, iov) = (q.mem(), q.iov.get(..segs)?);
    let hdr_len = q.hdr_len as usize;
    let mut cur = Cursor::default();
    cur.write(mem, iov, hdr.get(..hdr_len)?)?;
    let mut left = m.pkt_len() as usize;
    let mut seg = Some(m);
    while let Some(s) = seg {
        if left == 0 {
            break;
        }
        let d = s.data();
        let k = d.len().min(left);
        cur.write(mem, iov, d.get(..k)?)?;
        left -= k;
        seg = s.next();
    }
    for (at, v) in patches.into_iter().flatten() {
        let mut c = Cursor::default();
        c.skip(iov, hdr_len as u64 + at as u64)?;
        c.write(mem, iov, &v.to_be_bytes())?;
    }
    Some(())
}
