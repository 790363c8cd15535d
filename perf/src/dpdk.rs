//! DPDK's own `rte_ring` and `rte_mempool`, as the anchors of `vpmd-bench ring` and
//! `vpmd-bench mempool`: the system DPDK (22.11, through `dpdk-sys` and its C shim) in
//! this very process, behind a small safe API. This is the only module of vpmd-perf with
//! `unsafe` code.
//!
//! - [`eal`]: `rte_eal_init` once per process, without hugepages, PCI or shared files
//!   (`--no-huge --no-pci --no-shconf -m 256 --file-prefix vpmdbench<pid>`; 256 MB of
//!   ordinary memory, mapped lazily, for two 8192-buffer pools and the rings), so it runs
//!   anywhere the CI does. The calling thread becomes the main lcore; EAL pins it to
//!   CPU 0, so its CPU affinity is put back afterwards (the benches pin their own threads).
//! - [`Lcore`]: `rte_thread_register` for the calling thread, so it has an lcore id and
//!   `rte_mempool`'s per-lcore cache is used (DPDK skips the cache on a thread whose
//!   `rte_lcore_id()` is `LCORE_ID_ANY`).
//! - [`ring`]: an `rte_ring` created single-producer/single-consumer
//!   (`RING_F_SP_ENQ | RING_F_SC_DEQ`), split into a [`RingTx`] and a [`RingRx`] that
//!   move `u64`s with `rte_ring_sp_enqueue_burst` / `rte_ring_sc_dequeue_burst`.
//! - [`Pool`]: an `rte_mempool` with a per-lcore cache, either of raw objects
//!   ([`Pool::raw`]: `rte_mempool_create`; [`Objs`] gets and puts bulks with
//!   `rte_mempool_get_bulk` / `_put_bulk`, which never touch the objects) or of packet
//!   buffers ([`Pool::mbufs`]: `rte_pktmbuf_pool_create`; bulks with
//!   `rte_pktmbuf_alloc_bulk`, which resets each mbuf, and `rte_pktmbuf_free_bulk`, which
//!   reads each one's refcount, segments and pool). [`Pool::ring`] makes an SP/SC
//!   `rte_ring` that hands objects from one thread to another.
//!
//! Objects are opaque to Rust here (only DPDK reads or writes them), so the safe API only
//! has to keep three promises: an object goes back to the pool it came from, at most
//! once, and never after that pool is freed. [`Objs`] and the object rings hold the pool alive
//! (`Arc`) and check the pool on every transfer.

use std::ffi::{c_char, c_uint, c_void, CString};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use anyhow::{anyhow, bail, ensure, Result};
use dpdk_sys::{
    rte_eal_get_runtime_dir, rte_eal_init, rte_mbuf, rte_mempool, rte_mempool_create,
    rte_mempool_free, rte_pktmbuf_free_bulk, rte_pktmbuf_pool_create, rte_ring, rte_ring_create,
    rte_ring_free, vpmd_rte_errno, vpmd_rte_lcore_id, vpmd_rte_mempool_get_bulk,
    vpmd_rte_mempool_put_bulk, vpmd_rte_pktmbuf_alloc_bulk, vpmd_rte_ring_sc_dequeue_burst,
    vpmd_rte_ring_sp_enqueue_burst, LCORE_ID_ANY, SOCKET_ID_ANY,
};

/// `rte_ring_core.h`: the default enqueue is single-producer.
const RING_F_SP_ENQ: c_uint = 0x0001;
/// `rte_ring_core.h`: the default dequeue is single-consumer.
const RING_F_SC_DEQ: c_uint = 0x0002;
/// `rte_mempool.h`: `RTE_MEMPOOL_CACHE_MAX_SIZE`.
pub const CACHE_MAX: u32 = 512;

// The rings carry `void *`; `u64`s travel in them bit for bit.
const _: () = assert!(std::mem::size_of::<*mut c_void>() == std::mem::size_of::<u64>());

// Exported by librte_eal (rte_lcore.h) but not in dpdk-sys's allowlist; both are plain
// functions, declared here with their C signatures.
unsafe extern "C" {
    fn rte_thread_register() -> i32;
    fn rte_thread_unregister();
}

