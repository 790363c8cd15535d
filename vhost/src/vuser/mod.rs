//! vpmd's own vhost-user front-end: a virtio-user style virtio-net guest over the same
//! socket protocol, fast enough to generate and sink several Mpps from one busy-polling
//! core, for benchmarks (traffic generator, sink, latency prober) and demos. It is not the
//! proof of interoperability: that is DPDK's virtio_user and QEMU.
//!
//! [`Vuser::start`] negotiates VERSION_1, MRG_RXBUF and (unless turned off) IN_ORDER with
//! the back-end, never notification features (it polls: interrupts are off, and it kicks
//! only a device that did not set `VRING_USED_F_NO_NOTIFY`), maps one memfd of guest memory
//! holding both rings of queue pair 0 and every buffer, and starts the rings. Then
//! [`TxQueue`] sends preallocated frames (optionally stamped, see [`frame`]) and
//! [`RxQueue`] receives and checks them; neither allocates, and each burst ends with one
//! store of `avail.idx`.
//!
//! - `ring`: one split ring, driver side: fixed descriptors, a FIFO of free heads,
//!   in-order or checked completions.
//! - `tx`, `rx`: the two queues.
//! - [`frame`]: the probe frame: Ethernet header, magic, sequence number, timestamp.
//!
//! Guest memory is touched only through [`GuestMemory`] copies and its atomic index
//! accessors; this module has no unsafe code.

#![deny(unsafe_code)]

pub mod frame;
mod ring;
mod rx;
mod tx;

use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::Arc;

use ring::{Bufs, Ring};

pub use ring::RingStats;
pub use rx::{Received, RxQueue, RxStats};
pub use tx::{TxQueue, TxStats};

use crate::frontend::{Frontend, FrontendError, GuestMemory, VringLayout};
use crate::protocol::defs::proto;
use crate::virtio::{self, bit, NET_HDR_MRG_LEN};

/// Guest address of the memory (any value works: the back-end translates through the
/// memory table; not 0, so a zero descriptor address stays an obvious bug).
const BASE_GPA: u64 = 0x10_0000;
/// Largest frame the transmit buffers hold.
pub const MAX_FRAME_LEN: u16 = 9216;

/// What the front-end sets up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Entries per ring (a power of two, up to 32768).
    pub ring_size: u16,
    /// Length of the frames sent ([`frame::MIN_FRAME_LEN`]..=[`MAX_FRAME_LEN`]).
    pub frame_len: u16,
    /// Bytes per receive buffer, header included (at least 64).
    pub rx_buf_len: u32,
    /// Negotiate `VIRTIO_F_IN_ORDER` when the back-end offers it.
    pub in_order: bool,
}

impl Default for Config {
    /// DPDK virtio_user's defaults: 256 entries, 2 KiB receive buffers; 64-byte frames.
    fn default() -> Self {
        Self {
            ring_size: 256,
            frame_len: 64,
            rx_buf_len: 2048,
            in_order: true,
        }
    }
}

