#!/usr/bin/env bash
# Build the test guest: an uncompressed kernel and a busybox initramfs, cached in
# target/qemu/guest/ and rebuilt only when an input changes (the kernel, its
# modules, busybox, guest/*, this script). Prints the cache directory.
#
#   harness/qemu/build-initramfs.sh [--force]
#   KVER=6.1.0-56-amd64 harness/qemu/build-initramfs.sh   # a kernel other than the newest
#
# Makes: kernel           the Debian kernel as an uncompressed ELF (see below)
#        initramfs.cpio.gz static busybox, virtio modules, guest/init, guest/vpmd-sink
#        inputs.sha256    the key the cache is valid for
# Needs the packages of setup.sh's step_qemu (linux-image-amd64, busybox-static,
# cpio, xz-utils, kmod).
set -euo pipefail
PROG=build-initramfs
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

FORCE=0
case "${1:-}" in
  --force) FORCE=1 ;;
  "") ;;
  *) die "usage: $0 [--force]" ;;
esac

# Kernel modules the guest loads, with their dependencies resolved by modprobe.
# Everything else it needs (8250 serial, devtmpfs, packet sockets, gzip initrd)
# is built into Debian's kernel.
MODULES=(virtio_pci virtio_net)
BUSYBOX=/bin/busybox

# --- pick the kernel: newest /boot/vmlinuz-* whose modules are installed -------
if [[ -z ${KVER:-} ]]; then
  KVER=
  for k in $(find /boot -maxdepth 1 -name 'vmlinuz-*' -printf '%f\n' | sed 's/^vmlinuz-//' | sort -V); do
    [[ -f /lib/modules/$k/modules.dep ]] && KVER=$k
  done
fi
[[ -n $KVER && -f /boot/vmlinuz-$KVER ]] ||
  die "no kernel with modules in /boot (run ./setup.sh: it installs linux-image-amd64)"
VMLINUZ=/boot/vmlinuz-$KVER
[[ -x $BUSYBOX ]] || die "$BUSYBOX missing (run ./setup.sh: busybox-static)"
# The initramfs has no libc: busybox must be the static build.
ldd "$BUSYBOX" >/dev/null 2>&1 && die "$BUSYBOX is dynamically linked: install busybox-static"

mapfile -t KOS < <(modprobe -a -S "$KVER" --show-depends "${MODULES[@]}" |
                   awk '$1 == "insmod" && !seen[$2]++ { print $2 }')
((${#KOS[@]})) || die "modprobe found none of ${MODULES[*]} for $KVER"

# --- cache key: content of our files, identity (path, size, mtime) of the system's
identity() { stat -c '%n %s %Y' "$@"; }
KEY=$( {
  cat "$0" "$HARNESS_DIR"/guest/*
  echo "$KVER ${MODULES[*]}"
  identity "$VMLINUZ" "$BUSYBOX" "${KOS[@]}"
} | sha256sum | cut -d' ' -f1)

# One builder at a time (cargo runs tests in parallel); the loser then finds the cache.
mkdir -p "$QEMU_WORK"
exec 9>"$QEMU_WORK/.build.lock"
flock 9

if ((!FORCE)) && [[ -f $GUEST_CACHE/inputs.sha256 && $(cat "$GUEST_CACHE/inputs.sha256") == "$KEY" ]]; then
  echo "$GUEST_CACHE"
  exit 0
fi

BUILD=$(mktemp -d "$QEMU_WORK/guest.build.XXXXXX")
trap 'rm -rf "$BUILD"' EXIT
ROOT=$BUILD/root
mkdir -p "$ROOT"/{bin,dev,proc,sys,tmp,etc,lib/modules}

cp "$BUSYBOX" "$ROOT/bin/busybox"
for applet in $("$BUSYBOX" --list); do
  [[ $applet == busybox ]] || ln -s busybox "$ROOT/bin/$applet"
done
install -m 0755 "$HARNESS_DIR/guest/init" "$ROOT/init"
install -m 0755 "$HARNESS_DIR/guest/vpmd-sink" "$ROOT/bin/vpmd-sink"

# Modules go flat into /lib/modules, decompressed (busybox insmod may lack the
# decompressors), listed in load order for /init.
for ko in "${KOS[@]}"; do
  base=$(basename "$ko")
  case $ko in
    *.ko.xz)  xz -dc "$ko" >"$ROOT/lib/modules/${base%.xz}";     base=${base%.xz} ;;
    *.ko.zst) zstd -dcq "$ko" >"$ROOT/lib/modules/${base%.zst}"; base=${base%.zst} ;;
    *.ko.gz)  gzip -dc "$ko" >"$ROOT/lib/modules/${base%.gz}";   base=${base%.gz} ;;
    *)        cp "$ko" "$ROOT/lib/modules/" ;;
  esac
  echo "$base" >>"$ROOT/etc/modules.order"
done
mods=$(tr '\n' ' ' <"$ROOT/etc/modules.order")

(cd "$ROOT" && find . -print0 | LC_ALL=C sort -z |
  cpio --null -o -H newc -R 0:0 --quiet) | gzip -1 >"$BUILD/initramfs.cpio.gz"

# The kernel is booted as its uncompressed ELF `vmlinux` through the PVH entry
# point (Debian sets CONFIG_PVH=y). That skips the bzImage's in-guest XZ
# decompression, which is slow under emulation: /init starts about 2 s after
# QEMU under TCG. vmlinuz is the boot stub followed by an XZ stream holding the
# ELF; --single-stream ignores what follows the stream.
off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$VMLINUZ" | head -n1 | cut -d: -f1)
# (Through a file, not a pipe: xz stops reading early, and pipefail would count
# tail's SIGPIPE as a failure.)
if [[ -n $off ]] && tail -c +"$((off + 1))" "$VMLINUZ" >"$BUILD/kernel.xz" &&
   xz -dc --single-stream "$BUILD/kernel.xz" >"$BUILD/kernel" 2>/dev/null &&
   [[ $(head -c4 "$BUILD/kernel" | od -An -tx1 | tr -d ' ') == 7f454c46 ]]; then
  kernel_kind="vmlinux (PVH ELF)"
else
  # Other compressions: boot the bzImage itself, slower but correct.
  cp "$VMLINUZ" "$BUILD/kernel"
  kernel_kind="bzImage (no XZ-compressed ELF found; boots slower)"
fi
rm -f "$BUILD/kernel.xz"

echo "$KEY" >"$BUILD/inputs.sha256"
echo "$KVER" >"$BUILD/kver"
# Replace the cache in one rename so a concurrent reader never sees half of it.
rm -rf "$GUEST_CACHE.old"
[[ -d $GUEST_CACHE ]] && mv "$GUEST_CACHE" "$GUEST_CACHE.old"
rm -rf "$ROOT"
mv "$BUILD" "$GUEST_CACHE"
rm -rf "$GUEST_CACHE.old"
log "built guest for $KVER: kernel $kernel_kind," \
    "initramfs $(du -h "$GUEST_CACHE/initramfs.cpio.gz" | cut -f1), modules: $mods"
echo "$GUEST_CACHE"
