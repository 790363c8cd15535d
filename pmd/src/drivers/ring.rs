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
use vpmd_mempool::{Burst, Mbuf, Mempool};

use crate::dev::{DevInfo, EthDev, Link, PortConf};
use crate::devargs::Devargs;
use crate::error::PmdError;
use crate::queue::{RxQueue, TxQueue};
use crate::registry::Driver;

use super::SoftPort;
use crate::stats::{RxCounters, TxCounters};

const NAME: &str = "net_vpmd_ring";
const KEYS: &[&str] = &["peer"];

/// One direction of one queue between two ports: `(from, to, queue)`.
type LaneKey = (String, String, u16);

#[derive(Default)]
struct Lane {
    tx: Option<Producer<Mbuf>>,
    rx: Option<Consumer<Mbuf>>,
}

/// Who is joined to whom, and the ring ends not yet claimed by a queue.
#[derive(Default)]
struct Hub {
    peers: HashMap<String, String>,
    lanes: HashMap<LaneKey, Lane>,
}

impl Hub {
    /// The lane for `key`, made anew if the end we want was already taken (a queue set up
    /// again); the other end of an old lane then goes nowhere and its sender sees a full
    /// ring, which it counts as drops.
    fn lane(&mut self, key: LaneKey, nb_desc: u16, want_tx: bool) -> &mut Lane {
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

/// The `net_vpmd_ring` driver; its hub pairs ports created through it.
#[derive(Default)]
pub struct RingDriver {
    hub: Arc<Mutex<Hub>>,
}

impl std::fmt::Debug for RingDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RingDriver")
    }
}

struct RingDev {
    name: String,
    peer: String,
    soft: SoftPort,
    hub: Arc<Mutex<Hub>>,
}

impl Driver for RingDriver {
    fn name(&self) -> &'static str {
        NAME
    }

    fn probe(&self, args: &Devargs, port_id: u16) -> Result<Box<dyn EthDev>, PmdError> {
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

impl RingDev {
    fn hub(&self) -> std::sync::MutexGuard<'_, Hub> {
        self.hub.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl EthDev for RingDev {
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
        _pool: &Mempool,
        counters: Arc<RxCounters>,
    ) -> Result<Box<dyn RxQueue>, PmdError> {
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
    ) -> Result<Box<dyn TxQueue>, PmdError> {
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

struct RingRx {
    ring: Consumer<Mbuf>,
    counters: Arc<RxCounters>,
}

impl RxQueue for RingRx {
    #[inline]
    fn rx_burst(&mut self, out: &mut Burst<Mbuf>, max: usize) -> usize {
        let start = out.len();
        let n = self.ring.dequeue_burst(out, max);
        if n > 0 {
            self.counters.count(&out.as_slice()[start..]);
        }
        n
    }
}

struct RingTx {
    ring: Producer<Mbuf>,
    counters: Arc<TxCounters>,
}

impl TxQueue for RingTx {
    #[inline]
    fn tx_burst(&mut self, pkts: &mut Burst<Mbuf>) -> usize {
        let bytes = |b: &Burst<Mbuf>| b.as_slice().iter().map(|m| m.pkt_len() as u64).sum();
        let total: u64 = bytes(pkts);
        let n = self.ring.enqueue_burst(pkts);
        let left: u64 = if pkts.is_empty() { 0 } else { bytes(pkts) };
        self.counters.packets.add(n as u64);
        self.counters.bytes.add(total - left);
        n
    }
}
