#!/usr/bin/env bash
# Install the Debian packages the sandbox hypervisor needs. Idempotent.
#
# VIRTNET_LIBVIRT=backports (default): libvirt 11.3 + qemu 10.0 + passt from
#   bookworm-backports (the RHEL 10 generation, the only one with passt here).
# VIRTNET_LIBVIRT=bookworm: bookworm's own libvirt 9.0 / qemu 7.2. Also the
#   default on a machine that already has libvirt or qemu from bookworm itself:
#   backports would upgrade the machine's own hypervisor (new dependencies pull
#   libvirt-daemon along, --no-upgrade or not).
#
# Only libvirt/qemu/passt come from backports; we never add a newer release.
set -euo pipefail

flavour=${VIRTNET_LIBVIRT:-}
if [[ -z $flavour ]]; then
    flavour=backports
    # A machine that runs its own libvirt/qemu keeps them exactly as they were.
    for p in libvirt-daemon qemu-system-x86; do
        v=$(dpkg-query -W -f '${db:Status-Abbrev}${Version}' "$p" 2>/dev/null || true)
        if [[ $v == ii* && $v != *bpo* ]]; then
            echo "install-packages: $p ${v#ii } is already installed from bookworm: using bookworm's libvirt/qemu (VIRTNET_LIBVIRT=bookworm), not upgrading it from backports" >&2
            flavour=bookworm
            break
        fi
    done
fi
# The stamp carries this script's own hash: a machine that ran an older
# version (fewer packages) installs again instead of being skipped.
stamp=/var/lib/virtnet-sandbox-packages.$flavour.$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)

kcache=${VIRTNET_SANDBOX_CACHE:-/var/cache/virtnet-sandbox}/kernel
if [[ -e $stamp && -d $kcache/root && -z ${VIRTNET_FORCE_INSTALL:-} ]]; then
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive

