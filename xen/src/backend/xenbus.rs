//! Netback's xenbus side for one vif: the feature keys it advertises, the backend
//! state machine, and `connect` (read the frontend's keys, map its rings, bind its
//! event channels, hand the data rings to the data path and the control ring, if the
//! frontend made one, to [`CtrlSide`]) (`xenbus.c`, ANCHORS 3.3-3.4).
//!
//! The state moves along the shortest legal path to the target the frontend's state
//! asks for ([`step_towards`]): Initialising -> InitWait -> Connected -> Closing ->
//! Closed, Closed -> InitWait for a reconnect. Bad or missing frontend keys are the
//! frontend's fault: the device writes `error` and goes to Closing; nothing panics.
//!
//! Must never: block the data path (rings reach it through a
//! [`Handover`](vpmd_fastpath::Handover), taken back before unmapping), trust a
//! frontend value unparsed, or keep a mapping after the frontend closed.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use vpmd_fastpath::{handover, Handover, Reader};
use vpmd_pmd::parse_mac;

use super::clock::Clock;
use super::credit::{Credit, Rate};
use super::ctrl::{CtrlRing, CtrlSide};
use super::hash::HashShared;
use super::late_eoi::LateEoi;
use super::ring::VifRingParts;
use super::rx::GuestTxRing;
use super::rx_stall::RxTimers;
use super::staging::{unstaged, Staging};
use super::stats::QueueCounters;
use super::tx::{FrontendOffloads, GuestRxRing};
use super::vif::VifShared;
use super::{EvtchnOf, MappingOf};
use crate::platform::xenstore::COALESCE_AT;
use crate::platform::{transact, EventChannels, GrantOps, Platform, Port, TxId, XenStore, XsError};
use crate::wire::grant::{DomId, GrantRef};
use crate::wire::xenbus::XenbusState;

/// Most queues a vif may have (netback's `xenvif_max_queues` default is the CPU
/// count; vpmd's lcores decide, this is the ceiling).
pub const MAX_QUEUES: u16 = 8;

/// Least time between two services of the frontend's event channels.
const SERVICE_PERIOD: Duration = Duration::from_millis(1);

/// Which of a queue's rings a bound port signals.
#[derive(Debug, Clone, Copy)]
enum Signals {
    GuestTx,
    GuestRx,
    Both,
}

/// A bound port of a queue, served by [`Netback::service_events`].
struct Gate<P: Platform> {
    queue: usize,
    signals: Signals,
    eoi: LateEoi<EvtchnOf<P>>,
}

/// What the backend offers and whom it serves.
#[derive(Debug, Clone)]
pub struct BackendConfig {
    /// The frontend's domain.
    pub frontend: DomId,
    /// The vif's device id.
    pub devid: u32,
    /// The ethdev port serving the vif (log lines name it).
    pub port: u16,
    /// `multi-queue-max-queues`.
    pub max_queues: u16,
    /// `feature-split-event-channels`.
    pub split_evtchn: bool,
    /// Guest tx rate limit per queue, unless the backend directory's `rate` key
    /// (`bytes,usec`, the toolstack's) sets one.
    pub rate: Option<Rate>,
    /// Guest rx ring drain timeout ([`rx_stall`](super::rx_stall)).
    pub rx_drain: Duration,
    /// Guest rx ring stall timeout.
    pub rx_stall: Duration,
    /// The time rate-limit credit and the guest rx timers read.
    pub clock: Clock,
    /// Guest tx fragments of at least this many bytes are grant-mapped, not copied
    /// ([`zerocopy`](super::zerocopy)); 0 copies everything.
    pub copy_threshold: u16,
}