static EAL: OnceLock<std::result::Result<(), String>> = OnceLock::new();

/// Initialises EAL once per process (later calls return the first call's outcome).
pub fn eal() -> Result<()> {
    EAL.get_or_init(init_eal).clone().map_err(|e| anyhow!(e))
}

fn init_eal() -> std::result::Result<(), String> {
    let prefix = format!("--file-prefix=vpmdbench{}", std::process::id());
    let args = [
        "vpmd-bench",
        "-l",
        "0",
        "--no-huge",
        "--no-pci",
        "-m",
        "256",
        "--no-shconf",
        "--no-telemetry",
        "--log-level=*:warning",
        prefix.as_str(),
    ];
    let args: Vec<CString> = args
        .iter()
        .map(|a| CString::new(*a).expect("no NUL in EAL args"))
        .collect();
    // EAL keeps argv's strings and may permute the array: both live for the process.
    let args: &'static [CString] = Box::leak(args.into_boxed_slice());
    let mut argv: Vec<*mut c_char> = args.iter().map(|a| a.as_ptr().cast_mut()).collect();
    argv.push(ptr::null_mut());
    let argv: &'static mut [*mut c_char] = Box::leak(argv.into_boxed_slice());

    // SAFETY: a zeroed cpu_set_t is a valid (empty) set; sched_getaffinity(0, ...) fills
    // it for the calling thread with the size we pass.
    let mut cpus: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above; `cpus` is a live, writable cpu_set_t of the size passed.
    let saved = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&cpus), &mut cpus) } == 0;

    // SAFETY: argv holds argc NUL-terminated strings and a final NULL, all leaked, so
    // alive for the rest of the process as EAL requires; this runs once (OnceLock).
    let rc = unsafe { rte_eal_init((argv.len() - 1) as i32, argv.as_mut_ptr()) };
    if rc < 0 {
        // SAFETY: reads this thread's TLS rte_errno.
        let errno = unsafe { vpmd_rte_errno() };
        return Err(format!(
            "rte_eal_init failed (rte_errno {errno}); DPDK's EAL is needed for the anchors"
        ));
    }
    if saved {
        // SAFETY: `cpus` is the affinity this thread had before EAL pinned it to CPU 0.
        unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&cpus), &cpus) };
    }
    // With --no-shconf EAL writes nothing into its runtime directory: remove it now, as
    // there is no point at which a benchmark process could call rte_eal_cleanup.
    // SAFETY: EAL is initialised; the result is a NUL-terminated static string.
    let dir = unsafe { std::ffi::CStr::from_ptr(rte_eal_get_runtime_dir()) };
    let _ = std::fs::remove_dir(dir.to_string_lossy().as_ref());
    Ok(())
}

/// The calling thread's DPDK lcore id, or `None` (`LCORE_ID_ANY`).
pub fn lcore_id() -> Option<u32> {
    // SAFETY: reads this thread's TLS lcore id; valid with or without EAL.
    let id = unsafe { vpmd_rte_lcore_id() };
    (id != LCORE_ID_ANY).then_some(id)
}

/// The calling thread as a DPDK lcore: registered with `rte_thread_register` (and
/// unregistered on drop) unless it already is one (the main lcore). Not `Send`: it
/// belongs to the thread it registered.
#[derive(Debug)]
pub struct Lcore {
    id: u32,
    registered: bool,
    _thread: PhantomData<*const ()>,
}

impl Lcore {
    /// Registers the calling thread (initialising EAL first if needed). Its CPU
    /// affinity is kept, so pin before registering.
    pub fn register() -> Result<Self> {
        eal()?;
        if let Some(id) = lcore_id() {
            return Ok(Self {
                id,
                registered: false,
                _thread: PhantomData,
            });
        }
        // SAFETY: EAL is initialised; registers the calling thread, which has no lcore id.
        let rc = unsafe { rte_thread_register() };
        // SAFETY: reads this thread's TLS rte_errno.
        let errno = unsafe { vpmd_rte_errno() };
        ensure!(rc == 0, "rte_thread_register failed: rte_errno {errno}");
        let id = lcore_id().ok_or_else(|| anyhow!("registered thread has no lcore id"))?;
        Ok(Self {
            id,
            registered: true,
            _thread: PhantomData,
        })
    }

