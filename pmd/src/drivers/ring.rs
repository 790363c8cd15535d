//! `net_vpmd_ring`: ports joined by fastpath SPSC rings (DPDK's `net_ring`).
//!
//! `net_vpmd_ring0,peer=net_vpmd_ring1` joins two ports: what one transmits on queue q
//! the other receives on queue q. The second port may name the first back or omit
//! `peer`. A port with no peer (and that nobody named) loops its tx back to its own rx.
//! Rings are sized from the queue's `nb_desc` (rounded up to a power of two) and made
//! when the first of the two queues on a lane is set up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use vpmd_fastpath::ring::{spsc, Consumer, Producer};
use vpmd_mempool::{Burst, Mbuf, Mempool, PktBuf, PktPool};

use crate::dev::{DevInfo, EthDev, Link, PortConf};
use crate::devargs::Devargs;
use crate::error::PmdError;
use crate::queue::{RxQueue, TxQueue};
use crate::registry::{Driver, DriverFor};

use super::SoftPort;
use crate::stats::{RxCounters, TxCounters};

const NAME: &str = "net_vpmd_ring";
const KEYS: &[&str] = &["peer"];

/// One direction of one queue between two ports: `(from, to, queue)`.
type LaneKey = (String, String, u16);

struct Lane<B> {
    tx: Option<Producer<B>>,
    rx: Option<Consumer<B>>,
}

impl<B> Default for Lane<B> {
    fn default() -> Self {
        Self { tx: None, rx: None }
    }
}

/// Who is joined to whom, and the ring ends not yet claimed by a queue.
struct Hub<B> {
    peers: HashMap<String, String>,
    lanes: HashMap<LaneKey, Lane<B>>,
}

impl<B> Default for Hub<B> {
    fn default() -> Self {
        Self {
            peers: HashMap::new(),
            lanes: HashMap::new(),
        }
    }
}

impl<B: PktBuf> Hub<B> {
    /// The lane for `key`, made anew if the end we want was already taken (a queue set up
    /// again); the other end of an old lane then goes nowhere and its sender sees a full
    /// ring, which it counts as drops.
    fn lane(&mut self, key: LaneKey, nb_desc: u16, want_tx: bool) -> &mut Lane<B> {
        let lane = self.lanes.entry(key).or_default();
        let taken = if want_tx {
            lane.tx.is_none()
        } else {
            lane.rx.is_none()
        };
        if taken {
            let cap = (nb_desc as usize).next_power_of_two().max(2);
            let (p, c) = spsc(cap).expect("a power of two >= 2");
            *lane = Lane {
                tx: Some(p),
                rx: Some(c),
            };
        }
        lane
    }
}

/// The `net_vpmd_ring` driver; its hub pairs ports created through it. The rings carry
/// buffers of type `B`, so only ports over pools of `B` can be joined.
pub struct RingDriver<B = Mbuf> {
    hub: Arc<Mutex<Hub<B>>>,
}

impl<B> Default for RingDriver<B> {
    fn default() -> Self {
        Self {
            hub: Arc::default(),
        }
    }
}

impl<B> std::fmt::Debug for RingDriver<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RingDriver")
    }
}

struct RingDev<B> {
    name: String,
    peer: String,
    soft: SoftPort,
    hub: Arc<Mutex<Hub<B>>>,
}

impl Driver for RingDriver<Mbuf> {
    fn name(&self) -> &'static str {
        NAME
    }

    fn probe(&self, args: &Devargs, port_id: u16) -> Result<Box<dyn EthDev>, PmdError> {
        DriverFor::<Mempool>::probe_for(self, args, port_id)
    }
}

