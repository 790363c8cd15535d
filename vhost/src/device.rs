//! The vhost-user virtio-net device state machine, back-end side: what each parsed
//! request does to the session (features, memory table, vrings, status) and when a vring
//! is handed to the data path or taken back. No bytes and no sockets here: requests come
//! in already parsed ([`crate::protocol::message`]), replies go out as encoded messages.
//!
//! # Vring lifecycle
//! A vring is *started* (handed to the data path with [`VringSink::start`]) when it has a
//! size, addresses, a kick (an eventfd or the "poll" flag), a memory table that maps all
//! three ring areas, and is *enabled*. With `VHOST_USER_F_PROTOCOL_FEATURES` acknowledged,
//! rings start disabled until `SET_VRING_ENABLE(1)`; without it, `SET_FEATURES` and each
//! kick enable them (spec, "Ring states"). A ring is *stopped* ([`VringSink::stop`], which
//! returns its exact position) on `GET_VRING_BASE` (which also consumes the kick: the
//! next start needs a new `SET_VRING_KICK`), `SET_VRING_ENABLE(0)`, `RESET_OWNER`,
//! `RESET_DEVICE` and when the session ends. A memory-table change (`SET_MEM_TABLE`,
//! `ADD_MEM_REG`, `REM_MEM_REG`) and a new call fd stop the started rings and start them
//! again at the positions `stop` returned, on the new table. A ring whose addresses a new
//! table no longer maps stays stopped until a later table maps them (QEMU removes and
//! re-adds a region whose size changed).
//!
//! # Refusals
//! A refused request leaves the device as it was, is logged with its name and counted
//! ([`CtlStats`]). The front-end learns of it through the reply it asked for (a non-zero
//! `REPLY_ACK` status when `need_reply` is set, an empty `GET_CONFIG` reply); if it asked
//! for nothing, or the request needs a reply payload vpmd cannot give (`GET_VRING_BASE`
//! of a bad index), the connection is closed, since a front-end that believes a change
//! happened must not keep driving a device where it did not. Requests vpmd does not
//! implement and unknown IDs are the exception: answered with a failure if `need_reply`
//! is set, otherwise logged, counted and ignored, unless the spec says they always get a
//! reply (then the connection is closed: the front-end would wait forever).
//!
//! Must never: panic on any request, call the sink for a vring twice in a row with the
//! same verb, or let a `VringConfig` point outside the memory table it carries.

#![deny(unsafe_code)]

use std::fs::File;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::memory::{HostPtr, MemError, MemTable, Region, MAX_REGIONS};
use crate::protocol::defs::{self, proto, req};
use crate::protocol::message::{
    self, ConfigHeader, Header, MemRegion, MsgError, Request, VringAddr, VringFile, VringState,
};
use crate::virtio::{self, bit, has};
use crate::vring::VringConfig;

/// Most queue pairs a device may have: vring indexes travel in 8 bits in
/// `SET_VRING_KICK`/`CALL`/`ERR`, so 128 pairs (256 vrings) is the protocol's limit
/// (DPDK's `VHOST_MAX_QUEUE_PAIRS`).
pub const MAX_QUEUE_PAIRS: u16 = 128;

/// The MTU reported when neither the device config nor `NET_SET_MTU` gave one.
pub const DEFAULT_MTU: u16 = 1500;

/// What the glue offers for one vhost port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceConfig {
    /// Queue pairs (1..=[`MAX_QUEUE_PAIRS`]); `GET_QUEUE_NUM` reports it.
    pub queue_pairs: u16,
    /// Virtio feature bits offered (`virtio::bit(..)`); `VHOST_USER_F_PROTOCOL_FEATURES`
    /// is added by the control plane.
    pub features: u64,
    /// MTU for the config space (required with `VIRTIO_NET_F_MTU`).
    pub mtu: Option<u16>,
    /// MAC for the config space (required with `VIRTIO_NET_F_MAC`).
    pub mac: Option<[u8; 6]>,
}

/// Virtio features the control plane cannot honour yet: dirty logging (needs
/// `LOG_SHMFD`), the IOMMU (needs IOTLB messages), packed rings (different base payload).
pub const UNSUPPORTED_FEATURES: u64 =
    bit(defs::VHOST_F_LOG_ALL) | bit(virtio::F_IOMMU_PLATFORM) | bit(virtio::F_RING_PACKED);

