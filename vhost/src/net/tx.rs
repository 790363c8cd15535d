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
use crate::virtqueue::{ChainRec, Cursor, Fault, SplitQueue, MAX_IOV};

use super::offload::{self, Patch, TxPlan};
use super::MAX_BURST;

/// Why a packet was not placed.
enum Miss {
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

/// A packet whose guest buffers are reserved: chains `q.chains[chain0..chain0 + chains]`,
/// buffers `q.iov[seg0..seg0 + segs]`, used elements from burst position `used0` on.
#[derive(Clone, Copy, Default)]
struct Reserved {
    plan: TxPlan,
    chain0: usize,
    chains: usize,
    seg0: usize,
    segs: usize,
    used0: u16,
}

/// Where the next reservation of a burst goes.
#[derive(Default)]
struct Cursors {
    /// Available entries taken, used elements written (positions in the burst).
    consumed: u16,
    used: u16,
    /// Next free entry of `q.chains` and of `q.iov`.
    chain: usize,
    seg: usize,
}

/// Sends packets from the front of `pkts` (up to [`MAX_BURST`]) into the guest's rx ring
/// `q`. Returns how many were taken from `pkts` (delivered, or dropped and counted) and
/// freed; packets that did not fit stay at the front of `pkts`.
///
/// Two passes per group of packets: reserve guest buffers for each (walking the chains
/// and starting to fetch each first buffer for writing), then copy. The guest's core
/// last touched those lines; fetched together, their misses overlap.
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
    let mut at = Cursors::default();
    let mut plan = [None::<Reserved>; MAX_BURST];
    let mut taken = 0usize;
    let mut no_room = false;
    while taken < n && !no_room {
        // Pass 1: reserve while a packet of up to MAX_IOV buffers still fits.
        at.chain = 0;
        at.seg = 0;
        let mut k = 0;
        for (slot, m) in plan.iter_mut().zip(&pkts.as_slice()[taken..n]) {
            if at.chain >= MAX_IOV || at.seg >= MAX_IOV {
                break;
            }
            *slot = match reserve(q, m, pending, &mut at) {
                Ok(r) => Some(r),
                Err(Miss::NoRoom) => {
                    no_room = true;
                    break;
                }
                Err(miss) => {
                    count_drop(miss, c);
                    None
                }
            };
            k += 1;
        }
        // Pass 2: copy.
        for (r, m) in plan.iter().zip(&pkts.as_slice()[taken..taken + k]) {
            if let Some(r) = r {
                if commit(q, m, r) {
                    tally.count(m.pkt_len(), m.data());
                } else {
                    count_drop(Miss::Fault(Fault::Descriptor), c);
                }
            }
        }
        taken += k;
    }
    q.finish_burst(at.consumed, at.used, c);
    tally.flush(c);
    if taken == pkts.len() {
        B::free_bulk(pkts);
    } else {
        drop(pkts.take_front(taken));
    }
    taken
}

fn count_drop(miss: Miss, c: &VringCounters) {
    match miss {
        Miss::NoRoom => {}
        Miss::Fault(Fault::Descriptor) => c.bad_descriptors.add(1),
        Miss::Fault(Fault::Chain) => c.bad_chains.add(1),
        Miss::Fault(Fault::TooManySegments | Fault::TooLong) | Miss::TooBig => {
            c.too_big_packets.add(1)
        }
        Miss::BadHeader => c.bad_headers.add(1),
        Miss::Offload => c.offload_drops.add(1),
    }
}

/// Returns the chains `q.chains[chain0..chain0 + k]` with length 0 at burst positions
/// from `used0` on (a packet abandoned for a fault).
fn give_back_empty(q: &SplitQueue, chain0: usize, k: usize, used0: u16) {
    for (i, ch) in q.chains.iter().skip(chain0).take(k).enumerate() {
        q.put_used(used0 + i as u16, ch.head, 0);
    }
}