/// Why a vif could not be set up, naming the xenstore key at fault.
#[derive(Debug, thiserror::Error)]
pub enum XenbusError {
    /// A key is missing or malformed.
    #[error("xenstore key {key}: {why}")]
    Key {
        /// The full path.
        key: String,
        /// What was wrong.
        why: &'static str,
    },
    /// Mapping a ring or binding an event channel failed.
    #[error("{what} of {key}: {err}")]
    Resource {
        /// The key that named it.
        key: String,
        /// "map" or "bind".
        what: &'static str,
        /// The platform's error.
        err: String,
    },
    /// Another backend set the vif up first ([`Claim::Unclaimed`]).
    #[error("{path}: served by another backend")]
    Taken {
        /// The vif's backend directory.
        path: String,
    },
    /// Xenstore failed.
    #[error(transparent)]
    Store(#[from] XsError),
}

/// The feature key every backend writes when it sets a vif up (netback's
/// `feature-rx-copy`); its presence is what tells a vif is served.
const FEATURE_RX_COPY: &str = "feature-rx-copy";

/// Whether a backend has advertised its features in the backend directory `be`.
pub(crate) fn has_backend<S: XenStore + ?Sized>(
    st: &S,
    tx: TxId,
    be: &str,
) -> Result<bool, XsError> {
    match st.read(tx, &format!("{be}/{FEATURE_RX_COPY}")) {
        Ok(_) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e),
    }
}

/// One step from `from` towards `to` along netback's legal transitions, or `None`
/// once there.
pub fn step_towards(from: XenbusState, to: XenbusState) -> Option<XenbusState> {
    use XenbusState::*;
    if from == to {
        return None;
    }
    Some(match (from, to) {
        (Initialising, Closed) => Closed,
        (Initialising, _) => InitWait,
        (InitWait, Connected) => Connected,
        (InitWait, _) => Closing,
        (Connected, _) => Closing,
        (Closing, _) => Closed,
        (Closed, Closing) => Closing,
        (Closed, _) => InitWait,
        // Never entered by the backend; get back on the graph.
        (_, _) => Closing,
    })
}

/// The data-path ends of one queue, for the ethdev glue.
pub struct QueueEnds<P: Platform> {
    /// The guest tx ring (vpmd's rx).
    pub rx: Reader<GuestTxRing<P>>,
    /// The guest rx ring (vpmd's tx).
    pub tx: Reader<GuestRxRing<P>>,
    /// The queue's netback counters.
    pub stats: Arc<QueueCounters>,
}

struct QueueSlot<P: Platform> {
    rx: Arc<Handover<GuestTxRing<P>>>,
    tx: Arc<Handover<GuestRxRing<P>>>,
    stats: Arc<QueueCounters>,
}

impl<P: Platform> Clone for QueueSlot<P> {
    fn clone(&self) -> Self {
        Self {
            rx: Arc::clone(&self.rx),
            tx: Arc::clone(&self.tx),
            stats: Arc::clone(&self.stats),
        }
    }
}

/// The backend's side of a port's queues: the handovers its rings reach the data path
/// through and their counters. They outlive a vif, so a port bound to the next vif
/// keeps its queues and its counts.
pub struct Queues<P: Platform>(Vec<QueueSlot<P>>);

impl<P: Platform> Clone for Queues<P> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<P: Platform> Queues<P> {
    /// `n` queues (1..=[`MAX_QUEUES`]) and their data-path ends.
    pub fn new(n: u16) -> (Self, Vec<QueueEnds<P>>) {
        let (slots, ends) = (0..n.clamp(1, MAX_QUEUES))
            .map(|_| {
                let (rx, rx_reader) = handover();
                let (tx, tx_reader) = handover();
                let stats = Arc::new(QueueCounters::default());
                let end = QueueEnds {
                    rx: rx_reader,
                    tx: tx_reader,
                    stats: Arc::clone(&stats),
                };
                (QueueSlot { rx, tx, stats }, end)
            })
            .unzip();
        (Self(slots), ends)
    }

    /// How many queues (at least one).
    pub(crate) fn len(&self) -> u16 {
        self.0.len() as u16
    }

    /// Every queue's netback counters.
    pub fn stats(&self) -> Vec<Arc<QueueCounters>> {
        self.0.iter().map(|q| Arc::clone(&q.stats)).collect()
    }
}

/// Whether [`Netback::bind`] may take a vif another backend has set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The vif named in the devargs: set it up whatever is there (a restarted
    /// backend takes its vif back).
    Named,
    /// A vif found by [`discover`](super::discover): only if no backend advertised
    /// features on it yet, checked in the transaction that writes ours, so two
    /// backends never serve one vif.
    Unclaimed,
}

