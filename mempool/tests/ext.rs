//! External buffers through the public API: segments over outside memory, the
//! completion run exactly once by whoever frees the last reference (another thread, a
//! clone, a chain in a bulk free), refusals, and the debug-mode double-free check.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use vpmd_mempool::{
    Burst, Ext, ExtBuf, ExtMem, ExtSink, HugepagePolicy, Mbuf, Mempool, PktBuf, PoolConfig,
};

fn pool(data_room: u16) -> Mempool {
    Mempool::new(
        "ext",
        &PoolConfig {
            size: 16,
            cache_size: 0,
            headroom: 0,
            data_room,
            hugepages: HugepagePolicy::Never,
            debug: true,
        },
    )
    .unwrap()
}

/// Heap memory standing in for a mapped guest page; counts its drops.
struct Page {
    bytes: Box<[u8]>,
    drops: Arc<AtomicUsize>,
}

// SAFETY: the boxed slice does not move when `Page` does, lives as long as it, and is
// never written after construction.
unsafe impl ExtMem for Page {
    fn bytes(&self) -> (NonNull<u8>, usize) {
        let p = NonNull::new(self.bytes.as_ptr().cast_mut()).expect("boxed slice");
        (p, self.bytes.len())
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

/// Records every completion: the tag and the thread it ran on.
#[derive(Default)]
struct Sink {
    done: Mutex<Vec<(u64, ThreadId)>>,
}

impl ExtSink<Page> for Sink {
    fn complete(&self, mem: Page, tag: u64) {
        drop(mem);
        self.done
            .lock()
            .unwrap()
            .push((tag, std::thread::current().id()));
    }
}

impl Sink {
    fn tags(&self) -> Vec<u64> {
        self.done.lock().unwrap().iter().map(|d| d.0).collect()
    }
}

fn page(len: usize) -> (Page, Arc<AtomicUsize>) {
    let drops = Arc::new(AtomicUsize::new(0));
    let bytes: Box<[u8]> = (0..len).map(|i| (i * 7) as u8).collect();
    (
        Page {
            bytes,
            drops: Arc::clone(&drops),
        },
        drops,
    )
}

fn ext(mem: Page, tag: u64, sink: &Arc<Sink>) -> Ext<Page, Sink> {
    Ext {
        mem,
        tag,
        sink: Arc::clone(sink),
    }
}

#[test]
fn segment_reads_the_window_read_only_and_completes_once_when_freed() {
    let p = pool(2048);
    let sink = Arc::new(Sink::default());
    let (mem, drops) = page(4096);
    let want: Vec<u8> = mem.bytes[100..1100].to_vec();
    let mut m = p.alloc().unwrap();
    m.attach_ext(p.alloc().unwrap(), ext(mem, 7, &sink), 100, 1000)
        .unwrap();
    assert_eq!(p.stats().in_use, 2, "the segment and its holder");
    assert_eq!(m.data(), &want[..]);
    assert_eq!((m.data_len(), m.pkt_len(), m.tailroom()), (1000, 1000, 0));
    assert!(m.is_shared());
    assert!(m.data_mut().is_none());
    assert!(m.append(1).is_none() && m.prepend(1).is_none());
    // Offload flags may be set; the EXTERNAL bit stays.
    m.set_ol_flags(0);
    assert_ne!(m.ol_flags() & vpmd_mempool::ol_flags::EXTERNAL, 0);
    // A length change cannot reach past the window.
    assert!(!m.set_len(1001));
    assert!(sink.tags().is_empty());
    drop(m);
    assert_eq!(sink.tags(), [7]);
    assert_eq!(drops.load(Ordering::Relaxed), 1);
    assert_eq!(p.stats().in_use, 0);
}

#[test]
fn the_last_free_on_another_thread_runs_the_completion_there() {
    let p = pool(2048);
    let sink = Arc::new(Sink::default());
    let (mem, _) = page(512);
    let mut m = p.alloc().unwrap();
    m.attach_ext(p.alloc().unwrap(), ext(mem, 1, &sink), 0, 512)
        .unwrap();
    let t = std::thread::spawn(move || {
        assert_eq!(m.data()[511], (511 * 7) as u8);
        drop(m);
        std::thread::current().id()
    });
    let freer = t.join().unwrap();
    let done = sink.done.lock().unwrap().clone();
    assert_eq!(done, [(1, freer)]);
    assert_ne!(freer, std::thread::current().id());
    assert_eq!(p.stats().in_use, 0);
}

#[test]
fn a_clone_keeps_the_memory_until_it_goes_too() {
    let p = pool(2048);
    let sink = Arc::new(Sink::default());
    let (mem, drops) = page(256);
    let mut m = p.alloc().unwrap();
    m.attach_ext(p.alloc().unwrap(), ext(mem, 3, &sink), 16, 200)
        .unwrap();
    let c = m.clone_in(&p).unwrap();
    assert_eq!(c.data(), m.data());
    drop(m);
    assert!(
        sink.tags().is_empty(),
        "the clone still references the memory"
    );
    assert_eq!(c.data()[0], (16 * 7) as u8);
    drop(c);
    assert_eq!(sink.tags(), [3]);
    assert_eq!(drops.load(Ordering::Relaxed), 1);
    assert_eq!(p.stats().in_use, 0);
}

#[test]
fn several_segments_share_one_holder_and_chains_free_in_bulk() {
    let p = pool(2048);
    let sink = Arc::new(Sink::default());
    let (mem, _) = page(3000);
    let buf = ExtBuf::new(p.alloc().unwrap(), ext(mem, 9, &sink)).unwrap();
    assert_eq!(buf.len(), 3000);
    let a = buf.attach(p.alloc().unwrap(), 0, 1000).unwrap();
    let b = buf.attach(p.alloc().unwrap(), 1000, 2000).unwrap();
    // Outside the memory, or a buffer that is not plain: handed back.
    let bad = buf.attach(p.alloc().unwrap(), 2000, 1001).unwrap_err();
    assert!(buf.attach(a.clone_in(&p).unwrap(), 0, 1).is_err());
    drop(bad);
    drop(buf);
    let mut head = p.alloc().unwrap();
    head.append(4).unwrap().copy_from_slice(b"head");
    head.chain(a).unwrap();
    head.chain(b).unwrap();
    let mut all = vec![0u8; 3004];
    assert_eq!(head.read_into(&mut all), 3004);
    assert_eq!(&all[..4], b"head");
    assert_eq!(all[4 + 1500], (1500 * 7) as u8);
    let mut burst = Burst::with_capacity(4);
    burst.push(head).unwrap();
    Mbuf::free_bulk(&mut burst);
    assert_eq!(sink.tags(), [9]);
    assert_eq!(p.stats().in_use, 0);
}

#[test]
fn refusals_hand_the_memory_back() {
    let sink = Arc::new(Sink::default());
    // A holder too small for the bookkeeping.
    let tiny = pool(8);
    let (mem, drops) = page(64);
    let mut t = tiny.alloc().unwrap();
    let e = t
        .attach_ext(tiny.alloc().unwrap(), ext(mem, 0, &sink), 0, 8)
        .unwrap_err();
    assert_eq!(e.mem.bytes.len(), 64);
    // A window outside the memory; the buffer is left as it was.
    let p = pool(2048);
    let mut m = p.alloc().unwrap();
    let e = m.attach_ext(p.alloc().unwrap(), e, 60, 5).unwrap_err();
    assert!(m.data_mut().is_some() && m.append(3).is_some());
    // Through the generic trait too, and a buffer whose bytes a clone shares.
    let c = m.clone_in(&p).unwrap();
    let e = <Mbuf as PktBuf>::attach_ext(&mut m, p.alloc().unwrap(), e, 0, 8).unwrap_err();
    let mut f = p.alloc().unwrap();
    let e = <Mbuf as PktBuf>::attach_ext(&mut f, p.alloc().unwrap(), e, 0, 65).unwrap_err();
    drop((m, c, f, t));
    drop(e);
    assert_eq!(drops.load(Ordering::Relaxed), 1);
    assert!(sink.tags().is_empty());
    assert_eq!((p.stats().in_use, tiny.stats().in_use), (0, 0));
}

#[test]
fn debug_mode_catches_a_double_free_of_an_external_segment_and_completes_once() {
    let p = pool(2048);
    let sink = Arc::new(Sink::default());
    let (mem, _) = page(128);
    let mut m = p.alloc().unwrap();
    m.attach_ext(p.alloc().unwrap(), ext(mem, 5, &sink), 0, 128)
        .unwrap();
    let raw = m.into_raw();
    // SAFETY: deliberately wrong: the same pointer becomes two handles.
    let (a, b) = unsafe { (Mbuf::from_raw(raw), Mbuf::from_raw(raw)) };
    drop(a);
    let second = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(b)));
    let msg = second.unwrap_err();
    let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("double free"), "{msg}");
    assert_eq!(sink.tags(), [5], "the completion ran exactly once");
}
