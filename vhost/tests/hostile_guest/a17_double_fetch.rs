//! 17: the guest rewrites descriptors, available entries and headers while the device
//! reads them. vpmd copies each once and validates the copy, so every entry ends up
//! either delivered or counted, nothing panics, and no buffer leaks.

use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vpmd_vhost::net::MAX_FRAME_LEN;

use super::*;

/// xorshift64: a deterministic stream of junk.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn rewriting_while_the_device_reads() {
    const SIZE: u16 = 64;
    let mut bed = Bed::with(BASE | INDIRECT | OFFLOADS, SIZE, 2048, 0);
    let mut guest = std::mem::replace(
        &mut bed.guest,
        vpmd_vhost::driver::NetGuest::new(BASE, 8).unwrap(),
    );
    let mut pkt = NetHdr::default().emit().to_vec();
    pkt.extend_from_slice(&ip_frame(true, L4::Tcp, 1000));
    let len = pkt.len() as u32;
    // One buffer per descriptor slot, so junk in one header spoils one packet.
    let bufs: Vec<u64> = (0..SIZE)
        .map(|_| guest.mem().alloc(len as u64).unwrap())
        .collect();
    let end = guest.mem().end();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = Arc::clone(&stop);
    // What the device consumed: junk heads out of range are consumed without a used
    // element, so the guest cannot wait on `used.idx`.
    let consumed = Arc::new(AtomicU16::new(0));
    let consumed2 = Arc::clone(&consumed);
    let guest_thread = std::thread::spawn(move || {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mem = Arc::clone(guest.mem());
        let q = &mut guest.txq;
        let heads: Vec<u16> = (0..SIZE).map(|_| q.take_desc().unwrap()).collect();
        let mut offered = 0u64;
        while !stop2.load(Ordering::Relaxed) {
            // A batch of valid single-descriptor packets...
            let batch = 16;
            let first = q.next_avail();
            for k in 0..batch {
                let slot = (offered as usize + k) % SIZE as usize;
                mem.write(bufs[slot], &pkt).unwrap();
                q.write_desc(heads[slot], rd(bufs[slot], len));
                q.push_head(heads[slot]);
            }
            if (offered / batch as u64).is_multiple_of(4) {
                // One fault that does not depend on timing.
                let slot = offered as usize % SIZE as usize;
                q.write_desc(heads[slot], rd(0, len));
            }
            q.publish(false);
            offered += batch as u64;
            // ...then junk over them while the device may be reading.
            let mut junk = 0;
            while consumed2.load(Ordering::Acquire) != q.next_avail()
                && !stop2.load(Ordering::Relaxed)
            {
                let r = rng.next();
                // A few rewrites per batch, at random moments, so that some entries
                // are read intact and some change under the device.
                if junk == 4 || !r.is_multiple_of(64) {
                    std::hint::spin_loop();
                    continue;
                }
                junk += 1;
                let slot = (r % SIZE as u64) as usize;
                let (h, gpa) = (heads[slot], bufs[slot]);
                let addr = [gpa, 0, end - 5, u64::MAX - 3, gpa + 7][(r >> 8) as usize % 5];
                let dlen = [0, 5, 12, len, 70_000, u32::MAX][(r >> 16) as usize % 6];
                q.write_desc(
                    h,
                    RawDesc {
                        addr,
                        len: dlen,
                        flags: (r >> 24) as u16 & 7,
                        next: (r >> 32) as u16,
                    },
                );
                let pos = first.wrapping_add((r >> 48) as u16 % batch as u16);
                let junk_head = if r & 1 == 0 { h } else { (r >> 40) as u16 };
                q.write_avail_slot(pos, junk_head);
                let junk_hdr = (r as u128 * 0x1234_5677).to_le_bytes();
                mem.write(gpa, &junk_hdr[..12]).unwrap();
            }
            while q.pop_used().is_some() {}
        }
        offered
    });
    let deadline = Instant::now() + Duration::from_millis(300);
    let mut delivered = 0u64;
    while Instant::now() < deadline {
        for m in bed.rx_burst(32).drain() {
            assert!(m.pkt_len() <= MAX_FRAME_LEN);
            delivered += 1;
        }
        consumed.store(bed.rx.position().0, Ordering::Release);
    }
    stop.store(true, Ordering::Relaxed);
    guest_thread.join().unwrap();
    let (consumed, _) = bed.rx.position();
    eprintln!(
        "double fetch: {delivered} delivered, {} dropped: {:?}",
        bed.rxc.dropped(),
        bed.rxc
            .xstats("rx")
            .into_iter()
            .filter(|(_, v)| *v > 0)
            .collect::<Vec<_>>()
    );
    assert!(
        delivered > 0 && bed.rxc.dropped() > 0,
        "both outcomes happened"
    );
    assert!(!bed.rx.is_broken(), "the index itself was never corrupted");
    assert_eq!(delivered, xstat(&bed.rxc, "good_packets"));
    assert_eq!(
        consumed as u64,
        (delivered + bed.rxc.dropped()) % 65536,
        "every consumed entry was delivered or counted"
    );
    assert_eq!(bed.pool.stats().in_use, 0);
}