/// The backend of one vif.
pub struct Netback<P: Platform> {
    platform: Arc<P>,
    cfg: BackendConfig,
    be: String,
    fe: String,
    state: XenbusState,
    queues: Queues<P>,
    /// The toolstack removed the backend directory: nothing more is written there.
    removed: bool,
    vif: Arc<VifShared>,
    mac: [u8; 6],
    handle: u32,
    connected_queues: u16,
    /// The `rate` key as last applied (`None`: absent), so a watch event for another
    /// key does not re-read it as a change.
    rate_key: Option<String>,
    /// Live `rate` values that did not parse (the previous rate was kept).
    rate_key_invalid: u64,
    /// The bound ports of the connected queues.
    gates: Vec<Gate<P>>,
    /// When the ports may be serviced again.
    next_service: Duration,
    /// The frontend's `feature-rx-notify`: it notifies when it posts rx buffers.
    /// Without it netback shortens its drain timeout and skips stall detection
    /// ([`RxTimers::new`]); a polling backend needs no notification either way.
    rx_notify: bool,
    /// The control ring and the hash settings it makes.
    ctrl: CtrlSide<P>,
}

impl<P: Platform> std::fmt::Debug for Netback<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Netback")
            .field("be", &self.be)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// The backend directory of a vif, as the toolstack creates it.
pub fn backend_path(backend: DomId, frontend: DomId, devid: u32) -> String {
    format!(
        "/local/domain/{}/backend/vif/{}/{devid}",
        backend.0, frontend.0
    )
}

/// The frontend directory of a vif.
pub fn frontend_path(frontend: DomId, devid: u32) -> String {
    format!("/local/domain/{}/device/vif/{devid}", frontend.0)
}

impl<P: Platform> Netback<P> {
    /// Probes the vif the toolstack created, with new queues: [`Netback::bind`] with
    /// [`Claim::Named`]. Returns the data-path ends of every queue.
    pub fn probe(
        platform: Arc<P>,
        cfg: BackendConfig,
    ) -> Result<(Self, Vec<QueueEnds<P>>), XenbusError> {
        let (queues, ends) = Queues::new(cfg.max_queues);
        Ok((Self::bind(platform, cfg, &queues, Claim::Named)?, ends))
    }

    /// Sets up the vif `cfg` names on `queues`: reads `mac` and `handle`, advertises
    /// the features in one transaction, enters Initialising, watches the frontend's
    /// state, reports `hotplug-status=connected` and reacts to the frontend's state
    /// once.
    pub fn bind(
        platform: Arc<P>,
        cfg: BackendConfig,
        queues: &Queues<P>,
        claim: Claim,
    ) -> Result<Self, XenbusError> {
        let be = backend_path(platform.domid(), cfg.frontend, cfg.devid);
        let st = platform.store();
        let fe = match st.read(TxId::NONE, &format!("{be}/frontend")) {
            Ok(v) => String::from_utf8(v).map_err(|_| XenbusError::Key {
                key: format!("{be}/frontend"),
                why: "not UTF-8",
            })?,
            Err(e) if e.is_not_found() => frontend_path(cfg.frontend, cfg.devid),
            Err(e) => return Err(e.into()),
        };
        let mac_key = format!("{be}/mac");
        let mac = read_str(st, &mac_key)?
            .as_deref()
            .and_then(parse_mac)
            .ok_or(XenbusError::Key {
                key: mac_key,
                why: "missing or not aa:bb:cc:dd:ee:ff",
            })?;
        let handle_key = format!("{be}/handle");
        let handle = match read_str(st, &handle_key)? {
            None => cfg.devid,
            Some(h) => h.parse().map_err(|_| XenbusError::Key {
                key: handle_key,
                why: "not a number",
            })?,
        };
        let max_queues = queues.len();
        let taken = transact(st, |tx| {
            if claim == Claim::Unclaimed && has_backend(st, tx, &be)? {
                return Ok(true);
            }
            for (k, v) in [
                ("feature-sg", "1"),
                ("feature-gso-tcpv4", "1"),
                ("feature-gso-tcpv6", "1"),
                ("feature-ipv6-csum-offload", "1"),
                (FEATURE_RX_COPY, "1"),
                ("feature-rx-flip", "0"),
                ("feature-multicast-control", "1"),
                ("feature-dynamic-multicast-control", "1"),
                (
                    "feature-split-event-channels",
                    if cfg.split_evtchn { "1" } else { "0" },
                ),
                ("multi-queue-max-queues", &max_queues.to_string()),
                ("feature-ctrl-ring", "1"),
            ] {
                st.write(tx, &format!("{be}/{k}"), v.as_bytes())?;
            }
            st.write(
                tx,
                &format!("{be}/state"),
                XenbusState::Initialising.as_str().as_bytes(),
            )?;
            Ok(false)
        })?;
        if taken {
            return Err(XenbusError::Taken { path: be });
        }
        let mut nb = Self {
            platform,
            cfg: BackendConfig { max_queues, ..cfg },
            be,
            fe,
            state: XenbusState::Initialising,
            queues: queues.clone(),
            removed: false,
            vif: Arc::new(VifShared::new()),
            mac,
            handle,
            connected_queues: 0,
            rate_key: None,
            rate_key_invalid: 0,
            gates: Vec::new(),
            next_service: Duration::ZERO,
            rx_notify: false,
            ctrl: CtrlSide::default(),
        };
        for path in nb.watched() {
            nb.platform.store().watch(&path, &nb.watch_token())?;
        }
        // What the kernel netback's hotplug script reports once the vif exists: xl
        // waits for it, and there is no netdev for a script to set up.
        nb.platform.store().write(
            TxId::NONE,
            &format!("{}/hotplug-status", nb.be),
            b"connected",
        )?;
        nb.frontend_changed()?;
        Ok(nb)
    }

