//! The guest tx ring's fast path: the packets a busy fixed-buffer frontend sends (one
//! slot, no extra, a staged grant) handled in one pass when the queue has neither a
//! rate nor zero-copy: the burst's requests are copied out once and checked, every
//! frame's first lines prefetched, its buffers allocated in bulk, the frames copied from
//! the staged pages and answered `OKAY` at once.
//!
//! It takes the longest prefix of such requests; the first one that is anything else
//! (more slots, an extra, a frame too short or not staged) is left unconsumed for the
//! full walk ([`GuestTxRing::rx_burst`]), which makes every check again. So netback's
//! rules hold for every packet, and a guest cannot reach this path with a request the
//! walk would refuse: a one-slot frame of `ETH_HLEN..=room` bytes inside its page is
//! exactly what the walk accepts as a one-slot packet.

use vpmd_mempool::{Burst, PktBuf, PktPool};
use vpmd_pmd::RxCounters;

use super::{csum_ol_flags, GuestTxRing, ETH_HLEN};
use crate::platform::Platform;
use crate::wire::defs::XEN_PAGE_SIZE;
use crate::wire::netif::{NetifStatus, TxFlags, TxRequest, TxResponse};
use crate::wire::ring::RingIdx;
use crate::wire::Entry;

/// Most requests one pass takes (a burst).
const FAST_MAX: usize = 32;

impl<P: Platform> GuestTxRing<P> {
    /// Receives the burst's leading fast-path packets (up to `max`, the ring holding
    /// requests up to `prod`) into `out`; how many. Their responses are written, not
    /// yet pushed.
    pub(super) fn rx_fast<Pl: PktPool>(
        &mut self,
        pool: &Pl,
        out: &mut Burst<Pl::Buf>,
        max: usize,
        prod: RingIdx,
        counters: &RxCounters,
    ) -> usize {
        let Some(staged) = self.q.staged() else {
            return 0;
        };
        if self.credit.is_some() || self.zc.is_some() {
            return 0;
        }
        let room = usize::from(pool.data_room());
        let cons = self.q.ring.req_cons;
        let want = (prod.wrapping_sub(cons) as usize).min(max).min(FAST_MAX);
        let mut reqs = [TxRequest::default(); FAST_MAX];
        let mut n = 0;
        while n < want {
            let Ok(b) = self
                .q
                .ring
                .copy_slot::<TxRequest>(cons.wrapping_add(n as RingIdx))
            else {
                break;
            };
            let r = TxRequest::decode(&b);
            let len = usize::from(r.size);
            let one_slot =
                !r.flags.contains(TxFlags::MORE_DATA) && !r.flags.contains(TxFlags::EXTRA_INFO);
            if !one_slot
                || !(ETH_HLEN..=room).contains(&len)
                || usize::from(r.offset) + len > XEN_PAGE_SIZE
                || !staged.contains(r.gref)
            {
                break;
            }
            staged.prefetch(r.gref, r.offset, r.size, false);
            reqs[n] = r;
            n += 1;
        }
        let base = out.len();
        if n == 0 || pool.alloc_bulk(out, n).is_err() {
            // Out of buffers: the full walk counts it and leaves the packets queued.
            return 0;
        }
        let (mut done, mut bytes) = (0, 0u64);
        let mut at = self.q.ring.rsp_prod_pvt;
        for (m, r) in out.as_mut_slice()[base..].iter_mut().zip(&reqs[..n]) {
            let copied = m
                .append(r.size)
                .is_some_and(|d| staged.read(r.gref, r.offset, d));
            if !copied {
                // Cannot happen (all checked above); the full walk takes it from here.
                break;
            }
            m.set_ol_flags(csum_ol_flags(r.flags));
            let rsp = TxResponse {
                id: r.id,
                status: NetifStatus::OKAY,
            };
            if self.q.ring.put_slot(at, &rsp.encode()).is_err() {
                break;
            }
            at = at.wrapping_add(1);
            bytes += u64::from(r.size);
            done += 1;
        }
        // Buffers past a packet that was not taken go back to the pool.
        out.truncate(base + done);
        self.q.ring.req_cons = cons.wrapping_add(done as RingIdx);
        self.q.ring.rsp_prod_pvt = at;
        counters.packets.add(done as u64);
        counters.bytes.add(bytes);
        done
    }
}
