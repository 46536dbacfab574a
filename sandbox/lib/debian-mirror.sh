#!/usr/bin/env bash
# Print the Debian mirror this machine's apt already uses for bookworm, so the
# sandbox builders (debootstrap) name no host of their own. Sourced or run:
#   MIRROR=$(bash sandbox/lib/debian-mirror.sh)
# VIRTNET_DEBIAN_MIRROR overrides; falls back to deb.debian.org.
debian_mirror() {
    local uri=${VIRTNET_DEBIAN_MIRROR:-}
    if [[ -z $uri ]]; then
        uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    fi
    if [[ -z $uri ]]; then
        uri=$(awk '$1=="deb" && $3 ~ /^bookworm$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then debian_mirror; fi
