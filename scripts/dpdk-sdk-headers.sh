#!/usr/bin/env bash
# Installs DPDK's driver-SDK headers for the installed libdpdk-dev, for pmd/dpdk-sys.
#
# Debian's libdpdk-dev is built without -Denable_driver_sdk=true, so it lacks
# the 5 headers an out-of-tree vdev ethdev PMD includes. This script takes them
# from Debian's source package of EXACTLY the installed DPDK version and puts
# them, root-owned, in
#
#   /usr/local/include/vpmd-dpdk-sdk/<upstream-version>/
#
# which is where pmd/dpdk-sys/build.rs looks (VPMD_DPDK_SDK overrides). Nothing
# from DPDK's source goes into the repo. Idempotent: if the headers are there,
# or the installed DPDK ships them itself (pkg-config include dirs), it only
# says so. Run as root; ./setup.sh calls it.
#
#   scripts/dpdk-sdk-headers.sh                 # install if missing
#   VPMD_DPDK_SDK_ROOT=/some/dir scripts/...    # another root (default above)
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
SDK_ROOT="${VPMD_DPDK_SDK_ROOT:-/usr/local/include/vpmd-dpdk-sdk}"
# Path inside the source tree -> installed name (flat, like DPDK installs them).
SDK_HEADERS=(
  lib/ethdev/ethdev_driver.h
  lib/ethdev/ethdev_vdev.h
  drivers/bus/vdev/bus_vdev_driver.h
  lib/eal/include/dev_driver.h
  lib/eal/include/bus_driver.h
)
DEB_SRC_FILE=/etc/apt/sources.list.d/vpmd-deb-src.sources

log() { echo "setup: dpdk-sdk: $*"; }
die() { echo "setup: dpdk-sdk: ERROR: $*" >&2; exit 1; }

# has_all DIR: all 5 headers are in DIR.
has_all() {
  local h
  for h in "${SDK_HEADERS[@]}"; do [[ -f "$1/${h##*/}" ]] || return 1; done
}

# Enable Debian source packages (deb-src) unless some source already provides
# a Sources index. Adds a separate deb822 file mirroring debian.sources (or
# the deb lines of sources.list) rather than editing the system's files.
enable_deb_src() {
  # shellcheck disable=SC2016  # $(CREATED_BY) is apt's format field
  if apt-get indextargets --format '$(CREATED_BY)' 2>/dev/null | grep -qx Sources; then
    return 0
  fi
  if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
    log "enabling deb-src in $DEB_SRC_FILE (from debian.sources)"
    sed -e 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources >"$DEB_SRC_FILE"
  elif grep -qE '^deb[[:space:]]' /etc/apt/sources.list 2>/dev/null; then
    DEB_SRC_FILE=/etc/apt/sources.list.d/vpmd-deb-src.list
    log "enabling deb-src in $DEB_SRC_FILE (from sources.list)"
    sed -n -e 's/^deb\([[:space:]]\)/deb-src\1/p' /etc/apt/sources.list >"$DEB_SRC_FILE"
  else
    die "no Debian apt source found to derive a deb-src entry from; enable deb-src by hand"
  fi
  chmod 0644 "$DEB_SRC_FILE"
}

main() {
  [[ $EUID -eq 0 ]] || die "must run as root"
  local ver upstream dir dest
  ver=$(dpkg-query -W -f='${Version}' libdpdk-dev 2>/dev/null) ||
    die "libdpdk-dev is not installed (run ./setup.sh)"
  upstream=${ver#*:}         # drop an epoch
  upstream=${upstream%-*}    # drop the Debian revision: 22.11.11-0+deb12u1 -> 22.11.11

  # A DPDK built with enable_driver_sdk installs them next to rte_ethdev.h.
  for dir in $(pkg-config --cflags-only-I libdpdk 2>/dev/null | tr ' ' '\n' | sed -n 's/^-I//p'); do
    if has_all "$dir"; then
      log "installed DPDK ships the SDK headers ($dir), nothing to do"
      return 0
    fi
  done

  dest="$SDK_ROOT/$upstream"
  if has_all "$dest"; then
    log "headers for dpdk $upstream ok ($dest)"
    return 0
  fi

  enable_deb_src
  log "apt-get update"
  apt-get update -q >/tmp/vpmd-setup-apt.log 2>&1 ||
    { tail -n 20 /tmp/vpmd-setup-apt.log >&2; die "apt-get update failed (log: /tmp/vpmd-setup-apt.log)"; }
  # dpkg-dev: apt-get source needs dpkg-source; xz-utils: the .orig tarball.
  local p missing=()
  for p in dpkg-dev xz-utils; do
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" == installed ]] || missing+=("$p")
  done
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    apt-get install -y -q "${missing[@]}" >/tmp/vpmd-setup-apt.log 2>&1 ||
      { tail -n 20 /tmp/vpmd-setup-apt.log >&2; die "apt-get install failed"; }
  fi

  local tmp
  tmp=$(mktemp -d /tmp/vpmd-dpdk-src.XXXXXX)
  # shellcheck disable=SC2064  # expand $tmp now
  trap "rm -rf '$tmp'" EXIT
  log "downloading source package dpdk=$ver"
  (cd "$tmp" && apt-get source --download-only -q "dpdk=$ver") >"$tmp/apt-source.log" 2>&1 ||
    { tail -n 20 "$tmp/apt-source.log" >&2; die "apt-get source dpdk=$ver failed"; }

  local orig debtar
  orig=$(compgen -G "$tmp/dpdk_${upstream}.orig.tar.*" | head -n1) ||
    die "no dpdk_${upstream}.orig.tar.* in the source package"
  debtar=$(compgen -G "$tmp/dpdk_*.debian.tar.*" | head -n1) || debtar=

  # Only the 5 headers, by their path below the tarball's top directory.
  mkdir -p "$tmp/src"
  local want=() h
  for h in "${SDK_HEADERS[@]}"; do want+=("*/$h"); done
  tar -C "$tmp/src" --strip-components=1 --wildcards -xf "$orig" "${want[@]}" ||
    die "could not extract the SDK headers from $orig"

  # The headers must match the installed libraries: Debian's patches (none in
  # 22.11.11-0+deb12u1) touch no SDK header today. Should one ever do so,
  # stop rather than install an unpatched copy.
  if [[ -n $debtar ]] && tar -C "$tmp" -xf "$debtar" debian/patches 2>/dev/null; then
    for h in "${SDK_HEADERS[@]}"; do
      if grep -lqsE "^\+\+\+ [^/]+/$h([[:space:]]|$)" "$tmp"/debian/patches/*; then
        die "a Debian patch of dpdk $ver changes $h; apply it by hand or extend this script"
      fi
    done
  fi

  install -d -m 0755 "$SDK_ROOT"
  rm -rf "$dest.new"
  install -d -m 0755 "$dest.new"
  for h in "${SDK_HEADERS[@]}"; do
    install -m 0644 "$tmp/src/$h" "$dest.new/${h##*/}"
  done
  printf 'DPDK driver-SDK headers from Debian source package dpdk %s, installed by vpmd scripts/dpdk-sdk-headers.sh\n' \
    "$ver" >"$dest.new/SOURCE"
  chmod 0644 "$dest.new/SOURCE"
  rm -rf "$dest"
  mv "$dest.new" "$dest"
  log "installed ${#SDK_HEADERS[@]} headers for dpdk $ver in $dest"
}

main "$@"
