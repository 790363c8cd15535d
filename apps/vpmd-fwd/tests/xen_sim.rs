//! vpmd-fwd forwarding between the vifs of two simulated guests (`net_vpmd_xen` over
//! the sim): this process runs the sim host and both guests' netfronts, vpmd-fwd runs
//! the backends and forwards port 0 <-> port 1 in io mode. Every byte is checked, both
//! ways. And a guest pinging the app, which answers in icmpecho mode.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use vpmd_xen::netfront::{Netfront, NetfrontConfig, TxPacket};
use vpmd_xen::platform::sim::{create_vif, DomainLayout, Guest, Host, SimPlatform, VifSpec};
use vpmd_xen::platform::Platform;
use vpmd_xen::wire::grant::DomId;

const GUARD: Duration = Duration::from_secs(30);
const LAYOUT: DomainLayout = DomainLayout {
    mem_pages: 1024,
    grant_frames: 2,
};

/// vpmd-fwd, killed on drop.
struct Fwd(Child);

impl Drop for Fwd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// vpmd-fwd forwarding on CPU 1 until killed, with `args` after the common ones; its log
/// on stderr.
fn spawn_fwd(args: &[&str]) -> Fwd {
    let child = Command::new(env!("CARGO_BIN_EXE_vpmd-fwd"))
        .args(["-l", "0,1", "--stats-period", "0", "--duration", "60"])
        .args(args)
        .env("VPMD_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("vpmd-fwd starts");
    Fwd(child)
}

/// The sim's directory, removed on drop: after the host, whose shutdown needs its
/// sockets.
struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            seed.wrapping_add((i / 253) as u8)
                .wrapping_add(i as u8)
                .wrapping_mul(29)
        })
        .collect()
}

fn guest(host: &Host, domid: u16) -> Netfront {
    let g = Arc::new(Guest::create(host.paths(), DomId(domid), LAYOUT).unwrap());
    Netfront::probe(g, host.paths(), NetfrontConfig::new(0)).unwrap()
}