/// A [`DeviceConfig`] the control plane cannot serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Queue pairs outside 1..=128.
    #[error("queue pairs must be 1..={MAX_QUEUE_PAIRS}, got {0}")]
    QueuePairs(u16),
    /// Features the control plane does not implement.
    #[error("features {0:#x} are not supported by the vhost-user control plane")]
    Features(u64),
    /// More than one queue pair without `VIRTIO_NET_F_MQ`.
    #[error("{0} queue pairs need VIRTIO_NET_F_MQ")]
    MqMissing(u16),
    /// `VIRTIO_NET_F_MTU` without an MTU, or an MTU out of range.
    #[error("VIRTIO_NET_F_MTU needs an MTU in 68..=65535, got {0:?}")]
    Mtu(Option<u16>),
    /// `VIRTIO_NET_F_MAC` without a MAC.
    #[error("VIRTIO_NET_F_MAC needs a MAC")]
    MacMissing,
}

impl DeviceConfig {
    /// Checks the config can be served.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.queue_pairs == 0 || self.queue_pairs > MAX_QUEUE_PAIRS {
            return Err(ConfigError::QueuePairs(self.queue_pairs));
        }
        if self.features & UNSUPPORTED_FEATURES != 0 {
            return Err(ConfigError::Features(self.features & UNSUPPORTED_FEATURES));
        }
        if self.queue_pairs > 1 && !has(self.features, virtio::NET_F_MQ) {
            return Err(ConfigError::MqMissing(self.queue_pairs));
        }
        if let Some(m) = self.mtu {
            if u64::from(m) < defs::NET_MIN_MTU {
                return Err(ConfigError::Mtu(self.mtu));
            }
        } else if has(self.features, virtio::NET_F_MTU) {
            return Err(ConfigError::Mtu(None));
        }
        if has(self.features, virtio::NET_F_MAC) && self.mac.is_none() {
            return Err(ConfigError::MacMissing);
        }
        Ok(())
    }

    /// The virtio features `GET_FEATURES` reports.
    pub fn offered_features(&self) -> u64 {
        self.features | bit(virtio::VHOST_USER_F_PROTOCOL_FEATURES)
    }
}

/// Protocol features vpmd implements and offers (all others are refused at
/// `SET_PROTOCOL_FEATURES`).
pub const OFFERED_PROTOCOL_FEATURES: u64 = bit(proto::MQ)
    | bit(proto::RARP)
    | bit(proto::REPLY_ACK)
    | bit(proto::NET_MTU)
    | bit(proto::CONFIG)
    | bit(proto::RESET_DEVICE)
    | bit(proto::CONFIGURE_MEM_SLOTS)
    | bit(proto::STATUS);

/// The device's state as the glue's link callback sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// Negotiated virtio features.
    pub features: u64,
    /// Queue pairs with both vrings started.
    pub queue_pairs: u16,
    /// Queue pairs the device offers.
    pub max_queue_pairs: u16,
    /// The MTU (`NET_SET_MTU`, else the config's, else 1500).
    pub mtu: u16,
    /// The MAC in the config space (the config's, or one set by a migration `SET_CONFIG`).
    pub mac: Option<[u8; 6]>,
    /// The virtio device status the front-end last set (`SET_STATUS`).
    pub status: u8,
}

/// What the glue implements to receive vrings. Every method runs on the control thread;
/// none may block on anything but the data path leaving a ring, nor call back into the
/// socket layer synchronously (`Handle::unregister` from here is deferred).
///
/// Per vring index the calls alternate `start`, `stop`, `start`, ...; every started ring
/// is stopped before the session ends.
pub trait VringSink: Send + Sync {
    /// Hand a validated vring to the data path.
    fn start(&self, cfg: VringConfig);
    /// Take vring `index` back; returns only when no burst can still touch it, with its
    /// next avail and used positions (`fastpath::Handover::stop`).
    fn stop(&self, index: u16) -> (u16, u16);
    /// Link state or its parameters changed: up when at least one queue pair has both
    /// vrings started; down when none has, and when the session ends.
    fn link(&self, up: bool, info: &LinkInfo);
    /// Broadcast a RARP for `mac` (after a live migration; `SEND_RARP`).
    fn send_rarp(&self, mac: [u8; 6]);
}

/// Per-port control-plane counters, for xstats.
#[derive(Debug, Default)]
pub struct CtlStats {
    /// Requests received.
    pub messages: AtomicU64,
    /// Requests refused (bad size, fds, index, ring size, address, feature, ...).
    pub errors: AtomicU64,
    /// Requests vpmd does not implement or does not know.
    pub unsupported: AtomicU64,
    /// Connections closed by vpmd because of the peer (refusals without a reply channel,
    /// framing errors, stuck half messages).
    pub dropped: AtomicU64,
    /// Front-end sessions established.
    pub sessions: AtomicU64,
    /// Second front-ends refused while one was connected.
    pub refused_connections: AtomicU64,
}

