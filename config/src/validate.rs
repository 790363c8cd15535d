//! [`Config::validate`]: range and consistency checks that need no driver, shared by the file
//! loaders and by the app after it applies CLI flags.
//!
//! Each error names the TOML key path (`forwarding.burst`, `port[1].devargs`,
//! `forwarding.txpkts[2]`) and quotes the rejected value. Devargs are only checked for being
//! non-empty; the driver registry owns their syntax.

use std::ops::RangeInclusive;

use crate::{Config, ConfigError, ForwardMode};

/// Largest `forwarding.burst` (DPDK's `MAX_PKT_BURST`).
pub const BURST_MAX: u32 = 512;
/// Largest `forwarding.rxq` / `forwarding.txq`.
pub const QUEUES_MAX: u32 = 64;
/// Allowed `forwarding.rxd` / `forwarding.txd`; they must also be powers of two.
pub const DESCRIPTORS: RangeInclusive<u32> = 64..=32768;
/// Allowed length of each `forwarding.txpkts` segment: an Ethernet header up to a jumbo frame.
pub const TXPKTS_SEGMENT: RangeInclusive<u32> = 14..=9000;
/// Smallest first `forwarding.txpkts` segment: Ethernet + IPv4 + UDP headers.
pub const TXPKTS_FIRST_MIN: u32 = 42;
/// Largest sum of the `forwarding.txpkts` segments.
pub const TXPKTS_TOTAL_MAX: u64 = 9600;
/// Bytes of Ethernet FCS that flowgen leaves out of `--txpkts` (testpmd does the same).
const FCS_LEN: u64 = 4;
/// Largest `mempool.cache` (DPDK's `RTE_MEMPOOL_CACHE_MAX_SIZE`).
pub const MBUF_CACHE_MAX: u32 = 512;
/// Smallest `mempool.data_room`.
pub const DATA_ROOM_MIN: u32 = 64;
/// Largest `mempool.headroom + mempool.data_room`: an mbuf's buffer length is 16 bits.
pub const MBUF_BUF_LEN_MAX: u32 = u16::MAX as u32;

type Check = Result<(), ConfigError>;

