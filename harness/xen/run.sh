#!/usr/bin/env bash
# Nested Xen under QEMU (TCG: this machine's /dev/kvm is kvm_pvm, which cannot run
# Xen): Xen 4.17, a PV dom0 running xenstored/xenconsoled/xl from a busybox
# initramfs, one PV domU whose xen-netfront pings 10.0.0.1 through its vif.
#
#   harness/xen/run.sh                      # the vif on the kernel's xen-netback
#   harness/xen/run.sh --bin target/release/vpmd-fwd \
#       --args '--vdev net_vpmd_xen0,domid=@DOMID@ --forward-mode icmpecho'
#                                           # on BIN in dom0, xen-netback not loaded
#
# --bin PATH    a binary to run in dom0 as the vif's backend (its shared libraries
#               go with it); @DOMID@ in --args is the domU's id. Without --bin
#               the kernel's xen-netback serves the vif.
# --netback     load xen-netback even with --bin: the binary runs beside the
#               kernel's backend instead of being it (to tell its side effects apart)
# --scenario S  what dom0 does (vpmd_scenario= on its command line):
#               ping (default): one domU pings dom0's end of its vif;
#               pair: two domUs ping each other and move bulk TCP data through a
#               payload forwarding between their vifs, one is replaced (xl destroy,
#               xl create) and must reach the other again; scripts/nested-xen-test.sh
#               runs it (harness/xen/scenario-pair);
#               bench: one guest's pktgen and rx counter measure 64-byte frames both
#               ways through the payload (vpmd-fwd, grant copy then grant map), then
#               through the kernel's xen-netback; RESULT lines
#               (harness/xen/scenario-bench, scripts/nested-xen-test.sh --bench)
# --dom0-args A more KEY=VALUE words for dom0's command line (scenario knobs, e.g.
#               'vpmd_reconnect=0 vpmd_bulk_kb=1024')
# --wait S      how long dom0 waits for a domU's ping (default 90)
# --timeout S   the whole boot (default 400; 900 for pair)
# --stall S     stop once the serial line has been silent for S seconds (default 300:
#               dom0 prints at least every step, the longest wait is the bulk's)
# --smp N       QEMU CPUs, also dom0's vCPUs (default 2)
# --cpu MODEL   QEMU's -cpu (default max)
# --accel A     QEMU's -accel (default tcg,thread=multi)
#
# Images are built from the host's Debian packages (./setup.sh: step_qemu and
# step_xen) and cached under target/xen-harness/images, rebuilt when a harness file
# changes; the binary goes into a second cpio archive appended to dom0's, so the
# cache is not rebuilt for it. Log: target/xen-harness/boot-{netback,payload}.log,
# each serial line with seconds since QEMU started. The last line is the verdict:
#
#   XEN-HARNESS PASS backend=netback secs=56.57 big_ping=ok dom0_segfaults=0 log=...
#   XEN-HARNESS FAIL backend=payload secs=120.30 big_ping=none dom0_segfaults=0 reason=domU-ping-FAILED log=...
#
# big_ping: whether 1400-byte pings (beyond the 128 bytes always copied) were
# answered too; informative, not part of PASS.
#
# Exit status: 0 PASS, 1 FAIL, 2 usage or set-up error. Pitfalls this handles
# (from /work/shared/harness-xen/REPORT.md): Xen needs smap=0 under TCG or dom0
# faults at its first exception; QEMU multiboot needs the uncompressed xen ELF; xl
# aborts without libgcc_s.so.1 (dlopen'd by pthread_cancel); xl create blocks until
# the backend reaches InitWait and hotplug-status is connected; xl destroy waits
# ~10 s and fails unless the backend answers Closing with Closed.
set -euo pipefail
PROG=xen-harness
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WORK=${VPMD_XEN_WORK:-${CARGO_TARGET_DIR:-$ROOT/target}/xen-harness}
IMG=$WORK/images
XB=/usr/lib/xen-4.17/bin

log() { echo "$PROG: $*" >&2; }
die() { echo "$PROG: error: $*" >&2; exit 2; }

