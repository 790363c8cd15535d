//! xenstore through the real wire protocol: reads and writes, directories, removal,
//! watches (initial fire, subtree, removed descendants, relative paths), transactions
//! (isolation, abort, `EAGAIN` on conflict, retry, events at commit).

use std::os::fd::AsRawFd;

use vpmd_xen::platform::xenstore::{
    transact, TxId, WatchEvent, XenStore, XsClient, XsErrno, COALESCE_AT,
};

use super::*;

const NONE: TxId = TxId::NONE;

fn client(sim: &Sim) -> XsClient {
    XsClient::connect(&sim.paths().xenstore).unwrap()
}

fn errno<T: std::fmt::Debug>(r: Result<T, vpmd_xen::platform::XsError>) -> XsErrno {
    match r {
        Err(vpmd_xen::platform::XsError::Errno(e)) => e,
        other => panic!("expected an errno, got {other:?}"),
    }
}

fn next(xs: &XsClient) -> WatchEvent {
    xs.read_watch(Some(GUARD)).unwrap().expect("watch event")
}

fn ev(path: &str, token: &str) -> WatchEvent {
    WatchEvent {
        path: path.into(),
        token: token.into(),
    }
}

#[test]
fn read_write_directory_rm() {
    let sim = Sim::new("xs-basic");
    let xs = client(&sim);
    xs.write(
        NONE,
        "/local/domain/3/device/vif/0/mac",
        b"00:16:3e:00:00:01",
    )
    .unwrap();
    assert_eq!(
        xs.read(NONE, "/local/domain/3/device/vif/0/mac").unwrap(),
        b"00:16:3e:00:00:01"
    );
    // Parents were created, empty.
    assert_eq!(xs.read(NONE, "/local/domain/3/device").unwrap(), b"");
    xs.write(NONE, "/local/domain/3/device/vif/0/state", b"1")
        .unwrap();
    let mut d = xs.directory(NONE, "/local/domain/3/device/vif/0").unwrap();
    d.sort();
    assert_eq!(d, ["mac", "state"]);
    xs.mkdir(NONE, "/local/domain/3/device/vif/1").unwrap();
    xs.mkdir(NONE, "/local/domain/3/device/vif/1").unwrap();
    assert!(xs
        .directory(NONE, "/local/domain/3/device/vif/1")
        .unwrap()
        .is_empty());
    // Binary values survive.
    xs.write(NONE, "/bin", b"\0\xff\0").unwrap();
    assert_eq!(xs.read(NONE, "/bin").unwrap(), b"\0\xff\0");
    // Relative paths are under the caller's domain (dom0 for a socket client).
    xs.write(NONE, "backend/vif/3/0/state", b"2").unwrap();
    assert_eq!(
        xs.read(NONE, "/local/domain/0/backend/vif/3/0/state")
            .unwrap(),
        b"2"
    );

    xs.rm(NONE, "/local/domain/3/device").unwrap();
    assert!(xs
        .read(NONE, "/local/domain/3/device/vif/0/mac")
        .unwrap_err()
        .is_not_found());
    xs.rm(NONE, "/local/domain/3/device").unwrap(); // gone, parent exists: fine
    assert_eq!(errno(xs.rm(NONE, "/nope/nothing")), XsErrno::ENOENT);
    assert_eq!(errno(xs.directory(NONE, "/nope")), XsErrno::ENOENT);
    assert_eq!(errno(xs.rm(NONE, "/")), XsErrno::EINVAL);
    for bad in ["", "/a/", "/a//b", "/a b", "/a.b"] {
        assert_eq!(errno(xs.read(NONE, bad)), XsErrno::EINVAL, "{bad:?}");
    }
    assert_eq!(errno(xs.read(TxId(12345), "/bin")), XsErrno::ENOENT);
}

#[test]
fn watches_fire_at_once_then_on_changes_below() {
    let sim = Sim::new("xs-watch");
    let (xs, other) = (client(&sim), client(&sim));
    let fe = "/local/domain/3/device/vif/0";
    xs.watch(fe, "fe").unwrap();
    assert_eq!(next(&xs), ev(fe, "fe"));
    assert_eq!(errno(xs.watch(fe, "fe")), XsErrno::EEXIST);

    // Another connection's writes fire: the node itself, below it; not beside it.
    other.write(NONE, &format!("{fe}/state"), b"1").unwrap();
    assert_eq!(next(&xs), ev(&format!("{fe}/state"), "fe"));
    other
        .write(NONE, "/local/domain/3/device/vif/01", b"x")
        .unwrap();
    other.write(NONE, fe, b"").unwrap();
    assert_eq!(
        next(&xs),
        ev(fe, "fe"),
        "a sibling with a common prefix fired"
    );

    // rm fires for the removed node and for watches set on its descendants.
    xs.watch(&format!("{fe}/state"), "state").unwrap();
    assert_eq!(next(&xs), ev(&format!("{fe}/state"), "state"));
    other.rm(NONE, fe).unwrap();
    let mut got = vec![next(&xs), next(&xs)];
    got.sort_by(|a, b| a.token.cmp(&b.token));
    assert_eq!(got, [ev(fe, "fe"), ev(&format!("{fe}/state"), "state")]);

    // Relative watches report relative paths.
    xs.watch("backend", "rel").unwrap();
    assert_eq!(next(&xs), ev("backend", "rel"));
    other
        .write(NONE, "/local/domain/0/backend/vif/3/0/state", b"2")
        .unwrap();
    assert_eq!(next(&xs), ev("backend/vif/3/0/state", "rel"));

    // After unwatch, nothing: the next event is the sentinel.
    xs.unwatch(fe, "fe").unwrap();
    assert_eq!(errno(xs.unwatch(fe, "fe")), XsErrno::ENOENT);
    other.write(NONE, fe, b"again").unwrap();
    other.write(NONE, "backend/sentinel", b"").unwrap();
    assert_eq!(next(&xs), ev("backend/sentinel", "rel"));
}

