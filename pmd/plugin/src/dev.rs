//! One DPDK port of the plugin: vpmd's [`Port`] over DPDK's mempools, the state behind
//! `dev_private`. Safe code only; [`ops`](crate::ops) translates DPDK's calls into
//! these and errors into negative errnos.
//!
//! The ethdev layer checks call order (configure before setup, stop before
//! reconfigure); vpmd's `Port` checks it again and names the rule broken, which
//! turns a DPDK misuse into a log line instead of undefined behaviour.

use vpmd_mempool::Burst;
use vpmd_pmd::{DevInfo, Devargs, DriverFor, Link, PmdError, Port, PortConf, PortRx, PortTx};

use crate::mbuf::{RteMbuf, RtePool};

/// An rx queue object (`rx_queues[q]`): the handle and the burst it fills.
pub struct RxQ {
    q: PortRx<RteMbuf>,
    burst: Burst<RteMbuf>,
}

/// A tx queue object (`tx_queues[q]`).
pub struct TxQ {
    q: PortTx<RteMbuf>,
    burst: Burst<RteMbuf>,
}

/// A port's state (`dev_private` points at it).
pub struct PluginDev {
    port: Port<RtePool>,
    mac: [u8; 6],
}

impl PluginDev {
    /// Probes `devargs` (`net_vpmd_vhost0,iface=...`) with `driver` as DPDK port `id`.
    pub fn probe(
        driver: &dyn DriverFor<RtePool>,
        devargs: &str,
        id: u16,
    ) -> Result<Self, PmdError> {
        let args: Devargs = devargs.parse()?;
        let dev = driver.probe_for(&args, id)?;
        let port = Port::new(id, args, dev);
        let mac = port.info().mac;
        Ok(Self { port, mac })
    }

    /// Capabilities and limits.
    pub fn info(&self) -> DevInfo {
        self.port.info()
    }

    /// The MAC address the application sees (`mac_addr_set` changes it).
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// `mac_addr_set`: a virtual port takes any unicast address.
    pub fn set_mac(&mut self, mac: [u8; 6]) -> Result<(), PmdError> {
        if mac[0] & 1 != 0 {
            return Err(self.refused(format!("{} is a multicast address", fmt_mac(&mac))));
        }
        self.mac = mac;
        Ok(())
    }

    /// `dev_configure`.
    pub fn configure(&mut self, nb_rxq: u16, nb_txq: u16, conf: PortConf) -> Result<(), PmdError> {
        self.port.configure(nb_rxq, nb_txq, conf)
    }

    /// `rx_queue_setup`.
    pub fn rx_queue_setup(
        &mut self,
        q: u16,
        nb_desc: u16,
        pool: &RtePool,
    ) -> Result<RxQ, PmdError> {
        let q = self.port.rx_queue_setup(q, nb_desc, pool)?;
        Ok(RxQ {
            q,
            burst: Burst::with_capacity(Burst::<RteMbuf>::MAX),
        })
    }

    /// `tx_queue_setup`.
    pub fn tx_queue_setup(&mut self, q: u16, nb_desc: u16) -> Result<TxQ, PmdError> {
        let q = self.port.tx_queue_setup(q, nb_desc)?;
        Ok(TxQ {
            q,
            burst: Burst::with_capacity(Burst::<RteMbuf>::MAX),
        })
    }

    /// `dev_start`.
    pub fn start(&mut self) -> Result<(), PmdError> {
        self.port.start()
    }

    /// `dev_stop`.
    pub fn stop(&mut self) -> Result<(), PmdError> {
        self.port.stop()
    }

    /// `dev_close`.
    pub fn close(&mut self) -> Result<(), PmdError> {
        self.port.close()
    }

    /// `link_update`.
    pub fn link(&self) -> Link {
        self.port.link()
    }

    /// `mtu_set`: any MTU within the device's range (the guest's buffers bound what
    /// it really receives).
    pub fn check_mtu(&self, mtu: u16) -> Result<(), PmdError> {
        let i = self.port.info();
        if !(i.min_mtu..=i.max_mtu).contains(&mtu) {
            return Err(PmdError::Range {
                port: self.port.id(),
                what: "mtu",
                value: mtu.into(),
                max: i.max_mtu.into(),
            });
        }
        Ok(())
    }

    /// The port's statistics.
    pub fn stats(&self) -> vpmd_pmd::PortStats {
        self.port.stats()
    }

    /// The port's xstats, names and values.
    pub fn xstats(&self) -> Vec<(String, u64)> {
        self.port.xstats()
    }

    /// `stats_reset` and `xstats_reset`: both reset everything, as most PMDs do.
    pub fn stats_reset(&mut self) {
        self.port.stats_reset()
    }

    fn refused(&self, reason: String) -> PmdError {
        PmdError::Driver {
            port: self.port.id(),
            driver: self.port.info().driver,
            reason,
        }
    }
}

impl RxQ {
    /// Receives up to `max` packets into `out` (DPDK's array), returns how many.
    #[inline]
    pub fn rx(&mut self, out: &mut [*mut dpdk_sys::rte_mbuf]) -> usize {
        let mut got = 0;
        while got < out.len() {
            let want = (out.len() - got).min(self.burst.capacity());
            let n = self.q.rx_burst(&mut self.burst, want);
            for (slot, m) in out[got..].iter_mut().zip(self.burst.drain()) {
                *slot = m.into_raw();
            }
            got += n;
            if n < want {
                break;
            }
        }
        got
    }
}

impl TxQ {
    /// Sends from the front of `pkts`, returns how many were taken; the rest stay the
    /// caller's, as with `rte_eth_tx_burst`.
    ///
    /// # Safety
    /// Every pointer in `pkts` is a valid mbuf chain the caller owns; those taken are
    /// given up.
    #[inline]
    pub unsafe fn tx(&mut self, pkts: &[*mut dpdk_sys::rte_mbuf]) -> usize {
        let mut sent = 0;
        for chunk in pkts.chunks(self.burst.capacity()) {
            for &p in chunk {
                // SAFETY: the caller's contract; the burst has room for a whole chunk.
                if let Some(m) = unsafe { RteMbuf::from_raw(p) } {
                    let _ = self.burst.push(m);
                }
            }
            let n = self.q.tx_burst(&mut self.burst);
            // Those not taken are still the caller's: forget our handles.
            self.burst.drain().for_each(|m| {
                m.into_raw();
            });
            sent += n;
            if n < chunk.len() {
                break;
            }
        }
        sent
    }
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn fmt_mac(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}
