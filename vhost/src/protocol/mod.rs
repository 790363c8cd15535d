//! The vhost-user wire protocol (QEMU `docs/interop/vhost-user.rst`), back-end side:
//!
//! - [`defs`]: request IDs, flags, protocol feature bits, with their spec names.
//! - [`message`]: the header, `repr(C)` payloads, the per-request rule table, and
//!   [`message::parse`] (sizes and fd counts checked; no device semantics).
//! - [`connection`]: non-blocking framing over a Unix stream with `SCM_RIGHTS` fds.
//!
//! vpmd does not use rust-vmm's `vhost` crate here: its request handler reads a whole
//! message with blocking I/O, so one stalled front-end would stall the single control
//! thread that serves every vhost socket of the process.

#![deny(unsafe_code)]

pub mod connection;
pub mod defs;
pub mod message;