/// Reserves guest buffers for one packet at `at` (chains walked, first buffer being
/// fetched for writing) and moves `at` past them. A packet dropped for a guest fault has
/// its chains returned with length 0 here; one that does not fit leaves them available.
fn reserve<B: PktBuf>(
    q: &mut SplitQueue,
    m: &B,
    pending: u16,
    at: &mut Cursors,
) -> Result<Reserved, Miss> {
    let plan = offload::tx_plan(m, q.features).map_err(|_| Miss::Offload)?;
    let hdr_len = q.hdr_len as u64;
    let need = hdr_len + m.pkt_len() as u64;
    let r0 = Reserved {
        plan,
        chain0: at.chain,
        chains: 0,
        seg0: at.seg,
        segs: 0,
        used0: at.used,
    };
    let first = at.consumed;
    let mut r = r0;
    let mut cap = 0u64;
    while cap < need {
        if at.consumed == pending {
            at.consumed = first;
            return Err(Miss::NoRoom);
        }
        if r.chains == MAX_IOV {
            at.consumed = first;
            return Err(Miss::TooBig);
        }
        let head = q.avail_head(at.consumed);
        q.prefetch_ahead(at.consumed + 1, pending);
        at.consumed += 1;
        let seg = r.seg0 + r.segs;
        match q.walk(head, true, (seg, r.seg0 + MAX_IOV), need - cap, u64::MAX) {
            Ok(w) => {
                let Some(slot) = q.chains.get_mut(r.chain0 + r.chains) else {
                    at.consumed = first;
                    return Err(Miss::TooBig);
                };
                *slot = ChainRec {
                    head,
                    cap: w.len.min(u32::MAX as u64) as u32,
                };
                r.chains += 1;
                r.segs += w.segs;
                cap += w.len;
                // Each buffer must hold at least a header (virtio 1.2 §5.1.6.3.1); an
                // empty chain is never useful. (Later chains may be short only because
                // the walk stopped once the packet fitted.)
                if w.len == 0 || (r.chains == 1 && w.len < hdr_len) {
                    give_back_empty(q, r.chain0, r.chains, r.used0);
                    at.used += r.chains as u16;
                    return Err(Miss::BadHeader);
                }
                if cap < need && !q.mergeable {
                    at.consumed = first;
                    return Err(Miss::TooBig);
                }
            }
            Err(Fault::TooManySegments) => {
                at.consumed = first;
                return Err(Miss::TooBig);
            }
            Err(f) => {
                give_back_empty(q, r.chain0, r.chains, r.used0);
                at.used += r.chains as u16;
                if head < q.size {
                    q.put_used(at.used, head, 0);
                    at.used += 1;
                }
                return Err(Miss::Fault(f));
            }
        }
    }
    if let Some(&loc) = q.iov.get(r.seg0) {
        q.mem().prefetch_loc(loc, q.hdr_len + 64, true);
    }
    at.chain += r.chains;
    at.seg += r.segs;
    at.used += r.chains as u16;
    Ok(r)
}

/// Copies a reserved packet into its guest buffers and writes its used elements (or,
/// should the copy fail, returns the chains empty). True if delivered.
fn commit<B: PktBuf>(q: &SplitQueue, m: &B, r: &Reserved) -> bool {
    let mut hdr = r.plan.hdr;
    hdr.num_buffers = r.chains as u16;
    let patches = [r.plan.ip_csum, r.plan.l4_csum];
    if copy_out(q, m, (r.seg0, r.segs), &hdr.emit(), patches).is_none() {
        // Unreachable with chains the walk resolved; treat it as the guest's fault.
        give_back_empty(q, r.chain0, r.chains, r.used0);
        return false;
    }
    let mut left = q.hdr_len as u64 + m.pkt_len() as u64;
    for (i, ch) in q.chains.iter().skip(r.chain0).take(r.chains).enumerate() {
        let len = left.min(ch.cap as u64);
        q.put_used(r.used0 + i as u16, ch.head, len as u32);
        left -= len;
    }
    true
}

/// Writes the header and the packet into the guest buffers `q.iov[seg0..seg0 + segs]`,
/// then the software checksums.
#[inline]
fn copy_out<B: PktBuf>(
    q: &SplitQueue,
    m: &B,
    (seg0, segs): (usize, usize),
    hdr: &[u8; 12],
    patches: [Patch; 2],
) -> Option<()> {
    let (mem, iov) = (q.mem(), q.iov.get(seg0..seg0 + segs)?);
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
