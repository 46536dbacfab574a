#!/usr/bin/env bash
# Build (once) and cache a fresh Debian bookworm root as a tarball: a machine
# on which nothing of this project has run yet, for tests that must watch what
# sandbox/install-packages.sh does to such a machine (tests/stages/install-trace).
#
#   build.sh base   debootstrap --variant=minbase (+ systemd-sysv, procps) from the
#                   mirror this machine's apt uses (sandbox/lib/debian-mirror.sh);
#                   no policy-rc.d
#   build.sh nm     a workstation that already is a KVM hypervisor: base +
#                   network-manager (NetworkManager.service enabled), bookworm's
#                   own libvirt 9.0 / qemu 7.2 with libvirt-daemon-system
#                   (libvirtd enabled), iptables on its legacy alternative
#
# Prints the tarball's path on stdout. Cached in $VIRTNET_FRESHROOT_CACHE
# (default /var/cache/virtnet-sandbox/freshroot) as <variant>.tar with a
# <variant>.stamp (hash of the recipe and the mirror): rebuilt when either
# changes, or with --rebuild. Every mount happens in a private mount namespace
# that dies with the build; nothing of the host is changed.
set -euo pipefail

here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
REPO=$(cd "$here/../.." && pwd)
CACHE=${VIRTNET_FRESHROOT_CACHE:-/var/cache/virtnet-sandbox/freshroot}
# shellcheck source=../lib/debian-mirror.sh
. "$REPO/sandbox/lib/debian-mirror.sh"
MIRROR=$(debian_mirror)

log() { printf '==> freshroot: %s\n' "$*" >&2; }

rebuild=
if [[ ${1:-} == --rebuild ]]; then rebuild=1; shift; fi
variant=${1:-base}
[[ $variant == base || $variant == nm ]] || { echo "usage: $0 [--rebuild] base|nm" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "run as root (debootstrap, chroot, namespaces)" >&2; exit 1; }
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9

# A variant's stamp: the text of the functions that build it and the mirror,
# so an edit elsewhere in this file does not throw the cache away.
stamp_of() {
    { declare -f in_root pack build_base; [[ $1 != base ]] && declare -f build_variant; echo "$MIRROR $1"; } |
        sha256sum | cut -c1-16
}

# shellcheck source=../lib/in-root.sh
. "$REPO/sandbox/lib/in-root.sh"

pack() {  # pack ROOT TARBALL
    tar -C "$1" --numeric-owner --xattrs --xattrs-include='*' -cpf "$2.tmp" .
    mv "$2.tmp" "$2"
}

work=
cleanup() {
    if [[ -n $work ]]; then
        if grep -q " $work" /proc/self/mountinfo; then
            echo "something is still mounted under $work; not removing it" >&2
        else
            rm -rf --one-file-system "$work"
        fi
    fi
}
trap cleanup EXIT

build_base() {
    command -v debootstrap >/dev/null || { echo "debootstrap missing: apt-get install debootstrap" >&2; exit 1; }
    log "debootstrap bookworm (minbase) from $MIRROR"
    work=$(mktemp -d "$CACHE/build.XXXXXX")
    local root=$work/root t0=$SECONDS
    # minbase plus what every Debian machine has and minbase lacks: the init
    # (systemd-sysv) and procps (both Priority: important). Without them the
    # install would bring systemd's and procps's own defaults (sysctl.d files,
    # getty units) and the trace would blame the sandbox for them.
    unshare -m --propagation private -- debootstrap --variant=minbase \
        --include=systemd-sysv,procps \
        bookworm "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
        || { tail -30 "$work/debootstrap.log" >&2; exit 1; }
    # The same suites as the machine's own bookworm source (updates, security).
    if [[ -e /etc/apt/sources.list.d/debian.sources ]]; then
        rm -f "$root/etc/apt/sources.list"
        cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/debian.sources"
    fi
    # The machine's apt transport settings (proxy, a dated snapshot mirror's
    # Valid-Until), so apt in the root reaches what the machine's apt reaches.
    apt-config dump 2>/dev/null |
        grep -E '^Acquire::(Check-Valid-Until|Check-Date|https?::Proxy|https?::proxy) ' \
        >"$root/etc/apt/apt.conf.d/99virtnet-host" || true
    cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
    # dpkg without fsync (as in Docker's Debian images): the installs in the
    # root are thrown away, and the shared disk is slow under load.
    echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/virtnet-unsafe-io"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*_* 2>/dev/null || true
    log "debootstrap done in $((SECONDS - t0)) s"
    pack "$root" "$CACHE/base.tar"
    stamp_of base >"$CACHE/base.stamp"
    rm -rf --one-file-system "$work"; work=
}

build_variant() {  # build_variant nm
    local v=$1
    local pkgs="network-manager iptables libvirt-daemon-system libvirt-clients qemu-system-x86 dnsmasq-base"
    log "variant $v: base + $pkgs, as a machine that runs them has them"
    work=$(mktemp -d "$CACHE/build.XXXXXX")
    local root=$work/root t0=$SECONDS
    mkdir "$root"
    tar -C "$root" --numeric-owner --xattrs --xattrs-include='*' -xpf "$CACHE/base.tar"
    # Nothing may start while the packages install; removed afterwards (the
    # machine this stands for has no policy-rc.d of its own).
    printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
    chmod 755 "$root/usr/sbin/policy-rc.d"
    in_root "$root" bash -euc '
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends $1 >/dev/null
        update-alternatives --quiet --set iptables /usr/sbin/iptables-legacy
        update-alternatives --quiet --set ip6tables /usr/sbin/ip6tables-legacy
        apt-get clean
    ' sh "$pkgs" "$v" >"$work/$v.log" 2>&1 || { tail -30 "$work/$v.log" >&2; exit 1; }
    rm -f "$root/usr/sbin/policy-rc.d"
    rm -rf "$root"/var/lib/apt/lists/*_* 2>/dev/null || true
    local unit
    for unit in NetworkManager.service libvirtd.service; do
        [[ -L $root/etc/systemd/system/multi-user.target.wants/$unit ]] \
            || { echo "variant $v: $unit did not get enabled" >&2; exit 1; }
    done
    log "variant $v done in $((SECONDS - t0)) s"
    pack "$root" "$CACHE/$v.tar"
    stamp_of "$v" >"$CACHE/$v.stamp"
    rm -rf --one-file-system "$work"; work=
}

fresh() {  # fresh VARIANT: the cached tarball is current
    [[ -z $rebuild && -e $CACHE/$1.tar && $(cat "$CACHE/$1.stamp" 2>/dev/null) == "$(stamp_of "$1")" ]]
}

if ! fresh base; then
    build_base
    rm -f "$CACHE/nm.tar" "$CACHE/nm.stamp"
fi
if [[ $variant != base ]] && ! fresh "$variant"; then
    build_variant "$variant"
fi
echo "$CACHE/$variant.tar"