    /// The token of this vif's watches.
    pub fn watch_token(&self) -> String {
        format!("vpmd-netback:{}", self.be)
    }

    /// What this vif watches: the frontend's state, the keys netback applies to a
    /// live connection, and the whole backend directory (its `rate`, and its removal
    /// by the toolstack: a watch on a key that never existed, such as an unset
    /// `rate`, does not fire when its parent goes in Xen's xenstored).
    fn watched(&self) -> [String; 3] {
        [
            format!("{}/state", self.fe),
            format!("{}/request-multicast-control", self.fe),
            self.be.clone(),
        ]
    }

    /// The platform the backend runs on.
    pub fn platform(&self) -> &Arc<P> {
        &self.platform
    }

    /// The backend's xenstore directory.
    pub fn path(&self) -> &str {
        &self.be
    }

    /// The backend's state.
    pub fn state(&self) -> XenbusState {
        self.state
    }

    /// The MAC the toolstack gave the vif.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// The vif's `handle`.
    pub fn handle(&self) -> u32 {
        self.handle
    }

    /// The current connection's shared state (a new one per connection).
    pub fn vif(&self) -> &Arc<VifShared> {
        &self.vif
    }

    /// Whether the connected frontend offers `feature-rx-notify`.
    pub fn frontend_rx_notify(&self) -> bool {
        self.rx_notify
    }

    /// Queues the frontend connected.
    pub fn connected_queues(&self) -> u16 {
        self.connected_queues
    }

    /// Carrier: connected, not disabled, no queue stalled.
    pub fn carrier(&self) -> bool {
        self.state == XenbusState::Connected && !self.vif.is_disabled() && !self.vif.is_stalled()
    }

    /// The control side: hash settings, `queue_for_hash`, counters.
    pub fn ctrl(&self) -> &CtrlSide<P> {
        &self.ctrl
    }

    /// The control side, to serve the control ring ([`CtrlSide::serve`]).
    pub fn ctrl_mut(&mut self) -> &mut CtrlSide<P> {
        &mut self.ctrl
    }

    /// Per-queue netback counters.
    pub fn queue_stats(&self) -> Vec<Arc<QueueCounters>> {
        self.queues.stats()
    }

    /// Handles the watch events that arrive within `timeout` and the control ring's
    /// requests (the control thread's loop body); whether a watch event arrived.
    pub fn poll_events(&mut self, timeout: Duration) -> Result<bool, XsError> {
        self.ctrl.serve();
        let st = self.platform.store();
        let got = st.read_watch(Some(timeout))?.is_some();
        if got {
            // Bounded: a guest writing as fast as we read must not keep us here.
            for _ in 0..COALESCE_AT {
                if st.read_watch(Some(Duration::ZERO))?.is_none() {
                    break;
                }
            }
            self.frontend_changed()?;
        }
        self.service_events();
        Ok(got)
    }

