//! vpmd's log lines (the `log` crate, used by the PMDs' control planes) through DPDK's
//! own logging, under the log type `pmd.net.vpmd`, so `--log-level=pmd.net.vpmd:debug`
//! works as for any DPDK driver.

use std::ffi::CString;
use std::sync::atomic::{AtomicU32, Ordering};

use dpdk_sys as sys;
use log::{Level, LevelFilter, Metadata, Record};

/// `RTE_LOGTYPE_PMD` (a macro, not in the bindings) until our own type is registered.
static LOGTYPE: AtomicU32 = AtomicU32::new(5);

struct RteLog;

impl log::Log for RteLog {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn log(&self, r: &Record<'_>) {
        let level = match r.level() {
            Level::Error => sys::RTE_LOG_ERR,
            Level::Warn => sys::RTE_LOG_WARNING,
            Level::Info => sys::RTE_LOG_INFO,
            Level::Debug | Level::Trace => sys::RTE_LOG_DEBUG,
        };
        let Ok(line) = CString::new(format!("vpmd: {}\n", r.args())) else {
            return;
        };
        // SAFETY: a constant format with one NUL-terminated string argument.
        unsafe {
            sys::rte_log(
                level,
                LOGTYPE.load(Ordering::Relaxed),
                c"%s".as_ptr(),
                line.as_ptr(),
            );
        }
    }

    fn flush(&self) {}
}

/// Registers the log type and installs the logger (unless the host has one).
pub fn init() {
    // SAFETY: registering a log type by name is allowed before EAL init.
    let t = unsafe {
        sys::rte_log_register_type_and_pick_level(c"pmd.net.vpmd".as_ptr(), sys::RTE_LOG_INFO)
    };
    if let Ok(t) = u32::try_from(t) {
        LOGTYPE.store(t, Ordering::Relaxed);
    }
    if log::set_logger(&RteLog).is_ok() {
        log::set_max_level(LevelFilter::Debug);
    }
}
