//! Errors of the control-plane calls on a port.

use crate::devargs::DevargsError;

/// Why a port operation failed. Each variant names the port and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PmdError {
    /// The devargs string or one of its values.
    #[error(transparent)]
    Devargs(#[from] DevargsError),
    /// The call is not allowed in the port's current state.
    #[error("port {port}: cannot {op} while {state}")]
    State {
        /// The port id.
        port: u16,
        /// The refused operation.
        op: &'static str,
        /// The state it is in.
        state: &'static str,
    },
    /// A queue index outside what `configure` set up, or a queue count over the maximum.
    #[error("port {port}: {what} {value} out of range (max {max})")]
    Range {
        /// The port id.
        port: u16,
        /// What was out of range ("rx queue", "nb_rxq", "nb_desc"...).
        what: &'static str,
        /// The value given.
        value: u32,
        /// The largest accepted value.
        max: u32,
    },
    /// An offload the driver does not offer.
    #[error("port {port}: {dir} offload '{name}' is not supported by {driver}")]
    Offload {
        /// The port id.
        port: u16,
        /// "rx" or "tx".
        dir: &'static str,
        /// DPDK's name for the offload.
        name: &'static str,
        /// The driver.
        driver: &'static str,
    },
    /// The driver refused for a reason of its own.
    #[error("port {port} ({driver}): {reason}")]
    Driver {
        /// The port id.
        port: u16,
        /// The driver.
        driver: &'static str,
        /// What went wrong.
        reason: String,
    },
}