#[test]
fn io_forwarding_between_two_guests_delivers_every_byte() {
    let dir = Dir(std::env::temp_dir().join(format!("vpmd-fwd-xen-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).unwrap();
    let host = Host::start(&dir.0).unwrap();
    let dom0 = SimPlatform::connect(host.paths(), DomId::DOM0).unwrap();
    for d in [3u16, 4] {
        let spec = VifSpec {
            backend: DomId::DOM0,
            frontend: DomId(d),
            devid: 0,
            mac: [0, 0x16, 0x3e, 0, 0, d as u8],
        };
        create_vif(dom0.store(), &spec).unwrap();
    }
    // The guests exist before the backends probe them.
    let mut a = guest(&host, 3);
    let mut b = guest(&host, 4);
    let sim = dir.0.to_str().unwrap();
    let _fwd = spawn_fwd(&[
        "--forward-mode",
        "io",
        "--vdev",
        &format!("net_vpmd_xen0,domid=3,sim={sim}"),
        "--vdev",
        &format!("net_vpmd_xen1,domid=4,sim={sim}"),
    ]);
    a.wait_connected(GUARD).unwrap();
    b.wait_connected(GUARD).unwrap();

    exchange(&mut a, &mut b, 1);
    exchange(&mut b, &mut a, 100);
    assert_eq!(a.rx_stats(0).errors + b.rx_stats(0).errors, 0);
}

/// Frames from `from` to `to`, one at a time then a burst, every byte compared.
fn exchange(from: &mut Netfront, to: &mut Netfront, seed: u8) {
    let sizes = [14usize, 60, 128, 1514, 4096, 9000, 32768, 65535];
    {
        for (i, &len) in sizes.iter().enumerate() {
            let data = pattern(seed + i as u8, len);
            from.send(0, &TxPacket::new(&data)).unwrap();
            let mut got = Vec::new();
            to.recv(0, &mut got, 1, GUARD).unwrap();
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].data.len(), len);
            assert!(got[0].data == data, "{len}-byte frame corrupted");
            let mut sink = Vec::new();
            from.poll(0, &mut sink).unwrap();
        }
        // A burst of frames in flight at once arrives in order.
        let frames: Vec<Vec<u8>> = (0..64)
            .map(|i| pattern(seed ^ i, 60 + i as usize * 20))
            .collect();
        for f in &frames {
            from.send(0, &TxPacket::new(f)).unwrap();
        }
        let mut got = Vec::new();
        to.recv(0, &mut got, frames.len(), GUARD).unwrap();
        for (g, f) in got.iter().zip(&frames) {
            assert!(&g.data == f);
        }
    }
}

/// The RFC 1071 checksum of `b` (0 over a header whose checksum is right).
fn checksum(b: &[u8]) -> u16 {
    let mut s: u32 = b
        .chunks(2)
        .map(|c| u32::from(c[0]) << 8 | u32::from(*c.get(1).unwrap_or(&0)))
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// A guest resolves and pings the app: icmpecho on the guest's own vif (loop topology)
/// answers its ARP request and its ICMP echo request.
#[test]
fn guest_pings_the_app_in_icmpecho_mode() {
    let dir = Dir(std::env::temp_dir().join(format!("vpmd-fwd-ping-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).unwrap();
    let host = Host::start(&dir.0).unwrap();
    let dom0 = SimPlatform::connect(host.paths(), DomId::DOM0).unwrap();
    let mac = [0, 0x16, 0x3e, 0, 0, 5];
    let spec = VifSpec {
        backend: DomId::DOM0,
        frontend: DomId(5),
        devid: 0,
        mac,
    };
    create_vif(dom0.store(), &spec).unwrap();
    let mut g = guest(&host, 5);
    let sim = dir.0.to_str().unwrap();
    let _fwd = spawn_fwd(&[
        "--forward-mode",
        "icmpecho",
        "--port-topology",
        "loop",
        "--vdev",
        &format!("net_vpmd_xen0,domid=5,sim={sim}"),
    ]);
    g.wait_connected(GUARD).unwrap();
    let (me, app) = ([10, 0, 0, 5], [10, 0, 0, 1]);

    // Who has 10.0.0.1?
    let mut arp = [[0xff; 6], mac].concat();
    arp.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    arp.extend([&mac[..], &me, &[0; 6], &app].concat());
    arp.resize(60, 0);
    g.send(0, &TxPacket::new(&arp)).unwrap();
    let mut got = Vec::new();
    g.recv(0, &mut got, 1, GUARD).unwrap();
    let r = &got[0].data;
    let app_mac = &r[6..12];
    assert_eq!(&r[..6], &mac, "to the asker");
    assert_ne!(app_mac, &[0; 6]);
    assert_eq!(
        &r[12..22],
        &[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2],
        "a reply"
    );
    assert_eq!(&r[22..28], app_mac, "sender: the port");
    assert_eq!(&r[28..32], &app);
    assert_eq!(&r[32..38], &mac);
    assert_eq!(&r[38..42], &me);

    // Ping it.
    let mut ping = [app_mac, &mac[..]].concat();
    ping.extend_from_slice(&[0x08, 0x00]);
    let mut ip = vec![0x45, 0, 0, 84, 0, 7, 0x40, 0, 64, 1, 0, 0];
    ip.extend([me, app].concat());
    let c = checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let mut icmp = vec![8, 0, 0, 0, 0x12, 0x34, 0, 1];
    icmp.extend((0..56).map(|i| i as u8));
    let c = checksum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    ping.extend(ip);
    ping.extend(icmp);
    g.send(0, &TxPacket::new(&ping)).unwrap();
    let mut got = Vec::new();
    g.recv(0, &mut got, 1, GUARD).unwrap();
    let r = &got[0].data;
    assert_eq!(r.len(), ping.len());
    assert_eq!(&r[..12], &[&mac[..], app_mac].concat());
    assert_eq!(&r[26..30], &app);
    assert_eq!(&r[30..34], &me);
    assert_eq!(checksum(&r[14..34]), 0, "IP header checksum");
    assert_eq!(r[34], 0, "echo reply");
    assert_eq!(checksum(&r[34..]), 0, "ICMP checksum");
    assert_eq!(&r[38..], &ping[38..], "id, sequence and data echoed");
    assert_eq!(g.rx_stats(0).errors, 0);
}