BIN='' ARGS='' NETBACK=0 WAIT=90 TMO='' STALL=300 SMP=2 CPU=max ACCEL=tcg,thread=multi
SCENARIO=ping DOM0X=
while (($#)); do
  case $1 in
    --bin) BIN=$2; shift 2 ;;
    --args) ARGS=$2; shift 2 ;;
    --netback) NETBACK=1; shift ;;
    --scenario) SCENARIO=$2; shift 2 ;;
    --dom0-args) DOM0X=$2; shift 2 ;;
    --wait) WAIT=$2; shift 2 ;;
    --timeout) TMO=$2; shift 2 ;;
    --stall) STALL=$2; shift 2 ;;
    --smp) SMP=$2; shift 2 ;;
    --cpu) CPU=$2; shift 2 ;;
    --accel) ACCEL=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
[[ -z $BIN || -x $BIN ]] || die "--bin $BIN is not an executable"
[[ $SCENARIO = ping || -e $HERE/scenario-$SCENARIO ]] || die "no scenario $SCENARIO ($HERE/scenario-$SCENARIO)"
if [[ -z $TMO ]]; then TMO=400; [[ $SCENARIO = ping ]] || TMO=900; fi

for f in /boot/xen-4.17-amd64.gz "$XB/xl" "$XB/xenstored" /bin/busybox; do
  [[ -e $f ]] || die "$f missing: run ./setup.sh (steps step_qemu, step_xen)"
done
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing: run ./setup.sh"
KVER=${VPMD_XEN_KVER:-$(find /lib/modules -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)}
[[ -e /boot/vmlinuz-$KVER ]] || die "/boot/vmlinuz-$KVER missing: run ./setup.sh"

# copy_with_libs ROOT FILE...: FILE and the shared libraries ldd names, same paths.
copy_with_libs() {
  local root=$1 f l; shift
  for f; do
    mkdir -p "$root$(dirname "$f")"; cp -L "$f" "$root$f"
    while read -r l; do
      [[ -n $l && -e $l ]] || continue
      mkdir -p "$root$(dirname "$l")"; cp -L -n "$l" "$root$l"
    done < <(ldd "$f" 2>/dev/null | awk '/=>/ {print $3} $1 ~ /^\// {print $1}')
  done
}

# copy_mods ROOT MODULE...: the modules and their dependencies, then depmod.
copy_mods() {
  local root=$1 m p; shift
  for m; do
    while read -r p; do
      mkdir -p "$root$(dirname "$p")"; cp -n "$p" "$root$p"
    done < <(modprobe -S "$KVER" --show-depends "$m" | awk '/^insmod/ {print $2}')
  done
  cp /lib/modules/"$KVER"/modules.{order,builtin,builtin.modinfo} "$root/lib/modules/$KVER/"
  depmod -b "$root" "$KVER"
}

base_root() {
  local r=$1 a
  rm -rf "$r"; mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,root,var/log/xen/console,var/lib}
  # xenstored puts its socket under /var/run: the same directory as /run.
  ln -s ../run "$r/var/run"
  cp /bin/busybox "$r/bin/busybox"
  for a in $(/bin/busybox --list); do [[ -e $r/bin/$a ]] || ln -s busybox "$r/bin/$a"; done
}

# extract_vmlinux BZIMAGE OUT: the ELF kernel inside an xz-compressed bzImage.
extract_vmlinux() {
  local off
  off=$(LC_ALL=C grep -obUaP '\xFD7zXZ\x00' "$1" | head -n 1 | cut -d: -f1)
  [[ -n $off ]] || return 1
  tail -c +$((off + 1)) "$1" | xz -dc --single-stream > "$2" 2>/dev/null || true
  [[ $(head -c 4 "$2" | od -An -c | tr -d ' ') = 177ELF ]] && return 0
  rm -f "$2"; return 1
}