    /// Consumes the frontend's notifications, at most once per [`SERVICE_PERIOD`] and
    /// as [`late_eoi`](super::late_eoi) allows each port (the control thread calls
    /// this every loop; the rings never wait for an event).
    pub fn service_events(&mut self) {
        let now = self.cfg.clock.now();
        if now < self.next_service {
            return;
        }
        self.next_service = now + SERVICE_PERIOD;
        for g in &mut self.gates {
            let stats = &self.queues.0[g.queue].stats;
            let seen = |i: usize| u64::from(stats.seen_prod[i].load(Ordering::Relaxed));
            let progress = match g.signals {
                Signals::GuestTx => seen(0),
                Signals::GuestRx => seen(1),
                Signals::Both => seen(0) << 32 | seen(1),
            };
            g.eoi.service(now, progress, stats);
        }
    }

    /// Reacts to the frontend's current state (called on each watch event).
    pub fn frontend_changed(&mut self) -> Result<(), XsError> {
        if !self.removed {
            match self
                .platform
                .store()
                .read(TxId::NONE, &format!("{}/state", self.be))
            {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {
                    log::info!(
                        "port {}: {}: removed by the toolstack",
                        self.cfg.port,
                        self.be
                    );
                    self.removed = true;
                }
                Err(e) => return Err(e),
            }
        }
        if self.removed {
            return self.go(XenbusState::Closed);
        }
        let fe_state = match read_str(self.platform.store(), &format!("{}/state", self.fe)) {
            Ok(Some(s)) => XenbusState::parse(s.as_bytes()).unwrap_or(XenbusState::Unknown),
            Ok(None) => XenbusState::Unknown,
            Err(XenbusError::Store(e)) => return Err(e),
            Err(_) => XenbusState::Unknown,
        };
        use XenbusState::*;
        let target = match fe_state {
            Initialising => InitWait,
            Connected => Connected,
            Closing => Closing,
            Closed | Unknown => Closed,
            // Initialised: we wait for Connected, as netback does; the rest are not
            // ours to act on.
            _ => return Ok(()),
        };
        self.go(target)?;
        self.live_keys_changed()
    }

    /// Applies the watched keys netback honours on a connected vif (every watch event
    /// re-reads them: events coalesce, the current value is what counts).
    fn live_keys_changed(&mut self) -> Result<(), XsError> {
        if self.state != XenbusState::Connected {
            return Ok(());
        }
        // A malformed value is no request, as netback's `xenbus_read_unsigned`.
        match self.flag("request-multicast-control") {
            Ok(on) => self.vif.mcast().set_control(on),
            Err(XenbusError::Store(e)) => return Err(e),
            Err(_) => self.vif.mcast().set_control(false),
        }
        self.rate_changed()
    }

    /// netback's `xen_net_rate_changed`: the toolstack's new `rate` reaches every
    /// queue at its next burst. A removed key falls back to the configured rate. A
    /// malformed one keeps the rate in force (netback would lift the limit, which a
    /// typo should not do), and is logged and counted.
    fn rate_changed(&mut self) -> Result<(), XsError> {
        let key = match self.key(&self.be, "rate") {
            Ok(k) => k,
            Err(XenbusError::Store(e)) => return Err(e),
            Err(_) => Some(String::new()),
        };
        if key == self.rate_key {
            return Ok(());
        }
        let rate = match key.as_deref() {
            None => self.cfg.rate,
            Some(v) => match Rate::parse(v, ',') {
                Some(r) => Some(r),
                None => {
                    let (port, be) = (self.cfg.port, &self.be);
                    log::warn!("port {port}: {be}/rate: {v:?} is not bytes,usec; rate unchanged");
                    self.rate_key_invalid += 1;
                    self.rate_key = key;
                    return Ok(());
                }
            },
        };
        self.rate_key = key;
        if rate != self.vif.rate().get() {
            log::info!("port {}: {}: rate {rate:?}", self.cfg.port, self.be);
            self.vif.rate().set(rate);
        }
        Ok(())
    }

    /// Live `rate` values refused as malformed.
    pub fn rate_key_invalid(&self) -> u64 {
        self.rate_key_invalid
    }

