#!/usr/bin/env bash
# vpmd set-up: the one script that prepares a Debian 12 machine for building,
# testing and benchmarking vpmd. Idempotent and non-interactive; a second run
# installs nothing and takes a few seconds.
#
#   ./setup.sh                      # as root, or re-execs itself with sudo
#   VPMD_HUGEPAGES=1024 ./setup.sh  # reserve a different number of 2 MiB pages
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
HUGEPAGES_WANT="${VPMD_HUGEPAGES:-512}"   # 512 x 2 MiB = 1 GiB
HUGE_MNT=/dev/hugepages
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WARNINGS=0

log()  { echo "setup: $*"; }
warn() { echo "setup: WARNING: $*" >&2; WARNINGS=$((WARNINGS + 1)); }
die()  { echo "setup: ERROR: $*" >&2; exit 1; }

# Debian packages. dpdk ships dpdk-testpmd (the benchmark anchor); its PMDs are
# plugins loaded at run time, so name the two the anchor needs (net_null ports,
# ring mempool) rather than rely on Recommends being enabled.
# fonts-dejavu-core: the font vpmd-bench draws its PNG plots with.
# clang, libclang-dev: bindgen (pmd/dpdk-sys); dpkg-dev: `apt-get source`
# for DPDK's driver-SDK headers (step_dpdk_sdk).
APT_PACKAGES=(
  build-essential pkg-config clang libclang-dev dpkg-dev
  dpdk dpdk-dev libdpdk-dev librte-net-null23 librte-mempool-ring23
  fonts-dejavu-core
)

# The QEMU guest harness (harness/qemu/): QEMU itself, a stock Debian kernel
# whose own virtio_net driver the guests use, static busybox for their
# initramfs and cpio to pack it. librte-net-vhost23 is DPDK's net_vhost PMD, the
# reference vhost-user switch the harness is proven against. Installed without
# Recommends: linux-image-amd64 would otherwise pull in firmware and more.
# (The kernel goes to /boot like any kernel package; nothing boots it but QEMU.)
QEMU_PACKAGES=(
  qemu-system-x86 linux-image-amd64 busybox-static cpio xz-utils kmod
  librte-net-vhost23
)

# The nested-Xen harness (harness/xen/): the Xen 4.17 hypervisor and its
# toolstack (xl, xenstored, xenconsoled and their libraries, copied into the
# dom0 initramfs; nothing runs them on this machine), plus the QEMU packages
# above. libxen-dev: the gntdev/evtchn uapi headers the linux platform's struct
# layouts are checked against. The xen-utils postinst prints "Can't find
# hypervisor information in sysfs" on a machine that is not a Xen domain:
# harmless.
XEN_PACKAGES=(
  xen-hypervisor-4.17-amd64 xen-utils-4.17 libxen-dev
)

# ---------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------

ensure_root() {
  [[ $EUID -eq 0 ]] && return 0
  if command -v sudo >/dev/null 2>&1; then
    log "not root, re-running with sudo"
    exec sudo --preserve-env=VPMD_HUGEPAGES bash "$0" "$@"
  fi
  die "must run as root (and sudo is not available)"
}

step_rust() {
  # Rust comes from the machine's rustup toolchain, never from apt. Under sudo
  # PATH is reset, so also look in the invoking user's ~/.cargo/bin.
  local d v
  for d in "${CARGO_HOME:-$HOME/.cargo}/bin" \
           "$(getent passwd "${SUDO_USER:-root}" | cut -d: -f6)/.cargo/bin"; do
    [[ -x "$d/cargo" ]] && PATH="$PATH:$d"
  done
  command -v cargo >/dev/null 2>&1 ||
    die "cargo not found on PATH: install Rust with rustup (https://rustup.rs) first"
  v=$(cargo --version 2>&1) || die "cargo found but not working: $v"
  log "rust ($v) ok"
}