pack() { (cd "$1" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$2"; }

build_images() {
  local t=$IMG.tmp
  rm -rf "$t"; mkdir -p "$t"
  log "building images for kernel $KVER in $IMG"
  zcat /boot/xen-4.17-amd64.gz > "$t/xen"
  cp /boot/vmlinuz-"$KVER" "$t/vmlinuz"

  base_root "$t/domU"
  copy_mods "$t/domU" xen-netfront pktgen
  install -m 755 "$HERE/domU-init" "$t/domU/init"
  install -m 644 "$HERE/domU-bench" "$t/domU/bench"
  install -m 644 "$HERE/pktgen-setup" "$t/domU/pktgen-setup"
  pack "$t/domU" "$t/domU.cpio.gz"

  local d=$t/dom0
  base_root "$d"
  copy_mods "$d" xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-netback pktgen
  copy_with_libs "$d" "$XB/xl" "$XB/xenstored" "$XB/xenconsoled" "$XB/xen-init-dom0" /usr/bin/xenstore
  copy_with_libs "$d" /lib/x86_64-linux-gnu/libgcc_s.so.1
  local t2
  for t2 in ls read write exists rm watch; do ln -sf xenstore "$d/usr/bin/xenstore-$t2"; done
  mkdir -p "$d"/etc/xen/scripts "$d"/var/lib/xen "$d"/var/lib/xenstored "$d"/run/xen "$d"/run/xenstored "$d"/guest
  : > "$d/etc/xen/xl.conf"
  install -m 755 "$HERE/vif-vpmd" "$d/etc/xen/scripts/vif-vpmd"
  cp "$HERE/domU.cfg" "$t/vmlinuz" "$t/domU.cpio.gz" "$d/guest/"
  # The uncompressed kernel too (scenario pair boots its guests from it): xl then
  # does not xz-decompress the bzImage under TCG at every create (~10 s each), where
  # the TCG artefact (README) has made it read a corrupt image.
  extract_vmlinux "$t/vmlinuz" "$d/guest/vmlinux" || log "no vmlinux extracted: guests boot the bzImage"
  install -m 755 "$HERE/dom0-init" "$d/init"
  for f in "$HERE"/scenario-* "$HERE"/dom0-lib "$HERE"/pktgen-setup; do install -m 644 "$f" "$d/"; done
  pack "$d" "$t/dom0.cpio.gz"
  rm -rf "$t/dom0" "$t/domU"
  rm -rf "$IMG"; mv "$t" "$IMG"
}

stale=0
[[ -s $IMG/dom0.cpio.gz && -s $IMG/xen ]] || stale=1
for f in "$HERE"/* /boot/vmlinuz-"$KVER" /boot/xen-4.17-amd64.gz "$XB/xl"; do
  [[ $stale = 1 || $f -nt $IMG/dom0.cpio.gz ]] && { stale=1; break; }
done
((stale)) && build_images

mkdir -p "$WORK"
RUN=$WORK/run; rm -rf "$RUN"; mkdir -p "$RUN"
BACKEND=netback
if [[ -n $BIN ]]; then
  ((NETBACK)) || BACKEND=payload
  p=$RUN/payload
  mkdir -p "$p/payload"
  copy_with_libs "$p" "$(readlink -f "$BIN")"
  mkdir -p "$p/usr/local/bin"
  ln -sf "$(readlink -f "$BIN")" "$p/usr/local/bin/$(basename "$BIN")"
  echo "/usr/local/bin/$(basename "$BIN") $ARGS" > "$p/payload/cmd"
  pack "$p" "$RUN/payload.cpio.gz"
  # The kernel unpacks concatenated archives in order, over the base image.
  cat "$IMG/dom0.cpio.gz" "$RUN/payload.cpio.gz" > "$RUN/dom0.cpio.gz"
  DOM0_CPIO=$RUN/dom0.cpio.gz
else
  DOM0_CPIO=$IMG/dom0.cpio.gz
fi

BOOTLOG=$WORK/boot-$BACKEND.log
[[ $SCENARIO = ping ]] || BOOTLOG=$WORK/boot-$SCENARIO-$BACKEND.log
XENARGS="console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M dom0_max_vcpus=$SMP smap=0 smep=0 loglvl=info guest_loglvl=info"
DOM0ARGS="console=hvc0 earlyprintk=xen panic=-1 vpmd_backend=$BACKEND vpmd_wait=$WAIT vpmd_scenario=$SCENARIO${DOM0X:+ $DOM0X}"
log "booting (scenario=$SCENARIO, backend=$BACKEND, accel=$ACCEL, cpu=$CPU, smp=$SMP, timeout ${TMO}s), log $BOOTLOG"
T0=${EPOCHREALTIME/./}
# centis: hundredths of a second since T0, as "S.SS", without a subprocess.
centis() { local c=$(((${EPOCHREALTIME/./} - T0) / 10000)); printf '%d.%02d' $((c / 100)) $((c % 100)); }
: > "$BOOTLOG"
qemu-system-x86_64 -accel "$ACCEL" -cpu "$CPU" -smp "$SMP" -m 2048 -display none \
  -monitor none -serial stdio -no-reboot -net none -pidfile "$RUN/qemu.pid" \
  -kernel "$IMG/xen" -append "$XENARGS" \
  -initrd "$IMG/vmlinuz $DOM0ARGS,$DOM0_CPIO" < /dev/null 2>&1 |
  while IFS= read -r line; do
    printf '[%7s] %s\n' "$(centis)" "${line%$'\r'}"
  done >> "$BOOTLOG" &
PIPE=$!
end=$((SECONDS + TMO)); QPID='' SHOWN=0 SIZE=0 STILL=$SECONDS STALLED=0
# progress: dom0's marks as they come, on stderr
progress() {
  local n
  n=$(grep -a -c 'DOM0-MARK' "$BOOTLOG" || true)
  ((n > SHOWN)) || return 0
  grep -a 'DOM0-MARK' "$BOOTLOG" | tail -n +$((SHOWN + 1)) | sed "s/^/$PROG: /" >&2
  SHOWN=$n
}
while ((SECONDS < end)); do
  progress
  [[ -z $QPID && -s $RUN/qemu.pid ]] && QPID=$(cat "$RUN/qemu.pid")
  [[ -n $QPID ]] && ! kill -0 "$QPID" 2>/dev/null && break
  grep -a -q -E 'DOM0-MARK all-done|Panic on CPU|Kernel panic' "$BOOTLOG" && { sleep 2; break; }
  # A dom0 process hung (the TCG artefact, README): nothing more will come.
  sz=$(stat -c %s "$BOOTLOG")
  if ((sz != SIZE)); then SIZE=$sz STILL=$SECONDS
  elif ((SECONDS - STILL >= STALL)); then STALLED=1; log "no serial output for ${STALL}s: stopping"; break; fi
  sleep 1
done
if [[ -n $QPID ]]; then kill "$QPID" 2>/dev/null || true; fi
wait "$PIPE" 2>/dev/null || true
SECS=$(centis)

progress
grep -a -E '===|FAILED|STUCK' "$BOOTLOG" | grep -a -v -E 'DOMU(-[a-z]+)?\|' >&2 || true
# dom0 processes killed by a fault (see README: a TCG artefact, also with xen-netback).
SEGV=$(grep -a -c -E 'segfault at|general protection fault ip' "$BOOTLOG" || true)

# boot_failure: why the boot ended without dom0 saying all-done.
boot_failure() {
  if grep -a -q -E 'Panic on CPU|Kernel panic' "$BOOTLOG"; then
    echo panic
  else
    local what=timeout
    ((STALLED)) && what=stalled
    echo "$what-after-$(grep -a -o 'DOM0-MARK [a-zA-Z0-9-]*' "$BOOTLOG" | tail -n 1 | cut -d' ' -f2)"
  fi
}

# Scenario pair (scenario-pair): every step's mark, the bulk data's checksums and the
# payload's final counters (its --stats-json, printed as "STATS| " lines).
judge_pair() {
  local reasons=() ab=failed ba=failed big=failed bulk=failed rec=skipped destroy=ok
  local bytes=0 rate=- counters=ok l c
  # mark NAME: dom0's last "DOM0-MARK NAME..." line
  mark() { grep -a "DOM0-MARK $1" "$BOOTLOG" | tail -n 1; }
  # val LINE KEY: KEY=value in LINE
  val() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<< "$1"; }
  grep -a -q 'DOM0-MARK ping-ab-OK' "$BOOTLOG" && ab=ok
  grep -a -q 'DOM0-MARK ping-ba-OK' "$BOOTLOG" && ba=ok
  [[ $(val "$(mark ping-big)" result) = aok,bok, ]] && big=ok
  l=$(mark bulk-)
  bytes=$(val "$l" recv_bytes); bytes=${bytes:-0}
  if [[ $l = *bulk-OK* && -n $(val "$l" sent_md5) && $(val "$l" sent_md5) = "$(val "$l" recv_md5)" ]]; then
    bulk=ok
    rate=$(awk -v b="$bytes" -v t0="$(val "$l" t0)" -v t1="$(val "$l" t1)" \
      'BEGIN { d = t1 - t0; if (d > 0) printf "%d", b / d; else print "-" }')
  fi
  if grep -a -q 'DOM0-MARK reconnect-ping-' "$BOOTLOG"; then
    rec=ok
    grep -a -q 'DOM0-MARK reconnect-ping-ca-OK' "$BOOTLOG" || rec=failed
    grep -a -q 'DOM0-MARK reconnect-ping-ac-OK' "$BOOTLOG" || rec=failed
  fi
  c=$(grep -a -c 'DOM0-MARK xl-destroy-returned' "$BOOTLOG" || true)
  if ((c < 1)) || grep -a 'DOM0-MARK xl-destroy-returned' "$BOOTLOG" | grep -a -q -v ' rc=0 '; then
    destroy=failed
  fi
  # Per port, in port order: ipackets opackets ibytes obytes ierrors oerrors imissed rx_nombuf
  local -a P=()
  mapfile -t P < <(sed -n 's/.*STATS| *//p' "$BOOTLOG" | awk '
    /^"port":/ { p++ }
    match($0, /^"(ipackets|opackets|ibytes|obytes|ierrors|oerrors|imissed|rx_nombuf|tx_dropped)": [0-9]+/) {
      split(substr($0, 1, RLENGTH), kv, ": "); gsub(/"/, "", kv[1]); v[p, kv[1]] = kv[2] }
    match($0, /^"(before_start|after_stop)": [0-9]+/) {
      split(substr($0, 1, RLENGTH), kv, ": "); gsub(/"/, "", kv[1]); m[kv[1]] = kv[2] }
    END {
      for (i = 1; i <= p; i++)
        print v[i, "ipackets"]+0, v[i, "opackets"]+0, v[i, "ibytes"]+0, v[i, "obytes"]+0,
          v[i, "ierrors"]+0, v[i, "oerrors"]+0, v[i, "imissed"]+0, v[i, "rx_nombuf"]+0,
          v[i, "tx_dropped"]+0
      print "mbufs", m["before_start"], m["after_stop"] }')
  local ports=() i ip op ib ob ie oe im nb td min=$((bytes / 65536)) mb=- aport=-
  local -a rx=() sent=()
  for ((i = 0; i < ${#P[@]}; i++)); do
    read -r ip op ib ob ie oe im nb td <<< "${P[i]}"
    if [[ $ip = mbufs ]]; then
      mb=$op/$ib
      # The pool's leak check: as many mbufs out after the stop as before the start.
      [[ -n $op && $op = "$ib" ]] || counters=failed
      continue
    fi
    ports+=("p$i=rx:$ip/tx:$op/rxB:$ib/txB:$ob/ierr:$ie/oerr:$oe/miss:$im/nombuf:$nb/txdrop:$td")
    # What io forwarding took from port i, port 1-i sent, dropped on a down link
    # (oerrors) or had refused (tx_dropped): every packet is accounted for.
    rx+=("$ip") sent+=("$((op + oe + td))")
    # Both directions carried traffic: the bulk data one way (GSO frames up to 64 KiB,
    # so at least bytes/64Ki frames), its ACKs and the pings the other way.
    ((ip >= 10 && op >= 10)) || counters=failed
    ((ie == 0 && nb == 0)) || counters=failed
  done
  if ((${#ports[@]} != 2)); then
    counters=failed
  else
    # The bulk data went into a's port and out of the other (b's, then c's). a's port
    # is the one that received most bytes and must be port 0 (a is created first, and
    # the lowest searching port takes the next vif); it served a throughout: no tx
    # errors. The other one's guest was away before b connected and between b's
    # destroy and c's connection: what a sent it then was dropped as tx errors.
    local in=0 out=1 ib0 ib1
    read -r _ _ ib0 _ <<< "${P[0]}"; read -r _ _ ib1 _ <<< "${P[1]}"
    ((ib1 > ib0)) && { in=1; out=0; }
    read -r ip _ ib _ _ oe _ <<< "${P[in]}"
    read -r _ op _ ob _ <<< "${P[out]}"
    ((ip >= min && ib >= bytes && op >= min && ob >= bytes && oe == 0)) || counters=failed
    aport=$in
    ((rx[0] == sent[1] && rx[1] == sent[0])) || {
      counters=failed
      echo "$PROG: counters: rx ${rx[*]} != sent+errors ${sent[1]} ${sent[0]}" >&2
    }
  fi
  [[ $ab = ok ]] || reasons+=(ping-ab)
  [[ $ba = ok ]] || reasons+=(ping-ba)
  [[ $big = ok ]] || reasons+=(big-ping)
  [[ $bulk = ok ]] || reasons+=(bulk)
  [[ $rec != failed ]] || reasons+=(reconnect)
  [[ $destroy = ok ]] || reasons+=(destroy)
  [[ $aport = 0 ]] || reasons+=(port-order)
  [[ $counters = ok ]] || reasons+=(counters)
  grep -a -q 'DOM0-MARK payload-exited rc=0 ' "$BOOTLOG" || reasons+=(payload-exit)
  grep -a -q 'DOM0-MARK all-done' "$BOOTLOG" || reasons=("$(boot_failure)" "${reasons[@]}")
  # The TCG artefact (README) at its worst: nothing works without xenstored.
  grep -a -q 'DOM0-MARK xenstored-DIED' "$BOOTLOG" && reasons=(xenstored-died "${reasons[@]}")
  # vif binds the payload logged (the xstat vif_binds is only shown at its prompt):
  # a's and b's, then c's. Informative.
  local binds
  binds=$(grep -a -c 'PAYLOAD| .*backend/vif/[0-9]*/[0-9]*: bound' "$BOOTLOG" || true)
  local r=PASS why=
  if ((${#reasons[@]})); then r=FAIL; why=" reason=$(IFS=,; echo "${reasons[*]}")"; fi
  echo "$PROG: counters ${ports[*]} mbufs_in_use=$mb" >&2
  echo "XEN-HARNESS $r scenario=pair backend=$BACKEND secs=$SECS ping_ab=$ab ping_ba=$ba big_ping=$big bulk=$bulk bytes=$bytes bulk_Bps=$rate reconnect=$rec vif_binds=$binds a_port=$aport destroy=$destroy counters=$counters dom0_segfaults=$SEGV$why log=$BOOTLOG"
  [[ $r = PASS ]]
}
# Scenario bench (scenario-bench): the rates the guests measured, as RESULT lines
# (bench-result.awk); PASS when every rate the headline needs was measured.
judge_bench() {
  local r=PASS why=
  if ! grep -a -q 'DOM0-MARK all-done' "$BOOTLOG"; then
    r=FAIL why=" reason=$(boot_failure)"
  fi
  awk -f "$HERE/bench-result.awk" "$BOOTLOG" || { r=FAIL; why="${why:- reason=rates-missing}"; }
  echo "XEN-HARNESS $r scenario=bench backend=$BACKEND secs=$SECS dom0_segfaults=$SEGV$why log=$BOOTLOG"
  [[ $r = PASS ]]
}
case $SCENARIO in
  pair) judge_pair && exit 0; exit 1 ;;
  bench) judge_bench && exit 0; exit 1 ;;
esac

reason=
if grep -a -q 'DOM0-MARK domU-ping-OK' "$BOOTLOG"; then
  grep -a -q 'DOM0-MARK xl-destroy-returned rc=0' "$BOOTLOG" || reason=teardown-failed
elif grep -a -q 'DOM0-MARK domU-ping-FAILED' "$BOOTLOG"; then
  reason=domU-ping-FAILED
else
  reason=$(boot_failure)
fi
BIG=none
grep -a -q 'DOMU-MARK PING-BIG-OK' "$BOOTLOG" && BIG=ok
grep -a -q 'DOMU-MARK PING-BIG-FAILED' "$BOOTLOG" && BIG=failed
if [[ -z $reason ]]; then
  echo "XEN-HARNESS PASS backend=$BACKEND secs=$SECS big_ping=$BIG dom0_segfaults=$SEGV log=$BOOTLOG"
else
  echo "XEN-HARNESS FAIL backend=$BACKEND secs=$SECS big_ping=$BIG dom0_segfaults=$SEGV reason=$reason log=$BOOTLOG"
  exit 1
fi