impl Config {
    /// Checks every value that can be checked without the drivers; the first problem found is
    /// returned, in file order. The loaders call this; call it again after applying CLI flags.
    /// The error has no file name; see [`ConfigError::with_origin`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check_lcores()?;
        self.check_ports()?;
        self.check_forwarding()?;
        self.check_stats()?;
        self.check_run()?;
        self.check_mempool()
    }

    fn check_lcores(&self) -> Check {
        if self.lcores.len() < 2 {
            return Err(ConfigError::key(
                "lcores",
                format!(
                    "must list at least 2 cores (the main lcore and a forwarding core), got \"{}\"",
                    self.lcores
                ),
            ));
        }
        Ok(())
    }

    fn check_ports(&self) -> Check {
        for (i, port) in self.ports.iter().enumerate() {
            if port.devargs.trim().is_empty() {
                return Err(ConfigError::key(
                    format!("port[{i}].devargs"),
                    format!("must name a device, got {:?}", port.devargs),
                ));
            }
        }
        Ok(())
    }

    fn check_forwarding(&self) -> Check {
        let fwd = &self.forwarding;
        let workers = u32::try_from(self.lcores.workers().len()).unwrap_or(u32::MAX);
        if !(1..=workers).contains(&fwd.nb_cores) {
            return Err(ConfigError::key(
                "forwarding.nb_cores",
                format!(
                    "must be between 1 and {workers} (lcores \"{}\" minus the main lcore), got {}",
                    self.lcores, fwd.nb_cores
                ),
            ));
        }
        in_range("forwarding.burst", fwd.burst, 1..=BURST_MAX)?;
        self.check_txpkts()?;
        in_range("forwarding.flowgen_flows", fwd.flowgen_flows, 1..=u32::MAX)?;
        self.check_flowgen_size()?;
        in_range("forwarding.rxq", fwd.rxq, 1..=QUEUES_MAX)?;
        in_range("forwarding.txq", fwd.txq, 1..=QUEUES_MAX)?;
        if fwd.txq != fwd.rxq {
            // Each stream owns rx queue q and tx queue q of its ports.
            return Err(ConfigError::key(
                "forwarding.txq",
                format!("must equal forwarding.rxq ({}), got {}", fwd.rxq, fwd.txq),
            ));
        }
        descriptors("forwarding.rxd", fwd.rxd)?;
        descriptors("forwarding.txd", fwd.txd)?;
        self.check_pipeline()
    }

    /// `--pipeline` puts a stream's rx and its engine on two lcores, and hands over what
    /// was received: a mode that receives nothing has nothing to hand over.
    fn check_pipeline(&self) -> Check {
        let fwd = &self.forwarding;
        if !fwd.pipeline {
            return Ok(());
        }
        if fwd.nb_cores < 2 {
            return Err(ConfigError::key(
                "forwarding.pipeline",
                format!(
                    "--pipeline runs each stream on an rx lcore and a worker lcore: it needs \
                     --nb-cores (forwarding.nb_cores) of at least 2, got {}",
                    fwd.nb_cores
                ),
            ));
        }
        if fwd.mode == ForwardMode::TxOnly {
            return Err(ConfigError::key(
                "forwarding.pipeline",
                "--pipeline hands received packets to the engine, and --forward-mode txonly \
                 receives none: drop one of them",
            ));
        }
        Ok(())
    }

    fn check_txpkts(&self) -> Check {
        let txpkts = &self.forwarding.txpkts;
        match txpkts.first() {
            None => {
                return Err(ConfigError::key(
                    "forwarding.txpkts",
                    "must list at least one segment length, got []",
                ))
            }
            Some(&first) if first < TXPKTS_FIRST_MIN => {
                return Err(ConfigError::key(
                    "forwarding.txpkts[0]",
                    format!(
                        "the first segment holds the Ethernet/IPv4/UDP headers: at least {TXPKTS_FIRST_MIN} bytes, got {first}"
                    ),
                ))
            }
            Some(_) => {}
        }
        let data_room = self.mempool.data_room;
        for (i, &len) in txpkts.iter().enumerate() {
            let key = format!("forwarding.txpkts[{i}]");
            in_range(&key, len, TXPKTS_SEGMENT)?;
            if len > data_room {
                return Err(ConfigError::key(
                    key,
                    format!(
                        "a segment must fit in one mbuf (mempool.data_room = {data_room}), got {len}"
                    ),
                ));
            }
        }
        let total: u64 = txpkts.iter().map(|&len| u64::from(len)).sum();
        if total > TXPKTS_TOTAL_MAX {
            return Err(ConfigError::key(
                "forwarding.txpkts",
                format!("segments must total at most {TXPKTS_TOTAL_MAX} bytes, got {total} ({txpkts:?})"),
            ));
        }
        Ok(())
    }

    /// flowgen sends one segment of the `txpkts` total less the FCS (testpmd's
    /// `tx_pkt_length - 4`): it must hold the headers and fit one mbuf.
    fn check_flowgen_size(&self) -> Check {
        if self.forwarding.mode != ForwardMode::FlowGen {
            return Ok(());
        }
        let total: u64 = self.forwarding.txpkts.iter().map(|&l| u64::from(l)).sum();
        let len = total.saturating_sub(FCS_LEN);
        let room = u64::from(self.mempool.data_room);
        if len < u64::from(TXPKTS_FIRST_MIN) || len > room {
            return Err(ConfigError::key(
                "forwarding.txpkts",
                format!(
                    "flowgen sends one segment of the total less the 4-byte FCS: it must be between {TXPKTS_FIRST_MIN} and mempool.data_room ({room}) bytes, got {total} - 4 = {len}"
                ),
            ));
        }
        Ok(())
    }

    fn check_stats(&self) -> Check {
        match &self.stats.json {
            Some(path) if path.as_os_str().is_empty() => Err(ConfigError::key(
                "stats.json",
                "must be a file path, got \"\"",
            )),
            _ => Ok(()),
        }
    }

    fn check_run(&self) -> Check {
        match self.run.duration {
            Some(0) => Err(ConfigError::key(
                "run.duration",
                "must be at least 1 second (leave it out to run until Ctrl-C), got 0",
            )),
            _ => Ok(()),
        }
    }

    fn check_mempool(&self) -> Check {
        let pool = &self.mempool;
        in_range("mempool.mbufs", pool.mbufs, 1..=u32::MAX)?;
        in_range("mempool.cache", pool.cache, 0..=MBUF_CACHE_MAX)?;
        // As rte_mempool_create: a cache flushes at 1.5 times its size, which the pool must hold.
        let flush_threshold = u64::from(pool.cache) * 3 / 2;
        if flush_threshold > u64::from(pool.mbufs) {
            return Err(ConfigError::key(
                "mempool.cache",
                format!(
                    "must be at most mempool.mbufs / 1.5 = {}, got {}",
                    u64::from(pool.mbufs) * 2 / 3,
                    pool.cache
                ),
            ));
        }
        in_range(
            "mempool.data_room",
            pool.data_room,
            DATA_ROOM_MIN..=MBUF_BUF_LEN_MAX,
        )?;
        let buf_len = u64::from(pool.headroom) + u64::from(pool.data_room);
        if buf_len > u64::from(MBUF_BUF_LEN_MAX) {
            return Err(ConfigError::key(
                "mempool.headroom",
                format!(
                    "headroom + data_room must be at most {MBUF_BUF_LEN_MAX}, got {} + {}",
                    pool.headroom, pool.data_room
                ),
            ));
        }
        Ok(())
    }
}

fn in_range(key: &str, value: u32, range: RangeInclusive<u32>) -> Check {
    if range.contains(&value) {
        return Ok(());
    }
    let reason = if *range.end() == u32::MAX {
        format!("must be at least {}, got {value}", range.start())
    } else {
        format!(
            "must be between {} and {}, got {value}",
            range.start(),
            range.end()
        )
    };
    Err(ConfigError::key(key, reason))
}

fn descriptors(key: &str, value: u32) -> Check {
    if DESCRIPTORS.contains(&value) && value.is_power_of_two() {
        return Ok(());
    }
    Err(ConfigError::key(
        key,
        format!(
            "must be a power of two between {} and {}, got {value}",
            DESCRIPTORS.start(),
            DESCRIPTORS.end()
        ),
    ))
}