    /// This thread's lcore id.
    pub fn id(&self) -> u32 {
        self.id
    }
}

impl Drop for Lcore {
    fn drop(&mut self) {
        if self.registered {
            // SAFETY: this thread registered itself in `register` (Lcore is not Send).
            unsafe { rte_thread_unregister() };
        }
    }
}

static NAMES: AtomicU32 = AtomicU32::new(0);

/// A process-unique memzone name (rings and pools must not share one).
fn name(kind: &str) -> CString {
    let n = NAMES.fetch_add(1, Ordering::Relaxed);
    CString::new(format!("vpmdb_{kind}{n}")).expect("no NUL")
}

/// An `rte_ring` shared by its two halves; freed when both are gone.
#[derive(Debug)]
struct RawRing(NonNull<rte_ring>);

// SAFETY: an rte_ring is shared memory meant for use from several threads; the SP/SC
// discipline is kept by the halves (one RingTx, one RingRx, neither Clone nor Sync).
unsafe impl Send for RawRing {}
// SAFETY: as above; the shared RawRing itself is only freed (on the last drop).
unsafe impl Sync for RawRing {}

impl RawRing {
    fn new(count: u32) -> Result<Self> {
        eal()?;
        ensure!(
            count.is_power_of_two(),
            "ring size {count} is not a power of two"
        );
        let name = name("r");
        // SAFETY: EAL is initialised; `name` is a valid C string; SP/SC flags.
        let r = unsafe {
            rte_ring_create(
                name.as_ptr(),
                count,
                SOCKET_ID_ANY,
                RING_F_SP_ENQ | RING_F_SC_DEQ,
            )
        };
        // SAFETY: reads this thread's TLS rte_errno.
        let errno = unsafe { vpmd_rte_errno() };
        NonNull::new(r)
            .map(Self)
            .ok_or_else(|| anyhow!("rte_ring_create({count}) failed: rte_errno {errno}"))
    }

    /// # Safety
    /// Only the one producer calls this; `n` pointers are readable at `objs`.
    #[inline]
    unsafe fn enqueue(&self, objs: *const *mut c_void, n: usize) -> usize {
        // SAFETY: the caller's contract; the ring is alive while `self` is.
        unsafe {
            vpmd_rte_ring_sp_enqueue_burst(self.0.as_ptr(), objs, n as c_uint, ptr::null_mut())
        }
        .try_into()
        .unwrap_or(0)
    }

    /// # Safety
    /// Only the one consumer calls this; `n` pointers are writable at `objs`.
    #[inline]
    unsafe fn dequeue(&self, objs: *mut *mut c_void, n: usize) -> usize {
        // SAFETY: the caller's contract; the ring is alive while `self` is.
        unsafe {
            vpmd_rte_ring_sc_dequeue_burst(self.0.as_ptr(), objs, n as c_uint, ptr::null_mut())
        }
        .try_into()
        .unwrap_or(0)
    }

