#!/usr/bin/env bash
# Builds vpmd's DPDK plugin (librte_net_vpmd.so: the net_vpmd_vhost and
# net_vpmd_xen vdev drivers) and installs it, root-owned and not world-writable,
# where DPDK applications can load it with -d:
#
#   /usr/local/lib/vpmd/librte_net_vpmd.so
#
# EAL refuses a -d path with a world-writable directory on the way (/tmp, so a
# build tree under /tmp cannot be loaded by its full path), hence an install
# directory of its own. It is not DPDK's pmds-23.0 directory on purpose: from
# there every DPDK process on the machine (OVS included) would load vpmd.
# Idempotent: installs only when the built file differs. Run as root;
# ./setup.sh calls it.
#
#   scripts/install-plugin.sh                 # build (release) and install
#   VPMD_PLUGIN_DIR=/opt/vpmd scripts/...     # another directory
set -euo pipefail

DIR="${VPMD_PLUGIN_DIR:-/usr/local/lib/vpmd}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SO=librte_net_vpmd.so

log() { echo "setup: plugin: $*"; }
die() { echo "setup: plugin: ERROR: $*" >&2; exit 1; }

cd "$ROOT"
cargo build --release --quiet -p vpmd-dpdk-plugin || die "cargo build -p vpmd-dpdk-plugin failed"
BUILT="$(cargo metadata --format-version 1 --no-deps |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/release/$SO"
[[ -f $BUILT ]] || die "$BUILT not built"
if cmp -s "$BUILT" "$DIR/$SO"; then
  log "$DIR/$SO up to date"
  exit 0
fi
install -d -o root -g root -m 0755 "$DIR"
install -o root -g root -m 0644 "$BUILT" "$DIR/$SO"
log "installed $DIR/$SO (dpdk-testpmd -d $DIR/$SO --vdev net_vpmd_vhost0,iface=SOCK)"