    /// Walks to `target`, connecting or disconnecting on the way.
    fn go(&mut self, target: XenbusState) -> Result<(), XsError> {
        while let Some(next) = step_towards(self.state, target) {
            if self.state == XenbusState::Connected {
                self.disconnect();
            }
            if next == XenbusState::Connected {
                if let Err(e) = self.connect() {
                    log::error!("port {}: {}: connect failed: {e}", self.cfg.port, self.be);
                    self.disconnect();
                    if self.removed {
                        return Ok(());
                    }
                    self.platform.store().write(
                        TxId::NONE,
                        &format!("{}/error", self.be),
                        e.to_string().as_bytes(),
                    )?;
                    self.switch(XenbusState::Closing)?;
                    return Ok(());
                }
            }
            self.switch(next)?;
        }
        Ok(())
    }

    /// Enters `s`, writing it unless the toolstack removed the directory: as
    /// `xenbus_switch_state`, a removed backend is never re-created.
    fn switch(&mut self, s: XenbusState) -> Result<(), XsError> {
        if !self.removed {
            let st = self.platform.store();
            let key = format!("{}/state", self.be);
            let present = transact(st, |tx| match st.read(tx, &key) {
                Ok(_) => st.write(tx, &key, s.as_str().as_bytes()).map(|()| true),
                Err(e) if e.is_not_found() => Ok(false),
                Err(e) => Err(e),
            })?;
            self.removed = !present;
        }
        self.state = s;
        Ok(())
    }

    /// Whether the toolstack removed the vif's backend directory (the guest is gone
    /// for good; a reconnect is a new vif).
    pub fn removed(&self) -> bool {
        self.removed
    }

    /// The frontend's domain.
    pub fn frontend(&self) -> DomId {
        self.cfg.frontend
    }

    /// Takes the rings back from the data path (waiting for any burst in flight) and
    /// drops them, which unmaps and unbinds.
    fn disconnect(&mut self) {
        for q in &self.queues.0 {
            q.rx.stop();
            q.tx.stop();
        }
        self.ctrl.disconnect();
        self.gates.clear();
        self.connected_queues = 0;
    }

    fn key(&self, dir: &str, name: &str) -> Result<Option<String>, XenbusError> {
        read_str(self.platform.store(), &format!("{dir}/{name}"))
    }

    fn num<T: std::str::FromStr>(&self, dir: &str, name: &str) -> Result<T, XenbusError> {
        let key = format!("{dir}/{name}");
        read_str(self.platform.store(), &key)?
            .ok_or(XenbusError::Key {
                key: key.clone(),
                why: "missing",
            })?
            .trim()
            .parse()
            .map_err(|_| XenbusError::Key {
                key,
                why: "not a number",
            })
    }

    fn flag(&self, name: &str) -> Result<bool, XenbusError> {
        Ok(matches!(
            self.key(&self.fe, name)?.as_deref().map(str::trim),
            Some("1")
        ))
    }

