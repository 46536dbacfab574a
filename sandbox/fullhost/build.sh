#!/usr/bin/env bash
# Build the "full host" test guest for nm_bond_bridge: a Debian bookworm root
# filesystem (debootstrap, Debian's own packages) with Debian's cloud kernel
# (it has bonding.ko, which this machine's kernel lacks), systemd,
# NetworkManager, sshd and Python, as a raw ext4 disk image booted by qemu TCG
# with the kernel and initrd given directly by libvirt.
#
# The result is cached outside the repository so later runs start fast:
#   $CACHE/disk.img  $CACHE/vmlinuz  $CACHE/initrd.img  $CACHE/id_ed25519(.pub)
# and is rebuilt from scratch when absent (or with --rebuild).
#
# Needs: debootstrap (Debian package "debootstrap"), e2fsprogs (mkfs.ext4 -d).
set -euo pipefail

CACHE=${VIRTNET_FULLHOST_CACHE:-/var/cache/virtnet-sandbox/fullhost}
# shellcheck source=../lib/debian-mirror.sh
. "$(dirname "$(readlink -f "$0")")/../lib/debian-mirror.sh"
MIRROR=${VIRTNET_FULLHOST_MIRROR:-$(debian_mirror)}
SIZE_MB=${VIRTNET_FULLHOST_SIZE_MB:-1536}

if [[ ${1:-} == --rebuild ]]; then rm -rf "$CACHE"; fi
if [[ -s $CACHE/disk.img && -s $CACHE/vmlinuz && -s $CACHE/initrd.img && -s $CACHE/id_ed25519 ]]; then
    echo "fullhost image cached in $CACHE"; exit 0
fi
command -v debootstrap >/dev/null || { echo "debootstrap missing: apt-get install debootstrap" >&2; exit 1; }

mkdir -p "$CACHE"
work=$(mktemp -d "$CACHE/build.XXXXXX")
root=$work/root
# Never rm -rf through a mount: every mount below happens in a private mount
# namespace (unshare) and dies with it; the check is a second guard.
cleanup() {
    if grep -q " $work" /proc/self/mountinfo; then
        echo "still mounted under $work; not removing it" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

# Two steps: a minimal base, then the rest with /proc, /sys and /dev mounted
# (postinst scripts such as polkitd's fail in a bare chroot) and without
# recommends (keeps the image small and the boot short).
unshare -m --propagation private -- debootstrap --variant=minbase --include=systemd-sysv,udev,kmod,dbus \
    bookworm "$root" "$MIRROR"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
unshare -m --propagation private -- sh -euc '
    root=$1
    mount -t proc proc "$root/proc"
    mount -t sysfs sysfs "$root/sys"
    mount --bind /dev "$root/dev"
    DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq --no-install-recommends \
        linux-image-cloud-amd64 initramfs-tools network-manager openssh-server python3 python3-netaddr \
        iproute2 iputils-ping busybox
' sh "$root"

# Root login with a key made for this image only (a throwaway lab guest).
ssh-keygen -q -t ed25519 -N '' -C virtnet-fullhost -f "$work/id_ed25519"
install -d -m 700 "$root/root/.ssh"
install -m 600 "$work/id_ed25519.pub" "$root/root/.ssh/authorized_keys"
echo fullhost > "$root/etc/hostname"
printf '/dev/vda / ext4 rw,relatime 0 1\n' > "$root/etc/fstab"
# Serial console login as root without a password (debugging only).
install -d "$root/etc/systemd/system/serial-getty@ttyS0.service.d"
printf '[Service]\nExecStart=\nExecStart=-/sbin/agetty --autologin root --keep-baud 115200 %%I $TERM\n' \
    > "$root/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf"
# NetworkManager: manage everything, no automatic profiles except the one we
# give the management NIC, bound to its MAC (interface names follow PCI slots
# and must not decide which NIC carries SSH).
cat > "$root/etc/NetworkManager/conf.d/90-virtnet.conf" <<CONF
[main]
no-auto-default=*
[ifupdown]
managed=true
CONF
cat > "$root/etc/NetworkManager/system-connections/mgmt.nmconnection" <<CONF
[connection]
id=mgmt
type=ethernet
autoconnect=true
[ethernet]
mac-address=52:54:00:F6:00:01
[ipv4]
method=manual
address1=192.0.2.2/25
[ipv6]
method=disabled
CONF
chmod 600 "$root/etc/NetworkManager/system-connections/mgmt.nmconnection"
echo bonding > "$root/etc/modules-load.d/bonding.conf"
# sshd: root by key only; no DNS lookups (there is no DNS in the lab).
printf 'PermitRootLogin prohibit-password\nUseDNS no\n' > "$root/etc/ssh/sshd_config.d/virtnet.conf"
# Speed: nothing waits for a network that is not there.
chroot "$root" systemctl mask systemd-networkd-wait-online.service NetworkManager-wait-online.service apt-daily.timer apt-daily-upgrade.timer e2scrub_reap.service >/dev/null 2>&1 || true
chroot "$root" apt-get clean

cp -L "$root"/boot/vmlinuz-* "$work/vmlinuz"
cp -L "$root"/boot/initrd.img-* "$work/initrd.img"
chmod 644 "$work/vmlinuz" "$work/initrd.img"
rm -f "$work/disk.img"
mkfs.ext4 -q -F -L fullhost -d "$root" "$work/disk.img" "${SIZE_MB}M"
for f in disk.img vmlinuz initrd.img id_ed25519 id_ed25519.pub; do mv "$work/$f" "$CACHE/$f"; done
echo "fullhost image built in $CACHE"