    /// What the ring still holds, drained (consumer side only).
    fn drain(&self) -> Vec<*mut c_void> {
        let mut out = Vec::new();
        let mut buf = [ptr::null_mut(); 64];
        loop {
            // SAFETY: called from the last owner's drop: no other side exists any more.
            let n = unsafe { self.dequeue(buf.as_mut_ptr(), buf.len()) };
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }
}

impl Drop for RawRing {
    fn drop(&mut self) {
        // SAFETY: the last owner of the ring; nothing uses it after this.
        unsafe { rte_ring_free(self.0.as_ptr()) };
    }
}

/// The producer half of an SP/SC `rte_ring` of `u64`s.
#[derive(Debug)]
pub struct RingTx(Arc<RawRing>);

/// The consumer half of an SP/SC `rte_ring` of `u64`s.
#[derive(Debug)]
pub struct RingRx(Arc<RawRing>);

/// An SP/SC `rte_ring` of `count` slots (a power of two; it holds `count - 1`, DPDK's
/// default without `RING_F_EXACT_SZ`).
pub fn ring(count: u32) -> Result<(RingTx, RingRx)> {
    let r = Arc::new(RawRing::new(count)?);
    Ok((RingTx(Arc::clone(&r)), RingRx(r)))
}

impl RingTx {
    /// `rte_ring_sp_enqueue_burst`: enqueues a prefix of `items`; returns its length.
    #[inline]
    pub fn enqueue_burst(&mut self, items: &[u64]) -> usize {
        // SAFETY: `&mut self` on the only RingTx makes this the single producer; `items`
        // is readable and u64 has the size of a pointer (checked above).
        unsafe { self.0.enqueue(items.as_ptr().cast(), items.len()) }
    }
}

impl RingRx {
    /// `rte_ring_sc_dequeue_burst`: fills a prefix of `out`; returns its length.
    #[inline]
    pub fn dequeue_burst(&mut self, out: &mut [u64]) -> usize {
        // SAFETY: `&mut self` on the only RingRx makes this the single consumer; `out` is
        // writable and u64 has the size of a pointer.
        unsafe { self.0.dequeue(out.as_mut_ptr().cast(), out.len()) }
    }
}

/// An `rte_mempool` shared by its handles; freed when the last one is gone. `mbufs`:
/// made by `rte_pktmbuf_pool_create`, so objects are `rte_mbuf`s.
#[derive(Debug)]
struct RawPool {
    mp: NonNull<rte_mempool>,
    mbufs: bool,
}

// SAFETY: rte_mempool is built for concurrent get/put from many threads (a MP/MC ring
// behind per-lcore caches that only their own lcore touches).
unsafe impl Send for RawPool {}
// SAFETY: as above.
unsafe impl Sync for RawPool {}

impl RawPool {
    /// Gets `n` objects into `ptrs` (all or none); true on success.
    ///
    /// # Safety
    /// `ptrs` has room for `n` pointers.
    #[inline]
    unsafe fn get(&self, ptrs: *mut *mut c_void, n: usize) -> bool {
        let rc = if self.mbufs {
            // SAFETY: a pktmbuf pool (alive while `self` is); room for `n` (caller).
            unsafe { vpmd_rte_pktmbuf_alloc_bulk(self.mp.as_ptr(), ptrs.cast(), n as c_uint) }
        } else {
            // SAFETY: the pool is alive while `self` is; room for `n` (caller).
            unsafe { vpmd_rte_mempool_get_bulk(self.mp.as_ptr(), ptrs, n as c_uint) }
        };
        rc == 0
    }

    /// Puts `n` objects back.
    ///
    /// # Safety
    /// `ptrs[..n]` are objects of this pool, owned by the caller, which gives them up.
    #[inline]
    unsafe fn put(&self, ptrs: *const *mut c_void, n: usize) {
        if self.mbufs {
            // SAFETY: `n` mbufs of this pool owned by the caller (contract); free_bulk
            // only reads the array (declared non-const in C).
            unsafe { rte_pktmbuf_free_bulk(ptrs.cast::<*mut rte_mbuf>().cast_mut(), n as c_uint) }
        } else {
            // SAFETY: `n` objects of this (live) pool owned by the caller (contract).
            unsafe { vpmd_rte_mempool_put_bulk(self.mp.as_ptr(), ptrs, n as c_uint) }
        }
    }
}

impl Drop for RawPool {
    fn drop(&mut self) {
        // SAFETY: the last owner: every Objs and object ring holding objects of this pool
        // holds an Arc to it, so none is alive.
        unsafe { rte_mempool_free(self.mp.as_ptr()) };
    }
}

/// An `rte_mempool` with a per-lcore cache and the default MP/MC ring handler, of raw
/// objects or of packet buffers.
#[derive(Debug, Clone)]
pub struct Pool(Arc<RawPool>);

impl Pool {
    /// `rte_pktmbuf_pool_create`: `size` mbufs whose buffers hold `buf_size` bytes
    /// (headroom included), `cache` per lcore (at most 512).
    pub fn mbufs(size: u32, buf_size: u16, cache: u32) -> Result<Self> {
        eal()?;
        ensure!(cache <= CACHE_MAX, "cache of {cache} is above {CACHE_MAX}");
        let name = name("m");
        // SAFETY: EAL is initialised; `name` is a valid C string.
        let mp = unsafe {
            rte_pktmbuf_pool_create(name.as_ptr(), size, cache, 0, buf_size, SOCKET_ID_ANY)
        };
        // SAFETY: reads this thread's TLS rte_errno.
        let errno = unsafe { vpmd_rte_errno() };
        let Some(mp) = NonNull::new(mp) else {
            bail!("rte_pktmbuf_pool_create({size} x {buf_size} B, cache {cache}) failed: rte_errno {errno}");
        };
        Ok(Self(Arc::new(RawPool { mp, mbufs: true })))
    }