# install_missing [APT-OPTION...] -- PACKAGE...: apt-get install those of the
# packages that are not installed yet; sets INSTALLED to how many that was.
INSTALLED=0
install_missing() {
  local opts=() p missing=()
  while [[ $1 != -- ]]; do opts+=("$1"); shift; done
  shift
  for p; do
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" == installed ]] ||
      missing+=("$p")
  done
  INSTALLED=${#missing[@]}
  ((INSTALLED)) || return 0
  log "installing ${missing[*]}"
  # Quiet on success; on failure show the tail of apt's log.
  local aptlog=/tmp/vpmd-setup-apt.log
  { apt-get update -q && apt-get install -y -q "${opts[@]}" "${missing[@]}"; } >"$aptlog" 2>&1 ||
    { tail -n 20 "$aptlog" >&2; die "apt-get failed (full log: $aptlog)"; }
}

step_packages() {
  install_missing -- "${APT_PACKAGES[@]}"
  command -v dpdk-testpmd >/dev/null 2>&1 || die "dpdk-testpmd missing after install"
  pkg-config --exists libdpdk || die "pkg-config cannot find libdpdk"
  log "packages ok ($INSTALLED installed, dpdk $(pkg-config --modversion libdpdk))"
}

# DPDK's driver-SDK headers (ethdev_driver.h and 4 more) that Debian's
# libdpdk-dev lacks, from the source package of the installed version, into
# /usr/local/include/vpmd-dpdk-sdk/<version>/ for pmd/dpdk-sys. A separate
# script so it can be re-run alone after a DPDK upgrade.
step_dpdk_sdk() {
  bash "$SCRIPT_DIR/scripts/dpdk-sdk-headers.sh" || die "DPDK SDK headers step failed"
}

# vpmd's DPDK plugin (librte_net_vpmd.so), built and installed root-owned in
# /usr/local/lib/vpmd/ for `dpdk-testpmd -d` and OVS-DPDK's dpdk-extra. A
# separate script so it can be re-run alone after a change.
step_plugin() {
  bash "$SCRIPT_DIR/scripts/install-plugin.sh" || die "DPDK plugin step failed"
}

step_hugepages() {
  local f=/proc/sys/vm/nr_hugepages have
  have=$(cat "$f")
  if ((have < HUGEPAGES_WANT)); then
    # May fail (read-only /proc/sys in a container) or be partly granted
    # (fragmented memory): read back and warn, the project runs without them.
    { echo "$HUGEPAGES_WANT" >"$f"; } 2>/dev/null || true
    have=$(cat "$f")
  fi
  if ((have < HUGEPAGES_WANT)); then
    warn "only $have of $HUGEPAGES_WANT hugepages reserved (vpmd falls back to normal pages)"
  else
    log "hugepages ok ($have x 2 MiB)"
  fi
  if ! mountpoint -q "$HUGE_MNT"; then
    mkdir -p "$HUGE_MNT"
    mount -t hugetlbfs nodev "$HUGE_MNT" 2>/dev/null ||
      { warn "could not mount hugetlbfs at $HUGE_MNT"; return 0; }
  fi
  log "hugetlbfs at $HUGE_MNT ok"
}

step_qemu() {
  install_missing --no-install-recommends -- "${QEMU_PACKAGES[@]}"
  command -v qemu-system-x86_64 >/dev/null 2>&1 || die "qemu-system-x86_64 missing after install"
  compgen -G '/boot/vmlinuz-*' >/dev/null || die "no kernel in /boot after installing linux-image-amd64"
  log "qemu harness packages ok ($INSTALLED installed, $(qemu-system-x86_64 --version | head -n1))"
}

step_xen() {
  install_missing --no-install-recommends -- "${XEN_PACKAGES[@]}"
  compgen -G '/boot/xen-4.17*.gz' >/dev/null || die "no /boot/xen-4.17*.gz after installing xen-hypervisor-4.17-amd64"
  [[ -x /usr/lib/xen-4.17/bin/xl ]] || die "/usr/lib/xen-4.17/bin/xl missing after installing xen-utils-4.17"
  log "xen harness packages ok ($INSTALLED installed)"
}

# ---------------------------------------------------------------------------
# Step list: run in order. Later issues add their steps here (define the
# function above, then list it), e.g. step_ovs, step_xen_headers.
# ---------------------------------------------------------------------------
STEPS=(
  step_rust
  step_packages
  step_dpdk_sdk
  step_hugepages
  step_qemu
  step_xen
  step_plugin
)

main() {
  [[ $HUGEPAGES_WANT =~ ^[0-9]+$ ]] || die "VPMD_HUGEPAGES must be a number, got '$HUGEPAGES_WANT'"
  ensure_root "$@"
  local s
  for s in "${STEPS[@]}"; do "$s"; done
  log "done: ${#STEPS[@]} steps, $WARNINGS warning(s)"
}

main "$@"
