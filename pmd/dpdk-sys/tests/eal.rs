//! Runtime smoke test of the bindings and the C shim against the real DPDK libraries:
//! the TLS lcore id before and after EAL init, a pktmbuf pool, bulk alloc and free
//! through the shim, refcounts, head/tail room, the link-status swap, rte_eal_cleanup.
//! One test per process: EAL can be initialised once. No hugepages, no PCI, no shared
//! config (`--no-shconf`; `--in-memory` is refused together with `--no-huge`), one
//! lcore; the empty runtime directory EAL still makes is removed at the end.

use std::ffi::{c_char, CStr, CString};
use std::ptr;

use dpdk_sys::*;

#[test]
fn eal_pool_and_shim() {
    // SAFETY: reads this thread's TLS lcore id; no EAL state is needed for that.
    let lcore = unsafe { vpmd_rte_lcore_id() };
    assert_eq!(lcore, LCORE_ID_ANY, "before rte_eal_init");

    let prefix = format!("--file-prefix=vpmdsys{}", std::process::id());
    let args = [
        "dpdk-sys-test",
        "-l",
        "0",
        "--no-huge",
        "--no-pci",
        "-m",
        "64",
        "--no-shconf",
        "--no-telemetry",
        "--log-level=*:warning",
        prefix.as_str(),
    ];
    let args: Vec<CString> = args.iter().map(|a| CString::new(*a).unwrap()).collect();
    let mut argv: Vec<*mut c_char> = args.iter().map(|a| a.as_ptr().cast_mut()).collect();
    argv.push(ptr::null_mut());
    // SAFETY: argv holds argc NUL-terminated strings plus a NULL, all alive (`args`) for
    // the whole process; EAL may permute the pointer array, which is ours to lose.
    let rc = unsafe { rte_eal_init((argv.len() - 1) as i32, argv.as_mut_ptr()) };
    assert!(rc >= 0, "rte_eal_init failed: {rc}");
    // SAFETY: EAL made this thread the main lcore; reading its TLS id.
    assert_eq!(unsafe { vpmd_rte_lcore_id() }, 0);

    let name = CString::new("vpmdsys_pool").unwrap();
    // SAFETY: EAL is initialised; the name is a valid C string.
    let pool = unsafe {
        rte_pktmbuf_pool_create(
            name.as_ptr(),
            511,
            32,
            0,
            RTE_MBUF_DEFAULT_BUF_SIZE as u16,
            SOCKET_ID_ANY,
        )
    };
    // SAFETY: reads this thread's TLS rte_errno.
    let errno = unsafe { vpmd_rte_errno() };
    assert!(
        !pool.is_null(),
        "rte_pktmbuf_pool_create failed: rte_errno {errno}"
    );
    // SAFETY: `pool` is a live pktmbuf pool.
    unsafe {
        assert_eq!(
            vpmd_rte_pktmbuf_data_room_size(pool),
            RTE_MBUF_DEFAULT_BUF_SIZE as u16
        );
        assert_eq!(rte_mempool_avail_count(pool), 511);
    }

    let mut mbufs = [ptr::null_mut::<rte_mbuf>(); 32];
    // SAFETY: `pool` is live and `mbufs` has room for the 32 requested.
    let rc = unsafe { vpmd_rte_pktmbuf_alloc_bulk(pool, mbufs.as_mut_ptr(), 32) };
    assert_eq!(rc, 0);
    for &m in &mbufs {
        assert!(!m.is_null());
        // SAFETY: `m` was just allocated from `pool` and is owned by this test.
        unsafe {
            assert_eq!((*m).pool, pool);
            assert_eq!((*m).data_off as u32, RTE_PKTMBUF_HEADROOM);
            assert_eq!((*m).nb_segs, 1);
            assert_eq!((*m).pkt_len, 0);
            assert_eq!(vpmd_rte_mbuf_refcnt_read(m), 1);
            assert_eq!(vpmd_rte_pktmbuf_headroom(m) as u32, RTE_PKTMBUF_HEADROOM);
            assert_eq!(
                vpmd_rte_pktmbuf_tailroom(m) as u32,
                (*m).buf_len as u32 - RTE_PKTMBUF_HEADROOM
            );
        }
    }
    // SAFETY: `pool` is live; 32 mbufs are out.
    assert_eq!(unsafe { rte_mempool_avail_count(pool) }, 511 - 32);

    // A second reference, dropped by the first free; the second free returns it.
    let m0 = mbufs[0];
    // SAFETY: `m0` is a live mbuf owned by this test; freeing it twice matches the
    // two references it holds after the update.
    unsafe {
        assert_eq!(vpmd_rte_mbuf_refcnt_update(m0, 1), 2);
        vpmd_rte_pktmbuf_free(m0);
        assert_eq!(vpmd_rte_mbuf_refcnt_read(m0), 1);
    }
    // SAFETY: all 32 mbufs are live and owned by this test; free_bulk is exported.
    unsafe { rte_pktmbuf_free_bulk(mbufs.as_mut_ptr(), 32) };
    // SAFETY: a single alloc and free round trip on the live pool.
    unsafe {
        let m = vpmd_rte_pktmbuf_alloc(pool);
        assert!(!m.is_null());
        vpmd_rte_pktmbuf_free(m);
    }
    // The main lcore's mempool cache may hold some; cache plus ring add up to all.
    // SAFETY: `pool` is live and nothing is allocated from it any more.
    unsafe {
        assert_eq!(rte_mempool_avail_count(pool), 511);
        rte_mempool_free(pool);
    }

    link_status_swap();

    // SAFETY: EAL is initialised; the result is a NUL-terminated static string.
    let run_dir = unsafe { CStr::from_ptr(rte_eal_get_runtime_dir()) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: EAL was initialised by this test and nothing uses it any more.
    assert_eq!(unsafe { rte_eal_cleanup() }, 0);
    assert!(
        run_dir.ends_with(&prefix["--file-prefix=".len()..]),
        "{run_dir}"
    );
    let _ = std::fs::remove_dir(&run_dir);
}

/// `rte_eth_linkstatus_set` on a device of our own (no ethdev port needed): returns 0
/// when the status changes and -1 when it does not, and `_get` reads it back.
fn link_status_swap() {
    // rte_eth_dev_data is 6 KiB and 64-byte aligned: on the heap, zeroed.
    let mut data: Box<rte_eth_dev_data> = Box::default();
    let mut dev: Box<rte_eth_dev> = Box::default();
    dev.data = &mut *data;

    let mut up = rte_eth_link {
        link_speed: RTE_ETH_SPEED_NUM_10G,
        ..Default::default()
    };
    up.set_link_duplex(RTE_ETH_LINK_FULL_DUPLEX as u16);
    up.set_link_status(RTE_ETH_LINK_UP as u16);
    // SAFETY: `dev.data` points to `data`, alive and exclusively ours for this call.
    unsafe {
        assert_eq!(vpmd_rte_eth_linkstatus_set(&mut *dev, &up), 0);
        assert_eq!(vpmd_rte_eth_linkstatus_set(&mut *dev, &up), -1);
    }
    let mut got = rte_eth_link::default();
    // SAFETY: as above; `got` is a valid out pointer.
    unsafe { vpmd_rte_eth_linkstatus_get(&*dev, &mut got) };
    assert_eq!(got.link_speed, RTE_ETH_SPEED_NUM_10G);
    assert_eq!(got.link_status(), RTE_ETH_LINK_UP as u16);
    assert_eq!(got.link_duplex(), RTE_ETH_LINK_FULL_DUPLEX as u16);
}