    /// netback's `connect()`: every key is read and checked before anything is mapped.
    fn connect(&mut self) -> Result<(), XenbusError> {
        let fe = self.fe.clone();
        if !self.flag("request-rx-copy")? {
            return Err(XenbusError::Key {
                key: format!("{fe}/request-rx-copy"),
                why: "must be 1 (rx-flip is not supported)",
            });
        }
        let queues: u16 = match self.key(&fe, "multi-queue-num-queues")? {
            None => 1,
            Some(_) => self.num(&fe, "multi-queue-num-queues")?,
        };
        if queues == 0 || queues > self.cfg.max_queues {
            return Err(XenbusError::Key {
                key: format!("{fe}/multi-queue-num-queues"),
                why: "0 or more than multi-queue-max-queues",
            });
        }
        let rx_notify = self.flag("feature-rx-notify")?;
        let rate_key = self.key(&self.be, "rate")?;
        let rate = match &rate_key {
            None => self.cfg.rate,
            Some(v) => Some(Rate::parse(v, ',').ok_or(XenbusError::Key {
                key: format!("{}/rate", self.be),
                why: "not bytes,usec (both positive)",
            })?),
        };
        let offloads = FrontendOffloads {
            gso_tcpv4: self.flag("feature-gso-tcpv4")?,
            gso_tcpv6: self.flag("feature-gso-tcpv6")?,
            csum: !self.flag("feature-no-csum-offload")?,
        };
        // Read every queue's keys first: a bad key maps nothing.
        let mut keys = Vec::new();
        for q in 0..queues {
            let dir = if queues == 1 {
                fe.clone()
            } else {
                format!("{fe}/queue-{q}")
            };
            let tx_ref: u32 = self.num(&dir, "tx-ring-ref")?;
            let rx_ref: u32 = self.num(&dir, "rx-ring-ref")?;
            let split = self.cfg.split_evtchn && self.key(&dir, "event-channel-tx")?.is_some();
            let ports = if split {
                (
                    self.num(&dir, "event-channel-tx")?,
                    Some(self.num(&dir, "event-channel-rx")?),
                )
            } else {
                (self.num(&dir, "event-channel")?, None)
            };
            keys.push((dir, tx_ref, rx_ref, ports));
        }
        let ctrl_keys = self.ctrl_keys()?;
        let vif = Arc::new(VifShared::new());
        vif.rate().set(rate);
        let dom = self.cfg.frontend;
        let p = &self.platform;
        // Each queue's staging grants: set through the control ring, read by its rings.
        let (staging, staged): (Vec<_>, Vec<_>) = (0..queues)
            .map(|_| Staging::new(Arc::clone(p), dom))
            .unzip();
        let hash = Arc::new(HashShared::new());
        let ctrl = match ctrl_keys {
            None => None,
            Some((ring_ref, port)) => {
                let page = map_ring(p.as_ref(), dom, &fe, "ctrl-ring-ref", ring_ref)?;
                let evtchn = bind(p.as_ref(), dom, &fe, "event-channel-ctrl", port)?;
                let parts = VifRingParts {
                    platform: Arc::clone(p),
                    domid: dom,
                    page,
                    evtchn: Arc::new(evtchn),
                    vif: Arc::clone(&vif),
                    stats: Arc::default(),
                    clock: self.cfg.clock.clone(),
                    staged: unstaged(),
                };
                let counters = Arc::clone(self.ctrl.counters());
                Some(CtrlRing::new(
                    parts,
                    Arc::clone(&hash),
                    queues,
                    counters,
                    staging,
                ))
            }
        };
        for ((q, (dir, tx_ref, rx_ref, (tx_port, rx_port))), [rx_staged, tx_staged]) in
            keys.into_iter().enumerate().zip(staged)
        {
            let tx_page = map_ring(p.as_ref(), dom, &dir, "tx-ring-ref", tx_ref)?;
            let rx_page = map_ring(p.as_ref(), dom, &dir, "rx-ring-ref", rx_ref)?;
            let tx_ch = Arc::new(bind(p.as_ref(), dom, &dir, "event-channel", tx_port)?);
            let rx_ch = match rx_port {
                None => Arc::clone(&tx_ch),
                Some(port) => Arc::new(bind(p.as_ref(), dom, &dir, "event-channel-rx", port)?),
            };
            let gate = |signals, ch: &Arc<_>| Gate {
                queue: q,
                signals,
                eoi: LateEoi::new(Arc::clone(ch)),
            };
            if rx_port.is_some() {
                self.gates.push(gate(Signals::GuestTx, &tx_ch));
                self.gates.push(gate(Signals::GuestRx, &rx_ch));
            } else {
                self.gates.push(gate(Signals::Both, &tx_ch));
            }
            let slot = &self.queues.0[q];
            let parts = |page, evtchn, staged| VifRingParts {
                platform: Arc::clone(p),
                domid: dom,
                page,
                evtchn,
                vif: Arc::clone(&vif),
                stats: Arc::clone(&slot.stats),
                clock: self.cfg.clock.clone(),
                staged,
            };
            let credit = rate.map(|r| Credit::new(r, self.cfg.clock.now()));
            let rx = GuestTxRing::new(
                parts(tx_page, tx_ch, rx_staged),
                credit,
                self.cfg.copy_threshold,
            );
            let timers = RxTimers::new(
                self.cfg.rx_drain,
                self.cfg.rx_stall,
                rx_notify,
                self.cfg.clock.now(),
            );
            let tx = GuestRxRing::new(
                parts(rx_page, rx_ch, tx_staged),
                offloads,
                timers,
                Arc::clone(&hash),
            );
            slot.rx.start(rx, 0);
            slot.tx.start(tx, 0);
        }
        vif.mcast()
            .set_control(self.flag("request-multicast-control")?);
        self.vif = vif;
        self.ctrl.connected(ctrl, hash, queues);
        self.rate_key = rate_key;
        self.connected_queues = queues;
        self.rx_notify = rx_notify;
        log::info!(
            "port {}: {}: connected, {queues} queue(s)",
            self.cfg.port,
            self.be
        );
        Ok(())
    }