#[test]
fn the_watch_fd_is_readable_while_events_are_queued() {
    let sim = Sim::new("xs-watch-fd");
    let xs = client(&sim);
    xs.watch("/w", "t").unwrap();
    // Wait for the initial event without consuming it: the fd says it is there.
    assert!(poll(&xs, -1));
    assert_eq!(next(&xs), ev("/w", "t"));
    assert!(!poll(&xs, 0));
    assert_eq!(xs.read_watch(Some(Duration::ZERO)).unwrap(), None);
}

fn poll(xs: &XsClient, timeout_ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd: xs.watch_fd().as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    unsafe { libc::poll(&mut p, 1, timeout_ms) == 1 }
}

#[test]
fn transactions_are_isolated_and_conflicts_are_eagain() {
    let sim = Sim::new("xs-tx");
    let (xs, other) = (client(&sim), client(&sim));
    xs.write(NONE, "/be/state", b"1").unwrap();

    // Writes inside are invisible outside until commit; abort discards them.
    let t = xs.transaction_start().unwrap();
    xs.write(t, "/be/feature-sg", b"1").unwrap();
    assert_eq!(xs.read(t, "/be/feature-sg").unwrap(), b"1");
    assert!(other
        .read(NONE, "/be/feature-sg")
        .unwrap_err()
        .is_not_found());
    xs.transaction_end(t, false).unwrap();
    assert!(xs.read(NONE, "/be/feature-sg").unwrap_err().is_not_found());
    assert_eq!(errno(xs.transaction_end(t, true)), XsErrno::ENOENT);

    // A conflicting write makes commit fail with EAGAIN and apply nothing.
    let t = xs.transaction_start().unwrap();
    assert_eq!(xs.read(t, "/be/state").unwrap(), b"1");
    xs.write(t, "/be/state", b"2").unwrap();
    other.write(NONE, "/be/state", b"5").unwrap();
    assert!(xs.transaction_end(t, true).unwrap_err().is_again());
    assert_eq!(xs.read(NONE, "/be/state").unwrap(), b"5");

    // Another connection cannot use our transaction.
    let t = xs.transaction_start().unwrap();
    assert_eq!(errno(other.read(t, "/be/state")), XsErrno::ENOENT);
    xs.transaction_end(t, false).unwrap();
}

#[test]
fn transact_retries_until_it_commits_and_events_fire_at_commit() {
    let sim = Sim::new("xs-transact");
    let (xs, other, watcher) = (client(&sim), client(&sim), client(&sim));
    xs.write(NONE, "/be/state", b"1").unwrap();
    watcher.watch("/be", "be").unwrap();
    assert_eq!(next(&watcher), ev("/be", "be"));

    let mut runs = 0;
    let v = transact(&xs, |t| {
        runs += 1;
        let s = xs.read(t, "/be/state")?;
        if runs == 1 {
            // Someone changes what we read: this attempt must not commit.
            other.write(NONE, "/be/state", b"4").unwrap();
        }
        xs.write(t, "/be/feature-rx-copy", b"1")?;
        xs.write(t, "/be/state", b"2")?;
        Ok(s)
    })
    .unwrap();
    assert_eq!((runs, v), (2, b"4".to_vec()));
    assert_eq!(xs.read(NONE, "/be/state").unwrap(), b"2");
    // The watcher saw the other write, then the commit's two writes, nothing from the
    // failed attempt.
    assert_eq!(next(&watcher), ev("/be/state", "be"));
    let mut got = vec![next(&watcher).path, next(&watcher).path];
    got.sort();
    assert_eq!(got, ["/be/feature-rx-copy", "/be/state"]);
    other.write(NONE, "/be/sentinel", b"").unwrap();
    assert_eq!(next(&watcher), ev("/be/sentinel", "be"));

    // An error inside aborts and is returned.
    let e = transact(&xs, |t| xs.read(t, "/missing")).unwrap_err();
    assert!(e.is_not_found());
}

#[test]
fn open_transactions_are_limited_per_connection() {
    let sim = Sim::new("xs-tx-limit");
    let (xs, other) = (client(&sim), client(&sim));
    let open: Vec<TxId> = (0..10).map(|_| xs.transaction_start().unwrap()).collect();
    assert_eq!(errno(xs.transaction_start()), XsErrno::ENOSPC);
    let t = other.transaction_start().unwrap();
    other.transaction_end(t, true).unwrap();
    xs.transaction_end(open[0], false).unwrap();
    xs.transaction_start().unwrap();
}

#[test]
fn a_key_rewritten_in_a_loop_queues_boundedly() {
    let sim = Sim::new("xs-watch-storm");
    let (xs, other) = (client(&sim), client(&sim));
    xs.watch("/storm", "t").unwrap();
    assert_eq!(next(&xs), ev("/storm", "t"));
    for i in 0..2000u32 {
        other
            .write(NONE, "/storm/key", i.to_string().as_bytes())
            .unwrap();
    }
    other.write(NONE, "/storm/sentinel", b"").unwrap();
    // xenstored sends a watch event on the watcher's connection before it answers the
    // watcher's next request: once this read returns, every event is in `xs`'s queue
    // (reading them while some are still arriving would let more than the threshold in).
    xs.read(NONE, "/storm/sentinel").unwrap();
    // Events up to the threshold, then duplicates coalesced; nothing lost.
    let mut n = 0;
    while next(&xs) != ev("/storm/sentinel", "t") {
        n += 1;
        assert!(n <= COALESCE_AT, "{n} events queued");
    }
    assert_eq!(xs.queued_events(), 0);
}