if [[ $flavour == backports ]]; then
    # Reuse the mirror this machine already uses for bookworm, so the script
    # names no host of its own.
    src=/etc/apt/sources.list.d/virtnet-backports.sources
    if [[ ! -e $src ]]; then
        uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
        if [[ -z $uri ]]; then
            uri=$(awk '$1=="deb" && $3 ~ /^bookworm$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
        fi
        [[ -n $uri ]] || { echo "cannot find the bookworm mirror in apt sources" >&2; exit 1; }
        cat >"$src" <<SRC
Types: deb
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    fi
fi

apt-get update -qq

# Nothing this script installs may start or enable a service of the machine
# itself: the sandbox runs NetworkManager, dbus, dnsmasq and libvirtd inside
# its own namespaces. A policy-rc.d (unless the machine has its own) stops
# maintainer scripts from starting services; units the install enables are
# disabled again below, and only those (a machine that already ran them keeps
# them exactly as they were). --no-upgrade: a package the machine already has
# is left at its version (an upgrade would restart the machine's service).
policy=/usr/sbin/policy-rc.d
own_policy=
if [[ ! -e $policy ]]; then
    own_policy=1
    printf '#!/bin/sh\n# virtnet sandbox install: start no service (removed after the install)\nexit 101\n' >"$policy"
    chmod 755 "$policy"
fi
units_before=$(mktemp)
cleanup() {
    [[ -n $own_policy ]] && rm -f "$policy"
    rm -f "$units_before"
    [[ -n ${kwork:-} ]] && rm -rf "$kwork"
    return 0
}
trap cleanup EXIT
enabled_links() {
    # Symlinks and directories: the .wants directories an enable creates go too.
    find /etc/systemd/system \( -type l -o -type d \) -printf '%y %p\n' 2>/dev/null | sort || true
}
enabled_links >"$units_before"

common=(
    dnsmasq-base ipxe-qemu iptables nftables busybox-static iproute2 iputils-ping
    tftp-hpa curl procps psmisc
    network-manager dbus
    openssh-server  # sshd of each fleet hypervisor (sandbox/fleet.py starts it in the hv's namespaces; unit disabled below)
    libvirt-dev pkg-config libxml2-utils xorriso cpio gzip
    python3-venv debootstrap e2fsprogs  # e2fsprogs: mkfs.ext4 and debugfs, the full-host image (always on Debian; said, not assumed)
    openssh-client  # ssh/ssh-keygen: the full-host test guest (sandbox/fullhost) and ansible's ssh
    graphviz chromium-headless-shell  # playbooks/report.yml's pictures and its test's browser (controller only)
    firewalld gcc libc6-dev  # rhel9 shape: firewalld in the hv; rhel9/rhel10: gcc builds a 12-line preload (sandbox/vnsb.py SHAPES)
)
virt=(
    libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
    qemu-system-x86 qemu-utils
)
install=(apt-get install -y -qq --no-install-recommends --no-upgrade)

if [[ $flavour == backports ]]; then
    "${install[@]}" "${common[@]}"
    # 11.x splits the drivers out of libvirt-daemon (9.0 has them built in):
    # without the network driver virsh says "virConnectNumOfNetworks ... not
    # supported by the connection driver"; nodedev gives `virsh nodedev-*`.
    "${install[@]}" -t bookworm-backports "${virt[@]}" passt \
        libvirt-daemon-driver-network libvirt-daemon-driver-nodedev
else
    "${install[@]}" "${common[@]}" "${virt[@]}"
fi

# Units enabled by this install (new symlinks under /etc/systemd/system):
# disabled through deb-systemd-helper, so a later upgrade keeps them disabled.
mapfile -t new_links < <(comm -13 "$units_before" <(enabled_links) | awk '$1 == "l" {print $2}')
mapfile -t new_dirs < <(comm -13 "$units_before" <(enabled_links) | awk '$1 == "d" {print $2}' | sort -r)
for link in "${new_links[@]}"; do
    unit=$(basename "$(readlink "$link")")
    if command -v deb-systemd-helper >/dev/null; then
        deb-systemd-helper disable "$unit" >/dev/null 2>&1 || true
    fi
    if [[ -L $link ]]; then rm -f "$link"; fi
    echo "install-packages: $unit: enabled by this install, disabled again (the sandbox starts what it needs in its own namespaces)"
done
for d in "${new_dirs[@]}"; do rmdir "$d" 2>/dev/null || true; done

# The test guest's kernel: Debian's cloud kernel, unpacked into the sandbox
# cache with dpkg-deb -x and never installed, so dpkg's list of kernels,
# /boot and the boot loader stay as they were.
kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
       awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-cloud-amd64$/ {print $2; exit}')
[[ -n $kpkg ]] || { echo "install-packages: cannot resolve linux-image-cloud-amd64 to a kernel package" >&2; exit 1; }
if [[ $(cat "$kcache/package" 2>/dev/null) != "$kpkg" ]]; then
    mkdir -p "$kcache"
    kwork=$(mktemp -d "$kcache/work.XXXXXX")
    chmod 755 "$kwork"
    # apt-get download drops to _apt: let it write there.
    if id _apt >/dev/null 2>&1; then chown _apt "$kwork"; fi
    (cd "$kwork" && apt-get download -qq "$kpkg")
    mkdir "$kwork/root"
    dpkg-deb -x "$kwork"/"$kpkg"_*.deb "$kwork/root"
    rm -rf "$kcache/root"
    mv "$kwork/root" "$kcache/root"
    echo "$kpkg" >"$kcache/package"
    echo "install-packages: guest kernel $kpkg unpacked in $kcache/root (not installed)"
fi

# The qemu driver refuses to start without these, even with user = "root".
getent group kvm >/dev/null || groupadd --system kvm
getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
getent passwd libvirt-qemu >/dev/null || \
    useradd --system --gid kvm --home-dir /var/lib/libvirt --no-create-home \
        --shell /usr/sbin/nologin libvirt-qemu
getent group libvirt-dnsmasq >/dev/null || groupadd --system libvirt-dnsmasq
getent passwd libvirt-dnsmasq >/dev/null || \
    useradd --system --gid libvirt-dnsmasq --home-dir /var/lib/libvirt/dnsmasq \
        --no-create-home --shell /usr/sbin/nologin libvirt-dnsmasq

# bookworm's 9.0 ships these in libvirt-daemon-system (not installed: systemd
# units, polkit); 11.x in libvirt-daemon-common. vnsb.py binds over them.
mkdir -p /var/lib/libvirt /var/log/libvirt /var/cache/libvirt

rm -f /var/lib/virtnet-sandbox-packages."$flavour".*
touch "$stamp"