    /// `rte_mempool_create`: `size` objects of `elt_size` bytes, `cache` objects per lcore
    /// (at most 512).
    pub fn raw(size: u32, elt_size: u32, cache: u32) -> Result<Self> {
        eal()?;
        ensure!(cache <= CACHE_MAX, "cache of {cache} is above {CACHE_MAX}");
        let name = name("p");
        // SAFETY: EAL is initialised; `name` is a valid C string; no constructors.
        let mp = unsafe {
            rte_mempool_create(
                name.as_ptr(),
                size,
                elt_size,
                cache,
                0,
                None,
                ptr::null_mut(),
                None,
                ptr::null_mut(),
                SOCKET_ID_ANY,
                0,
            )
        };
        // SAFETY: reads this thread's TLS rte_errno.
        let errno = unsafe { vpmd_rte_errno() };
        let Some(mp) = NonNull::new(mp) else {
            bail!("rte_mempool_create({size} x {elt_size} B, cache {cache}) failed: rte_errno {errno}");
        };
        Ok(Self(Arc::new(RawPool { mp, mbufs: false })))
    }

    /// A holder for up to `cap` objects of this pool.
    pub fn objs(&self, cap: usize) -> Objs {
        Objs {
            pool: Arc::clone(&self.0),
            ptrs: vec![ptr::null_mut(); cap].into_boxed_slice(),
            head: 0,
            len: 0,
        }
    }

    /// An SP/SC `rte_ring` of `count` slots that hands this pool's objects from one
    /// thread to another; objects still in it when both halves are gone go back.
    pub fn ring(&self, count: u32) -> Result<(ObjTx, ObjRx)> {
        let inner = Arc::new(ObjRing {
            ring: RawRing::new(count)?,
            pool: Arc::clone(&self.0),
        });
        Ok((ObjTx(Arc::clone(&inner)), ObjRx(inner)))
    }
}

/// Objects taken from a [`Pool`]: `ptrs[head..len]`. Whatever is still held on drop
/// goes back to the pool.
#[derive(Debug)]
pub struct Objs {
    pool: Arc<RawPool>,
    ptrs: Box<[*mut c_void]>,
    head: usize,
    len: usize,
}

// SAFETY: the objects are owned by this holder alone and the pool is thread-safe.
unsafe impl Send for Objs {}

impl Objs {
    /// How many objects are held.
    #[inline]
    pub fn len(&self) -> usize {
        self.len - self.head
    }

    /// Whether none is held.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == self.head
    }

    /// `rte_mempool_get_bulk` (`rte_pktmbuf_alloc_bulk` for mbufs) of `n` objects (all
    /// or none) into an empty holder; false if the pool (its ring and this lcore's cache)
    /// has fewer.
    #[inline]
    pub fn get_bulk(&mut self, n: usize) -> bool {
        assert!(
            self.is_empty() && n <= self.ptrs.len(),
            "holder not empty or too small"
        );
        // SAFETY: `ptrs` has room for `n`.
        let ok = unsafe { self.pool.get(self.ptrs.as_mut_ptr(), n) };
        (self.head, self.len) = (0, if ok { n } else { 0 });
        ok
    }

