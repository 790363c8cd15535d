#!/usr/bin/env bash
# Two guests through a vhost-user switch: start the switch, boot a server guest on
# its port 1 and a client guest on its port 0; the client pings the server, then
# sends it a bulk TCP transfer. Tear everything down, print one summary line:
#
#   QEMU-TWO-GUESTS PASS accel=tcg ping_loss=0% rtt_avg=1.2ms bulk_bytes=16777216 bulk_kbps=70000 secs=12.3
#
#   harness/qemu/two-guests.sh --switch "COMMAND" [options]
#
#   --switch CMD     the switch under test, a shell command that owns two
#                    vhost-user *server* sockets; the words SOCK0 and SOCK1 in it
#                    are replaced by their paths. Examples:
#      "dpdk-testpmd -l 0,1 --no-pci --in-memory --vdev net_vhost0,iface=SOCK0
#         --vdev net_vhost1,iface=SOCK1 -- --forward-mode=io --auto-start"
#      "target/release/vpmd-fwd -l 0,1 --vdev net_vpmd_vhost0,iface=SOCK0
#         --vdev net_vpmd_vhost1,iface=SOCK1 --forward-mode io"
#   --count N        echo requests of the ping           (10)
#   --bytes N        bytes of the bulk transfer          (16777216)
#   --mem SIZE       RAM of each guest                   (256M)
#   --timeout S      client guest, QEMU start to verdict (90)
#   --switch-wait S  how long the switch may take to create its sockets (20)
#   --qemu-cpus LIST host CPUs for both QEMUs            (0; see "CPUs" below)
#   --accel A        auto | kvm | tcg                    (auto)
#   --out DIR        logs: switch.log, server.*, client.* (target/qemu/two-guests)
#
# CPUs (2-core machine): a poll-mode switch busy-polls its forwarding lcore, so
# give it `-l 0,1` (main lcore 0, mostly asleep; forwarding lcore 1) and keep the
# guests off CPU 1: both QEMUs run pinned to CPU 0 (--qemu-cpus). Unpinned, the
# scheduler would put vCPU threads beside the poller, slowing both.
#
# The switch runs in its own session (setsid) with a stdin that never reaches EOF
# (dpdk-testpmd without --stats-period exits at stdin EOF); it is stopped with
# SIGINT (testpmd then prints its statistics and frees its memory). One still
# running 10 s later gets KILL, with its whole process group, and the run FAILs
# (switch-unclean-exit), as it does for hugepage files left behind. Runs are
# serialized by a lock, so parallel cargo tests queue rather than fight over the
# two CPUs.
#
# Exit: 0 PASS, 1 FAIL, 2 usage/setup error.
set -euo pipefail
PROG=two-guests
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }

SWITCH='' COUNT=10 BYTES=16777216 MEM=256M TIMEOUT=90 SWITCH_WAIT=20 QEMU_CPUS=0 ACCEL=auto
OUT=$QEMU_WORK/two-guests
while (($#)); do
  case $1 in
    --switch) SWITCH=$2 ;;       --count) COUNT=$2 ;;
    --bytes) BYTES=$2 ;;         --mem) MEM=$2 ;;
    --timeout) TIMEOUT=$2 ;;     --switch-wait) SWITCH_WAIT=$2 ;;
    --qemu-cpus) QEMU_CPUS=$2 ;; --accel) ACCEL=$2 ;;
    --out) OUT=$2 ;;
    -h|--help) usage ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  (($# >= 2)) || die "$1 needs a value"
  shift 2
done
[[ -n $SWITCH ]] || die "--switch \"COMMAND with SOCK0 and SOCK1\" is required"
[[ $SWITCH == *SOCK0* && $SWITCH == *SOCK1* ]] || die "--switch must name both SOCK0 and SOCK1"
for v in "$COUNT" "$BYTES" "$TIMEOUT" "$SWITCH_WAIT"; do
  [[ $v =~ ^[0-9]+$ ]] || die "count, bytes, timeout, switch-wait: whole numbers, got '$v'"
done
[[ $ACCEL == auto ]] && ACCEL=$(detect_accel)

mkdir -p "$QEMU_WORK"
exec 8>"$QEMU_WORK/.two-guests.lock"
flock -w 600 8 || die "another two-guests run held the lock for 10 minutes"

T0=$(now)
"$HARNESS_DIR/build-initramfs.sh" >/dev/null   # before the switch starts: may take a second

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
rm -f "$OUT"/switch.log "$OUT"/server.* "$OUT"/client.*   # only our own files: --out may be any dir
# Sockets in a short private directory: a unix socket path is at most 107 bytes.
RUN=$(mktemp -d "${TMPDIR:-/tmp}/vpmd-qemu.XXXXXX")
SOCK0=$RUN/sock0 SOCK1=$RUN/sock1
CMD=${SWITCH//SOCK0/$SOCK0}
CMD=${CMD//SOCK1/$SOCK1}

# Hugepage files and DPDK runtime directories present before the run, to find
# any the switch leaves behind.
hugefiles() { find /dev/hugepages -maxdepth 1 -type f 2>/dev/null | sort; }
dpdkdirs() { find /var/run/dpdk -mindepth 1 -maxdepth 1 -type d 2>/dev/null | sort; }
hugefiles >"$RUN/huge.before"
dpdkdirs >"$RUN/dpdk.before"

SW_PID='' SERVER_PID='' CLIENT_PID=''
LEFTOVERS=0
teardown() {
  [[ -d $RUN ]] || return 0   # done already
  trap '' INT TERM            # a second Ctrl-C must not cut the teardown short
  # Guests first (run-guest.sh stops its QEMU on TERM), then the switch.
  [[ -n $CLIENT_PID ]] && stop_pid "$CLIENT_PID" TERM 10
  [[ -n $SERVER_PID ]] && stop_pid "$SERVER_PID" TERM 10
  CLIENT_PID='' SERVER_PID=''
  if [[ -n $SW_PID ]]; then
    # SIGINT: testpmd and vpmd-fwd print their statistics and free their memory
    # on it. A switch still there 10 s later, or that left processes in its
    # group, is killed (the whole group) and the run counts as unclean.
    local i
    kill -INT "$SW_PID" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      kill -0 "$SW_PID" 2>/dev/null || break
      sleep 0.1
    done
    if pgrep -g "$SW_PID" >/dev/null; then
      log "switch (process group $SW_PID) still running 10 s after SIGINT: killed"
      kill -KILL -- -"$SW_PID" 2>/dev/null || true
      LEFTOVERS=$((LEFTOVERS + 1))
    fi
    wait "$SW_PID" 2>/dev/null || true
    SW_PID=''
  fi
  # Hugepage files that appeared during the run and no process maps any more
  # are the switch's leftovers (say, after a KILL): report and remove them.
  local f
  while read -r f; do
    [[ -n $f ]] || continue
    if ! grep -qsF "$f" /proc/[0-9]*/maps; then
      log "leftover hugepage file $f (removed)"
      rm -f "$f"
      LEFTOVERS=$((LEFTOVERS + 1))
    fi
  done < <(comm -13 "$RUN/huge.before" <(hugefiles))
  # DPDK makes /var/run/dpdk/<file-prefix> even with --in-memory and leaves it
  # empty; rmdir removes only empty ones.
  while read -r f; do
    if [[ -n $f ]]; then rmdir "$f" 2>/dev/null || true; fi
  done < <(comm -13 "$RUN/dpdk.before" <(dpdkdirs))
  rm -rf "$RUN"
}
fail() {   # fail REASON: tear down, print the summary line, exit 1
  teardown
  trap - EXIT
  local reason=$1
  ((LEFTOVERS == 0)) || reason+=,switch-unclean-exit
  echo "--- tail of $OUT/switch.log:"
  tail -n 15 "$OUT/switch.log" || true
  echo "QEMU-TWO-GUESTS FAIL accel=$ACCEL reason=$reason secs=$(elapsed "$T0") logs=$OUT"
  exit 1
}
trap teardown EXIT
trap 'fail interrupted' INT TERM

# --- switch ------------------------------------------------------------------
mkfifo "$RUN/stdin"
log "switch: $CMD"
# setsid: own process group (pgid = its pid) so teardown can reach all of it.
# env --default-signal: bash starts background jobs with SIGINT ignored, and a
# program that installs no handler of its own would inherit that.
# <>fifo: read-write open of a FIFO never sees EOF, and nobody writes to it.
TSW=$(now)
setsid env --default-signal=INT,QUIT bash -c "exec $CMD" 0<>"$RUN/stdin" >"$OUT/switch.log" 2>&1 &
SW_PID=$!

while [[ ! -S $SOCK0 || ! -S $SOCK1 ]]; do
  kill -0 "$SW_PID" 2>/dev/null || fail switch-exited
  awk -v e="$(elapsed "$TSW")" -v t="$SWITCH_WAIT" 'BEGIN { exit !(e > t) }' &&
    fail "switch-made-no-sockets-in-${SWITCH_WAIT}s"
  sleep 0.05
done
log "switch up (pid $SW_PID) after $(elapsed "$TSW")s; booting guests (accel=$ACCEL, QEMU on CPU $QEMU_CPUS)"

# --- guests ------------------------------------------------------------------
# Both boot at once; the client waits (up to --wait) for the server to answer.
GUEST_OPTS=(--mem "$MEM" --accel "$ACCEL" --cpus "$QEMU_CPUS" --port 5001)
"$HARNESS_DIR/run-guest.sh" "${GUEST_OPTS[@]}" --sock "$SOCK1" --role server \
  --mac 52:54:00:00:00:02 --ip 10.0.0.2/24 --timeout $((TIMEOUT + 30)) \
  --log "$OUT/server.serial.log" >"$OUT/server.out" 2>&1 &
SERVER_PID=$!

# In the background and waited for, so that a signal to this script is handled
# at once (bash runs traps only between foreground commands).
"$HARNESS_DIR/run-guest.sh" "${GUEST_OPTS[@]}" --sock "$SOCK0" --role ping,bulk \
  --mac 52:54:00:00:00:01 --ip 10.0.0.1/24 --peer 10.0.0.2 --count "$COUNT" \
  --bytes "$BYTES" --timeout "$TIMEOUT" --log "$OUT/client.serial.log" \
  >"$OUT/client.out" 2>&1 &
CLIENT_PID=$!
CLIENT_RC=0
wait "$CLIENT_PID" || CLIENT_RC=$?
CLIENT_PID=''

# The server guest's verdict: it was up (VPMD-READY) until told to stop.
kill -TERM "$SERVER_PID" 2>/dev/null || true
SERVER_RC=0
wait "$SERVER_PID" || SERVER_RC=$?
SERVER_PID=''
teardown
trap - EXIT

sed 's/^/client: /' "$OUT/client.out"
grep -a '^VPMD-\|^RUN-GUEST' "$OUT/server.out" | sed 's/^/server: /' || true
# Forwarding statistics, if the switch prints testpmd's block.
grep -a -A3 'Accumulated forward statistics' "$OUT/switch.log" | sed 's/^/switch: /' || true

# field LINE KEY: the value of KEY=... in LINE
field() {
  local v
  v=$(sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1")
  echo "${v:--}"
}
PING=$(grep -a '^VPMD-RESULT ping' "$OUT/client.out" || true)
BULK=$(grep -a '^VPMD-RESULT bulk' "$OUT/client.out" || true)
SUMMARY="accel=$ACCEL ping_loss=$(field "$PING" loss) rtt_avg=$(field "$PING" rtt_avg)"
SUMMARY+=" bulk_bytes=$(field "$BULK" received) bulk_kbps=$(field "$BULK" kbps) secs=$(elapsed "$T0")"

REASON=''
((CLIENT_RC == 0)) || REASON=client-$(sed -n 's/^RUN-GUEST FAIL.* reason=\([^ ]*\).*/\1/p' "$OUT/client.out")
((SERVER_RC == 0)) || REASON=${REASON:+$REASON,}server-guest-failed
((LEFTOVERS == 0)) || REASON=${REASON:+$REASON,}switch-unclean-exit
if [[ -z $REASON ]]; then
  echo "QEMU-TWO-GUESTS PASS $SUMMARY"
  exit 0
fi
echo "--- tail of $OUT/switch.log:"
tail -n 15 "$OUT/switch.log"
echo "QEMU-TWO-GUESTS FAIL $SUMMARY reason=$REASON logs=$OUT"
exit 1
