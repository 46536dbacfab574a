#!/usr/bin/env bash
# Build (once) the Debian bookworm root that sandbox/libvirt9/run enters: the
# packages of sandbox/install-packages.sh with VIRTNET_LIBVIRT=bookworm
# (bookworm's own libvirt 9.0 / qemu 7.2, no passt), run inside the root by
# that very script, plus a venv at /opt/virtnet-venv with requirements-dev.txt.
#
# Cached in $CACHE (default /var/cache/virtnet-sandbox/libvirt9):
#   root/                     the chroot
#   stamp.base                hash of this script: the root is rebuilt from
#                             scratch when it changes
#   stamp.packages            hash of install-packages.sh: the script runs again
#                             in the root (VIRTNET_FORCE_INSTALL=1) when it changes
#   root/opt/virtnet-venv/.virtnet-requirements   hash of the requirements
#                             files: only pip runs again on change
# --rebuild drops the cache first. Nothing of the host is changed: every mount
# happens in a private mount namespace that dies with the build.
set -euo pipefail

here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
REPO=$(cd "$here/../.." && pwd)
CACHE=${VIRTNET_LIBVIRT9_CACHE:-/var/cache/virtnet-sandbox/libvirt9}
# shellcheck source=../lib/debian-mirror.sh
. "$REPO/sandbox/lib/debian-mirror.sh"
MIRROR=$(debian_mirror)
VENV=/opt/virtnet-venv

log() { printf '==> libvirt9: %s\n' "$*" >&2; }

base_hash() {
    sha256sum <"$here/build.sh" | cut -c1-16
}
pkg_hash() {
    sha256sum <"$REPO/sandbox/install-packages.sh" | cut -c1-16
}
req_hash() {
    cat "$REPO/requirements.txt" "$REPO/requirements-dev.txt" | sha256sum | cut -c1-16
}

if [[ ${1:-} == --rebuild ]]; then rm -rf --one-file-system "$CACHE"; fi
[[ $(id -u) -eq 0 ]] || { echo "run as root (debootstrap, chroot, namespaces)" >&2; exit 1; }
mkdir -p "$CACHE"
# One builder at a time.
exec 9>"$CACHE/.lock"
flock 9

# Run "$@" inside the root with /proc, /sys, /dev and the checkout mounted, in
# a private mount namespace (nothing shows in the host's mount table).
in_root() {
    local root=$1; shift
    unshare -m --propagation private -- bash -euc '
        root=$1 repo=$2; shift 2
        mount -t proc proc "$root/proc"
        mount -t sysfs sysfs "$root/sys"
        mount --rbind /dev "$root/dev"
        mount -t tmpfs -o mode=755 tmpfs "$root/run"
        mkdir -p "$root$repo"
        mount --bind "$repo" "$root$repo"
        exec chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
            DEBIAN_FRONTEND=noninteractive PIP_DEFAULT_TIMEOUT=180 PIP_DISABLE_PIP_VERSION_CHECK=1 \
            VIRTNET_LIBVIRT=bookworm "$@"
    ' sh "$root" "$REPO" "$@"
}

want=$(base_hash)
if [[ $(cat "$CACHE/stamp.base" 2>/dev/null) != "$want" || ! -d $CACHE/root ]]; then
    command -v debootstrap >/dev/null || { echo "debootstrap missing: apt-get install debootstrap" >&2; exit 1; }
    log "building the bookworm root in $CACHE (mirror $MIRROR)"
    rm -f "$CACHE/stamp.base" "$CACHE/stamp.packages"
    if [[ -d $CACHE/root ]] && grep -q " $CACHE/root" /proc/self/mountinfo; then
        echo "something is mounted under $CACHE/root; not removing it" >&2; exit 1
    fi
    rm -rf --one-file-system "$CACHE/root" "$CACHE"/build.*
    work=$(mktemp -d "$CACHE/build.XXXXXX")
    trap 'grep -q " $work" /proc/self/mountinfo || rm -rf --one-file-system "$work"' EXIT
    root=$work/root
    t0=$SECONDS
    unshare -m --propagation private -- debootstrap --variant=minbase \
        --include=ca-certificates,python3,python3-venv,python3-dev,gcc,libc6-dev \
        bookworm "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
        || { tail -30 "$work/debootstrap.log" >&2; exit 1; }
    log "debootstrap done in $((SECONDS - t0)) s"
    # The same suites as the host's own bookworm source (updates, security),
    # never backports: that is the point of this root.
    if [[ -e /etc/apt/sources.list.d/debian.sources ]]; then
        rm -f "$root/etc/apt/sources.list"
        cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/debian.sources"
    fi
    # The host's CA bundle and pip config (pip may need both to reach PyPI).
    cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
    [[ -e /etc/pip.conf ]] && cp /etc/pip.conf "$root/etc/pip.conf"
    cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
    # No daemon may start while packages install (no init here anyway).
    printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
    chmod 755 "$root/usr/sbin/policy-rc.d"
    t0=$SECONDS
    in_root "$root" bash "$REPO/sandbox/install-packages.sh" >"$work/packages.log" 2>&1 \
        || { tail -30 "$work/packages.log" >&2; exit 1; }
    log "install-packages.sh (VIRTNET_LIBVIRT=bookworm) done in $((SECONDS - t0)) s"
    in_root "$root" apt-get clean
    mv "$root" "$CACHE/root"
    echo "$want" >"$CACHE/stamp.base"
    pkg_hash >"$CACHE/stamp.packages"
    rm -rf --one-file-system "$work"
    trap - EXIT
fi

want=$(pkg_hash)
if [[ $(cat "$CACHE/stamp.packages" 2>/dev/null) != "$want" ]]; then
    log "install-packages.sh changed: running it again in the root"
    in_root "$CACHE/root" env VIRTNET_FORCE_INSTALL=1 bash "$REPO/sandbox/install-packages.sh" \
        >"$CACHE/packages.log" 2>&1 || { tail -30 "$CACHE/packages.log" >&2; exit 1; }
    in_root "$CACHE/root" apt-get clean
    echo "$want" >"$CACHE/stamp.packages"
fi

want=$(req_hash)
if [[ $(cat "$CACHE/root$VENV/.virtnet-requirements" 2>/dev/null) != "$want" ]]; then
    log "venv $VENV in the root (requirements-dev.txt)"
    t0=$SECONDS
    in_root "$CACHE/root" bash -euc '
        venv=$1 repo=$2
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q --upgrade pip
        "$venv/bin/pip" install -q -r "$repo/requirements-dev.txt"
    ' sh "$VENV" "$REPO"
    echo "$want" >"$CACHE/root$VENV/.virtnet-requirements"
    log "venv done in $((SECONDS - t0)) s"
fi
log "root ready: $CACHE/root ($(chroot "$CACHE/root" dpkg-query -W -f '${Version}' libvirt-daemon 2>/dev/null || echo '?'))"
