//! The netback backend against the sim's netfront: the xenbus handshake in both
//! orders, reconnects and bad keys, and traffic in both directions with every byte
//! checked, multi-queue and event channels in poll mode, zero-copy guest tx.

#[path = "../common/host_dir.rs"]
mod host_dir;

mod harness;

mod ctrl;
mod data;
mod discover;
mod handshake;
mod mcast;
mod queues;
mod rate;
mod staging;
mod zerocopy;
