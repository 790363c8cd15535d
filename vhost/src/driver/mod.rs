//! The guest side of split virtqueues: what a virtio driver does, over guest memory that
//! vpmd maps itself (memfd-backed regions in a [`MemTable`](crate::memory::MemTable)).
//!
//! - [`GuestMemory`]: regions backed by unlinked shared-memory files, GPA allocation, and
//!   the [`memfd`] helper.
//! - [`DriverQueue`]: one split virtqueue, driver side: chains (direct or indirect) into
//!   the available ring, used elements out, notification fields, plus raw access for
//!   writing any hostile descriptor or index.
//! - [`NetGuest`]: a mock virtio-net guest over a pair of queues: sends frames with a
//!   chosen descriptor layout, posts receive buffers, reassembles what it received.
//!
//! Tests use it against the device code; vpmd's own front-end ([`crate::vuser`], the fast
//! path) shares only its `atomic` accessors. It is written from the spec with its own
//! offsets and encodings, independently of [`crate::virtqueue`], so a test is not a mirror
//! of the code it tests. Guest memory is touched only through `MemTable` copies and the
//! atomic index accessors of the small `atomic` module (the only unsafe code here). Not a
//! fast path: it allocates freely.

#![deny(unsafe_code)]

pub(crate) mod atomic;
mod mem;
mod net;
mod queue;

pub use mem::{memfd, GuestMemory, BASE_GPA};
pub use net::{NetGuest, RxFrame, TxLayout};
pub use queue::{Buf, DriverQueue, RawDesc, Used};