/// Why the front-end could not start.
#[derive(Debug, thiserror::Error)]
pub enum VuserError {
    /// A configuration value out of range.
    #[error("{field}: {value} {why}")]
    Config {
        /// The field.
        field: &'static str,
        /// Its value.
        value: u64,
        /// What it should be.
        why: &'static str,
    },
    /// The back-end lacks a feature the front-end needs.
    #[error("the back-end does not offer {0}")]
    Missing(&'static str),
    /// A vhost-user request failed.
    #[error(transparent)]
    Frontend(#[from] FrontendError),
    /// The socket, memory or an eventfd failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Config {
    fn check(&self) -> Result<(), VuserError> {
        let bad = |field, value: u64, why| Err(VuserError::Config { field, value, why });
        let n = self.ring_size;
        if !n.is_power_of_two() || !(2..=virtio::MAX_QUEUE_SIZE).contains(&n) {
            return bad("ring_size", n.into(), "is not a power of two in 2..=32768");
        }
        if !(frame::MIN_FRAME_LEN..=MAX_FRAME_LEN).contains(&self.frame_len) {
            return bad("frame_len", self.frame_len.into(), "is outside 38..=9216");
        }
        if !(64..=65536).contains(&self.rx_buf_len) {
            return bad(
                "rx_buf_len",
                self.rx_buf_len.into(),
                "is outside 64..=65536",
            );
        }
        Ok(())
    }
}

/// Where everything lives in guest memory.
struct Layout {
    rx: VringLayout,
    tx: VringLayout,
    tx_bufs: Bufs,
    rx_bufs: Bufs,
    end: u64,
}

impl Layout {
    fn new(cfg: &Config) -> Self {
        let n = u64::from(cfg.ring_size);
        let page = |a: u64| a.next_multiple_of(4096);
        let rx = VringLayout::at(0, cfg.ring_size, BASE_GPA);
        let tx = VringLayout::at(1, cfg.ring_size, page(rx.end()));
        let tx_len = NET_HDR_MRG_LEN as u32 + u32::from(cfg.frame_len);
        let tx_bufs = Bufs {
            base: page(tx.end()),
            stride: u64::from(tx_len).next_multiple_of(64),
            len: tx_len,
        };
        let rx_bufs = Bufs {
            base: page(tx_bufs.base + n * tx_bufs.stride),
            stride: u64::from(cfg.rx_buf_len).next_multiple_of(64),
            len: cfg.rx_buf_len,
        };
        Self {
            rx,
            tx,
            tx_bufs,
            rx_bufs,
            end: page(rx_bufs.base + n * rx_bufs.stride),
        }
    }
}

/// vpmd's front-end on queue pair 0 of one back-end.
#[derive(Debug)]
pub struct Vuser {
    fe: Frontend,
    features: u64,
    tx: TxQueue,
    rx: RxQueue,
    /// The call eventfds the back-end was given (interrupts are off; nobody reads them).
    _calls: [File; 2],
}

impl Vuser {
    /// Connects to a back-end listening on `path` and starts (see [`Vuser::start`]).
    pub fn connect(path: impl AsRef<Path>, cfg: &Config) -> Result<Self, VuserError> {
        Self::start(Frontend::connect(path)?, cfg)
    }

    /// Negotiates, sends the memory table, posts every receive buffer and starts both
    /// rings of queue pair 0.
    pub fn start(mut fe: Frontend, cfg: &Config) -> Result<Self, VuserError> {
        cfg.check()?;
        let mut want = bit(virtio::F_VERSION_1) | bit(virtio::NET_F_MRG_RXBUF);
        if cfg.in_order {
            want |= bit(virtio::F_IN_ORDER);
        }
        let (features, _) = fe.negotiate(want, bit(proto::REPLY_ACK))?;
        if !virtio::has(features, virtio::F_VERSION_1) {
            return Err(VuserError::Missing("VIRTIO_F_VERSION_1"));
        }
        let in_order = virtio::has(features, virtio::F_IN_ORDER);
        let mrg = virtio::has(features, virtio::NET_F_MRG_RXBUF);
        let l = Layout::new(cfg);
        let mem = Arc::new(GuestMemory::new(BASE_GPA, l.end - BASE_GPA)?);
        fe.set_mem_table(&[&mem])?;

        let rx_ring = Ring::new(Arc::clone(&mem), l.rx, l.rx_bufs, in_order, true)?;
        let tx_ring = Ring::new(Arc::clone(&mem), l.tx, l.tx_bufs, in_order, false)?;
        let calls = [crate::sys::eventfd(true)?, crate::sys::eventfd(true)?];
        let rx = RxQueue::new(rx_ring, Arc::clone(&mem), NET_HDR_MRG_LEN, mrg);
        let tx = TxQueue::new(tx_ring, Arc::clone(&mem), NET_HDR_MRG_LEN as u64);
        fe.start_vring(&mem, &l.rx, 0, Some(rx.kick_fd()), Some(calls[0].as_fd()))?;
        fe.start_vring(&mem, &l.tx, 0, Some(tx.kick_fd()), Some(calls[1].as_fd()))?;
        Ok(Self {
            fe,
            features,
            tx,
            rx,
            _calls: calls,
        })
    }

    /// The negotiated virtio features.
    pub fn features(&self) -> u64 {
        self.features
    }

    /// Whether `VIRTIO_F_IN_ORDER` was negotiated.
    pub fn in_order(&self) -> bool {
        virtio::has(self.features, virtio::F_IN_ORDER)
    }

    /// The transmit and receive queues.
    pub fn queues(&mut self) -> (&mut TxQueue, &mut RxQueue) {
        (&mut self.tx, &mut self.rx)
    }

    /// The vhost-user connection (to stop rings, or close it).
    pub fn frontend(&mut self) -> &mut Frontend {
        &mut self.fe
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_configurations_name_the_field_and_value() {
        Config::default().check().unwrap();
        let d = Config::default();
        for (cfg, msg) in [
            (
                Config {
                    ring_size: 100,
                    ..d
                },
                "ring_size: 100 ",
            ),
            (Config { ring_size: 1, ..d }, "ring_size: 1 "),
            (Config { frame_len: 37, ..d }, "frame_len: 37 "),
            (
                Config {
                    rx_buf_len: 32,
                    ..d
                },
                "rx_buf_len: 32 ",
            ),
        ] {
            let e = cfg.check().unwrap_err().to_string();
            assert!(e.starts_with(msg), "{e}");
        }
    }

    #[test]
    fn the_layout_keeps_rings_and_buffers_apart_and_aligned() {
        let cfg = Config {
            frame_len: 1518,
            ..Config::default()
        };
        let l = Layout::new(&cfg);
        let n = u64::from(cfg.ring_size);
        assert_eq!(l.rx.desc, BASE_GPA);
        assert!(l.rx.end() <= l.tx.desc && l.tx.end() <= l.tx_bufs.base);
        assert!(l.tx_bufs.base + n * l.tx_bufs.stride <= l.rx_bufs.base);
        assert!(l.rx_bufs.base + n * l.rx_bufs.stride <= l.end);
        assert_eq!(l.tx_bufs.len, 12 + 1518);
        assert!(l.tx_bufs.stride >= 12 + 1518 && l.tx_bufs.stride.is_multiple_of(64));
        assert!(l.end.is_multiple_of(4096));
    }
}
