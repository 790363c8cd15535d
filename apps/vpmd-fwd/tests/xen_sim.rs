//! vpmd-fwd forwarding between the vifs of two simulated guests (`net_vpmd_xen` over
//! the sim): this process runs the sim host and both guests' netfronts, vpmd-fwd runs
//! the backends and forwards port 0 <-> port 1 in io mode. Every byte is checked, both
//! ways.

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
    let child = Command::new(env!("CARGO_BIN_EXE_vpmd-fwd"))
        .args(["-l", "0,1", "--forward-mode", "io", "--stats-period", "0"])
        .args(["--duration", "60"])
        .args(["--vdev", &format!("net_vpmd_xen0,domid=3,sim={sim}")])
        .args(["--vdev", &format!("net_vpmd_xen1,domid=4,sim={sim}")])
        .env("VPMD_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("vpmd-fwd starts");
    let _fwd = Fwd(child);
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
