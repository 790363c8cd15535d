# shellcheck shell=bash
# Helpers shared by the QEMU harness scripts (sourced, not run).
# The caller sets PROG (its name in messages) before sourcing.

HARNESS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$HARNESS_DIR/../.." && pwd)
# Everything the harness makes lives under target/ (git-ignored, and `cargo clean`
# removes it): the guest kernel + initramfs cache, logs, the lock file.
QEMU_WORK=${VPMD_QEMU_WORK:-${CARGO_TARGET_DIR:-$REPO_ROOT/target}/qemu}
# shellcheck disable=SC2034  # used by the scripts that source this
GUEST_CACHE=$QEMU_WORK/guest

log()  { echo "$PROG: $*" >&2; }
die()  { echo "$PROG: error: $*" >&2; exit 2; }   # 2 = setup/usage error, never a test verdict

# Seconds since the epoch with milliseconds, for durations.
now() { date +%s.%3N; }
# elapsed START -> "12.34" seconds since START (a now() value).
elapsed() { awk -v a="$(now)" -v b="$1" 'BEGIN { printf "%.2f", a - b }'; }

# The accelerator to use when the caller says "auto". KVM only when it can boot a
# stock kernel: /dev/kvm must be usable and not kvm_pvm, the pagetable-based nested
# "KVM" of some cloud VMs (this project's machines). kvm_pvm dies on a Debian
# kernel with emulation failures (cmpxchg16b, xrstor, int3), so TCG is used there.
detect_accel() {
  if [[ -r /dev/kvm && -w /dev/kvm && ! -d /sys/module/kvm_pvm ]]; then
    echo kvm
  else
    echo tcg
  fi
}

# Wait up to $2 seconds for unix socket $1 to appear. Returns 1 on timeout.
wait_for_socket() {
  local sock=$1 deadline
  deadline=$(awk -v t="$(now)" -v s="$2" 'BEGIN { printf "%.3f", t + s }')
  until [[ -S $sock ]]; do
    awk -v a="$(now)" -v d="$deadline" 'BEGIN { exit !(a > d) }' && return 1
    sleep 0.05
  done
}

# Stop process $1 (a pid we started): signal $2 first (TERM by default), then
# KILL after $3 seconds (5). Reaps it when it is our child.
stop_pid() {
  local pid=$1 sig=${2:-TERM} grace=${3:-5} i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -"$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}