impl<P: PktPool + 'static> DriverFor<P> for RingDriver<P::Buf> {
    fn probe_for(&self, args: &Devargs, port_id: u16) -> Result<Box<dyn EthDev<P>>, PmdError> {
        let r = args.reader(KEYS)?;
        let me = args.name().to_string();
        let mut hub = self.hub.lock().unwrap_or_else(PoisonError::into_inner);
        let named_by_other = hub.peers.get(&me).cloned();
        let peer = match (r.get("peer"), named_by_other) {
            (Some(p), Some(q)) if p != q => {
                return Err(r
                    .bad("peer", p, format!("{me} is already joined to {q}"))
                    .into())
            }
            (Some(p), _) if hub.peers.get(p).is_some_and(|q| *q != me) => {
                return Err(r
                    .bad(
                        "peer",
                        p,
                        format!("{p} is already joined to {}", hub.peers[p]),
                    )
                    .into())
            }
            (Some(p), _) => p.to_string(),
            (None, Some(q)) => q,
            (None, None) => me.clone(),
        };
        hub.peers.insert(me.clone(), peer.clone());
        hub.peers.insert(peer.clone(), me.clone());
        Ok(Box::new(RingDev {
            name: me,
            peer,
            soft: SoftPort::new(port_id),
            hub: Arc::clone(&self.hub),
        }))
    }
}

impl<B> RingDev<B> {
    fn hub(&self) -> std::sync::MutexGuard<'_, Hub<B>> {
        self.hub.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<B: PktBuf + 'static, P: PktPool<Buf = B>> EthDev<P> for RingDev<B> {
    fn info(&self) -> DevInfo {
        self.soft.info(NAME, 16, (2, 32768))
    }

    fn configure(&mut self, _rxq: u16, _txq: u16, conf: &PortConf) -> Result<(), PmdError> {
        self.soft.configure(conf);
        Ok(())
    }

    fn rx_queue_setup(
        &mut self,
        q: u16,
        nb_desc: u16,
        _pool: &P,
        counters: Arc<RxCounters>,
    ) -> Result<Box<dyn RxQueue<B>>, PmdError> {
        let key = (self.peer.clone(), self.name.clone(), q);
        let ring = self.hub().lane(key, nb_desc, false).rx.take();
        Ok(Box::new(RingRx {
            ring: ring.expect("lane() leaves an rx end"),
            counters,
        }))
    }

    fn tx_queue_setup(
        &mut self,
        q: u16,
        nb_desc: u16,
        counters: Arc<TxCounters>,
    ) -> Result<Box<dyn TxQueue<B>>, PmdError> {
        let key = (self.name.clone(), self.peer.clone(), q);
        let ring = self.hub().lane(key, nb_desc, true).tx.take();
        Ok(Box::new(RingTx {
            ring: ring.expect("lane() leaves a tx end"),
            counters,
        }))
    }

    fn close(&mut self) -> Result<(), PmdError> {
        let (me, peer) = (self.name.clone(), self.peer.clone());
        let mut hub = self.hub();
        hub.lanes
            .retain(|(from, to, _), _| *from != me && *to != me);
        if hub.peers.get(&peer) == Some(&me) {
            hub.peers.remove(&peer);
        }
        hub.peers.remove(&me);
        Ok(())
    }

    fn link(&self) -> Link {
        self.soft.link()
    }
}

struct RingRx<B> {
    ring: Consumer<B>,
    counters: Arc<RxCounters>,
}

impl<B: PktBuf> RxQueue<B> for RingRx<B> {
    #[inline]
    fn rx_burst(&mut self, out: &mut Burst<B>, max: usize) -> usize {
        let start = out.len();
        let n = self.ring.dequeue_burst(out, max);
        if n > 0 {
            self.counters.count(&out.as_slice()[start..]);
        }
        n
    }
}

struct RingTx<B> {
    ring: Producer<B>,
    counters: Arc<TxCounters>,
}

impl<B: PktBuf> TxQueue<B> for RingTx<B> {
    #[inline]
    fn tx_burst(&mut self, pkts: &mut Burst<B>) -> usize {
        let bytes = |b: &Burst<B>| b.as_slice().iter().map(|m| m.pkt_len() as u64).sum();
        let total: u64 = bytes(pkts);
        let n = self.ring.enqueue_burst(pkts);
        let left: u64 = if pkts.is_empty() { 0 } else { bytes(pkts) };
        self.counters.packets.add(n as u64);
        self.counters.bytes.add(total - left);
        n
    }
}
