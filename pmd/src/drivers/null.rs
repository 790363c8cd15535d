//! `net_vpmd_null`: rx makes packets out of thin air, tx frees them (DPDK's `net_null`).
//!
//! Devargs: `size=N` (packet length, default 64), `copy=0|1` (write a frame into each rx
//! buffer and read each tx buffer, as DPDK's `copy`, default 0), `no-rx=0|1` (rx returns
//! nothing, default 0). The rx datapath is generic over [`PktPool`], the shape every
//! PMD datapath has so the DPDK plugin can reuse it.

use std::sync::Arc;

use vpmd_mempool::{Burst, Mempool, PktBuf, PktPool};

use crate::dev::{DevInfo, EthDev, Link, PortConf};
use crate::devargs::Devargs;
use crate::error::PmdError;
use crate::queue::{RxQueue, TxQueue};
use crate::registry::{Driver, DriverFor};

use super::SoftPort;
use crate::stats::{RxCounters, TxCounters};

const NAME: &str = "net_vpmd_null";
const KEYS: &[&str] = &["size", "copy", "no-rx"];

/// The `net_vpmd_null` driver.
#[derive(Debug, Default)]
pub struct NullDriver;

#[derive(Debug, Clone, Copy)]
struct NullCfg {
    size: u16,
    copy: bool,
    no_rx: bool,
}

struct NullDev {
    cfg: NullCfg,
    soft: SoftPort,
}

impl Driver for NullDriver {
    fn name(&self) -> &'static str {
        NAME
    }

    fn probe(&self, args: &Devargs, port_id: u16) -> Result<Box<dyn EthDev>, PmdError> {
        DriverFor::<Mempool>::probe_for(self, args, port_id)
    }
}

impl<P: PktPool + Clone + 'static> DriverFor<P> for NullDriver {
    fn probe_for(&self, args: &Devargs, port_id: u16) -> Result<Box<dyn EthDev<P>>, PmdError> {
        let r = args.reader(KEYS)?;
        let cfg = NullCfg {
            size: r.uint("size", 14..=9000, 64)?,
            copy: r.flag("copy", false)?,
            no_rx: r.flag("no-rx", false)?,
        };
        Ok(Box::new(NullDev {
            cfg,
            soft: SoftPort::new(port_id),
        }))
    }
}

impl<P: PktPool + Clone + 'static> EthDev<P> for NullDev {
    fn info(&self) -> DevInfo {
        self.soft.info(NAME, 64, (1, u16::MAX))
    }

    fn configure(&mut self, _rxq: u16, _txq: u16, conf: &PortConf) -> Result<(), PmdError> {
        self.soft.configure(conf);
        Ok(())
    }

    fn rx_queue_setup(
        &mut self,
        _q: u16,
        _nb_desc: u16,
        pool: &P,
        counters: Arc<RxCounters>,
    ) -> Result<Box<dyn RxQueue<P::Buf>>, PmdError> {
        if self.cfg.size > pool.data_room() {
            return Err(PmdError::Driver {
                port: self.soft.port_id,
                driver: NAME,
                reason: format!(
                    "size={} does not fit the pool's {}-byte data room",
                    self.cfg.size,
                    pool.data_room()
                ),
            });
        }
        Ok(Box::new(NullRx {
            pool: pool.clone(),
            cfg: self.cfg,
            port: self.soft.port_id,
            counters,
        }))
    }

    fn tx_queue_setup(
        &mut self,
        _q: u16,
        _nb_desc: u16,
        counters: Arc<TxCounters>,
    ) -> Result<Box<dyn TxQueue<P::Buf>>, PmdError> {
        Ok(Box::new(NullTx {
            copy: self.cfg.copy,
            scratch: vec![0; 9018],
            counters,
        }))
    }

    fn link(&self) -> Link {
        self.soft.link()
    }
}

/// The frame `copy=1` writes: broadcast, from a locally administered MAC, ethertype
/// 0x88b5 (local experimental), zero payload.
const TEMPLATE: [u8; 14] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, 0x88, 0xb5,
];

struct NullRx<P: PktPool> {
    pool: P,
    cfg: NullCfg,
    port: u16,
    counters: Arc<RxCounters>,
}

/// Fills `out` with up to `n` packets of `cfg.size` bytes from `pool`; returns how many.
fn null_rx<P: PktPool>(
    pool: &P,
    cfg: &NullCfg,
    port: u16,
    out: &mut Burst<P::Buf>,
    n: usize,
) -> Result<usize, vpmd_mempool::NoBufs> {
    let start = out.len();
    pool.alloc_bulk(out, n)?;
    for m in &mut out.as_mut_slice()[start..] {
        m.set_port(port);
        // The pool checked data_room >= size at setup, so append succeeds.
        if let Some(data) = m.append(cfg.size) {
            if cfg.copy {
                data[..TEMPLATE.len()].copy_from_slice(&TEMPLATE);
                data[TEMPLATE.len()..].fill(0);
            }
        }
    }
    Ok(n)
}

impl<P: PktPool> RxQueue<P::Buf> for NullRx<P> {
    #[inline]
    fn rx_burst(&mut self, out: &mut Burst<P::Buf>, max: usize) -> usize {
        if self.cfg.no_rx {
            return 0;
        }
        let n = max.min(out.room());
        match null_rx(&self.pool, &self.cfg, self.port, out, n) {
            Ok(n) => {
                self.counters.packets.add(n as u64);
                self.counters.bytes.add(n as u64 * self.cfg.size as u64);
                n
            }
            Err(_) => {
                self.counters.nombuf.add(n as u64);
                0
            }
        }
    }
}

struct NullTx {
    copy: bool,
    scratch: Vec<u8>,
    counters: Arc<TxCounters>,
}

impl<B: PktBuf> TxQueue<B> for NullTx {
    #[inline]
    fn tx_burst(&mut self, pkts: &mut Burst<B>) -> usize {
        let n = pkts.len();
        let mut bytes = 0u64;
        for m in pkts.as_slice() {
            bytes += m.pkt_len() as u64;
            if self.copy {
                m.read_into(&mut self.scratch);
            }
        }
        B::free_bulk(pkts);
        self.counters.packets.add(n as u64);
        self.counters.bytes.add(bytes);
        n
    }
}
