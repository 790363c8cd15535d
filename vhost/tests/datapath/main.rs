//! The vhost data path against a mock guest: round trips in both directions, mergeable
//! buffers, indirect tables, multi-segment buffers, offload headers, notifications,
//! 16-bit index wrap-around, full rings, and a two-thread run.

#[path = "../guest_common/mod.rs"]
mod common;

mod in_order;
mod limits;
mod notify;
mod offload;
mod roundtrip;
mod threads;
mod wrap;