impl CtlStats {
    /// The counters with their xstats names.
    pub fn xstats(&self) -> [(&'static str, u64); 6] {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        [
            ("vhost_ctl_messages", g(&self.messages)),
            ("vhost_ctl_errors", g(&self.errors)),
            ("vhost_ctl_unsupported", g(&self.unsupported)),
            ("vhost_ctl_dropped_connections", g(&self.dropped)),
            ("vhost_ctl_sessions", g(&self.sessions)),
            (
                "vhost_ctl_refused_connections",
                g(&self.refused_connections),
            ),
        ]
    }

    pub(crate) fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// What the connection does after a request.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// A whole reply message to send.
    pub reply: Option<Vec<u8>>,
    /// Close the connection (after sending the reply, if any).
    pub close: bool,
}

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
enum DevError {
    #[error("{0}")]
    Msg(#[from] MsgError),
    #[error("needs protocol feature {0}, not negotiated")]
    NotNegotiated(u32),
    #[error("not implemented by vpmd")]
    Unsupported,
    #[error("unknown request")]
    Unknown,
    #[error("vring index {0} out of range (device has {1} vrings)")]
    BadIndex(u32, usize),
    #[error("ring size {0} is not a power of two in 1..=32768")]
    BadRingSize(u32),
    #[error("vring {0} is started; stop it first")]
    RingStarted(usize),
    #[error("{what} at {addr:#x} is not {align}-byte aligned")]
    Misaligned {
        what: &'static str,
        addr: u64,
        align: u64,
    },
    #[error("{what} at {addr:#x}+{len} is not inside one memory region")]
    Unmapped {
        what: &'static str,
        addr: u64,
        len: u64,
    },
    #[error("dirty logging (VHOST_VRING_F_LOG) is not supported")]
    LogUnsupported,
    #[error("reserved bits set in {0:#x}")]
    Reserved(u64),
    #[error("features {0:#x} were not offered")]
    NotOffered(u64),
    #[error("features changed from {from:#x} to {to:#x} while vrings run")]
    FeaturesWhileRunning { from: u64, to: u64 },
    #[error("{0}")]
    Mem(#[from] MemError),
    #[error("no region {gpa:#x}+{size} at user address {uaddr:#x}")]
    NoSuchRegion { gpa: u64, size: u64, uaddr: u64 },
    #[error("MTU {0} outside 68..=65535")]
    BadMtu(u64),
    #[error("enable value {0} is neither 0 nor 1")]
    BadEnable(u32),
    #[error("config access {offset}+{size} outside the {len}-byte config space")]
    ConfigRange { offset: u32, size: u32, len: usize },
    #[error("config write with flags {0} to a read-only field")]
    ConfigReadOnly(u32),
}

/// How a vring gets kicked.
#[derive(Debug)]
enum Kick {
    /// An eventfd. Held for the ring's life but not read: vpmd polls, and
    /// `VringConfig` has no kick field yet (an idle policy that sleeps on it would add
    /// one).
    Fd(#[allow(dead_code)] File),
    /// The "no fd" flag: the back-end polls.
    Poll,
}

#[derive(Debug, Default)]
struct Vring {
    num: Option<u16>,
    addr: Option<VringAddr>,
    /// Where the next start resumes: next avail entry, next used entry.
    base: (u16, u16),
    kick: Option<Kick>,
    call: Option<Arc<File>>,
    err: Option<File>,
    enabled: bool,
    started: bool,
}

/// The virtio-net config space vpmd serves (virtio 1.2, 5.1.4): mac, status,
/// max_virtqueue_pairs, mtu, speed, duplex, and zeroed RSS fields.
pub const CONFIG_SPACE_LEN: usize = 24;

/// One front-end session's device. Dropping it stops every started vring and reports the
/// link down.
pub struct Device {
    name: String,
    cfg: DeviceConfig,
    sink: Arc<dyn VringSink>,
    stats: Arc<CtlStats>,
    features: u64,
    protocol: u64,
    status: u8,
    mtu: u16,
    mac: Option<[u8; 6]>,
    mem: Option<Arc<MemTable>>,
    vrings: Vec<Vring>,
    link: Option<(bool, LinkInfo)>,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("name", &self.name)
            .field("features", &self.features)
            .field("protocol", &self.protocol)
            .field("vrings", &self.vrings)
            .finish_non_exhaustive()
    }
}

impl Device {
    /// A fresh session for `cfg` (which must have passed [`DeviceConfig::validate`]);
    /// `name` (the socket path) prefixes log lines.
    pub fn new(
        name: impl Into<String>,
        cfg: DeviceConfig,
        sink: Arc<dyn VringSink>,
        stats: Arc<CtlStats>,
    ) -> Self {
        let vrings = (0..cfg.queue_pairs as usize * 2)
            .map(|_| Vring::default())
            .collect();
        Self {
            name: name.into(),
            mtu: cfg.mtu.unwrap_or(DEFAULT_MTU),
            mac: cfg.mac,
            cfg,
            sink,
            stats,
            features: 0,
            protocol: 0,
            status: 0,
            mem: None,
            vrings,
            link: None,
        }
    }

    /// Applies one request and says what to send back.
    pub fn handle(&mut self, header: Header, request: Result<Request, MsgError>) -> Outcome {
        CtlStats::bump(&self.stats.messages);
        let name = defs::request_name(header.request);
        let spec = message::spec(header.request);
        let has_reply = spec.is_some_and(|s| s.has_reply);
        let result = request.map_err(DevError::from).and_then(|r| {
            if let Some(f) = spec.and_then(|s| s.feature) {
                if self.protocol & bit(f) == 0 {
                    return Err(DevError::NotNegotiated(f));
                }
            }
            self.apply(r)
        });
        let out = match result {
            Ok(Some(payload)) => Outcome {
                reply: Some(message::reply(header.request, &payload)),
                close: false,
            },
            Ok(None) if header.need_reply() => Outcome {
                reply: Some(message::reply(header.request, &0u64.to_ne_bytes())),
                close: false,
            },
            Ok(None) => Outcome::default(),
            Err(e) => self.refuse(header, name, has_reply, e),
        };
        self.update_link();
        out
    }

    fn refuse(&self, header: Header, name: &str, has_reply: bool, e: DevError) -> Outcome {
        let ignorable = matches!(e, DevError::Unsupported | DevError::Unknown);
        if ignorable {
            CtlStats::bump(&self.stats.unsupported);
        } else {
            CtlStats::bump(&self.stats.errors);
        }
        let failure = || Some(message::reply(header.request, &1u64.to_ne_bytes()));
        let out = if header.request == req::GET_CONFIG {
            // "vhost-user back-end uses zero length of payload to indicate an error".
            Outcome {
                reply: Some(message::reply(header.request, &[])),
                close: false,
            }
        } else if header.need_reply() && !has_reply {
            Outcome {
                reply: failure(),
                close: false,
            }
        } else {
            Outcome {
                reply: None,
                close: has_reply || !ignorable,
            }
        };
        let what = if out.close {
            "closing the connection"
        } else if out.reply.is_some() {
            "refused"
        } else {
            "ignored"
        };
        log::warn!(
            "vhost {}: {name} ({}): {e}; {what}",
            self.name,
            header.request
        );
        out
    }

    fn apply(&mut self, r: Request) -> Result<Option<Vec<u8>>, DevError> {
        let u64_reply = |v: u64| Ok(Some(v.to_ne_bytes().to_vec()));
        match r {
            Request::GetFeatures => return u64_reply(self.cfg.offered_features()),
            Request::SetFeatures(f) => self.set_features(f)?,
            Request::SetOwner => {}
            Request::ResetOwner => self.reset_rings(),
            Request::SetMemTable(regions) => self.set_mem_table(regions)?,
            Request::SetVringNum(s) => self.set_vring_num(s)?,
            Request::SetVringAddr(a) => self.set_vring_addr(a)?,
            Request::SetVringBase(s) => self.set_vring_base(s)?,
            Request::GetVringBase(s) => {
                let num = u32::from(self.get_vring_base(s)?);
                return Ok(Some(
                    VringState {
                        index: s.index,
                        num,
                    }
                    .to_bytes()
                    .to_vec(),
                ));
            }
            Request::SetVringKick(v) => self.set_vring_kick(v)?,
            Request::SetVringCall(v) => self.set_vring_call(v)?,
            Request::SetVringErr(v) => {
                let i = self.index(u32::from(v.index))?;
                self.vrings[i].err = v.file;
            }
            Request::GetProtocolFeatures => return u64_reply(OFFERED_PROTOCOL_FEATURES),
            Request::SetProtocolFeatures(p) => {
                if p & !OFFERED_PROTOCOL_FEATURES != 0 {
                    return Err(DevError::NotOffered(p & !OFFERED_PROTOCOL_FEATURES));
                }
                self.protocol = p;
            }
            Request::GetQueueNum => return u64_reply(u64::from(self.cfg.queue_pairs)),
            Request::SetVringEnable(s) => self.set_vring_enable(s)?,
            Request::SendRarp(mac) => self.sink.send_rarp(mac),
            Request::NetSetMtu(m) => {
                if !(defs::NET_MIN_MTU..=defs::NET_MAX_MTU).contains(&m) {
                    return Err(DevError::BadMtu(m));
                }
                self.mtu = m as u16;
            }
            Request::GetConfig(h) => return self.get_config(h).map(Some),
            Request::SetConfig(h, data) => self.set_config(h, &data)?,
            Request::ResetDevice => {
                self.reset_rings();
                self.features = 0;
                self.status = 0;
            }
            Request::GetMaxMemSlots => return u64_reply(MAX_REGIONS as u64),
            Request::AddMemReg(r, file) => {
                let region = Region::map(r.desc(), &file)?;
                let mut regions = self.regions();
                regions.push(region);
                self.replace_mem(MemTable::new(regions)?);
            }
            Request::RemMemReg(r) => {
                let mut regions = self.regions();
                let at = regions
                    .iter()
                    .position(|x| {
                        let d = x.desc();
                        (d.gpa, d.size, d.uaddr) == (r.gpa, r.size, r.uaddr)
                    })
                    .ok_or(DevError::NoSuchRegion {
                        gpa: r.gpa,
                        size: r.size,
                        uaddr: r.uaddr,
                    })?;
                regions.remove(at);
                self.replace_mem(MemTable::new(regions)?);
            }
            Request::SetStatus(s) => {
                self.status = u8::try_from(s).map_err(|_| DevError::Reserved(s))?;
            }
            Request::GetStatus => return u64_reply(u64::from(self.status)),
            Request::Unsupported(_) => return Err(DevError::Unsupported),
            Request::Unknown(_) => return Err(DevError::Unknown),
        }
        Ok(None)
    }

    fn index(&self, index: u32) -> Result<usize, DevError> {
        let i = index as usize;
        if i >= self.vrings.len() {
            return Err(DevError::BadIndex(index, self.vrings.len()));
        }
        Ok(i)
    }

    fn set_features(&mut self, f: u64) -> Result<(), DevError> {
        let extra = f & !self.cfg.offered_features();
        if extra != 0 {
            return Err(DevError::NotOffered(extra));
        }
        if f != self.features && self.vrings.iter().any(|v| v.started) {
            return Err(DevError::FeaturesWhileRunning {
                from: self.features,
                to: f,
            });
        }
        self.features = f;
        if !has(f, virtio::VHOST_USER_F_PROTOCOL_FEATURES) {
            // "the back-end must enable all rings immediately".
            for i in 0..self.vrings.len() {
                self.vrings[i].enabled = true;
                self.start_if_ready(i);
            }
        }
        Ok(())
    }

    fn set_vring_num(&mut self, s: VringState) -> Result<(), DevError> {
        let i = self.index(s.index)?;
        if s.num == 0 || !s.num.is_power_of_two() || s.num > u32::from(virtio::MAX_QUEUE_SIZE) {
            return Err(DevError::BadRingSize(s.num));
        }
        if self.vrings[i].started {
            return Err(DevError::RingStarted(i));
        }
        self.vrings[i].num = Some(s.num as u16);
        self.start_if_ready(i);
        Ok(())
    }

    fn set_vring_addr(&mut self, a: VringAddr) -> Result<(), DevError> {
        let i = self.index(a.index)?;
        if a.flags & defs::VRING_F_LOG != 0 {
            return Err(DevError::LogUnsupported);
        }
        if a.flags != 0 {
            return Err(DevError::Reserved(u64::from(a.flags)));
        }
        for (what, addr, align) in ring_areas(&a) {
            if !addr.is_multiple_of(align) {
                return Err(DevError::Misaligned { what, addr, align });
            }
        }
        if let (Some(mem), Some(num)) = (&self.mem, self.vrings[i].num) {
            translate(mem, &a, num)?;
        }
        let restart = self.vrings[i].started;
        if restart {
            self.stop_ring(i);
        }
        self.vrings[i].addr = Some(a);
        self.start_if_ready(i);
        Ok(())
    }

    fn set_vring_base(&mut self, s: VringState) -> Result<(), DevError> {
        let i = self.index(s.index)?;
        // Split rings: bits 16-31 are reserved (packed rings are not offered).
        let base = u16::try_from(s.num).map_err(|_| DevError::Reserved(u64::from(s.num)))?;
        if self.vrings[i].started {
            return Err(DevError::RingStarted(i));
        }
        self.vrings[i].base = (base, base);
        self.start_if_ready(i);
        Ok(())
    }

    fn get_vring_base(&mut self, s: VringState) -> Result<u16, DevError> {
        let i = self.index(s.index)?;
        self.stop_ring(i);
        // The ring is stopped now; it starts again on the next kick.
        self.vrings[i].kick = None;
        Ok(self.vrings[i].base.0)
    }

    fn set_vring_kick(&mut self, v: VringFile) -> Result<(), DevError> {
        let i = self.index(u32::from(v.index))?;
        self.vrings[i].kick = Some(v.file.map_or(Kick::Poll, Kick::Fd));
        if !has(self.features, virtio::VHOST_USER_F_PROTOCOL_FEATURES) {
            self.vrings[i].enabled = true;
        }
        self.start_if_ready(i);
        Ok(())
    }

    fn set_vring_call(&mut self, v: VringFile) -> Result<(), DevError> {
        let i = self.index(u32::from(v.index))?;
        let restart = self.vrings[i].started;
        if restart {
            self.stop_ring(i);
        }
        self.vrings[i].call = v.file.map(Arc::new);
        if restart {
            self.start_if_ready(i);
        }
        Ok(())
    }

    fn set_vring_enable(&mut self, s: VringState) -> Result<(), DevError> {
        let i = self.index(s.index)?;
        match s.num {
            0 => {
                self.vrings[i].enabled = false;
                self.stop_ring(i);
            }
            1 => {
                self.vrings[i].enabled = true;
                self.start_if_ready(i);
            }
            n => return Err(DevError::BadEnable(n)),
        }
        Ok(())
    }

    fn set_mem_table(&mut self, regions: Vec<(MemRegion, File)>) -> Result<(), DevError> {
        let mapped = regions
            .iter()
            .map(|(r, f)| Region::map(r.desc(), f))
            .collect::<Result<Vec<_>, _>>()?;
        self.replace_mem(MemTable::new(mapped)?);
        Ok(())
    }

    /// The regions of the current table (sharing their mappings).
    fn regions(&self) -> Vec<Region> {
        self.mem.iter().flat_map(|m| m.regions().cloned()).collect()
    }

    /// Publishes `table`: stops the started rings, swaps, restarts every ready ring on the
    /// new table. The old table is dropped only after every `stop` returned.
    fn replace_mem(&mut self, table: MemTable) {
        for i in 0..self.vrings.len() {
            self.stop_ring(i);
        }
        let old = self.mem.replace(Arc::new(table));
        for i in 0..self.vrings.len() {
            self.start_if_ready(i);
        }
        drop(old);
    }

    fn reset_rings(&mut self) {
        for i in 0..self.vrings.len() {
            self.stop_ring(i);
            self.vrings[i] = Vring::default();
        }
    }

    fn stop_ring(&mut self, i: usize) {
        if self.vrings[i].started {
            self.vrings[i].base = self.sink.stop(i as u16);
            self.vrings[i].started = false;
        }
    }

    /// Starts ring `i` if it is complete and enabled; a ring whose addresses the table
    /// does not map stays stopped (logged).
    fn start_if_ready(&mut self, i: usize) {
        let v = &self.vrings[i];
        let (Some(num), Some(addr), Some(_), true, false, Some(mem)) =
            (v.num, v.addr, &v.kick, v.enabled, v.started, &self.mem)
        else {
            return;
        };
        match translate(mem, &addr, num) {
            Ok((desc, avail, used)) => {
                let cfg = VringConfig {
                    index: i as u16,
                    size: num,
                    desc,
                    avail,
                    used,
                    mem: Arc::clone(mem),
                    features: self.features,
                    last_avail_idx: v.base.0,
                    last_used_idx: v.base.1,
                    call: v.call.clone(),
                };
                self.sink.start(cfg);
                self.vrings[i].started = true;
            }
            Err(e) => log::warn!("vhost {}: vring {i} stays stopped: {e}", self.name),
        }
    }

    fn config_space(&self) -> [u8; CONFIG_SPACE_LEN] {
        let mut c = [0u8; CONFIG_SPACE_LEN];
        c[0..6].copy_from_slice(&self.mac.unwrap_or_default());
        let up = self.link.as_ref().is_some_and(|(up, _)| *up);
        let status = if up { defs::NET_S_LINK_UP } else { 0 };
        c[6..8].copy_from_slice(&status.to_le_bytes());
        c[8..10].copy_from_slice(&self.cfg.queue_pairs.to_le_bytes());
        c[10..12].copy_from_slice(&self.mtu.to_le_bytes());
        c[12..16].copy_from_slice(&u32::MAX.to_le_bytes()); // speed: unknown
        c[16] = 0xff; // duplex: unknown
        c
    }

    fn config_range(h: &ConfigHeader) -> Result<std::ops::Range<usize>, DevError> {
        let (o, s) = (h.offset as usize, h.size as usize);
        match o.checked_add(s) {
            Some(end) if end <= CONFIG_SPACE_LEN => Ok(o..end),
            _ => Err(DevError::ConfigRange {
                offset: h.offset,
                size: h.size,
                len: CONFIG_SPACE_LEN,
            }),
        }
    }

    fn get_config(&self, h: ConfigHeader) -> Result<Vec<u8>, DevError> {
        let r = Self::config_range(&h)?;
        let space = self.config_space();
        Ok(message::config_payload(h, &space[r]))
    }

    fn set_config(&mut self, h: ConfigHeader, data: &[u8]) -> Result<(), DevError> {
        let r = Self::config_range(&h)?;
        // A virtio 1.x net config space is read-only to the driver; a migration may carry
        // the MAC over.
        if h.flags != defs::CONFIG_FLAG_MIGRATION || r.end > 6 {
            return Err(DevError::ConfigReadOnly(h.flags));
        }
        let mut mac = self.mac.unwrap_or_default();
        mac[r].copy_from_slice(data);
        self.mac = Some(mac);
        Ok(())
    }

    fn link_info(&self, pairs: u16) -> LinkInfo {
        LinkInfo {
            features: self.features,
            queue_pairs: pairs,
            max_queue_pairs: self.cfg.queue_pairs,
            mtu: self.mtu,
            mac: self.mac,
            status: self.status,
        }
    }

    fn update_link(&mut self) {
        let pairs = self
            .vrings
            .chunks_exact(2)
            .filter(|p| p[0].started && p[1].started)
            .count() as u16;
        let now = (pairs > 0, self.link_info(pairs));
        if self.link.as_ref() != Some(&now) && (now.0 || self.link.is_some()) {
            self.sink.link(now.0, &now.1);
            self.link = Some(now);
        }
    }

    /// Whether vring `index` is handed to the data path (for tests and introspection).
    pub fn is_started(&self, index: u16) -> bool {
        self.vrings.get(index as usize).is_some_and(|v| v.started)
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        for i in 0..self.vrings.len() {
            self.stop_ring(i);
        }
        if let Some((true, _)) = self.link {
            self.sink.link(false, &self.link_info(0));
        }
    }
}

/// The three ring areas of `a`: name, address, alignment (virtio 1.2, 2.7 "Split
/// Virtqueues": 16, 2, 4).
fn ring_areas(a: &VringAddr) -> [(&'static str, u64, u64); 3] {
    [
        ("descriptor table", a.desc, 16),
        ("available ring", a.avail, 2),
        ("used ring", a.used, 4),
    ]
}

/// Host pointers of the descriptor table (16 n bytes), available ring (6 + 2 n, with
/// `used_event`) and used ring (6 + 8 n, with `avail_event`), each wholly inside one
/// region and aligned in host memory too (a region's user address need not be
/// page-aligned, so an aligned front-end address does not guarantee it).
fn translate(
    mem: &MemTable,
    a: &VringAddr,
    num: u16,
) -> Result<(HostPtr, HostPtr, HostPtr), DevError> {
    let n = u64::from(num);
    let lens = [16 * n, 6 + 2 * n, 6 + 8 * n];
    let mut out = [HostPtr::dangling(); 3];
    for (((what, addr, align), len), o) in ring_areas(a).into_iter().zip(lens).zip(&mut out) {
        let p = mem
            .uaddr_to_host(addr, len)
            .ok_or(DevError::Unmapped { what, addr, len })?;
        if !(p.as_ptr() as usize as u64).is_multiple_of(align) {
            return Err(DevError::Misaligned {
                what,
                addr: p.as_ptr() as usize as u64,
                align,
            });
        }
        *o = p;
    }
    Ok((out[0], out[1], out[2]))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NullSink;

    impl VringSink for NullSink {
        fn start(&self, _: VringConfig) {}
        fn stop(&self, _: u16) -> (u16, u16) {
            (0, 0)
        }
        fn link(&self, _: bool, _: &LinkInfo) {}
        fn send_rarp(&self, _: [u8; 6]) {}
    }

    fn device() -> Device {
        let cfg = DeviceConfig {
            queue_pairs: 1,
            features: bit(virtio::F_VERSION_1),
            mtu: None,
            mac: None,
        };
        Device::new("t", cfg, Arc::new(NullSink), Arc::default())
    }

    fn send(d: &mut Device, request: u32, flags: u32, r: Result<Request, MsgError>) -> Outcome {
        d.handle(Header::new(request, flags, 0), r)
    }

    fn status(o: &Outcome) -> Option<u64> {
        let r = o.reply.as_ref()?;
        Some(u64::from_ne_bytes(r[12..20].try_into().ok()?))
    }

    #[test]
    fn a_refusal_is_answered_when_asked_and_closes_otherwise() {
        let mut d = device();
        let bad = || Ok(Request::SetVringNum(VringState { index: 0, num: 3 }));
        let asked = send(&mut d, req::SET_VRING_NUM, defs::NEED_REPLY_MASK, bad());
        assert_eq!((status(&asked), asked.close), (Some(1), false));
        let silent = send(&mut d, req::SET_VRING_NUM, 0, bad());
        assert_eq!(
            silent,
            Outcome {
                reply: None,
                close: true
            }
        );
        // A request with a reply payload cannot be answered with a status.
        let get = Ok(Request::GetVringBase(VringState { index: 9, num: 0 }));
        let o = send(&mut d, req::GET_VRING_BASE, defs::NEED_REPLY_MASK, get);
        assert_eq!(
            o,
            Outcome {
                reply: None,
                close: true
            }
        );
        // A wire-level error counts the same.
        let o = send(&mut d, req::SET_FEATURES, 0, Err(MsgError::TooManyFds));
        assert!(o.close);
        assert_eq!(d.stats.errors.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn unknown_requests_are_ignored_unless_asked_or_awaited() {
        let mut d = device();
        let o = send(&mut d, 99, 0, Ok(Request::Unknown(99)));
        assert_eq!(o, Outcome::default());
        let o = send(&mut d, 99, defs::NEED_REPLY_MASK, Ok(Request::Unknown(99)));
        assert_eq!(status(&o), Some(1));
        let spec = message::spec(req::GET_INFLIGHT_FD).unwrap();
        let o = send(
            &mut d,
            req::GET_INFLIGHT_FD,
            0,
            Ok(Request::Unsupported(spec)),
        );
        assert!(o.close, "the front-end waits for an inflight fd");
        assert_eq!(d.stats.unsupported.load(Ordering::Relaxed), 3);
        assert_eq!(d.stats.errors.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn success_acks_only_when_asked_and_gets_reply_with_their_payload() {
        let mut d = device();
        let o = send(&mut d, req::SET_OWNER, 0, Ok(Request::SetOwner));
        assert_eq!(o, Outcome::default());
        let o = send(
            &mut d,
            req::SET_OWNER,
            defs::NEED_REPLY_MASK,
            Ok(Request::SetOwner),
        );
        assert_eq!(status(&o), Some(0));
        let o = send(
            &mut d,
            req::GET_FEATURES,
            defs::NEED_REPLY_MASK,
            Ok(Request::GetFeatures),
        );
        let expect = bit(virtio::F_VERSION_1) | bit(virtio::VHOST_USER_F_PROTOCOL_FEATURES);
        assert_eq!(status(&o), Some(expect), "one reply: the features");
        // Protocol-gated requests need the feature first.
        let o = send(&mut d, req::GET_STATUS, 0, Ok(Request::GetStatus));
        assert!(o.close);
        let p = Ok(Request::SetProtocolFeatures(bit(proto::STATUS)));
        send(&mut d, req::SET_PROTOCOL_FEATURES, 0, p);
        let o = send(&mut d, req::GET_STATUS, 0, Ok(Request::GetStatus));
        assert_eq!(status(&o), Some(0));
    }

    #[test]
    fn device_configs_the_control_plane_cannot_serve_are_refused() {
        let ok = DeviceConfig {
            queue_pairs: 4,
            features: bit(virtio::NET_F_MQ),
            mtu: None,
            mac: None,
        };
        assert_eq!(ok.validate(), Ok(()));
        let e = |c: DeviceConfig| c.validate().unwrap_err();
        assert!(matches!(
            e(DeviceConfig {
                queue_pairs: 0,
                ..ok.clone()
            }),
            ConfigError::QueuePairs(0)
        ));
        assert!(matches!(
            e(DeviceConfig {
                queue_pairs: 129,
                ..ok.clone()
            }),
            ConfigError::QueuePairs(_)
        ));
        assert!(matches!(
            e(DeviceConfig {
                features: 0,
                ..ok.clone()
            }),
            ConfigError::MqMissing(4)
        ));
        let packed = ok.features | bit(virtio::F_RING_PACKED);
        assert!(matches!(
            e(DeviceConfig {
                features: packed,
                ..ok.clone()
            }),
            ConfigError::Features(_)
        ));
        let mtu = ok.features | bit(virtio::NET_F_MTU);
        assert!(matches!(
            e(DeviceConfig {
                features: mtu,
                ..ok.clone()
            }),
            ConfigError::Mtu(None)
        ));
        let mac = ok.features | bit(virtio::NET_F_MAC);
        assert!(matches!(
            e(DeviceConfig {
                features: mac,
                ..ok
            }),
            ConfigError::MacMissing
        ));
    }
}
