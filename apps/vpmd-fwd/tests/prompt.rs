//! `vpmd-fwd -i` driven over stdin, as a user types at testpmd's prompt.

mod common;

use common::field;
use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A running `vpmd-fwd -i` with its output collected as it comes.
struct Prompt {
    child: Child,
    stdin: Option<ChildStdin>,
    out: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
    seen: usize,
}

fn collect(mut from: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&text);
    thread::spawn(move || {
        // The prompt has no newline: take whatever arrives (the output is ASCII).
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = from.read(&mut buf) {
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    text
}

impl Prompt {
    fn spawn(vdevs: &[&str]) -> Self {
        let mut args = vec!["-i", "-l", "0,1"];
        for v in vdevs {
            args.extend(["--vdev", v]);
        }
        Self::spawn_with(&args)
    }

    /// `vpmd-fwd args` (which make it interactive), once its first prompt is up.
    fn spawn_with(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vpmd-fwd"))
            .args(args)
            .env("VPMD_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("vpmd-fwd runs");
        let out = collect(child.stdout.take().unwrap());
        let err = collect(child.stderr.take().unwrap());
        let mut p = Self {
            stdin: child.stdin.take(),
            child,
            out,
            err,
            seen: 0,
        };
        p.expect("testpmd> ");
        p
    }

    /// Types `line`, waits for the next prompt, returns what the command printed.
    fn cmd(&mut self, line: &str) -> String {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
        self.expect("testpmd> ")
    }

    /// Waits until the output after the last call contains `needle`; returns it.
    fn expect(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = self.out.lock().unwrap().clone();
            if let Some(at) = out[self.seen..].find(needle) {
                let end = self.seen + at + needle.len();
                let text = out[self.seen..end].to_owned();
                self.seen = end;
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in output:\n{out}\nstderr:\n{}",
                self.stderr()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn stderr(&self) -> String {
        self.err.lock().unwrap().clone()
    }

    /// Waits until stderr (read by its own thread, so it may lag stdout) has `needle`.
    fn error(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.stderr().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in stderr:\n{}",
                self.stderr()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Types `quit` (or closes stdin if `line` is None) and waits for the exit.
    fn finish(mut self, line: Option<&str>) -> (ExitStatus, String) {
        if let Some(l) = line {
            writeln!(self.stdin.as_mut().unwrap(), "{l}").unwrap();
        }
        drop(self.stdin.take());
        let status = self.child.wait().unwrap();
        // Let the collectors drain the pipes.
        thread::sleep(Duration::from_millis(100));
        let out = self.out.lock().unwrap()[self.seen..].to_owned();
        (status, out)
    }
}

/// The text of `report` from `header` to the end of its block.
fn block<'a>(report: &'a str, header: &str) -> &'a str {
    let at = report
        .find(header)
        .unwrap_or_else(|| panic!("no {header:?} in {report}"));
    let rest = &report[at..];
    &rest[..rest.find("\n\n").unwrap_or(rest.len())]
}

/// Per port of a `stop` report: (RX-packets, RX-dropped, TX-packets, TX-dropped).
fn forward(report: &str, port: u16) -> [u64; 4] {
    let b = block(report, &format!("Forward statistics for port {port:<2}"));
    ["RX-packets:", "RX-dropped:", "TX-packets:", "TX-dropped:"].map(|k| field(b, k))
}

#[test]
fn start_show_stop_set_fwd_and_quit_on_null_ports() {
    let mut p = Prompt::spawn(&["net_vpmd_null0", "net_vpmd_null1"]);
    let fwd = p.cmd("show config fwd");
    assert!(
        fwd.contains("io packet forwarding - ports=2 - cores=1 - streams=2"),
        "{fwd}"
    );
    assert!(
        fwd.contains("Logical Core 1 forwards packets on 2 streams:"),
        "{fwd}"
    );
    assert!(
        fwd.contains("RX P=0/Q=0 -> TX P=1/Q=0 peer=02:00:00:00:00:01"),
        "{fwd}"
    );
    assert!(fwd.contains("RX P=1/Q=0 -> TX P=0/Q=0"), "{fwd}");
    assert!(p
        .cmd("show config cores")
        .contains("List of forwarding lcores:  1"));

    p.cmd("start");
    thread::sleep(Duration::from_millis(300));
    let stats = p.cmd("show port stats all");
    for port in [0, 1] {
        let b = block(&stats, &format!("NIC statistics for port {port:<2}"));
        assert!(field(b, "RX-packets:") > 0, "{stats}");
        assert!(field(b, "TX-packets:") > 0, "{stats}");
    }
    let lcores = p.cmd("show lcore stats");
    assert!(
        lcores.contains("lcore 1:") && field(&lcores, "packets:") > 0,
        "{lcores}"
    );
    let refused = p.cmd("set fwd macswap");
    assert!(!refused.contains("Set macswap"), "{refused}");
    p.error("set fwd: please stop forwarding first");

    let report = p.cmd("stop");
    assert!(
        report.contains("Accumulated forward statistics for all ports"),
        "{report}"
    );
    let [rx, missed, tx, dropped] = forward(&report, 0);
    assert!(rx > 0 && tx > 0 && missed == 0 && dropped == 0, "{report}");

    assert!(p
        .cmd("set fwd macswap")
        .contains("Set macswap packet forwarding mode"));
    assert!(p
        .cmd("start")
        .contains("macswap packet forwarding - ports=2"));
    thread::sleep(Duration::from_millis(200));
    let report = p.cmd("stop");
    assert!(forward(&report, 1)[0] > 0, "{report}");

    // A bad command or argument names itself, and the prompt goes on.
    p.cmd("frobnicate the port");
    p.cmd("show port stats 7");
    p.cmd("set burst lots");
    let err = p.stderr();
    assert!(
        err.contains(r#"unknown command "frobnicate the port""#),
        "{err}"
    );
    assert!(err.contains("show port stats: invalid port 7"), "{err}");
    assert!(err.contains(r#"set burst: bad burst "lots""#), "{err}");
    assert!(p
        .cmd("show port info 1")
        .contains("Driver name: net_vpmd_null"));
    assert!(p.cmd("show port xstats 0").contains("rx_good_packets:"));
    assert!(p
        .cmd("clear port stats all")
        .contains("NIC statistics for port 1 cleared"));
    let cleared = p.cmd("show port stats 0");
    assert_eq!(field(&cleared, "RX-packets:"), 0, "{cleared}");

    let (status, out) = p.finish(Some("quit"));
    assert!(status.success(), "{out}");
    assert!(
        out.contains("Port 1 is closed") && out.contains("Bye..."),
        "{out}"
    );
}

/// testpmd's `--auto-start`: forwarding runs before any `start` is typed.
#[test]
fn auto_start_forwards_without_a_start_command() {
    let mut p = Prompt::spawn_with(&[
        "-i",
        "--auto-start",
        "-l",
        "0,1",
        "--vdev",
        "net_vpmd_null0",
        "--vdev",
        "net_vpmd_null1",
    ]);
    thread::sleep(Duration::from_millis(300));
    let stats = p.cmd("show port stats 0");
    assert!(field(&stats, "RX-packets:") > 0, "{stats}");
    p.cmd("start");
    p.error("start: packet forwarding already started");
    let report = p.cmd("stop");
    assert!(forward(&report, 0)[0] > 0, "{report}");
    let (status, out) = p.finish(Some("quit"));
    assert!(status.success(), "{out}");
}

/// The prompt's `stop` prints the report the non-interactive run prints: in csum mode,
/// the checksum lines per port (not in the accumulated block, as testpmd).
#[test]
fn csum_stop_report_has_the_checksum_lines() {
    let mut p = Prompt::spawn(&["net_vpmd_null0", "net_vpmd_null1"]);
    p.cmd("set fwd csum");
    p.cmd("start");
    thread::sleep(Duration::from_millis(200));
    let report = p.cmd("stop");
    assert_eq!(report.matches("Bad-ipcsum: ").count(), 2, "{report}");
    assert_eq!(report.matches("Bad-l4csum: ").count(), 2, "{report}");
    let acc = block(&report, "Accumulated forward statistics");
    assert!(!acc.contains("Bad-ipcsum"), "{report}");
    let (status, out) = p.finish(Some("quit"));
    assert!(status.success(), "{out}");
}

/// Every flag this test needs is in the file: -i, --auto-start, --pipeline, --nb-cores,
/// -l, --vdev, --forward-mode, --disable-link-check.
#[test]
fn a_config_file_alone_runs_the_prompt_auto_started_and_pipelined() {
    let dir = std::env::temp_dir().join(format!("vpmd-prompt-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("fwd.toml");
    std::fs::write(
        &cfg,
        r#"lcores = "0-2"
[[port]]
devargs = "net_vpmd_null0"
[[port]]
devargs = "net_vpmd_null1"
[forwarding]
mode = "csum"
nb_cores = 2
pipeline = true
disable_link_check = true
[run]
interactive = true
auto_start = true
"#,
    )
    .unwrap();
    let mut p = Prompt::spawn_with(&["--config", cfg.to_str().unwrap()]);
    let fwd = p.cmd("show config fwd");
    assert!(
        fwd.contains("csum packet forwarding - ports=2 - cores=2"),
        "{fwd}"
    );
    assert!(
        fwd.contains("RX P=1/Q=0 -> TX P=0/Q=0 peer=02:00:00:00:00:00 (pipeline: rx on lcore 1, worker on lcore 2)"),
        "{fwd}"
    );
    thread::sleep(Duration::from_millis(300));
    // Twice: a stopped pipeline gives its rx and tx queues back for the next start.
    for round in 0..2 {
        let report = p.cmd("stop");
        let acc = block(&report, "Accumulated forward statistics");
        let [rx, _, tx, dropped] =
            ["RX-packets:", "RX-dropped:", "TX-packets:", "TX-dropped:"].map(|k| field(acc, k));
        assert!(rx > 0, "round {round}: {report}");
        assert_eq!(rx, tx + dropped + field(acc, "RX-ring-full:"), "{report}");
        assert!(report.contains("Bad-ipcsum: "), "{report}");
        if round == 0 {
            assert!(p.cmd("start").contains("csum packet forwarding"));
            thread::sleep(Duration::from_millis(200));
        }
    }
    let (status, out) = p.finish(Some("quit"));
    assert!(status.success(), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn hot_plug_under_load_loses_no_packet_on_the_other_ports() {
    let mut p = Prompt::spawn(&["net_vpmd_ring0,peer=net_vpmd_ring1", "net_vpmd_ring1"]);
    // One burst of 32 per stream circulates between the two ring ports.
    p.cmd("start tx_first");
    thread::sleep(Duration::from_millis(200));

    // A port with no peer loops to itself; it joins the running lcore.
    let attached = p.cmd("port attach net_vpmd_ring2");
    assert!(
        attached.contains("Port 2 is attached. Now total ports is 3"),
        "{attached}"
    );
    let fwd = p.cmd("show config fwd");
    assert!(fwd.contains("streams=3"), "{fwd}");
    assert!(fwd.contains("RX P=2/Q=0 -> TX P=2/Q=0"), "{fwd}");
    assert!(fwd.contains("RX P=0/Q=0 -> TX P=1/Q=0"), "{fwd}");
    // A port refuses to stop under a running stream.
    p.cmd("port stop 0");
    assert!(
        p.stderr().contains("port 0 is forwarding"),
        "{}",
        p.stderr()
    );
    thread::sleep(Duration::from_millis(200));

    let detached = p.cmd("port detach 2");
    assert!(
        detached.contains("Port 2 is detached. Now total ports is 2"),
        "{detached}"
    );
    assert!(!p.cmd("show config fwd").contains("P=2"));
    let before = field(&p.cmd("show port stats 0"), "RX-packets:");
    thread::sleep(Duration::from_millis(200));
    let after = field(&p.cmd("show port stats 0"), "RX-packets:");
    assert!(after > before, "ports 0 and 1 forward on after the detach");

    let report = p.cmd("stop");
    assert!(!report.contains("port 2 "), "{report}");
    let (r0, t0) = (forward(&report, 0), forward(&report, 1));
    assert_eq!([r0[1], r0[3], t0[1], t0[3]], [0; 4], "no drops: {report}");
    // io forwarding sends what it receives: exactly the two tx_first bursts are in flight.
    assert_eq!(r0[2] + t0[2], r0[0] + t0[0] + 2 * 32, "{report}");

    // The rings kept their packets across stop/start: forwarding resumes without tx_first.
    p.cmd("start");
    thread::sleep(Duration::from_millis(200));
    let report = p.cmd("stop");
    assert!(forward(&report, 0)[0] > 0, "{report}");

    let (status, out) = p.finish(Some("quit"));
    assert!(status.success(), "{out}");
}

#[test]
fn end_of_input_and_ctrl_c_stop_forwarding_and_quit_cleanly() {
    let mut p = Prompt::spawn(&["net_vpmd_null0"]);
    p.cmd("start");
    let (status, out) = p.finish(None);
    assert!(status.success(), "{out}");
    assert!(
        out.contains("Accumulated forward statistics") && out.contains("Bye..."),
        "{out}"
    );

    let mut p = Prompt::spawn(&["net_vpmd_null0"]);
    p.cmd("start");
    let pid = p.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let report = p.expect("Bye...");
    assert!(
        report.contains("Accumulated forward statistics"),
        "{report}"
    );
    let (status, _) = p.finish(None);
    assert!(status.success());
}

/// The sim's directory, removed on drop (after the host, declared later, has stopped).
struct SimDir(std::path::PathBuf);

impl Drop for SimDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_xen_guest_attached_while_forwarding_gets_its_frames_back() {
    use std::sync::Arc;
    use vpmd_xen::netfront::{Netfront, NetfrontConfig, TxPacket};
    use vpmd_xen::platform::sim::{create_vif, DomainLayout, Guest, Host, SimPlatform, VifSpec};
    use vpmd_xen::platform::Platform;
    use vpmd_xen::wire::grant::DomId;

    const GUARD: Duration = Duration::from_secs(30);
    let dir = SimDir(std::env::temp_dir().join(format!("vpmd-prompt-xen-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).unwrap();
    let host = Host::start(&dir.0).unwrap();
    let dom0 = SimPlatform::connect(host.paths(), DomId::DOM0).unwrap();
    let spec = VifSpec {
        backend: DomId::DOM0,
        frontend: DomId(3),
        devid: 0,
        mac: [0, 0x16, 0x3e, 0, 0, 3],
    };
    create_vif(dom0.store(), &spec).unwrap();
    let layout = DomainLayout {
        mem_pages: 1024,
        grant_frames: 2,
    };
    let g = Arc::new(Guest::create(host.paths(), DomId(3), layout).unwrap());
    let mut guest = Netfront::probe(g, host.paths(), NetfrontConfig::new(0)).unwrap();

    let mut p = Prompt::spawn(&["net_vpmd_ring0,peer=net_vpmd_ring1", "net_vpmd_ring1"]);
    p.cmd("start tx_first");
    let sim = dir.0.to_str().unwrap();
    let attached = p.cmd(&format!("port attach net_vpmd_xen0,domid=3,sim={sim}"));
    assert!(attached.contains("Port 2 is attached"), "{attached}");
    guest.wait_connected(GUARD).unwrap();
    // Port 2 loops to itself: the guest gets its frame back.
    let frame: Vec<u8> = (0..60u8).collect();
    guest.send(0, &TxPacket::new(&frame)).unwrap();
    let mut got = Vec::new();
    guest.recv(0, &mut got, 1, GUARD).unwrap();
    assert_eq!(got[0].data, frame);

    assert!(p.cmd("port detach 2").contains("Port 2 is detached"));
    let report = p.cmd("stop");
    let (a, b) = (forward(&report, 0), forward(&report, 1));
    assert_eq!(a[2] + b[2], a[0] + b[0] + 2 * 32, "{report}");
    let (status, out) = p.finish(Some("quit"));
    assert!(status.success(), "{out}");
    drop(host);
}
