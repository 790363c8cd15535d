//! Finds the system DPDK with `pkg-config libdpdk`, the driver-SDK headers
//! (`ethdev_driver.h` and friends, which Debian does not ship: `./setup.sh`
//! installs them), generates the bindings with bindgen, compiles the C shim
//! and tells rustc to link the DPDK libraries a vdev ethdev PMD needs.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{exit, Command};

/// Where `scripts/dpdk-sdk-headers.sh` installs the SDK headers, per DPDK version.
const SDK_ROOT: &str = "/usr/local/include/vpmd-dpdk-sdk";

/// The libraries a vdev ethdev PMD plugin links (PLUGIN-FEASIBILITY.md P3): EAL
/// dlopens a `-d` plugin with RTLD_NOW before its default PMD directory, so the
/// plugin's DT_NEEDED must pull in librte_ethdev and librte_bus_vdev itself.
/// rustc links with `--as-needed` (the stable toolchain cannot turn that off
/// for a dependency's libraries: the `-as-needed` link modifier is unstable),
/// so a library whose symbols a final binary never uses gets no DT_NEEDED
/// entry. That is harmless for a PMD, which always calls
/// `rte_eth_dev_allocate` and `rte_vdev_register`; a cdylib that wants all of
/// them regardless reads `DEP_DPDK_LIBS` and links them itself inside
/// `-Wl,--push-state,--no-as-needed ... --pop-state`.
const DPDK_LIBS: &[&str] = &[
    "rte_ethdev",
    "rte_bus_vdev",
    "rte_mbuf",
    "rte_mempool",
    "rte_ring",
    "rte_kvargs",
    "rte_eal",
    "rte_net",
];

/// Offload and mbuf flag macros (`1ULL << n`, `RTE_BIT64(n)`) become `u64`
/// constants, the type of the fields they are or-ed into, even when the value
/// fits in 32 bits (bindgen would pick `u32` then).
#[derive(Debug)]
struct FlagTypes;

