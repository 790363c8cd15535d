//! Drivers by name, and port creation from a devargs string.

use vpmd_mempool::PktPool;

use crate::dev::EthDev;
use crate::devargs::{Devargs, DevargsError};
use crate::error::PmdError;
use crate::port::Port;

/// A driver: makes devices from devargs, for vpmd's own [`Mempool`](vpmd_mempool::Mempool) (what the
/// [`Registry`] holds and native applications use).
pub trait Driver: Send + Sync {
    /// The name devargs use (`net_vpmd_null`).
    fn name(&self) -> &'static str;
    /// Creates the device for port `port_id` from `args`, rejecting unknown keys and bad
    /// values with an error that names them.
    fn probe(&self, args: &Devargs, port_id: u16) -> Result<Box<dyn EthDev>, PmdError>;
}

/// A driver whose devices run over pools of type `P`: what the DPDK plugin probes with
/// its `rte_mempool`, to get the driver's own queues over DPDK's buffers. Drivers that
/// work over any pool implement it for every `P` and make [`Driver::probe`] its
/// `Mempool` case, so both paths share one probe. Separate from [`Driver`] so that
/// `Driver` stays object-safe and unambiguous for the registry and native callers
/// (`XenDriver.probe(..)` needs no pool annotation).
pub trait DriverFor<P: PktPool>: Send + Sync {
    /// As [`Driver::probe`], for a device whose queues fill from a `P`.
    fn probe_for(&self, args: &Devargs, port_id: u16) -> Result<Box<dyn EthDev<P>>, PmdError>;
}

/// The drivers a process knows.
#[derive(Default)]
pub struct Registry {
    drivers: Vec<Box<dyn Driver>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.drivers.iter().map(|d| d.name()))
            .finish()
    }
}

impl Registry {
    /// A registry with vpmd's built-in drivers: `net_vpmd_null` and `net_vpmd_ring`.
    pub fn with_builtin() -> Self {
        let mut r = Self::default();
        r.register(Box::new(crate::drivers::null::NullDriver));
        r.register(Box::new(crate::drivers::ring::RingDriver::<
            vpmd_mempool::Mbuf,
        >::default()));
        r
    }

    /// Adds a driver; a later registration under the same name wins.
    pub fn register(&mut self, d: Box<dyn Driver>) {
        self.drivers.retain(|x| x.name() != d.name());
        self.drivers.push(d);
    }

    /// The registered driver names.
    pub fn names(&self) -> Vec<&'static str> {
        self.drivers.iter().map(|d| d.name()).collect()
    }

    /// Creates port `port_id` from a devargs string such as `net_vpmd_null0,size=64`.
    pub fn create_port(&self, devargs: &str, port_id: u16) -> Result<Port, PmdError> {
        let args: Devargs = devargs.parse()?;
        let driver = self
            .drivers
            .iter()
            .find(|d| d.name() == args.driver())
            .ok_or_else(|| DevargsError::UnknownDriver {
                dev: args.name().to_string(),
                known: self.names().join(", "),
            })?;
        let dev = driver.probe(&args, port_id)?;
        Ok(Port::new(port_id, args, dev))
    }
}
