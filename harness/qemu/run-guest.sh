#!/usr/bin/env bash
# Boot one test guest whose only NIC is virtio-net-pci on a vhost-user socket,
# run the test role(s) in it and exit with its verdict, read from the serial log.
#
#   harness/qemu/run-guest.sh --sock PATH --role ROLE[,ROLE] [options]
#
#   --sock PATH      vhost-user socket. By default the backend listens on it and
#                    QEMU connects (waiting up to --sock-wait s for it to appear)
#   --server         QEMU listens on PATH instead; the backend connects (DPDK
#                    net_vhost: client=1)
#   --role ROLES     ping | bulk | server, or a comma list run in order (ping,bulk)
#   --mac MAC        guest MAC                              (52:54:00:00:00:01)
#   --ip CIDR        guest address on eth0                  (10.0.0.1/24)
#   --peer IP        the other end of ping and bulk         (10.0.0.2)
#   --count N        measured echo requests                 (5)
#   --max-loss PCT   highest ping loss that passes          (0)
#   --bytes N        bytes sent by bulk                     (16777216)
#   --port P         TCP port of the sink                   (5001)
#   --wait S         how long the guest waits for its peer  (30)
#   --mem SIZE       guest RAM, one shared memfd            (256M)
#   --timeout S      QEMU start to verdict                  (60)
#                    role server: how long it serves at most
#   --accel A        auto | kvm | tcg                       (auto: see lib.sh)
#   --cpus LIST      pin QEMU to these host CPUs (taskset -c); default: unpinned
#   --log FILE       serial log; QEMU's stderr goes to FILE.qemu-stderr
#                    (target/qemu/logs/<socket name>.serial.log)
#   --append ARGS    more kernel command line
#   --sock-wait S    how long to wait for the backend's socket (10)
#
# Prints the guest's VPMD-* lines, then one line
#   RUN-GUEST PASS|FAIL accel=.. role=.. secs=.. [reason=..]
# Exit: 0 PASS, 1 FAIL (test failed, timeout, QEMU died), 2 usage/setup error.
# Role server never gives a verdict: it serves until SIGTERM/SIGINT or --timeout,
# and exits 0 if it became ready (VPMD-READY), 1 if not.
set -euo pipefail
PROG=run-guest
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }

SOCK='' SERVER=0 ROLE='' MAC=52:54:00:00:00:01 IP=10.0.0.1/24 PEER=10.0.0.2
COUNT=5 MAXLOSS=0 BYTES=16777216 PORT=5001 WAIT=30 MEM=256M TIMEOUT=60
ACCEL=auto CPUS='' LOG='' APPEND='' SOCK_WAIT=10
while (($#)); do
  case $1 in
    --sock) SOCK=$2 ;;          --server) SERVER=1; shift; continue ;;
    --role) ROLE=$2 ;;          --mac) MAC=$2 ;;
    --ip) IP=$2 ;;              --peer) PEER=$2 ;;
    --count) COUNT=$2 ;;        --max-loss) MAXLOSS=$2 ;;
    --bytes) BYTES=$2 ;;        --port) PORT=$2 ;;
    --wait) WAIT=$2 ;;          --mem) MEM=$2 ;;
    --timeout) TIMEOUT=$2 ;;    --accel) ACCEL=$2 ;;
    --cpus) CPUS=$2 ;;          --log) LOG=$2 ;;
    --append) APPEND=$2 ;;      --sock-wait) SOCK_WAIT=$2 ;;
    -h|--help) usage ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  (($# >= 2)) || die "$1 needs a value"
  shift 2
done
[[ -n $SOCK ]] || die "--sock PATH is required"
[[ -n $ROLE ]] || die "--role is required (ping, bulk, server or a comma list)"
[[ $ROLE =~ ^(ping|bulk|server)(,(ping|bulk|server))*$ ]] || die "bad --role '$ROLE'"
for v in "$COUNT" "$MAXLOSS" "$BYTES" "$PORT" "$WAIT" "$TIMEOUT" "$SOCK_WAIT"; do
  [[ $v =~ ^[0-9]+$ ]] || die "count, max-loss, bytes, port, wait, timeout, sock-wait: whole numbers, got '$v'"
done
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing (run ./setup.sh)"

[[ $ACCEL == auto ]] && ACCEL=$(detect_accel)
DEVICE="virtio-net-pci,netdev=n0,mac=$MAC"
case $ACCEL in
  kvm) ACCEL_OPTS=(-accel kvm -cpu host) ;;
  # QEMU 7.2 under TCG segfaults (NULL deref) when the guest driver starts a
  # vhost-user device with MSI-X: without KVM irqfds the guest-notifier path
  # breaks. vectors=0 makes the device use legacy INTx, which works.
  tcg) ACCEL_OPTS=(-accel tcg -cpu max); DEVICE+=",vectors=0" ;;
  *) die "--accel must be auto, kvm or tcg, got '$ACCEL'" ;;
