//! `vpmd-xen-sim`: a sim host with guests whose netfronts make or take traffic, for
//! running `vpmd-fwd --vdev net_vpmd_xen0,domid=N,sim=DIR` by hand.
//!
//! ```text
//! vpmd-xen-sim DIR GUEST... [--size BYTES] [--seconds N] [--staging]
//!   GUEST = DOMID:txonly | DOMID:rxonly | DOMID:echo
//! ```
//!
//! Starts the host's sockets in DIR, creates each guest with vif 0 (as the toolstack
//! would), connects its netfront once a backend serves the vif, then sends frames of
//! `--size` bytes (txonly), counts what arrives (rxonly) or sends it back (echo). Prints
//! each guest's counters every second; stops after `--seconds` (default: never).
//!
//! The guests busy-poll their rings (no response events). By default their netfronts
//! grant each buffer per use, as Linux's xen-netfront does.
//! With `--staging` they grant their pages once and ask the backend, through the
//! control ring, to keep them mapped (staging grants).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vpmd_xen::netfront::{Netfront, NetfrontConfig, NetfrontError, TxPacket};
use vpmd_xen::platform::sim::{
    create_vif, DomainLayout, Guest, Host, SimPaths, SimPlatform, VifSpec,
};
use vpmd_xen::platform::Platform;
use vpmd_xen::wire::defs::XEN_PAGE_SIZE;
use vpmd_xen::wire::grant::DomId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    TxOnly,
    RxOnly,
    Echo,
}

#[derive(Default)]
struct Counts {
    tx: AtomicU64,
    rx: AtomicU64,
}

fn usage(msg: &str) -> ! {
    eprintln!("vpmd-xen-sim: {msg}\nusage: vpmd-xen-sim DIR DOMID:txonly|rxonly|echo... [--size BYTES] [--seconds N] [--staging]");
    std::process::exit(2)
}

/// The command line.
struct Args {
    dir: PathBuf,
    guests: Vec<(u16, Mode)>,
    size: usize,
    secs: Option<u64>,
    staging: bool,
}

fn parse() -> Args {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| usage("no directory")));
    let (mut guests, mut size, mut secs, mut staging) = (Vec::new(), 1514usize, None, false);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--staging" => staging = true,
            "--size" => {
                size = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|s| (14..=65535).contains(s))
                    .unwrap_or_else(|| usage("--size: 14..=65535"))
            }
            "--seconds" => {
                secs = Some(
                    args.next()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or_else(|| usage("--seconds: a number")),
                )
            }
            g => {
                let (d, m) = g
                    .split_once(':')
                    .unwrap_or_else(|| usage(&format!("guest {g}: DOMID:MODE")));
                let d: u16 = d
                    .parse()
                    .ok()
                    .filter(|d| (1..0x7ff0).contains(d))
                    .unwrap_or_else(|| usage(&format!("guest {g}: bad domid")));
                let m = match m {
                    "txonly" => Mode::TxOnly,
                    "rxonly" => Mode::RxOnly,
                    "echo" => Mode::Echo,
                    _ => usage(&format!("guest {g}: mode is txonly, rxonly or echo")),
                };
                guests.push((d, m));
            }
        }
    }
    if guests.is_empty() {
        usage("no guest");
    }
    Args {
        dir,
        guests,
        size,
        secs,
        staging,
    }
}

fn run(
    paths: SimPaths,
    domid: u16,
    mode: Mode,
    size: usize,
    staging: bool,
    c: Arc<Counts>,
) -> Result<(), NetfrontError> {
    let cfg = NetfrontConfig {
        ctrl_ring: staging,
        persistent_grants: staging,
        busy_poll: true,
        ..NetfrontConfig::new(0)
    };
    let layout = DomainLayout {
        mem_pages: cfg.pages(),
        grant_frames: 2,
    };
    let g = Arc::new(
        Guest::create(&paths, DomId(domid), layout).map_err(vpmd_xen::platform::XsError::Io)?,
    );
    let mut nf = Netfront::probe(g, &paths, cfg)?;
    nf.wait_connected(Duration::from_secs(3600))?;
    eprintln!("guest {domid}: connected ({mode:?})");
    if staging {
        nf.stage_grants(0)?;
        let r = nf.ctrl_wait(Duration::from_secs(10))?;
        eprintln!(
            "guest {domid}: staging grants: status {}, {} staged",
            r.status, r.data
        );
    }
    let frame: Vec<u8> = (0..size).map(|i| i as u8).collect();
    // Like vuser's generator: a frame that fits one slot is written into the buffers
    // once, and sending only posts requests.
    let mut tx = TxPacket::new(&frame);
    if mode == Mode::TxOnly && size <= XEN_PAGE_SIZE - usize::from(tx.offset) {
        nf.fill_tx_pages(0, tx.offset, &frame)?;
        tx.prewritten = true;
    }
    // Like vuser's sink, an rxonly guest counts and checks frames without copying them.
    nf.set_rx_sink(0, mode == Mode::RxOnly)?;
    let mut got = Vec::new();
    loop {
        got.clear();
        nf.poll(0, &mut got)?;
        c.rx.fetch_add(got.len() as u64, Ordering::Relaxed);
        let sent = match mode {
            Mode::RxOnly => 0,
            Mode::TxOnly => nf.send_burst(0, (0..32).map(|_| tx))?,
            Mode::Echo => got
                .iter()
                .take_while(|p| nf.send(0, &TxPacket::new(&p.data)).is_ok())
                .count(),
        };
        c.tx.fetch_add(sent as u64, Ordering::Relaxed);
        if sent == 0 && got.is_empty() {
            std::thread::yield_now();
        }
    }
}

fn main() {
    let Args {
        dir,
        guests,
        size,
        secs,
        staging,
    } = parse();
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| usage(&format!("{}: {e}", dir.display())));
    let host = Host::start(&dir).unwrap_or_else(|e| usage(&format!("host: {e}")));
    let dom0 = SimPlatform::connect(host.paths(), DomId::DOM0)
        .unwrap_or_else(|e| usage(&format!("dom0: {e}")));
    let mut counts = Vec::new();
    for &(d, mode) in &guests {
        let spec = VifSpec {
            backend: DomId::DOM0,
            frontend: DomId(d),
            devid: 0,
            mac: [0x00, 0x16, 0x3e, 0, (d >> 8) as u8, d as u8],
        };
        create_vif(dom0.store(), &spec).unwrap_or_else(|e| usage(&format!("vif of {d}: {e}")));
        let c = Arc::new(Counts::default());
        counts.push((d, Arc::clone(&c)));
        let paths = host.paths().clone();
        std::thread::spawn(move || {
            if let Err(e) = run(paths, d, mode, size, staging, c) {
                eprintln!("guest {d}: {e}");
            }
        });
    }
    eprintln!(
        "sim host in {}; run: vpmd-fwd {}",
        dir.display(),
        guests
            .iter()
            .enumerate()
            .map(|(i, (d, _))| format!("--vdev net_vpmd_xen{i},domid={d},sim={}", dir.display()))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let start = Instant::now();
    while secs.is_none_or(|s| start.elapsed() < Duration::from_secs(s)) {
        std::thread::sleep(Duration::from_secs(1));
        let line: Vec<String> = counts
            .iter()
            .map(|(d, c)| {
                format!(
                    "dom{d} tx {} rx {}",
                    c.tx.load(Ordering::Relaxed),
                    c.rx.load(Ordering::Relaxed)
                )
            })
            .collect();
        println!("{}", line.join(" | "));
    }
    drop(host);
}
