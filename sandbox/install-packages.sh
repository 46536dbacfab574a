#!/usr/bin/env bash
# Install the Debian packages the sandbox hypervisor needs. Idempotent.
#
# VIRTNET_LIBVIRT=backports (default): libvirt 11.3 + qemu 10.0 + passt from
#   bookworm-backports (the RHEL 10 generation, the only one with passt here).
# VIRTNET_LIBVIRT=bookworm: bookworm's own libvirt 9.0 / qemu 7.2.
#
# Only libvirt/qemu/passt come from backports; we never add a newer release.
set -euo pipefail

flavour=${VIRTNET_LIBVIRT:-backports}
# The stamp carries this script's own hash: a machine that ran an older
# version (fewer packages) installs again instead of being skipped.
stamp=/var/lib/virtnet-sandbox-packages.$flavour.$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)

if [[ -e $stamp && -z ${VIRTNET_FORCE_INSTALL:-} ]]; then
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

common=(
    dnsmasq-base ipxe-qemu iptables nftables busybox-static iproute2 iputils-ping
    tftp-hpa curl procps psmisc
    network-manager dbus
    libvirt-dev pkg-config libxml2-utils xorriso cpio gzip
    python3-venv debootstrap
    openssh-client  # ssh/ssh-keygen: the full-host test guest (sandbox/fullhost) and ansible's ssh
    linux-image-cloud-amd64
)
virt=(
    libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
    qemu-system-x86 qemu-utils
)

if [[ $flavour == backports ]]; then
    apt-get install -y -qq --no-install-recommends "${common[@]}"
    # 11.x splits the drivers out of libvirt-daemon (9.0 has them built in):
    # without the network driver virsh says "virConnectNumOfNetworks ... not
    # supported by the connection driver"; nodedev gives `virsh nodedev-*`.
    apt-get install -y -qq --no-install-recommends -t bookworm-backports "${virt[@]}" passt \
        libvirt-daemon-driver-network libvirt-daemon-driver-nodedev
else
    apt-get install -y -qq --no-install-recommends "${common[@]}" "${virt[@]}"
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