esac

GUEST=$("$HARNESS_DIR/build-initramfs.sh")
LOG=${LOG:-$QEMU_WORK/logs/$(basename "$SOCK").serial.log}
mkdir -p "$(dirname "$LOG")"
: >"$LOG"
: >"$LOG.qemu-stderr"

if ((SERVER)); then
  rm -f "$SOCK"
  # wait=off: do not block before the guest starts; QEMU's vhost-user netdev
  # still waits for the backend to connect before the machine runs.
  CHARDEV="socket,id=c0,path=$SOCK,server=on,wait=off"
else
  wait_for_socket "$SOCK" "$SOCK_WAIT" || die "no vhost-user socket at $SOCK after ${SOCK_WAIT}s (is the backend up?)"
  CHARDEV="socket,id=c0,path=$SOCK"
fi

KCMD="console=ttyS0 quiet loglevel=3 panic=-1 vpmd.role=$ROLE vpmd.ip=$IP vpmd.peer=$PEER"
KCMD+=" vpmd.count=$COUNT vpmd.maxloss=$MAXLOSS vpmd.bytes=$BYTES vpmd.port=$PORT vpmd.wait=$WAIT"
KCMD+="${APPEND:+ $APPEND}"

# shellcheck disable=SC2054  # the commas are QEMU's, inside single arguments
QEMU=(qemu-system-x86_64 "${ACCEL_OPTS[@]}" -smp 1 -m "$MEM"
  # The backend maps guest RAM from the fd QEMU passes over the socket, so it
  # must be one shareable file: a memfd, made the memory of NUMA node 0.
  -object "memory-backend-memfd,id=mem,size=$MEM,share=on" -numa node,memdev=mem
  -kernel "$GUEST/kernel" -initrd "$GUEST/initramfs.cpio.gz" -append "$KCMD"
  -chardev "$CHARDEV" -netdev vhost-user,id=n0,chardev=c0 -device "$DEVICE"
  -nodefaults -display none -vga none -monitor none -serial "file:$LOG" -no-reboot)
[[ -n $CPUS ]] && QEMU=(taskset -c "$CPUS" "${QEMU[@]}")

QPID=''
STOP=0
cleanup() {
  [[ -n $QPID ]] && stop_pid "$QPID" TERM 3
  ((SERVER)) && rm -f "$SOCK"
  return 0
}
trap cleanup EXIT
trap 'STOP=1' TERM INT

T0=$(now)
"${QEMU[@]}" 2>"$LOG.qemu-stderr" &
QPID=$!

# Poll the serial log for the verdict (or, for a server, readiness).
VERDICT='' REASON=''
while :; do
  if grep -qa '^VPMD-VERDICT PASS' "$LOG"; then VERDICT=PASS; break; fi
  if grep -qa '^VPMD-VERDICT FAIL' "$LOG"; then VERDICT=FAIL REASON=test-failed; break; fi
  if ((STOP)); then REASON=stopped; break; fi
  if ! kill -0 "$QPID" 2>/dev/null; then REASON=qemu-exited-without-verdict; break; fi
  if awk -v e="$(elapsed "$T0")" -v t="$TIMEOUT" 'BEGIN { exit !(e > t) }'; then
    REASON=timeout-${TIMEOUT}s; break
  fi
  sleep 0.1
done
SECS=$(elapsed "$T0")

if [[ $ROLE == *server* && -z $VERDICT ]]; then
  # A server has no verdict of its own: it passed if it came up and was still
  # up when stopped (by a signal or at --timeout).
  if [[ $REASON == qemu-exited-without-verdict ]]; then VERDICT=FAIL
  elif ! grep -qa '^VPMD-READY' "$LOG"; then VERDICT=FAIL REASON=never-ready
  else VERDICT=PASS REASON=
  fi
fi
[[ -n $VERDICT ]] || VERDICT=FAIL

# After its verdict the guest powers off by itself; give it a moment. (A server,
# a timeout or a signal: no point waiting.)
if grep -qa '^VPMD-VERDICT' "$LOG"; then
  for _ in {1..30}; do kill -0 "$QPID" 2>/dev/null || break; sleep 0.1; done
fi
cleanup
QPID=''

grep -a '^VPMD-' "$LOG" || true
if [[ $VERDICT != PASS ]]; then
  echo "--- last lines of $LOG and QEMU's stderr:"
  tail -n 8 "$LOG" | grep -av '^VPMD-' || true
  tail -n 8 "$LOG.qemu-stderr" || true
fi
echo "RUN-GUEST $VERDICT accel=$ACCEL role=$ROLE secs=$SECS${REASON:+ reason=$REASON} log=$LOG"
[[ $VERDICT == PASS ]]