    /// The frontend's `ctrl-ring-ref` and `event-channel-ctrl`, both or neither (half
    /// a pair is an error; netback ignores a lone event channel).
    fn ctrl_keys(&self) -> Result<Option<(u32, u32)>, XenbusError> {
        let fe = &self.fe;
        let ring = self.key(fe, "ctrl-ring-ref")?.is_some();
        let port = self.key(fe, "event-channel-ctrl")?.is_some();
        if !ring && !port {
            return Ok(None);
        }
        Ok(Some((
            self.num(fe, "ctrl-ring-ref")?,
            self.num(fe, "event-channel-ctrl")?,
        )))
    }

    /// Closes the backend: takes the rings back, writes Closed and removes
    /// `hotplug-status`.
    pub fn close(&mut self) -> Result<(), XsError> {
        self.go(XenbusState::Closed)?;
        for path in self.watched() {
            let _ = self.platform.store().unwatch(&path, &self.watch_token());
        }
        if self.removed {
            return Ok(());
        }
        // The vif is gone: xl must not take this backend for a live one.
        match self
            .platform
            .store()
            .rm(TxId::NONE, &format!("{}/hotplug-status", self.be))
        {
            Err(e) if !e.is_not_found() => Err(e),
            _ => Ok(()),
        }
    }
}

/// A key's value as a string, `None` if missing.
pub(super) fn read_str<S: XenStore + ?Sized>(
    st: &S,
    key: &str,
) -> Result<Option<String>, XenbusError> {
    match st.read(TxId::NONE, key) {
        Ok(v) => String::from_utf8(v)
            .map(|s| Some(s.trim_end_matches('\0').to_owned()))
            .map_err(|_| XenbusError::Key {
                key: key.to_owned(),
                why: "not UTF-8",
            }),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The ring page the frontend granted as `dir/key`, mapped writable.
fn map_ring<P: Platform>(
    p: &P,
    dom: DomId,
    dir: &str,
    key: &str,
    gref: u32,
) -> Result<MappingOf<P>, XenbusError> {
    p.grants()
        .map(dom, &[GrantRef(gref)], true)
        .map_err(|e| resource("map", dir, key, e))
}

/// The event channel the frontend allocated as `dir/key`, bound.
fn bind<P: Platform>(
    p: &P,
    dom: DomId,
    dir: &str,
    key: &str,
    port: u32,
) -> Result<EvtchnOf<P>, XenbusError> {
    p.events()
        .bind_interdomain(dom, Port(port))
        .map_err(|e| resource("bind", dir, key, e))
}

fn resource(what: &'static str, dir: &str, key: &str, err: impl std::fmt::Display) -> XenbusError {
    XenbusError::Resource {
        key: format!("{dir}/{key}"),
        what,
        err: err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use XenbusState::*;

    fn path(from: XenbusState, to: XenbusState) -> Vec<XenbusState> {
        let mut s = from;
        let mut v = vec![];
        while let Some(n) = step_towards(s, to) {
            v.push(n);
            s = n;
            assert!(v.len() < 6, "no path {from:?} -> {to:?}");
        }
        v
    }

    #[test]
    fn shortest_legal_paths() {
        assert_eq!(path(Initialising, Connected), [InitWait, Connected]);
        assert_eq!(path(Connected, Closed), [Closing, Closed]);
        assert_eq!(path(Closed, Connected), [InitWait, Connected]);
        assert_eq!(path(Connected, InitWait), [Closing, Closed, InitWait]);
        assert_eq!(path(InitWait, Closed), [Closing, Closed]);
        assert_eq!(path(Initialising, Closed), [Closed]);
        assert_eq!(path(Closed, Closing), [Closing]);
    }
}
