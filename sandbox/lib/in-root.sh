#!/usr/bin/env bash
# in_root ROOT [--bind SRC DST]... CMD ARG...
# Run CMD chrooted in ROOT with /proc, /sys, /dev and a tmpfs /run, plus the
# given bind mounts (DST inside ROOT, created if missing), in a private mount
# namespace: nothing shows in the host's mount table and every mount goes when
# the last process in the namespace ends. The network namespace is the
# caller's (apt in the root reaches the machine's mirror).
in_root() {
    local root=$1; shift
    local binds=()
    while [[ ${1:-} == --bind ]]; do binds+=("$2" "$3"); shift 3; done
    unshare -m --propagation private -- bash -euc '
        root=$1 nb=$2; shift 2
        while ((nb > 0)); do
            mkdir -p "$root$2"; mount --bind "$1" "$root$2"; shift 2; nb=$((nb - 2))
        done
        mount -t proc proc "$root/proc"
        mount -t sysfs sysfs "$root/sys"
        mount --rbind /dev "$root/dev"
        mount -t tmpfs -o mode=755 tmpfs "$root/run"
        exec chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
            LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
    ' sh "$root" "${#binds[@]}" "${binds[@]}" "$@"
}
