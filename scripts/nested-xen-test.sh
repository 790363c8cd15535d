#!/usr/bin/env bash
# The nested-Xen test (issue 6): real xen-netfront guests against vpmd's Xen PMD.
# Boots Xen 4.17 under QEMU TCG (harness/xen/run.sh, scenario pair), starts vpmd-fwd
# in dom0 before any guest with two net_vpmd_xen ports that find their vifs
# themselves (no domid=), io forwarding between them, then in dom0:
#   - guests a (10.0.0.2) and b (10.0.0.3) ping each other, also with 1400-byte
#     payloads;
#   - a sends --bulk-kb KiB of random data over TCP to b (GSO, multi-slot frames);
#     the md5sums and byte counts on both sides must match;
#   - xl destroy b, xl create c with b's address, its own MAC (00:16:3e:00:00:0c)
#     and a new domid: vpmd's port 1 must bind c's vif without a restart, and a and c
#     ping each other;
#   - xl destroy every guest (returns 0 only if vpmd answered Closing with Closed),
#     SIGINT vpmd-fwd, check its final counters (--stats-json): both ports moved
#     packets both ways, the bulk bytes went in port 0 and out of port 1, no rx
#     errors, no tx errors on port 0 (port 1 drops what a sends while its guest is
#     away, counted as tx errors).
# A passing run takes about a minute on 2 cores (TCG); a failing one is bounded by
# its waits, --timeout and run.sh's --stall. Progress on stderr; the last line is the
# verdict, e.g.
#   NESTED-XEN-TEST PASS scenario=pair backend=payload secs=55.69 ping_ab=ok ping_ba=ok
#     big_ping=ok bulk=ok bytes=4194304 bulk_Bps=2207528 reconnect=ok vif_binds=3
#     a_port=0 destroy=ok counters=ok dom0_segfaults=0
#     log=target/xen-harness/nested-xen-test-20261122T095759.log
# (one line; FAIL lines add reason=; each run keeps its serial log). Exit status: 0
# PASS, 1 FAIL, 2 set-up error.
#
# With --bench it runs scenario bench instead (harness/xen/scenario-bench): one guest
# sends 64-byte UDP frames with pktgen and counts what it receives, through vpmd-fwd's
# net_vpmd_xen (rxonly, then txonly) and then, in the same boot, through the kernel's
# xen-netback (pktgen in dom0 sending); 1400-byte frames with grant copy and with
# grant map (copy-threshold=1024). It prints a table and
#   RESULT xen-dom0 ours=... anchor=... unit=Mpps ratio=...
# (and -guest-tx, -guest-rx, -map-1400 lines). Under emulation the absolute rates are
# QEMU's, not a machine's: the ratio is what counts.
#
# Options:
#   --bench         the benchmark above, not the test
#   --secs S        seconds per measured direction and size with --bench (default 10)
#   --no-reconnect  skip the destroy/re-create step (reconnect=skipped)
#   --bulk-kb N     bulk data size in KiB (default 4096)
#   --timeout S     the whole nested boot (default 900)
#   --no-build      use target/release/vpmd-fwd as it is
#   -h, --help      this text
#
# ./test.sh runs it when VPMD_NESTED_XEN=1. Needs ./setup.sh's step_qemu and
# step_xen (QEMU, Xen 4.17, busybox-static); see harness/xen/README.md.
set -euo pipefail
PROG=nested-xen-test
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}

log() { echo "$PROG: $*" >&2; }
die() { echo "$PROG: error: $*" >&2; exit 2; }

RECONNECT=1 BULK_KB=4096 TMO=900 BUILD=1 BENCH=0 SECS=10
while (($#)); do
  case $1 in
    --bench) BENCH=1; shift ;;
    --secs) SECS=$2; shift 2 ;;
    --no-reconnect) RECONNECT=0; shift ;;
    --bulk-kb) BULK_KB=$2; shift 2 ;;
    --timeout) TMO=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
[[ $BULK_KB =~ ^[0-9]+$ && $BULK_KB -gt 0 ]] || die "--bulk-kb wants a positive number"
[[ $TMO =~ ^[0-9]+$ ]] || die "--timeout wants seconds"
[[ $SECS =~ ^[0-9]+$ && $SECS -gt 0 ]] || die "--secs wants a positive number"

cd "$ROOT"
BIN=$TARGET/release/vpmd-fwd
if ((BUILD)); then
  log "cargo build --release -p vpmd-fwd"
  cargo build --release -p vpmd-fwd >&2 || die "building vpmd-fwd failed"
fi
[[ -x $BIN ]] || die "$BIN missing (build it or drop --no-build)"

OUT=$(mktemp); trap 'rm -f "$OUT"' EXIT
# keep_log WHAT: each run keeps its log (the harness reuses its path) as
# nested-xen-WHAT-<time>.log; verdict= is the harness's verdict line naming it.
keep_log() {
  verdict=$(grep '^XEN-HARNESS ' "$OUT" | tail -n 1 || true)
  local log=${verdict##* log=} keep
  [[ -n $verdict && -f $log ]] || return 0
  keep=$(dirname "$log")/nested-xen-$1-$(date -u +%Y%m%dT%H%M%S).log
  cp "$log" "$keep" && verdict="${verdict% log=*} log=$keep"
  log "log kept: $keep"
}

if ((BENCH)); then
  # The scenario starts vpmd-fwd itself, once per phase, with the devargs it measures.
  rc=0
  harness/xen/run.sh --scenario bench --bin "$BIN" --args '' --timeout "$TMO" \
    --dom0-args "vpmd_secs=$SECS" | tee "$OUT" || rc=$?
  keep_log bench
  exit $rc
fi

# Two ports without domid=: the lowest searching port binds the next vif the
# toolstack creates (a's on port 0, b's on port 1), and the port that served b binds
# c's (a_port= in the verdict must be 0).
ARGS="-l 0,1 --vdev net_vpmd_xen0 --vdev net_vpmd_xen1 --forward-mode io"
ARGS+=" --port-topology paired --disable-link-check --hugepages never --stats-period 10"
ARGS+=" --stats-json /var/log/vpmd-stats.json"
rc=0
harness/xen/run.sh --scenario pair --bin "$BIN" --args "$ARGS" --timeout "$TMO" \
  --dom0-args "vpmd_reconnect=$RECONNECT vpmd_bulk_kb=$BULK_KB" > "$OUT" || rc=$?
verdict=$(grep '^XEN-HARNESS ' "$OUT" | tail -n 1 || true)
if [[ -z $verdict ]]; then
  cat "$OUT" >&2
  echo "NESTED-XEN-TEST ERROR scenario=pair reason=no-verdict-from-harness(rc=$rc)"
  exit 2
fi
keep_log test
echo "NESTED-XEN-TEST ${verdict#XEN-HARNESS }"
case $rc in 0|1|2) exit $rc ;; *) exit 1 ;; esac