    /// `rte_mempool_put_bulk` (`rte_pktmbuf_free_bulk` for mbufs) of everything held.
    #[inline]
    pub fn put_all(&mut self) {
        let n = self.len();
        if n > 0 {
            // SAFETY: `ptrs[head..len]` are objects of this pool owned by this holder,
            // which forgets them here so each goes back once.
            unsafe { self.pool.put(self.ptrs.as_ptr().add(self.head), n) };
        }
        (self.head, self.len) = (0, 0);
    }

    /// Enqueues a prefix of the held objects into `tx`'s ring; returns how many left.
    #[inline]
    pub fn send(&mut self, tx: &mut ObjTx) -> usize {
        assert!(Arc::ptr_eq(&self.pool, &tx.0.pool), "ring of another pool");
        // SAFETY: `&mut` on the only ObjTx makes this the single producer;
        // `ptrs[head..len]` are readable; the objects move into the ring (forgotten here).
        let n = unsafe {
            tx.0.ring
                .enqueue(self.ptrs.as_ptr().add(self.head), self.len())
        };
        self.head += n;
        n
    }

    /// Dequeues up to `n` objects from `rx`'s ring into an empty holder; returns how many.
    #[inline]
    pub fn recv(&mut self, rx: &mut ObjRx, n: usize) -> usize {
        assert!(Arc::ptr_eq(&self.pool, &rx.0.pool), "ring of another pool");
        assert!(
            self.is_empty() && n <= self.ptrs.len(),
            "holder not empty or too small"
        );
        // SAFETY: `&mut` on the only ObjRx makes this the single consumer; `ptrs` has
        // room for `n`; the ring only ever holds objects of this pool (checked in send).
        let got = unsafe { rx.0.ring.dequeue(self.ptrs.as_mut_ptr(), n) };
        (self.head, self.len) = (0, got);
        got
    }
}

impl Drop for Objs {
    fn drop(&mut self) {
        self.put_all();
    }
}

#[derive(Debug)]
struct ObjRing {
    ring: RawRing,
    pool: Arc<RawPool>,
}

impl Drop for ObjRing {
    fn drop(&mut self) {
        let left = self.ring.drain();
        if !left.is_empty() {
            // SAFETY: the ring only held objects of `pool`, each once, now owned here.
            unsafe { self.pool.put(left.as_ptr(), left.len()) };
        }
    }
}

/// The producer half of a [`Pool::ring`].
#[derive(Debug)]
pub struct ObjTx(Arc<ObjRing>);

/// The consumer half of a [`Pool::ring`].
#[derive(Debug)]
pub struct ObjRx(Arc<ObjRing>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_moves_u64s_in_order() {
        let (mut tx, mut rx) = ring(64).unwrap();
        let items: Vec<u64> = (0..100).collect();
        assert_eq!(tx.enqueue_burst(&items), 63, "a ring of 64 holds 63");
        let mut out = [0u64; 100];
        assert_eq!(rx.dequeue_burst(&mut out), 63);
        assert_eq!(&out[..63], &items[..63]);
        assert_eq!(rx.dequeue_burst(&mut out), 0);
    }

    #[test]
    fn pool_cache_on_a_registered_thread() {
        for pool in [
            Pool::raw(1023, 64, 32).unwrap(),
            Pool::mbufs(1023, 2176, 32).unwrap(),
        ] {
            cache_and_ring(pool);
        }
    }

    fn cache_and_ring(pool: Pool) {
        let p = pool.clone();
        std::thread::spawn(move || {
            let lc = Lcore::register().unwrap();
            assert_eq!(lcore_id(), Some(lc.id()));
            let mut objs = p.objs(32);
            for _ in 0..100 {
                assert!(objs.get_bulk(32));
                assert_eq!(objs.len(), 32);
                objs.put_all();
            }
            let (mut tx, mut rx) = p.ring(64).unwrap();
            assert!(objs.get_bulk(32));
            assert_eq!(objs.send(&mut tx), 32);
            assert!(objs.is_empty());
            assert_eq!(objs.recv(&mut rx, 32), 32);
            drop(objs);
            assert!(p.objs(32).get_bulk(32));
        })
        .join()
        .unwrap();
        assert!(!pool.objs(2000).get_bulk(1024), "only 1023 objects");
    }
}