impl bindgen::callbacks::ParseCallbacks for FlagTypes {
    fn int_macro(&self, name: &str, _value: i64) -> Option<bindgen::callbacks::IntKind> {
        const U64_PREFIXES: &[&str] = &[
            "RTE_MBUF_F_",
            "RTE_ETH_RX_OFFLOAD_",
            "RTE_ETH_TX_OFFLOAD_",
            "RTE_ETH_RSS_",
            "RTE_ETH_DEV_CAPA_",
        ];
        U64_PREFIXES
            .iter()
            .any(|p| name.starts_with(p))
            .then_some(bindgen::callbacks::IntKind::U64)
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("\ndpdk-sys: {msg}\n");
    exit(1);
}

fn pkg_config(args: &[&str]) -> String {
    let tool = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".into());
    let out = Command::new(&tool)
        .args(args)
        .arg("libdpdk")
        .output()
        .unwrap_or_else(|e| fail(&format!("cannot run `{tool}`: {e}; run ./setup.sh")));
    if !out.status.success() {
        fail(&format!(
            "`{tool} {} libdpdk` failed: {}DPDK's development files (libdpdk-dev) are missing: run ./setup.sh",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8(out.stdout)
        .unwrap_or_else(|_| fail("pkg-config printed non-UTF-8"))
        .trim()
        .to_owned()
}

fn has_sdk(dir: &Path) -> bool {
    dir.join("ethdev_driver.h").is_file()
}

/// The directory holding `ethdev_driver.h`: `VPMD_DPDK_SDK`, else where
/// `./setup.sh` puts it for this DPDK version, else DPDK's own include dirs
/// (a DPDK built with `-Denable_driver_sdk=true`).
fn find_sdk(version: &str, include_dirs: &[PathBuf]) -> PathBuf {
    if let Some(dir) = env::var_os("VPMD_DPDK_SDK") {
        let dir = PathBuf::from(dir);
        if !has_sdk(&dir) {
            fail(&format!(
                "VPMD_DPDK_SDK={} has no ethdev_driver.h",
                dir.display()
            ));
        }
        return dir;
    }
    let dir = Path::new(SDK_ROOT).join(version);
    if has_sdk(&dir) {
        return dir;
    }
    if let Some(dir) = include_dirs.iter().find(|d| has_sdk(d)) {
        return dir.clone();
    }
    fail(&format!(
        "DPDK {version}'s driver-SDK headers (ethdev_driver.h, ethdev_vdev.h, bus_vdev_driver.h, \
         dev_driver.h, bus_driver.h) were not found in {} nor in libdpdk's include dirs.\n\
         Run ./setup.sh (or scripts/dpdk-sdk-headers.sh) as root to install them, \
         or point VPMD_DPDK_SDK at a directory that has them.",
        dir.display()
    ))
}

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    for f in ["build.rs", "wrapper.h", "shim/shim.c", "shim/shim.h"] {
        println!("cargo:rerun-if-changed={f}");
    }
    println!("cargo:rerun-if-env-changed=VPMD_DPDK_SDK");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");

    let version = pkg_config(&["--modversion"]);
    // `-I... -include rte_config.h -march=corei7 ...`: DPDK's headers need
    // all of it (rte_config.h sets RTE_MAX_ETHPORTS and the other sizes).
    let cflags: Vec<String> = pkg_config(&["--cflags"])
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let include_dirs: Vec<PathBuf> = cflags
        .iter()
        .filter_map(|f| f.strip_prefix("-I"))
        .map(PathBuf::from)
        .collect();
    let sdk = find_sdk(&version, &include_dirs);
    println!(
        "cargo:rerun-if-changed={}",
        sdk.join("ethdev_driver.h").display()
    );
    println!("cargo:rustc-env=VPMD_DPDK_VERSION={version}");
    // For dependents (links = "dpdk"): DEP_DPDK_SDK, DEP_DPDK_VERSION, DEP_DPDK_LIBS.
    println!("cargo:sdk={}", sdk.display());
    println!("cargo:version={version}");
    println!("cargo:libs={}", DPDK_LIBS.join(","));

    let mut defs = cflags.clone();
    defs.push(format!("-I{}", sdk.display()));
    defs.push(format!("-I{}", manifest.display()));
    defs.push("-DALLOW_INTERNAL_API".into());

    // The shim first, so its static library precedes the DPDK libraries it uses.
    let mut cc = cc::Build::new();
    cc.file(manifest.join("shim/shim.c"))
        .warnings(true)
        .extra_warnings(true);
    for f in &defs {
        cc.flag(f);
    }
    cc.compile("vpmd_dpdk_shim");

    for dir in pkg_config(&["--libs-only-L"])
        .split_whitespace()
        .filter_map(|f| f.strip_prefix("-L"))
    {
        println!("cargo:rustc-link-search=native={dir}");
    }
    for lib in DPDK_LIBS {
        println!("cargo:rustc-link-lib=dylib={lib}");
    }

    let bindings = bindgen::Builder::default()
        .header(manifest.join("wrapper.h").to_string_lossy())
        .clang_args(&defs)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .parse_callbacks(Box::new(FlagTypes))
        .allowlist_function("rte_eal_(init|cleanup|process_type|has_hugepages|get_runtime_dir)")
        .allowlist_function("rte_(socket_id|lcore_count|get_main_lcore|get_tsc_hz|strerror|exit)")
        .allowlist_function("rte_eth_.*")
        .allowlist_function("rte_vdev_.*")
        .allowlist_function("rte_(pktmbuf|mbuf)_.*")
        .allowlist_function("rte_mempool_(create|free|lookup|avail_count|in_use_count)")
        .allowlist_function("rte_ring_(create|free|lookup)")
        .allowlist_function("rte_kvargs_.*")
        .allowlist_function("rte_(zmalloc|zmalloc_socket|malloc|malloc_socket|calloc|free)")
        .allowlist_function("rte_log(_register.*|_set_level|_get_level)?")
        .allowlist_function("vpmd_rte_.*")
        .allowlist_type("rte_eth_dev|rte_eth_dev_data|eth_dev_ops|rte_eth_fp_ops")
        .allowlist_type("rte_vdev_(driver|device)|rte_devargs|rte_device|rte_driver")
        .allowlist_type("rte_mbuf|rte_mempool|rte_ring|rte_ether_addr|rte_eth_link")
        .allowlist_type("eth_.*_t|rte_proc_type_t")
        .allowlist_var("rte_eth_devices|rte_eth_fp_ops")
        .allowlist_var("RTE_MBUF_F_.*|RTE_ETH_.*|RTE_PTYPE_.*|RTE_LOG_.*|RTE_ETHER_.*")
        .allowlist_var(
            "RTE_(PKTMBUF_HEADROOM|MAX_ETHPORTS|MAX_QUEUES_PER_PORT|MAX_LCORE|CACHE_LINE_SIZE)",
        )
        .allowlist_var(
            "RTE_(ETHDEV_QUEUE_STAT_CNTRS|MEMPOOL_CACHE_MAX_SIZE|MBUF_DEFAULT_.*|MBUF_MAX_NB_SEGS)",
        )
        .allowlist_var("RTE_RING_.*|SOCKET_ID_ANY|LCORE_ID_ANY|RTE_VDEV_DRV_.*")
        // RTE_BIT64(n) and friends are function-like macros cexpr cannot
        // evaluate (every RTE_ETH_RX/TX_OFFLOAD_* flag): let clang do it.
        .clang_macro_fallback()
        .default_enum_style(bindgen::EnumVariation::Consts)
        .prepend_enum_name(false)
        .derive_default(true)
        .layout_tests(true)
        .wrap_unsafe_ops(true)
        .generate_comments(false)
        .generate()
        .unwrap_or_else(|e| fail(&format!("bindgen failed on DPDK {version}'s headers: {e}")));
    bindings
        .write_to_file(out.join("bindings.rs"))
        .unwrap_or_else(|e| fail(&format!("cannot write bindings.rs: {e}")));
}
